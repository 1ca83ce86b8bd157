//! Starts real PostgreSQL servers and talks to them with `psql`.

use std::process::Command;
use std::time::Instant;

use yibao_testpg::TestPostgres;

fn start_timed() -> TestPostgres {
    let t = Instant::now();
    let pg = TestPostgres::start_server().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("started {} in {} ms", pg.url(), t.elapsed().as_millis());
    pg
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql").args([url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]).output().expect("run psql");
    assert!(out.status.success(), "psql failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 psql output")
}

#[test]
fn starts_answers_queries_and_cleans_up() {
    let pg = start_timed();
    assert!(pg.url().starts_with("postgres://postgres@127.0.0.1:"), "{}", pg.url());
    let out = psql(pg.url(), "select 1");
    assert!(out.contains('1'), "unexpected psql output: {out:?}");
    assert_eq!(out.trim(), "1");

    let dir = pg.dir().expect("a started server has a directory").to_owned();
    assert!(dir.join("data").join("PG_VERSION").is_file());
    drop(pg);
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
}

#[test]
fn concurrent_servers_are_independent() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(start_timed);
        let b = s.spawn(start_timed);
        (a.join().expect("thread a"), b.join().expect("thread b"))
    });
    assert_ne!(a.url(), b.url());
    assert_ne!(a.dir(), b.dir());

    // Each server has its own data: a table made in one is absent from the other.
    psql(a.url(), "create table only_in_a (x int)");
    assert_eq!(psql(a.url(), "select count(*) from pg_tables where tablename = 'only_in_a'").trim(), "1");
    assert_eq!(psql(b.url(), "select count(*) from pg_tables where tablename = 'only_in_a'").trim(), "0");
}

#[test]
fn start_honours_the_url_variable_when_set() {
    // `start` either uses the given URL (and starts nothing) or starts its own server.
    let pg = TestPostgres::start().unwrap_or_else(|e| panic!("{e}"));
    match std::env::var(yibao_testpg::URL_ENV) {
        Ok(url) if !url.trim().is_empty() => {
            assert_eq!(pg.url(), url.trim());
            assert!(pg.dir().is_none());
        }
        _ => {
            assert!(pg.dir().is_some());
            assert_eq!(psql(pg.url(), "select 1").trim(), "1");
        }
    }
}

#[test]
fn durability_is_what_was_asked_for() {
    let settings =
        "select current_setting('fsync') || ',' || current_setting('synchronous_commit') || ',' || current_setting('full_page_writes')";
    let durable = TestPostgres::start_server_with(yibao_testpg::Durability::Durable).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(durable.durability(), Some(yibao_testpg::Durability::Durable));
    assert_eq!(psql(durable.url(), settings).trim(), "on,on,on");
    let fast = start_timed();
    assert_eq!(fast.durability(), Some(yibao_testpg::Durability::Off));
    assert_eq!(psql(fast.url(), settings).trim(), "off,off,off");
}
