//! Who is calling: a staff member with a session token (`Authorization: Bearer …`), or a
//! designated institution with its API key (`X-Api-Key: …`). Passwords are argon2 hashes
//! (verified off the async threads); tokens and keys are stored as SHA-256 digests.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use yibao_store::AccessStore;

use crate::AppState;
use crate::error::ApiError;

/// An authenticated caller: the application layer's principal.
pub type Caller = yibao_app::Principal;

/// Lower-case hex SHA-256, for session tokens and API keys.
#[must_use]
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// An argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "auth.failure", e.to_string()))
}

#[must_use]
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A fresh opaque session token: 32 random bytes, hex.
pub fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "auth.failure", e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        if let Some(token) = bearer(&parts.headers) {
            let session = crate::store!(state, session(&digest(token)))?;
            let session = session.ok_or_else(|| ApiError::unauthorized("unknown session token: sign in again"))?;
            if session.revoked || !session.active {
                return Err(ApiError::unauthorized("this session was ended: sign in again"));
            }
            if session.expires_at <= OffsetDateTime::now_utc() {
                return Err(ApiError::unauthorized("this session has expired: sign in again"));
            }
            return Ok(Caller::Staff { username: session.username, role: session.role, region: session.region });
        }
        if let Some(key) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            let institution = crate::store!(state, institution_by_key(&digest(key.trim())))?;
            let institution = institution.filter(|i| i.active).ok_or_else(|| ApiError::unauthorized("unknown or inactive API key"))?;
            return Ok(Caller::institution_of(&institution));
        }
        Err(ApiError::unauthorized("sign in (Authorization: Bearer <token>) or send an institution API key (X-Api-Key)"))
    }
}
