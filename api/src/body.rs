//! Request bodies: content type, size limit, nesting depth, then JSON. Each failure is a 4xx
//! with Ironic's error body; nothing here can panic on client input.

use crate::error::{ApiError, ApiResult};
use axum::body::Body;
use axum::http::{header, HeaderMap};
use serde_json::Value;

/// Limits that apply to one request body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
}

fn too_large() -> ApiError {
    ApiError::status(413, "Request body is too large. Please contact the service administrator.")
}

/// Whether a media type is JSON (`application/json`, `application/*+json`).
fn is_json_media_type(ct: &str) -> bool {
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Whether JSON text nests deeper than `max_depth` (iterative scan, strings skipped).
pub(crate) fn too_deep(raw: &[u8], max_depth: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &c in raw {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Reads the raw body within the limit.
pub(crate) async fn read_bytes(headers: &HeaderMap, body: Body, limits: BodyLimits) -> ApiResult<Vec<u8>> {
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<u64>().ok()) {
        if len > limits.max_bytes as u64 {
            return Err(too_large());
        }
    }
    match axum::body::to_bytes(body, limits.max_bytes).await {
        Ok(b) => Ok(b.to_vec()),
        Err(_) => Err(too_large()),
    }
}

/// Parses a body already read: `None` when empty.
pub(crate) fn parse_json(headers: &HeaderMap, raw: &[u8], limits: BodyLimits) -> ApiResult<Option<Value>> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.trim().is_empty() && !is_json_media_type(ct) {
            return Err(ApiError::status(
                415,
                format!("The request content type {} is not supported; send application/json.", crate::pyjson::repr_str(ct)),
            ));
        }
    }
    if too_deep(raw, limits.max_depth) {
        return Err(ApiError::bad_request(
            "Request body JSON is nested too deeply. Please contact the service administrator.",
        ));
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(ApiError::bad_request(format!("Request body is not valid JSON: {e}"))),
    }
}

/// Reads and parses a JSON body: `None` when empty.
pub(crate) async fn read_json(headers: &HeaderMap, body: Body, limits: BodyLimits) -> ApiResult<Option<Value>> {
    let raw = read_bytes(headers, body, limits).await?;
    parse_json(headers, &raw, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_skips_strings() {
        assert!(!too_deep(br#"{"a": "[[[[[[[["}"#, 2));
        assert!(too_deep(b"[[[1]]]", 2));
        assert!(!too_deep(b"[[1],[2]]", 2));
        assert!(!too_deep(br#"{"a\"[[[": 1}"#, 1));
    }

    #[test]
    fn media_types() {
        assert!(is_json_media_type("application/json; charset=UTF-8"));
        assert!(is_json_media_type("application/json-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
    }
}
