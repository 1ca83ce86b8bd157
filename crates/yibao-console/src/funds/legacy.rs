//! Legacy deficits (历史缺口, R-FND-6): when city pooling was made real, a county whose
//! accumulated surplus could not cover its spending first drew on what it had paid into
//! the adjustment fund; the rest its finance repays to the city special account at once,
//! in instalments (at least a share of the gap in each listed year), or the city withholds
//! it (代扣). The page lists what each county still owes on a day, its instalments with
//! due dates and cumulative minimums, and flags a missed instalment prominently; city fund
//! staff establish a deficit once and book repayments through two forms (POST, then the
//! list, PRG). A county's staff read their own county's deficit only (R-GEO-2).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::AppError;
use yibao_app::books::FundScheme;
use yibao_app::books::{LegacyRepayment, LegacyRequest, LegacyView, TermsIn};
use yibao_domain::{Fen, RatioBp, RegionCode, RegionLevel};

use super::super::i18n::Lang;
use super::super::session::ConsoleUser;
use super::budgets::budget_schemes;
use super::receipts::Choice;
use super::{fund_name, note_in};
use crate::page::{FUND_WRITERS, FieldErrors, Page, app_error_page, app_message, error_page, render, yuan};
use yibao_app::App;

const HERE: &str = "/console/funds/legacy";

#[derive(Debug)]
pub struct InstalmentRow {
    pub due: String,
    pub minimum_yuan: String,
    pub cumulative_yuan: String,
    pub missed: bool,
}

#[derive(Debug)]
pub struct DeficitView {
    pub fund: String,
    pub scheme: String,
    pub county: String,
    pub opening_gap_yuan: String,
    pub offset_yuan: String,
    pub gap_yuan: String,
    pub paid_yuan: String,
    pub owed_yuan: String,
    pub as_of: String,
    pub instalments: Vec<InstalmentRow>,
    /// `(due, shortfall)` of each missed instalment, in yuan.
    pub missed: Vec<(String, String)>,
    pub next_due: Option<(String, String)>,
    pub notes: Vec<String>,
}

fn deficit_view(lang: Lang, view: &LegacyView) -> DeficitView {
    DeficitView {
        fund: fund_name(lang, &view.fund),
        scheme: view.fund.split('@').next().unwrap_or(&view.fund).to_owned(),
        county: view.county.clone(),
        opening_gap_yuan: yuan(view.opening_gap_fen),
        offset_yuan: yuan(view.offset_fen),
        gap_yuan: yuan(view.gap_fen),
        paid_yuan: yuan(view.paid_fen),
        owed_yuan: yuan(view.owed_fen),
        as_of: view.as_of.clone(),
        instalments: view
            .instalments
            .iter()
            .map(|(due, minimum, cumulative)| InstalmentRow {
                due: due.clone(),
                minimum_yuan: yuan(*minimum),
                cumulative_yuan: yuan(*cumulative),
                missed: view.missed.iter().any(|(d, _)| d == due),
            })
            .collect(),
        missed: view.missed.iter().map(|(due, shortfall)| (due.clone(), yuan(*shortfall))).collect(),
        next_due: view.next_due.as_ref().map(|(due, cumulative)| (due.clone(), yuan(*cumulative))),
        notes: view.notes.iter().map(|n| note_in(lang, n)).collect(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EstablishForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub county: String,
    #[serde(default)]
    pub established_on: String,
    #[serde(default)]
    pub opening_gap: String,
    /// Empty: what the books say the county paid into the adjustment fund.
    #[serde(default)]
    pub paid_in: String,
    /// `at-once`, `instalments` or `withheld`.
    #[serde(default)]
    pub terms: String,
    /// The due date (at once), the end (instalments) or the day withheld.
    #[serde(default)]
    pub terms_date: String,
    /// Instalments' minimum share per year: `2021:30%, 2022:30%`.
    #[serde(default)]
    pub minimums: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct RepaymentForm {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub county: String,
    #[serde(default)]
    pub on: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub reference: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct LegacyQuery {
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    done: String,
}

#[derive(Template)]
#[template(path = "console/funds/legacy.html")]
struct LegacyTemplate {
    page: Page,
    as_of: String,
    deficits: Vec<DeficitView>,
    may_act: bool,
    done: String,
    schemes: Vec<Choice>,
    term_kinds: Vec<Choice>,
    establish: EstablishForm,
    repayment: RepaymentForm,
    errors: FieldErrors,
}

const TERM_KINDS: [&str; 3] = ["instalments", "at-once", "withheld"];

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

async fn legacy_page(
    state: &App,
    user: &ConsoleUser,
    query: &LegacyQuery,
    establish: EstablishForm,
    repayment: RepaymentForm,
    mut errors: FieldErrors,
) -> Response {
    let page = match Page::guard(user, "legacy", "legacy-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let as_of_text = if query.as_of.trim().is_empty() { today() } else { query.as_of.trim().to_owned() };
    let deficits = match yibao_domain::parse_date(&as_of_text) {
        Ok(as_of) => match state.legacy_deficits(&user.principal(), Some(as_of)).await {
            Ok(found) => found.iter().map(|v| deficit_view(lang, v)).collect(),
            Err(error) => return app_error_page(lang, &error),
        },
        Err(_) => {
            errors.add("as_of", lang.t("field-bad-date"));
            Vec::new()
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = LegacyTemplate {
        page,
        as_of: as_of_text,
        deficits,
        // Legacy deficits are settled between the city and its counties (R-FND-6).
        may_act: user.may(FUND_WRITERS) && user.region.level() == RegionLevel::City,
        done: query.done.clone(),
        schemes: budget_schemes(lang),
        term_kinds: TERM_KINDS.iter().map(|k| Choice { value: k, label: lang.t(&format!("legacy-terms-{k}")) }).collect(),
        establish: EstablishForm {
            terms: if establish.terms.is_empty() { "instalments".into() } else { establish.terms },
            established_on: if establish.established_on.is_empty() { today() } else { establish.established_on },
            ..establish
        },
        repayment: RepaymentForm { on: if repayment.on.is_empty() { today() } else { repayment.on }, ..repayment },
        errors,
    };
    (status, render(&template)).into_response()
}

pub async fn show(State(state): State<App>, user: ConsoleUser, Query(query): Query<LegacyQuery>) -> Response {
    legacy_page(&state, &user, &query, EstablishForm::default(), RepaymentForm::default(), FieldErrors::default()).await
}

/// `2021:30%, 2022:30%` as `(year, share_bp)` pairs; `None` if any part is not one.
fn minimums(text: &str) -> Option<Vec<(i32, u32)>> {
    text.split([',', '，', ';', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (year, share) = part.split_once([':', '：'])?;
            let year = year.trim().parse::<i32>().ok().filter(|y| (2000..=2100).contains(y))?;
            let share = RatioBp::parse_percent(share.trim()).ok().filter(|s| s.get() <= 10_000)?;
            Some((year, share.get()))
        })
        .collect()
}

fn date_field(lang: Lang, field: &str, text: &str, errors: &mut FieldErrors) -> Option<String> {
    match yibao_domain::parse_date(text.trim()) {
        Ok(date) => Some(date.to_string()),
        Err(_) => {
            errors.add(field, lang.t("field-bad-date"));
            None
        }
    }
}

fn county_field(lang: Lang, user: &ConsoleUser, field: &str, text: &str, errors: &mut FieldErrors) -> Option<RegionCode> {
    match RegionCode::parse(text.trim()) {
        Ok(county) if county.level() != RegionLevel::County => {
            errors.add(field, lang.t("field-not-a-county"));
            None
        }
        Ok(county) if !user.region.contains(county) => {
            errors.add(field, lang.t("field-region-outside"));
            None
        }
        Ok(county) => Some(county),
        Err(_) => {
            errors.add(field, lang.t("field-bad-region"));
            None
        }
    }
}

fn request_of(lang: Lang, user: &ConsoleUser, form: &EstablishForm, errors: &mut FieldErrors) -> Option<LegacyRequest> {
    let scheme = FundScheme::parse(form.scheme.trim()).filter(|s| *s != FundScheme::MunicipalAdjustment);
    if scheme.is_none() {
        errors.add("scheme", lang.t("field-bad-fund"));
    }
    let county = county_field(lang, user, "county", &form.county, errors);
    let established_on = date_field(lang, "established_on", &form.established_on, errors);
    let opening_gap = Fen::parse_yuan(form.opening_gap.trim()).ok().filter(|f| f.get() > 0);
    if opening_gap.is_none() {
        errors.add("opening_gap", lang.t("field-bad-positive-amount"));
    }
    let paid_in = match form.paid_in.trim() {
        "" => Some(None),
        text => Fen::parse_yuan(text).ok().filter(|f| !f.is_negative()).map(|f| Some(f.get())),
    };
    if paid_in.is_none() {
        errors.add("paid_in", lang.t("field-bad-amount"));
    }
    let terms_date = date_field(lang, "terms_date", &form.terms_date, errors);
    let terms = match (form.terms.trim(), terms_date) {
        ("at-once", Some(due)) => Some(TermsIn::AtOnce { due }),
        ("withheld", Some(on)) => Some(TermsIn::Withheld { on }),
        ("instalments", Some(end)) => match minimums(&form.minimums) {
            Some(minimum_per_year) => Some(TermsIn::Instalments { end, minimum_per_year }),
            None => {
                errors.add("minimums", lang.t("field-bad-minimums"));
                None
            }
        },
        ("at-once" | "withheld" | "instalments", None) => None,
        _ => {
            errors.add("terms", lang.t("field-bad-terms"));
            None
        }
    };
    let (Some(scheme), Some(county), Some(established_on), Some(opening_gap), Some(paid_in), Some(terms)) =
        (scheme, county, established_on, opening_gap, paid_in, terms)
    else {
        return None;
    };
    Some(LegacyRequest {
        scheme: scheme.as_str().to_owned(),
        county: county.to_string(),
        established_on,
        opening_gap_fen: opening_gap.get(),
        paid_into_adjustment_fen: paid_in,
        terms,
    })
}

/// Refuses a POST that is not a city fund writer's, or has no valid CSRF token.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
fn may_act(user: &ConsoleUser, csrf: &str) -> Result<(), Response> {
    crate::page::may_post(user, csrf, "legacy", "legacy-title", HERE, FUND_WRITERS)?;
    if user.region.level() != RegionLevel::City {
        return Err(error_page(user.lang, StatusCode::FORBIDDEN, "error-forbidden", None));
    }
    Ok(())
}

/// A refusal the accountant can act on (the rules refuse it, a malformed or duplicate
/// request, a county outside the region), shown by the form; anything else is the error page.
fn is_refusal(error: &AppError) -> bool {
    crate::page::is_form_refusal(error) || error.code == "access.outside_region"
}

/// Establishes a county's legacy deficit: on success to the list; a refusal next to the county.
pub async fn establish(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<EstablishForm>) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let Some(request) = request_of(lang, &user, &form, &mut errors) else {
        return legacy_page(&state, &user, &LegacyQuery::default(), form, RepaymentForm::default(), errors).await;
    };
    match state.establish_legacy_deficit(&user.principal(), &ConsoleUser::source(&headers), request).await {
        Ok(_) => Redirect::to(&format!("{HERE}?done=established")).into_response(),
        Err(error) if is_refusal(&error) => {
            errors.add("county", app_message(lang, &error));
            legacy_page(&state, &user, &LegacyQuery::default(), form, RepaymentForm::default(), errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

/// Books a repayment (or the city's withholding): on success to the list; a refusal next
/// to the amount.
pub async fn repay(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(form): Form<RepaymentForm>) -> Response {
    if let Err(response) = may_act(&user, &form.csrf) {
        return response;
    }
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let scheme = FundScheme::parse(form.scheme.trim()).filter(|s| *s != FundScheme::MunicipalAdjustment);
    if scheme.is_none() {
        errors.add("repay_scheme", lang.t("field-bad-fund"));
    }
    let county = county_field(lang, &user, "repay_county", &form.county, &mut errors);
    let on = yibao_domain::parse_date(form.on.trim()).ok();
    if on.is_none() {
        errors.add("repay_on", lang.t("field-bad-date"));
    }
    let amount = Fen::parse_yuan(form.amount.trim()).ok().filter(|f| f.get() > 0);
    if amount.is_none() {
        errors.add("repay_amount", lang.t("field-bad-positive-amount"));
    }
    let reference = form.reference.trim().to_owned();
    if !((1..=40).contains(&reference.len()) && reference.bytes().all(|b| b.is_ascii_graphic() && b != b'/')) {
        errors.add("repay_reference", lang.t("field-bad-reference"));
    }
    let (Some(scheme), Some(county), Some(on), Some(amount_fen), true) = (scheme, county, on, amount, errors.is_empty()) else {
        return legacy_page(&state, &user, &LegacyQuery::default(), EstablishForm::default(), form, errors).await;
    };
    let repayment = LegacyRepayment { scheme, county, on, amount_fen, reference };
    match state.record_legacy_repayment(&user.principal(), &ConsoleUser::source(&headers), repayment).await {
        Ok(_) => Redirect::to(&format!("{HERE}?done=repaid")).into_response(),
        Err(error) if is_refusal(&error) => {
            // A repayment dated after today is the date's fault; the rest concern the amount.
            let field = if error.code == "fund.bad_date" { "repay_on" } else { "repay_amount" };
            errors.add(field, app_message(lang, &error));
            legacy_page(&state, &user, &LegacyQuery::default(), EstablishForm::default(), form, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_shares_are_read_per_year() {
        assert_eq!(minimums("2021:30%, 2022：30%"), Some(vec![(2021, 3_000), (2022, 3_000)]));
        assert_eq!(minimums(""), Some(vec![]));
        assert_eq!(minimums("2021=30%"), None);
        assert_eq!(minimums("2021:130%"), None);
    }
}
