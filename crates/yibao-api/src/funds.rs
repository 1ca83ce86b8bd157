//! The fund books over HTTP (R-FND-1…4): the monthly pooling run, receipts into a fund,
//! the trial balance, movements for statements, the runs' records and the book check.
//! Fund accountants and city administrators act; auditors read. Pooling and the whole
//! books are the city's (R-FND-2); a county's staff read only the movements its own
//! business caused (R-GEO-2).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yibao_app::books::{FundScheme, YearCloseInput, YearMonth};
use yibao_app::{FundReceipt, ReceiptKind};
use yibao_domain::{Fen, RegionCode};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, Params, source};
use yibao_app::App;

use crate::contract::{date, shaped};
use crate::wire::{ExecutionOut, LegacyOut, ok, reply};

/// A month `YYYY-MM`: its shape or 400, a month the books know or 422 `fund.bad_month`.
fn month(text: &str) -> Result<YearMonth, ApiError> {
    YearMonth::parse(shaped("month", crate::contract::MONTH, text)?)
        .map_err(|e| ApiError::from(yibao_app::AppError::bad_request("fund.bad_month", e.to_string())))
}

/// A percentage: its shape or 400, at most 100% or 422 `fund.bad_ratio`.
fn ratio(field: &str, text: &str) -> Result<yibao_domain::RatioBp, ApiError> {
    yibao_domain::RatioBp::parse_percent(shaped(field, crate::contract::PERCENT, text)?)
        .map_err(|e| ApiError::from(yibao_app::AppError::bad_request("fund.bad_ratio", format!("{field}: {e}"))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolingRunIn {
    /// `2026-05`.
    #[schema(schema_with = crate::contract::month)]
    month: String,
    /// The day of the month the run is dated; default the policy's `fund.sweep_day`, else
    /// the month's last day.
    #[schema(minimum = 1, maximum = 31)]
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
    let outcome = state.run_pooling(&caller, &source(&headers), month(&input.month)?, input.day).await?;
    let status = if outcome.ran_now { StatusCode::CREATED } else { StatusCode::OK };
    reply(status, &outcome)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// `2026-05`.
    month: String,
    /// The day of the month the run would be dated; default the last.
    #[param(minimum = 1, maximum = 31)]
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
    ok(&state.preview_pooling(&caller, month(&query.month)?, query.day).await?.run)
}

/// The pooling runs of the caller's city, newest first.
#[utoipa::path(get, path = "/api/funds/pooling-runs", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn pooling_runs(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    ok(&state.pooling_runs(&caller).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearCloseIn {
    year: i32,
    /// The levy's share of collected pooled income; default the policy's
    /// `fund.adjustment_levy_ratio`, else `10%`.
    #[schema(schema_with = crate::contract::percent_opt)]
    levy: Option<String>,
    /// City finance's share of a deficit left to finance when the county met its targets;
    /// default the policy's `fund.deficit_city_share`, else `50%`.
    #[schema(schema_with = crate::contract::percent_opt)]
    city_share: Option<String>,
    /// Each county's targets and results (R-ENR-6); a county without counts as having met them.
    #[serde(default)]
    targets: Vec<crate::wire::UnitTargetsIn>,
}

fn close_input(input: YearCloseIn) -> Result<YearCloseInput, ApiError> {
    Ok(YearCloseInput {
        year: input.year,
        levy: input.levy.as_deref().map(|t| ratio("levy", t)).transpose()?,
        city_share: input.city_share.as_deref().map(|t| ratio("city_share", t)).transpose()?,
        targets: input.targets.into_iter().map(Into::into).collect(),
    })
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
    let outcome = state.close_year(&caller, &source(&headers), close_input(input)?).await?;
    let status = if outcome.ran_now { StatusCode::CREATED } else { StatusCode::OK };
    reply(status, &outcome)
}

/// What closing a year would do now, as the books stand, without doing it (a dry run): the
/// levy, the deficit waterfall and the indicators the close would post. A year already
/// closed gives its close's record, with `closed: true`.
#[utoipa::path(post, path = "/api/funds/year-closes/preview", request_body = YearCloseIn, responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), tag = "funds")]
pub(crate) async fn preview_year_end(
    State(state): State<App>,
    caller: Caller,
    Body(input): Body<YearCloseIn>,
) -> Result<Response, ApiError> {
    ok(&state.preview_year_end(&caller, close_input(input)?).await?)
}

/// The year-end closes of the caller's city, newest first.
#[utoipa::path(get, path = "/api/funds/year-closes", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn year_closes(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    ok(&state.year_closes(&caller).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsIn {
    year: i32,
    /// The county.
    #[schema(schema_with = crate::contract::region)]
    unit: String,
    /// Persons to be insured (扩面任务).
    enrolment_target: u32,
    /// Contributions to be collected, yuan (征收任务).
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
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
        unit: shaped("unit", crate::contract::REGION, &input.unit)?.to_owned(),
        enrolment_target: input.enrolment_target,
        collection_target_fen: input.collection_target.get(),
    };
    ok(&state.set_targets(&caller, &source(&headers), targets).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    year: i32,
}

/// The counties' targets for a year and how far each has come: enrolment and collection
/// rates.
#[utoipa::path(get, path = "/api/funds/targets", params(YearQuery), responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn targets(State(state): State<App>, caller: Caller, Params(query): Params<YearQuery>) -> Result<Response, ApiError> {
    ok(&state.targets(&caller, query.year).await?)
}

/// The early-warning indicators of every fund and unit at the end of each month of a year
/// so far (R-FND-4): the year's income, spending and accumulated surplus through the month,
/// the current surplus rate, the months of spending the surplus covers, and the warnings
/// against the pack's thresholds.
#[utoipa::path(get, path = "/api/funds/indicators", params(YearQuery), responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn monthly_indicators(
    State(state): State<App>,
    caller: Caller,
    Params(query): Params<YearQuery>,
) -> Result<Response, ApiError> {
    ok(&state.monthly_indicators(&caller, query.year).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetIn {
    year: i32,
    /// The fund: `resident`, `employee`, `maternity`…
    #[schema(schema_with = crate::contract::fund)]
    scheme: String,
    /// A county, or the city itself.
    #[schema(schema_with = crate::contract::region)]
    unit: String,
    /// Planned income, yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    income: Fen,
    /// Planned spending, yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
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
        fund_scheme: scheme("scheme", &input.scheme)?.as_str().to_owned(),
        unit: shaped("unit", crate::contract::REGION, &input.unit)?.to_owned(),
        income_fen: input.income.get(),
        spending_fen: input.spending.get(),
    };
    ok(&state.set_budget(&caller, &source(&headers), budget).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionQuery {
    year: i32,
    /// Through which month; default 12 (the final accounts).
    #[param(minimum = 1, maximum = 12)]
    month: Option<u8>,
}

/// Budget execution month by month (R-FND-3): every budget of the year in the caller's
/// region, with what was booked against it so far.
#[utoipa::path(get, path = "/api/funds/budgets", params(ExecutionQuery), responses((status = 200, body = [ExecutionOut]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn budget_execution(
    State(state): State<App>,
    caller: Caller,
    Params(query): Params<ExecutionQuery>,
) -> Result<Response, ApiError> {
    let execution: Vec<ExecutionOut> =
        state.budget_execution(&caller, query.year, query.month.unwrap_or(12)).await?.into_iter().map(ExecutionOut::new).collect();
    Ok(axum::Json(execution).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverIn {
    /// The fund handed over, e.g. `ncms`.
    #[schema(schema_with = crate::contract::fund)]
    from: String,
    /// The fund receiving it, e.g. `resident`.
    #[schema(schema_with = crate::contract::fund)]
    to: String,
    /// `YYYY-MM-DD`.
    #[schema(schema_with = crate::contract::date_schema)]
    cut_off: String,
    reference: String,
}

fn scheme(field: &str, text: &str) -> Result<FundScheme, ApiError> {
    FundScheme::parse(text).ok_or_else(|| crate::contract::malformed(format!("{field}: '{text}' is not a fund")))
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
    reply(StatusCode::CREATED, &inventory)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationIn {
    /// The signed inventory's checksum, as the receiving side read it.
    checksum: String,
}

/// The receiving side confirms a handover with the inventory's checksum; every balance
/// then moves to the receiving fund.
#[utoipa::path(post, path = "/api/funds/handovers/{reference}/confirmation", request_body = ConfirmationIn, params(("reference" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "funds")]
pub(crate) async fn confirm_handover(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    crate::contract::Segments(reference): crate::contract::Segments<String>,
    Body(input): Body<ConfirmationIn>,
) -> Result<Response, ApiError> {
    ok(&state.confirm_handover(&caller, &source(&headers), &reference, &input.checksum).await?)
}

/// The handovers of the caller's city, with their inventories.
#[utoipa::path(get, path = "/api/funds/handovers", responses((status = 200, body = [Object]), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn handovers(State(state): State<App>, caller: Caller) -> Result<Response, ApiError> {
    ok(&state.handovers(&caller).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacyIn {
    #[schema(schema_with = crate::contract::fund)]
    scheme: String,
    #[schema(schema_with = crate::contract::region)]
    county: String,
    #[schema(schema_with = crate::contract::date_schema)]
    established_on: String,
    /// The gap when the county joined city-level pooling, yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    opening_gap: Fen,
    /// What the county paid into the adjustment fund over the years, yuan; when absent,
    /// what the books say it paid in.
    #[serde(default, with = "crate::routes::optional_yuan")]
    #[schema(schema_with = crate::contract::yuan_in_opt)]
    paid_into_adjustment: Option<Fen>,
    /// `{"at_once": {"due": "YYYY-MM-DD"}}`, `{"instalments": {"end": "YYYY-MM-DD",
    /// "minimum_per_year": [[year, basis points], …]}}` or `{"withheld": {"on": "YYYY-MM-DD"}}`.
    #[schema(value_type = crate::wire::TermsDoc)]
    terms: yibao_app::books::TermsIn,
}

/// Establish a county's legacy deficit with its repayment terms (R-FND-6).
#[utoipa::path(post, path = "/api/funds/legacy-deficits", request_body = LegacyIn, responses((status = 201, body = LegacyOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "funds")]
pub(crate) async fn establish_legacy_deficit(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<LegacyIn>,
) -> Result<Response, ApiError> {
    let request = yibao_app::books::LegacyRequest {
        scheme: scheme("scheme", &input.scheme)?.as_str().to_owned(),
        county: shaped("county", crate::contract::REGION, &input.county)?.to_owned(),
        established_on: date("established_on", &input.established_on)?.to_string(),
        opening_gap_fen: input.opening_gap.get(),
        paid_into_adjustment_fen: input.paid_into_adjustment.map(Fen::get),
        terms: input.terms,
    };
    let view = state.establish_legacy_deficit(&caller, &source(&headers), request).await?;
    Ok((StatusCode::CREATED, axum::Json(LegacyOut::new(view))).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepaymentIn {
    /// `YYYY-MM-DD`.
    #[schema(schema_with = crate::contract::date_schema)]
    on: String,
    /// Yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    amount: Fen,
    /// The voucher; the same one again is a replay.
    reference: String,
}

/// Book a repayment (or the city's withholding) of a county's legacy gap.
#[utoipa::path(post, path = "/api/funds/legacy-deficits/{scheme}/{county}/repayments", request_body = RepaymentIn, params(("scheme" = String, Path), ("county" = String, Path)), responses((status = 200, body = LegacyOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn record_legacy_repayment(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    crate::contract::Segments((fund, county)): crate::contract::Segments<(String, String)>,
    Body(input): Body<RepaymentIn>,
) -> Result<Response, ApiError> {
    let county =
        RegionCode::parse(shaped("county", crate::contract::REGION, &county)?).map_err(|e| crate::contract::malformed(e.to_string()))?;
    let repayment = yibao_app::books::LegacyRepayment {
        scheme: scheme("scheme", &fund)?,
        county,
        on: date("on", &input.on)?,
        amount_fen: input.amount,
        reference: input.reference,
    };
    let view = state.record_legacy_repayment(&caller, &source(&headers), repayment).await?;
    Ok(axum::Json(LegacyOut::new(view)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// `YYYY-MM-DD`; default today.
    as_of: Option<String>,
}

/// What each county in the caller's region still owes of its legacy deficit, and any
/// missed instalment.
#[utoipa::path(get, path = "/api/funds/legacy-deficits", params(AsOfQuery), responses((status = 200, body = [LegacyOut]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn legacy_deficits(
    State(state): State<App>,
    caller: Caller,
    Params(query): Params<AsOfQuery>,
) -> Result<Response, ApiError> {
    let as_of = query.as_of.map(|text| date("as_of", &text)).transpose()?;
    let views: Vec<LegacyOut> = state.legacy_deficits(&caller, as_of).await?.into_iter().map(LegacyOut::new).collect();
    Ok(axum::Json(views).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterestIn {
    /// First day, `YYYY-MM-DD`.
    #[schema(schema_with = crate::contract::date_schema)]
    from: String,
    /// Last day, `YYYY-MM-DD`.
    #[schema(schema_with = crate::contract::date_schema)]
    to: String,
    /// The annual rate in force, e.g. `1.5%`.
    #[schema(schema_with = crate::contract::percent)]
    rate: String,
}

/// Credit each of the city's funds the interest on its special account's daily balance
/// (R-SCH-2: each fund separately). The same period again changes nothing.
#[utoipa::path(post, path = "/api/funds/interest", request_body = InterestIn, responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn credit_interest(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<InterestIn>,
) -> Result<Response, ApiError> {
    let (from, to) = (date("from", &input.from)?, date("to", &input.to)?);
    let rate = ratio("rate", &input.rate)?;
    ok(&state.credit_interest(&caller, &crate::routes::source(&headers), from, to, rate).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptIn {
    /// `opening-balance` or `finance-advance`.
    #[schema(value_type = String, pattern = "^(opening-balance|finance-advance)$")]
    kind: ReceiptKind,
    /// The fund: `employee`, `resident`, `maternity`, `resident-critical-illness`…
    #[schema(schema_with = crate::contract::fund)]
    scheme: String,
    /// The unit whose money it is: a county, or the city itself.
    #[schema(schema_with = crate::contract::region)]
    unit: RegionCode,
    /// Yuan, two decimals.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    amount: Fen,
    /// Value date, `YYYY-MM-DD`.
    #[schema(schema_with = crate::contract::date_schema)]
    date: String,
    /// The voucher it is booked on; booking the same one again changes nothing.
    reference: String,
}

/// Book a receipt into a fund's special account: the opening balance brought in when the
/// books start (R-SYS-3), or an advance from city finance (R-FND-5).
#[utoipa::path(post, path = "/api/funds/receipts", request_body = ReceiptIn, responses((status = 201, body = Object), (status = 409, body = ErrorBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn record_receipt(
    State(state): State<App>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(input): Body<ReceiptIn>,
) -> Result<Response, ApiError> {
    let scheme = scheme("scheme", &input.scheme)?;
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
    #[schema(schema_with = crate::contract::yuan_out)]
    debits: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_out)]
    credits: Fen,
    /// On the account kind's normal side; negative means overdrawn or owed back.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_out)]
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
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD`.
    from: String,
    /// Last day, `YYYY-MM-DD`.
    to: String,
}

/// Movements by fund, unit and reason over a period: what a fund statement is made of. A
/// county's staff see their own county's.
#[utoipa::path(get, path = "/api/funds/movements", params(PeriodQuery), responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn movements(State(state): State<App>, caller: Caller, Params(query): Params<PeriodQuery>) -> Result<Response, ApiError> {
    let (from, to) = (date("from", &query.from)?, date("to", &query.to)?);
    ok(&state.fund_movements(&caller, from, to).await?)
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
