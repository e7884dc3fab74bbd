//! Workloads: what the clients do, through the public REST API only. Each worker is a loop bound
//! to one member that issues one operation at a time and records it (`invoke`, then `ok` / `fail`
//! / `info`), retiring its process after an `info`; writes are never retried.
//!
//! | workload | ops (`f`) | key | checked by |
//! |---|---|---|---|
//! | register | `read`, `write`, `cas` via JSON patch `test`+`replace` on `/extra/kN` | `<node uuid>/kN` | linearizable-register |
//! | set | `add` (create node `jepsen-set-N`), `read-set` (node list) | `nodes` | lost-ack |
//! | lock | `power` (`PUT …/states/power`) on redfish nodes of the fake BMC | BMC system id | lock, bmc-fencing, takeover |
//! | provision | `provision` (`PUT …/states/provision`), `read-provision` | node uuid | provision-fsm |

mod fixtures;
mod op;
mod power;
mod provision;
mod register;
mod set;
mod worker;

pub use fixtures::{setup_fixtures, Fixtures};
pub use op::{perform, Ctx};
pub use worker::{final_reads, run_workers, WorkerPlan};
