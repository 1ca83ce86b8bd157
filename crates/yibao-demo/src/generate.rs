//! The pure generator: a seed and a number of households in, the whole demo city out.

use std::collections::HashSet;

use serde::Serialize;
use time::macros::date;
use time::{Date, Duration};
use yibao_domain::{AssistanceGroup, Fen, InstitutionLevel, NationalId, PersonCategory, RegionCode, Scheme, Tier};
use yibao_engine::{Coverage, TierChange, TierHistory};
use yibao_store::{ImportHousehold, NewHousehold, NewPerson, Role};

use crate::names::{
    CENTER_COMMUNITIES, CENTER_STREETS, CENTER_TOWNSHIPS, EAST_TOWNSHIPS, FEMALE_GIVEN, MALE_GIVEN, ROADS, SURNAMES, VILLAGES,
    WEST_TOWNSHIPS,
};
use crate::rng::SplitMix64;

/// The demo city (示范市) of `policies/demo-city.toml`.
pub const CITY: &str = "419900";
/// Its counties and districts, in the order their households are generated.
pub const COUNTIES: [(&str, &str); 3] = [("419902", "中心区"), ("419921", "东县"), ("419922", "西县")];
/// Everyone generated is covered from this day (or from birth, for a baby born later).
pub const COVERAGE_FROM: Date = date!(2024 - 01 - 01);
/// The day ages are counted on: employees aged 60 or more on it are retired.
pub const AGE_ON: Date = date!(2026 - 01 - 01);
/// Tier changes are requested between these days (R-ENR-4).
const TIER_CHANGES_FROM: Date = date!(2025 - 01 - 01);
const TIER_CHANGES_UNTIL: Date = date!(2026 - 02 - 28);
/// Birth years are drawn in this range (ages 1 to 85 at the end of 2025).
const FIRST_BIRTH_YEAR: i32 = 1940;
const LAST_BIRTH_YEAR: i32 = 2024;

/// The generated city: households with their members (grouped by county, in the order of
/// [`COUNTIES`]), staff accounts and designated institutions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoCity {
    pub households: Vec<ImportHousehold>,
    pub staff: Vec<DemoStaff>,
    pub institutions: Vec<DemoInstitution>,
}

impl DemoCity {
    /// Every member of every household.
    pub fn persons(&self) -> impl Iterator<Item = &NewPerson> {
        self.households.iter().flat_map(|h| h.members.iter())
    }
}

/// A staff account of the demo. The password is in plain text because it is a demo
/// password, printed for whoever runs the demo: never use these outside a demo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DemoStaff {
    pub username: String,
    pub display_name: String,
    /// Demo only.
    pub password: String,
    pub role: Role,
    pub region: RegionCode,
}

/// A designated institution of the demo with its API key in plain text (demo only; the
/// store keeps only [`crate::api_key_hash`] of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DemoInstitution {
    pub code: String,
    pub name: String,
    pub region: RegionCode,
    pub level: InstitutionLevel,
    /// Demo only.
    pub api_key: String,
}

/// One county's shape.
struct County {
    code: RegionCode,
    name: &'static str,
    /// Share of the city's households, percent.
    share: usize,
    /// Households in town (street addresses) rather than in villages, per mille.
    urban: u32,
    townships: &'static [&'static str],
    /// First letter of the county's social-security card numbers.
    card_prefix: char,
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("a demo region code is valid")
}

fn counties() -> [County; 3] {
    [
        County { code: region(COUNTIES[0].0), name: COUNTIES[0].1, share: 40, urban: 900, townships: CENTER_TOWNSHIPS, card_prefix: 'Z' },
        County { code: region(COUNTIES[1].0), name: COUNTIES[1].1, share: 32, urban: 200, townships: EAST_TOWNSHIPS, card_prefix: 'D' },
        County { code: region(COUNTIES[2].0), name: COUNTIES[2].1, share: 28, urban: 150, townships: WEST_TOWNSHIPS, card_prefix: 'X' },
    ]
}

/// Generates the demo city: `households` households split over the three counties (40%
/// 中心区, 32% 东县, 28% 西县), the staff accounts and the designated institutions. Pure:
/// the same seed and count give the same city, on every machine.
#[must_use]
pub fn generate(seed: u64, households: usize) -> DemoCity {
    let mut rng = SplitMix64::new(seed);
    let mut ids = HashSet::new();
    let counties = counties();
    let mut out = Vec::with_capacity(households);
    let mut assigned = 0;
    for (index, county) in counties.iter().enumerate() {
        let count = if index + 1 == counties.len() { households - assigned } else { households * county.share / 100 };
        assigned += count;
        let mut cards = 0u32;
        for serial in 1..=count {
            out.push(household(&mut rng, &mut ids, county, serial, &mut cards));
        }
    }
    DemoCity { households: out, staff: staff(), institutions: institutions() }
}

/// A member before identity is drawn: age at the end of 2025, sex, and whether they carry
/// the family surname (blood relatives) or their own (spouses).
#[derive(Clone, Copy)]
struct Sketch {
    age: i64,
    male: bool,
    blood: bool,
}

fn sketch(age: i64, male: bool, blood: bool) -> Sketch {
    Sketch { age: age.clamp(1, 85), male, blood }
}

/// Who lives together: singles (often the elderly), couples, nuclear families, and
/// three-generation households (more common in villages).
fn compose(rng: &mut SplitMix64, size: usize, rural: bool) -> Vec<Sketch> {
    let mut members = Vec::with_capacity(size);
    if size == 1 {
        let age = if rng.chance(if rural { 620 } else { 450 }) { rng.range(60, 85) } else { rng.range(19, 59) };
        members.push(sketch(age, rng.chance(480), true));
        return members;
    }
    let stem = size >= 5 || (size >= 3 && rng.chance(if rural { 400 } else { 150 }));
    if stem {
        let head = rng.range(50, 80);
        let head_male = rng.chance(if rural { 800 } else { 650 });
        members.push(sketch(head, head_male, true));
        if members.len() < size && rng.chance(850) {
            members.push(sketch(head + if head_male { -rng.range(0, 5) } else { rng.range(0, 5) }, !head_male, false));
        }
        let child = (head - rng.range(22, 32)).max(18);
        let child_male = rng.chance(700);
        if members.len() < size {
            members.push(sketch(child, child_male, true));
        }
        if members.len() < size {
            members.push(sketch(child + rng.range(-3, 3), !child_male, false));
        }
        while members.len() < size {
            let oldest_grandchild = (child - 21).clamp(1, 20);
            members.push(sketch(rng.range(1, oldest_grandchild), rng.chance(520), true));
        }
    } else {
        let head = if rural { rng.range(25, 68) } else { rng.range(25, 62) };
        let head_male = rng.chance(if rural { 750 } else { 600 });
        members.push(sketch(head, head_male, true));
        if rng.chance(880) {
            members.push(sketch(head + if head_male { -rng.range(0, 4) } else { rng.range(0, 4) }, !head_male, false));
        }
        let most_children = if rural { 3 } else { 2 };
        let mut children = 0;
        while members.len() < size && children < most_children {
            let mut age = head - rng.range(23, 34);
            if age < 1 {
                age = rng.range(1, (head - 21).max(1));
            }
            members.push(sketch(age, rng.chance(520), true));
            children += 1;
        }
        // Any room left is for the head's parents.
        let mut father = true;
        while members.len() < size {
            members.push(sketch(head + rng.range(24, 32), father, father));
            father = !father;
        }
    }
    members
}

fn surname(rng: &mut SplitMix64) -> &'static str {
    let weights: Vec<u32> = SURNAMES.iter().map(|&(_, w)| w).collect();
    SURNAMES[rng.weighted(&weights)].0
}

fn given_name(rng: &mut SplitMix64, male: bool, birth_year: i32) -> &'static str {
    let generation = match birth_year {
        ..1965 => 0,
        1965..1990 => 1,
        _ => 2,
    };
    let names: &[&'static str] = if male { MALE_GIVEN[generation] } else { FEMALE_GIVEN[generation] };
    let name: &&'static str = rng.pick(names);
    name
}

/// A national ID not used before: address code = the county, the birth date drawn from
/// the member's age, a sequence number of the right parity (odd for men).
fn unique_id(rng: &mut SplitMix64, ids: &mut HashSet<NationalId>, county: RegionCode, age: i64, male: bool) -> NationalId {
    let year = i32::try_from(2025 - age).unwrap_or(LAST_BIRTH_YEAR).clamp(FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR);
    let day = u16::try_from(rng.range(1, i64::from(time::util::days_in_year(year)))).unwrap_or(1);
    let mut birth = Date::from_ordinal_date(year, day).unwrap_or(COVERAGE_FROM);
    let mut attempts = 0u32;
    loop {
        let sequence = u16::try_from(rng.below(500) * 2 + u64::from(male)).unwrap_or(1);
        if let Some(id) = NationalId::from_parts(county, birth, sequence)
            && ids.insert(id)
        {
            return id;
        }
        attempts += 1;
        // A day whose sequence numbers are crowded: try the next day of the same year.
        if attempts.is_multiple_of(64) {
            let next = birth.ordinal() % time::util::days_in_year(year) + 1;
            birth = Date::from_ordinal_date(year, next).unwrap_or(birth);
        }
    }
}

fn random_day(rng: &mut SplitMix64, from: Date, until: Date) -> Date {
    from + Duration::days(rng.range(0, (until - from).whole_days()))
}

fn tier(number: u8) -> Tier {
    Tier::new(number).expect("tiers 1 to 4 exist")
}

/// A changed tier, different from `current`, among `allowed`.
fn other_tier(rng: &mut SplitMix64, current: Tier, allowed: &[u8]) -> Tier {
    let others: Vec<u8> = allowed.iter().copied().filter(|&t| t != current.get()).collect();
    tier(*rng.pick(&others))
}

fn tier_changes(rng: &mut SplitMix64, initial: Tier, allowed: &[u8], per_mille: u32) -> Vec<TierChange> {
    let mut changes = Vec::new();
    if !rng.chance(per_mille) {
        return changes;
    }
    let first = random_day(rng, TIER_CHANGES_FROM, TIER_CHANGES_UNTIL - Duration::days(30));
    let first_tier = other_tier(rng, initial, allowed);
    changes.push(TierChange { requested_on: first, tier: first_tier });
    if rng.chance(250) {
        let second = random_day(rng, first + Duration::days(1), TIER_CHANGES_UNTIL);
        changes.push(TierChange { requested_on: second, tier: other_tier(rng, first_tier, allowed) });
    }
    changes
}

/// Chronic and special diseases certified for outpatient care (门诊慢特病), more common
/// with age.
fn chronic_diseases(rng: &mut SplitMix64, age: u32) -> Vec<String> {
    let mut found = Vec::new();
    let (hypertension, diabetes) = match age {
        ..45 => (0, 0),
        45..60 => (80, 40),
        _ => (180, 90),
    };
    for (code, per_mille) in [
        ("I10", hypertension),
        ("E11", diabetes),
        ("I50", if age >= 65 { 15 } else { 0 }),
        ("N18", if age >= 40 { 3 } else { 0 }),
        ("C", if age >= 40 { 6 } else { 0 }),
        ("F20", if age >= 18 { 3 } else { 0 }),
    ] {
        if per_mille > 0 && rng.chance(per_mille) {
            found.push(code.to_owned());
        }
    }
    found
}

fn address(rng: &mut SplitMix64, county: &County, urban: bool) -> String {
    let number = rng.range(1, 299);
    match (county.code == region(COUNTIES[0].0), urban) {
        (true, true) => format!(
            "示范市中心区{}{}{}{}号院{}号楼{}单元{}{:02}室",
            rng.pick(CENTER_STREETS),
            rng.pick(CENTER_COMMUNITIES),
            rng.pick(ROADS),
            number,
            rng.range(1, 24),
            rng.range(1, 4),
            rng.range(1, 18),
            rng.range(1, 4)
        ),
        (false, true) => format!("示范市{}城关镇{}{}号", county.name, rng.pick(ROADS), number),
        (_, false) => {
            format!("示范市{}{}{}{}组{}号", county.name, rng.pick(county.townships), rng.pick(VILLAGES), rng.range(1, 12), number)
        }
    }
}

fn household(rng: &mut SplitMix64, ids: &mut HashSet<NationalId>, county: &County, serial: usize, cards: &mut u32) -> ImportHousehold {
    let urban = rng.chance(county.urban);
    let rural = !urban;
    let household_id = format!("HH-{}-{serial:06}", county.code);
    let size = 1 + if rural { rng.weighted(&[80, 200, 200, 240, 170, 110]) } else { rng.weighted(&[150, 280, 300, 170, 70, 30]) };
    let sketches = compose(rng, size, rural);
    // Household-wide choices: assistance status (低保 and the like are granted to a
    // household) and rural supplementary insurance (enrolled by household).
    let group = if rng.chance(if rural { 55 } else { 25 }) {
        Some([AssistanceGroup::Dibao, AssistanceGroup::LowIncome, AssistanceGroup::ImpoverishedByIllness][rng.weighted(&[50, 35, 15])])
    } else if size == 1 && sketches[0].age >= 65 && rng.chance(if rural { 300 } else { 120 }) {
        Some(AssistanceGroup::Destitute)
    } else {
        None
    };
    let supplementary = rural && rng.chance(600);
    let family = surname(rng);
    let mut members = Vec::with_capacity(size);
    for (index, sketch) in sketches.iter().enumerate() {
        let id = unique_id(rng, ids, county.code, sketch.age, sketch.male);
        let birth = id.birth_date();
        let age = id.age_on(AGE_ON);
        let name = format!("{}{}", if sketch.blood { family } else { surname(rng) }, given_name(rng, sketch.male, birth.year()));
        let employee = age >= 18
            && rng.chance(match (urban, age) {
                (true, ..23) => 80,
                (true, 23..60) => 370,
                (true, _) => 280,
                (false, ..23) => 20,
                (false, 23..60) => 90,
                (false, _) => 40,
            });
        let coverage_from = birth.max(COVERAGE_FROM);
        let mut coverage = Coverage {
            person_id: id,
            region: county.code,
            scheme: Scheme::Resident,
            category: PersonCategory::Resident,
            coverage_from,
            coverage_until: None,
            tier_history: None,
            assistance_group: None,
            supplementary: false,
            maternity: false,
            certified_chronic_diseases: chronic_diseases(rng, age),
            personal_account_balance: Fen::ZERO,
            use_personal_account: false,
        };
        let initial;
        let changes;
        if employee {
            // Employers take tier 1; certified hardship employers tier 2 (Ziyang model).
            initial = tier(if rng.chance(880) { 1 } else { 2 });
            changes = tier_changes(rng, initial, &[1, 2], 15);
            coverage.scheme = Scheme::Employee;
            coverage.category = if age >= 60 { PersonCategory::Retired } else { PersonCategory::Employed };
            coverage.maternity = coverage.category == PersonCategory::Employed;
            let yuan = if coverage.category == PersonCategory::Retired { rng.range(800, 25_000) } else { rng.range(200, 12_000) };
            coverage.personal_account_balance = Fen::new(yuan * 100 + rng.range(0, 99));
            coverage.use_personal_account = rng.chance(750);
        } else {
            let weights: &[u32] = if !(18..60).contains(&age) { &[30, 70, 450, 450] } else { &[100, 200, 400, 300] };
            initial = tier(u8::try_from(1 + rng.weighted(weights)).unwrap_or(4));
            changes = tier_changes(rng, initial, &[1, 2, 3, 4], 40);
            coverage.supplementary = supplementary;
            coverage.assistance_group = match group {
                // Illness impoverishes the one who is ill: here, the head of household.
                Some(AssistanceGroup::ImpoverishedByIllness) => (index == 0).then_some(AssistanceGroup::ImpoverishedByIllness),
                other => other,
            };
            if coverage.assistance_group == Some(AssistanceGroup::ImpoverishedByIllness) && coverage.certified_chronic_diseases.is_empty() {
                coverage.certified_chronic_diseases.push(rng.pick(&["N18", "C", "I50"]).to_string());
            }
        }
        coverage.tier_history = Some(TierHistory { initial, since: coverage_from, changes });
        // Social-security card (社会保障卡): babies born in 2024 may not have one yet.
        let card_no = if birth.year() == LAST_BIRTH_YEAR && rng.chance(400) {
            None
        } else {
            *cards += 1;
            Some(format!("{}{:08}", county.card_prefix, 10_000_000 + *cards))
        };
        members.push(NewPerson { name, card_no, household_id: household_id.clone(), coverage });
    }
    ImportHousehold { household: NewHousehold { household_id, region: county.code, address: address(rng, county, urban) }, members }
}

/// The demo password of a staff account.
fn password(username: &str) -> String {
    format!("demo-{}-2026", username.replace('.', "-"))
}

fn staff() -> Vec<DemoStaff> {
    [
        ("admin", "示范市医保系统管理员", Role::CityAdministrator, CITY),
        ("center.clerk", "中心区参保登记经办员", Role::EnrolmentClerk, COUNTIES[0].0),
        ("east.clerk", "东县参保登记经办员", Role::EnrolmentClerk, COUNTIES[1].0),
        ("west.clerk", "西县参保登记经办员", Role::EnrolmentClerk, COUNTIES[2].0),
        ("claims", "示范市医疗费用审核员", Role::ClaimsOfficer, CITY),
        ("east.claims", "东县医疗费用审核员", Role::ClaimsOfficer, COUNTIES[1].0),
        ("accountant", "示范市医保基金会计", Role::FundAccountant, CITY),
        ("auditor", "示范市医保审计员", Role::Auditor, CITY),
    ]
    .into_iter()
    .map(|(username, display_name, role, code)| DemoStaff {
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        password: password(username),
        role,
        region: region(code),
    })
    .collect()
}

fn institutions() -> Vec<DemoInstitution> {
    use InstitutionLevel::{Primary, Secondary, Tertiary};
    let (center, east, west) = (COUNTIES[0].0, COUNTIES[1].0, COUNTIES[2].0);
    let hospitals: [(&str, &str, InstitutionLevel); 12] = [
        (center, "示范市第一人民医院", Tertiary),
        (center, "示范市中医院", Tertiary),
        (center, "示范市妇幼保健院", Secondary),
        (center, "中心区人民医院", Secondary),
        (center, "中心区解放路街道社区卫生服务中心", Primary),
        (east, "东县人民医院", Secondary),
        (east, "东县中医院", Secondary),
        (east, "东县城关镇卫生院", Primary),
        (east, "东县柳河乡卫生院", Primary),
        (west, "西县人民医院", Secondary),
        (west, "西县中医院", Secondary),
        (west, "西县石桥镇卫生院", Primary),
    ];
    let pharmacies: [(&str, &str); 2] = [(center, "示范市百姓大药房（人民路店）"), (east, "东县济民大药房")];
    let mut serials: Vec<(char, &str, u32)> = Vec::new();
    let mut next = |kind: char, code: &'static str| {
        let serial = match serials.iter_mut().find(|(k, c, _)| *k == kind && *c == code) {
            Some((_, _, n)) => {
                *n += 1;
                *n
            }
            None => {
                serials.push((kind, code, 1));
                1
            }
        };
        format!("{kind}{code}{serial:05}")
    };
    let mut out = Vec::new();
    for (code, name, level) in hospitals {
        out.push((next('H', code), code, name, level));
    }
    for (code, name) in pharmacies {
        out.push((next('P', code), code, name, Primary));
    }
    out.into_iter()
        .map(|(code, county, name, level)| DemoInstitution {
            api_key: format!("demo-key-{code}"),
            code,
            name: name.to_owned(),
            region: region(county),
            level,
        })
        .collect()
}
