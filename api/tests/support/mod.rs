//! An in-memory `Backend` for the API's tests and the `mem_server` example: one conductor
//! (`mem-1`) with `fake-hardware`, `ipmi` and `manual-management`; records written by applying
//! `ferric_model::Command`s with `ferric_model::apply` (so revisions, uniqueness and refusals are
//! the state machine's); power and provision actions complete at once.
//!
//! Not used in production: `src` implements `Backend` over Raft and the real conductor.

#![allow(dead_code)]

use ferric_model::backend::{AddMember, ClusterStatus, MemberStatus};
use ferric_model::conductor::{ConductorRecord, HardwareTypeInfo, InterfaceChoice};
use ferric_model::interfaces::resolve_interfaces;
use ferric_model::ring::HashRing;
use ferric_model::rpc::InterfaceValidation;
use ferric_model::{
    apply, transition, Applied, Backend, BoxFuture, Command, ConductorReply, ConductorRequest, Error, InterfaceKind, Member,
    Node, PowerState, ProvisionState as S, ProvisionVerb, State, Timestamp,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub const MEMBER: &str = "mem-1";

/// The `api` crate directory of the checkout being tested (cargo sets `CARGO_MANIFEST_DIR` when
/// it runs a test), not the one the binary was compiled in: a build cache shared by two checkouts
/// must not read the other's files.
pub fn crate_dir() -> std::path::PathBuf {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    root.unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

struct Inner {
    state: State,
    index: u64,
    ring: Arc<HashRing>,
    boot: HashMap<Uuid, (String, bool)>,
    vifs: HashMap<Uuid, Vec<String>>,
}

pub struct MemBackend {
    inner: Mutex<Inner>,
    clock: Mutex<i64>,
    pub barriers: AtomicU64,
    pub calls: AtomicU64,
    /// When set, the next N updates fail with `RevisionMismatch` (to exercise the retry loop).
    pub fail_updates: AtomicU64,
}

fn choice(enabled: &[&str], default: &str) -> InterfaceChoice {
    InterfaceChoice { enabled: enabled.iter().map(|s| s.to_string()).collect(), default: Some(default.to_string()) }
}

/// A hardware type as the reference Ironic 39 peer (shared/bench/peer-ironic) registers it:
/// per interface kind, the enabled implementations and the default.
fn hardware_type(name: &str, table: &[(InterfaceKind, &[&str], &str)]) -> HardwareTypeInfo {
    let mut interfaces = BTreeMap::new();
    for (k, enabled, default) in table {
        interfaces.insert(*k, choice(enabled, default));
    }
    HardwareTypeInfo { name: name.to_string(), interfaces }
}

fn peer_hardware_types() -> Vec<HardwareTypeInfo> {
    use InterfaceKind::*;
    vec![
        hardware_type(
            "fake-hardware",
            &[
                (Bios, &["no-bios", "fake"], "fake"),
                (Boot, &["ipxe", "pxe", "fake"], "fake"),
                (Console, &["no-console", "fake"], "fake"),
                (Deploy, &["fake", "direct", "ramdisk"], "fake"),
                (Firmware, &["no-firmware", "fake"], "fake"),
                (Inspect, &["fake", "no-inspect"], "fake"),
                (Management, &["fake"], "fake"),
                (Network, &["noop"], "noop"),
                (Power, &["fake"], "fake"),
                (Raid, &["no-raid", "fake"], "fake"),
                (Rescue, &["no-rescue", "fake"], "fake"),
                (Storage, &["noop", "fake"], "noop"),
                (Vendor, &["no-vendor", "fake"], "fake"),
            ],
        ),
        hardware_type(
            "ipmi",
            &[
                (Bios, &["no-bios"], "no-bios"),
                (Boot, &["ipxe", "pxe"], "ipxe"),
                (Console, &["no-console"], "no-console"),
                (Deploy, &["direct", "ramdisk"], "direct"),
                (Firmware, &["no-firmware"], "no-firmware"),
                (Inspect, &["no-inspect"], "no-inspect"),
                (Management, &["ipmitool", "noop"], "ipmitool"),
                (Network, &["noop"], "noop"),
                (Power, &["ipmitool"], "ipmitool"),
                (Raid, &["no-raid"], "no-raid"),
                (Rescue, &["no-rescue"], "no-rescue"),
                (Storage, &["noop"], "noop"),
                (Vendor, &["ipmitool", "no-vendor"], "ipmitool"),
            ],
        ),
        hardware_type(
            "manual-management",
            &[
                (Bios, &["no-bios"], "no-bios"),
                (Boot, &["ipxe", "pxe"], "ipxe"),
                (Console, &["no-console"], "no-console"),
                (Deploy, &["direct", "ramdisk"], "direct"),
                (Firmware, &["no-firmware"], "no-firmware"),
                (Inspect, &["no-inspect"], "no-inspect"),
                (Management, &["noop", "fake"], "noop"),
                (Network, &["noop"], "noop"),
                (Power, &["fake"], "fake"),
                (Raid, &["no-raid"], "no-raid"),
                (Rescue, &["no-rescue"], "no-rescue"),
                (Storage, &["noop"], "noop"),
                (Vendor, &["no-vendor"], "no-vendor"),
            ],
        ),
    ]
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

impl Default for MemBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl MemBackend {
    pub fn new() -> MemBackend {
        let mut inner = Inner { state: State::default(), index: 0, ring: Arc::new(HashRing::default()), boot: HashMap::new(), vifs: HashMap::new() };
        let now = Timestamp(now_micros());
        let record = ConductorRecord {
            hostname: MEMBER.into(),
            conductor_group: String::new(),
            hardware_types: peer_hardware_types(),
            online: true,
            created_at: now,
            updated_at: now,
            heartbeat_seq: 0,
            schema: 1,
            peer_addr: "127.0.0.1:6386".into(),
            api_addr: "127.0.0.1:6385".into(),
        };
        inner.index += 1;
        let members = BTreeMap::from([(
            MEMBER.to_string(),
            Member { id: 1, name: MEMBER.into(), peer_addr: "127.0.0.1:6386".into(), api_addr: "127.0.0.1:6385".into(), voter: true },
        )]);
        inner.state.apply_membership(inner.index, members);
        inner.index += 1;
        let idx = inner.index;
        let _ = apply(&mut inner.state, idx, &Command::RegisterConductor { record, now });
        inner.ring = Arc::new(HashRing::build(&inner.state, 5));
        MemBackend {
            inner: Mutex::new(inner),
            clock: Mutex::new(now.0),
            barriers: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            fail_updates: AtomicU64::new(0),
        }
    }

    /// Changes the state directly (tests: reservations, states a client cannot reach at once).
    pub fn mutate(&self, f: impl FnOnce(&mut State)) {
        let mut g = self.inner.lock().unwrap();
        f(&mut g.state);
    }

    /// A fingerprint of every record, to check that a failed request changed nothing.
    pub fn fingerprint(&self) -> String {
        let g = self.inner.lock().unwrap();
        let st = &g.state;
        serde_json::to_string(&(&st.nodes, &st.ports, &st.portgroups, &st.chassis, &g.boot, &g.vifs)).unwrap()
    }

    pub fn node_count(&self) -> usize {
        self.inner.lock().unwrap().state.nodes.len()
    }

    fn tick(&self) -> Timestamp {
        let mut c = self.clock.lock().unwrap();
        *c = (*c + 1).max(now_micros());
        Timestamp(*c)
    }

    fn handle(&self, req: ConductorRequest) -> Result<ConductorReply, Error> {
        let now = self.tick();
        let mut g = self.inner.lock().unwrap();
        let inner = &mut *g;
        let propose = |inner: &mut Inner, cmd: Command| -> Result<Applied, Error> {
            inner.index += 1;
            let idx = inner.index;
            apply(&mut inner.state, idx, &cmd).0.into_result()
        };
        let node_of = |inner: &Inner, u: Uuid| -> Result<Node, Error> {
            inner.state.nodes.get(&u).map(|n| (**n).clone()).ok_or(Error::NodeNotFound { node: u.to_string() })
        };
        let save = |inner: &mut Inner, n: Node| -> Result<ConductorReply, Error> {
            let rev = n.revision;
            match propose(inner, Command::UpdateNode { node: Box::new(n), expected_revision: rev, lock: None, now })? {
                Applied::Node(n) => Ok(ConductorReply::Node { node: n }),
                _ => Ok(ConductorReply::Done),
            }
        };
        use ConductorRequest as R;
        match req {
            R::CreateNode { node } => {
                let mut n = *node;
                resolve_interfaces(&mut n, &inner.state.conductors)?;
                match propose(inner, Command::CreateNode { node: Box::new(n), now })? {
                    Applied::Node(n) => Ok(ConductorReply::Node { node: n }),
                    _ => Err(Error::internal("create")),
                }
            }
            R::UpdateNode { node, expected_revision, .. } => {
                if self.fail_updates.load(Ordering::SeqCst) > 0 {
                    self.fail_updates.fetch_sub(1, Ordering::SeqCst);
                    return Err(Error::RevisionMismatch { kind: "Node".into(), ident: node.uuid.to_string(), expected: expected_revision, current: 0 });
                }
                let mut n = *node;
                resolve_interfaces(&mut n, &inner.state.conductors)?;
                match propose(inner, Command::UpdateNode { node: Box::new(n), expected_revision, lock: None, now })? {
                    Applied::Node(n) => Ok(ConductorReply::Node { node: n }),
                    _ => Err(Error::internal("update")),
                }
            }
            R::DestroyNode { node } => {
                let n = node_of(inner, node)?;
                if !n.maintenance && !n.provision_state.delete_allowed() {
                    return Err(Error::InvalidState { message: format!("Can not delete node \"{}\" in state {}", n.uuid, n.provision_state) });
                }
                propose(inner, Command::DeleteNode { uuid: node, expected_revision: None, lock: None, now })?;
                inner.boot.remove(&node);
                inner.vifs.remove(&node);
                Ok(ConductorReply::Done)
            }
            R::CreatePort { port } => match propose(inner, Command::CreatePort { port, lock: None, now })? {
                Applied::Port(p) => Ok(ConductorReply::Port { port: p }),
                _ => Err(Error::internal("port")),
            },
            R::UpdatePort { port, expected_revision } => {
                match propose(inner, Command::UpdatePort { port, expected_revision, lock: None, now })? {
                    Applied::Port(p) => Ok(ConductorReply::Port { port: p }),
                    _ => Err(Error::internal("port")),
                }
            }
            R::DestroyPort { port } => {
                propose(inner, Command::DeletePort { uuid: port, lock: None, now })?;
                Ok(ConductorReply::Done)
            }
            R::CreatePortgroup { portgroup } => match propose(inner, Command::CreatePortgroup { portgroup, lock: None, now })? {
                Applied::Portgroup(p) => Ok(ConductorReply::Portgroup { portgroup: p }),
                _ => Err(Error::internal("portgroup")),
            },
            R::UpdatePortgroup { portgroup, expected_revision } => {
                match propose(inner, Command::UpdatePortgroup { portgroup, expected_revision, lock: None, now })? {
                    Applied::Portgroup(p) => Ok(ConductorReply::Portgroup { portgroup: p }),
                    _ => Err(Error::internal("portgroup")),
                }
            }
            R::DestroyPortgroup { portgroup } => {
                propose(inner, Command::DeletePortgroup { uuid: portgroup, lock: None, now })?;
                Ok(ConductorReply::Done)
            }
            R::CreateChassis { chassis } => match propose(inner, Command::CreateChassis { chassis, now })? {
                Applied::Chassis(c) => Ok(ConductorReply::Chassis { chassis: c }),
                _ => Err(Error::internal("chassis")),
            },
            R::UpdateChassis { chassis, expected_revision } => {
                match propose(inner, Command::UpdateChassis { chassis, expected_revision, now })? {
                    Applied::Chassis(c) => Ok(ConductorReply::Chassis { chassis: c }),
                    _ => Err(Error::internal("chassis")),
                }
            }
            R::DestroyChassis { chassis } => {
                propose(inner, Command::DeleteChassis { uuid: chassis, now })?;
                Ok(ConductorReply::Done)
            }
            R::ChangeNodePowerState { node, target, .. } => {
                let mut n = node_of(inner, node)?;
                check_lock(&inner.state, &n)?;
                n.power_state = Some(target.resulting_state());
                n.target_power_state = None;
                save(inner, n)?;
                Ok(ConductorReply::Accepted)
            }
            R::DoProvisioningAction { node, action } => {
                let n = node_of(inner, node)?;
                let end = match (action, n.provision_state) {
                    (ProvisionVerb::Manage, _) => S::Manageable,
                    (ProvisionVerb::Provide, _) => S::Available,
                    (ProvisionVerb::Inspect, _) => S::Manageable,
                    (ProvisionVerb::Adopt, _) => S::Active,
                    (ProvisionVerb::Abort, S::ServiceFail) => S::Active,
                    (ProvisionVerb::Abort, s) => transition(s, ferric_model::ProvisionEvent::Abort).unwrap_or(s),
                    (ProvisionVerb::Unhold, s) => transition(s, ferric_model::ProvisionEvent::Unhold).unwrap_or(s),
                    (_, s) => s,
                };
                self.finish(inner, n, action, end, now)
            }
            R::DoNodeDeploy { node, rebuild, .. } => {
                let n = node_of(inner, node)?;
                let verb = if rebuild { ProvisionVerb::Rebuild } else { ProvisionVerb::Active };
                self.finish(inner, n, verb, S::Active, now)
            }
            R::DoNodeTearDown { node } => {
                let n = node_of(inner, node)?;
                self.finish(inner, n, ProvisionVerb::Deleted, S::Available, now)
            }
            R::DoNodeClean { node, .. } => {
                let n = node_of(inner, node)?;
                self.finish(inner, n, ProvisionVerb::Clean, S::Manageable, now)
            }
            R::DoNodeRescue { node, .. } => {
                let n = node_of(inner, node)?;
                self.finish(inner, n, ProvisionVerb::Rescue, S::Rescue, now)
            }
            R::DoNodeUnrescue { node } => {
                let n = node_of(inner, node)?;
                self.finish(inner, n, ProvisionVerb::Unrescue, S::Active, now)
            }
            R::DoNodeService { node, .. } => {
                let n = node_of(inner, node)?;
                self.finish(inner, n, ProvisionVerb::Service, S::Active, now)
            }
            R::InspectHardware { node } => {
                let n = node_of(inner, node)?;
                self.finish(inner, n, ProvisionVerb::Inspect, S::Manageable, now)
            }
            R::ContinueNodeClean { .. } => Ok(ConductorReply::Done),
            R::GetBootDevice { node } => {
                node_of(inner, node)?;
                let (d, p) = inner.boot.get(&node).cloned().unwrap_or(("pxe".into(), false));
                Ok(ConductorReply::BootDevice { boot_device: Some(d), persistent: Some(p) })
            }
            R::SetBootDevice { node, device, persistent } => {
                let n = node_of(inner, node)?;
                check_lock(&inner.state, &n)?;
                if !supported_devices(&n).contains(&device) {
                    return Err(Error::invalid(format!("Invalid boot device {device} specified.")));
                }
                inner.boot.insert(node, (device, persistent));
                Ok(ConductorReply::Done)
            }
            R::GetSupportedBootDevices { node } => {
                let n = node_of(inner, node)?;
                Ok(ConductorReply::SupportedBootDevices { devices: supported_devices(&n) })
            }
            R::InjectNmi { node } => {
                let n = node_of(inner, node)?;
                if n.management_interface == "fake" {
                    // As Ironic 39's fake management interface answers.
                    return Err(Error::invalid(format!(
                        "Driver {} does not support inject_nmi (disabled or not implemented).",
                        n.driver
                    )));
                }
                Ok(ConductorReply::Done)
            }
            R::GetConsoleInformation { node } => {
                let n = node_of(inner, node)?;
                Ok(ConductorReply::ConsoleInformation {
                    console_enabled: n.console_enabled,
                    console_info: n.console_enabled.then(|| json!({"type": "shellinabox", "url": format!("http://127.0.0.1:8023/{node}")})),
                })
            }
            R::SetConsoleMode { node, enabled } => {
                let mut n = node_of(inner, node)?;
                n.console_enabled = enabled;
                save(inner, n)?;
                Ok(ConductorReply::Accepted)
            }
            R::SetBootMode { node, mode } => {
                let mut n = node_of(inner, node)?;
                n.boot_mode = Some(mode);
                save(inner, n)?;
                Ok(ConductorReply::Accepted)
            }
            R::SetSecureBootState { node, enabled } => {
                let mut n = node_of(inner, node)?;
                n.secure_boot = Some(enabled);
                save(inner, n)?;
                Ok(ConductorReply::Accepted)
            }
            R::SetTargetRaidConfig { node, target_raid_config } => {
                let mut n = node_of(inner, node)?;
                n.target_raid_config = target_raid_config;
                save(inner, n)?;
                Ok(ConductorReply::Done)
            }
            R::ValidateDriverInterfaces { node } => {
                node_of(inner, node)?;
                let mut interfaces = BTreeMap::new();
                // Ironic validates every interface but vendor.
                for k in InterfaceKind::ALL.into_iter().filter(|k| *k != InterfaceKind::Vendor) {
                    interfaces.insert(k.as_str().to_string(), InterfaceValidation { result: Some(true), reason: None });
                }
                Ok(ConductorReply::Validation { interfaces })
            }
            R::VendorPassthru { node, method, http_method, info } => {
                node_of(inner, node)?;
                vendor_call(&vendor_methods(), &method, &http_method, info)
            }
            R::DriverVendorPassthru { driver, method, http_method, info } => {
                known_driver(&inner.state, &driver)?;
                // Ironic 39's fake hardware type has no driver-level vendor methods.
                vendor_call(&serde_json::Map::new(), &method, &http_method, info)
            }
            R::GetNodeVendorPassthruMethods { node } => {
                node_of(inner, node)?;
                Ok(ConductorReply::VendorMethods { methods: vendor_methods() })
            }
            R::GetDriverVendorPassthruMethods { driver } => {
                known_driver(&inner.state, &driver)?;
                Ok(ConductorReply::VendorMethods { methods: serde_json::Map::new() })
            }
            R::VifAttach { node, vif_info } => {
                node_of(inner, node)?;
                let id = vif_info.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                for (other, vifs) in &inner.vifs {
                    if vifs.contains(&id) {
                        return Err(Error::VifAlreadyAttached { vif: id, node: other.to_string() });
                    }
                }
                inner.vifs.entry(node).or_default().push(id);
                Ok(ConductorReply::Done)
            }
            R::VifDetach { node, vif_id } => {
                node_of(inner, node)?;
                match inner.vifs.get_mut(&node) {
                    Some(list) if list.contains(&vif_id) => {
                        list.retain(|v| v != &vif_id);
                        Ok(ConductorReply::Done)
                    }
                    _ => Err(Error::VifNotAttached { vif: vif_id, node: node.to_string() }),
                }
            }
            R::VifList { node } => {
                node_of(inner, node)?;
                Ok(ConductorReply::Vifs { vifs: inner.vifs.get(&node).cloned().unwrap_or_default() })
            }
            R::GetDriverProperties { driver } => {
                known_driver(&inner.state, &driver)?;
                let mut properties = BTreeMap::new();
                if driver == "fake-hardware" {
                    // What Ironic 39's fake interfaces declare.
                    properties.insert("B1".to_string(), "B1 description. Required.".to_string());
                    properties.insert("B2".to_string(), "B2 description. Required.".to_string());
                    return Ok(ConductorReply::Properties { properties });
                }
                properties.insert("deploy_kernel".to_string(), "UUID (from Glance) of the deployment kernel. Required.".to_string());
                properties.insert("deploy_ramdisk".to_string(), "UUID (from Glance) of the ramdisk. Required.".to_string());
                if driver == "ipmi" {
                    properties.insert("ipmi_address".to_string(), "IP address or hostname of the node. Required.".to_string());
                    properties.insert("ipmi_password".to_string(), "password. Optional.".to_string());
                }
                Ok(ConductorReply::Properties { properties })
            }
            R::GetRaidLogicalDiskProperties { driver } => {
                known_driver(&inner.state, &driver)?;
                Ok(ConductorReply::Properties { properties: raid_properties() })
            }
            R::Heartbeat { node, callback_url, .. } => {
                let mut n = node_of(inner, node)?;
                n.driver_internal_info.insert("agent_url".into(), Value::String(callback_url));
                save(inner, n)?;
                Ok(ConductorReply::Accepted)
            }
            R::GetNodeWithToken { node } => {
                let mut n = node_of(inner, node)?;
                if n.driver_internal_info.contains_key("agent_secret_token") {
                    return Ok(ConductorReply::NodeWithToken { node: Arc::new(n), agent_token: None });
                }
                let token = Uuid::new_v4().simple().to_string();
                n.driver_internal_info.insert("agent_secret_token".into(), Value::String(token.clone()));
                match save(inner, n)? {
                    ConductorReply::Node { node } => Ok(ConductorReply::NodeWithToken { node, agent_token: Some(token) }),
                    _ => Err(Error::internal("token")),
                }
            }
            R::GetTopicFor { .. } | R::GetTopicForDriver { .. } => Ok(ConductorReply::Topic { topic: format!("ironic.conductor_manager.{MEMBER}") }),
            R::CreateVolumeConnector { .. }
            | R::UpdateVolumeConnector { .. }
            | R::DestroyVolumeConnector { .. }
            | R::CreateVolumeTarget { .. }
            | R::UpdateVolumeTarget { .. }
            | R::DestroyVolumeTarget { .. } => Err(Error::invalid("volume records are not supported by the in-memory backend")),
        }
    }

    /// Runs a provision verb to its end state at once (checking the FSM first).
    fn finish(&self, inner: &mut Inner, mut n: Node, verb: ProvisionVerb, end: S, now: Timestamp) -> Result<ConductorReply, Error> {
        check_lock(&inner.state, &n)?;
        if transition(n.provision_state, verb.event()).is_none() {
            return Err(Error::InvalidStateRequested { action: verb.as_str().into(), node: n.uuid.to_string(), state: n.provision_state.to_string() });
        }
        // Like Ironic's fake interfaces: deploy and tear-down leave the power state alone.
        match verb {
            ProvisionVerb::Deleted => n.instance_info.clear(),
            ProvisionVerb::Manage if n.power_state.is_none() => n.power_state = Some(PowerState::Off),
            ProvisionVerb::Inspect => {
                n.inspection_started_at = Some(now);
                n.inspection_finished_at = Some(now);
            }
            _ => {}
        }
        n.enter_state(end, now);
        if !end.is_stable() {
            n.target_provision_state = end.fsm_target();
        }
        let rev = n.revision;
        inner.index += 1;
        let idx = inner.index;
        apply(&mut inner.state, idx, &Command::UpdateNode { node: Box::new(n), expected_revision: rev, lock: None, now }).0.into_result()?;
        Ok(ConductorReply::Accepted)
    }
}

fn check_lock(st: &State, n: &Node) -> Result<(), Error> {
    match &n.reservation {
        Some(r) if st.conductor_online(&r.holder) => Err(Error::NodeLocked { node: n.uuid.to_string(), host: r.holder.clone() }),
        _ => Ok(()),
    }
}

/// Ironic's RAID logical disk properties (ironic/common/raid.py, as 39.0 describes them).
fn raid_properties() -> BTreeMap<String, String> {
    [
        ("raid_level", "RAID level for the logical disk. Valid values are 'JBOD', '0', '1', '2', '5', '6', '1+0', '5+0' and '6+0'. Required."),
        ("size_gb", "Size in GiB (Integer) for the logical disk. Use 'MAX' as size_gb if this logical disk is supposed to use the rest of the space available. Required."),
        ("volume_name", "Name of the volume to be created. If this is not specified, it will be auto-generated. Optional."),
        ("is_root_volume", "Specifies whether this disk is a root volume. By default, this is False. Optional."),
        ("share_physical_disks", "Specifies whether other logical disks can share physical disks with this logical disk. By default, this is False. Optional."),
        ("disk_type", "The type of disk preferred. Valid values are 'hdd' and 'ssd'. If this is not specified, disk type will not be a selection criterion for choosing backing physical disks. Optional."),
        ("interface_type", "The interface type of disk. Valid values are 'sata', 'scsi' and 'sas'. If this is not specified, interface type will not be a selection criterion for choosing backing physical disks. Optional."),
        ("number_of_physical_disks", "Number of physical disks to use for this logical disk. By default, the driver uses the minimum number of disks required for that RAID level. Optional."),
        ("controller", "Controller to use for this logical disk. If not specified, the driver will choose a suitable RAID controller on the bare metal node. Optional."),
        ("physical_disks", "The physical disks to use for this logical disk. If not specified, the driver will choose suitable physical disks to use. Optional."),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn known_driver(st: &State, d: &str) -> Result<(), Error> {
    if st.conductors.values().any(|c| c.online && c.supports(d)) {
        Ok(())
    } else {
        Err(Error::DriverNotFound { driver: d.to_string() })
    }
}

/// Ironic's fake management interface supports PXE only; ipmitool the usual set.
fn supported_devices(n: &Node) -> Vec<String> {
    let list: &[&str] = if n.management_interface == "fake" { &["pxe"] } else { &["pxe", "disk", "cdrom", "bios", "safe"] };
    list.iter().map(|s| s.to_string()).collect()
}

/// The node vendor methods of Ironic 39's fake vendor interface.
fn vendor_methods() -> serde_json::Map<String, Value> {
    json!({
        "fourth_method_shared_lock": {"http_methods": ["POST"], "async": true, "description": "Test if the value of bar is woof", "attach": false, "require_exclusive_lock": false},
        "log_passthrough": {"http_methods": ["POST"], "async": true, "description": "Test pass-through to wait.", "attach": false, "require_exclusive_lock": true},
        "second_method": {"http_methods": ["POST"], "async": true, "description": "Test if the value of bar is kazoo", "attach": false, "require_exclusive_lock": true},
        "third_method_sync": {"http_methods": ["POST"], "async": false, "description": "Test if the value of bar is meow", "attach": false, "require_exclusive_lock": true}
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn vendor_call(methods: &serde_json::Map<String, Value>, method: &str, http_method: &str, info: Value) -> Result<ConductorReply, Error> {
    let Some(m) = methods.get(method) else {
        return Err(Error::invalid(format!("No handler for method {method}")));
    };
    let allowed = m["http_methods"].as_array().map(|a| a.iter().any(|x| x == http_method)).unwrap_or(false);
    if !allowed {
        return Err(Error::invalid(format!("The method {method} does not support HTTP {http_method}")));
    }
    Ok(ConductorReply::VendorResult { return_value: json!({"method": method, "data": info}), is_async: m["async"] == true, attach: false })
}

impl Backend for MemBackend {
    fn member_name(&self) -> &str {
        MEMBER
    }

    fn now(&self) -> Timestamp {
        self.tick()
    }

    fn read_barrier(&self) -> BoxFuture<'_, Result<(), Error>> {
        self.barriers.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }

    fn read(&self, f: &mut dyn FnMut(&State)) {
        let g = self.inner.lock().unwrap();
        f(&g.state);
    }

    fn ring(&self) -> Arc<HashRing> {
        self.inner.lock().unwrap().ring.clone()
    }

    fn call(&self, req: ConductorRequest) -> BoxFuture<'_, Result<ConductorReply, Error>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let r = self.handle(req);
        Box::pin(async move { r })
    }

    fn cluster_status(&self) -> BoxFuture<'_, Result<ClusterStatus, Error>> {
        let g = self.inner.lock().unwrap();
        let s = ClusterStatus {
            name: MEMBER.into(),
            cluster_id: Some("mem".into()),
            leader: Some(MEMBER.into()),
            term: 1,
            committed: Some(g.index),
            applied: Some(g.index),
            members: g
                .state
                .meta
                .members
                .values()
                .map(|m| MemberStatus {
                    id: m.id,
                    name: m.name.clone(),
                    peer: m.peer_addr.clone(),
                    api: m.api_addr.clone(),
                    role: "voter".into(),
                    reachable: true,
                    matched: Some(g.index),
                })
                .collect(),
        };
        Box::pin(async move { Ok(s) })
    }

    fn add_member(&self, req: AddMember) -> BoxFuture<'_, Result<ClusterStatus, Error>> {
        {
            let mut g = self.inner.lock().unwrap();
            let mut members = g.state.meta.members.clone();
            let id = members.len() as u64 + 1;
            members.insert(req.name.clone(), Member { id, name: req.name, peer_addr: req.peer, api_addr: req.api, voter: true });
            g.index += 1;
            let idx = g.index;
            g.state.apply_membership(idx, members);
        }
        self.cluster_status()
    }

    fn remove_member(&self, name: String) -> BoxFuture<'_, Result<ClusterStatus, Error>> {
        {
            let mut g = self.inner.lock().unwrap();
            let mut members = g.state.meta.members.clone();
            if members.remove(&name).is_none() {
                return Box::pin(async move { Err(Error::NotFound { message: format!("Member {name} could not be found.") }) });
            }
            g.index += 1;
            let idx = g.index;
            g.state.apply_membership(idx, members);
        }
        self.cluster_status()
    }

    fn metrics(&self) -> String {
        format!("ferric_mem_calls_total {}\n", self.calls.load(Ordering::Relaxed))
    }
}
