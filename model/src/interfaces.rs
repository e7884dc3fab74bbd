//! Interface resolution when a node is created or its driver changes (Ironic's
//! `check_and_update_node_interfaces`), from the hardware types the online conductors registered.

use crate::conductor::{ConductorRecord, InterfaceChoice};
use crate::error::Error;
use crate::node::{InterfaceKind, Node};
use std::collections::BTreeMap;

/// What the cluster offers for one hardware type in one conductor group: the union of what its
/// online conductors registered.
pub fn offered(
    conductors: &BTreeMap<String, ConductorRecord>,
    driver: &str,
    group: &str,
) -> Option<BTreeMap<InterfaceKind, InterfaceChoice>> {
    let mut out: Option<BTreeMap<InterfaceKind, InterfaceChoice>> = None;
    for c in conductors.values().filter(|c| c.online && c.conductor_group == group) {
        let Some(ht) = c.hardware_type(driver) else { continue };
        let acc = out.get_or_insert_with(BTreeMap::new);
        for (kind, choice) in &ht.interfaces {
            let e = acc.entry(*kind).or_default();
            for name in &choice.enabled {
                if !e.enabled.contains(name) {
                    e.enabled.push(name.clone());
                }
            }
            if e.default.is_none() {
                e.default = choice.default.clone();
            }
        }
    }
    out
}

/// Fills every empty interface field with the hardware type's default and checks every set one.
pub fn resolve_interfaces(node: &mut Node, conductors: &BTreeMap<String, ConductorRecord>) -> Result<(), Error> {
    let Some(offer) = offered(conductors, &node.driver, &node.conductor_group) else {
        return Err(Error::NoValidHost {
            reason: format!(
                "No conductor service registered which supports driver {} for conductor group \"{}\". Ensure the driver is valid and enabled.",
                node.driver, node.conductor_group
            ),
        });
    };
    for kind in InterfaceKind::ALL {
        let choice = offer.get(&kind).cloned().unwrap_or_default();
        let current = node.interface(kind).to_string();
        if current.is_empty() {
            match &choice.default {
                Some(d) => *node.interface_mut(kind) = d.clone(),
                None => {
                    return Err(Error::NoValidDefaultForInterface {
                        interface_type: kind.as_str().to_string(),
                        node_info: format!("node {} with hardware type {}", node.uuid, node.driver),
                    })
                }
            }
        } else if !choice.enabled.contains(&current) {
            return Err(Error::InterfaceNotFoundInEntrypoint {
                interface_type: kind.as_str().to_string(),
                iface: current,
                valid: format!("{:?}", choice.enabled),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conductor::HardwareTypeInfo;
    use crate::time::Timestamp;
    use uuid::Uuid;

    fn catalog() -> BTreeMap<String, ConductorRecord> {
        let mut interfaces = BTreeMap::new();
        for k in InterfaceKind::ALL {
            let (enabled, default) = match k {
                InterfaceKind::Network => (vec!["noop".to_string()], Some("noop".to_string())),
                InterfaceKind::Storage => (vec!["noop".to_string()], Some("noop".to_string())),
                InterfaceKind::Raid => (vec!["fake".to_string(), "no-raid".to_string()], None),
                _ => (vec!["fake".to_string()], Some("fake".to_string())),
            };
            interfaces.insert(k, InterfaceChoice { enabled, default });
        }
        let rec = ConductorRecord {
            hostname: "a".into(),
            conductor_group: String::new(),
            hardware_types: vec![HardwareTypeInfo { name: "fake-hardware".into(), interfaces }],
            online: true,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            heartbeat_seq: 0,
            schema: 1,
            peer_addr: String::new(),
            api_addr: String::new(),
        };
        BTreeMap::from([("a".to_string(), rec)])
    }

    #[test]
    fn fills_defaults_and_refuses_unknown() {
        let cat = catalog();
        let mut n = Node::new(Uuid::nil(), "fake-hardware", Timestamp(0));
        n.raid_interface = "no-raid".into();
        resolve_interfaces(&mut n, &cat).unwrap();
        assert_eq!(n.power_interface, "fake");
        assert_eq!(n.network_interface, "noop");
        assert_eq!(n.raid_interface, "no-raid");

        let mut n = Node::new(Uuid::nil(), "fake-hardware", Timestamp(0));
        n.power_interface = "ipmitool".into();
        let e = resolve_interfaces(&mut n, &cat).unwrap_err();
        assert!(matches!(e, Error::InterfaceNotFoundInEntrypoint { .. }), "{e:?}");

        let mut n = Node::new(Uuid::nil(), "fake-hardware", Timestamp(0));
        let e = resolve_interfaces(&mut n, &cat).unwrap_err();
        assert!(matches!(e, Error::NoValidDefaultForInterface { .. }), "{e:?}");

        let mut n = Node::new(Uuid::nil(), "nope", Timestamp(0));
        let e = resolve_interfaces(&mut n, &cat).unwrap_err();
        assert_eq!(e.http_status(), 400);
        assert!(e.to_string().contains("supports driver nope"));
    }
}
