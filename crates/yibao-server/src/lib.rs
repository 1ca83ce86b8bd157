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
use yibao_store_postgres::PostgresStore;
use yibao_store_sqlite::SqliteStore;

pub use error::{ApiError, ErrorBody};
pub use routes::ApiDoc;

/// Largest request body: a claim of 5,000 lines fits with room to spare.
pub const BODY_LIMIT_BYTES: usize = 4 * 1024 * 1024;
/// How long a staff session lasts after sign-in.
pub const SESSION_HOURS: i64 = 8;

/// The store behind the API. An enum rather than a generic so that handlers stay concrete
/// (the OpenAPI macros need concrete handlers); each backend is one variant.
#[derive(Debug)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Calls the same store method on whichever backend is in use.
#[macro_export]
macro_rules! store {
    ($state:expr, $method:ident ( $($arg:expr),* $(,)? )) => {
        match &*$state.store {
            $crate::Backend::Sqlite(s) => s.$method($($arg),*).await,
            $crate::Backend::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<Backend>,
    pub policy: Arc<Policy>,
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    routes::router().merge(console::router()).layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)).with_state(state)
}
