//! A payment year of a region (R-PAY-1, R-FND-3): from the year's fund income, the
//! institutions' agreements and the settled cases, what each institution is advanced month
//! by month, what its methods earn it at the year's point value, its clearing, and the
//! balance the fund pays or recovers at the year end.
//!
//! The year's budget is the fund income less the risk reserve (以收定支); what per diem,
//! fee-for-service, capitation and global budgets take comes off first, and the rest is the
//! pool of the points: point value = pool ÷ all points of the year.

use std::collections::BTreeMap;

use serde::Serialize;
use yibao_domain::{Fen, InstitutionLevel, RatioBp, Rounding};

use crate::case::{Case, Method, Methods, method_of};
use crate::clearing::{Cleared, clear};
use crate::pack::{PaymentPack, PaymentYear, ValueBasis};
use crate::points::{PointValue, Points};

/// Most institutions and cases one year's run takes (a city of 13 million has about 2
/// million inpatient cases a year).
pub const INSTITUTIONS_LIMIT: usize = 20_000;
pub const CASES_LIMIT: usize = 10_000_000;

/// An institution under agreement (定点协议) for the year, as the register holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreement {
    pub institution: String,
    pub level: InstitutionLevel,
    pub methods: Methods,
    /// Persons enrolled with it for capitation (签约人数), if its agreement pays by head.
    pub capitation_enrolled: Option<u32>,
    /// Its global budget (总额控制) for the cases not paid by points or per diem, if any:
    /// those cases are cleared against it instead of being paid as billed.
    pub global_budget: Option<Fen>,
    /// The year's assessment score (考核得分, 0–100%): the share of the quality deposit and
    /// of capitation's held-back part returned.
    pub assessment: RatioBp,
    /// Deductions from inspections (检查扣款) for the year.
    pub deductions: Fen,
    /// The months (January first) the agreement held on the month's first day: capitation
    /// is paid for these only.
    pub months_in_force: [bool; 12],
    /// The days of the year the agreement held (neither suspended nor ended): a global
    /// budget is the share of these in the year's days.
    pub days_in_force: u16,
}

impl Agreement {
    /// The whole year in force.
    pub const WHOLE_YEAR: [bool; 12] = [true; 12];
}

/// What a year's run is given.
#[derive(Clone, Copy, Debug)]
pub struct YearInput<'a> {
    pub pack: &'a PaymentPack,
    pub year: i32,
    /// The year's budgeted income of the pooled funds the payment year spends.
    pub fund_income: Fen,
    /// What the same funds paid in the year outside the payment year's methods
    /// (outpatient care, chronic and special-drug claims, pharmacies), as settled: it comes
    /// off the budget before the points share the rest.
    pub outside_spending: Fen,
    pub agreements: &'a [Agreement],
    pub cases: &'a [Case],
}

/// Why a year cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum YearError {
    #[error("the payment pack gives no terms for {0}")]
    NoTerms(i32),
    #[error("case {claim}: institution {institution} has no agreement for the year")]
    NoAgreement { institution: String, claim: String },
    #[error("case {claim}: discharged {discharge}, outside the payment year {year}")]
    OutsideYear { claim: String, discharge: time::Date, year: i32 },
    #[error("case {claim} of {institution} is given twice")]
    DuplicateCase { institution: String, claim: String },
    #[error("institution {0} has two agreements for the year")]
    DuplicateAgreement(String),
    #[error("a year's run takes at most {INSTITUTIONS_LIMIT} institutions and {CASES_LIMIT} cases")]
    TooLarge,
    #[error("case {claim}: amounts are negative, or the fund paid more than the bill")]
    BadAmounts { claim: String },
    #[error("{institution}: an amount of the year is beyond the largest amount one figure may hold")]
    AmountTooLarge { institution: String },
    #[error("the year's {points} points against a pool of {pool} yuan make a point worth more than {limit} yuan: the year is refused", limit = crate::points::POINT_VALUE_LIMIT_YUAN)]
    PointValueOutOfRange { points: Points, pool: Fen },
    #[error("institution {0}: at most 366 days in force and 12 months")]
    BadDaysInForce(String),
}

/// One case's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseOutcome {
    pub institution: String,
    pub claim_id: String,
    /// 1–12, by discharge.
    pub month: u8,
    pub method: Method,
    /// The points it counts for (after a readmission reduction); zero off points.
    pub points: Points,
    /// The earlier stay of a readmission within the table's days: its points reduced.
    pub reduced_for_readmission: bool,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub billed: Fen,
}

/// One month of an institution's advances (月度预付).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MonthLine {
    pub month: u8,
    pub cases: u32,
    pub points: Points,
    /// What its cases' fund layers came to.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub billed: Fen,
    /// What its methods come to at the provisional point value.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub provisional: Fen,
    /// `provisional × advance ratio`.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub advance: Fen,
    /// The quality deposit withheld from the advance.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub deposit: Fen,
    /// Capitation paid this month (the part not held back).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub capitation: Fen,
    /// Paid this month: advance − deposit + capitation.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub paid: Fen,
}

/// One institution's year (年度清算单).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstitutionYear {
    pub institution: String,
    pub level: InstitutionLevel,
    pub cases: u32,
    pub points: Points,
    /// What all its cases' fund layers came to (what fee-for-service would have paid).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub billed: Fen,
    /// The clearing of its point cases: their points at the year's value against their bill.
    pub points_clearing: Option<Cleared>,
    /// The clearing of its global budget against the bill of the cases it covers.
    pub budget_clearing: Option<Cleared>,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub per_diem: Fen,
    /// Fee-for-service cases outside a global budget, as billed.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub fee_for_service: Fen,
    /// Capitation earned: the rate for its enrolled persons, the held-back part by score.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub capitation: Fen,
    /// What its methods earn it: clearings + per diem + fee-for-service + capitation.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub earned: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub deposit_withheld: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub deposit_returned: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub deductions: Fen,
    /// `earned − (deposit withheld − returned) − deductions`.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub payable: Fen,
    /// Paid during the year (the months' `paid`).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub paid_in_year: Fen,
    /// `payable − paid in year`: paid at the clearing (positive) or recovered (negative).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub balance: Fen,
    /// `payable − billed`: what the payment method changed against fee-for-service.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub against_billed: Fen,
    pub months: Vec<MonthLine>,
}

/// The region's year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct YearResult {
    pub year: i32,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub fund_income: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub risk_reserve: Fen,
    /// `fund income − risk reserve`.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub budget: Fen,
    /// What the same funds paid outside the payment year's methods, as settled.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub outside_spending: Fen,
    /// What the methods other than points take (per diem, fee-for-service, capitation,
    /// global budgets, as earned).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub other_methods: Fen,
    /// `budget − outside spending − other methods` (never below zero): the money the points
    /// share.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub points_pool: Fen,
    pub points: Points,
    /// The year's point value, yuan per point (six decimals); `None` without points.
    pub point_value_yuan: Option<String>,
    pub provisional_value_yuan: Option<String>,
    /// Σ payable + outside spending − budget: above zero the year spent more than its
    /// budget (the risk reserve and the adjustment fund are next, R-FND-5).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub over_budget: Fen,
    pub institutions: Vec<InstitutionYear>,
    pub cases: Vec<CaseOutcome>,
}

/// Runs a payment year.
pub fn run_year(input: &YearInput<'_>) -> Result<YearResult, YearError> {
    let terms = input.pack.year(input.year).ok_or(YearError::NoTerms(input.year))?;
    if input.agreements.len() > INSTITUTIONS_LIMIT || input.cases.len() > CASES_LIMIT {
        return Err(YearError::TooLarge);
    }
    let rounding = input.pack.rounding;
    let mut agreements: BTreeMap<&str, &Agreement> = BTreeMap::new();
    for agreement in input.agreements {
        if agreements.insert(agreement.institution.as_str(), agreement).is_some() {
            return Err(YearError::DuplicateAgreement(agreement.institution.clone()));
        }
    }
    let outcomes = case_outcomes(input, terms, &agreements, rounding)?;
    // Each institution's cases, found once (not a scan of every case per institution).
    let mut by_institution: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, (outcome, _)) in outcomes.iter().enumerate() {
        by_institution.entry(outcome.institution.as_str()).or_default().push(index);
    }
    let too_large = |institution: &str| YearError::AmountTooLarge { institution: institution.to_owned() };

    let provisional = terms.dip.as_ref().map(|d| d.provisional_value);
    let basis = terms.dip.as_ref().map(|d| d.basis);
    let mut years: Vec<InstitutionYear> = Vec::with_capacity(agreements.len());
    // Per institution: the points, fund part and total of its point cases, and the rate
    // method's amount where the table uses one.
    let mut point_sums: Vec<(Points, Fen, Fen, Fen)> = Vec::with_capacity(agreements.len());
    for agreement in agreements.values() {
        if agreement.days_in_force > 366 {
            return Err(YearError::BadDaysInForce(agreement.institution.clone()));
        }
        let code = agreement.institution.as_str();
        let mut year = InstitutionYear {
            institution: agreement.institution.clone(),
            level: agreement.level,
            cases: 0,
            points: Points::ZERO,
            billed: Fen::ZERO,
            points_clearing: None,
            budget_clearing: None,
            per_diem: Fen::ZERO,
            fee_for_service: Fen::ZERO,
            capitation: Fen::ZERO,
            earned: Fen::ZERO,
            deposit_withheld: Fen::ZERO,
            deposit_returned: Fen::ZERO,
            deductions: agreement.deductions,
            payable: Fen::ZERO,
            paid_in_year: Fen::ZERO,
            balance: Fen::ZERO,
            against_billed: Fen::ZERO,
            months: (1..=12).map(|month| MonthLine { month, ..MonthLine::default() }).collect(),
        };
        let (mut points_total, mut points_fund, mut points_cost, mut rate_amount) = (Points::ZERO, Fen::ZERO, Fen::ZERO, Fen::ZERO);
        let mut budget_billed = Fen::ZERO;
        // Month by month: points, the point cases' patient part (total-cost basis) and the
        // rate method's amount, to value at the provisional value once per month.
        let mut month_points = [(Points::ZERO, Fen::ZERO, Fen::ZERO); 12];
        for &index in by_institution.get(code).map_or(&[][..], Vec::as_slice) {
            let (outcome, case) = &outcomes[index];
            let line = &mut year.months[usize::from(outcome.month - 1)];
            year.cases += 1;
            year.billed += outcome.billed;
            line.cases += 1;
            line.billed += outcome.billed;
            match &outcome.method {
                Method::Points { .. } => {
                    year.points += outcome.points;
                    line.points += outcome.points;
                    points_total += outcome.points;
                    points_fund += case.fund;
                    points_cost += case.total;
                    let rate = rate_amount_of(terms, outcome.points, case, rounding).ok_or_else(|| too_large(code))?;
                    rate_amount += rate;
                    let slot = &mut month_points[usize::from(outcome.month - 1)];
                    slot.0 += outcome.points;
                    slot.1 += case.total - case.fund;
                    slot.2 += rate;
                }
                Method::PerDiem { amount, .. } => {
                    year.per_diem += *amount;
                    line.provisional += *amount;
                }
                Method::FeeForService { .. } => {
                    if agreement.global_budget.is_some() {
                        budget_billed += outcome.billed;
                    } else {
                        year.fee_for_service += outcome.billed;
                    }
                    line.provisional += outcome.billed;
                }
            }
        }
        if let Some(value) = provisional {
            for (line, (points, patient, rate)) in year.months.iter_mut().zip(month_points) {
                let worth = value.pay(points, rounding).ok_or_else(|| too_large(code))?;
                line.provisional += match basis {
                    Some(ValueBasis::Rate(_)) => rate,
                    Some(ValueBasis::TotalCost) => (worth - patient).max(Fen::ZERO),
                    _ => worth,
                };
            }
        }
        // Capitation: the year's rate for the enrolled persons, for the months the agreement
        // held on their first day, paid by month (cumulatively rounded), the held-back share
        // kept until the assessment.
        if let (Some(capitation), Some(enrolled)) = (&terms.capitation, agreement.capitation_enrolled) {
            let months = agreement.months_in_force.iter().filter(|m| **m).count();
            let product = i128::from(capitation.rate.get()) * i128::from(enrolled) * i128::try_from(months).unwrap_or(0);
            if product / 12 > i128::from(yibao_domain::FEN_LIMIT) {
                return Err(too_large(code));
            }
            let year_amount = Fen::checked(rounding.round_div(product, 12)).ok_or_else(|| too_large(code))?;
            let held_back = rounding.apply(year_amount, capitation.held_back);
            let paid_monthly = year_amount - held_back;
            let weights: Vec<Fen> = agreement.months_in_force.iter().map(|m| Fen::new(i64::from(*m))).collect();
            let shares = if months == 0 { vec![Fen::ZERO; 12] } else { crate::clearing::split(paid_monthly, &weights, rounding) };
            for (line, share) in year.months.iter_mut().zip(shares) {
                line.capitation = share;
            }
            year.capitation = paid_monthly + rounding.apply(held_back, agreement.assessment);
        }
        for line in &mut year.months {
            line.advance = rounding.apply(line.provisional, terms.advance_ratio);
            line.deposit = rounding.apply(line.advance, terms.quality_deposit);
            line.paid = line.advance - line.deposit + line.capitation;
            year.deposit_withheld += line.deposit;
            year.paid_in_year += line.paid;
        }
        if let Some(budget) = agreement.global_budget {
            // The budget for the days the agreement held.
            let days_in_year = if time::util::is_leap_year(input.year) { 366 } else { 365 };
            let budget = rounding.scale(budget, i64::from(agreement.days_in_force.min(days_in_year)), i64::from(days_in_year));
            year.budget_clearing = Some(clear(budget, budget_billed, &terms.clearing, rounding));
        }
        point_sums.push((points_total, points_fund, points_cost, rate_amount));
        years.push(year);
    }

    // The pool of the points: the budget less what was spent outside the payment year and
    // what the other methods take.
    // The income may exceed one amount's limit (a province's budget): the reserve is
    // computed as a total.
    let reserve = rounding.round_div(i128::from(input.fund_income.get()) * i128::from(terms.risk_reserve.get()), 10_000);
    let risk_reserve = Fen::checked_total(reserve).ok_or_else(|| too_large("the region"))?;
    let budget = input.fund_income - risk_reserve;
    let other_methods: Fen = years
        .iter()
        .map(|y| y.per_diem + y.fee_for_service + y.capitation + y.budget_clearing.map_or(Fen::ZERO, |c| c.paid))
        .fold(Fen::ZERO, |a, b| a + b);
    let points_pool = (budget - input.outside_spending - other_methods).max(Fen::ZERO);
    let all_points: Points = point_sums.iter().map(|s| s.0).sum();
    let all_fund: Fen = point_sums.iter().map(|s| s.1).fold(Fen::ZERO, |a, b| a + b);
    let all_cost: Fen = point_sums.iter().map(|s| s.2).fold(Fen::ZERO, |a, b| a + b);
    let value = match basis {
        Some(ValueBasis::Fund) => PointValue::of_pool(points_pool, all_points),
        Some(ValueBasis::TotalCost) => PointValue::of_total_cost(points_pool, all_fund, all_cost, all_points),
        Some(ValueBasis::Rate(rate)) => Some(rate),
        None => None,
    };
    if let Some(v) = value
        && v.yuan_e6().is_none_or(|e6| e6 > crate::points::POINT_VALUE_LIMIT_YUAN * 1_000_000)
    {
        return Err(YearError::PointValueOutOfRange { points: all_points, pool: points_pool });
    }
    let decimals = terms.dip.as_ref().and_then(|d| d.point_value_decimals);
    let value = match (value, decimals) {
        (Some(v), Some(d)) => {
            Some(v.rounded(d, rounding).ok_or(YearError::PointValueOutOfRange { points: all_points, pool: points_pool })?)
        }
        (v, _) => v,
    };
    // Each institution's points at the year's value, rounded cumulatively over the
    // institutions when the value is the pool's exact share, so the points pay the pool to
    // the fen; a rounded or fixed value pays each institution its own rounding.
    let exact_share = decimals.is_none() && matches!(basis, Some(ValueBasis::Fund | ValueBasis::TotalCost));
    let mut running_points = Points::ZERO;
    let mut running_paid = Fen::ZERO;
    for (year, (points, fund, cost, rate)) in years.iter_mut().zip(&point_sums) {
        if *points == Points::ZERO {
            continue;
        }
        let Some(value) = value else { continue };
        let worth = if exact_share {
            running_points += *points;
            let upto = value.pay(running_points, rounding).ok_or_else(|| too_large(&year.institution))?;
            let worth = upto - running_paid;
            running_paid = upto;
            worth
        } else {
            value.pay(*points, rounding).ok_or_else(|| too_large(&year.institution))?
        };
        let standard = match basis {
            Some(ValueBasis::Rate(_)) => *rate,
            Some(ValueBasis::TotalCost) => (worth - (*cost - *fund)).max(Fen::ZERO),
            _ => worth,
        };
        year.points_clearing = Some(clear(standard, *fund, &terms.clearing, rounding));
    }
    let agreement_of = |code: &str| agreements[code];
    let mut payable_total = Fen::ZERO;
    for year in &mut years {
        let agreement = agreement_of(&year.institution);
        year.earned = year.points_clearing.map_or(Fen::ZERO, |c| c.paid)
            + year.budget_clearing.map_or(Fen::ZERO, |c| c.paid)
            + year.per_diem
            + year.fee_for_service
            + year.capitation;
        year.deposit_returned = rounding.apply(year.deposit_withheld, agreement.assessment);
        year.payable = year.earned - (year.deposit_withheld - year.deposit_returned) - year.deductions;
        year.balance = year.payable - year.paid_in_year;
        year.against_billed = year.payable - year.billed;
        payable_total += year.payable;
    }
    Ok(YearResult {
        year: input.year,
        fund_income: input.fund_income,
        risk_reserve,
        budget,
        outside_spending: input.outside_spending,
        other_methods,
        points_pool,
        points: all_points,
        point_value_yuan: value.map(PointValue::yuan_text),
        provisional_value_yuan: provisional.map(PointValue::yuan_text),
        over_budget: payable_total + input.outside_spending - budget,
        institutions: years,
        cases: outcomes.into_iter().map(|(o, _)| o).collect(),
    })
}

/// The rate method's amount for a case (费率法): `(points × rate − self-pay − deductible) ×
/// the patient's ratio`, floored at zero; zero under the other bases.
fn rate_amount_of(terms: &PaymentYear, points: Points, case: &Case, rounding: Rounding) -> Option<Fen> {
    match terms.dip.as_ref().map(|d| d.basis) {
        Some(ValueBasis::Rate(rate)) => {
            let standard = rate.pay(points, rounding)?;
            Some(rounding.apply((standard - case.self_pay - case.deductible).max(Fen::ZERO), case.ratio))
        }
        _ => Some(Fen::ZERO),
    }
}

/// Each case's method and points, with readmissions applied: a stay of a person begun
/// within the table's days of their earlier discharge at the same institution counts the
/// earlier stay's points at the table's share.
fn case_outcomes<'c>(
    input: &YearInput<'c>,
    terms: &PaymentYear,
    agreements: &BTreeMap<&str, &Agreement>,
    rounding: Rounding,
) -> Result<Vec<(CaseOutcome, &'c Case)>, YearError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut outcomes: Vec<(CaseOutcome, &Case)> = Vec::with_capacity(input.cases.len());
    for case in input.cases {
        if !seen.insert((case.institution.as_str(), case.claim_id.as_str())) {
            return Err(YearError::DuplicateCase { institution: case.institution.clone(), claim: case.claim_id.clone() });
        }
        if case.discharge.year() != input.year {
            return Err(YearError::OutsideYear { claim: case.claim_id.clone(), discharge: case.discharge, year: input.year });
        }
        if case.total.is_negative()
            || case.fund.is_negative()
            || case.fund > case.total
            || case.self_pay.is_negative()
            || case.deductible.is_negative()
        {
            return Err(YearError::BadAmounts { claim: case.claim_id.clone() });
        }
        let agreement = agreements
            .get(case.institution.as_str())
            .ok_or_else(|| YearError::NoAgreement { institution: case.institution.clone(), claim: case.claim_id.clone() })?;
        let method = method_of(terms, case, case.level.unwrap_or(agreement.level), agreement.methods, rounding);
        let points = match &method {
            Method::Points { points, .. } => *points,
            _ => Points::ZERO,
        };
        let outcome = CaseOutcome {
            institution: case.institution.clone(),
            claim_id: case.claim_id.clone(),
            month: u8::from(case.discharge.month()),
            method,
            points,
            reduced_for_readmission: false,
            billed: case.fund,
        };
        outcomes.push((outcome, case));
    }
    if let Some(readmission) = terms.dip.as_ref().and_then(|d| d.readmission) {
        let mut order: Vec<usize> = (0..outcomes.len()).collect();
        order.sort_by(|a, b| {
            let (x, y) = (outcomes[*a].1, outcomes[*b].1);
            (&x.institution, &x.person, x.admission, &x.claim_id).cmp(&(&y.institution, &y.person, y.admission, &y.claim_id))
        });
        for pair in order.windows(2) {
            let (earlier, later) = (outcomes[pair[0]].1, outcomes[pair[1]].1);
            let within = earlier.institution == later.institution
                && earlier.person == later.person
                && later.admission >= earlier.discharge
                && (later.admission - earlier.discharge).whole_days() <= i64::from(readmission.days);
            let earlier_outcome = &mut outcomes[pair[0]].0;
            if within && matches!(earlier_outcome.method, Method::Points { .. }) {
                earlier_outcome.points = earlier_outcome.points.share(readmission.earlier_share, rounding);
                earlier_outcome.reduced_for_readmission = true;
            }
        }
    }
    Ok(outcomes)
}
