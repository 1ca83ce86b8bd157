//! Claims: a person's claims, one claim's one-bill settlement with its explanation step by
//! step, reversal (冲正) with a reason, and the printable A4 settlement slip (结算单).
//!
//! The settlement is shown as the store holds it (the engine's result, national field
//! names, explanation included); amounts are parsed as yuan into fen and printed with two
//! decimals, never through floats.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use yibao_app::ErrorKind;
use yibao_app::policy::ParamKey;
use yibao_app::{ClaimRecord, ClaimStatus, Language, Rule};
use yibao_domain::{Fen, ItemCode, NationalId};

use super::i18n::Lang;
use super::page::{
    CLAIMS, FieldErrors, Page, Pager, REVERSERS, app_error_page, app_message, error_page, moment_at, national_id_error, paginate, render,
    url_encode, yuan,
};
use super::session::ConsoleUser;
use yibao_app::App;

#[derive(Debug)]
pub struct ClaimRow {
    pub institution: String,
    pub claim_id: String,
    pub href: String,
    pub settled_at: String,
    pub status: String,
    pub reversed: bool,
    pub medfee_yuan: String,
    pub fund_pay_yuan: String,
    pub psn_part_yuan: String,
}

fn claim_href(record: &ClaimRecord) -> String {
    format!("/console/claims/{}/{}", url_encode(&record.institution_code), url_encode(&record.claim_id))
}

pub(crate) fn status_label(lang: Lang, status: ClaimStatus) -> String {
    lang.t(&format!("claim-status-{}", status.as_str()))
}

#[derive(Template)]
#[template(path = "console/claims/search.html")]
struct SearchTemplate {
    page: Page,
    person: String,
    person_name: String,
    searched: bool,
    rows: Vec<ClaimRow>,
    pager: Pager,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    person: String,
    #[serde(default)]
    page: Option<usize>,
}

pub async fn search(State(state): State<App>, user: ConsoleUser, Query(q): Query<SearchQuery>) -> Response {
    let page = match Page::guard(&user, "claims", "claims-title", "/console/claims") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let person = q.person.trim().to_owned();
    let mut errors = FieldErrors::default();
    let mut found = Vec::new();
    let mut person_name = String::new();
    if !person.is_empty() {
        match NationalId::parse(&person) {
            Ok(id) => {
                let principal = user.principal();
                match state.person(&principal, &id).await {
                    Ok(record) => person_name = record.name.into_string(),
                    Err(error) if error.kind == ErrorKind::NotFound => errors.add("person", app_message(lang, &error)),
                    Err(error) => return app_error_page(lang, &error),
                }
                if errors.is_empty() {
                    match state.claims_of_person(&principal, &id).await {
                        Ok(claims) => found = claims,
                        Err(error) => return app_error_page(lang, &error),
                    }
                }
            }
            Err(e) => errors.add("person", national_id_error(lang, &e)),
        }
    }
    let rows = found
        .iter()
        .map(|c| ClaimRow {
            institution: c.institution_code.to_string(),
            claim_id: c.claim_id.clone(),
            href: claim_href(c),
            settled_at: moment_at(c.settled_at),
            status: status_label(lang, c.status),
            reversed: c.status == ClaimStatus::Reversed,
            medfee_yuan: yuan(c.medfee_fen.get()),
            fund_pay_yuan: yuan(c.fund_pay_fen.get()),
            psn_part_yuan: yuan(c.psn_part_fen.get()),
        })
        .collect();
    let base = format!("/console/claims?person={}", url_encode(&person));
    let (rows, pager) = paginate(lang, rows, q.page.unwrap_or(1), |n| format!("{base}&page={n}"));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let searched = !person.is_empty();
    (status, render(&SearchTemplate { page, person, person_name, searched, rows, pager, errors })).into_response()
}

// ---- one settlement ----

#[derive(Debug)]
pub struct AmountRow {
    pub label: String,
    pub yuan: String,
    pub strong: bool,
}

#[derive(Debug)]
pub struct LineRow {
    pub number: usize,
    pub code: String,
    pub name: String,
    pub class: String,
    pub verdict: String,
    pub quantity: String,
    pub unit_price_yuan: String,
    pub total_yuan: String,
    pub self_paid_yuan: String,
    pub in_scope_yuan: String,
}

#[derive(Debug)]
pub struct StepRow {
    pub title: String,
    pub line: String,
    pub param: String,
    pub value: String,
    /// What the step did, in words, in the page's language.
    pub note: String,
    pub cite: String,
    pub before_yuan: String,
    pub amount_yuan: String,
    pub after_yuan: String,
}

/// A settlement as the pages show it.
#[derive(Debug)]
pub struct SettlementView {
    pub institution: String,
    pub claim_id: String,
    pub href: String,
    pub person_id: String,
    pub person_name: String,
    pub status: String,
    pub reversed: bool,
    pub settled_at: String,
    pub reversed_at: String,
    pub reversal_reason: String,
    pub kind: String,
    pub diagnosis: String,
    pub admission: String,
    pub discharge: String,
    pub service_year: String,
    pub tier: String,
    pub fund_layers: Vec<AmountRow>,
    pub person_layers: Vec<AmountRow>,
    pub bill_layers: Vec<AmountRow>,
    pub lines: Vec<LineRow>,
    pub steps: Vec<StepRow>,
    pub medfee_yuan: String,
    pub fund_pay_yuan: String,
    pub psn_part_yuan: String,
    pub cash_yuan: String,
}

/// A yuan amount of the stored JSON (`"12.50"`), printed again with two decimals.
fn amount(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .map_or_else(String::new, |text| Fen::parse_yuan(text).map_or_else(|_| text.to_owned(), |f| yuan(f.get())))
}

fn text(value: &Value, field: &str) -> String {
    match value.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn is_zero(value: &Value, field: &str) -> bool {
    value.get(field).and_then(Value::as_str).and_then(|t| Fen::parse_yuan(t).ok()).is_none_or(Fen::is_zero)
}

fn settlement_view(state: &App, lang: Lang, record: &ClaimRecord, person_name: String) -> SettlementView {
    let settlement: Value = serde_json::from_str(&record.settlement_json).unwrap_or(Value::Null);
    let claim: Value = serde_json::from_str(&record.claim_json).unwrap_or(Value::Null);
    let row = |key: &str, field: &str, strong: bool| AmountRow { label: lang.t(key), yuan: amount(&settlement, field), strong };
    let mut fund_layers = vec![row("layer-hifp", "hifp_pay", false)];
    for (key, field) in [
        ("layer-cvlserv", "cvlserv_pay"),
        ("layer-hifes", "hifes_pay"),
        ("layer-hifmi", "hifmi_pay"),
        ("layer-hifob", "hifob_pay"),
        ("layer-maf", "maf_pay"),
        ("layer-oth", "oth_pay"),
    ] {
        if !is_zero(&settlement, field) {
            fund_layers.push(row(key, field, false));
        }
    }
    fund_layers.push(row("layer-fund-total", "fund_pay_sumamt", true));
    let mut person_layers = vec![
        row("layer-acct", "acct_pay", false),
        row("layer-cash", "psn_cash_pay", false),
        row("layer-person-total", "psn_part_amt", true),
    ];
    // A single disease's bill above its fixed price: the hospital's, not the person's.
    if !is_zero(&settlement, "hosp_part_amt") {
        person_layers.push(row("layer-hospital", "hosp_part_amt", false));
    }
    if !is_zero(&settlement, "maternity_allowance") {
        person_layers.push(row("layer-maternity-allowance", "maternity_allowance", false));
    }
    let bill_layers = vec![
        row("bill-total", "medfee_sumamt", true),
        row("bill-ownpay", "fulamt_ownpay_amt", false),
        row("bill-overlimit", "overlmt_selfpay", false),
        row("bill-preselfpay", "preselfpay_amt", false),
        row("bill-in-scope", "inscp_scp_amt", false),
        row("bill-deductible", "act_pay_dedc", false),
    ];
    let lines = settlement
        .get("lines")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .enumerate()
                .map(|(index, line)| {
                    let code = text(line, "code");
                    let name = ItemCode::parse(&code)
                        .ok()
                        .and_then(|c| state.policy().catalogue_item(&c).map(|i| i.name.clone()))
                        .unwrap_or_default();
                    LineRow {
                        number: index + 1,
                        code,
                        name,
                        class: text(line, "class"),
                        verdict: lang.t(&format!("verdict-{}", text(line, "verdict"))),
                        quantity: text(line, "quantity"),
                        unit_price_yuan: amount(line, "unit_price"),
                        total_yuan: amount(line, "det_item_fee_sumamt"),
                        self_paid_yuan: amount(line, "fulamt_ownpay_amt"),
                        in_scope_yuan: amount(line, "inscp_scp_amt"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let steps = settlement
        .get("explanation")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .map(|step| {
                    let rule = text(step, "rule");
                    // The step's own words in the page's language (the engine writes each
                    // step in both); a settlement stored before steps carried their title
                    // takes it from the engine's catalogue of rules.
                    let language = lang.language();
                    let key = match language {
                        Language::Zh => "zh",
                        Language::En => "en",
                    };
                    let in_language = |field: &str| step.get(field).and_then(|t| t.get(key)).and_then(Value::as_str).map(str::to_owned);
                    let title = in_language("title")
                        .or_else(|| Rule::parse(&rule).map(|r| r.title().get(language).to_owned()))
                        .unwrap_or_else(|| rule.clone());
                    let param = text(step, "param");
                    let param_label = ParamKey::parse(&param).map(|k| match lang {
                        Lang::Zh => k.spec().label_zh,
                        Lang::En => k.spec().label_en,
                    });
                    StepRow {
                        title,
                        line: text(step, "line"),
                        param: param_label.map_or_else(|| param.clone(), |label| format!("{label} ({param})")),
                        value: text(step, "value"),
                        note: in_language("note").unwrap_or_default(),
                        cite: text(step, "cite"),
                        before_yuan: amount(step, "before"),
                        amount_yuan: amount(step, "amount"),
                        after_yuan: amount(step, "after"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    SettlementView {
        institution: record.institution_code.to_string(),
        claim_id: record.claim_id.clone(),
        href: claim_href(record),
        person_id: record.person_id.to_string(),
        person_name,
        status: status_label(lang, record.status),
        reversed: record.status == ClaimStatus::Reversed,
        settled_at: moment_at(record.settled_at),
        reversed_at: record.reversed_at.map(moment_at).unwrap_or_default(),
        reversal_reason: record.reversal_reason.clone().unwrap_or_default(),
        kind: lang.t(&format!("claim-kind-{}", text(&claim, "kind"))),
        diagnosis: text(&claim, "diagnosis"),
        admission: text(&claim, "admission_date"),
        discharge: text(&claim, "discharge_date"),
        service_year: text(&settlement, "year"),
        tier: text(&settlement, "tier"),
        fund_layers,
        person_layers,
        bill_layers,
        lines,
        steps,
        medfee_yuan: yuan(record.medfee_fen.get()),
        fund_pay_yuan: yuan(record.fund_pay_fen.get()),
        psn_part_yuan: yuan(record.psn_part_fen.get()),
        cash_yuan: amount(&settlement, "psn_cash_pay"),
    }
}

/// The claim and its person's name, read with the user's own region as scope.
async fn load(state: &App, user: &ConsoleUser, institution: &str, claim_id: &str) -> Result<SettlementView, Response> {
    let principal = user.principal();
    let record = state.claim(&principal, institution, claim_id).await.map_err(|e| app_error_page(user.lang, &e))?.record;
    let name = state.person(&principal, &record.person_id).await.map(|p| p.name.into_string()).unwrap_or_default();
    Ok(settlement_view(state, user.lang, &record, name))
}

#[derive(Template)]
#[template(path = "console/claims/settlement.html")]
struct SettlementTemplate {
    page: Page,
    s: SettlementView,
    can_reverse: bool,
    reason: String,
    notice: Option<String>,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    done: String,
}

pub async fn show(
    State(state): State<App>,
    user: ConsoleUser,
    Path((institution, claim_id)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let notice = (q.done == "reversed").then(|| user.lang.t("claim-reversed"));
    settlement_page(&state, &user, &institution, &claim_id, notice, String::new(), FieldErrors::default(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)]
async fn settlement_page(
    state: &App,
    user: &ConsoleUser,
    institution: &str,
    claim_id: &str,
    notice: Option<String>,
    reason: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Response {
    let here = format!("/console/claims/{}/{}", url_encode(institution), url_encode(claim_id));
    let page = match Page::guard(user, "claims", "settlement-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let s = match load(state, user, institution, claim_id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let can_reverse = user.may(REVERSERS) && !s.reversed;
    (status, render(&SettlementTemplate { page, s, can_reverse, reason, notice, errors })).into_response()
}

#[derive(Template)]
#[template(path = "console/claims/slip.html")]
struct SlipTemplate {
    page: Page,
    s: SettlementView,
    printed_at: String,
}

/// The settlement slip (结算单) for the patient: one A4 page, printed by the browser.
pub async fn slip(State(state): State<App>, user: ConsoleUser, Path((institution, claim_id)): Path<(String, String)>) -> Response {
    let here = format!("/console/claims/{}/{}/slip", url_encode(&institution), url_encode(&claim_id));
    let page = match Page::guard(&user, "claims", "slip-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let s = match load(&state, &user, &institution, &claim_id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let printed_at = time::OffsetDateTime::now_utc().date().to_string();
    render(&SlipTemplate { page, s, printed_at })
}

#[derive(Debug, Default, Deserialize)]
pub struct ReversalForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn reverse(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path((institution, claim_id)): Path<(String, String)>,
    Form(input): Form<ReversalForm>,
) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&input.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    if !user.may(REVERSERS) || !user.may(CLAIMS) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let reason = input.reason.trim().to_owned();
    let refuse = |message: String| {
        let mut errors = FieldErrors::default();
        errors.add("reason", message);
        errors
    };
    // The store's own rule (1 to 500 characters), checked first so the error sits by the field.
    if let Err(error) = yibao_app::check_reversal_reason(&reason) {
        let errors = refuse(format!("{} ({error})", lang.t("field-reason")));
        return settlement_page(&state, &user, &institution, &claim_id, None, input.reason.clone(), errors, StatusCode::BAD_REQUEST).await;
    }
    match state.reverse(&user.principal(), &ConsoleUser::source(&headers), &institution, &claim_id, &reason).await {
        Ok(_) => {
            Redirect::to(&format!("/console/claims/{}/{}?done=reversed", url_encode(&institution), url_encode(&claim_id))).into_response()
        }
        Err(error) if matches!(error.kind, ErrorKind::Conflict | ErrorKind::BadRequest) => {
            let errors = refuse(app_message(lang, &error));
            settlement_page(&state, &user, &institution, &claim_id, None, input.reason.clone(), errors, StatusCode::CONFLICT).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}
