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
    /// user name → bcrypt hash, and the file's modification time when read.
    users: std::sync::RwLock<(HashMap<String, String>, Option<std::time::SystemTime>)>,
    /// The user file, re-read when it changes (Ironic reads it on every request).
    path: Option<std::path::PathBuf>,
    cache: Mutex<HashMap<(String, Vec<u8>), bool>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.users.read().map(|u| u.0.len()).unwrap_or(0);
        f.debug_struct("BasicAuth").field("users", &n).finish()
    }
}

/// The authenticated user.
#[derive(Debug, Clone)]
pub(crate) struct User(#[allow(dead_code)] pub String);

impl BasicAuth {
    /// Loads and validates the user file (bcrypt entries only, as Ironic requires).
    pub fn load(path: &Path) -> Result<BasicAuth, ConfigError> {
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::BadUserFile {
            path: path.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        let users = Self::parse_users(&text)
            .map_err(|reason| ConfigError::BadUserFile { path: path.display().to_string(), reason })?;
        Ok(BasicAuth {
            users: std::sync::RwLock::new((users, mtime)),
            path: Some(path.to_path_buf()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    #[cfg(test)]
    pub fn parse(text: &str) -> Result<BasicAuth, String> {
        Ok(BasicAuth {
            users: std::sync::RwLock::new((Self::parse_users(text)?, None)),
            path: None,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Re-reads the user file when its modification time changed; a file that became
    /// unreadable or invalid keeps the previous users (and is logged).
    fn refresh(&self) {
        let Some(path) = &self.path else { return };
        let Ok(mtime) = std::fs::metadata(path).and_then(|m| m.modified()) else { return };
        if self.users.read().map(|u| u.1 == Some(mtime)).unwrap_or(true) {
            return;
        }
        match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| Self::parse_users(&t)) {
            Ok(users) => {
                if let Ok(mut u) = self.users.write() {
                    *u = (users, Some(mtime));
                }
                if let Ok(mut c) = self.cache.lock() {
                    c.clear();
                }
                tracing::info!(path = %path.display(), "reloaded the basic auth user file");
            }
            Err(e) => tracing::warn!(path = %path.display(), "basic auth user file not reloaded: {e}"),
        }
    }

    fn parse_users(text: &str) -> Result<HashMap<String, String>, String> {
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
        Ok(users)
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
        self.refresh();
        let Some(hash) = self.users.read().ok().and_then(|u| u.0.get(&user).cloned()) else {
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
