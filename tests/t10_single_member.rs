//! One member on the real disk: bootstrap, write, graceful stop, restart, read back; refuses a
//! damaged data directory.

mod support;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_restart_read_back() {
    // Phase 1: the embedded default on the real disk (the one slow-path test).
    let root = tempfile::tempdir().unwrap();
    let mut m = Member::start("solo", root.path(), TEST_CONFIG, None);
    let api = Api::default();
    let (st, node) = api.create_node(&m.url(), "persisted-1").await;
    assert_eq!(st, 201, "{node}");
    let (st, _) = api.patch(&format!("{}/v1/nodes/persisted-1", m.url()), json!([{"op": "add", "path": "/extra/k", "value": "v"}])).await;
    assert_eq!(st, 200);

    // Phase 2: SIGTERM exits cleanly.
    let status = m.terminate().expect("exit status");
    assert!(status.success(), "graceful stop failed: {status:?}\n{}", tail(&m.log_text(), 30));

    // Phase 3: restart from the data dir resumes membership and state.
    m.restart();
    let (st, n) = api.get(&format!("{}/v1/nodes/persisted-1", m.url())).await;
    assert_eq!(st, 200, "{n}");
    assert_eq!(n["extra"]["k"], "v");
    assert_eq!(n["uuid"], node["uuid"]);
    let s = api.status(&m.url()).await.unwrap();
    assert_eq!(s["members"].as_array().unwrap().len(), 1);
    assert_eq!(s["leader"], "solo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_or_foreign_data_dirs_are_refused() {
    let root = fast_tempdir();
    // A directory with someone else's files.
    let dir = root.path().join("busy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("precious"), "x").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferric"))
        .args(["serve", "--name", "m", "--api", "127.0.0.1:0", "--peer", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a Ferric data directory"), "{err}");
    assert!(dir.join("precious").exists());

    // A newer format.
    let mut m = Member::start("m", root.path(), TEST_CONFIG, None);
    m.kill9();
    let marker = m.dir.join("FERRIC");
    let text = std::fs::read_to_string(&marker).unwrap().replace("\"format_version\": 1", "\"format_version\": 7");
    std::fs::write(&marker, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferric"))
        .args(["serve", "--name", "m", "--api", "127.0.0.1:0", "--peer", "127.0.0.1:0", "--data-dir"])
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer"), "{err}");
}

#[test]
fn config_check_refuses_unknown_keys() {
    let d = fast_tempdir();
    let p = d.path().join("bad.toml");
    std::fs::write(&p, "[conductor]\nheartbeat_intervall = 3\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferric")).args(["serve", "--check-config", "--config"]).arg(&p).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("heartbeat_intervall"), "{err}");
    let good = d.path().join("good.toml");
    std::fs::write(&good, TEST_CONFIG).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferric")).args(["serve", "--check-config", "--config"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `ferric bench raft` runs end to end and prints every row of its table with figures in it:
/// the fsync probes (one file; three at once, as the members share the disk) and the commits.
#[test]
fn raft_bench_prints_its_table() {
    let d = fast_tempdir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferric"))
        .args(["bench", "raft", "--seconds", "0.6", "--proposers", "1,4", "--dir"])
        .arg(d.path())
        .env("FERRIC_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let row = |prefix: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no row {prefix:?} in\n{text}"));
        line.split('|').map(|c| c.trim().to_string()).collect()
    };
    for prefix in ["| fdatasync of 1 entries", "| fdatasync of 4 entries", "| fdatasync of 1 entry, 3 files at once", "| commits, 1 proposer(s)", "| commits, 4 proposer(s)"] {
        let cells = row(prefix);
        let ops: f64 = cells[2].split_whitespace().next().unwrap().replace(',', "").parse().unwrap_or(0.0);
        assert!(ops > 0.0, "{prefix}: {cells:?}");
    }
    assert!(row("| commits, 1 proposer, vs 3 files at once")[5].contains(" of "), "{text}");
    // The run directory is removed afterwards.
    let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
