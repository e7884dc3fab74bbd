//! The history itself obeys Jepsen's rules (one op in flight per process, nothing after `info`,
//! every completion matches an invocation), and counts outcomes per `f`.

use super::{Anomaly, CheckResult, Checker, RunData};
use crate::history::OpKind;
use serde_json::json;
use std::collections::BTreeMap;

pub struct HistoryChecker;

impl Checker for HistoryChecker {
    fn name(&self) -> &'static str {
        "history"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        for p in &run.pairing_problems {
            r.fail(Anomaly::new("process-rule", p.clone()));
        }
        let mut counts: BTreeMap<String, [u64; 3]> = BTreeMap::new();
        for p in &run.pairs {
            let c = counts.entry(p.f().to_string()).or_default();
            match p.kind() {
                OpKind::Ok => c[0] += 1,
                OpKind::Fail => c[1] += 1,
                _ => c[2] += 1,
            }
        }
        for (f, [ok, fail, info]) in counts {
            r.stat(&f, json!({"ok": ok, "fail": fail, "info": info}));
        }
        // The proxy could not tell senders apart: its partitions cut nothing.
        let partitions = run.history.iter().any(|o| o.f == "start-partition");
        for o in run.history.iter().filter(|o| o.f == "proxy-stats") {
            let unidentified = o
                .value
                .get("unidentified")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            r.stat("proxy-unidentified-connections", unidentified);
            if unidentified > 0 && partitions {
                r.unknown(Anomaly::new(
                    "partitions-ineffective",
                    format!("{unidentified} peer connections came from an unknown source IP, so proxy partitions did not apply to them (ferric must bind outgoing peer sockets to its --peer IP; or use --net netns)"),
                ));
            }
        }
        r.stat("ops", run.pairs.len());
        r.stat(
            "nemesis-ops",
            run.history.iter().filter(|o| !o.is_client()).count(),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::{Op, Process};

    #[test]
    fn counts_outcomes_and_flags_reuse_after_info() {
        let op = |i, k, p, t| Op::new(i, k, Process::Client(p), "write", t);
        let good = vec![
            op(0, OpKind::Invoke, 0, 0),
            op(1, OpKind::Info, 0, 1),
            op(2, OpKind::Invoke, 4, 2),
            op(3, OpKind::Ok, 4, 3),
        ];
        let r = HistoryChecker.check(&RunData::from_history(good));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.stats["write"], json!({"ok": 1, "fail": 0, "info": 1}));
        let bad = vec![
            op(0, OpKind::Invoke, 0, 0),
            op(1, OpKind::Info, 0, 1),
            op(2, OpKind::Invoke, 0, 2),
        ];
        assert_eq!(
            HistoryChecker.check(&RunData::from_history(bad)).valid,
            Validity::Invalid
        );
    }

    #[test]
    fn partitions_through_a_blind_proxy_are_unknown() {
        let n = |i, f: &str, v| Op::new(i, OpKind::Info, Process::Nemesis, f, i).with_value(v);
        let h = vec![
            n(0, "start-partition", json!({})),
            n(1, "proxy-stats", json!({"unidentified": 4})),
        ];
        assert_eq!(
            HistoryChecker.check(&RunData::from_history(h)).valid,
            Validity::Unknown
        );
        let h = vec![
            n(0, "start-partition", json!({})),
            n(1, "proxy-stats", json!({"unidentified": 0})),
        ];
        assert_eq!(
            HistoryChecker.check(&RunData::from_history(h)).valid,
            Validity::Valid
        );
    }
}
