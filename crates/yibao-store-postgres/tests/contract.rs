//! The store contract on a throwaway PostgreSQL server, and the audit log's defences.

use std::sync::Arc;

use time::macros::datetime;
use yibao_domain::RegionCode;
use yibao_store::{Actor, NewHousehold, Store, verify_audit};
use yibao_store_postgres::PostgresStore;
use yibao_testpg::TestPostgres;

/// A fresh server; a missing PostgreSQL fails the test with the reason, never skips it.
fn server() -> TestPostgres {
    TestPostgres::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"))
}

/// The whole contract, every case the SQLite store passes, on one fresh server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_whole_store_contract() {
    let pg = server();
    let store = Arc::new(PostgresStore::connect(pg.url()).await.expect("connects"));
    yibao_store_contract::run_all(Arc::clone(&store)).await;
    assert_audit_intact(&store).await;
    // Connecting again applies no migration twice and keeps every row.
    let again = PostgresStore::connect(pg.url()).await.expect("connects again");
    let verification = verify_audit(&again).await.expect("verify");
    assert!(verification.is_intact() && verification.entries > 20, "{verification:?}");
}

async fn assert_audit_intact(store: &PostgresStore) {
    let verification = verify_audit(store).await.expect("verify");
    assert!(verification.is_intact(), "{:?}", verification.breaks);
}

/// A superuser running SQL past the application.
struct SuperuserAttacker(sqlx::PgPool);

impl yibao_store_contract::Attacker for SuperuserAttacker {
    fn dialect(&self) -> yibao_store_contract::Dialect {
        yibao_store_contract::Dialect::Postgres
    }

    async fn run(&self, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&self.0).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn read_bytes(&self, sql: &str) -> Vec<u8> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&self.0).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Every tamper class of issue 12 is found and named on PostgreSQL too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tamper_class_is_detected() {
    let pg = server();
    let store = Arc::new(PostgresStore::connect(pg.url()).await.expect("connects"));
    let attacker = SuperuserAttacker(sqlx::PgPool::connect(pg.url()).await.expect("raw connection"));
    yibao_store_contract::run_tamper(store, &attacker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_migrate_once() {
    let pg = server();
    let (a, b, c) = tokio::join!(PostgresStore::connect(pg.url()), PostgresStore::connect(pg.url()), PostgresStore::connect(pg.url()));
    for store in [a, b, c] {
        store.expect("every concurrent migrator succeeds");
    }
    let pool = sqlx::PgPool::connect(pg.url()).await.expect("raw connection");
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&pool).await.expect("read");
    assert_eq!(versions, (1..=26).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_refuses_edits_and_a_forced_edit_is_detected() {
    let pg = server();
    let store = PostgresStore::connect(pg.url()).await.expect("connects");
    let region = RegionCode::parse("419921").expect("region");
    let actor =
        Actor { who: "clerk".into(), role: "enrolment_clerk".into(), source: "127.0.0.1".into(), at: datetime!(2026-03-01 09:30 UTC) };
    for n in 1..=3 {
        let household = NewHousehold {
            household_id: yibao_domain::HouseholdId::parse(&format!("HH-{n}")).expect("an id"),
            region,
            address: "幸福路 1 号".into(),
        };
        store.create_household(&actor, region, household).await.expect("household");
    }
    assert!(verify_audit(&store).await.expect("verify").is_intact());

    let pool = sqlx::PgPool::connect(pg.url()).await.expect("raw connection");
    let forge = "UPDATE audit_log SET detail = '{\"forged\":true}' WHERE region_code = '419921' AND seq = 2";
    for sql in [forge, "DELETE FROM audit_log WHERE region_code = '419921' AND seq = 3", "TRUNCATE audit_log"] {
        let refused = sqlx::query(sql).execute(&pool).await.expect_err("the trigger refuses");
        assert!(refused.to_string().contains("append-only"), "{sql}: {refused}");
    }
    assert!(verify_audit(&store).await.expect("verify").is_intact(), "nothing was changed");

    // A superuser can switch the triggers off; the hash chain still names the forged entry.
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER ALL").execute(&pool).await.expect("superuser disables the triggers");
    let changed = sqlx::query(forge).execute(&pool).await.expect("forged").rows_affected();
    assert_eq!(changed, 1);
    let verification = verify_audit(&store).await.expect("verify");
    assert_eq!(verification.entries, 3);
    assert_eq!(verification.breaks.len(), 1, "{:?}", verification.breaks);
    assert!(
        verification.breaks[0].starts_with("region 419921, entry 2:") && verification.breaks[0].contains("edited"),
        "{:?}",
        verification.breaks
    );
}
