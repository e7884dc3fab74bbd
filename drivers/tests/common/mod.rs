//! Helpers shared by the integration tests: nodes, tasks, registries with short timeouts, and
//! the power/management conformance suite every implementation passes.
#![allow(dead_code)]

pub mod conformance;

use ferric_drivers::{DriverRegistry, DriversConfig, TaskContext};
use ferric_model::command::LockToken;
use ferric_model::time::Timestamp;
use ferric_model::{Dict, Node};
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

pub fn dict(v: Value) -> Dict {
    v.as_object().cloned().expect("a JSON object")
}

/// A node of `driver` with `driver_info`, interfaces left empty (the registry's defaults apply).
pub fn node(driver: &str, driver_info: Dict) -> Node {
    let mut n = Node::new(Uuid::new_v4(), driver, Timestamp(0));
    n.driver_info = driver_info;
    n
}

/// A task on `node` run by `member` under lock generation `generation`.
pub fn task(node: Node, member: &str, generation: u64) -> TaskContext {
    let mut t = TaskContext::new(node, member);
    t.lock = Some(LockToken { holder: member.to_string(), generation });
    t
}

/// Drivers config with timeouts short enough for tests (still generous for a loaded machine).
pub fn test_config() -> DriversConfig {
    let mut c = DriversConfig::default();
    c.ipmi.packet_timeout_ms = 500;
    c.ipmi.retries = 2;
    c.ipmi.command_timeout_s = 6;
    c.ipmi.power_poll_interval_ms = 50;
    c.ipmi.power_state_change_timeout_s = 10;
    c.ipmi.soft_power_off_timeout_s = 10;
    c.redfish.power_poll_interval_ms = 250;
    c.redfish.power_state_change_timeout_s = 30;
    c.redfish.request_timeout_s = 10;
    c.redfish.connect_timeout_s = 3;
    c.redfish.connection_attempts = 2;
    c.redfish.connection_retry_interval_ms = 200;
    c
}

pub fn registry() -> DriverRegistry {
    DriverRegistry::new(&test_config()).expect("default drivers config loads")
}

/// Runs `f` and returns how long it took.
pub async fn timed<T, F: std::future::Future<Output = T>>(f: F) -> (T, Duration) {
    let t = std::time::Instant::now();
    let r = f.await;
    (r, t.elapsed())
}

/// Tests need the tools: fail loudly (never skip silently) when they are missing.
pub fn require_ipmi() {
    if let Err(e) = ferric_drivers::testbed::require_ipmi_tools() {
        panic!("{e}");
    }
}
