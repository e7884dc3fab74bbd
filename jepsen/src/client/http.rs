//! One request per connection, with a deadline, and errors split into "certainly not sent"
//! (connect failed) and "may have been sent" (anything after the connection was made) — the
//! difference between a `fail` and an `info`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpStream;

/// How sockets are made: on the host, or inside a network namespace (netns mode), by creating the
/// socket on a short-lived thread that has entered the namespace.
#[derive(Debug, Clone, Default)]
pub enum Connector {
    #[default]
    Plain,
    Netns(PathBuf),
}

impl Connector {
    pub async fn connect(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        match self {
            Connector::Plain => TcpStream::connect(addr).await,
            Connector::Netns(path) => {
                let path = path.clone();
                let std_sock = tokio::task::spawn_blocking(move || {
                    crate::nemesis::netns::socket_in(&path, addr)
                })
                .await
                .map_err(std::io::Error::other)??;
                let sock = tokio::net::TcpSocket::from_std_stream(std_sock);
                sock.connect(addr).await
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The connection was never made: the request was certainly not sent.
    NotSent(String),
    /// The connection was made; the request may or may not have been received.
    Ambiguous(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotSent(e) => write!(f, "not sent: {e}"),
            CallError::Ambiguous(e) => write!(f, "ambiguous: {e}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpClient {
    pub connector: Connector,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient {
            connector: Connector::Plain,
            connect_timeout: Duration::from_millis(500),
            timeout: Duration::from_secs(2),
        }
    }
}

impl HttpClient {
    /// Sends one request to `addr` and reads the whole response, within the deadlines.
    pub async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<HttpResponse, CallError> {
        let stream =
            match tokio::time::timeout(self.connect_timeout, self.connector.connect(addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(CallError::NotSent(format!("connect {addr}: {e}"))),
                Err(_) => return Err(CallError::NotSent(format!("connect {addr}: timed out"))),
            };
        let _ = stream.set_nodelay(true);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| CallError::NotSent(format!("build request: {e}")))?;
        let exchange = async {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| CallError::Ambiguous(format!("handshake: {e}")))?;
            let conn_task = tokio::spawn(conn);
            let result = async {
                let resp = sender
                    .send_request(req)
                    .await
                    .map_err(|e| CallError::Ambiguous(format!("send: {e}")))?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| CallError::Ambiguous(format!("read body: {e}")))?
                    .to_bytes();
                Ok(HttpResponse {
                    status,
                    headers,
                    body,
                })
            }
            .await;
            conn_task.abort();
            result
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Ambiguous(format!(
                "timed out after {:?}",
                self.timeout
            ))),
        }
    }
}
