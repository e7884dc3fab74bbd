//! Cross-check: our WGL register checker and `stateright`'s `LinearizabilityTester` agree on
//! small random concurrent histories whenever ours does not answer `unknown`.
//!
//! Histories are generated as an interleaving of events of a few threads on one register with a
//! tiny value domain; returned values are random, so both linearizable and non-linearizable
//! histories come out. A thread whose op is left in flight (an `info`) is retired, as in the
//! harness.

use ferric_jepsen::checker::wgl::{self, Budget, LinOp, Outcome};
use ferric_jepsen::checker::{CasRegister, RegOp, RegValue};
use proptest::prelude::*;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

/// The same register as a stateright sequential spec.
#[derive(Clone, Debug, Default, PartialEq)]
struct SrRegister(RegValue);

#[derive(Clone, Debug, PartialEq)]
enum SrOp {
    Read,
    Write(i64),
    Cas(RegValue, i64),
}

#[derive(Clone, Debug, PartialEq)]
enum SrRet {
    Read(RegValue),
    WriteOk,
    CasOk,
    CasFail,
}

impl SequentialSpec for SrRegister {
    type Op = SrOp;
    type Ret = SrRet;
    fn invoke(&mut self, op: &SrOp) -> SrRet {
        match op {
            SrOp::Read => SrRet::Read(self.0),
            SrOp::Write(v) => {
                self.0 = Some(*v);
                SrRet::WriteOk
            }
            SrOp::Cas(old, new) => {
                if self.0 == *old {
                    self.0 = Some(*new);
                    SrRet::CasOk
                } else {
                    SrRet::CasFail
                }
            }
        }
    }
}

/// One generated operation: what the thread does and how it ends.
#[derive(Clone, Debug)]
struct GenOp {
    kind: u8,     // 0 read, 1 write, 2 cas
    a: i64,       // read result / written value / cas old
    b: i64,       // cas new
    a_none: bool, // read of absent / cas expecting absent
    ends: u8,     // 0..=6 ok, 7 info (in flight forever)
}

fn gen_op() -> impl Strategy<Value = GenOp> {
    (
        0u8..3,
        0i64..3,
        0i64..3,
        proptest::bool::weighted(0.2),
        0u8..8,
    )
        .prop_map(|(kind, a, b, a_none, ends)| GenOp {
            kind,
            a,
            b,
            a_none,
            ends,
        })
}

/// Events: (thread, op) lists per thread and an interleaving of invoke/return steps.
fn gen_history() -> impl Strategy<Value = (Vec<Vec<GenOp>>, Vec<usize>)> {
    (2usize..=4).prop_flat_map(|threads| {
        (
            proptest::collection::vec(proptest::collection::vec(gen_op(), 1..=3), threads),
            proptest::collection::vec(0usize..threads, 0..40),
        )
    })
}

struct Built {
    ours: Vec<LinOp<RegOp>>,
    theirs: LinearizabilityTester<usize, SrRegister>,
}

/// Replays the schedule: each pick of thread t advances t by one event (invoke, or return of the
/// op in flight). A thread whose op ends `info` stops after invoking it.
fn build(threads: &[Vec<GenOp>], schedule: &[usize]) -> Built {
    let mut theirs = LinearizabilityTester::new(SrRegister(None));
    let mut ours = Vec::new();
    let mut pos = vec![0usize; threads.len()];
    let mut in_flight: Vec<Option<(usize, u64)>> = vec![None; threads.len()];
    let mut done = vec![false; threads.len()];
    let mut t_now = 0u64;
    let all_steps = schedule
        .iter()
        .copied()
        .chain((0..threads.len()).flat_map(|t| std::iter::repeat_n(t, 8)));
    for t in all_steps {
        if done[t] {
            continue;
        }
        t_now += 1;
        match in_flight[t].take() {
            None => {
                if pos[t] >= threads[t].len() {
                    done[t] = true;
                    continue;
                }
                let g = &threads[t][pos[t]];
                let a = if g.a_none { None } else { Some(g.a) };
                let op = match g.kind {
                    0 => SrOp::Read,
                    1 => SrOp::Write(g.a),
                    _ => SrOp::Cas(a, g.b),
                };
                theirs.on_invoke(t, op).unwrap();
                in_flight[t] = Some((pos[t], t_now));
                if g.ends == 7 {
                    // info: never returns; the thread is retired.
                    let our = match g.kind {
                        0 => None, // an info read is dropped by our checker; stateright may place it anywhere
                        1 => Some(RegOp::Write(g.a)),
                        _ => Some(RegOp::Cas(a, g.b)),
                    };
                    if let Some(op) = our {
                        ours.push(LinOp {
                            id: ours.len() as u64,
                            call: t_now,
                            ret: None,
                            op,
                        });
                    }
                    done[t] = true;
                }
            }
            Some((i, call)) => {
                let g = &threads[t][i];
                let a = if g.a_none { None } else { Some(g.a) };
                let (ret, op) = match g.kind {
                    0 => (SrRet::Read(a), RegOp::Read(a)),
                    1 => (SrRet::WriteOk, RegOp::Write(g.a)),
                    _ => (SrRet::CasOk, RegOp::Cas(a, g.b)),
                };
                theirs.on_return(t, ret).unwrap();
                ours.push(LinOp {
                    id: ours.len() as u64,
                    call,
                    ret: Some(t_now),
                    op,
                });
                pos[t] += 1;
            }
        }
    }
    Built { ours, theirs }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn wgl_agrees_with_stateright((threads, schedule) in gen_history()) {
        let built = build(&threads, &schedule);
        let budget = Budget { max_steps: 200_000, max_time: std::time::Duration::from_secs(5) };
        let (outcome, _) = wgl::check(&CasRegister { init: None }, &built.ours, &budget);
        let theirs = built.theirs.is_consistent();
        match outcome {
            Outcome::Unknown { .. } => {}
            Outcome::Linearizable { .. } => prop_assert!(theirs, "ours: linearizable, stateright: not; {:?}", built.ours),
            Outcome::NotLinearizable { .. } => prop_assert!(!theirs, "ours: not linearizable, stateright: is; {:?}", built.ours),
        }
    }
}

/// Both verdicts occur in the generated population (the property above is not vacuous).
#[test]
fn generator_produces_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut yes, mut no) = (0, 0);
    for _ in 0..500 {
        let (threads, schedule) = gen_history().new_tree(&mut runner).unwrap().current();
        if build(&threads, &schedule).theirs.is_consistent() {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes > 50 && no > 50, "linearizable {yes}, not {no}");
}
