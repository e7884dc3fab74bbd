//! The command line: `test` runs a cluster under faults, `check <run dir>` re-checks an old run,
//! `demo <dir>` writes the report of a synthetic run (no server needed).

use crate::bmc::BmcMode;
use crate::nemesis::{FaultClass, Shape};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "ferric-jepsen",
    version,
    about = "Jepsen-style fault injection against real `ferric serve` processes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// 3 members, proxy network, partitions/kill/pause/one clock bump/one membership change,
    /// ~3 minutes of faults, ≤ 5 minutes in all.
    Ci,
    /// 5 members, namespace network, every fault, one hour.
    Soak,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    Proxy,
    Netns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Compare-and-set on node `extra` fields (linearizability).
    Register,
    /// Node creation as a grow-only set (lost acknowledged writes).
    Set,
    /// Power actions on fake-BMC redfish nodes (locks, fencing, take-over).
    Lock,
    /// Provision verbs on fake-hardware nodes (state machine).
    Provision,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    #[arg(long, value_enum, default_value = "ci")]
    pub profile: Profile,
    /// The seed everything random derives from (printed; random when absent).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Members (default: 3 for ci, 5 for soak).
    #[arg(long)]
    pub members: Option<usize>,
    #[arg(long, value_enum)]
    pub net: Option<NetMode>,
    #[arg(long, value_enum, default_value = "observe")]
    pub bmc: BmcMode,
    /// Seconds of faults (default: 180 for ci, 3600 for soak).
    #[arg(long)]
    pub time_limit: Option<u64>,
    #[arg(long, value_delimiter = ',', default_values = ["register", "set", "lock", "provision"])]
    pub workload: Vec<WorkloadKind>,
    /// Fault classes (default: the profile's).
    #[arg(long, value_delimiter = ',')]
    pub nemesis: Vec<FaultClass>,
    /// Partition shapes (default: the profile's).
    #[arg(long, value_delimiter = ',')]
    pub shapes: Vec<Shape>,
    /// Client workers.
    #[arg(long, default_value_t = 6)]
    pub concurrency: u64,
    /// Client operations per second, all workers together.
    #[arg(long, default_value_t = 50)]
    pub rate: u64,
    /// Run dir (default: `jepsen-runs/<utc time>-<seed>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The `ferric` binary (default: `$CARGO_TARGET_DIR/debug/ferric`, else `target/debug/ferric`).
    #[arg(long, env = "FERRIC_BIN")]
    pub ferric_bin: Option<PathBuf>,
    /// Extra arguments for every `ferric serve` (e.g. test timeouts, unsafe canary switches).
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    pub serve_args: Vec<String>,
    /// Negative controls: deliberately unsafe server behaviour (needs a `ferric` built with the
    /// `unsafe-test-switches` feature).
    #[arg(long = "unsafe", value_delimiter = ',')]
    pub unsafe_switches: Vec<UnsafeSwitch>,
    /// How long each fault is held, ms, as `MIN,MAX` (default: the profile's).
    #[arg(long, value_delimiter = ',')]
    pub hold_ms: Vec<u64>,
    /// Quiet gap after each fault is healed, ms (default: the profile's).
    #[arg(long)]
    pub interval_ms: Option<u64>,
    /// Power targets the lock workload asks for (it prefers the one that changes the machine).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["on", "off", "reboot"])]
    pub power_targets: Vec<PowerTarget>,
    /// Take-over bound for the take-over checker, ms.
    #[arg(long, default_value_t = 30_000)]
    pub takeover_bound_ms: u64,
    /// Base TCP port: member i uses base+10i (API) and base+10i+1 (peer); proxies base+10i+2.
    #[arg(long, default_value_t = 27100)]
    pub base_port: u16,
    /// The command line recorded in `meta.json` when the run is started from code (a test)
    /// rather than from this process's own arguments.
    #[arg(skip)]
    pub command_line: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnsafeSwitch {
    /// The Raft log is not fsynced (with kill -9: lost acknowledged writes).
    NoFsync,
    /// Reads skip the read index (stale reads under partition).
    StaleReads,
    /// The lock path skips the generation check (double actuation under pause).
    SkipLockCheck,
    /// A finished deploy goes to `available` instead of `active` (the state-machine checker).
    WrongTransition,
}

/// A power action of the lock workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PowerTarget {
    On,
    Off,
    Reboot,
}

impl PowerTarget {
    /// The target as the API names it (`PUT /v1/nodes/{id}/states/power`).
    pub fn api_name(self) -> &'static str {
        match self {
            PowerTarget::On => "power on",
            PowerTarget::Off => "power off",
            PowerTarget::Reboot => "rebooting",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a cluster, run workloads under faults, check, report.
    Test(Box<TestArgs>),
    /// Re-check a run dir and rewrite its report.
    Check { run_dir: PathBuf },
    /// Write the report of a synthetic run (no server), to look at the report format.
    Demo {
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Plant a stale read and a stale BMC command.
        #[arg(long)]
        bugs: bool,
        #[arg(long, default_value_t = 60)]
        secs: u64,
    },
}
