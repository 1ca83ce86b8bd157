//! `yibao synth` and `yibao simulate` end to end on a small city: the files are the same
//! whatever the threads, read back and settle under the demo pack; the simulation prints
//! the same statements whatever the threads; bad input exits 1 with a stable code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use yibao_engine::{Accumulators, Explain, settle};
use yibao_policy::Policy;
use yibao_synth::format::{CLAIM_HEADER, PERSON_HEADER, parse_claim, parse_person};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yibao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yibao")).args(args).current_dir(root()).output().expect("runs yibao")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yibao-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    for sub in ["", "persons", "claims"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("a directory") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let name = path.strip_prefix(dir).expect("inside").to_string_lossy().into_owned();
                out.insert(name, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

#[test]
fn synth_writes_the_same_city_with_any_threads_and_it_settles() {
    let (one, two) = (temp("synth-1"), temp("synth-2"));
    for (dir, threads) in [(&one, "1"), (&two, "2")] {
        let out = yibao(&[
            "synth",
            "--insured",
            "2500",
            "--seed",
            "9",
            "--block-persons",
            "1000",
            "--threads",
            threads,
            "--out",
            dir.to_str().expect("utf-8"),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("wrote 2500 insured (3 blocks)"), "{}", text(&out.stdout));
    }
    let written = files(&one);
    assert_eq!(written, files(&two), "the same files, byte for byte, with 1 and 2 threads");
    assert_eq!(written.len(), 1 + 1 + 3 + 3, "manifest, institutions, 3 person files, 3 claim files: {:?}", written.keys());

    let manifest: serde_json::Value = serde_json::from_slice(&written["manifest.json"]).expect("JSON");
    assert_eq!(manifest["format"], "yibao-synth/1");
    assert_eq!(manifest["insured"], 2500);
    let policy = Policy::from_toml("demo-city.toml", &std::fs::read_to_string(root().join("policies/demo-city.toml")).expect("pack"))
        .expect("loads");
    let mut persons = HashMap::new();
    let mut claims = 0u64;
    let mut state: HashMap<String, Accumulators> = HashMap::new();
    for file in manifest["files"].as_array().expect("files") {
        let body = text(&written[file["persons"].as_str().expect("name")]);
        let mut lines = body.lines();
        assert_eq!(lines.next(), Some(PERSON_HEADER));
        let mut count = 0;
        for line in lines {
            let (coverage, _) = parse_person(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            persons.insert(coverage.person_id, coverage);
            count += 1;
        }
        assert_eq!(file["person_lines"], count);
        // The claims are in date order and settle, each person's in turn.
        let body = text(&written[file["claims"].as_str().expect("name")]);
        let mut lines = body.lines();
        assert_eq!(lines.next(), Some(CLAIM_HEADER));
        let mut last = String::new();
        for line in lines {
            let (id, claim) = parse_claim(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let day = claim.discharge_date.to_string();
            assert!(day >= last, "date order: {line}");
            last = day;
            let coverage = &persons[&id];
            let accumulators = state.entry(id.to_string()).or_insert_with(|| Accumulators::new_year(2025));
            let settled =
                settle(&policy, &claim, coverage, accumulators, Explain::Off).unwrap_or_else(|e| panic!("{line}: [{}] {e}", e.code()));
            *accumulators = settled.accumulators;
            claims += 1;
        }
    }
    assert_eq!(persons.len(), 2500);
    assert_eq!(manifest["claims"], claims);
    assert!(claims > 12_000, "{claims} claims for 2 500 insured");
    let _ = std::fs::remove_dir_all(&one);
    let _ = std::fs::remove_dir_all(&two);
}

#[test]
fn simulate_prints_the_same_year_with_any_threads() {
    let run = |threads: &str| yibao(&["simulate", "--insured", "2500", "--seed", "4", "--block-persons", "1000", "--threads", threads]);
    let one = run("1");
    assert!(one.status.success(), "{}", text(&one.stderr));
    let report = text(&one.stdout);
    for expected in [
        "Synthetic city-year 2025",
        "2,500 insured, seed 4, policy demo-city",
        "(refused: 0)",
        "职工基本医疗保险基金 employee@419900",
        "城乡居民基本医疗保险基金 resident@419900",
        "城乡居民大病保险资金 resident-critical-illness@419900",
        "生育保险基金 maternity@419900",
        "医疗救助基金 medical-assistance@419900",
        "市级调剂金 municipal-adjustment@419900",
        "419921 东县",
        "every fund balances",
        "Paying institutions (支付方式), 2025",
        "clearing booked on 2026-01-01",
        "every invariant of the books holds",
    ] {
        assert!(report.contains(expected), "{expected} missing from:\n{report}");
    }
    assert!(text(&one.stderr).contains("claims/s"), "{}", text(&one.stderr));
    let two = run("2");
    assert!(two.status.success(), "{}", text(&two.stderr));
    assert_eq!(text(&two.stdout), report, "the same report with 1 and 2 threads");
    // An explicit pack file gives the same year as the embedded one.
    let file = yibao(&["simulate", "--insured", "2500", "--seed", "4", "--block-persons", "1000", "--policy", "policies/demo-city.toml"]);
    assert!(file.status.success(), "{}", text(&file.stderr));
    assert_eq!(text(&file.stdout), report);
}

#[test]
fn bad_city_or_pack_exits_1_with_a_stable_code() {
    let small = yibao(&["simulate", "--insured", "10"]);
    assert_eq!(small.status.code(), Some(1));
    assert!(text(&small.stderr).contains("[synth.config]"), "{}", text(&small.stderr));
    let other = yibao(&["simulate", "--insured", "1000", "--policy", "policies/smx-2021.toml"]);
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other.stderr).contains("[synth.simulate]") && text(&other.stderr).contains("411200"), "{}", text(&other.stderr));
    assert!(other.stdout.is_empty());
    let dir = temp("synth-bad");
    let out = yibao(&["synth", "--insured", "20000000", "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[synth.config]"), "{}", text(&out.stderr));
    assert!(!dir.exists(), "nothing is written for a refused city");
    let usage = yibao(&["simulate"]);
    assert_eq!(usage.status.code(), Some(2), "--insured is required");
}

#[test]
fn simulate_with_a_reform_prints_it_beside_the_baseline() {
    let out = yibao(&["simulate", "--insured", "2000", "--seed", "2", "--reform", "examples/reforms/tier3-inpatient-plus5.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Reform: Tier-3 residents"), "{stdout}");
    for expected in ["baseline", "reform", "resident 419900 city", "Out-of-pocket by income group", "balance: reform"] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
    assert!(text(&out.stderr).contains("the reform replaced 3 and added 0 entries"), "{}", text(&out.stderr));
    let dir = temp("reform-bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[reform]\nname = \"gap\"\n[[param]]\nkey = \"pooled.annual_cap\"\nscheme = \"resident\"\ntier = 3\nvalues = [{ from = \"2025-01-01\", value = 160000, cite = \"\" }]\n").expect("write");
    let out = yibao(&["simulate", "--insured", "1000", "--reform", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[synth.reform]"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The synthetic city as `yibao synth --data-dir` draws it (the same seed and block size).
fn store_city(insured: u64, seed: u64) -> yibao_synth::City {
    yibao_synth::City::new(yibao_synth::Config { block_persons: 500, ..yibao_synth::Config::new(insured, seed) }).expect("a valid city")
}

#[test]
fn synth_into_sqlite_settles_the_year_as_the_engine_does_and_audits_it() {
    use yibao_store::{AccessStore, ArrearsStore, ContributionStore, Store};

    let dir = temp("synth-sqlite");
    let data_dir = dir.to_str().expect("utf-8");
    let out = yibao(&["synth", "--insured", "1000", "--seed", "5", "--block-persons", "500", "--data-dir", data_dir, "--settle"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("wrote 1000 insured in "), "{stdout}");
    assert!(stdout.contains("synth-H41990200001-"), "the institutions' API keys are printed once: {stdout}");
    assert!(text(&out.stderr).contains("settlements/s"), "{}", text(&out.stderr));
    let settled: u64 = stdout.split("settled ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).expect("settled N");

    let city = store_city(1000, 5);
    let policy = Policy::from_toml("demo-city.toml", &std::fs::read_to_string(root().join("policies/demo-city.toml")).expect("pack"))
        .expect("loads");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("opens");
        let scope = city.city;
        // The in-area institutions, each with the key printed for it.
        let institutions = store.institutions(scope).await.expect("institutions");
        assert_eq!(institutions.len(), city.institutions.iter().filter(|i| city.city.contains(i.region)).count());
        let line = stdout.lines().find(|l| l.trim_start().starts_with("H41990200001 ")).expect("a key line");
        let key = line.split_whitespace().nth(1).expect("the key");
        let found = store.institution_by_key(&yibao_app::access::digest(key)).await.expect("lookup");
        assert_eq!(found.map(|i| i.code.into_string()), Some("H41990200001".to_owned()));

        let registered: std::collections::HashSet<String> = institutions.iter().map(|i| i.code.to_string()).collect();
        let (mut persons, mut claims, mut employees, mut unregistered, mut unreferred, mut suspended) = (0, 0u64, 0, 0u64, 0u64, 0u64);
        let mut events = Vec::new();
        for person in city.persons() {
            let record = store.person(scope, &person.id).await.unwrap_or_else(|e| panic!("{}: {e}", person.id));
            persons += 1;
            // The person's year settled claim by claim with the engine, as the store does:
            // the accumulators and the personal account carried from one claim to the next.
            let mut coverage = person.coverage(&city);
            // Every month's contribution paid in full credited its share to the account
            // before the year's claims were settled (R-FIN-1).
            coverage.personal_account_balance += account_credits(&store, scope, &person.id).await;
            let mut expected = Accumulators::new_year(2025);
            let mut count = 0;
            // What the person still owes (a tenth of residents pay part or nothing, and some
            // employers nothing): the demo pack suspends their benefits 90 days into an
            // unpaid period (`claim.benefits_suspended`), as the use case does.
            let (_, owed) = store.owed_periods(scope, &person.id, time::Date::MAX).await.expect("owed");
            city.year_of(&person, &mut events);
            for event in &events {
                let claim = city.claim(&person, event);
                // Hospitals out of the city are not registered by the loader: their claims
                // are refused before the engine (`institution.not_registered`).
                if !registered.contains(&claim.institution_code) {
                    unregistered += 1;
                    continue;
                }
                // Nobody filed the referral a synthetic claim states: the use case refuses
                // it (`claim.referral_not_on_file`), as it would a hospital's.
                if claim.referral {
                    unreferred += 1;
                    continue;
                }
                let on = claim.service_date(policy.service_date);
                let rule = yibao_engine::arrears_rule(&policy, coverage.region, on).expect("the arrears rule");
                if yibao_engine::standing_on(on, coverage.scheme, &owed, &[], &rule) != yibao_engine::Standing::InForce {
                    suspended += 1;
                    continue;
                }
                if let Ok(s) = settle(&policy, &claim, &coverage, &expected, Explain::Off) {
                    expected = s.accumulators;
                    coverage.personal_account_balance = s.acct_balance_after;
                    count += 1;
                }
            }
            let stored = store.accumulators(scope, &person.id, 2025).await.expect("accumulators");
            assert_eq!(stored, expected, "{}: the store's accumulators are the engine's", person.id);
            assert_eq!(record.coverage.personal_account_balance, coverage.personal_account_balance, "{}", person.id);
            let stored_claims = store.claims_of_person(scope, &person.id).await.expect("claims");
            assert_eq!(stored_claims.len(), count, "{}", person.id);
            claims += count as u64;
            if person.scheme == yibao_domain::Scheme::Employee && person.category == yibao_domain::PersonCategory::Employed {
                employees += 1;
                // Each month's medical insurance, and the employer's maternity insurance
                // for those it covers.
                let bills = if person.maternity { 24 } else { 12 };
                assert_eq!(store.contributions_of(scope, &person.id).await.expect("contributions").len(), bills, "{}", person.id);
            }
        }
        assert_eq!(persons, 1000);
        assert!(employees > 0);
        assert_eq!(claims, settled, "every claim the engine settles is in the store");
        assert!(unregistered > 0 && stdout.contains(&format!("{unregistered} institution.not_registered")), "{unregistered}: {stdout}");
        assert!(stdout.contains(&format!("{unreferred} claim.referral_not_on_file")), "{unreferred}: {stdout}");
        assert!(suspended > 0 && stdout.contains(&format!("{suspended} claim.benefits_suspended")), "{suspended}: {stdout}");
        assert!(claims > 4_000, "{claims} claims for 1 000 insured");
    });

    let verify = yibao(&["audit", "verify", "--data-dir", data_dir]);
    assert!(verify.status.success() && text(&verify.stdout).contains("audit log intact"), "{}", text(&verify.stderr));
    // The chains' ends, kept outside; verifying against them finds every anchored entry.
    let anchor_file = dir.join("anchor.json");
    let anchor = yibao(&["audit", "anchor", "--data-dir", data_dir, "--out", anchor_file.to_str().expect("utf-8")]);
    assert!(anchor.status.success(), "{}", text(&anchor.stderr));
    let anchored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&anchor_file).expect("anchor")).expect("json");
    let regions = anchored["regions"].as_array().expect("regions");
    assert!(
        regions.len() >= 2 && regions.iter().all(|r| r["seq"].as_i64() > Some(0) && r["hash"].as_str().map(str::len) == Some(64)),
        "{anchored}"
    );
    let against = yibao(&["audit", "verify", "--data-dir", data_dir, "--anchor", anchor_file.to_str().expect("utf-8")]);
    assert!(
        against.status.success()
            && text(&against.stdout).contains(&format!("every one of the {} anchored entries is unchanged", regions.len())),
        "{}",
        text(&against.stderr)
    );
    // A file that is not an anchor is refused with its code, before anything is read.
    let not_an_anchor = dir.join("not-an-anchor.json");
    std::fs::write(&not_an_anchor, "[1, 2]").expect("write");
    let refused = yibao(&["audit", "verify", "--data-dir", data_dir, "--anchor", not_an_anchor.to_str().expect("utf-8")]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("[audit.bad_anchor]"), "{}", text(&refused.stderr));
    // Every claim and contribution the loader wrote reconciles with the books.
    let check = yibao(&["fund", "check", "--data-dir", data_dir]);
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
    // A store that holds a city is refused, and nothing is added to it.
    let again = yibao(&["synth", "--insured", "1000", "--seed", "6", "--data-dir", data_dir]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("[load.store_not_empty]"), "{}", text(&again.stderr));
    let verify_again = yibao(&["audit", "verify", "--data-dir", data_dir]);
    assert_eq!(text(&verify_again.stdout), text(&verify.stdout), "the refused run wrote nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn synth_into_postgresql_enrols_the_city_and_writes_the_files_too() {
    use yibao_store::{AccessStore, ContributionStore, Store};

    let postgres = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the synth test: {e}"));
    let files_dir = temp("synth-pg-files");
    let out = yibao(&[
        "synth",
        "--insured",
        "1000",
        "--seed",
        "7",
        "--block-persons",
        "500",
        "--database-url",
        postgres.url(),
        "--out",
        files_dir.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("wrote 1000 insured in "), "{stdout}");
    assert!(!stdout.contains("settled"), "no --settle, no settlements: {stdout}");
    assert!(files_dir.join("manifest.json").is_file(), "the files are written as well");

    let city = store_city(1000, 7);
    let households: std::collections::HashSet<u64> = city.persons().map(|p| p.household).collect();
    assert!(stdout.contains(&format!("in {} households", households.len())), "{stdout}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = yibao_store_postgres::PostgresStore::connect(postgres.url()).await.expect("connects");
        let scope = city.city;
        assert_eq!(
            store.institutions(scope).await.expect("institutions").len(),
            city.institutions.iter().filter(|i| city.city.contains(i.region)).count()
        );
        assert!(store.staff("admin").await.expect("staff").is_some());
        let (mut persons, mut contributions) = (0, 0);
        for person in city.persons() {
            let record = store.person(scope, &person.id).await.unwrap_or_else(|e| panic!("{}: {e}", person.id));
            let mut expected = person.coverage(&city);
            expected.personal_account_balance += account_credits(&store, scope, &person.id).await;
            assert_eq!(record.coverage, expected, "{}", person.id);
            persons += 1;
            contributions += store.contributions_of(scope, &person.id).await.expect("contributions").len();
        }
        assert_eq!(persons, 1000);
        assert!(stdout.contains(&format!(", {contributions} contributions and ")), "{contributions}: {stdout}");
        let first = city.persons().next().expect("a person");
        assert!(store.claims_of_person(scope, &first.id).await.expect("claims").is_empty());
    });
    let verify = yibao(&["audit", "verify", "--database-url", postgres.url()]);
    assert!(verify.status.success() && text(&verify.stdout).contains("audit log intact"), "{}", text(&verify.stderr));
    let again = yibao(&["synth", "--insured", "1000", "--database-url", postgres.url(), "--settle"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("[load.store_not_empty]"), "{}", text(&again.stderr));
    let _ = std::fs::remove_dir_all(&files_dir);
}

/// What a person's employee contributions, each paid in full, credited to their personal
/// account: the share the engine's breakdown names (R-FIN-1).
async fn account_credits<S: yibao_store::ContributionStore>(
    store: &S,
    scope: yibao_domain::RegionCode,
    person: &yibao_domain::NationalId,
) -> yibao_domain::Fen {
    let mut credited = yibao_domain::Fen::ZERO;
    for c in store.contributions_of(scope, person).await.expect("contributions") {
        if c.kind == yibao_store::ContributionKind::Employee && c.paid_fen >= c.due_fen {
            let breakdown: yibao_engine::EmployeeContribution = serde_json::from_str(&c.breakdown_json).expect("a breakdown");
            credited += breakdown.to_account;
        }
    }
    credited
}
