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
    let everywhere =
        task.ports.iter().map(|p| &p.internal_info).chain(task.portgroups.iter().map(|g| &g.internal_info));
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

/// The VIF in use on a port or portgroup: the first of the cleaning, provisioning, rescuing,
/// inspection, servicing and tenant VIFs present in its `internal_info` (Ironic's order).
pub fn current_vif(internal_info: &Dict) -> Option<String> {
    ["cleaning", "provisioning", "rescuing", "inspection", "servicing", "tenant"]
        .iter()
        .find_map(|net| internal_info.get(&format!("{net}_vif_port_id")).and_then(Value::as_str).map(str::to_string))
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

#[cfg(test)]
mod tests {
    use super::*;
    use ferric_model::time::Timestamp;
    use ferric_model::{Node, Port, Portgroup};
    use serde_json::json;
    use uuid::Uuid;

    fn ctx(ports: usize, portgroups: usize) -> TaskContext {
        let node = Node::new(Uuid::new_v4(), "fake-hardware", Timestamp(0));
        let mut t = TaskContext::new(node, "m");
        for i in 0..ports {
            let mut p = Port::new(Uuid::new_v4(), format!("52:54:00:00:00:{i:02x}"), t.node.uuid, Timestamp(0));
            p.pxe_enabled = i % 2 == 1;
            t.ports.push(p);
        }
        for _ in 0..portgroups {
            t.portgroups.push(Portgroup::new(Uuid::new_v4(), t.node.uuid, Timestamp(0)));
        }
        t
    }

    fn vif(id: &str) -> Dict {
        json!({ "id": id }).as_object().cloned().unwrap()
    }

    #[test]
    fn prefers_pxe_ports_then_refuses_when_full() {
        let mut t = ctx(2, 0);
        attach_vif_to_free_port(&mut t, &vif("a")).unwrap();
        assert_eq!(t.ports[1].vif(), Some("a"), "the PXE-enabled port first");
        let e = attach_vif_to_free_port(&mut t, &vif("a")).unwrap_err();
        assert!(matches!(e, Error::VifAlreadyAttached { .. }), "{e:?}");
        attach_vif_to_free_port(&mut t, &vif("b")).unwrap();
        assert_eq!(t.ports[0].vif(), Some("b"));
        let e = attach_vif_to_free_port(&mut t, &vif("c")).unwrap_err();
        assert!(matches!(e, Error::NoFreePhysicalPorts { .. }), "{e:?}");
        assert_eq!(e.http_status(), 400);
        assert_eq!(list_vifs(&t), vec!["b", "a"]);
        detach_vif(&mut t, "a").unwrap();
        let e = detach_vif(&mut t, "a").unwrap_err();
        assert!(matches!(e, Error::VifNotAttached { .. }), "{e:?}");
        assert_eq!(list_vifs(&t), vec!["b"]);
    }

    #[test]
    fn portgroups_first_and_only_with_free_ports() {
        let mut t = ctx(3, 2);
        let (g0, g1) = (t.portgroups[0].uuid, t.portgroups[1].uuid);
        t.ports[0].portgroup_uuid = Some(g0);
        t.ports[1].portgroup_uuid = Some(g0);
        // g1 has no ports: never a candidate.
        attach_vif_to_free_port(&mut t, &vif("a")).unwrap();
        assert_eq!(t.portgroups[0].vif(), Some("a"));
        attach_vif_to_free_port(&mut t, &vif("b")).unwrap();
        assert_eq!(t.ports[2].vif(), Some("b"), "the standalone port");
        assert!(t.portgroups[1].vif().is_none());
        let e = attach_vif_to_free_port(&mut t, &vif("c")).unwrap_err();
        assert!(matches!(e, Error::NoFreePhysicalPorts { .. }));
        let _ = g1;
    }

    #[test]
    fn a_portgroup_with_a_vif_on_a_member_port_yields_its_free_ports() {
        let mut t = ctx(2, 1);
        let g = t.portgroups[0].uuid;
        t.ports[0].portgroup_uuid = Some(g);
        t.ports[1].portgroup_uuid = Some(g);
        t.ports[0].internal_info.insert(TENANT_VIF_KEY.into(), json!("x"));
        attach_vif_to_free_port(&mut t, &vif("y")).unwrap();
        assert_eq!(t.ports[1].vif(), Some("y"));
        assert!(t.portgroups[0].vif().is_none());
    }

    #[test]
    fn explicit_port_or_portgroup_and_bad_input() {
        let mut t = ctx(2, 1);
        let g = t.portgroups[0].uuid;
        t.ports[1].portgroup_uuid = Some(g);
        let want = t.ports[0].uuid.to_string();
        let mut info = vif("a");
        info.insert("port_uuid".into(), json!(want));
        attach_vif_to_free_port(&mut t, &info).unwrap();
        assert_eq!(t.ports[0].vif(), Some("a"));
        let mut info = vif("b");
        info.insert("portgroup_uuid".into(), json!(g.to_string()));
        attach_vif_to_free_port(&mut t, &info).unwrap();
        assert_eq!(t.portgroups[0].vif(), Some("b"));
        let e = attach_vif_to_free_port(&mut t, &Dict::new()).unwrap_err();
        assert_eq!(e.http_status(), 400);
        let e = attach_vif_to_free_port(&mut t, &json!({"id": 5}).as_object().cloned().unwrap()).unwrap_err();
        assert_eq!(e.http_status(), 400);
    }
}
