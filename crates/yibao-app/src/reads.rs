//! What staff read: a person, a search, the year's counters, claims, contributions,
//! arrears, the audit trail; and a person's details changed. Every read is scoped to the
//! principal's region: another county's person is "not found" (R-GEO-2).

use std::collections::BTreeMap;

use serde_json::Value;
use yibao_domain::{NationalId, RegionCode};
use yibao_engine::Accumulators;
use yibao_store::{
    AuditEntry, AuditVerification, ClaimRecord, ContributionRecord, ContributionStore as _, CountyArrears, FundStore as _, PersonArrears,
    PersonQuery, PersonRecord, PersonUpdate, Store as _, check_scope,
};

use crate::{App, AppError, Backend, Period, Principal, roles, store};

/// Most audit entries one page returns.
pub const AUDIT_PAGE_LIMIT: i64 = 1_000;
/// Most audit entries [`App::activity`] reads per region: the figures say when they stop.
pub const ACTIVITY_ENTRIES_LIMIT: i64 = 200_000;

/// A county's enrolments and contributions, as [`App::activity`] sums them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountyActivity {
    pub enrolled: i64,
    pub ended: i64,
    pub due_fen: i64,
    pub paid_fen: i64,
}

/// A day's settlements, as [`App::activity`] sums them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayActivity {
    pub settled: i64,
    pub reversed: i64,
    pub medfee_fen: i64,
    pub fund_pay_fen: i64,
}

/// What happened in the principal's region: per county (region code), persons enrolled and
/// whose coverage ended, contributions due and paid; per day (`YYYY-MM-DD`), claims settled
/// and reversed with their bills and what the funds paid. Only counties with an enrolment
/// or a contribution are listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    pub counties: BTreeMap<String, CountyActivity>,
    pub days: BTreeMap<String, DayActivity>,
    /// A region's trail was longer than [`ACTIVITY_ENTRIES_LIMIT`]: the sums stop there.
    pub truncated: bool,
}

fn fen_of(detail: &Value, field: &str) -> i64 {
    detail.get(field).and_then(Value::as_i64).unwrap_or(0)
}

/// The most persons one register export holds: an xlsx sheet's rows less its header.
pub const REGISTER_EXPORT_MAX: usize = 1_048_575;

/// Refuses an export longer than one sheet holds.
fn too_large(scope: RegionCode, rows: usize, what: &str) -> Result<(), AppError> {
    if rows > REGISTER_EXPORT_MAX {
        return Err(AppError::bad_request(
            "export.too_large",
            format!(
                "{scope} has more than {REGISTER_EXPORT_MAX} {what} in the period, more than a sheet holds: export a month or a county at a time"
            ),
        ));
    }
    Ok(())
}

impl App {
    /// One person, with coverage and tier history.
    pub async fn person(&self, principal: &Principal, person_id: &NationalId) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        Ok(store!(self, person(scope, person_id))?)
    }

    /// The register of the principal's region, every person once where insured now, in key
    /// order (issue 16 item 6): at most [`REGISTER_EXPORT_MAX`] persons, what one xlsx sheet
    /// holds; a larger region is refused (`export.too_large`), to be exported county by county.
    pub async fn register_export(&self, principal: &Principal) -> Result<Vec<PersonRecord>, AppError> {
        let scope = principal.scope(roles::REGISTER_EXPORT)?;
        let mut persons: Vec<PersonRecord> = Vec::new();
        loop {
            let after = persons.last().map(|p| (p.coverage.region, p.person_id));
            let page = store!(self, persons_after(scope, after, yibao_store::EXPORT_PAGE))?;
            let done = page.len() < usize::try_from(yibao_store::EXPORT_PAGE).unwrap_or(usize::MAX);
            persons.extend(page);
            if persons.len() > REGISTER_EXPORT_MAX {
                return Err(AppError::bad_request(
                    "export.too_large",
                    format!("{scope} holds more than {REGISTER_EXPORT_MAX} persons, more than a sheet holds: export it county by county"),
                ));
            }
            if done {
                return Ok(persons);
            }
        }
    }

    /// The contributions of the principal's region recorded for `period` (`2026` takes the
    /// year and its months), in the order recorded, county by county (issue 16 item 6): at
    /// most [`REGISTER_EXPORT_MAX`], what one sheet holds (`export.too_large`). The store is
    /// read a page at a time; a county's whole history is read to pick the period's rows.
    pub async fn contributions_export(&self, principal: &Principal, period: &str) -> Result<Vec<ContributionRecord>, AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        let period = Period::parse(period)?;
        let wanted = |record: &ContributionRecord| match period {
            Period::Year(year) => record.period.year() == year,
            Period::Month(..) => record.period == period,
        };
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = store!(self, contributions_page(scope, after, yibao_store::ENTRIES_PAGE_LIMIT))?;
            let Some(last) = page.last() else { return Ok(found) };
            after = Some((last.region, last.seq));
            let done = page.len() < usize::try_from(yibao_store::ENTRIES_PAGE_LIMIT).unwrap_or(usize::MAX);
            found.extend(page.into_iter().filter(wanted));
            too_large(scope, found.len(), "contributions")?;
            if done {
                return Ok(found);
            }
        }
    }

    /// The settlements of the principal's region settled in `period` (the city's day:
    /// `2026` or `2026-05`), reversed ones included with their status, in key order (issue
    /// 16 item 6): at most [`REGISTER_EXPORT_MAX`] (`export.too_large`).
    pub async fn settlements_export(&self, principal: &Principal, period: &str) -> Result<Vec<ClaimRecord>, AppError> {
        let scope = principal.scope(roles::SETTLEMENT_EXPORT)?;
        let period = Period::parse(period)?;
        let wanted = |claim: &ClaimRecord| {
            let day = yibao_domain::city_day(claim.settled_at);
            day >= period.first_day() && day <= period.last_day()
        };
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = store!(self, claims_page(scope, after.clone(), yibao_store::ENTRIES_PAGE_LIMIT))?;
            let Some(last) = page.last().map(|c| &c.record) else { return Ok(found) };
            after = Some((last.region, last.institution_code.to_string(), last.claim_id.clone()));
            let done = page.len() < usize::try_from(yibao_store::ENTRIES_PAGE_LIMIT).unwrap_or(usize::MAX);
            found.extend(page.into_iter().map(|c| c.record).filter(wanted));
            too_large(scope, found.len(), "settlements")?;
            if done {
                return Ok(found);
            }
        }
    }

    /// Persons of the principal's region by ID, name (prefix), card number or household.
    /// At most [`yibao_store::SEARCH_LIMIT`] persons a page, from `query.offset` (at most
    /// [`yibao_store::SEARCH_OFFSET_MAX`]), with how many match in all.
    pub async fn search_persons(&self, principal: &Principal, query: &PersonQuery) -> Result<yibao_store::PersonPage, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        let empty = query.person_id.is_none()
            && query.name_prefix.as_deref().is_none_or(str::is_empty)
            && query.card_no.is_none()
            && query.household_id.is_none();
        if empty {
            return Err(AppError::bad_request("search.empty", "search by id, name, card or household"));
        }
        let limit_ok = query.limit.is_none_or(|limit| limit >= 1 && i64::from(limit) <= yibao_store::SEARCH_LIMIT);
        if query.offset > yibao_store::SEARCH_OFFSET_MAX || !limit_ok {
            return Err(AppError::bad_request(
                "search.bad_page",
                format!(
                    "a page holds 1 to {} persons and starts at most {} in: narrow the search instead",
                    yibao_store::SEARCH_LIMIT,
                    yibao_store::SEARCH_OFFSET_MAX
                ),
            ));
        }
        let mut query = query.clone();
        // A card is looked up as the register writes it (trimmed, letters in capitals).
        if let Some(card) = query.card_no.as_mut() {
            *card = card.trim().to_ascii_uppercase();
        }
        // A household is looked up as the register writes its id (`HouseholdId`: trimmed).
        if let Some(id) = query.household_id.take() {
            query.household_id = Some(yibao_domain::HouseholdId::parse(&id)?.into_string());
        }
        Ok(store!(self, search_persons(scope, &query))?)
    }

    /// Changes a person's details, audited with old and new values.
    pub async fn update_person(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        update: PersonUpdate,
    ) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        Ok(store!(self, update_person(&principal.actor(source, self.now()), scope, person_id, update))?)
    }

    /// A person's year-to-date counters (national transaction 5206): staff only, never an
    /// institution.
    pub async fn accumulators(&self, principal: &Principal, person_id: &NationalId, year: i32) -> Result<Accumulators, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        if !(crate::PERIOD_YEAR_MIN..=crate::PERIOD_YEAR_MAX).contains(&year) {
            return Err(AppError::bad_request(
                "request.bad_year",
                format!("year is {} to {}", crate::PERIOD_YEAR_MIN, crate::PERIOD_YEAR_MAX),
            ));
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
        Ok(store!(self, arrears(scope, &period.to_string(), yibao_store::SEARCH_LIMIT as usize))?)
    }

    /// Every person's arrears for a period in the principal's region (a download: at most
    /// [`yibao_store::ARREARS_LINES_MAX`] lines, a workbook's sheet), with the counties.
    pub async fn arrears_all(&self, principal: &Principal, period: &str) -> Result<(Vec<PersonArrears>, Vec<CountyArrears>), AppError> {
        let scope = principal.scope(roles::ARREARS)?;
        let period = Period::parse(period)?;
        Ok(store!(self, arrears(scope, &period.to_string(), yibao_store::ARREARS_LINES_MAX))?)
    }

    /// What each county of the principal's region is owed for a period, without the
    /// persons: the staff console's dashboard shows it to every staff role, while the list
    /// of who owes ([`App::arrears`]) is for the roles that collect or check contributions.
    pub async fn county_arrears(&self, principal: &Principal, period: &str) -> Result<Vec<CountyArrears>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        let period = Period::parse(period)?;
        Ok(store!(self, arrears(scope, &period.to_string(), 0))?.1)
    }

    /// The staff console's dashboard figures (enrolments and contributions per county,
    /// settlements per day), for every staff role: sums only, never the entries (reading the
    /// audit trail itself is the auditors', [`App::audit_entries`]). The store has no
    /// aggregate queries yet, so they are summed from the audit trail of the regions in the
    /// principal's scope (every enrolment, contribution and settlement writes one entry in
    /// its own transaction, R-SYS-6), at most [`ACTIVITY_ENTRIES_LIMIT`] entries per region.
    pub async fn activity(&self, principal: &Principal) -> Result<Activity, AppError> {
        const PAGE: i64 = 1_000;
        let mut regions = self.audit_regions(principal).await?;
        regions.sort();
        let mut activity = Activity::default();
        for region in regions {
            let mut after = 0;
            loop {
                let batch = store!(self, audit_entries(region, after, PAGE))?;
                let full = i64::try_from(batch.len()).unwrap_or(i64::MAX) == PAGE;
                for entry in &batch {
                    after = entry.seq;
                    let county = activity.counties.entry(entry.region.clone()).or_default();
                    let day = entry.at.get(..10).unwrap_or_default().to_owned();
                    match entry.action.as_str() {
                        "person.enrol" => county.enrolled += 1,
                        "person.end_coverage" => county.ended += 1,
                        "contribution.record" => {
                            let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
                            county.due_fen += fen_of(&detail, "due_fen");
                            county.paid_fen += fen_of(&detail, "paid_fen");
                        }
                        "claim.settle" => {
                            let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
                            let of_day = activity.days.entry(day).or_default();
                            of_day.settled += 1;
                            of_day.medfee_fen += fen_of(&detail, "medfee_fen");
                            of_day.fund_pay_fen += fen_of(&detail, "fund_pay_fen");
                        }
                        "claim.reverse" => activity.days.entry(day).or_default().reversed += 1,
                        _ => {}
                    }
                }
                if !full {
                    break;
                }
                if after >= ACTIVITY_ENTRIES_LIMIT {
                    activity.truncated = true;
                    break;
                }
            }
        }
        // Regions with a chain but no enrolment or contribution (the city's own chain of
        // staff and sessions) add nothing to the county table.
        activity.counties.retain(|_, c| c.enrolled > 0 || c.due_fen > 0 || c.paid_fen > 0);
        Ok(activity)
    }

    /// The audit trail of a region inside the principal's scope, from `after` (exclusive).
    pub async fn audit_entries(
        &self,
        principal: &Principal,
        region: RegionCode,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, AppError> {
        let scope = principal.scope(roles::AUDITORS)?;
        check_scope(scope, region)?;
        Ok(store!(self, audit_entries(region, after, limit.clamp(1, AUDIT_PAGE_LIMIT)))?)
    }

    /// The regions with an audit chain inside the principal's scope.
    pub async fn audit_regions(&self, principal: &Principal) -> Result<Vec<RegionCode>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        Ok(store!(self, audit_regions())?.into_iter().filter(|r| scope.contains(*r)).collect())
    }

    /// Recomputes every hash of every audit chain and, given an anchor the bureau kept
    /// outside the system, checks that every anchored entry is still there, unchanged.
    pub async fn verify_audit(
        &self,
        principal: &Principal,
        anchor: Option<&yibao_store::AuditAnchor>,
    ) -> Result<AuditVerification, AppError> {
        principal.scope(roles::AUDITORS)?;
        Ok(match &*self.store {
            Backend::Sqlite(s) => yibao_store::verify_audit_against(s, anchor).await,
            Backend::Postgres(s) => yibao_store::verify_audit_against(s, anchor).await,
        }?)
    }

    /// Each region's chain end, to record outside the system (`yibao audit anchor`): only
    /// from an intact log, since an anchor of a broken chain would vouch for the break.
    pub async fn audit_anchor(&self, principal: &Principal) -> Result<yibao_store::AuditAnchor, AppError> {
        let verification = self.verify_audit(principal, None).await?;
        if !verification.is_intact() {
            return Err(AppError::conflict(
                "audit.broken",
                format!("the audit log is broken, so it cannot be anchored: {}", verification.breaks.join("; ")),
            ));
        }
        Ok(yibao_store::AuditAnchor { regions: verification.ends })
    }
}
