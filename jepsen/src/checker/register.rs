//! Per-key linearizability of a compare-and-set register (workload 1: node `extra` fields patched
//! with JSON-patch `test` + `replace`), by the WGL search of [`super::wgl`], partitioned by key.
//!
//! History encoding (`f`, invocation value → `ok` value):
//! * `read`: null → the value read (integer, or null when the field is absent);
//! * `write`: `v` → `v`;
//! * `cas`: `[old, new]` → `[old, new]` (a refused `test` is `fail`).
//!
//! `fail` operations and non-`ok` reads are dropped (they changed nothing). An `info` write or
//! cas whose new value nobody ever observed (no read returned it, no cas expected it) is dropped
//! too: linearizing it can only make later operations harder, so dropping it keeps the verdict
//! exact and the search small.

use super::wgl::{self, Budget, LinOp, Model, Outcome};
use super::{Anomaly, CheckResult, Checker, RunData};
use crate::history::{OpKind, OpPair};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// Operations of a failing prefix named in an anomaly.
const PREFIX_SHOWN: usize = 6;

/// The register's value: absent, or an integer.
pub type RegValue = Option<i64>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegOp {
    Read(RegValue),
    Write(i64),
    Cas(RegValue, i64),
}

impl RegOp {
    /// The value this op makes the register hold, if it writes.
    fn writes(&self) -> Option<i64> {
        match self {
            RegOp::Write(v) | RegOp::Cas(_, v) => Some(*v),
            RegOp::Read(_) => None,
        }
    }
}

/// A compare-and-set register starting at `init`.
#[derive(Debug, Clone, Default)]
pub struct CasRegister {
    pub init: RegValue,
}

impl Model for CasRegister {
    type State = RegValue;
    type Op = RegOp;

    fn init(&self) -> RegValue {
        self.init
    }

    fn step(&self, s: &RegValue, op: &RegOp) -> Option<RegValue> {
        match op {
            RegOp::Read(v) => (v == s).then_some(*s),
            RegOp::Write(v) => Some(Some(*v)),
            RegOp::Cas(old, new) => (old == s).then_some(Some(*new)),
        }
    }
}

fn reg_value(v: &Value) -> Result<RegValue, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("not an i64: {n}")),
        other => Err(format!("not a register value: {other}")),
    }
}

/// The register op a pair stands for, or `None` when it is to be dropped.
pub fn reg_op(pair: &OpPair) -> Result<Option<LinOp<RegOp>>, String> {
    let kind = pair.kind();
    if kind == OpKind::Fail {
        return Ok(None);
    }
    let op = match pair.f() {
        "read" => {
            if kind != OpKind::Ok {
                return Ok(None);
            }
            RegOp::Read(reg_value(pair.result())?)
        }
        "write" => RegOp::Write(reg_value(&pair.invoke.value)?.ok_or("write of null")?),
        "cas" => {
            let v = pair
                .invoke
                .value
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or("cas value must be [old, new]")?;
            RegOp::Cas(reg_value(&v[0])?, reg_value(&v[1])?.ok_or("cas to null")?)
        }
        _ => return Ok(None),
    };
    Ok(Some(LinOp {
        id: pair.invoke.index,
        call: pair.start(),
        ret: pair.end(),
        op,
    }))
}

/// Drops `info` writes whose value nobody observed (see the module doc).
pub fn prune_unobserved(ops: Vec<LinOp<RegOp>>) -> Vec<LinOp<RegOp>> {
    let observed: HashSet<i64> = ops
        .iter()
        .filter_map(|o| match &o.op {
            RegOp::Read(Some(v)) | RegOp::Cas(Some(v), _) => Some(*v),
            _ => None,
        })
        .collect();
    ops.into_iter()
        .filter(|o| o.ret.is_some() || o.op.writes().is_none_or(|v| observed.contains(&v)))
        .collect()
}

/// The linearizability checker over every register key.
#[derive(Debug, Clone, Default)]
pub struct RegisterChecker {
    pub budget: Budget,
    /// The value every key starts with.
    pub init: RegValue,
}

impl RegisterChecker {
    /// Checks pairs (already limited to register ops or not: others are skipped).
    pub fn check_pairs(&self, pairs: &[OpPair]) -> CheckResult {
        let mut result = CheckResult::new("linearizable-register");
        let mut by_key: BTreeMap<String, Vec<LinOp<RegOp>>> = BTreeMap::new();
        for pair in pairs
            .iter()
            .filter(|p| matches!(p.f(), "read" | "write" | "cas"))
        {
            let Some(key) = pair.key() else { continue };
            match reg_op(pair) {
                Ok(Some(op)) => by_key.entry(key.to_string()).or_default().push(op),
                Ok(None) => {}
                Err(e) => result.unknown(
                    Anomaly::new("malformed-op", e)
                        .key(key)
                        .ops(vec![pair.invoke.index]),
                ),
            }
        }
        let (mut steps_total, mut ops_total, mut unknown_keys) = (0u64, 0usize, 0usize);
        for (key, ops) in &by_key {
            let ops = prune_unobserved(ops.clone());
            ops_total += ops.len();
            let (outcome, steps) = wgl::check(&CasRegister { init: self.init }, &ops, &self.budget);
            steps_total += steps;
            match outcome {
                Outcome::Linearizable { .. } => {}
                Outcome::NotLinearizable {
                    longest_prefix,
                    stuck,
                } => {
                    // The op that cannot be placed, and the tail of the deepest valid prefix.
                    let tail: Vec<u64> = longest_prefix
                        .iter()
                        .rev()
                        .take(PREFIX_SHOWN)
                        .rev()
                        .copied()
                        .collect();
                    let mut involved = tail.clone();
                    involved.push(stuck);
                    result.fail(
                        Anomaly::new(
                            "nonlinearizable",
                            format!(
                                "key {key}: no linearization gets past op {stuck}; deepest valid prefix has {} ops, ending {tail:?}",
                                longest_prefix.len()
                            ),
                        )
                        .key(key.clone())
                        .ops(involved)
                        .at(ops.iter().find(|o| o.id == stuck).map_or(0, |o| o.call)),
                    );
                }
                Outcome::Unknown { reason } => {
                    unknown_keys += 1;
                    result.unknown(
                        Anomaly::new("budget-exceeded", format!("key {key}: {reason}"))
                            .key(key.clone()),
                    );
                }
            }
        }
        result.stat("keys", by_key.len());
        result.stat("ops-checked", ops_total);
        result.stat("unknown-keys", unknown_keys);
        result.stat("search-steps", steps_total);
        result.stat("budget", json!({"max-steps": self.budget.max_steps, "max-ms": self.budget.max_time.as_millis() as u64}));
        result
    }
}

impl Checker for RegisterChecker {
    fn name(&self) -> &'static str {
        "linearizable-register"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        self.check_pairs(&run.pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{pair_ops, Op, Process};
    use std::time::Duration;

    /// Builds a history of ops on key "k".
    pub(crate) struct H(Vec<Op>);
    impl H {
        fn new() -> H {
            H(Vec::new())
        }
        fn push(&mut self, kind: OpKind, p: u64, f: &str, v: Value, t: u64) {
            let i = self.0.len() as u64;
            self.0.push(
                Op::new(i, kind, Process::Client(p), f, t)
                    .with_key("k")
                    .with_value(v),
            );
        }
        #[allow(clippy::too_many_arguments)]
        fn op(
            mut self,
            p: u64,
            f: &str,
            inv: Value,
            kind: OpKind,
            out: Value,
            t0: u64,
            t1: u64,
        ) -> H {
            self.push(OpKind::Invoke, p, f, inv, t0);
            self.push(kind, p, f, out, t1);
            self
        }
        fn check(mut self) -> CheckResult {
            self.0.sort_by_key(|o| o.time);
            for (i, o) in self.0.iter_mut().enumerate() {
                o.index = i as u64;
            }
            let (pairs, problems) = pair_ops(&self.0);
            assert!(problems.is_empty(), "{problems:?}");
            RegisterChecker::default().check_pairs(&pairs)
        }
    }
    use OpKind::{Fail, Info, Ok as K};

    #[test]
    fn sequential_history_is_valid() {
        let r = H::new()
            .op(0, "read", json!(null), K, json!(null), 0, 1)
            .op(0, "write", json!(1), K, json!(1), 2, 3)
            .op(1, "cas", json!([1, 2]), K, json!([1, 2]), 4, 5)
            .op(0, "read", json!(null), K, json!(2), 6, 7)
            .check();
        assert_eq!(r.valid, super::super::Validity::Valid, "{r:?}");
    }

    #[test]
    fn stale_read_after_acknowledged_write_is_caught() {
        let r = H::new()
            .op(0, "write", json!(1), K, json!(1), 0, 1)
            .op(1, "write", json!(2), K, json!(2), 2, 3)
            .op(0, "read", json!(null), K, json!(1), 4, 5)
            .check();
        assert_eq!(r.valid, super::super::Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "nonlinearizable");
        assert_eq!(r.anomalies[0].key.as_deref(), Some("k"));
    }

    #[test]
    fn lost_acknowledged_cas_is_caught_and_failed_cas_is_ignored() {
        let base = || {
            H::new()
                .op(0, "write", json!(1), K, json!(1), 0, 1)
                .op(1, "cas", json!([1, 5]), K, json!([1, 5]), 2, 3)
                .op(2, "cas", json!([7, 8]), Fail, json!(null), 2, 3)
        };
        assert_eq!(
            base()
                .op(0, "read", json!(null), K, json!(5), 4, 5)
                .check()
                .valid,
            super::super::Validity::Valid
        );
        assert_eq!(
            base()
                .op(0, "read", json!(null), K, json!(1), 4, 5)
                .check()
                .valid,
            super::super::Validity::Invalid
        );
        assert_eq!(
            base()
                .op(0, "read", json!(null), K, json!(8), 4, 5)
                .check()
                .valid,
            super::super::Validity::Invalid
        );
    }

    #[test]
    fn info_write_may_or_may_not_have_happened() {
        let h = || {
            H::new().op(0, "write", json!(1), K, json!(1), 0, 1).op(
                1,
                "write",
                json!(2),
                Info,
                json!(null),
                2,
                3,
            )
        };
        assert_eq!(
            h().op(0, "read", json!(null), K, json!(2), 10, 11)
                .check()
                .valid,
            super::super::Validity::Valid
        );
        assert_eq!(
            h().op(0, "read", json!(null), K, json!(1), 10, 11)
                .op(0, "read", json!(null), K, json!(2), 12, 13)
                .check()
                .valid,
            super::super::Validity::Valid,
            "an info write can land late"
        );
        assert_eq!(
            h().op(0, "read", json!(null), K, json!(2), 10, 11)
                .op(0, "read", json!(null), K, json!(1), 12, 13)
                .check()
                .valid,
            super::super::Validity::Invalid,
            "but only once"
        );
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut h = H::new().op(0, "write", json!(1), K, json!(1), 0, 1).op(
            0,
            "read",
            json!(null),
            K,
            json!(1),
            2,
            3,
        );
        // Key "j" has a read of a value never written.
        h.push(OpKind::Invoke, 1, "read", json!(null), 4);
        h.0.last_mut().unwrap().key = Some("j".into());
        h.push(K, 1, "read", json!(3), 5);
        h.0.last_mut().unwrap().key = Some("j".into());
        let r = h.check();
        assert_eq!(r.valid, super::super::Validity::Invalid);
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].key.as_deref(), Some("j"));
        assert_eq!(r.stats["keys"], json!(2));
    }

    #[test]
    fn pruning_drops_only_unobserved_info_writes() {
        let ops = vec![
            LinOp {
                id: 0,
                call: 0,
                ret: None,
                op: RegOp::Write(1),
            },
            LinOp {
                id: 1,
                call: 0,
                ret: None,
                op: RegOp::Write(2),
            },
            LinOp {
                id: 2,
                call: 0,
                ret: Some(5),
                op: RegOp::Write(3),
            },
            LinOp {
                id: 3,
                call: 0,
                ret: Some(5),
                op: RegOp::Read(Some(2)),
            },
        ];
        let kept: Vec<u64> = prune_unobserved(ops).iter().map(|o| o.id).collect();
        assert_eq!(kept, vec![1, 2, 3]);
    }

    #[test]
    fn exhausted_budget_answers_unknown() {
        let mut h = H::new();
        for p in 0..10 {
            h = h.op(p, "write", json!(p), K, json!(p), 0, 100);
        }
        h = h.op(20, "read", json!(null), K, json!(3), 101, 102);
        h.0.sort_by_key(|o| o.time);
        for (i, o) in h.0.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let (pairs, _) = pair_ops(&h.0);
        let tight = RegisterChecker {
            budget: Budget {
                max_steps: 3,
                max_time: Duration::from_secs(1),
            },
            init: None,
        };
        assert_eq!(
            tight.check_pairs(&pairs).valid,
            super::super::Validity::Unknown
        );
        assert_eq!(
            RegisterChecker::default().check_pairs(&pairs).valid,
            super::super::Validity::Valid
        );
    }
}
