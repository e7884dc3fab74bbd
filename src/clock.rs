//! The clock the conductor stamps commands with and measures timeouts by. Injected (the
//! periodic decisions are pure functions of a given time, tested with given times), and with a test-only skew hook (the Jepsen harness bumps one member's clock by
//! writing signed milliseconds into the file named by `FERRIC_TEST_CLOCK_OFFSET_FILE`).

use ferric_model::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time for commands (the state machine keeps it monotonic).
    fn now(&self) -> Timestamp;
    /// Monotonic time for local timeouts.
    fn instant(&self) -> Instant;
}

/// The system clock, plus an optional skew read from a file (test hook).
pub struct SystemClock {
    skew_file: Option<std::path::PathBuf>,
    skew_ms: AtomicI64,
    last_read: Mutex<Option<Instant>>,
}

impl SystemClock {
    pub fn new() -> Arc<SystemClock> {
        Arc::new(SystemClock {
            skew_file: std::env::var_os("FERRIC_TEST_CLOCK_OFFSET_FILE")
                .or_else(|| std::env::var_os("FERRIC_TEST_CLOCK_SKEW_FILE"))
                .map(Into::into),
            skew_ms: AtomicI64::new(0),
            last_read: Mutex::new(None),
        })
    }

    fn skew(&self) -> i64 {
        let Some(path) = &self.skew_file else { return 0 };
        let mut last = self.last_read.lock().expect("clock lock");
        let stale = last.map(|t| t.elapsed() > Duration::from_millis(250)).unwrap_or(true);
        if stale {
            *last = Some(Instant::now());
            let v = std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0);
            self.skew_ms.store(v, Ordering::Relaxed);
        }
        self.skew_ms.load(Ordering::Relaxed)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
        Timestamp(us + self.skew() * 1000)
    }

    fn instant(&self) -> Instant {
        let skew = self.skew();
        let now = Instant::now();
        if skew >= 0 {
            now + Duration::from_millis(skew as u64)
        } else {
            now.checked_sub(Duration::from_millis((-skew) as u64)).unwrap_or(now)
        }
    }
}
