//! `/v1/chassis`: list, detail, show, create, JSON-patch update, delete (refused while nodes
//! reference it), and its nodes.

use super::nodes::{list_nodes, ListScope, UPDATE_ATTEMPTS};
use super::{created, expect_object, json, no_content};
use crate::app::{App, Ctx};
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::listing::{collection, Paging, SortVal};
use crate::params::{uuid_arg, Query};
use crate::patch;
use crate::pyjson;
use crate::render::{self, View};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferric_model::{Chassis, ConductorReply, ConductorRequest, Error};
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

const DEFAULT_FIELDS: [&str; 2] = ["uuid", "description"];

fn sort_value(c: &Chassis, key: &str) -> Option<SortVal> {
    use SortVal::*;
    Some(match key {
        "id" => Int(c.id as i64),
        "uuid" => Str(c.uuid.to_string()),
        "description" => SortVal::opt_str(c.description.as_ref()),
        "created_at" => Int(c.created_at.as_micros()),
        "updated_at" => c.updated_at.map(|t| Int(t.as_micros())).unwrap_or(Null),
        _ => return None,
    })
}

async fn list_chassis(app: &App, ctx: &Ctx, raw: Option<String>, detail_endpoint: bool) -> ApiResult<Response> {
    let q = Query::parse(raw.as_deref());
    let mut allowed = vec!["marker", "limit", "sort_key", "sort_dir"];
    if !detail_endpoint {
        allowed.extend(["fields", "detail"]);
    }
    q.allow(&allowed)?;
    let fields_param = q.list("fields");
    if fields_param.is_some() && !ctx.ver.at_least(8) {
        return Err(ApiError::not_acceptable());
    }
    let detail_param = q.bool("detail")?;
    if detail_param.is_some() && !ctx.ver.at_least(43) {
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
    let paging = Paging::parse(&q, app.cfg.max_limit, "id")?;
    if paging.sort_key == "extra" {
        return Err(paging.invalid_sort_key());
    }
    if sort_value(&Chassis::new(Uuid::nil(), ferric_model::Timestamp(0)), &paging.sort_key).is_none() {
        return Err(ApiError::invalid(format!("The sort_key value \"{}\" is an invalid field for sorting", paging.sort_key)));
    }
    let marker = q.uuid("marker")?;
    let sort_key = paging.sort_key.clone();
    let picked = app
        .read(|st| -> ApiResult<Vec<Arc<Chassis>>> {
            let marker_key = match marker {
                Some(m) => {
                    let c = st.chassis.get(&m).ok_or(Error::ChassisNotFound { chassis: m.to_string() })?;
                    Some((sort_value(c, &sort_key).unwrap_or(SortVal::Null), c.id))
                }
                None => None,
            };
            let items = st.chassis.values().map(|c| (sort_value(c, &sort_key).unwrap_or(SortVal::Null), c.id, c.clone())).collect();
            Ok(paging.page(items, marker_key))
        })
        .await??;
    let view = View { ver: ctx.ver, base: &ctx.base, fields: fields.as_deref() };
    let items = picked.iter().map(|c| render::chassis(c, view).map(Value::Object)).collect::<ApiResult<Vec<_>>>()?;
    let last = picked.last().map(|c| c.uuid.to_string());
    let mut params = vec![("sort_key".to_string(), paging.sort_key.clone()), ("sort_dir".to_string(), paging.sort_dir.clone())];
    if let Some(d) = q.str("detail") {
        params.push(("detail".into(), d.into()));
    }
    if let Some(fs) = &fields {
        params.push(("fields".into(), fs.join(",")));
    }
    let url = if detail_endpoint { "chassis/detail" } else { "chassis" };
    Ok(json(200, &collection("chassis", items, Some(paging.limit), &ctx.base, url, &params, last)))
}

pub(crate) async fn list(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_chassis(&app, &ctx, q, false).await
}

pub(crate) async fn detail(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_chassis(&app, &ctx, q, true).await
}

fn chassis_uuid(ident: &str) -> ApiResult<Uuid> {
    uuid_arg("chassis_uuid", ident)
}

pub(crate) async fn show(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    q.allow(&["fields"])?;
    let fields = q.list("fields");
    if fields.is_some() && !ctx.ver.at_least(8) {
        return Err(ApiError::not_acceptable());
    }
    let u = chassis_uuid(&ident)?;
    let c = app.read(|st| st.chassis.get(&u).cloned()).await?.ok_or(Error::ChassisNotFound { chassis: ident.clone() })?;
    Ok(json(200, &render::chassis(&c, View { ver: ctx.ver, base: &ctx.base, fields: fields.as_deref() })?))
}

fn validate(m: &Map<String, Value>, what: &str, create: bool) -> ApiResult<()> {
    let err = |msg: String| ApiError::invalid(format!("Schema error for {what}: {msg}"));
    if create {
        let mut extra: Vec<&String> = m.keys().filter(|k| !matches!(k.as_str(), "description" | "extra" | "uuid")).collect();
        if !extra.is_empty() {
            extra.sort();
            let names: Vec<String> = extra.iter().map(|k| pyjson::repr_str(k)).collect();
            let verb = if names.len() == 1 { "was" } else { "were" };
            return Err(err(format!("Additional properties are not allowed ({} {verb} unexpected)", names.join(", "))));
        }
    }
    if let Some(d) = m.get("description") {
        match d {
            Value::Null => {}
            Value::String(s) if s.chars().count() > 255 => return Err(err(format!("{} is too long", pyjson::repr(d)))),
            Value::String(_) => {}
            other => return Err(err(format!("{} is not of type 'string', 'null'", pyjson::repr(other)))),
        }
    }
    if let Some(e) = m.get("extra") {
        if !e.is_object() && !e.is_null() {
            return Err(err(format!("{} is not of type 'object', 'null'", pyjson::repr(e))));
        }
    }
    if let Some(u) = m.get("uuid") {
        match u {
            Value::Null => {}
            Value::String(s) if Uuid::parse_str(s).is_ok() => {}
            other => return Err(err(format!("{} is not a 'uuid'", pyjson::repr(other)))),
        }
    }
    Ok(())
}

pub(crate) async fn create(State(app): State<App>, ctx: Ctx, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let m = expect_object(body::read_json(&headers, body, app.limits()).await?, "chassis")?;
    validate(&m, "chassis", true)?;
    let uuid = match m.get("uuid").and_then(Value::as_str) {
        Some(s) => uuid_arg("uuid", s)?,
        None => Uuid::new_v4(),
    };
    let mut c = Chassis::new(uuid, app.backend.now());
    c.description = m.get("description").and_then(Value::as_str).map(str::to_string);
    c.extra = m.get("extra").and_then(Value::as_object).cloned().unwrap_or_default();
    match app.call(ConductorRequest::CreateChassis { chassis: Box::new(c) }).await? {
        ConductorReply::Chassis { chassis } => {
            let o = render::chassis(&chassis, View { ver: ctx.ver, base: &ctx.base, fields: None })?;
            Ok(created(crate::links::build_url(&ctx.base, "chassis", &chassis.uuid.to_string(), false), &o))
        }
        _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to create_chassis"))),
    }
}

pub(crate) async fn patch(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let u = chassis_uuid(&ident)?;
    let ops = patch::parse(body::read_json(&headers, body, app.limits()).await?, ctx.ver)?;
    patch::check_allowed(&ops, &["description", "extra"])?;
    for _ in 0..UPDATE_ATTEMPTS {
        let cur = app.read(|st| st.chassis.get(&u).cloned()).await?.ok_or(Error::ChassisNotFound { chassis: ident.clone() })?;
        let mut doc = render::chassis(&cur, View { ver: crate::version::Version::MAX, base: "", fields: None })?;
        patch::apply(&mut doc, &ops)?;
        let doc: Map<String, Value> =
            doc.into_iter().filter(|(k, _)| matches!(k.as_str(), "description" | "extra" | "uuid")).collect();
        validate(&doc, "patch", false)?;
        let mut new = (*cur).clone();
        new.description = doc.get("description").and_then(Value::as_str).map(str::to_string);
        new.extra = doc.get("extra").and_then(Value::as_object).cloned().unwrap_or_default();
        let c = if new == *cur {
            cur
        } else {
            match app.backend.call(ConductorRequest::UpdateChassis { chassis: Box::new(new), expected_revision: cur.revision }).await {
                Ok(ConductorReply::Chassis { chassis }) => chassis,
                Ok(_) => return Err(ApiError::Model(Error::internal("unexpected conductor reply to update_chassis"))),
                Err(Error::RevisionMismatch { .. }) | Err(Error::NotOwner { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        return Ok(json(200, &render::chassis(&c, View { ver: ctx.ver, base: &ctx.base, fields: None })?));
    }
    Err(ApiError::conflict(format!("Chassis {ident} is being modified by other requests; please retry.")))
}

pub(crate) async fn delete(State(app): State<App>, Path(ident): Path<String>) -> ApiResult<Response> {
    let u = chassis_uuid(&ident)?;
    let (exists, has_nodes) = app.read(|st| (st.chassis.contains_key(&u), st.nodes.values().any(|n| n.chassis_uuid == Some(u)))).await?;
    if !exists {
        return Err(Error::ChassisNotFound { chassis: ident }.into());
    }
    if has_nodes {
        return Err(Error::ChassisNotEmpty { chassis: u.to_string() }.into());
    }
    app.call(ConductorRequest::DestroyChassis { chassis: u }).await?;
    Ok(no_content())
}

pub(crate) async fn nodes(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let u = chassis_uuid(&ident)?;
    list_nodes(&app, &ctx, q, ListScope::Chassis { chassis: u, detail_endpoint: false }).await
}

pub(crate) async fn nodes_detail(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let u = chassis_uuid(&ident)?;
    list_nodes(&app, &ctx, q, ListScope::Chassis { chassis: u, detail_endpoint: true }).await
}
