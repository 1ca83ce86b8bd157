//! The HTTP API of Yibao: JSON under `/api/`, its OpenAPI document at `/api/openapi.json`
//! and browsable docs (served from the binary, no internet) at `/api/docs`.
//!
//! Staff sign in for a revocable session; each role is scoped to a region, and a county's
//! staff can neither read nor change another county's people (R-GEO-2). Designated
//! institutions authenticate with an API key and may settle and query only their own claims
//! (R-BEN-4). Every write goes through the store, which records it in the audit chain in the
//! same transaction (R-SYS-6).

mod admin;
pub mod auth;
mod console;
mod error;
mod funds;
mod reforms;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use yibao_policy::Policy;

pub use error::{ApiError, ErrorBody};
pub use routes::ApiDoc;

/// Largest request body: a claim of 5,000 lines fits with room to spare.
pub const BODY_LIMIT_BYTES: usize = 4 * 1024 * 1024;
/// How long a staff session lasts after sign-in.
pub const SESSION_HOURS: i64 = 8;

pub use yibao_app::{App, Backend};

/// The server's state: the application layer. A newtype (not the `App` itself) so that the
/// server may implement axum's extractor traits for the application's types; it derefs to
/// the `App`, whose use cases every handler, of the API and of the console, calls (issue 11).
#[derive(Clone, Debug)]
pub struct AppState(pub App);

impl AppState {
    /// The state over `store` and `policy`, on the system clock.
    #[must_use]
    pub fn new(store: Backend, policy: Policy) -> AppState {
        AppState(App::new(Arc::new(store), Arc::new(policy)))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    routes::router().merge(console::router()).layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)).with_state(state)
}
