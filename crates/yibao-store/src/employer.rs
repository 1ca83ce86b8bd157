//! Employers (参保单位) and their monthly payroll declarations (缴费申报), R-FIN-1 and
//! R-FIN-4 (issue 16 item 2).
//!
//! A declaration bills each line's employee (and maternity) contribution as the person's
//! own contribution record of the month, paid nothing: the person's arrears show it at
//! once. The employer's payment completes every line's bill in one transaction, with the
//! late fee (滞纳金) when it is paid after the due day, posted to the employee fund's income
//! under its own reason (`late-fee`) and replayed by the book check from its audit entry.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{EmployerCode, Fen, NationalId, Period, RatioBp, RegionCode, Rounding};
use yibao_engine::LateFee;
use yibao_ledger::{AccountKey, AccountKind, BusinessRef, FundScheme, Reason, RecordKind, Transfer};

use crate::books::{Entry, fund_for, record_transfer_id, refused};
use crate::{Actor, ContributionKind, NewContribution, StoreError};

pub use yibao_domain::EMPLOYER_NAME_CHARS_MAX;
/// Most employers or declarations one read returns.
pub const EMPLOYERS_LIMIT: usize = 1_000;

/// An employer to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEmployer {
    pub code: EmployerCode,
    pub name: String,
    /// The county whose fund its employees are insured in.
    pub region: RegionCode,
    /// The day it was registered with the bureau: its first declarable month.
    pub registered_on: Date,
}

/// A registered employer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployerRecord {
    pub code: EmployerCode,
    pub name: String,
    pub region: RegionCode,
    pub registered_on: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: time::OffsetDateTime,
}

impl EmployerRecord {
    /// The register's entry of an employer registered `at`.
    #[must_use]
    pub fn registered(employer: crate::NewEmployer, at: time::OffsetDateTime) -> EmployerRecord {
        EmployerRecord {
            code: employer.code,
            name: employer.name,
            region: employer.region,
            registered_on: employer.registered_on,
            recorded_at: at,
        }
    }
}

/// One employee of a declaration: the month's wage and what it bills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationLine {
    pub person_id: NationalId,
    pub wage_fen: Fen,
    /// The contribution base: the wage within the pack's floor and ceiling.
    pub base_fen: Fen,
    /// The employee contribution due: the employer's and the employee's shares.
    pub employee_due_fen: Fen,
    /// The maternity contribution due (the employer's), when the person has maternity.
    pub maternity_due_fen: Fen,
    /// The county the employee bill is booked in, and the maternity bill's (the store's to
    /// set: a period's records of a kind are one chain in the county of its first, R-ENR-5,
    /// so the two kinds of one line may be booked in different counties).
    #[serde(default)]
    pub employee_booked_in: Option<RegionCode>,
    #[serde(default)]
    pub maternity_booked_in: Option<RegionCode>,
}

impl DeclarationLine {
    /// The kinds the line bills, each with its amount and the county its chain is booked in
    /// (`declared` when the store has not said).
    pub fn billed(&self, declared: RegionCode) -> impl Iterator<Item = (ContributionKind, Fen, RegionCode)> {
        [
            (ContributionKind::Employee, self.employee_due_fen, self.employee_booked_in.unwrap_or(declared)),
            (ContributionKind::Maternity, self.maternity_due_fen, self.maternity_booked_in.unwrap_or(declared)),
        ]
        .into_iter()
        .filter(|(_, due, _)| due.get() > 0)
    }

    /// Records where the bill of `kind` was booked.
    pub fn booked(&mut self, kind: ContributionKind, region: RegionCode) {
        match kind {
            ContributionKind::Maternity => self.maternity_booked_in = Some(region),
            _ => self.employee_booked_in = Some(region),
        }
    }
}

/// A declaration to record: its lines and the contribution bills they make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDeclaration {
    pub employer: EmployerCode,
    pub period: Period,
    pub due_on: Date,
    pub lines: Vec<DeclarationLine>,
    /// One bill per line and kind, paid nothing.
    pub bills: Vec<NewContribution>,
    /// The spell each line (in order) was billed under ([`check_billed_spell`]).
    pub spells: Vec<yibao_engine::Coverage>,
}

/// How a declaration was paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationPayment {
    pub paid_on: Date,
    /// What the payment completed of the lines' bills (what individual payments had not).
    pub contributions_fen: Fen,
    pub late_fee: LateFee,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: time::OffsetDateTime,
}

/// A recorded declaration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationRecord {
    pub employer: EmployerCode,
    pub region: RegionCode,
    pub period: Period,
    pub due_on: Date,
    pub lines: Vec<DeclarationLine>,
    /// The lines' bills together.
    pub due_fen: Fen,
    /// What is still owed of them (by the employer or at the counter), as read.
    pub owed_fen: Fen,
    #[serde(with = "time::serde::rfc3339")]
    pub declared_at: time::OffsetDateTime,
    pub payment: Option<DeclarationPayment>,
}

/// An employer's payment of a declared month, as the fund accountant records it from the
/// bank's receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmployerPayment {
    pub employer: EmployerCode,
    pub period: Period,
    pub paid_on: Date,
    /// What the employer paid: the month's contributions still owed and the late fee.
    pub amount_fen: Fen,
    /// The pack's late fee a day, in force on the due day.
    pub late_fee_rate_bp: RatioBp,
    pub rounding: Rounding,
}

/// The audit detail of a payment (`employer.pay`): what the book check replays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAudit {
    pub employer: EmployerCode,
    pub region: RegionCode,
    pub period: Period,
    pub payment: DeclarationPayment,
}

impl PaymentAudit {
    /// The cause the payment's transfers name: `{employer}/{period}`.
    #[must_use]
    pub fn record_id(&self) -> String {
        format!("{}/{}", self.employer, self.period)
    }
}

/// What a payment posts beside its contributions: the late fee, from outside the fund into
/// the county's employee fund income (`late-fee`), dated the day it was recorded.
pub fn late_fee_entries(audit: &PaymentAudit) -> Result<Vec<Entry>, StoreError> {
    let fee = audit.payment.late_fee.fee_fen;
    if fee.is_zero() {
        return Ok(Vec::new());
    }
    if fee.is_negative() {
        return Err(StoreError::Invalid("a late fee may not be negative".into()));
    }
    let unit = audit.region;
    let fund = fund_for(FundScheme::Employee, unit);
    let record_id = audit.record_id();
    let cause = BusinessRef::new(RecordKind::EmployerPayment, &record_id).map_err(refused)?;
    let transfer = Transfer::new(
        record_transfer_id("lf", &record_id, "late-fee"),
        AccountKey::of_unit(fund, unit, AccountKind::Income),
        AccountKey::of_unit(fund, unit, AccountKind::External),
        fee,
        Reason::LateFee,
        cause,
        audit.payment.recorded_at.date(),
    );
    Ok(vec![Entry { unit, transfer }])
}

/// The audit detail of an employer's registration: the record, and the go-live migration
/// that brought it, when one did.
pub fn registered_detail(record: &EmployerRecord, migration: Option<&str>) -> Result<String, StoreError> {
    crate::migration::audit_detail(record, migration)
}

/// The payment a declaration owes on `paid_on`: refused unless `amount` is exactly what is
/// owed with its late fee, so an employer never pays a bill that changed under it.
pub fn settle_payment(
    payment: &EmployerPayment,
    declared_at: time::OffsetDateTime,
    due_on: Date,
    owed: Fen,
    recorded_at: time::OffsetDateTime,
) -> Result<DeclarationPayment, StoreError> {
    // The money arrives after the bill is made: a payment dated before the declaration
    // would run the late fee from a day nobody had billed yet, or not at all.
    let declared_on = yibao_domain::city_day(declared_at);
    if payment.paid_on < declared_on {
        return Err(StoreError::Refused {
            code: "employer.bad_date",
            message: format!(
                "{} of {} was declared on {declared_on}: a payment of it is made on or after that day, not {}",
                payment.period, payment.employer, payment.paid_on
            ),
        });
    }
    if owed.is_zero() {
        return Err(StoreError::Refused {
            code: "declaration.paid",
            message: format!("{} of {} owes nothing: every line is paid", payment.period, payment.employer),
        });
    }
    let late_fee = yibao_engine::late_fee(owed, due_on, payment.paid_on, payment.late_fee_rate_bp, payment.rounding);
    let bill = late_fee.bill_fen();
    if payment.amount_fen != bill {
        return Err(StoreError::Refused {
            code: "employer.amount_mismatch",
            message: format!(
                "{} of {} paid on {} comes to {bill} ({owed} of contributions and a late fee of {} for {} days after {due_on}), not {}",
                payment.period, payment.employer, payment.paid_on, late_fee.fee_fen, late_fee.days, payment.amount_fen
            ),
        });
    }
    Ok(DeclarationPayment { paid_on: payment.paid_on, contributions_fen: owed, late_fee, recorded_at })
}

/// Employers and their declarations, in the caller's region scope.
pub trait EmployerStore: Send + Sync + 'static {
    /// Registers an employer in `employer.region`, which must lie in `scope` (`employer.register`).
    fn register_employer(
        &self,
        actor: &Actor,
        scope: RegionCode,
        employer: NewEmployer,
    ) -> impl Future<Output = Result<EmployerRecord, StoreError>> + Send;
    fn employer(&self, scope: RegionCode, code: &EmployerCode) -> impl Future<Output = Result<EmployerRecord, StoreError>> + Send;
    /// A page of the scope's employers by code, at most [`EMPLOYERS_LIMIT`] from `offset`,
    /// and how many there are in all.
    fn employers(&self, scope: RegionCode, offset: u32) -> impl Future<Output = Result<(u64, Vec<EmployerRecord>), StoreError>> + Send;
    /// Records a declaration and its bills in one transaction (`employer.declare`). One
    /// declaration a month: another is `declaration.exists`; a person's month is declared
    /// by one employer: another's is `declaration.person_declared`; a line whose person's
    /// spell of the month changed since it was billed is `declaration.changed`.
    fn declare(
        &self,
        actor: &Actor,
        scope: RegionCode,
        declaration: NewDeclaration,
    ) -> impl Future<Output = Result<DeclarationRecord, StoreError>> + Send;
    /// An employer's declarations, the latest month first, each with what is still owed.
    fn declarations_of(
        &self,
        scope: RegionCode,
        code: &EmployerCode,
    ) -> impl Future<Output = Result<Vec<DeclarationRecord>, StoreError>> + Send;
    /// Records an employer's payment of a declared month: every line's bill completed, the
    /// late fee posted, in one transaction (`employer.pay`). Refused when nothing is owed
    /// (`declaration.paid`) or the amount is not the bill (`employer.amount_mismatch`).
    fn pay_declaration(
        &self,
        actor: &Actor,
        scope: RegionCode,
        payment: EmployerPayment,
    ) -> impl Future<Output = Result<DeclarationRecord, StoreError>> + Send;
    /// Months of employee contributions paid in full for the person, in every county they
    /// were insured in (R-FIN-1's minimum years), and those carried in from elsewhere.
    fn contribution_months(&self, scope: RegionCode, person: &NationalId) -> impl Future<Output = Result<(u32, u32), StoreError>> + Send;
    /// Records the months of contributions a person carries in from elsewhere (a transfer
    /// certificate, the legacy system), `person.carried_months`.
    fn set_carried_months(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        months: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The refusal of a counter payment (or a second employer's declaration) of a month an
/// employer declared for the person.
#[must_use]
pub fn declared_elsewhere(person: &NationalId, period: Period, employer: &str, by_counter: bool) -> StoreError {
    if by_counter {
        StoreError::Refused {
            code: "contribution.declared",
            message: format!(
                "{period} of {person} is on the declaration of employer {employer}: it is paid with the employer's payment, late fee included"
            ),
        }
    } else {
        StoreError::PersonDeclared(format!("{period} of {person} is declared already by employer {employer}"))
    }
}

/// The first month a coverage change of `current` re-bills: the months beginning on or after
/// the change are billed under the new coverage, so a change of what bills them (scheme,
/// county, category, tier) may not follow a month an employer declared; a new household
/// alone bills them alike (`None`).
#[must_use]
pub fn rebilled_from_change(current: &yibao_engine::Coverage, change: &yibao_engine::CoverageChange) -> Option<Period> {
    let current_tier = current.tier_history.as_ref().map(|h| h.changes.last().map_or(h.initial, |c| c.tier));
    let bills_alike = current.scheme == change.scheme
        && current.region == change.region
        && current.category == change.category
        && current_tier == change.tier;
    (!bills_alike).then(|| first_month_from(change.on))
}

/// The first month no longer covered after a death on, or coverage ending on, `on`.
#[must_use]
pub fn rebilled_from_end(end: crate::CoverageEnd, on: Date) -> Period {
    match end {
        crate::CoverageEnd::Death => {
            let next = yibao_domain::first_of_next_month(on);
            Period::Month(next.year(), next.month())
        }
        crate::CoverageEnd::Until => first_month_from(on.next_day().unwrap_or(on)),
    }
}

/// The month that begins on `day`, or the next one.
fn first_month_from(day: Date) -> Period {
    let day = if day.day() == 1 { day } else { yibao_domain::first_of_next_month(day) };
    Period::Month(day.year(), day.month())
}

/// The refusal of a change that would leave `period`, which `employer` declared for the
/// person, billed under coverage they no longer have (`person.declared_after`): the
/// employer's to correct with the bureau first.
#[must_use]
pub fn declared_after(person: &NationalId, on: Date, period: Period, employer: &str) -> StoreError {
    StoreError::Refused {
        code: "person.declared_after",
        message: format!(
            "a change on {on} is before {period}, which employer {employer} declared for {person} as an employee: the month would stay billed under coverage that ended"
        ),
    }
}

/// The spell a declared month of the person is billed under: their coverage of the month
/// as `crate::coverage_for_period` finds it, and whether they died before it. A declaration
/// carries the spell each line was billed under; the store compares what bills the month
/// (scheme, county, category, tiers, maternity) with the spell it reads now, under
/// the person's lock (`declaration.changed`), so a change committed between the reading and
/// the writing never leaves a month billed under coverage the person no longer has.
pub fn check_billed_spell(person: &crate::PersonRecord, period: Period, billed: &yibao_engine::Coverage) -> Result<(), StoreError> {
    // What bills a month: the spell's scheme, county, category, tiers and maternity
    // insurance (the spell reaching into the month is `coverage_for_period`'s). The account's
    // balance, the certified diseases, a new household's dates and the like change beside a
    // declaration (a settlement paid from the account) without changing its bill.
    let terms = |c: &yibao_engine::Coverage| (c.scheme, c.region, c.category, c.tier_history.clone(), c.maternity);
    let now = crate::coverage_for_period(person, ContributionKind::Employee, period);
    let dead = person.died_on.is_some_and(|died_on| period.first_day() > died_on);
    if dead || now.map(terms) != Some(terms(billed)) {
        return Err(StoreError::Refused {
            code: "declaration.changed",
            message: format!(
                "{}'s coverage changed while {period} was being declared: nothing was written; declare the month again",
                person.person_id
            ),
        });
    }
    Ok(())
}
