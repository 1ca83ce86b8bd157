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
use yibao_store::{CatalogueChange, CatalogueLoad, CatalogueLoadRecord, CatalogueProposal, CatalogueStore, Role};

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
    /// A staff member's load, clean, is kept as this proposal until another policy officer
    /// approves it (`loaded` false until then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<CatalogueProposal>,
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

/// Most version changes a proposal's view lists; the count says how many there are.
pub const PROPOSAL_CHANGES_SHOWN: usize = 500;

/// What approving a proposal would change, version by version, in the catalogue as it is
/// now ([`App::catalogue_proposal`]): what the second person reads before approving.
#[derive(Clone, Debug, Serialize)]
pub struct ProposalView {
    pub proposal: CatalogueProposal,
    /// Whether the proposal was checked against the catalogue as it is now; if not, it
    /// cannot be approved (`catalogue.stale`) and is proposed again.
    pub current: bool,
    /// The versions added, replaced or withdrawn, at most [`PROPOSAL_CHANGES_SHOWN`].
    pub changes: Vec<VersionChange>,
    pub change_count: usize,
    /// Rows to fix, if the file no longer fits the catalogue.
    pub errors: Vec<ReportRow>,
}

/// One version a proposal adds (`before` absent), replaces, or withdraws (`after` absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionChange {
    pub code: String,
    /// The region's code, or empty for the nation.
    pub region: String,
    pub from: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A version's terms in one line: class, first share, cap, last day, name, citation.
fn terms(version: &CatalogueVersion) -> String {
    let item = &version.item;
    let mut text = item.class.code().to_owned();
    if let Some(share) = item.selfpay_share {
        text.push_str(&format!(" {share}"));
    }
    if item.restricted {
        text.push_str(" restricted");
    }
    let caps: Vec<String> = item.price_cap.iter().flatten().map(ToString::to_string).collect();
    if !caps.is_empty() {
        text.push_str(&format!(" cap {}", caps.join("/")));
    }
    if let Some(until) = version.until {
        text.push_str(&format!(" until {until}"));
    }
    format!("{text} · {} · {}", item.name, version.cite)
}

/// An item's terms as the catalogue holds them ([`App::catalogue_item`]).
#[derive(Clone, Debug)]
pub struct ItemHistory {
    pub pack_item: Option<yibao_policy::CatalogueItem>,
    pub versions: Vec<CatalogueVersion>,
}

/// A load's citation (one line of 1 to [`CITE_CHARS_MAX`] characters, trimmed) and its
/// file's size, checked before the file is read: every way a file comes in checks them so.
fn checked_file(cite: &str, bytes: &[u8]) -> Result<String, AppError> {
    let cite = cite.trim();
    if cite.is_empty() || cite.chars().count() > CITE_CHARS_MAX || cite.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "catalogue.bad_cite",
            format!("a load cites the document that published the list: one line of 1 to {CITE_CHARS_MAX} characters"),
        ));
    }
    if bytes.len() > yibao_store::PROPOSAL_BYTES_MAX {
        return Err(AppError::bad_request(
            "catalogue.too_large",
            format!("a catalogue file holds at most {} MiB", yibao_store::PROPOSAL_BYTES_MAX >> 20),
        ));
    }
    Ok(cite.to_owned())
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
    /// A clean file is kept as a proposal (`report.proposal`) until a policy officer other
    /// than its proposer approves it ([`App::approve_catalogue`]): the catalogue changes
    /// what every claim is paid, so it takes two people, as a pack version does. The
    /// operator's command line proposes like anyone; only the first start's installation
    /// of an empty catalogue is written at once ([`App::install_catalogue`]).
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
        let cite = checked_file(cite, &bytes)?;
        let _one_at_a_time = LOADS.lock().await;
        let (mut report, merge, expected, bytes) = self.prepare_load(name, bytes, cite).await?;
        if merge.is_none() || dry_run {
            return Ok(report);
        }
        report.load.based_on = Some(expected);
        let actor = principal.actor(source, self.now());
        let proposal = store!(self, propose_catalogue(&actor, self.policy().region, &report.load, bytes))?;
        Ok(CatalogueReport { proposal: Some(proposal), ..report })
    }

    /// Installs a first catalogue into a store that has none (the demo city's first start):
    /// the platform itself, once, written at once; refused once any load exists, so it is
    /// never a way around the second person.
    pub async fn install_catalogue(
        &self,
        principal: &Principal,
        source: &str,
        name: &str,
        bytes: Vec<u8>,
        cite: &str,
    ) -> Result<CatalogueReport, AppError> {
        if !matches!(principal, Principal::System { .. }) {
            return Err(AppError::forbidden("a catalogue is installed only by the platform at its first start"));
        }
        self.catalogue_scope(principal, roles::POLICY_OFFICERS, false)?;
        let cite = checked_file(cite, &bytes)?;
        let _one_at_a_time = LOADS.lock().await;
        let (report, merge, expected, _) = self.prepare_load(name, bytes, cite).await?;
        if expected != 0 {
            return Err(AppError::conflict("catalogue.stale", "the store holds a catalogue already: a load is proposed and approved"));
        }
        let Some(merge) = merge else { return Ok(report) };
        self.write_load(principal, source, report, merge, expected, None).await
    }

    /// Approves a proposed load: a policy officer other than the proposer; the file is read
    /// again and merged into the catalogue as it is now, and written with the proposal's
    /// approval in one transaction. A file that no longer fits (a load came since and a
    /// version now overlaps) is answered with its rows to fix and stays proposed.
    pub async fn approve_catalogue(&self, principal: &Principal, source: &str, seq: i64) -> Result<CatalogueReport, AppError> {
        self.catalogue_scope(principal, roles::POLICY_OFFICERS, false)?;
        if !matches!(principal, Principal::Staff { .. }) {
            return Err(AppError::forbidden("a catalogue load is approved by a policy officer: the operator proposes, never approves"));
        }
        let (proposal, bytes) = self.proposal(seq).await?;
        if proposal.status != "proposed" {
            return Err(yibao_store::catalogue::not_proposed(seq).into());
        }
        if proposal.proposed_by == principal.name() {
            return Err(AppError::unprocessable(
                "catalogue.same_officer",
                format!("catalogue proposal {seq} is yours: another policy officer approves it"),
            ));
        }
        let _one_at_a_time = LOADS.lock().await;
        let (mut report, merge, expected, _) = self.prepare_load(&proposal.load.file, bytes, proposal.load.cite.clone()).await?;
        // The approver read the counts of the file against the catalogue it was proposed
        // on; a load since (a correction) would make them another file's, or undo it.
        if proposal.load.based_on != Some(expected) {
            return Err(AppError::conflict(
                "catalogue.stale",
                format!(
                    "catalogue proposal {seq} was checked against load {}, and the catalogue is at load {expected} now: propose the file again",
                    proposal.load.based_on.unwrap_or(0)
                ),
            ));
        }
        let Some(merge) = merge else { return Ok(CatalogueReport { proposal: Some(proposal), ..report }) };
        (report.load.based_on, report.load.proposal, report.load.proposed_by) =
            (Some(expected), Some(seq), Some(proposal.proposed_by.clone()));
        self.write_load(principal, source, report, merge, expected, Some(proposal)).await
    }

    /// A proposal and what approving it would change now, version by version.
    pub async fn catalogue_proposal(&self, principal: &Principal, seq: i64) -> Result<ProposalView, AppError> {
        self.catalogue_scope(principal, roles::POLICY_READERS, false)?;
        let (proposal, bytes) = self.proposal(seq).await?;
        let _one_at_a_time = LOADS.lock().await;
        let (report, merge, expected, _) = self.prepare_load(&proposal.load.file, bytes, proposal.load.cite.clone()).await?;
        let held = Arc::clone(self.policy().national_catalogue());
        let mut changes: Vec<VersionChange> = Vec::new();
        let mut change_count = 0;
        if let Some(merge) = &merge {
            change_count = merge.changed.len() + merge.removed.len();
            let region_text = |region: Option<yibao_domain::RegionCode>| region.map_or_else(String::new, |r| r.to_string());
            for version in merge.changed.iter().take(PROPOSAL_CHANGES_SHOWN) {
                changes.push(VersionChange {
                    code: version.item.code.to_string(),
                    region: region_text(version.region),
                    from: version.from.to_string(),
                    before: held.version(&version.key()).map(terms),
                    after: Some(terms(version)),
                });
            }
            for key in merge.removed.iter().take(PROPOSAL_CHANGES_SHOWN.saturating_sub(changes.len())) {
                changes.push(VersionChange {
                    code: key.0.to_string(),
                    region: region_text(key.1),
                    from: key.2.to_string(),
                    before: held.version(key).map(terms),
                    after: None,
                });
            }
        }
        let current = proposal.load.based_on == Some(expected);
        Ok(ProposalView { proposal, current, changes, change_count, errors: report.errors })
    }

    /// Rejects a proposed load (its proposer may withdraw it too), with a note.
    pub async fn reject_catalogue(&self, principal: &Principal, source: &str, seq: i64, note: &str) -> Result<CatalogueProposal, AppError> {
        self.catalogue_scope(principal, roles::POLICY_OFFICERS, false)?;
        let note = note.trim();
        if note.is_empty() || note.chars().count() > 500 || note.chars().any(char::is_control) {
            return Err(AppError::bad_request("request.invalid", "a rejection says why: one line of 1 to 500 characters"));
        }
        let actor = principal.actor(source, self.now());
        Ok(store!(self, reject_catalogue_proposal(&actor, self.policy().region, seq, note))?)
    }

    /// The latest proposed loads, newest first.
    pub async fn catalogue_proposals(&self, principal: &Principal) -> Result<Vec<CatalogueProposal>, AppError> {
        self.catalogue_scope(principal, roles::POLICY_READERS, false)?;
        Ok(store!(self, catalogue_proposals(CATALOGUE_LOADS_LIMIT))?)
    }

    /// A proposal and its file, which must be the file proposed, byte for byte (its digest
    /// was taken when it was sent): a row edited in the database is neither shown nor
    /// loaded past the second person (`catalogue.tampered`).
    async fn proposal(&self, seq: i64) -> Result<(CatalogueProposal, Vec<u8>), AppError> {
        let (proposal, bytes) = store!(self, catalogue_proposal(seq))?
            .ok_or_else(|| AppError::not_found("catalogue.proposal_not_found", format!("there is no catalogue proposal {seq}")))?;
        if crate::access::digest(&bytes) != proposal.load.sha256 {
            return Err(AppError::conflict(
                "catalogue.tampered",
                format!("catalogue proposal {seq}: the file kept is not the file proposed (its SHA-256 differs): propose it again"),
            ));
        }
        Ok((proposal, bytes))
    }

    /// Reads and checks a file and merges it into the store's catalogue as it is now (the
    /// caller holds `LOADS`): the report, the merge when every row is right, the load number
    /// it was merged on, and the file's bytes back.
    async fn prepare_load(
        &self,
        name: &str,
        bytes: Vec<u8>,
        cite: String,
    ) -> Result<(CatalogueReport, Option<yibao_policy::Merge>, i64, Vec<u8>), AppError> {
        // Merge into the store's catalogue as it is now, and write only if it is still that
        // (`catalogue.stale` otherwise): a load by another process is never merged over.
        self.reread_catalogue().await?;
        let expected = self.catalogue_stamp.load(Ordering::Acquire);
        let policy = self.policy();
        let city = policy.region;
        let held = Arc::clone(policy.national_catalogue());
        let file = name.rsplit(['/', '\\']).next().unwrap_or(name).to_owned();
        let sha256 = crate::access::digest(&bytes);
        let (report, merge, bytes) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
            let mut parsed = yibao_import::catalogue::parse(&file, &bytes, &cite, city)
                .map_err(|e| AppError::bad_request(e.code(), format!("{file}: {e}")))?;
            let load = CatalogueLoad {
                file,
                sha256,
                cite,
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
            Ok((report, merge, bytes))
        })
        .await
        .map_err(|e| AppError::internal("catalogue.failure", e.to_string()))??;
        Ok((report, merge, expected, bytes))
    }

    /// Writes a merged load (approving `proposal` with it, if any) and puts it in force here.
    async fn write_load(
        &self,
        principal: &Principal,
        source: &str,
        report: CatalogueReport,
        merge: yibao_policy::Merge,
        expected: i64,
        proposal: Option<CatalogueProposal>,
    ) -> Result<CatalogueReport, AppError> {
        let actor = principal.actor(source, self.now());
        let change = CatalogueChange {
            load: &report.load,
            expected,
            versions: &merge.changed,
            removed: &merge.removed,
            proposal: proposal.as_ref().map(|p| p.seq),
        };
        store!(self, put_catalogue(&actor, self.policy().region, change))?;
        self.put_catalogue_in_force(Arc::new(merge.catalogue), expected + 1);
        let proposal = proposal.map(|p| CatalogueProposal {
            status: "approved".into(),
            decided_by: Some(actor.who.clone()),
            decided_at: Some(actor.at_text()),
            ..p
        });
        Ok(CatalogueReport { loaded: true, proposal, ..report })
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
