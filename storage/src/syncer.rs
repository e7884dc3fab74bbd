//! Group commit: one thread makes the WAL durable for every caller that asked since the last
//! fsync, with one `fdatasync`. Callers hand a callback; it runs on this thread once their writes
//! are durable.

use crate::StorageError;
use rocksdb::DB;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

type Done = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// Pending sync requests are bounded; a full queue makes the requester wait (back-pressure).
const QUEUE: usize = 4096;
/// At most this many callbacks are served by one fsync.
const MAX_BATCH: usize = 4096;

pub(crate) struct Syncer {
    tx: Option<SyncSender<Done>>,
    thread: Option<JoinHandle<()>>,
    fsync: bool,
}

impl Syncer {
    pub(crate) fn start(db: Arc<DB>, fsync: bool) -> Result<Syncer, StorageError> {
        let (tx, rx) = sync_channel::<Done>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("ferric-wal-sync".into())
            .spawn(move || run(db, rx, fsync))
            .map_err(|e| StorageError::io("starting the WAL sync thread", e))?;
        Ok(Syncer { tx: Some(tx), thread: Some(thread), fsync })
    }

    pub(crate) fn fsync(&self) -> bool {
        self.fsync
    }

    pub(crate) fn request(&self, done: Done) {
        let Some(tx) = &self.tx else {
            done(Err(StorageError::Internal("store is closing".into())));
            return;
        };
        match tx.try_send(done) {
            Ok(()) => {}
            Err(TrySendError::Full(done)) => {
                // Back-pressure: wait for room (bounded by the queue draining).
                if let Err(e) = tx.send(done) {
                    (e.0)(Err(StorageError::Internal("WAL sync thread stopped".into())));
                }
            }
            Err(TrySendError::Disconnected(done)) => done(Err(StorageError::Internal("WAL sync thread stopped".into()))),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(db: Arc<DB>, rx: Receiver<Done>, fsync: bool) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let res = if fsync {
            db.flush_wal(true).map_err(|e| StorageError::Rocks(format!("syncing the WAL: {e}")))
        } else {
            Ok(())
        };
        for done in batch {
            done(res.clone());
        }
    }
}
