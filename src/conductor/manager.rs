//! The conductor RPC methods (Ironic's ConductorManager), one arm each.

use super::task::Patience;
use super::{secs, Conductor};
use ferric_drivers::TaskContext;
use ferric_model::interfaces::resolve_interfaces;
use ferric_model::rpc::{ConductorReply, ConductorRequest, InterfaceValidation};
use ferric_model::{Applied, Command, Error, InterfaceKind, Node, PowerAction, ProvisionState};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

fn reply_of(applied: Applied) -> ConductorReply {
    match applied {
        Applied::Node(n) => ConductorReply::Node { node: n },
        Applied::Locked { node, .. } => ConductorReply::Node { node },
        Applied::Port(p) => ConductorReply::Port { port: p },
        Applied::Portgroup(p) => ConductorReply::Portgroup { portgroup: p },
        Applied::Chassis(c) => ConductorReply::Chassis { chassis: c },
        Applied::VolumeConnector(c) => ConductorReply::VolumeConnector { connector: c },
        Applied::VolumeTarget(t) => ConductorReply::VolumeTarget { target: t },
        Applied::Done => ConductorReply::Done,
    }
}

impl Conductor {
    async fn propose(&self, cmd: Command) -> Result<ConductorReply, Error> {
        Ok(reply_of(self.cluster.propose(cmd).await?.into_result()?))
    }

    /// Record changes: decided by the state machine in one command, on any member.
    pub(crate) async fn handle_record(self: &Arc<Self>, req: ConductorRequest) -> Result<ConductorReply, Error> {
        let now = self.clock.now();
        use ConductorRequest as R;
        match req {
            R::CreateNode { mut node } => {
                self.read(|s| resolve_interfaces(&mut node, &s.conductors))?;
                self.propose(Command::CreateNode { node, now }).await
            }
            R::UpdateNode { mut node, expected_revision, reset_interfaces } => {
                let cur = self.read(|s| s.nodes.get(&node.uuid).cloned()).ok_or(Error::NodeNotFound { node: node.uuid.to_string() })?;
                let driver_changed = cur.driver != node.driver;
                let group_changed = cur.conductor_group != node.conductor_group;
                if driver_changed && cur.console_enabled {
                    return Err(Error::conflict(format!(
                        "Node {} can not update the driver while the console is enabled. Please stop the console first.",
                        cur.uuid
                    )));
                }
                let iface_changed = InterfaceKind::ALL.iter().any(|k| cur.interface(*k) != node.interface(*k));
                if driver_changed && reset_interfaces {
                    for k in InterfaceKind::ALL {
                        if cur.interface(k) == node.interface(k) {
                            node.interface_mut(k).clear();
                        }
                    }
                }
                if driver_changed || group_changed || iface_changed {
                    self.read(|s| resolve_interfaces(&mut node, &s.conductors)).map_err(|e| {
                        if driver_changed && !reset_interfaces {
                            Error::invalid(format!("{e} (set reset_interfaces=true to reset the interfaces to the new driver's defaults)"))
                        } else {
                            e
                        }
                    })?;
                }
                self.propose(Command::UpdateNode { node, expected_revision, lock: None, now }).await
            }
            R::DestroyNode { node } => {
                let cur = self.read(|s| s.nodes.get(&node).cloned()).ok_or(Error::NodeNotFound { node: node.to_string() })?;
                check_destroyable(&cur)?;
                self.propose(Command::DeleteNode { uuid: node, expected_revision: Some(cur.revision), lock: None, now }).await
            }
            R::CreatePort { port } => self.propose(Command::CreatePort { port, lock: None, now }).await,
            R::UpdatePort { port, expected_revision } => {
                self.propose(Command::UpdatePort { port, expected_revision, lock: None, now }).await
            }
            R::DestroyPort { port } => self.propose(Command::DeletePort { uuid: port, lock: None, now }).await,
            R::CreatePortgroup { portgroup } => self.propose(Command::CreatePortgroup { portgroup, lock: None, now }).await,
            R::UpdatePortgroup { portgroup, expected_revision } => {
                self.propose(Command::UpdatePortgroup { portgroup, expected_revision, lock: None, now }).await
            }
            R::DestroyPortgroup { portgroup } => self.propose(Command::DeletePortgroup { uuid: portgroup, lock: None, now }).await,
            R::CreateChassis { chassis } => self.propose(Command::CreateChassis { chassis, now }).await,
            R::UpdateChassis { chassis, expected_revision } => {
                self.propose(Command::UpdateChassis { chassis, expected_revision, now }).await
            }
            R::DestroyChassis { chassis } => self.propose(Command::DeleteChassis { uuid: chassis, now }).await,
            R::CreateVolumeConnector { connector } => {
                self.propose(Command::CreateVolumeConnector { connector, lock: None, now }).await
            }
            R::UpdateVolumeConnector { connector, expected_revision } => {
                self.check_powered_off(connector.node_uuid)?;
                self.propose(Command::UpdateVolumeConnector { connector, expected_revision, lock: None, now }).await
            }
            R::DestroyVolumeConnector { connector } => {
                if let Some(n) = self.read(|s| s.volume_connectors.get(&connector).map(|c| c.node_uuid)) {
                    self.check_powered_off(n)?;
                }
                self.propose(Command::DeleteVolumeConnector { uuid: connector, lock: None, now }).await
            }
            R::CreateVolumeTarget { target } => self.propose(Command::CreateVolumeTarget { target, lock: None, now }).await,
            R::UpdateVolumeTarget { target, expected_revision } => {
                self.check_powered_off(target.node_uuid)?;
                self.propose(Command::UpdateVolumeTarget { target, expected_revision, lock: None, now }).await
            }
            R::DestroyVolumeTarget { target } => {
                if let Some(n) = self.read(|s| s.volume_targets.get(&target).map(|t| t.node_uuid)) {
                    self.check_powered_off(n)?;
                }
                self.propose(Command::DeleteVolumeTarget { uuid: target, lock: None, now }).await
            }
            other => Err(Error::internal(format!("{} is not a record call", other.method()))),
        }
    }

    fn check_powered_off(&self, node: Uuid) -> Result<(), Error> {
        let ps = self.read(|s| s.nodes.get(&node).map(|n| n.power_state));
        match ps {
            None => Err(Error::NodeNotFound { node: node.to_string() }),
            Some(Some(ferric_model::PowerState::On)) => Err(Error::InvalidState {
                message: format!("The requested action can not be performed on node {node} while it is powered on."),
            }),
            _ => Ok(()),
        }
    }

    /// Driver-level calls, served by any member that has the driver.
    pub(crate) async fn handle_driver(self: &Arc<Self>, req: ConductorRequest) -> Result<ConductorReply, Error> {
        use ConductorRequest as R;
        match req {
            R::GetDriverProperties { driver } => Ok(ConductorReply::Properties { properties: self.drivers.properties(&driver)? }),
            R::GetRaidLogicalDiskProperties { driver } => {
                Ok(ConductorReply::Properties { properties: self.drivers.raid_logical_disk_properties(&driver)? })
            }
            R::GetDriverVendorPassthruMethods { driver } => {
                let methods = self.drivers.driver_vendor(&driver)?.driver_methods();
                Ok(ConductorReply::VendorMethods { methods: vendor_methods_json(&methods) })
            }
            R::DriverVendorPassthru { driver, method, http_method, info } => {
                let vendor = self.drivers.driver_vendor(&driver)?;
                let methods = vendor.driver_methods();
                let m = methods.get(&method).ok_or_else(|| Error::invalid(format!("No handler for method {method}")))?;
                check_http_method(m, &http_method, &method)?;
                let rv = self.bounded(vendor.driver_call(&method, &http_method, &info)).await?;
                Ok(ConductorReply::VendorResult { return_value: rv, is_async: m.is_async, attach: m.attach })
            }
            R::GetTopicForDriver { driver } => {
                let hosts = self.ring().hosts_for_driver(&driver);
                match hosts.first() {
                    Some(h) => Ok(ConductorReply::Topic { topic: format!("ironic.conductor_manager.{h}") }),
                    None => Err(super::router::no_conductor(&driver, "")),
                }
            }
            other => Err(Error::internal(format!("{} is not a driver call", other.method()))),
        }
    }

    /// Node calls, on the node's owner.
    pub(crate) async fn handle_node(self: &Arc<Self>, uuid: Uuid, req: ConductorRequest) -> Result<ConductorReply, Error> {
        use ConductorRequest as R;
        match req {
            R::ChangeNodePowerState { target, timeout, .. } => self.change_power_state(uuid, target, timeout).await,
            R::GetBootDevice { .. } => {
                let (ctx, ifaces) = self.shared(uuid)?;
                let d = self.bounded(ifaces.management.get_boot_device(&ctx)).await?;
                Ok(ConductorReply::BootDevice { boot_device: d.boot_device, persistent: d.persistent })
            }
            R::GetSupportedBootDevices { .. } => {
                let (ctx, ifaces) = self.shared(uuid)?;
                let devices = self.bounded(ifaces.management.get_supported_boot_devices(&ctx)).await?;
                Ok(ConductorReply::SupportedBootDevices { devices })
            }
            R::SetBootDevice { device, persistent, .. } => {
                self.locked_action(uuid, "setting boot device", move |c, mut ctx, ifaces| async move {
                    let supported = c.bounded(ifaces.management.get_supported_boot_devices(&ctx)).await?;
                    if !supported.contains(&device) {
                        return Err(Error::invalid(format!(
                            "Invalid boot device {device} specified. Supported boot devices: {}",
                            supported.join(", ")
                        )));
                    }
                    c.bounded(ifaces.management.set_boot_device(&mut ctx, &device, persistent)).await?;
                    Ok(ctx)
                })
                .await
            }
            R::InjectNmi { .. } => {
                self.locked_action(uuid, "inject nmi", |c, mut ctx, ifaces| async move {
                    c.bounded(ifaces.management.inject_nmi(&mut ctx)).await?;
                    Ok(ctx)
                })
                .await
            }
            R::SetBootMode { mode, .. } => {
                self.check_not_transient(uuid, "boot mode")?;
                self.locked_action(uuid, "setting boot mode", move |c, mut ctx, ifaces| async move {
                    c.bounded(ifaces.management.set_boot_mode(&mut ctx, &mode)).await?;
                    ctx.node.boot_mode = Some(mode.clone());
                    Ok(ctx)
                })
                .await
            }
            R::SetSecureBootState { enabled, .. } => {
                self.check_not_transient(uuid, "secure boot")?;
                self.locked_action(uuid, "setting secure boot", move |c, mut ctx, ifaces| async move {
                    c.bounded(ifaces.management.set_secure_boot_state(&mut ctx, enabled)).await?;
                    ctx.node.secure_boot = Some(enabled);
                    Ok(ctx)
                })
                .await
            }
            R::GetConsoleInformation { .. } => {
                let (ctx, ifaces) = self.shared(uuid)?;
                ifaces.console.validate(&ctx)?;
                if !ctx.node.console_enabled {
                    return Ok(ConductorReply::ConsoleInformation { console_enabled: false, console_info: None });
                }
                let info = self.bounded(ifaces.console.get_console(&ctx)).await?;
                Ok(ConductorReply::ConsoleInformation { console_enabled: true, console_info: Some(info) })
            }
            R::SetConsoleMode { enabled, .. } => self.set_console_mode(uuid, enabled).await,
            R::SetTargetRaidConfig { target_raid_config, .. } => {
                let (ctx, ifaces) = self.shared(uuid)?;
                ifaces.raid.validate(&ctx)?;
                if !target_raid_config.is_empty() {
                    ifaces.raid.validate_raid_config(&ctx, &target_raid_config)?;
                }
                let task = self
                    .lock_node(uuid, "setting target raid config", Patience::Normal, |n| {
                        let mut n = n.clone();
                        n.target_raid_config = target_raid_config.clone();
                        Ok(Some(n))
                    })
                    .await?;
                task.release().await?;
                Ok(ConductorReply::Done)
            }
            R::ValidateDriverInterfaces { .. } => {
                let (ctx, ifaces) = self.shared(uuid)?;
                let mut out = BTreeMap::new();
                // Ironic's validate reports every interface but vendor.
                for kind in InterfaceKind::ALL.into_iter().filter(|k| *k != InterfaceKind::Vendor) {
                    let v = match ifaces.base(kind).validate(&ctx) {
                        Ok(()) => InterfaceValidation { result: Some(true), reason: None },
                        Err(Error::UnsupportedDriverExtension { .. }) => InterfaceValidation {
                            result: None,
                            reason: Some(format!("not supported")),
                        },
                        Err(e) => InterfaceValidation { result: Some(false), reason: Some(e.to_string()) },
                    };
                    out.insert(kind.as_str().to_string(), v);
                }
                Ok(ConductorReply::Validation { interfaces: out })
            }
            R::GetNodeVendorPassthruMethods { .. } => {
                let (_, ifaces) = self.shared(uuid)?;
                Ok(ConductorReply::VendorMethods { methods: vendor_methods_json(&ifaces.vendor.methods()) })
            }
            R::VendorPassthru { method, http_method, info, .. } => self.vendor_passthru(uuid, method, http_method, info).await,
            R::VifList { .. } => {
                let (ctx, ifaces) = self.shared(uuid)?;
                Ok(ConductorReply::Vifs { vifs: self.bounded(ifaces.network.vif_list(&ctx)).await? })
            }
            R::VifAttach { vif_info, .. } => {
                let vif = vif_info.get("id").and_then(|v| v.as_str()).map(str::to_string);
                let Some(vif) = vif else { return Err(Error::missing("VIF ID is required")) };
                // A VIF attached anywhere else is refused.
                let elsewhere = self.read(|s| {
                    s.ports.values().find(|p| p.vif() == Some(vif.as_str())).map(|p| p.node_uuid).or_else(|| {
                        s.portgroups.values().find(|p| p.vif() == Some(vif.as_str())).map(|p| p.node_uuid)
                    })
                });
                if let Some(other) = elsewhere {
                    return Err(Error::VifAlreadyAttached { vif, node: other.to_string() });
                }
                self.locked_action(uuid, "attaching vif", move |c, mut ctx, ifaces| async move {
                    c.bounded(ifaces.network.vif_attach(&mut ctx, &vif_info)).await?;
                    Ok(ctx)
                })
                .await
            }
            R::VifDetach { vif_id, .. } => {
                self.locked_action(uuid, "detaching vif", move |c, mut ctx, ifaces| async move {
                    c.bounded(ifaces.network.vif_detach(&mut ctx, &vif_id)).await?;
                    Ok(ctx)
                })
                .await
            }
            R::GetTopicFor { .. } => {
                let ring = self.ring();
                let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
                let owner = self
                    .owner_in(&ring, &node)
                    .ok_or_else(|| super::router::no_conductor(&node.driver, &node.conductor_group))?;
                Ok(ConductorReply::Topic { topic: format!("ironic.conductor_manager.{owner}") })
            }
            R::DoNodeDeploy { rebuild, configdrive, deploy_steps, .. } => {
                self.do_node_deploy(uuid, rebuild, configdrive, deploy_steps).await
            }
            R::DoNodeTearDown { .. } => self.do_node_tear_down(uuid).await,
            R::DoProvisioningAction { action, .. } => self.do_provisioning_action(uuid, action).await,
            R::DoNodeClean { clean_steps, disable_ramdisk, .. } => self.do_node_clean(uuid, clean_steps, disable_ramdisk).await,
            R::ContinueNodeClean { .. } => {
                // A cast: start it, answer at once.
                let me = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.continue_steps(uuid).await {
                        tracing::warn!(node = %uuid, error = %e, "continue_node_clean failed");
                    }
                });
                Ok(ConductorReply::Accepted)
            }
            R::DoNodeRescue { rescue_password, .. } => self.do_node_rescue(uuid, rescue_password).await,
            R::DoNodeUnrescue { .. } => self.do_node_unrescue(uuid).await,
            R::DoNodeService { service_steps, disable_ramdisk, .. } => {
                self.do_node_service(uuid, service_steps, disable_ramdisk).await
            }
            R::InspectHardware { .. } => self.inspect_hardware(uuid).await,
            R::GetNodeWithToken { .. } => self.get_node_with_token(uuid).await,
            R::Heartbeat { callback_url, agent_version, agent_token, agent_verify_ca, agent_status, .. } => {
                self.heartbeat(uuid, callback_url, agent_version, agent_token, agent_verify_ca, agent_status).await
            }
            other => Err(Error::internal(format!("{} is not a node call", other.method()))),
        }
    }

    /// A shared (read-only) task: the node's context and interfaces, no lock.
    pub(crate) fn shared(&self, uuid: Uuid) -> Result<(TaskContext, ferric_drivers::NodeInterfaces), Error> {
        let (node, ports, portgroups) = self.read(|s| {
            (
                s.nodes.get(&uuid).cloned(),
                s.ports_of(uuid).map(|p| (**p).clone()).collect::<Vec<_>>(),
                s.portgroups_of(uuid).map(|p| (**p).clone()).collect::<Vec<_>>(),
            )
        });
        let node = node.ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        let ifaces = self.drivers.for_node(&node)?;
        let mut ctx = TaskContext::new((*node).clone(), self.me.clone());
        ctx.ports = ports;
        ctx.portgroups = portgroups;
        Ok((ctx, ifaces))
    }

    /// Bounds a driver call by the conductor's outer deadline and by this member's heartbeat
    /// lease: heartbeats committed during the call renew the lease, but a call still running
    /// when it lapses (the member is cut off from the leader, or was paused) is abandoned — so
    /// it can never overlap the actions of a member that took the node over. The lease is
    /// checked on every poll, before the call may make progress: a member resumed after a pause
    /// drops the call before it sends anything more (say, the power-on half of a reboot), even
    /// if a fresh heartbeat has renewed the lease meanwhile (a new lease epoch).
    pub(crate) async fn bounded<T>(&self, fut: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
        use std::future::Future as _;
        use std::task::Poll;
        // The negative control `skip_lock_check` (unsafe-test-switches builds only) drops this
        // guard too: a stale holder must be free to act for the Jepsen harness to see it.
        let guarded = !self.skip_lock_check;
        let (epoch, left) = self.lease_now();
        if guarded && left.is_zero() {
            return Err(Error::unavailable(format!(
                "conductor {} stops acting on BMCs: its registration is near its timeout",
                self.me
            )));
        }
        let lapsed = || {
            Error::unavailable(format!("conductor {} abandoned a driver call: its heartbeat lease lapsed", self.me))
        };
        let mut fut = std::pin::pin!(fut);
        let mut deadline = std::pin::pin!(tokio::time::sleep(secs(self.cfg.driver_call_timeout)));
        // Wakes the call up to re-check the lease (at most every 100 ms).
        let mut recheck = std::pin::pin!(tokio::time::sleep(left.min(Duration::from_millis(100))));
        std::future::poll_fn(|cx| {
            if guarded && !self.lease_holds(epoch) {
                return Poll::Ready(Err(lapsed()));
            }
            if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Error::DriverOperationError {
                    message: format!("driver call did not finish within {} s", self.cfg.driver_call_timeout),
                }));
            }
            if guarded {
                // Bounded: each reset moves the timer into the future, so this polls Pending
                // on the next round at the latest.
                for _ in 0..2 {
                    if recheck.as_mut().poll(cx).is_pending() {
                        break;
                    }
                    let next = self.lease_remaining().clamp(Duration::from_millis(1), Duration::from_millis(100));
                    recheck.as_mut().reset(tokio::time::Instant::now() + next);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// A synchronous action under the exclusive lock: lock, check the lock is current, act,
    /// write back what the driver changed, release.
    async fn locked_action<F, Fut>(self: &Arc<Self>, uuid: Uuid, purpose: &str, f: F) -> Result<ConductorReply, Error>
    where
        F: FnOnce(Arc<Conductor>, TaskContext, ferric_drivers::NodeInterfaces) -> Fut,
        Fut: std::future::Future<Output = Result<TaskContext, Error>>,
    {
        let mut task = self.lock_node(uuid, purpose, Patience::Normal, |_| Ok(None)).await?;
        let ifaces = self.drivers.for_node(&task.node)?;
        let res = async {
            task.ensure_current().await?;
            f(self.clone(), task.context(), ifaces).await
        }
        .await;
        match res {
            Ok(ctx) => {
                task.absorb(ctx).await?;
                task.finish().await?;
                Ok(ConductorReply::Done)
            }
            Err(e) => {
                let _ = task.release().await;
                Err(e)
            }
        }
    }

    fn check_not_transient(&self, uuid: Uuid, what: &str) -> Result<(), Error> {
        let st = self.read(|s| s.nodes.get(&uuid).map(|n| (n.provision_state, n.target_provision_state)));
        match st {
            None => Err(Error::NodeNotFound { node: uuid.to_string() }),
            Some((ps, target)) if !ps.is_stable() || target.is_some() => Err(Error::InvalidState {
                message: format!("Node {uuid} is in state {ps}; changing the {what} is not allowed in a transient state"),
            }),
            _ => Ok(()),
        }
    }

    async fn set_console_mode(self: &Arc<Self>, uuid: Uuid, enabled: bool) -> Result<ConductorReply, Error> {
        let (ctx, ifaces) = self.shared(uuid)?;
        ifaces.console.validate(&ctx)?;
        if ctx.node.console_enabled == enabled {
            return Ok(ConductorReply::Accepted);
        }
        let permit = self.try_worker()?;
        let task = self.lock_node(uuid, "setting console mode", Patience::Normal, |_| Ok(None)).await?;
        let me = self.clone();
        self.spawn_worker(permit, "console", async move {
            let mut task = task;
            let mut ctx = task.context();
            let r = async {
                task.ensure_current().await?;
                if enabled {
                    me.bounded(ifaces.console.start_console(&mut ctx)).await
                } else {
                    me.bounded(ifaces.console.stop_console(&mut ctx)).await
                }
            }
            .await;
            match r {
                Ok(()) => {
                    ctx.node.console_enabled = enabled;
                    ctx.node.last_error = None;
                }
                Err(e) => ctx.node.last_error = Some(format!("Failed to {} the console: {e}", if enabled { "start" } else { "stop" })),
            }
            let _ = task.absorb(ctx).await;
            if let Err(e) = task.finish().await {
                tracing::warn!(node = %uuid, error = %e, "saving console mode failed");
            }
        });
        Ok(ConductorReply::Accepted)
    }

    async fn vendor_passthru(
        self: &Arc<Self>,
        uuid: Uuid,
        method: String,
        http_method: String,
        info: serde_json::Value,
    ) -> Result<ConductorReply, Error> {
        let (_, ifaces) = self.shared(uuid)?;
        let methods = ifaces.vendor.methods();
        let m = methods.get(&method).cloned().ok_or_else(|| Error::invalid(format!("No handler for method {method}")))?;
        check_http_method(&m, &http_method, &method)?;
        let mut task = self.lock_node(uuid, "vendor passthru", Patience::Normal, |_| Ok(None)).await?;
        task.ensure_current().await?;
        let mut ctx = task.context();
        let rv = self.bounded(ifaces.vendor.call(&mut ctx, &method, &http_method, &info)).await;
        match rv {
            Ok(v) => {
                task.absorb(ctx).await?;
                task.finish().await?;
                Ok(ConductorReply::VendorResult { return_value: v, is_async: m.is_async, attach: m.attach })
            }
            Err(e) => {
                let _ = task.release().await;
                Err(e)
            }
        }
    }

    /// `change_node_power_state`: take the lock with the target recorded, answer 202, act.
    async fn change_power_state(self: &Arc<Self>, uuid: Uuid, target: PowerAction, timeout: Option<u64>) -> Result<ConductorReply, Error> {
        let (ctx, ifaces) = self.shared(uuid)?;
        ifaces.power.validate(&ctx)?;
        if target.powers_off() && ctx.node.disable_power_off {
            return Err(Error::invalid(format!("Node {uuid} has disable_power_off set; powering it off is not allowed")));
        }
        if matches!(target, PowerAction::SoftReboot | PowerAction::SoftOff)
            && !ifaces.power.supported_power_states(&ctx).contains(&target)
        {
            return Err(Error::invalid(format!(
                "The target state \"{}\" is not supported by the power interface of node {uuid}",
                target.as_str()
            )));
        }
        let permit = self.try_worker()?;
        let task = self
            .lock_node(uuid, "changing node power state", Patience::Normal, |n| {
                if matches!(n.provision_state, ProvisionState::Cleaning | ProvisionState::CleanWait) {
                    return Err(Error::invalid(format!(
                        "Can not change power state of node {uuid} while it is in state \"{}\"",
                        n.provision_state
                    )));
                }
                let mut n = n.clone();
                n.target_power_state = Some(target.resulting_state());
                if !n.provision_state.is_failure() {
                    n.last_error = None;
                }
                Ok(Some(n))
            })
            .await?;
        let me = self.clone();
        self.spawn_worker(permit, "power", async move {
            me.run_power_action(task, ifaces, target, timeout).await;
        });
        Ok(ConductorReply::Accepted)
    }
}

impl Conductor {
    /// Ramdisk lookup: mint the agent token once (later lookups see `******`).
    async fn get_node_with_token(self: &Arc<Self>, uuid: Uuid) -> Result<ConductorReply, Error> {
        let existing = self.read(|s| s.nodes.get(&uuid).map(|n| n.driver_internal_info.contains_key("agent_secret_token")));
        match existing {
            None => return Err(Error::NodeNotFound { node: uuid.to_string() }),
            Some(true) => {
                let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
                return Ok(ConductorReply::NodeWithToken { node, agent_token: Some(ferric_model::node::MASK.to_string()) });
            }
            Some(false) => {}
        }
        let token = mint_token();
        let t = token.clone();
        let task = self
            .lock_node(uuid, "minting agent token", Patience::Once, move |n| {
                let mut n = n.clone();
                n.driver_internal_info.entry("agent_secret_token").or_insert(serde_json::Value::String(t.clone()));
                Ok(Some(n))
            })
            .await?;
        let minted = task.node.driver_internal_info.get("agent_secret_token").and_then(|v| v.as_str()) == Some(token.as_str());
        let node = task.finish().await?;
        Ok(ConductorReply::NodeWithToken {
            node: Arc::new(node),
            agent_token: Some(if minted { token } else { ferric_model::node::MASK.to_string() }),
        })
    }

    /// An agent heartbeat (Ironic's `HeartbeatMixin.heartbeat`): checks the token, records the
    /// agent, and continues a node waiting for its callback.
    async fn heartbeat(
        self: &Arc<Self>,
        uuid: Uuid,
        callback_url: String,
        agent_version: Option<String>,
        agent_token: Option<String>,
        agent_verify_ca: Option<String>,
        agent_status: Option<String>,
    ) -> Result<ConductorReply, Error> {
        if agent_version.is_none() && agent_status.is_none() {
            return Err(Error::invalid("Agent must be upgraded: heartbeats need agent_version or agent_status"));
        }
        let token = agent_token.ok_or_else(|| Error::invalid("Agent token is required for heartbeat processing."))?;
        let node = self.read(|s| s.nodes.get(&uuid).cloned()).ok_or(Error::NodeNotFound { node: uuid.to_string() })?;
        let stored = node.driver_internal_info.get("agent_secret_token").and_then(|v| v.as_str());
        if stored != Some(token.as_str()) {
            return Err(Error::invalid("Invalid or missing agent token received."));
        }
        if let Some(prev) = node.driver_internal_info.get("agent_url").and_then(|v| v.as_str()) {
            if !callback_url.is_empty() && prev != callback_url {
                return Err(Error::invalid("Detected change in ramdisk provided callback_url"));
            }
        }
        let now = self.clock.now();
        // No retry: a locked node ignores this heartbeat (the agent heartbeats again).
        let task = self
            .lock_node(uuid, "heartbeat", Patience::Once, |n| {
                let mut n = n.clone();
                let d = &mut n.driver_internal_info;
                d.insert("agent_url".into(), serde_json::Value::String(callback_url.clone()));
                if let Some(v) = &agent_version {
                    d.insert("agent_version".into(), serde_json::Value::String(v.clone()));
                }
                if let Some(ca) = &agent_verify_ca {
                    d.insert("agent_verify_ca".into(), serde_json::Value::String(ca.clone()));
                }
                d.insert("agent_last_heartbeat".into(), serde_json::Value::String(now.to_iso8601()));
                if n.provision_state.is_wait() {
                    n.provision_updated_at = Some(now);
                }
                Ok(Some(n))
            })
            .await?;
        // The deploy interface sees the heartbeat (an agent deploy checks its command status); a
        // step it still polls sets Ironic's `<kind>_polling` flag, and then the heartbeat does not
        // advance the sequence.
        let mut task = task;
        let ifaces = self.drivers.for_node(&task.node)?;
        let mut ctx = task.context();
        let hb = ferric_drivers::interfaces::Heartbeat {
            callback_url: callback_url.clone(),
            agent_version: agent_version.clone(),
            agent_verify_ca: agent_verify_ca.clone(),
            agent_status: agent_status.clone(),
            agent_status_message: None,
        };
        if let Err(e) = self.bounded(ifaces.deploy.heartbeat(&mut ctx, &hb)).await {
            tracing::warn!(node = %uuid, error = %e, "the deploy interface refused a heartbeat");
        }
        task.absorb(ctx).await?;
        let state = task.node.provision_state;
        let in_maintenance = task.node.maintenance;
        let polling = |k: &str| task.node.driver_internal_info.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
        let still_running = match state {
            ProvisionState::DeployWait => polling("deployment_polling"),
            ProvisionState::CleanWait => polling("cleaning_polling"),
            ProvisionState::ServiceWait => polling("servicing_polling"),
            _ => false,
        };
        task.finish().await?;
        if in_maintenance || still_running {
            return Ok(ConductorReply::Accepted);
        }
        match state {
            ProvisionState::DeployWait | ProvisionState::CleanWait | ProvisionState::ServiceWait => {
                self.continue_steps(uuid).await?;
            }
            ProvisionState::RescueWait => self.finish_rescue(uuid).await?,
            _ => {}
        }
        Ok(ConductorReply::Accepted)
    }

    /// `rescue wait` → `rescuing` → `rescue` once the rescue ramdisk reported in.
    async fn finish_rescue(self: &Arc<Self>, uuid: Uuid) -> Result<(), Error> {
        let now = self.clock.now();
        let task = self
            .lock_node(uuid, "finishing rescue", Patience::Once, |n| {
                let mid = ferric_model::transition(n.provision_state, ferric_model::ProvisionEvent::Resume)
                    .ok_or_else(|| Error::conflict("not waiting for a rescue callback"))?;
                let end = ferric_model::transition(mid, ferric_model::ProvisionEvent::Done)
                    .ok_or_else(|| Error::conflict("cannot finish rescue"))?;
                let mut n = n.clone();
                n.enter_state(end, now);
                Ok(Some(n))
            })
            .await?;
        task.release().await
    }
}

/// A one-time agent token (Ironic uses `secrets.token_urlsafe()`: ~43 url-safe characters): 43
/// hex characters (172 bits) straight from the operating system's random source (UUIDs come from
/// a fast user-space generator).
fn mint_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 22];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex[..43].to_string()
}

#[cfg(test)]
mod token_tests {
    #[test]
    fn agent_tokens_are_43_hex_characters_and_differ() {
        let a = super::mint_token();
        let b = super::mint_token();
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }
}

fn check_destroyable(n: &Node) -> Result<(), Error> {
    if n.protected {
        return Err(Error::InvalidState {
            message: format!("Node {} is protected and cannot be undeployed, rebuilt or deleted", n.uuid),
        });
    }
    if let Some(inst) = &n.instance_uuid {
        if !n.maintenance {
            return Err(Error::NodeAssociated { node: n.uuid.to_string(), instance: inst.clone() });
        }
    }
    if !n.maintenance && !n.provision_state.delete_allowed() {
        return Err(Error::InvalidState {
            message: format!(
                "Can not delete node \"{}\" while it is in provision state \"{}\". Valid provision states to start deletion are: adopt failed, available, enroll, manageable, or set the node in maintenance mode",
                n.uuid, n.provision_state
            ),
        });
    }
    Ok(())
}

fn check_http_method(m: &ferric_drivers::interfaces::VendorMethod, http_method: &str, method: &str) -> Result<(), Error> {
    if !m.http_methods.iter().any(|h| h.eq_ignore_ascii_case(http_method)) {
        return Err(Error::invalid(format!(
            "The method {method} does not support HTTP {http_method}. Supported methods: {}",
            m.http_methods.join(", ")
        )));
    }
    Ok(())
}

fn vendor_methods_json(methods: &BTreeMap<String, ferric_drivers::interfaces::VendorMethod>) -> serde_json::Map<String, serde_json::Value> {
    methods
        .iter()
        .map(|(name, m)| {
            (
                name.clone(),
                serde_json::json!({
                    "http_methods": m.http_methods,
                    "async": m.is_async,
                    "description": m.description,
                    "attach": m.attach,
                    "require_exclusive_lock": m.require_exclusive_lock,
                }),
            )
        })
        .collect()
}
