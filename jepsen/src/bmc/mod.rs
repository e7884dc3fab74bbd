//! The fake BMC: a small Redfish-speaking HTTP server the nodes under test point at, recording
//! every request with the member and lock generation that sent it.

mod event;

pub use event::BmcEvent;
