//! Calendar helpers. Dates are plain `time::Date`; nothing here reads a clock.

use time::{Date, Month};

/// The city's civil time, China Standard Time (UTC+8): the offset every "today", every day
/// of a settlement or a payment and the national interface's times are counted in.
pub const CITY_OFFSET: time::UtcOffset = time::macros::offset!(+8);

/// The city's day of an instant (an instant is stored in UTC).
#[must_use]
pub fn city_day(at: time::OffsetDateTime) -> Date {
    at.to_offset(CITY_OFFSET).date()
}

/// The one textual date format: ISO 8601 calendar date, `2026-05-31`.
pub const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]");

/// Parses `YYYY-MM-DD` exactly: four digits of year, no sign (the format alone would take
/// `-2024-01-01` or `+02024-01-01`), two of month and day.
pub fn parse_date(text: &str) -> Result<Date, time::error::Parse> {
    let text = text.trim();
    let shaped = text.len() == 10 && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    // A text of another shape is parsed as the empty text, so that it fails as the format's
    // own error does.
    Date::parse(if shaped { text } else { "" }, DATE_FORMAT)
}

/// The first day of the month after `date` (R-ENR-4: "the month after the change").
#[must_use]
///
/// Saturates at the last representable day (9999-12-31) rather than panicking: no date
/// input may panic anything, and the application refuses such dates before they matter.
pub fn first_of_next_month(date: Date) -> Date {
    let (year, month) =
        if date.month() == Month::December { (date.year() + 1, Month::January) } else { (date.year(), date.month().next()) };
    Date::from_calendar_date(year, month, 1).unwrap_or(Date::MAX)
}

/// `date` plus `months` calendar months; a day past the end of the target month is
/// clamped to its last day (31 January + 1 month = 28 or 29 February).
#[must_use]
///
/// Saturates at the last representable day (9999-12-31) rather than panicking.
pub fn add_months(date: Date, months: u32) -> Date {
    let Some(zero_based) =
        i32::try_from(months).ok().and_then(|months| (date.year() * 12 + i32::from(u8::from(date.month())) - 1).checked_add(months))
    else {
        return Date::MAX;
    };
    let year = zero_based.div_euclid(12);
    let month = u8::try_from(zero_based.rem_euclid(12) + 1).ok().and_then(|m| Month::try_from(m).ok()).unwrap_or(Month::December);
    let last_day = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, date.day().min(last_day)).unwrap_or(Date::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_date_is_four_digits_of_year_without_a_sign() {
        assert_eq!(parse_date(" 2024-02-29 ").map(|d| d.ordinal()), Ok(60));
        for bad in ["-2024-01-01", "+2024-01-01", "+02024-01-01", "2024-1-01", "20240101", "2023-02-29", "10000-01-01"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn month_arithmetic_saturates_instead_of_panicking() {
        assert_eq!(add_months(date!(9999 - 12 - 15), 6), Date::MAX);
        assert_eq!(add_months(date!(9999 - 03 - 15), u32::MAX), Date::MAX);
        assert_eq!(first_of_next_month(date!(9999 - 12 - 15)), Date::MAX);
        assert_eq!(add_months(date!(9999 - 03 - 15), 6), date!(9999 - 09 - 15));
    }

    #[test]
    fn month_arithmetic() {
        assert_eq!(first_of_next_month(date!(2026 - 12 - 15)), date!(2027 - 01 - 01));
        assert_eq!(first_of_next_month(date!(2026 - 05 - 01)), date!(2026 - 06 - 01));
        assert_eq!(add_months(date!(2026 - 01 - 31), 1), date!(2026 - 02 - 28));
        assert_eq!(add_months(date!(2024 - 01 - 31), 1), date!(2024 - 02 - 29));
        assert_eq!(add_months(date!(2026 - 07 - 15), 6), date!(2027 - 01 - 15));
        assert_eq!(add_months(date!(2026 - 07 - 15), 12), date!(2027 - 07 - 15));
        assert_eq!(parse_date("2026-05-31").unwrap(), date!(2026 - 05 - 31));
        assert!(parse_date("2026-02-30").is_err());
    }
}
