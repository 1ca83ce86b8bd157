//! The routes. Each handler checks who may call it, parses its input into domain types
//! (refusing bad input with a 4xx and a stable code), and calls the store once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{OpenApi, ToSchema};
use yibao_app::{Claim, TierChange};
use yibao_app::{ContributionInput, ContributionKind, EnrolInput, NewHousehold, NewReferral, Settled};
use yibao_app::{PersonQuery, PersonUpdate};
use yibao_domain::{
    AssistanceGroup, Fen, HouseholdId, InstitutionCode, NationalId, PersonCategory, PersonName, RegionCode, Scheme, Tier, serde_yuan,
};

use crate::auth::{Caller, bearer};
use crate::contract::Contract;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{ArrearsOut, ClaimOut, ContributionOut, PersonPageOut};
use yibao_app::App;

pub use crate::contract::{Body, Params, Segments};

/// Where a request came from, for the audit log ([`yibao_app::audit_source`]).
pub(crate) fn source(headers: &axum::http::HeaderMap) -> String {
    yibao_app::audit_source("api", headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
}

/// An institution code from the wire, or 400.
pub(crate) fn institution(field: &str, text: &str) -> Result<InstitutionCode, ApiError> {
    InstitutionCode::parse(crate::contract::shaped(field, crate::contract::INSTITUTION, text)?).map_err(ApiError::from)
}

/// An institution's claim id in a path: one that no claim can have (empty, over 64 bytes, a
/// control character) names no claim, `claim.not_found`, before any store is asked (a NUL
/// never reaches one).
pub(crate) fn claim_id(institution: &str, text: &str) -> Result<String, ApiError> {
    if yibao_app::is_claim_id(text) {
        Ok(text.to_owned())
    } else {
        Err(ApiError::from(yibao_app::AppError::not_found(
            "claim.not_found",
            format!("no claim with that id from institution {institution}: a claim id is 1 to 64 bytes, no control character"),
        )))
    }
}

/// The national ID of a path: its shape or 400, its check digit or 422.
fn person_id(text: &str) -> Result<NationalId, ApiError> {
    crate::contract::national_id("id", text)
}

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

/// Sign in: a session token for `Authorization: Bearer`. Repeated failures hold the
/// account, or the client address, back for a while (429 `auth.throttled`, or `auth.locked`
/// after ten: refused even with the right password), with `Retry-After` in seconds.
#[utoipa::path(
    post,
    path = "/api/session",
    request_body = SignIn,
    responses(
        (status = 200, body = SessionOut),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "seconds until another attempt is admitted")))
    ),
    tag = "session"
)]
async fn sign_in(
    State(state): State<App>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: axum::http::HeaderMap,
    Body(input): Body<SignIn>,
) -> Result<Json<SessionOut>, ApiError> {
    // The TCP peer (when the server records it) is the address failures are counted for:
    // unlike `X-Forwarded-For`, the caller cannot choose it.
    let address = peer.map(|axum::Extension(axum::extract::ConnectInfo(peer))| peer.ip());
    let session = state.sign_in_from(&input.username, &input.password, &source(&headers), address).await?;
    Ok(Json(SessionOut {
        token: session.token,
        username: session.staff.username,
        role: session.staff.role.to_string(),
        region: session.staff.region.to_string(),
        expires_at: session.expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    }))
}

/// Sign out: the token stops working at once.
#[utoipa::path(delete, path = "/api/session", responses((status = 204), (status = 401, body = ErrorBody)), tag = "session")]
async fn sign_out(State(state): State<App>, caller: Caller, headers: axum::http::HeaderMap) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers).ok_or_else(|| ApiError::unauthorized("no session to end"))?;
    state.sign_out(&caller, &source(&headers), token).await?;
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
    Json(Me { name: caller.name().to_owned(), role: caller.role_name().to_owned(), region: caller.region().to_string() })
}

// ---- households and persons ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdIn {
    pub household_id: String,
    #[schema(schema_with = crate::contract::region)]
    pub region: RegionCode,
    pub address: String,
}

/// Create a household (以户为单位, R-ENR-1).
#[utoipa::path(post, path = "/api/households", request_body = HouseholdIn, responses((status = 201, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "persons")]
async fn create_household(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<HouseholdIn>,
) -> Result<Response, ApiError> {
    let household = NewHousehold { household_id: HouseholdId::parse(&input.household_id)?, region: input.region, address: input.address };
    let record = state.create_household(&caller, &source(&headers), household).await?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolIn {
    #[schema(schema_with = crate::contract::national_id_schema)]
    pub person_id: String,
    pub name: String,
    pub card_no: Option<String>,
    pub household_id: String,
    #[schema(schema_with = crate::contract::region)]
    pub region: RegionCode,
    #[schema(value_type = String, pattern = "^(employee|resident|maternity|critical-illness|supplementary|medical-assistance)$", example = "resident")]
    pub scheme: Scheme,
    #[schema(value_type = String, pattern = "^(employed|retired|resident)$", example = "resident")]
    pub category: PersonCategory,
    /// Required when the city has tiers (R-ENR-3).
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 4)]
    pub tier: Option<Tier>,
    #[schema(value_type = String, format = Date, example = "2026-01-01")]
    pub coverage_from: Date,
    #[schema(value_type = Option<String>, pattern = "^(destitute|dibao|low-income|impoverished-by-illness|registered-poor)$")]
    pub assistance_group: Option<AssistanceGroup>,
    #[serde(default)]
    pub supplementary: bool,
    #[serde(default)]
    pub maternity: bool,
    /// An employee under the civil servants' medical subsidy (公务员医疗补助, 320).
    #[serde(default)]
    pub civil_servant: bool,
    /// An employee whose employer has supplementary insurance (企业补充医疗保险, 370).
    #[serde(default)]
    pub enterprise_supplementary: bool,
    #[serde(default)]
    pub certified_chronic_diseases: Vec<String>,
}

/// Enrol a person. A second enrolment in basic medical insurance is refused, naming the
/// existing record (R-ENR-2).
#[utoipa::path(post, path = "/api/persons", request_body = EnrolIn, responses((status = 201, body = Object), (status = 409, body = ErrorBody), (status = 400, body = ErrorBody)), tag = "persons")]
async fn enrol(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<EnrolIn>,
) -> Result<Response, ApiError> {
    let input = EnrolInput {
        person_id: crate::contract::national_id("person_id", &input.person_id)?,
        name: PersonName::parse(&input.name)?,
        card_no: input.card_no,
        household_id: HouseholdId::parse(&input.household_id)?,
        region: input.region,
        scheme: input.scheme,
        category: input.category,
        tier: input.tier,
        coverage_from: input.coverage_from,
        assistance_group: input.assistance_group,
        supplementary: input.supplementary,
        maternity: input.maternity,
        civil_servant: input.civil_servant,
        enterprise_supplementary: input.enterprise_supplementary,
        certified_chronic_diseases: input.certified_chronic_diseases,
    };
    let record = state.enrol(&caller, &source(&headers), input).await?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeathIn {
    #[schema(value_type = String, format = Date, example = "2026-11-30")]
    pub died_on: Date,
}

/// Record a person's death (R-ENR-5): their coverage ends that day and is never changed,
/// ended or enrolled again.
#[utoipa::path(post, path = "/api/persons/{id}/death", request_body = DeathIn, params(("id" = String, Path)), responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "persons")]
async fn record_death(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<DeathIn>,
) -> Result<Response, ApiError> {
    Ok(Json(state.record_death(&caller, &source(&headers), &person_id(&id)?, input.died_on).await?).into_response())
}

/// A change of coverage (R-ENR-5): from `on`, insured in `region` under `scheme` as
/// `category`, in household `household_id` of that county.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoverageChangeIn {
    #[schema(value_type = String, format = Date, example = "2026-07-01")]
    pub on: Date,
    #[schema(schema_with = crate::contract::region)]
    pub region: RegionCode,
    pub household_id: String,
    #[schema(value_type = String, pattern = "^(employee|resident)$", example = "resident")]
    pub scheme: Scheme,
    #[schema(value_type = String, pattern = "^(employed|retired|resident)$", example = "resident")]
    pub category: PersonCategory,
    /// Required when the city has tiers for the scheme (R-ENR-3).
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 4)]
    pub tier: Option<Tier>,
}

/// Change a person's coverage from a day (R-ENR-5): move between the employee and resident
/// schemes, to another county (the city bureau's), to a new category or household, or enrol
/// again after coverage ended. The spell in force ends the day before; claims are settled
/// under the coverage in force on their date of service.
#[utoipa::path(post, path = "/api/persons/{id}/coverage-changes", request_body = CoverageChangeIn, params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "persons")]
async fn change_coverage(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<CoverageChangeIn>,
) -> Result<Response, ApiError> {
    let input = yibao_app::CoverageChangeInput {
        on: input.on,
        region: input.region,
        household_id: yibao_domain::HouseholdId::parse(&input.household_id).map_err(yibao_app::AppError::from)?,
        scheme: input.scheme,
        category: input.category,
        tier: input.tier,
    };
    Ok(Json(state.change_coverage(&caller, &source(&headers), &person_id(&id)?, input).await?).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PersonSearch {
    /// National ID.
    pub id: Option<String>,
    /// Name or its beginning.
    pub name: Option<String>,
    /// Social-security card number.
    pub card: Option<String>,
    pub household: Option<String>,
    /// How many matches to skip (default 0, at most 10,000).
    pub offset: Option<u32>,
    /// How many matches to return (default and at most 200).
    pub limit: Option<u32>,
}

/// Search persons in your region by ID, name, card number or household.
#[utoipa::path(get, path = "/api/persons", params(PersonSearch), responses((status = 200, body = PersonPageOut, description = "a page of at most 200 persons and how many match in all"), (status = 400, body = ErrorBody)), tag = "persons")]
async fn search(State(state): State<App>, caller: Caller, Params(q): Params<PersonSearch>) -> Result<Response, ApiError> {
    let person_id = q.id.as_deref().map(person_id).transpose()?;
    let query = PersonQuery {
        person_id,
        name_prefix: q.name,
        card_no: q.card,
        household_id: q.household,
        offset: q.offset.unwrap_or(0),
        limit: q.limit,
    };
    let page = state.search_persons(&caller, &query).await?;
    Ok(Json(PersonPageOut { total: page.total, offset: page.offset, persons: page.persons }).into_response())
}

/// One person, with coverage and tier history.
#[utoipa::path(get, path = "/api/persons/{id}", params(("id" = String, Path, description = "National ID")), responses((status = 200, body = Object), (status = 404, body = ErrorBody)), tag = "persons")]
async fn person(State(state): State<App>, caller: Caller, Segments(id): Segments<String>) -> Result<Response, ApiError> {
    Ok(Json(state.person(&caller, &person_id(&id)?).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierChangeIn {
    #[schema(value_type = String, format = Date, example = "2026-05-10")]
    pub requested_on: Date,
    #[schema(value_type = u8, minimum = 1, maximum = 4)]
    pub tier: Tier,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierChangeOut {
    #[schema(value_type = Object)]
    pub person: yibao_app::PersonRecord,
    /// The first day the new tier's benefits apply (R-ENR-4).
    pub benefits_from: String,
}

/// Change tier: down takes effect the next month, up after the waiting period (R-ENR-4).
#[utoipa::path(post, path = "/api/persons/{id}/tier-changes", request_body = TierChangeIn, params(("id" = String, Path)), responses((status = 200, body = TierChangeOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "persons")]
async fn change_tier(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<TierChangeIn>,
) -> Result<Json<TierChangeOut>, ApiError> {
    let change = TierChange { requested_on: input.requested_on, tier: input.tier };
    let changed = state.change_tier(&caller, &source(&headers), &person_id(&id)?, change).await?;
    Ok(Json(TierChangeOut { person: changed.person, benefits_from: changed.benefits_from.to_string() }))
}

/// Cancel the person's latest tier change, named by the day it was requested, before it
/// takes effect (R-ENR-4); `409 person.tier_change_in_effect` once it has.
#[utoipa::path(delete, path = "/api/persons/{id}/tier-changes/{requested_on}", params(("id" = String, Path), ("requested_on" = String, Path, description = "YYYY-MM-DD")), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "persons")]
async fn cancel_tier_change(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((id, requested_on)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let requested_on = crate::contract::date("requested_on", &requested_on)?;
    Ok(Json(state.cancel_tier_change(&caller, &source(&headers), &person_id(&id)?, requested_on).await?).into_response())
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
    #[schema(value_type = Option<String>, nullable, pattern = "^(destitute|dibao|low-income|impoverished-by-illness|registered-poor)$", example = "dibao")]
    pub assistance_group: Option<Option<AssistanceGroup>>,
    pub supplementary: Option<bool>,
    pub maternity: Option<bool>,
    pub civil_servant: Option<bool>,
    pub enterprise_supplementary: Option<bool>,
    pub certified_chronic_diseases: Option<Vec<String>>,
}

/// Update a person's details (name, card number, assistance group, supplementary and
/// maternity insurance, an employee's civil servants' subsidy and employer's supplementary
/// insurance, diseases on file). The change is audited (`person.update`,
/// old and new values); an update that changes nothing is refused.
#[utoipa::path(patch, path = "/api/persons/{id}", request_body = PersonUpdateIn, params(("id" = String, Path, description = "National ID")), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "persons")]
async fn update_person(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<PersonUpdateIn>,
) -> Result<Response, ApiError> {
    let update = PersonUpdate {
        name: input.name.as_deref().map(PersonName::parse).transpose()?,
        card_no: input.card_no,
        assistance_group: input.assistance_group,
        supplementary: input.supplementary,
        maternity: input.maternity,
        civil_servant: input.civil_servant,
        enterprise_supplementary: input.enterprise_supplementary,
        certified_chronic_diseases: input.certified_chronic_diseases,
    };
    Ok(Json(state.update_person(&caller, &source(&headers), &person_id(&id)?, update).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndCoverageIn {
    #[schema(value_type = String, format = Date, example = "2026-12-31")]
    pub until: Date,
}

/// End coverage on a day (the last covered day).
#[utoipa::path(post, path = "/api/persons/{id}/end-coverage", request_body = EndCoverageIn, params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "persons")]
async fn end_coverage(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<EndCoverageIn>,
) -> Result<Response, ApiError> {
    Ok(Json(state.end_coverage(&caller, &source(&headers), &person_id(&id)?, input.until).await?).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearParam {
    pub year: i32,
}

/// Year-to-date accumulators (national transaction 5206).
#[utoipa::path(get, path = "/api/persons/{id}/accumulators", params(("id" = String, Path), YearParam), responses((status = 200, body = Object), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn accumulators(
    State(state): State<App>,
    caller: Caller,
    Segments(id): Segments<String>,
    Params(q): Params<YearParam>,
) -> Result<Response, ApiError> {
    Ok(Json(state.accumulators(&caller, &person_id(&id)?, q.year).await?).into_response())
}

/// A person's claims, newest first, each with its settlement and explanation.
#[utoipa::path(get, path = "/api/persons/{id}/claims", params(("id" = String, Path)), responses((status = 200, body = [ClaimOut]), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn person_claims(State(state): State<App>, caller: Caller, Segments(id): Segments<String>) -> Result<Response, ApiError> {
    let claims: Vec<ClaimOut> = state.claims_of_person(&caller, &person_id(&id)?).await?.into_iter().map(ClaimOut::new).collect();
    Ok(Json(claims).into_response())
}

// ---- contributions ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContributionIn {
    /// resident (yearly), employee (monthly), supplementary (yearly) or maternity (monthly, the employer's).
    #[schema(pattern = "^(resident|employee|supplementary|maternity)$")]
    pub kind: String,
    /// `2026` or `2026-05`.
    #[schema(schema_with = crate::contract::period)]
    pub period: String,
    /// What was paid, in yuan.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    pub paid: Fen,
    /// Employee and maternity contributions: the month's wage, in yuan.
    #[serde(default, with = "optional_yuan")]
    #[schema(schema_with = crate::contract::yuan_in_opt)]
    pub wage_monthly: Option<Fen>,
    /// The receipt's number (收据号): given, the payment is recorded once however many
    /// times it is sent; the same receipt for another payment is refused
    /// (`contribution.receipt_reused`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub receipt: Option<String>,
}

pub(crate) mod optional_yuan {
    use serde::{Deserialize, Deserializer};
    use yibao_domain::Fen;
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Fen>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "yibao_domain::serde_yuan")] Fen);
        Ok(Option::<Wrapper>::deserialize(deserializer)?.map(|w| w.0))
    }
}

/// Record a contribution; what is due is computed from the policy in force (R-FIN-1..3).
#[utoipa::path(post, path = "/api/persons/{id}/contributions", request_body = ContributionIn, params(("id" = String, Path)), responses((status = 201, body = ContributionOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
async fn record_contribution(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<ContributionIn>,
) -> Result<Response, ApiError> {
    let kind =
        ContributionKind::parse(&input.kind).ok_or_else(|| crate::contract::malformed("kind: resident, employee or supplementary"))?;
    crate::contract::shaped("period", crate::contract::PERIOD, &input.period)?;
    let input =
        ContributionInput { kind, period: input.period, paid: input.paid, wage_monthly: input.wage_monthly, receipt: input.receipt };
    let record = state.record_contribution(&caller, &source(&headers), &person_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(ContributionOut::new(record))).into_response())
}

/// A person's contributions.
#[utoipa::path(get, path = "/api/persons/{id}/contributions", params(("id" = String, Path)), responses((status = 200, body = [ContributionOut]), (status = 404, body = ErrorBody)), tag = "contributions")]
async fn contributions_of(State(state): State<App>, caller: Caller, Segments(id): Segments<String>) -> Result<Response, ApiError> {
    let contributions: Vec<ContributionOut> =
        state.contributions_of(&caller, &person_id(&id)?).await?.into_iter().map(ContributionOut::new).collect();
    Ok(Json(contributions).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodParam {
    /// `2026` or `2026-05`.
    pub period: String,
}

/// Arrears (欠费) per person and per county in your region.
#[utoipa::path(get, path = "/api/arrears", params(PeriodParam), responses((status = 200, body = ArrearsOut)), tag = "contributions")]
async fn arrears(State(state): State<App>, caller: Caller, Params(q): Params<PeriodParam>) -> Result<Json<ArrearsOut>, ApiError> {
    crate::contract::shaped("period", crate::contract::PERIOD, &q.period)?;
    let (persons, counties) = state.arrears(&caller, &q.period).await?;
    Ok(Json(ArrearsOut::new(persons, counties)))
}

// ---- settlement ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleIn {
    #[schema(schema_with = crate::contract::national_id_schema)]
    pub person_id: String,
    /// The person's social-security card number, presented at the visit.
    pub card_no: String,
    /// The claim: lines with national catalogue codes (see examples/claims). Its
    /// `institution_level` and `place` must be what the register holds for the institution;
    /// `referral` and `referred_deductible_paid` come from the referrals on file.
    #[schema(value_type = crate::wire::ClaimIn)]
    pub claim: Claim,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreSettleIn {
    #[schema(schema_with = crate::contract::national_id_schema)]
    pub person_id: String,
    /// The person's social-security card number, presented at the visit: an institution
    /// reads a person's entitlement only with it.
    pub card_no: String,
    #[schema(value_type = crate::wire::ClaimIn)]
    pub claim: Claim,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettleOut {
    /// True when this is a retry of an earlier identical request: the first settlement.
    pub replayed: bool,
    #[schema(schema_with = crate::contract::institution)]
    pub institution_code: String,
    pub claim_id: String,
    #[schema(pattern = "^(settled|reversed)$")]
    pub status: String,
    /// The one-bill settlement with national field names and its explanation. An
    /// institution receives it without the person's account balance and year-to-date
    /// counters.
    #[schema(value_type = Object)]
    pub settlement: serde_json::Value,
}

impl From<Settled> for SettleOut {
    fn from(settled: Settled) -> SettleOut {
        SettleOut {
            replayed: settled.replayed,
            institution_code: settled.record.institution_code.into_string(),
            claim_id: settled.record.claim_id,
            status: settled.record.status.as_str().to_owned(),
            settlement: settled.settlement,
        }
    }
}

/// Pre-settlement (预结算): the same computation, nothing written. The institution presents
/// the person's ID and card number; the answer omits balances and counters.
#[utoipa::path(post, path = "/api/pre-settlements", request_body = PreSettleIn, responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
async fn pre_settle(State(state): State<App>, caller: Caller, Body(input): Body<PreSettleIn>) -> Result<Response, ApiError> {
    let person_id = crate::contract::national_id("person_id", &input.person_id)?;
    Ok(Json(state.pre_settle(&caller, &person_id, &input.card_no, input.claim).await?).into_response())
}

/// Settle a claim at discharge: every layer in one transaction. Idempotent on the
/// institution's claim id: a retry returns the first settlement and never pays twice; the
/// same id with another claim or person is `409 claim.idempotency_conflict`.
#[utoipa::path(post, path = "/api/settlements", request_body = SettleIn, responses((status = 201, body = SettleOut), (status = 200, body = SettleOut, description = "a replay"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
async fn settle_claim(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<SettleIn>,
) -> Result<Response, ApiError> {
    let person_id = crate::contract::national_id("person_id", &input.person_id)?;
    let settled = state.settle(&caller, &source(&headers), &person_id, &input.card_no, input.claim).await?;
    let status = if settled.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(SettleOut::from(settled))).into_response())
}

/// One settled claim: its institution, claims officers and auditors of its region.
#[utoipa::path(get, path = "/api/settlements/{institution}/{claim_id}", params(("institution" = String, Path), ("claim_id" = String, Path)), responses((status = 200, body = SettleOut), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn get_settlement(
    State(state): State<App>,
    caller: Caller,
    Segments((institution, claim_id)): Segments<(String, String)>,
) -> Result<Json<SettleOut>, ApiError> {
    let institution = crate::routes::institution("institution", &institution)?;
    let claim_id = crate::routes::claim_id(&institution, &claim_id)?;
    Ok(Json(state.claim(&caller, &institution, &claim_id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversalIn {
    pub reason: String,
}

/// Reverse a settlement (冲正) and restore the accumulators.
#[utoipa::path(post, path = "/api/settlements/{institution}/{claim_id}/reversal", request_body = ReversalIn, params(("institution" = String, Path), ("claim_id" = String, Path)), responses((status = 200, body = SettleOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "settlements")]
async fn reverse(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((institution, claim_id)): Segments<(String, String)>,
    Body(input): Body<ReversalIn>,
) -> Result<Json<SettleOut>, ApiError> {
    let institution = crate::routes::institution("institution", &institution)?;
    let claim_id = crate::routes::claim_id(&institution, &claim_id)?;
    Ok(Json(state.reverse(&caller, &source(&headers), &institution, &claim_id, &input.reason).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralIn {
    /// The referring institution.
    #[schema(schema_with = crate::contract::institution)]
    pub from_institution: String,
    /// The institution the person is referred to.
    #[schema(schema_with = crate::contract::institution)]
    pub to_institution: String,
    #[schema(value_type = String, format = Date, example = "2026-05-10")]
    pub issued_on: Date,
    /// The last admission day the referral covers.
    #[schema(value_type = String, format = Date, example = "2026-06-10")]
    pub valid_until: Date,
}

/// File a referral (转诊) for a person: by claims or enrolment staff, or by the referring
/// institution. A claim at the receiving institution then settles as referred, with the
/// deductible paid at the referring stay taken from its settlement.
#[utoipa::path(post, path = "/api/persons/{id}/referrals", request_body = ReferralIn, params(("id" = String, Path)), responses((status = 201, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "settlements")]
async fn file_referral(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<ReferralIn>,
) -> Result<Response, ApiError> {
    let referral = NewReferral {
        person_id: person_id(&id)?,
        from_institution: institution("from_institution", &input.from_institution)?,
        to_institution: institution("to_institution", &input.to_institution)?,
        issued_on: input.issued_on,
        valid_until: input.valid_until,
    };
    let record = state.file_referral(&caller, &source(&headers), referral).await?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// A person's referrals on file, newest first.
#[utoipa::path(get, path = "/api/persons/{id}/referrals", params(("id" = String, Path)), responses((status = 200, body = [Object]), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn referrals_of(State(state): State<App>, caller: Caller, Segments(id): Segments<String>) -> Result<Response, ApiError> {
    Ok(Json(state.referrals(&caller, &person_id(&id)?).await?).into_response())
}

// ---- audit ----

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    pub region: String,
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

/// The audit trail of a region (auditors and the city administrator).
#[utoipa::path(get, path = "/api/audit", params(AuditParams), responses((status = 200, body = [Object], description = "entries in order; each `detail` is the exact text the hash chain covers"), (status = 403, body = ErrorBody)), tag = "audit")]
async fn audit_trail(State(state): State<App>, caller: Caller, Params(q): Params<AuditParams>) -> Result<Response, ApiError> {
    let region = RegionCode::parse(crate::contract::shaped("region", crate::contract::REGION, &q.region)?)
        .map_err(|e| crate::contract::malformed(e.to_string()))?;
    Ok(Json(state.audit_entries(&caller, region, q.after, q.limit.unwrap_or(100)).await?).into_response())
}

/// Recompute every hash of every chain.
#[utoipa::path(get, path = "/api/audit/verify", responses((status = 200, body = Object), (status = 403, body = ErrorBody)), tag = "audit")]
async fn audit_verify(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(state.verify_audit(&caller, None).await?).into_response())
}

/// Liveness.
#[utoipa::path(get, path = "/api/health", responses((status = 200, body = Object)), tag = "session")]
async fn health(State(state): State<App>) -> Json<serde_json::Value> {
    let policy = state.policy();
    Json(serde_json::json!({ "status": "ok", "policy": policy.id, "policy_version": policy.version, "region": policy.region.to_string() }))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Yibao API", description = "A city's public basic medical and maternity insurance: enrolment, contributions, one-bill settlement.\n\n**Status codes.** A request that cannot be read (JSON syntax, a missing or mistyped field, a value that does not match its pattern, a query or path parameter that does not parse, a body that is not JSON) is `400 request.malformed`. A readable request the rules refuse is `422` with the rule's own code, or `401` (no or unknown credentials), `403` (not for this caller), `404` (no such record), `409` (it contradicts what is stored), `429` (held back, with `Retry-After`). An unknown route is `404 route.not_found`, another method on a known route `405 request.method_not_allowed` with `Allow`, a body over 4 MiB `413 request.too_large`. Every error body is `{\"code\", \"message\"}`; `code` is stable.\n\n**Money.** Every amount is yuan as a decimal string: answers have exactly two decimals (`\"12.50\"`), requests at most two (`\"12.5\"`, or whole yuan as an integer); floats are refused. Nested documents (a settlement, a claim, a contribution's breakdown) are JSON objects. The audit trail's `detail` is the exact text its hash chain covers."),
    modifiers(&Contract),
    paths(sign_in, sign_out, me, crate::admin::change_own_password, crate::admin::list_staff, crate::admin::create_staff, crate::admin::update_staff, crate::admin::list_institutions, crate::admin::create_institution, crate::admin::update_institution, crate::admin::rotate_api_key, crate::payment::change_agreement, crate::payment::payment_year, crate::payment::clear_year, crate::payment::statement, crate::payment::register_physician, crate::payment::physicians, crate::payment::penalize, create_household, enrol, search, person, update_person, change_tier, cancel_tier_change, change_coverage, record_death, end_coverage, file_referral, referrals_of, accumulators, person_claims, record_contribution, contributions_of, arrears, crate::employers::register, crate::employers::list, crate::employers::employer, crate::employers::declare, crate::employers::declarations, crate::employers::pay, crate::employers::contribution_years, crate::employers::set_carried_months, crate::arrears::view, crate::arrears::agree, crate::arrears::pay, pre_settle, settle_claim, get_settlement, reverse, crate::administrators::sign, crate::administrators::list, crate::administrators::contract, crate::administrators::record_entry, crate::administrators::selection, crate::administrators::bureau_sample, crate::administrators::score, crate::administrators::quarters, crate::administrators::top_up, crate::administrators::pay, crate::administrators::revolving_fund, crate::review::flags, crate::review::decide_flag, crate::review::precision, crate::review::scan, crate::review::findings, crate::review::record_finding, crate::review::appeal, crate::review::decide_appeal, audit_trail, audit_verify, crate::funds::run_pooling, crate::funds::pooling_runs, crate::funds::preview_pooling, crate::funds::record_receipt, crate::funds::accounts, crate::funds::movements, crate::funds::check, crate::funds::close_year, crate::funds::preview_year_end, crate::funds::year_closes, crate::funds::credit_interest, crate::funds::set_budget, crate::funds::budget_execution, crate::funds::prepare_handover, crate::funds::confirm_handover, crate::funds::handovers, crate::funds::establish_legacy_deficit, crate::funds::record_legacy_repayment, crate::funds::legacy_deficits, crate::funds::set_targets, crate::funds::targets, crate::funds::monthly_indicators, crate::reforms::simulate_reform, crate::policy::versions, crate::policy::propose, crate::policy::version, crate::policy::approve, crate::policy::reject, crate::catalogue::load, crate::catalogue::loads, crate::catalogue::proposals, crate::catalogue::proposal, crate::catalogue::approve, crate::catalogue::reject, crate::catalogue::item, health),
    components(schemas(ErrorBody, crate::admin::StaffIn, crate::admin::StaffUpdateIn, crate::admin::PasswordChangeIn, crate::admin::InstitutionIn, crate::admin::InstitutionUpdateIn, crate::admin::InstitutionKeyOut, crate::payment::AgreementIn, crate::payment::PhysicianIn, crate::payment::PenaltyIn, SignIn, SessionOut, Me, HouseholdIn, EnrolIn, PersonUpdateIn, TierChangeIn, TierChangeOut, EndCoverageIn, ContributionIn, crate::employers::EmployerIn, crate::employers::WageLineIn, crate::employers::DeclarationIn, crate::employers::DeclarationPaymentIn, crate::employers::CarriedMonthsIn, crate::arrears::PlanIn, crate::arrears::InstalmentIn, ArrearsOut, crate::wire::PersonArrearsOut, crate::wire::CountyArrearsOut, ClaimOut, ContributionOut, crate::wire::LegacyOut, crate::wire::InstalmentOut, crate::wire::DueOut, crate::wire::ExecutionOut, crate::wire::MonthOut, crate::wire::ComparisonOut, crate::wire::ChangeOut, crate::wire::ClaimIn, crate::wire::ClaimLineIn, crate::wire::DeliveryIn, crate::wire::TermsDoc, crate::wire::UnitTargetsIn, crate::funds::LegacyIn, SettleIn, PreSettleIn, SettleOut, ReversalIn, crate::administrators::ContractIn, crate::administrators::TenderIn, crate::administrators::ReviewTermsIn, crate::administrators::KpiIn, crate::administrators::BandIn, crate::administrators::EntryIn, crate::review::FlagDecisionIn, crate::review::ScanIn, crate::review::FindingIn, crate::review::AppealIn, crate::review::AppealDecisionIn, ReferralIn, crate::funds::PoolingRunIn, crate::funds::ReceiptIn, crate::funds::AccountOut, crate::funds::CheckOut, crate::funds::YearCloseIn, crate::funds::InterestIn, crate::funds::BudgetIn, crate::funds::HandoverIn, crate::funds::ConfirmationIn, crate::funds::RepaymentIn, crate::funds::TargetsIn, crate::reforms::SimulationIn, crate::policy::ProposalIn, crate::policy::DecisionIn, crate::policy::VersionOut, crate::policy::ChangeOut, crate::catalogue::CatalogueLoadOut, crate::catalogue::CatalogueTermsOut, crate::catalogue::CatalogueVersionOut, crate::catalogue::CatalogueItemOut, crate::catalogue::CatalogueRejectionIn)),
    tags((name = "session"), (name = "administration"), (name = "persons"), (name = "contributions"), (name = "settlements"), (name = "funds"), (name = "policy"), (name = "audit"))
)]
#[derive(Debug)]
pub struct ApiDoc;

pub fn router() -> Router<App> {
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
        .route("/api/institutions/{code}/agreement", post(crate::payment::change_agreement))
        .route("/api/institutions/{code}/physicians", post(crate::payment::register_physician).get(crate::payment::physicians))
        .route("/api/physicians/{code}/penalties", post(crate::payment::penalize))
        .route("/api/payment/{year}", get(crate::payment::payment_year))
        .route("/api/payment/{year}/clearing", post(crate::payment::clear_year))
        .route("/api/payment/{year}/institutions/{code}", get(crate::payment::statement))
        .route("/api/households", post(create_household))
        .route("/api/persons", post(enrol).get(search))
        .route("/api/persons/{id}", get(person).patch(update_person))
        .route("/api/persons/{id}/tier-changes", post(change_tier))
        .route("/api/persons/{id}/tier-changes/{requested_on}", axum::routing::delete(cancel_tier_change))
        .route("/api/persons/{id}/referrals", post(file_referral).get(referrals_of))
        .route("/api/persons/{id}/end-coverage", post(end_coverage))
        .route("/api/persons/{id}/coverage-changes", post(change_coverage))
        .route("/api/persons/{id}/contribution-years", get(crate::employers::contribution_years).put(crate::employers::set_carried_months))
        .route("/api/persons/{id}/arrears-plan", get(crate::arrears::view).post(crate::arrears::agree))
        .route("/api/persons/{id}/arrears-plan/payments", post(crate::arrears::pay))
        .route("/api/employers", post(crate::employers::register).get(crate::employers::list))
        .route("/api/employers/{code}", get(crate::employers::employer))
        .route("/api/employers/{code}/declarations", post(crate::employers::declare).get(crate::employers::declarations))
        .route("/api/employers/{code}/declarations/{period}/payment", post(crate::employers::pay))
        .route("/api/persons/{id}/death", post(record_death))
        .route("/api/persons/{id}/accumulators", get(accumulators))
        .route("/api/persons/{id}/claims", get(person_claims))
        .route("/api/persons/{id}/contributions", post(record_contribution).get(contributions_of))
        .route("/api/arrears", get(arrears))
        .route("/api/pre-settlements", post(pre_settle))
        .route("/api/settlements", post(settle_claim))
        .route("/api/settlements/{institution}/{claim_id}", get(get_settlement))
        .route("/api/settlements/{institution}/{claim_id}/reversal", post(reverse))
        .route("/api/administrators", post(crate::administrators::sign).get(crate::administrators::list))
        .route("/api/administrators/{code}", get(crate::administrators::contract))
        .route("/api/administrators/{code}/entries", post(crate::administrators::record_entry))
        .route("/api/administrators/{code}/quarters", get(crate::administrators::quarters))
        .route("/api/administrators/{code}/revolving-fund", get(crate::administrators::revolving_fund))
        .route("/api/administrators/{code}/revolving-fund/top-up", post(crate::administrators::top_up))
        .route("/api/administrators/{code}/revolving-fund/payments", post(crate::administrators::pay))
        .route("/api/administrators/{code}/quarters/{quarter}/selection", get(crate::administrators::selection))
        .route("/api/administrators/{code}/quarters/{quarter}/bureau-sample", get(crate::administrators::bureau_sample))
        .route("/api/administrators/{code}/quarters/{quarter}/score", post(crate::administrators::score))
        .route("/api/review/flags", get(crate::review::flags))
        .route("/api/review/flags/{institution}/{claim_id}/{flag_no}/decision", post(crate::review::decide_flag))
        .route("/api/review/precision", get(crate::review::precision))
        .route("/api/review/scans", post(crate::review::scan))
        .route("/api/review/findings", get(crate::review::findings))
        .route("/api/review/findings/{institution}/{claim_id}", post(crate::review::record_finding))
        .route("/api/review/findings/{institution}/{claim_id}/{finding_no}/appeal", post(crate::review::appeal))
        .route("/api/review/findings/{institution}/{claim_id}/{finding_no}/decision", post(crate::review::decide_appeal))
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
        .route("/api/funds/year-closes/preview", post(crate::funds::preview_year_end))
        .route("/api/funds/indicators", get(crate::funds::monthly_indicators))
        .route("/api/reforms/simulations", post(crate::reforms::simulate_reform))
        .route("/api/policy/versions", get(crate::policy::versions).post(crate::policy::propose))
        .route("/api/policy/versions/{version}", get(crate::policy::version))
        .route("/api/policy/versions/{version}/approval", post(crate::policy::approve))
        .route("/api/policy/versions/{version}/rejection", post(crate::policy::reject))
        .route(
            "/api/catalogue/loads",
            post(crate::catalogue::load)
                .layer(axum::extract::DefaultBodyLimit::max(crate::catalogue::UPLOAD_BYTES_MAX))
                .get(crate::catalogue::loads),
        )
        .route("/api/catalogue/proposals", get(crate::catalogue::proposals))
        .route("/api/catalogue/proposals/{seq}", get(crate::catalogue::proposal))
        .route("/api/catalogue/proposals/{seq}/approval", post(crate::catalogue::approve))
        .route("/api/catalogue/proposals/{seq}/rejection", post(crate::catalogue::reject))
        .route("/api/catalogue/items/{code}", get(crate::catalogue::item))
        .route("/api/audit", get(audit_trail))
        .route("/api/audit/verify", get(audit_verify))
        .route("/api/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/openapi-ui.json", ApiDoc::openapi()))
        .fallback(crate::contract::not_found)
        // After every route: a route asked with a method it does not answer.
        .method_not_allowed_fallback(crate::contract::method_not_allowed)
}
