//! A chassis: a grouping of nodes (it cannot be deleted while nodes reference it).

use crate::node::Dict;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chassis {
    pub id: u64,
    pub uuid: Uuid,
    pub description: Option<String>,
    pub extra: Dict,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub revision: u64,
}

impl Chassis {
    pub fn new(uuid: Uuid, now: Timestamp) -> Chassis {
        Chassis { id: 0, uuid, description: None, extra: Dict::new(), created_at: now, updated_at: None, revision: 0 }
    }
}
