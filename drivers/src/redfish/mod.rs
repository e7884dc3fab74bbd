//! The `redfish` hardware type's power, management and BIOS interfaces (Ironic's
//! `ironic/drivers/modules/redfish/`), over HTTPS or HTTP with reqwest + rustls.
//!
//! | `driver_info` field | meaning |
//! |---|---|
//! | `redfish_address` | URL of the BMC, scheme optional (https assumed); a path is the service root (default `/redfish/v1/`). Required. No credentials in it. |
//! | `redfish_system_id` | path of the ComputerSystem (`/redfish/v1/Systems/1`) or its id; needed when the BMC manages several systems. |
//! | `redfish_username`, `redfish_password` | HTTP basic authentication. The password is never logged or returned. |
//! | `redfish_verify_ca` | `true` (default: built-in roots), `false` (no verification), or the path of a CA bundle file or directory. |
//! | `redfish_auth_type` | `basic`, `session` or `auto` accepted; Ferric always uses basic authentication. |
//!
//! BMCs apply resets late (sushy-tools' emulator: 1–11 s): after a reset the driver polls
//! `PowerState` until it matches, with a deadline.

pub mod client;

use crate::driver_info::{check_host, opt_secret, opt_str, parse_bool_value};
use crate::interfaces::*;
use async_trait::async_trait;
pub use client::RedfishClient;
use client::{Endpoint, Fence, Verify};
use ferric_model::steps::{Step, StepDecl, StepKind};
use ferric_model::{Dict, Error, InterfaceKind, Node, PowerAction, PowerState};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const REDFISH: &str = "redfish";

/// `GET /v1/drivers/redfish/properties` entries.
pub fn redfish_properties() -> BTreeMap<String, String> {
    [
        ("redfish_address", "The URL address to the Redfish controller. It must include the authority portion of the URL. If the scheme is missing, https is assumed. For example: https://mgmt.vendor.com. If a path is added, it will be used as the API endpoint root_prefix. Required"),
        ("redfish_system_id", "The canonical path to the ComputerSystem resource that the driver will interact with. It should include the root service, version and the unique resource path to a ComputerSystem within the same authority as the redfish_address property. For example: /redfish/v1/Systems/1. This property is only required if target BMC manages more than one ComputerSystem. Otherwise ironic will pick the only available ComputerSystem automatically."),
        ("redfish_username", "User account with admin/server-profile access privilege. Although this property is not mandatory it's highly recommended to set a username. Optional"),
        ("redfish_password", "User account password. Although this property is not mandatory, it's highly recommended to set a password. Optional"),
        ("redfish_verify_ca", "Either a Boolean value, a path to a CA_BUNDLE file or directory with certificates of trusted CAs. If set to True the driver will verify the host certificates; if False the driver will ignore verifying the SSL certificate. If it's a path the driver will use the specified certificate or one of the certificates in the directory. Defaults to True. Optional"),
        ("redfish_auth_type", "Redfish HTTP client authentication method. Can be \"basic\", \"session\" or \"auto\". Ferric uses basic authentication. Optional"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The parsed `driver_info` of a redfish node.
#[derive(Debug, Clone)]
pub struct RedfishInfo {
    pub endpoint: Endpoint,
    pub system_id: Option<String>,
}

/// Ironic's `parse_driver_info`, errors naming the field (400 at validate).
pub fn parse_driver_info(node: &Node) -> Result<RedfishInfo, Error> {
    let info = &node.driver_info;
    let raw = match opt_str(info, "redfish_address")? {
        Some(a) if !a.trim().is_empty() => a.trim().to_string(),
        _ => {
            return Err(Error::missing(format!(
                "Missing the following Redfish properties in node {} driver_info: ['redfish_address']",
                node.uuid
            )))
        }
    };
    let bad = || {
        Error::invalid(format!(
            "Invalid Redfish address {raw} set in driver_info/redfish_address on node {}",
            node.uuid
        ))
    };
    let with_scheme = if raw.contains("://") { raw.clone() } else { format!("https://{raw}") };
    let url = reqwest::Url::parse(&with_scheme).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(format!(
            "driver_info/redfish_address on node {} must not carry credentials: use redfish_username and redfish_password",
            node.uuid
        )));
    }
    let host = url.host_str().ok_or_else(bad)?;
    check_host(host, "redfish_address")?;
    let base = match url.port() {
        Some(p) => format!("{}://{}:{}", url.scheme(), url.host_str().unwrap_or(host), p),
        None => format!("{}://{}", url.scheme(), url.host_str().unwrap_or(host)),
    };
    let root = match url.path() {
        "" | "/" => "/redfish/v1/".to_string(),
        p if p.ends_with('/') => p.to_string(),
        p => format!("{p}/"),
    };
    let system_id = opt_str(info, "redfish_system_id")?;
    if let Some(s) = &system_id {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') {
            return Err(Error::invalid(format!(
                "Invalid value \"{s}\" set in driver_info/redfish_system_id on node {}. The value should be a path (string) to the resource that the driver will interact with. For example: /redfish/v1/Systems/1",
                node.uuid
            )));
        }
    }
    let verify = match info.get("redfish_verify_ca") {
        None | Some(Value::Null) => Verify::Yes,
        Some(Value::String(s)) if s.starts_with('/') => {
            if std::path::Path::new(s).exists() {
                Verify::Ca(s.clone())
            } else {
                return Err(Error::invalid(format!(
                    "Invalid value type set in driver_info/redfish_verify_ca on node {}. The value should be a Boolean or the path to a file/directory, not \"{s}\"",
                    node.uuid
                )));
            }
        }
        Some(v) => match parse_bool_value(v) {
            Some(true) => Verify::Yes,
            Some(false) => Verify::No,
            None => {
                return Err(Error::invalid(format!(
                    "Invalid value type set in driver_info/redfish_verify_ca on node {}. The value should be a Boolean or the path to a file/directory, not \"{v}\"",
                    node.uuid
                )))
            }
        },
    };
    if let Some(a) = opt_str(info, "redfish_auth_type")? {
        if !["basic", "session", "auto"].contains(&a.as_str()) {
            return Err(Error::invalid(format!(
                "Invalid value \"{a}\" set in driver_info/redfish_auth_type on node {}. The value should be one of \"basic\", \"session\" or \"auto\".",
                node.uuid
            )));
        }
    }
    let username = opt_str(info, "redfish_username")?;
    let password = opt_secret(info, "redfish_password")?;
    Ok(RedfishInfo {
        endpoint: Endpoint { base, root, username, password, verify, node: node.uuid.to_string() },
        system_id,
    })
}

fn fence(task: &TaskContext) -> Fence {
    Fence { member: task.member.clone(), generation: task.lock.as_ref().map(|l| l.generation) }
}

fn power_of(system: &Value) -> PowerState {
    match system.get("PowerState").and_then(Value::as_str) {
        Some("On") | Some("PoweringOn") => PowerState::On,
        Some("Off") | Some("PoweringOff") => PowerState::Off,
        _ => PowerState::Error,
    }
}

/// Shared by the redfish interfaces: the client, the node's system, and who is asking.
struct Ctx<'a> {
    client: &'a RedfishClient,
    info: RedfishInfo,
    path: String,
    /// Sent on reads of the system too, so a BMC (the Jepsen fake) can tell which member, under
    /// which lock, is looking at the machine (take-over, pauses in the middle of an action).
    fence: Fence,
}

impl<'a> Ctx<'a> {
    async fn new(client: &'a RedfishClient, task: &TaskContext) -> Result<Ctx<'a>, Error> {
        let info = parse_driver_info(&task.node)?;
        let path = client.system_path(&info.endpoint, info.system_id.as_deref()).await?;
        Ok(Ctx { client, info, path, fence: fence(task) })
    }

    async fn system(&self) -> Result<Value, Error> {
        Ok(self.client.request(&self.info.endpoint, Method::GET, &self.path, None, Some(&self.fence)).await?.body)
    }

    fn err(&self, msg: String) -> Error {
        Error::DriverOperationError {
            message: format!("Redfish: node {} (system {}): {msg}", self.info.endpoint.node, self.path),
        }
    }

    async fn power(&self) -> Result<PowerState, Error> {
        Ok(power_of(&self.system().await?))
    }

    /// POST ComputerSystem.Reset. A 400/409 answer while the system already is in `target`
    /// counts as success (BMCs refuse "On" when on), as Ironic does.
    async fn reset(&self, task: &TaskContext, reset_type: &str, target: Option<PowerState>) -> Result<(), Error> {
        let sys = self.system().await?;
        let action = sys
            .pointer("/Actions/#ComputerSystem.Reset/target")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}/Actions/ComputerSystem.Reset", self.path));
        let body = json!({ "ResetType": reset_type });
        let a = self
            .client
            .request_raw(&self.info.endpoint, Method::POST, &action, Some(&body), Some(&fence(task)))
            .await?;
        if a.status.is_success() {
            return Ok(());
        }
        if matches!(a.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) {
            if let Some(t) = target {
                if self.power().await? == t {
                    return Ok(());
                }
            }
        }
        if matches!(a.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(self.err(format!(
                "authentication failed (HTTP {}): check redfish_username and redfish_password",
                a.status.as_u16()
            )));
        }
        let detail = a
            .body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(300)
            .collect::<String>();
        Err(self.err(format!("reset {reset_type} refused: HTTP {} {detail}", a.status.as_u16())))
    }

    /// Polls `PowerState` until it is `target`, or the deadline. Each poll is bounded by the
    /// request timeout; poll errors are tolerated until the deadline (the last is reported).
    async fn wait_for(&self, target: PowerState, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let interval = Duration::from_millis(self.client.config().power_poll_interval_ms.max(10));
        let mut last;
        loop {
            match self.power().await {
                Ok(s) if s == target => return Ok(()),
                Ok(s) => last = format!("the BMC still reports {s}"),
                Err(e) => last = format!("last error: {e}"),
            }
            if Instant::now() + interval >= deadline {
                return Err(
                    self.err(format!("power state did not become {target} within {}s; {last}", timeout.as_secs_f64()))
                );
            }
            tokio::time::sleep(interval).await;
        }
    }
}

/// `redfish` power.
pub struct RedfishPower {
    client: Arc<RedfishClient>,
}

impl RedfishPower {
    pub fn new(client: Arc<RedfishClient>) -> RedfishPower {
        RedfishPower { client }
    }

    fn timeout(&self, t: Option<Duration>) -> Duration {
        t.unwrap_or(Duration::from_secs(self.client.config().power_state_change_timeout_s))
    }
}

#[async_trait]
impl BaseInterface for RedfishPower {
    fn name(&self) -> &'static str {
        REDFISH
    }
    fn properties(&self) -> BTreeMap<String, String> {
        redfish_properties()
    }
    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        parse_driver_info(&task.node).map(|_| ())
    }
}

#[async_trait]
impl PowerInterface for RedfishPower {
    async fn get_power_state(&self, task: &TaskContext) -> Result<PowerState, Error> {
        Ctx::new(&self.client, task).await?.power().await
    }

    async fn set_power_state(
        &self,
        task: &mut TaskContext,
        action: PowerAction,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let (reset, target) = match action {
            PowerAction::On => ("On", PowerState::On),
            PowerAction::Off => ("ForceOff", PowerState::Off),
            PowerAction::SoftOff => ("GracefulShutdown", PowerState::Off),
            PowerAction::SoftReboot => ("GracefulRestart", PowerState::On),
            PowerAction::Reboot => return self.reboot(task, false, timeout).await,
        };
        ctx.reset(task, reset, Some(target)).await?;
        ctx.wait_for(target, self.timeout(timeout)).await
    }

    /// Ironic's redfish reboot: if on, ForceOff and wait for off; then On and wait for on.
    /// Soft: GracefulRestart and wait for on.
    async fn reboot(&self, task: &mut TaskContext, soft: bool, timeout: Option<Duration>) -> Result<(), Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let t = self.timeout(timeout);
        if soft {
            ctx.reset(task, "GracefulRestart", None).await?;
            return ctx.wait_for(PowerState::On, t).await;
        }
        if ctx.power().await? == PowerState::On {
            ctx.reset(task, "ForceOff", Some(PowerState::Off)).await?;
            ctx.wait_for(PowerState::Off, t).await?;
        }
        ctx.reset(task, "On", Some(PowerState::On)).await?;
        ctx.wait_for(PowerState::On, t).await
    }

    fn supported_power_states(&self, _task: &TaskContext) -> Vec<PowerAction> {
        vec![PowerAction::On, PowerAction::Off, PowerAction::Reboot, PowerAction::SoftReboot, PowerAction::SoftOff]
    }
}

/// Ironic boot device ↔ Redfish BootSourceOverrideTarget.
const BOOT_DEVICE_MAP: [(&str, &str); 6] = [
    ("pxe", "Pxe"),
    ("disk", "Hdd"),
    ("cdrom", "Cd"),
    ("bios", "BiosSetup"),
    ("floppy", "Floppy"),
    ("uefihttp", "UefiHttp"),
];

fn to_redfish_device(d: &str) -> Option<&'static str> {
    BOOT_DEVICE_MAP.iter().find(|(i, _)| *i == d).map(|(_, r)| *r)
}

fn from_redfish_device(r: &str) -> Option<&'static str> {
    BOOT_DEVICE_MAP.iter().find(|(_, x)| *x == r).map(|(i, _)| *i)
}

/// `redfish` management: boot override (once/continuous), boot mode, secure boot, NMI.
pub struct RedfishManagement {
    client: Arc<RedfishClient>,
}

impl RedfishManagement {
    pub fn new(client: Arc<RedfishClient>) -> RedfishManagement {
        RedfishManagement { client }
    }
}

#[async_trait]
impl BaseInterface for RedfishManagement {
    fn name(&self) -> &'static str {
        REDFISH
    }
    fn properties(&self) -> BTreeMap<String, String> {
        redfish_properties()
    }
    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        parse_driver_info(&task.node).map(|_| ())
    }
}

#[async_trait]
impl ManagementInterface for RedfishManagement {
    async fn get_supported_boot_devices(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        let allowed = sys.pointer("/Boot/BootSourceOverrideTarget@Redfish.AllowableValues").and_then(Value::as_array);
        Ok(match allowed {
            Some(list) => {
                list.iter().filter_map(Value::as_str).filter_map(from_redfish_device).map(str::to_string).collect()
            }
            None => BOOT_DEVICE_MAP.iter().map(|(i, _)| i.to_string()).collect(),
        })
    }

    async fn set_boot_device(&self, task: &mut TaskContext, device: &str, persistent: bool) -> Result<(), Error> {
        let target = to_redfish_device(device)
            .ok_or_else(|| Error::invalid(format!("Invalid boot device {device} specified.")))?;
        let ctx = Ctx::new(&self.client, task).await?;
        let body = json!({"Boot": {
            "BootSourceOverrideTarget": target,
            "BootSourceOverrideEnabled": if persistent { "Continuous" } else { "Once" },
        }});
        self.client.request(&ctx.info.endpoint, Method::PATCH, &ctx.path, Some(&body), Some(&fence(task))).await?;
        Ok(())
    }

    async fn get_boot_device(&self, task: &TaskContext) -> Result<BootDeviceInfo, Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        let dev = sys.pointer("/Boot/BootSourceOverrideTarget").and_then(Value::as_str).and_then(from_redfish_device);
        let persistent = match sys.pointer("/Boot/BootSourceOverrideEnabled").and_then(Value::as_str) {
            Some("Continuous") => Some(true),
            Some("Once") => Some(false),
            _ => None,
        };
        Ok(BootDeviceInfo { boot_device: dev.map(str::to_string), persistent })
    }

    async fn inject_nmi(&self, task: &mut TaskContext) -> Result<(), Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        ctx.reset(task, "Nmi", None).await
    }

    async fn get_node_health(&self, task: &TaskContext) -> Result<Option<String>, Error> {
        let sys = Ctx::new(&self.client, task).await?.system().await?;
        Ok(sys.pointer("/Status/Health").and_then(Value::as_str).map(str::to_string))
    }

    async fn detect_vendor(&self, task: &TaskContext) -> Result<Option<String>, Error> {
        let sys = Ctx::new(&self.client, task).await?.system().await?;
        Ok(sys.get("Manufacturer").and_then(Value::as_str).map(|m| m.to_lowercase()))
    }

    /// MACs of the system's enabled EthernetInterfaces (at most 64 interfaces read).
    async fn get_mac_addresses(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        let Some(link) = sys.pointer("/EthernetInterfaces/@odata.id").and_then(Value::as_str) else {
            return Ok(Vec::new());
        };
        let col = self.client.get(&ctx.info.endpoint, link).await?;
        let mut macs = Vec::new();
        for m in col.get("Members").and_then(Value::as_array).into_iter().flatten().take(64) {
            let Some(p) = m.get("@odata.id").and_then(Value::as_str) else { continue };
            let nic = self.client.get(&ctx.info.endpoint, p).await?;
            let enabled = nic.pointer("/Status/State").and_then(Value::as_str).is_none_or(|s| s == "Enabled");
            if let (true, Some(mac)) = (enabled, nic.get("MACAddress").and_then(Value::as_str)) {
                if let Some(norm) = ferric_model::port::normalize_mac(mac) {
                    macs.push(norm);
                }
            }
        }
        Ok(macs)
    }

    async fn get_supported_boot_modes(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        let allowed = sys.pointer("/Boot/BootSourceOverrideMode@Redfish.AllowableValues").and_then(Value::as_array);
        Ok(match allowed {
            Some(l) => l
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|m| match m {
                    "UEFI" => Some("uefi".to_string()),
                    "Legacy" => Some("bios".to_string()),
                    _ => None,
                })
                .collect(),
            None => vec!["bios".into(), "uefi".into()],
        })
    }

    async fn get_boot_mode(&self, task: &TaskContext) -> Result<Option<String>, Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        Ok(match sys.pointer("/Boot/BootSourceOverrideMode").and_then(Value::as_str) {
            Some("UEFI") => Some("uefi".into()),
            Some("Legacy") => Some("bios".into()),
            _ => None,
        })
    }

    async fn set_boot_mode(&self, task: &mut TaskContext, mode: &str) -> Result<(), Error> {
        let m = match mode {
            "uefi" => "UEFI",
            "bios" => "Legacy",
            other => return Err(Error::invalid(format!("Invalid boot mode {other} specified."))),
        };
        let ctx = Ctx::new(&self.client, task).await?;
        let body = json!({"Boot": {"BootSourceOverrideMode": m}});
        self.client.request(&ctx.info.endpoint, Method::PATCH, &ctx.path, Some(&body), Some(&fence(task))).await?;
        Ok(())
    }

    async fn get_secure_boot_state(&self, task: &TaskContext) -> Result<Option<bool>, Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        let Some(link) = sys.pointer("/SecureBoot/@odata.id").and_then(Value::as_str) else {
            return Err(unsupported("secure boot", &task.node));
        };
        let sb = self.client.get(&ctx.info.endpoint, link).await?;
        Ok(sb.get("SecureBootEnable").and_then(Value::as_bool))
    }

    async fn set_secure_boot_state(&self, task: &mut TaskContext, enabled: bool) -> Result<(), Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        let Some(link) = sys.pointer("/SecureBoot/@odata.id").and_then(Value::as_str).map(str::to_string) else {
            return Err(unsupported("secure boot", &task.node));
        };
        let body = json!({ "SecureBootEnable": enabled });
        self.client.request(&ctx.info.endpoint, Method::PATCH, &link, Some(&body), Some(&fence(task))).await?;
        Ok(())
    }
}

/// `redfish` BIOS: attributes cached into `driver_internal_info["bios_settings"]`, changes
/// written to the pending settings object (applied by the BMC at the next boot), factory reset.
pub struct RedfishBios {
    client: Arc<RedfishClient>,
}

impl RedfishBios {
    pub fn new(client: Arc<RedfishClient>) -> RedfishBios {
        RedfishBios { client }
    }

    async fn bios(&self, task: &TaskContext) -> Result<(Ctx<'_>, String, Value), Error> {
        let ctx = Ctx::new(&self.client, task).await?;
        let sys = ctx.system().await?;
        let Some(link) = sys.pointer("/Bios/@odata.id").and_then(Value::as_str).map(str::to_string) else {
            return Err(Error::UnsupportedDriverExtension {
                driver: task.node.driver.clone(),
                extension: "BIOS settings (the BMC exposes no Bios resource)".into(),
            });
        };
        let bios = self.client.get(&ctx.info.endpoint, &link).await?;
        Ok((ctx, link, bios))
    }
}

fn bios_args() -> Dict {
    json!({"settings": {"description": "A list of BIOS settings to be applied", "required": true}})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl BaseInterface for RedfishBios {
    fn name(&self) -> &'static str {
        REDFISH
    }
    fn properties(&self) -> BTreeMap<String, String> {
        redfish_properties()
    }
    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        parse_driver_info(&task.node).map(|_| ())
    }

    fn steps(&self) -> Vec<DeclaredStep> {
        let d = |step: &str, args: Option<Dict>| DeclaredStep {
            kinds: vec![StepKind::Clean, StepKind::Deploy, StepKind::Service],
            decl: StepDecl {
                interface: InterfaceKind::Bios,
                step: step.into(),
                priority: 0,
                argsinfo: args,
                abortable: false,
                requires_ramdisk: false,
            },
        };
        vec![d("apply_configuration", Some(bios_args())), d("factory_reset", None)]
    }

    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        match step.step.as_str() {
            "apply_configuration" => match step.args.get("settings") {
                Some(Value::Array(s)) => {
                    let s = s.clone();
                    self.apply_configuration(task, &s).await
                }
                _ => {
                    Err(Error::missing("Step bios.apply_configuration: missing required argument 'settings' (a list)"))
                }
            },
            "factory_reset" => self.factory_reset(task).await,
            _ => Err(unsupported(&format!("step bios.{}", step.step), &task.node)),
        }
    }
}

#[async_trait]
impl BiosInterface for RedfishBios {
    async fn apply_configuration(&self, task: &mut TaskContext, settings: &[Value]) -> Result<StepResult, Error> {
        let mut attrs = Dict::new();
        for s in settings {
            let (Some(n), Some(v)) = (s.get("name").and_then(Value::as_str), s.get("value")) else {
                return Err(Error::invalid(format!("Invalid BIOS setting {s}: 'name' and 'value' are required")));
            };
            attrs.insert(n.to_string(), v.clone());
        }
        let (ctx, link, bios) = self.bios(task).await?;
        let settings_path = bios
            .pointer("/@Redfish.Settings/SettingsObject/@odata.id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{link}/Settings"));
        let body = json!({ "Attributes": attrs });
        self.client.request(&ctx.info.endpoint, Method::PATCH, &settings_path, Some(&body), Some(&fence(task))).await?;
        Ok(StepResult::Done)
    }

    async fn factory_reset(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        let (ctx, link, bios) = self.bios(task).await?;
        let action = bios
            .pointer("/Actions/#Bios.ResetBios/target")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{link}/Actions/Bios.ResetBios"));
        self.client.request(&ctx.info.endpoint, Method::POST, &action, Some(&json!({})), Some(&fence(task))).await?;
        Ok(StepResult::Done)
    }

    async fn cache_bios_settings(&self, task: &mut TaskContext) -> Result<(), Error> {
        let (_ctx, _link, bios) = self.bios(task).await?;
        let attrs = bios.get("Attributes").and_then(Value::as_object).cloned().unwrap_or_default();
        task.node.driver_internal_info.insert("bios_settings".into(), Value::Object(attrs));
        Ok(())
    }
}
