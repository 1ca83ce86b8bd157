//! What the pooling computations share: a planned transfer with its bilingual explanation,
//! the two legs of an adjustment between funds, and pro-rata sharing that sums exactly.

use std::fmt;

use time::Date;
use yibao_domain::{Fen, RegionCode, RegionLevel, Rounding};

use crate::account::{AccountKey, AccountKind};
use crate::error::LedgerError;
use crate::fund::Fund;
use crate::transfer::{BusinessRef, Reason, Transfer, TransferId};

/// One line of explanation, in Chinese and in English, saying where an amount comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub zh: String,
    pub en: String,
}

impl Note {
    pub(crate) fn new(zh: String, en: String) -> Note {
        Note { zh, en }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh, self.en)
    }
}

/// A transfer a computation asks the caller to post, with the line explaining it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub transfer: Transfer,
    pub note: Note,
}

/// The transfers of a plan, ready for [`Ledger::post`](crate::Ledger::post) (one batch:
/// a run is posted whole or not at all).
#[must_use]
pub fn batch_of(planned: &[Planned]) -> Vec<Transfer> {
    planned.iter().map(|p| p.transfer.clone()).collect()
}

/// One side of an adjustment between funds: a fund and the unit whose inter-fund account
/// books the movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundUnit {
    pub fund: Fund,
    pub unit: RegionCode,
}

/// The two legs of an adjustment moving `amount_fen` from one fund to another (R-SCH-2).
///
/// Out of `from`: debit its unit's inter-fund account, credit its special account. Into
/// `to`: debit its special account, credit its unit's inter-fund account. Each leg stays
/// inside its fund, so both funds' books balance; the pair is what crosses, and only with
/// an adjustment reason. `ids` are the ids of the out-leg and the in-leg.
#[must_use]
pub fn cross_fund_pair(
    ids: (TransferId, TransferId),
    from: FundUnit,
    to: FundUnit,
    amount_fen: Fen,
    reason: Reason,
    cause: &BusinessRef,
    value_date: Date,
) -> [Transfer; 2] {
    let (out_id, in_id) = ids;
    let mut out = Transfer::new(
        out_id.clone(),
        AccountKey::of_unit(from.fund, from.unit, AccountKind::InterFund),
        AccountKey::special(from.fund),
        amount_fen,
        reason,
        cause.clone(),
        value_date,
    );
    let mut into = Transfer::new(
        in_id.clone(),
        AccountKey::special(to.fund),
        AccountKey::of_unit(to.fund, to.unit, AccountKind::InterFund),
        amount_fen,
        reason,
        cause.clone(),
        value_date,
    );
    out.pair = Some(in_id);
    into.pair = Some(out_id);
    [out, into]
}

/// Shares `amount_fen` in proportion to `weights`, rounding cumulatively: share `i` is
/// `round(W_i × amount ÷ W) − round(W_{i−1} × amount ÷ W)` with `W_i` the running sum of
/// weights. The shares are never negative and sum to `amount_fen` exactly, whatever the
/// rounding rule; when `amount_fen ≤ W` no share exceeds its weight. All zero when every
/// weight is zero.
pub fn apportion(amount_fen: Fen, weights: &[Fen], rounding: Rounding) -> Vec<Fen> {
    let total: i128 = weights.iter().map(|w| i128::from(w.get())).sum();
    if total <= 0 {
        return vec![Fen::ZERO; weights.len()];
    }
    let mut running: i128 = 0;
    let mut before: i64 = 0;
    weights
        .iter()
        .map(|w| {
            running += i128::from(w.get());
            let upto = rounding.round_div(running * i128::from(amount_fen.get()), total);
            let share = upto - before;
            before = upto;
            Fen::new(share)
        })
        .collect()
}

/// Refuses a negative amount in the inputs.
pub(crate) fn non_negative(what: &'static str, amount_fen: Fen) -> Result<(), LedgerError> {
    if amount_fen.is_negative() { Err(LedgerError::NegativeInput { what, amount_fen }) } else { Ok(()) }
}

/// Refuses more than `limit` items.
pub(crate) fn at_most(what: &'static str, len: usize, limit: usize) -> Result<(), LedgerError> {
    if len > limit { Err(LedgerError::TooMany { what, len, limit }) } else { Ok(()) }
}

/// Refuses a unit that is neither `scope` itself nor inside it.
pub(crate) fn unit_of(scope: RegionCode, unit: RegionCode) -> Result<(), LedgerError> {
    if scope.contains(unit) && unit.level() != RegionLevel::Province { Ok(()) } else { Err(LedgerError::UnitOutside { unit, scope }) }
}

/// Refuses a fund that is not a city's.
pub(crate) fn city_fund(fund: Fund) -> Result<(), LedgerError> {
    if fund.region.level() == RegionLevel::City { Ok(()) } else { Err(LedgerError::NotACityFund { fund }) }
}

/// How the explanations name a unit: 市本级 for the city itself, else the county.
pub(crate) fn unit_zh(unit: RegionCode) -> String {
    if unit.level() == RegionLevel::City { format!("市本级({unit})") } else { format!("县(市、区){unit}") }
}

pub(crate) fn unit_en(unit: RegionCode) -> String {
    if unit.level() == RegionLevel::City { format!("the city level ({unit})") } else { format!("county {unit}") }
}

/// Collects the steps of a plan, skipping zero amounts and ids already posted.
pub(crate) struct Steps {
    pub(crate) planned: Vec<Planned>,
    pub(crate) already_posted: usize,
}

impl Steps {
    /// Adds `transfer` unless its id is posted (counted in `already_posted`) or its amount
    /// is zero; true if added.
    pub(crate) fn add(&mut self, is_posted: &impl Fn(&TransferId) -> bool, transfer: Transfer, note: Note) -> bool {
        if is_posted(&transfer.id) {
            self.already_posted += 1;
            return false;
        }
        if transfer.amount_fen.is_zero() {
            return false;
        }
        self.planned.push(Planned { transfer, note });
        true
    }

    /// Adds both legs of an adjustment pair, or neither (zero, or already posted).
    pub(crate) fn add_pair(&mut self, is_posted: &impl Fn(&TransferId) -> bool, legs: [Transfer; 2], notes: [Note; 2]) -> bool {
        let posted = legs.iter().filter(|leg| is_posted(&leg.id)).count();
        if posted > 0 {
            self.already_posted += posted;
            return false;
        }
        if legs[0].amount_fen.is_zero() {
            return false;
        }
        for (transfer, note) in legs.into_iter().zip(notes) {
            self.planned.push(Planned { transfer, note });
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(v: i64) -> Fen {
        Fen::new(v)
    }

    #[test]
    fn apportion_sums_exactly_and_stays_within_weights() {
        // 100 fen over weights 1:1:1 → 33, 34, 33 with half-up cumulative rounding:
        // round(33.33)=33, round(66.67)=67 → 34, round(100)=100 → 33.
        assert_eq!(apportion(fen(100), &[fen(1), fen(1), fen(1)], Rounding::HalfUp), vec![fen(33), fen(34), fen(33)]);
        // Down rounding moves the odd fen to the end.
        assert_eq!(apportion(fen(100), &[fen(1), fen(1), fen(1)], Rounding::Down), vec![fen(33), fen(33), fen(34)]);
        assert_eq!(apportion(fen(0), &[fen(5), fen(7)], Rounding::HalfUp), vec![fen(0), fen(0)]);
        assert_eq!(apportion(fen(10), &[fen(0), fen(0)], Rounding::HalfUp), vec![fen(0), fen(0)]);
    }

    proptest::proptest! {
        #[test]
        fn apportion_is_exact(weights in proptest::collection::vec(0i64..1_000_000_000, 1..12), percent in 0i64..=100, rule in 0usize..4) {
            let rounding = [Rounding::HalfUp, Rounding::HalfEven, Rounding::Down, Rounding::Up][rule];
            let weights: Vec<Fen> = weights.into_iter().map(Fen::new).collect();
            let total: i64 = weights.iter().map(|w| w.get()).sum();
            let amount = Fen::new(total * percent / 100);
            let shares = apportion(amount, &weights, rounding);
            let sum: i64 = shares.iter().map(|s| s.get()).sum();
            proptest::prop_assert_eq!(sum, if total == 0 { 0 } else { amount.get() });
            for (share, weight) in shares.iter().zip(&weights) {
                proptest::prop_assert!(!share.is_negative() && share <= weight, "{share:?} of {weight:?}");
            }
        }
    }
}
