//! The conductor driving real BMCs end to end through the REST API: an `ipmi` node on a real
//! `ipmi_sim` (power on/off, boot device, validate; its password never in the API or the log)
//! and a `redfish` node on the sushy-tools emulator (power on, with the emulator's late change
//! polled), on a three-member cluster so the call is routed to the node's owner.

mod support;
use ferric_drivers::testbed::{IpmiSim, SushyEmulator, SushyOptions};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

async fn wait_power(api: &Api, base: &str, uuid: &str, want: &str) -> Value {
    eventually(&format!("{uuid} {want}"), Duration::from_secs(60), || async {
        let (_, v) = api.get(&format!("{base}/v1/nodes/{uuid}")).await;
        (v["power_state"] == want && v["target_power_state"].is_null() && v["reservation"].is_null()).then_some(v)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmi_and_redfish_nodes_through_the_api() {
    let bmc = IpmiSim::start().expect("ipmi_sim (Debian openipmi) must be installed: run scripts/testbed-setup.sh");
    let sushy = SushyEmulator::start(&SushyOptions { systems: 1, auth: None, tls: false, ..Default::default() })
        .expect("sushy-emulator must be in the venv: run scripts/testbed-setup.sh");
    let root = fast_tempdir();
    let api = Api::default();
    let [a, b, c] = start_three(&api, root.path(), TEST_CONFIG).await;
    let base = c.url();

    // ipmi: the node's power and boot device follow the real BMC.
    let info = Value::Object(bmc.driver_info());
    let password = info["ipmi_password"].as_str().unwrap().to_string();
    let (st, node) = api.post(&format!("{base}/v1/nodes"), json!({"driver": "ipmi", "name": "real-ipmi", "driver_info": info})).await;
    assert_eq!(st, 201, "{node}");
    assert_eq!(node["driver_info"]["ipmi_password"], "******");
    let uuid = node["uuid"].as_str().unwrap().to_string();
    let (st, v) = api.get(&format!("{base}/v1/nodes/{uuid}/validate")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["power"]["result"], true, "{v}");
    assert_eq!(v["management"]["result"], true, "{v}");
    let (st, v) = api.put(&format!("{base}/v1/nodes/{uuid}/states/power"), json!({"target": "power on"})).await;
    assert_eq!(st, 202, "{v}");
    wait_power(&api, &base, &uuid, "power on").await;
    assert!(bmc.power_on(), "ipmi_sim's chassis is on");
    let (st, v) = api.put(&format!("{base}/v1/nodes/{uuid}/management/boot_device"), json!({"boot_device": "pxe", "persistent": false})).await;
    assert_eq!(st, 204, "{v}");
    assert_eq!(bmc.boot_device().as_deref(), Some("pxe"));
    let (st, v) = api.get(&format!("{base}/v1/nodes/{uuid}/management/boot_device")).await;
    assert_eq!(st, 200);
    assert_eq!(v["boot_device"], "pxe", "{v}");
    let (st, _) = api.put(&format!("{base}/v1/nodes/{uuid}/states/power"), json!({"target": "power off"})).await;
    assert_eq!(st, 202);
    wait_power(&api, &base, &uuid, "power off").await;
    assert!(!bmc.power_on(), "ipmi_sim's chassis is off");

    // A wrong password ends in a bounded time with a clear last_error (and no secret in it).
    let (st, v) = api
        .patch(&format!("{base}/v1/nodes/{uuid}"), json!([{"op": "replace", "path": "/driver_info/ipmi_password", "value": "not-the-password"}]))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, _) = api.put(&format!("{base}/v1/nodes/{uuid}/states/power"), json!({"target": "power on"})).await;
    assert_eq!(st, 202);
    let n = eventually("a power failure recorded", Duration::from_secs(60), || async {
        let (_, v) = api.get(&format!("{base}/v1/nodes/{uuid}")).await;
        (v["target_power_state"].is_null() && !v["last_error"].is_null() && v["reservation"].is_null()).then_some(v)
    })
    .await;
    let err = n["last_error"].as_str().unwrap();
    assert!(err.contains("Failed to change power state"), "{err}");
    assert!(!err.contains("not-the-password"));

    // redfish: power on lands late on the emulator; the driver polls until it does.
    let rinfo = Value::Object(sushy.driver_info(0));
    let (st, node) = api.post(&format!("{base}/v1/nodes"), json!({"driver": "redfish", "name": "real-redfish", "driver_info": rinfo})).await;
    assert_eq!(st, 201, "{node}");
    let ruuid = node["uuid"].as_str().unwrap().to_string();
    let (st, v) = api.put(&format!("{base}/v1/nodes/{ruuid}/states/power"), json!({"target": "power on"})).await;
    assert_eq!(st, 202, "{v}");
    wait_power(&api, &base, &ruuid, "power on").await;

    // No member logged the BMC password.
    for m in [&a, &b, &c] {
        assert!(!m.log_text().contains(&password), "member {} logged the BMC password", m.name);
    }
}
