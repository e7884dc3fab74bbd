//! The command line: `ferric serve`, `ferric cluster status|add|remove`, `ferric bench raft`.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(name = "ferric", version, about = "Bare-metal provisioning that speaks OpenStack Ironic's REST API, on a Raft-replicated RocksDB store")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a member (API, conductor, Raft peer).
    Serve(ServeArgs),
    /// Inspect or change the cluster membership through a member's API.
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Member name (also its conductor hostname).
    #[arg(long, env = "FERRIC_NAME")]
    pub name: Option<String>,
    /// Data directory (created on first start).
    #[arg(long, env = "FERRIC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// REST API listen address [default: 127.0.0.1:6385].
    #[arg(long, env = "FERRIC_API")]
    pub api: Option<String>,
    /// Peer (gRPC) listen address [default: 127.0.0.1:6386].
    #[arg(long, env = "FERRIC_PEER")]
    pub peer: Option<String>,
    /// Peer address other members should dial, if not --peer.
    #[arg(long, env = "FERRIC_ADVERTISE_PEER")]
    pub advertise_peer: Option<String>,
    /// Join the cluster of the member whose peer address is given.
    #[arg(long, env = "FERRIC_JOIN")]
    pub join: Option<String>,
    /// Do not bootstrap; wait to be added with `POST /cluster/members` on another member.
    #[arg(long)]
    pub wait_for_join: bool,
    /// TOML configuration file (unknown keys are refused).
    #[arg(long, env = "FERRIC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Validate the configuration, print it, and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Log filter (e.g. `info`, `ferric=debug`).
    #[arg(long, env = "FERRIC_LOG")]
    pub log_level: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ClusterAction {
    /// Show members, leader, term and indexes.
    Status(ClientArgs),
    /// Add a member (it must be running with --join or --wait-for-join).
    Add {
        #[command(flatten)]
        client: ClientArgs,
        name: String,
        /// The new member's peer address.
        #[arg(long)]
        peer: String,
        /// The new member's API address.
        #[arg(long)]
        api: String,
    },
    /// Remove a member.
    Remove {
        #[command(flatten)]
        client: ClientArgs,
        name: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// A member's API URL.
    #[arg(long, default_value = "http://127.0.0.1:6385", env = "FERRIC_URL")]
    pub url: String,
    #[arg(long, env = "FERRIC_USER")]
    pub user: Option<String>,
    #[arg(long, env = "FERRIC_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// Commit throughput and latency of a three-member cluster on this machine, beside the
    /// fdatasync bound of the same disk.
    Raft(crate::bench::RaftBenchArgs),
}

impl ServeArgs {
    /// The configuration: file (if any), then flags.
    pub fn config(&self) -> Result<Config> {
        let mut cfg = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        if let Some(v) = &self.name {
            cfg.name = v.clone();
        }
        if let Some(v) = &self.data_dir {
            cfg.data_dir = v.clone();
        }
        if let Some(v) = &self.api {
            cfg.api.listen = v.parse().with_context(|| format!("--api: {v:?} is not host:port"))?;
        }
        if let Some(v) = &self.peer {
            cfg.peer = v.clone();
        }
        if let Some(v) = &self.advertise_peer {
            cfg.advertise_peer = Some(v.clone());
        }
        if let Some(v) = &self.join {
            cfg.join = Some(v.clone());
        }
        if self.wait_for_join {
            cfg.wait_for_join = true;
        }
        if let Some(v) = &self.log_level {
            cfg.log.level = v.clone();
        }
        Ok(cfg)
    }
}

fn client(args: &ClientArgs) -> Result<(reqwest::Client, String)> {
    let c = reqwest::Client::builder().timeout(std::time::Duration::from_secs(300)).build()?;
    Ok((c, args.url.trim_end_matches('/').to_string()))
}

fn auth(req: reqwest::RequestBuilder, args: &ClientArgs) -> reqwest::RequestBuilder {
    match (&args.user, &args.password) {
        (Some(u), p) => req.basic_auth(u, p.clone()),
        _ => req,
    }
}

async fn answer(resp: reqwest::Response) -> Result<serde_json::Value> {
    let status = resp.status();
    let body = resp.text().await?;
    if !status.is_success() {
        // Ironic's error body carries the message as a JSON string.
        let msg = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error_message").and_then(|m| m.as_str()).map(str::to_string))
            .and_then(|inner| {
                serde_json::from_str::<serde_json::Value>(&inner)
                    .ok()
                    .and_then(|v| v.get("faultstring").or(v.get("description")).and_then(|f| f.as_str()).map(str::to_string))
                    .or(Some(inner))
            })
            .unwrap_or(body);
        bail!("{status}: {msg}");
    }
    serde_json::from_str(&body).context("the answer is not JSON")
}

pub async fn run_cluster(action: ClusterAction) -> Result<()> {
    let status = match &action {
        ClusterAction::Status(a) => {
            let (c, url) = client(a)?;
            answer(auth(c.get(format!("{url}/cluster/status")), a).send().await?).await?
        }
        ClusterAction::Add { client: a, name, peer, api } => {
            let (c, url) = client(a)?;
            let body = serde_json::json!({"name": name, "peer": peer, "api": api});
            answer(auth(c.post(format!("{url}/cluster/members")).json(&body), a).send().await?).await?
        }
        ClusterAction::Remove { client: a, name } => {
            let (c, url) = client(a)?;
            answer(auth(c.delete(format!("{url}/cluster/members/{name}")), a).send().await?).await?
        }
    };
    print!("{}", render_status(&status));
    Ok(())
}

/// The status as a table.
pub fn render_status(v: &serde_json::Value) -> String {
    let s = |k: &str| v.get(k).map(|x| if x.is_null() { "-".to_string() } else { x.to_string().trim_matches('"').to_string() }).unwrap_or_default();
    let mut out = format!(
        "cluster {}  leader {}  term {}  committed {}  applied {}  (answered by {})\n",
        s("cluster_id"),
        s("leader"),
        s("term"),
        s("committed"),
        s("applied"),
        s("name")
    );
    let mut rows = vec![["NAME", "ID", "ROLE", "PEER", "API", "REACHABLE", "MATCHED"].map(String::from).to_vec()];
    for m in v.get("members").and_then(|m| m.as_array()).cloned().unwrap_or_default() {
        let f = |k: &str| m.get(k).map(|x| if x.is_null() { "-".to_string() } else { x.to_string().trim_matches('"').to_string() }).unwrap_or_default();
        rows.push(vec![f("name"), f("id"), f("role"), f("peer"), f("api"), if m["reachable"] == true { "yes".into() } else { "no".into() }, f("matched")]);
    }
    let widths: Vec<usize> = (0..7).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    for r in rows {
        let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{:w$}", c, w = widths[i])).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}


fn init_logging(format: &str, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The whole program: parse, run, exit non-zero with the error on failure.
pub async fn main_entry() {
    if let Err(e) = run().await {
        eprintln!("ferric: error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let cfg = args.config()?;
            if args.check_config {
                cfg.validate()?;
                println!("{}", toml::to_string(&cfg)?);
                eprintln!("configuration is valid");
                return Ok(());
            }
            init_logging(&cfg.log.format, &cfg.log.level);
            let name = cfg.name.clone();
            let server = crate::Server::start(cfg).await?;
            // One machine-readable line for supervisors and test harnesses.
            println!("ferric: ready name={} api={} peer={}", name, server.api_addr, server.peer_addr);
            wait_for_signal().await;
            tracing::info!("shutting down");
            server.shutdown().await;
            Ok(())
        }
        Command::Cluster { action } => run_cluster(action).await,
        Command::Bench { what } => {
            init_logging("human", "warn");
            match what {
                BenchWhat::Raft(args) => crate::bench::run_raft_bench(args).await,
            }
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
