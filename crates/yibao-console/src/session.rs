//! Who is using the console: the staff session behind the `yibao_session` cookie (HttpOnly,
//! SameSite=Strict, so scripts cannot read it and other sites cannot send it), and the
//! per-session CSRF token every POST form carries.
//!
//! A console session is an ordinary staff session (`App::sign_in`; the API's `Bearer` token
//! sits in the cookie instead), looked up on every request (`App::staff_by_token`): revoking
//! it, deactivating the account or changing the role takes effect on the next request, and
//! an unknown, ended or expired session sends the user back to the sign-in page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use yibao_app::Role;
use yibao_app::access::digest;
use yibao_app::{ErrorKind, Principal};
use yibao_domain::RegionCode;

use super::i18n::Lang;
use yibao_app::App;

pub const SESSION_COOKIE: &str = "yibao_session";

/// A signed-in staff member, read from the session cookie on every request.
#[derive(Clone, Debug)]
pub struct ConsoleUser {
    pub username: String,
    pub role: Role,
    /// The caller's region: every store call takes this scope, never a region from the
    /// URL (R-GEO-2).
    pub region: RegionCode,
    pub lang: Lang,
    /// The token that POST forms must echo (see [`csrf_token`]).
    pub csrf: String,
    session_token: String,
}

impl ConsoleUser {
    #[must_use]
    pub fn may(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }

    /// The application layer's principal for this staff member.
    #[must_use]
    pub fn principal(&self) -> Principal {
        Principal::Staff { username: self.username.clone(), role: self.role, region: self.region }
    }

    /// Where the request came from, for the audit log ([`yibao_app::audit_source`]).
    #[must_use]
    pub fn source(headers: &HeaderMap) -> String {
        yibao_app::audit_source("console", headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
    }

    /// Whether a submitted form's CSRF field is this session's token.
    #[must_use]
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), submitted.as_bytes())
    }

    #[must_use]
    pub fn session_token(&self) -> &str {
        &self.session_token
    }
}

/// The CSRF token of a session: derived from the secret session token, so it needs no
/// storage, differs per session and cannot be guessed by a page that cannot read the cookie.
#[must_use]
pub fn csrf_token(session_token: &str) -> String {
    digest(format!("yibao-console-csrf:{session_token}"))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The language the request asks for (the `yibao_lang` cookie), Chinese by default.
#[must_use]
pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_code(cookie(headers, Lang::COOKIE))
}

/// `Set-Cookie` for a fresh session.
#[must_use]
pub fn session_cookie(token: &str, max_age_seconds: i64) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}")
}

/// `Set-Cookie` that removes the session cookie.
#[must_use]
pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Where an unauthenticated request goes: the sign-in page, then back to where it was.
fn to_login(parts: &Parts, expired: bool) -> Response {
    let next = parts.uri.path_and_query().map_or("/console", |p| p.as_str());
    let mut target = format!("/console/login?next={}", super::page::url_encode(next));
    if expired {
        target.push_str("&expired=1");
    }
    let mut response = Redirect::to(&target).into_response();
    if let Ok(value) = cleared_session_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

impl FromRequestParts<App> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<ConsoleUser, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()).map(str::to_owned) else {
            return Err(to_login(parts, false));
        };
        // An unknown, ended or expired session, or a deactivated account: back to sign-in.
        let (username, role, region) = match state.staff_by_token(&token).await {
            Ok(Principal::Staff { username, role, region }) => (username, role, region),
            Ok(_) => return Err(to_login(parts, true)),
            Err(error) if error.kind == ErrorKind::Unauthorized => return Err(to_login(parts, true)),
            Err(error) => return Err(super::page::app_error_page(lang_of(&parts.headers), &error)),
        };
        if let Some(note) = parts.extensions.get::<yibao_app::CallerNote>() {
            note.note(&Principal::Staff { username: username.clone(), role, region });
        }
        Ok(ConsoleUser { username, role, region, lang: lang_of(&parts.headers), csrf: csrf_token(&token), session_token: token })
    }
}
