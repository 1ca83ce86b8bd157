//! The 18-character resident identity number (公民身份号码, GB 11643-1999), R-ENR-1.
//!
//! Layout: 6-digit address code (GB/T 2260), 8-digit birth date `YYYYMMDD`, 3-digit
//! sequence (odd for men, even for women), 1 check character computed by ISO 7064
//! MOD 11-2 over the first 17 digits (`X` stands for 10).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

use crate::region::RegionCode;

/// Weights of ISO 7064 MOD 11-2 for positions 1..=17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each `sum mod 11`.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// A national ID whose shape, birth date and check digit are known to be right.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NationalId([u8; 18]);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

/// Why a text is not a national ID. Each variant says what a clerk must correct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    #[error("a national ID has 18 characters, this one has {0}")]
    WrongLength(usize),
    #[error("character {position} of the national ID must be a digit{}", if *position == 18 { " or X" } else { "" })]
    NotADigit { position: usize },
    #[error("the national ID's address code {0} is not a valid region code")]
    BadAddressCode(String),
    #[error("the national ID's birth date {0} is not a real date")]
    BadBirthDate(String),
    #[error("the national ID's check character is {found} but its first 17 digits give {expected}: a digit was probably mistyped")]
    CheckDigitMismatch { expected: char, found: char },
}

impl NationalId {
    /// Parses and checks an ID. A lower-case `x` is accepted and stored as `X`.
    pub fn parse(text: &str) -> Result<NationalId, NationalIdError> {
        let bytes = text.trim().as_bytes();
        if bytes.len() != 18 {
            return Err(NationalIdError::WrongLength(text.trim().chars().count()));
        }
        let mut id = [0u8; 18];
        for (index, &byte) in bytes.iter().enumerate() {
            let position = index + 1;
            id[index] = match byte {
                b'0'..=b'9' => byte,
                b'x' | b'X' if position == 18 => b'X',
                _ => return Err(NationalIdError::NotADigit { position }),
            };
        }
        let address = std::str::from_utf8(&id[0..6]).expect("ascii digits");
        RegionCode::parse(address).map_err(|_| NationalIdError::BadAddressCode(address.to_owned()))?;
        let birth = std::str::from_utf8(&id[6..14]).expect("ascii digits");
        birth_date_of(&id).ok_or_else(|| NationalIdError::BadBirthDate(birth.to_owned()))?;
        let expected = check_char(&id);
        if expected != id[17] {
            return Err(NationalIdError::CheckDigitMismatch { expected: char::from(expected), found: char::from(id[17]) });
        }
        Ok(NationalId(id))
    }

    /// Builds a valid ID from its parts, computing the check character (used by test and
    /// synthetic-data generators). Returns `None` for an impossible date or a sequence > 999.
    #[must_use]
    pub fn from_parts(address: RegionCode, birth: Date, sequence: u16) -> Option<NationalId> {
        if sequence > 999 || birth.year() < 1000 || birth.year() > 9999 {
            return None;
        }
        let text = format!("{}{:04}{:02}{:02}{:03}0", address, birth.year(), u8::from(birth.month()), birth.day(), sequence);
        let mut id: [u8; 18] = text.as_bytes().try_into().ok()?;
        id[17] = check_char(&id);
        Some(NationalId(id))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii")
    }

    /// Region where the ID was first issued (not necessarily where the person is insured).
    #[must_use]
    pub fn address_code(&self) -> RegionCode {
        RegionCode::parse(&self.as_str()[0..6]).expect("checked at parse")
    }

    #[must_use]
    pub fn birth_date(&self) -> Date {
        birth_date_of(&self.0).expect("checked at parse")
    }

    /// Sex from the parity of the 17th digit.
    #[must_use]
    pub fn sex(&self) -> Sex {
        if (self.0[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
    }

    /// Age in whole years on `on` (0 before the first birthday).
    #[must_use]
    pub fn age_on(&self, on: Date) -> u32 {
        let birth = self.birth_date();
        if on < birth {
            return 0;
        }
        let mut years = on.year() - birth.year();
        if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
            years -= 1;
        }
        u32::try_from(years).unwrap_or(0)
    }
}

fn check_char(id: &[u8; 18]) -> u8 {
    let sum: u32 = id[..17].iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

fn birth_date_of(id: &[u8; 18]) -> Option<Date> {
    let digits = |range: std::ops::Range<usize>| -> u32 { id[range].iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')) };
    let year = i32::try_from(digits(6..10)).ok()?;
    if year < 1880 {
        return None;
    }
    let month = Month::try_from(u8::try_from(digits(10..12)).ok()?).ok()?;
    let day = u8::try_from(digits(12..14)).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// `text` with every run of 17 digits and a check character (what a national ID looks
/// like, valid or not) masked to its first six and last four characters,
/// `419921********0015`: for log lines, which must carry no personal data.
#[must_use]
pub fn mask_national_ids(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_run = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let candidate = chars.get(i..i + 18).filter(|run| {
            run[..17].iter().all(char::is_ascii_digit)
                && (run[17].is_ascii_digit() || run[17] == 'X' || run[17] == 'x')
                && chars.get(i + 18).is_none_or(|next| !next.is_ascii_alphanumeric())
        });
        match candidate {
            Some(run) if starts_run => {
                out.extend(&run[..6]);
                out.push_str("********");
                out.extend(&run[14..]);
                i += 18;
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NationalId {
    /// Masks the middle (birth date and sequence), as staff screens and logs must.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        write!(f, "NationalId({}********{})", &s[0..6], &s[14..18])
    }
}

impl FromStr for NationalId {
    type Err = NationalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NationalId::parse(s)
    }
}

impl Serialize for NationalId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NationalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        NationalId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    #[test]
    fn log_text_carries_no_national_id() {
        assert_eq!(
            super::mask_national_ids("person 419921197005170015 and 41992119700517004X, not 4199211970051700151 or A419921197005170015"),
            "person 419921********0015 and 419921********004X, not 4199211970051700151 or A419921197005170015"
        );
        assert_eq!(super::mask_national_ids("无此人：419921197005170015。"), "无此人：419921********0015。");
        assert_eq!(super::mask_national_ids(""), "");
    }

    use super::*;
    use time::macros::date;

    #[test]
    fn accepts_a_valid_id_and_derives_birth_date_and_sex() {
        // The example of GB 11643-1999 itself.
        let id = NationalId::parse("11010519491231002X").unwrap();
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.address_code().to_string(), "110105");
        assert_eq!(id.age_on(date!(2026 - 12 - 30)), 76);
        assert_eq!(id.age_on(date!(2026 - 12 - 31)), 77);
        let man = NationalId::parse("440524188001010014").unwrap();
        assert_eq!(man.sex(), Sex::Male);
        assert_eq!(NationalId::parse("11010519491231002x").unwrap(), id);
    }

    #[test]
    fn refuses_each_kind_of_bad_id_with_its_reason() {
        assert_eq!(NationalId::parse("1101051949123100"), Err(NationalIdError::WrongLength(16)));
        assert_eq!(NationalId::parse("11010519491231X02X"), Err(NationalIdError::NotADigit { position: 15 }));
        assert_eq!(NationalId::parse("11010519490231002X"), Err(NationalIdError::BadBirthDate("19490231".into())));
        assert_eq!(NationalId::parse("110105194912310021"), Err(NationalIdError::CheckDigitMismatch { expected: 'X', found: '1' }));
        assert_eq!(NationalId::parse("00010519491231002X"), Err(NationalIdError::BadAddressCode("000105".into())));
    }

    #[test]
    fn debug_masks_birth_date() {
        let id = NationalId::parse("11010519491231002X").unwrap();
        assert_eq!(format!("{id:?}"), "NationalId(110105********002X)");
    }

    proptest::proptest! {
        #[test]
        fn generated_ids_parse_and_any_single_digit_change_is_caught(
            days in 0i64..40_000, seq in 0u16..1000, pos in 0usize..17, delta in 1u8..10
        ) {
            let birth = date!(1920 - 01 - 01) + time::Duration::days(days);
            let id = NationalId::from_parts(RegionCode::parse("410102").unwrap(), birth, seq).unwrap();
            let reparsed = NationalId::parse(id.as_str()).unwrap();
            proptest::prop_assert_eq!(reparsed, id);
            proptest::prop_assert_eq!(reparsed.birth_date(), birth);
            // MOD 11-2 detects every single-digit substitution.
            let mut bytes = id.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let mutated = String::from_utf8(bytes).unwrap();
            proptest::prop_assert!(NationalId::parse(&mutated).is_err());
        }
    }
}
