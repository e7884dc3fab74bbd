//! The endpoint handlers, one file per resource, and what they share: looking records up the
//! way Ironic does (UUID or logical name, version rules) and the common answers.

pub(crate) mod chassis;
pub(crate) mod conductors;
pub(crate) mod drivers;
pub(crate) mod ferric;
pub(crate) mod node_edit;
pub(crate) mod node_mgmt;
pub(crate) mod node_states;
pub(crate) mod nodes;
pub(crate) mod portgroups;
pub(crate) mod ports;
pub(crate) mod ramdisk;
pub(crate) mod root;

use crate::error::{json_response, ApiError, ApiResult};
use crate::pyjson;
use crate::version::Version;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use ferric_model::ids::{is_hostname_safe, is_uuid_like, is_valid_logical_name};
use ferric_model::{Error, Node, State};
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

/// `200` (or another status) with a JSON body, serialised as Ironic does.
pub(crate) fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Response {
    json_response(status, pyjson::to_string(body))
}

/// `202 Accepted` with an empty body and a `Location`.
pub(crate) fn accepted(location: Option<String>) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::ACCEPTED;
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

/// `204 No Content`.
pub(crate) fn no_content() -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// `201 Created` with the record and its `Location`.
pub(crate) fn created<T: Serialize + ?Sized>(location: String, body: &T) -> Response {
    created_text(location, pyjson::to_string(body))
}

/// `201 Created` with a body already serialised and a `Location`.
pub(crate) fn created_text(location: String, body: String) -> Response {
    let mut r = json_response(201, body);
    if let Ok(l) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

/// Sub-resources of a node that are never node identifiers (routing 404, as Ironic's `_lookup`).
const NODE_SUBCONTROLLERS: [&str; 12] = [
    "ports", "portgroups", "vifs", "volume", "traits", "bios", "allocation", "history", "inventory", "children",
    "firmware", "vmedia",
];

/// `args.uuid_or_name('node', ident)` as the nodes controller's `_lookup` applies it.
pub(crate) fn check_node_ident(ident: &str) -> ApiResult<()> {
    if NODE_SUBCONTROLLERS.contains(&ident) {
        return Err(ApiError::not_found_route());
    }
    if !is_uuid_like(ident) && !logical_name_chars(ident) {
        // Refused while routing (pecan.abort), hence the framework's body.
        return Err(ApiError::Framework {
            status: 400,
            description: format!("Expected UUID or name for node: {ident}"),
            version_headers: false,
        });
    }
    Ok(())
}

/// An endpoint behind Ironic's `api_version` decorator, called below its version (404 with a
/// fault body, unlike the routing 404 of [`require_version`]).
pub(crate) fn api_version(ver: Version, minor: u32, message: &str) -> ApiResult<()> {
    if ver.at_least(minor) {
        Ok(())
    } else {
        Err(ApiError::Model(Error::NotFound { message: message.to_string() }))
    }
}

pub(crate) const NOT_SUPPORTED: &str = "The API is not supported for this version";

/// `DELETE`/`PATCH` on a collection: Ironic's controller misses the identifier argument.
pub(crate) fn missing_ident(name: &'static str) -> ApiError {
    ApiError::Model(Error::missing(format!("Missing mandatory parameter: {name}")))
}

/// The oslo `is_valid_mac` rule (six colon-separated hex pairs), normalised to lower case.
pub(crate) fn valid_mac(s: &str) -> Option<String> {
    let ok = s.len() == 17
        && s.bytes().enumerate().all(|(i, b)| if i % 3 == 2 { b == b':' } else { b.is_ascii_hexdigit() });
    if ok {
        Some(s.to_ascii_lowercase())
    } else {
        None
    }
}

/// Ironic's `utils.is_valid_logical_name` (character set and length only).
pub(crate) fn logical_name_chars(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

/// The name rule of a version: hostname-safe below 1.10, RFC 3986 unreserved from 1.10.
pub(crate) fn valid_name_at(name: &str, ver: Version) -> bool {
    if ver.at_least(10) {
        is_valid_logical_name(name)
    } else {
        is_hostname_safe(name)
    }
}

/// Ironic's `get_rpc_node`: by UUID, else by name from 1.5.
pub(crate) fn find_node(st: &State, ident: &str, ver: Version) -> Result<Arc<Node>, ApiError> {
    if let Ok(u) = Uuid::parse_str(ident) {
        return st.nodes.get(&u).cloned().ok_or_else(|| Error::NodeNotFound { node: ident.to_string() }.into());
    }
    if ver.at_least(5) {
        if valid_name_at(ident, ver) {
            return st
                .node_by_name
                .get(ident)
                .and_then(|u| st.nodes.get(u))
                .cloned()
                .ok_or_else(|| Error::NodeNotFound { node: ident.to_string() }.into());
        }
        return Err(ApiError::invalid(format!("Expected a logical name or UUID but received {ident}.")));
    }
    Err(Error::NodeNotFound { node: ident.to_string() }.into())
}

/// The endpoint exists only from `1.<minor>`: a routing 404 below.
pub(crate) fn require_version(ver: Version, minor: u32) -> ApiResult<()> {
    if ver.at_least(minor) {
        Ok(())
    } else {
        Err(ApiError::not_found_route())
    }
}

/// A JSON object body or 400.
pub(crate) fn expect_object(
    body: Option<serde_json::Value>,
    what: &str,
) -> ApiResult<serde_json::Map<String, serde_json::Value>> {
    match body {
        None => Ok(serde_json::Map::new()),
        Some(serde_json::Value::Object(m)) => Ok(m),
        Some(other) => Err(ApiError::invalid(format!(
            "Schema error for {what}: {} is not of type 'object'",
            pyjson::repr(&other)
        ))),
    }
}

/// The body of an action whose members are keyword arguments: anything but an object gives none
/// (so a missing argument is reported, as Ironic does).
pub(crate) fn kwargs_body(body: Option<serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    match body {
        Some(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// `args.string` on a body member.
pub(crate) fn body_string(name: &str, v: &serde_json::Value) -> ApiResult<Option<String>> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        other => Err(ApiError::invalid(format!("Expected string for {name}: {}", pyjson::repr(other)))),
    }
}

/// Refuses body members an action does not take ("Unexpected arguments: ...").
pub(crate) fn allow_members(m: &serde_json::Map<String, serde_json::Value>, allowed: &[&str]) -> ApiResult<()> {
    let unexpected: Vec<&str> = m.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Unexpected arguments: {}", unexpected.join(", "))))
    }
}

/// A required body member ("Missing mandatory parameter: x").
pub(crate) fn required<'a>(
    m: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> ApiResult<&'a serde_json::Value> {
    m.get(name).ok_or_else(|| ApiError::Model(Error::missing(format!("Missing mandatory parameter: {name}"))))
}
