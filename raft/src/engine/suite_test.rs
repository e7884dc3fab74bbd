//! openraft's storage conformance suite against our RocksDB log store and state machine.

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::TypeConfig;
use ferric_storage::{Store, StoreOptions};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("data"), "suite", StoreOptions::default()).expect("open store");
        let (tx, _rx) = tokio::sync::watch::channel(0);
        let sm = StateMachine::new(store.clone(), dir.path().join("snapshots"), tx).expect("state machine");
        Ok((dir, LogStore::new(store), sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite() -> Result<(), StorageError<TypeConfig>> {
    Suite::test_all(Builder).await?;
    Ok(())
}
