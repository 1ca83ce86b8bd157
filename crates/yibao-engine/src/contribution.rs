//! Contributions (R-FIN): what a person, an employer and each level of government pay in
//! for a year's (or month's) coverage, under the values in force on a date.

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{AssistanceGroup, Fen, PersonCategory, RatioBp, RegionCode, Scheme, Tier, serde_yuan};
use yibao_policy::{LookupError, ParamKey, Policy, Query};

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
    let central = policy.money(ParamKey::ResidentSubsidyCentral, &q, date)?.value;
    let provincial = policy.money(ParamKey::ResidentSubsidyProvincial, &q, date)?.value;
    let city = policy.money(ParamKey::ResidentSubsidyCity, &q, date)?.value;
    let county = policy.money(ParamKey::ResidentSubsidyCounty, &q, date)?.value;
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
    let average = policy.money(ParamKey::EmployeeAverageWageMonthly, &q, date)?.value;
    let floor = policy.rounding.scale(average, i64::from(policy.multiple(ParamKey::EmployeeBaseFloor, &q, date)?.value), 10_000);
    let ceiling = policy.rounding.scale(average, i64::from(policy.multiple(ParamKey::EmployeeBaseCeiling, &q, date)?.value), 10_000);
    let base = wage_monthly.max(floor).min(ceiling.max(floor));
    let employer = policy.rounding.apply(base, policy.ratio(ParamKey::EmployeeEmployerRate, &q, date)?.value);
    let employee = policy.rounding.apply(base, policy.ratio(ParamKey::EmployeeEmployeeRate, &q, date)?.value);
    let to_account = policy.rounding.apply(employee, policy.ratio(ParamKey::EmployeeAccountFromEmployee, &q, date)?.value)
        + policy.rounding.apply(employer, policy.ratio(ParamKey::EmployeeAccountFromEmployer, &q, date)?.value);
    Ok(EmployeeContribution { base, employer, employee, to_account, to_pool: employer + employee - to_account })
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
