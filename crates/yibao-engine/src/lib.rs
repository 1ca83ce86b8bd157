//! The settlement engine of Yibao: one claim through every benefit layer in one pure call
//! (R-BEN-4, one-bill settlement), contributions (R-FIN) and the tier-switch rules
//! (R-ENR-4). No I/O, no clock, no randomness: dates and accumulators are passed in.

mod arrears;
mod claim;
mod contribution;
mod coverage;
mod employer;
pub mod monitoring;
pub mod performance;
pub mod review;
mod settle;
mod settlement;
mod tier;

pub use arrears::{
    ArrearsRule, INSTALMENTS_MAX, Instalment, OwedPeriod, PLAN_PAYMENTS_MAX, PLAN_PERIODS_MAX, PlanError, PlanPeriod, PlanStanding,
    Standing, allocate_payment, arrears_rule, instalment_schedule, scheme_of, standing_on,
};
pub use claim::{
    Accumulators, BABIES_LIMIT, BILL_LIMIT, Claim, ClaimError, ClaimLine, Coverage, Delivery, LINES_LIMIT, QUANTITY_LIMIT_MILLI, Quantity,
    TIER_CHANGES_LIMIT, TierChange, TierHistory, UNIT_PRICE_LIMIT, is_claim_id,
};
pub use contribution::{
    ContributionBreakdown, ContributionDue, ContributionError, EmployeeContribution, MaternityContribution, ResidentContribution,
    SupplementaryContribution, contribution_due, employee_contribution, maternity_contribution, resident_contribution,
    supplementary_contribution,
};
pub use coverage::{
    COVERAGE_SPELLS_MAX, CoverageChange, CoverageChangeError, CoverageChangeKind, PastCoverage, SpellOn, change_coverage,
    counters_to_restore, past_with_account, spell_on,
};
pub use employer::{
    CARRIED_MONTHS_MAX, ContributionYears, DECLARATION_LINES_MAX, LATE_DAYS_MAX, LateFee, contribution_years, declarable, first_declarable,
    late_fee, late_fee_for, late_fee_terms, payment_due_on, required_contribution_months,
};
pub use settle::{Explain, SettleError, settle, settle_into};
pub use settlement::{Bilingual, FundPayment, Language, LineSettlement, LineVerdict, Rule, Settlement, Step, fund_payments};
pub use tier::{TierHistoryError, TierOrPolicyError, change_takes_effect, tier_in_force, tier_on, upgrade_waiting_months};
