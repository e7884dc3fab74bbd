//! `ferric bench raft`: commits per second and commit latency of a three-member cluster started
//! in this process (real RocksDB with fsync, real gRPC on loopback), at 1 and 64 concurrent
//! proposers, beside the fdatasync bound measured on the same disk in the same run.

use anyhow::{Context, Result};
use clap::Args;
use ferric_model::{Command, Node, Timestamp};
use ferric_raft::{Cluster, MemberNode, RaftConfig};
use ferric_storage::{Store, StoreOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct RaftBenchArgs {
    /// Where the members' data directories go (a disk, not tmpfs, for a real fsync figure).
    #[arg(long, default_value = "./ferric-bench")]
    pub dir: std::path::PathBuf,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrency levels to measure.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 64])]
    pub proposers: Vec<usize>,
}

/// Latency summary in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub ops_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

fn summarize(mut lat: Vec<Duration>, wall: Duration) -> Summary {
    lat.sort();
    let pick = |q: f64| lat.get(((lat.len() as f64 - 1.0) * q).round() as usize).map(|d| d.as_secs_f64() * 1e6).unwrap_or(0.0);
    Summary { ops_per_s: lat.len() as f64 / wall.as_secs_f64(), p50_us: pick(0.5), p99_us: pick(0.99) }
}

/// write(`bytes`) + fdatasync in a loop on `dir`: the disk's durable-append bound for appends
/// of that size.
pub fn fdatasync_bound(dir: &Path, seconds: f64, bytes: usize) -> Result<Summary> {
    let path = dir.join("fsync-probe.bin");
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&path)?;
    let block = vec![0x5au8; bytes.max(1)];
    let mut lat = Vec::new();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    while Instant::now() < end && lat.len() < 10_000_000 {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        lat.push(t.elapsed());
    }
    let s = summarize(lat, start.elapsed());
    let _ = std::fs::remove_file(&path);
    Ok(s)
}

/// The same loop on `writers` files at once, one thread each (as the three members of the
/// benchmark share this one disk): the rate each writer gets, and its latency.
pub fn fdatasync_bound_shared(dir: &Path, seconds: f64, bytes: usize, writers: usize) -> Result<Summary> {
    let mut threads = Vec::new();
    for w in 0..writers.max(1) {
        let d = dir.join(format!("shared-{w}"));
        std::fs::create_dir_all(&d)?;
        threads.push(std::thread::spawn(move || {
            let s = fdatasync_bound(&d, seconds, bytes);
            let _ = std::fs::remove_dir(&d);
            s
        }));
    }
    let mut each = Vec::new();
    for t in threads {
        each.push(t.join().map_err(|_| anyhow::anyhow!("fsync probe thread panicked"))??);
    }
    // The slowest writer's rate, the median of the writers' p50s and the worst p99.
    each.sort_by(|a, b| a.p50_us.total_cmp(&b.p50_us));
    let ops = each.iter().map(|s| s.ops_per_s).fold(f64::INFINITY, f64::min);
    let p99 = each.iter().map(|s| s.p99_us).fold(0.0, f64::max);
    Ok(Summary { ops_per_s: ops, p50_us: each[each.len() / 2].p50_us, p99_us: p99 })
}

async fn start_member(dir: &Path, name: &str, cfg: &RaftConfig) -> Result<(Arc<Cluster>, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let store = Store::open(&dir.join(name), name, StoreOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let me = MemberNode { name: name.into(), peer_addr: addr.clone(), api_addr: addr };
    let cluster = Cluster::new(me, store, cfg.clone());
    let c = cluster.clone();
    let h = tokio::spawn(async move {
        let _ = ferric_raft::serve_peer(c, listener, std::future::pending()).await;
    });
    Ok((cluster, h))
}

fn now() -> Timestamp {
    Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0))
}

/// Starts three members in this process and measures commits.
pub async fn measure_commits(dir: &Path, seconds: f64, levels: &[usize]) -> Result<Vec<(usize, Summary)>> {
    let cfg = RaftConfig::default();
    let (a, _ha) = start_member(dir, "bench-a", &cfg).await?;
    let (b, _hb) = start_member(dir, "bench-b", &cfg).await?;
    let (c, _hc) = start_member(dir, "bench-c", &cfg).await?;
    a.bootstrap(now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    for m in [&b, &c] {
        let (m2, me) = (m.clone(), m.me().clone());
        let join = tokio::spawn(async move { m2.wait_for_assignment().await });
        a.add_member(me.name, me.peer_addr, me.api_addr).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        join.await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut out = Vec::new();
    let mut seq = 0u64;
    for &level in levels {
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..level {
            let a = a.clone();
            let base = seq + (w as u64) * 10_000_000;
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while Instant::now() < end {
                    let mut n = Node::new(uuid::Uuid::new_v4(), "fake-hardware", now());
                    n.name = Some(format!("bench-{}", base + i));
                    i += 1;
                    let t = Instant::now();
                    if a.propose(Command::CreateNode { node: Box::new(n), now: now() }).await.is_ok() {
                        lat.push(t.elapsed());
                    }
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await?);
        }
        seq += (level as u64) * 10_000_000;
        out.push((level, summarize(all, start.elapsed())));
    }
    for m in [&a, &b, &c] {
        m.shutdown().await;
    }
    Ok(out)
}

pub async fn run_raft_bench(args: RaftBenchArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let run = args.dir.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&run)?;
    // The size of one replicated entry (a node create, as the benchmark proposes).
    let sample = Node::new(uuid::Uuid::new_v4(), "fake-hardware", now());
    let entry_bytes = serde_json::to_vec(&Command::CreateNode { node: Box::new(sample), now: now() })?.len() + 96;
    let mut bounds = Vec::new();
    for &level in &args.proposers {
        println!("fdatasync bound on {}: {level} entries of {entry_bytes} B per sync ({} s) ...", args.dir.display(), args.seconds / 2.0);
        let d = run.clone();
        let s = args.seconds / 2.0;
        let b = tokio::task::spawn_blocking(move || fdatasync_bound(&d, s, entry_bytes * level)).await??;
        bounds.push((level, b));
    }
    // A commit needs the leader's and a follower's sync, and all three members sync each entry:
    // on one disk they contend with each other, which the single-file figure does not show.
    println!("fdatasync on {}: 3 files at once, 1 entry per sync each ({} s) ...", args.dir.display(), args.seconds / 2.0);
    let (d, s) = (run.clone(), args.seconds / 2.0);
    let shared = tokio::task::spawn_blocking(move || fdatasync_bound_shared(&d, s, entry_bytes, 3)).await??;
    println!("three-member cluster, fsync on, creating nodes ...");
    let results = measure_commits(&run, args.seconds, &args.proposers).await?;
    println!();
    println!("| measurement | ops/s | p50 | p99 | vs bound |");
    println!("|---|---:|---:|---:|---:|");
    for (level, b) in &bounds {
        println!(
            "| fdatasync of {level} entries ({} B) | {:.0} syncs/s | {:.0} µs | {:.0} µs | |",
            entry_bytes * level,
            b.ops_per_s,
            b.p50_us,
            b.p99_us
        );
    }
    println!(
        "| fdatasync of 1 entry, 3 files at once (each writer) | {:.0} syncs/s | {:.0} µs | {:.0} µs | |",
        shared.ops_per_s, shared.p50_us, shared.p99_us
    );
    for (level, s) in &results {
        // Group-commit bound: `level` entries share each fsync, at the fsync rate measured for
        // that many entries' bytes.
        let disk = bounds.iter().find(|(l, _)| l == level).map(|(_, b)| *b).expect("bound measured");
        let bound = disk.ops_per_s * *level as f64;
        println!(
            "| commits, {level} proposer(s) | {:.0} | {:.0} µs | {:.0} µs | {:.2} of {:.0}/s |",
            s.ops_per_s,
            s.p50_us,
            s.p99_us,
            s.ops_per_s / bound,
            bound
        );
        if *level == 1 {
            println!(
                "| commits, 1 proposer, vs 3 files at once | | | | {:.2} of {:.0}/s |",
                s.ops_per_s / shared.ops_per_s,
                shared.ops_per_s
            );
        }
    }
    let _ = std::fs::remove_dir_all(&run);
    Ok(())
}
