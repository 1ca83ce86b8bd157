//! The one loader (`yibao_app::load`): the synthetic demo city into a real SQLite store
//! through the use cases, checked by reading it back through the use cases.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::macros::datetime;
use yibao_app::load::{CITY_STAFF, Credentials, LoadOptions};
use yibao_app::policy::Policy;
use yibao_app::{App, Backend, ContributionKind, Period, Principal, contribution_due};
use yibao_domain::{RegionCode, Scheme};
use yibao_store::{PersonQuery, Role};
use yibao_synth::assumptions::COUNTIES;
use yibao_synth::identity::{card_no, household_identity};
use yibao_synth::payment::contributions_of;
use yibao_synth::{City, Config, Person};

fn policy() -> Policy {
    Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("the demo pack")
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("region")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_loads_through_the_use_cases_and_reads_back() {
    let dir = std::env::temp_dir().join(format!("yibao-app-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    // 15 March 2026 (UTC+8): the employee months January to March are due.
    let app = App::new(Arc::new(Backend::Sqlite(store)), Arc::new(policy())).with_clock(Arc::new(|| datetime!(2026-03-15 04:00 UTC)));
    let city = Arc::new(City::new(Config { year: 2026, block_persons: 600, ..Config::new(1_500, 2026) }).expect("a valid city"));
    let system = Principal::System { name: "test-loader".into(), region: city.city };
    let options = LoadOptions {
        credentials: Credentials::Demo,
        opening_balances: true,
        settle: yibao_app::load::Settle::Nothing,
        in_flight: 1,
        progress: Arc::new(|_| {}),
    };
    // A year that would fail part way (insured covered before the pack's first day, or a
    // year ahead) is refused before anything is written: the load after it succeeds.
    for year in [2024, 2027] {
        let early = Arc::new(City::new(Config { year, block_persons: 600, ..Config::new(1_500, 2026) }).expect("a valid city"));
        let refused = app.load_city(&system, "test", early, &options).await.expect_err("refused");
        assert_eq!(refused.code, "load.bad_year", "{year}: {}", refused.message);
    }
    let loaded = app.load_city(&system, "test", Arc::clone(&city), &options).await.expect("loads");

    let everyone = city.persons().collect::<Vec<_>>();
    let households: HashSet<u64> = everyone.iter().map(|p| p.household).collect();
    let in_city = city.institutions.iter().filter(|i| city.city.contains(i.region)).count();
    let planned: usize = everyone.iter().map(|p| contributions_of(&city, p, 3, true).len()).sum();
    let summary = &loaded.summary;
    assert_eq!(
        (summary.staff, summary.institutions, summary.households, summary.persons, summary.contributions, summary.fund_openings),
        (CITY_STAFF.len(), in_city, households.len(), 1_500, planned, 9),
        "everything planned was written"
    );
    assert!(in_city < city.institutions.len(), "hospitals out of the city are not registered here");

    // Households are named and addressed in their county; persons carry their card.
    let mut heads: HashMap<u64, &Person> = HashMap::new();
    for person in &everyone {
        heads.entry(person.household).or_insert(person);
    }
    for head in heads.values().take(40) {
        let identity = household_identity(&city, head);
        let county = usize::from(head.county);
        assert!(identity.address.starts_with(&format!("示范市{}", COUNTIES[county].name)), "{}", identity.address);
        let query = PersonQuery { household_id: Some(identity.household_id.to_string()), ..PersonQuery::default() };
        let members = app.search_persons(&system, &query).await.expect("search");
        assert_eq!(members.persons.len(), everyone.iter().filter(|p| p.household == head.household).count(), "{}", identity.household_id);
        for member in &members.persons {
            assert_eq!(member.coverage.region, city.counties[county]);
            let chars = member.name.chars().count();
            assert!((2..=4).contains(&chars), "{}", member.name);
        }
    }
    let someone = &everyone[0];
    let by_card = PersonQuery { card_no: Some(card_no(someone)), ..PersonQuery::default() };
    let found = app.search_persons(&system, &by_card).await.expect("search");
    assert_eq!(found.persons.iter().map(|p| p.person_id).collect::<Vec<_>>(), vec![someone.id]);
    let cards: HashSet<String> = everyone.iter().map(card_no).collect();
    assert_eq!(cards.len(), everyone.len(), "every card number is unique");

    // Staff with the demo's published passwords; institutions with keys drawn at random,
    // returned once, none made from its code (issue 12: `demo-key-<code>` was guessable).
    let staff = app.staff_list(&system).await.expect("staff");
    assert!(staff.iter().any(|s| s.username == "east.clerk" && s.role == Role::EnrolmentClerk && s.region == region("419921")));
    let key_of = |code: &str| loaded.institutions.iter().find(|i| i.code == code).map(|i| i.api_key.clone()).expect("a key printed for it");
    let hospital = app.institution_by_key(&key_of("H41992100001")).await.expect("found by key");
    assert!(matches!(hospital, Principal::Institution(ref record) if record.region == region("419921")), "{hospital:?}");
    let pharmacy = app.institution_by_key(&key_of("P41990200001")).await.expect("a pharmacy");
    assert!(matches!(pharmacy, Principal::Institution(ref record) if record.code.starts_with('P')));
    let keys: HashSet<&str> = loaded.institutions.iter().map(|i| i.api_key.as_str()).collect();
    assert_eq!(keys.len(), loaded.institutions.len(), "every key its own");
    for institution in &loaded.institutions {
        assert!(!institution.api_key.starts_with("demo-key-"), "{} has a guessable key", institution.code);
        let drawn = institution.api_key.rsplit('-').next().unwrap_or_default();
        assert!(drawn.len() >= 32 && drawn.bytes().all(|b| b.is_ascii_hexdigit()), "{}: {}", institution.code, institution.api_key);
        let guessed = format!("demo-key-{}", institution.code);
        assert!(app.institution_by_key(&guessed).await.is_err(), "{guessed} opens nothing");
    }

    // Only the system brings an institution's key, of at least 16 characters; a code names
    // the region it is designated in.
    let admin = Principal::Staff { username: "admin".into(), role: Role::CityAdministrator, region: city.city };
    let designate = |code: &str, region: &str, api_key: Option<&str>| yibao_app::access::InstitutionInput {
        code: yibao_domain::InstitutionCode::parse(code).expect("a code"),
        name: "示范市新设医院".into(),
        region: RegionCode::parse(region).expect("region"),
        level: yibao_domain::InstitutionLevel::Secondary,
        api_key: api_key.map(str::to_owned),
    };
    let refused = app.create_institution(&admin, "test", designate("H41992100099", "419921", Some("a-chosen-key-0123456789"))).await;
    assert_eq!(refused.map(|_| ()).map_err(|e| e.code), Err("access.forbidden".into()), "a clerk's or administrator's key is drawn");
    let refused = app.create_institution(&system, "test", designate("H41992100099", "419921", Some("short"))).await;
    assert_eq!(refused.map(|_| ()).map_err(|e| e.code), Err("institution.weak_key".into()));
    let refused = app.create_institution(&admin, "test", designate("H41992200099", "419921", None)).await;
    assert_eq!(refused.map(|_| ()).map_err(|e| e.code), Err("institution.bad_code".into()), "a 西县 code designated in 东县");
    let drawn = app.create_institution(&admin, "test", designate("H41992100099", "419921", None)).await.expect("designated");
    assert!(drawn.api_key.len() >= 32 && app.institution_by_key(&drawn.api_key).await.is_ok(), "a drawn key works");

    // A clerk's bulk enrolment brings no personal-account balance (only the system's
    // migration does), and every member is in the batch's county.
    let clerk = Principal::Staff { username: "east.clerk".into(), role: Role::EnrolmentClerk, region: region("419921") };
    let employee = everyone.iter().find(|p| p.scheme == Scheme::Employee && !p.account_opening.is_zero()).expect("an employee");
    let mut coverage = employee.coverage(&city);
    coverage.person_id = yibao_domain::NationalId::from_parts(region("419921"), time::macros::date!(1980 - 02 - 02), 777).expect("an id");
    coverage.region = region("419921");
    let household = yibao_domain::HouseholdId::parse("HH-TEST-1").expect("an id");
    let batch = |coverage: yibao_engine::Coverage| {
        vec![yibao_store::ImportHousehold {
            household: yibao_app::NewHousehold {
                household_id: household.clone(), region: region("419921"), address: "东县城关镇".into()
            },
            members: vec![yibao_store::NewPerson {
                name: yibao_domain::PersonName::parse("钱七").expect("a name"),
                card_no: None,
                household_id: household.clone(),
                coverage,
            }],
        }]
    };
    let refused = app.import_households(&clerk, "test", region("419921"), batch(coverage.clone())).await.expect_err("refused");
    assert_eq!(refused.code, "person.bad_balance", "{}", refused.message);
    let mut elsewhere = coverage.clone();
    elsewhere.region = region("419922");
    let refused = app.import_households(&clerk, "test", region("419921"), batch(elsewhere)).await.expect_err("refused");
    assert_eq!(refused.code, "person.bad_household", "{}", refused.message);
    coverage.personal_account_balance = yibao_domain::Fen::ZERO;
    let imported = app.import_households(&clerk, "test", region("419921"), batch(coverage)).await.expect("imported");
    assert_eq!((imported.households, imported.persons), (1, 1));

    // Contributions: some residents owe, in every county.
    let (owing, counties) = app.arrears(&system, "2026").await.expect("arrears");
    assert_eq!(counties.len(), 3, "{counties:?}");
    let residents = everyone.iter().filter(|p| p.scheme == Scheme::Resident).count() as f64;
    let share = counties.iter().map(|c| c.persons).sum::<i64>() as f64 / residents;
    assert!((0.03..0.20).contains(&share), "{share:.3} of residents owe");
    assert!(owing.iter().all(|a| a.owed_fen.get() > 0));

    // The bill follows the tier in force in the period, not the tier first chosen (the
    // bug the loaders and the edges used to disagree on).
    let pack = policy();
    let mut moved = 0;
    for person in everyone.iter().filter(|p| p.scheme == Scheme::Resident && p.tier_change.is_some()) {
        let coverage = person.coverage(&city);
        let mut first_tier = coverage.clone();
        if let Some(history) = first_tier.tier_history.as_mut() {
            history.changes.clear();
        }
        let in_force = contribution_due(&pack, &coverage, ContributionKind::Resident, Period::Year(2026), None).expect("due");
        let initial = contribution_due(&pack, &first_tier, ContributionKind::Resident, Period::Year(2026), None).expect("due");
        let records = app.contributions_of(&system, &person.id).await.expect("contributions");
        let record = records.iter().find(|c| c.kind == ContributionKind::Resident).expect("a resident bill");
        assert_eq!(record.due_fen, in_force.due, "{}", person.id);
        if in_force.due != initial.due {
            moved += 1;
        }
    }
    assert!(moved > 0, "some residents changed to a tier with another bill");

    // Audited, and the books balance.
    let audit = app.verify_audit(&system, None).await.expect("verify");
    assert!(audit.is_intact(), "{:?}", audit.breaks);
    let books = app.check_all_books(&system).await.expect("books");
    assert!(books.breaches.is_empty() && books.transfers > 0, "{books:?}");

    // A second load into the same store is refused, with its code.
    let again = app.load_city(&system, "test", Arc::clone(&city), &options).await.expect_err("refused");
    assert_eq!(again.code, "load.store_not_empty");
    let _ = std::fs::remove_dir_all(&dir);
}
