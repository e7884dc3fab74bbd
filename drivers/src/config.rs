//! The drivers' configuration: which hardware types and interface implementations a member
//! loads (Ironic's `[DEFAULT]enabled_*` / `default_*_interface` options, same names), and the
//! per-driver settings (IPMI timeouts and retries, Redfish poll deadlines, fake periodic).
//!
//! One serde struct, `deny_unknown_fields`, every field defaulted: an empty `[drivers]` table is
//! a working laptop configuration (fake-hardware, ipmi, redfish, manual-management, with `fake`
//! enabled for every interface kind).

use ferric_model::InterfaceKind;
use serde::{Deserialize, Serialize};

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// What a member loads, and how its drivers behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriversConfig {
    /// Hardware types to load (Ironic's `enabled_hardware_types`).
    pub enabled_hardware_types: Vec<String>,

    pub enabled_bios_interfaces: Vec<String>,
    pub enabled_boot_interfaces: Vec<String>,
    pub enabled_console_interfaces: Vec<String>,
    pub enabled_deploy_interfaces: Vec<String>,
    pub enabled_firmware_interfaces: Vec<String>,
    pub enabled_inspect_interfaces: Vec<String>,
    pub enabled_management_interfaces: Vec<String>,
    pub enabled_network_interfaces: Vec<String>,
    pub enabled_power_interfaces: Vec<String>,
    pub enabled_raid_interfaces: Vec<String>,
    pub enabled_rescue_interfaces: Vec<String>,
    pub enabled_storage_interfaces: Vec<String>,
    pub enabled_vendor_interfaces: Vec<String>,

    pub default_bios_interface: Option<String>,
    pub default_boot_interface: Option<String>,
    pub default_console_interface: Option<String>,
    pub default_deploy_interface: Option<String>,
    pub default_firmware_interface: Option<String>,
    pub default_inspect_interface: Option<String>,
    pub default_management_interface: Option<String>,
    pub default_network_interface: Option<String>,
    pub default_power_interface: Option<String>,
    pub default_raid_interface: Option<String>,
    pub default_rescue_interface: Option<String>,
    pub default_storage_interface: Option<String>,
    pub default_vendor_interface: Option<String>,

    pub ipmi: IpmiConfig,
    pub redfish: RedfishConfig,
    pub fake: FakeConfig,
}

impl Default for DriversConfig {
    fn default() -> Self {
        DriversConfig {
            enabled_hardware_types: list(&["fake-hardware", "ipmi", "redfish", "manual-management"]),
            enabled_bios_interfaces: list(&["fake", "no-bios", "redfish"]),
            enabled_boot_interfaces: list(&["fake"]),
            enabled_console_interfaces: list(&["fake", "no-console"]),
            enabled_deploy_interfaces: list(&["fake", "noop"]),
            enabled_firmware_interfaces: list(&["fake", "no-firmware"]),
            enabled_inspect_interfaces: list(&["fake", "no-inspect"]),
            enabled_management_interfaces: list(&["fake", "ipmitool", "redfish", "noop"]),
            enabled_network_interfaces: list(&["noop"]),
            enabled_power_interfaces: list(&["fake", "ipmitool", "redfish"]),
            enabled_raid_interfaces: list(&["fake", "no-raid"]),
            enabled_rescue_interfaces: list(&["fake", "no-rescue"]),
            enabled_storage_interfaces: list(&["noop", "fake"]),
            enabled_vendor_interfaces: list(&["fake", "ipmitool", "no-vendor"]),
            default_bios_interface: None,
            default_boot_interface: None,
            default_console_interface: None,
            default_deploy_interface: None,
            default_firmware_interface: None,
            default_inspect_interface: None,
            default_management_interface: None,
            default_network_interface: Some("noop".into()),
            default_power_interface: None,
            default_raid_interface: None,
            default_rescue_interface: None,
            default_storage_interface: Some("noop".into()),
            default_vendor_interface: None,
            ipmi: IpmiConfig::default(),
            redfish: RedfishConfig::default(),
            fake: FakeConfig::default(),
        }
    }
}

impl DriversConfig {
    /// `enabled_<kind>_interfaces`.
    pub fn enabled(&self, kind: InterfaceKind) -> &[String] {
        match kind {
            InterfaceKind::Bios => &self.enabled_bios_interfaces,
            InterfaceKind::Boot => &self.enabled_boot_interfaces,
            InterfaceKind::Console => &self.enabled_console_interfaces,
            InterfaceKind::Deploy => &self.enabled_deploy_interfaces,
            InterfaceKind::Firmware => &self.enabled_firmware_interfaces,
            InterfaceKind::Inspect => &self.enabled_inspect_interfaces,
            InterfaceKind::Management => &self.enabled_management_interfaces,
            InterfaceKind::Network => &self.enabled_network_interfaces,
            InterfaceKind::Power => &self.enabled_power_interfaces,
            InterfaceKind::Raid => &self.enabled_raid_interfaces,
            InterfaceKind::Rescue => &self.enabled_rescue_interfaces,
            InterfaceKind::Storage => &self.enabled_storage_interfaces,
            InterfaceKind::Vendor => &self.enabled_vendor_interfaces,
        }
    }

    /// `enabled_<kind>_interfaces`, mutable (for tests and `src/` overrides).
    pub fn enabled_mut(&mut self, kind: InterfaceKind) -> &mut Vec<String> {
        match kind {
            InterfaceKind::Bios => &mut self.enabled_bios_interfaces,
            InterfaceKind::Boot => &mut self.enabled_boot_interfaces,
            InterfaceKind::Console => &mut self.enabled_console_interfaces,
            InterfaceKind::Deploy => &mut self.enabled_deploy_interfaces,
            InterfaceKind::Firmware => &mut self.enabled_firmware_interfaces,
            InterfaceKind::Inspect => &mut self.enabled_inspect_interfaces,
            InterfaceKind::Management => &mut self.enabled_management_interfaces,
            InterfaceKind::Network => &mut self.enabled_network_interfaces,
            InterfaceKind::Power => &mut self.enabled_power_interfaces,
            InterfaceKind::Raid => &mut self.enabled_raid_interfaces,
            InterfaceKind::Rescue => &mut self.enabled_rescue_interfaces,
            InterfaceKind::Storage => &mut self.enabled_storage_interfaces,
            InterfaceKind::Vendor => &mut self.enabled_vendor_interfaces,
        }
    }

    /// `default_<kind>_interface`.
    pub fn default_for(&self, kind: InterfaceKind) -> Option<&str> {
        let v = match kind {
            InterfaceKind::Bios => &self.default_bios_interface,
            InterfaceKind::Boot => &self.default_boot_interface,
            InterfaceKind::Console => &self.default_console_interface,
            InterfaceKind::Deploy => &self.default_deploy_interface,
            InterfaceKind::Firmware => &self.default_firmware_interface,
            InterfaceKind::Inspect => &self.default_inspect_interface,
            InterfaceKind::Management => &self.default_management_interface,
            InterfaceKind::Network => &self.default_network_interface,
            InterfaceKind::Power => &self.default_power_interface,
            InterfaceKind::Raid => &self.default_raid_interface,
            InterfaceKind::Rescue => &self.default_rescue_interface,
            InterfaceKind::Storage => &self.default_storage_interface,
            InterfaceKind::Vendor => &self.default_vendor_interface,
        };
        v.as_deref().filter(|s| !s.is_empty())
    }

    /// `default_<kind>_interface`, mutable.
    pub fn default_mut(&mut self, kind: InterfaceKind) -> &mut Option<String> {
        match kind {
            InterfaceKind::Bios => &mut self.default_bios_interface,
            InterfaceKind::Boot => &mut self.default_boot_interface,
            InterfaceKind::Console => &mut self.default_console_interface,
            InterfaceKind::Deploy => &mut self.default_deploy_interface,
            InterfaceKind::Firmware => &mut self.default_firmware_interface,
            InterfaceKind::Inspect => &mut self.default_inspect_interface,
            InterfaceKind::Management => &mut self.default_management_interface,
            InterfaceKind::Network => &mut self.default_network_interface,
            InterfaceKind::Power => &mut self.default_power_interface,
            InterfaceKind::Raid => &mut self.default_raid_interface,
            InterfaceKind::Rescue => &mut self.default_rescue_interface,
            InterfaceKind::Storage => &mut self.default_storage_interface,
            InterfaceKind::Vendor => &mut self.default_vendor_interface,
        }
    }
}

/// The `ipmi` hardware type's client (IPMI 2.0 lanplus through the `ipmi-rs` crate).
///
/// Worst case for one BMC operation (session set-up plus command, e.g. one power status):
/// `command_timeout_s` plus one `packet_timeout_ms` (a round trip in flight when the deadline
/// passes is allowed to finish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpmiConfig {
    /// How long to wait for one UDP reply before retransmitting.
    pub packet_timeout_ms: u64,
    /// Retransmissions of one request (so `retries + 1` sends at most) before the call fails.
    pub retries: u32,
    /// Deadline of one BMC operation: session set-up (if no cached session), the command and its
    /// retransmissions, and one retry on a fresh session if a cached one went stale.
    pub command_timeout_s: u64,
    /// Blocking IPMI calls in flight at once on this member (each holds a blocking thread);
    /// further calls wait for a slot, within their deadline.
    pub max_concurrent_calls: usize,
    /// A cached session unused this long is closed (BMCs drop idle sessions after 30–60 s).
    pub session_idle_timeout_s: u64,
    /// At most this many idle sessions are cached; the least recently used is closed beyond it.
    pub max_cached_sessions: usize,
    /// How long a power change may take to show in the chassis status (Ironic's
    /// `[conductor]power_state_change_timeout`), when the caller gives no timeout.
    pub power_state_change_timeout_s: u64,
    /// Ironic's `[conductor]soft_power_off_timeout`: how long a soft power off may take.
    pub soft_power_off_timeout_s: u64,
    /// Pause between power-status polls while waiting for a change.
    pub power_poll_interval_ms: u64,
    /// Ironic's `[ipmi]disable_boot_timeout`: send "boot flag valid bit clearing" (parameter 3)
    /// before setting a boot device, so the BMC keeps it past 60 s. `ipmi_disable_boot_timeout`
    /// in `driver_info` overrides it per node.
    pub disable_boot_timeout: bool,
}

impl Default for IpmiConfig {
    fn default() -> Self {
        IpmiConfig {
            packet_timeout_ms: 1000,
            retries: 3,
            command_timeout_s: 15,
            max_concurrent_calls: 64,
            session_idle_timeout_s: 20,
            max_cached_sessions: 2048,
            power_state_change_timeout_s: 60,
            soft_power_off_timeout_s: 600,
            power_poll_interval_ms: 500,
            disable_boot_timeout: true,
        }
    }
}

/// The `redfish` hardware type's HTTP client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedfishConfig {
    /// TCP + TLS connect timeout of one request.
    pub connect_timeout_s: u64,
    /// Whole-request timeout (connect, send, receive the body).
    pub request_timeout_s: u64,
    /// Attempts for one request on connection errors and 5xx answers (sushy's
    /// `connection_attempts`); 4xx answers are never retried.
    pub connection_attempts: u32,
    /// Pause between those attempts.
    pub connection_retry_interval_ms: u64,
    /// How long a power change may take to show in `PowerState` (BMCs apply resets late) when
    /// the caller gives no timeout.
    pub power_state_change_timeout_s: u64,
    /// Pause between `PowerState` polls while waiting.
    pub power_poll_interval_ms: u64,
    /// Largest response body accepted, in bytes (a BMC answering garbage cannot exhaust memory).
    pub max_response_bytes: usize,
}

impl Default for RedfishConfig {
    fn default() -> Self {
        RedfishConfig {
            connect_timeout_s: 10,
            request_timeout_s: 30,
            connection_attempts: 3,
            connection_retry_interval_ms: 1000,
            power_state_change_timeout_s: 60,
            power_poll_interval_ms: 1000,
            max_response_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The fake implementations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FakeConfig {
    /// Spacing of the fake power interface's periodic task (records one `power.periodic` call
    /// per owned fake node that has `fake_record_path`); 0 disables it.
    pub periodic_spacing_s: u64,
    /// Largest `fake_delay` a node may ask for, in seconds (validate refuses more).
    pub max_delay_s: f64,
    /// Entries kept by the in-process recorder (oldest dropped first).
    pub recorder_capacity: usize,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig { periodic_spacing_s: 60, max_delay_s: 300.0, recorder_capacity: 10_000 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_the_default_and_unknown_keys_are_refused() {
        let c: DriversConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, DriversConfig::default());
        let e = serde_json::from_str::<DriversConfig>(r#"{"enabled_hardware_type": []}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = serde_json::from_str::<DriversConfig>(r#"{"ipmi": {"retry": 1}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn accessors_cover_every_kind() {
        let mut c = DriversConfig::default();
        for k in InterfaceKind::ALL {
            assert!(!c.enabled(k).is_empty(), "{k:?}");
            c.enabled_mut(k).push("x".into());
            *c.default_mut(k) = Some("x".into());
            assert_eq!(c.default_for(k), Some("x"));
        }
    }
}
