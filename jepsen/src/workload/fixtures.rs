//! The nodes the workloads act on, created before the faults start (through the REST API, with
//! retries: nothing is being checked yet).

use super::Ctx;
use crate::bmc::BmcHandle;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::time::Duration;

const SETUP_TRIES: usize = 20;

#[derive(Debug, Clone, Default)]
pub struct Fixtures {
    /// Register nodes (fake-hardware), by uuid.
    pub register_nodes: Vec<String>,
    /// Lock nodes (redfish on the fake BMC): (uuid, BMC system id).
    pub power_nodes: Vec<(String, String)>,
    /// Provision nodes (fake-hardware), by uuid.
    pub provision_nodes: Vec<String>,
    /// The fake BMC the lock nodes point at (to read their power state).
    pub bmc: Option<BmcHandle>,
}

async fn create(ctx: &Ctx, body: Value) -> Result<String> {
    let mut last = String::new();
    for attempt in 0..SETUP_TRIES {
        let member = attempt % ctx.members.len();
        match ctx.api.create_node(ctx.members[member].1, &body).await {
            Ok(r) if (200..300).contains(&r.status) => {
                if let Some(uuid) = r
                    .json()
                    .and_then(|v| v["uuid"].as_str().map(str::to_string))
                {
                    return Ok(uuid);
                }
                last = format!("no uuid in {}", String::from_utf8_lossy(&r.body));
            }
            Ok(r) => last = format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("create node {body}: {last}")
}

/// Creates `per_kind` nodes for each enabled workload. Redfish nodes point at `bmc`.
pub async fn setup_fixtures(
    ctx: &Ctx,
    per_kind: usize,
    register: bool,
    power: bool,
    provision: bool,
    bmc: std::net::SocketAddr,
) -> Result<Fixtures> {
    let mut fx = Fixtures::default();
    for i in 0..per_kind {
        if register {
            fx.register_nodes.push(
                create(
                    ctx,
                    json!({"name": format!("jepsen-reg-{i}"), "driver": "fake-hardware"}),
                )
                .await?,
            );
        }
        if power {
            let system = format!("s{}", i + 1);
            let uuid = create(
                ctx,
                json!({
                    "name": format!("jepsen-pow-{i}"),
                    "driver": "redfish",
                    "driver_info": {
                        "redfish_address": format!("http://{bmc}"),
                        "redfish_system_id": format!("/redfish/v1/Systems/{system}"),
                        "redfish_username": "jepsen",
                        "redfish_password": "jepsen",
                    },
                }),
            )
            .await?;
            fx.power_nodes.push((uuid, system));
        }
        if provision {
            fx.provision_nodes.push(
                create(
                    ctx,
                    json!({"name": format!("jepsen-fsm-{i}"), "driver": "fake-hardware"}),
                )
                .await?,
            );
        }
    }
    Ok(fx)
}
