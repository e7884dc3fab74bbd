//! One conformance suite for every power + management implementation: fake, ipmitool against
//! ipmi_sim, redfish against sushy-tools. Each step checks what the driver reports and, where
//! the implementation has one, what the BMC itself reports through an independent observer
//! (ipmitool, a raw Redfish GET, the node record).

use ferric_drivers::interfaces::{ManagementInterface, PowerInterface};
use ferric_drivers::TaskContext;
use ferric_model::{Error, PowerAction, PowerState};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// What a BMC implementation can show.
pub struct Caps {
    /// Boot devices exercised (a subset of what the driver supports).
    pub boot_devices: Vec<&'static str>,
    /// The BMC reports `persistent` back as set.
    pub persistent_readback: bool,
    /// NMI: `true` if the BMC performs it, `false` if it refuses it (the driver must then fail
    /// cleanly with DriverOperationError).
    pub nmi_supported: bool,
    /// Longest time one power change may take here.
    pub power_change_bound: Duration,
}

/// An independent view of the BMC's power state.
pub type Observer = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Option<PowerState>> + Send>> + Send + Sync>;

async fn check_observer(obs: &Option<Observer>, want: PowerState, step: &str) {
    if let Some(o) = obs {
        let seen = o().await;
        assert_eq!(seen, Some(want), "{step}: the BMC itself reports {seen:?}");
    }
}

async fn power(p: &dyn PowerInterface, t: &mut TaskContext, a: PowerAction, caps: &Caps, step: &str) {
    let start = Instant::now();
    p.set_power_state(t, a, None).await.unwrap_or_else(|e| panic!("{step}: {e}"));
    let took = start.elapsed();
    assert!(took <= caps.power_change_bound, "{step} took {took:?}");
}

/// The suite. `t` is a task on a node whose power and management interfaces are `p` and `m`.
pub async fn run(
    name: &str,
    p: &dyn PowerInterface,
    m: &dyn ManagementInterface,
    t: &mut TaskContext,
    caps: &Caps,
    observe: Option<Observer>,
) {
    eprintln!("[{name}] validate");
    p.validate(t).unwrap_or_else(|e| panic!("[{name}] power validate: {e}"));
    m.validate(t).unwrap_or_else(|e| panic!("[{name}] management validate: {e}"));
    let states = p.supported_power_states(t);
    for a in [PowerAction::On, PowerAction::Off, PowerAction::Reboot] {
        assert!(states.contains(&a), "[{name}] supported power states lack {a:?}");
    }

    eprintln!("[{name}] power on, twice");
    power(p, t, PowerAction::On, caps, "power on").await;
    assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::On, "[{name}] after power on");
    check_observer(&observe, PowerState::On, "power on").await;
    power(p, t, PowerAction::On, caps, "power on again").await;
    assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::On);

    eprintln!("[{name}] power off, twice");
    power(p, t, PowerAction::Off, caps, "power off").await;
    assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::Off, "[{name}] after power off");
    check_observer(&observe, PowerState::Off, "power off").await;
    power(p, t, PowerAction::Off, caps, "power off again").await;
    assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::Off);

    eprintln!("[{name}] reboot from off, then from on");
    p.reboot(t, false, None).await.unwrap_or_else(|e| panic!("[{name}] reboot from off: {e}"));
    assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::On, "[{name}] after reboot from off");
    p.reboot(t, false, None).await.unwrap_or_else(|e| panic!("[{name}] reboot from on: {e}"));
    assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::On, "[{name}] after reboot from on");
    check_observer(&observe, PowerState::On, "reboot").await;

    eprintln!("[{name}] soft power off");
    power(p, t, PowerAction::SoftOff, caps, "soft power off").await;
    assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::Off, "[{name}] after soft power off");
    check_observer(&observe, PowerState::Off, "soft power off").await;

    eprintln!("[{name}] 20 power status reads");
    for _ in 0..20 {
        assert_eq!(p.get_power_state(t).await.unwrap(), PowerState::Off);
    }

    eprintln!("[{name}] boot devices");
    let supported = m.get_supported_boot_devices(t).await.unwrap();
    for d in ["pxe", "disk"] {
        assert!(supported.iter().any(|s| s == d), "[{name}] supported boot devices {supported:?} lack {d}");
    }
    for d in &caps.boot_devices {
        for persistent in [false, true] {
            m.set_boot_device(t, d, persistent).await.unwrap_or_else(|e| panic!("[{name}] set {d}: {e}"));
            let got = m.get_boot_device(t).await.unwrap();
            assert_eq!(got.boot_device.as_deref(), Some(*d), "[{name}] boot device after setting {d}");
            if caps.persistent_readback {
                assert_eq!(got.persistent, Some(persistent), "[{name}] persistence of {d}");
            }
        }
    }
    let e = m.set_boot_device(t, "punched-cards", false).await.unwrap_err();
    assert!(matches!(e, Error::InvalidParameterValue { .. }), "[{name}] bad device: {e:?}");
    assert_eq!(e.http_status(), 400);

    eprintln!("[{name}] NMI");
    match m.inject_nmi(t).await {
        Ok(()) => assert!(caps.nmi_supported, "[{name}] NMI succeeded but the BMC cannot do it"),
        Err(e) => {
            assert!(!caps.nmi_supported, "[{name}] NMI failed: {e}");
            assert!(matches!(e, Error::DriverOperationError { .. }), "[{name}] NMI refusal: {e:?}");
            assert!(!e.to_string().is_empty());
        }
    }
}
