//! openraft's log storage over `ferric-storage`: entries as JSON under their index, fsynced by
//! the store's group commit before openraft hears they are appended.

use super::{io_err, Entry, LogId, TypeConfig, Vote};
use ferric_storage::Store;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

/// Entries kept in memory behind the log's tail, so replication reads them without decoding.
const CACHE_ENTRIES: usize = 8192;

#[derive(Clone)]
pub(crate) struct LogStore {
    pub(crate) store: Store,
    /// The most recent appended entries (index → entry), bounded; the disk copy is the truth.
    cache: Arc<Mutex<BTreeMap<u64, Entry>>>,
}

impl LogStore {
    pub(crate) fn new(store: Store) -> LogStore {
        LogStore { store, cache: Arc::new(Mutex::new(BTreeMap::new())) }
    }

    /// The entries of `[start, end)` if the cache holds all of them.
    fn cached(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let c = self.cache.lock().expect("log cache lock");
        let (first, last) = (*c.keys().next()?, *c.keys().next_back()?);
        let end = end.min(last + 1);
        if start < first || start >= end {
            return if start > last { Some(Vec::new()) } else { None };
        }
        Some(c.range(start..end).map(|(_, e)| e.clone()).collect())
    }
}

fn decode(bytes: &[u8]) -> Result<Entry, io::Error> {
    serde_json::from_slice(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("log entry: {e}")))
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(x) => x.saturating_add(1),
            Bound::Excluded(x) => *x,
            Bound::Unbounded => u64::MAX,
        };
        if let Some(hit) = self.cached(start, end) {
            // A cache hit is only trusted when it is contiguous from `start`.
            if hit.first().map(|e| e.index() == start).unwrap_or(true) {
                return Ok(hit);
            }
        }
        let rows = self.store.read_log(start, end).map_err(io::Error::from)?;
        rows.iter().map(|(_, b)| decode(b)).collect()
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        match self.store.get_raft_meta("vote").map_err(io::Error::from)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(io_err),
        }
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id: Option<LogId> = match self.store.get_raft_meta("last_purged").map_err(io::Error::from)? {
            None => None,
            Some(b) => Some(serde_json::from_slice(&b).map_err(io_err)?),
        };
        let last = match self.store.last_log().map_err(io::Error::from)? {
            None => None,
            Some((_, b)) => Some(decode(&b)?.log_id()),
        };
        Ok(LogState { last_log_id: last.or_else(|| last_purged_log_id.clone()), last_purged_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let b = serde_json::to_vec(vote).map_err(io_err)?;
        let store = self.store.clone();
        // A vote must be durable before it is acted on.
        tokio::task::spawn_blocking(move || store.put_raft_meta("vote", &b, true))
            .await
            .map_err(io_err)?
            .map_err(io::Error::from)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        let b = serde_json::to_vec(&committed).map_err(io_err)?;
        self.store.put_raft_meta("committed", &b, false).map_err(io::Error::from)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        match self.store.get_raft_meta("committed").map_err(io::Error::from)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map_err(io_err),
        }
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut rows = Vec::new();
        let mut kept = Vec::new();
        for e in entries {
            rows.push((e.index(), serde_json::to_vec(&e).map_err(io_err)?));
            kept.push(e);
        }
        // Written now (readable at once); durable when the group commit reports.
        self.store.append_log(&rows).map_err(io::Error::from)?;
        {
            let mut c = self.cache.lock().expect("log cache lock");
            for e in kept {
                c.insert(e.index(), e);
            }
            while c.len() > CACHE_ENTRIES {
                c.pop_first();
            }
        }
        self.store.sync(Box::new(move |r| callback.io_completed(r.map_err(io::Error::from))));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map(|l| l.index() + 1).unwrap_or(0);
        self.cache.lock().expect("log cache lock").retain(|i, _| *i < from);
        self.store.truncate_log_from(from).map_err(io::Error::from)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let b = serde_json::to_vec(&log_id).map_err(io_err)?;
        self.cache.lock().expect("log cache lock").retain(|i, _| *i > log_id.index());
        self.store.purge_log_upto(log_id.index(), &b).map_err(io::Error::from)
    }
}
