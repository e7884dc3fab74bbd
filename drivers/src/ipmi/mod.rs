//! The `ipmi` hardware type's `ipmitool` power, management and vendor interfaces, over IPMI 2.0
//! lanplus with the `ipmi-rs` crate — no ipmitool process. Ironic's names are kept:
//! the implementations are called `ipmitool` and read the same `driver_info` fields:
//!
//! | field | meaning |
//! |---|---|
//! | `ipmi_address` | BMC host name or IP. Required. |
//! | `ipmi_port` | UDP port, default 623. |
//! | `ipmi_username` | user; default the NULL user. |
//! | `ipmi_password` | password; default empty. Never logged or returned. |
//! | `ipmi_priv_level` | `ADMINISTRATOR` (default), `OPERATOR`, `USER`, `CALLBACK`: raised with Set Session Privilege Level after activation. |
//! | `ipmi_protocol_version` | `2.0` (default, lanplus); `1.5` is refused (ipmi-rs 0.6 mis-verifies 1.5 auth codes). |
//! | `ipmi_cipher_suite` | 3 only (RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128: what ipmi-rs speaks); default 3. |
//! | `ipmi_bridging` | `no` only (bridging is not supported). |
//! | `ipmi_force_boot_device` | re-send the boot device before each power on, remembering persistence in `driver_internal_info` (Ironic's behaviour). |
//! | `ipmi_disable_boot_timeout` | send "don't clear boot flags after 60 s" before setting a boot device; default `[drivers.ipmi] disable_boot_timeout`. |
//! | `ipmi_hex_kg_key` | refused: ipmi-rs has no Kg support. |
//!
//! Every call is bounded: per-packet timeout, retransmissions, a per-operation deadline, and for
//! power changes a poll of the chassis status until the new state shows or the power timeout
//! passes.

pub mod client;
pub mod commands;
pub mod session;

use crate::driver_info::{check_host, opt_bool, opt_port, opt_secret, opt_str};
use crate::interfaces::*;
use async_trait::async_trait;
use client::{IpmiTarget, SessionKey};
use commands::*;
use ferric_model::{Error, Node, PowerAction, PowerState};
use serde_json::{json, Value};
use session::{Fault, SessionParams};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use client::{IpmiClient, IpmiStatsSnapshot};

/// The implementation name (Ironic's).
pub const IPMITOOL: &str = "ipmitool";

const VALID_PRIV_LEVELS: [&str; 4] = ["ADMINISTRATOR", "CALLBACK", "OPERATOR", "USER"];

/// `GET /v1/drivers/ipmi/properties` entries of the ipmitool interfaces.
pub fn ipmi_properties() -> BTreeMap<String, String> {
    [
        ("ipmi_address", "IP address or hostname of the node. Required."),
        ("ipmi_password", "password. Optional."),
        ("ipmi_port", "remote IPMI RMCP port. Optional."),
        ("ipmi_priv_level", "privilege level; default is ADMINISTRATOR. One of ADMINISTRATOR, CALLBACK, OPERATOR, USER. Optional."),
        ("ipmi_username", "username; default is NULL user. Optional."),
        ("ipmi_bridging", "bridging_type; only \"no\" is supported. Optional."),
        ("ipmi_protocol_version", "the version of the IPMI protocol; default is \"2.0\". One of \"1.5\", \"2.0\". Optional."),
        ("ipmi_force_boot_device", "Whether Ironic should specify the boot device to the BMC each time the server is turned on, eg. because the BMC is not capable of remembering the selected boot device across power cycles; default value is False. Optional."),
        ("ipmi_disable_boot_timeout", "By default the boot device timeout of 60 seconds is disabled before setting a boot device. Setting this option to False will NOT send that command on this node. Optional."),
        ("ipmi_cipher_suite", "The number of a cipher suite to use. Only 3 (AES-128 with SHA1) is supported. Optional."),
        ("ipmi_hex_kg_key", "Kg key for IPMIv2 authentication. Not supported: must be unset. Optional."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The parsed `driver_info` of an ipmi node.
#[derive(Debug, Clone)]
pub struct IpmiInfo {
    pub target: IpmiTarget,
    pub force_boot_device: bool,
    pub disable_boot_timeout: Option<bool>,
}

/// Ironic's `_parse_driver_info`, with errors that name the field (400 at validate).
pub fn parse_driver_info(node: &Node) -> Result<IpmiInfo, Error> {
    let info = &node.driver_info;
    let address = match opt_str(info, "ipmi_address")? {
        Some(a) if !a.trim().is_empty() => a.trim().to_string(),
        _ => {
            return Err(Error::missing(
                "Missing the following IPMI credentials in node's driver_info: ['ipmi_address'].",
            ))
        }
    };
    check_host(&address, "ipmi_address")?;
    let port = opt_port(info, "ipmi_port")?.unwrap_or(623);
    let username = opt_str(info, "ipmi_username")?.unwrap_or_default();
    if username.len() > 16 {
        return Err(Error::invalid("Invalid value for driver_info/ipmi_username: longer than 16 characters"));
    }
    let password = opt_secret(info, "ipmi_password")?.unwrap_or_default();
    if password.len() > 20 {
        return Err(Error::invalid("Invalid value for driver_info/ipmi_password: longer than 20 characters"));
    }
    let priv_level = opt_str(info, "ipmi_priv_level")?.unwrap_or_else(|| "ADMINISTRATOR".into());
    let privilege = privilege_code(&priv_level).ok_or_else(|| {
        Error::invalid(format!(
            "Invalid privilege level value:{priv_level}, the valid value can be one of {} (driver_info/ipmi_priv_level)",
            VALID_PRIV_LEVELS.join(", ")
        ))
    })?;
    let version = opt_str(info, "ipmi_protocol_version")?.unwrap_or_else(|| "2.0".into());
    let rmcp_plus = match version.as_str() {
        "2.0" | "2" => true,
        // ipmi-rs 0.6 checks IPMI 1.5 answer auth codes over the wrong bytes (every MD5/MD2
        // session fails against ipmi_sim): refuse up front rather than fail at every call.
        "1.5" => {
            return Err(Error::invalid(
                "IPMI protocol version 1.5 is not supported by Ferric's IPMI client; use 2.0 (driver_info/ipmi_protocol_version)",
            ))
        }
        other => {
            return Err(Error::invalid(format!(
                "Invalid IPMI protocol version value {other}, the valid value can be one of 2.0, 1.5 (driver_info/ipmi_protocol_version)"
            )))
        }
    };
    let cipher_suite = match opt_str(info, "ipmi_cipher_suite")? {
        None => 3u8,
        Some(s) => {
            let n: u8 = s.trim().parse().map_err(|_| {
                Error::invalid(format!("Invalid cipher suite {s}, expected a number (driver_info/ipmi_cipher_suite)"))
            })?;
            if !rmcp_plus {
                return Err(Error::invalid(
                    "Cipher suites cannot be used with IPMI 1.5 (driver_info/ipmi_cipher_suite)",
                ));
            }
            if n != 3 {
                return Err(Error::invalid(format!(
                    "Unsupported cipher suite {n} in driver_info/ipmi_cipher_suite: only 3 (RAKP-HMAC-SHA1, AES-CBC-128) is supported"
                )));
            }
            n
        }
    };
    if let Some(b) = opt_str(info, "ipmi_bridging")? {
        if b != "no" {
            return Err(Error::invalid(format!(
                "Invalid value for ipmi_bridging: {b}, bridging is not supported; the valid value is: no (driver_info/ipmi_bridging)"
            )));
        }
    }
    if opt_str(info, "ipmi_hex_kg_key")?.is_some_and(|k| !k.is_empty()) {
        return Err(Error::invalid("driver_info/ipmi_hex_kg_key is not supported (no Kg support in the IPMI client)"));
    }
    let force_boot_device = opt_bool(info, "ipmi_force_boot_device")?.unwrap_or(false);
    let disable_boot_timeout = opt_bool(info, "ipmi_disable_boot_timeout")?;
    Ok(IpmiInfo {
        target: IpmiTarget {
            key: SessionKey { host: address.clone(), port, username: username.clone(), cipher_suite },
            params: SessionParams {
                host: address,
                port,
                username,
                password: password.into_bytes(),
                privilege,
                rmcp_plus,
            },
            node: node.uuid.to_string(),
        },
        force_boot_device,
        disable_boot_timeout,
    })
}

fn op_error(info: &IpmiInfo, what: &str, f: Fault) -> Error {
    match f {
        Fault::Invalid(m) => Error::invalid(m),
        f => Error::DriverOperationError {
            message: format!(
                "IPMI {what} failed for node {} (BMC {}:{}): {}",
                info.target.node,
                info.target.key.host,
                info.target.key.port,
                f.describe()
            ),
        },
    }
}

async fn raw(
    client: &IpmiClient,
    info: &IpmiInfo,
    what: &str,
    netfn: u8,
    cmd: u8,
    data: Vec<u8>,
) -> Result<Vec<u8>, Error> {
    client
        .call(&info.target, move |s, ctx| s.request(netfn, cmd, &data, ctx.limits))
        .await
        .map_err(|f| op_error(info, what, f))
}

async fn power_status(client: &IpmiClient, info: &IpmiInfo) -> Result<PowerState, Error> {
    let data = raw(client, info, "power status", NETFN_CHASSIS, CMD_GET_CHASSIS_STATUS, vec![]).await?;
    let on = parse_chassis_status(&data).map_err(|m| op_error(info, "power status", Fault::Protocol(m)))?;
    Ok(if on { PowerState::On } else { PowerState::Off })
}

async fn chassis_control(client: &IpmiClient, info: &IpmiInfo, c: ChassisControl, what: &str) -> Result<(), Error> {
    raw(client, info, what, NETFN_CHASSIS, CMD_CHASSIS_CONTROL, vec![c as u8]).await.map(|_| ())
}

/// Polls the chassis status until it shows `target` or `timeout` passes (each poll is itself
/// bounded). Poll failures are tolerated until the deadline; the last one is reported.
async fn wait_for_power(
    client: &IpmiClient,
    info: &IpmiInfo,
    target: PowerState,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    let interval = Duration::from_millis(client.config().power_poll_interval_ms.max(10));
    let mut last_err: Option<Error> = None;
    let mut last_seen = None;
    loop {
        match power_status(client, info).await {
            Ok(s) if s == target => return Ok(()),
            Ok(s) => last_seen = Some(s),
            Err(e) => last_err = Some(e),
        }
        if Instant::now() + interval >= deadline {
            let detail = match (last_err, last_seen) {
                (Some(e), _) => format!("last error: {e}"),
                (None, Some(s)) => format!("the BMC still reports {s}"),
                (None, None) => String::new(),
            };
            return Err(Error::DriverOperationError {
                message: format!(
                    "IPMI power change of node {} did not reach {target} within {}s; {detail}",
                    info.target.node,
                    timeout.as_secs_f64()
                ),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// `ipmitool` power.
pub struct IpmiPower {
    client: Arc<IpmiClient>,
}

impl IpmiPower {
    pub fn new(client: Arc<IpmiClient>) -> IpmiPower {
        IpmiPower { client }
    }

    pub fn client(&self) -> &Arc<IpmiClient> {
        &self.client
    }

    fn change_timeout(&self, timeout: Option<Duration>) -> Duration {
        timeout.unwrap_or(Duration::from_secs(self.client.config().power_state_change_timeout_s))
    }

    async fn on(&self, task: &mut TaskContext, info: &IpmiInfo, timeout: Duration) -> Result<(), Error> {
        ensure_next_boot_device(&self.client, task, info).await?;
        chassis_control(&self.client, info, ChassisControl::PowerUp, "power on").await?;
        wait_for_power(&self.client, info, PowerState::On, timeout).await
    }

    async fn off(&self, info: &IpmiInfo, timeout: Duration) -> Result<(), Error> {
        chassis_control(&self.client, info, ChassisControl::PowerDown, "power off").await?;
        wait_for_power(&self.client, info, PowerState::Off, timeout).await
    }

    async fn soft_off(&self, info: &IpmiInfo, timeout: Option<Duration>) -> Result<(), Error> {
        let t = timeout.unwrap_or(Duration::from_secs(self.client.config().soft_power_off_timeout_s));
        chassis_control(&self.client, info, ChassisControl::SoftShutdown, "soft power off").await?;
        wait_for_power(&self.client, info, PowerState::Off, t).await
    }
}

#[async_trait]
impl BaseInterface for IpmiPower {
    fn name(&self) -> &'static str {
        IPMITOOL
    }
    fn properties(&self) -> BTreeMap<String, String> {
        ipmi_properties()
    }
    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        parse_driver_info(&task.node).map(|_| ())
    }
    fn periodic_tasks(&self) -> Vec<PeriodicTask> {
        let spacing = Duration::from_secs((self.client.config().session_idle_timeout_s / 2).clamp(1, 60));
        vec![PeriodicTask {
            name: "power.ipmitool.expire_idle_sessions".into(),
            spacing,
            parallel: true,
            task: Arc::new(ExpireSessions(self.client.clone())),
        }]
    }
}

#[async_trait]
impl PowerInterface for IpmiPower {
    async fn get_power_state(&self, task: &TaskContext) -> Result<PowerState, Error> {
        let info = parse_driver_info(&task.node)?;
        power_status(&self.client, &info).await
    }

    async fn set_power_state(
        &self,
        task: &mut TaskContext,
        action: PowerAction,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let info = parse_driver_info(&task.node)?;
        match action {
            PowerAction::On => self.on(task, &info, self.change_timeout(timeout)).await,
            PowerAction::Off => self.off(&info, self.change_timeout(timeout)).await,
            PowerAction::SoftOff => self.soft_off(&info, timeout).await,
            PowerAction::SoftReboot => {
                self.soft_off(&info, timeout).await?;
                self.on(task, &info, self.change_timeout(timeout)).await
            }
            PowerAction::Reboot => self.reboot(task, false, timeout).await,
        }
    }

    /// Ironic's ipmitool reboot: power off unless already off, then power on (soft: a soft
    /// power off first). The boot device is re-sent before powering on when forced.
    async fn reboot(&self, task: &mut TaskContext, soft: bool, timeout: Option<Duration>) -> Result<(), Error> {
        let info = parse_driver_info(&task.node)?;
        if soft {
            self.soft_off(&info, timeout).await?;
        } else if power_status(&self.client, &info).await? != PowerState::Off {
            self.off(&info, self.change_timeout(timeout)).await?;
        }
        self.on(task, &info, self.change_timeout(timeout)).await
    }

    fn supported_power_states(&self, _task: &TaskContext) -> Vec<PowerAction> {
        vec![PowerAction::On, PowerAction::Off, PowerAction::Reboot, PowerAction::SoftReboot, PowerAction::SoftOff]
    }
}

struct ExpireSessions(Arc<IpmiClient>);

#[async_trait]
impl DriverPeriodic for ExpireSessions {
    async fn run(&self, _host: &dyn PeriodicHost) -> Result<(), Error> {
        self.0.expire_idle().await;
        Ok(())
    }
}

/// The node's boot mode as Ironic reads it: the `boot_mode` field, else the `boot_mode`
/// capability, else UEFI (Ironic's default since 2023).
fn is_uefi(node: &Node) -> bool {
    if let Some(m) = &node.boot_mode {
        return m == "uefi";
    }
    let caps = node.properties.get("capabilities").and_then(Value::as_str).unwrap_or("");
    for c in caps.split(',') {
        if let Some(("boot_mode", v)) = c.split_once(':') {
            return v.trim() == "uefi";
        }
    }
    true
}

async fn send_boot_device(
    client: &IpmiClient,
    info: &IpmiInfo,
    node: &Node,
    device: &str,
    persistent: bool,
) -> Result<(), Error> {
    let disable_timeout = info.disable_boot_timeout.unwrap_or(client.config().disable_boot_timeout);
    let flags = set_boot_flags_request(device, persistent, is_uefi(node))
        .ok_or_else(|| Error::invalid(format!("Invalid boot device {device} specified.")))?;
    client
        .call(&info.target, move |s, ctx| {
            if disable_timeout {
                s.request(NETFN_CHASSIS, CMD_SET_SYSTEM_BOOT_OPTIONS, &disable_boot_timeout_request(), ctx.limits)?;
            }
            s.request(NETFN_CHASSIS, CMD_SET_SYSTEM_BOOT_OPTIONS, &flags, ctx.limits)
        })
        .await
        .map(|_| ())
        .map_err(|f| op_error(info, "set boot device", f))
}

/// Ironic's `ensure_next_boot_device`: with `ipmi_force_boot_device`, re-send the remembered
/// persistent boot device before a power on.
async fn ensure_next_boot_device(client: &IpmiClient, task: &mut TaskContext, info: &IpmiInfo) -> Result<(), Error> {
    if !info.force_boot_device {
        return Ok(());
    }
    let dii = &mut task.node.driver_internal_info;
    if dii.get("is_next_boot_persistent") == Some(&Value::Bool(false)) {
        dii.remove("is_next_boot_persistent");
        return Ok(());
    }
    if let Some(dev) = dii.get("persistent_boot_device").and_then(Value::as_str).map(str::to_string) {
        send_boot_device(client, info, &task.node, &dev, false).await?;
    }
    Ok(())
}

/// `ipmitool` management.
pub struct IpmiManagement {
    client: Arc<IpmiClient>,
}

impl IpmiManagement {
    pub fn new(client: Arc<IpmiClient>) -> IpmiManagement {
        IpmiManagement { client }
    }
}

#[async_trait]
impl BaseInterface for IpmiManagement {
    fn name(&self) -> &'static str {
        IPMITOOL
    }
    fn properties(&self) -> BTreeMap<String, String> {
        ipmi_properties()
    }
    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        parse_driver_info(&task.node).map(|_| ())
    }
}

#[async_trait]
impl ManagementInterface for IpmiManagement {
    async fn get_supported_boot_devices(&self, _task: &TaskContext) -> Result<Vec<String>, Error> {
        Ok(BOOT_DEVICES.iter().map(|s| s.to_string()).collect())
    }

    async fn set_boot_device(&self, task: &mut TaskContext, device: &str, persistent: bool) -> Result<(), Error> {
        if !BOOT_DEVICES.contains(&device) {
            return Err(Error::invalid(format!("Invalid boot device {device} specified.")));
        }
        let info = parse_driver_info(&task.node)?;
        let mut persistent = persistent;
        if info.force_boot_device {
            // Ironic's force_persistent_boot: remember it, send it as one-time each power on.
            let dii = &mut task.node.driver_internal_info;
            if persistent {
                dii.remove("is_next_boot_persistent");
                dii.insert("persistent_boot_device".into(), json!(device));
            } else {
                dii.insert("is_next_boot_persistent".into(), json!(false));
            }
            persistent = false;
        }
        send_boot_device(&self.client, &info, &task.node, device, persistent).await
    }

    async fn get_boot_device(&self, task: &TaskContext) -> Result<BootDeviceInfo, Error> {
        let info = parse_driver_info(&task.node)?;
        let dii = &task.node.driver_internal_info;
        if info.force_boot_device && dii.get("is_next_boot_persistent") != Some(&Value::Bool(false)) {
            if let Some(d) = dii.get("persistent_boot_device").and_then(Value::as_str) {
                return Ok(BootDeviceInfo { boot_device: Some(d.to_string()), persistent: Some(true) });
            }
        }
        let data = raw(
            &self.client,
            &info,
            "get boot device",
            NETFN_CHASSIS,
            CMD_GET_SYSTEM_BOOT_OPTIONS,
            get_boot_flags_request(),
        )
        .await?;
        let (device, persistent) =
            parse_boot_flags(&data).map_err(|m| op_error(&info, "get boot device", Fault::Protocol(m)))?;
        Ok(BootDeviceInfo { boot_device: device.map(str::to_string), persistent: Some(persistent) })
    }

    async fn inject_nmi(&self, task: &mut TaskContext) -> Result<(), Error> {
        let info = parse_driver_info(&task.node)?;
        chassis_control(&self.client, &info, ChassisControl::DiagnosticInterrupt, "inject NMI").await
    }
}

/// `ipmitool` vendor passthru: `send_raw` (raw bytes, as `ipmitool raw`) and `bmc_reset`.
pub struct IpmiVendor {
    client: Arc<IpmiClient>,
}

impl IpmiVendor {
    pub fn new(client: Arc<IpmiClient>) -> IpmiVendor {
        IpmiVendor { client }
    }
}

#[async_trait]
impl BaseInterface for IpmiVendor {
    fn name(&self) -> &'static str {
        IPMITOOL
    }
    fn properties(&self) -> BTreeMap<String, String> {
        ipmi_properties()
    }
    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        parse_driver_info(&task.node).map(|_| ())
    }
}

#[async_trait]
impl VendorInterface for IpmiVendor {
    fn methods(&self) -> BTreeMap<String, VendorMethod> {
        let m = |d: &str| VendorMethod {
            http_methods: vec!["POST".into()],
            is_async: true,
            description: d.into(),
            attach: false,
            require_exclusive_lock: true,
        };
        BTreeMap::from([
            (
                "send_raw".to_string(),
                m("Send raw bytes to the BMC. Required argument: 'raw_bytes' - a string of raw bytes (e.g. '0x00 0x01')."),
            ),
            ("bmc_reset".to_string(), m("Reset the BMC. Optional argument: 'warm' (default true).")),
        ])
    }

    async fn call(
        &self,
        task: &mut TaskContext,
        method: &str,
        _http_method: &str,
        args: &Value,
    ) -> Result<Value, Error> {
        let info = parse_driver_info(&task.node)?;
        match method {
            "send_raw" => {
                let Some(text) = args.get("raw_bytes").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
                    return Err(Error::missing("Parameter raw_bytes (string of bytes) was not specified."));
                };
                let bytes = parse_raw_bytes(text).map_err(|m| Error::invalid(format!("Invalid raw_bytes: {m}")))?;
                let (netfn, cmd, data) = (bytes[0], bytes[1], bytes[2..].to_vec());
                if netfn & 1 == 1 || netfn > 0x3e {
                    return Err(Error::invalid(format!(
                        "Invalid raw_bytes: 0x{netfn:02x} is not a request network function"
                    )));
                }
                raw(&self.client, &info, "raw command", netfn, cmd, data).await?;
                Ok(Value::Null)
            }
            "bmc_reset" => {
                let warm = args.get("warm").and_then(crate::driver_info::parse_bool_value).unwrap_or(true);
                let cmd = if warm { CMD_WARM_RESET } else { CMD_COLD_RESET };
                raw(&self.client, &info, "BMC reset", NETFN_APP, cmd, vec![]).await?;
                Ok(Value::Null)
            }
            _ => Err(Error::invalid(format!("No handler for method {method}"))),
        }
    }
}
