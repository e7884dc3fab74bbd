//! Drives the API router in process (no sockets) for the tests.

#![allow(dead_code)]

use crate::support::MemBackend;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use ferric_api::ApiConfig;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

pub struct Api {
    pub router: axum::Router,
    pub backend: Arc<MemBackend>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap_or("").to_string())
    }

    /// The decoded inner error document (`faultstring` etc.).
    pub fn error(&self) -> Value {
        let outer = self.json();
        let inner = outer["error_message"].as_str().unwrap_or_else(|| panic!("no error_message: {}", self.text()));
        serde_json::from_str(inner).unwrap_or_else(|_| panic!("error_message is not JSON: {inner}"))
    }

    pub fn faultstring(&self) -> String {
        self.error()["faultstring"].as_str().unwrap_or_default().to_string()
    }
}

impl Api {
    pub fn new() -> Api {
        Self::with(ApiConfig::default())
    }

    pub fn with(cfg: ApiConfig) -> Api {
        let backend = Arc::new(MemBackend::new());
        let router = ferric_api::router(&cfg, backend.clone()).expect("router");
        Api { router, backend }
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Resp {
        let mut b = Request::builder().method(method).uri(path).header("host", "127.0.0.1:6385");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(body.map(Body::from).unwrap_or_else(Body::empty)).expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body").to_vec();
        Resp { status, headers, body }
    }

    fn ver_headers(ver: &str) -> Vec<(&str, &str)> {
        let mut h = vec![("content-type", "application/json")];
        if !ver.is_empty() {
            h.push(("x-openstack-ironic-api-version", ver));
        }
        h
    }

    pub async fn get(&self, path: &str, ver: &str) -> Resp {
        self.send("GET", path, &Self::ver_headers(ver), None).await
    }

    pub async fn delete(&self, path: &str, ver: &str) -> Resp {
        self.send("DELETE", path, &Self::ver_headers(ver), None).await
    }

    pub async fn with_body(&self, method: &str, path: &str, ver: &str, body: Value) -> Resp {
        self.send(method, path, &Self::ver_headers(ver), Some(serde_json::to_vec(&body).unwrap())).await
    }

    pub async fn post(&self, path: &str, ver: &str, body: Value) -> Resp {
        self.with_body("POST", path, ver, body).await
    }

    pub async fn put(&self, path: &str, ver: &str, body: Value) -> Resp {
        self.with_body("PUT", path, ver, body).await
    }

    pub async fn patch(&self, path: &str, ver: &str, body: Value) -> Resp {
        self.with_body("PATCH", path, ver, body).await
    }

    /// Creates a fake-hardware node at the latest version and returns its JSON.
    pub async fn node(&self, name: &str) -> Value {
        let r = self.post("/v1/nodes", "latest", serde_json::json!({"driver": "fake-hardware", "name": name})).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }

    /// Moves a node through a provision verb at the latest version.
    pub async fn provision(&self, node: &str, target: &str) -> Resp {
        self.put(&format!("/v1/nodes/{node}/states/provision"), "latest", serde_json::json!({"target": target})).await
    }
}
