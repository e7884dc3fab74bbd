//! The async face of the blocking IPMI sessions: a bounded number of calls in flight (each on a
//! `spawn_blocking` thread), a per-call deadline, and a cache of open sessions keyed by
//! (address, port, user, cipher suite) with idle expiry, a cap, and Close Session on eviction.
//!
//! A cached session is taken out of the cache for the duration of one call (a session is a UDP
//! socket with sequence numbers: one user at a time) and put back by the blocking thread itself
//! when the call ends, so an async caller that gave up never leaks it. The cache mutex is held
//! for short map operations only, never across `.await` or I/O.

use super::session::{Fault, Limits, Session, SessionParams};
use crate::config::IpmiConfig;
use std::collections::hash_map::{DefaultHasher, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Which cached sessions may serve a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub cipher_suite: u8,
}

/// Everything needed to reach one BMC.
#[derive(Debug, Clone)]
pub struct IpmiTarget {
    pub key: SessionKey,
    pub params: SessionParams,
    /// Node uuid, for messages.
    pub node: String,
}

impl IpmiTarget {
    /// Distinguishes credentials and session options under one key (a changed password or
    /// privilege never reuses an old session). In-process only; never logged.
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.params.password.hash(&mut h);
        self.params.privilege.hash(&mut h);
        self.params.rmcp_plus.hash(&mut h);
        h.finish()
    }
}

struct Idle {
    session: Session,
    fingerprint: u64,
    last_used: Instant,
}

#[derive(Default)]
struct Cache {
    idle: HashMap<SessionKey, Vec<Idle>>,
    count: usize,
    last_sweep: Option<Instant>,
}

/// Cached idle sessions kept per BMC (a second one serves a concurrent call).
const MAX_IDLE_PER_BMC: usize = 2;

impl Cache {
    fn take(&mut self, key: &SessionKey, fingerprint: u64, evicted: &mut Vec<Session>) -> Option<Session> {
        let list = self.idle.get_mut(key)?;
        let mut found = None;
        while let Some(i) = list.pop() {
            self.count -= 1;
            if i.fingerprint == fingerprint {
                found = Some(i.session);
                break;
            }
            evicted.push(i.session);
        }
        if list.is_empty() {
            self.idle.remove(key);
        }
        found
    }

    fn expire(&mut self, now: Instant, idle_timeout: Duration, evicted: &mut Vec<Session>) {
        self.last_sweep = Some(now);
        let mut removed = 0;
        self.idle.retain(|_, list| {
            let before = list.len();
            let mut keep = Vec::with_capacity(before);
            for i in list.drain(..) {
                if now.duration_since(i.last_used) >= idle_timeout {
                    evicted.push(i.session);
                } else {
                    keep.push(i);
                }
            }
            removed += before - keep.len();
            *list = keep;
            !list.is_empty()
        });
        self.count -= removed;
    }

    fn put(&mut self, key: SessionKey, idle: Idle, cap: usize, evicted: &mut Vec<Session>) {
        let list = self.idle.entry(key).or_default();
        list.push(idle);
        self.count += 1;
        if list.len() > MAX_IDLE_PER_BMC {
            let old = list.remove(0);
            self.count -= 1;
            evicted.push(old.session);
        }
        while self.count > cap {
            // Least recently used across all BMCs (a linear scan: only when over the cap).
            let victim = self
                .idle
                .iter()
                .flat_map(|(k, l)| l.iter().enumerate().map(move |(i, s)| (s.last_used, k.clone(), i)))
                .min_by_key(|(t, _, _)| *t);
            let Some((_, k, i)) = victim else { break };
            if let Some(list) = self.idle.get_mut(&k) {
                let s = list.remove(i);
                evicted.push(s.session);
                self.count -= 1;
                if list.is_empty() {
                    self.idle.remove(&k);
                }
            }
        }
    }

    fn drain(&mut self) -> Vec<Session> {
        self.count = 0;
        self.idle.drain().flat_map(|(_, l)| l.into_iter().map(|i| i.session)).collect()
    }
}

/// Counters, for tests and the benchmark.
#[derive(Debug, Default)]
pub struct IpmiStats {
    pub calls: AtomicU64,
    pub sessions_opened: AtomicU64,
    pub sessions_reused: AtomicU64,
    pub sessions_closed: AtomicU64,
    pub stale_retries: AtomicU64,
    pub retransmissions: AtomicU64,
    pub failures: AtomicU64,
}

/// A snapshot of [`IpmiStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpmiStatsSnapshot {
    pub calls: u64,
    pub sessions_opened: u64,
    pub sessions_reused: u64,
    pub sessions_closed: u64,
    pub stale_retries: u64,
    pub retransmissions: u64,
    pub failures: u64,
    pub cached_sessions: u64,
}

/// What an operation sees: its bounds.
#[derive(Debug, Clone, Copy)]
pub struct OpCtx {
    pub limits: Limits,
}

/// The shared IPMI client of one member.
pub struct IpmiClient {
    cfg: IpmiConfig,
    cache: Arc<Mutex<Cache>>,
    slots: Arc<Semaphore>,
    stats: Arc<IpmiStats>,
}

fn lock(c: &Mutex<Cache>) -> std::sync::MutexGuard<'_, Cache> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

fn close_all_blocking(sessions: Vec<Session>, stats: &IpmiStats) {
    for s in sessions {
        stats.retransmissions.fetch_add(s.retransmissions() as u64, Ordering::Relaxed);
        s.close();
        stats.sessions_closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// ipmi-rs panics on some malformed answers; those panics are caught (`catch_unwind`) and become
/// `Fault::Protocol`. This hook keeps them out of stderr: a panic raised inside ipmi-rs's own
/// source files is logged as a warning instead; every other panic goes to the previous hook.
fn quiet_ipmi_rs_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let from_ipmi_rs = info.location().is_some_and(|l| l.file().contains("ipmi-rs"));
            if from_ipmi_rs {
                tracing::warn!(location = %info.location().map(|l| l.to_string()).unwrap_or_default(),
                    "ipmi-rs rejected a malformed BMC answer by panicking (contained)");
            } else {
                previous(info);
            }
        }));
    });
}

impl IpmiClient {
    pub fn new(cfg: IpmiConfig) -> IpmiClient {
        quiet_ipmi_rs_panics();
        let slots = Arc::new(Semaphore::new(cfg.max_concurrent_calls.max(1)));
        IpmiClient { cfg, cache: Arc::new(Mutex::new(Cache::default())), slots, stats: Arc::new(IpmiStats::default()) }
    }

    pub fn config(&self) -> &IpmiConfig {
        &self.cfg
    }

    pub fn stats(&self) -> IpmiStatsSnapshot {
        let s = &self.stats;
        IpmiStatsSnapshot {
            calls: s.calls.load(Ordering::Relaxed),
            sessions_opened: s.sessions_opened.load(Ordering::Relaxed),
            sessions_reused: s.sessions_reused.load(Ordering::Relaxed),
            sessions_closed: s.sessions_closed.load(Ordering::Relaxed),
            stale_retries: s.stale_retries.load(Ordering::Relaxed),
            retransmissions: s.retransmissions.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
            cached_sessions: lock(&self.cache).count as u64,
        }
    }

    fn packet_timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.packet_timeout_ms.max(1))
    }

    /// Runs `op` against the BMC on a blocking thread, with a cached or fresh session, within
    /// `command_timeout_s`. `op` may run twice: once on a cached session and, if that session
    /// turned out stale, once on a fresh one.
    pub async fn call<T, F>(&self, target: &IpmiTarget, op: F) -> Result<T, Fault>
    where
        T: Send + 'static,
        F: Fn(&mut Session, OpCtx) -> Result<T, Fault> + Send + Sync + 'static,
    {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let budget = Duration::from_secs(self.cfg.command_timeout_s.max(1));
        let deadline = start + budget;

        let permit = match tokio::time::timeout(budget, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(Fault::Busy("IPMI client is shut down".into())),
            Err(_) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                return Err(Fault::Timeout(format!(
                    "no free IPMI slot within {}s ({} calls in flight)",
                    budget.as_secs(),
                    self.cfg.max_concurrent_calls
                )));
            }
        };

        // Take a cached session (and collect expired ones) under the lock; no I/O here.
        let fingerprint = target.fingerprint();
        let idle_timeout = Duration::from_secs(self.cfg.session_idle_timeout_s);
        let mut evicted = Vec::new();
        let cached = {
            let mut c = lock(&self.cache);
            let now = Instant::now();
            if c.last_sweep.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
                c.expire(now, idle_timeout, &mut evicted);
            }
            c.take(&target.key, fingerprint, &mut evicted)
        };

        let cache = self.cache.clone();
        let stats = self.stats.clone();
        let params = target.params.clone();
        let key = target.key.clone();
        let packet_timeout = self.packet_timeout();
        let retries = self.cfg.retries;
        let cap = self.cfg.max_cached_sessions;
        let job = move || -> Result<T, Fault> {
            let _permit = permit;
            close_all_blocking(evicted, &stats);
            let limits = |r: u32| Limits { packet_timeout, retries: r, deadline };
            let open = |stats: &IpmiStats| -> Result<Session, Fault> {
                let s = Session::open(&params, limits(retries))?;
                stats.sessions_opened.fetch_add(1, Ordering::Relaxed);
                Ok(s)
            };
            let (mut session, reused) = match cached {
                Some(s) => {
                    stats.sessions_reused.fetch_add(1, Ordering::Relaxed);
                    (s, true)
                }
                None => (open(&stats)?, false),
            };
            // A cached session gets no retransmissions: silence means it is probably stale, and
            // a fresh session (with retransmissions) is the faster way out.
            let mut result = op(&mut session, OpCtx { limits: limits(if reused { 0 } else { retries }) });
            if reused && matches!(&result, Err(f) if f.session_suspect()) && Instant::now() < deadline {
                stats.stale_retries.fetch_add(1, Ordering::Relaxed);
                session.mark_broken();
                close_all_blocking(vec![session], &stats);
                session = open(&stats)?;
                result = op(&mut session, OpCtx { limits: limits(retries) });
            }
            let healthy = session.reusable() && !matches!(&result, Err(f) if f.session_suspect());
            if healthy {
                // (A cached session has no retransmissions to count: those are never cached.)
                let mut evicted = Vec::new();
                lock(&cache).put(key, Idle { session, fingerprint, last_used: Instant::now() }, cap, &mut evicted);
                close_all_blocking(evicted, &stats);
            } else {
                close_all_blocking(vec![session], &stats);
            }
            result
        };

        // The blocking job bounds itself (deadline + at most one packet timeout per phase);
        // this outer timeout only protects the caller from a bug there.
        let grace = budget + packet_timeout * 4 + Duration::from_secs(1);
        let r = match tokio::time::timeout(grace, tokio::task::spawn_blocking(job)).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err(Fault::Protocol(format!("IPMI worker failed: {join}"))),
            Err(_) => Err(Fault::Timeout(format!("IPMI call exceeded {}s", grace.as_secs()))),
        };
        if r.is_err() {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Closes sessions idle longer than `session_idle_timeout_s` (the periodic task's body).
    pub async fn expire_idle(&self) {
        let mut evicted = Vec::new();
        lock(&self.cache).expire(Instant::now(), Duration::from_secs(self.cfg.session_idle_timeout_s), &mut evicted);
        self.close_in_background(evicted).await;
    }

    /// Closes every cached session (graceful stop).
    pub async fn close_all(&self) {
        let all = lock(&self.cache).drain();
        self.close_in_background(all).await;
    }

    async fn close_in_background(&self, sessions: Vec<Session>) {
        if sessions.is_empty() {
            return;
        }
        let stats = self.stats.clone();
        // Fire-and-forget sends: fast even for dead BMCs; bounded anyway.
        let h = tokio::task::spawn_blocking(move || close_all_blocking(sessions, &stats));
        let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
    }
}
