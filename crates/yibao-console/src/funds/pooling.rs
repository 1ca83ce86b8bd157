//! The monthly pooling run (统收统支, R-FND-2): the accountant previews a month (what would
//! be swept, disbursed and paid, as the books stand now), runs it (POST, then the run's
//! record page, PRG), and reads past runs. A month runs once; running it again leads to
//! the first run's record. A special account that cannot pay (`ledger.special_account_short`)
//! is shown next to the month field with the store's message.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Date;
use yibao_app::books::{PoolingRun, YearMonth};
use yibao_app::{AppError, ErrorKind};

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use super::statement::current_month;
use super::{fund_name, note_in};
use crate::page::{FUND_WRITERS, FieldErrors, Page, app_error_page, app_message, error_page, render, yuan};
use yibao_app::App;

#[derive(Debug)]
pub struct PaymentView {
    pub payee: String,
    pub amount_yuan: String,
}

#[derive(Debug)]
pub struct UnitView {
    pub unit: String,
    pub swept_yuan: String,
    pub disbursed_yuan: String,
    pub payments: Vec<PaymentView>,
    pub owed_back: Vec<PaymentView>,
}

#[derive(Debug)]
pub struct FundView {
    pub fund: String,
    pub name: String,
    pub before_yuan: String,
    pub swept_yuan: String,
    pub disbursed_yuan: String,
    pub after_yuan: String,
    pub units: Vec<UnitView>,
    pub notes: Vec<String>,
}

/// A run (or a preview) as the page shows it: amounts in yuan, notes in the user's language.
#[derive(Debug)]
pub struct RunView {
    pub month: String,
    pub value_date: String,
    pub transfers: usize,
    pub funds: Vec<FundView>,
}

fn payments(payments: &[yibao_app::books::Payment]) -> Vec<PaymentView> {
    payments.iter().map(|p| PaymentView { payee: p.payee.clone(), amount_yuan: yuan(p.amount_fen) }).collect()
}

#[must_use]
pub fn run_view(lang: Lang, run: &PoolingRun) -> RunView {
    RunView {
        month: run.month.clone(),
        value_date: run.value_date.clone(),
        transfers: run.transfers,
        funds: run
            .funds
            .iter()
            .map(|f| FundView {
                fund: f.fund.clone(),
                name: fund_name(lang, &f.fund),
                before_yuan: yuan(f.special_before_fen),
                swept_yuan: yuan(f.swept_fen),
                disbursed_yuan: yuan(f.disbursed_fen),
                after_yuan: yuan(f.special_after_fen),
                units: f
                    .units
                    .iter()
                    .map(|u| UnitView {
                        unit: u.unit.clone(),
                        swept_yuan: yuan(u.swept_fen),
                        disbursed_yuan: yuan(u.disbursed_fen),
                        payments: payments(&u.payments),
                        owed_back: payments(&u.owed_back),
                    })
                    .collect(),
                notes: f.notes.iter().map(|n| note_in(lang, n)).collect(),
            })
            .collect(),
    }
}

#[derive(Debug)]
pub struct RunRow {
    pub month: String,
    pub value_date: String,
    pub funds: usize,
    pub transfers: usize,
    pub disbursed_yuan: String,
}

#[derive(Template)]
#[template(path = "console/funds/pooling.html")]
struct PoolingTemplate {
    page: Page,
    month: String,
    day: String,
    errors: FieldErrors,
    /// The preview of `month`, when one was asked for and the store could make it.
    run: Option<RunView>,
    /// Whether the previewed month had run already (the preview is then its record).
    already_run: bool,
    may_run: bool,
    runs: Vec<RunRow>,
}

#[derive(Template)]
#[template(path = "console/funds/run.html")]
struct RunTemplate {
    page: Page,
    run: Option<RunView>,
    /// `ran`: this POST ran it; `had-run`: the month had run before, this is its record.
    done: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct MonthForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    day: String,
}

/// The month and day of a form, or the errors next to its fields. Without a day, the
/// application dates the run on the policy's sweep day (`fund.sweep_day`), else on the
/// month's last day, as for the API.
fn month_and_day(user: &ConsoleUser, form: &MonthForm, errors: &mut FieldErrors) -> Option<(YearMonth, Option<u8>)> {
    let lang = user.lang;
    let Ok(month) = YearMonth::parse(form.month.trim()) else {
        errors.add("month", lang.t("field-bad-month"));
        return None;
    };
    match form.day.trim() {
        "" => Some((month, None)),
        text => {
            // A day the month has, checked here so the error sits by the field.
            let day = text.parse::<u8>().ok().filter(|day| Date::from_calendar_date(month.year(), month.first_day().month(), *day).is_ok());
            if day.is_none() {
                errors.add("day", lang.t("field-bad-day"));
                return None;
            }
            Some((month, day))
        }
    }
}

/// A refusal the accountant can act on goes next to the month field; anything else is
/// the error page.
fn refusal(lang: Lang, error: &AppError, errors: &mut FieldErrors) -> Option<Response> {
    match error.kind {
        ErrorKind::Unprocessable | ErrorKind::BadRequest => {
            errors.add("month", app_message(lang, error));
            None
        }
        _ => Some(app_error_page(lang, error)),
    }
}

async fn pooling_page(state: &App, user: &ConsoleUser, form: MonthForm, mut errors: FieldErrors, preview: bool) -> Response {
    let page = match Page::guard(user, "pooling", "pooling-title", "/console/funds/pooling") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let principal = user.principal();
    let runs = match state.pooling_runs(&principal).await {
        Ok(runs) => runs,
        Err(error) => return app_error_page(lang, &error),
    };
    let (mut run, mut already_run) = (None, false);
    if preview
        && errors.is_empty()
        && let Some((month, day)) = month_and_day(user, &form, &mut errors)
    {
        match state.preview_pooling(&principal, month, day).await {
            Ok(outcome) => {
                // A preview never runs anything (`ran_now` is false): whether the month
                // ran is read from the runs.
                already_run = runs.iter().any(|r| r.month == month.to_string());
                run = Some(run_view(lang, &outcome.run));
            }
            Err(error) => {
                if let Some(response) = refusal(lang, &error, &mut errors) {
                    return response;
                }
            }
        }
    }
    let runs = runs
        .iter()
        .map(|r| RunRow {
            month: r.month.clone(),
            value_date: r.value_date.clone(),
            funds: r.funds.len(),
            transfers: r.transfers,
            disbursed_yuan: yuan(r.funds.iter().map(|f| f.disbursed_fen).sum()),
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let month = if form.month.trim().is_empty() { current_month() } else { form.month.trim().to_owned() };
    let template =
        PoolingTemplate { page, month, day: form.day.trim().to_owned(), errors, run, already_run, may_run: user.may(FUND_WRITERS), runs };
    (status, render(&template)).into_response()
}

/// The pooling page; with `?month=` (and `day`), the month's preview.
pub async fn show(State(state): State<App>, user: ConsoleUser, Query(form): Query<MonthForm>) -> Response {
    let preview = !form.month.trim().is_empty();
    pooling_page(&state, &user, form, FieldErrors::default(), preview).await
}

/// Runs a month: on success to the run's record; a refusal is shown on the pooling page.
pub async fn run(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<MonthForm>) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&form.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if let Err(response) = Page::guard(&user, "pooling", "pooling-title", "/console/funds/pooling") {
        return response;
    }
    if !user.may(FUND_WRITERS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let mut errors = FieldErrors::default();
    let Some((month, day)) = month_and_day(&user, &form, &mut errors) else {
        return pooling_page(&state, &user, form, errors, false).await;
    };
    match state.run_pooling(&user.principal(), &ConsoleUser::source(&headers), month, day).await {
        Ok(outcome) => {
            let done = if outcome.ran_now { "ran" } else { "had-run" };
            Redirect::to(&format!("/console/funds/pooling/{month}?done={done}")).into_response()
        }
        Err(error) => {
            if let Some(response) = refusal(lang, &error, &mut errors) {
                return response;
            }
            pooling_page(&state, &user, form, errors, false).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// A run's record: every fund's special account before → swept → disbursed → after, per
/// unit, the payments, and the notes.
pub async fn record(State(state): State<App>, user: ConsoleUser, Path(month): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    let here = format!("/console/funds/pooling/{}", super::super::page::url_encode(&month));
    let page = match Page::guard(&user, "pooling", "pooling-run-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let Ok(month) = YearMonth::parse(&month) else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let runs = match state.pooling_runs(&user.principal()).await {
        Ok(runs) => runs,
        Err(error) => return app_error_page(lang, &error),
    };
    let Some(found) = runs.iter().find(|r| r.month == month.to_string()) else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    render(&RunTemplate { page, run: Some(run_view(lang, found)), done: q.done })
}
