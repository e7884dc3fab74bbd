//! A set read's value in the history, kept compact.
//!
//! The set workload's read returns every name created so far, so written out in full the reads
//! grow with the square of a run's length (a 40-minute soak: 867 MB of history, 7.5 GB to check).
//! Names are `jepsen-set-<n>` from one counter, and a read is nearly one contiguous run of `n`,
//! so a read is recorded as the ranges of `n`: `{"ranges": "0-17,19,21-400", "other": [...]}`,
//! with any element not of the form `jepsen-set-<n>` (canonical decimal) listed under `other`. Older histories hold the plain JSON list; [`ElemSet::from_value`] reads both,
//! and the history reader turns a plain list into ranges as it loads it.

use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The prefix of the set workload's element names (`workload::set` names nodes with it).
pub const SET_PREFIX: &str = "jepsen-set-";

/// A set of elements: numbered names as sorted, disjoint, non-adjacent inclusive ranges, and any
/// other element as a string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElemSet {
    ranges: Vec<(u64, u64)>,
    other: BTreeSet<String>,
}

/// An element's string form: a JSON string as itself, anything else as its JSON text.
pub fn element_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `n` if `s` is `<SET_PREFIX><n>` with `n` in canonical decimal (no sign, no leading zero).
fn number_of(s: &str) -> Option<u64> {
    let digits = s.strip_prefix(SET_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    digits.parse().ok()
}

impl ElemSet {
    pub fn new() -> ElemSet {
        ElemSet::default()
    }

    pub fn insert(&mut self, e: &str) {
        match number_of(e) {
            Some(n) => self.insert_range(n, n),
            None => {
                self.other.insert(e.to_string());
            }
        }
    }

    fn insert_range(&mut self, lo: u64, hi: u64) {
        match self.ranges.last_mut() {
            // Elements mostly arrive in increasing order: extend the last range or start one.
            Some(last) if lo > last.1 && lo - last.1 == 1 => last.1 = hi,
            Some(last) if lo <= last.1 => {
                let one = ElemSet { ranges: vec![(lo, hi)], other: BTreeSet::new() };
                self.union_with(&one);
            }
            _ => self.ranges.push((lo, hi)),
        }
    }

    pub fn contains(&self, e: &str) -> bool {
        match number_of(e) {
            Some(n) => {
                let i = self.ranges.partition_point(|&(_, hi)| hi < n);
                self.ranges.get(i).is_some_and(|&(lo, _)| lo <= n)
            }
            None => self.other.contains(e),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.other.is_empty()
    }

    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|&(lo, hi)| hi - lo + 1).sum::<u64>() + self.other.len() as u64
    }

    /// Every element as its string: numbered ones in numeric order, then the others.
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        self.ranges
            .iter()
            .flat_map(|&(lo, hi)| (lo..=hi).map(|n| format!("{SET_PREFIX}{n}")))
            .chain(self.other.iter().cloned())
    }

    /// `self ∪= other`.
    pub fn union_with(&mut self, other: &ElemSet) {
        if !other.ranges.is_empty() {
            let mut all: Vec<(u64, u64)> = Vec::with_capacity(self.ranges.len() + other.ranges.len());
            let (mut a, mut b) = (self.ranges.iter().peekable(), other.ranges.iter().peekable());
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(x), Some(y)) if x.0 <= y.0 => a.next(),
                    (Some(_), Some(_)) => b.next(),
                    (Some(_), None) => a.next(),
                    (None, Some(_)) => b.next(),
                    (None, None) => break,
                };
                let &(lo, hi) = next.expect("peeked");
                match all.last_mut() {
                    Some(last) if last.1 == u64::MAX || lo <= last.1 + 1 => last.1 = last.1.max(hi),
                    _ => all.push((lo, hi)),
                }
            }
            self.ranges = all;
        }
        self.other.extend(other.other.iter().cloned());
    }

    /// `self \ other`.
    pub fn difference(&self, other: &ElemSet) -> ElemSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            let mut lo = lo;
            // Skip the ranges of `other` wholly below this one.
            while j < other.ranges.len() && other.ranges[j].1 < lo {
                j += 1;
            }
            let mut k = j;
            let mut done = false;
            while k < other.ranges.len() && other.ranges[k].0 <= hi {
                let (olo, ohi) = other.ranges[k];
                if olo > lo {
                    out.push((lo, olo - 1));
                }
                if ohi >= hi {
                    done = true;
                    break;
                }
                lo = ohi + 1;
                k += 1;
            }
            if !done {
                out.push((lo, hi));
            }
        }
        ElemSet {
            ranges: out,
            other: self.other.difference(&other.other).cloned().collect(),
        }
    }

    /// Reads a set read's value: the compact form, or a plain JSON list of elements (older
    /// histories, and tests). Anything else is the empty set.
    pub fn from_value(v: &Value) -> ElemSet {
        let mut s = ElemSet::new();
        match v {
            Value::Array(items) => {
                for e in items {
                    s.insert(&element_string(e));
                }
            }
            Value::Object(m) if m.contains_key("ranges") => {
                let text = m.get("ranges").and_then(Value::as_str).unwrap_or("");
                for part in text.split(',').filter(|p| !p.is_empty()) {
                    let (lo, hi) = match part.split_once('-') {
                        Some((a, b)) => (a.parse::<u64>(), b.parse::<u64>()),
                        None => (part.parse::<u64>(), part.parse::<u64>()),
                    };
                    let (Ok(lo), Ok(hi)) = (lo, hi) else { continue };
                    if lo > hi {
                        continue;
                    }
                    s.insert_range(lo, hi);
                }
                for e in m.get("other").and_then(Value::as_array).into_iter().flatten() {
                    s.insert(&element_string(e));
                }
            }
            _ => {}
        }
        s
    }

    /// The compact form written to the history.
    pub fn to_value(&self) -> Value {
        let ranges: Vec<String> = self
            .ranges
            .iter()
            .map(|&(lo, hi)| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") })
            .collect();
        let mut v = json!({"ranges": ranges.join(",")});
        if !self.other.is_empty() {
            v["other"] = Value::Array(self.other.iter().map(|e| json!(e)).collect());
        }
        v
    }
}

/// A set read's value made compact; a value that is not a list is returned unchanged.
pub fn compact_set_read(v: Value) -> Value {
    match v {
        Value::Array(_) => ElemSet::from_value(&v).to_value(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(ns: &[u64]) -> Vec<String> {
        ns.iter().map(|n| format!("{SET_PREFIX}{n}")).collect()
    }

    #[test]
    fn a_plain_list_becomes_ranges_and_reads_back() {
        let mut list: Vec<Value> = names(&[3, 0, 1, 2, 7, 9, 8, 5]).into_iter().map(Value::from).collect();
        list.push(json!("zz"));
        list.push(json!("jepsen-set-007"));
        list.push(json!(4));
        let v = compact_set_read(Value::Array(list.clone()));
        assert_eq!(v["ranges"], json!("0-3,5,7-9"));
        assert_eq!(v["other"], json!(["4", "jepsen-set-007", "zz"]));
        let s = ElemSet::from_value(&v);
        assert_eq!(s, ElemSet::from_value(&Value::Array(list)));
        assert!(s.contains("jepsen-set-5") && !s.contains("jepsen-set-4") && s.contains("4"));
        assert!(s.contains("jepsen-set-007") && !s.contains("jepsen-set-6"));
        assert_eq!(s.len(), 11);
        assert_eq!(compact_set_read(json!(null)), json!(null));
        assert!(ElemSet::from_value(&json!({"ranges": "x,5-3,-,"})).is_empty());
    }

    proptest! {
        #[test]
        fn set_algebra_matches_btreeset(
            a in proptest::collection::vec(0u64..60, 0..40),
            b in proptest::collection::vec(0u64..60, 0..40),
            extra in proptest::collection::vec("[a-c]{1,2}", 0..4),
        ) {
            let (mut sa, mut sb) = (ElemSet::new(), ElemSet::new());
            let mut ra: BTreeSet<String> = BTreeSet::new();
            let mut rb: BTreeSet<String> = BTreeSet::new();
            for e in names(&a).into_iter().chain(extra.iter().cloned()) {
                sa.insert(&e);
                ra.insert(e);
            }
            for e in names(&b) {
                sb.insert(&e);
                rb.insert(e);
            }
            let back = ElemSet::from_value(&sa.to_value());
            prop_assert_eq!(&back, &sa);
            let got: BTreeSet<String> = sa.iter().collect();
            prop_assert_eq!(&got, &ra);
            prop_assert_eq!(sa.len(), ra.len() as u64);
            let d: BTreeSet<String> = sa.difference(&sb).iter().collect();
            prop_assert_eq!(d, ra.difference(&rb).cloned().collect::<BTreeSet<_>>());
            let mut u = sa.clone();
            u.union_with(&sb);
            let ru: BTreeSet<String> = ra.union(&rb).cloned().collect();
            prop_assert_eq!(u.iter().collect::<BTreeSet<_>>(), ru.clone());
            // Union keeps the ranges canonical: equal sets, equal representation.
            let mut u2 = sb.clone();
            u2.union_with(&sa);
            prop_assert_eq!(&u, &u2);
            for n in 0..61 {
                let e = format!("{SET_PREFIX}{n}");
                prop_assert_eq!(u.contains(&e), ru.contains(&e));
            }
        }
    }
}
