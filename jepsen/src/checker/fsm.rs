//! The provision state machine, checked with the production table (`ferric_model::transition`):
//! * between two successive linearizable reads of a node, the observed states must be joined by a
//!   path of allowed transitions whose API-verb edges are verbs some client could have had
//!   applied in between (internal edges — `done`, `fail`, `wait`, `resume`, `hold`, and the
//!   conductor's own `cleaning → manageable`, `deleting → cleaning` — are always available);
//! * a verb acknowledged (202) strictly between the two reads must be on that path: an
//!   acknowledged transition is never lost;
//! * after the final heal plus the transient timeout, no node is still in a transient state.
//!
//! History: `provision` (key = node, invocation value `{"target": verb}`), and `read-provision`
//! (key = node, `ok` value `{"provision_state": …}`).

use super::{Anomaly, CheckResult, Checker, RunData};
use crate::history::{final_heal_time, OpKind, OpPair};
use ferric_model::states::ProvisionVerb;
use ferric_model::{transition, ProvisionEvent, ProvisionState};
use std::collections::{BTreeMap, VecDeque};

/// The largest search the checker walks for one pair of reads: the product, over the events of
/// the verbs overlapping the pair, of (how many verbs of that event + 1). A larger window is
/// reported `unknown`, never guessed.
const MAX_SEARCH: u64 = 1 << 20;

pub struct FsmChecker;

/// Events the conductor raises by itself from `from`.
pub fn internal_edge(from: ProvisionState, ev: ProvisionEvent) -> bool {
    use ProvisionEvent as E;
    use ProvisionState as S;
    matches!(ev, E::Done | E::Fail | E::Wait | E::Resume | E::Hold)
        || matches!(
            (from, ev),
            (S::Cleaning, E::Manage) | (S::Deleting, E::Clean)
        )
}

/// States a node may rest in after the faults are healed: stable, failed, or held for an
/// operator.
fn may_rest_in(s: ProvisionState) -> bool {
    use ProvisionState as S;
    s.is_stable() || s.is_failure() || matches!(s, S::CleanHold | S::DeployHold | S::ServiceHold)
}

struct Verb {
    event: ProvisionEvent,
    required: bool,
    index: u64,
}

/// The verbs of one event overlapping a pair of reads: how many, and how many of them were
/// acknowledged strictly between the reads (those must all be on the path).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Class {
    event: ProvisionEvent,
    total: u64,
    required: u64,
}

fn classes(verbs: &[Verb]) -> Vec<Class> {
    let mut out: Vec<Class> = Vec::new();
    for v in verbs {
        let i = match out.iter().position(|c| c.event == v.event) {
            Some(i) => i,
            None => {
                out.push(Class { event: v.event, total: 0, required: 0 });
                out.len() - 1
            }
        };
        out[i].total += 1;
        out[i].required += u64::from(v.required);
    }
    out
}

/// How many (verbs used per class) combinations a search over `classes` may visit, saturating.
fn search_space(classes: &[Class]) -> u64 {
    classes.iter().fold(1u64, |n, c| n.saturating_mul(c.total + 1))
}

/// Whether `to` can follow `from` using internal edges and each verb at most once, using every
/// required verb (when `honour_required`).
///
/// Verbs of one event are interchangeable, so a path is tracked by how many verbs of each event
/// it has used, not by which: a path that uses k of an event's n verbs may as well have used the
/// acknowledged ones first, so it uses every required one exactly when k ≥ required. The counts
/// are packed in mixed radix (`key`); the caller bounds `search_space(classes)` by `MAX_SEARCH`.
fn reachable(from: ProvisionState, to: ProvisionState, classes: &[Class], honour_required: bool) -> bool {
    let mut strides = Vec::with_capacity(classes.len());
    let mut space = 1u64;
    for c in classes {
        strides.push(space);
        space = space.saturating_mul(c.total + 1);
    }
    let used = |key: u64, i: usize| (key / strides[i]) % (classes[i].total + 1);
    let complete = |key: u64| !honour_required || (0..classes.len()).all(|i| used(key, i) >= classes[i].required);
    let states = ProvisionState::ALL.len() as u64;
    let mut seen = vec![0u64; (states * space).div_ceil(64) as usize];
    let mut visit = |s: ProvisionState, key: u64| {
        let bit = s as u64 * space + key;
        let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
        let fresh = seen[word] & mask == 0;
        seen[word] |= mask;
        fresh
    };
    let mut queue = VecDeque::from([(from, 0u64)]);
    visit(from, 0);
    while let Some((s, key)) = queue.pop_front() {
        if s == to && complete(key) {
            return true;
        }
        for ev in ProvisionEvent::ALL {
            let Some(next) = transition(s, ev) else {
                continue;
            };
            let next_key = if internal_edge(s, ev) {
                key
            } else {
                match classes.iter().position(|c| c.event == ev) {
                    Some(i) if used(key, i) < classes[i].total => key + strides[i],
                    _ => continue,
                }
            };
            if visit(next, next_key) {
                queue.push_back((next, next_key));
            }
        }
    }
    false
}

fn state_of(p: &OpPair) -> Option<ProvisionState> {
    p.result()
        .get("provision_state")
        .and_then(|v| v.as_str())
        .and_then(ProvisionState::parse)
}

impl Checker for FsmChecker {
    fn name(&self) -> &'static str {
        "provision-fsm"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        let mut nodes: BTreeMap<&str, (Vec<&OpPair>, Vec<&OpPair>)> = BTreeMap::new();
        for p in &run.pairs {
            let Some(key) = p.key() else { continue };
            match (p.f(), p.kind()) {
                ("read-provision", OpKind::Ok) => nodes.entry(key).or_default().0.push(p),
                ("provision", OpKind::Ok | OpKind::Info) => nodes.entry(key).or_default().1.push(p),
                _ => {}
            }
        }
        let heal = final_heal_time(&run.history);
        let timeout_ns = run.params.transient_timeout_ms * 1_000_000;
        let (mut pairs_checked, mut skipped, mut widest) = (0usize, 0usize, 0usize);
        for (node, (mut reads, verbs)) in nodes {
            reads.sort_by_key(|p| p.start());
            for r1 in &reads {
                let Some(s1) = state_of(r1) else {
                    r.fail(
                        Anomaly::new(
                            "unknown-state",
                            format!("node {node}: unparseable state {}", r1.result()),
                        )
                        .key(node)
                        .ops(vec![r1.invoke.index]),
                    );
                    continue;
                };
                // The latest read that certainly came before r1.
                let Some(r0) = reads
                    .iter()
                    .filter(|p| p.end().is_some_and(|e| e < r1.start()))
                    .max_by_key(|p| p.end())
                else {
                    continue;
                };
                let Some(s0) = state_of(r0) else { continue };
                let window: Vec<Verb> = verbs
                    .iter()
                    .filter(|v| {
                        v.start() < r1.end_or(u64::MAX) && v.end().is_none_or(|e| e > r0.start())
                    })
                    .filter_map(|v| {
                        let target = v.invoke.value.get("target").and_then(|t| t.as_str())?;
                        let (verb, _) = ProvisionVerb::parse(target)?;
                        let required = v.kind() == OpKind::Ok
                            && v.start() > r0.end_or(u64::MAX)
                            && v.end().is_some_and(|e| e < r1.start());
                        Some(Verb {
                            event: verb.event(),
                            required,
                            index: v.invoke.index,
                        })
                    })
                    .collect();
                let window_classes = classes(&window);
                if search_space(&window_classes) > MAX_SEARCH {
                    skipped += 1;
                    continue;
                }
                pairs_checked += 1;
                widest = widest.max(window.len());
                if reachable(s0, s1, &window_classes, true) {
                    continue;
                }
                let mut ops = vec![r0.invoke.index, r1.invoke.index];
                ops.extend(window.iter().map(|v| v.index));
                let verbs_txt: Vec<String> = window
                    .iter()
                    .map(|v| format!("{}{}", v.event, if v.required { "(acked)" } else { "" }))
                    .collect();
                let (kind, what) = if reachable(s0, s1, &window_classes, false) {
                    ("lost-transition", "an acknowledged transition was lost")
                } else {
                    ("illegal-transition", "no allowed path")
                };
                r.fail(
                    Anomaly::new(
                        kind,
                        format!(
                            "node {node}: {s0} → {s1} with verbs [{}]: {what}",
                            verbs_txt.join(", ")
                        ),
                    )
                    .key(node)
                    .ops(ops)
                    .at(r1.start()),
                );
            }
            // Stuck in a transient state after the final heal.
            if let (Some(heal), Some(last)) = (heal, reads.last()) {
                if let Some(s) = state_of(last) {
                    if heal != u64::MAX
                        && last.start() > heal.saturating_add(timeout_ns)
                        && !may_rest_in(s)
                    {
                        r.fail(
                            Anomaly::new(
                                "stuck-transient",
                                format!(
                                    "node {node}: still {s} {} ms after the final heal",
                                    (last.start() - heal) / 1_000_000
                                ),
                            )
                            .key(node)
                            .ops(vec![last.invoke.index])
                            .at(last.start()),
                        );
                    }
                }
            }
        }
        if skipped > 0 {
            r.unknown(Anomaly::new(
                "too-many-verbs",
                format!("{skipped} read pairs had too many concurrent verbs to search (more than {MAX_SEARCH} combinations)"),
            ));
        }
        r.stat("read-pairs-checked", pairs_checked);
        r.stat("most-verbs-in-a-checked-pair", widest);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::{Op, Process};
    use serde_json::{json, Value};

    struct H(Vec<Op>);
    impl H {
        #[allow(clippy::too_many_arguments)]
        fn op(mut self, p: u64, f: &str, inv: Value, k: OpKind, out: Value, t0: u64, t1: u64) -> H {
            self.0.push(
                Op::new(0, OpKind::Invoke, Process::Client(p), f, t0)
                    .with_key("n1")
                    .with_value(inv),
            );
            self.0.push(
                Op::new(0, k, Process::Client(p), f, t1)
                    .with_key("n1")
                    .with_value(out),
            );
            self
        }
        fn read(self, p: u64, state: &str, t0: u64, t1: u64) -> H {
            self.op(
                p,
                "read-provision",
                json!(null),
                OpKind::Ok,
                json!({"provision_state": state}),
                t0,
                t1,
            )
        }
        fn verb(self, p: u64, verb: &str, k: OpKind, t0: u64, t1: u64) -> H {
            self.op(
                p,
                "provision",
                json!({"target": verb}),
                k,
                json!(null),
                t0,
                t1,
            )
        }
        fn nemesis(mut self, v: Value, t: u64) -> H {
            self.0
                .push(Op::new(0, OpKind::Info, Process::Nemesis, "partition", t).with_value(v));
            self
        }
        fn check(mut self, timeout_ms: u64) -> CheckResult {
            self.0.sort_by_key(|o| o.time);
            for (i, o) in self.0.iter_mut().enumerate() {
                o.index = i as u64;
            }
            let mut d = RunData::from_history(self.0);
            d.params.transient_timeout_ms = timeout_ms;
            FsmChecker.check(&d)
        }
    }
    fn h() -> H {
        H(Vec::new())
    }

    #[test]
    fn legal_sequences_pass_including_internal_steps() {
        let r = h()
            .read(0, "enroll", 0, 1)
            .verb(1, "manage", OpKind::Ok, 2, 3)
            .read(0, "manageable", 4, 5)
            .verb(1, "provide", OpKind::Ok, 6, 7)
            .read(0, "cleaning", 8, 9)
            .read(0, "available", 10, 11)
            .verb(1, "active", OpKind::Info, 12, 13)
            .read(0, "wait call-back", 14, 15)
            .check(1);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
    }

    #[test]
    fn a_wrong_transition_is_caught() {
        // enroll → available with only `manage` issued: needs provide.
        let r = h()
            .read(0, "enroll", 0, 1)
            .verb(1, "manage", OpKind::Ok, 2, 3)
            .read(0, "available", 4, 5)
            .check(1);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "illegal-transition");
        // Going backwards without a verb.
        let r = h()
            .read(0, "active", 0, 1)
            .read(0, "available", 2, 3)
            .check(1);
        assert_eq!(r.anomalies[0].kind, "illegal-transition");
    }

    #[test]
    fn a_lost_acknowledged_transition_is_caught() {
        // `active` acknowledged between two reads that both show available: nothing but verbs
        // leads back to available.
        let r = h()
            .read(0, "available", 0, 1)
            .verb(1, "active", OpKind::Ok, 2, 3)
            .read(0, "available", 4, 5)
            .check(1);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "lost-transition");
        // An info verb may not have happened.
        let r = h()
            .read(0, "available", 0, 1)
            .verb(1, "active", OpKind::Info, 2, 3)
            .read(0, "available", 4, 5)
            .check(1);
        assert_eq!(r.valid, Validity::Valid);
        // An acknowledged manage may end back in enroll: verifying fails to enroll.
        let r = h()
            .read(0, "enroll", 0, 1)
            .verb(1, "manage", OpKind::Ok, 2, 3)
            .read(0, "enroll", 4, 5)
            .check(1);
        assert_eq!(r.valid, Validity::Valid);
    }

    /// `enroll`, then `n` of the workload's six verbs in turn in flight (none acknowledged
    /// between the reads), then `active`.
    fn enroll_to_active_with_verbs_in_flight(n: u64) -> CheckResult {
        let verbs = ["manage", "provide", "active", "deleted", "inspect", "abort"];
        let mut hist = h().read(0, "enroll", 0, 1);
        for i in 0..n {
            hist = hist.verb(10 + i, verbs[i as usize % verbs.len()], OpKind::Info, 2, 100);
        }
        hist.read(0, "active", 50, 51).check(1)
    }

    #[test]
    fn a_wide_window_of_verbs_is_searched_not_skipped() {
        // Forty verbs in flight between two reads: the old search over subsets gave up past 16.
        let r = enroll_to_active_with_verbs_in_flight(40);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stats.get("most-verbs-in-a-checked-pair"), Some(&json!(40)), "{r:?}");
    }

    #[test]
    fn a_lost_acknowledgement_is_caught_among_many_verbs() {
        // `active` acknowledged between the reads, thirty `manage` and `inspect` in flight: none
        // of them leads from a deployment back to available.
        let mut hist = h().read(0, "available", 0, 1);
        for i in 0..30u64 {
            hist = hist.verb(10 + i, if i % 2 == 0 { "manage" } else { "inspect" }, OpKind::Info, 2, 100);
        }
        let r = hist.verb(1, "active", OpKind::Ok, 3, 4).read(0, "available", 50, 51).check(1);
        assert_eq!(r.valid, Validity::Invalid, "{r:?}");
        assert_eq!(r.anomalies[0].kind, "lost-transition");
    }

    #[test]
    fn a_window_too_wide_to_search_is_unknown() {
        // 6 events x 12 verbs each: 13^6 combinations, past MAX_SEARCH.
        let r = enroll_to_active_with_verbs_in_flight(72);
        assert_eq!(r.valid, Validity::Unknown, "{r:?}");
    }

    /// The search it replaced: over subsets of the verb instances (a bit per verb).
    fn reachable_by_subsets(from: ProvisionState, to: ProvisionState, verbs: &[Verb], honour_required: bool) -> bool {
        let required: u32 =
            verbs.iter().enumerate().filter(|(_, v)| v.required && honour_required).fold(0, |m, (i, _)| m | 1 << i);
        let mut seen = std::collections::HashSet::from([(from, 0u32)]);
        let mut queue = VecDeque::from([(from, 0u32)]);
        while let Some((s, used)) = queue.pop_front() {
            if s == to && used & required == required {
                return true;
            }
            for ev in ProvisionEvent::ALL {
                let Some(next) = transition(s, ev) else { continue };
                if internal_edge(s, ev) {
                    if seen.insert((next, used)) {
                        queue.push_back((next, used));
                    }
                    continue;
                }
                for (i, v) in verbs.iter().enumerate() {
                    let u = used | 1 << i;
                    if v.event == ev && used & (1 << i) == 0 && seen.insert((next, u)) {
                        queue.push_back((next, u));
                    }
                }
            }
        }
        false
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Counting verbs per event answers exactly as searching over which verbs were used.
        #[test]
        fn counting_verbs_agrees_with_searching_subsets(
            from in 0..ProvisionState::ALL.len(),
            to in 0..ProvisionState::ALL.len(),
            window in proptest::collection::vec((0..13usize, proptest::bool::ANY), 0..10),
        ) {
            let (from, to) = (ProvisionState::ALL[from], ProvisionState::ALL[to]);
            let verbs: Vec<Verb> = window
                .iter()
                .enumerate()
                .map(|(i, &(e, required))| Verb { event: ProvisionEvent::ALL[e], required, index: i as u64 })
                .collect();
            let c = classes(&verbs);
            for honour in [true, false] {
                proptest::prop_assert_eq!(
                    reachable(from, to, &c, honour),
                    reachable_by_subsets(from, to, &verbs, honour),
                    "{} -> {} with {:?}, honour_required {}", from, to, c, honour
                );
            }
        }
    }

    #[test]
    fn stuck_after_heal_is_caught() {
        let base = || {
            h().nemesis(json!({"fault": "partition", "phase": "begin", "id": 1}), 0)
                .nemesis(json!({"fault": "partition", "phase": "end", "id": 1}), 10)
                .read(0, "available", 1, 2)
                .verb(1, "active", OpKind::Ok, 3, 4)
        };
        let r = base().read(0, "deploying", 5_000_000, 5_000_001).check(1);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies.last().unwrap().kind, "stuck-transient");
        assert_eq!(
            base()
                .read(0, "active", 5_000_000, 5_000_001)
                .check(1)
                .valid,
            Validity::Valid
        );
        assert_eq!(
            base()
                .read(0, "deploy failed", 5_000_000, 5_000_001)
                .check(1)
                .valid,
            Validity::Valid
        );
    }
}
