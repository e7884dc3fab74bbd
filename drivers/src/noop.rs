//! The do-nothing implementations (Ironic's `noop.py`, `noop_mgmt.py`, network and storage
//! `noop`): `no-bios`, `no-console`, `no-firmware`, `no-inspect`, `no-raid`, `no-rescue`,
//! `no-vendor` fail validation and every user-visible action with UnsupportedDriverExtension
//! (so `GET /v1/nodes/{id}/validate` shows them as unsupported, as Ironic does); `noop`
//! management assumes the boot order is preconfigured (PXE first); `noop` network keeps VIFs in
//! port/portgroup `internal_info` only (no switch configuration); `noop` storage attaches nothing;
//! `noop` deploy (manual-management) succeeds at once.

use crate::interfaces::*;
use async_trait::async_trait;
use ferric_model::steps::{Step, StepDecl, StepKind};
use ferric_model::{Error, InterfaceKind, Node};
use serde_json::Value;

fn unsupported_kind(kind: InterfaceKind, node: &Node) -> Error {
    Error::UnsupportedDriverExtension {
        driver: node.driver.clone(),
        extension: kind.as_str().to_string(),
    }
}

macro_rules! failing_base {
    ($ty:ident, $name:expr, $kind:expr) => {
        #[derive(Debug, Clone, Default)]
        pub struct $ty;

        #[async_trait]
        impl BaseInterface for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn validate(&self, task: &TaskContext) -> Result<(), Error> {
                Err(unsupported_kind($kind, &task.node))
            }
        }
    };
}

failing_base!(NoBios, "no-bios", InterfaceKind::Bios);
failing_base!(NoConsole, "no-console", InterfaceKind::Console);
failing_base!(NoFirmware, "no-firmware", InterfaceKind::Firmware);
failing_base!(NoInspect, "no-inspect", InterfaceKind::Inspect);
failing_base!(NoRaid, "no-raid", InterfaceKind::Raid);
failing_base!(NoRescue, "no-rescue", InterfaceKind::Rescue);
failing_base!(NoVendor, "no-vendor", InterfaceKind::Vendor);

#[async_trait]
impl BiosInterface for NoBios {
    async fn apply_configuration(&self, task: &mut TaskContext, _settings: &[Value]) -> Result<StepResult, Error> {
        Err(unsupported_kind(InterfaceKind::Bios, &task.node))
    }
    async fn factory_reset(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        Err(unsupported_kind(InterfaceKind::Bios, &task.node))
    }
    /// Ironic's NoBIOS caches nothing and succeeds.
    async fn cache_bios_settings(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
}

#[async_trait]
impl ConsoleInterface for NoConsole {
    async fn start_console(&self, task: &mut TaskContext) -> Result<(), Error> {
        Err(unsupported_kind(InterfaceKind::Console, &task.node))
    }
    async fn stop_console(&self, task: &mut TaskContext) -> Result<(), Error> {
        Err(unsupported_kind(InterfaceKind::Console, &task.node))
    }
    async fn get_console(&self, task: &TaskContext) -> Result<Value, Error> {
        Err(unsupported_kind(InterfaceKind::Console, &task.node))
    }
}

#[async_trait]
impl FirmwareInterface for NoFirmware {
    async fn update(&self, task: &mut TaskContext, _settings: &[Value]) -> Result<StepResult, Error> {
        Err(unsupported_kind(InterfaceKind::Firmware, &task.node))
    }
    /// Ironic's NoFirmware caches nothing and succeeds.
    async fn cache_firmware_components(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
}

#[async_trait]
impl InspectInterface for NoInspect {
    async fn inspect_hardware(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        Err(unsupported_kind(InterfaceKind::Inspect, &task.node))
    }
}

#[async_trait]
impl RaidInterface for NoRaid {
    async fn create_configuration(
        &self,
        task: &mut TaskContext,
        _r: bool,
        _n: bool,
        _d: bool,
    ) -> Result<StepResult, Error> {
        Err(unsupported_kind(InterfaceKind::Raid, &task.node))
    }
    async fn delete_configuration(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        Err(unsupported_kind(InterfaceKind::Raid, &task.node))
    }
    fn validate_raid_config(&self, task: &TaskContext, _config: &ferric_model::Dict) -> Result<(), Error> {
        Err(unsupported_kind(InterfaceKind::Raid, &task.node))
    }
}

#[async_trait]
impl RescueInterface for NoRescue {
    async fn rescue(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        Err(unsupported_kind(InterfaceKind::Rescue, &task.node))
    }
    async fn unrescue(&self, task: &mut TaskContext) -> Result<(), Error> {
        Err(unsupported_kind(InterfaceKind::Rescue, &task.node))
    }
}

#[async_trait]
impl VendorInterface for NoVendor {
    async fn call(&self, task: &mut TaskContext, _method: &str, _http: &str, _info: &Value) -> Result<Value, Error> {
        Err(unsupported_kind(InterfaceKind::Vendor, &task.node))
    }
    async fn driver_call(&self, _method: &str, _http: &str, _info: &Value) -> Result<Value, Error> {
        Err(Error::UnsupportedDriverExtension { driver: "no-vendor".into(), extension: "vendor".into() })
    }
}

/// `noop` management: the boot order is preconfigured to try PXE, then disk.
#[derive(Debug, Clone, Default)]
pub struct NoopManagement;

#[async_trait]
impl BaseInterface for NoopManagement {
    fn name(&self) -> &'static str {
        "noop"
    }
}

#[async_trait]
impl ManagementInterface for NoopManagement {
    async fn get_supported_boot_devices(&self, _task: &TaskContext) -> Result<Vec<String>, Error> {
        Ok(vec!["pxe".into(), "disk".into()])
    }
    async fn set_boot_device(&self, _task: &mut TaskContext, device: &str, _persistent: bool) -> Result<(), Error> {
        if device == "pxe" || device == "disk" {
            Ok(())
        } else {
            Err(Error::invalid(format!("Invalid boot device {device} specified, supported are pxe, disk.")))
        }
    }
    async fn get_boot_device(&self, _task: &TaskContext) -> Result<BootDeviceInfo, Error> {
        Ok(BootDeviceInfo { boot_device: Some("pxe".into()), persistent: Some(true) })
    }
}

/// `noop` network: no switch or Neutron work; VIF attach/detach/list keep the bookkeeping of
/// [`crate::network`] (Ferric is standalone: this is where a VIF is recorded).
#[derive(Debug, Clone, Default)]
pub struct NoopNetwork;

#[async_trait]
impl BaseInterface for NoopNetwork {
    fn name(&self) -> &'static str {
        "noop"
    }
}

impl NetworkInterface for NoopNetwork {}

/// `noop` storage: nothing to attach; the image is always written.
#[derive(Debug, Clone, Default)]
pub struct NoopStorage;

#[async_trait]
impl BaseInterface for NoopStorage {
    fn name(&self) -> &'static str {
        "noop"
    }
}

impl StorageInterface for NoopStorage {}

/// `noop` deploy (manual-management): the `deploy.deploy` step succeeds at once.
#[derive(Debug, Clone, Default)]
pub struct NoopDeploy;

#[async_trait]
impl BaseInterface for NoopDeploy {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn steps(&self) -> Vec<DeclaredStep> {
        vec![DeclaredStep {
            kinds: vec![StepKind::Deploy],
            decl: StepDecl {
                interface: InterfaceKind::Deploy,
                step: "deploy".into(),
                priority: 100,
                argsinfo: None,
                abortable: true,
                requires_ramdisk: true,
            },
        }]
    }

    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        match step.step.as_str() {
            "deploy" => Ok(StepResult::Done),
            _ => Err(unsupported(&format!("step deploy.{}", step.step), &task.node)),
        }
    }
}

#[async_trait]
impl DeployInterface for NoopDeploy {
    async fn deploy(&self, _task: &mut TaskContext) -> Result<StepResult, Error> {
        Ok(StepResult::Done)
    }
    async fn tear_down(&self, _task: &mut TaskContext) -> Result<(), Error> {
        Ok(())
    }
}
