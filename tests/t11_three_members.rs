//! Three members as separate processes: writes through any member, `kill -9` of the leader, a new
//! leader, every acknowledged write readable on every member, the killed member catches up; a
//! read on a follower right after an acknowledged write sees it; a leader whose followers are all
//! gone keeps retrying them at its backoff pace instead of spinning; a call routed to a node's
//! owner that has not yet applied the node's creation waits for it instead of answering "not
//! found".

mod support;
use serde_json::json;
use ferric_drivers::testbed::process_cpu;
use support::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_leader_no_acknowledged_write_lost() {
    let root = fast_tempdir();
    let api = Api::default();
    let mut members = Vec::from(start_three(&api, root.path(), TEST_CONFIG).await);

    // Phase 1: writes through every member; each acknowledged one is remembered.
    let mut acked = Vec::new();
    for i in 0..60 {
        let m = &members[i % 3];
        let (st, v) = api.create_node(&m.url(), &format!("n{i}")).await;
        assert_eq!(st, 201, "create through {}: {v}", m.name);
        acked.push(format!("n{i}"));
    }

    // Phase 2: a read on a follower right after an acknowledged write sees it.
    for i in 0..20 {
        let writer = &members[i % 3];
        let reader = &members[(i + 1) % 3];
        let name = format!("rw{i}");
        let (st, _) = api.create_node(&writer.url(), &name).await;
        assert_eq!(st, 201);
        let (st, v) = api.get(&format!("{}/v1/nodes/{name}", reader.url())).await;
        assert_eq!(st, 200, "read-your-write on {} failed: {v}", reader.name);
        acked.push(name);
    }

    // Phase 3: a follower that stops answering (SIGSTOP) does not block the leader: writes go on.
    let s = api.status(&members[0].url()).await.unwrap();
    let leader = s["leader"].as_str().unwrap().to_string();
    let frozen = members.iter().position(|m| m.name != leader).unwrap();
    let pid = members[frozen].pid().unwrap();
    let _ = std::process::Command::new("kill").args(["-STOP", &pid.to_string()]).status();
    let live = members.iter().find(|m| m.name == leader).unwrap().url();
    for i in 0..20 {
        let name = format!("frozen{i}");
        let started = std::time::Instant::now();
        let (st, v) = api.create_node(&live, &name).await;
        assert_eq!(st, 201, "write with a frozen follower: {v}");
        assert!(started.elapsed() < Duration::from_secs(5), "a frozen follower slowed a write to {:?}", started.elapsed());
        acked.push(name);
    }
    let _ = std::process::Command::new("kill").args(["-CONT", &pid.to_string()]).status();

    // Phase 4: kill -9 the leader; a new one is elected among the others.
    let s = api.status(&members[0].url()).await.unwrap();
    let leader = s["leader"].as_str().unwrap().to_string();
    let li = members.iter().position(|m| m.name == leader).unwrap();
    members[li].kill9();
    let survivor = members.iter().find(|m| m.name != leader).unwrap().url();
    let new_leader = wait_for_new_leader(&api, &survivor, &leader).await;
    assert_ne!(new_leader, leader);

    // Phase 5: writes continue with two of three.
    for i in 0..30 {
        let m = members.iter().filter(|m| m.name != leader).nth(i % 2).unwrap();
        let name = format!("after{i}");
        let (st, v) = eventually("a write after failover", Duration::from_secs(20), || async {
            let (st, v) = api.create_node(&m.url(), &name).await;
            // 503 while the cluster settles; a 409 means an earlier ambiguous attempt landed.
            (st == 201 || st == 409).then_some((st, v))
        })
        .await;
        assert!(st == 201 || st == 409, "{v}");
        acked.push(name);
    }

    // Phase 6: the killed member restarts and catches up; every acknowledged write is on every member.
    members[li].restart();
    for m in &members {
        for name in &acked {
            let url = format!("{}/v1/nodes/{name}", m.url());
            eventually(&format!("{name} on {}", m.name), Duration::from_secs(60), || async {
                let (st, _) = api.get(&url).await;
                (st == 200).then_some(())
            })
            .await;
        }
    }
    let (st, list) = api.get(&format!("{}/v1/nodes?limit=1000", members[li].url())).await;
    assert_eq!(st, 200);
    assert_eq!(list["nodes"].as_array().unwrap().len(), acked.len());
    let _ = json!({});
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_without_followers_does_not_spin() {
    let root = fast_tempdir();
    let api = Api::default();
    let [a, mut b, mut c] = start_three(&api, root.path(), TEST_CONFIG).await;
    for i in 0..20 {
        let (st, n) = api.create_node(&a.url(), &format!("spin-{i}")).await;
        assert_eq!(st, 201, "{n}");
    }
    let leader = api.status(&a.url()).await.unwrap()["leader"].as_str().unwrap().to_string();
    assert_eq!(leader, "a", "the bootstrap member leads in this test");
    b.kill9();
    c.kill9();
    // Replication and heartbeats to both fail from now on. Wait until the leader has seen that.
    eventually("the leader's replication errors", Duration::from_secs(30), || async {
        a.log_text().contains("unreachable").then_some(())
    })
    .await;
    // A measurement window: a leader retrying at its backoff pace uses a few per cent of a core;
    // one retrying in a tight loop (a bug once: a stream opened before the backoff was awaited)
    // used two cores and logged tens of thousands of lines a second.
    let pid = a.pid().unwrap();
    let cpu = || process_cpu(pid).expect("the leader's /proc stat");
    let (t0, l0) = (cpu(), a.log_text().lines().count());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (t1, l1) = (cpu(), a.log_text().lines().count());
    assert!(t1 - t0 < Duration::from_millis(600), "the leader used {:?} of CPU in 2 s with its followers gone", t1 - t0);
    assert!(l1 - l0 < 2_000, "the leader logged {} lines in 2 s with its followers gone", l1 - l0);
}

/// The counter `name` in a member's `/metrics`.
async fn metric(api: &Api, base: &str, name: &str) -> u64 {
    let (_, v) = api.get(&format!("{base}/metrics")).await;
    let text = v.as_str().unwrap_or_default().to_string();
    text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

// The leader routes a node's action to the node's owner. The owner used to wait only for the
// ring's version, then read the node from its own state: if it had not yet applied the node's
// creation, an acknowledged node was "not found". Here the owner is stopped (SIGSTOP) while the
// node is created again under the same UUID, and woken once the leader has sent it the call: the
// call and the entries it missed arrive together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_call_waits_for_the_owner_to_apply_what_the_router_saw() {
    let root = fast_tempdir();
    let api = Api::default();
    let members = start_three(&api, root.path(), TEST_CONFIG).await;
    let leader = api.status(&members[0].url()).await.unwrap()["leader"].as_str().unwrap().to_string();
    let lurl = members.iter().find(|m| m.name == leader).unwrap().url();
    // A UUID whose node another member owns (the `conductor` field names the owner).
    let mut found = None;
    for i in 0..50 {
        let uuid = uuid::Uuid::new_v4().to_string();
        let (st, v) = api.post(&format!("{lurl}/v1/nodes"), json!({"driver": "fake-hardware", "uuid": uuid, "name": format!("routed{i}")})).await;
        assert_eq!(st, 201, "{v}");
        let owner = v["conductor"].as_str().unwrap_or_default().to_string();
        let (st, v) = api.delete(&format!("{lurl}/v1/nodes/{uuid}")).await;
        assert_eq!(st, 204, "{v}");
        if !owner.is_empty() && owner != leader {
            found = Some((uuid, owner));
            break;
        }
    }
    let (uuid, owner) = found.expect("some node owned by a follower");
    let o = members.iter().find(|m| m.name == owner).unwrap();
    // The owner has applied the delete (a read there is linearizable).
    let (st, _) = api.get(&format!("{}/v1/nodes/{uuid}", o.url())).await;
    assert_eq!(st, 404);

    let pid = o.pid().unwrap().to_string();
    let _ = std::process::Command::new("kill").args(["-STOP", &pid]).status();
    let (st, v) = api.post(&format!("{lurl}/v1/nodes"), json!({"driver": "fake-hardware", "uuid": uuid, "name": "routed"})).await;
    assert_eq!(st, 201, "created again while its owner is stopped: {v}");
    let forwarded = metric(&api, &lurl, "ferric_conductor_calls_forwarded_total").await;
    let call = {
        let (api, url) = (api.clone(), format!("{lurl}/v1/nodes/{uuid}/states/provision"));
        tokio::spawn(async move { api.put(&url, json!({"target": "manage"})).await })
    };
    eventually("the leader to send the call to the stopped owner", Duration::from_secs(10), || async {
        (metric(&api, &lurl, "ferric_conductor_calls_forwarded_total").await > forwarded).then_some(())
    })
    .await;
    let _ = std::process::Command::new("kill").args(["-CONT", &pid]).status();
    let (st, v) = call.await.unwrap();
    assert_eq!(st, 202, "manage, served by the owner {owner} just woken: {v}");
    eventually("the node to become manageable", Duration::from_secs(20), || async {
        let (_, v) = api.get(&format!("{lurl}/v1/nodes/{uuid}")).await;
        (v["provision_state"] == "manageable").then_some(())
    })
    .await;
}
