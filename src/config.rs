//! The member's configuration: one TOML file (unknown keys refused), overridden by flags, with
//! defaults that run on a laptop. Each crate owns its section's struct; this assembles and
//! validates them.

use crate::conductor::ConductorConfig;
use crate::events::EventsConfig;
use anyhow::{bail, Context, Result};
use ferric_api::ApiConfig;
use ferric_drivers::DriversConfig;
use ferric_raft::RaftConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Member name (also its conductor hostname). Defaults to the machine's hostname.
    pub name: String,
    pub data_dir: PathBuf,
    /// Peer (gRPC) listen address; also what other members dial unless `advertise_peer` is set.
    pub peer: String,
    /// The peer address other members should dial (e.g. through a proxy); defaults to `peer`.
    pub advertise_peer: Option<String>,
    /// The API address advertised to other members; defaults to `api.listen`.
    pub advertise_api: Option<String>,
    /// Join the cluster whose member listens (peer gRPC) at this address.
    pub join: Option<String>,
    /// Start without bootstrapping and wait to be added with `POST /cluster/members`.
    pub wait_for_join: bool,
    pub log: LogConfig,
    pub api: ApiConfig,
    pub raft: RaftConfig,
    pub conductor: ConductorConfig,
    pub drivers: DriversConfig,
    pub events: EventsConfig,
    /// Test switches (negative controls of the Jepsen harness). Accepted only by builds with the
    /// `unsafe-test-switches` feature.
    pub unsafe_test: UnsafeTestConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: String,
    /// An `EnvFilter` directive, e.g. `info` or `ferric=debug,openraft=warn`.
    pub level: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnsafeTestConfig {
    /// The Raft log is not fsynced.
    pub no_fsync: bool,
    /// Reads skip the read index.
    pub stale_reads: bool,
    /// Writes under a lock skip the fencing-generation check before acting on a BMC.
    pub skip_lock_check: bool,
    /// A finished deploy goes to `available` instead of `active` (a transition Ironic does not have).
    pub wrong_transition: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: default_name(),
            data_dir: PathBuf::from("./ferric-data"),
            peer: "127.0.0.1:6386".into(),
            advertise_peer: None,
            advertise_api: None,
            join: None,
            wait_for_join: false,
            log: LogConfig { format: "human".into(), level: "info".into() },
            api: ApiConfig::default(),
            raft: RaftConfig::default(),
            conductor: ConductorConfig::default(),
            drivers: DriversConfig::default(),
            events: EventsConfig::default(),
            unsafe_test: UnsafeTestConfig::default(),
        }
    }
}

fn default_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ferric-1".into())
}

impl Config {
    /// Reads a TOML file; unknown keys are an error naming them.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }

    /// What other members dial to reach this one.
    pub fn advertised_peer(&self) -> String {
        self.advertise_peer.clone().unwrap_or_else(|| self.peer.clone())
    }

    pub fn advertised_api(&self) -> String {
        self.advertise_api.clone().unwrap_or_else(|| self.api.listen.to_string())
    }

    /// Checks the whole configuration; every problem is reported with the key it concerns.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty()
            || self.name.len() > 63
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            bail!("name: {:?} is not a valid member name (1-63 characters of [A-Za-z0-9._-])", self.name);
        }
        self.peer.parse::<SocketAddr>().with_context(|| format!("peer: {:?} is not host:port", self.peer))?;
        if let Some(j) = &self.join {
            if !j.contains(':') {
                bail!("join: {j:?} is not host:port");
            }
        }
        if self.join.is_some() && self.wait_for_join {
            bail!("join and wait_for_join are exclusive");
        }
        self.raft.validate().map_err(anyhow::Error::msg)?;
        self.api.validate().map_err(|e| anyhow::anyhow!("api: {e}"))?;
        self.conductor.validate()?;
        self.events.validate()?;
        if !matches!(self.log.format.as_str(), "human" | "json") {
            bail!("log.format: {:?} must be \"human\" or \"json\"", self.log.format);
        }
        if self.unsafe_test != UnsafeTestConfig::default() && !cfg!(feature = "unsafe-test-switches") {
            bail!("unsafe_test: this build does not have the unsafe-test-switches feature; these switches are for the Jepsen harness only");
        }
        Ok(())
    }
}
