//! The monthly pooling run (统收统支, R-FND-2, SMX §四(三)): "市本级及各县(市、区)的当期
//! 各项基本医疗保险基金收入按时全额归集至市级财政专户，市级财政专户按月统一拨付…支出至市级
//! 支出户，再由市级支出户分别拨付至各县(市、区)支出户".
//!
//! Three steps per unit and month, each a transfer whose id is derived from (month, fund,
//! unit, step): sweep the income account in full to the special account; pay the month's
//! expenditure from the special account to the city expenditure account; pay it on to the
//! county's expenditure account (the city level spends from the city expenditure account
//! itself). A step whose id is already posted is skipped, so re-running a month posts
//! nothing new, even if income arrived since: that income is next month's sweep.

use time::Date;
use yibao_domain::{Fen, RegionCode};

use crate::account::{AccountKey, AccountKind};
use crate::error::LedgerError;
use crate::fund::Fund;
use crate::limits::UNITS_LIMIT;
use crate::period::YearMonth;
use crate::plan::{Note, Planned, Steps, at_most, city_fund, non_negative, unit_en, unit_of, unit_zh};
use crate::transfer::{BusinessRef, Reason, RecordKind, Transfer, TransferId};

/// One unit's figures for the month, as the store reads them on the sweep day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitMonth {
    /// The city itself (市本级) or one of its counties.
    pub unit: RegionCode,
    /// The unit's income account balance on the sweep day: swept in full.
    pub income_balance_fen: Fen,
    /// The unit's expenditure for the month (what its expenditure account must pay).
    pub expenditure_fen: Fen,
}

/// The inputs of one fund's monthly run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthInputs {
    /// A city fund.
    pub fund: Fund,
    pub month: YearMonth,
    /// The configured sweep day, inside `month`.
    pub value_date: Date,
    /// The city special account's balance before the run.
    pub special_balance_fen: Fen,
    pub units: Vec<UnitMonth>,
}

/// What the run moves, step by step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthPlan {
    /// Swept by the new transfers.
    pub swept_fen: Fen,
    /// Paid out of the special account by the new transfers.
    pub disbursed_fen: Fen,
    /// Steps skipped because their transfer is already posted.
    pub already_posted: usize,
    /// Sweeps first, then disbursements, in unit order: post them as one batch.
    pub transfers: Vec<Planned>,
}

/// Plans one fund's month. `is_posted` says whether a transfer id is already posted
/// (e.g. [`Ledger::contains`](crate::Ledger::contains)).
///
/// Refuses a fund that is not a city's, a unit outside the city or given twice, a value
/// date outside the month, negative figures, and a month whose new disbursements exceed
/// what the special account will hold after the sweeps (`ledger.special_account_short`:
/// the deficit waterfall must cover the gap first).
pub fn plan_month(inputs: &MonthInputs, is_posted: impl Fn(&TransferId) -> bool) -> Result<MonthPlan, LedgerError> {
    let fund = inputs.fund;
    city_fund(fund)?;
    let city = fund.region;
    at_most("units in a pooling run", inputs.units.len(), UNITS_LIMIT)?;
    if !inputs.month.contains(inputs.value_date) {
        return Err(LedgerError::DateOutsidePeriod { date: inputs.value_date, period: inputs.month.to_string() });
    }
    non_negative("the special account's balance", inputs.special_balance_fen)?;
    let mut units: Vec<&UnitMonth> = inputs.units.iter().collect();
    units.sort_by_key(|u| u.unit);
    for pair in units.windows(2) {
        if pair[0].unit == pair[1].unit {
            return Err(LedgerError::DuplicateInput { what: format!("unit {}", pair[0].unit) });
        }
    }
    for u in &units {
        unit_of(city, u.unit)?;
        non_negative("an income account's balance", u.income_balance_fen)?;
        non_negative("a month's expenditure", u.expenditure_fen)?;
    }

    let month = inputs.month;
    let cause = BusinessRef::new(RecordKind::PoolingRun, &format!("{fund}/{month}"))?;
    let special = AccountKey::special(fund);
    let city_expenditure = AccountKey::of_unit(fund, city, AccountKind::Expenditure);
    let (zh_fund, en_fund) = (fund.scheme.name_zh(), fund.to_string());
    let mut steps = Steps { planned: Vec::new(), already_posted: 0 };
    let step = |unit: RegionCode, name: &'static str| TransferId::derived(&[&"pool", &month, &fund, &unit, &name]);
    let transfer =
        |id, debit, credit, amount_fen, reason| Transfer::new(id, debit, credit, amount_fen, reason, cause.clone(), inputs.value_date);

    let mut swept_fen = Fen::ZERO;
    for u in &units {
        let amount = u.income_balance_fen;
        let income = AccountKey::of_unit(fund, u.unit, AccountKind::Income);
        let note = Note::new(
            format!("[{zh_fund}] {month} 归集：{}收入户余额 {amount} 元全额归集至市级财政专户", unit_zh(u.unit)),
            format!(
                "[{en_fund}] {month} sweep: the income account of {} holds {amount} yuan, swept in full to the city fiscal special account",
                unit_en(u.unit)
            ),
        );
        if steps.add(&is_posted, transfer(step(u.unit, "sweep"), special, income, amount, Reason::Sweep), note) {
            swept_fen += amount;
        }
    }
    let mut disbursed_fen = Fen::ZERO;
    for u in &units {
        let amount = u.expenditure_fen;
        let note = Note::new(
            format!("[{zh_fund}] {month} 拨付：市级财政专户拨付{}本月支出 {amount} 元至市级支出户", unit_zh(u.unit)),
            format!(
                "[{en_fund}] {month} disbursement: {amount} yuan, the month's expenditure of {}, paid from the city fiscal special account to the city expenditure account",
                unit_en(u.unit)
            ),
        );
        if steps.add(&is_posted, transfer(step(u.unit, "disburse-city"), city_expenditure, special, amount, Reason::Disbursement), note) {
            disbursed_fen += amount;
        }
        if u.unit != city {
            let county_expenditure = AccountKey::of_unit(fund, u.unit, AccountKind::Expenditure);
            let note = Note::new(
                format!("[{zh_fund}] {month} 拨付：市级支出户拨付 {amount} 元至{}支出户", unit_zh(u.unit)),
                format!(
                    "[{en_fund}] {month} disbursement: {amount} yuan paid on from the city expenditure account to the expenditure account of {}",
                    unit_en(u.unit)
                ),
            );
            steps.add(
                &is_posted,
                transfer(step(u.unit, "disburse-county"), county_expenditure, city_expenditure, amount, Reason::Disbursement),
                note,
            );
        }
    }
    let available_fen = inputs.special_balance_fen + swept_fen;
    if disbursed_fen > available_fen {
        return Err(LedgerError::SpecialAccountShort { fund, needed_fen: disbursed_fen, available_fen });
    }
    Ok(MonthPlan { swept_fen, disbursed_fen, already_posted: steps.already_posted, transfers: steps.planned })
}
