//! Paying institutions (issue 15, R-PAY-1): the region's payment year (budget, risk
//! reserve, what the other methods take, the points' pool and the year's point value, each
//! institution's bill, earnings, clearing and balance) and one institution's statement
//! (月度/年度结算单: its months, its cases with their methods and points, its clearing), with
//! the statement as CSV. Everything is `App::payment_year` / `App::payment_statement`; the
//! pages only lay it out. City fund readers only: the point value is the city's.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::App;
use yibao_app::payment::view::{Band, Cleared, Deviation, Method, OutOfPoints};
use yibao_app::payment::{InstitutionStatement, PaymentYearView};
use yibao_domain::Fen;

use super::session::ConsoleUser;
use crate::funds::statement::csv_line;
use crate::i18n::Lang;
use crate::page::{
    COUNT, Cell, FUND_WRITERS, POINTS, Page, Sheet, YUAN, app_error_page, app_message, error_page, may_post, render, xlsx_download,
};

const HERE: &str = "/console/payment";

#[derive(Debug, Default, Deserialize)]
pub struct YearQuery {
    #[serde(default)]
    year: String,
}

/// One institution's line of the year.
#[derive(Debug)]
pub struct InstitutionLine {
    pub code: String,
    pub name: String,
    pub cases: u32,
    pub points: String,
    pub billed: String,
    pub earned: String,
    pub payable: String,
    pub balance: String,
    pub against_billed: String,
    pub less_than_billed: bool,
}

/// The figures of the year's budget, as label and value.
#[derive(Template)]
#[template(path = "console/payment/year.html")]
struct YearTemplate {
    page: Page,
    year: String,
    view: Option<YearFigures>,
    /// Why the year cannot be shown (no budget, no terms for it).
    refusal: Option<String>,
}

#[derive(Debug)]
pub struct YearFigures {
    pub provisional: bool,
    pub pack_id: String,
    pub figures: Vec<(String, String)>,
    pub lines: Vec<InstitutionLine>,
    /// The year's last clearing round: the round, the day, owed, recovered, transfers.
    pub cleared: Option<(u32, String, String, String, usize)>,
    /// The year changed since its clearing: a supplementary round is due.
    pub changed_since_clearing: bool,
    /// The year is over and assessed, not cleared or changed since, and the user may book it.
    pub may_clear: bool,
}

#[derive(Template)]
#[template(path = "console/payment/statement.html")]
struct StatementTemplate {
    page: Page,
    year: i32,
    code: String,
    provisional: bool,
    figures: Vec<(String, String)>,
    clearings: Vec<(String, ClearingView)>,
    months: Vec<Vec<String>>,
    cases: Vec<Vec<String>>,
}

/// A clearing's figures as the statement shows them.
#[derive(Debug)]
pub struct ClearingView {
    pub standard: String,
    pub billed: String,
    pub deviation: String,
    pub shared: String,
    pub paid: String,
}

fn money(fen: Fen) -> String {
    fen.to_string()
}

fn year_of(text: &str) -> i32 {
    text.trim().parse().unwrap_or_else(|_| time::OffsetDateTime::now_utc().year())
}

fn figures(lang: Lang, view: &PaymentYearView) -> Vec<(String, String)> {
    let r = &view.result;
    let dash = || "—".to_owned();
    vec![
        (lang.t("payment-fund-income"), money(r.fund_income)),
        (lang.t("payment-risk-reserve"), money(r.risk_reserve)),
        (lang.t("payment-budget"), money(r.budget)),
        (lang.t("payment-other-methods"), money(r.other_methods)),
        (lang.t("payment-points-pool"), money(r.points_pool)),
        (lang.t("payment-points"), r.points.to_string()),
        (lang.t("payment-point-value"), r.point_value_yuan.clone().unwrap_or_else(dash)),
        (lang.t("payment-provisional-value"), r.provisional_value_yuan.clone().unwrap_or_else(dash)),
        (lang.t("payment-over-budget"), money(r.over_budget)),
        (lang.t("payment-skipped"), view.skipped_cases.to_string()),
    ]
}

/// The region's payment year (`?year=`, default this year).
pub async fn year(State(state): State<App>, user: ConsoleUser, Query(query): Query<YearQuery>) -> Response {
    let page = match Page::guard(&user, "payment", "payment-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let year = year_of(&query.year);
    let view = match state.payment_year(&user.principal(), year).await {
        Ok(view) => view,
        // A year without a budget or terms is a page that says so, with the year to change.
        Err(error) if error.kind == yibao_app::ErrorKind::Unprocessable => {
            let refusal = Some(app_message(lang, &error));
            return render(&YearTemplate { page, year: year.to_string(), view: None, refusal });
        }
        Err(error) => return app_error_page(lang, &error),
    };
    let lines = view
        .result
        .institutions
        .iter()
        .map(|i| InstitutionLine {
            code: i.institution.clone(),
            name: view.names.get(&i.institution).cloned().unwrap_or_default(),
            cases: i.cases,
            points: i.points.to_string(),
            billed: money(i.billed),
            earned: money(i.earned),
            payable: money(i.payable),
            balance: money(i.balance),
            against_billed: money(i.against_billed),
            less_than_billed: i.against_billed.is_negative(),
        })
        .collect();
    let cleared = view
        .clearing
        .as_ref()
        .map(|c| (c.round, c.value_date.clone(), money(Fen::new(c.owed_fen)), money(Fen::new(c.recovered_fen)), c.transfers));
    let may_clear = (cleared.is_none() || view.changed_since_clearing) && !view.provisional && user.may(FUND_WRITERS);
    let figures = YearFigures {
        provisional: view.provisional,
        pack_id: view.pack_id.clone(),
        figures: figures(lang, &view),
        lines,
        cleared,
        changed_since_clearing: view.changed_since_clearing,
        may_clear,
    };
    render(&YearTemplate { page, year: year.to_string(), view: Some(figures), refusal: None })
}

#[derive(Debug, Deserialize)]
pub struct ClearingForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    year: String,
}

/// Books the year's clearing (`App::clear_payment_year`), then shows the year again.
pub async fn clear(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<ClearingForm>) -> Response {
    if let Err(response) = may_post(&user, &form.csrf, "payment", "payment-title", HERE, FUND_WRITERS) {
        return response;
    }
    let Ok(year) = form.year.trim().parse::<i32>() else {
        return error_page(user.lang, axum::http::StatusCode::BAD_REQUEST, "error-refused", None);
    };
    match state.clear_payment_year(&user.principal(), &ConsoleUser::source(&headers), year).await {
        Ok(_) => Redirect::to(&format!("{HERE}?year={year}")).into_response(),
        Err(error) => app_error_page(user.lang, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct StatementPath {
    year: i32,
    code: String,
}

async fn statement_of(state: &App, user: &ConsoleUser, year: i32, code: &str) -> Result<(Page, InstitutionStatement), Response> {
    let page = Page::guard(user, "payment", "payment-statement-title", HERE)?;
    match state.payment_statement(&user.principal(), year, code).await {
        Ok(statement) => Ok((page, statement)),
        Err(error) => Err(app_error_page(user.lang, &error)),
    }
}

/// The statement's figures, label and value: the same on the page and in the workbook.
fn statement_figures(lang: Lang, statement: &InstitutionStatement) -> Vec<(String, String)> {
    let i = &statement.institution;
    let dash = || "—".to_owned();
    let mut figures = vec![
        (lang.t("payment-point-value"), statement.point_value_yuan.clone().unwrap_or_else(dash)),
        (lang.t("payment-col-cases"), i.cases.to_string()),
        (lang.t("payment-points"), i.points.to_string()),
        (lang.t("payment-col-billed"), money(i.billed)),
        (lang.t("payment-per-diem"), money(i.per_diem)),
        (lang.t("payment-fee-for-service"), money(i.fee_for_service)),
        (lang.t("payment-capitation"), money(i.capitation)),
        (lang.t("payment-earned"), money(i.earned)),
        (lang.t("payment-deposit-withheld"), money(i.deposit_withheld)),
        (lang.t("payment-deposit-returned"), money(i.deposit_returned)),
        (lang.t("payment-deductions"), money(i.deductions)),
        (lang.t("payment-payable"), money(i.payable)),
        (lang.t("payment-col-paid"), money(i.paid_in_year)),
        (lang.t("payment-balance"), money(i.balance)),
        (lang.t("payment-against-billed"), money(i.against_billed)),
    ];
    if let (Some(day), Some(line)) = (&statement.cleared_on, &statement.cleared) {
        figures.push((lang.t("payment-booked"), format!("{day} · {}", money(Fen::new(line.difference_fen)))));
    }
    figures
}

/// The statement's cases, one row each: claim, month, method, detail, points, billed.
fn case_cells(lang: Lang, statement: &InstitutionStatement) -> Vec<Vec<String>> {
    statement
        .cases
        .iter()
        .map(|c| {
            let (method, detail) = match &c.method {
                Method::Points { group, band, cost_ratio_bp, .. } => (
                    lang.t("payment-method-points"),
                    format!("{group} · {} · {}%", lang.t(&format!("payment-band-{}", band_key(*band))), cost_ratio_bp / 100),
                ),
                Method::PerDiem { rate, days, .. } => (lang.t("payment-method-per-diem"), format!("{rate} · {days}")),
                Method::FeeForService { reason } => {
                    (lang.t("payment-method-fee-for-service"), lang.t(&format!("payment-reason-{}", reason_key(*reason))))
                }
            };
            let mut points = c.points.to_string();
            if c.reduced_for_readmission {
                points.push_str(&format!(" ({})", lang.t("payment-readmission")));
            }
            vec![c.claim_id.clone(), c.month.to_string(), method, detail, points, money(c.billed)]
        })
        .collect()
}

fn month_cells(statement: &InstitutionStatement) -> Vec<Vec<String>> {
    statement
        .institution
        .months
        .iter()
        .map(|m| {
            vec![
                m.month.to_string(),
                m.cases.to_string(),
                m.points.to_string(),
                money(m.billed),
                money(m.provisional),
                money(m.advance),
                money(m.deposit),
                money(m.capitation),
                money(m.paid),
            ]
        })
        .collect()
}

const MONTH_COLUMNS: [&str; 9] = [
    "payment-col-month",
    "payment-col-cases",
    "payment-points",
    "payment-col-billed",
    "payment-col-provisional",
    "payment-col-advance",
    "payment-col-deposit",
    "payment-col-capitation",
    "payment-col-paid",
];

/// One institution's statement for a year.
pub async fn statement(
    State(state): State<App>,
    user: ConsoleUser,
    axum::extract::Path(path): axum::extract::Path<StatementPath>,
) -> Response {
    let (mut page, statement) = match statement_of(&state, &user, path.year, &path.code).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    page.title = format!("{} — {} {}", page.title, statement.institution.institution, statement.name);
    let i = &statement.institution;
    let figures = statement_figures(lang, &statement);
    let clearing = |c: &Cleared| ClearingView {
        standard: money(c.standard),
        billed: money(c.billed),
        deviation: lang.t(&format!("payment-deviation-{}", deviation_key(c.deviation))),
        shared: money(c.shared),
        paid: money(c.paid),
    };
    let mut clearings = Vec::new();
    if let Some(c) = &i.points_clearing {
        clearings.push((lang.t("payment-points-clearing"), clearing(c)));
    }
    if let Some(c) = &i.budget_clearing {
        clearings.push((lang.t("payment-budget-clearing"), clearing(c)));
    }
    let cases = case_cells(lang, &statement);
    render(&StatementTemplate {
        page,
        year: path.year,
        code: statement.institution.institution.clone(),
        provisional: statement.provisional,
        figures,
        clearings,
        months: month_cells(&statement),
        cases,
    })
}

/// The statement's months as CSV (UTF-8 with a byte-order mark).
pub async fn statement_csv(
    State(state): State<App>,
    user: ConsoleUser,
    axum::extract::Path(path): axum::extract::Path<StatementPath>,
) -> Response {
    let (_, statement) = match statement_of(&state, &user, path.year, &path.code).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let header: Vec<String> = MONTH_COLUMNS.iter().map(|k| lang.t(k)).collect();
    let mut body = String::from('\u{feff}');
    body.push_str(&csv_line(&header.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in month_cells(&statement) {
        body.push_str(&csv_line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    let file = format!("attachment; filename=\"payment-{}-{}.csv\"", path.year, statement.institution.institution);
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, file)], body).into_response()
}

/// The statement as an Excel workbook (结算单.xlsx): its figures, its months and its cases,
/// each a sheet; amounts are numbers in yuan with two decimals, points with four, so the
/// bureau's and the hospital's spreadsheets sum them.
pub async fn statement_xlsx(
    State(state): State<App>,
    user: ConsoleUser,
    axum::extract::Path(path): axum::extract::Path<StatementPath>,
) -> Response {
    let (_, statement) = match statement_of(&state, &user, path.year, &path.code).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let file = format!("payment-{}-{}.xlsx", path.year, statement.institution.institution);
    xlsx_download(lang, &file, statement_sheets(lang, &statement))
}

fn statement_sheets(lang: Lang, statement: &InstitutionStatement) -> Vec<Sheet> {
    let figures: Vec<Vec<String>> = statement_figures(lang, statement).into_iter().map(|(label, value)| vec![label, value]).collect();
    let month_header: Vec<String> = MONTH_COLUMNS.iter().map(|k| lang.t(k)).collect();
    let case_header: Vec<String> = CASE_COLUMNS.iter().map(|k| lang.t(k)).collect();
    let sheets = vec![
        (lang.t("payment-statement-title"), vec![String::new(), String::new()], vec![Cell::Text, Cell::Text], figures),
        (lang.t("payment-months"), month_header, vec![COUNT, COUNT, POINTS, YUAN, YUAN, YUAN, YUAN, YUAN, YUAN], month_cells(statement)),
        (
            lang.t("payment-cases"),
            case_header,
            vec![Cell::Text, COUNT, Cell::Text, Cell::Text, Cell::Text, YUAN],
            case_cells(lang, statement),
        ),
    ];
    sheets
}

const CASE_COLUMNS: [&str; 6] =
    ["payment-col-claim", "payment-col-month", "payment-col-method", "payment-col-detail", "payment-points", "payment-col-billed"];

fn deviation_key(deviation: Deviation) -> &'static str {
    match deviation {
        Deviation::Surplus => "surplus",
        Deviation::Overspend => "overspend",
        Deviation::Even => "even",
    }
}

fn band_key(band: Band) -> &'static str {
    match band {
        Band::Normal => "normal",
        Band::LowCost => "low-cost",
        Band::HighCost => "high-cost",
    }
}

fn reason_key(reason: OutOfPoints) -> &'static str {
    match reason {
        OutOfPoints::NotUnderPoints => "not-under-points",
        OutOfPoints::SingleDisease => "single-disease",
        OutOfPoints::Ungrouped => "ungrouped",
        OutOfPoints::TooShort => "too-short",
        OutOfPoints::TooLong => "too-long",
        OutOfPoints::CostBeyondBound => "cost-beyond-bound",
    }
}
