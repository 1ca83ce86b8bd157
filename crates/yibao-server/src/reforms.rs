//! Reform what-if over HTTP (issue 6, 以收定支): a reform — a small overlay on the policy
//! pack (a ratio raised, a threshold lowered, the levy changed) — is applied to the demo
//! city's pack, and the same synthetic city-year is settled under the baseline and under
//! the reform; the answer is the two side by side: fund spending per scheme and county,
//! out-of-pocket by income group, surplus rates and months covered, and the income per
//! person that would balance each fund. Fund accountants and city administrators ask.
//!
//! A run is CPU work of a few seconds: it runs off the async threads, one at a time per
//! server, on at most [`INSURED_LIMIT`] insured.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

use yibao_policy::Policy;
use yibao_synth::{City, Config, Financing, SimOptions, apply_reform, comparison, simulate};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::Body;

use yibao_app::roles::REFORMERS;
/// The largest synthetic city one request may simulate.
pub const INSURED_LIMIT: u64 = 200_000;
/// The synthetic city's size when the request does not say.
pub const DEFAULT_INSURED: u64 = 20_000;
/// The pack the synthetic city is drawn for.
const DEMO_PACK: &str = include_str!("../../../policies/demo-city.toml");

/// The demo pack, parsed once: every simulation's baseline.
static BASELINE: std::sync::LazyLock<Arc<Policy>> = std::sync::LazyLock::new(|| {
    Arc::new(Policy::from_toml("policies/demo-city.toml", DEMO_PACK).expect("the embedded demo pack loads (its tests check it)"))
});

/// One simulation at a time per server: the rest wait their turn.
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

#[derive(Debug, Deserialize, ToSchema)]
pub struct SimulationIn {
    /// The reform, as `yibao simulate --reform` reads it: `[reform] name = …`, `[[param]]`
    /// entries replacing or adding the pack's, optional `[[source]]` and `[financing]`.
    reform: String,
    /// Insured persons of the synthetic city, 1,000 to 200,000; default 20,000.
    insured: Option<u64>,
    /// The city's seed; default 1.
    seed: Option<u64>,
}

/// Settle the same synthetic city-year under the demo pack and under the reform, and
/// compare (amounts in fen).
#[utoipa::path(post, path = "/api/reforms/simulations", request_body = SimulationIn, responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn simulate_reform(
    State(_state): State<AppState>,
    caller: Caller,
    Body(input): Body<SimulationIn>,
) -> Result<Response, ApiError> {
    caller.staff(REFORMERS)?;
    let result = run(&input.reform, input.insured.unwrap_or(DEFAULT_INSURED), input.seed.unwrap_or(1)).await?;
    Ok(axum::Json(result).into_response())
}

/// Settles the same synthetic city-year of `insured` persons (seed `seed`) under the demo
/// pack and under `reform`, and compares them: the API's handler and the console's page
/// both ask here, so the two answer alike.
pub(crate) async fn run(reform: &str, insured: u64, seed: u64) -> Result<yibao_synth::Comparison, ApiError> {
    if !(1_000..=INSURED_LIMIT).contains(&insured) {
        return Err(ApiError::bad_request("reform.bad_size", format!("insured is 1,000 to {INSURED_LIMIT}")));
    }
    if reform.len() > 64 * 1024 {
        return Err(ApiError::bad_request("reform.too_large", "a reform is at most 64 KiB"));
    }
    let (merged, reform) =
        apply_reform(DEMO_PACK, reform, Financing::default()).map_err(|e| ApiError::bad_request("reform.invalid", e.to_string()))?;
    let baseline = Arc::clone(&BASELINE);
    let reformed = Policy::from_toml("the demo pack with the reform", &merged)
        .map_err(|e| ApiError::bad_request("reform.invalid", format!("the reform does not make a valid pack: {e}")))?;
    let city = City::new(Config::new(insured, seed)).map_err(|e| ApiError::bad_request("reform.bad_size", e.to_string()))?;
    let turn = RUNNING.acquire().await.map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "reform.unavailable", e.to_string()))?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::task::spawn_blocking(move || {
        // The turn is held by the work, not by the request: a client that hangs up does
        // not let a second simulation start beside one still running.
        let _turn = turn;
        let quiet = |_: u64| {};
        let base = simulate(&city, &baseline, &SimOptions { threads, ..SimOptions::default() }, &quiet)?;
        let other = simulate(&city, &reformed, &SimOptions { threads, financing: reform.financing }, &quiet)?;
        Ok::<_, yibao_synth::SimError>(comparison(&base, &other, &reform.name))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "reform.failure", e.to_string()))?
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "reform.simulation", e.to_string()))
}
