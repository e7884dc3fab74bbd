//! The fake BMC: a small Redfish-speaking HTTP server the nodes under test point at, recording
//! every request with the member and lock generation that sent it.

mod event;
mod server;

pub use event::BmcEvent;
pub use server::{BmcHandle, BmcMode, FakeBmc, TrapHit, GENERATION_HEADER, MEMBER_HEADER};
