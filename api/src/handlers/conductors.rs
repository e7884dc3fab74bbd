//! `/v1/conductors` (1.49): the registered conductors, one per cluster member.

use super::json;
use crate::app::{App, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::listing::{collection, Paging, SortVal};
use crate::params::Query;
use crate::render::{self, View};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use ferric_model::{ConductorRecord, Error};
use serde_json::Value;

const DEFAULT_FIELDS: [&str; 3] = ["hostname", "conductor_group", "alive"];

fn sort_value(c: &ConductorRecord, key: &str) -> Option<SortVal> {
    Some(match key {
        // Registration order stands in for Ironic's row id.
        "id" | "created_at" => SortVal::Int(c.created_at.as_micros()),
        "updated_at" => SortVal::Int(c.updated_at.as_micros()),
        "hostname" => SortVal::Str(c.hostname.clone()),
        "conductor_group" => SortVal::Str(c.conductor_group.clone()),
        _ => return None,
    })
}

pub(crate) async fn list(State(app): State<App>, ctx: Ctx, RawQuery(q): RawQuery) -> ApiResult<Response> {
    super::api_version(ctx.ver, 49, super::NOT_SUPPORTED)?;
    let q = Query::parse(q.as_deref());
    q.allow(&["marker", "limit", "sort_key", "sort_dir", "fields", "detail"])?;
    let fields_param = q.list("fields");
    let detail = q.bool("detail")?;
    if fields_param.is_some() && detail == Some(true) {
        return Err(ApiError::invalid("Can not specify ?detail=True and fields in the same request."));
    }
    let fields: Option<Vec<String>> = if detail == Some(true) {
        None
    } else {
        Some(fields_param.unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect()))
    };
    let paging = Paging::parse(&q, app.cfg.max_limit, "id")?;
    if matches!(paging.sort_key.as_str(), "alive" | "drivers") {
        return Err(paging.invalid_sort_key());
    }
    let sort_key = paging.sort_key.clone();
    let marker = q.string("marker");
    let picked = app
        .read(|st| -> ApiResult<Vec<ConductorRecord>> {
            let mut items = Vec::new();
            for (i, c) in st.conductors.values().enumerate() {
                let Some(v) = sort_value(c, &sort_key) else {
                    return Err(ApiError::invalid(format!("The sort_key value \"{sort_key}\" is an invalid field for sorting")));
                };
                items.push((v, i as u64, c.clone()));
            }
            let marker_key = match &marker {
                Some(m) => {
                    let (i, c) = st
                        .conductors
                        .values()
                        .enumerate()
                        .find(|(_, c)| &c.hostname == m)
                        .ok_or(Error::ConductorNotFound { conductor: m.clone() })?;
                    Some((sort_value(c, &sort_key).unwrap_or(SortVal::Null), i as u64))
                }
                None => None,
            };
            Ok(paging.page(items, marker_key))
        })
        .await??;
    let view = View { ver: ctx.ver, base: &ctx.base, fields: fields.as_deref() };
    let items = picked.iter().map(|c| render::conductor(c, view).map(Value::Object)).collect::<ApiResult<Vec<_>>>()?;
    let last = picked.last().map(|c| c.hostname.clone());
    let mut params = vec![("sort_key".to_string(), paging.sort_key.clone()), ("sort_dir".to_string(), paging.sort_dir.clone())];
    if let Some(d) = q.str("detail") {
        params.push(("detail".into(), d.into()));
    }
    if let Some(fs) = &fields {
        params.push(("fields".into(), fs.join(",")));
    }
    Ok(json(200, &collection("conductors", items, Some(paging.limit), &ctx.base, "conductors", &params, last)))
}

pub(crate) async fn show(State(app): State<App>, ctx: Ctx, Path(host): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    super::api_version(ctx.ver, 49, super::NOT_SUPPORTED)?;
    let q = Query::parse(q.as_deref());
    q.allow(&["fields"])?;
    let fields = q.list("fields");
    let c = app.read(|st| st.conductors.get(&host).cloned()).await?.ok_or(Error::ConductorNotFound { conductor: host })?;
    Ok(json(200, &render::conductor(&c, View { ver: ctx.ver, base: &ctx.base, fields: fields.as_deref() })?))
}
