//! Query strings and scalar arguments, validated with Ironic's messages
//! (`ironic/common/args.py`): unknown query parameters are refused, booleans follow
//! `strutils.bool_from_string(strict=True)`, UUIDs and integers are checked.

use crate::error::{ApiError, ApiResult};
use crate::pyjson;
use serde_json::Value;
use uuid::Uuid;

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space; bad escapes stay literal).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `,` kept).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{:02X}", b));
        }
    }
    out
}

/// The parsed query string of a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

const BOOL_ACCEPTED: &str = "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'";

/// `strutils.bool_from_string(s, strict=True)`.
pub(crate) fn bool_from_str(name: &str, s: &str) -> ApiResult<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "Invalid {name}: Unrecognized value {}, acceptable values are: {BOOL_ACCEPTED}",
            pyjson::repr_str(s)
        ))),
    }
}

/// `args.boolean` on a JSON value: booleans as is, anything else through its string form.
pub(crate) fn bool_from_json(name: &str, v: &Value) -> ApiResult<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) => bool_from_str(name, s).map(Some),
        Value::Number(n) => bool_from_str(name, &n.to_string()).map(Some),
        other => Err(ApiError::invalid(format!(
            "Invalid {name}: Unrecognized value {}, acceptable values are: {BOOL_ACCEPTED}",
            pyjson::repr_str(&pyjson::repr(other))
        ))),
    }
}

/// `args.uuid`: "Expected UUID for <name>: <value>".
pub(crate) fn uuid_arg(name: &str, s: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| ApiError::invalid(format!("Expected UUID for {name}: {s}")))
}

/// `args.string_list`: comma separated, trimmed, lower-cased, de-duplicated.
pub(crate) fn string_list(values: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for v in values {
        for part in v.split(',') {
            let p = part.trim().to_ascii_lowercase();
            if !p.is_empty() && !items.contains(&p) {
                items.push(p);
            }
        }
    }
    items
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut pairs = Vec::new();
        if let Some(raw) = raw {
            for part in raw.split('&') {
                if part.is_empty() {
                    continue;
                }
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                pairs.push((percent_decode(k), percent_decode(v)));
                if pairs.len() >= 256 {
                    break;
                }
            }
        }
        Query { pairs }
    }

    /// Refuses parameters the endpoint does not take ("Unexpected arguments: a, b").
    pub fn allow(&self, allowed: &[&str]) -> ApiResult<()> {
        let mut unexpected: Vec<&str> = Vec::new();
        for (k, _) in &self.pairs {
            if !allowed.contains(&k.as_str()) && !unexpected.contains(&k.as_str()) {
                unexpected.push(k);
            }
        }
        if unexpected.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(format!("Unexpected arguments: {}", unexpected.join(", "))))
        }
    }

    /// The last value given for `name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.str(name).map(str::to_string)
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        self.str(name).map(|s| bool_from_str(name, s)).transpose()
    }

    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        self.str(name)
            .map(|s| {
                s.trim().parse::<i64>().map_err(|_| ApiError::invalid(format!("Expected an integer for {name}: {s}")))
            })
            .transpose()
    }

    pub fn uuid(&self, name: &str) -> ApiResult<Option<Uuid>> {
        self.str(name).map(|s| uuid_arg(name, s)).transpose()
    }

    /// Every value of `name` joined as `args.string_list` does; `None` when absent.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        let vals: Vec<&str> = self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect();
        if vals.is_empty() {
            None
        } else {
            Some(string_list(&vals))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let q = Query::parse(Some("fields=uuid,Name&limit=2&maintenance=yes&x=a%20b+c&bad=%zz"));
        assert_eq!(q.list("fields").unwrap(), vec!["uuid", "name"]);
        assert_eq!(q.int("limit").unwrap(), Some(2));
        assert_eq!(q.bool("maintenance").unwrap(), Some(true));
        assert_eq!(q.str("x"), Some("a b c"));
        assert_eq!(q.str("bad"), Some("%zz"));
        let e = q.allow(&["fields", "limit"]).unwrap_err();
        assert_eq!(e.message(), "Unexpected arguments: maintenance, x, bad");
        let q = Query::parse(Some("maintenance=maybe&limit=x"));
        assert!(q.bool("maintenance").unwrap_err().message().starts_with("Invalid maintenance: Unrecognized value 'maybe'"));
        assert_eq!(q.int("limit").unwrap_err().message(), "Expected an integer for limit: x");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%4"), "a%4");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }
}
