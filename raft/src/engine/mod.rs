//! Everything that touches openraft lives in this module (type config, the storage adapters over
//! `ferric-storage`, the network over our gRPC transport, and `RaftNode`, the handle the rest of
//! Ferric uses). Upgrading openraft's alpha is contained here.

mod log_store;
mod network;
mod node;
mod state_machine;
#[cfg(test)]
mod suite_test;

pub use node::{RaftNode, RaftNodeParts};

use ferric_model::{Command, Member, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A member as the Raft membership records it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemberNode {
    pub name: String,
    pub peer_addr: String,
    pub api_addr: String,
}

impl fmt::Display for MemberNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.peer_addr)
    }
}

/// The application data of a log entry: one replicated command (shared, so entries held in the
/// log cache and handed to replication and apply are not deep-copied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Proposal(pub std::sync::Arc<Command>);

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// The state machine's answer to a proposal (`None` for entries that are not commands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome(pub Option<Response>);

openraft::declare_raft_types!(
    /// Ferric's Raft type configuration.
    pub TypeConfig:
        D = Proposal,
        R = Outcome,
        NodeId = u64,
        Node = MemberNode,
);

pub(crate) type Raft = openraft::Raft<TypeConfig, state_machine::StateMachine>;
pub(crate) type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub(crate) type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub(crate) type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub(crate) type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub(crate) type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
pub(crate) type Membership = openraft::Membership<u64, MemberNode>;

/// The snapshot payload: a file written by `ferric-storage`.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    pub path: std::path::PathBuf,
}

/// Converts an openraft membership into the members the state machine records.
pub(crate) fn members_of(m: &Membership) -> BTreeMap<String, Member> {
    let voters: std::collections::BTreeSet<u64> = m.voter_ids().collect();
    m.nodes()
        .map(|(id, n)| {
            (
                n.name.clone(),
                Member {
                    id: *id,
                    name: n.name.clone(),
                    peer_addr: n.peer_addr.clone(),
                    api_addr: n.api_addr.clone(),
                    voter: voters.contains(id),
                },
            )
        })
        .collect()
}

pub(crate) fn io_err(e: impl fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}
