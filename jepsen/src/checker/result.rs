//! What a checker answers: a verdict (`true`, `false` or `"unknown"`, as Jepsen writes it), the
//! anomalies that justify a `false`, and counts.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A checker's verdict. `Unknown` means the checker could not decide (budget exceeded, not
/// enough data) and is never reported as `Valid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    Valid,
    Invalid,
    Unknown,
}

impl Validity {
    /// `Invalid` beats `Unknown` beats `Valid`.
    pub fn merge(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "true",
            Validity::Invalid => "false",
            Validity::Unknown => "unknown",
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(Validity::Valid),
            Value::Bool(false) => Ok(Validity::Invalid),
            Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!("bad verdict {other}"))),
        }
    }
}

/// One thing that is wrong (or, with `Validity::Unknown` checkers, undecided), with the history
/// indexes of the operations that show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Short kebab-case name: `nonlinearizable`, `stale-bmc-command`, `lost-ack`, …
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// History indexes (invocations) of the operations involved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<u64>,
    /// Indexes in `bmc.jsonl` of the BMC requests involved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bmc: Vec<u64>,
    /// Run time (ns) the anomaly is anchored at, for the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    pub message: String,
}

impl Anomaly {
    pub fn new(kind: &str, message: impl Into<String>) -> Anomaly {
        Anomaly {
            kind: kind.to_string(),
            key: None,
            ops: Vec::new(),
            bmc: Vec::new(),
            time: None,
            message: message.into(),
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> Anomaly {
        self.key = Some(key.into());
        self
    }

    pub fn ops(mut self, ops: Vec<u64>) -> Anomaly {
        self.ops = ops;
        self
    }

    pub fn bmc(mut self, events: Vec<u64>) -> Anomaly {
        self.bmc = events;
        self
    }

    pub fn at(mut self, time: u64) -> Anomaly {
        self.time = Some(time);
        self
    }
}

/// One checker's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub checker: String,
    pub valid: Validity,
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
    #[serde(default)]
    pub stats: Map<String, Value>,
}

/// At most this many anomalies are kept per checker (the rest are counted in the stat
/// `anomalies-not-kept`), so a run that goes badly wrong still has a readable report.
pub const MAX_ANOMALIES: usize = 200;

impl CheckResult {
    pub fn new(checker: &str) -> CheckResult {
        CheckResult {
            checker: checker.to_string(),
            valid: Validity::Valid,
            anomalies: Vec::new(),
            stats: Map::new(),
        }
    }

    /// Records an anomaly and makes the verdict `Invalid`.
    pub fn fail(&mut self, anomaly: Anomaly) {
        self.valid = Validity::Invalid;
        self.keep(anomaly);
    }

    fn keep(&mut self, anomaly: Anomaly) {
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(anomaly);
            return;
        }
        let dropped = self
            .stats
            .get("anomalies-not-kept")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        self.stat("anomalies-not-kept", dropped + 1);
    }

    /// Records why the checker cannot decide; the verdict becomes `Unknown` unless already
    /// `Invalid`.
    pub fn unknown(&mut self, anomaly: Anomaly) {
        self.valid = self.valid.merge(Validity::Unknown);
        self.keep(anomaly);
    }

    pub fn stat(&mut self, name: &str, value: impl Into<Value>) {
        self.stats.insert(name.to_string(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_serialise_like_jepsen_and_merge_pessimistically() {
        assert_eq!(serde_json::to_string(&Validity::Valid).unwrap(), "true");
        assert_eq!(
            serde_json::to_string(&Validity::Unknown).unwrap(),
            "\"unknown\""
        );
        assert_eq!(
            serde_json::from_str::<Validity>("false").unwrap(),
            Validity::Invalid
        );
        assert_eq!(Validity::Valid.merge(Validity::Unknown), Validity::Unknown);
        assert_eq!(
            Validity::Unknown.merge(Validity::Invalid),
            Validity::Invalid
        );
        let mut r = CheckResult::new("x");
        r.unknown(Anomaly::new("budget", "too big"));
        assert_eq!(r.valid, Validity::Unknown);
        r.fail(Anomaly::new("bad", "bad"));
        r.unknown(Anomaly::new("budget", "too big"));
        assert_eq!(r.valid, Validity::Invalid);
        for _ in 0..MAX_ANOMALIES + 5 {
            r.fail(Anomaly::new("bad", "bad"));
        }
        assert_eq!(r.anomalies.len(), MAX_ANOMALIES);
        assert_eq!(r.stats["anomalies-not-kept"], serde_json::json!(8));
    }
}
