//! Households and persons (R-ENR): enrolment, tier changes and their cancellation, end of
//! coverage. Regions are checked against the city's counties; dates against today.

use time::{Date, Month};
use yibao_domain::{AssistanceGroup, Fen, HouseholdId, NationalId, PersonCategory, PersonName, RegionCode, Scheme, Tier};
use yibao_engine::{Coverage, TierChange, TierHistory, TierOrPolicyError, change_takes_effect, tier_on, upgrade_waiting_months};
use yibao_store::{
    EmployerStore as _, HouseholdRecord, ImportHousehold, ImportStore as _, ImportSummary, NewHousehold, NewPerson, PersonRecord,
    Store as _, StoreError, TierEdit, check_scope,
};

use crate::{App, AppError, Principal, roles, store};

/// A person to enrol, as a clerk gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolInput {
    pub person_id: NationalId,
    pub name: PersonName,
    pub card_no: Option<String>,
    pub household_id: HouseholdId,
    pub region: RegionCode,
    pub scheme: Scheme,
    pub category: PersonCategory,
    /// Required when the city has tiers (R-ENR-3).
    pub tier: Option<Tier>,
    pub coverage_from: Date,
    pub assistance_group: Option<AssistanceGroup>,
    pub supplementary: bool,
    pub maternity: bool,
    /// An employee under the civil servants' medical subsidy (公务员医疗补助).
    pub civil_servant: bool,
    /// An employee whose employer has supplementary insurance (企业补充医疗保险).
    pub enterprise_supplementary: bool,
    pub certified_chronic_diseases: Vec<String>,
}

/// A change of a person's coverage as a clerk gives it (R-ENR-5): from `on`, insured in
/// `region` under `scheme` as `category`, in household `household_id` of that county.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverageChangeInput {
    pub on: Date,
    pub region: RegionCode,
    pub household_id: HouseholdId,
    pub scheme: Scheme,
    pub category: PersonCategory,
    /// Required when the city has tiers for `scheme` (R-ENR-3).
    pub tier: Option<Tier>,
}

/// How long after a tier change was asked for it may still be recorded.
pub const TIER_REQUEST_AGE_DAYS_MAX: i64 = 31;

/// A recorded tier change and the first day its benefits apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierChanged {
    pub person: PersonRecord,
    pub benefits_from: Date,
}

/// The last day a date about enrolment may name: the end of next year (a person may be
/// enrolled, or their coverage ended, ahead of time, but not for a year nobody budgets).
fn latest_enrolment_date(today: Date) -> Date {
    Date::from_calendar_date(today.year() + 1, Month::December, 31).unwrap_or(Date::MAX)
}

/// A second enrolment refused: when the first lies outside the clerk's scope, the refusal
/// says so without naming that county's region or household.
fn hide_other_county(scope: RegionCode, error: StoreError) -> AppError {
    match error {
        StoreError::AlreadyEnrolled { person, region, .. }
            if RegionCode::parse(&region).map_or(true, |r| check_scope(scope, r).is_err()) =>
        {
            AppError::conflict(
                "person.already_enrolled",
                format!(
                    "{person} is already enrolled in basic medical insurance in another county: a person is enrolled once (R-ENR-2); the city bureau can transfer the enrolment"
                ),
            )
        }
        other => other.into(),
    }
}

fn tier_error(e: TierOrPolicyError<yibao_policy::LookupError>) -> AppError {
    match e {
        TierOrPolicyError::History(e) => AppError::bad_request("person.bad_tier", e.to_string()),
        TierOrPolicyError::Policy(e) => AppError::from(e),
    }
}

impl App {
    /// Creates a household (以户为单位, R-ENR-1) in one of the city's counties.
    pub async fn create_household(
        &self,
        principal: &Principal,
        source: &str,
        mut household: NewHousehold,
    ) -> Result<HouseholdRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        self.check_county(household.region)?;
        household.address = yibao_domain::parse_address(&household.address)?;
        Ok(store!(self, create_household(&principal.actor(source, self.now()), scope, household))?)
    }

    /// Enrols a person (R-ENR-2, R-ENR-3). A second enrolment is refused; when the first
    /// lies in another county, the refusal says so without naming that county's records.
    pub async fn enrol(&self, principal: &Principal, source: &str, input: EnrolInput) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        let person = self.new_person(input)?;
        let enrolled = store!(self, enrol(&principal.actor(source, self.now()), scope, person));
        enrolled.map_err(|e| hide_other_county(scope, e))
    }

    /// Enrols a household with its members (以户为单位, R-ENR-1) in one transaction: all of
    /// them or none. Each member is checked as [`App::enrol`] checks one person.
    pub async fn enrol_household(
        &self,
        principal: &Principal,
        source: &str,
        household: NewHousehold,
        members: Vec<EnrolInput>,
    ) -> Result<ImportSummary, AppError> {
        let mut persons = Vec::with_capacity(members.len());
        for member in members {
            persons.push(self.new_person(member)?);
        }
        self.import_households(principal, source, household.region, vec![ImportHousehold { household, members: persons }]).await
    }

    /// Enrols households in bulk, in one transaction (whole or nothing): a loader's or a
    /// migration's batch of one county, at most [`yibao_store::IMPORT_LIMIT`] households.
    /// Every person is checked as [`App::enrol`] checks one, with the tier history the
    /// batch brings (each change to one of the city's tiers, asked for not after today).
    pub async fn import_households(
        &self,
        principal: &Principal,
        source: &str,
        region: RegionCode,
        mut households: Vec<ImportHousehold>,
    ) -> Result<ImportSummary, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        self.check_county(region)?;
        for entry in &mut households {
            entry.household.address = yibao_domain::parse_address(&entry.household.address)?;
            for member in &mut entry.members {
                member.card_no = member.card_no.as_deref().map(yibao_domain::parse_card_no).transpose()?;
            }
            if entry.household.region != region {
                return Err(AppError::bad_request(
                    "person.bad_household",
                    format!(
                        "household {} is in {}, not in {region}: one import is one county",
                        entry.household.household_id, entry.household.region
                    ),
                ));
            }
            for member in &entry.members {
                if member.coverage.region != region || member.household_id != entry.household.household_id {
                    return Err(AppError::bad_request("person.bad_household", "every member is enrolled in the household's own region"));
                }
                self.check_coverage(&member.coverage)?;
                // An opening personal-account balance is money brought into the books: only
                // the system's migration of a handed-over register brings one (R-SYS-3).
                if !member.coverage.personal_account_balance.is_zero() && principal.system().is_err() {
                    return Err(AppError::bad_request(
                        "person.bad_balance",
                        "a personal-account balance is brought in only by the system's migration; a clerk enrols with none",
                    ));
                }
            }
        }
        let imported = store!(self, import(&principal.actor(source, self.now()), scope, households));
        imported.map_err(|e| hide_other_county(scope, e))
    }

    /// The person to store for an enrolment, every rule of [`App::check_coverage`] checked
    /// and a tier chosen when the city has tiers.
    fn new_person(&self, input: EnrolInput) -> Result<NewPerson, AppError> {
        let policy = self.policy();
        let tiers = policy.tiers_for(input.scheme);
        let tier_history = match (tiers.is_empty(), input.tier) {
            (true, None) => None,
            (true, Some(_)) => return Err(AppError::bad_request("person.bad_tier", "this city has no tiers")),
            (false, None) => return Err(AppError::bad_request("person.bad_tier", format!("choose a tier: {}", tier_list(tiers)))),
            (false, Some(t)) => Some(TierHistory { initial: t, since: input.coverage_from, changes: Vec::new() }),
        };
        let coverage = Coverage {
            person_id: input.person_id,
            region: input.region,
            scheme: input.scheme,
            category: input.category,
            coverage_from: input.coverage_from,
            coverage_until: None,
            tier_history,
            assistance_group: input.assistance_group,
            supplementary: input.supplementary,
            maternity: input.maternity,
            civil_servant: input.civil_servant,
            enterprise_supplementary: input.enterprise_supplementary,
            certified_chronic_diseases: input.certified_chronic_diseases,
            personal_account_balance: Fen::ZERO,
            use_personal_account: input.scheme == Scheme::Employee,
        };
        self.check_coverage(&coverage)?;
        let card_no = input.card_no.as_deref().map(yibao_domain::parse_card_no).transpose()?;
        Ok(NewPerson { name: input.name, card_no, household_id: input.household_id, coverage })
    }

    /// The rules of an enrolment (R-ENR-2, R-ENR-3): a basic scheme the city has, one of its
    /// counties, a category that fits the scheme, a start date from the policy's first day
    /// to the end of next year, and tiers of the city's (changes asked for not after today)
    /// exactly when it has tiers.
    pub(crate) fn check_coverage(&self, coverage: &Coverage) -> Result<(), AppError> {
        let policy = &self.policy();
        if !coverage.scheme.is_basic() {
            return Err(AppError::bad_request("person.bad_scheme", "a person is enrolled in employee or resident basic insurance"));
        }
        if !policy.has_scheme(coverage.scheme) {
            return Err(AppError::bad_request("person.bad_scheme", format!("this city has no {} insurance", coverage.scheme)));
        }
        if !policy.has_county(coverage.region) {
            return Err(AppError::bad_request(
                "person.bad_region",
                format!("{} is not a county or district of {}", coverage.region, policy.region),
            ));
        }
        let category_ok = if coverage.scheme == Scheme::Employee {
            coverage.category != PersonCategory::Resident
        } else {
            coverage.category == PersonCategory::Resident
        };
        if !category_ok {
            return Err(AppError::bad_request(
                "person.bad_category",
                format!("a {} person cannot be insured under {} insurance", coverage.category.as_str(), coverage.scheme),
            ));
        }
        let latest = latest_enrolment_date(self.today());
        if coverage.coverage_from > latest {
            return Err(AppError::bad_request("person.bad_date", format!("coverage cannot begin after {latest}")));
        }
        // Coverage does not reach back before the policy in force began: a claim from before
        // it would otherwise be paid on contributions never made.
        if coverage.coverage_from < policy.effective_from {
            return Err(AppError::bad_request(
                "person.bad_date",
                format!("coverage cannot begin before the policy's first day {}", policy.effective_from),
            ));
        }
        if coverage.coverage_until.is_some() {
            return Err(AppError::bad_request("person.bad_date", "an enrolment is for coverage that has not ended"));
        }
        // A newborn is covered from the day of birth at the earliest (the national ID says it).
        let born = coverage.person_id.birth_date();
        if coverage.coverage_from < born {
            return Err(AppError::bad_request(
                "person.bad_date",
                format!("coverage cannot begin on {}, before the person was born on {born}", coverage.coverage_from),
            ));
        }
        let employee = coverage.scheme == Scheme::Employee;
        if coverage.personal_account_balance.is_negative()
            || (!employee && (!coverage.personal_account_balance.is_zero() || coverage.use_personal_account))
        {
            return Err(AppError::bad_request(
                "person.bad_balance",
                "only an employee has a personal account, and its balance is not negative",
            ));
        }
        yibao_store::check_chronic_diseases(&coverage.certified_chronic_diseases)?;
        yibao_store::check_employee_top_ups(coverage)?;
        let tiers = policy.tiers_for(coverage.scheme);
        if coverage.tier_history.as_ref().is_some_and(|h| h.since != coverage.coverage_from) {
            return Err(AppError::bad_request("person.bad_tier", "a tier history begins with the coverage"));
        }
        match &coverage.tier_history {
            None if tiers.is_empty() => Ok(()),
            None => Err(AppError::bad_request("person.bad_tier", format!("choose a tier: {}", tier_list(tiers)))),
            Some(_) if tiers.is_empty() => Err(AppError::bad_request("person.bad_tier", "this city has no tiers")),
            Some(history) => {
                for tier in std::iter::once(history.initial).chain(history.changes.iter().map(|c| c.tier)) {
                    if !tiers.contains(&tier) {
                        return Err(AppError::bad_request(
                            "person.bad_tier",
                            format!("tier {tier} is not a tier of {} insurance here", coverage.scheme),
                        ));
                    }
                }
                let today = self.today();
                match history.changes.iter().find(|c| c.requested_on > today || c.requested_on < history.since) {
                    Some(change) => Err(AppError::bad_request(
                        "person.bad_date",
                        format!("a tier change asked for on {} lies outside {} to today", change.requested_on, history.since),
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// Records a tier change asked for on `requested_on` (R-ENR-4): down takes effect the
    /// next month, up after the waiting period. A request is dated when it is made, so
    /// never after today (`person.bad_date`).
    pub async fn change_tier(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        change: TierChange,
    ) -> Result<TierChanged, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        let current = store!(self, person(scope, person_id))?;
        // A request is recorded when it is made (a paper form may reach the clerk within a
        // month): dated earlier, an upgrade's waiting period would have run before anyone
        // knew of it.
        self.not_after_today("person.bad_date", "a tier change requested on", change.requested_on)?;
        if (self.today() - change.requested_on).whole_days() > TIER_REQUEST_AGE_DAYS_MAX {
            return Err(AppError::bad_request(
                "person.bad_date",
                format!(
                    "a tier change is recorded within {TIER_REQUEST_AGE_DAYS_MAX} days of its request, not from {}",
                    change.requested_on
                ),
            ));
        }
        let coverage = &current.coverage;
        if !self.policy().tiers_for(coverage.scheme).contains(&change.tier) {
            return Err(AppError::bad_request(
                "person.bad_tier",
                format!("tier {} is not a tier of {} insurance here", change.tier, coverage.scheme),
            ));
        }
        let history = coverage.tier_history.as_ref().ok_or_else(|| AppError::bad_request("person.bad_tier", "this person has no tier"))?;
        let benefits_from = self.takes_effect(history, coverage.region, change)?;
        let person = store!(self, edit_tiers(&principal.actor(source, self.now()), scope, person_id, TierEdit::Request(change)))?;
        Ok(TierChanged { person, benefits_from })
    }

    /// Cancels the person's latest tier change, named by the day it was requested, while it
    /// has not yet taken effect (`person.tier_change_in_effect` once it has).
    pub async fn cancel_tier_change(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        requested_on: Date,
    ) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        let current = store!(self, person(scope, person_id))?;
        let coverage = &current.coverage;
        let history = coverage.tier_history.as_ref().ok_or_else(|| AppError::bad_request("person.bad_tier", "this person has no tier"))?;
        let Some(latest) = history.changes.last().copied().filter(|c| c.requested_on == requested_on) else {
            return Err(AppError::bad_request(
                "person.no_such_tier_change",
                format!("the person's latest tier change was not requested on {requested_on}: only the latest request can be cancelled"),
            ));
        };
        let before = TierHistory { changes: history.changes[..history.changes.len() - 1].to_vec(), ..history.clone() };
        let effective = self.takes_effect(&before, coverage.region, latest)?;
        if effective <= self.today() {
            return Err(AppError::conflict(
                "person.tier_change_in_effect",
                format!("the change to tier {} took effect on {effective}: request a new change instead", latest.tier),
            ));
        }
        Ok(store!(self, edit_tiers(&principal.actor(source, self.now()), scope, person_id, TierEdit::Cancel { requested_on }))?)
    }

    /// The tier in force for `coverage` on `on` (R-ENR-4), as contributions and
    /// settlements read it; `None` without a tier history.
    #[must_use]
    pub fn tier_in_force(&self, coverage: &Coverage, on: Date) -> Option<Tier> {
        yibao_engine::tier_in_force(&self.policy(), coverage, on).ok().flatten()
    }

    /// The first day `change` applies, after the history before it (R-ENR-4): the one
    /// computation behind the API's answer, the console's tier history and cancellation.
    pub fn takes_effect(&self, history: &TierHistory, region: RegionCode, change: TierChange) -> Result<Date, AppError> {
        let waiting = |target, on| upgrade_waiting_months(&self.policy(), region, target, on);
        let in_force = tier_on(history, change.requested_on, waiting).map_err(tier_error)?.unwrap_or(history.initial);
        let months = upgrade_waiting_months(&self.policy(), region, change.tier, change.requested_on)?;
        Ok(change_takes_effect(in_force, change, months))
    }

    /// Changes a person's coverage from `input.on` (R-ENR-5, issue 16 item 3): a move
    /// between the employee and resident schemes, to another county of the city, a new
    /// category (retiring) or household, or a re-enrolment after coverage ended. The new
    /// spell is checked as an enrolment is ([`App::check_coverage`]); the person, the old
    /// county and the new one must all lie in the clerk's scope (a move between counties
    /// is the city bureau's). What carries and what does not is the engine's rule
    /// ([`yibao_engine::change_coverage`]); the store refuses a change dated before a claim
    /// already settled under the old coverage.
    pub async fn change_coverage(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        input: CoverageChangeInput,
    ) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        self.check_county(input.region)?;
        // A change is recorded when it happens, not ahead: until then the coverage in force
        // is the old one, for claims and contributions alike.
        self.not_after_today("person.bad_date", "a coverage change on", input.on)?;
        let policy = self.policy();
        if !input.scheme.is_basic() || !policy.has_scheme(input.scheme) {
            return Err(AppError::bad_request(
                "person.bad_scheme",
                format!("a person moves to a basic scheme of this city, not {}", input.scheme),
            ));
        }
        let tiers = policy.tiers_for(input.scheme);
        let tier = match (tiers.is_empty(), input.tier) {
            (true, None) => None,
            (true, Some(_)) => return Err(AppError::bad_request("person.bad_tier", "this city has no tiers")),
            (false, None) => return Err(AppError::bad_request("person.bad_tier", format!("choose a tier: {}", tier_list(tiers)))),
            (false, Some(tier)) => Some(tier),
        };
        // The new spell as an enrolment would be: scheme, county, category, date and tier.
        let probe = Coverage {
            person_id: *person_id,
            region: input.region,
            scheme: input.scheme,
            category: input.category,
            coverage_from: input.on,
            coverage_until: None,
            tier_history: tier.map(|initial| TierHistory { initial, since: input.on, changes: Vec::new() }),
            assistance_group: None,
            supplementary: false,
            maternity: false,
            civil_servant: false,
            enterprise_supplementary: false,
            certified_chronic_diseases: Vec::new(),
            personal_account_balance: Fen::ZERO,
            use_personal_account: false,
        };
        self.check_coverage(&probe)?;
        if input.scheme == Scheme::Employee && input.category == PersonCategory::Retired {
            self.check_retirement_years(scope, person_id, input.region, input.on).await?;
        }
        // A change of what bills a month an employer declared is the store's to refuse, in
        // its transaction (`person.declared_after`, `yibao_store::employer::rebilled_from_change`).
        let change = yibao_engine::CoverageChange {
            on: input.on,
            region: input.region,
            scheme: input.scheme,
            category: input.category,
            tier,
            // The store decides, against the household on record.
            household_changes: false,
        };
        let changed = store!(self, change_coverage(&principal.actor(source, self.now()), scope, person_id, change, input.household_id));
        changed.map_err(AppError::from)
    }

    /// An employee retiring (to the retiree category, covered without contributions) must
    /// have the pack's minimum of contribution months, carried in and paid here (R-FIN-1's
    /// minimum years): short, the change is refused with the months missing
    /// (`person.short_contribution_years`). A retiree moving county or household stays one.
    async fn check_retirement_years(
        &self,
        scope: RegionCode,
        person_id: &NationalId,
        region: RegionCode,
        on: Date,
    ) -> Result<(), AppError> {
        let person = store!(self, person(scope, person_id))?;
        // A retiree stays one; the dead change no more, which the store says (`person.deceased`).
        if (person.coverage.scheme == Scheme::Employee && person.coverage.category == PersonCategory::Retired) || person.died_on.is_some() {
            return Ok(());
        }
        let required = yibao_engine::required_contribution_months(&self.policy(), region, person_id.sex(), on)?;
        let (carried, paid) = store!(self, contribution_months(scope, person_id))?;
        let years = yibao_engine::contribution_years(required, carried, paid);
        if years.short_months > 0 {
            return Err(AppError::unprocessable(
                "person.short_contribution_years",
                format!(
                    "{person_id} has {} months of employee contributions ({carried} carried in, {paid} paid here) and needs {} to be covered free in retirement: {} months short; record the months carried in from elsewhere, or the months paid up, first",
                    carried + paid,
                    required.unwrap_or(0),
                    years.short_months
                ),
            ));
        }
        Ok(())
    }

    /// Records a person's death on `died_on` (R-ENR-5): not after today, and not before
    /// they were born (`person.bad_date`). Their coverage ends that day; it is never changed,
    /// ended or enrolled again (`person.deceased`); a claim settled with a date of service
    /// after it refuses the record (`person.change_after_claims`: reverse it first).
    pub async fn record_death(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        died_on: Date,
    ) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        self.not_after_today("person.bad_date", "a death on", died_on)?;
        if died_on < person_id.birth_date() {
            return Err(AppError::bad_request("person.bad_date", format!("a death on {died_on} is before the person was born")));
        }
        // Billed months start after the day of death are no longer due.
        Ok(store!(self, record_death(&principal.actor(source, self.now()), scope, person_id, died_on))?)
    }

    /// Ends coverage on `until` (the last covered day): not before coverage began, and not
    /// after the end of next year (`person.bad_date`).
    pub async fn end_coverage(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        until: Date,
    ) -> Result<PersonRecord, AppError> {
        let scope = principal.scope(roles::ENROLMENT)?;
        let latest = latest_enrolment_date(self.today());
        if until > latest {
            return Err(AppError::bad_request("person.bad_date", format!("coverage cannot be ended after {latest}")));
        }
        Ok(store!(self, end_coverage(&principal.actor(source, self.now()), scope, person_id, until))?)
    }
}

/// The tiers to choose from, as a person reads them ("1, 2, 3").
fn tier_list(tiers: &[yibao_domain::Tier]) -> String {
    tiers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
