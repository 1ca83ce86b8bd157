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

/// The national list a catalogue code belongs to (`list_type`), read from the code's shape
/// (医保编码规则): a medicine, Western `X…` or Chinese patent `Z…`, of 20 or 23 characters;
/// a medical service item of 15 digits; a medical consumable `C…` of 20 or 27 characters.
/// Any other code is a local one (a city's own item, a hospital preparation) and belongs to
/// no national list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    Medicine,
    Service,
    Consumable,
}

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [ItemKind::Medicine, ItemKind::Service, ItemKind::Consumable];

    /// The national list `code` has the shape of, if any.
    #[must_use]
    pub fn of(code: &ItemCode) -> Option<ItemKind> {
        let text = code.as_bytes();
        match (text.first(), text.len()) {
            (Some(b'X' | b'Z'), 20 | 23) => Some(ItemKind::Medicine),
            (Some(b'C'), 20 | 27) => Some(ItemKind::Consumable),
            (_, 15) if text.iter().all(u8::is_ascii_digit) => Some(ItemKind::Service),
            _ => None,
        }
    }

    /// The national dictionary code `list_type`: 101 medicines (西药中成药), 201 medical
    /// service items (医疗服务项目), 301 medical consumables (医用耗材).
    #[must_use]
    pub const fn list_type(self) -> &'static str {
        match self {
            ItemKind::Medicine => "101",
            ItemKind::Service => "201",
            ItemKind::Consumable => "301",
        }
    }

    #[must_use]
    pub fn from_list_type(code: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|kind| kind.list_type() == code)
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ItemKind::Medicine => "medicine",
            ItemKind::Service => "service",
            ItemKind::Consumable => "consumable",
        }
    }
}

impl ItemCode {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Longest diagnosis or procedure code accepted (the 医保版 extensions add `x` and 3 digits).
pub const MEDICAL_CODE_MAX_LEN: usize = 16;

/// Whether `text` has the shape of an ICD-10 diagnosis code, national insurance edition 2.0
/// (医保版): a capital letter and two digits, then optionally a dot and 1 to 8 digits,
/// capital letters or the placeholder `x` (`O80`, `K35.900`, `I10.x00`, `A01.000x001`).
#[must_use]
pub fn is_diagnosis_code(text: &str) -> bool {
    let b = text.as_bytes();
    let head = b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit();
    head && match &b[3..] {
        [] => true,
        [b'.', tail @ ..] => {
            (1..=8).contains(&tail.len()) && tail.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || *c == b'x')
        }
        _ => false,
    }
}

/// Whether `text` has the shape of an ICD-9-CM-3 procedure code, national insurance edition
/// (医保版): two digits, then optionally a dot and 1 to 4 digits, optionally followed by the
/// extension `x` and 3 digits (`51.23`, `51.2300`, `36.0600x004`).
#[must_use]
pub fn is_procedure_code(text: &str) -> bool {
    let b = text.as_bytes();
    let head = b.len() >= 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit();
    head && match &b[2..] {
        [] => true,
        [b'.', tail @ ..] => {
            let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            let rest = &tail[digits..];
            (1..=4).contains(&digits)
                && (rest.is_empty() || (rest.len() == 4 && rest[0] == b'x' && rest[1..].iter().all(u8::is_ascii_digit)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_national_code_shapes() {
        let kind = |code: &str| ItemKind::of(&ItemCode::parse(code).expect("code"));
        assert_eq!(kind("XA01ABD075A002010100483"), Some(ItemKind::Medicine));
        assert_eq!(kind("ZA01AAA0001010101234"), Some(ItemKind::Medicine));
        assert_eq!(kind("001201000010000"), Some(ItemKind::Service));
        assert_eq!(kind("C0101010100100000000"), Some(ItemKind::Consumable));
        assert_eq!(kind("C0101010100100000000000000"), None, "26 characters is no consumable");
        assert_eq!(kind("C01010101001000000000000001"), Some(ItemKind::Consumable));
        assert_eq!(kind("00120100001000"), None, "14 digits is no service item");
        assert_eq!(kind("HOSPPREP01"), None);
        for kind in ItemKind::ALL {
            assert_eq!(ItemKind::from_list_type(kind.list_type()), Some(kind));
        }
        assert_eq!(ItemKind::from_list_type("102"), None);
    }

    #[test]
    fn diagnosis_and_procedure_shapes() {
        for good in ["O80", "K35.900", "I10.x00", "A01.000x001", "E11.9"] {
            assert!(is_diagnosis_code(good), "{good}");
        }
        for bad in ["", "I1", "i10.x00", "I10.", "I10x00", "110.000", "I10.000000000", "I10.0-0", "LAPCHOLE"] {
            assert!(!is_diagnosis_code(bad), "{bad}");
        }
        for good in ["51", "51.23", "51.2300", "36.0600x004", "00.66"] {
            assert!(is_procedure_code(good), "{good}");
        }
        for bad in ["", "5", "LAPCHOLE", "51.", "51.23000", "36.0600x04", "36.0600y004", "A1.23", "51-23"] {
            assert!(!is_procedure_code(bad), "{bad}");
        }
    }
}
