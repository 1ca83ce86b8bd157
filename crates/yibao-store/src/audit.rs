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
