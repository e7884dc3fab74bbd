//! Validation shared by node create and node PATCH: Ironic's node JSON schema and extra
//! validators, version gates on fields, name rules, and the update rules the conductor applies
//! to a changed node (maintenance reason, protected, retired, interfaces in allowed states).

use super::{find_node, logical_name_chars, valid_name_at};
use crate::error::{ApiError, ApiResult};
use crate::params::bool_from_json;
use crate::pyjson;
use crate::render::NODE_FIELDS;
use crate::version::Version;
use ferric_model::node::{Dict, InterfaceKind};
use ferric_model::{Error, Node, ProvisionState, State};
use serde_json::{Map, Value};
use uuid::Uuid;

/// JSON types a schema property accepts.
#[derive(Clone, Copy)]
enum Ty {
    /// `["string", "null"]`
    Str,
    /// `"string"` (not null)
    StrReq,
    /// `["string", "boolean", "null"]`
    Bool,
    /// `["object", "null"]`
    Obj,
}

struct Prop {
    name: &'static str,
    ty: Ty,
    min_len: Option<usize>,
    max_len: Option<usize>,
}

const fn p(name: &'static str, ty: Ty) -> Prop {
    Prop { name, ty, min_len: None, max_len: None }
}

const fn pl(name: &'static str, ty: Ty, min_len: Option<usize>, max_len: Option<usize>) -> Prop {
    Prop { name, ty, min_len, max_len }
}

/// Ironic's `node_schema()` properties (and `node_patch_schema()`'s additions at the end).
const NODE_SCHEMA: &[Prop] = &[
    p("automated_clean", Ty::Bool),
    p("bios_interface", Ty::Str),
    p("boot_interface", Ty::Str),
    p("boot_mode", Ty::Str),
    p("chassis_uuid", Ty::Str),
    p("conductor_group", Ty::Str),
    p("console_enabled", Ty::Bool),
    p("console_interface", Ty::Str),
    p("deploy_interface", Ty::Str),
    pl("description", Ty::Str, None, Some(4096)),
    p("disable_power_off", Ty::Bool),
    p("driver", Ty::StrReq),
    p("driver_info", Ty::Obj),
    p("extra", Ty::Obj),
    p("firmware_interface", Ty::Str),
    p("inspect_interface", Ty::Str),
    p("instance_info", Ty::Obj),
    pl("instance_name", Ty::Str, Some(1), Some(255)),
    p("instance_uuid", Ty::Str),
    p("lessee", Ty::Str),
    p("management_interface", Ty::Str),
    p("maintenance", Ty::Bool),
    p("name", Ty::Str),
    p("network_data", Ty::Obj),
    p("network_interface", Ty::Str),
    p("owner", Ty::Str),
    pl("parent_node", Ty::Str, None, Some(36)),
    p("power_interface", Ty::Str),
    p("properties", Ty::Obj),
    p("raid_interface", Ty::Str),
    p("rescue_interface", Ty::Str),
    pl("resource_class", Ty::Str, None, Some(80)),
    p("retired", Ty::Bool),
    p("retired_reason", Ty::Str),
    p("secure_boot", Ty::Bool),
    p("shard", Ty::Str),
    p("storage_interface", Ty::Str),
    p("uuid", Ty::Str),
    p("vendor_interface", Ty::Str),
];

const PATCH_EXTRA_SCHEMA: &[Prop] = &[p("protected", Ty::Bool), p("protected_reason", Ty::Str)];

/// Ironic's `PATCH_ALLOWED_FIELDS` for nodes, in its order (the error message lists them so).
pub(crate) const NODE_PATCH_ALLOWED: &[&str] = &[
    "automated_clean",
    "bios_interface",
    "boot_interface",
    "chassis_uuid",
    "conductor_group",
    "console_interface",
    "deploy_interface",
    "description",
    "disable_power_off",
    "driver",
    "driver_info",
    "extra",
    "inspect_interface",
    "instance_info",
    "instance_name",
    "instance_uuid",
    "lessee",
    "maintenance",
    "management_interface",
    "name",
    "network_data",
    "network_interface",
    "owner",
    "power_interface",
    "properties",
    "protected",
    "protected_reason",
    "raid_interface",
    "rescue_interface",
    "resource_class",
    "retired",
    "retired_reason",
    "shard",
    "storage_interface",
    "vendor_interface",
    "parent_node",
    "firmware_interface",
];

/// Reserved words of the nodes controller, as Ironic lists them in its message.
const RESERVED_WORDS: &str = "maintenance, management, states, vendor_passthru, detail, validate";

fn type_names(t: Ty) -> &'static str {
    match t {
        Ty::Str => "'string', 'null'",
        Ty::StrReq => "'string'",
        Ty::Bool => "'string', 'boolean', 'null'",
        Ty::Obj => "'object', 'null'",
    }
}

fn type_ok(t: Ty, v: &Value) -> bool {
    match t {
        Ty::Str => v.is_string() || v.is_null(),
        Ty::StrReq => v.is_string(),
        Ty::Bool => v.is_string() || v.is_boolean() || v.is_null(),
        Ty::Obj => v.is_object() || v.is_null(),
    }
}

fn in_schema(name: &str, patch: bool) -> bool {
    NODE_SCHEMA.iter().any(|p| p.name == name) || (patch && PATCH_EXTRA_SCHEMA.iter().any(|p| p.name == name))
}

/// jsonschema validation of a node body (`what` = "node") or patched node ("patch"), then
/// Ironic's `NODE_VALIDATE_EXTRA` (booleans and UUIDs). Returns the object with booleans
/// converted.
pub(crate) fn validate_schema(mut m: Map<String, Value>, what: &str, patch: bool) -> ApiResult<Map<String, Value>> {
    let err = |msg: String| ApiError::invalid(format!("Schema error for {what}: {msg}"));
    if !m.contains_key("driver") {
        return Err(err("'driver' is a required property".into()));
    }
    if !patch {
        let mut extra: Vec<&String> = m.keys().filter(|k| !in_schema(k, false)).collect();
        if !extra.is_empty() {
            extra.sort();
            let names: Vec<String> = extra.iter().map(|k| pyjson::repr_str(k)).collect();
            let verb = if names.len() == 1 { "was" } else { "were" };
            return Err(err(format!("Additional properties are not allowed ({} {verb} unexpected)", names.join(", "))));
        }
    }
    let props = NODE_SCHEMA.iter().chain(if patch { PATCH_EXTRA_SCHEMA } else { &[] });
    for prop in props {
        let Some(v) = m.get(prop.name) else { continue };
        if !type_ok(prop.ty, v) {
            return Err(err(format!("{} is not of type {}", pyjson::repr(v), type_names(prop.ty))));
        }
        if let Value::String(s) = v {
            let n = s.chars().count();
            if prop.max_len.map(|l| n > l).unwrap_or(false) {
                return Err(err(format!("{} is too long", pyjson::repr(v))));
            }
            if prop.min_len.map(|l| n < l).unwrap_or(false) {
                return Err(err(if n == 0 {
                    format!("{} should be non-empty", pyjson::repr(v))
                } else {
                    format!("{} is too short", pyjson::repr(v))
                }));
            }
        }
    }
    for b in ["automated_clean", "console_enabled", "disable_power_off", "protected", "maintenance", "retired"] {
        if let Some(v) = m.get(b) {
            let parsed = bool_from_json(b, v)?;
            m.insert(b.to_string(), parsed.map(Value::Bool).unwrap_or(Value::Null));
        }
    }
    for u in ["chassis_uuid", "instance_uuid", "uuid"] {
        if let Some(Value::String(s)) = m.get(u) {
            if Uuid::parse_str(s).is_err() {
                return Err(ApiError::invalid(format!("Expected UUID for {u}: {s}")));
            }
        }
    }
    Ok(m)
}

/// The minor version a node field appeared in (Ironic's `VERSIONED_FIELDS`); 1 otherwise.
fn field_min_version(f: &str) -> u32 {
    match f {
        "conductor" => 49,
        "allocation_uuid" => 52,
        "events" => 54,
        _ => NODE_FIELDS.iter().find(|(n, _)| *n == f).map(|(_, v)| *v).unwrap_or(1),
    }
}

/// `reject_fields_in_newer_versions` on a create body: a non-empty value of a field the version
/// does not have is a 406.
pub(crate) fn reject_newer_fields(m: &Map<String, Value>, ver: Version) -> ApiResult<()> {
    for (k, v) in m {
        if ver.at_least(field_min_version(k)) {
            continue;
        }
        let empty = match k.as_str() {
            "conductor_group" => v.as_str() == Some("") || v.is_null(),
            _ => v.is_null(),
        };
        if !empty {
            return Err(ApiError::not_acceptable());
        }
    }
    Ok(())
}

/// `reject_patch_in_newer_versions`: setting a field the version does not have is a 406.
pub(crate) fn reject_newer_patch(ops: &[crate::patch::PatchOp], ver: Version) -> ApiResult<()> {
    for op in ops {
        let f = op.root();
        if op.sets(f).is_some() && !ver.at_least(field_min_version(f)) {
            return Err(ApiError::not_acceptable());
        }
    }
    Ok(())
}

/// `_check_names_acceptable`.
pub(crate) fn check_name(name: &str, ver: Version, error_msg: impl FnOnce() -> String) -> ApiResult<()> {
    if !ver.at_least(5) {
        return Err(ApiError::not_acceptable());
    }
    if !valid_name_at(name, ver) {
        return Err(ApiError::bad_request(error_msg()));
    }
    if ferric_model::ids::RESERVED_NODE_NAMES.contains(&name) {
        return Err(ApiError::bad_request(format!(
            "The word \"{name}\" is reserved and can not be used as a node name. Reserved words are: {RESERVED_WORDS}."
        )));
    }
    Ok(())
}

fn opt_string(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| v.as_str()).map(str::to_string)
}

fn dict_of(v: Option<&Value>) -> Dict {
    match v {
        Some(Value::Object(m)) => m.clone(),
        _ => Dict::new(),
    }
}

fn conductor_group(v: Option<&Value>) -> ApiResult<String> {
    let g = opt_string(v).unwrap_or_default().to_lowercase();
    if !g.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(ApiError::invalid(format!(
            "Invalid conductor_group {}: it may contain only letters, digits, '_', '-' and '.'.",
            pyjson::repr_str(&g)
        )));
    }
    Ok(g)
}

/// Resolves `parent_node` (name or UUID) to an existing node's UUID.
fn parent_node(st: &State, v: Option<&Value>, self_uuid: Uuid, ver: Version) -> ApiResult<Option<String>> {
    let Some(ident) = opt_string(v) else { return Ok(None) };
    let bad = || {
        ApiError::Model(Error::Invalid {
            message: format!("Unable to apply the requested parent_node '{ident}'. Requested value was invalid."),
        })
    };
    if !logical_name_chars(&ident) && Uuid::parse_str(&ident).is_err() {
        return Err(bad());
    }
    let parent = find_node(st, &ident, ver).map_err(|_| bad())?;
    if parent.uuid == self_uuid {
        return Err(bad());
    }
    Ok(Some(parent.uuid.to_string()))
}

fn chassis_ref(st: &State, v: Option<&Value>) -> ApiResult<Option<Uuid>> {
    let Some(s) = opt_string(v) else { return Ok(None) };
    let u = Uuid::parse_str(&s).map_err(|_| ApiError::invalid(format!("Expected UUID for chassis_uuid: {s}")))?;
    if !st.chassis.contains_key(&u) {
        return Err(ApiError::status(400, Error::ChassisNotFound { chassis: s }.to_string()));
    }
    Ok(Some(u))
}

/// Sets the fields Ironic lets a client write (create body or patched document) on `n`.
/// `m` has passed [`validate_schema`]; only keys present are applied on create, every
/// whitelisted key on patch (a removed key becomes its empty value).
pub(crate) fn apply_fields(st: &State, n: &mut Node, m: &Map<String, Value>, ver: Version, patch: bool) -> ApiResult<()> {
    let has = |k: &str| patch || m.contains_key(k);
    let get = |k: &str| m.get(k).filter(|v| !v.is_null());
    if has("automated_clean") {
        n.automated_clean = get("automated_clean").and_then(Value::as_bool);
    }
    for kind in InterfaceKind::ALL {
        let f = kind.field();
        if has(f) {
            *n.interface_mut(kind) = opt_string(get(f)).unwrap_or_default();
        }
    }
    if has("chassis_uuid") {
        let new = chassis_ref(st, get("chassis_uuid"))?;
        if patch && n.chassis_uuid.is_some() && new.is_none() && !ver.at_least(25) {
            return Err(ApiError::not_acceptable());
        }
        n.chassis_uuid = new;
    }
    if has("conductor_group") {
        n.conductor_group = conductor_group(get("conductor_group"))?;
    }
    if has("description") {
        n.description = opt_string(get("description"));
    }
    if has("disable_power_off") {
        n.disable_power_off = get("disable_power_off").and_then(Value::as_bool).unwrap_or(false);
    }
    if let Some(d) = get("driver").and_then(Value::as_str) {
        n.driver = d.to_string();
    }
    for (k, slot) in [
        ("driver_info", &mut n.driver_info),
        ("extra", &mut n.extra),
        ("instance_info", &mut n.instance_info),
        ("properties", &mut n.properties),
        ("network_data", &mut n.network_data),
    ] {
        if has(k) {
            *slot = dict_of(get(k));
        }
    }
    if has("instance_name") {
        n.instance_name = opt_string(get("instance_name"));
    }
    if has("instance_uuid") {
        n.instance_uuid = opt_string(get("instance_uuid"));
    }
    if has("lessee") {
        n.lessee = opt_string(get("lessee"));
    }
    if has("owner") {
        n.owner = opt_string(get("owner"));
    }
    if has("maintenance") {
        n.maintenance = get("maintenance").and_then(Value::as_bool).unwrap_or(false);
    }
    if has("name") {
        n.name = opt_string(get("name"));
    }
    if has("parent_node") {
        n.parent_node = parent_node(st, get("parent_node"), n.uuid, ver)?;
    }
    if has("protected") {
        n.protected = get("protected").and_then(Value::as_bool).unwrap_or(false);
    }
    if has("protected_reason") {
        n.protected_reason = opt_string(get("protected_reason"));
    }
    if has("resource_class") {
        n.resource_class = opt_string(get("resource_class"));
    }
    if has("retired") {
        n.retired = get("retired").and_then(Value::as_bool).unwrap_or(false);
    }
    if has("retired_reason") {
        n.retired_reason = opt_string(get("retired_reason"));
    }
    if has("shard") {
        n.shard = opt_string(get("shard"));
    }
    if !patch {
        // Create-only members of the schema.
        if has("console_enabled") {
            n.console_enabled = get("console_enabled").and_then(Value::as_bool).unwrap_or(false);
        }
        if has("boot_mode") {
            n.boot_mode = opt_string(get("boot_mode"));
        }
        if has("secure_boot") {
            n.secure_boot = get("secure_boot").map(|v| bool_from_json("secure_boot", v)).transpose()?.flatten();
        }
    }
    Ok(())
}

/// States in which interfaces (and an existing resource class) may change.
const INTERFACE_UPDATE_STATES: [ProvisionState; 5] = [
    ProvisionState::Enroll,
    ProvisionState::Inspecting,
    ProvisionState::InspectWait,
    ProvisionState::Manageable,
    ProvisionState::Available,
];

fn allowed_list() -> String {
    INTERFACE_UPDATE_STATES.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// The conductor's `update_node` rules for a changed node (`old` as read, `new` as patched).
/// Adjusts `new` the way Ironic does and refuses what Ironic refuses.
pub(crate) fn check_update(old: &Node, new: &mut Node, reset_interfaces: bool) -> ApiResult<()> {
    if old.maintenance != new.maintenance && !new.maintenance {
        new.maintenance_reason = None;
        new.fault = None;
    }
    if old.protected != new.protected {
        if !new.protected {
            new.protected_reason = None;
        } else if !matches!(new.provision_state, ProvisionState::Active | ProvisionState::Rescue) {
            return Err(Error::InvalidState {
                message: format!(
                    "Node {} can only be made protected in provision states 'active' or 'rescue', the current state is '{}'",
                    new.uuid, new.provision_state
                ),
            }
            .into());
        }
    }
    if old.protected_reason != new.protected_reason && new.protected_reason.is_some() && !new.protected {
        return Err(ApiError::invalid("The protected_reason field can only be set when protected is True"));
    }
    if old.retired != new.retired {
        if !new.retired {
            new.retired_reason = None;
        } else if new.provision_state == ProvisionState::Available {
            return Err(Error::InvalidState {
                message: format!(
                    "Node {} can not have 'retired' set in provision state 'available', the current state is '{}'",
                    new.uuid, new.provision_state
                ),
            }
            .into());
        }
    }
    if old.retired_reason != new.retired_reason && new.retired_reason.is_some() && !new.retired {
        return Err(ApiError::invalid("The retired_reason field can only be set when retired is True"));
    }
    let driver_changed = old.driver != new.driver;
    if driver_changed && old.console_enabled {
        return Err(ApiError::conflict(format!(
            "Node {} can not update the driver while the console is enabled. Please stop the console first.",
            new.uuid
        )));
    }
    for kind in InterfaceKind::ALL {
        if old.interface(kind) == new.interface(kind) {
            if driver_changed && reset_interfaces {
                new.interface_mut(kind).clear();
            }
            continue;
        }
        if !(INTERFACE_UPDATE_STATES.contains(&new.provision_state) || new.maintenance) {
            return Err(Error::InvalidState {
                message: format!(
                    "Node {} can not have {} updated unless it is in one of allowed ({}) states or in maintenance mode. Current state is '{}'.",
                    new.uuid,
                    kind.field(),
                    allowed_list(),
                    new.provision_state
                ),
            }
            .into());
        }
    }
    if old.instance_uuid != new.instance_uuid && new.instance_uuid.is_some() && old.instance_uuid.is_some() {
        return Err(Error::NodeAssociated {
            node: new.uuid.to_string(),
            instance: old.instance_uuid.clone().unwrap_or_default(),
        }
        .into());
    }
    if old.resource_class != new.resource_class
        && old.resource_class.is_some()
        && !INTERFACE_UPDATE_STATES.contains(&old.provision_state)
    {
        return Err(Error::InvalidState {
            message: format!(
                "Node {} can not have resource_class updated unless it is in one of allowed ({}) states. Current state is '{}'.",
                new.uuid,
                allowed_list(),
                old.provision_state
            ),
        }
        .into());
    }
    Ok(())
}

/// A node as its PATCH document (Ironic's `as_dict()` plus `chassis_uuid`): every field the API
/// knows, unmasked, independent of the version.
pub(crate) fn node_doc(n: &Node) -> Map<String, Value> {
    let full = crate::render::node(
        n,
        None,
        crate::render::View { ver: Version::MAX, base: "", fields: None },
    );
    let mut m: Map<String, Value> = full
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "links" | "ports" | "states" | "portgroups" | "volume" | "conductor"))
        .collect();
    // Unmasked values: the document is patched, not shown.
    m.insert("driver_info".into(), Value::Object(n.driver_info.clone()));
    m.insert("instance_info".into(), Value::Object(n.instance_info.clone()));
    m.insert("driver_internal_info".into(), Value::Object(n.driver_internal_info.clone()));
    m.insert("provision_state".into(), Value::String(n.provision_state.as_str().into()));
    m.insert(
        "target_provision_state".into(),
        n.target_provision_state.map(|s| Value::String(s.as_str().into())).unwrap_or(Value::Null),
    );
    m
}

/// Drops the document's keys that the patch schema does not know (Ironic's
/// `patched_validate_with_schema` prunes the same way).
pub(crate) fn prune_to_schema(doc: Map<String, Value>) -> Map<String, Value> {
    doc.into_iter().filter(|(k, _)| in_schema(k, true)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_messages() {
        let m = json!({"driver": "fake-hardware", "bogus": 1}).as_object().unwrap().clone();
        assert_eq!(
            validate_schema(m, "node", false).unwrap_err().message(),
            "Schema error for node: Additional properties are not allowed ('bogus' was unexpected)"
        );
        let m = json!({"name": "x"}).as_object().unwrap().clone();
        assert_eq!(validate_schema(m, "node", false).unwrap_err().message(), "Schema error for node: 'driver' is a required property");
        let m = json!({"driver": 1}).as_object().unwrap().clone();
        assert_eq!(validate_schema(m, "node", false).unwrap_err().message(), "Schema error for node: 1 is not of type 'string'");
        let m = json!({"driver": "d", "maintenance": "yes", "uuid": "x"}).as_object().unwrap().clone();
        assert_eq!(validate_schema(m, "node", false).unwrap_err().message(), "Expected UUID for uuid: x");
        let m = json!({"driver": "d", "maintenance": "yes"}).as_object().unwrap().clone();
        assert_eq!(validate_schema(m, "node", false).unwrap()["maintenance"], json!(true));
    }

    #[test]
    fn newer_fields_are_not_acceptable() {
        let m = json!({"driver": "d", "conductor_group": ""}).as_object().unwrap().clone();
        reject_newer_fields(&m, Version { minor: 1 }).unwrap();
        let m = json!({"driver": "d", "owner": "p"}).as_object().unwrap().clone();
        assert_eq!(reject_newer_fields(&m, Version { minor: 49 }).unwrap_err().http_status(), 406);
        reject_newer_fields(&m, Version { minor: 50 }).unwrap();
    }
}
