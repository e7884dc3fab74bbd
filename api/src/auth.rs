//! HTTP basic authentication against an Apache-style htpasswd file with bcrypt entries, as
//! Ironic's standalone `http_basic` strategy (`ironic/common/auth_basic.py`): 401 with
//! `WWW-Authenticate: Basic realm="Baremetal API"` on missing or wrong credentials, 400 on a
//! malformed header. Passwords and hashes are never logged.

use crate::config::ConfigError;
use crate::error::ApiError;
use axum::http::{header, HeaderMap};
use base64::Engine;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// Verified (user, password) pairs kept to spare bcrypt's cost on every request, as Ironic's
/// `lru_cache(maxsize=256)` on `checkpw` does. Cleared when full.
const CACHE_ENTRIES: usize = 256;

pub(crate) struct BasicAuth {
    /// user name → bcrypt hash.
    users: HashMap<String, String>,
    cache: Mutex<HashMap<(String, Vec<u8>), bool>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth").field("users", &self.users.len()).finish()
    }
}

/// The authenticated user.
#[derive(Debug, Clone)]
pub(crate) struct User(#[allow(dead_code)] pub String);

impl BasicAuth {
    /// Loads and validates the user file (bcrypt entries only, as Ironic requires).
    pub fn load(path: &Path) -> Result<BasicAuth, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::BadUserFile {
            path: path.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::parse(&text).map_err(|reason| ConfigError::BadUserFile { path: path.display().to_string(), reason })
    }

    pub fn parse(text: &str) -> Result<BasicAuth, String> {
        let mut users = HashMap::new();
        for line in text.lines() {
            let entry = line.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = entry.split_once(':') else { continue };
            if !(hash.starts_with("$2y$") || hash.starts_with("$2a$") || hash.starts_with("$2b$")) {
                return Err(format!("Only bcrypt digested passwords are supported for {user}"));
            }
            // The first entry of a user wins, as Ironic scans the file top down.
            users.entry(user.to_string()).or_insert_with(|| hash.to_string());
        }
        Ok(BasicAuth { users, cache: Mutex::new(HashMap::new()) })
    }

    /// Checks the `Authorization` header of a request.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<User, ApiError> {
        let unauthorized = |m: &str| ApiError::Auth { status: 401, message: m.to_string() };
        let bad = |m: String| ApiError::Auth { status: 400, message: m };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("Authorization required"));
        };
        let value = value.to_str().map_err(|_| bad("Could not parse Authorization header".into()))?;
        let mut parts = value.split_whitespace();
        let (Some(kind), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("Could not parse Authorization header".into()));
        };
        if !kind.eq_ignore_ascii_case("basic") {
            return Err(bad(format!("Unsupported authorization type \"{kind}\"")));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .map_err(|_| bad("Could not decode authorization token".into()))?;
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return Err(bad("Could not decode authorization token".into()));
        };
        let user = std::str::from_utf8(&decoded[..colon])
            .map_err(|_| bad("Could not decode authorization token".into()))?
            .to_string();
        let password = decoded[colon + 1..].to_vec();
        let Some(hash) = self.users.get(&user).cloned() else {
            tracing::info!("basic auth: unknown user");
            return Err(unauthorized("Incorrect username or password"));
        };
        let key = (user.clone(), password);
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).copied());
        let ok = match cached {
            Some(ok) => ok,
            None => {
                let pw = key.1.clone();
                let ok = tokio::task::spawn_blocking(move || bcrypt::verify(&pw, &hash).unwrap_or(false))
                    .await
                    .unwrap_or(false);
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() >= CACHE_ENTRIES {
                        c.clear();
                    }
                    c.insert(key, ok);
                }
                ok
            }
        };
        if ok {
            Ok(User(user))
        } else {
            tracing::info!("basic auth: password mismatch");
            Err(unauthorized("Incorrect username or password"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[tokio::test]
    async fn checks_credentials() {
        let hash = bcrypt::hash("secretpass", 4).unwrap();
        let a = BasicAuth::parse(&format!("# users\nadmin:{hash}\n")).unwrap();
        let tok = |u: &str, p: &str| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
        };
        assert!(a.authenticate(&hdr(&tok("admin", "secretpass"))).await.is_ok());
        // cached path
        assert!(a.authenticate(&hdr(&tok("admin", "secretpass"))).await.is_ok());
        let e = a.authenticate(&hdr(&tok("admin", "nope"))).await.unwrap_err();
        assert_eq!((e.http_status(), e.message()), (401, "Incorrect username or password".to_string()));
        let e = a.authenticate(&HeaderMap::new()).await.unwrap_err();
        assert_eq!(e.message(), "Authorization required");
        let e = a.authenticate(&hdr("Bearer x")).await.unwrap_err();
        assert_eq!(e.http_status(), 400);
        let e = a.authenticate(&hdr("Basic !!!")).await.unwrap_err();
        assert_eq!(e.message(), "Could not decode authorization token");
        assert!(BasicAuth::parse("u:plain").is_err());
    }
}
