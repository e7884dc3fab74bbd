//! The deploy ramdisk's endpoints (public, no credentials): `GET /v1/lookup` and
//! `POST /v1/heartbeat/{node}` (1.22), with Ironic's agent-token rules.

use super::{allow_members, body_string, find_node, json};
use crate::app::{App, Ctx};
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::params::{string_list, Query};
use crate::render::{self, View};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferric_model::node::MASK;
use ferric_model::{ConductorReply, ConductorRequest, Error, Node};
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Ironic's `[api]ramdisk_heartbeat_timeout`.
const HEARTBEAT_TIMEOUT_S: u64 = 300;

fn lookup_not_found() -> ApiError {
    ApiError::Model(Error::NotFound { message: "Resource could not be found.".into() })
}

fn lookup_answer(ctx: &Ctx, n: &Node, token: Option<String>) -> Value {
    let fields: Vec<String> = ["uuid", "properties", "instance_info", "driver_internal_info"].iter().map(|s| s.to_string()).collect();
    let node = render::node(n, None, View { ver: ctx.ver, base: &ctx.base, fields: Some(&fields) });
    json!({
        "node": node,
        "config": {
            "metrics": {"backend": "noop", "prepend_host": false, "prepend_uuid": false, "prepend_host_reverse": true, "global_prefix": null},
            "metrics_statsd": {"statsd_host": "localhost", "statsd_port": 8125},
            "heartbeat_timeout": HEARTBEAT_TIMEOUT_S,
            "agent_token": token.unwrap_or_else(|| MASK.to_string()),
            "agent_token_required": true,
            "agent_md5_checksum_enable": false,
            "disable_deep_image_inspection": false,
            "permitted_image_formats": ["raw", "gpt", "qcow2", "iso"],
            "agent_skip_bmc_detect": false,
            "enable_bios_bootloader_install": false,
            "tls_min_version": "1.2",
            "tls_cipher_suites": null,
        }
    })
}

pub(crate) async fn lookup(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    if !ctx.ver.at_least(22) {
        return Err(lookup_not_found());
    }
    let q = Query::parse(q.as_deref());
    q.allow(&["addresses", "node_uuid"])?;
    let node_uuid = q.uuid("node_uuid")?;
    let addresses: Vec<String> = q
        .str("addresses")
        .map(|a| string_list(&[a]))
        .unwrap_or_default()
        .iter()
        .filter_map(|a| super::valid_mac(a))
        .collect();
    if addresses.is_empty() && node_uuid.is_none() {
        return Err(ApiError::bad_request("At least one of 'addresses' and 'node_uuid' parameters is required"));
    }
    let found: Option<Arc<Node>> = app
        .read(|st| match node_uuid {
            Some(u) => st.nodes.get(&u).cloned(),
            None => {
                let mut owners: Vec<Uuid> =
                    addresses.iter().filter_map(|a| st.port_by_mac.get(a)).filter_map(|p| st.ports.get(p)).map(|p| p.node_uuid).collect();
                owners.sort();
                owners.dedup();
                if owners.len() == 1 {
                    st.nodes.get(&owners[0]).cloned()
                } else {
                    None
                }
            }
        })
        .await?;
    let n = found.ok_or_else(lookup_not_found)?;
    if !n.provision_state.lookup_allowed() {
        return Err(lookup_not_found());
    }
    if ctx.ver.at_least(62) {
        match app.call(ConductorRequest::GetNodeWithToken { node: n.uuid }).await? {
            ConductorReply::NodeWithToken { node, agent_token } => Ok(json(200, &lookup_answer(&ctx, &node, agent_token))),
            _ => Err(ApiError::Model(Error::internal("unexpected conductor reply to get_node_with_token"))),
        }
    } else {
        Ok(json(200, &lookup_answer(&ctx, &n, None)))
    }
}

const AGENT_STATES: [&str; 3] = ["start", "end", "error"];

pub(crate) async fn heartbeat(
    State(app): State<App>,
    ctx: Ctx,
    Path(ident): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let b = super::kwargs_body(body::read_json(&headers, body, app.limits()).await?);
    allow_members(
        &b,
        &["callback_url", "agent_version", "agent_token", "agent_verify_ca", "agent_status", "agent_status_message"],
    )?;
    let get = |k: &str| -> ApiResult<Option<String>> { b.get(k).map(|v| body_string(k, v)).transpose().map(Option::flatten) };
    let callback_url = get("callback_url")?
        .ok_or_else(|| ApiError::Model(Error::missing("Missing mandatory parameter: callback_url")))?;
    let agent_version = get("agent_version")?;
    let agent_token = get("agent_token")?;
    let agent_verify_ca = get("agent_verify_ca")?;
    let agent_status = get("agent_status")?;
    let agent_status_message = get("agent_status_message")?;
    if !ctx.ver.at_least(22) {
        return Err(lookup_not_found());
    }
    if agent_version.as_deref().map(|s| !s.is_empty()).unwrap_or(false) && !ctx.ver.at_least(36) {
        return Err(ApiError::invalid("Field \"agent_version\" not recognised"));
    }
    if (agent_status.is_some() || agent_status_message.is_some()) && !ctx.ver.at_least(72) {
        return Err(ApiError::invalid("Fields \"agent_status\" and \"agent_status_message\" not recognised."));
    }
    if agent_verify_ca.is_some() && !ctx.ver.at_least(68) {
        return Err(ApiError::invalid("Field \"agent_verify_ca\" not recognised in this version"));
    }
    super::check_node_ident(&ident)?;
    let n = app.read(|st| find_node(st, &ident, ctx.ver)).await??;
    let scheme_ok = callback_url.split_once("://").map(|(s, _)| s.contains("http")).unwrap_or(false);
    if !scheme_ok && !callback_url.is_empty() {
        return Err(ApiError::invalid("An issue with the supplied \"callback_url\" has been detected."));
    }
    if let Some(agent_url) = n.driver_internal_info.get("agent_url").and_then(Value::as_str) {
        if agent_url != callback_url {
            return Err(ApiError::Model(Error::Invalid { message: "Detected change in ramdisk provided \"callback_url\"".into() }));
        }
    }
    if agent_token.is_none() {
        return Err(ApiError::invalid("Agent token is required for heartbeat processing."));
    }
    if let Some(s) = &agent_status {
        if !AGENT_STATES.contains(&s.as_str()) {
            return Err(ApiError::invalid("Agent status is invalid. Valid states are start,end,error."));
        }
    }
    app.call(ConductorRequest::Heartbeat {
        node: n.uuid,
        callback_url,
        agent_version,
        agent_token,
        agent_verify_ca,
        agent_status,
        agent_status_message,
    })
    .await?;
    Ok(super::accepted(None))
}
