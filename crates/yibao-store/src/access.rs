//! Staff accounts, sessions and designated institutions' API keys: who may act, in which
//! role, over which region (R-GEO-2). Secrets are never stored: passwords as argon2 hashes
//! (computed by the server), session tokens and API keys as SHA-256 digests.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use yibao_domain::{InstitutionLevel, RegionCode};

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
}

impl Role {
    pub const ALL: [Role; 5] = [Role::EnrolmentClerk, Role::ClaimsOfficer, Role::FundAccountant, Role::Auditor, Role::CityAdministrator];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::EnrolmentClerk => "enrolment_clerk",
            Role::ClaimsOfficer => "claims_officer",
            Role::FundAccountant => "fund_accountant",
            Role::Auditor => "auditor",
            Role::CityAdministrator => "city_administrator",
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
    pub code: String,
    pub name: String,
    pub region: RegionCode,
    pub level: InstitutionLevel,
    /// SHA-256 of the institution's API key, hex.
    pub api_key_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstitutionRecord {
    pub code: String,
    pub name: String,
    pub region: RegionCode,
    pub level: InstitutionLevel,
    pub active: bool,
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
    fn institutions(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<InstitutionRecord>, StoreError>> + Send;
}
