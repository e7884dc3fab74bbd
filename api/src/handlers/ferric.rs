//! Ferric's own endpoints, outside Ironic's `/v1`: health, metrics and cluster membership.

use super::json;
use crate::app::App;
use crate::body;
use crate::error::{ApiError, ApiResult};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use ferric_model::backend::AddMember;

fn text(body: String, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(crate) async fn healthz() -> Response {
    text("ok".into(), "text/plain; charset=utf-8")
}

pub(crate) async fn metrics(State(app): State<App>) -> Response {
    text(app.backend.metrics(), "text/plain; version=0.0.4; charset=utf-8")
}

fn enabled(app: &App) -> ApiResult<()> {
    if app.cfg.enable_cluster_endpoints {
        Ok(())
    } else {
        Err(ApiError::not_found_route())
    }
}

pub(crate) async fn cluster_status(State(app): State<App>) -> ApiResult<Response> {
    enabled(&app)?;
    let s = app.backend.cluster_status().await?;
    Ok(json(200, &s))
}

pub(crate) async fn add_member(State(app): State<App>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    enabled(&app)?;
    let v = body::read_json(&headers, body, app.limits()).await?.unwrap_or(serde_json::Value::Null);
    let req: AddMember = serde_json::from_value(v)
        .map_err(|e| ApiError::invalid(format!("Invalid member: {e}; expected {{\"name\", \"peer\", \"api\"}}")))?;
    if req.name.is_empty() || req.peer.is_empty() || req.api.is_empty() {
        return Err(ApiError::invalid("Invalid member: name, peer and api must not be empty"));
    }
    let s = app.backend.add_member(req).await?;
    Ok(json(200, &s))
}

pub(crate) async fn remove_member(State(app): State<App>, Path(name): Path<String>) -> ApiResult<Response> {
    enabled(&app)?;
    let s = app.backend.remove_member(name).await?;
    Ok(json(200, &s))
}
