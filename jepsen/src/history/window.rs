//! Fault windows: the spans between a nemesis `begin` and its `end`, for the report's shading
//! and for checkers that need to know when faults were healed.
//!
//! A nemesis op's value carries `{"fault": kind, "phase": "begin"|"end"|"instant", "id": n}`
//! plus details; `begin` and `end` with the same `id` bound one window.

use super::{Op, Process};
use serde_json::Value;
use std::borrow::Borrow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    pub id: u64,
    pub fault: String,
    /// Human text: the fault and its target.
    pub label: String,
    pub start: u64,
    /// `None` when the run ended with the fault still on.
    pub end: Option<u64>,
}

/// Every window in order of start.
pub fn fault_windows<O: Borrow<Op>>(history: &[O]) -> Vec<FaultWindow> {
    let mut open: BTreeMap<u64, FaultWindow> = BTreeMap::new();
    let mut out = Vec::new();
    for op in history.iter().map(|o| o.borrow()).filter(|o| o.process == Process::Nemesis) {
        let fault = op
            .value
            .get("fault")
            .and_then(Value::as_str)
            .unwrap_or(&op.f)
            .to_string();
        // Ops without an id (instants) get one outside the schedule's range.
        let id = op
            .value
            .get("id")
            .and_then(Value::as_u64)
            .unwrap_or(u64::from(u32::MAX) + op.index);
        let label = op
            .value
            .get("label")
            .and_then(Value::as_str)
            .map_or_else(|| fault.clone(), str::to_string);
        match op
            .value
            .get("phase")
            .and_then(Value::as_str)
            .unwrap_or("instant")
        {
            "begin" => {
                open.insert(
                    id,
                    FaultWindow {
                        id,
                        fault,
                        label,
                        start: op.time,
                        end: None,
                    },
                );
            }
            "end" => {
                if let Some(mut w) = open.remove(&id) {
                    w.end = Some(op.time);
                    out.push(w);
                }
            }
            _ => out.push(FaultWindow {
                id,
                fault,
                label,
                start: op.time,
                end: Some(op.time),
            }),
        }
    }
    out.extend(open.into_values());
    out.sort_by_key(|w| (w.start, w.id));
    out
}

/// When the faults were finally healed: the last `heal-all` nemesis op, else the end of the last
/// fault window (`None` without faults).
pub fn final_heal_time<O: Borrow<Op>>(history: &[O]) -> Option<u64> {
    if let Some(op) = history
        .iter()
        .rev()
        .map(|o| o.borrow())
        .find(|o| o.process == Process::Nemesis && o.f == "heal-all")
    {
        return Some(op.time);
    }
    fault_windows(history)
        .iter()
        .map(|w| w.end.unwrap_or(u64::MAX))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpKind;
    use serde_json::json;

    #[test]
    fn matches_begin_and_end_by_id() {
        let n = |i, t, v| Op::new(i, OpKind::Info, Process::Nemesis, "nemesis", t).with_value(v);
        let h = vec![
            n(
                0,
                10,
                json!({"fault": "partition", "phase": "begin", "id": 1, "label": "halves"}),
            ),
            n(1, 15, json!({"fault": "kill", "phase": "begin", "id": 2})),
            n(
                2,
                20,
                json!({"fault": "partition", "phase": "end", "id": 1}),
            ),
            n(
                3,
                25,
                json!({"fault": "member-add", "phase": "instant", "id": 3}),
            ),
        ];
        let w = fault_windows(&h);
        assert_eq!(w.len(), 3);
        assert_eq!(
            (w[0].label.as_str(), w[0].start, w[0].end),
            ("halves", 10, Some(20))
        );
        assert_eq!((w[1].fault.as_str(), w[1].end), ("kill", None));
        assert_eq!(w[2].end, Some(25));
        assert_eq!(
            final_heal_time(&h),
            Some(u64::MAX),
            "the kill was never healed"
        );
        let mut h2 = h.clone();
        h2.insert(3, n(9, 22, json!({"fault": "heal", "phase": "instant"})));
        h2[3].f = "heal-all".into();
        assert_eq!(final_heal_time(&h2), Some(22));
    }
}
