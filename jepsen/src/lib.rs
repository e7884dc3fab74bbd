//! ferric-jepsen: a Jepsen-style fault-injection harness that runs real `ferric serve` processes,
//! drives them only through the public REST API (and `/cluster` for membership), injects faults
//! from one seed, records a history and checks it offline. Depends on `ferric-model` only (for
//! the provision state machine), never on the server's storage or Raft crates.
//!
//! Layout: [`history`] (the JSON Lines history and the process rule), [`checker`] (pure
//! checkers), [`nemesis`] (proxy, namespaces, signals, clocks, schedule), [`bmc`] (fake Redfish
//! BMC), [`cluster`] (the `ferric serve` children), [`client`] (HTTP and the REST API),
//! [`workload`] (what clients do), [`report`] (summary, results, timeline, latency), [`run`]
//! (one `test` run).

pub mod bmc;
pub mod checker;
pub mod cli;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod report;
pub mod run;
pub mod synthetic;
pub mod workload;
