//! The payment pack (支付方式政策包): how a city pays its designated institutions, year by
//! year, every figure cited. Read from TOML by [`PaymentPack::parse`], which reports every
//! problem of a file in one pass (like the policy pack's loader) and refuses unknown fields,
//! uncited sections, overlapping groups or rates, bands out of order and values out of
//! range. The format is documented in `docs/payment-packs.md`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use yibao_domain::{Fen, InstitutionLevel, PersonCategory, RatioBp, RegionCode, Rounding, is_diagnosis_code, is_procedure_code};
use yibao_policy::Source;

use crate::points::{Coefficient, PointValue, Points};

/// Most groups one year's DIP table may hold (national DIP catalogues list about 12,000
/// core groups; a city's table is smaller).
pub const GROUPS_LIMIT: usize = 50_000;
/// Most years one pack holds.
pub const YEARS_LIMIT: usize = 50;
/// Most prior years a base-point average weighs.
pub const WEIGHT_YEARS_LIMIT: usize = 5;
/// Most per-diem rates and clearing bands a year holds.
pub const RATES_LIMIT: usize = 1_000;
pub const BANDS_LIMIT: usize = 10;
/// Largest money value the pack may hold: 100 million yuan (far above any case's average
/// cost or any rate).
const PACK_MONEY_LIMIT: Fen = Fen::new(10_000_000_000);
/// Largest per-day or per-person rate: 100,000 yuan.
const RATE_LIMIT: Fen = Fen::new(10_000_000);
/// Most points one group may be worth.
const GROUP_POINTS_LIMIT: Points = Points::whole(1_000_000);

/// A whole payment pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentPack {
    pub id: String,
    pub name: String,
    pub region: RegionCode,
    pub rounding: Rounding,
    pub sources: Vec<Source>,
    /// One entry per payment year, in order.
    pub years: Vec<PaymentYear>,
}

/// The terms of one payment year (支付年度): budgets, point values and clearings are yearly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentYear {
    pub year: i32,
    /// The share of the year's fund income held back from the budget (风险调剂金), 以收定支.
    pub risk_reserve: RatioBp,
    /// The share of a month's amount advanced to the institution (月度预付比例).
    pub advance_ratio: RatioBp,
    /// The share of each advance withheld as a quality deposit (质量保证金), returned at
    /// the year-end by the institution's assessment score.
    pub quality_deposit: RatioBp,
    pub cite: String,
    pub dip: Option<DipTable>,
    pub per_diem: Vec<PerDiemRate>,
    pub capitation: Option<Capitation>,
    pub clearing: Clearing,
    /// The penalty points that suspend or end an insurance physician's right to bill.
    pub physicians: Option<PhysicianPoints>,
}

/// The thresholds of a physician's penalty points in a calendar year (医保支付资格记分).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhysicianPoints {
    /// The year's points at which the physician is suspended (for the months the officer gives).
    pub suspend_at: u8,
    /// The year's points at which the right to bill ends.
    pub terminate_at: u8,
    pub cite: String,
}

/// On what the year's point value is computed (结算点值).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueBasis {
    /// The fund's pool for the cases ÷ all points: a case pays `points × value` from the fund.
    Fund,
    /// The pool ÷ the cases' reimbursement ratio ÷ all points: a case is worth
    /// `points × value` in total cost, and the fund pays that less what the patient paid.
    TotalCost,
    /// A fixed rate per point (费率法): the fund pays `(points × rate − self-pay −
    /// deductible) × the patient's ratio`, floored at zero; no year-end point value.
    Rate(PointValue),
}

/// A bound on a case's cost ratio (the case's total cost ÷ its group's reference cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// In basis points of the reference: 50% is 5,000, 200% is 20,000.
    pub ratio_bp: u32,
    /// Whether a case exactly at the bound is on the outlier's side.
    pub inclusive: bool,
}

impl Bound {
    /// Whether `cost` is below the bound (at it counts when inclusive).
    #[must_use]
    pub fn below(self, cost: Fen, reference: Fen) -> bool {
        let (lhs, rhs) = (i128::from(cost.get()) * 10_000, i128::from(reference.get()) * i128::from(self.ratio_bp));
        lhs < rhs || (self.inclusive && lhs == rhs)
    }

    /// Whether `cost` is above the bound (at it counts when inclusive).
    #[must_use]
    pub fn above(self, cost: Fen, reference: Fen) -> bool {
        let (lhs, rhs) = (i128::from(cost.get()) * 10_000, i128::from(reference.get()) * i128::from(self.ratio_bp));
        lhs > rhs || (self.inclusive && lhs == rhs)
    }
}

/// Readmission (再入院): a stay begun within `days` of an earlier discharge of the same
/// person at the same institution counts the earlier stay's points at `earlier_share`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readmission {
    pub days: u32,
    pub earlier_share: RatioBp,
}

/// The year's DIP table (按病种分值付费): groups with base points, and the rules for cases
/// that do not fit them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DipTable {
    /// The point scale: base points = group average ÷ all cases' average × `scale` (1, 100
    /// or 1000).
    pub scale: u32,
    pub basis: ValueBasis,
    /// The value monthly advances are computed at, before the year's value is known.
    pub provisional_value: PointValue,
    /// The year's value is rounded to this many decimals of a yuan before it pays, where a
    /// city publishes a rounded value; `None`: exact.
    pub point_value_decimals: Option<u32>,
    /// Cost ratio below which a case is low-cost: points = ratio × base points.
    pub low_cost: Bound,
    /// Cost ratio above which a case is high-cost: points = (ratio − bound + 1) × base.
    pub high_cost: Bound,
    /// Cost ratio above which a case is taken out of the points and paid fee-for-service.
    pub fee_for_service_above: Option<Bound>,
    /// Stays shorter than this (days) are kept out of the points (paid fee-for-service).
    pub days_min: u32,
    /// Stays longer than this are kept out (paid per diem where a rate applies, else
    /// fee-for-service).
    pub days_max: Option<u32>,
    /// Whether an incomplete stay (left against advice, transferred, died: 未完成治疗) is
    /// capped at its group's base points.
    pub incomplete_capped: bool,
    pub readmission: Option<Readmission>,
    /// Hospital-grade coefficients (医疗机构等级系数) by level; a level not named is 1.
    pub grade_coefficients: BTreeMap<InstitutionLevel, Coefficient>,
    /// The region's weighted average cost of all cases (全部病例次均费用).
    pub all_cases_average: Fen,
    pub groups: Vec<DipGroup>,
    pub cite: String,
}

impl DipTable {
    /// The grade coefficient of `level`.
    #[must_use]
    pub fn coefficient(&self, level: InstitutionLevel) -> Coefficient {
        self.grade_coefficients.get(&level).copied().unwrap_or(Coefficient::ONE)
    }
}

/// One DIP group (病种组合): a main diagnosis (ICD-10 医保版, a code or its prefix) with a
/// main procedure (ICD-9-CM-3 医保版, a prefix) or without one (保守治疗: the cases of the
/// diagnosis whose procedure no group names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DipGroup {
    pub code: String,
    pub name: String,
    pub diagnosis: String,
    pub procedure: Option<String>,
    /// Base points (病种分值).
    pub points: Points,
    /// The group's weighted average cost (病种次均费用): the reference of the cost ratio.
    pub average: Fen,
    /// Exempt from the grade coefficient (基层病种: the same points at every level).
    pub exempt: bool,
}

/// A per-diem rate (床日付费): the fund pays `rate × days` for stays whose main diagnosis
/// starts with one of `diagnoses` (psychiatric, rehabilitation, long stays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerDiemRate {
    pub name: String,
    pub diagnoses: Vec<String>,
    pub level: Option<InstitutionLevel>,
    pub category: Option<PersonCategory>,
    pub rate: Fen,
    /// At most this multiple of the fund amount the stay's claim came to (what the
    /// institution advanced to the patient), in basis points; `None`: no cap.
    pub cap_bp: Option<u32>,
    pub cite: String,
}

impl PerDiemRate {
    fn rank(&self) -> u8 {
        u8::from(self.level.is_some()) * 2 + u8::from(self.category.is_some())
    }

    fn covers(&self, diagnosis: &str, level: InstitutionLevel, category: PersonCategory) -> bool {
        self.level.is_none_or(|l| l == level)
            && self.category.is_none_or(|c| c == category)
            && self.diagnoses.iter().any(|d| diagnosis.starts_with(d.as_str()))
    }
}

/// Capitation (按人头付费) for primary care: a yearly rate per person enrolled with the
/// institution, paid monthly, with a share held back until the year's assessment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capitation {
    pub rate: Fen,
    pub held_back: RatioBp,
    pub cite: String,
}

/// The year-end clearing (年终清算): 结余留用、合理超支分担.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clearing {
    /// Bands of a surplus (the institution billed less than its standard): the share of
    /// each band's part the institution keeps.
    pub surplus: Vec<ClearingBand>,
    /// Bands of an overspend (billed more than the standard): the share of each band's part
    /// the fund covers.
    pub overspend: Vec<ClearingBand>,
    /// At most this share of the standard is kept from a surplus.
    pub surplus_cap: Option<RatioBp>,
    /// At most this share of the standard is covered of an overspend.
    pub overspend_cap: Option<RatioBp>,
    pub cite: String,
}

/// One band of a clearing: the part of the deviation up to `up_to` of the standard (from
/// the previous band's bound), and the share applied to it. Progressive, like a tax scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClearingBand {
    pub up_to: RatioBp,
    pub share: RatioBp,
}

impl PaymentPack {
    /// The terms of `year`.
    #[must_use]
    pub fn year(&self, year: i32) -> Option<&PaymentYear> {
        self.years.iter().find(|y| y.year == year)
    }
}

impl PaymentYear {
    /// The per-diem rate for a stay, the most specific (level and category before level
    /// before category before neither); the loader refuses two equally specific rates that
    /// could both apply.
    #[must_use]
    pub fn per_diem_for(&self, diagnosis: &str, level: InstitutionLevel, category: PersonCategory) -> Option<&PerDiemRate> {
        self.per_diem.iter().filter(|r| r.covers(diagnosis, level, category)).max_by_key(|r| r.rank())
    }
}

/// What is wrong with a payment pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackError {
    /// `year 2025, dip group I21-36.06`, or `pack`.
    pub place: String,
    pub message: String,
    /// Stable machine code: `payment.syntax`, `payment.bad_value`, `payment.bad_citation`,
    /// `payment.overlap`, `payment.invalid`.
    pub code: &'static str,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.place, self.message, self.code)
    }
}

/// Every problem found in a payment pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackErrors(pub Vec<PackError>);

impl fmt::Display for PackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PackErrors {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    pack: RawHeader,
    #[serde(default)]
    source: Vec<RawSource>,
    #[serde(default)]
    year: Vec<RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: String,
    name: String,
    region: String,
    #[serde(default)]
    rounding: Option<Rounding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: String,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: i32,
    risk_reserve: String,
    advance_ratio: String,
    quality_deposit: String,
    cite: String,
    #[serde(default)]
    dip: Option<RawDip>,
    #[serde(default)]
    per_diem: Vec<RawPerDiem>,
    #[serde(default)]
    capitation: Option<RawCapitation>,
    clearing: RawClearing,
    #[serde(default)]
    physicians: Option<RawPhysicians>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhysicians {
    suspend_at: u8,
    terminate_at: u8,
    cite: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBound {
    ratio: String,
    #[serde(default)]
    inclusive: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReadmission {
    days: u32,
    earlier_share: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDip {
    scale: u32,
    basis: String,
    #[serde(default)]
    rate: Option<String>,
    provisional_value: String,
    #[serde(default)]
    point_value_decimals: Option<u32>,
    low_cost: RawBound,
    high_cost: RawBound,
    #[serde(default)]
    fee_for_service_above: Option<RawBound>,
    #[serde(default)]
    days_min: u32,
    #[serde(default)]
    days_max: Option<u32>,
    #[serde(default)]
    incomplete_capped: bool,
    #[serde(default)]
    readmission: Option<RawReadmission>,
    #[serde(default)]
    grade_coefficients: BTreeMap<String, String>,
    /// Weights of the prior years' averages, oldest first (e.g. [1, 2, 7]).
    year_weights: Vec<u32>,
    /// The region's average cost of all cases in each prior year, oldest first.
    all_cases_average: Vec<String>,
    cite: String,
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    code: String,
    name: String,
    diagnosis: String,
    #[serde(default)]
    procedure: Option<String>,
    /// The group's average cost in each prior year, oldest first; or `points`.
    #[serde(default)]
    average: Option<Vec<String>>,
    #[serde(default)]
    points: Option<String>,
    #[serde(default)]
    exempt: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerDiem {
    name: String,
    diagnoses: Vec<String>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    category: Option<String>,
    rate: String,
    #[serde(default)]
    cap: Option<String>,
    cite: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapitation {
    rate: String,
    held_back: String,
    cite: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    up_to: String,
    share: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClearing {
    surplus: Vec<RawBand>,
    overspend: Vec<RawBand>,
    #[serde(default)]
    surplus_cap: Option<String>,
    #[serde(default)]
    overspend_cap: Option<String>,
    cite: String,
}

/// Collects the problems of one file.
struct Errors(Vec<PackError>);

impl Errors {
    fn push(&mut self, place: &str, code: &'static str, message: impl Into<String>) {
        self.0.push(PackError { place: place.to_owned(), message: message.into(), code });
    }

    fn bad(&mut self, place: &str, message: impl Into<String>) {
        self.push(place, "payment.bad_value", message);
    }

    fn cite(&mut self, place: &str, cite: &str, sources: &[Source]) {
        if let Err(message) = yibao_policy::check_cite(cite, sources) {
            self.push(place, "payment.bad_citation", message);
        }
    }

    fn ratio(&mut self, place: &str, what: &str, text: &str) -> RatioBp {
        RatioBp::parse_percent(text).unwrap_or_else(|e| {
            self.bad(place, format!("{what}: {e}"));
            RatioBp::ZERO
        })
    }

    fn money(&mut self, place: &str, what: &str, text: &str) -> Fen {
        match Fen::parse_yuan(text) {
            Ok(fen) if fen.is_negative() => {
                self.bad(place, format!("{what}: money may not be negative: {text}"));
                Fen::ZERO
            }
            Ok(fen) if fen > PACK_MONEY_LIMIT => {
                self.bad(place, format!("{what}: {text} yuan is beyond the largest amount a payment pack holds"));
                Fen::ZERO
            }
            Ok(fen) => fen,
            Err(e) => {
                self.bad(place, format!("{what}: {e}"));
                Fen::ZERO
            }
        }
    }

    fn multiple(&mut self, place: &str, what: &str, text: &str) -> u32 {
        parse_multiple_bp(text).unwrap_or_else(|message| {
            self.bad(place, format!("{what}: {message}"));
            0
        })
    }

    fn bound(&mut self, place: &str, what: &str, raw: &RawBound) -> Bound {
        Bound { ratio_bp: self.multiple(place, what, &raw.ratio), inclusive: raw.inclusive }
    }
}

/// A percentage that may exceed 100% (at most 10,000%), in basis points: `"200%"`.
fn parse_multiple_bp(text: &str) -> Result<u32, String> {
    let bad = || format!("'{text}' is not a percentage such as \"200%\"");
    let number = text.trim().strip_suffix('%').ok_or_else(bad)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 5 || fraction.len() > 2 || !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    let bp = whole.parse::<u32>().map_err(|_| bad())? * 100 + format!("{fraction:0<2}").parse::<u32>().map_err(|_| bad())?;
    if bp > 1_000_000 {
        return Err(format!("'{text}' is above 10000%"));
    }
    Ok(bp)
}

impl PaymentPack {
    /// Reads a payment pack, refusing it with every problem found.
    pub fn parse(text: &str) -> Result<PaymentPack, PackErrors> {
        let raw: RawPack = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let place = if line > 0 { format!("line {line}") } else { "file".into() };
            PackErrors(vec![PackError { place, message: e.message().to_owned(), code: "payment.syntax" }])
        })?;
        let mut errors = Errors(Vec::new());
        let region = RegionCode::parse(&raw.pack.region).unwrap_or_else(|e| {
            errors.bad("pack", format!("region: {e}"));
            RegionCode::parse("419900").expect("a valid code")
        });
        if raw.pack.id.trim().is_empty() || raw.pack.name.trim().is_empty() {
            errors.push("pack", "payment.invalid", "a pack has an id and a name");
        }
        let mut sources: Vec<Source> = Vec::new();
        for source in raw.source {
            if source.id.trim().is_empty() || source.title.trim().is_empty() {
                errors.push("source", "payment.invalid", "a source has an id and a title");
            } else if sources.iter().any(|s| s.id == source.id) {
                errors.push(&format!("source {}", source.id), "payment.invalid", "declared twice");
            } else {
                sources.push(Source { id: source.id, title: source.title });
            }
        }
        if raw.year.is_empty() || raw.year.len() > YEARS_LIMIT {
            errors.push("pack", "payment.invalid", format!("a pack gives 1 to {YEARS_LIMIT} payment years"));
        }
        let rounding = raw.pack.rounding.unwrap_or_default();
        let mut years: Vec<PaymentYear> = Vec::new();
        for year in raw.year {
            let place = format!("year {}", year.year);
            if !(1990..=2100).contains(&year.year) {
                errors.bad(&place, "a payment year is between 1990 and 2100");
            }
            if years.last().is_some_and(|last| last.year >= year.year) {
                errors.push(&place, "payment.overlap", "payment years are given once each, in order");
            }
            errors.cite(&place, &year.cite, &sources);
            let parsed = PaymentYear {
                year: year.year,
                risk_reserve: errors.ratio(&place, "risk_reserve", &year.risk_reserve),
                advance_ratio: errors.ratio(&place, "advance_ratio", &year.advance_ratio),
                quality_deposit: errors.ratio(&place, "quality_deposit", &year.quality_deposit),
                cite: year.cite,
                dip: year.dip.map(|dip| parse_dip(&mut errors, &place, dip, &sources, rounding)),
                per_diem: parse_per_diem(&mut errors, &place, year.per_diem, &sources),
                capitation: year.capitation.map(|c| {
                    let place = format!("{place}, capitation");
                    errors.cite(&place, &c.cite, &sources);
                    let rate = errors.money(&place, "rate", &c.rate);
                    if rate > RATE_LIMIT {
                        errors.bad(&place, format!("rate: at most {RATE_LIMIT} yuan a person"));
                    }
                    Capitation { rate, held_back: errors.ratio(&place, "held_back", &c.held_back), cite: c.cite }
                }),
                clearing: parse_clearing(&mut errors, &place, year.clearing, &sources),
                physicians: year.physicians.map(|p| {
                    let place = format!("{place}, physicians");
                    errors.cite(&place, &p.cite, &sources);
                    if p.suspend_at == 0 || p.suspend_at >= p.terminate_at || p.terminate_at > 100 {
                        errors.bad(&place, "0 < suspend_at < terminate_at ≤ 100 points");
                    }
                    PhysicianPoints { suspend_at: p.suspend_at, terminate_at: p.terminate_at, cite: p.cite }
                }),
            };
            years.push(parsed);
        }
        if errors.0.is_empty() {
            Ok(PaymentPack { id: raw.pack.id, name: raw.pack.name, region, rounding, sources, years })
        } else {
            Err(PackErrors(errors.0))
        }
    }
}

fn parse_dip(errors: &mut Errors, year: &str, raw: RawDip, sources: &[Source], rounding: Rounding) -> DipTable {
    let place = format!("{year}, dip");
    errors.cite(&place, &raw.cite, sources);
    if ![1, 10, 100, 1_000, 10_000].contains(&raw.scale) {
        errors.bad(&place, format!("scale {} is not 1, 10, 100, 1000 or 10000", raw.scale));
    }
    let basis = match (raw.basis.as_str(), &raw.rate) {
        ("fund", None) => ValueBasis::Fund,
        ("total-cost", None) => ValueBasis::TotalCost,
        ("rate", Some(rate)) => ValueBasis::Rate(PointValue::parse_yuan(rate).unwrap_or_else(|e| {
            errors.bad(&place, format!("rate: {e}"));
            PointValue { numerator: 1, denominator: 1 }
        })),
        ("rate", None) => {
            errors.bad(&place, "basis \"rate\" needs `rate`, yuan per point");
            ValueBasis::Fund
        }
        ("fund" | "total-cost", Some(_)) => {
            errors.bad(&place, "`rate` is given only with basis \"rate\"");
            ValueBasis::Fund
        }
        (other, _) => {
            errors.bad(&place, format!("basis '{other}' is not \"fund\", \"total-cost\" or \"rate\""));
            ValueBasis::Fund
        }
    };
    let provisional_value = PointValue::parse_yuan(&raw.provisional_value).unwrap_or_else(|e| {
        errors.bad(&place, format!("provisional_value: {e}"));
        PointValue { numerator: 1, denominator: 1 }
    });
    let value_limit_e6 = crate::points::POINT_VALUE_LIMIT_YUAN * 1_000_000;
    for (what, value) in
        [("provisional_value", Some(provisional_value)), ("rate", if let ValueBasis::Rate(r) = basis { Some(r) } else { None })]
    {
        if value.is_some_and(|v| v.yuan_e6().is_none_or(|e6| e6 > value_limit_e6)) {
            errors.bad(&place, format!("{what}: at most {} yuan a point", crate::points::POINT_VALUE_LIMIT_YUAN));
        }
    }
    if raw.point_value_decimals.is_some_and(|d| d > 6) {
        errors.bad(&place, "point_value_decimals is at most 6");
    }
    let low_cost = errors.bound(&place, "low_cost", &raw.low_cost);
    let high_cost = errors.bound(&place, "high_cost", &raw.high_cost);
    let fee_for_service_above = raw.fee_for_service_above.as_ref().map(|b| errors.bound(&place, "fee_for_service_above", b));
    if low_cost.ratio_bp > 10_000 || high_cost.ratio_bp < 10_000 {
        errors.bad(&place, "the low-cost bound is at most 100% and the high-cost bound at least 100%");
    }
    if fee_for_service_above.is_some_and(|f| f.ratio_bp <= high_cost.ratio_bp) {
        errors.bad(&place, "fee_for_service_above is above the high-cost bound");
    }
    if raw.days_max.is_some_and(|max| max < raw.days_min.max(1)) || raw.days_min > 366 || raw.days_max.is_some_and(|m| m > 3_660) {
        errors.bad(&place, "days_min ≤ days_max, within 0–366 and 1–3660 days");
    }
    let readmission = raw.readmission.map(|r| {
        if r.days == 0 || r.days > 366 {
            errors.bad(&place, "readmission days are 1 to 366");
        }
        Readmission { days: r.days, earlier_share: errors.ratio(&place, "readmission.earlier_share", &r.earlier_share) }
    });
    let mut grade_coefficients = BTreeMap::new();
    for (level, text) in &raw.grade_coefficients {
        match (InstitutionLevel::parse(level), Coefficient::parse(text)) {
            (Some(level), Ok(coefficient)) => {
                grade_coefficients.insert(level, coefficient);
            }
            (None, _) => {
                errors.bad(&place, format!("grade_coefficients: '{level}' is not a level (township, primary, secondary, tertiary)"))
            }
            (_, Err(e)) => errors.bad(&place, format!("grade_coefficients.{level}: {e}")),
        }
    }
    let weights = raw.year_weights;
    if weights.is_empty() || weights.len() > WEIGHT_YEARS_LIMIT || weights.iter().any(|w| *w == 0 || *w > 100) {
        errors.bad(&place, format!("year_weights gives 1 to {WEIGHT_YEARS_LIMIT} weights of 1 to 100, oldest year first"));
    }
    let averages = |errors: &mut Errors, place: &str, what: &str, texts: &[String]| -> Fen {
        if texts.len() != weights.len() {
            errors.bad(place, format!("{what} gives one average per weighted year ({} of them), oldest first", weights.len()));
            return Fen::ZERO;
        }
        let values: Vec<Fen> = texts.iter().map(|t| errors.money(place, what, t)).collect();
        weighted_average(&values, &weights, rounding)
    };
    let all_cases_average = averages(errors, &place, "all_cases_average", &raw.all_cases_average);
    if all_cases_average <= Fen::ZERO {
        errors.bad(&place, "all_cases_average is above zero");
    }
    if raw.group.is_empty() || raw.group.len() > GROUPS_LIMIT {
        errors.push(&place, "payment.invalid", format!("a DIP table lists 1 to {GROUPS_LIMIT} groups"));
    }
    let mut groups: Vec<DipGroup> = Vec::with_capacity(raw.group.len());
    let mut keys: BTreeMap<(String, Option<String>), String> = BTreeMap::new();
    for group in raw.group {
        let place = format!("{place} group {}", group.code);
        if group.code.trim().is_empty() || group.code.len() > 32 || group.name.trim().is_empty() {
            errors.push(&place, "payment.invalid", "a group has a code of 1 to 32 characters and a name");
        }
        if groups.iter().any(|g| g.code == group.code) {
            errors.push(&place, "payment.overlap", "group code listed twice");
        }
        if !is_diagnosis_code(&group.diagnosis) && !is_icd_prefix(&group.diagnosis) {
            errors.bad(&place, format!("diagnosis '{}' is not an ICD-10 code or prefix (e.g. I21 or I21.0)", group.diagnosis));
        }
        if let Some(procedure) = &group.procedure
            && !is_procedure_code(procedure)
        {
            errors.bad(&place, format!("procedure '{procedure}' is not an ICD-9-CM-3 code (e.g. 36.06)"));
        }
        if let Some(other) = keys.insert((group.diagnosis.clone(), group.procedure.clone()), group.code.clone()) {
            errors.push(&place, "payment.overlap", format!("group {other} has the same diagnosis and procedure"));
        }
        let scale = i128::from(raw.scale) * i128::from(crate::points::E4);
        let (points, average) = match (&group.average, &group.points) {
            (Some(texts), None) => {
                let average = averages(errors, &place, "average", texts);
                let points = if all_cases_average > Fen::ZERO {
                    Points::from_e4(rounding.round_div(i128::from(average.get()) * scale, i128::from(all_cases_average.get())))
                } else {
                    Points::ZERO
                };
                (points, average)
            }
            (None, Some(text)) => {
                let points = Points::parse(text).unwrap_or_else(|e| {
                    errors.bad(&place, format!("points: {e}"));
                    Points::ZERO
                });
                // The reference cost the points stand for: points ÷ scale × all cases' average.
                let average = if points > GROUP_POINTS_LIMIT {
                    Fen::ZERO
                } else {
                    let fen = rounding.round_div(i128::from(points.e4()) * i128::from(all_cases_average.get()), scale.max(1));
                    Fen::checked(fen).filter(|f| *f <= PACK_MONEY_LIMIT).unwrap_or_else(|| {
                        errors.bad(&place, "points: the average cost they stand for is beyond 100 million yuan");
                        Fen::ZERO
                    })
                };
                (points, average)
            }
            _ => {
                errors.bad(&place, "a group gives either `average` (its prior years' average costs) or `points`");
                (Points::ZERO, Fen::ZERO)
            }
        };
        if points <= Points::ZERO || average <= Fen::ZERO {
            errors.bad(&place, "a group's points and average cost are above zero");
        }
        if points > GROUP_POINTS_LIMIT {
            errors.bad(&place, format!("a group is worth at most {GROUP_POINTS_LIMIT} points"));
        }
        groups.push(DipGroup {
            code: group.code,
            name: group.name,
            diagnosis: group.diagnosis,
            procedure: group.procedure,
            points,
            average,
            exempt: group.exempt,
        });
    }
    DipTable {
        scale: raw.scale,
        basis,
        provisional_value,
        point_value_decimals: raw.point_value_decimals,
        low_cost,
        high_cost,
        fee_for_service_above,
        days_min: raw.days_min,
        days_max: raw.days_max,
        incomplete_capped: raw.incomplete_capped,
        readmission,
        grade_coefficients,
        all_cases_average,
        groups,
        cite: raw.cite,
    }
}

/// The weighted average of prior years' averages (1:2:7 weighs the latest year most),
/// rounded once to the fen.
#[must_use]
pub fn weighted_average(values: &[Fen], weights: &[u32], rounding: Rounding) -> Fen {
    assert_eq!(values.len(), weights.len(), "one weight per value");
    let total_weight: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if total_weight == 0 {
        return Fen::ZERO;
    }
    let weighted: i128 = values.iter().zip(weights).map(|(v, w)| i128::from(v.get()) * i128::from(*w)).sum();
    Fen::new(rounding.round_div(weighted, total_weight))
}

fn is_icd_prefix(code: &str) -> bool {
    let b = code.as_bytes();
    (1..=3).contains(&b.len()) && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
}

fn parse_per_diem(errors: &mut Errors, year: &str, raw: Vec<RawPerDiem>, sources: &[Source]) -> Vec<PerDiemRate> {
    if raw.len() > RATES_LIMIT {
        errors.push(year, "payment.invalid", format!("a year lists at most {RATES_LIMIT} per-diem rates"));
    }
    let mut rates: Vec<PerDiemRate> = Vec::new();
    for rate in raw {
        let place = format!("{year}, per diem '{}'", rate.name);
        errors.cite(&place, &rate.cite, sources);
        if rate.diagnoses.is_empty() || rate.diagnoses.iter().any(|d| !is_icd_prefix(d) && !is_diagnosis_code(d)) {
            errors.bad(&place, "diagnoses lists ICD-10 codes or prefixes (e.g. F20)");
        }
        let level = rate.level.as_deref().and_then(|l| {
            let parsed = InstitutionLevel::parse(l);
            if parsed.is_none() {
                errors.bad(&place, format!("level '{l}' is not township, primary, secondary or tertiary"));
            }
            parsed
        });
        let category = rate.category.as_deref().and_then(|c| {
            let parsed = PersonCategory::ALL.into_iter().find(|p| p.as_str() == c);
            if parsed.is_none() {
                errors.bad(&place, format!("category '{c}' is not employed, retired or resident"));
            }
            parsed
        });
        let parsed = PerDiemRate {
            rate: errors.money(&place, "rate", &rate.rate),
            cap_bp: rate.cap.as_deref().map(|c| errors.multiple(&place, "cap", c)),
            name: rate.name,
            diagnoses: rate.diagnoses,
            level,
            category,
            cite: rate.cite,
        };
        if parsed.rate <= Fen::ZERO || parsed.rate > RATE_LIMIT {
            errors.bad(&place, format!("a per-diem rate is above zero and at most {RATE_LIMIT} yuan"));
        }
        let overlapping = rates.iter().find(|other| {
            other.level == parsed.level
                && other.category == parsed.category
                && other.diagnoses.iter().any(|a| parsed.diagnoses.iter().any(|b| a.starts_with(b.as_str()) || b.starts_with(a.as_str())))
        });
        if let Some(other) = overlapping {
            errors.push(&place, "payment.overlap", format!("'{}' applies to the same stays at the same level and category", other.name));
        }
        rates.push(parsed);
    }
    rates
}

fn parse_clearing(errors: &mut Errors, year: &str, raw: RawClearing, sources: &[Source]) -> Clearing {
    let place = format!("{year}, clearing");
    errors.cite(&place, &raw.cite, sources);
    let mut bands = |what: &str, raw: &[RawBand]| -> Vec<ClearingBand> {
        if raw.len() > BANDS_LIMIT {
            errors.bad(&place, format!("{what}: at most {BANDS_LIMIT} bands"));
        }
        let parsed: Vec<ClearingBand> = raw
            .iter()
            .map(|b| ClearingBand { up_to: errors.ratio(&place, what, &b.up_to), share: errors.ratio(&place, what, &b.share) })
            .collect();
        if parsed.windows(2).any(|w| w[0].up_to >= w[1].up_to) || parsed.first().is_some_and(|b| b.up_to == RatioBp::ZERO) {
            errors.bad(&place, format!("{what}: bands rise strictly (up_to), from above 0%"));
        }
        parsed
    };
    let surplus = bands("surplus", &raw.surplus);
    let overspend = bands("overspend", &raw.overspend);
    Clearing {
        surplus,
        overspend,
        surplus_cap: raw.surplus_cap.as_deref().map(|c| errors.ratio(&place, "surplus_cap", c)),
        overspend_cap: raw.overspend_cap.as_deref().map(|c| errors.ratio(&place, "overspend_cap", c)),
        cite: raw.cite,
    }
}
