//! Set workload: creating a node is adding its name to a grow-only set; listing nodes reads the
//! set. An acknowledged create must never disappear (the lost-ack checker). A read is recorded as
//! ranges of the names' numbers (`history::ElemSet`), not as the full list.

use super::{perform, Ctx};
use crate::client::{ApiClient, CallError, HttpResponse};
use crate::history::{ElemSet, Worker, SET_PREFIX};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Names are `jepsen-set-<n>`: the history records a read as ranges of `n`.
pub const PREFIX: &str = SET_PREFIX;
const KEY: &str = "nodes";
/// Pages followed at most when listing (1000 nodes a page).
const MAX_PAGES: usize = 50;

pub async fn add(ctx: &Ctx, next: &AtomicU64, worker: &mut Worker, member: usize) {
    let name = format!("{PREFIX}{}", next.fetch_add(1, Ordering::Relaxed));
    let body = json!({"name": name, "driver": "fake-hardware"});
    let n2 = name.clone();
    perform(
        ctx,
        worker,
        member,
        "add",
        Some(KEY),
        json!(name),
        false,
        move |api, addr| async move { api.create_node(addr, &body).await },
        move |_| json!(n2),
    )
    .await;
}

/// Lists every node, following `next` links, as one response whose body is the set of names in
/// the history's compact form (`ElemSet`).
async fn list_all(api: ApiClient, addr: SocketAddr) -> Result<HttpResponse, CallError> {
    let mut names = ElemSet::new();
    let mut path = "/v1/nodes?fields=name&limit=1000".to_string();
    let mut last = None;
    for _ in 0..MAX_PAGES {
        let r = api.call(addr, "GET", &path, None).await?;
        if r.status != 200 {
            return Ok(r);
        }
        let body = r.json().unwrap_or(Value::Null);
        for name in body["nodes"].as_array().into_iter().flatten().filter_map(|n| n["name"].as_str()) {
            if name.starts_with(PREFIX) {
                names.insert(name);
            }
        }
        last = Some(r);
        match body["next"].as_str() {
            // `next` is an absolute URL: keep its path and query.
            Some(next) => {
                path = next
                    .find("/v1/")
                    .map(|i| next[i..].to_string())
                    .unwrap_or_default()
            }
            None => break,
        }
        if path.is_empty() {
            break;
        }
    }
    let mut r = last.ok_or_else(|| CallError::NotSent("no page".into()))?;
    r.body = bytes::Bytes::from(names.to_value().to_string());
    Ok(r)
}

pub async fn read(ctx: &Ctx, worker: &mut Worker, member: usize) {
    perform(
        ctx,
        worker,
        member,
        "read-set",
        Some(KEY),
        Value::Null,
        true,
        list_all,
        |r| r.json().unwrap_or(Value::Null),
    )
    .await;
}
