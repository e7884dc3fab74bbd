//! The `redfish` power, management and BIOS interfaces against sushy-tools' emulator (fake
//! system driver: power changes land 1–11 s late), over HTTP and HTTPS; and the faults: wrong
//! password, bad certificates, a BMC that never applies a reset, answers garbage, never answers.

mod common;

use common::fake_redfish::{FakeRedfish, Mode};
use common::*;
use ferric_drivers::testbed::{SushyEmulator, SushyOptions};
use ferric_model::{Error, PowerAction, PowerState};
use serde_json::{json, Value};
use std::time::Duration;

/// What the emulator itself says (an observer independent of the driver).
async fn emulator_power(emu: &SushyEmulator, i: usize) -> String {
    let url = format!("{}/redfish/v1/Systems/{}", emu.url(), emu.systems[i]);
    let mut rb = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap().get(url);
    if let Some((u, p)) = &emu.auth {
        rb = rb.basic_auth(u, Some(p));
    }
    let v: Value = rb.send().await.unwrap().json().await.unwrap();
    v["PowerState"].as_str().unwrap_or("?").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t40_power_boot_override_mode_and_secure_boot_against_the_emulator() {
    let emu = SushyEmulator::start(&SushyOptions { systems: 2, ..Default::default() }).unwrap();
    let reg = registry();
    let n = node("redfish", emu.driver_info(0));
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 42);

    // Phase 1: power on lands late; the driver waits for it.
    assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), PowerState::Off);
    let (r, took) = timed(ifaces.power.set_power_state(&mut t, PowerAction::On, None)).await;
    r.unwrap();
    assert_eq!(emulator_power(&emu, 0).await, "On");
    assert_eq!(emulator_power(&emu, 1).await, "Off", "the other system is untouched");
    eprintln!("power on took {took:?}");
    assert!(took < Duration::from_secs(20));

    // Phase 2: boot override once and continuous (the emulator reads both back as Continuous).
    ifaces.management.set_boot_device(&mut t, "pxe", false).await.unwrap();
    assert_eq!(ifaces.management.get_boot_device(&t).await.unwrap().boot_device.as_deref(), Some("pxe"));
    ifaces.management.set_boot_device(&mut t, "disk", true).await.unwrap();
    let b = ifaces.management.get_boot_device(&t).await.unwrap();
    assert_eq!((b.boot_device.as_deref(), b.persistent), (Some("disk"), Some(true)));
    let devs = ifaces.management.get_supported_boot_devices(&t).await.unwrap();
    assert!(devs.contains(&"pxe".to_string()) && devs.contains(&"cdrom".to_string()), "{devs:?}");

    // Phase 3: boot mode and secure boot round trips.
    assert_eq!(ifaces.management.get_boot_mode(&t).await.unwrap().as_deref(), Some("uefi"));
    ifaces.management.set_boot_mode(&mut t, "bios").await.unwrap();
    assert_eq!(ifaces.management.get_boot_mode(&t).await.unwrap().as_deref(), Some("bios"));
    ifaces.management.set_boot_mode(&mut t, "uefi").await.unwrap();
    assert_eq!(ifaces.management.get_secure_boot_state(&t).await.unwrap(), Some(false));
    ifaces.management.set_secure_boot_state(&mut t, true).await.unwrap();
    assert_eq!(ifaces.management.get_secure_boot_state(&t).await.unwrap(), Some(true));

    // Phase 4: BIOS — the fake system driver exposes none: a clear refusal, not a crash.
    let e = ifaces.bios.cache_bios_settings(&mut t).await.unwrap_err();
    assert!(matches!(e, Error::UnsupportedDriverExtension { .. }), "{e:?}");
    let e = ifaces
        .bios
        .apply_configuration(&mut t, &[json!({"name": "ProcTurboMode", "value": "Disabled"})])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::UnsupportedDriverExtension { .. }), "{e:?}");

    // Phase 5: power off, also late.
    ifaces.power.set_power_state(&mut t, PowerAction::Off, None).await.unwrap();
    assert_eq!(emulator_power(&emu, 0).await, "Off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t41_the_only_system_is_found_and_several_need_an_id() {
    let one = SushyEmulator::start(&SushyOptions { systems: 1, ..Default::default() }).unwrap();
    let two = SushyEmulator::start(&SushyOptions { systems: 2, ..Default::default() }).unwrap();
    let reg = registry();
    let n = node("redfish", dict(json!({"redfish_address": one.url()})));
    let t = task(n.clone(), "m1", 1);
    assert_eq!(reg.for_node(&n).unwrap().power.get_power_state(&t).await.unwrap(), PowerState::Off);
    let n = node(
        "redfish",
        dict(json!({"redfish_address": format!("127.0.0.1:{}", two.port).replace("127", "http://127")})),
    );
    let e = reg.for_node(&n).unwrap().power.get_power_state(&task(n.clone(), "m1", 1)).await.unwrap_err();
    assert!(e.to_string().contains("redfish_system_id"), "{e}");
    // A system id alone (not a path) works too.
    let mut info = two.driver_info(1);
    info.insert("redfish_system_id".into(), json!(two.systems[1]));
    let n = node("redfish", info);
    assert_eq!(
        reg.for_node(&n).unwrap().power.get_power_state(&task(n.clone(), "m", 1)).await.unwrap(),
        PowerState::Off
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t42_basic_auth_and_tls_verification() {
    let emu =
        SushyEmulator::start(&SushyOptions { systems: 1, auth: Some(("admin".into(), "s3cret-pw".into())), tls: true })
            .unwrap();
    let reg = registry();

    // Right password, CA from a file: works.
    let n = node("redfish", emu.driver_info(0));
    let ifaces = reg.for_node(&n).unwrap();
    assert_eq!(ifaces.power.get_power_state(&task(n.clone(), "m", 1)).await.unwrap(), PowerState::Off);

    // CA from a directory: works.
    let mut info = emu.driver_info(0);
    info.insert(
        "redfish_verify_ca".into(),
        json!(emu.ca_path.as_ref().unwrap().parent().unwrap().display().to_string()),
    );
    let n2 = node("redfish", info);
    assert_eq!(
        reg.for_node(&n2).unwrap().power.get_power_state(&task(n2.clone(), "m", 1)).await.unwrap(),
        PowerState::Off
    );

    // Wrong password: a clear 401, quickly, without the password.
    let mut info = emu.driver_info(0);
    info.insert("redfish_password".into(), json!("guess"));
    let n3 = node("redfish", info);
    let (r, took) = timed(reg.for_node(&n3).unwrap().power.get_power_state(&task(n3.clone(), "m", 1))).await;
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("authentication failed") && msg.contains("401"), "{msg}");
    assert!(!msg.contains("guess") && !msg.contains("s3cret"), "{msg}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Default verification (built-in roots) refuses the test CA; false accepts it.
    for (verify, ok) in [(json!(true), false), (json!("True"), false), (json!(false), true), (json!("no"), true)] {
        let mut info = emu.driver_info(0);
        info.insert("redfish_verify_ca".into(), verify.clone());
        let n4 = node("redfish", info);
        let r = reg.for_node(&n4).unwrap().power.get_power_state(&task(n4.clone(), "m", 1)).await;
        assert_eq!(r.is_ok(), ok, "verify_ca {verify}: {r:?}");
        if let Err(e) = r {
            assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t43_fencing_headers_on_every_change() {
    let bmc = FakeRedfish::start(Mode::Good).await;
    let reg = registry();
    let n = node("redfish", dict(json!({"redfish_address": bmc.url(), "redfish_system_id": "/redfish/v1/Systems/1"})));
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "member-b", 1234);
    ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();
    ifaces.power.reboot(&mut t, false, None).await.unwrap();
    ifaces.management.set_boot_device(&mut t, "pxe", true).await.unwrap();
    let rec = bmc.recorded();
    let changes: Vec<_> = rec.iter().filter(|r| r.method != "GET").collect();
    assert_eq!(changes.len(), 4, "On, ForceOff, On, PATCH: {changes:?}");
    for r in &changes {
        assert_eq!(r.header("X-Ferric-Member"), Some("member-b"), "{r:?}");
        assert_eq!(r.header("X-Ferric-Lock-Generation"), Some("1234"), "{r:?}");
    }
    // Reads of the system say who looks, under which lock; the service root and the systems
    // collection are nobody's.
    let system_reads: Vec<_> = rec.iter().filter(|r| r.method == "GET" && r.path.ends_with("/Systems/1")).collect();
    assert!(!system_reads.is_empty(), "{rec:?}");
    for r in system_reads {
        assert_eq!(r.header("X-Ferric-Member"), Some("member-b"), "{r:?}");
        assert_eq!(r.header("X-Ferric-Lock-Generation"), Some("1234"), "{r:?}");
    }
    assert!(changes[3].body.contains("\"Continuous\"") && changes[3].body.contains("\"Pxe\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t44_misbehaving_bmcs_end_in_bounded_time_with_clear_errors() {
    let mut cfg = test_config();
    cfg.redfish.request_timeout_s = 2;
    cfg.redfish.connection_attempts = 2;
    cfg.redfish.max_response_bytes = 256 * 1024;
    cfg.redfish.power_state_change_timeout_s = 3;
    let reg = ferric_drivers::DriverRegistry::new(&cfg).unwrap();
    let info = |url: String| dict(json!({"redfish_address": url, "redfish_system_id": "/redfish/v1/Systems/1"}));

    // A reset that never lands: the wait ends at the deadline, naming the state it saw.
    let bmc = FakeRedfish::start(Mode::NeverApplies).await;
    let n = node("redfish", info(bmc.url()));
    let mut t = task(n.clone(), "m", 1);
    let (r, took) = timed(reg.for_node(&n).unwrap().power.set_power_state(&mut t, PowerAction::On, None)).await;
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("did not become power on") && msg.contains("power off"), "{msg}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(6), "{took:?}");

    for (mode, expect) in [
        (Mode::Garbage, "invalid JSON"),
        (Mode::Endless, "larger than"),
        (Mode::Hang, "timed out"),
        (Mode::ServerError, "HTTP 500"),
        (Mode::CloseMidway, "failed"),
    ] {
        let bmc = FakeRedfish::start(mode).await;
        let n = node("redfish", info(bmc.url()));
        let (r, took) = timed(reg.for_node(&n).unwrap().power.get_power_state(&task(n.clone(), "m", 1))).await;
        let e = r.unwrap_err();
        assert!(matches!(e, Error::DriverOperationError { .. }), "{mode:?}: {e:?}");
        assert!(e.to_string().contains(expect), "{mode:?}: {e}");
        // Two attempts of at most 2 s each, plus the pause between them.
        assert!(took < Duration::from_secs(6), "{mode:?} took {took:?}");
        eprintln!("{mode:?}: {e} ({took:?})");
    }

    // Nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let n = node("redfish", info(format!("http://127.0.0.1:{closed}")));
    let (r, took) = timed(reg.for_node(&n).unwrap().power.get_power_state(&task(n.clone(), "m", 1))).await;
    assert!(r.unwrap_err().to_string().contains("cannot connect"));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t45_malformed_driver_info_is_refused_naming_the_field() {
    let reg = registry();
    let cases = [
        (json!({}), "redfish_address"),
        (json!({"redfish_address": ""}), "redfish_address"),
        (json!({"redfish_address": "ftp://bmc"}), "redfish_address"),
        (json!({"redfish_address": "https://"}), "redfish_address"),
        (json!({"redfish_address": "https://user:pw@bmc"}), "redfish_address"),
        (json!({"redfish_address": "bmc", "redfish_verify_ca": "maybe"}), "redfish_verify_ca"),
        (json!({"redfish_address": "bmc", "redfish_verify_ca": "/no/such/ca.pem"}), "redfish_verify_ca"),
        (json!({"redfish_address": "bmc", "redfish_verify_ca": 7}), "redfish_verify_ca"),
        (json!({"redfish_address": "bmc", "redfish_auth_type": "kerberos"}), "redfish_auth_type"),
        (json!({"redfish_address": "bmc", "redfish_system_id": "a b"}), "redfish_system_id"),
        (json!({"redfish_address": "bmc", "redfish_username": {"x": 1}}), "redfish_username"),
    ];
    for (info, field) in cases {
        let n = node("redfish", dict(info.clone()));
        let ifaces = reg.for_node(&n).unwrap();
        let t = task(n, "m", 1);
        for r in [ifaces.power.validate(&t), ifaces.management.validate(&t), ifaces.bios.validate(&t)] {
            let e = r.unwrap_err();
            assert_eq!(e.http_status(), 400, "{info}: {e:?}");
            assert!(e.to_string().contains(field), "{info}: {e}");
            assert!(!e.to_string().contains(":pw@"), "{e}");
        }
    }
    for ok in
        [json!({"redfish_address": "bmc.example.com"}), json!({"redfish_address": "https://[::1]:8443/redfish/v1"})]
    {
        let n = node("redfish", dict(ok));
        reg.for_node(&n).unwrap().power.validate(&task(n, "m", 1)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t46_vendor_health_and_mac_addresses() {
    let emu = SushyEmulator::start(&SushyOptions { systems: 2, ..Default::default() }).unwrap();
    let reg = registry();
    let n = node("redfish", emu.driver_info(1));
    let m = reg.for_node(&n).unwrap().management;
    let t = task(n, "m1", 1);
    assert_eq!(m.detect_vendor(&t).await.unwrap().as_deref(), Some("sushy emulator"));
    assert_eq!(m.get_node_health(&t).await.unwrap().as_deref(), Some("OK"));
    assert_eq!(m.get_mac_addresses(&t).await.unwrap(), vec!["52:54:00:00:00:01".to_string()]);
}
