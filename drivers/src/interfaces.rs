//! The driver API: one trait per interface kind (Ironic's `ironic/drivers/base.py`), the task
//! context a call sees, and step / periodic-task declarations.
//!
//! Contract with the conductor (in `src/`):
//! - The conductor holds the node's exclusive lock (or none, for read-only calls) and passes a
//!   `TaskContext` with a working copy of the node, its ports and portgroups, and the lock token.
//! - A driver may change `task.node` (e.g. `driver_internal_info`, `raid_config`) and
//!   `task.ports` / `task.portgroups` (VIFs); the conductor writes those back under the lock's
//!   generation. A driver never writes to the store itself.
//! - `validate` does no I/O and returns `InvalidParameterValue` / `MissingParameterValue` naming
//!   the field. Every method that talks to a BMC bounds its own time (per-call timeouts, retries)
//!   and returns `DriverOperationError` with a clear message on failure; the conductor adds an
//!   outer deadline as well.
//! - Unsupported optional methods return `UnsupportedDriverExtension` (their default bodies).

use async_trait::async_trait;
use ferric_model::command::LockToken;
use ferric_model::steps::{Step, StepDecl, StepKind};
use ferric_model::{Dict, Error, InterfaceKind, Node, Port, Portgroup, PowerAction, PowerState};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What a driver call sees of the world: the node (a working copy), its ports and portgroups,
/// and the lock it runs under.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub node: Node,
    pub ports: Vec<Port>,
    pub portgroups: Vec<Portgroup>,
    /// The exclusive lock this task holds (`None` for a shared, read-only task).
    pub lock: Option<LockToken>,
    /// The member running the task (Ironic's conductor hostname).
    pub member: String,
}

impl TaskContext {
    pub fn new(node: Node, member: impl Into<String>) -> TaskContext {
        TaskContext { node, ports: Vec::new(), portgroups: Vec::new(), lock: None, member: member.into() }
    }

    /// A `driver_info` string field.
    pub fn info_str(&self, key: &str) -> Option<&str> {
        self.node.driver_info.get(key).and_then(|v| v.as_str())
    }
}

/// How a step or an asynchronous driver action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// Finished; the conductor moves on.
    Done,
    /// Started and continues asynchronously (agent or BMC job); the node waits (`* wait`) until
    /// a heartbeat or a driver periodic task continues it.
    Wait,
}

/// `unsupported("inject_nmi", task)` → Ironic's UnsupportedDriverExtension.
pub fn unsupported(extension: &str, node: &Node) -> Error {
    Error::UnsupportedDriverExtension {
        driver: node.driver.clone(),
        extension: extension.to_string(),
    }
}

/// A step a driver offers, and for which sequences.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredStep {
    pub kinds: Vec<StepKind>,
    pub decl: StepDecl,
}

/// Common to every interface.
#[async_trait]
pub trait BaseInterface: Send + Sync + 'static {
    /// The implementation name, as in the node's `<kind>_interface` field (`ipmitool`, `fake`).
    fn name(&self) -> &'static str;

    /// `driver_info` keys this implementation understands, with a description (what
    /// `GET /v1/drivers/{d}/properties` shows).
    fn properties(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// Checks `driver_info` and friends, without I/O.
    fn validate(&self, _task: &TaskContext) -> Result<(), Error> {
        Ok(())
    }

    /// Steps this implementation offers.
    fn steps(&self) -> Vec<DeclaredStep> {
        Vec::new()
    }

    /// Runs one of this implementation's steps.
    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        Err(unsupported(&format!("step {}.{}", step.interface.as_str(), step.step), &task.node))
    }

    /// Periodic tasks this implementation declares (Ironic's `driver_periodic_task` on an
    /// interface). Collected once per member by the registry, from enabled implementations only.
    fn periodic_tasks(&self) -> Vec<PeriodicTask> {
        Vec::new()
    }
}

#[async_trait]
pub trait PowerInterface: BaseInterface {
    async fn get_power_state(&self, task: &TaskContext) -> Result<PowerState, Error>;

    /// Like `get_power_state`, but `None` when the driver cannot tell (Ironic's fake power
    /// answers the node's own, possibly null, `power_state`). The conductor uses it where
    /// Ironic stores whatever the driver answered (verify, power sync of a never-powered node).
    async fn get_power_state_if_known(&self, task: &TaskContext) -> Result<Option<PowerState>, Error> {
        self.get_power_state(task).await.map(Some)
    }

    /// `action` is `On`, `Off` or `SoftOff`; returns once the BMC reports the state (or the
    /// timeout passed: then `DriverOperationError`).
    async fn set_power_state(&self, task: &mut TaskContext, action: PowerAction, timeout: Option<Duration>)
        -> Result<(), Error>;

    /// Hard (`soft == false`) or soft reboot; ends with the node on.
    async fn reboot(&self, task: &mut TaskContext, soft: bool, timeout: Option<Duration>) -> Result<(), Error>;

    fn supported_power_states(&self, _task: &TaskContext) -> Vec<PowerAction> {
        vec![PowerAction::On, PowerAction::Off, PowerAction::Reboot]
    }

    fn supports_power_sync(&self, _task: &TaskContext) -> bool {
        true
    }
}

/// `{boot_device, persistent}`; `None` when the BMC cannot tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootDeviceInfo {
    pub boot_device: Option<String>,
    pub persistent: Option<bool>,
}

#[async_trait]
pub trait ManagementInterface: BaseInterface {
    async fn get_supported_boot_devices(&self, task: &TaskContext) -> Result<Vec<String>, Error>;
    async fn set_boot_device(&self, task: &mut TaskContext, device: &str, persistent: bool) -> Result<(), Error>;
    async fn get_boot_device(&self, task: &TaskContext) -> Result<BootDeviceInfo, Error>;

    async fn get_sensors_data(&self, task: &TaskContext) -> Result<Dict, Error> {
        Err(unsupported("get_sensors_data", &task.node))
    }
    async fn inject_nmi(&self, task: &mut TaskContext) -> Result<(), Error> {
        Err(unsupported("inject_nmi", &task.node))
    }
    async fn get_supported_boot_modes(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        Err(unsupported("get_supported_boot_modes", &task.node))
    }
    async fn get_boot_mode(&self, task: &TaskContext) -> Result<Option<String>, Error> {
        Err(unsupported("get_boot_mode", &task.node))
    }
    async fn set_boot_mode(&self, task: &mut TaskContext, _mode: &str) -> Result<(), Error> {
        Err(unsupported("set_boot_mode", &task.node))
    }
    async fn get_secure_boot_state(&self, task: &TaskContext) -> Result<Option<bool>, Error> {
        Err(unsupported("get_secure_boot_state", &task.node))
    }
    async fn set_secure_boot_state(&self, task: &mut TaskContext, _enabled: bool) -> Result<(), Error> {
        Err(unsupported("set_secure_boot_state", &task.node))
    }

    // Further optional methods of Ironic's ManagementInterface (default: unsupported).

    /// `"OK"`, `"Warning"`, `"Critical"` (Redfish Status.Health), if the BMC tells.
    async fn get_node_health(&self, task: &TaskContext) -> Result<Option<String>, Error> {
        Err(unsupported("get_node_health", &task.node))
    }
    /// `{component: {indicator: {"readonly": bool, "states": [..]}}}`
    async fn get_supported_indicators(&self, task: &TaskContext, _component: Option<&str>) -> Result<Value, Error> {
        Err(unsupported("get_supported_indicators", &task.node))
    }
    async fn set_indicator_state(
        &self,
        task: &mut TaskContext,
        _component: &str,
        _indicator: &str,
        _state: &str,
    ) -> Result<(), Error> {
        Err(unsupported("set_indicator_state", &task.node))
    }
    async fn get_indicator_state(&self, task: &TaskContext, _component: &str, _indicator: &str) -> Result<String, Error> {
        Err(unsupported("get_indicator_state", &task.node))
    }
    /// The hardware vendor as the BMC reports it (lower case), if it tells.
    async fn detect_vendor(&self, task: &TaskContext) -> Result<Option<String>, Error> {
        Err(unsupported("detect_vendor", &task.node))
    }
    async fn get_mac_addresses(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        Err(unsupported("get_mac_addresses", &task.node))
    }
    async fn get_virtual_media(&self, task: &TaskContext) -> Result<Value, Error> {
        Err(unsupported("get_virtual_media", &task.node))
    }
    async fn attach_virtual_media(&self, task: &mut TaskContext, _device_type: &str, _image_url: &str) -> Result<(), Error> {
        Err(unsupported("attach_virtual_media", &task.node))
    }
    async fn detach_virtual_media(&self, task: &mut TaskContext, _device_types: &[String]) -> Result<(), Error> {
        Err(unsupported("detach_virtual_media", &task.node))
    }
}

#[async_trait]
pub trait BootInterface: BaseInterface {
    async fn prepare_ramdisk(&self, _task: &mut TaskContext, _ramdisk_params: &Dict) -> Result<(), Error> {
        Ok(())
    }
    async fn clean_up_ramdisk(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn prepare_instance(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn clean_up_instance(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    /// Checks what rescue needs (Ironic: unsupported unless the boot interface can rescue).
    fn validate_rescue(&self, task: &TaskContext) -> Result<(), Error> {
        Err(unsupported("validate_rescue", &task.node))
    }
    /// Checks what in-band inspection needs.
    fn validate_inspection(&self, task: &TaskContext) -> Result<(), Error> {
        Err(unsupported("validate_inspection", &task.node))
    }
}

#[async_trait]
pub trait DeployInterface: BaseInterface {
    /// Runs (or starts) the deployment; `Wait` → `wait call-back`.
    async fn deploy(&self, task: &mut TaskContext) -> Result<StepResult, Error>;
    /// Tears the deployment down (powers the node off).
    async fn tear_down(&self, task: &mut TaskContext) -> Result<(), Error>;
    async fn prepare(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn clean_up(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    /// Take over a node from a dead conductor (re-create node-local boot state).
    async fn take_over(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    /// Boot the ramdisk for cleaning; `Wait` → `clean wait` until the agent heartbeats.
    async fn prepare_cleaning(&self, _task: &mut TaskContext) -> Result<StepResult, Error> {
        Ok(StepResult::Done)
    }
    async fn tear_down_cleaning(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn prepare_service(&self, _task: &mut TaskContext) -> Result<StepResult, Error> {
        Ok(StepResult::Done)
    }
    async fn tear_down_service(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    /// An agent heartbeat (the agent deploy interface implements it; others ignore it).
    async fn heartbeat(&self, _task: &mut TaskContext, _heartbeat: &Heartbeat) -> Result<(), Error> {
        Ok(())
    }
    /// Whether this implementation can deploy the node as configured (autodetect asks).
    fn supports_deploy(&self, _task: &TaskContext) -> bool {
        true
    }
}

#[async_trait]
pub trait InspectInterface: BaseInterface {
    /// `Done` → `manageable`, `Wait` → `inspect wait`.
    async fn inspect_hardware(&self, task: &mut TaskContext) -> Result<StepResult, Error>;
    async fn abort(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    /// Inventory and plugin data posted by the ramdisk (`POST /v1/continue_inspection`);
    /// `Done` → `manageable`.
    async fn continue_inspection(&self, task: &mut TaskContext, _inventory: &Value, _plugin_data: &Value) -> Result<StepResult, Error> {
        Err(unsupported("continue_inspection", &task.node))
    }
}

#[async_trait]
pub trait RaidInterface: BaseInterface {
    async fn create_configuration(
        &self,
        task: &mut TaskContext,
        create_root_volume: bool,
        create_nonroot_volumes: bool,
        delete_existing: bool,
    ) -> Result<StepResult, Error>;
    async fn delete_configuration(&self, task: &mut TaskContext) -> Result<StepResult, Error>;
    /// Checks a target RAID configuration (`{"logical_disks": [...]}`).
    fn validate_raid_config(&self, _task: &TaskContext, config: &Dict) -> Result<(), Error> {
        crate::raid::validate_target_raid_config(config)
    }
    fn logical_disk_properties(&self) -> BTreeMap<String, String> {
        crate::raid::logical_disk_properties()
    }
}

#[async_trait]
pub trait BiosInterface: BaseInterface {
    async fn apply_configuration(&self, task: &mut TaskContext, settings: &[Value]) -> Result<StepResult, Error>;
    async fn factory_reset(&self, task: &mut TaskContext) -> Result<StepResult, Error>;
    /// Reads the BIOS settings into `driver_internal_info["bios_settings"]`.
    async fn cache_bios_settings(&self, task: &mut TaskContext) -> Result<(), Error>;
}

#[async_trait]
pub trait FirmwareInterface: BaseInterface {
    async fn update(&self, task: &mut TaskContext, settings: &[Value]) -> Result<StepResult, Error>;
    async fn cache_firmware_components(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
}

#[async_trait]
pub trait ConsoleInterface: BaseInterface {
    async fn start_console(&self, task: &mut TaskContext) -> Result<(), Error>;
    async fn stop_console(&self, task: &mut TaskContext) -> Result<(), Error>;
    /// `{"type": ..., "url": ...}`
    async fn get_console(&self, task: &TaskContext) -> Result<Value, Error>;
}

#[async_trait]
pub trait RescueInterface: BaseInterface {
    /// `Wait` → `rescue wait`, `Done` → `rescue`.
    async fn rescue(&self, task: &mut TaskContext) -> Result<StepResult, Error>;
    async fn unrescue(&self, task: &mut TaskContext) -> Result<(), Error>;
    async fn clean_up(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
}

/// An agent heartbeat's fields (`POST /v1/heartbeat/{node}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
    pub callback_url: String,
    pub agent_version: Option<String>,
    /// PEM of the agent's self-signed certificate (API ≥ 1.68).
    pub agent_verify_ca: Option<String>,
    pub agent_status: Option<String>,
    pub agent_status_message: Option<String>,
}

/// Ironic's vendor passthru checks: the method exists and accepts the HTTP method.
pub fn check_vendor_method(methods: &BTreeMap<String, VendorMethod>, method: &str, http_method: &str) -> Result<(), Error> {
    let Some(m) = methods.get(method) else {
        return Err(Error::invalid(format!("No handler for method {method}")));
    };
    if !m.http_methods.iter().any(|h| h.eq_ignore_ascii_case(http_method)) {
        return Err(Error::invalid(format!(
            "The method {method} does not support HTTP {http_method}. Supported methods are: {}",
            m.http_methods.join(", ")
        )));
    }
    Ok(())
}

/// A vendor passthru method's metadata (`GET .../vendor_passthru/methods`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorMethod {
    pub http_methods: Vec<String>,
    pub is_async: bool,
    pub description: String,
    pub attach: bool,
    pub require_exclusive_lock: bool,
}

#[async_trait]
pub trait VendorInterface: BaseInterface {
    /// Node-scoped methods.
    fn methods(&self) -> BTreeMap<String, VendorMethod> {
        BTreeMap::new()
    }
    /// Driver-scoped methods.
    fn driver_methods(&self) -> BTreeMap<String, VendorMethod> {
        BTreeMap::new()
    }
    async fn call(&self, _task: &mut TaskContext, method: &str, _http_method: &str, _info: &Value) -> Result<Value, Error> {
        Err(Error::invalid(format!("No handler for method {method}")))
    }
    async fn driver_call(&self, method: &str, _http_method: &str, _info: &Value) -> Result<Value, Error> {
        Err(Error::invalid(format!("No handler for method {method}")))
    }
    /// Checks a node-scoped call before it runs (Ironic's `VendorInterface.validate(task,
    /// method, **kwargs)`): the method exists and accepts the HTTP method.
    fn validate_call(&self, _task: &TaskContext, method: &str, http_method: &str, _info: &Value) -> Result<(), Error> {
        check_vendor_method(&self.methods(), method, http_method)
    }
    /// Same, for a driver-scoped call.
    fn validate_driver_call(&self, method: &str, http_method: &str, _info: &Value) -> Result<(), Error> {
        check_vendor_method(&self.driver_methods(), method, http_method)
    }
}

#[async_trait]
pub trait NetworkInterface: BaseInterface {
    /// Attaches a VIF (`vif_info["id"]`) to a free port or portgroup of the node (Ironic's
    /// `tenant_vif_port_id` in their `internal_info`).
    async fn vif_attach(&self, task: &mut TaskContext, vif_info: &Dict) -> Result<(), Error> {
        crate::network::attach_vif_to_free_port(task, vif_info)
    }
    async fn vif_detach(&self, task: &mut TaskContext, vif_id: &str) -> Result<(), Error> {
        crate::network::detach_vif(task, vif_id)
    }
    async fn vif_list(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        Ok(crate::network::list_vifs(task))
    }
    async fn port_changed(&self, _task: &mut TaskContext, _port: &Port) -> Result<(), Error> {
        Ok(())
    }
    async fn add_provisioning_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn remove_provisioning_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn add_cleaning_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn remove_cleaning_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn configure_tenant_networks(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn unconfigure_tenant_networks(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn portgroup_changed(&self, _task: &mut TaskContext, _portgroup: &Portgroup) -> Result<(), Error> {
        Ok(())
    }
    /// The VIF currently in use on a port or portgroup (`internal_info`): cleaning,
    /// provisioning, rescuing, inspection, servicing, then tenant.
    fn get_current_vif(&self, _task: &TaskContext, internal_info: &Dict) -> Option<String> {
        crate::network::current_vif(internal_info)
    }
    async fn add_rescuing_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn remove_rescuing_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn add_inspection_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn remove_inspection_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn add_servicing_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn remove_servicing_network(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    fn validate_rescue(&self, _task: &TaskContext) -> Result<(), Error> {
        Ok(())
    }
    fn validate_inspection(&self, _task: &TaskContext) -> Result<(), Error> {
        Ok(())
    }
    /// Whether the node must be powered on for network changes (smart NICs).
    fn need_power_on(&self, _task: &TaskContext) -> bool {
        false
    }
    /// Network data for the config drive (`network_data.json`); empty: none.
    fn get_node_network_data(&self, task: &TaskContext) -> Dict {
        task.node.network_data.clone()
    }
}

#[async_trait]
pub trait StorageInterface: BaseInterface {
    async fn attach_volumes(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    async fn detach_volumes(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
    fn should_write_image(&self, _task: &TaskContext) -> bool {
        true
    }
}

/// The interface implementations one node uses (resolved from its `<kind>_interface` fields).
#[derive(Clone)]
pub struct NodeInterfaces {
    pub bios: Arc<dyn BiosInterface>,
    pub boot: Arc<dyn BootInterface>,
    pub console: Arc<dyn ConsoleInterface>,
    pub deploy: Arc<dyn DeployInterface>,
    pub firmware: Arc<dyn FirmwareInterface>,
    pub inspect: Arc<dyn InspectInterface>,
    pub management: Arc<dyn ManagementInterface>,
    pub network: Arc<dyn NetworkInterface>,
    pub power: Arc<dyn PowerInterface>,
    pub raid: Arc<dyn RaidInterface>,
    pub rescue: Arc<dyn RescueInterface>,
    pub storage: Arc<dyn StorageInterface>,
    pub vendor: Arc<dyn VendorInterface>,
}

impl NodeInterfaces {
    /// The base face of one kind (for validate, properties and steps).
    pub fn base(&self, kind: InterfaceKind) -> &dyn BaseInterface {
        // Trait upcasting (Rust ≥ 1.86) turns each `&dyn XInterface` into `&dyn BaseInterface`.
        match kind {
            InterfaceKind::Bios => &*self.bios,
            InterfaceKind::Boot => &*self.boot,
            InterfaceKind::Console => &*self.console,
            InterfaceKind::Deploy => &*self.deploy,
            InterfaceKind::Firmware => &*self.firmware,
            InterfaceKind::Inspect => &*self.inspect,
            InterfaceKind::Management => &*self.management,
            InterfaceKind::Network => &*self.network,
            InterfaceKind::Power => &*self.power,
            InterfaceKind::Raid => &*self.raid,
            InterfaceKind::Rescue => &*self.rescue,
            InterfaceKind::Storage => &*self.storage,
            InterfaceKind::Vendor => &*self.vendor,
        }
    }

    /// Every step the node's interfaces offer for a sequence kind.
    pub fn steps(&self, kind: StepKind) -> Vec<StepDecl> {
        InterfaceKind::ALL
            .iter()
            .flat_map(|k| self.base(*k).steps())
            .filter(|d| d.kinds.contains(&kind))
            .map(|d| d.decl)
            .collect()
    }
}

/// A periodic task a driver declares (Ironic's `driver_periodic_task`): run every `spacing`;
/// `parallel == false` runs inside the conductor's periodic loop and blocks other periodic tasks
/// while it runs (use only for quick work).
#[derive(Clone)]
pub struct PeriodicTask {
    /// Unique across the member (`<interface>.<implementation>.<method>` by convention).
    pub name: String,
    pub spacing: Duration,
    pub parallel: bool,
    pub task: Arc<dyn DriverPeriodic>,
}

/// What a driver periodic task may ask of its conductor.
#[async_trait]
pub trait PeriodicHost: Send + Sync {
    /// Nodes this member owns whose `kind` interface is `implementation`.
    fn owned_nodes(&self, kind: InterfaceKind, implementation: &str) -> Vec<Node>;

    /// The member running the task (Ironic's conductor hostname), for `TaskContext::member`.
    fn member(&self) -> String {
        String::new()
    }
}

#[async_trait]
pub trait DriverPeriodic: Send + Sync + 'static {
    async fn run(&self, host: &dyn PeriodicHost) -> Result<(), Error>;
}
