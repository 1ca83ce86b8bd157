//! SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast, seedable generator. Plenty for
//! synthetic data; never for secrets. The same seed gives the same stream on every
//! platform, which is what makes the demo city reproducible.

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    #[must_use]
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (multiply-shift: no modulo, bias below 2⁻⁶⁴·n). `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        debug_assert!(low <= high, "empty range");
        let span = high.abs_diff(low) + 1;
        low.wrapping_add_unsigned(self.below(span))
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// One item, uniformly. `items` must not be empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
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
}

/// A stream derived from some text and a salt, for decisions that must follow from a
/// record itself (whether a person paid, what they earn) rather than from a position in a
/// stream.
#[must_use]
pub fn stream_for(text: &str, salt: u64) -> SplitMix64 {
    // FNV-1a over the text, then mixed once through SplitMix64.
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325 ^ salt;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    let mut rng = SplitMix64::new(hash);
    rng.next_u64();
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_stream() {
        // First outputs of the reference implementation for seed 0 and seed 1234567.
        let mut zero = SplitMix64::new(0);
        assert_eq!(zero.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(zero.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn ranges_stay_in_bounds_and_cover_them() {
        let mut r = SplitMix64::new(7);
        let mut seen = [false; 6];
        for _ in 0..1000 {
            let n = r.range(-2, 3);
            assert!((-2..=3).contains(&n));
            seen[usize::try_from(n + 2).expect("in range")] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!((0..1000).filter(|_| r.weighted(&[0, 5, 0]) != 1).count(), 0);
    }
}
