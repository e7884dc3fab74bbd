//! Process events of the members (`cluster.jsonl`): spawns, signals, exits.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterEvent {
    /// Run time (ns).
    pub time: u64,
    pub member: String,
    /// `spawn`, `kill`, `stop`, `cont`, `exit`, `shutdown`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// For `exit`: how it ended (`exit 0`, `signal 9`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether the harness caused it (nemesis kill, final shutdown). An `exit` with
    /// `expected: false` is a crash.
    pub expected: bool,
}
