//! Node management sub-resources: boot device, NMI, traits, VIFs and vendor passthru.

use super::nodes::{get_node, update_node_with};
use super::{accepted, allow_members, body_string, expect_object, json, no_content, require_version, required};
use crate::app::{App, Ctx};
use crate::body;
use crate::error::{json_response, ApiError, ApiResult};
use crate::links::build_url;
use crate::params::bool_from_json;
use crate::pyjson;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use ferric_model::ids::is_valid_trait;
use ferric_model::{ConductorReply, ConductorRequest, Error};
use serde_json::{json, Value};

fn unexpected(call: &str) -> ApiError {
    ApiError::Model(Error::internal(format!("unexpected conductor reply to {call}")))
}

pub(crate) async fn boot_device_get(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    let n = get_node(&app, &ctx, &ident).await?;
    match app.call(ConductorRequest::GetBootDevice { node: n.uuid }).await? {
        ConductorReply::BootDevice { boot_device, persistent } => {
            Ok(json(200, &json!({"boot_device": boot_device, "persistent": persistent})))
        }
        _ => Err(unexpected("get_boot_device")),
    }
}

pub(crate) async fn boot_device_supported(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    let n = get_node(&app, &ctx, &ident).await?;
    match app.call(ConductorRequest::GetSupportedBootDevices { node: n.uuid }).await? {
        ConductorReply::SupportedBootDevices { devices } => Ok(json(200, &json!({"supported_boot_devices": devices}))),
        _ => Err(unexpected("get_supported_boot_devices")),
    }
}

pub(crate) async fn boot_device_set(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let b = super::kwargs_body(body::read_json(&headers, body, app.limits()).await?);
    allow_members(&b, &["boot_device", "persistent"])?;
    let device = body_string("boot_device", required(&b, "boot_device")?)?
        .ok_or_else(|| ApiError::Model(Error::missing("Missing mandatory parameter: boot_device")))?;
    let persistent = b.get("persistent").map(|v| bool_from_json("persistent", v)).transpose()?.flatten().unwrap_or(false);
    let n = get_node(&app, &ctx, &ident).await?;
    app.call(ConductorRequest::SetBootDevice { node: n.uuid, device, persistent }).await?;
    Ok(no_content())
}

pub(crate) async fn inject_nmi(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    if !ctx.ver.at_least(29) {
        return Err(ApiError::Model(Error::NotFound { message: "Resource could not be found.".into() }));
    }
    let n = get_node(&app, &ctx, &ident).await?;
    app.call(ConductorRequest::InjectNmi { node: n.uuid }).await?;
    Ok(no_content())
}

// ---- traits ----

/// Below 1.37 Ironic routes `/traits` to the node itself and refuses it with 406.
fn traits_version(ctx: &Ctx) -> ApiResult<()> {
    if ctx.ver.at_least(37) {
        Ok(())
    } else {
        Err(ApiError::not_acceptable())
    }
}

/// Ironic's limit on traits per node.
const MAX_TRAITS: usize = 50;

fn check_trait(what: &str, t: &Value) -> ApiResult<String> {
    match t {
        Value::String(s) if is_valid_trait(s) => Ok(s.clone()),
        Value::String(s) => Err(ApiError::invalid(format!(
            "Schema error for {what}: {} is not valid under any of the given schemas. Possible root cause: {} does not match '^CUSTOM_[A-Z0-9_]+$'",
            pyjson::repr(t),
            pyjson::repr_str(s)
        ))),
        other => Err(ApiError::invalid(format!("Schema error for {what}: {} is not of type 'string'", pyjson::repr(other)))),
    }
}

pub(crate) async fn traits_list(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    traits_version(&ctx)?;
    let n = get_node(&app, &ctx, &ident).await?;
    Ok(json(200, &json!({"traits": n.traits})))
}

async fn set_traits(app: &App, ctx: &Ctx, ident: &str, f: impl Fn(&[String]) -> ApiResult<Vec<String>>) -> ApiResult<()> {
    update_node_with(
        app,
        ctx,
        ident,
        |_, cur| {
            let mut traits = f(&cur.traits)?;
            traits.sort();
            traits.dedup();
            if traits.len() > MAX_TRAITS {
                return Err(ApiError::invalid(format!(
                    "Could not add traits to node {}: a node may have at most {MAX_TRAITS} traits.",
                    cur.uuid
                )));
            }
            if traits == cur.traits {
                return Ok(None);
            }
            let mut n = (**cur).clone();
            n.traits = traits;
            Ok(Some(n))
        },
        false,
    )
    .await?;
    Ok(())
}

const TRAITS_USAGE: &str = "A single node trait may be added via PUT /v1/nodes/<node identifier>/traits/<trait> with no body, or all node traits may be replaced via PUT /v1/nodes/<node identifier>/traits with the list of traits specified in the request body.";

pub(crate) async fn traits_set(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    traits_version(&ctx)?;
    let b = expect_object(body::read_json(&headers, body, app.limits()).await?, "body")?;
    let extra: Vec<&String> = b.keys().filter(|k| k.as_str() != "traits").collect();
    if let Some(k) = extra.first() {
        return Err(ApiError::invalid(format!(
            "Schema error for body: Additional properties are not allowed ({} was unexpected)",
            pyjson::repr_str(k)
        )));
    }
    let traits = match b.get("traits") {
        None => return Err(ApiError::Model(Error::Invalid { message: TRAITS_USAGE.into() })),
        Some(Value::Array(a)) => a.iter().map(|t| check_trait("body", t)).collect::<ApiResult<Vec<_>>>()?,
        Some(other) => {
            return Err(ApiError::invalid(format!("Schema error for body: {} is not of type 'array'", pyjson::repr(other))))
        }
    };
    get_node(&app, &ctx, &ident).await?;
    set_traits(&app, &ctx, &ident, |_| Ok(traits.clone())).await?;
    Ok(no_content())
}

pub(crate) async fn trait_add(
    State(app): State<App>,
    ctx: Ctx,
    Path((ident, t)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    traits_version(&ctx)?;
    let t = check_trait("trait", &Value::String(t))?;
    let raw = body::read_json(&headers, body, app.limits()).await?;
    if raw.map(|v| v != Value::Null && v != json!({})).unwrap_or(false) {
        return Err(ApiError::Model(Error::Invalid { message: "No body should be provided when adding a trait".into() }));
    }
    get_node(&app, &ctx, &ident).await?;
    set_traits(&app, &ctx, &ident, |cur| {
        let mut v = cur.to_vec();
        v.push(t.clone());
        Ok(v)
    })
    .await?;
    let mut r = no_content();
    if let Ok(l) = HeaderValue::from_str(&build_url(&ctx.base, "nodes", &format!("{ident}/traits/{t}"), false)) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(r)
}

pub(crate) async fn traits_delete_all(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    traits_version(&ctx)?;
    get_node(&app, &ctx, &ident).await?;
    set_traits(&app, &ctx, &ident, |_| Ok(Vec::new())).await?;
    Ok(no_content())
}

pub(crate) async fn trait_delete(
    State(app): State<App>,
    ctx: Ctx,
    Path((ident, t)): Path<(String, String)>,
) -> ApiResult<Response> {
    traits_version(&ctx)?;
    let n = get_node(&app, &ctx, &ident).await?;
    let uuid = n.uuid;
    set_traits(&app, &ctx, &ident, |cur| {
        if !cur.contains(&t) {
            return Err(ApiError::Model(Error::NotFound { message: format!("Node {uuid} doesn't have a trait '{t}'") }));
        }
        Ok(cur.iter().filter(|x| **x != t).cloned().collect())
    })
    .await?;
    Ok(no_content())
}

// ---- VIFs ----

fn uuid_or_name(name: &str, v: &str) -> ApiResult<()> {
    if super::logical_name_chars(v) || uuid::Uuid::parse_str(v).is_ok() {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Expected UUID or name for {name}: {v}")))
    }
}

pub(crate) async fn vifs_list(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    require_version(ctx.ver, 28)?;
    let n = get_node(&app, &ctx, &ident).await?;
    match app.call(ConductorRequest::VifList { node: n.uuid }).await? {
        ConductorReply::Vifs { vifs } => {
            let list: Vec<Value> = vifs.into_iter().map(|id| json!({"id": id})).collect();
            Ok(json(200, &json!({"vifs": list})))
        }
        _ => Err(unexpected("vif_list")),
    }
}

pub(crate) async fn vif_attach(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_version(ctx.ver, 28)?;
    let b = expect_object(body::read_json(&headers, body, app.limits()).await?, "vif")?;
    let id = match b.get("id") {
        None => return Err(ApiError::invalid("Schema error for vif: 'id' is a required property")),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ApiError::invalid(format!("Schema error for vif: {} is not of type 'string'", pyjson::repr(other))))
        }
    };
    uuid_or_name("id", &id)?;
    if ctx.ver.at_least(67) && b.contains_key("port_uuid") && b.contains_key("portgroup_uuid") {
        return Err(ApiError::Model(Error::Invalid { message: "Cannot specify both port_uuid and portgroup_uuid".into() }));
    }
    let n = get_node(&app, &ctx, &ident).await?;
    app.call(ConductorRequest::VifAttach { node: n.uuid, vif_info: b }).await?;
    Ok(no_content())
}

pub(crate) async fn vif_detach(
    State(app): State<App>,
    ctx: Ctx,
    Path((ident, vif)): Path<(String, String)>,
) -> ApiResult<Response> {
    require_version(ctx.ver, 28)?;
    uuid_or_name("vif_id", &vif)?;
    let n = get_node(&app, &ctx, &ident).await?;
    app.call(ConductorRequest::VifDetach { node: n.uuid, vif_id: vif }).await?;
    Ok(no_content())
}

// ---- vendor passthru ----

pub(crate) async fn vendor_methods(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    let n = get_node(&app, &ctx, &ident).await?;
    match app.call(ConductorRequest::GetNodeVendorPassthruMethods { node: n.uuid }).await? {
        ConductorReply::VendorMethods { methods } => Ok(json(200, &methods)),
        _ => Err(unexpected("get_node_vendor_passthru_methods")),
    }
}

/// The answer of a vendor method: 200 (sync) or 202 (async); `attach` methods return bytes.
pub(crate) fn vendor_answer(reply: ConductorReply) -> ApiResult<Response> {
    let ConductorReply::VendorResult { return_value, is_async, attach } = reply else {
        return Err(unexpected("vendor_passthru"));
    };
    let status = if is_async { 202 } else { 200 };
    if attach {
        let bytes = match return_value {
            Value::String(s) => s.into_bytes(),
            other => other.to_string().into_bytes(),
        };
        let mut r = Response::new(Body::from(bytes));
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        return Ok(r);
    }
    if is_async && return_value.is_null() {
        return Ok(accepted(None));
    }
    Ok(json_response(status, pyjson::to_string(&return_value)))
}

/// The `method` query parameter and the body of a passthru call.
pub(crate) async fn passthru_args(app: &App, q: Option<String>, headers: &HeaderMap, body: Body) -> ApiResult<(String, Value)> {
    let q = crate::params::Query::parse(q.as_deref());
    q.allow(&["method"])?;
    let method = match q.string("method") {
        None => return Err(ApiError::Model(Error::missing("Missing mandatory parameter: method"))),
        Some(m) if m.is_empty() => return Err(ApiError::bad_request("Method not specified")),
        Some(m) => m,
    };
    let data = body::read_json(headers, body, app.limits()).await?.unwrap_or_else(|| json!({}));
    Ok((method, data))
}

pub(crate) async fn vendor_call(
    State(app): State<App>,
    ctx: Ctx,
    method: Method,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let (name, data) = passthru_args(&app, q, &headers, body).await?;
    let n = get_node(&app, &ctx, &ident).await?;
    let reply = app
        .call(ConductorRequest::VendorPassthru { node: n.uuid, method: name, http_method: method.as_str().to_string(), info: data })
        .await?;
    vendor_answer(reply)
}
