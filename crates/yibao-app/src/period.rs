//! A contribution period, parsed once: `2026` (a coverage year: resident and supplementary
//! contributions) or `2026-05` (a month: employee contributions).

use std::fmt;

use time::{Date, Month};

use crate::AppError;

/// Earliest and latest year a period may name.
pub const PERIOD_YEAR_MIN: i32 = 2000;
pub const PERIOD_YEAR_MAX: i32 = 2100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Year(i32),
    Month(i32, Month),
}

impl Period {
    /// `YYYY` or `YYYY-MM` exactly (four-digit year between [`PERIOD_YEAR_MIN`] and
    /// [`PERIOD_YEAR_MAX`], two-digit month); anything else is refused with
    /// `contribution.bad_period`.
    pub fn parse(text: &str) -> Result<Period, AppError> {
        let bad = || AppError::bad_request("contribution.bad_period", format!("'{text}' is not a period: YYYY or YYYY-MM"));
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let (year_text, month_text) = match text.split_once('-') {
            Some((y, m)) => (y, Some(m)),
            None => (text, None),
        };
        if !digits(year_text, 4) || month_text.is_some_and(|m| !digits(m, 2)) {
            return Err(bad());
        }
        let year: i32 = year_text.parse().map_err(|_| bad())?;
        if !(PERIOD_YEAR_MIN..=PERIOD_YEAR_MAX).contains(&year) {
            return Err(bad());
        }
        match month_text {
            None => Ok(Period::Year(year)),
            Some(m) => {
                let month = m.parse::<u8>().ok().and_then(|m| Month::try_from(m).ok()).ok_or_else(bad)?;
                Ok(Period::Month(year, month))
            }
        }
    }

    /// The first day of the period: the day whose policy values decide what is due.
    #[must_use]
    pub fn first_day(self) -> Date {
        let (year, month) = match self {
            Period::Year(year) => (year, Month::January),
            Period::Month(year, month) => (year, month),
        };
        // The year is range-checked at parse, so the first of any month exists.
        Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN)
    }

    #[must_use]
    pub fn year(self) -> i32 {
        match self {
            Period::Year(year) | Period::Month(year, _) => year,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(year) => write!(f, "{year:04}"),
            Period::Month(year, month) => write!(f, "{year:04}-{:02}", u8::from(*month)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_one_way() {
        assert_eq!(Period::parse("2026").map(|p| p.to_string()), Ok("2026".to_owned()));
        assert_eq!(Period::parse("2026-05").map(|p| p.to_string()), Ok("2026-05".to_owned()));
        assert_eq!(Period::parse("2026-05").map(Period::first_day), Ok(time::macros::date!(2026 - 05 - 01)));
        for bad in ["", "26", "2026-5", "2026-13", "2026-00", "+2026", " 2026", "2026-05-01", "1999", "2101", "9999", "2026-"] {
            assert_eq!(Period::parse(bad).map_err(|e| e.code), Err("contribution.bad_period".into()), "{bad:?}");
        }
    }
}
