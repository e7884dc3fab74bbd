//! The cluster runner: `ferric serve` children, their logs and process events.

mod event;
pub mod member;
mod runner;

pub use event::ClusterEvent;
pub use member::MemberSpec;
pub use runner::{ferric_binary, Cluster};
