//! The book check (R-SCH-2, R-SYS-6): reads every account and transfer of the city's
//! books and checks every ledger invariant over them, as `GET /api/funds/check` and
//! `yibao fund check` do; shows the books sound, or each breach with its code. It reads
//! only, so auditors run it too; the whole books are the city's, so the page is city-only.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::session::ConsoleUser;
use crate::page::{Page, app_error_page, render, yuan};
use yibao_app::App;

#[derive(Debug)]
pub struct CheckResult {
    pub sound: bool,
    pub accounts: usize,
    pub transfers: usize,
    /// Everything posted, in yuan (an i128 sum: shown exactly even past one amount's range).
    pub posted_yuan: String,
    pub breaches: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/funds/check.html")]
struct CheckTemplate {
    page: Page,
    result: Option<CheckResult>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    run: String,
}

/// Fen as yuan for a sum that may exceed `i64`.
fn wide_yuan(fen: i128) -> String {
    match i64::try_from(fen) {
        Ok(fen) => yuan(fen),
        Err(_) => {
            let sign = if fen < 0 { "-" } else { "" };
            let abs = fen.unsigned_abs();
            format!("{sign}{}.{:02}", abs / 100, abs % 100)
        }
    }
}

/// The check page; with `?run=1` (the button, a plain GET: it changes nothing), its result.
pub async fn show(State(state): State<App>, user: ConsoleUser, Query(query): Query<CheckQuery>) -> Response {
    let page = match Page::guard(&user, "book-check", "book-check-title", "/console/funds/check") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    if query.run.is_empty() {
        return render(&CheckTemplate { page, result: None });
    }
    let verification = match state.check_books(&user.principal()).await {
        Ok(verification) => verification,
        Err(error) => return app_error_page(lang, &error),
    };
    let result = CheckResult {
        sound: verification.breaches.is_empty(),
        accounts: verification.accounts,
        transfers: verification.transfers,
        posted_yuan: wide_yuan(verification.total_posted_fen),
        breaches: verification.breaches.iter().map(|b| (b.code().to_owned(), b.to_string())).collect(),
    };
    render(&CheckTemplate { page, result: Some(result) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_sums_are_exact() {
        assert_eq!(wide_yuan(12_345), "123.45");
        assert_eq!(wide_yuan(i128::from(i64::MAX) * 10 + 5), "922337203685477580.75");
    }
}
