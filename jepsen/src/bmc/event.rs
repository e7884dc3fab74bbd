//! One request the fake BMC received (`bmc.jsonl`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BmcEvent {
    /// Position in `bmc.jsonl`, from 0.
    pub index: u64,
    /// Run time (ns, the history's time base) at receipt.
    pub time: u64,
    /// Redfish system id: one per node under test.
    pub system: String,
    pub method: String,
    pub path: String,
    /// `Reset` type (`On`, `ForceOff`, …) or `boot:<target>` for a boot override; none for reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Whether the request would change the machine (reset, boot override).
    pub mutating: bool,
    /// `X-Ferric-Member`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// `X-Ferric-Lock-Generation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Whether the BMC carried it out.
    pub accepted: bool,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl BmcEvent {
    /// A mutating command, for tests and synthetic runs.
    pub fn command(
        index: u64,
        time: u64,
        system: &str,
        member: &str,
        generation: u64,
        accepted: bool,
    ) -> BmcEvent {
        BmcEvent {
            index,
            time,
            system: system.to_string(),
            method: "POST".into(),
            path: format!("/redfish/v1/Systems/{system}/Actions/ComputerSystem.Reset"),
            action: Some("On".into()),
            mutating: true,
            member: Some(member.to_string()),
            generation: Some(generation),
            accepted,
            status: if accepted { 204 } else { 409 },
            reason: None,
        }
    }
}
