//! `/v1/drivers`: the hardware types the online conductors registered (list with `type` and
//! `detail`, show), their properties, RAID logical disk properties and vendor passthru.

use super::json;
use super::node_mgmt::{passthru_args, vendor_answer};
use crate::app::{App, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::links;
use crate::params::Query;
use crate::render::Obj;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use ferric_model::{ConductorReply, ConductorRequest, Error, InterfaceKind, State as St};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What the cluster offers for one hardware type: hosts, and per interface kind the enabled
/// implementations and the default.
struct HwType {
    hosts: Vec<String>,
    interfaces: BTreeMap<InterfaceKind, (Vec<String>, Option<String>)>,
}

fn hardware_types(st: &St) -> BTreeMap<String, HwType> {
    let mut out: BTreeMap<String, HwType> = BTreeMap::new();
    for c in st.conductors.values().filter(|c| c.online) {
        for ht in &c.hardware_types {
            let e = out.entry(ht.name.clone()).or_insert_with(|| HwType { hosts: Vec::new(), interfaces: BTreeMap::new() });
            if !e.hosts.contains(&c.hostname) {
                e.hosts.push(c.hostname.clone());
            }
            for (kind, choice) in &ht.interfaces {
                let slot = e.interfaces.entry(*kind).or_insert_with(|| (Vec::new(), None));
                for name in &choice.enabled {
                    if !slot.0.contains(name) {
                        slot.0.push(name.clone());
                    }
                }
                if slot.1.is_none() {
                    slot.1 = choice.default.clone();
                }
            }
        }
    }
    for h in out.values_mut() {
        h.hosts.sort();
    }
    out
}

fn driver_json(name: &str, h: &HwType, detail: bool, ctx: &Ctx, fields: Option<&[String]>) -> ApiResult<Obj> {
    let mut o = Obj::new();
    o.insert("name".into(), Value::String(name.to_string()));
    o.insert("hosts".into(), json!(h.hosts));
    o.insert("links".into(), links::pair(&ctx.base, "drivers", name));
    if ctx.ver.at_least(14) {
        o.insert("properties".into(), links::pair(&ctx.base, "drivers", &format!("{name}/properties")));
    }
    if ctx.ver.at_least(30) {
        o.insert("type".into(), Value::String("dynamic".into()));
        if detail {
            for kind in InterfaceKind::ALL {
                let min = match kind {
                    InterfaceKind::Storage => 33,
                    InterfaceKind::Rescue => 38,
                    InterfaceKind::Bios => 40,
                    InterfaceKind::Firmware => 86,
                    _ => 30,
                };
                if !ctx.ver.at_least(min) {
                    continue;
                }
                let (enabled, default) = h.interfaces.get(&kind).cloned().unwrap_or_default();
                o.insert(format!("default_{}_interface", kind.as_str()), json!(default));
                o.insert(format!("enabled_{}_interfaces", kind.as_str()), json!(enabled));
            }
        }
    }
    if let Some(fs) = fields {
        let invalid: Vec<&str> = fs.iter().filter(|f| !o.contains_key(f.as_str())).map(String::as_str).collect();
        o.retain(|k, _| k == "links" || fs.iter().any(|f| f == k));
        if !invalid.is_empty() {
            return Err(ApiError::invalid(format!("Field(s) \"{}\" are not valid", invalid.join(", "))));
        }
    }
    Ok(o)
}

fn check_fields_version(fields: &Option<Vec<String>>, ctx: &Ctx) -> ApiResult<()> {
    if fields.is_some() && !ctx.ver.at_least(77) {
        return Err(ApiError::not_acceptable());
    }
    Ok(())
}

pub(crate) async fn list(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    q.allow(&["type", "detail", "fields"])?;
    let fields = q.list("fields");
    let detail = q.bool("detail")?;
    if fields.is_some() && detail == Some(true) {
        return Err(ApiError::invalid("Can not specify ?detail=True and fields in the same request."));
    }
    if detail.is_some() && !ctx.ver.at_least(30) {
        return Err(ApiError::needs_version(30));
    }
    let ty = q.string("type");
    if ty.is_some() && !ctx.ver.at_least(30) {
        return Err(ApiError::needs_version(30));
    }
    check_fields_version(&fields, &ctx)?;
    if !matches!(ty.as_deref(), None | Some("classic") | Some("dynamic")) {
        return Err(ApiError::Model(Error::Invalid {
            message: "\"type\" filter must be one of \"classic\" or \"dynamic\", if specified.".into(),
        }));
    }
    let types = if ty.as_deref() == Some("classic") { BTreeMap::new() } else { app.read(hardware_types).await? };
    let drivers = types
        .iter()
        .map(|(name, h)| driver_json(name, h, detail.unwrap_or(false), &ctx, fields.as_deref()).map(Value::Object))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(json(200, &json!({"drivers": drivers})))
}

async fn require_driver(app: &App, name: &str) -> ApiResult<()> {
    if app.read(|st| hardware_types(st).contains_key(name)).await? {
        Ok(())
    } else {
        Err(Error::DriverNotFound { driver: name.to_string() }.into())
    }
}

pub(crate) async fn show(State(app): State<App>, ctx: Ctx, Path(name): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    q.allow(&["fields"])?;
    let fields = q.list("fields");
    check_fields_version(&fields, &ctx)?;
    let types = app.read(hardware_types).await?;
    let h = types.get(&name).ok_or(Error::DriverNotFound { driver: name.clone() })?;
    Ok(json(200, &driver_json(&name, h, true, &ctx, fields.as_deref())?))
}

pub(crate) async fn properties(State(app): State<App>, Path(name): Path<String>) -> ApiResult<Response> {
    require_driver(&app, &name).await?;
    match app.call(ConductorRequest::GetDriverProperties { driver: name }).await? {
        ConductorReply::Properties { properties } => Ok(json(200, &properties)),
        _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to get_driver_properties"))),
    }
}

pub(crate) async fn raid_properties(State(app): State<App>, ctx: Ctx, Path(name): Path<String>) -> ApiResult<Response> {
    if !ctx.ver.at_least(12) {
        return Err(ApiError::not_acceptable());
    }
    require_driver(&app, &name).await?;
    match app.call(ConductorRequest::GetRaidLogicalDiskProperties { driver: name }).await {
        Ok(ConductorReply::Properties { properties }) => Ok(json(200, &properties)),
        Ok(_) => Err(ApiError::Model(Error::internal("unexpected conductor reply to get_raid_logical_disk_properties"))),
        Err(ApiError::Model(e @ Error::UnsupportedDriverExtension { .. })) => Err(ApiError::status(404, e.to_string())),
        Err(e) => Err(e),
    }
}

pub(crate) async fn vendor_methods(State(app): State<App>, Path(name): Path<String>) -> ApiResult<Response> {
    require_driver(&app, &name).await?;
    match app.call(ConductorRequest::GetDriverVendorPassthruMethods { driver: name }).await? {
        ConductorReply::VendorMethods { methods } => Ok(json(200, &methods)),
        _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to get_driver_vendor_passthru_methods"))),
    }
}

pub(crate) async fn vendor_call(
    State(app): State<App>,
    method: Method,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let (m, data) = passthru_args(&app, q, &headers, body).await?;
    require_driver(&app, &name).await?;
    let reply = app
        .call(ConductorRequest::DriverVendorPassthru { driver: name, method: m, http_method: method.as_str().to_string(), info: data })
        .await?;
    vendor_answer(reply)
}
