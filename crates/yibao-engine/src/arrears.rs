//! Arrears (欠费) repaid in instalments and the benefits they suspend (R-FIN-4, issue 16
//! item 4): the schedule of a repayment plan, where a payment goes, and whether a person's
//! benefits are in force on a date of service. Pure: the periods owed, the plan and the
//! dates are passed in.
//!
//! The rule, in the pack's words (all optional; absent, nothing is suspended):
//! - `arrears.suspend_after_days`: a period of a scheme still owed this many days after it
//!   began suspends the scheme's benefits from that day;
//! - `arrears.resume_waiting_days`: benefits resume this many days after the day the period
//!   is paid in full (or the plan is agreed, below); a date of service in between is not
//!   covered, however the arrears are paid later;
//! - `arrears.retroactive`: once a period is paid in full, services dated while it
//!   suspended benefits are covered after all (a claim settled after the payment is paid);
//!   without it, the waiting days above decide and the days in between stay uncovered;
//! - `arrears.resume_on_plan`: a repayment plan agreed and kept to resumes benefits at
//!   once (after the waiting days); an instalment unpaid `suspend_after_days` after it fell
//!   due puts the plan in default, and the periods it still owes suspend benefits again;
//! - `arrears.instalments_max`: the longest plan, in monthly instalments (R-FIN-4: five
//!   years, 60).

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{ContributionKind, Fen, Period, RegionCode, Scheme};
use yibao_policy::{LookupError, ParamKey, Policy, Query};

/// The most instalments any plan may have: five years of months (R-FIN-4).
pub const INSTALMENTS_MAX: u32 = 60;
/// The most periods one plan repays (twenty years of two monthly kinds).
pub const PLAN_PERIODS_MAX: usize = 480;
/// The most payments one plan records (every instalment paid in two parts, and more).
pub const PLAN_PAYMENTS_MAX: usize = 240;

/// The scheme a contribution kind pays for: employee and maternity contributions keep an
/// employee's benefits, resident and supplementary a resident's.
#[must_use]
pub const fn scheme_of(kind: ContributionKind) -> Scheme {
    match kind {
        ContributionKind::Employee | ContributionKind::Maternity => Scheme::Employee,
        ContributionKind::Resident | ContributionKind::Supplementary => Scheme::Resident,
    }
}

/// The pack's arrears rule in force on a day in a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrearsRule {
    /// `None`: arrears never suspend benefits.
    pub suspend_after_days: Option<u32>,
    pub resume_waiting_days: u32,
    pub retroactive: bool,
    pub resume_on_plan: bool,
    /// `None`: the pack offers no repayment plans.
    pub instalments_max: Option<u32>,
}

/// The arrears rule of `region` in force on `on`.
pub fn arrears_rule(policy: &Policy, region: RegionCode, on: Date) -> Result<ArrearsRule, LookupError> {
    let query = Query { region: Some(region), ..Query::default() };
    let optional = |key: ParamKey| -> Result<Option<u32>, LookupError> {
        if policy.entry_for(key, &query).is_none() {
            return Ok(None);
        }
        policy.count(key, &query, on).map(|found| Some(found.value))
    };
    Ok(ArrearsRule {
        suspend_after_days: optional(ParamKey::ArrearsSuspendAfterDays)?,
        resume_waiting_days: optional(ParamKey::ArrearsResumeWaitingDays)?.unwrap_or(0),
        retroactive: policy.flag_or(ParamKey::ArrearsRetroactive, &query, on, false)?.value,
        resume_on_plan: policy.flag_or(ParamKey::ArrearsResumeOnPlan, &query, on, false)?.value,
        instalments_max: optional(ParamKey::ArrearsInstalmentsMax)?.map(|max| max.min(INSTALMENTS_MAX)),
    })
}

/// One instalment of a plan: its number (from 1), the day it falls due and its amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    pub number: u32,
    pub due_on: Date,
    pub amount_fen: Fen,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a plan has 1 to {max} monthly instalments, not {count}")]
    Instalments { count: u32, max: u32 },
    #[error("nothing is owed: there is nothing to repay in instalments")]
    NothingOwed,
    #[error("{total} yuan cannot be split into {count} instalments of at least 0.01 yuan")]
    TooSmall { total: Fen, count: u32 },
    #[error("{paid} yuan is more than the {rest} yuan the plan still owes")]
    Overpaid { paid: Fen, rest: Fen },
    #[error("a payment is at least 0.01 yuan")]
    NotPositive,
}

impl PlanError {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            PlanError::Instalments { .. } => "arrears.bad_instalments",
            PlanError::NothingOwed => "arrears.nothing_owed",
            PlanError::TooSmall { .. } => "arrears.too_small",
            PlanError::Overpaid { .. } => "arrears.overpaid",
            PlanError::NotPositive => "arrears.bad_amount",
        }
    }
}

/// The schedule of `total` repaid in `count` monthly instalments from `first_due_on`: equal
/// parts in whole fen, the fen left over by the division paid one each with the first
/// instalments (so the parts add up to the total exactly, and no rounding is involved); the
/// n-th falls due n−1 months after the first, on the same day or the month's last.
pub fn instalment_schedule(total: Fen, count: u32, max: u32, first_due_on: Date) -> Result<Vec<Instalment>, PlanError> {
    let max = max.min(INSTALMENTS_MAX);
    if count == 0 || count > max {
        return Err(PlanError::Instalments { count, max });
    }
    if total.get() <= 0 {
        return Err(PlanError::NothingOwed);
    }
    if total.get() < i64::from(count) {
        return Err(PlanError::TooSmall { total, count });
    }
    let (part, left_over) = (total.get() / i64::from(count), total.get() % i64::from(count));
    let schedule: Vec<Instalment> = (0..count)
        .map(|index| Instalment {
            number: index + 1,
            due_on: yibao_domain::add_months(first_due_on, index),
            amount_fen: Fen::new(part + i64::from(i64::from(index) < left_over)),
        })
        .collect();
    debug_assert_eq!(schedule.iter().map(|i| i.amount_fen).sum::<Fen>(), total, "instalments-add-up");
    Ok(schedule)
}

/// A period a plan repays, and what it still owes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPeriod {
    pub kind: ContributionKind,
    pub period: Period,
    pub owed_fen: Fen,
}

/// Where a payment of `amount` goes: the oldest period first (by its first day, then by
/// kind), each paid up to what it owes. Refused when it is more than all of them owe.
pub fn allocate_payment(periods: &[PlanPeriod], amount: Fen) -> Result<Vec<PlanPeriod>, PlanError> {
    if amount.get() <= 0 {
        return Err(PlanError::NotPositive);
    }
    let rest: Fen = periods.iter().map(|p| Fen::new(p.owed_fen.get().max(0))).sum();
    if amount > rest {
        return Err(PlanError::Overpaid { paid: amount, rest });
    }
    let mut ordered: Vec<&PlanPeriod> = periods.iter().filter(|p| p.owed_fen.get() > 0).collect();
    ordered.sort_by_key(|p| (p.period.first_day(), p.kind.as_str()));
    let mut left = amount.get();
    let mut parts = Vec::new();
    for period in ordered {
        if left == 0 {
            break;
        }
        let part = left.min(period.owed_fen.get());
        parts.push(PlanPeriod { owed_fen: Fen::new(part), ..*period });
        left -= part;
    }
    debug_assert_eq!(left, 0, "payment-fully-allocated");
    Ok(parts)
}

/// A plan as the standing check sees it: when it was agreed, its schedule, and what was
/// paid under it on which days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStanding {
    pub agreed_on: Date,
    pub schedule: Vec<Instalment>,
    pub payments: Vec<(Date, Fen)>,
    /// The periods it repays.
    pub periods: Vec<(ContributionKind, Period)>,
}

impl PlanStanding {
    /// The first instalment not paid in full `grace_days` after it fell due, as of `on`:
    /// the plan is in default from that day.
    #[must_use]
    pub fn default_on(&self, on: Date, grace_days: u32) -> Option<(Instalment, Date)> {
        let mut scheduled = 0_i64;
        for instalment in &self.schedule {
            scheduled += instalment.amount_fen.get();
            let defaults_on = instalment.due_on.saturating_add(time::Duration::days(i64::from(grace_days)));
            if defaults_on > on {
                return None;
            }
            // Paid by the day before it defaults (a payment on that day is in time).
            let paid: i64 = self.payments.iter().filter(|(day, _)| *day < defaults_on).map(|(_, fen)| fen.get()).sum();
            if paid < scheduled {
                return Some((*instalment, defaults_on));
            }
        }
        None
    }
}

/// A period a person owed at some time: what it still owes now, and the day it was paid in
/// full when it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedPeriod {
    pub kind: ContributionKind,
    pub period: Period,
    pub owed_fen: Fen,
    pub cleared_on: Option<Date>,
}

/// Whether a person's benefits of a scheme are in force on a date of service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum Standing {
    InForce,
    /// Suspended by `period` of `kind`, owed since `overdue_since`; `resumes_on` is the
    /// first day of service covered again, when it is known (the period paid, or a plan
    /// kept to).
    Suspended {
        kind: ContributionKind,
        period: Period,
        overdue_since: Date,
        resumes_on: Option<Date>,
        plan_default: Option<Date>,
    },
}

/// The standing of a person's benefits of `scheme` on the date of service `on`, under
/// `rule`: suspended by the oldest period of the scheme that was owed on `on` more than
/// `suspend_after_days` after it began, unless it was paid in full (at any time under
/// `retroactive`; otherwise at least `resume_waiting_days` before `on`) or, under
/// `resume_on_plan`, its plan was agreed at least `resume_waiting_days` before `on` and is
/// not in default.
///
/// `plans` are the person's plans, open or completed: a service dated while the plan that
/// took a period was kept to stays covered after the plan is paid off.
#[must_use]
pub fn standing_on(on: Date, scheme: Scheme, periods: &[OwedPeriod], plans: &[PlanStanding], rule: &ArrearsRule) -> Standing {
    let Some(suspend_after_days) = rule.suspend_after_days else { return Standing::InForce };
    let days = |n: u32| time::Duration::days(i64::from(n));
    let mut ordered: Vec<&OwedPeriod> = periods.iter().filter(|p| scheme_of(p.kind) == scheme).collect();
    ordered.sort_by_key(|p| (p.period.first_day(), p.kind.as_str()));
    for owed in ordered {
        let overdue_since = owed.period.first_day().saturating_add(days(suspend_after_days));
        if on < overdue_since {
            continue;
        }
        // Paid before it could suspend anything: it never did.
        if owed.cleared_on.is_some_and(|cleared| cleared < overdue_since) {
            continue;
        }
        if owed.cleared_on.is_some() && rule.retroactive {
            continue;
        }
        let cleared_resumes = owed.cleared_on.map(|day| day.saturating_add(days(rule.resume_waiting_days)));
        if cleared_resumes.is_some_and(|resumes| resumes <= on) {
            continue;
        }
        // The latest plan that took the period, agreed by the day of service.
        let planned = plans
            .iter()
            .filter(|plan| rule.resume_on_plan && plan.agreed_on <= on && plan.periods.contains(&(owed.kind, owed.period)))
            .max_by_key(|plan| plan.agreed_on);
        let plan_default = planned.and_then(|plan| plan.default_on(on, suspend_after_days).map(|(_, day)| day));
        let plan_resumes = planned.map(|plan| plan.agreed_on.saturating_add(days(rule.resume_waiting_days)));
        if plan_resumes.is_some_and(|resumes| resumes <= on) && plan_default.is_none() {
            continue;
        }
        let resumes_on = match (cleared_resumes, plan_resumes.filter(|_| plan_default.is_none())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        return Standing::Suspended { kind: owed.kind, period: owed.period, overdue_since, resumes_on, plan_default };
    }
    Standing::InForce
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::{Month, macros::date};

    fn rule(suspend: u32, wait: u32, on_plan: bool) -> ArrearsRule {
        ArrearsRule {
            suspend_after_days: Some(suspend),
            resume_waiting_days: wait,
            retroactive: false,
            resume_on_plan: on_plan,
            instalments_max: Some(60),
        }
    }

    #[test]
    fn a_schedule_adds_up_to_the_fen_with_the_odd_fen_first() {
        let schedule = instalment_schedule(Fen::new(1_000_003), 4, 60, date!(2026 - 01 - 31)).unwrap();
        let amounts: Vec<i64> = schedule.iter().map(|i| i.amount_fen.get()).collect();
        assert_eq!(amounts, vec![250_001, 250_001, 250_001, 250_000]);
        let days: Vec<Date> = schedule.iter().map(|i| i.due_on).collect();
        assert_eq!(days, vec![date!(2026 - 01 - 31), date!(2026 - 02 - 28), date!(2026 - 03 - 31), date!(2026 - 04 - 30)]);
        assert_eq!(instalment_schedule(Fen::new(100), 61, 60, date!(2026 - 01 - 01)), Err(PlanError::Instalments { count: 61, max: 60 }));
        assert_eq!(instalment_schedule(Fen::new(100), 13, 12, date!(2026 - 01 - 01)), Err(PlanError::Instalments { count: 13, max: 12 }));
        assert_eq!(instalment_schedule(Fen::new(100), 0, 60, date!(2026 - 01 - 01)), Err(PlanError::Instalments { count: 0, max: 60 }));
        assert_eq!(instalment_schedule(Fen::ZERO, 3, 60, date!(2026 - 01 - 01)), Err(PlanError::NothingOwed));
        assert_eq!(
            instalment_schedule(Fen::new(2), 3, 60, date!(2026 - 01 - 01)),
            Err(PlanError::TooSmall { total: Fen::new(2), count: 3 })
        );
        // Five years of months (R-FIN-4).
        let longest = instalment_schedule(Fen::new(600_000), 60, 60, date!(2026 - 03 - 15)).unwrap();
        assert_eq!(longest.last().unwrap().due_on, date!(2031 - 02 - 15));
    }

    #[test]
    fn a_payment_goes_to_the_oldest_period_first() {
        let periods = [
            PlanPeriod { kind: ContributionKind::Employee, period: Period::Month(2025, Month::March), owed_fen: Fen::new(300) },
            PlanPeriod { kind: ContributionKind::Resident, period: Period::Year(2025), owed_fen: Fen::new(500) },
            PlanPeriod { kind: ContributionKind::Maternity, period: Period::Month(2025, Month::March), owed_fen: Fen::new(50) },
            PlanPeriod { kind: ContributionKind::Employee, period: Period::Month(2025, Month::April), owed_fen: Fen::ZERO },
        ];
        let parts = allocate_payment(&periods, Fen::new(600)).unwrap();
        let got: Vec<(ContributionKind, Period, i64)> = parts.iter().map(|p| (p.kind, p.period, p.owed_fen.get())).collect();
        assert_eq!(
            got,
            vec![
                (ContributionKind::Resident, Period::Year(2025), 500),
                (ContributionKind::Employee, Period::Month(2025, Month::March), 100),
            ]
        );
        assert_eq!(allocate_payment(&periods, Fen::new(851)), Err(PlanError::Overpaid { paid: Fen::new(851), rest: Fen::new(850) }));
        assert_eq!(allocate_payment(&periods, Fen::ZERO), Err(PlanError::NotPositive));
    }

    fn owed(period: Period, cleared_on: Option<Date>) -> OwedPeriod {
        OwedPeriod {
            kind: ContributionKind::Resident,
            period,
            owed_fen: Fen::new(if cleared_on.is_some() { 0 } else { 38_000 }),
            cleared_on,
        }
    }

    #[test]
    fn an_old_debt_suspends_a_scheme_and_payment_resumes_it_after_the_wait() {
        let rule = rule(90, 30, false);
        let unpaid = [owed(Period::Year(2026), None)];
        // Before 90 days from 1 January, in force; from 1 April, suspended.
        assert_eq!(standing_on(date!(2026 - 03 - 31), Scheme::Resident, &unpaid, &[], &rule), Standing::InForce);
        let suspended = standing_on(date!(2026 - 04 - 01), Scheme::Resident, &unpaid, &[], &rule);
        assert!(matches!(suspended, Standing::Suspended { overdue_since, resumes_on: None, .. } if overdue_since == date!(2026 - 04 - 01)));
        // Another scheme's benefits are not touched.
        assert_eq!(standing_on(date!(2026 - 06 - 01), Scheme::Employee, &unpaid, &[], &rule), Standing::InForce);
        // Paid on 10 May: covered again from 9 June; a stay in between stays uncovered.
        let paid = [owed(Period::Year(2026), Some(date!(2026 - 05 - 10)))];
        assert!(matches!(
            standing_on(date!(2026 - 06 - 08), Scheme::Resident, &paid, &[], &rule),
            Standing::Suspended { resumes_on: Some(day), .. } if day == date!(2026 - 06 - 09)
        ));
        assert_eq!(standing_on(date!(2026 - 06 - 09), Scheme::Resident, &paid, &[], &rule), Standing::InForce);
        // Retroactive: once paid, the days in between are covered too (a claim settled
        // after the payment), while one settled before it was not.
        let retroactive = ArrearsRule { retroactive: true, ..rule };
        assert_eq!(standing_on(date!(2026 - 04 - 15), Scheme::Resident, &paid, &[], &retroactive), Standing::InForce);
        assert!(matches!(standing_on(date!(2026 - 04 - 15), Scheme::Resident, &unpaid, &[], &retroactive), Standing::Suspended { .. }));
        // Paid before its suspension day (25 March), it never suspended anything, waiting
        // days or not; nor does a later record of nothing.
        let on_time = [owed(Period::Year(2026), Some(date!(2026 - 03 - 25)))];
        assert_eq!(standing_on(date!(2026 - 04 - 05), Scheme::Resident, &on_time, &[], &rule), Standing::InForce);
        // Paid before go-live, by the legacy system.
        let legacy = [owed(Period::Year(2026), Some(Date::MIN))];
        assert_eq!(standing_on(date!(2026 - 12 - 05), Scheme::Resident, &legacy, &[], &rule), Standing::InForce);
        // Without a rule, nothing is suspended.
        let none = ArrearsRule { suspend_after_days: None, ..rule };
        assert_eq!(standing_on(date!(2026 - 12 - 01), Scheme::Resident, &unpaid, &[], &none), Standing::InForce);
    }

    #[test]
    fn a_plan_kept_to_resumes_benefits_and_a_default_suspends_them_again() {
        let rule = rule(90, 0, true);
        let unpaid = [owed(Period::Year(2025), None)];
        let schedule = instalment_schedule(Fen::new(38_000), 4, 60, date!(2026 - 02 - 01)).unwrap();
        let mut plan = PlanStanding {
            agreed_on: date!(2026 - 01 - 10),
            schedule,
            payments: vec![(date!(2026 - 01 - 10), Fen::new(9_500))],
            periods: vec![(ContributionKind::Resident, Period::Year(2025))],
        };
        assert!(matches!(
            standing_on(date!(2026 - 01 - 09), Scheme::Resident, &unpaid, std::slice::from_ref(&plan), &rule),
            Standing::Suspended { .. }
        ));
        assert_eq!(standing_on(date!(2026 - 01 - 10), Scheme::Resident, &unpaid, std::slice::from_ref(&plan), &rule), Standing::InForce);
        // The second instalment (1 March) unpaid 90 days later: in default from 30 May.
        assert_eq!(standing_on(date!(2026 - 05 - 29), Scheme::Resident, &unpaid, std::slice::from_ref(&plan), &rule), Standing::InForce);
        let defaulted = standing_on(date!(2026 - 05 - 30), Scheme::Resident, &unpaid, std::slice::from_ref(&plan), &rule);
        assert!(matches!(defaulted, Standing::Suspended { plan_default: Some(day), resumes_on: None, .. } if day == date!(2026 - 05 - 30)));
        // Paid up on 29 May, in time: not in default.
        plan.payments.push((date!(2026 - 05 - 29), Fen::new(9_500)));
        assert_eq!(standing_on(date!(2026 - 05 - 30), Scheme::Resident, &unpaid, std::slice::from_ref(&plan), &rule), Standing::InForce);
        // Paid off on 20 April (late for nothing): a stay of 15 April, while the plan was
        // kept to, stays covered without the retroactive rule.
        let paid_off = [owed(Period::Year(2025), Some(date!(2026 - 04 - 20)))];
        let mut kept = plan.clone();
        kept.payments = vec![(date!(2026 - 01 - 10), Fen::new(9_500)), (date!(2026 - 04 - 20), Fen::new(28_500))];
        assert_eq!(standing_on(date!(2026 - 04 - 15), Scheme::Resident, &paid_off, std::slice::from_ref(&kept), &rule), Standing::InForce);
        // A service before the plan was agreed is not covered by it.
        assert!(matches!(
            standing_on(date!(2026 - 01 - 05), Scheme::Resident, &paid_off, std::slice::from_ref(&kept), &rule),
            Standing::Suspended { .. }
        ));
        // A pack that does not resume on a plan waits for the arrears to be paid.
        let strict = ArrearsRule { resume_on_plan: false, ..rule };
        assert!(matches!(
            standing_on(date!(2026 - 03 - 01), Scheme::Resident, &unpaid, std::slice::from_ref(&plan), &strict),
            Standing::Suspended { .. }
        ));
    }
}
