//! The HTTP API of Yibao: JSON under `/api/`, its OpenAPI document at `/api/openapi.json`
//! and browsable docs (served from the binary, no internet) at `/api/docs`.
//!
//! Staff sign in for a revocable session; each role is scoped to a region, and a county's
//! staff can neither read nor change another county's people (R-GEO-2). Designated
//! institutions authenticate with an API key and may settle and query only their own claims
//! (R-BEN-4). Every handler parses its input, calls one use case of the application layer
//! (`yibao_app::App`) and renders its answer or its `AppError` (R-SYS-6: every write is
//! audited in its own transaction, by the store, below the application).

mod admin;
mod administrators;
mod arrears;
pub mod auth;
mod catalogue;
pub mod contract;
mod employers;
mod error;
mod funds;
pub mod language;
pub mod observe;
mod payment;
mod policy;
mod reforms;
mod review;
mod routes;
pub mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use yibao_app::App;

pub use error::{ApiError, ErrorBody};
pub use routes::ApiDoc;

/// Largest request body: a claim of 5,000 lines fits with room to spare.
pub const BODY_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// The API's routes, over the application as state, each error answered in the caller's
/// language ([`language::localize`]). The binary merges the console's beside them and
/// applies [`BODY_LIMIT_BYTES`].
pub fn router() -> Router<App> {
    routes::router().layer(axum::middleware::from_fn(language::localize))
}

/// The API alone, ready to serve (tests, benchmarks).
pub fn app(app: App) -> Router {
    app_with(app, Router::new())
}

/// The API with other routes over the same application beside it (the binary adds the
/// staff console's), every request body limited to [`BODY_LIMIT_BYTES`], each request
/// logged and counted in metrics of its own.
pub fn app_with(app: App, others: Router<App>) -> Router {
    app_observed(app, others, std::sync::Arc::default())
}

/// [`app_with`], counting into `metrics` (which the binary also serves on its metrics
/// address, [`observe::metrics_router`]).
pub fn app_observed(app: App, others: Router<App>, metrics: std::sync::Arc<observe::Metrics>) -> Router {
    router()
        .merge(others)
        .layer(axum::middleware::from_fn_with_state(metrics, observe::observe))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(app)
}
