//! ferric-model: the pure domain of Ferric — Ironic's records, provision and power states with
//! `transition()`, the replicated `Command` and its pure `apply`, the hash ring, the conductor
//! RPC surface, domain errors, and the `Backend` port the API calls.
//!
//! Must not depend on tokio, RocksDB, openraft, HTTP or anything that does I/O; every other
//! crate depends on this one.

pub mod backend;
pub mod chassis;
pub mod command;
pub mod conductor;
pub mod error;
pub mod event;
pub mod ids;
pub mod interfaces;
pub mod node;
pub mod port;
pub mod portgroup;
pub mod ring;
pub mod rpc;
pub mod state;
pub mod states;
pub mod steps;
pub mod time;
pub mod volume;

pub use backend::{Backend, BoxFuture};
pub use chassis::Chassis;
pub use command::{Applied, Command, ConfigDrive, LockToken, Response};
pub use conductor::{ConductorRecord, HardwareTypeInfo, InterfaceChoice};
pub use error::Error;
pub use event::PendingEvent;
pub use node::{Dict, InterfaceKind, Node, Reservation};
pub use port::Port;
pub use portgroup::Portgroup;
pub use rpc::{ConductorReply, ConductorRequest};
pub use state::{apply, Change, Member, Meta, State};
pub use states::{transition, PowerAction, PowerState, ProvisionEvent, ProvisionState, ProvisionVerb};
pub use time::Timestamp;
pub use volume::{VolumeConnector, VolumeTarget};

/// The record and RPC schema version this build writes.
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest schema version this build still reads and serves (rolling upgrades: N-1).
pub const MIN_SCHEMA_VERSION: u32 = 1;

/// Serde default for records written before the field existed.
pub fn schema_version() -> u32 {
    SCHEMA_VERSION
}
