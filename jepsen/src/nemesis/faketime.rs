//! Wall-clock skew of one member with libfaketime (Debian packages `faketime` / `libfaketime`,
//! 0.9.10 on bookworm): the member runs with `LD_PRELOAD` of `libfaketime.so.1`,
//! `FAKETIME_TIMESTAMP_FILE` pointing at a file the harness rewrites (`+30s`, `-10s`, `+0`), and
//! `FAKETIME_NO_CACHE=1` so each clock read sees the file. `DONT_FAKE_MONOTONIC=1` always: faking
//! the monotonic clock hangs tokio (futex deadlines computed from the fake clock).
//!
//! Skew of the clock the member's heartbeats and timeouts use is a separate, test-only hook in
//! `ferric` (see the crate's docs); libfaketime only moves `SystemTime`.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Where Debian installs the library.
pub const DEBIAN_LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// One member's fake clock.
#[derive(Debug, Clone)]
pub struct FakeClock {
    pub library: PathBuf,
    pub timestamp_file: PathBuf,
}

impl FakeClock {
    /// Finds the library (`$FERRIC_JEPSEN_LIBFAKETIME`, else Debian's path) and creates the
    /// timestamp file with no offset.
    pub fn new(timestamp_file: &Path) -> Result<FakeClock> {
        let library = std::env::var_os("FERRIC_JEPSEN_LIBFAKETIME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEBIAN_LIBFAKETIME));
        if !library.exists() {
            anyhow::bail!(
                "{} not found: apt-get install libfaketime (or set FERRIC_JEPSEN_LIBFAKETIME)",
                library.display()
            );
        }
        let c = FakeClock {
            library,
            timestamp_file: timestamp_file.to_path_buf(),
        };
        c.set_offset_ms(0)?;
        Ok(c)
    }

    /// Whether libfaketime is installed here.
    pub fn available() -> bool {
        std::env::var_os("FERRIC_JEPSEN_LIBFAKETIME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEBIAN_LIBFAKETIME))
            .exists()
    }

    /// Environment for the member's process.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".into(), self.library.display().to_string()),
            (
                "FAKETIME_TIMESTAMP_FILE".into(),
                self.timestamp_file.display().to_string(),
            ),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
            ("DONT_FAKE_MONOTONIC".into(), "1".into()),
        ]
    }

    /// Moves the member's wall clock to real time + `offset_ms` (negative goes back).
    pub fn set_offset_ms(&self, offset_ms: i64) -> Result<()> {
        let text = offset_spec(offset_ms);
        let tmp = self.timestamp_file.with_extension("tmp");
        std::fs::write(&tmp, format!("{text}\n"))
            .with_context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.timestamp_file)
            .with_context(|| format!("rename to {}", self.timestamp_file.display()))
    }
}

/// libfaketime's relative offset syntax, to the millisecond: `+1.500s`, `-10.000s`.
pub fn offset_spec(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let a = offset_ms.unsigned_abs();
    format!("{sign}{}.{:03}s", a / 1000, a % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_written_in_faketime_syntax() {
        assert_eq!(offset_spec(0), "+0.000s");
        assert_eq!(offset_spec(1_500), "+1.500s");
        assert_eq!(offset_spec(-10_000), "-10.000s");
    }

    /// Runs `date +%s` under the fake clock: the wall clock moves, and can move back.
    #[test]
    fn skews_a_child_wall_clock_when_installed() {
        if !FakeClock::available() {
            eprintln!("libfaketime not installed: skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::new(&dir.path().join("faketime")).unwrap();
        let date = |c: &FakeClock| -> i64 {
            let out = std::process::Command::new("date")
                .arg("+%s")
                .envs(c.env())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let real = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
        };
        clock.set_offset_ms(3_600_000).unwrap();
        let skewed = date(&clock) - real();
        assert!((3590..=3610).contains(&skewed), "{skewed}");
        clock.set_offset_ms(-600_000).unwrap();
        let back = date(&clock) - real();
        assert!((-610..=-590).contains(&back), "{back}");
    }
}
