//! Test support: real `ferric serve` processes on OS-chosen ports, and a small REST client.
//! Nothing here sleeps to wait: every wait polls with a deadline.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const VERSION: &str = "latest";

/// A data directory on tmpfs when available (fast), else the temp dir.
pub fn fast_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::Builder::new().prefix("ferric-test-").tempdir_in(shm).expect("tempdir in /dev/shm")
    } else {
        tempfile::tempdir().expect("tempdir")
    }
}

/// Test configuration: short conductor heartbeats so offline detection and take-over are quick.
pub const TEST_CONFIG: &str = r#"
[conductor]
heartbeat_interval = 0.5
heartbeat_timeout = 3.0
node_locked_retry_interval = 0.2
check_provision_state_interval = 0.5
sync_power_state_interval = 0.0

[raft]
heartbeat_interval_ms = 50
election_timeout_min_ms = 300
election_timeout_max_ms = 600
snapshot_logs_since_last = 2000
max_in_snapshot_log_to_keep = 100
"#;

pub struct Member {
    pub name: String,
    pub dir: PathBuf,
    pub api: String,
    pub peer: String,
    pub config: PathBuf,
    child: Option<Child>,
    pub log: PathBuf,
    starts: u32,
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferric")
}

impl Member {
    /// Starts a member; `join` is another member's peer address.
    pub fn start(name: &str, root: &Path, config: &str, join: Option<&str>) -> Member {
        let dir = root.join(name);
        std::fs::create_dir_all(root).unwrap();
        let cfg_path = root.join(format!("{name}.toml"));
        std::fs::write(&cfg_path, config).unwrap();
        let mut m = Member {
            name: name.to_string(),
            dir,
            api: "127.0.0.1:0".into(),
            peer: "127.0.0.1:0".into(),
            config: cfg_path,
            child: None,
            log: root.join(format!("{name}.log")),
            starts: 0,
        };
        m.spawn(join, Duration::from_secs(120));
        m
    }

    fn spawn(&mut self, join: Option<&str>, timeout: Duration) {
        self.starts += 1;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--name", &self.name, "--api", &self.api, "--peer", &self.peer, "--config"])
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("FERRIC_LOG", "info,openraft=warn")
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(j) = join {
            cmd.args(["--join", j]);
        }
        let mut child = cmd.spawn().expect("spawn ferric");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(line) if line.starts_with("ferric: ready") => {
                    for part in line.split_whitespace() {
                        if let Some(a) = part.strip_prefix("api=") {
                            self.api = a.to_string();
                        }
                        if let Some(p) = part.strip_prefix("peer=") {
                            self.peer = p.to_string();
                        }
                    }
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    panic!("member {} did not become ready; log:\n{}", self.name, tail(&log, 60));
                }
            }
        }
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.api)
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a graceful exit (bounded).
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        unsafe_kill(c.id(), 15);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// Restart on the same addresses and data directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn(None, Duration::from_secs(120));
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status();
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A REST client with Ironic's headers.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
}

impl Default for Api {
    fn default() -> Self {
        Api { http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap() }
    }
}

impl Api {
    pub async fn req(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, url).header("X-OpenStack-Ironic-API-Version", VERSION);
        if let Some(b) = body {
            r = r.json(&b);
        }
        match r.send().await {
            Ok(resp) => {
                let st = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                (st, serde_json::from_str(&text).unwrap_or(Value::String(text)))
            }
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    pub async fn get(&self, url: &str) -> (u16, Value) {
        self.req(reqwest::Method::GET, url, None).await
    }

    pub async fn post(&self, url: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::POST, url, Some(body)).await
    }

    pub async fn put(&self, url: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::PUT, url, Some(body)).await
    }

    pub async fn patch(&self, url: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::PATCH, url, Some(body)).await
    }

    pub async fn delete(&self, url: &str) -> (u16, Value) {
        self.req(reqwest::Method::DELETE, url, None).await
    }

    pub async fn create_node(&self, base: &str, name: &str) -> (u16, Value) {
        self.post(&format!("{base}/v1/nodes"), json!({"driver": "fake-hardware", "name": name})).await
    }

    pub async fn status(&self, base: &str) -> Option<Value> {
        let (st, v) = self.get(&format!("{base}/cluster/status")).await;
        (st == 200).then_some(v)
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// Starts members a, b and c (b and c join through a) and waits until all three are voters.
pub async fn start_three(api: &Api, root: &Path, config: &str) -> [Member; 3] {
    let a = Member::start("a", root, config, None);
    let b = Member::start("b", root, config, Some(&a.peer));
    let c = Member::start("c", root, config, Some(&a.peer));
    wait_for_members(api, &a.url(), &["a", "b", "c"]).await;
    [a, b, c]
}

/// The name of a leader other than `old`, once the member at `base` reports one.
pub async fn wait_for_new_leader(api: &Api, base: &str, old: &str) -> String {
    eventually(&format!("a new leader after {old}"), Duration::from_secs(30), || async {
        let l = api.status(base).await?["leader"].as_str()?.to_string();
        (l != old).then_some(l)
    })
    .await
}

/// The leader's name as a member reports it, once every listed member is a voter.
pub async fn wait_for_members(api: &Api, base: &str, names: &[&str]) -> Value {
    eventually(&format!("members {names:?} as voters with a leader"), Duration::from_secs(120), || async {
        let s = api.status(base).await?;
        s.get("leader")?.as_str()?;
        let members = s["members"].as_array()?;
        let ok = names.iter().all(|n| members.iter().any(|m| m["name"] == *n && m["role"] == "voter"))
            && members.len() == names.len();
        ok.then_some(s)
    })
    .await
}
