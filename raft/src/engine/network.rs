//! openraft's network over the peer gRPC transport: appends pipelined on one stream per follower
//! (or unary), vote and pre-vote as unary JSON calls, with openraft's deadlines (an append's
//! grows with its size); snapshots streamed from the snapshot file in 1 MiB chunks.

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

/// The slowest rate at which a follower is expected to take in an AppendEntries request
/// (receive, decode, write, `fdatasync`): a request gets this much time per byte on top of
/// openraft's deadline (its heartbeat interval, 100 ms by default). Without it a large entry (a
/// deploy with a configdrive of tens of MB) was not answered in time: attempt after attempt timed
/// out and was sent again after the backoff (25–32 times for 60 MB) until one got through, and
/// writes behind it waited for seconds.
const APPEND_BYTES_PER_SEC: u64 = 16 << 20;

/// The deadline of an AppendEntries request of `bytes`: openraft's `ttl` plus the time the bytes
/// take at [`APPEND_BYTES_PER_SEC`].
pub(crate) fn append_deadline(ttl: Duration, bytes: usize) -> Duration {
    ttl + Duration::from_micros((bytes as u64).saturating_mul(1_000_000) / APPEND_BYTES_PER_SEC)
}

/// When the answer to the oldest request in flight on an append stream is due. The follower
/// answers in order, so its clock starts when it could start on the request: when it was sent, or
/// when the answer before it arrived, whichever is later (a small request queued behind a large
/// one is not timed from its own, early, send).
pub(crate) fn stream_answer_due(sent_at: Instant, bytes: usize, previous_answer: Option<Instant>, ttl: Duration) -> Instant {
    let start = match previous_answer {
        Some(p) if p > sent_at => p,
        _ => sent_at,
    };
    start + append_deadline(ttl, bytes)
}

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
        let ttl = match method {
            Method::AppendEntries => append_deadline(option.hard_ttl(), body.len()),
            _ => option.hard_ttl(),
        };
        let bytes = self.clients.call(&self.addr, method, body, ttl).await.map_err(rpc_err)?;
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
    /// flight. Each request must be answered within its deadline ([`stream_answer_due`]), or the
    /// stream ends with a timeout; HTTP/2 flow control bounds what is in flight.
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
            // When each request still waiting for its result was handed to the transport, and its
            // size.
            let sent: Arc<Mutex<VecDeque<(Instant, usize)>>> = Arc::default();
            let wake = Arc::new(tokio::sync::Notify::new());
            let (sent_in, wake_in) = (sent.clone(), wake.clone());
            // A request that cannot be encoded ends the stream (answers stay paired with requests).
            let body = input.scan((), move |_, rpc| {
                let item = match serde_json::to_vec(&rpc) {
                    Ok(data) => {
                        let mut q = sent_in.lock().expect("append stream lock");
                        q.push_back((Instant::now(), data.len()));
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
            let state = (inbound, sent, wake, self.addr.clone(), self.clients.clone(), None::<Instant>);
            let results = futures::stream::unfold(Some(state), move |state| async move {
                let (mut inbound, sent, wake, addr, clients, last_answer) = state?;
                let fail = |e: TransportError| Some((Err(rpc_err(e)), None));
                loop {
                    let oldest = sent.lock().expect("append stream lock").front().copied();
                    let next = match oldest {
                        // Something is in flight: its answer is due by its deadline.
                        Some((at, bytes)) => {
                            let due = stream_answer_due(at, bytes, last_answer, ttl);
                            match tokio::time::timeout_at(due.into(), inbound.message()).await {
                                Err(_) => {
                                    let timeout = append_deadline(ttl, bytes);
                                    return fail(TransportError::Timeout { addr: addr.clone(), timeout });
                                }
                                Ok(r) => r,
                            }
                        }
                        // Nothing in flight: wait for an answer or for the next request to go out.
                        None => tokio::select! {
                            r = inbound.message() => r,
                            _ = wake.notified() => continue,
                        },
                    };
                    return match next {
                        Ok(Some(blob)) => {
                            sent.lock().expect("append stream lock").pop_front();
                            let answered = Some(Instant::now());
                            match decode::<StreamAppendResult<TypeConfig>>(&blob.data) {
                                Ok(r) => Some((Ok(r), Some((inbound, sent, wake, addr, clients, answered)))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::pb::peer_server::{Peer, PeerServer};
    use futures::StreamExt;
    use openraft::entry::RaftEntry;
    use tonic::{Request, Response, Status, Streaming};

    const TTL: Duration = Duration::from_millis(100);

    #[test]
    fn a_request_gets_time_for_its_bytes_on_top_of_openrafts_deadline() {
        assert_eq!(append_deadline(TTL, 0), TTL);
        // One heartbeat-sized request: no measurable extra.
        assert!(append_deadline(TTL, 300) < TTL + Duration::from_micros(100));
        // 64 MiB at 16 MiB/s: four more seconds.
        assert_eq!(append_deadline(TTL, 64 << 20), TTL + Duration::from_secs(4));
        assert!(append_deadline(TTL, 1 << 20) > append_deadline(TTL, 1 << 10));
    }

    #[test]
    fn a_queued_request_is_timed_from_the_answer_before_it() {
        let t0 = Instant::now();
        let small = 1_000;
        // Nothing answered yet, or the last answer came before it was sent: timed from its send.
        assert_eq!(stream_answer_due(t0, small, None, TTL), t0 + append_deadline(TTL, small));
        let before = t0 - Duration::from_millis(5);
        assert_eq!(stream_answer_due(t0, small, Some(before), TTL), t0 + append_deadline(TTL, small));
        // Sent at t0 behind a large request that was answered 2 s later: the follower could only
        // start on it then, so it is due a full deadline after that answer, not already overdue.
        let answered = t0 + Duration::from_secs(2);
        let due = stream_answer_due(t0, small, Some(answered), TTL);
        assert_eq!(due, answered + append_deadline(TTL, small));
        assert!(due > t0 + Duration::from_secs(2));
    }

    /// A follower over real gRPC that answers each append-stream request after `base` plus the
    /// time its bytes take at `bytes_per_sec` (a slow disk), or never answers requests larger
    /// than `never_above`.
    struct SlowFollower {
        base: Duration,
        bytes_per_sec: u64,
        never_above: usize,
    }

    fn unimplemented<T>() -> Result<Response<T>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    #[tonic::async_trait]
    impl Peer for SlowFollower {
        type AppendStreamStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::Blob, Status>> + Send + 'static>>;

        async fn append_stream(&self, req: Request<Streaming<pb::Blob>>) -> Result<Response<Self::AppendStreamStream>, Status> {
            let (base, rate, never_above) = (self.base, self.bytes_per_sec, self.never_above);
            let input = req.into_inner();
            // In order, one at a time, as a follower's Raft core does.
            let out = futures::stream::unfold(input, move |mut input| async move {
                let blob = input.message().await.ok()??;
                if blob.data.len() > never_above {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(base + Duration::from_micros(blob.data.len() as u64 * 1_000_000 / rate)).await;
                let r: Result<StreamAppendResult<TypeConfig>, String> = Ok(Ok(None));
                Some((Ok(pb::Blob { data: serde_json::to_vec(&r).expect("encode") }), input))
            });
            Ok(Response::new(Box::pin(out)))
        }
        async fn append_entries(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn vote(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn pre_vote(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn install_snapshot(&self, _: Request<Streaming<pb::SnapshotChunk>>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn transfer_leader(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn forward_write(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn read_index(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn membership(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn hello(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn assign(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
        async fn conductor(&self, _: Request<pb::Blob>) -> Result<Response<pb::Blob>, Status> {
            unimplemented()
        }
    }

    /// Serves `follower` on a port the OS picks; returns a leader-side connection to it.
    async fn connect_to(follower: SlowFollower) -> Connection {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let svc = PeerServer::new(follower).max_decoding_message_size(256 << 20).max_encoding_message_size(256 << 20);
        tokio::spawn(tonic::transport::Server::builder().add_service(svc).serve_with_incoming(incoming));
        let mut factory = NetworkFactory {
            clients: Arc::new(PeerClients::new(Duration::from_secs(2))),
            snapshot_timeout: Duration::from_secs(10),
            append_stream: true,
        };
        let node = MemberNode { name: "slow".into(), peer_addr: addr, api_addr: String::new() };
        factory.new_client(2, &node).await
    }

    /// An AppendEntries request of about `bytes` (one node create whose description fills it).
    fn request(index: u64, bytes: usize) -> AppendEntriesRequest<TypeConfig> {
        use ferric_model::{Command, Node, Timestamp};
        let mut node = Node::new(uuid::Uuid::new_v4(), "fake-hardware", Timestamp::ZERO);
        node.description = Some("x".repeat(bytes));
        let cmd = Command::CreateNode { node: Box::new(node), now: Timestamp::ZERO };
        let leader = openraft::impls::leader_id_adv::LeaderId { term: 1, node_id: 1 };
        let entry = super::super::Entry::new_normal(openraft::LogId::new(leader, index), super::super::Proposal(Arc::new(cmd)));
        AppendEntriesRequest { vote: Vote::new_committed(1, 1), prev_log_id: None, leader_commit: None, entries: vec![entry] }
    }

    /// Sends `reqs` down one append stream with openraft's deadline `ttl`; the outcome of each.
    async fn send_all(conn: &mut Connection, reqs: Vec<AppendEntriesRequest<TypeConfig>>, ttl: Duration) -> Vec<Result<(), String>> {
        let n = reqs.len();
        let input = futures::stream::iter(reqs);
        let mut out = Vec::new();
        match conn.stream_append(input, RPCOption::new(ttl)).await {
            Err(e) => out.push(Err(e.to_string())),
            Ok(mut results) => {
                while let Some(r) = results.next().await {
                    out.push(r.map(|_| ()).map_err(|e| e.to_string()));
                    if out.len() == n {
                        break;
                    }
                }
            }
        }
        out
    }

    // The follower takes 450 ms for a 16 MiB request (more than openraft's 300 ms here, well
    // within the 300 ms + 1 s its bytes are allowed), then 50 ms for a small one sent right behind
    // it: due 300 ms after the large one's answer, not 300 ms after its own early send.
    #[tokio::test]
    async fn a_large_request_and_the_one_queued_behind_it_are_answered_not_timed_out() {
        let ttl = Duration::from_millis(300);
        let big = 16 << 20;
        let rate = (big as u64) * 1000 / 400; // 400 ms for the large request's bytes
        let mut conn = connect_to(SlowFollower { base: Duration::from_millis(50), bytes_per_sec: rate, never_above: usize::MAX }).await;
        let started = Instant::now();
        let results = send_all(&mut conn, vec![request(1, big), request(2, 100)], ttl).await;
        assert_eq!(results, vec![Ok(()), Ok(())], "after {:?}", started.elapsed());
        // The follower's own delays: the answers really were later than openraft's deadline.
        assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());
    }

    // Every wait keeps a bound: a follower that never answers a request ends the stream with a
    // timeout once that request's deadline has passed.
    #[tokio::test]
    async fn a_request_never_answered_still_times_out() {
        let ttl = Duration::from_millis(100);
        let mut conn = connect_to(SlowFollower { base: Duration::from_millis(1), bytes_per_sec: 1 << 30, never_above: 100_000 }).await;
        let started = Instant::now();
        let results = tokio::time::timeout(Duration::from_secs(20), send_all(&mut conn, vec![request(1, 100), request(2, 1 << 20)], ttl))
            .await
            .expect("the stream must end by itself");
        assert_eq!(results.len(), 2, "{results:?}");
        assert_eq!(results[0], Ok(()));
        let err = results[1].as_ref().expect_err("the unanswered request must time out");
        assert!(err.contains("did not answer within"), "{err}");
        // Its deadline: 100 ms plus 1 MiB at 16 MiB/s.
        assert!(started.elapsed() >= append_deadline(ttl, 1 << 20), "{:?}", started.elapsed());
    }
}
