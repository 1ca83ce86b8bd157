//! The fund statement (R-FND-3, issue 4 §8): per fund and unit over a month or a chosen
//! period, what came in (contributions and subsidies), what was spent (settlements less
//! their reversals), what pooling moved (swept to and disbursed from the city's special
//! account, R-FND-2), what was paid to institutions, and what moved between funds (the
//! adjustment levy and deficit covers, R-FND-5). Made from `FundStore::fund_movements`, so
//! a county's staff get their own county's rows only (R-GEO-2). The CSV is the same table.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::Date;
use yibao_app::Movement;
use yibao_app::books::{AccountKind, Reason, YearMonth};

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use super::{fund_name, script_json};
use crate::page::{Cell, FieldErrors, Page, YUAN, app_error_page, render, url_encode, xlsx_download, yuan};
use yibao_app::App;

/// One fund and unit's sums over the period, in fen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatementSums {
    pub income_fen: i64,
    pub spending_fen: i64,
    pub swept_fen: i64,
    pub disbursed_fen: i64,
    pub payments_fen: i64,
    pub between_funds_fen: i64,
}

impl StatementSums {
    fn add(&mut self, other: &StatementSums) {
        self.income_fen += other.income_fen;
        self.spending_fen += other.spending_fen;
        self.swept_fen += other.swept_fen;
        self.disbursed_fen += other.disbursed_fen;
        self.payments_fen += other.payments_fen;
        self.between_funds_fen += other.between_funds_fen;
    }
}

/// Adds one movement row to its column: income and spending by the books' one rule (a
/// settlement's reversal lowers spending; an account's share moved out of pooled income
/// lowers income); a disbursement counts once, where it leaves the special
/// account (its second leg, city expenditure account → the unit's, moves the same money
/// on); movements of other reasons (opening balances, interest, personal accounts) are not
/// in the statement's columns.
fn classify(sums: &mut StatementSums, movement: &Movement) {
    let amount = movement.amount_fen.get();
    // Income and spending as the year-end close and budget execution count them: one rule
    // (`income_and_spending`), so two pages never disagree on one month.
    let (income, spending) = yibao_app::books::income_and_spending(movement);
    sums.income_fen += income;
    sums.spending_fen += spending;
    match movement.reason {
        Reason::Sweep => sums.swept_fen += amount,
        Reason::Disbursement if movement.credit_kind == AccountKind::FiscalSpecial => sums.disbursed_fen += amount,
        Reason::InstitutionPayment => sums.payments_fen += amount,
        Reason::AdjustmentLevy | Reason::DeficitCover => sums.between_funds_fen += amount,
        _ => {}
    }
}

/// The statement's sums per (fund scheme, unit), in key order.
#[must_use]
pub fn statement(movements: &[Movement]) -> BTreeMap<(String, String), StatementSums> {
    let mut rows: BTreeMap<(String, String), StatementSums> = BTreeMap::new();
    for movement in movements {
        classify(rows.entry((movement.fund_scheme.as_str().to_owned(), movement.unit.to_string())).or_default(), movement);
    }
    rows
}

#[derive(Debug)]
pub struct StatementRow {
    pub fund: String,
    pub unit: String,
    pub income_yuan: String,
    pub spending_yuan: String,
    pub swept_yuan: String,
    pub disbursed_yuan: String,
    pub payments_yuan: String,
    pub between_funds_yuan: String,
}

impl StatementRow {
    fn new(fund: String, unit: String, sums: &StatementSums) -> StatementRow {
        StatementRow {
            fund,
            unit,
            income_yuan: yuan(sums.income_fen),
            spending_yuan: yuan(sums.spending_fen),
            swept_yuan: yuan(sums.swept_fen),
            disbursed_yuan: yuan(sums.disbursed_fen),
            payments_yuan: yuan(sums.payments_fen),
            between_funds_yuan: yuan(sums.between_funds_fen),
        }
    }

    fn cells(&self) -> [&str; 8] {
        [
            &self.fund,
            &self.unit,
            &self.income_yuan,
            &self.spending_yuan,
            &self.swept_yuan,
            &self.disbursed_yuan,
            &self.payments_yuan,
            &self.between_funds_yuan,
        ]
    }
}

const COLUMNS: [&str; 8] =
    ["col-fund", "col-unit", "col-income", "col-spending", "col-swept", "col-disbursed", "col-payments", "col-between-funds"];

#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    month: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The period asked for: a month (`2026-11`), or from/to dates; by default this month.
struct Period {
    month: String,
    from: String,
    to: String,
    dates: Option<(Date, Date)>,
}

fn period(lang: Lang, q: &PeriodQuery, errors: &mut FieldErrors) -> Period {
    let (month, from, to) = (q.month.trim(), q.from.trim(), q.to.trim());
    if from.is_empty() && to.is_empty() {
        let month = if month.is_empty() { current_month() } else { month.to_owned() };
        let dates = match YearMonth::parse(&month) {
            Ok(m) => Some((m.first_day(), m.last_day())),
            Err(_) => {
                errors.add("month", lang.t("field-bad-month"));
                None
            }
        };
        return Period { month, from: String::new(), to: String::new(), dates };
    }
    let date = |field: &str, text: &str, errors: &mut FieldErrors| match yibao_domain::parse_date(text) {
        Ok(date) => Some(date),
        Err(_) => {
            errors.add(field, lang.t("field-bad-date"));
            None
        }
    };
    let (start, end) = (date("from", from, errors), date("to", to, errors));
    let dates = match (start, end) {
        (Some(start), Some(end)) if start <= end => Some((start, end)),
        (Some(_), Some(_)) => {
            errors.add("to", lang.t("field-period-order"));
            None
        }
        _ => None,
    };
    Period { month: String::new(), from: from.to_owned(), to: to.to_owned(), dates }
}

/// This month, `YYYY-MM` (UTC, as the store dates settlements).
#[must_use]
pub fn current_month() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}", today.year(), u8::from(today.month()))
}

#[derive(Debug, Serialize)]
struct ChartData {
    labels: BTreeMap<&'static str, String>,
    funds: Vec<String>,
    income: Vec<String>,
    spending: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/funds/statement.html")]
struct StatementTemplate {
    page: Page,
    month: String,
    from: String,
    to: String,
    errors: FieldErrors,
    rows: Vec<StatementRow>,
    totals: StatementRow,
    csv_href: String,
    xlsx_href: String,
    chart_json: String,
}

/// The statement's rows for `user` over `from..=to`, per fund and unit, with the totals
/// and the per-fund sums the chart draws.
async fn rows_of(
    state: &App,
    user: &ConsoleUser,
    dates: (Date, Date),
) -> Result<(Vec<StatementRow>, StatementRow, BTreeMap<String, StatementSums>), Response> {
    let movements = state.fund_movements(&user.principal(), dates.0, dates.1).await.map_err(|e| app_error_page(user.lang, &e))?;
    let sums = statement(&movements);
    let mut total = StatementSums::default();
    let mut per_fund: BTreeMap<String, StatementSums> = BTreeMap::new();
    let rows = sums
        .iter()
        .map(|((fund, unit), s)| {
            total.add(s);
            per_fund.entry(fund.clone()).or_default().add(s);
            StatementRow::new(fund_name(user.lang, fund), unit.clone(), s)
        })
        .collect();
    Ok((rows, StatementRow::new(user.lang.t("total"), String::new(), &total), per_fund))
}

pub async fn show(State(state): State<App>, user: ConsoleUser, Query(q): Query<PeriodQuery>) -> Response {
    let page = match Page::guard(&user, "funds", "statement-title", "/console/funds") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let period = period(lang, &q, &mut errors);
    let (rows, totals, per_fund) = match period.dates {
        Some(dates) => match rows_of(&state, &user, dates).await {
            Ok(found) => found,
            Err(response) => return response,
        },
        None => (Vec::new(), StatementRow::new(lang.t("total"), String::new(), &StatementSums::default()), BTreeMap::new()),
    };
    let query = format!("month={}&from={}&to={}", url_encode(&period.month), url_encode(&period.from), url_encode(&period.to));
    let csv_href = format!("/console/funds/statement.csv?{query}");
    let xlsx_href = format!("/console/funds/statement.xlsx?{query}");
    let chart = ChartData {
        labels: ["chart-income", "chart-spending"].into_iter().map(|k| (k, lang.t(k))).collect(),
        funds: per_fund.keys().map(|f| fund_name(lang, f)).collect(),
        income: per_fund.values().map(|s| yuan(s.income_fen)).collect(),
        spending: per_fund.values().map(|s| yuan(s.spending_fen)).collect(),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = StatementTemplate {
        page,
        month: period.month,
        from: period.from,
        to: period.to,
        errors,
        rows,
        totals,
        csv_href,
        xlsx_href,
        chart_json: script_json(&chart),
    };
    (status, render(&template)).into_response()
}

/// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180). A
/// text a spreadsheet would run as a formula is written as text
/// ([`yibao_domain::spreadsheet_text`]).
fn csv_field(text: &str) -> String {
    let text = yibao_domain::spreadsheet_text(text);
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.into_owned() }
}

/// One CSV line of `cells` (quoted where needed, CRLF): every console CSV writes its rows so.
pub(crate) fn csv_line(cells: &[&str]) -> String {
    let mut line = cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// The statement as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the
/// Chinese names), a plain GET of the same query.
pub async fn csv(State(state): State<App>, user: ConsoleUser, Query(q): Query<PeriodQuery>) -> Response {
    if let Err(response) = Page::guard(&user, "funds", "statement-title", "/console/funds") {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let period = period(lang, &q, &mut errors);
    let Some(dates) = period.dates else {
        return (StatusCode::BAD_REQUEST, lang.t("field-bad-period")).into_response();
    };
    let (rows, totals, _) = match rows_of(&state, &user, dates).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let header_cells: Vec<String> = COLUMNS.iter().map(|k| lang.t(k)).collect();
    let mut body = String::from('\u{feff}');
    body.push_str(&csv_line(&header_cells.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in rows.iter().chain(std::iter::once(&totals)) {
        body.push_str(&csv_line(&row.cells()));
    }
    let file = format!("attachment; filename=\"fund-statement-{}-{}.csv\"", dates.0, dates.1);
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, file)], body).into_response()
}

/// The statement as an Excel workbook (issue 16 item 6): the CSV's rows, amounts as
/// numbers in yuan.
pub async fn xlsx(State(state): State<App>, user: ConsoleUser, Query(q): Query<PeriodQuery>) -> Response {
    if let Err(response) = Page::guard(&user, "funds", "statement-title", "/console/funds") {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let Some(dates) = period(lang, &q, &mut errors).dates else {
        return (StatusCode::BAD_REQUEST, lang.t("field-bad-period")).into_response();
    };
    let (rows, totals, _) = match rows_of(&state, &user, dates).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let header: Vec<String> = COLUMNS.iter().map(|k| lang.t(k)).collect();
    let cells = vec![Cell::Text, Cell::Text, YUAN, YUAN, YUAN, YUAN, YUAN, YUAN];
    let lines = rows.iter().chain(std::iter::once(&totals)).map(|row| row.cells().iter().map(|c| (*c).to_owned()).collect()).collect();
    let sheet = (lang.t("statement-title"), header, cells, lines);
    xlsx_download(lang, &format!("fund-statement-{}-{}.xlsx", dates.0, dates.1), vec![sheet])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(reason: &str, debit: &str, credit: &str, amount_fen: i64) -> Movement {
        Movement::from_columns("resident", "419921", reason, debit, credit, 1, amount_fen).expect("a movement")
    }

    #[test]
    fn reversals_lower_spending_and_other_reasons_stay_out() {
        let rows = statement(&[
            movement("contribution", "income", "external", 20_000),
            movement("subsidy", "income", "external", 61_000),
            movement("settlement.pooled", "expenditure", "payable", 300_000),
            movement("reversal", "payable", "external", 50_000),
            movement("reversal", "external", "income", 1_000),
            movement("sweep", "fiscal-special", "income", 81_000),
            movement("disbursement", "expenditure", "fiscal-special", 300_000),
            movement("disbursement", "expenditure", "expenditure", 300_000),
            movement("handover", "fiscal-special", "external", 999_999),
            // An account's share paid earlier as pooled income, moved to the account when the
            // period was completed: it leaves income, as the year-end close counts it.
            movement("personal-account-credit", "external", "personal-account", 6_000),
        ]);
        let sums = rows[&("resident".to_owned(), "419921".to_owned())];
        assert_eq!(sums.income_fen, 75_000);
        assert_eq!(sums.spending_fen, 250_000);
        assert_eq!(sums.swept_fen, 81_000);
        assert_eq!(sums.disbursed_fen, 300_000);
        assert_eq!(sums.between_funds_fen, 0);
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_line(&["a,b", "say \"hi\"", "1.00"]), "\"a,b\",\"say \"\"hi\"\"\",1.00\r\n");
    }

    #[test]
    fn a_formula_is_written_as_text_and_a_negative_amount_as_a_number() {
        assert_eq!(
            csv_line(&["=HYPERLINK(\"http://x/\",\"open\")", "+1", "@SUM(A1)", "-12.50", "-cmd", "P-1"]),
            "\"'=HYPERLINK(\"\"http://x/\"\",\"\"open\"\")\",'+1,'@SUM(A1),-12.50,'-cmd,P-1\r\n"
        );
    }
}
