//! The gRPC transport between members: a pool of lazily connected channels (TCP_NODELAY, connect
//! and per-call timeouts) and the server start-up. Payloads are bytes; their meaning belongs to
//! the callers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

pub mod pb {
    tonic::include_proto!("ferric.peer");
}

pub use pb::peer_client::PeerClient;

/// Why a peer call failed. `Sent` means the request may have reached the peer (ambiguous).
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("peer {addr} unreachable: {message}")]
    Unreachable { addr: String, message: String },
    #[error("peer {addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("peer {addr} failed the call: {message}")]
    Failed { addr: String, message: String },
}

/// Connection pool: one channel per peer address (tonic multiplexes calls over HTTP/2).
pub struct PeerClients {
    channels: Mutex<HashMap<String, Channel>>,
    connect_timeout: Duration,
    /// Source address of outgoing peer connections (the member's own peer IP), so a proxy or a
    /// firewall can tell members apart on one host.
    local_ip: Option<std::net::IpAddr>,
    /// The cluster this member belongs to, sent with every call (`x-ferric-cluster`) so that a
    /// member of another cluster reusing an address is refused instead of obeyed.
    cluster_id: Mutex<Option<String>>,
}

/// The header naming the sender's cluster.
pub const CLUSTER_HEADER: &str = "x-ferric-cluster";

/// The gRPC methods of the peer service.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    AppendEntries,
    Vote,
    PreVote,
    TransferLeader,
    ForwardWrite,
    ReadIndex,
    Membership,
    Hello,
    Assign,
    Conductor,
}

impl PeerClients {
    pub fn new(connect_timeout: Duration) -> PeerClients {
        PeerClients { channels: Mutex::new(HashMap::new()), connect_timeout, local_ip: None, cluster_id: Mutex::new(None) }
    }

    /// Outgoing connections leave from `ip` (ignored when unspecified, e.g. 0.0.0.0).
    pub fn with_local_ip(mut self, ip: Option<std::net::IpAddr>) -> PeerClients {
        self.local_ip = ip.filter(|i| !i.is_unspecified());
        self
    }

    /// A client for `addr` (`host:port`), connected on first use.
    pub fn client(&self, addr: &str) -> Result<PeerClient<Channel>, TransportError> {
        let mut chans = self.channels.lock().expect("channel pool lock");
        if let Some(c) = chans.get(addr) {
            return Ok(PeerClient::new(c.clone()).max_decoding_message_size(256 << 20).max_encoding_message_size(256 << 20));
        }
        let ep = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| TransportError::Unreachable { addr: addr.to_string(), message: e.to_string() })?
            .tcp_nodelay(true)
            .connect_timeout(self.connect_timeout)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .local_address(self.local_ip);
        let ch = ep.connect_lazy();
        // Bound the pool: addresses of removed members are dropped when it grows large.
        if chans.len() >= 64 {
            chans.clear();
        }
        chans.insert(addr.to_string(), ch.clone());
        Ok(PeerClient::new(ch).max_decoding_message_size(256 << 20).max_encoding_message_size(256 << 20))
    }

    /// Records the cluster id sent with every call from now on.
    pub fn set_cluster_id(&self, id: &str) {
        *self.cluster_id.lock().expect("cluster id lock") = Some(id.to_string());
    }

    /// Stamps a request with this member's cluster id.
    pub fn stamp<T>(&self, req: &mut tonic::Request<T>) {
        if let Some(id) = self.cluster_id.lock().expect("cluster id lock").as_deref() {
            if let Ok(v) = id.parse() {
                req.metadata_mut().insert(CLUSTER_HEADER, v);
            }
        }
    }

    /// Forgets a channel (after errors, so the next call reconnects).
    pub fn reset(&self, addr: &str) {
        self.channels.lock().expect("channel pool lock").remove(addr);
    }

    /// One unary call with a deadline.
    pub async fn call(&self, addr: &str, method: Method, data: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let mut client = self.client(addr)?;
        let mut req = tonic::Request::new(pb::Blob { data });
        req.set_timeout(timeout);
        self.stamp(&mut req);
        let fut = async {
            match method {
                Method::AppendEntries => client.append_entries(req).await,
                Method::Vote => client.vote(req).await,
                Method::PreVote => client.pre_vote(req).await,
                Method::TransferLeader => client.transfer_leader(req).await,
                Method::ForwardWrite => client.forward_write(req).await,
                Method::ReadIndex => client.read_index(req).await,
                Method::Membership => client.membership(req).await,
                Method::Hello => client.hello(req).await,
                Method::Assign => client.assign(req).await,
                Method::Conductor => client.conductor(req).await,
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Err(TransportError::Timeout { addr: addr.to_string(), timeout }),
            Ok(Ok(resp)) => Ok(resp.into_inner().data),
            Ok(Err(status)) => Err(status_error(addr, status, timeout, self)),
        }
    }
}

/// Whether a failed call never left this member (no connection could be made): only then is a
/// write safe to send again. A reset or a keep-alive timeout after sending is ambiguous.
fn never_sent(status: &tonic::Status) -> bool {
    let mut text = format!("{} {:?}", status.message(), status);
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = src {
        text.push_str(&format!(" {e} {e:?}"));
        src = e.source();
    }
    let t = text.to_ascii_lowercase();
    t.contains("connection refused") || t.contains("connectionrefused") || t.contains("tcp connect error")
        || t.contains("no route to host") || t.contains("addrnotavailable")
}

pub(crate) fn status_error(addr: &str, status: tonic::Status, timeout: Duration, pool: &PeerClients) -> TransportError {
    match status.code() {
        tonic::Code::Unavailable if never_sent(&status) => {
            pool.reset(addr);
            TransportError::Unreachable { addr: addr.to_string(), message: status.message().to_string() }
        }
        tonic::Code::Unavailable => {
            pool.reset(addr);
            TransportError::Failed { addr: addr.to_string(), message: format!("connection lost: {}", status.message()) }
        }
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => TransportError::Timeout { addr: addr.to_string(), timeout },
        _ => TransportError::Failed { addr: addr.to_string(), message: status.message().to_string() },
    }
}
