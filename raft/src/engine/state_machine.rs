//! openraft's state machine over `ferric-storage`: a batch of committed entries becomes one call
//! to the pure `apply` per command and one RocksDB `WriteBatch`; snapshots are files the store
//! writes from a consistent RocksDB snapshot.

use super::{io_err, members_of, LogId, Outcome, SnapshotFile, SnapshotMeta, StoredMembership, TypeConfig};
use ferric_storage::{SmEntry, SmPayload, Store};
use futures::{Stream, StreamExt};
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

type SnapshotOf = openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotFile>;

/// The latest snapshot this member holds (built here or installed from the leader).
#[derive(Clone, Default)]
pub(crate) struct CurrentSnapshot(Arc<Mutex<Option<(SnapshotMeta, PathBuf)>>>);

pub(crate) struct StateMachine {
    pub(crate) store: Store,
    pub(crate) snapshot_dir: PathBuf,
    pub(crate) applied: watch::Sender<u64>,
    pub(crate) current: CurrentSnapshot,
}

pub(crate) struct Builder {
    store: Store,
    snapshot_dir: PathBuf,
    current: CurrentSnapshot,
}

fn parse_log_id(s: &Option<String>) -> Result<Option<LogId>, io::Error> {
    match s {
        None => Ok(None),
        Some(j) => serde_json::from_str(j).map_err(io_err),
    }
}

fn parse_membership(s: &Option<String>) -> Result<StoredMembership, io::Error> {
    match s {
        None => Ok(StoredMembership::default()),
        Some(j) => serde_json::from_str(j).map_err(io_err),
    }
}

impl StateMachine {
    pub(crate) fn new(store: Store, snapshot_dir: PathBuf, applied: watch::Sender<u64>) -> Result<StateMachine, io::Error> {
        std::fs::create_dir_all(&snapshot_dir)?;
        let current = CurrentSnapshot::default();
        // Pick up the snapshot left by a previous run, if its metadata is intact.
        let meta_path = snapshot_dir.join("current.json");
        if let Ok(bytes) = std::fs::read(&meta_path) {
            if let Ok((meta, file)) = serde_json::from_slice::<(SnapshotMeta, PathBuf)>(&bytes) {
                if file.exists() {
                    *current.0.lock().expect("snapshot lock") = Some((meta, file));
                }
            }
        }
        Ok(StateMachine { store, snapshot_dir, applied, current })
    }
}

impl CurrentSnapshot {
    /// Records a new current snapshot and removes older files. A snapshot not newer than the
    /// current one (a build that finished after a newer one was installed) is discarded.
    fn set(&self, dir: &std::path::Path, meta: SnapshotMeta, file: PathBuf) -> Result<(), io::Error> {
        let older = {
            let cur = self.0.lock().expect("snapshot lock");
            matches!(&*cur, Some((m, f)) if m.last_log_id >= meta.last_log_id && *f != file)
        };
        if older {
            let _ = std::fs::remove_file(&file);
            return Ok(());
        }
        let tmp = dir.join("current.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&(&meta, &file)).map_err(io_err)?)?;
        std::fs::rename(&tmp, dir.join("current.json"))?;
        let old = self.0.lock().expect("snapshot lock").replace((meta, file.clone()));
        if let Some((_, old_file)) = old {
            if old_file != file {
                let _ = std::fs::remove_file(old_file);
            }
        }
        Ok(())
    }

    fn get(&self) -> Option<(SnapshotMeta, PathBuf)> {
        self.0.lock().expect("snapshot lock").clone()
    }
}

fn snapshot_name(meta_last: &Option<LogId>) -> String {
    match meta_last {
        Some(l) => format!("snap-{}-{}.bin", l.index(), l.committed_leader_id()),
        None => "snap-empty.bin".to_string(),
    }
    .replace(['/', ' ', ':'], "_")
}

impl RaftSnapshotBuilder<TypeConfig> for Builder {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf, io::Error> {
        let store = self.store.clone();
        let tmp = self.snapshot_dir.join(format!("building-{}.bin", uuid_like()));
        let tmp2 = tmp.clone();
        let header = tokio::task::spawn_blocking(move || store.build_snapshot(&tmp2)).await.map_err(io_err)??;
        let last_log_id = parse_log_id(&header.last_applied)?;
        let last_membership = parse_membership(&header.last_membership)?;
        let meta = SnapshotMeta { last_log_id: last_log_id.clone(), last_membership };
        let file = self.snapshot_dir.join(snapshot_name(&last_log_id));
        std::fs::rename(&tmp, &file)?;
        self.current.set(&self.snapshot_dir, meta.clone(), file.clone())?;
        tracing::info!(index = ?last_log_id.map(|l| l.index()), records = header.records, "built snapshot");
        Ok(Snapshot { meta, snapshot: SnapshotFile { path: file } })
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{n:x}")
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = Builder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let (la, lm) = self.store.applied_meta().map_err(io::Error::from)?;
        Ok((parse_log_id(&la)?, parse_membership(&lm)?))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let mut batch = Vec::new();
        let mut responders = Vec::new();
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id();
            let index = log_id.index();
            let log_id_json = serde_json::to_string(&log_id).map_err(io_err)?;
            let payload = match &entry.payload {
                EntryPayload::Blank => SmPayload::Blank,
                EntryPayload::Normal(p) => SmPayload::Command(p.0.clone()),
                EntryPayload::Membership(m) => SmPayload::Membership {
                    members: members_of(m),
                    stored_membership_json: serde_json::to_string(&StoredMembership::new(Some(log_id), m.clone()))
                        .map_err(io_err)?,
                },
            };
            batch.push(SmEntry { index, log_id_json, payload });
            responders.push(responder);
        }
        let last = batch.last().map(|e| e.index);
        let outcomes = self.store.apply_entries(batch).map_err(io::Error::from)?;
        for (outcome, responder) in outcomes.into_iter().zip(responders) {
            if let Some(r) = responder {
                r.send(Outcome(outcome));
            }
        }
        if let Some(i) = last {
            self.applied.send_replace(i);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        Builder { store: self.store.clone(), snapshot_dir: self.snapshot_dir.clone(), current: self.current.clone() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotFile) -> Result<(), io::Error> {
        let store = self.store.clone();
        let path = snapshot.path.clone();
        let header = tokio::task::spawn_blocking(move || store.install_snapshot(&path)).await.map_err(io_err)??;
        let file = self.snapshot_dir.join(snapshot_name(&meta.last_log_id));
        if snapshot.path != file {
            std::fs::rename(&snapshot.path, &file).or_else(|_| std::fs::copy(&snapshot.path, &file).map(|_| ()))?;
        }
        self.current.set(&self.snapshot_dir, meta.clone(), file)?;
        if let Some(l) = &meta.last_log_id {
            self.applied.send_replace(l.index());
        }
        tracing::info!(index = ?meta.last_log_id.as_ref().map(|l| l.index()), records = header.records, "installed snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf>, io::Error> {
        Ok(self.current.get().map(|(meta, path)| Snapshot { meta, snapshot: SnapshotFile { path } }))
    }
}
