//! Paying institutions over HTTP (issue 15): the agreement book's changes, the region's
//! payment year and one institution's statement. The rules are the application's
//! (`App::change_agreement`, `App::payment_year`, `App::payment_statement`); this module
//! only translates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use yibao_app::App;
use yibao_app::payment::AgreementInput;
use yibao_domain::Fen;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Segments, source};
use crate::wire::{ok, reply};

/// A change to an institution's agreement book. `change` says which; each takes its own
/// fields, and a field another change takes is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementIn {
    /// `apply` (an application for designation), `evaluate` (the experts' evaluation of it),
    /// `negotiate` (the negotiation of the agreement), `sign` (a year's terms), `assess` (the
    /// year's score), `suspend`, `terminate`, `reinstate`, `inspect`.
    #[schema(pattern = "^(apply|evaluate|negotiate|sign|assess|suspend|terminate|reinstate|inspect)$", example = "sign")]
    change: String,
    /// `sign`, `assess`: the payment year.
    year: Option<i32>,
    /// `sign`: inpatient cases paid by DIP points.
    #[serde(default)]
    points: bool,
    /// `sign`: stays the payment pack's per-diem rates cover paid per day.
    #[serde(default)]
    per_diem: bool,
    /// `sign`: persons signed with the institution for capitation.
    #[schema(minimum = 1, maximum = 10_000_000)]
    capitation_enrolled: Option<u32>,
    /// `sign`: every claim of the year must name its insurance physician.
    #[serde(default)]
    physicians_required: bool,
    /// `sign`: a global budget for its other cases, yuan.
    #[serde(default, with = "crate::routes::optional_yuan")]
    #[schema(schema_with = crate::contract::yuan_in_opt)]
    global_budget: Option<Fen>,
    /// `assess`, `evaluate`: the score, a percentage.
    #[schema(schema_with = crate::contract::percent_opt)]
    score: Option<String>,
    /// `suspend`, `terminate`: the first day refused.
    #[schema(value_type = Option<String>, format = Date, example = "2026-07-01")]
    from: Option<time::Date>,
    /// `reinstate`: the first day settled again; `inspect`, `apply`, `evaluate`, `negotiate`:
    /// the day it happened.
    #[schema(value_type = Option<String>, format = Date, example = "2026-08-01")]
    on: Option<time::Date>,
    /// `suspend`, `terminate`: why; `inspect`, `evaluate`: the findings; `apply`: the services
    /// applied for; `negotiate`: what was agreed or why not.
    reason: Option<String>,
    /// `inspect`: the amount deducted from what the fund owes, yuan.
    #[serde(default, with = "crate::routes::optional_yuan")]
    #[schema(schema_with = crate::contract::yuan_in_opt)]
    deduction: Option<Fen>,
    /// `evaluate`: the experts passed the application; `negotiate`: the agreement was agreed.
    accepted: Option<bool>,
}

/// A readable change without a field it needs, or with one it does not take: the rules'
/// refusal (422 `agreement.bad_change`), since the document lets every field be given.
fn missing(field: &str, change: &str) -> ApiError {
    ApiError::from(yibao_app::AppError::bad_request("agreement.bad_change", format!("{field}: required for a '{change}' change")))
}

/// The fields each change takes; any other given is refused.
fn fields_of(change: &str) -> Option<&'static [&'static str]> {
    Some(match change {
        "apply" => &["on", "reason"],
        "evaluate" => &["on", "score", "reason", "accepted"],
        "negotiate" => &["on", "reason", "accepted"],
        "sign" => &["year", "points", "per_diem", "capitation_enrolled", "global_budget", "physicians_required"],
        "assess" => &["year", "score"],
        "suspend" | "terminate" => &["from", "reason"],
        "reinstate" => &["on"],
        "inspect" => &["on", "reason", "deduction"],
        _ => return None,
    })
}

impl AgreementIn {
    fn into_input(self) -> Result<AgreementInput, ApiError> {
        let change = self.change.as_str();
        let Some(taken) = fields_of(change) else {
            return Err(crate::contract::malformed(format!(
                "change: '{change}' is not apply, evaluate, negotiate, sign, assess, suspend, terminate, reinstate or inspect"
            )));
        };
        let given = [
            ("year", self.year.is_some()),
            ("points", self.points),
            ("per_diem", self.per_diem),
            ("capitation_enrolled", self.capitation_enrolled.is_some()),
            ("global_budget", self.global_budget.is_some()),
            ("physicians_required", self.physicians_required),
            ("score", self.score.is_some()),
            ("from", self.from.is_some()),
            ("on", self.on.is_some()),
            ("reason", self.reason.is_some()),
            ("deduction", self.deduction.is_some()),
            ("accepted", self.accepted.is_some()),
        ];
        if let Some((field, _)) = given.iter().find(|(field, given)| *given && !taken.contains(field)) {
            return Err(ApiError::from(yibao_app::AppError::bad_request(
                "agreement.bad_change",
                format!("{field}: not taken by a '{change}' change"),
            )));
        }
        let score = |score: Option<String>| -> Result<yibao_domain::RatioBp, ApiError> {
            let score = score.ok_or_else(|| missing("score", change))?;
            yibao_domain::RatioBp::parse_percent(crate::contract::shaped("score", crate::contract::PERCENT, &score)?)
                .map_err(|e| ApiError::from(yibao_app::AppError::bad_request("agreement.bad_score", format!("score: {e}"))))
        };
        let on = || self.on.ok_or_else(|| missing("on", change));
        let reason = |reason: Option<String>| reason.ok_or_else(|| missing("reason", change));
        Ok(match change {
            "apply" => AgreementInput::Apply { date: on()?, services: reason(self.reason)? },
            "evaluate" => AgreementInput::Evaluate {
                date: on()?,
                score: score(self.score)?,
                passed: self.accepted.ok_or_else(|| missing("accepted", change))?,
                findings: reason(self.reason)?,
            },
            "negotiate" => AgreementInput::Negotiate {
                date: on()?,
                agreed: self.accepted.ok_or_else(|| missing("accepted", change))?,
                outcome: reason(self.reason)?,
            },
            "sign" => AgreementInput::Sign {
                year: self.year.ok_or_else(|| missing("year", change))?,
                points: self.points,
                per_diem: self.per_diem,
                capitation_enrolled: self.capitation_enrolled,
                global_budget: self.global_budget,
                physicians_required: self.physicians_required,
            },
            "assess" => AgreementInput::Assess { year: self.year.ok_or_else(|| missing("year", change))?, score: score(self.score)? },
            "suspend" | "terminate" => AgreementInput::Suspend {
                from: self.from.ok_or_else(|| missing("from", change))?,
                reason: reason(self.reason)?,
                terminated: change == "terminate",
            },
            "reinstate" => AgreementInput::Reinstate { on: on()? },
            _ => AgreementInput::Inspect { date: on()?, findings: reason(self.reason)?, deduction: self.deduction.unwrap_or(Fen::ZERO) },
        })
    }
}

/// Change an institution's agreement (定点服务协议, R-INS-1): record its application for
/// designation, the experts' evaluation and the negotiation (a register with an application
/// signs terms only once the last one is evaluated, passed and agreed), sign a year's
/// terms, record its assessment, suspend or terminate from a day (settlement then refuses those days with
/// `settle.institution_suspended` or `settle.institution_terminated`), reinstate, or record
/// an inspection with its deduction. Answers the institution's register.
#[utoipa::path(post, path = "/api/institutions/{code}/agreement", request_body = AgreementIn, params(("code" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn change_agreement(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
    Body(input): Body<AgreementIn>,
) -> Result<Response, ApiError> {
    let code = crate::routes::institution("code", &code)?.to_string();
    let input = input.into_input()?;
    ok(&state.change_agreement(&caller, &source(&headers), &code, input).await?)
}

/// The region's payment year (fund readers): the budget from the year's fund budgets less
/// the risk reserve, what per diem, fee-for-service, capitation and global budgets take, the
/// pool of the points and the year's point value, and each institution's months, clearing
/// and balance; `provisional` until every institution is assessed and the year is over.
#[utoipa::path(get, path = "/api/payment/{year}", params(("year" = i32, Path)), responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn payment_year(State(state): State<App>, caller: Caller, Segments(year): Segments<i32>) -> Result<Response, ApiError> {
    ok(&state.payment_year(&caller, year).await?)
}

/// Book a payment year's clearing (年度清算) to the fund books (the city's fund accountants
/// and administrators): each institution's payable less its bill, owed to it or recovered
/// from it, shared between the pooled funds and counties that paid its stays; the next
/// pooling run pays or deducts it. 201 with the clearing, or 200 with the first clearing
/// when the year was cleared already; 422 `payment.not_over` or `payment.provisional`
/// until the year is over and every institution under terms is assessed.
#[utoipa::path(post, path = "/api/payment/{year}/clearing", params(("year" = i32, Path)), responses((status = 201, body = Object), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn clear_year(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(year): Segments<i32>,
) -> Result<Response, ApiError> {
    let (clearing, booked_now) = state.clear_payment_year(&caller, &source(&headers), year).await?;
    reply(if booked_now { StatusCode::CREATED } else { StatusCode::OK }, &clearing)
}

/// One institution's statement for a year (月度/年度结算单): its cases with their methods
/// and points, its months (advances, quality deposit, capitation), its clearing and
/// balance. For fund readers, or the institution itself with its key.
#[utoipa::path(get, path = "/api/payment/{year}/institutions/{code}", params(("year" = i32, Path), ("code" = String, Path)), responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn statement(
    State(state): State<App>,
    caller: Caller,
    Segments((year, code)): Segments<(i32, String)>,
) -> Result<Response, ApiError> {
    let code = crate::routes::institution("code", &code)?.to_string();
    ok(&state.payment_statement(&caller, year, &code).await?)
}

/// An insurance physician to register under an institution.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhysicianIn {
    /// `D`, the 6-digit region of the institution and a 6-digit serial.
    #[schema(pattern = r"^D[0-9]{12}$", example = "D419921000001")]
    code: String,
    name: String,
    /// The first day the physician bills under insurance (default today, at most a year ago).
    #[schema(value_type = Option<String>, format = Date, example = "2026-01-01")]
    from: Option<time::Date>,
}

/// Register an insurance physician (医保医师) under an institution (city administrators).
#[utoipa::path(post, path = "/api/institutions/{code}/physicians", request_body = PhysicianIn, params(("code" = String, Path)), responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn register_physician(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
    Body(input): Body<PhysicianIn>,
) -> Result<Response, ApiError> {
    let institution = crate::routes::institution("code", &code)?;
    let physician = yibao_domain::PhysicianCode::parse(crate::contract::shaped("code", crate::contract::PHYSICIAN, &input.code)?)
        .map_err(ApiError::from)?;
    let name = yibao_domain::PersonName::parse(&input.name).map_err(ApiError::from)?;
    let input = yibao_app::payment::PhysicianInput { code: physician, institution, name, from: input.from };
    let record = state.register_physician(&caller, &source(&headers), input).await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(record)).into_response())
}

/// An institution's insurance physicians, with their penalties and suspensions: for staff
/// of its region, or the institution itself.
#[utoipa::path(get, path = "/api/institutions/{code}/physicians", params(("code" = String, Path)), responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "administration")]
pub(crate) async fn physicians(State(state): State<App>, caller: Caller, Segments(code): Segments<String>) -> Result<Response, ApiError> {
    let institution = crate::routes::institution("code", &code)?;
    ok(&state.physicians_of(&caller, institution.as_str()).await?)
}

/// A penalty against a physician.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyIn {
    #[schema(value_type = String, format = Date, example = "2026-06-01")]
    date: time::Date,
    /// 1 to 12.
    #[schema(minimum = 1, maximum = 12)]
    points: u8,
    reason: String,
    /// Given when, and only when, the penalty brings the year's points to the suspension
    /// threshold: the months the right to bill is suspended.
    #[schema(minimum = 1, maximum = 12)]
    suspension_months: Option<u8>,
    /// The confirmed finding of a claim review the points rest on (its appeal refused, or
    /// past its 30 days of appeal, or a self-check), on a claim the physician treated: one
    /// penalty a finding. An inspection's penalty names none.
    finding: Option<FindingRefIn>,
}

/// A finding of a claim review, by its claim and number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingRefIn {
    #[schema(pattern = "^[HP][0-9]{11}$", example = "H41992100007")]
    institution: String,
    #[schema(min_length = 1, max_length = 64, example = "Z-2026-0001")]
    claim_id: String,
    #[schema(minimum = 1, maximum = 60)]
    finding_no: u32,
}

/// Record a penalty (违规记分) against an insurance physician (claims officers and
/// administrators): the year's points under the payment pack's thresholds suspend the right
/// to bill (`settle.physician_suspended`) or end it (`settle.physician_terminated`).
#[utoipa::path(post, path = "/api/physicians/{code}/penalties", request_body = PenaltyIn, params(("code" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn penalize(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
    Body(input): Body<PenaltyIn>,
) -> Result<Response, ApiError> {
    let code =
        yibao_domain::PhysicianCode::parse(crate::contract::shaped("code", crate::contract::PHYSICIAN, &code)?).map_err(ApiError::from)?;
    let input = yibao_app::payment::PenaltyInput {
        date: input.date,
        points: input.points,
        reason: input.reason,
        suspension_months: input.suspension_months,
        finding: match input.finding {
            Some(f) => {
                let institution = crate::routes::institution("finding.institution", &f.institution)?.to_string();
                let claim_id = crate::routes::claim_id(&institution, &f.claim_id)?;
                Some((institution, claim_id, f.finding_no))
            }
            None => None,
        },
    };
    ok(&state.penalize_physician(&caller, &source(&headers), code.as_str(), input).await?)
}
