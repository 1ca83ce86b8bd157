//! The dated national catalogue (医保目录, issue 13 item 2, R-BEN-1, R-BEN-7): loading the
//! national list's files, and keeping the catalogue the settlements read in step with the
//! store. One use case for every edge (the CLI's `yibao catalogue load`, the API's upload,
//! the demo city at its first start): read the file, check every row, merge it into the
//! catalogue held and check the whole, and only then write, whole or nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;
use yibao_import::RowError;
use yibao_policy::{CITE_CHARS_MAX, Catalogue, CatalogueVersion};
use yibao_store::{CatalogueChange, CatalogueLoad, CatalogueLoadRecord, CatalogueStore, Role};

use crate::{App, AppError, Principal, roles, store};

/// Loads listed at most.
pub const CATALOGUE_LOADS_LIMIT: u32 = 100;
/// Rows to fix answered at most; the count says how many there were.
pub const ROW_ERRORS_MAX: usize = 10_000;

/// A load's answer: what the file holds, what was (or, on a dry run, would be) written,
/// and the rows to fix.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CatalogueReport {
    #[serde(flatten)]
    pub load: CatalogueLoad,
    /// Whether the versions were written: false on a dry run and whenever a row is wrong.
    pub loaded: bool,
    /// Versions in the catalogue after the load (or as it would be).
    pub versions_held: usize,
    /// Rows to fix, at most [`ROW_ERRORS_MAX`].
    pub errors: Vec<ReportRow>,
    /// Rows to fix in all.
    pub error_count: usize,
}

/// One row to fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub line: usize,
    pub column: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl From<RowError> for ReportRow {
    fn from(e: RowError) -> ReportRow {
        ReportRow { line: e.line, column: e.column, key: e.key, message: e.message }
    }
}

impl CatalogueReport {
    /// The rows to fix as the CSV file the sender corrects and sends again.
    #[must_use]
    pub fn error_file(&self) -> String {
        let rows: Vec<RowError> = self
            .errors
            .iter()
            .map(|r| RowError { line: r.line, column: r.column.clone(), key: r.key.clone(), message: r.message.clone() })
            .collect();
        yibao_import::error_report_csv(&rows)
    }
}

/// An item's terms as the catalogue holds them ([`App::catalogue_item`]).
#[derive(Clone, Debug)]
pub struct ItemHistory {
    pub pack_item: Option<yibao_policy::CatalogueItem>,
    pub versions: Vec<CatalogueVersion>,
}

/// One load at a time in this process: each merges into the catalogue the previous wrote.
static LOADS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl App {
    /// Who acts on the catalogue: staff of `allowed` roles of the city (of its counties too
    /// when `counties`: reading a public list), or the operator.
    fn catalogue_scope(&self, principal: &Principal, allowed: &[Role], counties: bool) -> Result<(), AppError> {
        let city = self.policy().region;
        let scope = principal.scope(allowed)?;
        if scope != city && !(counties && city.contains(scope)) {
            return Err(AppError::forbidden(format!("the catalogue is the city's: only staff of {city} act on it")));
        }
        Ok(())
    }

    /// Loads a catalogue file (`name` gives its format: .csv, .xlsx, .xls, .ods) whose
    /// versions cite `cite`. Rows for another province or city are skipped and counted. With
    /// `dry_run`, or when any row is wrong, nothing is written and the report says why.
    pub async fn load_catalogue(
        &self,
        principal: &Principal,
        source: &str,
        name: &str,
        bytes: Vec<u8>,
        cite: &str,
        dry_run: bool,
    ) -> Result<CatalogueReport, AppError> {
        self.catalogue_scope(principal, roles::POLICY_OFFICERS, false)?;
        let cite = cite.trim().to_owned();
        if cite.is_empty() || cite.chars().count() > CITE_CHARS_MAX || cite.chars().any(char::is_control) {
            return Err(AppError::bad_request(
                "catalogue.bad_cite",
                format!("a load cites the document that published the list: one line of 1 to {CITE_CHARS_MAX} characters"),
            ));
        }
        let _one_at_a_time = LOADS.lock().await;
        // Merge into the store's catalogue as it is now, and write only if it is still that
        // (`catalogue.stale` otherwise): a load by another process is never merged over.
        self.reread_catalogue().await?;
        let expected = self.catalogue_stamp.load(Ordering::Acquire);
        let policy = self.policy();
        let city = policy.region;
        let held = Arc::clone(policy.national_catalogue());
        let file = name.rsplit(['/', '\\']).next().unwrap_or(name).to_owned();
        let sha256 = crate::access::digest(&bytes);
        let (file_name, cite_text) = (file.clone(), cite.clone());
        let (report, merge) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
            let mut parsed = yibao_import::catalogue::parse(&file_name, &bytes, &cite_text, city)
                .map_err(|e| AppError::bad_request(e.code(), format!("{file_name}: {e}")))?;
            let load = CatalogueLoad {
                file: file_name,
                sha256,
                cite: cite_text,
                rows: parsed.rows,
                withdrawn: parsed.withdrawn,
                elsewhere: parsed.elsewhere,
                columns_absent: parsed.columns_absent.iter().map(|c| (*c).to_owned()).collect(),
                ..CatalogueLoad::default()
            };
            let mut errors = std::mem::take(&mut parsed.errors);
            let mut merge = None;
            if errors.is_empty() {
                let withdrawn: Vec<_> = parsed.withdrawals.iter().map(|(key, _)| *key).collect();
                match held.merged(parsed.versions.clone(), &withdrawn) {
                    Ok(merged) => merge = Some(merged),
                    Err(problems) => errors = parsed.rows_of(&problems),
                }
            }
            let mut report = CatalogueReport { error_count: errors.len(), versions_held: held.len(), load, ..CatalogueReport::default() };
            report.errors = errors.into_iter().take(ROW_ERRORS_MAX).map(ReportRow::from).collect();
            if let Some(merge) = &merge {
                let counts = merge.counts;
                (report.load.added, report.load.replaced, report.load.unchanged, report.load.removed) =
                    (counts.added, counts.replaced, counts.unchanged, counts.removed);
                report.versions_held = merge.catalogue.len();
            }
            Ok((report, merge))
        })
        .await
        .map_err(|e| AppError::internal("catalogue.failure", e.to_string()))??;
        let Some(merge) = merge.filter(|_| !dry_run) else { return Ok(report) };
        let actor = principal.actor(source, self.now());
        let change = CatalogueChange { load: &report.load, expected, versions: &merge.changed, removed: &merge.removed };
        store!(self, put_catalogue(&actor, city, change))?;
        self.put_catalogue_in_force(Arc::new(merge.catalogue), expected + 1);
        Ok(CatalogueReport { loaded: true, ..report })
    }

    /// What the catalogue says of `code`: the pack's own item, if it lists the code (it
    /// stands over the pack's period, before the catalogue), and every version of the
    /// catalogue that applies in the city, by region then first day.
    pub fn catalogue_item(&self, principal: &Principal, code: &str) -> Result<ItemHistory, AppError> {
        self.catalogue_scope(principal, roles::PUBLIC_POLICY, true)?;
        let code = yibao_domain::ItemCode::parse(code).map_err(|e| AppError::bad_request("catalogue.bad_code", e.to_string()))?;
        let policy = self.policy();
        let versions: Vec<CatalogueVersion> = policy.national_catalogue().versions_of(&code, policy.region).cloned().collect();
        let pack_item = policy.catalogue_item(&code).cloned();
        if pack_item.is_none() && versions.is_empty() {
            return Err(AppError::not_found(
                "catalogue.item_not_found",
                format!("{code} is in neither the pack's items nor the catalogue"),
            ));
        }
        Ok(ItemHistory { pack_item, versions })
    }

    /// The latest loads, newest first.
    pub async fn catalogue_loads(&self, principal: &Principal) -> Result<Vec<CatalogueLoadRecord>, AppError> {
        self.catalogue_scope(principal, roles::POLICY_READERS, false)?;
        Ok(store!(self, catalogue_loads(CATALOGUE_LOADS_LIMIT))?)
    }

    /// Reads the store's catalogue again if a load happened since this application read
    /// it (at start, and when another process loaded a file). Returns whether it did.
    pub async fn refresh_catalogue(&self) -> Result<bool, AppError> {
        let _one_at_a_time = LOADS.lock().await;
        self.reread_catalogue().await
    }

    /// [`App::refresh_catalogue`] under the caller's hold of `LOADS`. Only the versions that
    /// apply in the city are kept (a store may hold other cities' lists).
    async fn reread_catalogue(&self) -> Result<bool, AppError> {
        let stamp = store!(self, catalogue_stamp())?;
        if stamp == self.catalogue_stamp.load(Ordering::Acquire) {
            return Ok(false);
        }
        let mut versions = store!(self, catalogue_versions())?;
        let city = self.policy().region;
        versions.retain(|v| v.applies_in(city));
        let catalogue = tokio::task::spawn_blocking(move || Catalogue::build(versions))
            .await
            .map_err(|e| AppError::internal("catalogue.failure", e.to_string()))?
            .map_err(|problems| {
                AppError::internal(
                    "catalogue.inconsistent",
                    format!("the stored catalogue does not hold together ({} problems, first: {})", problems.len(), problems[0].message),
                )
            })?;
        self.put_catalogue_in_force(Arc::new(catalogue), stamp);
        Ok(true)
    }
}
