//! Commercial administrators under contract (商业保险机构经办, issue 18; R-TPA-1, R-TPA-3):
//! the tender that chose one and the contract it signed (dated terms, the counties and
//! schemes it administers, its administration fee, its revolving fund, how it reviews
//! claims and how it is scored), the entries its score counts (complaints, satisfaction
//! surveys), the bureau's sample of its quarter, and the quarter's score with the fee and
//! its reward or penalty posted to the fund books; and, when the contract has the insurer
//! underwrite the supplementary layer (补充医疗保险, ZZ-NCMS §三(五)), the quarter's premium
//! and what the insurer owes back for the layer the fund paid hospitals.
//!
//! The rules both stores apply are here, pure: a contract's terms checked once
//! ([`ContractTerms::check`]), a quarter's bounds ([`Quarter`]), what a scored quarter
//! posts ([`quarter_entries`]), read again by the book check from its audit entry.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use yibao_domain::{Fen, RegionCode};
use yibao_ledger::{AccountKey, AccountKind, Fund, FundScheme, Holder, PartyCode, Reason, RecordKind};

use crate::books::{Entry, SettlementAmounts, cause, fund_for, record_transfer_id};
use crate::{Actor, StoreError};

/// Most counties one contract covers.
pub const CONTRACT_COUNTIES_MAX: usize = 64;
/// Most contracts a city lists.
pub const CONTRACTS_LISTED_MAX: usize = 200;
/// Most entries (complaints, surveys) one quarter's listing answers.
pub const ENTRIES_LISTED_MAX: usize = 10_000;
/// Most claims one quarter's sample reads: above it the quarter is refused, not truncated.
pub const QUARTER_CLAIMS_MAX: usize = 2_000_000;
/// Most claims reaching the supplementary layer one county's underwriting reads, over a
/// contract of up to five years (each is read whole, with its findings): above it the
/// quarter is refused, not truncated.
pub const UNDERWRITTEN_CLAIMS_MAX: usize = 20_000;
/// The most a contract's fee per insured person and year may be: 1,000 yuan.
pub const FEE_PER_INSURED_MAX_FEN: i64 = 100_000;
/// The largest revolving fund a contract may set: 1 billion yuan.
pub const REVOLVING_FUND_MAX_FEN: i64 = 100_000_000_000;

/// The longest administrator's code.
pub const CODE_CHARS_MAX: usize = 16;

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
    /// The supplementary insurance premium (补充医疗保险保费) a year, per person of its
    /// counties and schemes with supplementary cover, when the insurer also underwrites the
    /// supplementary layer of their claims (ZZ-NCMS's is 10 yuan: 9 personal, 1 subsidy);
    /// zero when it does not ([`ContractTerms::underwrites`]).
    #[serde(default)]
    pub supplementary_premium_fen: Fen,
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
        if self.code.len() > CODE_CHARS_MAX {
            return Err(bad(format!("the code '{}' is 1 to {CODE_CHARS_MAX} upper-case letters and digits", self.code)));
        }
        PartyCode::parse(&self.code)
            .map_err(|_| bad(format!("the code '{}' is 1 to {CODE_CHARS_MAX} upper-case letters and digits", self.code)))?;
        check_text("the name", &self.name)?;
        check_text("the tender's reference", &self.tender.reference)?;
        if self.tender.bidders == 0 {
            return Err(bad("a public tender had at least one bidder".into()));
        }
        if !(self.tender.awarded_on <= self.signed_on && self.from <= self.until) {
            return Err(bad("the tender is awarded before the contract is signed, and the service period ends after it starts".into()));
        }
        if self.from.year() < 2000 || self.until.year() > 2100 {
            return Err(bad("the service period lies within the years 2000 to 2100, whose quarters are scored".into()));
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
        let basic = [FundScheme::Employee, FundScheme::Resident];
        let mut schemes = self.schemes.clone();
        schemes.sort();
        schemes.dedup();
        if self.schemes.is_empty() || schemes.len() != self.schemes.len() || self.schemes.iter().any(|s| !basic.contains(s)) {
            return Err(bad("the schemes are the basic schemes in force (employee, resident), each once".into()));
        }
        if !(0..=FEE_PER_INSURED_MAX_FEN).contains(&self.fee_per_insured_fen.get())
            || !(0..=REVOLVING_FUND_MAX_FEN).contains(&self.revolving_fund_fen.get())
        {
            return Err(bad("the fee per insured is 0 to 1,000 yuan a year, the revolving fund 0 to 1 billion yuan".into()));
        }
        if !(0..=FEE_PER_INSURED_MAX_FEN).contains(&self.supplementary_premium_fen.get()) {
            return Err(bad("the supplementary premium is 0 to 1,000 yuan a person a year".into()));
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
        for (i, band) in self.bands.iter().enumerate() {
            if self.bands[..i].iter().any(|b| b.from_score_bp == band.from_score_bp) {
                return Err(bad(format!("two bands start at {} bp: a score falls in one band", band.from_score_bp)));
            }
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

    /// Where another contract's terms cover the same county and scheme on a common day: one
    /// administrator a claim (`administrator.overlaps`).
    #[must_use]
    pub fn overlap_with(&self, other: &ContractTerms) -> Option<String> {
        if self.until < other.from || other.until < self.from {
            return None;
        }
        let county = self.counties.iter().find(|c| other.counties.contains(c))?;
        let scheme = self.schemes.iter().find(|s| other.schemes.contains(s))?;
        Some(format!(
            "{} administers {county}'s {} claims from {} to {}: one administrator a county and scheme at a time",
            other.code,
            scheme.as_str(),
            other.from,
            other.until
        ))
    }

    /// The days of `from..=to` within the service period.
    #[must_use]
    pub fn days_within(&self, from: Date, to: Date) -> i64 {
        let (start, end) = (from.max(self.from), to.min(self.until));
        if start > end { 0 } else { (end - start).whole_days() + 1 }
    }

    /// Whether the insurer underwrites the supplementary layer of its claims.
    #[must_use]
    pub fn underwrites(&self) -> bool {
        self.supplementary_premium_fen.get() > 0
    }

    /// Whether a quarter starting on `first_day` is one of an underwriting contract's
    /// run-off quarters: any after its service period. A stay of the period's last weeks is
    /// settled, and a claim of it reversed or deducted from, after the contract's last
    /// quarter, however long after (a reversal has no deadline); a run-off quarter pays no
    /// fee and no premium and recovers (or gives back) only what changed, so the run-off
    /// never closes (hostile review: a reversal fifteen months on was never given back).
    #[must_use]
    pub fn in_run_off(&self, first_day: Date) -> bool {
        self.underwrites() && first_day > self.until
    }

    /// A quarter `(from, to)`'s share of a yearly amount per person for `persons`: a quarter
    /// of it, for the days of the quarter the contract served (a contract starting or ending
    /// within it is paid for its part; a run-off quarter nothing), rounded once by the
    /// pack's rule. The administration fee and the supplementary premium are both paid so.
    /// An amount beyond what one transfer holds is refused (`administrator.bad_terms`).
    pub fn quarter_share(
        &self,
        persons: u64,
        per_year_fen: Fen,
        (from, to): (Date, Date),
        rounding: yibao_domain::Rounding,
    ) -> Result<Fen, StoreError> {
        let served = i128::from(self.days_within(from, to));
        let quarter_days = i128::from((to - from).whole_days() + 1);
        let (numerator, denominator) = (i128::from(persons) * i128::from(per_year_fen.get()) * served, 4 * quarter_days);
        // Bounded before rounding, which holds only what one amount can.
        if numerator / denominator >= i128::from(yibao_domain::FEN_LIMIT / 2) {
            return Err(bad(format!(
                "a quarter's share of {per_year_fen} yuan a year for {persons} persons is beyond what one amount holds"
            )));
        }
        Ok(Fen::new(rounding.round_div(numerator, denominator)))
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
    /// The seed of the bureau's audit sample, drawn by the service when the contract is
    /// signed and never shown to the administrator ([`ContractRecord::as_seen_by_administrator`]).
    #[serde(default)]
    pub bureau_seed: u64,
}

impl ContractRecord {
    /// The contract as its administrator reads it: without the bureau's seed, so it cannot
    /// tell which of its claims the bureau will read.
    #[must_use]
    pub fn as_seen_by_administrator(mut self) -> ContractRecord {
        self.bureau_seed = 0;
        self
    }
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
    /// A run-off quarter of an underwriting contract ([`ContractTerms::in_run_off`]): no
    /// fee, no premium, no renewal recommended; only the recovery.
    #[serde(default)]
    pub run_off: bool,
    /// When the insurer underwrites the supplementary layer: each county's premium and
    /// recovery (none when it does not).
    #[serde(default)]
    pub supplementary: Vec<SupplementaryLine>,
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

/// One county's supplementary layer in a scored quarter, when the contract has the insurer
/// underwrite it (承保): the premium the fund pays it, and what it pays the fund back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementaryLine {
    pub county: RegionCode,
    /// Persons of the county and the contract's schemes with supplementary cover on the
    /// quarter's last day.
    pub insured: u64,
    /// A quarter of the yearly premium for them, for the days of the quarter the contract
    /// served.
    pub premium_fen: Fen,
    /// The claims it underwrites, as read when the quarter was recorded ([`owed_by_county`]):
    /// how many, and what the county's supplementary fund owes their hospitals for them.
    pub claims: u64,
    pub owed_to_date_fen: Fen,
    /// What the insurer pays the fund back this quarter: owed to date less what the
    /// contract's quarters scored before recovered in the county ([`with_recoveries`]);
    /// below zero, what the fund gives back (a claim reversed or deducted from since).
    pub recovery_fen: Fen,
}

/// A settled claim of an underwriting contract's counties that reached the supplementary
/// layer, with its findings, as a store reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupplementaryClaim {
    pub claim: crate::ClaimRecord,
    pub findings: Vec<crate::review::FindingRecord>,
}

/// What each of the contract's counties' supplementary fund owes hospitals, now, for the
/// claims the insurer underwrites: the claims of its counties and schemes whose day of care
/// (the admission day) falls within its service period, whenever settled; each claim's
/// supplementary layer less what findings deduct, a reversed claim nothing
/// ([`crate::review::supplementary_owed`]). By county: (claims, owed). A claim a store read
/// outside the contract's scope is left out, whatever the store read.
pub fn owed_by_county(
    terms: &ContractTerms,
    claims: &[SupplementaryClaim],
) -> Result<std::collections::BTreeMap<RegionCode, (u64, Fen)>, StoreError> {
    let mut owed: std::collections::BTreeMap<RegionCode, (u64, Fen)> = terms.counties.iter().map(|c| (*c, (0, Fen::ZERO))).collect();
    for SupplementaryClaim { claim, findings } in claims {
        let scheme = SettlementAmounts::from_stored(&claim.settlement_json).map_err(StoreError::Backend)?.pooled;
        let care_day = crate::claim_admission(&claim.claim_json).ok_or_else(|| {
            StoreError::Backend(format!(
                "claim {}/{}: the stored claim has no readable admission day",
                claim.institution_code, claim.claim_id
            ))
        })?;
        if !terms.covers(claim.region, scheme, care_day) {
            continue;
        }
        let amount = crate::review::supplementary_owed(claim, findings)?;
        if let Some((count, total)) = owed.get_mut(&claim.region)
            && !amount.is_zero()
        {
            *count += 1;
            *total += amount;
        }
    }
    Ok(owed)
}

/// A scored quarter's supplementary lines completed inside the store's transaction, from
/// what each county's fund is owed now for the claims the insurer underwrites (`owed`,
/// [`owed_by_county`], read in the same transaction) and the contract's quarters scored
/// before: each county's recovery is what it is owed less what those quarters recovered
/// there. So the quarters' recoveries always add up to what the fund is owed at the latest
/// scoring, whatever was reversed or deducted between them, in whichever order quarters
/// are scored; a claim reversed after its quarter is given back (a negative recovery).
pub fn with_recoveries(
    mut record: QuarterRecord,
    owed: &std::collections::BTreeMap<RegionCode, (u64, Fen)>,
    scored: &[QuarterRecord],
) -> QuarterRecord {
    for line in &mut record.supplementary {
        let (claims, owed_fen) = owed.get(&line.county).copied().unwrap_or((0, Fen::ZERO));
        let recovered: Fen = scored
            .iter()
            .filter(|q| q.code == record.code)
            .flat_map(|q| &q.supplementary)
            .filter(|l| l.county == line.county)
            .map(|l| l.recovery_fen)
            .sum();
        (line.claims, line.owed_to_date_fen, line.recovery_fen) = (claims, owed_fen, owed_fen - recovered);
    }
    record
}

/// What a scored quarter posts on its day: city finance pays the fee with its reward or
/// penalty into the fund's fiscal special account, and the account pays it to the
/// administrator (`afee/{code}/{quarter}/in|out`, reason `administration-fee`). The fund's
/// surplus is unchanged; its statements by payer and payee show who paid and who was paid.
///
/// An underwriting insurer's lines then post in each county's unit of the supplementary
/// fund, where its layer was spent: the insurer pays back the quarter's recovery into the
/// fund's fiscal special account (`…/recovery-{county}`, reason `supplementary-recovery`),
/// or is given back a negative one (`…/refund-{county}`, same reason), and is paid the
/// quarter's premium (`…/premium-{county}`, reason `supplementary-premium`). Premium and
/// recovery are the county fund's spending (`income_and_spending`).
pub fn quarter_entries(record: &QuarterRecord) -> Result<Vec<Entry>, StoreError> {
    let id = record.record_id();
    let cause = cause(RecordKind::AdministratorQuarter, &id)?;
    let insurer = Holder::insurer(&record.code).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let transfer = |leg: &str, (debit, credit), amount_fen, reason| {
        yibao_ledger::Transfer::new(
            record_transfer_id("afee", &id, leg),
            debit,
            credit,
            amount_fen,
            reason,
            cause.clone(),
            record.value_date,
        )
    };
    let mut entries = Vec::new();
    if !record.paid_fen.is_zero() {
        let fund = fund_for(record.fund, record.city);
        let finance = AccountKey::new(fund, Holder::Finance(record.city), AccountKind::External);
        let to_insurer = AccountKey::new(fund, insurer, AccountKind::External);
        let fee = Reason::AdministrationFee;
        entries.push(Entry { unit: record.city, transfer: transfer("in", (AccountKey::special(fund), finance), record.paid_fen, fee) });
        entries.push(Entry { unit: record.city, transfer: transfer("out", (to_insurer, AccountKey::special(fund)), record.paid_fen, fee) });
    }
    let supplementary = fund_for(FundScheme::Supplementary, record.city);
    let (special, underwriter) = (AccountKey::special(supplementary), AccountKey::new(supplementary, insurer, AccountKind::External));
    for line in &record.supplementary {
        let unit = line.county;
        let recovery = line.recovery_fen;
        if recovery.get() > 0 {
            let leg = format!("recovery-{unit}");
            entries.push(Entry { unit, transfer: transfer(&leg, (special, underwriter), recovery, Reason::SupplementaryRecovery) });
        } else if recovery.is_negative() {
            let leg = format!("refund-{unit}");
            entries.push(Entry {
                unit,
                transfer: transfer(&leg, (underwriter, special), Fen::new(-recovery.get()), Reason::SupplementaryRecovery),
            });
        }
        if line.premium_fen.get() > 0 {
            let leg = format!("premium-{unit}");
            entries.push(Entry { unit, transfer: transfer(&leg, (underwriter, special), line.premium_fen, Reason::SupplementaryPremium) });
        }
    }
    Ok(entries)
}

/// The text bounds a day range's stored timestamps fall within, a day wider each side: the
/// stored text is compared coarsely, the moment exactly after reading ([`on_days`]).
#[must_use]
pub fn settled_bounds(from: Date, to: Date) -> (String, String) {
    (crate::review::settled_since(from), crate::books::date_text(to.next_day().and_then(Date::next_day).unwrap_or(to)))
}

/// Whether a moment falls on a city day (UTC+8) of `from..=to`.
#[must_use]
pub fn on_days(at: OffsetDateTime, from: Date, to: Date) -> bool {
    let day = yibao_domain::city_day(at);
    from <= day && day <= to
}

/// The contract the new terms overlap, as a refusal (`administrator.overlaps`).
pub fn check_no_overlap(existing: &[ContractRecord], terms: &ContractTerms) -> Result<(), StoreError> {
    match existing.iter().filter(|c| c.active).find_map(|c| terms.overlap_with(&c.terms)) {
        Some(why) => Err(StoreError::Refused { code: "administrator.overlaps", message: why }),
        None => Ok(()),
    }
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

/// What a store's read of the claims an underwriting contract covers is bounded by, as
/// stored text: settled on or after the first (a claim is settled on or after its day of
/// care, [`crate::review::settled_since`]), a day of care from the second to the third.
#[must_use]
pub fn underwritten_bounds(terms: &ContractTerms) -> (String, String, String) {
    (crate::review::settled_since(terms.from), crate::books::date_text(terms.from), crate::books::date_text(terms.until))
}

/// Refuses a county's underwriting above [`UNDERWRITTEN_CLAIMS_MAX`] claims rather than
/// recover part of them (`administrator.quarter_too_large`).
pub fn check_underwritten_size(claims: usize, county: RegionCode) -> Result<(), StoreError> {
    if claims > UNDERWRITTEN_CLAIMS_MAX {
        return Err(StoreError::Refused {
            code: "administrator.quarter_too_large",
            message: format!(
                "more than {UNDERWRITTEN_CLAIMS_MAX} claims of {county} the insurer underwrites reached the supplementary layer: more than one reading holds"
            ),
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
    /// The flags raised on claims of the county up to the quarter's end, decided or not.
    pub flags: Vec<QuarterFlag>,
    /// Bureau findings on claims of the county, standing or confirmed: (institution, claim, amount).
    pub bureau_findings: Vec<(String, String, Fen)>,
}

/// A flag as a quarter's measures read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarterFlag {
    pub raised_at: OffsetDateTime,
    pub decided_at: Option<OffsetDateTime>,
    pub hold: bool,
    pub institution_code: String,
    pub claim_id: String,
}

impl QuarterFlag {
    #[must_use]
    pub fn of(flag: &crate::review::FlagRecord) -> QuarterFlag {
        QuarterFlag {
            raised_at: flag.raised_at,
            decided_at: flag.decided_at,
            hold: flag.flag.hold,
            institution_code: flag.institution_code.clone(),
            claim_id: flag.claim_id.clone(),
        }
    }
}

/// Insured persons of a county and basic scheme on a day, and how many of them had
/// supplementary cover with that spell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsuredCount {
    pub county: RegionCode,
    pub scheme: FundScheme,
    pub insured: u64,
    pub supplementary: u64,
}

/// Insured persons by the county and scheme of the spell they were in on a day.
pub type InsuredOn = Vec<InsuredCount>;

/// The persons of `county` and the contract's schemes with supplementary cover, by the
/// coverage counted: whom an underwriting insurer's premium is paid for.
#[must_use]
pub fn supplementary_insured(terms: &ContractTerms, insured: &InsuredOn, county: RegionCode) -> u64 {
    insured.iter().filter(|c| c.county == county && terms.schemes.contains(&c.scheme)).map(|c| c.supplementary).sum()
}

/// Counts the insured of `persons` (their coverage now and their past spells) by the county
/// and scheme of the spell in force on `on`; a person insured nowhere that day is not counted.
pub fn count_insured<'a>(
    persons: impl Iterator<Item = (&'a yibao_engine::Coverage, &'a [yibao_engine::PastCoverage])>,
    on: Date,
) -> InsuredOn {
    let mut counts: std::collections::BTreeMap<(RegionCode, FundScheme), (u64, u64)> = std::collections::BTreeMap::new();
    for (current, history) in persons {
        let spell = match yibao_engine::spell_on(current, history, on) {
            // The coverage now, if it covers the day (else none does).
            yibao_engine::SpellOn::Current => {
                (current.coverage_from <= on && current.coverage_until.is_none_or(|until| on <= until)).then_some(current)
            }
            yibao_engine::SpellOn::Past(past) | yibao_engine::SpellOn::OtherScheme(past) => Some(&past.coverage),
        };
        if let Some(spell) = spell
            && let Some(scheme) = FundScheme::parse(spell.scheme.as_str())
        {
            let count = counts.entry((spell.region, scheme)).or_default();
            count.0 += 1;
            count.1 += u64::from(spell.supplementary);
        }
    }
    counts.into_iter().map(|((county, scheme), (insured, supplementary))| InsuredCount { county, scheme, insured, supplementary }).collect()
}

/// The bureau's draw of its audit sample among a contract's claims: with the contract's
/// bureau seed, which the administrator never reads, so it cannot tell which claims the
/// bureau will read.
#[must_use]
pub fn in_bureau_sample(contract: &ContractRecord, claim: &QuarterClaim) -> bool {
    let key = crate::books::settlement_record_id(&claim.institution_code, &claim.claim_id);
    yibao_engine::review::drawn(contract.bureau_seed, &key, contract.terms.review.bureau_sample_rate_bp)
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
    contract: &ContractRecord,
    (from, to): (Date, Date),
    counties: &[CountyQuarter],
    runs: &[Date],
    entries: &[PerformanceEntry],
    insured: &InsuredOn,
    (as_of, rounding): (Date, yibao_domain::Rounding),
) -> Result<QuarterMeasures, StoreError> {
    let terms = &contract.terms;
    let mut runs = runs.to_vec();
    runs.sort();
    let covered: Vec<&QuarterClaim> = counties.iter().flat_map(|c| covered_claims(terms, c)).collect();
    let keys: std::collections::HashSet<(&str, &str)> =
        covered.iter().map(|c| (c.institution_code.as_str(), c.claim_id.as_str())).collect();
    let flags: Vec<&QuarterFlag> =
        counties.iter().flat_map(|c| &c.flags).filter(|f| keys.contains(&(f.institution_code.as_str(), f.claim_id.as_str()))).collect();
    // Payment: the first run on or after the later of the settlement and its holds'
    // decisions. A claim a hold still holds, or no run has paid yet, counts as waiting until
    // the day of scoring: an unpaid claim never improves the measure.
    let mut holds: std::collections::HashMap<(&str, &str), Option<Date>> = std::collections::HashMap::new();
    for flag in flags.iter().filter(|f| f.hold) {
        let day = flag.decided_at.map(yibao_domain::city_day);
        let entry = holds.entry((flag.institution_code.as_str(), flag.claim_id.as_str())).or_insert(day);
        *entry = match (*entry, day) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    let (mut paid, mut waiting_days_centi) = (0_u64, 0_u64);
    for claim in &covered {
        let settled = yibao_domain::city_day(claim.settled_at);
        let due = match holds.get(&(claim.institution_code.as_str(), claim.claim_id.as_str())) {
            None => Some(settled),
            Some(decided) => decided.map(|d| d.max(settled)),
        };
        let paid_on = due.and_then(|due| runs.iter().find(|r| **r >= due && **r <= as_of).copied());
        if paid_on.is_some() {
            paid += 1;
        }
        let until = paid_on.unwrap_or(as_of);
        waiting_days_centi += u64::try_from((until - settled).whole_days()).unwrap_or(0) * 100;
    }
    let claims_counted = covered.len() as u64;
    let average = |total: u64, n: u64| if n == 0 { 0 } else { (total * 2 + n) / (n * 2) };
    // Review: flags on its claims decided in the quarter.
    let decided: Vec<(OffsetDateTime, OffsetDateTime)> =
        flags.iter().filter_map(|f| f.decided_at.filter(|at| on_days(*at, from, to)).map(|at| (f.raised_at, at))).collect();
    let review_centi: u64 =
        decided.iter().map(|(raised, decided)| u64::try_from((*decided - *raised).whole_seconds()).unwrap_or(0) * 100 / 86_400).sum();
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
        if in_bureau_sample(contract, claim) {
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
                average(waiting_days_centi, claims_counted),
                format!(
                    "{paid} of {claims_counted} claims paid by {as_of}; days from settlement to the run that paid them (the unpaid: to {as_of}), in hundredths"
                ),
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
    let insured =
        insured.iter().filter(|c| terms.counties.contains(&c.county) && terms.schemes.contains(&c.scheme)).map(|c| c.insured).sum();
    Ok(QuarterMeasures { actuals, sample, insured })
}

/// What moves an administrator's revolving fund (周转金, R-TPA-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevolvingKind {
    /// The bureau tops the fund up to the contract's size from the fund's fiscal special
    /// account: the first advance, then after each month's payments.
    TopUp,
    /// The administrator pays the institutions of its scope what the fund owes them, from
    /// the revolving fund, as far as it holds.
    Payment,
}

/// One institution's payment from a revolving fund: the county whose insured it treated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevolvingLine {
    pub unit: RegionCode,
    pub institution: String,
    pub amount_fen: Fen,
}

/// A movement of a revolving fund, as its audit entry keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevolvingBooking {
    pub city: RegionCode,
    pub code: String,
    pub scheme: FundScheme,
    /// 1, 2, … per administrator and scheme.
    pub seq: u32,
    pub kind: RevolvingKind,
    pub on: Date,
    /// The fund's balance before the booking.
    pub balance_before_fen: Fen,
    /// A top-up's amount; a payment's lines.
    pub top_up_fen: Fen,
    pub lines: Vec<RevolvingLine>,
}

impl RevolvingBooking {
    /// `{code}/{scheme}/{seq}`: its cause and audit entity.
    #[must_use]
    pub fn record_id(&self) -> String {
        format!("{}/{}/{}", self.code, self.scheme.as_str(), self.seq)
    }

    /// What it moves in all.
    #[must_use]
    pub fn amount_fen(&self) -> Fen {
        self.top_up_fen + self.lines.iter().map(|l| l.amount_fen).sum::<Fen>()
    }
}

/// The revolving fund's account: the administrator's expenditure account (支出户) in the
/// scheme's fund of the city.
#[must_use]
pub fn revolving_account(city: RegionCode, scheme: FundScheme, code: &str) -> Option<AccountKey> {
    let insurer = Holder::insurer(code).ok()?;
    Some(AccountKey::new(fund_for(scheme, city), insurer, AccountKind::Expenditure))
}

/// What a booking posts on its day: a top-up from the fund's fiscal special account
/// (`disbursement`), or each institution's payment from the revolving fund off its payable
/// in its county (`institution-payment`); ids `rvf/{code}/{scheme}/{seq}/…`.
pub fn revolving_entries(booking: &RevolvingBooking) -> Result<Vec<Entry>, StoreError> {
    let id = booking.record_id();
    let cause = cause(RecordKind::RevolvingFund, &id)?;
    let account = revolving_account(booking.city, booking.scheme, &booking.code)
        .ok_or_else(|| StoreError::Invalid(format!("'{}' is not an administrator's code", booking.code)))?;
    let fund = fund_for(booking.scheme, booking.city);
    let mut entries = Vec::new();
    if booking.top_up_fen.get() > 0 {
        entries.push(Entry {
            unit: booking.city,
            transfer: yibao_ledger::Transfer::new(
                record_transfer_id("rvf", &id, "top-up"),
                account,
                AccountKey::special(fund),
                booking.top_up_fen,
                Reason::Disbursement,
                cause.clone(),
                booking.on,
            ),
        });
    }
    for line in booking.lines.iter().filter(|l| l.amount_fen.get() > 0) {
        let institution = Holder::institution(&line.institution).map_err(|e| StoreError::Invalid(e.to_string()))?;
        entries.push(Entry {
            unit: line.unit,
            transfer: yibao_ledger::Transfer::new(
                record_transfer_id("rvf", &id, &format!("{}/{}", line.unit, line.institution)),
                AccountKey::new(fund, institution, AccountKind::Payable),
                account,
                line.amount_fen,
                Reason::InstitutionPayment,
                cause.clone(),
                booking.on,
            ),
        });
    }
    Ok(entries)
}

/// Plans a booking from what the books hold on its day: a top-up of what the fund lacks of
/// the contract's size; a payment of each institution's outstanding in the contract's
/// counties less what is `held` (claims a monitoring hold holds), in (county, institution)
/// order, as far as the balance goes (the rest waits for the next payment, after a top-up).
#[must_use]
pub fn plan_revolving(
    contract: &ContractRecord,
    scheme: FundScheme,
    (kind, seq, on): (RevolvingKind, u32, Date),
    balance_fen: Fen,
    outstanding: &[RevolvingLine],
    held: &[RevolvingLine],
) -> RevolvingBooking {
    let mut booking = RevolvingBooking {
        city: contract.city,
        code: contract.terms.code.clone(),
        scheme,
        seq,
        kind,
        on,
        balance_before_fen: balance_fen,
        top_up_fen: Fen::ZERO,
        lines: Vec::new(),
    };
    match kind {
        RevolvingKind::TopUp => {
            let lacking = contract.terms.revolving_fund_fen - balance_fen;
            booking.top_up_fen = if lacking.is_negative() { Fen::ZERO } else { lacking };
        }
        RevolvingKind::Payment => {
            let mut left = balance_fen;
            let mut lines: Vec<RevolvingLine> = outstanding
                .iter()
                .filter(|l| contract.terms.counties.contains(&l.unit))
                .map(|l| {
                    let held_fen: Fen =
                        held.iter().filter(|h| h.unit == l.unit && h.institution == l.institution).map(|h| h.amount_fen).sum();
                    RevolvingLine { amount_fen: l.amount_fen - held_fen, ..l.clone() }
                })
                .filter(|l| l.amount_fen.get() > 0)
                .collect();
            lines.sort_by(|a, b| (a.unit, &a.institution).cmp(&(b.unit, &b.institution)));
            for line in &lines {
                let pay = if line.amount_fen > left { left } else { line.amount_fen };
                if pay.get() > 0 {
                    booking.lines.push(RevolvingLine { amount_fen: pay, ..line.clone() });
                    left -= pay;
                }
            }
        }
    }
    booking
}

/// Administrators' contracts and their quarters as stored. Every write is audited; a
/// scored quarter posts in its transaction, once.
pub trait AdministratorStore: Send + Sync + 'static {
    /// Records a contract with its administrator's API key (a digest) and the bureau's
    /// sample seed; refuses a code taken (`administrator.exists`) and terms that cover a
    /// county and scheme another contract covers on a common day (`administrator.overlaps`).
    fn create_contract(
        &self,
        actor: &Actor,
        city: RegionCode,
        terms: ContractTerms,
        key_and_seed: (String, u64),
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

    /// An administrator's entries dated `from..=to`, at most [`ENTRIES_LISTED_MAX`] and one
    /// more: a caller that gets more than the most refuses rather than count part of them.
    fn performance_entries(
        &self,
        city: RegionCode,
        code: &str,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<PerformanceEntry>, StoreError>> + Send;

    /// What a quarter's measures read of one county: its settled claims of `from..=to`
    /// (refused above [`QUARTER_CLAIMS_MAX`]), the flags raised on its claims by `to`, and
    /// the bureau's findings on its claims.
    fn county_quarter(&self, county: RegionCode, from: Date, to: Date) -> impl Future<Output = Result<CountyQuarter, StoreError>> + Send;

    /// The city's insured by the county and scheme of the spell in force on `on` (a person
    /// who moved since is counted where they were).
    fn insured_on(&self, city: RegionCode, on: Date) -> impl Future<Output = Result<InsuredOn, StoreError>> + Send;

    /// Records a scored quarter and posts its fee, once (`administrator.quarter_scored`).
    /// An underwriting insurer's lines are completed in the same transaction: the claims it
    /// underwrites read there (those of each county still settled whose supplementary layer
    /// paid something, of its schemes' insurance types and a day of care in its service
    /// period, with their findings; at most [`UNDERWRITTEN_CLAIMS_MAX`] a county, refused
    /// above), what the fund is owed for them ([`owed_by_county`]), and the recovery from
    /// the quarters scored before ([`with_recoveries`]).
    fn record_quarter(&self, actor: &Actor, record: QuarterRecord) -> impl Future<Output = Result<QuarterRecord, StoreError>> + Send;

    /// Books a movement of an administrator's revolving fund in `scheme`, planned inside the
    /// transaction from the books as they stand on `on` ([`plan_revolving`]: the account's
    /// balance, and for a payment each institution's outstanding in the contract's
    /// counties, less what `held` holds back: claims a monitoring hold still holds), posted
    /// with its audit entry; a booking that moves nothing is not kept.
    fn book_revolving(
        &self,
        actor: &Actor,
        contract: &ContractRecord,
        scheme: FundScheme,
        booking: (RevolvingKind, Date),
        held: Vec<RevolvingLine>,
    ) -> impl Future<Output = Result<RevolvingBooking, StoreError>> + Send;

    /// An administrator's revolving-fund bookings, latest first.
    fn revolving_bookings(&self, city: RegionCode, code: &str) -> impl Future<Output = Result<Vec<RevolvingBooking>, StoreError>> + Send;

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
            supplementary_premium_fen: Fen::ZERO,
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
        assert!(refused(&|t| t.schemes = vec![FundScheme::Supplementary]).contains("basic schemes"));
        assert!(refused(&|t| t.kpis[0].weight_bp = 2_000).contains("9000 bp"));
        assert!(refused(&|t| t.kpis[1].measure = Measure::PaymentDays).contains("twice"));
        assert!(refused(&|t| t.until = date!(2025 - 12 - 31)).contains("service period"));
        assert!(refused(&|t| t.bands[0].adjustment_bp = 20_000).contains("100%"));
        assert!(refused(&|t| t.review.bureau_sample_rate_bp = 0).contains("bureau"));
        assert!(refused(&|t| t.code = "A".repeat(17)).contains("1 to 16"));
        assert!(refused(&|t| t.schemes = vec![FundScheme::Ncms]).contains("in force"));
        assert!(refused(&|t| (t.from, t.until) = (date!(1900 - 01 - 01), date!(1900 - 12 - 31))).contains("2000 to 2100"));
        assert!(refused(&|t| t.bands.push(BandTerm { from_score_bp: 0, adjustment_bp: 500 })).contains("two bands"));
        assert!(refused(&|t| t.supplementary_premium_fen = Fen::new(-1)).contains("supplementary premium"));
        // An underwriting contract's run-off: every quarter after its end, however late.
        let mut underwriting = terms();
        assert!(!underwriting.in_run_off(date!(2027 - 01 - 01)), "no run-off without underwriting");
        underwriting.supplementary_premium_fen = Fen::new(1_000);
        assert!(!underwriting.in_run_off(date!(2026 - 10 - 01)), "the service period is no run-off");
        assert!(underwriting.in_run_off(date!(2027 - 01 - 01)) && underwriting.in_run_off(date!(2030 - 04 - 01)));
        assert!(refused(&|t| t.supplementary_premium_fen = Fen::new(FEE_PER_INSURED_MAX_FEN + 1)).contains("supplementary premium"));
        // Another contract on the same county and scheme on a common day overlaps.
        let mut other = terms();
        other.code = "CPIC419900".into();
        assert!(terms().overlap_with(&other).is_some_and(|why| why.contains("CPIC419900")));
        (other.from, other.until) = (date!(2027 - 01 - 01), date!(2027 - 12 - 31));
        assert_eq!(terms().overlap_with(&other), None, "one after the other");
        assert_eq!(terms().days_within(date!(2026 - 10 - 01), date!(2026 - 12 - 31)), 92);
        // A quarter's share of a yearly amount: a quarter, for the days served, rounded once.
        let q4 = (date!(2026 - 10 - 01), date!(2026 - 12 - 31));
        let half_up = yibao_domain::Rounding::HalfUp;
        assert_eq!(terms().quarter_share(3, Fen::new(1_001), q4, half_up).unwrap(), Fen::new(751), "3 × 10.01 ÷ 4 = 7.5075");
        let mut late = terms();
        late.from = date!(2026 - 11 - 16);
        assert_eq!(late.quarter_share(92, Fen::new(400), q4, half_up).unwrap(), Fen::new(4_600), "46 of 92 days: half");
        assert_eq!(other.quarter_share(100, Fen::new(400), q4, half_up).unwrap(), Fen::ZERO, "no day served");
        assert!(terms().quarter_share(u64::MAX, Fen::new(100_000), q4, half_up).is_err());
        assert_eq!(other.days_within(date!(2026 - 10 - 01), date!(2026 - 12 - 31)), 0);
    }

    fn contract() -> ContractRecord {
        ContractRecord {
            city: city(),
            terms: terms(),
            signed_by: "admin".into(),
            recorded_at: time::macros::datetime!(2026-01-20 09:00 UTC),
            active: true,
            bureau_seed: 42,
        }
    }

    fn claim(id: &str, settled: OffsetDateTime) -> QuarterClaim {
        QuarterClaim {
            region: RegionCode::parse("419921").unwrap(),
            institution_code: "H41992100007".into(),
            claim_id: id.into(),
            insutype: "390".into(),
            fund_pay_fen: Fen::new(100_000),
            settled_at: settled,
        }
    }

    #[test]
    fn an_unpaid_claim_waits_until_the_scoring_day_and_a_held_one_until_its_decision() {
        let flag = |id: &str, decided: Option<OffsetDateTime>| QuarterFlag {
            raised_at: time::macros::datetime!(2026-11-01 02:00 UTC),
            decided_at: decided,
            hold: true,
            institution_code: "H41992100007".into(),
            claim_id: id.into(),
        };
        let county = CountyQuarter {
            claims: vec![
                claim("A", time::macros::datetime!(2026-11-01 02:00 UTC)),
                claim("B", time::macros::datetime!(2026-11-02 02:00 UTC)),
                claim("C", time::macros::datetime!(2026-11-03 02:00 UTC)),
            ],
            // A is held and never decided; C is held and decided on 12-01 (after the 11-10 run).
            flags: vec![flag("A", None), flag("C", Some(time::macros::datetime!(2026-12-01 02:00 UTC)))],
            bureau_findings: Vec::new(),
        };
        let insured =
            vec![InsuredCount { county: RegionCode::parse("419921").unwrap(), scheme: FundScheme::Resident, insured: 4, supplementary: 2 }];
        let measures = measure_quarter(
            &contract(),
            (date!(2026 - 10 - 01), date!(2026 - 12 - 31)),
            std::slice::from_ref(&county),
            &[date!(2026 - 11 - 10), date!(2026 - 12 - 10)],
            &[],
            &insured,
            (date!(2027 - 01 - 05), yibao_domain::Rounding::HalfUp),
        )
        .unwrap();
        // A: 11-01 to the scoring day 01-05, 65 days; B: paid 11-10, 8 days; C: paid 12-10,
        // 37 days. (65 + 8 + 37) / 3 = 36.67 days.
        assert_eq!(measures.actuals[0].0, Measure::PaymentDays);
        assert_eq!(measures.actuals[0].1, 3_667, "{:?}", measures.actuals[0]);
        assert_eq!(measures.insured, 4);
        // With no run at all, every claim waits until the scoring day: no better for it.
        let none = measure_quarter(
            &contract(),
            (date!(2026 - 10 - 01), date!(2026 - 12 - 31)),
            &[county],
            &[],
            &[],
            &insured,
            (date!(2027 - 01 - 05), yibao_domain::Rounding::HalfUp),
        )
        .unwrap();
        assert!(none.actuals[0].1 > measures.actuals[0].1);
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

    fn quarter_record() -> QuarterRecord {
        QuarterRecord {
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
            run_off: false,
            supplementary: Vec::new(),
            fund: FundScheme::Resident,
            value_date: date!(2027 - 01 - 05),
            scored_by: "admin".into(),
            scored_at: time::macros::datetime!(2027-01-05 09:00 UTC),
        }
    }

    #[test]
    fn a_quarter_posts_its_fee_through_the_special_account() {
        let entries = quarter_entries(&quarter_record()).unwrap();
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

    fn line(county: &str, premium: i64, owed: i64, recovery: i64) -> SupplementaryLine {
        SupplementaryLine {
            county: RegionCode::parse(county).unwrap(),
            insured: 400,
            premium_fen: Fen::new(premium),
            claims: 1,
            owed_to_date_fen: Fen::new(owed),
            recovery_fen: Fen::new(recovery),
        }
    }

    /// Issue 18 item 1: an underwriting insurer pays back each county's recovery, or is
    /// given back a negative one, and is paid the premium, in the supplementary fund and the
    /// county's unit, where the layer was spent.
    #[test]
    fn an_underwriter_pays_back_the_layer_and_is_paid_its_premium_in_each_county() {
        let record = QuarterRecord {
            supplementary: vec![line("419921", 400_000, 12_345, 12_345), line("419922", 0, 0, -2_000)],
            ..quarter_record()
        };
        let entries = quarter_entries(&record).unwrap();
        let legs: Vec<(String, String, String, String, i64, Reason)> = entries[2..]
            .iter()
            .map(|e| {
                (
                    e.unit.to_string(),
                    e.transfer.id.to_string(),
                    e.transfer.debit.to_string(),
                    e.transfer.credit.to_string(),
                    e.transfer.amount_fen.get(),
                    e.transfer.reason,
                )
            })
            .collect();
        let (special, insurer) =
            ("supplementary@419900/region:419900/fiscal-special".to_owned(), "supplementary@419900/insurer:PICC419900/external".to_owned());
        assert_eq!(
            legs,
            [
                (
                    "419921".to_owned(),
                    "afee/PICC419900/2026Q4/recovery-419921".to_owned(),
                    special.clone(),
                    insurer.clone(),
                    12_345,
                    Reason::SupplementaryRecovery
                ),
                // 400 persons × 40.00 yuan ÷ 4.
                (
                    "419921".to_owned(),
                    "afee/PICC419900/2026Q4/premium-419921".to_owned(),
                    insurer.clone(),
                    special.clone(),
                    400_000,
                    Reason::SupplementaryPremium
                ),
                // A claim reversed since: the fund gives back what it was paid for it.
                (
                    "419922".to_owned(),
                    "afee/PICC419900/2026Q4/refund-419922".to_owned(),
                    insurer,
                    special,
                    2_000,
                    Reason::SupplementaryRecovery
                ),
            ]
        );
    }

    /// The quarters' recoveries add up to what the fund is owed at the latest scoring,
    /// whatever was reversed between them; another contract's quarters are not counted; a
    /// county with no claim left is owed nothing.
    #[test]
    fn recoveries_add_up_to_what_the_fund_is_owed_to_date() {
        let east = RegionCode::parse("419921").unwrap();
        let owed = |claims: u64, fen: i64| std::collections::BTreeMap::from([(east, (claims, Fen::new(fen)))]);
        let q3 = QuarterRecord { quarter: "2026Q3".into(), supplementary: vec![line("419921", 0, 0, 0)], ..quarter_record() };
        let q3 = with_recoveries(q3, &owed(2, 10_000), &[]);
        assert_eq!(
            (q3.supplementary[0].claims, q3.supplementary[0].owed_to_date_fen, q3.supplementary[0].recovery_fen),
            (2, Fen::new(10_000), Fen::new(10_000))
        );
        let other = QuarterRecord { code: "CPIC419900".into(), supplementary: vec![line("419921", 0, 99_999, 99_999)], ..q3.clone() };
        // A claim of 3,000 reversed, another of 1,500 settled: 8,500 owed, 1,500 given back.
        let q4 = QuarterRecord { supplementary: vec![line("419921", 0, 0, 0)], ..quarter_record() };
        let q4 = with_recoveries(q4, &owed(2, 8_500), &[q3.clone(), other.clone()]);
        assert_eq!(q4.supplementary[0].recovery_fen, Fen::new(-1_500));
        let total: Fen = [&q3, &q4].iter().map(|q| q.supplementary[0].recovery_fen).sum();
        assert_eq!(total, q4.supplementary[0].owed_to_date_fen);
        // Everything reversed: all of it given back.
        let q1 = QuarterRecord { quarter: "2027Q1".into(), supplementary: vec![line("419921", 0, 0, 0)], ..quarter_record() };
        let q1 = with_recoveries(q1, &std::collections::BTreeMap::new(), &[q3, q4, other]);
        assert_eq!((q1.supplementary[0].claims, q1.supplementary[0].recovery_fen), (0, Fen::new(-8_500)));
    }

    fn stored_claim(id: &str, (county, insutype, admitted): (&str, &str, &str), oth_pay: &str) -> crate::ClaimRecord {
        let region = RegionCode::parse(county).unwrap();
        let settlement = serde_json::json!({
            "insutype": insutype, "medfee_sumamt": "300000.00", "fund_pay_sumamt": format!("{}", Fen::new(15_000_000) + Fen::parse_yuan(oth_pay).unwrap()),
            "psn_part_amt": "0.00", "hifp_pay": "150000.00", "hifmi_pay": "0.00", "hifob_pay": "0.00", "maf_pay": "0.00",
            "oth_pay": oth_pay, "cvlserv_pay": "0.00", "hifes_pay": "0.00", "acct_pay": "0.00", "hosp_part_amt": "0.00",
            "maternity_allowance": "0.00"
        });
        crate::ClaimRecord {
            region,
            institution_code: yibao_domain::InstitutionCode::parse("H41992100007").unwrap(),
            claim_id: id.into(),
            person_id: yibao_domain::NationalId::from_parts(region, date!(1980 - 01 - 01), 1).unwrap(),
            year: 2026,
            status: crate::ClaimStatus::Settled,
            settled_at: time::macros::datetime!(2026-11-20 10:00 UTC),
            medfee_fen: Fen::new(30_000_000),
            fund_pay_fen: Fen::new(15_000_000),
            psn_part_fen: Fen::ZERO,
            settlement_json: settlement.to_string(),
            claim_json: serde_json::json!({ "kind": "inpatient", "admission_date": admitted }).to_string(),
            reversed_at: None,
            reversal_reason: None,
        }
    }

    /// What the fund is owed: the underwritten claims' supplementary layer, net of
    /// findings; not a claim of another scheme, of a care day outside the service period,
    /// or of a county outside the contract; a reversed claim nothing.
    #[test]
    fn the_fund_is_owed_the_layer_of_the_underwritten_claims_net_of_findings() {
        let mut terms = terms();
        terms.counties.push(RegionCode::parse("419922").unwrap());
        let claim = |id, scope, oth| SupplementaryClaim { claim: stored_claim(id, scope, oth), findings: Vec::new() };
        let mut reversed = claim("R", ("419921", "390", "2026-06-01"), "500.00");
        reversed.claim.status = crate::ClaimStatus::Reversed;
        let mut deducted = claim("D", ("419922", "390", "2026-06-01"), "1000.00");
        let rounding = yibao_domain::Rounding::HalfUp;
        let finding = crate::review::new_finding(
            &deducted.claim,
            &[],
            crate::review::NewFinding {
                institution_code: "H41992100007".into(),
                claim_id: "D".into(),
                level: crate::review::ReviewLevel::Bureau,
                rule: "bed days".into(),
                flag_no: None,
                amount_fen: Fen::new(1_510_000),
                evidence: "two bed days too many".into(),
                value_date: date!(2026 - 12 - 01),
                rounding,
            },
            &Actor {
                who: "officer".into(),
                role: "claims_officer".into(),
                source: "test".into(),
                at: time::macros::datetime!(2026-12-01 09:00 UTC),
            },
        )
        .unwrap();
        deducted.findings.push(finding);
        let claims = [
            claim("A", ("419921", "390", "2026-06-01"), "2500.00"),
            claim("B", ("419921", "390", "2026-12-31"), "100.00"),
            claim("employee", ("419921", "310", "2026-06-01"), "700.00"),
            claim("before", ("419921", "390", "2025-12-31"), "900.00"),
            claim("elsewhere", ("419923", "390", "2026-06-01"), "300.00"),
            reversed,
            deducted,
        ];
        let owed = owed_by_county(&terms, &claims).unwrap();
        // 15,100.00 deducted from D's 151,000.00 of fund legs, a tenth: 100.00 of its
        // supplementary 1,000.00.
        assert_eq!(
            owed.into_iter().collect::<Vec<_>>(),
            [(RegionCode::parse("419921").unwrap(), (2, Fen::new(260_000))), (RegionCode::parse("419922").unwrap(), (1, Fen::new(90_000)))]
        );
    }

    /// Whom the premium is paid for: the persons of the county and the contract's schemes
    /// with supplementary cover, not those of another scheme (another contract's).
    #[test]
    fn the_premium_counts_the_county_and_schemes_persons_with_supplementary_cover() {
        let county = RegionCode::parse("419921").unwrap();
        let insured = vec![
            InsuredCount { county, scheme: FundScheme::Resident, insured: 10, supplementary: 4 },
            InsuredCount { county, scheme: FundScheme::Employee, insured: 20, supplementary: 7 },
            InsuredCount { county: RegionCode::parse("419922").unwrap(), scheme: FundScheme::Resident, insured: 30, supplementary: 9 },
        ];
        assert_eq!(supplementary_insured(&terms(), &insured, county), 4);
        let mut both = terms();
        both.schemes.push(FundScheme::Employee);
        assert_eq!(supplementary_insured(&both, &insured, county), 11);
    }
}
