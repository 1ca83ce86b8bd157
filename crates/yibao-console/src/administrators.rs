//! Commercial administrators (商业保险机构经办, issue 18, R-TPA-1/3): the city's contracts,
//! and one administrator's page: its contract's terms and indicators, its scored quarters
//! as a table and a chart (the score against the renewal floor), the latest quarter's
//! indicators with how each was counted and the bureau's sample, and the form that scores
//! a finished quarter (the city's administrators and fund accountants). Every rule is the
//! application's (`App::contracts`, `App::quarters`, `App::score_quarter`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use yibao_app::App;
use yibao_app::administrators::{CONTRACT_WRITERS, ContractRecord, Quarter, QuarterRecord};
use yibao_domain::RegionLevel;

use super::funds::script_json;
use super::page::{FieldErrors, Page, app_error_page, app_message, error_page, is_form_refusal, may_post, render, url_encode, yuan};
use super::session::ConsoleUser;

const HERE: &str = "/console/administrators";

#[derive(Debug)]
pub struct ContractRow {
    pub code: String,
    pub href: String,
    pub name: String,
    pub counties: String,
    pub schemes: String,
    pub period: String,
    pub fee_yuan: String,
}

fn contract_row(c: &ContractRecord) -> ContractRow {
    let t = &c.terms;
    ContractRow {
        code: t.code.clone(),
        href: format!("{HERE}/{}", url_encode(&t.code)),
        name: t.name.clone(),
        counties: t.counties.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        schemes: t.schemes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        period: format!("{} – {}", t.from, t.until),
        fee_yuan: yuan(t.fee_per_insured_fen.get()),
    }
}

#[derive(Template)]
#[template(path = "console/administrators/list.html")]
struct ListTemplate {
    page: Page,
    contracts: Vec<ContractRow>,
}

/// The city's contracts.
pub async fn list(State(state): State<App>, user: ConsoleUser) -> Response {
    let page = match Page::guard(&user, "administrators", "administrators-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.contracts(&user.principal()).await {
        Ok(contracts) => render(&ListTemplate { page, contracts: contracts.iter().map(contract_row).collect() }).into_response(),
        Err(error) => app_error_page(user.lang, &error),
    }
}

/// A scored quarter's line.
#[derive(Debug)]
pub struct QuarterRow {
    pub quarter: String,
    pub score: String,
    pub fee_yuan: String,
    pub adjustment_yuan: String,
    pub paid_yuan: String,
    pub renewal: bool,
    pub insured: u64,
}

/// A county's supplementary layer in the latest quarter, when the insurer underwrites it.
#[derive(Debug)]
pub struct UnderwritingRow {
    pub county: String,
    pub insured: u64,
    pub premium_yuan: String,
    pub claims: u64,
    pub owed_to_date_yuan: String,
    pub recovery_yuan: String,
}

/// An indicator of the latest quarter as measured.
#[derive(Debug)]
pub struct KpiRow {
    pub measure: String,
    pub weight: String,
    pub target: u64,
    pub actual: u64,
    pub points: String,
    pub basis: String,
}

#[derive(Debug, Serialize)]
struct ChartData {
    quarters: Vec<String>,
    scores: Vec<String>,
    floor: String,
    score_label: String,
    floor_label: String,
}

fn percent(bp: u32) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

#[derive(Template)]
#[template(path = "console/administrators/show.html")]
struct ShowTemplate {
    page: Page,
    code: String,
    name: String,
    terms: Vec<(String, String)>,
    indicators: Vec<(String, String, u64)>,
    quarters: Vec<QuarterRow>,
    latest: Vec<KpiRow>,
    underwriting: Vec<UnderwritingRow>,
    latest_quarter: String,
    sample: String,
    chart_json: String,
    may_score: bool,
    quarter: String,
    errors: FieldErrors,
    done: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ScoreForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    quarter: String,
}

async fn administrator_page(state: &App, user: &ConsoleUser, code: &str, form: ScoreForm, errors: FieldErrors, done: bool) -> Response {
    let here = format!("{HERE}/{}", url_encode(code));
    let page = match Page::guard(user, "administrators", "administrator-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let principal = user.principal();
    let contract = match state.contract(&principal, code).await {
        Ok(contract) => contract,
        Err(error) => return app_error_page(lang, &error),
    };
    let quarters: Vec<QuarterRecord> = match state.quarters(&principal, code).await {
        Ok(quarters) => quarters,
        Err(error) => return app_error_page(lang, &error),
    };
    let t = &contract.terms;
    let terms = vec![
        (lang.t("administrator-tender"), format!("{} ({}, {})", t.tender.reference, t.tender.awarded_on, t.tender.bidders)),
        (lang.t("administrator-signed-on"), t.signed_on.to_string()),
        (lang.t("administrator-period"), format!("{} – {}", t.from, t.until)),
        (lang.t("administrator-counties"), t.counties.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        (lang.t("administrator-schemes"), t.schemes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
        (lang.t("administrator-fee"), yuan(t.fee_per_insured_fen.get())),
        (lang.t("administrator-revolving"), yuan(t.revolving_fund_fen.get())),
        (lang.t("administrator-premium"), yuan(t.supplementary_premium_fen.get())),
        (lang.t("administrator-threshold"), yuan(t.review.threshold_fen.get())),
        (lang.t("administrator-sample-rate"), percent(t.review.sample_rate_bp)),
        (lang.t("administrator-bureau-rate"), percent(t.review.bureau_sample_rate_bp)),
        (lang.t("administrator-floor"), percent(t.renewal_floor_bp)),
    ];
    let indicators = t.kpis.iter().map(|k| (k.measure.as_str().to_owned(), percent(k.weight_bp), k.target)).collect();
    let rows: Vec<QuarterRow> = quarters
        .iter()
        .map(|q| QuarterRow {
            quarter: q.quarter.clone(),
            score: percent(q.score_bp),
            fee_yuan: yuan(q.fee_fen.get()),
            adjustment_yuan: yuan(q.adjustment_fen.get()),
            paid_yuan: yuan(q.paid_fen.get()),
            renewal: q.renewal_recommended,
            insured: q.insured,
        })
        .collect();
    let latest_record = quarters.first();
    let underwriting = latest_record
        .map(|q| {
            q.supplementary
                .iter()
                .map(|l| UnderwritingRow {
                    county: l.county.to_string(),
                    insured: l.insured,
                    premium_yuan: yuan(l.premium_fen.get()),
                    claims: l.claims,
                    owed_to_date_yuan: yuan(l.owed_to_date_fen.get()),
                    recovery_yuan: yuan(l.recovery_fen.get()),
                })
                .collect()
        })
        .unwrap_or_default();
    let latest = latest_record
        .map(|q| {
            q.kpis
                .iter()
                .map(|k| KpiRow {
                    measure: k.measure.as_str().to_owned(),
                    weight: percent(k.weight_bp),
                    target: k.target,
                    actual: k.actual,
                    points: percent(k.points_bp),
                    basis: k.basis.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let sample = latest_record
        .map(|q| {
            lang.t_with(
                "administrator-sample-text",
                &[
                    ("sampled", q.sample.sampled.to_string()),
                    ("population", q.sample.population.to_string()),
                    ("errors", q.sample.in_error.to_string()),
                    ("rate", percent(q.sample.error_rate_bp)),
                    ("low", percent(q.sample.interval_low_bp)),
                    ("high", percent(q.sample.interval_high_bp)),
                ],
            )
        })
        .unwrap_or_default();
    // Oldest first on the chart.
    let chart = ChartData {
        quarters: quarters.iter().rev().map(|q| q.quarter.clone()).collect(),
        scores: quarters.iter().rev().map(|q| format!("{}.{:02}", q.score_bp / 100, q.score_bp % 100)).collect(),
        floor: format!("{}.{:02}", t.renewal_floor_bp / 100, t.renewal_floor_bp % 100),
        score_label: lang.t("administrator-score"),
        floor_label: lang.t("administrator-floor"),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = ShowTemplate {
        page,
        code: t.code.clone(),
        name: t.name.clone(),
        terms,
        indicators,
        quarters: rows,
        latest_quarter: latest_record.map(|q| q.quarter.clone()).unwrap_or_default(),
        latest,
        underwriting,
        sample,
        chart_json: script_json(&chart),
        may_score: user.may(CONTRACT_WRITERS) && user.region.level() == RegionLevel::City,
        quarter: form.quarter,
        errors,
        done,
    };
    (status, render(&template)).into_response()
}

/// An administrator's page.
pub async fn show(State(state): State<App>, user: ConsoleUser, Path(code): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    administrator_page(&state, &user, &code, ScoreForm::default(), FieldErrors::default(), q.done == "scored").await
}

/// Scores a finished quarter: on success back to the page; a refusal beside the quarter.
pub async fn score(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<ScoreForm>,
) -> Response {
    let here = format!("{HERE}/{}", url_encode(&code));
    if let Err(response) = may_post(&user, &form.csrf, "administrators", "administrator-title", &here, CONTRACT_WRITERS) {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let Some(quarter) = Quarter::parse(form.quarter.trim()) else {
        errors.add("quarter", lang.t("field-bad-quarter"));
        return administrator_page(&state, &user, &code, form, errors, false).await;
    };
    match state.score_quarter(&user.principal(), &ConsoleUser::source(&headers), &code, quarter).await {
        Ok(_) => Redirect::to(&format!("{here}?done=scored")).into_response(),
        Err(error) if error.kind == yibao_app::ErrorKind::NotFound => error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None),
        Err(error) if is_form_refusal(&error) => {
            errors.add("quarter", app_message(lang, &error));
            administrator_page(&state, &user, &code, form, errors, false).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}
