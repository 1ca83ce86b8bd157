//! Policy: the parameters in force for a region, scheme and tier on a chosen date, each
//! with its citation and first day (R-POL: every value cites its source), and the
//! differences between two dates. Read from the pack the server runs with, through the
//! same dated lookup the engine uses (`Policy::lookup`).
//!
//! Policy packs are public documents, not personal data: any region of the city may be
//! chosen here, unlike the store's regional data (R-GEO-2).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::Date;
use yibao_app::policy::{Dim, PARAMS, ParamSpec, Policy, Value, ValueKind};
use yibao_domain::{InstitutionLevel, PersonCategory, Place, RegionCode, Scheme, Tier, parse_date};

use super::i18n::Lang;
use super::page::{FieldErrors, Page, render, url_encode, yuan};
use super::session::ConsoleUser;
use yibao_app::App;

/// One parameter (for one institution level, where it varies by level) in force on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRow {
    pub name: String,
    pub label: String,
    pub level: String,
    pub value: String,
    pub cite: String,
    pub source: String,
    pub from: String,
}

#[derive(Debug)]
pub struct DiffRow {
    pub name: String,
    pub label: String,
    pub level: String,
    pub before: String,
    pub before_cite: String,
    pub after: String,
    pub after_cite: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PolicyQuery {
    #[serde(default)]
    region: String,
    #[serde(default)]
    scheme: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    on: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The form's choices, parsed; errors go next to their fields.
struct Choice {
    region: RegionCode,
    scheme: Scheme,
    tier: Option<Tier>,
}

#[derive(Debug)]
pub struct Option2 {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn format_value(lang: Lang, spec: &ParamSpec, value: &Value) -> String {
    match value {
        Value::Money(fen) => format!("{} {}", yuan(fen.get()), lang.t("unit-yuan")),
        Value::Count(n) => match spec.kind {
            ValueKind::Months => format!("{n} {}", lang.t("unit-months")),
            ValueKind::Days => format!("{n} {}", lang.t("unit-days")),
            _ => n.to_string(),
        },
        Value::Multiple(bp) => {
            let (whole, frac) = (bp / 100, bp % 100);
            if frac == 0 { format!("{whole}%") } else { format!("{whole}.{frac:02}%") }
        }
        Value::Flag(flag) => lang.t(if *flag { "yes" } else { "no" }),
        Value::Ratio(_) | Value::Bands(_) => value.to_string(),
    }
}

/// Keys for one basic scheme only are left out for the other.
fn applies(spec: &ParamSpec, scheme: Scheme) -> bool {
    match spec.required_when {
        [only] if *only == Scheme::Employee || *only == Scheme::Resident => *only == scheme,
        _ => true,
    }
}

/// Every parameter in force on `on` for the choice: one row per key, or per institution
/// level for keys that vary by level, and per place and referral for the out-of-area keys.
/// Keys with no entry for the choice are left out.
fn params_on(policy: &Policy, lang: Lang, choice: &Choice, on: Date) -> Vec<ParamRow> {
    let category = match choice.scheme {
        Scheme::Employee => Some(PersonCategory::Employed),
        Scheme::Resident => Some(PersonCategory::Resident),
        _ => None,
    };
    let mut rows = Vec::new();
    for spec in PARAMS.iter().filter(|s| applies(s, choice.scheme)) {
        let levels: Vec<Option<InstitutionLevel>> =
            if spec.dims.contains(&Dim::Level) { InstitutionLevel::ALL.into_iter().map(Some).collect() } else { vec![None] };
        let places: Vec<(Option<Place>, Option<bool>)> = if spec.dims.contains(&Dim::Place) {
            Place::OUT_OF_AREA.into_iter().flat_map(|p| [(Some(p), Some(true)), (Some(p), Some(false))]).collect()
        } else {
            vec![(None, None)]
        };
        for (level, (place, referred)) in levels.into_iter().flat_map(|l| places.iter().map(move |p| (l, *p))) {
            let query = yibao_app::policy::Query {
                region: Some(choice.region),
                scheme: Some(choice.scheme),
                tier: choice.tier,
                level,
                category: if spec.dims.contains(&Dim::Category) { category } else { None },
                group: None,
                place,
                referred,
            };
            let Ok(found) = policy.lookup(spec.key, &query, on) else { continue };
            let source_id = found.cite.split_whitespace().next().unwrap_or_default();
            rows.push(ParamRow {
                name: spec.name.to_owned(),
                label: match lang {
                    Lang::Zh => spec.label_zh.to_owned(),
                    Lang::En => spec.label_en.to_owned(),
                },
                level: [
                    level.map(|l| lang.t(&format!("level-{}", l.as_str()))),
                    place.map(|p| lang.t(&format!("place-{}", p.as_str()))),
                    referred.map(|r| lang.t(if r { "place-referred" } else { "place-unreferred" })),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
                value: format_value(lang, spec, &found.value),
                cite: found.cite.to_owned(),
                source: policy.source_title(source_id).unwrap_or_default().to_owned(),
                from: found.from.map(|d| d.to_string()).unwrap_or_default(),
            });
        }
    }
    rows
}

fn parse_choice(policy: &Policy, user: &ConsoleUser, q: &PolicyQuery, errors: &mut FieldErrors) -> Option<Choice> {
    let lang = user.lang;
    let region_text = if q.region.trim().is_empty() { user.region.to_string() } else { q.region.trim().to_owned() };
    let region = match RegionCode::parse(&region_text) {
        Ok(region) if policy.region.contains(region) => Some(region),
        _ => {
            errors.add("region", lang.t("field-bad-region"));
            None
        }
    };
    let scheme_text = if q.scheme.is_empty() { "resident" } else { q.scheme.as_str() };
    let scheme = Scheme::parse(scheme_text).filter(|s| policy.has_scheme(*s) && s.is_basic()).map_or_else(
        || {
            errors.add("scheme", lang.t("field-bad-scheme"));
            None
        },
        Some,
    );
    let tiers = scheme.map(|s| policy.tiers_for(s)).unwrap_or_default();
    let tier = if tiers.is_empty() {
        None
    } else {
        let text = if q.tier.is_empty() { "1" } else { q.tier.as_str() };
        let chosen = text.parse::<u8>().ok().and_then(|n| Tier::new(n).ok()).filter(|t| tiers.contains(t));
        if chosen.is_none() {
            errors.add("tier", lang.t("field-bad-tier"));
        }
        chosen
    };
    Some(Choice { region: region?, scheme: scheme?, tier })
}

fn date_or_today(text: &str, errors: &mut FieldErrors, field: &str, lang: Lang) -> Option<Date> {
    if text.trim().is_empty() {
        return Some(time::OffsetDateTime::now_utc().date());
    }
    parse_date(text.trim()).map_err(|_| errors.add(field, lang.t("field-bad-date"))).ok()
}

/// The select options of the form: regions of the pack (the city and every county named
/// by an entry), basic schemes, tiers.
fn options(policy: &Policy, lang: Lang, q: &PolicyQuery, user_region: RegionCode) -> (Vec<Option2>, Vec<Option2>, Vec<Option2>) {
    let mut regions: Vec<RegionCode> = vec![policy.region];
    for spec in PARAMS {
        for entry in policy.entries(spec.key) {
            if let Some(region) = entry.selector.region
                && !regions.contains(&region)
            {
                regions.push(region);
            }
        }
    }
    // The user's own region and the one asked for, when they lie in the pack's city.
    let asked = RegionCode::parse(q.region.trim()).ok();
    for region in [Some(user_region), asked].into_iter().flatten() {
        if policy.region.contains(region) && !regions.contains(&region) {
            regions.push(region);
        }
    }
    regions.sort();
    let chosen_region = if q.region.is_empty() { user_region.to_string() } else { q.region.clone() };
    let regions =
        regions.iter().map(|r| Option2 { value: r.to_string(), label: r.to_string(), selected: r.to_string() == chosen_region }).collect();
    let chosen_scheme = if q.scheme.is_empty() { "resident" } else { q.scheme.as_str() };
    let schemes = policy
        .schemes
        .iter()
        .filter(|s| s.is_basic())
        .map(|s| Option2 {
            value: s.as_str().into(),
            label: lang.t(&format!("scheme-{}", s.as_str())),
            selected: s.as_str() == chosen_scheme,
        })
        .collect();
    let chosen_tier = if q.tier.is_empty() { "1" } else { q.tier.as_str() };
    let tiers = Tier::ALL
        .iter()
        .filter(|t| policy.has_tiers() && policy.tiers.iter().any(|(_, list)| list.contains(t)))
        .map(|t| Option2 {
            value: t.to_string(),
            label: lang.t_with("tier-n", &[("tier", t.to_string())]),
            selected: t.to_string() == chosen_tier,
        })
        .collect();
    (regions, schemes, tiers)
}

#[derive(Template)]
#[template(path = "console/policy/in_force.html")]
struct InForceTemplate {
    page: Page,
    policy_name: String,
    regions: Vec<Option2>,
    schemes: Vec<Option2>,
    tiers: Vec<Option2>,
    on: String,
    rows: Vec<ParamRow>,
    diff_href: String,
    errors: FieldErrors,
}

pub async fn in_force(State(state): State<App>, user: ConsoleUser, Query(q): Query<PolicyQuery>) -> Response {
    let page = match Page::guard(&user, "policy", "policy-title", "/console/policy") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let policy = &state.policy();
    let mut errors = FieldErrors::default();
    let choice = parse_choice(policy, &user, &q, &mut errors);
    let on = date_or_today(&q.on, &mut errors, "on", lang);
    let rows = match (&choice, on) {
        (Some(choice), Some(on)) if errors.is_empty() => params_on(policy, lang, choice, on),
        _ => Vec::new(),
    };
    let on_text = on.map_or_else(|| q.on.clone(), |d| d.to_string());
    let (regions, schemes, tiers) = options(policy, lang, &q, user.region);
    let diff_href = format!(
        "/console/policy/diff?region={}&scheme={}&tier={}&to={}",
        url_encode(&q.region),
        url_encode(&q.scheme),
        url_encode(&q.tier),
        url_encode(&on_text)
    );
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template =
        InForceTemplate { page, policy_name: policy.name.clone(), regions, schemes, tiers, on: on_text, rows, diff_href, errors };
    (status, render(&template)).into_response()
}

#[derive(Template)]
#[template(path = "console/policy/diff.html")]
struct DiffTemplate {
    page: Page,
    regions: Vec<Option2>,
    schemes: Vec<Option2>,
    tiers: Vec<Option2>,
    from: String,
    to: String,
    compared: bool,
    rows: Vec<DiffRow>,
    errors: FieldErrors,
}

/// The rows whose value or citation differs between two dates (a parameter that starts or
/// ends between them shows as absent on one side).
fn differences(before: &[ParamRow], after: &[ParamRow], lang: Lang) -> Vec<DiffRow> {
    let absent = lang.t("absent");
    let mut rows = Vec::new();
    let key = |r: &ParamRow| (r.name.clone(), r.level.clone());
    for b in before {
        match after.iter().find(|a| key(a) == key(b)) {
            Some(a) if a.value == b.value && a.cite == b.cite => {}
            found => rows.push(DiffRow {
                name: b.name.clone(),
                label: b.label.clone(),
                level: b.level.clone(),
                before: b.value.clone(),
                before_cite: b.cite.clone(),
                after: found.map_or_else(|| absent.clone(), |a| a.value.clone()),
                after_cite: found.map(|a| a.cite.clone()).unwrap_or_default(),
            }),
        }
    }
    for a in after.iter().filter(|a| !before.iter().any(|b| key(b) == key(a))) {
        rows.push(DiffRow {
            name: a.name.clone(),
            label: a.label.clone(),
            level: a.level.clone(),
            before: absent.clone(),
            before_cite: String::new(),
            after: a.value.clone(),
            after_cite: a.cite.clone(),
        });
    }
    rows
}

pub async fn diff(State(state): State<App>, user: ConsoleUser, Query(q): Query<PolicyQuery>) -> Response {
    let page = match Page::guard(&user, "policy", "policy-diff-title", "/console/policy/diff") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let policy = &state.policy();
    let mut errors = FieldErrors::default();
    let choice = parse_choice(policy, &user, &q, &mut errors);
    let compared = !q.from.trim().is_empty();
    let from = if compared { parse_date(q.from.trim()).map_err(|_| errors.add("from", lang.t("field-bad-date"))).ok() } else { None };
    let to = date_or_today(&q.to, &mut errors, "to", lang);
    let rows = match (&choice, from, to) {
        (Some(choice), Some(from), Some(to)) if errors.is_empty() => {
            differences(&params_on(policy, lang, choice, from), &params_on(policy, lang, choice, to), lang)
        }
        _ => Vec::new(),
    };
    let (regions, schemes, tiers) = options(policy, lang, &q, user.region);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = DiffTemplate {
        page,
        regions,
        schemes,
        tiers,
        from: q.from.clone(),
        to: to.map_or_else(|| q.to.clone(), |d| d.to_string()),
        compared,
        rows,
        errors,
    };
    (status, render(&template)).into_response()
}
