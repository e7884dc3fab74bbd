//! `ferric_api::serve` over real sockets on port 0: plain HTTP with keep-alive, HTTPS with
//! rustls from a certificate and key file, and graceful shutdown.

mod support;

use ferric_api::ApiConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

fn tls_dir() -> std::path::PathBuf {
    support::crate_dir().join("tests/tls")
}

/// Reads one HTTP/1.1 response (status, body) from a keep-alive stream.
async fn read_response<S: AsyncRead + Unpin>(s: &mut S) -> (u16, String) {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout_at(deadline, s.read(&mut chunk)).await.expect("timeout").unwrap();
                assert!(n > 0, "connection closed mid-body");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
            return (status, body);
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk)).await.expect("timeout").unwrap();
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn request<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, method: &str, path: &str, body: &str) -> (u16, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nX-OpenStack-Ironic-API-Version: latest\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    read_response(s).await
}

async fn start(cfg: ApiConfig) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), ferric_api::ServeError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let backend = Arc::new(support::MemBackend::new());
    let h = tokio::spawn(ferric_api::serve(cfg, backend, listener, async {
        let _ = rx.await;
    }));
    (addr, tx, h)
}

#[tokio::test]
async fn serves_http_with_keep_alive_and_shuts_down() {
    let (addr, stop, handle) = start(ApiConfig::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (status, body) = request(&mut s, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"version\": \"1.115\""));
    let (status, body) = request(&mut s, "POST", "/v1/nodes", r#"{"driver": "fake-hardware", "name": "s1"}"#).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = request(&mut s, "GET", "/v1/nodes/s1", "").await;
    assert_eq!(status, 200);
    drop(s);
    stop.send(()).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), handle).await.expect("serve returns after shutdown");
    r.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}

#[tokio::test]
async fn graceful_shutdown_closes_idle_keep_alive_connections() {
    let (addr, stop, handle) = start(ApiConfig::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(request(&mut s, "GET", "/v1", "").await.0, 200);
    // The connection stays open and idle; shutdown must not wait for the drain timeout.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle).await.expect("serve returns").unwrap().unwrap();
    let mut b = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await.expect("closed").unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn serves_https_from_cert_and_key_files() {
    let cfg = ApiConfig {
        tls_cert_file: Some(tls_dir().join("server.pem")),
        tls_key_file: Some(tls_dir().join("server.key")),
        ..Default::default()
    };
    let (addr, stop, handle) = start(cfg).await;

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(tls_dir().join("ca.pem")).unwrap();
    for c in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let (status, body) = request(&mut tls, "GET", "/v1/nodes", "").await;
    assert_eq!(status, 200, "{body}");
    // Links use https when TLS is on.
    let (status, body) = request(&mut tls, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("https://localhost/v1/"), "{body}");
    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut b = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(15), plain.read(&mut b)).await.expect("closed").unwrap_or(0);
    assert!(n == 0 || !String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 200"));
    drop(tls);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle).await.expect("serve returns").unwrap().unwrap();
}

#[tokio::test]
async fn bad_tls_files_and_insecure_noauth_are_refused() {
    let cfg = ApiConfig { tls_cert_file: Some("/nonexistent.pem".into()), tls_key_file: Some("/nonexistent.key".into()), ..Default::default() };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r = ferric_api::serve(cfg, Arc::new(support::MemBackend::new()), listener, async {}).await;
    assert!(r.is_err());
    let cfg = ApiConfig { listen: "0.0.0.0:6385".parse().unwrap(), ..Default::default() };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r = ferric_api::serve(cfg, Arc::new(support::MemBackend::new()), listener, async {}).await;
    assert!(r.is_err());
}
