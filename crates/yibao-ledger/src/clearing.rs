//! The year-end clearing of designated institutions' payment (年度清算, issue 15, R-PAY-1).
//!
//! All year the funds owe each institution what its claims' pooled layers say (a
//! settlement credits its payable) and the monthly pooling run pays that. At the year's
//! end the payment year (`yibao-payment`) computes what the institution's agreement's
//! methods earn it (DIP points at the year's point value, per diem, capitation, clearing
//! bands, the quality deposit, deductions). The difference, earned less billed, is booked
//! here on the institution's payable: owed to it when positive, recovered from it when
//! negative. The next pooling run pays what is owed; what is recovered is deducted from
//! its next payments.
//!
//! A fund's books are its own (R-SCH-2) and a county's insured are paid through its own
//! expenditure account (R-FND-2), so an institution's difference is shared between the
//! funds and units that paid its cases, in proportion to what each paid (cumulative
//! rounding: the shares add up to the difference to the fen).

use time::Date;
use yibao_domain::{Fen, RegionCode, RegionLevel, Rounding};

use crate::account::{AccountKey, AccountKind, Holder};
use crate::error::LedgerError;
use crate::fund::{Fund, FundScheme};
use crate::limits::{CLEARING_INSTITUTIONS_LIMIT, CLEARING_ROUNDS_LIMIT, UNITS_LIMIT};
use crate::plan::{Note, Planned, Steps, apportion, at_most, non_negative, unit_en, unit_of, unit_zh};
use crate::transfer::{BusinessRef, Reason, RecordKind, SettlementLayer, Transfer, TransferId};

/// What one fund and unit paid an institution's cases of the year: the weight of its share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClearingShare {
    /// A basic pooled fund of the city (the fund that pays the `hifp_pay` layer).
    pub fund: Fund,
    pub unit: RegionCode,
    pub paid_fen: Fen,
}

/// One institution's difference for the year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingLine {
    pub institution: Holder,
    /// Earned less billed: owed to the institution when positive, recovered when negative.
    pub difference_fen: Fen,
    /// Who paid its stays. With none, the residents' fund of its own county bears it.
    pub shares: Vec<ClearingShare>,
}

/// The inputs of a city's clearing of one payment year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingInputs {
    pub city: RegionCode,
    pub year: i32,
    /// 1 for the year's clearing; 2, 3… for a supplementary clearing (补充清算) that books
    /// what changed in the year since (a late stay, a reversal, a new assessment).
    pub round: u32,
    /// The day the clearing is booked: after the year it clears.
    pub value_date: Date,
    pub rounding: Rounding,
    pub lines: Vec<ClearingLine>,
}

/// What the clearing books.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingPlan {
    /// Owed to institutions by the new transfers.
    pub owed_fen: Fen,
    /// Recovered from institutions by the new transfers.
    pub recovered_fen: Fen,
    pub already_posted: usize,
    /// Post them as one batch.
    pub transfers: Vec<Planned>,
}

/// The cause every transfer of a city's clearing of `year`, round `round`, names.
pub fn clearing_cause(city: RegionCode, year: i32, round: u32) -> Result<BusinessRef, LedgerError> {
    BusinessRef::new(RecordKind::PaymentClearing, &format!("{city}/{year}/{round}"))
}

/// Shares an institution's signed amount (its clearing difference, or what a pooling run
/// holds back from it) between the pooled funds and units that paid its stays, in
/// proportion to what each paid, rounding cumulatively so the shares add up to the amount
/// to the fen; a share is negative when the amount is. A difference no stay was paid for
/// (capitation of a primary-care centre with no stays, a deposit or a deduction) is borne
/// by the residents' fund of the institution's own county: capitation is paid for the
/// residents signed with it. Zero shares are left out; shares come in (fund, unit) order.
///
/// Refuses a holder that is not an institution, a share outside the city or not of a basic
/// pooled fund, a negative payment, a (fund, unit) given twice, and an amount nobody paid
/// for of an institution outside the city.
pub fn share_between(city: RegionCode, line: &ClearingLine, rounding: Rounding) -> Result<Vec<(Fund, RegionCode, Fen)>, LedgerError> {
    let Holder::Institution(code) = line.institution else {
        return Err(LedgerError::BadInput { why: "a clearing pays or recovers from designated institutions only" });
    };
    at_most("shares of an institution's clearing", line.shares.len(), UNITS_LIMIT * 4)?;
    let mut shares: Vec<&ClearingShare> = line.shares.iter().collect();
    shares.sort_by_key(|s| (s.fund.scheme, s.unit));
    for share in &shares {
        if share.fund.region != city || !SettlementLayer::Pooled.paid_by(share.fund.scheme) {
            return Err(LedgerError::BadInput { why: "a clearing is shared between the city's basic pooled funds" });
        }
        unit_of(city, share.unit)?;
        non_negative("a fund's payments to an institution", share.paid_fen)?;
    }
    for pair in shares.windows(2) {
        if (pair[0].fund, pair[0].unit) == (pair[1].fund, pair[1].unit) {
            return Err(LedgerError::DuplicateInput { what: format!("{} of {} for {code}", pair[0].unit, pair[0].fund) });
        }
    }
    let magnitude = Fen::new(line.difference_fen.get().abs());
    if magnitude.is_zero() {
        return Ok(Vec::new());
    }
    if shares.iter().all(|s| s.paid_fen.is_zero()) {
        let unit = RegionCode::parse(&code.as_str()[1..7]).map_err(|_| LedgerError::BadInstitutionCode(code.to_string()))?;
        unit_of(city, unit)?;
        return Ok(vec![(Fund::new(FundScheme::Resident, city), unit, line.difference_fen)]);
    }
    let weights: Vec<Fen> = shares.iter().map(|s| s.paid_fen).collect();
    let sign = if line.difference_fen.is_negative() { -1 } else { 1 };
    Ok(shares
        .iter()
        .zip(apportion(magnitude, &weights, rounding))
        .filter(|(_, amount)| !amount.is_zero())
        .map(|(share, amount)| (share.fund, share.unit, Fen::new(sign * amount.get())))
        .collect())
}

/// Plans the clearing: per institution, its difference shared between the funds and units
/// that paid it, each share one transfer on its payable
/// (`clear/{year}/{fund}/{unit}/{institution}/r{round}`). A line's difference is what this
/// round books: a supplementary round books what changed since the rounds before.
///
/// Refuses a region that is not a city, a value date not after the year, an institution
/// given twice or not an institution, a share outside the city or not of a basic pooled
/// fund, a negative payment, and a difference nobody paid for of an institution outside
/// the city.
pub fn plan_clearing(inputs: &ClearingInputs, is_posted: impl Fn(&TransferId) -> bool) -> Result<ClearingPlan, LedgerError> {
    let city = inputs.city;
    if city.level() != RegionLevel::City {
        return Err(LedgerError::BadInput { why: "a payment year is cleared by a city" });
    }
    if inputs.value_date.year() <= inputs.year {
        return Err(LedgerError::DateOutsidePeriod { date: inputs.value_date, period: format!("the years after {}", inputs.year) });
    }
    if inputs.round == 0 || inputs.round > CLEARING_ROUNDS_LIMIT {
        return Err(LedgerError::BadInput { why: "a clearing's round is 1 or a later supplementary round, within the limit" });
    }
    at_most("institutions in a clearing", inputs.lines.len(), CLEARING_INSTITUTIONS_LIMIT)?;
    let mut lines: Vec<&ClearingLine> = inputs.lines.iter().collect();
    lines.sort_by_key(|l| l.institution);
    for pair in lines.windows(2) {
        if pair[0].institution == pair[1].institution {
            return Err(LedgerError::DuplicateInput { what: format!("institution {}", pair[0].institution) });
        }
    }
    let cause = clearing_cause(city, inputs.year, inputs.round)?;
    let (year, round) = (inputs.year, inputs.round);
    let round_tag = format!("r{round}");
    let mut steps = Steps { planned: Vec::new(), already_posted: 0 };
    let (mut owed_fen, mut recovered_fen) = (Fen::ZERO, Fen::ZERO);
    for line in lines {
        let Holder::Institution(code) = line.institution else {
            return Err(LedgerError::BadInput { why: "a clearing pays or recovers from designated institutions only" });
        };
        let owed = line.difference_fen.get() > 0;
        for (fund, unit, signed) in share_between(city, line, inputs.rounding)? {
            let amount = Fen::new(signed.get().abs());
            let outside = AccountKey::new(fund, line.institution, AccountKind::External);
            let payable = AccountKey::new(fund, line.institution, AccountKind::Payable);
            let (debit, credit) = if owed { (outside, payable) } else { (payable, outside) };
            let id = TransferId::derived(&[&"clear", &year, &fund, &unit, &code, &round_tag]);
            let note = if owed {
                Note::new(
                    format!(
                        "[{}] {year} 年度清算：{code} 按协议付费方式应得多于已结算，{}应补付 {amount} 元",
                        fund.scheme.name_zh(),
                        unit_zh(unit)
                    ),
                    format!(
                        "[{fund}] {year} clearing: {code} earned more under its agreement's methods than its claims billed; {} owes it {amount} yuan more",
                        unit_en(unit)
                    ),
                )
            } else {
                Note::new(
                    format!(
                        "[{}] {year} 年度清算：{code} 按协议付费方式应得少于已结算，{}应扣回 {amount} 元",
                        fund.scheme.name_zh(),
                        unit_zh(unit)
                    ),
                    format!(
                        "[{fund}] {year} clearing: {code} billed more than its agreement's methods earned; {} recovers {amount} yuan",
                        unit_en(unit)
                    ),
                )
            };
            let transfer = Transfer::new(id, debit, credit, amount, Reason::PaymentClearing, cause.clone(), inputs.value_date);
            if steps.add(&is_posted, transfer, note) {
                if owed { owed_fen += amount } else { recovered_fen += amount }
            }
        }
    }
    Ok(ClearingPlan { owed_fen, recovered_fen, already_posted: steps.already_posted, transfers: steps.planned })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fund::FundScheme;
    use time::macros::date;

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    fn inputs(difference: i64, shares: &[(FundScheme, &str, i64)]) -> ClearingInputs {
        let city = region("419900");
        ClearingInputs {
            city,
            year: 2025,
            round: 1,
            value_date: date!(2026 - 03 - 31),
            rounding: Rounding::HalfUp,
            lines: vec![ClearingLine {
                institution: Holder::institution("H41992100007").unwrap(),
                difference_fen: Fen::new(difference),
                shares: shares
                    .iter()
                    .map(|(scheme, unit, paid)| ClearingShare {
                        fund: Fund::new(*scheme, city),
                        unit: region(unit),
                        paid_fen: Fen::new(*paid),
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn a_difference_is_shared_by_what_each_fund_and_unit_paid() {
        // 100.00 owed, paid 1:2:1 by the residents of 419921, 419922 and the employees of 419921:
        // 25.00, 50.00, 25.00 — each on the institution's payable in its own fund.
        let plan = plan_clearing(
            &inputs(
                10_000,
                &[(FundScheme::Resident, "419921", 100), (FundScheme::Resident, "419922", 200), (FundScheme::Employee, "419921", 100)],
            ),
            |_| false,
        )
        .unwrap();
        let moved: Vec<(String, i64)> = plan.transfers.iter().map(|p| (p.transfer.id.to_string(), p.transfer.amount_fen.get())).collect();
        assert_eq!(
            moved,
            [
                ("clear/2025/employee@419900/419921/H41992100007/r1".to_owned(), 2_500),
                ("clear/2025/resident@419900/419921/H41992100007/r1".to_owned(), 2_500),
                ("clear/2025/resident@419900/419922/H41992100007/r1".to_owned(), 5_000),
            ]
        );
        assert_eq!((plan.owed_fen, plan.recovered_fen), (Fen::new(10_000), Fen::ZERO));
        let first = &plan.transfers[0].transfer;
        assert_eq!(
            (first.debit.kind, first.credit.kind, first.reason),
            (AccountKind::External, AccountKind::Payable, Reason::PaymentClearing)
        );
        // A recovery swaps the accounts; a third of a fen goes by the rounding, the total exact.
        let plan = plan_clearing(
            &inputs(-100, &[(FundScheme::Resident, "419921", 1), (FundScheme::Resident, "419922", 1), (FundScheme::Resident, "419923", 1)]),
            |_| false,
        )
        .unwrap();
        let amounts: Vec<i64> = plan.transfers.iter().map(|p| p.transfer.amount_fen.get()).collect();
        assert_eq!(amounts, [33, 34, 33]);
        assert_eq!(plan.recovered_fen, Fen::new(100));
        assert!(plan.transfers.iter().all(|p| p.transfer.debit.kind == AccountKind::Payable));
        // Posted already: planned again, it moves nothing.
        let again = plan_clearing(
            &inputs(-100, &[(FundScheme::Resident, "419921", 1), (FundScheme::Resident, "419922", 1), (FundScheme::Resident, "419923", 1)]),
            |_| true,
        )
        .unwrap();
        assert_eq!((again.transfers.len(), again.already_posted), (0, 3));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let code = |inputs: &ClearingInputs| plan_clearing(inputs, |_| false).unwrap_err().code();
        let mut early = inputs(100, &[(FundScheme::Resident, "419921", 1)]);
        early.value_date = date!(2025 - 12 - 31);
        assert_eq!(code(&early), "ledger.date_outside_period");
        assert_eq!(code(&inputs(100, &[(FundScheme::MedicalAssistance, "419921", 5)])), "ledger.bad_input");
        assert_eq!(code(&inputs(100, &[(FundScheme::Resident, "410100", 5)])), "ledger.unit_outside");
        assert_eq!(code(&inputs(100, &[(FundScheme::Resident, "419921", -5)])), "ledger.negative_input");
        assert_eq!(
            code(&inputs(100, &[(FundScheme::Resident, "419921", 5), (FundScheme::Resident, "419921", 5)])),
            "ledger.duplicate_input"
        );
        let mut twice = inputs(100, &[(FundScheme::Resident, "419921", 1)]);
        twice.lines.push(twice.lines[0].clone());
        assert_eq!(code(&twice), "ledger.duplicate_input");
        let mut round = inputs(100, &[(FundScheme::Resident, "419921", 1)]);
        round.round = 0;
        assert_eq!(code(&round), "ledger.bad_input");
        let mut county = inputs(100, &[(FundScheme::Resident, "419921", 1)]);
        county.city = region("419921");
        assert_eq!(code(&county), "ledger.bad_input");
        // Nothing to clear and nobody who paid: nothing to post, no refusal.
        assert!(plan_clearing(&inputs(0, &[]), |_| false).unwrap().transfers.is_empty());
        // A difference no stay paid for (capitation) is the residents' fund's, in the
        // institution's own county; outside the city, it is refused.
        let plan = plan_clearing(&inputs(500, &[(FundScheme::Employee, "419922", 0)]), |_| false).unwrap();
        assert_eq!(plan.transfers[0].transfer.id.as_str(), "clear/2025/resident@419900/419921/H41992100007/r1");
        let mut outside = inputs(500, &[]);
        outside.lines[0].institution = Holder::institution("H41010100001").unwrap();
        assert_eq!(code(&outside), "ledger.unit_outside");
    }
}
