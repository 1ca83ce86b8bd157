//! Handing a fund over (基金移交, R-FND-7): at a cut-off the handing-over side prepares and
//! signs an inventory of the fund as its books stand (every account line, the counts, the
//! posted totals and a checksum over all of it); another person, the receiving side,
//! confirms by typing the checksum, and only then does every balance move to the
//! receiving fund. Refusals — the same person, a wrong checksum, books changed since the
//! signing — are shown next to the checksum field. Handovers are the city's books, so
//! the page is city-only; fund accountants and city administrators act, auditors read.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::books::FundScheme;
use yibao_app::books::{HandoverRequest, Inventory};

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use super::fund_name;
use super::receipts::Choice;
use crate::page::{
    FUND_WRITERS, FieldErrors, Page, app_error_page, app_message, error_page, is_form_refusal, may_post, moment, render, url_encode, yuan,
};
use yibao_app::App;

const HERE: &str = "/console/funds/handovers";

#[derive(Debug)]
pub struct LineView {
    pub holder: String,
    pub kind: String,
    pub debits_yuan: String,
    pub credits_yuan: String,
    pub balance_yuan: String,
}

#[derive(Debug)]
pub struct InventoryView {
    pub reference: String,
    pub href: String,
    pub from_fund: String,
    pub to_fund: String,
    pub cut_off: String,
    pub accounts: usize,
    pub transfers: i64,
    pub debits_yuan: String,
    pub credits_yuan: String,
    pub lines: Vec<LineView>,
    pub checksum: String,
    pub prepared_by: String,
    pub prepared_at: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
}

/// The inventory's totals are decimal text (they may exceed one amount): shown as yuan
/// when they fit, as stored otherwise.
fn total_yuan(fen_text: &str) -> String {
    fen_text.parse::<i64>().map_or_else(|_| fen_text.to_owned(), yuan)
}

fn inventory_view(lang: Lang, inventory: &Inventory) -> InventoryView {
    InventoryView {
        reference: inventory.reference.clone(),
        href: format!("{HERE}/{}", url_encode(&inventory.reference)),
        from_fund: format!("{} ({})", fund_name(lang, &inventory.from_fund), inventory.from_fund),
        to_fund: format!("{} ({})", fund_name(lang, &inventory.to_fund), inventory.to_fund),
        cut_off: inventory.cut_off.clone(),
        accounts: inventory.accounts,
        transfers: inventory.transfers,
        debits_yuan: total_yuan(&inventory.debits_fen),
        credits_yuan: total_yuan(&inventory.credits_fen),
        lines: inventory
            .lines
            .iter()
            .map(|l| LineView {
                holder: l.holder.clone(),
                kind: l.kind.clone(),
                debits_yuan: yuan(l.debits_fen),
                credits_yuan: yuan(l.credits_fen),
                balance_yuan: yuan(l.balance_fen),
            })
            .collect(),
        checksum: inventory.checksum.clone(),
        prepared_by: inventory.prepared_by.clone(),
        prepared_at: moment(&inventory.prepared_at),
        confirmed_by: inventory.confirmed_by.clone(),
        confirmed_at: inventory.confirmed_at.as_deref().map(moment),
    }
}

#[derive(Template)]
#[template(path = "console/funds/handovers.html")]
struct HandoversTemplate {
    page: Page,
    handovers: Vec<InventoryView>,
    schemes: Vec<Choice>,
    form: PrepareForm,
    errors: FieldErrors,
    may_act: bool,
}

#[derive(Template)]
#[template(path = "console/funds/handover.html")]
struct HandoverTemplate {
    page: Page,
    inventory: InventoryView,
    checksum: String,
    errors: FieldErrors,
    may_act: bool,
    done: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PrepareForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub cut_off: String,
    #[serde(default)]
    pub reference: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub checksum: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn list_page(state: &App, user: &ConsoleUser, form: PrepareForm, errors: FieldErrors) -> Response {
    let page = match Page::guard(user, "handovers", "handovers-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let handovers = match state.handovers(&user.principal()).await {
        Ok(found) => found.iter().map(|i| inventory_view(lang, i)).collect(),
        Err(error) => return app_error_page(lang, &error),
    };
    let schemes = FundScheme::ALL
        .iter()
        .filter(|s| **s != FundScheme::MunicipalAdjustment)
        .map(|s| Choice { value: s.as_str(), label: lang.t(&format!("fund-{}", s.as_str())) })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = HandoversTemplate { page, handovers, schemes, form, errors, may_act: user.may(FUND_WRITERS) };
    (status, render(&template)).into_response()
}

pub async fn list(State(state): State<App>, user: ConsoleUser) -> Response {
    let form = PrepareForm { from: "ncms".into(), to: "resident".into(), ..PrepareForm::default() };
    list_page(&state, &user, form, FieldErrors::default()).await
}

/// Refuses a POST that is not a fund writer's, or has no valid CSRF token.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn may_act(user: &ConsoleUser, csrf: &str) -> Result<(), Response> {
    may_post(user, csrf, "handovers", "handovers-title", HERE, FUND_WRITERS)
}

/// Prepares and signs an inventory: on success to it; a refusal next to the reference.
pub async fn prepare(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<PrepareForm>) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let mut scheme = |field: &str, text: &str| {
        let found = FundScheme::parse(text.trim()).filter(|s| *s != FundScheme::MunicipalAdjustment);
        if found.is_none() {
            errors.add(field, lang.t("field-bad-fund"));
        }
        found
    };
    let (from, to) = (scheme("from", &form.from), scheme("to", &form.to));
    if from.is_some() && from == to {
        errors.add("to", lang.t("field-handover-same-fund"));
    }
    let cut_off = yibao_domain::parse_date(form.cut_off.trim()).ok();
    if cut_off.is_none() {
        errors.add("cut_off", lang.t("field-bad-date"));
    }
    let reference = form.reference.trim().to_owned();
    if !((1..=40).contains(&reference.len()) && reference.bytes().all(|b| b.is_ascii_graphic() && b != b'/')) {
        errors.add("reference", lang.t("field-bad-reference"));
    }
    let (Some(from), Some(to), Some(cut_off), true) = (from, to, cut_off, errors.is_empty()) else {
        return list_page(&state, &user, form, errors).await;
    };
    let request = HandoverRequest { from, to, cut_off, reference };
    match state.prepare_handover(&user.principal(), &ConsoleUser::source(&headers), request).await {
        Ok(inventory) => Redirect::to(&format!("{HERE}/{}?done=prepared", url_encode(&inventory.reference))).into_response(),
        Err(error) if is_form_refusal(&error) => {
            // A cut-off after today is the date's fault; the rest concern the request.
            let field = if error.code == "fund.bad_date" { "cut_off" } else { "reference" };
            errors.add(field, app_message(lang, &error));
            list_page(&state, &user, form, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

async fn inventory_page(state: &App, user: &ConsoleUser, reference: &str, checksum: String, errors: FieldErrors, done: String) -> Response {
    let here = format!("{HERE}/{}", url_encode(reference));
    let page = match Page::guard(user, "handovers", "handover-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let handovers = match state.handovers(&user.principal()).await {
        Ok(found) => found,
        Err(error) => return app_error_page(lang, &error),
    };
    let Some(found) = handovers.iter().find(|i| i.reference == reference) else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template =
        HandoverTemplate { page, inventory: inventory_view(lang, found), checksum, errors, may_act: user.may(FUND_WRITERS), done };
    (status, render(&template)).into_response()
}

/// A handover's inventory, with the confirmation form while it is unconfirmed.
pub async fn show(State(state): State<App>, user: ConsoleUser, Path(reference): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    inventory_page(&state, &user, &reference, String::new(), FieldErrors::default(), q.done).await
}

/// The receiving side confirms with the checksum: on success back to the inventory; the
/// store's refusal next to the checksum.
pub async fn confirm(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(reference): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let checksum = form.checksum.trim().to_ascii_lowercase();
    if checksum.len() != 64 || !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        errors.add("checksum", lang.t("field-bad-checksum"));
        return inventory_page(&state, &user, &reference, form.checksum, errors, String::new()).await;
    }
    match state.confirm_handover(&user.principal(), &ConsoleUser::source(&headers), &reference, &checksum).await {
        Ok(_) => Redirect::to(&format!("{HERE}/{}?done=confirmed", url_encode(&reference))).into_response(),
        Err(error) if is_form_refusal(&error) => {
            // The refusal codes have their messages in the application's catalogue.
            errors.add("checksum", app_message(lang, &error));
            inventory_page(&state, &user, &reference, form.checksum, errors, String::new()).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}
