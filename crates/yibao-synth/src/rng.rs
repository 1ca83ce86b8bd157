//! Seeded randomness: SplitMix64 (Steele, Lea and Flood, 2014), streams derived from
//! (seed, purpose, index) so that any block of persons or any person's year can be
//! generated alone, in any order, on any thread, and the sampling distributions the
//! generator needs (uniform, normal, log-normal, Poisson) computed with
//! [`crate::detmath`] so that the same seed gives the same city on every machine.

use crate::detmath;

/// A SplitMix64 stream. Plenty for synthetic data; never for secrets.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

/// SplitMix64's output function: a bijective mix of 64 bits.
#[must_use]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Purposes of the derived streams: one stream per (seed, purpose, index).
pub(crate) mod purpose {
    pub const BLOCK: u64 = 1;
    pub const PERSON_YEAR: u64 = 2;
    pub const CLAIM_LINES: u64 = 3;
    pub const IDENTITY: u64 = 4;
    pub const PAYMENT: u64 = 5;
    pub const LEGACY: u64 = 6;
    pub const LEGACY_STAY: u64 = 7;
}

impl SplitMix64 {
    #[must_use]
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The stream for `index` of `purpose` under `seed`: independent of every other
    /// (purpose, index) pair, so generation order never changes a value.
    #[must_use]
    pub const fn derived(seed: u64, purpose: u64, index: u64) -> SplitMix64 {
        SplitMix64::new(mix64(mix64(seed ^ purpose.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// A number in `0..n` (multiply-shift: no modulo; bias below 2⁻⁶⁴·n). `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        debug_assert!(low <= high, "empty range");
        low.wrapping_add_unsigned(self.below(high.abs_diff(low) + 1))
    }

    /// True with probability `bp` / 10 000.
    pub fn chance_bp(&mut self, bp: u32) -> bool {
        self.below(10_000) < u64::from(bp)
    }

    /// An index drawn with the given integer weights (at least one must be positive).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut draw = self.below(total);
        for (index, &weight) in weights.iter().enumerate() {
            if draw < u64::from(weight) {
                return index;
            }
            draw -= u64::from(weight);
        }
        weights.len() - 1
    }

    /// One of `items`, uniformly (`items` must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).expect("a slice index")]
    }

    /// A uniform number in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal number (Marsaglia's polar method: square root and logarithm only).
    pub fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.unit() - 1.0;
            let v = 2.0 * self.unit() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * detmath::ln(s) / s).sqrt();
            }
        }
    }

    /// A log-normal number with the given mean and log-scale σ: `exp(μ + σ·z)` with
    /// `μ = ln(mean) − σ²/2`, so that its expectation is `mean`.
    pub fn lognormal(&mut self, mean: f64, sigma: f64) -> f64 {
        let mu = detmath::ln(mean) - sigma * sigma / 2.0;
        detmath::exp(mu + sigma * self.normal())
    }

    /// A multiplier with mean 1 and log-scale σ: a person's frailty, which makes counts
    /// over-dispersed (some people use far more care than others).
    pub fn frailty(&mut self, sigma: f64) -> f64 {
        self.lognormal(1.0, sigma)
    }

    /// A Poisson count with mean `lambda` (Knuth's product of uniforms, in slices of at most
    /// 30 so that `exp(−λ)` never underflows), at most `cap`.
    pub fn poisson(&mut self, lambda: f64, cap: u32) -> u32 {
        let mut left = lambda.max(0.0);
        let mut count = 0u32;
        while left > 0.0 && count < cap {
            let slice = left.min(30.0);
            left -= slice;
            let limit = detmath::exp(-slice);
            let mut product = self.unit();
            while product > limit && count < cap {
                count += 1;
                product *= self.unit();
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_stream() {
        // First outputs of the reference implementation for seed 0.
        let mut zero = SplitMix64::new(0);
        assert_eq!(zero.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(zero.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn derived_streams_differ_by_purpose_and_index() {
        let a = SplitMix64::derived(7, purpose::BLOCK, 0).next_u64();
        let b = SplitMix64::derived(7, purpose::BLOCK, 1).next_u64();
        let c = SplitMix64::derived(7, purpose::PERSON_YEAR, 0).next_u64();
        let d = SplitMix64::derived(8, purpose::BLOCK, 0).next_u64();
        assert!(a != b && a != c && a != d && b != c);
        assert_eq!(a, SplitMix64::derived(7, purpose::BLOCK, 0).next_u64());
    }

    #[test]
    fn distributions_have_their_means() {
        let mut r = SplitMix64::new(42);
        let n = 200_000;
        let normal: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / f64::from(n);
        assert!(normal.abs() < 0.01, "normal mean {normal}");
        let lognormal: f64 = (0..n).map(|_| r.lognormal(7_700.0, 0.9)).sum::<f64>() / f64::from(n);
        assert!((lognormal / 7_700.0 - 1.0).abs() < 0.02, "log-normal mean {lognormal}");
        let poisson: f64 = (0..n).map(|_| f64::from(r.poisson(6.8, 1_000))).sum::<f64>() / f64::from(n);
        assert!((poisson / 6.8 - 1.0).abs() < 0.01, "poisson mean {poisson}");
        let big: f64 = (0..20_000).map(|_| f64::from(r.poisson(75.0, 1_000))).sum::<f64>() / 20_000.0;
        assert!((big / 75.0 - 1.0).abs() < 0.01, "poisson(75) mean {big}");
        assert_eq!(r.poisson(1_000.0, 40), 40);
        assert!((0..1000).all(|_| r.weighted(&[0, 5, 0]) == 1));
    }
}
