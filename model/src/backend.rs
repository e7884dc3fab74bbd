//! The port through which the API reaches the rest of Ferric. `api` depends on this trait only;
//! `src` implements it over Raft, the state machine and the conductor.

use crate::error::Error;
use crate::ring::HashRing;
use crate::rpc::{ConductorReply, ConductorRequest};
use crate::state::State;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future (the trait stays object-safe without an async-trait dependency).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One member as `/cluster/status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub id: u64,
    pub name: String,
    pub peer: String,
    pub api: String,
    /// `voter` or `learner`.
    pub role: String,
    /// Whether the leader currently reaches it (always true for the leader itself).
    pub reachable: bool,
    /// Log index the leader knows it has (leader's view).
    pub matched: Option<u64>,
}

/// `GET /cluster/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub name: String,
    pub cluster_id: Option<String>,
    pub leader: Option<String>,
    pub term: u64,
    pub committed: Option<u64>,
    pub applied: Option<u64>,
    pub members: Vec<MemberStatus>,
}

/// `POST /cluster/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub name: String,
    pub peer: String,
    pub api: String,
}

pub trait Backend: Send + Sync + 'static {
    /// This member's name (its conductor hostname).
    fn member_name(&self) -> &str;

    /// The clock commands are stamped with.
    fn now(&self) -> Timestamp;

    /// Waits until this member's state reflects every write acknowledged before the call
    /// (read index through the leader). Call before `read` for a linearizable read.
    fn read_barrier(&self) -> BoxFuture<'_, Result<(), Error>>;

    /// Runs `f` on the local state (as of the last applied entry). Keep `f` short: it holds a
    /// read lock that the state machine's apply waits for.
    fn read(&self, f: &mut dyn FnMut(&State));

    /// The hash ring at the local applied index (for the `conductor` field of nodes).
    fn ring(&self) -> Arc<HashRing>;

    /// A conductor call: routed to the owning member, or served locally.
    fn call(&self, req: ConductorRequest) -> BoxFuture<'_, Result<ConductorReply, Error>>;

    fn cluster_status(&self) -> BoxFuture<'_, Result<ClusterStatus, Error>>;
    fn add_member(&self, req: AddMember) -> BoxFuture<'_, Result<ClusterStatus, Error>>;
    fn remove_member(&self, name: String) -> BoxFuture<'_, Result<ClusterStatus, Error>>;

    /// Prometheus text for `/metrics`.
    fn metrics(&self) -> String {
        String::new()
    }
}
