//! Ironic's link objects (`ironic/api/controllers/link.py`).

use serde_json::{json, Value};

/// `<base>/v1/<resource>/<args>` (or `<base>/<resource>/<args>` for a bookmark); arguments that
/// start with `?` are appended without a slash.
pub(crate) fn build_url(base: &str, resource: &str, args: &str, bookmark: bool) -> String {
    let sep = if args.starts_with('?') { "" } else { "/" };
    if bookmark {
        format!("{base}/{resource}{sep}{args}")
    } else {
        format!("{base}/v1/{resource}{sep}{args}")
    }
}

pub(crate) fn link(rel: &str, base: &str, resource: &str, args: &str, bookmark: bool) -> Value {
    json!({"href": build_url(base, resource, args, bookmark), "rel": rel})
}

/// The usual `[self, bookmark]` pair.
pub(crate) fn pair(base: &str, resource: &str, args: &str) -> Value {
    Value::Array(vec![link("self", base, resource, args, false), link("bookmark", base, resource, args, true)])
}
