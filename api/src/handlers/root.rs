//! Version discovery: `GET /` and `GET /v1`.

use super::json;
use crate::app::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::links;
use crate::version::Version;
use axum::response::Response;
use serde_json::{json, Map, Value};

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v1",
        "links": [links::link("self", base, "v1", "", true)],
        "status": "CURRENT",
        "min_version": Version::MIN.header_value(),
        "version": Version::MAX.header_value(),
    })
}

pub(crate) async fn root(ctx: Ctx) -> Response {
    let v = version_doc(&ctx.base);
    json(
        200,
        &json!({
            "name": "OpenStack Ironic API",
            "description": "Ironic is an OpenStack project which enables the provision and management of baremetal machines.",
            "default_version": v,
            "versions": [v],
        }),
    )
}

/// Top-level resources and the version that made them visible in `GET /v1`.
const VERSIONED: [(&str, u32); 12] = [
    ("portgroups", 23),
    ("volume", 32),
    ("lookup", 22),
    ("heartbeat", 22),
    ("conductors", 49),
    ("allocations", 52),
    ("events", 54),
    ("deploy_templates", 55),
    ("shards", 82),
    ("runbooks", 92),
    ("inspection_rules", 96),
    ("continue_inspection", 84),
];

pub(crate) async fn v1(ctx: Ctx) -> Response {
    let base: &str = &ctx.base;
    let mut o = Map::new();
    o.insert("id".into(), json!("v1"));
    o.insert(
        "links".into(),
        json!([
            links::link("self", base, "v1", "", true),
            {"href": "https://docs.openstack.org//ironic/latest/contributor//webapi.html", "rel": "describedby", "type": "text/html"}
        ]),
    );
    o.insert("media_types".into(), json!({"base": "application/json", "type": "application/vnd.openstack.ironic.v1+json"}));
    for r in ["chassis", "nodes", "ports", "drivers"] {
        o.insert(r.into(), links::pair(base, r, ""));
    }
    o.insert("version".into(), version_doc(base));
    for (r, min) in VERSIONED {
        if ctx.ver.at_least(min) {
            o.insert(r.into(), links::pair(base, r, ""));
        }
    }
    json(200, &Value::Object(o))
}

/// The fallback of the router: an unknown path.
pub(crate) async fn not_found() -> ApiResult<Response> {
    Err(ApiError::not_found_route())
}
