//! The audit trail (R-SYS-6) of the regions in the user's scope, with filters, and the
//! verification of every hash chain (`yibao audit verify`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yibao_app::AppError;
use yibao_app::AuditEntry;
use yibao_domain::RegionCode;

use super::page::{FieldErrors, PAGE_ROWS, Page, app_error_page, moment, render, url_encode};
use super::session::ConsoleUser;
use yibao_app::App;

/// Most entries one page of the trail reads while looking for matches, so a filter that
/// matches nothing cannot make one request walk the whole log.
const SCAN_LIMIT: i64 = 5_000;
const SCAN_PAGE: i64 = 500;

#[derive(Debug)]
pub struct EntryRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub entity: String,
    pub detail: String,
    pub hash: String,
}

#[derive(Debug)]
pub struct RegionOption {
    pub value: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/audit/trail.html")]
struct TrailTemplate {
    page: Page,
    regions: Vec<RegionOption>,
    action: String,
    actor: String,
    entity: String,
    rows: Vec<EntryRow>,
    next_href: Option<String>,
    first_href: Option<String>,
    scanned_to: i64,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct TrailQuery {
    #[serde(default)]
    region: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    after: i64,
}

fn matches(entry: &AuditEntry, q: &TrailQuery) -> bool {
    entry.action.starts_with(q.action.trim()) && entry.actor.contains(q.actor.trim()) && entry.entity.contains(q.entity.trim())
}

/// The regions whose chains the user may read: those inside the user's region (R-GEO-2).
async fn regions_in_scope(state: &App, user: &ConsoleUser) -> Result<Vec<RegionCode>, AppError> {
    let mut regions = state.audit_regions(&user.principal()).await?;
    regions.sort();
    Ok(regions)
}

pub async fn trail(State(state): State<App>, user: ConsoleUser, Query(q): Query<TrailQuery>) -> Response {
    let page = match Page::guard(&user, "audit", "audit-title", "/console/audit") {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let regions = match regions_in_scope(&state, &user).await {
        Ok(regions) => regions,
        Err(error) => return app_error_page(lang, &error),
    };
    let mut errors = FieldErrors::default();
    let chosen = if q.region.trim().is_empty() {
        regions.first().copied()
    } else {
        match RegionCode::parse(q.region.trim()) {
            // Only a chain inside the user's own region is read, whatever the URL says.
            Ok(region) if user.region.contains(region) => Some(region),
            _ => {
                errors.add("region", lang.t("field-region-outside"));
                None
            }
        }
    };
    let mut rows = Vec::new();
    let mut cursor = q.after.max(0);
    let mut exhausted = true;
    if let Some(region) = chosen {
        let principal = user.principal();
        let start = cursor;
        loop {
            let batch = match state.audit_entries(&principal, region, cursor, SCAN_PAGE).await {
                Ok(batch) => batch,
                Err(error) => return app_error_page(lang, &error),
            };
            let full = i64::try_from(batch.len()).unwrap_or(i64::MAX) == SCAN_PAGE;
            for entry in batch {
                cursor = entry.seq;
                if matches(&entry, &q) {
                    rows.push(EntryRow {
                        seq: entry.seq,
                        at: moment(&entry.at),
                        actor: entry.actor,
                        source: entry.source,
                        action: entry.action,
                        entity: entry.entity,
                        detail: entry.detail.chars().take(160).collect(),
                        hash: entry.hash.chars().take(12).collect(),
                    });
                    if rows.len() == PAGE_ROWS {
                        break;
                    }
                }
            }
            if rows.len() == PAGE_ROWS || cursor - start >= SCAN_LIMIT {
                exhausted = false;
                break;
            }
            if !full {
                break;
            }
        }
    }
    let region_text = chosen.map(|r| r.to_string()).unwrap_or_default();
    let filters = format!(
        "region={}&action={}&actor={}&entity={}",
        url_encode(&region_text),
        url_encode(q.action.trim()),
        url_encode(q.actor.trim()),
        url_encode(q.entity.trim())
    );
    let next_href = (!exhausted).then(|| format!("/console/audit?{filters}&after={cursor}"));
    let first_href = (q.after > 0).then(|| format!("/console/audit?{filters}"));
    let regions = regions.iter().map(|r| RegionOption { value: r.to_string(), selected: Some(*r) == chosen }).collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = TrailTemplate {
        page,
        regions,
        action: q.action.trim().to_owned(),
        actor: q.actor.trim().to_owned(),
        entity: q.entity.trim().to_owned(),
        rows,
        next_href,
        first_href,
        scanned_to: cursor,
        errors,
    };
    (status, render(&template)).into_response()
}

#[derive(Template)]
#[template(path = "console/audit/verify.html")]
struct VerifyTemplate {
    page: Page,
    intact: bool,
    regions: usize,
    entries: usize,
    breaks: Vec<String>,
}

/// Recomputes every hash of every chain, as `GET /api/audit/verify` does.
pub async fn verify(State(state): State<App>, user: ConsoleUser) -> Response {
    let page = match Page::guard(&user, "audit", "audit-verify-title", "/console/audit/verify") {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.verify_audit(&user.principal(), None).await {
        Ok(v) => render(&VerifyTemplate { page, intact: v.is_intact(), regions: v.regions, entries: v.entries, breaks: v.breaks }),
        Err(error) => app_error_page(user.lang, &error),
    }
}
