//! `ferric-unsafe`: `ferric` built with the Jepsen negative-control switches (the
//! `unsafe-test-switches` feature). Never shipped; the harness uses it to prove its checkers fail.

/// mimalloc: the server allocates many small short-lived buffers (JSON, HTTP); glibc malloc
/// spent a fifth of a loaded member's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    ferric::cli::main_entry().await
}
