//! Snapshots: every record of the state machine at one applied index, written from a consistent
//! RocksDB snapshot into a file (streamed to followers in chunks by the Raft layer), and
//! installed by replacing all records in one `WriteBatch`.
//!
//! File format: `FRSNAP01`, u32 header length, JSON header, then records
//! (`u8 cf`, `u32 key len`, key, `u32 value len`, value), then `FRSNEND1` and a CRC-32 of
//! everything before it. A damaged file is refused before anything is changed.

use crate::store::{
    configdrive_entries, configdrive_range, from_json, named_cf, record_cf, reload_state, Store, CF_IDX_NODE_INSTANCE, CF_IDX_NODE_NAME,
    CF_IDX_PORT_MAC, CF_SM_META, CONFIGDRIVE_PREFIX, INDEX_CFS, KEY_LAST_APPLIED, KEY_LAST_MEMBERSHIP, KEY_STATE_META,
    RECORD_CFS,
};
use crate::{StorageError, FORMAT_VERSION};
use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"FRSNAP01";
const END: &[u8; 8] = b"FRSNEND1";
/// Pseudo column family id for records of `sm_meta`: the state meta record and the config drives
/// stored apart (installed under their own key, so an older reader installs them too).
const META_ID: u8 = 255;
/// Upper bound on a header, key or value in a snapshot file (a corrupt length is refused, as is
/// one longer than the file). A config drive may be up to the provision body limit (64 MiB).
const MAX_FIELD: u32 = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub format_version: u32,
    /// The Raft layer's JSON of the last applied log id.
    pub last_applied: Option<String>,
    /// The Raft layer's JSON of the last applied membership.
    pub last_membership: Option<String>,
    pub records: u64,
}

struct Crc<W> {
    inner: W,
    hasher: crc32fast::Hasher,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_field<W: Write>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(&(bytes.len() as u32).to_le_bytes())?;
    w.write_all(bytes)
}

impl Store {
    /// Writes a snapshot of the applied state to `path` (atomically: temp file, fsync, rename).
    pub fn build_snapshot(&self, path: &Path) -> Result<SnapshotHeader, StorageError> {
        let db = &self.inner.db;
        // Holding the state lock while taking the RocksDB snapshot pins a point between applies.
        let snap = {
            let _guard = self.inner.state.read().expect("state lock poisoned");
            db.snapshot()
        };
        let get = |k: &[u8]| -> Result<Option<String>, StorageError> {
            Ok(snap
                .get_cf(named_cf(db, CF_SM_META), k)
                .map_err(|e| StorageError::Rocks(e.to_string()))?
                .map(|v| String::from_utf8_lossy(&v).into_owned()))
        };
        let last_applied = get(KEY_LAST_APPLIED)?;
        let last_membership = get(KEY_LAST_MEMBERSHIP)?;
        let meta = snap.get_cf(named_cf(db, CF_SM_META), KEY_STATE_META).map_err(|e| StorageError::Rocks(e.to_string()))?;

        let tmp = path.with_extension("tmp");
        let io = |what: &'static str| move |e: std::io::Error| StorageError::io(what, e);
        let file = std::fs::File::create(&tmp).map_err(io("creating the snapshot file"))?;
        let mut w = Crc { inner: BufWriter::new(file), hasher: crc32fast::Hasher::new() };

        // Records first into the file body; the header (with the count) is written before them,
        // so count them up front from the same snapshot.
        let mut count: u64 = if meta.is_some() { 1 } else { 0 };
        for i in 0..RECORD_CFS.len() {
            count += snap.iterator_cf(record_cf(db, i), IteratorMode::Start).count() as u64;
        }
        let drives = || {
            let from = IteratorMode::From(CONFIGDRIVE_PREFIX, Direction::Forward);
            configdrive_entries(snap.iterator_cf(named_cf(db, CF_SM_META), from))
        };
        count += drives().count() as u64;
        let header = SnapshotHeader { format_version: FORMAT_VERSION, last_applied, last_membership, records: count };
        w.write_all(MAGIC).map_err(io("writing the snapshot"))?;
        write_field(&mut w, &serde_json::to_vec(&header).map_err(|e| StorageError::Internal(e.to_string()))?)
            .map_err(io("writing the snapshot"))?;
        if let Some(m) = meta {
            w.write_all(&[META_ID]).map_err(io("writing the snapshot"))?;
            write_field(&mut w, KEY_STATE_META).map_err(io("writing the snapshot"))?;
            write_field(&mut w, &m).map_err(io("writing the snapshot"))?;
        }
        for item in drives() {
            let (k, v) = item.map_err(|e| StorageError::Rocks(e.to_string()))?;
            w.write_all(&[META_ID]).map_err(io("writing the snapshot"))?;
            write_field(&mut w, &k).map_err(io("writing the snapshot"))?;
            write_field(&mut w, &v).map_err(io("writing the snapshot"))?;
        }
        for i in 0..RECORD_CFS.len() {
            for item in snap.iterator_cf(record_cf(db, i), IteratorMode::Start) {
                let (k, v) = item.map_err(|e| StorageError::Rocks(e.to_string()))?;
                w.write_all(&[i as u8]).map_err(io("writing the snapshot"))?;
                write_field(&mut w, &k).map_err(io("writing the snapshot"))?;
                write_field(&mut w, &v).map_err(io("writing the snapshot"))?;
            }
        }
        let crc = w.hasher.clone().finalize();
        let mut inner = w.inner;
        inner.write_all(END).map_err(io("writing the snapshot"))?;
        inner.write_all(&crc.to_le_bytes()).map_err(io("writing the snapshot"))?;
        let file = inner.into_inner().map_err(|e| StorageError::io("flushing the snapshot", e.into_error()))?;
        file.sync_all().map_err(io("syncing the snapshot"))?;
        std::fs::rename(&tmp, path).map_err(io("renaming the snapshot"))?;
        Ok(header)
    }

    /// Replaces the whole state with the snapshot in `path`: verified first, then every record
    /// CF and index CF rewritten in one synced `WriteBatch`, then the in-memory state reloaded.
    pub fn install_snapshot(&self, path: &Path) -> Result<SnapshotHeader, StorageError> {
        let (header, records) = read_snapshot(path)?;
        if header.format_version > FORMAT_VERSION {
            return Err(StorageError::NewerFormat { found: header.format_version, supported: FORMAT_VERSION });
        }
        let db = &self.inner.db;
        let mut state = self.inner.state.write().expect("state lock poisoned");
        let mut batch = WriteBatch::default();
        for name in RECORD_CFS.iter().chain(INDEX_CFS.iter()) {
            let cf = named_cf(db, name);
            for item in db.iterator_cf(cf, IteratorMode::Start) {
                let (k, _) = item.map_err(|e| StorageError::Rocks(e.to_string()))?;
                batch.delete_cf(cf, k);
            }
        }
        let sm = named_cf(db, CF_SM_META);
        batch.delete_cf(sm, KEY_STATE_META);
        let (drives_from, drives_to) = configdrive_range();
        batch.delete_range_cf(sm, drives_from, drives_to);
        for (cf_id, k, v) in &records {
            if *cf_id == META_ID {
                batch.put_cf(sm, k, v);
                continue;
            }
            let name = RECORD_CFS[*cf_id as usize];
            batch.put_cf(named_cf(db, name), k, v);
            // Secondary indexes are derived, not shipped.
            if name == crate::store::CF_NODES {
                let n: ferric_model::Node = from_json("node record in snapshot", v)?;
                if let Some(nm) = &n.name {
                    batch.put_cf(named_cf(db, CF_IDX_NODE_NAME), nm.as_bytes(), n.uuid.as_bytes());
                }
                if let Some(i) = &n.instance_uuid {
                    batch.put_cf(named_cf(db, CF_IDX_NODE_INSTANCE), i.as_bytes(), n.uuid.as_bytes());
                }
            } else if name == crate::store::CF_PORTS {
                let p: ferric_model::Port = from_json("port record in snapshot", v)?;
                batch.put_cf(named_cf(db, CF_IDX_PORT_MAC), p.address.as_bytes(), p.uuid.as_bytes());
            }
        }
        match &header.last_applied {
            Some(la) => batch.put_cf(sm, KEY_LAST_APPLIED, la.as_bytes()),
            None => batch.delete_cf(sm, KEY_LAST_APPLIED),
        }
        match &header.last_membership {
            Some(lm) => batch.put_cf(sm, KEY_LAST_MEMBERSHIP, lm.as_bytes()),
            None => batch.delete_cf(sm, KEY_LAST_MEMBERSHIP),
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        db.write_opt(batch, &wo).map_err(|e| StorageError::Rocks(format!("installing a snapshot: {e}")))?;
        *state = reload_state(db)?;
        Ok(header)
    }
}

type Record = (u8, Vec<u8>, Vec<u8>);

/// Reads and verifies a snapshot file.
pub(crate) fn read_snapshot(path: &Path) -> Result<(SnapshotHeader, Vec<Record>), StorageError> {
    let corrupt = |detail: String| StorageError::Corrupt { what: format!("snapshot {}", path.display()), detail };
    let bytes = std::fs::read(path).map_err(|e| StorageError::io("reading a snapshot", e))?;
    if bytes.len() < MAGIC.len() + 4 + END.len() + 4 {
        return Err(corrupt(format!("only {} bytes", bytes.len())));
    }
    let body_len = bytes.len() - END.len() - 4;
    if &bytes[body_len..body_len + END.len()] != END {
        return Err(corrupt("missing end marker (truncated?)".into()));
    }
    let want = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes"));
    let got = crc32fast::hash(&bytes[..body_len]);
    if want != got {
        return Err(corrupt(format!("checksum mismatch ({got:#x} != {want:#x})")));
    }
    let mut r = BufReader::new(&bytes[..body_len]);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(|e| corrupt(e.to_string()))?;
    if &magic != MAGIC {
        return Err(corrupt("bad magic".into()));
    }
    let read_field = |r: &mut BufReader<&[u8]>| -> Result<Vec<u8>, StorageError> {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).map_err(|e| corrupt(e.to_string()))?;
        let len = u32::from_le_bytes(len);
        if len > MAX_FIELD || len as usize > body_len {
            return Err(corrupt(format!("field of {len} bytes")));
        }
        let mut v = vec![0u8; len as usize];
        r.read_exact(&mut v).map_err(|e| corrupt(e.to_string()))?;
        Ok(v)
    };
    let header: SnapshotHeader =
        serde_json::from_slice(&read_field(&mut r)?).map_err(|e| corrupt(format!("header: {e}")))?;
    let mut records = Vec::with_capacity(header.records.min(1 << 20) as usize);
    for _ in 0..header.records {
        let mut id = [0u8; 1];
        r.read_exact(&mut id).map_err(|e| corrupt(e.to_string()))?;
        if id[0] != META_ID && id[0] as usize >= RECORD_CFS.len() {
            return Err(corrupt(format!("unknown record family {}", id[0])));
        }
        let k = read_field(&mut r)?;
        let v = read_field(&mut r)?;
        records.push((id[0], k, v));
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).map_err(|e| corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{} trailing bytes", rest.len())));
    }
    Ok((header, records))
}
