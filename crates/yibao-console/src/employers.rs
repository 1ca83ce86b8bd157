//! Employers (参保单位, issue 16 item 2, R-FIN-1, R-FIN-4): the region's employers with the
//! registration form (enrolment clerks), and an employer's page: its declared months with
//! what each still owes and what paying it today costs with its late fee (滞纳金), the
//! declaration form (one employee and wage a line, as a payroll system exports them), and
//! the payment form (from the bank's receipt). Every rule is the application's
//! (`App::register_employer`, `App::declare`, `App::pay_declaration`); refusals are shown
//! beside the field they concern.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::EmployerRecord;
use yibao_app::{App, DeclarationBill, EmployerInput, WageLine};
use yibao_domain::{EmployerCode, Fen, NationalId, RegionCode};

use super::page::{
    CONTRIBUTIONS, ENROLMENT, FieldErrors, PAGE_ROWS, Page, Pager, app_error_page, app_message, error_page, is_form_refusal, may_post,
    pager, render, url_encode, yuan,
};
use super::session::ConsoleUser;

const HERE: &str = "/console/employers";

#[derive(Debug)]
pub struct EmployerRow {
    pub code: String,
    pub href: String,
    pub name: String,
    pub region: String,
    pub registered_on: String,
}

fn employer_row(e: &EmployerRecord) -> EmployerRow {
    EmployerRow {
        code: e.code.to_string(),
        href: format!("{HERE}/{}", e.code),
        name: e.name.clone(),
        region: e.region.to_string(),
        registered_on: e.registered_on.to_string(),
    }
}

#[derive(Debug)]
pub struct DeclarationRow {
    pub period: String,
    pub employees: usize,
    pub due_on: String,
    pub due_yuan: String,
    pub owed_yuan: String,
    /// Paying today: the late fee, its days and the total; empty once paid.
    pub fee_today_yuan: String,
    pub days_today: String,
    pub total_today_yuan: String,
    /// Paid: the day, what it completed and the late fee.
    pub paid_on: String,
    pub paid_fee_yuan: String,
}

fn declaration_row(bill: &DeclarationBill) -> DeclarationRow {
    let d = &bill.declaration;
    let today = bill.to_pay_on.as_ref();
    DeclarationRow {
        period: d.period.to_string(),
        employees: d.lines.len(),
        due_on: d.due_on.to_string(),
        due_yuan: yuan(d.due_fen.get()),
        owed_yuan: yuan(d.owed_fen.get()),
        fee_today_yuan: today.map(|f| yuan(f.fee_fen.get())).unwrap_or_default(),
        days_today: today.map(|f| f.days.to_string()).unwrap_or_default(),
        total_today_yuan: today.map(|f| yuan(f.bill_fen().get())).unwrap_or_default(),
        paid_on: d.payment.as_ref().map(|p| p.paid_on.to_string()).unwrap_or_default(),
        paid_fee_yuan: d.payment.as_ref().map(|p| yuan(p.late_fee.fee_fen.get())).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "console/employers/list.html")]
struct ListTemplate {
    page: Page,
    employers: Vec<EmployerRow>,
    pager: Pager,
    form: RegisterForm,
    errors: FieldErrors,
    may_register: bool,
}

#[derive(Template)]
#[template(path = "console/employers/employer.html")]
struct EmployerTemplate {
    page: Page,
    employer: EmployerRow,
    declarations: Vec<DeclarationRow>,
    declare: DeclareForm,
    pay: PayForm,
    errors: FieldErrors,
    may_act: bool,
    /// What was just done, said once after the redirect.
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub registered_on: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeclareForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub period: String,
    /// One employee a line: the national ID and the month's wage, separated by a comma,
    /// a tab or spaces.
    #[serde(default)]
    pub lines: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PayForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub paid_on: String,
    #[serde(default)]
    pub amount: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn list_page(state: &App, user: &ConsoleUser, number: usize, form: RegisterForm, errors: FieldErrors) -> Response {
    let page = match Page::guard(user, "employers", "employers-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    // The store reads from the page's first row; the console shows a page of PAGE_ROWS.
    let offset = u32::try_from(number.saturating_sub(1).saturating_mul(PAGE_ROWS)).unwrap_or(u32::MAX);
    let (total, employers) = match state.employers(&user.principal(), offset).await {
        Ok((total, found)) => (total, found.iter().take(PAGE_ROWS).map(employer_row).collect()),
        Err(error) => return app_error_page(user.lang, &error),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let pager = pager(user.lang, number.max(1), usize::try_from(total).unwrap_or(usize::MAX), |n| format!("{HERE}?page={n}"));
    (status, render(&ListTemplate { page, employers, pager, form, errors, may_register: user.may(ENROLMENT) })).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    page: Option<usize>,
}

/// The region's employers, a page at a time, with the registration form for enrolment
/// clerks.
pub async fn list(State(state): State<App>, user: ConsoleUser, Query(q): Query<ListQuery>) -> Response {
    let form = RegisterForm { region: user.region.to_string(), ..RegisterForm::default() };
    list_page(&state, &user, q.page.unwrap_or(1), form, FieldErrors::default()).await
}

/// Registers an employer: on success to its page; each refusal beside its field.
pub async fn register(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<RegisterForm>) -> Response {
    if let Err(response) = may_post(&user, &form.csrf, "employers", "employers-title", HERE, ENROLMENT) {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let code = EmployerCode::parse(&form.code).map_err(|_| errors.add("code", lang.t("field-bad-employer-code"))).ok();
    let region = RegionCode::parse(&form.region).map_err(|_| errors.add("region", lang.t("field-bad-region"))).ok();
    let registered_on =
        yibao_domain::parse_date(form.registered_on.trim()).map_err(|_| errors.add("registered_on", lang.t("field-bad-date"))).ok();
    let (Some(code), Some(region), Some(registered_on), true) = (code, region, registered_on, errors.is_empty()) else {
        return list_page(&state, &user, 1, form, errors).await;
    };
    let input = EmployerInput { code, name: form.name.clone(), region, registered_on };
    match state.register_employer(&user.principal(), &ConsoleUser::source(&headers), input).await {
        Ok(record) => Redirect::to(&format!("{HERE}/{}?done=registered", record.code)).into_response(),
        Err(error) if is_form_refusal(&error) || error.code == "access.outside_region" => {
            let field = match error.code.as_ref() {
                "region.unknown" | "access.outside_region" => "region",
                "employer.bad_date" => "registered_on",
                "employer.bad_name" => "name",
                _ => "code",
            };
            errors.add(field, app_message(lang, &error));
            list_page(&state, &user, 1, form, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

async fn employer_page(
    state: &App,
    user: &ConsoleUser,
    code: &str,
    forms: (DeclareForm, PayForm),
    errors: FieldErrors,
    done: String,
) -> Response {
    let lang = user.lang;
    let Ok(code) = EmployerCode::parse(code) else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let here = format!("{HERE}/{}", url_encode(code.as_str()));
    let page = match Page::guard(user, "employers", "employer-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let principal = user.principal();
    let (employer, declarations) = match (state.employer(&principal, &code).await, state.declarations(&principal, &code).await) {
        (Ok(employer), Ok(declarations)) => (employer, declarations),
        (Err(error), _) | (_, Err(error)) => return app_error_page(lang, &error),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = EmployerTemplate {
        page,
        employer: employer_row(&employer),
        declarations: declarations.iter().map(declaration_row).collect(),
        declare: forms.0,
        pay: forms.1,
        errors,
        may_act: user.may(CONTRIBUTIONS),
        done: matches!(done.as_str(), "registered" | "declared" | "paid").then(|| lang.t(&format!("employer-done-{done}"))),
    };
    (status, render(&template)).into_response()
}

/// An employer's page: its declared months, and the declaration and payment forms.
pub async fn show(State(state): State<App>, user: ConsoleUser, Path(code): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    employer_page(&state, &user, &code, (DeclareForm::default(), PayForm::default()), FieldErrors::default(), q.done).await
}

/// The most characters the declaration box takes: 10,000 lines of an ID and a wage.
const DECLARATION_TEXT_CHARS_MAX: usize = 400_000;

/// The declaration box's lines: an ID and a wage each, blank lines skipped; the first bad
/// line is named.
fn wage_lines(lang: super::i18n::Lang, text: &str) -> Result<Vec<WageLine>, String> {
    if text.chars().count() > DECLARATION_TEXT_CHARS_MAX {
        return Err(lang.t("field-declaration-too-long"));
    }
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = || lang.t_with("field-bad-declaration-line", &[("line", (index + 1).to_string())]);
        let mut parts = line.split(|c: char| c == ',' || c == '，' || c.is_whitespace()).filter(|p| !p.is_empty());
        let (Some(id), Some(wage), None) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        let person_id = NationalId::parse(id).map_err(|_| bad())?;
        let wage = Fen::parse_yuan(wage).ok().filter(|w| !w.is_negative()).ok_or_else(bad)?;
        lines.push(WageLine { person_id, wage });
    }
    if lines.is_empty() {
        return Err(lang.t("field-declaration-empty"));
    }
    Ok(lines)
}

/// A POST on an employer's page: the CSRF token and the role checked, the page's address
/// and the employer's code, or the refusal.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn acting_on(user: &ConsoleUser, csrf: &str, code: &str) -> Result<(String, EmployerCode), Response> {
    let here = format!("{HERE}/{}", url_encode(code));
    may_post(user, csrf, "employers", "employer-title", &here, CONTRIBUTIONS)?;
    let employer = EmployerCode::parse(code).map_err(|_| error_page(user.lang, StatusCode::NOT_FOUND, "error-not-found", None))?;
    Ok((here, employer))
}

/// Records a declaration: on success back to the page; refusals beside the lines or the
/// month.
pub async fn declare(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<DeclareForm>,
) -> Response {
    let (here, employer) = match acting_on(&user, &form.csrf, &code) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    if yibao_app::Period::parse(form.period.trim()).is_err() {
        errors.add("period", lang.t("field-bad-period"));
    }
    let lines = wage_lines(lang, &form.lines).map_err(|e| errors.add("lines", e)).ok();
    let (Some(lines), true) = (lines, errors.is_empty()) else {
        return employer_page(&state, &user, &code, (form, PayForm::default()), errors, String::new()).await;
    };
    match state.declare(&user.principal(), &ConsoleUser::source(&headers), &employer, form.period.trim(), lines).await {
        Ok(_) => Redirect::to(&format!("{here}?done=declared")).into_response(),
        Err(error) if is_form_refusal(&error) => {
            let field = if matches!(error.code.as_ref(), "declaration.bad_period" | "declaration.exists") { "period" } else { "lines" };
            errors.add(field, app_message(lang, &error));
            employer_page(&state, &user, &code, (form, PayForm::default()), errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

/// Records a payment of a declared month: on success back to the page; a wrong amount is
/// told beside it with the exact bill.
pub async fn pay(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let (here, employer) = match acting_on(&user, &form.csrf, &code) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    if yibao_app::Period::parse(form.period.trim()).is_err() {
        errors.add("pay_period", lang.t("field-bad-period"));
    }
    let paid_on = yibao_domain::parse_date(form.paid_on.trim()).map_err(|_| errors.add("paid_on", lang.t("field-bad-date"))).ok();
    let amount = Fen::parse_yuan(form.amount.trim()).ok().filter(|a| !a.is_negative()).or_else(|| {
        errors.add("amount", lang.t("field-bad-amount"));
        None
    });
    let (Some(paid_on), Some(amount), true) = (paid_on, amount, errors.is_empty()) else {
        return employer_page(&state, &user, &code, (DeclareForm::default(), form), errors, String::new()).await;
    };
    match state.pay_declaration(&user.principal(), &ConsoleUser::source(&headers), &employer, form.period.trim(), paid_on, amount).await {
        Ok(_) => Redirect::to(&format!("{here}?done=paid")).into_response(),
        Err(error) if is_form_refusal(&error) || error.code == "declaration.not_found" => {
            let field = match error.code.as_ref() {
                "employer.bad_date" => "paid_on",
                "employer.amount_mismatch" => "amount",
                _ => "pay_period",
            };
            errors.add(field, app_message(lang, &error));
            employer_page(&state, &user, &code, (DeclareForm::default(), form), errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}
