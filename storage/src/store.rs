//! The RocksDB store of one member: the Raft log, Raft metadata, and the state machine's records
//! with their secondary indexes, in column families of one database (one WAL: a log fsync also
//! makes every earlier state-machine write durable).
//!
//! The state is also held in memory (`ferric_model::State`) for reads; RocksDB is its durable
//! copy, written in the same `WriteBatch` as `last_applied`.

use crate::layout::{self, Found, Identity, FORMAT_VERSION};
use crate::syncer::Syncer;
use crate::StorageError;
use ferric_model::{apply, Change, Command, Member, Response, State};
use rocksdb::{ColumnFamilyDescriptor, Direction, FlushOptions, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub(crate) const CF_LOG: &str = "log";
pub(crate) const CF_RAFT_META: &str = "raft_meta";
pub(crate) const CF_SM_META: &str = "sm_meta";
pub(crate) const CF_NODES: &str = "nodes";
pub(crate) const CF_PORTS: &str = "ports";
pub(crate) const CF_PORTGROUPS: &str = "portgroups";
pub(crate) const CF_CHASSIS: &str = "chassis";
pub(crate) const CF_VOLUME_CONNECTORS: &str = "volume_connectors";
pub(crate) const CF_VOLUME_TARGETS: &str = "volume_targets";
pub(crate) const CF_CONDUCTORS: &str = "conductors";
pub(crate) const CF_EVENTS: &str = "events";
pub(crate) const CF_IDX_NODE_NAME: &str = "idx_node_name";
pub(crate) const CF_IDX_NODE_INSTANCE: &str = "idx_node_instance";
pub(crate) const CF_IDX_PORT_MAC: &str = "idx_port_mac";

/// Record column families, in snapshot order (their position is their id in a snapshot file).
pub(crate) const RECORD_CFS: [&str; 8] =
    [CF_NODES, CF_PORTS, CF_PORTGROUPS, CF_CHASSIS, CF_VOLUME_CONNECTORS, CF_VOLUME_TARGETS, CF_CONDUCTORS, CF_EVENTS];
pub(crate) const INDEX_CFS: [&str; 3] = [CF_IDX_NODE_NAME, CF_IDX_NODE_INSTANCE, CF_IDX_PORT_MAC];

const ALL_CFS: [&str; 14] = [
    CF_LOG,
    CF_RAFT_META,
    CF_SM_META,
    CF_NODES,
    CF_PORTS,
    CF_PORTGROUPS,
    CF_CHASSIS,
    CF_VOLUME_CONNECTORS,
    CF_VOLUME_TARGETS,
    CF_CONDUCTORS,
    CF_EVENTS,
    CF_IDX_NODE_NAME,
    CF_IDX_NODE_INSTANCE,
    CF_IDX_PORT_MAC,
];

/// Keys in `sm_meta`.
pub(crate) const KEY_LAST_APPLIED: &[u8] = b"last_applied";
pub(crate) const KEY_LAST_MEMBERSHIP: &[u8] = b"last_membership";
pub(crate) const KEY_STATE_META: &[u8] = b"state_meta";
/// Prefix in `sm_meta` of the config drives stored apart from their node records (the key ends
/// with the node's UUID bytes). Never loaded into memory; read on demand, shipped in snapshots.
/// They live in `sm_meta` rather than a column family of their own so that a member rolled back
/// to the previous version (which would refuse a column family it does not know) still opens
/// its data directory.
pub(crate) const CONFIGDRIVE_PREFIX: &[u8] = b"configdrive/";

pub(crate) fn configdrive_key(node: &uuid::Uuid) -> Vec<u8> {
    [CONFIGDRIVE_PREFIX, node.as_bytes()].concat()
}

/// The config drives of an `sm_meta` iterator started at `CONFIGDRIVE_PREFIX`: it stops at the
/// first other key; errors pass through.
pub(crate) fn configdrive_entries<K: AsRef<[u8]>, V>(
    it: impl Iterator<Item = Result<(K, V), rocksdb::Error>>,
) -> impl Iterator<Item = Result<(K, V), rocksdb::Error>> {
    it.take_while(|item| item.as_ref().map_or(true, |(k, _)| k.as_ref().starts_with(CONFIGDRIVE_PREFIX)))
}

/// The key range of every stored config drive in `sm_meta` (`from..to`).
pub(crate) fn configdrive_range() -> (Vec<u8>, Vec<u8>) {
    let mut to = CONFIGDRIVE_PREFIX.to_vec();
    *to.last_mut().expect("non-empty prefix") += 1;
    (CONFIGDRIVE_PREFIX.to_vec(), to)
}

/// Options of a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// fsync the log before an append counts. Only the `unsafe-test-switches` feature can turn
    /// this off (a negative control for the Jepsen harness).
    pub fsync: bool,
    /// Negative control: no write-ahead log at all; writes live in memtables until the periodic
    /// writeback (every `VOLATILE_WRITEBACK`), so a process kill loses what was acknowledged
    /// since, and the member restarts with an older state.
    pub volatile: bool,
}

/// The `volatile` negative control's writeback period: every memtable is flushed in one atomic
/// flush (a consistent cut of log, vote and state), as a kernel writes back its page cache.
/// Without it a member killed before its first flush would restart with nothing at all, not even
/// its membership, and never serve again — the loss would be total and unobservable.
pub const VOLATILE_WRITEBACK: Duration = Duration::from_secs(3);

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { fsync: true, volatile: false }
    }
}

/// One entry for the state machine, as the Raft layer hands it over. The log id and the
/// membership are opaque JSON owned by the Raft layer; the store persists them.
pub struct SmEntry {
    pub index: u64,
    pub log_id_json: String,
    pub payload: SmPayload,
}

pub enum SmPayload {
    Blank,
    Command(Arc<Command>),
    Membership { members: BTreeMap<String, Member>, stored_membership_json: String },
}

/// A member's store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Arc<DB>,
    pub(crate) dir: PathBuf,
    pub(crate) state: RwLock<State>,
    identity: Mutex<Identity>,
    syncer: Syncer,
    /// Options for every write (the WAL is skipped only by the `volatile` negative control).
    write_opts: WriteOptions,
    volatile: bool,
    _writeback: Option<Writeback>,
}

/// The `volatile` writeback thread; stops and is joined on drop.
struct Writeback {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writeback {
    fn start(db: Arc<DB>) -> Result<Writeback, StorageError> {
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ferric-writeback".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(VOLATILE_WRITEBACK) {
                    let cfs: Vec<&rocksdb::ColumnFamily> = ALL_CFS.iter().filter_map(|n| db.cf_handle(n)).collect();
                    let mut fo = FlushOptions::default();
                    fo.set_wait(true);
                    if let Err(e) = db.flush_cfs_opt(&cfs, &fo) {
                        tracing::warn!(error = %e, "volatile store: writeback failed");
                    }
                }
            })
            .map_err(|e| StorageError::io("starting the writeback thread", e))?;
        Ok(Writeback { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn rocks(context: &str) -> impl Fn(rocksdb::Error) -> StorageError + '_ {
    move |e| StorageError::Rocks(format!("{context}: {e}"))
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(v).map_err(|e| StorageError::Internal(format!("encoding a record: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, b: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(b).map_err(|e| StorageError::Corrupt { what: what.to_string(), detail: e.to_string() })
}

fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_max_background_jobs(2);
    o.set_keep_log_file_num(4);
    o.set_max_total_wal_size(256 << 20);
    o
}

fn cf_options(name: &str) -> Options {
    let mut o = Options::default();
    o.set_write_buffer_size(if name == CF_LOG { 32 << 20 } else { 8 << 20 });
    o
}

impl Store {
    /// Opens (or, for a missing/empty directory, creates) the data directory of `member_name`.
    pub fn open(dir: &Path, member_name: &str, opts: StoreOptions) -> Result<Store, StorageError> {
        let identity = match layout::inspect(dir)? {
            Found::Fresh => {
                let id = Identity {
                    format_version: FORMAT_VERSION,
                    cluster_id: None,
                    member_name: member_name.to_string(),
                    member_id: None,
                };
                std::fs::create_dir_all(layout::db_path(dir))
                    .map_err(|e| StorageError::io(format!("creating {}", dir.display()), e))?;
                // The database first, then the marker: a crash in between leaves a dir without a
                // marker but with db/, which `inspect` refuses (not silently re-used).
                let db = Self::open_db(dir, true, opts.volatile)?;
                drop(db);
                layout::write_marker(dir, &id)?;
                id
            }
            Found::Existing(id) => {
                if id.member_name != member_name {
                    return Err(StorageError::WrongMember {
                        path: dir.display().to_string(),
                        found: id.member_name.clone(),
                        wanted: member_name.to_string(),
                    });
                }
                id
            }
        };
        let db = Self::open_db(dir, false, opts.volatile)?;
        let db = Arc::new(db);
        let state = load_state(&db)?;
        let syncer = Syncer::start(db.clone(), opts.fsync && !opts.volatile)?;
        let mut write_opts = WriteOptions::default();
        write_opts.disable_wal(opts.volatile);
        let writeback = if opts.volatile { Some(Writeback::start(db.clone())?) } else { None };
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                dir: dir.to_path_buf(),
                state: RwLock::new(state),
                identity: Mutex::new(identity),
                syncer,
                write_opts,
                volatile: opts.volatile,
                _writeback: writeback,
            }),
        })
    }

    fn open_db(dir: &Path, create: bool, volatile: bool) -> Result<DB, StorageError> {
        let mut opts = db_options();
        opts.create_if_missing(create);
        // Without a WAL, only an atomic flush keeps the column families consistent on disk.
        opts.set_atomic_flush(volatile);
        let cfs: Vec<ColumnFamilyDescriptor> =
            ALL_CFS.iter().map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n))).collect();
        DB::open_cf_descriptors(&opts, layout::db_path(dir), cfs).map_err(|e| StorageError::Corrupt {
            what: format!("database in {}", dir.display()),
            detail: e.to_string(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn identity(&self) -> Identity {
        self.inner.identity.lock().expect("identity lock").clone()
    }

    /// Records that this member belongs to `cluster_id` with Raft id `member_id`.
    pub fn set_membership_identity(&self, cluster_id: &str, member_id: u64) -> Result<(), StorageError> {
        let mut id = self.inner.identity.lock().expect("identity lock");
        if let Some(existing) = &id.cluster_id {
            if existing != cluster_id {
                return Err(StorageError::OtherCluster { found: existing.clone(), wanted: cluster_id.to_string() });
            }
        }
        let mut next = id.clone();
        next.cluster_id = Some(cluster_id.to_string());
        next.member_id = Some(member_id);
        if next != *id {
            layout::write_marker(&self.inner.dir, &next)?;
            *id = next;
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.inner.db.cf_handle(name).expect("column family created at open")
    }

    // ------------------------------------------------------------------ log

    /// Writes log entries (index → encoded entry). Not durable until `sync` reports.
    pub fn append_log(&self, entries: &[(u64, Vec<u8>)]) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        let cf = self.cf(CF_LOG);
        for (index, bytes) in entries {
            batch.put_cf(cf, index.to_be_bytes(), bytes);
        }
        self.inner.db.write_opt(batch, &self.inner.write_opts).map_err(rocks("appending to the log"))
    }

    /// Makes every write so far durable (group commit: one fsync serves every caller waiting),
    /// then calls `done` on the syncer thread.
    pub fn sync(&self, done: Box<dyn FnOnce(Result<(), StorageError>) + Send>) {
        self.inner.syncer.request(done);
    }

    /// Log entries with `start <= index < end`.
    pub fn read_log(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        let it = self.inner.db.iterator_cf(self.cf(CF_LOG), IteratorMode::From(&start.to_be_bytes(), Direction::Forward));
        for item in it {
            let (k, v) = item.map_err(rocks("reading the log"))?;
            let index = decode_index(&k)?;
            if index >= end {
                break;
            }
            out.push((index, v.to_vec()));
        }
        Ok(out)
    }

    /// The last entry of the log, if any.
    pub fn last_log(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let mut it = self.inner.db.iterator_cf(self.cf(CF_LOG), IteratorMode::End);
        match it.next() {
            None => Ok(None),
            Some(item) => {
                let (k, v) = item.map_err(rocks("reading the log"))?;
                Ok(Some((decode_index(&k)?, v.to_vec())))
            }
        }
    }

    /// Deletes log entries with `index >= from`.
    pub fn truncate_log_from(&self, from: u64) -> Result<(), StorageError> {
        self.inner
            .db
            .delete_range_cf(self.cf(CF_LOG), from.to_be_bytes(), u64::MAX.to_be_bytes())
            .map_err(rocks("truncating the log"))?;
        // u64::MAX itself is excluded by delete_range; it is never a real index.
        Ok(())
    }

    /// Records `last_purged` and deletes entries with `index <= upto`, in one batch.
    pub fn purge_log_upto(&self, upto: u64, last_purged_json: &[u8]) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_RAFT_META), b"last_purged", last_purged_json);
        batch.delete_range_cf(self.cf(CF_LOG), 0u64.to_be_bytes(), (upto + 1).to_be_bytes());
        self.inner.db.write_opt(batch, &self.inner.write_opts).map_err(rocks("purging the log"))
    }

    pub fn get_raft_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.db.get_cf(self.cf(CF_RAFT_META), key.as_bytes()).map_err(rocks("reading raft metadata"))
    }

    /// Writes Raft metadata; with `sync`, durable before returning (the vote must be).
    pub fn put_raft_meta(&self, key: &str, value: &[u8], sync: bool) -> Result<(), StorageError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync && self.inner.syncer.fsync());
        wo.disable_wal(self.inner.volatile);
        self.inner.db.put_cf_opt(self.cf(CF_RAFT_META), key.as_bytes(), value, &wo).map_err(rocks("writing raft metadata"))
    }

    // ------------------------------------------------------------ state machine

    /// The last applied log id and membership, as the Raft layer stored them.
    pub fn applied_meta(&self) -> Result<(Option<String>, Option<String>), StorageError> {
        let db = &self.inner.db;
        let la = db.get_cf(self.cf(CF_SM_META), KEY_LAST_APPLIED).map_err(rocks("reading last_applied"))?;
        let lm = db.get_cf(self.cf(CF_SM_META), KEY_LAST_MEMBERSHIP).map_err(rocks("reading last_membership"))?;
        let s = |b: Option<Vec<u8>>| b.map(|v| String::from_utf8_lossy(&v).into_owned());
        Ok((s(la), s(lm)))
    }

    /// Applies committed entries in order: the pure `apply` of each command to the in-memory
    /// state, then every changed record, index entry and `last_applied` in one `WriteBatch`.
    /// Returns one response per entry (`None` for blank and membership entries).
    pub fn apply_entries(&self, entries: Vec<SmEntry>) -> Result<Vec<Option<Response>>, StorageError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut state = self.inner.state.write().expect("state lock poisoned");
        let mut batch = WriteBatch::default();
        let mut out = Vec::with_capacity(entries.len());
        let mut last_log_id = None;
        for e in entries {
            match e.payload {
                SmPayload::Blank => out.push(None),
                SmPayload::Command(cmd) => {
                    let (resp, changes) = apply(&mut state, e.index, &cmd);
                    self.write_changes(&mut batch, &state, &changes)?;
                    out.push(Some(resp));
                }
                SmPayload::Membership { members, stored_membership_json } => {
                    let changes = state.apply_membership(e.index, members);
                    self.write_changes(&mut batch, &state, &changes)?;
                    batch.put_cf(self.cf(CF_SM_META), KEY_LAST_MEMBERSHIP, stored_membership_json.as_bytes());
                    out.push(None);
                }
            }
            last_log_id = Some(e.log_id_json);
        }
        if let Some(la) = last_log_id {
            batch.put_cf(self.cf(CF_SM_META), KEY_LAST_APPLIED, la.as_bytes());
        }
        if let Err(e) = self.inner.db.write_opt(batch, &self.inner.write_opts) {
            // Memory ran ahead of the disk: put it back to what the disk holds.
            if let Ok(disk) = reload_state(&self.inner.db) {
                *state = disk;
            }
            return Err(rocks("writing applied records")(e));
        }
        Ok(out)
    }

    fn write_changes(&self, batch: &mut WriteBatch, state: &State, changes: &[Change]) -> Result<(), StorageError> {
        for ch in changes {
            match ch {
                Change::Meta => batch.put_cf(self.cf(CF_SM_META), KEY_STATE_META, to_json(&state.meta)?),
                Change::Node { old, new } => {
                    let uuid = new.as_ref().or(old.as_ref()).map(|n| n.uuid).expect("node change has a node");
                    let (old_name, old_inst) = old
                        .as_ref()
                        .map(|o| (o.name.clone(), o.instance_uuid.clone()))
                        .unwrap_or((None, None));
                    let (new_name, new_inst) = new
                        .as_ref()
                        .map(|n| (n.name.clone(), n.instance_uuid.clone()))
                        .unwrap_or((None, None));
                    if old_name != new_name {
                        if let Some(n) = &old_name {
                            batch.delete_cf(self.cf(CF_IDX_NODE_NAME), n.as_bytes());
                        }
                    }
                    if let Some(n) = &new_name {
                        batch.put_cf(self.cf(CF_IDX_NODE_NAME), n.as_bytes(), uuid.as_bytes());
                    }
                    if old_inst != new_inst {
                        if let Some(i) = &old_inst {
                            batch.delete_cf(self.cf(CF_IDX_NODE_INSTANCE), i.as_bytes());
                        }
                    }
                    if let Some(i) = &new_inst {
                        batch.put_cf(self.cf(CF_IDX_NODE_INSTANCE), i.as_bytes(), uuid.as_bytes());
                    }
                    match new {
                        Some(n) => batch.put_cf(self.cf(CF_NODES), uuid.as_bytes(), to_json(&**n)?),
                        None => batch.delete_cf(self.cf(CF_NODES), uuid.as_bytes()),
                    }
                }
                Change::Port { old, new } => {
                    let uuid = new.as_ref().or(old.as_ref()).map(|p| p.uuid).expect("port change has a port");
                    if let Some(o) = old {
                        if new.as_ref().map(|n| &n.address) != Some(&o.address) {
                            batch.delete_cf(self.cf(CF_IDX_PORT_MAC), o.address.as_bytes());
                        }
                    }
                    match new {
                        Some(p) => {
                            batch.put_cf(self.cf(CF_IDX_PORT_MAC), p.address.as_bytes(), uuid.as_bytes());
                            batch.put_cf(self.cf(CF_PORTS), uuid.as_bytes(), to_json(&**p)?);
                        }
                        None => batch.delete_cf(self.cf(CF_PORTS), uuid.as_bytes()),
                    }
                }
                Change::Portgroup { uuid, new } => put_or_delete(batch, self.cf(CF_PORTGROUPS), uuid.as_bytes(), new.as_deref())?,
                Change::Chassis { uuid, new } => put_or_delete(batch, self.cf(CF_CHASSIS), uuid.as_bytes(), new.as_deref())?,
                Change::VolumeConnector { uuid, new } => {
                    put_or_delete(batch, self.cf(CF_VOLUME_CONNECTORS), uuid.as_bytes(), new.as_deref())?
                }
                Change::VolumeTarget { uuid, new } => {
                    put_or_delete(batch, self.cf(CF_VOLUME_TARGETS), uuid.as_bytes(), new.as_deref())?
                }
                Change::Conductor { hostname, new } => {
                    put_or_delete(batch, self.cf(CF_CONDUCTORS), hostname.as_bytes(), new.as_ref())?
                }
                Change::Event { id, new } => put_or_delete(batch, self.cf(CF_EVENTS), &id.to_be_bytes(), new.as_ref())?,
                Change::ConfigDrive { node, data } => {
                    put_or_delete(batch, self.cf(CF_SM_META), &configdrive_key(node), data.as_ref())?
                }
            }
        }
        Ok(())
    }

    /// Runs `f` on the in-memory state (read lock held: keep it short).
    pub fn read_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        let st = self.inner.state.read().expect("state lock poisoned");
        f(&st)
    }

    /// The config drive of `node` if it is stored apart from the node record (see
    /// `Node::configdrive_stored_apart`); read from disk, never held in memory.
    pub fn configdrive(&self, node: uuid::Uuid) -> Result<Option<serde_json::Value>, StorageError> {
        match self.inner.db.get_pinned_cf(self.cf(CF_SM_META), configdrive_key(&node)).map_err(rocks("reading a config drive"))? {
            Some(b) => Ok(Some(from_json("config drive", &b)?)),
            None => Ok(None),
        }
    }

    /// How many config drives are stored apart (for tests).
    pub fn configdrive_count(&self) -> usize {
        let from = IteratorMode::From(CONFIGDRIVE_PREFIX, Direction::Forward);
        configdrive_entries(self.inner.db.iterator_cf(self.cf(CF_SM_META), from)).count()
    }

    /// Counts of records per column family on disk (for status and tests).
    pub fn record_counts(&self) -> Result<BTreeMap<String, usize>, StorageError> {
        let mut out = BTreeMap::new();
        for name in RECORD_CFS.iter().chain(INDEX_CFS.iter()) {
            let n = self.inner.db.iterator_cf(self.cf(name), IteratorMode::Start).count();
            out.insert(name.to_string(), n);
        }
        Ok(out)
    }

    /// The log's first and last index on disk (for status and tests).
    pub fn log_bounds(&self) -> Result<Option<(u64, u64)>, StorageError> {
        let first = self.inner.db.iterator_cf(self.cf(CF_LOG), IteratorMode::Start).next();
        let last = self.last_log()?;
        match (first, last) {
            (Some(f), Some((l, _))) => {
                let (k, _) = f.map_err(rocks("reading the log"))?;
                Ok(Some((decode_index(&k)?, l)))
            }
            _ => Ok(None),
        }
    }
}

fn put_or_delete<T: Serialize>(
    batch: &mut WriteBatch,
    cf: &rocksdb::ColumnFamily,
    key: &[u8],
    value: Option<&T>,
) -> Result<(), StorageError> {
    match value {
        Some(v) => batch.put_cf(cf, key, to_json(v)?),
        None => batch.delete_cf(cf, key),
    }
    Ok(())
}

pub(crate) fn decode_index(k: &[u8]) -> Result<u64, StorageError> {
    let arr: [u8; 8] = k
        .try_into()
        .map_err(|_| StorageError::Corrupt { what: "log key".into(), detail: format!("{} bytes, expected 8", k.len()) })?;
    Ok(u64::from_be_bytes(arr))
}

/// Loads the in-memory state from the record column families and checks the on-disk secondary
/// indexes against it (a mismatch means the database is damaged).
fn load_state(db: &DB) -> Result<State, StorageError> {
    let mut st = State::default();
    let cf = |n: &str| db.cf_handle(n).expect("column family created at open");
    if let Some(b) = db.get_cf(cf(CF_SM_META), KEY_STATE_META).map_err(rocks("reading state meta"))? {
        st.meta = from_json("state meta", &b)?;
    }
    fn each<T: DeserializeOwned>(
        db: &DB,
        cf: &rocksdb::ColumnFamily,
        what: &str,
        mut f: impl FnMut(T),
    ) -> Result<(), StorageError> {
        for item in db.iterator_cf(cf, IteratorMode::Start) {
            let (_, v) = item.map_err(rocks("loading records"))?;
            f(from_json(what, &v)?);
        }
        Ok(())
    }
    each(db, cf(CF_NODES), "node record", |n: ferric_model::Node| {
        st.nodes.insert(n.uuid, Arc::new(n));
    })?;
    each(db, cf(CF_PORTS), "port record", |p: ferric_model::Port| {
        st.ports.insert(p.uuid, Arc::new(p));
    })?;
    each(db, cf(CF_PORTGROUPS), "portgroup record", |p: ferric_model::Portgroup| {
        st.portgroups.insert(p.uuid, Arc::new(p));
    })?;
    each(db, cf(CF_CHASSIS), "chassis record", |c: ferric_model::Chassis| {
        st.chassis.insert(c.uuid, Arc::new(c));
    })?;
    each(db, cf(CF_VOLUME_CONNECTORS), "volume connector record", |c: ferric_model::VolumeConnector| {
        st.volume_connectors.insert(c.uuid, Arc::new(c));
    })?;
    each(db, cf(CF_VOLUME_TARGETS), "volume target record", |t: ferric_model::VolumeTarget| {
        st.volume_targets.insert(t.uuid, Arc::new(t));
    })?;
    each(db, cf(CF_CONDUCTORS), "conductor record", |c: ferric_model::ConductorRecord| {
        st.conductors.insert(c.hostname.clone(), c);
    })?;
    each(db, cf(CF_EVENTS), "event record", |e: ferric_model::PendingEvent| {
        st.events.insert(e.id, e);
    })?;
    st.rebuild_indexes();
    check_index(db, cf(CF_IDX_NODE_NAME), "node name", |k| st.node_by_name.get(k).map(|u| *u.as_bytes()), st.node_by_name.len())?;
    check_index(
        db,
        cf(CF_IDX_NODE_INSTANCE),
        "node instance_uuid",
        |k| st.node_by_instance.get(k).map(|u| *u.as_bytes()),
        st.node_by_instance.len(),
    )?;
    check_index(db, cf(CF_IDX_PORT_MAC), "port MAC", |k| st.port_by_mac.get(k).map(|u| *u.as_bytes()), st.port_by_mac.len())?;
    Ok(st)
}

fn check_index(
    db: &DB,
    cf: &rocksdb::ColumnFamily,
    what: &str,
    lookup: impl Fn(&str) -> Option<[u8; 16]>,
    expected_len: usize,
) -> Result<(), StorageError> {
    let mut n = 0usize;
    for item in db.iterator_cf(cf, IteratorMode::Start) {
        let (k, v) = item.map_err(rocks("checking indexes"))?;
        n += 1;
        let key = String::from_utf8_lossy(&k);
        if lookup(&key).as_ref().map(|u| &u[..]) != Some(&v[..]) {
            return Err(StorageError::Corrupt {
                what: format!("{what} index"),
                detail: format!("entry {key:?} does not match the records"),
            });
        }
    }
    if n != expected_len {
        return Err(StorageError::Corrupt {
            what: format!("{what} index"),
            detail: format!("{n} entries on disk, {expected_len} records"),
        });
    }
    Ok(())
}

/// Helper for the snapshot module: the record CF handles in snapshot order.
pub(crate) fn record_cf<'a>(db: &'a DB, i: usize) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(RECORD_CFS[i]).expect("column family created at open")
}

pub(crate) fn named_cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name).expect("column family created at open")
}

pub(crate) fn reload_state(db: &DB) -> Result<State, StorageError> {
    load_state(db)
}
