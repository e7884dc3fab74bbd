//! Partitions as grudges: the set of directed links (`src → dst`) that are cut. Builders for
//! Jepsen's shapes: halves, isolate one, majority/minority, one-way, majorities-ring, bridge.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Which shape of partition to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Two halves (the smaller one a minority).
    Halves,
    /// One member cut off from every other, both ways.
    IsolateOne,
    /// A random minority cut from the majority.
    MajorityMinority,
    /// One directed link cut, the reverse left up.
    OneWay,
    /// Every member sees a majority, no two see the same one.
    MajoritiesRing,
    /// Two halves and one member that sees both.
    Bridge,
}

impl Shape {
    pub const ALL: [Shape; 6] = [
        Shape::Halves,
        Shape::IsolateOne,
        Shape::MajorityMinority,
        Shape::OneWay,
        Shape::MajoritiesRing,
        Shape::Bridge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Halves => "halves",
            Shape::IsolateOne => "isolate-one",
            Shape::MajorityMinority => "majority-minority",
            Shape::OneWay => "one-way",
            Shape::MajoritiesRing => "majorities-ring",
            Shape::Bridge => "bridge",
        }
    }
}

/// Directed links that are cut, by member index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grudge {
    pub cut: BTreeSet<(usize, usize)>,
}

impl Grudge {
    pub fn none() -> Grudge {
        Grudge::default()
    }

    /// Cuts every link between members of different components, both ways. Members in no
    /// component keep all their links.
    pub fn components(components: &[Vec<usize>]) -> Grudge {
        let mut cut = BTreeSet::new();
        for (i, a) in components.iter().enumerate() {
            for (j, b) in components.iter().enumerate() {
                if i != j {
                    for &x in a {
                        for &y in b {
                            cut.insert((x, y));
                        }
                    }
                }
            }
        }
        Grudge { cut }
    }

    /// `order` is a permutation of the members (the caller shuffles with the run's seed).
    /// The first `n / 2` members form the minority half.
    pub fn halves(order: &[usize]) -> Grudge {
        let (a, b) = order.split_at(order.len() / 2);
        Grudge::components(&[a.to_vec(), b.to_vec()])
    }

    pub fn isolate(n: usize, member: usize) -> Grudge {
        Grudge::components(&[vec![member], (0..n).filter(|&i| i != member).collect()])
    }

    /// `order[..minority]` is cut from the rest; `minority < n/2 + 1`.
    pub fn majority_minority(order: &[usize], minority: usize) -> Grudge {
        assert!(
            minority <= (order.len() - 1) / 2,
            "minority of {minority} in {}",
            order.len()
        );
        let (a, b) = order.split_at(minority);
        Grudge::components(&[a.to_vec(), b.to_vec()])
    }

    pub fn one_way(src: usize, dst: usize) -> Grudge {
        Grudge {
            cut: BTreeSet::from([(src, dst)]),
        }
    }

    /// Members arranged on a ring (`order`); each keeps links to the neighbours within distance
    /// `k`, the smallest such that it sees a majority (itself included). For 5 members: each
    /// sees its two neighbours, Jepsen's "perfect" majorities ring.
    pub fn majorities_ring(order: &[usize]) -> Grudge {
        let n = order.len();
        let majority = n / 2 + 1;
        let k = (majority - 1).div_ceil(2);
        let mut cut = BTreeSet::new();
        for i in 0..n {
            for j in 0..n {
                let d = (i as isize - j as isize).rem_euclid(n as isize) as usize;
                let dist = d.min(n - d);
                if i != j && dist > k {
                    cut.insert((order[i], order[j]));
                }
            }
        }
        Grudge { cut }
    }

    /// `order[0]` is the bridge; the others split in two halves that only the bridge joins.
    pub fn bridge(order: &[usize]) -> Grudge {
        let rest = &order[1..];
        let (a, b) = rest.split_at(rest.len() / 2);
        Grudge::components(&[a.to_vec(), b.to_vec()])
    }

    pub fn is_cut(&self, src: usize, dst: usize) -> bool {
        self.cut.contains(&(src, dst))
    }

    /// Who `member` can still send to (itself excluded).
    pub fn reachable_from(&self, n: usize, member: usize) -> Vec<usize> {
        (0..n)
            .filter(|&j| j != member && !self.is_cut(member, j))
            .collect()
    }

    /// `m1→m3 m3→m1 …` with member names.
    pub fn describe(&self, names: &[String]) -> String {
        if self.cut.is_empty() {
            return "no cut".into();
        }
        self.cut
            .iter()
            .map(|(a, b)| format!("{}→{}", names[*a], names[*b]))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_and_isolation_cut_both_ways() {
        let g = Grudge::halves(&[2, 0, 1]);
        assert!(g.is_cut(2, 0) && g.is_cut(0, 2) && g.is_cut(2, 1) && g.is_cut(1, 2));
        assert!(!g.is_cut(0, 1));
        assert_eq!(
            Grudge::isolate(3, 1),
            g_of(&[(1, 0), (0, 1), (1, 2), (2, 1)])
        );
        let mm = Grudge::majority_minority(&[4, 3, 0, 1, 2], 2);
        assert_eq!(mm.reachable_from(5, 4), vec![3]);
        assert_eq!(mm.reachable_from(5, 0), vec![1, 2]);
    }

    fn g_of(links: &[(usize, usize)]) -> Grudge {
        Grudge {
            cut: links.iter().copied().collect(),
        }
    }

    #[test]
    fn one_way_cuts_one_direction() {
        let g = Grudge::one_way(0, 2);
        assert!(g.is_cut(0, 2) && !g.is_cut(2, 0));
    }

    #[test]
    fn majorities_ring_of_five_sees_exactly_the_two_neighbours() {
        let g = Grudge::majorities_ring(&[0, 1, 2, 3, 4]);
        assert_eq!(g.reachable_from(5, 0), vec![1, 4]);
        assert_eq!(g.reachable_from(5, 2), vec![1, 3]);
        // No two members see the same majority.
        let views: BTreeSet<Vec<usize>> = (0..5)
            .map(|i| {
                let mut v = g.reachable_from(5, i);
                v.push(i);
                v.sort();
                v
            })
            .collect();
        assert_eq!(views.len(), 5);
        assert_eq!(g.cut.len(), 10, "pairs 1-3,1-4,2-4,2-5,3-5 both ways");
    }

    #[test]
    fn bridge_sees_both_halves() {
        let g = Grudge::bridge(&[2, 0, 1, 3, 4]);
        assert_eq!(g.reachable_from(5, 2), vec![0, 1, 3, 4]);
        assert_eq!(g.reachable_from(5, 0), vec![1, 2]);
        assert_eq!(g.reachable_from(5, 4), vec![2, 3]);
    }

    #[test]
    fn describe_uses_names() {
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(Grudge::one_way(1, 0).describe(&names), "b→a");
    }
}
