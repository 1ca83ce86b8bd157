//! People and households: search (ID, name, card number), a person's page (coverage, tier
//! history, contributions, and the forms to change tier, end coverage and record a
//! contribution), a household's members, and enrolment of a household with its members
//! (R-ENR-1, 以户为单位) in one transaction through the application's household enrolment
//! (whole or nothing).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Date;
use yibao_app::{AppError, EnrolInput, ErrorKind, NewHousehold};
use yibao_app::{Coverage, TierChange, TierHistory};
use yibao_app::{PersonQuery, PersonRecord};
use yibao_domain::{HouseholdId, NationalId, PersonCategory, PersonName, RegionCode, Scheme, Tier, parse_date};

use super::contributions::{ContributionForm, ContributionRow, contribution_rows};
use super::i18n::Lang;
use super::page::{
    CLAIMS, CONTRIBUTIONS, Cell, ENROLMENT, FieldErrors, PAGE_ROWS, Page, Pager, Sheet, app_error_page, app_message, csv_download,
    error_page, national_id_error, pager, render, url_encode, xlsx_download,
};
use super::session::ConsoleUser;
use yibao_app::App;

// ---- search ----

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    card: String,
    #[serde(default)]
    page: Option<usize>,
}

/// A person as a row of a list.
#[derive(Debug)]
pub struct PersonRow {
    pub id: String,
    pub name: String,
    pub card_no: String,
    pub household_id: String,
    pub region: String,
    pub scheme: String,
    pub covered_until: String,
}

impl PersonRow {
    fn of(lang: Lang, p: &PersonRecord) -> PersonRow {
        PersonRow {
            id: p.person_id.to_string(),
            name: p.name.to_string(),
            card_no: p.card_no.clone().unwrap_or_default(),
            household_id: p.household_id.to_string(),
            region: p.coverage.region.to_string(),
            scheme: lang.t(&format!("scheme-{}", p.coverage.scheme.as_str())),
            covered_until: p.coverage.coverage_until.map(|d| d.to_string()).unwrap_or_else(|| lang.t("open-ended")),
        }
    }
}

#[derive(Template)]
#[template(path = "console/people/search.html")]
struct SearchTemplate {
    page: Page,
    id: String,
    name: String,
    card: String,
    searched: bool,
    rows: Vec<PersonRow>,
    pager: Pager,
    errors: FieldErrors,
    can_enrol: bool,
    can_export: bool,
}

pub async fn search(State(state): State<App>, user: ConsoleUser, Query(q): Query<SearchQuery>) -> Response {
    let page = match Page::guard(&user, "people", "people-title", "/console/people") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let mut errors = FieldErrors::default();
    let (id, name, card) = (q.id.trim().to_owned(), q.name.trim().to_owned(), q.card.trim().to_owned());
    let searched = !(id.is_empty() && name.is_empty() && card.is_empty());
    let person_id = if id.is_empty() {
        None
    } else {
        match NationalId::parse(&id) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                errors.add("id", national_id_error(lang, &e));
                None
            }
        }
    };
    // The store pages the search: one page of rows read, with how many match in all.
    let page_no = q.page.unwrap_or(1).max(1);
    let (mut rows, mut total) = (Vec::new(), 0);
    if searched && errors.is_empty() {
        let query = PersonQuery {
            person_id,
            name_prefix: (!name.is_empty()).then(|| name.clone()),
            card_no: (!card.is_empty()).then(|| card.clone()),
            household_id: None,
            offset: u32::try_from((page_no - 1).saturating_mul(PAGE_ROWS)).unwrap_or(u32::MAX),
            limit: u32::try_from(PAGE_ROWS).ok(),
        };
        match state.search_persons(&user.principal(), &query).await {
            Ok(found) => {
                rows = found.persons.iter().map(|p| PersonRow::of(lang, p)).collect();
                total = usize::try_from(found.total).unwrap_or(usize::MAX);
            }
            Err(error) => return app_error_page(lang, &error),
        }
    }
    let base = format!("/console/people?id={}&name={}&card={}", url_encode(&id), url_encode(&name), url_encode(&card));
    let pager = pager(lang, page_no, total, |n| format!("{base}&page={n}"));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let can_enrol = user.may(ENROLMENT);
    let can_export = user.may(yibao_app::roles::REGISTER_EXPORT);
    (status, render(&SearchTemplate { page, id, name, card, searched, rows, pager, errors, can_enrol, can_export })).into_response()
}

// ---- one person ----

#[derive(Debug)]
pub struct TierEvent {
    pub requested_on: String,
    pub tier: String,
    /// When the change takes effect (R-ENR-4), or empty if a later request replaced it
    /// before then or the policy has no waiting period for it.
    pub benefits_from: String,
}

/// Each recorded change with the day its benefits start: the engine's rule applied to the
/// history as it stood when the change was asked for.
fn tier_events(state: &App, region: RegionCode, history: &TierHistory) -> Vec<TierEvent> {
    history
        .changes
        .iter()
        .enumerate()
        .map(|(index, change)| {
            let before = TierHistory { initial: history.initial, since: history.since, changes: history.changes[..index].to_vec() };
            let from = state.takes_effect(&before, region, *change).ok();
            let replaced = history.changes.get(index + 1).is_some_and(|next| from.is_some_and(|f| next.requested_on < f));
            TierEvent {
                requested_on: change.requested_on.to_string(),
                tier: change.tier.to_string(),
                benefits_from: from.filter(|_| !replaced).map(|d| d.to_string()).unwrap_or_default(),
            }
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct TierFormValues {
    pub requested_on: String,
    pub tier: String,
}

#[derive(Template)]
#[template(path = "console/people/person.html")]
struct PersonTemplate {
    page: Page,
    person: PersonRow,
    category: String,
    coverage_from: String,
    assistance_group: String,
    supplementary: bool,
    maternity: bool,
    tier_initial: String,
    tier_today: String,
    tier_events: Vec<TierEvent>,
    tiers: Vec<u8>,
    covered: bool,
    notice: Option<String>,
    errors: FieldErrors,
    tier_form: TierFormValues,
    until: String,
    contribution_form: ContributionForm,
    contributions: Vec<ContributionRow>,
    spells: Vec<SpellRow>,
    change_form: CoverageChangeForm,
    /// The day of death, if recorded (empty otherwise).
    died_on: String,
    death_form: String,
    counties: Vec<String>,
    can_enrol: bool,
    can_contribute: bool,
    can_claims: bool,
}

/// What a form submitted on the person's page left to show again.
#[derive(Debug, Default)]
pub struct PersonForms {
    pub notice: Option<String>,
    pub errors: FieldErrors,
    pub tier: TierFormValues,
    pub until: String,
    pub contribution: ContributionForm,
    pub change: CoverageChangeForm,
    pub died_on: String,
}

/// One spell of a person's coverage, as the history table shows it (R-ENR-5).
pub struct SpellRow {
    pub from: String,
    pub until: String,
    pub region: String,
    pub scheme: String,
    pub category: String,
    pub ended_by: String,
}

impl SpellRow {
    fn of(lang: Lang, coverage: &Coverage, ended_by: Option<yibao_app::CoverageChangeKind>) -> SpellRow {
        SpellRow {
            from: coverage.coverage_from.to_string(),
            until: coverage.coverage_until.map(|d| d.to_string()).unwrap_or_else(|| lang.t("open-ended")),
            region: coverage.region.to_string(),
            scheme: lang.t(&format!("scheme-{}", coverage.scheme.as_str())),
            category: lang.t(&format!("category-{}", coverage.category.as_str())),
            ended_by: ended_by.map(|kind| lang.t(&format!("ended-by-{}", kind.as_str()))).unwrap_or_default(),
        }
    }
}

/// The coverage change form's values (R-ENR-5), kept when it is refused.
#[derive(Debug, Default, Deserialize)]
pub struct CoverageChangeForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    pub on: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub household_id: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub tier: String,
}

#[expect(clippy::result_large_err, reason = "the error is the response itself, built once per request and returned at once")]
fn parse_person_id(lang: Lang, text: &str) -> Result<NationalId, Response> {
    NationalId::parse(text).map_err(|e| error_page(lang, StatusCode::NOT_FOUND, "error-not-found", Some(e.to_string())))
}

/// What every write on a person's page checks first: the session's CSRF token, an
/// enrolment role, and a well-formed national ID in the path.
#[expect(clippy::result_large_err, reason = "the error is the response itself, built once per request and returned at once")]
fn enrolment_write(user: &ConsoleUser, csrf: &str, id: &str) -> Result<NationalId, Response> {
    if !user.csrf_ok(csrf) {
        return Err(error_page(user.lang, StatusCode::FORBIDDEN, "error-csrf", None));
    }
    if !user.may(ENROLMENT) {
        return Err(error_page(user.lang, StatusCode::FORBIDDEN, "error-forbidden", None));
    }
    parse_person_id(user.lang, id)
}

/// The tier in force on `on` (R-ENR-4), as the contribution due and settlement read it.
fn tier_in_force(state: &App, coverage: &Coverage, on: Date) -> Option<Tier> {
    state.tier_in_force(coverage, on)
}

/// The person's page, with `forms` (a notice after a change, or a refused form's values
/// and errors). Reads with the user's own region: another county's person is not found.
pub async fn person_page(state: &App, user: &ConsoleUser, id: &str, forms: PersonForms, status: StatusCode) -> Response {
    let lang = user.lang;
    let here = format!("/console/people/{}", url_encode(id));
    let page = match Page::guard(user, "people", "person-title", &here) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let person_id = match parse_person_id(lang, id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let principal = user.principal();
    let person = match state.person(&principal, &person_id).await {
        Ok(person) => person,
        Err(error) => return app_error_page(lang, &error),
    };
    let contributions = match state.contributions_of(&principal, &person_id).await {
        Ok(list) => contribution_rows(lang, &list),
        Err(error) => return app_error_page(lang, &error),
    };
    let coverage = &person.coverage;
    let history: Option<&TierHistory> = coverage.tier_history.as_ref();
    let tier_events = history.map(|h| tier_events(state, coverage.region, h)).unwrap_or_default();
    let today = state.today();
    let covered = coverage.coverage_until.is_none_or(|until| until >= today);
    let mut forms = forms;
    if forms.tier.requested_on.is_empty() {
        forms.tier.requested_on = today.to_string();
    }
    if forms.until.is_empty() {
        forms.until = today.to_string();
    }
    if forms.contribution.period.is_empty() {
        forms.contribution.period = today.year().to_string();
    }
    if forms.change.on.is_empty() {
        forms.change.on = today.to_string();
        forms.change.region = coverage.region.to_string();
        forms.change.household_id = person.household_id.to_string();
        forms.change.scheme = coverage.scheme.as_str().to_owned();
        forms.change.category = coverage.category.as_str().to_owned();
    }
    let mut spells: Vec<SpellRow> = person.history.iter().map(|past| SpellRow::of(lang, &past.coverage, Some(past.ended_by))).collect();
    spells.push(SpellRow::of(lang, coverage, None));
    let template = PersonTemplate {
        page,
        person: PersonRow::of(lang, &person),
        category: lang.t(&format!("category-{}", coverage.category.as_str())),
        coverage_from: coverage.coverage_from.to_string(),
        assistance_group: coverage.assistance_group.map(|g| lang.t(&format!("group-{}", g.as_str()))).unwrap_or_else(|| lang.t("none")),
        supplementary: coverage.supplementary,
        maternity: coverage.maternity,
        tier_initial: history.map(|h| h.initial.to_string()).unwrap_or_default(),
        tier_today: tier_in_force(state, coverage, today).map(|t| t.to_string()).unwrap_or_default(),
        tier_events,
        tiers: state.policy().tiers_for(coverage.scheme).iter().map(|t| t.get()).collect(),
        covered,
        notice: forms.notice,
        errors: forms.errors,
        tier_form: forms.tier,
        until: forms.until,
        contribution_form: forms.contribution,
        contributions,
        spells,
        change_form: forms.change,
        died_on: person.died_on.map(|d| d.to_string()).unwrap_or_default(),
        death_form: forms.died_on,
        counties: state.policy().counties.iter().map(ToString::to_string).collect(),
        can_enrol: user.may(ENROLMENT),
        can_contribute: user.may(CONTRIBUTIONS),
        can_claims: user.may(CLAIMS),
    };
    (status, render(&template)).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct PersonNotice {
    #[serde(default)]
    done: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    from: String,
}

pub async fn show(State(state): State<App>, user: ConsoleUser, Path(id): Path<String>, Query(q): Query<PersonNotice>) -> Response {
    let lang = user.lang;
    // The notice repeats only what the redirect after a change carried; it changes nothing.
    // Only well-formed values are repeated, so a crafted link cannot put words on the page.
    let from = parse_date(&q.from).ok().map(|d| d.to_string());
    let tier = q.tier.parse::<u8>().ok().and_then(|n| Tier::new(n).ok()).map(|t| t.to_string());
    let notice = match (q.done.as_str(), tier, from) {
        ("tier", Some(tier), Some(from)) => Some(lang.t_with("tier-changed", &[("tier", tier), ("from", from)])),
        ("ended", _, Some(until)) => Some(lang.t_with("coverage-ended", &[("until", until)])),
        ("contribution", _, _) => Some(lang.t("contribution-recorded")),
        ("changed", _, Some(from)) => Some(lang.t_with("coverage-changed", &[("from", from)])),
        ("died", _, Some(on)) => Some(lang.t_with("death-recorded", &[("on", on)])),
        _ => None,
    };
    person_page(&state, &user, &id, PersonForms { notice, ..PersonForms::default() }, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
pub struct TierChangeForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    requested_on: String,
    #[serde(default)]
    tier: String,
}

/// Records a tier change (R-ENR-4) through the application's `change_tier`, the use case
/// the API's `POST /api/persons/{id}/tier-changes` calls, and shows when it takes effect.
pub async fn change_tier(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<TierChangeForm>,
) -> Response {
    let lang = user.lang;
    let person_id = match enrolment_write(&user, &input.csrf, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let person = match state.person(&user.principal(), &person_id).await {
        Ok(person) => person,
        Err(error) => return app_error_page(lang, &error),
    };
    let mut errors = FieldErrors::default();
    let requested_on = parse_date(input.requested_on.trim()).map_err(|_| errors.add("requested_on", lang.t("field-bad-date"))).ok();
    let policy = state.policy();
    let tiers = policy.tiers_for(person.coverage.scheme);
    let tier = input
        .tier
        .trim()
        .parse::<u8>()
        .ok()
        .and_then(|n| Tier::new(n).ok())
        .filter(|t| tiers.contains(t))
        .ok_or_else(|| errors.add("tier", lang.t("field-bad-tier")))
        .ok();
    let refuse = |errors: FieldErrors| {
        let forms = PersonForms {
            errors,
            tier: TierFormValues { requested_on: input.requested_on.clone(), tier: input.tier.clone() },
            ..PersonForms::default()
        };
        (forms, StatusCode::BAD_REQUEST)
    };
    let (Some(requested_on), Some(tier)) = (requested_on, tier) else {
        let (forms, status) = refuse(errors);
        return person_page(&state, &user, &id, forms, status).await;
    };
    let change = TierChange { requested_on, tier };
    let from = match state.change_tier(&user.principal(), &ConsoleUser::source(&headers), &person_id, change).await {
        Ok(changed) => changed.benefits_from,
        Err(error) if error.kind == ErrorKind::BadRequest => {
            let mut errors = FieldErrors::default();
            let field = if error.code == "person.bad_tier" { "tier" } else { "requested_on" };
            errors.add(field, app_message(lang, &error));
            let (forms, status) = refuse(errors);
            return person_page(&state, &user, &id, forms, status).await;
        }
        Err(error) => return app_error_page(lang, &error),
    };
    Redirect::to(&format!("/console/people/{}?done=tier&tier={tier}&from={from}", url_encode(&id))).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct EndCoverageForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    until: String,
}

pub async fn end_coverage(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<EndCoverageForm>,
) -> Response {
    close_coverage_form(&state, &user, &headers, &id, &input.csrf, &input.until, yibao_app::CoverageEnd::Until).await
}

/// The two forms of one date that end a coverage (the last covered day, or the day of
/// death): the date checked beside its field, the use case's refusal shown there too.
async fn close_coverage_form(
    state: &App,
    user: &ConsoleUser,
    headers: &HeaderMap,
    id: &str,
    csrf: &str,
    date: &str,
    end: yibao_app::CoverageEnd,
) -> Response {
    let lang = user.lang;
    let person_id = match enrolment_write(user, csrf, id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (field, done) = match end {
        yibao_app::CoverageEnd::Until => ("until", "ended"),
        yibao_app::CoverageEnd::Death => ("died_on", "died"),
    };
    let refuse = |message: String| {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        let mut forms = PersonForms { errors, ..PersonForms::default() };
        match end {
            yibao_app::CoverageEnd::Until => forms.until = date.to_owned(),
            yibao_app::CoverageEnd::Death => forms.died_on = date.to_owned(),
        }
        forms
    };
    let Ok(on) = parse_date(date.trim()) else {
        return person_page(state, user, id, refuse(lang.t("field-bad-date")), StatusCode::BAD_REQUEST).await;
    };
    let (principal, source) = (user.principal(), ConsoleUser::source(headers));
    let closed = match end {
        yibao_app::CoverageEnd::Until => state.end_coverage(&principal, &source, &person_id, on).await,
        yibao_app::CoverageEnd::Death => state.record_death(&principal, &source, &person_id, on).await,
    };
    match closed {
        Ok(_) => Redirect::to(&format!("/console/people/{}?done={done}&from={on}", url_encode(id))).into_response(),
        Err(error) if matches!(error.kind, ErrorKind::BadRequest | ErrorKind::Unprocessable) => {
            person_page(state, user, id, refuse(app_message(lang, &error)), StatusCode::BAD_REQUEST).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

/// Changes a person's coverage from a day (R-ENR-5): the form beside "end coverage".
pub async fn change_coverage(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<CoverageChangeForm>,
) -> Response {
    let lang = user.lang;
    let person_id = match enrolment_write(&user, &input.csrf, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let mut errors = FieldErrors::default();
    let on = parse_date(input.on.trim()).map_err(|_| errors.add("on", lang.t("field-bad-date"))).ok();
    let region = RegionCode::parse(input.region.trim()).map_err(|e| errors.add("region", e.to_string())).ok();
    let household = HouseholdId::parse(&input.household_id).map_err(|e| errors.add("household_id", e.to_string())).ok();
    let scheme = Scheme::parse(&input.scheme);
    if scheme.is_none() {
        errors.add("scheme", lang.t("field-required"));
    }
    let category = PersonCategory::parse(&input.category);
    if category.is_none() {
        errors.add("category", lang.t("field-required"));
    }
    let tier = match input.tier.trim() {
        "" => Ok(None),
        text => text.parse::<u8>().ok().and_then(|n| Tier::new(n).ok()).map(Some).ok_or(()),
    }
    .map_err(|()| errors.add("tier", lang.t("field-required")))
    .ok()
    .flatten();
    let refuse = |errors: FieldErrors, input: CoverageChangeForm| PersonForms { errors, change: input, ..PersonForms::default() };
    let (Some(on), Some(region), Some(household_id), Some(scheme), Some(category)) = (on, region, household, scheme, category) else {
        return person_page(&state, &user, &id, refuse(errors, input), StatusCode::BAD_REQUEST).await;
    };
    let change = yibao_app::CoverageChangeInput { on, region, household_id, scheme, category, tier };
    match state.change_coverage(&user.principal(), &ConsoleUser::source(&headers), &person_id, change).await {
        Ok(_) => Redirect::to(&format!("/console/people/{}?done=changed&from={on}", url_encode(&id))).into_response(),
        Err(error) if matches!(error.kind, ErrorKind::BadRequest | ErrorKind::Unprocessable) || error.code == "household.not_found" => {
            let mut errors = FieldErrors::default();
            errors.add("change", app_message(lang, &error));
            person_page(&state, &user, &id, refuse(errors, input), StatusCode::BAD_REQUEST).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeathForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    died_on: String,
}

/// Records a person's death (R-ENR-5): their coverage ends that day for good.
pub async fn record_death(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<DeathForm>,
) -> Response {
    close_coverage_form(&state, &user, &headers, &id, &input.csrf, &input.died_on, yibao_app::CoverageEnd::Death).await
}

// ---- the register as a download (issue 16 item 6) ----

const REGISTER_COLUMNS: [&str; 11] = [
    "person-id",
    "person-name",
    "person-card",
    "household",
    "region",
    "scheme",
    "category",
    "tier",
    "coverage-from",
    "covered-until",
    "died-on",
];

/// The register of the user's region, one row a person where insured now.
async fn register_rows(state: &App, user: &ConsoleUser) -> Result<Vec<Vec<String>>, Response> {
    Page::guard(user, "people", "people-title", "/console/people")?;
    let lang = user.lang;
    let persons = state.register_export(&user.principal()).await.map_err(|error| app_error_page(lang, &error))?;
    Ok(persons
        .iter()
        .map(|p| {
            let c = &p.coverage;
            let tier = c.tier_history.as_ref().map(|h| h.changes.last().map_or(h.initial, |t| t.tier).to_string()).unwrap_or_default();
            vec![
                p.person_id.to_string(),
                p.name.to_string(),
                p.card_no.clone().unwrap_or_default(),
                p.household_id.to_string(),
                c.region.to_string(),
                lang.t(&format!("scheme-{}", c.scheme.as_str())),
                lang.t(&format!("category-{}", c.category.as_str())),
                tier,
                c.coverage_from.to_string(),
                c.coverage_until.map(|d| d.to_string()).unwrap_or_default(),
                p.died_on.map(|d| d.to_string()).unwrap_or_default(),
            ]
        })
        .collect())
}

pub async fn register_csv(State(state): State<App>, user: ConsoleUser) -> Response {
    match register_rows(&state, &user).await {
        Ok(rows) => csv_download("register.csv", &REGISTER_COLUMNS.iter().map(|k| user.lang.t(k)).collect::<Vec<_>>(), &rows),
        Err(response) => response,
    }
}

pub async fn register_xlsx(State(state): State<App>, user: ConsoleUser) -> Response {
    let lang = user.lang;
    match register_rows(&state, &user).await {
        Ok(rows) => {
            let sheet: Sheet = (lang.t("people-title"), REGISTER_COLUMNS.iter().map(|k| lang.t(k)).collect(), vec![Cell::Text; 11], rows);
            xlsx_download(lang, "register.xlsx", vec![sheet])
        }
        Err(response) => response,
    }
}

// ---- households ----

#[derive(Template)]
#[template(path = "console/people/household.html")]
struct HouseholdTemplate {
    page: Page,
    household_id: String,
    rows: Vec<PersonRow>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HouseholdNotice {
    #[serde(default)]
    enrolled: Option<usize>,
}

pub async fn household(State(state): State<App>, user: ConsoleUser, Path(id): Path<String>, Query(q): Query<HouseholdNotice>) -> Response {
    let lang = user.lang;
    let page = match Page::guard(&user, "people", "household-title", &format!("/console/households/{}", url_encode(&id))) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let query = PersonQuery { household_id: Some(id.clone()), ..PersonQuery::default() };
    let members = match state.search_persons(&user.principal(), &query).await {
        Ok(page) => page.persons,
        Err(error) => return app_error_page(lang, &error),
    };
    // A household outside the user's region has no members the user can see: not found.
    if members.is_empty() {
        return error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    }
    let notice = q.enrolled.map(|n| lang.t_with("household-enrolled", &[("count", n.to_string())]));
    let rows = members.iter().map(|p| PersonRow::of(lang, p)).collect();
    render(&HouseholdTemplate { page, household_id: id, rows, notice })
}

/// How many member rows the enrolment form offers (a plain form, no script to add rows).
pub const MEMBER_ROWS: usize = 4;

#[derive(Debug, Default, Clone)]
pub struct MemberValues {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub card: String,
    pub supplementary: bool,
}

#[derive(Template)]
#[template(path = "console/people/enrol.html")]
struct EnrolTemplate {
    page: Page,
    household_id: String,
    region: String,
    address: String,
    tier: String,
    coverage_from: String,
    tiers: Vec<u8>,
    members: Vec<MemberValues>,
    errors: FieldErrors,
}

pub async fn enrol_form(State(state): State<App>, user: ConsoleUser) -> Response {
    let page = match Page::guard(&user, "enrol", "enrol-title", "/console/households/new") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let today = state.today();
    let first_of_year = Date::from_ordinal_date(today.year(), 1).unwrap_or(today);
    render(&EnrolTemplate {
        page,
        household_id: String::new(),
        region: user.region.to_string(),
        address: String::new(),
        tier: String::new(),
        coverage_from: first_of_year.to_string(),
        tiers: state.policy().tiers_for(Scheme::Resident).iter().map(|t| t.get()).collect(),
        members: (0..MEMBER_ROWS).map(|index| MemberValues { index, ..MemberValues::default() }).collect(),
        errors: FieldErrors::default(),
    })
}

/// The enrolment form as submitted: household fields and `m{n}_…` member fields.
#[derive(Debug, Default, Deserialize)]
pub struct EnrolForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    household_id: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    coverage_from: String,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

impl EnrolForm {
    fn members(&self) -> Vec<MemberValues> {
        let field = |index: usize, name: &str| self.rest.get(&format!("m{index}_{name}")).map(|v| v.trim().to_owned()).unwrap_or_default();
        (0..MEMBER_ROWS)
            .map(|index| MemberValues {
                index,
                id: field(index, "id"),
                name: field(index, "name"),
                card: field(index, "card"),
                supplementary: !field(index, "supplementary").is_empty(),
            })
            .collect()
    }
}

/// The household and its members to enrol, each a resident of the resident scheme. The form
/// is checked field by field first (region in the city and in scope, tier of the city, IDs,
/// names, cards), every error next to its field; the application checks the rest.
fn check_enrolment(
    state: &App,
    user: &ConsoleUser,
    input: &EnrolForm,
    errors: &mut FieldErrors,
) -> Option<(NewHousehold, Vec<EnrolInput>)> {
    let lang = user.lang;
    // The register's own rules (HouseholdId, PersonName): the form says which field broke them.
    let household_id = HouseholdId::parse(&input.household_id).map_err(|_| errors.add("household_id", lang.t("field-household-id"))).ok();
    let region = match RegionCode::parse(input.region.trim()) {
        Ok(region) if state.policy().region.contains(region) && user.region.contains(region) => Some(region),
        Ok(_) => {
            errors.add("region", lang.t("field-region-outside"));
            None
        }
        Err(_) => {
            errors.add("region", lang.t("field-bad-region"));
            None
        }
    };
    // The address by the register's one rule (`parse_address`), its message from the catalogue.
    let address = match yibao_domain::parse_address(&input.address) {
        Ok(address) => address,
        Err(_) if input.address.trim().is_empty() => {
            errors.add("address", lang.t("field-required"));
            String::new()
        }
        Err(e) => {
            errors.add("address", app_message(lang, &yibao_app::AppError::from(e)));
            String::new()
        }
    };
    let coverage_from = parse_date(input.coverage_from.trim()).map_err(|_| errors.add("coverage_from", lang.t("field-bad-date"))).ok();
    let policy = state.policy();
    let tiers = policy.tiers_for(Scheme::Resident);
    let tier = if tiers.is_empty() {
        None
    } else {
        let chosen = input.tier.trim().parse::<u8>().ok().and_then(|n| Tier::new(n).ok()).filter(|t| tiers.contains(t));
        if chosen.is_none() {
            errors.add("tier", lang.t("field-bad-tier"));
        }
        chosen
    };
    let mut members = Vec::new();
    let mut seen = Vec::new();
    for member in input.members() {
        let blank = member.id.is_empty() && member.name.is_empty() && member.card.is_empty();
        if blank && member.index > 0 {
            continue;
        }
        let prefix = format!("m{}_", member.index);
        let id = match NationalId::parse(&member.id) {
            Ok(id) if seen.contains(&id) => {
                errors.add(format!("{prefix}id"), lang.t("field-duplicate-id"));
                None
            }
            Ok(id) => {
                seen.push(id);
                Some(id)
            }
            Err(e) => {
                let message = if member.id.is_empty() { lang.t("field-required") } else { national_id_error(lang, &e) };
                errors.add(format!("{prefix}id"), message);
                None
            }
        };
        let name = PersonName::parse(&member.name).map_err(|_| errors.add(format!("{prefix}name"), lang.t("field-name"))).ok();
        if member.card.chars().count() > 32 {
            errors.add(format!("{prefix}card"), lang.t("field-card"));
        }
        if let (Some(id), Some(name), Some(household_id), Some(region), Some(from)) = (id, name, &household_id, region, coverage_from) {
            members.push(EnrolInput {
                person_id: id,
                name,
                card_no: (!member.card.is_empty()).then(|| member.card.clone()),
                household_id: household_id.clone(),
                region,
                scheme: Scheme::Resident,
                category: PersonCategory::Resident,
                tier,
                coverage_from: from,
                assistance_group: None,
                supplementary: member.supplementary,
                maternity: false,
                // A household enrols residents: the employees' top-ups are not theirs.
                civil_servant: false,
                enterprise_supplementary: false,
                certified_chronic_diseases: Vec::new(),
            });
        }
    }
    let (region, household_id) = (region?, household_id?);
    errors.is_empty().then_some((NewHousehold { household_id, region, address }, members))
}

pub async fn enrol(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, Form(input): Form<EnrolForm>) -> Response {
    let lang = user.lang;
    if !user.csrf_ok(&input.csrf) {
        return error_page(lang, StatusCode::FORBIDDEN, "error-csrf", None);
    }
    let page = match Page::guard(&user, "enrol", "enrol-title", "/console/households/new") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let mut errors = FieldErrors::default();
    if let Some((household, members)) = check_enrolment(&state, &user, &input, &mut errors) {
        let count = members.len();
        let household_id = household.household_id.clone();
        match state.enrol_household(&user.principal(), &ConsoleUser::source(&headers), household, members).await {
            Ok(_) => {
                return Redirect::to(&format!("/console/households/{}?enrolled={count}", url_encode(&household_id))).into_response();
            }
            Err(error) if error.kind == ErrorKind::Internal => return app_error_page(lang, &error),
            Err(error) => attach_app_error(lang, &input, &error, &mut errors),
        }
    }
    let template = EnrolTemplate {
        page,
        household_id: input.household_id.clone(),
        region: input.region.clone(),
        address: input.address.clone(),
        tier: input.tier.clone(),
        coverage_from: input.coverage_from.clone(),
        tiers: state.policy().tiers_for(Scheme::Resident).iter().map(|t| t.get()).collect(),
        members: input.members(),
        errors,
    };
    (StatusCode::BAD_REQUEST, render(&template)).into_response()
}

/// Puts a refusal next to the field it concerns: an enrolled person's ID (the message names
/// the person), an existing household's ID, the region, the tier, the start date, otherwise
/// at the top of the form.
fn attach_app_error(lang: Lang, input: &EnrolForm, error: &AppError, errors: &mut FieldErrors) {
    let message = app_message(lang, error);
    match error.code.as_ref() {
        "person.already_enrolled" => {
            let named = error.message.to_ascii_uppercase();
            let index =
                input.members().iter().find(|m| !m.id.is_empty() && named.contains(&m.id.to_ascii_uppercase())).map_or(0, |m| m.index);
            errors.add(format!("m{index}_id"), message);
        }
        "household.exists" => errors.add("household_id", message),
        "access.outside_region" | "region.unknown" | "person.bad_region" => errors.add("region", message),
        "person.bad_tier" => errors.add("tier", message),
        "person.bad_date" => errors.add("coverage_from", message),
        _ => errors.add("form", message),
    }
}
