//! Coalesced read barriers: concurrent linearizable reads share one read-index round. A reader
//! joins the next round to start after it arrived, so the index it waits for was confirmed by a
//! quorum after its read began.

use ferric_model::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<u64, Error>>;
pub(crate) type RoundFn = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<u64, Error>> + Send>> + Send + Sync>;

/// Readers waiting at once are bounded; beyond this a read fails fast (503) instead of queueing.
const MAX_WAITING: usize = 100_000;
/// Rounds in flight at once. More than one lowers a reader's wait on an idle machine, but each
/// round costs the leader a heartbeat to every follower; on two saturated cores one round at a
/// time (maximal batching) served more reads per second.
const MAX_INFLIGHT: usize = 1;

#[derive(Default)]
struct Inner {
    inflight: usize,
    waiting: Vec<Waiter>,
}

#[derive(Clone, Default)]
pub(crate) struct ReadBarrier {
    inner: Arc<Mutex<Inner>>,
}

impl ReadBarrier {
    /// The read index to wait for, from a round started after this call.
    pub(crate) async fn read_index(&self, round: RoundFn) -> Result<u64, Error> {
        let (tx, rx) = oneshot::channel();
        {
            let mut g = self.inner.lock().expect("barrier lock");
            if g.waiting.len() >= MAX_WAITING {
                return Err(Error::unavailable("too many reads waiting for the read index"));
            }
            g.waiting.push(tx);
        }
        self.maybe_start(round);
        rx.await.map_err(|_| Error::unavailable("read barrier stopped"))?
    }

    /// Starts a round for everyone waiting, if fewer than `MAX_INFLIGHT` run. The batch is taken
    /// when the round starts, so every reader in it arrived before the round began.
    fn maybe_start(&self, round: RoundFn) {
        let batch = {
            let mut g = self.inner.lock().expect("barrier lock");
            if g.waiting.is_empty() || g.inflight >= MAX_INFLIGHT {
                return;
            }
            g.inflight += 1;
            std::mem::take(&mut g.waiting)
        };
        let me = self.clone();
        tokio::spawn(async move {
            let r = round().await;
            for w in batch {
                let _ = w.send(r.clone());
            }
            me.inner.lock().expect("barrier lock").inflight -= 1;
            // Readers that queued while every slot was busy start the next round.
            me.maybe_start(round);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test]
    async fn concurrent_reads_share_rounds_and_never_reuse_an_earlier_one() {
        let rounds = Arc::new(AtomicU64::new(0));
        let r2 = rounds.clone();
        let round: RoundFn = Arc::new(move || {
            let r = r2.clone();
            Box::pin(async move {
                tokio::task::yield_now().await;
                Ok(r.fetch_add(1, Ordering::SeqCst) + 1)
            })
        });
        let b = ReadBarrier::default();
        let mut handles = Vec::new();
        for _ in 0..200 {
            let b = b.clone();
            let round = round.clone();
            let before = rounds.load(Ordering::SeqCst);
            handles.push(tokio::spawn(async move { (before, b.read_index(round).await.unwrap()) }));
        }
        for h in handles {
            let (before, got) = h.await.unwrap();
            // The round that served a reader started after the reader arrived.
            assert!(got > before);
        }
        assert!(rounds.load(Ordering::SeqCst) < 200, "rounds were not shared");
    }
}
