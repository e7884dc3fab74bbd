//! Lock workload: power actions on redfish nodes whose BMC is the harness's fake BMC. Each action
//! makes the owning conductor take the node's lock and send Redfish commands carrying its member
//! name and lock generation; the BMC log is what the lock, fencing and take-over checkers read.

use super::{perform, Ctx, Fixtures};
use crate::history::Worker;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

const TARGETS: [&str; 3] = ["power on", "power off", "rebooting"];

pub async fn step(
    ctx: &Ctx,
    fx: &Fixtures,
    worker: &mut Worker,
    member: usize,
    rng: &mut ChaCha8Rng,
) {
    if fx.power_nodes.is_empty() {
        return;
    }
    let (uuid, system) = fx.power_nodes[rng.gen_range(0..fx.power_nodes.len())].clone();
    let target = TARGETS[rng.gen_range(0..TARGETS.len())];
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
