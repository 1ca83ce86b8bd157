//! Pure domain types of Yibao (医保).
//!
//! Nothing here does I/O, reads a clock or draws randomness (ARCHITECTURE.md, invariant
//! `pure-core`). Every type is "parsed, not validated": a value that exists is valid.
//!
//! - [`Fen`] is the only carrier of money (integer fen, 1 yuan = 100 fen).
//! - [`RatioBp`] is the only carrier of ratios (integer basis points, 100% = 10 000 bp).
//! - [`Rounding`] and [`Rounding::round_div`] are the one place where a division rounds.
//! - [`NationalId`] is an 18-character resident identity number with its GB 11643 check
//!   digit (R-ENR-1); [`RegionCode`] a 6-digit GB/T 2260 division code (R-GEO-1).
//! - [`EmployerCode`] is an employer's unified social credit code with its GB 32100 check
//!   character (R-FIN-1).
//! - [`InstitutionCode`], [`HouseholdId`] and [`PersonName`] are the register's own
//!   identifiers and names, each checked once when parsed.

mod catalogue;
mod dates;
mod employer_code;
mod money;
mod national_id;
mod period;
mod region;
mod register;
mod scheme;
mod spreadsheet;

pub use catalogue::{CatalogueClass, ItemCode, ItemCodeError, ItemKind, MEDICAL_CODE_MAX_LEN, is_diagnosis_code, is_procedure_code};
pub use dates::{CITY_OFFSET, DATE_FORMAT, add_months, city_day, first_of_next_month, parse_date};
pub use employer_code::{EMPLOYER_NAME_CHARS_MAX, EmployerCode, EmployerCodeError};
pub use money::{FEN_LIMIT, Fen, MoneyError, RatioBp, Rounding, TOTAL_LIMIT_FEN, serde_yuan};
pub use national_id::{NationalId, NationalIdError, Sex, mask_national_ids};
pub use period::{ContributionKind, PERIOD_YEAR_MAX, PERIOD_YEAR_MIN, Period, PeriodError};
pub use region::{RegionCode, RegionError, RegionLevel};
pub use register::{
    ADDRESS_CHARS_MAX, CARD_NO_CHARS_MAX, HOUSEHOLD_ID_BYTES_MAX, HouseholdId, INSTITUTION_NAME_CHARS_MAX, InstitutionCode,
    PERSON_NAME_CHARS_MAX, PersonName, PhysicianCode, RECEIPT_CHARS_MAX, RegisterError, SERIAL_CHARS_MAX, is_register_char, is_serial,
    parse_address, parse_card_no, register_text,
};
pub use scheme::{AssistanceGroup, ClaimKind, DeliveryKind, InstitutionLevel, PersonCategory, Place, Scheme, Tier, TierError, TwoDisease};
pub use spreadsheet::spreadsheet_text;
