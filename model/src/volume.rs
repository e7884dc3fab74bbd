//! Boot-from-volume records: volume connectors and volume targets of a node.

use crate::node::Dict;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeConnector {
    pub id: u64,
    pub uuid: Uuid,
    pub node_uuid: Uuid,
    /// `iqn`, `ip`, `mac`, `wwnn`, `wwpn`, `port` or `portgroup`.
    #[serde(rename = "type")]
    pub connector_type: String,
    pub connector_id: String,
    pub extra: Dict,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTarget {
    pub id: u64,
    pub uuid: Uuid,
    pub node_uuid: Uuid,
    pub volume_type: String,
    pub properties: Dict,
    pub boot_index: u32,
    pub volume_id: String,
    pub extra: Dict,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub revision: u64,
}
