//! `ferric-jepsen test`: one run from seed to verdict. Setup (members, fake BMC, fixtures),
//! workers under the fault schedule, final heal, final reads from every member, shutdown, then
//! the offline checkers and the report — the same code `check <run dir>` runs.

use crate::bmc::FakeBmc;
use crate::checker::{check_all, CheckParams, RunData};
use crate::cli::{NetMode, Profile, TestArgs, UnsafeSwitch, WorkloadKind};
use crate::client::{ApiClient, Connector, HttpClient};
use crate::clock::RunClock;
use crate::cluster::member::{netns_plan, proxy_plan};
use crate::cluster::{ferric_binary, test_config_toml, Cluster, UnsafeSwitches};
use crate::history::{JsonlWriter, Recorder};
use crate::nemesis::faketime::FakeClock;
use crate::nemesis::netns::{listener_in, NetnsNet};
use crate::nemesis::{
    schedule, FaultClass, Nemesis, Net, Proxy, ProxyRoute, ScheduleConfig, Shape,
};
use crate::report::{write_report, RunMeta};
use crate::workload::{final_reads, run_workers, setup_fixtures, Ctx, WorkerPlan};
use anyhow::{Context, Result};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const HEALTHY_WITHIN: Duration = Duration::from_secs(60);
/// Nodes per workload and member (so every member owns some).
const FIXTURE_NODES: usize = 2;

/// Writes a run's recorded data in the run-dir layout (used for synthetic runs).
pub fn save_run_data(dir: &Path, run: &RunData) -> Result<()> {
    let mut h = JsonlWriter::create(&dir.join("history.jsonl"))?;
    for op in &run.history {
        h.append(op)?;
    }
    let mut b = JsonlWriter::create(&dir.join("bmc.jsonl"))?;
    for e in &run.bmc {
        b.append(e)?;
    }
    let mut c = JsonlWriter::create(&dir.join("cluster.jsonl"))?;
    for e in &run.cluster {
        c.append(e)?;
    }
    std::fs::write(
        dir.join("params.json"),
        serde_json::to_string_pretty(&run.params)?,
    )?;
    Ok(())
}

/// The fault classes every profile's schedule must include (when enabled).
const REQUIRED_FAULTS: [FaultClass; 5] = [
    FaultClass::Partition,
    FaultClass::Kill,
    FaultClass::Pause,
    FaultClass::Clock,
    FaultClass::Member,
];

/// The profile's schedule settings.
pub fn schedule_config(args: &TestArgs, members: usize, secs: u64) -> ScheduleConfig {
    let (classes, shapes, interval, hold) = match args.profile {
        Profile::Ci => (
            REQUIRED_FAULTS.to_vec(),
            vec![Shape::Halves, Shape::IsolateOne, Shape::OneWay],
            5_000,
            (2_000, 10_000),
        ),
        Profile::Soak => (
            vec![
                FaultClass::Partition,
                FaultClass::Kill,
                FaultClass::KillAll,
                FaultClass::Pause,
                FaultClass::PauseAction,
                FaultClass::Clock,
                FaultClass::Member,
                FaultClass::Loss,
                FaultClass::Delay,
            ],
            Shape::ALL.to_vec(),
            10_000,
            (2_000, 15_000),
        ),
    };
    let classes = if args.nemesis.is_empty() {
        classes
    } else {
        args.nemesis.clone()
    };
    // Delay needs the proxy (no `tc netem` in this kernel).
    let netns = args.net.unwrap_or(if args.profile == Profile::Ci {
        NetMode::Proxy
    } else {
        NetMode::Netns
    }) == NetMode::Netns;
    let classes: Vec<FaultClass> = classes
        .into_iter()
        .filter(|c| !(netns && *c == FaultClass::Delay))
        .collect();
    let hold = match args.hold_ms.as_slice() {
        [a, b] => ((*a).min(*b), (*a).max(*b)),
        _ => hold,
    };
    ScheduleConfig {
        members,
        duration_ms: secs * 1000,
        interval_ms: args.interval_ms.unwrap_or(interval),
        hold_min_ms: hold.0,
        hold_max_ms: hold.1,
        required: REQUIRED_FAULTS
            .into_iter()
            .filter(|c| classes.contains(c))
            .collect(),
        classes,
        max_clock: if args.profile == Profile::Ci {
            1
        } else {
            usize::MAX
        },
        max_member: if args.profile == Profile::Ci {
            1
        } else {
            usize::MAX
        },
        shapes: if args.shapes.is_empty() {
            shapes
        } else {
            args.shapes.clone()
        },
    }
}

fn random_seed() -> u64 {
    use rand::RngCore;
    rand::rngs::OsRng.next_u64() >> 11 // fits a JSON number exactly
}

pub async fn run_test(args: TestArgs) -> Result<bool> {
    let seed = args.seed.unwrap_or_else(random_seed);
    let members = args
        .members
        .unwrap_or(if args.profile == Profile::Ci { 3 } else { 5 });
    let net_mode = args.net.unwrap_or(if args.profile == Profile::Ci {
        NetMode::Proxy
    } else {
        NetMode::Netns
    });
    let secs = args.time_limit.unwrap_or(if args.profile == Profile::Ci {
        180
    } else {
        3600
    });
    println!("ferric-jepsen: seed {seed}");
    let started = RunMeta::now_utc();
    let dir: PathBuf = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("jepsen-runs").join(format!("{}-{seed}", started.replace(':', "")))
    });
    prepare_run_dir(&dir)?;
    println!("ferric-jepsen: run dir {}", dir.display());
    if !matches!(args.hold_ms.len(), 0 | 2) {
        anyhow::bail!("--hold-ms takes MIN,MAX");
    }
    let bin = ferric_binary(args.ferric_bin.as_deref())?;
    let cfg = schedule_config(&args, members, secs);
    let steps = schedule(seed, &cfg);
    std::fs::write(
        dir.join("schedule.json"),
        serde_json::to_string_pretty(&steps)?,
    )?;
    let mut meta = RunMeta {
        seed,
        commit: RunMeta::current_commit(),
        flags: args
            .command_line
            .clone()
            .unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" ")),
        profile: format!("{:?}", args.profile).to_lowercase(),
        members,
        net: format!("{net_mode:?}").to_lowercase(),
        bmc_mode: format!("{:?}", args.bmc).to_lowercase(),
        started,
        duration_s: 0.0,
    };
    let all_names: Vec<String> = (1..=members).map(|i| format!("m{i}")).collect();
    let params = CheckParams {
        takeover_bound_ms: args.takeover_bound_ms,
        expected_members: Some(all_names.clone()),
        ..CheckParams::default()
    };
    std::fs::write(
        dir.join("params.json"),
        serde_json::to_string_pretty(&params)?,
    )?;
    std::fs::write(dir.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;

    let clock = RunClock::start();
    let recorder = Arc::new(Recorder::new(clock, &dir.join("history.jsonl"))?);

    // Network, members' addresses, client connector, BMC listener.
    let (net, mut specs, connector, bmc_listener) = match net_mode {
        NetMode::Proxy => {
            let specs = proxy_plan(members, args.base_port, &dir);
            let routes = specs
                .iter()
                .map(|s| ProxyRoute {
                    member: s.index,
                    listen: s.advertised_peer,
                    upstream: s.peer,
                })
                .collect();
            let sources: HashMap<_, _> = specs.iter().map(|s| (s.source_ip(), s.index)).collect();
            let proxy = Proxy::start(routes, sources, seed).await?;
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            (Net::Proxy(proxy), specs, Connector::Plain, l)
        }
        NetMode::Netns => {
            let net = NetnsNet::create(&format!("fj{}-", std::process::id()), members)?;
            let specs = netns_plan(&net, &dir);
            let harness = NetnsNet::ns_path(&net.harness_ns());
            let l = listener_in(
                &harness,
                std::net::SocketAddr::from((NetnsNet::harness_ip(), 8000)),
            )?;
            (
                Net::Netns(net),
                specs,
                Connector::Netns(harness),
                tokio::net::TcpListener::from_std(l)?,
            )
        }
    };
    let bmc = FakeBmc::start(
        bmc_listener,
        args.bmc,
        clock,
        Duration::ZERO,
        Some(&dir.join("bmc.jsonl")),
    )?;
    if cfg.classes.contains(&FaultClass::Clock) && FakeClock::available() {
        std::fs::create_dir_all(dir.join("clock"))?;
        for s in specs.iter_mut() {
            let f = dir.join("clock").join(format!("{}.faketime", s.name));
            FakeClock::new(&f)?;
            s.faketime_file = Some(f);
        }
    }
    let api = ApiClient::new(HttpClient {
        connector,
        ..HttpClient::default()
    });
    let ctx = Ctx {
        api: api.clone(),
        recorder: recorder.clone(),
        members: specs.iter().map(|s| (s.name.clone(), s.api)).collect(),
    };
    let join = specs[0].advertised_peer;
    let switches = UnsafeSwitches {
        no_fsync: args.unsafe_switches.contains(&UnsafeSwitch::NoFsync),
        stale_reads: args.unsafe_switches.contains(&UnsafeSwitch::StaleReads),
        skip_lock_check: args.unsafe_switches.contains(&UnsafeSwitch::SkipLockCheck),
        wrong_transition: args
            .unsafe_switches
            .contains(&UnsafeSwitch::WrongTransition),
    };
    let config = dir.join("ferric.toml");
    std::fs::write(
        &config,
        test_config_toml(&switches, net_mode == NetMode::Netns),
    )?;
    let mut serve_args = vec!["--config".to_string(), config.display().to_string()];
    serve_args.extend(args.serve_args.iter().cloned());
    let mut cluster = Cluster::new(specs, bin, serve_args, clock, &dir.join("cluster.jsonl"))?;

    let outcome = drive(
        &args,
        &mut cluster,
        &net,
        &api,
        &recorder,
        &ctx,
        &bmc,
        join,
        &steps,
        seed,
        secs,
        &all_names,
    )
    .await;
    for name in cluster.reap_unexpected() {
        recorder.nemesis(
            "crash",
            serde_json::json!({"fault": "crash", "phase": "instant", "member": name}),
        );
    }
    cluster.stop_all().await;
    if let Net::Proxy(p) = &net {
        let (accepted, unidentified, resets) = p.counters();
        recorder.nemesis("proxy-stats", serde_json::json!({"fault": "stats", "phase": "instant", "accepted": accepted, "unidentified": unidentified, "resets": resets}));
        if unidentified > 0 {
            eprintln!(
                "ferric-jepsen: WARNING: {unidentified} of {accepted} peer connections came from an unknown source IP: \
                 partitions could not tell senders apart (ferric must bind outgoing peer sockets to its --peer IP); use --net netns"
            );
        }
    }
    drop(net);
    meta.duration_s = clock.now_ns() as f64 / 1e9;
    std::fs::write(dir.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
    if let Err(e) = &outcome {
        eprintln!("ferric-jepsen: run aborted: {e:#}");
        recorder.nemesis(
            "aborted",
            serde_json::json!({"fault": "aborted", "phase": "instant", "error": format!("{e:#}")}),
        );
    }
    if let Some(e) = recorder.write_error() {
        anyhow::bail!("history not written: {e}");
    }
    let run = RunData::load(&dir)?;
    let results = check_all(&run);
    let tally = write_report(&dir, &meta, &run, &results)?;
    print!("{}", std::fs::read_to_string(dir.join("summary.txt"))?);
    outcome?;
    Ok(tally.failed == 0)
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    args: &TestArgs,
    cluster: &mut Cluster,
    net: &Net,
    api: &ApiClient,
    recorder: &Arc<Recorder>,
    ctx: &Ctx,
    bmc: &FakeBmc,
    join: std::net::SocketAddr,
    steps: &[crate::nemesis::Step],
    seed: u64,
    secs: u64,
    all_names: &[String],
) -> Result<()> {
    // Bootstrap the first member, then join the others through it.
    cluster.start(0, None)?;
    cluster
        .wait_healthy(api, 0, &all_names[..1], HEALTHY_WITHIN)
        .await
        .context("first member")?;
    for i in 1..cluster.specs.len() {
        cluster.start(i, Some(join))?;
        let listed = cluster
            .wait_healthy(api, 0, &all_names[..=i], Duration::from_secs(10))
            .await;
        if listed.is_err() {
            let s = cluster.specs[i].clone();
            let _ = api
                .add_member(
                    cluster.specs[0].api,
                    &s.name,
                    &s.advertised_peer.to_string(),
                    &s.api.to_string(),
                )
                .await;
        }
        cluster
            .wait_healthy(api, 0, &all_names[..=i], HEALTHY_WITHIN)
            .await
            .with_context(|| format!("join {}", all_names[i]))?;
    }
    let wl = &args.workload;
    let mut fx = setup_fixtures(
        ctx,
        FIXTURE_NODES * cluster.specs.len(),
        wl.contains(&WorkloadKind::Register),
        wl.contains(&WorkloadKind::Lock),
        wl.contains(&WorkloadKind::Provision),
        bmc.addr(),
    )
    .await
    .context("fixtures")?;
    fx.bmc = Some(bmc.handle());
    let fx = Arc::new(fx);
    recorder.nemesis(
        "setup-done",
        serde_json::json!({"fault": "setup", "phase": "instant"}),
    );

    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let plan = WorkerPlan {
        concurrency: args.concurrency,
        rate: args.rate,
        workloads: wl.clone(),
        power_targets: args.power_targets.clone(),
        seed,
    };
    let workers = tokio::spawn(run_workers(ctx.clone(), fx.clone(), plan, until));
    let mut nemesis = Nemesis {
        cluster,
        net,
        api,
        recorder,
        removed: BTreeSet::new(),
        join,
        bmc: Some(bmc),
        paused: HashMap::new(),
    };
    nemesis.run(steps, start).await;
    let (reg, _) = workers.await.context("workers")?;
    nemesis.heal_all().await?;
    let healthy = nemesis
        .cluster
        .wait_healthy(api, 0, all_names, HEALTHY_WITHIN)
        .await;
    if let Err(e) = &healthy {
        recorder.nemesis("not-healthy", serde_json::json!({"fault": "unhealthy", "phase": "instant", "error": format!("{e:#}")}));
    }
    let first_process = recorder.next_client_process();
    final_reads(ctx, &fx, &reg, wl, first_process).await;
    for name in nemesis.cluster.reap_unexpected() {
        recorder.nemesis(
            "crash",
            serde_json::json!({"fault": "crash", "phase": "instant", "member": name}),
        );
    }
    Ok(())
}

/// Creates the run dir. An earlier run left in it (its data dirs would make the members resume
/// that run's cluster) is replaced; a non-empty directory that is not a run dir is refused.
fn prepare_run_dir(dir: &std::path::Path) -> Result<()> {
    let non_empty = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if non_empty {
        let earlier_run = ["schedule.json", "meta.json", "history.jsonl", "data"]
            .iter()
            .any(|f| dir.join(f).exists());
        if !earlier_run {
            anyhow::bail!(
                "{} exists and is not a run dir of ferric-jepsen: choose another --out",
                dir.display()
            );
        }
        println!("ferric-jepsen: replacing the earlier run in {}", dir.display());
        std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bmc::BmcMode;
    use clap::Parser;

    #[test]
    fn ci_profile_schedule_fits_the_budget() {
        let cli = crate::cli::Cli::parse_from(["ferric-jepsen", "test", "--seed", "5"]);
        let crate::cli::Command::Test(args) = cli.command else {
            panic!()
        };
        let cfg = schedule_config(&args, 3, 180);
        let steps = schedule(5, &cfg);
        assert!(steps.iter().all(|s| s.at_ms + s.hold_ms <= 180_000));
        assert_eq!(
            cfg.shapes,
            vec![Shape::Halves, Shape::IsolateOne, Shape::OneWay]
        );
        assert_eq!(args.bmc, BmcMode::Observe);
        assert_eq!(args.workload.len(), 4);
    }

    #[test]
    fn soak_profile_has_every_fault_but_delay_in_namespaces() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["ferric-jepsen", "test", "--profile", "soak", "--seed", "9"];
            argv.extend_from_slice(extra);
            let crate::cli::Command::Test(args) = crate::cli::Cli::parse_from(argv).command
            else {
                panic!()
            };
            args
        };
        let cfg = schedule_config(&parse(&[]), 5, 3600);
        for c in [
            FaultClass::KillAll,
            FaultClass::PauseAction,
            FaultClass::Loss,
            FaultClass::Member,
        ] {
            assert!(cfg.classes.contains(&c), "{c:?}");
        }
        assert!(!cfg.classes.contains(&FaultClass::Delay), "no tc netem");
        let steps = schedule(9, &cfg);
        assert!(steps
            .iter()
            .any(|s| matches!(s.fault, crate::nemesis::Fault::PauseAction { .. })));
        assert!(steps
            .iter()
            .any(|s| matches!(s.fault, crate::nemesis::Fault::KillAll)));
        let proxy = schedule_config(&parse(&["--net", "proxy"]), 5, 3600);
        assert!(proxy.classes.contains(&FaultClass::Delay));
        let held = schedule_config(
            &parse(&["--hold-ms", "9000,7000", "--interval-ms", "100"]),
            5,
            60,
        );
        assert_eq!(
            (held.hold_min_ms, held.hold_max_ms, held.interval_ms),
            (7000, 9000, 100)
        );
    }

    #[test]
    fn an_earlier_run_dir_is_replaced_and_a_foreign_dir_refused() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("run");
        std::fs::create_dir_all(run.join("data/m1")).unwrap();
        std::fs::write(run.join("schedule.json"), "[]").unwrap();
        prepare_run_dir(&run).unwrap();
        assert!(!run.join("data").exists(), "the earlier run's data dirs are gone");
        assert!(run.is_dir());
        let foreign = root.path().join("foreign");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
        assert!(prepare_run_dir(&foreign).is_err());
        assert!(foreign.join("notes.txt").exists(), "nothing of it removed");
    }

    #[test]
    fn synthetic_run_dir_round_trips_through_check() {
        let dir = tempfile::tempdir().unwrap();
        let run = crate::synthetic::synthetic_run(1, 4, 10, crate::synthetic::Bugs::default());
        save_run_data(dir.path(), &run).unwrap();
        let back = RunData::load(dir.path()).unwrap();
        assert_eq!(back.history, run.history);
        assert_eq!(back.bmc, run.bmc);
        assert_eq!(back.params, run.params);
    }
}
