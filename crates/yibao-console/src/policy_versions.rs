//! Policy pack versions (issue 19): the city's versions, newest first, the one in force
//! marked; a policy officer pastes a new version of the pack with a note; the version's
//! page shows what it changes against the version it was proposed on (each change's first
//! day of service, those reaching back before today marked) and lets a second policy
//! officer approve or reject it. Auditors and the city administrator read.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::App;
use yibao_app::policy_versions::{PolicyDecision, PolicyVersion, VersionView};

use super::i18n::Lang;
use super::page::{FieldErrors, POLICY_OFFICERS, Page, app_error_page, app_message, error_page, is_form_refusal, may_post, moment, render};
use super::session::ConsoleUser;

const HERE: &str = "/console/policy/versions";

#[derive(Debug)]
pub struct VersionRow {
    pub version: u32,
    pub href: String,
    pub status: String,
    pub status_class: &'static str,
    pub in_force: bool,
    pub pack_id: String,
    pub note: String,
    pub proposed: String,
    pub decided: String,
}

#[derive(Debug)]
pub struct ChangeRow {
    pub subject: String,
    pub kind: String,
    pub from: String,
    pub before: String,
    pub after: String,
    pub reaches_back: bool,
}

fn status_label(lang: Lang, v: &PolicyVersion) -> (String, &'static str) {
    let class = match v.status.as_str() {
        "approved" => "",
        "proposed" => "pending",
        _ => "reversed",
    };
    (lang.t(&format!("policy-status-{}", v.status.as_str())), class)
}

fn row(lang: Lang, v: &PolicyVersion, in_force: Option<u32>) -> VersionRow {
    let (status, status_class) = status_label(lang, v);
    VersionRow {
        version: v.version,
        href: format!("{HERE}/{}", v.version),
        status,
        status_class,
        in_force: Some(v.version) == in_force,
        pack_id: v.pack_id.clone(),
        note: v.note.clone(),
        proposed: format!("{} · {}", v.proposed_by, moment(&v.proposed_at)),
        decided: v.decided_by.as_ref().map_or_else(String::new, |by| format!("{by} · {}", moment(v.decided_at.as_deref().unwrap_or("")))),
    }
}

#[derive(Template)]
#[template(path = "console/policy/versions.html")]
struct VersionsTemplate {
    page: Page,
    versions: Vec<VersionRow>,
    may_act: bool,
    form: ProposeForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "console/policy/version.html")]
struct VersionTemplate {
    page: Page,
    version: VersionRow,
    based_on: String,
    decision_note: String,
    changes: Vec<ChangeRow>,
    reaching_back: usize,
    text: String,
    may_decide: bool,
    note: String,
    errors: FieldErrors,
    done: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProposeForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn list_page(state: &App, user: &ConsoleUser, form: ProposeForm, errors: FieldErrors) -> Response {
    let page = match Page::guard(user, "policy-versions", "policy-versions-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let in_force = state.policy().version;
    let versions = match state.policy_versions(&user.principal()).await {
        Ok(found) => found.iter().map(|v| row(lang, v, in_force)).collect(),
        Err(error) => return app_error_page(lang, &error),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = VersionsTemplate { page, versions, may_act: user.may(POLICY_OFFICERS), form, errors };
    (status, render(&template)).into_response()
}

/// The versions, and the proposal form for policy officers.
pub async fn list(State(state): State<App>, user: ConsoleUser) -> Response {
    list_page(&state, &user, ProposeForm::default(), FieldErrors::default()).await
}

/// Refuses a POST that is not a policy officer's, or has no valid CSRF token.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn may_act(user: &ConsoleUser, csrf: &str) -> Result<(), Response> {
    may_post(user, csrf, "policy-versions", "policy-versions-title", HERE, POLICY_OFFICERS)
}

/// Proposes the pasted pack: on success to the version's page and its changes; a refusal
/// (the loader's problems, an unchanged or incompatible pack) next to the text.
pub async fn propose(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<ProposeForm>) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    if form.text.trim().is_empty() {
        errors.add("text", lang.t("field-required"));
        return list_page(&state, &user, form, errors).await;
    }
    match state.propose_policy(&user.principal(), &ConsoleUser::source(&headers), &form.text, &form.note).await {
        Ok(view) => Redirect::to(&format!("{HERE}/{}?done=proposed", view.record.version)).into_response(),
        Err(error) if is_form_refusal(&error) => {
            let field = if error.code == "request.invalid" { "note" } else { "text" };
            errors.add(field, app_message(lang, &error));
            list_page(&state, &user, form, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

async fn version_page(state: &App, user: &ConsoleUser, version: u32, note: String, errors: FieldErrors, done: String) -> Response {
    let here = format!("{HERE}/{version}");
    let page = match Page::guard(user, "policy-versions", "policy-version-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let view: VersionView = match state.policy_version(&user.principal(), version).await {
        Ok(view) => view,
        Err(error) => return app_error_page(lang, &error),
    };
    let changes = view
        .changes
        .iter()
        .map(|c| ChangeRow {
            subject: c.subject.clone(),
            kind: lang.t(&format!("policy-change-{}", c.kind.as_str())),
            from: c.from.map_or_else(|| lang.t("policy-change-at-once"), |d| d.to_string()),
            before: c.before.clone().unwrap_or_default(),
            after: c.after.clone().unwrap_or_default(),
            reaches_back: c.reaches_back(view.today),
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let may_decide = user.may(POLICY_OFFICERS) && view.record.status.as_str() == "proposed";
    // The notice says what the record says, whatever the URL claims.
    let done = if done == view.record.status.as_str() { done } else { String::new() };
    let template = VersionTemplate {
        page,
        version: row(lang, &view.record, view.in_force),
        based_on: view.record.based_on.map_or_else(|| "-".to_owned(), |v| format!("v{v}")),
        decision_note: view.record.decision_note.clone().unwrap_or_default(),
        reaching_back: view.reaching_back(),
        changes,
        text: view.text,
        may_decide,
        note,
        errors,
        done,
    };
    (status, render(&template)).into_response()
}

/// The version a URL names: a number, else the not-found page.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn version_in(user: &ConsoleUser, segment: &str) -> Result<u32, Response> {
    segment.parse().map_err(|_| error_page(user.lang, StatusCode::NOT_FOUND, "error-not-found", None))
}

/// One version: its changes, its text, and the decision form while it is proposed.
pub async fn show(State(state): State<App>, user: ConsoleUser, Path(version): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    match version_in(&user, &version) {
        Ok(version) => version_page(&state, &user, version, String::new(), FieldErrors::default(), q.done).await,
        Err(response) => response,
    }
}

/// Approves or rejects a version; a refusal (the proposer approving, a version overtaken)
/// next to the note.
pub async fn decide(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(version): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let version = match version_in(&user, &version) {
        Ok(version) => version,
        Err(response) => return response,
    };
    let lang = user.lang;
    let decision = match form.decision.as_str() {
        "approve" => PolicyDecision::Approve,
        "reject" => PolicyDecision::Reject,
        _ => return error_page(lang, StatusCode::BAD_REQUEST, "error-refused", None),
    };
    match state.decide_policy(&user.principal(), &ConsoleUser::source(&headers), version, decision, &form.note).await {
        Ok(record) => Redirect::to(&format!("{HERE}/{}?done={}", record.version, record.status.as_str())).into_response(),
        Err(error) if is_form_refusal(&error) => {
            let mut errors = FieldErrors::default();
            errors.add("note", app_message(lang, &error));
            version_page(&state, &user, version, form.note, errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}
