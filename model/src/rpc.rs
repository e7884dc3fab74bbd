//! The conductor RPC surface: Ironic's ConductorAPI 1.40 (plus the calls newer Ironic added for
//! rescue, service, boot mode and secure boot), as one request enum and one reply enum.
//!
//! The API builds a request; `src` routes it to the member that owns the node (or any member
//! with the driver) and that member's conductor answers. Requests cross members as JSON inside
//! an envelope carrying the sender's schema version.

use crate::chassis::Chassis;
use crate::node::{Dict, Node};
use crate::port::Port;
use crate::portgroup::Portgroup;
use crate::states::{PowerAction, ProvisionVerb};
use crate::volume::{VolumeConnector, VolumeTarget};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum ConductorRequest {
    // ---- records (decided by the state machine in one command; served by any member) ----
    CreateNode { node: Box<Node> },
    /// `node` is the full record after the client's patch, read at `expected_revision`.
    /// `reset_interfaces`: on a driver change, reset interfaces the patch did not set.
    UpdateNode { node: Box<Node>, expected_revision: u64, reset_interfaces: bool },
    DestroyNode { node: Uuid },
    CreatePort { port: Box<Port> },
    UpdatePort { port: Box<Port>, expected_revision: u64 },
    DestroyPort { port: Uuid },
    CreatePortgroup { portgroup: Box<Portgroup> },
    UpdatePortgroup { portgroup: Box<Portgroup>, expected_revision: u64 },
    DestroyPortgroup { portgroup: Uuid },
    CreateChassis { chassis: Box<Chassis> },
    UpdateChassis { chassis: Box<Chassis>, expected_revision: u64 },
    DestroyChassis { chassis: Uuid },
    CreateVolumeConnector { connector: Box<VolumeConnector> },
    UpdateVolumeConnector { connector: Box<VolumeConnector>, expected_revision: u64 },
    DestroyVolumeConnector { connector: Uuid },
    CreateVolumeTarget { target: Box<VolumeTarget> },
    UpdateVolumeTarget { target: Box<VolumeTarget>, expected_revision: u64 },
    DestroyVolumeTarget { target: Uuid },

    // ---- power and management (routed to the node's owner) ----
    ChangeNodePowerState { node: Uuid, target: PowerAction, timeout: Option<u64> },
    GetBootDevice { node: Uuid },
    SetBootDevice { node: Uuid, device: String, persistent: bool },
    GetSupportedBootDevices { node: Uuid },
    InjectNmi { node: Uuid },
    GetConsoleInformation { node: Uuid },
    SetConsoleMode { node: Uuid, enabled: bool },
    SetBootMode { node: Uuid, mode: String },
    SetSecureBootState { node: Uuid, enabled: bool },
    SetTargetRaidConfig { node: Uuid, target_raid_config: Dict },
    ValidateDriverInterfaces { node: Uuid },

    // ---- provisioning (routed to the owner) ----
    DoNodeDeploy { node: Uuid, rebuild: bool, configdrive: Option<Value>, deploy_steps: Option<Vec<Value>> },
    DoNodeTearDown { node: Uuid },
    /// manage, provide, inspect, abort, adopt, unhold
    DoProvisioningAction { node: Uuid, action: ProvisionVerb },
    DoNodeClean { node: Uuid, clean_steps: Vec<Value>, disable_ramdisk: bool },
    /// A cast: the caller gets no answer beyond "sent".
    ContinueNodeClean { node: Uuid },
    DoNodeRescue { node: Uuid, rescue_password: String },
    DoNodeUnrescue { node: Uuid },
    DoNodeService { node: Uuid, service_steps: Vec<Value>, disable_ramdisk: bool },
    InspectHardware { node: Uuid },
    Heartbeat {
        node: Uuid,
        callback_url: String,
        agent_version: Option<String>,
        agent_token: Option<String>,
        agent_verify_ca: Option<String>,
        agent_status: Option<String>,
        agent_status_message: Option<String>,
    },
    /// Ramdisk lookup: mint the agent token once.
    GetNodeWithToken { node: Uuid },

    // ---- vendor passthru ----
    VendorPassthru { node: Uuid, method: String, http_method: String, info: Value },
    DriverVendorPassthru { driver: String, method: String, http_method: String, info: Value },
    GetNodeVendorPassthruMethods { node: Uuid },
    GetDriverVendorPassthruMethods { driver: String },

    // ---- VIFs ----
    VifAttach { node: Uuid, vif_info: Dict },
    VifDetach { node: Uuid, vif_id: String },
    VifList { node: Uuid },

    // ---- driver-level (any member with the driver) ----
    GetDriverProperties { driver: String },
    GetRaidLogicalDiskProperties { driver: String },

    // ---- owner look-ups ----
    GetTopicFor { node: Uuid },
    GetTopicForDriver { driver: String },
}

impl ConductorRequest {
    /// The node the request acts on, if it is routed by node ownership.
    pub fn routed_node(&self) -> Option<Uuid> {
        use ConductorRequest::*;
        match self {
            ChangeNodePowerState { node, .. }
            | GetBootDevice { node }
            | SetBootDevice { node, .. }
            | GetSupportedBootDevices { node }
            | InjectNmi { node }
            | GetConsoleInformation { node }
            | SetConsoleMode { node, .. }
            | SetBootMode { node, .. }
            | SetSecureBootState { node, .. }
            | SetTargetRaidConfig { node, .. }
            | ValidateDriverInterfaces { node }
            | DoNodeDeploy { node, .. }
            | DoNodeTearDown { node }
            | DoProvisioningAction { node, .. }
            | DoNodeClean { node, .. }
            | ContinueNodeClean { node }
            | DoNodeRescue { node, .. }
            | DoNodeUnrescue { node }
            | DoNodeService { node, .. }
            | InspectHardware { node }
            | Heartbeat { node, .. }
            | GetNodeWithToken { node }
            | VendorPassthru { node, .. }
            | GetNodeVendorPassthruMethods { node }
            | VifAttach { node, .. }
            | VifDetach { node, .. }
            | VifList { node }
            | GetTopicFor { node } => Some(*node),
            _ => None,
        }
    }

    /// The driver a driver-level request needs, if it is routed by driver.
    pub fn routed_driver(&self) -> Option<&str> {
        use ConductorRequest::*;
        match self {
            DriverVendorPassthru { driver, .. }
            | GetDriverVendorPassthruMethods { driver }
            | GetDriverProperties { driver }
            | GetRaidLogicalDiskProperties { driver }
            | GetTopicForDriver { driver } => Some(driver),
            _ => None,
        }
    }

    /// The method name (Ironic's RPC method), for logs and metrics.
    pub fn method(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("call").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| "unknown".into())
    }
}

/// One interface's validation result (`GET /v1/nodes/{id}/validate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceValidation {
    pub result: Option<bool>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum ConductorReply {
    /// Done synchronously, nothing to return.
    Done,
    /// Accepted: the work continues in the background (HTTP 202).
    Accepted,
    Node { node: Arc<Node> },
    Port { port: Arc<Port> },
    Portgroup { portgroup: Arc<Portgroup> },
    Chassis { chassis: Arc<Chassis> },
    VolumeConnector { connector: Arc<VolumeConnector> },
    VolumeTarget { target: Arc<VolumeTarget> },
    BootDevice { boot_device: Option<String>, persistent: Option<bool> },
    SupportedBootDevices { devices: Vec<String> },
    ConsoleInformation { console_enabled: bool, console_info: Option<Value> },
    Properties { properties: BTreeMap<String, String> },
    Validation { interfaces: BTreeMap<String, InterfaceValidation> },
    VendorResult { return_value: Value, is_async: bool, attach: bool },
    VendorMethods { methods: serde_json::Map<String, Value> },
    Vifs { vifs: Vec<String> },
    Topic { topic: String },
    NodeWithToken { node: Arc<Node>, agent_token: Option<String> },
}
