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
/// Longest household address, in characters.
pub const ADDRESS_CHARS_MAX: usize = 200;
/// Longest social-security card number, in characters.
pub const CARD_NO_CHARS_MAX: usize = 32;

/// Whether `c` may stand in a register's text (a name, an address, an id): not a control,
/// format (invisible: zero-width spaces, bidirectional overrides, the byte-order mark),
/// line or paragraph separator, private-use, surrogate or unassigned character. Such
/// characters make two records look alike on screen or reorder what a clerk reads.
#[must_use]
pub fn is_register_char(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    // Default-ignorable characters outside the format category: the Hangul fillers, the
    // variation selectors, the combining grapheme joiner and the Khmer and Mongolian
    // invisibles render as nothing.
    let ignorable = matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}' | '\u{E0100}'..='\u{E01EF}'
    );
    !ignorable
        && !matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
                | GeneralCategory::Unassigned
        )
}

/// The most characters of a receipt's number (收据号).
pub const RECEIPT_CHARS_MAX: usize = 64;

/// The longest name of a designated institution (定点医药机构名称), in characters.
pub const INSTITUTION_NAME_CHARS_MAX: usize = 100;

/// The longest serial an institution's system gives (an inpatient or outpatient number
/// `ipt_otp_no`, a fee line's `feedetl_sn`).
pub const SERIAL_CHARS_MAX: usize = 30;

/// Whether `text` is an institution's serial: 1 to [`SERIAL_CHARS_MAX`] printable ASCII
/// characters, as the national interface carries them.
#[must_use]
pub fn is_serial(text: &str) -> bool {
    !text.is_empty() && text.len() <= SERIAL_CHARS_MAX && text.bytes().all(|b| b.is_ascii_graphic())
}

/// `text` trimmed, if it has 1 to `chars_max` characters, every one a register character
/// (and none a mark standing on nothing): the one rule of the register's free text (names,
/// addresses, an employer's name, a receipt's number).
#[must_use]
pub fn register_text(text: &str, chars_max: usize) -> Option<&str> {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    let text = text.trim();
    // A mark combines with what comes before it: leading, it stands on nothing.
    let leading_mark = text.chars().next().is_some_and(|c| c.general_category_group() == GeneralCategoryGroup::Mark);
    (!text.is_empty() && !leading_mark && text.chars().count() <= chars_max && text.chars().all(is_register_char)).then_some(text)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("'{0}' is not a designated institution code: 'H' (hospital) or 'P' (pharmacy), the 6-digit region and a 5-digit serial")]
    InstitutionCode(String),
    #[error("a household id has 1 to {HOUSEHOLD_ID_BYTES_MAX} bytes and no control characters")]
    HouseholdId,
    #[error("a name has 1 to {PERSON_NAME_CHARS_MAX} characters, none of them control or invisible characters")]
    PersonName,
    #[error("an address has 1 to {ADDRESS_CHARS_MAX} characters, none of them control or invisible characters")]
    Address,
    #[error("a card number has 1 to {CARD_NO_CHARS_MAX} letters, digits and hyphens")]
    CardNo,
    #[error("'{0}' is not an insurance physician's code: 'D', the 6-digit region and a 6-digit serial")]
    PhysicianCode(String),
}

impl RegisterError {
    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            RegisterError::InstitutionCode(_) => "institution.bad_code",
            RegisterError::HouseholdId => "household.bad_id",
            RegisterError::PersonName => "person.bad_name",
            RegisterError::Address => "household.bad_address",
            RegisterError::CardNo => "person.bad_card_no",
            RegisterError::PhysicianCode(_) => "physician.bad_code",
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
checked_text!(PhysicianCode);

impl PhysicianCode {
    /// An insurance physician's code (医保医师代码): `D`, the 6-digit region it was issued in
    /// and a 6-digit serial, e.g. `D419921000001`. The national rule for the code was not
    /// found published; this shape is the one secondary sources give (`docs/glossary.md`).
    pub fn parse(text: &str) -> Result<PhysicianCode, RegisterError> {
        if PhysicianCode::is_valid(text) {
            Ok(PhysicianCode(text.to_owned()))
        } else {
            Err(RegisterError::PhysicianCode(text.chars().take(32).collect()))
        }
    }

    /// Whether `text` is a valid code, without allocating (the engine's claim check).
    #[must_use]
    pub fn is_valid(text: &str) -> bool {
        let code = text.as_bytes();
        code.len() == 13 && code[0] == b'D' && code[1..].iter().all(u8::is_ascii_digit)
    }

    /// The six digits of the region the code was issued in.
    #[must_use]
    pub fn region_digits(&self) -> &str {
        &self.0[1..7]
    }
}

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
    /// trimmed, then 1 to [`HOUSEHOLD_ID_BYTES_MAX`] bytes of [register
    /// characters](is_register_char).
    pub fn parse(text: &str) -> Result<HouseholdId, RegisterError> {
        match register_text(text, HOUSEHOLD_ID_BYTES_MAX) {
            Some(text) if text.len() <= HOUSEHOLD_ID_BYTES_MAX => Ok(HouseholdId(text.to_owned())),
            _ => Err(RegisterError::HouseholdId),
        }
    }
}

impl PersonName {
    /// A person's name as on the ID card: surrounding blanks trimmed, then 1 to
    /// [`PERSON_NAME_CHARS_MAX`] [register characters](is_register_char).
    pub fn parse(text: &str) -> Result<PersonName, RegisterError> {
        register_text(text, PERSON_NAME_CHARS_MAX).map(|text| PersonName(text.to_owned())).ok_or(RegisterError::PersonName)
    }
}

/// A household's address (住址), as the register keeps it: surrounding blanks trimmed, then
/// 1 to [`ADDRESS_CHARS_MAX`] [register characters](is_register_char). Returns the text
/// to store.
pub fn parse_address(text: &str) -> Result<String, RegisterError> {
    register_text(text, ADDRESS_CHARS_MAX).map(str::to_owned).ok_or(RegisterError::Address)
}

/// A social-security card number (社会保障卡号, R-SYS-4): surrounding blanks trimmed, then
/// 1 to [`CARD_NO_CHARS_MAX`] ASCII letters, digits and hyphens, letters in capitals (a card
/// is one card however its number is typed). Returns the text to store.
pub fn parse_card_no(text: &str) -> Result<String, RegisterError> {
    let text = text.trim();
    if text.is_empty() || text.len() > CARD_NO_CHARS_MAX || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(RegisterError::CardNo);
    }
    Ok(text.to_ascii_uppercase())
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
    fn invisible_and_reordering_characters_are_refused_everywhere() {
        // NUL, a right-to-left override, only a zero-width space, a byte-order mark, a line
        // separator, a private-use character: each found by a tester or a real attack.
        for bad in [
            "张\u{0}三",
            "张\u{202E}三",
            "\u{200B}",
            "张三\u{FEFF}",
            "张\u{2028}三",
            "张\u{E000}三",
            "\u{3164}",
            "\u{FE0F}",
            "\u{0301}",
            "\u{0301}张",
        ] {
            assert_eq!(PersonName::parse(bad), Err(RegisterError::PersonName), "{bad:?}");
            assert_eq!(parse_address(bad), Err(RegisterError::Address), "{bad:?}");
            assert_eq!(HouseholdId::parse(bad), Err(RegisterError::HouseholdId), "{bad:?}");
        }
        // Names of the minorities keep their middle dot; addresses their punctuation.
        assert_eq!(PersonName::parse("阿依古丽·买买提").map(String::from), Ok("阿依古丽·买买提".to_owned()));
        assert_eq!(parse_address(" 幸福路 1 号（东门）、3-2 "), Ok("幸福路 1 号（东门）、3-2".to_owned()));
        assert_eq!(parse_address(&"路".repeat(ADDRESS_CHARS_MAX)).map(|a| a.chars().count()), Ok(ADDRESS_CHARS_MAX));
        assert_eq!(parse_address(&"路".repeat(ADDRESS_CHARS_MAX + 1)), Err(RegisterError::Address));
        assert_eq!(parse_address(&"x".repeat(1 << 20)).map_err(|e| e.code()), Err("household.bad_address"));
    }

    #[test]
    fn card_numbers_are_short_ascii_letters_digits_and_hyphens() {
        assert_eq!(parse_card_no(" Z12345678 "), Ok("Z12345678".to_owned()));
        assert_eq!(parse_card_no("d99900001"), Ok("D99900001".to_owned()), "one card however it is typed");
        assert_eq!(parse_card_no("4101-0203-99"), Ok("4101-0203-99".to_owned()));
        for bad in ["", "  ", "Z1234 5678", "Z１２３", "Z123\u{200B}", &"9".repeat(CARD_NO_CHARS_MAX + 1), &"9".repeat(100_000)] {
            assert_eq!(parse_card_no(bad).map_err(|e| e.code()), Err("person.bad_card_no"), "{bad:?}");
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
