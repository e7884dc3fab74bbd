//! What happens to every request before and after its handler, in Ironic's order: a request id,
//! the path routed to `/v1` when it lacks a version, authentication (public routes excepted),
//! microversion negotiation (406 before routing), and on the way out the request-id and version
//! headers, and Ironic's error body for answers the framework produced itself (404, 405, ...).

use crate::app::{App, Ctx};
use crate::error::{framework_body, json_response, fault_body, NoVersionHeaders, Rendered};
use crate::version::{self, Version, VersionError};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

/// Top-level path segments that are Ferric's own (not Ironic's, not under `/v1`).
const FERRIC_ROOTS: [&str; 3] = ["cluster", "healthz", "metrics"];

/// Ironic's routing of paths: trailing slashes dropped, a path without `/v1` goes to `/v1`.
pub(crate) fn normalize(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    let first = trimmed.trim_start_matches('/').split('/').next().unwrap_or("");
    if first == "v1" || FERRIC_ROOTS.contains(&first) {
        trimmed.to_string()
    } else {
        format!("/v1{trimmed}")
    }
}

/// Routes the ramdisk and discovery endpoints serve without credentials.
fn is_public(path: &str) -> bool {
    path == "/"
        || path == "/v1"
        || path == "/v1/lookup"
        || path == "/v1/continue_inspection"
        || path.starts_with("/v1/heartbeat/")
        || path == "/healthz"
}

fn is_ironic(path: &str) -> bool {
    path == "/" || path == "/v1" || path.starts_with("/v1/")
}

/// The base URL for links: the configured public endpoint, else the Host the client used.
fn base_url(app: &App, req: &Request) -> Arc<str> {
    if let Some(p) = &app.cfg.public_endpoint {
        return Arc::from(p.trim_end_matches('/'));
    }
    let scheme = if app.cfg.tls_enabled() { "https" } else { "http" };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c)))
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| app.cfg.listen.to_string());
    Arc::from(format!("{scheme}://{host}"))
}

fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn range_headers(resp: &mut Response) {
    set(resp, version::HEADER_MIN, &Version::MIN.header_value());
    set(resp, version::HEADER_MAX, &Version::MAX.header_value());
}

/// Gives a framework-produced error Ironic's body (`Rendered` marks ours). A method the
/// version documents (`/`, `/v1`) do not take is refused by their controller (fault body, version
/// headers); elsewhere by the framework (`code`/`title` body, `Allow`, no version headers).
fn finish_error(resp: Response, path: &str) -> Response {
    if resp.status().as_u16() < 400 || resp.extensions().get::<Rendered>().is_some() {
        return resp;
    }
    let status = resp.status().as_u16();
    let (mut parts, _) = resp.into_parts();
    let controller_405 = status == 405 && (path == "/" || path == "/v1");
    let body = if controller_405 {
        fault_body(405, "The server could not comply with the request since it is either malformed or otherwise incorrect.")
    } else {
        framework_body(status, "")
    };
    let mut out = json_response(status, body);
    // Keep framework headers such as Allow; the body and its length are new.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (k, v) in parts.headers.iter() {
        out.headers_mut().insert(k.clone(), v.clone());
    }
    if !controller_405 {
        out.extensions_mut().insert(NoVersionHeaders);
    }
    out.extensions_mut().insert(Rendered);
    out
}

pub(crate) async fn pipeline(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    let method = req.method().clone();

    let path = normalize(req.uri().path());
    if path != req.uri().path() {
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }

    let resp = 'answer: {
        if let Some(auth) = &app.auth {
            if !is_public(&path) {
                if let Err(e) = auth.authenticate(req.headers()).await {
                    break 'answer e.into_response();
                }
            }
        }
        let ver = if is_ironic(&path) {
            match version::negotiate(req.headers()) {
                Ok(v) => Some(v),
                Err(e) => {
                    let mut r = json_response(406, framework_body(406, &e.message()));
                    if matches!(e, VersionError::OutOfRange(_)) {
                        range_headers(&mut r);
                    }
                    r.extensions_mut().insert(NoVersionHeaders);
                    r.extensions_mut().insert(Rendered);
                    break 'answer r;
                }
            }
        } else {
            None
        };
        let base = base_url(&app, &req);
        req.extensions_mut().insert(Ctx { ver: ver.unwrap_or(Version::MIN), base });
        let mut r = finish_error(next.run(req).await, &path);
        if let Some(v) = ver {
            if r.extensions().get::<NoVersionHeaders>().is_none() {
                range_headers(&mut r);
                set(&mut r, version::HEADER, &v.header_value());
            }
        }
        r
    };
    let mut resp = resp;
    set(&mut resp, "openstack-request-id", &request_id);
    set(&mut resp, "x-openstack-request-id", &request_id);
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "api request"
    );
    resp
}

/// Routes whose handlers read (and check) their own query parameters; `*` is any method.
const QUERY_ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/nodes"),
    ("GET", "/v1/nodes/detail"),
    ("GET", "/v1/nodes/validate"),
    ("GET", "/v1/nodes/{node}"),
    ("PATCH", "/v1/nodes/{node}"),
    ("PUT", "/v1/nodes/{node}/maintenance"),
    ("GET", "/v1/nodes/{node}/validate"),
    ("GET", "/v1/nodes/{node}/states"),
    ("*", "/v1/nodes/{node}/vendor_passthru"),
    ("GET", "/v1/nodes/{node}/ports"),
    ("GET", "/v1/nodes/{node}/ports/detail"),
    ("GET", "/v1/nodes/{node}/portgroups"),
    ("GET", "/v1/nodes/{node}/portgroups/detail"),
    ("GET", "/v1/ports"),
    ("GET", "/v1/ports/detail"),
    ("GET", "/v1/ports/{port}"),
    ("GET", "/v1/portgroups"),
    ("GET", "/v1/portgroups/detail"),
    ("GET", "/v1/portgroups/{pg}"),
    ("GET", "/v1/portgroups/{pg}/ports"),
    ("GET", "/v1/portgroups/{pg}/ports/detail"),
    ("GET", "/v1/chassis"),
    ("GET", "/v1/chassis/detail"),
    ("GET", "/v1/chassis/{uuid}"),
    ("GET", "/v1/chassis/{uuid}/nodes"),
    ("GET", "/v1/chassis/{uuid}/nodes/detail"),
    ("GET", "/v1/drivers"),
    ("GET", "/v1/drivers/{driver}"),
    ("*", "/v1/drivers/{driver}/vendor_passthru"),
    ("GET", "/v1/conductors"),
    ("GET", "/v1/conductors/{hostname}"),
    ("GET", "/v1/lookup"),
];

/// Refuses query parameters on endpoints that take none, as Ironic's argument validation does
/// ("Unexpected arguments: ...").
pub(crate) async fn query_guard(matched: Option<axum::extract::MatchedPath>, req: Request, next: Next) -> Response {
    if let (Some(q), Some(m)) = (req.uri().query(), matched) {
        let method = if req.method() == axum::http::Method::HEAD { "GET" } else { req.method().as_str() };
        let takes = QUERY_ROUTES.iter().any(|(mm, p)| *p == m.as_str() && (*mm == "*" || *mm == method));
        if !takes {
            let parsed = crate::params::Query::parse(Some(q));
            if let Err(e) = parsed.allow(&[]) {
                return e.into_response();
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_ironic() {
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("/v1/"), "/v1");
        assert_eq!(normalize("/nodes"), "/v1/nodes");
        assert_eq!(normalize("/nodes/"), "/v1/nodes");
        assert_eq!(normalize("/v1/nodes/x/"), "/v1/nodes/x");
        assert_eq!(normalize("/cluster/status"), "/cluster/status");
        assert_eq!(normalize("/healthz"), "/healthz");
        assert!(is_public("/v1/heartbeat/abc"));
        assert!(!is_public("/v1/nodes"));
    }
}
