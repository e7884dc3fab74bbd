//! Pending outbound events (Nova `power-update`), kept in the replicated state until delivered.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A `power-update` external event for Nova (and webhooks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingEvent {
    /// The log index that created it: unique and increasing.
    pub id: u64,
    pub node_uuid: Uuid,
    /// The instance, sent to Nova as `server_uuid`.
    pub instance_uuid: String,
    /// `POWER_ON` or `POWER_OFF`.
    pub tag: String,
    pub created_at: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
    /// Set when delivery gave up after the retry bound; kept for operators to see.
    pub failed: bool,
}
