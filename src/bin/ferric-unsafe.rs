//! `ferric-unsafe`: `ferric` built with the Jepsen negative-control switches (the
//! `unsafe-test-switches` feature). Never shipped; the harness uses it to prove its checkers fail.

#[tokio::main]
async fn main() {
    ferric::cli::main_entry().await
}
