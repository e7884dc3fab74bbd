//! Add a fourth member and remove one, online, while writes continue; joining refusals.

mod support;
use support::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_members_under_writes() {
    let root = fast_tempdir();
    let api = Api::default();
    let [a, b, c] = start_three(&api, root.path(), TEST_CONFIG).await;

    // Phase 1: a writer runs throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written, api, url) = (stop.clone(), written.clone(), api.clone(), a.url());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{i}");
                i += 1;
                let (st, _) = api.create_node(&url, &name).await;
                if st == 201 {
                    acked.push(name);
                    written.fetch_add(1, Ordering::Relaxed);
                }
            }
            acked
        })
    };

    // Phase 2: a fourth member joins, online.
    let d = Member::start("d", root.path(), TEST_CONFIG, Some(&b.peer));
    wait_for_members(&api, &a.url(), &["a", "b", "c", "d"]).await;

    // Phase 3: remove c, online (through the cluster API of another member).
    let (st, v) = api.delete(&format!("{}/cluster/members/c", d.url())).await;
    assert_eq!(st, 200, "{v}");
    wait_for_members(&api, &a.url(), &["a", "b", "d"]).await;

    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.unwrap();
    assert!(written.load(Ordering::Relaxed) > 10, "writes did not continue during the changes");
    // Every acknowledged write is on the new member.
    for name in &acked {
        let url = format!("{}/v1/nodes/{name}", d.url());
        eventually(&format!("{name} on d"), Duration::from_secs(30), || async { (api.get(&url).await.0 == 200).then_some(()) }).await;
    }

    // The command line shows the same membership as a table.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferric"))
        .args(["cluster", "status", "--url", &d.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("cluster "), "{table}");
    for n in ["a", "b", "d"] {
        assert!(table.lines().any(|l| l.starts_with(&format!("{n} ")) && l.contains("voter")), "{n} missing in:\n{table}");
    }
    assert!(!table.lines().any(|l| l.starts_with("c ")), "{table}");

    // Phase 4: remove the leader itself (it hands leadership over first); the rest carry on.
    let s = api.status(&d.url()).await.unwrap();
    let leader = s["leader"].as_str().unwrap().to_string();
    let via = [&a, &b, &d].into_iter().find(|m| m.name != leader).unwrap().url();
    let (st, v) = api.delete(&format!("{via}/cluster/members/{leader}")).await;
    assert_eq!(st, 200, "removing the leader {leader}: {v}");
    let rest: Vec<&str> = ["a", "b", "d"].into_iter().filter(|n| *n != leader).collect();
    wait_for_members(&api, &via, &rest).await;
    let (st, v) = api.create_node(&via, "after-leader-removal").await;
    assert_eq!(st, 201, "{v}");
    let a = if leader == "a" { &b } else { &a };

    // Phase 5: refusals. A name already in use:
    let (st, v) = api
        .post(&format!("{}/cluster/members", d.url()), serde_json::json!({"name": "d", "peer": "127.0.0.1:1", "api": "127.0.0.1:2"}))
        .await;
    assert_eq!(st, 409, "{v}");
    // A member of another cluster:
    let other = Member::start("x", &root.path().join("other"), TEST_CONFIG, None);
    let (st, v) = api
        .post(&format!("{}/cluster/members", d.url()), serde_json::json!({"name": "x", "peer": other.peer, "api": other.api}))
        .await;
    assert_eq!(st, 409, "{v}");
    assert!(v.to_string().contains("another cluster"), "{v}");
    drop(c);
    let _ = a;
}
