//! The fund books over HTTP (R-FND-1…4): the monthly pooling run, receipts into a fund,
//! the trial balance, movements for statements, the runs' records and the book check.
//! Fund accountants and city administrators act; auditors read. Pooling and the whole
//! books are the city's (R-FND-2); a county's staff read only the movements its own
//! business caused (R-GEO-2).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use yibao_domain::{Fen, RegionCode};
use yibao_app::books::{FundScheme, YearCloseInput, YearMonth};
use yibao_app::{FundReceipt, ReceiptKind};

use yibao_app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Params, source};

fn date(field: &str, text: &str) -> Result<Date, ApiError> {
    yibao_domain::parse_date(text)
        .map_err(|_| ApiError::bad_request("fund.bad_date", format!("{field}: '{text}' is not a date YYYY-MM-DD")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolingRunIn {
    /// `2026-05`.
    month: String,
    /// The day of the month the run is dated; default the policy's `fund.sweep_day`, else
    /// the month's last day.
    day: Option<u8>,
}

/// Run a month's pooling for the caller's city: sweep, disburse, pay. A month runs once:
/// 201 with the run, or 200 with the first run's record when it had run already.
#[utoipa::path(post, path = "/api/funds/pooling-runs", request_body = PoolingRunIn, responses((status = 201, body = Object), (status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn run_pooling(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<PoolingRunIn>,
) -> Result<Response, ApiError> {
    let month = YearMonth::parse(&input.month).map_err(|e| ApiError::bad_request("fund.bad_month", e.to_string()))?;
    let outcome = state.run_pooling(&caller, &source(&headers), month, input.day).await?;
    let status = if outcome.ran_now { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(outcome)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MonthQuery {
    /// `2026-05`.
    month: String,
    /// The day of the month the run would be dated; default the last.
    day: Option<u8>,
}

/// What running a month's pooling would do now, without doing it (a month already run
/// gives its record).
#[utoipa::path(get, path = "/api/funds/pooling-runs/preview", params(MonthQuery), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn preview_pooling(
    State(state): State<App>,
    caller: Caller,
    Params(query): Params<MonthQuery>,
) -> Result<Response, ApiError> {
    let month = YearMonth::parse(&query.month).map_err(|e| ApiError::bad_request("fund.bad_month", e.to_string()))?;
    Ok(axum::Json(state.preview_pooling(&caller, month, query.day).await?.run).into_response())
}

/// The pooling runs of the caller's city, newest first.
#[utoipa::path(get, path = "/api/funds/pooling-runs", responses((status = 200, body = Object), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn pooling_runs(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.pooling_runs(&caller).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearCloseIn {
    year: i32,
    /// The levy's share of collected pooled income; default the policy's
    /// `fund.adjustment_levy_ratio`, else `10%`.
    levy: Option<String>,
    /// City finance's share of a deficit left to finance when the county met its targets;
    /// default the policy's `fund.deficit_city_share`, else `50%`.
    city_share: Option<String>,
    /// Each county's targets and results (R-ENR-6); a county without counts as having met them.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    targets: Vec<yibao_app::books::UnitTargets>,
}

/// Close a year for the caller's city: the adjustment-fund levy, the deficit waterfall,
/// the indicators. A year closes once: 201 with the record, or 200 with the first close's.
#[utoipa::path(post, path = "/api/funds/year-closes", request_body = YearCloseIn, responses((status = 201, body = Object), (status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn close_year(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<YearCloseIn>,
) -> Result<Response, ApiError> {
    let ratio = |field: &str, text: Option<&str>| {
        text.map(|t| yibao_domain::RatioBp::parse_percent(t).map_err(|e| ApiError::bad_request("fund.bad_ratio", format!("{field}: {e}"))))
            .transpose()
    };
    let input = YearCloseInput {
        year: input.year,
        levy: ratio("levy", input.levy.as_deref())?,
        city_share: ratio("city_share", input.city_share.as_deref())?,
        targets: input.targets,
    };
    let outcome = state.close_year(&caller, &source(&headers), input).await?;
    let status = if outcome.ran_now { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(outcome)).into_response())
}

/// The year-end closes of the caller's city, newest first.
#[utoipa::path(get, path = "/api/funds/year-closes", responses((status = 200, body = Object), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn year_closes(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.year_closes(&caller).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsIn {
    year: i32,
    /// The county.
    unit: String,
    /// Persons to be insured (扩面任务).
    enrolment_target: u32,
    /// Contributions to be collected, yuan (征收任务).
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    collection_target: Fen,
}

/// Set or revise a county's targets for a year (R-ENR-6); the year-end close scores the
/// counties by them.
#[utoipa::path(put, path = "/api/funds/targets", request_body = TargetsIn, responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn set_targets(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<TargetsIn>,
) -> Result<Response, ApiError> {
    let targets = yibao_app::CountyTargets {
        year: input.year,
        unit: input.unit,
        enrolment_target: input.enrolment_target,
        collection_target_fen: input.collection_target.get(),
    };
    Ok(axum::Json(state.set_targets(&caller, &source(&headers), targets).await?).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct YearQuery {
    year: i32,
}

/// The counties' targets for a year and how far each has come: enrolment and collection
/// rates.
#[utoipa::path(get, path = "/api/funds/targets", params(YearQuery), responses((status = 200, body = Object), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn targets(State(state): State<App>, caller: Caller, Params(query): Params<YearQuery>) -> Result<Response, ApiError> {
    Ok(axum::Json(state.targets(&caller, query.year).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetIn {
    year: i32,
    /// The fund: `resident`, `employee`, `maternity`…
    scheme: String,
    /// A county, or the city itself.
    unit: String,
    /// Planned income, yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    income: Fen,
    /// Planned spending, yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    spending: Fen,
}

/// Set or revise a fund's budget for a year and unit (R-FND-3).
#[utoipa::path(put, path = "/api/funds/budgets", request_body = BudgetIn, responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn set_budget(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<BudgetIn>,
) -> Result<Response, ApiError> {
    let budget = yibao_app::Budget {
        year: input.year,
        fund_scheme: input.scheme,
        unit: input.unit,
        income_fen: input.income.get(),
        spending_fen: input.spending.get(),
    };
    Ok(axum::Json(state.set_budget(&caller, &source(&headers), budget).await?).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExecutionQuery {
    year: i32,
    /// Through which month; default 12 (the final accounts).
    month: Option<u8>,
}

/// Budget execution month by month (R-FND-3): every budget of the year in the caller's
/// region, with what was booked against it so far.
#[utoipa::path(get, path = "/api/funds/budgets", params(ExecutionQuery), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn budget_execution(
    State(state): State<App>,
    caller: Caller,
    Params(query): Params<ExecutionQuery>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(state.budget_execution(&caller, query.year, query.month.unwrap_or(12)).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverIn {
    /// The fund handed over, e.g. `ncms`.
    from: String,
    /// The fund receiving it, e.g. `resident`.
    to: String,
    /// `YYYY-MM-DD`.
    cut_off: String,
    reference: String,
}

fn scheme(field: &str, text: &str) -> Result<FundScheme, ApiError> {
    FundScheme::parse(text).ok_or_else(|| ApiError::bad_request("fund.bad_scheme", format!("{field}: '{text}' is not a fund")))
}

/// Prepare and sign the inventory of a fund to hand over at its cut-off (R-FND-7).
#[utoipa::path(post, path = "/api/funds/handovers", request_body = HandoverIn, responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "funds")]
pub(crate) async fn prepare_handover(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<HandoverIn>,
) -> Result<Response, ApiError> {
    let request = yibao_app::books::HandoverRequest {
        from: scheme("from", &input.from)?,
        to: scheme("to", &input.to)?,
        cut_off: date("cut_off", &input.cut_off)?,
        reference: input.reference,
    };
    let inventory = state.prepare_handover(&caller, &source(&headers), request).await?;
    Ok((StatusCode::CREATED, axum::Json(inventory)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationIn {
    /// The signed inventory's checksum, as the receiving side read it.
    checksum: String,
}

/// The receiving side confirms a handover with the inventory's checksum; every balance
/// then moves to the receiving fund.
#[utoipa::path(post, path = "/api/funds/handovers/{reference}/confirmation", request_body = ConfirmationIn, params(("reference" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "funds")]
pub(crate) async fn confirm_handover(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    axum::extract::Path(reference): axum::extract::Path<String>,
    Body(input): Body<ConfirmationIn>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(state.confirm_handover(&caller, &source(&headers), &reference, &input.checksum).await?).into_response())
}

/// The handovers of the caller's city, with their inventories.
#[utoipa::path(get, path = "/api/funds/handovers", responses((status = 200, body = Object), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn handovers(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    Ok(axum::Json(state.handovers(&caller).await?).into_response())
}

/// Establish a county's legacy deficit with its repayment terms (R-FND-6).
#[utoipa::path(post, path = "/api/funds/legacy-deficits", request_body = Object, responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "funds")]
pub(crate) async fn establish_legacy_deficit(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(request): Body<yibao_app::books::LegacyRequest>,
) -> Result<Response, ApiError> {
    let view = state.establish_legacy_deficit(&caller, &source(&headers), request).await?;
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepaymentIn {
    /// `YYYY-MM-DD`.
    on: String,
    /// Yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    amount: Fen,
    /// The voucher; the same one again is a replay.
    reference: String,
}

/// Book a repayment (or the city's withholding) of a county's legacy gap.
#[utoipa::path(post, path = "/api/funds/legacy-deficits/{scheme}/{county}/repayments", request_body = RepaymentIn, params(("scheme" = String, Path), ("county" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn record_legacy_repayment(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    axum::extract::Path((fund, county)): axum::extract::Path<(String, String)>,
    Body(input): Body<RepaymentIn>,
) -> Result<Response, ApiError> {
    let county = RegionCode::parse(&county).map_err(|e| ApiError::bad_request("fund.bad_unit", e.to_string()))?;
    let repayment = yibao_app::books::LegacyRepayment {
        scheme: scheme("scheme", &fund)?,
        county,
        on: date("on", &input.on)?,
        amount_fen: input.amount,
        reference: input.reference,
    };
    let view = state.record_legacy_repayment(&caller, &source(&headers), repayment).await?;
    Ok(axum::Json(view).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AsOfQuery {
    /// `YYYY-MM-DD`; default today.
    as_of: Option<String>,
}

/// What each county in the caller's region still owes of its legacy deficit, and any
/// missed instalment.
#[utoipa::path(get, path = "/api/funds/legacy-deficits", params(AsOfQuery), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn legacy_deficits(
    State(state): State<App>,
    caller: Caller,
    Params(query): Params<AsOfQuery>,
) -> Result<Response, ApiError> {
    let as_of = query.as_of.map(|text| date("as_of", &text)).transpose()?;
    Ok(axum::Json(state.legacy_deficits(&caller, as_of).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterestIn {
    /// First day, `YYYY-MM-DD`.
    from: String,
    /// Last day, `YYYY-MM-DD`.
    to: String,
    /// The annual rate in force, e.g. `1.5%`.
    rate: String,
}

/// Credit each of the city's funds the interest on its special account's daily balance
/// (R-SCH-2: each fund separately). The same period again changes nothing.
#[utoipa::path(post, path = "/api/funds/interest", request_body = InterestIn, responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn credit_interest(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<InterestIn>,
) -> Result<Response, ApiError> {
    let (from, to) = (date("from", &input.from)?, date("to", &input.to)?);
    let rate =
        yibao_domain::RatioBp::parse_percent(&input.rate).map_err(|e| ApiError::bad_request("fund.bad_ratio", format!("rate: {e}")))?;
    Ok(axum::Json(state.credit_interest(&caller, &crate::routes::source(&headers), from, to, rate).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptIn {
    /// `opening-balance` or `finance-advance`.
    #[schema(value_type = String)]
    kind: ReceiptKind,
    /// The fund: `employee`, `resident`, `maternity`, `resident-critical-illness`…
    scheme: String,
    /// The unit whose money it is: a county, or the city itself.
    #[schema(value_type = String)]
    unit: RegionCode,
    /// Yuan, two decimals.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    amount: Fen,
    /// Value date, `YYYY-MM-DD`.
    date: String,
    /// The voucher it is booked on; booking the same one again changes nothing.
    reference: String,
}

/// Book a receipt into a fund's special account: the opening balance brought in when the
/// books start (R-SYS-3), or an advance from city finance (R-FND-5).
#[utoipa::path(post, path = "/api/funds/receipts", request_body = ReceiptIn, responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn record_receipt(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<ReceiptIn>,
) -> Result<Response, ApiError> {
    let scheme = FundScheme::parse(&input.scheme)
        .ok_or_else(|| ApiError::bad_request("fund.bad_scheme", format!("'{}' is not a fund", input.scheme)))?;
    let receipt = FundReceipt {
        kind: input.kind,
        scheme,
        unit: input.unit,
        amount_fen: input.amount,
        value_date: date("date", &input.date)?,
        reference: input.reference,
    };
    state.record_receipt(&caller, &crate::routes::source(&headers), receipt).await?;
    Ok((StatusCode::CREATED, axum::Json(serde_json::json!({"booked": true}))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    fund: String,
    holder: String,
    kind: String,
    kind_zh: String,
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    debits: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    credits: Fen,
    /// On the account kind's normal side; negative means overdrawn or owed back.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(value_type = String)]
    balance: Fen,
}

/// The trial balance of the caller's city: every account with its totals and balance.
#[utoipa::path(get, path = "/api/funds/accounts", responses((status = 200, body = [AccountOut]), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn accounts(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    let accounts = state.fund_accounts(&caller).await?;
    let out: Vec<AccountOut> = accounts
        .iter()
        .map(|a| {
            let key = a.key();
            AccountOut {
                fund: key.fund.to_string(),
                holder: key.holder.to_string(),
                kind: key.kind.as_str().into(),
                kind_zh: key.kind.name_zh().into(),
                debits: a.debits_posted_fen,
                credits: a.credits_posted_fen,
                balance: a.balance_fen(),
            }
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD`.
    from: String,
    /// Last day, `YYYY-MM-DD`.
    to: String,
}

/// Movements by fund, unit and reason over a period: what a fund statement is made of. A
/// county's staff see their own county's.
#[utoipa::path(get, path = "/api/funds/movements", params(PeriodQuery), responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn movements(
    State(state): State<App>,
    caller: Caller,
    Params(query): Params<PeriodQuery>,
) -> Result<Response, ApiError> {
    let (from, to) = (date("from", &query.from)?, date("to", &query.to)?);
    Ok(axum::Json(state.fund_movements(&caller, from, to).await?).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut {
    sound: bool,
    accounts: usize,
    transfers: usize,
    breaches: Vec<String>,
}

/// Check every ledger invariant over the caller's city's books (R-SCH-2, R-SYS-6).
#[utoipa::path(get, path = "/api/funds/check", responses((status = 200, body = CheckOut), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn check(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    let verification = state.check_books(&caller).await?;
    let breaches: Vec<String> = verification.breaches.iter().map(|b| format!("[{}] {b}", b.code())).collect();
    Ok(axum::Json(CheckOut { sound: breaches.is_empty(), accounts: verification.accounts, transfers: verification.transfers, breaches })
        .into_response())
}
