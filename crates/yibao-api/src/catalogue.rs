//! The dated national catalogue over HTTP (issue 13): a policy officer uploads the national
//! list's file (its bytes as the body; `file` names its format), every staff role reads an
//! item's versions, and the readers of policy see the loads. The rules are the
//! application's (`App::load_catalogue`); this module only translates.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yibao_app::catalogue::{CatalogueReport, ItemHistory};
use yibao_app::policy::CatalogueItem;
use yibao_app::{App, AppError};
use yibao_domain::{InstitutionLevel, ItemKind};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Params, Segments, source};

/// The largest file uploaded (the national lists together are about 30 MB as xlsx).
pub const UPLOAD_BYTES_MAX: usize = 64 << 20;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoadQuery {
    /// The file's name: its extension says its format (`.csv`, `.xlsx`, `.xls`, `.ods`).
    file: String,
    /// The document that published the list (a notice's number and title).
    cite: String,
    /// Check and count only; write nothing.
    #[serde(default)]
    dry_run: bool,
}

/// A load's answer: counts, whether it was written, and the rows to fix.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueLoadOut {
    /// `catalogue.rows_refused` when rows are wrong; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[schema(value_type = Object)]
    report: CatalogueReport,
}

/// Load a national catalogue file (the body is the file, as it came): every row checked,
/// merged into the catalogue and checked whole. A policy officer's clean file is kept as a
/// proposal (202, `report.proposal`) until another policy officer approves it
/// (`POST /api/catalogue/proposals/{seq}/approval`). 200: a dry run's counts; 422: a file
/// that cannot be read, or rows to fix (`code` `catalogue.rows_refused` and the `report`
/// with its `errors`), nothing written.
#[utoipa::path(post, path = "/api/catalogue/loads", params(LoadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses((status = 202, body = CatalogueLoadOut), (status = 201, body = CatalogueLoadOut), (status = 200, body = CatalogueLoadOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "a file that cannot be read, or rows to fix (`catalogue.rows_refused`, with the `report` beside `code` and `message`)")), tag = "catalogue")]
pub(crate) async fn load(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Params(query): Params<LoadQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let report = state.load_catalogue(&caller, &source(&headers), &query.file, body.to_vec(), &query.cite, query.dry_run).await?;
    report_response(report)
}

/// A report as the answer: 201 written, 202 proposed, 422 rows to fix, 200 a dry run.
fn report_response(report: CatalogueReport) -> Result<Response, ApiError> {
    let status = if report.loaded {
        StatusCode::CREATED
    } else if report.proposal.is_some() && report.error_count == 0 {
        StatusCode::ACCEPTED
    } else if report.error_count > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    // Rows to fix answer as a refusal does (its code, its message in Chinese, the default
    // language of refusals), with the report beside them.
    let (code, message) = if report.error_count > 0 {
        let refusal = AppError::unprocessable("catalogue.rows_refused", format!("{} rows to fix: nothing was loaded", report.error_count));
        (Some("catalogue.rows_refused"), Some(yibao_app::messages::message(yibao_app::Language::Zh, &refusal.code, &refusal.message)))
    } else {
        (None, None)
    };
    Ok((status, axum::Json(CatalogueLoadOut { code, message, report })).into_response())
}

/// The latest proposed loads, newest first (without their files).
#[utoipa::path(get, path = "/api/catalogue/proposals", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "catalogue")]
pub(crate) async fn proposals(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.catalogue_proposals(&caller).await?).into_response())
}

/// A proposal and what approving it would change now, version by version (at most 500;
/// `change_count` says how many), with `current` false when a load came since it was
/// proposed (it cannot be approved then).
#[utoipa::path(get, path = "/api/catalogue/proposals/{seq}", params(("seq" = i64, Path, minimum = 1, description = "the proposal's number")), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "catalogue")]
pub(crate) async fn proposal(State(state): State<App>, caller: Caller, Segments(seq): Segments<String>) -> Result<Response, ApiError> {
    Ok(axum::Json(state.catalogue_proposal(&caller, proposal_number(&seq)?).await?).into_response())
}

/// Approve a proposed load: a policy officer other than the proposer. The file is merged
/// into the catalogue as it is now: 201 in force; 422 with its rows to fix if it no longer
/// fits (it stays proposed).
#[utoipa::path(post, path = "/api/catalogue/proposals/{seq}/approval", params(("seq" = i64, Path, minimum = 1, description = "the proposal's number")), responses((status = 201, body = CatalogueLoadOut), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "catalogue")]
pub(crate) async fn approve(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(seq): Segments<String>,
) -> Result<Response, ApiError> {
    let report = state.approve_catalogue(&caller, &source(&headers), proposal_number(&seq)?).await?;
    report_response(report)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueRejectionIn {
    /// Why: one line of 1 to 500 characters.
    note: String,
}

/// Reject a proposed load, saying why (its proposer may withdraw it so too).
#[utoipa::path(post, path = "/api/catalogue/proposals/{seq}/rejection", params(("seq" = i64, Path, minimum = 1, description = "the proposal's number")), request_body = CatalogueRejectionIn, responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "catalogue")]
pub(crate) async fn reject(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(seq): Segments<String>,
    crate::routes::Body(input): crate::routes::Body<CatalogueRejectionIn>,
) -> Result<Response, ApiError> {
    let proposal = state.reject_catalogue(&caller, &source(&headers), proposal_number(&seq)?, &input.note).await?;
    Ok(axum::Json(proposal).into_response())
}

/// A proposal's number from the path.
fn proposal_number(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|seq| *seq > 0)
        .ok_or_else(|| AppError::bad_request("request.malformed", format!("'{text}' is not a proposal number")).into())
}

/// The latest catalogue loads, newest first.
#[utoipa::path(get, path = "/api/catalogue/loads", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "catalogue")]
pub(crate) async fn loads(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.catalogue_loads(&caller).await?).into_response())
}

/// An item's terms as the wire shows them: amounts in yuan, shares as percentages.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueTermsOut {
    name: String,
    /// `A`, `B` or `C`.
    class: String,
    restricted: bool,
    /// 谈判药品 (`hi_nego_drug_flag`): its price cap is the negotiated price (R-PAY-2).
    negotiated: bool,
    /// Class B: the item's own first self-pay share (`10%`); null: the pack's.
    selfpay_share: Option<String>,
    /// Price caps in yuan by institution level (`township`, `primary`, `secondary`, `tertiary`).
    price_cap: std::collections::BTreeMap<&'static str, String>,
}

impl CatalogueTermsOut {
    fn new(item: &CatalogueItem) -> CatalogueTermsOut {
        CatalogueTermsOut {
            name: item.name.clone(),
            class: format!("{:?}", item.class),
            restricted: item.restricted,
            negotiated: item.negotiated,
            selfpay_share: item.selfpay_share.map(|share| share.to_string()),
            price_cap: InstitutionLevel::ALL
                .iter()
                .filter_map(|level| item.price_cap[*level as usize].map(|cap| (level.as_str(), cap.to_string())))
                .collect(),
        }
    }
}

/// One catalogue version.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueVersionOut {
    #[serde(flatten)]
    terms: CatalogueTermsOut,
    /// `101` medicines, `201` service items, `301` consumables.
    list_type: &'static str,
    /// Null: national.
    region: Option<String>,
    begndate: String,
    enddate: Option<String>,
    cite: String,
}

/// What the catalogue holds of one code.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueItemOut {
    code: String,
    list_type: Option<&'static str>,
    /// The pack's own item: read before the catalogue over the pack's whole period.
    pack_item: Option<CatalogueTermsOut>,
    /// The catalogue's versions that apply in the city, by region (nation, province, city)
    /// then first day.
    versions: Vec<CatalogueVersionOut>,
}

/// An item's versions: what a claim line of it reads on each date of service.
#[utoipa::path(get, path = "/api/catalogue/items/{code}", params(("code" = String, Path, pattern = "^[A-Z0-9]{1,27}$", description = "the national code")), responses((status = 200, body = CatalogueItemOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "catalogue")]
pub(crate) async fn item(State(state): State<App>, caller: Caller, Segments(code): Segments<String>) -> Result<Response, ApiError> {
    crate::contract::shaped("code", crate::contract::ITEM_CODE, &code)?;
    let ItemHistory { pack_item, versions } = state.catalogue_item(&caller, &code)?;
    let parsed = yibao_domain::ItemCode::parse(&code).ok();
    let out = CatalogueItemOut {
        list_type: parsed.as_ref().and_then(ItemKind::of).map(ItemKind::list_type),
        code,
        pack_item: pack_item.as_ref().map(CatalogueTermsOut::new),
        versions: versions
            .iter()
            .map(|v| CatalogueVersionOut {
                terms: CatalogueTermsOut::new(&v.item),
                list_type: v.kind.list_type(),
                region: v.region.map(|r| r.to_string()),
                begndate: v.from.to_string(),
                enddate: v.until.map(|d| d.to_string()),
                cite: v.cite.clone(),
            })
            .collect(),
    };
    Ok(axum::Json(out).into_response())
}
