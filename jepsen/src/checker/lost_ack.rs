//! Nothing acknowledged is lost: a grow-only set (workload: create nodes with unique names; the
//! set is the names a node list returns). Every `add` acknowledged before a read began must be in
//! that read; an element once read must be in every read that began after that read ended; no
//! read contains an element nobody tried to add.
//!
//! History: `add` with the element as invocation value; `read-set` whose `ok` value is the list
//! of elements. Both carry the set's name as `key`.

use super::{Anomaly, CheckResult, Checker, RunData};
use crate::history::{OpKind, OpPair};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct LostAckChecker;

fn element(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Checker for LostAckChecker {
    fn name(&self) -> &'static str {
        "lost-ack"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        let mut sets: BTreeMap<&str, Vec<&OpPair>> = BTreeMap::new();
        for p in &run.pairs {
            let Some(key) = p.key() else { continue };
            match (p.f(), p.kind()) {
                ("add", OpKind::Ok | OpKind::Info) => sets.entry(key).or_default().push(p),
                ("read-set", OpKind::Ok) => {
                    sets.entry(key).or_default();
                }
                _ => {}
            }
        }
        let (mut lost_total, mut acked_total, mut recovered_total) = (0usize, 0usize, 0usize);
        for (key, adds) in sets {
            let attempted: HashMap<String, &OpPair> = adds
                .iter()
                .map(|p| (element(&p.invoke.value), *p))
                .collect();
            let reads = read_sets(key, &run.pairs);
            acked_total += adds.iter().filter(|p| p.kind() == OpKind::Ok).count();
            let Some((last, last_set)) = reads.iter().max_by_key(|(p, _)| p.start()) else {
                if !adds.is_empty() {
                    r.unknown(
                        Anomaly::new("no-final-read", format!("set {key}: no successful read"))
                            .key(key),
                    );
                }
                continue;
            };
            let mut lost: BTreeSet<String> = BTreeSet::new();
            // Acknowledged before the final read began, and missing from it.
            for add in adds.iter().filter(|p| p.kind() == OpKind::Ok) {
                let e = element(&add.invoke.value);
                if add.end().is_some_and(|t| t < last.start()) && !last_set.contains(&e) {
                    r.fail(
                        Anomaly::new(
                            "lost-ack",
                            format!(
                                "set {key}: acknowledged add of {e} missing from the final read"
                            ),
                        )
                        .key(key)
                        .ops(vec![add.invoke.index, last.invoke.index])
                        .at(last.start()),
                    );
                    lost.insert(e);
                }
            }
            recovered_total += adds
                .iter()
                .filter(|p| p.kind() != OpKind::Ok && last_set.contains(&element(&p.invoke.value)))
                .count();
            // Never an element nobody added.
            for (ri, si) in &reads {
                for e in si.iter().filter(|e| !attempted.contains_key(*e)) {
                    r.fail(
                        Anomaly::new(
                            "unexpected-element",
                            format!("set {key}: read {e}, never added"),
                        )
                        .key(key)
                        .ops(vec![ri.invoke.index]),
                    );
                }
            }
            // Once seen, always seen: per element, the first read that ended with it and the first
            // read that began after that and lacks it (one anomaly per element).
            let mut first_seen: BTreeMap<&String, (u64, &OpPair)> = BTreeMap::new();
            for (ri, si) in &reads {
                let Some(end) = ri.end() else { continue };
                for e in si {
                    let entry = first_seen.entry(e).or_insert((end, *ri));
                    if end < entry.0 {
                        *entry = (end, *ri);
                    }
                }
            }
            for (e, (seen_end, ri)) in first_seen {
                if lost.contains(e) {
                    continue;
                }
                let Some((rj, _)) = reads
                    .iter()
                    .find(|(rj, sj)| rj.start() > seen_end && !sj.contains(e))
                else {
                    continue;
                };
                lost.insert(e.clone());
                r.fail(
                    Anomaly::new(
                        "lost-after-read",
                        format!("set {key}: {e} was read, then missing from a later read"),
                    )
                    .key(key)
                    .ops(vec![ri.invoke.index, rj.invoke.index])
                    .at(rj.start()),
                );
            }
            lost_total += lost.len();
        }
        r.stat("acknowledged", acked_total);
        r.stat("lost", lost_total);
        r.stat("recovered-info", recovered_total);
        r
    }
}

/// The successful reads of one set, in order of invocation, with their contents.
fn read_sets<'a>(key: &str, pairs: &'a [OpPair]) -> Vec<(&'a OpPair, BTreeSet<String>)> {
    let mut v: Vec<(&OpPair, BTreeSet<String>)> = pairs
        .iter()
        .filter(|p| p.f() == "read-set" && p.kind() == OpKind::Ok && p.key() == Some(key))
        .map(|p| {
            (
                p,
                p.result()
                    .as_array()
                    .map(|a| a.iter().map(element).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort_by_key(|(p, _)| p.start());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::{Op, Process};
    use serde_json::json;

    fn run(ops: &[(u64, &str, OpKind, Value, Value, u64, u64)]) -> CheckResult {
        let mut h = Vec::new();
        for (p, f, k, inv, out, t0, t1) in ops {
            h.push(
                Op::new(0, OpKind::Invoke, Process::Client(*p), f, *t0)
                    .with_key("nodes")
                    .with_value(inv.clone()),
            );
            h.push(
                Op::new(0, *k, Process::Client(*p), f, *t1)
                    .with_key("nodes")
                    .with_value(out.clone()),
            );
        }
        h.sort_by_key(|o| o.time);
        for (i, o) in h.iter_mut().enumerate() {
            o.index = i as u64;
        }
        LostAckChecker.check(&RunData::from_history(h))
    }

    #[test]
    fn acknowledged_adds_survive() {
        let r = run(&[
            (0, "add", OpKind::Ok, json!("a"), json!("a"), 0, 1),
            (1, "add", OpKind::Info, json!("b"), json!(null), 0, 2),
            (2, "add", OpKind::Ok, json!("c"), json!("c"), 5, 20),
            (
                0,
                "read-set",
                OpKind::Ok,
                json!(null),
                json!(["a", "b"]),
                10,
                11,
            ),
        ]);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stats["recovered-info"], json!(1));
    }

    #[test]
    fn lost_acknowledged_add_is_caught() {
        let r = run(&[
            (0, "add", OpKind::Ok, json!("a"), json!("a"), 0, 1),
            (0, "add", OpKind::Ok, json!("b"), json!("b"), 2, 3),
            (1, "read-set", OpKind::Ok, json!(null), json!(["a"]), 10, 11),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "lost-ack");
    }

    #[test]
    fn element_vanishing_between_reads_and_phantoms_are_caught() {
        let r = run(&[
            (0, "add", OpKind::Info, json!("a"), json!(null), 0, 1),
            (1, "read-set", OpKind::Ok, json!(null), json!(["a"]), 2, 3),
            (1, "read-set", OpKind::Ok, json!(null), json!([]), 4, 5),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "lost-after-read");
        let r = run(&[(1, "read-set", OpKind::Ok, json!(null), json!(["zz"]), 4, 5)]);
        assert_eq!(r.anomalies[0].kind, "unexpected-element");
    }

    #[test]
    fn no_read_is_unknown() {
        let r = run(&[(0, "add", OpKind::Ok, json!("a"), json!("a"), 0, 1)]);
        assert_eq!(r.valid, Validity::Unknown);
    }
}
