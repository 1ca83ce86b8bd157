//! Insured persons, generated a block at a time: households in the counties, members with
//! ages and sexes, valid and unique national IDs, scheme, category, tier, assistance
//! group, supplementary and maternity enrolment, certified chronic diseases, wages and
//! personal accounts.
//!
//! A block is drawn from its own stream (seed, block number), so any block can be
//! generated alone, in any order, on any thread. National IDs stay unique across blocks
//! without any shared state: of the 500 sequence numbers per county, birth date and sex,
//! block `b` of `B` uses only those `j` with `j mod B = b`; when a block's share for a day
//! is full, the birth date moves to the next free day of the same age year.

use time::{Date, Duration};
use yibao_domain::{AssistanceGroup, Fen, NationalId, PersonCategory, Scheme, Tier};
use yibao_engine::{Coverage, TierChange, TierHistory};

use crate::assumptions::{
    ACCOUNT_OPENING_YUAN, ASSISTANCE_GROUP_BP, ASSISTED_HOUSEHOLD_BP, AVERAGE_WAGE_MONTHLY, BOY_PM, CHRONIC, COUNTIES,
    DESTITUTE_SINGLE_ELDERLY_BP, EMPLOYEE_BP_RETIRED, EMPLOYEE_BP_WORKING, EMPLOYEE_BP_YOUNG, EMPLOYEE_TIER_BP, HEAD_MALE_PM,
    HOUSEHOLD_SIZE_RURAL_PM, HOUSEHOLD_SIZE_URBAN_PM, MAX_AGE, RESIDENT_TIER_ADULT_BP, RESIDENT_TIER_OTHER_BP, RETIREMENT_AGE,
    SINGLE_ELDERLY_PM, STEM_HOUSEHOLD_PM, SUPPLEMENTARY_RURAL_BP, TIER_CHANGE_BP, USE_ACCOUNT_BP, WAGE_SIGMA, age_band,
};
use crate::city::City;
use crate::rng::{SplitMix64, purpose};

/// Sequence numbers per county, birth date and sex in a national ID (000–999, odd for men).
const SEQUENCES_PER_SEX: u32 = 500;
/// Most members of one household.
const HOUSEHOLD_LIMIT: usize = 6;

/// One insured person, compact: what the engine and the simulation need, nothing more
/// (no names or addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The person's number in the city, `0..insured`: it seeds their year of care.
    pub index: u64,
    pub id: NationalId,
    /// Household number: block × 1 000 000 + the household's serial in its block.
    pub household: u64,
    /// Index of the county in [`COUNTIES`].
    pub county: u8,
    pub urban: bool,
    /// Age on 1 January of the year.
    pub age: u8,
    pub male: bool,
    /// Employee or resident.
    pub scheme: Scheme,
    pub category: PersonCategory,
    /// Tier since `coverage_from`.
    pub tier: Tier,
    /// A tier change asked for in the second half of the previous year (R-ENR-4).
    pub tier_change: Option<TierChange>,
    pub group: Option<AssistanceGroup>,
    pub supplementary: bool,
    pub maternity: bool,
    /// Certified chronic diseases: bit `i` is [`CHRONIC`]`[i]`.
    pub chronic: u8,
    /// Monthly wage of an employee in work; zero otherwise.
    pub wage_monthly: Fen,
    /// Personal-account balance on 1 January (employees).
    pub account_opening: Fen,
    pub use_account: bool,
    /// Covered since 1 January of the previous year, or since birth.
    pub coverage_from: Date,
}

impl Person {
    /// The engine's view of the person, written into `out` (reusing its buffers). The
    /// personal-account balance is the opening balance; the simulation updates it.
    pub fn coverage_into(&self, city: &City, out: &mut Coverage) {
        out.person_id = self.id;
        out.region = city.counties[usize::from(self.county)];
        out.scheme = self.scheme;
        out.category = self.category;
        out.coverage_from = self.coverage_from;
        out.coverage_until = None;
        match &mut out.tier_history {
            Some(history) => {
                history.initial = self.tier;
                history.since = self.coverage_from;
                history.changes.clear();
                history.changes.extend(self.tier_change);
            }
            None => {
                out.tier_history =
                    Some(TierHistory { initial: self.tier, since: self.coverage_from, changes: self.tier_change.into_iter().collect() });
            }
        }
        out.assistance_group = self.group;
        out.supplementary = self.supplementary;
        out.maternity = self.maternity;
        out.certified_chronic_diseases.clear();
        for (bit, (code, _, _)) in CHRONIC.iter().enumerate() {
            if self.chronic & (1 << bit) != 0 {
                out.certified_chronic_diseases.push((*code).to_owned());
            }
        }
        out.personal_account_balance = self.account_opening;
        out.use_personal_account = self.use_account;
    }

    /// A fresh coverage for this person.
    #[must_use]
    pub fn coverage(&self, city: &City) -> Coverage {
        let mut out = Coverage {
            person_id: self.id,
            region: city.counties[usize::from(self.county)],
            scheme: self.scheme,
            category: self.category,
            coverage_from: self.coverage_from,
            coverage_until: None,
            tier_history: None,
            assistance_group: None,
            supplementary: false,
            maternity: false,
            civil_servant: false,
            enterprise_supplementary: false,
            certified_chronic_diseases: Vec::new(),
            personal_account_balance: Fen::ZERO,
            use_personal_account: false,
        };
        self.coverage_into(city, &mut out);
        out
    }
}

/// One member before identity is drawn.
#[derive(Clone, Copy, Default)]
struct Sketch {
    age: i64,
    male: bool,
}

fn sketch(age: i64, male: bool) -> Sketch {
    Sketch { age: age.clamp(0, MAX_AGE), male }
}

/// Who lives together: singles (often elderly), couples, nuclear families and
/// three-generation households. Ages are on 1 January.
fn compose(rng: &mut SplitMix64, size: usize, rural: bool, out: &mut Vec<Sketch>) {
    let r = usize::from(rural);
    out.clear();
    if size == 1 {
        let age = if rng.chance_bp(SINGLE_ELDERLY_PM[r] * 10) { rng.range(60, MAX_AGE) } else { rng.range(18, 59) };
        out.push(sketch(age, rng.chance_bp(4_800)));
        return;
    }
    let head_male = rng.chance_bp(HEAD_MALE_PM[r] * 10);
    let stem = size >= 5 || (size >= 3 && rng.chance_bp(STEM_HOUSEHOLD_PM[r] * 10));
    if stem {
        let head = rng.range(50, 85);
        out.push(sketch(head, head_male));
        if rng.chance_bp(8_500) {
            out.push(sketch(head + if head_male { -rng.range(0, 5) } else { rng.range(0, 5) }, !head_male));
        }
        let child = (head - rng.range(22, 32)).max(18);
        let child_male = rng.chance_bp(7_000);
        if out.len() < size {
            out.push(sketch(child, child_male));
        }
        if out.len() < size {
            out.push(sketch(child + rng.range(-3, 3), !child_male));
        }
        while out.len() < size {
            out.push(sketch(rng.range(0, (child - 20).clamp(0, 20)), rng.chance_bp(BOY_PM * 10)));
        }
    } else {
        let head = rng.range(24, 60);
        out.push(sketch(head, head_male));
        if rng.chance_bp(8_800) {
            out.push(sketch(head + if head_male { -rng.range(0, 4) } else { rng.range(0, 4) }, !head_male));
        }
        let most_children = if rural { 3 } else { 2 };
        let mut children = 0;
        while out.len() < size && children < most_children {
            let age = head - rng.range(22, 34);
            let age = if age < 0 { rng.range(0, (head - 20).max(0)) } else { age };
            out.push(sketch(age, rng.chance_bp(BOY_PM * 10)));
            children += 1;
        }
        // Room left is for the head's parents.
        let mut father = true;
        while out.len() < size {
            out.push(sketch(head + rng.range(24, 32), father));
            father = !father;
        }
    }
}

fn tier(number: usize) -> Tier {
    Tier::new(u8::try_from(number).unwrap_or(4)).expect("tiers 1 to 4 exist")
}

/// Which of a county's ID sequence numbers a block has used, per birth date and sex.
struct IdSlots {
    first_birth: Date,
    days: usize,
    /// Per (county, day, sex): sequence slots used by this block.
    used: Vec<u16>,
    block: u32,
    blocks: u32,
}

impl IdSlots {
    fn new(year: i32, block: u32, blocks: u32) -> IdSlots {
        let first_birth =
            Date::from_calendar_date(year - 1 - i32::try_from(MAX_AGE).expect("small"), time::Month::January, 1).expect("a date");
        let last = Date::from_calendar_date(year, time::Month::January, 1).expect("a date");
        let days = usize::try_from((last - first_birth).whole_days()).expect("positive") + 1;
        IdSlots { first_birth, days, used: vec![0; COUNTIES.len() * days * 2], block, blocks }
    }

    /// A unique ID in `county` for someone of `age` on 1 January of the year, born `offset`
    /// days before the 1 January on which they turned that age (or the next free day).
    fn take(&mut self, city: &City, county: usize, age: i64, male: bool, offset: u64) -> NationalId {
        let year = city.config.year;
        // Born between 2 January of year−1−age and 1 January of year−age (inclusive).
        let newest = Date::from_calendar_date(year - i32::try_from(age).expect("small"), time::Month::January, 1).expect("a date");
        let window = u64::from(time::util::days_in_year(newest.year() - 1));
        let per_day = (SEQUENCES_PER_SEX - self.block - 1) / self.blocks + 1; // j = block + k·blocks < 500
        for step in 0..window {
            let back = (offset + step) % window;
            let birth = newest - Duration::days(i64::try_from(back).expect("small"));
            let day = usize::try_from((birth - self.first_birth).whole_days()).expect("within the window");
            let slot = (county * self.days + day) * 2 + usize::from(male);
            let k = u32::from(self.used[slot]);
            if k < per_day {
                self.used[slot] += 1;
                let j = self.block + k * self.blocks;
                let sequence = u16::try_from(j * 2 + u32::from(male)).expect("below 1000");
                return NationalId::from_parts(city.counties[county], birth, sequence).expect("a valid date and sequence");
            }
        }
        unreachable!("a block has at least {} slots per day for at most {} persons", per_day, city.config.block_persons)
    }
}

/// The persons of block `index`, into `out` (cleared first).
pub(crate) fn generate_block(city: &City, index: u32, out: &mut Vec<Person>) {
    out.clear();
    let config = city.config;
    let range = config.block_range(index);
    let mut rng = SplitMix64::derived(config.seed, purpose::BLOCK, u64::from(index));
    let mut slots = IdSlots::new(config.year, index, config.blocks());
    let previous_year = config.year - 1;
    let covered_since = Date::from_calendar_date(previous_year, time::Month::January, 1).expect("a date");
    let mut sketches = Vec::with_capacity(HOUSEHOLD_LIMIT);
    let county_weights = COUNTIES.map(|c| c.households_pm);
    let mut serial = 0u64;
    let mut next = range.start;
    while next < range.end {
        serial += 1;
        let household = u64::from(index) * 1_000_000 + serial;
        let county = rng.weighted(&county_weights);
        let urban = rng.chance_bp(COUNTIES[county].urban_pm * 10);
        let r = usize::from(!urban);
        let weights = if urban { &HOUSEHOLD_SIZE_URBAN_PM } else { &HOUSEHOLD_SIZE_RURAL_PM };
        let size = (1 + rng.weighted(weights)).min(usize::try_from(range.end - next).unwrap_or(HOUSEHOLD_LIMIT));
        compose(&mut rng, size, !urban, &mut sketches);
        // Household-wide: assistance status (granted to a household) and rural
        // supplementary insurance (enrolled by household).
        let group = if rng.chance_bp(ASSISTED_HOUSEHOLD_BP[r]) {
            Some(
                [AssistanceGroup::Dibao, AssistanceGroup::LowIncome, AssistanceGroup::ImpoverishedByIllness]
                    [rng.weighted(&ASSISTANCE_GROUP_BP)],
            )
        } else if size == 1 && sketches[0].age >= 65 && rng.chance_bp(DESTITUTE_SINGLE_ELDERLY_BP[r]) {
            Some(AssistanceGroup::Destitute)
        } else {
            None
        };
        let supplementary = !urban && rng.chance_bp(SUPPLEMENTARY_RURAL_BP);
        for (member, s) in sketches.iter().enumerate() {
            let window = u64::from(time::util::days_in_year(config.year - 1 - i32::try_from(s.age).expect("small")));
            let id = slots.take(city, county, s.age, s.male, rng.below(window));
            let age = u32::try_from(s.age).expect("0 to 95");
            let retirement = RETIREMENT_AGE[usize::from(s.male)];
            let employee = match age {
                ..18 => false,
                18..23 => rng.chance_bp(EMPLOYEE_BP_YOUNG[r]),
                a if a < retirement => rng.chance_bp(EMPLOYEE_BP_WORKING[r]),
                _ => rng.chance_bp(EMPLOYEE_BP_RETIRED[r]),
            };
            let mut chronic = 0u8;
            let band = age_band(age);
            for (bit, (_, _, per_mille)) in CHRONIC.iter().enumerate() {
                if per_mille[band] > 0 && rng.chance_bp(per_mille[band] * 10) {
                    chronic |= 1 << bit;
                }
            }
            let coverage_from = id.birth_date().max(covered_since);
            let mut person = Person {
                index: next,
                id,
                household,
                county: u8::try_from(county).expect("three counties"),
                urban,
                age: u8::try_from(age).expect("0 to 95"),
                male: s.male,
                scheme: Scheme::Resident,
                category: PersonCategory::Resident,
                tier: tier(4),
                tier_change: None,
                group: None,
                supplementary: false,
                maternity: false,
                chronic,
                wage_monthly: Fen::ZERO,
                account_opening: Fen::ZERO,
                use_account: false,
                coverage_from,
            };
            let allowed: &[usize] = if employee {
                person.scheme = Scheme::Employee;
                person.category = if age >= retirement { PersonCategory::Retired } else { PersonCategory::Employed };
                person.tier = tier(1 + rng.weighted(&EMPLOYEE_TIER_BP));
                person.maternity = person.category == PersonCategory::Employed;
                let (low, high) = ACCOUNT_OPENING_YUAN[usize::from(person.category == PersonCategory::Retired)];
                person.account_opening = Fen::new(rng.range(low * 100, high * 100));
                person.use_account = rng.chance_bp(USE_ACCOUNT_BP);
                if person.category == PersonCategory::Employed {
                    let average = AVERAGE_WAGE_MONTHLY[county] as f64;
                    let wage = rng.lognormal(average, WAGE_SIGMA).clamp(0.3 * average, 6.0 * average);
                    // Whole yuan, rounded once.
                    person.wage_monthly = Fen::yuan(wage.round() as i64);
                }
                &[1, 2]
            } else {
                let weights = if (18..60).contains(&age) { &RESIDENT_TIER_ADULT_BP } else { &RESIDENT_TIER_OTHER_BP };
                person.tier = tier(1 + rng.weighted(weights));
                person.supplementary = supplementary;
                // Illness impoverishes the one who is ill: here, the head of household.
                person.group = match group {
                    Some(AssistanceGroup::ImpoverishedByIllness) => (member == 0).then_some(AssistanceGroup::ImpoverishedByIllness),
                    other => other,
                };
                if person.group == Some(AssistanceGroup::ImpoverishedByIllness) && person.chronic == 0 {
                    // A serious chronic disease: heart failure, dialysis or cancer.
                    person.chronic = 1 << (2 + rng.below(3));
                }
                &[1, 2, 3, 4]
            };
            if coverage_from == covered_since && rng.chance_bp(TIER_CHANGE_BP[usize::from(!employee)]) {
                // Asked in the second half of the previous year.
                let day = covered_since + Duration::days(181 + rng.range(0, 182));
                let others: Vec<usize> = allowed.iter().copied().filter(|&t| t != usize::from(person.tier.get())).collect();
                let to = others[usize::try_from(rng.below(others.len() as u64)).expect("small")];
                person.tier_change = Some(TierChange { requested_on: day, tier: tier(to) });
            }
            out.push(person);
            next += 1;
        }
    }
    debug_assert_eq!(out.len() as u64, range.end - range.start);
}
