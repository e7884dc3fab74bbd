//! The one mapping from errors to Ironic's HTTP answers.
//!
//! Controller errors carry `{"error_message": "{\"faultcode\": ..., \"faultstring\": ...,
//! \"debuginfo\": null}"}` (the inner object is a JSON document encoded as a string, as Ironic's
//! `ParsableErrorMiddleware` does); framework errors (unknown path, version 406) carry
//! `{"code", "title", "description"}` inside `error_message`; the basic-auth middleware answers
//! `{"error": {"message", "code"}}`. The status of a domain error is
//! `ferric_model::Error::http_status()`.

use crate::pyjson;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferric_model::Error;

/// Marks a response whose body already has Ironic's error shape (the pipeline leaves it alone).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rendered;

/// Marks a response that must not carry the version headers (Ironic loses them on routing 404s
/// and on 401s).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoVersionHeaders;

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// A domain error (status from `http_status()`).
    Model(Error),
    /// Ironic's `ClientSideError` with an explicit status code.
    Status { status: u16, message: String },
    /// A framework-level error (`code`/`title`/`description` body).
    Framework { status: u16, description: String, version_headers: bool },
    /// An answer of the basic-auth layer (`{"error": {...}}` body).
    Auth { status: u16, message: String },
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        // Internal coordination errors never reach a client as such: by the time they get here
        // the bounded internal retries are exhausted.
        let e = match e {
            Error::RevisionMismatch { kind, ident, .. } => Error::Conflict {
                message: format!("{kind} {ident} was modified concurrently by other requests; please retry."),
            },
            Error::StaleGeneration { node, holder, .. } => Error::NodeLocked { node, host: holder },
            Error::NotOwner { node, .. } => Error::TemporaryFailure {
                message: format!("The conductor responsible for node {node} is changing; please retry."),
            },
            other => other,
        };
        ApiError::Model(e)
    }
}

impl ApiError {
    pub fn status(status: u16, message: impl Into<String>) -> ApiError {
        ApiError::Status { status, message: message.into() }
    }

    /// 400 with Ironic's `ClientSideError` default code.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::status(400, message)
    }

    /// 400 `InvalidParameterValue`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::Model(Error::invalid(message))
    }

    /// 406 `NotAcceptable` ("Request not acceptable.").
    pub fn not_acceptable() -> ApiError {
        ApiError::Model(Error::NotAcceptable)
    }

    /// 406 with a specific message.
    pub fn not_acceptable_msg(message: impl Into<String>) -> ApiError {
        ApiError::status(406, message)
    }

    /// 406 "Request not acceptable. The minimal required API version should be 1.N".
    pub fn needs_version(minor: u32) -> ApiError {
        ApiError::status(406, format!("Request not acceptable. The minimal required API version should be 1.{minor}"))
    }

    /// A routing 404 (unknown path, or an endpoint newer than the requested version).
    pub fn not_found_route() -> ApiError {
        ApiError::Framework { status: 404, description: String::new(), version_headers: false }
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::status(409, message)
    }

    pub fn http_status(&self) -> u16 {
        match self {
            ApiError::Model(e) => e.http_status(),
            ApiError::Status { status, .. } | ApiError::Framework { status, .. } | ApiError::Auth { status, .. } => *status,
        }
    }

    /// The message the client sees.
    pub fn message(&self) -> String {
        match self {
            ApiError::Model(e) => e.to_string(),
            ApiError::Status { message, .. } | ApiError::Auth { message, .. } => message.clone(),
            ApiError::Framework { description, .. } => description.clone(),
        }
    }
}

/// Reason phrase of a status, as webob names it in framework errors.
pub(crate) fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// `{"error_message": "<inner>"}` with the inner document string-encoded.
fn wrap(inner: &str) -> String {
    let mut outer = serde_json::Map::new();
    outer.insert("error_message".into(), serde_json::Value::String(inner.to_string()));
    pyjson::to_string(&outer)
}

/// The body of a controller error.
pub(crate) fn fault_body(status: u16, message: &str) -> String {
    let code = if (400..500).contains(&status) { "Client" } else { "Server" };
    let inner = format!(
        "{{\"faultcode\": {}, \"faultstring\": {}, \"debuginfo\": null}}",
        pyjson::to_string(code),
        pyjson::to_string(message)
    );
    wrap(&inner)
}

/// The body of a framework error.
pub(crate) fn framework_body(status: u16, description: &str) -> String {
    let inner = format!(
        "{{\"code\": {}, \"title\": {}, \"description\": {}}}",
        status,
        pyjson::to_string(title(status)),
        pyjson::to_string(description)
    );
    wrap(&inner)
}

/// A JSON response with a pre-serialised body.
pub(crate) fn json_response(status: u16, body: String) -> Response {
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.http_status();
        let mut resp = match &self {
            ApiError::Model(e) => {
                if status >= 500 {
                    tracing::error!(error = e.kind(), status, "request failed: {e}");
                } else {
                    // Client errors are not logged with their message: it may echo request data.
                    tracing::debug!(error = e.kind(), status, "client error");
                }
                json_response(status, fault_body(status, &e.to_string()))
            }
            ApiError::Status { message, .. } => {
                tracing::debug!(status, "client error");
                json_response(status, fault_body(status, message))
            }
            ApiError::Framework { description, version_headers, .. } => {
                let mut r = json_response(status, framework_body(status, description));
                if !version_headers {
                    r.extensions_mut().insert(NoVersionHeaders);
                }
                r
            }
            ApiError::Auth { message, .. } => {
                let body = pyjson_compact_auth(status, message);
                let mut r = json_response(status, body);
                if status == 401 {
                    r.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Baremetal API\""));
                }
                r.extensions_mut().insert(NoVersionHeaders);
                r
            }
        };
        resp.extensions_mut().insert(Rendered);
        resp
    }
}

/// webob's compact `json_body` of the basic-auth middleware.
fn pyjson_compact_auth(status: u16, message: &str) -> String {
    serde_json::json!({"error": {"message": message, "code": status}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_ironic() {
        assert_eq!(
            fault_body(404, "Node x could not be found."),
            r#"{"error_message": "{\"faultcode\": \"Client\", \"faultstring\": \"Node x could not be found.\", \"debuginfo\": null}"}"#
        );
        assert_eq!(
            framework_body(404, ""),
            r#"{"error_message": "{\"code\": 404, \"title\": \"Not Found\", \"description\": \"\"}"}"#
        );
        assert_eq!(pyjson_compact_auth(401, "Authorization required"), r#"{"error":{"message":"Authorization required","code":401}}"#);
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let e: ApiError = Error::RevisionMismatch { kind: "Node".into(), ident: "u".into(), expected: 1, current: 2 }.into();
        assert_eq!(e.http_status(), 409);
        assert!(!e.message().contains("revision"));
        let e: ApiError = Error::NotOwner { member: "m".into(), node: "u".into(), ring_version: 3 }.into();
        assert_eq!(e.http_status(), 503);
    }
}
