//! The `ipmitool` power, management and vendor interfaces against real `ipmi_sim` BMCs on
//! loopback, cross-checked with `ipmitool -I lanplus -C 3`; and the faults: wrong password,
//! unreachable or silent BMC, a BMC frozen or killed mid-session, a BMC answering garbage.

mod common;

use common::*;
use ferric_drivers::testbed::{IpmiSim, IpmiSimOptions};
use ferric_model::{Error, InterfaceKind, PowerAction, PowerState};
use serde_json::json;
use std::time::Duration;

fn ipmi_client(reg: &ferric_drivers::DriverRegistry) -> std::sync::Arc<ferric_drivers::ipmi::IpmiClient> {
    reg.ipmi_client().expect("ipmitool loaded")
}

fn active_sessions(sim: &IpmiSim) -> u32 {
    let out = sim.ipmitool(&["session", "info", "active"]).unwrap();
    out.lines()
        .find_map(|l| {
            l.strip_prefix("active sessions").map(|r| r.trim_start_matches([' ', ':']).trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no session count in {out}"))
}

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

    // Phase 4: a machine that switched itself off is seen as off.
    ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();
    sim.set_power_file(false);
    assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), PowerState::Off);

    // Phase 5: the chassis script saw exactly our requests.
    let ev = sim.events();
    assert!(ev.contains(&"boot pxe".to_string()) && ev.contains(&"power 1".to_string()), "{ev:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t31_sessions_are_reused_and_closed() {
    require_ipmi();
    let sim = IpmiSim::start().unwrap();
    let reg = registry();
    let n = node("ipmi", sim.driver_info());
    let ifaces = reg.for_node(&n).unwrap();
    let t = task(n, "m1", 1);
    let client = ipmi_client(&reg);

    for _ in 0..10 {
        ifaces.power.get_power_state(&t).await.unwrap();
    }
    let s = client.stats();
    assert_eq!(s.sessions_opened, 1, "{s:?}");
    assert_eq!(s.sessions_reused, 9, "{s:?}");
    assert_eq!(s.cached_sessions, 1);
    // Ours plus ipmitool's own.
    assert_eq!(active_sessions(&sim), 2);

    reg.shutdown().await;
    assert_eq!(client.stats().cached_sessions, 0);
    assert_eq!(client.stats().sessions_closed, 1);
    // Close Session is fire-and-forget: poll the BMC until it shows only ipmitool's session.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = active_sessions(&sim);
        if n == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "BMC still has {n} sessions");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t32_idle_sessions_expire_and_the_cap_evicts() {
    require_ipmi();
    let sims: Vec<IpmiSim> = (0..3).map(|_| IpmiSim::start().unwrap()).collect();
    let mut cfg = test_config();
    cfg.ipmi.max_cached_sessions = 2;
    cfg.ipmi.session_idle_timeout_s = 1;
    let reg = ferric_drivers::DriverRegistry::new(&cfg).unwrap();
    let client = ipmi_client(&reg);
    for sim in &sims {
        let n = node("ipmi", sim.driver_info());
        let t = task(n.clone(), "m1", 1);
        reg.for_node(&n).unwrap().power.get_power_state(&t).await.unwrap();
    }
    let s = client.stats();
    assert_eq!(s.sessions_opened, 3);
    assert_eq!(s.cached_sessions, 2, "cap of 2: {s:?}");
    assert_eq!(s.sessions_closed, 1, "the least recently used was closed: {s:?}");

    // The periodic task closes what stayed idle past the timeout.
    let tasks = reg.periodic_tasks();
    let sweeper = tasks.iter().find(|p| p.name == "power.ipmitool.expire_idle_sessions").unwrap();
    struct NoHost;
    impl ferric_drivers::interfaces::PeriodicHost for NoHost {
        fn owned_nodes(&self, _k: InterfaceKind, _i: &str) -> Vec<ferric_model::Node> {
            vec![]
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while client.stats().cached_sessions > 0 {
        assert!(std::time::Instant::now() < deadline, "idle sessions never expired");
        sweeper.task.run(&NoHost).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(client.stats().sessions_closed, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t33_privilege_levels() {
    require_ipmi();
    let sim = IpmiSim::start().unwrap();
    let reg = registry();
    let n = node("ipmi", sim.driver_info());
    let mut t = task(n.clone(), "m1", 1);
    reg.for_node(&n).unwrap().power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();
    assert!(sim.power_on());

    // USER may read but not control.
    let mut info = sim.driver_info();
    info.insert("ipmi_priv_level".into(), json!("USER"));
    let n = node("ipmi", info);
    let mut t = task(n.clone(), "m1", 1);
    let ifaces = reg.for_node(&n).unwrap();
    assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), PowerState::On);
    let e = ifaces.power.set_power_state(&mut t, PowerAction::Off, None).await.unwrap_err();
    assert!(e.to_string().contains("0xd4") && e.to_string().contains("insufficient privilege"), "{e}");

    // A user whose limit is OPERATOR: ipmi-rs asks for ADMINISTRATOR at session start.
    let mut info = sim.driver_info();
    info.insert("ipmi_username".into(), json!("operator"));
    info.insert("ipmi_password".into(), json!("operpass"));
    info.insert("ipmi_priv_level".into(), json!("OPERATOR"));
    let n = node("ipmi", info);
    let t = task(n.clone(), "m1", 1);
    let (r, took) = timed(reg.for_node(&n).unwrap().power.get_power_state(&t)).await;
    let e = r.unwrap_err();
    assert!(e.to_string().contains("authentication failed"), "{e}");
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t34_wrong_password_and_unknown_user_fail_fast_without_leaking() {
    require_ipmi();
    let sim = IpmiSim::start().unwrap();
    let reg = registry();
    for (field, value, expect) in
        [("ipmi_password", "not-the-password", "wrong password"), ("ipmi_username", "mallory", "authentication failed")]
    {
        let mut info = sim.driver_info();
        info.insert(field.into(), json!(value));
        let n = node("ipmi", info);
        let t = task(n.clone(), "m1", 1);
        let (r, took) = timed(reg.for_node(&n).unwrap().power.get_power_state(&t)).await;
        let e = r.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::DriverOperationError { .. }), "{e:?}");
        assert!(msg.contains(expect), "{msg}");
        assert!(!msg.contains("not-the-password") && !msg.contains("password\""), "secret in {msg}");
        assert!(took < Duration::from_secs(3), "auth failure took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t35_unreachable_silent_and_garbage_bmcs_end_in_bounded_time() {
    require_ipmi();
    let cfg = test_config();
    let bound = Duration::from_secs(cfg.ipmi.command_timeout_s) + Duration::from_secs(2);
    let reg = ferric_drivers::DriverRegistry::new(&cfg).unwrap();
    let info_for = |port: u16| {
        dict(
            json!({"ipmi_address": "127.0.0.1", "ipmi_port": port, "ipmi_username": "admin", "ipmi_password": "password"}),
        )
    };

    // Nothing listens: ICMP port unreachable → refused, fast.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let n = node("ipmi", info_for(closed));
    let (r, took) = timed(reg.for_node(&n).unwrap().power.get_power_state(&task(n.clone(), "m", 1))).await;
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("refused") || msg.contains("unreachable"), "{msg}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    for mode in [Misbehaviour::Silent, Misbehaviour::Noise, Misbehaviour::PongThenNoise, Misbehaviour::TruncatedPong] {
        let bmc = FakeUdpBmc::start(mode);
        let n = node("ipmi", info_for(bmc.port));
        let mut t = task(n.clone(), "m", 1);
        let ifaces = reg.for_node(&n).unwrap();
        let (r, took) = timed(ifaces.power.get_power_state(&t)).await;
        let e = r.unwrap_err();
        assert!(matches!(e, Error::DriverOperationError { .. }), "{mode:?}: {e:?}");
        assert!(took <= bound, "{mode:?} took {took:?}");
        eprintln!("{mode:?}: {e} ({took:?})");
        // A power change ends in bounded time too (its own call fails, no wait loop).
        let (r, took) = timed(ifaces.power.set_power_state(&mut t, PowerAction::On, None)).await;
        assert!(r.is_err() && took <= bound, "{mode:?}: {r:?} {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t36_bmc_frozen_or_killed_mid_session() {
    require_ipmi();
    let mut sim = IpmiSim::start().unwrap();
    let cfg = test_config();
    let bound = Duration::from_secs(cfg.ipmi.command_timeout_s) + Duration::from_secs(2);
    let reg = ferric_drivers::DriverRegistry::new(&cfg).unwrap();
    let n = node("ipmi", sim.driver_info());
    let ifaces = reg.for_node(&n).unwrap();
    let t = task(n, "m1", 1);
    assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), PowerState::Off);

    // Frozen with our session open: the call ends within the deadline with a clear error.
    sim.freeze().unwrap();
    let (r, took) = timed(ifaces.power.get_power_state(&t)).await;
    let e = r.unwrap_err();
    assert!(e.to_string().contains("no answer"), "{e}");
    assert!(took <= bound, "{took:?}");

    // Thawed: the stale session is replaced, calls work again.
    sim.thaw().unwrap();
    assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), PowerState::Off);

    // Killed: refused quickly.
    sim.kill();
    let (r, took) = timed(ifaces.power.get_power_state(&t)).await;
    let e = r.unwrap_err();
    assert!(e.to_string().contains("refused") || e.to_string().contains("unreachable"), "{e}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t37_malformed_driver_info_is_refused_naming_the_field() {
    let reg = registry();
    let cases = [
        (json!({}), "ipmi_address"),
        (json!({"ipmi_address": ""}), "ipmi_address"),
        (json!({"ipmi_address": "http://x"}), "ipmi_address"),
        (json!({"ipmi_address": "h", "ipmi_port": "x"}), "ipmi_port"),
        (json!({"ipmi_address": "h", "ipmi_port": 70000}), "ipmi_port"),
        (json!({"ipmi_address": "h", "ipmi_priv_level": "ROOT"}), "ipmi_priv_level"),
        (json!({"ipmi_address": "h", "ipmi_protocol_version": "3"}), "ipmi_protocol_version"),
        (json!({"ipmi_address": "h", "ipmi_protocol_version": "1.5"}), "ipmi_protocol_version"),
        (json!({"ipmi_address": "h", "ipmi_cipher_suite": 17}), "ipmi_cipher_suite"),
        (json!({"ipmi_address": "h", "ipmi_cipher_suite": "x"}), "ipmi_cipher_suite"),
        (json!({"ipmi_address": "h", "ipmi_bridging": "dual"}), "ipmi_bridging"),
        (json!({"ipmi_address": "h", "ipmi_hex_kg_key": "abcd"}), "ipmi_hex_kg_key"),
        (json!({"ipmi_address": "h", "ipmi_force_boot_device": "perhaps"}), "ipmi_force_boot_device"),
        (json!({"ipmi_address": "h", "ipmi_password": ["x"]}), "ipmi_password"),
    ];
    for (info, field) in cases {
        let n = node("ipmi", dict(info.clone()));
        let ifaces = reg.for_node(&n).unwrap();
        let t = task(n, "m", 1);
        for (kind, r) in [("power", ifaces.power.validate(&t)), ("management", ifaces.management.validate(&t))] {
            let e = r.unwrap_err();
            assert_eq!(e.http_status(), 400, "{info}: {e:?}");
            assert!(e.to_string().contains(field), "{kind} {info}: {e}");
        }
        // And the call itself refuses without touching the network.
        let e = ifaces.power.get_power_state(&t).await.unwrap_err();
        assert_eq!(e.http_status(), 400, "{info}: {e:?}");
    }
    let ok = node("ipmi", dict(json!({"ipmi_address": "10.0.0.1", "ipmi_port": "623", "ipmi_cipher_suite": "3"})));
    reg.for_node(&ok).unwrap().power.validate(&task(ok, "m", 1)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_forced_boot_device_vendor_passthru_and_concurrency() {
    require_ipmi();
    let sim = IpmiSim::start().unwrap();
    let reg = registry();

    // ipmi_force_boot_device: persistence kept by Ferric, device re-sent at each power on.
    let mut info = sim.driver_info();
    info.insert("ipmi_force_boot_device".into(), json!(true));
    let n = node("ipmi", info);
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 3);
    ifaces.management.set_boot_device(&mut t, "pxe", true).await.unwrap();
    assert_eq!(t.node.driver_internal_info["persistent_boot_device"], json!("pxe"));
    let got = ifaces.management.get_boot_device(&t).await.unwrap();
    assert_eq!((got.boot_device.as_deref(), got.persistent), (Some("pxe"), Some(true)));
    sim.ipmitool(&["chassis", "bootdev", "disk"]).unwrap();
    ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();
    assert_eq!(sim.boot_device().as_deref(), Some("pxe"), "re-sent before power on");

    // Vendor passthru: raw bytes (Chassis Control power down), and a refused BMC reset.
    ifaces.vendor.call(&mut t, "send_raw", "POST", &json!({"raw_bytes": "0x00 0x02 0x00"})).await.unwrap();
    assert!(!sim.power_on());
    let e = ifaces.vendor.call(&mut t, "send_raw", "POST", &json!({})).await.unwrap_err();
    assert_eq!(e.http_status(), 400);
    let e = ifaces.vendor.call(&mut t, "send_raw", "POST", &json!({"raw_bytes": "0x00"})).await.unwrap_err();
    assert_eq!(e.http_status(), 400);
    let e = ifaces.vendor.call(&mut t, "bmc_reset", "POST", &json!({})).await.unwrap_err();
    assert!(e.to_string().contains("0xc1"), "{e}");

    // 32 concurrent reads of one BMC: all answer, a handful of sessions at most.
    let p = ifaces.power.clone();
    let futs = (0..32).map(|_| {
        let p = p.clone();
        let t = t.clone();
        async move { p.get_power_state(&t).await }
    });
    for r in futures::future::join_all(futs).await {
        assert_eq!(r.unwrap(), PowerState::Off);
    }
    assert!(active_sessions(&sim) <= 3, "sessions: {}", active_sessions(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t39_other_credentials_get_their_own_session() {
    require_ipmi();
    let sim = IpmiSim::start_with(&IpmiSimOptions { username: "root".into(), password: "calvin".into() }).unwrap();
    let reg = registry();
    let n = node("ipmi", sim.driver_info());
    let t = task(n.clone(), "m1", 1);
    let ifaces = reg.for_node(&n).unwrap();
    ifaces.power.get_power_state(&t).await.unwrap();
    // Same BMC and user, password changed: the cached session must not serve it.
    let mut bad = n.clone();
    bad.driver_info.insert("ipmi_password".into(), json!("nope"));
    let e = ifaces.power.get_power_state(&task(bad, "m1", 1)).await.unwrap_err();
    assert!(e.to_string().contains("authentication failed"), "{e}");
    ifaces.power.get_power_state(&t).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t3a_lost_packets_are_retransmitted() {
    require_ipmi();
    let sim = IpmiSim::start().unwrap();
    let proxy = LossyProxy::start(sim.port, 2);
    let mut cfg = test_config();
    cfg.ipmi.packet_timeout_ms = 200;
    let reg = ferric_drivers::DriverRegistry::new(&cfg).unwrap();
    let mut info = sim.driver_info();
    info.insert("ipmi_port".into(), json!(proxy.port));
    let n = node("ipmi", info);
    let ifaces = reg.for_node(&n).unwrap();
    let mut t = task(n, "m1", 1);
    // Lost Open Session and RAKP 1 (activation retried), then every second request lost.
    ifaces.power.set_power_state(&mut t, PowerAction::On, None).await.unwrap();
    for _ in 0..5 {
        assert_eq!(ifaces.power.get_power_state(&t).await.unwrap(), PowerState::On);
    }
    assert!(sim.power_on());
    let s = ipmi_client(&reg).stats();
    let dropped = proxy.dropped.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{s:?}, dropped {dropped}");
    assert!(dropped >= 6, "dropped {dropped}");
    assert!(s.retransmissions >= 4, "{s:?}");
    assert_eq!(s.failures, 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t3b_many_calls_to_dead_bmcs_never_pile_up() {
    let mut cfg = test_config();
    cfg.ipmi.max_concurrent_calls = 4;
    cfg.ipmi.command_timeout_s = 3;
    cfg.ipmi.packet_timeout_ms = 300;
    let bound = Duration::from_secs(3) + Duration::from_secs(2);
    let reg = std::sync::Arc::new(ferric_drivers::DriverRegistry::new(&cfg).unwrap());
    let bmc = FakeUdpBmc::start(Misbehaviour::Silent);
    let n = node("ipmi", dict(json!({"ipmi_address": "127.0.0.1", "ipmi_port": bmc.port})));
    let p = reg.for_node(&n).unwrap().power;
    let start = std::time::Instant::now();
    let futs = (0..40).map(|_| {
        let (p, t) = (p.clone(), task(n.clone(), "m", 1));
        async move { timed(p.get_power_state(&t)).await }
    });
    let results = futures::future::join_all(futs).await;
    let total = start.elapsed();
    let slots =
        results.iter().filter(|(r, _)| r.as_ref().unwrap_err().to_string().contains("no free IPMI slot")).count();
    for (r, took) in &results {
        assert!(r.is_err());
        assert!(*took <= bound, "one call took {took:?}");
    }
    assert!(slots > 0, "with 4 slots, most of 40 calls give up waiting for one");
    assert!(total <= bound, "all 40 ended within one deadline: {total:?}");
}
