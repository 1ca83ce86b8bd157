//! Policy changes as records (issue 19, R-BEN-7): a new version of the city's pack is
//! proposed (API, console, CLI), checked by the loader, shown as its difference against
//! the version it was proposed on, approved by a second policy officer, and in force at
//! once for every request after the approval, without a restart. Its dated values say from
//! which day of service each change applies. Every settlement names the version it was
//! computed under (`Settlement::policy_version`, and the service-date step of its
//! explanation).
//!
//! The store's highest approved version is the pack in force. At start, a store with no
//! version installs the pack the operator gave (or the demo city's) as version 1; a store
//! with versions runs its own, and a pack file that differs from it is refused, so the
//! only way to change the policy is a proposal and a second person's approval
//! (`policy-two-people`). Other servers on the same database (PostgreSQL) follow an
//! approval by polling ([`App::follow_policy`]).

use std::sync::Arc;
use std::time::Duration;

use time::Date;
use yibao_policy::{Change, Policy, diff};
use yibao_store::{NewPolicyVersion, POLICY_TEXT_BYTES_MAX, PolicyStore, Role};
pub use yibao_store::{PolicyDecision, PolicyVersion};

use crate::{App, AppError, Backend, ErrorKind, Principal, roles, store};

pub use yibao_policy::{Change as PolicyChange, ChangeKind};
pub use yibao_store::{POLICY_NOTE_CHARS_MAX, PolicyStatus};

/// How often a running server asks the store whether another process approved a version.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(5);

/// A version with its text and what it changes against the version it was proposed on.
#[derive(Clone, Debug)]
pub struct VersionView {
    pub record: PolicyVersion,
    pub text: String,
    /// Empty for the first version (it changes nothing: it is where the records start).
    pub changes: Vec<Change>,
    /// The version in force now.
    pub in_force: Option<u32>,
    /// The day the answer was made, against which [`Change::reaches_back`] is judged.
    pub today: Date,
}

impl VersionView {
    /// Changes that reach back before today: a claim settled from now on for an earlier day
    /// of service is settled under them.
    #[must_use]
    pub fn reaching_back(&self) -> usize {
        self.changes.iter().filter(|c| c.reaches_back(self.today)).count()
    }
}

/// The pack given to a process at start: a file the operator named, or the demo city's
/// compiled into the binary.
#[derive(Clone, Debug)]
pub struct GivenPack {
    /// For messages: the file's path, or `demo city (embedded)`.
    pub label: String,
    pub text: String,
    /// Whether the operator named it (`--policy`, or `policy =` in the configuration): a
    /// named file that differs from the store's version in force is refused.
    pub named: bool,
}

/// Packs loaded at once, off the async threads: a large pack takes a CPU for a moment, and
/// requests that are not about packs keep the rest.
static LOADING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The form a pack's text is kept and digested in: lines end with `\n` (a browser's form
/// sends `\r\n`), so the same pack pasted or read from a file has one digest.
#[must_use]
pub fn normalized(text: &str) -> String {
    text.replace("\r\n", "\n")
}

fn load(label: &str, text: &str) -> Result<Policy, AppError> {
    if text.len() > POLICY_TEXT_BYTES_MAX {
        return Err(AppError::bad_request("policy.too_large", format!("a policy pack is at most {POLICY_TEXT_BYTES_MAX} bytes")));
    }
    Policy::from_toml(label, text).map_err(|e| AppError::bad_request("policy.invalid", e.to_string()))
}

/// Runs `work` (loading packs, comparing them) on a blocking thread, one at a time.
async fn off_the_async_threads<T: Send + 'static>(work: impl FnOnce() -> Result<T, AppError> + Send + 'static) -> Result<T, AppError> {
    let _turn = LOADING.acquire().await.map_err(|e| AppError::internal("policy.failure", e.to_string()))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| AppError::internal("policy.failure", e.to_string()))?
}

/// A stored version's text, checked against the digest recorded when it was proposed: a
/// text edited in the database past the application is not loaded (`policy.tampered`).
fn verified(record: &PolicyVersion, text: &str) -> Result<(), AppError> {
    if crate::access::digest(text) == record.sha256 {
        Ok(())
    } else {
        Err(AppError::internal(
            "policy.tampered",
            format!(
                "policy version {}'s stored text does not match its recorded SHA-256: it was changed past the application",
                record.version
            ),
        ))
    }
}

/// What a version may not change, because records already stored depend on it: the city,
/// the day of a stay that dates a claim, the counties, schemes and tiers people are
/// enrolled in, and the days it covers (from the first day the version in force covers,
/// through today at least).
fn check_compatible(current: &Policy, proposed: &Policy, today: Date) -> Result<(), AppError> {
    let refuse = |what: String| Err(AppError::unprocessable("policy.incompatible", what));
    if proposed.region != current.region {
        return refuse(format!("the pack is for {}, and this city is {}", proposed.region, current.region));
    }
    if proposed.service_date != current.service_date {
        return refuse("the service-date rule dates every stored claim's year: it does not change in a version".into());
    }
    // An empty list means any county of the city: records may be in any of them.
    if current.counties.is_empty() != proposed.counties.is_empty() {
        return refuse("the pack's county list is added or removed: it only grows, county by county".into());
    }
    if let Some(county) = current.counties.iter().find(|c| !proposed.counties.contains(c)) {
        return refuse(format!("county {county} is no longer listed: its people and books would have no pack"));
    }
    if let Some(scheme) = current.schemes.iter().find(|s| !proposed.schemes.contains(s)) {
        return refuse(format!("scheme {scheme} is no longer listed: its people and books would have no pack"));
    }
    for (scheme, tiers) in &current.tiers {
        if let Some(tier) = tiers.iter().find(|t| !proposed.tiers_for(*scheme).contains(t)) {
            return refuse(format!("tier {tier} of {scheme} is no longer listed: the people enrolled in it would have no pack"));
        }
    }
    if proposed.effective_from > current.effective_from {
        return refuse(format!(
            "the pack starts on {}, after {} where the version in force starts: claims of the days between would have no pack",
            proposed.effective_from, current.effective_from
        ));
    }
    if let Some(until) = proposed.effective_until.filter(|until| *until < today) {
        return refuse(format!("the pack ends on {until}, before today ({today}): no claim could be settled under it"));
    }
    Ok(())
}

impl App {
    /// A principal who acts on the city's pack: a city-level staff member of `allowed`
    /// (or the operator, where `operator` allows).
    fn policy_scope(&self, principal: &Principal, allowed: &[Role], operator: bool) -> Result<(), AppError> {
        if matches!(principal, Principal::System { .. }) && !operator {
            return Err(AppError::forbidden("a policy version is approved or rejected by a signed-in policy officer, not the operator"));
        }
        let scope = principal.scope(allowed)?;
        let city = self.policy().region;
        if scope != city {
            return Err(AppError::forbidden(format!("the policy pack is the city's: only staff of {city} act on it")));
        }
        Ok(())
    }

    /// Opens the application on `store` with the pack in force there. A store with no
    /// version yet takes `given`: recorded as version 1 when `installer` is given (the
    /// server's first start), or used unrecorded (an operator's command on an older store).
    pub async fn open_with_policy(store: Arc<Backend>, given: &GivenPack, installer: Option<&Principal>) -> Result<App, AppError> {
        let in_force = match &*store {
            Backend::Sqlite(s) => s.policy_in_force().await,
            Backend::Postgres(s) => s.policy_in_force().await,
        }?;
        let given_text = normalized(&given.text);
        let policy = match in_force {
            Some((record, text)) => {
                verified(&record, &text)?;
                if given.named && crate::access::digest(&given_text) != record.sha256 {
                    return Err(AppError::new(
                        ErrorKind::Conflict,
                        "policy.file_differs",
                        format!(
                            "{} differs from the store's pack in force, version {} ({}, approved by {}): the policy changes only by a \
                             version proposed (`yibao policy propose`) and approved by a second policy officer; start without --policy",
                            given.label,
                            record.version,
                            record.pack_id,
                            record.decided_by.as_deref().unwrap_or("-")
                        ),
                    ));
                }
                load(&format!("policy version {}", record.version), &text)?.numbered(record.version)
            }
            None => {
                let policy = load(&given.label, &given_text)?;
                match installer {
                    Some(installer) => {
                        let actor = installer.actor("start", time::OffsetDateTime::now_utc());
                        let new = NewPolicyVersion {
                            pack_id: policy.id.clone(),
                            sha256: crate::access::digest(&given_text),
                            text: given_text,
                            note: format!("installed from {} at the first start", given.label),
                            based_on: None,
                        };
                        let record = match &*store {
                            Backend::Sqlite(s) => s.install_policy(&actor, policy.region, new).await,
                            Backend::Postgres(s) => s.install_policy(&actor, policy.region, new).await,
                        }?;
                        policy.numbered(record.version)
                    }
                    None => policy,
                }
            }
        };
        let app = App::new(store, Arc::new(policy));
        app.refresh_catalogue().await?;
        Ok(app)
    }

    /// What `text` would change against the pack in force, checked as a proposal is, and
    /// nothing recorded (the CLI's `--dry-run`). A store whose pack was never recorded (a
    /// store of an older release not yet served) takes no proposal: `yibao serve` records
    /// its pack as version 1 first.
    pub async fn preview_policy(&self, principal: &Principal, text: &str) -> Result<VersionView, AppError> {
        self.policy_scope(principal, roles::POLICY_OFFICERS, true)?;
        let current = self.policy();
        let Some(in_force) = current.version else {
            return Err(AppError::unprocessable(
                "policy.not_installed",
                "the store has no recorded pack yet: start `yibao serve` on it once, which records its pack as version 1",
            ));
        };
        let (text, today) = (normalized(text), self.today());
        let (proposed_id, changes, text) = off_the_async_threads(move || {
            let proposed = load("the proposed pack", &text)?;
            check_compatible(&current, &proposed, today)?;
            Ok((proposed.id.clone(), diff(&current, &proposed), text))
        })
        .await?;
        if changes.is_empty() {
            return Err(AppError::unprocessable("policy.unchanged", format!("the pack says what version {in_force} in force says")));
        }
        let record = PolicyVersion {
            version: 0,
            pack_id: proposed_id,
            sha256: crate::access::digest(&text),
            note: String::new(),
            based_on: Some(in_force),
            status: yibao_store::PolicyStatus::Proposed,
            proposed_by: principal.name().to_owned(),
            proposed_at: String::new(),
            decided_by: None,
            decided_at: None,
            decision_note: None,
        };
        Ok(VersionView { record, text, changes, in_force: Some(in_force), today })
    }

    /// Proposes `text` as the next version of the city's pack: it must load, keep what
    /// stored records depend on, and change something ([`App::preview_policy`]).
    pub async fn propose_policy(&self, principal: &Principal, source: &str, text: &str, note: &str) -> Result<VersionView, AppError> {
        yibao_store::policy::check_note(note.trim())?;
        let preview = self.preview_policy(principal, text).await?;
        let new = NewPolicyVersion {
            pack_id: preview.record.pack_id.clone(),
            sha256: preview.record.sha256.clone(),
            text: preview.text.clone(),
            note: note.trim().to_owned(),
            based_on: preview.in_force,
        };
        let city = self.policy().region;
        let record = store!(self, propose_policy(&principal.actor(source, self.now()), city, new))?;
        Ok(VersionView { record, ..preview })
    }

    /// The latest versions, newest first.
    pub async fn policy_versions(&self, principal: &Principal) -> Result<Vec<PolicyVersion>, AppError> {
        self.policy_scope(principal, roles::POLICY_READERS, true)?;
        Ok(store!(self, policy_versions())?)
    }

    /// A stored version and its text, checked against its digest.
    async fn stored_version(&self, version: u32) -> Result<(PolicyVersion, String), AppError> {
        let (record, text) = store!(self, policy_version(version))?.ok_or(yibao_store::StoreError::PolicyVersionNotFound(version))?;
        verified(&record, &text)?;
        Ok((record, text))
    }

    /// One version, with its text and its changes against the version it was proposed on.
    pub async fn policy_version(&self, principal: &Principal, version: u32) -> Result<VersionView, AppError> {
        self.policy_scope(principal, roles::POLICY_READERS, true)?;
        let (record, text) = self.stored_version(version).await?;
        let (changes, text) = match record.based_on {
            Some(base) => {
                let (_, base_text) = self.stored_version(base).await?;
                off_the_async_threads(move || {
                    let changes =
                        diff(&load(&format!("policy version {base}"), &base_text)?, &load(&format!("policy version {version}"), &text)?);
                    Ok((changes, text))
                })
                .await?
            }
            None => (Vec::new(), text),
        };
        Ok(VersionView { record, text, changes, in_force: self.policy().version, today: self.today() })
    }

    /// Approves or rejects a proposed version. Approval is by a policy officer other than
    /// the proposer, on the version it was proposed against; the approved pack is in force
    /// for every request after this one returns.
    pub async fn decide_policy(
        &self,
        principal: &Principal,
        source: &str,
        version: u32,
        decision: PolicyDecision,
        note: &str,
    ) -> Result<PolicyVersion, AppError> {
        self.policy_scope(principal, roles::POLICY_OFFICERS, false)?;
        let (_, text) = self.stored_version(version).await?;
        // Loaded again before the decision: what goes in force is what this build reads.
        let label = format!("policy version {version}");
        let approved = off_the_async_threads(move || load(&label, &text)).await?;
        let city = self.policy().region;
        let record = store!(self, decide_policy(&principal.actor(source, self.now()), city, version, decision, note.trim()))?;
        if record.status == yibao_store::PolicyStatus::Approved {
            self.put_in_force(Arc::new(approved.numbered(version)));
            tracing::info!(version, pack = %record.pack_id, approver = %record.decided_by.as_deref().unwrap_or("-"), "a policy version is in force");
        }
        Ok(record)
    }

    /// Puts the store's version in force here if another process approved a newer one.
    /// Returns the version newly in force, if any.
    pub async fn refresh_policy(&self) -> Result<Option<u32>, AppError> {
        let latest = store!(self, policy_in_force_number())?;
        if latest.is_none() || latest == self.policy().version {
            return Ok(None);
        }
        let Some((record, text)) = store!(self, policy_in_force())? else { return Ok(None) };
        verified(&record, &text)?;
        let label = format!("policy version {}", record.version);
        let policy = off_the_async_threads(move || load(&label, &text)).await?.numbered(record.version);
        self.put_in_force(Arc::new(policy));
        Ok(Some(record.version))
    }

    /// Follows the store's version in force and its catalogue every [`FOLLOW_INTERVAL`], for
    /// as long as the process runs: a version approved or a catalogue loaded through another
    /// server or process is in force here within one interval.
    pub async fn follow_policy(self) {
        let mut ticks = tokio::time::interval(FOLLOW_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.refresh_policy().await {
                Ok(Some(version)) => tracing::info!(version, "a policy version approved elsewhere is in force"),
                Ok(None) => {}
                Err(error) => tracing::warn!(code = %error.code, message = %error.message, "cannot read the policy version in force"),
            }
            match self.refresh_catalogue().await {
                Ok(true) => tracing::info!(versions = self.policy().national_catalogue().len(), "a catalogue loaded elsewhere is in force"),
                Ok(false) => {}
                Err(error) => tracing::warn!(code = %error.code, message = %error.message, "cannot read the catalogue"),
            }
        }
    }
}
