//! ferric-jepsen: a Jepsen-style fault-injection harness that runs real `ferric serve` processes,
//! drives them only through the public REST API (and `/cluster` for membership), injects faults
//! from one seed, records a history and checks it offline. Depends on `ferric-model` only (for
//! the provision state machine), never on the server's storage or Raft crates.

pub mod bmc;
pub mod checker;
pub mod clock;
pub mod cluster;
pub mod history;
pub mod client;
pub mod nemesis;
pub mod report;
pub mod synthetic;
