//! Staff accounts, sessions and designated institutions' API keys: who may act, in which
//! role, over which region (R-GEO-2). Secrets are never stored: passwords as argon2 hashes
//! (computed by the server), session tokens and API keys as SHA-256 digests.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use yibao_domain::{InstitutionCode, InstitutionLevel, RegionCode};

use crate::{Actor, StoreError};

/// A staff role. Each is scoped to a region: a county's staff see only that county.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Enrols households and persons, changes tiers, ends coverage (参保登记经办).
    EnrolmentClerk,
    /// Reviews and reverses claims (医疗费用审核).
    ClaimsOfficer,
    /// Records contributions and keeps the fund books (基金会计).
    FundAccountant,
    /// Reads everything in the region, changes nothing (审计).
    Auditor,
    /// Everything in the region, including staff accounts (市级管理员).
    CityAdministrator,
    /// Proposes and approves policy pack versions, two people for each (政策管理, issue 19).
    PolicyOfficer,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::EnrolmentClerk, Role::ClaimsOfficer, Role::FundAccountant, Role::Auditor, Role::CityAdministrator, Role::PolicyOfficer];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::EnrolmentClerk => "enrolment_clerk",
            Role::ClaimsOfficer => "claims_officer",
            Role::FundAccountant => "fund_accountant",
            Role::Auditor => "auditor",
            Role::CityAdministrator => "city_administrator",
            Role::PolicyOfficer => "policy_officer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    /// An argon2 PHC string.
    pub password_hash: String,
    pub role: Role,
    pub region: RegionCode,
}

impl NewStaff {
    /// A username has 1 to 64 ASCII letters, digits, '-', '_' or '.'.
    pub fn check(&self) -> Result<(), StoreError> {
        let name = &self.username;
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
            return Err(StoreError::Invalid("a username has 1 to 64 letters, digits, '-', '_' or '.'".into()));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaffRecord {
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    pub region: RegionCode,
    pub active: bool,
}

/// A live or revoked session, with its staff member's current role and region (a role
/// change takes effect on the next request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub username: String,
    pub role: Role,
    pub region: RegionCode,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInstitution {
    /// `H` + region + serial (hospital) or `P` + region + serial (pharmacy).
    pub code: InstitutionCode,
    pub name: String,
    pub region: RegionCode,
    pub level: InstitutionLevel,
    /// SHA-256 of the institution's API key, hex.
    pub api_key_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstitutionRecord {
    pub code: InstitutionCode,
    pub name: String,
    pub region: RegionCode,
    /// The level in force now.
    pub level: InstitutionLevel,
    pub active: bool,
    /// Every change of level with the day it applies from, oldest first: the register as
    /// of any date of service ([`InstitutionRecord::level_on`]).
    pub level_changes: Vec<LevelChange>,
    /// The agreement's years, suspensions and inspections (R-INS-1).
    #[serde(skip_serializing_if = "crate::agreement::AgreementBook::is_empty")]
    pub agreement: crate::agreement::AgreementBook,
}

impl InstitutionRecord {
    /// The register's entry of an institution just designated: active, at its level, no
    /// changes or agreement yet (its key's digest stays in the store, never in the record).
    #[must_use]
    pub fn designated(institution: NewInstitution) -> InstitutionRecord {
        InstitutionRecord {
            code: institution.code,
            name: institution.name,
            region: institution.region,
            level: institution.level,
            active: true,
            level_changes: Vec::new(),
            agreement: crate::agreement::AgreementBook::default(),
        }
    }
}

/// Most level changes one institution's register keeps.
pub const LEVEL_CHANGES_LIMIT: usize = 64;

/// A change of an institution's level (定点医疗机构等级变更), from a day on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LevelChange {
    pub from: time::Date,
    pub previous: InstitutionLevel,
    pub level: InstitutionLevel,
}

impl InstitutionRecord {
    /// The level the register gives for `date`: a claim is settled at the level in force
    /// on its date of service, not at a later upgrade's.
    #[must_use]
    pub fn level_on(&self, date: time::Date) -> InstitutionLevel {
        self.level_changes.iter().rev().take_while(|change| date < change.from).last().map_or(self.level, |change| change.previous)
    }

    /// The level changes as stored (JSON text).
    pub fn level_changes_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(&self.level_changes).map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// Reads stored level changes.
    pub fn parse_level_changes(text: &str) -> Result<Vec<LevelChange>, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored level changes unreadable: {e}")))
    }
}

/// Changes to a staff account (by a city administrator, or a password change by its
/// owner). `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffUpdate {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub region: Option<RegionCode>,
    pub active: Option<bool>,
    /// A new argon2 PHC string.
    pub password_hash: Option<String>,
}

impl StaffUpdate {
    /// Applies the update to `record`, checking that the account stays inside `scope`.
    /// Returns the audit detail (old and new values; never a hash) and whether the
    /// account's sessions must end (deactivated, moved, demoted or given a new password).
    pub fn apply(&self, scope: RegionCode, record: &mut StaffRecord) -> Result<(String, bool), StoreError> {
        crate::check_scope(scope, record.region)?;
        let mut changes = serde_json::Map::new();
        let mut ends_sessions = false;
        if let Some(name) = &self.display_name {
            if name.trim().is_empty() || name.chars().count() > 64 {
                return Err(StoreError::Invalid("a display name has 1 to 64 characters".into()));
            }
            changes.insert("display_name".into(), serde_json::json!([record.display_name, name]));
            record.display_name.clone_from(name);
        }
        if let Some(role) = self.role.filter(|r| *r != record.role) {
            changes.insert("role".into(), serde_json::json!([record.role, role]));
            record.role = role;
            ends_sessions = true;
        }
        if let Some(region) = self.region.filter(|r| *r != record.region) {
            crate::check_scope(scope, region)?;
            changes.insert("region".into(), serde_json::json!([record.region.to_string(), region.to_string()]));
            record.region = region;
            ends_sessions = true;
        }
        if let Some(active) = self.active.filter(|a| *a != record.active) {
            changes.insert("active".into(), serde_json::json!([record.active, active]));
            record.active = active;
            ends_sessions |= !active;
        }
        if let Some(hash) = &self.password_hash {
            changes.insert("password".into(), serde_json::json!("changed"));
            record.password_hash.clone_from(hash);
            ends_sessions = true;
        }
        if changes.is_empty() {
            return Err(StoreError::Invalid("the update changes nothing".into()));
        }
        Ok((serde_json::Value::Object(changes).to_string(), ends_sessions))
    }
}

/// Changes to a designated institution. A new API key hash replaces the old key at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstitutionUpdate {
    pub name: Option<String>,
    pub level: Option<InstitutionLevel>,
    /// The day a new level applies from (required with a change of level): claims with an
    /// earlier date of service keep the previous level.
    pub level_from: Option<time::Date>,
    pub active: Option<bool>,
    /// SHA-256 of the new API key, hex.
    pub api_key_hash: Option<String>,
    /// A change to the agreement book (signing a year, an assessment, a suspension, a
    /// reinstatement, an inspection).
    pub agreement: Option<crate::agreement::AgreementChange>,
}

impl InstitutionUpdate {
    /// Applies the update to `record` (inside `scope`); returns the audit detail.
    pub fn apply(&self, scope: RegionCode, record: &mut InstitutionRecord) -> Result<String, StoreError> {
        crate::check_scope(scope, record.region)?;
        let mut changes = serde_json::Map::new();
        if let Some(name) = &self.name {
            if name.trim().is_empty() || name.chars().count() > 128 {
                return Err(StoreError::Invalid("an institution name has 1 to 128 characters".into()));
            }
            changes.insert("name".into(), serde_json::json!([record.name, name]));
            record.name.clone_from(name);
        }
        if let Some(level) = self.level.filter(|l| *l != record.level) {
            let from = self.level_from.ok_or_else(|| StoreError::Invalid("a change of level needs the day it applies from".into()))?;
            if record.level_changes.last().is_some_and(|last| from <= last.from) {
                return Err(StoreError::Invalid(format!("a change of level from {from} is not after the institution's last change")));
            }
            if record.level_changes.len() >= LEVEL_CHANGES_LIMIT {
                return Err(StoreError::Invalid(format!("an institution's register keeps at most {LEVEL_CHANGES_LIMIT} level changes")));
            }
            changes.insert("level".into(), serde_json::json!([record.level.as_str(), level.as_str(), from.to_string()]));
            record.level_changes.push(LevelChange { from, previous: record.level, level });
            record.level = level;
        }
        if let Some(active) = self.active.filter(|a| *a != record.active) {
            changes.insert("active".into(), serde_json::json!([record.active, active]));
            record.active = active;
        }
        if self.api_key_hash.is_some() {
            changes.insert("api_key".into(), serde_json::json!("replaced"));
        }
        if let Some(change) = &self.agreement {
            changes.insert("agreement".into(), record.agreement.apply(change)?);
        }
        if changes.is_empty() {
            return Err(StoreError::Invalid("the update changes nothing".into()));
        }
        Ok(serde_json::Value::Object(changes).to_string())
    }
}

/// Longest username, and longest client address, a refused sign-in records: what an
/// unauthenticated caller typed is kept only this far.
pub const SIGN_IN_TEXT_CHARS_MAX: usize = 64;

/// What the audit trail says of a refused sign-in (its action).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    /// The password was checked and the sign-in failed (`auth.sign_in_failed`).
    Failed,
    /// As `Failed`, and this failure locked the account (`auth.locked`).
    Locked,
    /// Refused before any check, by an account's delay or lock or an address's budget
    /// (`auth.sign_in_throttled`).
    Throttled,
}

impl SignInOutcome {
    #[must_use]
    pub const fn action(self) -> &'static str {
        match self {
            SignInOutcome::Failed => "auth.sign_in_failed",
            SignInOutcome::Locked => "auth.locked",
            SignInOutcome::Throttled => "auth.sign_in_throttled",
        }
    }
}

/// Why a sign-in was refused, as the audit trail records it (never shown to the caller,
/// who gets one answer for a wrong password and an unknown or inactive account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInReason {
    WrongPassword,
    UnknownAccount,
    InactiveAccount,
    /// The account's delay after repeated failures had not passed.
    AccountDelayed,
    AccountLocked,
    /// The client address had used up its budget of failures.
    AddressLimit,
}

/// A refused sign-in for the audit trail: the username as typed, why, how many failures
/// the account has, until when it is held back; never the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignInRefusal {
    #[serde(skip)]
    pub outcome: SignInOutcome,
    /// As typed, at most [`SIGN_IN_TEXT_CHARS_MAX`] characters.
    pub username: String,
    pub reason: SignInReason,
    /// The account's failures counted so far (this one included).
    pub failures: u32,
    /// Until when further attempts are refused, if they are.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// The client's address as the server saw it, when known (at most
    /// [`SIGN_IN_TEXT_CHARS_MAX`] characters).
    pub address: Option<String>,
}

impl SignInRefusal {
    /// Refuses text over [`SIGN_IN_TEXT_CHARS_MAX`] or with control characters: the caller
    /// bounds what a stranger typed before it is kept.
    pub fn check(&self) -> Result<(), StoreError> {
        let fits = |text: &str| text.chars().count() <= SIGN_IN_TEXT_CHARS_MAX && !text.chars().any(char::is_control);
        if fits(&self.username) && self.address.as_deref().is_none_or(fits) {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!(
                "a refused sign-in records at most {SIGN_IN_TEXT_CHARS_MAX} printable characters of each text"
            )))
        }
    }

    /// The audit entry's detail.
    pub fn detail(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Backend(e.to_string()))
    }
}

/// The access store.
pub trait AccessStore: Send + Sync + 'static {
    /// Creates a staff account. Refused if the username exists.
    fn create_staff(&self, actor: &Actor, staff: NewStaff) -> impl Future<Output = Result<StaffRecord, StoreError>> + Send;
    fn staff(&self, username: &str) -> impl Future<Output = Result<Option<StaffRecord>, StoreError>> + Send;
    fn create_session(
        &self,
        actor: &Actor,
        token_hash: &str,
        username: &str,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn session(&self, token_hash: &str) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;
    /// Revokes one session (sign-out, or an administrator ending it).
    fn revoke_session(&self, actor: &Actor, token_hash: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn create_institution(
        &self,
        actor: &Actor,
        institution: NewInstitution,
    ) -> impl Future<Output = Result<InstitutionRecord, StoreError>> + Send;
    fn institution_by_key(&self, api_key_hash: &str) -> impl Future<Output = Result<Option<InstitutionRecord>, StoreError>> + Send;
    /// Registers an insurance physician under an institution inside `scope`. Refused if
    /// the code is registered already or the institution is not in `scope`.
    fn register_physician(
        &self,
        actor: &Actor,
        scope: RegionCode,
        physician: crate::physician::NewPhysician,
    ) -> impl Future<Output = Result<crate::physician::PhysicianRecord, StoreError>> + Send;
    /// A physician by code, wherever registered (settlement checks the claim's).
    fn physician(&self, code: &str) -> impl Future<Output = Result<Option<crate::physician::PhysicianRecord>, StoreError>> + Send;
    /// An institution's physicians inside `scope`, by code (at most
    /// [`crate::physician::PHYSICIANS_PER_INSTITUTION_MAX`]).
    fn physicians_of(
        &self,
        scope: RegionCode,
        institution: &str,
    ) -> impl Future<Output = Result<Vec<crate::physician::PhysicianRecord>, StoreError>> + Send;
    /// Changes a physician's record inside `scope` ([`crate::physician::PhysicianBook::apply`]), audited.
    fn update_physician(
        &self,
        actor: &Actor,
        scope: RegionCode,
        code: &str,
        change: crate::physician::PhysicianChange,
        rules: crate::physician::PenaltyRules,
    ) -> impl Future<Output = Result<crate::physician::PhysicianRecord, StoreError>> + Send;
    fn institutions(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<InstitutionRecord>, StoreError>> + Send;
    /// Staff accounts whose region lies inside `scope`, by username (at most
    /// [`crate::SEARCH_LIMIT`]).
    fn staff_in(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<StaffRecord>, StoreError>> + Send;
    /// Changes a staff account inside `scope` ([`StaffUpdate::apply`]); when the change
    /// calls for it, every live session of the account ends in the same transaction.
    fn update_staff(
        &self,
        actor: &Actor,
        scope: RegionCode,
        username: &str,
        update: StaffUpdate,
    ) -> impl Future<Output = Result<StaffRecord, StoreError>> + Send;
    /// Changes a designated institution inside `scope` ([`InstitutionUpdate::apply`]).
    fn update_institution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        code: &str,
        update: InstitutionUpdate,
    ) -> impl Future<Output = Result<InstitutionRecord, StoreError>> + Send;
    /// Appends a refused sign-in to `region`'s audit chain ([`SignInRefusal::check`]), the
    /// entity being the username as typed. It changes nothing else.
    fn record_sign_in_refusal(
        &self,
        actor: &Actor,
        region: RegionCode,
        refusal: SignInRefusal,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
