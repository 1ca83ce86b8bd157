//! The generator: valid and unique national IDs, the configured shares and frequencies
//! realised on a sample of 100 000 insured, determinism, and streaming by blocks.

use std::collections::{HashMap, HashSet};

use yibao_domain::{ClaimKind, Fen, InstitutionLevel, NationalId, PersonCategory, Rounding, Scheme, Sex};
use yibao_synth::assumptions::*;
use yibao_synth::{City, ClaimEvent, Config, Person};

/// The 100 000-insured sample, in one block.
fn sample() -> (City, Vec<Person>) {
    let city = City::new(Config::new(100_000, 2025)).expect("a valid configuration");
    let persons = city.block(0).persons;
    (city, persons)
}

/// Failures collected, so one run reports every share that is off.
struct Checks(Vec<String>);

impl Checks {
    /// A realised share `hits / n` against `expected_bp`, within `tolerance_bp`.
    fn share(&mut self, what: &str, hits: u64, n: u64, expected_bp: u32, tolerance_bp: u32) {
        assert!(n > 0, "{what}: empty sample");
        let got = hits as f64 * 10_000.0 / n as f64;
        if (got - f64::from(expected_bp)).abs() > f64::from(tolerance_bp) {
            self.0.push(format!("{what}: {got:.0} bp of {n}, configured {expected_bp} ± {tolerance_bp} bp"));
        }
    }

    /// A realised mean against its configured value, within four standard errors of a
    /// Poisson count given a log-normal frailty of log-scale σ (variance λ + λ²(e^{σ²} − 1)).
    fn rate(&mut self, what: &str, total: u64, n: u64, lambda: f64, sigma: f64) {
        let mean = total as f64 / n as f64;
        let variance = lambda + lambda * lambda * ((sigma * sigma).exp() - 1.0);
        let tolerance = 4.0 * (variance / n as f64).sqrt();
        if (mean - lambda).abs() > tolerance {
            self.0.push(format!("{what}: {mean:.4} per person-year over {n}, configured {lambda:.4} ± {tolerance:.4}"));
        }
    }

    fn done(self) {
        assert!(self.0.is_empty(), "{} shares off:\n{}", self.0.len(), self.0.join("\n"));
    }
}

#[test]
fn national_ids_are_valid_unique_and_agree_with_age_sex_and_county() {
    // Five blocks of 20 000: uniqueness must hold across blocks generated independently.
    let city = City::new(Config { block_persons: 20_000, ..Config::new(100_000, 7) }).expect("config");
    let mut seen = HashSet::new();
    let mut count = 0;
    for block in city.chunks() {
        for p in &block.persons {
            let parsed = NationalId::parse(p.id.as_str()).expect("a generated ID parses with its check digit");
            assert_eq!(parsed, p.id);
            assert!(seen.insert(p.id), "{} twice", p.id.as_str());
            assert_eq!(p.id.age_on(city.config.first_day()), u32::from(p.age), "{}", p.id.as_str());
            assert_eq!(p.id.sex(), if p.male { Sex::Male } else { Sex::Female });
            assert_eq!(p.id.address_code(), city.counties[usize::from(p.county)]);
            assert!(p.coverage_from <= city.config.first_day());
            assert_eq!(p.index, count);
            count += 1;
        }
    }
    assert_eq!(count, 100_000);
}

#[test]
fn households_schemes_tiers_and_groups_have_the_configured_shares() {
    let (city, persons) = sample();
    let mut c = Checks(Vec::new());
    // Households: county, urban, size (the last one may be cut at the block's end).
    let mut households: HashMap<u64, (u8, bool, u32)> = HashMap::new();
    for p in &persons {
        households.entry(p.household).or_insert((p.county, p.urban, 0)).2 += 1;
    }
    let n = households.len() as u64;
    for (i, county) in COUNTIES.iter().enumerate() {
        let in_county: Vec<_> = households.values().filter(|h| usize::from(h.0) == i).collect();
        c.share(&format!("households in {}", county.name), in_county.len() as u64, n, county.households_pm * 10, 150);
        let urban = in_county.iter().filter(|h| h.1).count() as u64;
        c.share(&format!("urban households in {}", county.name), urban, in_county.len() as u64, county.urban_pm * 10, 300);
    }
    for (urban, sizes) in [(true, HOUSEHOLD_SIZE_URBAN_PM), (false, HOUSEHOLD_SIZE_RURAL_PM)] {
        let of_kind: Vec<_> = households.values().filter(|h| h.1 == urban).collect();
        for (size, pm) in sizes.iter().enumerate() {
            let hits = of_kind.iter().filter(|h| h.2 as usize == size + 1).count() as u64;
            c.share(&format!("households of {} (urban {urban})", size + 1), hits, of_kind.len() as u64, pm * 10, 200);
        }
    }
    // Age structure: follows from households; the 2020 census ± 4 points.
    let n = persons.len() as u64;
    c.share("aged 60 or more", persons.iter().filter(|p| p.age >= 60).count() as u64, n, CENSUS_60_PLUS_BP, 400);
    c.share("aged 0 to 14", persons.iter().filter(|p| p.age <= 14).count() as u64, n, CENSUS_0_14_BP, 400);
    c.share("men", persons.iter().filter(|p| p.male).count() as u64, n, CENSUS_MALE_BP, 150);
    // Employees by age group and place.
    for (urban, r) in [(true, 0), (false, 1)] {
        type Pick = Box<dyn Fn(&Person) -> bool>;
        let groups: [(&str, Pick, u32); 3] = [
            ("18–22", Box::new(|p: &Person| (18..23).contains(&p.age)), EMPLOYEE_BP_YOUNG[r]),
            (
                "working age",
                Box::new(|p: &Person| p.age >= 23 && u32::from(p.age) < RETIREMENT_AGE[usize::from(p.male)]),
                EMPLOYEE_BP_WORKING[r],
            ),
            ("retirement age", Box::new(|p: &Person| u32::from(p.age) >= RETIREMENT_AGE[usize::from(p.male)]), EMPLOYEE_BP_RETIRED[r]),
        ];
        for (name, pick, bp) in &groups {
            let of: Vec<&Person> = persons.iter().filter(|p| p.urban == urban && pick(p)).collect();
            let hits = of.iter().filter(|p| p.scheme == Scheme::Employee).count() as u64;
            c.share(&format!("employees among {name} (urban {urban})"), hits, of.len() as u64, *bp, 150);
        }
    }
    assert!(persons.iter().filter(|p| p.scheme == Scheme::Employee).all(|p| p.age >= 18));
    assert!(
        persons
            .iter()
            .filter(|p| p.category == PersonCategory::Retired)
            .all(|p| p.scheme == Scheme::Employee && u32::from(p.age) >= RETIREMENT_AGE[usize::from(p.male)])
    );
    // Tiers.
    let employees: Vec<&Person> = persons.iter().filter(|p| p.scheme == Scheme::Employee).collect();
    for (t, bp) in EMPLOYEE_TIER_BP.iter().enumerate() {
        let hits = employees.iter().filter(|p| usize::from(p.tier.get()) == t + 1).count() as u64;
        c.share(&format!("employees in tier {}", t + 1), hits, employees.len() as u64, *bp, 150);
    }
    for (adult, weights) in [(true, RESIDENT_TIER_ADULT_BP), (false, RESIDENT_TIER_OTHER_BP)] {
        let of: Vec<&Person> = persons.iter().filter(|p| p.scheme == Scheme::Resident && (18..60).contains(&p.age) == adult).collect();
        for (t, bp) in weights.iter().enumerate() {
            let hits = of.iter().filter(|p| usize::from(p.tier.get()) == t + 1).count() as u64;
            c.share(&format!("residents (adult {adult}) in tier {}", t + 1), hits, of.len() as u64, *bp, 150);
        }
    }
    // Assistance groups, granted by household (households with a resident member).
    for (urban, r) in [(true, 0), (false, 1)] {
        let mut by_household: HashMap<u64, bool> = HashMap::new();
        for p in persons.iter().filter(|p| p.urban == urban && p.scheme == Scheme::Resident) {
            let assisted = matches!(
                p.group,
                Some(
                    yibao_domain::AssistanceGroup::Dibao
                        | yibao_domain::AssistanceGroup::LowIncome
                        | yibao_domain::AssistanceGroup::ImpoverishedByIllness
                )
            );
            *by_household.entry(p.household).or_default() |= assisted;
        }
        let hits = by_household.values().filter(|a| **a).count() as u64;
        // Impoverished-by-illness households count only when their head is a resident.
        c.share(&format!("assisted households (urban {urban})"), hits, by_household.len() as u64, ASSISTED_HOUSEHOLD_BP[r], 100);
    }
    // Certified chronic diseases by age band.
    for (bit, (code, _, per_mille)) in CHRONIC.iter().enumerate() {
        for (band, pm) in per_mille.iter().enumerate() {
            let of: Vec<&Person> = persons.iter().filter(|p| age_band(u32::from(p.age)) == band && p.group.is_none()).collect();
            let hits = of.iter().filter(|p| p.chronic & (1 << bit) != 0).count() as u64;
            c.share(&format!("{code} certified, band {band}"), hits, of.len() as u64, pm * 10, 100);
        }
    }
    assert!(persons.iter().filter(|p| p.group == Some(yibao_domain::AssistanceGroup::ImpoverishedByIllness)).all(|p| p.chronic != 0));
    let _ = city;
    c.done();
}

#[test]
fn claims_have_the_configured_frequencies_and_costs() {
    let (city, persons) = sample();
    let mut c = Checks(Vec::new());
    let mut events = Vec::new();
    let mut visits = [0u64; 6];
    let mut admissions = [0u64; 6];
    let mut in_band = [0u64; 6];
    let mut births = 0u64;
    let mut expected_births = 0.0;
    let mut visit_levels = [[0u64; 3]; 2];
    let mut bills: [(u64, i64); 2] = [(0, 0); 2];
    let mut chronic_claims = 0u64;
    let mut chronic_expected = 0.0;
    for p in &persons {
        city.year_of(p, &mut events);
        assert!(events.len() <= MAX_CLAIMS_PER_PERSON);
        // In settlement order, numbered from 1, inside the year.
        for (n, e) in events.iter().enumerate() {
            assert_eq!(usize::from(e.seq), n + 1);
            assert!(e.admission <= e.discharge && e.admission >= city.config.first_day() && e.discharge <= city.config.last_day());
        }
        assert!(events.windows(2).all(|w| (w[0].discharge, w[0].admission) <= (w[1].discharge, w[1].admission)));
        let band = age_band(u32::from(p.age));
        in_band[band] += 1;
        chronic_expected += f64::from(p.chronic.count_ones()) * 12.0 * f64::from(CHRONIC_MONTHLY_BP) / 10_000.0;
        if !p.male
            && let Some((_, _, per_1000)) = BIRTHS_PER_1000_WOMEN.iter().find(|(l, h, _)| (*l..=*h).contains(&u32::from(p.age)))
        {
            expected_births += f64::from(*per_1000) / 1000.0;
        }
        for e in &events {
            let institution = &city.institutions[e.institution as usize];
            match e.kind {
                ClaimKind::GeneralOutpatient => {
                    visits[band] += 1;
                    visit_levels[usize::from(!p.urban)][institution.level as usize] += 1;
                }
                ClaimKind::ChronicOutpatient => chronic_claims += 1,
                ClaimKind::Inpatient if e.diagnosis.starts_with('O') => births += 1,
                ClaimKind::Inpatient => {
                    admissions[band] += 1;
                    let claim = city.claim(p, e);
                    let bill: Fen =
                        claim.lines.iter().map(|l| Rounding::HalfUp.scale(l.unit_price, i64::from(l.quantity.milli()), 1000)).sum();
                    let s = usize::from(p.scheme == Scheme::Employee);
                    bills[s].0 += 1;
                    bills[s].1 += bill.get();
                }
                ClaimKind::Maternity
                    if matches!(e.delivery, Some((yibao_domain::DeliveryKind::Normal | yibao_domain::DeliveryKind::Difficult, _))) =>
                {
                    births += 1;
                }
                ClaimKind::Maternity => {}
                ClaimKind::SingleDisease
                | ClaimKind::DaySurgery
                | ClaimKind::PharmacyPurchase
                | ClaimKind::TwoDisease
                | ClaimKind::SpecialDrug => {
                    panic!("the synthetic year draws no {:?} claims", e.kind)
                }
            }
        }
    }
    for band in 0..6 {
        let lambda = f64::from(VISITS_PER_YEAR_CENTI[band]) / 100.0;
        c.rate(&format!("visits, band {band}"), visits[band], in_band[band], lambda, VISIT_FRAILTY_SIGMA);
    }
    // Admissions: the configured rate, raised for certified chronic patients.
    for band in 0..6 {
        let of: Vec<&Person> = persons.iter().filter(|p| age_band(u32::from(p.age)) == band).collect();
        let chronic = of.iter().filter(|p| p.chronic != 0).count() as f64;
        let base = f64::from(ADMISSIONS_PER_1000[band]) / 1000.0;
        let lambda = base * (of.len() as f64 + chronic * (f64::from(CHRONIC_ADMISSION_FACTOR_PCT) / 100.0 - 1.0)) / of.len() as f64;
        c.rate(&format!("admissions, band {band}"), admissions[band], of.len() as u64, lambda, ADMISSION_FRAILTY_SIGMA);
    }
    c.rate("chronic claims", chronic_claims, persons.len() as u64, chronic_expected / persons.len() as f64, 0.0);
    c.rate("births", births, persons.len() as u64, expected_births / persons.len() as f64, 0.0);
    for (r, weights) in VISIT_LEVEL_BP.iter().enumerate() {
        let n: u64 = visit_levels[r].iter().sum();
        for (level, bp) in weights.iter().enumerate() {
            c.share(&format!("visits at level {level} (rural {r})"), visit_levels[r][level], n, *bp, 150);
        }
    }
    // SPEC "Scale": about 6.8 outpatient visits per person a year, 21 admissions per 100,
    // and 7 700 (residents) and 12 200 yuan (employees) per admission.
    let outpatient = (visits.iter().sum::<u64>() + chronic_claims) as f64 / persons.len() as f64;
    assert!((6.3..=7.3).contains(&outpatient), "{outpatient} outpatient visits per person-year");
    let per_100 = (admissions.iter().sum::<u64>() + births) as f64 * 100.0 / persons.len() as f64;
    assert!((19.0..=23.0).contains(&per_100), "{per_100} admissions per 100");
    for (s, target) in [(0, 7_700.0), (1, 12_200.0)] {
        let mean = bills[s].1 as f64 / 100.0 / bills[s].0 as f64;
        assert!((mean / target - 1.0).abs() < 0.08, "scheme {s}: {mean:.0} yuan per admission, SPEC {target}");
    }
    c.done();
}

#[test]
fn the_same_seed_gives_the_same_city_and_another_seed_another() {
    let config = Config { block_persons: 2_000, ..Config::new(6_000, 11) };
    let a = City::new(config).expect("config");
    let b = City::new(config).expect("config");
    let c = City::new(Config { seed: 12, ..config }).expect("config");
    for index in [2, 0, 1] {
        assert_eq!(a.block(index), b.block(index), "block {index}");
        assert_ne!(a.block(index), c.block(index), "block {index} under another seed");
    }
    // A person's year is the same whichever block order or buffer produced it.
    let block = a.block(1);
    let mut first = Vec::new();
    let mut again = vec![ClaimEvent { ..block.claims(&a)[0] }; 3];
    for p in &block.persons {
        a.year_of(p, &mut first);
        b.year_of(p, &mut again);
        assert_eq!(first, again);
    }
    assert_eq!(a.institutions, b.institutions);
}

#[test]
fn streaming_covers_every_person_once_with_claims_in_date_order() {
    let city = City::new(Config { block_persons: 1_500, ..Config::new(4_000, 3) }).expect("config");
    assert_eq!(city.config.blocks(), 3);
    let mut persons = 0u64;
    let mut claims = 0usize;
    for (i, block) in city.chunks().enumerate() {
        assert_eq!(block.index as usize, i);
        assert_eq!(block.persons.len() as u64, city.config.block_range(block.index).end - city.config.block_range(block.index).start);
        persons += block.persons.len() as u64;
        let list = block.claims(&city);
        assert!(list.windows(2).all(|w| (w[0].discharge, w[0].admission, w[0].person) <= (w[1].discharge, w[1].admission, w[1].person)));
        for e in &list {
            let p = block.person(e).expect("a claim's person is in its block");
            assert_eq!(p.index, e.person);
        }
        claims += list.len();
    }
    assert_eq!(persons, 4_000);
    assert_eq!(city.persons().count(), 4_000);
    assert!(claims > 20_000, "{claims} claims for 4 000 insured");
}

#[test]
fn institutions_scale_with_the_city_and_every_level_is_in_every_county() {
    for insured in [1_000, 2_000_000, 13_000_000] {
        let city = City::new(Config::new(insured, 1)).expect("config");
        let codes: HashSet<&str> = city.institutions.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes.len(), city.institutions.len(), "codes are unique");
        for county in city.counties {
            for level in [InstitutionLevel::Primary, InstitutionLevel::Secondary] {
                assert!(city.institutions.iter().any(|i| i.region == county && i.level == level), "{insured}: {county} {level:?}");
            }
        }
        let tertiary =
            city.institutions.iter().filter(|i| i.level == InstitutionLevel::Tertiary && i.place == yibao_domain::Place::InArea).count()
                as u64;
        assert_eq!(tertiary, (insured / INSURED_PER_INSTITUTION[2]).max(1), "{insured}");
    }
    assert!(City::new(Config::new(999, 1)).is_err());
    assert!(City::new(Config::new(13_000_001, 1)).is_err());
    assert!(City::new(Config { block_persons: 1_000, ..Config::new(1_000_000, 1) }).is_err(), "too many blocks");
}
