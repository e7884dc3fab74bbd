//! Negative controls: the harness must catch each deliberately unsafe behaviour of a `ferric`
//! built with the `unsafe-test-switches` feature (`ferric-unsafe`; release builds do not have
//! the switches). Each test runs real members under the faults that expose its switch, then
//! fails loudly — with the run's summary — unless the checker that must catch it says `false`.
//!
//! They need that binary (`FERRIC_UNSAFE_BIN`), root (network namespaces) and a little over a
//! minute each, so they are ignored by default:
//! `FERRIC_UNSAFE_BIN=… cargo test -p ferric-jepsen --test negative_controls -- --ignored --test-threads=1`
//! (`scripts/jepsen-ci.sh` runs them). Run dirs go to `$JEPSEN_RUNS/control-<name>` when
//! `JEPSEN_RUNS` is set, else to a new temporary directory (kept, to be looked at).
//!
//! (The checkers' own negative controls — planted stale reads, stale BMC commands, wrong and lost
//! transitions, lost acknowledged adds — are unit tests beside each checker and in
//! `synthetic.rs`; they need no server.)

use clap::Parser;
use ferric_jepsen::cli::{Cli, Command};
use serde_json::Value;
use std::path::PathBuf;

/// What a control run left: the verdicts and the summary text.
struct Control {
    dir: PathBuf,
    results: Value,
    summary: String,
}

impl Control {
    fn checker(&self, name: &str) -> &Value {
        self.results["checkers"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["checker"] == name))
            .unwrap_or_else(|| panic!("no checker {name} in {}", self.dir.display()))
    }

    fn verdict(&self, name: &str) -> &Value {
        &self.checker(name)["valid"]
    }

    fn anomaly_kinds(&self, name: &str) -> Vec<String> {
        self.checker(name)["anomalies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["kind"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fails the test, with the summary, unless `checker` said `false` with an anomaly `kind`.
    fn must_catch(&self, checker: &str, kind: &str) {
        let verdict = self.verdict(checker);
        let kinds = self.anomaly_kinds(checker);
        assert!(
            *verdict == Value::Bool(false) && kinds.iter().any(|k| k == kind),
            "NEGATIVE CONTROL NOT CAUGHT: {checker} said {verdict} (anomalies {kinds:?}), \
             expected false with a {kind} anomaly.\nrun dir: {}\n{}",
            self.dir.display(),
            self.summary
        );
    }
}

/// Runs `ferric-jepsen test` against `FERRIC_UNSAFE_BIN` with `args`.
fn run_control(name: &str, args: &[&str]) -> Control {
    // The safe twins (`safe-…`) run the plain `ferric` (FERRIC_BIN, else next to the unsafe one).
    let bin = std::env::var_os("FERRIC_UNSAFE_BIN")
        .map(PathBuf::from)
        .expect("FERRIC_UNSAFE_BIN: a ferric built with --features unsafe-test-switches");
    let bin = match (name.starts_with("safe-"), std::env::var_os("FERRIC_BIN")) {
        (false, _) => bin,
        (true, Some(b)) => PathBuf::from(b),
        (true, None) => bin.with_file_name("ferric"),
    };
    let dir = match std::env::var_os("JEPSEN_RUNS") {
        Some(runs) => {
            let d = PathBuf::from(runs).join(format!("control-{name}"));
            let _ = std::fs::remove_dir_all(&d);
            d
        }
        None => tempfile::Builder::new()
            .prefix(&format!("ferric-control-{name}-"))
            .tempdir()
            .unwrap()
            .keep(),
    };
    let mut argv = vec![
        "ferric-jepsen",
        "test",
        "--ferric-bin",
        bin.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--net",
        "netns",
    ];
    argv.extend_from_slice(args);
    let Command::Test(mut t) = Cli::parse_from(&argv).command else {
        unreachable!()
    };
    t.command_line = Some(argv.join(" "));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The verdict is read from results.json; a run that could not be carried out has none.
    if let Err(e) = rt.block_on(ferric_jepsen::run::run_test(*t)) {
        eprintln!("control {name}: run error: {e:#}");
    }
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("control {name}: no {f} in {}: {e}", dir.display()))
    };
    let results = serde_json::from_str(&read("results.json")).unwrap();
    let summary = read("summary.txt");
    eprintln!("control {name}: run dir {}\n{summary}", dir.display());
    Control {
        dir,
        results,
        summary,
    }
}

/// Reads skip the read index: a member cut off from the leader answers from its own stale copy.
#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (ferric-unsafe), root, about a minute"]
fn stale_reads_under_partition_are_not_linearizable() {
    let c = run_control(
        "stale-reads",
        &[
            "--seed",
            "11",
            "--time-limit",
            "50",
            "--unsafe",
            "stale-reads",
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--shapes",
            "isolate-one,halves",
        ],
    );
    c.must_catch("linearizable-register", "nonlinearizable");
}

/// Pauses in the middle of actions, held past the conductor heartbeat timeout, on the lock
/// workload: shared by the `skip_lock_check` control and its safe twin.
const PAUSE_MID_ACTION: &[&str] = &[
    "--seed",
    "12",
    "--time-limit",
    "45",
    "--bmc",
    "observe",
    "--workload",
    "lock",
    "--nemesis",
    "pause-action",
    "--hold-ms",
    "12000,13000",
    "--interval-ms",
    "2000",
];

/// The conductor does not check that its lock generation is still current before acting. The
/// `pause-action` nemesis pauses a member while the fake BMC holds the first request of its
/// action, for longer than the conductor heartbeat timeout: another member takes the node over
/// and powers it with a newer generation; on SIGCONT the stale holder carries on and its command
/// reaches the BMC after the newer one. (The same run against the safe `ferric` stays `true`:
/// its lock check refuses the stale action.)
#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (ferric-unsafe), root, about a minute"]
fn skipping_the_lock_check_double_actuates_under_pause() {
    let c = run_control(
        "skip-lock-check",
        &[
            PAUSE_MID_ACTION,
            &["--unsafe", "skip-lock-check", "--power-targets", "on,off"],
        ]
        .concat(),
    );
    c.must_catch("bmc-fencing", "stale-command-accepted");
    c.must_catch("lock", "stale-holder-acted");
}

/// The safe twin of the control above: the plain `ferric` under the same pauses in the middle
/// of an action, reboots included (two BMC requests: the pause lands between them). The lock
/// check refuses the stale holder's next action, and the heartbeat lease — checked on every poll
/// of a driver call, with a new epoch once it has lapsed — drops the rest of the action it was
/// in (the power-on half of a reboot) when it resumes. Nothing stale reaches the BMC.
#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (its directory holds ferric) or FERRIC_BIN, root, about a minute"]
fn the_lock_and_the_lease_fence_a_holder_paused_mid_action() {
    let c = run_control(
        "safe-pause-action",
        &[PAUSE_MID_ACTION, &["--power-targets", "on,off,reboot"]].concat(),
    );
    for checker in ["lock", "bmc-fencing", "health"] {
        assert_eq!(
            c.verdict(checker),
            &serde_json::Value::Bool(true),
            "{checker} in {}:\n{}",
            c.dir.display(),
            c.summary
        );
    }
    // The pauses did land in the middle of actions (else the run proves nothing).
    let history = std::fs::read_to_string(c.dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("mid-action (GET"),
        "no pause landed in an action: {}",
        c.dir.display()
    );
}

/// No write-ahead log (writes reach disk only at the periodic writeback) and `kill -9` of every
/// member at once: each restarts from its last writeback, and what was acknowledged since is
/// gone. The `health` checker may also say `false` here (a member restarting with a state older
/// than its peers' may crash); that is the same planted bug seen another way, and not what this
/// control asserts.
#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (ferric-unsafe), root, about a minute"]
fn raft_log_without_fsync_loses_acknowledged_writes_on_kill() {
    let c = run_control(
        "no-fsync",
        &[
            "--seed",
            "13",
            "--time-limit",
            "45",
            "--unsafe",
            "no-fsync",
            "--workload",
            "set",
            "--nemesis",
            "kill-all",
            "--hold-ms",
            "2000,4000",
            "--interval-ms",
            "10000",
        ],
    );
    c.must_catch("lost-ack", "lost-ack");
}

/// A finished deploy goes to `available` instead of `active`: the state-machine checker sees an
/// acknowledged `deploy` that never led anywhere (or a path the table does not have).
#[test]
#[ignore = "needs FERRIC_UNSAFE_BIN (ferric-unsafe), root, about a minute"]
fn a_wrong_transition_is_caught_by_the_state_machine_checker() {
    let c = run_control(
        "wrong-transition",
        &[
            "--seed",
            "14",
            "--time-limit",
            "40",
            "--unsafe",
            "wrong-transition",
            "--workload",
            "provision",
            "--nemesis",
            "partition",
        ],
    );
    let kinds = c.anomaly_kinds("provision-fsm");
    let kind = if kinds.iter().any(|k| k == "illegal-transition") {
        "illegal-transition"
    } else {
        "lost-transition"
    };
    c.must_catch("provision-fsm", kind);
}
