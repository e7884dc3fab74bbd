//! Wing–Gong–Lowe linearizability search with memoisation (Lowe's "just-in-time
//! linearizability" with a cache of `(linearized set, model state)`), over one partition of a
//! history (one key). Written from the papers' description (Wing & Gong 1993; Lowe 2017;
//! Horn & Kroening 2015 for P-compositionality, which the caller applies by partitioning).
//!
//! Operations that ended `info` have no return event: they may be linearized anywhere after
//! their call, or not at all. `fail` operations must not be passed in. The search is bounded by a
//! [`Budget`]; running out answers [`Outcome::Unknown`], never a linearizable verdict.

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A sequential specification.
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    type Op: Debug;
    fn init(&self) -> Self::State;
    /// The state after `op` (which includes its observed output), or `None` if `op` cannot
    /// happen in `state` with that output.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;
}

/// One operation of the partition.
#[derive(Debug, Clone)]
pub struct LinOp<O> {
    /// History index of the invocation (for reports).
    pub id: u64,
    pub call: u64,
    /// `None` for `info`: no deadline.
    pub ret: Option<u64>,
    pub op: O,
}

#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_steps: u64,
    pub max_time: Duration,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            max_steps: 5_000_000,
            max_time: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// One witness order (history ids; info ops that were never needed are left out).
    Linearizable {
        order: Vec<u64>,
    },
    /// The deepest partial linearization found, and the operation whose deadline it could not
    /// get past.
    NotLinearizable {
        longest_prefix: Vec<u64>,
        stuck: u64,
    },
    Unknown {
        reason: String,
    },
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

/// The event list: node 0 is the head sentinel; each op has a call node and, unless `info`, a
/// return node.
struct Events {
    prev: Vec<usize>,
    next: Vec<usize>,
    op: Vec<usize>,
    is_call: Vec<bool>,
    ret_of: Vec<usize>,
}

impl Events {
    fn build<O>(ops: &[LinOp<O>]) -> Events {
        // (time, is-return, op): at equal times calls come first (treated as concurrent).
        let mut evs: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
        for (i, o) in ops.iter().enumerate() {
            evs.push((o.call, false, i));
            if let Some(r) = o.ret {
                evs.push((r.max(o.call), true, i));
            }
        }
        evs.sort();
        let n = evs.len() + 1;
        let mut e = Events {
            prev: vec![NIL; n],
            next: vec![NIL; n],
            op: vec![NIL; n],
            is_call: vec![false; n],
            ret_of: vec![NIL; n],
        };
        let mut call_node = vec![NIL; ops.len()];
        for (k, &(_, is_ret, i)) in evs.iter().enumerate() {
            let node = k + 1;
            e.prev[node] = node - 1;
            e.next[node - 1] = node;
            e.op[node] = i;
            e.is_call[node] = !is_ret;
            if is_ret {
                e.ret_of[call_node[i]] = node;
            } else {
                call_node[i] = node;
            }
        }
        e
    }

    fn unlink(&mut self, n: usize) {
        let (p, x) = (self.prev[n], self.next[n]);
        self.next[p] = x;
        if x != NIL {
            self.prev[x] = p;
        }
    }

    fn relink(&mut self, n: usize) {
        let (p, x) = (self.prev[n], self.next[n]);
        self.next[p] = n;
        if x != NIL {
            self.prev[x] = n;
        }
    }

    /// Removes a call and its return.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if self.ret_of[call] != NIL {
            self.unlink(self.ret_of[call]);
        }
    }

    fn unlift(&mut self, call: usize) {
        if self.ret_of[call] != NIL {
            self.relink(self.ret_of[call]);
        }
        self.relink(call);
    }
}

/// Checks one partition. Returns the outcome and the number of search steps taken.
pub fn check<M: Model>(model: &M, ops: &[LinOp<M::Op>], budget: &Budget) -> (Outcome, u64) {
    let started = Instant::now();
    let mut ev = Events::build(ops);
    let mut required = ops.iter().filter(|o| o.ret.is_some()).count();
    let mut linearized = Bits::new(ops.len());
    let mut cache: HashSet<(Bits, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    let mut entry = ev.next[HEAD];
    let mut steps: u64 = 0;
    let mut best: (usize, Vec<u64>, u64) = (0, Vec::new(), 0);
    loop {
        if required == 0 {
            let order = stack.iter().map(|(n, _)| ops[ev.op[*n]].id).collect();
            return (Outcome::Linearizable { order }, steps);
        }
        steps += 1;
        if steps > budget.max_steps {
            return (
                Outcome::Unknown {
                    reason: format!("step budget {} exhausted", budget.max_steps),
                },
                steps,
            );
        }
        if steps.is_multiple_of(4096) && started.elapsed() > budget.max_time {
            return (
                Outcome::Unknown {
                    reason: format!("time budget {:?} exhausted", budget.max_time),
                },
                steps,
            );
        }
        if entry != NIL && ev.is_call[entry] {
            let i = ev.op[entry];
            if let Some(next_state) = model.step(&state, &ops[i].op) {
                linearized.set(i);
                if cache.insert((linearized.clone(), next_state.clone())) {
                    stack.push((entry, std::mem::replace(&mut state, next_state)));
                    if ops[i].ret.is_some() {
                        required -= 1;
                    }
                    ev.lift(entry);
                    entry = ev.next[HEAD];
                    continue;
                }
                linearized.clear(i);
            }
            entry = ev.next[entry];
        } else {
            // A return whose operation is not yet linearized (or the end of the list, which
            // cannot be reached while a required op remains): backtrack.
            if entry != NIL && stack.len() >= best.0 {
                best = (
                    stack.len(),
                    stack.iter().map(|(n, _)| ops[ev.op[*n]].id).collect(),
                    ops[ev.op[entry]].id,
                );
            }
            let Some((call, prev_state)) = stack.pop() else {
                return (
                    Outcome::NotLinearizable {
                        longest_prefix: best.1,
                        stuck: best.2,
                    },
                    steps,
                );
            };
            let i = ev.op[call];
            state = prev_state;
            linearized.clear(i);
            if ops[i].ret.is_some() {
                required += 1;
            }
            ev.unlift(call);
            entry = ev.next[call];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counter that can only be incremented and read, to test the search apart from the
    /// register model.
    struct Counter;
    #[derive(Debug)]
    enum C {
        Inc,
        Read(u32),
    }
    impl Model for Counter {
        type State = u32;
        type Op = C;
        fn init(&self) -> u32 {
            0
        }
        fn step(&self, s: &u32, op: &C) -> Option<u32> {
            match op {
                C::Inc => Some(s + 1),
                C::Read(v) => (v == s).then_some(*s),
            }
        }
    }

    fn op(id: u64, call: u64, ret: Option<u64>, op: C) -> LinOp<C> {
        LinOp { id, call, ret, op }
    }

    #[test]
    fn concurrent_reads_may_see_either_side() {
        let h = [
            op(0, 0, Some(10), C::Inc),
            op(1, 1, Some(2), C::Read(1)),
            op(2, 3, Some(4), C::Read(0)),
        ];
        // read 1 then read 0 without any decrement: impossible.
        let (o, _) = check(&Counter, &h, &Budget::default());
        assert!(matches!(o, Outcome::NotLinearizable { .. }), "{o:?}");
        let h = [
            op(0, 0, Some(10), C::Inc),
            op(1, 1, Some(2), C::Read(0)),
            op(2, 3, Some(4), C::Read(1)),
        ];
        let (o, _) = check(&Counter, &h, &Budget::default());
        assert_eq!(
            o,
            Outcome::Linearizable {
                order: vec![1, 0, 2]
            }
        );
    }

    #[test]
    fn info_ops_are_optional_and_open_ended() {
        // An info increment invoked before a read that sees 1: fine. Seen 2: impossible.
        let h = [op(0, 0, None, C::Inc), op(1, 5, Some(6), C::Read(1))];
        assert!(matches!(
            check(&Counter, &h, &Budget::default()).0,
            Outcome::Linearizable { .. }
        ));
        let h = [op(0, 0, None, C::Inc), op(1, 5, Some(6), C::Read(0))];
        assert!(matches!(
            check(&Counter, &h, &Budget::default()).0,
            Outcome::Linearizable { .. }
        ));
        let h = [op(0, 0, None, C::Inc), op(1, 5, Some(6), C::Read(2))];
        assert!(matches!(
            check(&Counter, &h, &Budget::default()).0,
            Outcome::NotLinearizable { stuck: 1, .. }
        ));
        // An info op cannot take effect before it was invoked.
        let h = [op(0, 0, Some(1), C::Read(1)), op(1, 5, None, C::Inc)];
        assert!(matches!(
            check(&Counter, &h, &Budget::default()).0,
            Outcome::NotLinearizable { .. }
        ));
    }

    #[test]
    fn budget_exhaustion_is_unknown_not_valid() {
        // Many concurrent increments and a read of their count: linearizable, but not within 5
        // steps.
        let mut h: Vec<LinOp<C>> = (0..12).map(|i| op(i, 0, Some(100), C::Inc)).collect();
        h.push(op(12, 0, Some(100), C::Read(12)));
        let tiny = Budget {
            max_steps: 5,
            max_time: Duration::from_secs(10),
        };
        assert!(matches!(
            check(&Counter, &h, &tiny).0,
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            check(&Counter, &h, &Budget::default()).0,
            Outcome::Linearizable { .. }
        ));
    }
}
