//! The `ipmitool` power and management interfaces against real `ipmi_sim` BMCs on loopback,
//! cross-checked with `ipmitool -I lanplus -C 3`.

mod common;

use common::*;
use ferric_drivers::testbed::IpmiSim;
use ferric_model::{PowerAction, PowerState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t30_power_and_boot_device_cross_checked_with_ipmitool() {
    require_ipmi();
    let sim = IpmiSim::start().unwrap();
    let reg = registry();
    let n = node("ipmi", sim.driver_info());
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 7);

    // Phase 1: our power on is what ipmitool sees.
    ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();
    assert!(sim.ipmitool(&["power", "status"]).unwrap().contains("Chassis Power is on"));
    assert!(sim.power_on());

    // Phase 2: ipmitool's power off is what we see.
    sim.ipmitool(&["power", "off"]).unwrap();
    assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), PowerState::Off);

    // Phase 3: boot device both ways.
    ifaces.management.set_boot_device(&mut t, "pxe", false).await.unwrap();
    let out = sim.ipmitool(&["chassis", "bootparam", "get", "5"]).unwrap();
    assert!(out.contains("Force PXE"), "{out}");
    sim.ipmitool(&["chassis", "bootdev", "cdrom"]).unwrap();
    let got = ifaces.management.get_boot_device(&t).await.unwrap();
    assert_eq!(got.boot_device.as_deref(), Some("cdrom"));
}
