//! How a settlement and its claim are stored (issue 17 item 1): the settlement's JSON,
//! explanation included, compressed with zstd against a dictionary trained on settlements;
//! the person's year-to-date counters before and after it, the same way (about 370 bytes of
//! JSON each, mostly zeros, kept in about 50); and the claim as the institution submitted
//! it, against a dictionary trained on claims (about 620 bytes of JSON kept in about 60),
//! with the six fields SQL reads from it in columns of their own ([`ClaimColumns`]); and
//! an audit entry's detail, against a dictionary trained on details
//! (`crate::audit::StoredAudit`).
//!
//! A settlement's JSON is about 4.5 KB, most of it the explanation, whose titles, rule
//! names and field names repeat from claim to claim. zstd with a 64 KiB dictionary trained
//! on 10,000 settlements of the synthetic city stores it in about 270 bytes (a sixteenth);
//! without the dictionary it would be about 1.8 KB. The explanation is stored, not
//! recomputed on reading: it explains the amounts paid, and the catalogue a settlement read
//! is corrected in place (`catalogue_versions` rows are replaced), so a recomputation
//! months later could explain another computation than the one that moved the money.
//!
//! The stored bytes are one of two forms, told apart by their first four bytes:
//! - a zstd frame (magic `28 B5 2F FD`) naming the dictionary it was compressed with
//!   (settlements and counters since store version 24 on SQLite, 25 on PostgreSQL; claims
//!   and audit details since 25 and 26);
//! - the JSON as UTF-8 text (`{`): every row written before, left as it was,
//!   and a value that would compress more than `EXPANSION_MAX` times (thousands of
//!   identical lines), which `unpack` would refuse as a frame.
//!
//! A dictionary, once released, never changes: a frame names its dictionary by id, and a
//! new dictionary is added beside the old ones with a new id (`DICTIONARIES`).
//! `settlement-1.zdict` was trained with
//! `zstd --train <10,000 settlements> --maxdict=65536 --dictID=1497498113`, the settlements
//! drawn at random from `yibao synth --insured 10000 --seed 1 --settle`; `claim-1.zdict`
//! with `zstd --train <10,000 claims> --maxdict=16384 --dictID=1822405517`, the claims
//! drawn at random from `yibao synth --insured 50000 --seed 1 --settle`;
//! `audit-detail-1.zdict` with `zstd --train <10,000 details> --maxdict=16384
//! --dictID=1634218773`, the audit entries' details drawn at random from the same store. A
//! city's own claims name other items than the synthetic city's catalogue, and compress
//! less.

use std::cell::RefCell;
use std::sync::OnceLock;

use yibao_engine::{Accumulators, Settlement};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::StoreError;

/// A stored settlement (or claim) decompresses to at most this many bytes (a 5,000-line
/// claim's settlement with its explanation is about 2 MB); a frame that claims more is
/// refused before anything is allocated.
pub const SETTLEMENT_BYTES_MAX: usize = 8 * 1024 * 1024;

/// zstd's level: 3 compresses a settlement in about 15 µs inside the writer; 9 would save
/// a further 70 bytes for three times the time.
const LEVEL: i32 = 3;

/// A dictionary: (the id its frames name, its bytes).
type Dictionary = (u32, &'static [u8]);

/// The dictionary new settlements and counters are compressed with.
const SETTLEMENTS: Dictionary = DICTIONARIES[0];

/// The dictionary new claims (as submitted) are compressed with.
const CLAIMS: Dictionary = DICTIONARIES[1];

/// The dictionary new audit entries' details are compressed with.
const AUDIT_DETAILS: Dictionary = DICTIONARIES[2];

/// Every dictionary a stored value may name, by the id written in its frame.
const DICTIONARIES: [Dictionary; 3] = [
    (1_497_498_113, include_bytes!("../dictionaries/settlement-1.zdict")),
    (1_822_405_517, include_bytes!("../dictionaries/claim-1.zdict")),
    (1_634_218_773, include_bytes!("../dictionaries/audit-detail-1.zdict")),
];

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// A stored value decompresses to at most this many times its stored size (and at least
/// [`EXPANSION_FLOOR_BYTES`]): settlements compress about 17 times, a long claim's less. A
/// frame that claims more (a few hundred bytes claiming megabytes of spaces) was not
/// written by a store, and reading it would let a page of the book check allocate
/// gigabytes.
const EXPANSION_MAX: usize = 256;
const EXPANSION_FLOOR_BYTES: usize = 64 * 1024;

/// The prepared encoder of each dictionary, in the order of [`DICTIONARIES`].
fn encoder(dictionary: Dictionary) -> Option<&'static EncoderDictionary<'static>> {
    static ENCODERS: OnceLock<Vec<(u32, EncoderDictionary<'static>)>> = OnceLock::new();
    let encoders = ENCODERS.get_or_init(|| DICTIONARIES.iter().map(|(id, bytes)| (*id, EncoderDictionary::copy(bytes, LEVEL))).collect());
    encoders.iter().find(|(known, _)| *known == dictionary.0).map(|(_, encoder)| encoder)
}

fn decoder(id: u32) -> Option<&'static DecoderDictionary<'static>> {
    static DECODERS: OnceLock<Vec<(u32, DecoderDictionary<'static>)>> = OnceLock::new();
    let decoders = DECODERS.get_or_init(|| DICTIONARIES.iter().map(|(id, bytes)| (*id, DecoderDictionary::copy(bytes))).collect());
    decoders.iter().find(|(known, _)| *known == id).map(|(_, dictionary)| dictionary)
}

thread_local! {
    /// One compression context per thread (the writers) and dictionary, reused: a context
    /// is about 1 MB to set up.
    static COMPRESSORS: RefCell<Vec<(u32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(Vec::new()) };
    /// One decompression context per thread and dictionary (the book check unpacks three
    /// values a claim), reused likewise.
    static DECOMPRESSORS: RefCell<Vec<(u32, zstd::bulk::Decompressor<'static>)>> = const { RefCell::new(Vec::new()) };
}

/// A settlement as a store writes it: the compressed JSON and the two values a store's SQL
/// filters on (the underwriting quarter's claims), in columns of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSettlement {
    pub bytes: Vec<u8>,
    /// The national insurance type the claim was settled under (`insutype`).
    pub insutype: &'static str,
    /// The supplementary layer (`oth_pay`), in fen.
    pub supplementary_fen: i64,
}

impl StoredSettlement {
    /// `json` is `settlement` as the record holds it (the text returned byte for byte on a
    /// replay).
    pub fn new(json: &str, settlement: &Settlement) -> Result<StoredSettlement, StoreError> {
        Ok(StoredSettlement { bytes: pack(json)?, insutype: settlement.insutype, supplementary_fen: settlement.oth_pay.get() })
    }
}

/// A claim as a store writes it: the compressed JSON, and the fields SQL reads from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedClaim {
    pub bytes: Vec<u8>,
    pub columns: ClaimColumns,
}

impl PackedClaim {
    /// `json` is the claim as the record holds it (returned byte for byte on reading).
    pub fn new(json: &str) -> Result<PackedClaim, StoreError> {
        Ok(PackedClaim { bytes: pack_claim(json)?, columns: ClaimColumns::of(json) })
    }
}

/// The fields of a claim that SQL filters, sorts and joins on, stored beside its compressed
/// JSON: the kind of care, its days, the institution's level, the diagnosis and the
/// physician. They are copies taken from the JSON when it is stored (the JSON stays the
/// record), each as its JSON string, or none where the claim has no such string (a
/// loader's or a test's stand-in claim).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimColumns {
    pub kind: Option<String>,
    pub admission_date: Option<String>,
    pub discharge_date: Option<String>,
    pub institution_level: Option<String>,
    pub diagnosis: Option<String>,
    pub physician: Option<String>,
}

impl ClaimColumns {
    /// The columns of `claim_json`: a field that is not a string (or JSON that does not
    /// parse) gives none.
    #[must_use]
    pub fn of(claim_json: &str) -> ClaimColumns {
        #[derive(serde::Deserialize)]
        struct Fields {
            #[serde(default, deserialize_with = "text")]
            kind: Option<String>,
            #[serde(default, deserialize_with = "text")]
            admission_date: Option<String>,
            #[serde(default, deserialize_with = "text")]
            discharge_date: Option<String>,
            #[serde(default, deserialize_with = "text")]
            institution_level: Option<String>,
            #[serde(default, deserialize_with = "text")]
            diagnosis: Option<String>,
            #[serde(default, deserialize_with = "text")]
            physician: Option<String>,
        }
        fn text<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<String>, D::Error> {
            use serde::Deserialize;
            Ok(match serde_json::Value::deserialize(from)? {
                serde_json::Value::String(text) => Some(text),
                _ => None,
            })
        }
        match serde_json::from_str::<Fields>(claim_json) {
            Ok(f) => ClaimColumns {
                kind: f.kind,
                admission_date: f.admission_date,
                discharge_date: f.discharge_date,
                institution_level: f.institution_level,
                diagnosis: f.diagnosis,
                physician: f.physician,
            },
            Err(_) => ClaimColumns::default(),
        }
    }

    /// The columns by name, in the order the stores' SQL writes them.
    #[must_use]
    pub fn fields(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("kind", self.kind.as_deref()),
            ("admission_date", self.admission_date.as_deref()),
            ("discharge_date", self.discharge_date.as_deref()),
            ("institution_level", self.institution_level.as_deref()),
            ("diagnosis", self.diagnosis.as_deref()),
            ("physician", self.physician.as_deref()),
        ]
    }

    /// The columns where these and `other` differ: (name, ours, theirs).
    #[must_use]
    pub fn differing<'a>(&'a self, other: &'a ClaimColumns) -> Vec<(&'static str, Option<&'a str>, Option<&'a str>)> {
        self.fields()
            .into_iter()
            .zip(other.fields())
            .filter(|(ours, theirs)| ours.1 != theirs.1)
            .map(|(ours, theirs)| (ours.0, ours.1, theirs.1))
            .collect()
    }

    /// The claim's kind of care, if it names one this build knows.
    #[must_use]
    pub fn claim_kind(&self) -> Option<yibao_domain::ClaimKind> {
        let kind = self.kind.as_deref()?;
        yibao_domain::ClaimKind::ALL.iter().copied().find(|known| known.as_str() == kind)
    }

    /// The claim's day of admission (its day of care), if it reads as a date.
    #[must_use]
    pub fn admission(&self) -> Option<time::Date> {
        yibao_domain::parse_date(self.admission_date.as_deref()?).ok()
    }

    /// The days of the stay this claim is, if it is one (inpatient or maternity) and both
    /// its days read.
    #[must_use]
    pub fn stay(&self, institution: &str, claim_id: &str) -> Option<crate::StayDays> {
        let discharge = yibao_domain::parse_date(self.discharge_date.as_deref()?).ok()?;
        let admission = self.admission()?;
        self.claim_kind()?.is_stay().then(|| (institution.to_owned(), claim_id.to_owned(), admission, discharge))
    }
}

/// A claim row's stored values as the book check reads them: the settlement, the claim,
/// and the counters before and after it; or, if any of them does not read, empty ones and
/// why (the check names the claim and reads on).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackedClaim {
    pub settlement: String,
    pub claim: String,
    pub acc_before: Accumulators,
    pub acc_after: Accumulators,
    pub unreadable: Option<String>,
}

impl UnpackedClaim {
    /// `stored` is the row's [settlement, claim, counters before, counters after] as
    /// stored, or why the store could not read them.
    #[must_use]
    pub fn read(stored: Result<[&[u8]; 4], StoreError>) -> UnpackedClaim {
        let unpacked = stored.and_then(|[settlement, claim, before, after]| {
            Ok(UnpackedClaim {
                settlement: unpack(settlement)?,
                claim: unpack(claim)?,
                acc_before: unpack_accumulators(before)?,
                acc_after: unpack_accumulators(after)?,
                unreadable: None,
            })
        });
        unpacked.unwrap_or_else(|e| UnpackedClaim { unreadable: Some(e.to_string()), ..UnpackedClaim::default() })
    }
}

/// A claim's counters (before or after it) as stored.
pub fn pack_accumulators(accumulators: &Accumulators) -> Result<Vec<u8>, StoreError> {
    pack(&crate::stored::json(accumulators)?)
}

/// A claim's counters as stored: compressed, or JSON as written before.
pub fn unpack_accumulators(bytes: &[u8]) -> Result<Accumulators, StoreError> {
    crate::stored::from_json(&unpack(bytes)?)
}

/// Compresses a settlement's JSON (or its counters') for storing.
pub fn pack(json: &str) -> Result<Vec<u8>, StoreError> {
    pack_with(SETTLEMENTS, json)
}

/// Compresses a claim's JSON, as the institution submitted it, for storing.
pub fn pack_claim(json: &str) -> Result<Vec<u8>, StoreError> {
    pack_with(CLAIMS, json)
}

/// Compresses an audit entry's detail for storing (`audit::StoredAudit`). A detail beyond
/// [`SETTLEMENT_BYTES_MAX`] is kept as its text, which reads the same: the write it
/// records was not refused for its size before details were compressed, and is not now.
pub fn pack_audit_detail(json: &str) -> Result<Vec<u8>, StoreError> {
    if json.len() > SETTLEMENT_BYTES_MAX {
        return Ok(json.as_bytes().to_vec());
    }
    pack_with(AUDIT_DETAILS, json)
}

fn pack_with(dictionary: Dictionary, json: &str) -> Result<Vec<u8>, StoreError> {
    if json.len() > SETTLEMENT_BYTES_MAX {
        return Err(StoreError::Invalid(format!("a value of {} bytes is beyond the {SETTLEMENT_BYTES_MAX} a store keeps", json.len())));
    }
    let zstd_error = |e: std::io::Error| StoreError::Backend(format!("zstd: {e}"));
    COMPRESSORS.with(|slot| {
        let mut compressors = slot.borrow_mut();
        let at = match compressors.iter().position(|(known, _)| *known == dictionary.0) {
            Some(at) => at,
            None => {
                let prepared = encoder(dictionary).ok_or_else(|| StoreError::Backend(format!("no dictionary {}", dictionary.0)))?;
                let mut compressor = zstd::bulk::Compressor::with_prepared_dictionary(prepared).map_err(zstd_error)?;
                // A checksum of the content (4 bytes): a flipped bit on disk is refused on
                // reading rather than read as another amount.
                compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).map_err(zstd_error)?;
                compressors.push((dictionary.0, compressor));
                compressors.len() - 1
            }
        };
        let packed = compressors[at].1.compress(json.as_bytes()).map_err(zstd_error)?;
        // What is written must read back: a value that compresses beyond the bound
        // `unpack` holds frames to (thousands of identical lines) is kept as its text.
        Ok(if json.len() > expansion_bound(packed.len()) { json.as_bytes().to_vec() } else { packed })
    })
}

/// The most a frame of `stored` bytes may decompress to.
fn expansion_bound(stored: usize) -> usize {
    stored.saturating_mul(EXPANSION_MAX).max(EXPANSION_FLOOR_BYTES)
}

/// A stored settlement's (or claim's counters') JSON: decompressed, or as it was written
/// before compression.
/// Anything else (a frame of an unknown dictionary, a damaged frame, text that is not
/// UTF-8) is [`StoreError::Backend`]: the database holds what no store wrote.
pub fn unpack(bytes: &[u8]) -> Result<String, StoreError> {
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return String::from_utf8(bytes.to_vec()).map_err(|e| StoreError::Backend(format!("stored JSON is not UTF-8: {e}")));
    }
    let unreadable = |why: String| StoreError::Backend(format!("stored compressed value unreadable: {why}"));
    let id = zstd::zstd_safe::get_dict_id_from_frame(bytes).map_or(0, std::num::NonZeroU32::get);
    let dictionary = decoder(id).ok_or_else(|| unreadable(format!("compressed with dictionary {id}, which this build does not have")))?;
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(size)) if size > expansion_bound(bytes.len()) as u64 => {
            return Err(unreadable(format!("its frame says {size} bytes from {}: more than a store's value expands to", bytes.len())));
        }
        Ok(Some(size)) if size <= SETTLEMENT_BYTES_MAX as u64 => usize::try_from(size).map_err(|e| unreadable(e.to_string()))?,
        Ok(Some(size)) => return Err(unreadable(format!("its frame says {size} bytes, beyond {SETTLEMENT_BYTES_MAX}"))),
        Ok(None) | Err(_) => return Err(unreadable("its frame does not say its size".into())),
    };
    let json = DECOMPRESSORS.with(|slot| {
        let mut decompressors = slot.borrow_mut();
        let at = match decompressors.iter().position(|(known, _)| *known == id) {
            Some(at) => at,
            None => {
                let decompressor = zstd::bulk::Decompressor::with_prepared_dictionary(dictionary).map_err(|e| unreadable(e.to_string()))?;
                decompressors.push((id, decompressor));
                decompressors.len() - 1
            }
        };
        decompressors[at].1.decompress(bytes, size).map_err(|e| unreadable(e.to_string()))
    })?;
    String::from_utf8(json).map_err(|e| unreadable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLEMENT: &str = r#"{"med_type":"11","insutype":"390","service_date":"2025-01-18","policy_version":1,"lines":[],"explanation":[{"rule":"service-date","title":{"zh":"就诊日期、年度与适用档次","en":"Date of service, year and tier in force"}}]}"#;

    #[test]
    fn a_settlement_comes_back_byte_for_byte_and_smaller() {
        let packed = pack(SETTLEMENT).expect("pack");
        assert!(packed.starts_with(&ZSTD_MAGIC));
        assert!(packed.len() < SETTLEMENT.len() / 2, "{} bytes packed from {}", packed.len(), SETTLEMENT.len());
        assert_eq!(unpack(&packed).expect("unpack"), SETTLEMENT);
        assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&packed).map(std::num::NonZeroU32::get), Some(SETTLEMENTS.0));
    }

    /// A released dictionary never changes: every frame compressed with it names it by id
    /// alone. A new dictionary is added beside it under a new id.
    #[test]
    fn the_released_dictionary_is_the_one_it_was() {
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(DICTIONARIES[0].1).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, "c038ee644f4c4bd607162c1df8d58da2a53d1664d4503bf44b69ab7c0d6d21c5");
        assert_eq!(DICTIONARIES[0].0, 1_497_498_113);
    }

    #[test]
    fn a_settlement_written_before_compression_reads_as_it_was() {
        assert_eq!(unpack(SETTLEMENT.as_bytes()).expect("plain JSON"), SETTLEMENT);
    }

    #[test]
    fn what_no_store_wrote_is_refused_by_name() {
        let mut packed = pack(SETTLEMENT).expect("pack");
        let last = packed.len() - 1;
        packed[last] ^= 0xFF;
        packed.truncate(last - 3);
        assert!(matches!(unpack(&packed), Err(StoreError::Backend(m)) if m.contains("unreadable")));
        assert!(matches!(unpack(&[0xFF, 0xFE]), Err(StoreError::Backend(m)) if m.contains("UTF-8")));
        let plain = zstd::bulk::compress(SETTLEMENT.as_bytes(), 3).expect("no dictionary");
        assert!(matches!(unpack(&plain), Err(StoreError::Backend(m)) if m.contains("dictionary 0")));
    }

    #[test]
    fn counters_come_back_equal_from_either_form() {
        let mut counters = Accumulators::new_year(2026);
        counters.admissions = 2;
        counters.pooled_paid = yibao_domain::Fen::new(123_456);
        let packed = pack_accumulators(&counters).expect("pack");
        assert!(packed.len() < 100, "{} bytes", packed.len());
        assert_eq!(unpack_accumulators(&packed).expect("unpack"), counters);
        let text = crate::stored::json(&counters).expect("json");
        assert_eq!(unpack_accumulators(text.as_bytes()).expect("JSON as written before"), counters);
    }

    #[test]
    fn a_flipped_bit_or_a_bomb_is_refused() {
        let mut packed = pack(SETTLEMENT).expect("pack");
        let middle = packed.len() / 2;
        packed[middle] ^= 0x10;
        assert!(matches!(unpack(&packed), Err(StoreError::Backend(m)) if m.contains("unreadable")), "the checksum refuses it");
        let spaces = format!("{SETTLEMENT}{}", " ".repeat(4 * 1024 * 1024));
        let bomb = zstd::bulk::Compressor::with_dictionary(LEVEL, SETTLEMENTS.1)
            .and_then(|mut c| c.compress(spaces.as_bytes()))
            .expect("four megabytes of spaces compress small");
        assert!(bomb.len() * EXPANSION_MAX < spaces.len());
        assert!(matches!(unpack(&bomb), Err(StoreError::Backend(m)) if m.contains("more than a store's value expands to")));
    }

    /// What `pack` writes, `unpack` reads: a value that would compress beyond the bound
    /// (thousands of identical lines) is kept as its text.
    #[test]
    fn a_value_that_compresses_too_well_is_kept_as_text() {
        let line = r#"{"code":"XJ01CAA040E001010100163","quantity":"1","unit_price":"8.50","class":"A","verdict":"covered"},"#;
        let repetitive = format!(r#"{{"lines":[{}{{}}]}}"#, line.repeat(20_000));
        let packed = pack(&repetitive).expect("pack");
        assert_eq!(packed, repetitive.as_bytes(), "kept as text");
        assert_eq!(unpack(&packed).expect("reads back"), repetitive);
        let ordinary = pack(SETTLEMENT).expect("pack");
        assert!(ordinary.starts_with(&ZSTD_MAGIC), "an ordinary settlement is compressed");
    }

    const CLAIM: &str = r#"{"claim_id":"C2025-00000003-001","institution_code":"H41990200001","institution_level":"tertiary","place":"in-area","kind":"general-outpatient","admission_date":"2025-01-24","discharge_date":"2025-01-24","diagnosis":"M54.500","referral":false,"emergency":false,"referred_deductible_paid":"0.00","delivery":null,"lines":[{"code":"001102000010000","quantity":"1","unit_price":"10.00","approved":false},{"code":"002501010150200","quantity":"1","unit_price":"25.00","approved":false}]}"#;

    #[test]
    fn a_claim_comes_back_byte_for_byte_against_its_own_dictionary() {
        let packed = pack_claim(CLAIM).expect("pack");
        assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&packed).map(std::num::NonZeroU32::get), Some(CLAIMS.0));
        assert!(packed.len() * 4 < CLAIM.len(), "{} bytes packed from {}", packed.len(), CLAIM.len());
        assert_eq!(unpack(&packed).expect("unpack"), CLAIM);
        assert_eq!(unpack(CLAIM.as_bytes()).expect("a claim written before compression"), CLAIM);
        let as_settlement = pack(CLAIM).expect("pack");
        assert!(packed.len() < as_settlement.len(), "{} bytes against the settlements' {}", packed.len(), as_settlement.len());
    }

    #[test]
    fn the_released_claim_and_audit_dictionaries_are_the_ones_they_were() {
        let digest = |bytes: &[u8]| crate::hex_lower(&<sha2::Sha256 as sha2::Digest>::digest(bytes));
        assert_eq!(digest(CLAIMS.1), "0ac00cacc3c58e5fea54689d1b0c7ccc6dd3779b35453c5da0e67cf1bc9f3930");
        assert_eq!(CLAIMS.0, 1_822_405_517);
        assert_eq!(digest(AUDIT_DETAILS.1), "4f16417ad12ec39d7f8a648cbf57e0e245f6842b10310a235f76e1cfa9b76d09");
        assert_eq!(AUDIT_DETAILS.0, 1_634_218_773);
    }

    /// An audit detail beyond what a frame may hold is stored as its text: an audited
    /// write is never refused for the size of its detail.
    #[test]
    fn an_audit_detail_beyond_the_limit_is_kept_as_text() {
        let huge = format!(r#"{{"lines":"{}"}}"#, "x".repeat(SETTLEMENT_BYTES_MAX));
        let stored = pack_audit_detail(&huge).expect("kept");
        assert_eq!(stored, huge.as_bytes());
        let ordinary = pack_audit_detail(r#"{"reason":"duplicate"}"#).expect("pack");
        assert!(ordinary.starts_with(&ZSTD_MAGIC));
    }

    #[test]
    fn a_claims_columns_are_its_strings() {
        let columns = ClaimColumns::of(CLAIM);
        assert_eq!(
            columns.fields(),
            [
                ("kind", Some("general-outpatient")),
                ("admission_date", Some("2025-01-24")),
                ("discharge_date", Some("2025-01-24")),
                ("institution_level", Some("tertiary")),
                ("diagnosis", Some("M54.500")),
                ("physician", None),
            ]
        );
        assert_eq!(columns.claim_kind(), Some(yibao_domain::ClaimKind::GeneralOutpatient));
        assert_eq!(columns.stay("H1", "C1"), None, "a visit is no stay");
        let stay = ClaimColumns::of(r#"{"kind":"inpatient","admission_date":"2025-01-24","discharge_date":"2025-01-30","physician":7}"#);
        assert_eq!(stay.physician, None, "a number is not a physician's code");
        let (_, _, admission, discharge) = stay.stay("H1", "C1").expect("a stay");
        assert_eq!((admission.to_string(), discharge.to_string()), ("2025-01-24".to_owned(), "2025-01-30".to_owned()));
        assert_eq!(ClaimColumns::of("{not json"), ClaimColumns::default());
        assert_eq!(ClaimColumns::of("{}").stay("H1", "C1"), None, "a stand-in claim is no stay");
        let edited = ClaimColumns { kind: Some("pharmacy-purchase".into()), ..columns.clone() };
        assert_eq!(columns.differing(&edited), vec![("kind", Some("general-outpatient"), Some("pharmacy-purchase"))]);
    }

    #[test]
    fn a_settlement_beyond_the_limit_is_not_stored() {
        let huge = "x".repeat(SETTLEMENT_BYTES_MAX + 1);
        assert!(matches!(pack(&huge), Err(StoreError::Invalid(_))));
    }
}
