//! Microversion negotiation, as Ironic does it (`ironic/api/controllers/base.py` and
//! `v1/__init__.py`): `OpenStack-API-Version: baremetal 1.N` first, then the legacy
//! `X-OpenStack-Ironic-API-Version`; no header means 1.1; `latest` means the maximum.

use axum::http::HeaderMap;

/// The only major version.
pub const MAJOR: i64 = 1;
/// Oldest minor version served.
pub const MIN_MINOR: u32 = 1;
/// Newest minor version served (ironic 39.0).
pub const MAX_MINOR: u32 = 115;

pub const HEADER: &str = "x-openstack-ironic-api-version";
pub const HEADER_MIN: &str = "x-openstack-ironic-api-minimum-version";
pub const HEADER_MAX: &str = "x-openstack-ironic-api-maximum-version";
const STANDARD_HEADER: &str = "openstack-api-version";

/// The negotiated version of one request (major is always 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub minor: u32,
}

impl Version {
    pub const MIN: Version = Version { minor: MIN_MINOR };
    pub const MAX: Version = Version { minor: MAX_MINOR };

    /// Whether the feature introduced in `1.<minor>` is visible.
    pub fn at_least(self, minor: u32) -> bool {
        self.minor >= minor
    }

    pub fn header_value(self) -> String {
        format!("{MAJOR}.{}", self.minor)
    }
}

/// Why a version header was refused (each is a 406 with Ironic's wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// Not two integers: the answer carries no version headers at all.
    Malformed,
    /// Parsed, but outside [1.1, 1.115]: the answer carries the min/max headers.
    OutOfRange(String),
}

impl VersionError {
    pub fn message(&self) -> String {
        match self {
            VersionError::Malformed => "Invalid value for X-OpenStack-Ironic-API-Version header".to_string(),
            VersionError::OutOfRange(m) => m.clone(),
        }
    }
}

fn range() -> String {
    format!("[{MAJOR}.{MIN_MINOR}, {MAJOR}.{MAX_MINOR}]")
}

/// The version string the client asked for, if any.
fn requested(headers: &HeaderMap) -> Result<Option<String>, VersionError> {
    for v in headers.get_all(STANDARD_HEADER) {
        let s = v.to_str().map_err(|_| VersionError::Malformed)?;
        for item in s.split(',') {
            let mut parts = item.split_whitespace();
            if let (Some(service), Some(ver)) = (parts.next(), parts.next()) {
                if service.eq_ignore_ascii_case("baremetal") {
                    return Ok(Some(ver.to_string()));
                }
            }
        }
    }
    if let Some(v) = headers.get(HEADER) {
        let s = v.to_str().map_err(|_| VersionError::Malformed)?;
        return Ok(Some(s.trim().to_string()));
    }
    Ok(None)
}

/// Parses `X.Y` as Python's `int()` would each part (sign allowed), nothing else.
fn parse_pair(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('.')?;
    let major = a.trim().parse::<i64>().ok()?;
    let minor = b.trim().parse::<i64>().ok()?;
    Some((major, minor))
}

/// Negotiates the version of a request from its headers.
pub fn negotiate(headers: &HeaderMap) -> Result<Version, VersionError> {
    let raw = requested(headers)?.unwrap_or_else(|| format!("{MAJOR}.{MIN_MINOR}"));
    let raw = if raw.eq_ignore_ascii_case("latest") { Version::MAX.header_value() } else { raw };
    let (major, minor) = parse_pair(&raw).ok_or(VersionError::Malformed)?;
    if major != MAJOR {
        return Err(VersionError::OutOfRange(format!(
            "Mutually exclusive versions requested. Version {major}.{minor} requested but not supported by this service. The supported version range is: {}.",
            range()
        )));
    }
    if minor < MIN_MINOR as i64 || minor > MAX_MINOR as i64 {
        return Err(VersionError::OutOfRange(format!(
            "Version {major}.{minor} was requested but the minor version is not supported by this service. The supported version range is: {}.",
            range()
        )));
    }
    Ok(Version { minor: minor as u32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn negotiates_like_ironic() {
        assert_eq!(negotiate(&h(&[])).unwrap().minor, 1);
        assert_eq!(negotiate(&h(&[(HEADER, "latest")])).unwrap().minor, MAX_MINOR);
        assert_eq!(negotiate(&h(&[(HEADER, "LATEST")])).unwrap().minor, MAX_MINOR);
        assert_eq!(negotiate(&h(&[(HEADER, "1.50")])).unwrap().minor, 50);
        assert_eq!(negotiate(&h(&[(STANDARD_HEADER, "baremetal 1.31")])).unwrap().minor, 31);
        assert_eq!(negotiate(&h(&[(STANDARD_HEADER, "compute 2.1, baremetal 1.9"), (HEADER, "1.2")])).unwrap().minor, 9);
        assert_eq!(negotiate(&h(&[(HEADER, "abc")])), Err(VersionError::Malformed));
        assert_eq!(negotiate(&h(&[(HEADER, "1")])), Err(VersionError::Malformed));
        assert_eq!(negotiate(&h(&[(HEADER, "1.2.3")])), Err(VersionError::Malformed));
        let e = negotiate(&h(&[(HEADER, "1.999")])).unwrap_err();
        assert_eq!(
            e.message(),
            "Version 1.999 was requested but the minor version is not supported by this service. The supported version range is: [1.1, 1.115]."
        );
        assert!(matches!(negotiate(&h(&[(HEADER, "1.0")])), Err(VersionError::OutOfRange(_))));
        let e = negotiate(&h(&[(HEADER, "2.1")])).unwrap_err();
        assert!(e.message().starts_with("Mutually exclusive versions requested. Version 2.1"));
    }
}
