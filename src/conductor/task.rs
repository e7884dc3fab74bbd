//! Node locks (Ironic's TaskManager) on the Raft store: an exclusive lock is a committed
//! reservation whose generation (the log index of the grant) fences every later write; a held
//! lock answers NodeLocked after Ironic's retries; before each BMC action the holder confirms,
//! by a linearizable read, that its reservation is still current.

use super::{secs, Conductor};
use ferric_drivers::TaskContext;
use ferric_model::command::LockToken;
use ferric_model::{Applied, Command, ConfigDrive, Error, Node, Port, Portgroup};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use uuid::Uuid;

/// How many times an optimistic read-modify-lock is retried when the node changed in between.
const REVISION_RETRIES: usize = 20;

/// How a lock request waits when the node is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// One attempt (heartbeats, periodic tasks).
    Once,
    /// Ironic's `node_locked_retry_attempts` × `node_locked_retry_interval`.
    Normal,
}

/// An exclusive lock on one node and the node as this task sees it.
pub struct Task {
    pub node: Node,
    pub token: LockToken,
    pub(crate) conductor: Arc<Conductor>,
    pub ports: Vec<Port>,
    pub portgroups: Vec<Portgroup>,
    pub(crate) done: bool,
}

impl Conductor {
    /// Takes the lock of `uuid`. `prepare` sees the current node and returns the node to write in
    /// the same command as the grant (a state transition, a target power state), or `None` to
    /// leave it as is; it may refuse with an error. The read and the grant are one
    /// compare-and-set on the node's revision, retried when the node changed in between.
    pub(crate) async fn lock_node(
        self: &Arc<Self>,
        uuid: Uuid,
        purpose: &str,
        patience: Patience,
        prepare: impl FnMut(&Node) -> Result<Option<Node>, Error>,
    ) -> Result<Task, Error> {
        self.lock_node_carrying(uuid, purpose, patience, None, prepare).await
    }

    /// `lock_node` whose grant also stores a deploy's config drive apart from the node record
    /// (`prepare` must return the node to write: the drive goes with that write).
    pub(crate) async fn lock_node_carrying(
        self: &Arc<Self>,
        uuid: Uuid,
        purpose: &str,
        patience: Patience,
        configdrive: Option<ConfigDrive>,
        mut prepare: impl FnMut(&Node) -> Result<Option<Node>, Error>,
    ) -> Result<Task, Error> {
        if self.draining.load(Ordering::Relaxed) {
            return Err(Error::unavailable(format!("conductor {} is shutting down", self.me)));
        }
        let attempts = match patience {
            Patience::Once => 1,
            Patience::Normal => self.cfg.node_locked_retry_attempts.max(1),
        };
        let mut locked_tries = 0u32;
        let mut revision_tries = 0usize;
        loop {
            let cur = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
            if let Some(r) = &cur.reservation {
                // Fail fast on a live holder, as Ironic's pre-check does.
                if self.read(|s| s.conductor_online(&r.holder)) {
                    locked_tries += 1;
                    self.metrics.lock_conflicts.fetch_add(1, Ordering::Relaxed);
                    if locked_tries >= attempts {
                        return Err(Error::NodeLocked { node: uuid.to_string(), host: r.holder.clone() });
                    }
                    tokio::time::sleep(secs(self.cfg.node_locked_retry_interval)).await;
                    continue;
                }
            }
            let update = prepare(&cur)?;
            let cmd = Command::AcquireLock {
                uuid,
                holder: self.me.clone(),
                purpose: purpose.to_string(),
                expected_revision: Some(cur.revision),
                update: update.map(Box::new),
                now: self.clock.now(),
                configdrive: configdrive.clone(),
            };
            match self.cluster.propose(cmd).await?.into_result() {
                Ok(Applied::Locked { generation, node }) => {
                    self.metrics.locks_acquired.fetch_add(1, Ordering::Relaxed);
                    self.live_tasks.lock().expect("live tasks lock").insert((uuid, generation));
                    let (ports, portgroups) = self.read(|s| {
                        (
                            s.ports_of(uuid).map(|p| (**p).clone()).collect(),
                            s.portgroups_of(uuid).map(|p| (**p).clone()).collect(),
                        )
                    });
                    return Ok(Task {
                        node: (*node).clone(),
                        token: LockToken { holder: self.me.clone(), generation },
                        conductor: self.clone(),
                        ports,
                        portgroups,
                        done: false,
                    });
                }
                Ok(_) => return Err(Error::internal("unexpected answer to a lock request")),
                Err(Error::RevisionMismatch { current, .. }) if revision_tries < REVISION_RETRIES => {
                    revision_tries += 1;
                    // The node changed since we read it: wait until this member applied that change.
                    if let Some(n) = self.cluster.node() {
                        let _ = n.wait_applied(current, std::time::Duration::from_secs(2)).await;
                    }
                }
                Err(Error::NodeLocked { node, host }) => {
                    locked_tries += 1;
                    self.metrics.lock_conflicts.fetch_add(1, Ordering::Relaxed);
                    if locked_tries >= attempts {
                        return Err(Error::NodeLocked { node, host });
                    }
                    tokio::time::sleep(secs(self.cfg.node_locked_retry_interval)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Task {
    pub fn uuid(&self) -> Uuid {
        self.node.uuid
    }

    /// The driver's view of this task.
    pub fn context(&self) -> TaskContext {
        TaskContext {
            node: self.node.clone(),
            ports: self.ports.clone(),
            portgroups: self.portgroups.clone(),
            lock: Some(self.token.clone()),
            member: self.conductor.me.clone(),
        }
    }

    /// Takes back what a driver changed: the node, and ports/portgroups (written under the lock).
    pub async fn absorb(&mut self, ctx: TaskContext) -> Result<(), Error> {
        self.node = ctx.node;
        let c = self.conductor.clone();
        for p in ctx.ports {
            if let Some(old) = self.ports.iter().find(|o| o.uuid == p.uuid) {
                if *old != p {
                    let r = c
                        .cluster
                        .propose(Command::UpdatePort {
                            port: Box::new(p.clone()),
                            expected_revision: old.revision,
                            lock: Some(self.token.clone()),
                            now: c.clock.now(),
                        })
                        .await?
                        .into_result()?;
                    if let Applied::Port(np) = r {
                        let i = self.ports.iter().position(|o| o.uuid == np.uuid).expect("port present");
                        self.ports[i] = (*np).clone();
                    }
                }
            }
        }
        for g in ctx.portgroups {
            if let Some(old) = self.portgroups.iter().find(|o| o.uuid == g.uuid) {
                if *old != g {
                    let r = c
                        .cluster
                        .propose(Command::UpdatePortgroup {
                            portgroup: Box::new(g.clone()),
                            expected_revision: old.revision,
                            lock: Some(self.token.clone()),
                            now: c.clock.now(),
                        })
                        .await?
                        .into_result()?;
                    if let Applied::Portgroup(ng) = r {
                        let i = self.portgroups.iter().position(|o| o.uuid == ng.uuid).expect("portgroup present");
                        self.portgroups[i] = (*ng).clone();
                    }
                }
            }
        }
        Ok(())
    }

    /// Before acting on a BMC: is our reservation still the current one (linearizable read), and
    /// is our own registration safely alive? If not, the task must stop.
    pub async fn ensure_current(&self) -> Result<(), Error> {
        let c = &self.conductor;
        if c.skip_lock_check {
            return Ok(());
        }
        let stale_registration = || {
            Error::unavailable(format!(
                "conductor {} stops acting on node {}: its registration is near its timeout",
                c.me,
                self.uuid()
            ))
        };
        if !c.registration_fresh() {
            return Err(stale_registration());
        }
        let (epoch, _) = c.lease_now();
        c.cluster.read_barrier().await?;
        // A pause during the barrier that outlasted the lease: the lock read below may be
        // from before a take-over the leader has since decided.
        if !c.lease_holds(epoch) {
            return Err(stale_registration());
        }
        let current = c.read(|s| s.nodes.get(&self.uuid()).and_then(|n| n.reservation.clone()));
        match current {
            Some(r) if r.holder == self.token.holder && r.generation == self.token.generation => {
                c.metrics.bmc_actions.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            other => {
                c.metrics.stale_generation_refusals.fetch_add(1, Ordering::Relaxed);
                Err(Error::StaleGeneration {
                    node: self.uuid().to_string(),
                    holder: self.token.holder.clone(),
                    generation: self.token.generation,
                    current: other.map(|r| r.generation),
                })
            }
        }
    }

    /// Writes the node under the lock (keeps it).
    pub async fn save(&mut self) -> Result<(), Error> {
        let c = self.conductor.clone();
        let r = c
            .cluster
            .propose(Command::SaveNode {
                node: Box::new(self.node.clone()),
                lock: self.token.clone(),
                release: false,
                now: c.clock.now(),
            })
            .await?
            .into_result()?;
        if let Applied::Node(n) = r {
            self.node = (*n).clone();
        }
        Ok(())
    }

    /// Writes the node and releases the lock in one command.
    pub async fn finish(mut self) -> Result<Node, Error> {
        let c = self.conductor.clone();
        let res = c
            .cluster
            .propose(Command::SaveNode {
                node: Box::new(self.node.clone()),
                lock: self.token.clone(),
                release: true,
                now: c.clock.now(),
            })
            .await;
        match res {
            Ok(r) => {
                self.done = true;
                c.live_tasks.lock().expect("live tasks lock").remove(&(self.node.uuid, self.token.generation));
                match r.into_result()? {
                    Applied::Node(n) => Ok((*n).clone()),
                    _ => Ok(self.node.clone()),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Releases the lock without writing the node.
    pub async fn release(mut self) -> Result<(), Error> {
        let c = self.conductor.clone();
        let r = c
            .cluster
            .propose(Command::ReleaseLock { uuid: self.uuid(), lock: self.token.clone(), now: c.clock.now() })
            .await;
        self.done = true;
        c.live_tasks.lock().expect("live tasks lock").remove(&(self.node.uuid, self.token.generation));
        r?.into_result().map(|_| ())
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // A task dropped without recording its end (an error path, a cancelled shutdown): record
        // it as Ironic records a failure — clear a pending power target, fail a transient state —
        // and release, in the background. If that fails too, the sweep of orphaned reservations
        // retries it; the generation fences anything stale meanwhile.
        let c = self.conductor.clone();
        let uuid = self.node.uuid;
        let generation = self.token.generation;
        c.live_tasks.lock().expect("live tasks lock").remove(&(uuid, generation));
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                c.abandon(uuid, generation, "the task ended without recording its result").await;
            });
        }
    }
}

impl Conductor {
    /// Releases every reservation this member holds (start-up after a crash, shutdown), a bounded
    /// number at a time.
    pub(crate) async fn release_own_reservations(self: &Arc<Self>, why: &str) {
        let mine: Vec<(Uuid, u64)> = self.read(|s| {
            s.nodes
                .values()
                .filter_map(|n| n.reservation.as_ref().filter(|r| r.holder == self.me).map(|r| (n.uuid, r.generation)))
                .collect()
        });
        use futures::StreamExt;
        futures::stream::iter(mine)
            .for_each_concurrent(self.cfg.periodic_max_workers.max(1), |(uuid, generation)| async move {
                self.abandon(uuid, generation, why).await;
            })
            .await;
    }

    /// Releases reservations of this member that no task holds any more (an ambiguous grant that
    /// did commit, a release that failed), older than `grace`.
    pub(crate) async fn sweep_orphaned_reservations(self: &Arc<Self>, grace: std::time::Duration) {
        let now = self.clock.now();
        let live = self.live_tasks.lock().expect("live tasks lock").clone();
        let orphans: Vec<(Uuid, u64)> = self.read(|s| {
            s.nodes
                .values()
                .filter_map(|n| n.reservation.as_ref().filter(|r| r.holder == self.me).map(|r| (n.uuid, r)))
                .filter(|(u, r)| !live.contains(&(*u, r.generation)) && now.secs_since(r.acquired_at) > grace.as_secs_f64())
                .map(|(u, r)| (u, r.generation))
                .collect()
        });
        for (uuid, generation) in orphans {
            tracing::warn!(node = %uuid, generation, "releasing a reservation of this member that no task holds");
            self.abandon(uuid, generation, "the conductor task holding the lock was lost").await;
        }
    }

    /// Ends the work of a lock this member holds without a task: Ironic's failure semantics
    /// (pending power target cleared, transient state failed), then release.
    pub(crate) async fn abandon(&self, uuid: Uuid, generation: u64, why: &str) {
        {
            let lock = LockToken { holder: self.me.clone(), generation };
            let cur = self.read(|s| s.nodes.get(&uuid).cloned());
            let Some(cur) = cur else { return };
            if cur.reservation.as_ref().map(|r| (r.holder.as_str(), r.generation)) != Some((self.me.as_str(), generation)) {
                return;
            }
            let mut n = (*cur).clone();
            // Work that was in flight here cannot resume: fail it as Ironic does on start-up.
            if n.target_power_state.is_some() {
                n.target_power_state = None;
                n.last_error = Some(format!("Pending power operation was aborted: {why}"));
            }
            if n.provision_state.is_stuck_treated_as_fail() {
                if let Some(next) = ferric_model::transition(n.provision_state, ferric_model::ProvisionEvent::Fail) {
                    let target = n.target_provision_state;
                    n.enter_state(next, self.clock.now());
                    n.target_provision_state = target.or(n.target_provision_state);
                    n.last_error = Some(format!("Operation was aborted: {why}"));
                }
            }
            let cmd = Command::SaveNode { node: Box::new(n), lock, release: true, now: self.clock.now() };
            if let Err(e) = self.cluster.propose(cmd).await {
                tracing::warn!(node = %uuid, error = %e, "could not release own reservation");
            }
        }
    }
}
