//! Employers (参保单位) and their payroll declarations (缴费申报), R-FIN-1 and R-FIN-4
//! (issue 16 item 2): registering an employer, declaring a month's wages, paying a declared
//! month with its late fee (滞纳金), and the contribution years a retiree needs.
//!
//! A declaration's lines are billed exactly as a month paid at the counter is
//! ([`crate::contribution_due`] at the coverage in force for the month): one rule, whoever
//! pays.

use time::Date;
use yibao_domain::{EmployerCode, Fen, NationalId, PersonCategory, RegionCode, Scheme};
use yibao_engine::{ContributionBreakdown, ContributionYears, LateFee};
use yibao_store::{
    ContributionKind, DeclarationLine, DeclarationRecord, EMPLOYER_NAME_CHARS_MAX, EmployerPayment, EmployerRecord, EmployerStore as _,
    NewContribution, NewDeclaration, NewEmployer, Store as _,
};

use crate::{App, AppError, Period, Principal, roles, store};

/// An employer to register, as a clerk gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmployerInput {
    pub code: EmployerCode,
    pub name: String,
    pub region: RegionCode,
    pub registered_on: Date,
}

/// One line of a payroll declaration: an employee and the month's wage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WageLine {
    pub person_id: NationalId,
    pub wage: Fen,
}

/// A declared month and what paying it on a day costs: what is owed and the late fee.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeclarationBill {
    #[serde(flatten)]
    pub declaration: DeclarationRecord,
    /// What paying what is owed costs on `on`, with its late fee; `None` once paid.
    pub to_pay_on: Option<LateFee>,
    pub on: Date,
}

/// The earliest registration day taken: before it a date is a typing error.
pub const REGISTERED_ON_MIN: Date = time::macros::date!(1950 - 01 - 01);

/// The most a declared monthly wage may be: a million yuan (the base ceiling caps what is
/// billed; this bounds what is typed).
pub const WAGE_MONTHLY_MAX_FEN: i64 = 100_000_000;

impl App {
    /// Registers an employer in one of the city's counties (参保登记, R-FIN-1). The code is
    /// its unified social credit code; the name is what its licence says.
    pub async fn register_employer(&self, principal: &Principal, source: &str, input: EmployerInput) -> Result<EmployerRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        self.check_county(input.region)?;
        self.not_after_today("employer.bad_date", "a registration on", input.registered_on)?;
        if input.registered_on < REGISTERED_ON_MIN {
            return Err(AppError::bad_request(
                "employer.bad_date",
                format!("a registration on {} is before {REGISTERED_ON_MIN}", input.registered_on),
            ));
        }
        let Some(name) = yibao_domain::register_text(&input.name, EMPLOYER_NAME_CHARS_MAX).map(str::to_owned) else {
            return Err(AppError::bad_request(
                "employer.bad_name",
                format!("an employer's name is 1 to {EMPLOYER_NAME_CHARS_MAX} characters, without control, format or invisible characters"),
            ));
        };
        let employer = NewEmployer { code: input.code, name, region: input.region, registered_on: input.registered_on };
        Ok(store!(self, register_employer(&principal.actor(source, self.now()), scope, employer))?)
    }

    /// A page of the employers of the caller's region (at most [`yibao_store::EMPLOYERS_LIMIT`]
    /// from `offset`, at most [`yibao_store::SEARCH_OFFSET_MAX`]), and how many there are.
    pub async fn employers(&self, principal: &Principal, offset: u32) -> Result<(u64, Vec<EmployerRecord>), AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        if offset > yibao_store::SEARCH_OFFSET_MAX {
            return Err(AppError::bad_request(
                "search.bad_page",
                format!("a page of employers starts at most {} in", yibao_store::SEARCH_OFFSET_MAX),
            ));
        }
        Ok(store!(self, employers(scope, offset))?)
    }

    pub async fn employer(&self, principal: &Principal, code: &EmployerCode) -> Result<EmployerRecord, AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        Ok(store!(self, employer(scope, code))?)
    }

    /// Records an employer's declaration of a month's payroll (缴费申报, R-FIN-1): each
    /// employee, insured as an employee of the employer's county that month, billed the
    /// month's employee contribution (and maternity, when they have it) on the wage within
    /// the pack's floor and ceiling. The bills are the persons' own records, paid nothing
    /// until the employer pays. A month is declared from the month of registration up to
    /// the current one, once.
    pub async fn declare(
        &self,
        principal: &Principal,
        source: &str,
        code: &EmployerCode,
        period: &str,
        wages: Vec<WageLine>,
    ) -> Result<DeclarationRecord, AppError> {
        let scope = principal.scope(roles::CONTRIBUTIONS)?;
        let employer = store!(self, employer(scope, code))?;
        let period = Period::parse(period)?;
        if !yibao_engine::declarable(period, employer.registered_on, self.today()) {
            return Err(AppError::bad_request(
                "declaration.bad_period",
                format!(
                    "a declaration is for a month (YYYY-MM) from {} (the month {code} registered) to the current one, not {period}",
                    yibao_engine::first_declarable(employer.registered_on)
                ),
            ));
        }
        if wages.is_empty() || wages.len() > yibao_engine::DECLARATION_LINES_MAX {
            return Err(AppError::bad_request(
                "declaration.bad_lines",
                format!("a declaration lists 1 to {} employees, not {}", yibao_engine::DECLARATION_LINES_MAX, wages.len()),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(wages.len());
        let policy = self.policy();
        let (mut lines, mut bills) = (Vec::with_capacity(wages.len()), Vec::with_capacity(wages.len() * 2));
        let mut spells = Vec::with_capacity(wages.len());
        for (index, line) in wages.into_iter().enumerate() {
            let at = |message: String| format!("line {}: {message}", index + 1);
            if !seen.insert(line.person_id) {
                return Err(AppError::bad_request("declaration.duplicate_person", at(format!("{} is declared twice", line.person_id))));
            }
            if line.wage.is_negative() || line.wage.get() > WAGE_MONTHLY_MAX_FEN {
                return Err(AppError::bad_request(
                    "declaration.bad_wage",
                    at(format!("a monthly wage is 0 to {} yuan, not {}", Fen::new(WAGE_MONTHLY_MAX_FEN), line.wage)),
                ));
            }
            // Wherever the person is insured now: a month worked here before a move is still
            // this employer's to declare (the spell of the month decides, below).
            let person = store!(self, person(employer.region.city(), &line.person_id)).map_err(|e| {
                let e = AppError::from(e);
                AppError { message: at(e.message.clone()), ..e }
            })?;
            if person.died_on.is_some_and(|died_on| period.first_day() > died_on) {
                return Err(AppError::bad_request("person.deceased", at(format!("{} died before {period}", line.person_id))));
            }
            let coverage = crate::contributions::coverage_for_period(&person, ContributionKind::Employee, period);
            let Some(coverage) = coverage.filter(|c| c.scheme == Scheme::Employee && c.region == employer.region) else {
                return Err(AppError::unprocessable(
                    "declaration.not_employee",
                    at(format!("{} is not insured as an employee of {} in {period}", line.person_id, employer.region)),
                ));
            };
            if coverage.category == PersonCategory::Retired {
                return Err(AppError::unprocessable(
                    "declaration.retiree",
                    at(format!("{} is retired: a retiree pays nothing and is on no payroll declaration", line.person_id)),
                ));
            }
            let employee = yibao_engine::contribution_due(&policy, coverage, ContributionKind::Employee, period, Some(line.wage))?;
            let base = match employee.breakdown {
                ContributionBreakdown::Employee(c) => c.base,
                _ => Fen::ZERO,
            };
            let breakdown = |due: &yibao_engine::ContributionDue| {
                serde_json::to_string(&due.breakdown).map_err(|e| AppError::internal("declaration.failure", e.to_string()))
            };
            bills.push(NewContribution {
                person_id: line.person_id,
                kind: ContributionKind::Employee,
                period,
                due_fen: employee.due,
                paid_fen: Fen::ZERO,
                breakdown_json: breakdown(&employee)?,
            });
            let mut maternity_due = Fen::ZERO;
            if coverage.maternity {
                let maternity = yibao_engine::contribution_due(&policy, coverage, ContributionKind::Maternity, period, Some(line.wage))?;
                maternity_due = maternity.due;
                bills.push(NewContribution {
                    person_id: line.person_id,
                    kind: ContributionKind::Maternity,
                    period,
                    due_fen: maternity.due,
                    paid_fen: Fen::ZERO,
                    breakdown_json: breakdown(&maternity)?,
                });
            }
            lines.push(DeclarationLine {
                person_id: line.person_id,
                wage_fen: line.wage,
                base_fen: base,
                employee_due_fen: employee.due,
                maternity_due_fen: maternity_due,
                employee_booked_in: None,
                maternity_booked_in: None,
            });
            spells.push(coverage.clone());
        }
        let due_on = yibao_engine::payment_due_on(&policy, employer.region, period)?;
        let declaration = NewDeclaration { employer: employer.code, period, due_on, lines, bills, spells };
        Ok(store!(self, declare(&principal.actor(source, self.now()), scope, declaration))?)
    }

    /// An employer's declarations, the latest first, each with what paying it today costs
    /// (what is owed and the late fee so far).
    pub async fn declarations(&self, principal: &Principal, code: &EmployerCode) -> Result<Vec<DeclarationBill>, AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        let today = self.today();
        let policy = self.policy();
        let mut bills = Vec::new();
        for declaration in store!(self, declarations_of(scope, code))? {
            let to_pay_on = if declaration.owed_fen.is_zero() {
                None
            } else {
                Some(yibao_engine::late_fee_for(&policy, declaration.region, declaration.period, declaration.owed_fen, today)?)
            };
            bills.push(DeclarationBill { declaration, to_pay_on, on: today });
        }
        Ok(bills)
    }

    /// Records an employer's payment of a declared month (R-FIN-4) from the bank's receipt:
    /// `amount` must be what the month still owes with its late fee for the days after the
    /// due day up to `paid_on` (`employer.amount_mismatch` says the exact figure). Every
    /// line's bill is completed and the late fee posted to the employee fund, in one
    /// transaction.
    pub async fn pay_declaration(
        &self,
        principal: &Principal,
        source: &str,
        code: &EmployerCode,
        period: &str,
        paid_on: Date,
        amount: Fen,
    ) -> Result<DeclarationRecord, AppError> {
        let scope = principal.scope(roles::CONTRIBUTIONS)?;
        let period = Period::parse(period)?;
        self.not_after_today("employer.bad_date", "a payment on", paid_on)?;
        if paid_on < period.first_day() {
            return Err(AppError::bad_request(
                "employer.bad_date",
                format!("a payment of {period} is made after it begins, not on {paid_on}"),
            ));
        }
        if amount.is_negative() {
            return Err(AppError::bad_request("contribution.negative", "amount may not be negative"));
        }
        let employer = store!(self, employer(scope, code))?;
        let policy = self.policy();
        // The store decides the fee inside the paying transaction, from what is owed then,
        // under these terms (the due day it reads is the declaration's own).
        let (_, rate_bp) = yibao_engine::late_fee_terms(&policy, employer.region, period)?;
        let payment = EmployerPayment {
            employer: employer.code,
            period,
            paid_on,
            amount_fen: amount,
            late_fee_rate_bp: rate_bp,
            rounding: policy.rounding,
        };
        Ok(store!(self, pay_declaration(&principal.actor(source, self.now()), scope, payment))?)
    }

    /// A person's contribution years against the minimum for free coverage in retirement
    /// (R-FIN-1): months carried in, months paid here in full, and what is short.
    pub async fn contribution_years(&self, principal: &Principal, person_id: &NationalId) -> Result<ContributionYears, AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        self.years_of(scope, person_id).await
    }

    pub(crate) async fn years_of(&self, scope: RegionCode, person_id: &NationalId) -> Result<ContributionYears, AppError> {
        let person = store!(self, person(scope, person_id))?;
        let (carried, paid) = store!(self, contribution_months(scope, person_id))?;
        let required = yibao_engine::required_contribution_months(&self.policy(), person.coverage.region, person_id.sex(), self.today())?;
        Ok(yibao_engine::contribution_years(required, carried, paid))
    }

    /// Records the months of contributions a person carries in from elsewhere (a transfer
    /// certificate from another city, the legacy system), at most a working life.
    pub async fn set_carried_months(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        months: u32,
    ) -> Result<ContributionYears, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        if months > yibao_engine::CARRIED_MONTHS_MAX {
            return Err(AppError::bad_request(
                "person.bad_months",
                format!("a person carries in at most {} months (a working life), not {months}", yibao_engine::CARRIED_MONTHS_MAX),
            ));
        }
        store!(self, set_carried_months(&principal.actor(source, self.now()), scope, person_id, months))?;
        self.years_of(scope, person_id).await
    }
}
