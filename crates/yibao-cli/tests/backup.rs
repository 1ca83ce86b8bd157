//! Backup and restore (issue 19): `yibao backup` copies the SQLite store while the server
//! settles, the copy holds every settlement acknowledged before the backup began and
//! verifies as `fund check` and `audit verify` would; `yibao restore` puts it into a fresh
//! data directory, where a server settles a new claim; a database already there is refused,
//! or kept aside with --force, never while a server has it open; a copy that does not
//! verify is named and never restored.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

mod common;

use common::*;

#[test]
fn a_backup_taken_while_the_server_settles_verifies_and_restores_into_a_server_that_settles() {
    let dir = scratch("backup-live");
    let live = dir.join("live");
    let (mut server, address, key) = start(&live, true);
    let key = key.expect("the hospital's key");
    let (person_id, card_no) = resident(&address);

    // The burst: one client settling claim after claim until told to stop, reporting each
    // acknowledged (201) claim id.
    let (sender, acknowledgements) = std::sync::mpsc::channel::<String>();
    let stop = Arc::new(AtomicBool::new(false));
    let burst = {
        let (address, person_id, card_no, key, stop) =
            (address.clone(), person_id.clone(), card_no.clone(), key.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            for n in 0..290 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let id = format!("BK-{n}");
                let body = json!({ "person_id": person_id, "card_no": card_no, "claim": claim(&id, n) });
                let (status, answer) = call(&address, "POST", "/api/settlements", &[("X-Api-Key", &key)], Some(&body));
                assert_eq!(status, 201, "{id}: {answer}");
                if sender.send(id).is_err() {
                    return;
                }
                // Paced, so that the burst outlasts the start of the backup beside it.
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut before = Vec::new();
    while before.len() < 20 {
        before.push(acknowledgements.recv_timeout(Duration::from_secs(120)).expect("settlements are acknowledged"));
    }
    before.extend(acknowledgements.try_iter());

    // The backup, while the burst goes on.
    let file = dir.join("live.backup");
    let out = yibao(&["backup", "--data-dir", path(&live), "--out", path(&file), "--pages-per-step", "64"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("fund books sound") && stdout.contains("audit log intact"), "{stdout}");
    let mut during = Vec::new();
    while during.len() < 5 {
        during.push(acknowledgements.recv_timeout(Duration::from_secs(120)).expect("the server kept settling"));
    }
    stop.store(true, Ordering::Relaxed);
    burst.join().expect("every settlement of the burst was acknowledged");
    during.extend(acknowledgements.try_iter());

    // The copy is one file and holds every settlement acknowledged before it began.
    let names: Vec<String> =
        std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains("partial") || n.ends_with("-wal") || n.ends_with("-journal")), "{names:?}");
    let copied = settled_in(&file);
    for id in &before {
        assert!(copied.contains(id), "{id}, acknowledged before the backup, is not in it");
    }

    eprintln!(
        "the copy holds {} settlements; {} acknowledged before it began, {} in all",
        copied.len(),
        before.len(),
        before.len() + during.len()
    );

    // A backup never writes over a file.
    let size_bytes = std::fs::metadata(&file).expect("backup").len();
    let out = yibao(&["backup", "--data-dir", path(&live), "--out", path(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[backup.exists]"), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&file).expect("backup").len(), size_bytes);
    let out = yibao(&["backup", "--data-dir", path(&dir.join("empty")), "--out", path(&dir.join("none.backup"))]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[backup.no_database]"), "{}", text(&out.stderr));

    // Not over the running server's database, even with --force: it stays as it was.
    let out = yibao(&["restore", "--from", path(&file), "--data-dir", path(&live), "--force"]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[restore.in_use]"), "{}", text(&out.stderr));
    let (status, _) = call(&address, "GET", &format!("/api/settlements/{HOSPITAL}/{}", during[0]), &[("X-Api-Key", &key)], None);
    assert_eq!(status, 200, "the live store is untouched");
    server.kill().expect("stop");
    server.wait().expect("reaped");

    // Restored into a fresh data directory, a server opens it, finds the settlements and
    // settles a new claim with the same key.
    let restored = dir.join("restored");
    let out = yibao(&["restore", "--from", path(&file), "--data-dir", path(&restored)]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("fund books sound") && stdout.contains("audit log intact") && stdout.contains("restored"), "{stdout}");
    let out = yibao(&["restore", "--from", path(&file), "--data-dir", path(&restored)]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[restore.data_dir_not_empty]"), "{}", text(&out.stderr));
    let (mut server, address, _) = start(&restored, false);
    let (status, found) =
        call(&address, "GET", &format!("/api/settlements/{HOSPITAL}/{}", before[before.len() - 1]), &[("X-Api-Key", &key)], None);
    assert_eq!(status, 200, "{found}");
    let body = json!({ "person_id": person_id, "card_no": card_no, "claim": claim("BK-AFTER-RESTORE", 299) });
    let (status, settled) = call(&address, "POST", "/api/settlements", &[("X-Api-Key", &key)], Some(&body));
    assert_eq!(status, 201, "{settled}");
    server.kill().expect("stop");
    server.wait().expect("reaped");
    for check in [&["fund", "check"][..], &["audit", "verify"][..]] {
        let out = yibao(&[check, &["--data-dir", path(&restored)]].concat());
        assert!(out.status.success(), "{check:?}: {}", text(&out.stderr));
    }

    // With --force, over a stopped server's database: that database is kept, renamed aside.
    let out = yibao(&["restore", "--from", path(&file), "--data-dir", path(&restored), "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let aside = set_aside_in(&restored);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(settled_in(&aside[0]).contains(&"BK-AFTER-RESTORE".to_owned()), "the replaced database is kept whole");
    assert!(!settled_in(&restored.join("yibao.db")).contains(&"BK-AFTER-RESTORE".to_owned()), "the backup is in place");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The databases a restore renamed aside in `data_dir`.
fn set_aside_in(data_dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("yibao.db.before-restore-")))
        .collect()
}

#[test]
fn a_copy_that_does_not_verify_is_named_and_never_restored() {
    let dir = scratch("backup-tampered");
    let store = dir.join("store");
    let out = yibao(&["synth", "--insured", "1000", "--seed", "5", "--block-persons", "500", "--data-dir", path(&store), "--settle"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let good = dir.join("good.backup");
    let out = yibao(&["backup", "--data-dir", path(&store), "--out", path(&good)]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // An account's total edited behind the books' back, in a copy of the backup.
    let tampered = dir.join("tampered.backup");
    std::fs::copy(&good, &tampered).expect("copy");
    let conn = rusqlite::Connection::open(&tampered).expect("open");
    let changed = conn
        .execute(
            "UPDATE ledger_accounts SET debits_posted_fen = debits_posted_fen + 100 WHERE rowid = (SELECT min(rowid) FROM ledger_accounts)",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let target = dir.join("target");
    let out = yibao(&["restore", "--from", path(&tampered), "--data-dir", path(&target)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[backup.not_verified]") && text(&out.stderr).contains("[books."), "{}", text(&out.stderr));
    assert!(!target.join("yibao.db").exists(), "nothing restored");

    // A store that does not verify: its backup is written whole, named as not verifying,
    // and exits 1.
    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).expect("dir");
    std::fs::copy(&tampered, broken.join("yibao.db")).expect("copy");
    let copy = dir.join("broken.backup");
    let out = yibao(&["backup", "--data-dir", path(&broken), "--out", path(&copy)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[backup.not_verified]"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("audit log intact"), "what holds is still reported: {}", text(&out.stdout));
    assert_eq!(settled_in(&copy).len(), settled_in(&good).len());

    // Not a backup at all.
    let junk = dir.join("junk.backup");
    std::fs::write(&junk, b"not a database").expect("write");
    let out = yibao(&["restore", "--from", path(&junk), "--data-dir", path(&target)]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[backup.unreadable]"), "{}", text(&out.stderr));
    let out = yibao(&["restore", "--from", path(&dir.join("missing.backup")), "--data-dir", path(&target)]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[backup.not_found]"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// PostgreSQL's recipe (README, "Backup and restore"): a base backup with `pg_basebackup`
/// while the server settles, WAL archived by `archive_command`, and a new server recovered
/// from them with `recovery_target_time`: it holds every settlement acknowledged before
/// that time, none after, and its books and audit log verify.
#[test]
fn postgresql_recovered_to_a_point_in_time_holds_every_settlement_acknowledged_before_it() {
    let postgres = yibao_testpg::TestPostgres::start_archiving().unwrap_or_else(|e| panic!("PostgreSQL for the recovery test: {e}"));
    let (mut server, address, key) = start_on(&["--database-url", postgres.url()], true);
    let key = key.expect("the hospital's key");
    let person = resident(&address);
    let ids = |prefix: &str, count: usize| -> Vec<String> { (0..count).map(|n| format!("{prefix}-{n}")).collect() };

    let (first, before, after) = (ids("PITR-BASE", 5), ids("PITR-BEFORE", 10), ids("PITR-AFTER", 10));
    settle_all(&address, &key, &person, &first, 0);
    let base = postgres.base_backup().unwrap_or_else(|e| panic!("{e}"));
    settle_all(&address, &key, &person, &before, 10);
    // Every settlement above was acknowledged, so committed, before this instant; every
    // one below is sent after it.
    std::thread::sleep(Duration::from_millis(200));
    let now = time::OffsetDateTime::now_utc();
    let target = format!("{} {:02}:{:02}:{:02}.{:06}+00", now.date(), now.hour(), now.minute(), now.second(), now.microsecond());
    std::thread::sleep(Duration::from_millis(200));
    settle_all(&address, &key, &person, &after, 30);
    postgres.archive_current_wal().unwrap_or_else(|e| panic!("{e}"));
    server.kill().expect("stop");
    server.wait().expect("reaped");

    let archive = postgres.archive_dir().expect("an archiving server of our own");
    let recovered =
        yibao_testpg::TestPostgres::start_recovered(&base, &archive, &target).unwrap_or_else(|e| panic!("recovery to {target}: {e}"));
    let stored = recovered
        .psql(&format!("SELECT claim_id FROM claims WHERE institution_code = '{HOSPITAL}' AND claim_id LIKE 'PITR-%' ORDER BY claim_id"))
        .unwrap_or_else(|e| panic!("{e}"));
    let stored: Vec<&str> = stored.lines().collect();
    for id in first.iter().chain(&before) {
        assert!(stored.contains(&id.as_str()), "{id}, acknowledged before {target}, is not recovered: {stored:?}");
    }
    for id in &after {
        assert!(!stored.contains(&id.as_str()), "{id}, settled after {target}, is recovered: {stored:?}");
    }
    for check in [&["fund", "check"][..], &["audit", "verify"][..]] {
        let out = yibao(&[check, &["--database-url", recovered.url()]].concat());
        assert!(out.status.success(), "{check:?}: {}", text(&out.stderr));
    }
}

/// What a hostile review found (issue 19): a backup never lands where SQLite would take it
/// for part of the live database, is readable by its owner only, and is not taken of a
/// later release's store; a restore takes only a backup (never a live database beside its
/// write-ahead log), and replaces a damaged database (the reason to restore), keeping it.
#[test]
fn backup_and_restore_refuse_what_would_lose_data() {
    let dir = scratch("backup-hostile");
    let store = dir.join("store");
    let out = yibao(&["synth", "--insured", "1000", "--seed", "6", "--block-persons", "500", "--data-dir", path(&store)]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let good = dir.join("good.backup");
    let out = yibao(&["backup", "--data-dir", path(&store), "--out", path(&good)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&good).expect("backup").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a backup holds national IDs and password hashes: {mode:o}");
    }

    // Into the data directory under a name SQLite owns: refused, nothing written.
    for name in ["yibao.db-journal", "yibao.db-wal", "yibao.db.copy"] {
        let out = yibao(&["backup", "--data-dir", path(&store), "--out", path(&store.join(name))]);
        assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[backup.inside_data_dir]"), "{name}: {}", text(&out.stderr));
        assert!(!store.join(name).exists(), "{name}");
    }

    // A live database, its write-ahead log beside it: not restored from.
    let holder = rusqlite::Connection::open(store.join("yibao.db")).expect("open");
    let _: String = holder.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).expect("wal");
    holder.execute_batch("BEGIN; CREATE TABLE held (x INTEGER); ROLLBACK;").expect("touch the log");
    assert!(store.join("yibao.db-wal").exists(), "the test holds the database open in WAL mode");
    let target = dir.join("target");
    let out = yibao(&["restore", "--from", path(&store.join("yibao.db")), "--data-dir", path(&target)]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[restore.live_database]"), "{}", text(&out.stderr));
    assert!(!target.join("yibao.db").exists());
    drop(holder);

    // A damaged database is replaced with --force and kept aside, byte for byte.
    std::fs::create_dir_all(&target).expect("dir");
    let damage = b"SQLite format 3\0 and then nothing a database could be".to_vec();
    std::fs::write(target.join("yibao.db"), &damage).expect("write");
    let out = yibao(&["restore", "--from", path(&good), "--data-dir", path(&target), "--force"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let aside = set_aside_in(&target);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).expect("aside"), damage, "the damaged file is kept as it was");
    let out = yibao(&["fund", "check", "--data-dir", path(&target)]);
    assert!(out.status.success(), "the restored store verifies: {}", text(&out.stderr));

    // A later release's store (here in rollback mode, as a copy would be): no backup is
    // taken and the file is untouched.
    let newer = dir.join("newer");
    std::fs::create_dir_all(&newer).expect("dir");
    std::fs::copy(&good, newer.join("yibao.db")).expect("copy");
    rusqlite::Connection::open(newer.join("yibao.db"))
        .expect("open")
        .execute("INSERT INTO schema_migrations (version) VALUES (9999)", [])
        .expect("a later migration");
    let before = std::fs::read(newer.join("yibao.db")).expect("read");
    let out = yibao(&["backup", "--data-dir", path(&newer), "--out", path(&dir.join("newer.backup"))]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[store.schema_newer]"), "{}", text(&out.stderr));
    assert!(!dir.join("newer.backup").exists());
    for args in [vec!["fund", "check"], vec!["audit", "verify"]] {
        let out = yibao(&[&args[..], &["--data-dir", path(&newer)]].concat());
        assert!(out.status.code() == Some(1) && text(&out.stderr).contains("9999"), "{args:?}: {}", text(&out.stderr));
    }
    assert!(std::fs::read(newer.join("yibao.db")).expect("read") == before, "the later release's store is untouched");
    assert!(!newer.join("yibao.db-wal").exists() && !newer.join("yibao.db-shm").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server's configuration file reaches the operator's commands: `fund check`, `audit
/// verify`, `backup` and `restore` with `--config` work on the store it names (its relative
/// `data_dir` taken from the file's directory, whatever the working directory), and a
/// configuration on PostgreSQL is told to use PostgreSQL's own backup.
#[test]
fn the_operators_commands_read_the_servers_configuration() {
    let dir = scratch("backup-config");
    let out = yibao(&["synth", "--insured", "1000", "--seed", "7", "--block-persons", "500", "--data-dir", path(&dir.join("data"))]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(dir.join("yibao.toml"), "data_dir = \"data\"\nlisten = \"127.0.0.1:0\"\n").expect("config");
    let config = dir.join("yibao.toml");
    let run =
        |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_yibao")).args(args).current_dir("/").output().expect("runs yibao");
    let out = run(&["fund", "check", "--config", path(&config)]);
    assert!(out.status.success() && text(&out.stdout).contains("fund books sound"), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = run(&["audit", "verify", "--config", path(&config)]);
    assert!(out.status.success() && text(&out.stdout).contains("audit log intact"), "{}", text(&out.stderr));
    let copy = dir.join("copy.backup");
    let out = run(&["backup", "--config", path(&config), "--out", path(&copy)]);
    assert!(
        out.status.success() && text(&out.stdout).contains(&format!("{}", dir.join("data/yibao.db").display())),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["restore", "--config", path(&config), "--from", path(&copy)]);
    assert!(out.status.code() == Some(1) && text(&out.stderr).contains("[restore.data_dir_not_empty]"), "{}", text(&out.stderr));

    std::fs::write(dir.join("pg.toml"), "database_url = \"postgres://yibao:S3cretPw@127.0.0.1:1/yibao\"\n").expect("config");
    let out = run(&["backup", "--config", path(&dir.join("pg.toml")), "--out", path(&dir.join("pg.backup"))]);
    let said = text(&out.stderr);
    assert!(out.status.code() == Some(1) && said.contains("pg_basebackup") && !said.contains("S3cretPw"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
