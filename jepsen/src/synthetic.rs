//! A synthetic run (no server): a simulated linearizable register store with faults, BMC traffic
//! and optional injected bugs. Used by the report tests, the checkers' end-to-end tests and
//! `ferric-jepsen demo`, so the report can be looked at before `ferric serve` exists.

use crate::bmc::BmcEvent;
use crate::checker::{CheckParams, RunData};
use crate::cluster::ClusterEvent;
use crate::history::{Op, OpKind, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::BTreeMap;

const MS: u64 = 1_000_000;

/// Which bugs to plant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bugs {
    /// One read returns the value before the latest acknowledged write.
    pub stale_read: bool,
    /// A paused member wakes and acts on a node with its old generation.
    pub stale_bmc_command: bool,
}

/// `workers` clients for `secs` seconds against 3 members.
pub fn synthetic_run(seed: u64, workers: u64, secs: u64, bugs: Bugs) -> RunData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let members = ["m1", "m2", "m3"];
    let keys = ["n1/k", "n2/k", "n3/k"];
    let end = secs * 1000 * MS;
    let mut ops: Vec<Op> = Vec::new();
    // Fault windows: a partition, a kill, a pause.
    let faults = [
        (
            end / 6,
            end / 6 + end / 8,
            "partition",
            "partition halves (m1→m3 m3→m1)",
            1u64,
            None,
        ),
        (
            end / 2,
            end / 2 + end / 10,
            "kill",
            "kill -9 m2",
            2,
            Some("m2"),
        ),
        (
            3 * end / 4,
            3 * end / 4 + end / 12,
            "pause",
            "pause m3",
            3,
            Some("m3"),
        ),
    ];
    for (t0, t1, fault, label, id, member) in faults {
        let v = |phase: &str| json!({"fault": fault, "phase": phase, "id": id, "label": label, "member": member});
        ops.push(
            Op::new(
                0,
                OpKind::Info,
                Process::Nemesis,
                if fault == "kill" { "kill" } else { fault },
                t0,
            )
            .with_value(v("begin")),
        );
        ops.push(
            Op::new(
                0,
                OpKind::Info,
                Process::Nemesis,
                if fault == "kill" { "start" } else { fault },
                t1,
            )
            .with_value(v("end")),
        );
    }
    let in_fault = |t: u64| faults.iter().any(|(a, b, ..)| t >= *a && t <= *b);
    // The register store: linearization happens at a random point inside each op.
    let mut value: BTreeMap<&str, Option<i64>> = keys.iter().map(|k| (*k, None)).collect();
    let mut last_acked: BTreeMap<&str, Option<i64>> = value.clone();
    let mut next_value = 1i64;
    let mut planted = false;
    // Events: (time, worker) when each worker is next free.
    let mut free_at: Vec<u64> = (0..workers).map(|w| w * 7 * MS).collect();
    let mut process: Vec<u64> = (0..workers).collect();
    loop {
        let (w, &t0) = free_at
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .expect("workers");
        if t0 >= end {
            break;
        }
        let key = keys[rng.gen_range(0..keys.len())];
        let member = members[(w + rng.gen_range(0..2)) % members.len()];
        let faulty = in_fault(t0);
        let latency = if faulty {
            rng.gen_range(5..1500) * MS
        } else {
            rng.gen_range(1..40) * MS
        };
        let timed_out = faulty && latency > 1000 * MS;
        let t1 = t0 + latency.min(1000 * MS);
        let p = Process::Client(process[w]);
        let (f, inv, out, kind) = match rng.gen_range(0..3) {
            0 => {
                let mut v = value[key];
                if bugs.stale_read && !planted && t0 > end / 3 && last_acked[key] != value[key] {
                    planted = true;
                    v = last_acked[key];
                }
                (
                    "read",
                    json!(null),
                    json!(v),
                    if timed_out { OpKind::Fail } else { OpKind::Ok },
                )
            }
            1 => {
                let v = next_value;
                next_value += 1;
                let kind = if timed_out { OpKind::Info } else { OpKind::Ok };
                if kind == OpKind::Ok || rng.gen_bool(0.5) {
                    last_acked.insert(key, value[key]);
                    value.insert(key, Some(v));
                }
                ("write", json!(v), json!(v), kind)
            }
            _ => {
                let old = if rng.gen_bool(0.6) {
                    value[key]
                } else {
                    Some(next_value + 1000)
                };
                let new = next_value;
                next_value += 1;
                let kind = if timed_out {
                    OpKind::Info
                } else if old == value[key] {
                    last_acked.insert(key, value[key]);
                    value.insert(key, Some(new));
                    OpKind::Ok
                } else {
                    OpKind::Fail
                };
                ("cas", json!([old, new]), json!([old, new]), kind)
            }
        };
        ops.push(
            Op::new(0, OpKind::Invoke, p, f, t0)
                .with_key(key)
                .with_value(inv)
                .with_node(member),
        );
        let mut done = Op::new(0, kind, p, f, t1)
            .with_key(key)
            .with_value(if kind == OpKind::Ok { out } else { json!(null) })
            .with_node(member);
        done.latency_ns = Some(t1 - t0);
        if kind != OpKind::Ok {
            done.error = Some(if timed_out {
                "ambiguous: timed out after 1s".into()
            } else {
                "HTTP 409: test failed".into()
            });
        }
        ops.push(done);
        if kind == OpKind::Info {
            process[w] += workers;
        }
        free_at[w] = t1 + rng.gen_range(5..60) * MS;
    }
    ops.sort_by_key(|o| o.time);
    for (i, o) in ops.iter_mut().enumerate() {
        o.index = i as u64;
        o.wall = 1_795_000_000_000_000_000 + o.time;
    }
    // BMC: each system owned by a member, power commands every ~2 s; m2's nodes move to m1 after
    // its kill with a higher generation.
    let mut bmc = Vec::new();
    let mut gen = 10u64;
    let owners = [("s1", "m1"), ("s2", "m2"), ("s3", "m3")];
    let mut owner_gen: BTreeMap<&str, (&str, u64)> = owners
        .iter()
        .map(|(s, m)| {
            (
                *s,
                (*m, {
                    gen += 1;
                    gen
                }),
            )
        })
        .collect();
    let mut t = 500 * MS;
    while t < end {
        for (s, _) in owners {
            let (m, g) = owner_gen[s];
            if m == "m2" && t > faults[1].0 {
                gen += 7;
                owner_gen.insert(s, ("m1", gen));
            }
            let (m, g) = if m == "m2" && t > faults[1].0 {
                owner_gen[s]
            } else {
                (m, g)
            };
            let i = bmc.len() as u64;
            bmc.push(BmcEvent::command(
                i,
                t + rng.gen_range(0..300) * MS,
                s,
                m,
                g,
                true,
            ));
        }
        t += 2000 * MS;
    }
    if bugs.stale_bmc_command {
        let i = bmc.len() as u64;
        bmc.push(BmcEvent::command(
            i,
            faults[2].1 + 5 * MS,
            "s2",
            "m2",
            12,
            true,
        ));
    }
    bmc.sort_by_key(|e| e.time);
    for (i, e) in bmc.iter_mut().enumerate() {
        e.index = i as u64;
    }
    let cluster = vec![ClusterEvent {
        time: faults[1].0,
        member: "m2".into(),
        event: "exit".into(),
        pid: Some(4242),
        status: Some("signal 9".into()),
        expected: true,
    }];
    let params = CheckParams {
        takeover_bound_ms: 10_000,
        ..CheckParams::default()
    };
    RunData::new(ops, bmc, cluster, BTreeMap::new(), params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{check_all, Validity};

    #[test]
    fn a_clean_synthetic_run_passes_every_checker() {
        let run = synthetic_run(1, 6, 20, Bugs::default());
        for r in check_all(&run) {
            assert_eq!(r.valid, Validity::Valid, "{}: {:?}", r.checker, r.anomalies);
        }
    }

    #[test]
    fn planted_bugs_are_caught() {
        let run = synthetic_run(
            1,
            6,
            20,
            Bugs {
                stale_read: true,
                stale_bmc_command: true,
            },
        );
        let results = check_all(&run);
        let verdict = |name: &str| results.iter().find(|r| r.checker == name).unwrap().valid;
        assert_eq!(verdict("linearizable-register"), Validity::Invalid);
        assert_eq!(verdict("bmc-fencing"), Validity::Invalid);
        assert_eq!(verdict("lock"), Validity::Invalid);
        assert_eq!(verdict("history"), Validity::Valid);
    }
}
