//! Time as the replicated state sees it: microseconds since the Unix epoch, stamped by the
//! proposer of a command (the state machine never reads a clock).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn from_micros(us: i64) -> Timestamp {
        Timestamp(us)
    }

    pub fn as_micros(self) -> i64 {
        self.0
    }

    pub fn plus_secs(self, secs: f64) -> Timestamp {
        Timestamp(self.0.saturating_add((secs * 1_000_000.0) as i64))
    }

    /// Seconds elapsed from `earlier` to `self` (negative if `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1_000_000.0
    }

    /// Ironic's rendering: `2026-11-21T06:26:18.849748+00:00`.
    pub fn to_iso8601(self) -> String {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
            y,
            m,
            d,
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60,
            micros
        )
    }

    /// Parses the forms Ironic emits and accepts (`YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+00:00]`).
    pub fn parse_iso8601(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse::<i64>().ok() };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut rest = &s[19..];
        let mut micros = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() {
                return None;
            }
            let mut padded = digits.clone();
            padded.truncate(6);
            while padded.len() < 6 {
                padded.push('0');
            }
            micros = padded.parse().ok()?;
            rest = &frac[digits.len()..];
        }
        let offset_secs = match rest {
            "" | "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let hm = rest[1..].replace(':', "");
                if hm.len() != 4 {
                    return None;
                }
                let oh: i64 = hm[0..2].parse().ok()?;
                let om: i64 = hm[2..4].parse().ok()?;
                sign * (oh * 3600 + om * 60)
            }
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
        Some(Timestamp(secs * 1_000_000 + micros))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

// Howard Hinnant's civil calendar algorithms (public domain descriptions), written out here.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_ironic() {
        let t = Timestamp::parse_iso8601("2026-11-21T06:26:18.849748+00:00").unwrap();
        assert_eq!(t.to_iso8601(), "2026-11-21T06:26:18.849748+00:00");
        assert_eq!(Timestamp(0).to_iso8601(), "1970-01-01T00:00:00.000000+00:00");
        let z = Timestamp::parse_iso8601("2000-02-29T23:59:59Z").unwrap();
        assert_eq!(z.to_iso8601(), "2000-02-29T23:59:59.000000+00:00");
        let off = Timestamp::parse_iso8601("2000-03-01T01:00:00+02:00").unwrap();
        assert_eq!(off.to_iso8601(), "2000-02-29T23:00:00.000000+00:00");
        assert!(Timestamp::parse_iso8601("yesterday").is_none());
    }

    #[test]
    fn round_trips_many_days() {
        for day in (-1000..60_000).step_by(37) {
            let t = Timestamp(day * 86_400_000_000 + 12_345_678);
            assert_eq!(Timestamp::parse_iso8601(&t.to_iso8601()), Some(t));
        }
    }
}
