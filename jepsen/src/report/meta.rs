//! What identifies a run: seed, commit, flags (`meta.json`, and the head of `summary.txt`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunMeta {
    pub seed: u64,
    pub commit: String,
    /// The command line, as run.
    pub flags: String,
    pub profile: String,
    pub members: usize,
    pub net: String,
    pub bmc_mode: String,
    /// Wall clock at the start, RFC 3339-ish (UTC).
    pub started: String,
    pub duration_s: f64,
}

impl RunMeta {
    /// `git rev-parse --short HEAD` of the source tree this harness was built from, or `unknown`.
    pub fn current_commit() -> String {
        std::process::Command::new("git")
            .args([
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                "rev-parse",
                "--short",
                "HEAD",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    }

    /// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (no calendar crate needed).
    pub fn now_utc() -> String {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        utc(secs)
    }
}

/// Seconds since the epoch to `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, days-from-civil
/// inverse).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formatting() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc(1_795_246_378), "2026-11-21T07:32:58Z");
    }
}
