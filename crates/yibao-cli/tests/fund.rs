//! The fund books from the command line (R-FND-1, R-FND-2, R-SYS-6): a synthetic city
//! settled into a SQLite store, its books checked, a month's pooling refused while a fund
//! cannot pay and run once it can, the reports as CSV, and a tampered account named by
//! `yibao fund check`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yibao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yibao")).args(args).current_dir(root()).output().expect("runs yibao")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FUNDS: [&str; 7] =
    ["employee", "employee-large-amount", "resident", "resident-critical-illness", "maternity", "supplementary", "medical-assistance"];

#[test]
fn the_books_are_checked_pooled_reported_and_a_tampered_account_is_named() {
    let dir = std::env::temp_dir().join(format!("yibao-cli-fund-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data_dir = dir.to_str().expect("utf-8");
    let out = yibao(&["synth", "--insured", "1000", "--seed", "3", "--block-persons", "500", "--data-dir", data_dir, "--settle"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = yibao(&["fund", "check", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("fund books sound"), "{}", text(&out.stdout));

    // Bad input exits 1 naming the field and a stable code, and books nothing.
    for (args, code) in [
        (vec!["pool", "run", "--month", "2026-13"], "[fund.bad_month]"),
        (vec!["fund", "interest", "--from", "2026-01-01", "--to", "2026-02-30", "--rate", "1.5%"], "[fund.bad_date]"),
        (vec!["fund", "close", "--year", "2026", "--levy", "110%"], "[fund.bad_ratio]"),
        (
            vec![
                "fund",
                "receipt",
                "--kind",
                "opening-balance",
                "--scheme",
                "pension",
                "--unit",
                "419900",
                "--amount",
                "1.00",
                "--date",
                "2026-01-01",
                "--reference",
                "X",
            ],
            "[fund.bad_scheme]",
        ),
    ] {
        let mut args = args;
        args.extend(["--data-dir", data_dir]);
        let out = yibao(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains(code), "{args:?}: {}", text(&out.stderr));
    }

    // The settlements are dated today; residents' critical-illness insurance has no income
    // of its own yet, so the month cannot be paid: refused, naming the fund, nothing posted.
    let today = time::OffsetDateTime::now_utc().date();
    let month = format!("{:04}-{:02}", today.year(), u8::from(today.month()));
    // Dated today, whatever the pack's sweep day (a run is never dated in the future): today's
    // settlements are in.
    let last = today.day().to_string();
    let out = yibao(&["pool", "run", "--month", &month, "--day", &last, "--data-dir", data_dir]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("ledger.special_account_short"), "{}", text(&out.stderr));

    for fund in FUNDS {
        let out = yibao(&[
            "fund",
            "receipt",
            "--kind",
            "opening-balance",
            "--scheme",
            fund,
            "--unit",
            "419900",
            "--amount",
            "2000000.00",
            "--date",
            "2026-01-01",
            "--reference",
            "OB-2026",
            "--data-dir",
            data_dir,
        ]);
        assert!(out.status.success(), "{fund}: {}", text(&out.stderr));
    }
    let out = yibao(&["pool", "run", "--month", &month, "--day", &last, "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("transfers posted") && stdout.contains("归集") && stdout.contains("sweep"), "{stdout}");
    let again = yibao(&["pool", "run", "--month", &month, "--day", &last, "--data-dir", data_dir]);
    assert!(again.status.success() && text(&again.stdout).contains("already run; nothing changed"), "{}", text(&again.stdout));

    // This year's close so far, as a dry run: the levy, the waterfall, the indicators. The
    // close itself waits for the year to end; last year, without books here, closes once.
    let year = today.year().to_string();
    let dry = yibao(&["fund", "close", "--year", &year, "--dry-run", "--data-dir", data_dir]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let dry = text(&dry.stdout);
    assert!(dry.contains(&format!("year-end close {year} for city 419900: dry run:")) && dry.contains("nothing changed"), "{dry}");
    assert!(dry.contains("调剂金") && dry.contains("surplus rate"), "the levy and the indicators are explained: {dry}");
    let early = yibao(&["fund", "close", "--year", &year, "--data-dir", data_dir]);
    assert!(early.status.code() == Some(1) && text(&early.stderr).contains("[fund.period_not_ended]"), "{}", text(&early.stderr));
    let last_year = (today.year() - 1).to_string();
    let out = yibao(&["fund", "close", "--year", &last_year, "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("year-end close {last_year} for city 419900")), "{}", text(&out.stdout));
    let again = yibao(&["fund", "close", "--year", &last_year, "--data-dir", data_dir]);
    assert!(text(&again.stdout).contains("already closed; nothing changed"), "{}", text(&again.stdout));
    let dry_again = yibao(&["fund", "close", "--year", &last_year, "--dry-run", "--data-dir", data_dir]);
    assert!(text(&dry_again.stdout).contains("dry run: already closed"), "{}", text(&dry_again.stdout));
    let elsewhere = yibao(&["fund", "close", "--year", &last_year, "--city", "420100", "--data-dir", data_dir]);
    assert!(elsewhere.status.code() == Some(1) && text(&elsewhere.stderr).contains("[region.unknown]"), "{}", text(&elsewhere.stderr));
    let out = yibao(&["fund", "check", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The trial balance: every fund's debits equal its credits.
    let csv_path = dir.join("trial-balance.csv");
    let out = yibao(&["fund", "report", "--kind", "trial-balance", "--out", csv_path.to_str().expect("utf-8"), "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&csv_path).expect("written");
    let totals: Vec<&str> = csv.lines().filter(|l| l.contains(",TOTAL,")).collect();
    assert!(totals.len() >= FUNDS.len(), "{csv}");
    for line in totals {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[4], cells[5], "debits equal credits: {line}");
        assert_eq!(cells[6], "0.00", "{line}");
    }
    let out = yibao(&["fund", "report", "--kind", "statement", "--from", "2026-01-01", "--to", "2026-12-31", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let statement = text(&out.stdout);
    assert!(
        statement.starts_with("fund,unit,reason,") && statement.contains("settlement.pooled") && statement.contains(",sweep,"),
        "{statement}"
    );

    // Someone with file access raises an employee's personal-account balance in the
    // person's record only: the record no longer matches the books (records-match-books).
    let conn = rusqlite::Connection::open(dir.join("yibao.db")).expect("connect");
    let raised = conn
        .execute(
            "UPDATE persons SET coverage = json_set(coverage, '$.personal_account_balance', '99999.00') \
             WHERE rowid = (SELECT MIN(rowid) FROM persons WHERE json_extract(coverage, '$.scheme') = 'employee')",
            [],
        )
        .expect("tamper");
    assert_eq!(raised, 1);
    let out = yibao(&["fund", "check", "--data-dir", data_dir]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("books.record_disagrees") && stderr.contains("the record says 99999.00"), "{stderr}");

    // Someone with file access changes an account's total: the check names it and fails.
    let changed = conn
        .execute("UPDATE ledger_accounts SET credits_posted_fen = credits_posted_fen + 100 WHERE kind = 'payable' AND rowid = (SELECT MIN(rowid) FROM ledger_accounts WHERE kind = 'payable')", [])
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let out = yibao(&["fund", "check", "--data-dir", data_dir]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("books.broken") && stderr.contains("books.posted_totals") && stderr.contains("books.fund_unbalanced"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
