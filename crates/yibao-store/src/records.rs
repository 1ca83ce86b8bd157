//! What the store reads and writes.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use yibao_domain::{AssistanceGroup, HouseholdId, InstitutionCode, NationalId, PersonName, RegionCode};
use yibao_engine::Coverage;

use crate::StoreError;

/// Most rows a search returns.
pub const SEARCH_LIMIT: i64 = 200;
/// Most designated institutions one region's register lists at once (a province's capital
/// has a few thousand hospitals and pharmacies): the payment year and the referral check
/// read them all, and refuse a register that reaches this.
pub const INSTITUTIONS_LIMIT: i64 = 20_000;
/// The furthest a person search pages: a search that matches more is narrowed, not paged
/// through (a clerk reads a page, not a register).
pub const SEARCH_OFFSET_MAX: u32 = 10_000;

/// Who is writing, in what role, from where, and when (recorded in the audit log). The
/// time is passed in: the store never reads the clock itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub who: String,
    pub role: String,
    pub source: String,
    pub at: OffsetDateTime,
}

/// The role an institution acts in, as its actor records it (its API key's principal): a
/// store's rule for institutions (an institution does not reverse a claim under review)
/// reads it here.
pub const INSTITUTION_ROLE: &str = "institution";

impl Actor {
    #[must_use]
    pub fn at_text(&self) -> String {
        self.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| self.at.to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHousehold {
    pub household_id: HouseholdId,
    pub region: RegionCode,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HouseholdRecord {
    pub household_id: HouseholdId,
    pub region: RegionCode,
    pub address: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A person to enrol: identity, household and the coverage the engine reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPerson {
    pub name: PersonName,
    /// Social-security card number (社会保障卡号), R-SYS-4.
    pub card_no: Option<String>,
    pub household_id: HouseholdId,
    pub coverage: Coverage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonRecord {
    pub person_id: NationalId,
    pub name: PersonName,
    pub card_no: Option<String>,
    pub household_id: HouseholdId,
    /// The coverage in force now (or the last, if it has ended).
    pub coverage: Coverage,
    /// The spells before it, oldest first (R-ENR-5): each ended the day before the next
    /// began, or earlier when the person re-enrolled after a gap.
    pub history: Vec<yibao_engine::PastCoverage>,
    /// The day the person died (their coverage ends on it; they are never enrolled again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub died_on: Option<time::Date>,
    #[serde(with = "time::serde::rfc3339")]
    pub enrolled_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// How a coverage ends: on a day the clerk names, or on the day of the person's death (for
/// good, R-ENR-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoverageEnd {
    Until,
    Death,
}

/// Search by any of national ID, name (prefix) or card number, inside the caller's scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonQuery {
    pub person_id: Option<NationalId>,
    pub name_prefix: Option<String>,
    pub card_no: Option<String>,
    pub household_id: Option<String>,
    /// How many matches to skip (at most [`SEARCH_OFFSET_MAX`]).
    pub offset: u32,
    /// How many matches to return: 1 to [`SEARCH_LIMIT`]; `None`, [`SEARCH_LIMIT`].
    pub limit: Option<u32>,
}

impl PersonQuery {
    /// The page size asked for, within 1 to [`SEARCH_LIMIT`].
    #[must_use]
    pub fn page_limit(&self) -> i64 {
        self.limit.map_or(SEARCH_LIMIT, |limit| i64::from(limit).clamp(1, SEARCH_LIMIT))
    }
}

/// One page of a person search, with how many persons match in all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonPage {
    pub total: u64,
    pub offset: u32,
    pub persons: Vec<PersonRecord>,
}

/// A claim to settle, keyed by the institution's own claim id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettleRequest {
    pub institution_code: InstitutionCode,
    pub claim_id: String,
    pub person_id: NationalId,
    /// The year whose accumulators the claim counts against (from the policy's
    /// service-date rule).
    pub year: i32,
    /// The date of service by the policy's rule: the claim is settled under the coverage
    /// in force on it (R-ENR-5), wherever the person is insured when it is settled.
    pub service_date: time::Date,
    /// The claim as submitted (canonical JSON): a retry must send the same content.
    pub claim_json: String,
    /// What intelligent monitoring flagged on it (issue 18, R-INS-2), stored with the claim
    /// in its transaction; a retry's flags are those of the first.
    pub flags: Vec<crate::review::RaisedFlag>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimStatus {
    Settled,
    Reversed,
}

impl ClaimStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Settled => "settled",
            ClaimStatus::Reversed => "reversed",
        }
    }
}

/// A stored claim and its settlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimRecord {
    pub region: RegionCode,
    pub institution_code: InstitutionCode,
    pub claim_id: String,
    pub person_id: NationalId,
    pub year: i32,
    pub status: ClaimStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub settled_at: OffsetDateTime,
    /// Total bill, fund payments and personal burden, for reports.
    pub medfee_fen: yibao_domain::Fen,
    pub fund_pay_fen: yibao_domain::Fen,
    pub psn_part_fen: yibao_domain::Fen,
    /// The full settlement as JSON (national field names, explanation included).
    pub settlement_json: String,
    pub claim_json: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reversed_at: Option<OffsetDateTime>,
    pub reversal_reason: Option<String>,
}

/// A settlement, and whether it is a replay of an earlier identical request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettleOutcome {
    pub claim: ClaimRecord,
    pub replayed: bool,
}

/// A change to a person's tier history (R-ENR-4): a new request, or the cancellation of the
/// latest one before it takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum TierEdit {
    Request(yibao_engine::TierChange),
    Cancel { requested_on: time::Date },
}

impl From<yibao_engine::TierChange> for TierEdit {
    fn from(change: yibao_engine::TierChange) -> TierEdit {
        TierEdit::Request(change)
    }
}

/// Most referrals one person may hold on file.
pub const REFERRALS_LIMIT: usize = 200;

/// A referral (转诊) to file: the person is sent from one designated institution to another
/// (R-BEN: referral continuity of the deductible and the referred ratio). Filed before the
/// claim it covers, by a clerk or by the referring institution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReferral {
    pub person_id: NationalId,
    pub from_institution: InstitutionCode,
    pub to_institution: InstitutionCode,
    /// The day the referral was issued: the referring stay ended on or before it.
    pub issued_on: time::Date,
    /// The last day of admission it covers.
    pub valid_until: time::Date,
}

/// A referral on file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReferralRecord {
    pub region: RegionCode,
    pub person_id: NationalId,
    /// The referral's number within the person's referrals, from 1.
    pub seq: i64,
    pub from_institution: InstitutionCode,
    pub to_institution: InstitutionCode,
    pub issued_on: time::Date,
    pub valid_until: time::Date,
    pub filed_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub filed_at: OffsetDateTime,
    /// Who cancelled the referral (2502), when it was cancelled: a cancelled referral
    /// covers no admission.
    pub cancelled_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub cancelled_at: Option<OffsetDateTime>,
}

impl ReferralRecord {
    /// The record with its cancellation, from the cancellation's columns (none: not
    /// cancelled).
    pub fn with_cancellation(mut self, by: Option<String>, at: Option<&str>) -> Result<ReferralRecord, StoreError> {
        self.cancelled_at = at.map(crate::stored::time_of).transpose()?;
        self.cancelled_by = by;
        Ok(self)
    }

    /// A stored referral, from its columns (dates as ISO text, as both backends keep them).
    #[allow(clippy::too_many_arguments)]
    pub fn from_columns(
        region: &str,
        person_id: &str,
        seq: i64,
        from_institution: &str,
        to_institution: &str,
        issued_on: &str,
        valid_until: &str,
        filed_by: String,
        filed_at: &str,
    ) -> Result<ReferralRecord, StoreError> {
        let date = |text: &str| {
            yibao_domain::parse_date(text).map_err(|e| StoreError::Backend(format!("a stored referral date '{text}' is unreadable: {e}")))
        };
        Ok(ReferralRecord {
            region: crate::stored::region_of(region)?,
            person_id: crate::stored::id_of(person_id)?,
            seq,
            from_institution: crate::stored::institution_of(from_institution)?,
            to_institution: crate::stored::institution_of(to_institution)?,
            issued_on: date(issued_on)?,
            valid_until: date(valid_until)?,
            filed_by,
            filed_at: crate::stored::time_of(filed_at)?,
            cancelled_by: None,
            cancelled_at: None,
        })
    }
}

impl NewReferral {
    /// The structural checks both backends apply: two different institutions, and a
    /// validity that ends on or after the day of issue, within a year of it.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.from_institution == self.to_institution {
            return Err(StoreError::Invalid("a referral is from one institution to another".into()));
        }
        if self.valid_until < self.issued_on || (self.valid_until - self.issued_on).whole_days() > 366 {
            return Err(StoreError::Invalid("a referral is valid from its day of issue for at most a year".into()));
        }
        Ok(())
    }

    /// The audit detail of a filed referral.
    pub fn audit_detail(&self, seq: i64) -> String {
        json!({
            "seq": seq,
            "from": self.from_institution,
            "to": self.to_institution,
            "issued_on": self.issued_on.to_string(),
            "valid_until": self.valid_until.to_string(),
        })
        .to_string()
    }
}

/// Most chronic/special diseases certified for one person.
pub const CHRONIC_DISEASES_LIMIT: usize = 32;

/// Changes to a person's details (issue 3). `None` leaves a field unchanged; for the
/// clearable fields, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonUpdate {
    pub name: Option<PersonName>,
    pub card_no: Option<Option<String>>,
    pub assistance_group: Option<Option<AssistanceGroup>>,
    pub supplementary: Option<bool>,
    pub maternity: Option<bool>,
    pub civil_servant: Option<bool>,
    pub enterprise_supplementary: Option<bool>,
    pub certified_chronic_diseases: Option<Vec<String>>,
}

impl PersonRecord {
    /// Applies a tier edit (R-ENR-4) to the person's history and returns the audit action.
    /// A request is refused when the city has no tiers, when it is dated before the last
    /// tier event, or when the history is full; the engine decides from the history when it
    /// takes effect. A cancellation removes the latest request, which it must name by its
    /// date; whether it has already taken effect is the application's to decide (it needs
    /// the policy's waiting period and today's date).
    pub fn edit_tiers(&mut self, edit: TierEdit) -> Result<&'static str, StoreError> {
        if let Some(died_on) = self.died_on {
            return Err(crate::deceased(died_on));
        }
        let history = self
            .coverage
            .tier_history
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("the person has no tier (the city has no tiers)".into()))?;
        match edit {
            TierEdit::Request(change) => {
                if change.requested_on < history.since || history.changes.last().is_some_and(|last| change.requested_on < last.requested_on)
                {
                    return Err(StoreError::Invalid(format!(
                        "a tier change on {} is before the person's last tier event",
                        change.requested_on
                    )));
                }
                if history.changes.len() >= yibao_engine::TIER_CHANGES_LIMIT {
                    return Err(StoreError::Invalid(format!(
                        "a person's tier history holds at most {} changes",
                        yibao_engine::TIER_CHANGES_LIMIT
                    )));
                }
                history.changes.push(change);
                Ok("person.tier_change")
            }
            TierEdit::Cancel { requested_on } => {
                if history.changes.last().is_none_or(|last| last.requested_on != requested_on) {
                    return Err(StoreError::Invalid(format!(
                        "the person's latest tier change was not requested on {requested_on}: only the latest request can be cancelled"
                    )));
                }
                history.changes.pop();
                Ok("person.tier_change_cancelled")
            }
        }
    }

    /// Ends coverage on `until` (the last covered day), not before coverage began.
    /// Ends the coverage on `on` as `end` says, and the audit entry's action and detail.
    pub fn close_coverage(&mut self, end: CoverageEnd, on: time::Date) -> Result<(&'static str, String), StoreError> {
        match end {
            CoverageEnd::Until => {
                self.end_coverage(on)?;
                Ok(("person.end_coverage", format!("{{\"until\":\"{on}\"}}")))
            }
            CoverageEnd::Death => {
                self.record_death(on)?;
                Ok(("person.death", format!("{{\"died_on\":\"{on}\"}}")))
            }
        }
    }

    /// Records the person's death: their coverage ends on `died_on`, or stays ended earlier.
    pub fn record_death(&mut self, died_on: time::Date) -> Result<(), StoreError> {
        if let Some(earlier) = self.died_on {
            return Err(crate::deceased(earlier));
        }
        if died_on < self.coverage.coverage_from {
            return Err(StoreError::Refused {
                code: "person.bad_date",
                message: format!(
                    "a death on {died_on} is before the coverage in force began on {}: the bureau corrects the enrolment first",
                    self.coverage.coverage_from
                ),
            });
        }
        self.coverage.coverage_until = Some(self.coverage.coverage_until.map_or(died_on, |until| until.min(died_on)));
        self.died_on = Some(died_on);
        Ok(())
    }

    pub fn end_coverage(&mut self, until: time::Date) -> Result<(), StoreError> {
        if let Some(died_on) = self.died_on {
            return Err(crate::deceased(died_on));
        }
        if until < self.coverage.coverage_from {
            return Err(StoreError::Invalid(format!("coverage cannot end on {until}, before it began on {}", self.coverage.coverage_from)));
        }
        self.coverage.coverage_until = Some(until);
        Ok(())
    }
}

impl ClaimRecord {
    /// The audit entry's detail for a settled claim: who, which claim, whose, and the
    /// three totals (the settlement itself is in the claim row).
    /// What the person's account paid towards this claim (`acct_pay`), which a reversal
    /// gives back. A stored settlement without a readable `acct_pay` is an error, never a
    /// silent zero: a reversal must not keep the person's money.
    pub fn personal_account_paid(&self) -> Result<yibao_domain::Fen, StoreError> {
        let unreadable = |why: String| {
            StoreError::Backend(format!("claim {}/{}: stored settlement unreadable: {why}", self.institution_code, self.claim_id))
        };
        let settlement: serde_json::Value = serde_json::from_str(&self.settlement_json).map_err(|e| unreadable(e.to_string()))?;
        let paid = settlement.get("acct_pay").and_then(serde_json::Value::as_str).ok_or_else(|| unreadable("no acct_pay".into()))?;
        yibao_domain::Fen::parse_yuan(paid).map_err(|e| unreadable(e.to_string()))
    }

    /// The audit entry's detail for a settled claim: who, which claim, whose, the three
    /// totals in yuan, and SHA-256 digests of the stored settlement (every layer, the split
    /// between account and cash, the accumulators it reports) and of the accumulators it
    /// started from and left, so the hash chain (and an anchor outside) protects all of it.
    pub fn settle_audit_detail(
        &self,
        before: &yibao_engine::Accumulators,
        after: &yibao_engine::Accumulators,
    ) -> Result<String, StoreError> {
        use sha2::Digest;
        let text = |value: &str| serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()));
        let hex = crate::hex_lower;
        let settlement_sha256 = hex(&sha2::Sha256::digest(self.settlement_json.as_bytes()));
        let accumulators = format!(
            "{}\n{}",
            serde_json::to_string(before).map_err(|e| StoreError::Backend(e.to_string()))?,
            serde_json::to_string(after).map_err(|e| StoreError::Backend(e.to_string()))?
        );
        let accumulators_sha256 = hex(&sha2::Sha256::digest(accumulators.as_bytes()));
        Ok(format!(
            "{{\"institution\":{},\"claim_id\":{},\"person\":\"{}\",\"medfee\":\"{}\",\"fund_pay\":\"{}\",\"psn_part\":\"{}\",\"settlement_sha256\":\"{settlement_sha256}\",\"accumulators_sha256\":\"{accumulators_sha256}\"}}",
            text(&self.institution_code)?,
            text(&self.claim_id)?,
            self.person_id,
            self.medfee_fen,
            self.fund_pay_fen,
            self.psn_part_fen
        ))
    }
}

impl PersonUpdate {
    /// Checks the update and applies it to `record` (name, card number and the coverage),
    /// returning what changed as JSON (`{"field": {"old": .., "new": ..}}`) for the audit
    /// entry. Leaves `record` untouched when it refuses. An update that changes nothing is
    /// refused.
    pub fn apply(self, record: &mut PersonRecord) -> Result<String, StoreError> {
        self.validate()?;
        // After a death the register's name and card may still be corrected; the coverage
        // ended for good.
        let coverage_changes = self.assistance_group.is_some()
            || self.supplementary.is_some()
            || self.maternity.is_some()
            || self.civil_servant.is_some()
            || self.enterprise_supplementary.is_some()
            || self.certified_chronic_diseases.is_some();
        if let Some(died_on) = record.died_on.filter(|_| coverage_changes) {
            return Err(crate::deceased(died_on));
        }
        let mut changed = serde_json::Map::new();
        let mut next = record.clone();
        if let Some(name) = self.name {
            note(&mut changed, "name", &mut next.name, name);
        }
        if let Some(card_no) = self.card_no {
            let refused = |e: yibao_domain::RegisterError| StoreError::Refused { code: e.code(), message: e.to_string() };
            let card_no = card_no.as_deref().map(yibao_domain::parse_card_no).transpose().map_err(refused)?;
            note(&mut changed, "card_no", &mut next.card_no, card_no);
        }
        if let Some(group) = self.assistance_group {
            note(&mut changed, "assistance_group", &mut next.coverage.assistance_group, group);
        }
        if let Some(supplementary) = self.supplementary {
            note(&mut changed, "supplementary", &mut next.coverage.supplementary, supplementary);
        }
        if let Some(maternity) = self.maternity {
            note(&mut changed, "maternity", &mut next.coverage.maternity, maternity);
        }
        if let Some(civil_servant) = self.civil_servant {
            note(&mut changed, "civil_servant", &mut next.coverage.civil_servant, civil_servant);
        }
        if let Some(enterprise) = self.enterprise_supplementary {
            note(&mut changed, "enterprise_supplementary", &mut next.coverage.enterprise_supplementary, enterprise);
        }
        if let Some(diseases) = self.certified_chronic_diseases {
            note(&mut changed, "certified_chronic_diseases", &mut next.coverage.certified_chronic_diseases, diseases);
        }
        check_employee_top_ups(&next.coverage)?;
        if changed.is_empty() {
            return Err(StoreError::Invalid("nothing to change".into()));
        }
        *record = next;
        serde_json::to_string(&Value::Object(changed)).map_err(|e| StoreError::Backend(e.to_string()))
    }

    fn validate(&self) -> Result<(), StoreError> {
        if let Some(diseases) = &self.certified_chronic_diseases {
            check_chronic_diseases(diseases)?;
        }
        Ok(())
    }
}

/// The civil servants' subsidy and the employer's supplementary insurance are an
/// employee's (national insurance types 320 and 370 sit above employee insurance, 310).
pub fn check_employee_top_ups(coverage: &yibao_engine::Coverage) -> Result<(), StoreError> {
    if coverage.scheme != yibao_domain::Scheme::Employee && (coverage.civil_servant || coverage.enterprise_supplementary) {
        return Err(StoreError::Refused {
            code: "person.employee_only",
            message: "the civil servants' subsidy and the employer's supplementary insurance are an employee's".into(),
        });
    }
    Ok(())
}

/// A person's certified chronic diseases (门诊慢特病): at most [`CHRONIC_DISEASES_LIMIT`]
/// codes of 1 to 16 characters of A-Z, 0-9 and '.'. For enrolment, import and update alike.
pub fn check_chronic_diseases(diseases: &[String]) -> Result<(), StoreError> {
    if diseases.len() > CHRONIC_DISEASES_LIMIT {
        return Err(StoreError::Invalid(format!("a person has at most {CHRONIC_DISEASES_LIMIT} certified chronic diseases")));
    }
    if let Some(bad) = diseases
        .iter()
        .find(|code| code.is_empty() || code.len() > 16 || !code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.'))
    {
        return Err(StoreError::Invalid(format!(
            "a chronic disease code has 1 to 16 characters of A-Z, 0-9 and '.': {}",
            serde_json::to_string(bad).unwrap_or_default()
        )));
    }
    Ok(())
}

/// Sets `old` to `new` and notes the change in `changed`, if they differ.
fn note<T: Serialize + PartialEq>(changed: &mut serde_json::Map<String, Value>, field: &str, old: &mut T, new: T) {
    if *old != new {
        changed.insert(field.to_owned(), json!({ "old": &*old, "new": &new }));
        *old = new;
    }
}

#[cfg(test)]
mod personal_account_tests {
    use super::*;

    fn claim_with(settlement_json: &str) -> ClaimRecord {
        ClaimRecord {
            region: RegionCode::parse("419921").expect("region"),
            institution_code: yibao_domain::InstitutionCode::parse("H41992100007").expect("a code"),
            claim_id: "C-1".into(),
            person_id: NationalId::parse("41992119620314004X").expect("id"),
            year: 2026,
            status: ClaimStatus::Settled,
            settled_at: time::macros::datetime!(2026-03-01 00:00 UTC),
            medfee_fen: yibao_domain::Fen::ZERO,
            fund_pay_fen: yibao_domain::Fen::ZERO,
            psn_part_fen: yibao_domain::Fen::ZERO,
            settlement_json: settlement_json.into(),
            claim_json: "{}".into(),
            reversed_at: None,
            reversal_reason: None,
        }
    }

    #[test]
    fn what_the_account_paid_is_read_back_to_the_fen() {
        assert_eq!(claim_with(r#"{"acct_pay":"12.30"}"#).personal_account_paid(), Ok(yibao_domain::Fen::new(1_230)));
    }

    #[test]
    fn an_unreadable_settlement_is_an_error_not_a_zero_refund() {
        for stored in ["{}", "not json", r#"{"acct_pay":12.3}"#, r#"{"acct_pay":"1.234"}"#] {
            let answer = claim_with(stored).personal_account_paid();
            assert!(matches!(answer, Err(StoreError::Backend(_))), "{stored}: {answer:?}");
        }
    }
}
