//! Money in integer fen and ratios in integer basis points, with one named rounding step.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// Largest amount any single value may hold: 10 billion yuan. Far above any claim, cap or
/// fund balance of a city, and far below `i64::MAX / 10_000`, so `amount × ratio` never
/// overflows in `i128` and sums of millions of amounts never overflow in `i64`.
pub const FEN_LIMIT: i64 = 1_000_000_000_000;

/// The largest sum of amounts (an account's posted totals over its life): ten million
/// times [`FEN_LIMIT`], far below `i64::MAX`, so adding one more amount cannot overflow.
pub const TOTAL_LIMIT_FEN: i64 = 1_000_000_000_000_000_000;

/// An amount of money in fen (分). 1 yuan (元) = 100 fen.
///
/// Arithmetic panics on overflow (release builds keep `overflow-checks`), because a wrapped
/// amount is a wrong amount and money must be right to the fen.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(i64);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not an amount in yuan (expected digits with at most two decimals, e.g. 1500 or 12.50)")]
    NotAnAmount(String),
    #[error("'{0}' is beyond the largest amount allowed (10,000,000,000 yuan)")]
    TooLarge(String),
    #[error("'{0}' is not a ratio (expected a percentage with at most two decimals, e.g. 85% or 7.5%)")]
    NotARatio(String),
    #[error("ratio '{0}' is over 100%")]
    RatioOver100(String),
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Wraps a count of fen. Panics if beyond ±[`FEN_LIMIT`] (an invariant, not input
    /// validation: input is parsed by [`Fen::parse_yuan`] or checked by the caller).
    #[must_use]
    pub const fn new(fen: i64) -> Fen {
        assert!(fen <= FEN_LIMIT && fen >= -FEN_LIMIT, "amount beyond FEN_LIMIT");
        Fen(fen)
    }

    /// Wraps a count of fen read from storage: one amount, within ±[`FEN_LIMIT`], or
    /// `None`. Never panics, so a bad stored value is an error its reader reports.
    #[must_use]
    pub const fn checked(fen: i64) -> Option<Fen> {
        if fen <= FEN_LIMIT && fen >= -FEN_LIMIT { Some(Fen(fen)) } else { None }
    }

    /// Wraps a sum of amounts read from storage (an account's posted totals, a report's
    /// column), which may exceed [`FEN_LIMIT`] but stays within ±[`TOTAL_LIMIT_FEN`], or
    /// `None`.
    #[must_use]
    pub const fn checked_total(fen: i64) -> Option<Fen> {
        if fen <= TOTAL_LIMIT_FEN && fen >= -TOTAL_LIMIT_FEN { Some(Fen(fen)) } else { None }
    }

    /// Whole yuan.
    #[must_use]
    pub const fn yuan(yuan: i64) -> Fen {
        Fen::new(yuan * 100)
    }

    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }

    #[must_use]
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `max(self - other, 0)`: what remains of `self` once `other` is taken away.
    #[must_use]
    pub fn saturating_remainder(self, other: Fen) -> Fen {
        if self.0 > other.0 { Fen(self.0 - other.0) } else { Fen::ZERO }
    }

    /// Parses an amount written in yuan: `1500`, `1500.5`, `12.34`, `-3.00`.
    /// More than two decimals is an error (never silently rounded).
    pub fn parse_yuan(text: &str) -> Result<Fen, MoneyError> {
        let bad = || MoneyError::NotAnAmount(text.to_owned());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() || whole.len() > 12 || frac.len() > 2 {
            return Err(bad());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if digits.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let whole_fen: i64 = whole.parse::<i64>().map_err(|_| bad())? * 100;
        let frac_fen: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse::<i64>().map_err(|_| bad())?,
        };
        let fen = whole_fen + frac_fen;
        if fen > FEN_LIMIT {
            return Err(MoneyError::TooLarge(text.to_owned()));
        }
        Ok(Fen(if negative { -fen } else { fen }))
    }
}

impl fmt::Display for Fen {
    /// Yuan with exactly two decimals: `1234.50`, `-0.07`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fen({self})")
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, rhs: Fen) -> Fen {
        Fen(self.0 + rhs.0)
    }
}
impl AddAssign for Fen {
    fn add_assign(&mut self, rhs: Fen) {
        self.0 += rhs.0;
    }
}
impl Sub for Fen {
    type Output = Fen;
    fn sub(self, rhs: Fen) -> Fen {
        Fen(self.0 - rhs.0)
    }
}
impl SubAssign for Fen {
    fn sub_assign(&mut self, rhs: Fen) {
        self.0 -= rhs.0;
    }
}
impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        iter.fold(Fen::ZERO, |a, b| a + b)
    }
}

/// A ratio in basis points: 10 000 bp = 100%, 1 bp = 0.01%. Never above 100%.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RatioBp(u32);

impl RatioBp {
    pub const ZERO: RatioBp = RatioBp(0);
    pub const FULL: RatioBp = RatioBp(10_000);

    /// Panics above 100%: callers parse input with [`RatioBp::parse_percent`].
    #[must_use]
    pub const fn new(bp: u32) -> RatioBp {
        assert!(bp <= 10_000, "ratio above 100%");
        RatioBp(bp)
    }

    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `self - points`, floored at 0% (a reduction can never make a ratio negative).
    #[must_use]
    pub const fn reduced_by(self, points: RatioBp) -> RatioBp {
        RatioBp(self.0.saturating_sub(points.0))
    }

    /// `self + points`, capped at 100%.
    #[must_use]
    pub const fn raised_by(self, points: RatioBp) -> RatioBp {
        let sum = self.0 + points.0;
        RatioBp(if sum > 10_000 { 10_000 } else { sum })
    }

    /// `1 - self`.
    #[must_use]
    pub const fn complement(self) -> RatioBp {
        RatioBp(10_000 - self.0)
    }

    /// Parses `85%`, `7.5%`, `0.25%` exactly. Over 100% or more than two decimals is an error.
    pub fn parse_percent(text: &str) -> Result<RatioBp, MoneyError> {
        let bad = || MoneyError::NotARatio(text.to_owned());
        let number = text.trim().strip_suffix('%').ok_or_else(bad)?.trim();
        let (whole, frac) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        if whole.is_empty() || whole.len() > 3 || frac.len() > 2 || (number.contains('.') && frac.is_empty()) {
            return Err(bad());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let whole_bp = whole.parse::<u32>().map_err(|_| bad())? * 100;
        let frac_bp = match frac.len() {
            0 => 0,
            1 => frac.parse::<u32>().map_err(|_| bad())? * 10,
            _ => frac.parse::<u32>().map_err(|_| bad())?,
        };
        let bp = whole_bp + frac_bp;
        if bp > 10_000 {
            return Err(MoneyError::RatioOver100(text.to_owned()));
        }
        Ok(RatioBp(bp))
    }
}

impl fmt::Display for RatioBp {
    /// `85%`, `7.5%`, `0.25%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 100;
        let frac = self.0 % 100;
        if frac == 0 {
            write!(f, "{whole}%")
        } else if frac.is_multiple_of(10) {
            write!(f, "{whole}.{}%", frac / 10)
        } else {
            write!(f, "{whole}.{frac:02}%")
        }
    }
}

impl fmt::Debug for RatioBp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RatioBp({self})")
    }
}

/// How a division that does not come out even is rounded to the fen. Declared by each
/// policy pack (the national rules fix none; SPEC "How one bill is settled"); the default
/// is half-up (四舍五入).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// Halves away from zero (四舍五入): 0.5 fen → 1 fen.
    #[default]
    HalfUp,
    /// Halves to the even fen (banker's rounding).
    HalfEven,
    /// Toward zero (舍去): the fund never pays a fraction it did not owe.
    Down,
    /// Away from zero (进一).
    Up,
}

impl Rounding {
    /// The one function through which every division of money in Yibao rounds:
    /// `numerator ÷ denominator`, rounded to a whole number of fen by `self`.
    ///
    /// Panics if `denominator` is not positive or the result leaves `i64` (both are
    /// programming errors: every caller divides by a positive constant or count).
    #[must_use]
    pub fn round_div(self, numerator: i128, denominator: i128) -> i64 {
        assert!(denominator > 0, "rounding divides by a positive denominator");
        let quotient = numerator / denominator; // truncates toward zero
        let remainder = numerator % denominator; // same sign as numerator
        let rounded = if remainder == 0 {
            quotient
        } else {
            let away = if numerator < 0 { quotient - 1 } else { quotient + 1 };
            let twice = remainder.unsigned_abs() * 2;
            let den = denominator.unsigned_abs();
            match self {
                Rounding::Down => quotient,
                Rounding::Up => away,
                Rounding::HalfUp => {
                    if twice >= den {
                        away
                    } else {
                        quotient
                    }
                }
                Rounding::HalfEven => {
                    if twice > den || (twice == den && quotient % 2 != 0) {
                        away
                    } else {
                        quotient
                    }
                }
            }
        };
        i64::try_from(rounded).expect("rounded amount fits in i64")
    }

    /// `amount × ratio`, rounded to the fen.
    #[must_use]
    pub fn apply(self, amount: Fen, ratio: RatioBp) -> Fen {
        Fen::new(self.round_div(i128::from(amount.get()) * i128::from(ratio.get()), 10_000))
    }

    /// `amount × numerator ÷ denominator`, rounded to the fen (e.g. wage ÷ 30 × days).
    #[must_use]
    pub fn scale(self, amount: Fen, numerator: i64, denominator: i64) -> Fen {
        Fen::new(self.round_div(i128::from(amount.get()) * i128::from(numerator), i128::from(denominator)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_yuan() {
        for (text, fen, shown) in [
            ("1500", 150_000, "1500.00"),
            ("12.5", 1_250, "12.50"),
            ("0.07", 7, "0.07"),
            ("-3.10", -310, "-3.10"),
            ("100000000", 10_000_000_000, "100000000.00"),
        ] {
            let parsed = Fen::parse_yuan(text).unwrap();
            assert_eq!(parsed.get(), fen, "{text}");
            assert_eq!(parsed.to_string(), shown);
        }
        for bad in ["", "1.234", "1,000", "abc", "1.", ".5", "1e3", "--1", "99999999999999"] {
            assert!(Fen::parse_yuan(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn parses_and_prints_percent() {
        for (text, bp, shown) in [("85%", 8500, "85%"), ("7.5%", 750, "7.5%"), ("0.25%", 25, "0.25%"), ("100%", 10_000, "100%")] {
            let parsed = RatioBp::parse_percent(text).unwrap();
            assert_eq!(parsed.get(), bp);
            assert_eq!(parsed.to_string(), shown);
        }
        assert_eq!(RatioBp::parse_percent("100.01%"), Err(MoneyError::RatioOver100("100.01%".into())));
        for bad in ["85", "0.125%", "-5%", "%", "abc%"] {
            assert!(RatioBp::parse_percent(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn rounding_rules_at_the_half() {
        // 12.345 fen expressed as 12345 / 1000.
        let cases = [
            (Rounding::HalfUp, 12_345, 1_000, 12),
            (Rounding::HalfUp, 12_500, 1_000, 13),
            (Rounding::HalfUp, -12_500, 1_000, -13),
            (Rounding::HalfEven, 12_500, 1_000, 12),
            (Rounding::HalfEven, 13_500, 1_000, 14),
            (Rounding::HalfEven, 12_501, 1_000, 13),
            (Rounding::Down, 12_999, 1_000, 12),
            (Rounding::Down, -12_999, 1_000, -12),
            (Rounding::Up, 12_001, 1_000, 13),
            (Rounding::Up, 12_000, 1_000, 12),
        ];
        for (rounding, num, den, want) in cases {
            assert_eq!(rounding.round_div(num, den), want, "{rounding:?} {num}/{den}");
        }
    }

    #[test]
    fn apply_ratio_half_up_at_the_fen() {
        // 333.33 yuan × 85% = 283.3305 yuan → 283.33
        assert_eq!(Rounding::HalfUp.apply(Fen::new(33_333), RatioBp::new(8_500)), Fen::new(28_333));
        // 0.01 yuan × 50% = 0.005 → half-up 0.01, down 0.00
        assert_eq!(Rounding::HalfUp.apply(Fen::new(1), RatioBp::new(5_000)), Fen::new(1));
        assert_eq!(Rounding::Down.apply(Fen::new(1), RatioBp::new(5_000)), Fen::ZERO);
    }

    proptest::proptest! {
        #[test]
        fn round_div_is_within_one_fen_of_exact(num in -1_000_000_000_000i128..1_000_000_000_000, den in 1i128..1_000_000) {
            for rounding in [Rounding::HalfUp, Rounding::HalfEven, Rounding::Down, Rounding::Up] {
                let r = i128::from(rounding.round_div(num, den));
                // |r·den − num| < den
                proptest::prop_assert!((r * den - num).abs() < den);
            }
        }

        #[test]
        fn yuan_text_round_trips(fen in -FEN_LIMIT..FEN_LIMIT) {
            let shown = Fen::new(fen).to_string();
            proptest::prop_assert_eq!(Fen::parse_yuan(&shown).unwrap(), Fen::new(fen));
        }
    }
}

/// Serde for amounts written in yuan on the wire: `"12.50"` (or a JSON integer of yuan).
/// Floats are refused: a float cannot hold most amounts exactly.
pub mod serde_yuan {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Fen;

    pub fn serialize<S: Serializer>(fen: &Fen, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(fen)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Text(String),
        Yuan(i64),
        Float(f64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Fen, D::Error> {
        match Wire::deserialize(deserializer)? {
            Wire::Text(text) => Fen::parse_yuan(&text).map_err(serde::de::Error::custom),
            Wire::Yuan(yuan) if yuan.unsigned_abs() <= 10_000_000_000 => Ok(Fen::yuan(yuan)),
            Wire::Yuan(yuan) => Err(serde::de::Error::custom(format!("{yuan} yuan is beyond the largest amount allowed"))),
            Wire::Float(f) => {
                Err(serde::de::Error::custom(format!("{f}: write amounts as strings such as \"12.50\", never as floating-point numbers")))
            }
        }
    }
}
