//! Policy changes as records (issue 19) over HTTP: a policy officer proposes a new version
//! of the city's pack (its TOML text), anyone who reads versions sees it with its
//! parameter-level difference, and a second policy officer approves or rejects it. An
//! approved version is in force for the next request. Auditors and the city administrator
//! read; only policy officers write.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yibao_app::App;
use yibao_app::policy_versions::{PolicyDecision, PolicyVersion, VersionView};

use crate::auth::Caller;
use crate::contract::Segments;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, source};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalIn {
    /// The whole pack, as `yibao policy check` reads it (TOML, at most 1 MiB).
    pub text: String,
    /// Why: the notice it implements, what it changes (at most 500 characters).
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    /// The decider's reason (at most 500 characters).
    #[serde(default)]
    pub note: String,
}

/// One change a version makes to the version it was proposed on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    /// `pack.counties`, a parameter with its selector, `chronic disease …`, `catalogue item …`.
    pub subject: String,
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The first day of service it affects (yyyy-MM-dd); null for what has no dates.
    pub from: Option<String>,
    /// Whether it reaches back before today (a late claim for an earlier day of service is
    /// settled under it).
    pub reaches_back: bool,
}

/// A version with its text and its changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionOut {
    #[schema(value_type = Object)]
    pub version: PolicyVersion,
    /// The version in force now.
    pub in_force: Option<u32>,
    pub changes: Vec<ChangeOut>,
    pub text: String,
}

impl VersionOut {
    fn new(view: VersionView) -> VersionOut {
        let changes = view
            .changes
            .iter()
            .map(|c| ChangeOut {
                subject: c.subject.clone(),
                kind: c.kind.as_str(),
                before: c.before.clone(),
                after: c.after.clone(),
                from: c.from.map(|d| d.to_string()),
                reaches_back: c.reaches_back(view.today),
            })
            .collect();
        VersionOut { version: view.record, in_force: view.in_force, changes, text: view.text }
    }
}

/// The city's pack versions, newest first (the highest approved is in force).
#[utoipa::path(get, path = "/api/policy/versions", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "policy")]
pub(crate) async fn versions(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.policy_versions(&caller).await?).into_response())
}

/// Propose a new version of the city's pack: it must load, keep the city, its counties,
/// schemes and service-date rule, and change something.
#[utoipa::path(post, path = "/api/policy/versions", request_body = ProposalIn, responses((status = 201, body = VersionOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "policy")]
pub(crate) async fn propose(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<ProposalIn>,
) -> Result<Response, ApiError> {
    let view = state.propose_policy(&caller, &source(&headers), &input.text, &input.note).await?;
    Ok((StatusCode::CREATED, axum::Json(VersionOut::new(view))).into_response())
}

/// One version, with its text and what it changes against the version it was proposed on.
#[utoipa::path(get, path = "/api/policy/versions/{version}", params(("version" = u32, Path, minimum = 1)), responses((status = 200, body = VersionOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "policy")]
pub(crate) async fn version(State(state): State<App>, caller: Caller, Segments(version): Segments<u32>) -> Result<Response, ApiError> {
    Ok(axum::Json(VersionOut::new(state.policy_version(&caller, version).await?)).into_response())
}

async fn decide(
    state: &App,
    caller: &Caller,
    headers: &axum::http::HeaderMap,
    version: u32,
    decision: PolicyDecision,
    note: &str,
) -> Result<Response, ApiError> {
    Ok(axum::Json(state.decide_policy(caller, &source(headers), version, decision, note).await?).into_response())
}

/// Approve a proposed version (a policy officer other than its proposer, while the version
/// it was proposed on is still in force): it is in force for the next request.
#[utoipa::path(post, path = "/api/policy/versions/{version}/approval", request_body = DecisionIn, params(("version" = u32, Path, minimum = 1)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "policy")]
pub(crate) async fn approve(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(version): Segments<u32>,
    Body(input): Body<DecisionIn>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &headers, version, PolicyDecision::Approve, &input.note).await
}

/// Reject a proposed version (its proposer may withdraw it this way).
#[utoipa::path(post, path = "/api/policy/versions/{version}/rejection", request_body = DecisionIn, params(("version" = u32, Path, minimum = 1)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "policy")]
pub(crate) async fn reject(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(version): Segments<u32>,
    Body(input): Body<DecisionIn>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &headers, version, PolicyDecision::Reject, &input.note).await
}
