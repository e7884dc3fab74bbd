//! `ferric`: a thin main; the program is `ferric::cli::main_entry`.

/// mimalloc: the server allocates many small short-lived buffers (JSON, HTTP); glibc malloc
/// spent a fifth of a loaded member's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    ferric::cli::main_entry().await
}
