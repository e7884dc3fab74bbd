//! One conformance suite (tests/common/conformance.rs), every power + management
//! implementation: fake, ipmitool against ipmi_sim (plain, and with `ipmi_force_boot_device`),
//! redfish against the sushy-tools emulator.

mod common;

use common::conformance::{run, Caps, Observer};
use common::*;
use ferric_drivers::testbed::{IpmiSim, SushyEmulator, SushyOptions};
use ferric_model::PowerState;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t50_fake() {
    let reg = registry();
    let n = node("fake-hardware", Default::default());
    let i = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    let caps = Caps {
        boot_devices: vec!["pxe", "disk", "cdrom", "bios"],
        persistent_readback: true,
        nmi_supported: true,
        power_change_bound: Duration::from_secs(1),
    };
    run("fake", &*i.power, &*i.management, &mut t, &caps, None).await;
}

fn ipmitool_observer(sim: Arc<IpmiSim>) -> Observer {
    Box::new(move || {
        let sim = sim.clone();
        Box::pin(async move {
            let out = tokio::task::spawn_blocking(move || sim.ipmitool(&["power", "status"])).await.ok()?.ok()?;
            if out.contains("is on") {
                Some(PowerState::On)
            } else if out.contains("is off") {
                Some(PowerState::Off)
            } else {
                None
            }
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t51_ipmitool_against_ipmi_sim() {
    require_ipmi();
    let reg = registry();
    for force in [false, true] {
        let sim = Arc::new(IpmiSim::start().unwrap());
        let mut info = sim.driver_info();
        if force {
            info.insert("ipmi_force_boot_device".into(), json!(true));
        }
        let n = node("ipmi", info);
        let i = reg.for_node(&n).unwrap();
        let mut t = task(n, "m1", 1);
        let caps = Caps {
            boot_devices: vec!["pxe", "disk", "cdrom", "bios"],
            // ipmi_sim drops the persistent flag; with ipmi_force_boot_device Ferric keeps it.
            persistent_readback: force,
            // ipmi_sim answers "invalid data field" to a diagnostic interrupt.
            nmi_supported: false,
            power_change_bound: Duration::from_secs(10),
        };
        let name = if force { "ipmitool (forced boot device)" } else { "ipmitool" };
        run(name, &*i.power, &*i.management, &mut t, &caps, Some(ipmitool_observer(sim.clone()))).await;
        let ev = sim.events();
        assert!(ev.iter().any(|e| e == "shutdown"), "soft power off reached the chassis: {ev:?}");
    }
}

fn redfish_observer(url: String) -> Observer {
    Box::new(move || {
        let url = url.clone();
        Box::pin(async move {
            let v: Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
            match v["PowerState"].as_str()? {
                "On" => Some(PowerState::On),
                "Off" => Some(PowerState::Off),
                _ => None,
            }
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t52_redfish_against_the_emulator() {
    let emu = SushyEmulator::start(&SushyOptions { systems: 1, ..Default::default() }).unwrap();
    let reg = registry();
    let n = node("redfish", emu.driver_info(0));
    let i = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    let caps = Caps {
        boot_devices: vec!["pxe", "disk", "cdrom"],
        // The emulator accepts Once but always reads back Continuous.
        persistent_readback: false,
        // The fake system driver does not support the Nmi reset.
        nmi_supported: false,
        // Changes land 1–11 s late; polls every 250 ms.
        power_change_bound: Duration::from_secs(25),
    };
    let url = format!("{}/redfish/v1/Systems/{}", emu.url(), emu.systems[0]);
    run("redfish", &*i.power, &*i.management, &mut t, &caps, Some(redfish_observer(url))).await;
}
