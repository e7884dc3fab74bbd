//! Records as the API shows them: Ironic's field names and order, fields hidden below the
//! microversion that introduced them, secrets masked, `fields=` selection, and links.

use crate::error::{ApiError, ApiResult};
use crate::links;
use crate::version::Version;
use ferric_model::node::{mask_secrets, Dict, MASK};
use ferric_model::{Chassis, ConductorRecord, Node, Port, Portgroup, ProvisionState, Timestamp};
use serde_json::{Map, Value};

pub(crate) type Obj = Map<String, Value>;

fn ts(t: Timestamp) -> Value {
    Value::String(t.to_iso8601())
}

fn ots(t: Option<Timestamp>) -> Value {
    t.map(ts).unwrap_or(Value::Null)
}

fn ostr<S: AsRef<str>>(s: Option<S>) -> Value {
    s.map(|s| Value::String(s.as_ref().to_string())).unwrap_or(Value::Null)
}

fn dict(d: &Dict) -> Value {
    Value::Object(d.clone())
}

/// Node fields with the minor version that introduced them, in the order Ironic emits them
/// (`_get_fields_for_node_query`'s list). `uuid`, `created_at`, `updated_at` come first and
/// `links`, `conductor`, `allocation_uuid`, `chassis_uuid` and the link lists come after.
pub(crate) const NODE_FIELDS: &[(&str, u32)] = &[
    ("automated_clean", 47),
    ("bios_interface", 40),
    ("boot_interface", 31),
    ("boot_mode", 75),
    ("clean_step", 7),
    ("conductor_group", 46),
    ("console_enabled", 1),
    ("console_interface", 31),
    ("disable_power_off", 95),
    ("deploy_interface", 31),
    ("deploy_step", 44),
    ("description", 51),
    ("driver", 1),
    ("driver_info", 1),
    ("driver_internal_info", 3),
    ("extra", 1),
    ("fault", 42),
    ("firmware_interface", 86),
    ("health", 109),
    ("inspection_finished_at", 6),
    ("inspection_started_at", 6),
    ("inspect_interface", 31),
    ("instance_info", 1),
    ("instance_name", 104),
    ("instance_uuid", 1),
    ("last_error", 1),
    ("lessee", 65),
    ("maintenance", 1),
    ("maintenance_reason", 1),
    ("management_interface", 31),
    ("name", 5),
    ("network_data", 66),
    ("network_interface", 20),
    ("owner", 50),
    ("parent_node", 83),
    ("power_interface", 31),
    ("power_state", 1),
    ("properties", 1),
    ("protected", 48),
    ("protected_reason", 48),
    ("provision_state", 1),
    ("provision_updated_at", 1),
    ("raid_config", 12),
    ("raid_interface", 31),
    ("rescue_interface", 38),
    ("reservation", 1),
    ("resource_class", 21),
    ("retired", 61),
    ("retired_reason", 61),
    ("secure_boot", 75),
    ("service_step", 87),
    ("shard", 82),
    ("storage_interface", 33),
    ("target_power_state", 1),
    ("target_provision_state", 1),
    ("target_raid_config", 12),
    ("traits", 37),
    ("vendor_interface", 31),
];

/// Fields the API computes rather than reads from the record.
const NODE_API_FIELDS: &[(&str, u32)] = &[("conductor", 49), ("allocation_uuid", 52), ("chassis_uuid", 1)];

/// The minor version a node field appeared in; `None` for an unknown field.
pub(crate) fn node_field_version(field: &str) -> Option<u32> {
    match field {
        "uuid" | "created_at" | "updated_at" | "links" | "ports" => Some(1),
        "states" => Some(14),
        "portgroups" => Some(24),
        "volume" => Some(32),
        _ => NODE_FIELDS.iter().chain(NODE_API_FIELDS).find(|(f, _)| *f == field).map(|(_, v)| *v),
    }
}

/// `fields=` of a node request: 406 for a field newer than the version, 400 for an unknown one.
pub(crate) fn check_node_fields(fields: &[String], ver: Version) -> ApiResult<()> {
    if !ver.at_least(8) {
        return Err(ApiError::not_acceptable());
    }
    for f in fields {
        if let Some(v) = node_field_version(f) {
            if !ver.at_least(v) {
                return Err(ApiError::not_acceptable());
            }
        }
    }
    for f in fields {
        let known = f == "uuid" || NODE_FIELDS.iter().chain(NODE_API_FIELDS).any(|(n, _)| n == f);
        if !known {
            return Err(ApiError::Model(ferric_model::Error::Invalid { message: format!("Field {f} is not a valid field.") }));
        }
    }
    Ok(())
}

/// The string the API shows for a provision state at a version.
pub(crate) fn provision_state_value(s: ProvisionState, ver: Version) -> Value {
    match s {
        ProvisionState::Available if !ver.at_least(2) => Value::Null,
        ProvisionState::InspectWait if !ver.at_least(39) => Value::String("inspecting".into()),
        s => Value::String(s.as_str().to_string()),
    }
}

fn mask_instance_info(d: &Dict) -> Dict {
    let mut m = mask_secrets(d);
    for k in ["configdrive", "image_url"] {
        if m.get(k).map(|v| !v.is_null() && v != &Value::Bool(false) && v != "").unwrap_or(false) {
            m.insert(k.to_string(), Value::String(MASK.into()));
        }
    }
    m
}

/// One node field as the API shows it, borrowed from the record where it can be: a node is
/// serialised straight from these (`NodeDoc`), or turned into a JSON tree (`node`).
pub(crate) enum Field<'a> {
    Null,
    Bool(bool),
    Str(&'a str),
    Owned(String),
    Dict(&'a Dict),
    Traits(&'a [String]),
    Value(Value),
}

impl Field<'_> {
    fn into_value(self) -> Value {
        match self {
            Field::Null => Value::Null,
            Field::Bool(b) => Value::Bool(b),
            Field::Str(s) => Value::String(s.to_string()),
            Field::Owned(s) => Value::String(s),
            Field::Dict(d) => Value::Object(d.clone()),
            Field::Traits(t) => Value::Array(t.iter().map(|t| Value::String(t.clone())).collect()),
            Field::Value(v) => v,
        }
    }
}

impl serde::Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Null => s.serialize_unit(),
            Field::Bool(b) => s.serialize_bool(*b),
            Field::Str(v) => s.serialize_str(v),
            Field::Owned(v) => s.serialize_str(v),
            Field::Dict(d) => d.serialize(s),
            Field::Traits(t) => t.serialize(s),
            Field::Value(v) => v.serialize(s),
        }
    }
}

fn fstr(s: &str) -> Field<'_> {
    Field::Str(s)
}

fn fostr<S: AsRef<str> + ?Sized>(s: Option<&S>) -> Field<'_> {
    s.map(|s| Field::Str(s.as_ref())).unwrap_or(Field::Null)
}

fn fts<'a>(t: Option<Timestamp>) -> Field<'a> {
    t.map(|t| Field::Owned(t.to_iso8601())).unwrap_or(Field::Null)
}

fn node_value<'a>(n: &'a Node, field: &str, conductor: Option<&'a str>, ver: Version) -> Field<'a> {
    match field {
        "uuid" => Field::Owned(n.uuid.to_string()),
        "created_at" => fts(Some(n.created_at)),
        "updated_at" => fts(n.updated_at),
        "automated_clean" => n.automated_clean.map(Field::Bool).unwrap_or(Field::Null),
        "bios_interface" => fstr(&n.bios_interface),
        "boot_interface" => fstr(&n.boot_interface),
        "boot_mode" => fostr(n.boot_mode.as_ref()),
        "clean_step" => Field::Dict(&n.clean_step),
        "conductor_group" => fstr(&n.conductor_group),
        "console_enabled" => Field::Bool(n.console_enabled),
        "console_interface" => fstr(&n.console_interface),
        "disable_power_off" => Field::Bool(n.disable_power_off),
        "deploy_interface" => fstr(&n.deploy_interface),
        "deploy_step" => Field::Dict(&n.deploy_step),
        "description" => fostr(n.description.as_ref()),
        "driver" => fstr(&n.driver),
        "driver_info" => Field::Value(Value::Object(mask_secrets(&n.driver_info))),
        "driver_internal_info" => Field::Value(Value::Object(mask_secrets(&n.driver_internal_info))),
        "extra" => Field::Dict(&n.extra),
        "fault" => fostr(n.fault.as_ref()),
        "firmware_interface" => fstr(&n.firmware_interface),
        "health" => fostr(n.health.as_ref()),
        "inspection_finished_at" => fts(n.inspection_finished_at),
        "inspection_started_at" => fts(n.inspection_started_at),
        "inspect_interface" => fstr(&n.inspect_interface),
        "instance_info" => Field::Value(Value::Object(mask_instance_info(&n.instance_info))),
        "instance_name" => fostr(n.instance_name.as_ref()),
        "instance_uuid" => fostr(n.instance_uuid.as_ref()),
        "last_error" => fostr(n.last_error.as_ref()),
        "lessee" => fostr(n.lessee.as_ref()),
        "maintenance" => Field::Bool(n.maintenance),
        "maintenance_reason" => fostr(n.maintenance_reason.as_ref()),
        "management_interface" => fstr(&n.management_interface),
        "name" => fostr(n.name.as_ref()),
        "network_data" => Field::Dict(&n.network_data),
        "network_interface" => fstr(&n.network_interface),
        "owner" => fostr(n.owner.as_ref()),
        "parent_node" => fostr(n.parent_node.as_ref()),
        "power_interface" => fstr(&n.power_interface),
        "power_state" => fostr(n.power_state.map(|p| p.as_str())),
        "properties" => Field::Dict(&n.properties),
        "protected" => Field::Bool(n.protected),
        "protected_reason" => fostr(n.protected_reason.as_ref()),
        "provision_state" => Field::Value(provision_state_value(n.provision_state, ver)),
        "provision_updated_at" => fts(n.provision_updated_at),
        "raid_config" => Field::Dict(&n.raid_config),
        "raid_interface" => fstr(&n.raid_interface),
        "rescue_interface" => fstr(&n.rescue_interface),
        "reservation" => fostr(n.reservation_holder()),
        "resource_class" => fostr(n.resource_class.as_ref()),
        "retired" => Field::Bool(n.retired),
        "retired_reason" => fostr(n.retired_reason.as_ref()),
        "secure_boot" => n.secure_boot.map(Field::Bool).unwrap_or(Field::Null),
        "service_step" => Field::Dict(&n.service_step),
        "shard" => fostr(n.shard.as_ref()),
        "storage_interface" => fstr(&n.storage_interface),
        "target_power_state" => fostr(n.target_power_state.map(|p| p.as_str())),
        "target_provision_state" => {
            n.target_provision_state.map(|s| Field::Value(provision_state_value(s, ver))).unwrap_or(Field::Null)
        }
        "target_raid_config" => Field::Dict(&n.target_raid_config),
        "traits" => Field::Traits(&n.traits),
        "vendor_interface" => fstr(&n.vendor_interface),
        "conductor" => fostr(conductor),
        "allocation_uuid" => n.allocation_uuid.map(|u| Field::Owned(u.to_string())).unwrap_or(Field::Null),
        "chassis_uuid" => n.chassis_uuid.map(|u| Field::Owned(u.to_string())).unwrap_or(Field::Null),
        _ => Field::Null,
    }
}

/// How one request renders nodes.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub ver: Version,
    pub base: &'a str,
    /// `None`: every field (and the link lists); `Some`: only these fields plus `links`.
    pub fields: Option<&'a [String]>,
}

/// A node as the API shows it, field by field in Ironic's order; serialises without building a
/// JSON tree first.
pub(crate) struct NodeDoc<'a> {
    fields: Vec<(&'a str, Field<'a>)>,
}

impl serde::Serialize for NodeDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A node's fields as the API shows them at `v`.
pub(crate) fn node_shown<'a>(n: &'a Node, conductor: Option<&'a str>, v: View<'a>) -> NodeDoc<'a> {
    let ver = v.ver;
    let mut out: Vec<(&'a str, Field<'a>)> = Vec::with_capacity(NODE_FIELDS.len() + 12);
    // With `fields`, a field asked for twice is shown once, where it was first asked for.
    let put = |out: &mut Vec<(&'a str, Field<'a>)>, f: &'a str, min: u32| {
        if !ver.at_least(min) {
            return;
        }
        if let Some(fs) = v.fields {
            if !fs.iter().any(|x| x == f) || out.iter().any(|(k, _)| *k == f) {
                return;
            }
        }
        out.push((f, node_value(n, f, conductor, ver)));
    };
    for f in ["uuid", "created_at", "updated_at"] {
        put(&mut out, f, 1);
    }
    match v.fields {
        None => {
            for &(f, min) in NODE_FIELDS {
                put(&mut out, f, min);
            }
        }
        Some(fs) => {
            for f in fs {
                if let Some(&(name, min)) = NODE_FIELDS.iter().find(|(name, _)| name == f) {
                    put(&mut out, name, min);
                }
            }
        }
    }
    let uuid = n.uuid.to_string();
    out.push(("links", Field::Value(links::pair(v.base, "nodes", &uuid))));
    for &(f, min) in NODE_API_FIELDS {
        put(&mut out, f, min);
    }
    if v.fields.is_none() {
        out.push(("ports", Field::Value(links::pair(v.base, "nodes", &format!("{uuid}/ports")))));
        if ver.at_least(14) {
            out.push(("states", Field::Value(links::pair(v.base, "nodes", &format!("{uuid}/states")))));
        }
        if ver.at_least(24) {
            out.push(("portgroups", Field::Value(links::pair(v.base, "nodes", &format!("{uuid}/portgroups")))));
        }
        if ver.at_least(32) {
            out.push(("volume", Field::Value(links::pair(v.base, "nodes", &format!("{uuid}/volume")))));
        }
    }
    NodeDoc { fields: out }
}

/// A node as the API shows it, as a JSON object (for callers that edit it further).
pub(crate) fn node(n: &Node, conductor: Option<&str>, v: View<'_>) -> Obj {
    let doc = node_shown(n, conductor, v);
    let mut out = Obj::with_capacity(doc.fields.len());
    for (k, f) in doc.fields {
        out.insert(k.to_string(), f.into_value());
    }
    out
}

/// A node as the API shows it, as JSON text (Python's spelling).
pub(crate) fn node_text(n: &Node, conductor: Option<&str>, v: View<'_>) -> String {
    crate::pyjson::to_string(&node_shown(n, conductor, v))
}

/// `GET /v1/nodes/{node}/states`.
pub(crate) fn node_states(n: &Node, ver: Version) -> Obj {
    let mut out = Obj::new();
    for f in ["console_enabled", "last_error", "power_state", "provision_state", "target_power_state", "target_provision_state", "provision_updated_at"] {
        out.insert(f.into(), node_value(n, f, None, ver).into_value());
    }
    if ver.at_least(12) {
        out.insert("raid_config".into(), dict(&n.raid_config));
        out.insert("target_raid_config".into(), dict(&n.target_raid_config));
    }
    if ver.at_least(75) {
        out.insert("boot_mode".into(), ostr(n.boot_mode.as_ref()));
        out.insert("secure_boot".into(), n.secure_boot.map(Value::Bool).unwrap_or(Value::Null));
    }
    out
}

/// Keeps only `fields` (plus `links`) of an object; 400 for a field the object does not have.
fn select(mut full: Obj, fields: Option<&[String]>) -> ApiResult<Obj> {
    let Some(fs) = fields else { return Ok(full) };
    let invalid: Vec<&str> = fs.iter().filter(|f| !full.contains_key(f.as_str())).map(|s| s.as_str()).collect();
    if !invalid.is_empty() {
        return Err(ApiError::invalid(format!("Field(s) \"{}\" are not valid", invalid.join(", "))));
    }
    full.retain(|k, _| k == "links" || fs.iter().any(|f| f == k));
    Ok(full)
}

/// Port fields with the version that introduced them (unlisted: 1.1).
pub(crate) fn port_field_version(field: &str) -> u32 {
    match field {
        "internal_info" => 18,
        "local_link_connection" | "pxe_enabled" => 19,
        "portgroup_uuid" => 24,
        "physical_network" => 34,
        "is_smartnic" => 53,
        "name" => 88,
        "description" => 97,
        "vendor" => 100,
        "category" => 101,
        "available_for_dynamic_portgroup" => 111,
        _ => 1,
    }
}

/// A port as the API shows it.
pub(crate) fn port(p: &Port, v: View<'_>) -> ApiResult<Obj> {
    let uuid = p.uuid.to_string();
    let mut o = Obj::new();
    o.insert("uuid".into(), Value::String(uuid.clone()));
    o.insert("created_at".into(), ts(p.created_at));
    o.insert("updated_at".into(), ots(p.updated_at));
    o.insert("address".into(), Value::String(p.address.clone()));
    o.insert("extra".into(), dict(&p.extra));
    o.insert("internal_info".into(), dict(&p.internal_info));
    o.insert("is_smartnic".into(), Value::Bool(p.is_smartnic));
    o.insert("local_link_connection".into(), dict(&p.local_link_connection));
    o.insert("physical_network".into(), ostr(p.physical_network.as_ref()));
    o.insert("pxe_enabled".into(), Value::Bool(p.pxe_enabled));
    o.insert("node_uuid".into(), Value::String(p.node_uuid.to_string()));
    o.insert("name".into(), ostr(p.name.as_ref()));
    o.insert("description".into(), ostr(p.description.as_ref()));
    o.insert("vendor".into(), ostr(p.vendor.as_ref()));
    o.insert("category".into(), ostr(p.category.as_ref()));
    // Not stored by Ferric yet: every port is available, Ironic's default.
    o.insert("available_for_dynamic_portgroup".into(), Value::Bool(true));
    o.insert("links".into(), links::pair(v.base, "ports", &uuid));
    o.insert("portgroup_uuid".into(), ostr(p.portgroup_uuid.map(|u| u.to_string())));
    let mut o = select(o, v.fields)?;
    o.retain(|k, _| v.ver.at_least(port_field_version(k)));
    Ok(o)
}

/// Portgroup fields with the version that introduced them (unlisted: 1.23).
pub(crate) fn portgroup_field_version(field: &str) -> u32 {
    match field {
        "mode" | "properties" => 26,
        "physical_network" => 102,
        "category" => 103,
        "dynamic_portgroup" => 111,
        _ => 1,
    }
}

pub(crate) fn portgroup(pg: &Portgroup, v: View<'_>) -> ApiResult<Obj> {
    let uuid = pg.uuid.to_string();
    let mut o = Obj::new();
    o.insert("uuid".into(), Value::String(uuid.clone()));
    o.insert("created_at".into(), ts(pg.created_at));
    o.insert("updated_at".into(), ots(pg.updated_at));
    o.insert("address".into(), ostr(pg.address.as_ref()));
    o.insert("extra".into(), dict(&pg.extra));
    o.insert("internal_info".into(), dict(&pg.internal_info));
    o.insert("mode".into(), ostr(pg.mode.as_ref()));
    o.insert("name".into(), ostr(pg.name.as_ref()));
    o.insert("properties".into(), dict(&pg.properties));
    o.insert("standalone_ports_supported".into(), Value::Bool(pg.standalone_ports_supported));
    o.insert("node_uuid".into(), Value::String(pg.node_uuid.to_string()));
    o.insert("physical_network".into(), ostr(pg.physical_network.as_ref()));
    o.insert("category".into(), ostr(pg.category.as_ref()));
    o.insert("dynamic_portgroup".into(), Value::Bool(false));
    o.insert("links".into(), links::pair(v.base, "portgroups", &uuid));
    o.insert("ports".into(), links::pair(v.base, "portgroups", &format!("{uuid}/ports")));
    let mut o = select(o, v.fields)?;
    o.retain(|k, _| v.ver.at_least(portgroup_field_version(k)));
    Ok(o)
}

pub(crate) fn chassis(c: &Chassis, v: View<'_>) -> ApiResult<Obj> {
    let uuid = c.uuid.to_string();
    let mut o = Obj::new();
    o.insert("uuid".into(), Value::String(uuid.clone()));
    o.insert("created_at".into(), ts(c.created_at));
    o.insert("updated_at".into(), ots(c.updated_at));
    o.insert("description".into(), ostr(c.description.as_ref()));
    o.insert("extra".into(), dict(&c.extra));
    o.insert("links".into(), links::pair(v.base, "chassis", &uuid));
    // Ironic wraps this link pair in one more list.
    o.insert("nodes".into(), Value::Array(vec![links::pair(v.base, "chassis", &format!("{uuid}/nodes"))]));
    select(o, v.fields)
}

/// A conductor; `alive` is the registration's online flag (the leader clears it after the
/// heartbeat timeout).
pub(crate) fn conductor(c: &ConductorRecord, v: View<'_>) -> ApiResult<Obj> {
    let mut o = Obj::new();
    o.insert("created_at".into(), ts(c.created_at));
    o.insert("updated_at".into(), ts(c.updated_at));
    o.insert("hostname".into(), Value::String(c.hostname.clone()));
    o.insert("conductor_group".into(), Value::String(c.conductor_group.clone()));
    o.insert(
        "drivers".into(),
        Value::Array(c.hardware_types.iter().map(|h| Value::String(h.name.clone())).collect()),
    );
    o.insert("links".into(), links::pair(v.base, "conductors", &c.hostname));
    o.insert("alive".into(), Value::Bool(c.online));
    select(o, v.fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn node_keys_by_version() {
        let n = Node::new(Uuid::nil(), "fake-hardware", Timestamp(0));
        let full = node(&n, Some("c"), View { ver: Version::MAX, base: "http://h", fields: None });
        assert_eq!(full.len(), 69, "{:?}", full.keys().collect::<Vec<_>>());
        let old = node(&n, None, View { ver: Version { minor: 1 }, base: "http://h", fields: None });
        assert_eq!(old.len(), 22, "{:?}", old.keys().collect::<Vec<_>>());
        let ten = node(&n, None, View { ver: Version { minor: 10 }, base: "http://h", fields: None });
        assert_eq!(ten.len(), 27);
    }

    #[test]
    fn text_and_tree_agree() {
        let mut n = Node::new(Uuid::nil(), "ipmi", Timestamp(1_700_000_000_000_000));
        n.name = Some("n\u{e9}-1".into());
        n.driver_info.insert("ipmi_password".into(), "hunter2".into());
        n.driver_info.insert("ipmi_address".into(), "10.0.0.1".into());
        n.extra.insert("nested".into(), serde_json::json!({"b": [1, 2.5, null], "a": "x"}));
        n.traits = vec!["CUSTOM_A".into(), "CUSTOM_B".into()];
        n.maintenance = true;
        let fields: Vec<String> = ["name", "uuid", "conductor", "extra", "name", "traits"].iter().map(|s| s.to_string()).collect();
        for minor in [1, 10, 37, 49, 75, Version::MAX.minor] {
            for fs in [None, Some(fields.as_slice())] {
                let v = View { ver: Version { minor }, base: "http://h:6385", fields: fs };
                let tree = crate::pyjson::to_string(&Value::Object(node(&n, Some("c1"), v)));
                assert_eq!(node_text(&n, Some("c1"), v), tree, "minor {minor}, fields {fs:?}");
            }
        }
        let v = View { ver: Version::MAX, base: "", fields: Some(fields.as_slice()) };
        let keys: Vec<String> = node(&n, Some("c1"), v).keys().cloned().collect();
        assert_eq!(keys, ["uuid", "name", "extra", "traits", "links", "conductor"]);
    }

    #[test]
    fn secrets_are_masked() {
        let mut n = Node::new(Uuid::nil(), "ipmi", Timestamp(0));
        n.driver_info.insert("ipmi_password".into(), "hunter2".into());
        n.instance_info.insert("configdrive".into(), "H4sI".into());
        n.instance_info.insert("image_url".into(), "http://x/?temp_url_sig=abc".into());
        let o = node(&n, None, View { ver: Version::MAX, base: "", fields: None });
        let s = o.get("driver_info").unwrap().to_string() + &o.get("instance_info").unwrap().to_string();
        assert!(!s.contains("hunter2") && !s.contains("H4sI") && !s.contains("temp_url_sig"), "{s}");
    }
}
