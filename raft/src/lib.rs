//! ferric-raft: the member's Raft group — openraft's type config and adapters over
//! `ferric-storage` (all in `engine`), the tonic gRPC transport between members (Raft RPCs,
//! forwarded writes, read index, membership, conductor calls), bootstrap and online membership
//! changes, and linearizable reads usable from any member.
//!
//! Depends on `model` and `storage`; never on the API, the drivers or the conductor (conductor
//! calls arrive through the `ConductorService` trait).

mod cluster;
mod config;
mod engine;
mod read_barrier;
mod service;
pub mod transport;

pub use cluster::{Cluster, ConductorService};
pub use config::RaftConfig;
pub use engine::{MemberNode, RaftNode};
pub use service::serve_peer;

/// Why a proposal did not commit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<(u64, MemberNode)> },
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("raft stopped: {0}")]
    Stopped(String),
}

/// Why a read index could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<(u64, MemberNode)> },
    #[error("{0}")]
    Unavailable(String),
}
