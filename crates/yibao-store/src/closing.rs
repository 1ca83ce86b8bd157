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
    AccountKind, DEFAULT_LEVY_RATIO_BP, Fund, FundPosition, FundScheme, FundYear, LevyBase, LevyInputs, Targets, Transfer,
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

#[derive(Clone, Copy, Debug, Default)]
struct Year {
    income: i64,
    spending: i64,
    brought_forward: i64,
}

/// The unit a planned step was made for, read from its id (`levy/{year}/{fund}/{unit}/…`,
/// `deficit/{year}/{fund}/{unit}/…`).
fn unit_of(transfer: &Transfer, city: RegionCode) -> RegionCode {
    transfer.id.as_str().split('/').nth(3).and_then(|code| RegionCode::parse(code).ok()).unwrap_or(city)
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
    let parse_unit = |m: &Movement| RegionCode::parse(&m.unit).map_err(|e| StoreError::Backend(format!("stored unit unreadable: {e}")));
    let mut years: BTreeMap<(FundScheme, RegionCode), Year> = BTreeMap::new();
    for (movements, is_before) in [(&inputs.before, true), (&inputs.during, false)] {
        for m in movements {
            let scheme = FundScheme::parse(&m.fund_scheme)
                .ok_or_else(|| StoreError::Backend(format!("stored fund unreadable: {}", m.fund_scheme)))?;
            if scheme == FundScheme::MunicipalAdjustment {
                continue;
            }
            let line = years.entry((scheme, parse_unit(m)?)).or_default();
            let external = AccountKind::External.as_str();
            if is_before {
                if m.credit_kind == external {
                    line.brought_forward += m.amount_fen;
                }
                if m.debit_kind == external {
                    line.brought_forward -= m.amount_fen;
                }
            } else if m.reason == "contribution" || m.reason == "subsidy" {
                line.income += m.amount_fen;
            } else if m.reason.starts_with("settlement.") {
                line.spending += m.amount_fen;
            } else if m.reason == "reversal" && m.debit_kind == AccountKind::Payable.as_str() && m.credit_kind == external {
                line.spending -= m.amount_fen;
            }
        }
    }
    let fen = |value: i64, what: &str| {
        Fen::checked(value).ok_or_else(|| StoreError::Invalid(format!("{what} of {value} fen is beyond one amount")))
    };

    let levy = plan_levy(
        &LevyInputs {
            city,
            year,
            ratio_bp: options.levy_ratio_bp,
            rounding: options.rounding,
            value_date,
            bases: years
                .iter()
                .filter(|((scheme, _), _)| scheme.is_levied())
                .map(|(&(scheme, unit), y)| {
                    Ok(LevyBase {
                        contributor: unit,
                        fund: Fund::new(scheme, city),
                        collected_pooled_income_fen: fen(y.income, "a year's income")?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        },
        |_| false,
    )
    .map_err(refused)?;

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
    let positions: Vec<FundPosition> = years
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
    let waterfall = plan_waterfall(
        &WaterfallInputs {
            city,
            year,
            value_date,
            rounding: options.rounding,
            adjustment_available_fen: inputs.adjustment_balance_fen + levy.total_fen,
            city_share_when_met_bp: options.city_share_when_met_bp,
            positions: positions.clone(),
        },
        |_| false,
    )
    .map_err(refused)?;

    let mut out = Vec::new();
    for position in &positions {
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
        let found = indicators(&year_view, &options.thresholds, options.rounding).map_err(refused)?;
        out.push(PositionOut {
            fund: position.fund.to_string(),
            unit: position.unit.to_string(),
            income_fen: position.income_fen.get(),
            spending_fen: position.spending_fen.get(),
            surplus_brought_forward_fen: position.surplus_brought_forward_fen.get(),
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
        entries.push(Entry { unit: unit_of(&transfer, city), transfer });
    }
    let record = YearEndRecord {
        city: city.to_string(),
        year,
        value_date: crate::books::date_text(value_date),
        levy_ratio_bp: options.levy_ratio_bp.get(),
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
