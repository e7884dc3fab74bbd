//! Shared state of the handlers and the per-request context, plus the two ways of reaching the
//! rest of Ferric: linearizable reads of the replicated state and conductor calls.

use crate::auth::BasicAuth;
use crate::body::BodyLimits;
use crate::config::ApiConfig;
use crate::error::{ApiError, ApiResult};
use crate::version::Version;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ferric_model::{Backend, ConductorReply, ConductorRequest, Error, State};
use std::sync::Arc;
use std::time::Duration;

/// Bound on re-routing a conductor call whose owner changed under it.
const NOT_OWNER_RETRIES: u32 = 5;

pub(crate) struct AppInner {
    pub cfg: ApiConfig,
    pub backend: Arc<dyn Backend>,
    pub auth: Option<BasicAuth>,
    /// Rendered JSON of listed nodes, reused while they are unchanged.
    pub node_json: crate::render_cache::NodeJsonCache,
}

/// Cheap-to-clone handle the handlers share.
#[derive(Clone)]
pub(crate) struct App(pub Arc<AppInner>);

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    pub fn limits(&self) -> BodyLimits {
        BodyLimits { max_bytes: self.cfg.max_body_bytes, max_depth: self.cfg.max_json_depth }
    }

    /// Limits of the provision endpoint, whose body may carry a config drive.
    pub fn provision_limits(&self) -> BodyLimits {
        BodyLimits { max_bytes: self.cfg.max_body_bytes.max(PROVISION_BODY_BYTES), max_depth: self.cfg.max_json_depth }
    }

    /// Waits for the read barrier (linearizable read), then runs `f` on the state.
    pub async fn read<T>(&self, mut f: impl FnMut(&State) -> T) -> ApiResult<T> {
        self.barrier().await?;
        Ok(self.read_local(&mut f))
    }

    /// The read barrier, unless the configuration chose stale reads. Writes always read the
    /// record they change after a barrier (their expected revision makes them safe anyway).
    pub async fn barrier(&self) -> ApiResult<()> {
        if self.cfg.linearizable_reads {
            self.backend.read_barrier().await.map_err(ApiError::from)?;
        }
        Ok(())
    }

    /// For writes: runs `f` on the local state first, and only if that fails (a referenced
    /// record not found, a validation refused) takes the read barrier and runs it again. A
    /// success needs no barrier: the state machine re-checks references and uniqueness when it
    /// applies the write. A refusal is always answered from a linearizable read.
    pub async fn read_for_write<T>(&self, mut f: impl FnMut(&State) -> ApiResult<T>) -> ApiResult<T> {
        if let Ok(v) = self.read_local(&mut f) {
            return Ok(v);
        }
        self.backend.read_barrier().await.map_err(ApiError::from)?;
        self.read_local(&mut f)
    }

    /// Runs `f` on the local state without a barrier (after one was taken in this request).
    pub fn read_local<T>(&self, f: &mut impl FnMut(&State) -> T) -> T {
        let mut out = None;
        self.backend.read(&mut |st| out = Some(f(st)));
        match out {
            Some(v) => v,
            // A Backend must call the closure; if one does not, answer with an empty state.
            None => f(&State::default()),
        }
    }

    /// A conductor call; a call that raced with a ring change is routed again (bounded).
    pub async fn call(&self, req: ConductorRequest) -> ApiResult<ConductorReply> {
        let mut attempt = 0;
        loop {
            match self.backend.call(req.clone()).await {
                Err(Error::NotOwner { .. }) if attempt + 1 < NOT_OWNER_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e.into()),
                Ok(r) => return Ok(r),
            }
        }
    }
}

/// Config drives can be large: Ironic's `max_json_body_size_provision` is in this range.
pub(crate) const PROVISION_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What the pipeline learned about a request.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub ver: Version,
    /// Base URL for links, without a trailing slash.
    pub base: Arc<str>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Ctx>().cloned().unwrap_or(Ctx { ver: Version::MIN, base: Arc::from("") }))
    }
}
