//! Administration for the city administrator (R-GEO-2: an administrator manages the staff
//! and institutions of their own region only): staff accounts (list, create, deactivate
//! and reactivate) and designated institutions (list, suspend and reinstate).
//!
//! The rules are the application's (`yibao_app::access`), as for the API: a password of 10
//! to 128 characters hashed off the async threads, no administrator deactivating their own
//! account, every region checked against the administrator's scope.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::ErrorKind;
use yibao_app::Role;
use yibao_app::access::{PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, StaffChange, StaffInput};
use yibao_domain::RegionCode;

use super::i18n::Lang;
use super::page::{ADMINISTRATORS, FieldErrors, Page, app_error_page, app_message, error_page, render, url_encode};
use super::session::ConsoleUser;
use yibao_app::App;

#[derive(Debug)]
pub struct StaffRow {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub region: String,
    pub active: bool,
    pub is_me: bool,
}

#[derive(Debug)]
pub struct RoleOption {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct StaffForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    region: String,
}

#[derive(Template)]
#[template(path = "console/admin/staff.html")]
struct StaffTemplate {
    page: Page,
    rows: Vec<StaffRow>,
    roles: Vec<RoleOption>,
    username: String,
    display_name: String,
    region: String,
    notice: Option<String>,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    done: String,
}

fn notice(lang: Lang, done: &str) -> Option<String> {
    match done {
        "created" => Some(lang.t("staff-created")),
        "changed" => Some(lang.t("admin-changed")),
        _ => None,
    }
}

async fn staff_page(
    state: &App,
    user: &ConsoleUser,
    form: &StaffForm,
    notice: Option<String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Response {
    let page = match Page::guard(user, "staff", "staff-title", "/console/staff") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let staff = match state.staff_list(&user.principal()).await {
        Ok(staff) => staff,
        Err(error) => return app_error_page(lang, &error),
    };
    let rows = staff
        .iter()
        .map(|s| StaffRow {
            username: s.username.clone(),
            display_name: s.display_name.clone(),
            role: lang.t(&format!("role-{}", s.role.as_str())),
            region: s.region.to_string(),
            active: s.active,
            is_me: s.username == user.username,
        })
        .collect();
    let chosen = if form.role.is_empty() { Role::EnrolmentClerk.as_str() } else { form.role.as_str() };
    let roles = Role::ALL
        .iter()
        .map(|r| RoleOption { value: r.as_str(), label: lang.t(&format!("role-{}", r.as_str())), selected: r.as_str() == chosen })
        .collect();
    let region = if form.region.is_empty() { user.region.to_string() } else { form.region.clone() };
    let template = StaffTemplate {
        page,
        rows,
        roles,
        username: form.username.clone(),
        display_name: form.display_name.clone(),
        region,
        notice,
        errors,
    };
    (status, render(&template)).into_response()
}

pub async fn staff(State(state): State<App>, user: ConsoleUser, Query(q): Query<Notice>) -> Response {
    let notice = notice(user.lang, &q.done);
    staff_page(&state, &user, &StaffForm::default(), notice, FieldErrors::default(), StatusCode::OK).await
}

pub async fn create_staff(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(input): Form<StaffForm>) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&input.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if !user.may(ADMINISTRATORS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let mut errors = FieldErrors::default();
    let username = input.username.trim().to_owned();
    if username.is_empty() || username.len() > 64 || !username.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        errors.add("username", lang.t("field-username"));
    }
    let display_name = input.display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 64 {
        errors.add("display_name", lang.t("field-name"));
    }
    if !(PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&input.password.chars().count()) {
        errors.add("password", lang.t("field-password"));
    }
    let role = Role::parse(input.role.trim());
    if role.is_none() {
        errors.add("role", lang.t("field-required"));
    }
    let region = match RegionCode::parse(input.region.trim()) {
        Ok(region) if user.region.contains(region) => Some(region),
        Ok(_) => {
            errors.add("region", lang.t("field-region-outside"));
            None
        }
        Err(_) => {
            errors.add("region", lang.t("field-bad-region"));
            None
        }
    };
    let (Some(role), Some(region), true) = (role, region, errors.is_empty()) else {
        return staff_page(&state, &user, &input, None, errors, StatusCode::BAD_REQUEST).await;
    };
    let staff = StaffInput { username, display_name, password: input.password.clone(), role, region };
    match state.create_staff(&user.principal(), &ConsoleUser::source(&headers), staff).await {
        Ok(_) => Redirect::to("/console/staff?done=created").into_response(),
        Err(error) if matches!(error.kind, ErrorKind::Conflict | ErrorKind::BadRequest) => {
            let field = match error.code.as_ref() {
                "staff.weak_password" => "password",
                "region.unknown" => "region",
                _ => "username",
            };
            let mut errors = FieldErrors::default();
            errors.add(field, app_message(lang, &error));
            staff_page(&state, &user, &input, None, errors, StatusCode::BAD_REQUEST).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ActiveForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    active: String,
}

/// Deactivates (ending the account's sessions at once) or reactivates a staff account.
pub async fn set_staff_active(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(input): Form<ActiveForm>,
) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&input.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if !user.may(ADMINISTRATORS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let active = input.active == "1";
    if username == user.username && !active {
        return error_page(lang, StatusCode::BAD_REQUEST, "error-self-lockout", None);
    }
    let change = StaffChange { active: Some(active), ..StaffChange::default() };
    match state.update_staff(&user.principal(), &ConsoleUser::source(&headers), &username, change).await {
        Ok(_) => Redirect::to("/console/staff?done=changed").into_response(),
        Err(error) => app_error_page(lang, &error),
    }
}

#[derive(Debug)]
pub struct InstitutionRow {
    pub code: String,
    pub name: String,
    pub region: String,
    pub level: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "console/admin/institutions.html")]
struct InstitutionsTemplate {
    page: Page,
    rows: Vec<InstitutionRow>,
    notice: Option<String>,
    /// Suspending or reinstating a key is the administrator's.
    may_administer: bool,
}

pub async fn institutions(State(state): State<App>, user: ConsoleUser, Query(q): Query<Notice>) -> Response {
    let page = match Page::guard(&user, "institutions", "institutions-title", "/console/institutions") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let list = match state.institutions(&user.principal()).await {
        Ok(list) => list,
        Err(error) => return app_error_page(lang, &error),
    };
    let rows = list
        .iter()
        .map(|i| InstitutionRow {
            code: i.code.to_string(),
            name: i.name.clone(),
            region: i.region.to_string(),
            level: lang.t(&format!("level-{}", i.level.as_str())),
            active: i.active,
        })
        .collect();
    render(&InstitutionsTemplate { page, rows, notice: notice(lang, &q.done), may_administer: user.may(ADMINISTRATORS) })
}

/// Suspends an institution (its API key stops working at once) or reinstates it.
pub async fn set_institution_active(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(input): Form<ActiveForm>,
) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&input.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if !user.may(ADMINISTRATORS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let active = Some(input.active == "1");
    match state
        .update_institution(
            &user.principal(),
            &ConsoleUser::source(&headers),
            &code,
            yibao_app::access::InstitutionChange { active, ..Default::default() },
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/console/institutions?done=changed#{}", url_encode(&code))).into_response(),
        Err(error) => app_error_page(lang, &error),
    }
}
