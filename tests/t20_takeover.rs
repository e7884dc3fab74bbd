//! Three real members; 300 fake-hardware nodes over the ring; all provisioned concurrently
//! (manage → provide → active); `kill -9` of one member half-way. Every node reaches `active`, no
//! lock stays with the dead member, and the fake driver's records (member, generation of every
//! call) show no node acted on by two members inside one lock epoch, and no call under an older
//! epoch after a newer one began. Also measures kill → first action of a new owner.

mod support;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::*;

const NODES: usize = 300;

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// What the client does next for a node in `state` (re-driving failures like an operator would).
fn next_verb(n: &Value) -> Option<&'static str> {
    let state = n["provision_state"].as_str()?;
    // Failure states keep their target (that is how clients tell what failed).
    if !n["reservation"].is_null() || (!n["target_provision_state"].is_null() && !state.ends_with("failed")) {
        return None;
    }
    match state {
        "enroll" => Some("manage"),
        "manageable" => Some("provide"),
        "available" => Some("active"),
        "deploy failed" => Some("active"),
        "clean failed" | "inspect failed" | "adopt failed" => Some("manage"),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_300_nodes_through_a_kill() {
    let root = fast_tempdir();
    let records = root.path().join("fake-calls.jsonl");
    let api = Api::default();
    let mut members = Vec::from(start_three(&api, root.path(), TEST_CONFIG).await);
    // Every member's conductor registered and online before nodes spread over the ring.
    let base = members[0].url();
    eventually("three conductors online", Duration::from_secs(30), || async {
        let (st, v) = api.get(&format!("{base}/v1/conductors")).await;
        (st == 200 && v["conductors"].as_array()?.iter().filter(|c| c["alive"] == true).count() == 3).then_some(())
    })
    .await;

    // Phase 1: 300 nodes whose fake calls take 200 ms and are recorded.
    let mut uuids = Vec::new();
    for i in 0..NODES {
        let m = &members[i % 3];
        let body = json!({
            "driver": "fake-hardware",
            "name": format!("t{i}"),
            "driver_info": {"fake_delay": 0.2, "fake_record_path": records.to_str().unwrap()},
        });
        let (st, v) = api.post(&format!("{}/v1/nodes", m.url()), body).await;
        assert_eq!(st, 201, "{v}");
        uuids.push(v["uuid"].as_str().unwrap().to_string());
    }
    let (_, list) = api.get(&format!("{base}/v1/nodes?fields=uuid,conductor&limit=1000")).await;
    let owner_before: HashMap<String, String> = list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["uuid"].as_str().unwrap().to_string(), n["conductor"].as_str().unwrap_or("").to_string()))
        .collect();
    for m in ["a", "b", "c"] {
        let owned = owner_before.values().filter(|o| o.as_str() == m).count();
        assert!(owned > 30, "member {m} owns only {owned} of {NODES} nodes");
    }

    // Phase 2: drive every node to active concurrently; kill -9 member b half-way.
    let live: Arc<std::sync::Mutex<Vec<String>>> = Arc::new(std::sync::Mutex::new(members.iter().map(|m| m.url()).collect()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let mut killed_at_us = None;
    let mut active: HashSet<String> = HashSet::new();
    let mut sent = 0usize;
    let mut last_seen: Vec<Value> = Vec::new();
    while active.len() < NODES {
        if Instant::now() >= deadline {
            let mut hist: BTreeMap<String, usize> = BTreeMap::new();
            for n in &last_seen {
                *hist.entry(format!("{} -> {} maint={} res={} err={}", n["provision_state"], n["target_provision_state"], n["maintenance"], n["reservation"], n["last_error"])).or_default() += 1;
            }
            panic!("only {} of {NODES} nodes active after 300 s: {hist:#?}", active.len());
        }
        let url = live.lock().unwrap()[0].clone();
        let (st, v) = api
            .get(&format!("{url}/v1/nodes?fields=uuid,provision_state,target_provision_state,reservation,maintenance,last_error&limit=1000"))
            .await;
        if st != 200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
        last_seen = nodes.clone();
        active = nodes.iter().filter(|n| n["provision_state"] == "active").map(|n| n["uuid"].as_str().unwrap().to_string()).collect();
        let b_pending = nodes
            .iter()
            .filter(|n| n["provision_state"] != "active" && owner_before.get(n["uuid"].as_str().unwrap()).map(|o| o == "b").unwrap_or(false))
            .count();
        let past_manageable = nodes
            .iter()
            .filter(|n| !matches!(n["provision_state"].as_str(), Some("enroll" | "verifying" | "manageable")))
            .count();
        // Half-way through the flow, while the member to kill still has work in flight.
        if killed_at_us.is_none() && past_manageable >= NODES / 2 && b_pending >= 10 {
            killed_at_us = Some(now_us());
            members[1].kill9();
            live.lock().unwrap().retain(|u| *u != members[1].url());
        }
        // Send the next verb for every node that needs one, concurrently (bounded).
        let mut batch = Vec::new();
        for n in &nodes {
            let uuid = n["uuid"].as_str().unwrap().to_string();
            if n["maintenance"] == true && n["reservation"].is_null() {
                batch.push((uuid, None));
            } else if let Some(verb) = next_verb(n) {
                batch.push((uuid, Some(verb)));
            }
        }
        let urls = live.lock().unwrap().clone();
        let results = futures::future::join_all(batch.into_iter().enumerate().map(|(i, (uuid, verb))| {
            let api = api.clone();
            let url = urls[i % urls.len()].clone();
            async move {
                match verb {
                    None => api.delete(&format!("{url}/v1/nodes/{uuid}/maintenance")).await.0,
                    Some(v) => api.put(&format!("{url}/v1/nodes/{uuid}/states/provision"), json!({"target": v})).await.0,
                }
            }
        }))
        .await;
        sent += results.len();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let killed_at_us = killed_at_us.expect("the kill happened");
    let elapsed = started.elapsed();

    // Phase 3: no lock is left with the dead member; nothing is reserved at rest.
    let url = live.lock().unwrap()[0].clone();
    eventually("no reservation left", Duration::from_secs(30), || async {
        let (_, v) = api.get(&format!("{url}/v1/nodes?fields=uuid,reservation&limit=1000")).await;
        v["nodes"].as_array()?.iter().all(|n| n["reservation"].is_null()).then_some(())
    })
    .await;

    // Phase 4: the fake driver's records.
    let calls = ferric_drivers::fake::read_record_file(&records).expect("records");
    assert!(!calls.is_empty());
    let mut by_epoch: BTreeMap<(String, u64), HashSet<String>> = BTreeMap::new();
    let mut by_node: BTreeMap<String, Vec<(i64, u64, String)>> = BTreeMap::new();
    for c in &calls {
        if let Some(g) = c.generation {
            by_epoch.entry((c.node.clone(), g)).or_default().insert(c.member.clone());
            by_node.entry(c.node.clone()).or_default().push((c.ts_us, g, c.member.clone()));
        }
    }
    for ((node, g), ms) in &by_epoch {
        assert_eq!(ms.len(), 1, "node {node} acted on by {ms:?} inside lock epoch {g}");
    }
    for (node, mut cs) in by_node {
        cs.sort();
        for w in cs.windows(2) {
            assert!(w[1].1 >= w[0].1, "node {node}: a call under generation {} after one under {}: {:?}", w[1].1, w[0].1, w);
        }
    }
    // Take-over: first action by a new owner on a node the dead member owned.
    let first_takeover_us = calls
        .iter()
        .filter(|c| c.ts_us > killed_at_us && owner_before.get(&c.node).map(|o| o == "b").unwrap_or(false) && c.member != "b")
        .map(|c| c.ts_us)
        .min()
        .expect("a new owner acted on b's nodes");
    let takeover = Duration::from_micros((first_takeover_us - killed_at_us) as u64);
    println!(
        "FIGURE: {NODES} nodes manage→provide→active with kill -9 of one of 3 members: {:.1} s wall, {sent} verbs sent; kill→first action of a new owner {:.2} s (heartbeat_timeout 3 s)",
        elapsed.as_secs_f64(),
        takeover.as_secs_f64()
    );
    assert!(takeover < Duration::from_secs(30), "take-over took {takeover:?}");
    // The dead member's conductor is reported not alive.
    let (_, cs) = api.get(&format!("{url}/v1/conductors")).await;
    let b_alive = cs["conductors"].as_array().unwrap().iter().find(|c| c["hostname"] == "b").map(|c| c["alive"].clone());
    assert_eq!(b_alive, Some(json!(false)));
}
