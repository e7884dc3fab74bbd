//! Lock workload: power actions on redfish nodes whose BMC is the harness's fake BMC. Each action
//! makes the owning conductor take the node's lock and send Redfish commands carrying its member
//! name and lock generation; the BMC log is what the lock, fencing and take-over checkers read.
//!
//! Targets are drawn from the run's `--power-targets`; nine times in ten the worker asks for
//! the one that changes the machine (off when the fake BMC says on, and the reverse), so most
//! actions really send a command — a target already reached is only a read.

use super::{perform, Ctx, Fixtures};
use crate::cli::PowerTarget;
use crate::history::Worker;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// How often the worker asks for the target that changes the machine, when it is allowed.
const TOGGLE_PROBABILITY: f64 = 0.9;

/// The target for `system`: mostly the one that changes its power state.
fn choose(
    fx: &Fixtures,
    system: &str,
    targets: &[PowerTarget],
    rng: &mut ChaCha8Rng,
) -> Option<PowerTarget> {
    let toggle = fx
        .bmc
        .as_ref()
        .and_then(|b| b.power_on(system))
        .map(|on| {
            if on {
                PowerTarget::Off
            } else {
                PowerTarget::On
            }
        })
        .filter(|t| targets.contains(t));
    match toggle {
        Some(t) if rng.gen_bool(TOGGLE_PROBABILITY) => Some(t),
        _ => targets.choose(rng).copied(),
    }
}

pub async fn step(
    ctx: &Ctx,
    fx: &Fixtures,
    targets: &[PowerTarget],
    worker: &mut Worker,
    member: usize,
    rng: &mut ChaCha8Rng,
) {
    if fx.power_nodes.is_empty() {
        return;
    }
    let (uuid, system) = fx.power_nodes[rng.gen_range(0..fx.power_nodes.len())].clone();
    let Some(target) = choose(fx, &system, targets, rng) else {
        return;
    };
    let target = target.api_name();
    perform(
        ctx,
        worker,
        member,
        "power",
        Some(&system),
        json!({"target": target, "node": uuid}),
        false,
        move |api, addr| async move { api.set_power(addr, &uuid, target).await },
        |_| Value::Null,
    )
    .await;
}
