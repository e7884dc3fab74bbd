//! The cluster runner: `ferric serve` children, their logs and process events.

mod event;

pub use event::ClusterEvent;
