//! Upgrades (issue 19): a store written by the last tagged release opens in this build, is
//! migrated forward, checks (`fund check`, `audit verify`) and settles, on SQLite and on
//! PostgreSQL; a store of a later release is refused, never opened. The fixtures are made
//! by the release's own binary (`scripts/make-upgrade-fixture`):
//! `tests/fixtures/upgrade/<release>.db.gz` (the SQLite file), `<release>.pg.sql.gz` (a
//! `pg_dump`) and the manifest `<release>.json` (what they hold, the hospital's keys).

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// The last tagged release, whose store every build must open.
const RELEASE: &str = "v0.1.0";

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

/// The release's store, unpacked into a fresh data directory.
fn unpack(name: &str) -> (std::path::PathBuf, Value) {
    let dir = scratch(name);
    let packed = std::fs::File::open(fixture_dir().join(format!("{RELEASE}.db.gz"))).expect("the fixture is in the repository");
    let mut database = std::fs::File::create(dir.join("yibao.db")).expect("create");
    std::io::copy(&mut flate2::read::GzDecoder::new(packed), &mut database).expect("unpack the fixture");
    let manifest = std::fs::read_to_string(fixture_dir().join(format!("{RELEASE}.json"))).expect("the fixture's manifest");
    (dir, serde_json::from_str(&manifest).expect("manifest JSON"))
}

fn schema_versions(database: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(database).expect("open");
    let mut statement = conn.prepare("SELECT version FROM schema_migrations ORDER BY version").expect("prepare");
    statement.query_map([], |row| row.get(0)).expect("query").map(|v| v.expect("row")).collect()
}

/// `fund check` and `audit verify` on the store `store` names (`--data-dir D` or
/// `--database-url U`) both pass.
fn check_and_verify(store: &[&str]) {
    let checked = yibao(&[&["fund", "check"], store].concat());
    assert!(checked.status.success(), "fund check of the {RELEASE} store: {}{}", text(&checked.stdout), text(&checked.stderr));
    assert!(text(&checked.stdout).contains("fund books sound"), "{}", text(&checked.stdout));
    let verified = yibao(&[&["audit", "verify"], store].concat());
    assert!(verified.status.success(), "audit verify of the {RELEASE} store: {}{}", text(&verified.stdout), text(&verified.stderr));
}

/// The release's store on `store`, as `made` (the manifest's part for its backend) says:
/// checked as the release left it (every receipt, repayment and close of the release, whose
/// audit entries recorded less than this build's, still accounted for), then served
/// (migrated forward, every settlement readable, a new one settled), stopped and checked.
fn open_check_and_settle(store: &[&str], made: &Value) {
    check_and_verify(store);
    let (mut server, address, _) = start_on(store, false);
    let key = made["hospital_api_key"].as_str().expect("the hospital's key");
    let reversed = made["reversed"].as_str().expect("the reversed claim");
    for claim_id in made["settled"].as_array().expect("settled claims") {
        let claim_id = claim_id.as_str().expect("id");
        let (status, settlement) = call(&address, "GET", &format!("/api/settlements/{HOSPITAL}/{claim_id}"), &[("X-Api-Key", key)], None);
        assert_eq!(status, 200, "{claim_id}: {settlement}");
        assert_eq!(settlement["claim_id"], claim_id, "{settlement}");
        let status_expected = if claim_id == reversed { "reversed" } else { "settled" };
        assert_eq!(settlement["status"], status_expected, "{claim_id}: {settlement}");
        assert!(settlement["settlement"]["medfee_sumamt"].as_str().is_some_and(|total| total != "0.00"), "its bill: {settlement}");
        assert!(settlement["settlement"]["policy_version"].is_null(), "settled before pack versions were recorded: {settlement}");
    }
    // The first start of this build records the pack it was given as version 1 (issue 19).
    assert_eq!(call(&address, "GET", "/api/health", &[], None).1["policy_version"], 1);
    let person = resident(&address);
    settle_all(&address, key, &person, &["AFTER-UPGRADE-1".to_owned()], 200);
    let (status, settled) = call(&address, "GET", &format!("/api/settlements/{HOSPITAL}/AFTER-UPGRADE-1"), &[("X-Api-Key", key)], None);
    assert_eq!(status, 200, "{settled}");
    assert_eq!(settled["status"], "settled", "{settled}");
    assert_eq!(settled["settlement"]["policy_version"], 1, "{settled}");
    let (status, _) = call(&address, "POST", "/api/settlements", &[("X-Api-Key", key)], Some(&json!({ "person_id": person.0 })));
    assert_eq!(status, 400, "a malformed request on the upgraded store is still refused as such");
    let terminated = std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill -TERM");
    assert!(terminated.success());
    assert_eq!(server.wait().expect("reaped").code(), Some(0));
    check_and_verify(store);
}

/// A throwaway PostgreSQL server holding the release's store (its `pg_dump` loaded), and
/// a scratch directory.
fn release_on_postgres(name: &str) -> (yibao_testpg::TestPostgres, std::path::PathBuf) {
    let postgres = yibao_testpg::TestPostgres::start_server().unwrap_or_else(|e| panic!("PostgreSQL for the upgrade test: {e}"));
    let dir = scratch(name);
    let packed = std::fs::File::open(fixture_dir().join(format!("{RELEASE}.pg.sql.gz"))).expect("the fixture is in the repository");
    let mut dump = std::fs::File::create(dir.join("dump.sql")).expect("create");
    std::io::copy(&mut flate2::read::GzDecoder::new(packed), &mut dump).expect("unpack the fixture");
    postgres.psql_file(&dir.join("dump.sql")).unwrap_or_else(|e| panic!("the {RELEASE} dump loads: {e}"));
    (postgres, dir)
}

#[test]
fn the_last_releases_sqlite_store_opens_checks_and_settles() {
    let (dir, manifest) = unpack("upgrade");
    let released_schema = schema_versions(&dir.join("yibao.db"));
    assert!(!released_schema.is_empty(), "the fixture is a Yibao store");
    open_check_and_settle(&["--data-dir", path(&dir)], &manifest["sqlite"]);
    let upgraded_schema = schema_versions(&dir.join("yibao.db"));
    assert!(upgraded_schema.starts_with(&released_schema), "migrations only add: {released_schema:?} then {upgraded_schema:?}");
    assert!(settled_in(&dir.join("yibao.db")).contains(&"AFTER-UPGRADE-1".to_owned()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A damaged settlement in the release's store (its JSON cut short) does not stop the
/// upgrade (issue 17: migration 24 fills two columns from every claim's JSON): the store
/// opens, and the book check names the claim. On PostgreSQL too (migration 25), where a
/// damaged audit digest does not stop migration 26 either.
#[test]
fn a_damaged_settlement_of_the_last_release_is_named_not_a_failed_upgrade() {
    let damage = "UPDATE claims SET settlement = substr(settlement, 1, 500) \
                  WHERE claim_id = (SELECT min(claim_id) FROM claims WHERE status = 'settled')";
    let (dir, _) = unpack("upgrade-damaged");
    rusqlite::Connection::open(dir.join("yibao.db")).expect("open").execute(damage, []).expect("damage one settlement");
    let out = yibao(&["fund", "check", "--data-dir", path(&dir)]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success() && said.contains("books.business_disagrees") && said.contains("stored settlement is unreadable"),
        "{said}"
    );
    assert!(schema_versions(&dir.join("yibao.db")).contains(&25), "migrated: {said}");
    let _ = std::fs::remove_dir_all(&dir);

    let (postgres, dir) = release_on_postgres("upgrade-pg-damaged");
    postgres.psql(damage).expect("damage one settlement");
    // And an audit entry's digest that is no digest (migration 26 stores digests as their
    // bytes): the upgrade keeps its text, and `audit verify` names the entry.
    let region = postgres.psql("SELECT min(region_code) FROM audit_log").expect("a region");
    postgres
        .psql(&format!("ALTER TABLE audit_log DISABLE TRIGGER ALL; UPDATE audit_log SET hash = 'not a digest' WHERE region_code = '{region}' AND seq = 1"))
        .expect("damage one digest");
    let out = yibao(&["fund", "check", "--database-url", postgres.url()]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success() && said.contains("books.business_disagrees") && said.contains("stored settlement is unreadable"),
        "{said}"
    );
    let migrated = postgres.psql("SELECT max(version) FROM schema_migrations").expect("versions");
    assert_eq!(migrated, "26");
    let out = yibao(&["audit", "verify", "--database-url", postgres.url()]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success() && said.contains(&format!("region {region}, entry 1: ")), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_last_releases_postgresql_store_opens_checks_and_settles() {
    let (postgres, dir) = release_on_postgres("upgrade-pg");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join(format!("{RELEASE}.json"))).expect("manifest")).expect("JSON");
    let released = postgres.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations").expect("versions");
    open_check_and_settle(&["--database-url", postgres.url()], &manifest["postgres"]);
    let upgraded = postgres.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations").expect("versions");
    assert!(upgraded.starts_with(&released), "migrations only add: {released} then {upgraded}");
    let settled = postgres.psql("SELECT count(*) FROM claims WHERE claim_id = 'AFTER-UPGRADE-1'").expect("count");
    assert_eq!(settled, "1");
    // Then a later release migrates it further: this build refuses it.
    postgres.psql("INSERT INTO schema_migrations (version) VALUES (9999)").expect("a later migration");
    let out = yibao(&["fund", "check", "--database-url", postgres.url()]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success() && said.contains("9999") && said.contains("later release"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store a later release has migrated further than this build knows is refused with
/// `store.schema_newer` by every command, and nothing in it changes: not a byte of the file
/// (here in rollback mode, so that switching it to WAL would show), no log beside it.
#[test]
fn a_store_of_a_later_release_is_refused() {
    let (dir, _) = unpack("upgrade-newer");
    let database = dir.join("yibao.db");
    let conn = rusqlite::Connection::open(&database).expect("open");
    let _: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0)).expect("rollback mode");
    conn.execute("INSERT INTO schema_migrations (version) VALUES (9999)", []).expect("a later migration");
    drop(conn);
    let before = std::fs::read(&database).expect("read");
    let out_file = dir.with_extension("backup");
    let commands = [
        vec!["fund", "check", "--data-dir", path(&dir)],
        vec!["audit", "verify", "--data-dir", path(&dir)],
        vec!["pool", "run", "--month", "2026-11", "--data-dir", path(&dir)],
        vec!["backup", "--data-dir", path(&dir), "--out", path(&out_file)],
        vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", path(&dir)],
    ];
    for args in commands {
        let out = yibao(&args);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success() && said.contains("9999") && said.contains("later release"), "{args:?}: {said}");
        assert!(std::fs::read(&database).expect("read") == before, "{args:?}: the later release's store is untouched");
        assert!(!dir.join("yibao.db-wal").exists() && !dir.join("yibao.db-shm").exists(), "{args:?}: no log beside it");
    }
    assert!(!out_file.exists(), "no backup of a store this build cannot read");
    let _ = std::fs::remove_dir_all(&dir);
}
