//! Fault injection: partitions (userspace proxy or network namespaces + nft), process faults
//! (kill -9, SIGSTOP/SIGCONT), wall-clock skew (libfaketime), and the seeded schedule.

pub mod faketime;
mod grudge;
pub mod netns;
mod proxy;
mod schedule;
pub mod signal;

pub use grudge::{Grudge, Shape};
pub use proxy::{LinkRule, LinkTable, Proxy, ProxyRoute};
pub use schedule::{schedule, Fault, FaultClass, ScheduleConfig, Step};
