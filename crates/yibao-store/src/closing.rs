//! The year-end close of a city's funds (R-FND-4, R-FND-5): the adjustment-fund levy on
//! what each contributor actually collected, then the deficit waterfall over every fund and
//! unit, then each position's early-warning indicators — planned from the year's booked
//! movements, posted in one transaction with its record. A year closes once.
//!
//! Per fund and unit, from the transfers its business caused:
//! - income: contributions to the pool and subsidies dated in the year;
//! - spending: the settlement layers, less their reversals, dated in the year;
//! - surplus brought forward: what the unit's business added to the fund's net assets
//!   (its outside-world accounts) before the year, opening balances included.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{Fen, RatioBp, RegionCode, Rounding};
use yibao_ledger::{
    AccountKind, DEFAULT_LEVY_RATIO_BP, Fund, FundPosition, FundScheme, FundYear, LevyBase, LevyInputs, Reason, Targets, Transfer,
    WarningThresholds, WaterfallInputs, batch_of, indicators, plan_levy, plan_waterfall, target_score_bp,
};

use crate::StoreError;
use crate::books::{Entry, refused};
use crate::fund::Movement;

/// A unit's targets for the year and what it achieved (R-ENR-6), as the bureau set and
/// counted them; they decide how city and county finance share a deficit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitTargets {
    pub unit: RegionCode,
    pub enrolment_target: u32,
    pub enrolled: u32,
    pub collection_target_fen: i64,
    pub collected_fen: i64,
}

/// How a year is closed. The defaults are ZZ-POOL's: a 10% levy; a county that met its
/// targets shares a deficit half and half with the city.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YearEndOptions {
    pub levy_ratio_bp: RatioBp,
    pub city_share_when_met_bp: RatioBp,
    pub rounding: Rounding,
    /// Units without targets count as having met them.
    pub targets: Vec<UnitTargets>,
    pub thresholds: WarningThresholds,
}

impl Default for YearEndOptions {
    fn default() -> YearEndOptions {
        YearEndOptions {
            levy_ratio_bp: DEFAULT_LEVY_RATIO_BP,
            city_share_when_met_bp: RatioBp::new(5_000),
            rounding: Rounding::HalfUp,
            targets: Vec::new(),
            thresholds: WarningThresholds::COMMON,
        }
    }
}

fn policy_failed(e: yibao_policy::LookupError) -> StoreError {
    StoreError::Invalid(format!("the policy in force: {e}"))
}

/// A whole-number parameter the pack may leave out: `None` when it has no entry for the
/// region; an entry that does not cover `on` is an error (a gap in the pack).
pub(crate) fn optional_count(
    policy: &yibao_policy::Policy,
    key: yibao_policy::ParamKey,
    region: RegionCode,
    on: Date,
) -> Result<Option<u32>, StoreError> {
    let query = yibao_policy::Query { region: Some(region), ..yibao_policy::Query::default() };
    if policy.entry_for(key, &query).is_none() {
        return Ok(None);
    }
    policy.count(key, &query, on).map(|found| Some(found.value)).map_err(policy_failed)
}

fn optional_ratio(
    policy: &yibao_policy::Policy,
    key: yibao_policy::ParamKey,
    region: RegionCode,
    on: Date,
) -> Result<Option<RatioBp>, StoreError> {
    let query = yibao_policy::Query { region: Some(region), ..yibao_policy::Query::default() };
    if policy.entry_for(key, &query).is_none() {
        return Ok(None);
    }
    policy.ratio(key, &query, on).map(|found| Some(found.value)).map_err(policy_failed)
}

impl YearEndOptions {
    /// The options the policy in force for `city` on `on` sets (`fund.adjustment_levy_ratio`,
    /// `fund.deficit_city_share`, `fund.warning.*`), the defaults where it is silent, and
    /// the pack's rounding.
    pub fn from_policy(policy: &yibao_policy::Policy, city: RegionCode, on: Date) -> Result<YearEndOptions, StoreError> {
        use yibao_policy::ParamKey as K;
        let defaults = YearEndOptions::default();
        Ok(YearEndOptions {
            levy_ratio_bp: optional_ratio(policy, K::FundAdjustmentLevyRatio, city, on)?.unwrap_or(defaults.levy_ratio_bp),
            city_share_when_met_bp: optional_ratio(policy, K::FundDeficitCityShare, city, on)?.unwrap_or(defaults.city_share_when_met_bp),
            rounding: policy.rounding,
            targets: Vec::new(),
            thresholds: thresholds_from_policy(policy, city, on)?,
        })
    }
}

/// The early-warning thresholds the policy in force for `city` on `on` sets
/// (`fund.warning.*`), the common ones where it is silent.
pub fn thresholds_from_policy(policy: &yibao_policy::Policy, city: RegionCode, on: Date) -> Result<WarningThresholds, StoreError> {
    use yibao_policy::ParamKey as K;
    let months = |key| optional_count(policy, key, city, on).map(|m| m.map(|m| i64::from(m) * 100));
    let rate = |key| optional_ratio(policy, key, city, on).map(|r| r.map(|r| i64::from(r.get())));
    let common = WarningThresholds::COMMON;
    Ok(WarningThresholds {
        surplus_rate_min_bp: rate(K::FundWarningSurplusRateMin)?.or(common.surplus_rate_min_bp),
        surplus_rate_max_bp: rate(K::FundWarningSurplusRateMax)?.or(common.surplus_rate_max_bp),
        months_min_centi: months(K::FundWarningMonthsMin)?.or(common.months_min_centi),
        months_max_centi: months(K::FundWarningMonthsMax)?.or(common.months_max_centi),
    })
}

/// What a backend reads for a close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YearEndInputs {
    pub city: RegionCode,
    pub year: i32,
    /// Movements dated before the year.
    pub before: Vec<Movement>,
    /// Movements dated in the year.
    pub during: Vec<Movement>,
    /// The adjustment fund's special account before the levy.
    pub adjustment_balance_fen: Fen,
    pub options: YearEndOptions,
}

/// The record of a close, kept with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearEndRecord {
    pub city: String,
    pub year: i32,
    pub value_date: String,
    pub levy_ratio_bp: u32,
    /// The plan's other inputs, kept so the close can be planned again from its record.
    #[serde(default)]
    pub city_share_when_met_bp: u32,
    #[serde(default)]
    pub rounding: Rounding,
    /// The adjustment fund's special account before the levy.
    #[serde(default)]
    pub adjustment_balance_fen: i64,
    pub levy: Vec<LevyOut>,
    pub levy_total_fen: i64,
    pub adjustment_used_fen: i64,
    pub positions: Vec<PositionOut>,
    pub transfers: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevyOut {
    pub fund: String,
    pub contributor: String,
    pub base_fen: i64,
    pub levy_fen: i64,
    pub note: String,
}

/// One fund of one unit at the year end: its year, how a deficit was covered, its
/// indicators and warnings (R-FND-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionOut {
    pub fund: String,
    pub unit: String,
    pub income_fen: i64,
    pub spending_fen: i64,
    pub surplus_brought_forward_fen: i64,
    /// How far the unit met its targets, which splits a gap between city and county finance.
    #[serde(default)]
    pub target_score_bp: u32,
    pub deficit_fen: i64,
    pub from_surplus_fen: i64,
    pub from_adjustment_fen: i64,
    pub city_finance_fen: i64,
    pub county_finance_fen: i64,
    pub surplus_rate_bp: Option<i64>,
    pub months_covered_centi: Option<i64>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

/// What a movement adds to its fund's income and spending of the period, in fen:
/// contributions to the pool and subsidies are income, less what was later moved from it
/// to a personal account; settlement layers are spending, and
/// their reversals take it back; a payment year's clearing (issue 15) is spending when it
/// owes an institution more and takes spending back when it recovers, as a review's
/// deduction does (and its withdrawal on appeal gives back). The supplementary premium
/// paid an underwriting insurer is spending, and what it pays back for the layer takes
/// spending back (what the fund gives back of it is spending again). Nothing else
/// (pooling, payments, adjustments) is either.
#[must_use]
pub fn income_and_spending(m: &Movement) -> (i64, i64) {
    let amount = m.amount_fen.get();
    match (m.reason, m.debit_kind, m.credit_kind) {
        (Reason::Contribution | Reason::Subsidy, _, _) => (amount, 0),
        // An account's share paid earlier and booked as pooled income, moved to the account
        // when the period was completed: it leaves pooled income.
        (Reason::PersonalAccountCredit, AccountKind::External, _) => (-amount, 0),
        (Reason::Settlement(_), _, _) | (Reason::PaymentClearing, AccountKind::External, AccountKind::Payable) => (0, amount),
        (Reason::PaymentClearing | Reason::ReviewDeduction, AccountKind::Payable, AccountKind::External) => (0, -amount),
        (Reason::Reversal, AccountKind::Payable, AccountKind::External) => (0, -amount),
        // A review's deduction withdrawn on appeal (issue 18): the spending it took back returns.
        (Reason::Reversal, AccountKind::External, AccountKind::Payable) => (0, amount),
        // An underwriting insurer's premium, its recovery, and a recovery given back (issue 18).
        (Reason::SupplementaryPremium, _, _) | (Reason::SupplementaryRecovery, AccountKind::External, AccountKind::FiscalSpecial) => {
            (0, amount)
        }
        (Reason::SupplementaryRecovery, AccountKind::FiscalSpecial, AccountKind::External) => (0, -amount),
        _ => (0, 0),
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Year {
    income: i64,
    spending: i64,
    brought_forward: i64,
}

/// Adds movements to each fund and unit's year: those dated before the year to the surplus
/// brought forward (what came in from outside less what went out), those in it to income
/// and spending. The adjustment fund has no year of its own.
fn add_movements(years: &mut BTreeMap<(FundScheme, RegionCode), Year>, movements: &[Movement], before_the_year: bool) {
    for m in movements {
        let scheme = m.fund_scheme;
        if scheme == FundScheme::MunicipalAdjustment {
            continue;
        }
        let line = years.entry((scheme, m.unit)).or_default();
        if before_the_year {
            if m.credit_kind == AccountKind::External {
                line.brought_forward += m.amount_fen.get();
            }
            if m.debit_kind == AccountKind::External {
                line.brought_forward -= m.amount_fen.get();
            }
        } else {
            let (income, spending) = income_and_spending(m);
            line.income += income;
            line.spending += spending;
        }
    }
}

/// One fund of one unit through the end of a month: its year so far and the early-warning
/// indicators on it (R-FND-4; issue 13: month by month, not only at the close).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthIndicators {
    pub month: u8,
    pub fund: String,
    pub unit: String,
    /// The year's income and spending through the month's end.
    pub income_fen: i64,
    pub spending_fen: i64,
    /// Brought forward plus the year's income less its spending, at the month's end.
    pub accumulated_surplus_fen: i64,
    pub surplus_rate_bp: Option<i64>,
    pub months_covered_centi: Option<i64>,
    pub warnings: Vec<String>,
}

/// The indicators of every fund and unit at the end of each month of `year` for which
/// `months` holds the month's movements (January first, completed months only: a month
/// counts whole in the average spending), from the movements dated before the year: what
/// the close computes at month 12, computed at every month's end.
pub fn monthly_indicators(
    city: RegionCode,
    year: i32,
    before: &[Movement],
    months: &[Vec<Movement>],
    thresholds: &WarningThresholds,
    rounding: Rounding,
) -> Result<Vec<MonthIndicators>, StoreError> {
    assert!(months.len() <= 12, "a year has twelve months");
    let mut years: BTreeMap<(FundScheme, RegionCode), Year> = BTreeMap::new();
    add_movements(&mut years, before, true);
    let mut out = Vec::new();
    for (index, movements) in months.iter().enumerate() {
        let month = u8::try_from(index + 1).expect("at most 12");
        add_movements(&mut years, movements, false);
        for (&(scheme, unit), y) in &years {
            let accumulated = y.brought_forward.max(0) + y.income - y.spending.max(0);
            let fen = |value: i64| Fen::checked(value).ok_or_else(|| StoreError::Invalid(format!("{value} fen is beyond one amount")));
            let view = FundYear {
                fund: Fund::new(scheme, city),
                year,
                months_elapsed: month,
                // Months into the year, an account share paid the year before and moved out
                // of pooled income can leave income below zero: no income, no rate (the
                // close, on a whole year, does not meet it).
                income_fen: fen(y.income.max(0))?,
                spending_fen: fen(y.spending.max(0))?,
                accumulated_surplus_fen: fen(accumulated.max(0))?,
            };
            let found = indicators(&view, thresholds, rounding).map_err(refused)?;
            out.push(MonthIndicators {
                month,
                fund: view.fund.to_string(),
                unit: unit.to_string(),
                income_fen: y.income,
                spending_fen: y.spending.max(0),
                accumulated_surplus_fen: accumulated.max(0),
                surplus_rate_bp: found.surplus_rate_bp,
                months_covered_centi: found.months_covered_centi,
                warnings: found.warnings.iter().map(|(w, note)| format!("[{}] {note}", w.code())).collect(),
            });
        }
    }
    Ok(out)
}

/// The first and last day of `year`.
pub fn year_bounds(year: i32) -> Result<(Date, Date), StoreError> {
    let day = |month, day| Date::from_calendar_date(year, month, day).map_err(|e| StoreError::Invalid(format!("year {year}: {e}")));
    Ok((day(time::Month::January, 1)?, day(time::Month::December, 31)?))
}

/// Plans the close: the record and the entries to post, all or nothing.
pub fn plan_year_end(inputs: &YearEndInputs) -> Result<(YearEndRecord, Vec<Entry>), StoreError> {
    let city = inputs.city;
    let year = inputs.year;
    let (_, value_date) = year_bounds(year)?;
    let options = &inputs.options;
    let mut years: BTreeMap<(FundScheme, RegionCode), Year> = BTreeMap::new();
    add_movements(&mut years, &inputs.before, true);
    add_movements(&mut years, &inputs.during, false);
    let fen = |value: i64, what: &str| {
        Fen::checked(value).ok_or_else(|| StoreError::Invalid(format!("{what} of {value} fen is beyond one amount")))
    };
    let bases = years
        .iter()
        .filter(|((scheme, _), _)| scheme.is_levied())
        .map(|(&(scheme, unit), y)| {
            Ok(LevyBase {
                contributor: unit,
                fund: Fund::new(scheme, city),
                collected_pooled_income_fen: fen(y.income, "a year's income")?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let score_of = |unit: RegionCode| {
        options.targets.iter().find(|t| t.unit == unit).map_or(RatioBp::FULL, |t| {
            target_score_bp(
                &Targets {
                    enrolment_target: t.enrolment_target,
                    enrolled: t.enrolled,
                    collection_target_fen: Fen::checked(t.collection_target_fen).unwrap_or(Fen::ZERO),
                    collected_fen: Fen::checked(t.collected_fen).unwrap_or(Fen::ZERO),
                },
                options.rounding,
            )
        })
    };
    let positions = years
        .iter()
        .map(|(&(scheme, unit), y)| {
            Ok(FundPosition {
                fund: Fund::new(scheme, city),
                unit,
                income_fen: fen(y.income, "a year's income")?,
                spending_fen: fen(y.spending.max(0), "a year's spending")?,
                surplus_brought_forward_fen: fen(y.brought_forward.max(0), "a surplus")?,
                target_score_bp: score_of(unit),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    plan_close(&CloseInputs {
        city,
        year,
        value_date,
        levy_ratio_bp: options.levy_ratio_bp,
        city_share_when_met_bp: options.city_share_when_met_bp,
        rounding: options.rounding,
        thresholds: options.thresholds,
        adjustment_balance_fen: inputs.adjustment_balance_fen,
        bases,
        positions,
    })
}

/// What the levy and the waterfall are planned from, once the year's movements are summed:
/// everything here is kept in the close's record, so the book check can plan the close
/// again from its record alone ([`entries_of_close`]).
struct CloseInputs {
    city: RegionCode,
    year: i32,
    value_date: Date,
    levy_ratio_bp: RatioBp,
    city_share_when_met_bp: RatioBp,
    rounding: Rounding,
    thresholds: WarningThresholds,
    adjustment_balance_fen: Fen,
    bases: Vec<LevyBase>,
    positions: Vec<FundPosition>,
}

/// The levy on each base, then the waterfall over every position, then each position's
/// indicators: the close's record and the entries it posts.
fn plan_close(inputs: &CloseInputs) -> Result<(YearEndRecord, Vec<Entry>), StoreError> {
    let CloseInputs { city, year, value_date, rounding, .. } = *inputs;
    let levy =
        plan_levy(&LevyInputs { city, year, ratio_bp: inputs.levy_ratio_bp, rounding, value_date, bases: inputs.bases.clone() }, |_| false)
            .map_err(refused)?;
    let positions = &inputs.positions;
    let waterfall = plan_waterfall(
        &WaterfallInputs {
            city,
            year,
            value_date,
            rounding,
            adjustment_available_fen: inputs.adjustment_balance_fen + levy.total_fen,
            city_share_when_met_bp: inputs.city_share_when_met_bp,
            positions: positions.clone(),
        },
        |_| false,
    )
    .map_err(refused)?;

    let mut out = Vec::new();
    for position in positions {
        let line = waterfall.lines.iter().find(|l| l.fund == position.fund && l.unit == position.unit);
        let zero = Fen::ZERO;
        let accumulated = position.surplus_brought_forward_fen + position.income_fen - position.spending_fen;
        let year_view = FundYear {
            fund: position.fund,
            year,
            months_elapsed: 12,
            income_fen: position.income_fen,
            spending_fen: position.spending_fen,
            accumulated_surplus_fen: accumulated.max(zero),
        };
        let found = indicators(&year_view, &inputs.thresholds, rounding).map_err(refused)?;
        out.push(PositionOut {
            fund: position.fund.to_string(),
            unit: position.unit.to_string(),
            income_fen: position.income_fen.get(),
            spending_fen: position.spending_fen.get(),
            surplus_brought_forward_fen: position.surplus_brought_forward_fen.get(),
            target_score_bp: position.target_score_bp.get(),
            deficit_fen: line.map_or(zero, |l| l.deficit_fen).get(),
            from_surplus_fen: line.map_or(zero, |l| l.from_surplus_fen).get(),
            from_adjustment_fen: line.map_or(zero, |l| l.from_adjustment_fen).get(),
            city_finance_fen: line.map_or(zero, |l| l.city_finance_fen).get(),
            county_finance_fen: line.map_or(zero, |l| l.county_finance_fen).get(),
            surplus_rate_bp: found.surplus_rate_bp,
            months_covered_centi: found.months_covered_centi,
            warnings: found.warnings.iter().map(|(w, note)| format!("[{}] {note}", w.code())).collect(),
            notes: line.map(|l| l.notes.iter().map(ToString::to_string).collect()).unwrap_or_default(),
        });
    }
    let mut entries = Vec::new();
    for transfer in batch_of(&levy.transfers).into_iter().chain(batch_of(&waterfall.transfers)) {
        entries.push(Entry { unit: crate::pooling::unit_of_step(&transfer, city), transfer });
    }
    let record = YearEndRecord {
        city: city.to_string(),
        year,
        value_date: crate::books::date_text(value_date),
        levy_ratio_bp: inputs.levy_ratio_bp.get(),
        city_share_when_met_bp: inputs.city_share_when_met_bp.get(),
        rounding,
        adjustment_balance_fen: inputs.adjustment_balance_fen.get(),
        levy: levy
            .lines
            .iter()
            .map(|l| LevyOut {
                fund: l.fund.to_string(),
                contributor: l.contributor.to_string(),
                base_fen: l.base_fen.get(),
                levy_fen: l.levy_fen.get(),
                note: l.note.to_string(),
            })
            .collect(),
        levy_total_fen: levy.total_fen.get(),
        adjustment_used_fen: waterfall.adjustment_used_fen.get(),
        positions: out,
        transfers: entries.len(),
    };
    Ok((record, entries))
}

/// What a stored close posted, planned again from its record (its levy bases, positions,
/// ratios, rounding and the adjustment fund's balance before the levy), with every amount
/// of the record the plan does not give again: the book check compares both with the books
/// and the record (`records-match-books`).
pub fn entries_of_close(record: &YearEndRecord) -> Result<(Vec<Entry>, Vec<String>), StoreError> {
    let bad = |what: &str| StoreError::Backend(format!("the close of {} is unreadable: {what}", record.year));
    let city = RegionCode::parse(&record.city).map_err(|_| bad("city"))?;
    // The record's figures are sums (a year's income, a fund's balance), read within the
    // books' limit for sums as the close computed them, not one transfer's.
    let fen = |value: i64| Fen::checked_total(value).ok_or_else(|| bad("an amount"));
    let region = |text: &str| RegionCode::parse(text).map_err(|_| bad("a unit"));
    let bases = record
        .levy
        .iter()
        .map(|l| {
            Ok(LevyBase {
                contributor: region(&l.contributor)?,
                fund: fund_of(&l.fund).ok_or_else(|| bad("a fund"))?,
                collected_pooled_income_fen: fen(l.base_fen)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let positions = record
        .positions
        .iter()
        .map(|p| {
            Ok(FundPosition {
                fund: fund_of(&p.fund).ok_or_else(|| bad("a fund"))?,
                unit: region(&p.unit)?,
                income_fen: fen(p.income_fen)?,
                spending_fen: fen(p.spending_fen)?,
                surplus_brought_forward_fen: fen(p.surplus_brought_forward_fen)?,
                target_score_bp: RatioBp::new(p.target_score_bp),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let (again, entries) = plan_close(&CloseInputs {
        city,
        year: record.year,
        value_date: crate::books::date_of(&record.value_date)?,
        levy_ratio_bp: RatioBp::new(record.levy_ratio_bp),
        city_share_when_met_bp: RatioBp::new(record.city_share_when_met_bp),
        rounding: record.rounding,
        // The indicators are not money: they are not compared.
        thresholds: WarningThresholds::COMMON,
        adjustment_balance_fen: fen(record.adjustment_balance_fen)?,
        bases,
        positions,
    })?;
    let mut differences = Vec::new();
    let mut differ = |what: String, kept: i64, planned: i64| {
        if kept != planned {
            differences.push(format!("its record says {what} is {}, but its inputs give {}", Fen::new(kept), Fen::new(planned)));
        }
    };
    for (kept, planned) in record.levy.iter().zip(&again.levy) {
        differ(format!("the levy on {} in {}", kept.contributor, kept.fund), kept.levy_fen, planned.levy_fen);
    }
    differ("the levy in all".to_owned(), record.levy_total_fen, again.levy_total_fen);
    differ("what the adjustment fund covered".to_owned(), record.adjustment_used_fen, again.adjustment_used_fen);
    for (kept, planned) in record.positions.iter().zip(&again.positions) {
        let of = |field: &str| format!("{field} of {} in {}", kept.unit, kept.fund);
        differ(of("the deficit"), kept.deficit_fen, planned.deficit_fen);
        differ(of("the surplus used"), kept.from_surplus_fen, planned.from_surplus_fen);
        differ(of("the adjustment fund's cover"), kept.from_adjustment_fen, planned.from_adjustment_fen);
        differ(of("city finance's share"), kept.city_finance_fen, planned.city_finance_fen);
        differ(of("county finance's share"), kept.county_finance_fen, planned.county_finance_fen);
    }
    Ok((entries, differences))
}

/// A fund as records name it, `employee@419900`.
pub(crate) fn fund_of(text: &str) -> Option<Fund> {
    let (scheme, region) = text.split_once('@')?;
    Some(Fund::new(FundScheme::parse(scheme)?, RegionCode::parse(region).ok()?))
}

/// One fund's special account over a period: its balance the day before, and its net
/// change on each day that had one.
pub type SpecialHistory = (FundScheme, i64, Vec<(Date, i64)>);

/// Interest credited to each fund separately (分别计息, R-SCH-2): on the daily balance of
/// its fiscal special account over a period, at the annual rate in force, actual days over
/// 365, rounded once per fund by the books' rounding rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterestInputs {
    pub city: RegionCode,
    pub from: Date,
    pub to: Date,
    pub annual_rate_bp: RatioBp,
    pub rounding: Rounding,
    /// Per fund: the special account's balance at the end of the day before `from`, and
    /// its net change on each day of the period that had one.
    pub funds: Vec<SpecialHistory>,
    /// The periods interest was credited for already (their record ids, `from..to`).
    pub credited: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterestLine {
    pub fund: String,
    /// Σ over the days of the balance at each day's end, in fen-days.
    pub balance_days_fen: i128,
    pub interest_fen: i64,
    pub note: String,
}

/// Per fund: the special account's balance before `from` and its net change on each day
/// of `from..=to`, from its net change per fund and day as a backend sums it.
#[must_use]
pub fn special_history(daily: &[(FundScheme, Date, i64)], from: Date) -> Vec<SpecialHistory> {
    let mut funds: BTreeMap<FundScheme, (i64, Vec<(Date, i64)>)> = BTreeMap::new();
    for &(scheme, day, change) in daily {
        let line = funds.entry(scheme).or_default();
        if day < from { line.0 += change } else { line.1.push((day, change)) }
    }
    funds.into_iter().map(|(scheme, (opening, changes))| (scheme, opening, changes)).collect()
}

/// The record id of an interest credit: its period, `2026-01-01..2026-12-31`.
#[must_use]
pub fn interest_period(from: Date, to: Date) -> String {
    format!("{}..{}", crate::books::date_text(from), crate::books::date_text(to))
}

/// Days in the period, the first and last included.
fn days_between(from: Date, to: Date) -> i64 {
    (to - from).whole_days() + 1
}

/// Plans the interest of a period: one transfer per fund with interest, from the outside
/// world (the bank) into the special account. Its id names the fund and the period, so
/// crediting the same period again is a replay, and a different amount for it is refused.
pub fn plan_interest(inputs: &InterestInputs) -> Result<(Vec<InterestLine>, Vec<Entry>), StoreError> {
    if inputs.to < inputs.from {
        return Err(StoreError::Invalid("the period ends before it starts".into()));
    }
    if days_between(inputs.from, inputs.to) > 366 {
        return Err(StoreError::Invalid("interest is credited for at most a year at a time".into()));
    }
    let city = inputs.city;
    let period = interest_period(inputs.from, inputs.to);
    // A day earns interest once: a period overlapping one credited before is refused (the
    // same period again is a replay, and posts nothing).
    for earlier in inputs.credited.iter().filter(|p| **p != period) {
        let bounds = earlier.split_once("..").and_then(|(a, b)| Some((crate::books::date_of(a).ok()?, crate::books::date_of(b).ok()?)));
        let Some((from, to)) = bounds else {
            return Err(StoreError::Backend(format!("stored interest period unreadable: {earlier}")));
        };
        if from <= inputs.to && inputs.from <= to {
            return Err(StoreError::Refused {
                code: "interest.overlap",
                message: format!("interest was credited for {earlier}, which overlaps {period}: a day earns interest once"),
            });
        }
    }
    let mut lines = Vec::new();
    let mut entries = Vec::new();
    for (scheme, opening, changes) in &inputs.funds {
        let mut balance = i128::from(*opening);
        let mut day = inputs.from;
        let mut balance_days: i128 = 0;
        let mut changes: Vec<&(Date, i64)> = changes.iter().filter(|(d, _)| *d >= inputs.from && *d <= inputs.to).collect();
        changes.sort();
        let mut next = changes.into_iter().peekable();
        loop {
            while let Some((_, change)) = next.next_if(|(d, _)| *d == day) {
                balance += i128::from(*change);
            }
            balance_days += balance.max(0);
            if day == inputs.to {
                break;
            }
            day = day.next_day().ok_or_else(|| StoreError::Invalid("the period runs past the calendar".into()))?;
        }
        let interest = inputs.rounding.round_div(balance_days * i128::from(inputs.annual_rate_bp.get()), 10_000 * 365);
        let interest_fen =
            Fen::checked(interest).ok_or_else(|| StoreError::Invalid(format!("interest of {interest} fen is beyond one amount")))?;
        let fund = Fund::new(*scheme, city);
        let rate = f64::from(inputs.annual_rate_bp.get()) / 100.0;
        let note = format!(
            "[{}] {period} 利息：财政专户日积数 {} 元·日 × 年利率 {rate:.2}% ÷ 365 = {} 元 / interest: {} yuan-days × {rate:.2}% a year ÷ 365 = {} yuan",
            scheme.name_zh(),
            Fen::checked_total(i64::try_from(balance_days / 100).unwrap_or(i64::MAX)).map_or_else(|| "-".into(), |f| f.to_string()),
            interest_fen,
            Fen::checked_total(i64::try_from(balance_days / 100).unwrap_or(i64::MAX)).map_or_else(|| "-".into(), |f| f.to_string()),
            interest_fen
        );
        if interest > 0 {
            entries.push(interest_entry(fund, &period, inputs.to, interest_fen)?);
        }
        lines.push(InterestLine { fund: fund.to_string(), balance_days_fen: balance_days, interest_fen: interest, note });
    }
    Ok((lines, entries))
}

/// The one transfer crediting a fund's interest for a period: from the outside world (the
/// bank) into its special account, dated the period's last day. Its id names the fund and
/// the period, so crediting the same period again is a replay.
fn interest_entry(fund: Fund, period: &str, to: Date, interest_fen: Fen) -> Result<Entry, StoreError> {
    use yibao_ledger::{AccountKey, BusinessRef, RecordKind, TransferId};
    let city = fund.region;
    let cause = BusinessRef::new(RecordKind::InterestCredit, period).map_err(refused)?;
    let id = TransferId::parse(&format!("interest/{fund}/{period}")).map_err(refused)?;
    Ok(Entry {
        unit: city,
        transfer: Transfer::new(
            id,
            AccountKey::special(fund),
            AccountKey::new(fund, yibao_ledger::Holder::Region(city), AccountKind::External),
            interest_fen,
            Reason::Interest,
            cause,
            to,
        ),
    })
}

/// What an interest credit posted, from the lines its audit entry recorded for `period`
/// (`from..to`): one transfer per fund with interest.
pub fn entries_of_interest(period: &str, lines: &[InterestLine]) -> Result<Vec<Entry>, StoreError> {
    let bad = |what: &str| StoreError::Backend(format!("the interest credit for {period} is unreadable: {what}"));
    let to = period.split_once("..").map(|(_, to)| crate::books::date_of(to)).ok_or_else(|| bad("period"))??;
    let mut entries = Vec::new();
    for line in lines.iter().filter(|l| l.interest_fen > 0) {
        let fund = fund_of(&line.fund).ok_or_else(|| bad("fund"))?;
        entries.push(interest_entry(fund, period, to, Fen::checked(line.interest_fen).ok_or_else(|| bad("amount"))?)?);
    }
    Ok(entries)
}

/// The adjustment fund's special account as of the close's last day: its posted totals
/// less what was posted to it dated after that day (interest of a later period, a later
/// year's business), so that a close run late reads the year it closes (issue 17).
#[must_use]
pub fn balance_as_of(state: Option<yibao_ledger::AccountState>, later_debits_fen: Fen, later_credits_fen: Fen) -> Fen {
    match state {
        Some(mut state) => {
            state.debits_posted_fen -= later_debits_fen;
            state.credits_posted_fen -= later_credits_fen;
            state.balance_fen()
        }
        None => Fen::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_late_close_reads_the_adjustment_fund_as_of_its_year_end() {
        let city = RegionCode::parse("419900").unwrap();
        let key = yibao_ledger::AccountKey::special(yibao_ledger::Fund::adjustment(city));
        let mut state = yibao_ledger::AccountState::new(crate::books::open_account(key).unwrap());
        // 500.00 levied in, 120.00 used by 31 December; then 2.30 of next January's interest.
        state.debits_posted_fen = Fen::new(50_000 + 230);
        state.credits_posted_fen = Fen::new(12_000);
        assert_eq!(state.balance_fen(), Fen::new(38_230));
        assert_eq!(balance_as_of(Some(state), Fen::new(230), Fen::ZERO), Fen::new(38_000));
        assert_eq!(balance_as_of(Some(state), Fen::ZERO, Fen::ZERO), Fen::new(38_230), "nothing later: the balance as posted");
        assert_eq!(balance_as_of(None, Fen::ZERO, Fen::ZERO), Fen::ZERO, "no account yet");
    }

    #[test]
    fn the_policy_in_force_sets_the_close_and_the_sweep_day() {
        let policy = yibao_policy::Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).unwrap();
        let city = RegionCode::parse("419900").unwrap();
        let options = YearEndOptions::from_policy(&policy, city, date!(2026 - 12 - 31)).unwrap();
        assert_eq!((options.levy_ratio_bp.get(), options.city_share_when_met_bp.get()), (1_000, 5_000));
        assert_eq!(
            options.thresholds,
            WarningThresholds {
                surplus_rate_min_bp: Some(0),
                surplus_rate_max_bp: None,
                months_min_centi: Some(600),
                months_max_centi: Some(900)
            }
        );
        let month = yibao_ledger::YearMonth::parse("2026-02").unwrap();
        assert_eq!(crate::pooling::sweep_day(&policy, city, month).unwrap(), Some(25));
        // A pack without fund keys: the defaults.
        let silent = yibao_policy::Policy::from_toml("cq-2009.toml", include_str!("../../../policies/cq-2009.toml")).unwrap();
        let chongqing = RegionCode::parse("500100").unwrap();
        assert_eq!(YearEndOptions::from_policy(&silent, chongqing, date!(2026 - 12 - 31)).unwrap().levy_ratio_bp, DEFAULT_LEVY_RATIO_BP);
        assert_eq!(crate::pooling::sweep_day(&silent, chongqing, month).unwrap(), None);
    }

    #[test]
    fn interest_accrues_on_each_days_closing_balance() {
        // 10,000.00 for the first 10 days of January, 30,000.00 for the other 21 (a deposit
        // of 20,000.00 on the 11th): 100,000.00 + 630,000.00 = 730,000.00 yuan-days; at
        // 1.50% a year ÷ 365: 30.00 yuan exactly.
        let inputs = InterestInputs {
            city: RegionCode::parse("419900").unwrap(),
            from: date!(2026 - 01 - 01),
            to: date!(2026 - 01 - 31),
            annual_rate_bp: RatioBp::new(150),
            rounding: Rounding::HalfUp,
            funds: vec![(FundScheme::Resident, 1_000_000, vec![(date!(2026 - 01 - 11), 2_000_000)]), (FundScheme::Maternity, 0, vec![])],
            credited: Vec::new(),
        };
        let (lines, entries) = plan_interest(&inputs).unwrap();
        assert_eq!(lines[0].balance_days_fen, 73_000_000);
        assert_eq!(lines[0].interest_fen, 3_000);
        assert_eq!(lines[1].interest_fen, 0);
        assert_eq!(entries.len(), 1, "no transfer for a fund without interest");
        assert_eq!(entries[0].transfer.id.as_str(), "interest/resident@419900/2026-01-01..2026-01-31");
        let backwards = InterestInputs { to: date!(2025 - 12 - 31), ..inputs.clone() };
        assert!(plan_interest(&backwards).is_err());
        // Credited for January already: January again is a replay; mid-January on is refused.
        let again = InterestInputs { credited: vec!["2026-01-01..2026-01-31".into()], ..inputs.clone() };
        assert!(plan_interest(&again).is_ok());
        let overlapping = InterestInputs { from: date!(2026 - 01 - 15), to: date!(2026 - 02 - 15), ..again };
        assert!(matches!(plan_interest(&overlapping), Err(StoreError::Refused { code: "interest.overlap", .. })));
        let february = InterestInputs {
            from: date!(2026 - 02 - 01),
            to: date!(2026 - 02 - 28),
            credited: vec!["2026-01-01..2026-01-31".into()],
            ..inputs
        };
        assert!(plan_interest(&february).is_ok(), "the next period is not an overlap");
    }

    #[test]
    fn money_moved_from_pooled_income_to_an_account_leaves_income() {
        let movement = |reason: &str, debit_kind: &str, credit_kind: &str| {
            Movement::from_columns("employee", "419921", reason, debit_kind, credit_kind, 1, 16_000).expect("a movement")
        };
        assert_eq!(income_and_spending(&movement("contribution", "income", "external")), (16_000, 0));
        assert_eq!(income_and_spending(&movement("personal-account-credit", "income", "personal-account")), (0, 0));
        assert_eq!(income_and_spending(&movement("personal-account-credit", "external", "personal-account")), (-16_000, 0));
        assert_eq!(income_and_spending(&movement("settlement.pooled", "external", "payable")), (0, 16_000));
        assert_eq!(income_and_spending(&movement("reversal", "payable", "external")), (0, -16_000));
        assert_eq!(income_and_spending(&movement("payment-clearing", "external", "payable")), (0, 16_000));
        assert_eq!(income_and_spending(&movement("payment-clearing", "payable", "external")), (0, -16_000));
        // An underwriting insurer's premium is spending, its recovery takes spending back,
        // and a recovery given back is spending again.
        assert_eq!(income_and_spending(&movement("supplementary-premium", "external", "fiscal-special")), (0, 16_000));
        assert_eq!(income_and_spending(&movement("supplementary-recovery", "fiscal-special", "external")), (0, -16_000));
        assert_eq!(income_and_spending(&movement("supplementary-recovery", "external", "fiscal-special")), (0, 16_000));
    }

    /// Issue 13: the indicators at each month's end are the close's, on the year so far.
    #[test]
    fn indicators_month_by_month() {
        let movement = |reason: &str, debit_kind: &str, credit_kind: &str, fen: i64| {
            Movement::from_columns("resident", "419921", reason, debit_kind, credit_kind, 1, fen).expect("a movement")
        };
        let before = [movement("contribution", "income", "external", 1_200_000)];
        let january =
            vec![movement("contribution", "income", "external", 600_000), movement("settlement.pooled", "external", "payable", 300_000)];
        let february = vec![movement("settlement.pooled", "external", "payable", 300_000)];
        let city = RegionCode::parse("419900").expect("city");
        let rows = monthly_indicators(city, 2026, &before, &[january, february], &WarningThresholds::COMMON, Rounding::HalfUp)
            .expect("indicators");
        let figures: Vec<_> = rows
            .iter()
            .map(|r| (r.month, r.income_fen, r.spending_fen, r.accumulated_surplus_fen, r.surplus_rate_bp, r.months_covered_centi))
            .collect();
        // January: 12,000 brought forward + 6,000 − 3,000 = 15,000, a 50% surplus rate, 15,000 ÷
        // 3,000 a month = 5.00 months. February: 12,000 left, 0%, 12,000 ÷ (6,000 ÷ 2) = 4.00.
        assert_eq!(
            figures,
            [(1, 600_000, 300_000, 1_500_000, Some(5_000), Some(500)), (2, 600_000, 600_000, 1_200_000, Some(0), Some(400))]
        );
        assert!(rows.iter().all(|r| r.unit == "419921" && r.fund == "resident@419900"), "{rows:?}");
        assert!(rows.iter().all(|r| r.warnings.len() == 1 && r.warnings[0].contains("months")), "below six months: {rows:?}");
    }
}
