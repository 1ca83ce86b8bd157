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
        let household = yibao_store::NewHousehold { household_id: yibao_domain::HouseholdId::parse(&format!("HH-{n}")).expect("an id"), region, address: "x".into() };
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

/// Deleting the newest audit entry, or a whole region's chain with its head, leaves no
/// broken link to find: verification compares each chain's end with its recorded head and
/// walks every region that holds records, not only those the heads list (issue 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_or_deleted_audit_chain_is_detected() {
    let dir = std::env::temp_dir().join(format!("yibao-sqlite-truncate-{}", std::process::id()));
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
    for (code, n) in [("419921", 1), ("419921", 2), ("419921", 3), ("419922", 4)] {
        let region = yibao_domain::RegionCode::parse(code).expect("region");
        let household = yibao_store::NewHousehold {
            household_id: yibao_domain::HouseholdId::parse(&format!("HH-{n}")).expect("an id"),
            region,
            address: "x".into(),
        };
        yibao_store::Store::create_household(&store, &actor, region, household).await.expect("household");
    }
    assert!(yibao_store::verify_audit(&store).await.expect("verify").is_intact());
    let conn = rusqlite::Connection::open(&path).expect("connect");
    // The newest entry of 东县 deleted: every remaining link is sound, the head is not.
    conn.execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE region_code = '419921' AND seq = 3")
        .expect("attacker deletes");
    let verification = yibao_store::verify_audit(&store).await.expect("verify");
    assert_eq!(verification.breaks.len(), 1, "{:?}", verification.breaks);
    assert!(verification.breaks[0].contains("region 419921: the chain ends at entry 2, but its head records entry 3"), "{:?}", verification.breaks);
    // 西县's whole chain and its head deleted: its household is still on record.
    conn.execute_batch("DELETE FROM audit_log WHERE region_code = '419922'; DELETE FROM audit_heads WHERE region_code = '419922'")
        .expect("attacker deletes the chain");
    let verification = yibao_store::verify_audit(&store).await.expect("verify");
    assert_eq!(verification.breaks.len(), 2, "{:?}", verification.breaks);
    assert!(verification.breaks[1].contains("region 419922: records and no audit chain"), "{:?}", verification.breaks);
    let _ = std::fs::remove_dir_all(&dir);
}
