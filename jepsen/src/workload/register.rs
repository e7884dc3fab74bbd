//! Register workload: compare-and-set on node `extra` fields with JSON patch. Values are unique
//! integers (so the checker can prune unobserved `info` writes); a key is retired after
//! `MAX_OPS_PER_KEY` operations (the next field is used) to keep each key's search small.

use super::{perform, Ctx, Fixtures};
use crate::history::Worker;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

pub const MAX_OPS_PER_KEY: u64 = 200;

/// Shared between workers: unique values and per-node op counts (for key rotation).
#[derive(Debug, Default)]
pub struct RegisterShared {
    next_value: AtomicI64,
    ops: Vec<AtomicU64>,
}

impl RegisterShared {
    pub fn new(nodes: usize) -> RegisterShared {
        RegisterShared {
            next_value: AtomicI64::new(1),
            ops: (0..nodes).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The field of node `i` in use now.
fn field(shared: &RegisterShared, i: usize) -> String {
    format!(
        "k{}",
        shared.ops[i].fetch_add(1, Ordering::Relaxed) / MAX_OPS_PER_KEY
    )
}

pub async fn step(
    ctx: &Ctx,
    fx: &Fixtures,
    shared: &Arc<RegisterShared>,
    worker: &mut Worker,
    member: usize,
    rng: &mut ChaCha8Rng,
    seen: &mut HashMap<String, i64>,
) {
    if fx.register_nodes.is_empty() {
        return;
    }
    let i = rng.gen_range(0..fx.register_nodes.len());
    let uuid = fx.register_nodes[i].clone();
    let k = field(shared, i);
    let key = format!("{uuid}/{k}");
    let path = format!("/extra/{k}");
    let choice = rng.gen_range(0..3);
    match (choice, seen.get(&key).copied()) {
        (0, _) => {
            let v = read_key(ctx, worker, member, &uuid, &k).await;
            if let Some(n) = v.as_i64() {
                seen.insert(key, n);
            }
        }
        (2, Some(old)) => {
            let new = shared.next_value.fetch_add(1, Ordering::Relaxed);
            let patch = json!([{"op": "test", "path": path, "value": old}, {"op": "replace", "path": path, "value": new}]);
            let (kind, _) = perform(
                ctx,
                worker,
                member,
                "cas",
                Some(&key),
                json!([old, new]),
                false,
                move |api, addr| async move { api.patch_node(addr, &uuid, &patch).await },
                move |_| json!([old, new]),
            )
            .await;
            if kind == crate::history::OpKind::Ok {
                seen.insert(key, new);
            }
        }
        _ => {
            let v = shared.next_value.fetch_add(1, Ordering::Relaxed);
            let patch = json!([{"op": "add", "path": path, "value": v}]);
            let (kind, _) = perform(
                ctx,
                worker,
                member,
                "write",
                Some(&key),
                json!(v),
                false,
                move |api, addr| async move { api.patch_node(addr, &uuid, &patch).await },
                move |_| json!(v),
            )
            .await;
            if kind == crate::history::OpKind::Ok {
                seen.insert(key, v);
            }
        }
    }
}

/// A final read of every key that was used, from member `member`.
pub async fn final_read(
    ctx: &Ctx,
    fx: &Fixtures,
    shared: &RegisterShared,
    worker: &mut Worker,
    member: usize,
) {
    for (i, uuid) in fx.register_nodes.iter().enumerate() {
        let used = shared.ops[i].load(Ordering::Relaxed);
        for n in 0..used.div_ceil(MAX_OPS_PER_KEY).max(1) {
            read_key(ctx, worker, member, uuid, &format!("k{n}")).await;
        }
    }
}

/// A read of register `k` of node `uuid` (its `extra` field), recorded as key `uuid/k`.
async fn read_key(ctx: &Ctx, worker: &mut Worker, member: usize, uuid: &str, k: &str) -> Value {
    let (u, k) = (uuid.to_string(), k.to_string());
    let key = format!("{u}/{k}");
    let (_, v) = perform(
        ctx,
        worker,
        member,
        "read",
        Some(&key),
        Value::Null,
        true,
        move |api, addr| async move { api.get_node(addr, &u).await },
        move |r| {
            r.json()
                .and_then(|b| b["extra"].get(&k).cloned())
                .unwrap_or(Value::Null)
        },
    )
    .await;
    v
}
