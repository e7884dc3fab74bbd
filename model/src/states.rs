//! Ironic's provision and power states, and the provision state machine as one pure function.
//!
//! `transition(state, event)` is the whole machine: 30 states, 93 transitions, exactly the table
//! of Ironic's `ironic/common/state_machine.py` (see `shared/spec/ironic-states.md` §3). Anything
//! not in the table is refused (`None`). The golden test at the bottom pins every pair.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's provision state, spelled as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProvisionState {
    #[serde(rename = "enroll")]
    Enroll,
    #[serde(rename = "verifying")]
    Verifying,
    #[serde(rename = "manageable")]
    Manageable,
    #[serde(rename = "inspecting")]
    Inspecting,
    #[serde(rename = "inspect wait")]
    InspectWait,
    #[serde(rename = "inspect failed")]
    InspectFail,
    #[serde(rename = "adopting")]
    Adopting,
    #[serde(rename = "adopt failed")]
    AdoptFail,
    #[serde(rename = "cleaning")]
    Cleaning,
    #[serde(rename = "clean wait")]
    CleanWait,
    #[serde(rename = "clean hold")]
    CleanHold,
    #[serde(rename = "clean failed")]
    CleanFail,
    #[serde(rename = "available")]
    Available,
    #[serde(rename = "deploying")]
    Deploying,
    #[serde(rename = "wait call-back")]
    DeployWait,
    #[serde(rename = "deploy hold")]
    DeployHold,
    #[serde(rename = "deploy failed")]
    DeployFail,
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "deleting")]
    Deleting,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "rescuing")]
    Rescuing,
    #[serde(rename = "rescue wait")]
    RescueWait,
    #[serde(rename = "rescue")]
    Rescue,
    #[serde(rename = "rescue failed")]
    RescueFail,
    #[serde(rename = "unrescuing")]
    Unrescuing,
    #[serde(rename = "unrescue failed")]
    UnrescueFail,
    #[serde(rename = "servicing")]
    Servicing,
    #[serde(rename = "service wait")]
    ServiceWait,
    #[serde(rename = "service hold")]
    ServiceHold,
    #[serde(rename = "service failed")]
    ServiceFail,
}

use ProvisionState as S;

impl ProvisionState {
    /// Every state, in the order of the spec's table.
    pub const ALL: [ProvisionState; 30] = [
        S::Enroll,
        S::Verifying,
        S::Manageable,
        S::Inspecting,
        S::InspectWait,
        S::InspectFail,
        S::Adopting,
        S::AdoptFail,
        S::Cleaning,
        S::CleanWait,
        S::CleanHold,
        S::CleanFail,
        S::Available,
        S::Deploying,
        S::DeployWait,
        S::DeployHold,
        S::DeployFail,
        S::Active,
        S::Deleting,
        S::Error,
        S::Rescuing,
        S::RescueWait,
        S::Rescue,
        S::RescueFail,
        S::Unrescuing,
        S::UnrescueFail,
        S::Servicing,
        S::ServiceWait,
        S::ServiceHold,
        S::ServiceFail,
    ];

    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            S::Enroll => "enroll",
            S::Verifying => "verifying",
            S::Manageable => "manageable",
            S::Inspecting => "inspecting",
            S::InspectWait => "inspect wait",
            S::InspectFail => "inspect failed",
            S::Adopting => "adopting",
            S::AdoptFail => "adopt failed",
            S::Cleaning => "cleaning",
            S::CleanWait => "clean wait",
            S::CleanHold => "clean hold",
            S::CleanFail => "clean failed",
            S::Available => "available",
            S::Deploying => "deploying",
            S::DeployWait => "wait call-back",
            S::DeployHold => "deploy hold",
            S::DeployFail => "deploy failed",
            S::Active => "active",
            S::Deleting => "deleting",
            S::Error => "error",
            S::Rescuing => "rescuing",
            S::RescueWait => "rescue wait",
            S::Rescue => "rescue",
            S::RescueFail => "rescue failed",
            S::Unrescuing => "unrescuing",
            S::UnrescueFail => "unrescue failed",
            S::Servicing => "servicing",
            S::ServiceWait => "service wait",
            S::ServiceHold => "service hold",
            S::ServiceFail => "service failed",
        }
    }

    /// Parses an API string.
    pub fn parse(s: &str) -> Option<ProvisionState> {
        ProvisionState::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// Ironic's `STABLE_STATES`.
    pub fn is_stable(self) -> bool {
        matches!(self, S::Enroll | S::Manageable | S::Available | S::Active | S::Error | S::Rescue)
    }

    /// Ironic's `FAILURE_STATES`.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            S::DeployFail
                | S::CleanFail
                | S::InspectFail
                | S::RescueFail
                | S::UnrescueFail
                | S::AdoptFail
                | S::ServiceFail
        )
    }

    /// States that wait for a callback (agent heartbeat or driver poll); they keep waiting under
    /// their timeout across a take-over.
    pub fn is_wait(self) -> bool {
        matches!(self, S::DeployWait | S::CleanWait | S::RescueWait | S::ServiceWait | S::InspectWait)
    }

    /// Ironic's `STUCK_STATES_TREATED_AS_FAIL`: work in these states cannot be resumed by another
    /// conductor; an orphaned node in one of them gets the `fail` event.
    pub fn is_stuck_treated_as_fail(self) -> bool {
        matches!(
            self,
            S::Deploying
                | S::Cleaning
                | S::Verifying
                | S::Inspecting
                | S::Adopting
                | S::Rescuing
                | S::Unrescuing
                | S::Deleting
                | S::Servicing
        )
    }

    /// Ironic's `UPDATE_ALLOWED_STATES`: node PATCH is allowed here despite a target state.
    pub fn update_allowed(self) -> bool {
        matches!(
            self,
            S::DeployFail
                | S::Inspecting
                | S::InspectFail
                | S::InspectWait
                | S::CleanFail
                | S::Error
                | S::Verifying
                | S::AdoptFail
                | S::RescueFail
                | S::UnrescueFail
                | S::ServiceHold
                | S::ServiceFail
        )
    }

    /// Ironic's `DELETE_ALLOWED_STATES` (available included: `allow_deleting_available_nodes`).
    pub fn delete_allowed(self) -> bool {
        matches!(self, S::Manageable | S::Enroll | S::AdoptFail | S::Available)
    }

    /// Ramdisk lookup is allowed in these states (`restrict_lookup`, no fast-track).
    pub fn lookup_allowed(self) -> bool {
        matches!(
            self,
            S::Deploying
                | S::DeployWait
                | S::Cleaning
                | S::CleanWait
                | S::Inspecting
                | S::InspectWait
                | S::Rescuing
                | S::RescueWait
                | S::ServiceWait
        )
    }

    /// The FSM "target" of a state: what `target_provision_state` becomes on entering it.
    /// `None` for stable states. Cleaning reports `available` here; manual cleaning overrides it
    /// to `manageable` (see [`target_on_entry`]).
    pub fn fsm_target(self) -> Option<ProvisionState> {
        Some(match self {
            S::Enroll | S::Manageable | S::Available | S::Active | S::Error | S::Rescue => return None,
            S::Verifying | S::Inspecting | S::InspectWait | S::InspectFail => S::Manageable,
            S::Adopting | S::AdoptFail => S::Active,
            S::Cleaning | S::CleanWait | S::CleanHold | S::CleanFail => S::Available,
            S::Deploying | S::DeployWait | S::DeployHold | S::DeployFail => S::Active,
            S::Deleting => S::Available,
            S::Rescuing | S::RescueWait | S::RescueFail => S::Rescue,
            S::Unrescuing | S::UnrescueFail => S::Active,
            S::Servicing | S::ServiceWait | S::ServiceHold | S::ServiceFail => S::Active,
        })
    }
}

impl fmt::Display for ProvisionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event of the provision state machine: API verbs and the conductor's internal events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionEvent {
    Manage,
    Provide,
    Inspect,
    Deploy,
    Rebuild,
    Delete,
    Clean,
    Abort,
    Adopt,
    Rescue,
    Unrescue,
    Unhold,
    Service,
    // internal
    Done,
    Fail,
    Wait,
    Resume,
    Hold,
}

impl ProvisionEvent {
    pub const ALL: [ProvisionEvent; 18] = [
        E::Manage,
        E::Provide,
        E::Inspect,
        E::Deploy,
        E::Rebuild,
        E::Delete,
        E::Clean,
        E::Abort,
        E::Adopt,
        E::Rescue,
        E::Unrescue,
        E::Unhold,
        E::Service,
        E::Done,
        E::Fail,
        E::Wait,
        E::Resume,
        E::Hold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            E::Manage => "manage",
            E::Provide => "provide",
            E::Inspect => "inspect",
            E::Deploy => "deploy",
            E::Rebuild => "rebuild",
            E::Delete => "delete",
            E::Clean => "clean",
            E::Abort => "abort",
            E::Adopt => "adopt",
            E::Rescue => "rescue",
            E::Unrescue => "unrescue",
            E::Unhold => "unhold",
            E::Service => "service",
            E::Done => "done",
            E::Fail => "fail",
            E::Wait => "wait",
            E::Resume => "resume",
            E::Hold => "hold",
        }
    }
}

impl fmt::Display for ProvisionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use ProvisionEvent as E;

/// The provision state machine: the state an event leads to, or `None` when Ironic refuses it.
pub fn transition(from: ProvisionState, event: ProvisionEvent) -> Option<ProvisionState> {
    Some(match (from, event) {
        (S::Enroll, E::Manage) => S::Verifying,
        (S::Verifying, E::Done) => S::Manageable,
        (S::Verifying, E::Fail) => S::Enroll,
        (S::Manageable, E::Adopt) => S::Adopting,
        (S::Manageable, E::Clean) => S::Cleaning,
        (S::Manageable, E::Inspect) => S::Inspecting,
        (S::Manageable, E::Provide) => S::Cleaning,
        (S::Inspecting, E::Done) => S::Manageable,
        (S::Inspecting, E::Fail) => S::InspectFail,
        (S::Inspecting, E::Wait) => S::InspectWait,
        (S::InspectWait, E::Abort) => S::InspectFail,
        (S::InspectWait, E::Done) => S::Manageable,
        (S::InspectWait, E::Fail) => S::InspectFail,
        (S::InspectWait, E::Resume) => S::Inspecting,
        (S::InspectFail, E::Inspect) => S::Inspecting,
        (S::InspectFail, E::Manage) => S::Manageable,
        (S::Adopting, E::Done) => S::Active,
        (S::Adopting, E::Fail) => S::AdoptFail,
        (S::AdoptFail, E::Adopt) => S::Adopting,
        (S::AdoptFail, E::Manage) => S::Manageable,
        (S::Cleaning, E::Done) => S::Available,
        (S::Cleaning, E::Fail) => S::CleanFail,
        (S::Cleaning, E::Hold) => S::CleanHold,
        (S::Cleaning, E::Manage) => S::Manageable,
        (S::Cleaning, E::Wait) => S::CleanWait,
        (S::CleanWait, E::Abort) => S::CleanFail,
        (S::CleanWait, E::Fail) => S::CleanFail,
        (S::CleanWait, E::Hold) => S::CleanHold,
        (S::CleanWait, E::Resume) => S::Cleaning,
        (S::CleanHold, E::Abort) => S::CleanFail,
        (S::CleanHold, E::Unhold) => S::CleanWait,
        (S::CleanFail, E::Manage) => S::Manageable,
        (S::Available, E::Deploy) => S::Deploying,
        (S::Available, E::Manage) => S::Manageable,
        (S::Deploying, E::Done) => S::Active,
        (S::Deploying, E::Fail) => S::DeployFail,
        (S::Deploying, E::Hold) => S::DeployHold,
        (S::Deploying, E::Wait) => S::DeployWait,
        (S::DeployWait, E::Abort) => S::DeployFail,
        (S::DeployWait, E::Delete) => S::Deleting,
        (S::DeployWait, E::Fail) => S::DeployFail,
        (S::DeployWait, E::Hold) => S::DeployHold,
        (S::DeployWait, E::Resume) => S::Deploying,
        (S::DeployHold, E::Abort) => S::DeployFail,
        (S::DeployHold, E::Unhold) => S::DeployWait,
        (S::DeployFail, E::Delete) => S::Deleting,
        (S::DeployFail, E::Deploy) => S::Deploying,
        (S::DeployFail, E::Rebuild) => S::Deploying,
        (S::Active, E::Delete) => S::Deleting,
        (S::Active, E::Rebuild) => S::Deploying,
        (S::Active, E::Rescue) => S::Rescuing,
        (S::Active, E::Service) => S::Servicing,
        (S::Deleting, E::Clean) => S::Cleaning,
        (S::Deleting, E::Fail) => S::Error,
        (S::Error, E::Delete) => S::Deleting,
        (S::Error, E::Rebuild) => S::Deploying,
        (S::Rescuing, E::Done) => S::Rescue,
        (S::Rescuing, E::Fail) => S::RescueFail,
        (S::Rescuing, E::Wait) => S::RescueWait,
        (S::RescueWait, E::Abort) => S::RescueFail,
        (S::RescueWait, E::Delete) => S::Deleting,
        (S::RescueWait, E::Fail) => S::RescueFail,
        (S::RescueWait, E::Resume) => S::Rescuing,
        (S::Rescue, E::Delete) => S::Deleting,
        (S::Rescue, E::Rescue) => S::Rescuing,
        (S::Rescue, E::Unrescue) => S::Unrescuing,
        (S::RescueFail, E::Delete) => S::Deleting,
        (S::RescueFail, E::Rescue) => S::Rescuing,
        (S::RescueFail, E::Unrescue) => S::Unrescuing,
        (S::Unrescuing, E::Done) => S::Active,
        (S::Unrescuing, E::Fail) => S::UnrescueFail,
        (S::UnrescueFail, E::Delete) => S::Deleting,
        (S::UnrescueFail, E::Rescue) => S::Rescuing,
        (S::UnrescueFail, E::Unrescue) => S::Unrescuing,
        (S::Servicing, E::Done) => S::Active,
        (S::Servicing, E::Fail) => S::ServiceFail,
        (S::Servicing, E::Hold) => S::ServiceHold,
        (S::Servicing, E::Wait) => S::ServiceWait,
        (S::ServiceWait, E::Abort) => S::ServiceFail,
        (S::ServiceWait, E::Delete) => S::Deleting,
        (S::ServiceWait, E::Fail) => S::ServiceFail,
        (S::ServiceWait, E::Hold) => S::ServiceHold,
        (S::ServiceWait, E::Resume) => S::Servicing,
        (S::ServiceHold, E::Abort) => S::ServiceFail,
        (S::ServiceHold, E::Fail) => S::ServiceFail,
        (S::ServiceHold, E::Service) => S::Servicing,
        (S::ServiceHold, E::Unhold) => S::ServiceWait,
        (S::ServiceFail, E::Abort) => S::Active,
        (S::ServiceFail, E::Delete) => S::Deleting,
        (S::ServiceFail, E::Hold) => S::ServiceHold,
        (S::ServiceFail, E::Rescue) => S::Rescuing,
        (S::ServiceFail, E::Service) => S::Servicing,
        (S::ServiceFail, E::Wait) => S::ServiceWait,
        _ => return None,
    })
}

/// A provision verb as the API accepts it in `PUT /states/provision {"target": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProvisionVerb {
    Manage,
    Provide,
    Inspect,
    /// `active` (1.1) or `deploy` (1.73)
    Active,
    Rebuild,
    /// `deleted` (1.1) or `undeploy` (1.73)
    Deleted,
    Clean,
    Abort,
    Adopt,
    Rescue,
    Unrescue,
    Unhold,
    Service,
}

impl ProvisionVerb {
    /// Parses the API `target` value, with the microversion that introduced it.
    pub fn parse(target: &str) -> Option<(ProvisionVerb, u32)> {
        Some(match target {
            "manage" => (ProvisionVerb::Manage, 4),
            "provide" => (ProvisionVerb::Provide, 4),
            "inspect" => (ProvisionVerb::Inspect, 6),
            "active" => (ProvisionVerb::Active, 1),
            "deploy" => (ProvisionVerb::Active, 73),
            "rebuild" => (ProvisionVerb::Rebuild, 1),
            "deleted" => (ProvisionVerb::Deleted, 1),
            "undeploy" => (ProvisionVerb::Deleted, 73),
            "clean" => (ProvisionVerb::Clean, 15),
            "abort" => (ProvisionVerb::Abort, 13),
            "adopt" => (ProvisionVerb::Adopt, 17),
            "rescue" => (ProvisionVerb::Rescue, 38),
            "unrescue" => (ProvisionVerb::Unrescue, 38),
            "unhold" => (ProvisionVerb::Unhold, 85),
            "service" => (ProvisionVerb::Service, 87),
            _ => return None,
        })
    }

    /// The FSM event this verb raises.
    pub fn event(self) -> ProvisionEvent {
        match self {
            ProvisionVerb::Manage => E::Manage,
            ProvisionVerb::Provide => E::Provide,
            ProvisionVerb::Inspect => E::Inspect,
            ProvisionVerb::Active => E::Deploy,
            ProvisionVerb::Rebuild => E::Rebuild,
            ProvisionVerb::Deleted => E::Delete,
            ProvisionVerb::Clean => E::Clean,
            ProvisionVerb::Abort => E::Abort,
            ProvisionVerb::Adopt => E::Adopt,
            ProvisionVerb::Rescue => E::Rescue,
            ProvisionVerb::Unrescue => E::Unrescue,
            ProvisionVerb::Unhold => E::Unhold,
            ProvisionVerb::Service => E::Service,
        }
    }

    /// The word Ironic uses in its "requested action" messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionVerb::Manage => "manage",
            ProvisionVerb::Provide => "provide",
            ProvisionVerb::Inspect => "inspect",
            ProvisionVerb::Active => "active",
            ProvisionVerb::Rebuild => "rebuild",
            ProvisionVerb::Deleted => "deleted",
            ProvisionVerb::Clean => "clean",
            ProvisionVerb::Abort => "abort",
            ProvisionVerb::Adopt => "adopt",
            ProvisionVerb::Rescue => "rescue",
            ProvisionVerb::Unrescue => "unrescue",
            ProvisionVerb::Unhold => "unhold",
            ProvisionVerb::Service => "service",
        }
    }
}

/// A node's power state as stored: `power on`, `power off`, `error` (absent = unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PowerState {
    #[serde(rename = "power on")]
    On,
    #[serde(rename = "power off")]
    Off,
    #[serde(rename = "error")]
    Error,
}

impl PowerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "power on",
            PowerState::Off => "power off",
            PowerState::Error => "error",
        }
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A power action requested through the API or asked of a power driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PowerAction {
    #[serde(rename = "power on")]
    On,
    #[serde(rename = "power off")]
    Off,
    #[serde(rename = "rebooting")]
    Reboot,
    #[serde(rename = "soft rebooting")]
    SoftReboot,
    #[serde(rename = "soft power off")]
    SoftOff,
}

impl PowerAction {
    /// Parses an API `target`, with the microversion that introduced it.
    pub fn parse(s: &str) -> Option<(PowerAction, u32)> {
        Some(match s {
            "power on" => (PowerAction::On, 1),
            "power off" => (PowerAction::Off, 1),
            "rebooting" => (PowerAction::Reboot, 1),
            "soft rebooting" => (PowerAction::SoftReboot, 27),
            "soft power off" => (PowerAction::SoftOff, 27),
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PowerAction::On => "power on",
            PowerAction::Off => "power off",
            PowerAction::Reboot => "rebooting",
            PowerAction::SoftReboot => "soft rebooting",
            PowerAction::SoftOff => "soft power off",
        }
    }

    /// The state the node ends in (what `target_power_state` shows during the action).
    pub fn resulting_state(self) -> PowerState {
        match self {
            PowerAction::On | PowerAction::Reboot | PowerAction::SoftReboot => PowerState::On,
            PowerAction::Off | PowerAction::SoftOff => PowerState::Off,
        }
    }

    /// Whether this action ends with the machine off.
    pub fn powers_off(self) -> bool {
        self.resulting_state() == PowerState::Off
    }
}

/// Boot devices Ironic knows.
pub const BOOT_DEVICES: [&str; 9] =
    ["pxe", "disk", "cdrom", "bios", "safe", "wanboot", "iscsiboot", "floppy", "uefihttp"];

#[cfg(test)]
mod tests {
    use super::*;

    /// The 93 transitions of `shared/spec/ironic-states.md` §3, transcribed from its table.
    const GOLDEN: &str = "\
enroll|manage|verifying
verifying|done|manageable
verifying|fail|enroll
manageable|adopt|adopting
manageable|clean|cleaning
manageable|inspect|inspecting
manageable|provide|cleaning
inspecting|done|manageable
inspecting|fail|inspect failed
inspecting|wait|inspect wait
inspect wait|abort|inspect failed
inspect wait|done|manageable
inspect wait|fail|inspect failed
inspect wait|resume|inspecting
inspect failed|inspect|inspecting
inspect failed|manage|manageable
adopting|done|active
adopting|fail|adopt failed
adopt failed|adopt|adopting
adopt failed|manage|manageable
cleaning|done|available
cleaning|fail|clean failed
cleaning|hold|clean hold
cleaning|manage|manageable
cleaning|wait|clean wait
clean wait|abort|clean failed
clean wait|fail|clean failed
clean wait|hold|clean hold
clean wait|resume|cleaning
clean hold|abort|clean failed
clean hold|unhold|clean wait
clean failed|manage|manageable
available|deploy|deploying
available|manage|manageable
deploying|done|active
deploying|fail|deploy failed
deploying|hold|deploy hold
deploying|wait|wait call-back
wait call-back|abort|deploy failed
wait call-back|delete|deleting
wait call-back|fail|deploy failed
wait call-back|hold|deploy hold
wait call-back|resume|deploying
deploy hold|abort|deploy failed
deploy hold|unhold|wait call-back
deploy failed|delete|deleting
deploy failed|deploy|deploying
deploy failed|rebuild|deploying
active|delete|deleting
active|rebuild|deploying
active|rescue|rescuing
active|service|servicing
deleting|clean|cleaning
deleting|fail|error
error|delete|deleting
error|rebuild|deploying
rescuing|done|rescue
rescuing|fail|rescue failed
rescuing|wait|rescue wait
rescue wait|abort|rescue failed
rescue wait|delete|deleting
rescue wait|fail|rescue failed
rescue wait|resume|rescuing
rescue|delete|deleting
rescue|rescue|rescuing
rescue|unrescue|unrescuing
rescue failed|delete|deleting
rescue failed|rescue|rescuing
rescue failed|unrescue|unrescuing
unrescuing|done|active
unrescuing|fail|unrescue failed
unrescue failed|delete|deleting
unrescue failed|rescue|rescuing
unrescue failed|unrescue|unrescuing
servicing|done|active
servicing|fail|service failed
servicing|hold|service hold
servicing|wait|service wait
service wait|abort|service failed
service wait|delete|deleting
service wait|fail|service failed
service wait|hold|service hold
service wait|resume|servicing
service hold|abort|service failed
service hold|fail|service failed
service hold|service|servicing
service hold|unhold|service wait
service failed|abort|active
service failed|delete|deleting
service failed|hold|service hold
service failed|rescue|rescuing
service failed|service|servicing
service failed|wait|service wait";

    fn event_named(s: &str) -> ProvisionEvent {
        *ProvisionEvent::ALL.iter().find(|e| e.as_str() == s).expect("event")
    }

    #[test]
    fn golden_table_covers_every_state_event_pair() {
        let mut allowed = std::collections::BTreeMap::new();
        for line in GOLDEN.lines() {
            let parts: Vec<&str> = line.split('|').collect();
            let from = ProvisionState::parse(parts[0]).expect(parts[0]);
            let ev = event_named(parts[1]);
            let to = ProvisionState::parse(parts[2]).expect(parts[2]);
            assert!(allowed.insert((from, ev), to).is_none(), "duplicate {line}");
        }
        assert_eq!(allowed.len(), 93);
        let mut refused = 0;
        for from in ProvisionState::ALL {
            for ev in ProvisionEvent::ALL {
                let want = allowed.get(&(from, ev)).copied();
                assert_eq!(transition(from, ev), want, "({from}, {ev})");
                if want.is_none() {
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 30 * 18 - 93);
    }

    #[test]
    fn strings_round_trip() {
        for st in ProvisionState::ALL {
            assert_eq!(ProvisionState::parse(st.as_str()), Some(st));
            let js = serde_json::to_string(&st).unwrap();
            assert_eq!(js, format!("\"{}\"", st.as_str()));
        }
        assert_eq!(ProvisionState::parse("bogus"), None);
    }

    #[test]
    fn every_transient_state_has_a_target() {
        for st in ProvisionState::ALL {
            assert_eq!(st.fsm_target().is_none(), st.is_stable(), "{st}");
        }
    }
}
