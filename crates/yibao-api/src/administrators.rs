//! Commercial administrators over HTTP (issue 18): contracts, entries, the review
//! selection and the bureau's sample of a quarter, and the quarter's score. The rules are
//! the application's (`App::sign_contract`, `App::score_quarter`, …); this module only
//! translates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use yibao_app::App;
use yibao_app::administrators::{BandTerm, ContractTerms, EntryInput, EntryKind, KpiTerm, Measure, Quarter, ReviewTerms, Tender};
use yibao_domain::{Fen, RegionCode, serde_yuan};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Segments, source};
use crate::wire::{ok, reply};

/// The public tender that chose the administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenderIn {
    /// The procurement notice's number.
    reference: String,
    #[schema(value_type = String, format = Date, example = "2026-01-10")]
    awarded_on: time::Date,
    #[schema(minimum = 1)]
    bidders: u32,
}

/// How the administrator reviews, and the bureau samples.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewTermsIn {
    /// Every claim whose fund payment reaches this (yuan) is reviewed.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    threshold: Fen,
    /// The share of the rest the administrator samples, basis points.
    #[schema(minimum = 0, maximum = 10_000)]
    sample_rate_bp: u32,
    /// The seed its sample is drawn with, recorded so the draw can be repeated.
    seed: u64,
    /// The share of a quarter's claims the bureau's audit samples, basis points.
    #[schema(minimum = 1, maximum = 10_000)]
    bureau_sample_rate_bp: u32,
}

/// An indicator of the contract.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiIn {
    /// `payment-days` or `review-days` (hundredths of a day), `error-rate` (bp),
    /// `complaints` (a count), `satisfaction` (bp of full marks).
    #[schema(pattern = "^(payment-days|review-days|error-rate|complaints|satisfaction)$")]
    measure: String,
    #[schema(minimum = 0, maximum = 10_000)]
    weight_bp: u32,
    target: u64,
}

/// A band of the contract's rewards.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BandIn {
    #[schema(minimum = 0, maximum = 10_000)]
    from_score_bp: u32,
    /// A reward above zero, a penalty below, bp of the quarter's fee.
    #[schema(minimum = -10_000, maximum = 10_000)]
    adjustment_bp: i32,
}

/// A contract as the city's administrator signs it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractIn {
    /// The administrator's code: upper-case letters and digits.
    #[schema(pattern = "^[A-Z0-9]{1,16}$", example = "PICC419900")]
    code: String,
    name: String,
    tender: TenderIn,
    #[schema(value_type = String, format = Date, example = "2026-01-20")]
    signed_on: time::Date,
    #[schema(value_type = String, format = Date, example = "2026-01-01")]
    from: time::Date,
    #[schema(value_type = String, format = Date, example = "2026-12-31")]
    until: time::Date,
    #[schema(value_type = Vec<String>, example = json!(["419921"]))]
    counties: Vec<String>,
    /// `resident`, `employee`, `ncms`, `urban-resident`.
    schemes: Vec<String>,
    /// The administration fee per insured person and year, yuan.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    fee_per_insured: Fen,
    /// The revolving fund, yuan.
    #[serde(with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    revolving_fund: Fen,
    /// The supplementary insurance premium per person with supplementary cover and year,
    /// yuan, when the administrator also underwrites the supplementary layer (the seed's
    /// 10.00); absent or 0.00 when it does not.
    #[serde(default, with = "serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    supplementary_premium: Fen,
    review: ReviewTermsIn,
    kpis: Vec<KpiIn>,
    bands: Vec<BandIn>,
    #[schema(minimum = 0, maximum = 10_000)]
    renewal_floor_bp: u32,
}

impl ContractIn {
    fn into_terms(self) -> Result<ContractTerms, ApiError> {
        let counties = self
            .counties
            .iter()
            .map(|c| RegionCode::parse(c).map_err(|e| bad_terms(format!("counties: {e}"))))
            .collect::<Result<_, _>>()?;
        let schemes = self
            .schemes
            .iter()
            .map(|s| yibao_ledger_scheme(s).ok_or_else(|| bad_terms(format!("schemes: '{s}' is not a scheme"))))
            .collect::<Result<_, _>>()?;
        let kpis = self
            .kpis
            .iter()
            .map(|k| {
                let measure = Measure::ALL
                    .into_iter()
                    .find(|m| m.as_str() == k.measure)
                    .ok_or_else(|| crate::contract::malformed(format!("kpis: '{}' is not a measure", k.measure)))?;
                Ok(KpiTerm { measure, weight_bp: k.weight_bp, target: k.target })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(ContractTerms {
            code: self.code,
            name: self.name,
            tender: Tender { reference: self.tender.reference, awarded_on: self.tender.awarded_on, bidders: self.tender.bidders },
            signed_on: self.signed_on,
            from: self.from,
            until: self.until,
            counties,
            schemes,
            fee_per_insured_fen: self.fee_per_insured,
            revolving_fund_fen: self.revolving_fund,
            supplementary_premium_fen: self.supplementary_premium,
            review: ReviewTerms {
                threshold_fen: self.review.threshold,
                sample_rate_bp: self.review.sample_rate_bp,
                seed: self.review.seed,
                bureau_sample_rate_bp: self.review.bureau_sample_rate_bp,
            },
            kpis,
            bands: self.bands.iter().map(|b| BandTerm { from_score_bp: b.from_score_bp, adjustment_bp: b.adjustment_bp }).collect(),
            renewal_floor_bp: self.renewal_floor_bp,
        })
    }
}

/// A readable contract whose terms the rules refuse: 422, like every other term.
fn bad_terms(why: String) -> ApiError {
    ApiError::from(yibao_app::AppError::unprocessable("administrator.bad_terms", why))
}

fn yibao_ledger_scheme(text: &str) -> Option<yibao_app::administrators::FundScheme> {
    yibao_app::administrators::FundScheme::ALL.into_iter().find(|s| s.as_str() == text)
}

fn quarter(text: &str) -> Result<Quarter, ApiError> {
    Quarter::parse(text).ok_or_else(|| crate::contract::malformed(format!("quarter: '{text}' is not YYYYQn")))
}

/// Sign a contract with a commercial administrator won by public tender (the city's
/// administrators): 201 with the contract and the administrator's API key, shown once.
#[utoipa::path(post, path = "/api/administrators", request_body = ContractIn, responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn sign(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<ContractIn>,
) -> Result<Response, ApiError> {
    let terms = input.into_terms()?;
    reply(StatusCode::CREATED, &state.sign_contract(&caller, &source(&headers), terms).await?)
}

/// The city's administrators under contract: its staff; an administrator sees its own.
#[utoipa::path(get, path = "/api/administrators", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "administration")]
pub(crate) async fn list(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    ok(&state.contracts(&caller).await?)
}

/// One administrator's contract.
#[utoipa::path(get, path = "/api/administrators/{code}", params(("code" = String, Path)), responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "administration")]
pub(crate) async fn contract(State(state): State<App>, caller: Caller, Segments(code): Segments<String>) -> Result<Response, ApiError> {
    ok(&state.contract(&caller, &code).await?)
}

/// A complaint or a survey answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryIn {
    /// `complaint` or `survey`.
    #[schema(pattern = "^(complaint|survey)$")]
    kind: String,
    #[schema(value_type = String, format = Date, example = "2026-11-02")]
    on: time::Date,
    /// A survey's score, basis points of full marks.
    #[schema(minimum = 0, maximum = 10_000)]
    score_bp: Option<u32>,
    note: String,
}

/// Record a complaint against an administrator or a survey answer (claims officers and
/// the city's administrators): counted in its quarter's score.
#[utoipa::path(post, path = "/api/administrators/{code}/entries", request_body = EntryIn, params(("code" = String, Path)), responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn record_entry(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
    Body(input): Body<EntryIn>,
) -> Result<Response, ApiError> {
    let kind = match input.kind.as_str() {
        "complaint" => EntryKind::Complaint,
        "survey" => EntryKind::Survey,
        other => return Err(crate::contract::malformed(format!("kind: '{other}' is not complaint or survey"))),
    };
    let input = EntryInput { kind, on: input.on, score_bp: input.score_bp, note: input.note };
    reply(StatusCode::CREATED, &state.record_performance_entry(&caller, &source(&headers), &code, input).await?)
}

/// The claims of a quarter the administrator reviews: every covered claim at or above its
/// threshold and its keyed sample of the rest (the administrator itself, or claims staff).
#[utoipa::path(get, path = "/api/administrators/{code}/quarters/{quarter}/selection", params(("code" = String, Path), ("quarter" = String, Path, example = "2026Q4")), responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn selection(
    State(state): State<App>,
    caller: Caller,
    Segments((code, q)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    ok(&state.review_selection(&caller, &code, quarter(&q)?).await?)
}

/// The bureau's audit sample of an administrator's quarter (claims staff; never the
/// administrator).
#[utoipa::path(get, path = "/api/administrators/{code}/quarters/{quarter}/bureau-sample", params(("code" = String, Path), ("quarter" = String, Path, example = "2026Q4")), responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn bureau_sample(
    State(state): State<App>,
    caller: Caller,
    Segments((code, q)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    ok(&state.bureau_sample(&caller, &code, quarter(&q)?).await?)
}

/// Score a quarter that is over (the city's administrators and fund accountants): its
/// indicators from the system's records, the score, the fee with its reward or penalty
/// posted to the fund books, and the renewal it recommends; once (422
/// `administrator.quarter_scored`). When the insurer underwrites the supplementary layer,
/// each county's premium and what the insurer pays back for the layer (`supplementary`)
/// post with it.
#[utoipa::path(post, path = "/api/administrators/{code}/quarters/{quarter}/score", params(("code" = String, Path), ("quarter" = String, Path, example = "2026Q4")), responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "administration")]
pub(crate) async fn score(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments((code, q)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    reply(StatusCode::CREATED, &state.score_quarter(&caller, &source(&headers), &code, quarter(&q)?).await?)
}

/// An administrator's scored quarters, latest first.
#[utoipa::path(get, path = "/api/administrators/{code}/quarters", params(("code" = String, Path)), responses((status = 200, body = [Object]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "administration")]
pub(crate) async fn quarters(State(state): State<App>, caller: Caller, Segments(code): Segments<String>) -> Result<Response, ApiError> {
    ok(&state.quarters(&caller, &code).await?)
}

/// Top an administrator's revolving fund (周转金) up to its contract's size from each
/// scheme's fiscal special account (the city's administrators and fund accountants): the
/// first advance, then after each month's payments.
#[utoipa::path(post, path = "/api/administrators/{code}/revolving-fund/top-up", params(("code" = String, Path)), responses((status = 200, body = [Object]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn top_up(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
) -> Result<Response, ApiError> {
    ok(&state.top_up_revolving_fund(&caller, &source(&headers), &code).await?)
}

/// The administrator pays the institutions of its counties what the fund owes them today
/// from its revolving fund, as far as it holds (its own key); a claim a monitoring hold
/// still holds is not paid. The month's pooling run then leaves them to it.
#[utoipa::path(post, path = "/api/administrators/{code}/revolving-fund/payments", params(("code" = String, Path)), responses((status = 200, body = [Object]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn pay(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Segments(code): Segments<String>,
) -> Result<Response, ApiError> {
    ok(&state.pay_from_revolving_fund(&caller, &source(&headers), &code).await?)
}

/// An administrator's revolving fund: each scheme's size, balance and bookings (the
/// administrator itself, or the city's fund readers).
#[utoipa::path(get, path = "/api/administrators/{code}/revolving-fund", params(("code" = String, Path)), responses((status = 200, body = [Object]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), tag = "funds")]
pub(crate) async fn revolving_fund(
    State(state): State<App>,
    caller: Caller,
    Segments(code): Segments<String>,
) -> Result<Response, ApiError> {
    ok(&state.revolving_fund(&caller, &code).await?)
}
