//! Closed periods (issue 17): once a city's year is closed, its books for that year and
//! every year before are final. A posting dated into them (a receipt, interest, a
//! handover's cut-off, a repayment, a pooling run of a closed month) is refused
//! (`books.period_closed`), and years close in order: a year is not closed while an
//! earlier year with books is open, nor after a later one (`books.close_out_of_order`). Balances
//! brought forward (opening balances) are the legacy system's closed years, not open ones.
//! Both stores apply these rules inside the posting or closing transaction.

use std::collections::{BTreeMap, BTreeSet};

use time::Date;
use yibao_domain::RegionCode;

use crate::StoreError;
use crate::books::Entry;

/// The cities whose books `entries` post to.
#[must_use]
pub fn cities_of(entries: &[Entry]) -> BTreeSet<RegionCode> {
    entries.iter().flat_map(|e| [e.transfer.debit.fund.region, e.transfer.credit.fund.region]).collect()
}

/// Refuses `entries` if one is dated in a year its city has closed: `closed_through` holds
/// each city's latest closed year.
pub fn check_open(entries: &[Entry], closed_through: &BTreeMap<RegionCode, i32>) -> Result<(), StoreError> {
    for entry in entries {
        let transfer = &entry.transfer;
        for city in [transfer.debit.fund.region, transfer.credit.fund.region] {
            if let Some(closed) = closed_through.get(&city).filter(|closed| transfer.value_date.year() <= **closed) {
                return Err(StoreError::Refused {
                    code: "books.period_closed",
                    message: format!(
                        "the books of {city} are closed through {closed}: nothing is posted dated {} (transfer {}); date it in an open year",
                        transfer.value_date, transfer.id
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Refuses closing `year` out of order: after a later year was closed, or while an earlier
/// year is open that has books (`earliest` is the city's earliest dated transfer other
/// than an opening balance).
pub fn check_close_order(city: RegionCode, year: i32, latest_closed: Option<i32>, earliest: Option<Date>) -> Result<(), StoreError> {
    let refuse = |message: String| Err(StoreError::Refused { code: "books.close_out_of_order", message });
    match latest_closed {
        Some(closed) if closed > year => refuse(format!("{city} has closed {closed}: {year}, before it, is final already")),
        Some(closed) if closed < year - 1 => refuse(format!("{city} closed {closed} last: close {} first", closed + 1)),
        Some(_) => Ok(()),
        None => match earliest.map(Date::year).filter(|first| *first < year) {
            Some(first) => refuse(format!("{city} has books from {first} and no year closed: close {first} first")),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn code(result: Result<(), StoreError>) -> Option<&'static str> {
        match result {
            Ok(()) => None,
            Err(StoreError::Refused { code, .. }) => Some(code),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn years_close_in_order() {
        let city = RegionCode::parse("419900").expect("city");
        let cases = [
            (2026, None, None, None),
            (2026, None, Some(date!(2026 - 01 - 01)), None),
            (2026, None, Some(date!(2025 - 12 - 31)), Some("books.close_out_of_order")),
            (2026, Some(2025), Some(date!(2020 - 01 - 01)), None),
            (2026, Some(2024), Some(date!(2020 - 01 - 01)), Some("books.close_out_of_order")),
            (2025, Some(2026), Some(date!(2020 - 01 - 01)), Some("books.close_out_of_order")),
            (2026, Some(2026), None, None),
        ];
        for (year, latest, earliest, expected) in cases {
            assert_eq!(code(check_close_order(city, year, latest, earliest)), expected, "{year} {latest:?} {earliest:?}");
        }
    }
}
