//! Finding the value in force: the most specific matching entry, then the value whose
//! period contains the date of service. Lookups never allocate.

use std::fmt;

use time::Date;
use yibao_domain::{Fen, InstitutionLevel, RatioBp, RegionLevel};

use crate::{Bands, Dated, Entry, ParamKey, Policy, Selector, Value};

/// What a lookup asks about: the person's region, scheme, tier, the institution's level,
/// the person's category and assistance group, and for care out of the area its place and
/// whether it was referred. Same shape as a [`Selector`]; `None`
/// matches only entries that do not name that dimension.
pub type Query = Selector;

/// A value found, with its provenance for the settlement's explanation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'a, T> {
    pub key: ParamKey,
    pub value: T,
    /// The citation, or `"default"` for an optional key the pack leaves out.
    pub cite: &'a str,
    /// First day of the value in force (`None` for a default).
    pub from: Option<Date>,
    /// The entry matched is another level's, through the query's level's fallback (a
    /// township health centre settled on a `primary` entry): the explanation says so.
    pub by_level_fallback: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupFailure {
    /// No entry of the key matches the query.
    NoEntry,
    /// The date is before the first value of the matching entry.
    BeforeFirst { first: Date },
    /// The matching entry's last value ended before the date.
    Ended { until: Date },
    /// The value is of another type than the caller asked for (a programming error
    /// caught at load, kept here so no lookup can panic).
    WrongType,
}

/// A parameter that has no value for a claim: the settlement is refused with this reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupError {
    pub key: ParamKey,
    pub query: Query,
    pub date: Date,
    pub failure: LookupFailure,
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no value of {} for {} on {}: ", self.key.name(), self.query, self.date)?;
        match self.failure {
            LookupFailure::NoEntry => f.write_str("the pack has no entry for this combination"),
            LookupFailure::BeforeFirst { first } => write!(f, "its first value is from {first}"),
            LookupFailure::Ended { until } => write!(f, "its last value ended on {until}"),
            LookupFailure::WrongType => f.write_str("the value has the wrong type"),
        }
    }
}

impl std::error::Error for LookupError {}

/// How specific a selector matching `query` is: a county region beats everything city-wide,
/// then the number of other dimensions named; at equal rank, an entry naming the query's
/// own level beats one matching through the level's fallback (a township health centre
/// takes a `primary` entry only where no `township` entry is as specific: issue 13).
pub(crate) fn specificity(selector: &Selector, query: &Query) -> (u8, u8, u8) {
    let by_fallback = selector.level.is_some() && selector.level != query.level;
    let county = u8::from(selector.region.is_some_and(|r| r.level() == RegionLevel::County));
    let named = [
        selector.scheme.is_some(),
        selector.tier.is_some(),
        selector.level.is_some(),
        selector.category.is_some(),
        selector.group.is_some(),
        selector.place.is_some(),
        selector.referred.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    (county, u8::try_from(named).expect("≤ 7"), u8::from(!by_fallback))
}

pub(crate) fn matches(selector: &Selector, query: &Query) -> bool {
    fn same<T: PartialEq>(entry: Option<T>, query: Option<T>) -> bool {
        entry.is_none() || entry == query
    }
    let region_ok = match (selector.region, query.region) {
        (None, _) => true,
        (Some(entry), Some(asked)) => entry.contains(asked),
        (Some(_), None) => false,
    };
    region_ok
        && same(selector.scheme, query.scheme)
        && same(selector.tier, query.tier)
        && (same(selector.level, query.level)
            || (selector.level.is_some() && selector.level == query.level.and_then(InstitutionLevel::fallback)))
        && same(selector.category, query.category)
        && same(selector.group, query.group)
        && same(selector.place, query.place)
        && same(selector.referred, query.referred)
}

/// The value of a series in force on `date`.
pub(crate) fn value_on(values: &[Dated], date: Date) -> Result<&Dated, LookupFailure> {
    let index = values.partition_point(|v| v.from <= date);
    if index == 0 {
        return Err(LookupFailure::BeforeFirst { first: values.first().map_or(date, |v| v.from) });
    }
    let dated = &values[index - 1];
    match dated.until {
        Some(until) if until < date => Err(LookupFailure::Ended { until }),
        _ => Ok(dated),
    }
}

impl Policy {
    /// The most specific entry of `key` matching `query` (ties are refused at load).
    #[must_use]
    pub fn entry_for(&self, key: ParamKey, query: &Query) -> Option<&Entry> {
        let mut best: Option<(&Entry, (u8, u8, u8))> = None;
        for entry in self.entries(key) {
            if matches(&entry.selector, query) {
                let rank = specificity(&entry.selector, query);
                if best.is_none_or(|(_, best_rank)| rank > best_rank) {
                    best = Some((entry, rank));
                }
            }
        }
        best.map(|(entry, _)| entry)
    }

    /// The value of `key` for `query` in force on `date`.
    pub fn lookup(&self, key: ParamKey, query: &Query, date: Date) -> Result<Found<'_, Value>, LookupError> {
        let error = |failure| LookupError { key, query: *query, date, failure };
        let entry = self.entry_for(key, query).ok_or_else(|| error(LookupFailure::NoEntry))?;
        let dated = value_on(&entry.values, date).map_err(error)?;
        let by_level_fallback = entry.selector.level.is_some() && entry.selector.level != query.level;
        Ok(Found { key, value: dated.value, cite: &dated.cite, from: Some(dated.from), by_level_fallback })
    }

    fn typed<T>(&self, key: ParamKey, query: &Query, date: Date, pick: impl Fn(Value) -> Option<T>) -> Result<Found<'_, T>, LookupError> {
        let found = self.lookup(key, query, date)?;
        let value = pick(found.value).ok_or(LookupError { key, query: *query, date, failure: LookupFailure::WrongType })?;
        Ok(Found { key, value, cite: found.cite, from: found.from, by_level_fallback: found.by_level_fallback })
    }

    /// Like `typed`, but an optional key the pack leaves out (or has no value on the date)
    /// gives `default`.
    fn typed_or<T>(
        &self,
        key: ParamKey,
        query: &Query,
        date: Date,
        default: T,
        pick: impl Fn(Value) -> Option<T>,
    ) -> Result<Found<'_, T>, LookupError> {
        debug_assert!(key.spec().required_when.is_empty() && !key.spec().requires_tiers, "{} is required, not optional", key.name());
        match self.typed(key, query, date, pick) {
            Ok(found) => Ok(found),
            Err(LookupError {
                failure: LookupFailure::NoEntry | LookupFailure::BeforeFirst { .. } | LookupFailure::Ended { .. }, ..
            }) => Ok(Found { key, value: default, cite: "default", from: None, by_level_fallback: false }),
            Err(other) => Err(other),
        }
    }

    pub fn money(&self, key: ParamKey, query: &Query, date: Date) -> Result<Found<'_, Fen>, LookupError> {
        self.typed(key, query, date, |v| if let Value::Money(m) = v { Some(m) } else { None })
    }

    pub fn money_or(&self, key: ParamKey, query: &Query, date: Date, default: Fen) -> Result<Found<'_, Fen>, LookupError> {
        self.typed_or(key, query, date, default, |v| if let Value::Money(m) = v { Some(m) } else { None })
    }

    pub fn ratio(&self, key: ParamKey, query: &Query, date: Date) -> Result<Found<'_, RatioBp>, LookupError> {
        self.typed(key, query, date, |v| if let Value::Ratio(r) = v { Some(r) } else { None })
    }

    pub fn ratio_or(&self, key: ParamKey, query: &Query, date: Date, default: RatioBp) -> Result<Found<'_, RatioBp>, LookupError> {
        self.typed_or(key, query, date, default, |v| if let Value::Ratio(r) = v { Some(r) } else { None })
    }

    pub fn bands(&self, key: ParamKey, query: &Query, date: Date) -> Result<Found<'_, Bands>, LookupError> {
        self.typed(key, query, date, |v| if let Value::Bands(b) = v { Some(b) } else { None })
    }

    /// A multiple in basis points (may exceed 10 000).
    pub fn multiple(&self, key: ParamKey, query: &Query, date: Date) -> Result<Found<'_, u32>, LookupError> {
        self.typed(key, query, date, |v| if let Value::Multiple(m) = v { Some(m) } else { None })
    }

    pub fn count(&self, key: ParamKey, query: &Query, date: Date) -> Result<Found<'_, u32>, LookupError> {
        self.typed(key, query, date, |v| if let Value::Count(n) = v { Some(n) } else { None })
    }

    pub fn count_or(&self, key: ParamKey, query: &Query, date: Date, default: u32) -> Result<Found<'_, u32>, LookupError> {
        self.typed_or(key, query, date, default, |v| if let Value::Count(n) = v { Some(n) } else { None })
    }

    pub fn flag_or(&self, key: ParamKey, query: &Query, date: Date, default: bool) -> Result<Found<'_, bool>, LookupError> {
        self.typed_or(key, query, date, default, |v| if let Value::Flag(b) = v { Some(b) } else { None })
    }
}
