//! Typed parameter values.

use std::fmt;

use yibao_domain::{Fen, RatioBp, Rounding};

/// Most bands a marginal scale may have (SPEC: "optionally banded by amount, up to four").
pub const BANDS_MAX: usize = 4;

/// One band of a marginal scale: the part of the base above `above` (and below the next
/// band's `above`) is paid at `ratio`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Band {
    pub above: Fen,
    pub ratio: RatioBp,
}

/// A marginal scale (分段累加) of 1 to 4 bands, held inline so lookups never allocate.
/// Invariant: the first band starts at 0 and `above` strictly increases.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bands {
    len: u8,
    bands: [Band; BANDS_MAX],
}

impl Bands {
    /// A single ratio from 0.
    #[must_use]
    pub fn flat(ratio: RatioBp) -> Bands {
        let mut bands = [Band::default(); BANDS_MAX];
        bands[0] = Band { above: Fen::ZERO, ratio };
        Bands { len: 1, bands }
    }

    /// Checks the invariant; the text says what is wrong.
    pub fn new(list: &[Band]) -> Result<Bands, String> {
        if list.is_empty() || list.len() > BANDS_MAX {
            return Err(format!("a scale has 1 to {BANDS_MAX} bands, this one has {}", list.len()));
        }
        if !list[0].above.is_zero() {
            return Err(format!("the first band must start at 0, not {}", list[0].above));
        }
        for pair in list.windows(2) {
            if pair[1].above <= pair[0].above {
                return Err(format!("band bounds must increase: {} is not above {}", pair[1].above, pair[0].above));
            }
        }
        let mut bands = [Band::default(); BANDS_MAX];
        bands[..list.len()].copy_from_slice(list);
        Ok(Bands { len: u8::try_from(list.len()).expect("≤ 4"), bands })
    }

    #[must_use]
    pub fn as_slice(&self) -> &[Band] {
        &self.bands[..usize::from(self.len)]
    }

    /// Every band's ratio moved by `points` (down for reductions, up for bonuses), floored
    /// at 0% and capped at 100%.
    #[must_use]
    pub fn adjusted(&self, reduce: RatioBp, raise: RatioBp) -> Bands {
        let mut out = *self;
        for band in &mut out.bands[..usize::from(self.len)] {
            band.ratio = band.ratio.reduced_by(reduce).raised_by(raise);
        }
        out
    }

    /// Σ over bands of (the part of `base` in the band × its ratio), rounded once.
    #[must_use]
    pub fn apply(&self, base: Fen, rounding: Rounding) -> Fen {
        if base.get() <= 0 {
            return Fen::ZERO;
        }
        let slice = self.as_slice();
        let mut total_bp_fen: i128 = 0;
        for (index, band) in slice.iter().enumerate() {
            let lower = band.above.get();
            if base.get() <= lower {
                break;
            }
            let upper = slice.get(index + 1).map_or(base.get(), |next| next.above.get().min(base.get()));
            total_bp_fen += i128::from(upper - lower) * i128::from(band.ratio.get());
        }
        Fen::new(rounding.round_div(total_bp_fen, 10_000))
    }

    /// The single ratio when there is one band.
    #[must_use]
    pub fn single_ratio(&self) -> Option<RatioBp> {
        (self.len == 1).then(|| self.bands[0].ratio)
    }
}

impl fmt::Debug for Bands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl fmt::Display for Bands {
    /// `85%`, or `0–50000.00: 60%; 50000.00–: 70%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ratio) = self.single_ratio() {
            return write!(f, "{ratio}");
        }
        let slice = self.as_slice();
        for (index, band) in slice.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            match slice.get(index + 1) {
                Some(next) => write!(f, "{}–{}: {}", band.above, next.above, band.ratio)?,
                None => write!(f, "{}–: {}", band.above, band.ratio)?,
            }
        }
        Ok(())
    }
}

/// A parameter value, typed by its key's [`crate::ValueKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Money(Fen),
    Ratio(RatioBp),
    /// Basis points that may exceed 10 000 (a multiple of a wage).
    Multiple(u32),
    Count(u32),
    Flag(bool),
    Bands(Bands),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Money(fen) => write!(f, "{fen} 元"),
            Value::Ratio(ratio) => write!(f, "{ratio}"),
            Value::Multiple(bp) => write!(f, "{}%", f64::from(*bp) / 100.0),
            Value::Count(n) => write!(f, "{n}"),
            Value::Flag(b) => write!(f, "{b}"),
            Value::Bands(bands) => write!(f, "{bands}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn band(above_yuan: i64, percent: u32) -> Band {
        Band { above: Fen::yuan(above_yuan), ratio: RatioBp::new(percent * 100) }
    }

    #[test]
    fn marginal_scale() {
        // 0–10000 at 50%, 10000–50000 at 60%, above at 70%.
        let scale = Bands::new(&[band(0, 50), band(10_000, 60), band(50_000, 70)]).unwrap();
        assert_eq!(scale.apply(Fen::yuan(8_000), Rounding::HalfUp), Fen::yuan(4_000));
        assert_eq!(scale.apply(Fen::yuan(20_000), Rounding::HalfUp), Fen::yuan(5_000 + 6_000));
        assert_eq!(scale.apply(Fen::yuan(60_000), Rounding::HalfUp), Fen::yuan(5_000 + 24_000 + 7_000));
        assert_eq!(scale.apply(Fen::ZERO, Rounding::HalfUp), Fen::ZERO);
        assert_eq!(scale.to_string(), "0.00–10000.00: 50%; 10000.00–50000.00: 60%; 50000.00–: 70%");
    }

    #[test]
    fn refuses_bad_scales() {
        assert!(Bands::new(&[]).is_err());
        assert!(Bands::new(&[band(100, 50)]).is_err());
        assert!(Bands::new(&[band(0, 50), band(0, 60)]).is_err());
        assert!(Bands::new(&[band(0, 1), band(1, 1), band(2, 1), band(3, 1), band(4, 1)]).is_err());
    }
}
