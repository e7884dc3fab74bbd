//! The replicated state and the pure `apply` of a command to it.
//!
//! `State` is what every member holds in memory (and `storage` persists record by record).
//! `apply(state, index, command)` is deterministic: no clock (time comes inside the command and
//! is kept monotonic here), no randomness, no I/O. It returns the response and the list of
//! records it changed, which `storage` writes in the same batch as `last_applied`.

use crate::chassis::Chassis;
use crate::command::{Applied, Command, ConfigDrive, LockToken, Response};
use crate::conductor::ConductorRecord;
use crate::error::Error;
use crate::event::PendingEvent;
use crate::node::{configdrive_marker, Node, Reservation, CONFIGDRIVE};
use crate::port::Port;
use crate::portgroup::Portgroup;
use crate::states::PowerState;
use crate::time::Timestamp;
use crate::volume::{VolumeConnector, VolumeTarget};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// A cluster member as the committed membership names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: u64,
    pub name: String,
    pub peer_addr: String,
    pub api_addr: String,
    pub voter: bool,
}

/// The key of a record, for persistence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    Node(Uuid),
    Port(Uuid),
    Portgroup(Uuid),
    Chassis(Uuid),
    VolumeConnector(Uuid),
    VolumeTarget(Uuid),
    Conductor(String),
    Event(u64),
    /// Cluster metadata (cluster id, clock, ring version, members).
    Meta,
}

/// A record before and after a command, so persistence can maintain secondary indexes.
#[derive(Debug, Clone)]
pub enum Change {
    Node { old: Option<Arc<Node>>, new: Option<Arc<Node>> },
    /// A node's config drive stored apart from its record: written with the deploy's lock, gone
    /// once the node no longer refers to it (undeploy, a new drive inline, delete).
    ConfigDrive { node: Uuid, data: Option<ConfigDrive> },
    Port { old: Option<Arc<Port>>, new: Option<Arc<Port>> },
    Portgroup { uuid: Uuid, new: Option<Arc<Portgroup>> },
    Chassis { uuid: Uuid, new: Option<Arc<Chassis>> },
    VolumeConnector { uuid: Uuid, new: Option<Arc<VolumeConnector>> },
    VolumeTarget { uuid: Uuid, new: Option<Arc<VolumeTarget>> },
    Conductor { hostname: String, new: Option<ConductorRecord> },
    Event { id: u64, new: Option<PendingEvent> },
    Meta,
}

/// Small cluster-wide facts, persisted as one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Meta {
    pub cluster_id: Option<String>,
    /// The latest time any applied command carried: the state machine's monotonic clock.
    pub clock: Timestamp,
    /// Log index at which the inputs of the hash ring (members, online conductors, their
    /// hardware types) last changed.
    pub ring_version: u64,
    pub members: BTreeMap<String, Member>,
}

/// Everything the cluster replicates.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub meta: Meta,
    pub nodes: BTreeMap<Uuid, Arc<Node>>,
    pub node_by_name: HashMap<String, Uuid>,
    pub node_by_instance: HashMap<String, Uuid>,
    pub ports: BTreeMap<Uuid, Arc<Port>>,
    pub port_by_mac: HashMap<String, Uuid>,
    pub portgroups: BTreeMap<Uuid, Arc<Portgroup>>,
    pub chassis: BTreeMap<Uuid, Arc<Chassis>>,
    pub volume_connectors: BTreeMap<Uuid, Arc<VolumeConnector>>,
    pub volume_targets: BTreeMap<Uuid, Arc<VolumeTarget>>,
    pub conductors: BTreeMap<String, ConductorRecord>,
    pub events: BTreeMap<u64, PendingEvent>,
}

impl State {
    /// Rebuilds the in-memory indexes after loading records (storage start-up, snapshot install).
    pub fn rebuild_indexes(&mut self) {
        self.node_by_name.clear();
        self.node_by_instance.clear();
        self.port_by_mac.clear();
        for n in self.nodes.values() {
            if let Some(name) = &n.name {
                self.node_by_name.insert(name.clone(), n.uuid);
            }
            if let Some(inst) = &n.instance_uuid {
                self.node_by_instance.insert(inst.clone(), n.uuid);
            }
        }
        for p in self.ports.values() {
            self.port_by_mac.insert(p.address.clone(), p.uuid);
        }
    }

    /// A node by UUID or name.
    pub fn find_node(&self, ident: &str) -> Option<&Arc<Node>> {
        if let Ok(u) = Uuid::parse_str(ident) {
            if let Some(n) = self.nodes.get(&u) {
                return Some(n);
            }
        }
        self.node_by_name.get(ident).and_then(|u| self.nodes.get(u))
    }

    pub fn find_port(&self, ident: &str) -> Option<&Arc<Port>> {
        if let Ok(u) = Uuid::parse_str(ident) {
            if let Some(p) = self.ports.get(&u) {
                return Some(p);
            }
        }
        self.ports.values().find(|p| p.name.as_deref() == Some(ident))
    }

    pub fn find_portgroup(&self, ident: &str) -> Option<&Arc<Portgroup>> {
        if let Ok(u) = Uuid::parse_str(ident) {
            if let Some(p) = self.portgroups.get(&u) {
                return Some(p);
            }
        }
        self.portgroups.values().find(|p| p.name.as_deref() == Some(ident))
    }

    /// Whether a conductor is registered and online (its locks are honoured).
    pub fn conductor_online(&self, hostname: &str) -> bool {
        self.conductors.get(hostname).map(|c| c.online).unwrap_or(false)
    }

    pub fn ports_of(&self, node: Uuid) -> impl Iterator<Item = &Arc<Port>> {
        self.ports.values().filter(move |p| p.node_uuid == node)
    }

    pub fn portgroups_of(&self, node: Uuid) -> impl Iterator<Item = &Arc<Portgroup>> {
        self.portgroups.values().filter(move |p| p.node_uuid == node)
    }

    /// The schema every registered conductor speaks (the cluster's active schema): the minimum
    /// over registrations, or this build's when there are none yet.
    pub fn active_schema(&self) -> u32 {
        self.conductors.values().map(|c| c.schema).min().unwrap_or(crate::SCHEMA_VERSION)
    }

    /// Applies a committed membership (from a Raft membership entry) at `index`.
    pub fn apply_membership(&mut self, index: u64, members: BTreeMap<String, Member>) -> Vec<Change> {
        if self.meta.members != members {
            self.meta.members = members;
            self.meta.ring_version = index;
        }
        vec![Change::Meta]
    }

    fn tick(&mut self, now: Timestamp) -> Timestamp {
        if now > self.meta.clock {
            self.meta.clock = now;
        }
        self.meta.clock
    }
}

/// Applies one committed command at log `index`. Pure and deterministic.
pub fn apply(state: &mut State, index: u64, cmd: &Command) -> (Response, Vec<Change>) {
    let now = state.tick(cmd.now());
    let mut changes = vec![Change::Meta];
    let result = apply_inner(state, index, now, cmd, &mut changes);
    match result {
        Ok(applied) => {
            drop_unreferenced_configdrives(&mut changes);
            (Response::Ok(applied), changes)
        }
        Err(e) => {
            // A refusal changes nothing but the clock.
            debug_assert!(changes.len() == 1, "a refused command must not have changed records");
            (Response::Refused(e), vec![Change::Meta])
        }
    }
}

fn apply_inner(
    st: &mut State,
    index: u64,
    now: Timestamp,
    cmd: &Command,
    changes: &mut Vec<Change>,
) -> Result<Applied, Error> {
    match cmd {
        Command::InitCluster { cluster_id, .. } => {
            if st.meta.cluster_id.is_none() {
                st.meta.cluster_id = Some(cluster_id.clone());
            }
            Ok(Applied::Done)
        }

        Command::RegisterConductor { record, .. } => {
            let mut rec = record.clone();
            rec.online = true;
            rec.updated_at = now;
            rec.heartbeat_seq = index;
            if let Some(old) = st.conductors.get(&rec.hostname) {
                rec.created_at = old.created_at;
                if !old.online || old.hardware_types != rec.hardware_types || old.conductor_group != rec.conductor_group {
                    st.meta.ring_version = index;
                }
            } else {
                rec.created_at = now;
                st.meta.ring_version = index;
            }
            changes.push(Change::Conductor { hostname: rec.hostname.clone(), new: Some(rec.clone()) });
            st.conductors.insert(rec.hostname.clone(), rec);
            Ok(Applied::Done)
        }

        Command::ConductorHeartbeat { hostname, .. } => {
            let Some(c) = st.conductors.get_mut(hostname) else {
                return Err(Error::ConductorNotFound { conductor: hostname.clone() });
            };
            c.updated_at = now;
            c.heartbeat_seq = index;
            if !c.online {
                c.online = true;
                st.meta.ring_version = index;
            }
            changes.push(Change::Conductor { hostname: hostname.clone(), new: Some(c.clone()) });
            Ok(Applied::Done)
        }

        Command::ConductorOffline { hostname, seq, .. } => {
            let Some(c) = st.conductors.get_mut(hostname) else {
                return Err(Error::ConductorNotFound { conductor: hostname.clone() });
            };
            if c.heartbeat_seq != *seq {
                return Err(Error::conflict(format!("conductor {hostname} heartbeated after the silence was observed")));
            }
            if c.online {
                c.online = false;
                st.meta.ring_version = index;
                changes.push(Change::Conductor { hostname: hostname.clone(), new: Some(c.clone()) });
            }
            Ok(Applied::Done)
        }

        Command::UnregisterConductor { hostname, .. } => {
            let Some(c) = st.conductors.get_mut(hostname) else {
                return Err(Error::ConductorNotFound { conductor: hostname.clone() });
            };
            if c.online {
                c.online = false;
                c.updated_at = now;
                st.meta.ring_version = index;
                changes.push(Change::Conductor { hostname: hostname.clone(), new: Some(c.clone()) });
            }
            Ok(Applied::Done)
        }

        Command::RemoveConductor { hostname, .. } => {
            if st.conductors.remove(hostname).is_some() {
                st.meta.ring_version = index;
                changes.push(Change::Conductor { hostname: hostname.clone(), new: None });
            }
            Ok(Applied::Done)
        }

        Command::CreateNode { node, .. } => {
            if st.nodes.contains_key(&node.uuid) {
                return Err(Error::NodeAlreadyExists { uuid: node.uuid.to_string() });
            }
            let mut n = (**node).clone();
            n.id = index;
            n.revision = index;
            n.created_at = now;
            n.updated_at = None;
            n.reservation = None;
            check_node_refs(st, None, &n)?;
            let n = Arc::new(n);
            put_node(st, None, n.clone(), changes);
            Ok(Applied::Node(n))
        }

        Command::UpdateNode { node, expected_revision, lock, .. } => {
            let cur = get_node(st, node.uuid)?;
            check_revision("Node", &cur.uuid.to_string(), *expected_revision, cur.revision)?;
            check_unlocked_or_holder(st, &cur, lock.as_ref())?;
            let mut n = (**node).clone();
            keep_identity(&cur, &mut n, index, now);
            n.reservation = cur.reservation.clone();
            check_node_refs(st, Some(&cur), &n)?;
            let n = Arc::new(n);
            put_node(st, Some(cur.clone()), n.clone(), changes);
            maybe_power_event(st, index, now, &cur, &n, changes);
            Ok(Applied::Node(n))
        }

        Command::DeleteNode { uuid, expected_revision, lock, .. } => {
            let cur = get_node(st, *uuid)?;
            if let Some(exp) = expected_revision {
                check_revision("Node", &uuid.to_string(), *exp, cur.revision)?;
            }
            check_unlocked_or_holder(st, &cur, lock.as_ref())?;
            // Cascade, as Ironic's node.destroy(): ports, portgroups, volume objects.
            let ports: Vec<Arc<Port>> = st.ports_of(*uuid).cloned().collect();
            for p in ports {
                st.ports.remove(&p.uuid);
                st.port_by_mac.remove(&p.address);
                changes.push(Change::Port { old: Some(p), new: None });
            }
            let pgs: Vec<Uuid> = st.portgroups_of(*uuid).map(|p| p.uuid).collect();
            for u in pgs {
                st.portgroups.remove(&u);
                changes.push(Change::Portgroup { uuid: u, new: None });
            }
            let vcs: Vec<Uuid> =
                st.volume_connectors.values().filter(|v| v.node_uuid == *uuid).map(|v| v.uuid).collect();
            for u in vcs {
                st.volume_connectors.remove(&u);
                changes.push(Change::VolumeConnector { uuid: u, new: None });
            }
            let vts: Vec<Uuid> = st.volume_targets.values().filter(|v| v.node_uuid == *uuid).map(|v| v.uuid).collect();
            for u in vts {
                st.volume_targets.remove(&u);
                changes.push(Change::VolumeTarget { uuid: u, new: None });
            }
            st.nodes.remove(uuid);
            if let Some(name) = &cur.name {
                st.node_by_name.remove(name);
            }
            if let Some(inst) = &cur.instance_uuid {
                st.node_by_instance.remove(inst);
            }
            changes.push(Change::Node { old: Some(cur), new: None });
            Ok(Applied::Done)
        }

        Command::AcquireLock { uuid, holder, purpose, expected_revision, update, configdrive, .. } => {
            if configdrive.is_some() && update.is_none() {
                return Err(Error::invalid("a config drive is stored only with an update of its node"));
            }
            let cur = get_node(st, *uuid)?;
            if let Some(exp) = expected_revision {
                check_revision("Node", &uuid.to_string(), *exp, cur.revision)?;
            }
            if !st.conductor_online(holder) {
                return Err(Error::unavailable(format!(
                    "conductor {holder} is not online and cannot take the lock of node {uuid}"
                )));
            }
            if let Some(r) = &cur.reservation {
                if st.conductor_online(&r.holder) {
                    return Err(Error::NodeLocked { node: uuid.to_string(), host: r.holder.clone() });
                }
            }
            let mut n = match update {
                Some(u) => {
                    let mut n = (**u).clone();
                    keep_identity(&cur, &mut n, index, now);
                    n
                }
                None => {
                    let mut n = (*cur).clone();
                    n.revision = index;
                    n
                }
            };
            n.reservation =
                Some(Reservation { holder: holder.clone(), generation: index, purpose: purpose.clone(), acquired_at: now });
            if let Some(cd) = configdrive {
                n.instance_info.insert(CONFIGDRIVE.into(), configdrive_marker(cd.size()));
            }
            check_node_refs(st, Some(&cur), &n)?;
            let n = Arc::new(n);
            put_node(st, Some(cur.clone()), n.clone(), changes);
            if let Some(cd) = configdrive {
                changes.push(Change::ConfigDrive { node: *uuid, data: Some(cd.clone()) });
            }
            maybe_power_event(st, index, now, &cur, &n, changes);
            Ok(Applied::Locked { generation: index, node: n })
        }

        Command::SaveNode { node, lock, release, .. } => {
            let cur = get_node(st, node.uuid)?;
            check_lock_current(&cur, lock)?;
            let mut n = (**node).clone();
            keep_identity(&cur, &mut n, index, now);
            n.reservation = if *release { None } else { cur.reservation.clone() };
            check_node_refs(st, Some(&cur), &n)?;
            let n = Arc::new(n);
            put_node(st, Some(cur.clone()), n.clone(), changes);
            maybe_power_event(st, index, now, &cur, &n, changes);
            Ok(Applied::Node(n))
        }

        Command::ReleaseLock { uuid, lock, .. } => {
            let cur = get_node(st, *uuid)?;
            check_lock_current(&cur, lock)?;
            let mut n = (*cur).clone();
            n.reservation = None;
            n.revision = index;
            let n = Arc::new(n);
            put_node(st, Some(cur), n.clone(), changes);
            Ok(Applied::Node(n))
        }

        Command::ReleaseOrphan { uuid, holder, .. } => {
            let cur = get_node(st, *uuid)?;
            match &cur.reservation {
                Some(r) if r.holder == *holder && !st.conductor_online(holder) => {}
                Some(r) => {
                    return Err(Error::NodeLocked { node: uuid.to_string(), host: r.holder.clone() });
                }
                None => return Ok(Applied::Node(cur)),
            }
            let mut n = (*cur).clone();
            n.reservation = None;
            n.revision = index;
            if n.target_power_state.is_some() {
                n.target_power_state = None;
                n.last_error = Some("Pending power operation was aborted due to conductor take over".into());
            }
            let n = Arc::new(n);
            put_node(st, Some(cur), n.clone(), changes);
            Ok(Applied::Node(n))
        }

        Command::CreatePort { port, lock, .. } => {
            let node = get_node(st, port.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            if st.ports.contains_key(&port.uuid) {
                return Err(Error::AlreadyExists { kind: "port".into(), uuid: port.uuid.to_string() });
            }
            let mut p = (**port).clone();
            p.id = index;
            p.revision = index;
            p.created_at = now;
            p.updated_at = None;
            check_port_refs(st, None, &p)?;
            let p = Arc::new(p);
            put_port(st, None, p.clone(), changes);
            Ok(Applied::Port(p))
        }

        Command::UpdatePort { port, expected_revision, lock, .. } => {
            let cur = st.ports.get(&port.uuid).cloned().ok_or(Error::PortNotFound { port: port.uuid.to_string() })?;
            check_revision("Port", &port.uuid.to_string(), *expected_revision, cur.revision)?;
            let node = get_node(st, cur.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            if port.node_uuid != cur.node_uuid {
                let new_node = get_node(st, port.node_uuid)?;
                check_unlocked_or_holder(st, &new_node, lock.as_ref())?;
            }
            let mut p = (**port).clone();
            p.id = cur.id;
            p.created_at = cur.created_at;
            p.revision = index;
            p.updated_at = Some(now);
            check_port_refs(st, Some(&cur), &p)?;
            let p = Arc::new(p);
            put_port(st, Some(cur), p.clone(), changes);
            Ok(Applied::Port(p))
        }

        Command::DeletePort { uuid, lock, .. } => {
            let cur = st.ports.get(uuid).cloned().ok_or(Error::PortNotFound { port: uuid.to_string() })?;
            if let Some(node) = st.nodes.get(&cur.node_uuid).cloned() {
                check_unlocked_or_holder(st, &node, lock.as_ref())?;
            }
            st.ports.remove(uuid);
            st.port_by_mac.remove(&cur.address);
            changes.push(Change::Port { old: Some(cur), new: None });
            Ok(Applied::Done)
        }

        Command::CreatePortgroup { portgroup, lock, .. } => {
            let node = get_node(st, portgroup.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            if st.portgroups.contains_key(&portgroup.uuid) {
                return Err(Error::AlreadyExists { kind: "portgroup".into(), uuid: portgroup.uuid.to_string() });
            }
            let mut pg = (**portgroup).clone();
            pg.id = index;
            pg.revision = index;
            pg.created_at = now;
            pg.updated_at = None;
            check_portgroup_refs(st, &pg)?;
            let pg = Arc::new(pg);
            st.portgroups.insert(pg.uuid, pg.clone());
            changes.push(Change::Portgroup { uuid: pg.uuid, new: Some(pg.clone()) });
            Ok(Applied::Portgroup(pg))
        }

        Command::UpdatePortgroup { portgroup, expected_revision, lock, .. } => {
            let cur = st
                .portgroups
                .get(&portgroup.uuid)
                .cloned()
                .ok_or(Error::PortgroupNotFound { portgroup: portgroup.uuid.to_string() })?;
            check_revision("Portgroup", &portgroup.uuid.to_string(), *expected_revision, cur.revision)?;
            let node = get_node(st, cur.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            if portgroup.node_uuid != cur.node_uuid {
                get_node(st, portgroup.node_uuid)?;
                if st.ports.values().any(|p| p.portgroup_uuid == Some(cur.uuid)) {
                    return Err(Error::PortgroupNotEmpty { portgroup: cur.uuid.to_string() });
                }
            }
            let mut pg = (**portgroup).clone();
            pg.id = cur.id;
            pg.created_at = cur.created_at;
            pg.revision = index;
            pg.updated_at = Some(now);
            check_portgroup_refs(st, &pg)?;
            let pg = Arc::new(pg);
            st.portgroups.insert(pg.uuid, pg.clone());
            changes.push(Change::Portgroup { uuid: pg.uuid, new: Some(pg.clone()) });
            Ok(Applied::Portgroup(pg))
        }

        Command::DeletePortgroup { uuid, lock, .. } => {
            let cur =
                st.portgroups.get(uuid).cloned().ok_or(Error::PortgroupNotFound { portgroup: uuid.to_string() })?;
            if let Some(node) = st.nodes.get(&cur.node_uuid).cloned() {
                check_unlocked_or_holder(st, &node, lock.as_ref())?;
            }
            if st.ports.values().any(|p| p.portgroup_uuid == Some(*uuid)) {
                return Err(Error::PortgroupNotEmpty { portgroup: uuid.to_string() });
            }
            st.portgroups.remove(uuid);
            changes.push(Change::Portgroup { uuid: *uuid, new: None });
            Ok(Applied::Done)
        }

        Command::CreateChassis { chassis, .. } => {
            if st.chassis.contains_key(&chassis.uuid) {
                return Err(Error::AlreadyExists { kind: "chassis".into(), uuid: chassis.uuid.to_string() });
            }
            let mut c = (**chassis).clone();
            c.id = index;
            c.revision = index;
            c.created_at = now;
            c.updated_at = None;
            let c = Arc::new(c);
            st.chassis.insert(c.uuid, c.clone());
            changes.push(Change::Chassis { uuid: c.uuid, new: Some(c.clone()) });
            Ok(Applied::Chassis(c))
        }

        Command::UpdateChassis { chassis, expected_revision, .. } => {
            let cur =
                st.chassis.get(&chassis.uuid).cloned().ok_or(Error::ChassisNotFound { chassis: chassis.uuid.to_string() })?;
            check_revision("Chassis", &chassis.uuid.to_string(), *expected_revision, cur.revision)?;
            let mut c = (**chassis).clone();
            c.id = cur.id;
            c.created_at = cur.created_at;
            c.revision = index;
            c.updated_at = Some(now);
            let c = Arc::new(c);
            st.chassis.insert(c.uuid, c.clone());
            changes.push(Change::Chassis { uuid: c.uuid, new: Some(c.clone()) });
            Ok(Applied::Chassis(c))
        }

        Command::DeleteChassis { uuid, .. } => {
            if !st.chassis.contains_key(uuid) {
                return Err(Error::ChassisNotFound { chassis: uuid.to_string() });
            }
            if st.nodes.values().any(|n| n.chassis_uuid == Some(*uuid)) {
                return Err(Error::ChassisNotEmpty { chassis: uuid.to_string() });
            }
            st.chassis.remove(uuid);
            changes.push(Change::Chassis { uuid: *uuid, new: None });
            Ok(Applied::Done)
        }

        Command::CreateVolumeConnector { connector, lock, .. } => {
            let node = get_node(st, connector.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            if st.volume_connectors.contains_key(&connector.uuid) {
                return Err(Error::AlreadyExists { kind: "volume connector".into(), uuid: connector.uuid.to_string() });
            }
            check_connector_unique(st, connector)?;
            let mut c = (**connector).clone();
            c.id = index;
            c.revision = index;
            c.created_at = now;
            c.updated_at = None;
            let c = Arc::new(c);
            st.volume_connectors.insert(c.uuid, c.clone());
            changes.push(Change::VolumeConnector { uuid: c.uuid, new: Some(c.clone()) });
            Ok(Applied::VolumeConnector(c))
        }

        Command::UpdateVolumeConnector { connector, expected_revision, lock, .. } => {
            let cur = st
                .volume_connectors
                .get(&connector.uuid)
                .cloned()
                .ok_or(Error::VolumeConnectorNotFound { connector: connector.uuid.to_string() })?;
            check_revision("Volume connector", &connector.uuid.to_string(), *expected_revision, cur.revision)?;
            let node = get_node(st, cur.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            check_connector_unique(st, connector)?;
            let mut c = (**connector).clone();
            c.id = cur.id;
            c.created_at = cur.created_at;
            c.revision = index;
            c.updated_at = Some(now);
            let c = Arc::new(c);
            st.volume_connectors.insert(c.uuid, c.clone());
            changes.push(Change::VolumeConnector { uuid: c.uuid, new: Some(c.clone()) });
            Ok(Applied::VolumeConnector(c))
        }

        Command::DeleteVolumeConnector { uuid, lock, .. } => {
            let cur = st
                .volume_connectors
                .get(uuid)
                .cloned()
                .ok_or(Error::VolumeConnectorNotFound { connector: uuid.to_string() })?;
            if let Some(node) = st.nodes.get(&cur.node_uuid).cloned() {
                check_unlocked_or_holder(st, &node, lock.as_ref())?;
            }
            st.volume_connectors.remove(uuid);
            changes.push(Change::VolumeConnector { uuid: *uuid, new: None });
            Ok(Applied::Done)
        }

        Command::CreateVolumeTarget { target, lock, .. } => {
            let node = get_node(st, target.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            if st.volume_targets.contains_key(&target.uuid) {
                return Err(Error::AlreadyExists { kind: "volume target".into(), uuid: target.uuid.to_string() });
            }
            check_target_unique(st, target)?;
            let mut t = (**target).clone();
            t.id = index;
            t.revision = index;
            t.created_at = now;
            t.updated_at = None;
            let t = Arc::new(t);
            st.volume_targets.insert(t.uuid, t.clone());
            changes.push(Change::VolumeTarget { uuid: t.uuid, new: Some(t.clone()) });
            Ok(Applied::VolumeTarget(t))
        }

        Command::UpdateVolumeTarget { target, expected_revision, lock, .. } => {
            let cur = st
                .volume_targets
                .get(&target.uuid)
                .cloned()
                .ok_or(Error::VolumeTargetNotFound { target: target.uuid.to_string() })?;
            check_revision("Volume target", &target.uuid.to_string(), *expected_revision, cur.revision)?;
            let node = get_node(st, cur.node_uuid)?;
            check_unlocked_or_holder(st, &node, lock.as_ref())?;
            check_target_unique(st, target)?;
            let mut t = (**target).clone();
            t.id = cur.id;
            t.created_at = cur.created_at;
            t.revision = index;
            t.updated_at = Some(now);
            let t = Arc::new(t);
            st.volume_targets.insert(t.uuid, t.clone());
            changes.push(Change::VolumeTarget { uuid: t.uuid, new: Some(t.clone()) });
            Ok(Applied::VolumeTarget(t))
        }

        Command::DeleteVolumeTarget { uuid, lock, .. } => {
            let cur =
                st.volume_targets.get(uuid).cloned().ok_or(Error::VolumeTargetNotFound { target: uuid.to_string() })?;
            if let Some(node) = st.nodes.get(&cur.node_uuid).cloned() {
                check_unlocked_or_holder(st, &node, lock.as_ref())?;
            }
            st.volume_targets.remove(uuid);
            changes.push(Change::VolumeTarget { uuid: *uuid, new: None });
            Ok(Applied::Done)
        }

        Command::AckEvent { id, delivered, error, max_attempts, .. } => {
            let Some(ev) = st.events.get_mut(id) else {
                return Ok(Applied::Done);
            };
            if *delivered {
                st.events.remove(id);
                changes.push(Change::Event { id: *id, new: None });
            } else {
                ev.attempts = ev.attempts.saturating_add(1);
                ev.last_error = error.clone();
                ev.last_attempt_at = Some(now);
                if ev.attempts >= *max_attempts {
                    ev.failed = true;
                }
                changes.push(Change::Event { id: *id, new: Some(ev.clone()) });
            }
            Ok(Applied::Done)
        }
    }
}

fn get_node(st: &State, uuid: Uuid) -> Result<Arc<Node>, Error> {
    st.nodes.get(&uuid).cloned().ok_or(Error::NodeNotFound { node: uuid.to_string() })
}

fn check_revision(kind: &str, ident: &str, expected: u64, current: u64) -> Result<(), Error> {
    if expected != current {
        return Err(Error::RevisionMismatch { kind: kind.into(), ident: ident.into(), expected, current });
    }
    Ok(())
}

/// A write not made under the lock is refused while any conductor holds it — even one that went
/// offline, until take-over frees the lock (else the holder, coming back, would overwrite the
/// write with its older copy of the node); a write made under a lock must carry the current
/// generation.
fn check_unlocked_or_holder(_st: &State, node: &Node, lock: Option<&LockToken>) -> Result<(), Error> {
    match (lock, &node.reservation) {
        (Some(l), _) => check_lock_current(node, l),
        (None, Some(r)) => Err(Error::NodeLocked { node: node.uuid.to_string(), host: r.holder.clone() }),
        (None, None) => Ok(()),
    }
}

/// The fencing check: only the current generation may write.
fn check_lock_current(node: &Node, lock: &LockToken) -> Result<(), Error> {
    match &node.reservation {
        Some(r) if r.generation == lock.generation && r.holder == lock.holder => Ok(()),
        other => Err(Error::StaleGeneration {
            node: node.uuid.to_string(),
            holder: lock.holder.clone(),
            generation: lock.generation,
            current: other.as_ref().map(|r| r.generation),
        }),
    }
}

/// Fields no update may change: identity and creation.
fn keep_identity(cur: &Node, n: &mut Node, index: u64, now: Timestamp) {
    n.id = cur.id;
    n.uuid = cur.uuid;
    n.created_at = cur.created_at;
    n.revision = index;
    n.updated_at = Some(now);
}

/// Uniqueness and references of a node about to be written.
fn check_node_refs(st: &State, old: Option<&Node>, n: &Node) -> Result<(), Error> {
    if let Some(name) = &n.name {
        if old.and_then(|o| o.name.as_ref()) != Some(name) {
            if let Some(other) = st.node_by_name.get(name) {
                if *other != n.uuid {
                    return Err(Error::DuplicateName { name: name.clone() });
                }
            }
        }
    }
    if let Some(inst) = &n.instance_uuid {
        if old.and_then(|o| o.instance_uuid.as_ref()) != Some(inst) {
            if let Some(other) = st.node_by_instance.get(inst) {
                if *other != n.uuid {
                    return Err(Error::InstanceAssociated { instance_uuid: inst.clone(), node: n.uuid.to_string() });
                }
            }
        }
    }
    if let Some(ch) = n.chassis_uuid {
        if old.and_then(|o| o.chassis_uuid) != Some(ch) && !st.chassis.contains_key(&ch) {
            return Err(Error::ChassisNotFound { chassis: ch.to_string() });
        }
    }
    Ok(())
}

/// A config drive stored apart lives exactly as long as its node's `instance_info` refers to it.
fn drop_unreferenced_configdrives(changes: &mut Vec<Change>) {
    let gone: Vec<Uuid> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Node { old: Some(o), new }
                if o.configdrive_stored_apart() && !new.as_ref().is_some_and(|n| n.configdrive_stored_apart()) =>
            {
                Some(o.uuid)
            }
            _ => None,
        })
        .collect();
    changes.extend(gone.into_iter().map(|node| Change::ConfigDrive { node, data: None }));
}

fn put_node(st: &mut State, old: Option<Arc<Node>>, new: Arc<Node>, changes: &mut Vec<Change>) {
    if let Some(o) = &old {
        if o.name != new.name {
            if let Some(name) = &o.name {
                st.node_by_name.remove(name);
            }
        }
        if o.instance_uuid != new.instance_uuid {
            if let Some(i) = &o.instance_uuid {
                st.node_by_instance.remove(i);
            }
        }
    }
    if let Some(name) = &new.name {
        st.node_by_name.insert(name.clone(), new.uuid);
    }
    if let Some(i) = &new.instance_uuid {
        st.node_by_instance.insert(i.clone(), new.uuid);
    }
    st.nodes.insert(new.uuid, new.clone());
    changes.push(Change::Node { old, new: Some(new) });
}

/// Nova's `power-update`: a node with an instance whose power state changed to on or off.
fn maybe_power_event(st: &mut State, index: u64, now: Timestamp, old: &Node, new: &Node, changes: &mut Vec<Change>) {
    if old.power_state == new.power_state {
        return;
    }
    let tag = match new.power_state {
        Some(PowerState::On) => "POWER_ON",
        Some(PowerState::Off) => "POWER_OFF",
        _ => return,
    };
    let Some(inst) = &new.instance_uuid else { return };
    let ev = PendingEvent {
        id: index,
        node_uuid: new.uuid,
        instance_uuid: inst.clone(),
        tag: tag.to_string(),
        created_at: now,
        attempts: 0,
        last_error: None,
        last_attempt_at: None,
        failed: false,
    };
    st.events.insert(index, ev.clone());
    changes.push(Change::Event { id: index, new: Some(ev) });
}

fn check_port_refs(st: &State, old: Option<&Port>, p: &Port) -> Result<(), Error> {
    if old.map(|o| o.address.as_str()) != Some(p.address.as_str()) {
        if let Some(other) = st.port_by_mac.get(&p.address) {
            if *other != p.uuid {
                return Err(Error::MacAlreadyExists { mac: p.address.clone() });
            }
        }
    }
    if !st.nodes.contains_key(&p.node_uuid) {
        return Err(Error::NodeNotFound { node: p.node_uuid.to_string() });
    }
    if let Some(pg) = p.portgroup_uuid {
        let Some(g) = st.portgroups.get(&pg) else {
            return Err(Error::PortgroupNotFound { portgroup: pg.to_string() });
        };
        if g.node_uuid != p.node_uuid {
            return Err(Error::invalid(format!(
                "Port with UUID {} cannot belong to a portgroup {} that belongs to a different node.",
                p.uuid, pg
            )));
        }
    }
    if let Some(name) = &p.name {
        if st.ports.values().any(|o| o.uuid != p.uuid && o.name.as_deref() == Some(name)) {
            return Err(Error::NameTaken { kind: "port".into(), name: name.clone() });
        }
    }
    Ok(())
}

fn put_port(st: &mut State, old: Option<Arc<Port>>, new: Arc<Port>, changes: &mut Vec<Change>) {
    if let Some(o) = &old {
        if o.address != new.address {
            st.port_by_mac.remove(&o.address);
        }
    }
    st.port_by_mac.insert(new.address.clone(), new.uuid);
    st.ports.insert(new.uuid, new.clone());
    changes.push(Change::Port { old, new: Some(new) });
}

fn check_portgroup_refs(st: &State, pg: &Portgroup) -> Result<(), Error> {
    if let Some(addr) = &pg.address {
        if st.portgroups.values().any(|o| o.uuid != pg.uuid && o.address.as_deref() == Some(addr)) {
            return Err(Error::PortgroupMacAlreadyExists { mac: addr.clone() });
        }
    }
    if let Some(name) = &pg.name {
        if st.portgroups.values().any(|o| o.uuid != pg.uuid && o.name.as_deref() == Some(name)) {
            return Err(Error::NameTaken { kind: "portgroup".into(), name: name.clone() });
        }
    }
    Ok(())
}

fn check_connector_unique(st: &State, c: &VolumeConnector) -> Result<(), Error> {
    if st
        .volume_connectors
        .values()
        .any(|o| o.uuid != c.uuid && o.connector_type == c.connector_type && o.connector_id == c.connector_id)
    {
        return Err(Error::conflict(format!(
            "A volume connector with type {} and connector ID {} already exists.",
            c.connector_type, c.connector_id
        )));
    }
    Ok(())
}

fn check_target_unique(st: &State, t: &VolumeTarget) -> Result<(), Error> {
    if st
        .volume_targets
        .values()
        .any(|o| o.uuid != t.uuid && o.node_uuid == t.node_uuid && o.boot_index == t.boot_index)
    {
        return Err(Error::conflict(format!(
            "A volume target with boot index '{}' for the same node already exists.",
            t.boot_index
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conductor::ConductorRecord;

    fn t(s: i64) -> Timestamp {
        Timestamp(s * 1_000_000)
    }

    fn conductor(name: &str) -> ConductorRecord {
        ConductorRecord {
            hostname: name.into(),
            conductor_group: String::new(),
            hardware_types: vec![],
            online: true,
            created_at: t(0),
            updated_at: t(0),
            heartbeat_seq: 0,
            schema: 1,
            peer_addr: String::new(),
            api_addr: String::new(),
        }
    }

    struct Log {
        st: State,
        index: u64,
    }

    impl Log {
        fn new() -> Log {
            let mut l = Log { st: State::default(), index: 0 };
            l.ok(Command::RegisterConductor { record: conductor("a"), now: t(1) });
            l.ok(Command::RegisterConductor { record: conductor("b"), now: t(1) });
            l
        }
        fn run(&mut self, c: Command) -> Response {
            self.index += 1;
            apply(&mut self.st, self.index, &c).0
        }
        fn ok(&mut self, c: Command) -> Applied {
            match self.run(c) {
                Response::Ok(a) => a,
                Response::Refused(e) => panic!("refused: {e}"),
            }
        }
        fn refused(&mut self, c: Command) -> Error {
            match self.run(c) {
                Response::Ok(a) => panic!("applied: {a:?}"),
                Response::Refused(e) => e,
            }
        }
        fn node(&mut self, name: &str) -> Arc<Node> {
            let mut n = Node::new(Uuid::new_v4(), "fake-hardware", t(2));
            n.name = Some(name.into());
            match self.ok(Command::CreateNode { node: Box::new(n), now: t(2) }) {
                Applied::Node(n) => n,
                other => panic!("{other:?}"),
            }
        }
        fn lock(&mut self, uuid: Uuid, holder: &str) -> Result<u64, Error> {
            match self.run(Command::AcquireLock {
                uuid,
                holder: holder.into(),
                purpose: "test".into(),
                expected_revision: None,
                update: None,
                now: t(3),
                configdrive: None,
            }) {
                Response::Ok(Applied::Locked { generation, .. }) => Ok(generation),
                Response::Ok(other) => panic!("{other:?}"),
                Response::Refused(e) => Err(e),
            }
        }
    }

    /// Applies `c` and returns its changes (test helper for the config drive records).
    fn changes_of(l: &mut Log, c: Command) -> (Response, Vec<Change>) {
        l.index += 1;
        apply(&mut l.st, l.index, &c)
    }

    fn drive_changes(ch: &[Change]) -> Vec<(Uuid, Option<usize>)> {
        ch.iter()
            .filter_map(|c| match c {
                Change::ConfigDrive { node, data } => Some((*node, data.as_ref().map(|d| d.size()))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_config_drive_stored_apart_lives_as_long_as_its_node_refers_to_it() {
        let mut l = Log::new();
        let n = l.node("cd");
        let drive = ConfigDrive::new(serde_json::Value::String("H4sI".repeat(1000)));
        let lock = |l: &Log, update: Node, drive: Option<ConfigDrive>| Command::AcquireLock {
            uuid: update.uuid,
            holder: "a".into(),
            purpose: "deploy".into(),
            expected_revision: Some(l.st.nodes[&update.uuid].revision),
            update: Some(Box::new(update)),
            now: t(4),
            configdrive: drive,
        };
        // The schema: such a lock needs every member at 2; without a drive, 1 as before.
        let c = lock(&l, (*n).clone(), Some(drive.clone()));
        assert_eq!(c.min_schema(), 2);
        assert_eq!(lock(&l, (*n).clone(), None).min_schema(), 1);
        // Granted: the node carries a small marker, and the drive is one change of its own.
        let (r, ch) = changes_of(&mut l, c);
        let Response::Ok(Applied::Locked { generation, node }) = r else { panic!("{r:?}") };
        assert!(node.configdrive_stored_apart());
        assert_eq!(node.instance_info[CONFIGDRIVE][crate::node::STORED_APART], 4000);
        assert_eq!(drive_changes(&ch), vec![(n.uuid, Some(4000))]);
        let record = serde_json::to_vec(&*node).unwrap();
        assert!(record.len() < 2000, "the record does not carry the drive: {} bytes", record.len());
        // A later write of the node under the lock keeps the marker and does not touch the drive.
        let token = LockToken { holder: "a".into(), generation };
        let mut next = (*node).clone();
        next.deploy_step = Default::default();
        next.power_state = Some(PowerState::On);
        let (r, ch) = changes_of(&mut l, Command::SaveNode { node: Box::new(next), lock: token.clone(), release: true, now: t(5) });
        assert!(matches!(r, Response::Ok(_)), "{r:?}");
        assert!(drive_changes(&ch).is_empty(), "{:?}", drive_changes(&ch));
        // Undeploy empties instance_info: the drive goes in the same step.
        let cur = l.st.nodes[&n.uuid].clone();
        let mut torn = (*cur).clone();
        torn.instance_info.clear();
        let c = lock(&l, torn, None);
        let (r, ch) = changes_of(&mut l, c);
        assert!(matches!(r, Response::Ok(_)), "{r:?}");
        assert_eq!(drive_changes(&ch), vec![(n.uuid, None)]);
        let Response::Ok(Applied::Locked { generation, .. }) = r else { unreachable!() };
        l.ok(Command::ReleaseLock { uuid: n.uuid, lock: LockToken { holder: "a".into(), generation }, now: t(6) });
        // Deleting a node whose drive is stored apart deletes the drive.
        let cur = l.st.nodes[&n.uuid].clone();
        let c = lock(&l, (*cur).clone(), Some(drive.clone()));
        let (r, _) = changes_of(&mut l, c);
        let Response::Ok(Applied::Locked { generation, .. }) = r else { panic!("{r:?}") };
        l.ok(Command::ReleaseLock { uuid: n.uuid, lock: LockToken { holder: "a".into(), generation }, now: t(7) });
        let (r, ch) = changes_of(&mut l, Command::DeleteNode { uuid: n.uuid, expected_revision: None, lock: None, now: t(8) });
        assert!(matches!(r, Response::Ok(_)), "{r:?}");
        assert_eq!(drive_changes(&ch), vec![(n.uuid, None)]);
        // A drive without a node update, or a refused lock, writes nothing.
        let m = l.node("cd2");
        let e = l.refused(Command::AcquireLock {
            uuid: m.uuid,
            holder: "a".into(),
            purpose: "deploy".into(),
            expected_revision: None,
            update: None,
            now: t(9),
            configdrive: Some(drive.clone()),
        });
        assert!(e.to_string().contains("config drive"), "{e}");
        let mut stale = lock(&l, (*m).clone(), Some(drive));
        if let Command::AcquireLock { expected_revision, .. } = &mut stale {
            *expected_revision = Some(0);
        }
        let (r, ch) = changes_of(&mut l, stale);
        assert!(matches!(r, Response::Refused(Error::RevisionMismatch { .. })), "{r:?}");
        assert!(drive_changes(&ch).is_empty());
        assert!(!l.st.nodes[&m.uuid].configdrive_stored_apart());
    }

    #[test]
    fn names_are_unique_and_indexes_follow_renames() {
        let mut l = Log::new();
        let n = l.node("n1");
        let mut dup = Node::new(Uuid::new_v4(), "fake-hardware", t(2));
        dup.name = Some("n1".into());
        assert!(matches!(l.refused(Command::CreateNode { node: Box::new(dup), now: t(2) }), Error::DuplicateName { .. }));
        let mut renamed = (*n).clone();
        renamed.name = Some("n2".into());
        l.ok(Command::UpdateNode { node: Box::new(renamed), expected_revision: n.revision, lock: None, now: t(4) });
        assert!(l.st.find_node("n1").is_none());
        assert_eq!(l.st.find_node("n2").unwrap().uuid, n.uuid);
        l.node("n1");
    }

    #[test]
    fn stale_revision_is_refused() {
        let mut l = Log::new();
        let n = l.node("n1");
        let mut a = (*n).clone();
        a.extra.insert("k".into(), 1.into());
        l.ok(Command::UpdateNode { node: Box::new(a.clone()), expected_revision: n.revision, lock: None, now: t(4) });
        let e = l.refused(Command::UpdateNode { node: Box::new(a), expected_revision: n.revision, lock: None, now: t(4) });
        assert!(matches!(e, Error::RevisionMismatch { .. }));
    }

    #[test]
    fn locks_fence_stale_holders() {
        let mut l = Log::new();
        let n = l.node("n1");
        let g1 = l.lock(n.uuid, "a").unwrap();
        // Held by a live conductor: refused, with the holder named.
        match l.lock(n.uuid, "b") {
            Err(Error::NodeLocked { host, .. }) => assert_eq!(host, "a"),
            other => panic!("{other:?}"),
        }
        // API writes are refused while locked.
        let cur = l.st.nodes[&n.uuid].clone();
        let e = l.refused(Command::UpdateNode {
            node: Box::new((*cur).clone()),
            expected_revision: cur.revision,
            lock: None,
            now: t(4),
        });
        assert!(matches!(e, Error::NodeLocked { .. }));
        // "a" goes offline: "b" takes the lock with a higher generation.
        let seq = l.st.conductors["a"].heartbeat_seq;
        l.ok(Command::ConductorOffline { hostname: "a".into(), seq, now: t(70) });
        let g2 = l.lock(n.uuid, "b").unwrap();
        assert!(g2 > g1);
        // "a" comes back and writes with its old generation: refused.
        l.ok(Command::ConductorHeartbeat { hostname: "a".into(), now: t(71) });
        let mut stale = (*l.st.nodes[&n.uuid]).clone();
        stale.last_error = Some("from a".into());
        let e = l.refused(Command::SaveNode {
            node: Box::new(stale.clone()),
            lock: LockToken { holder: "a".into(), generation: g1 },
            release: true,
            now: t(72),
        });
        assert!(matches!(e, Error::StaleGeneration { .. }), "{e:?}");
        assert_eq!(l.st.nodes[&n.uuid].reservation.as_ref().unwrap().holder, "b");
        // The current holder writes and releases.
        l.ok(Command::SaveNode {
            node: Box::new(stale),
            lock: LockToken { holder: "b".into(), generation: g2 },
            release: true,
            now: t(73),
        });
        let after = &l.st.nodes[&n.uuid];
        assert!(after.reservation.is_none());
        assert_eq!(after.last_error.as_deref(), Some("from a"));
    }

    #[test]
    fn late_heartbeat_beats_offline() {
        let mut l = Log::new();
        let seen = l.st.conductors["a"].heartbeat_seq;
        // A heartbeat whose clock is behind still moves the sequence.
        l.ok(Command::ConductorHeartbeat { hostname: "a".into(), now: t(0) });
        assert_ne!(l.st.conductors["a"].heartbeat_seq, seen);
        let e = l.refused(Command::ConductorOffline { hostname: "a".into(), seq: seen, now: t(100) });
        assert!(matches!(e, Error::Conflict { .. }));
        assert!(l.st.conductor_online("a"));
    }

    #[test]
    fn lock_free_writes_wait_for_take_over_of_an_offline_holder() {
        let mut l = Log::new();
        let n = l.node("n1");
        l.lock(n.uuid, "a").unwrap();
        let seq = l.st.conductors["a"].heartbeat_seq;
        l.ok(Command::ConductorOffline { hostname: "a".into(), seq, now: t(70) });
        let cur = l.st.nodes[&n.uuid].clone();
        let e = l.refused(Command::UpdateNode { node: Box::new((*cur).clone()), expected_revision: cur.revision, lock: None, now: t(71) });
        assert!(matches!(e, Error::NodeLocked { .. }), "{e:?}");
    }

    #[test]
    fn offline_conductor_cannot_lock() {
        let mut l = Log::new();
        let n = l.node("n1");
        l.ok(Command::UnregisterConductor { hostname: "a".into(), now: t(5) });
        assert!(matches!(l.lock(n.uuid, "a"), Err(Error::TemporaryFailure { .. })));
    }

    #[test]
    fn macs_are_unique_and_node_delete_cascades() {
        let mut l = Log::new();
        let n = l.node("n1");
        let p = Port::new(Uuid::new_v4(), "52:54:00:00:00:01".into(), n.uuid, t(3));
        l.ok(Command::CreatePort { port: Box::new(p), lock: None, now: t(3) });
        let p2 = Port::new(Uuid::new_v4(), "52:54:00:00:00:01".into(), n.uuid, t(3));
        assert!(matches!(
            l.refused(Command::CreatePort { port: Box::new(p2), lock: None, now: t(3) }),
            Error::MacAlreadyExists { .. }
        ));
        l.ok(Command::DeleteNode { uuid: n.uuid, expected_revision: None, lock: None, now: t(4) });
        assert!(l.st.ports.is_empty());
        assert!(l.st.port_by_mac.is_empty());
    }

    #[test]
    fn power_changes_of_instances_queue_events() {
        let mut l = Log::new();
        let n = l.node("n1");
        let mut with_inst = (*n).clone();
        with_inst.instance_uuid = Some("11111111-2222-3333-4444-555555555555".into());
        l.ok(Command::UpdateNode { node: Box::new(with_inst), expected_revision: n.revision, lock: None, now: t(4) });
        let g = l.lock(n.uuid, "a").unwrap();
        let mut on = (*l.st.nodes[&n.uuid]).clone();
        on.power_state = Some(PowerState::On);
        l.ok(Command::SaveNode { node: Box::new(on), lock: LockToken { holder: "a".into(), generation: g }, release: true, now: t(5) });
        assert_eq!(l.st.events.len(), 1);
        let ev = l.st.events.values().next().unwrap().clone();
        assert_eq!(ev.tag, "POWER_ON");
        l.ok(Command::AckEvent { id: ev.id, delivered: false, error: Some("down".into()), max_attempts: 2, now: t(6) });
        assert!(!l.st.events[&ev.id].failed);
        l.ok(Command::AckEvent { id: ev.id, delivered: false, error: Some("down".into()), max_attempts: 2, now: t(7) });
        assert!(l.st.events[&ev.id].failed);
        l.ok(Command::AckEvent { id: ev.id, delivered: true, error: None, max_attempts: 2, now: t(8) });
        assert!(l.st.events.is_empty());
    }

    #[test]
    fn clock_is_monotonic() {
        let mut l = Log::new();
        l.ok(Command::ConductorHeartbeat { hostname: "a".into(), now: t(100) });
        l.ok(Command::ConductorHeartbeat { hostname: "a".into(), now: t(50) });
        assert_eq!(l.st.meta.clock, t(100));
        assert_eq!(l.st.conductors["a"].updated_at, t(100));
    }

    #[test]
    fn chassis_with_nodes_cannot_be_deleted() {
        let mut l = Log::new();
        let c = Chassis::new(Uuid::new_v4(), t(1));
        l.ok(Command::CreateChassis { chassis: Box::new(c.clone()), now: t(1) });
        let n = l.node("n1");
        let mut m = (*n).clone();
        m.chassis_uuid = Some(c.uuid);
        l.ok(Command::UpdateNode { node: Box::new(m), expected_revision: n.revision, lock: None, now: t(2) });
        assert!(matches!(l.refused(Command::DeleteChassis { uuid: c.uuid, now: t(3) }), Error::ChassisNotEmpty { .. }));
    }
}
