//! The history: every client and nemesis operation as `invoke` then `ok` / `fail` / `info`, as
//! JSON Lines (`history.jsonl`), with Jepsen's field names.
//!
//! Semantics (Jepsen's): `ok` = definitely happened, `fail` = definitely did not, `info` =
//! unknown (timeout, reset after the request was sent). After an `info` the logical process is
//! retired and never used again ([`Worker`]), so every process has at most one operation in
//! flight and an `info` operation may take effect at any time after its invocation, or never.

mod op;
mod pairs;
mod reader;
mod recorder;
mod setread;
mod window;
mod worker;
mod writer;

pub use op::{Op, OpKind, Process};
pub use pairs::{pair_ops, OpPair};
pub use reader::{read_history, read_jsonl};
pub use setread::{compact_set_read, element_string, ElemSet, SET_PREFIX};
pub use recorder::{Invocation, Recorder};
pub use window::{fault_windows, final_heal_time, FaultWindow};
pub use worker::Worker;
pub use writer::JsonlWriter;
