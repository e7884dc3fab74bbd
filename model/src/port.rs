//! A network port of a node (Ironic's port): one MAC address, unique across the cluster.

use crate::node::Dict;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub id: u64,
    pub uuid: Uuid,
    /// Normalised MAC: lowercase, colon separated.
    pub address: String,
    pub node_uuid: Uuid,
    pub portgroup_uuid: Option<Uuid>,
    pub name: Option<String>,
    pub extra: Dict,
    pub internal_info: Dict,
    pub local_link_connection: Dict,
    pub pxe_enabled: bool,
    pub physical_network: Option<String>,
    pub is_smartnic: bool,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub category: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub revision: u64,
}

impl Port {
    pub fn new(uuid: Uuid, address: String, node_uuid: Uuid, now: Timestamp) -> Port {
        Port {
            id: 0,
            uuid,
            address,
            node_uuid,
            portgroup_uuid: None,
            name: None,
            extra: Dict::new(),
            internal_info: Dict::new(),
            local_link_connection: Dict::new(),
            pxe_enabled: true,
            physical_network: None,
            is_smartnic: false,
            description: None,
            vendor: None,
            category: None,
            created_at: now,
            updated_at: None,
            revision: 0,
        }
    }

    /// The VIF attached to this port, as Ironic records it in `internal_info`.
    pub fn vif(&self) -> Option<&str> {
        self.internal_info.get("tenant_vif_port_id").and_then(|v| v.as_str())
    }
}

/// Normalises a MAC address (`AA-BB-..`, `aabb.ccdd.eeff` and `AA:BB:..` forms) to
/// `aa:bb:cc:dd:ee:ff`; `None` if it is not a 48-bit MAC.
pub fn normalize_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    // Separators, if any, must be consistent with one of the usual layouts.
    let seps: Vec<char> = s.chars().filter(|c| matches!(c, ':' | '-' | '.')).collect();
    let ok_layout = seps.is_empty()
        || (seps.len() == 5 && seps.iter().all(|c| *c == seps[0]) && s.len() == 17)
        || (seps.len() == 2 && seps.iter().all(|c| *c == '.') && s.len() == 14);
    if !ok_layout {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let parts: Vec<&str> = (0..6).map(|i| &lower[i * 2..i * 2 + 2]).collect();
    Some(parts.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(normalize_mac("52:54:00:AB:cd:01").as_deref(), Some("52:54:00:ab:cd:01"));
        assert_eq!(normalize_mac("52-54-00-ab-cd-01").as_deref(), Some("52:54:00:ab:cd:01"));
        assert_eq!(normalize_mac("5254.00ab.cd01").as_deref(), Some("52:54:00:ab:cd:01"));
        assert_eq!(normalize_mac("525400abcd01").as_deref(), Some("52:54:00:ab:cd:01"));
        assert_eq!(normalize_mac("52:54:00:ab:cd"), None);
        assert_eq!(normalize_mac("zz:54:00:ab:cd:01"), None);
        assert_eq!(normalize_mac("52:54-00:ab:cd:01"), None);
    }
}
