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

/// Entries kept in memory behind the log's tail, so replication reads them without decoding: at
/// most this many, and at most [`CACHE_BYTES`] of them (encoded) beyond the newest entry.
const CACHE_ENTRIES: usize = 8192;

/// The cache's bound in encoded bytes. Entries can be large (a deploy's node update carries its
/// configdrive in `instance_info`, up to tens of MB): bounded by count alone, the cache held every
/// such update and a member's memory grew by ~100 MB per deploy of a 30 MB configdrive.
const CACHE_BYTES: usize = 64 << 20;

#[derive(Clone)]
pub(crate) struct LogStore {
    pub(crate) store: Store,
    /// The most recent appended entries, bounded; the disk copy is the truth.
    cache: Arc<Mutex<LogCache>>,
}

/// The newest log entries (index → entry and its encoded size), contiguous, bounded by count and
/// by bytes. The newest entry is always kept, however large, so the cache stays contiguous up to
/// the tail.
#[derive(Default)]
struct LogCache {
    entries: BTreeMap<u64, (Entry, usize)>,
    bytes: usize,
}

impl LogCache {
    fn insert(&mut self, e: Entry, size: usize) {
        if let Some((_, old)) = self.entries.insert(e.index(), (e, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
        while self.entries.len() > CACHE_ENTRIES || (self.bytes > CACHE_BYTES && self.entries.len() > 1) {
            if let Some((_, (_, size))) = self.entries.pop_first() {
                self.bytes -= size;
            }
        }
    }

    fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        let mut bytes = 0;
        self.entries.retain(|i, (_, size)| {
            let k = keep(*i);
            if k {
                bytes += *size;
            }
            k
        });
        self.bytes = bytes;
    }

    /// The entries of `[start, end)` if the cache holds all of them.
    fn range(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let (first, last) = (*self.entries.keys().next()?, *self.entries.keys().next_back()?);
        let end = end.min(last + 1);
        if start < first || start >= end {
            return if start > last { Some(Vec::new()) } else { None };
        }
        Some(self.entries.range(start..end).map(|(_, (e, _))| e.clone()).collect())
    }
}

impl LogStore {
    pub(crate) fn new(store: Store) -> LogStore {
        LogStore { store, cache: Arc::new(Mutex::new(LogCache::default())) }
    }

    /// The entries of `[start, end)` if the cache holds all of them.
    fn cached(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        self.cache.lock().expect("log cache lock").range(start, end)
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
            let bytes = serde_json::to_vec(&e).map_err(io_err)?;
            let size = bytes.len();
            rows.push((e.index(), bytes));
            kept.push((e, size));
        }
        // Written now (readable at once); durable when the group commit reports.
        self.store.append_log(&rows).map_err(io::Error::from)?;
        {
            let mut c = self.cache.lock().expect("log cache lock");
            for (e, size) in kept {
                c.insert(e, size);
            }
        }
        self.store.sync(Box::new(move |r| callback.io_completed(r.map_err(io::Error::from))));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map(|l| l.index() + 1).unwrap_or(0);
        self.cache.lock().expect("log cache lock").retain(|i| i < from);
        self.store.truncate_log_from(from).map_err(io::Error::from)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let b = serde_json::to_vec(&log_id).map_err(io_err)?;
        self.cache.lock().expect("log cache lock").retain(|i| i > log_id.index());
        self.store.purge_log_upto(log_id.index(), &b).map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::entry::RaftEntry;

    fn entry(index: u64) -> Entry {
        Entry::new_blank(openraft::LogId::new(openraft::impls::leader_id_adv::LeaderId { term: 1, node_id: 1 }, index))
    }

    fn indexes(c: &LogCache) -> Vec<u64> {
        c.entries.keys().copied().collect()
    }

    #[test]
    fn the_cache_is_bounded_by_bytes_and_keeps_the_newest_entry_however_large() {
        let mut c = LogCache::default();
        let mb = 1 << 20;
        for i in 1..=10 {
            c.insert(entry(i), 10 * mb);
        }
        // 64 MiB hold six entries of 10 MiB: the oldest four went.
        assert_eq!(indexes(&c), (5..=10).collect::<Vec<_>>());
        assert_eq!(c.bytes, 60 * mb);
        // One entry larger than the whole bound: kept alone, so the cache still ends at the tail.
        c.insert(entry(11), 100 * mb);
        assert_eq!(indexes(&c), vec![11]);
        assert_eq!(c.bytes, 100 * mb);
        // The next small entry pushes it out.
        c.insert(entry(12), 1_000);
        assert_eq!(indexes(&c), vec![12]);
        assert_eq!(c.bytes, 1_000);
        assert_eq!(c.range(12, 20).map(|v| v.len()), Some(1));
        assert_eq!(c.range(11, 20).map(|v| v.len()), None, "an evicted entry is read from disk");
    }

    #[test]
    fn the_cache_is_bounded_by_count_for_small_entries() {
        let mut c = LogCache::default();
        for i in 0..(CACHE_ENTRIES as u64 + 100) {
            c.insert(entry(i), 100);
        }
        assert_eq!(c.entries.len(), CACHE_ENTRIES);
        assert_eq!(c.bytes, CACHE_ENTRIES * 100);
        assert_eq!(indexes(&c)[0], 100);
    }

    #[test]
    fn truncating_purging_and_replacing_keep_the_byte_count_true() {
        let mut c = LogCache::default();
        for i in 1..=5 {
            c.insert(entry(i), i as usize * 10);
        }
        c.retain(|i| i < 4); // truncate_after(3)
        assert_eq!((indexes(&c), c.bytes), (vec![1, 2, 3], 60));
        c.insert(entry(3), 7); // an entry written again at the same index
        assert_eq!((indexes(&c), c.bytes), (vec![1, 2, 3], 37));
        c.retain(|i| i > 1); // purge(1)
        assert_eq!((indexes(&c), c.bytes), (vec![2, 3], 27));
        assert_eq!(c.range(2, 4).map(|v| v.iter().map(|e| e.index()).collect::<Vec<_>>()), Some(vec![2, 3]));
    }
}
