//! Review of settled claims (issue 18): the flags intelligent monitoring raised on a claim
//! at settlement (R-INS-2) and their decisions, and findings (R-TPA-2) that take an amount
//! a review disallowed off what the fund owes the institution, through the ledger and
//! never by editing the settlement; the institution may appeal a finding, and someone
//! other than its reviewer decides the appeal.
//!
//! The rules both stores apply are here, pure: which legs of a settlement a deduction
//! comes off and in what shares ([`plan_legs`]), what a finding posts
//! ([`finding_entries`]) and what its withdrawal posts ([`withdrawal_entries`]), read again
//! by the book check from the audit trail (`records-match-books`).

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use yibao_domain::{Fen, NationalId, RegionCode, Rounding};
use yibao_engine::monitoring::PaidClaim;
use yibao_ledger::{AccountKey, AccountKind, FundScheme, Holder, Reason, RecordKind, SettlementLayer};

use crate::books::{Entry, SettlementAmounts, cause, fund_for, record_transfer_id, settlement_entries, settlement_record_id};
use crate::{Actor, ClaimRecord, ClaimStatus, StoreError};

/// Most flags one listing answers.
pub const FLAGS_LISTED_MAX: usize = 500;
/// Most findings one listing answers.
pub const FINDINGS_LISTED_MAX: usize = 500;
/// Most findings on one claim.
pub const FINDINGS_PER_CLAIM_MAX: usize = 20;
/// Days after a finding within which its institution may appeal it (申诉期): after them a
/// standing finding is final. An assumption of ours: the seeds give no period.
pub const APPEAL_DAYS: i64 = 30;
/// The longest evidence, appeal or decision note, in characters.
pub const REVIEW_TEXT_CHARS_MAX: usize = 2_000;
/// The longest rule a finding names, in characters.
pub const RULE_CHARS_MAX: usize = 100;

/// A flag monitoring raised on a claim at settlement, stored with it in its transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaisedFlag {
    /// The monitoring pack that raised it, `name (from YYYY-MM-DD)`.
    pub pack: String,
    pub rule: String,
    /// Held for review before the fund pays (otherwise a warning, reviewed after).
    pub hold: bool,
    pub message: String,
    pub citation: String,
}

/// What a reviewer decided of a flag: the claim broke the rule, or it did not. The
/// decisions of a rule's flags are its precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagOutcome {
    Confirmed,
    Dismissed,
}

impl FlagOutcome {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FlagOutcome::Confirmed => "confirmed",
            FlagOutcome::Dismissed => "dismissed",
        }
    }

    pub fn parse(text: &str) -> Option<FlagOutcome> {
        [FlagOutcome::Confirmed, FlagOutcome::Dismissed].into_iter().find(|o| o.as_str() == text)
    }
}

/// A flag as stored: where it was raised, what it says, and its decision once made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRecord {
    pub region: RegionCode,
    pub institution_code: String,
    pub claim_id: String,
    /// 1, 2, … within the claim, in the pack's order.
    pub flag_no: u32,
    pub person_id: NationalId,
    #[serde(with = "time::serde::rfc3339")]
    pub raised_at: OffsetDateTime,
    #[serde(flatten)]
    pub flag: RaisedFlag,
    pub outcome: Option<FlagOutcome>,
    pub decided_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub note: Option<String>,
}

/// Which flags a listing answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlagQuery {
    /// Only those not decided yet.
    pub open_only: bool,
    pub institution: Option<String>,
    pub claim_id: Option<String>,
}

/// One rule's flags counted by decision: its precision is confirmed ÷ decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RulePrecision {
    pub rule: String,
    pub raised: u64,
    pub confirmed: u64,
    pub dismissed: u64,
    /// Confirmed per 10,000 decided, once any is decided.
    pub precision_bp: Option<i64>,
}

impl RulePrecision {
    /// The counts, with the precision computed from them (rounded down).
    #[must_use]
    pub fn of(rule: String, raised: u64, confirmed: u64, dismissed: u64) -> RulePrecision {
        let decided = confirmed + dismissed;
        let precision_bp = (decided > 0).then(|| i64::try_from(confirmed * 10_000 / decided).unwrap_or(i64::MAX));
        RulePrecision { rule, raised, confirmed, dismissed, precision_bp }
    }
}

/// The three levels of review (R-TPA-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewLevel {
    /// 自查: the institution's own check of its claim.
    SelfCheck,
    /// 经办机构审核: the commercial administrator's review.
    Administrator,
    /// 医保局稽核: the bureau's audit.
    Bureau,
}

impl ReviewLevel {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ReviewLevel::SelfCheck => "self-check",
            ReviewLevel::Administrator => "administrator",
            ReviewLevel::Bureau => "bureau",
        }
    }

    pub fn parse(text: &str) -> Option<ReviewLevel> {
        [ReviewLevel::SelfCheck, ReviewLevel::Administrator, ReviewLevel::Bureau].into_iter().find(|l| l.as_str() == text)
    }
}

/// Where a finding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingStatus {
    /// Booked; the institution may appeal.
    Standing,
    /// The institution appealed; waiting for a decision.
    Appealed,
    /// The appeal was refused: the deduction stands for good.
    Confirmed,
    /// The appeal was upheld: the deduction is reversed.
    Withdrawn,
}

impl FindingStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Standing => "standing",
            FindingStatus::Appealed => "appealed",
            FindingStatus::Confirmed => "confirmed",
            FindingStatus::Withdrawn => "withdrawn",
        }
    }

    /// Whether its deduction is on the books.
    #[must_use]
    pub const fn deducts(self) -> bool {
        !matches!(self, FindingStatus::Withdrawn)
    }
}

/// One leg of a deduction: a layer's fund and unit, and the amount taken off it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingLeg {
    /// The settlement's field: `hifp_pay`, `maf_pay`…
    pub layer: String,
    pub fund: FundScheme,
    pub unit: RegionCode,
    pub amount_fen: Fen,
}

/// A finding a reviewer records on a settled claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFinding {
    pub institution_code: String,
    pub claim_id: String,
    pub level: ReviewLevel,
    /// The rule broken: a monitoring rule's id, or the reviewer's own words.
    pub rule: String,
    /// The flag it confirms, if it comes from one (the flag is then decided `confirmed`).
    pub flag_no: Option<u32>,
    pub amount_fen: Fen,
    pub evidence: String,
    /// The day the deduction is booked.
    pub value_date: Date,
    /// The policy pack's rounding, for the shares between layers.
    pub rounding: Rounding,
}

/// A finding as stored, with its legs and its appeal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub region: RegionCode,
    pub institution_code: String,
    pub claim_id: String,
    /// 1, 2, … within the claim.
    pub finding_no: u32,
    pub level: ReviewLevel,
    pub rule: String,
    pub flag_no: Option<u32>,
    pub amount_fen: Fen,
    pub evidence: String,
    pub legs: Vec<FindingLeg>,
    pub value_date: Date,
    pub found_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub found_at: OffsetDateTime,
    pub status: FindingStatus,
    pub appeal: Option<String>,
    pub appealed_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub appealed_at: Option<OffsetDateTime>,
    pub decided_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub decision: Option<String>,
    /// The day a withdrawal was booked (an appeal upheld).
    pub withdrawn_on: Option<Date>,
}

impl FindingRecord {
    /// `{institution}/{claim}/{finding}`: the cause its transfers name and the entity of its
    /// audit entries.
    #[must_use]
    pub fn record_id(&self) -> String {
        finding_record_id(&self.institution_code, &self.claim_id, self.finding_no)
    }

    /// The last city day the institution may appeal: [`APPEAL_DAYS`] after the day of the
    /// finding (the city's day, UTC+8).
    #[must_use]
    pub fn last_appeal_day(&self) -> Date {
        yibao_domain::city_day(self.found_at) + time::Duration::days(APPEAL_DAYS)
    }

    /// The moment the institution can no longer appeal: the city's midnight after the last
    /// day of appeal.
    #[must_use]
    pub fn appeal_closes_at(&self) -> OffsetDateTime {
        let next = self.last_appeal_day().next_day().unwrap_or(Date::MAX);
        next.midnight().assume_offset(yibao_domain::CITY_OFFSET)
    }

    /// The city day the finding became final ([`FindingRecord::is_final`]), if it is at
    /// `at`: the day its appeal was refused, the day after its last day of appeal, or, for
    /// a self-check, the day it was found. Nothing before it may rest on the finding.
    #[must_use]
    pub fn final_on(&self, at: OffsetDateTime) -> Option<Date> {
        if !self.is_final(at) {
            return None;
        }
        Some(match (self.status, self.level, self.decided_at) {
            (FindingStatus::Confirmed, _, Some(decided)) => yibao_domain::city_day(decided),
            (_, ReviewLevel::SelfCheck, _) => yibao_domain::city_day(self.found_at),
            _ => self.last_appeal_day().next_day().unwrap_or(Date::MAX),
        })
    }

    /// Whether the finding stands for good at `at` (a confirmed finding, on which a
    /// physician's penalty points may rest): its appeal refused; or standing with no appeal
    /// left to it, being the institution's own self-check or past its appeal period.
    #[must_use]
    pub fn is_final(&self, at: OffsetDateTime) -> bool {
        match self.status {
            FindingStatus::Confirmed => true,
            FindingStatus::Standing => self.level == ReviewLevel::SelfCheck || at >= self.appeal_closes_at(),
            FindingStatus::Appealed | FindingStatus::Withdrawn => false,
        }
    }
}

/// `{institution}/{claim}/{finding}`.
#[must_use]
pub fn finding_record_id(institution: &str, claim_id: &str, finding_no: u32) -> String {
    format!("{}/{finding_no}", settlement_record_id(institution, claim_id))
}

/// Which findings a listing answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingQuery {
    pub institution: Option<String>,
    pub claim_id: Option<String>,
    /// Only those appealed and not decided.
    pub appealed_only: bool,
}

/// A decision on an appeal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppealDecision {
    pub upheld: bool,
    pub note: String,
    /// The day a withdrawal is booked.
    pub value_date: Date,
}

/// A flag the caller may not see or that does not exist.
#[must_use]
pub fn flag_not_found(institution: &str, claim_id: &str, flag_no: u32) -> StoreError {
    StoreError::ReviewNotFound(format!("flag {flag_no} of claim {institution}/{claim_id}"))
}

/// A finding the caller may not see or that does not exist.
#[must_use]
pub fn finding_not_found(institution: &str, claim_id: &str, finding_no: u32) -> StoreError {
    StoreError::ReviewNotFound(format!("finding {}", finding_record_id(institution, claim_id, finding_no)))
}

/// The entity of a flag's audit entries, `{institution}/{claim}/flag/{no}`.
#[must_use]
pub fn flag_entity(flag: &FlagRecord) -> String {
    format!("{}/flag/{}", settlement_record_id(&flag.institution_code, &flag.claim_id), flag.flag_no)
}

fn refused(code: &'static str, message: String) -> StoreError {
    StoreError::Refused { code, message }
}

/// Refuses free text that is empty or only invisible, too long, or holds a character the
/// register refuses (control, zero-width, bidirectional override…; a line break is kept):
/// the register's rule (`yibao_domain::is_register_char`), lines allowed.
pub fn check_text(what: &str, text: &str, max_chars: usize) -> Result<(), StoreError> {
    let visible = text.chars().any(|c| !c.is_whitespace());
    let allowed = text.chars().all(|c| c == '\n' || yibao_domain::is_register_char(c));
    if !visible || !allowed || text.chars().count() > max_chars {
        return Err(refused("review.bad_text", format!("{what} is 1 to {max_chars} characters of text")));
    }
    Ok(())
}

/// The settlement's legs that the fund owes the institution, as [`settlement_entries`]
/// posted them: each layer's fund and unit, and its amount.
fn owed_legs(claim: &ClaimRecord) -> Result<Vec<FindingLeg>, StoreError> {
    let amounts = SettlementAmounts::from_stored(&claim.settlement_json).map_err(StoreError::Backend)?;
    let entries =
        settlement_entries(claim.region, &claim.institution_code, &claim.claim_id, claim.person_id, &amounts, claim.settled_at.date())?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let Reason::Settlement(layer) = entry.transfer.reason else { return None };
            let owed_to_institution = matches!(entry.transfer.credit.holder, Holder::Institution(_));
            (owed_to_institution && layer != SettlementLayer::MaternityAllowance).then(|| FindingLeg {
                layer: layer.field().to_owned(),
                fund: entry.transfer.credit.fund.scheme,
                unit: entry.unit,
                amount_fen: entry.transfer.amount_fen,
            })
        })
        .collect())
}

/// What each fund leg of the claim still owes the institution after `deducting` findings'
/// legs: the one subtraction a new finding's bound and a run's hold both read.
fn still_owed<'a>(claim: &ClaimRecord, deducting: impl Iterator<Item = &'a FindingRecord>) -> Result<Vec<FindingLeg>, StoreError> {
    let mut legs = owed_legs(claim)?;
    for finding in deducting {
        for taken in &finding.legs {
            if let Some(leg) = legs.iter_mut().find(|l| l.layer == taken.layer) {
                leg.amount_fen -= taken.amount_fen;
            }
        }
    }
    Ok(legs)
}

/// What the supplementary layer (`oth_pay`) of a claim still owes its institution: what it
/// paid less what deducting findings take off it, nothing once the claim is reversed. It is
/// what an insurer underwriting the layer owes the fund back for the claim.
pub fn supplementary_owed(claim: &ClaimRecord, findings: &[FindingRecord]) -> Result<Fen, StoreError> {
    if claim.status == ClaimStatus::Reversed {
        return Ok(Fen::ZERO);
    }
    let legs = still_owed(claim, findings.iter().filter(|f| f.status.deducts()))?;
    Ok(legs.iter().filter(|l| l.layer == SettlementLayer::Supplementary.field()).map(|l| l.amount_fen).sum())
}

/// The legs a deduction of `amount` comes off: what each fund layer of the claim still owes
/// the institution (what it paid less what `earlier` findings deduct), shared in proportion
/// and rounded cumulatively, so the legs add up to the amount to the fen.
///
/// Refuses a reversed claim (`review.claim_reversed`), an amount not positive or above what
/// the fund still owes for the claim (`review.amount_above_paid`), and a claim with
/// [`FINDINGS_PER_CLAIM_MAX`] standing findings of the new one's side, the reviewers' or the
/// institution's self-checks (`review.too_many_findings`).
pub fn plan_legs(
    claim: &ClaimRecord,
    earlier: &[FindingRecord],
    level: ReviewLevel,
    amount: Fen,
    rounding: Rounding,
) -> Result<Vec<FindingLeg>, StoreError> {
    if claim.status == ClaimStatus::Reversed {
        return Err(refused(
            "review.claim_reversed",
            format!("claim {}/{} is reversed: the fund owes nothing for it to deduct", claim.institution_code, claim.claim_id),
        ));
    }
    // Each level's findings are bounded apart, so a hospital's self-checks never use up the
    // reviewers' findings; a withdrawn finding no longer counts.
    if earlier.iter().filter(|f| f.status.deducts() && (f.level == ReviewLevel::SelfCheck) == (level == ReviewLevel::SelfCheck)).count()
        >= FINDINGS_PER_CLAIM_MAX
    {
        return Err(refused(
            "review.too_many_findings",
            format!("a claim takes at most {FINDINGS_PER_CLAIM_MAX} standing findings of the reviewers, and as many self-checks"),
        ));
    }
    let legs = still_owed(claim, earlier.iter().filter(|f| f.status.deducts()))?;
    let remaining: Fen = legs.iter().map(|l| l.amount_fen).sum();
    if amount.get() <= 0 || amount > remaining {
        return Err(refused(
            "review.amount_above_paid",
            format!(
                "a finding disallows more than 0 and at most what the fund still owes for the claim, {remaining} yuan; {amount} yuan was asked"
            ),
        ));
    }
    let weights: Vec<Fen> = legs.iter().map(|l| l.amount_fen).collect();
    let shares = yibao_ledger::apportion(amount, &weights, rounding);
    Ok(legs
        .into_iter()
        .zip(shares)
        .filter(|(_, share)| !share.is_zero())
        .map(|(leg, share)| FindingLeg { amount_fen: share, ..leg })
        .collect())
}

/// What a finding posts on its value date: each leg taken off the institution's payable in
/// its fund and unit (`rf/{institution}/{claim}/{finding}/{layer}`), reason
/// `review-deduction`, cause the finding.
pub fn finding_entries(finding: &FindingRecord) -> Result<Vec<Entry>, StoreError> {
    let record_id = finding.record_id();
    let cause = cause(RecordKind::ReviewFinding, &record_id)?;
    let institution = Holder::institution(&finding.institution_code).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut entries = Vec::new();
    for leg in &finding.legs {
        let fund = fund_for(leg.fund, leg.unit);
        if !leg.amount_fen.is_zero() {
            entries.push(Entry {
                unit: leg.unit,
                transfer: yibao_ledger::Transfer::new(
                    record_transfer_id("rf", &record_id, &leg.layer),
                    AccountKey::new(fund, institution, AccountKind::Payable),
                    AccountKey::new(fund, institution, AccountKind::External),
                    leg.amount_fen,
                    Reason::ReviewDeduction,
                    cause.clone(),
                    finding.value_date,
                ),
            });
        }
    }
    Ok(entries)
}

/// What a finding withdrawn on appeal posts on `on`: each of its deductions reversed in
/// full (`rw/{institution}/{claim}/{finding}/{layer}`).
pub fn withdrawal_entries(finding: &FindingRecord, on: Date) -> Result<Vec<Entry>, StoreError> {
    let record_id = finding.record_id();
    let cause = cause(RecordKind::ReviewFinding, &record_id)?;
    Ok(finding_entries(finding)?
        .into_iter()
        .zip(&finding.legs)
        .map(|(entry, leg)| Entry {
            unit: entry.unit,
            transfer: entry.transfer.reversal(
                record_transfer_id("rw", &record_id, &leg.layer),
                entry.transfer.amount_fen,
                cause.clone(),
                on,
            ),
        })
        .collect())
}

/// A new finding checked and planned: its record, numbered after the claim's `earlier`.
pub fn new_finding(
    claim: &ClaimRecord,
    earlier: &[FindingRecord],
    finding: NewFinding,
    actor: &Actor,
) -> Result<FindingRecord, StoreError> {
    check_text("the rule", &finding.rule, RULE_CHARS_MAX)?;
    check_text("the evidence", &finding.evidence, REVIEW_TEXT_CHARS_MAX)?;
    if finding.value_date < claim.settled_at.date() {
        return Err(refused(
            "review.bad_date",
            format!("a deduction is booked on or after the claim's settlement, {}", claim.settled_at.date()),
        ));
    }
    let legs = plan_legs(claim, earlier, finding.level, finding.amount_fen, finding.rounding)?;
    let finding_no = earlier.iter().map(|f| f.finding_no).max().unwrap_or(0) + 1;
    Ok(FindingRecord {
        region: claim.region,
        institution_code: claim.institution_code.to_string(),
        claim_id: claim.claim_id.clone(),
        finding_no,
        level: finding.level,
        rule: finding.rule,
        flag_no: finding.flag_no,
        amount_fen: finding.amount_fen,
        evidence: finding.evidence,
        legs,
        value_date: finding.value_date,
        found_by: actor.who.clone(),
        found_at: actor.at,
        status: FindingStatus::Standing,
        appeal: None,
        appealed_by: None,
        appealed_at: None,
        decided_by: None,
        decided_at: None,
        decision: None,
        withdrawn_on: None,
    })
}

/// The finding appealed by its institution: only a standing finding, once, within
/// [`APPEAL_DAYS`] of its finding (`review.appeal_closed`).
pub fn appealed(mut finding: FindingRecord, text: &str, actor: &Actor) -> Result<FindingRecord, StoreError> {
    check_text("the appeal", text, REVIEW_TEXT_CHARS_MAX)?;
    if finding.status != FindingStatus::Standing {
        return Err(refused(
            "review.not_appealable",
            format!("finding {} is {}: only a standing finding is appealed, once", finding.record_id(), finding.status.as_str()),
        ));
    }
    if actor.at >= finding.appeal_closes_at() {
        return Err(refused(
            "review.appeal_closed",
            format!(
                "finding {} was found on {}: it could be appealed for {APPEAL_DAYS} days, until {}",
                finding.record_id(),
                yibao_domain::city_day(finding.found_at),
                finding.last_appeal_day()
            ),
        ));
    }
    finding.status = FindingStatus::Appealed;
    finding.appeal = Some(text.to_owned());
    finding.appealed_by = Some(actor.who.clone());
    finding.appealed_at = Some(actor.at);
    Ok(finding)
}

/// The appeal decided: by someone other than the reviewer who found it
/// (`review.same_reviewer`), only while it waits (`review.not_appealed`). Returns the record
/// and what a withdrawal posts (nothing when the appeal is refused).
pub fn decided(mut finding: FindingRecord, decision: &AppealDecision, actor: &Actor) -> Result<(FindingRecord, Vec<Entry>), StoreError> {
    check_text("the decision", &decision.note, REVIEW_TEXT_CHARS_MAX)?;
    if finding.status != FindingStatus::Appealed {
        return Err(refused(
            "review.not_appealed",
            format!("finding {} is {}: only an appeal waiting for a decision is decided", finding.record_id(), finding.status.as_str()),
        ));
    }
    if finding.found_by == actor.who {
        return Err(refused(
            "review.same_reviewer",
            format!("{} found {}: an appeal is decided by someone other than its reviewer", actor.who, finding.record_id()),
        ));
    }
    if decision.value_date < finding.value_date {
        return Err(refused("review.bad_date", format!("a withdrawal is booked on or after the finding's day, {}", finding.value_date)));
    }
    let entries = if decision.upheld { withdrawal_entries(&finding, decision.value_date)? } else { Vec::new() };
    finding.status = if decision.upheld { FindingStatus::Withdrawn } else { FindingStatus::Confirmed };
    finding.decided_by = Some(actor.who.clone());
    finding.decided_at = Some(actor.at);
    finding.decision = Some(decision.note.clone());
    finding.withdrawn_on = decision.upheld.then_some(decision.value_date);
    Ok((finding, entries))
}

/// The findings still deducting from a claim being reversed, withdrawn with it on `on`:
/// the reversal gives back everything the settlement owed, so what the findings took is
/// given back too, or the fund would recover it twice. Returns each finding as withdrawn
/// and what the withdrawals post.
pub fn withdrawn_with_reversal(
    findings: Vec<FindingRecord>,
    actor: &Actor,
    on: Date,
) -> Result<Vec<(FindingRecord, Vec<Entry>)>, StoreError> {
    // An institution does not reverse a claim a reviewer's finding deducts from: reversed
    // and billed again, the claim would shed the deduction. Decided here, inside the
    // reversal's transaction, so no finding recorded meanwhile slips past.
    if actor.role == crate::records::INSTITUTION_ROLE
        && let Some(finding) = findings.iter().find(|f| f.level != ReviewLevel::SelfCheck && f.status.deducts())
    {
        return Err(refused(
            "settle.under_review",
            format!(
                "claim {} is under review, finding {} ({}) deducts from it: claims staff reverse it, not the institution",
                finding.claim_id,
                finding.record_id(),
                finding.status.as_str()
            ),
        ));
    }
    let mut withdrawn = Vec::new();
    for mut finding in findings.into_iter().filter(|f| f.status.deducts()) {
        let entries = withdrawal_entries(&finding, on.max(finding.value_date))?;
        finding.status = FindingStatus::Withdrawn;
        finding.decided_by = Some(actor.who.clone());
        finding.decided_at = Some(actor.at);
        finding.decision = Some("withdrawn with the claim's reversal".to_owned());
        finding.withdrawn_on = Some(on.max(finding.value_date));
        withdrawn.push((finding, entries));
    }
    Ok(withdrawn)
}

/// A flag's decision: once, by a reviewer.
pub fn flag_decided(mut flag: FlagRecord, outcome: FlagOutcome, note: &str, actor: &Actor) -> Result<FlagRecord, StoreError> {
    check_text("the note", note, REVIEW_TEXT_CHARS_MAX)?;
    if let Some(made) = flag.outcome {
        return Err(refused(
            "review.flag_decided",
            format!(
                "flag {} of {}/{} was decided {} by {} already",
                flag.flag_no,
                flag.institution_code,
                flag.claim_id,
                made.as_str(),
                flag.decided_by.as_deref().unwrap_or("?")
            ),
        ));
    }
    flag.outcome = Some(outcome);
    flag.decided_by = Some(actor.who.clone());
    flag.decided_at = Some(actor.at);
    flag.note = Some(note.to_owned());
    Ok(flag)
}

/// The flags to store with a settled claim, numbered in order.
#[must_use]
pub fn flag_records(claim: &ClaimRecord, flags: &[RaisedFlag]) -> Vec<FlagRecord> {
    flags
        .iter()
        .zip(1..)
        .map(|(flag, flag_no)| FlagRecord {
            region: claim.region,
            institution_code: claim.institution_code.to_string(),
            claim_id: claim.claim_id.clone(),
            flag_no,
            person_id: claim.person_id,
            raised_at: claim.settled_at,
            flag: flag.clone(),
            outcome: None,
            decided_by: None,
            decided_at: None,
            note: None,
        })
        .collect()
}

/// Most claims one scan over paid claims reads (a county's month of a large city): beyond,
/// the scan is refused (`review.scan_too_large`), to be run county by county.
pub const SCAN_CLAIMS_MAX: usize = 2_000_000;
/// Most flags one scan raises, in one transaction (`review.scan_too_many_flags` beyond).
pub const SCAN_FLAGS_MAX: usize = 10_000;
/// Most days one scan covers: a month.
pub const SCAN_DAYS_MAX: i64 = 31;

/// The flag a scan over paid claims raises on `claim` at `at`, numbered after the claim's
/// flags `existing`; none when one of them has the same rule, so a scan run again raises
/// nothing new, and none on a claim reversed since the scan read it. Both stores write what
/// this returns.
#[must_use]
pub fn flag_after_payment(claim: &ClaimRecord, existing: &[FlagRecord], flag: RaisedFlag, at: OffsetDateTime) -> Option<FlagRecord> {
    // A claim reversed since the scan read it owes nothing: nothing to review.
    if claim.status == ClaimStatus::Reversed || existing.iter().any(|f| f.flag.rule == flag.rule) {
        return None;
    }
    let flag_no = existing.iter().map(|f| f.flag_no).max().unwrap_or(0) + 1;
    Some(FlagRecord {
        region: claim.region,
        institution_code: claim.institution_code.to_string(),
        claim_id: claim.claim_id.clone(),
        flag_no,
        person_id: claim.person_id,
        raised_at: at,
        flag,
        outcome: None,
        decided_by: None,
        decided_at: None,
        note: None,
    })
}

/// A paid claim as a store's scan reads its columns: the institution, the claim id, the
/// person, and the
/// stored claim's kind, institution level, main diagnosis, physician and admission day
/// (text), and its bill.
pub fn paid_claim_of(
    (institution_code, claim_id, person_id): (String, String, String),
    (kind, level, diagnosis, physician, day): (String, String, String, Option<String>, String),
    medfee_fen: i64,
) -> Result<PaidClaim, StoreError> {
    let unreadable = |what: &str| StoreError::Backend(format!("claim {institution_code}/{claim_id}: stored {what} unreadable"));
    Ok(PaidClaim {
        kind: yibao_domain::ClaimKind::ALL.into_iter().find(|k| k.as_str() == kind).ok_or_else(|| unreadable("kind"))?,
        institution_level: yibao_domain::InstitutionLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == level)
            .ok_or_else(|| unreadable("institution level"))?,
        diagnosis,
        physician,
        day: crate::books::date_of(&day)?,
        medfee_fen,
        institution_code,
        claim_id,
        person_id,
    })
}

/// The stored `settled_at` text a claim admitted on `first_day` or later was settled at or
/// after (a claim is settled on or after its day of service), a day early so that no
/// offset of a stored timestamp leaves one out: a scan then reads the period's settlements
/// through the index by region and settlement, not the region's whole history.
#[must_use]
pub fn settled_since(first_day: Date) -> String {
    crate::books::date_text(first_day.previous_day().unwrap_or(first_day))
}

/// `review.scan_too_large`: a scan reads at most [`SCAN_CLAIMS_MAX`] claims.
#[must_use]
pub fn scan_too_large(days: (Date, Date)) -> StoreError {
    refused(
        "review.scan_too_large",
        format!("more than {SCAN_CLAIMS_MAX} claims were settled for {} to {}: scan a county at a time", days.0, days.1),
    )
}

/// A flag raised over paid claims, on the claim `(institution, claim)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidFlag {
    pub institution_code: String,
    pub claim_id: String,
    pub flag: RaisedFlag,
}

/// What the fund's payment of a held claim waits for in the pooling run dated `as_of`: its
/// fund legs, by fund and unit, less what findings had deducted by that day (a finding
/// booked on or before it, not withdrawn by it). The run pays what is outstanding on its
/// value date, so a finding or a withdrawal booked after that day is not yet in what it
/// holds back, whenever the run is executed.
pub fn held_legs(claim: &ClaimRecord, findings: &[FindingRecord], as_of: Date) -> Result<Vec<FindingLeg>, StoreError> {
    if claim.status == ClaimStatus::Reversed || claim.settled_at.date() > as_of {
        return Ok(Vec::new());
    }
    let deducting = |f: &&FindingRecord| f.value_date <= as_of && f.withdrawn_on.is_none_or(|on| on > as_of);
    let mut legs = still_owed(claim, findings.iter().filter(deducting))?;
    legs.retain(|l| l.amount_fen.get() > 0);
    Ok(legs)
}

/// A claim held by monitoring: the claim and its findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldClaim {
    pub claim: ClaimRecord,
    pub findings: Vec<FindingRecord>,
}

/// Reviews as stored (issue 18): flags raised at settlement, their decisions, findings and
/// appeals. Every write is audited; a finding and its withdrawal post in the same
/// transaction.
pub trait ReviewStore: Send + Sync + 'static {
    /// The flags in `scope`, latest first, at most [`FLAGS_LISTED_MAX`].
    fn flags(&self, scope: RegionCode, query: FlagQuery) -> impl Future<Output = Result<Vec<FlagRecord>, StoreError>> + Send;

    /// Decides a flag of a claim in `scope`, `(institution, claim, flag number)`
    /// (`review.flag_decided` when it was).
    fn decide_flag(
        &self,
        actor: &Actor,
        scope: RegionCode,
        flag: (&str, &str, u32),
        outcome: FlagOutcome,
        note: &str,
    ) -> impl Future<Output = Result<FlagRecord, StoreError>> + Send;

    /// Each rule's flags in `scope` counted by decision.
    fn rule_precision(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<RulePrecision>, StoreError>> + Send;

    /// The settled claims of `scope` with a hold flag not decided yet, with their findings.
    fn held_claims(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<HeldClaim>, StoreError>> + Send;

    /// Records a finding on a claim in `scope` and posts its deduction; a finding from a
    /// flag decides the flag `confirmed` in the same transaction.
    fn record_finding(
        &self,
        actor: &Actor,
        scope: RegionCode,
        finding: NewFinding,
    ) -> impl Future<Output = Result<FindingRecord, StoreError>> + Send;

    /// The institution's appeal of a finding on its own claim.
    fn appeal_finding(
        &self,
        actor: &Actor,
        institution: &str,
        claim_id: &str,
        finding_no: u32,
        appeal: &str,
    ) -> impl Future<Output = Result<FindingRecord, StoreError>> + Send;

    /// Decides an appeal of a finding in `scope`; upheld, its deduction is reversed.
    fn decide_appeal(
        &self,
        actor: &Actor,
        scope: RegionCode,
        institution: &str,
        claim_id: &str,
        finding_no: u32,
        decision: AppealDecision,
    ) -> impl Future<Output = Result<FindingRecord, StoreError>> + Send;

    /// The claims of `scope` settled and not reversed with a day of service (admission) in
    /// `days`, as a scan over paid claims reads them; more than [`SCAN_CLAIMS_MAX`] is
    /// `review.scan_too_large`.
    fn paid_claims(&self, scope: RegionCode, days: (Date, Date)) -> impl Future<Output = Result<Vec<PaidClaim>, StoreError>> + Send;

    /// Raises the flags a scan over paid claims found, on claims of `scope`, in one
    /// transaction ([`flag_after_payment`]: none twice for one rule on a claim), each
    /// audited (`claim.flag_raised`). Returns those raised.
    fn raise_flags(
        &self,
        actor: &Actor,
        scope: RegionCode,
        flags: Vec<PaidFlag>,
    ) -> impl Future<Output = Result<Vec<FlagRecord>, StoreError>> + Send;

    /// The findings in `scope`, latest first, at most [`FINDINGS_LISTED_MAX`].
    fn findings(&self, scope: RegionCode, query: FindingQuery) -> impl Future<Output = Result<Vec<FindingRecord>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(settlement: serde_json::Value) -> ClaimRecord {
        ClaimRecord {
            region: RegionCode::parse("419921").unwrap(),
            institution_code: yibao_domain::InstitutionCode::parse("H41992100007").unwrap(),
            claim_id: "C-1".into(),
            person_id: NationalId::from_parts(RegionCode::parse("419921").unwrap(), time::macros::date!(1980 - 01 - 01), 1).unwrap(),
            year: 2026,
            status: ClaimStatus::Settled,
            settled_at: time::macros::datetime!(2026-03-25 10:00 UTC),
            medfee_fen: Fen::new(100_000),
            fund_pay_fen: Fen::new(7_0000),
            psn_part_fen: Fen::new(30_000),
            settlement_json: settlement.to_string(),
            claim_json: "{}".into(),
            reversed_at: None,
            reversal_reason: None,
        }
    }

    fn settlement() -> serde_json::Value {
        serde_json::json!({
            "insutype": "390", "medfee_sumamt": "1000.00", "fund_pay_sumamt": "700.00", "psn_part_amt": "300.00",
            "hifp_pay": "600.00", "hifmi_pay": "0.00", "hifob_pay": "0.00", "maf_pay": "100.00", "oth_pay": "0.00",
            "cvlserv_pay": "0.00", "hifes_pay": "0.00", "acct_pay": "0.00", "hosp_part_amt": "0.00", "maternity_allowance": "0.00"
        })
    }

    fn actor(who: &str) -> Actor {
        Actor { who: who.into(), role: "claims_officer".into(), source: "test".into(), at: time::macros::datetime!(2026-04-10 09:00 UTC) }
    }

    fn new(amount: i64) -> NewFinding {
        NewFinding {
            institution_code: "H41992100007".into(),
            claim_id: "C-1".into(),
            level: ReviewLevel::Bureau,
            rule: "ceftriaxone-quantity".into(),
            flag_no: None,
            amount_fen: Fen::new(amount),
            evidence: "18 doses billed; the order sheet shows 12".into(),
            value_date: time::macros::date!(2026 - 04 - 10),
            rounding: Rounding::HalfUp,
        }
    }

    #[test]
    fn a_deduction_is_shared_between_the_layers_that_paid_and_bounded_by_them() {
        let claim = claim(settlement());
        // 70.00 off 600.00 pooled and 100.00 assistance: 60.00 and 10.00.
        let first = new_finding(&claim, &[], new(7_000), &actor("officer-a")).unwrap();
        let legs: Vec<(&str, i64)> = first.legs.iter().map(|l| (l.layer.as_str(), l.amount_fen.get())).collect();
        assert_eq!(legs, [("hifp_pay", 6_000), ("maf_pay", 1_000)]);
        assert_eq!(first.finding_no, 1);
        let entries = finding_entries(&first).unwrap();
        assert_eq!(entries[0].transfer.id.as_str(), "rf/H41992100007/C-1/1/hifp_pay");
        assert_eq!((entries[0].transfer.debit.kind, entries[0].transfer.credit.kind), (AccountKind::Payable, AccountKind::External));
        // What is left is 630.00: 630.01 is refused, 630.00 taken whole.
        let code = new_finding(&claim, std::slice::from_ref(&first), new(63_001), &actor("officer-a")).unwrap_err().code();
        assert_eq!(code, "review.amount_above_paid");
        let second = new_finding(&claim, std::slice::from_ref(&first), new(63_000), &actor("officer-a")).unwrap();
        assert_eq!(second.finding_no, 2);
        assert_eq!(second.legs.iter().map(|l| l.amount_fen.get()).sum::<i64>(), 63_000);
        // A withdrawn finding gives its amount back to what may be deducted.
        let withdrawn = FindingRecord { status: FindingStatus::Withdrawn, ..first };
        assert!(new_finding(&claim, &[withdrawn, second], new(7_000), &actor("officer-a")).is_ok());
    }

    /// Found at 07:00 in the city on 26 November (23:00 UTC the day before): appealed through
    /// the 30th city day after, 26 December, to its last minute, and not at midnight; final
    /// the next day; a self-check final the day it was found.
    #[test]
    fn the_appeal_period_runs_in_the_citys_days() {
        let claim = claim(settlement());
        let at = |moment: OffsetDateTime| Actor { at: moment, ..actor("H41992100007") };
        let finding = new_finding(&claim, &[], new(7_000), &at(time::macros::datetime!(2026-11-26 07:00 +08))).unwrap();
        assert_eq!(finding.last_appeal_day(), time::macros::date!(2026 - 12 - 26));
        let last_minute = time::macros::datetime!(2026-12-26 23:59 +08);
        assert!(appealed(finding.clone(), "late, in time", &at(last_minute)).is_ok());
        assert!(!finding.is_final(last_minute));
        let midnight = time::macros::datetime!(2026-12-27 00:00 +08);
        let closed = appealed(finding.clone(), "too late", &at(midnight)).unwrap_err();
        assert_eq!(closed.code(), "review.appeal_closed");
        assert!(closed.to_string().contains("found on 2026-11-26") && closed.to_string().contains("until 2026-12-26"), "{closed}");
        assert_eq!(finding.final_on(midnight), Some(time::macros::date!(2026 - 12 - 27)));
        let own = FindingRecord { level: ReviewLevel::SelfCheck, ..finding };
        assert_eq!(own.final_on(time::macros::datetime!(2026-11-26 08:00 +08)), Some(time::macros::date!(2026 - 11 - 26)));
    }

    /// A reversal withdraws the claim's deductions; an institution's reversal is refused
    /// while a reviewer's finding deducts, not for its own self-check.
    #[test]
    fn an_institution_does_not_reverse_away_a_reviewers_finding() {
        let claim = claim(settlement());
        let bureau = new_finding(&claim, &[], new(7_000), &actor("officer-a")).unwrap();
        let own = FindingRecord { level: ReviewLevel::SelfCheck, finding_no: 2, ..bureau.clone() };
        let hospital = Actor { role: crate::records::INSTITUTION_ROLE.into(), ..actor("H41992100007") };
        let on = time::macros::date!(2026 - 04 - 12);
        let refused = withdrawn_with_reversal(vec![bureau.clone(), own.clone()], &hospital, on).unwrap_err();
        assert_eq!(refused.code(), "settle.under_review");
        assert_eq!(withdrawn_with_reversal(vec![own.clone()], &hospital, on).unwrap().len(), 1, "its own self-check goes with it");
        let staff = withdrawn_with_reversal(vec![bureau, own], &actor("officer-b"), on).unwrap();
        assert!(staff.iter().all(|(f, _)| f.status == FindingStatus::Withdrawn) && staff.len() == 2);
    }

    #[test]
    fn an_appeal_is_decided_once_and_by_someone_else() {
        let claim = claim(settlement());
        let finding = new_finding(&claim, &[], new(7_000), &actor("officer-a")).unwrap();
        let decision =
            AppealDecision { upheld: true, note: "the order sheet was misread".into(), value_date: time::macros::date!(2026 - 05 - 02) };
        let code = |e: StoreError| e.code();
        assert_eq!(code(decided(finding.clone(), &decision, &actor("officer-b")).unwrap_err()), "review.not_appealed");
        let appealed = appealed(finding, "the doses were given: see the nursing record", &actor("H41992100007")).unwrap();
        assert_eq!(code(super::appealed(appealed.clone(), "again", &actor("H41992100007")).unwrap_err()), "review.not_appealable");
        assert_eq!(code(decided(appealed.clone(), &decision, &actor("officer-a")).unwrap_err()), "review.same_reviewer");
        let (withdrawn, entries) = decided(appealed.clone(), &decision, &actor("officer-b")).unwrap();
        assert_eq!(withdrawn.status, FindingStatus::Withdrawn);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].transfer.reverses.as_ref().map(|id| id.as_str().to_owned()).as_deref(),
            Some("rf/H41992100007/C-1/1/hifp_pay")
        );
        assert_eq!(entries[0].transfer.value_date, time::macros::date!(2026 - 05 - 02));
        let refused = AppealDecision { upheld: false, ..decision };
        let (confirmed, entries) = decided(appealed, &refused, &actor("officer-b")).unwrap();
        assert_eq!((confirmed.status, entries.len()), (FindingStatus::Confirmed, 0));
    }

    #[test]
    fn text_is_checked_and_precision_counts_decisions() {
        assert_eq!(check_text("the evidence", " ", 10).unwrap_err().code(), "review.bad_text");
        assert_eq!(check_text("the evidence", "a\u{0}b", 10).unwrap_err().code(), "review.bad_text");
        assert_eq!(check_text("the evidence", &"x".repeat(11), 10).unwrap_err().code(), "review.bad_text");
        for invisible in ["\u{200B}", "\u{FEFF}", "a\u{202E}b", "\t", "a\rb"] {
            assert_eq!(check_text("the evidence", invisible, 10).unwrap_err().code(), "review.bad_text", "{invisible:?}");
        }
        assert!(check_text("the evidence", "两行\n证据", 10).is_ok());
        assert_eq!(RulePrecision::of("r".into(), 10, 3, 1).precision_bp, Some(7_500));
        assert_eq!(RulePrecision::of("r".into(), 10, 0, 0).precision_bp, None);
    }
}
