//! No member crashed, panicked or logged an assertion the nemesis did not cause: every exit in
//! `cluster.jsonl` was the harness's doing, and no member log has a panic, a failed assertion or
//! a fatal runtime error.

use super::{Anomaly, CheckResult, Checker, RunData};

/// Log fragments that mean a bug, whatever the faults.
pub const FATAL_PATTERNS: [&str; 7] = [
    "panicked at",
    "assertion failed",
    "assertion `left",
    "fatal runtime error",
    "stack overflow",
    "double free",
    "Segmentation fault",
];

/// At most this many log anomalies per member (the rest are counted).
const MAX_LINES_PER_MEMBER: usize = 5;

pub struct HealthChecker;

impl Checker for HealthChecker {
    fn name(&self) -> &'static str {
        "health"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        let mut crashes = 0usize;
        for e in run
            .cluster
            .iter()
            .filter(|e| e.event == "exit" && !e.expected)
        {
            crashes += 1;
            r.fail(
                Anomaly::new(
                    "crash",
                    format!(
                        "{} exited unexpectedly ({})",
                        e.member,
                        e.status.as_deref().unwrap_or("?")
                    ),
                )
                .key(e.member.clone())
                .at(e.time),
            );
        }
        let mut fatal_lines = 0usize;
        for (member, log) in &run.logs {
            let mut shown = 0;
            for (n, line) in log.lines().enumerate() {
                if FATAL_PATTERNS.iter().any(|p| line.contains(p)) {
                    fatal_lines += 1;
                    if shown < MAX_LINES_PER_MEMBER {
                        shown += 1;
                        let text: String = line.chars().take(300).collect();
                        r.fail(
                            Anomaly::new(
                                "fatal-log-line",
                                format!("{member}.log:{}: {text}", n + 1),
                            )
                            .key(member.clone()),
                        );
                    }
                }
            }
        }
        r.stat("unexpected-exits", crashes);
        r.stat("fatal-log-lines", fatal_lines);
        r.stat("logs-scanned", run.logs.len());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::cluster::ClusterEvent;

    #[test]
    fn panics_and_unexpected_exits_fail_but_nemesis_kills_do_not() {
        let mut d = RunData::from_history(Vec::new());
        let exit = |expected| ClusterEvent {
            time: 5,
            member: "m1".into(),
            event: "exit".into(),
            pid: Some(1),
            status: Some("signal 9".into()),
            expected,
        };
        d.cluster = vec![exit(true)];
        d.logs
            .insert("m1".into(), "INFO started\nWARN peer unreachable\n".into());
        assert_eq!(HealthChecker.check(&d).valid, Validity::Valid);
        d.logs.insert(
            "m2".into(),
            "thread 'tokio-runtime-worker' panicked at src/raft.rs:10:5:\nboom\n".into(),
        );
        let r = HealthChecker.check(&d);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.anomalies[0].message.starts_with("m2.log:1:"), "{r:?}");
        d.logs.clear();
        d.cluster = vec![exit(false)];
        assert_eq!(HealthChecker.check(&d).anomalies[0].kind, "crash");
    }
}
