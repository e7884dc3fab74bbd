//! The Ferric REST API as the harness drives it: Ironic v1 under `/v1` with
//! `X-OpenStack-Ironic-API-Version: latest`, and `/cluster` for membership. Plus the one place
//! that turns an HTTP result into a history outcome.

use super::{CallError, HttpClient, HttpResponse};
use crate::history::OpKind;
use serde_json::{json, Value};
use std::net::SocketAddr;

pub const VERSION_HEADER: &str = "X-OpenStack-Ironic-API-Version";

/// A completed call as the history records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub kind: OpKind,
    /// Status and body (JSON when it parses).
    pub status: Option<u16>,
    pub body: Value,
    pub error: Option<String>,
}

/// Classifies a call. Writes: 2xx `ok`; 4xx `fail` (a definite refusal: a failed JSON-patch
/// `test` is 409/400, a verb invalid in the state is 400, NodeLocked is 409); 5xx and anything
/// after the connection was made `info` (the write may have been proposed); a connection that was
/// never made `fail`. Reads (`read_only`) cannot change state, so every non-2xx is `fail`.
pub fn classify(result: &Result<HttpResponse, CallError>, read_only: bool) -> Outcome {
    match result {
        Ok(r) => {
            let body = r
                .json()
                .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&r.body).into_owned()));
            let kind = match r.status {
                200..=299 => OpKind::Ok,
                _ if read_only => OpKind::Fail,
                400..=499 if r.status != 408 => OpKind::Fail,
                _ => OpKind::Info,
            };
            let error = (kind != OpKind::Ok)
                .then(|| format!("HTTP {}: {}", r.status, error_message(&body)));
            Outcome {
                kind,
                status: Some(r.status),
                body,
                error,
            }
        }
        Err(e @ CallError::NotSent(_)) => Outcome {
            kind: OpKind::Fail,
            status: None,
            body: Value::Null,
            error: Some(e.to_string()),
        },
        Err(e @ CallError::Ambiguous(_)) => Outcome {
            kind: if read_only {
                OpKind::Fail
            } else {
                OpKind::Info
            },
            status: None,
            body: Value::Null,
            error: Some(e.to_string()),
        },
    }
}

/// Ironic's error body nests a JSON string: `{"error_message": "{\"faultstring\": …}"}`.
pub fn error_message(body: &Value) -> String {
    let Some(inner) = body.get("error_message") else {
        return body.to_string().chars().take(200).collect();
    };
    let text = inner
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| inner.to_string());
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => v
            .get("faultstring")
            .or_else(|| v.get("description"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(text),
        Err(_) => text,
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApiClient {
    pub http: HttpClient,
}

impl ApiClient {
    pub fn new(http: HttpClient) -> ApiClient {
        ApiClient { http }
    }

    pub async fn call(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<HttpResponse, CallError> {
        let headers = [(VERSION_HEADER, "latest"), ("accept", "application/json")];
        self.http
            .request(
                addr,
                method,
                path,
                &headers,
                body.map(|b| b.to_string().into_bytes()),
            )
            .await
    }

    /// `GET /cluster/status`.
    pub async fn cluster_status(&self, addr: SocketAddr) -> Result<HttpResponse, CallError> {
        self.call(addr, "GET", "/cluster/status", None).await
    }

    /// `POST /cluster/members {"name","peer","api"}`.
    pub async fn add_member(
        &self,
        addr: SocketAddr,
        name: &str,
        peer: &str,
        api: &str,
    ) -> Result<HttpResponse, CallError> {
        self.call(
            addr,
            "POST",
            "/cluster/members",
            Some(&json!({"name": name, "peer": peer, "api": api})),
        )
        .await
    }

    /// `DELETE /cluster/members/{name}`.
    pub async fn remove_member(
        &self,
        addr: SocketAddr,
        name: &str,
    ) -> Result<HttpResponse, CallError> {
        self.call(addr, "DELETE", &format!("/cluster/members/{name}"), None)
            .await
    }

    pub async fn create_node(
        &self,
        addr: SocketAddr,
        node: &Value,
    ) -> Result<HttpResponse, CallError> {
        self.call(addr, "POST", "/v1/nodes", Some(node)).await
    }

    pub async fn get_node(&self, addr: SocketAddr, ident: &str) -> Result<HttpResponse, CallError> {
        self.call(addr, "GET", &format!("/v1/nodes/{ident}"), None)
            .await
    }

    pub async fn list_nodes(&self, addr: SocketAddr) -> Result<HttpResponse, CallError> {
        self.call(addr, "GET", "/v1/nodes?fields=uuid,name&limit=1000", None)
            .await
    }

    pub async fn patch_node(
        &self,
        addr: SocketAddr,
        ident: &str,
        patch: &Value,
    ) -> Result<HttpResponse, CallError> {
        self.call(addr, "PATCH", &format!("/v1/nodes/{ident}"), Some(patch))
            .await
    }

    /// `PUT /v1/nodes/{id}/states/provision {"target": verb}`.
    pub async fn set_provision(
        &self,
        addr: SocketAddr,
        ident: &str,
        target: &str,
    ) -> Result<HttpResponse, CallError> {
        self.set_state(addr, ident, "provision", target).await
    }

    /// `PUT /v1/nodes/{id}/states/power {"target": "power on"|"power off"|"rebooting"}`.
    pub async fn set_power(
        &self,
        addr: SocketAddr,
        ident: &str,
        target: &str,
    ) -> Result<HttpResponse, CallError> {
        self.set_state(addr, ident, "power", target).await
    }

    async fn set_state(
        &self,
        addr: SocketAddr,
        ident: &str,
        which: &str,
        target: &str,
    ) -> Result<HttpResponse, CallError> {
        self.call(
            addr,
            "PUT",
            &format!("/v1/nodes/{ident}/states/{which}"),
            Some(&json!({"target": target})),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Result<HttpResponse, CallError> {
        Ok(HttpResponse {
            status,
            headers: Default::default(),
            body: bytes::Bytes::from(body.to_string()),
        })
    }

    #[test]
    fn classification_follows_jepsen_rules() {
        assert_eq!(classify(&resp(200, "{}"), false).kind, OpKind::Ok);
        let conflict = r#"{"error_message": "{\"faultcode\": \"Client\", \"faultstring\": \"test failed\", \"debuginfo\": null}"}"#;
        let o = classify(&resp(409, conflict), false);
        assert_eq!(o.kind, OpKind::Fail);
        assert_eq!(o.error.as_deref(), Some("HTTP 409: test failed"));
        assert_eq!(classify(&resp(400, "{}"), false).kind, OpKind::Fail);
        assert_eq!(classify(&resp(503, "{}"), false).kind, OpKind::Info);
        assert_eq!(classify(&resp(503, "{}"), true).kind, OpKind::Fail);
        assert_eq!(
            classify(&Err(CallError::NotSent("refused".into())), false).kind,
            OpKind::Fail
        );
        assert_eq!(
            classify(&Err(CallError::Ambiguous("timeout".into())), false).kind,
            OpKind::Info
        );
        assert_eq!(
            classify(&Err(CallError::Ambiguous("timeout".into())), true).kind,
            OpKind::Fail
        );
    }
}
