//! What staff read: a person, a search, the year's counters, claims, contributions,
//! arrears, the audit trail; and a person's details changed. Every read is scoped to the
//! principal's region: another county's person is "not found" (R-GEO-2).

use yibao_domain::{NationalId, RegionCode};
use yibao_engine::Accumulators;
use yibao_store::{
    AuditEntry, AuditVerification, ClaimRecord, ContributionRecord, ContributionStore as _, CountyArrears, PersonArrears, PersonQuery,
    PersonRecord, PersonUpdate, Store as _, check_scope,
};

use crate::{App, AppError, Backend, Period, Principal, roles, store};

/// Most audit entries one page returns.
pub const AUDIT_PAGE_LIMIT: i64 = 1_000;

impl App {
    /// One person, with coverage and tier history.
    pub async fn person(&self, principal: &Principal, person_id: &NationalId) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        Ok(store!(self, person(scope, person_id))?)
    }

    /// Persons of the principal's region by ID, name (prefix), card number or household.
    pub async fn search_persons(&self, principal: &Principal, query: &PersonQuery) -> Result<Vec<PersonRecord>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        let empty = query.person_id.is_none()
            && query.name_prefix.as_deref().is_none_or(str::is_empty)
            && query.card_no.is_none()
            && query.household_id.is_none();
        if empty {
            return Err(AppError::bad_request("search.empty", "search by id, name, card or household"));
        }
        Ok(store!(self, search_persons(scope, query))?)
    }

    /// Changes a person's details, audited with old and new values.
    pub async fn update_person(&self, principal: &Principal, source: &str, person_id: &NationalId, update: PersonUpdate) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        Ok(store!(self, update_person(&principal.actor(source, self.now()), scope, person_id, update))?)
    }

    /// A person's year-to-date counters (national transaction 5206): staff only, never an
    /// institution.
    pub async fn accumulators(&self, principal: &Principal, person_id: &NationalId, year: i32) -> Result<Accumulators, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        if !(crate::PERIOD_YEAR_MIN..=crate::PERIOD_YEAR_MAX).contains(&year) {
            return Err(AppError::bad_request("request.bad_year", format!("year is {} to {}", crate::PERIOD_YEAR_MIN, crate::PERIOD_YEAR_MAX)));
        }
        Ok(store!(self, accumulators(scope, person_id, year))?)
    }

    /// A person's claims, newest first, each with its settlement and explanation.
    pub async fn claims_of_person(&self, principal: &Principal, person_id: &NationalId) -> Result<Vec<ClaimRecord>, AppError> {
        let scope = principal.scope(roles::CLAIMS)?;
        Ok(store!(self, claims_of_person(scope, person_id))?)
    }

    /// A person's contributions.
    pub async fn contributions_of(&self, principal: &Principal, person_id: &NationalId) -> Result<Vec<ContributionRecord>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        Ok(store!(self, contributions_of(scope, person_id))?)
    }

    /// Arrears (欠费) per person and per county for a period, in the principal's region.
    pub async fn arrears(&self, principal: &Principal, period: &str) -> Result<(Vec<PersonArrears>, Vec<CountyArrears>), AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        let period = Period::parse(period)?;
        Ok(store!(self, arrears(scope, &period.to_string()))?)
    }

    /// The audit trail of a region inside the principal's scope, from `after` (exclusive).
    pub async fn audit_entries(&self, principal: &Principal, region: RegionCode, after: i64, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
        let scope = principal.scope(roles::AUDITORS)?;
        check_scope(scope, region)?;
        Ok(store!(self, audit_entries(region, after, limit.clamp(1, AUDIT_PAGE_LIMIT)))?)
    }

    /// The regions with an audit chain inside the principal's scope.
    pub async fn audit_regions(&self, principal: &Principal) -> Result<Vec<RegionCode>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        Ok(store!(self, audit_regions())?.into_iter().filter(|r| scope.contains(*r)).collect())
    }

    /// Recomputes every hash of every audit chain.
    pub async fn verify_audit(&self, principal: &Principal) -> Result<AuditVerification, AppError> {
        principal.scope(roles::AUDITORS)?;
        Ok(match &*self.store {
            Backend::Sqlite(s) => yibao_store::verify_audit(s).await,
            Backend::Postgres(s) => yibao_store::verify_audit(s).await,
        }?)
    }
}
