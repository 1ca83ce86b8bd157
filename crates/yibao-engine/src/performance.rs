//! A commercial administrator's quarterly performance score (绩效考核, R-TPA-3; issue 18
//! item 4): each indicator of the contract scored against its target, weighted by the
//! contract, and the reward or penalty the score earns as a share of the quarter's
//! administration fee; below the contract's floor the renewal is not recommended.
//!
//! Integer throughout: an indicator's achievement and the score are whole basis points,
//! rounded half up; the reward is fen under the pack's rounding. What the indicators
//! measure (turnaround days, the error rate the bureau's sample found, complaints, the
//! satisfaction survey) is the caller's to count from its records; here they are numbers in
//! the indicator's own unit.

use yibao_domain::{Fen, RatioBp, Rounding};

/// Most indicators one contract scores.
pub const KPIS_MAX: usize = 16;

/// Whether more of an indicator is better (satisfaction) or worse (days to pay, errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// One indicator of a quarter: its weight in the score, its target and what was achieved,
/// in its own unit (days, basis points, counts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kpi {
    pub name: String,
    pub weight_bp: u32,
    pub direction: Direction,
    pub target: u64,
    pub actual: u64,
}

/// An indicator as scored: its achievement (the share of its target met, at most all of
/// it) and the points it adds (its weight times its achievement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KpiScore {
    pub name: String,
    pub achievement_bp: u32,
    pub points_bp: u32,
}

/// One band of the contract's rewards: from this score up (to the next band), the quarter's
/// administration fee is adjusted by `adjustment_bp` (a reward above zero, a penalty below).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Band {
    pub from_score_bp: u32,
    pub adjustment_bp: i32,
}

/// The renewal the score recommends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    Recommended,
    NotRecommended,
}

/// A quarter scored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarterScore {
    pub kpis: Vec<KpiScore>,
    pub score_bp: u32,
    /// The reward (above zero) or penalty (below) on the quarter's administration fee.
    pub adjustment_fen: Fen,
    pub renewal: Renewal,
}

/// A contract's scoring terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoringTerms {
    /// The bands, any order; a score below every band earns nothing either way.
    pub bands: Vec<Band>,
    /// A score below this does not recommend the contract's renewal.
    pub renewal_floor_bp: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PerformanceError {
    #[error("a contract scores 1 to {KPIS_MAX} indicators, not {0}")]
    Kpis(usize),
    #[error("the indicators' weights add up to {0} bp, not 10000")]
    Weights(u64),
    #[error("indicator '{0}': a target of zero cannot be met by more of it")]
    ZeroTarget(String),
    #[error("a band adjusts the fee by at most 100% either way")]
    Band,
}

impl PerformanceError {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "performance.bad_terms"
    }
}

/// `numerator ÷ denominator`, half up (both at least zero, the denominator above).
fn half_up(numerator: u128, denominator: u128) -> u128 {
    (numerator * 2 + denominator) / (denominator * 2)
}

/// Scores a quarter's indicators under `terms` and computes the fee's adjustment on
/// `fee_fen`, the quarter's administration fee.
pub fn score_quarter(kpis: &[Kpi], terms: &ScoringTerms, fee_fen: Fen, rounding: Rounding) -> Result<QuarterScore, PerformanceError> {
    if kpis.is_empty() || kpis.len() > KPIS_MAX {
        return Err(PerformanceError::Kpis(kpis.len()));
    }
    let weights: u64 = kpis.iter().map(|k| u64::from(k.weight_bp)).sum();
    if weights != 10_000 {
        return Err(PerformanceError::Weights(weights));
    }
    if terms.bands.iter().any(|b| b.adjustment_bp.unsigned_abs() > 10_000) {
        return Err(PerformanceError::Band);
    }
    let mut scored = Vec::with_capacity(kpis.len());
    for kpi in kpis {
        let achievement = match kpi.direction {
            Direction::HigherIsBetter if kpi.target == 0 => return Err(PerformanceError::ZeroTarget(kpi.name.clone())),
            Direction::HigherIsBetter => half_up(u128::from(kpi.actual) * 10_000, u128::from(kpi.target)),
            Direction::LowerIsBetter if kpi.actual <= kpi.target => 10_000,
            Direction::LowerIsBetter => half_up(u128::from(kpi.target) * 10_000, u128::from(kpi.actual)),
        }
        .min(10_000);
        let points = half_up(u128::from(kpi.weight_bp) * achievement, 10_000);
        scored.push(KpiScore {
            name: kpi.name.clone(),
            achievement_bp: u32::try_from(achievement).unwrap_or(10_000),
            points_bp: u32::try_from(points).unwrap_or(10_000),
        });
    }
    let score_bp = scored.iter().map(|k| k.points_bp).sum::<u32>().min(10_000);
    let band = terms.bands.iter().filter(|b| b.from_score_bp <= score_bp).max_by_key(|b| b.from_score_bp);
    let adjustment_fen = band.map_or(Fen::ZERO, |band| {
        let amount = rounding.apply(fee_fen, RatioBp::new(band.adjustment_bp.unsigned_abs()));
        if band.adjustment_bp < 0 { Fen::ZERO - amount } else { amount }
    });
    let renewal = if score_bp >= terms.renewal_floor_bp { Renewal::Recommended } else { Renewal::NotRecommended };
    Ok(QuarterScore { kpis: scored, score_bp, adjustment_fen, renewal })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> ScoringTerms {
        ScoringTerms {
            bands: vec![
                Band { from_score_bp: 9_000, adjustment_bp: 500 },
                Band { from_score_bp: 8_000, adjustment_bp: 300 },
                Band { from_score_bp: 7_000, adjustment_bp: 0 },
                Band { from_score_bp: 0, adjustment_bp: -500 },
            ],
            renewal_floor_bp: 7_000,
        }
    }

    fn kpi(name: &str, weight_bp: u32, direction: Direction, target: u64, actual: u64) -> Kpi {
        Kpi { name: name.into(), weight_bp, direction, target, actual }
    }

    /// Issue 18's worked example by hand. A county's 300,000 residents at 9 yuan a year of
    /// administration fee: 675,000.00 yuan a quarter.
    /// - days from submission to payment, target 10, achieved 12 (lower is better):
    ///   10/12 = 83.33% → 8,333 bp; weight 30% → 2,499.9 → 2,500 bp;
    /// - the error rate the bureau's sample found, target 2.00%, found 3.00%: 200/300 →
    ///   6,667 bp; weight 40% → 2,666.8 → 2,667 bp;
    /// - complaints per 10,000 claims, target 5, 4 (better than the target) → 10,000 bp;
    ///   weight 15% → 1,500 bp;
    /// - satisfaction, target 90.00%, surveyed 93.00% (capped at the target) → 10,000 bp;
    ///   weight 15% → 1,500 bp.
    ///
    /// Score 8,167 bp: the band from 8,000 rewards 3% of the fee, 20,250.00 yuan; above the
    /// floor of 7,000 the renewal is recommended.
    #[test]
    fn a_quarter_is_scored_with_the_contracts_weights_and_earns_its_reward() {
        let kpis = [
            kpi("turnaround days", 3_000, Direction::LowerIsBetter, 10, 12),
            kpi("error rate bp", 4_000, Direction::LowerIsBetter, 200, 300),
            kpi("complaints per 10,000 claims", 1_500, Direction::LowerIsBetter, 5, 4),
            kpi("satisfaction bp", 1_500, Direction::HigherIsBetter, 9_000, 9_300),
        ];
        let fee = Fen::yuan(300_000 * 9 / 4);
        let quarter = score_quarter(&kpis, &terms(), fee, Rounding::HalfUp).expect("scored");
        let points: Vec<(u32, u32)> = quarter.kpis.iter().map(|k| (k.achievement_bp, k.points_bp)).collect();
        assert_eq!(points, [(8_333, 2_500), (6_667, 2_667), (10_000, 1_500), (10_000, 1_500)]);
        assert_eq!((quarter.score_bp, quarter.adjustment_fen, quarter.renewal), (8_167, Fen::yuan(20_250), Renewal::Recommended));
    }

    #[test]
    fn a_poor_quarter_is_penalised_and_not_recommended() {
        let kpis = [
            kpi("turnaround days", 5_000, Direction::LowerIsBetter, 10, 30),
            kpi("error rate bp", 5_000, Direction::LowerIsBetter, 200, 1_000),
        ];
        // 3,333 × 50% = 1,666.5 → 1,667; 2,000 × 50% = 1,000: 2,667 bp.
        let quarter = score_quarter(&kpis, &terms(), Fen::new(100_001), Rounding::HalfUp).expect("scored");
        assert_eq!(quarter.score_bp, 2_667);
        assert_eq!(quarter.adjustment_fen, Fen::new(-5_000), "5% of 1,000.01 yuan is 50.0005 yuan: 50.00 at the fen");
        assert_eq!(quarter.renewal, Renewal::NotRecommended);
    }

    #[test]
    fn terms_that_do_not_add_up_are_refused() {
        let one = |weight| [kpi("days", weight, Direction::LowerIsBetter, 10, 12)];
        assert_eq!(score_quarter(&one(9_999), &terms(), Fen::ZERO, Rounding::HalfUp), Err(PerformanceError::Weights(9_999)));
        assert_eq!(score_quarter(&[], &terms(), Fen::ZERO, Rounding::HalfUp), Err(PerformanceError::Kpis(0)));
        let zero = [kpi("surveyed", 10_000, Direction::HigherIsBetter, 0, 5)];
        assert!(matches!(score_quarter(&zero, &terms(), Fen::ZERO, Rounding::HalfUp), Err(PerformanceError::ZeroTarget(_))));
        let wild = ScoringTerms { bands: vec![Band { from_score_bp: 0, adjustment_bp: -10_001 }], renewal_floor_bp: 0 };
        assert_eq!(score_quarter(&one(10_000), &wild, Fen::ZERO, Rounding::HalfUp), Err(PerformanceError::Band));
        // A lower-is-better indicator at zero meets any target.
        let perfect = [kpi("complaints", 10_000, Direction::LowerIsBetter, 0, 0)];
        assert_eq!(score_quarter(&perfect, &terms(), Fen::ZERO, Rounding::HalfUp).expect("scored").score_bp, 10_000);
    }
}
