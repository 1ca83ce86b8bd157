//! Arrears repaid in instalments over HTTP (issue 16 item 4, R-FIN-4): a person's arrears
//! as a plan would take them, agreeing a plan, and recording its payments. The rules are
//! the application's (`App::arrears_of`, `App::agree_plan`, `App::pay_instalment`); this
//! module only translates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use yibao_app::App;
use yibao_domain::{Fen, serde_yuan};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Segments, source};
use crate::wire::{ok, reply};

/// A person's arrears (the periods a plan agreed today would take, and their total), the
/// pack's terms, their repayment plans, and whether their benefits are in force today.
#[utoipa::path(get, path = "/api/persons/{id}/arrears-plan", params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn view(State(state): State<App>, caller: Caller, Segments(id): Segments<String>) -> Result<Response, ApiError> {
    let id = crate::contract::national_id("id", &id)?;
    ok(&state.arrears_of(&caller, &id).await?)
}

/// A repayment plan to agree.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanIn {
    /// Monthly instalments: 1 to the pack's `arrears.instalments_max` (at most 60, five years).
    #[schema(minimum = 1, maximum = 60, example = 12)]
    pub instalments: u32,
    /// The day the first instalment falls due: today to 31 days on; the rest fall due
    /// monthly on the same day (or the month's last).
    #[schema(value_type = String, format = Date, example = "2026-12-20")]
    pub first_due_on: time::Date,
    /// The total the clerk was shown (`owed` of the GET), yuan: a plan is refused
    /// when the arrears changed since (`arrears.changed`).
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    pub total: Fen,
}

/// Agree a repayment plan of every period the person owes (欠费分期补缴, R-FIN-4): fund
/// accountants, enrolment clerks and the city administrator. While it is open, its periods
/// are paid only as its instalments.
#[utoipa::path(post, path = "/api/persons/{id}/arrears-plan", request_body = PlanIn, params(("id" = String, Path)), responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn agree(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<PlanIn>,
) -> Result<Response, ApiError> {
    let id = crate::contract::national_id("id", &id)?;
    let input = yibao_app::arrears::PlanInput { instalments: input.instalments, first_due_on: input.first_due_on, total_fen: input.total };
    reply(StatusCode::CREATED, &state.agree_plan(&caller, &source(&headers), &id, input).await?)
}

/// A payment under a plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstalmentIn {
    /// The receipt's number (收据号) of the bank or the cashier: a payment is recorded once
    /// per receipt (the same receipt sent again answers the plan as it stands).
    #[schema(min_length = 1, max_length = 64, example = "SJ-2026-000123")]
    pub receipt: String,
    /// Yuan received: at least 0.01, at most what the plan still owes.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    pub amount: Fen,
}

/// Record a payment under the person's open plan: it pays the oldest periods first, each
/// recorded as a contribution of its period; the plan completes when they owe nothing. A
/// receipt already recorded records nothing and answers the plan as it stands.
#[utoipa::path(post, path = "/api/persons/{id}/arrears-plan/payments", request_body = InstalmentIn, params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "contributions")]
pub(crate) async fn pay(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(id): Segments<String>,
    Body(input): Body<InstalmentIn>,
) -> Result<Response, ApiError> {
    let id = crate::contract::national_id("id", &id)?;
    ok(&state.pay_instalment(&caller, &source(&headers), &id, &input.receipt, input.amount).await?)
}
