//! Layered review of settled claims (分级审核, R-TPA-2; issue 18 item 2): which claims an
//! administrator reviews, and what the bureau's sample of the administrator's work says of
//! the whole population of claims.
//!
//! - **Selection.** An administrator reviews every claim whose fund payment reaches the
//!   contract's threshold and a random share of the rest. "Random" is a keyed draw: a
//!   claim is in the sample when a hash of the review's seed and the claim's key falls
//!   below the share, so the sample is drawn again, claim for claim, by anyone holding the
//!   seed (recorded with the review; the caller draws it, the engine has no randomness).
//! - **Extrapolation.** The bureau audits a sample of each stratum of claims (a census of
//!   the claims above the threshold, a sample of the rest) and extrapolates the errors it
//!   finds: the claims in error and the error rate, with a 95% confidence interval, and the
//!   amount disallowed, a ratio estimate per stratum (what the sample disallowed, scaled
//!   from the sample's fund payments to the stratum's) rounded by the pack's rule.
//!
//! The interval is a statistic, not money: it is computed in `f64` and reported in whole
//! basis points and whole claims, rounded to the nearest. With one stratum it is the Wilson
//! score interval (sound for a few errors in a small sample, where the normal approximation
//! is not); with several, the stratified normal interval with each stratum's finite
//! population correction (a census stratum adds no variance).

use yibao_domain::{Fen, Rounding};

/// The normal quantile of a two-sided 95% interval.
pub const Z_95: f64 = 1.959_964;

/// Most strata one extrapolation takes.
pub const STRATA_MAX: usize = 32;

/// An administrator's review rule: every claim whose fund payment is `threshold_fen` or
/// more, and `sample_rate_bp` of the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewRule {
    pub threshold_fen: Fen,
    pub sample_rate_bp: u32,
}

/// Why a claim is reviewed, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Its fund payment reaches the threshold: every such claim is reviewed.
    AboveThreshold,
    /// Drawn into the sample of the rest.
    Sampled,
    NotSelected,
}

/// Whether the claim `claim_key` (its institution and claim id, as the register writes
/// them) paying `fund_paid` is reviewed under `rule` in the review drawn with `seed`.
#[must_use]
pub fn selected_for_review(rule: ReviewRule, seed: u64, claim_key: &str, fund_paid: Fen) -> Selection {
    if fund_paid >= rule.threshold_fen {
        return Selection::AboveThreshold;
    }
    if draw_bp(seed, claim_key) < rule.sample_rate_bp { Selection::Sampled } else { Selection::NotSelected }
}

/// Whether `claim_key` is drawn into a sample of `rate_bp` with `seed`, whatever it paid:
/// the bureau's audit sample of an administrator's claims.
#[must_use]
pub fn drawn(seed: u64, claim_key: &str, rate_bp: u32) -> bool {
    draw_bp(seed, claim_key) < rate_bp
}

/// A keyed draw in `0..10_000`: FNV-1a over the key, mixed with the seed by the SplitMix64
/// finaliser. Fixed here, because a recorded seed must draw the same sample for ever.
fn draw_bp(seed: u64, key: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = hash ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    u32::try_from(z % 10_000).unwrap_or(0)
}

/// One stratum of the population as the bureau sampled it: its claims and their fund
/// payments, the sample's, and what the sample found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stratum {
    pub population_claims: u64,
    pub population_fen: Fen,
    pub sampled_claims: u64,
    pub sampled_fen: Fen,
    pub claims_in_error: u64,
    /// What the findings in the sample disallowed.
    pub disallowed_fen: Fen,
}

/// What a sample says of the population.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extrapolation {
    pub population_claims: u64,
    /// The claims in error the population is estimated to hold, with the 95% interval.
    pub claims_in_error: u64,
    pub claims_in_error_low: u64,
    pub claims_in_error_high: u64,
    /// The same as a share of the population's claims.
    pub error_rate_bp: u32,
    pub error_rate_low_bp: u32,
    pub error_rate_high_bp: u32,
    /// What the population's errors are estimated to have paid: each stratum's sample's
    /// disallowed amount scaled by its fund payments, under the pack's rounding.
    pub disallowed_fen: Fen,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("an extrapolation takes 1 to {STRATA_MAX} strata, not {0}")]
    Strata(usize),
    #[error("stratum {index}: {why}")]
    Stratum { index: usize, why: &'static str },
}

impl ReviewError {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "review.bad_sample"
    }
}

/// Extrapolates the errors the bureau's sample found in `strata` to the population.
pub fn extrapolate(strata: &[Stratum], rounding: Rounding) -> Result<Extrapolation, ReviewError> {
    if strata.is_empty() || strata.len() > STRATA_MAX {
        return Err(ReviewError::Strata(strata.len()));
    }
    for (index, stratum) in strata.iter().enumerate() {
        let why = if stratum.sampled_claims == 0 {
            Some("nothing sampled")
        } else if stratum.sampled_claims > stratum.population_claims {
            Some("more claims sampled than the stratum has")
        } else if stratum.claims_in_error > stratum.sampled_claims {
            Some("more claims in error than sampled")
        } else if stratum.sampled_fen.is_negative() || stratum.population_fen.is_negative() || stratum.disallowed_fen.is_negative() {
            Some("a negative amount")
        } else if stratum.sampled_fen > stratum.population_fen || stratum.disallowed_fen > stratum.sampled_fen {
            Some("the sample pays more than the stratum, or disallows more than it paid")
        } else if stratum.sampled_fen.is_zero() && !stratum.disallowed_fen.is_zero() {
            Some("an amount disallowed from a sample that paid nothing")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(ReviewError::Stratum { index, why });
        }
    }
    let population: u64 = strata.iter().map(|s| s.population_claims).sum();
    let as_f64 = |n: u64| n as f64;
    let (estimate, low, high) = if let [only] = strata {
        let (low, high) = wilson(only.claims_in_error, only.sampled_claims);
        let scale = as_f64(only.population_claims);
        (as_f64(only.claims_in_error) / as_f64(only.sampled_claims) * scale, low * scale, high * scale)
    } else {
        let mut estimate = 0.0;
        let mut variance = 0.0;
        for s in strata {
            let (big, small) = (as_f64(s.population_claims), as_f64(s.sampled_claims));
            let rate = as_f64(s.claims_in_error) / small;
            estimate += big * rate;
            if s.sampled_claims > 1 && s.sampled_claims < s.population_claims {
                variance += big * big * (1.0 - small / big) * rate * (1.0 - rate) / (small - 1.0);
            }
        }
        let half = Z_95 * variance.sqrt();
        (estimate, (estimate - half).max(0.0), (estimate + half).min(as_f64(population)))
    };
    let claims = |x: f64| x.round() as u64;
    let bp = |x: f64| if population == 0 { 0 } else { (x / as_f64(population) * 10_000.0).round() as u32 };
    let mut disallowed = Fen::ZERO;
    for s in strata.iter().filter(|s| !s.sampled_fen.is_zero()) {
        disallowed += rounding.scale(s.disallowed_fen, s.population_fen.get(), s.sampled_fen.get());
    }
    Ok(Extrapolation {
        population_claims: population,
        claims_in_error: claims(estimate),
        claims_in_error_low: claims(low),
        claims_in_error_high: claims(high),
        error_rate_bp: bp(estimate),
        error_rate_low_bp: bp(low),
        error_rate_high_bp: bp(high),
        disallowed_fen: disallowed,
    })
}

/// The Wilson score interval of `errors` in `sampled`, as rates.
fn wilson(errors: u64, sampled: u64) -> (f64, f64) {
    let n = sampled as f64;
    let p = errors as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z_95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(y: i64) -> Fen {
        Fen::yuan(y)
    }

    /// The sample: 200 claims of 8,000 (paying 600,000 of 24,000,000 yuan), 6 in
    /// error disallowing 18,000 yuan.
    fn the_sample_of_200() -> Stratum {
        Stratum {
            population_claims: 8_000,
            population_fen: yuan(24_000_000),
            sampled_claims: 200,
            sampled_fen: yuan(600_000),
            claims_in_error: 6,
            disallowed_fen: yuan(18_000),
        }
    }

    /// Issue 18's worked example by hand: 200 claims sampled of 8,000 (paying 600,000 of
    /// 24,000,000 yuan), 6 in error disallowing 18,000 yuan. Rate 6/200 = 3.00%; Wilson 95%:
    /// p = 0.03, z² = 3.8415, centre = (0.03 + 3.8415/400) / (1 + 3.8415/200) = 0.038858,
    /// half = 1.959964 / 1.019208 × √(0.03 × 0.97 / 200 + 3.8415/160,000) = 0.025038, so
    /// 1.382% to 6.389% (138 and 639 bp), 110.6 to 511.2 claims of 8,000; the amount is
    /// 18,000 × 24,000,000 / 600,000 = 720,000.00 yuan.
    #[test]
    fn a_sample_of_200_with_6_errors_extrapolates_to_the_population() {
        let sample = the_sample_of_200();
        let found = extrapolate(&[sample], Rounding::HalfUp).expect("a sample");
        assert_eq!(
            found,
            Extrapolation {
                population_claims: 8_000,
                claims_in_error: 240,
                claims_in_error_low: 111,
                claims_in_error_high: 511,
                error_rate_bp: 300,
                error_rate_low_bp: 138,
                error_rate_high_bp: 639,
                disallowed_fen: yuan(720_000),
            }
        );
    }

    /// A census of the 120 claims above the threshold (4 in error, 9,000 yuan of 1,200,000
    /// disallowed) beside the sample above. Claims in error: 4 + 8,000 × 6/200 = 244;
    /// variance: the census adds none, the sample 8,000² × (1 − 200/8,000) × 0.03 × 0.97 /
    /// 199 = 9,124.8, so ± 1.959964 × 95.52 = ± 187.2: 56.8 to 431.2 claims of 8,120
    /// (0.70% to 5.31%); the amount 9,000 + 720,000 = 729,000.00 yuan.
    #[test]
    fn a_census_stratum_adds_its_errors_and_no_variance() {
        let census = Stratum {
            population_claims: 120,
            population_fen: yuan(1_200_000),
            sampled_claims: 120,
            sampled_fen: yuan(1_200_000),
            claims_in_error: 4,
            disallowed_fen: yuan(9_000),
        };
        let sample = the_sample_of_200();
        let found = extrapolate(&[census, sample], Rounding::HalfUp).expect("strata");
        assert_eq!((found.claims_in_error, found.claims_in_error_low, found.claims_in_error_high), (244, 57, 431), "{found:?}");
        assert_eq!((found.error_rate_bp, found.error_rate_low_bp, found.error_rate_high_bp), (300, 70, 531), "{found:?}");
        assert_eq!(found.disallowed_fen, yuan(729_000));
    }

    #[test]
    fn the_amount_is_rounded_by_the_packs_rule_and_a_clean_sample_finds_nothing() {
        // 1.00 disallowed of 3.00 sampled, scaled to 10.00: 3.333… rounds to 3.33.
        let odd = Stratum {
            population_claims: 10,
            population_fen: Fen::new(1_000),
            sampled_claims: 3,
            sampled_fen: Fen::new(300),
            claims_in_error: 1,
            disallowed_fen: Fen::new(100),
        };
        assert_eq!(extrapolate(std::slice::from_ref(&odd), Rounding::HalfUp).expect("ok").disallowed_fen, Fen::new(333));
        let clean = Stratum { claims_in_error: 0, disallowed_fen: Fen::ZERO, ..odd };
        let found = extrapolate(&[clean], Rounding::HalfUp).expect("ok");
        assert_eq!((found.claims_in_error, found.claims_in_error_low, found.disallowed_fen), (0, 0, Fen::ZERO));
        assert!(found.error_rate_high_bp > 0, "no error found is not proof of none: {found:?}");
    }

    #[test]
    fn an_impossible_sample_is_refused() {
        let good = Stratum {
            population_claims: 10,
            population_fen: Fen::new(1_000),
            sampled_claims: 3,
            sampled_fen: Fen::new(300),
            claims_in_error: 1,
            disallowed_fen: Fen::new(100),
        };
        for bad in [
            Stratum { sampled_claims: 0, ..good.clone() },
            Stratum { sampled_claims: 11, ..good.clone() },
            Stratum { claims_in_error: 4, ..good.clone() },
            Stratum { disallowed_fen: Fen::new(301), ..good.clone() },
            Stratum { sampled_fen: Fen::new(1_001), ..good.clone() },
            Stratum { disallowed_fen: Fen::new(-1), ..good.clone() },
        ] {
            assert!(
                matches!(extrapolate(std::slice::from_ref(&bad), Rounding::HalfUp), Err(ReviewError::Stratum { index: 0, .. })),
                "{bad:?}"
            );
        }
        assert_eq!(extrapolate(&[], Rounding::HalfUp), Err(ReviewError::Strata(0)));
    }

    #[test]
    fn the_sample_is_drawn_again_claim_for_claim_from_its_seed() {
        let rule = ReviewRule { threshold_fen: yuan(10_000), sample_rate_bp: 500 };
        let keys: Vec<String> = (0..10_000).map(|n| format!("H41992100007/C{n:06}")).collect();
        let draw = |seed| keys.iter().filter(|k| selected_for_review(rule, seed, k, yuan(100)) == Selection::Sampled).count();
        let (first, again, other) = (draw(7), draw(7), draw(8));
        assert_eq!(first, again, "the same seed draws the same sample");
        assert!((400..=600).contains(&first) && (400..=600).contains(&other), "about 5%: {first}, {other}");
        let same: Vec<bool> = keys.iter().map(|k| selected_for_review(rule, 7, k, yuan(100)) == Selection::Sampled).collect();
        let moved: Vec<bool> = keys.iter().map(|k| selected_for_review(rule, 8, k, yuan(100)) == Selection::Sampled).collect();
        assert_ne!(same, moved, "another seed, another sample");
        assert_eq!(selected_for_review(rule, 7, &keys[0], yuan(10_000)), Selection::AboveThreshold);
        let none = ReviewRule { sample_rate_bp: 0, ..rule };
        let all = ReviewRule { sample_rate_bp: 10_000, ..rule };
        assert!(keys.iter().all(|k| selected_for_review(none, 7, k, yuan(1)) == Selection::NotSelected));
        assert!(keys.iter().all(|k| selected_for_review(all, 7, k, yuan(1)) == Selection::Sampled));
    }
}
