//! ferric-drivers: the driver API (one trait per interface kind), hardware types and the driver
//! registry, driver periodic tasks, and the implementations fake, ipmi, redfish and
//! manual-management.
//!
//! Must not depend on the conductor, storage, Raft or the API: it sees a node through a
//! `TaskContext` and returns results; the conductor (in `src/`) persists them.
//!
//! - [`interfaces`]: the contract the conductor calls.
//! - [`registry`]: [`DriverRegistry`], built once per member from [`DriversConfig`].
//! - [`hardware`]: the hardware types and what they support.
//! - [`fake`], [`noop`], [`ipmi`], [`redfish`]: the implementations.
//! - [`raid`], [`network`]: RAID configuration checks and VIF bookkeeping.
//! - [`testbed`]: real BMC simulators (ipmi_sim, sushy-tools) started as processes, for tests
//!   and benchmarks of this crate and of others.
//!
//! How the conductor uses it:
//!
//! ```no_run
//! # async fn f(node: ferric_model::Node, lock: ferric_model::LockToken) -> Result<(), ferric_model::Error> {
//! use ferric_drivers::{DriverRegistry, DriversConfig, TaskContext};
//! use ferric_model::PowerAction;
//! // At start: one registry per member; register what it offers in the conductor record.
//! let registry = DriverRegistry::new(&DriversConfig::default())?;
//! let _offer = registry.hardware_types();
//! // Per task: the node's implementations, a context, a call; then persist `task.node`.
//! let ifaces = registry.for_node(&node)?;
//! let mut task = TaskContext::new(node, "member-1");
//! task.lock = Some(lock);
//! ifaces.power.validate(&task)?;
//! ifaces.power.set_power_state(&mut task, PowerAction::On, None).await?;
//! # Ok(()) }
//! ```

pub mod config;
pub mod driver_info;
pub mod fake;
pub mod hardware;
pub mod interfaces;
pub mod ipmi;
pub mod network;
pub mod noop;
pub mod raid;
pub mod redfish;
pub mod registry;
pub mod testbed;

pub use config::{DriversConfig, FakeConfig, IpmiConfig, RedfishConfig};
pub use fake::{FakeCall, FakeRecorder};
pub use interfaces::{NodeInterfaces, PeriodicTask, StepResult, TaskContext};
pub use registry::{DriverRegistry, Implementation, RegistryBuilder};
