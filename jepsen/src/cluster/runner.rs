//! Runs the members: `ferric serve` children of the harness (so it can kill, pause and reap
//! them), one log per member (stdout and stderr, appended across restarts), process events in
//! `cluster.jsonl`, and health waits through `GET /cluster/status`.

use super::{ClusterEvent, MemberSpec};
use crate::client::ApiClient;
use crate::clock::RunClock;
use crate::history::JsonlWriter;
use crate::nemesis::faketime::FakeClock;
use crate::nemesis::netns;
use crate::nemesis::signal::{self, Signal};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long a member gets to exit after SIGTERM / SIGKILL.
const EXIT_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(200);

/// The binary to run: `--ferric-bin`, else `$CARGO_TARGET_DIR/debug/ferric`, else
/// `target/debug/ferric`.
pub fn ferric_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"))
            .join("debug")
            .join("ferric"),
    };
    if !path.is_file() {
        bail!(
            "{} not found: build it (cargo build --bin ferric) or pass --ferric-bin",
            path.display()
        );
    }
    Ok(path)
}

struct Running {
    child: Child,
    pid: u32,
    /// Set before the harness signals it: its exit is then expected.
    expect_exit: bool,
    paused: bool,
}

pub struct Cluster {
    pub specs: Vec<MemberSpec>,
    bin: PathBuf,
    serve_args: Vec<String>,
    clock: RunClock,
    running: Vec<Option<Running>>,
    events: Mutex<JsonlWriter>,
    event_log: Mutex<Vec<ClusterEvent>>,
}

impl Cluster {
    pub fn new(
        specs: Vec<MemberSpec>,
        bin: PathBuf,
        serve_args: Vec<String>,
        clock: RunClock,
        events_path: &Path,
    ) -> Result<Cluster> {
        for s in &specs {
            std::fs::create_dir_all(&s.data_dir)?;
            for p in [&s.log, &s.clock_offset_file] {
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d)?;
                }
            }
            std::fs::write(&s.clock_offset_file, "0\n")?;
        }
        let n = specs.len();
        Ok(Cluster {
            specs,
            bin,
            serve_args,
            clock,
            running: (0..n).map(|_| None).collect(),
            events: Mutex::new(JsonlWriter::create(events_path)?),
            event_log: Mutex::new(Vec::new()),
        })
    }

    fn event(
        &self,
        i: usize,
        event: &str,
        pid: Option<u32>,
        status: Option<String>,
        expected: bool,
    ) {
        let e = ClusterEvent {
            time: self.clock.now_ns(),
            member: self.specs[i].name.clone(),
            event: event.into(),
            pid,
            status,
            expected,
        };
        if let Err(err) = self.events.lock().expect("events").append(&e) {
            eprintln!("cluster.jsonl: {err:#}");
        }
        self.event_log.lock().expect("events").push(e);
    }

    pub fn events(&self) -> Vec<ClusterEvent> {
        self.event_log.lock().expect("events").clone()
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.running[i].is_some()
    }

    pub fn pid(&self, i: usize) -> Option<u32> {
        self.running[i].as_ref().map(|r| r.pid)
    }

    /// The `ferric serve` command line of member `i` (`join`: a peer address to join through).
    pub fn command_line(&self, i: usize, join: Option<std::net::SocketAddr>) -> Vec<String> {
        let s = &self.specs[i];
        let mut args = vec![
            "serve".to_string(),
            "--name".into(),
            s.name.clone(),
            "--data-dir".into(),
            s.data_dir.display().to_string(),
            "--api".into(),
            s.api.to_string(),
            "--peer".into(),
            s.peer.to_string(),
        ];
        if s.advertised_peer != s.peer {
            args.extend(["--advertise-peer".into(), s.advertised_peer.to_string()]);
        }
        if let Some(j) = join {
            args.extend(["--join".into(), j.to_string()]);
        }
        args.extend(self.serve_args.iter().cloned());
        args
    }

    /// Starts member `i` (it must not be running).
    pub fn start(&mut self, i: usize, join: Option<std::net::SocketAddr>) -> Result<u32> {
        if self.running[i].is_some() {
            bail!("{} already running", self.specs[i].name);
        }
        let s = self.specs[i].clone();
        let args = self.command_line(i, join);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&s.log)
            .with_context(|| format!("open {}", s.log.display()))?;
        writeln!(
            log,
            "==== ferric-jepsen: t={:.3}s start {} {}",
            self.clock.now_ns() as f64 / 1e9,
            self.bin.display(),
            args.join(" ")
        )?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .env("RUST_BACKTRACE", "1")
            .env("FERRIC_TEST_CLOCK_OFFSET_FILE", &s.clock_offset_file)
            .kill_on_drop(true);
        if let Some(ft) = &s.faketime_file {
            let clock = FakeClock {
                library: PathBuf::from(crate::nemesis::faketime::DEBIAN_LIBFAKETIME),
                timestamp_file: ft.clone(),
            };
            cmd.envs(clock.env());
        }
        if let Some(ns) = &s.netns {
            netns::enter_in_child(&mut cmd, ns)?;
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", self.bin.display()))?;
        let pid = child.id().context("child pid")?;
        self.running[i] = Some(Running {
            child,
            pid,
            expect_exit: false,
            paused: false,
        });
        self.event(i, "spawn", Some(pid), None, true);
        Ok(pid)
    }

    /// `kill -9` and reap.
    pub async fn kill(&mut self, i: usize) -> Result<()> {
        if !self.is_running(i) {
            bail!("{} not running", self.specs[i].name)
        }
        self.kill_many(&[i]).await
    }

    /// `kill -9` of every member in `members` that runs, all signalled before any is reaped (so
    /// none outlives another by more than the signals' spacing), then reaped.
    pub async fn kill_many(&mut self, members: &[usize]) -> Result<()> {
        let mut killed = Vec::new();
        for &i in members {
            let Some(mut r) = self.running[i].take() else {
                continue;
            };
            r.expect_exit = true;
            // A failed signal still leaves the child to reap below.
            let sent = signal::send(r.pid, Signal::Kill);
            self.event(i, "kill", Some(r.pid), None, true);
            killed.push((i, r, sent));
        }
        let mut first_error = None;
        for (i, mut r, sent) in killed {
            if let Err(e) = sent {
                first_error.get_or_insert(e);
            }
            match tokio::time::timeout(EXIT_WAIT, r.child.wait()).await {
                Ok(Ok(status)) => self.event(i, "exit", Some(r.pid), Some(describe(&status)), true),
                Ok(Err(e)) => {
                    first_error.get_or_insert(anyhow::Error::from(e).context("reap after SIGKILL"));
                }
                Err(_) => {
                    first_error.get_or_insert(anyhow::anyhow!(
                        "{} not reaped {EXIT_WAIT:?} after SIGKILL",
                        self.specs[i].name
                    ));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub fn pause(&mut self, i: usize) -> Result<()> {
        let r = self.running[i].as_mut().context("not running")?;
        signal::send(r.pid, Signal::Stop)?;
        r.paused = true;
        let pid = r.pid;
        self.event(i, "stop", Some(pid), None, true);
        Ok(())
    }

    pub fn resume(&mut self, i: usize) -> Result<()> {
        let r = self.running[i].as_mut().context("not running")?;
        signal::send(r.pid, Signal::Cont)?;
        r.paused = false;
        let pid = r.pid;
        self.event(i, "cont", Some(pid), None, true);
        Ok(())
    }

    pub fn is_paused(&self, i: usize) -> bool {
        self.running[i].as_ref().is_some_and(|r| r.paused)
    }

    /// Notices members that exited on their own (crashes) and records them.
    pub fn reap_unexpected(&mut self) -> Vec<String> {
        let mut crashed = Vec::new();
        for i in 0..self.running.len() {
            let exited = match self.running[i].as_mut() {
                Some(r) => match r.child.try_wait() {
                    Ok(Some(status)) => Some((r.pid, describe(&status), r.expect_exit)),
                    _ => None,
                },
                None => None,
            };
            if let Some((pid, status, expected)) = exited {
                self.running[i] = None;
                self.event(i, "exit", Some(pid), Some(status), expected);
                if !expected {
                    crashed.push(self.specs[i].name.clone());
                }
            }
        }
        crashed
    }

    /// SIGCONT, then SIGTERM every member, SIGKILL what is left after the wait.
    pub async fn stop_all(&mut self) {
        for i in 0..self.running.len() {
            let Some(mut r) = self.running[i].take() else {
                continue;
            };
            r.expect_exit = true;
            let _ = signal::send(r.pid, Signal::Cont);
            let _ = signal::send(r.pid, Signal::Term);
            self.event(i, "shutdown", Some(r.pid), None, true);
            let status = match tokio::time::timeout(EXIT_WAIT, r.child.wait()).await {
                Ok(Ok(s)) => describe(&s),
                _ => {
                    let _ = signal::send(r.pid, Signal::Kill);
                    match tokio::time::timeout(EXIT_WAIT, r.child.wait()).await {
                        Ok(Ok(s)) => format!("{} after SIGKILL", describe(&s)),
                        _ => "not reaped".into(),
                    }
                }
            };
            self.event(i, "exit", Some(r.pid), Some(status), true);
        }
    }

    /// Polls `GET /cluster/status` on member `via` until it names a leader and lists exactly
    /// `expected` (by name), or the deadline passes. Returns the last status.
    pub async fn wait_healthy(
        &mut self,
        api: &ApiClient,
        via: usize,
        expected: &[String],
        deadline: Duration,
    ) -> Result<Value> {
        let until = Instant::now() + deadline;
        let mut last = Value::Null;
        loop {
            let crashed = self.reap_unexpected();
            if !self.is_running(via) {
                bail!(
                    "{} is not running (crashed: {crashed:?}); see {}",
                    self.specs[via].name,
                    self.specs[via].log.display()
                );
            }
            if let Ok(r) = api.cluster_status(self.specs[via].api).await {
                if let Some(v) = r.json().filter(|_| r.status == 200) {
                    let mut names: Vec<String> = v["members"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|m| m["name"].as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    names.sort();
                    let mut want = expected.to_vec();
                    want.sort();
                    if !v["leader"].is_null() && names == want {
                        return Ok(v);
                    }
                    last = v;
                }
            }
            if Instant::now() > until {
                bail!("{}: no healthy cluster of {expected:?} within {deadline:?}; last status {last}", self.specs[via].name);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn describe(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (_, Some(s)) => format!("signal {s}"),
        _ => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::member::proxy_plan;

    /// A stand-in for `ferric`: a shell script that logs its arguments and sleeps.
    fn fake_ferric(dir: &Path) -> PathBuf {
        let p = dir.join("ferric");
        std::fs::write(&p, "#!/bin/sh\necho \"fake ferric $@\"\nexec sleep 30\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[tokio::test]
    async fn starts_kills_pauses_and_records_process_events() {
        let dir = tempfile::tempdir().unwrap();
        let bin = fake_ferric(dir.path());
        let specs = proxy_plan(2, 27900, dir.path());
        let mut c = Cluster::new(
            specs,
            bin,
            vec!["--test-timeouts".into()],
            RunClock::start(),
            &dir.path().join("cluster.jsonl"),
        )
        .unwrap();
        let line = c.command_line(1, Some("127.0.0.11:27902".parse().unwrap()));
        assert_eq!(
            line.join(" "),
            format!(
                "serve --name m2 --data-dir {} --api 127.0.0.12:27910 --peer 127.0.0.12:27911 --advertise-peer 127.0.0.12:27912 --join 127.0.0.11:27902 --test-timeouts",
                dir.path().join("data/m2").display()
            )
        );
        c.start(0, None).unwrap();
        c.start(1, None).unwrap();
        assert!(c.start(1, None).is_err());
        // The stand-in has logged its arguments before it is killed.
        let log_path = dir.path().join("logs/m1.log");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("fake ferric serve --name m1")
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c.pause(1).unwrap();
        assert!(c.is_paused(1));
        c.resume(1).unwrap();
        c.kill(0).await.unwrap();
        assert!(!c.is_running(0));
        // A crash: kill member 2 behind the harness's back.
        signal::send(c.pid(1).unwrap(), Signal::Kill).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut crashed = Vec::new();
        while crashed.is_empty() && Instant::now() < deadline {
            crashed = c.reap_unexpected();
            tokio::task::yield_now().await;
        }
        assert_eq!(crashed, vec!["m2".to_string()]);
        c.start(0, None).unwrap();
        c.stop_all().await;
        let kinds: Vec<(String, String, bool)> = c
            .events()
            .iter()
            .map(|e| (e.member.clone(), e.event.clone(), e.expected))
            .collect();
        assert!(
            kinds.contains(&("m2".into(), "exit".into(), false)),
            "{kinds:?}"
        );
        assert!(kinds.contains(&("m1".into(), "exit".into(), true)));
        assert_eq!(
            crate::history::read_jsonl::<ClusterEvent>(&dir.path().join("cluster.jsonl")).unwrap(),
            c.events()
        );
        let log = std::fs::read_to_string(dir.path().join("logs/m1.log")).unwrap();
        assert!(log.contains("fake ferric serve --name m1"), "{log}");
        assert_eq!(
            log.matches("==== ferric-jepsen").count(),
            2,
            "restarts append"
        );
        assert!(ferric_binary(Some(&dir.path().join("nope"))).is_err());
    }
}
