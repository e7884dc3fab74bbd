//! A member kept down past the snapshot threshold catches up by snapshot install.

mod support;
use support::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_member_installs_a_snapshot() {
    let cfg = TEST_CONFIG.replace("snapshot_logs_since_last = 2000", "snapshot_logs_since_last = 50").replace("max_in_snapshot_log_to_keep = 100", "max_in_snapshot_log_to_keep = 5\npurge_batch_size = 1");
    let root = fast_tempdir();
    let api = Api::default();
    let [a, b, mut c] = start_three(&api, root.path(), &cfg).await;

    // Phase 1: c goes down; the others write well past the snapshot threshold.
    c.kill9();
    for i in 0..200 {
        let (st, v) = api.create_node(&a.url(), &format!("s{i}")).await;
        assert_eq!(st, 201, "{v}");
    }
    // The leader's log no longer reaches back to where c stopped: it has purged behind a snapshot.
    let snapshots = a.dir.join("snapshots");
    eventually("a snapshot on the leader", Duration::from_secs(30), || async {
        std::fs::read_dir(&snapshots).ok()?.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().starts_with("snap-")).then_some(())
    })
    .await;

    // Phase 2: c restarts and catches up (by snapshot: the log it missed was purged).
    c.restart();
    eventually("c has every node", Duration::from_secs(60), || async {
        let (st, v) = api.get(&format!("{}/v1/nodes?limit=1000", c.url())).await;
        (st == 200 && v["nodes"].as_array()?.len() == 200).then_some(())
    })
    .await;
    let log = c.log_text();
    assert!(log.contains("installed snapshot"), "c did not install a snapshot:\n{}", tail(&log, 40));
    drop(b);
}
