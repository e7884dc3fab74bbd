//! The peer gRPC service: Raft RPCs to the local Raft node, leader services (forwarded writes,
//! read index, membership) and conductor calls routed to this member.

use crate::cluster::{Assign, Cluster, MembershipReq, WireError};
use crate::transport::pb::{self, peer_server::Peer, peer_server::PeerServer};
use ferric_model::Error;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tonic::{Request, Response, Status, Streaming};

/// Largest snapshot a member accepts (a bound on disk use by one transfer).
const MAX_SNAPSHOT_BYTES: u64 = 8 << 30;

pub struct PeerService {
    cluster: Arc<Cluster>,
}

fn blob(data: Vec<u8>) -> Result<Response<pb::Blob>, Status> {
    Ok(Response::new(pb::Blob { data }))
}

fn json<T: serde::Serialize>(v: &T) -> Result<Response<pb::Blob>, Status> {
    blob(serde_json::to_vec(v).map_err(|e| Status::internal(e.to_string()))?)
}

impl PeerService {
    /// The running node, for calls from members of this member's own cluster only.
    fn node_for<T>(&self, req: &Request<T>) -> Result<&Arc<crate::engine::RaftNode>, Status> {
        self.check_cluster(req)?;
        self.require_cluster(req)?;
        self.cluster.node().ok_or_else(|| Status::unavailable("this member has not joined a cluster yet"))
    }

    /// Member-to-member traffic must say which cluster it is from once this member has one (only
    /// membership requests, hello and assign come from members that have none yet).
    fn require_cluster<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let theirs = req.metadata().get(crate::transport::CLUSTER_HEADER);
        if theirs.is_none() && self.cluster.store().identity().cluster_id.is_some() {
            return Err(Status::failed_precondition("the caller names no cluster; this member belongs to one"));
        }
        Ok(())
    }

    /// Refuses a caller that says it belongs to another cluster (a stale member reusing an
    /// address must not vote in or replicate to this one).
    fn check_cluster<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let theirs = req.metadata().get(crate::transport::CLUSTER_HEADER).and_then(|v| v.to_str().ok());
        let ours = self.cluster.store().identity().cluster_id;
        match (theirs, ours.as_deref()) {
            (Some(t), Some(o)) if t != o => Err(Status::failed_precondition(format!(
                "the caller belongs to cluster {t}; this member belongs to cluster {o}"
            ))),
            _ => Ok(()),
        }
    }
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn append_entries(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        blob(self.node_for(&req)?.handle_append(&req.into_inner().data).await)
    }

    type AppendStreamStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::Blob, Status>> + Send + 'static>>;

    async fn append_stream(&self, req: Request<Streaming<pb::Blob>>) -> Result<Response<Self::AppendStreamStream>, Status> {
        use futures::StreamExt;
        let node = self.node_for(&req)?.clone();
        if !self.cluster.config().append_stream {
            return Err(Status::unimplemented("this member serves no append stream ([raft] append_stream = false)"));
        }
        // A transport error on the way in ends the input; the results of what came before still go out.
        let input = Box::pin(futures::stream::unfold(req.into_inner(), |mut s| async move {
            match s.message().await {
                Ok(Some(b)) => Some((b.data, s)),
                _ => None,
            }
        }));
        let out = node.handle_append_stream(input).map(|data| Ok(pb::Blob { data }));
        Ok(Response::new(Box::pin(out)))
    }

    async fn vote(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        blob(self.node_for(&req)?.handle_vote(&req.into_inner().data).await)
    }

    async fn pre_vote(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        blob(self.node_for(&req)?.handle_pre_vote(&req.into_inner().data).await)
    }

    async fn transfer_leader(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        blob(self.node_for(&req)?.handle_transfer_leader(&req.into_inner().data).await)
    }

    async fn install_snapshot(&self, req: Request<Streaming<pb::SnapshotChunk>>) -> Result<Response<pb::Blob>, Status> {
        let node = self.node_for(&req)?.clone();
        let mut stream = req.into_inner();
        let first = stream.message().await?.ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
        let meta = first.meta;
        let dir = node.snapshot_dir().to_path_buf();
        tokio::fs::create_dir_all(&dir).await.map_err(|e| Status::internal(e.to_string()))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = dir.join(format!("incoming-{nanos}.bin"));
        // Removed on every way out of this function (a failed transfer must not leak the file).
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let _cleanup = Cleanup(path.clone());
        let mut file = tokio::fs::File::create(&path).await.map_err(|e| Status::internal(e.to_string()))?;
        let mut total: u64 = 0;
        let mut done = first.done;
        while !done {
            let Some(chunk) = stream.message().await? else {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(Status::aborted("snapshot stream ended early"));
            };
            total += chunk.data.len() as u64;
            if total > MAX_SNAPSHOT_BYTES {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(Status::resource_exhausted("snapshot too large"));
            }
            file.write_all(&chunk.data).await.map_err(|e| Status::internal(e.to_string()))?;
            done = chunk.done;
        }
        file.sync_all().await.map_err(|e| Status::internal(e.to_string()))?;
        drop(file);
        let out = node.handle_snapshot(&meta, path.clone()).await;
        let _ = tokio::fs::remove_file(&path).await;
        blob(out)
    }

    async fn forward_write(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        self.check_cluster(&req)?;
        self.require_cluster(&req)?;
        let r = self.cluster.serve_forwarded(&req.into_inner().data).await;
        json(&r)
    }

    async fn read_index(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        self.check_cluster(&req)?;
        self.require_cluster(&req)?;
        let r: Result<u64, WireError> = self.cluster.serve_read_index().await;
        json(&r)
    }

    async fn membership(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        self.check_cluster(&req)?;
        let r: Result<ferric_model::backend::ClusterStatus, Error> =
            match serde_json::from_slice::<MembershipReq>(&req.into_inner().data) {
                Err(e) => Err(Error::invalid(format!("bad membership request: {e}"))),
                Ok(r) => self.cluster.serve_membership_req(r).await,
            };
        json(&r)
    }

    async fn hello(&self, _req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        json(&self.cluster.hello())
    }

    async fn assign(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        let r: Result<(), Error> = match serde_json::from_slice::<Assign>(&req.into_inner().data) {
            Err(e) => Err(Error::invalid(format!("bad assign request: {e}"))),
            Ok(a) => self.cluster.assign(a).await,
        };
        json(&r)
    }

    async fn conductor(&self, req: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
        self.check_cluster(&req)?;
        self.require_cluster(&req)?;
        let Some(svc) = self.cluster.conductor.get() else {
            return Err(Status::unavailable("this member's conductor is not running"));
        };
        blob(svc.handle(req.into_inner().data).await)
    }
}

/// Serves the peer service on `listener` until `shutdown` resolves.
pub async fn serve_peer(
    cluster: Arc<Cluster>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let svc = PeerServer::new(PeerService { cluster })
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20);
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| format!("peer server: {e}"))
}
