//! Administrative division codes (行政区划代码, GB/T 2260), used as insurance region codes
//! (医保区划): `41` province, `4101` city, `410102` county or district (R-GEO-1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 6-digit region code. The pooling region (统筹区) is a city; a city contains its
/// counties and districts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode(u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionLevel {
    Province,
    City,
    County,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("'{0}' is not a region code: a region code is 6 digits, e.g. 410100")]
    NotSixDigits(String),
    #[error("'{0}' is not a region code: its first two digits name no province (11 to 82)")]
    NoSuchProvince(String),
}

impl RegionCode {
    pub fn parse(text: &str) -> Result<RegionCode, RegionError> {
        let t = text.trim();
        if t.len() != 6 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::NotSixDigits(text.to_owned()));
        }
        let code: u32 = t.parse().map_err(|_| RegionError::NotSixDigits(text.to_owned()))?;
        let province = code / 10_000;
        if !(11..=82).contains(&province) {
            return Err(RegionError::NoSuchProvince(text.to_owned()));
        }
        Ok(RegionCode(code))
    }

    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    #[must_use]
    pub const fn level(self) -> RegionLevel {
        if self.0.is_multiple_of(10_000) {
            RegionLevel::Province
        } else if self.0.is_multiple_of(100) {
            RegionLevel::City
        } else {
            RegionLevel::County
        }
    }

    /// The city (or the province itself, for a province code) this region belongs to.
    #[must_use]
    pub const fn city(self) -> RegionCode {
        match self.level() {
            RegionLevel::Province => self,
            _ => RegionCode(self.0 / 100 * 100),
        }
    }

    #[must_use]
    pub const fn province(self) -> RegionCode {
        RegionCode(self.0 / 10_000 * 10_000)
    }

    /// Whether `other` is this region or lies inside it.
    #[must_use]
    pub const fn contains(self, other: RegionCode) -> bool {
        match self.level() {
            RegionLevel::Province => other.0 / 10_000 == self.0 / 10_000,
            RegionLevel::City => other.0 / 100 == self.0 / 100,
            RegionLevel::County => other.0 == self.0,
        }
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({:06})", self.0)
    }
}

impl FromStr for RegionCode {
    type Err = RegionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCode::parse(s)
    }
}

impl Serialize for RegionCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RegionCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy() {
        let zhengzhou = RegionCode::parse("410100").unwrap();
        let jinshui = RegionCode::parse("410105").unwrap();
        let sanmenxia = RegionCode::parse("411200").unwrap();
        assert_eq!(zhengzhou.level(), RegionLevel::City);
        assert_eq!(jinshui.level(), RegionLevel::County);
        assert_eq!(jinshui.city(), zhengzhou);
        assert!(zhengzhou.contains(jinshui));
        assert!(zhengzhou.contains(zhengzhou));
        assert!(!jinshui.contains(zhengzhou));
        assert!(!zhengzhou.contains(sanmenxia));
        assert!(RegionCode::parse("410000").unwrap().contains(sanmenxia));
    }

    #[test]
    fn refuses_bad_codes() {
        assert_eq!(RegionCode::parse("4101"), Err(RegionError::NotSixDigits("4101".into())));
        assert_eq!(RegionCode::parse("41010a"), Err(RegionError::NotSixDigits("41010a".into())));
        assert_eq!(RegionCode::parse("990100"), Err(RegionError::NoSuchProvince("990100".into())));
    }
}
