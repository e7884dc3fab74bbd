//! `ferric`: a thin main; the program is `ferric::cli::main_entry`.

/// mimalloc: the server allocates many small short-lived buffers (JSON, HTTP); glibc malloc
/// spent a fifth of a loaded member's CPU. Built with `no_thp`: mimalloc would `madvise` its
/// segments as huge pages, which cost each member ~30 MiB of resident memory and no measurable CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    ferric::cli::main_entry().await
}
