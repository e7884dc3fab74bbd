//! Steps (clean, deploy, service, verify) as Ironic describes them to clients and drivers.

use crate::node::{Dict, InterfaceKind};
use serde::{Deserialize, Serialize};

/// What a driver declares about one of its steps (Ironic's step decorators).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDecl {
    pub interface: InterfaceKind,
    pub step: String,
    /// 0 = only when requested explicitly.
    pub priority: i32,
    /// `{arg: {"description": str, "required": bool}}`
    pub argsinfo: Option<Dict>,
    pub abortable: bool,
    pub requires_ramdisk: bool,
}

/// A step to run (as stored in `clean_step` / `deploy_step` / `service_step`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub interface: InterfaceKind,
    pub step: String,
    #[serde(default)]
    pub args: Dict,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub abortable: bool,
}

/// The kind of step sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Clean,
    Deploy,
    Service,
    Verify,
}

/// Ironic's interface tie-break priorities: steps of equal priority run in this order.
pub fn interface_priority(kind: StepKind, iface: InterfaceKind) -> i32 {
    use InterfaceKind::*;
    match kind {
        StepKind::Clean | StepKind::Deploy | StepKind::Service => match iface {
            Network if kind == StepKind::Service => 8,
            Vendor => 7,
            Power => 6,
            Management => 5,
            Firmware => 4,
            Deploy => 3,
            Bios => 2,
            Raid => 1,
            _ => 0,
        },
        StepKind::Verify => match iface {
            Power => 13,
            Management => 12,
            Firmware => 11,
            Inspect => 10,
            Deploy => 9,
            Boot => 8,
            Bios => 7,
            Raid => 6,
            Vendor => 5,
            Network => 4,
            Storage => 3,
            Console => 2,
            Rescue => 1,
        },
    }
}

/// Orders steps for an automated run: priority descending, then interface priority descending;
/// priority-0 steps are dropped.
pub fn order_automated(kind: StepKind, mut steps: Vec<Step>) -> Vec<Step> {
    steps.retain(|s| s.priority > 0);
    steps.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(interface_priority(kind, b.interface).cmp(&interface_priority(kind, a.interface)))
    });
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(i: InterfaceKind, name: &str, p: i32) -> Step {
        Step { interface: i, step: name.into(), args: Dict::new(), priority: p, abortable: false }
    }

    #[test]
    fn orders_like_ironic() {
        let steps = vec![
            st(InterfaceKind::Deploy, "erase_devices", 10),
            st(InterfaceKind::Raid, "delete_configuration", 0),
            st(InterfaceKind::Deploy, "erase_devices_metadata", 99),
            st(InterfaceKind::Management, "reset_bios", 10),
        ];
        let out = order_automated(StepKind::Clean, steps);
        let names: Vec<&str> = out.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(names, vec!["erase_devices_metadata", "reset_bios", "erase_devices"]);
    }
}
