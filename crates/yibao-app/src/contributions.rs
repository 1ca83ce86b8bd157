//! Contributions (R-FIN-1..3): what is due for a person and period, and recording what was
//! paid. The due amount is computed here once, at the tier in force on the period's first
//! day, for the API, the console and the loaders alike.

use yibao_domain::{Fen, NationalId, Scheme, Tier};
use yibao_engine::{Coverage, TierOrPolicyError, tier_in_force};
use yibao_policy::Policy;
use yibao_store::{ContributionKind, ContributionRecord, ContributionStore as _, NewContribution, Store as _};

use crate::{App, AppError, Period, Principal, roles, store};

/// What a person owes for one period, and how it was worked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionDue {
    pub period: Period,
    /// The tier the amount was computed at: the one in force on the period's first day.
    pub tier: Option<Tier>,
    pub due: Fen,
    /// The engine's breakdown (personal part, subsidies by level, employer part, account
    /// share), as JSON for the record.
    pub breakdown_json: String,
}

/// The contribution due from the person with `coverage` for `period` (R-FIN-1..3).
///
/// Refused when the kind does not fit the person (`contribution.kind_mismatch`: a resident
/// contribution for an employee, an employee contribution for a resident, a supplementary
/// contribution for someone not enrolled in it), when the period has the wrong form
/// (`contribution.bad_period`: a resident or supplementary year is `YYYY`, an employee month
/// `YYYY-MM`), and when an employee contribution has no wage (`contribution.no_wage`).
pub fn contribution_due(
    policy: &Policy,
    coverage: &Coverage,
    kind: ContributionKind,
    period: Period,
    wage_monthly: Option<Fen>,
) -> Result<ContributionDue, AppError> {
    let mismatch = |why: &str| AppError::bad_request("contribution.kind_mismatch", format!("a {} contribution {why}", kind.as_str()));
    match kind {
        ContributionKind::Resident if coverage.scheme != Scheme::Resident => return Err(mismatch("is paid only by a resident")),
        ContributionKind::Employee if coverage.scheme != Scheme::Employee => return Err(mismatch("is paid only for an employee")),
        ContributionKind::Supplementary if !coverage.supplementary => {
            return Err(mismatch("is paid only by a person enrolled in supplementary insurance"));
        }
        _ => {}
    }
    let yearly = matches!(kind, ContributionKind::Resident | ContributionKind::Supplementary);
    match (yearly, period) {
        (true, Period::Year(_)) | (false, Period::Month(..)) => {}
        (true, Period::Month(..)) => {
            return Err(AppError::bad_request("contribution.bad_period", format!("a {} contribution is for a year: YYYY", kind.as_str())));
        }
        (false, Period::Year(_)) => {
            return Err(AppError::bad_request("contribution.bad_period", "an employee contribution is for a month: YYYY-MM"));
        }
    }
    let on = period.first_day();
    let tier = tier_in_force(policy, coverage, on).map_err(|e| match e {
        TierOrPolicyError::History(e) => AppError::bad_request("person.bad_tier", e.to_string()),
        TierOrPolicyError::Policy(e) => AppError::from(e),
    })?;
    let region = coverage.region;
    let json = |value: Result<String, serde_json::Error>| value.map_err(|e| AppError::internal("contribution.failure", e.to_string()));
    let (due, breakdown_json) = match kind {
        ContributionKind::Resident => {
            let c = yibao_engine::resident_contribution(policy, region, tier, coverage.assistance_group, on)?;
            (c.personal, json(serde_json::to_string(&c))?)
        }
        ContributionKind::Employee => {
            let wage = wage_monthly
                .ok_or_else(|| AppError::bad_request("contribution.no_wage", "an employee contribution needs the month's wage"))?;
            if wage.is_negative() {
                return Err(AppError::bad_request("contribution.negative", "a wage may not be negative"));
            }
            let c = yibao_engine::employee_contribution(policy, region, tier, coverage.category, wage, on)?;
            (c.employer + c.employee, json(serde_json::to_string(&c))?)
        }
        ContributionKind::Supplementary => {
            let c = yibao_engine::supplementary_contribution(policy, region, on)?;
            (c.personal, json(serde_json::to_string(&c))?)
        }
    };
    Ok(ContributionDue { period, tier, due, breakdown_json })
}

/// A contribution to record: the kind, the period as written, what was paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionInput {
    pub kind: ContributionKind,
    pub period: String,
    pub paid: Fen,
    pub wage_monthly: Option<Fen>,
}

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
        let due = contribution_due(&self.policy, &person.coverage, input.kind, period, input.wage_monthly)?;
        let record = store!(
            self,
            record_contribution(
                &principal.actor(source, self.now()),
                scope,
                NewContribution {
                    person_id: *person_id,
                    kind: input.kind,
                    period: period.to_string(),
                    due_fen: due.due.get(),
                    paid_fen: input.paid.get(),
                    breakdown_json: due.breakdown_json,
                }
            )
        )?;
        Ok(record)
    }
}

