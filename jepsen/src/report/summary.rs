//! `summary.txt`: seed, commit, flags, each checker's verdict, counts, the worst anomalies, and
//! a last line `N passed, N failed` (`, N skipped` for `unknown` verdicts).

use super::RunMeta;
use crate::checker::{CheckResult, RunData, Validity};
use crate::history::{fault_windows, OpKind};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Anomalies shown per checker.
const SHOWN_ANOMALIES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub unknown: usize,
}

impl Tally {
    pub fn of(results: &[CheckResult]) -> Tally {
        let count = |v| results.iter().filter(|r| r.valid == v).count();
        Tally {
            passed: count(Validity::Valid),
            failed: count(Validity::Invalid),
            unknown: count(Validity::Unknown),
        }
    }

    /// The closing line CI reads.
    pub fn line(&self) -> String {
        if self.unknown > 0 {
            format!(
                "{} passed, {} failed, {} skipped",
                self.passed, self.failed, self.unknown
            )
        } else {
            format!("{} passed, {} failed", self.passed, self.failed)
        }
    }
}

pub fn summary_text(meta: &RunMeta, run: &RunData, results: &[CheckResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "ferric-jepsen run");
    let _ = writeln!(s, "seed:     {}", meta.seed);
    let _ = writeln!(s, "commit:   {}", meta.commit);
    let _ = writeln!(s, "flags:    {}", meta.flags);
    let _ = writeln!(
        s,
        "profile:  {}  members: {}  net: {}  bmc: {}",
        meta.profile, meta.members, meta.net, meta.bmc_mode
    );
    let _ = writeln!(
        s,
        "started:  {}  duration: {:.1} s",
        meta.started, meta.duration_s
    );
    let _ = writeln!(s);
    let mut by_f: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for p in &run.pairs {
        let c = by_f.entry(p.f()).or_default();
        match p.kind() {
            OpKind::Ok => c[0] += 1,
            OpKind::Fail => c[1] += 1,
            _ => c[2] += 1,
        }
    }
    let _ = writeln!(
        s,
        "operations: {} ({} nemesis events, {} fault windows, {} BMC requests)",
        run.pairs.len(),
        run.history.iter().filter(|o| !o.is_client()).count(),
        fault_windows(&run.history).len(),
        run.bmc.len()
    );
    for (f, [ok, fail, info]) in &by_f {
        let _ = writeln!(s, "  {f:<16} ok {ok:>6}  fail {fail:>6}  info {info:>6}");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "verdicts:");
    for r in results {
        let stats: Vec<String> = r
            .stats
            .iter()
            .take(6)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            s,
            "  {:<22} {:<8} {}",
            r.checker,
            r.valid.as_str(),
            stats.join(" ")
        );
    }
    let worst: Vec<&CheckResult> = results.iter().filter(|r| !r.anomalies.is_empty()).collect();
    if !worst.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "anomalies:");
        for r in worst {
            for a in r.anomalies.iter().take(SHOWN_ANOMALIES) {
                let _ = writeln!(s, "  [{}] {}: {}", r.checker, a.kind, a.message);
            }
            let not_kept = r
                .stats
                .get("anomalies-not-kept")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            if r.anomalies.len() > SHOWN_ANOMALIES {
                let _ = writeln!(
                    s,
                    "  [{}] … {} more in results.json{}",
                    r.checker,
                    r.anomalies.len() - SHOWN_ANOMALIES,
                    if not_kept > 0 {
                        format!(", {not_kept} more counted only")
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", Tally::of(results).line());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Anomaly;

    #[test]
    fn ends_with_the_ci_line() {
        let mut bad = CheckResult::new("lock");
        bad.fail(Anomaly::new("stale-holder-acted", "m1 acted after m2"));
        let results = vec![CheckResult::new("history"), bad];
        let text = summary_text(
            &RunMeta {
                seed: 7,
                ..Default::default()
            },
            &RunData::from_history(Vec::new()),
            &results,
        );
        assert!(text.contains("seed:     7"));
        assert!(text.contains("[lock] stale-holder-acted: m1 acted after m2"));
        assert_eq!(text.lines().last(), Some("1 passed, 1 failed"));
        let mut u = CheckResult::new("x");
        u.unknown(Anomaly::new("budget-exceeded", "k"));
        assert_eq!(Tally::of(&[u]).line(), "0 passed, 0 failed, 1 skipped");
    }
}
