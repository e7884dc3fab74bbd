//! Carries out the schedule against the running cluster, recording every fault as nemesis ops
//! (`{"fault", "phase": "begin"|"end", "id", "label", "member"}`) in the history, and the final
//! heal that undoes everything still in effect.

use super::faketime::FakeClock;
use super::net::Net;
use super::{Fault, Step};
use crate::bmc::FakeBmc;
use crate::client::ApiClient;
use crate::cluster::Cluster;
use crate::history::Recorder;
use anyhow::Result;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// How often the executor checks for crashed members while holding a fault.
const REAP_EVERY: Duration = Duration::from_millis(500);
/// The final heal re-adds missing members for at most this long, retrying at this pace.
const RECONCILE_WITHIN: Duration = Duration::from_secs(30);
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// A rejoined member gets this long to appear before it is rejoined again.
const REJOIN_SETTLE: Duration = Duration::from_secs(8);
/// `pause-action`: how long the fake BMC holds the request it caught (the SIGSTOP is sent as
/// soon as the catch is reported, so it lands well within this).
const TRAP_HOLD: Duration = Duration::from_secs(1);
/// `pause-action`: how long to wait for a member to start an action (at most a third of the
/// fault's hold) before pausing the scheduled member instead.
const TRAP_WAIT_MAX: Duration = Duration::from_secs(5);

pub struct Nemesis<'a> {
    pub cluster: &'a mut Cluster,
    pub net: &'a Net,
    pub api: &'a ApiClient,
    pub recorder: &'a Recorder,
    /// Members removed from the membership and not yet re-added.
    pub removed: BTreeSet<usize>,
    /// Peer address new members join through.
    pub join: std::net::SocketAddr,
    /// The fake BMC (for `pause-action`).
    pub bmc: Option<&'a FakeBmc>,
    /// Step id → the member a `pause-action` actually paused.
    pub paused: HashMap<usize, usize>,
}

fn names(c: &Cluster) -> Vec<String> {
    c.specs.iter().map(|s| s.name.clone()).collect()
}

impl Nemesis<'_> {
    fn record(&self, f: &str, id: usize, phase: &str, fault: &Fault, extra: Value) {
        let names = names(self.cluster);
        let member = match fault {
            Fault::Kill { member }
            | Fault::Pause { member }
            | Fault::Clock { member, .. }
            | Fault::Member { member } => Some(names[*member].clone()),
            Fault::PauseAction { .. } => self.paused.get(&id).map(|m| names[*m].clone()),
            _ => None,
        };
        let mut v = json!({"fault": fault.class().as_str(), "phase": phase, "id": id, "label": fault.label(&names), "member": member, "detail": fault});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        self.recorder.nemesis(f, v);
    }

    /// Sleeps until `until`, reaping crashed members on the way.
    async fn hold(&mut self, until: Instant) {
        while Instant::now() < until {
            let next = (Instant::now() + REAP_EVERY).min(until);
            tokio::time::sleep_until(next).await;
            for name in self.cluster.reap_unexpected() {
                self.recorder.nemesis(
                    "crash",
                    json!({"fault": "crash", "phase": "instant", "member": name}),
                );
            }
        }
    }

    fn set_clock(&self, member: usize, offset_ms: i64) -> Result<()> {
        let s = &self.cluster.specs[member];
        std::fs::write(&s.clock_offset_file, format!("{offset_ms}\n"))?;
        if let Some(ft) = &s.faketime_file {
            FakeClock {
                library: std::path::PathBuf::from(super::faketime::DEBIAN_LIBFAKETIME),
                timestamp_file: ft.clone(),
            }
            .set_offset_ms(offset_ms)?;
        }
        Ok(())
    }

    /// A member other than `not` that is running and not paused.
    fn other(&self, not: usize) -> Option<usize> {
        (0..self.cluster.specs.len()).find(|&i| {
            i != not
                && self.cluster.is_running(i)
                && !self.cluster.is_paused(i)
                && !self.removed.contains(&i)
        })
    }

    async fn membership(&mut self, member: usize, add: bool) -> Value {
        let Some(via) = self.other(member) else {
            return json!({"result": "no member to ask"});
        };
        let s = self.cluster.specs[member].clone();
        let addr = self.cluster.specs[via].api;
        let r = if add {
            self.api
                .add_member(
                    addr,
                    &s.name,
                    &s.advertised_peer.to_string(),
                    &s.api.to_string(),
                )
                .await
        } else {
            self.api.remove_member(addr, &s.name).await
        };
        match r {
            Ok(r) => {
                json!({"via": self.cluster.specs[via].name, "status": r.status, "body": String::from_utf8_lossy(&r.body).chars().take(300).collect::<String>()})
            }
            Err(e) => json!({"via": self.cluster.specs[via].name, "error": e.to_string()}),
        }
    }

    /// Brings a removed member back the way the server requires: stop it, wipe its data dir,
    /// start it again joining through a current member, and add it.
    async fn rejoin(&mut self, member: usize) -> Value {
        if self.cluster.is_running(member) {
            if let Err(e) = self.cluster.kill(member).await {
                return json!({"error": format!("stop: {e:#}")});
            }
        }
        let dir = self.cluster.specs[member].data_dir.clone();
        if let Err(e) = std::fs::remove_dir_all(&dir).and_then(|_| std::fs::create_dir_all(&dir)) {
            return json!({"error": format!("wipe {}: {e}", dir.display())});
        }
        let join = self
            .other(member)
            .map_or(self.join, |via| self.cluster.specs[via].advertised_peer);
        if let Err(e) = self.cluster.start(member, Some(join)) {
            return json!({"error": format!("start: {e:#}")});
        }
        let added = self.membership(member, true).await;
        json!({"wiped": true, "join": join.to_string(), "add": added})
    }

    /// Re-adds every member missing from the membership until all are listed or `within`
    /// passes; returns what was done.
    async fn reconcile_membership(&mut self, within: Duration) -> Value {
        let until = Instant::now() + within;
        let mut actions = Vec::new();
        let mut last_rejoin: std::collections::HashMap<usize, Instant> = Default::default();
        while Instant::now() < until {
            let Some(via) = self.other(usize::MAX) else {
                break;
            };
            let listed: BTreeSet<String> =
                match self.api.cluster_status(self.cluster.specs[via].api).await {
                    Ok(r) if r.status == 200 => r
                        .json()
                        .and_then(|v| {
                            v["members"].as_array().map(|a| {
                                a.iter()
                                    .filter_map(|m| m["name"].as_str().map(str::to_string))
                                    .collect()
                            })
                        })
                        .unwrap_or_default(),
                    _ => BTreeSet::new(),
                };
            let missing: Vec<usize> = (0..self.cluster.specs.len())
                .filter(|i| !listed.contains(&self.cluster.specs[*i].name))
                .collect();
            if !listed.is_empty() && missing.is_empty() {
                return json!({"converged": true, "actions": actions});
            }
            let due: Vec<usize> = missing
                .into_iter()
                .filter(|m| {
                    !listed.is_empty()
                        && last_rejoin
                            .get(m)
                            .is_none_or(|t| t.elapsed() >= REJOIN_SETTLE)
                })
                .collect();
            for m in due {
                last_rejoin.insert(m, Instant::now());
                let r = self.rejoin(m).await;
                actions.push(json!({"add": self.cluster.specs[m].name, "result": r}));
            }
            tokio::time::sleep(RECONCILE_EVERY).await;
        }
        json!({"converged": false, "actions": actions})
    }

    /// `pause-action`: arms the BMC's trap, waits (at most `wait`) for a member to start an
    /// action and pauses it while the BMC holds its request; else pauses `fallback`.
    async fn pause_in_action(
        &mut self,
        id: usize,
        fallback: usize,
        wait: Duration,
    ) -> Result<Value> {
        let names = names(self.cluster);
        let hit = match self.bmc {
            Some(bmc) => {
                let rx = bmc.arm_trap(TRAP_HOLD);
                let hit = tokio::time::timeout(wait, rx)
                    .await
                    .ok()
                    .and_then(Result::ok);
                bmc.disarm_trap();
                hit
            }
            None => None,
        };
        let caught = hit.as_ref().and_then(|h| {
            let i = names.iter().position(|n| *n == h.member)?;
            (self.cluster.is_running(i) && !self.cluster.is_paused(i)).then_some(i)
        });
        let member = caught.unwrap_or(fallback);
        self.cluster.pause(member)?;
        self.paused.insert(id, member);
        Ok(match (caught, hit) {
            (Some(_), Some(h)) => json!({
                "label": format!("pause {} mid-action ({} {}, generation {})", names[member], h.method, h.system, h.generation),
                "in_action": true,
                "trap": h,
            }),
            _ => json!({
                "label": format!("pause {} (no action began within {} ms)", names[member], wait.as_millis()),
                "in_action": false,
            }),
        })
    }

    async fn begin(&mut self, id: usize, step: &Step) -> Result<()> {
        let fault = &step.fault;
        let (f, extra) = match fault {
            Fault::Partition { grudge, rule, .. } => {
                self.net.partition(grudge, *rule)?;
                ("start-partition", json!({}))
            }
            Fault::Kill { member } => {
                self.cluster.kill(*member).await?;
                ("kill", json!({}))
            }
            Fault::Pause { member } => {
                self.cluster.pause(*member)?;
                ("pause", json!({}))
            }
            Fault::PauseAction { member } => {
                let wait = TRAP_WAIT_MAX.min(Duration::from_millis(step.hold_ms / 3));
                ("pause", self.pause_in_action(id, *member, wait).await?)
            }
            Fault::KillAll => {
                let all: Vec<usize> = (0..self.cluster.specs.len()).collect();
                self.cluster.kill_many(&all).await?;
                ("kill-all", json!({}))
            }
            Fault::Clock { member, offset_ms } => {
                self.set_clock(*member, *offset_ms)?;
                ("clock-bump", json!({}))
            }
            Fault::Member { member } => {
                let r = self.membership(*member, false).await;
                self.removed.insert(*member);
                ("member-remove", r)
            }
            Fault::Delay { src, dst, ms } => {
                self.net.delay(*src, *dst, *ms)?;
                ("start-delay", json!({}))
            }
            Fault::Loss { src, dst, percent } => {
                self.net.loss(*src, *dst, *percent)?;
                ("start-loss", json!({}))
            }
        };
        self.record(f, id, "begin", fault, extra);
        Ok(())
    }

    async fn end(&mut self, id: usize, fault: &Fault) -> Result<()> {
        let (f, extra) = match fault {
            Fault::Partition { .. } | Fault::Delay { .. } | Fault::Loss { .. } => {
                self.net.heal()?;
                ("stop-".to_string() + fault.class().as_str(), json!({}))
            }
            Fault::Kill { member } => {
                let join = (*member != 0).then_some(self.join);
                self.cluster.start(*member, join)?;
                ("start".into(), json!({}))
            }
            Fault::Pause { member } => {
                self.cluster.resume(*member)?;
                ("resume".into(), json!({}))
            }
            Fault::PauseAction { member } => {
                let m = self.paused.remove(&id).unwrap_or(*member);
                self.cluster.resume(m)?;
                (
                    "resume".into(),
                    json!({"member": self.cluster.specs[m].name}),
                )
            }
            Fault::KillAll => {
                // The first member restarts on its own data; the others join through it.
                for i in 0..self.cluster.specs.len() {
                    if !self.cluster.is_running(i) {
                        self.cluster.start(i, (i != 0).then_some(self.join))?;
                    }
                }
                ("start-all".into(), json!({}))
            }
            Fault::Clock { member, .. } => {
                self.set_clock(*member, 0)?;
                ("clock-reset".into(), json!({}))
            }
            Fault::Member { member } => {
                let r = self.rejoin(*member).await;
                self.removed.remove(member);
                ("member-add".into(), r)
            }
        };
        self.record(&f, id, "end", fault, extra);
        Ok(())
    }

    /// Runs `steps` (offsets from `start`). A fault that cannot be applied is recorded and
    /// skipped, not fatal.
    pub async fn run(&mut self, steps: &[Step], start: Instant) {
        for (id, step) in steps.iter().enumerate() {
            self.hold(start + Duration::from_millis(step.at_ms)).await;
            if let Err(e) = self.begin(id, step).await {
                self.recorder.nemesis("skipped", json!({"fault": step.fault.class().as_str(), "phase": "instant", "id": id, "error": format!("{e:#}")}));
                continue;
            }
            self.hold(start + Duration::from_millis(step.at_ms + step.hold_ms))
                .await;
            if let Err(e) = self.end(id, &step.fault).await {
                self.recorder.nemesis("heal-failed", json!({"fault": step.fault.class().as_str(), "phase": "instant", "id": id, "error": format!("{e:#}")}));
            }
        }
    }

    /// Undoes everything: network healed, members resumed and restarted, clocks reset, removed
    /// members re-added.
    pub async fn heal_all(&mut self) -> Result<()> {
        self.net.heal()?;
        for i in 0..self.cluster.specs.len() {
            if self.cluster.is_paused(i) {
                self.cluster.resume(i)?;
            }
            if !self.cluster.is_running(i) {
                self.cluster.start(i, (i != 0).then_some(self.join))?;
            }
            self.set_clock(i, 0)?;
        }
        self.removed.clear();
        self.paused.clear();
        // Give joins a moment to land before re-adding what is still missing.
        let membership = self.reconcile_membership(RECONCILE_WITHIN).await;
        self.recorder.nemesis(
            "heal-all",
            json!({"fault": "heal", "phase": "instant", "membership": membership}),
        );
        Ok(())
    }
}
