//! Commercial administrators under contract (商业保险机构经办, issue 18; R-TPA-1, R-TPA-3):
//! the tender that chose one and the contract it signed (dated terms, the counties and
//! schemes it administers, its administration fee, its revolving fund, how it reviews
//! claims and how it is scored), the entries its score counts (complaints, satisfaction
//! surveys), the bureau's sample of its quarter, and the quarter's score with the fee and
//! its reward or penalty posted to the fund books.
//!
//! The rules both stores apply are here, pure: a contract's terms checked once
//! ([`ContractTerms::check`]), a quarter's bounds ([`Quarter`]), what a scored quarter
//! posts ([`quarter_entries`]), read again by the book check from its audit entry.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use yibao_domain::{Fen, RegionCode};
use yibao_ledger::{AccountKey, AccountKind, Fund, FundScheme, Holder, PartyCode, Reason, RecordKind};

use crate::books::{Entry, cause, fund_for, record_transfer_id};
use crate::{Actor, StoreError};

/// Most counties one contract covers.
pub const CONTRACT_COUNTIES_MAX: usize = 64;
/// Most contracts a city lists.
pub const CONTRACTS_LISTED_MAX: usize = 200;
/// Most entries (complaints, surveys) one quarter's listing answers.
pub const ENTRIES_LISTED_MAX: usize = 10_000;
/// Most claims one quarter's sample reads: above it the quarter is refused, not truncated.
pub const QUARTER_CLAIMS_MAX: usize = 2_000_000;
/// The most a contract's fee per insured person and year may be: 1,000 yuan.
pub const FEE_PER_INSURED_MAX_FEN: i64 = 100_000;
/// The largest revolving fund a contract may set: 1 billion yuan.
pub const REVOLVING_FUND_MAX_FEN: i64 = 100_000_000_000;

/// The longest free text of a contract or an entry, in characters.
pub const ADMINISTRATOR_TEXT_CHARS_MAX: usize = 200;

/// What an indicator of the contract measures, each counted from the system's own records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// Days from a claim's settlement to the pooling run that paid it (a claim held by
    /// monitoring: to the first run after its flags were decided), on average, in
    /// hundredths of a day. Lower is better.
    PaymentDays,
    /// Days from a flag on a claim it administers to its decision, on average, in
    /// hundredths of a day. Lower is better.
    ReviewDays,
    /// The share of the bureau's sample of its claims found in error, in basis points.
    /// Lower is better.
    ErrorRate,
    /// Complaints recorded against it in the quarter. Lower is better.
    Complaints,
    /// The satisfaction surveys' average, in basis points of full marks. Higher is better.
    Satisfaction,
}

impl Measure {
    pub const ALL: [Measure; 5] =
        [Measure::PaymentDays, Measure::ReviewDays, Measure::ErrorRate, Measure::Complaints, Measure::Satisfaction];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Measure::PaymentDays => "payment-days",
            Measure::ReviewDays => "review-days",
            Measure::ErrorRate => "error-rate",
            Measure::Complaints => "complaints",
            Measure::Satisfaction => "satisfaction",
        }
    }

    #[must_use]
    pub const fn higher_is_better(self) -> bool {
        matches!(self, Measure::Satisfaction)
    }
}

/// One indicator of the contract: what it measures, its weight in the score and its
/// target, in the measure's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiTerm {
    pub measure: Measure,
    pub weight_bp: u32,
    pub target: u64,
}

/// A band of the contract's rewards: from this score up, the quarter's fee is adjusted by
/// `adjustment_bp` (a reward above zero, a penalty below).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandTerm {
    pub from_score_bp: u32,
    pub adjustment_bp: i32,
}

/// The public tender that chose the administrator (公开招标).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    /// The procurement notice's number.
    pub reference: String,
    pub awarded_on: Date,
    /// How many insurers bid.
    pub bidders: u32,
}

/// How the administrator reviews claims, and how the bureau samples its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewTerms {
    /// Every claim whose fund payment reaches this is reviewed (核补审核).
    pub threshold_fen: Fen,
    /// And this share of the others, drawn with `seed`.
    pub sample_rate_bp: u32,
    pub seed: u64,
    /// The bureau's audit samples this share of the quarter's claims, in each stratum.
    pub bureau_sample_rate_bp: u32,
}

/// A contract's terms as the city's administrator signs them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractTerms {
    /// The administrator's code: upper-case letters and digits (`PICC419900`).
    pub code: String,
    pub name: String,
    pub tender: Tender,
    pub signed_on: Date,
    /// The service period, both days included.
    pub from: Date,
    pub until: Date,
    /// The counties whose claims it administers, and the basic schemes.
    pub counties: Vec<RegionCode>,
    pub schemes: Vec<FundScheme>,
    /// The administration fee (委托管理费), per insured person of its scope and year.
    pub fee_per_insured_fen: Fen,
    /// The revolving fund (周转金) the bureau advances to its expenditure account.
    pub revolving_fund_fen: Fen,
    pub review: ReviewTerms,
    pub kpis: Vec<KpiTerm>,
    pub bands: Vec<BandTerm>,
    /// A quarter scored below this does not recommend renewal.
    pub renewal_floor_bp: u32,
}

fn bad(why: String) -> StoreError {
    StoreError::Refused { code: "administrator.bad_terms", message: why }
}

/// Free text of a record: the register's rule (`yibao_domain::register_text`), at most
/// [`ADMINISTRATOR_TEXT_CHARS_MAX`] characters.
pub fn check_text(what: &str, text: &str) -> Result<(), StoreError> {
    if yibao_domain::register_text(text, ADMINISTRATOR_TEXT_CHARS_MAX).is_none() {
        return Err(bad(format!("{what} is 1 to {ADMINISTRATOR_TEXT_CHARS_MAX} characters of text")));
    }
    Ok(())
}

impl ContractTerms {
    /// Everything the terms must hold, each refused with what is wrong
    /// (`administrator.bad_terms`): the code, texts, dates in order (tender, signing, service),
    /// counties of `city` each once, basic pooled schemes each once, indicators whose weights
    /// add up to 100% with each measure once and a target above zero where less is not
    /// better, bands within ±100%, rates within 100%.
    pub fn check(&self, city: RegionCode) -> Result<(), StoreError> {
        PartyCode::parse(&self.code).map_err(|_| bad(format!("the code '{}' is 1 to 16 upper-case letters and digits", self.code)))?;
        check_text("the name", &self.name)?;
        check_text("the tender's reference", &self.tender.reference)?;
        if self.tender.bidders == 0 {
            return Err(bad("a public tender had at least one bidder".into()));
        }
        if !(self.tender.awarded_on <= self.signed_on && self.from <= self.until) {
            return Err(bad("the tender is awarded before the contract is signed, and the service period ends after it starts".into()));
        }
        if (self.until - self.from).whole_days() > 5 * 366 {
            return Err(bad("a contract runs at most five years: renew it on its score".into()));
        }
        if self.counties.is_empty() || self.counties.len() > CONTRACT_COUNTIES_MAX {
            return Err(bad(format!("a contract covers 1 to {CONTRACT_COUNTIES_MAX} counties")));
        }
        let mut counties = self.counties.clone();
        counties.sort();
        counties.dedup();
        if counties.len() != self.counties.len() || self.counties.iter().any(|c| *c == city || !city.contains(*c)) {
            return Err(bad(format!("the counties are {city}'s, each once")));
        }
        let basic = [FundScheme::Employee, FundScheme::Resident, FundScheme::Ncms, FundScheme::UrbanResident];
        let mut schemes = self.schemes.clone();
        schemes.sort();
        schemes.dedup();
        if self.schemes.is_empty() || schemes.len() != self.schemes.len() || self.schemes.iter().any(|s| !basic.contains(s)) {
            return Err(bad("the schemes are basic pooled schemes (employee, resident, ncms, urban-resident), each once".into()));
        }
        if !(0..=FEE_PER_INSURED_MAX_FEN).contains(&self.fee_per_insured_fen.get())
            || !(0..=REVOLVING_FUND_MAX_FEN).contains(&self.revolving_fund_fen.get())
        {
            return Err(bad("the fee per insured is 0 to 1,000 yuan a year, the revolving fund 0 to 1 billion yuan".into()));
        }
        if self.review.sample_rate_bp > 10_000 || self.review.bureau_sample_rate_bp == 0 || self.review.bureau_sample_rate_bp > 10_000 {
            return Err(bad("the administrator's sample is at most 100%, the bureau's above 0 and at most 100%".into()));
        }
        if self.review.threshold_fen.is_negative() {
            return Err(bad("the review threshold is not negative".into()));
        }
        if self.kpis.is_empty() || self.kpis.len() > Measure::ALL.len() {
            return Err(bad("a contract scores 1 to 5 indicators".into()));
        }
        for (i, kpi) in self.kpis.iter().enumerate() {
            if self.kpis[..i].iter().any(|k| k.measure == kpi.measure) {
                return Err(bad(format!("the indicator {} is given twice", kpi.measure.as_str())));
            }
        }
        if let Some(kpi) = self.kpis.iter().find(|k| k.measure.higher_is_better() && k.target == 0) {
            return Err(bad(format!("the indicator {} needs a target above zero", kpi.measure.as_str())));
        }
        let weights: u64 = self.kpis.iter().map(|k| u64::from(k.weight_bp)).sum();
        if weights != 10_000 {
            return Err(bad(format!("the indicators' weights add up to {weights} bp, not 10000")));
        }
        if self.bands.is_empty() || self.bands.iter().any(|b| b.adjustment_bp.unsigned_abs() > 10_000 || b.from_score_bp > 10_000) {
            return Err(bad("at least one band, each from a score of at most 100% and adjusting the fee by at most 100%".into()));
        }
        if self.renewal_floor_bp > 10_000 {
            return Err(bad("the renewal floor is at most 100%".into()));
        }
        Ok(())
    }

    /// The terms' scoring in the engine's form.
    #[must_use]
    pub fn scoring(&self) -> yibao_engine::performance::ScoringTerms {
        yibao_engine::performance::ScoringTerms {
            bands: self
                .bands
                .iter()
                .map(|b| yibao_engine::performance::Band { from_score_bp: b.from_score_bp, adjustment_bp: b.adjustment_bp })
                .collect(),
            renewal_floor_bp: self.renewal_floor_bp,
        }
    }

    /// Whether the contract administers claims of `county` under `scheme` on `on`.
    #[must_use]
    pub fn covers(&self, county: RegionCode, scheme: FundScheme, on: Date) -> bool {
        self.from <= on && on <= self.until && self.counties.contains(&county) && self.schemes.contains(&scheme)
    }

    /// The fund its fee is booked in: its first scheme's, of the city.
    #[must_use]
    pub fn fee_fund(&self, city: RegionCode) -> Fund {
        Fund::new(self.schemes[0], city)
    }
}

/// A contract as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRecord {
    pub city: RegionCode,
    #[serde(flatten)]
    pub terms: ContractTerms,
    pub signed_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    pub active: bool,
}

/// A quarter of a year, `2026Q4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    pub quarter: u8,
}

impl Quarter {
    /// `YYYYQn`, n 1 to 4.
    pub fn parse(text: &str) -> Option<Quarter> {
        let (year, quarter) = text.split_once('Q')?;
        let year: i32 = year.parse().ok().filter(|y| (2000..=2100).contains(y) && year.len() == 4)?;
        let quarter: u8 = quarter.parse().ok().filter(|q| (1..=4).contains(q) && quarter.len() == 1)?;
        Some(Quarter { year, quarter })
    }

    /// Its first and last day.
    #[must_use]
    pub fn days(self) -> (Date, Date) {
        let first = time::Month::try_from(self.quarter * 3 - 2).unwrap_or(time::Month::January);
        let last = time::Month::try_from(self.quarter * 3).unwrap_or(time::Month::December);
        let start = Date::from_calendar_date(self.year, first, 1).unwrap_or(Date::MIN);
        let end = Date::from_calendar_date(self.year, last, last.length(self.year)).unwrap_or(Date::MAX);
        (start, end)
    }
}

impl std::fmt::Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}Q{}", self.year, self.quarter)
    }
}

/// What an entry of the administrator's record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// A complaint against its service (投诉).
    Complaint,
    /// A satisfaction survey's answer (满意度调查), `score_bp` of full marks.
    Survey,
}

/// A complaint or a survey answer, recorded by bureau staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerformanceEntry {
    pub code: String,
    pub kind: EntryKind,
    pub on: Date,
    /// A survey's score, basis points of full marks; none for a complaint.
    pub score_bp: Option<u32>,
    pub note: String,
    pub recorded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

/// One indicator as the quarter measured and scored it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasuredKpi {
    pub measure: Measure,
    pub weight_bp: u32,
    pub target: u64,
    pub actual: u64,
    /// How it was counted, in words, with the counts.
    pub basis: String,
    pub achievement_bp: u32,
    pub points_bp: u32,
}

/// The bureau's sample of the quarter's claims, extrapolated (R-TPA-2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleFindings {
    pub population: u64,
    pub sampled: u64,
    pub in_error: u64,
    pub error_rate_bp: u32,
    pub interval_low_bp: u32,
    pub interval_high_bp: u32,
    /// The fund payments disallowed in the sample, extrapolated to the quarter.
    pub disallowed_fen: Fen,
}

/// A quarter scored: the indicators, the score, the fee with its reward or penalty, the
/// renewal the score recommends, and what it posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarterRecord {
    pub city: RegionCode,
    pub code: String,
    pub quarter: String,
    /// Insured persons of its scope at the quarter's end.
    pub insured: u64,
    /// A quarter of the yearly fee per insured, for the insured.
    pub fee_fen: Fen,
    pub kpis: Vec<MeasuredKpi>,
    pub sample: SampleFindings,
    pub score_bp: u32,
    pub adjustment_fen: Fen,
    /// The fee with its reward or penalty: what the quarter pays.
    pub paid_fen: Fen,
    pub renewal_recommended: bool,
    /// The fund the fee passes through, and the day it is booked.
    pub fund: FundScheme,
    pub value_date: Date,
    pub scored_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub scored_at: OffsetDateTime,
}

impl QuarterRecord {
    /// `{code}/{quarter}`: its cause and audit entity.
    #[must_use]
    pub fn record_id(&self) -> String {
        format!("{}/{}", self.code, self.quarter)
    }
}

/// What a scored quarter posts on its day: city finance pays the fee with its reward or
/// penalty into the fund's fiscal special account, and the account pays it to the
/// administrator (`afee/{code}/{quarter}/in|out`, reason `administration-fee`). The fund's
/// surplus is unchanged; its statements by payer and payee show who paid and who was paid.
pub fn quarter_entries(record: &QuarterRecord) -> Result<Vec<Entry>, StoreError> {
    if record.paid_fen.is_zero() {
        return Ok(Vec::new());
    }
    let id = record.record_id();
    let cause = cause(RecordKind::AdministratorQuarter, &id)?;
    let fund = fund_for(record.fund, record.city);
    let insurer = Holder::insurer(&record.code).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let transfer = |leg: &str, debit, credit| {
        yibao_ledger::Transfer::new(
            record_transfer_id("afee", &id, leg),
            debit,
            credit,
            record.paid_fen,
            Reason::AdministrationFee,
            cause.clone(),
            record.value_date,
        )
    };
    Ok(vec![
        Entry {
            unit: record.city,
            transfer: transfer("in", AccountKey::special(fund), AccountKey::new(fund, Holder::Finance(record.city), AccountKind::External)),
        },
        Entry {
            unit: record.city,
            transfer: transfer("out", AccountKey::new(fund, insurer, AccountKind::External), AccountKey::special(fund)),
        },
    ])
}

/// The text bounds a day range's stored timestamps fall within, a day wider each side: the
/// stored text is compared coarsely, the moment exactly after reading ([`on_days`]).
#[must_use]
pub fn settled_bounds(from: Date, to: Date) -> (String, String) {
    let text = crate::books::date_text;
    (text(from.previous_day().unwrap_or(from)), text(to.next_day().and_then(Date::next_day).unwrap_or(to)))
}

/// Whether a moment falls on a city day (UTC+8) of `from..=to`.
#[must_use]
pub fn on_days(at: OffsetDateTime, from: Date, to: Date) -> bool {
    let day = yibao_domain::city_day(at);
    from <= day && day <= to
}

/// Refuses a county's quarter above [`QUARTER_CLAIMS_MAX`] claims rather than score it on
/// part of them (`administrator.quarter_too_large`).
pub fn check_quarter_size(claims: usize, county: RegionCode) -> Result<(), StoreError> {
    if claims > QUARTER_CLAIMS_MAX {
        return Err(StoreError::Refused {
            code: "administrator.quarter_too_large",
            message: format!("{county} settled more than {QUARTER_CLAIMS_MAX} claims in the quarter: score it county by county"),
        });
    }
    Ok(())
}

/// A quarter scored already: it is scored and paid once.
#[must_use]
pub fn quarter_scored(code: &str, quarter: &str) -> StoreError {
    StoreError::Refused {
        code: "administrator.quarter_scored",
        message: format!("{quarter} of {code} is scored already: a quarter is scored and paid once"),
    }
}

/// A settled claim of the administrator's scope, as its quarter reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarterClaim {
    pub region: RegionCode,
    pub institution_code: String,
    pub claim_id: String,
    /// The national insurance type of its pooled layer (`310`, `390`…).
    pub insutype: String,
    pub fund_pay_fen: Fen,
    pub settled_at: OffsetDateTime,
}

/// What a quarter's measures read from the store, for one county.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountyQuarter {
    pub claims: Vec<QuarterClaim>,
    /// Flags on claims of the county decided in the quarter: (raised, decided, hold).
    pub decided_flags: Vec<(OffsetDateTime, OffsetDateTime, bool, String, String)>,
    /// Bureau findings on claims of the county, standing or confirmed: (institution, claim, amount).
    pub bureau_findings: Vec<(String, String, Fen)>,
    /// Insured persons of the county under each scheme at the quarter's end.
    pub insured: Vec<(FundScheme, u64)>,
}

/// The bureau's draw of its audit sample among a contract's claims: its own seed, apart from
/// the administrator's, so the administrator cannot tell which claims the bureau will read.
#[must_use]
pub fn in_bureau_sample(terms: &ContractTerms, claim: &QuarterClaim) -> bool {
    let seed = terms.review.seed ^ 0xB0_4E_A0_5A_3D_1E_57_u64;
    let key = crate::books::settlement_record_id(&claim.institution_code, &claim.claim_id);
    yibao_engine::review::drawn(seed, &key, terms.review.bureau_sample_rate_bp)
}

/// Why the administrator reviews a claim, if it does (核补审核): every claim at or above the
/// contract's threshold, and its sample of the rest.
#[must_use]
pub fn administrator_selection(terms: &ContractTerms, claim: &QuarterClaim) -> yibao_engine::review::Selection {
    let rule = yibao_engine::review::ReviewRule { threshold_fen: terms.review.threshold_fen, sample_rate_bp: terms.review.sample_rate_bp };
    let key = crate::books::settlement_record_id(&claim.institution_code, &claim.claim_id);
    yibao_engine::review::selected_for_review(rule, terms.review.seed, &key, claim.fund_pay_fen)
}

/// The claims of a county's quarter the contract covers (its schemes, its service period).
pub fn covered_claims<'a>(terms: &'a ContractTerms, county: &'a CountyQuarter) -> impl Iterator<Item = &'a QuarterClaim> + 'a {
    county.claims.iter().filter(move |c| {
        crate::books::pooled_fund(&c.insutype).is_ok_and(|scheme| terms.covers(c.region, scheme, yibao_domain::city_day(c.settled_at)))
    })
}

/// What a quarter measured of an administrator, before scoring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarterMeasures {
    /// Each of the contract's indicators: (measure, actual, how it was counted).
    pub actuals: Vec<(Measure, u64, String)>,
    pub sample: SampleFindings,
    pub insured: u64,
}

/// Counts a quarter's indicators from the system's records: the covered claims of each
/// county, the days the city's pooling runs were dated (`runs`, any order), the flags
/// decided, the bureau's findings on its sample, and the complaints and surveys.
pub fn measure_quarter(
    terms: &ContractTerms,
    counties: &[CountyQuarter],
    runs: &[Date],
    entries: &[PerformanceEntry],
    rounding: yibao_domain::Rounding,
) -> Result<QuarterMeasures, StoreError> {
    let mut runs = runs.to_vec();
    runs.sort();
    let covered: Vec<&QuarterClaim> = counties.iter().flat_map(|c| covered_claims(terms, c)).collect();
    let keys: std::collections::HashSet<(&str, &str)> =
        covered.iter().map(|c| (c.institution_code.as_str(), c.claim_id.as_str())).collect();
    // Payment: the first run on or after the later of the settlement and its holds' decisions.
    let mut holds: std::collections::HashMap<(&str, &str), Date> = std::collections::HashMap::new();
    for (_, decided, hold, institution, claim) in counties.iter().flat_map(|c| &c.decided_flags) {
        if *hold {
            let day = yibao_domain::city_day(*decided);
            let entry = holds.entry((institution.as_str(), claim.as_str())).or_insert(day);
            *entry = (*entry).max(day);
        }
    }
    let (mut paid, mut paid_days_centi) = (0_u64, 0_u64);
    for claim in &covered {
        let settled = yibao_domain::city_day(claim.settled_at);
        let due = holds.get(&(claim.institution_code.as_str(), claim.claim_id.as_str())).map_or(settled, |d| (*d).max(settled));
        if let Some(run) = runs.iter().find(|r| **r >= due) {
            paid += 1;
            paid_days_centi += u64::try_from((*run - settled).whole_days()).unwrap_or(0) * 100;
        }
    }
    let average = |total: u64, n: u64| if n == 0 { 0 } else { (total * 2 + n) / (n * 2) };
    // Review: flags on its claims decided in the quarter.
    let decided: Vec<_> = counties.iter().flat_map(|c| &c.decided_flags).filter(|f| keys.contains(&(f.3.as_str(), f.4.as_str()))).collect();
    let review_centi: u64 =
        decided.iter().map(|(raised, decided, ..)| u64::try_from((*decided - *raised).whole_seconds()).unwrap_or(0) * 100 / 86_400).sum();
    // The bureau's sample, in two strata: at or above the administrator's threshold, and below.
    let findings: std::collections::HashMap<(&str, &str), Fen> =
        counties.iter().flat_map(|c| &c.bureau_findings).fold(std::collections::HashMap::new(), |mut m, (i, c, amount)| {
            *m.entry((i.as_str(), c.as_str())).or_insert(Fen::ZERO) += *amount;
            m
        });
    let empty = yibao_engine::review::Stratum {
        population_claims: 0,
        population_fen: Fen::ZERO,
        sampled_claims: 0,
        sampled_fen: Fen::ZERO,
        claims_in_error: 0,
        disallowed_fen: Fen::ZERO,
    };
    let mut strata = [empty.clone(), empty];
    for claim in &covered {
        let stratum = &mut strata[usize::from(claim.fund_pay_fen >= terms.review.threshold_fen)];
        stratum.population_claims += 1;
        stratum.population_fen += claim.fund_pay_fen;
        if in_bureau_sample(terms, claim) {
            stratum.sampled_claims += 1;
            stratum.sampled_fen += claim.fund_pay_fen;
            if let Some(amount) = findings.get(&(claim.institution_code.as_str(), claim.claim_id.as_str())) {
                stratum.claims_in_error += 1;
                stratum.disallowed_fen += (*amount).min(claim.fund_pay_fen);
            }
        }
    }
    let sampled: Vec<_> = strata.iter().filter(|s| s.sampled_claims > 0).cloned().collect();
    let population: u64 = strata.iter().map(|s| s.population_claims).sum();
    let sample = if sampled.is_empty() {
        SampleFindings {
            population,
            sampled: 0,
            in_error: 0,
            error_rate_bp: 0,
            interval_low_bp: 0,
            interval_high_bp: 0,
            disallowed_fen: Fen::ZERO,
        }
    } else {
        let found = yibao_engine::review::extrapolate(&sampled, rounding)
            .map_err(|e| StoreError::Refused { code: e.code(), message: e.to_string() })?;
        SampleFindings {
            population,
            sampled: sampled.iter().map(|s| s.sampled_claims).sum(),
            in_error: sampled.iter().map(|s| s.claims_in_error).sum(),
            error_rate_bp: found.error_rate_bp,
            interval_low_bp: found.error_rate_low_bp,
            interval_high_bp: found.error_rate_high_bp,
            disallowed_fen: found.disallowed_fen,
        }
    };
    let complaints = entries.iter().filter(|e| e.kind == EntryKind::Complaint).count() as u64;
    let surveys: Vec<u64> = entries.iter().filter_map(|e| e.score_bp.filter(|_| e.kind == EntryKind::Survey)).map(u64::from).collect();
    let actuals = terms
        .kpis
        .iter()
        .map(|kpi| match kpi.measure {
            Measure::PaymentDays => (
                kpi.measure,
                average(paid_days_centi, paid),
                format!("{paid} of {} claims paid; days from settlement to the run that paid them, in hundredths", covered.len()),
            ),
            Measure::ReviewDays => (
                kpi.measure,
                average(review_centi, decided.len() as u64),
                format!("{} flags decided; days from flag to decision, in hundredths", decided.len()),
            ),
            Measure::ErrorRate => (
                kpi.measure,
                u64::from(sample.error_rate_bp),
                format!(
                    "{} of {} sampled claims in error (population {}); 95% interval {}–{} bp",
                    sample.in_error, sample.sampled, sample.population, sample.interval_low_bp, sample.interval_high_bp
                ),
            ),
            Measure::Complaints => (kpi.measure, complaints, format!("{complaints} complaints recorded")),
            Measure::Satisfaction => (
                kpi.measure,
                average(surveys.iter().sum(), surveys.len() as u64),
                format!("{} survey answers, their average in bp of full marks", surveys.len()),
            ),
        })
        .collect();
    let insured = counties.iter().flat_map(|c| &c.insured).filter(|(scheme, _)| terms.schemes.contains(scheme)).map(|(_, n)| *n).sum();
    Ok(QuarterMeasures { actuals, sample, insured })
}

/// Administrators' contracts and their quarters as stored. Every write is audited; a
/// scored quarter posts in its transaction, once.
pub trait AdministratorStore: Send + Sync + 'static {
    /// Records a contract with its administrator's API key (a digest); refuses a code
    /// taken (`administrator.exists`).
    fn create_contract(
        &self,
        actor: &Actor,
        city: RegionCode,
        terms: ContractTerms,
        api_key_hash: String,
    ) -> impl Future<Output = Result<ContractRecord, StoreError>> + Send;

    /// The city's contracts.
    fn contracts(&self, city: RegionCode) -> impl Future<Output = Result<Vec<ContractRecord>, StoreError>> + Send;

    /// The contract whose API key has this digest, if any.
    fn contract_by_key(&self, api_key_hash: &str) -> impl Future<Output = Result<Option<ContractRecord>, StoreError>> + Send;

    /// Records a complaint or a survey answer.
    fn record_performance_entry(
        &self,
        actor: &Actor,
        city: RegionCode,
        entry: PerformanceEntry,
    ) -> impl Future<Output = Result<PerformanceEntry, StoreError>> + Send;

    /// An administrator's entries dated `from..=to`.
    fn performance_entries(
        &self,
        city: RegionCode,
        code: &str,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<PerformanceEntry>, StoreError>> + Send;

    /// What a quarter's measures read of one county: its settled claims of `from..=to`
    /// (refused above [`QUARTER_CLAIMS_MAX`]), the flags decided then, the bureau's
    /// findings on its claims, and its insured by scheme on `to`.
    fn county_quarter(&self, county: RegionCode, from: Date, to: Date) -> impl Future<Output = Result<CountyQuarter, StoreError>> + Send;

    /// Records a scored quarter and posts its fee, once (`administrator.quarter_scored`).
    fn record_quarter(&self, actor: &Actor, record: QuarterRecord) -> impl Future<Output = Result<QuarterRecord, StoreError>> + Send;

    /// An administrator's scored quarters, latest first.
    fn quarters(&self, city: RegionCode, code: &str) -> impl Future<Output = Result<Vec<QuarterRecord>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn city() -> RegionCode {
        RegionCode::parse("419900").unwrap()
    }

    pub(crate) fn terms() -> ContractTerms {
        ContractTerms {
            code: "PICC419900".into(),
            name: "人保财险郑州分公司".into(),
            tender: Tender { reference: "ZZCG-2026-018".into(), awarded_on: date!(2026 - 01 - 10), bidders: 3 },
            signed_on: date!(2026 - 01 - 20),
            from: date!(2026 - 01 - 01),
            until: date!(2026 - 12 - 31),
            counties: vec![RegionCode::parse("419921").unwrap()],
            schemes: vec![FundScheme::Resident],
            fee_per_insured_fen: Fen::new(300),
            revolving_fund_fen: Fen::new(50_000_000),
            review: ReviewTerms { threshold_fen: Fen::new(500_000), sample_rate_bp: 1_000, seed: 20_260_101, bureau_sample_rate_bp: 2_000 },
            kpis: vec![
                KpiTerm { measure: Measure::PaymentDays, weight_bp: 3_000, target: 3_000 },
                KpiTerm { measure: Measure::ErrorRate, weight_bp: 4_000, target: 300 },
                KpiTerm { measure: Measure::Satisfaction, weight_bp: 3_000, target: 9_000 },
            ],
            bands: vec![BandTerm { from_score_bp: 9_000, adjustment_bp: 1_000 }, BandTerm { from_score_bp: 0, adjustment_bp: -1_000 }],
            renewal_floor_bp: 7_000,
        }
    }

    #[test]
    fn terms_are_checked_each_rule_with_its_reason() {
        assert!(terms().check(city()).is_ok());
        let refused = |edit: &dyn Fn(&mut ContractTerms)| {
            let mut t = terms();
            edit(&mut t);
            t.check(city()).unwrap_err().to_string()
        };
        assert!(refused(&|t| t.code = "picc".into()).contains("upper-case"));
        assert!(refused(&|t| t.counties.push(RegionCode::parse("419921").unwrap())).contains("each once"));
        assert!(refused(&|t| t.counties = vec![RegionCode::parse("410102").unwrap()]).contains("419900"));
        assert!(refused(&|t| t.schemes = vec![FundScheme::Supplementary]).contains("basic pooled"));
        assert!(refused(&|t| t.kpis[0].weight_bp = 2_000).contains("9000 bp"));
        assert!(refused(&|t| t.kpis[1].measure = Measure::PaymentDays).contains("twice"));
        assert!(refused(&|t| t.until = date!(2025 - 12 - 31)).contains("service period"));
        assert!(refused(&|t| t.bands[0].adjustment_bp = 20_000).contains("100%"));
        assert!(refused(&|t| t.review.bureau_sample_rate_bp = 0).contains("bureau"));
    }

    #[test]
    fn a_quarter_reads_and_bounds_its_days() {
        let q = Quarter::parse("2026Q4").unwrap();
        assert_eq!(q.days(), (date!(2026 - 10 - 01), date!(2026 - 12 - 31)));
        assert_eq!(Quarter::parse("2024Q1").unwrap().days().1, date!(2024 - 03 - 31));
        for bad in ["2026Q5", "2026Q0", "26Q1", "2026q1", "2026Q12", "Q1", "2026"] {
            assert_eq!(Quarter::parse(bad), None, "{bad}");
        }
        assert_eq!(q.to_string(), "2026Q4");
    }

    #[test]
    fn a_quarter_posts_its_fee_through_the_special_account() {
        let record = QuarterRecord {
            city: city(),
            code: "PICC419900".into(),
            quarter: "2026Q4".into(),
            insured: 1_000,
            fee_fen: Fen::new(75_000),
            kpis: Vec::new(),
            sample: SampleFindings {
                population: 0,
                sampled: 0,
                in_error: 0,
                error_rate_bp: 0,
                interval_low_bp: 0,
                interval_high_bp: 0,
                disallowed_fen: Fen::ZERO,
            },
            score_bp: 9_500,
            adjustment_fen: Fen::new(7_500),
            paid_fen: Fen::new(82_500),
            renewal_recommended: true,
            fund: FundScheme::Resident,
            value_date: date!(2027 - 01 - 05),
            scored_by: "admin".into(),
            scored_at: time::macros::datetime!(2027-01-05 09:00 UTC),
        };
        let entries = quarter_entries(&record).unwrap();
        let legs: Vec<(String, String, String, i64)> = entries
            .iter()
            .map(|e| (e.transfer.id.to_string(), e.transfer.debit.to_string(), e.transfer.credit.to_string(), e.transfer.amount_fen.get()))
            .collect();
        assert_eq!(
            legs,
            [
                (
                    "afee/PICC419900/2026Q4/in".to_owned(),
                    "resident@419900/region:419900/fiscal-special".to_owned(),
                    "resident@419900/finance:419900/external".to_owned(),
                    82_500
                ),
                (
                    "afee/PICC419900/2026Q4/out".to_owned(),
                    "resident@419900/insurer:PICC419900/external".to_owned(),
                    "resident@419900/region:419900/fiscal-special".to_owned(),
                    82_500
                ),
            ]
        );
    }
}
