//! The dated national catalogue as records (issue 13, R-BEN-1): every version of every item
//! the bureau loaded, one row each, keyed by item, region and first day. Loading a file
//! again replaces the versions it repeats (a correction) and adds the rest; a version is
//! deleted only when the source withdraws it, since a settlement of any past date reads the
//! version of its day.
//!
//! The store keeps the rows and writes them whole or not at all; whether the merged
//! catalogue is consistent (no two versions of an item and region overlapping) is the
//! application's check (`yibao_policy::Catalogue::merged`) before it writes.

use std::future::Future;

use serde::Serialize;
use yibao_domain::{CatalogueClass, Fen, InstitutionLevel, ItemCode, ItemKind, RatioBp, RegionCode};
use yibao_policy::CatalogueItem;
pub use yibao_policy::{CatalogueVersion, VersionKey};

use crate::{Actor, StoreError};

/// Most versions one load writes (the national lists together are about 100,000 items).
pub const CATALOGUE_LOAD_MAX: usize = 1_000_000;

/// What a load was, for the audit log and the answer: the file, its digest and its counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CatalogueLoad {
    pub file: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    pub cite: String,
    /// Data rows in the file.
    pub rows: usize,
    /// Versions written that the catalogue did not hold.
    pub added: usize,
    /// Versions written over one of the same item, region and first day.
    pub replaced: usize,
    /// Versions the catalogue already held exactly (not written again).
    pub unchanged: usize,
    /// Rows marked withdrawn (`vali_flag` 0).
    pub withdrawn: usize,
    /// Versions held that the file withdrew, deleted.
    pub removed: usize,
    /// Rows for another province or city, skipped.
    pub elsewhere: usize,
    /// The optional columns the file does not have (every row read them as empty).
    #[serde(default)]
    pub columns_absent: Vec<String>,
    /// A proposal: the load number the file was checked against. An approval after a
    /// later load is refused (`catalogue.stale`): its counts would not be the ones read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub based_on: Option<i64>,
    /// An approved proposal's load: the proposal's number and its proposer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_by: Option<String>,
}

/// One version as its row's columns: the text and numbers both backends bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueRow {
    pub code: String,
    /// The region's code, or empty for the nation (a key column cannot be null).
    pub region_code: String,
    /// `YYYY-MM-DD`.
    pub begin_date: String,
    pub end_date: Option<String>,
    pub list_type: String,
    pub name: String,
    pub class: String,
    pub restricted: bool,
    pub selfpay_share_bp: Option<i64>,
    /// 谈判药品 (R-PAY-2).
    pub negotiated: bool,
    /// Price caps in fen by level, in `InstitutionLevel::ALL` order (township, primary,
    /// secondary, tertiary).
    pub caps_fen: [Option<i64>; 4],
    pub cite: String,
}

impl CatalogueRow {
    #[must_use]
    pub fn of(version: &CatalogueVersion) -> CatalogueRow {
        let item = &version.item;
        CatalogueRow {
            code: item.code.to_string(),
            region_code: version.region.map_or_else(String::new, |r| r.to_string()),
            begin_date: version.from.to_string(),
            end_date: version.until.map(|d| d.to_string()),
            list_type: version.kind.list_type().to_owned(),
            name: item.name.clone(),
            class: format!("{:?}", item.class),
            restricted: item.restricted,
            selfpay_share_bp: item.selfpay_share.map(|s| i64::from(s.get())),
            negotiated: item.negotiated,
            caps_fen: InstitutionLevel::ALL.map(|level| item.price_cap[level as usize].map(Fen::get)),
            cite: version.cite.clone(),
        }
    }

    /// The version the row holds, re-parsed: a row edited past the application into
    /// something that is not a version is an error, not a guess.
    pub fn version(&self) -> Result<CatalogueVersion, StoreError> {
        let bad = |what: &str| StoreError::Backend(format!("catalogue row {} {}: {what}", self.code, self.begin_date));
        let date = |text: &str| yibao_domain::parse_date(text).map_err(|_| bad("a date is not YYYY-MM-DD"));
        let code = ItemCode::parse(&self.code).map_err(|_| bad("not an item code"))?;
        let class = match self.class.as_str() {
            "A" => CatalogueClass::A,
            "B" => CatalogueClass::B,
            "C" => CatalogueClass::C,
            _ => return Err(bad("class is not A, B or C")),
        };
        let mut price_cap = [None; 4];
        for (level, cap) in InstitutionLevel::ALL.iter().zip(self.caps_fen) {
            price_cap[*level as usize] = cap.map(|fen| Fen::checked(fen).ok_or_else(|| bad("a price cap is out of range"))).transpose()?;
        }
        let selfpay_share = match self.selfpay_share_bp {
            None => None,
            Some(bp) => Some(RatioBp::new(u32::try_from(bp).ok().filter(|bp| *bp <= 10_000).ok_or_else(|| bad("share out of range"))?)),
        };
        let version = CatalogueVersion {
            item: CatalogueItem {
                code,
                name: self.name.clone(),
                class,
                restricted: self.restricted,
                price_cap,
                selfpay_share,
                negotiated: self.negotiated,
            },
            kind: ItemKind::from_list_type(&self.list_type).ok_or_else(|| bad("list_type is not 101, 201 or 301"))?,
            region: if self.region_code.is_empty() { None } else { Some(RegionCode::parse(&self.region_code).map_err(|_| bad("region"))?) },
            from: date(&self.begin_date)?,
            until: self.end_date.as_deref().map(date).transpose()?,
            cite: self.cite.clone(),
        };
        match version.fault() {
            Some(fault) => Err(bad(&fault)),
            None => Ok(version),
        }
    }
}

/// Where the catalogue's versions are kept. The city is the audit chain a load goes to.
pub trait CatalogueStore: Send + Sync + 'static {
    /// Writes `versions` (each replacing a row of the same item, region and first day),
    /// deletes the versions under `removed`, and records the load (numbered `expected` + 1)
    /// with its audit entry, in one transaction; refused with `catalogue.stale`, nothing
    /// written, when the latest load is not `expected` (another load came first: the caller
    /// merged into a catalogue that is not the store's any more).
    fn put_catalogue(
        &self,
        actor: &Actor,
        city: RegionCode,
        change: CatalogueChange<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every version held.
    fn catalogue_versions(&self) -> impl Future<Output = Result<Vec<CatalogueVersion>, StoreError>> + Send;
    /// The number of the latest load (0: none): a server that holds the catalogue as of
    /// another number reads it again.
    fn catalogue_stamp(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// The latest loads, newest first, at most `limit`, each with its number, moment and staff.
    fn catalogue_loads(&self, limit: u32) -> impl Future<Output = Result<Vec<CatalogueLoadRecord>, StoreError>> + Send;
    /// Keeps a file a policy officer proposes to load, with its dry run's counts, for another
    /// to approve (numbered, audited `catalogue.propose`). At most [`PROPOSAL_BYTES_MAX`].
    fn propose_catalogue(
        &self,
        actor: &Actor,
        city: RegionCode,
        load: &CatalogueLoad,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<CatalogueProposal, StoreError>> + Send;
    /// The latest proposals, newest first, at most `limit` (without their files).
    fn catalogue_proposals(&self, limit: u32) -> impl Future<Output = Result<Vec<CatalogueProposal>, StoreError>> + Send;
    /// One proposal and its file.
    fn catalogue_proposal(&self, seq: i64) -> impl Future<Output = Result<Option<(CatalogueProposal, Vec<u8>)>, StoreError>> + Send;
    /// Rejects a proposal still proposed (`catalogue.not_proposed` otherwise), audited
    /// `catalogue.reject` with the note.
    fn reject_catalogue_proposal(
        &self,
        actor: &Actor,
        city: RegionCode,
        seq: i64,
        note: &str,
    ) -> impl Future<Output = Result<CatalogueProposal, StoreError>> + Send;
}

/// The largest file a proposal keeps (the API's and the console's upload limit).
pub const PROPOSAL_BYTES_MAX: usize = 64 << 20;

/// A load one policy officer proposed and another decides (issue 13: the catalogue changes
/// what every claim is paid, so it takes two people, as a pack version does).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CatalogueProposal {
    pub seq: i64,
    /// RFC 3339.
    pub proposed_at: String,
    pub proposed_by: String,
    /// `proposed`, `approved` or `rejected`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
    /// The file and its dry run's counts when it was proposed.
    pub load: CatalogueLoad,
}

impl CatalogueProposal {
    /// A proposal as it is when made: numbered `seq`, by `actor`, not yet decided.
    #[must_use]
    pub fn proposed(seq: i64, actor: &Actor, load: &CatalogueLoad) -> CatalogueProposal {
        CatalogueProposal {
            seq,
            proposed_at: actor.at_text(),
            proposed_by: actor.who.clone(),
            status: "proposed".into(),
            decided_by: None,
            decided_at: None,
            note: None,
            load: load.clone(),
        }
    }
}

/// The limits of a proposed file every store applies before keeping it.
pub fn check_proposal_file(bytes: &[u8]) -> Result<(), StoreError> {
    if bytes.is_empty() || bytes.len() > PROPOSAL_BYTES_MAX {
        return Err(StoreError::Invalid(format!("a proposed catalogue file holds 1 byte to {PROPOSAL_BYTES_MAX} bytes")));
    }
    Ok(())
}

/// The refusal of an approval by the proposal's own proposer.
#[must_use]
pub fn same_officer(seq: i64) -> StoreError {
    StoreError::Refused {
        code: "catalogue.same_officer",
        message: format!("catalogue proposal {seq} is yours: another policy officer approves it"),
    }
}

/// The refusal of a decision on a proposal that is not (or no longer) proposed.
#[must_use]
pub fn not_proposed(seq: i64) -> StoreError {
    StoreError::Refused {
        code: "catalogue.not_proposed",
        message: format!("catalogue proposal {seq} is not proposed (decided already, or none)"),
    }
}

/// A load as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CatalogueLoadRecord {
    pub seq: i64,
    /// RFC 3339.
    pub loaded_at: String,
    pub loaded_by: String,
    pub load: CatalogueLoad,
}

/// What one load changes in the store.
#[derive(Clone, Copy, Debug)]
pub struct CatalogueChange<'a> {
    pub load: &'a CatalogueLoad,
    /// The number of the latest load the change was merged on.
    pub expected: i64,
    pub versions: &'a [CatalogueVersion],
    pub removed: &'a [VersionKey],
    /// The proposal this load approves (marked approved in the same transaction, refused
    /// with `catalogue.not_proposed` if it was decided meanwhile); `None`: the operator's
    /// own load.
    pub proposal: Option<i64>,
}

/// The refusal of a load merged on a catalogue another load has changed since.
pub fn stale(expected: i64, latest: i64) -> StoreError {
    StoreError::Refused {
        code: "catalogue.stale",
        message: format!("the catalogue was read at load {expected}, and load {latest} came since: load the file again"),
    }
}

/// A key's columns: code, region ('' national), first day.
#[must_use]
pub fn key_columns(key: &VersionKey) -> (String, String, String) {
    (key.0.to_string(), key.1.map_or_else(String::new, |r| r.to_string()), key.2.to_string())
}

/// The limits every store applies before writing.
pub fn check_load(versions: &[CatalogueVersion]) -> Result<(), StoreError> {
    if versions.len() > CATALOGUE_LOAD_MAX {
        return Err(StoreError::Invalid(format!("a catalogue load writes at most {CATALOGUE_LOAD_MAX} versions")));
    }
    if let Some(fault) = versions.iter().find_map(CatalogueVersion::fault) {
        return Err(StoreError::Invalid(fault));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored row edited past the application into something that is not a version is an
    /// error, never a panic (hostile review: a cap of i64::MAX fen panicked at start).
    #[test]
    fn a_stored_row_out_of_range_is_an_error_not_a_panic() {
        let good = CatalogueRow {
            code: "001201000010000".into(),
            region_code: String::new(),
            begin_date: "2024-01-01".into(),
            end_date: None,
            list_type: "201".into(),
            name: "bed".into(),
            class: "A".into(),
            restricted: false,
            selfpay_share_bp: None,
            negotiated: false,
            caps_fen: [None, Some(4_500), None, None],
            cite: "c".into(),
        };
        let version = good.version().expect("a version");
        assert_eq!(CatalogueRow::of(&version), good, "a row reads back as it was written");
        for bad in [
            CatalogueRow { caps_fen: [Some(i64::MAX), None, None, None], ..good.clone() },
            CatalogueRow { selfpay_share_bp: Some(10_001), ..good.clone() },
            CatalogueRow { begin_date: "-2024-01-01".into(), ..good.clone() },
            CatalogueRow { list_type: "301".into(), ..good.clone() },
        ] {
            assert!(matches!(bad.version(), Err(StoreError::Backend(_))), "{bad:?}");
        }
    }
}
