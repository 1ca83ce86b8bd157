//! Arrears repaid in instalments (欠费分期补缴, R-FIN-4, issue 16 item 4): a person's
//! repayment plan, its payments, and the periods a person owes as the standing check reads
//! them. The rules are the engine's (`yibao_engine::arrears`); what is shared by both
//! stores (which periods a plan takes, where a payment goes, what a plan records) is here,
//! so the SQL is all a store writes.
//!
//! A plan takes every period the person owes that has begun, except months an employer
//! declared (the employer pays those, late fee included). While it is open, its periods are
//! paid only as instalments (`contribution.in_plan` at the counter, `declaration.in_plan`
//! on a declaration). An instalment is recorded as contributions of those periods, the
//! oldest first, each through the one path every payment takes (`insert_contribution`),
//! so the fund, the subsidies and the personal account post as at the counter; the plan
//! itself posts nothing.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{Fen, NationalId, Period, RegionCode};
use yibao_engine::{Instalment, OwedPeriod, PLAN_PAYMENTS_MAX, PLAN_PERIODS_MAX, PlanPeriod, PlanStanding};

use crate::{Actor, ContributionKind, StoreError};

/// A period's chain of records of a person and kind, summed: what it bills, what is paid,
/// and when the last record that paid anything was written here (`None` when only the
/// legacy system's records, loaded at go-live, paid it: it was paid before go-live).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    pub kind: ContributionKind,
    pub period: Period,
    pub region: RegionCode,
    pub due_fen: Fen,
    pub paid_fen: Fen,
    pub last_paid_at: Option<time::OffsetDateTime>,
}

impl Chain {
    #[must_use]
    pub fn owed_fen(&self) -> Fen {
        Fen::new((self.due_fen.get() - self.paid_fen.get()).max(0))
    }
}

/// The periods the standing check needs: those owed now, and those paid in full on or
/// after `cleared_since` (the day they were paid decides when benefits resumed). A period
/// is paid in full on the day of the record that completed it: the last that paid
/// anything (a later record of nothing changes nothing), or before go-live when only the
/// legacy system's records paid it.
#[must_use]
pub fn owed_periods(chains: &[Chain], cleared_since: Date) -> Vec<OwedPeriod> {
    chains
        .iter()
        .filter_map(|chain| {
            let owed_fen = chain.owed_fen();
            let cleared_on = owed_fen.is_zero().then(|| chain.last_paid_at.map_or(Date::MIN, yibao_domain::city_day));
            match cleared_on {
                Some(day) if day < cleared_since || chain.due_fen.is_zero() => None,
                _ => Some(OwedPeriod { kind: chain.kind, period: chain.period, owed_fen, cleared_on }),
            }
        })
        .collect()
}

/// The periods a plan agreed on `agreed_on` takes: those owed that began by then, except
/// months an employer declared (`declared`), the oldest first.
pub fn plan_periods(chains: &[Chain], agreed_on: Date, declared: impl Fn(&Chain) -> bool) -> Vec<PlanPeriod> {
    let mut periods: Vec<PlanPeriod> = chains
        .iter()
        .filter(|chain| chain.owed_fen().get() > 0 && chain.period.first_day() <= agreed_on && !declared(chain))
        .map(|chain| PlanPeriod { kind: chain.kind, period: chain.period, owed_fen: chain.owed_fen() })
        .collect();
    periods.sort_by_key(|p| (p.period.first_day(), p.kind.as_str()));
    periods
}

/// A plan to agree: the periods as the clerk saw them (the store refuses the plan when
/// they changed since, `arrears.changed`), and the schedule of their total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPlan {
    pub person_id: NationalId,
    pub agreed_on: Date,
    pub periods: Vec<PlanPeriod>,
    pub schedule: Vec<Instalment>,
}

/// One payment under a plan: the day it was recorded, the amount, and the periods it paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPaymentRecord {
    pub paid_on: Date,
    /// The receipt number (收据号) of the bank's or the cashier's receipt: a payment is
    /// recorded once per receipt, so a form sent twice records it once.
    #[serde(default)]
    pub receipt: String,
    pub amount_fen: Fen,
    pub parts: Vec<PlanPeriod>,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: time::OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Open,
    /// Every period it took is paid.
    Completed,
}

impl PlanStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Open => "open",
            PlanStatus::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Result<PlanStatus, StoreError> {
        match text {
            "open" => Ok(PlanStatus::Open),
            "completed" => Ok(PlanStatus::Completed),
            other => Err(StoreError::Backend(format!("unknown plan status '{other}'"))),
        }
    }
}

/// A repayment plan as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRecord {
    pub person_id: NationalId,
    /// The person's plans in order, from 1.
    pub seq: i64,
    /// The county the person was insured in when it was agreed (its audit trail has it).
    pub region: RegionCode,
    pub agreed_on: Date,
    /// The periods it took, with what each owed then.
    pub periods: Vec<PlanPeriod>,
    pub total_fen: Fen,
    pub schedule: Vec<Instalment>,
    pub payments: Vec<PlanPaymentRecord>,
    pub status: PlanStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: time::OffsetDateTime,
}

impl PlanRecord {
    #[must_use]
    pub fn paid_fen(&self) -> Fen {
        self.payments.iter().map(|p| p.amount_fen).sum()
    }

    /// What the standing check reads of it.
    #[must_use]
    pub fn standing(&self) -> PlanStanding {
        PlanStanding {
            agreed_on: self.agreed_on,
            schedule: self.schedule.clone(),
            payments: self.payments.iter().map(|p| (p.paid_on, p.amount_fen)).collect(),
            periods: self.periods.iter().map(|p| (p.kind, p.period)).collect(),
        }
    }

    /// The audit entity of the plan: `{person}/{seq}`.
    #[must_use]
    pub fn entity(&self) -> String {
        format!("{}/{}", self.person_id, self.seq)
    }
}

/// A new plan checked against the chains read in the store's transaction: no plan open
/// already, the periods exactly those the clerk was shown, within the limits.
pub fn check_new_plan(plan: &NewPlan, current: &[PlanPeriod], open: bool) -> Result<Fen, StoreError> {
    if open {
        return Err(plan_open(&plan.person_id));
    }
    if current.is_empty() {
        return Err(StoreError::Refused {
            code: "arrears.nothing_owed",
            message: format!("{} owes nothing a plan may take (months an employer declared are the employer's to pay)", plan.person_id),
        });
    }
    if plan.periods != current {
        return Err(StoreError::Refused {
            code: "arrears.changed",
            message: format!(
                "{}'s arrears changed since they were read: read them again and agree the plan on what is owed now",
                plan.person_id
            ),
        });
    }
    if current.len() > PLAN_PERIODS_MAX {
        return Err(StoreError::Invalid(format!("a plan takes at most {PLAN_PERIODS_MAX} periods, not {}", current.len())));
    }
    let total: Fen = current.iter().map(|p| p.owed_fen).sum();
    if plan.schedule.iter().map(|i| i.amount_fen).sum::<Fen>() != total {
        return Err(StoreError::Invalid("the schedule does not add up to what the periods owe".into()));
    }
    Ok(total)
}

/// The refusal of a second plan while one is open.
#[must_use]
pub fn plan_open(person: &NationalId) -> StoreError {
    StoreError::Refused {
        code: "arrears.plan_open",
        message: format!("{person} has an open repayment plan: pay it, or wait until it is paid, before another"),
    }
}

pub use yibao_domain::RECEIPT_CHARS_MAX;

/// A payment under a plan as the clerk records it: the receipt's number and the amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalmentPayment {
    pub receipt: String,
    pub amount_fen: Fen,
}

/// The plan a payment's receipt was recorded under already, when it was: the same amount
/// is the same payment sent again (answered with the plan as it stands, nothing written);
/// another amount under the same receipt is refused (`arrears.receipt_reused`).
pub fn recorded_receipt(plans: &[PlanRecord], payment: &InstalmentPayment) -> Result<Option<PlanRecord>, StoreError> {
    for plan in plans {
        if let Some(earlier) = plan.payments.iter().find(|p| p.receipt == payment.receipt) {
            if earlier.amount_fen != payment.amount_fen {
                return Err(StoreError::Refused {
                    code: "arrears.receipt_reused",
                    message: format!(
                        "receipt {} recorded {} yuan on {} under plan {}, not {}",
                        payment.receipt,
                        earlier.amount_fen,
                        earlier.paid_on,
                        plan.entity(),
                        payment.amount_fen
                    ),
                });
            }
            return Ok(Some(plan.clone()));
        }
    }
    Ok(None)
}

/// A payment under `plan` of `amount` on `paid_on`, its parts allocated over what the
/// plan's periods owe now (`owed`, read in the transaction), the oldest first.
pub fn plan_payment(
    plan: &PlanRecord,
    owed: &[PlanPeriod],
    payment: &InstalmentPayment,
    recorded_at: time::OffsetDateTime,
) -> Result<PlanPaymentRecord, StoreError> {
    let amount = payment.amount_fen;
    if plan.payments.len() >= PLAN_PAYMENTS_MAX {
        return Err(StoreError::Refused {
            code: "arrears.too_many_payments",
            message: format!("a plan takes at most {PLAN_PAYMENTS_MAX} payments: pay what it still owes in one"),
        });
    }
    let parts = yibao_engine::allocate_payment(owed, amount).map_err(|e| StoreError::Refused { code: e.code(), message: e.to_string() })?;
    Ok(PlanPaymentRecord {
        paid_on: yibao_domain::city_day(recorded_at),
        receipt: payment.receipt.clone(),
        amount_fen: amount,
        parts,
        recorded_at,
    })
}

/// A payment under an open plan as decided over the plan's periods as their chains stand
/// in the store's transaction: its record, each part with the county its chain is booked
/// in, and whether it pays the plan off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalmentDecision {
    pub payment: PlanPaymentRecord,
    pub parts: Vec<(PlanPeriod, RegionCode)>,
    pub completes: bool,
}

/// Decides a payment of `amount` under `plan` ([`plan_payment`]) over what its periods owe
/// in `chains` now.
pub fn decide_instalment(
    plan: &PlanRecord,
    chains: &[Chain],
    payment: &InstalmentPayment,
    recorded_at: time::OffsetDateTime,
) -> Result<InstalmentDecision, StoreError> {
    let amount = payment.amount_fen;
    let owed: Vec<(PlanPeriod, RegionCode)> = plan
        .periods
        .iter()
        .filter_map(|p| {
            chains
                .iter()
                .find(|c| c.kind == p.kind && c.period == p.period)
                .map(|c| (PlanPeriod { owed_fen: c.owed_fen(), ..*p }, c.region))
        })
        .collect();
    let periods: Vec<PlanPeriod> = owed.iter().map(|(p, _)| *p).collect();
    let payment = plan_payment(plan, &periods, payment, recorded_at)?;
    let parts = payment
        .parts
        .iter()
        .map(|part| {
            let region = owed.iter().find(|(p, _)| p.kind == part.kind && p.period == part.period).map_or(plan.region, |(_, r)| *r);
            (*part, region)
        })
        .collect();
    let completes = periods.iter().map(|p| p.owed_fen).sum::<Fen>() == amount;
    Ok(InstalmentDecision { payment, parts, completes })
}

impl PlanRecord {
    /// The plan `plan` as agreed: its number, the county the person is insured in, the
    /// periods read in the transaction and their total, open with no payment yet.
    #[must_use]
    pub fn agreed(
        plan: NewPlan,
        seq: i64,
        region: RegionCode,
        periods: Vec<PlanPeriod>,
        total_fen: Fen,
        at: time::OffsetDateTime,
    ) -> PlanRecord {
        PlanRecord {
            person_id: plan.person_id,
            seq,
            region,
            agreed_on: plan.agreed_on,
            periods,
            total_fen,
            schedule: plan.schedule,
            payments: Vec::new(),
            status: PlanStatus::Open,
            recorded_at: at,
        }
    }
}

/// The refusal of a counter payment (or a declaration) of a period an open plan repays.
#[must_use]
pub fn in_plan(person: &NationalId, kind: ContributionKind, period: Period, by_counter: bool) -> StoreError {
    StoreError::Refused {
        code: if by_counter { "contribution.in_plan" } else { "declaration.in_plan" },
        message: format!(
            "{period} ({}) of {person} is repaid under an open repayment plan: it is paid as an instalment of the plan",
            kind.as_str()
        ),
    }
}

/// Repayment plans, in the caller's region scope.
pub trait ArrearsStore: Send + Sync + 'static {
    /// The person as recorded, with the periods they owe and those paid in full on or after
    /// `cleared_since`, in every county of `scope` they were insured in (a period's chain
    /// stays where it began): what the standing check reads, in one read.
    fn owed_periods(
        &self,
        scope: RegionCode,
        person: &NationalId,
        cleared_since: Date,
    ) -> impl Future<Output = Result<(crate::PersonRecord, Vec<OwedPeriod>), StoreError>> + Send;
    /// The periods a plan agreed on `agreed_on` would take, as [`plan_periods`] chooses them.
    fn plannable(
        &self,
        scope: RegionCode,
        person: &NationalId,
        agreed_on: Date,
    ) -> impl Future<Output = Result<Vec<PlanPeriod>, StoreError>> + Send;
    /// The person's plans, the latest first.
    fn plans_of(&self, scope: RegionCode, person: &NationalId) -> impl Future<Output = Result<Vec<PlanRecord>, StoreError>> + Send;
    /// Agrees a plan in one transaction (`arrears.plan`): refused when one is open
    /// (`arrears.plan_open`) or the periods changed (`arrears.changed`).
    fn agree_plan(&self, actor: &Actor, scope: RegionCode, plan: NewPlan) -> impl Future<Output = Result<PlanRecord, StoreError>> + Send;
    /// Records a payment under the person's open plan (`arrears.instalment`): its parts as
    /// contributions of the plan's periods, the oldest first, in one transaction; the plan
    /// completes when its periods owe nothing.
    ///
    /// A receipt already recorded under one of the person's plans records nothing
    /// ([`recorded_receipt`]).
    fn pay_instalment(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        payment: InstalmentPayment,
    ) -> impl Future<Output = Result<PlanRecord, StoreError>> + Send;
}
