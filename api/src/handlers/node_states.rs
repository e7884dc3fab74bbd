//! `/v1/nodes/{node}/states`: read the states; set power, provision (every verb with its
//! parameters), RAID target, console, boot mode and secure boot. Ironic's API-tier checks run
//! first (version gates, body validation, the FSM pre-check, maintenance), then the conductor
//! call; asynchronous actions answer 202 with a `Location`.

use super::nodes::get_node;
use super::{accepted, allow_members, body_string, json, no_content, required};
use crate::app::{App, Ctx};
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::links::build_url;
use crate::params::{bool_from_json, Query};
use crate::pyjson;
use crate::render;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferric_model::{transition, ConductorReply, ConductorRequest, Error, PowerAction, ProvisionState, ProvisionVerb};
use serde_json::{Map, Value};

fn states_location(ctx: &Ctx, ident: &str, suffix: &str) -> String {
    build_url(&ctx.base, "nodes", &format!("{ident}/states{suffix}"), false)
}

pub(crate) async fn get(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    Query::parse(q.as_deref()).allow(&[])?;
    let n = get_node(&app, &ctx, &ident).await?;
    Ok(json(200, &render::node_states(&n, ctx.ver)))
}

async fn object_body(app: &App, headers: &HeaderMap, body: Body, _what: &str) -> ApiResult<Map<String, Value>> {
    Ok(super::kwargs_body(body::read_json(headers, body, app.limits()).await?))
}

/// `args.integer` on a body member (Python's `int()`).
fn body_int(name: &str, v: &Value) -> ApiResult<Option<i64>> {
    let bad = || ApiError::invalid(format!("Expected an integer for {name}: {}", pyjson::repr(v)));
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b as i64)),
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64)).map(Some).ok_or_else(bad),
        Value::String(s) => s.trim().parse::<i64>().map(Some).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

pub(crate) async fn power(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let b = object_body(&app, &headers, body, "power").await?;
    allow_members(&b, &["target", "timeout"])?;
    let target = body_string("target", required(&b, "target")?)?;
    let timeout = b.get("timeout").map(|v| body_int("timeout", v)).transpose()?.flatten();
    let n = get_node(&app, &ctx, &ident).await?;
    let target = target.unwrap_or_default();
    let soft = matches!(target.as_str(), "soft rebooting" | "soft power off");
    if (soft || timeout.map(|t| t != 0).unwrap_or(false)) && !ctx.ver.at_least(27) {
        return Err(ApiError::not_acceptable());
    }
    if timeout.map(|t| t < 1).unwrap_or(false) {
        return Err(ApiError::Model(Error::Invalid { message: "timeout has to be positive integer".into() }));
    }
    let Some((action, _)) = PowerAction::parse(&target) else {
        return Err(Error::InvalidStateRequested {
            action: target,
            node: ident,
            state: n.power_state.map(|p| p.as_str().to_string()).unwrap_or_else(|| "None".into()),
        }
        .into());
    };
    if matches!(n.provision_state, ProvisionState::Cleaning | ProvisionState::CleanWait) {
        return Err(Error::InvalidStateRequested { action: target, node: ident, state: n.provision_state.to_string() }.into());
    }
    if action.powers_off() && n.disable_power_off {
        return Err(Error::InvalidState { message: format!("Failed to set node power state to {target}.") }.into());
    }
    app.call(ConductorRequest::ChangeNodePowerState { node: n.uuid, target: action, timeout: timeout.map(|t| t as u64) })
        .await?;
    Ok(accepted(Some(states_location(&ctx, &ident, ""))))
}

/// Interfaces a clean/service step may name.
const STEP_INTERFACES: [&str; 7] = ["vendor", "power", "management", "firmware", "deploy", "bios", "raid"];

fn step_error(kind: &str, msg: String) -> ApiError {
    ApiError::invalid(format!("Invalid {kind}_steps: {msg}"))
}

/// Ironic's `_STEPS_SCHEMA` (clean, service) or `DEPLOY_STEP_SCHEMA` (deploy).
fn check_steps(kind: &str, steps: &[Value]) -> ApiResult<()> {
    let deploy = kind == "deploy";
    for s in steps {
        let Value::Object(m) = s else {
            return Err(step_error(kind, format!("{} is not of type 'object'", pyjson::repr(s))));
        };
        let required: &[&str] = if deploy { &["interface", "step", "args", "priority"] } else { &["interface", "step"] };
        for r in required {
            if !m.contains_key(*r) {
                return Err(step_error(kind, format!("'{r}' is a required property")));
            }
        }
        let allowed: &[&str] = if deploy {
            &["interface", "step", "args", "priority"]
        } else {
            &["interface", "step", "args", "order", "execute_on_child_nodes", "limit_child_node_execution"]
        };
        let mut extra: Vec<&String> = m.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
        if !extra.is_empty() {
            extra.sort();
            let names: Vec<String> = extra.iter().map(|k| pyjson::repr_str(k)).collect();
            let verb = if names.len() == 1 { "was" } else { "were" };
            return Err(step_error(kind, format!("Additional properties are not allowed ({} {verb} unexpected)", names.join(", "))));
        }
        match m.get("interface") {
            Some(Value::String(i)) if STEP_INTERFACES.contains(&i.as_str()) => {}
            Some(other) => {
                return Err(step_error(
                    kind,
                    format!(
                        "{} is not one of ['vendor', 'power', 'management', 'firmware', 'deploy', 'bios', 'raid']",
                        pyjson::repr(other)
                    ),
                ))
            }
            None => {}
        }
        match m.get("step") {
            Some(Value::String(st)) if !st.is_empty() => {}
            Some(Value::String(_)) => return Err(step_error(kind, "'' is too short".into())),
            Some(other) => return Err(step_error(kind, format!("{} is not of type 'string'", pyjson::repr(other)))),
            None => {}
        }
        if let Some(a) = m.get("args") {
            if !a.is_object() {
                return Err(step_error(kind, format!("{} is not of type 'object'", pyjson::repr(a))));
            }
        }
        for key in ["priority", "order"] {
            if let Some(p) = m.get(key) {
                let ok = p.as_u64().is_some()
                    || p.as_str().map(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).unwrap_or(false);
                if !ok {
                    return Err(step_error(kind, format!("{} is not valid under any of the given schemas", pyjson::repr(p))));
                }
            }
        }
        if let Some(e) = m.get("execute_on_child_nodes") {
            if !e.is_boolean() {
                return Err(step_error(kind, format!("{} is not of type 'boolean'", pyjson::repr(e))));
            }
        }
        if let Some(l) = m.get("limit_child_node_execution") {
            if !l.is_array() {
                return Err(step_error(kind, format!("{} is not of type 'array'", pyjson::repr(l))));
            }
        }
    }
    Ok(())
}

/// `args.types(type(None), list)` on a body member.
fn opt_list(name: &str, v: Option<&Value>) -> ApiResult<Option<Vec<Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a.clone())),
        Some(other) => Err(ApiError::invalid(format!(
            "Expected types <class 'NoneType'>, <class 'list'> for {name}: {}",
            pyjson::repr(other)
        ))),
    }
}

const B64_EXTRA: &str = "+/=\n\r\t ";

/// `check_allow_configdrive`.
fn check_configdrive(target: &str, cd: &Value, ctx: &Ctx) -> ApiResult<()> {
    let truthy = match cd {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    };
    if !truthy {
        return Ok(());
    }
    let mut allowed = vec!["active", "deploy"];
    if ctx.ver.at_least(35) {
        allowed.push("rebuild");
    }
    if !allowed.contains(&target) {
        let names = if ctx.ver.at_least(35) { "active, rebuild" } else { "active" };
        return Err(ApiError::bad_request(format!(
            "Adding a config drive is only supported when setting provision state to {names}"
        )));
    }
    match cd {
        Value::Object(m) => {
            for (k, v) in m {
                let ok = match k.as_str() {
                    "meta_data" | "network_data" | "vendor_data" => v.is_object(),
                    "user_data" => v.is_object() || v.is_array() || v.is_string() || v.is_null(),
                    _ => false,
                };
                if !ok {
                    return Err(ApiError::bad_request(format!(
                        "Invalid configdrive format: {} is not valid under any of the given schemas",
                        pyjson::repr(cd)
                    )));
                }
            }
            if !ctx.ver.at_least(56) {
                return Err(ApiError::bad_request(
                    "Providing a JSON object for configdrive is only supported starting with API version 1.56",
                ));
            }
            if m.contains_key("vendor_data") && !ctx.ver.at_least(59) {
                return Err(ApiError::bad_request(
                    "Providing vendor_data in configdrive is only supported starting with API version 1.59",
                ));
            }
        }
        Value::String(s) => {
            if !s.contains("://") && !s.chars().all(|c| c.is_ascii_alphanumeric() || B64_EXTRA.contains(c)) {
                return Err(ApiError::bad_request(
                    "Invalid configdrive format: it is neither a JSON, nor a URL, nor a base64 string",
                ));
            }
        }
        other => {
            return Err(ApiError::invalid(format!(
                "Expected types <class 'NoneType'>, <class 'dict'>, <class 'str'> for configdrive: {}",
                pyjson::repr(other)
            )))
        }
    }
    Ok(())
}

const UNSTABLE: [ProvisionState; 14] = [
    ProvisionState::Deploying,
    ProvisionState::DeployWait,
    ProvisionState::Cleaning,
    ProvisionState::CleanWait,
    ProvisionState::Verifying,
    ProvisionState::Deleting,
    ProvisionState::Inspecting,
    ProvisionState::InspectWait,
    ProvisionState::Adopting,
    ProvisionState::Rescuing,
    ProvisionState::RescueWait,
    ProvisionState::Unrescuing,
    ProvisionState::Servicing,
    ProvisionState::ServiceWait,
];

pub(crate) async fn provision(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let ver = ctx.ver;
    let b = super::kwargs_body(body::read_json(&headers, body, app.provision_limits()).await?);
    allow_members(
        &b,
        &["target", "configdrive", "clean_steps", "deploy_steps", "rescue_password", "disable_ramdisk", "service_steps", "runbook"],
    )?;
    let target = body_string("target", required(&b, "target")?)?.unwrap_or_default();
    let configdrive = b.get("configdrive").cloned().unwrap_or(Value::Null);
    if !matches!(configdrive, Value::Null | Value::String(_) | Value::Object(_)) {
        return Err(ApiError::invalid(format!(
            "Expected types <class 'NoneType'>, <class 'dict'>, <class 'str'> for configdrive: {}",
            pyjson::repr(&configdrive)
        )));
    }
    let clean_steps = opt_list("clean_steps", b.get("clean_steps"))?;
    let deploy_steps = opt_list("deploy_steps", b.get("deploy_steps"))?;
    let service_steps = opt_list("service_steps", b.get("service_steps"))?;
    let rescue_password = b.get("rescue_password").map(|v| body_string("rescue_password", v)).transpose()?.flatten();
    let disable_ramdisk = b.get("disable_ramdisk").map(|v| bool_from_json("disable_ramdisk", v)).transpose()?.flatten();
    let runbook = match b.get("runbook") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Expected types <class 'NoneType'>, <class 'str'> for runbook: {}",
                pyjson::repr(other)
            )))
        }
    };
    let n = get_node(&app, &ctx, &ident).await?;

    let parsed = ProvisionVerb::parse(&target);
    if let Some((_, min)) = parsed {
        // unhold and service are gated later, as Ironic does.
        let late = matches!(target.as_str(), "unhold" | "service");
        if !late && !ver.at_least(min) {
            return Err(ApiError::not_acceptable());
        }
    }
    if matches!(target.as_str(), "active" | "deploy" | "rebuild") && n.maintenance {
        return Err(Error::NodeInMaintenance { op: "provisioning".into(), node: n.uuid.to_string() }.into());
    }
    let actionable = parsed.and_then(|(verb, _)| transition(n.provision_state, verb.event())).is_some();
    if !actionable {
        if let Some(holder) = n.reservation_holder() {
            return Err(Error::NodeLocked { node: n.uuid.to_string(), host: holder.to_string() }.into());
        }
        return Err(Error::InvalidStateRequested {
            action: target,
            node: n.uuid.to_string(),
            state: n.provision_state.to_string(),
        }
        .into());
    }
    let Some((verb, _)) = parsed else {
        return Err(ApiError::Model(Error::internal("actionable target without a verb")));
    };
    check_configdrive(&target, &configdrive, &ctx)?;
    if runbook.is_some() {
        if !ver.at_least(92) {
            return Err(ApiError::not_acceptable());
        }
        return Err(ApiError::Model(Error::NotFound {
            message: format!("Runbook {} could not be found.", runbook.unwrap_or_default()),
        }));
    }
    if let Some(_d) = disable_ramdisk {
        match verb {
            ProvisionVerb::Clean if !ver.at_least(70) => {
                return Err(ApiError::not_acceptable_msg("disable_ramdisk is not acceptable in this API version"))
            }
            ProvisionVerb::Service if !ver.at_least(108) => {
                return Err(ApiError::not_acceptable_msg("disable_ramdisk is not acceptable in this API version"))
            }
            ProvisionVerb::Clean | ProvisionVerb::Service => {}
            _ => return Err(ApiError::bad_request("disable_ramdisk is supported only with manual cleaning or servicing")),
        }
    }
    let nonempty = |s: &Option<Vec<Value>>| s.as_ref().map(|v| !v.is_empty()).unwrap_or(false);
    if nonempty(&clean_steps) && verb != ProvisionVerb::Clean {
        return Err(ApiError::bad_request("\"clean_steps\" is only valid when setting target provision state to clean"));
    }
    if nonempty(&deploy_steps) {
        if !ver.at_least(69) {
            return Err(ApiError::needs_version(69));
        }
        if !matches!(verb, ProvisionVerb::Active | ProvisionVerb::Rebuild) {
            return Err(ApiError::bad_request(
                "\"deploy_steps\" is only valid when setting target provision state to active or rebuild",
            ));
        }
    }
    if rescue_password.is_some() && verb != ProvisionVerb::Rescue {
        return Err(ApiError::bad_request("\"rescue_password\" is only valid when setting target provision state to rescue"));
    }
    if verb == ProvisionVerb::Abort {
        if n.provision_state == ProvisionState::InspectWait && !ver.at_least(41) {
            return Err(ApiError::not_acceptable());
        }
        if n.provision_state == ProvisionState::DeployWait && !ver.at_least(110) {
            return Err(ApiError::not_acceptable());
        }
    }
    if verb == ProvisionVerb::Unhold && !ver.at_least(85) {
        return Err(ApiError::not_acceptable());
    }
    if nonempty(&service_steps) && verb != ProvisionVerb::Service {
        return Err(ApiError::bad_request("\"service_steps\" is only valid when setting target provision state to service"));
    }
    if verb == ProvisionVerb::Service && !ver.at_least(87) {
        return Err(ApiError::not_acceptable());
    }
    if matches!(verb, ProvisionVerb::Rebuild | ProvisionVerb::Deleted) && n.protected {
        return Err(ApiError::status(
            403,
            format!("Node {} is protected and cannot be undeployed, rebuilt or deleted", n.uuid),
        ));
    }
    let node = n.uuid;
    let req = match verb {
        ProvisionVerb::Active | ProvisionVerb::Rebuild => {
            let steps = if nonempty(&deploy_steps) { deploy_steps } else { None };
            if let Some(s) = &steps {
                check_steps("deploy", s)?;
            }
            ConductorRequest::DoNodeDeploy {
                node,
                rebuild: verb == ProvisionVerb::Rebuild,
                configdrive: if configdrive.is_null() { None } else { Some(configdrive) },
                deploy_steps: steps,
            }
        }
        ProvisionVerb::Unrescue => ConductorRequest::DoNodeUnrescue { node },
        ProvisionVerb::Rescue => {
            let pw = rescue_password.unwrap_or_default();
            if pw.trim().is_empty() {
                return Err(ApiError::bad_request(
                    "A non-empty \"rescue_password\" is required when setting target provision state to rescue",
                ));
            }
            ConductorRequest::DoNodeRescue { node, rescue_password: pw }
        }
        ProvisionVerb::Deleted => ConductorRequest::DoNodeTearDown { node },
        ProvisionVerb::Clean => {
            let steps = clean_steps.filter(|s| !s.is_empty()).ok_or_else(|| {
                ApiError::bad_request("\"clean_steps\" is required when setting target provision state to clean")
            })?;
            check_steps("clean", &steps)?;
            ConductorRequest::DoNodeClean { node, clean_steps: steps, disable_ramdisk: disable_ramdisk.unwrap_or(false) }
        }
        ProvisionVerb::Service => {
            let steps = service_steps.filter(|s| !s.is_empty()).ok_or_else(|| {
                ApiError::bad_request("\"service_steps\" is required when setting target provision state to service")
            })?;
            check_steps("service", &steps)?;
            ConductorRequest::DoNodeService {
                node,
                service_steps: steps,
                disable_ramdisk: disable_ramdisk.unwrap_or(false),
            }
        }
        ProvisionVerb::Manage
        | ProvisionVerb::Provide
        | ProvisionVerb::Inspect
        | ProvisionVerb::Abort
        | ProvisionVerb::Adopt
        | ProvisionVerb::Unhold => ConductorRequest::DoProvisioningAction { node, action: verb },
    };
    app.call(req).await?;
    Ok(accepted(Some(states_location(&ctx, &ident, ""))))
}

const RAID_LEVELS: [&str; 8] = ["0", "1", "2", "5", "6", "1+0", "5+0", "6+0"];

fn raid_error(msg: String) -> ApiError {
    ApiError::invalid(format!("RAID config validation error: {msg}"))
}

/// The shape of a target RAID configuration (the driver validates the rest).
fn check_raid(cfg: &Map<String, Value>) -> ApiResult<()> {
    if cfg.is_empty() {
        return Ok(());
    }
    let Some(disks) = cfg.get("logical_disks") else {
        return Err(raid_error("'logical_disks' is a required property".into()));
    };
    let Value::Array(disks) = disks else {
        return Err(raid_error(format!("{} is not of type 'array'", pyjson::repr(disks))));
    };
    if disks.is_empty() {
        return Err(raid_error("[] is too short".into()));
    }
    for d in disks {
        let Value::Object(m) = d else {
            return Err(raid_error(format!("{} is not of type 'object'", pyjson::repr(d))));
        };
        for r in ["size_gb", "raid_level"] {
            if !m.contains_key(r) {
                return Err(raid_error(format!("'{r}' is a required property")));
            }
        }
        let size_ok = m["size_gb"].as_u64().map(|s| s > 0).unwrap_or(false) || m["size_gb"].as_str() == Some("MAX");
        if !size_ok {
            return Err(raid_error(format!("{} is not valid under any of the given schemas", pyjson::repr(&m["size_gb"]))));
        }
        if !m["raid_level"].as_str().map(|l| RAID_LEVELS.contains(&l)).unwrap_or(false) {
            return Err(raid_error(format!(
                "{} is not one of ['0', '1', '2', '5', '6', '1+0', '5+0', '6+0']",
                pyjson::repr(&m["raid_level"])
            )));
        }
    }
    Ok(())
}

pub(crate) async fn raid(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let raw = body::read_json(&headers, body, app.limits()).await?;
    let cfg = match raw {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Expected types <class 'dict'> for target_raid_config: {}",
                pyjson::repr(&other)
            )))
        }
    };
    let n = get_node(&app, &ctx, &ident).await?;
    if !ctx.ver.at_least(12) {
        return Err(ApiError::not_acceptable());
    }
    check_raid(&cfg)?;
    match app.call(ConductorRequest::SetTargetRaidConfig { node: n.uuid, target_raid_config: cfg }).await {
        Err(ApiError::Model(e @ Error::UnsupportedDriverExtension { .. })) => Err(ApiError::status(404, e.to_string())),
        Err(e) => Err(e),
        Ok(_) => Ok(no_content()),
    }
}

pub(crate) async fn console_get(State(app): State<App>, ctx: Ctx, Path(ident): Path<String>) -> ApiResult<Response> {
    let n = get_node(&app, &ctx, &ident).await?;
    match app.call(ConductorRequest::GetConsoleInformation { node: n.uuid }).await? {
        ConductorReply::ConsoleInformation { console_enabled, console_info } => Ok(json(
            200,
            &serde_json::json!({"console_enabled": console_enabled, "console_info": console_info}),
        )),
        _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to get_console_information"))),
    }
}

pub(crate) async fn console_set(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let b = object_body(&app, &headers, body, "console").await?;
    allow_members(&b, &["enabled"])?;
    let enabled = bool_from_json("enabled", required(&b, "enabled")?)?
        .ok_or_else(|| ApiError::Model(Error::missing("Missing mandatory parameter: enabled")))?;
    let n = get_node(&app, &ctx, &ident).await?;
    app.call(ConductorRequest::SetConsoleMode { node: n.uuid, enabled }).await?;
    Ok(accepted(Some(states_location(&ctx, &ident, "/console"))))
}

fn transitioning(n: &ferric_model::Node) -> ApiResult<()> {
    if UNSTABLE.contains(&n.provision_state) {
        return Err(ApiError::conflict(format!(
            "Node is in {} state. Since node is transitioning, the boot mode will not be set as this may interfere with ongoing changes and result in erroneous modification. Try again later.",
            n.provision_state
        )));
    }
    Ok(())
}

fn endpoint_from(ver: crate::version::Version, minor: u32) -> ApiResult<()> {
    if ver.at_least(minor) {
        Ok(())
    } else {
        Err(ApiError::Model(Error::NotFound {
            message: format!("This endpoint is supported starting with the API version 1.{minor}"),
        }))
    }
}

pub(crate) async fn boot_mode(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let b = object_body(&app, &headers, body, "boot_mode").await?;
    allow_members(&b, &["target"])?;
    let target = body_string("target", required(&b, "target")?)?;
    let n = get_node(&app, &ctx, &ident).await?;
    endpoint_from(ctx.ver, 76)?;
    let target = target.unwrap_or_default();
    if !matches!(target.as_str(), "bios" | "uefi") {
        return Err(ApiError::invalid(format!(
            "Invalid boot mode {target} requested for node. Allowed boot modes are: bios, uefi"
        )));
    }
    transitioning(&n)?;
    app.call(ConductorRequest::SetBootMode { node: n.uuid, mode: target }).await?;
    Ok(accepted(Some(states_location(&ctx, &ident, ""))))
}

pub(crate) async fn secure_boot(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let b = object_body(&app, &headers, body, "secure_boot").await?;
    allow_members(&b, &["target"])?;
    let target = bool_from_json("target", required(&b, "target")?)?;
    let n = get_node(&app, &ctx, &ident).await?;
    endpoint_from(ctx.ver, 76)?;
    let Some(target) = target else {
        return Err(ApiError::invalid(
            "Invalid secure_boot None requested for node. Allowed secure_boot states are: True, False) ",
        ));
    };
    transitioning(&n)?;
    app.call(ConductorRequest::SetSecureBootState { node: n.uuid, enabled: target }).await?;
    Ok(accepted(Some(states_location(&ctx, &ident, ""))))
}
