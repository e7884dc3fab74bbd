//! The driver registry of one member: built once at start from [`DriversConfig`], it holds one
//! instance of every enabled interface implementation, the enabled hardware types with their
//! per-kind choices (what the member registers in its conductor record), and the driver
//! periodic tasks.
//!
//! Ironic's rules (`ironic/common/driver_factory.py`, `conductor/base_manager.py`):
//! - every name in `enabled_<kind>_interfaces` must be provided (built in, or registered by
//!   another crate through [`RegistryBuilder::implementation`]) or the member does not start;
//! - `default_<kind>_interface`, when set, must be enabled;
//! - per hardware type and kind, the enabled implementations are those the type supports, in the
//!   type's priority order (`fake-hardware` accepts every enabled one, its own list first);
//! - the default is `default_<kind>_interface` when enabled and supported by the type, else the
//!   first supported implementation that is enabled; a type with no default for some kind stops
//!   the member (NoValidDefaultForInterface), as Ironic's conductor refuses to start.

use crate::config::DriversConfig;
use crate::fake::{self, FakeRecorder, FakeShared};
use crate::hardware::{self, HardwareType};
use crate::interfaces::*;
use crate::ipmi::{IpmiClient, IpmiManagement, IpmiPower, IpmiVendor};
use crate::noop;
use crate::redfish::{RedfishBios, RedfishClient, RedfishManagement, RedfishPower};
use ferric_model::{Error, HardwareTypeInfo, InterfaceChoice, InterfaceKind, Node};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One interface implementation of some kind.
#[derive(Clone)]
pub enum Implementation {
    Bios(Arc<dyn BiosInterface>),
    Boot(Arc<dyn BootInterface>),
    Console(Arc<dyn ConsoleInterface>),
    Deploy(Arc<dyn DeployInterface>),
    Firmware(Arc<dyn FirmwareInterface>),
    Inspect(Arc<dyn InspectInterface>),
    Management(Arc<dyn ManagementInterface>),
    Network(Arc<dyn NetworkInterface>),
    Power(Arc<dyn PowerInterface>),
    Raid(Arc<dyn RaidInterface>),
    Rescue(Arc<dyn RescueInterface>),
    Storage(Arc<dyn StorageInterface>),
    Vendor(Arc<dyn VendorInterface>),
}

impl Implementation {
    pub fn kind(&self) -> InterfaceKind {
        match self {
            Implementation::Bios(_) => InterfaceKind::Bios,
            Implementation::Boot(_) => InterfaceKind::Boot,
            Implementation::Console(_) => InterfaceKind::Console,
            Implementation::Deploy(_) => InterfaceKind::Deploy,
            Implementation::Firmware(_) => InterfaceKind::Firmware,
            Implementation::Inspect(_) => InterfaceKind::Inspect,
            Implementation::Management(_) => InterfaceKind::Management,
            Implementation::Network(_) => InterfaceKind::Network,
            Implementation::Power(_) => InterfaceKind::Power,
            Implementation::Raid(_) => InterfaceKind::Raid,
            Implementation::Rescue(_) => InterfaceKind::Rescue,
            Implementation::Storage(_) => InterfaceKind::Storage,
            Implementation::Vendor(_) => InterfaceKind::Vendor,
        }
    }

    pub fn base(&self) -> &dyn BaseInterface {
        match self {
            Implementation::Bios(i) => &**i,
            Implementation::Boot(i) => &**i,
            Implementation::Console(i) => &**i,
            Implementation::Deploy(i) => &**i,
            Implementation::Firmware(i) => &**i,
            Implementation::Inspect(i) => &**i,
            Implementation::Management(i) => &**i,
            Implementation::Network(i) => &**i,
            Implementation::Power(i) => &**i,
            Implementation::Raid(i) => &**i,
            Implementation::Rescue(i) => &**i,
            Implementation::Storage(i) => &**i,
            Implementation::Vendor(i) => &**i,
        }
    }

    pub fn name(&self) -> &'static str {
        self.base().name()
    }
}

/// The implementations Ferric ships, per kind (what `enabled_<kind>_interfaces` may name
/// without an extension).
pub fn builtin_names(kind: InterfaceKind) -> &'static [&'static str] {
    use InterfaceKind::*;
    match kind {
        Bios => &["fake", "no-bios", "redfish"],
        Boot => &["fake"],
        Console => &["fake", "no-console"],
        Deploy => &["fake", "noop"],
        Firmware => &["fake", "no-firmware"],
        Inspect => &["fake", "no-inspect"],
        Management => &["fake", "ipmitool", "redfish", "noop"],
        Network => &["noop"],
        Power => &["fake", "ipmitool", "redfish"],
        Raid => &["fake", "no-raid"],
        Rescue => &["fake", "no-rescue"],
        Storage => &["noop", "fake"],
        Vendor => &["fake", "ipmitool", "no-vendor"],
    }
}

/// Shared clients the built-in implementations are made from (created only if needed).
struct Builder {
    fake: FakeShared,
    ipmi: Option<Arc<IpmiClient>>,
    redfish: Option<Arc<RedfishClient>>,
    cfg: DriversConfig,
}

impl Builder {
    fn ipmi(&mut self) -> Arc<IpmiClient> {
        let cfg = self.cfg.ipmi.clone();
        self.ipmi.get_or_insert_with(|| Arc::new(IpmiClient::new(cfg))).clone()
    }

    fn redfish(&mut self) -> Arc<RedfishClient> {
        let cfg = self.cfg.redfish.clone();
        self.redfish.get_or_insert_with(|| Arc::new(RedfishClient::new(cfg))).clone()
    }

    fn builtin(&mut self, kind: InterfaceKind, name: &str) -> Option<Implementation> {
        use InterfaceKind as K;
        let f = self.fake.clone();
        Some(match (kind, name) {
            (K::Bios, "fake") => Implementation::Bios(Arc::new(fake::FakeBios(f))),
            (K::Bios, "no-bios") => Implementation::Bios(Arc::new(noop::NoBios)),
            (K::Bios, "redfish") => Implementation::Bios(Arc::new(RedfishBios::new(self.redfish()))),
            (K::Boot, "fake") => Implementation::Boot(Arc::new(fake::FakeBoot(f))),
            (K::Console, "fake") => Implementation::Console(Arc::new(fake::FakeConsole(f))),
            (K::Console, "no-console") => Implementation::Console(Arc::new(noop::NoConsole)),
            (K::Deploy, "fake") => Implementation::Deploy(Arc::new(fake::FakeDeploy(f))),
            (K::Deploy, "noop") => Implementation::Deploy(Arc::new(noop::NoopDeploy)),
            (K::Firmware, "fake") => Implementation::Firmware(Arc::new(fake::FakeFirmware(f))),
            (K::Firmware, "no-firmware") => Implementation::Firmware(Arc::new(noop::NoFirmware)),
            (K::Inspect, "fake") => Implementation::Inspect(Arc::new(fake::FakeInspect(f))),
            (K::Inspect, "no-inspect") => Implementation::Inspect(Arc::new(noop::NoInspect)),
            (K::Management, "fake") => Implementation::Management(Arc::new(fake::FakeManagement(f))),
            (K::Management, "ipmitool") => Implementation::Management(Arc::new(IpmiManagement::new(self.ipmi()))),
            (K::Management, "redfish") => Implementation::Management(Arc::new(RedfishManagement::new(self.redfish()))),
            (K::Management, "noop") => Implementation::Management(Arc::new(noop::NoopManagement)),
            (K::Network, "noop") => Implementation::Network(Arc::new(noop::NoopNetwork)),
            (K::Power, "fake") => Implementation::Power(Arc::new(fake::FakePower(f))),
            (K::Power, "ipmitool") => Implementation::Power(Arc::new(IpmiPower::new(self.ipmi()))),
            (K::Power, "redfish") => Implementation::Power(Arc::new(RedfishPower::new(self.redfish()))),
            (K::Raid, "fake") => Implementation::Raid(Arc::new(fake::FakeRaid(f))),
            (K::Raid, "no-raid") => Implementation::Raid(Arc::new(noop::NoRaid)),
            (K::Rescue, "fake") => Implementation::Rescue(Arc::new(fake::FakeRescue(f))),
            (K::Rescue, "no-rescue") => Implementation::Rescue(Arc::new(noop::NoRescue)),
            (K::Storage, "noop") => Implementation::Storage(Arc::new(noop::NoopStorage)),
            (K::Storage, "fake") => Implementation::Storage(Arc::new(fake::FakeStorage(f))),
            (K::Vendor, "fake") => Implementation::Vendor(Arc::new(fake::FakeVendor(f))),
            (K::Vendor, "ipmitool") => Implementation::Vendor(Arc::new(IpmiVendor::new(self.ipmi()))),
            (K::Vendor, "no-vendor") => Implementation::Vendor(Arc::new(noop::NoVendor)),
            _ => return None,
        })
    }
}

/// Builds a [`DriverRegistry`] with implementations and periodic tasks from other crates.
pub struct RegistryBuilder {
    cfg: DriversConfig,
    extensions: Vec<Implementation>,
    periodic: Vec<PeriodicTask>,
    recorder: Option<Arc<FakeRecorder>>,
}

impl RegistryBuilder {
    /// Provides an implementation (e.g. `ipxe` boot or `direct` deploy from ferric-deploy). It is
    /// loaded only if its name is enabled; it replaces a built-in of the same kind and name.
    pub fn implementation(mut self, imp: Implementation) -> Self {
        self.extensions.push(imp);
        self
    }

    /// A driver-level periodic task (Ironic's `driver_periodic_task` on a driver).
    pub fn periodic_task(mut self, task: PeriodicTask) -> Self {
        self.periodic.push(task);
        self
    }

    /// Shares an in-process recorder of fake calls (e.g. one for several in-process members).
    pub fn fake_recorder(mut self, recorder: Arc<FakeRecorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    pub fn build(self) -> Result<DriverRegistry, Error> {
        DriverRegistry::build(self)
    }
}

#[derive(Clone)]
struct EnabledType {
    def: HardwareType,
    choices: BTreeMap<InterfaceKind, InterfaceChoice>,
}

/// One member's drivers. Cheap to share (`Arc` it); every method is synchronous and lock-free.
pub struct DriverRegistry {
    config: DriversConfig,
    impls: BTreeMap<(InterfaceKind, String), Implementation>,
    types: Vec<EnabledType>,
    periodic: Vec<PeriodicTask>,
    recorder: Arc<FakeRecorder>,
    ipmi: Option<Arc<IpmiClient>>,
}

fn dedup(list: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    list.iter().filter(|s| !s.is_empty() && seen.insert(s.as_str().to_string())).cloned().collect()
}

impl DriverRegistry {
    /// The registry of the built-in drivers, as configured.
    pub fn new(config: &DriversConfig) -> Result<DriverRegistry, Error> {
        DriverRegistry::builder(config).build()
    }

    pub fn builder(config: &DriversConfig) -> RegistryBuilder {
        RegistryBuilder { cfg: config.clone(), extensions: Vec::new(), periodic: Vec::new(), recorder: None }
    }

    fn build(b: RegistryBuilder) -> Result<DriverRegistry, Error> {
        let cfg = b.cfg;
        let recorder = b.recorder.unwrap_or_else(|| Arc::new(FakeRecorder::new(cfg.fake.recorder_capacity)));
        let mut builder = Builder {
            fake: FakeShared { recorder: recorder.clone(), config: cfg.fake.clone() },
            ipmi: None,
            redfish: None,
            cfg: cfg.clone(),
        };

        // 1. Load every enabled implementation, once.
        let mut impls = BTreeMap::new();
        for kind in InterfaceKind::ALL {
            for name in dedup(cfg.enabled(kind)) {
                let ext = b.extensions.iter().rev().find(|e| e.kind() == kind && e.name() == name).cloned();
                let imp = match ext {
                    Some(e) => e,
                    None => builder.builtin(kind, &name).ok_or_else(|| {
                        let mut valid: Vec<String> = builtin_names(kind).iter().map(|s| s.to_string()).collect();
                        valid.extend(b.extensions.iter().filter(|e| e.kind() == kind).map(|e| e.name().to_string()));
                        Error::InterfaceNotFoundInEntrypoint {
                            interface_type: kind.as_str().to_string(),
                            iface: name.clone(),
                            valid: format!("{valid:?}"),
                        }
                    })?,
                };
                impls.insert((kind, name), imp);
            }
            if let Some(d) = cfg.default_for(kind) {
                if !impls.contains_key(&(kind, d.to_string())) {
                    return Err(Error::invalid(format!(
                        "default_{k}_interface {d:?} is not in enabled_{k}_interfaces",
                        k = kind.as_str()
                    )));
                }
            }
        }

        // 2. Resolve every enabled hardware type.
        let known = hardware::all();
        let mut types = Vec::new();
        let enabled_types = dedup(&cfg.enabled_hardware_types);
        if enabled_types.is_empty() {
            return Err(Error::invalid("enabled_hardware_types is empty: no hardware type to load"));
        }
        for tname in enabled_types {
            let def = known
                .iter()
                .find(|t| t.name == tname)
                .cloned()
                .ok_or_else(|| Error::DriverNotFound { driver: tname.clone() })?;
            let mut choices = BTreeMap::new();
            for kind in InterfaceKind::ALL {
                let enabled_here: Vec<String> = dedup(cfg.enabled(kind));
                let supported = def.supported.get(&kind).cloned().unwrap_or_default();
                let mut list: Vec<String> =
                    supported.iter().filter(|n| enabled_here.iter().any(|e| e == *n)).map(|n| n.to_string()).collect();
                let first_supported = list.first().cloned();
                if def.accepts_any {
                    for e in &enabled_here {
                        if !list.contains(e) {
                            list.push(e.clone());
                        }
                    }
                }
                let default = match cfg.default_for(kind) {
                    Some(d) if list.iter().any(|x| x == d) => Some(d.to_string()),
                    _ => first_supported,
                };
                if default.is_none() {
                    return Err(Error::NoValidDefaultForInterface {
                        interface_type: kind.as_str().to_string(),
                        node_info: format!("hardware type {}", def.name),
                    });
                }
                choices.insert(kind, InterfaceChoice { enabled: list, default });
            }
            types.push(EnabledType { def, choices });
        }

        // 3. Periodic tasks: declared by enabled implementations, plus driver-level ones.
        let mut periodic: Vec<PeriodicTask> = Vec::new();
        for imp in impls.values() {
            periodic.extend(imp.base().periodic_tasks());
        }
        periodic.extend(b.periodic);
        let mut names = BTreeSet::new();
        for t in &periodic {
            if !names.insert(t.name.clone()) {
                return Err(Error::invalid(format!("driver periodic task {} is declared twice", t.name)));
            }
            if t.spacing.is_zero() {
                return Err(Error::invalid(format!("driver periodic task {} has a zero spacing", t.name)));
            }
        }

        Ok(DriverRegistry { config: cfg, impls, types, periodic, recorder, ipmi: builder.ipmi })
    }

    pub fn config(&self) -> &DriversConfig {
        &self.config
    }

    /// What this member registers: per enabled hardware type, per kind, the enabled
    /// implementations in priority order and the default.
    pub fn hardware_types(&self) -> Vec<HardwareTypeInfo> {
        self.types
            .iter()
            .map(|t| HardwareTypeInfo { name: t.def.name.to_string(), interfaces: t.choices.clone() })
            .collect()
    }

    fn enabled_type(&self, driver: &str) -> Result<&EnabledType, Error> {
        self.types
            .iter()
            .find(|t| t.def.name == driver)
            .ok_or_else(|| Error::DriverNotFound { driver: driver.to_string() })
    }

    /// The implementation of `kind` named `name`, if loaded.
    pub fn implementation(&self, kind: InterfaceKind, name: &str) -> Option<&Implementation> {
        self.impls.get(&(kind, name.to_string()))
    }

    /// The implementation names loaded for a kind.
    pub fn enabled_implementations(&self, kind: InterfaceKind) -> Vec<String> {
        self.impls.keys().filter(|(k, _)| *k == kind).map(|(_, n)| n.clone()).collect()
    }

    /// The implementation a node uses for a kind: its field, or the type's default when empty;
    /// refused unless the type offers it on this member.
    fn choose(&self, t: &EnabledType, node: &Node, kind: InterfaceKind) -> Result<Implementation, Error> {
        let choice = &t.choices[&kind];
        let field = node.interface(kind);
        let name = if field.is_empty() {
            choice.default.clone().ok_or_else(|| Error::NoValidDefaultForInterface {
                interface_type: kind.as_str().to_string(),
                node_info: format!("node {} with hardware type {}", node.uuid, node.driver),
            })?
        } else {
            field.to_string()
        };
        if !choice.enabled.contains(&name) {
            return Err(Error::InterfaceNotFoundInEntrypoint {
                interface_type: kind.as_str().to_string(),
                iface: name,
                valid: format!("{:?}", choice.enabled),
            });
        }
        self.impls.get(&(kind, name.clone())).cloned().ok_or_else(|| Error::InterfaceNotFoundInEntrypoint {
            interface_type: kind.as_str().to_string(),
            iface: name,
            valid: format!("{:?}", choice.enabled),
        })
    }

    /// The implementations a node uses (Ironic's `build_driver_for_task`).
    pub fn for_node(&self, node: &Node) -> Result<NodeInterfaces, Error> {
        let t = self.enabled_type(&node.driver)?;
        macro_rules! pick {
            ($kind:ident) => {
                match self.choose(t, node, InterfaceKind::$kind)? {
                    Implementation::$kind(i) => i,
                    _ => unreachable!("implementations are stored under their own kind"),
                }
            };
        }
        Ok(NodeInterfaces {
            bios: pick!(Bios),
            boot: pick!(Boot),
            console: pick!(Console),
            deploy: pick!(Deploy),
            firmware: pick!(Firmware),
            inspect: pick!(Inspect),
            management: pick!(Management),
            network: pick!(Network),
            power: pick!(Power),
            raid: pick!(Raid),
            rescue: pick!(Rescue),
            storage: pick!(Storage),
            vendor: pick!(Vendor),
        })
    }

    fn default_impl(&self, driver: &str, kind: InterfaceKind) -> Result<Implementation, Error> {
        let t = self.enabled_type(driver)?;
        let name = t.choices[&kind].default.clone().unwrap_or_default();
        self.impls.get(&(kind, name)).cloned().ok_or_else(|| Error::NoValidDefaultForInterface {
            interface_type: kind.as_str().to_string(),
            node_info: format!("hardware type {driver}"),
        })
    }

    /// `GET /v1/drivers/{driver}/properties`: the `driver_info` keys of the type's default
    /// interfaces, merged (Ironic's `AbstractHardwareType.get_properties`).
    pub fn properties(&self, driver: &str) -> Result<BTreeMap<String, String>, Error> {
        let t = self.enabled_type(driver)?;
        let mut out = BTreeMap::new();
        for kind in InterfaceKind::ALL {
            if let Some(name) = &t.choices[&kind].default {
                if let Some(imp) = self.impls.get(&(kind, name.clone())) {
                    out.extend(imp.base().properties());
                }
            }
        }
        Ok(out)
    }

    /// The vendor interface serving driver-level vendor passthru (the type's default).
    pub fn driver_vendor(&self, driver: &str) -> Result<Arc<dyn VendorInterface>, Error> {
        match self.default_impl(driver, InterfaceKind::Vendor)? {
            Implementation::Vendor(v) => Ok(v),
            _ => unreachable!("implementations are stored under their own kind"),
        }
    }

    /// `GET /v1/drivers/{driver}/raid/logical_disk_properties` (the type's default RAID interface).
    pub fn raid_logical_disk_properties(&self, driver: &str) -> Result<BTreeMap<String, String>, Error> {
        match self.default_impl(driver, InterfaceKind::Raid)? {
            Implementation::Raid(r) => Ok(r.logical_disk_properties()),
            _ => unreachable!("implementations are stored under their own kind"),
        }
    }

    /// Every driver periodic task of this member (names unique).
    pub fn periodic_tasks(&self) -> Vec<PeriodicTask> {
        self.periodic.clone()
    }

    /// The in-process record of fake calls made through this registry.
    pub fn fake_recorder(&self) -> Arc<FakeRecorder> {
        self.recorder.clone()
    }

    /// The member's IPMI client (sessions, counters), if `ipmitool` is loaded.
    pub fn ipmi_client(&self) -> Option<Arc<IpmiClient>> {
        self.ipmi.clone()
    }

    /// Graceful stop: closes cached BMC sessions (bounded; best effort).
    pub async fn shutdown(&self) {
        if let Some(ipmi) = &self.ipmi {
            ipmi.close_all().await;
        }
    }
}
