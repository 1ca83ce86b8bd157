//! The generator: reproducible, valid and shaped like a real city.

use std::collections::{HashMap, HashSet};

use time::macros::date;
use yibao_demo::{AGE_ON, COUNTIES, COVERAGE_FROM, DemoCity, api_key_hash, generate};
use yibao_domain::{AssistanceGroup, InstitutionLevel, NationalId, PersonCategory, RegionCode, Scheme};
use yibao_store::{NewPerson, Role};

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("region")
}

fn is_rural(address: &str) -> bool {
    address.contains('村')
}

fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole.max(1) as f64
}

fn age(person: &NewPerson) -> u32 {
    person.coverage.person_id.age_on(AGE_ON)
}

fn initial_tier(person: &NewPerson) -> u8 {
    person.coverage.tier_history.as_ref().expect("the demo city has tiers").initial.get()
}

#[test]
fn the_same_seed_gives_the_same_city_and_another_seed_another() {
    let a = generate(2026, 400);
    assert_eq!(a, generate(2026, 400), "same seed, same city");
    let b = generate(2027, 400);
    assert_ne!(a.households, b.households, "another seed, another city");
    let ids_a: HashSet<NationalId> = a.persons().map(|p| p.coverage.person_id).collect();
    let ids_b: HashSet<NationalId> = b.persons().map(|p| p.coverage.person_id).collect();
    assert!(ids_a.intersection(&ids_b).count() < ids_a.len() / 10, "the people differ, not just their order");
    assert_eq!(a.staff, b.staff, "staff accounts do not depend on the seed");
    assert_eq!(a.institutions, b.institutions, "institutions do not depend on the seed");
    assert!(generate(1, 0).households.is_empty());
    assert_eq!(generate(1, 1).households.len(), 1);
}

#[test]
fn every_national_id_is_valid_and_unique_and_every_card_too() {
    let city = generate(7, 3000);
    let mut ids = HashSet::new();
    let mut cards = HashSet::new();
    for person in city.persons() {
        let id = person.coverage.person_id;
        assert_eq!(NationalId::parse(id.as_str()), Ok(id), "{id} reparses");
        assert!(ids.insert(id), "{id} is given twice");
        let year = id.birth_date().year();
        assert!((1940..=2024).contains(&year), "born {year}");
        assert_eq!(id.address_code(), person.coverage.region, "address code is the county");
        if let Some(card) = &person.card_no {
            assert!(cards.insert(card.clone()), "card {card} is given twice");
            assert_eq!(card.len(), 9, "{card}");
        }
        let chars = person.name.chars().count();
        assert!((2..=4).contains(&chars), "{}", person.name);
    }
    assert!(ids.len() > 6000, "{} persons in 3000 households", ids.len());
    assert!(share(cards.len(), ids.len()) > 0.95, "almost everyone has a card");
}

#[test]
fn every_household_lies_in_one_county_with_its_members() {
    let city = generate(11, 2000);
    let counties: Vec<RegionCode> = COUNTIES.iter().map(|(code, _)| region(code)).collect();
    let mut last_county = 0;
    let mut household_ids = HashSet::new();
    let mut per_county = HashMap::new();
    for entry in &city.households {
        let h = &entry.household;
        let county = counties.iter().position(|c| *c == h.region).expect("one of the three counties");
        assert!(county >= last_county, "households are grouped by county");
        last_county = county;
        assert!(household_ids.insert(h.household_id.clone()), "{} twice", h.household_id);
        let prefix = format!("HH-{}-", h.region);
        let serial = h.household_id.strip_prefix(&prefix).expect("HH-<county>-<serial>");
        assert!(serial.len() == 6 && serial.bytes().all(|b| b.is_ascii_digit()), "{}", h.household_id);
        let county_name = COUNTIES[county].1;
        assert!(h.address.starts_with(&format!("示范市{county_name}")), "{}", h.address);
        assert!(h.address.contains('乡') || h.address.contains('镇') || h.address.contains("街道"), "{}", h.address);
        assert!((1..=6).contains(&entry.members.len()), "{} has {} members", h.household_id, entry.members.len());
        for member in &entry.members {
            assert_eq!(member.household_id, h.household_id);
            assert_eq!(member.coverage.region, h.region, "a member is insured in the household's county");
            assert_eq!(member.coverage.person_id.address_code(), h.region);
        }
        *per_county.entry(h.region).or_insert(0) += 1;
    }
    assert_eq!(per_county[&counties[0]], 800, "40% in 中心区");
    assert_eq!(per_county[&counties[1]], 640, "32% in 东县");
    assert_eq!(per_county[&counties[2]], 560, "28% in 西县");
}

#[test]
fn the_population_has_the_shares_asked_for() {
    let city: DemoCity = generate(42, 3000);
    let persons: Vec<&NewPerson> = city.persons().collect();
    let total = persons.len();

    // Households: rural ones are larger.
    let mean = |rural: bool| {
        let sizes: Vec<usize> =
            city.households.iter().filter(|h| is_rural(&h.household.address) == rural).map(|h| h.members.len()).collect();
        share(sizes.iter().sum(), sizes.len())
    };
    let (rural_mean, urban_mean) = (mean(true), mean(false));
    assert!(rural_mean > urban_mean + 0.3, "rural {rural_mean:.2} vs urban {urban_mean:.2} members per household");
    assert!((2.0..4.5).contains(&rural_mean) && (1.8..3.5).contains(&urban_mean), "{rural_mean:.2} {urban_mean:.2}");

    // Ages: a pyramid with children, working-age adults and the elderly.
    let minors = persons.iter().filter(|p| age(p) < 18).count();
    let elderly = persons.iter().filter(|p| age(p) >= 60).count();
    assert!((0.10..0.30).contains(&share(minors, total)), "minors {:.3}", share(minors, total));
    assert!((0.15..0.35).contains(&share(elderly, total)), "60 and over {:.3}", share(elderly, total));
    assert!(persons.iter().all(|p| p.coverage.coverage_from >= COVERAGE_FROM && p.coverage.coverage_until.is_none()));
    assert!(persons.iter().all(|p| p.coverage.coverage_from == COVERAGE_FROM || p.coverage.person_id.birth_date().year() == 2024));

    // Employees: about 15%, retired exactly when 60 or over, tier 1 mostly.
    let employees: Vec<&&NewPerson> = persons.iter().filter(|p| p.coverage.scheme == Scheme::Employee).collect();
    assert!((0.10..0.20).contains(&share(employees.len(), total)), "employees {:.3}", share(employees.len(), total));
    for e in &employees {
        let want = if age(e) >= 60 { PersonCategory::Retired } else { PersonCategory::Employed };
        assert_eq!(e.coverage.category, want);
        assert!(age(e) >= 18);
        assert_eq!(e.coverage.maternity, want == PersonCategory::Employed, "employees in work are in maternity insurance");
        assert!(e.coverage.personal_account_balance.get() > 0);
        assert!(!e.coverage.supplementary && e.coverage.assistance_group.is_none());
        assert!(matches!(initial_tier(e), 1 | 2));
    }
    let tier_one = employees.iter().filter(|e| initial_tier(e) == 1).count();
    assert!(share(tier_one, employees.len()) > 0.75 && tier_one < employees.len(), "tier 1 mostly, some 2");

    // Residents: tier 3 or 4 mostly for minors and the elderly, some 1 or 2.
    let residents: Vec<&&NewPerson> = persons.iter().filter(|p| p.coverage.scheme == Scheme::Resident).collect();
    assert!(residents.iter().all(|r| r.coverage.category == PersonCategory::Resident && !r.coverage.maternity));
    assert!(residents.iter().all(|r| r.coverage.personal_account_balance.get() == 0));
    let young_or_old: Vec<&&&NewPerson> = residents.iter().filter(|r| age(r) < 18 || age(r) >= 60).collect();
    let low_tiers = young_or_old.iter().filter(|r| initial_tier(r) >= 3).count();
    assert!((0.75..0.98).contains(&share(low_tiers, young_or_old.len())), "tiers 3/4 {:.3}", share(low_tiers, young_or_old.len()));

    // Assistance groups: about 4%, every group present, residents only.
    let assisted: Vec<AssistanceGroup> = persons.iter().filter_map(|p| p.coverage.assistance_group).collect();
    assert!((0.02..0.07).contains(&share(assisted.len(), total)), "assisted {:.3}", share(assisted.len(), total));
    for group in AssistanceGroup::ALL {
        assert!(assisted.contains(&group), "{group:?} present");
    }

    // Supplementary: about 60% of rural residents, nobody else.
    let rural_ids: HashSet<NationalId> = city
        .households
        .iter()
        .filter(|h| is_rural(&h.household.address))
        .flat_map(|h| h.members.iter().map(|m| m.coverage.person_id))
        .collect();
    let rural_residents: Vec<&&&NewPerson> = residents.iter().filter(|r| rural_ids.contains(&r.coverage.person_id)).collect();
    let supplementary = rural_residents.iter().filter(|r| r.coverage.supplementary).count();
    assert!(
        (0.45..0.75).contains(&share(supplementary, rural_residents.len())),
        "supplementary {:.3}",
        share(supplementary, rural_residents.len())
    );
    assert!(persons.iter().filter(|p| p.coverage.supplementary).all(|p| rural_ids.contains(&p.coverage.person_id)));

    // Certified chronic diseases: hypertension and diabetes among older people.
    let older: Vec<&&NewPerson> = persons.iter().filter(|p| age(p) >= 60).collect();
    let with = |code: &str, group: &[&&NewPerson]| {
        group.iter().filter(|p| p.coverage.certified_chronic_diseases.iter().any(|d| d == code)).count()
    };
    assert!((0.08..0.30).contains(&share(with("I10", &older), older.len())), "I10 among 60+");
    assert!((0.03..0.18).contains(&share(with("E11", &older), older.len())), "E11 among 60+");
    let young: Vec<&&NewPerson> = persons.iter().filter(|p| age(p) < 40).collect();
    assert_eq!(with("I10", &young) + with("E11", &young), 0, "none under 40");

    // Tier changes: a few, requested in 2025 or early 2026, in order, each to another tier.
    let mut changed = 0;
    for p in &persons {
        let history = p.coverage.tier_history.as_ref().expect("tiers");
        assert_eq!(history.since, p.coverage.coverage_from);
        if history.changes.is_empty() {
            continue;
        }
        changed += 1;
        let mut previous = (history.since, history.initial);
        for change in &history.changes {
            assert!(change.requested_on >= date!(2025 - 01 - 01) && change.requested_on <= date!(2026 - 02 - 28));
            assert!(change.requested_on > previous.0 && change.tier != previous.1);
            previous = (change.requested_on, change.tier);
        }
    }
    assert!((0.01..0.08).contains(&share(changed, total)), "tier changes {:.3}", share(changed, total));
}

#[test]
fn staff_and_institutions_are_the_demo_set() {
    let city = generate(1, 10);
    let staff: Vec<(&str, Role, String)> = city.staff.iter().map(|s| (s.username.as_str(), s.role, s.region.to_string())).collect();
    assert_eq!(
        staff,
        vec![
            ("admin", Role::CityAdministrator, "419900".to_owned()),
            ("center.clerk", Role::EnrolmentClerk, "419902".to_owned()),
            ("east.clerk", Role::EnrolmentClerk, "419921".to_owned()),
            ("west.clerk", Role::EnrolmentClerk, "419922".to_owned()),
            ("claims", Role::ClaimsOfficer, "419900".to_owned()),
            ("east.claims", Role::ClaimsOfficer, "419921".to_owned()),
            ("accountant", Role::FundAccountant, "419900".to_owned()),
            ("auditor", Role::Auditor, "419900".to_owned()),
        ]
    );
    assert_eq!(city.staff[0].password, "demo-admin-2026");
    assert_eq!(city.staff[2].password, "demo-east-clerk-2026");
    assert!(city.staff.iter().all(|s| !s.display_name.is_empty()));

    let hospitals: Vec<_> = city.institutions.iter().filter(|i| i.code.starts_with('H')).collect();
    let pharmacies: Vec<_> = city.institutions.iter().filter(|i| i.code.starts_with('P')).collect();
    assert_eq!((hospitals.len(), pharmacies.len()), (12, 2));
    let mut codes = HashSet::new();
    for i in &city.institutions {
        assert!(codes.insert(i.code.clone()));
        assert_eq!(i.code.len(), 12);
        assert_eq!(&i.code[1..7], i.region.to_string(), "{} lies in its county", i.code);
        assert!(i.code[7..].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(i.api_key, format!("demo-key-{}", i.code));
    }
    assert!(pharmacies.iter().all(|p| p.level == InstitutionLevel::Primary));
    let first = &city.institutions[0];
    assert_eq!((first.code.as_str(), first.name.as_str(), first.level), ("H41990200001", "示范市第一人民医院", InstitutionLevel::Tertiary));
    for (county, _) in COUNTIES {
        let levels: HashSet<InstitutionLevel> = hospitals.iter().filter(|h| h.region == region(county)).map(|h| h.level).collect();
        assert!(levels.contains(&InstitutionLevel::Primary) && levels.contains(&InstitutionLevel::Secondary), "{county}");
    }
    assert!(hospitals.iter().any(|h| h.level == InstitutionLevel::Tertiary));
    assert_eq!(api_key_hash("demo-key-H41990200001").len(), 64);
}
