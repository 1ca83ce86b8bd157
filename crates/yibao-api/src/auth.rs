//! Who is calling: a staff member with a session token (`Authorization: Bearer …`), or a
//! designated institution with its API key (`X-Api-Key: …`). Passwords are argon2 hashes
//! (verified off the async threads); tokens and keys are stored as SHA-256 digests.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use yibao_app::{App, Principal};

/// An authenticated caller: the application layer's principal, read from the request's
/// credentials (a local type, so that axum's extractor can be implemented for it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

pub use yibao_app::access::{digest, hash_password, new_token, verify_password};

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Caller, ApiError> {
        let principal = if parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
            // An Authorization header is a bearer token or refused, never ignored for an API
            // key beside it: one request, one set of credentials.
            let token = bearer(&parts.headers)
                .ok_or_else(|| ApiError::unauthorized("the Authorization header takes a session token: 'Bearer <token>'"))?;
            state.staff_by_token(token).await?
        } else if let Some(key) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            state.principal_by_key(key).await?
        } else {
            return Err(ApiError::unauthorized(
                "sign in (Authorization: Bearer <token>) or send an institution's or administrator's API key (X-Api-Key)",
            ));
        };
        // For the request's log line (`crate::observe`).
        if let Some(note) = parts.extensions.get::<yibao_app::CallerNote>() {
            note.note(&principal);
        }
        Ok(Caller(principal))
    }
}
