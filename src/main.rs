//! `ferric`: a thin main — parse the command line, set up logging, run, stop on SIGTERM/SIGINT.

use anyhow::Result;
use clap::Parser;
use ferric::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn init_logging(format: &str, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() {
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
            let server = ferric::Server::start(cfg).await?;
            // One machine-readable line for supervisors and test harnesses.
            println!("ferric: ready name={} api={} peer={}", name, server.api_addr, server.peer_addr);
            wait_for_signal().await;
            tracing::info!("shutting down");
            server.shutdown().await;
            Ok(())
        }
        Command::Cluster { action } => ferric::cli::run_cluster(action).await,
        Command::Bench { what } => {
            init_logging("human", "warn");
            match what {
                ferric::cli::BenchWhat::Raft(args) => ferric::bench::run_raft_bench(args).await,
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
