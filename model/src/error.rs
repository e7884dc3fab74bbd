//! Ironic's exceptions as one structured enum, with Ironic's messages and HTTP codes.
//!
//! The same value is a business refusal inside the state machine, crosses between members over
//! gRPC (serde), and becomes Ironic's error body in `api`. `http_status` is the one mapping from
//! error to status code.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "error")]
pub enum Error {
    // ---- 404 ----
    #[error("Node {node} could not be found.")]
    NodeNotFound { node: String },
    #[error("Port {port} could not be found.")]
    PortNotFound { port: String },
    #[error("Portgroup {portgroup} could not be found.")]
    PortgroupNotFound { portgroup: String },
    #[error("Chassis {chassis} could not be found.")]
    ChassisNotFound { chassis: String },
    #[error("Volume connector {connector} could not be found.")]
    VolumeConnectorNotFound { connector: String },
    #[error("Volume target {target} could not be found.")]
    VolumeTargetNotFound { target: String },
    #[error("Conductor {conductor} could not be found.")]
    ConductorNotFound { conductor: String },
    #[error("Could not find the following driver(s) or hardware type(s): {driver}.")]
    DriverNotFound { driver: String },
    #[error("{message}")]
    NotFound { message: String },

    // ---- 409 ----
    #[error("Node {node} is locked by host {host}, please retry after the current operation is completed.")]
    NodeLocked { node: String, host: String },
    #[error("A node with name {name} already exists.")]
    DuplicateName { name: String },
    #[error("A node with UUID {uuid} already exists.")]
    NodeAlreadyExists { uuid: String },
    #[error("A port with MAC address {mac} already exists.")]
    MacAlreadyExists { mac: String },
    #[error("A portgroup with MAC address {mac} already exists.")]
    PortgroupMacAlreadyExists { mac: String },
    #[error("A {kind} with name {name} already exists.")]
    NameTaken { kind: String, name: String },
    #[error("A {kind} with UUID {uuid} already exists.")]
    AlreadyExists { kind: String, uuid: String },
    #[error("Instance {instance_uuid} is already associated with a node, it cannot be associated with this other node {node}")]
    InstanceAssociated { instance_uuid: String, node: String },
    #[error("Node {node} is associated with instance {instance}.")]
    NodeAssociated { node: String, instance: String },
    #[error("{message}")]
    InvalidState { message: String },
    #[error("{message}")]
    Conflict { message: String },
    /// The record changed since it was read: re-read and retry (optimistic concurrency).
    #[error("{kind} {ident} was modified concurrently (revision {current}, expected {expected}); retry")]
    RevisionMismatch { kind: String, ident: String, expected: u64, current: u64 },
    /// A write under a lock whose generation is no longer current: the lock was lost.
    #[error("Node {node}: lock generation {generation} held by {holder} is stale (current: {current:?})")]
    StaleGeneration { node: String, holder: String, generation: u64, current: Option<u64> },
    #[error("Unable to attach VIF {vif}, it is already attached to node {node}.")]
    VifAlreadyAttached { vif: String, node: String },

    // ---- 400 ----
    #[error("The requested action \"{action}\" can not be performed on node \"{node}\" while it is in state \"{state}\".")]
    InvalidStateRequested { action: String, node: String, state: String },
    #[error("The {op} operation can't be performed on node {node} because it's in maintenance mode.")]
    NodeInMaintenance { op: String, node: String },
    #[error("Cannot complete the requested action because portgroup {portgroup} contains ports.")]
    PortgroupNotEmpty { portgroup: String },
    #[error("Cannot complete the requested action because chassis {chassis} contains nodes.")]
    ChassisNotEmpty { chassis: String },
    #[error("Driver {driver} does not support {extension} (disabled or not implemented).")]
    UnsupportedDriverExtension { driver: String, extension: String },
    #[error("{message}")]
    InvalidParameterValue { message: String },
    #[error("{message}")]
    MissingParameterValue { message: String },
    #[error("Could not find the following interface in the 'ironic.hardware.interfaces.{interface_type}' entrypoint: {iface}. Valid interfaces are {valid}.")]
    InterfaceNotFoundInEntrypoint { interface_type: String, iface: String, valid: String },
    #[error("No default value found for {interface_type} interface for {node_info}.")]
    NoValidDefaultForInterface { interface_type: String, node_info: String },
    #[error("No valid host was found. Reason: {reason}")]
    NoValidHost { reason: String },
    #[error("Unable to attach VIF {vif}, not enough free physical ports.")]
    NoFreePhysicalPorts { vif: String },
    #[error("VIF {vif} is not attached to bare metal node {node}")]
    VifNotAttached { vif: String, node: String },
    #[error("{message}")]
    Invalid { message: String },
    #[error("{message}")]
    PatchError { message: String },

    // ---- 401 / 403 / 406 ----
    #[error("{message}")]
    NotAuthorized { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("Request not acceptable.")]
    NotAcceptable,

    // ---- 503 ----
    #[error("Requested action cannot be performed due to lack of free conductor workers.")]
    NoFreeConductorWorker,
    #[error("{message}")]
    TemporaryFailure { message: String },
    /// The member asked to act on a node does not own it at its ring version: route again.
    #[error("Conductor {member} does not own node {node} at ring version {ring_version}; retry")]
    NotOwner { member: String, node: String, ring_version: u64 },
    /// A peer speaks an older or newer schema than this member serves.
    #[error("Peer schema version {peer} is not served by this member (serves {min}..={max}); finish the rolling upgrade")]
    SchemaMismatch { peer: u32, min: u32, max: u32 },

    // ---- 500 ----
    #[error("{message}")]
    DriverOperationError { message: String },
    #[error("{message}")]
    Internal { message: String },
}

impl Error {
    /// The HTTP status Ironic answers with for this error. The one mapping.
    pub fn http_status(&self) -> u16 {
        use Error::*;
        match self {
            NodeNotFound { .. }
            | PortNotFound { .. }
            | PortgroupNotFound { .. }
            | ChassisNotFound { .. }
            | VolumeConnectorNotFound { .. }
            | VolumeTargetNotFound { .. }
            | ConductorNotFound { .. }
            | DriverNotFound { .. }
            | NotFound { .. } => 404,
            NodeLocked { .. }
            | DuplicateName { .. }
            | NodeAlreadyExists { .. }
            | MacAlreadyExists { .. }
            | PortgroupMacAlreadyExists { .. }
            | NameTaken { .. }
            | AlreadyExists { .. }
            | InstanceAssociated { .. }
            | NodeAssociated { .. }
            | InvalidState { .. }
            | Conflict { .. }
            | RevisionMismatch { .. }
            | StaleGeneration { .. }
            | VifAlreadyAttached { .. } => 409,
            InvalidStateRequested { .. }
            | NodeInMaintenance { .. }
            | PortgroupNotEmpty { .. }
            | ChassisNotEmpty { .. }
            | UnsupportedDriverExtension { .. }
            | InvalidParameterValue { .. }
            | MissingParameterValue { .. }
            | InterfaceNotFoundInEntrypoint { .. }
            | NoValidDefaultForInterface { .. }
            | NoValidHost { .. }
            | NoFreePhysicalPorts { .. }
            | VifNotAttached { .. }
            | Invalid { .. }
            | PatchError { .. } => 400,
            NotAuthorized { .. } => 401,
            Forbidden { .. } => 403,
            NotAcceptable => 406,
            NoFreeConductorWorker | TemporaryFailure { .. } | NotOwner { .. } | SchemaMismatch { .. } => 503,
            DriverOperationError { .. } | Internal { .. } => 500,
        }
    }

    /// Ironic's exception class name, for logs and `debuginfo`-free clients that key on it.
    pub fn kind(&self) -> &'static str {
        use Error::*;
        match self {
            NodeNotFound { .. } => "NodeNotFound",
            PortNotFound { .. } => "PortNotFound",
            PortgroupNotFound { .. } => "PortgroupNotFound",
            ChassisNotFound { .. } => "ChassisNotFound",
            VolumeConnectorNotFound { .. } => "VolumeConnectorNotFound",
            VolumeTargetNotFound { .. } => "VolumeTargetNotFound",
            ConductorNotFound { .. } => "ConductorNotFound",
            DriverNotFound { .. } => "DriverNotFound",
            NotFound { .. } => "NotFound",
            NodeLocked { .. } => "NodeLocked",
            DuplicateName { .. } => "DuplicateName",
            NodeAlreadyExists { .. } => "NodeAlreadyExists",
            MacAlreadyExists { .. } => "MACAlreadyExists",
            PortgroupMacAlreadyExists { .. } => "PortgroupMACAlreadyExists",
            NameTaken { .. } => "DuplicateName",
            AlreadyExists { .. } => "Conflict",
            InstanceAssociated { .. } => "InstanceAssociated",
            NodeAssociated { .. } => "NodeAssociated",
            InvalidState { .. } => "InvalidState",
            Conflict { .. } => "Conflict",
            RevisionMismatch { .. } => "Conflict",
            StaleGeneration { .. } => "NodeLocked",
            VifAlreadyAttached { .. } => "VifAlreadyAttached",
            InvalidStateRequested { .. } => "InvalidStateRequested",
            NodeInMaintenance { .. } => "NodeInMaintenance",
            PortgroupNotEmpty { .. } => "PortgroupNotEmpty",
            ChassisNotEmpty { .. } => "ChassisNotEmpty",
            UnsupportedDriverExtension { .. } => "UnsupportedDriverExtension",
            InvalidParameterValue { .. } => "InvalidParameterValue",
            MissingParameterValue { .. } => "MissingParameterValue",
            InterfaceNotFoundInEntrypoint { .. } => "InterfaceNotFoundInEntrypoint",
            NoValidDefaultForInterface { .. } => "NoValidDefaultForInterface",
            NoValidHost { .. } => "NoValidHost",
            NoFreePhysicalPorts { .. } => "NoFreePhysicalPorts",
            VifNotAttached { .. } => "VifNotAttached",
            Invalid { .. } => "Invalid",
            PatchError { .. } => "PatchError",
            NotAuthorized { .. } => "NotAuthorized",
            Forbidden { .. } => "Forbidden",
            NotAcceptable => "NotAcceptable",
            NoFreeConductorWorker => "NoFreeConductorWorker",
            TemporaryFailure { .. } => "TemporaryFailure",
            NotOwner { .. } => "NotOwner",
            SchemaMismatch { .. } => "SchemaMismatch",
            DriverOperationError { .. } => "DriverOperationError",
            Internal { .. } => "Internal",
        }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidParameterValue { message: message.into() }
    }

    pub fn missing(message: impl Into<String>) -> Error {
        Error::MissingParameterValue { message: message.into() }
    }

    pub fn conflict(message: impl Into<String>) -> Error {
        Error::Conflict { message: message.into() }
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal { message: message.into() }
    }

    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::TemporaryFailure { message: message.into() }
    }

    /// Worth retrying by the caller without user involvement (routing and optimistic races).
    pub fn is_retryable_internally(&self) -> bool {
        matches!(self, Error::NotOwner { .. } | Error::RevisionMismatch { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_ironic() {
        let e = Error::NodeLocked { node: "n1".into(), host: "c1".into() };
        assert_eq!(
            e.to_string(),
            "Node n1 is locked by host c1, please retry after the current operation is completed."
        );
        assert_eq!(e.http_status(), 409);
        let e = Error::InvalidStateRequested { action: "active".into(), node: "u".into(), state: "enroll".into() };
        assert_eq!(
            e.to_string(),
            "The requested action \"active\" can not be performed on node \"u\" while it is in state \"enroll\"."
        );
        assert_eq!(e.http_status(), 400);
        assert_eq!(Error::NoFreeConductorWorker.http_status(), 503);
    }

    #[test]
    fn serde_round_trip() {
        let e = Error::MacAlreadyExists { mac: "52:54:00:00:00:01".into() };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Error>(&s).unwrap(), e);
    }
}
