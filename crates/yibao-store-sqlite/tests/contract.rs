//! The store contract on a fresh SQLite file.

use std::sync::Arc;

use yibao_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_contract() {
    let dir = std::env::temp_dir().join(format!("yibao-sqlite-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("opens");
    yibao_store::contract::run(Arc::new(store)).await;
    // Reopening applies no migration twice and keeps every row.
    let reopened = SqliteStore::open(&dir.join("yibao.db")).await.expect("reopens");
    let verification = yibao_store::verify_audit(&reopened).await.expect("verify");
    assert!(verification.is_intact() && verification.entries > 20, "{verification:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
