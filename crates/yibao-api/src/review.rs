//! Review of settled claims over HTTP (issue 18): monitoring's flags and their decisions,
//! each rule's precision, findings that deduct through the ledger, and appeals. The rules
//! are the application's (`App::flags`, `App::decide_flag`, `App::record_finding`,
//! `App::appeal_finding`, `App::decide_appeal`); this module only translates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use yibao_app::App;
use yibao_app::review::{FindingInput, FindingQuery, FlagOutcome, FlagQuery};
use yibao_domain::{Fen, serde_yuan};

use crate::auth::Caller;
use crate::contract::Params;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Segments, source};
use crate::wire::{ok, reply};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlagsQuery {
    /// Only flags not decided yet.
    #[serde(default)]
    open: bool,
    /// One institution's claims.
    institution: Option<String>,
    /// One claim (with `institution`).
    claim_id: Option<String>,
}

/// Flags monitoring raised on claims at settlement, latest first (at most 500): for claims
/// staff of their region, or an institution on its own claims. A `hold` flag keeps the
/// claim's payment back until it is decided.
#[utoipa::path(get, path = "/api/review/flags", params(FlagsQuery), responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn flags(State(state): State<App>, caller: Caller, Params(q): Params<FlagsQuery>) -> Result<Response, ApiError> {
    let institution = q.institution.map(|code| crate::routes::institution("institution", &code).map(|c| c.to_string())).transpose()?;
    // A claim id no claim can have matches nothing (and never reaches a store).
    if q.claim_id.as_deref().is_some_and(|id| !yibao_app::is_claim_id(id)) {
        return ok(&Vec::<serde_json::Value>::new());
    }
    ok(&state.flags(&caller, FlagQuery { open_only: q.open, institution, claim_id: q.claim_id }).await?)
}

/// A reviewer's decision on a flag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagDecisionIn {
    /// `confirmed` (the claim broke the rule) or `dismissed` (it did not).
    #[schema(pattern = "^(confirmed|dismissed)$", example = "dismissed")]
    outcome: String,
    /// Why, 1 to 2,000 characters.
    note: String,
}

/// Decide a flag (claims officers and administrators): its outcome counts toward the
/// rule's precision; a hold is released when every hold flag of the claim is decided. 422
/// `review.flag_decided` for a flag decided already.
#[utoipa::path(post, path = "/api/review/flags/{institution}/{claim_id}/{flag_no}/decision", request_body = FlagDecisionIn, params(("institution" = String, Path), ("claim_id" = String, Path), ("flag_no" = u32, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn decide_flag(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((institution, claim_id, flag_no)): Segments<(String, String, u32)>,
    Body(input): Body<FlagDecisionIn>,
) -> Result<Response, ApiError> {
    let institution = crate::routes::institution("institution", &institution)?.to_string();
    let claim_id = crate::routes::claim_id(&institution, &claim_id)?;
    let Some(outcome) = FlagOutcome::parse(&input.outcome) else {
        return Err(crate::contract::malformed(format!("outcome: '{}' is not confirmed or dismissed", input.outcome)));
    };
    ok(&state.decide_flag(&caller, &source(&headers), (&institution, &claim_id, flag_no), outcome, &input.note).await?)
}

/// Each monitoring rule's flags counted by decision, and its precision in basis points
/// (confirmed per 10,000 decided): claims staff.
#[utoipa::path(get, path = "/api/review/precision", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn precision(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    ok(&state.rule_precision(&caller).await?)
}

/// A scan over paid claims: the days of service it covers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanIn {
    #[schema(value_type = String, format = Date, example = "2026-11-01")]
    first_day: time::Date,
    /// At most 30 days after the first, not after today.
    #[schema(value_type = String, format = Date, example = "2026-11-30")]
    last_day: time::Date,
}

/// Scan paid claims (claims officers and city administrators): the monitoring pack's
/// checks after payment (a physician's visits a day, bills against their peers) over the
/// claims of the reviewer's region with a day of service in the period, raising flags
/// (warnings) to review. A scan run again raises nothing new. 422 `review.bad_period`,
/// `review.no_scan_rules`, `review.scan_too_large`.
#[utoipa::path(post, path = "/api/review/scans", request_body = ScanIn, responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn scan(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<ScanIn>,
) -> Result<Response, ApiError> {
    ok(&state.scan_paid_claims(&caller, &source(&headers), (input.first_day, input.last_day)).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// Only appeals waiting for a decision.
    #[serde(default)]
    appealed: bool,
    institution: Option<String>,
    claim_id: Option<String>,
}

/// Findings, latest first (at most 500): for claims staff of their region, or an
/// institution on its own claims.
#[utoipa::path(get, path = "/api/review/findings", params(FindingsQuery), responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn findings(State(state): State<App>, caller: Caller, Params(q): Params<FindingsQuery>) -> Result<Response, ApiError> {
    let institution = q.institution.map(|code| crate::routes::institution("institution", &code).map(|c| c.to_string())).transpose()?;
    if q.claim_id.as_deref().is_some_and(|id| !yibao_app::is_claim_id(id)) {
        return ok(&Vec::<serde_json::Value>::new());
    }
    ok(&state.findings(&caller, FindingQuery { institution, claim_id: q.claim_id, appealed_only: q.appealed }).await?)
}

/// A finding on a settled claim.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingIn {
    /// The rule broken: a monitoring rule's id or the reviewer's words (1 to 100 characters).
    rule: String,
    /// The flag it confirms, if any.
    flag_no: Option<u32>,
    /// The amount disallowed, yuan: more than 0 and at most what the fund still owes for the
    /// claim.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    amount: Fen,
    /// What shows it (1 to 2,000 characters).
    evidence: String,
}

/// Record a finding (claims officers and administrators: the bureau's review; the
/// institution itself with its key: its self-check). Its amount is deducted, today, from
/// what the fund owes the institution, shared between the layers that paid the claim;
/// the settlement is never edited. 201 with the finding; 422 `review.amount_above_paid`,
/// `review.claim_reversed`.
#[utoipa::path(post, path = "/api/review/findings/{institution}/{claim_id}", request_body = FindingIn, params(("institution" = String, Path), ("claim_id" = String, Path)), responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn record_finding(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((institution, claim_id)): Segments<(String, String)>,
    Body(input): Body<FindingIn>,
) -> Result<Response, ApiError> {
    let institution_code = crate::routes::institution("institution", &institution)?.to_string();
    let claim_id = crate::routes::claim_id(&institution_code, &claim_id)?;
    let input = FindingInput {
        institution_code,
        claim_id,
        rule: input.rule,
        flag_no: input.flag_no,
        amount_fen: input.amount,
        evidence: input.evidence,
    };
    reply(StatusCode::CREATED, &state.record_finding(&caller, &source(&headers), input).await?)
}

/// An institution's appeal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealIn {
    /// Why the finding is wrong (1 to 2,000 characters).
    appeal: String,
}

/// Appeal a finding on the institution's own claim (its API key), once, while it stands.
#[utoipa::path(post, path = "/api/review/findings/{institution}/{claim_id}/{finding_no}/appeal", request_body = AppealIn, params(("institution" = String, Path), ("claim_id" = String, Path), ("finding_no" = u32, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn appeal(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((institution, claim_id, finding_no)): Segments<(String, String, u32)>,
    Body(input): Body<AppealIn>,
) -> Result<Response, ApiError> {
    let institution = crate::routes::institution("institution", &institution)?;
    let claim_id = crate::routes::claim_id(&institution, &claim_id)?;
    ok(&state.appeal_finding(&caller, &source(&headers), (&institution, &claim_id, finding_no), &input.appeal).await?)
}

/// A decision on an appeal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealDecisionIn {
    /// `true`: the appeal is upheld and the deduction reversed; `false`: it stands.
    upheld: bool,
    /// Why, 1 to 2,000 characters.
    note: String,
}

/// Decide an appeal (claims officers and administrators other than the finding's
/// reviewer: 422 `review.same_reviewer`). Upheld, the deduction is reversed today.
#[utoipa::path(post, path = "/api/review/findings/{institution}/{claim_id}/{finding_no}/decision", request_body = AppealDecisionIn, params(("institution" = String, Path), ("claim_id" = String, Path), ("finding_no" = u32, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "settlements")]
pub(crate) async fn decide_appeal(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((institution, claim_id, finding_no)): Segments<(String, String, u32)>,
    Body(input): Body<AppealDecisionIn>,
) -> Result<Response, ApiError> {
    let institution = crate::routes::institution("institution", &institution)?.to_string();
    let claim_id = crate::routes::claim_id(&institution, &claim_id)?;
    ok(&state.decide_appeal(&caller, &source(&headers), (&institution, &claim_id, finding_no), input.upheld, &input.note).await?)
}
