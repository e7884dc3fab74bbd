//! ferric-storage: the RocksDB store of one member — the Raft log (fsynced by group commit before
//! an entry counts), Raft metadata, and the replicated state's records with secondary indexes
//! (node name, node instance_uuid, port MAC), applied in one `WriteBatch` with `last_applied`;
//! snapshots streamed from a consistent RocksDB snapshot and installed atomically.
//!
//! Depends on `model` only; it knows nothing of openraft (the `raft` crate adapts it to
//! openraft's storage traits), of the network or of the API.

mod layout;
mod snapshot;
mod store;
mod syncer;

pub use layout::{Identity, FORMAT_VERSION};
pub use snapshot::SnapshotHeader;
pub use store::{SmEntry, SmPayload, Store, StoreOptions};

use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum StorageError {
    #[error("{path} is not a Ferric data directory: {reason}")]
    NotADataDir { path: String, reason: String },
    #[error("{what} is damaged: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("the data directory has format version {found}, newer than this build supports ({supported}); use a newer ferric")]
    NewerFormat { found: u32, supported: u32 },
    #[error("the data directory {path} belongs to member {found:?}, not {wanted:?}")]
    WrongMember { path: String, found: String, wanted: String },
    #[error("this member already belongs to cluster {found}, not {wanted}")]
    OtherCluster { found: String, wanted: String },
    #[error("{context}: {message}")]
    Io { context: String, message: String },
    #[error("rocksdb: {0}")]
    Rocks(String),
    #[error("{0}")]
    Internal(String),
}

impl StorageError {
    pub(crate) fn io(context: impl Into<String>, e: std::io::Error) -> StorageError {
        StorageError::Io { context: context.into(), message: e.to_string() }
    }
}

impl From<StorageError> for std::io::Error {
    fn from(e: StorageError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}
