//! The data directory: a marker file saying what it is, and the RocksDB database beside it.
//!
//! `<data-dir>/FERRIC` (JSON: format version, cluster id, member name and id) and
//! `<data-dir>/db/` (RocksDB). Opening refuses, with a clear error, a directory that holds
//! something else, a newer format, or a damaged marker — it never re-initialises silently.

use crate::StorageError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// On-disk format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const MARKER: &str = "FERRIC";

/// Who this data directory belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub format_version: u32,
    /// Set once the member belongs to a cluster (bootstrapped it or joined it).
    pub cluster_id: Option<String>,
    pub member_name: String,
    /// The member's Raft id, once it has one.
    pub member_id: Option<u64>,
}

pub fn marker_path(dir: &Path) -> PathBuf {
    dir.join(MARKER)
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("db")
}

/// What is in a data directory.
pub enum Found {
    /// Missing or empty: a new member.
    Fresh,
    /// A Ferric data directory.
    Existing(Identity),
}

/// Inspects `dir` without changing it.
pub fn inspect(dir: &Path) -> Result<Found, StorageError> {
    if !dir.exists() {
        return Ok(Found::Fresh);
    }
    if !dir.is_dir() {
        return Err(StorageError::NotADataDir { path: dir.display().to_string(), reason: "it is not a directory".into() });
    }
    let marker = marker_path(dir);
    if !marker.exists() {
        let non_empty = std::fs::read_dir(dir)
            .map_err(|e| StorageError::io(format!("reading data dir {}", dir.display()), e))?
            .next()
            .is_some();
        if non_empty {
            return Err(StorageError::NotADataDir {
                path: dir.display().to_string(),
                reason: "it is not empty and has no FERRIC marker; refusing to initialise over existing files".into(),
            });
        }
        return Ok(Found::Fresh);
    }
    let bytes =
        std::fs::read(&marker).map_err(|e| StorageError::io(format!("reading {}", marker.display()), e))?;
    let id: Identity = serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
        what: format!("marker file {}", marker.display()),
        detail: e.to_string(),
    })?;
    if id.format_version > FORMAT_VERSION {
        return Err(StorageError::NewerFormat { found: id.format_version, supported: FORMAT_VERSION });
    }
    if !db_path(dir).join("CURRENT").exists() {
        return Err(StorageError::Corrupt {
            what: format!("data dir {}", dir.display()),
            detail: "the FERRIC marker is present but the database (db/CURRENT) is missing".into(),
        });
    }
    Ok(Found::Existing(id))
}

/// Writes the marker atomically (temp file, fsync, rename, fsync dir).
pub fn write_marker(dir: &Path, id: &Identity) -> Result<(), StorageError> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|e| StorageError::io(format!("creating {}", dir.display()), e))?;
    let tmp = dir.join(format!("{MARKER}.tmp"));
    let bytes = serde_json::to_vec_pretty(id).map_err(|e| StorageError::Internal(e.to_string()))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| StorageError::io(format!("creating {}", tmp.display()), e))?;
    f.write_all(&bytes).map_err(|e| StorageError::io("writing marker", e))?;
    f.sync_all().map_err(|e| StorageError::io("syncing marker", e))?;
    std::fs::rename(&tmp, marker_path(dir)).map_err(|e| StorageError::io("renaming marker", e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
