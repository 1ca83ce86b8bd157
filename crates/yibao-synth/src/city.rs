//! The synthetic city: its configuration, counties and designated institutions, and how
//! its insured are cut into blocks.

use time::Date;
use yibao_domain::{InstitutionLevel, Place, RegionCode};

use crate::assumptions::{BLOCK_PERSONS, COUNTIES, INSURED_PER_INSTITUTION, MAX_INSURED, MIN_INSURED, OUT_OF_AREA_HOSPITALS, PHARMACIES};
use crate::claims::Items;
use crate::rng::SplitMix64;

/// The year simulated when none is given: the demo pack's latest values are dated 2025.
pub const DEFAULT_YEAR: i32 = 2025;
/// Most blocks a city may have: the national ID's 500 sequence numbers per birth date,
/// county and sex are shared out between blocks, at least two each.
pub const BLOCKS_LIMIT: u64 = 250;

/// What decides a synthetic city: the same configuration gives the same city, person for
/// person and claim for claim, on every machine and with any number of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Insured persons, [`MIN_INSURED`] to [`MAX_INSURED`].
    pub insured: u64,
    pub seed: u64,
    /// The calendar year of the claims; persons' ages are counted on its 1 January.
    pub year: i32,
    /// Persons per block ([`BLOCK_PERSONS`] unless a test wants smaller blocks). Part of
    /// the city's identity: another block size draws another city.
    pub block_persons: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("a synthetic city has {MIN_INSURED} to {MAX_INSURED} insured, not {0}")]
    Insured(u64),
    #[error("the year {0} is outside 2000 to 2100")]
    Year(i32),
    #[error("{blocks} blocks of {block_persons} persons: a city has at most {BLOCKS_LIMIT} blocks (use larger blocks)")]
    Blocks { blocks: u64, block_persons: u32 },
}

impl Config {
    /// `insured` persons drawn from `seed`, for [`DEFAULT_YEAR`], in blocks of [`BLOCK_PERSONS`].
    #[must_use]
    pub const fn new(insured: u64, seed: u64) -> Config {
        Config { insured, seed, year: DEFAULT_YEAR, block_persons: BLOCK_PERSONS }
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        if !(MIN_INSURED..=MAX_INSURED).contains(&self.insured) {
            return Err(ConfigError::Insured(self.insured));
        }
        if !(2000..=2100).contains(&self.year) {
            return Err(ConfigError::Year(self.year));
        }
        let blocks = if self.block_persons == 0 { u64::MAX } else { self.insured.div_ceil(u64::from(self.block_persons)) };
        if blocks > BLOCKS_LIMIT {
            return Err(ConfigError::Blocks { blocks, block_persons: self.block_persons });
        }
        Ok(())
    }

    /// Number of blocks.
    #[must_use]
    pub fn blocks(&self) -> u32 {
        u32::try_from(self.insured.div_ceil(u64::from(self.block_persons))).expect("checked: at most BLOCKS_LIMIT")
    }

    /// The persons of block `index`: `start..end` of the city's person numbers.
    #[must_use]
    pub fn block_range(&self, index: u32) -> std::ops::Range<u64> {
        let start = u64::from(index) * u64::from(self.block_persons);
        start.min(self.insured)..(start + u64::from(self.block_persons)).min(self.insured)
    }

    /// 1 January of the year.
    #[must_use]
    pub fn first_day(&self) -> Date {
        Date::from_calendar_date(self.year, time::Month::January, 1).expect("checked year")
    }

    /// 31 December of the year.
    #[must_use]
    pub fn last_day(&self) -> Date {
        Date::from_calendar_date(self.year, time::Month::December, 31).expect("checked year")
    }
}

/// A designated hospital of the city, one out of the city where its insured are treated,
/// or a designated pharmacy of the city (its code begins with `P`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Institution {
    /// `H` (hospital) or `P` (pharmacy) + region + serial, e.g. `H41990200001`.
    pub code: String,
    pub name: String,
    pub region: RegionCode,
    pub level: InstitutionLevel,
    pub place: Place,
}

/// The city: configuration, counties, institutions and the catalogue codes its claims use.
#[derive(Debug)]
pub struct City {
    pub config: Config,
    pub counties: [RegionCode; 3],
    pub city: RegionCode,
    pub institutions: Vec<Institution>,
    /// Institutions by county and level (in-area only).
    pub(crate) by_county_level: [[Vec<u32>; 3]; 3],
    /// Out-of-area hospitals.
    pub(crate) out_of_area: Vec<u32>,
    pub(crate) items: Items,
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("a constant region code is valid")
}

impl City {
    pub fn new(config: Config) -> Result<City, ConfigError> {
        config.check()?;
        let counties = COUNTIES.map(|c| region(c.code));
        let mut institutions = Vec::new();
        let mut serials = [0u32; 3];
        let mut by_county_level: [[Vec<u32>; 3]; 3] = Default::default();
        // Tertiary first (most in the city proper), then secondary, then primary; each level
        // shared over the counties in proportion to their households.
        for level in [InstitutionLevel::Tertiary, InstitutionLevel::Secondary, InstitutionLevel::Primary] {
            let per = INSURED_PER_INSTITUTION[level as usize];
            let total = (config.insured / per).max(1);
            let weights: [u64; 3] =
                if level == InstitutionLevel::Tertiary { [600, 200, 200] } else { COUNTIES.map(|c| u64::from(c.households_pm)) };
            let mut before = 0u64;
            let mut running = 0u64;
            for (county, weight) in weights.iter().enumerate() {
                running += weight;
                let upto = (total * running + 500) / 1000;
                let mut count = upto - before;
                before = upto;
                // Every county has primary and secondary care; the city proper a tertiary hospital.
                if count == 0 && (level != InstitutionLevel::Tertiary || county == 0) {
                    count = 1;
                }
                for _ in 0..count {
                    serials[county] += 1;
                    let n = serials[county];
                    let shape = COUNTIES[county];
                    let ordinal = by_county_level[county][level as usize].len() + 1;
                    let name = match (level, county) {
                        (InstitutionLevel::Tertiary, 0) => format!("示范市第{ordinal}人民医院"),
                        (InstitutionLevel::Tertiary, _) => format!("{}中心医院{}", shape.name, ordinal_suffix(ordinal)),
                        (InstitutionLevel::Secondary, _) => match ordinal {
                            1 => format!("{}人民医院", shape.name),
                            2 => format!("{}中医院", shape.name),
                            _ => format!("{}第{ordinal}医院", shape.name),
                        },
                        (InstitutionLevel::Primary | InstitutionLevel::Township, 0) => format!("中心区第{ordinal}社区卫生服务中心"),
                        (InstitutionLevel::Primary | InstitutionLevel::Township, _) => format!("{}第{ordinal}乡镇卫生院", shape.name),
                    };
                    by_county_level[county][level as usize].push(u32::try_from(institutions.len()).expect("few institutions"));
                    institutions.push(Institution {
                        code: format!("H{}{n:05}", shape.code),
                        name,
                        region: counties[county],
                        level,
                        place: Place::InArea,
                    });
                }
            }
        }
        let mut out_of_area = Vec::new();
        for (serial, (code, name)) in OUT_OF_AREA_HOSPITALS.iter().enumerate() {
            out_of_area.push(u32::try_from(institutions.len()).expect("few institutions"));
            institutions.push(Institution {
                code: format!("H{code}{:05}", serial + 1),
                name: (*name).to_owned(),
                region: region(code),
                level: InstitutionLevel::Tertiary,
                place: Place::of(region(crate::assumptions::CITY), region(code)),
            });
        }
        let mut pharmacy_serials = [0u32; 3];
        for (county, name) in PHARMACIES {
            pharmacy_serials[county] += 1;
            institutions.push(Institution {
                code: format!("P{}{:05}", COUNTIES[county].code, pharmacy_serials[county]),
                name: name.to_owned(),
                region: counties[county],
                level: InstitutionLevel::Primary,
                place: Place::InArea,
            });
        }
        Ok(City {
            config,
            counties,
            city: region(crate::assumptions::CITY),
            institutions,
            by_county_level,
            out_of_area,
            items: Items::new(),
        })
    }

    /// An in-area institution of `level` for a patient of `county`: one of the county's own,
    /// or, when it has none of that level (a tertiary hospital), one of the city proper's.
    pub(crate) fn pick_institution(&self, rng: &mut SplitMix64, county: usize, level: InstitutionLevel) -> u32 {
        let own = &self.by_county_level[county][level as usize];
        // Patients from the counties go to the city proper's tertiary hospitals too.
        let list = if own.is_empty() || (level == InstitutionLevel::Tertiary && county != 0 && rng.chance_bp(5_000)) {
            &self.by_county_level[0][level as usize]
        } else {
            own
        };
        list[usize::try_from(rng.below(list.len() as u64)).expect("small")]
    }

    pub(crate) fn pick_out_of_area(&self, rng: &mut SplitMix64) -> u32 {
        self.out_of_area[usize::try_from(rng.below(self.out_of_area.len() as u64)).expect("small")]
    }
}

fn ordinal_suffix(n: usize) -> String {
    if n == 1 { String::new() } else { format!("（{n}）") }
}
