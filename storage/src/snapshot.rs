//! Snapshots: every record of the state machine at one applied index, written from a consistent
//! RocksDB snapshot into a file (streamed to followers in chunks by the Raft layer), and
//! installed by replacing all records in one `WriteBatch`, read from the file as a stream.
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
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

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

        // The header (with the count) is written before the records, so count them up front
        // from the same snapshot, by key, without copying a value out.
        let count_keys = |cf, prefix: Option<&[u8]>| -> Result<u64, StorageError> {
            let mut it = snap.raw_iterator_cf(cf);
            match prefix {
                Some(p) => it.seek(p),
                None => it.seek_to_first(),
            }
            let mut n = 0;
            while it.valid() && prefix.is_none_or(|p| it.key().is_some_and(|k| k.starts_with(p))) {
                n += 1;
                it.next();
            }
            it.status().map_err(|e| StorageError::Rocks(e.to_string()))?;
            Ok(n)
        };
        let mut count: u64 = if meta.is_some() { 1 } else { 0 };
        for i in 0..RECORD_CFS.len() {
            count += count_keys(record_cf(db, i), None)?;
        }
        count += count_keys(named_cf(db, CF_SM_META), Some(CONFIGDRIVE_PREFIX))?;
        let drives = || {
            let from = IteratorMode::From(CONFIGDRIVE_PREFIX, Direction::Forward);
            configdrive_entries(snap.iterator_cf(named_cf(db, CF_SM_META), from))
        };
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

    /// Replaces the whole state with the snapshot in `path`: every record CF and index CF
    /// rewritten in one synced `WriteBatch`, then the in-memory state reloaded. The file is read
    /// as a stream, one record at a time, so the member holds the batch and one record, not the
    /// file and its records besides. It is read twice: once to verify it whole (structure and
    /// checksum) before the state lock is taken, so a damaged file is refused as such, whatever
    /// its header says, and readers do not wait on it; then under the lock into the batch, which
    /// is written only once that read has matched the checksum again.
    pub fn install_snapshot(&self, path: &Path) -> Result<SnapshotHeader, StorageError> {
        let header = verify_snapshot(path)?;
        if header.format_version > FORMAT_VERSION {
            return Err(StorageError::NewerFormat { found: header.format_version, supported: FORMAT_VERSION });
        }
        let mut r = SnapReader::open(path)?;
        if r.header()? != header {
            return Err(r.corrupt("changed while it was being installed".into()));
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
        let (mut k, mut v) = (Vec::new(), Vec::new());
        for _ in 0..header.records {
            let cf_id = r.record(&mut k, &mut v)?;
            if cf_id == META_ID {
                batch.put_cf(sm, &k, &v);
                continue;
            }
            let name = RECORD_CFS[cf_id as usize];
            batch.put_cf(named_cf(db, name), &k, &v);
            // Secondary indexes are derived, not shipped.
            if name == crate::store::CF_NODES {
                let n: ferric_model::Node = from_json(&format!("node record in snapshot {}", path.display()), &v)?;
                if let Some(nm) = &n.name {
                    batch.put_cf(named_cf(db, CF_IDX_NODE_NAME), nm.as_bytes(), n.uuid.as_bytes());
                }
                if let Some(i) = &n.instance_uuid {
                    batch.put_cf(named_cf(db, CF_IDX_NODE_INSTANCE), i.as_bytes(), n.uuid.as_bytes());
                }
            } else if name == crate::store::CF_PORTS {
                let p: ferric_model::Port = from_json(&format!("port record in snapshot {}", path.display()), &v)?;
                batch.put_cf(named_cf(db, CF_IDX_PORT_MAC), p.address.as_bytes(), p.uuid.as_bytes());
            }
        }
        drop((k, v));
        r.finish()?;
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

/// Reads the whole file through a `SnapReader` (one record in memory at a time) and returns its
/// header once structure, end marker and checksum all hold.
fn verify_snapshot(path: &Path) -> Result<SnapshotHeader, StorageError> {
    let mut r = SnapReader::open(path)?;
    let header = r.header();
    // A header that does not parse may still be a damaged file: the checksum says which.
    let header = match header {
        Ok(h) => h,
        Err(e) => {
            r.skip_body()?;
            r.finish()?;
            return Err(e);
        }
    };
    let (mut k, mut v) = (Vec::new(), Vec::new());
    for _ in 0..header.records {
        r.record(&mut k, &mut v)?;
    }
    r.finish()?;
    Ok(header)
}

/// Reads a snapshot file front to back, one field at a time, checking every length against the
/// bytes left and folding the body into a CRC-32 as it goes; `finish` checks the end marker and
/// the checksum.
struct SnapReader {
    r: BufReader<File>,
    hasher: crc32fast::Hasher,
    /// Bytes of the body (everything before the end marker) not read yet.
    body_left: u64,
    path: PathBuf,
}

impl SnapReader {
    fn open(path: &Path) -> Result<SnapReader, StorageError> {
        let file = File::open(path).map_err(|e| StorageError::io("reading a snapshot", e))?;
        let len = file.metadata().map_err(|e| StorageError::io("reading a snapshot", e))?.len();
        let trailer = (END.len() + 4) as u64;
        let mut r = SnapReader {
            r: BufReader::with_capacity(1 << 20, file),
            hasher: crc32fast::Hasher::new(),
            body_left: len.saturating_sub(trailer),
            path: path.to_path_buf(),
        };
        if len < (MAGIC.len() + 4) as u64 + trailer {
            return Err(r.corrupt(format!("only {len} bytes")));
        }
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(r.corrupt("bad magic".into()));
        }
        Ok(r)
    }

    fn corrupt(&self, detail: String) -> StorageError {
        StorageError::Corrupt { what: format!("snapshot {}", self.path.display()), detail }
    }

    /// An error reading the file: the file ending early is damage, anything else is I/O.
    fn read_error(&self, e: std::io::Error) -> StorageError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            self.corrupt("truncated".into())
        } else {
            StorageError::io(format!("reading snapshot {}", self.path.display()), e)
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), StorageError> {
        if buf.len() as u64 > self.body_left {
            return Err(self.corrupt("truncated".into()));
        }
        self.r.read_exact(buf).map_err(|e| self.read_error(e))?;
        self.hasher.update(buf);
        self.body_left -= buf.len() as u64;
        Ok(())
    }

    /// One length-prefixed field into `into` (its allocation is reused).
    fn field(&mut self, into: &mut Vec<u8>) -> Result<(), StorageError> {
        let mut len = [0u8; 4];
        self.read_exact(&mut len)?;
        let len = u32::from_le_bytes(len);
        if len > MAX_FIELD || len as u64 > self.body_left {
            return Err(self.corrupt(format!("field of {len} bytes")));
        }
        into.clear();
        into.resize(len as usize, 0);
        self.read_exact(into)
    }

    /// The rest of the body, through the checksum only.
    fn skip_body(&mut self) -> Result<(), StorageError> {
        let mut buf = vec![0u8; 64 << 10];
        while self.body_left > 0 {
            let n = self.body_left.min(buf.len() as u64) as usize;
            self.read_exact(&mut buf[..n])?;
        }
        Ok(())
    }

    fn header(&mut self) -> Result<SnapshotHeader, StorageError> {
        let mut h = Vec::new();
        self.field(&mut h)?;
        serde_json::from_slice(&h).map_err(|e| self.corrupt(format!("header: {e}")))
    }

    /// The next record: its family id, key and value.
    fn record(&mut self, k: &mut Vec<u8>, v: &mut Vec<u8>) -> Result<u8, StorageError> {
        let mut id = [0u8; 1];
        self.read_exact(&mut id)?;
        if id[0] != META_ID && id[0] as usize >= RECORD_CFS.len() {
            return Err(self.corrupt(format!("unknown record family {}", id[0])));
        }
        self.field(k)?;
        self.field(v)?;
        Ok(id[0])
    }

    /// After the last record: nothing left of the body, then the end marker and a checksum that
    /// matches.
    fn finish(mut self) -> Result<(), StorageError> {
        if self.body_left != 0 {
            return Err(self.corrupt(format!("{} trailing bytes", self.body_left)));
        }
        let mut end = [0u8; 8];
        let mut crc = [0u8; 4];
        let read = self.r.read_exact(&mut end).and_then(|_| self.r.read_exact(&mut crc));
        read.map_err(|e| self.read_error(e))?;
        if &end != END {
            return Err(self.corrupt("missing end marker (truncated?)".into()));
        }
        let (want, got) = (u32::from_le_bytes(crc), self.hasher.clone().finalize());
        if want != got {
            return Err(self.corrupt(format!("checksum mismatch ({got:#x} != {want:#x})")));
        }
        Ok(())
    }
}
