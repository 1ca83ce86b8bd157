//! One inpatient case under the year's methods: which method pays it (per diem, DIP points
//! or fee-for-service) and why, its group and band, and its points. The patient's side of
//! the bill is settled already and never changes here (R-PAY-1): what is decided is what the
//! fund owes the institution for the case.

use serde::Serialize;
use time::Date;
use yibao_domain::{Fen, InstitutionLevel, PersonCategory, RatioBp, Rounding};

use crate::pack::{DipGroup, DipTable, PaymentYear};
use crate::points::{CASE_POINTS_LIMIT, Points};

/// A settled inpatient case as the settlement list (医保结算清单, 4101) gives it: the
/// bureau's own record of the claim, never the institution's say about its payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub institution: String,
    /// The institution's level on the date of service, as the register gives it (a later
    /// upgrade does not raise an earlier stay's coefficient); `None`: its agreement's.
    pub level: Option<InstitutionLevel>,
    pub claim_id: String,
    /// An opaque key of the person (readmissions are found per person and institution).
    pub person: String,
    pub category: PersonCategory,
    pub admission: Date,
    pub discharge: Date,
    /// Main diagnosis, ICD-10 医保版 (`diag_code` of the row with `maindiag_flag` 1).
    pub main_diagnosis: String,
    /// Main procedure, ICD-9-CM-3 医保版 (`oprn_oprt_code`), if any.
    pub main_procedure: Option<String>,
    /// Left against advice, transferred or died before the treatment ended (未完成治疗).
    pub incomplete: bool,
    /// Settled at a single disease's fixed price (单病种): paid as settled.
    pub single_disease: bool,
    /// The bill's total (`medfee_sumamt`).
    pub total: Fen,
    /// What the fund layers came to at settlement (`fund_pay_sumamt`): what the
    /// institution advanced to the patient on the fund's behalf, and what fee-for-service pays.
    pub fund: Fen,
    /// The patient's wholly self-paid part (`fulamt_ownpay_amt`), for the rate method.
    pub self_pay: Fen,
    /// The deductible the patient paid on this case (`act_pay_dedc`), for the rate method.
    pub deductible: Fen,
    /// The pooled fund's ratio for the patient on this case, for the rate method.
    pub ratio: RatioBp,
}

impl Case {
    /// Nights in hospital (a same-day stay counts one day, as the claim does).
    #[must_use]
    pub fn days(&self) -> u32 {
        u32::try_from((self.discharge - self.admission).whole_days()).unwrap_or(0).max(1)
    }
}

/// Why a case is paid fee-for-service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutOfPoints {
    /// The institution's agreement does not pay it by points this year.
    NotUnderPoints,
    /// Settled at a single disease's fixed price.
    SingleDisease,
    /// No group of the table takes its main diagnosis.
    Ungrouped,
    /// Shorter than the table's shortest stay.
    TooShort,
    /// Longer than the table's longest stay and no per-diem rate applies.
    TooLong,
    /// Its cost ratio is above the table's fee-for-service bound.
    CostBeyondBound,
}

/// Where a case's cost puts it among its group's cases (偏差病例).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Band {
    Normal,
    LowCost,
    HighCost,
}

/// How a case is paid, and the figures that decide it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum Method {
    /// DIP points: the group, the band, the cost ratio to the group's reference cost (in
    /// basis points) and the points before any readmission reduction.
    Points { group: String, band: Band, cost_ratio_bp: i64, points: Points },
    /// Per diem: the rate's name, days and the amount (after its cap).
    PerDiem {
        rate: String,
        days: u32,
        #[serde(with = "yibao_domain::serde_yuan")]
        amount: Fen,
    },
    /// Fee-for-service: what the claim's fund layers came to.
    FeeForService { reason: OutOfPoints },
}

/// The methods an institution's agreement gives it for a year (dated per institution).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Methods {
    /// Inpatient cases by DIP points.
    pub points: bool,
    /// Stays the pack's per-diem rates cover, per diem.
    pub per_diem: bool,
}

/// Finds the group of a case: the group of its diagnosis (longest prefix first) with its
/// procedure (a group's procedure a prefix of the case's), else the diagnosis's group
/// without a procedure (保守治疗).
#[must_use]
pub fn group_of<'t>(table: &'t DipTable, diagnosis: &str, procedure: Option<&str>) -> Option<&'t DipGroup> {
    let matching = table.groups.iter().filter(|g| diagnosis.starts_with(g.diagnosis.as_str()));
    let with_procedure = matching
        .clone()
        .filter(|g| matches!((&g.procedure, procedure), (Some(p), Some(case)) if case.starts_with(p.as_str())))
        .max_by_key(|g| (g.diagnosis.len(), g.procedure.as_ref().map_or(0, String::len)));
    with_procedure.or_else(|| matching.filter(|g| g.procedure.is_none()).max_by_key(|g| g.diagnosis.len()))
}

/// Decides how `case` is paid at an institution of `level` with `methods` in `year`.
/// Readmissions are applied over the year's cases by [`crate::year`], not here.
#[must_use]
pub fn method_of(year: &PaymentYear, case: &Case, level: InstitutionLevel, methods: Methods, rounding: Rounding) -> Method {
    let days = case.days();
    let too_long = year.dip.as_ref().and_then(|d| d.days_max).is_some_and(|max| days > max);
    if methods.per_diem
        && let Some(rate) = year.per_diem_for(&case.main_diagnosis, level, case.category)
    {
        // Bounded: a rate of at most 100,000 yuan (the loader) for at most 3,660 days.
        let standard = Fen::new(rate.rate.get() * i64::from(days.min(3_660)));
        let amount = match rate.cap_bp {
            Some(cap) => standard.min(rounding.scale(case.fund, i64::from(cap), 10_000)),
            None => standard,
        };
        return Method::PerDiem { rate: rate.name.clone(), days, amount };
    }
    let ffs = |reason| Method::FeeForService { reason };
    let Some(table) = year.dip.as_ref().filter(|_| methods.points) else {
        return ffs(OutOfPoints::NotUnderPoints);
    };
    if case.single_disease {
        return ffs(OutOfPoints::SingleDisease);
    }
    if days < table.days_min {
        return ffs(OutOfPoints::TooShort);
    }
    if too_long {
        return ffs(OutOfPoints::TooLong);
    }
    let Some(group) = group_of(table, &case.main_diagnosis, case.main_procedure.as_deref()) else {
        return ffs(OutOfPoints::Ungrouped);
    };
    // The reference cost is the group's average at the institution's grade (同级别次均费用).
    let coefficient = if group.exempt { crate::points::Coefficient::ONE } else { table.coefficient(level) };
    let base = group.points.times(coefficient, rounding);
    let reference =
        Fen::new(rounding.round_div(i128::from(group.average.get()) * i128::from(coefficient.e4()), i128::from(crate::points::E4)));
    if table.fee_for_service_above.is_some_and(|bound| bound.above(case.total, reference)) {
        return ffs(OutOfPoints::CostBeyondBound);
    }
    let cost = i128::from(case.total.get());
    let reference_fen = i128::from(reference.get()).max(1);
    let cost_ratio_bp = i64::try_from(cost * 10_000 / reference_fen).unwrap_or(i64::MAX);
    let (band, mut points) = if table.high_cost.above(case.total, reference) {
        // (ratio − bound + 1) × base = base × (cost − (bound − 1) × reference) ÷ reference.
        let excess = cost * 10_000 - (i128::from(table.high_cost.ratio_bp) - 10_000) * reference_fen;
        (Band::HighCost, base.scale(excess, reference_fen * 10_000, rounding))
    } else if table.low_cost.below(case.total, reference) {
        (Band::LowCost, base.scale(cost, reference_fen, rounding))
    } else {
        (Band::Normal, base)
    };
    if case.incomplete && table.incomplete_capped {
        // An incomplete stay: points by its cost ratio, never above the base points.
        points = base.scale(cost, reference_fen, rounding).min(base);
    }
    let points = points.min(CASE_POINTS_LIMIT);
    Method::Points { group: group.code.clone(), band, cost_ratio_bp, points }
}
