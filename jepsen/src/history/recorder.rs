//! The shared recorder: stamps operations with the run's time base, numbers them and appends
//! them to `history.jsonl`. It keeps no copy: the checkers read the file back once the run is
//! over (a copy in memory would grow with the whole run, for one lookup).

use super::{JsonlWriter, Op, OpKind, Process};
use crate::clock::RunClock;
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;

/// An invocation waiting for its completion.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub index: u64,
    pub process: Process,
    pub f: String,
    pub key: Option<String>,
    pub node: Option<String>,
    pub time: u64,
}

struct Inner {
    writer: JsonlWriter,
    /// The index the next op gets.
    next_index: u64,
    /// One past the highest client process recorded so far.
    next_client_process: u64,
    write_error: Option<String>,
}

pub struct Recorder {
    clock: RunClock,
    inner: Mutex<Inner>,
}

impl Recorder {
    /// A recorder that writes to `path`.
    pub fn new(clock: RunClock, path: &Path) -> anyhow::Result<Recorder> {
        let writer = JsonlWriter::create(path)?;
        Ok(Recorder {
            clock,
            inner: Mutex::new(Inner {
                writer,
                next_index: 0,
                next_client_process: 0,
                write_error: None,
            }),
        })
    }

    pub fn clock(&self) -> RunClock {
        self.clock
    }

    fn push(&self, mut op: Op) -> Op {
        let mut inner = self.inner.lock().expect("recorder lock");
        op.index = inner.next_index;
        inner.next_index += 1;
        if let Process::Client(p) = op.process {
            inner.next_client_process = inner.next_client_process.max(p + 1);
        }
        if let Err(e) = inner.writer.append(&op) {
            inner.write_error.get_or_insert_with(|| format!("{e:#}"));
        }
        op
    }

    /// Records an invocation; the returned handle completes it.
    pub fn invoke(
        &self,
        process: Process,
        f: &str,
        key: Option<&str>,
        value: Value,
        node: Option<&str>,
    ) -> Invocation {
        let time = self.clock.now_ns();
        let op = self.push(Op {
            index: 0,
            kind: OpKind::Invoke,
            f: f.to_string(),
            key: key.map(str::to_string),
            value,
            process,
            time,
            wall: self.clock.wall_ns(),
            node: node.map(str::to_string),
            latency_ns: None,
            error: None,
        });
        Invocation {
            index: op.index,
            process,
            f: op.f,
            key: op.key,
            node: op.node,
            time,
        }
    }

    /// Records the completion of `inv`.
    pub fn complete(
        &self,
        inv: &Invocation,
        kind: OpKind,
        value: Value,
        error: Option<String>,
    ) -> Op {
        assert_ne!(kind, OpKind::Invoke, "a completion is ok, fail or info");
        let time = self.clock.now_ns();
        self.push(Op {
            index: 0,
            kind,
            f: inv.f.clone(),
            key: inv.key.clone(),
            value,
            process: inv.process,
            time,
            wall: self.clock.wall_ns(),
            node: inv.node.clone(),
            latency_ns: Some(time.saturating_sub(inv.time)),
            error,
        })
    }

    /// Records a nemesis action (one `info` line, as Jepsen does).
    pub fn nemesis(&self, f: &str, value: Value) -> Op {
        let time = self.clock.now_ns();
        self.push(Op {
            index: 0,
            kind: OpKind::Info,
            f: f.to_string(),
            key: None,
            value,
            process: Process::Nemesis,
            time,
            wall: self.clock.wall_ns(),
            node: None,
            latency_ns: None,
            error: None,
        })
    }

    /// One past the highest client process recorded so far (a fresh process id for later ops).
    pub fn next_client_process(&self) -> u64 {
        self.inner.lock().expect("recorder lock").next_client_process
    }

    /// The first write error, if the history file could not be written.
    pub fn write_error(&self) -> Option<String> {
        self.inner
            .lock()
            .expect("recorder lock")
            .write_error
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_ops_in_order_and_measures_latency() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let rec = Recorder::new(RunClock::start(), &path).unwrap();
        assert_eq!(rec.next_client_process(), 0);
        let inv = rec.invoke(Process::Client(3), "write", Some("k"), json!(1), Some("m1"));
        let kill = rec.nemesis("kill", json!({"member": "m2"}));
        let done = rec.complete(&inv, OpKind::Ok, json!(1), None);
        assert_eq!((inv.index, kill.index, done.index), (0, 1, 2));
        assert_eq!(done.latency_ns, Some(done.time - inv.time));
        assert_eq!(rec.next_client_process(), 4);
        let back = super::super::read_history(&path).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!((back[0].index, back[0].process, back[0].f.as_str()), (0, Process::Client(3), "write"));
        assert_eq!(back[1], kill);
        assert_eq!(back[2], done);
        assert!(rec.write_error().is_none());
    }
}
