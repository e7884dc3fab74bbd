//! The provision flows and power actions (Ironic's `deployments.py`, `cleaning.py`,
//! `servicing.py`, `inspection.py`, `utils.node_power_action`): each starts with a lock whose
//! grant records the transition (one command), answers 202, and continues on a worker. Every
//! later write carries the lock's generation.

use super::steps::{self, step_dict};
use super::task::{Patience, Task};
use super::{secs, Conductor};
use ferric_drivers::{NodeInterfaces, StepResult, TaskContext};
use ferric_model::steps::{Step, StepKind};
use ferric_model::node::CONFIGDRIVE;
use ferric_model::{
    transition, ConfigDrive, Error, InterfaceKind, Node, PowerAction, PowerState, ProvisionEvent, ProvisionState, ProvisionVerb,
};
use ferric_model::rpc::ConductorReply;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// What a started provision job does on its worker.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    Verify,
    /// Automated cleaning (after `provide` or tear-down).
    AutoClean,
    ManualClean(Vec<Step>),
    Deploy(Vec<Step>),
    TearDown,
    Inspect,
    Adopt,
    Rescue,
    Unrescue,
    Service(Vec<Step>),
    /// Continue a step sequence after a wait (callback, unhold).
    Continue,
}

fn invalid_state(verb: &str, n: &Node) -> Error {
    Error::InvalidStateRequested { action: verb.to_string(), node: n.uuid.to_string(), state: n.provision_state.to_string() }
}

fn kind_of(state: ProvisionState) -> Option<StepKind> {
    use ProvisionState as S;
    match state {
        S::Cleaning | S::CleanWait | S::CleanHold => Some(StepKind::Clean),
        S::Deploying | S::DeployWait | S::DeployHold => Some(StepKind::Deploy),
        S::Servicing | S::ServiceWait | S::ServiceHold => Some(StepKind::Service),
        _ => None,
    }
}

fn key(kind: StepKind, what: &str) -> String {
    let k = match kind {
        StepKind::Clean => "clean",
        StepKind::Deploy => "deploy",
        StepKind::Service => "service",
        StepKind::Verify => "verify",
    };
    format!("{k}_{what}")
}

impl Conductor {
    /// Validates, takes the lock with the first transition, answers Accepted, runs `job`.
    pub(crate) async fn start_job(
        self: &Arc<Self>,
        uuid: Uuid,
        verb: &str,
        event: ProvisionEvent,
        job: Job,
        check: impl FnMut(&Node) -> Result<(), Error>,
        mutate: impl FnMut(&mut Node),
    ) -> Result<ConductorReply, Error> {
        self.start_job_carrying(uuid, verb, event, job, None, check, mutate).await
    }

    /// `start_job` whose lock grant also stores a config drive apart from the node record.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_job_carrying(
        self: &Arc<Self>,
        uuid: Uuid,
        verb: &str,
        event: ProvisionEvent,
        job: Job,
        configdrive: Option<ConfigDrive>,
        mut check: impl FnMut(&Node) -> Result<(), Error>,
        mut mutate: impl FnMut(&mut Node),
    ) -> Result<ConductorReply, Error> {
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        let ifaces = self.drivers.for_node(&node)?;
        let permit = self.try_worker()?;
        let now = self.clock.now();
        let task = self
            .lock_node_carrying(uuid, verb, Patience::Normal, configdrive, |n| {
                check(n)?;
                let next = transition(n.provision_state, event).ok_or_else(|| invalid_state(verb, n))?;
                let mut n = n.clone();
                n.enter_state(next, now);
                n.last_error = None;
                mutate(&mut n);
                Ok(Some(n))
            })
            .await?;
        let me = self.clone();
        self.spawn_worker(permit, "provision", async move {
            me.run_job(task, ifaces, job).await;
        });
        Ok(ConductorReply::Accepted)
    }

    pub(crate) async fn do_provisioning_action(self: &Arc<Self>, uuid: Uuid, action: ProvisionVerb) -> Result<ConductorReply, Error> {
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        match action {
            ProvisionVerb::Manage => {
                if node.provision_state == ProvisionState::Enroll {
                    let ifaces = self.drivers.for_node(&node)?;
                    let ctx = TaskContext::new((*node).clone(), self.me.clone());
                    ifaces.power.validate(&ctx)?;
                    self.start_job(uuid, "manage", ProvisionEvent::Manage, Job::Verify, |_| Ok(()), |_| {}).await
                } else {
                    self.sync_transition(uuid, "manage", ProvisionEvent::Manage, |_| Ok(())).await
                }
            }
            ProvisionVerb::Provide => {
                let maint_ok = self.cfg.allow_provisioning_in_maintenance;
                self.start_job(
                    uuid,
                    "provide",
                    ProvisionEvent::Provide,
                    Job::AutoClean,
                    move |n| {
                        if n.retired {
                            return Err(Error::invalid(format!("Node {} is retired and cannot be provided", n.uuid)));
                        }
                        if n.maintenance && !maint_ok {
                            return Err(Error::NodeInMaintenance { op: "provide".into(), node: n.uuid.to_string() });
                        }
                        Ok(())
                    },
                    |_| {},
                )
                .await
            }
            ProvisionVerb::Inspect => {
                let now = self.clock.now();
                self.start_job(uuid, "inspect", ProvisionEvent::Inspect, Job::Inspect, |_| Ok(()), move |n| {
                    n.inspection_started_at = Some(now);
                    n.inspection_finished_at = None;
                })
                .await
            }
            ProvisionVerb::Adopt => self.start_job(uuid, "adopt", ProvisionEvent::Adopt, Job::Adopt, |_| Ok(()), |_| {}).await,
            ProvisionVerb::Abort => self.abort(uuid).await,
            ProvisionVerb::Unhold => {
                self.sync_transition(uuid, "unhold", ProvisionEvent::Unhold, |_| Ok(())).await?;
                // Out of hold, the sequence continues with its next step.
                let me = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.continue_steps(uuid).await {
                        tracing::warn!(node = %uuid, error = %e, "continuing after unhold failed");
                    }
                });
                Ok(ConductorReply::Accepted)
            }
            ProvisionVerb::Active | ProvisionVerb::Rebuild => {
                self.do_node_deploy(uuid, action == ProvisionVerb::Rebuild, None, None).await
            }
            ProvisionVerb::Deleted => self.do_node_tear_down(uuid).await,
            ProvisionVerb::Clean | ProvisionVerb::Rescue | ProvisionVerb::Unrescue | ProvisionVerb::Service => {
                Err(Error::invalid(format!("{} needs its own call with its parameters", action.as_str())))
            }
        }
    }

    /// A transition with no background work (e.g. available → manageable), under the lock.
    async fn sync_transition(
        self: &Arc<Self>,
        uuid: Uuid,
        verb: &str,
        event: ProvisionEvent,
        mut check: impl FnMut(&Node) -> Result<(), Error>,
    ) -> Result<ConductorReply, Error> {
        let now = self.clock.now();
        let task = self
            .lock_node(uuid, verb, Patience::Normal, |n| {
                check(n)?;
                let next = transition(n.provision_state, event).ok_or_else(|| invalid_state(verb, n))?;
                let mut n = n.clone();
                n.enter_state(next, now);
                Ok(Some(n))
            })
            .await?;
        task.release().await?;
        Ok(ConductorReply::Accepted)
    }

    async fn abort(self: &Arc<Self>, uuid: Uuid) -> Result<ConductorReply, Error> {
        let now = self.clock.now();
        let task = self
            .lock_node(uuid, "abort", Patience::Normal, |n| {
                let next = transition(n.provision_state, ProvisionEvent::Abort).ok_or_else(|| invalid_state("abort", n))?;
                let mut n = n.clone();
                let prev = n.provision_state;
                let target = n.target_provision_state;
                n.enter_state(next, now);
                if next.is_failure() {
                    // Failure states keep the target, so clients can tell what failed.
                    n.target_provision_state = target.or(prev.fsm_target());
                    n.last_error = Some(format!("{} aborted by request", prev));
                }
                if matches!(prev, ProvisionState::CleanWait | ProvisionState::CleanHold) {
                    n.clean_step = Default::default();
                }
                if matches!(prev, ProvisionState::ServiceWait | ProvisionState::ServiceHold) {
                    n.service_step = Default::default();
                }
                Ok(Some(n))
            })
            .await?;
        let ifaces = self.drivers.for_node(&task.node)?;
        let mut task = task;
        if task.node.provision_state == ProvisionState::InspectFail {
            let mut ctx = task.context();
            if let Err(e) = self.bounded(ifaces.inspect.abort(&mut ctx)).await {
                ctx.node.last_error = Some(format!("Failed to abort inspection: {e}"));
            }
            task.absorb(ctx).await?;
        }
        task.finish().await?;
        Ok(ConductorReply::Accepted)
    }

    pub(crate) async fn do_node_deploy(
        self: &Arc<Self>,
        uuid: Uuid,
        rebuild: bool,
        configdrive: Option<Value>,
        deploy_steps: Option<Vec<Value>>,
    ) -> Result<ConductorReply, Error> {
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        let ifaces = self.drivers.for_node(&node)?;
        let ctx = TaskContext::new((*node).clone(), self.me.clone());
        ifaces.power.validate(&ctx)?;
        ifaces.deploy.validate(&ctx)?;
        ifaces.boot.validate(&ctx)?;
        let user = match &deploy_steps {
            Some(raw) => steps::parse_user_steps(StepKind::Deploy, raw, &ifaces, true)?,
            None => Vec::new(),
        };
        let plan = steps::deploy_plan(&ifaces, &user);
        let event = if rebuild { ProvisionEvent::Rebuild } else { ProvisionEvent::Deploy };
        let verb = if rebuild { "rebuild" } else { "active" };
        let maint_ok = self.cfg.allow_provisioning_in_maintenance;
        // Once every member speaks schema 2, the drive is written once, apart from the node
        // record, instead of riding along with every later write of the node (and staying in
        // every member's memory) until undeploy; before that, inline as Ironic keeps it.
        let (apart, inline) = match configdrive {
            Some(cd) if self.read(|s| s.active_schema()) >= 2 => (Some(ConfigDrive::new(cd)), None),
            other => (None, other),
        };
        self.start_job_carrying(
            uuid,
            verb,
            event,
            Job::Deploy(plan),
            apart,
            move |n| {
                if n.maintenance && !maint_ok {
                    return Err(Error::NodeInMaintenance { op: "provisioning".into(), node: n.uuid.to_string() });
                }
                if rebuild && n.protected {
                    return Err(Error::InvalidState {
                        message: format!("Node {} is protected and cannot be undeployed, rebuilt or deleted", n.uuid),
                    });
                }
                Ok(())
            },
            move |n| {
                if let Some(cd) = &inline {
                    n.instance_info.insert(CONFIGDRIVE.into(), cd.clone());
                }
                n.deploy_step = Default::default();
            },
        )
        .await
    }

    pub(crate) async fn do_node_tear_down(self: &Arc<Self>, uuid: Uuid) -> Result<ConductorReply, Error> {
        self.start_job(
            uuid,
            "deleted",
            ProvisionEvent::Delete,
            Job::TearDown,
            |n| {
                if n.protected {
                    return Err(Error::InvalidState {
                        message: format!("Node {} is protected and cannot be undeployed, rebuilt or deleted", n.uuid),
                    });
                }
                Ok(())
            },
            |_| {},
        )
        .await
    }

    pub(crate) async fn do_node_clean(self: &Arc<Self>, uuid: Uuid, clean_steps: Vec<Value>, _disable_ramdisk: bool) -> Result<ConductorReply, Error> {
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        let ifaces = self.drivers.for_node(&node)?;
        if clean_steps.is_empty() {
            return Err(Error::invalid("clean_steps must not be empty for manual cleaning"));
        }
        let steps = steps::parse_user_steps(StepKind::Clean, &clean_steps, &ifaces, false)?;
        let maint_ok = self.cfg.allow_provisioning_in_maintenance;
        self.start_job(
            uuid,
            "clean",
            ProvisionEvent::Clean,
            Job::ManualClean(steps),
            move |n| {
                if n.maintenance && !maint_ok {
                    return Err(Error::NodeInMaintenance { op: "cleaning".into(), node: n.uuid.to_string() });
                }
                Ok(())
            },
            // Manual cleaning returns to manageable.
            |n| n.target_provision_state = Some(ProvisionState::Manageable),
        )
        .await
    }

    pub(crate) async fn do_node_service(self: &Arc<Self>, uuid: Uuid, service_steps: Vec<Value>, _disable_ramdisk: bool) -> Result<ConductorReply, Error> {
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        let ifaces = self.drivers.for_node(&node)?;
        if service_steps.is_empty() {
            return Err(Error::invalid("service_steps must not be empty"));
        }
        let steps = steps::parse_user_steps(StepKind::Service, &service_steps, &ifaces, false)?;
        self.start_job(uuid, "service", ProvisionEvent::Service, Job::Service(steps), |_| Ok(()), |_| {}).await
    }

    pub(crate) async fn do_node_rescue(self: &Arc<Self>, uuid: Uuid, rescue_password: String) -> Result<ConductorReply, Error> {
        if rescue_password.trim().is_empty() {
            return Err(Error::missing("A non-empty rescue_password is required"));
        }
        self.start_job(uuid, "rescue", ProvisionEvent::Rescue, Job::Rescue, |_| Ok(()), move |n| {
            n.instance_info.insert("rescue_password".into(), Value::String(rescue_password.clone()));
        })
        .await
    }

    pub(crate) async fn do_node_unrescue(self: &Arc<Self>, uuid: Uuid) -> Result<ConductorReply, Error> {
        self.start_job(uuid, "unrescue", ProvisionEvent::Unrescue, Job::Unrescue, |_| Ok(()), |_| {}).await
    }

    pub(crate) async fn inspect_hardware(self: &Arc<Self>, uuid: Uuid) -> Result<ConductorReply, Error> {
        self.do_provisioning_action(uuid, ProvisionVerb::Inspect).await
    }

    /// Continues a step sequence from a wait state (agent callback, driver poll, unhold).
    pub(crate) async fn continue_steps(self: &Arc<Self>, uuid: Uuid) -> Result<(), Error> {
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        let ifaces = self.drivers.for_node(&node)?;
        let permit = self.try_worker()?;
        let now = self.clock.now();
        let task = self
            .lock_node(uuid, "continue steps", Patience::Normal, |n| {
                let next = transition(n.provision_state, ProvisionEvent::Resume)
                    .ok_or_else(|| invalid_state("continue", n))?;
                let mut n = n.clone();
                let target = n.target_provision_state;
                n.enter_state(next, now);
                // Manual cleaning keeps its manageable target.
                if target == Some(ProvisionState::Manageable) && next == ProvisionState::Cleaning {
                    n.target_provision_state = target;
                }
                Ok(Some(n))
            })
            .await?;
        let me = self.clone();
        self.spawn_worker(permit, "continue", async move {
            me.run_job(task, ifaces, Job::Continue).await;
        });
        Ok(())
    }

    // ------------------------------------------------------------------ workers

    async fn run_job(self: Arc<Self>, mut task: Task, ifaces: NodeInterfaces, job: Job) {
        let uuid = task.uuid();
        let result = self.clone().job_body(&mut task, &ifaces, job).await;
        let outcome = match result {
            Ok(Finish::Event(ev)) => self.finish_with(task, Some(ev), None).await,
            Ok(Finish::Parked) => Ok(()),
            Err(e) => {
                tracing::warn!(node = %uuid, error = %e, "provisioning failed");
                self.finish_with(task, Some(ProvisionEvent::Fail), Some(e.to_string())).await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(node = %uuid, error = %e, "could not record the end of a provision job");
        }
    }

    /// Applies the closing event, records the error, writes and releases.
    async fn finish_with(&self, mut task: Task, event: Option<ProvisionEvent>, error: Option<String>) -> Result<(), Error> {
        if let Some(ev) = event {
            let from = task.node.provision_state;
            let wrong = self.wrong_transition.load(std::sync::atomic::Ordering::Relaxed)
                && from == ProvisionState::Deploying
                && ev == ProvisionEvent::Done;
            if wrong {
                task.node.enter_state(ProvisionState::Available, self.clock.now());
            } else if let Some(next) = transition(from, ev) {
                let target = task.node.target_provision_state;
                task.node.enter_state(next, self.clock.now());
                if next.is_failure() {
                    task.node.target_provision_state = target.or(from.fsm_target());
                }
                if ev == ProvisionEvent::Fail && from == ProvisionState::Cleaning && task.node.clean_step.get("step").is_some() {
                    task.node.maintenance = true;
                    task.node.fault = Some("clean failure".into());
                    task.node.maintenance_reason = error.clone();
                }
            }
        }
        if let Some(e) = error {
            task.node.last_error = Some(e);
        }
        task.finish().await.map(|_| ())
    }

    async fn job_body(self: Arc<Self>, task: &mut Task, ifaces: &NodeInterfaces, job: Job) -> Result<Finish, Error> {
        match job {
            Job::Verify => {
                task.ensure_current().await?;
                let ctx = task.context();
                ifaces.management.validate(&ctx)?;
                // Ironic stores whatever the driver answered (fake power may not know yet).
                let ps = self.bounded(ifaces.power.get_power_state_if_known(&ctx)).await?;
                task.node.power_state = ps;
                Ok(Finish::Event(ProvisionEvent::Done))
            }
            Job::AutoClean => {
                if !task.node.automated_clean_enabled(self.cfg.automated_clean) {
                    return Ok(Finish::Event(ProvisionEvent::Done));
                }
                let plan = steps::automated(StepKind::Clean, ifaces);
                self.run_steps(task, ifaces, StepKind::Clean, plan, 0, true).await
            }
            Job::ManualClean(plan) => self.run_steps(task, ifaces, StepKind::Clean, plan, 0, true).await,
            Job::Service(plan) => self.run_steps(task, ifaces, StepKind::Service, plan, 0, true).await,
            Job::Deploy(plan) => self.run_steps(task, ifaces, StepKind::Deploy, plan, 0, true).await,
            Job::Continue => {
                let kind = kind_of(task.node.provision_state).ok_or_else(|| Error::internal("nothing to continue"))?;
                let plan: Vec<Step> = task
                    .node
                    .driver_internal_info
                    .get(&key(kind, "steps"))
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| Error::internal(format!("stored steps unreadable: {e}")))?
                    .unwrap_or_default();
                // -1 means "prepared, no step run yet" (a prepare that waited for the agent).
                let idx = task.node.driver_internal_info.get(&key(kind, "step_index")).and_then(|v| v.as_i64()).unwrap_or(-1);
                let start = (idx + 1).max(0) as usize;
                self.run_steps(task, ifaces, kind, plan, start, false).await
            }
            Job::TearDown => {
                task.ensure_current().await?;
                let mut ctx = task.context();
                self.bounded(ifaces.deploy.tear_down(&mut ctx)).await?;
                self.bounded(ifaces.deploy.clean_up(&mut ctx)).await?;
                self.bounded(ifaces.network.unconfigure_tenant_networks(&mut ctx)).await?;
                ctx.node.instance_info = Default::default();
                ctx.node.instance_uuid = None;
                ctx.node.instance_name = None;
                ctx.node.conductor_affinity = None;
                for k in ["agent_url", "agent_secret_token", "deploy_steps", "deploy_step_index"] {
                    ctx.node.driver_internal_info.remove(k);
                }
                task.absorb(ctx).await?;
                // deleting → cleaning, then automated cleaning → available.
                let now = self.clock.now();
                let next = transition(task.node.provision_state, ProvisionEvent::Clean)
                    .ok_or_else(|| Error::internal("tear down cannot enter cleaning"))?;
                task.node.enter_state(next, now);
                task.save().await?;
                if !task.node.automated_clean_enabled(self.cfg.automated_clean) {
                    return Ok(Finish::Event(ProvisionEvent::Done));
                }
                let plan = steps::automated(StepKind::Clean, ifaces);
                self.run_steps(task, ifaces, StepKind::Clean, plan, 0, true).await
            }
            Job::Inspect => {
                task.ensure_current().await?;
                let mut ctx = task.context();
                ifaces.inspect.validate(&ctx)?;
                let r = self.bounded(ifaces.inspect.inspect_hardware(&mut ctx)).await?;
                task.absorb(ctx).await?;
                match r {
                    StepResult::Done => {
                        task.node.inspection_finished_at = Some(self.clock.now());
                        Ok(Finish::Event(ProvisionEvent::Done))
                    }
                    StepResult::Wait => self.park(task, ProvisionEvent::Wait).await,
                }
            }
            Job::Adopt => {
                task.ensure_current().await?;
                let mut ctx = task.context();
                ifaces.boot.validate(&ctx)?;
                ifaces.deploy.validate(&ctx)?;
                self.bounded(ifaces.deploy.prepare(&mut ctx)).await?;
                self.bounded(ifaces.deploy.take_over(&mut ctx)).await?;
                ctx.node.conductor_affinity = Some(self.me.clone());
                task.absorb(ctx).await?;
                Ok(Finish::Event(ProvisionEvent::Done))
            }
            Job::Rescue => {
                task.ensure_current().await?;
                let mut ctx = task.context();
                ifaces.rescue.validate(&ctx)?;
                let r = self.bounded(ifaces.rescue.rescue(&mut ctx)).await?;
                task.absorb(ctx).await?;
                match r {
                    StepResult::Done => Ok(Finish::Event(ProvisionEvent::Done)),
                    StepResult::Wait => self.park(task, ProvisionEvent::Wait).await,
                }
            }
            Job::Unrescue => {
                task.ensure_current().await?;
                let mut ctx = task.context();
                self.bounded(ifaces.rescue.unrescue(&mut ctx)).await?;
                ctx.node.instance_info.remove("rescue_password");
                task.absorb(ctx).await?;
                Ok(Finish::Event(ProvisionEvent::Done))
            }
        }
    }

    /// Parks the node in a wait/hold state and releases the lock (the work continues later).
    async fn park(&self, task: &mut Task, event: ProvisionEvent) -> Result<Finish, Error> {
        let from = task.node.provision_state;
        let next = transition(from, event).ok_or_else(|| Error::internal(format!("cannot {event} from {from}")))?;
        let target = task.node.target_provision_state;
        task.node.enter_state(next, self.clock.now());
        if target == Some(ProvisionState::Manageable) {
            task.node.target_provision_state = target;
        }
        let node = task.node.clone();
        // Write and release; the Task's Drop sees it done.
        let placeholder = std::mem::replace(task, task_placeholder(task));
        let mut t = placeholder;
        t.node = node;
        t.finish().await?;
        Ok(Finish::Parked)
    }

    /// Runs `plan[start..]`; the plan and the index are kept in `driver_internal_info` so a wait
    /// (or a take-over) can continue it.
    async fn run_steps(
        &self,
        task: &mut Task,
        ifaces: &NodeInterfaces,
        kind: StepKind,
        plan: Vec<Step>,
        start: usize,
        fresh: bool,
    ) -> Result<Finish, Error> {
        if fresh && kind == StepKind::Clean {
            task.ensure_current().await?;
            let mut ctx = task.context();
            self.bounded(ifaces.network.add_cleaning_network(&mut ctx)).await?;
            let r = self.bounded(ifaces.deploy.prepare_cleaning(&mut ctx)).await?;
            task.absorb(ctx).await?;
            if r == StepResult::Wait {
                task.node.driver_internal_info.insert(key(kind, "steps"), serde_json::to_value(&plan).unwrap_or(Value::Null));
                task.node.driver_internal_info.insert(key(kind, "step_index"), Value::from(-1i64));
                return self.park(task, ProvisionEvent::Wait).await;
            }
        }
        if fresh && kind == StepKind::Service {
            task.ensure_current().await?;
            let mut ctx = task.context();
            let r = self.bounded(ifaces.deploy.prepare_service(&mut ctx)).await?;
            task.absorb(ctx).await?;
            if r == StepResult::Wait {
                task.node.driver_internal_info.insert(key(kind, "steps"), serde_json::to_value(&plan).unwrap_or(Value::Null));
                task.node.driver_internal_info.insert(key(kind, "step_index"), Value::from(-1i64));
                return self.park(task, ProvisionEvent::Wait).await;
            }
        }
        task.node.driver_internal_info.insert(key(kind, "steps"), serde_json::to_value(&plan).unwrap_or(Value::Null));
        for (i, step) in plan.iter().enumerate().skip(start) {
            task.node.driver_internal_info.insert(key(kind, "step_index"), Value::from(i as u64));
            let dict = step_dict(step);
            match kind {
                StepKind::Clean => task.node.clean_step = dict,
                StepKind::Deploy => task.node.deploy_step = dict,
                StepKind::Service => task.node.service_step = dict,
                StepKind::Verify => {}
            }
            task.ensure_current().await?;
            match step.step.as_str() {
                "hold" => return self.park(task, ProvisionEvent::Hold).await,
                "wait" => {
                    let s = step.args.get("seconds").and_then(|v| v.as_f64()).unwrap_or(0.0).clamp(0.0, 30.0);
                    if s > 0.0 {
                        tokio::time::sleep(Duration::from_secs_f64(s)).await;
                    }
                    continue;
                }
                "power_on" | "power_off" | "reboot" => {
                    let mut ctx = task.context();
                    match step.step.as_str() {
                        "power_on" => self.bounded(ifaces.power.set_power_state(&mut ctx, PowerAction::On, None)).await?,
                        "power_off" => self.bounded(ifaces.power.set_power_state(&mut ctx, PowerAction::Off, None)).await?,
                        _ => self.bounded(ifaces.power.reboot(&mut ctx, false, None)).await?,
                    }
                    ctx.node.power_state = Some(if step.step == "power_off" { PowerState::Off } else { PowerState::On });
                    task.absorb(ctx).await?;
                    continue;
                }
                _ => {}
            }
            let mut ctx = task.context();
            let r = if kind == StepKind::Deploy && step.interface == InterfaceKind::Deploy && step.step == "deploy" {
                let r = self.bounded(ifaces.deploy.deploy(&mut ctx)).await?;
                ctx.node.conductor_affinity = Some(self.me.clone());
                r
            } else {
                self.bounded(ifaces.base(step.interface).execute_step(&mut ctx, kind, step)).await?
            };
            task.absorb(ctx).await?;
            if r == StepResult::Wait {
                return self.park(task, ProvisionEvent::Wait).await;
            }
        }
        // Sequence done.
        let mut ctx = task.context();
        match kind {
            StepKind::Clean => {
                self.bounded(ifaces.deploy.tear_down_cleaning(&mut ctx)).await?;
                self.bounded(ifaces.network.remove_cleaning_network(&mut ctx)).await?;
                ctx.node.clean_step = Default::default();
            }
            StepKind::Service => {
                self.bounded(ifaces.deploy.tear_down_service(&mut ctx)).await?;
                ctx.node.service_step = Default::default();
            }
            StepKind::Deploy => {
                ctx.node.deploy_step = Default::default();
                ctx.node.conductor_affinity = Some(self.me.clone());
            }
            StepKind::Verify => {}
        }
        ctx.node.driver_internal_info.remove(&key(kind, "steps"));
        ctx.node.driver_internal_info.remove(&key(kind, "step_index"));
        task.absorb(ctx).await?;
        let manual = task.node.target_provision_state == Some(ProvisionState::Manageable);
        Ok(Finish::Event(if kind == StepKind::Clean && manual { ProvisionEvent::Manage } else { ProvisionEvent::Done }))
    }

    /// A power action on a worker, under the lock taken by `change_power_state`.
    pub(crate) async fn run_power_action(self: Arc<Self>, mut task: Task, ifaces: NodeInterfaces, target: PowerAction, timeout: Option<u64>) {
        let uuid = task.uuid();
        let r = async {
            let mut ctx = task.context();
            let t = timeout.map(|s| Duration::from_secs(s)).or_else(|| {
                Some(secs(match target {
                    PowerAction::SoftOff | PowerAction::SoftReboot => self.cfg.soft_power_off_timeout,
                    _ => self.cfg.power_state_change_timeout,
                }))
            });
            match target {
                PowerAction::On | PowerAction::Off => {
                    let current = self.bounded(ifaces.power.get_power_state(&ctx)).await?;
                    if current != target.resulting_state() {
                        task.ensure_current().await?;
                        self.bounded(ifaces.power.set_power_state(&mut ctx, target, t)).await?;
                    }
                }
                // The lock is checked right before each actuating BMC call (reads need no check).
                PowerAction::SoftOff => {
                    task.ensure_current().await?;
                    self.bounded(ifaces.power.set_power_state(&mut ctx, target, t)).await?
                }
                PowerAction::Reboot => {
                    task.ensure_current().await?;
                    self.bounded(ifaces.power.reboot(&mut ctx, false, t)).await?
                }
                PowerAction::SoftReboot => {
                    task.ensure_current().await?;
                    self.bounded(ifaces.power.reboot(&mut ctx, true, t)).await?
                }
            }
            if target.powers_off() {
                ctx.node.driver_internal_info.remove("agent_secret_token");
                ctx.node.driver_internal_info.remove("agent_url");
            }
            Ok::<TaskContext, Error>(ctx)
        }
        .await;
        match r {
            Ok(ctx) => {
                if let Err(e) = task.absorb(ctx).await {
                    tracing::warn!(node = %uuid, error = %e, "saving driver changes failed");
                }
                task.node.power_state = Some(target.resulting_state());
                task.node.target_power_state = None;
            }
            Err(e) => {
                task.node.target_power_state = None;
                task.node.last_error = Some(format!(
                    "Failed to change power state to '{}' by '{}'. Error: {}",
                    target.resulting_state(),
                    target.as_str(),
                    e
                ));
            }
        }
        if let Err(e) = task.finish().await {
            tracing::warn!(node = %uuid, error = %e, "recording the end of a power action failed");
        }
    }
}

/// How a job ended.
pub(crate) enum Finish {
    /// Apply this event, write and release.
    Event(ProvisionEvent),
    /// Already written and released (parked in a wait or hold state).
    Parked,
}

/// A stand-in left in a `&mut Task` after the real one was consumed by `park` (already done, so
/// its drop releases nothing).
fn task_placeholder(t: &Task) -> Task {
    Task {
        node: t.node.clone(),
        token: t.token.clone(),
        conductor: t.conductor.clone(),
        ports: Vec::new(),
        portgroups: Vec::new(),
        done: true,
    }
}
