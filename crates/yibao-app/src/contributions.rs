//! Contributions (R-FIN-1..3): recording what was paid against what is due. What is due is
//! the engine's `contribution_due` (at the tier in force on the period's first day), the
//! one rule the API, the console and the loaders share.

use yibao_domain::{Fen, NationalId, RegionCode};
use yibao_engine::contribution_due;
use yibao_store::{ContributionKind, ContributionRecord, ContributionStore as _, NewContribution, Store as _, check_scope};

use crate::{App, AppError, Period, Principal, roles, store};

pub(crate) use yibao_store::coverage_for_period;

/// A contribution to record: the kind, the period as written, what was paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionInput {
    pub kind: ContributionKind,
    pub period: String,
    pub paid: Fen,
    pub wage_monthly: Option<Fen>,
    /// The receipt's number (收据号) of a payment at the counter: given, the payment is
    /// recorded once, whatever number of times it is sent.
    pub receipt: Option<String>,
}

/// Most contributions one [`App::record_contributions`] call carries (one transaction).
pub const CONTRIBUTION_BATCH_MAX: usize = 20_000;

impl App {
    /// Records a contribution (R-FIN-1..3): what is due is computed from the policy in
    /// force at the tier in force for the period; the payment, its subsidies and its
    /// personal-account share post to the books in the same transaction. A period may be
    /// paid ahead for at most the next year.
    pub async fn record_contribution(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        input: ContributionInput,
    ) -> Result<ContributionRecord, AppError> {
        let scope = principal.scope(roles::CONTRIBUTIONS)?;
        let receipt = match input.receipt.as_deref() {
            Some(text) => Some(receipt_number(text).ok_or_else(|| AppError::bad_request("contribution.bad_receipt", receipt_rule()))?),
            None => None,
        };
        let contribution = self.new_contribution(scope, person_id, input).await?;
        let actor = principal.actor(source, self.now());
        Ok(match receipt {
            Some(receipt) => store!(self, record_receipted_contribution(&actor, scope, contribution, receipt))?,
            None => store!(self, record_contribution(&actor, scope, contribution))?,
        })
    }

    /// Records a collection file of contributions of one county (a loader's or a tax
    /// office's batch, at most [`CONTRIBUTION_BATCH_MAX`]) in one transaction, whole or
    /// nothing, each one decided as [`App::record_contribution`] decides it. Returns how
    /// many were recorded.
    pub async fn record_contributions(
        &self,
        principal: &Principal,
        source: &str,
        region: RegionCode,
        batch: Vec<(NationalId, ContributionInput)>,
    ) -> Result<usize, AppError> {
        let scope = principal.scope(roles::CONTRIBUTIONS)?;
        check_scope(scope, region)?;
        self.check_county(region)?;
        if batch.len() > CONTRIBUTION_BATCH_MAX {
            return Err(AppError::bad_request(
                "contribution.batch_too_large",
                format!("{} contributions in one batch: at most {CONTRIBUTION_BATCH_MAX}", batch.len()),
            ));
        }
        let mut contributions = Vec::with_capacity(batch.len());
        for (person_id, input) in batch {
            contributions.push(self.new_contribution(region, &person_id, input).await?);
        }
        Ok(store!(self, record_contributions(&principal.actor(source, self.now()), region, contributions))?)
    }

    /// The contribution to store: the period checked, what is due computed from the
    /// person's record as `scope` sees it.
    async fn new_contribution(
        &self,
        scope: RegionCode,
        person_id: &NationalId,
        input: ContributionInput,
    ) -> Result<NewContribution, AppError> {
        let period = Period::parse(&input.period)?;
        if period.year() > self.today().year() + 1 {
            return Err(AppError::bad_request(
                "contribution.bad_period",
                format!("{period} is too far ahead: contributions are paid for at most the next year"),
            ));
        }
        if input.paid.is_negative() {
            return Err(AppError::bad_request("contribution.negative", "paid may not be negative"));
        }
        let person = store!(self, person(scope, person_id))?;
        if let Some(died_on) = person.died_on.filter(|died_on| period.first_day() > *died_on) {
            return Err(AppError::bad_request(
                "person.deceased",
                format!("the person died on {died_on}: nothing is due for {period}, which begins after it"),
            ));
        }
        let coverage = coverage_for_period(&person, input.kind, period).ok_or_else(|| {
            AppError::unprocessable("contribution.not_covered", format!("{person_id} was not insured in {period}: nothing is due for it"))
        })?;
        let due = contribution_due(&self.policy(), coverage, input.kind, period, input.wage_monthly)?;
        let breakdown_json =
            serde_json::to_string(&due.breakdown).map_err(|e| AppError::internal("contribution.failure", e.to_string()))?;
        Ok(NewContribution { person_id: *person_id, kind: input.kind, period, due_fen: due.due, paid_fen: input.paid, breakdown_json })
    }
}

/// A receipt's number as it is kept: full-width letters, digits and signs (a counter PC
/// left in full-width input) read as their ASCII selves, the ideographic space as a space,
/// then trimmed, if it follows the register's free-text rule within
/// [`yibao_domain::RECEIPT_CHARS_MAX`]: so `ＳＫ-0001` and `SK-0001` are one receipt. A counter
/// payment's as a plan payment's (each refusing under its own code with [`receipt_rule`]).
pub(crate) fn receipt_number(text: &str) -> Option<String> {
    let narrow: String = text
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect();
    yibao_domain::register_text(&narrow, yibao_domain::RECEIPT_CHARS_MAX).map(str::to_owned)
}

/// What a receipt's number must be, for a refusal.
pub(crate) fn receipt_rule() -> String {
    format!("a receipt number has 1 to {} printable characters", yibao_domain::RECEIPT_CHARS_MAX)
}

#[cfg(test)]
mod tests {
    use super::receipt_number;

    #[test]
    fn a_receipt_typed_full_width_is_the_same_receipt() {
        assert_eq!(receipt_number(" ＳＫ－２０２６　0001 ").as_deref(), Some("SK-2026 0001"));
        assert_eq!(receipt_number("SK-2026 0001").as_deref(), Some("SK-2026 0001"));
        assert_eq!(receipt_number("\u{3000}"), None, "blank");
        assert_eq!(receipt_number("SK\u{200B}1"), None, "an invisible character");
        assert_eq!(receipt_number(&"9".repeat(65)), None, "too long");
    }
}
