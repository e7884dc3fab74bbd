//! Every provision flow to its end with fake-hardware, through the REST API of a real member;
//! node locks (409 NodeLocked with the holder named), a full worker pool (503), wait-state
//! timeouts, power sync (drift, power failure maintenance) and power-update events delivered to
//! a webhook, surviving a restart; a lock left by a killed run freed when the member starts again.

mod support;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const FLOW_CONFIG: &str = r#"
[conductor]
heartbeat_interval = 0.5
heartbeat_timeout = 3.0
node_locked_retry_attempts = 2
node_locked_retry_interval = 0.1
check_provision_state_interval = 0.3
sync_power_state_interval = 0.5
power_state_sync_max_retries = 2
power_failure_recovery_interval = 0.5
deploy_callback_timeout = 1.5
workers_pool_size = 4

[raft]
heartbeat_interval_ms = 50
election_timeout_min_ms = 300
election_timeout_max_ms = 600
"#;

async fn node(api: &Api, base: &str, name: &str, extra: Value) -> String {
    let mut body = json!({"driver": "fake-hardware", "name": name});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    let (st, v) = api.post(&format!("{base}/v1/nodes"), body).await;
    assert_eq!(st, 201, "{v}");
    v["uuid"].as_str().unwrap().to_string()
}

async fn verb(api: &Api, base: &str, n: &str, body: Value) -> (u16, Value) {
    api.put(&format!("{base}/v1/nodes/{n}/states/provision"), body).await
}

async fn wait_state(api: &Api, base: &str, n: &str, want: &str) -> Value {
    eventually(&format!("{n} reaches {want}"), Duration::from_secs(30), || async {
        let (st, v) = api.get(&format!("{base}/v1/nodes/{n}")).await;
        (st == 200 && v["provision_state"] == want && v["target_provision_state"].is_null() && v["reservation"].is_null())
            .then_some(v)
    })
    .await
}

async fn wait_failed(api: &Api, base: &str, n: &str, want: &str) -> Value {
    eventually(&format!("{n} reaches {want}"), Duration::from_secs(30), || async {
        let (st, v) = api.get(&format!("{base}/v1/nodes/{n}")).await;
        (st == 200 && v["provision_state"] == want && v["reservation"].is_null()).then_some(v)
    })
    .await
}

async fn to_state(api: &Api, base: &str, n: &str, verbs: &[(&str, &str)]) {
    for (v, want) in verbs {
        let (st, body) = verb(api, base, n, json!({"target": v})).await;
        assert_eq!(st, 202, "{v} on {n}: {body}");
        wait_state(api, base, n, want).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_flows_locks_and_timeouts() {
    let root = fast_tempdir();
    let api = Api::default();
    let m = Member::start("f", root.path(), FLOW_CONFIG, None);
    let b = m.url();

    // Verify, automated cleaning, deploy with configdrive and deploy steps, rebuild, undeploy.
    let n1 = node(&api, &b, "flow-1", json!({})).await;
    to_state(&api, &b, &n1, &[("manage", "manageable"), ("provide", "available")]).await;
    let (st, v) = verb(&api, &b, &n1, json!({"target": "active", "configdrive": {"meta_data": {"hostname": "x"}}})).await;
    assert_eq!(st, 202, "{v}");
    let n = wait_state(&api, &b, &n1, "active").await;
    assert_eq!(n["instance_info"]["configdrive"], "******", "configdrive is stored and masked");
    to_state(&api, &b, &n1, &[("rebuild", "active"), ("deleted", "available")]).await;
    let n = wait_state(&api, &b, &n1, "available").await;
    assert_eq!(n["instance_info"], json!({}));

    // Automated cleaning off for this node: provide goes straight through.
    let n2 = node(&api, &b, "flow-2", json!({"automated_clean": false})).await;
    to_state(&api, &b, &n2, &[("manage", "manageable"), ("provide", "available"), ("manage", "manageable")]).await;

    // Manual cleaning with clean_steps returns to manageable; an unknown step is refused.
    let (st, v) = verb(&api, &b, &n2, json!({"target": "clean", "clean_steps": [{"interface": "deploy", "step": "no_such_step"}]})).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = verb(&api, &b, &n2, json!({"target": "clean", "clean_steps": [{"interface": "raid", "step": "delete_configuration"}]})).await;
    assert_eq!(st, 202, "{v}");
    wait_state(&api, &b, &n2, "manageable").await;

    // Inspect and adopt.
    to_state(&api, &b, &n2, &[("inspect", "manageable")]).await;
    let (_, v) = api.get(&format!("{b}/v1/nodes/{n2}")).await;
    assert!(!v["inspection_finished_at"].is_null());
    to_state(&api, &b, &n2, &[("adopt", "active")]).await;

    // Rescue / unrescue (rescue_password required), service with service_steps.
    let (st, _) = verb(&api, &b, &n2, json!({"target": "rescue"})).await;
    assert_eq!(st, 400, "rescue without a password");
    let (st, v) = verb(&api, &b, &n2, json!({"target": "rescue", "rescue_password": "s3cret"})).await;
    assert_eq!(st, 202, "{v}");
    let n = wait_state(&api, &b, &n2, "rescue").await;
    assert_ne!(n["instance_info"]["rescue_password"], "s3cret", "rescue password must not leave the API");
    to_state(&api, &b, &n2, &[("unrescue", "active")]).await;
    let (st, v) = verb(&api, &b, &n2, json!({"target": "service", "service_steps": [{"interface": "deploy", "step": "hold"}]})).await;
    assert_eq!(st, 202, "{v}");
    wait_failed(&api, &b, &n2, "service hold").await;
    to_state(&api, &b, &n2, &[("unhold", "active")]).await;

    // Hold during cleaning, then abort → clean failed; manage again.
    let n3 = node(&api, &b, "flow-3", json!({})).await;
    to_state(&api, &b, &n3, &[("manage", "manageable")]).await;
    let (st, v) = verb(&api, &b, &n3, json!({"target": "clean", "clean_steps": [{"interface": "deploy", "step": "hold"}]})).await;
    assert_eq!(st, 202, "{v}");
    wait_failed(&api, &b, &n3, "clean hold").await;
    let (st, v) = verb(&api, &b, &n3, json!({"target": "abort"})).await;
    assert_eq!(st, 202, "{v}");
    let n = wait_failed(&api, &b, &n3, "clean failed").await;
    assert_eq!(n["target_provision_state"], "manageable", "a failure state keeps its target");
    to_state(&api, &b, &n3, &[("manage", "manageable")]).await;

    // A refused transition: 400 InvalidStateRequested.
    let (st, v) = verb(&api, &b, &n3, json!({"target": "deleted"})).await;
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("can not be performed"), "{v}");

    // An agent callback continues a waiting deploy: lookup mints the token once, the heartbeat
    // carries it, the deploy resumes and finishes.
    let n5 = node(&api, &b, "flow-5", json!({"driver_info": {"fake_wait": "deploy"}})).await;
    to_state(&api, &b, &n5, &[("manage", "manageable"), ("provide", "available")]).await;
    let (st, _) = verb(&api, &b, &n5, json!({"target": "active"})).await;
    assert_eq!(st, 202);
    wait_failed(&api, &b, &n5, "wait call-back").await;
    let (st, v) = api.get(&format!("{b}/v1/lookup?node_uuid={n5}")).await;
    assert_eq!(st, 200, "{v}");
    let token = v["config"]["agent_token"].as_str().unwrap().to_string();
    assert_ne!(token, "******");
    let (_, v2) = api.get(&format!("{b}/v1/lookup?node_uuid={n5}")).await;
    assert_eq!(v2["config"]["agent_token"], "******", "the token is minted once");
    let (st, v) = api.post(&format!("{b}/v1/heartbeat/{n5}"), json!({"callback_url": "http://127.0.0.1:9999", "agent_version": "10.0.0", "agent_token": "wrong"})).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = api.post(&format!("{b}/v1/heartbeat/{n5}"), json!({"callback_url": "http://127.0.0.1:9999", "agent_version": "10.0.0", "agent_token": token})).await;
    assert_eq!(st, 202, "{v}");
    wait_state(&api, &b, &n5, "active").await;

    // Wait-state timeout: the deploy waits for a callback that never comes → deploy failed.
    let n4 = node(&api, &b, "flow-4", json!({"driver_info": {"fake_wait": "deploy"}})).await;
    to_state(&api, &b, &n4, &[("manage", "manageable"), ("provide", "available")]).await;
    let (st, _) = verb(&api, &b, &n4, json!({"target": "active"})).await;
    assert_eq!(st, 202);
    wait_failed(&api, &b, &n4, "wait call-back").await;
    let n = wait_failed(&api, &b, &n4, "deploy failed").await;
    assert!(n["last_error"].as_str().unwrap_or("").contains("Timeout"), "{n}");
    assert_eq!(n["target_provision_state"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_workers_power_sync_and_events() {
    // A webhook receiver that records what arrives.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    {
        let received = received.clone();
        tokio::spawn(async move {
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                    let received = received.clone();
                    async move {
                        received.lock().unwrap().push(v);
                        "ok"
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    }
    let cfg = format!("{FLOW_CONFIG}\n[events]\nwebhooks = [\"{hook}\"]\ninterval = 0.2\nbackoff = 0.2\n");
    let root = fast_tempdir();
    let api = Api::default();
    let mut m = Member::start("p", root.path(), &cfg, None);
    let b = m.url();

    // NodeLocked: a slow power action holds the lock; a second one gets 409 naming the holder.
    let slow = node(&api, &b, "slow", json!({"driver_info": {"fake_power_delay": 2.0}})).await;
    let (st, _) = api.put(&format!("{b}/v1/nodes/{slow}/states/power"), json!({"target": "power on"})).await;
    assert_eq!(st, 202);
    let (st, v) = api.put(&format!("{b}/v1/nodes/{slow}/states/power"), json!({"target": "power off"})).await;
    assert_eq!(st, 409, "{v}");
    assert!(v.to_string().contains("is locked by host p"), "{v}");
    let (st, v) = api.patch(&format!("{b}/v1/nodes/{slow}"), json!([{"op": "add", "path": "/extra/x", "value": 1}])).await;
    assert_eq!(st, 409, "updates wait for the lock too: {v}");

    // NoFreeConductorWorker: four workers, all busy with slow power actions → 503.
    let mut busy = Vec::new();
    for i in 0..5 {
        busy.push(node(&api, &b, &format!("busy{i}"), json!({"driver_info": {"fake_power_delay": 2.0}})).await);
    }
    let mut codes = Vec::new();
    for n in &busy {
        codes.push(api.put(&format!("{b}/v1/nodes/{n}/states/power"), json!({"target": "power on"})).await.0);
    }
    assert!(codes.contains(&503), "a full worker pool answers 503: {codes:?}");
    eventually("slow power on done", Duration::from_secs(20), || async {
        let (_, v) = api.get(&format!("{b}/v1/nodes/{slow}")).await;
        (v["power_state"] == "power on" && v["target_power_state"].is_null()).then_some(())
    })
    .await;

    // Power-update events: a node with an instance, powered off and on → two events, in order.
    let inst = "9c5b3f64-6c5c-4b7e-a5a7-000000000001";
    let ev = node(&api, &b, "ev", json!({"instance_uuid": inst})).await;
    for target in ["power on", "power off"] {
        let (st, v) = api.put(&format!("{b}/v1/nodes/{ev}/states/power"), json!({"target": target})).await;
        assert_eq!(st, 202, "{v}");
        eventually(target, Duration::from_secs(10), || async {
            let (_, v) = api.get(&format!("{b}/v1/nodes/{ev}")).await;
            (v["power_state"] == target && v["target_power_state"].is_null()).then_some(())
        })
        .await;
    }
    let got = eventually("two power-update events", Duration::from_secs(10), || async {
        let r = received.lock().unwrap().clone();
        (r.iter().filter(|e| e["instance_uuid"] == inst).count() >= 2).then_some(r)
    })
    .await;
    let tags: Vec<&str> = got.iter().filter(|e| e["instance_uuid"] == inst).map(|e| e["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, vec!["POWER_ON", "POWER_OFF"]);
    assert!(got.iter().all(|e| e["event"] == "power-update"));

    // An event created while the receiver cannot be reached survives a restart.
    received.lock().unwrap().clear();
    m.terminate();
    m.restart();
    let b = m.url();
    let (st, _) = api.put(&format!("{b}/v1/nodes/{ev}/states/power"), json!({"target": "power on"})).await;
    assert_eq!(st, 202);
    eventually("event after restart", Duration::from_secs(15), || async {
        received.lock().unwrap().iter().any(|e| e["instance_uuid"] == inst && e["tag"] == "POWER_ON").then_some(())
    })
    .await;

    // Power sync (of nodes out of enroll): a BMC that stops answering puts the node into
    // maintenance (power failure).
    let bad = node(&api, &b, "bad-bmc", json!({})).await;
    to_state(&api, &b, &bad, &[("manage", "manageable")]).await;
    let (st, _) = api.put(&format!("{b}/v1/nodes/{bad}/states/power"), json!({"target": "power on"})).await;
    assert_eq!(st, 202);
    eventually("bad-bmc on", Duration::from_secs(10), || async {
        let (_, v) = api.get(&format!("{b}/v1/nodes/{bad}")).await;
        (v["power_state"] == "power on" && v["reservation"].is_null()).then_some(())
    })
    .await;
    let (st, v) = api
        .patch(&format!("{b}/v1/nodes/{bad}"), json!([{"op": "add", "path": "/driver_info/fake_fail", "value": "power.get_power_state"}]))
        .await;
    assert_eq!(st, 200, "{v}");
    let n = eventually("power failure maintenance", Duration::from_secs(20), || async {
        let (_, v) = api.get(&format!("{b}/v1/nodes/{bad}")).await;
        (v["maintenance"] == true && v["fault"] == "power failure").then_some(v)
    })
    .await;
    assert!(n["maintenance_reason"].as_str().unwrap_or("").contains("max retries"), "{n}");
    // The BMC answers again: recovery clears the fault.
    let (st, v) = api.patch(&format!("{b}/v1/nodes/{bad}"), json!([{"op": "remove", "path": "/driver_info/fake_fail"}])).await;
    assert_eq!(st, 200, "{v}");
    eventually("power failure recovery", Duration::from_secs(20), || async {
        let (_, v) = api.get(&format!("{b}/v1/nodes/{bad}")).await;
        (v["maintenance"] == false && v["fault"].is_null()).then_some(())
    })
    .await;
}

/// A member killed while it holds a node's lock frees it when it starts again (Ironic's start-up
/// clean-up: the pending power target is cleared with its message), well before the sweep of
/// orphaned reservations (30 s) could.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_frees_the_locks_of_its_previous_run() {
    let root = fast_tempdir();
    let api = Api::default();
    let mut m = Member::start("r", root.path(), FLOW_CONFIG, None);
    let b = m.url();
    let held = node(&api, &b, "held", json!({"driver_info": {"fake_power_delay": 120.0}})).await;
    let (st, v) = api.put(&format!("{b}/v1/nodes/{held}/states/power"), json!({"target": "power on"})).await;
    assert_eq!(st, 202, "{v}");
    eventually("the power action holds the lock", Duration::from_secs(10), || async {
        let (_, v) = api.get(&format!("{b}/v1/nodes/{held}")).await;
        (v["reservation"] == "r" && v["target_power_state"] == "power on").then_some(())
    })
    .await;
    m.kill9();
    m.restart();
    let n = eventually("the lock freed at start-up", Duration::from_secs(15), || async {
        let (_, v) = api.get(&format!("{b}/v1/nodes/{held}")).await;
        (v["reservation"].is_null()).then_some(v)
    })
    .await;
    assert!(n["target_power_state"].is_null(), "{n}");
    let err = n["last_error"].as_str().unwrap_or("");
    assert!(err.contains("Pending power operation was aborted") && err.contains("conductor restart"), "{n}");
    // The node is usable again.
    let (st, v) = api.patch(&format!("{b}/v1/nodes/{held}"), json!([{"op": "remove", "path": "/driver_info/fake_power_delay"}])).await;
    assert_eq!(st, 200, "{v}");
}
