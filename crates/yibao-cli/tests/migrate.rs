//! `yibao migrate` end to end (issue 16, the "done when" at a test's size), on SQLite and on
//! PostgreSQL: a generated legacy extract with planted errors goes through the dry run,
//! which names exactly the planted rows and loads nothing; the corrected extract loads in
//! batches (a second run finds every batch loaded and loads nothing again); the
//! reconciliation matches to the fen; its preparer cannot sign it off, another person
//! can; the books and the audit chain check; a migrated person settles from the opening
//! accumulators on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yibao_as(user: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yibao")).args(args).env("USER", user).current_dir(root()).output().expect("runs yibao")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(output: &Output, what: &str) -> String {
    assert!(output.status.success(), "{what}: {}{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yibao-cli-migrate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The (file, line) pairs of an error file or of planted.txt.
fn lines_of(csv: &str) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = csv
        .trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.split(',');
            (cells.next().unwrap_or_default().to_owned(), cells.next().unwrap_or_default().parse().unwrap_or(0))
        })
        .collect();
    out.sort();
    out
}

fn migrate_through(store: &[&str], dir: &Path) {
    let (wrong, right) = (dir.join("wrong"), dir.join("right"));
    let sample = |out: &Path, errors: &str| {
        let path = out.to_str().expect("utf-8");
        ok(&yibao_as("ops", &["migrate", "sample", path, "--insured", "3000", "--errors", errors]), "sample")
    };
    sample(&wrong, "8");
    sample(&right, "0");

    // The dry run names exactly the planted rows, and nothing is loaded.
    let errors = dir.join("errors.csv");
    let mut args = vec!["migrate", "check", wrong.to_str().expect("utf-8"), "--errors", errors.to_str().expect("utf-8")];
    args.extend_from_slice(store);
    let check = yibao_as("ops", &args);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
    assert!(text(&check.stderr).contains("8 rows to fix: nothing was loaded [migration.rows_refused]"), "{}", text(&check.stderr));
    let planted = std::fs::read_to_string(wrong.join("planted.txt")).expect("planted");
    assert_eq!(lines_of(&std::fs::read_to_string(&errors).expect("error file")), lines_of(&planted));
    let mut load_wrong = vec!["migrate", "load", wrong.to_str().expect("utf-8")];
    load_wrong.extend_from_slice(store);
    assert_eq!(yibao_as("ops", &load_wrong).status.code(), Some(1));

    // The corrected extract loads in batches of 300 households; loading again loads nothing.
    let mut load = vec!["migrate", "load", right.to_str().expect("utf-8"), "--batch", "300"];
    load.extend_from_slice(store);
    let loaded = ok(&yibao_as("ops", &load), "load");
    assert!(loaded.contains("0 rows to fix"), "{loaded}");
    let id = loaded.lines().next().and_then(|l| l.split_whitespace().nth(1)).expect("the migration's id").to_owned();
    let again = ok(&yibao_as("ops", &load), "load again");
    let persons = |out: &str| out.lines().find(|l| l.starts_with(&format!("migration {id} of"))).map(str::to_owned);
    assert_eq!(persons(&loaded), persons(&again), "a second load of the same files loads nothing more");
    assert!(persons(&loaded).is_some_and(|l| l.contains("3000 persons")), "{loaded}");

    // One person prepares, another signs off.
    let mut report = vec!["migrate", "report", id.as_str()];
    report.extend_from_slice(store);
    let prepared = ok(&yibao_as("alice", &report), "report");
    assert!(prepared.contains("matches to the fen"), "{prepared}");
    assert!(!prepared.contains('≠'), "{prepared}");
    let checksum =
        prepared.lines().find(|l| l.contains("prepared by cli:alice")).and_then(|l| l.rsplit(' ').next()).expect("the checksum").to_owned();
    let mut sign = vec!["migrate", "sign-off", id.as_str(), "--checksum", checksum.as_str()];
    sign.extend_from_slice(store);
    let same = yibao_as("alice", &sign);
    assert!(text(&same.stderr).contains("[migration.same_person]"), "{}", text(&same.stderr));
    let mut wrong_sum = vec!["migrate", "sign-off", id.as_str(), "--checksum", "00"];
    wrong_sum.extend_from_slice(store);
    assert!(text(&yibao_as("bob", &wrong_sum).stderr).contains("[migration.checksum]"));
    let signed = ok(&yibao_as("bob", &sign), "sign-off");
    assert!(signed.contains("signed off by cli:bob"), "{signed}");
    assert!(text(&yibao_as("carol", &sign).stderr).contains("[migration.signed]"));

    // The books (opening personal-account balances, migrated contributions posting nothing)
    // and the audit chain (opening accumulators replayed) check.
    let mut check_books = vec!["fund", "check"];
    check_books.extend_from_slice(store);
    assert!(ok(&yibao_as("ops", &check_books), "fund check").contains("fund books sound"));
    let mut verify = vec!["audit", "verify"];
    verify.extend_from_slice(store);
    assert!(ok(&yibao_as("ops", &verify), "audit verify").contains("audit log intact"));
}

#[test]
fn a_legacy_extract_migrates_on_sqlite() {
    let dir = temp("sqlite");
    let data = dir.join("data");
    migrate_through(&["--data-dir", data.to_str().expect("utf-8")], &dir);
}

#[test]
fn a_legacy_extract_migrates_on_postgres() {
    let postgres = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the migration test: {e}"));
    let dir = temp("postgres");
    migrate_through(&["--database-url", postgres.url()], &dir);
}
