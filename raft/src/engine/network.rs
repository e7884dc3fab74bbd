//! openraft's network over the peer gRPC transport: append, vote and pre-vote as unary JSON calls
//! with openraft's deadlines; snapshots streamed from the snapshot file in 1 MiB chunks.

use super::{MemberNode, SnapshotFile, TypeConfig, Vote};
use crate::transport::{pb, status_error, Method, PeerClients, TransportError};
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::base::{BoxFuture, BoxStream};
use openraft::network::{stream_append_sequential, Backoff, RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::OptionalSend;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

pub(crate) const SNAPSHOT_CHUNK: usize = 1 << 20;

/// How long a leader replicates one request at a time to a member that served no append stream
/// before it tries a stream again.
const NO_STREAM_RETRY: Duration = Duration::from_secs(30);

pub(crate) struct NetworkFactory {
    pub(crate) clients: Arc<PeerClients>,
    pub(crate) snapshot_timeout: Duration,
    /// `[raft] append_stream`: replicate over one stream per follower.
    pub(crate) append_stream: bool,
}

pub(crate) struct Connection {
    target: u64,
    addr: String,
    clients: Arc<PeerClients>,
    snapshot_timeout: Duration,
    /// `[raft] append_stream`. Off: replication to the target is one unary AppendEntries at a
    /// time.
    streaming: bool,
    /// Set when the target answered that it serves no `AppendStream` (a member of an older
    /// version, or with the option off): one request at a time until then, then a stream is
    /// tried again (the member may have been upgraded, or been answering while it stopped).
    no_stream_until: Option<Instant>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &MemberNode) -> Connection {
        Connection {
            target,
            addr: node.peer_addr.clone(),
            clients: self.clients.clone(),
            snapshot_timeout: self.snapshot_timeout,
            streaming: self.append_stream,
            no_stream_until: None,
        }
    }
}

type AppendResults<'s> = BoxStream<'s, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>;

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

    /// Pipelined replication over one bidirectional gRPC stream (HTTP/2 keeps the order; the
    /// target answers each request in turn): the next entries go out while earlier ones are in
    /// flight. Each request must be answered within the RPC deadline of the moment it was sent,
    /// or the stream ends with a timeout; HTTP/2 flow control bounds what is in flight.
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, Result<AppendResults<'s>, RPCError<TypeConfig>>>
    where
        S: futures::Stream<Item = AppendEntriesRequest<TypeConfig>> + OptionalSend + Unpin + 'static,
    {
        let unary_for_now = self.no_stream_until.is_some_and(|t| Instant::now() < t);
        if !self.streaming || unary_for_now {
            return stream_append_sequential(self, input, option);
        }
        Box::pin(async move {
            use futures::StreamExt;
            // The first request is taken before a stream is opened: taking it is where openraft
            // applies its backoff after errors (so an unreachable member is not retried in a
            // tight loop), and nothing is opened when there is nothing to send.
            let mut input = input;
            let Some(first) = input.next().await else {
                return Ok(Box::pin(futures::stream::empty()) as AppendResults<'s>);
            };
            let input = futures::stream::once(std::future::ready(first)).chain(input);
            let ttl = option.hard_ttl();
            // When each request still waiting for its result was handed to the transport.
            let sent: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
            let wake = Arc::new(tokio::sync::Notify::new());
            let (sent_in, wake_in) = (sent.clone(), wake.clone());
            // A request that cannot be encoded ends the stream (answers stay paired with requests).
            let body = input.scan((), move |_, rpc| {
                let item = match serde_json::to_vec(&rpc) {
                    Ok(data) => {
                        let mut q = sent_in.lock().expect("append stream lock");
                        q.push_back(Instant::now());
                        // The answer loop only waits for this when nothing else was in flight.
                        if q.len() == 1 {
                            wake_in.notify_one();
                        }
                        Some(pb::Blob { data })
                    }
                    Err(e) => {
                        tracing::error!("cannot encode an AppendEntries request: {e}");
                        None
                    }
                };
                std::future::ready(item)
            });
            let mut client = self.clients.client(&self.addr).map_err(rpc_err)?;
            let mut req = tonic::Request::new(body);
            self.clients.stamp(&mut req);
            let inbound = match tokio::time::timeout(ttl, client.append_stream(req)).await {
                Err(_) => return Err(rpc_err(TransportError::Timeout { addr: self.addr.clone(), timeout: ttl })),
                Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => {
                    tracing::info!(
                        "member at {} has no append stream; replicating to it one request at a time for {:?}",
                        self.addr,
                        NO_STREAM_RETRY
                    );
                    self.no_stream_until = Some(Instant::now() + NO_STREAM_RETRY);
                    return Err(RPCError::Unreachable(Unreachable::from_string(format!(
                        "member at {} has no append stream",
                        self.addr
                    ))));
                }
                Ok(Err(status)) => return Err(rpc_err(status_error(&self.addr, status, ttl, &self.clients))),
                Ok(Ok(resp)) => resp.into_inner(),
            };
            let state = (inbound, sent, wake, self.addr.clone(), self.clients.clone());
            let results = futures::stream::unfold(Some(state), move |state| async move {
                let (mut inbound, sent, wake, addr, clients) = state?;
                let fail = |e: TransportError| Some((Err(rpc_err(e)), None));
                loop {
                    let oldest = sent.lock().expect("append stream lock").front().copied();
                    let next = match oldest {
                        // Something is in flight: its answer is due by its deadline.
                        Some(at) => match tokio::time::timeout_at((at + ttl).into(), inbound.message()).await {
                            Err(_) => return fail(TransportError::Timeout { addr: addr.clone(), timeout: ttl }),
                            Ok(r) => r,
                        },
                        // Nothing in flight: wait for an answer or for the next request to go out.
                        None => tokio::select! {
                            r = inbound.message() => r,
                            _ = wake.notified() => continue,
                        },
                    };
                    return match next {
                        Ok(Some(blob)) => {
                            sent.lock().expect("append stream lock").pop_front();
                            match decode::<StreamAppendResult<TypeConfig>>(&blob.data) {
                                Ok(r) => Some((Ok(r), Some((inbound, sent, wake, addr, clients)))),
                                Err(e) => Some((Err(e), None)),
                            }
                        }
                        Ok(None) => None,
                        Err(status) => fail(status_error(&addr, status, ttl, &clients)),
                    };
                }
            });
            Ok(Box::pin(results) as AppendResults<'s>)
        })
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
