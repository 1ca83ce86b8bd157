//! A person's arrears repaid in instalments (欠费分期补缴, issue 16 item 4, R-FIN-4): what a
//! plan agreed today would take, the person's plans with their schedules and payments, and
//! whether their benefits are in force today; the forms to agree a plan and to record a
//! payment under it. Every rule is the application's (`App::arrears_of`, `App::agree_plan`,
//! `App::pay_instalment`); refusals are shown beside the field they concern.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::App;
use yibao_app::arrears::{ArrearsView, PlanInput, Standing};
use yibao_domain::{Fen, NationalId};

use super::i18n::Lang;
use super::page::{
    CONTRIBUTIONS, FieldErrors, Page, app_error_page, app_message, error_page, is_form_refusal, may_post, render, url_encode, yuan,
};
use super::session::ConsoleUser;

#[derive(Debug)]
pub struct OwedRow {
    pub kind: String,
    pub period: String,
    pub owed_yuan: String,
}

#[derive(Debug)]
pub struct InstalmentRow {
    pub number: u32,
    pub due_on: String,
    pub amount_yuan: String,
}

#[derive(Debug)]
pub struct PaymentRow {
    pub paid_on: String,
    pub amount_yuan: String,
    /// The periods it paid, as `2025 300.00; 2026 50.00`.
    pub parts: String,
}

#[derive(Debug)]
pub struct PlanRow {
    pub seq: i64,
    pub agreed_on: String,
    pub status: String,
    pub total_yuan: String,
    pub paid_yuan: String,
    pub schedule: Vec<InstalmentRow>,
    pub payments: Vec<PaymentRow>,
}

#[derive(Template)]
#[template(path = "console/people/arrears.html")]
struct ArrearsTemplate {
    page: Page,
    person_id: String,
    /// Benefits today: in force, or why they are suspended.
    standing: String,
    suspended: bool,
    owed: Vec<OwedRow>,
    owed_yuan: String,
    /// The pack's longest plan, in months (empty when it offers none).
    instalments_max: String,
    plans: Vec<PlanRow>,
    open_plan: bool,
    agree: AgreeForm,
    pay: PayForm,
    errors: FieldErrors,
    may_act: bool,
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AgreeForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub instalments: String,
    #[serde(default)]
    pub first_due_on: String,
    /// The total the page showed, sent back so a plan is not agreed on arrears that changed.
    #[serde(default)]
    pub total: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PayForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub receipt: String,
    #[serde(default)]
    pub amount: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

fn kind_name(lang: Lang, kind: yibao_app::ContributionKind) -> String {
    lang.t(&format!("kind-{}", kind.as_str()))
}

fn standing_text(lang: Lang, standing: &Standing) -> String {
    match standing {
        Standing::InForce => lang.t("repay-in-force"),
        Standing::Suspended { kind, period, overdue_since, resumes_on, plan_default } => lang.t_with(
            "repay-suspended",
            &[
                ("kind", kind_name(lang, *kind)),
                ("period", period.to_string()),
                ("since", plan_default.unwrap_or(*overdue_since).to_string()),
                ("resumes", resumes_on.map(|d| d.to_string()).unwrap_or_else(|| lang.t("repay-resumes-when-paid"))),
            ],
        ),
    }
}

fn plan_row(lang: Lang, plan: &yibao_app::PlanRecord) -> PlanRow {
    PlanRow {
        seq: plan.seq,
        agreed_on: plan.agreed_on.to_string(),
        status: lang.t(&format!("repay-plan-{}", plan.status.as_str())),
        total_yuan: yuan(plan.total_fen.get()),
        paid_yuan: yuan(plan.paid_fen().get()),
        schedule: plan
            .schedule
            .iter()
            .map(|i| InstalmentRow { number: i.number, due_on: i.due_on.to_string(), amount_yuan: yuan(i.amount_fen.get()) })
            .collect(),
        payments: plan
            .payments
            .iter()
            .map(|p| PaymentRow {
                paid_on: p.paid_on.to_string(),
                amount_yuan: yuan(p.amount_fen.get()),
                parts: p
                    .parts
                    .iter()
                    .map(|part| format!("{} {} {}", part.period, kind_name(lang, part.kind), yuan(part.owed_fen.get())))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect(),
    }
}

fn here(id: &str) -> String {
    format!("/console/people/{}/arrears", url_encode(id))
}

async fn arrears_page(
    state: &App,
    user: &ConsoleUser,
    id: &str,
    forms: (AgreeForm, PayForm),
    errors: FieldErrors,
    done: String,
) -> Response {
    let lang = user.lang;
    let Ok(person_id) = NationalId::parse(id) else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let page = match Page::guard(user, "people", "repay-title", &here(id)) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let view: ArrearsView = match state.arrears_of(&user.principal(), &person_id).await {
        Ok(view) => view,
        Err(error) => return app_error_page(lang, &error),
    };
    let (mut agree, pay) = forms;
    if agree.first_due_on.is_empty() {
        agree.first_due_on = view.on.to_string();
    }
    if agree.instalments.is_empty() {
        agree.instalments = "12".into();
    }
    // The total is always the one shown now: a plan is agreed on what the page says.
    agree.total = yuan(view.owed_fen.get());
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = ArrearsTemplate {
        page,
        person_id: person_id.to_string(),
        standing: standing_text(lang, &view.standing),
        suspended: matches!(view.standing, Standing::Suspended { .. }),
        owed: view
            .periods
            .iter()
            .map(|p| OwedRow { kind: kind_name(lang, p.kind), period: p.period.to_string(), owed_yuan: yuan(p.owed_fen.get()) })
            .collect(),
        owed_yuan: yuan(view.owed_fen.get()),
        instalments_max: view.rule.instalments_max.map(|m| m.to_string()).unwrap_or_default(),
        open_plan: view.plans.iter().any(|p| p.status == yibao_app::PlanStatus::Open),
        plans: view.plans.iter().map(|p| plan_row(lang, p)).collect(),
        agree,
        pay,
        errors,
        may_act: user.may(CONTRIBUTIONS),
        done: matches!(done.as_str(), "agreed" | "paid").then(|| lang.t(&format!("repay-done-{done}"))),
    };
    (status, render(&template)).into_response()
}

/// The person's arrears, plans and standing, with the forms for those who collect.
pub async fn show(State(state): State<App>, user: ConsoleUser, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    arrears_page(&state, &user, &id, (AgreeForm::default(), PayForm::default()), FieldErrors::default(), q.done).await
}

/// A POST on the page: the CSRF token and the role checked, and the person's ID.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn acting_on(user: &ConsoleUser, csrf: &str, id: &str) -> Result<NationalId, Response> {
    may_post(user, csrf, "people", "repay-title", &here(id), CONTRIBUTIONS)?;
    NationalId::parse(id).map_err(|_| error_page(user.lang, StatusCode::NOT_FOUND, "error-not-found", None))
}

/// Agrees a plan: on success back to the page; refusals beside the field.
pub async fn agree(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<AgreeForm>,
) -> Response {
    let person_id = match acting_on(&user, &form.csrf, &id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let instalments = form.instalments.trim().parse::<u32>().map_err(|_| errors.add("instalments", lang.t("field-bad-instalments"))).ok();
    let first_due_on =
        yibao_domain::parse_date(form.first_due_on.trim()).map_err(|_| errors.add("first_due_on", lang.t("field-bad-date"))).ok();
    let total = Fen::parse_yuan(form.total.trim()).map_err(|_| errors.add("instalments", lang.t("field-bad-amount"))).ok();
    let (Some(instalments), Some(first_due_on), Some(total_fen), true) = (instalments, first_due_on, total, errors.is_empty()) else {
        return arrears_page(&state, &user, &id, (form, PayForm::default()), errors, String::new()).await;
    };
    let input = PlanInput { instalments, first_due_on, total_fen };
    match state.agree_plan(&user.principal(), &ConsoleUser::source(&headers), &person_id, input).await {
        Ok(_) => Redirect::to(&format!("{}?done=agreed", here(&id))).into_response(),
        Err(error) if is_form_refusal(&error) => {
            let field = if error.code == "arrears.bad_date" { "first_due_on" } else { "instalments" };
            errors.add(field, app_message(lang, &error));
            arrears_page(&state, &user, &id, (form, PayForm::default()), errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

/// Records a payment under the open plan: on success back to the page; a refusal beside
/// the amount.
pub async fn pay(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let person_id = match acting_on(&user, &form.csrf, &id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let Some(amount) = Fen::parse_yuan(form.amount.trim()).ok().filter(|a| a.get() > 0) else {
        errors.add("amount", lang.t("field-bad-amount"));
        return arrears_page(&state, &user, &id, (AgreeForm::default(), form), errors, String::new()).await;
    };
    match state.pay_instalment(&user.principal(), &ConsoleUser::source(&headers), &person_id, &form.receipt, amount).await {
        Ok(_) => Redirect::to(&format!("{}?done=paid", here(&id))).into_response(),
        Err(error) if is_form_refusal(&error) => {
            let field = if matches!(error.code.as_ref(), "arrears.bad_receipt" | "arrears.receipt_reused") { "receipt" } else { "amount" };
            errors.add(field, app_message(lang, &error));
            arrears_page(&state, &user, &id, (AgreeForm::default(), form), errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}
