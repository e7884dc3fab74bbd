//! Negative controls: runs against a `ferric` built with the `unsafe-test-switches` feature,
//! each with one deliberately unsafe behaviour switched on, and the checker that must catch it.
//! They need that binary (`FERRIC_UNSAFE_BIN`) and about a minute each, so they are ignored by
//! default: `FERRIC_UNSAFE_BIN=… cargo test -p ferric-jepsen --test negative_controls -- --ignored`.
//!
//! (The checkers' own negative controls — planted stale reads, stale BMC commands, wrong and lost
//! transitions, lost acknowledged adds — are unit tests beside each checker and in
//! `synthetic.rs`; they need no server.)

use clap::Parser;
use ferric_jepsen::cli::{Cli, Command};
use std::path::PathBuf;

fn unsafe_bin() -> Option<PathBuf> {
    std::env::var_os("FERRIC_UNSAFE_BIN").map(PathBuf::from)
}

/// Runs `test` with `args` and returns the verdict of `checker` from `results.json`.
fn verdict_of(args: &[&str], checker: &str) -> serde_json::Value {
    let bin = unsafe_bin().expect("FERRIC_UNSAFE_BIN");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut argv = vec![
        "ferric-jepsen",
        "test",
        "--ferric-bin",
        bin.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    argv.extend_from_slice(args);
    let Command::Test(t) = Cli::parse_from(argv).command else {
        unreachable!()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rt.block_on(ferric_jepsen::run::run_test(*t));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let found = results["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checker"] == checker)
        .cloned()
        .unwrap();
    eprintln!(
        "{checker}: {}",
        serde_json::to_string_pretty(&found).unwrap()
    );
    found["valid"].clone()
}

#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (ferric with unsafe-test-switches) and a minute"]
fn stale_reads_under_partition_are_not_linearizable() {
    let v = verdict_of(
        &[
            "--seed",
            "11",
            "--time-limit",
            "60",
            "--net",
            "netns",
            "--unsafe",
            "stale-reads",
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--shapes",
            "isolate-one,halves",
        ],
        "linearizable-register",
    );
    assert_eq!(v, serde_json::json!(false));
}

#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (ferric with unsafe-test-switches) and a minute"]
fn skipping_the_lock_check_double_actuates_under_pause() {
    let v = verdict_of(
        &[
            "--seed",
            "12",
            "--time-limit",
            "60",
            "--net",
            "netns",
            "--bmc",
            "observe",
            "--unsafe",
            "skip-lock-check",
            "--workload",
            "lock",
            "--nemesis",
            "pause",
        ],
        "bmc-fencing",
    );
    assert_eq!(v, serde_json::json!(false));
}

#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (ferric with unsafe-test-switches), a power-loss nemesis, and a minute"]
fn raft_log_without_fsync_loses_acknowledged_writes_on_kill() {
    // kill -9 alone leaves unsynced writes in the page cache; this control needs the server's
    // no_fsync switch to keep the log in memory, or the harness's power-loss (FUSE) nemesis.
    let v = verdict_of(
        &[
            "--seed",
            "13",
            "--time-limit",
            "60",
            "--net",
            "netns",
            "--unsafe",
            "no-fsync",
            "--workload",
            "set,register",
            "--nemesis",
            "kill",
        ],
        "lost-ack",
    );
    assert_eq!(v, serde_json::json!(false));
}
