//! `ferric-jepsen`: see the crate docs (`cargo doc -p ferric-jepsen`).

use anyhow::{Context, Result};
use clap::Parser;
use ferric_jepsen::checker::{check_all, RunData};
use ferric_jepsen::cli::{Cli, Command};
use ferric_jepsen::report::{write_report, RunMeta};
use ferric_jepsen::synthetic::{synthetic_run, Bugs};
use std::path::Path;
use std::process::ExitCode;

fn check_dir(dir: &Path) -> Result<bool> {
    let run = RunData::load(dir).with_context(|| format!("load {}", dir.display()))?;
    let meta: RunMeta = match std::fs::read_to_string(dir.join("meta.json")) {
        Ok(t) => serde_json::from_str(&t).context("meta.json")?,
        Err(_) => RunMeta::default(),
    };
    let results = check_all(&run);
    let tally = write_report(dir, &meta, &run, &results)?;
    print!("{}", std::fs::read_to_string(dir.join("summary.txt"))?);
    Ok(tally.failed == 0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check { run_dir } => check_dir(&run_dir),
        Command::Demo {
            out,
            seed,
            bugs,
            secs,
        } => (|| {
            std::fs::create_dir_all(&out)?;
            let bugs = if bugs {
                Bugs {
                    stale_read: true,
                    stale_bmc_command: true,
                }
            } else {
                Bugs::default()
            };
            let run = synthetic_run(seed, 6, secs, bugs);
            ferric_jepsen::run::save_run_data(&out, &run)?;
            let meta = RunMeta {
                seed,
                commit: RunMeta::current_commit(),
                flags: std::env::args().collect::<Vec<_>>().join(" "),
                profile: "demo".into(),
                members: 3,
                net: "synthetic".into(),
                bmc_mode: "observe".into(),
                started: RunMeta::now_utc(),
                duration_s: secs as f64,
            };
            std::fs::write(out.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
            check_dir(&out)
        })(),
        Command::Test(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(ferric_jepsen::run::run_test(*args))
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ferric-jepsen: {e:#}");
            ExitCode::from(2)
        }
    }
}
