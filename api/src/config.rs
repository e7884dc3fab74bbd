//! The API's configuration: one serde struct, defaults that work on a laptop, unknown keys
//! refused. `src` embeds it in the application config and calls [`ApiConfig::validate`].

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// How clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthStrategy {
    /// No authentication (development). Refused on a non-loopback address unless
    /// `allow_insecure_noauth` is set.
    #[default]
    Noauth,
    /// HTTP basic auth against a bcrypt htpasswd file (Ironic's standalone mode).
    HttpBasic,
}

/// Configuration of the REST API. Keys are kebab-case (`max-limit`); the snake_case spelling
/// (`max_limit`, as in Ironic's ironic.conf) is accepted too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct ApiConfig {
    /// Address the API listens on (Ironic's port by default).
    pub listen: SocketAddr,
    #[serde(alias = "auth_strategy")]
    pub auth_strategy: AuthStrategy,
    /// htpasswd file with bcrypt entries (`user:$2b$...`), for `http_basic`.
    #[serde(alias = "http_basic_auth_user_file")]
    pub http_basic_auth_user_file: Option<PathBuf>,
    /// Explicit opt-in to `noauth` on a non-loopback listen address.
    #[serde(alias = "allow_insecure_noauth")]
    pub allow_insecure_noauth: bool,
    /// PEM certificate chain; with `tls_key_file`, the API speaks HTTPS.
    #[serde(alias = "tls_cert_file")]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(alias = "tls_key_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Largest request body accepted (413 above).
    #[serde(alias = "max_body_bytes")]
    pub max_body_bytes: usize,
    /// Largest page a collection returns (Ironic's `[api]max_limit`).
    #[serde(alias = "max_limit")]
    pub max_limit: usize,
    /// Base URL used in links (`http://host:6385`); from the Host header when unset.
    #[serde(alias = "public_endpoint")]
    pub public_endpoint: Option<String>,
    /// `resource_class` given to nodes created without one.
    #[serde(alias = "default_resource_class")]
    pub default_resource_class: Option<String>,
    /// Deepest JSON nesting accepted in a request body (Ironic's `max_json_body_depth`).
    #[serde(alias = "max_json_depth")]
    pub max_json_depth: usize,
    /// Serve `/cluster/status` and `/cluster/members`.
    #[serde(alias = "enable_cluster_endpoints")]
    pub enable_cluster_endpoints: bool,
    /// Most connections served at once; further ones wait in the listen backlog.
    #[serde(alias = "max_connections")]
    pub max_connections: usize,
    /// Take the read barrier before every read (linearizable reads). Turning it off serves reads
    /// from the member's applied state, which may lag the leader.
    #[serde(alias = "linearizable_reads")]
    pub linearizable_reads: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 6385)),
            auth_strategy: AuthStrategy::Noauth,
            http_basic_auth_user_file: None,
            allow_insecure_noauth: false,
            tls_cert_file: None,
            tls_key_file: None,
            max_body_bytes: 1024 * 1024,
            max_limit: 1000,
            public_endpoint: None,
            default_resource_class: None,
            max_json_depth: 25,
            enable_cluster_endpoints: true,
            max_connections: 1024,
            linearizable_reads: true,
        }
    }
}

/// A configuration the API refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("auth_strategy = \"noauth\" on non-loopback address {0}: set allow_insecure_noauth = true to allow unauthenticated access from the network, or use http_basic")]
    InsecureNoauth(SocketAddr),
    #[error("auth_strategy = \"http_basic\" needs http_basic_auth_user_file")]
    MissingUserFile,
    #[error("http basic auth user file {path}: {reason}")]
    BadUserFile { path: String, reason: String },
    #[error("tls_cert_file and tls_key_file must be set together")]
    HalfTls,
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Invalid(String),
}

impl ApiConfig {
    /// Checks the configuration without touching the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.auth_strategy == AuthStrategy::Noauth && !self.listen.ip().is_loopback() && !self.allow_insecure_noauth {
            return Err(ConfigError::InsecureNoauth(self.listen));
        }
        if self.auth_strategy == AuthStrategy::HttpBasic && self.http_basic_auth_user_file.is_none() {
            return Err(ConfigError::MissingUserFile);
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::HalfTls);
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::Invalid("max_body_bytes must be positive".into()));
        }
        if self.max_limit == 0 {
            return Err(ConfigError::Invalid("max_limit must be positive".into()));
        }
        if self.max_json_depth == 0 {
            return Err(ConfigError::Invalid("max_json_depth must be positive".into()));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid("max_connections must be positive".into()));
        }
        if let Some(p) = &self.public_endpoint {
            if !(p.starts_with("http://") || p.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!("public_endpoint {p:?} must start with http:// or https://")));
            }
        }
        Ok(())
    }

    /// Whether the API speaks HTTPS.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert_file.is_some() && self.tls_key_file.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let c = ApiConfig::default();
        c.validate().unwrap();
        assert_eq!(c.listen.port(), 6385);
    }

    #[test]
    fn noauth_on_network_needs_opt_in() {
        let mut c = ApiConfig { listen: "0.0.0.0:6385".parse().unwrap(), ..Default::default() };
        assert!(matches!(c.validate(), Err(ConfigError::InsecureNoauth(_))));
        c.allow_insecure_noauth = true;
        c.validate().unwrap();
        let c = ApiConfig {
            listen: "0.0.0.0:6385".parse().unwrap(),
            auth_strategy: AuthStrategy::HttpBasic,
            http_basic_auth_user_file: Some("/x".into()),
            ..Default::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = serde_json::from_str::<ApiConfig>(r#"{"listen":"127.0.0.1:1","bogus":1}"#);
        assert!(e.is_err());
        let c: ApiConfig = serde_json::from_str(r#"{"auth-strategy":"http_basic","max-limit":5}"#).unwrap();
        assert_eq!(c.auth_strategy, AuthStrategy::HttpBasic);
        assert_eq!(c.max_limit, 5);
    }
}
