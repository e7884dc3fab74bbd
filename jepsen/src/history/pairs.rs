//! Matches every invocation with its completion, and checks the process rule on the way.

use super::{Op, OpKind, Process};
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A client operation: its invocation and its completion (none when the run ended first, which
/// counts as `info`). The ops are shared with the run's history, not copied.
#[derive(Debug, Clone, PartialEq)]
pub struct OpPair {
    pub invoke: Arc<Op>,
    pub completion: Option<Arc<Op>>,
}

impl OpPair {
    /// `ok`, `fail` or `info` (a missing completion is `info`).
    pub fn kind(&self) -> OpKind {
        self.completion.as_ref().map_or(OpKind::Info, |c| c.kind)
    }

    /// When the operation certainly ended: `None` for `info` (it may take effect any time later).
    pub fn end(&self) -> Option<u64> {
        match &self.completion {
            Some(c) if c.kind != OpKind::Info => Some(c.time),
            _ => None,
        }
    }

    /// Completion time, whatever the outcome (for drawing).
    pub fn end_or(&self, last: u64) -> u64 {
        self.completion.as_ref().map_or(last, |c| c.time)
    }

    pub fn start(&self) -> u64 {
        self.invoke.time
    }

    pub fn key(&self) -> Option<&str> {
        self.invoke.key.as_deref()
    }

    pub fn f(&self) -> &str {
        &self.invoke.f
    }

    /// The completion's value, or null.
    pub fn result(&self) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        self.completion.as_ref().map_or(&NULL, |c| &c.value)
    }
}

/// Client operation pairs in invocation order, plus every violation of the process rule found
/// (invoke while one is in flight, a completion without an invocation, reuse after `info`).
pub fn pair_ops<O: Borrow<Op> + Clone + Into<Arc<Op>>>(history: &[O]) -> (Vec<OpPair>, Vec<String>) {
    let mut pairs: Vec<OpPair> = Vec::new();
    let mut open: HashMap<Process, usize> = HashMap::new();
    let mut retired: HashSet<Process> = HashSet::new();
    let mut problems = Vec::new();
    for entry in history.iter().filter(|o| (*o).borrow().is_client()) {
        let op: &Op = entry.borrow();
        match op.kind {
            OpKind::Invoke => {
                if retired.contains(&op.process) {
                    problems.push(format!(
                        "op {}: process {} reused after info",
                        op.index, op.process
                    ));
                }
                if let Some(prev) = open.insert(op.process, pairs.len()) {
                    problems.push(format!(
                        "op {}: process {} invoked while op {} is in flight",
                        op.index, op.process, pairs[prev].invoke.index
                    ));
                }
                pairs.push(OpPair {
                    invoke: entry.clone().into(),
                    completion: None,
                });
            }
            kind => match open.remove(&op.process) {
                Some(i) => {
                    if pairs[i].invoke.f != op.f {
                        problems.push(format!(
                            "op {}: completes {} with f={}",
                            op.index, pairs[i].invoke.index, op.f
                        ));
                    }
                    if kind == OpKind::Info {
                        retired.insert(op.process);
                    }
                    pairs[i].completion = Some(entry.clone().into());
                }
                None => problems.push(format!(
                    "op {}: completion without invocation (process {})",
                    op.index, op.process
                )),
            },
        }
    }
    (pairs, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(i: u64, kind: OpKind, p: u64, t: u64) -> Op {
        Op::new(i, kind, Process::Client(p), "write", t)
    }

    #[test]
    fn pairs_and_flags_process_rule_violations() {
        let h = vec![
            op(0, OpKind::Invoke, 0, 0),
            op(1, OpKind::Invoke, 1, 1),
            op(2, OpKind::Ok, 0, 2),
            op(3, OpKind::Info, 1, 3),
            op(4, OpKind::Invoke, 2, 4),
        ];
        let (pairs, problems) = pair_ops(&h);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0].kind(), OpKind::Ok);
        assert_eq!(pairs[0].end(), Some(2));
        assert_eq!(pairs[1].kind(), OpKind::Info);
        assert_eq!(pairs[1].end(), None);
        assert_eq!(
            pairs[2].kind(),
            OpKind::Info,
            "no completion counts as info"
        );

        let bad = vec![
            op(0, OpKind::Invoke, 0, 0),
            op(1, OpKind::Invoke, 0, 1),
            op(2, OpKind::Info, 0, 2),
            op(3, OpKind::Invoke, 0, 3),
            op(4, OpKind::Ok, 9, 4),
        ];
        let (_, problems) = pair_ops(&bad);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
