//! The fake implementations: instant by default, state in the node record, delays and failures
//! injected through `driver_info`, every call recorded (in process, and as JSON lines with one
//! O_APPEND write each, from many writers at once).

mod common;

use common::*;
use ferric_drivers::fake::read_record_file;
use ferric_drivers::StepResult;
use ferric_model::steps::{Step, StepKind};
use ferric_model::{Error, InterfaceKind, PowerAction, PowerState};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn t20_power_state_lives_in_the_node() {
    let reg = registry();
    let n = node("fake-hardware", Default::default());
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    assert_eq!(ifaces.power.get_power_state_if_known(&t).await.unwrap(), None, "Ironic's fake: unknown until set");
    for (a, want) in [
        (PowerAction::On, PowerState::On),
        (PowerAction::SoftOff, PowerState::Off),
        (PowerAction::SoftReboot, PowerState::On),
        (PowerAction::Off, PowerState::Off),
    ] {
        ifaces.power.set_power_state(&mut t, a, None).await.unwrap();
        assert_eq!(t.node.power_state, Some(want));
        assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), want);
    }
    ifaces.power.reboot(&mut t, false, None).await.unwrap();
    assert_eq!(t.node.power_state, Some(PowerState::On));
    // Another member taking over sees the same state: it is the node's.
    let other = reg.for_node(&t.node).unwrap();
    assert_eq!(other.power.get_power_state(&task(t.node.clone(), "m2", 2)).await.unwrap(), PowerState::On);
}

#[tokio::test]
async fn t21_failures_and_waits_are_injected_per_node() {
    let reg = registry();
    let n = node(
        "fake-hardware",
        dict(json!({"fake_fail": "power.set_power_state, inspect_hardware", "fake_wait": ["deploy"]})),
    );
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    let e = ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap_err();
    assert!(matches!(e, Error::DriverOperationError { .. }), "{e:?}");
    assert!(e.to_string().contains("power.set_power_state"), "{e}");
    assert_eq!(t.node.power_state, None, "a failed call changes nothing");
    ifaces.power.get_power_state(&t).await.unwrap();
    assert!(ifaces.inspect.inspect_hardware(&mut t).await.is_err());
    assert_eq!(ifaces.deploy.deploy(&mut t).await.unwrap(), StepResult::Wait);
    assert_eq!(ifaces.deploy.prepare_cleaning(&mut t).await.unwrap(), StepResult::Done);

    // Everything, including validate, with a custom message.
    let n = node("fake-hardware", dict(json!({"fake_fail": "*", "fake_fail_message": "BMC on fire"})));
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    let e = ifaces.power.validate(&t).unwrap_err();
    assert_eq!((e.http_status(), e.to_string().as_str()), (400, "BMC on fire"));
    assert_eq!(ifaces.deploy.tear_down(&mut t).await.unwrap_err().to_string(), "BMC on fire");
    assert!(ifaces.management.set_boot_device(&mut t, "pxe", false).await.is_err());

    // A whole kind.
    let n = node("fake-hardware", dict(json!({"fake_fail": ["management.*"]})));
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    assert!(ifaces.management.get_boot_device(&t).await.is_err());
    ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();

    // Rates 1 and 0.
    for (rate, fails) in [(1.0, true), (0.0, false)] {
        let n = node("fake-hardware", dict(json!({"fake_fail_rate": rate})));
        let t = task(n.clone(), "m1", 1);
        let p = reg.for_node(&n).unwrap().power;
        for _ in 0..20 {
            assert_eq!(p.get_power_state(&t).await.is_err(), fails);
        }
    }
}

#[tokio::test]
async fn t22_delays_per_call_and_per_kind() {
    let reg = registry();
    let n = node("fake-hardware", dict(json!({"fake_delay": 0.2, "fake_management_delay": "0"})));
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    let (_, took) = timed(ifaces.power.set_power_state(&mut t, PowerAction::On, None)).await;
    assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(2), "{took:?}");
    let (_, took) = timed(ifaces.management.get_boot_device(&t)).await;
    assert!(took < Duration::from_millis(150), "per-kind override: {took:?}");
}

#[tokio::test]
async fn t23_bad_fake_knobs_are_refused_at_validate_naming_the_field() {
    let reg = registry();
    for (info, field) in [
        (json!({"fake_delay": "soon"}), "fake_delay"),
        (json!({"fake_delay": -1}), "fake_delay"),
        (json!({"fake_delay": 1e9}), "fake_delay"),
        (json!({"fake_power_delay": "x"}), "fake_power_delay"),
        (json!({"fake_fail_rate": 2}), "fake_fail_rate"),
        (json!({"fake_fail": 5}), "fake_fail"),
        (json!({"fake_wait": [1]}), "fake_wait"),
        (json!({"fake_record_path": "relative.jsonl"}), "fake_record_path"),
    ] {
        let n = node("fake-hardware", dict(info.clone()));
        let ifaces = reg.for_node(&n).unwrap();
        let t = task(n, "m", 1);
        let e = ifaces.power.validate(&t).unwrap_err();
        assert_eq!(e.http_status(), 400, "{info}");
        assert!(e.to_string().contains(field), "{info}: {e}");
        // The call itself refuses too, before doing anything.
        assert_eq!(ifaces.power.get_power_state(&t).await.unwrap_err().http_status(), 400);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t24_calls_are_recorded_in_process_and_in_a_shared_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    let info = dict(json!({"fake_record_path": path.display().to_string()}));

    // 8 members (registries), each hammering its own nodes from its own runtime thread.
    let mut handles = Vec::new();
    for m in 0..8u64 {
        let info = info.clone();
        handles.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let reg = registry();
                let n = node("fake-hardware", info);
                let ifaces = reg.for_node(&n).unwrap();
                let mut t = task(n.clone(), &format!("m{m}"), 100 + m);
                for _ in 0..25 {
                    ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();
                    ifaces.management.set_boot_device(&mut t, "pxe", false).await.unwrap();
                }
                assert_eq!(reg.fake_recorder().calls_for(&n.uuid.to_string()).len(), 50);
                n.uuid.to_string()
            })
        }));
    }
    let nodes: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 400, "one line per call, none torn");
    let calls = read_record_file(&path).unwrap();
    assert_eq!(calls.len(), 400);
    for c in &calls {
        let m: u64 = c.member[1..].parse().unwrap();
        assert_eq!(c.holder.as_deref(), Some(c.member.as_str()));
        assert_eq!(c.generation, Some(100 + m));
        assert_eq!(c.node, nodes[m as usize]);
        assert!(c.call == "power.set_power_state" || c.call == "management.set_boot_device", "{c:?}");
        assert!(c.ts_us > 1_600_000_000_000_000);
    }
    let first = text.lines().next().unwrap();
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first).unwrap().keys().cloned().collect();
    assert_eq!(keys, ["ts_us", "node", "call", "member", "holder", "generation"]);

    // An unwritable record path is a clear driver error.
    let n = node("fake-hardware", dict(json!({"fake_record_path": "/proc/ferric-no-such-dir/x.jsonl"})));
    let e = registry().for_node(&n).unwrap().power.get_power_state(&task(n, "m", 1)).await.unwrap_err();
    assert!(e.to_string().contains("fake_record_path"), "{e}");
}

#[tokio::test]
async fn t25_management_raid_bios_vendor_and_steps() {
    let reg = registry();
    let n = node("fake-hardware", Default::default());
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);

    ifaces.management.set_boot_device(&mut t, "cdrom", true).await.unwrap();
    let b = ifaces.management.get_boot_device(&t).await.unwrap();
    assert_eq!((b.boot_device.as_deref(), b.persistent), (Some("cdrom"), Some(true)));
    ifaces.management.set_boot_mode(&mut t, "bios").await.unwrap();
    assert_eq!(ifaces.management.get_boot_mode(&t).await.unwrap().as_deref(), Some("bios"));
    ifaces.management.inject_nmi(&mut t).await.unwrap();

    // RAID: no target → refused; with one → it becomes the current configuration.
    assert!(ifaces.raid.create_configuration(&mut t, true, true, true).await.is_err());
    t.node.target_raid_config = dict(json!({"logical_disks": [
        {"size_gb": 100, "raid_level": "1", "is_root_volume": true}, {"size_gb": "MAX", "raid_level": "0"}]}));
    ifaces.raid.validate(&t).unwrap();
    ifaces.raid.create_configuration(&mut t, true, false, true).await.unwrap();
    assert_eq!(t.node.raid_config["logical_disks"].as_array().unwrap().len(), 1);
    let step = Step {
        interface: InterfaceKind::Raid,
        step: "delete_configuration".into(),
        args: Default::default(),
        priority: 0,
        abortable: false,
    };
    ifaces.raid.execute_step(&mut t, StepKind::Clean, &step).await.unwrap();
    assert!(t.node.raid_config.is_empty());
    t.node.target_raid_config = dict(json!({"logical_disks": [{"raid_level": "9", "size_gb": 1}]}));
    assert_eq!(ifaces.raid.validate(&t).unwrap_err().http_status(), 400);

    // BIOS through its clean step.
    let step = Step {
        interface: InterfaceKind::Bios,
        step: "apply_configuration".into(),
        args: dict(json!({"settings": [{"name": "LogicalProc", "value": "Disabled"}]})),
        priority: 0,
        abortable: false,
    };
    ifaces.bios.execute_step(&mut t, StepKind::Clean, &step).await.unwrap();
    assert_eq!(t.node.driver_internal_info["bios_settings"]["LogicalProc"], json!("Disabled"));
    ifaces.bios.factory_reset(&mut t).await.unwrap();
    assert_eq!(t.node.driver_internal_info["bios_settings"], json!({}));
    let bad = Step { args: Default::default(), ..step };
    assert_eq!(ifaces.bios.execute_step(&mut t, StepKind::Clean, &bad).await.unwrap_err().http_status(), 400);

    // Ironic's FakeVendorB.
    let ok = ifaces.vendor.call(&mut t, "second_method", "POST", &json!({"bar": "kazoo"})).await.unwrap();
    assert_eq!(ok, json!(true));
    assert_eq!(
        ifaces.vendor.call(&mut t, "third_method_sync", "POST", &json!({"bar": "x"})).await.unwrap(),
        json!(false)
    );
    assert_eq!(ifaces.vendor.call(&mut t, "second_method", "POST", &json!({})).await.unwrap_err().http_status(), 400);
    assert_eq!(ifaces.vendor.call(&mut t, "nope", "POST", &json!({})).await.unwrap_err().http_status(), 400);
    assert!(!ifaces.vendor.methods()["fourth_method_shared_lock"].require_exclusive_lock);

    // Deploy step and service-wait step.
    let s = Step {
        interface: InterfaceKind::Deploy,
        step: "deploy".into(),
        args: Default::default(),
        priority: 100,
        abortable: true,
    };
    assert_eq!(ifaces.deploy.execute_step(&mut t, StepKind::Deploy, &s).await.unwrap(), StepResult::Done);
    let s = Step {
        interface: InterfaceKind::Vendor,
        step: "trigger_servicewait".into(),
        args: Default::default(),
        priority: 0,
        abortable: false,
    };
    assert_eq!(ifaces.vendor.execute_step(&mut t, StepKind::Service, &s).await.unwrap(), StepResult::Wait);

    let calls = reg.fake_recorder().calls_for(&t.node.uuid.to_string());
    assert_eq!(calls.first().map(String::as_str), Some("management.set_boot_device"));
    assert!(calls.contains(&"raid.delete_configuration".to_string()));
}

#[tokio::test]
async fn t26_indicators_vendor_checks_and_inspection() {
    let reg = registry();
    let n = node("fake-hardware", Default::default());
    let i = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    let all = i.management.get_supported_indicators(&t, None).await.unwrap();
    assert_eq!(all["chassis"]["led-0"]["readonly"], json!(true));
    i.management.set_indicator_state(&mut t, "system", "led", "blinking").await.unwrap();
    assert_eq!(i.management.get_indicator_state(&t, "system", "led").await.unwrap(), "blinking");
    assert_eq!(i.management.set_indicator_state(&mut t, "chassis", "led-0", "off").await.unwrap_err().http_status(), 400);
    assert_eq!(i.management.get_indicator_state(&t, "disk", "x").await.unwrap_err().http_status(), 400);
    // Vendor passthru checks before the call.
    i.vendor.validate_call(&t, "second_method", "POST", &json!({})).unwrap();
    assert!(i.vendor.validate_call(&t, "second_method", "GET", &json!({})).unwrap_err().to_string().contains("does not support"));
    assert!(i.vendor.validate_call(&t, "nope", "POST", &json!({})).is_err());
    assert_eq!(i.inspect.continue_inspection(&mut t, &json!({}), &json!({})).await.unwrap(), StepResult::Done);
    // Unsupported optional methods answer UnsupportedDriverExtension.
    let e = i.management.get_virtual_media(&t).await.unwrap_err();
    assert!(matches!(e, Error::UnsupportedDriverExtension { .. }), "{e:?}");
    assert!(i.network.get_current_vif(&t, &dict(json!({"cleaning_vif_port_id": "c", "tenant_vif_port_id": "t"}))) == Some("c".into()));
}
