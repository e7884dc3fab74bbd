//! Raft settings of a member (`[raft]` in the config file).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftConfig {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Deadline of one peer call (forwarded writes, read index, conductor calls).
    pub rpc_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Deadline for sending or installing a snapshot.
    pub snapshot_timeout_ms: u64,
    /// Build a snapshot after this many applied entries since the last one.
    pub snapshot_logs_since_last: u64,
    /// Log entries kept behind a snapshot (the rest is purged).
    pub max_in_snapshot_log_to_keep: u64,
    /// Purge the log in batches of at least this many entries.
    pub purge_batch_size: u64,
    pub max_payload_entries: u64,
    /// How long adding a member may wait for it to catch up before it becomes a voter.
    pub add_member_timeout_ms: u64,
    /// Pipelined replication: the leader streams AppendEntries to each follower over one gRPC
    /// stream, and this member serves such streams. `false` sends and serves one request at a
    /// time, as members before this option did; a leader falls back to that by itself for a
    /// follower that serves no stream.
    pub append_stream: bool,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 600,
            election_timeout_max_ms: 1200,
            rpc_timeout_ms: 5_000,
            connect_timeout_ms: 1_000,
            snapshot_timeout_ms: 60_000,
            snapshot_logs_since_last: 20_000,
            max_in_snapshot_log_to_keep: 1_000,
            purge_batch_size: 256,
            max_payload_entries: 300,
            add_member_timeout_ms: 120_000,
            append_stream: true,
        }
    }
}

impl RaftConfig {
    /// How long a write may wait to be committed (forwarding included) before its outcome is
    /// unknown.
    pub fn write_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.rpc_timeout_ms * 2)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_interval_ms == 0 || self.election_timeout_min_ms <= self.heartbeat_interval_ms {
            return Err("raft: election_timeout_min_ms must be greater than heartbeat_interval_ms (> 0)".into());
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return Err("raft: election_timeout_max_ms must be greater than election_timeout_min_ms".into());
        }
        if self.snapshot_logs_since_last == 0 {
            return Err("raft: snapshot_logs_since_last must be positive".into());
        }
        if self.purge_batch_size == 0 {
            return Err("raft: purge_batch_size must be positive".into());
        }
        if self.rpc_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return Err("raft: timeouts must be positive".into());
        }
        Ok(())
    }
}
