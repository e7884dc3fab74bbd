//! The `Backend` the API calls, over the cluster (reads, membership) and the conductor (calls).

use crate::conductor::Conductor;
use crate::events::EventSender;
use ferric_model::backend::{AddMember, ClusterStatus};
use ferric_model::ring::HashRing;
use ferric_model::rpc::{ConductorReply, ConductorRequest};
use ferric_model::{Backend, BoxFuture, Error, State, Timestamp};
use ferric_raft::Cluster;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct FerricBackend {
    pub cluster: Arc<Cluster>,
    pub conductor: Arc<Conductor>,
    pub events: Arc<EventSender>,
}

impl Backend for FerricBackend {
    fn member_name(&self) -> &str {
        self.cluster.name()
    }

    fn now(&self) -> Timestamp {
        self.conductor.clock.now()
    }

    fn read_barrier(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { self.cluster.read_barrier().await })
    }

    fn read(&self, f: &mut dyn FnMut(&State)) {
        self.cluster.read_state(|s| f(s))
    }

    fn ring(&self) -> Arc<HashRing> {
        self.conductor.ring()
    }

    fn call(&self, req: ConductorRequest) -> BoxFuture<'_, Result<ConductorReply, Error>> {
        Box::pin(async move { self.conductor.call(req).await })
    }

    fn cluster_status(&self) -> BoxFuture<'_, Result<ClusterStatus, Error>> {
        Box::pin(async move { self.cluster.status().await })
    }

    fn add_member(&self, req: AddMember) -> BoxFuture<'_, Result<ClusterStatus, Error>> {
        Box::pin(async move { self.cluster.add_member(req.name, req.peer, req.api).await })
    }

    fn remove_member(&self, name: String) -> BoxFuture<'_, Result<ClusterStatus, Error>> {
        Box::pin(async move { self.cluster.remove_member(name).await })
    }

    fn metrics(&self) -> String {
        let mut out = String::new();
        let m = &self.conductor.metrics;
        let counters = [
            ("ferric_conductor_calls_total", &m.calls),
            ("ferric_conductor_calls_forwarded_total", &m.calls_forwarded),
            ("ferric_conductor_not_owner_retries_total", &m.not_owner_retries),
            ("ferric_locks_acquired_total", &m.locks_acquired),
            ("ferric_lock_conflicts_total", &m.lock_conflicts),
            ("ferric_stale_generation_refusals_total", &m.stale_generation_refusals),
            ("ferric_bmc_actions_total", &m.bmc_actions),
            ("ferric_no_free_worker_total", &m.workers_busy_refusals),
            ("ferric_power_sync_rounds_total", &m.power_sync_rounds),
            ("ferric_power_sync_drift_total", &m.power_sync_drift),
            ("ferric_takeovers_total", &m.takeovers),
            ("ferric_events_delivered_total", &self.events.metrics.delivered),
            ("ferric_events_failed_attempts_total", &self.events.metrics.failed_attempts),
        ];
        for (name, c) in counters {
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {}", c.load(Ordering::Relaxed));
        }
        let (nodes, pending, failed) =
            self.cluster.read_state(|s| (s.nodes.len(), s.events.values().filter(|e| !e.failed).count(), s.events.values().filter(|e| e.failed).count()));
        let _ = writeln!(out, "# TYPE ferric_nodes gauge\nferric_nodes {nodes}");
        let _ = writeln!(out, "# TYPE ferric_events_pending gauge\nferric_events_pending {pending}");
        let _ = writeln!(out, "# TYPE ferric_events_failed gauge\nferric_events_failed {failed}");
        let _ = writeln!(out, "# TYPE ferric_conductor_free_workers gauge\nferric_conductor_free_workers {}", self.conductor.free_workers());
        if let Some(n) = self.cluster.node() {
            let st = n.status();
            let _ = writeln!(out, "# TYPE ferric_raft_term gauge\nferric_raft_term {}", st.term);
            let _ = writeln!(out, "# TYPE ferric_raft_is_leader gauge\nferric_raft_is_leader {}", st.is_leader as u8);
            let _ = writeln!(out, "# TYPE ferric_raft_applied_index gauge\nferric_raft_applied_index {}", st.applied.unwrap_or(0));
            let _ = writeln!(out, "# TYPE ferric_raft_committed_index gauge\nferric_raft_committed_index {}", st.committed.unwrap_or(0));
        }
        out
    }
}
