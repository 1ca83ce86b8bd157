//! Every share, frequency and cost the generator draws from, with its source: a SPEC
//! figure (`/work/shared/SPEC.md`, section "Scale" or "Other formulas"), a national
//! statistic, the demo city's own choices, or `assumption: why`.
//!
//! Shares are integers in basis points (bp, 10 000 = 100%) or per mille (‰); rates are
//! hundredths per person-year; money is whole yuan. The tests in `tests/shares.rs` draw
//! 100 000 insured and check each realised share and frequency against these values.

// ---------------------------------------------------------------------------------------
// Geography and households

/// One county of the demo city (`policies/demo-city.toml`, region 419900).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountyShape {
    pub code: &'static str,
    pub name: &'static str,
    /// Share of the city's households, ‰.
    pub households_pm: u32,
    /// Households in town rather than in villages, ‰.
    pub urban_pm: u32,
}

/// The demo city's three counties and districts. Shares and urbanisation
/// (40/32/28%, 90/20/15% urban): assumption, a city proper with two rural counties.
pub const COUNTIES: [CountyShape; 3] = [
    CountyShape { code: "419902", name: "中心区", households_pm: 400, urban_pm: 900 },
    CountyShape { code: "419921", name: "东县", households_pm: 320, urban_pm: 200 },
    CountyShape { code: "419922", name: "西县", households_pm: 280, urban_pm: 150 },
];

/// Designated retail pharmacies (定点零售药店): county (index into [`COUNTIES`]) and
/// name. They sell outpatient medicines only; the year's claims are at hospitals.
pub const PHARMACIES: [(usize, &str); 2] = [(0, "示范市百姓大药房（人民路店）"), (1, "东县济民大药房")];

/// The demo city itself (pooling region).
pub const CITY: &str = "419900";
/// Its province (Henan), whose finance pays the provincial share of resident subsidies.
pub const PROVINCE: &str = "410000";

/// Household sizes 1 to 6 in town, ‰. Assumption: the 2020 census average of 2.62
/// persons per household, smaller in town (mean here 2.50).
pub const HOUSEHOLD_SIZE_URBAN_PM: [u32; 6] = [250, 300, 250, 130, 45, 25];
/// Household sizes 1 to 6 in villages, ‰. Assumption: larger rural households with more
/// three-generation homes (mean here 3.08).
pub const HOUSEHOLD_SIZE_RURAL_PM: [u32; 6] = [150, 260, 210, 190, 120, 70];
/// A household of 3 or more is three-generational (head, spouse, adult child and
/// family), ‰; households of 5 and 6 always are. Assumption.
pub const STEM_HOUSEHOLD_PM: [u32; 2] = [150, 400]; // [urban, rural]
/// A single-person household is an elderly person (60 to 95), ‰. Assumption: most
/// single-person households are elderly, more so in villages.
pub const SINGLE_ELDERLY_PM: [u32; 2] = [400, 500]; // [urban, rural]
/// The head of household is a man, ‰. Assumption.
pub const HEAD_MALE_PM: [u32; 2] = [600, 750];
/// A child is a boy, ‰. Assumption: China's sex ratio at birth, about 111 boys per 100
/// girls in the 2010s (≈ 526‰).
pub const BOY_PM: u32 = 526;
/// Oldest age drawn.
pub const MAX_AGE: i64 = 95;

/// Age bands used by the frequencies below: 0–4, 5–17, 18–44, 45–59, 60–74, 75+.
pub const AGE_BANDS: [(u32, u32); 6] = [(0, 4), (5, 17), (18, 44), (45, 59), (60, 74), (75, 200)];

/// The band of an age.
#[must_use]
pub fn age_band(age: u32) -> usize {
    AGE_BANDS.iter().position(|&(low, high)| (low..=high).contains(&age)).unwrap_or(AGE_BANDS.len() - 1)
}

/// The 2020 census age structure, the target the household composition is tuned to:
/// 0–14 17.95%, 15–59 63.35%, 60+ 18.70% (第七次全国人口普查). The test accepts ±4
/// points: the age structure follows from households, it is not drawn directly.
pub const CENSUS_60_PLUS_BP: u32 = 1_870;
pub const CENSUS_0_14_BP: u32 = 1_795;
/// Men in the 2020 census: 51.24%.
pub const CENSUS_MALE_BP: u32 = 5_124;

// ---------------------------------------------------------------------------------------
// Schemes, categories, tiers, groups

/// Statutory retirement ages before the 2025 reform: men 60, women (cadres) 55.
/// Employees at or above it are retirees (退休人员). Assumption: 55 for all women.
pub const RETIREMENT_AGE: [u32; 2] = [55, 60]; // [female, male]

/// Probability that a person is insured as an employee (城镇职工) rather than a resident,
/// bp, by [urban, rural] and age group. Assumption, tuned so that about 29% of the insured
/// are employees and about one in five employees is retired (nationally 2023: 371 of
/// 1 334 million insured were employees, 28%).
pub const EMPLOYEE_BP_YOUNG: [u32; 2] = [800, 200]; // ages 18–22
pub const EMPLOYEE_BP_WORKING: [u32; 2] = [6_000, 2_000]; // 23 to retirement age
pub const EMPLOYEE_BP_RETIRED: [u32; 2] = [5_500, 1_000]; // retirement age and over

/// Employees' tiers 1 and 2, bp: employers take tier 1, certified hardship employers tier 2
/// (Ziyang model, R-ENR-3). Assumption: 12% of employees in hardship firms.
pub const EMPLOYEE_TIER_BP: [u32; 2] = [8_800, 1_200];
/// Residents' tiers 1 to 4 for working-age adults (18–59), bp. Assumption:
/// most choose tier 3 or 4 (R-ENR-3).
pub const RESIDENT_TIER_ADULT_BP: [u32; 4] = [1_000, 2_000, 4_000, 3_000];
/// Residents' tiers for minors and the elderly, bp: "normally tier 3 or 4" (R-ENR-3, ZY §四(一)2).
pub const RESIDENT_TIER_OTHER_BP: [u32; 4] = [300, 700, 4_500, 4_500];
/// Persons who asked for a tier change in the second half of the previous year, bp
/// (R-ENR-4). Assumption: 1.5% of employees, 4% of residents.
pub const TIER_CHANGE_BP: [u32; 2] = [150, 400]; // [employee, resident]

/// Resident households in an assistance group (低保, low-income, impoverished by illness),
/// bp, [urban, rural]. Assumption: 低保 covered about 40 million people (≈3%) in the
/// early 2020s, more in villages.
pub const ASSISTED_HOUSEHOLD_BP: [u32; 2] = [250, 550];
/// Of those households: 低保, low-income (低保边缘), impoverished by illness (head only), bp.
/// Assumption.
pub const ASSISTANCE_GROUP_BP: [u32; 3] = [5_000, 3_500, 1_500];
/// A resident living alone aged 65 or more is destitute (特困供养), bp, [urban, rural].
/// Assumption: about 4.7 million destitute persons nationally, most
/// of them rural elderly without family.
pub const DESTITUTE_SINGLE_ELDERLY_BP: [u32; 2] = [1_200, 3_000];
/// Rural resident households enrolled in supplementary insurance, bp (R-FIN-3, ZZ-NCMS
/// §三(五)). Assumption: 60%.
pub const SUPPLEMENTARY_RURAL_BP: u32 = 6_000;

/// Certified chronic and special outpatient diseases (门诊慢特病), with the claim
/// diagnosis used for each, and prevalence of certification in ‰ by age band
/// (0–4, 5–17, 18–44, 45–59, 60–74, 75+). Certification needs complications, so it is far
/// below the prevalence of the disease. Assumption (hypertension 8% at
/// 45–59 and 18% from 60, diabetes 4%/9%, heart failure 1.5% from 65, dialysis 0.3% and
/// cancer 0.6% from 40, schizophrenia 0.3% of adults).
pub const CHRONIC: [(&str, &str, [u32; 6]); 6] = [
    ("I10", "I10.x00", [0, 0, 0, 80, 180, 180]),
    ("E11", "E11.900", [0, 0, 0, 40, 90, 90]),
    ("I50", "I50.900", [0, 0, 0, 0, 10, 25]),
    ("N18", "N18.500", [0, 0, 1, 3, 3, 3]),
    ("C", "C50.900", [0, 0, 2, 6, 6, 6]),
    ("F20", "F20.900", [0, 0, 3, 3, 3, 3]),
];

// ---------------------------------------------------------------------------------------
// Money of persons

/// Average monthly wage the employees' wages are drawn around, yuan: the demo pack's
/// `employee.average_wage_monthly` for 2025 (6 450; 西县 5 850).
pub const AVERAGE_WAGE_MONTHLY: [i64; 3] = [6_450, 6_450, 5_850];
/// Log-scale σ of wages: assumption, a right-skewed wage distribution (the mean is the
/// average wage; the median about 10% below it).
pub const WAGE_SIGMA: f64 = 0.45;
/// Personal-account balance on 1 January, yuan, [employed, retired] ranges. Assumption
///.
pub const ACCOUNT_OPENING_YUAN: [(i64, i64); 2] = [(200, 12_000), (800, 25_000)];
/// Employees who chose to pay their share from the personal account first, bp.
/// Assumption.
pub const USE_ACCOUNT_BP: u32 = 7_500;

// ---------------------------------------------------------------------------------------
// Care: frequencies

/// General-outpatient visits per person-year by age band, hundredths. SPEC "Scale": 6.8
/// outpatient visits per person per year, chronic visits included; chronic visits add
/// about 1 per person-year here, so these average about 5.7. The age profile is an
/// assumption: young children and the elderly visit most.
pub const VISITS_PER_YEAR_CENTI: [u32; 6] = [700, 350, 400, 600, 900, 1_000];
/// Ordinary admissions per 1 000 person-years by age band (childbirth excluded). SPEC
/// "Scale": about 21 admissions per 100 people a year; this profile gives about 19.5 with
/// this age structure, births and the chronic patients' extra admissions the rest. Age
/// profile: assumption.
pub const ADMISSIONS_PER_1000: [u32; 6] = [180, 50, 110, 180, 360, 550];
/// Certified chronic patients are admitted this much more often, percent. Assumption.
pub const CHRONIC_ADMISSION_FACTOR_PCT: u32 = 150;
/// Log-scale σ of a person's frailty for outpatient visits and for admissions: the
/// counts are Poisson given the frailty, over-dispersed overall (a few people use much
/// of the care). Assumption.
pub const VISIT_FRAILTY_SIGMA: f64 = 0.8;
pub const ADMISSION_FRAILTY_SIGMA: f64 = 0.6;
/// A certified chronic patient's claim in a given month, bp (monthly refills, sometimes
/// missed). Assumption.
pub const CHRONIC_MONTHLY_BP: u32 = 9_000;
/// Month weights of outpatient visits and admissions (January to December), a winter
/// peak of respiratory illness. Assumption.
pub const MONTH_WEIGHTS: [u32; 12] = [115, 105, 100, 95, 90, 90, 95, 95, 95, 100, 105, 115];

/// Births per 1 000 women a year by age 20–24, 25–29, 30–34, 35–39, 40–44: assumption, a
/// total fertility rate of about 1.1 (the order of recent national estimates), which with
/// this age structure gives about 7 births per 1 000 insured (national 2023: 6.39‰).
pub const BIRTHS_PER_1000_WOMEN: [(u32, u32, u32); 5] = [(20, 24, 35), (25, 29, 85), (30, 34, 65), (35, 39, 25), (40, 44, 5)];
/// Caesarean or difficult deliveries, bp. Assumption: about 40%, the order reported for
/// China in recent years.
pub const DIFFICULT_DELIVERY_BP: u32 = 4_000;
/// Twin deliveries, bp. Assumption.
pub const TWINS_BP: u32 = 150;
/// Miscarriage claims per delivery among maternity-insured women, bp, [before four
/// months, four months or later]. Assumption.
pub const MISCARRIAGE_BP: [u32; 2] = [800, 200];

/// Institution level of a general-outpatient visit, bp (primary, secondary, tertiary),
/// [urban, rural]. Assumption: about half of visits in primary care (小病到基层, R-BEN-5),
/// more in villages.
pub const VISIT_LEVEL_BP: [[u32; 3]; 2] = [[5_000, 3_000, 2_000], [6_500, 2_500, 1_000]];
/// Institution level of an admission, bp, [resident, employee]. Assumption: employees go
/// to tertiary hospitals more; calibrated with the costs below to SPEC's averages.
pub const ADMISSION_LEVEL_BP: [[u32; 3]; 2] = [[3_000, 4_000, 3_000], [1_000, 3_000, 6_000]];
/// Admissions out of the city (异地就医, R-BEN-6), bp. Assumption.
pub const OUT_OF_AREA_BP: u32 = 400;
/// An out-of-area admission is referred or an emergency, bp. Assumption.
pub const OUT_OF_AREA_REFERRED_BP: u32 = 7_000;
/// An in-area admission to a secondary or tertiary hospital comes with a referral (转诊),
/// bp. Assumption: most patients go directly.
pub const REFERRAL_BP: u32 = 4_000;
/// Emergency admissions, bp. Assumption.
pub const EMERGENCY_BP: u32 = 1_000;

// ---------------------------------------------------------------------------------------
// Care: costs

/// Mean total bill of an admission by level (primary, secondary, tertiary), yuan.
/// Calibrated to SPEC "Scale": about 7 700 yuan per admission for residents with the level
/// shares above (0.3·2 500 + 0.4·6 500 + 0.3·14 000 = 7 550).
pub const ADMISSION_MEAN_YUAN: [u32; 3] = [2_500, 6_500, 14_000];
/// Employees' bills are larger at every level, percent: with their level shares this
/// gives SPEC's 12 200 yuan per employee admission (10 600 × 1.15 ≈ 12 190).
pub const EMPLOYEE_COST_FACTOR_PCT: u32 = 115;
/// Log-scale σ of an admission's bill: heavy-tailed (log-normal), the top 1% of
/// admissions above about 6 times the mean. Assumption.
pub const ADMISSION_COST_SIGMA: f64 = 0.9;
/// Largest admission bill drawn, yuan (far below the engine's 100 million limit).
pub const ADMISSION_COST_MAX_YUAN: u32 = 3_000_000;
/// Mean bill of a delivery, yuan, [normal, caesarean or difficult], σ 0.3. Assumption.
pub const DELIVERY_MEAN_YUAN: [u32; 2] = [4_000, 8_000];
pub const DELIVERY_COST_SIGMA: f64 = 0.3;
/// Mean bill of a miscarriage, yuan, [early, late]. Assumption.
pub const MISCARRIAGE_MEAN_YUAN: [u32; 2] = [1_200, 3_000];

// ---------------------------------------------------------------------------------------
// Designated institutions

/// Insured persons per designated institution of each level (primary, secondary,
/// tertiary), at least one of each per county (a tertiary hospital at least in the city
/// proper). Assumption from national counts: about 3 500 tertiary hospitals (one per
/// 400 000 people), 11 000 secondary (one per 125 000) and 70 000 township and community
/// health centres (one per 20 000).
pub const INSURED_PER_INSTITUTION: [u64; 3] = [20_000, 125_000, 400_000];
/// Out-of-area hospitals (the province's capital), tertiary: assumption.
pub const OUT_OF_AREA_HOSPITALS: [(&str, &str); 4] = [
    ("410105", "省人民医院（异地）"),
    ("410105", "省肿瘤医院（异地）"),
    ("410102", "省骨科医院（异地）"),
    ("410103", "省儿童医院（异地）"),
];

// ---------------------------------------------------------------------------------------
// Limits: memory is bounded by these

/// Persons per block: the unit of generation, of parallel work and of the output files.
/// A worker holds one block's persons (and, when writing files, its claims) at a time.
pub const BLOCK_PERSONS: u32 = 131_072;
/// General-outpatient visits one person may have in a year: assumption, about one every
/// three days (the frailty tail is cut here).
pub const MAX_VISITS_PER_YEAR: u32 = 120;
/// Admissions one person may have in a year.
pub const MAX_ADMISSIONS_PER_YEAR: u32 = 24;
/// Claims one person may have in a year: visits, admissions, twelve chronic claims for
/// each of the six diseases, and a delivery with a miscarriage.
pub const MAX_CLAIMS_PER_PERSON: usize = (MAX_VISITS_PER_YEAR + MAX_ADMISSIONS_PER_YEAR) as usize + 12 * CHRONIC.len() + 2;
/// Lines one synthetic claim may have.
pub const MAX_LINES_PER_CLAIM: usize = 24;
/// Fewest and most insured of a synthetic city.
pub const MIN_INSURED: u64 = 1_000;
pub const MAX_INSURED: u64 = 13_000_000;

// ---------------------------------------------------------------------------------------
// Paying contributions (used when a city is loaded into a store; the simulated year's
// books count every contribution as paid in full)

/// Residents who pay the year's personal part in full, ‰. Assumption: collection rates of
/// about 95% reported by many cities, a few points lower in a demo with visible arrears.
pub const RESIDENT_PAID_IN_FULL_PM: u32 = 900;
/// Residents who pay part of it (a fifth to four fifths, in whole yuan), ‰; the rest pay
/// nothing and are in arrears.
pub const RESIDENT_PAID_IN_PART_PM: u32 = 60;
/// Employers that paid nothing for an employee in work this year, ‰. Assumption.
pub const EMPLOYER_UNPAID_PM: u32 = 30;
/// Insured persons in hospital on any given day, ‰ (the inpatient stays open at a legacy
/// extract's cut-off). Assumption: about one admission for every five insured a year,
/// staying about eight days, puts some 4‰ of them in a bed on a given day.
pub const IN_HOSPITAL_PM: u32 = 4;
/// The longest an open stay has lasted at the cut-off, days. Assumption.
pub const OPEN_STAY_DAYS_MAX: u64 = 14;
