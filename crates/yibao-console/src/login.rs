//! Sign in, sign out and the language switch.

use askama::Template;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use yibao_app::ErrorKind;
use yibao_app::access::SESSION_HOURS;

use super::i18n::Lang;
use super::page::{FieldErrors, Page, app_error_page, error_page, render};
use super::session::{ConsoleUser, cleared_session_cookie, lang_of, session_cookie};
use yibao_app::App;

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    expired: Option<String>,
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginTemplate {
    page: Page,
    next: String,
    username: String,
    notice: Option<String>,
    errors: FieldErrors,
}

/// Only a console path is a place to return to: never another site (`//evil`, `https:`).
fn safe_next(next: &str) -> String {
    if next.starts_with("/console") && !next.starts_with("//") && !next.contains("://") { next.to_owned() } else { "/console".into() }
}

pub async fn form(headers: HeaderMap, Query(query): Query<LoginQuery>) -> Response {
    let lang = lang_of(&headers);
    let notice = query.expired.is_some().then(|| lang.t("login-expired"));
    render(&LoginTemplate {
        page: Page::anonymous(lang, "login-title", "/console/login"),
        next: safe_next(&query.next),
        username: String::new(),
        notice,
        errors: FieldErrors::default(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// A sign-in form posted from another site is refused: the browser's `Origin` must be this
/// host (the session cookie does not exist yet, so the CSRF token cannot guard this form).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

pub async fn submit(
    State(state): State<App>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(input): Form<LoginForm>,
) -> Response {
    let lang = lang_of(&headers);
    if !same_origin(&headers) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    let again = |errors: FieldErrors, status: StatusCode| {
        let template = LoginTemplate {
            page: Page::anonymous(lang, "login-title", "/console/login"),
            next: safe_next(&input.next),
            username: input.username.clone(),
            notice: None,
            errors,
        };
        (status, render(&template)).into_response()
    };
    let mut errors = FieldErrors::default();
    if input.username.trim().is_empty() {
        errors.add("username", lang.t("field-required"));
    }
    if input.password.is_empty() {
        errors.add("password", lang.t("field-required"));
    }
    if !errors.is_empty() {
        return again(errors, StatusCode::BAD_REQUEST);
    }
    // Recorded like every console write: source `console` unless a proxy names the client;
    // failures are counted for the TCP peer when the server records it.
    // A wrong password, an unknown or an inactive account get the one same answer.
    let address = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
    let session = match state.sign_in_from(input.username.trim(), &input.password, &ConsoleUser::source(&headers), address).await {
        Ok(session) => session,
        Err(error) if error.kind == ErrorKind::Unauthorized => {
            let mut errors = FieldErrors::default();
            errors.add("password", lang.t("login-refused"));
            return again(errors, StatusCode::UNAUTHORIZED);
        }
        Err(error) if error.kind == ErrorKind::TooManyRequests => {
            let seconds = error.retry_after_seconds.unwrap_or(1);
            let key = if error.code == "auth.locked" { "login-locked" } else { "login-throttled" };
            let mut errors = FieldErrors::default();
            errors.add("password", lang.t_with(key, &[("seconds", seconds.to_string())]));
            let mut response = again(errors, StatusCode::TOO_MANY_REQUESTS);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
        Err(error) => return app_error_page(lang, &error),
    };
    let token = session.token;
    let mut response = Redirect::to(&safe_next(&input.next)).into_response();
    if let Ok(value) = session_cookie(&token, SESSION_HOURS * 3600).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

pub async fn logout(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(input): Form<CsrfForm>) -> Response {
    if !user.csrf_ok(&input.csrf) {
        return error_page(user.lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if let Err(error) = state.sign_out(&user.principal(), &ConsoleUser::source(&headers), user.session_token()).await {
        return app_error_page(user.lang, &error);
    }
    let mut response = Redirect::to("/console/login").into_response();
    if let Ok(value) = cleared_session_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Default, Deserialize)]
pub struct SwitchQuery {
    #[serde(default)]
    to: String,
    #[serde(default)]
    next: String,
}

/// Keeps the chosen language in a cookie for a year and returns to the page.
pub async fn switch_language(Query(query): Query<SwitchQuery>) -> Response {
    let lang = Lang::from_code(Some(query.to.as_str()));
    let mut response = Redirect::to(&safe_next(&query.next)).into_response();
    let cookie =
        format!("{}={}; Path=/console; SameSite=Strict; Max-Age=31536000", Lang::COOKIE, if lang == Lang::En { "en" } else { "zh-CN" });
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
