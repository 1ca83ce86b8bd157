//! The year-end clearing of one institution (年终清算, 结余留用、合理超支分担), and the split of a
//! budget into institution budgets.

use serde::Serialize;
use yibao_domain::{Fen, Rounding};

use crate::pack::{Clearing, ClearingBand};

/// Which way an institution's billing went against its standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deviation {
    /// Billed less than the standard (结余).
    Surplus,
    /// Billed more than the standard (超支).
    Overspend,
    Even,
}

/// The clearing of a standard against what was billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cleared {
    /// What the methods say the institution earns (points at the year's value, a global budget).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub standard: Fen,
    /// What its claims' fund layers came to (fee-for-service).
    #[serde(with = "yibao_domain::serde_yuan")]
    pub billed: Fen,
    pub deviation: Deviation,
    /// The surplus kept by the institution, or the overspend covered by the fund.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub shared: Fen,
    /// What the fund owes: `billed + kept` for a surplus, `standard + covered` for an
    /// overspend.
    #[serde(with = "yibao_domain::serde_yuan")]
    pub paid: Fen,
}

/// Clears `standard` against `billed` by the pack's bands: each band takes the part of the
/// deviation between the previous band's bound and its own (both as shares of the
/// standard), and the band's share of that part is kept (surplus) or covered (overspend);
/// beyond the last band nothing is; the total is capped by the pack's cap.
#[must_use]
pub fn clear(standard: Fen, billed: Fen, clearing: &Clearing, rounding: Rounding) -> Cleared {
    let (deviation, amount, bands, cap) = if billed < standard {
        (Deviation::Surplus, standard - billed, &clearing.surplus, clearing.surplus_cap)
    } else if billed > standard {
        (Deviation::Overspend, billed - standard, &clearing.overspend, clearing.overspend_cap)
    } else {
        (Deviation::Even, Fen::ZERO, &clearing.surplus, None)
    };
    let mut shared = banded(amount, standard, bands, rounding);
    if let Some(cap) = cap {
        shared = shared.min(rounding.apply(standard, cap));
    }
    let paid = match deviation {
        Deviation::Surplus => billed + shared,
        Deviation::Overspend => standard + shared,
        Deviation::Even => standard,
    };
    debug_assert!(paid >= billed.min(standard) && paid <= billed.max(standard), "a clearing pays between the standard and the bill");
    Cleared { standard, billed, deviation, shared, paid }
}

fn banded(amount: Fen, standard: Fen, bands: &[ClearingBand], rounding: Rounding) -> Fen {
    let mut lower = Fen::ZERO;
    let mut shared = Fen::ZERO;
    for band in bands {
        let upper = rounding.apply(standard, band.up_to);
        if amount <= lower {
            break;
        }
        let part = amount.min(upper) - lower;
        shared += rounding.apply(part, band.share);
        lower = upper;
    }
    shared
}

/// Splits `total` into shares proportional to `weights` (prior-year amounts), rounding
/// cumulatively so the shares add up to `total` exactly. All weights zero: equal shares.
#[must_use]
pub fn split(total: Fen, weights: &[Fen], rounding: Rounding) -> Vec<Fen> {
    if weights.is_empty() {
        return Vec::new();
    }
    let all_zero = weights.iter().all(|w| *w <= Fen::ZERO);
    let weight = |w: Fen| if all_zero { 1_i128 } else { i128::from(w.get().max(0)) };
    let sum: i128 = weights.iter().map(|w| weight(*w)).sum();
    let mut running = 0_i128;
    let mut given = 0_i64;
    weights
        .iter()
        .map(|w| {
            running += weight(*w);
            let upto = rounding.round_div(i128::from(total.get()) * running, sum);
            let share = upto - given;
            given = upto;
            Fen::new(share)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use yibao_domain::RatioBp;

    use super::*;

    fn bands(pairs: &[(u32, u32)]) -> Vec<ClearingBand> {
        pairs.iter().map(|(up_to, share)| ClearingBand { up_to: RatioBp::new(*up_to), share: RatioBp::new(*share) }).collect()
    }

    fn clearing() -> Clearing {
        // Surplus: the first 10% of the standard kept whole, the next 10% half; overspend:
        // the first 10% covered 70%, the next 10% 30%, nothing beyond; covered at most 8%.
        Clearing {
            surplus: bands(&[(1_000, 10_000), (2_000, 5_000)]),
            overspend: bands(&[(1_000, 7_000), (2_000, 3_000)]),
            surplus_cap: None,
            overspend_cap: Some(RatioBp::new(800)),
            cite: "assumption: test".into(),
        }
    }

    #[test]
    fn clears_by_progressive_bands() {
        let c = clearing();
        let standard = Fen::yuan(1_000_000);
        // Billed 950,000: a 50,000 surplus inside the first band, kept whole.
        let r = clear(standard, Fen::yuan(950_000), &c, Rounding::HalfUp);
        assert_eq!((r.deviation, r.shared, r.paid), (Deviation::Surplus, Fen::yuan(50_000), Fen::yuan(1_000_000)));
        // Billed 750,000: 250,000 surplus = 100,000 kept + 100,000 × 50% + 50,000 × 0.
        let r = clear(standard, Fen::yuan(750_000), &c, Rounding::HalfUp);
        assert_eq!((r.shared, r.paid), (Fen::yuan(150_000), Fen::yuan(900_000)));
        // Billed 1,150,000: 150,000 overspend = 100,000 × 70% + 50,000 × 30% = 85,000,
        // capped at 8% of the standard: 80,000.
        let r = clear(standard, Fen::yuan(1_150_000), &c, Rounding::HalfUp);
        assert_eq!((r.deviation, r.shared, r.paid), (Deviation::Overspend, Fen::yuan(80_000), Fen::yuan(1_080_000)));
        let r = clear(standard, standard, &c, Rounding::HalfUp);
        assert_eq!((r.deviation, r.paid), (Deviation::Even, standard));
    }

    #[test]
    fn splits_to_the_fen() {
        let shares = split(Fen::new(100), &[Fen::new(1), Fen::new(1), Fen::new(1)], Rounding::HalfUp);
        assert_eq!(shares, vec![Fen::new(33), Fen::new(34), Fen::new(33)]);
        assert_eq!(split(Fen::new(10), &[Fen::ZERO, Fen::ZERO], Rounding::HalfUp), vec![Fen::new(5), Fen::new(5)]);
    }
}
