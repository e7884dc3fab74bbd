//! The Redfish HTTP client: reqwest with rustls, per-request timeouts, bounded retries on
//! connection errors (and 5xx for reads), bounded response bodies, basic auth, TLS verification
//! per node (`redfish_verify_ca`: true = built-in roots, false = none, path = that CA bundle).
//!
//! Requests that change state, and reads of a node's system, carry `X-Ferric-Member` and (under a
//! lock) `X-Ferric-Lock-Generation` (real BMCs ignore them; Ferric's Jepsen fake BMC fences on
//! them and records who looked at which machine).

use crate::config::RedfishConfig;
use ferric_model::Error;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How to check the BMC's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verify {
    /// Verify against the built-in (webpki) roots.
    Yes,
    /// Accept any certificate.
    No,
    /// Verify against the PEM certificates in this file, or in the `*.pem`/`*.crt` files of
    /// this directory.
    Ca(String),
}

/// One BMC endpoint and its credentials (the password stays in memory only).
#[derive(Clone)]
pub struct Endpoint {
    /// `scheme://authority`, no path.
    pub base: String,
    /// The service root path, e.g. `/redfish/v1/`.
    pub root: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub verify: Verify,
    /// Node uuid, for messages.
    pub node: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &self.base)
            .field("root", &self.root)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "******"))
            .field("verify", &self.verify)
            .finish()
    }
}

/// Who is changing state (from the task's lock), sent as headers.
#[derive(Debug, Clone, Default)]
pub struct Fence {
    pub member: String,
    pub generation: Option<u64>,
}

/// An answer: status and JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

pub struct RedfishClient {
    cfg: RedfishConfig,
    clients: Mutex<HashMap<Verify, reqwest::Client>>,
    /// The only system of a BMC, found once when `redfish_system_id` is not set.
    systems: Mutex<HashMap<String, String>>,
}

fn op_error(ep: &Endpoint, msg: String) -> Error {
    Error::DriverOperationError {
        message: format!("Redfish request for node {} (BMC {}) failed: {msg}", ep.node, ep.base),
    }
}

fn load_ca(path: &str) -> Result<Vec<reqwest::Certificate>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("redfish_verify_ca {path}: {e}"))?;
    let files: Vec<std::path::PathBuf> = if meta.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("redfish_verify_ca {path}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "crt"))
            .take(256)
            .collect();
        v.sort();
        v
    } else {
        vec![path.into()]
    };
    let mut out = Vec::new();
    for f in files {
        let pem = std::fs::read(&f).map_err(|e| format!("redfish_verify_ca {}: {e}", f.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("redfish_verify_ca {}: not PEM certificates: {e}", f.display()))?;
        out.extend(certs);
    }
    if out.is_empty() {
        return Err(format!("redfish_verify_ca {path}: no certificate found"));
    }
    Ok(out)
}

/// The message of a Redfish error body (`error.message`, else the first extended message).
fn redfish_message(body: &Value) -> Option<String> {
    let e = body.get("error")?;
    let ext =
        e.get("@Message.ExtendedInfo").and_then(|x| x.get(0)).and_then(|m| m.get("Message")).and_then(Value::as_str);
    let m = e.get("message").and_then(Value::as_str);
    ext.or(m).map(|s| s.chars().take(300).collect())
}

impl RedfishClient {
    pub fn new(cfg: RedfishConfig) -> RedfishClient {
        RedfishClient { cfg, clients: Mutex::new(HashMap::new()), systems: Mutex::new(HashMap::new()) }
    }

    pub fn config(&self) -> &RedfishConfig {
        &self.cfg
    }

    fn http(&self, ep: &Endpoint) -> Result<reqwest::Client, Error> {
        if let Some(c) = self.clients.lock().unwrap_or_else(|p| p.into_inner()).get(&ep.verify) {
            return Ok(c.clone());
        }
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(self.cfg.connect_timeout_s.max(1)))
            .timeout(Duration::from_secs(self.cfg.request_timeout_s.max(1)))
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent("ferric-redfish/0.1");
        match &ep.verify {
            Verify::Yes => {}
            Verify::No => b = b.danger_accept_invalid_certs(true),
            Verify::Ca(path) => {
                b = b.tls_built_in_root_certs(false);
                for c in load_ca(path).map_err(|m| op_error(ep, m))? {
                    b = b.add_root_certificate(c);
                }
            }
        }
        let c = b.build().map_err(|e| op_error(ep, format!("cannot build the HTTP client: {e}")))?;
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).insert(ep.verify.clone(), c.clone());
        Ok(c)
    }

    /// Reads the body, refusing more than `max_response_bytes`.
    async fn read_body(&self, ep: &Endpoint, mut resp: reqwest::Response) -> Result<Vec<u8>, Error> {
        let max = self.cfg.max_response_bytes;
        let mut buf = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if buf.len() + c.len() > max {
                        return Err(op_error(ep, format!("answer larger than {max} bytes")));
                    }
                    buf.extend_from_slice(&c);
                }
                Ok(None) => return Ok(buf),
                Err(e) => return Err(op_error(ep, format!("reading the answer failed: {}", describe(&e)))),
            }
        }
    }

    /// One request to `path` (absolute path on the BMC) with bounded retries. `fence` is set on
    /// state-changing requests. Non-2xx answers are returned as errors, with the BMC's message.
    pub async fn request(
        &self,
        ep: &Endpoint,
        method: Method,
        path: &str,
        body: Option<&Value>,
        fence: Option<&Fence>,
    ) -> Result<Answer, Error> {
        let a = self.request_raw(ep, method, path, body, fence).await?;
        if a.status.is_success() {
            return Ok(a);
        }
        let detail = redfish_message(&a.body).map(|m| format!(": {m}")).unwrap_or_default();
        Err(match a.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => op_error(
                ep,
                format!(
                    "authentication failed (HTTP {}): check redfish_username and redfish_password",
                    a.status.as_u16()
                ),
            ),
            s => op_error(ep, format!("HTTP {} from {path}{detail}", s.as_u16())),
        })
    }

    /// Like `request`, but any HTTP status is returned (callers that treat some 4xx as data).
    pub async fn request_raw(
        &self,
        ep: &Endpoint,
        method: Method,
        path: &str,
        body: Option<&Value>,
        fence: Option<&Fence>,
    ) -> Result<Answer, Error> {
        let http = self.http(ep)?;
        let url = format!("{}{}", ep.base, path);
        let read_only = method == Method::GET;
        let attempts = self.cfg.connection_attempts.max(1);
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(self.cfg.connection_retry_interval_ms)).await;
            }
            let mut rb = http.request(method.clone(), &url).header("Accept", "application/json");
            if let Some(u) = &ep.username {
                rb = rb.basic_auth(u, ep.password.as_deref());
            }
            if let Some(b) = body {
                rb = rb.json(b);
            }
            if let Some(f) = fence {
                rb = rb.header("X-Ferric-Member", f.member.as_str());
                if let Some(g) = f.generation {
                    rb = rb.header("X-Ferric-Lock-Generation", g.to_string());
                }
            }
            match rb.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let bytes = self.read_body(ep, resp).await?;
                    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                        Value::Null
                    } else {
                        match serde_json::from_slice::<Value>(&bytes) {
                            Ok(v) => v,
                            Err(_) if !status.is_success() => Value::Null,
                            Err(e) => return Err(op_error(ep, format!("invalid JSON from {path}: {e}"))),
                        }
                    };
                    if status.is_server_error() && read_only && attempt + 1 < attempts {
                        last = format!("HTTP {}", status.as_u16());
                        continue;
                    }
                    return Ok(Answer { status, body });
                }
                Err(e) => {
                    last = describe(&e);
                    // A state change is retried only if it certainly never left.
                    if !(read_only || e.is_connect()) {
                        break;
                    }
                }
            }
        }
        Err(op_error(ep, format!("{method} {path}: {last} (after {attempts} attempt(s))")))
    }

    /// GET a resource as JSON.
    pub async fn get(&self, ep: &Endpoint, path: &str) -> Result<Value, Error> {
        Ok(self.request(ep, Method::GET, path, None, None).await?.body)
    }

    /// The system's path: `redfish_system_id` (a path, or an id under `Systems/`), else the
    /// BMC's only system.
    pub async fn system_path(&self, ep: &Endpoint, system_id: Option<&str>) -> Result<String, Error> {
        if let Some(id) = system_id {
            return Ok(if id.starts_with('/') { id.to_string() } else { format!("{}Systems/{id}", ep.root) });
        }
        let key = format!("{}{}", ep.base, ep.root);
        if let Some(p) = self.systems.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(p.clone());
        }
        let col = self.get(ep, &format!("{}Systems", ep.root)).await?;
        let members: Vec<&str> = col
            .get("Members")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|m| m.get("@odata.id").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        match members.as_slice() {
            [one] => {
                let p = one.to_string();
                let mut m = self.systems.lock().unwrap_or_else(|p| p.into_inner());
                if m.len() < 10_000 {
                    m.insert(key, p.clone());
                }
                Ok(p)
            }
            other => Err(Error::invalid(format!(
                "The BMC of node {} manages {} systems: set driver_info/redfish_system_id",
                ep.node,
                other.len()
            ))),
        }
    }
}

/// A reqwest error without the URL's secrets (reqwest never puts basic-auth credentials into
/// URLs; the chain of causes says what went wrong: refused, timed out, TLS).
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
        depth += 1;
        if depth >= 4 {
            break;
        }
    }
    s
}
