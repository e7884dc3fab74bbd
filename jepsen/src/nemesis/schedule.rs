//! The fault schedule: derived entirely from one seed and the profile, so a printed seed (with the
//! commit and flags) replays the same faults at the same offsets. Faults do not overlap: each one
//! is applied, held, healed, and followed by a quiet gap.

use super::{Grudge, LinkRule, Shape};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A class of fault the schedule may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FaultClass {
    Partition,
    Kill,
    Pause,
    Clock,
    Member,
    Delay,
    Loss,
    /// `kill -9` of every member at the same moment (what is only in memory is gone).
    KillAll,
    /// SIGSTOP of a member while the fake BMC holds the first request of its action.
    PauseAction,
}

impl FaultClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultClass::Partition => "partition",
            FaultClass::Kill => "kill",
            FaultClass::Pause => "pause",
            FaultClass::Clock => "clock",
            FaultClass::Member => "member",
            FaultClass::Delay => "delay",
            FaultClass::Loss => "loss",
            FaultClass::KillAll => "kill-all",
            FaultClass::PauseAction => "pause-action",
        }
    }
}

/// One concrete fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "fault")]
pub enum Fault {
    Partition {
        shape: Shape,
        grudge: Grudge,
        rule: LinkRule,
    },
    /// `kill -9`, restarted when the fault ends.
    Kill {
        member: usize,
    },
    /// SIGSTOP, SIGCONT when the fault ends.
    Pause {
        member: usize,
    },
    /// Every member `kill -9`ed together, all restarted when the fault ends.
    KillAll,
    /// SIGSTOP of whichever member the fake BMC catches starting an action (the first request
    /// under a new lock generation, held by the BMC until the signal has landed); `member` if
    /// none starts one soon. SIGCONT when the fault ends.
    PauseAction {
        member: usize,
    },
    /// Wall clock of one member moved by `offset_ms`, reset when the fault ends.
    Clock {
        member: usize,
        offset_ms: i64,
    },
    /// Member removed from the cluster (kept running with its data), re-added when the fault ends.
    Member {
        member: usize,
    },
    Delay {
        src: usize,
        dst: usize,
        ms: u64,
    },
    Loss {
        src: usize,
        dst: usize,
        percent: u8,
    },
}

impl Fault {
    pub fn class(&self) -> FaultClass {
        match self {
            Fault::Partition { .. } => FaultClass::Partition,
            Fault::Kill { .. } => FaultClass::Kill,
            Fault::Pause { .. } => FaultClass::Pause,
            Fault::Clock { .. } => FaultClass::Clock,
            Fault::Member { .. } => FaultClass::Member,
            Fault::Delay { .. } => FaultClass::Delay,
            Fault::Loss { .. } => FaultClass::Loss,
            Fault::KillAll => FaultClass::KillAll,
            Fault::PauseAction { .. } => FaultClass::PauseAction,
        }
    }

    /// Short text for the report, with member names.
    pub fn label(&self, names: &[String]) -> String {
        match self {
            Fault::Partition { shape, grudge, .. } => {
                format!("partition {} ({})", shape.as_str(), grudge.describe(names))
            }
            Fault::Kill { member } => format!("kill -9 {}", names[*member]),
            Fault::Pause { member } => format!("pause {}", names[*member]),
            Fault::KillAll => "kill -9 all".to_string(),
            Fault::PauseAction { member } => {
                format!("pause mid-action (else {})", names[*member])
            }
            Fault::Clock { member, offset_ms } => {
                format!("clock {} {:+} ms", names[*member], offset_ms)
            }
            Fault::Member { member } => format!("remove {}", names[*member]),
            Fault::Delay { src, dst, ms } => {
                format!("delay {}→{} {ms} ms", names[*src], names[*dst])
            }
            Fault::Loss { src, dst, percent } => {
                format!("loss {}→{} {percent}%", names[*src], names[*dst])
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Offset from the start of the fault phase.
    pub at_ms: u64,
    pub hold_ms: u64,
    pub fault: Fault,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleConfig {
    pub members: usize,
    /// Length of the fault phase.
    pub duration_ms: u64,
    /// Quiet gap after each heal.
    pub interval_ms: u64,
    pub hold_min_ms: u64,
    pub hold_max_ms: u64,
    pub classes: Vec<FaultClass>,
    /// Classes that must occur at least once (if they fit).
    pub required: Vec<FaultClass>,
    pub max_clock: usize,
    pub max_member: usize,
    pub shapes: Vec<Shape>,
}

fn concrete(class: FaultClass, cfg: &ScheduleConfig, rng: &mut ChaCha8Rng) -> Fault {
    let n = cfg.members;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let one = order[0];
    match class {
        FaultClass::Partition => {
            let usable: Vec<Shape> = cfg
                .shapes
                .iter()
                .copied()
                .filter(|s| !matches!(s, Shape::MajoritiesRing | Shape::Bridge) || n >= 5)
                .filter(|s| *s != Shape::MajorityMinority || n >= 3)
                .collect();
            let shape = *usable.choose(rng).unwrap_or(&Shape::IsolateOne);
            let grudge = match shape {
                Shape::Halves => Grudge::halves(&order),
                Shape::IsolateOne => Grudge::isolate(n, one),
                Shape::MajorityMinority => {
                    Grudge::majority_minority(&order, rng.gen_range(1..=(n - 1) / 2))
                }
                Shape::OneWay => Grudge::one_way(order[0], order[1 % n]),
                Shape::MajoritiesRing => Grudge::majorities_ring(&order),
                Shape::Bridge => Grudge::bridge(&order),
            };
            let rule = if rng.gen_bool(0.7) {
                LinkRule::Blackhole
            } else {
                LinkRule::Reset
            };
            Fault::Partition {
                shape,
                grudge,
                rule,
            }
        }
        FaultClass::Kill => Fault::Kill { member: one },
        FaultClass::Pause => Fault::Pause { member: one },
        FaultClass::KillAll => Fault::KillAll,
        FaultClass::PauseAction => Fault::PauseAction { member: one },
        FaultClass::Clock => {
            let mag = rng.gen_range(5_000..=120_000i64);
            Fault::Clock {
                member: one,
                offset_ms: if rng.gen_bool(0.5) { mag } else { -mag },
            }
        }
        FaultClass::Member => Fault::Member { member: one },
        FaultClass::Delay => Fault::Delay {
            src: order[0],
            dst: order[1 % n],
            ms: rng.gen_range(20..=300),
        },
        FaultClass::Loss => Fault::Loss {
            src: order[0],
            dst: order[1 % n],
            percent: rng.gen_range(5..=50),
        },
    }
}

/// Bound on the number of steps, whatever the configuration.
const MAX_STEPS: usize = 10_000;

/// The whole schedule for `seed`.
pub fn schedule(seed: u64, cfg: &ScheduleConfig) -> Vec<Step> {
    assert!(cfg.members >= 1 && cfg.hold_min_ms <= cfg.hold_max_ms);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Slots that fit even if every hold is the longest: the required classes go there.
    let worst = cfg.interval_ms + cfg.hold_max_ms;
    let sure_slots = (cfg.duration_ms.saturating_sub(cfg.interval_ms / 2) / worst.max(1)) as usize;
    let enabled: Vec<FaultClass> = cfg
        .classes
        .iter()
        .copied()
        .filter(|c| cfg.members > 1 || !matches!(c, FaultClass::Member))
        .collect();
    let limit = |c: FaultClass| match c {
        FaultClass::Clock => cfg.max_clock,
        FaultClass::Member => cfg.max_member,
        _ => usize::MAX,
    };
    let mut picks: Vec<FaultClass> = cfg
        .required
        .iter()
        .copied()
        .filter(|c| enabled.contains(c) && limit(*c) > 0)
        .collect();
    picks.truncate(sure_slots);
    let pick_more = |picks: &[FaultClass], rng: &mut ChaCha8Rng| -> Option<FaultClass> {
        for _ in 0..64 {
            let c = *enabled.choose(rng)?;
            if picks.iter().filter(|p| **p == c).count() < limit(c) {
                return Some(c);
            }
        }
        None
    };
    while picks.len() < sure_slots {
        let Some(c) = pick_more(&picks, &mut rng) else {
            break;
        };
        picks.push(c);
    }
    picks.shuffle(&mut rng);
    let mut steps = Vec::new();
    let mut t = cfg.interval_ms / 2;
    let mut i = 0;
    // The sure slots, then more while they fit.
    while i < MAX_STEPS {
        let class = match picks.get(i) {
            Some(c) => *c,
            None => match pick_more(&picks, &mut rng) {
                Some(c) => {
                    picks.push(c);
                    c
                }
                None => break,
            },
        };
        i += 1;
        let hold = rng.gen_range(cfg.hold_min_ms..=cfg.hold_max_ms);
        if t + hold > cfg.duration_ms {
            break;
        }
        steps.push(Step {
            at_ms: t,
            hold_ms: hold,
            fault: concrete(class, cfg, &mut rng),
        });
        t += hold + cfg.interval_ms;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(members: usize) -> ScheduleConfig {
        ScheduleConfig {
            members,
            duration_ms: 180_000,
            interval_ms: 5_000,
            hold_min_ms: 2_000,
            hold_max_ms: 10_000,
            classes: vec![
                FaultClass::Partition,
                FaultClass::Kill,
                FaultClass::Pause,
                FaultClass::Clock,
                FaultClass::Member,
            ],
            required: vec![
                FaultClass::Partition,
                FaultClass::Kill,
                FaultClass::Pause,
                FaultClass::Clock,
                FaultClass::Member,
            ],
            max_clock: 1,
            max_member: 1,
            shapes: vec![Shape::Halves, Shape::IsolateOne, Shape::OneWay],
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        assert_eq!(schedule(42, &ci(3)), schedule(42, &ci(3)));
        assert_ne!(schedule(42, &ci(3)), schedule(43, &ci(3)));
    }

    #[test]
    fn ci_profile_has_every_required_class_within_limits_and_time() {
        for seed in 0..200 {
            let s = schedule(seed, &ci(3));
            let count = |c: FaultClass| s.iter().filter(|st| st.fault.class() == c).count();
            for c in ci(3).required {
                assert!(count(c) >= 1, "seed {seed}: no {c:?}");
            }
            assert_eq!(count(FaultClass::Clock), 1, "seed {seed}");
            assert_eq!(count(FaultClass::Member), 1, "seed {seed}");
            let mut end = 0;
            for st in &s {
                assert!(st.at_ms >= end, "seed {seed}: overlapping faults");
                end = st.at_ms + st.hold_ms;
                if let Fault::Partition { shape, .. } = st.fault {
                    assert!(ci(3).shapes.contains(&shape));
                }
            }
            assert!(end <= 180_000);
        }
    }

    #[test]
    fn five_member_shapes_only_with_five() {
        let mut cfg = ci(3);
        cfg.shapes = vec![Shape::MajoritiesRing, Shape::Bridge];
        cfg.classes = vec![FaultClass::Partition];
        for st in schedule(1, &cfg) {
            assert!(matches!(
                st.fault,
                Fault::Partition {
                    shape: Shape::IsolateOne,
                    ..
                }
            ));
        }
        cfg.members = 5;
        assert!(schedule(1, &cfg).iter().all(|st| matches!(
            st.fault,
            Fault::Partition {
                shape: Shape::MajoritiesRing | Shape::Bridge,
                ..
            }
        )));
    }
}
