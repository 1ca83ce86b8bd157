//! `yibao migrate` end to end (issue 16, the "done when" at a test's size), on SQLite and on
//! PostgreSQL: a generated legacy extract with planted errors goes through the dry run,
//! which names exactly the planted rows and loads nothing; the corrected extract loads in
//! batches (a second run finds every batch loaded and loads nothing again); a misnamed money
//! column and a control total a fen off are refused; the reconciliation matches to the fen;
//! the command line only previews it, two staff members prepare and sign it off; the books
//! and the audit chain check; the household register's residents without coverage are
//! reported.

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
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// The application over the store the arguments name, with the demo pack.
async fn open_app(store: &[&str]) -> yibao_app::App {
    let location = match store {
        ["--data-dir", dir] => yibao_app::StoreLocation::DataDir(PathBuf::from(dir)),
        ["--database-url", url] => yibao_app::StoreLocation::Url((*url).to_owned()),
        other => panic!("a store, not {other:?}"),
    };
    let backend = yibao_app::Backend::open(&location, yibao_app::Create::IfMissing).await.expect("the store");
    let policy =
        yibao_policy::Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("the demo pack");
    yibao_app::App::new(std::sync::Arc::new(backend), std::sync::Arc::new(policy))
}

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

    let rt = runtime();
    let app = rt.block_on(open_app(store));
    let city = yibao_domain::RegionCode::parse("419900").expect("city");
    let operator = yibao_app::Principal::System { name: "cli:bob".into(), region: city };
    let stays = std::fs::read_to_string(right.join("stays.csv")).expect("stays");
    let stay_rows: Vec<Vec<String>> = stays.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert!(stay_rows.len() >= 3, "a city of 3,000 has a few persons in hospital: {stays}");

    // The dry run names exactly the planted rows, and nothing is loaded.
    let errors = dir.join("errors.csv");
    let mut args = vec!["migrate", "check", wrong.to_str().expect("utf-8"), "--errors", errors.to_str().expect("utf-8")];
    args.extend_from_slice(store);
    let check = yibao_as("ops", &args);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
    assert!(text(&check.stderr).contains("8 rows to fix: nothing was loaded [migration.rows_refused]"), "{}", text(&check.stderr));
    let planted = std::fs::read_to_string(wrong.join("planted.log")).expect("planted");
    assert_eq!(lines_of(&std::fs::read_to_string(&errors).expect("error file")), lines_of(&planted));
    let mut load_wrong = vec!["migrate", "load", wrong.to_str().expect("utf-8")];
    load_wrong.extend_from_slice(store);
    assert_eq!(yibao_as("ops", &load_wrong).status.code(), Some(1));

    // A money column misnamed is refused, not read as zero; so is a control total a fen off.
    let renamed = dir.join("renamed");
    sample(&renamed, "0");
    let persons = std::fs::read_to_string(renamed.join("persons.csv")).expect("persons");
    std::fs::write(renamed.join("persons.csv"), persons.replacen("personal_account_balance", "个人账户余额（元）", 1)).expect("write");
    let mut check_renamed = vec!["migrate", "check", renamed.to_str().expect("utf-8")];
    check_renamed.extend_from_slice(store);
    let refused = yibao_as("ops", &check_renamed);
    assert!(text(&refused.stderr).contains("[import.unknown_column]"), "{}", text(&refused.stderr));
    let control = std::fs::read_to_string(renamed.join("control.csv")).expect("control");
    let (head, rest) = control.split_once("personal accounts amount,").expect("a personal-account total");
    let (value, tail) = rest.split_once('\n').expect("a line");
    let cents: i64 = value.replace('.', "").parse().expect("an amount");
    let off = format!("{head}personal accounts amount,{}.{:02}\n{tail}", (cents + 1) / 100, (cents + 1) % 100);
    std::fs::write(renamed.join("control.csv"), off).expect("write");
    std::fs::write(renamed.join("persons.csv"), persons).expect("write");
    let refused = yibao_as("ops", &check_renamed);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("control line") && text(&refused.stderr).contains("the control totals say"),
        "{}",
        text(&refused.stderr)
    );

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

    // The command line previews the reconciliation; staff signed in prepare it and sign
    // it off, two of them: the command line is neither, its name being the machine's login.
    let mut report = vec!["migrate", "report", id.as_str()];
    report.extend_from_slice(store);
    let preview = ok(&yibao_as("alice", &report), "report");
    assert!(preview.contains("matches to the fen") && !preview.contains('≠'), "{preview}");
    assert!(preview.contains("personal accounts amount") && preview.contains("contributions resident due amount"), "{preview}");
    assert!(preview.contains("open stays"), "{preview}");
    let staff =
        |username: &str| yibao_app::Principal::Staff { username: username.into(), role: yibao_store::Role::FundAccountant, region: city };
    let code = |result: Result<yibao_app::migration::Migration, yibao_app::AppError>| result.map(|_| ()).map_err(|e| e.code.into_owned());
    assert_eq!(code(rt.block_on(app.prepare_migration_report(&operator, "test", &id))), Err("access.forbidden".into()));
    let prepared = rt.block_on(app.prepare_migration_report(&staff("funds.zhang"), "test", &id)).expect("prepared");
    let checksum = prepared.report.expect("the report").checksum;
    let sign = |who: &yibao_app::Principal, sum: &str| rt.block_on(app.sign_off_migration(who, "test", &id, sum));
    assert_eq!(code(sign(&operator, &checksum)), Err("access.forbidden".into()));
    assert_eq!(code(sign(&staff("funds.zhang"), &checksum)), Err("migration.same_person".into()));
    assert_eq!(code(sign(&staff("funds.li"), "00")), Err("migration.checksum".into()));
    let signed = sign(&staff("funds.li"), &checksum).expect("signed off");
    assert_eq!(signed.report.and_then(|r| r.signed_by).as_deref(), Some("funds.li"));
    assert_eq!(code(sign(&staff("funds.wang"), &checksum)), Err("migration.signed".into()));

    // The household register: two migrated persons, one never enrolled, one wrong row.
    let persons = std::fs::read_to_string(right.join("persons.csv")).expect("persons");
    let mut migrated = persons.lines().skip(1).map(|l| l.split(',').take(4).collect::<Vec<_>>());
    let (one, two) = (migrated.next().expect("a person"), migrated.next().expect("another"));
    let stranger = yibao_domain::NationalId::from_parts(
        yibao_domain::RegionCode::parse(one[3]).expect("region"),
        time::macros::date!(1950 - 05 - 05),
        997,
    )
    .expect("an id");
    let register = format!(
        "公民身份号码,姓名,户籍地区划,户号\n{},{},{},{}\n{},{},{},{}\n{stranger},路人,{},R-9\n123,错号,{},R-9\n",
        one[0], one[1], one[3], one[2], two[0], two[1], two[3], two[2], one[3], one[3]
    );
    let register_file = dir.join("register.csv");
    std::fs::write(&register_file, register).expect("write");
    let out = dir.join("missing.csv");
    let mut missing = vec!["migrate", "missing", register_file.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")];
    missing.extend_from_slice(store);
    let report = yibao_as("ops", &missing);
    assert_eq!(report.status.code(), Some(1), "one row is wrong: {}", text(&report.stderr));
    let written = std::fs::read_to_string(&out).expect("the missing persons");
    assert_eq!(written.lines().count(), 2, "a header and the stranger: {written}");
    assert!(written.contains(&stranger.to_string()), "{written}");
    // One moves to a new household of the county from yesterday (a new spell), the other
    // died yesterday: the first is insured on both days, the second is not missing.
    let clerk = yibao_app::Principal::Staff { username: "clerk.zhou".into(), role: yibao_store::Role::CityAdministrator, region: city };
    let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
    let (one_id, two_id) = (yibao_domain::NationalId::parse(one[0]).expect("id"), yibao_domain::NationalId::parse(two[0]).expect("id"));
    let region = yibao_domain::RegionCode::parse(one[3]).expect("region");
    let moved = rt.block_on(app.person(&clerk, &one_id)).expect("the first person");
    let household = yibao_store::NewHousehold {
        household_id: yibao_domain::HouseholdId::parse("HH-MOVED").expect("id"),
        region,
        address: "新址 1 号".into(),
    };
    rt.block_on(app.create_household(&clerk, "test", household)).expect("a new household");
    let change = yibao_app::CoverageChangeInput {
        on: yesterday,
        region,
        household_id: yibao_domain::HouseholdId::parse("HH-MOVED").expect("id"),
        scheme: moved.coverage.scheme,
        category: moved.coverage.category,
        tier: moved.coverage.tier_history.as_ref().map(|h| h.initial),
    };
    rt.block_on(app.change_coverage(&clerk, "test", &one_id, change)).expect("a new household from yesterday");
    // An employee's months carried in from the legacy register count toward the retiree
    // minimum (R-FIN-1) as the extract said.
    let persons_file = std::fs::read_to_string(right.join("persons.csv")).expect("persons");
    let header: Vec<&str> = persons_file.lines().next().expect("a header").trim_start_matches('\u{feff}').split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect("a column");
    let (carried_at, id_at) = (column("carried_months"), column("person_id"));
    let employee = persons_file
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .find(|cells| cells.get(carried_at).is_some_and(|m| m.parse::<u32>().is_ok_and(|m| m > 0)))
        .expect("an employee with months carried in");
    let employee_id = yibao_domain::NationalId::parse(employee[id_at]).expect("id");
    let years = rt.block_on(app.contribution_years(&clerk, &employee_id)).expect("contribution years");
    assert_eq!(years.carried_months.to_string(), employee[carried_at], "{years:?}");
    rt.block_on(app.record_death(&clerk, "test", &two_id, yesterday)).expect("a death");
    let yesterday_text = yesterday.to_string();
    let mut on_yesterday = missing.clone();
    on_yesterday.extend_from_slice(&["--on", &yesterday_text]);
    let _ = yibao_as("ops", &on_yesterday);
    let now = std::fs::read_to_string(&out).expect("the missing persons");
    assert_eq!(now.lines().count(), 2, "the stranger only: {now}");
    // The day before: the first person's earlier spell covers it.
    let before_move = (yesterday - time::Duration::days(1)).to_string();
    let mut on_before = missing.clone();
    on_before.extend_from_slice(&["--on", &before_move]);
    let _ = yibao_as("ops", &on_before);
    let then = std::fs::read_to_string(&out).expect("the missing persons");
    assert_eq!(then.lines().count(), 2, "insured under the earlier spell: {then}");
    let mut after = missing.clone();
    let tomorrow = (yesterday + time::Duration::days(2)).to_string();
    after.extend_from_slice(&["--on", &tomorrow]);
    let report_after = yibao_as("ops", &after);
    assert!(text(&report_after.stdout).contains("1 who died"), "{}", text(&report_after.stdout));
    let now = std::fs::read_to_string(&out).expect("the missing persons");
    assert_eq!(now.lines().count(), 2, "the dead are not missing: {now}");
    // Before the migrated persons' coverage began, none of the three was insured.
    missing.extend_from_slice(&["--on", "2000-01-01"]);
    let _ = yibao_as("ops", &missing);
    let before = std::fs::read_to_string(&out).expect("the missing persons");
    assert_eq!(before.lines().count(), 4, "a header and all three: {before}");

    // The designated institutions came with the first batch, audited with the migration,
    // and no key left the load: each works once an administrator issues it.
    let registered = rt.block_on(app.institutions(&operator)).expect("the register");
    let listed = std::fs::read_to_string(right.join("institutions.csv")).expect("institutions");
    assert_eq!(registered.len(), listed.lines().count() - 1, "{listed}");
    let first = &registered[0];
    let mut after = 0;
    let created = loop {
        let page = rt.block_on(app.audit_entries(&operator, first.region, after, 1_000)).expect("the audit trail");
        let Some(last) = page.last() else { break None };
        after = last.seq;
        if let Some(entry) = page.into_iter().find(|e| e.action == "institution.create" && e.entity == first.code.as_str()) {
            break Some(entry);
        }
    };
    assert!(created.as_ref().is_some_and(|e| e.detail.contains(&id)), "audited with the migration: {created:?}");
    let key = rt.block_on(app.rotate_api_key(&operator, "test", first.code.as_str())).expect("a key issued");
    let principal = rt.block_on(app.institution_by_key(&key.api_key)).expect("the issued key opens");
    assert_eq!(principal.institution().expect("an institution"), first.code.as_str());

    // Each stay open at the cut-off is the hospital's visit, found by the person (5201)
    // under its legacy inpatient number, admitted on the legacy day, open for fee lines;
    // another hospital finds nothing of it.
    for row in &stay_rows {
        let person = yibao_domain::NationalId::parse(&row[0]).expect("id");
        let hospital = registered.iter().find(|r| r.code.as_str() == row[1]).expect("the stay's hospital");
        let visits = rt
            .block_on(app.visits_of_person(&yibao_app::Principal::institution_of(hospital), &person, None, None, None, None))
            .expect("the hospital's visits of the person");
        assert_eq!(visits.len(), 1, "{row:?}: {visits:?}");
        let visit = &visits[0];
        assert_eq!(
            (visit.ipt_otp_no.as_str(), visit.begin.to_string(), visit.kind, visit.status),
            (row[2].as_str(), row[4].clone(), yibao_domain::ClaimKind::Inpatient, yibao_app::interface::VisitStatus::Open)
        );
        assert!(visit.mdtrt_id.starts_with(&row[4].replace('-', "")), "{}", visit.mdtrt_id);
        if let Some(other) = registered.iter().find(|r| r.code != hospital.code) {
            let theirs = rt
                .block_on(app.visits_of_person(&yibao_app::Principal::institution_of(other), &person, None, None, None, None))
                .expect("another hospital's visits");
            assert!(theirs.is_empty(), "{theirs:?}");
        }
    }

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
