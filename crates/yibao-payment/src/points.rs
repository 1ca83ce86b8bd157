//! Points (分值), coefficients (系数) and the point value (点值): the three numbers of point
//! payment, each exact. Points and coefficients are integers in 1/10,000; a point value is
//! kept as a fraction (money ÷ points), so a hospital's income is one rounding of
//! `points × pool ÷ all points` ([`PointValue::pay`]) and the incomes of a year add up to the
//! pool to within one fen per hospital, never drifting with a rounded value.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

use serde::Serialize;
use yibao_domain::{FEN_LIMIT, Fen, RatioBp, Rounding};

/// Ten thousandths in one: points and coefficients have four decimals, as the national DIP
/// specification publishes them.
pub const E4: i64 = 10_000;

/// The most a point may be worth, in yuan: a year whose pool over its points comes to more
/// is refused (a year of a few near-free cases against a whole budget), never paid.
pub const POINT_VALUE_LIMIT_YUAN: i64 = 1_000_000;

/// Most points one case may carry (a base-point table never gives a group more than a few
/// thousand points at scale ×1000; a high-cost case is bounded by its cost ratio).
pub const CASE_POINTS_LIMIT: Points = Points(1_000_000_000 * E4);

/// A number of points, in 1/10,000 of a point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Points(i64);

/// Points are written as a decimal string with four decimals (`"398.0000"`), like money.
impl Serialize for Points {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Points {
    pub const ZERO: Points = Points(0);

    /// Points from ten-thousandths.
    #[must_use]
    pub const fn from_e4(e4: i64) -> Points {
        Points(e4)
    }

    /// Whole points.
    #[must_use]
    pub const fn whole(points: i64) -> Points {
        Points(points * E4)
    }

    #[must_use]
    pub const fn e4(self) -> i64 {
        self.0
    }

    /// Parses a decimal with at most four decimals (`"450"`, `"0.8500"`).
    pub fn parse(text: &str) -> Result<Points, String> {
        parse_e4(text).map(Points)
    }

    /// `self × numerator ÷ denominator`, rounded by `rounding` to the 1/10,000 point.
    #[must_use]
    pub fn scale(self, numerator: i128, denominator: i128, rounding: Rounding) -> Points {
        Points(rounding.round_div(i128::from(self.0) * numerator, denominator))
    }

    /// `self × ratio`.
    #[must_use]
    pub fn share(self, ratio: RatioBp, rounding: Rounding) -> Points {
        self.scale(i128::from(ratio.get()), 10_000, rounding)
    }

    /// `self × coefficient`.
    #[must_use]
    pub fn times(self, coefficient: Coefficient, rounding: Rounding) -> Points {
        self.scale(i128::from(coefficient.e4()), i128::from(E4), rounding)
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_e4(f, self.0)
    }
}

impl Add for Points {
    type Output = Points;
    fn add(self, other: Points) -> Points {
        Points(self.0.checked_add(other.0).expect("points overflow"))
    }
}

impl AddAssign for Points {
    fn add_assign(&mut self, other: Points) {
        *self = *self + other;
    }
}

impl Sub for Points {
    type Output = Points;
    fn sub(self, other: Points) -> Points {
        Points(self.0.checked_sub(other.0).expect("points overflow"))
    }
}

impl Sum for Points {
    fn sum<I: Iterator<Item = Points>>(iter: I) -> Points {
        iter.fold(Points::ZERO, Add::add)
    }
}

/// A coefficient (hospital-grade 等级系数, group 病种系数), in 1/10,000: `1.0000` is 10,000.
/// Unlike a [`RatioBp`] it may exceed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Coefficient(i64);

impl Serialize for Coefficient {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Coefficient {
    pub const ONE: Coefficient = Coefficient(E4);
    /// The largest coefficient a pack may give (no published grade coefficient reaches 3).
    pub const MAX: Coefficient = Coefficient(10 * E4);

    /// Parses a positive decimal with at most four decimals, at most [`Coefficient::MAX`].
    pub fn parse(text: &str) -> Result<Coefficient, String> {
        let e4 = parse_e4(text)?;
        if e4 <= 0 || e4 > Coefficient::MAX.0 {
            return Err(format!("coefficient '{text}' is not above 0 and at most 10"));
        }
        Ok(Coefficient(e4))
    }

    #[must_use]
    pub const fn e4(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Coefficient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_e4(f, self.0)
    }
}

/// Yuan per point, as a fraction `fen ÷ points` (in 1/10,000 of a point): a provisional
/// value declared by the pack, a rate (费率), or the year's value computed from a pool of
/// money and all the points of the year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointValue {
    /// Fen of the pool (or, for a declared value, hundredths of a fen per point).
    pub numerator: i128,
    /// Points of the pool in 1/10,000 (or, for a declared value, 1,000,000).
    pub denominator: i128,
}

impl PointValue {
    /// A value declared in yuan per point with at most four decimals (`"12.3456"`).
    pub fn parse_yuan(text: &str) -> Result<PointValue, String> {
        let e4 = parse_e4(text)?;
        if e4 <= 0 {
            return Err(format!("point value '{text}' is not above zero"));
        }
        // yuan × 10^4 per point; one point pays e4 / 10^4 yuan = e4 / 100 fen, and
        // `points_e4` points pay points_e4 × e4 / 10^6 fen.
        Ok(PointValue { numerator: i128::from(e4), denominator: 1_000_000 })
    }

    /// The value that shares `pool` over `points`: `None` when there are no points.
    #[must_use]
    pub fn of_pool(pool: Fen, points: Points) -> Option<PointValue> {
        (points.e4() > 0).then(|| PointValue { numerator: i128::from(pool.get()), denominator: i128::from(points.e4()) })
    }

    /// The value on a total-cost basis: the pool divided by the reimbursement ratio
    /// (`fund ÷ total` of the same cases), shared over `points`.
    #[must_use]
    pub fn of_total_cost(pool: Fen, fund: Fen, total: Fen, points: Points) -> Option<PointValue> {
        (points.e4() > 0 && fund.get() > 0).then(|| PointValue {
            numerator: i128::from(pool.get()) * i128::from(total.get()),
            denominator: i128::from(fund.get()) * i128::from(points.e4()),
        })
    }

    /// What `points` are worth, rounded once to the fen; `None` beyond one amount's limit
    /// (`FEN_LIMIT`).
    #[must_use]
    pub fn pay(self, points: Points, rounding: Rounding) -> Option<Fen> {
        let product = i128::from(points.e4()).checked_mul(self.numerator)?;
        if product.unsigned_abs() / self.denominator.unsigned_abs() > FEN_LIMIT.unsigned_abs() as u128 {
            return None;
        }
        Fen::checked(rounding.round_div(product, self.denominator))
    }

    /// Yuan per point in millionths, rounded half-up; `None` beyond `i64`.
    #[must_use]
    pub fn yuan_e6(self) -> Option<i64> {
        let scaled = self.numerator.checked_mul(100 * 1_000_000)?;
        i64::try_from(scaled / self.denominator).ok()?;
        Some(Rounding::HalfUp.round_div(scaled, self.denominator))
    }

    /// The value in yuan per point rounded to `decimals` (at most 6) by `rounding`: what a
    /// bureau publishes, and the value used when a pack says the point value is rounded.
    /// `None` when the value is beyond `i64` millionths of a yuan (a run refuses such a
    /// value first: [`POINT_VALUE_LIMIT_YUAN`]).
    #[must_use]
    pub fn rounded(self, decimals: u32, rounding: Rounding) -> Option<PointValue> {
        assert!(decimals <= 6, "a point value has at most six decimals");
        // yuan per point = numerator × 100 / denominator (fen per 1/10,000 point × 10^4 / 100).
        let unit = 10_i128.pow(decimals);
        let scaled = self.numerator.checked_mul(100 * unit)?;
        i64::try_from(scaled / self.denominator).ok()?;
        let scaled = rounding.round_div(scaled, self.denominator);
        // `scaled / unit` yuan per point: points_e4 × scaled / unit / 10^4 × 100 fen.
        Some(PointValue { numerator: i128::from(scaled), denominator: unit * 100 })
    }

    /// Yuan per point to six decimals, for reports.
    #[must_use]
    pub fn yuan_text(self) -> String {
        let Some(micro) = self.yuan_e6() else { return "out of range".into() };
        let sign = if micro < 0 { "-" } else { "" };
        let abs = micro.unsigned_abs();
        format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
    }
}

/// A point value is written as yuan per point with six decimals (`"80.000000"`).
impl Serialize for PointValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.yuan_text())
    }
}

fn parse_e4(text: &str) -> Result<i64, String> {
    let bad = || format!("'{text}' is not a decimal with at most four decimals (e.g. 450 or 0.8500)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if fraction.len() > 4 || (text.contains('.') && fraction.is_empty()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let mut e4 = whole.checked_mul(E4).ok_or_else(bad)?;
    let padded = format!("{fraction:0<4}");
    e4 += padded.parse::<i64>().map_err(|_| bad())?;
    Ok(e4)
}

fn write_e4(f: &mut fmt::Formatter<'_>, e4: i64) -> fmt::Result {
    let sign = if e4 < 0 { "-" } else { "" };
    let abs = e4.unsigned_abs();
    write!(f, "{sign}{}.{:04}", abs / 10_000, abs % 10_000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_four_decimals() {
        assert_eq!(Points::parse("450").unwrap(), Points::from_e4(4_500_000));
        assert_eq!(Points::parse("0.85").unwrap().to_string(), "0.8500");
        assert_eq!(Points::parse("12.3456").unwrap().e4(), 123_456);
        for bad in ["", ".5", "5.", "1.23456", "-1", "1e3", "abc", "1,000"] {
            assert!(Points::parse(bad).is_err(), "{bad}");
        }
        assert!(Coefficient::parse("0").is_err());
        assert!(Coefficient::parse("10.0001").is_err());
        assert_eq!(Coefficient::parse("1.05").unwrap().to_string(), "1.0500");
    }

    #[test]
    fn a_point_value_pays_with_one_rounding() {
        // 1,000 yuan over 3 points: 333.33… yuan per point.
        let value = PointValue::of_pool(Fen::yuan(1_000), Points::whole(3)).unwrap();
        assert_eq!(value.pay(Points::whole(1), Rounding::HalfUp), Some(Fen::new(33_333)));
        assert_eq!(value.pay(Points::whole(2), Rounding::HalfUp), Some(Fen::new(66_667)));
        assert_eq!(value.yuan_text(), "333.333333");
        // Rounded to two decimals first, as a bureau that publishes 333.33 pays.
        let published = value.rounded(2, Rounding::HalfUp).unwrap();
        assert_eq!(published.pay(Points::whole(2), Rounding::HalfUp), Some(Fen::new(66_666)));
        let declared = PointValue::parse_yuan("12.3456").unwrap();
        assert_eq!(declared.yuan_text(), "12.345600");
        assert_eq!(declared.pay(Points::parse("100").unwrap(), Rounding::HalfUp), Some(Fen::new(123_456)));
        assert!(PointValue::of_pool(Fen::yuan(1), Points::ZERO).is_none());
        // A whole budget over one near-free case: no panic, an answer the run refuses.
        let absurd = PointValue::of_pool(Fen::checked_total(1_000_000_000_000_000_000).unwrap(), Points::from_e4(1)).unwrap();
        assert_eq!((absurd.yuan_e6(), absurd.rounded(4, Rounding::HalfUp)), (None, None));
        assert_eq!(absurd.pay(Points::whole(1), Rounding::HalfUp), None);
        // Total-cost basis: 800 yuan of fund budget, the fund paid 80 of every 100 yuan:
        // the pool is 1,000 yuan, over 4 points 250 yuan each.
        let total = PointValue::of_total_cost(Fen::yuan(800), Fen::yuan(80), Fen::yuan(100), Points::whole(4)).unwrap();
        assert_eq!(total.pay(Points::whole(1), Rounding::HalfUp), Some(Fen::yuan(250)));
    }
}
