//! `ferric`: a thin main; the program is `ferric::cli::main_entry`.

#[tokio::main]
async fn main() {
    ferric::cli::main_entry().await
}
