//! The node record: Ironic's node, field for field, plus what Ferric adds for fencing
//! (`reservation` carries a generation) and optimistic concurrency (`revision`).

use crate::states::{PowerState, ProvisionState};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A free-form JSON object (`driver_info`, `properties`, `extra`, ...).
pub type Dict = Map<String, Value>;

/// The interface kinds of a hardware type, in Ironic's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceKind {
    Bios,
    Boot,
    Console,
    Deploy,
    Firmware,
    Inspect,
    Management,
    Network,
    Power,
    Raid,
    Rescue,
    Storage,
    Vendor,
}

impl InterfaceKind {
    pub const ALL: [InterfaceKind; 13] = [
        InterfaceKind::Bios,
        InterfaceKind::Boot,
        InterfaceKind::Console,
        InterfaceKind::Deploy,
        InterfaceKind::Firmware,
        InterfaceKind::Inspect,
        InterfaceKind::Management,
        InterfaceKind::Network,
        InterfaceKind::Power,
        InterfaceKind::Raid,
        InterfaceKind::Rescue,
        InterfaceKind::Storage,
        InterfaceKind::Vendor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceKind::Bios => "bios",
            InterfaceKind::Boot => "boot",
            InterfaceKind::Console => "console",
            InterfaceKind::Deploy => "deploy",
            InterfaceKind::Firmware => "firmware",
            InterfaceKind::Inspect => "inspect",
            InterfaceKind::Management => "management",
            InterfaceKind::Network => "network",
            InterfaceKind::Power => "power",
            InterfaceKind::Raid => "raid",
            InterfaceKind::Rescue => "rescue",
            InterfaceKind::Storage => "storage",
            InterfaceKind::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<InterfaceKind> {
        InterfaceKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// The node field naming this kind's implementation, e.g. `power_interface`.
    pub fn field(self) -> &'static str {
        match self {
            InterfaceKind::Bios => "bios_interface",
            InterfaceKind::Boot => "boot_interface",
            InterfaceKind::Console => "console_interface",
            InterfaceKind::Deploy => "deploy_interface",
            InterfaceKind::Firmware => "firmware_interface",
            InterfaceKind::Inspect => "inspect_interface",
            InterfaceKind::Management => "management_interface",
            InterfaceKind::Network => "network_interface",
            InterfaceKind::Power => "power_interface",
            InterfaceKind::Raid => "raid_interface",
            InterfaceKind::Rescue => "rescue_interface",
            InterfaceKind::Storage => "storage_interface",
            InterfaceKind::Vendor => "vendor_interface",
        }
    }

    /// The microversion that made this kind's node field visible.
    pub fn min_version(self) -> u32 {
        match self {
            InterfaceKind::Network => 20,
            InterfaceKind::Bios => 40,
            InterfaceKind::Storage => 33,
            InterfaceKind::Rescue => 38,
            InterfaceKind::Firmware => 86,
            _ => 31,
        }
    }
}

/// An exclusive node lock: who holds it, the fencing generation (the Raft log index of the
/// grant: it only grows), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub holder: String,
    pub generation: u64,
    pub purpose: String,
    pub acquired_at: Timestamp,
}

/// A bare-metal node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Internal creation sequence (Ironic's `id`): the log index of the create. Default sort key.
    pub id: u64,
    pub uuid: Uuid,
    pub name: Option<String>,
    pub driver: String,
    pub driver_info: Dict,
    pub driver_internal_info: Dict,
    pub properties: Dict,
    pub instance_info: Dict,
    pub instance_uuid: Option<String>,
    pub instance_name: Option<String>,
    pub chassis_uuid: Option<Uuid>,
    pub power_state: Option<PowerState>,
    pub target_power_state: Option<PowerState>,
    pub provision_state: ProvisionState,
    pub target_provision_state: Option<ProvisionState>,
    pub provision_updated_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub maintenance: bool,
    pub maintenance_reason: Option<String>,
    pub fault: Option<String>,
    pub reservation: Option<Reservation>,
    pub console_enabled: bool,
    pub clean_step: Dict,
    pub deploy_step: Dict,
    pub service_step: Dict,
    pub raid_config: Dict,
    pub target_raid_config: Dict,
    pub inspection_started_at: Option<Timestamp>,
    pub inspection_finished_at: Option<Timestamp>,
    pub resource_class: Option<String>,
    pub bios_interface: String,
    pub boot_interface: String,
    pub console_interface: String,
    pub deploy_interface: String,
    pub firmware_interface: String,
    pub inspect_interface: String,
    pub management_interface: String,
    pub network_interface: String,
    pub power_interface: String,
    pub raid_interface: String,
    pub rescue_interface: String,
    pub storage_interface: String,
    pub vendor_interface: String,
    pub traits: Vec<String>,
    pub conductor_group: String,
    pub automated_clean: Option<bool>,
    pub protected: bool,
    pub protected_reason: Option<String>,
    pub owner: Option<String>,
    pub lessee: Option<String>,
    pub description: Option<String>,
    pub allocation_uuid: Option<Uuid>,
    pub retired: bool,
    pub retired_reason: Option<String>,
    pub network_data: Dict,
    pub boot_mode: Option<String>,
    pub secure_boot: Option<bool>,
    pub shard: Option<String>,
    pub parent_node: Option<String>,
    pub disable_power_off: bool,
    pub health: Option<String>,
    pub extra: Dict,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    /// Which conductor holds node-local state (boot files) of an active node.
    pub conductor_affinity: Option<String>,
    /// Log index of the last change: the precondition of an optimistic update.
    pub revision: u64,
    /// Record schema version (rolling upgrades).
    #[serde(default = "crate::schema_version")]
    pub schema: u32,
}

impl Node {
    /// A node as Ironic creates it: `enroll`, every interface empty (resolved later), no power
    /// state known.
    pub fn new(uuid: Uuid, driver: impl Into<String>, now: Timestamp) -> Node {
        Node {
            id: 0,
            uuid,
            name: None,
            driver: driver.into(),
            driver_info: Dict::new(),
            driver_internal_info: Dict::new(),
            properties: Dict::new(),
            instance_info: Dict::new(),
            instance_uuid: None,
            instance_name: None,
            chassis_uuid: None,
            power_state: None,
            target_power_state: None,
            provision_state: ProvisionState::Enroll,
            target_provision_state: None,
            provision_updated_at: None,
            last_error: None,
            maintenance: false,
            maintenance_reason: None,
            fault: None,
            reservation: None,
            console_enabled: false,
            clean_step: Dict::new(),
            deploy_step: Dict::new(),
            service_step: Dict::new(),
            raid_config: Dict::new(),
            target_raid_config: Dict::new(),
            inspection_started_at: None,
            inspection_finished_at: None,
            resource_class: None,
            bios_interface: String::new(),
            boot_interface: String::new(),
            console_interface: String::new(),
            deploy_interface: String::new(),
            firmware_interface: String::new(),
            inspect_interface: String::new(),
            management_interface: String::new(),
            network_interface: String::new(),
            power_interface: String::new(),
            raid_interface: String::new(),
            rescue_interface: String::new(),
            storage_interface: String::new(),
            vendor_interface: String::new(),
            traits: Vec::new(),
            conductor_group: String::new(),
            automated_clean: None,
            protected: false,
            protected_reason: None,
            owner: None,
            lessee: None,
            description: None,
            allocation_uuid: None,
            retired: false,
            retired_reason: None,
            network_data: Dict::new(),
            boot_mode: None,
            secure_boot: None,
            shard: None,
            parent_node: None,
            disable_power_off: false,
            health: None,
            extra: Dict::new(),
            created_at: now,
            updated_at: None,
            conductor_affinity: None,
            revision: 0,
            schema: crate::SCHEMA_VERSION,
        }
    }

    /// The implementation chosen for an interface kind.
    pub fn interface(&self, kind: InterfaceKind) -> &str {
        match kind {
            InterfaceKind::Bios => &self.bios_interface,
            InterfaceKind::Boot => &self.boot_interface,
            InterfaceKind::Console => &self.console_interface,
            InterfaceKind::Deploy => &self.deploy_interface,
            InterfaceKind::Firmware => &self.firmware_interface,
            InterfaceKind::Inspect => &self.inspect_interface,
            InterfaceKind::Management => &self.management_interface,
            InterfaceKind::Network => &self.network_interface,
            InterfaceKind::Power => &self.power_interface,
            InterfaceKind::Raid => &self.raid_interface,
            InterfaceKind::Rescue => &self.rescue_interface,
            InterfaceKind::Storage => &self.storage_interface,
            InterfaceKind::Vendor => &self.vendor_interface,
        }
    }

    pub fn interface_mut(&mut self, kind: InterfaceKind) -> &mut String {
        match kind {
            InterfaceKind::Bios => &mut self.bios_interface,
            InterfaceKind::Boot => &mut self.boot_interface,
            InterfaceKind::Console => &mut self.console_interface,
            InterfaceKind::Deploy => &mut self.deploy_interface,
            InterfaceKind::Firmware => &mut self.firmware_interface,
            InterfaceKind::Inspect => &mut self.inspect_interface,
            InterfaceKind::Management => &mut self.management_interface,
            InterfaceKind::Network => &mut self.network_interface,
            InterfaceKind::Power => &mut self.power_interface,
            InterfaceKind::Raid => &mut self.raid_interface,
            InterfaceKind::Rescue => &mut self.rescue_interface,
            InterfaceKind::Storage => &mut self.storage_interface,
            InterfaceKind::Vendor => &mut self.vendor_interface,
        }
    }

    /// The hostname shown in the API's `reservation` field.
    pub fn reservation_holder(&self) -> Option<&str> {
        self.reservation.as_ref().map(|r| r.holder.as_str())
    }

    /// Enters a provision state the way Ironic's `process_event` does: the target becomes the
    /// FSM target of the new state, `provision_updated_at` is stamped.
    pub fn enter_state(&mut self, state: ProvisionState, now: Timestamp) {
        self.provision_state = state;
        self.target_provision_state = state.fsm_target();
        self.provision_updated_at = Some(now);
    }

    /// Whether automated cleaning runs for this node (node field overrides the default).
    pub fn automated_clean_enabled(&self, default: bool) -> bool {
        self.automated_clean.unwrap_or(default)
    }
}

/// The `instance_info` key of a deploy's config drive.
pub const CONFIGDRIVE: &str = "configdrive";
/// The one key of the marker that stands in `instance_info.configdrive` when the drive is stored
/// apart from the node record (its value: the drive's size in bytes).
pub const STORED_APART: &str = "ferric_stored_apart_bytes";

/// The marker for a config drive of `bytes` stored apart from the node record.
pub fn configdrive_marker(bytes: usize) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(STORED_APART.into(), Value::from(bytes as u64));
    Value::Object(m)
}

impl Node {
    /// Whether `instance_info.configdrive` is the marker of a drive stored apart (schema 2).
    pub fn configdrive_stored_apart(&self) -> bool {
        match self.instance_info.get(CONFIGDRIVE) {
            Some(Value::Object(m)) => m.len() == 1 && m.get(STORED_APART).is_some_and(Value::is_u64),
            _ => false,
        }
    }
}

/// Keys of `driver_info` / `instance_info` whose values Ironic masks as `******`.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.ends_with("_key")
        || k.contains("secret")
        || k.contains("token")
        || k == "configdrive"
        || k.contains("passphrase")
}

/// The masking Ironic applies before a node leaves the API.
pub const MASK: &str = "******";

/// Replaces every secret value of a dict (recursively for nested dicts) by `******`.
pub fn mask_secrets(d: &Dict) -> Dict {
    let mut out = Dict::new();
    for (k, v) in d {
        let v2 = if is_secret_key(k) && !v.is_null() {
            Value::String(MASK.to_string())
        } else if let Value::Object(inner) = v {
            Value::Object(mask_secrets(inner))
        } else {
            v.clone()
        };
        out.insert(k.clone(), v2);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_and_configdrive() {
        let mut d = Dict::new();
        d.insert("ipmi_password".into(), "hunter2".into());
        d.insert("ipmi_address".into(), "10.0.0.1".into());
        d.insert("redfish_password".into(), "x".into());
        d.insert("configdrive".into(), "H4sI...".into());
        let m = mask_secrets(&d);
        assert_eq!(m["ipmi_password"], MASK);
        assert_eq!(m["redfish_password"], MASK);
        assert_eq!(m["configdrive"], MASK);
        assert_eq!(m["ipmi_address"], "10.0.0.1");
    }

    #[test]
    fn enter_state_sets_target() {
        let mut n = Node::new(Uuid::nil(), "fake-hardware", Timestamp(5));
        n.enter_state(ProvisionState::Verifying, Timestamp(7));
        assert_eq!(n.target_provision_state, Some(ProvisionState::Manageable));
        n.enter_state(ProvisionState::Manageable, Timestamp(8));
        assert_eq!(n.target_provision_state, None);
        assert_eq!(n.provision_updated_at, Some(Timestamp(8)));
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// A record written before the `schema` field existed still reads (as schema 1).
    #[test]
    fn older_records_read() {
        let mut v = serde_json::to_value(Node::new(Uuid::nil(), "fake-hardware", Timestamp(0))).unwrap();
        v.as_object_mut().unwrap().remove("schema");
        let n: Node = serde_json::from_value(v).unwrap();
        assert_eq!(n.schema, crate::SCHEMA_VERSION);
    }
}
