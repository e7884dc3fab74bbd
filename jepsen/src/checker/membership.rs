//! Membership converges: after the final heal, every member's `/cluster/status` lists exactly
//! the membership the run asked for last, and they agree on it.
//!
//! History: `cluster-status` (key = the member asked), `ok` value = the status JSON with
//! `members: [{name, …}]`.

use super::{Anomaly, CheckResult, Checker, RunData};
use crate::history::{final_heal_time, OpKind};
use std::collections::BTreeSet;

pub struct MembershipChecker;

fn member_names(v: &serde_json::Value) -> Option<BTreeSet<String>> {
    v.get("members")?
        .as_array()?
        .iter()
        .map(|m| m.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect()
}

impl Checker for MembershipChecker {
    fn name(&self) -> &'static str {
        "membership"
    }

    fn check(&self, run: &RunData) -> CheckResult {
        let mut r = CheckResult::new(self.name());
        let Some(expected) = run.params.expected_members.as_ref() else {
            r.stat("checked", false);
            return r;
        };
        let expected: BTreeSet<String> = expected.iter().cloned().collect();
        let heal = final_heal_time(&run.history).unwrap_or(0);
        let finals: Vec<_> = run
            .pairs
            .iter()
            .filter(|p| p.f() == "cluster-status" && p.kind() == OpKind::Ok && p.start() > heal)
            .collect();
        if finals.is_empty() {
            r.unknown(Anomaly::new(
                "no-final-status",
                "no successful /cluster/status after the final heal",
            ));
            return r;
        }
        // The last answer of each member asked.
        let mut last: std::collections::BTreeMap<&str, _> = Default::default();
        for p in finals {
            last.insert(p.key().unwrap_or("?"), p);
        }
        for (member, p) in &last {
            match member_names(p.result()) {
                Some(seen) if seen == expected => {}
                Some(seen) => r.fail(
                    Anomaly::new(
                        "membership-diverged",
                        format!("{member} lists {seen:?}, expected {expected:?}"),
                    )
                    .key(*member)
                    .ops(vec![p.invoke.index])
                    .at(p.start()),
                ),
                None => r.fail(
                    Anomaly::new(
                        "bad-status",
                        format!("{member}: no members list in {}", p.result()),
                    )
                    .ops(vec![p.invoke.index]),
                ),
            }
        }
        r.stat("members-asked", last.len());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::{Op, Process};
    use serde_json::json;

    fn run(answers: &[(&str, Vec<&str>)], expected: Option<Vec<&str>>) -> CheckResult {
        let mut h = Vec::new();
        for (i, (m, names)) in answers.iter().enumerate() {
            let t = 10 * i as u64;
            let members: Vec<_> = names.iter().map(|n| json!({"name": n})).collect();
            h.push(
                Op::new(
                    0,
                    OpKind::Invoke,
                    Process::Client(i as u64),
                    "cluster-status",
                    t,
                )
                .with_key(m),
            );
            h.push(
                Op::new(
                    0,
                    OpKind::Ok,
                    Process::Client(i as u64),
                    "cluster-status",
                    t + 1,
                )
                .with_key(m)
                .with_value(json!({"members": members})),
            );
        }
        for (i, o) in h.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let mut d = RunData::from_history(h);
        d.params.expected_members = expected.map(|v| v.iter().map(|s| s.to_string()).collect());
        MembershipChecker.check(&d)
    }

    #[test]
    fn converged_membership_passes_and_divergence_fails() {
        let all = vec!["m1", "m2", "m3"];
        assert_eq!(
            run(
                &[("m1", all.clone()), ("m2", all.clone())],
                Some(all.clone())
            )
            .valid,
            Validity::Valid
        );
        let r = run(
            &[("m1", all.clone()), ("m2", vec!["m1", "m2"])],
            Some(all.clone()),
        );
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].key.as_deref(), Some("m2"));
        assert_eq!(run(&[], Some(all.clone())).valid, Validity::Unknown);
        assert_eq!(run(&[], None).valid, Validity::Valid);
    }
}
