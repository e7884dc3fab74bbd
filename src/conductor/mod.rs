//! The conductor of one member (Ironic's ConductorManager + TaskManager + hash ring): it serves
//! the conductor RPC surface for the nodes it owns on the committed ring, takes fenced node locks
//! through Raft, runs the provision state machine and the periodic tasks, and takes over the nodes
//! of members that went offline.

mod flows;
mod manager;
mod periodic;
mod router;
mod steps;
mod task;

pub use router::{ConductorEndpoint, Envelope};
pub use task::Task;

use crate::clock::Clock;
use anyhow::bail;
use ferric_drivers::DriverRegistry;
use ferric_model::ring::HashRing;
use ferric_model::{Error, Node, State};
use ferric_raft::Cluster;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// `[conductor]` settings, named as Ironic names them (durations in seconds, fractions allowed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConductorConfig {
    pub conductor_group: String,
    pub heartbeat_interval: f64,
    pub heartbeat_timeout: f64,
    pub hash_partition_exponent: u32,
    pub workers_pool_size: usize,
    pub node_locked_retry_attempts: u32,
    pub node_locked_retry_interval: f64,
    /// 0 disables power sync.
    pub sync_power_state_interval: f64,
    pub sync_power_state_workers: usize,
    pub power_state_sync_max_retries: u32,
    pub force_power_state_during_sync: bool,
    pub power_state_change_timeout: f64,
    pub soft_power_off_timeout: f64,
    pub power_failure_recovery_interval: f64,
    pub check_provision_state_interval: f64,
    /// How often active nodes whose boot state lives on another conductor are taken over
    /// (`deploy.prepare` + `take_over`); a failed attempt waits this long too.
    pub sync_local_state_interval: f64,
    pub deploy_callback_timeout: f64,
    pub clean_callback_timeout: f64,
    pub inspect_wait_timeout: f64,
    pub rescue_callback_timeout: f64,
    pub service_callback_timeout: f64,
    pub automated_clean: bool,
    pub allow_provisioning_in_maintenance: bool,
    pub periodic_max_workers: usize,
    /// Outer deadline of one driver call (the drivers bound their own calls too).
    pub driver_call_timeout: f64,
    pub graceful_shutdown_timeout: f64,
    /// A lock holder stops acting on BMCs when its last successful heartbeat is older than
    /// `heartbeat_timeout` minus this margin.
    pub heartbeat_safety_margin: f64,
}

impl Default for ConductorConfig {
    fn default() -> Self {
        ConductorConfig {
            conductor_group: String::new(),
            heartbeat_interval: 10.0,
            heartbeat_timeout: 60.0,
            hash_partition_exponent: 5,
            workers_pool_size: 300,
            node_locked_retry_attempts: 3,
            node_locked_retry_interval: 1.0,
            sync_power_state_interval: 120.0,
            sync_power_state_workers: 8,
            power_state_sync_max_retries: 3,
            force_power_state_during_sync: true,
            power_state_change_timeout: 60.0,
            soft_power_off_timeout: 600.0,
            power_failure_recovery_interval: 300.0,
            check_provision_state_interval: 60.0,
            sync_local_state_interval: 180.0,
            deploy_callback_timeout: 1800.0,
            clean_callback_timeout: 1800.0,
            inspect_wait_timeout: 1800.0,
            rescue_callback_timeout: 1800.0,
            service_callback_timeout: 1800.0,
            automated_clean: true,
            allow_provisioning_in_maintenance: true,
            periodic_max_workers: 8,
            driver_call_timeout: 300.0,
            graceful_shutdown_timeout: 60.0,
            heartbeat_safety_margin: 0.0,
        }
    }
}

pub(crate) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl ConductorConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.heartbeat_interval <= 0.0 {
            bail!("conductor.heartbeat_interval must be positive");
        }
        if self.heartbeat_timeout <= self.heartbeat_interval {
            bail!("conductor.heartbeat_timeout must be greater than conductor.heartbeat_interval");
        }
        if self.workers_pool_size == 0 || self.sync_power_state_workers == 0 || self.periodic_max_workers == 0 {
            bail!("conductor: worker counts must be positive");
        }
        if self.hash_partition_exponent > 10 {
            bail!("conductor.hash_partition_exponent must be at most 10");
        }
        if self.heartbeat_safety_margin < 0.0 || self.heartbeat_safety_margin >= self.heartbeat_timeout {
            bail!("conductor.heartbeat_safety_margin must be in [0, heartbeat_timeout)");
        }
        Ok(())
    }

    /// The margin actually used: the configured one, else two heartbeat intervals.
    pub(crate) fn safety_margin(&self) -> Duration {
        if self.heartbeat_safety_margin > 0.0 {
            secs(self.heartbeat_safety_margin)
        } else {
            secs((self.heartbeat_interval * 2.0).min(self.heartbeat_timeout / 2.0))
        }
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub calls: AtomicU64,
    pub calls_forwarded: AtomicU64,
    pub not_owner_retries: AtomicU64,
    pub locks_acquired: AtomicU64,
    pub lock_conflicts: AtomicU64,
    pub stale_generation_refusals: AtomicU64,
    pub bmc_actions: AtomicU64,
    pub workers_busy_refusals: AtomicU64,
    pub power_sync_rounds: AtomicU64,
    pub power_sync_drift: AtomicU64,
    pub takeovers: AtomicU64,
    pub events_delivered: AtomicU64,
    pub events_failed_attempts: AtomicU64,
}

pub struct Conductor {
    pub(crate) me: String,
    pub(crate) cfg: ConductorConfig,
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) drivers: Arc<DriverRegistry>,
    pub(crate) clock: Arc<dyn Clock>,
    workers: Arc<Semaphore>,
    pub(crate) tracker: TaskTracker,
    pub(crate) cancel: CancellationToken,
    ring: Mutex<Arc<HashRing>>,
    /// This member's heartbeat lease: when its last committed heartbeat was proposed (local
    /// monotonic time) and how many times the lease has lapsed.
    lease: Mutex<Lease>,
    pub(crate) power_sync_failures: Mutex<HashMap<Uuid, u32>>,
    /// When each active node may next be re-prepared by take-over (after an attempt).
    pub(crate) adopt_after: Mutex<HashMap<Uuid, Instant>>,
    pub metrics: Metrics,
    /// Test-only negative control: skip the lock check before BMC actions.
    pub(crate) skip_lock_check: bool,
    /// Test-only negative control: finish deploys in a state Ironic's machine does not allow.
    pub(crate) wrong_transition: std::sync::atomic::AtomicBool,
    /// The locks this member's tasks hold right now (node, generation). A reservation of this
    /// member that is not here lost its task (e.g. an ambiguous grant that did commit) and is
    /// swept after a grace period.
    pub(crate) live_tasks: Mutex<std::collections::HashSet<(Uuid, u64)>>,
    /// Set when shutdown starts: no new background work, no new locks.
    pub(crate) draining: std::sync::atomic::AtomicBool,
}

/// See [`Conductor::note_heartbeat_ok`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lease {
    last: Option<Instant>,
    epoch: u64,
}

impl Lease {
    /// A heartbeat proposed at `proposed` committed. One proposed after the lease had lapsed
    /// (or the first) opens a new epoch. One proposed *before* the last — the clock went back
    /// (only the test skew hook moves the monotonic clock back) or commits completed out of
    /// order — also opens a new epoch from its own, earlier time: never a longer lease.
    fn renew(&mut self, proposed: Instant, limit: Duration) {
        match self.last {
            Some(last) if proposed == last => return,
            Some(last) if proposed > last && proposed.duration_since(last) < limit => {}
            _ => self.epoch += 1,
        }
        self.last = Some(proposed);
    }

    /// Time left at `now`, zero once lapsed — and zero when `now` is before the last heartbeat
    /// (a clock that went back cannot vouch for the time since).
    fn left(&self, now: Instant, limit: Duration) -> Duration {
        match self.last {
            Some(t) if now >= t => limit.saturating_sub(now.duration_since(t)),
            _ => Duration::ZERO,
        }
    }
}

impl Conductor {
    pub fn new(
        cfg: ConductorConfig,
        cluster: Arc<Cluster>,
        drivers: Arc<DriverRegistry>,
        clock: Arc<dyn Clock>,
        skip_lock_check: bool,
    ) -> Arc<Conductor> {
        Arc::new(Conductor {
            me: cluster.name().to_string(),
            workers: Arc::new(Semaphore::new(cfg.workers_pool_size)),
            cfg,
            cluster,
            drivers,
            clock,
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            ring: Mutex::new(Arc::new(HashRing::default())),
            lease: Mutex::new(Lease::default()),
            power_sync_failures: Mutex::new(HashMap::new()),
            adopt_after: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
            skip_lock_check,
            wrong_transition: std::sync::atomic::AtomicBool::new(false),
            live_tasks: Mutex::new(std::collections::HashSet::new()),
            draining: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Negative control for the Jepsen harness (accepted only by `unsafe-test-switches` builds).
    pub fn set_wrong_transition(&self, on: bool) {
        self.wrong_transition.store(on, Ordering::Relaxed);
    }

    pub fn name(&self) -> &str {
        &self.me
    }

    /// A worker for background work, or `NoFreeConductorWorker` when the pool is full.
    pub(crate) fn try_worker(&self) -> Result<OwnedSemaphorePermit, Error> {
        if self.draining.load(Ordering::Relaxed) {
            return Err(Error::unavailable(format!("conductor {} is shutting down", self.me)));
        }
        self.workers.clone().try_acquire_owned().map_err(|_| {
            self.metrics.workers_busy_refusals.fetch_add(1, Ordering::Relaxed);
            Error::NoFreeConductorWorker
        })
    }

    /// Runs `fut` in the background on a worker (already acquired), tracked for shutdown.
    pub(crate) fn spawn_worker<F>(&self, permit: OwnedSemaphorePermit, what: &'static str, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            let _permit = permit;
            tokio::select! {
                _ = fut => {}
                _ = cancel.cancelled() => tracing::warn!(task = what, "background task cancelled by shutdown"),
            }
        });
    }

    /// Free workers (for status and tests).
    pub fn free_workers(&self) -> usize {
        self.workers.available_permits()
    }

    /// The hash ring at the local applied index (cached by ring version).
    pub fn ring(&self) -> Arc<HashRing> {
        let version = self.cluster.read_state(|s| s.meta.ring_version);
        {
            let r = self.ring.lock().expect("ring lock");
            if r.version == version && !(version > 0 && r.is_empty()) {
                return r.clone();
            }
        }
        let built = Arc::new(self.cluster.read_state(|s| HashRing::build(s, self.cfg.hash_partition_exponent)));
        *self.ring.lock().expect("ring lock") = built.clone();
        built
    }

    /// Which member owns a node on the committed ring.
    pub(crate) fn owner_in(&self, ring: &HashRing, node: &Node) -> Option<String> {
        ring.owner(&node.driver, &node.conductor_group, node.uuid).map(str::to_string)
    }

    /// The nodes this member owns at its applied index.
    pub(crate) fn owned_nodes(&self) -> Vec<Arc<Node>> {
        let ring = self.ring();
        self.cluster.read_state(|s| {
            s.nodes.values().filter(|n| ring.owner(&n.driver, &n.conductor_group, n.uuid) == Some(self.me.as_str())).cloned().collect()
        })
    }

    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.cluster.read_state(f)
    }

    /// Records a committed heartbeat (or registration) that was proposed at `proposed`. The
    /// lease runs from the proposal, not the commit: the leader saw the heartbeat no earlier
    /// than that, and a pause between the commit and this call must not stretch the lease. A
    /// heartbeat proposed after the lease had already lapsed starts a new lease epoch — the
    /// leader may have declared this member offline in between, so nothing begun under the old
    /// epoch may go on.
    pub(crate) fn note_heartbeat_ok(&self, proposed: Instant) {
        let limit = self.lease_limit();
        self.lease.lock().expect("lease lock").renew(proposed, limit);
    }

    fn lease_limit(&self) -> Duration {
        secs(self.cfg.heartbeat_timeout).saturating_sub(self.cfg.safety_margin())
    }

    /// How long this member may still act on a BMC: until its last committed heartbeat is
    /// `heartbeat_timeout - margin` old (counted from when it was proposed). The leader declares
    /// it offline (and another member may take its locks) only after `heartbeat_timeout` without
    /// a heartbeat, so an action bounded by this cannot overlap the new holder's.
    pub(crate) fn lease_remaining(&self) -> Duration {
        self.lease_now().1
    }

    /// The current lease epoch and the time left in it (zero once lapsed).
    pub(crate) fn lease_now(&self) -> (u64, Duration) {
        let lease = *self.lease.lock().expect("lease lock");
        (lease.epoch, lease.left(self.clock.instant(), self.lease_limit()))
    }

    /// Whether the lease of `epoch` still holds: not lapsed, and not lapsed-then-renewed.
    pub(crate) fn lease_holds(&self, epoch: u64) -> bool {
        let (now_epoch, left) = self.lease_now();
        now_epoch == epoch && !left.is_zero()
    }

    /// Whether this member's registration is safely within its timeout (else it must stop
    /// acting on BMCs: the leader may already have declared it offline).
    pub(crate) fn registration_fresh(&self) -> bool {
        self.read(|s| s.conductor_online(&self.me)) && !self.lease_remaining().is_zero()
    }

    /// Stops background work: no new tasks, running ones finish within the grace period (then
    /// are cancelled), locks are released, and the member marks itself offline.
    pub async fn shutdown(self: &Arc<Self>) {
        self.draining.store(true, Ordering::Relaxed);
        self.tracker.close();
        let grace = secs(self.cfg.graceful_shutdown_timeout);
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            tracing::warn!("background tasks still running after {:?}; cancelling", grace);
            self.cancel.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
        }
        self.cancel.cancel();
        self.release_own_reservations("conductor shutdown").await;
        // Close cached BMC sessions (IPMI Close Session), bounded.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.drivers.shutdown()).await;
        let now = self.clock.now();
        let _ = self
            .cluster
            .propose(ferric_model::Command::UnregisterConductor { hostname: self.me.clone(), now })
            .await;
    }
}

#[cfg(test)]
mod lease_tests {
    use super::Lease;
    use std::time::{Duration, Instant};

    #[test]
    fn a_lease_lapsed_then_renewed_is_a_new_epoch() {
        let limit = Duration::from_secs(4);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut l = Lease::default();
        assert_eq!(l.left(t0, limit), Duration::ZERO, "no heartbeat yet: no lease");
        l.renew(at(0), limit);
        let first = l.epoch;
        assert_eq!(l.left(at(1), limit), Duration::from_secs(3));
        // Renewed in time: same epoch, lease counted from the new proposal.
        l.renew(at(3), limit);
        assert_eq!(l.epoch, first);
        assert_eq!(l.left(at(6), limit), Duration::from_secs(1));
        // The same heartbeat noted twice changes nothing.
        l.renew(at(3), limit);
        assert_eq!(l.epoch, first);
        // A clock that went back: no time left until a heartbeat proposed on the new clock
        // commits, and that one opens a new epoch from its earlier time (never a longer lease).
        assert_eq!(l.left(at(2), limit), Duration::ZERO);
        let mut back = l;
        back.renew(at(2), limit);
        assert_ne!(back.epoch, first);
        assert_eq!(back.left(at(5), limit), Duration::from_secs(1));
        // Paused for 10 s: lapsed at 7 s; the heartbeat proposed on resume opens a new epoch,
        // so an action begun under the old one cannot go on.
        assert_eq!(l.left(at(13), limit), Duration::ZERO);
        l.renew(at(13), limit);
        assert_ne!(l.epoch, first);
        assert_eq!(l.left(at(13), limit), limit);
    }
}
