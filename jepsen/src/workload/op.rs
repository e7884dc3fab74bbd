//! One recorded client operation: invoke, call, classify, complete, retire on `info`.

use crate::client::{classify, ApiClient, CallError, HttpResponse};
use crate::history::{OpKind, Recorder, Worker};
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every worker shares.
#[derive(Clone)]
pub struct Ctx {
    pub api: ApiClient,
    pub recorder: Arc<Recorder>,
    /// (member name, API address) by member index.
    pub members: Vec<(String, SocketAddr)>,
}

/// Runs `call` as operation `f` on `key` by `worker` against `member`, records it, and returns
/// the completion kind with the value recorded. `read_only` ops are `fail` on any error (they
/// cannot have changed anything); `extract` turns a 2xx response into the recorded value.
#[allow(clippy::too_many_arguments)]
pub async fn perform<F, Fut>(
    ctx: &Ctx,
    worker: &mut Worker,
    member: usize,
    f: &str,
    key: Option<&str>,
    value: Value,
    read_only: bool,
    call: F,
    extract: impl FnOnce(&HttpResponse) -> Value,
) -> (OpKind, Value)
where
    F: FnOnce(ApiClient, SocketAddr) -> Fut,
    Fut: Future<Output = Result<HttpResponse, CallError>>,
{
    let (name, addr) = &ctx.members[member];
    let inv = ctx
        .recorder
        .invoke(worker.process(), f, key, value, Some(name));
    let result = call(ctx.api.clone(), *addr).await;
    let outcome = classify(&result, read_only);
    let recorded = match (&result, outcome.kind) {
        (Ok(r), OpKind::Ok) => extract(r),
        _ => Value::Null,
    };
    ctx.recorder
        .complete(&inv, outcome.kind, recorded.clone(), outcome.error);
    if outcome.kind == OpKind::Info {
        worker.retire();
    }
    (outcome.kind, recorded)
}
