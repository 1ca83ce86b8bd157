//! Writing and reading back the values a backend stores as text: the same conversions on
//! SQLite and PostgreSQL, so both refuse the same unreadable rows with the same errors. A
//! stored value that does not parse is a [`StoreError::Backend`]: the database holds
//! something no store wrote, and the caller must not be told it asked badly.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use yibao_domain::{HouseholdId, InstitutionCode, InstitutionLevel, NationalId, PersonName, RegionCode};

use crate::{ContributionKind, Role, StoreError};

pub fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored JSON unreadable: {e}")))
}

pub fn region_of(text: &str) -> Result<RegionCode, StoreError> {
    RegionCode::parse(text).map_err(|e| StoreError::Backend(e.to_string()))
}

pub fn id_of(text: &str) -> Result<NationalId, StoreError> {
    NationalId::parse(text).map_err(|e| StoreError::Backend(e.to_string()))
}

pub fn institution_of(text: &str) -> Result<InstitutionCode, StoreError> {
    InstitutionCode::parse(text).map_err(|e| StoreError::Backend(format!("stored: {e}")))
}

pub fn household_of(text: &str) -> Result<HouseholdId, StoreError> {
    HouseholdId::parse(text).map_err(|e| StoreError::Backend(format!("stored household id '{text}': {e}")))
}

pub fn name_of(text: &str) -> Result<PersonName, StoreError> {
    PersonName::parse(text).map_err(|e| StoreError::Backend(format!("stored name: {e}")))
}

pub fn role_of(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown role {text}")))
}

pub fn level_of(text: &str) -> Result<InstitutionLevel, StoreError> {
    InstitutionLevel::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown level {text}")))
}

pub fn kind_of(text: &str) -> Result<ContributionKind, StoreError> {
    ContributionKind::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown kind {text}")))
}

/// An amount as stored (integer fen), within the limit of one amount.
pub fn fen_of(fen: i64) -> Result<yibao_domain::Fen, StoreError> {
    yibao_domain::Fen::checked(fen).ok_or_else(|| StoreError::Backend(format!("a stored amount of {fen} fen is out of range")))
}

/// A contribution period as stored (`2026`, `2026-05`).
pub fn period_of(text: &str) -> Result<yibao_domain::Period, StoreError> {
    yibao_domain::Period::parse(text).map_err(|e| StoreError::Backend(format!("stored {e}")))
}

/// A stored calendar day (`2026-03-01`) read back.
pub fn date_of(text: &str) -> Result<time::Date, StoreError> {
    yibao_domain::parse_date(text).map_err(|e| StoreError::Backend(format!("a stored date '{text}' is unreadable: {e}")))
}

/// A stored timestamp (RFC 3339) read back.
pub fn time_of(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::Backend(format!("a stored timestamp '{text}' is unreadable: {e}")))
}

/// A timestamp as stored: RFC 3339.
pub fn time_text(at: OffsetDateTime) -> Result<String, StoreError> {
    at.format(&Rfc3339).map_err(|e| StoreError::Backend(e.to_string()))
}

/// The inclusive range of region codes inside `scope`, as stored text: a city's code
/// covers its counties by range, a county only itself.
#[must_use]
pub fn scope_bounds(scope: RegionCode) -> (String, String) {
    let code = scope.get();
    match scope.level() {
        yibao_domain::RegionLevel::Province => (format!("{code:06}"), format!("{:06}", code + 9_999)),
        yibao_domain::RegionLevel::City => (format!("{code:06}"), format!("{:06}", code + 99)),
        yibao_domain::RegionLevel::County => (scope.to_string(), scope.to_string()),
    }
}
