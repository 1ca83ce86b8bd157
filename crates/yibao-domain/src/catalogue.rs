//! Catalogue vocabulary (医保目录, R-BEN-1): classes and item codes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Catalogue class (`chrgitm_lv`): A (甲类) fully in scope, B (乙类) in scope after a
/// personal share, C (丙类) wholly self-paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CatalogueClass {
    A,
    B,
    C,
}

impl CatalogueClass {
    /// The national dictionary code: 01, 02, 03.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            CatalogueClass::A => "01",
            CatalogueClass::B => "02",
            CatalogueClass::C => "03",
        }
    }
}

/// Longest catalogue code: a consumable with its serial has 27 characters.
pub const ITEM_CODE_MAX_LEN: usize = 27;

/// A national catalogue code (drug `X…`/`Z…`, service item of 15 digits, consumable of
/// 20 or 27 characters), held inline so that a claim line needs no heap allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemCode {
    len: u8,
    bytes: [u8; ITEM_CODE_MAX_LEN],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a catalogue code: 1 to 27 upper-case letters and digits")]
pub struct ItemCodeError(pub String);

impl ItemCode {
    pub fn parse(text: &str) -> Result<ItemCode, ItemCodeError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.len() > ITEM_CODE_MAX_LEN || !bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(ItemCodeError(text.to_owned()));
        }
        let mut inline = [0u8; ITEM_CODE_MAX_LEN];
        inline[..bytes.len()].copy_from_slice(bytes);
        Ok(ItemCode { len: u8::try_from(bytes.len()).expect("≤ 27"), bytes: inline })
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("ascii")
    }
}

impl fmt::Display for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Debug for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemCode({})", self.as_str())
    }
}
impl Serialize for ItemCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
impl<'de> Deserialize<'de> for ItemCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ItemCode::parse(&text).map_err(serde::de::Error::custom)
    }
}
