//! One line of `history.jsonl`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// What a history line records: an invocation or one of the three completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Invoke,
    /// Definitely happened.
    Ok,
    /// Definitely did not happen.
    Fail,
    /// Unknown: may have happened at any time after the invocation, or never.
    Info,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Invoke => "invoke",
            OpKind::Ok => "ok",
            OpKind::Fail => "fail",
            OpKind::Info => "info",
        }
    }
}

/// Who performed an operation: a logical client process, or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .map(Process::Client)
                .ok_or_else(|| serde::de::Error::custom("process must be a non-negative integer")),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!("bad process {other}"))),
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// One operation event. `time` is nanoseconds since the run started on the harness's monotonic
/// clock (the time base of every file in a run dir); `wall` is nanoseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, from 0.
    pub index: u64,
    #[serde(rename = "type")]
    pub kind: OpKind,
    /// The operation's function: `read`, `write`, `cas`, `power`, `provision`, `kill`, …
    pub f: String,
    /// The key the operation is about (register key, node uuid); checkers partition by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub value: Value,
    pub process: Process,
    pub time: u64,
    #[serde(default)]
    pub wall: u64,
    /// The member the request went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// On completions: `time` of the completion minus `time` of the invocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// A bare operation for tests and builders; index and times are the caller's.
    pub fn new(index: u64, kind: OpKind, process: Process, f: &str, time: u64) -> Op {
        Op {
            index,
            kind,
            f: f.to_string(),
            key: None,
            value: Value::Null,
            process,
            time,
            wall: 0,
            node: None,
            latency_ns: None,
            error: None,
        }
    }

    pub fn with_key(mut self, key: &str) -> Op {
        self.key = Some(key.to_string());
        self
    }

    pub fn with_value(mut self, value: Value) -> Op {
        self.value = value;
        self
    }

    pub fn with_node(mut self, node: &str) -> Op {
        self.node = Some(node.to_string());
        self
    }

    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn op_round_trips_with_jepsen_field_names() {
        let op = Op::new(3, OpKind::Ok, Process::Client(7), "cas", 1_000)
            .with_key("n1/k")
            .with_value(json!([1, 2]))
            .with_node("m2");
        let line = serde_json::to_string(&op).unwrap();
        assert!(line.contains(r#""type":"ok""#), "{line}");
        assert!(line.contains(r#""process":7"#), "{line}");
        let back: Op = serde_json::from_str(&line).unwrap();
        assert_eq!(back, op);
        let nem = Op::new(4, OpKind::Info, Process::Nemesis, "kill", 5);
        let line = serde_json::to_string(&nem).unwrap();
        assert!(line.contains(r#""process":"nemesis""#), "{line}");
        assert_eq!(serde_json::from_str::<Op>(&line).unwrap(), nem);
        assert!(serde_json::from_str::<Op>(&line.replace("\"nemesis\"", "\"x\"")).is_err());
    }
}
