//! JSON PATCH (RFC 6902) with Ironic's rules (`args.patch`, `apply_jsonpatch`): a list of
//! `add`/`replace`/`remove` operations on paths of word characters, applied one at a time so the
//! error names the failing operation, `add` of a new root attribute refused, RFC 6901 `~0`/`~1`
//! escapes from 1.98. Ferric also accepts `test` (not in Ironic): with `replace` it makes a
//! compare-and-set.

use crate::error::{ApiError, ApiResult};
use crate::pyjson;
use crate::version::Version;
use ferric_model::node::{is_secret_key, MASK};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Replace,
    Remove,
    Test,
}

/// One validated operation.
#[derive(Debug, Clone)]
pub(crate) struct PatchOp {
    pub op: Op,
    /// The path as sent.
    pub path: String,
    /// Decoded segments (RFC 6901 from 1.98).
    pub segments: Vec<String>,
    pub value: Option<Value>,
    /// The operation as sent, for messages (secret values masked).
    shown: Value,
}

impl PatchOp {
    /// The root attribute the operation touches.
    pub fn root(&self) -> &str {
        self.segments.first().map(String::as_str).unwrap_or("")
    }

    /// The value of an `add`/`replace` of exactly `/<field>` (Ironic's `get_patch_values`).
    pub fn sets(&self, field: &str) -> Option<&Value> {
        if matches!(self.op, Op::Add | Op::Replace) && self.segments.len() == 1 && self.segments[0] == field {
            self.value.as_ref()
        } else {
            None
        }
    }

    /// Whether the operation touches `/<field>` or below.
    pub fn touches(&self, field: &str) -> bool {
        self.op != Op::Test && self.root() == field
    }

    pub fn is_remove_of(&self, field: &str) -> bool {
        self.op == Op::Remove && self.segments.len() == 1 && self.segments[0] == field
    }
}

fn schema_error(msg: String) -> ApiError {
    ApiError::invalid(format!("Schema error for patch: {msg}"))
}

const PATH_PATTERN: &str = "^(/[\\\\w-]+)+$";

fn segment_ok(seg: &str, escapes: bool) -> bool {
    if seg.is_empty() {
        return false;
    }
    let mut chars = seg.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            continue;
        }
        if escapes && c == '~' && matches!(chars.peek(), Some('0') | Some('1')) {
            chars.next();
            continue;
        }
        return false;
    }
    true
}

fn decode_segment(seg: &str, escapes: bool) -> String {
    if escapes {
        seg.replace("~1", "/").replace("~0", "~")
    } else {
        seg.to_string()
    }
}

/// Validates a PATCH body against Ironic's patch schema.
pub(crate) fn parse(body: Option<Value>, ver: Version) -> ApiResult<Vec<PatchOp>> {
    let body = body.unwrap_or_else(|| Value::Object(Map::new()));
    let Value::Array(items) = body else {
        return Err(schema_error(format!("{} is not of type 'array'", pyjson::repr(&body))));
    };
    let escapes = ver.at_least(98);
    let mut ops = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(m) = &item else {
            return Err(schema_error(format!("{} is not of type 'object'", pyjson::repr(&item))));
        };
        for k in ["op", "path"] {
            if !m.contains_key(k) {
                return Err(schema_error(format!("'{k}' is a required property")));
            }
        }
        let mut extra: Vec<&String> = m.keys().filter(|k| !matches!(k.as_str(), "op" | "path" | "value")).collect();
        if !extra.is_empty() {
            extra.sort();
            let names: Vec<String> = extra.iter().map(|k| pyjson::repr_str(k)).collect();
            let verb = if names.len() == 1 { "was" } else { "were" };
            return Err(schema_error(format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                names.join(", ")
            )));
        }
        let op = match &m["op"] {
            Value::String(s) => match s.as_str() {
                "add" => Op::Add,
                "replace" => Op::Replace,
                "remove" => Op::Remove,
                "test" => Op::Test,
                other => {
                    return Err(schema_error(format!(
                        "{} is not one of ['add', 'replace', 'remove']",
                        pyjson::repr_str(other)
                    )))
                }
            },
            other => return Err(schema_error(format!("{} is not of type 'string'", pyjson::repr(other)))),
        };
        let path = match &m["path"] {
            Value::String(s) => s.clone(),
            other => return Err(schema_error(format!("{} is not of type 'string'", pyjson::repr(other)))),
        };
        let raw_segments: Vec<&str> = path.split('/').skip(1).collect();
        if !path.starts_with('/') || raw_segments.iter().any(|s| !segment_ok(s, escapes)) {
            return Err(schema_error(format!("{} does not match '{}'", pyjson::repr_str(&path), PATH_PATTERN)));
        }
        let segments: Vec<String> = raw_segments.iter().map(|s| decode_segment(s, escapes)).collect();
        let value = m.get("value").cloned();
        let secret = segments.iter().any(|s| is_secret_key(s));
        if secret && op == Op::Test {
            return Err(ApiError::invalid(format!("Cannot test {path}: secret values can not be compared")));
        }
        let mut shown = item.clone();
        if secret {
            if let Value::Object(sm) = &mut shown {
                if sm.contains_key("value") {
                    sm.insert("value".into(), Value::String(MASK.into()));
                }
            }
        }
        ops.push(PatchOp { op, path, segments, value, shown });
    }
    Ok(ops)
}

/// Ironic's `patch_validate_allowed_fields`. `test` operations only read, so they may name any
/// field the resource shows.
pub(crate) fn check_allowed(ops: &[PatchOp], allowed: &[&str]) -> ApiResult<()> {
    for p in ops.iter().filter(|p| p.op != Op::Test) {
        if !allowed.contains(&p.root()) {
            return Err(ApiError::Model(ferric_model::Error::Invalid {
                message: format!("Cannot patch {}. Only the following can be updated: {}", p.path, allowed.join(", ")),
            }));
        }
    }
    Ok(())
}

/// Why applying failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PatchFailure {
    /// `PatchError` (400).
    Invalid(String),
    /// A `test` operation did not match (409: the compare-and-set lost).
    TestFailed(String),
}

impl From<PatchFailure> for ApiError {
    fn from(f: PatchFailure) -> ApiError {
        match f {
            PatchFailure::Invalid(m) => ApiError::Model(ferric_model::Error::PatchError { message: m }),
            PatchFailure::TestFailed(m) => ApiError::conflict(m),
        }
    }
}

fn failure(op: &PatchOp, reason: &str) -> PatchFailure {
    PatchFailure::Invalid(format!("Couldn't apply patch '{}'. Reason: {reason}", pyjson::repr(&op.shown)))
}

fn parse_index(seg: &str) -> Option<usize> {
    if seg == "0" || (!seg.starts_with('0') && !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit())) {
        seg.parse().ok()
    } else {
        None
    }
}

/// Applies the operations in order to `doc` (the resource's full representation). On error the
/// caller discards `doc`: nothing is written.
pub(crate) fn apply(doc: &mut Map<String, Value>, ops: &[PatchOp]) -> Result<(), PatchFailure> {
    for p in ops {
        if p.op == Op::Add && p.segments.len() == 1 && !doc.contains_key(&p.segments[0]) {
            return Err(PatchFailure::Invalid(format!(
                "Adding a new attribute ({}) to the root of the resource is not allowed",
                p.path
            )));
        }
    }
    for p in ops {
        apply_one(doc, p)?;
    }
    Ok(())
}

fn apply_one(doc: &mut Map<String, Value>, p: &PatchOp) -> Result<(), PatchFailure> {
    let value = match p.op {
        Op::Add | Op::Replace | Op::Test => match &p.value {
            Some(v) => Some(v.clone()),
            None => return Err(failure(p, "The operation does not contain a 'value' member")),
        },
        Op::Remove => None,
    };
    let (last, parents) = match p.segments.split_last() {
        Some(x) => x,
        None => return Err(failure(p, "can't resolve an empty path")),
    };
    // Walk to the parent container.
    let Some(first) = parents.first() else {
        return apply_in_map(doc, last, p, value);
    };
    let mut cur: &mut Value = match doc.get_mut(first) {
        Some(v) => v,
        None => return Err(failure(p, &format!("member {} not found", pyjson::repr_str(first)))),
    };
    for seg in &parents[1..] {
        cur = match cur {
            Value::Object(m) => match m.get_mut(seg) {
                Some(v) => v,
                None => return Err(failure(p, &format!("member {} not found", pyjson::repr_str(seg)))),
            },
            Value::Array(a) => match parse_index(seg) {
                Some(i) if i < a.len() => &mut a[i],
                _ => return Err(failure(p, &format!("{} is not a valid sequence index", pyjson::repr_str(seg)))),
            },
            _ => return Err(failure(p, &format!("can't resolve path {}", pyjson::repr_str(&p.path)))),
        };
    }
    match cur {
        Value::Object(m) => apply_in_map(m, last, p, value),
        Value::Array(a) => apply_in_array(a, last, p, value),
        _ => Err(failure(p, &format!("can't resolve path {}", pyjson::repr_str(&p.path)))),
    }
}

fn test_failed(p: &PatchOp) -> PatchFailure {
    PatchFailure::TestFailed(format!(
        "Couldn't apply patch '{}'. Reason: the value at {} is not equal to the tested value",
        pyjson::repr(&p.shown),
        p.path
    ))
}

fn apply_in_map(m: &mut Map<String, Value>, key: &str, p: &PatchOp, value: Option<Value>) -> Result<(), PatchFailure> {
    match p.op {
        Op::Add => {
            m.insert(key.to_string(), value.unwrap_or(Value::Null));
        }
        Op::Replace => {
            if !m.contains_key(key) {
                return Err(failure(p, &format!("can't replace a non-existent object {}", pyjson::repr_str(key))));
            }
            m.insert(key.to_string(), value.unwrap_or(Value::Null));
        }
        Op::Remove => {
            if m.shift_remove(key).is_none() {
                return Err(failure(p, &format!("can't remove a non-existent object {}", pyjson::repr_str(key))));
            }
        }
        Op::Test => {
            if m.get(key) != value.as_ref() {
                return Err(test_failed(p));
            }
        }
    }
    Ok(())
}

fn apply_in_array(a: &mut Vec<Value>, seg: &str, p: &PatchOp, value: Option<Value>) -> Result<(), PatchFailure> {
    const MAX_ARRAY: usize = 100_000;
    if p.op == Op::Add && seg == "-" {
        if a.len() >= MAX_ARRAY {
            return Err(failure(p, "list too long"));
        }
        a.push(value.unwrap_or(Value::Null));
        return Ok(());
    }
    let Some(i) = parse_index(seg) else {
        return Err(failure(p, &format!("{} is not a valid sequence index", pyjson::repr_str(seg))));
    };
    match p.op {
        Op::Add => {
            if i > a.len() {
                return Err(failure(p, "can't insert outside of list"));
            }
            if a.len() >= MAX_ARRAY {
                return Err(failure(p, "list too long"));
            }
            a.insert(i, value.unwrap_or(Value::Null));
        }
        Op::Replace => {
            if i >= a.len() {
                return Err(failure(p, "can't replace outside of list"));
            }
            a[i] = value.unwrap_or(Value::Null);
        }
        Op::Remove => {
            if i >= a.len() {
                return Err(failure(p, &format!("can't remove a non-existent object {}", pyjson::repr_str(seg))));
            }
            a.remove(i);
        }
        Op::Test => {
            if a.get(i) != value.as_ref() {
                return Err(test_failed(p));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(n: u32) -> Version {
        Version { minor: n }
    }

    fn doc() -> Map<String, Value> {
        json!({"extra": {"k": "v", "l": [1, 2]}, "name": null, "maintenance": false}).as_object().unwrap().clone()
    }

    #[test]
    fn schema_messages_match_ironic() {
        let e = parse(Some(json!({"op": "replace"})), v(115)).unwrap_err();
        assert_eq!(e.message(), "Schema error for patch: {'op': 'replace'} is not of type 'array'");
        let e = parse(Some(json!([{"op": "frobnicate", "path": "/extra/a", "value": 1}])), v(115)).unwrap_err();
        assert_eq!(e.message(), "Schema error for patch: 'frobnicate' is not one of ['add', 'replace', 'remove']");
        let e = parse(Some(json!([{"op": "add", "path": "/extra/a b"}])), v(115)).unwrap_err();
        assert_eq!(e.message(), "Schema error for patch: '/extra/a b' does not match '^(/[\\\\w-]+)+$'");
        assert!(parse(Some(json!([{"op": "add", "path": "/extra/a~1b", "value": 1}])), v(97)).is_err());
        let ops = parse(Some(json!([{"op": "add", "path": "/extra/a~1b", "value": 1}])), v(98)).unwrap();
        assert_eq!(ops[0].segments, vec!["extra", "a/b"]);
        let e = parse(Some(json!([{"op": "add", "path": "/x", "from": "/y"}])), v(1)).unwrap_err();
        assert_eq!(e.message(), "Schema error for patch: Additional properties are not allowed ('from' was unexpected)");
    }

    #[test]
    fn applies_like_jsonpatch() {
        let mut d = doc();
        let ops = parse(
            Some(json!([
                {"op": "add", "path": "/extra/a", "value": 1},
                {"op": "replace", "path": "/name", "value": "n"},
                {"op": "remove", "path": "/extra/k"},
                {"op": "add", "path": "/extra/l/-", "value": 3},
                {"op": "test", "path": "/maintenance", "value": false}
            ])),
            v(115),
        )
        .unwrap();
        apply(&mut d, &ops).unwrap();
        assert_eq!(Value::Object(d), json!({"extra": {"l": [1, 2, 3], "a": 1}, "name": "n", "maintenance": false}));

        let mut d = doc();
        let ops = parse(Some(json!([{"op": "remove", "path": "/extra/nokey"}])), v(115)).unwrap();
        assert_eq!(
            apply(&mut d, &ops).unwrap_err(),
            PatchFailure::Invalid(
                "Couldn't apply patch '{'op': 'remove', 'path': '/extra/nokey'}'. Reason: can't remove a non-existent object 'nokey'"
                    .into()
            )
        );
        let ops = parse(Some(json!([{"op": "add", "path": "/bogus", "value": 1}])), v(115)).unwrap();
        assert!(matches!(apply(&mut doc(), &ops), Err(PatchFailure::Invalid(m)) if m.contains("Adding a new attribute (/bogus)")));
        let ops = parse(Some(json!([{"op": "test", "path": "/extra/k", "value": "w"}])), v(115)).unwrap();
        assert!(matches!(apply(&mut doc(), &ops), Err(PatchFailure::TestFailed(_))));
        let ops = parse(Some(json!([{"op": "add", "path": "/extra/k/x", "value": 1}])), v(115)).unwrap();
        assert!(apply(&mut doc(), &ops).is_err());
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let ops = parse(Some(json!([{"op": "replace", "path": "/driver_info/ipmi_password", "value": "s3cret"}])), v(115)).unwrap();
        let mut d = json!({"driver_info": {}}).as_object().unwrap().clone();
        let e = apply(&mut d, &ops).unwrap_err();
        let PatchFailure::Invalid(m) = e else { panic!() };
        assert!(!m.contains("s3cret"), "{m}");
        assert!(m.contains("******"), "{m}");
    }
}
