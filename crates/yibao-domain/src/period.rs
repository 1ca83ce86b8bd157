//! A contribution period, parsed once: `2026` (a coverage year: resident and supplementary
//! contributions) or `2026-05` (a month: employee contributions); and the kinds of
//! contribution (R-FIN).

use std::fmt;

use time::{Date, Month};

/// Earliest and latest year a period may name.
pub const PERIOD_YEAR_MIN: i32 = 2000;
pub const PERIOD_YEAR_MAX: i32 = 2100;

/// A text that is not a period.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a period: YYYY or YYYY-MM")]
pub struct PeriodError(pub String);

impl PeriodError {
    /// Stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "contribution.bad_period"
    }
}

/// What a contribution pays for (R-FIN-1..3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContributionKind {
    /// Resident basic insurance for a coverage year: personal part and subsidies.
    Resident,
    /// Employee basic insurance for a month: employer and employee parts.
    Employee,
    /// Rural supplementary insurance for a year: 9 personal + 1 government (ZZ-NCMS).
    Supplementary,
    /// Maternity insurance for a month (生育保险费): the employer's part only, for an
    /// employee with maternity insurance.
    Maternity,
}

impl ContributionKind {
    pub const ALL: [ContributionKind; 4] =
        [ContributionKind::Resident, ContributionKind::Employee, ContributionKind::Supplementary, ContributionKind::Maternity];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ContributionKind::Resident => "resident",
            ContributionKind::Employee => "employee",
            ContributionKind::Supplementary => "supplementary",
            ContributionKind::Maternity => "maternity",
        }
    }

    pub fn parse(text: &str) -> Option<ContributionKind> {
        ContributionKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether it is paid for a year (`YYYY`) rather than a month (`YYYY-MM`).
    #[must_use]
    pub const fn is_yearly(self) -> bool {
        matches!(self, ContributionKind::Resident | ContributionKind::Supplementary)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Year(i32),
    Month(i32, Month),
}

impl Period {
    /// `YYYY` or `YYYY-MM` exactly (four-digit year between [`PERIOD_YEAR_MIN`] and
    /// [`PERIOD_YEAR_MAX`], two-digit month); anything else is refused ([`PeriodError`]).
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError(text.chars().take(32).collect());
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

    /// The last day of the period.
    #[must_use]
    pub fn last_day(self) -> Date {
        match self {
            Period::Year(year) => Date::from_calendar_date(year, Month::December, 31).unwrap_or(Date::MAX),
            Period::Month(year, month) => Date::from_calendar_date(year, month, month.length(year)).unwrap_or(Date::MAX),
        }
    }

    #[must_use]
    pub fn year(self) -> i32 {
        match self {
            Period::Year(year) | Period::Month(year, _) => year,
        }
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Period, D::Error> {
        let text = String::deserialize(deserializer)?;
        Period::parse(&text).map_err(serde::de::Error::custom)
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
            assert_eq!(Period::parse(bad).map_err(|e| e.code()), Err("contribution.bad_period"), "{bad:?}");
        }
    }
}
