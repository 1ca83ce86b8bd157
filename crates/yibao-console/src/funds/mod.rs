//! The fund books in the console (R-FND-1…7): fund statements per fund and unit with a
//! chart and a CSV copy, the monthly pooling run (preview, run, record, R-FND-2), the
//! trial balance, the year-end close (adjustment-fund levy per contributor, the deficit
//! waterfall and the early-warning indicators, R-FND-3…5), and receipts into a fund
//! (opening balances, R-SYS-3; finance advances, R-FND-5); budgets and their execution
//! (R-FND-3), legacy deficits and their repayment (R-FND-6), the handover of a fund with
//! its signed inventory (R-FND-7), and the book check (R-SCH-2).
//!
//! The same store calls and role rules as the API's `/api/funds/…` (`funds.rs`): fund
//! accountants and city administrators act, auditors read. Pooling, the trial balance, the
//! close and receipts are the city's, so their menu rows are city-only; a county's staff
//! read statements of their own county's movements only (R-GEO-2), the store's scope
//! deciding which rows exist.

pub mod accounts;
pub mod budgets;
pub mod check;
pub mod handover;
pub mod legacy;
pub mod migration;
pub mod pooling;
pub mod receipts;
pub mod statement;
pub mod year_end;

use yibao_app::books::FundScheme;

use super::i18n::Lang;

/// A fund's name in the user's language: `resident@419900` or `resident` → 城乡居民基本医疗保险基金.
#[must_use]
pub fn fund_name(lang: Lang, fund: &str) -> String {
    let scheme = fund.split('@').next().unwrap_or(fund);
    match FundScheme::parse(scheme) {
        Some(scheme) => lang.t(&format!("fund-{}", scheme.as_str())),
        None => fund.to_owned(),
    }
}

/// The half of a bilingual store note (`中文 / English`) in the user's language; a note
/// without the separator is shown whole.
#[must_use]
pub fn note_in(lang: Lang, note: &str) -> String {
    match (note.split_once(" / "), lang) {
        (Some((zh, _)), Lang::Zh) => zh.trim().to_owned(),
        (Some((_, en)), Lang::En) => en.trim().to_owned(),
        (None, _) => note.to_owned(),
    }
}

/// Basis points as a percentage with two decimals (`1234` → `12.34%`), integers only.
#[must_use]
pub fn percent_bp(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let abs = bp.unsigned_abs();
    format!("{sign}{}.{:02}%", abs / 100, abs % 100)
}

/// Hundredths as a decimal (`325` → `3.25`), integers only.
#[must_use]
pub fn centi(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// JSON for a `<script type="application/json">` block: `<` escaped so no value can close it.
#[must_use]
pub fn script_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_shown_in_the_users_language() {
        let note = "[城乡居民基本医疗保险基金] 2026-11 支付：419921 支出户 / 2026-11 payment: the expenditure account of 419921";
        assert_eq!(note_in(Lang::Zh, note), "[城乡居民基本医疗保险基金] 2026-11 支付：419921 支出户");
        assert_eq!(note_in(Lang::En, note), "2026-11 payment: the expenditure account of 419921");
        assert_eq!(note_in(Lang::En, "plain"), "plain");
    }

    #[test]
    fn ratios_are_exact() {
        assert_eq!(percent_bp(1234), "12.34%");
        assert_eq!(percent_bp(-5), "-0.05%");
        assert_eq!(centi(325), "3.25");
    }
}
