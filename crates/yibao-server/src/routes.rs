//! The routes. Each handler checks who may call it, parses its input into domain types
//! (refusing bad input with a 4xx and a stable code), and calls the store once.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::{OpenApi, ToSchema};
use yibao_domain::{AssistanceGroup, Fen, NationalId, PersonCategory, RegionCode, Scheme, Tier, serde_yuan};
use yibao_engine::{
    Claim, Coverage, Explain, TierChange, TierHistory, TierOrPolicyError, change_takes_effect, settle, upgrade_waiting_months,
};
use yibao_policy::ServiceDateRule;
use yibao_store::{
    AccessStore, Actor, ContributionKind, ContributionStore, NewContribution, NewHousehold, NewPerson, PersonQuery, PersonUpdate, Role,
    SettleRequest, Store,
};

use crate::auth::{Caller, bearer, digest, new_token, verify_password};
use crate::error::{ApiError, ErrorBody};
use crate::{AppState, SESSION_HOURS, store};

/// JSON bodies whose rejection is a `{code, message}` 400 like every other error.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(malformed(&rejection)),
        }
    }
}

/// Query strings whose rejection is a `{code, message}` 400, as for [`Body`].
pub struct Params<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::bad_request("request.malformed", rejection.body_text())),
        }
    }
}

fn malformed(rejection: &JsonRejection) -> ApiError {
    ApiError::new(rejection.status(), "request.malformed", rejection.body_text())
}

pub(crate) fn actor(caller: &Caller, headers: &axum::http::HeaderMap) -> Actor {
    let source = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or("direct").chars().take(64).collect();
    Actor { who: caller.name().to_owned(), role: caller.role_name().to_owned(), source, at: OffsetDateTime::now_utc() }
}

fn person_id(text: &str) -> Result<NationalId, ApiError> {
    NationalId::parse(text).map_err(|e| ApiError::bad_request("person.bad_id", e.to_string()))
}

pub(crate) const READERS: &[Role] =
    &[Role::EnrolmentClerk, Role::ClaimsOfficer, Role::FundAccountant, Role::Auditor, Role::CityAdministrator];
const ENROLMENT: &[Role] = &[Role::EnrolmentClerk, Role::CityAdministrator];
const CONTRIBUTIONS: &[Role] = &[Role::FundAccountant, Role::EnrolmentClerk, Role::CityAdministrator];
const CLAIMS_READERS: &[Role] = &[Role::ClaimsOfficer, Role::Auditor, Role::CityAdministrator];
const REVERSERS: &[Role] = &[Role::ClaimsOfficer, Role::CityAdministrator];
const AUDITORS: &[Role] = &[Role::Auditor, Role::CityAdministrator];

// ---- sessions ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub token: String,
    pub username: String,
    pub role: String,
    pub region: String,
    pub expires_at: String,
}

/// Sign in: a session token for `Authorization: Bearer`.
#[utoipa::path(post, path = "/api/session", request_body = SignIn, responses((status = 200, body = SessionOut), (status = 401, body = ErrorBody)), tag = "session")]
async fn sign_in(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Body(input): Body<SignIn>,
) -> Result<Json<SessionOut>, ApiError> {
    let refused = || ApiError::unauthorized("wrong username or password");
    let staff = store!(state, staff(&input.username))?.filter(|s| s.active).ok_or_else(refused)?;
    let hash = staff.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &input.password)).await.unwrap_or(false);
    if !ok {
        return Err(refused());
    }
    let token = new_token()?;
    let expires_at = OffsetDateTime::now_utc() + Duration::hours(SESSION_HOURS);
    let caller = Caller::Staff { username: staff.username.clone(), role: staff.role, region: staff.region };
    store!(state, create_session(&actor(&caller, &headers), &digest(&token), &staff.username, expires_at))?;
    Ok(Json(SessionOut {
        token,
        username: staff.username,
        role: staff.role.to_string(),
        region: staff.region.to_string(),
        expires_at: expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    }))
}

/// Sign out: the token stops working at once.
#[utoipa::path(delete, path = "/api/session", responses((status = 204), (status = 401, body = ErrorBody)), tag = "session")]
async fn sign_out(State(state): State<AppState>, caller: Caller, headers: axum::http::HeaderMap) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers).ok_or_else(|| ApiError::unauthorized("no session to end"))?;
    store!(state, revoke_session(&actor(&caller, &headers), &digest(token)))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub name: String,
    pub role: String,
    pub region: String,
}

/// Who am I.
#[utoipa::path(get, path = "/api/me", responses((status = 200, body = Me), (status = 401, body = ErrorBody)), tag = "session")]
async fn me(caller: Caller) -> Json<Me> {
    let region = match &caller {
        Caller::Staff { region, .. } | Caller::Institution { region, .. } => region.to_string(),
    };
    Json(Me { name: caller.name().to_owned(), role: caller.role_name().to_owned(), region })
}

// ---- households and persons ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdIn {
    pub household_id: String,
    #[schema(value_type = String, example = "419921")]
    pub region: RegionCode,
    pub address: String,
}

/// Create a household (以户为单位, R-ENR-1).
#[utoipa::path(post, path = "/api/households", request_body = HouseholdIn, responses((status = 201, body = Object), (status = 409, body = ErrorBody)), tag = "persons")]
async fn create_household(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<HouseholdIn>,
) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(ENROLMENT)?;
    let record = store!(
        state,
        create_household(
            &actor(&caller, &headers),
            scope,
            NewHousehold { household_id: input.household_id, region: input.region, address: input.address }
        )
    )?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolIn {
    #[schema(value_type = String, example = "419921196203140047")]
    pub person_id: NationalId,
    pub name: String,
    pub card_no: Option<String>,
    pub household_id: String,
    #[schema(value_type = String, example = "419921")]
    pub region: RegionCode,
    #[schema(value_type = String, example = "resident")]
    pub scheme: Scheme,
    #[schema(value_type = String, example = "resident")]
    pub category: PersonCategory,
    /// Required when the city has tiers (R-ENR-3).
    #[schema(value_type = Option<u8>)]
    pub tier: Option<Tier>,
    #[schema(value_type = String, example = "2026-01-01")]
    pub coverage_from: Date,
    #[schema(value_type = Option<String>)]
    pub assistance_group: Option<AssistanceGroup>,
    #[serde(default)]
    pub supplementary: bool,
    #[serde(default)]
    pub maternity: bool,
    #[serde(default)]
    pub certified_chronic_diseases: Vec<String>,
}

/// Enrol a person. A second enrolment in basic medical insurance is refused, naming the
/// existing record (R-ENR-2).
#[utoipa::path(post, path = "/api/persons", request_body = EnrolIn, responses((status = 201, body = Object), (status = 409, body = ErrorBody), (status = 400, body = ErrorBody)), tag = "persons")]
async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<EnrolIn>,
) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(ENROLMENT)?;
    let policy = &state.policy;
    if !input.scheme.is_basic() {
        return Err(ApiError::bad_request("person.bad_scheme", "a person is enrolled in employee or resident basic insurance"));
    }
    if !policy.has_scheme(input.scheme) {
        return Err(ApiError::bad_request("person.bad_scheme", format!("this city has no {} insurance", input.scheme)));
    }
    if !policy.region.contains(input.region) {
        return Err(ApiError::bad_request("person.bad_region", format!("region {} is not in {}", input.region, policy.region)));
    }
    let category_ok = if input.scheme == Scheme::Employee {
        input.category != PersonCategory::Resident
    } else {
        input.category == PersonCategory::Resident
    };
    if !category_ok {
        return Err(ApiError::bad_request(
            "person.bad_category",
            format!("a {} person cannot be insured under {} insurance", input.category.as_str(), input.scheme),
        ));
    }
    let tiers = policy.tiers_for(input.scheme);
    let tier_history = match (tiers.is_empty(), input.tier) {
        (true, None) => None,
        (true, Some(_)) => return Err(ApiError::bad_request("person.bad_tier", "this city has no tiers")),
        (false, None) => return Err(ApiError::bad_request("person.bad_tier", format!("choose a tier: {tiers:?}"))),
        (false, Some(t)) if !tiers.contains(&t) => {
            return Err(ApiError::bad_request("person.bad_tier", format!("tier {t} is not a tier of {} insurance here", input.scheme)));
        }
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
        certified_chronic_diseases: input.certified_chronic_diseases,
        personal_account_balance: Fen::ZERO,
        use_personal_account: input.scheme == Scheme::Employee,
    };
    let person = NewPerson { name: input.name, card_no: input.card_no, household_id: input.household_id, coverage };
    let record = store!(state, enrol(&actor(&caller, &headers), scope, person))?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PersonSearch {
    /// National ID.
    pub id: Option<String>,
    /// Name or its beginning.
    pub name: Option<String>,
    /// Social-security card number.
    pub card: Option<String>,
    pub household: Option<String>,
}

/// Search persons in your region by ID, name, card number or household.
#[utoipa::path(get, path = "/api/persons", params(PersonSearch), responses((status = 200, body = Object), (status = 400, body = ErrorBody)), tag = "persons")]
async fn search(State(state): State<AppState>, caller: Caller, Params(q): Params<PersonSearch>) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(READERS)?;
    if q.id.is_none() && q.name.as_deref().is_none_or(str::is_empty) && q.card.is_none() && q.household.is_none() {
        return Err(ApiError::bad_request("search.empty", "search by id, name, card or household"));
    }
    let person_id = q.id.as_deref().map(person_id).transpose()?;
    let found =
        store!(state, search_persons(scope, &PersonQuery { person_id, name_prefix: q.name, card_no: q.card, household_id: q.household }))?;
    Ok(Json(found).into_response())
}

/// One person, with coverage and tier history.
#[utoipa::path(get, path = "/api/persons/{id}", params(("id" = String, Path, description = "National ID")), responses((status = 200, body = Object), (status = 404, body = ErrorBody)), tag = "persons")]
async fn person(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(READERS)?;
    Ok(Json(store!(state, person(scope, &person_id(&id)?))?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierChangeIn {
    #[schema(value_type = String, example = "2026-05-10")]
    pub requested_on: Date,
    #[schema(value_type = u8)]
    pub tier: Tier,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierChangeOut {
    #[schema(value_type = Object)]
    pub person: yibao_store::PersonRecord,
    /// The first day the new tier's benefits apply (R-ENR-4).
    pub benefits_from: String,
}

/// Change tier: down takes effect the next month, up after the waiting period (R-ENR-4).
#[utoipa::path(post, path = "/api/persons/{id}/tier-changes", request_body = TierChangeIn, params(("id" = String, Path)), responses((status = 200, body = TierChangeOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "persons")]
async fn change_tier(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Body(input): Body<TierChangeIn>,
) -> Result<Json<TierChangeOut>, ApiError> {
    let (_, _, scope) = caller.staff(ENROLMENT)?;
    let id = person_id(&id)?;
    let current = store!(state, person(scope, &id))?;
    if !state.policy.tiers_for(current.coverage.scheme).contains(&input.tier) {
        return Err(ApiError::bad_request(
            "person.bad_tier",
            format!("tier {} is not a tier of {} insurance here", input.tier, current.coverage.scheme),
        ));
    }
    let change = TierChange { requested_on: input.requested_on, tier: input.tier };
    let history =
        current.coverage.tier_history.as_ref().ok_or_else(|| ApiError::bad_request("person.bad_tier", "this person has no tier"))?;
    // The tier in force on the request day decides up or down.
    let region = current.coverage.region;
    let policy_gap = |e: yibao_policy::LookupError| ApiError::bad_request("policy.no_value", e.to_string());
    let in_force =
        yibao_engine::tier_on(history, input.requested_on, |target, on| upgrade_waiting_months(&state.policy, region, target, on))
            .map_err(|e| match e {
                TierOrPolicyError::History(e) => ApiError::bad_request("person.bad_tier", e.to_string()),
                TierOrPolicyError::Policy(e) => policy_gap(e),
            })?
            .unwrap_or(history.initial);
    let waiting = upgrade_waiting_months(&state.policy, region, input.tier, input.requested_on).map_err(policy_gap)?;
    let benefits_from = change_takes_effect(in_force, change, waiting);
    let person = store!(state, request_tier_change(&actor(&caller, &headers), scope, &id, change))?;
    Ok(Json(TierChangeOut { person, benefits_from: benefits_from.to_string() }))
}

/// A present field, `null` included: `Some(None)` for `null`, and (with `#[serde(default)]`)
/// `None` when the field is absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Changes to a person's details: an absent field is left as it is; `null` clears the card
/// number or the assistance group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonUpdateIn {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub card_no: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, example = "dibao")]
    pub assistance_group: Option<Option<AssistanceGroup>>,
    pub supplementary: Option<bool>,
    pub maternity: Option<bool>,
    pub certified_chronic_diseases: Option<Vec<String>>,
}

/// Update a person's details (name, card number, assistance group, supplementary and
/// maternity insurance, certified chronic diseases). The change is audited (`person.update`,
/// old and new values); an update that changes nothing is refused.
#[utoipa::path(patch, path = "/api/persons/{id}", request_body = PersonUpdateIn, params(("id" = String, Path, description = "National ID")), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "persons")]
async fn update_person(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Body(input): Body<PersonUpdateIn>,
) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(ENROLMENT)?;
    let update = PersonUpdate {
        name: input.name,
        card_no: input.card_no,
        assistance_group: input.assistance_group,
        supplementary: input.supplementary,
        maternity: input.maternity,
        certified_chronic_diseases: input.certified_chronic_diseases,
    };
    Ok(Json(store!(state, update_person(&actor(&caller, &headers), scope, &person_id(&id)?, update))?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndCoverageIn {
    #[schema(value_type = String, example = "2026-12-31")]
    pub until: Date,
}

/// End coverage on a day (the last covered day).
#[utoipa::path(post, path = "/api/persons/{id}/end-coverage", request_body = EndCoverageIn, params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody)), tag = "persons")]
async fn end_coverage(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Body(input): Body<EndCoverageIn>,
) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(ENROLMENT)?;
    Ok(Json(store!(state, end_coverage(&actor(&caller, &headers), scope, &person_id(&id)?, input.until))?).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct YearParam {
    pub year: i32,
}

/// Year-to-date accumulators (national transaction 5206).
#[utoipa::path(get, path = "/api/persons/{id}/accumulators", params(("id" = String, Path), YearParam), responses((status = 200, body = Object), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn accumulators(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<YearParam>,
) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(READERS)?;
    Ok(Json(store!(state, accumulators(scope, &person_id(&id)?, q.year))?).into_response())
}

/// A person's claims, newest first, each with its settlement and explanation.
#[utoipa::path(get, path = "/api/persons/{id}/claims", params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn person_claims(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(CLAIMS_READERS)?;
    Ok(Json(store!(state, claims_of_person(scope, &person_id(&id)?))?).into_response())
}

// ---- contributions ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContributionIn {
    /// resident (yearly), employee (monthly) or supplementary (yearly).
    pub kind: String,
    /// `2026` or `2026-05`.
    pub period: String,
    /// What was paid, in yuan.
    #[serde(with = "serde_yuan")]
    #[schema(value_type = String, example = "400.00")]
    pub paid: Fen,
    /// Employee contributions: the month's wage, in yuan.
    #[serde(default, with = "optional_yuan")]
    #[schema(value_type = Option<String>)]
    pub wage_monthly: Option<Fen>,
}

mod optional_yuan {
    use serde::{Deserialize, Deserializer};
    use yibao_domain::Fen;
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Fen>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "yibao_domain::serde_yuan")] Fen);
        Ok(Option::<Wrapper>::deserialize(deserializer)?.map(|w| w.0))
    }
}

/// Record a contribution; what is due is computed from the policy in force (R-FIN-1..3).
#[utoipa::path(post, path = "/api/persons/{id}/contributions", request_body = ContributionIn, params(("id" = String, Path)), responses((status = 201, body = Object), (status = 400, body = ErrorBody)), tag = "contributions")]
async fn record_contribution(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Body(input): Body<ContributionIn>,
) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(CONTRIBUTIONS)?;
    let id = person_id(&id)?;
    let person = store!(state, person(scope, &id))?;
    let kind = ContributionKind::parse(&input.kind)
        .ok_or_else(|| ApiError::bad_request("contribution.bad_kind", "kind is resident, employee or supplementary"))?;
    let (year, month) = match input.period.split_once('-') {
        Some((y, m)) => (y.parse::<i32>().ok(), m.parse::<u8>().ok()),
        None => (input.period.parse::<i32>().ok(), None),
    };
    let year = year
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| ApiError::bad_request("contribution.bad_period", "period is YYYY or YYYY-MM"))?;
    let on = time::Month::try_from(month.unwrap_or(1))
        .ok()
        .and_then(|m| Date::from_calendar_date(year, m, 1).ok())
        .ok_or_else(|| ApiError::bad_request("contribution.bad_period", "period is YYYY or YYYY-MM"))?;
    let policy = &state.policy;
    let tier = person.coverage.tier_history.as_ref().map(|h| h.initial);
    let policy_error = |e: yibao_policy::LookupError| ApiError::bad_request("policy.no_value", e.to_string());
    let (due, breakdown) = match kind {
        ContributionKind::Resident => {
            let c = yibao_engine::resident_contribution(policy, person.coverage.region, tier, person.coverage.assistance_group, on)
                .map_err(policy_error)?;
            (c.personal, serde_json::to_string(&c))
        }
        ContributionKind::Employee => {
            let wage = input
                .wage_monthly
                .ok_or_else(|| ApiError::bad_request("contribution.no_wage", "an employee contribution needs wage_monthly"))?;
            let c = yibao_engine::employee_contribution(policy, person.coverage.region, tier, person.coverage.category, wage, on)
                .map_err(policy_error)?;
            (c.employer + c.employee, serde_json::to_string(&c))
        }
        ContributionKind::Supplementary => {
            let c = yibao_engine::supplementary_contribution(policy, person.coverage.region, on).map_err(policy_error)?;
            (c.personal, serde_json::to_string(&c))
        }
    };
    let breakdown = breakdown.map_err(|e| ApiError::bad_request("contribution.failure", e.to_string()))?;
    if input.paid.is_negative() {
        return Err(ApiError::bad_request("contribution.negative", "paid may not be negative"));
    }
    let record = store!(
        state,
        record_contribution(
            &actor(&caller, &headers),
            scope,
            NewContribution {
                person_id: id,
                kind,
                period: input.period,
                due_fen: due.get(),
                paid_fen: input.paid.get(),
                breakdown_json: breakdown
            }
        )
    )?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// A person's contributions.
#[utoipa::path(get, path = "/api/persons/{id}/contributions", params(("id" = String, Path)), responses((status = 200, body = Object)), tag = "contributions")]
async fn contributions_of(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(READERS)?;
    Ok(Json(store!(state, contributions_of(scope, &person_id(&id)?))?).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PeriodParam {
    /// `2026` or `2026-05`.
    pub period: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArrearsOut {
    #[schema(value_type = Object)]
    pub persons: Vec<yibao_store::PersonArrears>,
    #[schema(value_type = Object)]
    pub counties: Vec<yibao_store::CountyArrears>,
}

/// Arrears (欠费) per person and per county in your region.
#[utoipa::path(get, path = "/api/arrears", params(PeriodParam), responses((status = 200, body = ArrearsOut)), tag = "contributions")]
async fn arrears(State(state): State<AppState>, caller: Caller, Params(q): Params<PeriodParam>) -> Result<Json<ArrearsOut>, ApiError> {
    let (_, _, scope) = caller.staff(&[Role::FundAccountant, Role::Auditor, Role::CityAdministrator, Role::EnrolmentClerk])?;
    let (persons, counties) = store!(state, arrears(scope, &q.period))?;
    Ok(Json(ArrearsOut { persons, counties }))
}

// ---- settlement ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleIn {
    #[schema(value_type = String)]
    pub person_id: NationalId,
    /// The claim: lines with national catalogue codes (see examples/claims).
    #[schema(value_type = Object)]
    pub claim: Claim,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettleOut {
    /// True when this is a retry of an earlier identical request: the first settlement.
    pub replayed: bool,
    pub institution_code: String,
    pub claim_id: String,
    pub status: String,
    /// The one-bill settlement with national field names and its explanation, passed
    /// through as stored (checked to be JSON, not rebuilt).
    #[schema(value_type = Object)]
    pub settlement: Box<serde_json::value::RawValue>,
}

fn year_of(state: &AppState, claim: &Claim) -> i32 {
    match state.policy.service_date {
        ServiceDateRule::Admission => claim.admission_date.year(),
        ServiceDateRule::Discharge => claim.discharge_date.year(),
    }
}

fn own_claim(caller: &Caller, claim: &Claim) -> Result<(), ApiError> {
    let code = caller.institution()?;
    if claim.institution_code != code {
        return Err(ApiError::forbidden(format!("an institution settles only its own claims: this key belongs to {code}")));
    }
    Ok(())
}

/// Pre-settlement (预结算): the same computation, nothing written.
#[utoipa::path(post, path = "/api/pre-settlements", request_body = SettleIn, responses((status = 200, body = Object), (status = 422, body = ErrorBody)), tag = "settlements")]
async fn pre_settle(State(state): State<AppState>, caller: Caller, Body(input): Body<SettleIn>) -> Result<Response, ApiError> {
    own_claim(&caller, &input.claim)?;
    let scope = state.policy.region;
    let person = store!(state, person(scope, &input.person_id))?;
    let acc = store!(state, accumulators(scope, &input.person_id, year_of(&state, &input.claim)))?;
    let settlement = settle(&state.policy, &input.claim, &person.coverage, &acc, Explain::On)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))?;
    Ok(Json(settlement).into_response())
}

/// Settle a claim at discharge: every layer in one transaction. Idempotent on the
/// institution's claim id: a retry returns the first settlement and never pays twice.
#[utoipa::path(post, path = "/api/settlements", request_body = SettleIn, responses((status = 201, body = SettleOut), (status = 200, body = SettleOut, description = "a replay"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
async fn settle_claim(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<SettleIn>,
) -> Result<Response, ApiError> {
    own_claim(&caller, &input.claim)?;
    input.claim.check().map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let claim_json = serde_json::to_string(&input.claim).map_err(|e| ApiError::bad_request("request.malformed", e.to_string()))?;
    let request = SettleRequest {
        institution_code: input.claim.institution_code.clone(),
        claim_id: input.claim.claim_id.clone(),
        person_id: input.person_id,
        year: year_of(&state, &input.claim),
        claim_json,
    };
    let compute = yibao_store::engine_settlement(std::sync::Arc::clone(&state.policy), input.claim, Explain::On);
    let outcome = store!(state, settle(&actor(&caller, &headers), state.policy.region, request, compute.clone()))?;
    let status = if outcome.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(settle_out(outcome.claim, outcome.replayed)?)).into_response())
}

fn settle_out(record: yibao_store::ClaimRecord, replayed: bool) -> Result<SettleOut, ApiError> {
    Ok(SettleOut {
        replayed,
        institution_code: record.institution_code,
        claim_id: record.claim_id,
        status: record.status.as_str().to_owned(),
        settlement: serde_json::value::RawValue::from_string(record.settlement_json).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store.failure", format!("a stored settlement is unreadable: {e}"))
        })?,
    })
}

/// One settled claim: its institution, claims officers and auditors of its region.
#[utoipa::path(get, path = "/api/settlements/{institution}/{claim_id}", params(("institution" = String, Path), ("claim_id" = String, Path)), responses((status = 200, body = SettleOut), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn get_settlement(
    State(state): State<AppState>,
    caller: Caller,
    Path((institution, claim_id)): Path<(String, String)>,
) -> Result<Json<SettleOut>, ApiError> {
    let scope = match &caller {
        Caller::Institution { code, .. } if *code == institution => state.policy.region,
        Caller::Institution { .. } => return Err(ApiError::forbidden("an institution queries only its own claims")),
        Caller::Staff { .. } => caller.staff(CLAIMS_READERS)?.2,
    };
    let record = store!(state, claim(scope, &institution, &claim_id))?;
    Ok(Json(settle_out(record, false)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversalIn {
    pub reason: String,
}

/// Reverse a settlement (冲正) and restore the accumulators.
#[utoipa::path(post, path = "/api/settlements/{institution}/{claim_id}/reversal", request_body = ReversalIn, params(("institution" = String, Path), ("claim_id" = String, Path)), responses((status = 200, body = SettleOut), (status = 409, body = ErrorBody)), tag = "settlements")]
async fn reverse(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path((institution, claim_id)): Path<(String, String)>,
    Body(input): Body<ReversalIn>,
) -> Result<Json<SettleOut>, ApiError> {
    let scope = match &caller {
        Caller::Institution { code, .. } if *code == institution => state.policy.region,
        Caller::Institution { .. } => return Err(ApiError::forbidden("an institution reverses only its own claims")),
        Caller::Staff { .. } => caller.staff(REVERSERS)?.2,
    };
    let record = store!(state, reverse(&actor(&caller, &headers), scope, &institution, &claim_id, &input.reason))?;
    Ok(Json(settle_out(record, false)?))
}

// ---- audit ----

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    pub region: String,
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

/// The audit trail of a region (auditors and the city administrator).
#[utoipa::path(get, path = "/api/audit", params(AuditParams), responses((status = 200, body = Object), (status = 403, body = ErrorBody)), tag = "audit")]
async fn audit_trail(State(state): State<AppState>, caller: Caller, Params(q): Params<AuditParams>) -> Result<Response, ApiError> {
    let (_, _, scope) = caller.staff(AUDITORS)?;
    let region = RegionCode::parse(&q.region).map_err(|e| ApiError::bad_request("request.bad_region", e.to_string()))?;
    yibao_store::check_scope(scope, region)?;
    Ok(Json(store!(state, audit_entries(region, q.after, q.limit.unwrap_or(100).clamp(1, 1000)))?).into_response())
}

/// Recompute every hash of every chain.
#[utoipa::path(get, path = "/api/audit/verify", responses((status = 200, body = Object), (status = 403, body = ErrorBody)), tag = "audit")]
async fn audit_verify(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.staff(AUDITORS)?;
    let verification = match &*state.store {
        crate::Backend::Sqlite(s) => yibao_store::verify_audit(s).await?,
        crate::Backend::Postgres(s) => yibao_store::verify_audit(s).await?,
    };
    Ok(Json(verification).into_response())
}

/// Liveness.
#[utoipa::path(get, path = "/api/health", responses((status = 200, body = Object)), tag = "session")]
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "policy": state.policy.id, "region": state.policy.region.to_string() }))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Yibao API", description = "A city's public basic medical and maternity insurance: enrolment, contributions, one-bill settlement."),
    paths(sign_in, sign_out, me, crate::admin::change_own_password, crate::admin::list_staff, crate::admin::create_staff, crate::admin::update_staff, crate::admin::list_institutions, crate::admin::create_institution, crate::admin::update_institution, crate::admin::rotate_api_key, create_household, enrol, search, person, update_person, change_tier, end_coverage, accumulators, person_claims, record_contribution, contributions_of, arrears, pre_settle, settle_claim, get_settlement, reverse, audit_trail, audit_verify, crate::funds::run_pooling, crate::funds::pooling_runs, crate::funds::preview_pooling, crate::funds::record_receipt, crate::funds::accounts, crate::funds::movements, crate::funds::check, crate::funds::close_year, crate::funds::year_closes, crate::funds::credit_interest, crate::funds::set_budget, crate::funds::budget_execution, crate::funds::prepare_handover, crate::funds::confirm_handover, crate::funds::handovers, crate::funds::establish_legacy_deficit, crate::funds::record_legacy_repayment, crate::funds::legacy_deficits, crate::funds::set_targets, crate::funds::targets, crate::reforms::simulate_reform, health),
    components(schemas(ErrorBody, crate::admin::StaffIn, crate::admin::StaffUpdateIn, crate::admin::PasswordChangeIn, crate::admin::InstitutionIn, crate::admin::InstitutionUpdateIn, crate::admin::InstitutionKeyOut, SignIn, SessionOut, Me, HouseholdIn, EnrolIn, PersonUpdateIn, TierChangeIn, TierChangeOut, EndCoverageIn, ContributionIn, ArrearsOut, SettleIn, SettleOut, ReversalIn, crate::funds::PoolingRunIn, crate::funds::ReceiptIn, crate::funds::AccountOut, crate::funds::CheckOut, crate::funds::YearCloseIn, crate::funds::InterestIn, crate::funds::BudgetIn, crate::funds::HandoverIn, crate::funds::ConfirmationIn, crate::funds::RepaymentIn, crate::funds::TargetsIn, crate::reforms::SimulationIn)),
    tags((name = "session"), (name = "administration"), (name = "persons"), (name = "contributions"), (name = "settlements"), (name = "funds"), (name = "audit"))
)]
#[derive(Debug)]
pub struct ApiDoc;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route.not_found", "no such API route; see /api/openapi.json")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/session", post(sign_in).delete(sign_out))
        .route("/api/me", get(me))
        .route("/api/me/password", post(crate::admin::change_own_password))
        .route("/api/staff", get(crate::admin::list_staff).post(crate::admin::create_staff))
        .route("/api/staff/{username}", axum::routing::patch(crate::admin::update_staff))
        .route("/api/institutions", get(crate::admin::list_institutions).post(crate::admin::create_institution))
        .route("/api/institutions/{code}", axum::routing::patch(crate::admin::update_institution))
        .route("/api/institutions/{code}/api-key", post(crate::admin::rotate_api_key))
        .route("/api/households", post(create_household))
        .route("/api/persons", post(enrol).get(search))
        .route("/api/persons/{id}", get(person).patch(update_person))
        .route("/api/persons/{id}/tier-changes", post(change_tier))
        .route("/api/persons/{id}/end-coverage", post(end_coverage))
        .route("/api/persons/{id}/accumulators", get(accumulators))
        .route("/api/persons/{id}/claims", get(person_claims))
        .route("/api/persons/{id}/contributions", post(record_contribution).get(contributions_of))
        .route("/api/arrears", get(arrears))
        .route("/api/pre-settlements", post(pre_settle))
        .route("/api/settlements", post(settle_claim))
        .route("/api/settlements/{institution}/{claim_id}", get(get_settlement))
        .route("/api/settlements/{institution}/{claim_id}/reversal", post(reverse))
        .route("/api/funds/pooling-runs", post(crate::funds::run_pooling).get(crate::funds::pooling_runs))
        .route("/api/funds/pooling-runs/preview", get(crate::funds::preview_pooling))
        .route("/api/funds/receipts", post(crate::funds::record_receipt))
        .route("/api/funds/accounts", get(crate::funds::accounts))
        .route("/api/funds/movements", get(crate::funds::movements))
        .route("/api/funds/check", get(crate::funds::check))
        .route("/api/funds/interest", post(crate::funds::credit_interest))
        .route("/api/funds/legacy-deficits", post(crate::funds::establish_legacy_deficit).get(crate::funds::legacy_deficits))
        .route("/api/funds/legacy-deficits/{scheme}/{county}/repayments", post(crate::funds::record_legacy_repayment))
        .route("/api/funds/handovers", post(crate::funds::prepare_handover).get(crate::funds::handovers))
        .route("/api/funds/handovers/{reference}/confirmation", post(crate::funds::confirm_handover))
        .route("/api/funds/targets", axum::routing::put(crate::funds::set_targets).get(crate::funds::targets))
        .route("/api/funds/budgets", axum::routing::put(crate::funds::set_budget).get(crate::funds::budget_execution))
        .route("/api/funds/year-closes", post(crate::funds::close_year).get(crate::funds::year_closes))
        .route("/api/reforms/simulations", post(crate::reforms::simulate_reform))
        .route("/api/audit", get(audit_trail))
        .route("/api/audit/verify", get(audit_verify))
        .route("/api/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/openapi-ui.json", ApiDoc::openapi()))
        .fallback(not_found)
}
