//! A person's year of care: general-outpatient visits, chronic outpatient claims,
//! admissions, deliveries and miscarriages, as compact [`ClaimEvent`]s in settlement order,
//! and each event turned into the engine's [`Claim`] with lines from the demo pack's
//! catalogue (`policies/demo-city.toml`), so that every claim settles under it.
//!
//! A person's year is drawn from the stream (seed, person number) and an event's lines
//! from its own salt, so any person's claims can be drawn alone and any claim rebuilt
//! alone.

use std::fmt::Write as _;

use time::{Date, Duration, Month};
use yibao_domain::{ClaimKind, DeliveryKind, Fen, InstitutionLevel, ItemCode, PersonCategory, Scheme};
use yibao_engine::{Claim, ClaimLine, Delivery, Quantity};

use crate::assumptions::{
    ADMISSION_COST_MAX_YUAN, ADMISSION_COST_SIGMA, ADMISSION_FRAILTY_SIGMA, ADMISSION_LEVEL_BP, ADMISSION_MEAN_YUAN, ADMISSIONS_PER_1000,
    BIRTHS_PER_1000_WOMEN, CHRONIC, CHRONIC_ADMISSION_FACTOR_PCT, CHRONIC_MONTHLY_BP, DELIVERY_COST_SIGMA, DELIVERY_MEAN_YUAN,
    DIFFICULT_DELIVERY_BP, EMERGENCY_BP, EMPLOYEE_COST_FACTOR_PCT, MAX_ADMISSIONS_PER_YEAR, MAX_CLAIMS_PER_PERSON, MAX_LINES_PER_CLAIM,
    MAX_VISITS_PER_YEAR, MISCARRIAGE_BP, MISCARRIAGE_MEAN_YUAN, MONTH_WEIGHTS, OUT_OF_AREA_BP, OUT_OF_AREA_REFERRED_BP, REFERRAL_BP,
    TWINS_BP, VISIT_FRAILTY_SIGMA, VISIT_LEVEL_BP, VISITS_PER_YEAR_CENTI, age_band,
};
use crate::city::City;
use crate::person::Person;
use crate::rng::{SplitMix64, purpose};

/// One claim of a person's year, compact: enough to rebuild the engine's claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimEvent {
    /// The person's number in the city.
    pub person: u64,
    /// The claim's number in the person's year, from 1, in settlement order.
    pub seq: u16,
    pub kind: ClaimKind,
    pub admission: Date,
    /// The day the claim is settled (the visit's day, or discharge).
    pub discharge: Date,
    /// Index into [`City::institutions`].
    pub institution: u32,
    /// Main diagnosis, ICD-10.
    pub diagnosis: &'static str,
    pub referral: bool,
    pub emergency: bool,
    pub delivery: Option<(DeliveryKind, u8)>,
    /// The bill an admission's lines are built towards, in fen (zero for outpatient claims).
    pub target_fen: i64,
    /// Seeds the claim's lines.
    pub salt: u64,
}

/// The catalogue items the synthetic claims use, all in the demo pack's catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum It {
    Consult,
    Bed,
    SpecialBed,
    BloodCount,
    Alt,
    Ecg,
    Ct,
    Mri,
    Dialysis,
    Acupuncture,
    Captopril,
    Amlodipine,
    Nifedipine,
    Metoprolol,
    Furosemide,
    Spironolactone,
    Isosorbide,
    Atorvastatin,
    Clopidogrel,
    Metformin,
    Glimepiride,
    Insulin,
    Glargine,
    Amoxicillin,
    Cefuroxime,
    Ceftriaxone,
    Omeprazole,
    OmeprazoleInjection,
    Risperidone,
    Erythropoietin,
    Trastuzumab,
    GanmaoQingre,
    Danshen,
    Liuwei,
    Lianhua,
    Xuesaitong,
    Shenmai,
    Ejiao,
    Syringe,
    Stent,
    Hip,
    Stapler,
    Suture,
}

const ITEM_CODES: [&str; 43] = [
    "001102000010000",
    "001109000010000",
    "001109000040000",
    "002501010150200",
    "002503050040000",
    "003107010010000",
    "002103000010000",
    "002104000010000",
    "003110000060000",
    "004100000010000",
    "XC09AAB013A001010101445",
    "XC08CAA074A001010102085",
    "XC08CAX025A010010101977",
    "XC07ABM083A010010101356",
    "XC03CAF028A001010100330",
    "XC03DAL079A001010100214",
    "XC01DAX030A001010100652",
    "XC10AAA152A001010200736",
    "XB01ACL058A001010101723",
    "XA10BAE010A001010100315",
    "XA10BBG052A001010201232",
    "XA10ABC167B002010100487",
    "XA10AES107B002010102931",
    "XJ01CAA040E001010100163",
    "XJ01DCT041A001010300571",
    "XJ01DDT045B001010101288",
    "XA02BCA211E001010100924",
    "XA02BCA211B001010101611",
    "XN05AXL064A001010100548",
    "XB03XAC041B002010102209",
    "XL01XCQ065B001010100981",
    "ZA01BAG0120010100357",
    "ZA12BAF0311010103214",
    "ZA09FAL0166010100822",
    "ZA01CAL0349010101766",
    "ZA12EAX0471010201542",
    "ZA10BAS0202010102658",
    "ZA09CAE0018010100093",
    "C0301010000100000101",
    "C0201060810100000207",
    "C0301060720000000135",
    "C03060400200000011230000451",
    "C1402031180000000482",
];

/// The item codes, parsed once.
#[derive(Debug)]
pub(crate) struct Items {
    codes: [ItemCode; ITEM_CODES.len()],
}

impl Items {
    pub(crate) fn new() -> Items {
        Items { codes: ITEM_CODES.map(|code| ItemCode::parse(code).expect("a constant catalogue code is valid")) }
    }
}

/// The catalogue codes synthetic claims use.
#[must_use]
pub fn item_codes() -> &'static [&'static str] {
    &ITEM_CODES
}

/// Outpatient diagnosis groups, which decide the drugs prescribed.
#[derive(Clone, Copy)]
enum Group {
    Respiratory,
    Digestive,
    Pain,
    Cardio,
    Metabolic,
    Infection,
    Other,
}

/// General-outpatient diagnoses with weights; `adult` ones are not drawn for minors.
const OUTPATIENT_DX: [(&str, Group, u32, bool); 11] = [
    ("J06.900", Group::Respiratory, 25, false),
    ("J20.900", Group::Respiratory, 10, false),
    ("K29.700", Group::Digestive, 10, false),
    ("K52.900", Group::Digestive, 6, false),
    ("M54.500", Group::Pain, 8, true),
    ("I10.x00", Group::Cardio, 12, true),
    ("E11.900", Group::Metabolic, 6, true),
    ("L30.900", Group::Other, 5, false),
    ("R51.x00", Group::Other, 5, false),
    ("N39.000", Group::Infection, 4, false),
    ("H10.900", Group::Other, 3, false),
];

/// What an admission may need beyond beds, tests and drugs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    Stent,
    Hip,
    Stapler,
}

/// The main procedure (ICD-9-CM-3 医保版) an inpatient diagnosis's bill implies: the stent's
/// PCI, the hip's replacement, the stapler's laparoscopic cholecystectomy or lobectomy;
/// `None` for a stay treated without one (the payment year's DIP groups read it).
#[must_use]
pub(crate) fn main_procedure(diagnosis: &str) -> Option<&'static str> {
    let extra = INPATIENT_DX.iter().find(|(code, _, _)| *code == diagnosis).map(|(_, _, extra)| extra)?;
    match (extra, &diagnosis[..3]) {
        (Extra::Stent, _) => Some("36.0601"),
        (Extra::Hip, _) => Some("81.5100"),
        (Extra::Stapler, "K80") => Some("51.2300"),
        (Extra::Stapler, _) => Some("32.4100"),
        (Extra::None, _) => None,
    }
}

/// Inpatient diagnoses with weights by age band (0–4, 5–17, 18–44, 45–59, 60–74, 75+).
const INPATIENT_DX: [(&str, [u32; 6], Extra); 11] = [
    ("J18.900", [50, 30, 15, 10, 15, 20], Extra::None),
    ("A09.900", [30, 20, 5, 2, 2, 2], Extra::None),
    ("K35.800", [0, 25, 15, 5, 2, 1], Extra::None),
    ("I25.100", [0, 0, 5, 20, 20, 15], Extra::Stent),
    ("I63.900", [0, 0, 3, 15, 20, 20], Extra::None),
    ("J44.100", [0, 0, 0, 5, 15, 20], Extra::None),
    ("K80.100", [0, 0, 12, 12, 8, 5], Extra::Stapler),
    ("S72.000", [0, 0, 2, 3, 8, 15], Extra::Hip),
    ("N20.000", [0, 0, 10, 10, 5, 2], Extra::None),
    ("C34.900", [0, 0, 2, 8, 10, 8], Extra::Stapler),
    ("S06.000", [20, 25, 15, 8, 5, 5], Extra::None),
];

/// Average bill per inpatient day by level, yuan: sets the length of stay from the bill.
/// Assumption: mean stays of about 5, 8 and 12 days.
const PER_DAY_YUAN: [f64; 3] = [500.0, 800.0, 1_200.0];
/// Longest stay drawn, days.
const STAY_DAYS_MAX: i64 = 60;

fn random_day(rng: &mut SplitMix64, year: i32) -> Date {
    let month = Month::try_from(u8::try_from(1 + rng.weighted(&MONTH_WEIGHTS)).expect("1 to 12")).expect("a month");
    let days = time::util::days_in_month(month, year);
    let day = u8::try_from(1 + rng.below(u64::from(days))).expect("1 to 31");
    Date::from_calendar_date(year, month, day).expect("a day of the month")
}

/// A stay of `days` days inside the year, admission drawn with the seasonal weights.
fn random_stay(rng: &mut SplitMix64, year: i32, days: i64, last: Date) -> (Date, Date) {
    for _ in 0..16 {
        let admission = random_day(rng, year);
        if admission + Duration::days(days) <= last {
            return (admission, admission + Duration::days(days));
        }
    }
    (last - Duration::days(days), last)
}

/// The synthetic city's levels, in the order of its per-level tables (it registers its
/// health centres as primary).
fn level_of(index: usize) -> InstitutionLevel {
    [InstitutionLevel::Primary, InstitutionLevel::Secondary, InstitutionLevel::Tertiary][index]
}

impl City {
    /// The claims of `person`'s year, in settlement order (by discharge date, then
    /// admission), numbered from 1, into `out` (cleared first). At most
    /// [`MAX_CLAIMS_PER_PERSON`].
    pub fn year_of(&self, person: &Person, out: &mut Vec<ClaimEvent>) {
        out.clear();
        let config = &self.config;
        let year = config.year;
        let last = config.last_day();
        let mut rng = SplitMix64::derived(config.seed, purpose::PERSON_YEAR, person.index);
        let county = usize::from(person.county);
        let age = u32::from(person.age);
        let band = age_band(age);
        let event = |kind, admission, discharge, institution, diagnosis, salt| ClaimEvent {
            person: person.index,
            seq: 0,
            kind,
            admission,
            discharge,
            institution,
            diagnosis,
            referral: false,
            emergency: false,
            delivery: None,
            target_fen: 0,
            salt,
        };

        // General outpatient visits: Poisson given the person's frailty.
        let frailty = rng.frailty(VISIT_FRAILTY_SIGMA);
        let visits = rng.poisson(f64::from(VISITS_PER_YEAR_CENTI[band]) / 100.0 * frailty, MAX_VISITS_PER_YEAR);
        let dx_weights: [u32; OUTPATIENT_DX.len()] = OUTPATIENT_DX.map(|(_, _, w, adult)| if adult && age < 18 { 0 } else { w });
        for _ in 0..visits {
            let day = random_day(&mut rng, year);
            let level = level_of(rng.weighted(&VISIT_LEVEL_BP[usize::from(!person.urban)]));
            let institution = self.pick_institution(&mut rng, county, level);
            let diagnosis = OUTPATIENT_DX[rng.weighted(&dx_weights)].0;
            let salt = rng.next_u64();
            out.push(event(ClaimKind::GeneralOutpatient, day, day, institution, diagnosis, salt));
        }

        // Chronic outpatient claims: about monthly, for each certified disease.
        for (bit, (code, diagnosis, _)) in CHRONIC.iter().enumerate() {
            if person.chronic & (1 << bit) == 0 {
                continue;
            }
            let heavy = matches!(*code, "N18" | "C");
            for month in 1..=12u8 {
                if !rng.chance_bp(CHRONIC_MONTHLY_BP) {
                    continue;
                }
                let month = Month::try_from(month).expect("1 to 12");
                let day = Date::from_calendar_date(year, month, u8::try_from(1 + rng.below(28)).expect("1 to 28")).expect("a day");
                let level =
                    if heavy { level_of(1 + rng.weighted(&[5_000, 5_000])) } else { level_of(rng.weighted(&[5_000, 3_500, 1_500])) };
                let institution = self.pick_institution(&mut rng, county, level);
                let salt = rng.next_u64();
                out.push(event(ClaimKind::ChronicOutpatient, day, day, institution, diagnosis, salt));
            }
        }

        // Admissions.
        let employee = person.scheme == Scheme::Employee;
        let mut per_1000 = f64::from(ADMISSIONS_PER_1000[band]);
        if person.chronic != 0 {
            per_1000 *= f64::from(CHRONIC_ADMISSION_FACTOR_PCT) / 100.0;
        }
        let frailty = rng.frailty(ADMISSION_FRAILTY_SIGMA);
        let admissions = rng.poisson(per_1000 / 1000.0 * frailty, MAX_ADMISSIONS_PER_YEAR);
        let dx_weights: [u32; INPATIENT_DX.len()] = INPATIENT_DX.map(|(_, w, _)| w[band]);
        for _ in 0..admissions {
            let out_of_area = rng.chance_bp(OUT_OF_AREA_BP);
            let level_index = if out_of_area { 2 } else { rng.weighted(&ADMISSION_LEVEL_BP[usize::from(employee)]) };
            let level = level_of(level_index);
            let institution = if out_of_area { self.pick_out_of_area(&mut rng) } else { self.pick_institution(&mut rng, county, level) };
            let mut mean = f64::from(ADMISSION_MEAN_YUAN[level_index]);
            if employee {
                mean *= f64::from(EMPLOYEE_COST_FACTOR_PCT) / 100.0;
            }
            let yuan = rng.lognormal(mean, ADMISSION_COST_SIGMA).clamp(200.0, f64::from(ADMISSION_COST_MAX_YUAN));
            let stay = ((yuan / PER_DAY_YUAN[level_index]).round() as i64).clamp(1, STAY_DAYS_MAX);
            let (admission, discharge) = random_stay(&mut rng, year, stay, last);
            let diagnosis = INPATIENT_DX[rng.weighted(&dx_weights)].0;
            let (referral, emergency) = if out_of_area {
                let covered = rng.chance_bp(OUT_OF_AREA_REFERRED_BP);
                (covered, false)
            } else {
                let emergency = rng.chance_bp(EMERGENCY_BP);
                (level != InstitutionLevel::Primary && !emergency && rng.chance_bp(REFERRAL_BP), emergency)
            };
            let salt = rng.next_u64();
            let mut claim = event(ClaimKind::Inpatient, admission, discharge, institution, diagnosis, salt);
            claim.referral = referral;
            claim.emergency = emergency;
            claim.target_fen = (yuan * 100.0).round() as i64;
            out.push(claim);
        }

        // Births (women 20–44) and, for the maternity-insured, miscarriages.
        if !person.male
            && let Some(&(_, _, per_1000)) = BIRTHS_PER_1000_WOMEN.iter().find(|(low, high, _)| (*low..=*high).contains(&age))
        {
            if rng.below(1_000_000) < u64::from(per_1000) * 1_000 {
                let difficult = rng.chance_bp(DIFFICULT_DELIVERY_BP);
                let babies = if rng.chance_bp(TWINS_BP) { 2 } else { 1 };
                let yuan = rng.lognormal(f64::from(DELIVERY_MEAN_YUAN[usize::from(difficult)]), DELIVERY_COST_SIGMA);
                let stay = if difficult { 6 } else { 3 };
                let (admission, discharge) = random_stay(&mut rng, year, stay, last);
                let level = level_of(rng.weighted(&[2_000, 5_000, 3_000]));
                let institution = self.pick_institution(&mut rng, county, level);
                let salt = rng.next_u64();
                let kind = if person.maternity { ClaimKind::Maternity } else { ClaimKind::Inpatient };
                let diagnosis = if difficult { "O82.000" } else { "O80.000" };
                let mut claim = event(kind, admission, discharge, institution, diagnosis, salt);
                if kind == ClaimKind::Maternity {
                    claim.delivery = Some((if difficult { DeliveryKind::Difficult } else { DeliveryKind::Normal }, babies));
                }
                claim.target_fen = (yuan * 100.0).round() as i64;
                out.push(claim);
            }
            if person.maternity {
                let draw = rng.below(10_000_000);
                let early = u64::from(per_1000) * u64::from(MISCARRIAGE_BP[0]);
                let late = u64::from(per_1000) * u64::from(MISCARRIAGE_BP[1]);
                if draw < early + late {
                    let (kind, mean, diagnosis, stay) = if draw < early {
                        (DeliveryKind::MiscarriageEarly, MISCARRIAGE_MEAN_YUAN[0], "O03.900", 1)
                    } else {
                        (DeliveryKind::MiscarriageLate, MISCARRIAGE_MEAN_YUAN[1], "O03.400", 3)
                    };
                    let yuan = rng.lognormal(f64::from(mean), DELIVERY_COST_SIGMA);
                    let (admission, discharge) = random_stay(&mut rng, year, stay, last);
                    let institution = self.pick_institution(&mut rng, county, InstitutionLevel::Secondary);
                    let salt = rng.next_u64();
                    let mut claim = event(ClaimKind::Maternity, admission, discharge, institution, diagnosis, salt);
                    claim.delivery = Some((kind, 1));
                    claim.target_fen = (yuan * 100.0).round() as i64;
                    out.push(claim);
                }
            }
        }

        out.sort_by_key(|e| (e.discharge, e.admission, e.salt));
        out.truncate(MAX_CLAIMS_PER_PERSON);
        for (n, e) in out.iter_mut().enumerate() {
            e.seq = u16::try_from(n + 1).expect("at most MAX_CLAIMS_PER_PERSON");
        }
    }

    /// The engine's claim for `event` of `person`, written into `claim` (its buffers reused:
    /// no allocation once they have grown).
    pub fn fill_claim(&self, person: &Person, event: &ClaimEvent, claim: &mut Claim) {
        let institution = &self.institutions[event.institution as usize];
        claim.claim_id.clear();
        let _ = write!(claim.claim_id, "C{}-{:08}-{:03}", self.config.year, event.person, event.seq);
        claim.institution_code.clear();
        claim.institution_code.push_str(&institution.code);
        claim.institution_level = institution.level;
        claim.place = institution.place;
        claim.kind = event.kind;
        claim.admission_date = event.admission;
        claim.discharge_date = event.discharge;
        claim.diagnosis.clear();
        claim.diagnosis.push_str(event.diagnosis);
        claim.referral = event.referral;
        claim.emergency = event.emergency;
        claim.referred_deductible_paid = Fen::ZERO;
        claim.delivery = event.delivery.map(|(kind, babies)| Delivery {
            kind,
            babies,
            employer_average_wage_monthly: (person.category == PersonCategory::Employed && person.wage_monthly > Fen::ZERO)
                .then_some(person.wage_monthly),
            // The synthetic city grants the statutory days.
            leave_days: None,
        });
        claim.lines.clear();
        let mut lines = Lines { out: &mut claim.lines, items: &self.items, total_fen: 0 };
        let mut rng = SplitMix64::derived(self.config.seed, purpose::CLAIM_LINES, event.salt);
        let level = institution.level as usize;
        match event.kind {
            ClaimKind::GeneralOutpatient | ClaimKind::PharmacyPurchase => outpatient_lines(&mut rng, &mut lines, level, event.diagnosis),
            ClaimKind::ChronicOutpatient | ClaimKind::TwoDisease | ClaimKind::SpecialDrug => {
                chronic_lines(&mut rng, &mut lines, level, event.diagnosis);
            }
            ClaimKind::Inpatient | ClaimKind::SingleDisease | ClaimKind::DaySurgery | ClaimKind::Maternity => {
                inpatient_lines(&mut rng, &mut lines, level, event);
            }
        }
    }

    /// A new claim for `event` of `person`.
    #[must_use]
    pub fn claim(&self, person: &Person, event: &ClaimEvent) -> Claim {
        let mut claim = Claim {
            claim_id: String::new(),
            institution_code: String::new(),
            institution_level: InstitutionLevel::Primary,
            place: yibao_domain::Place::InArea,
            kind: event.kind,
            admission_date: event.admission,
            discharge_date: event.discharge,
            diagnosis: String::new(),
            referral: false,
            emergency: false,
            referred_deductible_paid: Fen::ZERO,
            procedure: None,
            physician: None,
            delivery: None,
            lines: Vec::with_capacity(MAX_LINES_PER_CLAIM),
        };
        self.fill_claim(person, event, &mut claim);
        claim
    }
}

/// Lines being written, with their running total in fen.
struct Lines<'a> {
    out: &'a mut Vec<ClaimLine>,
    items: &'a Items,
    total_fen: i64,
}

impl Lines<'_> {
    /// A line of `milli` thousandths at `price_fen` a unit; nothing for a zero quantity or
    /// past [`MAX_LINES_PER_CLAIM`].
    fn add(&mut self, item: It, milli: u64, price_fen: i64, approved: bool) {
        if milli == 0 || self.out.len() >= MAX_LINES_PER_CLAIM {
            return;
        }
        let milli = u32::try_from(milli.min(1_000_000_000)).expect("at most the engine's quantity limit");
        self.out.push(ClaimLine {
            code: self.items.codes[item as usize],
            quantity: Quantity::from_milli(milli),
            unit_price: Fen::new(price_fen),
            approved,
        });
        // The engine rounds each line once; half-up here is close enough for targeting.
        self.total_fen += (i64::from(milli) * price_fen + 500) / 1000;
    }

    fn units(&mut self, item: It, units: u64, price_yuan: i64) {
        self.add(item, units * 1000, price_yuan * 100, false);
    }

    /// Enough whole units of `item` at `price_fen` to add about `amount_fen` (nothing below
    /// half a unit).
    fn amount(&mut self, item: It, amount_fen: i64, price_fen: i64, approved: bool) {
        let units = (amount_fen + price_fen / 2) / price_fen;
        if units > 0 {
            self.add(item, u64::try_from(units).unwrap_or(0) * 1000, price_fen, approved);
        }
    }
}

/// A consultation, one to three drugs for the diagnosis, sometimes a test; more and
/// larger prescriptions at higher levels. Prices and shares here are assumptions, set so
/// that a visit's bill averages about 60, 190 and 280 yuan at primary, secondary and
/// tertiary level (the order of China's published averages per outpatient visit).
fn outpatient_lines(rng: &mut SplitMix64, lines: &mut Lines<'_>, level: usize, diagnosis: &str) {
    // Consultation at the capped price; an expert's consultation costs more (over the cap).
    let cap = [6, 8, 10][level];
    let fee = if level > 0 && rng.chance_bp(2_000) { [6, 15, 25][level] } else { cap };
    lines.units(It::Consult, 1, fee);
    let group = OUTPATIENT_DX.iter().find(|d| d.0 == diagnosis).map_or(Group::Other, |d| d.1);
    let drugs: &[(It, i64)] = match group {
        Group::Respiratory => &[(It::GanmaoQingre, 18), (It::Lianhua, 28), (It::Amoxicillin, 12), (It::Cefuroxime, 25)],
        Group::Digestive => &[(It::Omeprazole, 15), (It::Amoxicillin, 12), (It::Liuwei, 22)],
        Group::Pain => &[(It::Acupuncture, 30), (It::Xuesaitong, 32), (It::Danshen, 25)],
        Group::Cardio => &[(It::Amlodipine, 20), (It::Captopril, 8), (It::Danshen, 25), (It::Atorvastatin, 35)],
        Group::Metabolic => &[(It::Metformin, 10), (It::Glimepiride, 35), (It::Liuwei, 22)],
        Group::Infection => &[(It::Amoxicillin, 12), (It::Cefuroxime, 25)],
        Group::Other => &[(It::Liuwei, 22), (It::Omeprazole, 15), (It::GanmaoQingre, 18)],
    };
    let count = if level == 0 { 1 + rng.below(2) } else { 2 + rng.below(2) };
    let first = rng.below(drugs.len() as u64) as usize;
    for n in 0..count as usize {
        let (item, price) = drugs[(first + n) % drugs.len()];
        lines.units(item, (1 + rng.below(2)) * [1, 2, 3][level], price);
    }
    if rng.chance_bp(3_000) {
        lines.units(It::BloodCount, 1, 25);
    }
    if level > 0 && rng.chance_bp(2_000) {
        lines.units(It::Alt, 1, 8);
    }
    if matches!(group, Group::Cardio) && rng.chance_bp(5_000) {
        lines.units(It::Ecg, 1, 20);
    }
    if level > 0 && rng.chance_bp([0, 800, 1_200][level]) {
        lines.units(It::Ct, 1, [160, 180, 200][level]);
    }
    if rng.chance_bp(300) {
        lines.units(It::Ejiao, 1, 80);
    }
}

/// A month of treatment for a certified disease. Assumption: about 100 yuan for
/// hypertension, heart failure or schizophrenia, 270 for diabetes, 3 000 for cancer (half
/// of the months on trastuzumab) and 5 500 for dialysis, so that the pack's annual limits
/// bind for dialysis and cancer.
fn chronic_lines(rng: &mut SplitMix64, lines: &mut Lines<'_>, level: usize, diagnosis: &str) {
    lines.units(It::Consult, 1, [6, 8, 10][level]);
    match &diagnosis[..3] {
        "I10" => {
            lines.units(It::Amlodipine, 2 + rng.below(2), 20);
            lines.units(It::Nifedipine, rng.below(3), 15);
            lines.units(It::Metoprolol, rng.below(3), 30);
        }
        "E11" => {
            lines.units(It::Metformin, 3, 10);
            lines.units(It::Glimepiride, rng.below(3), 35);
            // Insulin glargine, sometimes above its procurement cap of 72.50.
            lines.add(It::Glargine, (1 + rng.below(3)) * 1000, if rng.chance_bp(3_000) { 8_600 } else { 7_250 }, false);
            lines.units(It::Insulin, rng.below(3), 40);
        }
        "N18" => {
            // Haemodialysis three times a week; erythropoietin for renal anaemia (approved).
            lines.units(It::Dialysis, 12 + rng.below(2), 400);
            lines.add(It::Erythropoietin, (4 + rng.below(5)) * 1000, 8_000, true);
            lines.units(It::BloodCount, 2, 25);
        }
        "C50" => {
            if rng.chance_bp(5_000) {
                // Trastuzumab (HER2-positive), at or above the negotiated price.
                lines.add(It::Trastuzumab, 1000, if rng.chance_bp(2_000) { 650_000 } else { 550_000 }, true);
            } else {
                lines.units(It::Omeprazole, 2, 15);
                lines.units(It::Ct, 1, [160, 180, 200][level]);
            }
            lines.units(It::BloodCount, 1, 25);
            lines.units(It::Alt, 1, 8);
        }
        "F20" => lines.units(It::Risperidone, 2 + rng.below(3), 30),
        _ => {
            lines.units(It::Furosemide, 2, 5);
            lines.units(It::Spironolactone, 2, 8);
            lines.units(It::Metoprolol, 1, 30);
            lines.units(It::Isosorbide, 1, 10);
        }
    }
}

/// Beds, tests, drugs and consumables for a stay, built towards the drawn bill: beds at
/// the level's price cap (a fifth above it), tests, an implant for the diagnoses that need
/// one, restricted injections mostly approved, and the rest of the bill as class-A and
/// class-B drugs and consumables. Shares and prices are assumptions.
fn inpatient_lines(rng: &mut SplitMix64, lines: &mut Lines<'_>, level: usize, event: &ClaimEvent) {
    let stay = u64::try_from((event.discharge - event.admission).whole_days().max(1)).unwrap_or(1);
    let bed = [25, 35, 50][level];
    lines.units(It::Bed, stay, if rng.chance_bp(2_000) { bed + bed / 5 } else { bed });
    if rng.chance_bp(500) {
        lines.units(It::SpecialBed, stay.min(5), 200);
    }
    lines.units(It::BloodCount, 1 + stay / 3, 25);
    lines.units(It::Alt, 1 + stay / 3, 8);
    lines.units(It::Ecg, 1, 20);
    if rng.chance_bp(6_000) {
        lines.units(It::Ct, 1 + rng.below(2), [160, 180, 200][level]);
    }
    if level > 0 && rng.chance_bp(1_500) {
        lines.units(It::Mri, 1, [380, 400, 450][level]);
    }
    let extra = INPATIENT_DX.iter().find(|d| d.0 == event.diagnosis).map_or(Extra::None, |d| d.2);
    match extra {
        Extra::Stent if rng.chance_bp(7_000) => {
            lines.add(It::Stent, (1 + rng.below(2)) * 1000, if rng.chance_bp(3_000) { 100_000 } else { 80_000 }, false);
            lines.units(It::Clopidogrel, 1 + rng.below(2), 28);
            lines.units(It::Atorvastatin, 1, 35);
        }
        Extra::Hip if rng.chance_bp(7_000) => {
            lines.add(It::Hip, 1000, if rng.chance_bp(3_000) { 850_000 } else { 700_000 }, false);
        }
        Extra::Stapler if rng.chance_bp(6_000) => {
            lines.add(It::Stapler, 1000, if rng.chance_bp(2_000) { 180_000 } else { 150_000 }, false);
        }
        _ => {}
    }
    if rng.chance_bp(2_000) {
        lines.units(It::Suture, 1, 300);
    }
    // Restricted injections: approved most of the time.
    if rng.chance_bp(2_000) {
        lines.add(It::Shenmai, stay * 1000, 3_500, rng.chance_bp(7_000));
    }
    lines.units(It::Syringe, 4 * stay, 1);
    // The rest of the bill: treatment drugs (class A and class B) and consumables.
    let rest = event.target_fen - lines.total_fen;
    if rest > 0 {
        lines.amount(It::Ceftriaxone, rest * 5 / 10, 1_500, false);
        lines.amount(It::OmeprazoleInjection, rest * 3 / 10, 2_000, rng.chance_bp(8_000));
        lines.amount(It::Syringe, rest * 2 / 10, 100, false);
    }
}
