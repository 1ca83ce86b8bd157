//! Paying designated institutions (issue 15, R-INS-1, R-PAY-1): the agreement book's
//! changes (a year's terms, the assessment, suspension, reinstatement, inspections), and
//! the payment year: every settled stay of the region's institutions under the payment
//! pack's methods, the year's point value, each institution's months and clearing, and one
//! institution's statement (月度/年度结算单), which the institution itself may read.
//!
//! What the bureau's records know is never the caller's: the methods, capitation's
//! enrolment and a global budget come from the agreement book, each case's figures from the
//! stored settlement, and the year's income from the fund budgets (R-FND-3).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use time::{Date, Month};
use yibao_domain::{Fen, InstitutionCode, PersonName, PhysicianCode, RatioBp};
use yibao_ledger::FundScheme;
use yibao_payment::{Agreement, CaseOutcome, InstitutionYear, Methods, YearInput, YearResult};
use yibao_store::agreement::{AgreementChange, AgreementYear, Suspension};
use yibao_store::payment_clearing::{ClearedInstitution, PaidShare, PaymentClearing};
pub use yibao_store::physician::PhysicianRecord;
use yibao_store::physician::{NewPhysician, PenaltyRules, PhysicianChange};
use yibao_store::pooling::HeldBack;
use yibao_store::{AccessStore, ClaimRecord, ClaimStatus, FundStore, InstitutionRecord, InstitutionUpdate, InterfaceStore};

use crate::principal::roles;
use crate::{App, AppError, Principal, store};

pub use yibao_payment::PaymentPack;

/// The payment year's answer types, for the edges to lay out.
pub mod view {
    pub use yibao_payment::{Band, CaseOutcome, Cleared, Deviation, InstitutionYear, Method, MonthLine, OutOfPoints, Points, YearResult};
}

/// The demo city's payment pack, in force with the demo city's policy pack.
pub const DEMO_PAYMENT_PACK: &str = include_str!("../../../policies/payment/demo-city.toml");

/// A change to an institution's agreement book as the bureau's staff give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgreementInput {
    /// Signs (or re-signs before its assessment) a year's terms; the day signed is today.
    Sign {
        year: i32,
        points: bool,
        per_diem: bool,
        capitation_enrolled: Option<u32>,
        global_budget: Option<Fen>,
        /// Every claim of the year must name its insurance physician.
        physicians_required: bool,
    },
    Assess {
        year: i32,
        score: RatioBp,
    },
    /// Suspends (暂停) or terminates (解除) from a day.
    Suspend {
        from: Date,
        reason: String,
        terminated: bool,
    },
    Reinstate {
        on: Date,
    },
    /// An inspection's findings and the amount deducted.
    Inspect {
        date: Date,
        findings: String,
        deduction: Fen,
    },
    /// An application for designation (申请定点) with the services applied for.
    Apply {
        date: Date,
        services: String,
    },
    /// The experts' evaluation (专家评估) of the application in progress.
    Evaluate {
        date: Date,
        score: RatioBp,
        passed: bool,
        findings: String,
    },
    /// The negotiation (协商谈判) of the agreement after a passed evaluation.
    Negotiate {
        date: Date,
        agreed: bool,
        outcome: String,
    },
}

/// An insurance physician to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhysicianInput {
    pub code: PhysicianCode,
    pub institution: InstitutionCode,
    pub name: PersonName,
    /// The first day the physician bills under insurance (备案日期): default today, at most
    /// a year before it, not after it.
    pub from: Option<Date>,
}

/// A penalty as an officer records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PenaltyInput {
    pub date: Date,
    pub points: u8,
    pub reason: String,
    /// Given when the penalty brings the year to the suspension threshold.
    pub suspension_months: Option<u8>,
    /// The confirmed finding of a claim review the points rest on (issue 18), as
    /// `(institution, claim, finding)`: final, on a claim the physician treated, once.
    pub finding: Option<(String, String, u32)>,
}

/// The payment year of the principal's region.
#[derive(Clone, Debug, Serialize)]
pub struct PaymentYearView {
    pub pack_id: String,
    /// Until every institution's year is assessed and the year is over, the figures are a
    /// projection: the assessments not given count as 100%.
    pub provisional: bool,
    /// Institutions' names by code.
    pub names: BTreeMap<String, String>,
    /// Stays not counted: discharged in another year, or not readable.
    pub skipped_cases: u32,
    pub result: YearResult,
    /// Per institution, what each pooled fund and unit paid its counted stays: how its
    /// clearing is shared between them.
    #[serde(skip)]
    paid_by: BTreeMap<String, BTreeMap<(FundScheme, yibao_domain::RegionCode), Fen>>,
    /// The year's last clearing round, if it is cleared.
    pub clearing: Option<yibao_store::payment_clearing::PaymentClearing>,
    /// The year is cleared, but an institution's difference is no longer what its clearing
    /// booked (a stay settled late or reversed, a new assessment or deduction): a
    /// supplementary clearing books the change.
    pub changed_since_clearing: bool,
}

/// One institution's statement for a year.
#[derive(Clone, Debug, Serialize)]
pub struct InstitutionStatement {
    pub year: i32,
    pub pack_id: String,
    pub provisional: bool,
    pub name: String,
    pub point_value_yuan: Option<String>,
    pub provisional_value_yuan: Option<String>,
    pub institution: InstitutionYear,
    pub cases: Vec<CaseOutcome>,
    /// Its line of the year's clearing, once the year is cleared, with the day it was booked.
    pub cleared_on: Option<String>,
    pub cleared: Option<ClearedInstitution>,
}

/// How long a payment year's run serves the statements read after it: each statement needs
/// the whole city's year (the point value is the city's), and a city of many institutions
/// takes seconds to read. A change to an agreement runs it afresh.
pub const PAYMENT_YEAR_FRESH: time::Duration = time::Duration::seconds(60);

/// A payment year's run and when it ran.
#[derive(Clone, Debug)]
pub(crate) struct CachedYear {
    year: i32,
    at: time::OffsetDateTime,
    view: Arc<PaymentYearView>,
}

/// The funds whose budgeted income the payment year spends (以收定支): the basic pooled
/// funds. The layers above them (large-amount, critical illness, medical assistance, the
/// top-ups) are paid as settled.
const PAYMENT_FUNDS: [FundScheme; 4] = [FundScheme::Employee, FundScheme::Resident, FundScheme::Ncms, FundScheme::UrbanResident];

impl App {
    /// The application with `pack` as its payment pack.
    #[must_use]
    pub fn with_payment_pack(mut self, pack: PaymentPack) -> App {
        self.payment = Some(Arc::new(pack));
        self
    }

    /// The payment pack in force, if the service has one.
    #[must_use]
    pub fn payment_pack(&self) -> Option<Arc<PaymentPack>> {
        self.payment.clone()
    }

    /// Changes an institution's agreement book: a city administrator records the
    /// application, evaluation and negotiation that lead to designation (R-INS-1), signs,
    /// assesses, suspends and reinstates; claims officers and administrators record
    /// inspections.
    /// Dates are within a year of today; an inspection is not in the future.
    pub async fn change_agreement(
        &self,
        principal: &Principal,
        source: &str,
        code: &str,
        input: AgreementInput,
    ) -> Result<InstitutionRecord, AppError> {
        let roles = if matches!(input, AgreementInput::Inspect { .. }) { roles::REVERSERS } else { roles::ADMINISTRATORS };
        let scope = principal.scope(roles)?;
        let today = self.today();
        let near = |what: &str, date: Date| {
            if (date - today).whole_days().abs() > 366 {
                Err(AppError::bad_request("agreement.bad_date", format!("{what} {date} is not within a year of today ({today})")))
            } else {
                Ok(())
            }
        };
        let change = match input {
            AgreementInput::Sign { year, points, per_diem, capitation_enrolled, global_budget, physicians_required } => {
                if (i64::from(year) - i64::from(today.year())).abs() > 1 {
                    return Err(AppError::bad_request(
                        "agreement.bad_date",
                        format!("an agreement is signed for last year, this year or next ({year})"),
                    ));
                }
                AgreementChange::Sign(AgreementYear {
                    year,
                    points,
                    per_diem,
                    capitation_enrolled,
                    global_budget,
                    physicians_required,
                    assessment_bp: None,
                    signed_on: today,
                })
            }
            AgreementInput::Assess { year, score } => {
                if year >= today.year() {
                    return Err(AppError::bad_request("agreement.bad_date", format!("{year} is not over: it is assessed from its end on")));
                }
                AgreementChange::Assess { year, score_bp: score.get() }
            }
            AgreementInput::Suspend { from, reason, terminated } => {
                near("a suspension's first day", from)?;
                AgreementChange::Suspend(Suspension { from, until: None, reason, terminated })
            }
            AgreementInput::Reinstate { on } => {
                near("a reinstatement's day", on)?;
                AgreementChange::Reinstate { on }
            }
            AgreementInput::Inspect { date, findings, deduction } => {
                self.not_after_today("agreement.bad_date", "an inspection's day", date)?;
                near("an inspection's day", date)?;
                AgreementChange::Inspect { date, findings, deduction }
            }
            // The steps to designation are recorded as they happen: not in the future.
            AgreementInput::Apply { date, services } => {
                self.not_after_today("agreement.bad_date", "an application's day", date)?;
                near("an application's day", date)?;
                AgreementChange::Apply { date, services }
            }
            AgreementInput::Evaluate { date, score, passed, findings } => {
                self.not_after_today("agreement.bad_date", "an evaluation's day", date)?;
                near("an evaluation's day", date)?;
                AgreementChange::Evaluate { date, score_bp: score.get(), passed, findings }
            }
            AgreementInput::Negotiate { date, agreed, outcome } => {
                self.not_after_today("agreement.bad_date", "a negotiation's day", date)?;
                near("a negotiation's day", date)?;
                AgreementChange::Negotiate { date, agreed, outcome }
            }
        };
        let update = InstitutionUpdate { agreement: Some(change), ..InstitutionUpdate::default() };
        let record = store!(self, update_institution(&principal.actor(source, self.now()), scope, code, update))?;
        self.forget_payment_year();
        Ok(record)
    }

    /// The payment year of the principal's region (fund readers).
    pub async fn payment_year(&self, principal: &Principal, year: i32) -> Result<PaymentYearView, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        if scope != self.policy().region {
            return Err(AppError::forbidden("the payment year is the city's: its point value is shared by every county's institutions"));
        }
        Ok(PaymentYearView::clone(&*self.run_payment_year(year).await?))
    }

    /// One institution's statement for `year`: for fund readers, or for the institution
    /// itself (its own only). The point value is the region's, so the whole year is run.
    pub async fn payment_statement(&self, principal: &Principal, year: i32, institution: &str) -> Result<InstitutionStatement, AppError> {
        let scope = match principal {
            Principal::Institution(register) if register.code.as_str() == institution => register.region,
            Principal::Institution(_) => return Err(AppError::forbidden("an institution reads only its own statement")),
            _ => principal.scope(roles::FUND_READERS)?,
        };
        // A county's staff read the statements of their county's institutions only.
        let in_scope = yibao_domain::InstitutionCode::parse(institution)
            .ok()
            .and_then(|code| yibao_domain::RegionCode::parse(code.region_digits()).ok())
            .is_some_and(|region| scope.contains(region));
        if !in_scope {
            return Err(AppError::not_found("institution.not_found", format!("no designated institution {institution} in your region")));
        }
        let view = self.run_payment_year(year).await?;
        let found = view.result.institutions.iter().find(|i| i.institution == institution).cloned();
        let Some(statement) = found else {
            return Err(AppError::not_found("institution.not_found", format!("no designated institution {institution} in the region")));
        };
        Ok(InstitutionStatement {
            year,
            pack_id: view.pack_id.clone(),
            provisional: view.provisional,
            name: view.names.get(institution).cloned().unwrap_or_default(),
            point_value_yuan: view.result.point_value_yuan.clone(),
            provisional_value_yuan: view.result.provisional_value_yuan.clone(),
            institution: statement,
            cases: view.result.cases.iter().filter(|c| c.institution == institution).cloned().collect(),
            cleared_on: view.clearing.as_ref().map(|c| c.value_date.clone()),
            cleared: view.clearing.as_ref().and_then(|c| c.institutions.iter().find(|i| i.institution == institution).cloned()),
        })
    }

    /// Books the year-end clearing (年度清算) of a payment year to the fund books (fund
    /// accountants and administrators of the city): for each institution, what its
    /// agreement's methods earned it less what its claims billed, owed to it or recovered
    /// from it on its payable, shared between the pooled funds and units that paid its
    /// stays; the next pooling run pays or deducts it. Only a year that is over, assessed
    /// and whose every stay reads is cleared, computed afresh. Clearing it again books a
    /// supplementary round of what changed since (a late stay, a reversal, a new assessment
    /// or deduction), or, when nothing did, answers the last round (`false`).
    pub async fn clear_payment_year(
        &self,
        principal: &Principal,
        source: &str,
        year: i32,
    ) -> Result<(yibao_store::payment_clearing::PaymentClearing, bool), AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        let region = self.policy().region;
        if scope != region {
            return Err(AppError::forbidden(
                "a payment year is cleared by the city: its point value is shared by every county's institutions",
            ));
        }
        let today = self.today();
        if year >= today.year() {
            return Err(AppError::unprocessable("payment.not_over", format!("{year} is not over: a year is cleared after its end")));
        }
        let view = self.compute_payment_year(year, today).await?;
        if view.skipped_cases > 0 {
            return Err(AppError::unprocessable(
                "payment.refused",
                format!("{} stays of {year} cannot be read: the year is not cleared until every stay is", view.skipped_cases),
            ));
        }
        if view.provisional {
            let unassessed: Vec<String> = store!(self, institutions(region))?
                .iter()
                .filter(|i| i.agreement.year(year).is_some_and(|t| t.assessment_bp.is_none()))
                .map(|i| i.code.to_string())
                .collect();
            return Err(AppError::unprocessable(
                "payment.provisional",
                format!(
                    "{year} is not assessed for every institution under terms ({}): assess each before clearing",
                    unassessed.join(", ")
                ),
            ));
        }
        let institutions = view
            .result
            .institutions
            .iter()
            .map(|line| {
                let shares = view.paid_by.get(&line.institution).map_or_else(Vec::new, |paid| {
                    paid.iter()
                        .map(|((fund, unit), paid)| PaidShare {
                            fund: fund.as_str().to_owned(),
                            unit: unit.to_string(),
                            paid_fen: paid.get(),
                        })
                        .collect()
                });
                ClearedInstitution {
                    institution: line.institution.clone(),
                    payable_fen: line.payable.get(),
                    billed_fen: line.billed.get(),
                    difference_fen: line.against_billed.get(),
                    booked_before_fen: 0,
                    shares,
                }
            })
            .collect();
        // The round and what the rounds before booked are the store's to set, inside its
        // transaction.
        let clearing = PaymentClearing {
            city: region.to_string(),
            year,
            round: 0,
            value_date: yibao_store::books::date_text(today),
            rounding: self.policy().rounding,
            pack_id: view.pack_id.clone(),
            point_value_yuan: view.result.point_value_yuan.clone(),
            institutions,
            owed_fen: 0,
            recovered_fen: 0,
            transfers: 0,
            notes: Vec::new(),
        };
        let outcome = store!(self, clear_payment_year(&principal.actor(source, self.now()), scope, clearing))?;
        self.forget_payment_year();
        Ok((outcome.clearing, outcome.booked_now))
    }

    /// What the pooling run of `month` on `value_date` holds back from institutions paid by
    /// monthly advances (月度预付, issue 15): for each payment year up to the run's with
    /// terms and not cleared on the run's day, and each institution under terms for it, what its stays billed
    /// less the advances its months through the run's month come to (at the provisional
    /// point value, less the quality deposit, with capitation), as of the run's day, shared
    /// between the funds and counties that paid its stays. The run pays the outstanding less
    /// this, so an institution is paid its advances, and the rest waits for the clearing;
    /// stateless, so a month without a run is caught up by the next. A year without a
    /// budget cannot be computed: its institutions are paid as settled until it has one.
    /// A stay that cannot be read is not in the year: it is paid as billed, and the year is
    /// not cleared until it reads (`clear_payment_year`).
    pub(crate) async fn held_back_for(&self, month: yibao_ledger::YearMonth, value_date: Date) -> Result<Vec<HeldBack>, AppError> {
        let Some(pack) = self.payment_pack() else { return Ok(Vec::new()) };
        let region = self.policy().region;
        // Cleared as of the run's day: a run dated before a clearing holds back as it would
        // have then (hostile review).
        let cleared: Vec<i32> = store!(self, payment_clearings(region))?
            .iter()
            .filter(|c| yibao_store::books::date_of(&c.value_date).is_ok_and(|day| day <= value_date))
            .map(|c| c.year)
            .collect();
        let institutions = store!(self, institutions(region))?;
        // Every year up to the run's with terms and not cleared: a year two back still
        // uncleared keeps its hold-back.
        let years: std::collections::BTreeSet<i32> = institutions
            .iter()
            .flat_map(|i| i.agreement.years.iter().map(|terms| terms.year))
            .filter(|year| *year <= month.year() && !cleared.contains(year) && pack.year(*year).is_some())
            .collect();
        let mut held = Vec::new();
        for year in years {
            let under_terms: BTreeMap<String, bool> =
                institutions.iter().filter(|i| i.agreement.year(year).is_some()).map(|i| (i.code.to_string(), true)).collect();
            // A year the rules refuse to compute (no budget yet; early in a year, a point
            // value beyond the limit over few points) is paid as settled until it computes:
            // refusing the run would stop every payment of the city, and the clearing makes
            // the year what the methods earn either way. A store's failure refuses the run.
            let view = match self.compute_payment_year(year, value_date).await {
                Ok(view) => view,
                Err(error) if error.kind == crate::ErrorKind::Unprocessable => continue,
                Err(error) => return Err(error),
            };
            let through = if year < month.year() { 12 } else { month.month() };
            for line in view.result.institutions.iter().filter(|l| under_terms.contains_key(&l.institution)) {
                let advanced = line.months.iter().filter(|m| m.month <= through).fold(Fen::ZERO, |sum, m| sum + m.paid);
                let amount = line.billed - advanced;
                let institution =
                    yibao_ledger::Holder::institution(&line.institution).map_err(|e| AppError::internal("store.failure", e.to_string()))?;
                let shares = view.paid_by.get(&line.institution).map_or_else(Vec::new, |paid| {
                    paid.iter()
                        .map(|((fund, unit), paid_fen)| yibao_ledger::ClearingShare {
                            fund: yibao_ledger::Fund::new(*fund, region),
                            unit: *unit,
                            paid_fen: *paid_fen,
                        })
                        .collect()
                });
                let clearing_line = yibao_ledger::ClearingLine { institution, difference_fen: amount, shares };
                let shared = yibao_ledger::share_between(region, &clearing_line, self.policy().rounding)
                    .map_err(|e| AppError::unprocessable("payment.refused", e.to_string()))?;
                for (fund, unit, share) in shared {
                    let code = &line.institution;
                    let note = format!(
                        "[{}] {code} {year} 年度按月预付：住院已结算 {} 元，截至 {through} 月应预付 {advanced} 元，{unit} 暂扣 {share} 元待年度清算 / {code}, {year} by monthly advances: its stays billed {} yuan, its advances through month {through} come to {advanced} yuan; {share} yuan of {unit} held back until the year's clearing",
                        fund.scheme.name_zh(),
                        line.billed,
                        line.billed
                    );
                    held.push(HeldBack { fund: fund.scheme, unit, payee: institution, amount_fen: share, note, up_to_outstanding: false });
                }
            }
        }
        Ok(held)
    }

    /// Registers an insurance physician (医保医师) under an institution of the
    /// administrator's region, from today.
    pub async fn register_physician(
        &self,
        principal: &Principal,
        source: &str,
        input: PhysicianInput,
    ) -> Result<PhysicianRecord, AppError> {
        let scope = principal.scope(roles::ADMINISTRATORS)?;
        if input.code.region_digits() != input.institution.region_digits() {
            return Err(AppError::bad_request(
                "physician.bad_code",
                format!(
                    "{} names region {}, but {} is designated in {}",
                    input.code,
                    input.code.region_digits(),
                    input.institution,
                    input.institution.region_digits()
                ),
            ));
        }
        let registered_on = input.from.unwrap_or_else(|| self.today());
        self.not_after_today("physician.bad_date", "a registration's first day", registered_on)?;
        if (self.today() - registered_on).whole_days() > 366 {
            return Err(AppError::bad_request(
                "physician.bad_date",
                format!("a registration's first day {registered_on} is more than a year ago"),
            ));
        }
        let physician = NewPhysician { code: input.code, institution: input.institution, name: input.name, registered_on };
        Ok(store!(self, register_physician(&principal.actor(source, self.now()), scope, physician))?)
    }

    /// An institution's physicians: for staff of its region, or the institution itself.
    pub async fn physicians_of(&self, principal: &Principal, institution: &str) -> Result<Vec<PhysicianRecord>, AppError> {
        let scope = match principal {
            Principal::Institution(register) if register.code.as_str() == institution => register.region,
            Principal::Institution(_) => return Err(AppError::forbidden("an institution reads only its own physicians")),
            _ => principal.scope(roles::ALL_STAFF)?,
        };
        Ok(store!(self, physicians_of(scope, institution))?)
    }

    /// Records a penalty (违规记分) against a physician, by claims officers or
    /// administrators: the year's points under the payment pack's thresholds suspend
    /// (for the months given) or end the right to bill. Not in the future, within a year.
    pub async fn penalize_physician(
        &self,
        principal: &Principal,
        source: &str,
        code: &str,
        input: PenaltyInput,
    ) -> Result<PhysicianRecord, AppError> {
        let scope = principal.scope(roles::REVERSERS)?;
        self.not_after_today("physician.bad_date", "a penalty's day", input.date)?;
        if (self.today() - input.date).whole_days() > 366 {
            return Err(AppError::bad_request("physician.bad_date", format!("a penalty's day {} is more than a year ago", input.date)));
        }
        let thresholds =
            self.payment_pack().and_then(|pack| pack.year(input.date.year()).and_then(|y| y.physicians.clone())).ok_or_else(|| {
                AppError::unprocessable(
                    "payment.no_terms",
                    format!("the payment pack gives no physicians' penalty points for {}", input.date.year()),
                )
            })?;
        let rules = PenaltyRules { suspend_at: thresholds.suspend_at, terminate_at: thresholds.terminate_at };
        let finding = match &input.finding {
            Some(key) => Some(self.finding_for_penalty(scope, code, key, input.date).await?),
            None => None,
        };
        let change = PhysicianChange::Penalize {
            date: input.date,
            points: input.points,
            reason: input.reason,
            suspension_months: input.suspension_months,
            finding,
        };
        Ok(store!(self, update_physician(&principal.actor(source, self.now()), scope, code, change, rules))?)
    }

    /// The city's payment year, run afresh unless a run of the same year is less than
    /// [`PAYMENT_YEAR_FRESH`] old and no agreement changed since.
    async fn run_payment_year(&self, year: i32) -> Result<Arc<PaymentYearView>, AppError> {
        let now = self.now();
        let cached = self.payment_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Some(cached) = cached.filter(|c| c.year == year && now - c.at < PAYMENT_YEAR_FRESH && c.at <= now) {
            return Ok(cached.view);
        }
        let view = Arc::new(self.compute_payment_year(year, self.today()).await?);
        *self.payment_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(CachedYear { year, at: now, view: Arc::clone(&view) });
        Ok(view)
    }

    /// Forgets the last payment year's run (an agreement or a physician changed).
    pub(crate) fn forget_payment_year(&self) {
        *self.payment_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The payment year with the stays settled up to `as_of` (today, or a pooling run's day).
    async fn compute_payment_year(&self, year: i32, as_of: Date) -> Result<PaymentYearView, AppError> {
        let pack = self
            .payment_pack()
            .ok_or_else(|| AppError::unprocessable("payment.no_pack", "the service has no payment pack: start it with --payment-pack"))?;
        if pack.year(year).is_none() {
            return Err(AppError::unprocessable("payment.no_terms", format!("the payment pack {} gives no terms for {year}", pack.id)));
        }
        let region = self.policy().region;
        let budgets = store!(self, budgets(region, year))?;
        let mut income = Fen::ZERO;
        let mut budgeted: Vec<FundScheme> = Vec::new();
        for budget in &budgets {
            if let Some(fund) = FundScheme::parse(&budget.fund_scheme).filter(|f| PAYMENT_FUNDS.contains(f)) {
                income += Fen::checked_total(budget.income_fen)
                    .ok_or_else(|| AppError::internal("store.failure", "a stored budget is beyond the largest amount"))?;
                budgeted.push(fund);
            }
        }
        // What another fund paid is not this budget's to spend: the employees' claims (310)
        // count against it only when the employees' fund is budgeted, the residents' likewise.
        let employees_budgeted = budgeted.contains(&FundScheme::Employee);
        let residents_budgeted = budgeted.iter().any(|f| *f != FundScheme::Employee);
        if budgeted.is_empty() {
            return Err(AppError::unprocessable(
                "payment.no_budget",
                format!("no income is budgeted for {year} in the employees' or residents' pooled funds: set the year's budgets first"),
            ));
        }
        let institutions = store!(self, institutions(region))?;
        if i64::try_from(institutions.len()).unwrap_or(i64::MAX) >= yibao_store::INSTITUTIONS_LIMIT {
            return Err(AppError::unprocessable(
                "payment.refused",
                format!(
                    "the region's register reaches {} institutions: the payment year reads them all and refuses more",
                    yibao_store::INSTITUTIONS_LIMIT
                ),
            ));
        }
        let today = self.today();
        let mut agreements = Vec::with_capacity(institutions.len());
        let mut names = BTreeMap::new();
        let mut cases = Vec::new();
        let mut outside_spending = Fen::ZERO;
        let mut skipped_cases = 0_u32;
        let mut paid_by: BTreeMap<String, BTreeMap<(FundScheme, yibao_domain::RegionCode), Fen>> = BTreeMap::new();
        let mut provisional = today.year() <= year;
        let year_days = time::util::days_in_year(year);
        let first_day =
            Date::from_calendar_date(year, Month::January, 1).map_err(|e| AppError::bad_request("fund.bad_year", e.to_string()))?;
        // The year's claims are read by the day they were settled: from its first day to
        // the end of the next year (or today), so a stay settled late is still counted.
        let last_read = Date::from_calendar_date(year + 1, Month::December, 31).map_or(as_of, |end| end.min(as_of)).min(today);
        // Settled moments are kept in UTC, eight hours behind the city's day: a stay settled
        // early on 1 January is stored on 31 December, so the reading starts a day before.
        let read_from = first_day.previous_day().unwrap_or(first_day);
        for institution in &institutions {
            let terms = institution.agreement.year(year);
            // An institution without terms for the year is paid as billed: nothing to assess.
            provisional |= terms.is_some_and(|t| t.assessment_bp.is_none());
            // The days and months the agreement held: neither suspended nor ended.
            let in_force = |date: Date| institution.agreement.suspended_on(date).is_none();
            let days_in_force = (0..year_days).filter(|d| in_force(first_day + time::Duration::days(i64::from(*d)))).count();
            let mut months_in_force = [false; 12];
            for (index, slot) in months_in_force.iter_mut().enumerate() {
                let month = Month::try_from(u8::try_from(index + 1).unwrap_or(1)).unwrap_or(Month::January);
                *slot = Date::from_calendar_date(year, month, 1).is_ok_and(in_force);
            }
            agreements.push(Agreement {
                institution: institution.code.to_string(),
                level: institution.level,
                methods: terms.map_or(Methods::default(), |t| Methods { points: t.points, per_diem: t.per_diem }),
                capitation_enrolled: terms.and_then(|t| t.capitation_enrolled),
                global_budget: terms.and_then(|t| t.global_budget),
                assessment: RatioBp::new(terms.and_then(|t| t.assessment_bp).unwrap_or(10_000)),
                deductions: institution.agreement.deductions_in(year),
                months_in_force,
                days_in_force: u16::try_from(days_in_force).unwrap_or(366),
            });
            names.insert(institution.code.to_string(), institution.name.clone());
            for record in self.settled_between(region, &institution.code, read_from, last_read).await? {
                if record.status != ClaimStatus::Settled {
                    continue;
                }
                match read_case(&record) {
                    Some(Read::Stay(mut case)) if case.discharge.year() == year => {
                        case.level = Some(institution.level_on(case.service_date));
                        // A stay settled through the national interface is grouped by its
                        // settlement list (4101), when one was uploaded: its main diagnosis
                        // and main procedure.
                        if let Some(list) = crate::interface::settlement_list_of(self, &institution.code, &case.claim_id).await? {
                            if let Some(diagnosis) = list.diagnoses.first() {
                                case.main_diagnosis.clone_from(diagnosis);
                            }
                            case.main_procedure = list.procedures.first().cloned();
                        }
                        *paid_by.entry(institution.code.to_string()).or_default().entry((case.pooled, record.region)).or_default() +=
                            case.fund;
                        cases.push(case.case);
                    }
                    Some(Read::Outside { service_date, pooled, employee }) if service_date.year() == year => {
                        if (employee && employees_budgeted) || (!employee && residents_budgeted) {
                            outside_spending += pooled;
                        }
                    }
                    Some(_) => {}
                    None => skipped_cases += 1,
                }
            }
        }
        let input = YearInput { pack: &pack, year, fund_income: income, outside_spending, agreements: &agreements, cases: &cases };
        let result = yibao_payment::run_year(&input).map_err(|e| AppError::unprocessable("payment.refused", e.to_string()))?;
        let clearing = store!(self, payment_clearings(region))?.into_iter().find(|c| c.year == year);
        let changed_since_clearing = clearing.as_ref().is_some_and(|cleared| {
            let booked = |code: &str| cleared.institutions.iter().find(|i| i.institution == code).map_or(0, |i| i.difference_fen);
            result.institutions.iter().any(|line| line.against_billed.get() != booked(&line.institution))
                || cleared
                    .institutions
                    .iter()
                    .any(|i| i.difference_fen != 0 && !result.institutions.iter().any(|l| l.institution == i.institution))
        });
        Ok(PaymentYearView {
            pack_id: pack.id.clone(),
            provisional,
            names,
            skipped_cases,
            result,
            paid_by,
            clearing,
            changed_since_clearing,
        })
    }
}

impl App {
    /// An institution's claims settled or reversed from `from` to `to`, read a month at a
    /// time, and a day at a time in a month that holds more than one read returns.
    async fn settled_between(
        &self,
        region: yibao_domain::RegionCode,
        institution: &yibao_domain::InstitutionCode,
        from: Date,
        to: Date,
    ) -> Result<Vec<ClaimRecord>, AppError> {
        let mut records = Vec::new();
        let mut first = from;
        while first <= to {
            let last = yibao_domain::first_of_next_month(first).previous_day().unwrap_or(first).min(to);
            match store!(self, institution_claims(region, institution, first, last)) {
                Ok(month) => records.extend(month),
                Err(yibao_store::StoreError::Invalid(_)) => {
                    for offset in 0..=(last - first).whole_days() {
                        let day = first + time::Duration::days(offset);
                        records.extend(store!(self, institution_claims(region, institution, day, day))?);
                    }
                }
                Err(error) => return Err(error.into()),
            }
            first = yibao_domain::first_of_next_month(first);
        }
        Ok(records)
    }
}

/// A stay as a payment case, with its date of service (its level is the register's on it).
struct StayCase {
    case: yibao_payment::Case,
    service_date: Date,
    /// The basic pooled fund that paid its `hifp_pay`.
    pooled: FundScheme,
}

impl std::ops::Deref for StayCase {
    type Target = yibao_payment::Case;
    fn deref(&self) -> &yibao_payment::Case {
        &self.case
    }
}

impl std::ops::DerefMut for StayCase {
    fn deref_mut(&mut self) -> &mut yibao_payment::Case {
        &mut self.case
    }
}

/// A live claim as the payment year reads it.
enum Read {
    /// An inpatient stay (inpatient, day surgery, single disease).
    Stay(StayCase),
    /// Any other claim paid by the same pooled funds (outpatient, chronic, two diseases,
    /// special drugs, a pharmacy's): its pooled-fund part, spent outside the payment year.
    Outside { service_date: Date, pooled: Fen, employee: bool },
    /// A maternity claim: the maternity fund's, not the payment year's.
    Maternity,
}

/// What a stored settlement says that the payment year reads (national names, yuan): one
/// parse of the fields it needs, for every claim of a city's year.
#[derive(serde::Deserialize)]
struct StoredCase {
    insutype: String,
    #[serde(default)]
    service_date: Option<Date>,
    #[serde(with = "yibao_domain::serde_yuan")]
    medfee_sumamt: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    hifp_pay: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    fulamt_ownpay_amt: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    act_pay_dedc: Fen,
    pool_prop_bp: u32,
}

/// What a stored claim says that the payment year reads: its kind, dates and codes, not its
/// lines (unknown fields are passed over).
#[derive(serde::Deserialize)]
struct StoredClaim {
    kind: yibao_domain::ClaimKind,
    admission_date: Date,
    discharge_date: Date,
    diagnosis: String,
    #[serde(default)]
    procedure: Option<String>,
}

/// A live claim as the payment year reads it; `None` for a record that does not read
/// (counted by the caller as a stay not counted).
fn read_case(record: &ClaimRecord) -> Option<Read> {
    let claim: StoredClaim = serde_json::from_str(&record.claim_json).ok()?;
    if claim.kind == yibao_domain::ClaimKind::Maternity {
        return Some(Read::Maternity);
    }
    let stored: StoredCase = serde_json::from_str(&record.settlement_json).ok()?;
    let service_date = stored.service_date.unwrap_or(claim.admission_date);
    if !claim.kind.is_stay() {
        return Some(Read::Outside { service_date, pooled: stored.hifp_pay, employee: stored.insutype == "310" });
    }
    let pooled = yibao_store::books::pooled_fund(&stored.insutype).ok()?;
    Some(Read::Stay(StayCase {
        service_date,
        pooled,
        case: yibao_payment::Case {
            institution: record.institution_code.to_string(),
            level: None,
            claim_id: record.claim_id.clone(),
            person: record.person_id.as_str().to_owned(),
            // The settlement names the insurance type, not whether an employee is retired: an
            // employee's stay takes the employed's per-diem rate.
            category: if stored.insutype == "310" {
                yibao_domain::PersonCategory::Employed
            } else {
                yibao_domain::PersonCategory::Resident
            },
            admission: claim.admission_date,
            discharge: claim.discharge_date,
            main_diagnosis: claim.diagnosis,
            main_procedure: claim.procedure,
            // The claim does not say how the stay ended (离院方式): no stay is taken as
            // incomplete yet.
            incomplete: false,
            single_disease: claim.kind == yibao_domain::ClaimKind::SingleDisease,
            total: stored.medfee_sumamt,
            fund: stored.hifp_pay,
            self_pay: stored.fulamt_ownpay_amt,
            deductible: stored.act_pay_dedc,
            ratio: RatioBp::new(stored.pool_prop_bp.min(10_000)),
        },
    }))
}
