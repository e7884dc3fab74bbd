//! `/v1/nodes`: list (every filter), detail, show, create, JSON-patch update, delete,
//! maintenance and validate.

use super::node_edit::{
    apply_fields, check_name, check_update, node_doc, prune_to_schema, reject_newer_fields, reject_newer_patch,
    validate_schema, NODE_PATCH_ALLOWED,
};
use super::{accepted, check_node_ident, created_text, find_node, json, no_content};
use crate::app::{App, Ctx};
use crate::body;
use crate::error::{json_response, ApiError, ApiResult};
use crate::listing::{collection_text, Paging, SortVal};
use crate::render_cache::ViewKey;
use crate::params::Query;
use crate::patch::{self, Op};
use crate::render::{self, check_node_fields, node_field_version, View};
use crate::version::Version;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferric_model::ring::HashRing;
use ferric_model::{ConductorReply, ConductorRequest, Error, Node, ProvisionState};
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Ironic's `_DEFAULT_RETURN_FIELDS` for nodes.
const DEFAULT_FIELDS: [&str; 6] = ["instance_uuid", "maintenance", "power_state", "provision_state", "uuid", "name"];

/// Fields refused as sort keys.
const INVALID_SORT_KEYS: [&str; 12] = [
    "properties",
    "driver_info",
    "extra",
    "instance_info",
    "driver_internal_info",
    "clean_step",
    "deploy_step",
    "raid_config",
    "target_raid_config",
    "traits",
    "network_data",
    "service_step",
];

/// Bound on re-reading and re-applying an update that lost an optimistic race.
pub(crate) const UPDATE_ATTEMPTS: u32 = 20;

/// The value a node sorts by for `sort_key`; `None` for an unknown key.
pub(crate) fn node_sort_value(n: &Node, key: &str) -> Option<SortVal> {
    use SortVal::*;
    let s = |x: &str| Str(x.to_string());
    Some(match key {
        "id" => Int(n.id as i64),
        "uuid" => s(&n.uuid.to_string()),
        "name" => SortVal::opt_str(n.name.as_ref()),
        "created_at" => Int(n.created_at.as_micros()),
        "updated_at" => n.updated_at.map(|t| Int(t.as_micros())).unwrap_or(Null),
        "provision_updated_at" => n.provision_updated_at.map(|t| Int(t.as_micros())).unwrap_or(Null),
        "inspection_started_at" => n.inspection_started_at.map(|t| Int(t.as_micros())).unwrap_or(Null),
        "inspection_finished_at" => n.inspection_finished_at.map(|t| Int(t.as_micros())).unwrap_or(Null),
        "driver" => s(&n.driver),
        "provision_state" => s(n.provision_state.as_str()),
        "target_provision_state" => SortVal::opt_str(n.target_provision_state.map(|x| x.as_str())),
        "power_state" => SortVal::opt_str(n.power_state.map(|x| x.as_str())),
        "target_power_state" => SortVal::opt_str(n.target_power_state.map(|x| x.as_str())),
        "maintenance" => Bool(n.maintenance),
        "maintenance_reason" => SortVal::opt_str(n.maintenance_reason.as_ref()),
        "fault" => SortVal::opt_str(n.fault.as_ref()),
        "reservation" => SortVal::opt_str(n.reservation_holder()),
        "console_enabled" => Bool(n.console_enabled),
        "last_error" => SortVal::opt_str(n.last_error.as_ref()),
        "instance_uuid" => SortVal::opt_str(n.instance_uuid.as_ref()),
        "instance_name" => SortVal::opt_str(n.instance_name.as_ref()),
        "chassis_uuid" => SortVal::opt_str(n.chassis_uuid.map(|u| u.to_string())),
        "resource_class" => SortVal::opt_str(n.resource_class.as_ref()),
        "conductor_group" => s(&n.conductor_group),
        "automated_clean" => n.automated_clean.map(Bool).unwrap_or(Null),
        "protected" => Bool(n.protected),
        "protected_reason" => SortVal::opt_str(n.protected_reason.as_ref()),
        "owner" => SortVal::opt_str(n.owner.as_ref()),
        "lessee" => SortVal::opt_str(n.lessee.as_ref()),
        "description" => SortVal::opt_str(n.description.as_ref()),
        "allocation_uuid" => SortVal::opt_str(n.allocation_uuid.map(|u| u.to_string())),
        "retired" => Bool(n.retired),
        "retired_reason" => SortVal::opt_str(n.retired_reason.as_ref()),
        "boot_mode" => SortVal::opt_str(n.boot_mode.as_ref()),
        "secure_boot" => n.secure_boot.map(Bool).unwrap_or(Null),
        "shard" => SortVal::opt_str(n.shard.as_ref()),
        "parent_node" => SortVal::opt_str(n.parent_node.as_ref()),
        "disable_power_off" => Bool(n.disable_power_off),
        "health" => SortVal::opt_str(n.health.as_ref()),
        k if k.ends_with("_interface") => {
            let kind = ferric_model::InterfaceKind::parse(k.trim_end_matches("_interface"))?;
            s(n.interface(kind))
        }
        _ => return None,
    })
}

/// The filters of a node list.
#[derive(Default)]
struct NodeFilters {
    chassis_uuid: Option<Uuid>,
    instance_uuid: Option<Uuid>,
    associated: Option<bool>,
    maintenance: Option<bool>,
    retired: Option<bool>,
    provision_state: Option<ProvisionState>,
    driver: Option<String>,
    resource_class: Option<String>,
    fault: Option<String>,
    conductor_group: Option<String>,
    conductor: Option<String>,
    owner: Option<String>,
    lessee: Option<String>,
    project: Option<String>,
    description_contains: Option<String>,
    shard: Option<Vec<String>>,
    sharded: Option<bool>,
    include_children: Option<bool>,
    parent_node: Option<String>,
    instance_name: Option<String>,
}

const VALID_FAULTS: [&str; 4] = ["power failure", "clean failure", "rescue abort failure", "service failure"];

/// Query parameters of `GET /v1/nodes` and what `detail` adds or removes.
const LIST_PARAMS: &[&str] = &[
    "chassis_uuid",
    "instance_uuid",
    "associated",
    "maintenance",
    "retired",
    "provision_state",
    "marker",
    "limit",
    "sort_key",
    "sort_dir",
    "driver",
    "fields",
    "resource_class",
    "fault",
    "conductor_group",
    "detail",
    "conductor",
    "owner",
    "description_contains",
    "lessee",
    "project",
    "shard",
    "sharded",
    "include_children",
    "parent_node",
    "instance_name",
];

/// Parameters carried into the `next` link (besides sort, fields, limit and marker).
const NEXT_PARAMS: &[&str] = &[
    "associated",
    "maintenance",
    "retired",
    "detail",
    "chassis_uuid",
    "provision_state",
    "driver",
    "resource_class",
    "fault",
    "conductor_group",
    "conductor",
    "owner",
    "lessee",
    "project",
    "description_contains",
    "shard",
    "sharded",
    "include_children",
    "parent_node",
    "instance_name",
];

fn gate(present: bool, ver: Version, minor: u32) -> ApiResult<()> {
    if present && !ver.at_least(minor) {
        Err(ApiError::needs_version(minor))
    } else {
        Ok(())
    }
}

impl NodeFilters {
    fn parse(q: &Query, ver: Version) -> ApiResult<NodeFilters> {
        let mut f = NodeFilters {
            chassis_uuid: q.uuid("chassis_uuid")?,
            instance_uuid: q.uuid("instance_uuid")?,
            associated: q.bool("associated")?,
            maintenance: q.bool("maintenance")?,
            retired: q.bool("retired")?,
            sharded: q.bool("sharded")?,
            include_children: q.bool("include_children")?,
            ..Default::default()
        };
        if let Some(ps) = q.str("provision_state") {
            if !ver.at_least(9) {
                return Err(ApiError::not_acceptable());
            }
            f.provision_state = Some(
                ProvisionState::parse(ps)
                    .ok_or_else(|| ApiError::invalid(format!("Provision state \"{ps}\" is not valid")))?,
            );
        }
        f.driver = q.string("driver");
        gate(f.driver.is_some(), ver, 16)?;
        f.resource_class = q.string("resource_class");
        gate(f.resource_class.is_some(), ver, 21)?;
        f.fault = q.string("fault");
        gate(f.fault.is_some(), ver, 42)?;
        if let Some(fault) = &f.fault {
            if !VALID_FAULTS.contains(&fault.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Unrecognized fault \"{fault}\" is specified, allowed faults are ('power failure', 'clean failure', 'rescue abort failure', 'service failure')"
                )));
            }
        }
        f.conductor_group = q.string("conductor_group");
        gate(f.conductor_group.is_some(), ver, 46)?;
        f.conductor = q.string("conductor");
        gate(f.conductor.is_some(), ver, 49)?;
        f.owner = q.string("owner");
        gate(f.owner.is_some(), ver, 50)?;
        f.lessee = q.string("lessee");
        gate(f.lessee.is_some(), ver, 65)?;
        f.project = q.string("project");
        f.description_contains = q.string("description_contains");
        f.shard = q.list("shard");
        gate(f.shard.is_some() || f.sharded.is_some(), ver, 82)?;
        f.instance_name = q.string("instance_name");
        gate(f.instance_name.is_some(), ver, 104)?;
        f.parent_node = q.string("parent_node");
        gate(f.include_children.is_some() || f.parent_node.is_some(), ver, 83)?;
        Ok(f)
    }

    fn matches(&self, n: &Node, ring: &HashRing, parent_uuid: Option<&str>) -> bool {
        if let Some(c) = self.chassis_uuid {
            if n.chassis_uuid != Some(c) {
                return false;
            }
        }
        if let Some(i) = self.instance_uuid {
            match n.instance_uuid.as_deref().and_then(|s| Uuid::parse_str(s).ok()) {
                Some(u) if u == i => {}
                _ => return false,
            }
        }
        if let Some(a) = self.associated {
            if n.instance_uuid.is_some() != a {
                return false;
            }
        }
        if self.maintenance.map(|m| m != n.maintenance).unwrap_or(false)
            || self.retired.map(|r| r != n.retired).unwrap_or(false)
            || self.provision_state.map(|p| p != n.provision_state).unwrap_or(false)
            || self.driver.as_ref().map(|d| d != &n.driver).unwrap_or(false)
            || self.resource_class.as_ref().map(|r| Some(r) != n.resource_class.as_ref()).unwrap_or(false)
            || self.fault.as_ref().map(|x| Some(x) != n.fault.as_ref()).unwrap_or(false)
            || self.conductor_group.as_ref().map(|g| !g.eq_ignore_ascii_case(&n.conductor_group)).unwrap_or(false)
            || self.owner.as_ref().map(|o| Some(o) != n.owner.as_ref()).unwrap_or(false)
            || self.lessee.as_ref().map(|l| Some(l) != n.lessee.as_ref()).unwrap_or(false)
            || self.instance_name.as_ref().map(|x| Some(x) != n.instance_name.as_ref()).unwrap_or(false)
        {
            return false;
        }
        if let Some(p) = &self.project {
            if n.owner.as_ref() != Some(p) && n.lessee.as_ref() != Some(p) {
                return false;
            }
        }
        if let Some(d) = &self.description_contains {
            if !n.description.as_deref().map(|x| x.contains(d.as_str())).unwrap_or(false) {
                return false;
            }
        }
        if let Some(shards) = &self.shard {
            match &n.shard {
                Some(s) if shards.iter().any(|x| x.eq_ignore_ascii_case(s)) => {}
                _ => return false,
            }
        }
        if let Some(sh) = self.sharded {
            if n.shard.is_some() != sh {
                return false;
            }
        }
        match (&self.parent_node, parent_uuid) {
            (Some(_), Some(p)) => {
                if n.parent_node.as_deref() != Some(p) {
                    return false;
                }
            }
            (Some(_), None) => return false,
            (None, _) => {
                if !self.include_children.unwrap_or(false) && n.parent_node.is_some() {
                    return false;
                }
            }
        }
        if let Some(c) = &self.conductor {
            if ring.owner(&n.driver, &n.conductor_group, n.uuid) != Some(c.as_str()) {
                return false;
            }
        }
        true
    }
}

/// Where a node list comes from.
pub(crate) enum ListScope {
    /// `/v1/nodes` or `/v1/nodes/detail`.
    All { detail_endpoint: bool },
    /// `/v1/chassis/{uuid}/nodes[/detail]`.
    Chassis { chassis: Uuid, detail_endpoint: bool },
}

/// A node list.
pub(crate) async fn list_nodes(app: &App, ctx: &Ctx, raw_query: Option<String>, scope: ListScope) -> ApiResult<Response> {
    let ver = ctx.ver;
    let q = Query::parse(raw_query.as_deref());
    let (detail_endpoint, resource_url) = match &scope {
        ListScope::All { detail_endpoint } => {
            (*detail_endpoint, if *detail_endpoint { "nodes/detail".to_string() } else { "nodes".to_string() })
        }
        ListScope::Chassis { chassis, detail_endpoint } => {
            let suffix = if *detail_endpoint { "/detail" } else { "" };
            (*detail_endpoint, format!("chassis/{chassis}/nodes{suffix}"))
        }
    };
    if detail_endpoint {
        q.allow(&LIST_PARAMS.iter().copied().filter(|p| *p != "fields" && *p != "detail").collect::<Vec<_>>())?;
    } else {
        q.allow(LIST_PARAMS)?;
    }
    let fields_param = q.list("fields");
    if let Some(fs) = &fields_param {
        check_node_fields(fs, ver)?;
    }
    let sort_key_given = q.string("sort_key");
    if let Some(sk) = &sort_key_given {
        if let Some(min) = node_field_version(sk) {
            if !ver.at_least(min) {
                return Err(ApiError::not_acceptable());
            }
        }
    }
    let mut filters = NodeFilters::parse(&q, ver)?;
    if let ListScope::Chassis { chassis, .. } = &scope {
        filters.chassis_uuid = Some(*chassis);
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
        Some(fields_param.clone().unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect()))
    };
    let paging = Paging::parse(&q, app.cfg.max_limit, "id")?;
    if INVALID_SORT_KEYS.contains(&paging.sort_key.as_str()) {
        return Err(paging.invalid_sort_key());
    }
    if node_sort_value(&Node::new(Uuid::nil(), "", ferric_model::Timestamp(0)), &paging.sort_key).is_none() {
        return Err(ApiError::invalid(format!(
            "The sort_key value \"{}\" is an invalid field for sorting",
            paging.sort_key
        )));
    }
    let marker = q.uuid("marker")?;
    let ring = app.backend.ring();
    let sort_key = paging.sort_key.clone();
    let picked = app
        .read(|st| -> ApiResult<Vec<Arc<Node>>> {
            if let ListScope::Chassis { chassis, .. } = &scope {
                if !st.chassis.contains_key(chassis) {
                    return Err(Error::ChassisNotFound { chassis: chassis.to_string() }.into());
                }
            }
            let marker_key = match marker {
                Some(m) => {
                    let mn = st.nodes.get(&m).ok_or(Error::NodeNotFound { node: m.to_string() })?;
                    Some((node_sort_value(mn, &sort_key).unwrap_or(SortVal::Null), mn.id))
                }
                None => None,
            };
            let parent = filters
                .parent_node
                .as_deref()
                .map(|p| st.find_node(p).map(|n| n.uuid.to_string()).unwrap_or_else(|| p.to_string()));
            let items: Vec<(SortVal, u64, Arc<Node>)> = st
                .nodes
                .values()
                .filter(|n| filters.matches(n, &ring, parent.as_deref()))
                .map(|n| (node_sort_value(n, &sort_key).unwrap_or(SortVal::Null), n.id, n.clone()))
                .collect();
            Ok(paging.page(items, marker_key))
        })
        .await??;
    let view = View { ver, base: &ctx.base, fields: fields.as_deref() };
    let last = picked.last().map(|n| n.uuid.to_string());
    let key = ViewKey { ver, base: ctx.base.clone(), fields: fields.clone() };
    let items = app.node_json.render_all(
        &picked,
        &key,
        |n| ring.owner(&n.driver, &n.conductor_group, n.uuid),
        |n, owner| render::node_text(n, owner, view),
    );
    let mut params = vec![("sort_key".to_string(), paging.sort_key.clone()), ("sort_dir".to_string(), paging.sort_dir.clone())];
    for p in NEXT_PARAMS {
        if let Some(v) = q.str(p) {
            params.push((p.to_string(), v.to_string()));
        }
    }
    if let Some(fs) = &fields {
        params.push(("fields".to_string(), fs.join(",")));
    }
    // A list by instance has at most one node: no next link (Ironic sets limit=0).
    let limit = if filters.instance_uuid.is_some() { None } else { Some(paging.limit) };
    let text = collection_text("nodes", &items, limit, &ctx.base, &resource_url, &params, last);
    Ok(json_response(200, text))
}

pub(crate) async fn list(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_nodes(&app, &ctx, q, ListScope::All { detail_endpoint: false }).await
}

pub(crate) async fn detail(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_nodes(&app, &ctx, q, ListScope::All { detail_endpoint: true }).await
}

/// Reads a node by UUID or name after the read barrier.
pub(crate) async fn get_node(app: &App, ctx: &Ctx, ident: &str) -> ApiResult<Arc<Node>> {
    check_node_ident(ident)?;
    app.read(|st| find_node(st, ident, ctx.ver)).await?
}

/// Renders one node as JSON text (every field, or `fields`).
pub(crate) fn show_node(app: &App, ctx: &Ctx, n: &Node, fields: Option<&[String]>) -> String {
    let ring = app.backend.ring();
    render::node_text(n, ring.owner(&n.driver, &n.conductor_group, n.uuid), View { ver: ctx.ver, base: &ctx.base, fields })
}

pub(crate) async fn show(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    q.allow(&["fields"])?;
    check_node_ident(&ident)?;
    let n = get_node(&app, &ctx, &ident).await?;
    let fields = q.list("fields");
    if let Some(fs) = &fields {
        check_node_fields(fs, ctx.ver)?;
    }
    Ok(json_response(200, show_node(&app, &ctx, &n, fields.as_deref())))
}

pub(crate) async fn create(State(app): State<App>, ctx: Ctx, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let ver = ctx.ver;
    let raw = body::read_json(&headers, body, app.limits()).await?;
    let m = match raw {
        Some(Value::Object(m)) => m,
        None => Map::new(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Schema error for node: {} is not of type 'object'",
                crate::pyjson::repr(&other)
            )))
        }
    };
    let m = validate_schema(m, "node", false)?;
    reject_newer_fields(&m, ver)?;
    let uuid = match m.get("uuid").and_then(Value::as_str) {
        Some(s) => Uuid::parse_str(s).map_err(|_| ApiError::invalid(format!("Expected UUID for uuid: {s}")))?,
        None => Uuid::new_v4(),
    };
    if let Some(name) = m.get("name").and_then(Value::as_str) {
        check_name(name, ver, || format!("Cannot create node with invalid name '{name}'"))?;
    }
    let driver = m.get("driver").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut node = Node::new(uuid, driver, app.backend.now());
    let base = node.clone();
    node = app
        .read_for_write(|st| {
            let mut n = base.clone();
            apply_fields(st, &mut n, &m, ver, false).map(|_| n)
        })
        .await?;
    node.provision_state = if ver.at_least(11) { ProvisionState::Enroll } else { ProvisionState::Available };
    node.target_provision_state = None;
    if node.resource_class.is_none() {
        node.resource_class = app.cfg.default_resource_class.clone();
    }
    if node.protected_reason.is_some() && !node.protected {
        return Err(ApiError::invalid("The protected_reason field can only be set when protected is True"));
    }
    if node.instance_name.is_none() {
        if let Some(Value::String(d)) = node.instance_info.get("display_name") {
            node.instance_name = Some(d.clone());
        }
    }
    let reply = app.call(ConductorRequest::CreateNode { node: Box::new(node) }).await?;
    let ConductorReply::Node { node } = reply else {
        return Err(ApiError::Model(Error::internal("unexpected conductor reply to create_node")));
    };
    let location = crate::links::build_url(&ctx.base, "nodes", &node.uuid.to_string(), false);
    Ok(created_text(location, show_node(&app, &ctx, &node, None)))
}

/// Applies a JSON patch to a node with the optimistic retry loop; `prepare` may refuse or adjust
/// the patched node (it runs on every attempt, against the node as re-read).
pub(crate) async fn update_node_with<F>(app: &App, ctx: &Ctx, ident: &str, mut change: F, reset_interfaces: bool) -> ApiResult<Arc<Node>>
where
    F: FnMut(&ferric_model::State, &Arc<Node>) -> ApiResult<Option<Node>>,
{
    check_node_ident(ident)?;
    for attempt in 0..UPDATE_ATTEMPTS {
        // The first attempt works on the local state: the revision check at apply makes a
        // successful write linearizable. A refusal, or a retry, reads after the barrier.
        if attempt > 0 {
            app.backend.read_barrier().await.map_err(ApiError::from)?;
        }
        let prepared = app.read_local(&mut |st| -> ApiResult<(Arc<Node>, Option<Node>)> {
            let cur = find_node(st, ident, ctx.ver)?;
            let new = change(st, &cur)?;
            Ok((cur, new))
        });
        let prepared = match prepared {
            Err(_) if attempt == 0 => continue,
            other => other?,
        };
        let (cur, new) = prepared;
        let Some(new) = new else {
            // Nothing to write (only `test` ops): that is a read, so answer it after the barrier.
            if attempt == 0 {
                continue;
            }
            return Ok(cur);
        };
        match app
            .backend
            .call(ConductorRequest::UpdateNode { node: Box::new(new), expected_revision: cur.revision, reset_interfaces })
            .await
        {
            Ok(ConductorReply::Node { node }) => return Ok(node),
            Ok(_) => return Err(ApiError::Model(Error::internal("unexpected conductor reply to update_node"))),
            Err(Error::RevisionMismatch { .. }) | Err(Error::NotOwner { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(format!("Node {ident} is being modified by other requests; please retry.")))
}

pub(crate) async fn patch(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let ver = ctx.ver;
    let q = Query::parse(q.as_deref());
    q.allow(&["reset_interfaces"])?;
    let reset = q.bool("reset_interfaces")?;
    if reset.is_some() && !ver.at_least(45) {
        return Err(ApiError::not_acceptable());
    }
    let reset = reset.unwrap_or(false);
    check_node_ident(&ident)?;
    let raw = body::read_json(&headers, body, app.limits()).await?;
    let ops = patch::parse(raw, ver)?;
    patch::check_allowed(&ops, NODE_PATCH_ALLOWED)?;
    reject_newer_patch(&ops, ver)?;
    let driver_set = ops.iter().any(|o| o.sets("driver").is_some());
    if reset && !driver_set {
        return Err(ApiError::invalid("The reset_interfaces parameter can only be used when changing the node's driver."));
    }
    for op in &ops {
        if let Some(Value::String(d)) = op.sets("description") {
            if d.chars().count() > 4096 {
                return Err(ApiError::invalid("Cannot update node with description exceeding 4096 characters"));
            }
        }
        if let Some(v) = op.sets("network_data") {
            if !v.is_object() && !v.is_null() {
                return Err(ApiError::Model(Error::Invalid {
                    message: format!("Invalid network_data: {} is not of type 'object' ", crate::pyjson::repr(v)),
                }));
            }
        }
    }
    let names: Vec<String> = ops.iter().filter_map(|o| o.sets("name")).filter_map(|v| v.as_str().map(str::to_string)).collect();
    for name in &names {
        check_name(name, ver, || format!("Node {ident}: Cannot change name to invalid name '{name}'"))?;
    }
    let only_remove_instance = ops.len() == 1 && ops[0].is_remove_of("instance_uuid");
    // A patch of `test` operations only reads: it is answered in any state.
    let only_tests = ops.iter().all(|o| o.op == Op::Test);
    let node = update_node_with(
        &app,
        &ctx,
        &ident,
        |st, cur| {
            if only_tests {
                let mut doc = node_doc(cur);
                patch::apply(&mut doc, &ops)?;
                return Ok(None);
            }
            if cur.maintenance && only_remove_instance {
                // Always allowed, whatever the state.
            } else if cur.target_provision_state.is_some() && !cur.provision_state.update_allowed() {
                return Err(ApiError::conflict(format!(
                    "Node {ident} can not be updated while a state transition is in progress."
                )));
            } else if cur.provision_state == ProvisionState::Inspecting && ver.at_least(39) {
                return Err(ApiError::conflict(format!(
                    "Cannot update node \"{}\" while it is in state \"inspecting\".",
                    cur.uuid
                )));
            }
            let mut doc = node_doc(cur);
            patch::apply(&mut doc, &ops)?;
            let doc = validate_schema(prune_to_schema(doc), "patch", true)?;
            let mut new = (**cur).clone();
            apply_fields(st, &mut new, &doc, ver, true)?;
            if new.instance_name.is_none() && new.instance_info != cur.instance_info {
                if let Some(Value::String(d)) = new.instance_info.get("display_name") {
                    new.instance_name = Some(d.clone());
                }
            }
            check_update(cur, &mut new, reset)?;
            if new == **cur {
                return Ok(None);
            }
            Ok(Some(new))
        },
        reset,
    )
    .await?;
    Ok(json_response(200, show_node(&app, &ctx, &node, None)))
}

pub(crate) async fn delete(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    let n = get_node(&app, &ctx, &ident).await?;
    if !n.maintenance {
        if let Some(inst) = &n.instance_uuid {
            return Err(Error::NodeAssociated { node: n.uuid.to_string(), instance: inst.clone() }.into());
        }
    }
    if n.protected {
        return Err(ApiError::status(
            403,
            format!("Node {} is protected and cannot be undeployed, rebuilt or deleted", n.uuid),
        ));
    }
    if !n.maintenance && !n.provision_state.delete_allowed() {
        return Err(Error::InvalidState {
            message: format!(
                "Can not delete node \"{}\" while it is in provision state \"{}\". Valid provision states to perform deletion are: \"('manageable', 'enroll', 'adopt failed', 'available')\", or set the node into maintenance mode",
                n.uuid, n.provision_state
            ),
        }
        .into());
    }
    app.call(ConductorRequest::DestroyNode { node: n.uuid }).await?;
    Ok(no_content())
}

/// `PUT /v1/nodes/{node}/maintenance` (`reason` in the body or the query).
pub(crate) async fn maintenance_set(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    q.allow(&["reason"])?;
    let b = super::kwargs_body(body::read_json(&headers, body, app.limits()).await?);
    super::allow_members(&b, &["reason"])?;
    let reason = match b.get("reason") {
        Some(v) => super::body_string("reason", v)?,
        None => q.string("reason"),
    };
    set_maintenance(&app, &ctx, &ident, true, reason).await?;
    Ok(accepted(None))
}

pub(crate) async fn maintenance_unset(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    set_maintenance(&app, &ctx, &ident, false, None).await?;
    Ok(accepted(None))
}

async fn set_maintenance(app: &App, ctx: &Ctx, ident: &str, on: bool, reason: Option<String>) -> ApiResult<()> {
    update_node_with(
        app,
        ctx,
        ident,
        |_, cur| {
            let mut n = (**cur).clone();
            n.maintenance = on;
            n.maintenance_reason = reason.clone();
            if !on {
                n.fault = None;
            }
            Ok(if n == **cur { None } else { Some(n) })
        },
        false,
    )
    .await?;
    Ok(())
}

async fn validate_node(app: &App, ctx: &Ctx, ident: &str) -> ApiResult<Response> {
    let n = get_node(app, ctx, ident).await?;
    match app.call(ConductorRequest::ValidateDriverInterfaces { node: n.uuid }).await? {
        ConductorReply::Validation { interfaces } => {
            // Ironic shows `reason` only when there is one.
            let mut out = serde_json::Map::new();
            for (iface, v) in interfaces {
                let mut o = serde_json::Map::new();
                o.insert("result".into(), v.result.map(Value::Bool).unwrap_or(Value::Null));
                if let Some(r) = v.reason {
                    o.insert("reason".into(), Value::String(r));
                }
                out.insert(iface, Value::Object(o));
            }
            Ok(json(200, &Value::Object(out)))
        }
        _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to validate_driver_interfaces"))),
    }
}

/// `GET /v1/nodes/{node}/validate`.
pub(crate) async fn validate(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    Query::parse(q.as_deref()).allow(&[])?;
    validate_node(&app, &ctx, &ident).await
}

/// `GET /v1/nodes/validate?node=` (or the deprecated `node_uuid=`).
pub(crate) async fn validate_query(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    q.allow(&["node", "node_uuid"])?;
    let ident = match (q.string("node_uuid"), q.string("node")) {
        (Some(u), _) => {
            crate::params::uuid_arg("node_uuid", &u)?;
            u
        }
        (None, Some(n)) => {
            if !ctx.ver.at_least(5) && Uuid::parse_str(&n).is_err() {
                return Err(ApiError::not_acceptable());
            }
            n
        }
        (None, None) => return Err(ApiError::Model(Error::missing("Missing mandatory parameter: node"))),
    };
    validate_node(&app, &ctx, &ident).await
}

/// `GET /v1/shards` (1.82): node counts per shard (a node without one counts under "None").
pub(crate) async fn shards(State(app): State<App>, ctx: Ctx) -> ApiResult<Response> {
    super::api_version(ctx.ver, 82, "The API version does not allow shards")?;
    let counts = app
        .read(|st| {
            let mut m: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
            for n in st.nodes.values() {
                *m.entry(n.shard.clone().unwrap_or_else(|| "None".to_string())).or_default() += 1;
            }
            m
        })
        .await?;
    let list: Vec<Value> = counts.into_iter().map(|(name, count)| serde_json::json!({"name": name, "count": count})).collect();
    Ok(json(200, &serde_json::json!({"shards": list})))
}
