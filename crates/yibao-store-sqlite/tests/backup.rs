//! The online copy (issue 19) at the store's level: taken one page per step while claims
//! are settled through the store beside it, so that the settlements commit between steps
//! (which would restart a copy that held no snapshot), it holds every settlement
//! acknowledged before it began and a consistent database: the audit chain and the books
//! verify, read through a read-only store that cannot write. A database another
//! connection has open is not taken out of service; one no one has open is, WAL folded in.

use std::sync::Arc;

use time::macros::date;
use yibao_domain::HouseholdId;
use yibao_engine::{Claim, Explain};
use yibao_policy::Policy;
use yibao_store::{NewHousehold, SettleRequest, Store, engine_settlement};
use yibao_store_sqlite::SqliteStore;
use yibao_store_sqlite::backup::{CopyOptions, copy_database, side_file, take_out_of_service};

mod common;

use common::{INSTITUTION, actor, enrol, person, region};

/// A one-day stay on day `n` of 2026.
fn claim(n: usize) -> Claim {
    let day = date!(2026 - 01 - 01) + time::Duration::days(i64::try_from(n).expect("small"));
    serde_json::from_str(&format!(
        r#"{{"claim_id":"COPY-{n}","institution_code":"{INSTITUTION}","institution_level":"secondary","kind":"inpatient",
        "admission_date":"{day}","discharge_date":"{day}","diagnosis":"K35.900","referral":true,
        "lines":[{{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":"{}.00"}}]}}"#,
        800 + (n * 37) % 5_000
    ))
    .expect("claim")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_taken_while_the_store_settles_holds_every_acknowledged_settlement_and_verifies() {
    let dir = std::env::temp_dir().join(format!("yibao-sqlite-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("yibao.db");
    let store = SqliteStore::open(&path).await.expect("opens");
    enrol(&store, "HH-COPY").await;
    let policy = Arc::new(Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("pack"));

    // Settling, one claim after another, each reported once its commit returned.
    let (acks, mut acknowledged) = tokio::sync::mpsc::unbounded_channel::<String>();
    let settling = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..300 {
                let c = claim(n);
                let request = SettleRequest {
                    institution_code: yibao_domain::InstitutionCode::parse(INSTITUTION).expect("a code"),
                    claim_id: c.claim_id.clone(),
                    person_id: person(),
                    year: 2026,
                    service_date: c.admission_date,
                    claim_json: serde_json::to_string(&c).expect("json"),
                    flags: Vec::new(),
                };
                store
                    .settle(&actor(), region(), request, engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off))
                    .await
                    .expect("settles");
                if acks.send(c.claim_id).is_err() {
                    return;
                }
            }
        })
    };
    let mut before = Vec::new();
    while before.len() < 30 {
        before.push(acknowledged.recv().await.expect("settlements are acknowledged"));
    }
    while let Ok(id) = acknowledged.try_recv() {
        before.push(id);
    }

    let copy = dir.join("copy.db");
    let options = CopyOptions { pages_per_step: 1, pause_ms: 1 };
    let copied = {
        let (path, copy) = (path.clone(), copy.clone());
        tokio::task::spawn_blocking(move || copy_database(&path, &copy, options, &mut |_, _| {})).await.expect("joins").expect("copies")
    };
    assert!(copied.steps > 1 && copied.pages > 1, "{copied:?}");
    settling.await.expect("every settlement was acknowledged");
    assert!(!side_file(&copy, "-wal").exists() && !side_file(&copy, "-journal").exists(), "the copy is one file");
    // Never over a file.
    let again = copy_database(&path, &copy, options, &mut |_, _| {});
    assert!(again.is_err(), "{again:?}");

    let read_only = SqliteStore::open_read_only(&copy).await.expect("opens read-only");
    for id in &before {
        read_only.claim(region(), INSTITUTION, id).await.unwrap_or_else(|e| panic!("{id}, acknowledged before the copy, is missing: {e}"));
    }
    let audit = yibao_store::verify_audit(&read_only).await.expect("verifies");
    assert!(audit.is_intact() && audit.entries > before.len(), "{audit:?}");
    let books = yibao_store::verify_books(&read_only).await.expect("checks");
    assert!(books.breaches.is_empty() && books.transfers > 0, "{:?}", books.breaches);
    let write = read_only
        .create_household(
            &actor(),
            region(),
            NewHousehold { household_id: HouseholdId::parse("HH-NEW").expect("an id"), region: region(), address: "y".into() },
        )
        .await;
    assert!(write.is_err(), "a read-only store writes nothing: {write:?}");

    // The live store has the file open: it is not taken out of service.
    assert!(!take_out_of_service(&path).expect("asks"), "a store has it open");
    drop((store, read_only));
    // A WAL database no one has open: its log folded in, one file left.
    let alone = dir.join("alone.db");
    let conn = rusqlite::Connection::open(&alone).expect("open");
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);").expect("write");
    drop(conn);
    assert!(take_out_of_service(&alone).expect("asks"));
    assert!(!side_file(&alone, "-wal").exists());
    let conn = rusqlite::Connection::open(&alone).expect("open");
    assert_eq!(conn.query_row("SELECT x FROM t", [], |row| row.get::<_, i64>(0)).expect("row"), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
