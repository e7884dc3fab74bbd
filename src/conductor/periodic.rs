//! Periodic tasks: registration and heartbeat, offline detection (leader only), take-over of
//! orphaned nodes, wait-state timeouts, power-state sync with failure accounting, and driver
//! periodic tasks. Each is bounded, cancellable, and acts only on nodes this member owns.
//!
//! The decisions are pure functions of (state, ownership, time) so they are tested with a driven
//! clock; the loops around them only gather inputs and carry out the decisions.

use super::task::Patience;
use super::{secs, Conductor};
use ferric_drivers::interfaces::PeriodicHost;
use ferric_drivers::TaskContext;
use ferric_model::{transition, Command, ConductorRecord, Error, InterfaceKind, Node, PowerState, ProvisionEvent, ProvisionState, State, Timestamp};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A wait state that timed out, and the event that ends it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expired {
    pub node: Uuid,
    pub state: ProvisionState,
    pub waited_secs: f64,
}

/// Nodes (owned, unreserved, not in maintenance) waiting longer than their callback timeout.
pub(crate) fn expired_waits(nodes: &[Arc<Node>], cfg: &super::ConductorConfig, now: Timestamp, limit: usize) -> Vec<Expired> {
    let mut out: Vec<Expired> = nodes
        .iter()
        .filter(|n| n.reservation.is_none() && !n.maintenance)
        .filter_map(|n| {
            let timeout = match n.provision_state {
                ProvisionState::DeployWait => cfg.deploy_callback_timeout,
                ProvisionState::CleanWait => cfg.clean_callback_timeout,
                ProvisionState::InspectWait => cfg.inspect_wait_timeout,
                ProvisionState::RescueWait => cfg.rescue_callback_timeout,
                ProvisionState::ServiceWait => cfg.service_callback_timeout,
                _ => return None,
            };
            let since = n.provision_updated_at?;
            let waited = now.secs_since(since);
            (timeout > 0.0 && waited > timeout).then(|| Expired { node: n.uuid, state: n.provision_state, waited_secs: waited })
        })
        .collect();
    // Oldest first, as Ironic orders by provision_updated_at.
    out.sort_by(|a, b| b.waited_secs.partial_cmp(&a.waited_secs).unwrap_or(std::cmp::Ordering::Equal));
    out.truncate(limit);
    out
}

/// Online conductors not heard from within `timeout` of local time, by the leader's own
/// observation of their heartbeats (`seen`: when this leader last saw each heartbeat sequence
/// change). The sequence is a log index, so a member whose clock is off still shows progress.
pub(crate) fn offline_candidates(
    conductors: &[ConductorRecord],
    seen: &HashMap<String, (u64, Instant)>,
    now: Instant,
    timeout: Duration,
) -> Vec<(String, u64)> {
    conductors
        .iter()
        .filter(|c| c.online)
        .filter_map(|c| {
            let (seq, at) = seen.get(&c.hostname)?;
            (*seq == c.heartbeat_seq && now.saturating_duration_since(*at) > timeout).then(|| (c.hostname.clone(), c.heartbeat_seq))
        })
        .collect()
}

/// What take-over does with one owned node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Takeover {
    /// Its lock is held by an offline conductor: free it (Ironic's `_check_orphan_nodes`).
    ReleaseOrphan { holder: String },
    /// Left in a state no one can resume: fail it.
    Fail,
    /// An active node whose boot state lives on another conductor: re-run `take_over`.
    Adopt,
}

/// The take-over decision for each owned node.
pub(crate) fn takeover_actions(state: &State, owned: &[Arc<Node>], me: &str) -> Vec<(Uuid, Takeover)> {
    let mut out = Vec::new();
    for n in owned {
        match &n.reservation {
            Some(r) if !state.conductor_online(&r.holder) => out.push((n.uuid, Takeover::ReleaseOrphan { holder: r.holder.clone() })),
            Some(_) => {}
            None => {
                if n.provision_state.is_stuck_treated_as_fail() && !n.maintenance {
                    out.push((n.uuid, Takeover::Fail));
                } else if n.provision_state == ProvisionState::Active
                    && !n.maintenance
                    && n.conductor_affinity.as_deref().map(|a| a != me).unwrap_or(false)
                {
                    out.push((n.uuid, Takeover::Adopt));
                }
            }
        }
    }
    out
}

impl Conductor {
    /// Registers this member's conductor (and frees reservations a previous run of it left).
    pub async fn register(self: &Arc<Self>) -> Result<(), Error> {
        let now = self.clock.now();
        let proposed = self.clock.instant();
        let record = ConductorRecord {
            hostname: self.me.clone(),
            conductor_group: self.cfg.conductor_group.clone(),
            hardware_types: self.drivers.hardware_types(),
            online: true,
            created_at: now,
            updated_at: now,
            heartbeat_seq: 0,
            schema: ferric_model::SCHEMA_VERSION,
            peer_addr: self.cluster.me().peer_addr.clone(),
            api_addr: self.cluster.me().api_addr.clone(),
        };
        self.cluster.propose(Command::RegisterConductor { record, now }).await?.into_result()?;
        self.note_heartbeat_ok(proposed);
        // The reservations are read from this member's applied state, which can lag the commit
        // of the registration (it went through the leader): a lock granted to the previous run
        // just before it died (in its log, applied by the others, not yet here) would be missed
        // and left for the orphan sweep (30 s). Catch up first; a failed barrier fails the
        // registration, which the caller retries.
        self.cluster.read_barrier().await?;
        self.release_own_reservations("conductor restart").await;
        Ok(())
    }

    /// Starts every periodic loop; they stop when the conductor is cancelled.
    pub fn start_periodic(self: &Arc<Self>) {
        let me = self.clone();
        self.spawn_loop("heartbeat", secs(self.cfg.heartbeat_interval), move || {
            let me = me.clone();
            async move { me.heartbeat_once().await }
        });
        let me = self.clone();
        let seen: Arc<std::sync::Mutex<HashMap<String, (u64, Instant)>>> = Default::default();
        self.spawn_loop("offline detection", secs(self.cfg.heartbeat_interval / 2.0), move || {
            let me = me.clone();
            let seen = seen.clone();
            async move { me.detect_offline(&seen).await }
        });
        let me = self.clone();
        let last_ring = Arc::new(std::sync::atomic::AtomicU64::new(0));
        // Take-over reacts to a ring change within a heartbeat interval.
        let check = secs(self.cfg.check_provision_state_interval.min(self.cfg.heartbeat_interval));
        let grace = secs((self.cfg.heartbeat_interval * 3.0).max(30.0));
        self.spawn_loop("take-over", check, move || {
            let me = me.clone();
            let last_ring = last_ring.clone();
            async move {
                me.takeover_round(&last_ring).await?;
                me.sweep_orphaned_reservations(grace).await;
                Ok(())
            }
        });
        let me = self.clone();
        self.spawn_loop("wait timeouts", secs(self.cfg.check_provision_state_interval), move || {
            let me = me.clone();
            async move { me.timeouts_round().await }
        });
        if self.cfg.sync_power_state_interval > 0.0 {
            let me = self.clone();
            self.spawn_loop("power sync", secs(self.cfg.sync_power_state_interval), move || {
                let me = me.clone();
                async move { me.power_sync_round().await.map(|_| ()) }
            });
            let me = self.clone();
            self.spawn_loop("power failure recovery", secs(self.cfg.power_failure_recovery_interval), move || {
                let me = me.clone();
                async move { me.power_failure_recovery().await }
            });
        }
        for p in self.drivers.periodic_tasks() {
            let me = self.clone();
            let name = p.name.clone();
            if p.parallel {
                self.spawn_loop_named(name, p.spacing, move || {
                    let me = me.clone();
                    let task = p.task.clone();
                    async move { task.run(&HostView(me)).await }
                });
            } else {
                // Runs inside the loop itself: nothing else of this loop starts meanwhile.
                self.spawn_loop_named(name, p.spacing, move || {
                    let me = me.clone();
                    let task = p.task.clone();
                    async move { task.run(&HostView(me)).await }
                });
            }
        }
    }

    fn spawn_loop<F, Fut>(self: &Arc<Self>, name: &'static str, every: Duration, f: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), Error>> + Send,
    {
        self.spawn_loop_named(name.to_string(), every, f)
    }

    fn spawn_loop_named<F, Fut>(self: &Arc<Self>, name: String, every: Duration, f: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), Error>> + Send,
    {
        let cancel = self.cancel.clone();
        let every = every.max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let r = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = f() => r,
                };
                if let Err(e) = r {
                    tracing::debug!(task = %name, error = %e, "periodic task round failed");
                }
            }
        });
    }

    async fn heartbeat_once(&self) -> Result<(), Error> {
        let now = self.clock.now();
        let proposed = self.clock.instant();
        let r = self.cluster.propose(Command::ConductorHeartbeat { hostname: self.me.clone(), now }).await?;
        match r.into_result() {
            Ok(_) => {
                self.note_heartbeat_ok(proposed);
                Ok(())
            }
            // Our registration vanished (we were removed and came back?): register again.
            Err(Error::ConductorNotFound { .. }) => {
                let me = self.cluster.me().clone();
                tracing::warn!(member = %me.name, "registration missing; registering again");
                Err(Error::unavailable("registration missing"))
            }
            Err(e) => Err(e),
        }
    }

    async fn detect_offline(&self, seen: &std::sync::Mutex<HashMap<String, (u64, Instant)>>) -> Result<(), Error> {
        let leader = self.cluster.node().map(|n| n.is_leader()).unwrap_or(false);
        if !leader {
            // A new leader starts its own observations afresh.
            seen.lock().expect("seen lock").clear();
            return Ok(());
        }
        let now_i = self.clock.instant();
        let conductors: Vec<ConductorRecord> = self.read(|s| s.conductors.values().cloned().collect());
        let candidates = {
            let mut seen = seen.lock().expect("seen lock");
            for c in &conductors {
                let e = seen.entry(c.hostname.clone()).or_insert((c.heartbeat_seq, now_i));
                if e.0 != c.heartbeat_seq {
                    *e = (c.heartbeat_seq, now_i);
                }
            }
            seen.retain(|h, _| conductors.iter().any(|c| &c.hostname == h));
            offline_candidates(&conductors, &seen, now_i, secs(self.cfg.heartbeat_timeout))
        };
        for (hostname, seq) in candidates {
            if hostname == self.me {
                continue;
            }
            tracing::warn!(conductor = %hostname, "no heartbeat within heartbeat_timeout; marking offline");
            let now = self.clock.now();
            let _ = self.cluster.propose(Command::ConductorOffline { hostname, seq, now }).await;
        }
        Ok(())
    }

    /// Take-over: for owned nodes, free locks of offline holders, fail what cannot resume, and
    /// re-prepare active nodes whose boot state lived elsewhere.
    async fn takeover_round(self: &Arc<Self>, last_ring: &std::sync::atomic::AtomicU64) -> Result<(), Error> {
        if !self.registration_fresh() {
            return Ok(());
        }
        let ring = self.ring();
        let changed = last_ring.swap(ring.version, Ordering::Relaxed) != ring.version;
        let owned = self.owned_nodes();
        let mut actions = self.read(|s| takeover_actions(s, &owned, &self.me));
        // Re-preparing an active node is slow (BMC calls): at most every sync_local_state_interval.
        let now_i = self.clock.instant();
        {
            let mut after = self.adopt_after.lock().expect("adopt lock");
            after.retain(|_, t| *t > now_i);
            actions.retain(|(u, a)| *a != Takeover::Adopt || !after.contains_key(u));
            for (u, a) in &actions {
                if *a == Takeover::Adopt {
                    after.insert(*u, now_i + secs(self.cfg.sync_local_state_interval));
                }
            }
        }
        if actions.is_empty() {
            return Ok(());
        }
        if changed {
            tracing::info!(ring_version = ring.version, nodes = actions.len(), "ring changed: taking over nodes");
        }
        let limit = self.cfg.periodic_max_workers.max(1);
        futures::stream::iter(actions)
            .for_each_concurrent(limit, |(uuid, action)| {
                let me = self.clone();
                async move {
                    if let Err(e) = me.take_over_node(uuid, action).await {
                        tracing::debug!(node = %uuid, error = %e, "take-over step failed");
                    }
                }
            })
            .await;
        Ok(())
    }

    async fn take_over_node(self: &Arc<Self>, uuid: Uuid, action: Takeover) -> Result<(), Error> {
        match action {
            Takeover::ReleaseOrphan { holder } => {
                self.metrics.takeovers.fetch_add(1, Ordering::Relaxed);
                tracing::info!(node = %uuid, from = %holder, "freeing the lock of an offline conductor");
                self.cluster
                    .propose(Command::ReleaseOrphan { uuid, holder, now: self.clock.now() })
                    .await?
                    .into_result()?;
                Ok(())
            }
            Takeover::Fail => {
                let now = self.clock.now();
                let task = self
                    .lock_node(uuid, "take-over", Patience::Once, |n| {
                        if n.reservation.is_some() || !n.provision_state.is_stuck_treated_as_fail() {
                            return Err(Error::conflict("node changed; nothing to take over"));
                        }
                        let next = transition(n.provision_state, ProvisionEvent::Fail)
                            .ok_or_else(|| Error::conflict("no fail transition"))?;
                        let mut n = n.clone();
                        let prev = n.provision_state;
                        let target = n.target_provision_state;
                        n.enter_state(next, now);
                        if next.is_failure() {
                            n.target_provision_state = target.or(prev.fsm_target());
                        }
                        n.last_error = Some(format!("{prev} was aborted by the take-over of a conductor that went offline"));
                        if prev == ProvisionState::Cleaning {
                            n.maintenance = true;
                            n.fault = Some("clean failure".into());
                        }
                        Ok(Some(n))
                    })
                    .await?;
                self.metrics.takeovers.fetch_add(1, Ordering::Relaxed);
                task.release().await
            }
            Takeover::Adopt => {
                let mut task = self
                    .lock_node(uuid, "take-over", Patience::Once, |n| {
                        if n.provision_state != ProvisionState::Active {
                            return Err(Error::conflict("node changed"));
                        }
                        Ok(None)
                    })
                    .await?;
                let ifaces = self.drivers.for_node(&task.node)?;
                task.ensure_current().await?;
                let mut ctx = task.context();
                let r = async {
                    self.bounded(ifaces.deploy.prepare(&mut ctx)).await?;
                    self.bounded(ifaces.deploy.take_over(&mut ctx)).await
                }
                .await;
                match r {
                    Ok(()) => ctx.node.conductor_affinity = Some(self.me.clone()),
                    Err(e) => ctx.node.last_error = Some(format!("Take-over failed: {e}")),
                }
                self.metrics.takeovers.fetch_add(1, Ordering::Relaxed);
                task.absorb(ctx).await?;
                task.finish().await.map(|_| ())
            }
        }
    }

    /// Fails wait states past their callback timeout.
    async fn timeouts_round(self: &Arc<Self>) -> Result<(), Error> {
        let owned = self.owned_nodes();
        let expired = expired_waits(&owned, &self.cfg, self.clock.now(), self.cfg.periodic_max_workers);
        for e in expired {
            let now = self.clock.now();
            let state = e.state;
            let r = self
                .lock_node(e.node, "wait timeout", Patience::Once, |n| {
                    if n.provision_state != state {
                        return Err(Error::conflict("node moved on"));
                    }
                    let next = transition(n.provision_state, ProvisionEvent::Fail).ok_or_else(|| Error::conflict("no fail"))?;
                    let mut n = n.clone();
                    let target = n.target_provision_state;
                    n.enter_state(next, now);
                    n.target_provision_state = target.or(state.fsm_target());
                    n.last_error = Some(format!("Timeout reached while waiting for callback in state {state}"));
                    if state == ProvisionState::CleanWait {
                        n.maintenance = true;
                        n.fault = Some("clean failure".into());
                    }
                    Ok(Some(n))
                })
                .await;
            if let Ok(mut task) = r {
                // Ironic's clean-up on a callback timeout: a failed deploy is powered off and torn
                // down; a failed cleaning tears the cleaning environment down.
                if let Ok(ifaces) = self.drivers.for_node(&task.node) {
                    let mut ctx = task.context();
                    let cleanup = async {
                        task.ensure_current().await?;
                        match state {
                            ProvisionState::DeployWait => {
                                if !ctx.node.disable_power_off {
                                    self.bounded(ifaces.power.set_power_state(&mut ctx, ferric_model::PowerAction::Off, None)).await?;
                                    ctx.node.power_state = Some(PowerState::Off);
                                }
                                self.bounded(ifaces.deploy.tear_down(&mut ctx)).await
                            }
                            ProvisionState::CleanWait => self.bounded(ifaces.deploy.tear_down_cleaning(&mut ctx)).await,
                            ProvisionState::RescueWait => self.bounded(ifaces.rescue.clean_up(&mut ctx)).await,
                            _ => Ok(()),
                        }
                    }
                    .await;
                    if let Err(e) = cleanup {
                        tracing::warn!(node = %e_node(&task), error = %e, "clean-up after a callback timeout failed");
                    }
                    let _ = task.absorb(ctx).await;
                }
                let _ = task.finish().await;
            }
        }
        Ok(())
    }

    /// One round of power-state sync over owned nodes, with bounded parallelism; returns how
    /// many nodes were checked.
    pub async fn power_sync_round(self: &Arc<Self>) -> Result<usize, Error> {
        self.metrics.power_sync_rounds.fetch_add(1, Ordering::Relaxed);
        let owned = self.owned_nodes();
        let mut todo: Vec<Arc<Node>> = owned
            .into_iter()
            .filter(|n| !n.maintenance && n.reservation.is_none())
            .filter(|n| {
                !matches!(
                    n.provision_state,
                    ProvisionState::DeployWait | ProvisionState::CleanWait | ProvisionState::Enroll | ProvisionState::AdoptFail
                )
            })
            .collect();
        // Nodes that failed before go first.
        {
            let failures = self.power_sync_failures.lock().expect("sync lock");
            todo.sort_by_key(|n| std::cmp::Reverse(failures.get(&n.uuid).copied().unwrap_or(0)));
        }
        let count = todo.len();
        futures::stream::iter(todo)
            .for_each_concurrent(self.cfg.sync_power_state_workers, |n| {
                let me = self.clone();
                async move { me.sync_one(n).await }
            })
            .await;
        Ok(count)
    }

    async fn sync_one(self: &Arc<Self>, n: Arc<Node>) {
        let Ok(ifaces) = self.drivers.for_node(&n) else { return };
        let ctx = TaskContext::new((*n).clone(), self.me.clone());
        if !ifaces.power.supports_power_sync(&ctx) || ifaces.power.validate(&ctx).is_err() {
            return;
        }
        match self.bounded(ifaces.power.get_power_state_if_known(&ctx)).await {
            // The driver cannot tell (a never-powered fake node): nothing to sync.
            Ok(None) => {
                self.power_sync_failures.lock().expect("sync lock").remove(&n.uuid);
            }
            Ok(Some(actual)) => {
                self.power_sync_failures.lock().expect("sync lock").remove(&n.uuid);
                let recorded = n.power_state;
                if recorded == Some(actual) {
                    return;
                }
                if recorded.is_none() || !self.cfg.force_power_state_during_sync || actual == PowerState::Error {
                    // Record what the hardware says (one optimistic write; skipped if the node changed).
                    let mut m = (*n).clone();
                    m.power_state = Some(actual);
                    if recorded.is_some() {
                        self.metrics.power_sync_drift.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(node = %n.uuid, recorded = ?recorded, actual = %actual, "power state drift recorded");
                    }
                    let _ = self
                        .cluster
                        .propose(Command::UpdateNode { node: Box::new(m), expected_revision: n.revision, lock: None, now: self.clock.now() })
                        .await;
                } else if let Some(want) = recorded {
                    // force_power_state_during_sync: push the recorded state onto the hardware.
                    self.metrics.power_sync_drift.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(node = %n.uuid, recorded = %want, actual = %actual, "power state drift: enforcing the recorded state");
                    let action = if want == PowerState::On { ferric_model::PowerAction::On } else { ferric_model::PowerAction::Off };
                    if let Ok(mut task) = self.lock_node(n.uuid, "power state sync", Patience::Once, |_| Ok(None)).await {
                        let r = async {
                            task.ensure_current().await?;
                            let mut c = task.context();
                            self.bounded(ifaces.power.set_power_state(&mut c, action, None)).await?;
                            Ok::<_, Error>(c)
                        }
                        .await;
                        match r {
                            Ok(c) => {
                                let _ = task.absorb(c).await;
                                let _ = task.finish().await;
                            }
                            Err(e) => {
                                task.node.last_error = Some(format!("Failed to enforce power state {want}: {e}"));
                                let _ = task.finish().await;
                                // A failed enforcement counts toward power_state_sync_max_retries.
                                *self.power_sync_failures.lock().expect("sync lock").entry(n.uuid).or_insert(0) += 1;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                let count = {
                    let mut f = self.power_sync_failures.lock().expect("sync lock");
                    let c = f.entry(n.uuid).or_insert(0);
                    *c += 1;
                    *c
                };
                tracing::warn!(node = %n.uuid, attempt = count, error = %e, "power state sync failed");
                if count >= self.cfg.power_state_sync_max_retries {
                    let mut m = (*n).clone();
                    m.maintenance = true;
                    m.fault = Some("power failure".into());
                    m.maintenance_reason = Some(format!(
                        "During sync_power_state, max retries exceeded for node {}, node state None does not match expected state '{}'. Updating DB state to 'None' Switching node to maintenance mode. Error: {e}",
                        n.uuid,
                        n.power_state.map(|p| p.to_string()).unwrap_or_else(|| "None".into())
                    ));
                    m.power_state = None;
                    m.last_error = Some(format!("Power state sync failed {count} times: {e}"));
                    let r = self
                        .cluster
                        .propose(Command::UpdateNode { node: Box::new(m), expected_revision: n.revision, lock: None, now: self.clock.now() })
                        .await;
                    if matches!(r.map(|r| r.into_result()), Ok(Ok(_))) {
                        self.power_sync_failures.lock().expect("sync lock").remove(&n.uuid);
                    }
                }
            }
        }
    }

    /// Clears `power failure` maintenance once the BMC answers again.
    async fn power_failure_recovery(self: &Arc<Self>) -> Result<(), Error> {
        let nodes: Vec<Arc<Node>> =
            self.owned_nodes().into_iter().filter(|n| n.maintenance && n.fault.as_deref() == Some("power failure")).collect();
        for n in nodes.into_iter().take(self.cfg.periodic_max_workers * 4) {
            let Ok(ifaces) = self.drivers.for_node(&n) else { continue };
            let ctx = TaskContext::new((*n).clone(), self.me.clone());
            if let Ok(actual) = self.bounded(ifaces.power.get_power_state(&ctx)).await {
                let mut m = (*n).clone();
                m.maintenance = false;
                m.fault = None;
                m.maintenance_reason = None;
                m.power_state = Some(actual);
                tracing::info!(node = %n.uuid, "BMC answers again; leaving power failure maintenance");
                let _ = self
                    .cluster
                    .propose(Command::UpdateNode { node: Box::new(m), expected_revision: n.revision, lock: None, now: self.clock.now() })
                    .await;
            }
        }
        Ok(())
    }
}

fn e_node(t: &super::Task) -> Uuid {
    t.uuid()
}

/// What driver periodic tasks see of this conductor.
struct HostView(Arc<Conductor>);

impl PeriodicHost for HostView {
    fn owned_nodes(&self, kind: InterfaceKind, implementation: &str) -> Vec<Node> {
        self.0.owned_nodes().into_iter().filter(|n| n.interface(kind) == implementation).map(|n| (*n).clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conductor::ConductorConfig;

    fn node_in(state: ProvisionState, since_s: i64) -> Arc<Node> {
        let mut n = Node::new(Uuid::new_v4(), "fake-hardware", Timestamp(0));
        n.provision_state = state;
        n.provision_updated_at = Some(Timestamp(since_s * 1_000_000));
        Arc::new(n)
    }

    #[test]
    fn waits_expire_after_their_own_timeout_only() {
        let cfg = ConductorConfig { deploy_callback_timeout: 100.0, clean_callback_timeout: 50.0, ..Default::default() };
        let nodes = vec![
            node_in(ProvisionState::DeployWait, 0),
            node_in(ProvisionState::CleanWait, 0),
            node_in(ProvisionState::Active, 0),
            node_in(ProvisionState::DeployWait, 60),
        ];
        // At t=70 s only the clean wait (50 s) expired.
        let e = expired_waits(&nodes, &cfg, Timestamp(70 * 1_000_000), 10);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].state, ProvisionState::CleanWait);
        // At t=150 s the first deploy wait too; the one that started at 60 s has waited 90 s.
        let e = expired_waits(&nodes, &cfg, Timestamp(150 * 1_000_000), 10);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].state, ProvisionState::DeployWait, "oldest first");
        // Limited per round.
        assert_eq!(expired_waits(&nodes, &cfg, Timestamp(1000 * 1_000_000), 1).len(), 1);
    }

    #[test]
    fn offline_needs_silence_observed_locally() {
        let rec = |h: &str, seq: u64| ConductorRecord {
            hostname: h.into(),
            conductor_group: String::new(),
            hardware_types: vec![],
            online: true,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            heartbeat_seq: seq,
            schema: 1,
            peer_addr: String::new(),
            api_addr: String::new(),
        };
        let t0 = Instant::now();
        let mut seen = HashMap::new();
        seen.insert("a".to_string(), (5u64, t0));
        seen.insert("b".to_string(), (5u64, t0));
        let conductors = vec![rec("a", 5), rec("b", 9)];
        // b heartbeated (its sequence moved) since we last looked: not a candidate.
        let c = offline_candidates(&conductors, &seen, t0 + Duration::from_secs(61), Duration::from_secs(60));
        assert_eq!(c, vec![("a".to_string(), 5)]);
        let c = offline_candidates(&conductors, &seen, t0 + Duration::from_secs(59), Duration::from_secs(60));
        assert!(c.is_empty());
    }

    #[test]
    fn takeover_frees_orphans_and_fails_unresumable_states() {
        let mut st = State::default();
        st.conductors.insert("dead".into(), ConductorRecord {
            hostname: "dead".into(),
            conductor_group: String::new(),
            hardware_types: vec![],
            online: false,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            heartbeat_seq: 0,
            schema: 1,
            peer_addr: String::new(),
            api_addr: String::new(),
        });
        let mut locked = (*node_in(ProvisionState::Deploying, 0)).clone();
        locked.reservation = Some(ferric_model::Reservation {
            holder: "dead".into(),
            generation: 7,
            purpose: "deploy".into(),
            acquired_at: Timestamp(0),
        });
        let stuck = node_in(ProvisionState::Cleaning, 0);
        let waiting = node_in(ProvisionState::DeployWait, 0);
        let mut moved = (*node_in(ProvisionState::Active, 0)).clone();
        moved.conductor_affinity = Some("dead".into());
        let owned = vec![Arc::new(locked.clone()), stuck.clone(), waiting, Arc::new(moved.clone())];
        let acts = takeover_actions(&st, &owned, "me");
        assert_eq!(
            acts,
            vec![
                (locked.uuid, Takeover::ReleaseOrphan { holder: "dead".into() }),
                (stuck.uuid, Takeover::Fail),
                (moved.uuid, Takeover::Adopt),
            ]
        );
    }
}
