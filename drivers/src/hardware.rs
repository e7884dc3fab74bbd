//! Hardware types: per interface kind, the implementations a type supports in priority order
//! (Ironic's `supported_<kind>_interfaces` of `ironic/drivers/{generic,ipmi,redfish,fake_hardware}.py`).
//!
//! Names only: an implementation listed here may be provided by another crate (e.g. `ipxe`
//! boot, `direct` deploy from ferric-deploy) and registered as an extension; a name nobody
//! provides can never be enabled, so it is never advertised.
//!
//! Ferric difference: `ipmi`, `redfish` and `manual-management` also accept `fake` for every
//! kind except power and management (listed last, so a real implementation wins whenever one is
//! enabled): with the default configuration, ipmi and redfish nodes deploy with fake boot and
//! deploy, as the peer Ironic's test configuration does.

use ferric_model::InterfaceKind;
use std::collections::BTreeMap;

/// A hardware type's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareType {
    pub name: &'static str,
    /// Per kind, supported implementation names in priority order.
    pub supported: BTreeMap<InterfaceKind, Vec<&'static str>>,
    /// `fake-hardware`: any enabled implementation is accepted (Ironic special-cases it in
    /// `driver_factory.get_interface`); `supported` then only orders the defaults.
    pub accepts_any: bool,
}

impl HardwareType {
    pub fn supports(&self, kind: InterfaceKind, name: &str) -> bool {
        self.accepts_any || self.supported.get(&kind).is_some_and(|l| l.contains(&name))
    }
}

fn generic() -> BTreeMap<InterfaceKind, Vec<&'static str>> {
    use InterfaceKind::*;
    BTreeMap::from([
        (Bios, vec!["no-bios", "fake"]),
        (Boot, vec!["ipxe", "pxe", "http-ipxe", "http", "fake"]),
        (Console, vec!["no-console", "fake-graphical", "fake"]),
        (Deploy, vec!["autodetect", "direct", "ansible", "ramdisk", "anaconda", "bootc", "custom-agent", "fake"]),
        (Firmware, vec!["no-firmware", "fake"]),
        (Inspect, vec!["agent", "no-inspect", "fake"]),
        (Management, vec![]),
        (Network, vec!["flat", "neutron", "ironic-networking", "noop"]),
        (Power, vec![]),
        (Raid, vec!["no-raid", "agent", "fake"]),
        (Rescue, vec!["no-rescue", "agent", "fake"]),
        (Storage, vec!["noop", "cinder", "external", "fake"]),
        (Vendor, vec!["no-vendor", "fake"]),
    ])
}

/// `ipmi`: ipmitool power and management.
pub fn ipmi() -> HardwareType {
    use InterfaceKind::*;
    let mut s = generic();
    s.insert(Console, vec!["ipmitool-socat", "no-console", "fake-graphical", "fake"]);
    s.insert(Management, vec!["ipmitool", "noop"]);
    s.insert(Power, vec!["ipmitool"]);
    s.insert(Vendor, vec!["ipmitool", "no-vendor", "fake"]);
    HardwareType { name: "ipmi", supported: s, accepts_any: false }
}

/// `redfish`: Redfish power, management, BIOS (and, when provided, virtual media boot).
pub fn redfish() -> HardwareType {
    use InterfaceKind::*;
    let mut s = generic();
    s.insert(Bios, vec!["redfish", "no-bios", "fake"]);
    s.insert(Boot, vec!["ipxe", "pxe", "http-ipxe", "http", "redfish-virtual-media", "redfish-https", "fake"]);
    s.insert(Console, vec!["redfish-graphical", "ipmitool-socat", "no-console", "fake-graphical", "fake"]);
    s.insert(Firmware, vec!["redfish", "no-firmware", "fake"]);
    s.insert(Inspect, vec!["redfish", "agent", "no-inspect", "fake"]);
    s.insert(Management, vec!["redfish", "noop"]);
    s.insert(Power, vec!["redfish"]);
    s.insert(Raid, vec!["redfish", "no-raid", "agent", "fake"]);
    s.insert(Vendor, vec!["redfish", "no-vendor", "fake"]);
    HardwareType { name: "redfish", supported: s, accepts_any: false }
}

/// `manual-management`: power by the agent (or fake), boot order preconfigured.
pub fn manual_management() -> HardwareType {
    use InterfaceKind::*;
    let mut s = generic();
    s.insert(
        Deploy,
        vec!["autodetect", "direct", "ansible", "ramdisk", "anaconda", "bootc", "custom-agent", "noop", "fake"],
    );
    s.insert(Management, vec!["noop", "fake"]);
    s.insert(Power, vec!["agent", "fake"]);
    s.insert(Vendor, vec!["no-vendor", "fake"]);
    HardwareType { name: "manual-management", supported: s, accepts_any: false }
}

/// `fake-hardware`: fakes first; any enabled implementation accepted.
pub fn fake_hardware() -> HardwareType {
    use InterfaceKind::*;
    let g = generic();
    let mut s = BTreeMap::new();
    for k in InterfaceKind::ALL {
        let mut l = vec!["fake"];
        let rest: Vec<&'static str> = match k {
            Management | Power => vec![],
            Raid | Rescue | Storage | Vendor | Firmware | Bios | Boot | Console | Deploy | Inspect => g[&k].clone(),
            Network => g[&k].clone(),
        };
        if k == Network {
            // Ironic's fake-hardware has no fake network interface.
            l.clear();
        }
        for n in rest {
            if !l.contains(&n) {
                l.push(n);
            }
        }
        s.insert(k, l);
    }
    HardwareType { name: "fake-hardware", supported: s, accepts_any: true }
}

/// Every hardware type Ferric knows.
pub fn all() -> Vec<HardwareType> {
    vec![fake_hardware(), ipmi(), redfish(), manual_management()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_lists_every_kind() {
        for ht in all() {
            for k in InterfaceKind::ALL {
                assert!(ht.supported.contains_key(&k), "{} {k:?}", ht.name);
            }
        }
        assert_eq!(fake_hardware().supported[&InterfaceKind::Power], vec!["fake"]);
        assert_eq!(fake_hardware().supported[&InterfaceKind::Network][0], "flat");
        assert!(!ipmi().supports(InterfaceKind::Power, "fake"));
        assert!(ipmi().supports(InterfaceKind::Deploy, "fake"));
        assert!(fake_hardware().supports(InterfaceKind::Power, "ipmitool"));
    }
}
