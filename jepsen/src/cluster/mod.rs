//! The cluster runner: `ferric serve` children, their logs and process events.

pub mod config;
mod event;
pub mod member;
mod runner;

pub use config::{test_config_toml, UnsafeSwitches};
pub use event::ClusterEvent;
pub use member::MemberSpec;
pub use runner::{ferric_binary, Cluster};
