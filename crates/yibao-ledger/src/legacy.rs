//! Legacy deficits when pooling is made real (R-FND-6, SMX §五(三)): "各县(市、区)累计结余
//! 基金收不抵支的，先用该县(市、区)历年上解风险调剂金进行弥补；享受风险调剂金达到该县
//! (市、区)历年上解风险调剂金总额后仍有缺口的，由该县(市、区)财政向市级财政专户进行补缴或由
//! 市财政代扣，可一次性足额补缴上解，也可在2023年年底前分批完成(2021年、2022年每年不低于
//! 缺口的30%)。"
//!
//! The opening gap is first offset by what the county paid into the adjustment fund over
//! the years (an adjustment pair from the county's position in the adjustment fund); the
//! rest becomes a receivable of the city fund from the county's finance, repaid at once,
//! by instalments, or withheld by the city. Each year's minimum share is "not less than",
//! so it rounds up to the fen; a county that pays more early has paid ahead: by the end of
//! each year, what it paid in total must reach the sum of the minimums so far.

use time::{Date, Month};
use yibao_domain::{Fen, RatioBp, RegionCode, RegionLevel, Rounding};

use crate::account::{AccountKey, AccountKind, Holder};
use crate::error::LedgerError;
use crate::fund::Fund;
use crate::limits::{INSTALMENT_YEARS_LIMIT, REPAYMENTS_LIMIT};
use crate::plan::{FundUnit, Note, Planned, Steps, at_most, city_fund, cross_fund_pair, non_negative, unit_en, unit_of, unit_zh};
use crate::transfer::{BusinessRef, Reason, RecordKind, Transfer, TransferId};

/// The least share of the gap to be repaid within a calendar year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YearShare {
    pub year: i32,
    pub share_bp: RatioBp,
}

/// How the county's remaining gap is settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepaymentTerms {
    /// 一次性足额补缴: the whole gap by `due`.
    AtOnce { due: Date },
    /// 分批完成: everything by `end`, and by the end of each listed year at least the sum
    /// of the minimum shares so far.
    Instalments { end: Date, minimum_per_year: Vec<YearShare> },
    /// 市财政代扣: the city withholds the whole gap from its transfers to the county on `on`.
    Withheld { on: Date },
}

impl RepaymentTerms {
    /// Sanmenxia's terms (SMX §五(三)): by the end of 2023, at least 30% of the gap in each
    /// of 2021 and 2022.
    #[must_use]
    pub fn sanmenxia() -> RepaymentTerms {
        RepaymentTerms::Instalments {
            end: Date::from_calendar_date(2023, Month::December, 31).expect("a real date"),
            minimum_per_year: vec![
                YearShare { year: 2021, share_bp: RatioBp::new(3_000) },
                YearShare { year: 2022, share_bp: RatioBp::new(3_000) },
            ],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyInputs {
    /// The city fund whose special account the county repays.
    pub fund: Fund,
    pub county: RegionCode,
    /// When the gap was established (audited, 审计清算): the value date of the offset and
    /// the receivable.
    pub established_on: Date,
    /// The county's accumulated deficit when pooling was made real (收不抵支的缺口).
    pub opening_gap_fen: Fen,
    /// What the county paid into the adjustment fund over the years (历年上解风险调剂金).
    pub paid_into_adjustment_fen: Fen,
    pub terms: RepaymentTerms,
}

/// A date by which the county must have repaid `cumulative_fen` in total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instalment {
    pub due: Date,
    /// What this instalment adds to the ones before.
    pub minimum_fen: Fen,
    pub cumulative_fen: Fen,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacySchedule {
    pub fund: Fund,
    pub county: RegionCode,
    pub opening_gap_fen: Fen,
    /// Covered by the county's own past levies.
    pub offset_fen: Fen,
    /// What the county's finance owes: `opening_gap_fen − offset_fen`.
    pub gap_fen: Fen,
    pub terms: RepaymentTerms,
    pub instalments: Vec<Instalment>,
    pub notes: Vec<Note>,
    pub already_posted: usize,
    /// The offset pair, the receivable, and for withholding the withholding itself.
    pub transfers: Vec<Planned>,
}

/// Works out the offset, the gap and its instalments, and the transfers that book them.
pub fn legacy_schedule(inputs: &LegacyInputs, is_posted: impl Fn(&TransferId) -> bool) -> Result<LegacySchedule, LedgerError> {
    let (fund, county, on) = (inputs.fund, inputs.county, inputs.established_on);
    city_fund(fund)?;
    unit_of(fund.region, county)?;
    if county.level() != RegionLevel::County {
        return Err(LedgerError::BadInput { why: "a legacy deficit is a county's: the city level has no one to repay it to" });
    }
    non_negative("the opening gap", inputs.opening_gap_fen)?;
    non_negative("what the county paid into the adjustment fund", inputs.paid_into_adjustment_fen)?;
    check_terms(&inputs.terms, on)?;

    let offset_fen = inputs.opening_gap_fen.min(inputs.paid_into_adjustment_fen);
    let gap_fen = inputs.opening_gap_fen - offset_fen;
    let instalments = instalments(&inputs.terms, gap_fen);

    let (zh, en) = (format!("{}{}", unit_zh(county), fund.scheme.name_zh()), format!("{} in {fund}", unit_en(county)));
    let mut notes = vec![Note::new(
        format!(
            "{zh}：统收统支前累计缺口 {} 元，先用历年上解调剂金 {} 元弥补 {offset_fen} 元，余 {gap_fen} 元由县级财政补缴",
            inputs.opening_gap_fen, inputs.paid_into_adjustment_fen
        ),
        format!(
            "{en}: an opening gap of {} yuan; {offset_fen} yuan is offset by the {} yuan the county paid into the adjustment fund over the years, {gap_fen} yuan is owed by county finance",
            inputs.opening_gap_fen, inputs.paid_into_adjustment_fen
        ),
    )];
    notes.extend(instalments.iter().map(|i| {
        Note::new(
            format!("{} 前累计补缴不少于 {} 元（本期 {} 元）", i.due, i.cumulative_fen, i.minimum_fen),
            format!("by {}: at least {} yuan repaid in total ({} yuan in this instalment)", i.due, i.cumulative_fen, i.minimum_fen),
        )
    }));

    let cause = BusinessRef::new(RecordKind::LegacyDeficit, &format!("{fund}/{county}"))?;
    let id = |step: &'static str| TransferId::derived(&[&"legacy", &fund, &county, &step]);
    let finance = Holder::Finance(county);
    let receivable = AccountKey::new(fund, finance, AccountKind::Receivable);
    let mut steps = Steps { planned: Vec::new(), already_posted: 0 };
    let legs = cross_fund_pair(
        (id("offset-out"), id("offset-in")),
        FundUnit { fund: Fund::adjustment(fund.region), unit: county },
        FundUnit { fund, unit: county },
        offset_fen,
        Reason::DeficitCover,
        &cause,
        on,
    );
    let note = Note::new(
        format!("{zh}：以历年上解调剂金弥补缺口 {offset_fen} 元"),
        format!("{en}: {offset_fen} yuan of the gap offset from the county's past levies"),
    );
    steps.add_pair(&is_posted, legs, [note.clone(), note]);
    steps.add(
        &is_posted,
        Transfer::new(
            id("receivable"),
            receivable,
            AccountKey::new(fund, finance, AccountKind::External),
            gap_fen,
            Reason::LegacyRepayment,
            cause.clone(),
            on,
        ),
        Note::new(format!("{zh}：县级财政应补缴 {gap_fen} 元"), format!("{en}: county finance owes {gap_fen} yuan")),
    );
    if let RepaymentTerms::Withheld { on: withheld_on } = inputs.terms {
        steps.add(
            &is_posted,
            Transfer::new(
                id("withheld"),
                AccountKey::special(fund),
                receivable,
                gap_fen,
                Reason::LegacyRepayment,
                cause.clone(),
                withheld_on,
            ),
            Note::new(
                format!("{zh}：市财政于 {withheld_on} 代扣 {gap_fen} 元缴入市级财政专户"),
                format!("{en}: city finance withholds {gap_fen} yuan on {withheld_on} into the city fiscal special account"),
            ),
        );
    }
    Ok(LegacySchedule {
        fund,
        county,
        opening_gap_fen: inputs.opening_gap_fen,
        offset_fen,
        gap_fen,
        terms: inputs.terms.clone(),
        instalments,
        notes,
        already_posted: steps.already_posted,
        transfers: steps.planned,
    })
}

fn check_terms(terms: &RepaymentTerms, established_on: Date) -> Result<(), LedgerError> {
    let bad = |why| Err(LedgerError::BadInput { why });
    match terms {
        RepaymentTerms::AtOnce { due: date } | RepaymentTerms::Withheld { on: date } => {
            if *date < established_on {
                return bad("the repayment date is before the gap was established");
            }
        }
        RepaymentTerms::Instalments { end, minimum_per_year } => {
            at_most("years with a minimum share", minimum_per_year.len(), INSTALMENT_YEARS_LIMIT)?;
            if *end < established_on {
                return bad("the repayment end date is before the gap was established");
            }
            if minimum_per_year.windows(2).any(|w| w[0].year >= w[1].year) {
                return bad("the years with a minimum share must be listed once each, in order");
            }
            if minimum_per_year.iter().any(|y| y.year > end.year() || y.year < established_on.year()) {
                return bad("a year with a minimum share lies outside the repayment period");
            }
            if minimum_per_year.iter().map(|y| y.share_bp.get()).sum::<u32>() > RatioBp::FULL.get() {
                return bad("the minimum shares add up to more than 100% of the gap");
            }
        }
    }
    Ok(())
}

fn year_end(year: i32) -> Date {
    Date::from_calendar_date(year, Month::December, 31).expect("31 December exists")
}

fn instalments(terms: &RepaymentTerms, gap_fen: Fen) -> Vec<Instalment> {
    if gap_fen.is_zero() {
        return Vec::new();
    }
    match terms {
        RepaymentTerms::AtOnce { due: date } | RepaymentTerms::Withheld { on: date } => {
            vec![Instalment { due: *date, minimum_fen: gap_fen, cumulative_fen: gap_fen }]
        }
        RepaymentTerms::Instalments { end, minimum_per_year } => {
            let mut list: Vec<Instalment> = Vec::with_capacity(minimum_per_year.len() + 1);
            let mut cumulative = Fen::ZERO;
            for share in minimum_per_year {
                // "Not less than 30%": rounded up, so paying the minimum meets the rule.
                let minimum = Rounding::Up.apply(gap_fen, share.share_bp).min(gap_fen - cumulative);
                cumulative += minimum;
                list.push(Instalment { due: year_end(share.year).min(*end), minimum_fen: minimum, cumulative_fen: cumulative });
            }
            let rest = gap_fen - cumulative;
            match list.last_mut() {
                _ if rest.is_zero() => {}
                Some(last) if last.due == *end => {
                    last.minimum_fen += rest;
                    last.cumulative_fen = gap_fen;
                }
                _ => list.push(Instalment { due: *end, minimum_fen: rest, cumulative_fen: gap_fen }),
            }
            list
        }
    }
}

/// A repayment the county made (or the city withheld).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repayment {
    pub on: Date,
    pub amount_fen: Fen,
}

/// An instalment whose due date passed before the total it required was repaid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissedInstalment {
    pub instalment: Instalment,
    /// Repaid in total by the due date.
    pub paid_by_due_fen: Fen,
    /// What was missing on the due date.
    pub shortfall_fen: Fen,
    /// What is still missing of it at the status date (zero once made up late).
    pub outstanding_fen: Fen,
    pub note: Note,
}

/// Where a county's repayment stands on a date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyStatus {
    pub as_of: Date,
    pub paid_fen: Fen,
    /// Still owed: the gap less everything repaid.
    pub owed_fen: Fen,
    pub missed: Vec<MissedInstalment>,
    /// The first instalment still to be met on or after `as_of`.
    pub next_due: Option<Instalment>,
    pub note: Note,
}

/// What a county still owes on `as_of`, and which instalments it missed. Repayments dated
/// after `as_of` are not counted. An instalment is missed when its due date is before
/// `as_of` and the total repaid by the end of that day fell short of what it required.
pub fn legacy_status(schedule: &LegacySchedule, repayments: &[Repayment], as_of: Date) -> Result<LegacyStatus, LedgerError> {
    at_most("repayments", repayments.len(), REPAYMENTS_LIMIT)?;
    for r in repayments {
        non_negative("a repayment", r.amount_fen)?;
    }
    let paid_by = |date: Date| repayments.iter().filter(|r| r.on <= date).map(|r| r.amount_fen).sum::<Fen>();
    let paid_fen = paid_by(as_of);
    let owed_fen = schedule.gap_fen.saturating_remainder(paid_fen);
    let county = schedule.county;
    let missed: Vec<MissedInstalment> = schedule
        .instalments
        .iter()
        .filter(|i| i.due < as_of)
        .filter_map(|i| {
            let paid_by_due_fen = paid_by(i.due);
            let shortfall_fen = i.cumulative_fen.saturating_remainder(paid_by_due_fen);
            (!shortfall_fen.is_zero()).then(|| MissedInstalment {
                instalment: *i,
                paid_by_due_fen,
                shortfall_fen,
                outstanding_fen: i.cumulative_fen.saturating_remainder(paid_fen),
                note: Note::new(
                    format!(
                        "{}未按期补缴：{} 前应累计补缴 {} 元，实缴 {paid_by_due_fen} 元，差 {shortfall_fen} 元",
                        unit_zh(county),
                        i.due,
                        i.cumulative_fen
                    ),
                    format!(
                        "{} missed an instalment: {} yuan was due in total by {}, {paid_by_due_fen} yuan was paid, {shortfall_fen} yuan short",
                        unit_en(county),
                        i.cumulative_fen,
                        i.due
                    ),
                ),
            })
        })
        .collect();
    let next_due = schedule.instalments.iter().find(|i| i.due >= as_of && i.cumulative_fen > paid_fen).copied();
    let note = Note::new(
        format!("截至 {as_of}，{}已补缴 {paid_fen} 元，尚欠 {owed_fen} 元，未按期 {} 期", unit_zh(county), missed.len()),
        format!(
            "as of {as_of}, {} has repaid {paid_fen} yuan and owes {owed_fen} yuan; {} instalment(s) missed",
            unit_en(county),
            missed.len()
        ),
    );
    Ok(LegacyStatus { as_of, paid_fen, owed_fen, missed, next_due, note })
}

/// The transfer booking a repayment (or a withholding) of the county's gap: into the city
/// special account, out of the receivable from the county's finance.
#[must_use]
pub fn repayment_transfer(schedule: &LegacySchedule, id: TransferId, repayment: &Repayment, cause: BusinessRef) -> Planned {
    let (fund, county) = (schedule.fund, schedule.county);
    let amount = repayment.amount_fen;
    Planned {
        transfer: Transfer::new(
            id,
            AccountKey::special(fund),
            AccountKey::new(fund, Holder::Finance(county), AccountKind::Receivable),
            amount,
            Reason::LegacyRepayment,
            cause,
            repayment.on,
        ),
        note: Note::new(
            format!("{}财政补缴历史缺口 {amount} 元至市级财政专户", unit_zh(county)),
            format!("{} finance repays {amount} yuan of its legacy gap into the city fiscal special account", unit_en(county)),
        ),
    }
}
