//! The client loops: `concurrency` workers, worker `w` bound to member `w mod n`, each picking
//! a workload at random per operation, paced to the target rate, until the deadline. Then the
//! final reads, from every member.

use super::{fixtures::Fixtures, power, provision, register, set, Ctx};
use crate::cli::{PowerTarget, WorkloadKind};
use crate::history::Worker;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub concurrency: u64,
    /// Operations per second, all workers together.
    pub rate: u64,
    pub workloads: Vec<WorkloadKind>,
    /// What the lock workload asks for.
    pub power_targets: Vec<PowerTarget>,
    pub seed: u64,
}

/// Runs every worker until `until`; returns the shared register state (for the final reads).
pub async fn run_workers(
    ctx: Ctx,
    fx: Arc<Fixtures>,
    plan: WorkerPlan,
    until: Instant,
) -> (Arc<register::RegisterShared>, Arc<AtomicU64>) {
    let reg = Arc::new(register::RegisterShared::new(fx.register_nodes.len()));
    let set_next = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs_f64(plan.concurrency as f64 / plan.rate.max(1) as f64);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..plan.concurrency {
        let (ctx, fx, reg, set_next, plan) = (
            ctx.clone(),
            fx.clone(),
            reg.clone(),
            set_next.clone(),
            plan.clone(),
        );
        tasks.spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(
                plan.seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(w + 1)),
            );
            let mut worker = Worker::new(w, plan.concurrency);
            let member = w as usize % ctx.members.len();
            let mut seen = HashMap::new();
            let mut last_state = HashMap::new();
            let mut next = Instant::now() + period.mul_f64(rng.gen_range(0.0..1.0));
            while next < until {
                tokio::time::sleep_until(next).await;
                match plan.workloads.choose(&mut rng) {
                    Some(WorkloadKind::Register) => {
                        register::step(&ctx, &fx, &reg, &mut worker, member, &mut rng, &mut seen)
                            .await
                    }
                    Some(WorkloadKind::Set) => {
                        if rng.gen_bool(0.8) {
                            set::add(&ctx, &set_next, &mut worker, member).await
                        } else {
                            set::read(&ctx, &mut worker, member).await
                        }
                    }
                    Some(WorkloadKind::Lock) => {
                        power::step(
                            &ctx,
                            &fx,
                            &plan.power_targets,
                            &mut worker,
                            member,
                            &mut rng,
                        )
                        .await
                    }
                    Some(WorkloadKind::Provision) => {
                        provision::step(&ctx, &fx, &mut worker, member, &mut rng, &mut last_state)
                            .await
                    }
                    None => break,
                }
                next += period.mul_f64(rng.gen_range(0.5..1.5));
                let now = Instant::now();
                if next < now {
                    next = now;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    (reg, set_next)
}

/// After the final heal: every key, the set, every provision node, and `/cluster/status`, read
/// from every member (processes after the workers' range).
pub async fn final_reads(
    ctx: &Ctx,
    fx: &Fixtures,
    reg: &register::RegisterShared,
    workloads: &[WorkloadKind],
    first_process: u64,
) {
    let n = ctx.members.len();
    for m in 0..n {
        let mut worker = Worker::new(m as u64, n as u64);
        for _ in 0..first_process.div_ceil(n as u64) {
            worker.retire();
        }
        if workloads.contains(&WorkloadKind::Register) {
            register::final_read(ctx, fx, reg, &mut worker, m).await;
        }
        if workloads.contains(&WorkloadKind::Set) {
            set::read(ctx, &mut worker, m).await;
        }
        if workloads.contains(&WorkloadKind::Provision) {
            for uuid in &fx.provision_nodes {
                provision::read(ctx, uuid, &mut worker, m).await;
            }
        }
        let name = ctx.members[m].0.clone();
        super::perform(
            ctx,
            &mut worker,
            m,
            "cluster-status",
            Some(&name),
            serde_json::Value::Null,
            true,
            |api, addr| async move { api.cluster_status(addr).await },
            |r| r.json().unwrap_or_default(),
        )
        .await;
    }
}
