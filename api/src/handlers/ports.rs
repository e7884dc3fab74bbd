//! `/v1/ports` (and `/v1/nodes/{node}/ports`, `/v1/portgroups/{pg}/ports`): list, detail,
//! show, create, JSON-patch update, delete. MAC addresses are validated, normalised and unique.

use super::nodes::UPDATE_ATTEMPTS;
use super::{created, expect_object, find_node, json, logical_name_chars, no_content};
use crate::app::{App, Ctx};
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::listing::{collection, Paging, SortVal};
use crate::params::{bool_from_json, uuid_arg, Query};
use crate::patch;
use crate::pyjson;
use crate::render::{self, port_field_version, View};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferric_model::{ConductorReply, ConductorRequest, Error, Port, ProvisionState, State as St};
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

const DEFAULT_FIELDS: [&str; 2] = ["uuid", "address"];
const INVALID_SORT_KEYS: [&str; 3] = ["extra", "internal_info", "local_link_connection"];

/// Where a port list comes from.
pub(crate) enum PortScope {
    All,
    Node(String),
    Portgroup(String),
}

fn port_sort_value(p: &Port, key: &str) -> Option<SortVal> {
    use SortVal::*;
    Some(match key {
        "id" => Int(p.id as i64),
        "uuid" => Str(p.uuid.to_string()),
        "address" => Str(p.address.clone()),
        "created_at" => Int(p.created_at.as_micros()),
        "updated_at" => p.updated_at.map(|t| Int(t.as_micros())).unwrap_or(Null),
        "node_uuid" => Str(p.node_uuid.to_string()),
        "portgroup_uuid" => SortVal::opt_str(p.portgroup_uuid.map(|u| u.to_string())),
        "pxe_enabled" => Bool(p.pxe_enabled),
        "physical_network" => SortVal::opt_str(p.physical_network.as_ref()),
        "is_smartnic" => Bool(p.is_smartnic),
        "name" => SortVal::opt_str(p.name.as_ref()),
        "description" => SortVal::opt_str(p.description.as_ref()),
        "vendor" => SortVal::opt_str(p.vendor.as_ref()),
        "category" => SortVal::opt_str(p.category.as_ref()),
        _ => return None,
    })
}

/// `_check_allowed_port_fields`: fields newer than the version are a 406.
fn check_port_fields<'a>(fields: impl IntoIterator<Item = &'a str>, ctx: &Ctx) -> ApiResult<()> {
    for f in fields {
        if !ctx.ver.at_least(port_field_version(f)) {
            return Err(ApiError::not_acceptable());
        }
    }
    Ok(())
}

fn find_port(st: &St, ident: &str, ver: crate::version::Version) -> ApiResult<Arc<Port>> {
    if let Ok(u) = Uuid::parse_str(ident) {
        return st.ports.get(&u).cloned().ok_or_else(|| Error::PortNotFound { port: ident.to_string() }.into());
    }
    if ver.at_least(88) && logical_name_chars(ident) {
        return st.find_port(ident).cloned().ok_or_else(|| Error::PortNotFound { port: ident.to_string() }.into());
    }
    Err(ApiError::invalid(format!("Expected UUID for port: {ident}")))
}

pub(crate) fn find_portgroup(st: &St, ident: &str) -> ApiResult<Arc<ferric_model::Portgroup>> {
    if Uuid::parse_str(ident).is_err() && !logical_name_chars(ident) {
        return Err(ApiError::invalid(format!("Expected a logical name or UUID but received {ident}.")));
    }
    st.find_portgroup(ident).cloned().ok_or_else(|| Error::PortgroupNotFound { portgroup: ident.to_string() }.into())
}

pub(crate) async fn list_ports(app: &App, ctx: &Ctx, raw: Option<String>, scope: PortScope, detail_endpoint: bool) -> ApiResult<Response> {
    let ver = ctx.ver;
    let q = Query::parse(raw.as_deref());
    let mut allowed = vec![
        "node", "node_uuid", "address", "marker", "limit", "sort_key", "sort_dir", "portgroup", "shard",
        "description_contains", "conductor_groups",
    ];
    if !detail_endpoint {
        allowed.extend(["fields", "detail"]);
    }
    q.allow(&allowed)?;
    let fields_param = q.list("fields");
    if fields_param.is_some() && !ver.at_least(8) {
        return Err(ApiError::not_acceptable());
    }
    if let Some(fs) = &fields_param {
        check_port_fields(fs.iter().map(String::as_str), ctx)?;
    }
    let paging = Paging::parse(&q, app.cfg.max_limit, "id")?;
    check_port_fields([paging.sort_key.as_str()], ctx)?;
    let portgroup_q = q.string("portgroup");
    if portgroup_q.is_some() && !ver.at_least(24) {
        return Err(ApiError::not_acceptable());
    }
    let shard = q.list("shard");
    if shard.is_some() && !ver.at_least(82) {
        return Err(ApiError::needs_version(82));
    }
    let conductor_groups = q.list("conductor_groups");
    if conductor_groups.is_some() && !ver.at_least(99) {
        return Err(ApiError::needs_version(99));
    }
    let detail_param = q.bool("detail")?;
    if detail_param.is_some() && !ver.at_least(43) {
        return Err(ApiError::invalid(format!(
            "Invalid query parameter ?detail={} received.",
            if detail_param == Some(true) { "True" } else { "False" }
        )));
    }
    if fields_param.is_some() && detail_param == Some(true) {
        return Err(ApiError::invalid("Can not specify ?detail=True and fields in the same request."));
    }
    let fields: Option<Vec<String>> = if detail_endpoint || detail_param == Some(true) {
        None
    } else {
        Some(fields_param.unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect()))
    };
    let address = match q.str("address") {
        Some(a) => Some(super::valid_mac(a).ok_or_else(|| ApiError::invalid(format!("Expected valid MAC address for address: {a}")))?),
        None => None,
    };
    let node_uuid_q = q.uuid("node_uuid")?;
    let node_q = q.string("node");
    if let Some(n) = &node_q {
        if !logical_name_chars(n) && Uuid::parse_str(n).is_err() {
            return Err(ApiError::invalid(format!("Expected UUID or name for node: {n}")));
        }
        if node_uuid_q.is_none() && !ver.at_least(5) && Uuid::parse_str(n).is_err() {
            return Err(ApiError::not_acceptable());
        }
    }
    if INVALID_SORT_KEYS.contains(&paging.sort_key.as_str()) {
        return Err(paging.invalid_sort_key());
    }
    if port_sort_value(&Port::new(Uuid::nil(), String::new(), Uuid::nil(), ferric_model::Timestamp(0)), &paging.sort_key).is_none() {
        return Err(ApiError::invalid(format!("The sort_key value \"{}\" is an invalid field for sorting", paging.sort_key)));
    }
    let (node_ident, pg_ident) = match &scope {
        PortScope::All => (node_uuid_q.map(|u| u.to_string()).or(node_q), portgroup_q),
        PortScope::Node(n) => (Some(n.clone()), portgroup_q),
        PortScope::Portgroup(p) => (node_uuid_q.map(|u| u.to_string()).or(node_q), Some(p.clone())),
    };
    let exclusive = [node_ident.is_some(), pg_ident.is_some(), shard.is_some()].iter().filter(|x| **x).count();
    if exclusive > 1 {
        return Err(ApiError::status(403, "Not authorized."));
    }
    if conductor_groups.is_some() && (node_ident.is_some() || pg_ident.is_some() || address.is_some()) {
        return Err(ApiError::Model(Error::Invalid {
            message: "Filtering by conductor_groups cannot be combined with node_ident, portgroup_ident, or node address filters.".into(),
        }));
    }
    let marker = q.uuid("marker")?;
    let description_contains = q.string("description_contains");
    let sort_key = paging.sort_key.clone();
    let picked = app
        .read(|st| -> ApiResult<Vec<Arc<Port>>> {
            let node = match &node_ident {
                Some(n) => Some(find_node(st, n, ver)?.uuid),
                None => None,
            };
            let pg = match &pg_ident {
                Some(p) => Some(find_portgroup(st, p)?.uuid),
                None => None,
            };
            let marker_key = match marker {
                Some(m) => {
                    let mp = st.ports.get(&m).ok_or(Error::PortNotFound { port: m.to_string() })?;
                    Some((port_sort_value(mp, &sort_key).unwrap_or(SortVal::Null), mp.id))
                }
                None => None,
            };
            let items = st
                .ports
                .values()
                .filter(|p| node.map(|n| p.node_uuid == n).unwrap_or(true))
                .filter(|p| pg.map(|g| p.portgroup_uuid == Some(g)).unwrap_or(true))
                .filter(|p| address.as_ref().map(|a| &p.address == a).unwrap_or(true))
                .filter(|p| {
                    description_contains
                        .as_ref()
                        .map(|d| p.description.as_deref().map(|x| x.contains(d.as_str())).unwrap_or(false))
                        .unwrap_or(true)
                })
                .filter(|p| {
                    let Some(owner) = st.nodes.get(&p.node_uuid) else { return false };
                    let shard_ok = shard
                        .as_ref()
                        .map(|s| owner.shard.as_ref().map(|x| s.iter().any(|y| y.eq_ignore_ascii_case(x))).unwrap_or(false))
                        .unwrap_or(true);
                    let group_ok = conductor_groups
                        .as_ref()
                        .map(|g| g.iter().any(|y| y.eq_ignore_ascii_case(&owner.conductor_group)))
                        .unwrap_or(true);
                    shard_ok && group_ok
                })
                .map(|p| (port_sort_value(p, &sort_key).unwrap_or(SortVal::Null), p.id, p.clone()))
                .collect();
            Ok(paging.page(items, marker_key))
        })
        .await??;
    let view = View { ver, base: &ctx.base, fields: fields.as_deref() };
    let items = picked.iter().map(|p| render::port(p, view).map(Value::Object)).collect::<ApiResult<Vec<_>>>()?;
    let last = picked.last().map(|p| p.uuid.to_string());
    let mut params = vec![("sort_key".to_string(), paging.sort_key.clone()), ("sort_dir".to_string(), paging.sort_dir.clone())];
    for p in ["detail", "node", "node_uuid", "address", "portgroup", "shard", "description_contains", "conductor_groups"] {
        if let Some(v) = q.str(p) {
            params.push((p.to_string(), v.to_string()));
        }
    }
    if let Some(fs) = &fields {
        params.push(("fields".into(), fs.join(",")));
    }
    let url = match (&scope, detail_endpoint) {
        (PortScope::Node(n), d) => format!("nodes/{n}/ports{}", if d { "/detail" } else { "" }),
        (PortScope::Portgroup(p), d) => format!("portgroups/{p}/ports{}", if d { "/detail" } else { "" }),
        (PortScope::All, true) => "ports/detail".into(),
        (PortScope::All, false) => "ports".into(),
    };
    Ok(json(200, &collection("ports", items, Some(paging.limit), &ctx.base, &url, &params, last)))
}

pub(crate) async fn list(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_ports(&app, &ctx, q, PortScope::All, false).await
}

pub(crate) async fn detail(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_ports(&app, &ctx, q, PortScope::All, true).await
}

pub(crate) async fn node_ports(State(app): State<App>, ctx: Ctx, Path(node): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    super::check_node_ident(&node)?;
    list_ports(&app, &ctx, q, PortScope::Node(node), false).await
}

pub(crate) async fn node_ports_detail(State(app): State<App>, ctx: Ctx, Path(node): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    super::check_node_ident(&node)?;
    list_ports(&app, &ctx, q, PortScope::Node(node), true).await
}

pub(crate) async fn show(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    q.allow(&["fields"])?;
    let fields = q.list("fields");
    let p = app.read(|st| find_port(st, &ident, ctx.ver)).await??;
    if let Some(fs) = &fields {
        if !ctx.ver.at_least(8) {
            return Err(ApiError::not_acceptable());
        }
        check_port_fields(fs.iter().map(String::as_str), &ctx)?;
    }
    let o = render::port(&p, View { ver: ctx.ver, base: &ctx.base, fields: fields.as_deref() })?;
    Ok(json(200, &o))
}

/// Ironic's port schema: member → accepted JSON types (`s` string, `n` null, `b` boolean,
/// `o` object) and maximum length.
const PORT_SCHEMA: &[(&str, &str, Option<usize>)] = &[
    ("address", "s", None),
    ("extra", "on", None),
    ("is_smartnic", "sbn", None),
    ("local_link_connection", "no", None),
    ("node_ident", "s", None),
    ("node_uuid", "s", None),
    ("physical_network", "sn", Some(64)),
    ("portgroup_uuid", "sn", None),
    ("pxe_enabled", "sbn", None),
    ("uuid", "sn", None),
    ("name", "sn", None),
    ("description", "sn", Some(255)),
    ("vendor", "sn", Some(32)),
    ("category", "sn", Some(80)),
    ("available_for_dynamic_portgroup", "b", None),
];

const PORT_PATCH_ALLOWED: &[&str] = &[
    "address",
    "extra",
    "is_smartnic",
    "local_link_connection",
    "node_ident",
    "node_uuid",
    "physical_network",
    "portgroup_uuid",
    "pxe_enabled",
    "name",
    "description",
    "vendor",
    "category",
    "available_for_dynamic_portgroup",
];

fn type_list(t: &str) -> String {
    t.chars()
        .map(|c| match c {
            's' => "'string'",
            'n' => "'null'",
            'b' => "'boolean'",
            _ => "'object'",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_ok(t: &str, v: &Value) -> bool {
    t.chars().any(|c| match c {
        's' => v.is_string(),
        'n' => v.is_null(),
        'b' => v.is_boolean(),
        _ => v.is_object(),
    })
}

/// Validates a port document (`what` = "port" on create, "patch" after a patch).
fn validate_port_doc(m: &Map<String, Value>, what: &str, create: bool) -> ApiResult<()> {
    let err = |msg: String| ApiError::invalid(format!("Schema error for {what}: {msg}"));
    if !m.contains_key("address") {
        return Err(err("'address' is a required property".into()));
    }
    if create {
        let mut extra: Vec<&String> = m.keys().filter(|k| !PORT_SCHEMA.iter().any(|(n, _, _)| n == k)).collect();
        if !extra.is_empty() {
            extra.sort();
            let names: Vec<String> = extra.iter().map(|k| pyjson::repr_str(k)).collect();
            let verb = if names.len() == 1 { "was" } else { "were" };
            return Err(err(format!("Additional properties are not allowed ({} {verb} unexpected)", names.join(", "))));
        }
        let idents = ["node_ident", "node_uuid"].iter().filter(|k| m.contains_key(**k)).count();
        if idents != 1 {
            let shown = pyjson::repr(&Value::Object(m.clone()));
            return Err(err(if idents == 0 {
                format!("{shown} is not valid under any of the given schemas. Possible root cause: 'node_ident' is a required property")
            } else {
                format!("{shown} is valid under each of {{'required': ['node_uuid']}}, {{'required': ['node_ident']}}")
            }));
        }
    }
    for (name, t, max) in PORT_SCHEMA {
        let Some(v) = m.get(*name) else { continue };
        if !type_ok(t, v) {
            return Err(err(format!("{} is not of type {}", pyjson::repr(v), type_list(t))));
        }
        if let (Some(max), Value::String(s)) = (max, v) {
            if s.chars().count() > *max {
                return Err(err(format!("{} is too long", pyjson::repr(v))));
            }
        }
    }
    Ok(())
}

/// `LOCAL_LINK_CONN_SCHEMA`, with the switch id normalised.
fn local_link(v: Option<&Value>) -> ApiResult<ferric_model::Dict> {
    let Some(Value::Object(m)) = v else { return Ok(Map::new()) };
    let mut m = m.clone();
    if m.is_empty() {
        return Ok(m);
    }
    let bad = || {
        ApiError::invalid(format!(
            "Schema error for local_link_connection: {} is not valid under any of the given schemas",
            pyjson::repr(&Value::Object(m.clone()))
        ))
    };
    const KEYS: [&str; 7] = ["port_id", "switch_id", "hostname", "switch_info", "network_type", "vtep-logical-switch", "vtep-physical-switch"];
    let mut unknown: Vec<&String> = m.keys().filter(|k| !KEYS.contains(&k.as_str())).collect();
    if !unknown.is_empty() {
        unknown.sort();
        let names: Vec<String> = unknown.iter().map(|k| pyjson::repr_str(k)).collect();
        let verb = if names.len() == 1 { "was" } else { "were" };
        return Err(ApiError::invalid(format!(
            "Schema error for local_link_connection: {} is not valid under any of the given schemas. Possible root cause: Additional properties are not allowed ({} {verb} unexpected)",
            pyjson::repr(&Value::Object(m.clone())),
            names.join(", ")
        )));
    }
    for (k, v) in &m {
        if !v.is_string() {
            return Err(ApiError::invalid(format!("Schema error for local_link_connection: {} is not of type 'string'", pyjson::repr(v))));
        }
        if k == "network_type" && !matches!(v.as_str(), Some("managed") | Some("unmanaged")) {
            return Err(bad());
        }
    }
    let has = |k: &str| m.contains_key(k);
    let ok = (has("port_id") && has("switch_id"))
        || (has("port_id") && has("hostname"))
        || m.get("network_type").and_then(Value::as_str) == Some("unmanaged")
        || (has("port_id") && has("vtep-logical-switch") && has("vtep-physical-switch"));
    if !ok {
        return Err(bad());
    }
    if let Some(Value::String(sw)) = m.get("switch_id").cloned() {
        let norm = super::valid_mac(&sw).or_else(|| {
            let hex: String = sw.chars().filter(|c| *c != ':').collect();
            (hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex.to_ascii_lowercase())
        });
        match norm {
            Some(n) => {
                m.insert("switch_id".into(), Value::String(n));
            }
            None => {
                return Err(ApiError::invalid(format!(
                    "Expected a MAC address or OpenFlow datapath ID but received {sw}."
                )))
            }
        }
    }
    Ok(m)
}

fn opt_s(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Builds the port a validated document describes (on top of `base`).
fn apply_port_doc(st: &St, base: &mut Port, m: &Map<String, Value>, ctx: &Ctx, create: bool) -> ApiResult<()> {
    let addr = opt_s(m, "address").unwrap_or_default();
    base.address = super::valid_mac(&addr).ok_or_else(|| ApiError::invalid(format!("Expected valid MAC address for address: {addr}")))?;
    let ident = opt_s(m, "node_ident");
    if ident.is_some() && !ctx.ver.at_least(94) {
        return Err(ApiError::not_acceptable());
    }
    let node_uuid_s = opt_s(m, "node_uuid");
    if let Some(u) = &node_uuid_s {
        uuid_arg("node_uuid", u)?;
    }
    let target = ident.or(node_uuid_s).unwrap_or_default();
    let node = find_node(st, &target, ctx.ver).map_err(|e| match e {
        ApiError::Model(Error::NodeNotFound { node }) if create => ApiError::status(400, Error::NodeNotFound { node }.to_string()),
        ApiError::Model(Error::NodeNotFound { .. }) => ApiError::Model(Error::Invalid {
            message: format!("Unable to apply the requested node_uuid '{target}'. Requested value was invalid."),
        }),
        other => other,
    })?;
    if !create && node.uuid != base.node_uuid && node.provision_state == ProvisionState::Inspecting && ctx.ver.at_least(39) {
        return Err(ApiError::conflict(format!(
            "Cannot update port \"{}\" on \"{}\" while it is in state \"inspecting\".",
            base.uuid, node.uuid
        )));
    }
    base.node_uuid = node.uuid;
    base.extra = m.get("extra").and_then(Value::as_object).cloned().unwrap_or_default();
    base.local_link_connection = local_link(m.get("local_link_connection"))?;
    base.is_smartnic = m.get("is_smartnic").map(|v| bool_from_json("is_smartnic", v)).transpose()?.flatten().unwrap_or(false);
    base.pxe_enabled = m.get("pxe_enabled").map(|v| bool_from_json("pxe_enabled", v)).transpose()?.flatten().unwrap_or(true);
    base.physical_network = opt_s(m, "physical_network");
    if base.physical_network.as_deref() == Some("") {
        return Err(ApiError::Model(Error::Invalid { message: "A non-empty value is required when setting physical_network".into() }));
    }
    base.name = opt_s(m, "name");
    if let Some(n) = &base.name {
        if !ferric_model::ids::is_valid_logical_name(n) {
            return Err(ApiError::invalid(format!("Expected name for name: {n}")));
        }
    }
    base.description = opt_s(m, "description");
    base.vendor = opt_s(m, "vendor");
    base.category = opt_s(m, "category");
    base.portgroup_uuid = match opt_s(m, "portgroup_uuid") {
        None => None,
        Some(s) => {
            let u = uuid_arg("portgroup_uuid", &s)?;
            let pg = st
                .portgroups
                .get(&u)
                .ok_or_else(|| ApiError::status(400, Error::PortgroupNotFound { portgroup: s.clone() }.to_string()))?;
            if pg.node_uuid != base.node_uuid {
                return Err(ApiError::bad_request("Port can not be added to a portgroup belonging to a different node."));
            }
            if create && base.pxe_enabled && !pg.standalone_ports_supported {
                return Err(ApiError::conflict(format!(
                    "Port group {} doesn't support standalone ports. This port cannot be created as a member of that portgroup as the port's 'pxe_enabled' field was set to True.",
                    pg.uuid
                )));
            }
            Some(u)
        }
    };
    // As Ironic, a Smart NIC port's link is checked only when one is given.
    if base.is_smartnic && m.get("local_link_connection").map(|v| !v.is_null()).unwrap_or(false) {
        let l = &base.local_link_connection;
        if !(l.contains_key("port_id") && l.contains_key("hostname")) {
            return Err(ApiError::Model(Error::Invalid {
                message: "Smart NIC port must have port_id and hostname in local_link_connection".into(),
            }));
        }
    }
    Ok(())
}

pub(crate) async fn create(State(app): State<App>, ctx: Ctx, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let raw = body::read_json(&headers, body, app.limits()).await?;
    let m = expect_object(raw, "port")?;
    validate_port_doc(&m, "port", true)?;
    for u in ["uuid"] {
        if let Some(Value::String(s)) = m.get(u) {
            uuid_arg(u, s)?;
        }
    }
    if let Some(Value::String(a)) = m.get("address") {
        if super::valid_mac(a).is_none() {
            return Err(ApiError::invalid(format!("Expected valid MAC address for address: {a}")));
        }
    }
    local_link(m.get("local_link_connection"))?;
    check_port_fields(m.keys().map(String::as_str), &ctx)?;
    let uuid = match opt_s(&m, "uuid") {
        Some(s) => uuid_arg("uuid", &s)?,
        None => Uuid::new_v4(),
    };
    let mut port = Port::new(uuid, String::new(), Uuid::nil(), app.backend.now());
    app.backend.read_barrier().await.map_err(ApiError::from)?;
    app.read_local(&mut |st| apply_port_doc(st, &mut port, &m, &ctx, true))?;
    match app.call(ConductorRequest::CreatePort { port: Box::new(port) }).await? {
        ConductorReply::Port { port } => {
            let o = render::port(&port, View { ver: ctx.ver, base: &ctx.base, fields: None })?;
            Ok(created(crate::links::build_url(&ctx.base, "ports", &port.uuid.to_string(), false), &o))
        }
        _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to create_port"))),
    }
}

fn port_doc(p: &Port) -> Map<String, Value> {
    let mut o = render::port(p, View { ver: crate::version::Version::MAX, base: "", fields: None }).unwrap_or_default();
    o.remove("links");
    o
}

pub(crate) async fn patch(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let raw = body::read_json(&headers, body, app.limits()).await?;
    let ops = patch::parse(raw, ctx.ver)?;
    patch::check_allowed(&ops, PORT_PATCH_ALLOWED)?;
    for op in &ops {
        if op.op != patch::Op::Test && !ctx.ver.at_least(port_field_version(op.root())) {
            return Err(ApiError::not_acceptable());
        }
    }
    for _ in 0..UPDATE_ATTEMPTS {
        app.backend.read_barrier().await.map_err(ApiError::from)?;
        let prepared = app.read_local(&mut |st| -> ApiResult<(Arc<Port>, Option<Port>)> {
            let cur = find_port(st, &ident, ctx.ver)?;
            let node = st.nodes.get(&cur.node_uuid).cloned().ok_or(Error::PortNotFound { port: ident.clone() })?;
            let mut doc = port_doc(&cur);
            patch::apply(&mut doc, &ops)?;
            let doc: Map<String, Value> =
                doc.into_iter().filter(|(k, _)| PORT_SCHEMA.iter().any(|(n, _, _)| n == k)).collect();
            validate_port_doc(&doc, "patch", false)?;
            if node.provision_state == ProvisionState::Inspecting && ctx.ver.at_least(39) {
                return Err(ApiError::conflict(format!(
                    "Cannot update port \"{}\" on \"{}\" while it is in state \"inspecting\".",
                    cur.uuid, node.uuid
                )));
            }
            let mut new = (*cur).clone();
            apply_port_doc(st, &mut new, &doc, &ctx, false)?;
            if ops.iter().any(|o| o.touches("physical_network")) && new.portgroup_uuid.is_some() && ctx.ver.at_least(102) {
                return Err(ApiError::Model(Error::Invalid {
                    message: "physical_network cannot be changed while the port belongs to a portgroup.".into(),
                }));
            }
            if new == *cur {
                return Ok((cur, None));
            }
            Ok((cur, Some(new)))
        })?;
        let (cur, new) = prepared;
        let port = match new {
            None => cur,
            Some(new) => {
                match app.backend.call(ConductorRequest::UpdatePort { port: Box::new(new), expected_revision: cur.revision }).await {
                    Ok(ConductorReply::Port { port }) => port,
                    Ok(_) => return Err(ApiError::Model(Error::internal("unexpected conductor reply to update_port"))),
                    Err(Error::RevisionMismatch { .. }) | Err(Error::NotOwner { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        return Ok(json(200, &render::port(&port, View { ver: ctx.ver, base: &ctx.base, fields: None })?));
    }
    Err(ApiError::conflict(format!("Port {ident} is being modified by other requests; please retry.")))
}

pub(crate) async fn delete(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    let u = uuid_arg("port_uuid", &ident)?;
    let p = app.read(|st| st.ports.get(&u).cloned()).await?.ok_or(Error::PortNotFound { port: ident.clone() })?;
    let _ = &ctx;
    app.call(ConductorRequest::DestroyPort { port: p.uuid }).await?;
    Ok(no_content())
}
