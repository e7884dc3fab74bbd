//! Nothing acknowledged is lost: a grow-only set (workload: create nodes with unique names; the
//! set is the names a node list returns). Every `add` acknowledged before a read began must be in
//! that read; an element once read must be in every read that began after that read ended; no
//! read contains an element nobody tried to add.
//!
//! History: `add` with the element as invocation value; `read-set` whose `ok` value is the set
//! read, as ranges or a plain list (`history::ElemSet`). Both carry the set's name as `key`.
//! The reads are never expanded into per-element sets all at once: a soak has thousands of them,
//! each of up to tens of thousands of names.

use super::{Anomaly, CheckResult, Checker, RunData};
use crate::history::{element_string, ElemSet, OpKind, OpPair};
use std::collections::{BTreeMap, BTreeSet};

pub struct LostAckChecker;

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
            let mut attempted = ElemSet::new();
            for p in &adds {
                attempted.insert(&element_string(&p.invoke.value));
            }
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
                let e = element_string(&add.invoke.value);
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
                .filter(|p| p.kind() != OpKind::Ok && last_set.contains(&element_string(&p.invoke.value)))
                .count();
            // Never an element nobody added.
            for (ri, si) in &reads {
                for e in si.difference(&attempted).iter() {
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
            // Once seen, always seen: an element read by a read that ended before another read
            // began must be in that read. Sweep the reads in order of start, keeping the union of
            // the reads that have ended before it (`seen`); whatever of `seen` a read lacks is
            // reported once per element, against the first read that ended with it.
            let mut by_end: Vec<(u64, usize)> = reads
                .iter()
                .enumerate()
                .filter_map(|(i, (p, _))| p.end().map(|e| (e, i)))
                .collect();
            by_end.sort();
            let mut seen = ElemSet::new();
            let mut ended = 0;
            let mut vanished: Vec<(String, usize, usize)> = Vec::new();
            for (j, (rj, sj)) in reads.iter().enumerate() {
                while ended < by_end.len() && by_end[ended].0 < rj.start() {
                    seen.union_with(&reads[by_end[ended].1].1);
                    ended += 1;
                }
                for e in seen.difference(sj).iter() {
                    if lost.contains(&e) {
                        continue;
                    }
                    // `seen` is a union of reads, so some read holds `e`.
                    let Some(first) = first_read_with(&reads, &e) else { continue };
                    lost.insert(e.clone());
                    vanished.push((e, first, j));
                }
            }
            // In order of element, as the anomalies always were.
            vanished.sort();
            for (e, i, j) in vanished {
                let (ri, rj) = (reads[i].0, reads[j].0);
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

/// The read that ended first among those holding `e` (the earliest in order of start on a tie).
fn first_read_with(reads: &[(&OpPair, ElemSet)], e: &str) -> Option<usize> {
    let mut best: Option<(u64, usize)> = None;
    for (i, (p, s)) in reads.iter().enumerate() {
        let Some(end) = p.end() else { continue };
        if s.contains(e) && best.is_none_or(|(b, _)| end < b) {
            best = Some((end, i));
        }
    }
    best.map(|(_, i)| i)
}

/// The successful reads of one set, in order of invocation, with their contents.
fn read_sets<'a>(key: &str, pairs: &'a [OpPair]) -> Vec<(&'a OpPair, ElemSet)> {
    let mut v: Vec<(&OpPair, ElemSet)> = pairs
        .iter()
        .filter(|p| p.f() == "read-set" && p.kind() == OpKind::Ok && p.key() == Some(key))
        .map(|p| (p, ElemSet::from_value(p.result())))
        .collect();
    v.sort_by_key(|(p, _)| p.start());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::{Op, Process};
    use proptest::prelude::*;
    use serde_json::{json, Value};
    use std::collections::HashMap;

    // The checker as it was before reads became ranges, one `BTreeSet<String>` per read: the
    // reference the property test holds the range sweep to.
    fn element(v: &Value) -> String {
        element_string(v)
    }

    fn reference_check(run: &RunData) -> CheckResult {
        let mut r = CheckResult::new("lost-ack");
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
            let reads = reference_read_sets(key, &run.pairs);
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

    /// The successful reads of one set, in order of invocation, with their contents.
    fn reference_read_sets<'a>(key: &str, pairs: &'a [OpPair]) -> Vec<(&'a OpPair, BTreeSet<String>)> {
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

    /// What a result says, in an order that does not depend on how the checker iterates.
    fn outcome(r: &CheckResult) -> (Validity, Vec<String>, String) {
        let mut a: Vec<String> = r.anomalies.iter().map(|a| format!("{a:?}")).collect();
        a.sort();
        (r.valid, a, format!("{:?}", r.stats))
    }

    fn history(ops: &[(u64, &str, OpKind, Value, Value, u64, u64)]) -> RunData {
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
        RunData::from_history(h)
    }

    /// The same operations with every read as a plain list, which is all the reference reads.
    fn expanded(ops: &[(u64, &str, OpKind, Value, Value, u64, u64)]) -> RunData {
        let mut plain = ops.to_vec();
        for o in plain.iter_mut().filter(|o| o.1 == "read-set") {
            o.4 = Value::Array(ElemSet::from_value(&o.4).iter().map(Value::from).collect());
        }
        history(&plain)
    }

    /// Checks, and asserts that the reference agrees.
    fn run(ops: &[(u64, &str, OpKind, Value, Value, u64, u64)]) -> CheckResult {
        let r = LostAckChecker.check(&history(ops));
        assert_eq!(outcome(&r), outcome(&reference_check(&expanded(ops))));
        r
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

    #[test]
    fn compact_reads_check_as_plain_lists_do() {
        let plain = json!(["jepsen-set-0", "jepsen-set-2"]);
        let compact = crate::history::compact_set_read(plain.clone());
        assert_eq!(compact, json!({"ranges": "0,2"}));
        let add = |n: u64, k| (n, "add", k, json!(format!("jepsen-set-{n}")), json!(null), n, n + 1);
        for v in [plain, compact] {
            let r = run(&[
                add(0, OpKind::Ok),
                add(1, OpKind::Ok),
                add(2, OpKind::Info),
                (9, "read-set", OpKind::Ok, json!(null), v, 10, 11),
            ]);
            assert_eq!(r.valid, Validity::Invalid);
            assert_eq!(r.anomalies.len(), 1);
            assert!(r.anomalies[0].message.contains("jepsen-set-1 missing"), "{r:?}");
            assert_eq!(r.stats["recovered-info"], json!(1));
        }
    }

    /// Adds of `jepsen-set-<i>` (and one odd name) and reads of random subsets (with names
    /// nobody added), at random times: the range sweep gives the reference's verdict, anomalies
    /// and figures, with the reads recorded either way.
    fn random_history() -> impl Strategy<Value = Vec<(u64, &'static str, OpKind, Value, Value, u64, u64)>> {
        let kind = prop_oneof![Just(OpKind::Ok), Just(OpKind::Ok), Just(OpKind::Info), Just(OpKind::Fail)];
        let adds = proptest::collection::vec((kind, 0u64..60, 1u64..15), 0..12);
        let reads = proptest::collection::vec((0u64..70, 1u64..15, any::<u16>(), any::<bool>(), any::<bool>()), 0..7);
        (adds, reads).prop_map(|(adds, reads)| {
            let mut ops = Vec::new();
            for (i, (k, t0, d)) in adds.into_iter().enumerate() {
                let e = if i == 7 { json!("odd") } else { json!(format!("jepsen-set-{i}")) };
                let out = if k == OpKind::Ok { e.clone() } else { json!(null) };
                ops.push((i as u64, "add", k, e, out, t0, t0 + d));
            }
            for (j, (t0, d, mask, odd, compact)) in reads.into_iter().enumerate() {
                let mut v: Vec<Value> = (0..14u64)
                    .filter(|b| mask & (1 << b) != 0)
                    .map(|b| json!(format!("jepsen-set-{b}")))
                    .collect();
                if odd {
                    v.push(json!("odd"));
                }
                let mut v = Value::Array(v);
                if compact {
                    v = crate::history::compact_set_read(v);
                }
                ops.push((100 + j as u64, "read-set", OpKind::Ok, json!(null), v, t0, t0 + d));
            }
            ops
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_range_sweep_agrees_with_the_reference(ops in random_history()) {
            let got = LostAckChecker.check(&history(&ops));
            prop_assert_eq!(outcome(&got), outcome(&reference_check(&expanded(&ops))));
        }
    }
}
