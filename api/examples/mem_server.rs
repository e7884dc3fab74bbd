//! A tiny Ironic-compatible server over the in-memory test backend, for running the conformance
//! script (`scripts/conformance.sh`) before `ferric serve` exists, and for poking at the API.
//!
//!   cargo run -p ferric-api --example mem_server -- --listen 127.0.0.1:6385
//!   cargo run -p ferric-api --example mem_server -- --listen 127.0.0.1:0 --port-file /tmp/port
//!   ... --htpasswd FILE (http_basic)   ... --tls-cert CERT --tls-key KEY
//!
//! Not a product: state lives in memory and actions complete at once.

#[path = "../tests/support/mod.rs"]
mod support;

use ferric_api::{ApiConfig, AuthStrategy};
use std::sync::Arc;

fn usage() -> ! {
    eprintln!("usage: mem_server [--listen ADDR] [--port-file PATH] [--htpasswd FILE] [--tls-cert CERT --tls-key KEY]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut cfg = ApiConfig::default();
    let mut port_file: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => cfg.listen = val().parse().unwrap_or_else(|_| usage()),
            "--port-file" => port_file = Some(val()),
            "--htpasswd" => {
                cfg.auth_strategy = AuthStrategy::HttpBasic;
                cfg.http_basic_auth_user_file = Some(val().into());
            }
            "--tls-cert" => cfg.tls_cert_file = Some(val().into()),
            "--tls-key" => cfg.tls_key_file = Some(val().into()),
            _ => usage(),
        }
    }
    let listener = match tokio::net::TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mem_server: cannot listen on {}: {e}", cfg.listen);
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("bound socket has an address");
    cfg.listen = addr;
    if let Some(p) = port_file {
        std::fs::write(&p, addr.port().to_string()).expect("write port file");
    }
    eprintln!("mem_server: listening on {addr}");
    let backend = Arc::new(support::MemBackend::new());
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    if let Err(e) = ferric_api::serve(cfg, backend, listener, shutdown).await {
        eprintln!("mem_server: {e}");
        std::process::exit(1);
    }
}
