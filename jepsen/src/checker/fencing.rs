//! BMC fencing: no command the BMC carried out bears a generation lower than one the BMC had
//! already seen for that machine (accepted or refused). In observe mode (a token-blind BMC, like
//! real ones) a violation is a double actuation by a stale holder; in fence mode the BMC must
//! refuse exactly those, so a violation is a harness bug and a refusal of a current generation is
//! one too. Refused stale commands are counted as near misses.

use super::{Anomaly, CheckResult, Checker, RunData};
use std::collections::BTreeMap;

pub struct FencingChecker;

impl Checker for FencingChecker {
    fn name(&self) -> &'static str {
        "bmc-fencing"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        let mut max_seen: BTreeMap<&str, (u64, u64)> = BTreeMap::new(); // system → (generation, bmc index)
        let (mut commands, mut near_misses, mut unfenced) = (0usize, 0usize, 0usize);
        for e in run.bmc.iter().filter(|e| e.mutating) {
            commands += 1;
            let Some(gen) = e.generation else {
                unfenced += 1;
                continue;
            };
            let prev = max_seen.get(e.system.as_str()).copied();
            let stale = prev.is_some_and(|(g, _)| gen < g);
            match (stale, e.accepted) {
                (true, true) => {
                    let (g, i) = prev.unwrap_or_default();
                    r.fail(
                        Anomaly::new(
                            "stale-command-accepted",
                            format!(
                                "system {}: {} with generation {gen} from {} carried out after generation {g} (bmc event {i})",
                                e.system,
                                e.action.as_deref().unwrap_or(&e.path),
                                e.member.as_deref().unwrap_or("?")
                            ),
                        )
                        .key(e.system.clone())
                        .bmc(vec![i, e.index])
                        .at(e.time),
                    );
                }
                (true, false) => near_misses += 1,
                (false, false) if e.reason.as_deref() == Some("stale-generation") => r.fail(
                    Anomaly::new(
                        "current-generation-refused",
                        format!("system {}: generation {gen} refused", e.system),
                    )
                    .key(e.system.clone())
                    .bmc(vec![e.index])
                    .at(e.time),
                ),
                _ => {}
            }
            if prev.is_none_or(|(g, _)| gen > g) {
                max_seen.insert(e.system.as_str(), (gen, e.index));
            }
        }
        if unfenced > 0 {
            r.unknown(Anomaly::new(
                "unfenced-commands",
                format!("{unfenced} mutating BMC requests carried no generation"),
            ));
        }
        r.stat("commands", commands);
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
        FencingChecker.check(&d)
    }

    #[test]
    fn refused_stale_commands_are_near_misses() {
        let mut refused = BmcEvent::command(2, 3, "s1", "m1", 5, false);
        refused.reason = Some("stale-generation".into());
        let r = run(vec![
            BmcEvent::command(0, 1, "s1", "m1", 5, true),
            BmcEvent::command(1, 2, "s1", "m2", 9, true),
            refused,
        ]);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stats["near-misses"], serde_json::json!(1));
    }

    #[test]
    fn accepted_stale_command_is_double_actuation() {
        // The refused generation 9 still counts as seen.
        let r = run(vec![
            BmcEvent::command(0, 1, "s1", "m2", 9, false),
            BmcEvent::command(1, 2, "s1", "m1", 5, true),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "stale-command-accepted");
        assert_eq!(r.anomalies[0].bmc, vec![0, 1]);
    }

    #[test]
    fn refusing_a_current_generation_is_a_bmc_bug() {
        let mut e = BmcEvent::command(0, 1, "s1", "m2", 9, false);
        e.reason = Some("stale-generation".into());
        assert_eq!(run(vec![e]).valid, Validity::Invalid);
    }
}
