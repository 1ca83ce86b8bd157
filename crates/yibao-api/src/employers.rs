//! Employers over HTTP (issue 16 item 2, R-FIN-1, R-FIN-4): registering an employer, its
//! monthly payroll declarations and their payment, and a person's contribution years. The
//! rules are the application's (`App::register_employer`, `App::declare`,
//! `App::pay_declaration`, `App::contribution_years`); this module only translates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use yibao_app::App;
use yibao_domain::{EmployerCode, Fen, RegionCode, serde_yuan};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Params, Segments, source};
use crate::wire::{ok, reply};

/// A unified social credit code's shape: 18 of its 31 characters (its check character is
/// the rules' to check: 422 `employer.bad_code`).
pub const EMPLOYER_CODE: &str = "^[0-9A-HJ-NP-RTUW-Y]{18}$";

fn employer_code(text: &str) -> Result<EmployerCode, ApiError> {
    let text = crate::contract::shaped("code", EMPLOYER_CODE, text)?;
    EmployerCode::parse(text).map_err(|e| ApiError::from(yibao_app::AppError::unprocessable("employer.bad_code", format!("code: {e}"))))
}

/// An employer to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployerIn {
    /// The unified social credit code (统一社会信用代码).
    #[schema(pattern = "^[0-9A-HJ-NP-RTUW-Y]{18}$", example = "914199210000042420")]
    pub code: String,
    /// The name on its licence.
    #[schema(min_length = 1, max_length = 100, example = "东县机械厂")]
    pub name: String,
    /// The county whose fund its employees are insured in.
    #[schema(schema_with = crate::contract::region)]
    pub region: RegionCode,
    /// The day it registered with the bureau: its first declarable month.
    #[schema(value_type = String, format = Date, example = "2026-01-01")]
    pub registered_on: time::Date,
}

/// Register an employer (参保单位登记, R-FIN-1): enrolment clerks and the city administrator.
#[utoipa::path(post, path = "/api/employers", request_body = EmployerIn, responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn register(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<EmployerIn>,
) -> Result<Response, ApiError> {
    let input = yibao_app::EmployerInput {
        code: employer_code(&input.code)?,
        name: input.name,
        region: input.region,
        registered_on: input.registered_on,
    };
    reply(StatusCode::CREATED, &state.register_employer(&caller, &source(&headers), input).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EmployerPage {
    /// How many employers to skip (default 0, at most 10,000).
    #[param(maximum = 10_000)]
    pub offset: Option<u32>,
}

/// A page of the employers of the caller's region, by code: at most 1,000 from `offset`,
/// and how many there are in all (`total`).
#[utoipa::path(get, path = "/api/employers", params(EmployerPage), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn list(State(state): State<App>, caller: Caller, Params(q): Params<EmployerPage>) -> Result<Response, ApiError> {
    let offset = q.offset.unwrap_or(0);
    let (total, employers) = state.employers(&caller, offset).await?;
    ok(&serde_json::json!({ "total": total, "offset": offset, "employers": employers }))
}

/// One employer.
#[utoipa::path(get, path = "/api/employers/{code}", params(("code" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn employer(State(state): State<App>, caller: Caller, Segments(code): Segments<String>) -> Result<Response, ApiError> {
    ok(&state.employer(&caller, &employer_code(&code)?).await?)
}

/// One employee of a declaration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WageLineIn {
    #[schema(schema_with = crate::contract::national_id_schema)]
    pub person_id: String,
    /// The month's wage, in yuan.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    pub wage: Fen,
}

/// A month's payroll declaration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclarationIn {
    /// The month, `YYYY-MM`.
    #[schema(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-11")]
    pub period: String,
    /// Each employee and the month's wage (1 to 10,000).
    #[schema(min_items = 1, max_items = 10_000)]
    pub lines: Vec<WageLineIn>,
}

/// Declare a month's payroll (缴费申报, R-FIN-1): each employee's contribution (and
/// maternity) is billed on the wage within the pack's floor and ceiling, as the person's
/// own record, owed until the employer pays; due on the pack's day of the next month.
#[utoipa::path(post, path = "/api/employers/{code}/declarations", request_body = DeclarationIn, params(("code" = String, Path)), responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn declare(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
    Body(input): Body<DeclarationIn>,
) -> Result<Response, ApiError> {
    let code = employer_code(&code)?;
    crate::contract::shaped("period", crate::contract::PERIOD, &input.period)?;
    let mut lines = Vec::with_capacity(input.lines.len());
    for (index, line) in input.lines.into_iter().enumerate() {
        let person_id = crate::contract::national_id(&format!("lines[{index}].person_id"), &line.person_id)?;
        lines.push(yibao_app::WageLine { person_id, wage: line.wage });
    }
    reply(StatusCode::CREATED, &state.declare(&caller, &source(&headers), &code, &input.period, lines).await?)
}

/// An employer's declarations, the latest month first, each with what is still owed and
/// what paying it today costs with its late fee (`to_pay_on`).
#[utoipa::path(get, path = "/api/employers/{code}/declarations", params(("code" = String, Path)), responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn declarations(State(state): State<App>, caller: Caller, Segments(code): Segments<String>) -> Result<Response, ApiError> {
    ok(&state.declarations(&caller, &employer_code(&code)?).await?)
}

/// An employer's payment of a declared month, from the bank's receipt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclarationPaymentIn {
    /// The day the money arrived.
    #[schema(value_type = String, format = Date, example = "2026-12-10")]
    pub paid_on: time::Date,
    /// What was paid, in yuan: what the month still owes with its late fee.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    pub amount: Fen,
}

/// Record an employer's payment of a declared month (R-FIN-4): `amount` must be what the
/// month still owes with its late fee (滞纳金) for each day after the due day up to
/// `paid_on` (422 `employer.amount_mismatch` gives the exact figure). Every line's bill is
/// completed and the late fee posted to the employee fund, at once.
#[utoipa::path(post, path = "/api/employers/{code}/declarations/{period}/payment", request_body = DeclarationPaymentIn, params(("code" = String, Path), ("period" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn pay(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((code, period)): Segments<(String, String)>,
    Body(input): Body<DeclarationPaymentIn>,
) -> Result<Response, ApiError> {
    let code = employer_code(&code)?;
    crate::contract::shaped("period", crate::contract::PERIOD, &period)?;
    ok(&state.pay_declaration(&caller, &source(&headers), &code, &period, input.paid_on, input.amount).await?)
}

/// A person's contribution years against the minimum for free coverage in retirement
/// (R-FIN-1): months carried in, months paid here in full, months required, months short.
#[utoipa::path(get, path = "/api/persons/{id}/contribution-years", params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn contribution_years(
    State(state): State<App>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    ok(&state.contribution_years(&caller, &crate::contract::national_id("id", &id)?).await?)
}

/// Months of contributions carried in from elsewhere.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarriedMonthsIn {
    /// From a transfer certificate or the legacy system: 0 to 720.
    #[schema(minimum = 0, maximum = 720)]
    pub carried_months: u32,
}

/// Record the months of contributions a person carries in from elsewhere (enrolment
/// clerks): they count toward the minimum for retirement with those paid here.
#[utoipa::path(put, path = "/api/persons/{id}/contribution-years", request_body = CarriedMonthsIn, params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn set_carried_months(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<CarriedMonthsIn>,
) -> Result<Response, ApiError> {
    let id = crate::contract::national_id("id", &id)?;
    ok(&state.set_carried_months(&caller, &source(&headers), &id, input.carried_months).await?)
}
