//! VIF bookkeeping on a node's ports and portgroups (Ironic's `VIFPortIDMixin` and
//! `get_free_port_like_object`, standalone: no Neutron, so no physical-network filter).
//!
//! A VIF is recorded in the port's or portgroup's `internal_info["tenant_vif_port_id"]`. A free
//! port-like object is one without a VIF; portgroups are preferred to ports, then PXE-enabled
//! ports; a portgroup is usable only if it has free ports and none of its ports carries a VIF
//! (else its free ports are candidates themselves). The driver changes `task.ports` /
//! `task.portgroups`; the conductor persists them under the node's lock.

use crate::interfaces::TaskContext;
use ferric_model::{Dict, Error};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The `internal_info` key holding a tenant VIF.
pub const TENANT_VIF_KEY: &str = "tenant_vif_port_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Port(usize),
    Portgroup(usize),
}

fn vif_of(info: &Dict) -> Option<&str> {
    info.get(TENANT_VIF_KEY).and_then(Value::as_str)
}

/// Attaches `vif_info["id"]` to a free portgroup or port of the node. `vif_info` may name the
/// target with `port_uuid` or `portgroup_uuid`.
pub fn attach_vif_to_free_port(task: &mut TaskContext, vif_info: &Dict) -> Result<(), Error> {
    let vif_id = match vif_info.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(Error::invalid("vif_info 'id' must be a non-empty string")),
        None => return Err(Error::missing("Missing 'id' in vif_info")),
    };
    let want_port = vif_info.get("port_uuid").and_then(Value::as_str).map(str::to_string);
    let want_pg = if want_port.is_none() {
        vif_info.get("portgroup_uuid").and_then(Value::as_str).map(str::to_string)
    } else {
        None
    };

    // Already attached anywhere on this node: refuse.
    let everywhere = task.ports.iter().map(|p| &p.internal_info).chain(task.portgroups.iter().map(|g| &g.internal_info));
    for info in everywhere {
        if vif_of(info) == Some(vif_id.as_str()) {
            return Err(Error::VifAlreadyAttached { vif: vif_id, node: task.node.uuid.to_string() });
        }
    }

    let mut free: Vec<Target> = Vec::new();
    let mut free_ports_by_pg: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut unusable_pgs: BTreeSet<String> = BTreeSet::new();
    for (i, p) in task.ports.iter().enumerate() {
        if let Some(want) = &want_port {
            if *want != p.uuid.to_string() {
                continue;
            }
        }
        let pg = p.portgroup_uuid.map(|u| u.to_string());
        if vif_of(&p.internal_info).is_some() {
            if let Some(pg) = pg {
                unusable_pgs.insert(pg);
            }
            continue;
        }
        match pg {
            None if want_pg.is_none() => free.push(Target::Port(i)),
            None => {}
            Some(pg) => free_ports_by_pg.entry(pg).or_default().push(i),
        }
    }
    if want_port.is_none() {
        for (i, g) in task.portgroups.iter().enumerate() {
            let id = g.uuid.to_string();
            if let Some(want) = &want_pg {
                if *want != id {
                    continue;
                }
            }
            if vif_of(&g.internal_info).is_some() {
                continue;
            }
            let ports = free_ports_by_pg.get(&id).cloned().unwrap_or_default();
            if unusable_pgs.contains(&id) {
                if want_pg.is_none() {
                    free.extend(ports.into_iter().map(Target::Port));
                }
            } else if !ports.is_empty() {
                free.push(Target::Portgroup(i));
            }
        }
    }

    // Ironic's preference: portgroups first, then PXE-enabled ports; stable otherwise.
    let key = |t: &Target| -> (bool, bool) {
        match t {
            Target::Portgroup(_) => (true, true),
            Target::Port(i) => (false, task.ports[*i].pxe_enabled),
        }
    };
    // The first candidate with the greatest key (Python's stable reverse sort).
    let mut best: Option<Target> = None;
    for t in free.iter().copied() {
        if best.is_none_or(|b| key(&t) > key(&b)) {
            best = Some(t);
        }
    }
    let Some(target) = best else {
        return Err(Error::NoFreePhysicalPorts { vif: vif_id });
    };
    let info = match target {
        Target::Port(i) => &mut task.ports[i].internal_info,
        Target::Portgroup(i) => &mut task.portgroups[i].internal_info,
    };
    info.insert(TENANT_VIF_KEY.to_string(), Value::String(vif_id));
    Ok(())
}

/// Detaches a VIF from whichever portgroup or port carries it.
pub fn detach_vif(task: &mut TaskContext, vif_id: &str) -> Result<(), Error> {
    for g in task.portgroups.iter_mut() {
        if vif_of(&g.internal_info) == Some(vif_id) {
            g.internal_info.remove(TENANT_VIF_KEY);
            g.extra.remove("vif_port_id");
            return Ok(());
        }
    }
    for p in task.ports.iter_mut() {
        if vif_of(&p.internal_info) == Some(vif_id) {
            p.internal_info.remove(TENANT_VIF_KEY);
            p.extra.remove("vif_port_id");
            return Ok(());
        }
    }
    Err(Error::VifNotAttached { vif: vif_id.to_string(), node: task.node.uuid.to_string() })
}

/// The VIFs attached to the node's ports, then portgroups (Ironic's order).
pub fn list_vifs(task: &TaskContext) -> Vec<String> {
    task.ports
        .iter()
        .map(|p| &p.internal_info)
        .chain(task.portgroups.iter().map(|g| &g.internal_info))
        .filter_map(|i| vif_of(i).map(str::to_string))
        .collect()
}
