//! `RaftNode`: the openraft instance of one member, with the operations the rest of Ferric
//! needs in Ferric's own types (proposals, read index, membership changes, status) and the
//! handlers of incoming Raft RPCs.

use super::log_store::LogStore;
use super::network::NetworkFactory;
use super::state_machine::StateMachine;
use super::{MemberNode, Outcome, Proposal, Raft, SnapshotFile, SnapshotMeta, TypeConfig, Vote};
use crate::config::RaftConfig;
use crate::transport::PeerClients;
use crate::{ReadError, WriteError};
use ferric_model::{Command, Response};
use ferric_storage::Store;
use openraft::error::{ClientWriteError, RaftError};
use openraft::raft::{AppendEntriesRequest, ReadPolicy, StreamAppendResult, TransferLeaderRequest, VoteRequest};
use openraft::storage::Snapshot;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long stopping Raft may take before the member exits anyway (a leader that lost its
/// followers must not hang on SIGTERM).
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

/// What a member needs to run its Raft instance.
pub struct RaftNodeParts {
    pub id: u64,
    pub name: String,
    pub store: Store,
    pub config: RaftConfig,
    pub clients: Arc<PeerClients>,
    /// Where snapshot files live.
    pub snapshot_dir: PathBuf,
}

pub struct RaftNode {
    raft: Raft,
    id: u64,
    name: String,
    config: RaftConfig,
    applied: watch::Receiver<u64>,
    snapshot_dir: PathBuf,
}

/// A point-in-time view of this member's Raft state.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub id: u64,
    pub term: u64,
    pub leader: Option<u64>,
    pub is_leader: bool,
    pub committed: Option<u64>,
    pub applied: Option<u64>,
    pub last_log: Option<u64>,
    pub snapshot: Option<u64>,
    pub purged: Option<u64>,
    /// id → (node, voter)
    pub members: BTreeMap<u64, (MemberNode, bool)>,
    /// Leader only: id → (matched index, acknowledged recently).
    pub followers: BTreeMap<u64, (Option<u64>, bool)>,
}

fn write_err(e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> WriteError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            WriteError::NotLeader { leader: f.leader_id.zip(f.leader_node) }
        }
        RaftError::APIError(ClientWriteError::LogEntryDiscarded(f)) => {
            WriteError::Ambiguous(format!("entry discarded on leader change (leader now {:?})", f.leader_id))
        }
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => WriteError::Refused(e.to_string()),
        RaftError::APIError(e) => WriteError::Refused(e.to_string()),
        RaftError::Fatal(f) => WriteError::Stopped(f.to_string()),
    }
}

impl RaftNode {
    pub async fn start(parts: RaftNodeParts) -> Result<Arc<RaftNode>, String> {
        let cfg = &parts.config;
        let config = Config {
            cluster_name: "ferric".into(),
            heartbeat_interval: cfg.heartbeat_interval_ms,
            election_timeout_min: cfg.election_timeout_min_ms,
            election_timeout_max: cfg.election_timeout_max_ms,
            install_snapshot_timeout: cfg.snapshot_timeout_ms,
            max_payload_entries: cfg.max_payload_entries,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_logs_since_last),
            max_in_snapshot_log_to_keep: cfg.max_in_snapshot_log_to_keep,
            purge_batch_size: cfg.purge_batch_size,
            enable_pre_vote: Some(true),
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(|e| format!("raft config: {e}"))?);
        let applied_now = parts.store.applied_meta().map_err(|e| e.to_string())?.0;
        let applied_index = applied_now
            .as_deref()
            .and_then(|j| serde_json::from_str::<super::LogId>(j).ok())
            .map(|l| l.index)
            .unwrap_or(0);
        let (applied_tx, applied_rx) = watch::channel(applied_index);
        let sm = StateMachine::new(parts.store.clone(), parts.snapshot_dir.clone(), applied_tx).map_err(|e| e.to_string())?;
        let log = LogStore::new(parts.store.clone());
        let net = NetworkFactory {
            clients: parts.clients.clone(),
            snapshot_timeout: Duration::from_millis(parts.config.snapshot_timeout_ms),
            append_stream: parts.config.append_stream,
        };
        let raft = Raft::new(parts.id, config, net, log, sm).await.map_err(|e| format!("starting raft: {e}"))?;
        Ok(Arc::new(RaftNode {
            raft,
            id: parts.id,
            name: parts.name,
            config: parts.config,
            applied: applied_rx,
            snapshot_dir: parts.snapshot_dir,
        }))
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes this member a one-member cluster (only on a pristine log).
    pub async fn initialize(&self, me: MemberNode) -> Result<(), String> {
        let members = BTreeMap::from([(self.id, me)]);
        self.raft.initialize(members).await.map_err(|e| e.to_string())
    }

    pub async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(false)
    }

    /// Proposes a command; only the leader accepts (else `NotLeader` with a hint).
    pub async fn client_write(&self, cmd: Command) -> Result<Response, WriteError> {
        // Bounded: a leader that lost its quorum would otherwise wait until it learns of a new
        // leader. The entry may still commit later, so a timeout is an unknown outcome.
        let limit = self.config.write_timeout();
        let write = self.raft.client_write(Proposal(std::sync::Arc::new(cmd)));
        let resp = match tokio::time::timeout(limit, write).await {
            Err(_) => return Err(WriteError::Ambiguous(format!("no quorum confirmed the write within {limit:?}"))),
            Ok(r) => r.map_err(write_err)?,
        };
        match resp.data {
            Outcome(Some(r)) => Ok(r),
            Outcome(None) => Err(WriteError::Stopped("no response for a command entry".into())),
        }
    }

    /// Leader only: the index a linearizable read must wait for (ReadIndex: confirmed by a
    /// quorum after the call started).
    pub async fn read_index(&self) -> Result<u64, ReadError> {
        match self.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
            Ok(read_log_id) => Ok(read_log_id.index()),
            Err(RaftError::APIError(openraft::error::LinearizableReadError::ForwardToLeader(f))) => {
                Err(ReadError::NotLeader { leader: f.leader_id.zip(f.leader_node) })
            }
            Err(RaftError::APIError(e)) => Err(ReadError::Unavailable(e.to_string())),
            Err(RaftError::Fatal(f)) => Err(ReadError::Unavailable(f.to_string())),
        }
    }

    /// Leader only, unsafe: the commit index without a quorum check. Exists for the Jepsen
    /// negative control (stale reads) and is compiled only with `unsafe-test-switches`.
    #[cfg(feature = "unsafe-test-switches")]
    pub fn unsafe_local_index(&self) -> u64 {
        self.raft.metrics().borrow_watched().cluster_committed.as_ref().map(|l| l.index).unwrap_or(0)
    }

    /// The highest applied index.
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the state machine applied `index` (bounded by `timeout`).
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), ReadError> {
        let mut rx = self.applied.clone();
        let outcome = {
            let fut = rx.wait_for(|a| *a >= index);
            match tokio::time::timeout(timeout, fut).await {
                Ok(Ok(_)) => Ok(true),
                Ok(Err(_)) => Err(()),
                Err(_) => Ok(false),
            }
        };
        match outcome {
            Ok(true) => Ok(()),
            Err(()) => Err(ReadError::Unavailable("state machine stopped".into())),
            Ok(false) => Err(ReadError::Unavailable(format!(
                "this member has not applied index {index} within {timeout:?} (applied {})",
                self.applied_index()
            ))),
        }
    }

    /// A receiver of the applied index (for waiting on progress).
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }

    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        m.state == ServerState::Leader
    }

    /// The current leader as this member knows it.
    pub fn leader(&self) -> Option<(u64, MemberNode)> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node))
    }

    pub fn status(&self) -> NodeStatus {
        let m = self.raft.metrics();
        let m = m.borrow_watched().clone();
        let voters: BTreeSet<u64> = m.membership_config.membership().voter_ids().collect();
        let members = m
            .membership_config
            .membership()
            .nodes()
            .map(|(id, n)| (*id, (n.clone(), voters.contains(id))))
            .collect();
        let mut followers = BTreeMap::new();
        if let Some(rep) = &m.replication {
            let recent = Duration::from_millis(self.config.election_timeout_max_ms * 2);
            for (id, matched) in rep {
                let acked = m
                    .heartbeat
                    .as_ref()
                    .and_then(|h| h.get(id).cloned().flatten())
                    .map(|t| openraft::Instant::elapsed(&*t) < recent)
                    .unwrap_or(false);
                followers.insert(*id, (matched.as_ref().map(|l| l.index), acked || *id == self.id));
            }
        }
        NodeStatus {
            id: self.id,
            term: m.current_term,
            leader: m.current_leader,
            is_leader: m.state == ServerState::Leader,
            committed: m.cluster_committed.as_ref().map(|l| l.index),
            applied: m.last_applied.as_ref().map(|l| l.index),
            last_log: m.last_log_index,
            snapshot: m.snapshot.as_ref().map(|l| l.index),
            purged: m.purged.as_ref().map(|l| l.index),
            members,
            followers,
        }
    }

    /// Leader: adds a learner and waits until it has caught up (bounded by the caller).
    pub async fn add_learner(&self, id: u64, node: MemberNode) -> Result<(), WriteError> {
        self.raft.add_learner(id, node, true).await.map_err(write_err)?;
        Ok(())
    }

    /// Leader: promotes learners to voters.
    pub async fn add_voters(&self, ids: BTreeSet<u64>) -> Result<(), WriteError> {
        self.raft.change_membership(ChangeMembers::AddVoterIds(ids), false).await.map_err(write_err)?;
        Ok(())
    }

    /// Leader: removes members (voters or learners) from the membership entirely.
    pub async fn remove_members(&self, ids: BTreeSet<u64>) -> Result<(), WriteError> {
        let voters: BTreeSet<u64> = {
            let m = self.raft.metrics();
            let m = m.borrow_watched();
            m.membership_config.membership().voter_ids().collect()
        };
        let voting: BTreeSet<u64> = ids.intersection(&voters).copied().collect();
        if !voting.is_empty() {
            self.raft.change_membership(ChangeMembers::RemoveVoters(voting), false).await.map_err(write_err)?;
        }
        self.raft.change_membership(ChangeMembers::RemoveNodes(ids), false).await.map_err(write_err)?;
        Ok(())
    }

    /// Leader: hands leadership to `to` (used before the leader removes itself).
    pub async fn transfer_leadership(&self, to: u64) -> Result<(), String> {
        self.raft.trigger().transfer_leader(to).await.map_err(|e| e.to_string())
    }

    /// Asks for a snapshot now (tests and operators).
    pub fn trigger_snapshot(&self) {
        let raft = self.raft.clone();
        tokio::spawn(async move {
            let _ = raft.trigger().snapshot().await;
        });
    }

    pub fn snapshot_dir(&self) -> &std::path::Path {
        &self.snapshot_dir
    }

    pub async fn shutdown(&self) {
        if tokio::time::timeout(SHUTDOWN_LIMIT, self.raft.shutdown()).await.is_err() {
            tracing::warn!("raft did not stop within {SHUTDOWN_LIMIT:?}; exiting anyway");
        }
    }

    // ------------------------------------------------------- incoming Raft RPCs

    pub async fn handle_append(&self, body: &[u8]) -> Vec<u8> {
        let r: Result<_, String> = match serde_json::from_slice::<AppendEntriesRequest<TypeConfig>>(body) {
            Err(e) => Err(format!("bad append request: {e}")),
            Ok(req) => self.raft.append_entries(req).await.map_err(|e| e.to_string()),
        };
        serde_json::to_vec(&r).unwrap_or_default()
    }

    /// Pipelined replication, follower side: each item of `input` is one JSON AppendEntries
    /// request; the output yields each one's JSON result, in the same order. A request that does
    /// not decode ends the input (the leader opens a new stream after the error it sees).
    pub fn handle_append_stream<S>(&self, input: S) -> futures::stream::BoxStream<'static, Vec<u8>>
    where
        S: futures::Stream<Item = Vec<u8>> + Send + Unpin + 'static,
    {
        use futures::StreamExt;
        let requests = futures::stream::unfold(input, |mut input| async move {
            let bytes = input.next().await?;
            match serde_json::from_slice::<AppendEntriesRequest<TypeConfig>>(&bytes) {
                Ok(req) => Some((req, input)),
                Err(e) => {
                    tracing::warn!("ending an append stream: bad request: {e}");
                    None
                }
            }
        });
        let results: futures::stream::BoxStream<'static, _> = Box::pin(self.raft.stream_append(requests));
        Box::pin(results.map(|r| {
            let r: Result<StreamAppendResult<TypeConfig>, String> = r.map_err(|fatal| fatal.to_string());
            serde_json::to_vec(&r).unwrap_or_default()
        }))
    }

    pub async fn handle_vote(&self, body: &[u8]) -> Vec<u8> {
        let r: Result<_, String> = match serde_json::from_slice::<VoteRequest<TypeConfig>>(body) {
            Err(e) => Err(format!("bad vote request: {e}")),
            Ok(req) => self.raft.vote(req).await.map_err(|e| e.to_string()),
        };
        serde_json::to_vec(&r).unwrap_or_default()
    }

    pub async fn handle_pre_vote(&self, body: &[u8]) -> Vec<u8> {
        let r: Result<_, String> = match serde_json::from_slice::<VoteRequest<TypeConfig>>(body) {
            Err(e) => Err(format!("bad pre-vote request: {e}")),
            Ok(req) => self.raft.pre_vote(req).await.map_err(|e| e.to_string()),
        };
        serde_json::to_vec(&r).unwrap_or_default()
    }

    pub async fn handle_transfer_leader(&self, body: &[u8]) -> Vec<u8> {
        let r: Result<_, String> = match serde_json::from_slice::<TransferLeaderRequest<TypeConfig>>(body) {
            Err(e) => Err(format!("bad transfer-leader request: {e}")),
            Ok(req) => self.raft.handle_transfer_leader(req).await.map_err(|e| e.to_string()),
        };
        serde_json::to_vec(&r).unwrap_or_default()
    }

    /// A snapshot received into `file`: `meta` is the JSON `(vote, snapshot meta)` of the first chunk.
    pub async fn handle_snapshot(&self, meta: &[u8], file: PathBuf) -> Vec<u8> {
        let r: Result<_, String> = match serde_json::from_slice::<(Vote, SnapshotMeta)>(meta) {
            Err(e) => Err(format!("bad snapshot meta: {e}")),
            Ok((vote, meta)) => self
                .raft
                .install_full_snapshot(vote, Snapshot { meta, snapshot: SnapshotFile { path: file } })
                .await
                .map_err(|e| e.to_string()),
        };
        serde_json::to_vec(&r).unwrap_or_default()
    }
}
