//! Contributions (R-FIN): what a person, an employer and each level of government pay in
//! for a year's (or month's) coverage, under the values in force on a date.

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{AssistanceGroup, Fen, PersonCategory, RatioBp, RegionCode, Scheme, Tier, serde_yuan};
use yibao_policy::{Family, LookupError, ParamKey, Policy, Query};

/// A resident's yearly contribution and the subsidies that go with it (R-FIN-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentContribution {
    /// What the person pays.
    #[serde(with = "serde_yuan")]
    pub personal: Fen,
    /// The part of the personal contribution paid by civil affairs (民政资助参保).
    #[serde(with = "serde_yuan")]
    pub civil_affairs: Fen,
    #[serde(with = "serde_yuan")]
    pub central: Fen,
    #[serde(with = "serde_yuan")]
    pub provincial: Fen,
    #[serde(with = "serde_yuan")]
    pub city: Fen,
    #[serde(with = "serde_yuan")]
    pub county: Fen,
    #[serde(with = "serde_yuan")]
    pub total: Fen,
}

/// Resident contribution for coverage in force on `date`.
pub fn resident_contribution(
    policy: &Policy,
    region: RegionCode,
    tier: Option<Tier>,
    group: Option<AssistanceGroup>,
    date: Date,
) -> Result<ResidentContribution, LookupError> {
    let q = Query { region: Some(region), tier, ..Query::default() };
    let full = policy.money(ParamKey::ResidentContribution, &q, date)?.value;
    let share = policy.ratio_or(ParamKey::ResidentAssistedShare, &Query { group, ..Query::default() }, date, RatioBp::ZERO)?.value;
    let civil_affairs = if group.is_some() { policy.rounding.apply(full, share) } else { Fen::ZERO };
    let (central, provincial, city, county) = subsidies(policy, &q, date)?;
    let personal = full - civil_affairs;
    Ok(ResidentContribution {
        personal,
        civil_affairs,
        central,
        provincial,
        city,
        county,
        total: personal + civil_affairs + central + provincial + city + county,
    })
}

/// The central, provincial, city and county subsidies: four fixed amounts, or a total split
/// by the central, provincial and city shares, each rounded by the pack's rule, the county
/// bearing the rest, so the four always add up to the total to the fen (issue 13).
fn subsidies(policy: &Policy, q: &Query, date: Date) -> Result<(Fen, Fen, Fen, Fen), LookupError> {
    if !policy.offers(Family::SubsidyShares) {
        return Ok((
            policy.money(ParamKey::ResidentSubsidyCentral, q, date)?.value,
            policy.money(ParamKey::ResidentSubsidyProvincial, q, date)?.value,
            policy.money(ParamKey::ResidentSubsidyCity, q, date)?.value,
            policy.money(ParamKey::ResidentSubsidyCounty, q, date)?.value,
        ));
    }
    let total = policy.money(ParamKey::ResidentSubsidyTotal, q, date)?.value;
    let region_query = Query { region: q.region, ..Query::default() };
    let share_bp = |key| -> Result<u32, LookupError> { Ok(policy.ratio(key, &region_query, date)?.value.get()) };
    let central_bp = share_bp(ParamKey::ResidentSubsidyShareCentral)?;
    let provincial_bp = share_bp(ParamKey::ResidentSubsidyShareProvincial)?;
    let city_bp = share_bp(ParamKey::ResidentSubsidyShareCity)?;
    // Rounded cumulatively: each level gets round(total × its share and those above) less
    // what those above got, so rounding never makes the parts exceed the total, and the
    // county takes what is left. The loader refuses shares adding up to more than 100%.
    let upto = |bp: u32| policy.rounding.apply(total, RatioBp::new(bp.min(10_000)));
    let central = upto(central_bp);
    let provincial = upto(central_bp + provincial_bp) - central;
    let city = upto(central_bp + provincial_bp + city_bp) - central - provincial;
    let county = total - central - provincial - city;
    assert!(!provincial.is_negative() && !city.is_negative() && !county.is_negative(), "cumulative rounding is monotone");
    Ok((central, provincial, city, county))
}

/// An employee's monthly contribution (R-FIN-1): the wage bounded to the base floor and
/// ceiling, employer and employee rates, and the personal-account credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeContribution {
    #[serde(with = "serde_yuan")]
    pub base: Fen,
    #[serde(with = "serde_yuan")]
    pub employer: Fen,
    #[serde(with = "serde_yuan")]
    pub employee: Fen,
    /// Credited to the personal account (个人账户).
    #[serde(with = "serde_yuan")]
    pub to_account: Fen,
    /// Credited to the pooled fund (统筹基金).
    #[serde(with = "serde_yuan")]
    pub to_pool: Fen,
}

/// An employee's monthly contribution base (缴费基数): the wage within the floor and the
/// ceiling, shares of last year's average wage; the medical and the maternity insurance
/// are both paid on it.
fn contribution_base(policy: &Policy, q: &Query, wage_monthly: Fen, date: Date) -> Result<Fen, LookupError> {
    let average = policy.money(ParamKey::EmployeeAverageWageMonthly, q, date)?.value;
    let floor = policy.rounding.scale(average, i64::from(policy.multiple(ParamKey::EmployeeBaseFloor, q, date)?.value), 10_000);
    let ceiling = policy.rounding.scale(average, i64::from(policy.multiple(ParamKey::EmployeeBaseCeiling, q, date)?.value), 10_000);
    Ok(wage_monthly.max(floor).min(ceiling.max(floor)))
}

/// Monthly contribution of an employee (or, for a retiree, the monthly account credit
/// from pooling, with nothing paid in).
pub fn employee_contribution(
    policy: &Policy,
    region: RegionCode,
    tier: Option<Tier>,
    category: PersonCategory,
    wage_monthly: Fen,
    date: Date,
) -> Result<EmployeeContribution, LookupError> {
    let q = Query { region: Some(region), scheme: Some(Scheme::Employee), tier, category: Some(category), ..Query::default() };
    if category == PersonCategory::Retired {
        let credit = policy.money(ParamKey::EmployeeRetireeAccountMonthly, &q, date)?.value;
        return Ok(EmployeeContribution {
            base: Fen::ZERO,
            employer: Fen::ZERO,
            employee: Fen::ZERO,
            to_account: credit,
            to_pool: Fen::ZERO - credit,
        });
    }
    let base = contribution_base(policy, &q, wage_monthly, date)?;
    let employer = policy.rounding.apply(base, policy.ratio(ParamKey::EmployeeEmployerRate, &q, date)?.value);
    let employee = policy.rounding.apply(base, policy.ratio(ParamKey::EmployeeEmployeeRate, &q, date)?.value);
    let to_account = policy.rounding.apply(employee, policy.ratio(ParamKey::EmployeeAccountFromEmployee, &q, date)?.value)
        + policy.rounding.apply(employer, policy.ratio(ParamKey::EmployeeAccountFromEmployer, &q, date)?.value);
    Ok(EmployeeContribution { base, employer, employee, to_account, to_pool: employer + employee - to_account })
}

/// Monthly maternity insurance contribution (生育保险费): the employer pays
/// `maternity.employer_rate` on the employee's contribution base (the wage within the
/// employee scheme's floor and ceiling, as for the medical insurance); the employee pays
/// nothing. It goes whole to the maternity fund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaternityContribution {
    #[serde(with = "serde_yuan")]
    pub base: Fen,
    #[serde(with = "serde_yuan")]
    pub employer: Fen,
}

pub fn maternity_contribution(
    policy: &Policy,
    region: RegionCode,
    tier: Option<Tier>,
    category: PersonCategory,
    wage_monthly: Fen,
    date: Date,
) -> Result<MaternityContribution, LookupError> {
    let q = Query { region: Some(region), scheme: Some(Scheme::Employee), tier, category: Some(category), ..Query::default() };
    let base = contribution_base(policy, &q, wage_monthly, date)?;
    let rate = policy.ratio(ParamKey::MaternityEmployerRate, &Query { region: Some(region), ..Query::default() }, date)?.value;
    Ok(MaternityContribution { base, employer: policy.rounding.apply(base, rate) })
}

/// Rural supplementary insurance (R-FIN-3): personal part and government part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementaryContribution {
    #[serde(with = "serde_yuan")]
    pub personal: Fen,
    #[serde(with = "serde_yuan")]
    pub government: Fen,
}

pub fn supplementary_contribution(policy: &Policy, region: RegionCode, date: Date) -> Result<SupplementaryContribution, LookupError> {
    let q = Query { region: Some(region), ..Query::default() };
    Ok(SupplementaryContribution {
        personal: policy.money(ParamKey::SupplementaryContributionPersonal, &q, date)?.value,
        government: policy.money(ParamKey::SupplementaryContributionGovernment, &q, date)?.value,
    })
}

/// What a person owes for one period, worked out once for every caller (R-FIN-1..3): the
/// application layer's contribution use case, the demo loader and the synthetic-city loader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionDue {
    pub period: yibao_domain::Period,
    /// The tier the amount was computed at: the one in force on the period's first day.
    pub tier: Option<Tier>,
    /// What the payer owes: the personal part (resident, supplementary) or the employer's
    /// and employee's parts together (employee).
    pub due: Fen,
    /// The breakdown (personal part, subsidies by level, employer part, account share).
    pub breakdown: ContributionBreakdown,
}

/// The breakdown behind a [`ContributionDue`], as stored with the contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ContributionBreakdown {
    Resident(ResidentContribution),
    Employee(EmployeeContribution),
    Supplementary(SupplementaryContribution),
    Maternity(MaternityContribution),
}

/// Why no contribution is due as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContributionError {
    #[error("a {kind} contribution {why}")]
    KindMismatch { kind: &'static str, why: &'static str },
    #[error("a {kind} contribution is for a {unit}")]
    WrongPeriod { kind: &'static str, unit: &'static str },
    #[error("an employee contribution needs the month's wage")]
    NoWage,
    #[error("a wage may not be negative")]
    NegativeWage,
    #[error(transparent)]
    TierHistory(crate::TierHistoryError),
    #[error("the policy pack has no value for this contribution: {0}")]
    Policy(LookupError),
}

impl ContributionError {
    /// Stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            ContributionError::KindMismatch { .. } => "contribution.kind_mismatch",
            ContributionError::WrongPeriod { .. } => "contribution.bad_period",
            ContributionError::NoWage => "contribution.no_wage",
            ContributionError::NegativeWage => "contribution.negative",
            ContributionError::TierHistory(_) => "person.bad_tier",
            ContributionError::Policy(_) => "policy.no_value",
        }
    }
}

impl From<LookupError> for ContributionError {
    fn from(error: LookupError) -> ContributionError {
        ContributionError::Policy(error)
    }
}

/// The contribution due from the person with `coverage` for `period` (R-FIN-1..3), at the
/// tier in force on the period's first day ([`crate::tier_in_force`]).
///
/// Refused when the kind does not fit the person (a resident contribution for an employee,
/// an employee contribution for a resident, a supplementary contribution for someone not
/// enrolled in it), when the period has the wrong form (a resident or supplementary year is
/// `YYYY`, an employee month `YYYY-MM`), and when an employee contribution has no wage.
pub fn contribution_due(
    policy: &Policy,
    coverage: &crate::Coverage,
    kind: yibao_domain::ContributionKind,
    period: yibao_domain::Period,
    wage_monthly: Option<Fen>,
) -> Result<ContributionDue, ContributionError> {
    use yibao_domain::{ContributionKind, Period};
    let mismatch = |why| ContributionError::KindMismatch { kind: kind.as_str(), why };
    match kind {
        ContributionKind::Resident if coverage.scheme != Scheme::Resident => return Err(mismatch("is paid only by a resident")),
        ContributionKind::Employee if coverage.scheme != Scheme::Employee => return Err(mismatch("is paid only for an employee")),
        ContributionKind::Supplementary if !coverage.supplementary => {
            return Err(mismatch("is paid only by a person enrolled in supplementary insurance"));
        }
        ContributionKind::Maternity if coverage.scheme != Scheme::Employee || !coverage.maternity => {
            return Err(mismatch("is paid only for an employee with maternity insurance"));
        }
        ContributionKind::Maternity if coverage.category == PersonCategory::Retired => {
            return Err(mismatch("is not paid for a retiree"));
        }
        _ => {}
    }
    match (kind.is_yearly(), period) {
        (true, Period::Year(_)) | (false, Period::Month(..)) => {}
        (true, Period::Month(..)) => return Err(ContributionError::WrongPeriod { kind: kind.as_str(), unit: "year: YYYY" }),
        (false, Period::Year(_)) => return Err(ContributionError::WrongPeriod { kind: kind.as_str(), unit: "month: YYYY-MM" }),
    }
    let on = period.first_day();
    let tier = crate::tier_in_force(policy, coverage, on).map_err(|e| match e {
        crate::TierOrPolicyError::History(e) => ContributionError::TierHistory(e),
        crate::TierOrPolicyError::Policy(e) => ContributionError::Policy(e),
    })?;
    let region = coverage.region;
    let (due, breakdown) = match kind {
        ContributionKind::Resident => {
            let c = resident_contribution(policy, region, tier, coverage.assistance_group, on)?;
            (c.personal, ContributionBreakdown::Resident(c))
        }
        ContributionKind::Employee => {
            let wage = wage_monthly.ok_or(ContributionError::NoWage)?;
            if wage.is_negative() {
                return Err(ContributionError::NegativeWage);
            }
            let c = employee_contribution(policy, region, tier, coverage.category, wage, on)?;
            (c.employer + c.employee, ContributionBreakdown::Employee(c))
        }
        ContributionKind::Supplementary => {
            let c = supplementary_contribution(policy, region, on)?;
            (c.personal, ContributionBreakdown::Supplementary(c))
        }
        ContributionKind::Maternity => {
            let wage = wage_monthly.ok_or(ContributionError::NoWage)?;
            if wage.is_negative() {
                return Err(ContributionError::NegativeWage);
            }
            let c = maternity_contribution(policy, region, tier, coverage.category, wage, on)?;
            (c.employer, ContributionBreakdown::Maternity(c))
        }
    };
    Ok(ContributionDue { period, tier, due, breakdown })
}
