//! Collections: `limit`, `marker`, `sort_key`, `sort_dir` and the `next` link, as Ironic pages
//! (`v1/utils.py` `validate_limit`/`validate_sort_dir`, `collection.py` `get_next`).

use crate::error::{ApiError, ApiResult};
use crate::links;
use crate::params::{percent_encode, Query};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A sortable value: nulls first, as SQL sorts them ascending.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortVal {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
}

impl SortVal {
    pub fn opt_str<S: AsRef<str>>(s: Option<S>) -> SortVal {
        s.map(|s| SortVal::Str(s.as_ref().to_string())).unwrap_or(SortVal::Null)
    }
}

/// Paging parameters of one request.
#[derive(Debug, Clone)]
pub(crate) struct Paging {
    pub limit: usize,
    pub sort_key: String,
    pub desc: bool,
    /// As given (`sort_dir` for the `next` link).
    pub sort_dir: String,
}

impl Paging {
    /// `validate_limit` and `validate_sort_dir`.
    pub fn parse(q: &Query, max_limit: usize, default_sort_key: &str) -> ApiResult<Paging> {
        let limit = match q.int("limit")? {
            None => max_limit,
            Some(l) if l <= 0 => return Err(ApiError::bad_request("Limit must be positive")),
            Some(l) => (l as u64).min(max_limit as u64) as usize,
        };
        let sort_dir = q.string("sort_dir").unwrap_or_else(|| "asc".to_string());
        let desc = match sort_dir.as_str() {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid sort direction: {other}. Acceptable values are 'asc' or 'desc'"
                )))
            }
        };
        let sort_key = q.string("sort_key").unwrap_or_else(|| default_sort_key.to_string());
        Ok(Paging { limit, sort_key, desc, sort_dir })
    }

    pub fn invalid_sort_key(&self) -> ApiError {
        ApiError::invalid(format!("The sort_key value {} is an invalid field for sorting", self.sort_key))
    }

    /// Sorts `(sort value, tie-break id, item)` triples, skips up to the marker's position
    /// (exclusive) and keeps one page.
    pub fn page<T>(&self, mut items: Vec<(SortVal, u64, T)>, marker: Option<(SortVal, u64)>) -> Vec<T> {
        let cmp = |a: &(SortVal, u64), b: &(SortVal, u64)| -> Ordering {
            let o = a.0.cmp(&b.0).then(a.1.cmp(&b.1));
            if self.desc {
                o.reverse()
            } else {
                o
            }
        };
        items.sort_by(|a, b| cmp(&(a.0.clone(), a.1), &(b.0.clone(), b.1)));
        let start = match &marker {
            Some(m) => items.partition_point(|x| cmp(&(x.0.clone(), x.1), m) != Ordering::Greater),
            None => 0,
        };
        items.into_iter().skip(start).take(self.limit).map(|(_, _, t)| t).collect()
    }
}

/// Builds `{"<name>": items, "next": url}`; `next` only when the page is full.
pub(crate) fn collection(
    name: &str,
    items: Vec<Value>,
    limit: Option<usize>,
    base: &str,
    resource_url: &str,
    params: &[(String, String)],
    last_key: Option<String>,
) -> Value {
    let next = next_link(items.len(), limit, base, resource_url, params, last_key);
    let mut out = Map::new();
    out.insert(name.to_string(), Value::Array(items));
    if let Some(next) = next {
        out.insert("next".into(), Value::String(next));
    }
    Value::Object(out)
}

/// The same document as [`collection`], as Ironic's JSON text, from items already serialised.
pub(crate) fn collection_text(
    name: &str,
    items: &[std::sync::Arc<str>],
    limit: Option<usize>,
    base: &str,
    resource_url: &str,
    params: &[(String, String)],
    last_key: Option<String>,
) -> String {
    let next = next_link(items.len(), limit, base, resource_url, params, last_key);
    let mut out = String::with_capacity(items.iter().map(|i| i.len() + 2).sum::<usize>() + 64);
    out.push('{');
    out.push_str(&crate::pyjson::to_string(name));
    out.push_str(": [");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item);
    }
    out.push(']');
    if let Some(next) = next {
        out.push_str(", \"next\": ");
        out.push_str(&crate::pyjson::to_string(&next));
    }
    out.push('}');
    out
}

/// The `next` link of a page: only when the page is full.
fn next_link(
    count: usize,
    limit: Option<usize>,
    base: &str,
    resource_url: &str,
    params: &[(String, String)],
    last_key: Option<String>,
) -> Option<String> {
    let full = limit.map(|l| l > 0 && count == l).unwrap_or(false);
    let (true, Some(limit), Some(marker)) = (full, limit, last_key) else {
        return None;
    };
    let mut args = String::from("?");
    for (k, v) in params {
        args.push_str(k);
        args.push('=');
        args.push_str(&percent_encode(v));
        args.push('&');
    }
    args.push_str(&format!("limit={limit}&marker={}", percent_encode(&marker)));
    Some(links::build_url(base, resource_url, &args, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_text_is_the_collection_serialised() {
        let items = vec![serde_json::json!({"uuid": "a", "n": 1}), serde_json::json!({"uuid": "b"})];
        let texts: Vec<std::sync::Arc<str>> = items.iter().map(|v| crate::pyjson::to_string(v).into()).collect();
        let params = vec![("sort_key".to_string(), "id".to_string())];
        for (limit, last) in [(Some(2), Some("b".to_string())), (Some(5), Some("b".to_string())), (None, None)] {
            let v = collection("nodes", items.clone(), limit, "http://h:1", "nodes", &params, last.clone());
            let t = collection_text("nodes", &texts, limit, "http://h:1", "nodes", &params, last);
            assert_eq!(t, crate::pyjson::to_string(&v));
        }
        let empty = collection_text("nodes", &[], Some(1000), "http://h:1", "nodes", &params, None);
        assert_eq!(empty, crate::pyjson::to_string(&collection("nodes", vec![], Some(1000), "http://h:1", "nodes", &params, None)));
    }

    #[test]
    fn pages_in_both_directions() {
        let items: Vec<(SortVal, u64, u64)> = (1..=5).map(|i| (SortVal::Int((i % 3) as i64), i, i)).collect();
        let p = Paging { limit: 2, sort_key: "x".into(), desc: false, sort_dir: "asc".into() };
        // sorted: (0,3) (1,1) (1,4) (2,2) (2,5)
        assert_eq!(p.page(items.clone(), None), vec![3, 1]);
        assert_eq!(p.page(items.clone(), Some((SortVal::Int(1), 1))), vec![4, 2]);
        let d = Paging { desc: true, ..p };
        assert_eq!(d.page(items.clone(), None), vec![5, 2]);
        assert_eq!(d.page(items, Some((SortVal::Int(2), 2))), vec![4, 1]);
    }

    #[test]
    fn limits() {
        let q = Query::parse(Some("limit=0"));
        assert_eq!(Paging::parse(&q, 10, "id").unwrap_err().message(), "Limit must be positive");
        let q = Query::parse(Some("limit=50&sort_dir=up"));
        assert_eq!(
            Paging::parse(&q, 10, "id").unwrap_err().message(),
            "Invalid sort direction: up. Acceptable values are 'asc' or 'desc'"
        );
        let q = Query::parse(Some("limit=50"));
        assert_eq!(Paging::parse(&q, 10, "id").unwrap().limit, 10);
    }
}
