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
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::Body;
use yibao_app::App;

use yibao_app::reforms::DEFAULT_INSURED;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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
/// compare (amounts in yuan).
#[utoipa::path(post, path = "/api/reforms/simulations", request_body = SimulationIn, responses((status = 200, body = crate::wire::ComparisonOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), tag = "funds")]
pub(crate) async fn simulate_reform(
    State(state): State<App>,
    caller: Caller,
    Body(input): Body<SimulationIn>,
) -> Result<Response, ApiError> {
    let result = state.simulate_reform(&caller, &input.reform, input.insured.unwrap_or(DEFAULT_INSURED), input.seed.unwrap_or(1)).await?;
    Ok(axum::Json(crate::wire::ComparisonOut::new(result)).into_response())
}
