//! Loading the demo city into a real SQLite store.

mod common;

use std::collections::HashMap;

use yibao_demo::{COUNTIES, LoadSummary, api_key_hash, generate, load};
use yibao_domain::{RegionCode, Scheme};
use yibao_store::{AccessStore, ContributionKind, ContributionStore, PersonQuery, Role, Store, StoreError, verify_audit};

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("region")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_households_load_into_sqlite() {
    let (store, dir) = common::fresh_store("load-500").await;
    let city = generate(2026, 500);
    let policy = common::policy();
    let summary = load(&store, &common::actor(), &policy, &city, &common::hash).await.expect("loads");

    let persons = city.persons().count();
    let residents = city.persons().filter(|p| p.coverage.scheme == Scheme::Resident).count();
    let employed = city.persons().filter(|p| p.coverage.maternity).count();
    assert_eq!(
        summary,
        LoadSummary { households: 500, persons, staff: 8, institutions: 14, contributions: residents + 2 * employed, fund_openings: 7 },
        "every resident has a 2026 record, every employee in work two months"
    );

    // Per county, every household's members are found in that county and nowhere else.
    // (search_persons returns at most 200 rows, so a county is counted household by household.)
    let mut found: HashMap<RegionCode, usize> = HashMap::new();
    let mut expected: HashMap<RegionCode, usize> = HashMap::new();
    for entry in &city.households {
        let county = entry.household.region;
        let query = PersonQuery { household_id: Some(entry.household.household_id.clone()), ..PersonQuery::default() };
        let hits = store.search_persons(county, &query).await.expect("search");
        assert!(hits.iter().all(|p| p.coverage.region == county));
        *found.entry(county).or_default() += hits.len();
        *expected.entry(county).or_default() += entry.members.len();
    }
    assert_eq!(found, expected);
    assert_eq!(found.len(), 3);
    let someone = &city.households[0].members[0];
    let elsewhere = region(COUNTIES[1].0);
    assert!(matches!(store.person(elsewhere, &someone.coverage.person_id).await, Err(StoreError::PersonNotFound(_))));
    let read = store.person(region("419900"), &someone.coverage.person_id).await.expect("the city sees its counties");
    assert_eq!(read.coverage, someone.coverage, "coverage is stored as generated");
    let by_card = PersonQuery { card_no: someone.card_no.clone(), ..PersonQuery::default() };
    assert_eq!(store.search_persons(region("419900"), &by_card).await.expect("search").len(), 1);

    // Staff and institutions, by the keys the server will use.
    let admin = store.staff("admin").await.expect("read").expect("admin exists");
    assert_eq!((admin.role, admin.region, admin.password_hash.as_str()), (Role::CityAdministrator, region("419900"), "test-only:15"));
    let east = store.staff("east.clerk").await.expect("read").expect("exists");
    assert_eq!((east.role, east.region), (Role::EnrolmentClerk, region("419921")));
    assert_eq!(store.institutions(region("419900")).await.expect("list").len(), 14);
    let hospital = store.institution_by_key(&api_key_hash("demo-key-H41992100001")).await.expect("read").expect("found by key");
    assert_eq!(hospital.name, "东县人民医院");

    // Contributions: some residents are in arrears, in every county.
    let (owing, counties) = store.arrears(region("419900"), "2026").await.expect("arrears");
    assert!(!owing.is_empty(), "some arrears");
    assert_eq!(counties.len(), 3, "{counties:?}");
    let owing_persons: i64 = counties.iter().map(|c| c.persons).sum();
    let share = owing_persons as f64 / residents as f64;
    assert!((0.03..0.20).contains(&share), "{owing_persons} of {residents} owe");
    assert!(owing.iter().all(|a| a.owed_fen.get() > 0 && a.period.year() == 2026));
    let payer = city.persons().find(|p| p.coverage.scheme == Scheme::Resident).expect("a resident");
    let records = store.contributions_of(region("419900"), &payer.coverage.person_id).await.expect("contributions");
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].kind, records[0].period), (ContributionKind::Resident, yibao_domain::Period::Year(2026)));
    assert!(records[0].breakdown_json.contains("\"central\""), "{}", records[0].breakdown_json);

    // Everything was audited, and the chains are intact.
    let verification = verify_audit(&store).await.expect("verify");
    assert!(verification.is_intact(), "{:?}", verification.breaks);
    assert!(verification.entries >= summary.households + summary.persons + summary.staff + summary.institutions + summary.contributions);

    // A second load into the same store is refused.
    assert!(load(&store, &common::actor(), &policy, &city, &common::hash).await.is_err());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
