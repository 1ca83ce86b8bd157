//! The register's own identifiers and names: a designated institution's code, a
//! household's id and a person's name. Each is checked once, here, when it is parsed
//! ("parse, don't validate"); a value of these types is valid wherever it travels, from
//! an edge through the application layer into the store and back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest household id, in bytes (UTF-8).
pub const HOUSEHOLD_ID_BYTES_MAX: usize = 64;
/// Longest person's name, in characters.
pub const PERSON_NAME_CHARS_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("'{0}' is not a designated institution code: 'H' (hospital) or 'P' (pharmacy), the 6-digit region and a 5-digit serial")]
    InstitutionCode(String),
    #[error("a household id has 1 to {HOUSEHOLD_ID_BYTES_MAX} bytes and no control characters")]
    HouseholdId,
    #[error("a name has 1 to {PERSON_NAME_CHARS_MAX} characters and no control characters")]
    PersonName,
}

impl RegisterError {
    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            RegisterError::InstitutionCode(_) => "institution.bad_code",
            RegisterError::HouseholdId => "household.bad_id",
            RegisterError::PersonName => "person.bad_name",
        }
    }
}

/// What the three types share: a checked string, read as `&str`, written to JSON as a
/// string and read from JSON through its parser.
macro_rules! checked_text {
    ($name:ident) => {
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl FromStr for $name {
            type Err = RegisterError;
            fn from_str(text: &str) -> Result<$name, RegisterError> {
                $name::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = RegisterError;
            fn try_from(text: String) -> Result<$name, RegisterError> {
                $name::parse(&text)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = RegisterError;
            fn try_from(text: &str) -> Result<$name, RegisterError> {
                $name::parse(text)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_text!(InstitutionCode);
checked_text!(HouseholdId);
checked_text!(PersonName);

impl InstitutionCode {
    /// A designated institution's code (定点医药机构编码): `H` (hospital) or `P`
    /// (pharmacy), the 6-digit region and a 5-digit serial, e.g. `H41990200001`. Exact:
    /// no blanks are trimmed.
    pub fn parse(text: &str) -> Result<InstitutionCode, RegisterError> {
        if InstitutionCode::is_valid(text) {
            Ok(InstitutionCode(text.to_owned()))
        } else {
            Err(RegisterError::InstitutionCode(text.chars().take(32).collect()))
        }
    }

    /// Whether `text` is a valid code, without allocating (the engine's claim check).
    #[must_use]
    pub fn is_valid(text: &str) -> bool {
        let code = text.as_bytes();
        code.len() == 12 && matches!(code[0], b'H' | b'P') && code[1..].iter().all(u8::is_ascii_digit)
    }

    /// The six digits of the region the code was issued in.
    #[must_use]
    pub fn region_digits(&self) -> &str {
        &self.0[1..7]
    }

    /// A designated retail pharmacy (定点零售药店) rather than a hospital.
    #[must_use]
    pub fn is_pharmacy(&self) -> bool {
        self.0.starts_with('P')
    }
}

impl HouseholdId {
    /// A household id (户编号) as the county's register writes it: surrounding blanks
    /// trimmed, then 1 to [`HOUSEHOLD_ID_BYTES_MAX`] bytes without control characters.
    pub fn parse(text: &str) -> Result<HouseholdId, RegisterError> {
        let text = text.trim();
        if text.is_empty() || text.len() > HOUSEHOLD_ID_BYTES_MAX || text.chars().any(char::is_control) {
            return Err(RegisterError::HouseholdId);
        }
        Ok(HouseholdId(text.to_owned()))
    }
}

impl PersonName {
    /// A person's name as on the ID card: surrounding blanks trimmed, then 1 to
    /// [`PERSON_NAME_CHARS_MAX`] characters without control characters.
    pub fn parse(text: &str) -> Result<PersonName, RegisterError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > PERSON_NAME_CHARS_MAX || text.chars().any(char::is_control) {
            return Err(RegisterError::PersonName);
        }
        Ok(PersonName(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn institution_codes_are_a_letter_a_region_and_a_serial() {
        assert_eq!(InstitutionCode::parse("H41990200001").map(|c| c.is_pharmacy()), Ok(false));
        assert_eq!(InstitutionCode::parse("P41990200001").map(|c| c.is_pharmacy()), Ok(true));
        assert_eq!(InstitutionCode::parse("H41992100007").map(|c| c.region_digits().to_owned()), Ok("419921".to_owned()));
        for bad in ["", "h41990200001", "X41990200001", "H4199020000", "H419902000011", " H41990200001", "H41990200O01"] {
            let error = InstitutionCode::parse(bad).expect_err(bad);
            assert_eq!(error.code(), "institution.bad_code", "{bad}");
        }
    }

    #[test]
    fn household_ids_and_names_are_trimmed_bounded_and_printable() {
        assert_eq!(HouseholdId::parse("  HH-419902-1 ").map(String::from), Ok("HH-419902-1".to_owned()));
        assert_eq!(HouseholdId::parse(&"户".repeat(21)).map(|h| h.len()), Ok(63));
        for bad in ["", "   ", "a\nb", &"户".repeat(22)] {
            assert_eq!(HouseholdId::parse(bad), Err(RegisterError::HouseholdId), "{bad:?}");
        }
        assert_eq!(PersonName::parse(" 王伟 ").map(String::from), Ok("王伟".to_owned()));
        assert!(PersonName::parse(&"王".repeat(64)).is_ok());
        for bad in ["", " ", "王\t伟", &"王".repeat(65)] {
            assert_eq!(PersonName::parse(bad).map_err(|e| e.code()), Err("person.bad_name"), "{bad:?}");
        }
    }

    #[test]
    fn json_goes_through_the_parser() {
        let name: PersonName = serde_json::from_str("\"李娜\"").expect("a name");
        assert_eq!(name, "李娜");
        assert_eq!(serde_json::to_string(&name).expect("json"), "\"李娜\"");
        assert!(serde_json::from_str::<InstitutionCode>("\"H1\"").is_err());
        assert!(serde_json::from_str::<HouseholdId>("\"\"").is_err());
    }
}
