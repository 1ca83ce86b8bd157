//! Names, addresses, cards and contribution payments of the synthetic insured: unique
//! where the register needs them unique, in the person's county, and drawn without
//! changing any other draw of the city.

use std::collections::{HashMap, HashSet};

use yibao_domain::{ContributionKind, PersonCategory, Scheme};
use yibao_synth::assumptions::{COUNTIES, EMPLOYER_UNPAID_PM, RESIDENT_PAID_IN_FULL_PM};
use yibao_synth::identity::{card_no, household_identity, person_name};
use yibao_synth::payment::{Payment, contributions_of};
use yibao_synth::{City, Config};

fn city(seed: u64) -> City {
    City::new(Config { year: 2026, block_persons: 5_000, ..Config::new(20_000, seed) }).expect("a valid city")
}

#[test]
fn every_household_and_person_is_named_in_their_county_and_every_card_is_unique() {
    let city = city(11);
    let everyone = city.persons().collect::<Vec<_>>();
    let mut households: HashMap<u64, (String, String)> = HashMap::new();
    let mut cards = HashSet::new();
    let mut rural = 0;
    for (index, person) in everyone.iter().enumerate() {
        let first = index == 0 || everyone[index - 1].household != person.household;
        if first {
            let identity = household_identity(&city, person);
            let county = COUNTIES[usize::from(person.county)];
            assert!(identity.household_id.starts_with(&format!("HH-{}-", county.code)), "{}", identity.household_id);
            assert!(identity.address.starts_with(&format!("示范市{}", county.name)), "{}", identity.address);
            if identity.address.contains('组') {
                rural += 1;
                assert!(!person.urban, "{}", identity.address);
            }
            let again = households.insert(person.household, (identity.household_id.into_string(), identity.address));
            assert!(again.is_none(), "household {} listed twice", person.household);
        }
        let card = card_no(person);
        assert_eq!(card.len(), 9, "{card}");
        assert!(cards.insert(card.clone()), "card {card} given twice");
    }
    let ids: HashSet<&String> = households.values().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), households.len(), "household ids are unique");
    assert!(rural > households.len() / 5, "{rural} of {} households in villages", households.len());

    // Names: a surname and a given name; blood relatives share the family's surname.
    let mut shared = 0;
    let mut members = 0;
    let mut start = 0;
    while start < everyone.len() {
        let head = &everyone[start];
        let end = start + everyone[start..].iter().take_while(|p| p.household == head.household).count();
        let household = household_identity(&city, head);
        for (position, member) in everyone[start..end].iter().enumerate() {
            let name = person_name(&city, &household, head, member, position);
            assert!((2..=4).contains(&name.chars().count()), "{name}");
            members += 1;
            if name.starts_with(household.surname) {
                shared += 1;
            }
        }
        start = end;
    }
    assert!(shared * 10 > members * 6, "{shared} of {members} carry the family surname");
}

#[test]
fn identities_depend_on_the_seed_only() {
    let (a, b) = (city(3), city(3));
    let (one, two) = (a.persons().collect::<Vec<_>>(), b.persons().collect::<Vec<_>>());
    assert_eq!(one, two);
    let head = &one[0];
    assert_eq!(household_identity(&a, head), household_identity(&b, head));
    let other = city(4);
    let theirs = other.persons().collect::<Vec<_>>();
    let differ =
        one.iter().zip(&theirs).filter(|(x, y)| household_identity(&a, x).address != household_identity(&other, y).address).count();
    assert!(differ > one.len() / 2, "another seed, other addresses");
}

#[test]
fn residents_mostly_pay_in_full_and_a_few_employers_not_at_all() {
    let city = city(21);
    let everyone = city.persons().collect::<Vec<_>>();
    let (mut residents, mut in_full, mut part, mut employers, mut unpaid) = (0u32, 0u32, 0u32, 0u32, 0u32);
    for person in &everyone {
        let bills = contributions_of(&city, person, 12, true);
        match (person.scheme, person.category) {
            (Scheme::Employee, PersonCategory::Employed) => {
                // Twelve months of medical insurance and, for those it covers, of the
                // employer's maternity insurance, all paid (or not) alike.
                let months = |kind| bills.iter().filter(|b| b.kind == kind).count();
                assert_eq!(months(ContributionKind::Employee), 12, "twelve months");
                assert_eq!(months(ContributionKind::Maternity), if person.maternity { 12 } else { 0 });
                assert!(bills.iter().all(|b| b.payment == bills[0].payment));
                employers += 1;
                unpaid += u32::from(bills[0].payment == Payment::Nothing);
            }
            (Scheme::Employee, _) => assert!(bills.is_empty(), "retirees pay nothing"),
            _ => {
                assert_eq!(bills[0].kind, ContributionKind::Resident);
                assert_eq!(bills.len(), 1 + usize::from(person.supplementary));
                residents += 1;
                match bills[0].payment {
                    Payment::InFull => in_full += 1,
                    Payment::Part(percent) => {
                        assert!((20..=80).contains(&percent));
                        part += 1;
                    }
                    Payment::Nothing => {}
                }
            }
        }
    }
    let full_pm = in_full * 1_000 / residents;
    assert!(full_pm.abs_diff(RESIDENT_PAID_IN_FULL_PM) < 15, "{full_pm}‰ paid in full");
    assert!(part > 0 && in_full + part < residents, "some pay part, some nothing");
    let unpaid_pm = unpaid * 1_000 / employers;
    assert!(unpaid_pm.abs_diff(EMPLOYER_UNPAID_PM) < 15, "{unpaid_pm}‰ of employers did not pay");
    assert_eq!(Payment::Part(50).of(yibao_domain::Fen::new(38_099)), yibao_domain::Fen::yuan(190), "half, in whole yuan");
}
