//! The replicated commands (every write is one) and their responses.
//!
//! A command is stamped by its proposer with `now`; `apply` never reads a clock. The response is
//! always a value: `Response::Refused` carries a business refusal (lock held, stale generation,
//! duplicate MAC, ...).

use crate::chassis::Chassis;
use crate::conductor::ConductorRecord;
use crate::error::Error;
use crate::node::Node;
use crate::port::Port;
use crate::portgroup::Portgroup;
use crate::time::Timestamp;
use crate::volume::{VolumeConnector, VolumeTarget};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// Who writes, and under which lock. `None` means "not under a lock": the write is refused while
/// a live conductor holds the node's reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockToken {
    pub holder: String,
    pub generation: u64,
}

/// A config drive's content (base64 text or Ironic's JSON form), shared rather than copied
/// when a command is cloned or retried. Its `Debug` shows only the size: it may hold secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConfigDrive(pub Arc<serde_json::Value>);

impl ConfigDrive {
    pub fn new(v: serde_json::Value) -> ConfigDrive {
        ConfigDrive(Arc::new(v))
    }

    /// Its size: the length of the base64 text, or of the JSON form's encoding.
    pub fn size(&self) -> usize {
        match &*self.0 {
            serde_json::Value::String(s) => s.len(),
            other => serde_json::to_vec(other).map(|v| v.len()).unwrap_or(0),
        }
    }
}

impl std::fmt::Debug for ConfigDrive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            serde_json::Value::String(s) => write!(f, "ConfigDrive({} chars)", s.len()),
            _ => write!(f, "ConfigDrive(object)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// First entry of a new cluster: records its identity.
    InitCluster { cluster_id: String, now: Timestamp },

    // ---- conductors ----
    RegisterConductor { record: ConductorRecord, now: Timestamp },
    ConductorHeartbeat { hostname: String, now: Timestamp },
    /// Proposed by the leader: `hostname` has not heartbeated since its heartbeat `seq`. Applied
    /// only if that is still its last heartbeat (a late heartbeat wins).
    ConductorOffline { hostname: String, seq: u64, now: Timestamp },
    /// Graceful stop: the member marks itself offline.
    UnregisterConductor { hostname: String, now: Timestamp },
    /// The member left the cluster: its registration goes away.
    RemoveConductor { hostname: String, now: Timestamp },

    // ---- nodes ----
    CreateNode { node: Box<Node>, now: Timestamp },
    /// Replace a node's record if its revision is still `expected_revision` (API updates).
    UpdateNode { node: Box<Node>, expected_revision: u64, lock: Option<LockToken>, now: Timestamp },
    DeleteNode { uuid: Uuid, expected_revision: Option<u64>, lock: Option<LockToken>, now: Timestamp },

    // ---- locks ----
    /// Take the exclusive lock. Granted when the node is unreserved or its holder is offline;
    /// the generation is this entry's log index. `update`, if given, is applied in the same step
    /// (e.g. the provision transition that starts the work), conditioned on `expected_revision`.
    AcquireLock {
        uuid: Uuid,
        holder: String,
        purpose: String,
        expected_revision: Option<u64>,
        update: Option<Box<Node>>,
        now: Timestamp,
        /// A deploy's config drive, stored apart from the node record (schema 2): the node's
        /// `instance_info.configdrive` becomes a small marker and later writes of the node do
        /// not carry the drive again. Only with `update`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        configdrive: Option<ConfigDrive>,
    },
    /// Write the node under the lock (refused unless `lock` is the current reservation); with
    /// `release`, the lock is freed in the same step.
    SaveNode { node: Box<Node>, lock: LockToken, release: bool, now: Timestamp },
    ReleaseLock { uuid: Uuid, lock: LockToken, now: Timestamp },
    /// Free a reservation whose holder is offline, after Ironic's take-over rules (clear a
    /// pending power target with a message).
    ReleaseOrphan { uuid: Uuid, holder: String, now: Timestamp },

    // ---- ports, portgroups, chassis, volume ----
    CreatePort { port: Box<Port>, lock: Option<LockToken>, now: Timestamp },
    UpdatePort { port: Box<Port>, expected_revision: u64, lock: Option<LockToken>, now: Timestamp },
    DeletePort { uuid: Uuid, lock: Option<LockToken>, now: Timestamp },
    CreatePortgroup { portgroup: Box<Portgroup>, lock: Option<LockToken>, now: Timestamp },
    UpdatePortgroup { portgroup: Box<Portgroup>, expected_revision: u64, lock: Option<LockToken>, now: Timestamp },
    DeletePortgroup { uuid: Uuid, lock: Option<LockToken>, now: Timestamp },
    CreateChassis { chassis: Box<Chassis>, now: Timestamp },
    UpdateChassis { chassis: Box<Chassis>, expected_revision: u64, now: Timestamp },
    DeleteChassis { uuid: Uuid, now: Timestamp },
    CreateVolumeConnector { connector: Box<VolumeConnector>, lock: Option<LockToken>, now: Timestamp },
    UpdateVolumeConnector { connector: Box<VolumeConnector>, expected_revision: u64, lock: Option<LockToken>, now: Timestamp },
    DeleteVolumeConnector { uuid: Uuid, lock: Option<LockToken>, now: Timestamp },
    CreateVolumeTarget { target: Box<VolumeTarget>, lock: Option<LockToken>, now: Timestamp },
    UpdateVolumeTarget { target: Box<VolumeTarget>, expected_revision: u64, lock: Option<LockToken>, now: Timestamp },
    DeleteVolumeTarget { uuid: Uuid, lock: Option<LockToken>, now: Timestamp },

    // ---- events ----
    /// Record a delivery attempt of a pending event: delivered events go away; failed ones count
    /// attempts and are marked failed at `max_attempts`.
    AckEvent { id: u64, delivered: bool, error: Option<String>, max_attempts: u32, now: Timestamp },
}

impl Command {
    /// The proposer's clock reading carried by the command.
    pub fn now(&self) -> Timestamp {
        use Command::*;
        match self {
            InitCluster { now, .. }
            | RegisterConductor { now, .. }
            | ConductorHeartbeat { now, .. }
            | ConductorOffline { now, .. }
            | UnregisterConductor { now, .. }
            | RemoveConductor { now, .. }
            | CreateNode { now, .. }
            | UpdateNode { now, .. }
            | DeleteNode { now, .. }
            | AcquireLock { now, .. }
            | SaveNode { now, .. }
            | ReleaseLock { now, .. }
            | ReleaseOrphan { now, .. }
            | CreatePort { now, .. }
            | UpdatePort { now, .. }
            | DeletePort { now, .. }
            | CreatePortgroup { now, .. }
            | UpdatePortgroup { now, .. }
            | DeletePortgroup { now, .. }
            | CreateChassis { now, .. }
            | UpdateChassis { now, .. }
            | DeleteChassis { now, .. }
            | CreateVolumeConnector { now, .. }
            | UpdateVolumeConnector { now, .. }
            | DeleteVolumeConnector { now, .. }
            | CreateVolumeTarget { now, .. }
            | UpdateVolumeTarget { now, .. }
            | DeleteVolumeTarget { now, .. }
            | AckEvent { now, .. } => *now,
        }
    }

    /// The schema version a member must speak to apply this command. During a rolling upgrade a
    /// newer member proposes a command only when every registered conductor speaks its schema
    /// (else older members could not decode the log entry).
    pub fn min_schema(&self) -> u32 {
        match self {
            Command::AcquireLock { configdrive: Some(_), .. } => 2,
            _ => 1,
        }
    }

    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        use Command::*;
        match self {
            InitCluster { .. } => "init_cluster",
            RegisterConductor { .. } => "register_conductor",
            ConductorHeartbeat { .. } => "conductor_heartbeat",
            ConductorOffline { .. } => "conductor_offline",
            UnregisterConductor { .. } => "unregister_conductor",
            RemoveConductor { .. } => "remove_conductor",
            CreateNode { .. } => "create_node",
            UpdateNode { .. } => "update_node",
            DeleteNode { .. } => "delete_node",
            AcquireLock { .. } => "acquire_lock",
            SaveNode { .. } => "save_node",
            ReleaseLock { .. } => "release_lock",
            ReleaseOrphan { .. } => "release_orphan",
            CreatePort { .. } => "create_port",
            UpdatePort { .. } => "update_port",
            DeletePort { .. } => "delete_port",
            CreatePortgroup { .. } => "create_portgroup",
            UpdatePortgroup { .. } => "update_portgroup",
            DeletePortgroup { .. } => "delete_portgroup",
            CreateChassis { .. } => "create_chassis",
            UpdateChassis { .. } => "update_chassis",
            DeleteChassis { .. } => "delete_chassis",
            CreateVolumeConnector { .. } => "create_volume_connector",
            UpdateVolumeConnector { .. } => "update_volume_connector",
            DeleteVolumeConnector { .. } => "delete_volume_connector",
            CreateVolumeTarget { .. } => "create_volume_target",
            UpdateVolumeTarget { .. } => "update_volume_target",
            DeleteVolumeTarget { .. } => "delete_volume_target",
            AckEvent { .. } => "ack_event",
        }
    }
}

/// What an applied command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Applied {
    Done,
    Node(Arc<Node>),
    /// A granted lock: the generation to carry on every write, and the node as locked.
    Locked { generation: u64, node: Arc<Node> },
    Port(Arc<Port>),
    Portgroup(Arc<Portgroup>),
    Chassis(Arc<Chassis>),
    VolumeConnector(Arc<VolumeConnector>),
    VolumeTarget(Arc<VolumeTarget>),
}

/// The state machine's answer to one command: applied, or refused for a business reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Ok(Applied),
    Refused(Error),
}

impl Response {
    pub fn into_result(self) -> Result<Applied, Error> {
        match self {
            Response::Ok(a) => Ok(a),
            Response::Refused(e) => Err(e),
        }
    }
}
