//! Take-over: after `kill -9` of a member, the nodes it was acting on are acted on again (any BMC
//! request, including power-state sync reads, which only a node's owner makes) within the bound.
//! A member's nodes are the systems whose last BMC request before the kill came from it. A kill
//! too close to the end of the run to tell is not counted.
//!
//! History: nemesis op `kill` with value `{"member": name, …}`.

use super::{Anomaly, CheckResult, Checker, RunData};
use crate::history::Process;
use serde_json::Value;
use std::collections::BTreeMap;

pub struct TakeoverChecker;

impl Checker for TakeoverChecker {
    fn name(&self) -> &'static str {
        "takeover"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        let bound = run.params.takeover_bound_ms * 1_000_000;
        let end = run.end_time();
        let kills: Vec<(u64, String, u64)> = run
            .history
            .iter()
            .filter(|o| o.process == Process::Nemesis && o.f == "kill")
            .filter(|o| o.value.get("phase").and_then(Value::as_str) != Some("end"))
            .filter_map(|o| {
                Some((
                    o.time,
                    o.value.get("member")?.as_str()?.to_string(),
                    o.index,
                ))
            })
            .collect();
        let (mut measured, mut undecided, mut worst) = (0usize, 0usize, 0u64);
        for (t_kill, member, index) in &kills {
            let mut last_before: BTreeMap<&str, &str> = BTreeMap::new();
            for e in run.bmc.iter().filter(|e| e.time < *t_kill) {
                if let Some(m) = e.member.as_deref() {
                    last_before.insert(e.system.as_str(), m);
                }
            }
            for system in last_before
                .iter()
                .filter(|(_, m)| *m == member)
                .map(|(s, _)| *s)
            {
                let next = run
                    .bmc
                    .iter()
                    .find(|e| e.time > *t_kill && e.system == system && e.member.is_some());
                match next {
                    Some(e) => {
                        let latency = e.time - t_kill;
                        measured += 1;
                        worst = worst.max(latency);
                        if latency > bound {
                            r.fail(
                                Anomaly::new(
                                    "takeover-too-slow",
                                    format!(
                                        "system {system}: {} ms from kill of {member} to a request from {} (bound {} ms)",
                                        latency / 1_000_000,
                                        e.member.as_deref().unwrap_or("?"),
                                        run.params.takeover_bound_ms
                                    ),
                                )
                                .key(system)
                                .ops(vec![*index])
                                .at(e.time),
                            );
                        }
                    }
                    None if end.saturating_sub(*t_kill) > bound => r.fail(
                        Anomaly::new(
                            "no-takeover",
                            format!(
                                "system {system}: nobody acted on it after the kill of {member}"
                            ),
                        )
                        .key(system)
                        .ops(vec![*index])
                        .at(*t_kill),
                    ),
                    None => undecided += 1,
                }
            }
        }
        r.stat("kills", kills.len());
        r.stat("takeovers-measured", measured);
        r.stat("undecided", undecided);
        r.stat("worst-ms", worst / 1_000_000);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bmc::BmcEvent;
    use crate::checker::Validity;
    use crate::history::{Op, OpKind};
    use serde_json::json;

    const MS: u64 = 1_000_000;

    fn run(bmc: Vec<BmcEvent>, end: u64) -> CheckResult {
        let kill = Op::new(0, OpKind::Info, Process::Nemesis, "kill", 100 * MS)
            .with_value(json!({"member": "m1", "phase": "begin", "id": 1}));
        let last = Op::new(1, OpKind::Info, Process::Nemesis, "noop", end);
        let mut d = RunData::from_history(vec![kill, last]);
        d.bmc = bmc;
        d.params.takeover_bound_ms = 1_000;
        TakeoverChecker.check(&d)
    }

    #[test]
    fn takeover_within_bound_passes() {
        let r = run(
            vec![
                BmcEvent::command(0, 10 * MS, "s1", "m1", 3, true),
                BmcEvent::command(1, 20 * MS, "s2", "m2", 4, true),
                BmcEvent::command(2, 600 * MS, "s1", "m2", 9, true),
            ],
            5_000 * MS,
        );
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stats["worst-ms"], json!(500));
    }

    #[test]
    fn slow_or_missing_takeover_fails() {
        let r = run(
            vec![
                BmcEvent::command(0, 10 * MS, "s1", "m1", 3, true),
                BmcEvent::command(1, 2_000 * MS, "s1", "m2", 9, true),
            ],
            5_000 * MS,
        );
        assert_eq!(r.anomalies[0].kind, "takeover-too-slow");
        let r = run(
            vec![BmcEvent::command(0, 10 * MS, "s1", "m1", 3, true)],
            5_000 * MS,
        );
        assert_eq!(r.anomalies[0].kind, "no-takeover");
        let r = run(
            vec![BmcEvent::command(0, 10 * MS, "s1", "m1", 3, true)],
            500 * MS,
        );
        assert_eq!(r.valid, Validity::Valid, "too close to the end to tell");
        assert_eq!(r.stats["undecided"], json!(1));
    }
}
