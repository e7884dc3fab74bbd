//! Everything a run leaves for the checkers, loaded from a run dir or built in memory.

use crate::bmc::BmcEvent;
use crate::cluster::ClusterEvent;
use crate::history::{pair_ops, read_history, read_jsonl, Op, OpPair};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Parameters the checkers need that are not in the history (written to `params.json` so that
/// `check <run dir>` decides the same way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CheckParams {
    /// Take-over bound: kill of a member to the first BMC request for one of its nodes from a
    /// new owner.
    pub takeover_bound_ms: u64,
    /// How long after the final heal a node may still be in a transient provision state.
    pub transient_timeout_ms: u64,
    /// WGL budget per key.
    pub wgl_max_steps: u64,
    pub wgl_max_ms: u64,
    /// The membership the run asked for last (`None`: not checked).
    pub expected_members: Option<Vec<String>>,
}

impl Default for CheckParams {
    fn default() -> Self {
        CheckParams {
            takeover_bound_ms: 30_000,
            transient_timeout_ms: 60_000,
            wgl_max_steps: 5_000_000,
            wgl_max_ms: 10_000,
            expected_members: None,
        }
    }
}

pub struct RunData {
    /// Shared with `pairs`.
    pub history: Vec<Arc<Op>>,
    pub pairs: Vec<OpPair>,
    /// Violations of the process rule found while pairing.
    pub pairing_problems: Vec<String>,
    pub bmc: Vec<BmcEvent>,
    pub cluster: Vec<ClusterEvent>,
    /// Member name → its log (stdout and stderr).
    pub logs: BTreeMap<String, String>,
    pub params: CheckParams,
}

impl RunData {
    pub fn new(
        history: Vec<Op>,
        bmc: Vec<BmcEvent>,
        cluster: Vec<ClusterEvent>,
        logs: BTreeMap<String, String>,
        params: CheckParams,
    ) -> RunData {
        let history: Vec<Arc<Op>> = history.into_iter().map(Arc::new).collect();
        let (pairs, pairing_problems) = pair_ops(&history);
        RunData {
            history,
            pairs,
            pairing_problems,
            bmc,
            cluster,
            logs,
            params,
        }
    }

    /// A run with a history only.
    pub fn from_history(history: Vec<Op>) -> RunData {
        RunData::new(
            history,
            Vec::new(),
            Vec::new(),
            BTreeMap::new(),
            CheckParams::default(),
        )
    }

    /// Loads `history.jsonl`, `bmc.jsonl`, `cluster.jsonl`, `params.json` and `logs/*.log` from a
    /// run dir (missing optional files are empty).
    pub fn load(dir: &Path) -> Result<RunData> {
        let history = read_history(&dir.join("history.jsonl"))?;
        let opt = |name: &str| dir.join(name).exists().then(|| dir.join(name));
        let bmc = opt("bmc.jsonl")
            .map(|p| read_jsonl(&p))
            .transpose()?
            .unwrap_or_default();
        let cluster = opt("cluster.jsonl")
            .map(|p| read_jsonl(&p))
            .transpose()?
            .unwrap_or_default();
        let params = match opt("params.json") {
            Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)?,
            None => CheckParams::default(),
        };
        let mut logs = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("logs")) {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "log") {
                    let name = path
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    let bytes = std::fs::read(&path)?;
                    logs.insert(name, String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
        Ok(RunData::new(history, bmc, cluster, logs, params))
    }

    /// The last time anything happened.
    pub fn end_time(&self) -> u64 {
        let h = self.history.last().map_or(0, |o| o.time);
        let b = self.bmc.last().map_or(0, |e| e.time);
        let c = self.cluster.last().map_or(0, |e| e.time);
        h.max(b).max(c)
    }
}
