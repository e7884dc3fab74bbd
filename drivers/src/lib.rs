//! ferric-drivers: the driver API (one trait per interface kind), hardware types and the driver
//! registry, driver periodic tasks, and the implementations fake, ipmi, redfish and
//! manual-management.
//!
//! Must not depend on the conductor, storage, Raft or the API: it sees a node through a
//! `TaskContext` and returns results; the conductor (in `src/`) persists them.

pub mod interfaces;
