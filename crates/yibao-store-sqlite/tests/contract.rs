//! The store contract on a fresh SQLite file.

use std::sync::Arc;

use yibao_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_contract() {
    let dir = std::env::temp_dir().join(format!("yibao-sqlite-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("opens");
    let store = Arc::new(store);
    yibao_store_contract::run_all(store).await;
    // Reopening applies no migration twice and keeps every row.
    let reopened = SqliteStore::open(&dir.join("yibao.db")).await.expect("reopens");
    let verification = yibao_store::verify_audit(&reopened).await.expect("verify");
    assert!(verification.is_intact() && verification.entries > 20, "{verification:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The audit log refuses edits; and if someone with file access drops the guard and edits
/// history anyway, verification names the broken entry (R-SYS-6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_audit_entry_is_detected() {
    let dir = std::env::temp_dir().join(format!("yibao-sqlite-tamper-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("yibao.db");
    let store = SqliteStore::open(&path).await.expect("opens");
    let actor = yibao_store::Actor {
        who: "clerk".into(),
        role: "enrolment_clerk".into(),
        source: "10.1.2.3".into(),
        at: time::macros::datetime!(2026-03-01 09:30 UTC),
    };
    let region = yibao_domain::RegionCode::parse("419921").expect("region");
    for n in 1..=3 {
        let household = yibao_store::NewHousehold {
            household_id: yibao_domain::HouseholdId::parse(&format!("HH-{n}")).expect("an id"),
            region,
            address: "x".into(),
        };
        yibao_store::Store::create_household(&store, &actor, region, household).await.expect("household");
    }
    assert!(yibao_store::verify_audit(&store).await.expect("verify").is_intact());
    let conn = rusqlite::Connection::open(&path).expect("connect");
    let refused = conn.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 2", []);
    assert!(refused.is_err_and(|e| e.to_string().contains("append-only")), "the trigger refuses edits");
    conn.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = '{\"forged\":true}' WHERE seq = 2")
        .expect("attacker edits");
    let verification = yibao_store::verify_audit(&store).await.expect("verify");
    assert_eq!(verification.breaks.len(), 1, "{:?}", verification.breaks);
    assert!(
        verification.breaks[0].contains("region 419921, entry 2") && verification.breaks[0].contains("edited"),
        "{:?}",
        verification.breaks
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Someone with the file: runs SQL on it while the store is open.
struct FileAttacker(rusqlite::Connection);

impl yibao_store_contract::Attacker for FileAttacker {
    fn dialect(&self) -> yibao_store_contract::Dialect {
        yibao_store_contract::Dialect::Sqlite
    }

    async fn run(&self, sql: &str) {
        self.0.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn read_bytes(&self, sql: &str) -> Vec<u8> {
        self.0.query_row(sql, [], |row| row.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Every tamper class of issue 12 (a claim's fund pay, its stored settlement, a transfer
/// with both account totals, a contribution, a personal-account balance, the audit chain's
/// tail, its head and a region's whole chain) is found and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tamper_class_is_detected() {
    let dir = std::env::temp_dir().join(format!("yibao-sqlite-tamper-classes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("yibao.db");
    let store = Arc::new(SqliteStore::open(&path).await.expect("opens"));
    let attacker = FileAttacker(rusqlite::Connection::open(&path).expect("connect"));
    yibao_store_contract::run_tamper(store, &attacker).await;
    let _ = std::fs::remove_dir_all(&dir);
}
