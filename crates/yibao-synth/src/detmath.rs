//! `exp` and `ln` from IEEE-754 additions, multiplications and divisions only, which are
//! correctly rounded everywhere. The platform's `libm` may differ in the last bit between
//! systems; these do not, so a seed draws the same costs, to the fen, on every machine.
//! Accurate to a few units in the last place: plenty for sampling distributions.

const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// `e^x`. Range reduction `x = k·ln 2 + r` with `|r| ≤ ln 2 / 2`, then a Taylor series
/// of degree 14 for `e^r`, scaled by `2^k`.
#[must_use]
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -708.0 {
        return 0.0;
    }
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=14 {
        term *= r / f64::from(i);
        sum += term;
    }
    // k is in -1022..=1023 here, so 2^k is a normal number.
    let k = k as i64;
    sum * f64::from_bits(((k + 1023) as u64) << 52)
}

/// `ln x` for `x > 0` (NaN otherwise). `x = m·2^e` with `m` in `[√½, √2)`, then
/// `ln m = 2·atanh((m−1)/(m+1))` by its series.
#[must_use]
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return x;
    }
    let mut bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7FF) as i64;
    if exponent == 0 {
        // Subnormal: scale into the normal range first.
        let scaled = x * f64::from_bits(((54 + 1023) as u64) << 52);
        bits = scaled.to_bits();
        exponent = ((bits >> 52) & 0x7FF) as i64 - 54;
    }
    let mut e = exponent - 1023;
    let mut m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut power = s;
    let mut series = 0.0;
    let mut odd = 1.0;
    while odd < 40.0 {
        series += power / odd;
        power *= s2;
        odd += 2.0;
    }
    let e = e as f64;
    (e * LN2_HI + 2.0 * series) + e * LN2_LO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_platform_to_a_few_ulps() {
        let mut x = -60.0;
        while x < 60.0 {
            let (ours, std) = (exp(x), x.exp());
            assert!(((ours - std) / std).abs() < 1e-14, "exp({x}) = {ours}, std {std}");
            x += 0.0137;
        }
        for &y in &[1e-300, 1e-20, 0.001, 0.5, 0.707, 0.708, 1.0, 1.414, 1.415, 1.5, 2.0, 10.0, 7_700.0, 1e12, 1e300] {
            let (ours, std) = (ln(y), y.ln());
            assert!((ours - std).abs() < 1e-14 * std.abs().max(1.0), "ln({y}) = {ours}, std {std}");
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert!(ln(0.0).is_nan() && ln(-1.0).is_nan());
        assert_eq!(exp(-800.0), 0.0);
    }
}
