//! The dated national catalogue as records (issue 13, R-BEN-1): every version of every item
//! the bureau loaded, one row each, keyed by item, region and first day. Loading a file
//! again replaces the versions it repeats (a correction) and adds the rest; versions are
//! never deleted, since a settlement of any past date reads the version of its day.
//!
//! The store keeps the rows and writes them whole or not at all; whether the merged
//! catalogue is consistent (no two versions of an item and region overlapping) is the
//! application's check (`yibao_policy::Catalogue::merged`) before it writes.

use std::future::Future;

use serde::Serialize;
use yibao_domain::{CatalogueClass, Fen, InstitutionLevel, ItemCode, ItemKind, RatioBp, RegionCode};
use yibao_policy::CatalogueItem;
pub use yibao_policy::CatalogueVersion;

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
    /// Rows marked withdrawn (`vali_flag` 0), skipped.
    pub withdrawn: usize,
    /// Rows for another province or city, skipped.
    pub elsewhere: usize,
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
            price_cap[*level as usize] = cap.map(Fen::new);
        }
        let selfpay_share = match self.selfpay_share_bp {
            None => None,
            Some(bp) => Some(RatioBp::new(u32::try_from(bp).ok().filter(|bp| *bp <= 10_000).ok_or_else(|| bad("share out of range"))?)),
        };
        let version = CatalogueVersion {
            item: CatalogueItem { code, name: self.name.clone(), class, restricted: self.restricted, price_cap, selfpay_share },
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
    /// Writes `versions` (each replacing a row of the same item, region and first day) and
    /// the load's audit entry, in one transaction.
    fn put_catalogue(
        &self,
        actor: &Actor,
        city: RegionCode,
        load: &CatalogueLoad,
        versions: &[CatalogueVersion],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every version held.
    fn catalogue_versions(&self) -> impl Future<Output = Result<Vec<CatalogueVersion>, StoreError>> + Send;
    /// The number of the latest load (0: none): a server that holds the catalogue as of
    /// another number reads it again.
    fn catalogue_stamp(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// The latest loads, newest first, at most `limit`, each with its number, moment and staff.
    fn catalogue_loads(&self, limit: u32) -> impl Future<Output = Result<Vec<CatalogueLoadRecord>, StoreError>> + Send;
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
