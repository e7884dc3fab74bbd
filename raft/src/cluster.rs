//! `Cluster`: this member's view of the Raft group — bootstrap and join, proposals forwarded to
//! the leader, linearizable read barriers from any member, online membership changes, status,
//! and calls to other members' conductors.

use crate::config::RaftConfig;
use crate::engine::{MemberNode, RaftNode, RaftNodeParts};
use crate::read_barrier::{ReadBarrier, RoundFn};
use crate::transport::{Method, PeerClients, TransportError};
use crate::{ReadError, WriteError};
use ferric_model::backend::{ClusterStatus, MemberStatus};
use ferric_model::{Command, Error, Response, Timestamp, MIN_SCHEMA_VERSION, SCHEMA_VERSION};
use ferric_storage::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Serves conductor calls that other members route to this one (implemented in `src`).
pub trait ConductorService: Send + Sync + 'static {
    fn handle(&self, body: Vec<u8>) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + 'static>>;
}

/// A forwarded write.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ForwardedWrite {
    pub schema: u32,
    pub command: Command,
}

/// Why a member could not serve a leader-only request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireError {
    NotLeader { leader: Option<(u64, MemberNode)> },
    /// The write may or may not have been applied.
    Ambiguous(String),
    Failed(Error),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum MembershipOp {
    Add { name: String, peer: String, api: String },
    Remove { name: String },
    Status,
}

/// A membership request between members; `hops` bounds forwarding to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MembershipReq {
    pub op: MembershipOp,
    pub hops: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub name: String,
    pub cluster_id: Option<String>,
    pub member_id: Option<u64>,
    pub running: bool,
    pub schema: u32,
    /// The last log index it holds (none: it never received an entry).
    #[serde(default)]
    pub last_log: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Assign {
    pub cluster_id: String,
    pub member_id: u64,
    pub name: String,
}

pub struct Cluster {
    name: String,
    me: MemberNode,
    store: Store,
    config: RaftConfig,
    clients: Arc<PeerClients>,
    node: OnceLock<Arc<RaftNode>>,
    barrier: ReadBarrier,
    membership_lock: tokio::sync::Mutex<()>,
    pub(crate) conductor: OnceLock<Arc<dyn ConductorService>>,
    /// A member waiting to be assigned an id by the leader (joining).
    assigned: Mutex<Option<oneshot::Sender<()>>>,
    snapshot_dir: std::path::PathBuf,
    /// Test-only: serve reads without the read index (Jepsen negative control).
    unsafe_stale_reads: bool,
}

const FORWARD_ATTEMPTS: usize = 20;

impl Cluster {
    pub fn new(me: MemberNode, store: Store, config: RaftConfig) -> Arc<Cluster> {
        Cluster::with_local_ip(me, store, config, None)
    }

    /// Like `new`, with outgoing peer connections bound to `local_ip` (the listen IP).
    pub fn with_local_ip(me: MemberNode, store: Store, config: RaftConfig, local_ip: Option<std::net::IpAddr>) -> Arc<Cluster> {
        let clients = Arc::new(PeerClients::new(Duration::from_millis(config.connect_timeout_ms)).with_local_ip(local_ip));
        let snapshot_dir = store.dir().join("snapshots");
        Arc::new(Cluster {
            name: me.name.clone(),
            me,
            store,
            config,
            clients,
            node: OnceLock::new(),
            barrier: ReadBarrier::default(),
            membership_lock: tokio::sync::Mutex::new(()),
            conductor: OnceLock::new(),
            assigned: Mutex::new(None),
            snapshot_dir,
            unsafe_stale_reads: false,
        })
    }

    /// Test-only switch: reads skip the read index (only with `unsafe-test-switches`).
    #[cfg(feature = "unsafe-test-switches")]
    pub fn new_with_stale_reads(me: MemberNode, store: Store, config: RaftConfig, local_ip: Option<std::net::IpAddr>) -> Arc<Cluster> {
        let c = Cluster::with_local_ip(me, store, config, local_ip);
        let mut c = Arc::try_unwrap(c).ok().expect("fresh cluster");
        c.unsafe_stale_reads = true;
        Arc::new(c)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn me(&self) -> &MemberNode {
        &self.me
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clients(&self) -> &Arc<PeerClients> {
        &self.clients
    }

    pub fn config(&self) -> &RaftConfig {
        &self.config
    }

    /// The running Raft node (none while a joining member waits for its id).
    pub fn node(&self) -> Option<&Arc<RaftNode>> {
        self.node.get()
    }

    pub fn set_conductor_service(&self, svc: Arc<dyn ConductorService>) {
        let _ = self.conductor.set(svc);
    }

    fn running(&self) -> Result<&Arc<RaftNode>, Error> {
        self.node.get().ok_or_else(|| Error::unavailable(format!("member {} has not joined a cluster yet", self.name)))
    }

    async fn start_node(&self, id: u64) -> Result<Arc<RaftNode>, Error> {
        if let Some(n) = self.node.get() {
            return Ok(n.clone());
        }
        // Every call this member makes names its cluster from before its first Raft message.
        if let Some(id) = self.store.identity().cluster_id {
            self.clients.set_cluster_id(&id);
        }
        let node = RaftNode::start(RaftNodeParts {
            id,
            name: self.name.clone(),
            store: self.store.clone(),
            config: self.config.clone(),
            clients: self.clients.clone(),
            snapshot_dir: self.snapshot_dir.clone(),
        })
        .await
        .map_err(Error::internal)?;
        if let Some(id) = self.store.identity().cluster_id {
            self.clients.set_cluster_id(&id);
        }
        let _ = self.node.set(node.clone());
        Ok(self.node.get().expect("just set").clone())
    }

    /// Restart from an existing data directory: resumes membership and state.
    pub async fn resume(&self) -> Result<bool, Error> {
        let id = self.store.identity();
        match (id.cluster_id, id.member_id) {
            (Some(cluster_id), Some(member_id)) => {
                let node = self.start_node(member_id).await?;
                // A bootstrap interrupted between recording the identity and initialising Raft:
                // finish it (only the bootstrap member has id 1, and only a pristine log is
                // accepted by initialize).
                if member_id == 1 && !node.is_initialized().await {
                    tracing::warn!("finishing an interrupted bootstrap");
                    node.initialize(self.me.clone()).await.map_err(Error::internal)?;
                    self.wait_for_leader(Duration::from_secs(30)).await?;
                    let now = Timestamp::from_micros(
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0),
                    );
                    self.propose(Command::InitCluster { cluster_id, now }).await?;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A fresh member becomes a one-member cluster (the embedded default).
    pub async fn bootstrap(&self, now: Timestamp) -> Result<String, Error> {
        let cluster_id = uuid::Uuid::new_v4().to_string();
        self.store.set_membership_identity(&cluster_id, 1).map_err(|e| Error::internal(e.to_string()))?;
        let node = self.start_node(1).await?;
        node.initialize(self.me.clone()).await.map_err(Error::internal)?;
        self.wait_for_leader(Duration::from_secs(30)).await?;
        self.propose(Command::InitCluster { cluster_id: cluster_id.clone(), now }).await?.into_result()?;
        Ok(cluster_id)
    }

    /// A fresh member asks the cluster at `peer` to add it, and returns once it is a voter.
    pub async fn join(self: &Arc<Self>, peer: &str, timeout: Duration) -> Result<(), Error> {
        let op = MembershipOp::Add { name: self.me.name.clone(), peer: self.me.peer_addr.clone(), api: self.me.api_addr.clone() };
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.membership_call(peer, &op, deadline - Instant::now()).await {
                Ok(_) => return Ok(()),
                Err(e @ (Error::Conflict { .. } | Error::InvalidParameterValue { .. })) => return Err(e),
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        Err(Error::unavailable(format!("could not join the cluster at {peer}: {last}")))
    }

    /// A fresh member waits to be added by an operator (`POST /cluster/members` elsewhere).
    pub async fn wait_for_assignment(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        *self.assigned.lock().expect("assigned lock") = Some(tx);
        if self.node.get().is_some() {
            return Ok(());
        }
        rx.await.map_err(|_| Error::unavailable("stopped while waiting to be added"))
    }

    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<(), Error> {
        let node = self.running()?;
        let deadline = Instant::now() + timeout;
        let mut applied = node.applied_watch();
        loop {
            if node.leader().is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable("no leader elected"));
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), applied.changed()).await;
        }
    }

    // ------------------------------------------------------------- writes

    /// Proposes a command through the leader (forwarding when this member is a follower).
    /// Definite failures are `TemporaryFailure`; a write whose fate is unknown says so.
    pub async fn propose(&self, cmd: Command) -> Result<Response, Error> {
        let node = self.running()?.clone();
        // Rolling upgrades: never write an entry some member could not decode.
        let active = self.store.read_state(|s| s.active_schema());
        if cmd.min_schema() > active {
            return Err(Error::SchemaMismatch { peer: active, min: cmd.min_schema(), max: SCHEMA_VERSION });
        }
        let deadline = Instant::now() + self.config.write_timeout();
        let mut last = String::from("no leader");
        for attempt in 0..FORWARD_ATTEMPTS {
            if attempt > 0 {
                let backoff = Duration::from_millis((20 * attempt as u64).min(200));
                if Instant::now() + backoff >= deadline {
                    break;
                }
                tokio::time::sleep(backoff).await;
            }
            if node.is_leader() {
                match node.client_write(cmd.clone()).await {
                    Ok(r) => return Ok(r),
                    Err(WriteError::NotLeader { .. }) => continue,
                    Err(WriteError::Ambiguous(m)) => return Err(ambiguous(&m)),
                    Err(e) => return Err(Error::unavailable(e.to_string())),
                }
            }
            let Some((_, leader)) = node.leader() else {
                last = "no leader known".into();
                continue;
            };
            // The schema the leader needs to decode this command (an older leader still takes the
            // commands of its own schema from an upgraded follower).
            let body = serde_json::to_vec(&ForwardedWrite { schema: cmd.min_schema(), command: cmd.clone() })
                .map_err(|e| Error::internal(e.to_string()))?;
            let timeout = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(10));
            match self.clients.call(&leader.peer_addr, Method::ForwardWrite, body, timeout).await {
                Ok(bytes) => match serde_json::from_slice::<Result<Response, WireError>>(&bytes) {
                    Ok(Ok(r)) => return Ok(r),
                    Ok(Err(WireError::NotLeader { .. })) => {
                        last = format!("{} is no longer the leader", leader.name);
                        continue;
                    }
                    Ok(Err(WireError::Ambiguous(m))) => return Err(ambiguous(&m)),
                    Ok(Err(WireError::Failed(e))) => return Err(e),
                    Err(e) => return Err(Error::internal(format!("bad answer from {}: {e}", leader.name))),
                },
                // Never delivered: safe to try again.
                Err(TransportError::Unreachable { message, .. }) => {
                    last = format!("leader {} unreachable: {message}", leader.name);
                    continue;
                }
                // Sent; the leader may have applied it.
                Err(e) => return Err(ambiguous(&e.to_string())),
            }
        }
        Err(Error::unavailable(format!("write not accepted: {last}")))
    }

    /// Leader side of a forwarded write.
    pub(crate) async fn serve_forwarded(&self, body: &[u8]) -> Result<Response, WireError> {
        let fw: ForwardedWrite =
            serde_json::from_slice(body).map_err(|e| WireError::Failed(Error::invalid(format!("bad forwarded write: {e}"))))?;
        check_schema(fw.schema).map_err(WireError::Failed)?;
        let node = self.running().map_err(WireError::Failed)?;
        match node.client_write(fw.command).await {
            Ok(r) => Ok(r),
            Err(WriteError::NotLeader { leader }) => Err(WireError::NotLeader { leader }),
            Err(WriteError::Ambiguous(m)) => Err(WireError::Ambiguous(m)),
            Err(e) => Err(WireError::Failed(Error::unavailable(e.to_string()))),
        }
    }

    // ------------------------------------------------------------- reads

    /// Waits until this member's state reflects every write acknowledged before the call.
    pub async fn read_barrier(self: &Arc<Self>) -> Result<(), Error> {
        let node = self.running()?.clone();
        if self.unsafe_stale_reads {
            return Ok(());
        }
        let me = self.clone();
        let deadline = Duration::from_millis(self.config.rpc_timeout_ms);
        let round: RoundFn = Arc::new(move || {
            let me = me.clone();
            Box::pin(async move {
                // A stuck round must not hold every later reader of this member.
                match tokio::time::timeout(deadline, me.fetch_read_index()).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::unavailable(format!("no read index within {deadline:?}"))),
                }
            })
        });
        let index = self.barrier.read_index(round).await?;
        node.wait_applied(index, Duration::from_millis(self.config.rpc_timeout_ms))
            .await
            .map_err(|e| Error::unavailable(e.to_string()))
    }

    async fn fetch_read_index(&self) -> Result<u64, Error> {
        let node = self.running()?.clone();
        let timeout = Duration::from_millis(self.config.rpc_timeout_ms);
        let mut last = String::from("no leader");
        for attempt in 0..5u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            if node.is_leader() {
                match node.read_index().await {
                    Ok(i) => return Ok(i),
                    Err(ReadError::NotLeader { .. }) => continue,
                    Err(e) => return Err(Error::unavailable(e.to_string())),
                }
            }
            let Some((_, leader)) = node.leader() else { continue };
            match self.clients.call(&leader.peer_addr, Method::ReadIndex, Vec::new(), timeout).await {
                Ok(bytes) => match serde_json::from_slice::<Result<u64, WireError>>(&bytes) {
                    Ok(Ok(i)) => return Ok(i),
                    Ok(Err(WireError::NotLeader { .. })) => {
                        last = format!("{} is no longer the leader", leader.name);
                        continue;
                    }
                    Ok(Err(e)) => return Err(Error::unavailable(format!("read index: {e:?}"))),
                    Err(e) => return Err(Error::internal(e.to_string())),
                },
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::unavailable(format!("no read index: {last}")))
    }

    pub(crate) async fn serve_read_index(&self) -> Result<u64, WireError> {
        let node = self.running().map_err(WireError::Failed)?;
        match node.read_index().await {
            Ok(i) => Ok(i),
            Err(ReadError::NotLeader { leader }) => Err(WireError::NotLeader { leader }),
            Err(e) => Err(WireError::Failed(Error::unavailable(e.to_string()))),
        }
    }

    /// Runs `f` on the local state.
    pub fn read_state<R>(&self, f: impl FnOnce(&ferric_model::State) -> R) -> R {
        self.store.read_state(f)
    }

    // ------------------------------------------------------------- membership

    async fn membership_call(&self, peer: &str, op: &MembershipOp, timeout: Duration) -> Result<ClusterStatus, Error> {
        self.membership_call_hops(peer, op, 0, timeout).await
    }

    async fn membership_call_hops(&self, peer: &str, op: &MembershipOp, hops: u8, timeout: Duration) -> Result<ClusterStatus, Error> {
        let body = serde_json::to_vec(&MembershipReq { op: op.clone(), hops }).map_err(|e| Error::internal(e.to_string()))?;
        let bytes = self.clients.call(peer, Method::Membership, body, timeout).await.map_err(|e| Error::unavailable(e.to_string()))?;
        serde_json::from_slice::<Result<ClusterStatus, Error>>(&bytes).map_err(|e| Error::internal(e.to_string()))?
    }

    /// Sends a membership operation to the leader (or runs it here when this member leads).
    async fn to_leader(&self, op: MembershipOp) -> Result<ClusterStatus, Error> {
        let node = self.running()?.clone();
        let timeout = Duration::from_millis(self.config.add_member_timeout_ms + self.config.rpc_timeout_ms);
        for attempt in 0..10u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            if node.is_leader() {
                return self.serve_membership(op.clone()).await;
            }
            if let Some((_, leader)) = node.leader() {
                match self.membership_call(&leader.peer_addr, &op, timeout).await {
                    Err(Error::TemporaryFailure { message }) if message.contains("not the leader") => continue,
                    other => return other,
                }
            }
        }
        Err(Error::unavailable("no leader to change the membership"))
    }

    pub async fn add_member(&self, name: String, peer: String, api: String) -> Result<ClusterStatus, Error> {
        validate_member(&name, &peer, &api)?;
        self.to_leader(MembershipOp::Add { name, peer, api }).await
    }

    pub async fn remove_member(&self, name: String) -> Result<ClusterStatus, Error> {
        self.to_leader(MembershipOp::Remove { name }).await
    }

    /// The cluster as the leader sees it (falls back to the local view).
    pub async fn status(&self) -> Result<ClusterStatus, Error> {
        match self.to_leader(MembershipOp::Status).await {
            Ok(s) => Ok(ClusterStatus { name: self.name.clone(), ..s }),
            Err(_) => self.local_status(),
        }
    }

    /// This member's own view.
    pub fn local_status(&self) -> Result<ClusterStatus, Error> {
        let node = self.running()?;
        let st = node.status();
        let leader = st.leader.and_then(|l| st.members.get(&l)).map(|(n, _)| n.name.clone());
        let members = st
            .members
            .iter()
            .map(|(id, (n, voter))| {
                let (matched, reach) = if st.is_leader {
                    st.followers.get(id).cloned().unwrap_or((None, *id == st.id))
                } else {
                    (None, false)
                };
                MemberStatus {
                    id: *id,
                    name: n.name.clone(),
                    peer: n.peer_addr.clone(),
                    api: n.api_addr.clone(),
                    role: if *voter { "voter".into() } else { "learner".into() },
                    reachable: reach || (*id == st.id && st.is_leader),
                    matched: if *id == st.id && st.is_leader { st.last_log } else { matched },
                }
            })
            .collect();
        Ok(ClusterStatus {
            name: self.name.clone(),
            cluster_id: self.store.identity().cluster_id,
            leader,
            term: st.term,
            committed: st.committed,
            applied: st.applied,
            members,
        })
    }

    /// A membership request from another member: served here when this member leads, else
    /// forwarded once to the leader it knows.
    pub(crate) async fn serve_membership_req(&self, req: MembershipReq) -> Result<ClusterStatus, Error> {
        let node = self.running()?.clone();
        if node.is_leader() || req.hops >= 1 {
            return self.serve_membership(req.op).await;
        }
        let Some((_, leader)) = node.leader() else {
            return Err(Error::unavailable(format!("{} is not the leader and knows no leader", self.name)));
        };
        let timeout = Duration::from_millis(self.config.add_member_timeout_ms + self.config.rpc_timeout_ms);
        self.membership_call_hops(&leader.peer_addr, &req.op, req.hops + 1, timeout).await
    }

    pub(crate) async fn serve_membership(&self, op: MembershipOp) -> Result<ClusterStatus, Error> {
        let node = self.running()?.clone();
        if !node.is_leader() {
            return Err(Error::unavailable(format!("{} is not the leader", self.name)));
        }
        match op {
            MembershipOp::Status => self.local_status(),
            MembershipOp::Add { name, peer, api } => {
                validate_member(&name, &peer, &api)?;
                let _g = self.membership_lock.lock().await;
                self.leader_add(&node, name, peer, api).await
            }
            MembershipOp::Remove { name } if name == self.name => self.remove_self(&node, name).await,
            MembershipOp::Remove { name } => {
                let _g = self.membership_lock.lock().await;
                self.leader_remove(&node, name).await
            }
        }
    }

    async fn leader_add(&self, node: &Arc<RaftNode>, name: String, peer: String, api: String) -> Result<ClusterStatus, Error> {
        let st = node.status();
        let cluster_id = self.store.identity().cluster_id.ok_or_else(|| Error::internal("leader has no cluster id"))?;
        if let Some((id, (n, voter))) = st.members.iter().find(|(_, (n, _))| n.name == name) {
            if n.peer_addr == peer && n.api_addr == api {
                if !voter {
                    node.add_voters(BTreeSet::from([*id])).await.map_err(|e| Error::unavailable(e.to_string()))?;
                }
                return self.local_status();
            }
            return Err(Error::conflict(format!(
                "the name {name} is already used by the member at {}; remove it first",
                n.peer_addr
            )));
        }
        if let Some((_, (n, _))) = st.members.iter().find(|(_, (n, _))| n.peer_addr == peer) {
            return Err(Error::conflict(format!("peer address {peer} is already used by member {}", n.name)));
        }
        let timeout = Duration::from_millis(self.config.rpc_timeout_ms);
        let hello_req = serde_json::to_vec(&()).unwrap_or_default();
        let hello: Hello = match self.clients.call(&peer, Method::Hello, hello_req, timeout).await {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::internal(format!("bad hello from {peer}: {e}")))?,
            Err(e) => return Err(Error::unavailable(format!("cannot reach the new member at {peer}: {e}"))),
        };
        check_schema(hello.schema)?;
        if hello.name != name {
            return Err(Error::invalid(format!("the member at {peer} is named {:?}, not {name:?}", hello.name)));
        }
        let member_id = match (&hello.cluster_id, hello.member_id) {
            (Some(c), _) if *c != cluster_id => {
                return Err(Error::conflict(format!(
                    "member {name} at {peer} already belongs to another cluster ({c}); start it with an empty data directory"
                )))
            }
            // A previous add of this member was interrupted after the id was assigned (it may
            // already run, but holds no entry of ours yet).
            (Some(_), Some(id)) if !st.members.contains_key(&id) && (!hello.running || hello.last_log.unwrap_or(0) == 0) => id,
            (Some(_), _) => {
                return Err(Error::conflict(format!(
                    "member {name} at {peer} holds state of this cluster but is not a member (removed earlier?); wipe its data directory before adding it again"
                )))
            }
            (None, _) => new_member_id(&cluster_id, &name, &st.members.keys().copied().collect()),
        };
        let assign = serde_json::to_vec(&Assign { cluster_id, member_id, name: name.clone() }).unwrap_or_default();
        let bytes = self
            .clients
            .call(&peer, Method::Assign, assign, timeout)
            .await
            .map_err(|e| Error::unavailable(format!("assigning an id to {name}: {e}")))?;
        serde_json::from_slice::<Result<(), Error>>(&bytes).map_err(|e| Error::internal(e.to_string()))??;
        let add = node.add_learner(member_id, MemberNode { name: name.clone(), peer_addr: peer, api_addr: api });
        match tokio::time::timeout(Duration::from_millis(self.config.add_member_timeout_ms), add).await {
            Err(_) => return Err(Error::unavailable(format!("{name} did not catch up in time; it stays a learner"))),
            Ok(Err(e)) => return Err(Error::unavailable(e.to_string())),
            Ok(Ok(())) => {}
        }
        node.add_voters(BTreeSet::from([member_id])).await.map_err(|e| Error::unavailable(e.to_string()))?;
        tracing::info!(member = %name, id = member_id, "member added");
        self.local_status()
    }

    /// The leader is asked to remove itself: it first hands leadership to the most caught-up
    /// other voter, then lets the new leader carry out the removal (a leader removing itself
    /// would lose leadership half-way through the two membership changes).
    async fn remove_self(&self, node: &Arc<RaftNode>, name: String) -> Result<ClusterStatus, Error> {
        let st = node.status();
        let voters: Vec<u64> = st.members.iter().filter(|(id, (_, v))| *v && **id != st.id).map(|(id, _)| *id).collect();
        if voters.is_empty() {
            return Err(Error::conflict(format!("{name} is the last voter; a cluster cannot remove its last voter")));
        }
        let target = voters
            .iter()
            .copied()
            .max_by_key(|id| st.followers.get(id).and_then(|(m, reach)| reach.then_some(m.unwrap_or(0))).unwrap_or(0))
            .expect("a voter");
        node.transfer_leadership(target).await.map_err(|e| Error::unavailable(format!("handing over leadership: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut applied = node.applied_watch();
        let new_leader = loop {
            if let Some((id, n)) = node.leader() {
                if id != st.id {
                    break n;
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable("leadership did not move away from the member being removed; retry"));
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), applied.changed()).await;
        };
        tracing::info!(member = %name, new_leader = %new_leader.name, "handed over leadership before removing itself");
        let timeout = Duration::from_millis(self.config.add_member_timeout_ms + self.config.rpc_timeout_ms);
        self.membership_call_hops(&new_leader.peer_addr, &MembershipOp::Remove { name }, 1, timeout).await
    }

    async fn leader_remove(&self, node: &Arc<RaftNode>, name: String) -> Result<ClusterStatus, Error> {
        let st = node.status();
        let Some((id, (_, voter))) = st.members.iter().find(|(_, (n, _))| n.name == name) else {
            return Err(Error::NotFound { message: format!("Member {name} could not be found.") });
        };
        let voters = st.members.values().filter(|(_, v)| *v).count();
        if *voter && voters <= 1 {
            return Err(Error::conflict(format!("{name} is the last voter; a cluster cannot remove its last voter")));
        }
        node.remove_members(BTreeSet::from([*id])).await.map_err(|e| Error::unavailable(e.to_string()))?;
        tracing::info!(member = %name, id, "member removed");
        // Its conductor registration goes away with it.
        let now = Timestamp::from_micros(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0),
        );
        let _ = self.propose(Command::RemoveConductor { hostname: name, now }).await;
        self.local_status()
    }

    /// A joining member answers who it is.
    pub(crate) fn hello(&self) -> Hello {
        let id = self.store.identity();
        Hello {
            name: self.name.clone(),
            cluster_id: id.cluster_id,
            member_id: id.member_id,
            running: self.node.get().is_some(),
            schema: SCHEMA_VERSION,
            last_log: self.node.get().and_then(|n| n.status().last_log),
        }
    }

    /// A joining member receives its id from the leader and starts its Raft node.
    pub(crate) async fn assign(&self, a: Assign) -> Result<(), Error> {
        if a.name != self.name {
            return Err(Error::invalid(format!("this member is {}, not {}", self.name, a.name)));
        }
        if let Some(n) = self.node.get() {
            return if n.id() == a.member_id {
                Ok(())
            } else {
                Err(Error::conflict(format!("{} already runs as member {}", self.name, n.id())))
            };
        }
        self.store
            .set_membership_identity(&a.cluster_id, a.member_id)
            .map_err(|e| Error::conflict(e.to_string()))?;
        self.start_node(a.member_id).await?;
        if let Some(tx) = self.assigned.lock().expect("assigned lock").take() {
            let _ = tx.send(());
        }
        Ok(())
    }

    // ------------------------------------------------------------- conductor calls

    /// Sends a conductor call to another member.
    pub async fn call_member(&self, peer_addr: &str, body: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        self.clients.call(peer_addr, Method::Conductor, body, timeout).await
    }

    pub async fn shutdown(&self) {
        if let Some(n) = self.node.get() {
            n.shutdown().await;
        }
    }
}

fn ambiguous(m: &str) -> Error {
    Error::unavailable(format!("Outcome unknown: the write may or may not have been applied ({m})"))
}

fn check_schema(peer: u32) -> Result<(), Error> {
    if peer < MIN_SCHEMA_VERSION || peer > SCHEMA_VERSION {
        return Err(Error::SchemaMismatch { peer, min: MIN_SCHEMA_VERSION, max: SCHEMA_VERSION });
    }
    Ok(())
}

fn validate_member(name: &str, peer: &str, api: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 63 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        return Err(Error::invalid(format!("invalid member name {name:?}: 1-63 characters of [A-Za-z0-9._-]")));
    }
    for (what, a) in [("peer", peer), ("api", api)] {
        if a.parse::<std::net::SocketAddr>().is_err() && !a.contains(':') {
            return Err(Error::invalid(format!("invalid {what} address {a:?}: expected host:port")));
        }
    }
    Ok(())
}

/// A fresh member id: never reused (a removed member's old process can never collide with it).
fn new_member_id(cluster_id: &str, name: &str, taken: &BTreeSet<u64>) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut seed = format!("{cluster_id}/{name}/{nanos}");
    loop {
        // Keep ids below 2^53 so JSON consumers read them exactly; 0 and 1 are never picked.
        let id = ferric_model::ring::stable_hash(seed.as_bytes()) & ((1u64 << 53) - 1);
        if id > 1 && !taken.contains(&id) {
            return id;
        }
        seed.push('+');
    }
}
