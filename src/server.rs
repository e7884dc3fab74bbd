//! One running member: opens the data directory, serves the peer gRPC service, bootstraps / joins
//! / resumes the Raft group, registers and runs the conductor, and serves the REST API. Shuts
//! down gracefully: API first, then the conductor (finishes or hands back tasks, releases locks,
//! unregisters), then Raft and the peer service.

use crate::backend::FerricBackend;
use crate::clock::{Clock, SystemClock};
use crate::conductor::{Conductor, ConductorEndpoint};
use crate::config::Config;
use crate::events::EventSender;
use anyhow::{anyhow, Context, Result};
use ferric_drivers::DriverRegistry;
use ferric_raft::{Cluster, MemberNode};
use ferric_storage::{Store, StoreOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Server {
    pub cluster: Arc<Cluster>,
    pub conductor: Arc<Conductor>,
    pub api_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    stop_api: CancellationToken,
    stop_peer: CancellationToken,
    api_task: JoinHandle<()>,
    peer_task: JoinHandle<()>,
    events_cancel: CancellationToken,
}

impl Server {
    /// Starts a member; returns once it belongs to a cluster with a leader and serves its API.
    pub async fn start(cfg: Config) -> Result<Server> {
        Self::start_with_clock(cfg, SystemClock::new()).await
    }

    pub async fn start_with_clock(mut cfg: Config, clock: Arc<dyn Clock>) -> Result<Server> {
        cfg.validate()?;
        let peer_listener = tokio::net::TcpListener::bind(&cfg.peer).await.with_context(|| format!("binding peer address {}", cfg.peer))?;
        let peer_addr = peer_listener.local_addr()?;
        let api_listener =
            tokio::net::TcpListener::bind(&cfg.api.listen).await.with_context(|| format!("binding API address {}", cfg.api.listen))?;
        let api_addr = api_listener.local_addr()?;
        // Port 0 resolves here; advertise what was bound unless told otherwise.
        if cfg.advertise_peer.is_none() {
            cfg.advertise_peer = Some(peer_addr.to_string());
        }
        if cfg.advertise_api.is_none() {
            cfg.advertise_api = Some(api_addr.to_string());
        }
        cfg.api.listen = api_addr;

        // The negative control "no fsync" keeps the log out of the WAL altogether, so a kill -9
        // really loses what was acknowledged (a page-cache write would survive a process kill).
        let unsafe_volatile = cfg.unsafe_test.no_fsync;
        let store = Store::open(&cfg.data_dir, &cfg.name, StoreOptions { fsync: !unsafe_volatile, volatile: unsafe_volatile })
            .with_context(|| format!("opening data directory {}", cfg.data_dir.display()))?;
        let me = MemberNode { name: cfg.name.clone(), peer_addr: cfg.advertised_peer(), api_addr: cfg.advertised_api() };
        let cluster = make_cluster(me, store, &cfg, Some(peer_addr.ip()));

        let stop_peer = CancellationToken::new();
        let peer_task = {
            let c = cluster.clone();
            let stop = stop_peer.clone();
            tokio::spawn(async move {
                if let Err(e) = ferric_raft::serve_peer(c, peer_listener, async move { stop.cancelled().await }).await {
                    tracing::error!(error = %e, "peer service stopped");
                }
            })
        };

        let resumed = cluster.resume().await.map_err(|e| anyhow!("resuming from {}: {e}", cfg.data_dir.display()))?;
        if resumed {
            tracing::info!(member = %cfg.name, "resumed membership and state from the data directory");
        } else if let Some(join) = &cfg.join {
            tracing::info!(member = %cfg.name, peer = %join, "joining the cluster");
            cluster.join(join, Duration::from_secs(300)).await.map_err(|e| anyhow!("joining {join}: {e}"))?;
        } else if cfg.wait_for_join {
            tracing::info!(member = %cfg.name, peer = %peer_addr, "waiting to be added to a cluster (POST /cluster/members)");
            cluster.wait_for_assignment().await.map_err(|e| anyhow!("{e}"))?;
        } else {
            let id = cluster.bootstrap(clock.now()).await.map_err(|e| anyhow!("bootstrapping a one-member cluster: {e}"))?;
            tracing::info!(member = %cfg.name, cluster = %id, "initialised a new one-member cluster");
        }

        let drivers = Arc::new(DriverRegistry::new(&cfg.drivers).map_err(|e| anyhow!("drivers: {e}"))?);
        let conductor =
            Conductor::new(cfg.conductor.clone(), cluster.clone(), drivers, clock.clone(), cfg.unsafe_test.skip_lock_check);
        conductor.set_wrong_transition(cfg.unsafe_test.wrong_transition);
        cluster.set_conductor_service(Arc::new(ConductorEndpoint(conductor.clone())));
        register_with_retry(&conductor, Duration::from_secs(120)).await?;
        conductor.start_periodic();

        let events = EventSender::new(cfg.events.clone(), cluster.clone(), clock.clone())?;
        let events_cancel = CancellationToken::new();
        events.start(events_cancel.clone());

        let backend = Arc::new(FerricBackend { cluster: cluster.clone(), conductor: conductor.clone(), events });
        let stop_api = CancellationToken::new();
        let api_task = {
            let stop = stop_api.clone();
            let api_cfg = cfg.api.clone();
            tokio::spawn(async move {
                if let Err(e) = ferric_api::serve(api_cfg, backend, api_listener, async move { stop.cancelled().await }).await {
                    tracing::error!(error = %e, "API server stopped");
                }
            })
        };
        tracing::info!(member = %cfg.name, api = %api_addr, peer = %peer_addr, "serving");
        Ok(Server { cluster, conductor, api_addr, peer_addr, stop_api, stop_peer, api_task, peer_task, events_cancel })
    }

    /// Graceful stop (SIGTERM).
    pub async fn shutdown(self) {
        self.stop_api.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.api_task).await;
        self.events_cancel.cancel();
        self.conductor.shutdown().await;
        self.cluster.shutdown().await;
        self.stop_peer.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.peer_task).await;
    }
}

#[cfg(feature = "unsafe-test-switches")]
fn make_cluster(me: MemberNode, store: Store, cfg: &Config, ip: Option<std::net::IpAddr>) -> Arc<Cluster> {
    if cfg.unsafe_test.stale_reads {
        return Cluster::new_with_stale_reads(me, store, cfg.raft.clone(), ip);
    }
    Cluster::with_local_ip(me, store, cfg.raft.clone(), ip)
}

#[cfg(not(feature = "unsafe-test-switches"))]
fn make_cluster(me: MemberNode, store: Store, cfg: &Config, ip: Option<std::net::IpAddr>) -> Arc<Cluster> {
    Cluster::with_local_ip(me, store, cfg.raft.clone(), ip)
}

async fn register_with_retry(conductor: &Arc<Conductor>, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match conductor.register().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                tracing::info!(error = %e, "conductor registration not accepted yet; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(anyhow!("registering the conductor: {e}")),
        }
    }
}
