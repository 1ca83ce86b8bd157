//! Contributions: record one for a person (the form on the person's page; what is due is
//! computed from the policy in force, R-FIN-1..3), and the arrears lists (欠费) per county
//! and per person, paginated.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::{ContributionKind, ContributionRecord};
use yibao_domain::{Fen, NationalId};

use super::i18n::Lang;
use super::page::{
    CONTRIBUTIONS, COUNT, Cell, FieldErrors, Page, Pager, SETTLEMENT_EXPORT, Sheet, YUAN, app_error_page, app_message, csv_download,
    error_page, moment_at, national_id_error, paginate, render, url_encode, xlsx_download, yuan,
};
use super::people::{PersonForms, person_page};
use super::session::ConsoleUser;
use yibao_app::App;

#[derive(Debug)]
pub struct ContributionRow {
    pub kind: String,
    pub period: String,
    pub due_yuan: String,
    pub paid_yuan: String,
    pub recorded_at: String,
}

pub fn contribution_rows(lang: Lang, records: &[ContributionRecord]) -> Vec<ContributionRow> {
    records
        .iter()
        .map(|r| ContributionRow {
            kind: lang.t(&format!("kind-{}", r.kind.as_str())),
            period: r.period.to_string(),
            due_yuan: yuan(r.due_fen.get()),
            paid_yuan: yuan(r.paid_fen.get()),
            recorded_at: moment_at(r.recorded_at),
        })
        .collect()
}

/// The contribution form's values (kept to show again with its errors).
#[derive(Debug, Default, Deserialize)]
pub struct ContributionForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub paid: String,
    #[serde(default)]
    pub wage: String,
    #[serde(default)]
    pub receipt: String,
}

/// Records a contribution through the application layer's `record_contribution`, the one
/// the API's `POST /api/persons/{id}/contributions` calls: the form's fields are checked
/// here to show errors beside them; what is due is computed there.
pub async fn record(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<ContributionForm>,
) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&input.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if !user.may(CONTRIBUTIONS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let Ok(person_id) = NationalId::parse(&id) else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let mut errors = FieldErrors::default();
    let kind = ContributionKind::parse(input.kind.trim()).map_or_else(
        || {
            errors.add("kind", lang.t("field-bad-kind"));
            None
        },
        Some,
    );
    let period = yibao_app::Period::parse(input.period.trim()).map_or_else(
        |_| {
            errors.add("period", lang.t("field-bad-period"));
            None
        },
        Some,
    );
    let paid = match Fen::parse_yuan(input.paid.trim()) {
        Ok(fen) if !fen.is_negative() => Some(fen),
        _ => {
            errors.add("paid", lang.t("field-bad-amount"));
            None
        }
    };
    let wage = if matches!(kind, Some(ContributionKind::Employee | ContributionKind::Maternity)) {
        match Fen::parse_yuan(input.wage.trim()) {
            Ok(fen) if !fen.is_negative() && !fen.is_zero() => Some(fen),
            _ => {
                errors.add("wage", lang.t("field-bad-wage"));
                None
            }
        }
    } else {
        None
    };
    let refuse = |errors: FieldErrors, input: ContributionForm| PersonForms { errors, contribution: input, ..PersonForms::default() };
    let (Some(kind), Some(period), Some(paid)) = (kind, period, paid) else {
        return person_page(&state, &user, &id, refuse(errors, input), StatusCode::BAD_REQUEST).await;
    };
    if !errors.is_empty() {
        return person_page(&state, &user, &id, refuse(errors, input), StatusCode::BAD_REQUEST).await;
    }
    // A receipt's number makes the form sent twice one payment.
    let receipt = Some(input.receipt.trim().to_owned()).filter(|r| !r.is_empty());
    let contribution = yibao_app::ContributionInput { kind, period: period.to_string(), paid, wage_monthly: wage, receipt };
    match state.record_contribution(&user.principal(), &ConsoleUser::source(&headers), &person_id, contribution).await {
        Ok(_) => Redirect::to(&format!("/console/people/{}?done=contribution", url_encode(&id))).into_response(),
        Err(error)
            if matches!(error.kind, yibao_app::ErrorKind::BadRequest | yibao_app::ErrorKind::Conflict)
                || error.code == "contribution.receipt_reused" =>
        {
            let mut errors = FieldErrors::default();
            let field = match error.code.as_ref() {
                "contribution.kind_mismatch" => "kind",
                "contribution.bad_receipt" | "contribution.receipt_reused" => "receipt",
                "contribution.no_wage" | "contribution.negative" => "wage",
                _ => "period",
            };
            errors.add(field, app_message(lang, &error));
            person_page(&state, &user, &id, refuse(errors, input), StatusCode::BAD_REQUEST).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

// ---- the contributions page: find the payer ----

#[derive(Template)]
#[template(path = "console/contributions/find.html")]
struct FindTemplate {
    page: Page,
    person: String,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    person: String,
}

/// A contribution is recorded on the payer's page: this page finds it by national ID.
pub async fn form(user: ConsoleUser, Query(q): Query<FindQuery>) -> Response {
    let page = match Page::guard(&user, "contributions", "contributions-title", "/console/contributions") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let person = q.person.trim().to_owned();
    let mut errors = FieldErrors::default();
    if !person.is_empty() {
        match NationalId::parse(&person) {
            Ok(id) => return Redirect::to(&format!("/console/people/{id}#contribution")).into_response(),
            Err(e) => errors.add("person", national_id_error(user.lang, &e)),
        }
    }
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    (status, render(&FindTemplate { page, person, errors })).into_response()
}

// ---- arrears ----

#[derive(Debug)]
pub struct CountyArrearsRow {
    pub region: String,
    pub persons: i64,
    pub owed_yuan: String,
}

#[derive(Debug)]
pub struct PersonArrearsRow {
    pub id: String,
    pub name: String,
    pub region: String,
    pub kind: String,
    pub period: String,
    pub owed_yuan: String,
}

#[derive(Template)]
#[template(path = "console/contributions/arrears.html")]
struct ArrearsTemplate {
    page: Page,
    period: String,
    counties: Vec<CountyArrearsRow>,
    total_yuan: String,
    rows: Vec<PersonArrearsRow>,
    pager: Pager,
    errors: FieldErrors,
    /// The query of the downloads.
    download: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ArrearsQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    page: Option<usize>,
}

/// The arrears of `period` as the user may read them: by county, and by person (`all` of
/// them for a download, the first page's worth for the page).
async fn arrears_rows(
    state: &App,
    user: &ConsoleUser,
    period: &str,
    all: bool,
) -> Result<(Vec<CountyArrearsRow>, i64, Vec<PersonArrearsRow>), Response> {
    let lang = user.lang;
    let read = if all { state.arrears_all(&user.principal(), period).await } else { state.arrears(&user.principal(), period).await };
    let (persons, counties) = read.map_err(|error| app_error_page(lang, &error))?;
    let total_fen: i64 = counties.iter().map(|c| c.owed_fen.get()).sum();
    let counties = counties
        .iter()
        .map(|c| CountyArrearsRow { region: c.region.to_string(), persons: c.persons, owed_yuan: yuan(c.owed_fen.get()) })
        .collect();
    let rows: Vec<PersonArrearsRow> = persons
        .iter()
        .map(|p| PersonArrearsRow {
            id: p.person_id.to_string(),
            name: p.name.to_string(),
            region: p.region.to_string(),
            kind: lang.t(&format!("kind-{}", p.kind.as_str())),
            period: p.period.to_string(),
            owed_yuan: yuan(p.owed_fen.get()),
        })
        .collect();
    Ok((counties, total_fen, rows))
}

fn arrears_period(q: &ArrearsQuery) -> String {
    if q.period.trim().is_empty() { time::OffsetDateTime::now_utc().year().to_string() } else { q.period.trim().to_owned() }
}

pub async fn arrears(State(state): State<App>, user: ConsoleUser, Query(q): Query<ArrearsQuery>) -> Response {
    let page = match Page::guard(&user, "arrears", "arrears-title", "/console/arrears") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let period = arrears_period(&q);
    let mut errors = FieldErrors::default();
    let (mut counties, mut total_fen, mut rows) = (Vec::new(), 0, Vec::new());
    if yibao_app::Period::parse(&period).is_err() {
        errors.add("period", lang.t("field-bad-period"));
    } else {
        match arrears_rows(&state, &user, &period, false).await {
            Ok(found) => (counties, total_fen, rows) = found,
            Err(response) => return response,
        }
    }
    let download = format!("period={}", url_encode(&period));
    let base = format!("/console/arrears?{download}");
    let (rows, pager) = paginate(lang, rows, q.page.unwrap_or(1), |n| format!("{base}&page={n}"));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    (status, render(&ArrearsTemplate { page, period, counties, total_yuan: yuan(total_fen), rows, pager, errors, download }))
        .into_response()
}

/// The persons in arrears as a download, CSV or an Excel workbook with the counties too
/// (issue 16 item 6).
async fn arrears_download(
    state: &App,
    user: &ConsoleUser,
    q: &ArrearsQuery,
) -> Result<(String, Vec<CountyArrearsRow>, Vec<PersonArrearsRow>), Response> {
    Page::guard(user, "arrears", "arrears-title", "/console/arrears")?;
    let period = arrears_period(q);
    if yibao_app::Period::parse(&period).is_err() {
        return Err((StatusCode::BAD_REQUEST, user.lang.t("field-bad-period")).into_response());
    }
    let (counties, _, rows) = arrears_rows(state, user, &period, true).await?;
    Ok((period, counties, rows))
}

const ARREARS_COLUMNS: [&str; 6] = ["person-id", "person-name", "region", "contribution-kind", "contribution-period", "col-owed"];

fn person_cells(p: &PersonArrearsRow) -> Vec<String> {
    vec![p.id.clone(), p.name.clone(), p.region.clone(), p.kind.clone(), p.period.clone(), p.owed_yuan.clone()]
}

pub async fn arrears_csv(State(state): State<App>, user: ConsoleUser, Query(q): Query<ArrearsQuery>) -> Response {
    let (period, _, rows) = match arrears_download(&state, &user, &q).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let header: Vec<String> = ARREARS_COLUMNS.iter().map(|k| lang.t(k)).collect();
    csv_download(&format!("arrears-{period}.csv"), &header, &rows.iter().map(person_cells).collect::<Vec<_>>())
}

pub async fn arrears_xlsx(State(state): State<App>, user: ConsoleUser, Query(q): Query<ArrearsQuery>) -> Response {
    let (period, counties, rows) = match arrears_download(&state, &user, &q).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let county_sheet: Sheet = (
        lang.t("arrears-counties"),
        ["region", "col-persons", "col-owed"].iter().map(|k| lang.t(k)).collect(),
        vec![Cell::Text, COUNT, YUAN],
        counties.iter().map(|c| vec![c.region.clone(), c.persons.to_string(), c.owed_yuan.clone()]).collect(),
    );
    let person_sheet: Sheet = (
        lang.t("arrears-persons"),
        ARREARS_COLUMNS.iter().map(|k| lang.t(k)).collect(),
        vec![Cell::Text, Cell::Text, Cell::Text, Cell::Text, Cell::Text, YUAN],
        rows.iter().map(person_cells).collect(),
    );
    xlsx_download(lang, &format!("arrears-{period}.xlsx"), vec![county_sheet, person_sheet])
}

// ---- downloads of a period's contributions and settlements (issue 16 item 6) ----

#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    period: String,
}

/// The period asked for, or the refusal: a bad period is 400, a list longer than a sheet
/// is the use case's refusal.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn period_of(lang: Lang, q: &PeriodQuery) -> Result<String, Response> {
    let period = q.period.trim().to_owned();
    if yibao_app::Period::parse(&period).is_err() {
        return Err((StatusCode::BAD_REQUEST, lang.t("field-bad-period")).into_response());
    }
    Ok(period)
}

const CONTRIBUTION_COLUMNS: [&str; 7] =
    ["region", "person-id", "contribution-kind", "contribution-period", "col-due", "col-paid-amount", "recorded-at"];

async fn contribution_cells(state: &App, user: &ConsoleUser, q: &PeriodQuery) -> Result<(String, Vec<Vec<String>>), Response> {
    Page::guard(user, "arrears", "arrears-title", "/console/arrears")?;
    let lang = user.lang;
    let period = period_of(lang, q)?;
    let records = state.contributions_export(&user.principal(), &period).await.map_err(|e| app_error_page(lang, &e))?;
    let rows = records
        .iter()
        .map(|r| {
            vec![
                r.region.to_string(),
                r.person_id.to_string(),
                lang.t(&format!("kind-{}", r.kind.as_str())),
                r.period.to_string(),
                yuan(r.due_fen.get()),
                yuan(r.paid_fen.get()),
                moment_at(r.recorded_at),
            ]
        })
        .collect();
    Ok((period, rows))
}

/// The contributions recorded for a period, as CSV.
pub async fn contributions_csv(State(state): State<App>, user: ConsoleUser, Query(q): Query<PeriodQuery>) -> Response {
    match contribution_cells(&state, &user, &q).await {
        Ok((period, rows)) => {
            let header: Vec<String> = CONTRIBUTION_COLUMNS.iter().map(|k| user.lang.t(k)).collect();
            csv_download(&format!("contributions-{period}.csv"), &header, &rows)
        }
        Err(response) => response,
    }
}

/// The contributions recorded for a period, as an Excel workbook.
pub async fn contributions_xlsx(State(state): State<App>, user: ConsoleUser, Query(q): Query<PeriodQuery>) -> Response {
    match contribution_cells(&state, &user, &q).await {
        Ok((period, rows)) => {
            let lang = user.lang;
            let sheet: Sheet = (
                lang.t("contributions-export"),
                CONTRIBUTION_COLUMNS.iter().map(|k| lang.t(k)).collect(),
                vec![Cell::Text, Cell::Text, Cell::Text, Cell::Text, YUAN, YUAN, Cell::Text],
                rows,
            );
            xlsx_download(lang, &format!("contributions-{period}.xlsx"), vec![sheet])
        }
        Err(response) => response,
    }
}

const SETTLEMENT_COLUMNS: [&str; 9] =
    ["region", "institution", "claim-id", "person-id", "settled-at", "status", "col-medfee", "col-fund-pay", "col-person-pay"];

async fn settlement_cells(state: &App, user: &ConsoleUser, q: &PeriodQuery) -> Result<(String, Vec<Vec<String>>), Response> {
    let lang = user.lang;
    if !user.may(SETTLEMENT_EXPORT) {
        return Err(error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None));
    }
    let period = period_of(lang, q)?;
    let claims = state.settlements_export(&user.principal(), &period).await.map_err(|e| app_error_page(lang, &e))?;
    let rows = claims
        .iter()
        .map(|c| {
            vec![
                c.region.to_string(),
                c.institution_code.to_string(),
                c.claim_id.clone(),
                c.person_id.to_string(),
                moment_at(c.settled_at),
                super::claims::status_label(lang, c.status),
                yuan(c.medfee_fen.get()),
                yuan(c.fund_pay_fen.get()),
                yuan(c.psn_part_fen.get()),
            ]
        })
        .collect();
    Ok((period, rows))
}

/// The settlements of a period, as CSV (claims officers and the fund's staff).
pub async fn settlements_csv(State(state): State<App>, user: ConsoleUser, Query(q): Query<PeriodQuery>) -> Response {
    match settlement_cells(&state, &user, &q).await {
        Ok((period, rows)) => {
            let header: Vec<String> = SETTLEMENT_COLUMNS.iter().map(|k| user.lang.t(k)).collect();
            csv_download(&format!("settlements-{period}.csv"), &header, &rows)
        }
        Err(response) => response,
    }
}

/// The settlements of a period, as an Excel workbook.
pub async fn settlements_xlsx(State(state): State<App>, user: ConsoleUser, Query(q): Query<PeriodQuery>) -> Response {
    match settlement_cells(&state, &user, &q).await {
        Ok((period, rows)) => {
            let lang = user.lang;
            let text = Cell::Text;
            let sheet: Sheet = (
                lang.t("settlements-export"),
                SETTLEMENT_COLUMNS.iter().map(|k| lang.t(k)).collect(),
                vec![text, text, text, text, text, text, YUAN, YUAN, YUAN],
                rows,
            );
            xlsx_download(lang, &format!("settlements-{period}.xlsx"), vec![sheet])
        }
        Err(response) => response,
    }
}
