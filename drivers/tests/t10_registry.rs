//! The driver registry: configuration (Ironic's option names), per-type choices and defaults,
//! interface resolution through `ferric_model::interfaces`, properties, vendor, RAID, periodic
//! tasks, extensions from other crates.

#![allow(clippy::field_reassign_with_default)]

mod common;

use async_trait::async_trait;
use common::*;
use ferric_drivers::interfaces::{BaseInterface, BootInterface, PeriodicHost, PeriodicTask};
use ferric_drivers::{DriverRegistry, DriversConfig, Implementation};
use ferric_model::conductor::{ConductorRecord, HardwareTypeInfo};
use ferric_model::interfaces::resolve_interfaces;
use ferric_model::steps::StepKind;
use ferric_model::time::Timestamp;
use ferric_model::{Error, InterfaceKind, Node};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn choice<'a>(types: &'a [HardwareTypeInfo], t: &str, k: InterfaceKind) -> (&'a [String], Option<&'a str>) {
    let ht = types.iter().find(|h| h.name == t).unwrap_or_else(|| panic!("no {t}"));
    let c = &ht.interfaces[&k];
    (&c.enabled, c.default.as_deref())
}

fn conductors(types: Vec<HardwareTypeInfo>) -> BTreeMap<String, ConductorRecord> {
    let rec = ConductorRecord {
        hostname: "m1".into(),
        conductor_group: String::new(),
        hardware_types: types,
        online: true,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        heartbeat_seq: 0,
        schema: 1,
        peer_addr: String::new(),
        api_addr: String::new(),
    };
    BTreeMap::from([("m1".to_string(), rec)])
}

#[test]
fn t10_default_config_registers_four_types_with_ironic_defaults() {
    let reg = DriverRegistry::new(&DriversConfig::default()).unwrap();
    let types = reg.hardware_types();
    let names: Vec<&str> = types.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["fake-hardware", "ipmi", "redfish", "manual-management"]);
    for h in &types {
        assert_eq!(h.interfaces.len(), 13, "{}", h.name);
        for (k, c) in &h.interfaces {
            let d = c.default.as_ref().unwrap_or_else(|| panic!("{} {k:?} has no default", h.name));
            assert!(c.enabled.contains(d), "{} {k:?}", h.name);
            assert!(!c.enabled.contains(&"direct".to_string()), "direct is not implemented");
        }
    }
    use InterfaceKind::*;
    let expect = [
        ("fake-hardware", Power, "fake"),
        ("fake-hardware", Management, "fake"),
        ("fake-hardware", Deploy, "fake"),
        ("fake-hardware", Network, "noop"),
        ("fake-hardware", Storage, "noop"),
        ("fake-hardware", Raid, "fake"),
        ("fake-hardware", Vendor, "fake"),
        ("ipmi", Power, "ipmitool"),
        ("ipmi", Management, "ipmitool"),
        ("ipmi", Vendor, "ipmitool"),
        ("ipmi", Boot, "fake"),
        ("ipmi", Deploy, "fake"),
        ("ipmi", Bios, "no-bios"),
        ("ipmi", Raid, "no-raid"),
        ("ipmi", Console, "no-console"),
        ("ipmi", Inspect, "no-inspect"),
        ("redfish", Power, "redfish"),
        ("redfish", Management, "redfish"),
        ("redfish", Bios, "redfish"),
        ("redfish", Vendor, "no-vendor"),
        ("manual-management", Power, "fake"),
        ("manual-management", Management, "noop"),
        ("manual-management", Deploy, "noop"),
    ];
    for (t, k, d) in expect {
        assert_eq!(choice(&types, t, k).1, Some(d), "{t} {k:?}");
    }
    // ipmi refuses fake power; fake-hardware accepts ipmitool (Ironic special-cases it).
    assert!(!choice(&types, "ipmi", Power).0.contains(&"fake".to_string()));
    assert!(choice(&types, "fake-hardware", Power).0.contains(&"ipmitool".to_string()));
    assert_eq!(choice(&types, "fake-hardware", Power).0[0], "fake", "its own list first");
}

#[test]
fn t11_resolution_fills_defaults_and_refuses_what_is_not_offered() {
    let reg = DriverRegistry::new(&DriversConfig::default()).unwrap();
    let cat = conductors(reg.hardware_types());

    let mut n = node("ipmi", dict(json!({"ipmi_address": "10.0.0.1"})));
    resolve_interfaces(&mut n, &cat).unwrap();
    assert_eq!((n.power_interface.as_str(), n.deploy_interface.as_str()), ("ipmitool", "fake"));
    let ifaces = reg.for_node(&n).unwrap();
    assert_eq!(ifaces.power.name(), "ipmitool");
    assert_eq!(ifaces.boot.name(), "fake");

    let mut n = node("ipmi", Default::default());
    n.deploy_interface = "direct".into();
    let e = resolve_interfaces(&mut n, &cat).unwrap_err();
    assert!(matches!(e, Error::InterfaceNotFoundInEntrypoint { .. }), "{e:?}");
    let e = reg.for_node(&n).err().unwrap();
    assert!(matches!(e, Error::InterfaceNotFoundInEntrypoint { .. }), "{e:?}");

    let mut n = node("ipmi", Default::default());
    n.power_interface = "fake".into();
    assert!(matches!(resolve_interfaces(&mut n, &cat).unwrap_err(), Error::InterfaceNotFoundInEntrypoint { .. }));

    let mut n = node("fake-hardware", Default::default());
    n.power_interface = "ipmitool".into();
    resolve_interfaces(&mut n, &cat).unwrap();
    assert_eq!(reg.for_node(&n).unwrap().power.name(), "ipmitool");

    let n = node("idrac", Default::default());
    assert!(matches!(reg.for_node(&n).err().unwrap(), Error::DriverNotFound { .. }));
    // Empty fields resolve to the defaults at call time too.
    let n = node("redfish", Default::default());
    assert_eq!(reg.for_node(&n).unwrap().bios.name(), "redfish");
}

#[test]
fn t12_config_errors_stop_the_member_like_ironic() {
    let mut c = DriversConfig::default();
    c.enabled_deploy_interfaces.push("direct".into());
    let e = DriverRegistry::new(&c).err().unwrap();
    assert!(matches!(e, Error::InterfaceNotFoundInEntrypoint { .. }), "{e:?}");
    assert!(e.to_string().contains("direct"));

    let mut c = DriversConfig::default();
    c.enabled_hardware_types.push("ilo".into());
    assert!(matches!(DriverRegistry::new(&c).err().unwrap(), Error::DriverNotFound { .. }));

    let mut c = DriversConfig::default();
    c.default_raid_interface = Some("agent".into());
    assert!(DriverRegistry::new(&c).err().unwrap().to_string().contains("default_raid_interface"));

    let mut c = DriversConfig::default();
    c.enabled_power_interfaces = vec!["fake".into(), "redfish".into()];
    let e = DriverRegistry::new(&c).err().unwrap();
    assert!(matches!(e, Error::NoValidDefaultForInterface { .. }), "{e:?}");
    assert!(e.to_string().contains("power interface for hardware type ipmi"), "{e}");

    let mut c = DriversConfig::default();
    c.enabled_hardware_types.clear();
    assert!(DriverRegistry::new(&c).is_err());

    // A configured default that a type does not support falls back to the type's own first.
    let mut c = DriversConfig::default();
    c.enabled_management_interfaces = vec!["noop".into(), "ipmitool".into(), "redfish".into(), "fake".into()];
    c.default_management_interface = Some("noop".into());
    let reg = DriverRegistry::new(&c).unwrap();
    let t = reg.hardware_types();
    assert_eq!(choice(&t, "ipmi", InterfaceKind::Management).1, Some("noop"));
    assert_eq!(choice(&t, "fake-hardware", InterfaceKind::Management).1, Some("noop"));
}

#[test]
fn t13_config_reads_from_toml_with_ironic_names() {
    let c: DriversConfig = toml::from_str(
        r#"
        enabled_hardware_types = ["ipmi", "fake-hardware"]
        enabled_power_interfaces = ["ipmitool", "fake"]
        enabled_management_interfaces = ["ipmitool", "fake"]
        default_deploy_interface = "fake"
        [ipmi]
        packet_timeout_ms = 800
        retries = 4
        [redfish]
        power_state_change_timeout_s = 120
        "#,
    )
    .unwrap();
    assert_eq!(c.ipmi.retries, 4);
    assert_eq!(c.redfish.power_state_change_timeout_s, 120);
    let reg = DriverRegistry::new(&c).unwrap();
    assert_eq!(reg.hardware_types().len(), 2);
    assert!(toml::from_str::<DriversConfig>("enabled_drivers = []").is_err());
}

#[test]
fn t14_properties_vendor_raid_and_steps() {
    let reg = DriverRegistry::new(&DriversConfig::default()).unwrap();
    let p = reg.properties("ipmi").unwrap();
    for k in ["ipmi_address", "ipmi_password", "ipmi_port", "ipmi_priv_level", "ipmi_cipher_suite", "fake_delay"] {
        assert!(p.contains_key(k), "ipmi properties lack {k}");
    }
    let p = reg.properties("redfish").unwrap();
    assert!(p.contains_key("redfish_address") && p.contains_key("redfish_verify_ca"));
    let p = reg.properties("fake-hardware").unwrap();
    assert!(p.contains_key("fake_fail") && p.contains_key("B1"));
    assert!(matches!(reg.properties("nope").unwrap_err(), Error::DriverNotFound { .. }));

    let v = reg.driver_vendor("fake-hardware").unwrap();
    assert!(v.methods().contains_key("second_method"));
    assert!(reg.driver_vendor("ipmi").unwrap().methods().contains_key("send_raw"));
    assert!(reg.raid_logical_disk_properties("fake-hardware").unwrap().contains_key("raid_level"));
    assert!(reg.raid_logical_disk_properties("ipmi").unwrap().contains_key("size_gb"));

    let n = node("fake-hardware", Default::default());
    let ifaces = reg.for_node(&n).unwrap();
    let clean = ifaces.steps(StepKind::Clean);
    let lp = clean.iter().find(|s| s.step == "log_passthrough").expect("Ironic's fake vendor clean step");
    assert_eq!((lp.interface, lp.priority), (InterfaceKind::Vendor, 1));
    let deploy = ifaces.steps(StepKind::Deploy);
    let d = deploy.iter().find(|s| s.step == "deploy").unwrap();
    assert_eq!((d.interface, d.priority), (InterfaceKind::Deploy, 100));
    let bios = clean.iter().find(|s| s.step == "apply_configuration" && s.interface == InterfaceKind::Bios).unwrap();
    assert_eq!(bios.argsinfo.as_ref().unwrap()["settings"]["required"], json!(true));
    // Validate of optional no-op interfaces fails as Ironic's do (shown as unsupported).
    let n = node("ipmi", dict(json!({"ipmi_address": "h"})));
    let ifaces = reg.for_node(&n).unwrap();
    let e = ifaces.raid.validate(&task(n, "m", 1)).unwrap_err();
    assert!(matches!(e, Error::UnsupportedDriverExtension { .. }), "{e:?}");
}

struct Host(Vec<Node>);

impl PeriodicHost for Host {
    fn owned_nodes(&self, kind: InterfaceKind, implementation: &str) -> Vec<Node> {
        self.0.iter().filter(|n| n.interface(kind) == implementation || n.interface(kind).is_empty()).cloned().collect()
    }
    fn member(&self) -> String {
        "member-7".into()
    }
}

#[tokio::test]
async fn t15_periodic_tasks_are_unique_and_run_on_owned_nodes() {
    let reg = registry();
    let tasks = reg.periodic_tasks();
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"power.ipmitool.expire_idle_sessions"), "{names:?}");
    assert!(names.contains(&"power.fake.record_owned_nodes"), "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
    assert!(tasks.iter().all(|t| !t.spacing.is_zero()));

    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("calls.jsonl");
    let mut a = node("fake-hardware", dict(json!({"fake_record_path": rec.display().to_string()})));
    a.power_interface = "fake".into();
    let b = node("fake-hardware", Default::default());
    let fake = tasks.iter().find(|t| t.name == "power.fake.record_owned_nodes").unwrap();
    fake.task.run(&Host(vec![a.clone(), b])).await.unwrap();
    let calls = ferric_drivers::fake::read_record_file(&rec).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].node.as_str(), calls[0].call.as_str()), (a.uuid.to_string().as_str(), "power.periodic"));
    assert_eq!(calls[0].member, "member-7");

    // Duplicate names are refused at start.
    struct Nop;
    #[async_trait]
    impl ferric_drivers::interfaces::DriverPeriodic for Nop {
        async fn run(&self, _h: &dyn PeriodicHost) -> Result<(), Error> {
            Ok(())
        }
    }
    let dup = PeriodicTask {
        name: "power.fake.record_owned_nodes".into(),
        spacing: Duration::from_secs(1),
        parallel: false,
        task: Arc::new(Nop),
    };
    assert!(DriverRegistry::builder(&test_config()).periodic_task(dup).build().is_err());
}

struct Ipxe;

#[async_trait]
impl BaseInterface for Ipxe {
    fn name(&self) -> &'static str {
        "ipxe"
    }
}
impl BootInterface for Ipxe {}

#[test]
fn t16_extensions_from_other_crates_become_defaults_only_when_enabled() {
    let reg = DriverRegistry::builder(&DriversConfig::default())
        .implementation(Implementation::Boot(Arc::new(Ipxe)))
        .build()
        .unwrap();
    assert_eq!(choice(&reg.hardware_types(), "ipmi", InterfaceKind::Boot).1, Some("fake"), "not enabled: not offered");

    let mut c = DriversConfig::default();
    c.enabled_boot_interfaces = vec!["fake".into(), "ipxe".into()];
    assert!(DriverRegistry::new(&c).is_err(), "ipxe enabled but nobody provides it");
    let reg = DriverRegistry::builder(&c).implementation(Implementation::Boot(Arc::new(Ipxe))).build().unwrap();
    let t = reg.hardware_types();
    assert_eq!(choice(&t, "ipmi", InterfaceKind::Boot), (&["ipxe".to_string(), "fake".to_string()][..], Some("ipxe")));
    assert_eq!(choice(&t, "fake-hardware", InterfaceKind::Boot).1, Some("fake"));
    let n = node("redfish", Default::default());
    assert_eq!(reg.for_node(&n).unwrap().boot.name(), "ipxe");
}
