//! Reading typed fields out of `driver_info` the way Ironic does (strings or JSON values,
//! `strutils.bool_from_string`, network ports), with errors that name the field.
//!
//! Never put a secret's value into an error: callers pass the field name only.

use ferric_model::{Dict, Error};
use serde_json::Value;

/// A field whose value must be a non-empty string (numbers are accepted and printed).
pub fn opt_str(info: &Dict, field: &str) -> Result<Option<String>, Error> {
    match info.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Error::invalid(format!("Invalid value for driver_info/{field}: expected a string"))),
    }
}

/// Like `opt_str`, but the value is a secret: the error never echoes it.
pub fn opt_secret(info: &Dict, field: &str) -> Result<Option<String>, Error> {
    match info.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Error::invalid(format!("Invalid value for driver_info/{field}: expected a string"))),
    }
}

/// Ironic's `strutils.bool_from_string(strict=True)` on a JSON value.
pub fn parse_bool_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
            "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An optional boolean field.
pub fn opt_bool(info: &Dict, field: &str) -> Result<Option<bool>, Error> {
    match info.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_bool_value(v)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("Invalid value for driver_info/{field}: {v} is not a boolean"))),
    }
}

/// An optional TCP/UDP port (1–65535, number or numeric string).
pub fn opt_port(info: &Dict, field: &str) -> Result<Option<u16>, Error> {
    let bad = |v: &Value| Error::invalid(format!("{v} is not a valid port for driver_info/{field} (1-65535)"));
    match info.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => match n.as_u64() {
            Some(p) if (1..=65535).contains(&p) => Ok(Some(p as u16)),
            _ => Err(bad(v)),
        },
        Some(v @ Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(p) if (1..=65535).contains(&p) => Ok(Some(p as u16)),
            _ => Err(bad(v)),
        },
        Some(v) => Err(bad(v)),
    }
}

/// An optional non-negative number (seconds, rates), number or numeric string.
pub fn opt_f64(info: &Dict, field: &str) -> Result<Option<f64>, Error> {
    let bad = |v: &Value| Error::invalid(format!("Invalid value for driver_info/{field}: {v} is not a number"));
    match info.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => {
            s.trim().parse::<f64>().ok().filter(|x| x.is_finite()).map(Some).ok_or_else(|| bad(v))
        }
        Some(v) => Err(bad(v)),
    }
}

/// An optional list of names: a JSON list of strings or a comma-separated string.
pub fn opt_list(info: &Dict, field: &str) -> Result<Option<Vec<String>>, Error> {
    match info.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            Ok(Some(s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()))
        }
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(|s| s.trim().to_string()).ok_or_else(|| {
                    Error::invalid(format!("Invalid value for driver_info/{field}: {v} is not a string"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(v) => Err(Error::invalid(format!(
            "Invalid value for driver_info/{field}: {v} is neither a list nor a comma-separated string"
        ))),
    }
}

/// A host name or IP literal: no whitespace, no scheme, not empty, at most 255 bytes.
pub fn check_host(host: &str, field: &str) -> Result<(), Error> {
    let ok = !host.is_empty()
        && host.len() <= 255
        && !host.contains("://")
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']' | '%'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("Invalid value for driver_info/{field}: {host:?} is not a host name or IP address")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(v: Value) -> Dict {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn bools_ports_numbers_lists() {
        let i = d(json!({"a": "yes", "b": false, "c": "maybe", "p": "623", "q": 0, "r": "x",
                         "f": "1.5", "l": "x, y,,z", "m": ["a", 1]}));
        assert_eq!(opt_bool(&i, "a").unwrap(), Some(true));
        assert_eq!(opt_bool(&i, "b").unwrap(), Some(false));
        assert_eq!(opt_bool(&i, "zz").unwrap(), None);
        assert!(opt_bool(&i, "c").unwrap_err().to_string().contains("driver_info/c"));
        assert_eq!(opt_port(&i, "p").unwrap(), Some(623));
        assert!(opt_port(&i, "q").unwrap_err().to_string().contains("driver_info/q"));
        assert!(opt_port(&i, "r").is_err());
        assert_eq!(opt_f64(&i, "f").unwrap(), Some(1.5));
        assert_eq!(opt_list(&i, "l").unwrap().unwrap(), vec!["x", "y", "z"]);
        assert!(opt_list(&i, "m").is_err());
    }

    #[test]
    fn hosts() {
        check_host("10.0.0.1", "h").unwrap();
        check_host("bmc-1.example.com", "h").unwrap();
        check_host("::1", "h").unwrap();
        assert!(check_host("", "h").is_err());
        assert!(check_host("http://x", "h").is_err());
        assert!(check_host("a b", "h").is_err());
    }
}
