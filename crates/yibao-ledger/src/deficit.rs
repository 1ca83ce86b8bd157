//! The deficit waterfall (R-FND-5, ZZ-POOL §四(九)): "当各级医疗、生育保险基金出现当期透支
//! 时，首先使用各级累计结余基金弥补透支；使用各级累计结余基金后仍出现缺口时，使用市级调剂金
//! 弥补缺口；市级调剂金不足弥补时，根据各级扩面任务和基金收支计划完成情况，收支缺口由市、
//! 县(市、区)财政分别负担。"
//!
//! For each fund position (a scheme fund of the city itself or of a county) with a current
//! deficit (spending above income in the year):
//! 1. its own accumulated surplus brought forward covers what it can. No money moves: the
//!    surplus already stands in the special account that paid the spending;
//! 2. the adjustment fund covers the rest, shared pro rata to the gaps when it cannot
//!    cover them all (one adjustment pair per position);
//! 3. finance bears what remains. The city level's gap is city finance's. A county's is
//!    shared: city finance takes `city_share_when_met × score`, the county's finance the
//!    rest, where `score` is how far the county met its enrolment-expansion and collection
//!    targets (R-ENR-6, [`target_score_bp`]). A county that met its targets shares the gap
//!    at the configured split; one that met none bears it alone. ZZ-POOL names the
//!    criteria but no formula: this linear rule, and its parameter, are an assumption
//!    each city sets. Each finance share is booked as a receivable of the fund from that
//!    finance bureau; its payment is a later transfer from the receivable to the special
//!    account.

use time::Date;
use yibao_domain::{Fen, RatioBp, RegionCode, RegionLevel, Rounding};

use crate::account::{AccountKey, AccountKind, Holder};
use crate::error::LedgerError;
use crate::fund::{Fund, FundScheme};
use crate::limits::POSITIONS_LIMIT;
use crate::plan::{FundUnit, Note, Planned, Steps, apportion, at_most, cross_fund_pair, non_negative, unit_en, unit_of, unit_zh};
use crate::transfer::{BusinessRef, Reason, RecordKind, Transfer, TransferId};

/// A unit's yearly targets and results (R-ENR-6, ZZ-POOL §四(八)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    /// Persons the unit was to have enrolled (扩面任务).
    pub enrolment_target: u32,
    pub enrolled: u32,
    /// Contributions the unit was to collect (征缴任务 / 基金收入计划).
    pub collection_target_fen: Fen,
    pub collected_fen: Fen,
}

/// How far a unit met its targets: the mean of its enrolment and collection achievement,
/// each capped at 100% (over-achieving one target does not make up for the other), rounded
/// once. A zero target counts as met.
#[must_use]
pub fn target_score_bp(targets: &Targets, rounding: Rounding) -> RatioBp {
    let achieved = |done: i128, target: i128| if target <= 0 { (1, 1) } else { (done.clamp(0, target), target) };
    let (e_done, e_target) = achieved(i128::from(targets.enrolled), i128::from(targets.enrolment_target));
    let (c_done, c_target) = achieved(i128::from(targets.collected_fen.get()), i128::from(targets.collection_target_fen.get()));
    // (e_done/e_target + c_done/c_target) / 2 in basis points, as one fraction.
    let numerator = (e_done * c_target + c_done * e_target) * 10_000;
    let bp = rounding.round_div(numerator, 2 * e_target * c_target);
    RatioBp::new(u32::try_from(bp).expect("a mean of two ratios capped at 100% is at most 10 000 bp"))
}

/// One scheme fund of one unit over the year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundPosition {
    /// The scheme fund (the city's under city-level pooling, or the unit's own).
    pub fund: Fund,
    /// The city itself or a county.
    pub unit: RegionCode,
    pub income_fen: Fen,
    pub spending_fen: Fen,
    /// Accumulated surplus at the start of the year; a negative one covers nothing.
    pub surplus_brought_forward_fen: Fen,
    /// How far the unit met its targets ([`target_score_bp`]); unused for the city level.
    pub target_score_bp: RatioBp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaterfallInputs {
    pub city: RegionCode,
    pub year: i32,
    pub value_date: Date,
    pub rounding: Rounding,
    /// What the adjustment fund's special account can give.
    pub adjustment_available_fen: Fen,
    /// City finance's share of a county's remaining gap when the county fully met its
    /// targets (a policy parameter; e.g. 50%).
    pub city_share_when_met_bp: RatioBp,
    pub positions: Vec<FundPosition>,
}

/// How one position's deficit was covered; the four parts sum to `deficit_fen`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeficitLine {
    pub fund: Fund,
    pub unit: RegionCode,
    pub deficit_fen: Fen,
    pub from_surplus_fen: Fen,
    pub from_adjustment_fen: Fen,
    pub city_finance_fen: Fen,
    pub county_finance_fen: Fen,
    /// One line per amount, in the order of the waterfall.
    pub notes: Vec<Note>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaterfallPlan {
    /// In (fund, unit) order, every position including those without a deficit.
    pub lines: Vec<DeficitLine>,
    pub adjustment_used_fen: Fen,
    pub already_posted: usize,
    pub transfers: Vec<Planned>,
}

/// Runs the waterfall over every position and plans the transfers it moves.
pub fn plan_waterfall(inputs: &WaterfallInputs, is_posted: impl Fn(&TransferId) -> bool) -> Result<WaterfallPlan, LedgerError> {
    let city = inputs.city;
    crate::plan::city_fund(Fund::adjustment(city))?;
    at_most("fund positions", inputs.positions.len(), POSITIONS_LIMIT)?;
    non_negative("the adjustment fund's available balance", inputs.adjustment_available_fen)?;
    let mut positions: Vec<&FundPosition> = inputs.positions.iter().collect();
    positions.sort_by_key(|p| (p.fund, p.unit));
    for pair in positions.windows(2) {
        if (pair[0].fund, pair[0].unit) == (pair[1].fund, pair[1].unit) {
            return Err(LedgerError::DuplicateInput { what: format!("the position of {} in {}", pair[0].unit, pair[0].fund) });
        }
    }
    for p in &positions {
        if p.fund.scheme == FundScheme::MunicipalAdjustment {
            return Err(LedgerError::BadInput { why: "the adjustment fund covers deficits; it is not a position of the waterfall" });
        }
        unit_of(city, p.fund.region)?;
        unit_of(p.fund.region, p.unit)?;
        non_negative("a year's income", p.income_fen)?;
        non_negative("a year's spending", p.spending_fen)?;
    }

    let year = inputs.year;
    let rounding = inputs.rounding;
    // Steps 1 and the gaps left for the adjustment fund.
    let deficits: Vec<Fen> = positions.iter().map(|p| p.spending_fen.saturating_remainder(p.income_fen)).collect();
    let from_surplus: Vec<Fen> =
        positions.iter().zip(&deficits).map(|(p, d)| (*d).min(p.surplus_brought_forward_fen.max(Fen::ZERO))).collect();
    let gaps: Vec<Fen> = deficits.iter().zip(&from_surplus).map(|(d, s)| *d - *s).collect();
    let gaps_total: Fen = gaps.iter().copied().sum();
    let available = inputs.adjustment_available_fen;
    let adjustment_short = gaps_total > available;
    let from_adjustment = if adjustment_short { apportion(available, &gaps, rounding) } else { gaps.clone() };

    let adjustment = Fund::adjustment(city);
    let cause = BusinessRef::new(RecordKind::DeficitWaterfall, &format!("{city}/{year}"))?;
    let mut steps = Steps { planned: Vec::new(), already_posted: 0 };
    let mut lines = Vec::with_capacity(positions.len());
    for (i, p) in positions.iter().enumerate() {
        let (fund, unit) = (p.fund, p.unit);
        let (deficit, surplus_used, from_adj) = (deficits[i], from_surplus[i], from_adjustment[i]);
        let rest = gaps[i] - from_adj;
        let (city_part, county_part) = if unit.level() == RegionLevel::City {
            (rest, Fen::ZERO)
        } else {
            let numerator = i128::from(rest.get()) * i128::from(inputs.city_share_when_met_bp.get()) * i128::from(p.target_score_bp.get());
            let city_part = Fen::new(rounding.round_div(numerator, 100_000_000));
            (city_part, rest - city_part)
        };
        let (zh, en) = (format!("{year} 年{}{}", unit_zh(unit), fund.scheme.name_zh()), format!("{year}, {} in {fund}", unit_en(unit)));
        let mut notes = Vec::new();
        if deficit.is_zero() {
            notes.push(Note::new(
                format!("{zh}：当期收入 {} 元，支出 {} 元，无当期透支", p.income_fen, p.spending_fen),
                format!("{en}: income {} yuan, spending {} yuan, no current deficit", p.income_fen, p.spending_fen),
            ));
        } else {
            notes.push(Note::new(
                format!("{zh}：当期收入 {} 元，支出 {} 元，当期透支 {deficit} 元", p.income_fen, p.spending_fen),
                format!("{en}: income {} yuan, spending {} yuan, a current deficit of {deficit} yuan", p.income_fen, p.spending_fen),
            ));
            let brought = p.surplus_brought_forward_fen;
            notes.push(Note::new(
                format!("首先使用累计结余弥补 {surplus_used} 元（年初累计结余 {brought} 元；资金已在财政专户，无需划转）"),
                format!(
                    "first, its own accumulated surplus covers {surplus_used} yuan ({brought} yuan at the start of the year; the money already stands in the special account, so nothing moves)"
                ),
            ));
        }
        if !gaps[i].is_zero() {
            let gap = gaps[i];
            notes.push(if adjustment_short {
                Note::new(
                    format!("其次使用市级调剂金：可用 {available} 元不足弥补各级缺口合计 {gaps_total} 元，按缺口 {gap} 元占比分得 {from_adj} 元"),
                    format!(
                        "then the municipal adjustment fund: its {available} yuan cannot cover all gaps, {gaps_total} yuan in total, so it covers {from_adj} yuan of this gap of {gap} yuan, pro rata"
                    ),
                )
            } else {
                Note::new(format!("其次使用市级调剂金弥补缺口 {from_adj} 元"), format!("then the municipal adjustment fund covers the gap of {from_adj} yuan"))
            });
        }
        if !rest.is_zero() {
            notes.push(if unit.level() == RegionLevel::City {
                Note::new(format!("仍有缺口 {rest} 元，由市级财政负担"), format!("the remaining {rest} yuan is borne by city finance"))
            } else {
                let (met, score) = (inputs.city_share_when_met_bp, p.target_score_bp);
                Note::new(
                    format!(
                        "仍有缺口 {rest} 元，由市、县财政分担：{}扩面和征缴目标完成率 {score}，市级财政承担 {rest} × {met} × {score} = {city_part} 元，县级财政承担 {county_part} 元",
                        unit_zh(unit)
                    ),
                    format!(
                        "the remaining {rest} yuan is shared by city and county finance: {} met {score} of its enrolment and collection targets, so city finance bears {rest} × {met} × {score} = {city_part} yuan and county finance {county_part} yuan",
                        unit_en(unit)
                    ),
                )
            });
        }

        let id = |step: &'static str| TransferId::derived(&[&"deficit", &year, &fund, &unit, &step]);
        if !from_adj.is_zero() {
            let note = Note::new(
                format!("{zh}：市级调剂金弥补当期缺口 {from_adj} 元"),
                format!("{en}: the municipal adjustment fund covers {from_adj} yuan of the current deficit"),
            );
            let legs = cross_fund_pair(
                (id("adjustment-out"), id("adjustment-in")),
                FundUnit { fund: adjustment, unit },
                FundUnit { fund, unit },
                from_adj,
                Reason::DeficitCover,
                &cause,
                inputs.value_date,
            );
            steps.add_pair(&is_posted, legs, [note.clone(), note]);
        }
        for (part, finance, step) in [(city_part, city, "city-finance"), (county_part, unit, "county-finance")] {
            let holder = Holder::Finance(finance);
            let transfer = Transfer::new(
                id(step),
                AccountKey::new(fund, holder, AccountKind::Receivable),
                AccountKey::new(fund, holder, AccountKind::External),
                part,
                Reason::DeficitCover,
                cause.clone(),
                inputs.value_date,
            );
            let note = Note::new(
                format!("{zh}：{}财政负担缺口 {part} 元，记为基金对该级财政的应收款", if finance == city { "市级" } else { "县级" }),
                format!(
                    "{en}: {} finance bears {part} yuan of the gap, booked as owed to the fund by that finance bureau",
                    if finance == city { "city" } else { "county" }
                ),
            );
            steps.add(&is_posted, transfer, note);
        }
        lines.push(DeficitLine {
            fund,
            unit,
            deficit_fen: deficit,
            from_surplus_fen: surplus_used,
            from_adjustment_fen: from_adj,
            city_finance_fen: city_part,
            county_finance_fen: county_part,
            notes,
        });
    }
    let adjustment_used_fen = from_adjustment.iter().copied().sum();
    Ok(WaterfallPlan { lines, adjustment_used_fen, already_posted: steps.already_posted, transfers: steps.planned })
}
