//! The append-only audit log, chained by SHA-256 per region (R-SYS-6): each entry's hash
//! covers the previous entry's hash and every field of its own, so editing, deleting or
//! reordering any past entry breaks every hash after it.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of a chain's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record: who did what, when, from where, to what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub region: String,
    pub seq: i64,
    /// RFC 3339 time of the write.
    pub at: String,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub entity: String,
    /// JSON describing the change.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// An entry's detail and digests as a store writes them (issue 17 item 1): the detail
/// compressed against a dictionary trained on audit details (about 320 bytes of JSON, two
/// record digests in it, kept in about 95), the two digests as their 32 bytes rather than
/// 64 hex digits. The hash is computed over the text forms, so the chain does not depend
/// on how a row is stored; entries written before keep their text and read the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAudit {
    pub detail: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl StoredAudit {
    /// How `entry`'s detail and digests are stored.
    pub fn of(entry: &AuditEntry) -> Result<StoredAudit, crate::StoreError> {
        Ok(StoredAudit {
            detail: crate::compact::pack_audit_detail(&entry.detail)?,
            prev_hash: digest_stored(&entry.prev_hash),
            hash: digest_stored(&entry.hash),
        })
    }
}

/// A digest as stored: its 32 bytes, or (not a digest in lowercase hex) its text.
fn digest_stored(hex: &str) -> Vec<u8> {
    let nibble = |digit: u8| match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    };
    let bytes: Option<Vec<u8>> = (hex.len() == 64)
        .then(|| hex.as_bytes().chunks_exact(2).map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect())
        .flatten();
    bytes.unwrap_or_else(|| hex.as_bytes().to_vec())
}

/// A stored digest as text: 32 bytes are a digest, written in hex; anything else is the text
/// written before (or, damaged, as much of it as reads, which no hash will match).
#[must_use]
pub fn digest_text(stored: &[u8]) -> String {
    if stored.len() == 32 { hex_lower(stored) } else { String::from_utf8_lossy(stored).into_owned() }
}

/// A stored detail as text: decompressed, or as written before. A detail that does not
/// read (a damaged frame) becomes a text no hash matches, so `audit verify` names its entry
/// rather than stopping.
#[must_use]
pub fn detail_text(stored: &[u8]) -> String {
    crate::compact::unpack(stored).unwrap_or_else(|e| format!("(unreadable: {e})"))
}

/// The hash of `entry` chained to `prev_hash`. Fields are length-prefixed so that no two
/// different entries can serialise to the same bytes.
#[must_use]
pub fn entry_hash(prev_hash: &str, entry: &AuditEntry) -> String {
    let mut hasher = Sha256::new();
    for field in [
        prev_hash,
        &entry.region,
        &entry.seq.to_string(),
        &entry.at,
        &entry.actor,
        &entry.source,
        &entry.action,
        &entry.entity,
        &entry.detail,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex_lower(&hasher.finalize())
}

/// `bytes` as lowercase hexadecimal, two digits a byte: how every digest of the store is
/// written (audit hashes, record digests, inventories).
#[must_use]
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// The result of walking every chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    pub regions: usize,
    pub entries: usize,
    /// One line per broken link; empty when the log is intact.
    pub breaks: Vec<String>,
    /// Where each region's chain ends, as walked (an anchor when the log is intact).
    pub ends: Vec<crate::AuditHead>,
}

impl AuditVerification {
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        let mut entry = AuditEntry {
            region: "419902".into(),
            seq: 7,
            at: "2026-12-07T20:13:22.479560409Z".into(),
            actor: "H41990200003".into(),
            source: "api".into(),
            action: "claim.settle".into(),
            entity: "H41990200003/C2025-00000002-001".into(),
            detail: r#"{"institution":"H41990200003","claim_id":"C2025-00000002-001","person":"419902196306140019","medfee":"106.00","fund_pay":"0.00","psn_part":"106.00","settlement_sha256":"018ee5b990d63ffb4db967fe9052534e378ab652f87c5ad4f5e1d318603d6117","accumulators_sha256":"f8b458ac62030c1603fd9395af10478b93ce5195582599aaaa9f559e61309536"}"#.into(),
            prev_hash: "3c2a4a073301fffe9578d534433ffef0bb72b21a130f738698e2f2c9bc451029".into(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry.prev_hash, &entry);
        entry
    }

    /// What a store writes reads back as the entry it was, so its hash still matches; and
    /// an entry stored as text before reads the same.
    #[test]
    fn an_entry_stored_compactly_reads_back_as_it_was() {
        let entry = entry();
        let stored = StoredAudit::of(&entry).expect("stored");
        assert_eq!((stored.prev_hash.len(), stored.hash.len()), (32, 32));
        assert!(stored.detail.len() * 2 < entry.detail.len(), "{} bytes for {}", stored.detail.len(), entry.detail.len());
        let read = AuditEntry {
            detail: detail_text(&stored.detail),
            prev_hash: digest_text(&stored.prev_hash),
            hash: digest_text(&stored.hash),
            ..entry.clone()
        };
        assert_eq!(read, entry);
        assert_eq!(entry_hash(&read.prev_hash, &read), entry.hash);
        assert_eq!(detail_text(entry.detail.as_bytes()), entry.detail, "a detail written before");
        assert_eq!(digest_text(entry.hash.as_bytes()), entry.hash, "a digest written before");
        assert_eq!(digest_stored(GENESIS_HASH), vec![0; 32]);
    }

    /// A damaged detail or digest reads as a text no hash matches: `audit verify` names the
    /// entry and reads on.
    #[test]
    fn a_damaged_entry_reads_as_what_no_hash_matches() {
        let entry = entry();
        let mut stored = StoredAudit::of(&entry).expect("stored");
        let middle = stored.detail.len() / 2;
        stored.detail[middle] ^= 0x10;
        let damaged = AuditEntry { detail: detail_text(&stored.detail), ..entry.clone() };
        assert!(damaged.detail.starts_with("(unreadable"), "{}", damaged.detail);
        assert_ne!(entry_hash(&damaged.prev_hash, &damaged), entry.hash);
        assert_eq!(digest_stored("not a digest"), b"not a digest");
        assert_ne!(digest_text(&stored.hash[..31]), entry.hash, "a digest cut short is no digest");
    }
}
