//! openraft's network over the peer gRPC transport: append, vote and pre-vote as unary JSON calls
//! with openraft's deadlines; snapshots streamed from the snapshot file in 1 MiB chunks.

use super::{MemberNode, SnapshotFile, TypeConfig, Vote};
use crate::transport::{pb, status_error, Method, PeerClients, TransportError};
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{Backoff, RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse};
use openraft::OptionalSend;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

pub(crate) const SNAPSHOT_CHUNK: usize = 1 << 20;

pub(crate) struct NetworkFactory {
    pub(crate) clients: Arc<PeerClients>,
    pub(crate) snapshot_timeout: Duration,
}

pub(crate) struct Connection {
    target: u64,
    addr: String,
    clients: Arc<PeerClients>,
    snapshot_timeout: Duration,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &MemberNode) -> Connection {
        Connection {
            target,
            addr: node.peer_addr.clone(),
            clients: self.clients.clone(),
            snapshot_timeout: self.snapshot_timeout,
        }
    }
}

fn rpc_err(e: TransportError) -> RPCError<TypeConfig> {
    match e {
        TransportError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&e)),
        _ => RPCError::Network(NetworkError::new(&e)),
    }
}

/// The remote answers `Result<T, String>`: `Err` is the remote's Raft error (it stopped or is
/// shutting down), which for the caller is like an unreachable peer.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RPCError<TypeConfig>> {
    let r: Result<T, String> = serde_json::from_slice(bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
    r.map_err(|msg| RPCError::Unreachable(Unreachable::from_string(format!("remote raft: {msg}"))))
}

impl Connection {
    async fn unary<T: DeserializeOwned>(
        &self,
        method: Method,
        body: Vec<u8>,
        option: &RPCOption,
    ) -> Result<T, RPCError<TypeConfig>> {
        let bytes = self.clients.call(&self.addr, method, body, option.hard_ttl()).await.map_err(rpc_err)?;
        decode(&bytes)
    }
}

impl RaftNetworkV2<TypeConfig> for Connection {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let body = serde_json::to_vec(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.unary(Method::AppendEntries, body, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let body = serde_json::to_vec(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.unary(Method::Vote, body, &option).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let body = serde_json::to_vec(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.unary(Method::PreVote, body, &option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotFile>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let net = |e: &dyn std::fmt::Display| StreamingError::Network(NetworkError::from_string(e.to_string()));
        let meta = serde_json::to_vec(&(&vote, &snapshot.meta)).map_err(|e| net(&e))?;
        let mut file = tokio::fs::File::open(&snapshot.snapshot.path).await.map_err(|e| net(&e))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<pb::SnapshotChunk>(4);
        let target = self.target;
        // Reader task: the file in chunks, bounded by the channel.
        let reader = tokio::spawn(async move {
            if tx.send(pb::SnapshotChunk { meta, data: Vec::new(), done: false }).await.is_err() {
                return Ok::<(), std::io::Error>(());
            }
            loop {
                let mut buf = vec![0u8; SNAPSHOT_CHUNK];
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    let _ = tx.send(pb::SnapshotChunk { meta: Vec::new(), data: Vec::new(), done: true }).await;
                    return Ok(());
                }
                buf.truncate(n);
                if tx.send(pb::SnapshotChunk { meta: Vec::new(), data: buf, done: false }).await.is_err() {
                    return Ok(());
                }
            }
        });
        let mut client = self.clients.client(&self.addr).map_err(|e| net(&e))?;
        let stream = tokio_stream_from(rx);
        let mut req = tonic::Request::new(stream);
        req.set_timeout(self.snapshot_timeout);
        self.clients.stamp(&mut req);
        let call = client.install_snapshot(req);
        let result = tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            r = tokio::time::timeout(self.snapshot_timeout, call) => match r {
                Err(_) => Err(net(&format!("sending a snapshot to member {target} timed out"))),
                Ok(Err(status)) => Err(net(&status_error(&self.addr, status, self.snapshot_timeout, &self.clients))),
                Ok(Ok(resp)) => {
                    let r: Result<SnapshotResponse<TypeConfig>, String> =
                        serde_json::from_slice(&resp.into_inner().data).map_err(|e| net(&e))?;
                    r.map_err(|m| net(&format!("member {target} refused the snapshot: {m}")))
                }
            },
        };
        reader.abort();
        result
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        let body = serde_json::to_vec(&req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.unary(Method::TransferLeader, body, &option).await
    }

    fn backoff(&self) -> Option<Backoff> {
        Some(Backoff::new(std::iter::repeat(Duration::from_millis(100))))
    }
}

/// A `Stream` over an mpsc receiver (tokio-stream's wrapper, written out).
fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
