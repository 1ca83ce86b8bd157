//! Arrears (欠费) repaid in instalments, and the benefits they suspend (R-FIN-4, issue 16
//! item 4): agreeing a person's repayment plan over up to five years, recording its
//! payments, and the standing check every settlement edge runs. The rules are
//! `yibao_engine::arrears`'s; the pack says when arrears suspend benefits and how they
//! resume (`arrears.*`, docs/policy-packs.md).

use time::Date;
use yibao_domain::{Fen, NationalId, RegionCode};
pub use yibao_engine::{ArrearsRule, Instalment, PlanPeriod, Standing};
use yibao_store::{ArrearsStore as _, PlanRecord, Store as _};

use crate::{App, AppError, Principal, roles, store};

/// How far ahead a plan's first instalment may fall due: a month's time to pay the first.
pub const FIRST_DUE_DAYS_MAX: i64 = 31;

/// A plan as the clerk agrees it: how many monthly instalments, when the first falls due,
/// and the total the clerk was shown (a plan is refused when the arrears changed since).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanInput {
    pub instalments: u32,
    pub first_due_on: Date,
    pub total_fen: Fen,
}

/// A person's arrears as a plan would take them today, the pack's terms, their plans, and
/// whether their benefits are in force today.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArrearsView {
    pub person_id: NationalId,
    pub on: Date,
    pub rule: ArrearsRule,
    /// What a plan agreed today would take: the periods owed (months an employer declared
    /// are the employer's), the oldest first.
    pub periods: Vec<PlanPeriod>,
    /// What they owe together: the total a plan agreed today repays.
    pub owed_fen: Fen,
    pub plans: Vec<PlanRecord>,
    /// The standing of the scheme the person is insured in today.
    pub standing: Standing,
}

impl App {
    /// The arrears rule of the county the person is insured in, in force on `on`.
    fn arrears_rule_for(&self, region: RegionCode, on: Date) -> Result<ArrearsRule, AppError> {
        Ok(yibao_engine::arrears_rule(&self.policy(), region, on)?)
    }

    /// A person's arrears, plans and standing today (the roles that read arrears).
    pub async fn arrears_of(&self, principal: &Principal, person_id: &NationalId) -> Result<ArrearsView, AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        let person = store!(self, person(scope, person_id))?;
        let on = self.today();
        let rule = self.arrears_rule_for(person.coverage.region, on)?;
        let periods = store!(self, plannable(scope, person_id, on))?;
        let plans = store!(self, plans_of(scope, person_id))?;
        let (_, standing) = self.standing_of(person_id, on).await?;
        Ok(ArrearsView { person_id: *person_id, on, rule, owed_fen: periods.iter().map(|p| p.owed_fen).sum(), periods, plans, standing })
    }

    /// Agrees a plan (欠费分期补缴协议, R-FIN-4): every period the person owes, repaid in
    /// 1 to the pack's `arrears.instalments_max` monthly instalments (at most 60, five
    /// years), the first falling due within a month. The store re-reads the arrears in its
    /// transaction and refuses the plan when they changed.
    pub async fn agree_plan(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        input: PlanInput,
    ) -> Result<PlanRecord, AppError> {
        let scope = principal.scope(roles::CONTRIBUTIONS)?;
        let person = store!(self, person(scope, person_id))?;
        let today = self.today();
        let rule = self.arrears_rule_for(person.coverage.region, today)?;
        let Some(max) = rule.instalments_max else {
            return Err(AppError::unprocessable(
                "arrears.no_plans",
                "the policy in force offers no repayment plans (arrears.instalments_max)",
            ));
        };
        if input.first_due_on < today || (input.first_due_on - today).whole_days() > FIRST_DUE_DAYS_MAX {
            return Err(AppError::bad_request(
                "arrears.bad_date",
                format!("the first instalment falls due from today ({today}) to {FIRST_DUE_DAYS_MAX} days on, not {}", input.first_due_on),
            ));
        }
        let periods = store!(self, plannable(scope, person_id, today))?;
        let total: Fen = periods.iter().map(|p| p.owed_fen).sum();
        if total != input.total_fen {
            return Err(AppError::unprocessable(
                "arrears.changed",
                format!(
                    "{person_id} owes {total} yuan a plan may take today, not the {} yuan given: read the arrears again",
                    input.total_fen
                ),
            ));
        }
        let schedule: Vec<Instalment> = yibao_engine::instalment_schedule(total, input.instalments, max, input.first_due_on)
            .map_err(|e| AppError::unprocessable(e.code(), e.to_string()))?;
        let plan = yibao_store::NewPlan { person_id: *person_id, agreed_on: today, periods, schedule };
        Ok(store!(self, agree_plan(&principal.actor(source, self.now()), scope, plan))?)
    }

    /// Records a payment under the person's open plan: the amount goes to the oldest periods
    /// first, each recorded as a contribution of its period (the fund, subsidies and
    /// account posting as at the counter); the plan completes when they owe nothing.
    ///
    /// The receipt's number (收据号, 1 to 64 characters of the register's) identifies the
    /// payment: the same receipt sent again records nothing and answers the plan as it
    /// stands; another amount under it is refused (`arrears.receipt_reused`).
    pub async fn pay_instalment(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        receipt: &str,
        amount: Fen,
    ) -> Result<PlanRecord, AppError> {
        let scope = principal.scope(roles::CONTRIBUTIONS)?;
        if amount.get() <= 0 {
            return Err(AppError::bad_request("arrears.bad_amount", format!("a payment is at least 0.01 yuan, not {amount}")));
        }
        let receipt = crate::contributions::receipt_number(receipt)
            .ok_or_else(|| AppError::bad_request("arrears.bad_receipt", crate::contributions::receipt_rule()))?;
        let payment = yibao_store::InstalmentPayment { receipt, amount_fen: amount };
        Ok(store!(self, pay_instalment(&principal.actor(source, self.now()), scope, person_id, payment))?)
    }

    /// The standing of a person's benefits on the date of service `on`: of the scheme of
    /// the spell in force that day, under the arrears rule of its county in force that day.
    /// One read of the person with the periods they owe (and those paid within the longest
    /// waiting days a pack may set, 366); their plans only when a plan could lift a suspension.
    pub(crate) async fn standing_of(&self, person_id: &NationalId, on: Date) -> Result<(yibao_store::PersonRecord, Standing), AppError> {
        let city = self.policy().region;
        let cleared_since = on.saturating_sub(time::Duration::days(366));
        let (person, owed) = store!(self, owed_periods(city, person_id, cleared_since))?;
        let standing = self.standing_with(&person, &owed, on).await?;
        Ok((person, standing))
    }

    async fn standing_with(
        &self,
        person: &yibao_store::PersonRecord,
        owed: &[yibao_engine::OwedPeriod],
        on: Date,
    ) -> Result<Standing, AppError> {
        if owed.is_empty() {
            return Ok(Standing::InForce);
        }
        let coverage = match yibao_engine::spell_on(&person.coverage, &person.history, on) {
            yibao_engine::SpellOn::Current => &person.coverage,
            yibao_engine::SpellOn::Past(past) | yibao_engine::SpellOn::OtherScheme(past) => &past.coverage,
        };
        // A date the pack does not reach (before its first values) suspends nothing: the
        // settlement refuses it itself, with its own code.
        let Ok(rule) = self.arrears_rule_for(coverage.region, on) else { return Ok(Standing::InForce) };
        if rule.suspend_after_days.is_none() {
            return Ok(Standing::InForce);
        }
        let standing = yibao_engine::standing_on(on, coverage.scheme, owed, &[], &rule);
        // Only a suspension a plan could lift reads the person's plans.
        if standing == Standing::InForce || !rule.resume_on_plan {
            return Ok(standing);
        }
        let plans: Vec<_> = store!(self, plans_of(self.policy().region, &person.person_id))?.iter().map(PlanRecord::standing).collect();
        Ok(yibao_engine::standing_on(on, coverage.scheme, owed, &plans, &rule))
    }

    /// [`App::check_standing`] of the person with the national ID; nothing is read when
    /// the pack suspends benefits nowhere.
    pub(crate) async fn check_standing_on(&self, person_id: &NationalId, service_date: Date) -> Result<(), AppError> {
        let policy = self.policy();
        if policy.entries(yibao_policy::ParamKey::ArrearsSuspendAfterDays).is_empty() {
            return Ok(());
        }
        // An unknown person is the card check's to refuse, with the one answer that tells an
        // institution nothing (`person.not_verified`).
        let (_, standing) = match self.standing_of(person_id, service_date).await {
            Ok(found) => found,
            Err(e) if e.code == "person.not_found" => return Ok(()),
            Err(e) => return Err(e),
        };
        refuse_suspended(service_date, standing)
    }
}

/// The refusal of a claim dated in a suspension, saying which period and when benefits
/// resume.
fn refuse_suspended(service_date: Date, standing: Standing) -> Result<(), AppError> {
    let Standing::Suspended { kind, period, overdue_since, resumes_on, plan_default } = standing else { return Ok(()) };
    let scheme = yibao_engine::scheme_of(kind);
    let why = match plan_default {
        Some(day) => format!("its repayment plan is in default since {day}"),
        None => format!("owed since {overdue_since}"),
    };
    let resumes = resumes_on.map_or_else(
        || "benefits resume when it is paid (or a repayment plan is agreed, where the policy allows)".to_owned(),
        |day| format!("benefits resume for services from {day}"),
    );
    Err(AppError::unprocessable(
        "claim.benefits_suspended",
        format!(
            "the person's {} benefits are suspended on {service_date}: the {} contribution for {period} is unpaid, {why}; {resumes}",
            scheme.as_str(),
            kind.as_str()
        ),
    ))
}
