//! Go-live migrations (数据迁移, issue 16): the operator loads a legacy extract on the
//! server's machine (`yibao migrate load`); here the city's fund staff read each migration
//! and its reconciliation, legacy totals against the register county by county, one of them
//! prepares it and another signs it off by typing its checksum. The store counts the
//! register again at the sign-off and refuses a report that changed or differs by a fen;
//! the refusal is shown next to the checksum. Fund accountants and city administrators
//! act, auditors read; the page is city-only.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::App;
use yibao_app::migration::Migration;

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use crate::page::{FUND_WRITERS, FieldErrors, Page, app_error_page, app_message, is_form_refusal, may_post, moment_at, render, yuan};

const HERE: &str = "/console/funds/migrations";

#[derive(Debug)]
pub struct LineView {
    pub region: String,
    pub measure: String,
    pub legacy: String,
    pub loaded: String,
    pub differs: bool,
}

#[derive(Debug)]
pub struct MigrationView {
    pub id: String,
    pub href: String,
    pub files: String,
    pub batches: String,
    pub households: u64,
    pub persons: u64,
    pub started: String,
    pub loaded: bool,
    pub prepared: Option<String>,
    pub checksum: Option<String>,
    pub signed: Option<String>,
    pub differences: usize,
    pub lines: Vec<LineView>,
}

/// A measure as staff read it: the tally's English name, its Chinese name beside it.
fn measure(lang: Lang, text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    match words.as_slice() {
        ["households"] => lang.t("migration-m-households"),
        ["employers"] => lang.t("migration-m-employers"),
        ["open", "stays"] => lang.t("migration-m-open-stays"),
        ["institutions"] => lang.t("migration-m-institutions"),
        ["persons", scheme] => format!("{} · {}", lang.t("migration-m-persons"), lang.t(&format!("scheme-{scheme}"))),
        ["personal", "accounts", "amount"] => lang.t("migration-m-accounts"),
        ["contributions", kind] => format!("{} · {kind}", lang.t("migration-m-contributions")),
        ["contributions", kind, "paid", "amount"] => format!("{} · {kind}", lang.t("migration-m-contributions-paid")),
        ["contributions", kind, "due", "amount"] => format!("{} · {kind}", lang.t("migration-m-contributions-due")),
        ["accumulators", year] => format!("{} {year}", lang.t("migration-m-accumulators")),
        ["accumulators", year, "admissions"] => format!("{} {year}", lang.t("migration-m-admissions")),
        ["accumulators", year, field, "amount"] => format!("{} {year} · {field}", lang.t("migration-m-accumulated")),
        _ => text.to_owned(),
    }
}

fn migration_view(lang: Lang, record: &Migration) -> MigrationView {
    let report = record.report.as_ref();
    MigrationView {
        id: record.id.clone(),
        href: format!("{HERE}/{}", record.id),
        files: record.files.join(", "),
        batches: format!("{}/{}", record.batches_loaded, record.batches),
        households: record.households,
        persons: record.persons,
        started: format!("{} · {}", record.started_by, moment_at(record.started_at)),
        loaded: record.is_loaded(),
        prepared: report.map(|r| format!("{} · {}", r.prepared_by, moment_at(r.prepared_at))),
        checksum: report.map(|r| r.checksum.clone()),
        signed: report.and_then(|r| r.signed_by.as_ref().map(|by| format!("{by} · {}", r.signed_at.map(moment_at).unwrap_or_default()))),
        differences: report.map_or(0, |r| r.differences().count()),
        lines: report
            .map(|r| {
                r.lines
                    .iter()
                    .map(|l| {
                        let figure = |n: i64| if l.is_amount() { yuan(n) } else { n.to_string() };
                        LineView {
                            region: l.region.clone(),
                            measure: measure(lang, &l.measure),
                            legacy: figure(l.legacy),
                            loaded: figure(l.loaded),
                            differs: l.difference() != 0,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "console/funds/migrations.html")]
struct MigrationsTemplate {
    page: Page,
    migrations: Vec<MigrationView>,
    /// A city administrator checks an extract here before the operator loads it.
    may_check: bool,
}

#[derive(Template)]
#[template(path = "console/funds/migration.html")]
struct MigrationTemplate {
    page: Page,
    migration: MigrationView,
    checksum: String,
    errors: FieldErrors,
    may_act: bool,
    done: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SignOffForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub checksum: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// The city's migrations.
pub async fn list(State(state): State<App>, user: ConsoleUser) -> Response {
    let page = match Page::guard(&user, "migrations", "migrations-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    match state.migrations(&user.principal()).await {
        Ok(found) => {
            let may_check = user.may(crate::page::ADMINISTRATORS);
            render(&MigrationsTemplate { page, migrations: found.iter().map(|m| migration_view(lang, m)).collect(), may_check })
                .into_response()
        }
        Err(error) => app_error_page(lang, &error),
    }
}

async fn migration_page(state: &App, user: &ConsoleUser, id: &str, checksum: String, errors: FieldErrors, done: String) -> Response {
    let here = format!("{HERE}/{id}");
    let page = match Page::guard(user, "migrations", "migration-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let record = match state.migration(&user.principal(), id).await {
        Ok(record) => record,
        Err(error) => return app_error_page(lang, &error),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template =
        MigrationTemplate { page, migration: migration_view(lang, &record), checksum, errors, may_act: user.may(FUND_WRITERS), done };
    (status, render(&template)).into_response()
}

/// One migration, its reconciliation and the forms to prepare and sign it off.
pub async fn show(State(state): State<App>, user: ConsoleUser, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    migration_page(&state, &user, &id, String::new(), FieldErrors::default(), q.done).await
}

#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn may_act(user: &ConsoleUser, csrf: &str) -> Result<(), Response> {
    may_post(user, csrf, "migrations", "migrations-title", HERE, FUND_WRITERS)
}

/// Prepares the reconciliation: the register counted now against the legacy totals.
pub async fn prepare(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let lang = user.lang;
    match state.prepare_migration_report(&user.principal(), &ConsoleUser::source(&headers), &id).await {
        Ok(record) => Redirect::to(&format!("{HERE}/{}?done=prepared", record.id)).into_response(),
        Err(error) if is_form_refusal(&error) => {
            let mut errors = FieldErrors::default();
            errors.add("report", app_message(lang, &error));
            migration_page(&state, &user, &id, String::new(), errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

/// Signs the reconciliation off with its checksum: another person than its preparer.
pub async fn sign_off(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SignOffForm>,
) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let lang = user.lang;
    let checksum = form.checksum.trim().to_ascii_lowercase();
    let mut errors = FieldErrors::default();
    if checksum.len() != 64 || !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        errors.add("checksum", lang.t("field-bad-checksum"));
        return migration_page(&state, &user, &id, form.checksum, errors, String::new()).await;
    }
    match state.sign_off_migration(&user.principal(), &ConsoleUser::source(&headers), &id, &checksum).await {
        Ok(record) => Redirect::to(&format!("{HERE}/{}?done=signed", record.id)).into_response(),
        Err(error) if is_form_refusal(&error) => {
            errors.add("checksum", app_message(lang, &error));
            migration_page(&state, &user, &id, form.checksum, errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

// ---- the dry run of an extract, uploaded (issue 16 item 1) ----

/// The most an uploaded extract may weigh: a county's at a time (a city's extract of
/// gigabytes is checked and loaded on the server's machine, `yibao migrate check|load`).
pub const CHECK_UPLOAD_BYTES_MAX: usize = 256 << 20;
/// Rows to fix shown on the page; the error file has them all.
const ERRORS_SHOWN: usize = 200;

#[derive(Debug)]
pub struct FileCountView {
    pub file: &'static str,
    pub rows: usize,
    pub held_back: usize,
    pub valid: usize,
}

#[derive(Debug)]
pub struct RowErrorView {
    pub file: String,
    pub line: usize,
    pub column: String,
    pub key: String,
    pub message: String,
}

#[derive(Debug)]
pub struct CheckView {
    pub id: String,
    pub files: String,
    pub counts: Vec<FileCountView>,
    pub employers: usize,
    pub institutions: usize,
    pub stays: usize,
    pub stays_held_back: usize,
    pub batches: u32,
    pub error_count: usize,
    pub errors: Vec<RowErrorView>,
    pub clean: bool,
    /// How far the store has loaded these files, when it has begun.
    pub loaded: Option<String>,
}

#[derive(Template)]
#[template(path = "console/funds/migration_check.html")]
struct CheckTemplate {
    page: Page,
    check: Option<CheckView>,
    errors: FieldErrors,
}

const CHECK_HERE: &str = "/console/funds/migrations/check";

fn check_page(user: &ConsoleUser, check: Option<CheckView>, errors: FieldErrors) -> Response {
    let page = match Page::guard(user, "migrations", "migration-check-title", CHECK_HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    (status, render(&CheckTemplate { page, check, errors })).into_response()
}

/// The upload form of a dry run (city administrators).
pub async fn check_form(user: ConsoleUser) -> Response {
    if !user.may(crate::page::ADMINISTRATORS) {
        return crate::page::error_page(user.lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    check_page(&user, None, FieldErrors::default())
}

/// What the upload form sent: its files, and whether the error file is wanted.
#[derive(Debug, Default)]
struct ExtractUpload {
    csrf: String,
    files: Vec<yibao_app::migration::MigrationFile>,
    error_file: bool,
}

async fn read_extract(multipart: &mut axum::extract::Multipart) -> Result<ExtractUpload, String> {
    let mut upload = ExtractUpload::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        match field.name().unwrap_or_default() {
            "_csrf" => upload.csrf = field.text().await.map_err(|e| e.body_text())?,
            "error_file" => upload.error_file = !field.text().await.map_err(|e| e.body_text())?.is_empty(),
            "files" => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| e.body_text())?.to_vec();
                if !name.is_empty() || !bytes.is_empty() {
                    upload.files.push(yibao_app::migration::MigrationFile { name, bytes });
                }
            }
            other => return Err(format!("the form has no field '{other}'")),
        }
    }
    Ok(upload)
}

/// Checks an uploaded extract as `yibao migrate check` does, nothing written: its counts
/// and rows to fix on the page, or the error file to send back to the legacy team.
pub async fn check(State(state): State<App>, user: ConsoleUser, mut multipart: axum::extract::Multipart) -> Response {
    let lang = user.lang;
    // Who may check is known before the body is read: only a city administrator's
    // upload is read (the CSRF token, inside the body, is checked next).
    if let Err(response) = Page::guard(&user, "migrations", "migration-check-title", CHECK_HERE) {
        return response;
    }
    if !user.may(crate::page::ADMINISTRATORS) {
        return crate::page::error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let upload = match read_extract(&mut multipart).await {
        Ok(upload) => upload,
        Err(why) => {
            let mut errors = FieldErrors::default();
            errors.add("files", why);
            return check_page(&user, None, errors);
        }
    };
    if let Err(response) = may_post(&user, &upload.csrf, "migrations", "migration-check-title", CHECK_HERE, crate::page::ADMINISTRATORS) {
        return response;
    }
    if upload.files.is_empty() {
        let mut errors = FieldErrors::default();
        errors.add("files", lang.t("field-required"));
        return check_page(&user, None, errors);
    }
    let checked = state.check_migration(&user.principal(), upload.files, yibao_app::migration::BATCH_HOUSEHOLDS_DEFAULT).await;
    match checked {
        Ok(check) if upload.error_file => {
            let disposition = format!("attachment; filename=\"migration-{}-errors.csv\"", check.id);
            (
                [
                    (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (axum::http::header::CONTENT_DISPOSITION, disposition),
                ],
                check.error_file(),
            )
                .into_response()
        }
        Ok(check) => {
            let names = ["households", "persons", "contributions", "accumulators"];
            let view = CheckView {
                id: check.id.clone(),
                files: check.files.join(", "),
                counts: (0..4)
                    .map(|i| FileCountView { file: names[i], rows: check.rows[i], held_back: check.held_back[i], valid: check.valid[i] })
                    .collect(),
                employers: check.employers,
                institutions: check.institutions,
                stays: check.stays,
                stays_held_back: check.stays_held_back,
                batches: check.batches,
                error_count: check.error_count,
                errors: check
                    .errors
                    .iter()
                    .take(ERRORS_SHOWN)
                    .map(|e| RowErrorView {
                        file: e.file.name().to_owned(),
                        line: e.row.line,
                        column: e.row.column.clone().unwrap_or_default(),
                        key: e.row.key.clone().unwrap_or_default(),
                        message: e.row.message.clone(),
                    })
                    .collect(),
                clean: check.is_clean(),
                loaded: check.record.as_ref().map(|r| format!("{}/{}", r.batches_loaded, r.batches)),
            };
            check_page(&user, Some(view), FieldErrors::default())
        }
        Err(error) if is_form_refusal(&error) => {
            let mut errors = FieldErrors::default();
            errors.add("files", app_message(lang, &error));
            check_page(&user, None, errors)
        }
        Err(error) => app_error_page(lang, &error),
    }
}
