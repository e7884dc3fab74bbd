//! Step planning (pure): which steps a clean/deploy/service run executes and in which order, and
//! the checks of user-supplied step lists. Ironic's `conductor/steps.py`, in our words.

use ferric_drivers::NodeInterfaces;
use ferric_model::steps::{order_automated, Step, StepDecl, StepKind};
use ferric_model::{Dict, Error, InterfaceKind};
use serde_json::Value;

/// Steps handled by the conductor itself on any interface.
pub const RESERVED: [&str; 5] = ["power_on", "power_off", "reboot", "hold", "wait"];

fn decl_to_step(d: &StepDecl) -> Step {
    Step { interface: d.interface, step: d.step.clone(), args: Dict::new(), priority: d.priority, abortable: d.abortable }
}

/// The automated sequence: every declared step with priority > 0, ordered.
pub fn automated(kind: StepKind, ifaces: &NodeInterfaces) -> Vec<Step> {
    order_automated(kind, ifaces.steps(kind).iter().map(decl_to_step).collect())
}

/// The core deploy sequence (`deploy.deploy`, priority 100) merged with user deploy steps.
pub fn deploy_plan(ifaces: &NodeInterfaces, user: &[Step]) -> Vec<Step> {
    let mut steps: Vec<Step> = automated(StepKind::Deploy, ifaces);
    if !steps.iter().any(|s| s.interface == InterfaceKind::Deploy && s.step == "deploy") {
        steps.push(Step { interface: InterfaceKind::Deploy, step: "deploy".into(), args: Dict::new(), priority: 100, abortable: true });
    }
    for u in user {
        steps.retain(|s| !(s.interface == u.interface && s.step == u.step));
        steps.push(u.clone());
    }
    order_automated(StepKind::Deploy, steps.into_iter().filter(|s| s.priority > 0).collect())
}

/// Parses and checks a user step list (`clean_steps`, `service_steps`, `deploy_steps`): each
/// names an interface and a step the node's driver offers (or a reserved one), with only the
/// arguments it declares and every required one present.
pub fn parse_user_steps(kind: StepKind, raw: &[Value], ifaces: &NodeInterfaces, with_priority: bool) -> Result<Vec<Step>, Error> {
    let offered = ifaces.steps(kind);
    let mut out = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        let obj = v.as_object().ok_or_else(|| Error::invalid(format!("{kind:?} step {i} is not an object")))?;
        let iface = obj
            .get("interface")
            .and_then(|x| x.as_str())
            .ok_or_else(|| Error::invalid(format!("step {i}: 'interface' is required")))?;
        let kind_iface = InterfaceKind::parse(iface).ok_or_else(|| Error::invalid(format!("step {i}: unknown interface {iface:?}")))?;
        let name = obj.get("step").and_then(|x| x.as_str()).ok_or_else(|| Error::invalid(format!("step {i}: 'step' is required")))?;
        let args = match obj.get("args") {
            None | Some(Value::Null) => Dict::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(Error::invalid(format!("step {i}: 'args' must be an object"))),
        };
        let priority = if with_priority {
            obj.get("priority").and_then(|p| p.as_i64()).map(|p| p as i32).unwrap_or(0)
        } else {
            0
        };
        let decl = offered.iter().find(|d| d.interface == kind_iface && d.step == name);
        if decl.is_none() && !RESERVED.contains(&name) {
            return Err(Error::invalid(format!(
                "No {} step \"{name}\" found on the {iface} interface of this node",
                match kind {
                    StepKind::Clean => "clean",
                    StepKind::Deploy => "deploy",
                    StepKind::Service => "service",
                    StepKind::Verify => "verify",
                }
            )));
        }
        if let Some(d) = decl {
            if let Some(info) = &d.argsinfo {
                for a in args.keys() {
                    if !info.contains_key(a) {
                        return Err(Error::invalid(format!("step {iface}.{name}: unexpected argument {a:?}")));
                    }
                }
                for (a, spec) in info {
                    let required = spec.get("required").and_then(|r| r.as_bool()).unwrap_or(false);
                    if required && !args.contains_key(a) {
                        return Err(Error::invalid(format!("step {iface}.{name}: argument {a:?} is required")));
                    }
                }
            }
        }
        let abortable = decl.map(|d| d.abortable).unwrap_or(false);
        out.push(Step { interface: kind_iface, step: name.to_string(), args, priority, abortable });
    }
    Ok(out)
}

/// The step as Ironic shows it in `clean_step` / `deploy_step` / `service_step`.
pub fn step_dict(s: &Step) -> Dict {
    match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Dict::new(),
    }
}
