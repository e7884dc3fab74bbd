//! Serving the router: a bounded accept loop (HTTP/1.1, HTTPS with rustls when a certificate and
//! key are configured) and a graceful shutdown that stops accepting, lets in-flight requests
//! finish within a bound, then closes what is left.

use crate::config::{ApiConfig, ConfigError};
use ferric_model::Backend;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How long in-flight connections get to finish after shutdown is asked.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("accepting connections: {0}")]
    Accept(std::io::Error),
}

fn load_tls(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, ConfigError> {
    let tls = |m: String| ConfigError::Tls(m);
    let cert_pem = std::fs::read(cert).map_err(|e| tls(format!("reading {}: {e}", cert.display())))?;
    let key_pem = std::fs::read(key).map_err(|e| tls(format!("reading {}: {e}", key.display())))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| tls(format!("parsing {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(tls(format!("no certificate in {}", cert.display())));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| tls(format!("parsing {}: {e}", key.display())))?
        .ok_or_else(|| tls(format!("no private key in {}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    cfg: ApiConfig,
    backend: Arc<dyn Backend>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let router = crate::router(&cfg, backend)?;
    let tls = match (&cfg.tls_cert_file, &cfg.tls_key_file) {
        (Some(c), Some(k)) => Some(load_tls(c, k)?),
        _ => None,
    };
    let permits = Arc::new(Semaphore::new(cfg.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    let mut consecutive_errors = 0u32;
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        // Reap finished connections so the set stays bounded by max_connections.
        while conns.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(x) => {
                consecutive_errors = 0;
                x
            }
            Err(e) => {
                // Transient errors (e.g. too many open files) must not end the server; back off.
                consecutive_errors = consecutive_errors.saturating_add(1);
                tracing::warn!(error = %e, "accept failed");
                if consecutive_errors > 1000 {
                    return Err(ServeError::Accept(e));
                }
                tokio::time::sleep(Duration::from_millis(10 * u64::from(consecutive_errors.min(100)))).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        let mut stop = stop_rx.clone();
        conns.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).keep_alive(true);
            match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    drive(conn, &mut stop).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                        tracing::debug!(%peer, "TLS handshake failed");
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    drive(conn, &mut stop).await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(remaining = conns.len(), "connections still open after the drain timeout; closing them");
        conns.shutdown().await;
    }
    Ok(())
}

/// Runs one connection; on shutdown it finishes the request in flight and closes.
async fn drive<C>(conn: C, stop: &mut watch::Receiver<bool>)
where
    C: Future<Output = hyper::Result<()>> + GracefulConn,
{
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        _ = stop.wait_for(|s| *s) => {}
    }
    conn.as_mut().graceful();
    let _ = conn.await;
}

/// hyper's connection types expose `graceful_shutdown` on a pinned reference.
trait GracefulConn {
    fn graceful(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulConn for hyper::server::conn::http1::Connection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}
