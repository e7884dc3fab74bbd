//! `/v1/portgroups` (1.23) and `/v1/nodes/{node}/portgroups` (1.24): list, detail, show,
//! create, JSON-patch update, delete, and the ports of a portgroup.

use super::nodes::UPDATE_ATTEMPTS;
use super::ports::{find_portgroup, list_ports, PortScope};
use super::{created, expect_object, find_node, json, logical_name_chars, no_content, require_version};
use crate::app::{App, Ctx};
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::listing::{collection, Paging, SortVal};
use crate::params::{bool_from_json, uuid_arg, Query};
use crate::patch;
use crate::pyjson;
use crate::render::{self, portgroup_field_version, View};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferric_model::{ConductorReply, ConductorRequest, Error, Portgroup, ProvisionState, State as St};
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

const DEFAULT_FIELDS: [&str; 3] = ["uuid", "address", "name"];
/// Ironic's `[DEFAULT]default_portgroup_mode`.
const DEFAULT_MODE: &str = "active-backup";
const PATCH_ALLOWED: &[&str] =
    &["address", "category", "extra", "mode", "name", "node_uuid", "physical_network", "properties", "standalone_ports_supported"];

fn sort_value(p: &Portgroup, key: &str) -> Option<SortVal> {
    use SortVal::*;
    Some(match key {
        "id" => Int(p.id as i64),
        "uuid" => Str(p.uuid.to_string()),
        "name" => SortVal::opt_str(p.name.as_ref()),
        "address" => SortVal::opt_str(p.address.as_ref()),
        "created_at" => Int(p.created_at.as_micros()),
        "updated_at" => p.updated_at.map(|t| Int(t.as_micros())).unwrap_or(Null),
        "node_uuid" => Str(p.node_uuid.to_string()),
        "mode" => SortVal::opt_str(p.mode.as_ref()),
        "standalone_ports_supported" => Bool(p.standalone_ports_supported),
        "physical_network" => SortVal::opt_str(p.physical_network.as_ref()),
        "category" => SortVal::opt_str(p.category.as_ref()),
        _ => return None,
    })
}

fn check_fields<'a>(fields: impl IntoIterator<Item = &'a str>, ctx: &Ctx) -> ApiResult<()> {
    for f in fields {
        if !ctx.ver.at_least(portgroup_field_version(f)) {
            return Err(ApiError::not_acceptable());
        }
    }
    Ok(())
}

pub(crate) async fn list_portgroups(app: &App, ctx: &Ctx, raw: Option<String>, node_scope: Option<String>, detail_endpoint: bool) -> ApiResult<Response> {
    let ver = ctx.ver;
    if node_scope.is_some() {
        require_version(ver, 24)?;
    } else {
        super::api_version(ver, 23, super::NOT_SUPPORTED)?;
    }
    let q = Query::parse(raw.as_deref());
    let mut allowed = vec!["node", "address", "marker", "limit", "sort_key", "sort_dir", "shard", "conductor_groups"];
    if !detail_endpoint {
        allowed.extend(["fields", "detail"]);
    }
    q.allow(&allowed)?;
    let fields_param = q.list("fields");
    if let Some(fs) = &fields_param {
        check_fields(fs.iter().map(String::as_str), ctx)?;
    }
    let paging = Paging::parse(&q, app.cfg.max_limit, "id")?;
    if matches!(paging.sort_key.as_str(), "extra" | "internal_info" | "properties") {
        return Err(paging.invalid_sort_key());
    }
    if sort_value(&Portgroup::new(Uuid::nil(), Uuid::nil(), ferric_model::Timestamp(0)), &paging.sort_key).is_none() {
        return Err(ApiError::invalid(format!("The sort_key value \"{}\" is an invalid field for sorting", paging.sort_key)));
    }
    let shard = q.list("shard");
    if shard.is_some() && !ver.at_least(106) {
        return Err(ApiError::needs_version(106));
    }
    let groups = q.list("conductor_groups");
    if groups.is_some() && !ver.at_least(99) {
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
    let node_ident = node_scope.clone().or_else(|| q.string("node"));
    if [node_ident.is_some(), address.is_some(), shard.is_some()].iter().filter(|x| **x).count() > 1 {
        return Err(ApiError::Model(Error::Invalid { message: "Filtering by node, address, or shard is mutually exclusive.".into() }));
    }
    let marker = q.uuid("marker")?;
    let sort_key = paging.sort_key.clone();
    let picked = app
        .read(|st| -> ApiResult<Vec<Arc<Portgroup>>> {
            let node = match &node_ident {
                Some(n) => Some(find_node(st, n, ver)?.uuid),
                None => None,
            };
            let marker_key = match marker {
                Some(m) => {
                    let p = st.portgroups.get(&m).ok_or(Error::PortgroupNotFound { portgroup: m.to_string() })?;
                    Some((sort_value(p, &sort_key).unwrap_or(SortVal::Null), p.id))
                }
                None => None,
            };
            let items = st
                .portgroups
                .values()
                .filter(|p| node.map(|n| p.node_uuid == n).unwrap_or(true))
                .filter(|p| address.as_ref().map(|a| p.address.as_ref() == Some(a)).unwrap_or(true))
                .filter(|p| {
                    let Some(owner) = st.nodes.get(&p.node_uuid) else { return false };
                    shard
                        .as_ref()
                        .map(|s| owner.shard.as_ref().map(|x| s.iter().any(|y| y.eq_ignore_ascii_case(x))).unwrap_or(false))
                        .unwrap_or(true)
                        && groups
                            .as_ref()
                            .map(|g| g.iter().any(|y| y.eq_ignore_ascii_case(&owner.conductor_group)))
                            .unwrap_or(true)
                })
                .map(|p| (sort_value(p, &sort_key).unwrap_or(SortVal::Null), p.id, p.clone()))
                .collect();
            Ok(paging.page(items, marker_key))
        })
        .await??;
    let view = View { ver, base: &ctx.base, fields: fields.as_deref() };
    let items = picked.iter().map(|p| render::portgroup(p, view).map(Value::Object)).collect::<ApiResult<Vec<_>>>()?;
    let last = picked.last().map(|p| p.uuid.to_string());
    let mut params = vec![("sort_key".to_string(), paging.sort_key.clone()), ("sort_dir".to_string(), paging.sort_dir.clone())];
    for p in ["detail", "node", "address", "shard", "conductor_groups"] {
        if let Some(v) = q.str(p) {
            params.push((p.to_string(), v.to_string()));
        }
    }
    if let Some(fs) = &fields {
        params.push(("fields".into(), fs.join(",")));
    }
    let url = match (&node_scope, detail_endpoint) {
        (Some(n), d) => format!("nodes/{n}/portgroups{}", if d { "/detail" } else { "" }),
        (None, true) => "portgroups/detail".into(),
        (None, false) => "portgroups".into(),
    };
    Ok(json(200, &collection("portgroups", items, Some(paging.limit), &ctx.base, &url, &params, last)))
}

pub(crate) async fn list(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_portgroups(&app, &ctx, q, None, false).await
}

pub(crate) async fn detail(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_portgroups(&app, &ctx, q, None, true).await
}

pub(crate) async fn node_portgroups(State(app): State<App>, ctx: Ctx, Path(node): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    super::check_node_ident(&node)?;
    list_portgroups(&app, &ctx, q, Some(node), false).await
}

pub(crate) async fn node_portgroups_detail(State(app): State<App>, ctx: Ctx, Path(node): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    super::check_node_ident(&node)?;
    list_portgroups(&app, &ctx, q, Some(node), true).await
}

pub(crate) async fn ports(State(app): State<App>, ctx: Ctx, Path(pg): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    require_version(ctx.ver, 24)?;
    list_ports(&app, &ctx, q, PortScope::Portgroup(pg), false).await
}

pub(crate) async fn ports_detail(State(app): State<App>, ctx: Ctx, Path(pg): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    require_version(ctx.ver, 24)?;
    list_ports(&app, &ctx, q, PortScope::Portgroup(pg), true).await
}

pub(crate) async fn show(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    super::api_version(ctx.ver, 23, super::NOT_SUPPORTED)?;
    let q = Query::parse(q.as_deref());
    q.allow(&["fields"])?;
    let fields = q.list("fields");
    if let Some(fs) = &fields {
        check_fields(fs.iter().map(String::as_str), &ctx)?;
    }
    let pg = app.read(|st| find_portgroup(st, &ident)).await??;
    Ok(json(200, &render::portgroup(&pg, View { ver: ctx.ver, base: &ctx.base, fields: fields.as_deref() })?))
}

/// Ironic's portgroup request schema: member → types and maximum length.
const SCHEMA: &[(&str, &str, Option<usize>)] = &[
    ("address", "sn", None),
    ("category", "sn", Some(80)),
    ("extra", "on", None),
    ("mode", "sn", None),
    ("name", "sn", None),
    ("node_uuid", "s", None),
    ("physical_network", "sn", Some(64)),
    ("properties", "on", None),
    ("standalone_ports_supported", "sbn", None),
    ("uuid", "sn", None),
];

fn type_ok(t: &str, v: &Value) -> bool {
    t.chars().any(|c| match c {
        's' => v.is_string(),
        'n' => v.is_null(),
        'b' => v.is_boolean(),
        _ => v.is_object(),
    })
}

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

fn validate(m: &Map<String, Value>, what: &str, create: bool) -> ApiResult<()> {
    let err = |msg: String| ApiError::invalid(format!("Schema error for {what}: {msg}"));
    if !m.contains_key("node_uuid") {
        return Err(err("'node_uuid' is a required property".into()));
    }
    if create {
        let mut extra: Vec<&String> = m.keys().filter(|k| !SCHEMA.iter().any(|(n, _, _)| n == k)).collect();
        if !extra.is_empty() {
            extra.sort();
            let names: Vec<String> = extra.iter().map(|k| pyjson::repr_str(k)).collect();
            let verb = if names.len() == 1 { "was" } else { "were" };
            return Err(err(format!("Additional properties are not allowed ({} {verb} unexpected)", names.join(", "))));
        }
    }
    for (name, t, max) in SCHEMA {
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

fn opt_s(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

fn apply_doc(st: &St, pg: &mut Portgroup, m: &Map<String, Value>, ctx: &Ctx) -> ApiResult<()> {
    let node_s = opt_s(m, "node_uuid").unwrap_or_default();
    uuid_arg("node_uuid", &node_s)?;
    let node = find_node(st, &node_s, ctx.ver).map_err(|e| match e {
        ApiError::Model(Error::NodeNotFound { node }) => ApiError::status(400, Error::NodeNotFound { node }.to_string()),
        other => other,
    })?;
    pg.node_uuid = node.uuid;
    pg.address = match opt_s(m, "address") {
        None => None,
        Some(a) => Some(super::valid_mac(&a).ok_or_else(|| ApiError::invalid(format!("Expected valid MAC address for address: {a}")))?),
    };
    pg.name = opt_s(m, "name");
    pg.extra = m.get("extra").and_then(Value::as_object).cloned().unwrap_or_default();
    pg.properties = m.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    pg.mode = Some(opt_s(m, "mode").unwrap_or_else(|| DEFAULT_MODE.to_string()));
    pg.standalone_ports_supported = m
        .get("standalone_ports_supported")
        .map(|v| bool_from_json("standalone_ports_supported", v))
        .transpose()?
        .flatten()
        .unwrap_or(true);
    pg.physical_network = opt_s(m, "physical_network");
    pg.category = opt_s(m, "category");
    Ok(())
}

pub(crate) async fn create(State(app): State<App>, ctx: Ctx, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    super::api_version(ctx.ver, 23, super::NOT_SUPPORTED)?;
    let m = expect_object(body::read_json(&headers, body, app.limits()).await?, "portgroup")?;
    validate(&m, "portgroup", true)?;
    for f in m.keys() {
        if !ctx.ver.at_least(portgroup_field_version(f)) && !m[f].is_null() {
            return Err(ApiError::not_acceptable());
        }
    }
    if let Some(name) = opt_s(&m, "name") {
        if !super::valid_name_at(&name, ctx.ver) {
            return Err(ApiError::bad_request(format!("Cannot create portgroup with invalid name '{name}'")));
        }
    }
    let uuid = match opt_s(&m, "uuid") {
        Some(s) => uuid_arg("uuid", &s)?,
        None => Uuid::new_v4(),
    };
    let mut pg = Portgroup::new(uuid, Uuid::nil(), app.backend.now());
    app.backend.read_barrier().await.map_err(ApiError::from)?;
    app.read_local(&mut |st| apply_doc(st, &mut pg, &m, &ctx))?;
    match app.call(ConductorRequest::CreatePortgroup { portgroup: Box::new(pg) }).await? {
        ConductorReply::Portgroup { portgroup } => {
            let o = render::portgroup(&portgroup, View { ver: ctx.ver, base: &ctx.base, fields: None })?;
            Ok(created(crate::links::build_url(&ctx.base, "portgroups", &portgroup.uuid.to_string(), false), &o))
        }
        _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to create_portgroup"))),
    }
}

pub(crate) async fn patch(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    super::api_version(ctx.ver, 23, super::NOT_SUPPORTED)?;
    let ops = patch::parse(body::read_json(&headers, body, app.limits()).await?, ctx.ver)?;
    if ops.iter().any(|o| o.touches("mode") || o.touches("properties")) && !ctx.ver.at_least(26) {
        return Err(ApiError::not_acceptable());
    }
    patch::check_allowed(&ops, PATCH_ALLOWED)?;
    for op in &ops {
        if let Some(Value::String(name)) = op.sets("name") {
            if !logical_name_chars(name) || !super::valid_name_at(name, ctx.ver) {
                return Err(ApiError::bad_request(format!(
                    "Portgroup {ident}: Cannot change name to invalid name '{name}'"
                )));
            }
        }
    }
    for _ in 0..UPDATE_ATTEMPTS {
        app.backend.read_barrier().await.map_err(ApiError::from)?;
        let prepared = app.read_local(&mut |st| -> ApiResult<(Arc<Portgroup>, Option<Portgroup>)> {
            let cur = find_portgroup(st, &ident)?;
            let mut doc = render::portgroup(&cur, View { ver: crate::version::Version::MAX, base: "", fields: None })?;
            patch::apply(&mut doc, &ops)?;
            if doc.get("mode").map(Value::is_null).unwrap_or(true) {
                return Err(ApiError::bad_request("'mode' is a mandatory attribute and can not be removed"));
            }
            let doc: Map<String, Value> = doc.into_iter().filter(|(k, _)| SCHEMA.iter().any(|(n, _, _)| n == k)).collect();
            validate(&doc, "patch", false)?;
            if let Some(node) = st.nodes.get(&cur.node_uuid) {
                if node.provision_state == ProvisionState::Inspecting && ctx.ver.at_least(39) {
                    return Err(ApiError::conflict(format!(
                        "Cannot update portgroup \"{}\" on node \"{}\" while it is in state \"inspecting\".",
                        cur.uuid, node.uuid
                    )));
                }
            }
            let mut new = (*cur).clone();
            apply_doc(st, &mut new, &doc, &ctx)?;
            Ok(if new == *cur { (cur, None) } else { (cur, Some(new)) })
        })?;
        let (cur, new) = prepared;
        let pg = match new {
            None => cur,
            Some(new) => match app
                .backend
                .call(ConductorRequest::UpdatePortgroup { portgroup: Box::new(new), expected_revision: cur.revision })
                .await
            {
                Ok(ConductorReply::Portgroup { portgroup }) => portgroup,
                Ok(_) => return Err(ApiError::Model(Error::internal("unexpected conductor reply to update_portgroup"))),
                Err(Error::RevisionMismatch { .. }) | Err(Error::NotOwner { .. }) => continue,
                Err(e) => return Err(e.into()),
            },
        };
        return Ok(json(200, &render::portgroup(&pg, View { ver: ctx.ver, base: &ctx.base, fields: None })?));
    }
    Err(ApiError::conflict(format!("Portgroup {ident} is being modified by other requests; please retry.")))
}

pub(crate) async fn delete(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    super::api_version(ctx.ver, 23, super::NOT_SUPPORTED)?;
    let pg = app.read(|st| find_portgroup(st, &ident)).await??;
    app.call(ConductorRequest::DestroyPortgroup { portgroup: pg.uuid }).await?;
    Ok(no_content())
}
