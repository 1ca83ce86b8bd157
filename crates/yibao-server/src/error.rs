//! The one error type of the HTTP boundary: every failure is `{code, message}` with a stable
//! machine code and a status; internal failures are logged, never echoed.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use yibao_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `person.already_enrolled`.
    pub code: String,
    /// What was wrong, for a person to read.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorBody { code: code.to_owned(), message: message.into() } }
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "auth.required", message)
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "access.forbidden", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let status = match &error {
            StoreError::PersonNotFound(_)
            | StoreError::HouseholdNotFound(_)
            | StoreError::ClaimNotFound { .. }
            | StoreError::StaffNotFound(_)
            | StoreError::InstitutionNotFound(_) => StatusCode::NOT_FOUND,
            StoreError::AlreadyEnrolled { .. }
            | StoreError::HouseholdExists(_)
            | StoreError::Exists(_)
            | StoreError::IdempotencyConflict { .. } => StatusCode::CONFLICT,
            StoreError::AlreadyReversed(_) | StoreError::NotLatestClaim(_) => StatusCode::CONFLICT,
            StoreError::OutsideRegion { .. } => StatusCode::FORBIDDEN,
            StoreError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
            StoreError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &error {
            StoreError::Backend(detail) => {
                eprintln!("store failure: {detail}");
                "the service could not complete the request; nothing was written".to_owned()
            }
            other => other.to_string(),
        };
        ApiError::new(status, error.code(), message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
