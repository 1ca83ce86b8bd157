//! The one error type of the application layer. Every refusal carries a stable machine code
//! (`claim.level_mismatch`) and an English detail for a person; the kind tells an edge how to
//! answer (an HTTP status, a console notice, a CLI exit code). The edges show it in the
//! reader's language through the catalogue (`crate::messages`, [`AppError::message_in`]).
//! Nothing was written when a use case returns an error.

use std::borrow::Cow;

use yibao_store::StoreError;

/// What sort of refusal, independent of any wire protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input, once read, is not acceptable: a value its type refuses (a check digit,
    /// a code no register knows) or a rule the caller can fix. An HTTP edge answers 422,
    /// like [`ErrorKind::Unprocessable`]: 400 is the edge's own answer to a request it
    /// cannot read at all (`request.malformed`), which never reaches a use case.
    BadRequest,
    /// No or unknown credentials.
    Unauthorized,
    /// The principal may not do this.
    Forbidden,
    NotFound,
    /// The request contradicts what is stored (a duplicate, a replay with other content).
    Conflict,
    /// Well formed, but the rules refuse it (a settlement the engine refuses).
    Unprocessable,
    /// Too many attempts: try again later (a sign-in held back after repeated failures).
    /// The error's `retry_after_seconds` says when.
    TooManyRequests,
    /// The service failed; nothing was written. The message is for logs only.
    Internal,
}

impl ErrorKind {
    /// The status an HTTP edge answers with. Both HTTP edges (the API and the console)
    /// read it here, so a refusal has one status wherever it is shown. A use case only
    /// ever sees a request that was read, so every refusal of its input is 422
    /// (ARCHITECTURE.md, `status-rule`); 400 belongs to the edges alone.
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 422,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Unprocessable => 422,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Internal => 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} [{code}]")]
pub struct AppError {
    pub kind: ErrorKind,
    pub code: Cow<'static, str>,
    pub message: String,
    /// When a held-back request may be tried again (HTTP `Retry-After`), in whole seconds.
    pub retry_after_seconds: Option<u64>,
}

impl AppError {
    /// The message in `language`, from the catalogue ([`crate::messages`]); an internal
    /// failure's detail is never shown.
    #[must_use]
    pub fn message_in(&self, language: crate::Language) -> String {
        let detail = if self.kind == ErrorKind::Internal { crate::messages::INTERNAL_EN } else { self.message.as_str() };
        crate::messages::message(language, &self.code, detail)
    }

    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> AppError {
        AppError { kind, code: Cow::Borrowed(code), message: message.into(), retry_after_seconds: None }
    }
    /// Too many attempts: refused until `retry_after_seconds` have passed.
    pub fn too_many(code: &'static str, message: impl Into<String>, retry_after_seconds: u64) -> AppError {
        AppError { retry_after_seconds: Some(retry_after_seconds), ..AppError::new(ErrorKind::TooManyRequests, code, message) }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::BadRequest, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Forbidden, "access.forbidden", message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Conflict, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Unprocessable, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::NotFound, code, message)
    }
    pub fn internal(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Internal, code, message)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        let error_code = error.code();
        let kind = match &error {
            StoreError::PersonNotFound(_)
            | StoreError::HouseholdNotFound(_)
            | StoreError::ClaimNotFound { .. }
            | StoreError::ReviewNotFound(_)
            | StoreError::StaffNotFound(_)
            | StoreError::InstitutionNotFound(_)
            | StoreError::PhysicianNotFound(_)
            | StoreError::PolicyVersionNotFound(_)
            | StoreError::EmployerNotFound(_) => ErrorKind::NotFound,
            StoreError::AlreadyEnrolled { .. }
            | StoreError::HouseholdExists(_)
            | StoreError::EmployerExists(_)
            | StoreError::DeclarationExists(_)
            | StoreError::PersonDeclared(_)
            | StoreError::Exists(_)
            | StoreError::IdempotencyConflict { .. }
            | StoreError::AlreadyReversed(_)
            | StoreError::NotLatestClaim(_) => ErrorKind::Conflict,
            StoreError::OutsideRegion { .. } => ErrorKind::Forbidden,
            StoreError::Refused { .. } => ErrorKind::Unprocessable,
            StoreError::Invalid(_) => ErrorKind::BadRequest,
            StoreError::Backend(_) | StoreError::SchemaNewer { .. } => ErrorKind::Internal,
        };
        let message = match error {
            // The code is the error's own; the message need not repeat it.
            StoreError::Refused { message, .. } => message,
            error => error.to_string(),
        };
        AppError { kind, code: Cow::Borrowed(error_code), message, retry_after_seconds: None }
    }
}

impl From<yibao_policy::LookupError> for AppError {
    fn from(error: yibao_policy::LookupError) -> AppError {
        AppError::bad_request("policy.no_value", error.to_string())
    }
}

impl From<yibao_domain::PeriodError> for AppError {
    fn from(error: yibao_domain::PeriodError) -> AppError {
        AppError::bad_request(error.code(), error.to_string())
    }
}

impl From<yibao_domain::RegisterError> for AppError {
    fn from(error: yibao_domain::RegisterError) -> AppError {
        AppError::bad_request(error.code(), error.to_string())
    }
}

impl From<yibao_engine::ContributionError> for AppError {
    fn from(error: yibao_engine::ContributionError) -> AppError {
        AppError::bad_request(error.code(), error.to_string())
    }
}
