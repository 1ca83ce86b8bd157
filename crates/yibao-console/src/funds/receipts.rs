//! Receipts into a fund's special account, booked by a fund accountant: the opening
//! balance brought in when the books start (期初余额, R-SYS-3) or an advance from city
//! finance (财政垫付, R-FND-5). Booking the same reference again changes nothing (the
//! store's idempotency), so a resubmitted form is harmless.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::books::FundScheme;
use yibao_app::{FundReceipt, ReceiptKind};
use yibao_domain::{Fen, RegionCode};

use super::super::session::ConsoleUser;
use crate::page::{FieldErrors, Page, error_page, render};
use yibao_app::App;

#[derive(Debug)]
pub struct Choice {
    pub value: &'static str,
    pub label: String,
}

#[derive(Template)]
#[template(path = "console/funds/receipts.html")]
struct ReceiptsTemplate {
    page: Page,
    form: ReceiptForm,
    errors: FieldErrors,
    kinds: Vec<Choice>,
    schemes: Vec<Choice>,
    done: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReceiptForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub reference: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

const KINDS: [&str; 2] = ["opening-balance", "finance-advance"];

fn receipt_kind(text: &str) -> Option<ReceiptKind> {
    match text {
        "opening-balance" => Some(ReceiptKind::OpeningBalance),
        "finance-advance" => Some(ReceiptKind::FinanceAdvance),
        _ => None,
    }
}

fn receipts_page(user: &ConsoleUser, form: ReceiptForm, errors: FieldErrors, done: bool) -> Response {
    let page = match Page::guard(user, "receipts", "receipts-title", "/console/funds/receipts") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let kinds = KINDS.iter().map(|k| Choice { value: k, label: lang.t(&format!("receipt-{k}")) }).collect();
    // The adjustment fund is offered for one receipt: a county's opening balance (what it
    // paid in before these books); the store refuses anything else into it (R-FND-5).
    let schemes = FundScheme::ALL.iter().map(|s| Choice { value: s.as_str(), label: lang.t(&format!("fund-{}", s.as_str())) }).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    (status, render(&ReceiptsTemplate { page, form, errors, kinds, schemes, done })).into_response()
}

pub async fn form(user: ConsoleUser, Query(q): Query<DoneQuery>) -> Response {
    let form = ReceiptForm { date: time::OffsetDateTime::now_utc().date().to_string(), ..ReceiptForm::default() };
    receipts_page(&user, form, FieldErrors::default(), q.done == "booked")
}

/// Books a receipt; errors next to their fields, a refusal next to the reference.
pub async fn book(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<ReceiptForm>) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&form.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if let Err(response) = Page::guard(&user, "receipts", "receipts-title", "/console/funds/receipts") {
        return response;
    }
    let mut errors = FieldErrors::default();
    let kind = receipt_kind(form.kind.trim());
    if kind.is_none() {
        errors.add("kind", lang.t("field-bad-receipt-kind"));
    }
    let scheme = FundScheme::parse(form.scheme.trim());
    if scheme.is_none() {
        errors.add("scheme", lang.t("field-bad-fund"));
    }
    let unit = RegionCode::parse(form.unit.trim()).ok();
    match unit {
        None => errors.add("unit", lang.t("field-bad-region")),
        Some(unit) if !user.region.contains(unit) => errors.add("unit", lang.t("field-region-outside")),
        Some(_) => {}
    }
    let amount = Fen::parse_yuan(form.amount.trim()).ok().filter(|f| f.get() > 0);
    if amount.is_none() {
        errors.add("amount", lang.t("field-bad-positive-amount"));
    }
    let date = yibao_domain::parse_date(form.date.trim()).ok();
    if date.is_none() {
        errors.add("date", lang.t("field-bad-date"));
    }
    let reference = form.reference.trim().to_owned();
    let reference_ok = (1..=40).contains(&reference.len()) && reference.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if !reference_ok {
        errors.add("reference", lang.t("field-bad-reference"));
    }
    let (Some(kind), Some(scheme), Some(unit), Some(amount_fen), Some(value_date), true) =
        (kind, scheme, unit, amount, date, errors.is_empty())
    else {
        return receipts_page(&user, form, errors, false);
    };
    let receipt = FundReceipt { kind, scheme, unit, amount_fen, value_date, reference };
    match state.record_receipt(&user.principal(), &ConsoleUser::source(&headers), receipt).await {
        Ok(()) => Redirect::to("/console/funds/receipts?done=booked").into_response(),
        Err(error) if !matches!(error.kind, yibao_app::ErrorKind::Internal | yibao_app::ErrorKind::Forbidden) => {
            let field = match error.code.as_ref() {
                "fund.bad_date" => "date",
                "region.unknown" => "unit",
                _ => "reference",
            };
            errors.add(field, crate::page::app_message(lang, &error));
            receipts_page(&user, form, errors, false)
        }
        Err(error) => crate::page::app_error_page(lang, &error),
    }
}
