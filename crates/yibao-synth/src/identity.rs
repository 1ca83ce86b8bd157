//! Who the synthetic insured are to a clerk: household ids and addresses, names, and
//! social-security card numbers (社会保障卡). Drawn from streams of their own (seed,
//! identity, household or person number), so they change no other draw: the city's
//! persons, claims and simulated year are the same with or without them.

use yibao_domain::{HouseholdId, PersonName};

use crate::assumptions::COUNTIES;
use crate::city::City;
use crate::names::{
    CENTER_COMMUNITIES, CENTER_STREETS, CENTER_TOWNSHIPS, EAST_TOWNSHIPS, FEMALE_GIVEN, MALE_GIVEN, ROADS, SURNAMES, VILLAGES,
    WEST_TOWNSHIPS,
};
use crate::person::Person;
use crate::rng::{SplitMix64, purpose};

/// Townships of each county, in the order of [`COUNTIES`].
const TOWNSHIPS: [&[&str]; 3] = [CENTER_TOWNSHIPS, EAST_TOWNSHIPS, WEST_TOWNSHIPS];
/// First letter of each county's card numbers, in the order of [`COUNTIES`].
const CARD_PREFIX: [char; 3] = ['Z', 'D', 'X'];
/// Card numbers are the prefix and eight digits: this plus the person's number.
const CARD_SERIAL_BASE: u64 = 10_000_001;
/// Person streams are told apart from household streams by this bit of their index.
const PERSON_STREAM: u64 = 1 << 63;

/// A household as the register names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HouseholdIdentity {
    /// `HH-` + county + the household's number in the city, nine digits.
    pub household_id: HouseholdId,
    pub address: String,
    /// The family name its blood relatives share.
    pub surname: &'static str,
}

/// The household of `head` (the first member of a household, as a block lists it).
#[must_use]
pub fn household_identity(city: &City, head: &Person) -> HouseholdIdentity {
    let county = usize::from(head.county);
    let mut rng = SplitMix64::derived(city.config.seed, purpose::IDENTITY, head.household);
    let surname = surname(&mut rng);
    HouseholdIdentity {
        household_id: HouseholdId::parse(&format!("HH-{}-{:09}", COUNTIES[county].code, head.household))
            .expect("a county code and nine digits make a household id"),
        address: address(&mut rng, county, head.urban),
        surname,
    }
}

/// The name of `member`, the `position`-th member of the household of `head`: the family's
/// surname for the head and blood relatives; the spouse (the second member, near the
/// head's age and of the other sex) and the head's mother their own.
#[must_use]
pub fn person_name(city: &City, household: &HouseholdIdentity, head: &Person, member: &Person, position: usize) -> PersonName {
    let mut rng = SplitMix64::derived(city.config.seed, purpose::IDENTITY, PERSON_STREAM | member.index);
    let spouse = position == 1 && member.male != head.male && member.age.abs_diff(head.age) <= 12;
    let mother = position >= 2 && !member.male && member.age >= head.age.saturating_add(18);
    let family = if spouse || mother { surname(&mut rng) } else { household.surname };
    PersonName::parse(&format!("{family}{}", given_name(&mut rng, member.male, member.id.birth_date().year())))
        .expect("a surname and a given name make a name")
}

/// The person's social-security card number: the county's letter and eight digits, unique
/// in the city (one number per person of the city).
#[must_use]
pub fn card_no(person: &Person) -> String {
    format!("{}{:08}", CARD_PREFIX[usize::from(person.county)], CARD_SERIAL_BASE + person.index)
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

fn address(rng: &mut SplitMix64, county: usize, urban: bool) -> String {
    let name = COUNTIES[county].name;
    let number = rng.range(1, 299);
    match (county == 0, urban) {
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
        (false, true) => format!("示范市{name}城关镇{}{}号", rng.pick(ROADS), number),
        (_, false) => format!("示范市{name}{}{}{}组{}号", rng.pick(TOWNSHIPS[county]), rng.pick(VILLAGES), rng.range(1, 12), number),
    }
}
