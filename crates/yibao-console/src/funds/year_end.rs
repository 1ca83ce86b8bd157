//! The year-end close (R-FND-3…5): the accountant closes a year once (POST, then its
//! record, PRG); the record shows the adjustment-fund levy per fund and contributor (the
//! adjustment-fund position), each unit's deficit and how it was covered (own surplus,
//! then the adjustment fund, then city and county finance, R-FND-5), and the early-warning
//! indicators with their warnings (surplus rate, months of spending covered, R-FND-4).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::ErrorKind;
use yibao_app::books::YearCloseInput;
use yibao_app::books::YearEndRecord;

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use super::{centi, fund_name, note_in, percent_bp};
use crate::page::{FUND_WRITERS, FieldErrors, Page, app_error_page, app_message, error_page, render, yuan};
use yibao_app::App;

#[derive(Debug)]
pub struct CloseRow {
    pub year: i32,
    pub value_date: String,
    pub levy_total_yuan: String,
    pub adjustment_used_yuan: String,
    pub warnings: usize,
}

#[derive(Debug)]
pub struct LevyRow {
    pub fund: String,
    pub contributor: String,
    pub base_yuan: String,
    pub levy_yuan: String,
    pub note: String,
}

#[derive(Debug)]
pub struct PositionRow {
    pub fund: String,
    pub unit: String,
    pub income_yuan: String,
    pub spending_yuan: String,
    pub surplus_brought_forward_yuan: String,
    pub deficit_yuan: String,
    pub from_surplus_yuan: String,
    pub from_adjustment_yuan: String,
    pub city_finance_yuan: String,
    pub county_finance_yuan: String,
    pub surplus_rate: String,
    pub months_covered: String,
    pub in_deficit: bool,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct CloseView {
    pub year: i32,
    pub value_date: String,
    pub levy_ratio: String,
    pub levy_total_yuan: String,
    pub adjustment_used_yuan: String,
    pub transfers: usize,
    pub levy: Vec<LevyRow>,
    pub positions: Vec<PositionRow>,
    pub has_warnings: bool,
    pub has_notes: bool,
}

/// A warning as stored (`[code] 中文 / English`), in the user's language with its code.
#[must_use]
pub fn warning_in(lang: Lang, warning: &str) -> String {
    match warning.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((code, note)) => format!("[{code}] {}", note_in(lang, note)),
        None => note_in(lang, warning),
    }
}

fn close_view(lang: Lang, record: &YearEndRecord) -> CloseView {
    let dash = || "—".to_owned();
    CloseView {
        year: record.year,
        value_date: record.value_date.clone(),
        levy_ratio: percent_bp(i64::from(record.levy_ratio_bp)),
        levy_total_yuan: yuan(record.levy_total_fen),
        adjustment_used_yuan: yuan(record.adjustment_used_fen),
        transfers: record.transfers,
        has_warnings: record.positions.iter().any(|p| !p.warnings.is_empty()),
        has_notes: record.positions.iter().any(|p| !p.notes.is_empty()),
        levy: record
            .levy
            .iter()
            .map(|l| LevyRow {
                fund: fund_name(lang, &l.fund),
                contributor: l.contributor.clone(),
                base_yuan: yuan(l.base_fen),
                levy_yuan: yuan(l.levy_fen),
                note: note_in(lang, &l.note),
            })
            .collect(),
        positions: record
            .positions
            .iter()
            .map(|p| PositionRow {
                fund: fund_name(lang, &p.fund),
                unit: p.unit.clone(),
                income_yuan: yuan(p.income_fen),
                spending_yuan: yuan(p.spending_fen),
                surplus_brought_forward_yuan: yuan(p.surplus_brought_forward_fen),
                deficit_yuan: yuan(p.deficit_fen),
                from_surplus_yuan: yuan(p.from_surplus_fen),
                from_adjustment_yuan: yuan(p.from_adjustment_fen),
                city_finance_yuan: yuan(p.city_finance_fen),
                county_finance_yuan: yuan(p.county_finance_fen),
                surplus_rate: p.surplus_rate_bp.map_or_else(dash, percent_bp),
                months_covered: p.months_covered_centi.map_or_else(dash, centi),
                in_deficit: p.deficit_fen > 0,
                warnings: p.warnings.iter().map(|w| warning_in(lang, w)).collect(),
                notes: p.notes.iter().map(|n| note_in(lang, n)).collect(),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "console/funds/year_end.html")]
struct YearEndTemplate {
    page: Page,
    year: String,
    levy: String,
    city_share: String,
    errors: FieldErrors,
    may_close: bool,
    closes: Vec<CloseRow>,
}

#[derive(Template)]
#[template(path = "console/funds/close.html")]
struct CloseTemplate {
    page: Page,
    close: CloseView,
    /// A dry run: what the close would do, nothing posted.
    dry_run: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct CloseForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    year: String,
    /// The levy's share of collected pooled income, `10%` by default (R-FND-5).
    #[serde(default)]
    levy: String,
    /// City finance's share of a deficit left to finance, `50%` by default.
    #[serde(default)]
    city_share: String,
    /// `preview` for a dry run (the form's second button); anything else closes.
    #[serde(default)]
    action: String,
}

async fn year_end_page(state: &App, user: &ConsoleUser, form: CloseForm, errors: FieldErrors) -> Response {
    let page = match Page::guard(user, "year-end", "year-end-title", "/console/funds/year-end") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let closes = match state.year_closes(&user.principal()).await {
        Ok(closes) => closes,
        Err(error) => return app_error_page(lang, &error),
    };
    let closes = closes
        .iter()
        .map(|c| CloseRow {
            year: c.year,
            value_date: c.value_date.clone(),
            levy_total_yuan: yuan(c.levy_total_fen),
            adjustment_used_yuan: yuan(c.adjustment_used_fen),
            warnings: c.positions.iter().map(|p| p.warnings.len()).sum(),
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let year =
        if form.year.trim().is_empty() { (time::OffsetDateTime::now_utc().year() - 1).to_string() } else { form.year.trim().to_owned() };
    let template = YearEndTemplate {
        page,
        year,
        levy: form.levy.trim().to_owned(),
        city_share: form.city_share.trim().to_owned(),
        errors,
        may_close: user.may(FUND_WRITERS),
        closes,
    };
    (status, render(&template)).into_response()
}

pub async fn show(State(state): State<App>, user: ConsoleUser) -> Response {
    year_end_page(&state, &user, CloseForm::default(), FieldErrors::default()).await
}

/// The close as the form asks for it: the year, and the form's ratios where given (the
/// application takes the policy in force for the city on 31 December of the year for the
/// rest: levy ratio, city finance's share, warning thresholds, rounding, R-FND-4/5, as for
/// the API); or the errors next to the fields.
fn close_input(user: &ConsoleUser, form: &CloseForm, errors: &mut FieldErrors) -> Option<YearCloseInput> {
    let lang = user.lang;
    let year = form.year.trim().parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        errors.add("year", lang.t("field-bad-year"));
    }
    let mut ratio = |field: &str, text: &str| match text.trim() {
        "" => Some(None),
        t => yibao_domain::RatioBp::parse_percent(t).map_or_else(
            |_| {
                errors.add(field, lang.t("field-bad-ratio"));
                None
            },
            |ratio| Some(Some(ratio)),
        ),
    };
    let levy = ratio("levy", &form.levy);
    let city_share = ratio("city_share", &form.city_share);
    let (Some(year), Some(levy), Some(city_share), true) = (year, levy, city_share, errors.is_empty()) else { return None };
    Some(YearCloseInput { year, levy, city_share, targets: Vec::new() })
}

/// Closes a year: on success to its record; a refusal is shown next to the year field.
pub async fn close(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<CloseForm>) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&form.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if let Err(response) = Page::guard(&user, "year-end", "year-end-title", "/console/funds/year-end") {
        return response;
    }
    if !user.may(FUND_WRITERS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let mut errors = FieldErrors::default();
    let Some(input) = close_input(&user, &form, &mut errors) else {
        return year_end_page(&state, &user, form, errors).await;
    };
    let year = input.year;
    if form.action == "preview" {
        let page = Page::for_user(&user, "year-end", "year-end-dry-run-title", "/console/funds/year-end");
        return match state.preview_year_end(&user.principal(), input).await {
            Ok(outcome) => render(&CloseTemplate { page, close: close_view(lang, &outcome.record), dry_run: true }),
            Err(error) if matches!(error.kind, ErrorKind::Unprocessable | ErrorKind::BadRequest) => {
                errors.add("year", app_message(lang, &error));
                year_end_page(&state, &user, form, errors).await
            }
            Err(error) => app_error_page(lang, &error),
        };
    }
    match state.close_year(&user.principal(), &ConsoleUser::source(&headers), input).await {
        Ok(_) => Redirect::to(&format!("/console/funds/year-end/{year}")).into_response(),
        Err(error) if matches!(error.kind, ErrorKind::Unprocessable | ErrorKind::BadRequest) => {
            errors.add("year", app_message(lang, &error));
            year_end_page(&state, &user, form, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

/// A close's record.
pub async fn record(State(state): State<App>, user: ConsoleUser, Path(year): Path<String>) -> Response {
    let here = format!("/console/funds/year-end/{}", super::super::page::url_encode(&year));
    let page = match Page::guard(&user, "year-end", "year-end-record-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let Ok(year) = year.parse::<i32>() else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let closes = match state.year_closes(&user.principal()).await {
        Ok(closes) => closes,
        Err(error) => return app_error_page(lang, &error),
    };
    match closes.iter().find(|c| c.year == year) {
        Some(found) => render(&CloseTemplate { page, close: close_view(lang, found), dry_run: false }),
        None => error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None),
    }
}

/// One warning of a close, for the dashboard.
#[derive(Debug)]
pub struct CloseWarning {
    pub fund: String,
    pub unit: String,
    pub warning: String,
}

/// The latest close's year and warnings (R-FND-4), for the dashboard.
pub fn latest_warnings(lang: Lang, closes: &[YearEndRecord]) -> Option<(i32, Vec<CloseWarning>)> {
    let latest = closes.first()?;
    let warnings = latest
        .positions
        .iter()
        .flat_map(|p| {
            p.warnings.iter().map(move |w| CloseWarning {
                fund: fund_name(lang, &p.fund),
                unit: p.unit.clone(),
                warning: warning_in(lang, w),
            })
        })
        .collect();
    Some((latest.year, warnings))
}
