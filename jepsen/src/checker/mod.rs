//! Checkers: pure functions of a run's recorded data (history, BMC log, process events, member
//! logs) to a verdict. Each is unit-tested on handcrafted valid and invalid histories.

mod fencing;
mod fsm;
mod health;
mod history_rules;
mod lock;
mod lost_ack;
mod membership;
mod register;
mod result;
mod run_data;
mod takeover;
pub mod wgl;

pub use fencing::FencingChecker;
pub use fsm::FsmChecker;
pub use health::HealthChecker;
pub use history_rules::HistoryChecker;
pub use lock::LockChecker;
pub use lost_ack::LostAckChecker;
pub use membership::MembershipChecker;
pub use register::{reg_op, CasRegister, RegOp, RegValue, RegisterChecker};
pub use result::{Anomaly, CheckResult, Validity};
pub use run_data::{CheckParams, RunData};
pub use takeover::TakeoverChecker;

use std::time::Duration;

/// A checker over a run.
pub trait Checker {
    fn name(&self) -> &'static str;
    fn check(&self, run: &RunData) -> CheckResult;
}

/// Every checker, configured from the run's parameters.
pub fn all(params: &CheckParams) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(HistoryChecker),
        Box::new(RegisterChecker {
            budget: wgl::Budget {
                max_steps: params.wgl_max_steps,
                max_time: Duration::from_millis(params.wgl_max_ms),
            },
            init: None,
        }),
        Box::new(LostAckChecker),
        Box::new(LockChecker),
        Box::new(FencingChecker),
        Box::new(FsmChecker),
        Box::new(TakeoverChecker),
        Box::new(MembershipChecker),
        Box::new(HealthChecker),
    ]
}

/// Runs every checker.
pub fn check_all(run: &RunData) -> Vec<CheckResult> {
    all(&run.params).iter().map(|c| c.check(run)).collect()
}
