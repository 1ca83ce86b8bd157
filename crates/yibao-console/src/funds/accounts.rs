//! The trial balance (试算平衡表, R-FND-1, R-SCH-2): every account of the city's books with
//! its debits, credits and balance, paginated, and per fund the totals of all its accounts,
//! where debits must equal credits (double entry; a fund that does not balance is flagged).

use std::collections::BTreeMap;

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use super::fund_name;
use crate::page::{Page, Pager, app_error_page, paginate, render, yuan};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use yibao_app::App;

#[derive(Debug)]
pub struct AccountRow {
    pub fund: String,
    pub holder: String,
    pub kind: String,
    pub debits_yuan: String,
    pub credits_yuan: String,
    pub balance_yuan: String,
    pub overdrawn: bool,
}

#[derive(Debug)]
pub struct FundTotalRow {
    pub fund: String,
    pub name: String,
    pub accounts: usize,
    pub debits_yuan: String,
    pub credits_yuan: String,
    pub balanced: bool,
}

#[derive(Template)]
#[template(path = "console/funds/accounts.html")]
struct AccountsTemplate {
    page: Page,
    rows: Vec<AccountRow>,
    pager: Pager,
    totals: Vec<FundTotalRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountsQuery {
    #[serde(default)]
    page: Option<usize>,
}

fn kind_label(lang: Lang, kind: yibao_app::books::AccountKind) -> String {
    match lang {
        Lang::Zh => kind.name_zh().to_owned(),
        Lang::En => lang.t(&format!("account-kind-{}", kind.as_str())),
    }
}

pub async fn show(State(state): State<App>, user: ConsoleUser, Query(q): Query<AccountsQuery>) -> Response {
    let page = match Page::guard(&user, "fund-accounts", "fund-accounts-title", "/console/funds/accounts") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let accounts = match state.fund_accounts(&user.principal()).await {
        Ok(accounts) => accounts,
        Err(error) => return app_error_page(lang, &error),
    };
    // Summed in i128: a fund's posted totals over years may pass what one account holds.
    let mut per_fund: BTreeMap<String, (usize, i128, i128)> = BTreeMap::new();
    let rows: Vec<AccountRow> = accounts
        .iter()
        .map(|a| {
            let key = a.key();
            let fund = key.fund.to_string();
            let totals = per_fund.entry(fund.clone()).or_default();
            totals.0 += 1;
            totals.1 += i128::from(a.debits_posted_fen.get());
            totals.2 += i128::from(a.credits_posted_fen.get());
            let balance = a.balance_fen().get();
            AccountRow {
                fund,
                holder: key.holder.to_string(),
                kind: kind_label(lang, key.kind),
                debits_yuan: yuan(a.debits_posted_fen.get()),
                credits_yuan: yuan(a.credits_posted_fen.get()),
                balance_yuan: yuan(balance),
                overdrawn: balance < 0,
            }
        })
        .collect();
    let totals = per_fund
        .into_iter()
        .map(|(fund, (accounts, debits, credits))| FundTotalRow {
            name: fund_name(lang, &fund),
            fund,
            accounts,
            debits_yuan: yuan_wide(debits),
            credits_yuan: yuan_wide(credits),
            balanced: debits == credits,
        })
        .collect();
    let (rows, pager) = paginate(lang, rows, q.page.unwrap_or(1), |n| format!("/console/funds/accounts?page={n}"));
    render(&AccountsTemplate { page, rows, pager, totals })
}

/// `yuan` for a sum of many accounts.
fn yuan_wide(fen: i128) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}
