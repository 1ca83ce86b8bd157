//! How a settlement is stored (issue 17 item 1): its JSON, explanation included,
//! compressed with zstd against a dictionary trained on settlements; and the person's
//! year-to-date counters before and after it, the same way (about 370 bytes of JSON each,
//! mostly zeros, kept in about 50).
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
//!   (written since store version 24 on SQLite, 25 on PostgreSQL);
//! - the settlement's JSON as UTF-8 text (`{`): every row written before, left as it was,
//!   and a value that would compress more than `EXPANSION_MAX` times (thousands of
//!   identical lines), which `unpack` would refuse as a frame.
//!
//! A dictionary, once released, never changes: a frame names its dictionary by id, and a
//! new dictionary is added beside the old ones with a new id (`DICTIONARIES`).
//! `settlement-1.zdict` was trained with
//! `zstd --train <10,000 settlements> --maxdict=65536 --dictID=1497498113`, the settlements
//! drawn at random from `yibao synth --insured 10000 --seed 1 --settle`.

use std::cell::RefCell;
use std::sync::OnceLock;

use yibao_engine::{Accumulators, Settlement};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::StoreError;

/// A stored settlement decompresses to at most this many bytes (a 5,000-line claim's
/// settlement with its explanation is about 2 MB); a frame that claims more is refused
/// before anything is allocated.
pub const SETTLEMENT_BYTES_MAX: usize = 8 * 1024 * 1024;

/// zstd's level: 3 compresses a settlement in about 15 µs inside the writer; 9 would save
/// a further 70 bytes for three times the time.
const LEVEL: i32 = 3;

/// The dictionary new settlements are compressed with: (id, bytes).
const CURRENT: (u32, &[u8]) = DICTIONARIES[0];

/// Every dictionary a stored settlement may name, by the id written in its frame.
const DICTIONARIES: [(u32, &[u8]); 1] = [(1_497_498_113, include_bytes!("../dictionaries/settlement-1.zdict"))];

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// A stored value decompresses to at most this many times its stored size (and at least
/// [`EXPANSION_FLOOR_BYTES`]): settlements compress about 17 times, a long claim's less. A
/// frame that claims more (a few hundred bytes claiming megabytes of spaces) was not
/// written by a store, and reading it would let a page of the book check allocate
/// gigabytes.
const EXPANSION_MAX: usize = 256;
const EXPANSION_FLOOR_BYTES: usize = 64 * 1024;

fn encoder() -> &'static EncoderDictionary<'static> {
    static ENCODER: OnceLock<EncoderDictionary<'static>> = OnceLock::new();
    ENCODER.get_or_init(|| EncoderDictionary::copy(CURRENT.1, LEVEL))
}

fn decoder(id: u32) -> Option<&'static DecoderDictionary<'static>> {
    static DECODERS: OnceLock<Vec<(u32, DecoderDictionary<'static>)>> = OnceLock::new();
    let decoders = DECODERS.get_or_init(|| DICTIONARIES.iter().map(|(id, bytes)| (*id, DecoderDictionary::copy(bytes))).collect());
    decoders.iter().find(|(known, _)| *known == id).map(|(_, dictionary)| dictionary)
}

thread_local! {
    /// One compression context per thread (the writers), reused: a context is about
    /// 1 MB to set up.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
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

/// A claim's counters (before or after it) as stored.
pub fn pack_accumulators(accumulators: &Accumulators) -> Result<Vec<u8>, StoreError> {
    pack(&crate::stored::json(accumulators)?)
}

/// A claim's counters as stored: compressed, or JSON as written before.
pub fn unpack_accumulators(bytes: &[u8]) -> Result<Accumulators, StoreError> {
    crate::stored::from_json(&unpack(bytes)?)
}

/// Compresses a settlement's JSON (or any stored JSON) for storing.
pub fn pack(json: &str) -> Result<Vec<u8>, StoreError> {
    if json.len() > SETTLEMENT_BYTES_MAX {
        return Err(StoreError::Invalid(format!(
            "a settlement of {} bytes is beyond the {SETTLEMENT_BYTES_MAX} a store keeps",
            json.len()
        )));
    }
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(compressor) => compressor,
            None => {
                let mut compressor =
                    zstd::bulk::Compressor::with_prepared_dictionary(encoder()).map_err(|e| StoreError::Backend(format!("zstd: {e}")))?;
                // A checksum of the content (4 bytes): a flipped bit on disk is refused on
                // reading rather than read as another amount.
                compressor
                    .set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
                    .map_err(|e| StoreError::Backend(format!("zstd: {e}")))?;
                slot.insert(compressor)
            }
        };
        let packed = compressor.compress(json.as_bytes()).map_err(|e| StoreError::Backend(format!("zstd: {e}")))?;
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
        assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&packed).map(std::num::NonZeroU32::get), Some(CURRENT.0));
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
        let bomb = zstd::bulk::Compressor::with_dictionary(LEVEL, CURRENT.1)
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

    #[test]
    fn a_settlement_beyond_the_limit_is_not_stored() {
        let huge = "x".repeat(SETTLEMENT_BYTES_MAX + 1);
        assert!(matches!(pack(&huge), Err(StoreError::Invalid(_))));
    }
}
