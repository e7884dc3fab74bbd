//! A portgroup (bond) of a node's ports.

use crate::node::Dict;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Portgroup {
    pub id: u64,
    pub uuid: Uuid,
    pub name: Option<String>,
    /// Normalised MAC, optional for portgroups.
    pub address: Option<String>,
    pub node_uuid: Uuid,
    pub extra: Dict,
    pub internal_info: Dict,
    pub standalone_ports_supported: bool,
    pub mode: Option<String>,
    pub properties: Dict,
    pub physical_network: Option<String>,
    pub category: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub revision: u64,
}

impl Portgroup {
    pub fn new(uuid: Uuid, node_uuid: Uuid, now: Timestamp) -> Portgroup {
        Portgroup {
            id: 0,
            uuid,
            name: None,
            address: None,
            node_uuid,
            extra: Dict::new(),
            internal_info: Dict::new(),
            standalone_ports_supported: true,
            mode: None,
            properties: Dict::new(),
            physical_network: None,
            category: None,
            created_at: now,
            updated_at: None,
            revision: 0,
        }
    }

    pub fn vif(&self) -> Option<&str> {
        self.internal_info.get("tenant_vif_port_id").and_then(|v| v.as_str())
    }
}
