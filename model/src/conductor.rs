//! A conductor's registration: one per cluster member, replicated, with what it can drive.

use crate::node::InterfaceKind;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The implementations a hardware type offers for one interface kind on one conductor: the
/// enabled ones in priority order, and the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InterfaceChoice {
    pub enabled: Vec<String>,
    pub default: Option<String>,
}

/// What one hardware type (Ironic's "driver") offers on one conductor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareTypeInfo {
    pub name: String,
    pub interfaces: BTreeMap<InterfaceKind, InterfaceChoice>,
}

/// A conductor registration (Ironic's `conductors` row plus its hardware interfaces).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConductorRecord {
    /// The member name; Ironic's `hostname`.
    pub hostname: String,
    pub conductor_group: String,
    pub hardware_types: Vec<HardwareTypeInfo>,
    /// Registered and heartbeating. The leader turns it off after `heartbeat_timeout` of silence.
    pub online: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The log index of the last registration or heartbeat: liveness is judged on it (it always
    /// moves), never on `updated_at` (a skewed clock can hold that still).
    #[serde(default)]
    pub heartbeat_seq: u64,
    /// Schema version the member writes and reads (rolling upgrades).
    pub schema: u32,
    /// Peer (gRPC) and API addresses, for routing and for `/cluster/status`.
    pub peer_addr: String,
    pub api_addr: String,
}

impl ConductorRecord {
    pub fn supports(&self, driver: &str) -> bool {
        self.hardware_types.iter().any(|h| h.name == driver)
    }

    pub fn hardware_type(&self, driver: &str) -> Option<&HardwareTypeInfo> {
        self.hardware_types.iter().find(|h| h.name == driver)
    }
}
