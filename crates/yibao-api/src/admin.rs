//! Administration: staff accounts and designated institutions, managed by the city
//! administrator of a region (R-GEO-2: a county's administrator manages only that county),
//! and a staff member's own password.
//!
//! Secrets are shown once and never stored: a password is kept as an argon2 hash, an
//! institution's API key as a SHA-256 digest, and the key itself is returned only in the
//! response that created it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yibao_app::access::{InstitutionChange, StaffChange, StaffInput};
use yibao_app::{InstitutionRecord, Role};
use yibao_domain::{InstitutionLevel, RegionCode};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Segments, source};
use yibao_app::App;

/// Shortest and longest password accepted.
fn role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).ok_or_else(|| {
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        crate::contract::malformed(format!("role: '{text}' is not a role: one of {}", roles.join(", ")))
    })
}

fn level(text: &str) -> Result<InstitutionLevel, ApiError> {
    InstitutionLevel::parse(text)
        .ok_or_else(|| crate::contract::malformed(format!("level: '{text}' is not a level: township, primary, secondary or tertiary")))
}

// ---- staff ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffIn {
    pub username: String,
    pub display_name: String,
    pub password: String,
    #[schema(
        pattern = "^(enrolment_clerk|claims_officer|fund_accountant|auditor|city_administrator|policy_officer)$",
        example = "enrolment_clerk"
    )]
    pub role: String,
    #[schema(schema_with = crate::contract::region)]
    pub region: RegionCode,
}

/// Staff accounts of the administrator's region.
#[utoipa::path(get, path = "/api/staff", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "administration")]
pub(crate) async fn list_staff(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.staff_list(&caller).await?).into_response())
}

/// Create a staff account in the administrator's region.
#[utoipa::path(post, path = "/api/staff", request_body = StaffIn, responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "administration")]
pub(crate) async fn create_staff(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<StaffIn>,
) -> Result<Response, ApiError> {
    let staff = StaffInput {
        username: input.username,
        display_name: input.display_name,
        password: input.password,
        role: role(&input.role)?,
        region: input.region,
    };
    let record = state.create_staff(&caller, &source(&headers), staff).await?;
    Ok((StatusCode::CREATED, axum::Json(record)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUpdateIn {
    pub display_name: Option<String>,
    #[schema(
        pattern = "^(enrolment_clerk|claims_officer|fund_accountant|auditor|city_administrator|policy_officer)$",
        example = "auditor"
    )]
    pub role: Option<String>,
    #[schema(schema_with = crate::contract::region_opt)]
    pub region: Option<RegionCode>,
    pub active: Option<bool>,
    /// A new password (a reset); every session of the account ends.
    pub password: Option<String>,
}

/// Change a staff account: name, role, region, active, or reset its password. A change of
/// role or region, a deactivation or a new password ends the account's sessions at once.
#[utoipa::path(patch, path = "/api/staff/{username}", request_body = StaffUpdateIn, params(("username" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "administration")]
pub(crate) async fn update_staff(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(username): Segments<String>,
    Body(input): Body<StaffUpdateIn>,
) -> Result<Response, ApiError> {
    let change = StaffChange {
        display_name: input.display_name,
        role: input.role.as_deref().map(role).transpose()?,
        region: input.region,
        active: input.active,
        password: input.password,
    };
    Ok(axum::Json(state.update_staff(&caller, &source(&headers), &username, change).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeIn {
    pub current_password: String,
    pub new_password: String,
}

/// Change one's own password. Every session of the account ends, this one included: sign
/// in again with the new password.
#[utoipa::path(post, path = "/api/me/password", request_body = PasswordChangeIn, responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)), tag = "session")]
pub(crate) async fn change_own_password(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<PasswordChangeIn>,
) -> Result<StatusCode, ApiError> {
    state.change_own_password(&caller, &source(&headers), &input.current_password, &input.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- institutions ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstitutionIn {
    #[schema(schema_with = crate::contract::institution)]
    pub code: String,
    /// 1 to 100 characters of the register's (no control or invisible characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(schema_with = crate::contract::region)]
    pub region: RegionCode,
    #[schema(pattern = "^(township|primary|secondary|tertiary)$", example = "secondary")]
    pub level: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstitutionKeyOut {
    #[schema(value_type = Object)]
    pub institution: InstitutionRecord,
    /// The API key (`X-Api-Key`). Shown this once; only its digest is kept.
    pub api_key: String,
}

/// Designated institutions of the caller's region.
#[utoipa::path(get, path = "/api/institutions", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "administration")]
pub(crate) async fn list_institutions(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.institutions(&caller).await?).into_response())
}

/// Designate an institution: it receives its API key in this response, once.
#[utoipa::path(post, path = "/api/institutions", request_body = InstitutionIn, responses((status = 201, body = InstitutionKeyOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn create_institution(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<InstitutionIn>,
) -> Result<Response, ApiError> {
    let input = yibao_app::access::InstitutionInput {
        code: crate::routes::institution("code", &input.code)?,
        name: input.name,
        region: input.region,
        level: level(&input.level)?,
        api_key: None,
    };
    let key = state.create_institution(&caller, &source(&headers), input).await?;
    Ok((StatusCode::CREATED, axum::Json(InstitutionKeyOut { institution: key.institution, api_key: key.api_key })).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstitutionUpdateIn {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(pattern = "^(township|primary|secondary|tertiary)$", example = "tertiary")]
    pub level: Option<String>,
    /// The day a new level applies from (default today): claims with an earlier date of
    /// service keep the previous level.
    #[schema(value_type = Option<String>, format = Date, example = "2026-06-01")]
    pub level_from: Option<time::Date>,
    /// False suspends the institution: its key stops working at once.
    pub active: Option<bool>,
}

/// Change an institution's name, level or designation (active).
#[utoipa::path(patch, path = "/api/institutions/{code}", request_body = InstitutionUpdateIn, params(("code" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn update_institution(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
    Body(input): Body<InstitutionUpdateIn>,
) -> Result<Response, ApiError> {
    let code = crate::routes::institution("code", &code)?.to_string();
    let level = input.level.as_deref().map(level).transpose()?;
    let change = InstitutionChange { name: input.name, level, level_from: input.level_from, active: input.active };
    Ok(axum::Json(state.update_institution(&caller, &source(&headers), &code, change).await?).into_response())
}

/// Issue a new API key for an institution; the old key stops working at once.
#[utoipa::path(post, path = "/api/institutions/{code}/api-key", params(("code" = String, Path)), responses((status = 200, body = InstitutionKeyOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "administration")]
pub(crate) async fn rotate_api_key(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
) -> Result<Response, ApiError> {
    let code = crate::routes::institution("code", &code)?.to_string();
    let key = state.rotate_api_key(&caller, &source(&headers), &code).await?;
    Ok(axum::Json(InstitutionKeyOut { institution: key.institution, api_key: key.api_key }).into_response())
}
