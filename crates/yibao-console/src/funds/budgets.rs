//! Budgets and their execution (R-FND-3, 以收定支、收支平衡、略有结余): city fund staff set or
//! revise a fund's budget for a year and unit (POST, then the execution page, PRG); every
//! fund reader sees, for a year through a month, what was booked against each budget month
//! by month, as a table and a line chart of cumulative spending against the budget. A
//! county's staff see their own county's budgets only (the store's scope, R-GEO-2).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use yibao_app::ErrorKind;
use yibao_app::books::FundScheme;
use yibao_app::{Budget, BudgetExecution};
use yibao_domain::{Fen, RegionCode, RegionLevel};

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use super::receipts::Choice;
use super::{fund_name, percent_bp, script_json};
use crate::page::{FUND_WRITERS, FieldErrors, Page, app_error_page, app_message, error_page, render, yuan};
use yibao_app::App;

const HERE: &str = "/console/funds/budgets";

#[derive(Debug)]
pub struct ExecutionRow {
    pub fund: String,
    pub unit: String,
    pub income_budget_yuan: String,
    pub income_so_far_yuan: String,
    pub income_executed: String,
    pub spending_budget_yuan: String,
    pub spending_so_far_yuan: String,
    pub spending_executed: String,
    /// Spending so far beyond the year's budget: shown in red.
    pub overspent: bool,
}

/// One budget's line on the chart: cumulative spending per month, and the budget.
#[derive(Debug, Serialize)]
struct ChartLine {
    name: String,
    budget: String,
    spending: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ChartData {
    months: Vec<String>,
    budget_label: String,
    lines: Vec<ChartLine>,
}

#[derive(Template)]
#[template(path = "console/funds/budgets.html")]
struct BudgetsTemplate {
    page: Page,
    year: String,
    month: String,
    form: BudgetForm,
    errors: FieldErrors,
    schemes: Vec<Choice>,
    may_set: bool,
    done: bool,
    rows: Vec<ExecutionRow>,
    chart_json: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ExecutionQuery {
    #[serde(default)]
    year: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    done: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct BudgetForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub year: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub income: String,
    #[serde(default)]
    pub spending: String,
}

/// The funds a budget is set for: every fund but the adjustment fund (it has no budget of
/// its own, only the levy, R-FND-5).
#[must_use]
pub fn budget_schemes(lang: Lang) -> Vec<Choice> {
    FundScheme::ALL
        .iter()
        .filter(|s| **s != FundScheme::MunicipalAdjustment)
        .map(|s| Choice { value: s.as_str(), label: lang.t(&format!("fund-{}", s.as_str())) })
        .collect()
}

fn this_year_and_month() -> (i32, u8) {
    let today = time::OffsetDateTime::now_utc().date();
    (today.year(), u8::from(today.month()))
}

fn execution_rows(lang: Lang, executions: &[BudgetExecution]) -> (Vec<ExecutionRow>, Vec<ChartLine>) {
    let dash = || "—".to_owned();
    let rows = executions
        .iter()
        .map(|e| {
            let (income, spending) = e.months.last().map_or((0, 0), |&(_, i, s)| (i, s));
            ExecutionRow {
                fund: fund_name(lang, &e.budget.fund_scheme),
                unit: e.budget.unit.clone(),
                income_budget_yuan: yuan(e.budget.income_fen),
                income_so_far_yuan: yuan(income),
                income_executed: e.income_executed_bp.map_or_else(dash, percent_bp),
                spending_budget_yuan: yuan(e.budget.spending_fen),
                spending_so_far_yuan: yuan(spending),
                spending_executed: e.spending_executed_bp.map_or_else(dash, percent_bp),
                overspent: spending > e.budget.spending_fen,
            }
        })
        .collect();
    let lines = executions
        .iter()
        .map(|e| ChartLine {
            name: format!("{} {}", fund_name(lang, &e.budget.fund_scheme), e.budget.unit),
            budget: yuan(e.budget.spending_fen),
            spending: e.months.iter().map(|&(_, _, s)| yuan(s)).collect(),
        })
        .collect();
    (rows, lines)
}

async fn budgets_page(state: &App, user: &ConsoleUser, query: &ExecutionQuery, form: BudgetForm, mut errors: FieldErrors) -> Response {
    let page = match Page::guard(user, "budgets", "budgets-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let (this_year, this_month) = this_year_and_month();
    let year_text = if query.year.trim().is_empty() { this_year.to_string() } else { query.year.trim().to_owned() };
    let month_text = if query.month.trim().is_empty() { this_month.to_string() } else { query.month.trim().to_owned() };
    let year = year_text.parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        errors.add("year", lang.t("field-bad-year"));
    }
    let month = month_text.parse::<u8>().ok().filter(|m| (1..=12).contains(m));
    if month.is_none() {
        errors.add("month", lang.t("field-bad-month-number"));
    }
    let executions = match (year, month) {
        (Some(year), Some(month)) => match state.budget_execution(&user.principal(), year, month).await {
            Ok(found) => found,
            Err(error) => return app_error_page(lang, &error),
        },
        _ => Vec::new(),
    };
    let (rows, lines) = execution_rows(lang, &executions);
    let months = (1..=month.unwrap_or(12)).map(|m| format!("{m:02}")).collect();
    let chart = ChartData { months, budget_label: lang.t("chart-budget"), lines };
    let form = if form.year.is_empty() { BudgetForm { year: year_text.clone(), ..form } } else { form };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = BudgetsTemplate {
        page,
        year: year_text,
        month: month_text,
        form,
        errors,
        schemes: budget_schemes(lang),
        // Budgets are the city's to approve and issue (R-FND-3): the store refuses a county.
        may_set: user.may(FUND_WRITERS) && user.region.level() == RegionLevel::City,
        done: query.done == "set",
        rows,
        chart_json: script_json(&chart),
    };
    (status, render(&template)).into_response()
}

pub async fn show(State(state): State<App>, user: ConsoleUser, Query(query): Query<ExecutionQuery>) -> Response {
    budgets_page(&state, &user, &query, BudgetForm::default(), FieldErrors::default()).await
}

/// The budget of a form, or the errors next to its fields.
fn budget_of(lang: Lang, user: &ConsoleUser, form: &BudgetForm, errors: &mut FieldErrors) -> Option<Budget> {
    let year = form.year.trim().parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        errors.add("year", lang.t("field-bad-year"));
    }
    let scheme = FundScheme::parse(form.scheme.trim()).filter(|s| *s != FundScheme::MunicipalAdjustment);
    if scheme.is_none() {
        errors.add("scheme", lang.t("field-bad-fund"));
    }
    let unit = RegionCode::parse(form.unit.trim()).ok();
    match unit {
        None => errors.add("unit", lang.t("field-bad-region")),
        Some(unit) if !user.region.contains(unit) => errors.add("unit", lang.t("field-region-outside")),
        Some(_) => {}
    }
    let mut amount = |field: &str, text: &str| {
        let fen = Fen::parse_yuan(text.trim()).ok().filter(|f| !f.is_negative());
        if fen.is_none() {
            errors.add(field, lang.t("field-bad-amount"));
        }
        fen
    };
    let income = amount("income", &form.income);
    let spending = amount("spending", &form.spending);
    let (Some(year), Some(scheme), Some(unit), Some(income), Some(spending)) = (year, scheme, unit, income, spending) else {
        return None;
    };
    Some(Budget {
        year,
        fund_scheme: scheme.as_str().to_owned(),
        unit: unit.to_string(),
        income_fen: income.get(),
        spending_fen: spending.get(),
    })
}

/// Sets or revises a budget: on success to the year's execution; a refusal next to the unit.
pub async fn set(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<BudgetForm>) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&form.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if let Err(response) = Page::guard(&user, "budgets", "budgets-title", HERE) {
        return response;
    }
    if !user.may(FUND_WRITERS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let query = ExecutionQuery { year: form.year.trim().to_owned(), ..ExecutionQuery::default() };
    let mut errors = FieldErrors::default();
    let Some(budget) = budget_of(lang, &user, &form, &mut errors) else {
        return budgets_page(&state, &user, &query, form, errors).await;
    };
    let year = budget.year;
    match state.set_budget(&user.principal(), &ConsoleUser::source(&headers), budget).await {
        Ok(_) => Redirect::to(&format!("{HERE}?year={year}&done=set")).into_response(),
        Err(error) if matches!(error.kind, ErrorKind::Unprocessable | ErrorKind::BadRequest) || error.code == "access.outside_region" => {
            errors.add("unit", app_message(lang, &error));
            budgets_page(&state, &user, &query, form, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}
