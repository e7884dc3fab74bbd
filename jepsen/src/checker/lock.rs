//! Node locks, as the actuator sees them: every mutating BMC request carries the member that
//! holds the node's lock and the lock's generation (the log index of the grant). Per node:
//! * one generation belongs to one member (two holders of one grant = broken lock service);
//! * a change of holder comes with a strictly higher generation;
//! * once a newer epoch has acted, an older holder never acts again (at most one holder acting
//!   at any point) — accepted commands only; refused ones (fence mode) are near misses.

use super::{Anomaly, CheckResult, Checker, RunData};
use std::collections::{BTreeMap, HashMap};

pub struct LockChecker;

impl Checker for LockChecker {
    fn name(&self) -> &'static str {
        "lock"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        let mut by_system: BTreeMap<&str, Vec<&crate::bmc::BmcEvent>> = BTreeMap::new();
        for e in run.bmc.iter().filter(|e| e.mutating) {
            by_system.entry(e.system.as_str()).or_default().push(e);
        }
        let (mut epochs, mut near_misses, mut unfenced) = (0usize, 0usize, 0usize);
        for (system, events) in &by_system {
            let mut owner_of: HashMap<u64, &str> = HashMap::new();
            // The current epoch (generation, member, bmc index of its first command) among
            // accepted commands.
            let mut current: Option<(u64, &str, u64)> = None;
            let mut first_of: HashMap<u64, u64> = HashMap::new();
            for e in events {
                let (Some(gen), Some(member)) = (e.generation, e.member.as_deref()) else {
                    unfenced += 1;
                    continue;
                };
                match owner_of.get(&gen) {
                    Some(other) if *other != member => r.fail(
                        Anomaly::new(
                            "shared-generation",
                            format!(
                                "system {system}: generation {gen} used by {other} and {member}"
                            ),
                        )
                        .key(*system)
                        .bmc(vec![
                            first_of.get(&gen).copied().unwrap_or(e.index),
                            e.index,
                        ])
                        .at(e.time),
                    ),
                    _ => {
                        owner_of.insert(gen, member);
                    }
                }
                let first = *first_of.entry(gen).or_insert(e.index);
                if !e.accepted {
                    if current.is_some_and(|(g, _, _)| gen < g) {
                        near_misses += 1;
                    }
                    continue;
                }
                match current {
                    None => {
                        current = Some((gen, member, first));
                        epochs += 1;
                    }
                    Some((g, m, _)) if gen == g && member == m => {}
                    Some((g, _, _)) if gen > g => {
                        current = Some((gen, member, first));
                        epochs += 1;
                    }
                    Some((g, _, _)) if gen == g => {} // a second member: reported as shared-generation
                    Some((g, m, i)) => r.fail(
                        Anomaly::new(
                            "stale-holder-acted",
                            format!(
                                "system {system}: {member} acted with generation {gen} after {m} acted with {g} (bmc events {i}, then {})",
                                e.index
                            ),
                        )
                        .key(*system)
                        .bmc(vec![i, e.index])
                        .at(e.time),
                    ),
                }
            }
        }
        if unfenced > 0 {
            r.unknown(Anomaly::new(
                "unfenced-commands",
                format!("{unfenced} mutating BMC requests carried no member/generation headers"),
            ));
        }
        r.stat("systems", by_system.len());
        r.stat("epochs", epochs);
        r.stat("near-misses", near_misses);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bmc::BmcEvent;
    use crate::checker::Validity;

    fn run(events: Vec<BmcEvent>) -> CheckResult {
        let mut d = RunData::from_history(Vec::new());
        d.bmc = events;
        LockChecker.check(&d)
    }

    #[test]
    fn successive_epochs_with_growing_generations_are_fine() {
        let r = run(vec![
            BmcEvent::command(0, 1, "s1", "m1", 10, true),
            BmcEvent::command(1, 2, "s1", "m1", 10, true),
            BmcEvent::command(2, 3, "s1", "m2", 14, true),
            BmcEvent::command(3, 4, "s2", "m1", 3, true),
            BmcEvent::command(4, 5, "s1", "m1", 10, false),
        ]);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stats["epochs"], serde_json::json!(3));
        assert_eq!(r.stats["near-misses"], serde_json::json!(1));
    }

    #[test]
    fn stale_holder_acting_and_shared_generations_are_caught() {
        let r = run(vec![
            BmcEvent::command(0, 1, "s1", "m1", 10, true),
            BmcEvent::command(1, 2, "s1", "m2", 14, true),
            BmcEvent::command(2, 3, "s1", "m1", 10, true),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "stale-holder-acted");
        assert_eq!(
            r.anomalies[0].bmc,
            vec![1, 2],
            "the newer epoch's command, then the stale one"
        );
        let r = run(vec![
            BmcEvent::command(0, 1, "s1", "m1", 10, true),
            BmcEvent::command(1, 2, "s1", "m2", 10, true),
        ]);
        assert_eq!(r.anomalies[0].kind, "shared-generation");
    }

    #[test]
    fn missing_headers_make_it_unknown() {
        let mut e = BmcEvent::command(0, 1, "s1", "m1", 10, true);
        e.generation = None;
        assert_eq!(run(vec![e]).valid, Validity::Unknown);
    }
}
