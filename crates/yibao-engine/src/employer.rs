//! Employers (参保单位, R-FIN-1, R-FIN-4): when a declared month falls due, what paying
//! it late costs (滞纳金), and whether a retiree has the years of contributions that make
//! their coverage free (最低缴费年限).
//!
//! An employer declares each month's payroll (缴费申报: each employee and the month's
//! wage); what each line owes is [`crate::contribution_due`] of the employee (and
//! maternity) kind, so a declared month and a month paid at the counter are billed alike.

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{Fen, Period, RatioBp, RegionCode, Rounding, Sex};
use yibao_policy::{LookupError, ParamKey, Policy, Query};

/// Most lines one payroll declaration carries (one transaction).
pub const DECLARATION_LINES_MAX: usize = 10_000;

/// Most days a late fee runs: a month declared a hundred years ago is not a bill this
/// system takes (TIGER_STYLE: limits on everything).
pub const LATE_DAYS_MAX: i64 = 36_600;

/// The day a declared month is due: `employee.payment_due_day` of the month after it (the
/// last day of that month when it is shorter).
pub fn payment_due_on(policy: &Policy, region: RegionCode, month: Period) -> Result<Date, LookupError> {
    let next = yibao_domain::first_of_next_month(month.first_day());
    let day = policy.count(ParamKey::EmployeePaymentDueDay, &Query { region: Some(region), ..Query::default() }, month.first_day())?.value;
    let last = next.month().length(next.year());
    let day = u8::try_from(day.clamp(1, u32::from(last))).unwrap_or(last);
    Ok(Date::from_calendar_date(next.year(), next.month(), day).unwrap_or(next))
}

/// A late fee (滞纳金): the amount owed when it was paid, the days after the due day, the
/// rate a day, and the fee, `owed × rate × days` rounded once by the pack's rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateFee {
    pub owed_fen: Fen,
    pub due_on: Date,
    pub days: i64,
    pub rate_bp: RatioBp,
    /// The pack's rounding the fee was rounded by (what the book check replays it with).
    pub rounding: Rounding,
    pub fee_fen: Fen,
}

impl LateFee {
    /// What paying costs: the amount owed and its fee.
    #[must_use]
    pub fn bill_fen(&self) -> Fen {
        self.owed_fen + self.fee_fen
    }
}

/// The late fee on `owed` due on `due_on` and paid on `paid_on` at `rate_bp` a day: nothing
/// when paid on or before the due day.
#[must_use]
pub fn late_fee(owed: Fen, due_on: Date, paid_on: Date, rate_bp: RatioBp, rounding: Rounding) -> LateFee {
    let days = (paid_on - due_on).whole_days().clamp(0, LATE_DAYS_MAX);
    let fee_fen = if owed.is_negative() { Fen::ZERO } else { rounding.scale(owed, i64::from(rate_bp.get()) * days, 10_000) };
    LateFee { owed_fen: owed, due_on, days, rate_bp, rounding, fee_fen }
}

/// The terms a declared `month` of an employer in `region` is late by: its due day and the
/// rate a day in force on it.
pub fn late_fee_terms(policy: &Policy, region: RegionCode, month: Period) -> Result<(Date, RatioBp), LookupError> {
    let due_on = payment_due_on(policy, region, month)?;
    let rate_bp = policy.ratio(ParamKey::EmployeeLateFeeDaily, &Query { region: Some(region), ..Query::default() }, due_on)?.value;
    Ok((due_on, rate_bp))
}

/// The late fee on a declared `month` of an employer in `region` paid on `paid_on`, under
/// [`late_fee_terms`] and the pack's rounding.
pub fn late_fee_for(policy: &Policy, region: RegionCode, month: Period, owed: Fen, paid_on: Date) -> Result<LateFee, LookupError> {
    let (due_on, rate_bp) = late_fee_terms(policy, region, month)?;
    Ok(late_fee(owed, due_on, paid_on, rate_bp, policy.rounding))
}

/// Whether a retiree has paid long enough to be covered free (R-FIN-1's minimum years):
/// the months required of their sex, those carried from elsewhere (a transfer-in, the
/// legacy system), those paid here, and what is short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionYears {
    /// `None`: the pack sets no minimum.
    pub required_months: Option<u32>,
    pub carried_months: u32,
    pub paid_months: u32,
    pub short_months: u32,
}

/// The minimum months of contributions for retirement in `region` on `on` for `sex`, when
/// the pack sets one (`employee.min_contribution_months_male` / `_female`).
pub fn required_contribution_months(policy: &Policy, region: RegionCode, sex: Sex, on: Date) -> Result<Option<u32>, LookupError> {
    let key = match sex {
        Sex::Male => ParamKey::EmployeeMinContributionMonthsMale,
        Sex::Female => ParamKey::EmployeeMinContributionMonthsFemale,
    };
    let query = Query { region: Some(region), ..Query::default() };
    if policy.entry_for(key, &query).is_none() {
        return Ok(None);
    }
    policy.count(key, &query, on).map(|found| Some(found.value))
}

/// The years a person has against those required.
#[must_use]
pub fn contribution_years(required_months: Option<u32>, carried_months: u32, paid_months: u32) -> ContributionYears {
    let have = carried_months.saturating_add(paid_months);
    ContributionYears {
        required_months,
        carried_months,
        paid_months,
        short_months: required_months.map_or(0, |required| required.saturating_sub(have)),
    }
}

/// The months a person may carry in from elsewhere: at most a working life of 60 years.
pub const CARRIED_MONTHS_MAX: u32 = 720;

/// The first month an employer may declare: the month it registered in.
#[must_use]
pub fn first_declarable(registered_on: Date) -> Period {
    Period::Month(registered_on.year(), registered_on.month())
}

/// Whether `month` is one an employer registered on `registered_on` may declare on
/// `today`: from its first month up to the current one (a month is declared when its
/// payroll is known, never ahead).
#[must_use]
pub fn declarable(month: Period, registered_on: Date, today: Date) -> bool {
    matches!(month, Period::Month(..))
        && month.first_day() >= first_declarable(registered_on).first_day()
        && month.first_day() <= Date::from_calendar_date(today.year(), today.month(), 1).unwrap_or(today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Month, macros::date};

    #[test]
    fn a_fee_runs_from_the_day_after_the_due_day() {
        let owed = Fen::new(123_456);
        let rate = RatioBp::new(5);
        assert_eq!(late_fee(owed, date!(2026 - 11 - 15), date!(2026 - 11 - 15), rate, Rounding::HalfUp).fee_fen, Fen::ZERO);
        assert_eq!(late_fee(owed, date!(2026 - 11 - 15), date!(2026 - 11 - 01), rate, Rounding::HalfUp).days, 0);
        // 1,234.56 × 0.05% × 10 days = 6.1728, half-up 6.17.
        let fee = late_fee(owed, date!(2026 - 11 - 15), date!(2026 - 11 - 25), rate, Rounding::HalfUp);
        assert_eq!((fee.days, fee.fee_fen), (10, Fen::new(617)));
        // 1,234.56 × 0.05% × 9 days = 5.55552: half-up 5.56.
        assert_eq!(late_fee(owed, date!(2026 - 11 - 15), date!(2026 - 11 - 24), rate, Rounding::HalfUp).fee_fen, Fen::new(556));
    }

    #[test]
    fn years_short_are_what_the_minimum_leaves() {
        assert_eq!(contribution_years(Some(300), 200, 40).short_months, 60);
        assert_eq!(contribution_years(Some(300), 280, 40).short_months, 0);
        assert_eq!(contribution_years(None, 0, 0).short_months, 0);
    }

    #[test]
    fn a_month_is_declared_from_registration_to_now() {
        let registered = date!(2026 - 03 - 20);
        let today = date!(2026 - 12 - 04);
        assert!(declarable(Period::Month(2026, Month::March), registered, today));
        assert!(declarable(Period::Month(2026, Month::December), registered, today));
        assert!(!declarable(Period::Month(2026, Month::February), registered, today));
        assert!(!declarable(Period::Month(2027, Month::January), registered, today));
        assert!(!declarable(Period::Year(2026), registered, today));
    }
}
