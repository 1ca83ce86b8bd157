//! Reform what-if (issue 6, 以收定支, R-FND-3/4): a fund accountant or the city
//! administrator pastes a reform (a small overlay on the demo city's policy pack, as
//! `yibao simulate --reform` reads it), chooses the synthetic city's size and seed, and
//! sees the same city-year settled under the baseline and under the reform side by side:
//! the totals, fund spending per scheme and county, out-of-pocket per person by
//! assistance group, surplus rates and months covered, and the income per person that
//! would balance each fund — tables and charts. The simulation is `App::simulate_reform`, the
//! same as `POST /api/reforms/simulations`. It changes nothing stored, so the POST
//! renders the result at once (no redirect); a refused reform is shown next to its field.

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use yibao_app::reforms::Comparison;

use super::funds::{centi, fund_name, percent_bp, script_json};
use super::i18n::Lang;
use super::page::{FieldErrors, Page, error_page, render, yuan};
use super::session::ConsoleUser;
use yibao_app::reforms::{DEFAULT_INSURED, INSURED_LIMIT};

const HERE: &str = "/console/reform";
/// The reform the form starts with: the tier-3 inpatient example of the README.
const EXAMPLE: &str = include_str!("../../../examples/reforms/tier3-inpatient-plus5.toml");

#[derive(Debug, Deserialize)]
pub struct ReformForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub reform: String,
    #[serde(default)]
    pub insured: String,
    #[serde(default)]
    pub seed: String,
}

impl Default for ReformForm {
    fn default() -> ReformForm {
        ReformForm { csrf: String::new(), reform: EXAMPLE.to_owned(), insured: DEFAULT_INSURED.to_string(), seed: "1".into() }
    }
}

/// A baseline, the reform, and the change between them.
#[derive(Debug)]
pub struct ChangeRow {
    pub label: String,
    pub baseline: String,
    pub reform: String,
    pub change: String,
    pub change_percent: String,
}

#[derive(Debug)]
pub struct SpendingRow {
    pub fund: String,
    pub unit: String,
    pub total: bool,
    pub baseline_yuan: String,
    pub reform_yuan: String,
    pub change_yuan: String,
    pub surplus_baseline: String,
    pub surplus_reform: String,
    pub months_baseline: String,
    pub months_reform: String,
    pub closing_baseline_yuan: String,
    pub closing_reform_yuan: String,
    pub in_deficit: bool,
}

#[derive(Debug)]
pub struct BalancingRow {
    pub fund: String,
    pub persons: u64,
    pub income_now_yuan: String,
    pub balancing_baseline_yuan: String,
    pub balancing_reform_yuan: String,
}

#[derive(Debug)]
pub struct ResultView {
    pub name: String,
    pub insured: u64,
    pub seed: u64,
    pub claims: u64,
    pub baseline_policy: String,
    pub totals: Vec<ChangeRow>,
    pub spending: Vec<SpendingRow>,
    pub out_of_pocket: Vec<ChangeRow>,
    pub balancing: Vec<BalancingRow>,
}

#[derive(Debug, Serialize)]
struct ChartData {
    baseline: String,
    reform: String,
    funds: Vec<String>,
    spending_baseline: Vec<String>,
    spending_reform: Vec<String>,
    groups: Vec<String>,
    out_of_pocket_baseline: Vec<String>,
    out_of_pocket_reform: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/reform.html")]
struct ReformTemplate {
    page: Page,
    form: ReformForm,
    errors: FieldErrors,
    insured_limit: u64,
    result: Option<ResultView>,
    chart_json: String,
}

/// The change from `baseline` to `reform` as a percentage of the baseline with two
/// decimals, rounded half away from zero; integers only. No baseline, no percentage.
#[must_use]
pub fn change_percent(baseline: i64, reform: i64) -> String {
    if baseline == 0 {
        return "—".into();
    }
    let numerator = (i128::from(reform) - i128::from(baseline)) * 10_000;
    let denominator = i128::from(baseline).abs();
    let half = denominator / 2;
    let bp = if numerator >= 0 { (numerator + half) / denominator } else { -((-numerator + half) / denominator) };
    let sign = if bp > 0 { "+" } else { "" };
    i64::try_from(bp).map_or_else(|_| "—".into(), |bp| format!("{sign}{}", percent_bp(bp)))
}

fn signed_yuan(fen: i64) -> String {
    if fen > 0 { format!("+{}", yuan(fen)) } else { yuan(fen) }
}

fn change_row(label: String, baseline: i64, reform: i64) -> ChangeRow {
    ChangeRow {
        label,
        baseline: yuan(baseline),
        reform: yuan(reform),
        change: signed_yuan(reform.saturating_sub(baseline)),
        change_percent: change_percent(baseline, reform),
    }
}

fn result_view(lang: Lang, comparison: &Comparison) -> (ResultView, ChartData) {
    let dash = || "—".to_owned();
    let unit_label = |unit: &str| if unit == "all" { lang.t("reform-city-total") } else { unit.to_owned() };
    let totals = comparison.totals.iter().map(|(what, b, r)| change_row(lang.t(&format!("reform-total-{what}")), *b, *r)).collect();
    let spending = comparison
        .spending
        .iter()
        .map(|s| SpendingRow {
            fund: fund_name(lang, &s.fund),
            unit: unit_label(&s.unit),
            total: s.unit == "all",
            baseline_yuan: yuan(s.spending_baseline_fen),
            reform_yuan: yuan(s.spending_reform_fen),
            change_yuan: signed_yuan(s.spending_reform_fen.saturating_sub(s.spending_baseline_fen)),
            surplus_baseline: s.surplus_rate_baseline_bp.map_or_else(dash, percent_bp),
            surplus_reform: s.surplus_rate_reform_bp.map_or_else(dash, percent_bp),
            months_baseline: s.months_covered_baseline_centi.map_or_else(dash, centi),
            months_reform: s.months_covered_reform_centi.map_or_else(dash, centi),
            closing_baseline_yuan: yuan(s.closing_baseline_fen),
            closing_reform_yuan: yuan(s.closing_reform_fen),
            in_deficit: s.surplus_rate_reform_bp.is_some_and(|bp| bp < 0),
        })
        .collect();
    let out_of_pocket = comparison
        .out_of_pocket_per_person
        .iter()
        .map(|(group, b, r)| change_row(lang.t(&format!("reform-group-{group}")), *b, *r))
        .collect();
    let balancing = comparison
        .balancing_income
        .iter()
        .map(|b| BalancingRow {
            fund: fund_name(lang, &b.fund),
            persons: b.persons,
            income_now_yuan: yuan(b.income_now_fen),
            balancing_baseline_yuan: yuan(b.balancing_baseline_fen),
            balancing_reform_yuan: yuan(b.balancing_reform_fen),
        })
        .collect();
    let city_totals: Vec<_> = comparison.spending.iter().filter(|s| s.unit == "all").collect();
    let chart = ChartData {
        baseline: lang.t("reform-baseline"),
        reform: lang.t("reform-reform"),
        funds: city_totals.iter().map(|s| fund_name(lang, &s.fund)).collect(),
        spending_baseline: city_totals.iter().map(|s| yuan(s.spending_baseline_fen)).collect(),
        spending_reform: city_totals.iter().map(|s| yuan(s.spending_reform_fen)).collect(),
        groups: comparison.out_of_pocket_per_person.iter().map(|(g, _, _)| lang.t(&format!("reform-group-{g}"))).collect(),
        out_of_pocket_baseline: comparison.out_of_pocket_per_person.iter().map(|(_, b, _)| yuan(*b)).collect(),
        out_of_pocket_reform: comparison.out_of_pocket_per_person.iter().map(|(_, _, r)| yuan(*r)).collect(),
    };
    let view = ResultView {
        name: comparison.reform.clone(),
        insured: comparison.insured,
        seed: comparison.seed,
        claims: comparison.claims,
        baseline_policy: comparison.baseline_policy.clone(),
        totals,
        spending,
        out_of_pocket,
        balancing,
    };
    (view, chart)
}

fn reform_page(user: &ConsoleUser, form: ReformForm, errors: FieldErrors, result: Option<(ResultView, ChartData)>) -> Response {
    let page = match Page::guard(user, "reform", "reform-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let (result, chart_json) = match result {
        Some((view, chart)) => (Some(view), script_json(&chart)),
        None => (None, "{}".to_owned()),
    };
    let template = ReformTemplate { page, form, errors, insured_limit: INSURED_LIMIT, result, chart_json };
    (status, render(&template)).into_response()
}

pub async fn form(user: ConsoleUser) -> Response {
    reform_page(&user, ReformForm::default(), FieldErrors::default(), None)
}

/// Runs the what-if and shows the comparison; a refusal next to its field.
pub async fn simulate(
    axum::extract::State(state): axum::extract::State<yibao_app::App>,
    user: ConsoleUser,
    Form(form): Form<ReformForm>,
) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&form.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if let Err(response) = Page::guard(&user, "reform", "reform-title", HERE) {
        return response;
    }
    let mut errors = FieldErrors::default();
    let insured = form.insured.trim().replace([',', '_'], "").parse::<u64>().ok().filter(|n| (1_000..=INSURED_LIMIT).contains(n));
    if insured.is_none() {
        errors.add("insured", lang.t("field-bad-insured"));
    }
    let seed = match form.seed.trim() {
        "" => Some(1),
        text => text.parse::<u64>().ok(),
    };
    if seed.is_none() {
        errors.add("seed", lang.t("field-bad-seed"));
    }
    if form.reform.trim().is_empty() {
        errors.add("reform", lang.t("field-reform-empty"));
    }
    let (Some(insured), Some(seed), true) = (insured, seed, errors.is_empty()) else {
        return reform_page(&user, form, errors, None);
    };
    match state.simulate_reform(&user.principal(), &form.reform, insured, seed).await {
        Ok(comparison) => {
            let result = result_view(lang, &comparison);
            reform_page(&user, form, errors, Some(result))
        }
        Err(error) if matches!(error.kind, yibao_app::ErrorKind::BadRequest | yibao_app::ErrorKind::Unprocessable) => {
            let field = if error.code == "reform.bad_size" { "insured" } else { "reform" };
            errors.add(field, format!("{} ({})", lang.t("field-reform-refused"), error.message));
            reform_page(&user, form, errors, None)
        }
        Err(error) => crate::page::app_error_page(lang, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_exact_percentages() {
        assert_eq!(change_percent(10_000, 10_500), "+5.00%");
        assert_eq!(change_percent(3, 2), "-33.33%");
        assert_eq!(change_percent(3, 4), "+33.33%");
        assert_eq!(change_percent(0, 4), "—");
        assert_eq!(change_percent(7, 7), "0.00%");
    }

    #[test]
    fn the_example_reform_is_offered() {
        assert!(ReformForm::default().reform.contains("inpatient.ratio"));
    }
}
