//! The configuration file every member gets (`--config <run dir>/ferric.toml`): short,
//! production-like test timeouts (so take-over and timeouts happen within a run), a low snapshot
//! threshold (snapshots are installed under faults), and the unsafe switches of the negative
//! controls (only builds with the `unsafe-test-switches` feature accept them).
//!
//! BMC calls get long timeouts (30 s a request, 40 s a driver call), longer than any pause the
//! nemesis holds: a member paused in the middle of a BMC call must find its answer waiting when
//! it resumes, and go on acting with whatever lock it had — a short timeout would abort the
//! action and hide exactly the stale holder the lock checkers look for.

use serde::{Deserialize, Serialize};

/// The deliberately unsafe server behaviours the harness must catch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsafeSwitches {
    pub no_fsync: bool,
    pub stale_reads: bool,
    pub skip_lock_check: bool,
    pub wrong_transition: bool,
}

/// The TOML text. Member-specific settings (name, addresses, data dir, join) are flags.
/// `private_network`: the API listens on a namespace address only the harness reaches, so
/// `noauth` there is allowed explicitly.
pub fn test_config_toml(unsafe_switches: &UnsafeSwitches, private_network: bool) -> String {
    let mut s = String::from(
        r#"# Written by ferric-jepsen: test timeouts for a fault-injection run.
[log]
format = "human"
level = "info"

[raft]
heartbeat_interval_ms = 100
election_timeout_min_ms = 600
election_timeout_max_ms = 1200
rpc_timeout_ms = 2000
connect_timeout_ms = 500
snapshot_logs_since_last = 500
max_in_snapshot_log_to_keep = 100

[conductor]
heartbeat_interval = 1.0
heartbeat_timeout = 5.0
sync_power_state_interval = 3.0
check_provision_state_interval = 3.0
deploy_callback_timeout = 30.0
clean_callback_timeout = 30.0
inspect_wait_timeout = 30.0
rescue_callback_timeout = 30.0
service_callback_timeout = 30.0
node_locked_retry_attempts = 1
node_locked_retry_interval = 0.2
power_state_change_timeout = 10.0
driver_call_timeout = 40.0
graceful_shutdown_timeout = 5.0

[drivers.redfish]
connect_timeout_s = 2
request_timeout_s = 30
connection_attempts = 1
connection_retry_interval_ms = 200
power_state_change_timeout_s = 10
power_poll_interval_ms = 200
"#,
    );
    if private_network {
        s.push_str("\n[api]\nallow-insecure-noauth = true\n");
    }
    if *unsafe_switches != UnsafeSwitches::default() {
        s.push_str(&format!(
            "\n[unsafe_test]\nno_fsync = {}\nstale_reads = {}\nskip_lock_check = {}\nwrong_transition = {}\n",
            unsafe_switches.no_fsync,
            unsafe_switches.stale_reads,
            unsafe_switches.skip_lock_check,
            unsafe_switches.wrong_transition
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_section_only_when_asked() {
        assert!(!test_config_toml(&UnsafeSwitches::default(), false).contains("unsafe_test"));
        assert!(test_config_toml(&UnsafeSwitches::default(), true)
            .contains("allow-insecure-noauth = true"));
        let t = test_config_toml(
            &UnsafeSwitches {
                stale_reads: true,
                ..Default::default()
            },
            false,
        );
        assert!(t.contains("[unsafe_test]\nno_fsync = false\nstale_reads = true"));
    }
}
