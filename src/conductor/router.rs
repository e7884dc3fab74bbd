//! Routing of conductor calls. Record changes are decided by the state machine in one command and
//! served by any member. A call that needs the node's conductor goes to the leader, which serves
//! it when it owns the node or forwards it to the owner on its ring; the owner checks that it
//! still owns the node at its applied index (after catching up to the router's ring version) and
//! otherwise answers `NotOwner` with its ring version, and the router retries. Driver-level calls
//! go to any member with the driver.

use super::Conductor;
use ferric_model::rpc::{ConductorReply, ConductorRequest};
use ferric_model::{Error, MIN_SCHEMA_VERSION, SCHEMA_VERSION};
use ferric_raft::ConductorService;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const ROUTE_ATTEMPTS: usize = 6;

/// How long a member that was sent a call waits to apply what the sender had applied.
const CALLER_CATCH_UP: Duration = Duration::from_secs(3);

/// How the receiver should treat a forwarded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// The receiver (the leader) routes it to the owner.
    Route,
    /// The receiver serves it itself if it owns the node at `ring_version` or later.
    Serve,
}

/// The schema a conductor call asks its receiver to speak. Calls and their answers have kept
/// their shape since schema 1, so a member of the previous version still serves an upgraded
/// member's calls mid-upgrade (schema 2 changed only a replicated command). Raise it when a call
/// or an answer changes shape.
const CALL_SCHEMA: u32 = 1;

/// A conductor call between members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub schema: u32,
    pub from: String,
    pub mode: Mode,
    pub ring_version: u64,
    /// The sender's applied index when it routed the call: the receiver acts only once it has
    /// applied as much, so it sees every change the sender saw (a node created and acknowledged
    /// a moment ago is never "not found" on a member that lags). Absent (0) from older members.
    #[serde(default)]
    pub min_applied: u64,
    pub request: ConductorRequest,
}

enum Target {
    Record,
    Node(Uuid),
    Driver(String),
}

fn classify(req: &ConductorRequest) -> Target {
    if let Some(u) = req.routed_node() {
        return Target::Node(u);
    }
    if let Some(d) = req.routed_driver() {
        return Target::Driver(d.to_string());
    }
    Target::Record
}

impl Conductor {
    /// Entry point of every conductor call made on this member (by its API).
    pub async fn call(self: &Arc<Self>, req: ConductorRequest) -> Result<ConductorReply, Error> {
        self.metrics.calls.fetch_add(1, Ordering::Relaxed);
        match classify(&req) {
            Target::Record => self.handle_record(req).await,
            Target::Node(uuid) => {
                let via_leader = !self.is_leader();
                self.route_node(uuid, req, via_leader).await
            }
            Target::Driver(d) => self.route_driver(&d, req).await,
        }
    }

    fn is_leader(&self) -> bool {
        self.cluster.node().map(|n| n.is_leader()).unwrap_or(false)
    }

    async fn route_node(self: &Arc<Self>, uuid: Uuid, req: ConductorRequest, via_leader: bool) -> Result<ConductorReply, Error> {
        let mut last = Error::unavailable("no conductor could serve the request");
        for attempt in 0..ROUTE_ATTEMPTS {
            if attempt > 0 {
                self.metrics.not_owner_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20 * attempt as u64)).await;
            }
            let ring = self.ring();
            let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
            let owner = self.owner_in(&ring, &node);
            // Through the leader (it has the freshest ring), unless we are it or it is unknown.
            if via_leader && attempt == 0 {
                if let Some((_, leader)) = self.cluster.node().and_then(|n| n.leader()) {
                    if leader.name != self.me {
                        let env = Envelope {
                            schema: CALL_SCHEMA,
                            from: self.me.clone(),
                            mode: Mode::Route,
                            ring_version: ring.version,
                            min_applied: self.applied_index(),
                            request: req.clone(),
                        };
                        match self.send(&leader.peer_addr, &env).await {
                            Ok(r) => return Ok(r),
                            Err(Sent::NotDelivered(e)) => {
                                last = e;
                                continue;
                            }
                            Err(Sent::Answer(e)) => return Err(e),
                        }
                    }
                }
            }
            let Some(owner) = owner else {
                return Err(no_conductor(&node.driver, &node.conductor_group));
            };
            if owner == self.me {
                match self.serve_owned(uuid, ring.version, 0, req.clone()).await {
                    Err(Error::NotOwner { ring_version, .. }) => {
                        self.catch_up(ring_version).await;
                        last = Error::unavailable(format!("ownership of node {uuid} is moving; retry"));
                        continue;
                    }
                    other => return other,
                }
            }
            let addr = self.read(|s| s.meta.members.get(&owner).map(|m| m.peer_addr.clone()));
            let Some(addr) = addr else {
                last = Error::unavailable(format!("owner {owner} of node {uuid} is not a member"));
                continue;
            };
            let env = Envelope {
                schema: CALL_SCHEMA,
                from: self.me.clone(),
                mode: Mode::Serve,
                ring_version: ring.version,
                min_applied: self.applied_index(),
                request: req.clone(),
            };
            self.metrics.calls_forwarded.fetch_add(1, Ordering::Relaxed);
            match self.send(&addr, &env).await {
                Err(Sent::Answer(Error::NotOwner { ring_version, .. })) => {
                    self.catch_up(ring_version).await;
                    last = Error::unavailable(format!("ownership of node {uuid} is moving; retry"));
                }
                Err(Sent::NotDelivered(e)) => last = e,
                Err(Sent::Answer(e)) => return Err(e),
                Ok(r) => return Ok(r),
            }
        }
        Err(last)
    }

    /// Waits (bounded) until this member applied `index`.
    async fn catch_up(&self, index: u64) {
        if let Some(n) = self.cluster.node() {
            let _ = n.wait_applied(index, Duration::from_secs(2)).await;
        }
    }

    /// This member's applied index (0 before it has joined a cluster).
    fn applied_index(&self) -> u64 {
        self.cluster.node().map(|n| n.applied_index()).unwrap_or(0)
    }

    /// Waits (bounded) until this member applied `index`, the index the caller had applied: an
    /// error if it does not get there, rather than acting on older state.
    async fn caught_up_with_caller(&self, index: u64) -> Result<(), Error> {
        let Some(n) = self.cluster.node() else { return Ok(()) };
        n.wait_applied(index, CALLER_CATCH_UP).await.map_err(|e| {
            Error::unavailable(format!("conductor {} has not yet caught up with the member that routed the call ({e}); retry", self.me))
        })
    }

    /// Serves a node-scoped call if this member owns the node at `ring_version` or later, once it
    /// has applied `min_applied` (what the member that routed the call had applied).
    async fn serve_owned(self: &Arc<Self>, uuid: Uuid, ring_version: u64, min_applied: u64, req: ConductorRequest) -> Result<ConductorReply, Error> {
        self.catch_up(ring_version).await;
        self.caught_up_with_caller(min_applied).await?;
        let ring = self.ring();
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        if self.owner_in(&ring, &node).as_deref() != Some(self.me.as_str()) {
            return Err(Error::NotOwner { member: self.me.clone(), node: uuid.to_string(), ring_version: ring.version });
        }
        self.handle_node(uuid, req).await
    }

    async fn route_driver(self: &Arc<Self>, driver: &str, req: ConductorRequest) -> Result<ConductorReply, Error> {
        if self.drivers.hardware_types().iter().any(|h| h.name == driver) {
            return self.handle_driver(req).await;
        }
        let target = self.read(|s| {
            s.conductors
                .values()
                .filter(|c| c.online && c.supports(driver) && c.hostname != self.me)
                .filter_map(|c| s.meta.members.get(&c.hostname).map(|m| m.peer_addr.clone()))
                .next()
        });
        let Some(addr) = target else {
            return Err(Error::DriverNotFound { driver: driver.to_string() });
        };
        let env = Envelope { schema: CALL_SCHEMA, from: self.me.clone(), mode: Mode::Serve, ring_version: 0, min_applied: 0, request: req };
        self.send(&addr, &env).await.map_err(Sent::into_error)
    }

    /// Sends a call to another member. Only a call that never left this member may be sent again
    /// (`NotDelivered`); one that timed out or lost its connection after sending may have run,
    /// so it is answered as such and never repeated.
    async fn send(&self, addr: &str, env: &Envelope) -> Result<ConductorReply, Sent> {
        let body = serde_json::to_vec(env).map_err(|e| Sent::Answer(Error::internal(e.to_string())))?;
        let timeout = Duration::from_millis(self.cluster.config().rpc_timeout_ms)
            + super::secs(self.cfg.node_locked_retry_interval) * self.cfg.node_locked_retry_attempts
            + super::secs(self.cfg.driver_call_timeout.min(60.0));
        let bytes = match self.cluster.call_member(addr, body, timeout).await {
            Ok(b) => b,
            Err(e @ ferric_raft::transport::TransportError::Unreachable { .. }) => {
                return Err(Sent::NotDelivered(Error::unavailable(format!("conductor call not delivered: {e}"))))
            }
            Err(e) => {
                return Err(Sent::Answer(Error::unavailable(format!(
                    "Outcome unknown: the conductor call may or may not have run ({e})"
                ))))
            }
        };
        serde_json::from_slice::<Result<ConductorReply, Error>>(&bytes)
            .map_err(|e| Sent::Answer(Error::internal(format!("bad conductor answer from {addr}: {e}"))))?
            .map_err(Sent::Answer)
    }

    /// A call that arrived from another member.
    pub(crate) async fn serve_envelope(self: Arc<Self>, body: Vec<u8>) -> Result<ConductorReply, Error> {
        let env: Envelope = serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("bad conductor call: {e}")))?;
        if env.schema < MIN_SCHEMA_VERSION || env.schema > SCHEMA_VERSION {
            return Err(Error::SchemaMismatch { peer: env.schema, min: MIN_SCHEMA_VERSION, max: SCHEMA_VERSION });
        }
        match (classify(&env.request), env.mode) {
            (Target::Node(uuid), Mode::Route) => {
                self.catch_up(env.ring_version).await;
                self.caught_up_with_caller(env.min_applied).await?;
                self.route_node(uuid, env.request, false).await
            }
            (Target::Node(uuid), Mode::Serve) => self.serve_owned(uuid, env.ring_version, env.min_applied, env.request).await,
            (Target::Driver(_), _) => self.handle_driver(env.request).await,
            (Target::Record, _) => self.handle_record(env.request).await,
        }
    }
}

/// How a call to another member failed.
pub(crate) enum Sent {
    /// It never left this member: safe to send again.
    NotDelivered(Error),
    /// The receiver answered, or the outcome is unknown: final.
    Answer(Error),
}

impl Sent {
    fn into_error(self) -> Error {
        match self {
            Sent::NotDelivered(e) | Sent::Answer(e) => e,
        }
    }
}

pub(crate) fn no_conductor(driver: &str, group: &str) -> Error {
    Error::NoValidHost {
        reason: format!(
            "No conductor service registered which supports driver {driver} for conductor group \"{group}\". Ensure the driver is valid and enabled."
        ),
    }
}

/// The conductor as the peer service sees it.
pub struct ConductorEndpoint(pub Arc<Conductor>);

impl ConductorService for ConductorEndpoint {
    fn handle(&self, body: Vec<u8>) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + 'static>> {
        let c = self.0.clone();
        Box::pin(async move {
            let r = c.serve_envelope(body).await;
            serde_json::to_vec(&r).unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_a_schema_and_round_trip() {
        let env = Envelope {
            schema: 99,
            from: "m9".into(),
            mode: Mode::Serve,
            ring_version: 7,
            min_applied: 12,
            request: ConductorRequest::GetTopicFor { node: Uuid::nil() },
        };
        let back: Envelope = serde_json::from_slice(&serde_json::to_vec(&env).unwrap()).unwrap();
        assert_eq!(back.schema, 99);
        assert_eq!(back.min_applied, 12);
        // From a member before `min_applied`: absent, so nothing more to wait for.
        let mut old = serde_json::to_value(&env).unwrap();
        old.as_object_mut().unwrap().remove("min_applied");
        let back: Envelope = serde_json::from_value(old).unwrap();
        assert_eq!(back.min_applied, 0);
        assert!(matches!(back.request, ConductorRequest::GetTopicFor { .. }));
    }
}
