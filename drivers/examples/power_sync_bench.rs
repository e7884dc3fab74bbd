//! Power-state sync against many real BMCs: starts N `ipmi_sim` processes on loopback (one per
//! BMC), builds N ipmi nodes, and times full sync rounds — `get_power_state` of every node with
//! bounded concurrency — first with cold sessions, then warm (cached) ones. Reports wall time,
//! latency percentiles, and CPU: this process (/proc/self/stat), the simulator processes
//! (/proc/<pid>/schedstat) and the whole machine (/proc/stat: includes the chassis scripts
//! each power query forks, and anything else running).
//!
//!     cargo run -p ferric-drivers --example power_sync_bench -- --bmcs 1000 --concurrency 64
//!
//! Options: --bmcs N (default 100), --concurrency C (64), --rounds R (3, the first cold),
//! --packet-timeout-ms (1000), --retries (3).

use ferric_drivers::interfaces::PowerInterface;
use ferric_drivers::testbed::{self, IpmiSim, IpmiSimOptions};
use ferric_drivers::{DriverRegistry, DriversConfig, TaskContext};
use ferric_model::time::Timestamp;
use ferric_model::{Node, PowerState};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    bmcs: usize,
    concurrency: usize,
    rounds: usize,
    packet_timeout_ms: u64,
    retries: u32,
}

fn parse_args() -> Args {
    let mut a = Args { bmcs: 100, concurrency: 64, rounds: 3, packet_timeout_ms: 1000, retries: 3 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--bmcs" => a.bmcs = v.parse().expect("--bmcs N"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency C"),
            "--rounds" => a.rounds = v.parse().expect("--rounds R"),
            "--packet-timeout-ms" => a.packet_timeout_ms = v.parse().expect("--packet-timeout-ms MS"),
            "--retries" => a.retries = v.parse().expect("--retries N"),
            other => panic!("unknown argument {other} (see the file's header)"),
        }
        i += 2;
    }
    a
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// ipmi_sim processes themselves (ns precision; their chassis-script children are only in the
/// machine-wide figure).
fn sims_cpu(pids: &[u32]) -> Duration {
    pids.iter().filter_map(|p| testbed::process_runtime(*p)).sum()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = parse_args();
    testbed::require_ipmi_tools().unwrap_or_else(|e| panic!("{e}"));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("power_sync_bench: {} BMCs, concurrency {}, {} cores", args.bmcs, args.concurrency, cores);

    // 1. Start every simulator, then wait for each (they boot in parallel).
    let t0 = Instant::now();
    let opts = IpmiSimOptions::default();
    let mut sims: Vec<IpmiSim> = Vec::with_capacity(args.bmcs);
    for _ in 0..args.bmcs {
        sims.push(IpmiSim::spawn(&opts).unwrap_or_else(|e| panic!("{e}")));
    }
    for s in sims.iter_mut() {
        if s.wait_ready(Duration::from_secs(60)).is_err() {
            // Port taken between probe and bind, or a slow start: one fresh try.
            *s = IpmiSim::start_with(&opts).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    println!("started {} ipmi_sim processes in {:.1} s", sims.len(), t0.elapsed().as_secs_f64());
    let pids: Vec<u32> = sims.iter().filter_map(|s| s.pid()).collect();

    // 2. One registry (one member), N nodes.
    let mut cfg = DriversConfig::default();
    cfg.ipmi.max_concurrent_calls = args.concurrency;
    cfg.ipmi.max_cached_sessions = args.bmcs * 2;
    cfg.ipmi.packet_timeout_ms = args.packet_timeout_ms;
    cfg.ipmi.retries = args.retries;
    cfg.ipmi.session_idle_timeout_s = 600;
    let reg = DriverRegistry::new(&cfg).expect("drivers config");
    let mut tasks = Vec::with_capacity(sims.len());
    let mut power: Option<Arc<dyn PowerInterface>> = None;
    for s in &sims {
        let mut n = Node::new(uuid_like(tasks.len()), "ipmi", Timestamp(0));
        n.driver_info = s.driver_info();
        power.get_or_insert_with(|| reg.for_node(&n).expect("ipmi node").power);
        tasks.push(TaskContext::new(n, "bench"));
    }
    let power = power.expect("at least one BMC");

    // 3. Sync rounds.
    println!("| round | sessions | wall (s) | nodes/s | p50 (ms) | p99 (ms) | max (ms) | errors | our CPU (s) | ipmi_sim CPU (s) | machine CPU (s) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for round in 0..args.rounds {
        let cpu0 = testbed::self_cpu().unwrap_or_default();
        let sim0 = sims_cpu(&pids);
        let m0 = testbed::machine_busy().unwrap_or_default();
        let start = Instant::now();
        let results: Vec<(Result<PowerState, ferric_model::Error>, Duration)> = futures::stream::iter(tasks.iter())
            .map(|t| {
                let p = power.clone();
                async move {
                    let s = Instant::now();
                    let r = p.get_power_state(t).await;
                    (r, s.elapsed())
                }
            })
            .buffer_unordered(args.concurrency)
            .collect()
            .await;
        let wall = start.elapsed();
        let cpu = testbed::self_cpu().unwrap_or_default().saturating_sub(cpu0);
        let sim = sims_cpu(&pids).saturating_sub(sim0);
        let machine = testbed::machine_busy().unwrap_or_default().saturating_sub(m0);
        let mut lat: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
        lat.sort();
        let errors: Vec<&ferric_model::Error> = results.iter().filter_map(|(r, _)| r.as_ref().err()).collect();
        let stats = reg.ipmi_client().map(|c| c.stats()).unwrap_or_default();
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {:.2} | {:.2} | {:.2} |",
            round + 1,
            if round == 0 { "cold" } else { "warm" },
            wall.as_secs_f64(),
            tasks.len() as f64 / wall.as_secs_f64(),
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            errors.len(),
            cpu.as_secs_f64(),
            sim.as_secs_f64(),
            machine.as_secs_f64(),
        );
        if let Some(e) = errors.first() {
            println!("  first error: {e}");
        }
        eprintln!("  ipmi client: {stats:?}");
    }
    reg.shutdown().await;
    drop(sims);
}

fn uuid_like(i: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | i as u128)
}
