//! Fault injection: partitions (userspace proxy or network namespaces + nft), process faults
//! (kill -9, SIGSTOP/SIGCONT), wall-clock skew (libfaketime), membership changes, the seeded
//! schedule and its executor.

mod executor;
pub mod faketime;
mod grudge;
mod net;
pub mod netns;
mod proxy;
mod schedule;
pub mod signal;

pub use executor::Nemesis;
pub use grudge::{Grudge, Shape};
pub use net::Net;
pub use proxy::{LinkRule, LinkTable, Proxy, ProxyRoute};
pub use schedule::{schedule, Fault, FaultClass, ScheduleConfig, Step};
