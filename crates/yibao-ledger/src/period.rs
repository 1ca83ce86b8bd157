//! A calendar month, the period of the monthly pooling run (R-FND-2).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

/// A calendar month, written `2026-05`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a month: expected YYYY-MM, e.g. 2026-05")]
pub struct YearMonthError(pub String);

impl YearMonth {
    /// `None` unless `month` is 1 to 12 and the year one a period may name
    /// ([`yibao_domain::PERIOD_YEAR_MIN`] to [`yibao_domain::PERIOD_YEAR_MAX`]).
    #[must_use]
    pub fn new(year: i32, month: u8) -> Option<YearMonth> {
        ((yibao_domain::PERIOD_YEAR_MIN..=yibao_domain::PERIOD_YEAR_MAX).contains(&year) && (1..=12).contains(&month))
            .then_some(YearMonth { year, month })
    }

    /// `YYYY-MM`, by the one period parser ([`yibao_domain::Period::parse`]); a year alone
    /// is not a month.
    pub fn parse(text: &str) -> Result<YearMonth, YearMonthError> {
        match yibao_domain::Period::parse(text.trim()) {
            Ok(yibao_domain::Period::Month(year, month)) => {
                YearMonth::new(year, u8::from(month)).ok_or_else(|| YearMonthError(text.to_owned()))
            }
            _ => Err(YearMonthError(text.to_owned())),
        }
    }

    #[must_use]
    pub const fn year(self) -> i32 {
        self.year
    }

    #[must_use]
    pub const fn month(self) -> u8 {
        self.month
    }

    #[must_use]
    pub fn first_day(self) -> Date {
        Date::from_calendar_date(self.year, self.time_month(), 1).expect("a valid month has a first day")
    }

    #[must_use]
    pub fn last_day(self) -> Date {
        let month = self.time_month();
        Date::from_calendar_date(self.year, month, time::util::days_in_month(month, self.year)).expect("the last day exists")
    }

    #[must_use]
    pub fn contains(self, date: Date) -> bool {
        date.year() == self.year && u8::from(date.month()) == self.month
    }

    fn time_month(self) -> Month {
        Month::try_from(self.month).expect("1 to 12")
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = YearMonthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        YearMonth::parse(s)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        YearMonth::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn months() {
        let may = YearMonth::parse("2026-05").unwrap();
        assert_eq!(may.to_string(), "2026-05");
        assert_eq!((may.first_day(), may.last_day()), (date!(2026 - 05 - 01), date!(2026 - 05 - 31)));
        assert_eq!(YearMonth::parse("2024-02").unwrap().last_day(), date!(2024 - 02 - 29));
        assert!(may.contains(date!(2026 - 05 - 20)) && !may.contains(date!(2026 - 06 - 01)));
        for bad in ["2026-5", "2026-13", "2026-00", "26-05", "2026/05", "2026-05-01"] {
            assert!(YearMonth::parse(bad).is_err(), "{bad}");
        }
    }
}
