//! The dashboard: per county, persons enrolled and contributions due against collected;
//! settlements per day. Charts (ECharts) over the same numbers as the tables, so the page
//! says everything without JavaScript.
//!
//! The figures come from the application layer: [`yibao_app::App::activity`] sums them
//! from the audit trail of the regions in the user's scope (every enrolment, contribution
//! and settlement writes one audit entry in its own transaction, R-SYS-6), and
//! [`yibao_app::App::county_arrears`] and [`yibao_app::App::county_targets`] give each
//! county's arrears and targets; all three are open to every staff role, as this page is.
//! For city-level staff who read the fund books, the dashboard adds each fund's fiscal
//! special account balance (财政专户, R-FND-1, from the trial balance), the warnings of
//! the latest year-end close (R-FND-4), and this year's indicators month by month
//! ([`yibao_app::App::monthly_indicators`], issue 13).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use yibao_app::{AppError, DayActivity};

use super::funds::fund_name;
use super::funds::year_end::{CloseWarning, latest_warnings};
use super::i18n::Lang;
use super::page::{FUND_READERS, Page, app_error_page, render, yuan};
use super::session::ConsoleUser;
use yibao_app::App;

/// Days of settlements shown.
const DAYS_SHOWN: usize = 31;

#[derive(Debug)]
pub struct CountyRow {
    pub region: String,
    pub enrolled: i64,
    pub ended: i64,
    pub due_yuan: String,
    pub paid_yuan: String,
    pub owed_yuan: String,
    /// Collected as a share of what was due, in tenths of a percent, shown as `97.5%`.
    pub collected_share: String,
    /// The county's targets for the year (R-ENR-6) and how far it has come; `-` without.
    pub enrolment_target: String,
    pub enrolment_rate: String,
    pub collection_target_yuan: String,
    pub collection_rate: String,
}

/// Basis points as a percentage with two decimals, exactly: `2500` → `25.00%`.
fn bp_percent(bp: Option<i64>) -> String {
    bp.map_or_else(|| "-".to_owned(), |bp| format!("{}{}.{:02}%", if bp < 0 { "-" } else { "" }, bp.abs() / 100, bp.abs() % 100))
}

#[derive(Debug)]
pub struct DayRow {
    pub day: String,
    pub settled: i64,
    pub reversed: i64,
    pub medfee_yuan: String,
    pub fund_pay_yuan: String,
}

/// The charts' data, read by `dashboard.js` (amounts in yuan as decimal strings).
#[derive(Debug, Serialize)]
struct ChartData {
    labels: BTreeMap<&'static str, String>,
    counties: Vec<String>,
    enrolled: Vec<i64>,
    due: Vec<String>,
    paid: Vec<String>,
    days: Vec<String>,
    settled: Vec<i64>,
    fund_pay: Vec<String>,
    funds: Vec<String>,
    fund_balance: Vec<String>,
}

#[derive(Debug)]
pub struct FundBalanceRow {
    pub fund: String,
    pub name: String,
    pub balance_yuan: String,
}

/// One month's indicators of a fund and unit: the months of spending the surplus covers
/// and the current surplus rate, warned against the pack's thresholds.
#[derive(Debug)]
pub struct MonthCell {
    pub months_covered: String,
    pub surplus_rate: String,
    /// The warnings, joined; empty when none.
    pub warnings: String,
}

/// A fund and unit through this year, one cell per month so far (`None`: no movement yet).
#[derive(Debug)]
pub struct MonthlyRow {
    pub fund: String,
    pub name: String,
    pub unit: String,
    pub months: Vec<Option<MonthCell>>,
}

/// What the dashboard shows of the fund books: `None` for staff who do not read them.
#[derive(Debug)]
pub struct FundPanel {
    pub balances: Vec<FundBalanceRow>,
    /// The year of the latest close, if any.
    pub close_year: Option<i32>,
    pub warnings: Vec<CloseWarning>,
    /// The completed months of this year, and each fund and unit's indicators in them.
    pub month_numbers: Vec<u8>,
    pub monthly: Vec<MonthlyRow>,
    /// Why the monthly indicators could not be computed (the rest of the page still shows).
    pub monthly_error: Option<String>,
}

/// Hundredths of a month as `5.00`; `-` without spending.
fn centi(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_owned(), |c| format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100))
}

/// This year's indicators pivoted: a row per fund and unit, a cell per month.
fn monthly_rows(lang: Lang, indicators: &[yibao_app::books::MonthIndicators]) -> (Vec<u8>, Vec<MonthlyRow>) {
    let last = indicators.iter().map(|i| i.month).max().unwrap_or(0);
    let mut rows: BTreeMap<(String, String), MonthlyRow> = BTreeMap::new();
    for i in indicators {
        let row = rows.entry((i.fund.clone(), i.unit.clone())).or_insert_with(|| MonthlyRow {
            fund: i.fund.clone(),
            name: fund_name(lang, &i.fund),
            unit: i.unit.clone(),
            months: (0..last).map(|_| None).collect(),
        });
        if let Some(cell) = row.months.get_mut(usize::from(i.month) - 1) {
            *cell = Some(MonthCell {
                months_covered: centi(i.months_covered_centi),
                surplus_rate: bp_percent(i.surplus_rate_bp),
                warnings: i.warnings.join("; "),
            });
        }
    }
    ((1..=last).collect(), rows.into_values().collect())
}

/// Each fund's special account balance and the latest close's warnings, for city-level
/// staff who read the fund books (the store refuses the books to a county's scope).
async fn fund_panel(state: &App, user: &ConsoleUser) -> Result<Option<(FundPanel, Vec<(String, i64)>)>, AppError> {
    if user.region.level() != yibao_domain::RegionLevel::City || !user.may(FUND_READERS) {
        return Ok(None);
    }
    let lang = user.lang;
    let accounts = state.fund_accounts(&user.principal()).await?;
    let specials: Vec<(String, i64)> = accounts
        .iter()
        .filter(|a| a.key().kind == yibao_app::books::AccountKind::FiscalSpecial)
        .map(|a| (a.key().fund.to_string(), a.balance_fen().get()))
        .collect();
    let balances = specials
        .iter()
        .map(|(fund, fen)| FundBalanceRow { fund: fund.clone(), name: fund_name(lang, fund), balance_yuan: yuan(*fen) })
        .collect();
    let closes = state.year_closes(&user.principal()).await?;
    let (close_year, warnings) = match latest_warnings(lang, &closes) {
        Some((year, warnings)) => (Some(year), warnings),
        None => (None, Vec::new()),
    };
    // The indicators are advisory: a pack gap they trip on is shown, not the whole page lost.
    let (month_numbers, monthly, monthly_error) = match state.monthly_indicators(&user.principal(), state.today().year()).await {
        Ok(rows) => {
            let (months, rows) = monthly_rows(lang, &rows);
            (months, rows, None)
        }
        Err(error) if error.kind.http_status() == 500 => (Vec::new(), Vec::new(), Some(lang.t("error-store"))),
        Err(error) => (Vec::new(), Vec::new(), Some(crate::page::app_message(lang, &error))),
    };
    Ok(Some((FundPanel { balances, close_year, warnings, month_numbers, monthly, monthly_error }, specials)))
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardTemplate {
    page: Page,
    year: i32,
    counties: Vec<CountyRow>,
    days: Vec<DayRow>,
    chart_json: String,
    truncated: bool,
    funds: Option<FundPanel>,
}

/// `paid / due` in tenths of a percent, rounded down, as text; `—` when nothing was due.
fn share(paid_fen: i64, due_fen: i64) -> String {
    if due_fen <= 0 {
        return "—".into();
    }
    let permille = i128::from(paid_fen) * 1000 / i128::from(due_fen);
    format!("{}.{}%", permille / 10, permille % 10)
}

fn chart_labels(lang: Lang) -> BTreeMap<&'static str, String> {
    ["chart-enrolled", "chart-due", "chart-paid", "chart-settled", "chart-fund-pay", "chart-fund-balance"]
        .into_iter()
        .map(|k| (k, lang.t(k)))
        .collect()
}

pub async fn show(State(state): State<App>, user: ConsoleUser) -> Response {
    // A role without the dashboard (the policy officer) starts on its first page.
    if let Some(first) = crate::page::MENU.iter().find(|s| s.shown_to(&user)).filter(|s| s.id != "dashboard") {
        return axum::response::Redirect::to(first.href).into_response();
    }
    let page = match Page::guard(&user, "dashboard", "dashboard-title", "/console") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let principal = user.principal();
    // The application's day (Beijing time), as every figure on the page uses.
    let year = state.today().year();
    let totals = match state.activity(&principal).await {
        Ok(totals) => totals,
        Err(error) => return app_error_page(lang, &error),
    };
    let owed: BTreeMap<String, i64> = match state.county_arrears(&principal, &year.to_string()).await {
        Ok(counties) => counties.into_iter().map(|c| (c.region.to_string(), c.owed_fen.get())).collect(),
        Err(error) => return app_error_page(lang, &error),
    };
    let targets: BTreeMap<String, yibao_app::TargetsProgress> = match state.county_targets(&principal, year).await {
        Ok(list) => list.into_iter().map(|t| (t.targets.unit.clone(), t)).collect(),
        Err(error) => return app_error_page(lang, &error),
    };
    let counties: Vec<CountyRow> = totals
        .counties
        .iter()
        .map(|(region, c)| {
            let target = targets.get(region);
            CountyRow {
                region: region.clone(),
                enrolled: c.enrolled,
                ended: c.ended,
                due_yuan: yuan(c.due_fen),
                paid_yuan: yuan(c.paid_fen),
                owed_yuan: yuan(owed.get(region).copied().unwrap_or(0)),
                collected_share: share(c.paid_fen, c.due_fen),
                enrolment_target: target.map_or_else(|| "-".to_owned(), |t| t.targets.enrolment_target.to_string()),
                enrolment_rate: bp_percent(target.and_then(|t| t.enrolment_rate_bp)),
                collection_target_yuan: target.map_or_else(|| "-".to_owned(), |t| yuan(t.targets.collection_target_fen)),
                collection_rate: bp_percent(target.and_then(|t| t.collection_rate_bp)),
            }
        })
        .collect();
    let recent: Vec<(&String, &DayActivity)> = totals.days.iter().rev().take(DAYS_SHOWN).collect::<Vec<_>>().into_iter().rev().collect();
    let days: Vec<DayRow> = recent
        .iter()
        .map(|(day, d)| DayRow {
            day: (*day).clone(),
            settled: d.settled,
            reversed: d.reversed,
            medfee_yuan: yuan(d.medfee_fen),
            fund_pay_yuan: yuan(d.fund_pay_fen),
        })
        .collect();
    let (funds, specials) = match fund_panel(&state, &user).await {
        Ok(Some((panel, specials))) => (Some(panel), specials),
        Ok(None) => (None, Vec::new()),
        Err(error) => return app_error_page(lang, &error),
    };
    let chart = ChartData {
        labels: chart_labels(lang),
        counties: totals.counties.keys().cloned().collect(),
        enrolled: totals.counties.values().map(|c| c.enrolled).collect(),
        due: totals.counties.values().map(|c| yuan(c.due_fen)).collect(),
        paid: totals.counties.values().map(|c| yuan(c.paid_fen)).collect(),
        days: recent.iter().map(|(day, _)| (*day).clone()).collect(),
        settled: recent.iter().map(|(_, d)| d.settled).collect(),
        fund_pay: recent.iter().map(|(_, d)| yuan(d.fund_pay_fen)).collect(),
        funds: specials.iter().map(|(fund, _)| fund_name(lang, fund)).collect(),
        fund_balance: specials.iter().map(|(_, fen)| yuan(*fen)).collect(),
    };
    // Inside a <script type="application/json"> block: `<` is escaped so no value can
    // close the element.
    let chart_json = serde_json::to_string(&chart).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c");
    render(&DashboardTemplate { page, year, counties, days, chart_json, truncated: totals.truncated, funds })
}

#[cfg(test)]
mod tests {
    use super::bp_percent;

    #[test]
    fn basis_points_print_exactly() {
        assert_eq!(bp_percent(Some(2_500)), "25.00%");
        assert_eq!(bp_percent(Some(10_001)), "100.01%");
        assert_eq!(bp_percent(Some(-5)), "-0.05%");
        assert_eq!(bp_percent(None), "-");
    }

    #[test]
    fn hundredths_of_a_month_print_exactly() {
        assert_eq!(super::centi(Some(500)), "5.00");
        assert_eq!(super::centi(Some(-7)), "-0.07");
        assert_eq!(super::centi(None), "-");
    }

    #[test]
    fn share_is_exact_tenths() {
        assert_eq!(super::share(975, 1000), "97.5%");
        assert_eq!(super::share(1, 3), "33.3%");
        assert_eq!(super::share(5, 0), "—");
    }
}
