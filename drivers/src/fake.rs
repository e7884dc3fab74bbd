//! `fake` implementations of every interface kind (Ironic's `ironic/drivers/modules/fake.py`):
//! instant, no I/O, for tests and benchmarks — with optional delays, failure injection and call
//! recording chosen per node through `driver_info`:
//!
//! | key | meaning |
//! |---|---|
//! | `fake_delay` | seconds every fake call takes (number or numeric string, ≤ `[drivers.fake] max_delay_s`) |
//! | `fake_<kind>_delay` | same, for one interface kind only (e.g. `fake_power_delay`); wins over `fake_delay` |
//! | `fake_fail` | calls that fail with `DriverOperationError`: list or comma-separated string of `method`, `kind.method`, `kind.*` or `*` (e.g. `"power.set_power_state,deploy"`); `validate` included |
//! | `fake_fail_rate` | probability 0–1 that any other fake call fails |
//! | `fake_fail_message` | the message of injected failures |
//! | `fake_wait` | asynchronous methods that answer `Wait` instead of `Done` (e.g. `deploy`, `prepare_cleaning`, `inspect_hardware`, `rescue`, `create_configuration`, steps by name) |
//! | `fake_record_path` | absolute path of a JSON-lines file: every fake call appends one line `{"ts_us","node","call","member","holder","generation"}` with a single `O_APPEND` write |
//!
//! The power state of a fake node is the node's own `power_state` (so it survives a take-over by
//! another member), as Ironic's fake power does. Every call is also kept by the member's
//! in-process [`FakeRecorder`] (bounded), for unit tests.

use crate::config::FakeConfig;
use crate::driver_info::{opt_f64, opt_list, opt_str};
use crate::interfaces::*;
use async_trait::async_trait;
use ferric_model::steps::{Step, StepDecl, StepKind};
use ferric_model::{Dict, Error, InterfaceKind, PowerAction, PowerState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The implementation name of every fake interface.
pub const FAKE: &str = "fake";

/// The `driver_info` keys the fake implementations understand.
pub fn fake_properties() -> BTreeMap<String, String> {
    [
        ("fake_delay", "Seconds every fake call takes. Optional."),
        (
            "fake_fail",
            "Fake calls that fail: list or comma-separated 'method', 'kind.method', 'kind.*' or '*'. Optional.",
        ),
        ("fake_fail_rate", "Probability (0-1) that any other fake call fails. Optional."),
        ("fake_fail_message", "Message of injected failures. Optional."),
        ("fake_wait", "Asynchronous fake methods that answer 'wait' instead of 'done'. Optional."),
        ("fake_record_path", "Absolute path of a JSON-lines file recording every fake call. Optional."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One recorded fake call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeCall {
    /// Wall clock, microseconds since the epoch.
    pub ts_us: i64,
    /// Node uuid.
    pub node: String,
    /// `kind.method`, e.g. `power.set_power_state`.
    pub call: String,
    /// The member that ran the call (`task.member`).
    pub member: String,
    /// The lock the call ran under (`task.lock`), if any.
    pub holder: Option<String>,
    pub generation: Option<u64>,
}

/// The in-process record of fake calls of one member (bounded: the oldest entries go first).
#[derive(Debug)]
pub struct FakeRecorder {
    capacity: usize,
    calls: Mutex<VecDeque<FakeCall>>,
}

impl FakeRecorder {
    pub fn new(capacity: usize) -> FakeRecorder {
        FakeRecorder { capacity: capacity.max(1), calls: Mutex::new(VecDeque::new()) }
    }

    fn push(&self, c: FakeCall) {
        let mut q = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= self.capacity {
            q.pop_front();
        }
        q.push_back(c);
    }

    /// Every recorded call, oldest first.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// The calls made on one node, as `kind.method` names, oldest first.
    pub fn calls_for(&self, node: &str) -> Vec<String> {
        self.calls().into_iter().filter(|c| c.node == node).map(|c| c.call).collect()
    }

    pub fn clear(&self) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Reads a `fake_record_path` file back (skipping torn or foreign lines).
pub fn read_record_file(path: &std::path::Path) -> std::io::Result<Vec<FakeCall>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// What every fake implementation shares: the recorder and the limits.
#[derive(Debug, Clone)]
pub struct FakeShared {
    pub recorder: Arc<FakeRecorder>,
    pub config: FakeConfig,
}

/// The per-node fake knobs, parsed from `driver_info`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Knobs {
    delay_s: f64,
    fail: Vec<String>,
    fail_rate: f64,
    fail_message: Option<String>,
    wait: Vec<String>,
    record_path: Option<String>,
}

fn matches(list: &[String], kind: InterfaceKind, method: &str) -> bool {
    let full = format!("{}.{}", kind.as_str(), method);
    let any_kind = format!("{}.*", kind.as_str());
    list.iter().any(|x| x == "*" || *x == full || *x == any_kind || x == method)
}

impl FakeShared {
    fn knobs(&self, info: &Dict, kind: InterfaceKind) -> Result<Knobs, Error> {
        let mut k = Knobs::default();
        let per_kind = format!("fake_{}_delay", kind.as_str());
        let delay = match opt_f64(info, &per_kind)? {
            Some(d) => Some((per_kind.as_str(), d)),
            None => opt_f64(info, "fake_delay")?.map(|d| ("fake_delay", d)),
        };
        if let Some((field, d)) = delay {
            if !(0.0..=self.config.max_delay_s).contains(&d) {
                return Err(Error::invalid(format!(
                    "Invalid value for driver_info/{field}: {d} is not between 0 and {} seconds",
                    self.config.max_delay_s
                )));
            }
            k.delay_s = d;
        }
        k.fail = opt_list(info, "fake_fail")?.unwrap_or_default();
        if let Some(r) = opt_f64(info, "fake_fail_rate")? {
            if !(0.0..=1.0).contains(&r) {
                return Err(Error::invalid(format!(
                    "Invalid value for driver_info/fake_fail_rate: {r} is not between 0 and 1"
                )));
            }
            k.fail_rate = r;
        }
        k.fail_message = opt_str(info, "fake_fail_message")?;
        k.wait = opt_list(info, "fake_wait")?.unwrap_or_default();
        if let Some(p) = opt_str(info, "fake_record_path")? {
            if !p.starts_with('/') {
                return Err(Error::invalid(format!(
                    "Invalid value for driver_info/fake_record_path: {p:?} is not an absolute path"
                )));
            }
            k.record_path = Some(p);
        }
        Ok(k)
    }

    /// Checks the fake knobs (no I/O). `fake_fail` naming `validate` fails here.
    pub fn validate(&self, task: &TaskContext, kind: InterfaceKind) -> Result<(), Error> {
        let k = self.knobs(&task.node.driver_info, kind)?;
        if matches(&k.fail, kind, "validate") {
            return Err(Error::invalid(k.fail_message.unwrap_or_else(|| {
                format!("Injected failure of {}.validate (driver_info fake_fail)", kind.as_str())
            })));
        }
        Ok(())
    }

    /// One fake call: record it, take the delay, maybe fail. Returns whether it should answer
    /// `Wait` (for asynchronous methods).
    pub async fn call(&self, task: &TaskContext, kind: InterfaceKind, method: &str) -> Result<bool, Error> {
        let k = self.knobs(&task.node.driver_info, kind)?;
        let call = FakeCall {
            ts_us: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0),
            node: task.node.uuid.to_string(),
            call: format!("{}.{}", kind.as_str(), method),
            member: task.member.clone(),
            holder: task.lock.as_ref().map(|l| l.holder.clone()),
            generation: task.lock.as_ref().map(|l| l.generation),
        };
        if let Some(path) = &k.record_path {
            append_record(path, &call)?;
        }
        self.recorder.push(call.clone());
        if k.delay_s > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(k.delay_s)).await;
        }
        let injected = matches(&k.fail, kind, method) || (k.fail_rate > 0.0 && rand::random::<f64>() < k.fail_rate);
        if injected {
            return Err(Error::DriverOperationError {
                message: k.fail_message.unwrap_or_else(|| {
                    format!("Injected failure of {} on node {} (driver_info fake_fail)", call.call, call.node)
                }),
            });
        }
        Ok(matches(&k.wait, kind, method))
    }
}

/// One JSON line, one `write(2)` on an `O_APPEND` descriptor: lines of concurrent writers (also
/// in other processes) never interleave.
fn append_record(path: &str, call: &FakeCall) -> Result<(), Error> {
    let mut line = serde_json::to_vec(call).map_err(|e| Error::internal(format!("fake record: {e}")))?;
    line.push(b'\n');
    let fail = |e: std::io::Error| Error::DriverOperationError {
        message: format!("fake_record_path {path}: cannot append the call record: {e}"),
    };
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
    let n = f.write(&line).map_err(fail)?;
    if n != line.len() {
        return Err(fail(std::io::Error::other("short write")));
    }
    Ok(())
}

fn wait_or_done(wait: bool) -> StepResult {
    if wait {
        StepResult::Wait
    } else {
        StepResult::Done
    }
}

fn decl(
    kind: InterfaceKind,
    step: &str,
    priority: i32,
    argsinfo: Option<Value>,
    abortable: bool,
    requires_ramdisk: bool,
) -> StepDecl {
    StepDecl {
        interface: kind,
        step: step.to_string(),
        priority,
        argsinfo: argsinfo.and_then(|v| v.as_object().cloned()),
        abortable,
        requires_ramdisk,
    }
}

fn settings_arg(step: &Step) -> Result<Vec<Value>, Error> {
    match step.args.get("settings") {
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(Error::invalid(format!("Step {}: 'settings' must be a list", step.step))),
        None => Err(Error::missing(format!("Step {}: missing required argument 'settings'", step.step))),
    }
}

macro_rules! fake_base {
    (no_validate) => {
        fn name(&self) -> &'static str {
            FAKE
        }
        fn properties(&self) -> BTreeMap<String, String> {
            fake_properties()
        }
    };
    ($kind:expr) => {
        fake_base!(no_validate);
        fn validate(&self, task: &TaskContext) -> Result<(), Error> {
            self.0.validate(task, $kind)
        }
    };
}

/// Fake power: the state is `task.node.power_state`.
#[derive(Debug, Clone)]
pub struct FakePower(pub FakeShared);

#[async_trait]
impl BaseInterface for FakePower {
    fake_base!(InterfaceKind::Power);

    fn periodic_tasks(&self) -> Vec<PeriodicTask> {
        if self.0.config.periodic_spacing_s == 0 {
            return Vec::new();
        }
        vec![PeriodicTask {
            name: "power.fake.record_owned_nodes".into(),
            spacing: Duration::from_secs(self.0.config.periodic_spacing_s),
            parallel: true,
            task: Arc::new(FakePeriodic(self.0.clone())),
        }]
    }
}

#[async_trait]
impl PowerInterface for FakePower {
    async fn get_power_state(&self, task: &TaskContext) -> Result<PowerState, Error> {
        self.0.call(task, InterfaceKind::Power, "get_power_state").await?;
        Ok(task.node.power_state.unwrap_or(PowerState::Off))
    }

    async fn get_power_state_if_known(&self, task: &TaskContext) -> Result<Option<PowerState>, Error> {
        self.0.call(task, InterfaceKind::Power, "get_power_state").await?;
        Ok(task.node.power_state)
    }

    async fn set_power_state(
        &self,
        task: &mut TaskContext,
        action: PowerAction,
        _timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Power, "set_power_state").await?;
        match action {
            PowerAction::On | PowerAction::Off | PowerAction::SoftOff | PowerAction::SoftReboot => {
                task.node.power_state = Some(action.resulting_state());
                Ok(())
            }
            PowerAction::Reboot => {
                Err(Error::invalid(format!("set_power_state called with an invalid power state: {}.", action.as_str())))
            }
        }
    }

    async fn reboot(&self, task: &mut TaskContext, _soft: bool, _timeout: Option<Duration>) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Power, "reboot").await?;
        task.node.power_state = Some(PowerState::On);
        Ok(())
    }

    fn supported_power_states(&self, _task: &TaskContext) -> Vec<PowerAction> {
        vec![PowerAction::On, PowerAction::Off, PowerAction::Reboot, PowerAction::SoftReboot, PowerAction::SoftOff]
    }
}

/// The driver_internal_info keys the fake management keeps its boot device in.
const FAKE_BOOT_DEVICE: &str = "fake_boot_device";
const FAKE_BOOT_PERSISTENT: &str = "fake_boot_device_persistent";
const FAKE_BOOT_MODE: &str = "fake_boot_mode";
const FAKE_SECURE_BOOT: &str = "fake_secure_boot";

/// Fake management: boot device, boot mode and secure boot kept in `driver_internal_info`
/// (Ironic's fake always answers "pxe"; Ferric remembers what was set, so the same conformance
/// suite runs against it).
#[derive(Debug, Clone)]
pub struct FakeManagement(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeManagement {
    fake_base!(InterfaceKind::Management);
}

#[async_trait]
impl ManagementInterface for FakeManagement {
    async fn get_supported_boot_devices(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        self.0.call(task, InterfaceKind::Management, "get_supported_boot_devices").await?;
        Ok(vec!["pxe".into(), "disk".into(), "cdrom".into(), "bios".into(), "safe".into()])
    }

    async fn set_boot_device(&self, task: &mut TaskContext, device: &str, persistent: bool) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Management, "set_boot_device").await?;
        if !["pxe", "disk", "cdrom", "bios", "safe"].contains(&device) {
            return Err(Error::invalid(format!("Invalid boot device {device} specified.")));
        }
        let dii = &mut task.node.driver_internal_info;
        dii.insert(FAKE_BOOT_DEVICE.into(), json!(device));
        dii.insert(FAKE_BOOT_PERSISTENT.into(), json!(persistent));
        Ok(())
    }

    async fn get_boot_device(&self, task: &TaskContext) -> Result<BootDeviceInfo, Error> {
        self.0.call(task, InterfaceKind::Management, "get_boot_device").await?;
        let dii = &task.node.driver_internal_info;
        match dii.get(FAKE_BOOT_DEVICE).and_then(Value::as_str) {
            Some(d) => Ok(BootDeviceInfo {
                boot_device: Some(d.to_string()),
                persistent: dii.get(FAKE_BOOT_PERSISTENT).and_then(Value::as_bool),
            }),
            None => Ok(BootDeviceInfo { boot_device: Some("pxe".into()), persistent: Some(false) }),
        }
    }

    async fn get_sensors_data(&self, task: &TaskContext) -> Result<Dict, Error> {
        self.0.call(task, InterfaceKind::Management, "get_sensors_data").await?;
        Ok(Dict::new())
    }

    async fn inject_nmi(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Management, "inject_nmi").await?;
        Ok(())
    }

    async fn get_supported_boot_modes(&self, task: &TaskContext) -> Result<Vec<String>, Error> {
        self.0.call(task, InterfaceKind::Management, "get_supported_boot_modes").await?;
        Ok(vec!["bios".into(), "uefi".into()])
    }

    async fn get_boot_mode(&self, task: &TaskContext) -> Result<Option<String>, Error> {
        self.0.call(task, InterfaceKind::Management, "get_boot_mode").await?;
        Ok(Some(
            task.node.driver_internal_info.get(FAKE_BOOT_MODE).and_then(Value::as_str).unwrap_or("uefi").to_string(),
        ))
    }

    async fn set_boot_mode(&self, task: &mut TaskContext, mode: &str) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Management, "set_boot_mode").await?;
        if !["bios", "uefi"].contains(&mode) {
            return Err(Error::invalid(format!("Invalid boot mode {mode} specified.")));
        }
        task.node.driver_internal_info.insert(FAKE_BOOT_MODE.into(), json!(mode));
        Ok(())
    }

    /// Ironic's fake indicators: a read-only chassis `led-0`, a settable system `led`.
    async fn get_supported_indicators(&self, task: &TaskContext, component: Option<&str>) -> Result<Value, Error> {
        self.0.call(task, InterfaceKind::Management, "get_supported_indicators").await?;
        let all = fake_indicators();
        Ok(match component {
            None => all,
            Some(c) => json!({ c: all.get(c).cloned().unwrap_or(json!({})) }),
        })
    }

    async fn set_indicator_state(&self, task: &mut TaskContext, component: &str, indicator: &str, state: &str) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Management, "set_indicator_state").await?;
        let spec = fake_indicators()
            .get(component)
            .and_then(|c| c.get(indicator))
            .cloned()
            .ok_or_else(|| Error::invalid(format!("Invalid indicator {component}/{indicator} specified.")))?;
        if spec["readonly"] == json!(true) {
            return Err(Error::invalid(format!("Indicator {component}/{indicator} is read-only.")));
        }
        if !spec["states"].as_array().is_some_and(|a| a.iter().any(|x| x == state)) {
            return Err(Error::invalid(format!("Invalid state {state} for indicator {component}/{indicator}.")));
        }
        task.node.driver_internal_info.insert(format!("fake_indicator_{component}_{indicator}"), json!(state));
        Ok(())
    }

    async fn get_indicator_state(&self, task: &TaskContext, component: &str, indicator: &str) -> Result<String, Error> {
        self.0.call(task, InterfaceKind::Management, "get_indicator_state").await?;
        if fake_indicators().get(component).and_then(|c| c.get(indicator)).is_none() {
            return Err(Error::invalid(format!("Invalid indicator {component}/{indicator} specified.")));
        }
        let key = format!("fake_indicator_{component}_{indicator}");
        Ok(task.node.driver_internal_info.get(&key).and_then(Value::as_str).unwrap_or("on").to_string())
    }

    async fn get_secure_boot_state(&self, task: &TaskContext) -> Result<Option<bool>, Error> {
        self.0.call(task, InterfaceKind::Management, "get_secure_boot_state").await?;
        Ok(Some(task.node.driver_internal_info.get(FAKE_SECURE_BOOT).and_then(Value::as_bool).unwrap_or(false)))
    }

    async fn set_secure_boot_state(&self, task: &mut TaskContext, enabled: bool) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Management, "set_secure_boot_state").await?;
        task.node.driver_internal_info.insert(FAKE_SECURE_BOOT.into(), json!(enabled));
        Ok(())
    }
}

fn fake_indicators() -> Value {
    json!({
        "chassis": {"led-0": {"readonly": true, "states": ["off", "on"]}},
        "system": {"led": {"readonly": false, "states": ["blinking", "off", "on"]}},
    })
}

#[derive(Debug, Clone)]
pub struct FakeBoot(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeBoot {
    fake_base!(InterfaceKind::Boot);
}

#[async_trait]
impl BootInterface for FakeBoot {
    async fn prepare_ramdisk(&self, task: &mut TaskContext, _ramdisk_params: &Dict) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Boot, "prepare_ramdisk").await.map(|_| ())
    }
    async fn clean_up_ramdisk(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Boot, "clean_up_ramdisk").await.map(|_| ())
    }
    async fn prepare_instance(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Boot, "prepare_instance").await.map(|_| ())
    }
    async fn clean_up_instance(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Boot, "clean_up_instance").await.map(|_| ())
    }
}

/// Fake deploy: the `deploy.deploy` deploy step (priority 100), everything else instant.
#[derive(Debug, Clone)]
pub struct FakeDeploy(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeDeploy {
    fake_base!(InterfaceKind::Deploy);

    fn steps(&self) -> Vec<DeclaredStep> {
        vec![DeclaredStep {
            kinds: vec![StepKind::Deploy],
            decl: decl(InterfaceKind::Deploy, "deploy", 100, None, true, true),
        }]
    }

    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        match step.step.as_str() {
            "deploy" => self.deploy(task).await,
            _ => Err(unsupported(&format!("step deploy.{}", step.step), &task.node)),
        }
    }
}

#[async_trait]
impl DeployInterface for FakeDeploy {
    async fn deploy(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        self.0.call(task, InterfaceKind::Deploy, "deploy").await.map(wait_or_done)
    }
    async fn tear_down(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Deploy, "tear_down").await.map(|_| ())
    }
    async fn prepare(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Deploy, "prepare").await.map(|_| ())
    }
    async fn clean_up(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Deploy, "clean_up").await.map(|_| ())
    }
    async fn take_over(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Deploy, "take_over").await.map(|_| ())
    }
    async fn prepare_cleaning(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        self.0.call(task, InterfaceKind::Deploy, "prepare_cleaning").await.map(wait_or_done)
    }
    async fn tear_down_cleaning(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Deploy, "tear_down_cleaning").await.map(|_| ())
    }
    async fn prepare_service(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        self.0.call(task, InterfaceKind::Deploy, "prepare_service").await.map(wait_or_done)
    }
    async fn tear_down_service(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Deploy, "tear_down_service").await.map(|_| ())
    }
}

#[derive(Debug, Clone)]
pub struct FakeInspect(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeInspect {
    fake_base!(InterfaceKind::Inspect);
}

#[async_trait]
impl InspectInterface for FakeInspect {
    async fn inspect_hardware(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        self.0.call(task, InterfaceKind::Inspect, "inspect_hardware").await.map(wait_or_done)
    }
    async fn abort(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Inspect, "abort").await.map(|_| ())
    }
    async fn continue_inspection(&self, task: &mut TaskContext, _inventory: &Value, _plugin_data: &Value) -> Result<StepResult, Error> {
        self.0.call(task, InterfaceKind::Inspect, "continue_inspection").await.map(wait_or_done)
    }
}

/// Fake RAID: records the target configuration as the current one.
#[derive(Debug, Clone)]
pub struct FakeRaid(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeRaid {
    fake_base!(no_validate);

    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        self.0.validate(task, InterfaceKind::Raid)?;
        if !task.node.target_raid_config.is_empty() {
            crate::raid::validate_target_raid_config(&task.node.target_raid_config)?;
        }
        Ok(())
    }

    fn steps(&self) -> Vec<DeclaredStep> {
        let create_args = json!({
            "create_root_volume": {"description": "Whether to create the root volume. Default true.", "required": false},
            "create_nonroot_volumes": {"description": "Whether to create the non-root volumes. Default true.", "required": false},
            "delete_existing": {"description": "Whether to delete the existing configuration first. Default true.", "required": false},
        });
        vec![
            DeclaredStep {
                kinds: vec![StepKind::Clean, StepKind::Service],
                decl: decl(InterfaceKind::Raid, "create_configuration", 0, Some(create_args), false, false),
            },
            DeclaredStep {
                kinds: vec![StepKind::Clean, StepKind::Service],
                decl: decl(InterfaceKind::Raid, "delete_configuration", 0, None, false, false),
            },
            DeclaredStep {
                kinds: vec![StepKind::Deploy],
                decl: decl(
                    InterfaceKind::Raid,
                    "apply_configuration",
                    0,
                    Some(json!({"raid_config": {"description": "The RAID configuration to apply.", "required": true}})),
                    true,
                    false,
                ),
            },
        ]
    }

    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        let flag = |k: &str| step.args.get(k).and_then(crate::driver_info::parse_bool_value).unwrap_or(true);
        match step.step.as_str() {
            "create_configuration" => {
                self.create_configuration(
                    task,
                    flag("create_root_volume"),
                    flag("create_nonroot_volumes"),
                    flag("delete_existing"),
                )
                .await
            }
            "delete_configuration" => self.delete_configuration(task).await,
            "apply_configuration" => {
                let Some(Value::Object(cfg)) = step.args.get("raid_config") else {
                    return Err(Error::missing(
                        "Step raid.apply_configuration: missing required argument 'raid_config'",
                    ));
                };
                self.validate_raid_config(task, cfg)?;
                task.node.target_raid_config = cfg.clone();
                self.create_configuration(task, true, true, true).await
            }
            _ => Err(unsupported(&format!("step raid.{}", step.step), &task.node)),
        }
    }
}

#[async_trait]
impl RaidInterface for FakeRaid {
    async fn create_configuration(
        &self,
        task: &mut TaskContext,
        create_root_volume: bool,
        create_nonroot_volumes: bool,
        _delete_existing: bool,
    ) -> Result<StepResult, Error> {
        let wait = self.0.call(task, InterfaceKind::Raid, "create_configuration").await?;
        if task.node.target_raid_config.is_empty() {
            return Err(Error::missing(format!("Node {} has no target RAID configuration.", task.node.uuid)));
        }
        let mut current = task.node.target_raid_config.clone();
        if let Some(Value::Array(disks)) = current.get_mut("logical_disks") {
            disks.retain(|d| {
                let root = d.get("is_root_volume").and_then(Value::as_bool).unwrap_or(false);
                (root && create_root_volume) || (!root && create_nonroot_volumes)
            });
        }
        task.node.raid_config = current;
        Ok(wait_or_done(wait))
    }

    async fn delete_configuration(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        let wait = self.0.call(task, InterfaceKind::Raid, "delete_configuration").await?;
        task.node.raid_config = Dict::new();
        Ok(wait_or_done(wait))
    }
}

/// Fake BIOS: settings kept in `driver_internal_info["bios_settings"]` (`{name: value}`).
#[derive(Debug, Clone)]
pub struct FakeBios(pub FakeShared);

fn bios_settings_args() -> Value {
    json!({"settings": {"description": "List of BIOS settings, each item needs to contain a dictionary with name/value pairs", "required": true}})
}

#[async_trait]
impl BaseInterface for FakeBios {
    fake_base!(InterfaceKind::Bios);

    fn steps(&self) -> Vec<DeclaredStep> {
        vec![
            DeclaredStep {
                kinds: vec![StepKind::Clean, StepKind::Service],
                decl: decl(InterfaceKind::Bios, "apply_configuration", 0, Some(bios_settings_args()), false, false),
            },
            DeclaredStep {
                kinds: vec![StepKind::Clean, StepKind::Service],
                decl: decl(InterfaceKind::Bios, "factory_reset", 0, None, false, false),
            },
            DeclaredStep {
                kinds: vec![StepKind::Clean],
                decl: decl(InterfaceKind::Bios, "cache_bios_settings", 0, None, false, false),
            },
        ]
    }

    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        match step.step.as_str() {
            "apply_configuration" => {
                let settings = settings_arg(step)?;
                self.apply_configuration(task, &settings).await
            }
            "factory_reset" => self.factory_reset(task).await,
            "cache_bios_settings" => self.cache_bios_settings(task).await.map(|_| StepResult::Done),
            _ => Err(unsupported(&format!("step bios.{}", step.step), &task.node)),
        }
    }
}

#[async_trait]
impl BiosInterface for FakeBios {
    async fn apply_configuration(&self, task: &mut TaskContext, settings: &[Value]) -> Result<StepResult, Error> {
        let wait = self.0.call(task, InterfaceKind::Bios, "apply_configuration").await?;
        let mut current =
            task.node.driver_internal_info.get("bios_settings").and_then(Value::as_object).cloned().unwrap_or_default();
        for s in settings {
            let (Some(name), Some(value)) = (s.get("name").and_then(Value::as_str), s.get("value")) else {
                return Err(Error::invalid(format!("Invalid BIOS setting {s}: 'name' and 'value' are required")));
            };
            current.insert(name.to_string(), value.clone());
        }
        task.node.driver_internal_info.insert("bios_settings".into(), Value::Object(current));
        Ok(wait_or_done(wait))
    }

    async fn factory_reset(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        let wait = self.0.call(task, InterfaceKind::Bios, "factory_reset").await?;
        task.node.driver_internal_info.insert("bios_settings".into(), Value::Object(Dict::new()));
        Ok(wait_or_done(wait))
    }

    async fn cache_bios_settings(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Bios, "cache_bios_settings").await?;
        if !task.node.driver_internal_info.contains_key("bios_settings") {
            task.node.driver_internal_info.insert("bios_settings".into(), Value::Object(Dict::new()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct FakeFirmware(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeFirmware {
    fake_base!(InterfaceKind::Firmware);

    fn steps(&self) -> Vec<DeclaredStep> {
        vec![DeclaredStep {
            kinds: vec![StepKind::Clean, StepKind::Service],
            decl: decl(
                InterfaceKind::Firmware,
                "update",
                0,
                Some(
                    json!({"settings": {"description": "List of Firmware components, each item needs to contain a dictionary with name/value pairs", "required": true}}),
                ),
                false,
                false,
            ),
        }]
    }

    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        match step.step.as_str() {
            "update" => {
                let settings = settings_arg(step)?;
                self.update(task, &settings).await
            }
            _ => Err(unsupported(&format!("step firmware.{}", step.step), &task.node)),
        }
    }
}

#[async_trait]
impl FirmwareInterface for FakeFirmware {
    async fn update(&self, task: &mut TaskContext, _settings: &[Value]) -> Result<StepResult, Error> {
        self.0.call(task, InterfaceKind::Firmware, "update").await.map(wait_or_done)
    }
    async fn cache_firmware_components(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Firmware, "cache_firmware_components").await.map(|_| ())
    }
}

#[derive(Debug, Clone)]
pub struct FakeConsole(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeConsole {
    fake_base!(InterfaceKind::Console);
}

#[async_trait]
impl ConsoleInterface for FakeConsole {
    async fn start_console(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Console, "start_console").await.map(|_| ())
    }
    async fn stop_console(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Console, "stop_console").await.map(|_| ())
    }
    async fn get_console(&self, task: &TaskContext) -> Result<Value, Error> {
        self.0.call(task, InterfaceKind::Console, "get_console").await?;
        Ok(json!({}))
    }
}

#[derive(Debug, Clone)]
pub struct FakeRescue(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeRescue {
    fake_base!(InterfaceKind::Rescue);
}

#[async_trait]
impl RescueInterface for FakeRescue {
    async fn rescue(&self, task: &mut TaskContext) -> Result<StepResult, Error> {
        self.0.call(task, InterfaceKind::Rescue, "rescue").await.map(wait_or_done)
    }
    async fn unrescue(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Rescue, "unrescue").await.map(|_| ())
    }
    async fn clean_up(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Rescue, "clean_up").await.map(|_| ())
    }
}

#[derive(Debug, Clone)]
pub struct FakeStorage(pub FakeShared);

#[async_trait]
impl BaseInterface for FakeStorage {
    fake_base!(InterfaceKind::Storage);
}

#[async_trait]
impl StorageInterface for FakeStorage {
    async fn attach_volumes(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Storage, "attach_volumes").await.map(|_| ())
    }
    async fn detach_volumes(&self, task: &mut TaskContext) -> Result<(), Error> {
        self.0.call(task, InterfaceKind::Storage, "detach_volumes").await.map(|_| ())
    }
}

/// Fake vendor passthru, Ironic's `FakeVendorB` (its entry point is `fake`): methods
/// `second_method`, `third_method_sync`, `fourth_method_shared_lock`, `log_passthrough` (also a
/// clean step, priority 1, and a service step) and the `trigger_servicewait` service step.
#[derive(Debug, Clone)]
pub struct FakeVendor(pub FakeShared);

fn vendor_method(description: &str, is_async: bool, require_exclusive_lock: bool) -> VendorMethod {
    VendorMethod {
        http_methods: vec!["POST".into()],
        is_async,
        description: description.into(),
        attach: false,
        require_exclusive_lock,
    }
}

#[async_trait]
impl BaseInterface for FakeVendor {
    fn name(&self) -> &'static str {
        FAKE
    }
    fn properties(&self) -> BTreeMap<String, String> {
        let mut p = fake_properties();
        p.insert("B1".into(), "B1 description. Required.".into());
        p.insert("B2".into(), "B2 description. Required.".into());
        p
    }
    fn validate(&self, task: &TaskContext) -> Result<(), Error> {
        self.0.validate(task, InterfaceKind::Vendor)
    }

    fn steps(&self) -> Vec<DeclaredStep> {
        vec![
            DeclaredStep {
                kinds: vec![StepKind::Clean],
                decl: decl(InterfaceKind::Vendor, "log_passthrough", 1, None, false, true),
            },
            DeclaredStep {
                kinds: vec![StepKind::Service],
                decl: decl(InterfaceKind::Vendor, "log_passthrough", 0, None, false, false),
            },
            DeclaredStep {
                kinds: vec![StepKind::Service],
                decl: decl(InterfaceKind::Vendor, "trigger_servicewait", 0, None, false, true),
            },
        ]
    }

    async fn execute_step(&self, task: &mut TaskContext, _kind: StepKind, step: &Step) -> Result<StepResult, Error> {
        match step.step.as_str() {
            "log_passthrough" => {
                self.0.call(task, InterfaceKind::Vendor, "log_passthrough").await.map(|_| StepResult::Done)
            }
            "trigger_servicewait" => {
                self.0.call(task, InterfaceKind::Vendor, "trigger_servicewait").await?;
                Ok(StepResult::Wait)
            }
            _ => Err(unsupported(&format!("step vendor.{}", step.step), &task.node)),
        }
    }
}

#[async_trait]
impl VendorInterface for FakeVendor {
    fn methods(&self) -> BTreeMap<String, VendorMethod> {
        BTreeMap::from([
            ("second_method".to_string(), vendor_method("Test if the value of bar is kazoo", true, true)),
            ("third_method_sync".to_string(), vendor_method("Test if the value of bar is meow", false, true)),
            ("fourth_method_shared_lock".to_string(), vendor_method("Test if the value of bar is woof", true, false)),
            ("log_passthrough".to_string(), vendor_method("Test pass-through to wait.", true, true)),
        ])
    }

    async fn call(
        &self,
        task: &mut TaskContext,
        method: &str,
        _http_method: &str,
        info: &Value,
    ) -> Result<Value, Error> {
        let expect = match method {
            "second_method" => Some("kazoo"),
            "third_method_sync" => Some("meow"),
            "fourth_method_shared_lock" => Some("woof"),
            "log_passthrough" => None,
            _ => return Err(Error::invalid(format!("No handler for method {method}"))),
        };
        self.0.call(task, InterfaceKind::Vendor, method).await?;
        match expect {
            None => Ok(Value::Null),
            Some(want) => match info.get("bar").and_then(Value::as_str) {
                Some(bar) if !bar.is_empty() => Ok(json!(bar == want)),
                _ => Err(Error::missing(format!("Parameter 'bar' not passed to method '{method}'."))),
            },
        }
    }
}

/// The fake power interface's periodic task: one `power.periodic` record per owned fake node
/// that has `fake_record_path` (lets a multi-member test see which member ran it for which node).
pub struct FakePeriodic(pub FakeShared);

#[async_trait]
impl DriverPeriodic for FakePeriodic {
    async fn run(&self, host: &dyn PeriodicHost) -> Result<(), Error> {
        for node in host.owned_nodes(InterfaceKind::Power, FAKE) {
            if !node.driver_info.contains_key("fake_record_path") {
                continue;
            }
            let task = TaskContext::new(node, host.member());
            // Delays and injected failures apply as to any other fake call.
            let _ = self.0.call(&task, InterfaceKind::Power, "periodic").await;
        }
        Ok(())
    }
}
