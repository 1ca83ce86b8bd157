//! An employer's unified social credit code (统一社会信用代码, GB 32100-2015): the one
//! identifier an insured employer (参保单位) has (R-FIN-1).
//!
//! Eighteen characters from a 31-character alphabet (digits and the capitals without I, O,
//! S, V and Z): the registering authority, the organisation's category, the six-digit
//! region code where it was registered, a nine-character organisation code, and a check
//! character computed from the seventeen before it (weights 3^i mod 31).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::RegionCode;

/// Most characters in an employer's name (单位名称), as its licence writes it.
pub const EMPLOYER_NAME_CHARS_MAX: usize = 100;

/// The code's alphabet, in the order of the values the check sums.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weight of each of the first seventeen characters: 3^i mod 31.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A unified social credit code whose alphabet, region and check character are right.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmployerCode([u8; 18]);

/// Why a text is not a unified social credit code. Each says what a clerk must correct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmployerCodeError {
    #[error("a unified social credit code has 18 characters, this one has {0}")]
    WrongLength(usize),
    #[error("character {position} of the unified social credit code is not a digit or a capital other than I, O, S, V or Z")]
    BadCharacter { position: usize },
    #[error("characters 3 to 8 of the unified social credit code, {0}, are not a region code")]
    BadRegion(String),
    #[error(
        "the unified social credit code's check character is {found} but its first 17 characters give {expected}: a character was probably mistyped"
    )]
    CheckMismatch { expected: char, found: char },
}

fn value_of(byte: u8) -> Option<u32> {
    ALPHABET.iter().position(|&c| c == byte).and_then(|i| u32::try_from(i).ok())
}

fn check_char(code: &[u8]) -> u8 {
    let sum: u32 = code[..17].iter().zip(WEIGHTS).map(|(&c, w)| value_of(c).expect("alphabet checked") * w).sum();
    ALPHABET[((31 - sum % 31) % 31) as usize]
}

impl EmployerCode {
    /// Parses and checks a code. Lower-case letters are accepted and stored in capitals.
    pub fn parse(text: &str) -> Result<EmployerCode, EmployerCodeError> {
        let text = text.trim();
        let bytes = text.as_bytes();
        if bytes.len() != 18 {
            return Err(EmployerCodeError::WrongLength(text.chars().count()));
        }
        let mut code = [0u8; 18];
        for (index, &byte) in bytes.iter().enumerate() {
            let upper = byte.to_ascii_uppercase();
            if value_of(upper).is_none() {
                return Err(EmployerCodeError::BadCharacter { position: index + 1 });
            }
            code[index] = upper;
        }
        let region = std::str::from_utf8(&code[2..8]).expect("ascii");
        // `100000` is the code of organisations registered by a national authority.
        if region != "100000" {
            RegionCode::parse(region).map_err(|_| EmployerCodeError::BadRegion(region.to_owned()))?;
        }
        let expected = check_char(&code);
        if expected != code[17] {
            return Err(EmployerCodeError::CheckMismatch { expected: char::from(expected), found: char::from(code[17]) });
        }
        Ok(EmployerCode(code))
    }

    /// Builds a valid code for an enterprise (`91`) registered in `region` with a
    /// nine-digit organisation `number`, computing the check character (for test and
    /// synthetic-data generators). `None` when `number` has more than nine digits.
    #[must_use]
    pub fn from_parts(region: RegionCode, number: u64) -> Option<EmployerCode> {
        if number > 999_999_999 {
            return None;
        }
        let text = format!("91{region}{number:09}0");
        let mut code: [u8; 18] = text.as_bytes().try_into().ok()?;
        code[17] = check_char(&code);
        Some(EmployerCode(code))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii")
    }
}

impl fmt::Display for EmployerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EmployerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmployerCode({})", self.as_str())
    }
}

impl FromStr for EmployerCode {
    type Err = EmployerCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmployerCode::parse(s)
    }
}

impl Serialize for EmployerCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EmployerCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EmployerCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_codes_pass_their_check() {
        // Codes printed on business licences, checked with the GB 32100 weights.
        for code in ["914403001922038216", "9144030071526726XG", "91330100799655058B", "911000001000013428"] {
            assert_eq!(EmployerCode::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(EmployerCode::parse(" 9144030071526726xg ").unwrap().as_str(), "9144030071526726XG");
    }

    #[test]
    fn each_mistake_is_named() {
        assert_eq!(EmployerCode::parse("91440300"), Err(EmployerCodeError::WrongLength(8)));
        assert_eq!(EmployerCode::parse("9144030071526726OG"), Err(EmployerCodeError::BadCharacter { position: 17 }));
        assert_eq!(EmployerCode::parse("9100000071526726XG"), Err(EmployerCodeError::BadRegion("000000".into())));
        assert_eq!(EmployerCode::parse("9144030071526726XH"), Err(EmployerCodeError::CheckMismatch { expected: 'G', found: 'H' }));
    }

    #[test]
    fn built_codes_parse() {
        let region = RegionCode::parse("419921").unwrap();
        let code = EmployerCode::from_parts(region, 12_345).unwrap();
        assert_eq!(EmployerCode::parse(code.as_str()), Ok(code));
        assert!(code.as_str().starts_with("91419921000012345"));
        assert_eq!(EmployerCode::from_parts(region, 1_000_000_000), None);
    }
}
