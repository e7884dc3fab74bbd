//! Provision workload: a random walk of API verbs over fake-hardware nodes (verbs chosen among
//! those the last observed state allows, so most are accepted), with reads of the state.

use super::{perform, Ctx, Fixtures};
use crate::history::Worker;
use ferric_model::states::ProvisionVerb;
use ferric_model::{transition, ProvisionState};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Verbs the walk uses (no `clean`/`service`/`rescue`: they need step lists or passwords).
const VERBS: [&str; 6] = ["manage", "provide", "active", "deleted", "inspect", "abort"];

pub async fn read(
    ctx: &Ctx,
    uuid: &str,
    worker: &mut Worker,
    member: usize,
) -> Option<ProvisionState> {
    let u = uuid.to_string();
    let (_, v) = perform(ctx, worker, member, "read-provision", Some(uuid), Value::Null, true,
        move |api, addr| async move { api.get_node(addr, &u).await },
        |r| r.json().map(|b| json!({"provision_state": b["provision_state"], "target_provision_state": b["target_provision_state"]})).unwrap_or(Value::Null)).await;
    v["provision_state"]
        .as_str()
        .and_then(ProvisionState::parse)
}

pub async fn step(
    ctx: &Ctx,
    fx: &Fixtures,
    worker: &mut Worker,
    member: usize,
    rng: &mut ChaCha8Rng,
    last: &mut HashMap<String, ProvisionState>,
) {
    if fx.provision_nodes.is_empty() {
        return;
    }
    let uuid = fx.provision_nodes[rng.gen_range(0..fx.provision_nodes.len())].clone();
    if rng.gen_bool(0.5) || !last.contains_key(&uuid) {
        if let Some(s) = read(ctx, &uuid, worker, member).await {
            last.insert(uuid, s);
        }
        return;
    }
    let state = last[&uuid];
    let allowed: Vec<&str> = VERBS
        .iter()
        .copied()
        .filter(|v| {
            ProvisionVerb::parse(v)
                .is_some_and(|(verb, _)| transition(state, verb.event()).is_some())
        })
        .collect();
    let Some(verb) = allowed.choose(rng).copied() else {
        last.remove(&uuid);
        return;
    };
    let u = uuid.clone();
    perform(
        ctx,
        worker,
        member,
        "provision",
        Some(&uuid),
        json!({"target": verb}),
        false,
        move |api, addr| async move { api.set_provision(addr, &u, verb).await },
        |_| Value::Null,
    )
    .await;
    last.remove(&uuid);
}
