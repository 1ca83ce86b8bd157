//! The one error type of the HTTP boundary: every failure is `{code, message}` with a stable
//! machine code and a status; internal failures are logged, never echoed. The message comes
//! from the catalogue (`yibao_app::messages`) in the language `Accept-Language` chose
//! (`crate::language`), Chinese by default.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use yibao_app::{AppError, ErrorKind, Language};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `person.already_enrolled`.
    pub code: String,
    /// What was wrong, for a person to read: Chinese, or English when `Accept-Language`
    /// prefers `en`.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The code and its English detail; the answer's message is the catalogue's.
    pub body: ErrorBody,
    /// Sent as `Retry-After` (a held-back sign-in).
    pub retry_after_seconds: Option<u64>,
    /// What an internal failure was, for the log only.
    pub logged_detail: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody { code: code.to_owned(), message: message.into() },
            retry_after_seconds: None,
            logged_detail: None,
        }
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

/// A malformed register identifier or name (`institution.bad_code`, `household.bad_id`,
/// `person.bad_name`): the application's error for it.
impl From<yibao_domain::RegisterError> for ApiError {
    fn from(error: yibao_domain::RegisterError) -> ApiError {
        ApiError::from(AppError::from(error))
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        let status = StatusCode::from_u16(error.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // An internal failure's detail is logged (by the request's log line, masked), never
        // sent: the answer says only that nothing was written.
        let (message, logged) = if error.kind == ErrorKind::Internal {
            (yibao_app::messages::INTERNAL_EN.to_owned(), Some(error.message))
        } else {
            (error.message, None)
        };
        ApiError { retry_after_seconds: error.retry_after_seconds, logged_detail: logged, ..ApiError::new(status, &error.code, message) }
    }
}

/// Kept on an error answer for [`crate::language::localize`]: the code and English detail,
/// to write the message in another language.
#[derive(Clone, Debug)]
pub(crate) struct Untranslated(pub(crate) ErrorBody);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let chinese = ErrorBody {
            code: self.body.code.clone(),
            message: yibao_app::messages::message(Language::Zh, &self.body.code, &self.body.message),
        };
        let mut response = (self.status, Json(chinese)).into_response();
        let detail = self.logged_detail.unwrap_or_else(|| self.body.message.clone());
        response.extensions_mut().insert(yibao_app::Refusal { code: self.body.code.clone(), detail });
        response.extensions_mut().insert(Untranslated(self.body));
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}
