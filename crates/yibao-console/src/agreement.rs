//! One designated institution's register (issue 15, R-INS-1, R-INS-2): its agreement years,
//! suspensions, inspections and insurance physicians, with a form for each change. The
//! city's administrator signs a year's terms, assesses, suspends or terminates, reinstates
//! and registers physicians; claims officers (医疗费用审核) and administrators record
//! inspections and physicians' penalties, in their own region. Each form is one use
//! case (`App::change_agreement`, `App::register_physician`, `App::penalize_physician`),
//! POST then redirect back here; a refusal is shown with its message.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::App;
use yibao_app::payment::{AgreementInput, PenaltyInput, PhysicianInput};
use yibao_domain::{Fen, InstitutionCode, PersonName, PhysicianCode, RatioBp};

use super::page::{ADMINISTRATORS, Page, REVERSERS, app_error_page, error_page, may_post, render, url_encode};
use super::session::ConsoleUser;

/// The section's page, for a refused form's guard.
const HERE: &str = "/console/institutions";

/// A line of a table, its cells as shown.
type Cells = Vec<String>;

#[derive(Template)]
#[template(path = "console/admin/institution.html")]
struct InstitutionTemplate {
    page: Page,
    code: String,
    facts: Vec<(String, String)>,
    /// Applications for designation: applied, services, evaluation, negotiation.
    applications: Vec<Cells>,
    years: Vec<Cells>,
    suspensions: Vec<Cells>,
    inspections: Vec<Cells>,
    physicians: Vec<(String, Cells)>,
    notice: Option<String>,
    this_year: i32,
    today: String,
    /// The administrator's forms (sign, assess, suspend, reinstate, register a physician);
    /// a claims officer records inspections and penalties only.
    may_administer: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

fn yes(lang: super::i18n::Lang, flag: bool) -> String {
    lang.t(if flag { "yes" } else { "no" })
}

/// The institution's page.
pub async fn show(State(state): State<App>, user: ConsoleUser, Path(code): Path<String>, Query(q): Query<Done>) -> Response {
    let here = format!("/console/institutions/{}", url_encode(&code));
    let page = match Page::guard(&user, "institutions", "agreement-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let list = match state.institutions(&user.principal()).await {
        Ok(list) => list,
        Err(error) => return app_error_page(lang, &error),
    };
    let Some(institution) = list.into_iter().find(|i| i.code.as_str() == code) else {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let physicians = match state.physicians_of(&user.principal(), &code).await {
        Ok(list) => list,
        Err(error) => return app_error_page(lang, &error),
    };
    let mut page = page;
    page.title = format!("{} — {} {}", page.title, institution.code, institution.name);
    let book = &institution.agreement;
    let facts = vec![
        (lang.t("institution"), institution.name.clone()),
        (lang.t("region"), institution.region.to_string()),
        (lang.t("level"), lang.t(&format!("level-{}", institution.level.as_str()))),
    ];
    let applications = book
        .applications
        .iter()
        .map(|a| {
            let evaluation = a.evaluation.as_ref().map_or_else(
                || "—".into(),
                |e| {
                    format!(
                        "{} · {} · {} · {}",
                        e.date,
                        RatioBp::new(e.score_bp),
                        lang.t(if e.passed { "agreement-passed" } else { "agreement-failed" }),
                        e.findings
                    )
                },
            );
            let negotiation = a.negotiation.as_ref().map_or_else(
                || "—".into(),
                |n| format!("{} · {} · {}", n.date, lang.t(if n.agreed { "agreement-agreed" } else { "agreement-not-agreed" }), n.outcome),
            );
            vec![a.seq.to_string(), a.applied_on.to_string(), a.services.clone(), evaluation, negotiation]
        })
        .collect();
    let years = book
        .years
        .iter()
        .map(|y| {
            vec![
                y.year.to_string(),
                yes(lang, y.points),
                yes(lang, y.per_diem),
                y.capitation_enrolled.map_or_else(|| "—".into(), |n| n.to_string()),
                y.global_budget.map_or_else(|| "—".into(), |b| b.to_string()),
                yes(lang, y.physicians_required),
                y.assessment_bp.map_or_else(|| "—".into(), |bp| RatioBp::new(bp).to_string()),
                y.signed_on.to_string(),
            ]
        })
        .collect();
    let suspensions = book
        .suspensions
        .iter()
        .map(|s| {
            vec![
                s.from.to_string(),
                s.until.map_or_else(|| "—".into(), |d| d.to_string()),
                lang.t(if s.terminated { "agreement-terminated" } else { "agreement-suspended" }),
                s.reason.clone(),
            ]
        })
        .collect();
    let inspections =
        book.inspections.iter().map(|i| vec![i.seq.to_string(), i.date.to_string(), i.findings.clone(), i.deduction.to_string()]).collect();
    let today = state.today();
    let physicians = physicians
        .iter()
        .map(|p| {
            let state = match p.book.suspended_on(today) {
                Some(s) if s.terminated => lang.t("agreement-terminated"),
                Some(_) => lang.t("agreement-suspended"),
                None => lang.t("active"),
            };
            (
                p.code.to_string(),
                vec![
                    p.code.to_string(),
                    p.name.to_string(),
                    p.registered_on.to_string(),
                    p.book.points_in(today.year()).to_string(),
                    state,
                ],
            )
        })
        .collect();
    let notice = (!q.done.is_empty()).then(|| lang.t("admin-changed"));
    render(&InstitutionTemplate {
        page,
        code: institution.code.to_string(),
        facts,
        applications,
        years,
        suspensions,
        inspections,
        physicians,
        notice,
        this_year: today.year(),
        today: today.to_string(),
        may_administer: user.may(ADMINISTRATORS),
    })
}

/// Every agreement form's fields (each form sends its own).
#[derive(Debug, Default, Deserialize)]
pub struct AgreementForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    change: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    points: Option<String>,
    #[serde(default)]
    per_diem: Option<String>,
    #[serde(default)]
    physicians_required: Option<String>,
    #[serde(default)]
    capitation_enrolled: String,
    #[serde(default)]
    global_budget: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    deduction: String,
    /// Evaluation: passed; negotiation: agreed.
    #[serde(default)]
    accepted: Option<String>,
}

fn refused(lang: super::i18n::Lang, field: &str) -> Response {
    error_page(lang, StatusCode::UNPROCESSABLE_ENTITY, "error-refused", Some(format!("{}: {field}", lang.t("agreement-bad-field"))))
}

/// One agreement change from its form.
pub async fn change(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<AgreementForm>,
) -> Response {
    let lang = user.lang;
    let allowed = if form.change == "inspect" { REVERSERS } else { ADMINISTRATORS };
    if let Err(response) = may_post(&user, &form.csrf, "institutions", "agreement-title", HERE, allowed) {
        return response;
    }
    let date = || yibao_domain::parse_date(form.date.trim()).ok();
    let year = || form.year.trim().parse::<i32>().ok();
    let input = match form.change.as_str() {
        "sign" => {
            let Some(year) = year() else { return refused(lang, "year") };
            let capitation_enrolled = match form.capitation_enrolled.trim() {
                "" => None,
                text => match text.parse::<u32>() {
                    Ok(n) => Some(n),
                    Err(_) => return refused(lang, "capitation_enrolled"),
                },
            };
            let global_budget = match form.global_budget.trim() {
                "" => None,
                text => match Fen::parse_yuan(text) {
                    Ok(fen) => Some(fen),
                    Err(_) => return refused(lang, "global_budget"),
                },
            };
            AgreementInput::Sign {
                year,
                points: form.points.is_some(),
                per_diem: form.per_diem.is_some(),
                capitation_enrolled,
                global_budget,
                physicians_required: form.physicians_required.is_some(),
            }
        }
        "assess" => match (year(), RatioBp::parse_percent(form.score.trim())) {
            (Some(year), Ok(score)) => AgreementInput::Assess { year, score },
            _ => return refused(lang, "score"),
        },
        "suspend" | "terminate" => match date() {
            Some(from) => AgreementInput::Suspend { from, reason: form.reason.clone(), terminated: form.change == "terminate" },
            None => return refused(lang, "date"),
        },
        "reinstate" => match date() {
            Some(on) => AgreementInput::Reinstate { on },
            None => return refused(lang, "date"),
        },
        "inspect" => match (date(), Fen::parse_yuan(if form.deduction.trim().is_empty() { "0" } else { form.deduction.trim() })) {
            (Some(date), Ok(deduction)) => AgreementInput::Inspect { date, findings: form.reason.clone(), deduction },
            _ => return refused(lang, "deduction"),
        },
        "apply" => match date() {
            Some(date) => AgreementInput::Apply { date, services: form.reason.clone() },
            None => return refused(lang, "date"),
        },
        "evaluate" => match (date(), RatioBp::parse_percent(form.score.trim())) {
            (Some(date), Ok(score)) => {
                AgreementInput::Evaluate { date, score, passed: form.accepted.is_some(), findings: form.reason.clone() }
            }
            (None, _) => return refused(lang, "date"),
            (_, Err(_)) => return refused(lang, "score"),
        },
        "negotiate" => match date() {
            Some(date) => AgreementInput::Negotiate { date, agreed: form.accepted.is_some(), outcome: form.reason.clone() },
            None => return refused(lang, "date"),
        },
        _ => return refused(lang, "change"),
    };
    match state.change_agreement(&user.principal(), &ConsoleUser::source(&headers), &code, input).await {
        Ok(_) => Redirect::to(&format!("/console/institutions/{}?done=1", url_encode(&code))).into_response(),
        Err(error) => app_error_page(lang, &error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PhysicianForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    from: String,
}

/// Registers a physician under the institution.
pub async fn register_physician(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<PhysicianForm>,
) -> Response {
    let lang = user.lang;
    if let Err(response) = may_post(&user, &form.csrf, "institutions", "agreement-title", HERE, ADMINISTRATORS) {
        return response;
    }
    let (Ok(institution), Ok(physician), Ok(name)) =
        (InstitutionCode::parse(&code), PhysicianCode::parse(form.code.trim()), PersonName::parse(&form.name))
    else {
        return refused(lang, "code");
    };
    let from = match form.from.trim() {
        "" => None,
        text => match yibao_domain::parse_date(text) {
            Ok(date) => Some(date),
            Err(_) => return refused(lang, "from"),
        },
    };
    let input = PhysicianInput { code: physician, institution, name, from };
    match state.register_physician(&user.principal(), &ConsoleUser::source(&headers), input).await {
        Ok(_) => Redirect::to(&format!("/console/institutions/{}?done=1", url_encode(&code))).into_response(),
        Err(error) => app_error_page(lang, &error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PenaltyForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    points: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    months: String,
    /// The confirmed review finding the points rest on (issue 18), when they rest on one:
    /// its institution (the page's), claim and number.
    #[serde(default)]
    finding_institution: String,
    #[serde(default)]
    finding_claim: String,
    #[serde(default)]
    finding_no: String,
}

/// Records a penalty against a physician, back to its institution's page.
pub async fn penalize(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<PenaltyForm>,
) -> Response {
    let lang = user.lang;
    if let Err(response) = may_post(&user, &form.csrf, "institutions", "agreement-title", HERE, REVERSERS) {
        return response;
    }
    let (Ok(date), Ok(points)) = (yibao_domain::parse_date(form.date.trim()), form.points.trim().parse::<u8>()) else {
        return refused(lang, "points");
    };
    let suspension_months = match form.months.trim() {
        "" => None,
        text => match text.parse::<u8>() {
            Ok(n) => Some(n),
            Err(_) => return refused(lang, "months"),
        },
    };
    let finding = match (form.finding_claim.trim(), form.finding_no.trim()) {
        ("", "") => None,
        (claim, number) => match number.parse::<u32>() {
            Ok(number) if !claim.is_empty() => Some((form.finding_institution.trim().to_owned(), claim.to_owned(), number)),
            _ => return refused(lang, "finding"),
        },
    };
    let input = PenaltyInput { date, points, reason: form.reason.clone(), suspension_months, finding };
    match state.penalize_physician(&user.principal(), &ConsoleUser::source(&headers), &code, input).await {
        Ok(record) => Redirect::to(&format!("/console/institutions/{}?done=1", url_encode(record.institution.as_str()))).into_response(),
        Err(error) => app_error_page(lang, &error),
    }
}
