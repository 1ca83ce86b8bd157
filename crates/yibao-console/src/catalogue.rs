//! The dated national catalogue (医保目录, issue 13) in the console: the loads so far, an
//! item's versions, and, for policy officers, the upload of a national list's file (CSV or
//! xlsx/xls/ods) with a dry run first. Every load goes through `App::load_catalogue`, as
//! the CLI's and the API's do; a refused file shows its rows to fix.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yibao_app::App;
use yibao_app::CatalogueProposal;
use yibao_app::catalogue::CatalogueReport;

use super::page::{FieldErrors, POLICY_OFFICERS, Page, app_error_page, app_message, is_form_refusal, may_post, moment, render};
use super::session::ConsoleUser;

const HERE: &str = "/console/catalogue";
/// Rows to fix shown on the page; the count says how many there were.
const ERRORS_SHOWN: usize = 200;
/// The largest file the page takes (the API's limit).
pub const UPLOAD_BYTES_MAX: usize = 64 << 20;

/// A load, or a proposal's file, as the tables show it: its number, when and by whom, the
/// file, its citation and its counts.
#[derive(Debug)]
pub struct LoadRow {
    pub seq: i64,
    pub at: String,
    pub by: String,
    pub file: String,
    pub cite: String,
    pub rows: usize,
    pub added: usize,
    pub replaced: usize,
    pub removed: usize,
}

impl LoadRow {
    fn new(seq: i64, at: &str, by: &str, load: &yibao_app::CatalogueLoad) -> LoadRow {
        LoadRow {
            seq,
            at: moment(at),
            by: by.to_owned(),
            file: load.file.clone(),
            cite: load.cite.clone(),
            rows: load.rows,
            added: load.added,
            replaced: load.replaced,
            removed: load.removed,
        }
    }
}

#[derive(Debug)]
pub struct VersionRow {
    pub region: String,
    pub from: String,
    pub until: String,
    pub class: String,
    pub share: String,
    pub cap: String,
    pub name: String,
    pub cite: String,
}

#[derive(Debug)]
pub struct ProposalRow {
    /// Its number, proposer, moment, file and dry-run counts.
    pub load: LoadRow,
    /// The first 16 hex digits of the file's SHA-256, to compare with the file in hand.
    pub sha256: String,
    pub status: String,
    pub decided: String,
    pub note: String,
    /// Still proposed, and the user is a policy officer other than the proposer.
    pub may_approve: bool,
    /// Still proposed, and the user is a policy officer (the proposer withdraws it so).
    pub may_reject: bool,
}

#[derive(Debug, Default)]
pub struct ReportView {
    pub loaded: bool,
    /// The proposal the file is kept as, for another policy officer to approve.
    pub proposal: Option<i64>,
    pub file: String,
    pub rows: usize,
    pub added: usize,
    pub replaced: usize,
    pub unchanged: usize,
    pub removed: usize,
    pub elsewhere: usize,
    pub versions_held: usize,
    pub columns_absent: String,
    pub error_count: usize,
    pub errors: Vec<(usize, String, String, String)>,
}

#[derive(Template)]
#[template(path = "console/catalogue/catalogue.html")]
pub struct CatalogueTemplate {
    pub page: Page,
    pub loads: Vec<LoadRow>,
    pub proposals: Vec<ProposalRow>,
    pub may_load: bool,
    pub code: String,
    pub item: Option<(String, Vec<VersionRow>)>,
    pub cite: String,
    pub report: Option<ReportView>,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "console/catalogue/proposal.html")]
pub struct ProposalTemplate {
    pub page: Page,
    pub proposal: ProposalRow,
    pub current: bool,
    pub changes: Vec<yibao_app::catalogue::VersionChange>,
    pub change_count: usize,
    pub errors: Vec<(usize, String, String, String)>,
}

/// One proposal: what approving it would change now, version by version, and the
/// decision forms (the second person reads before approving).
pub async fn proposal(State(state): State<App>, user: ConsoleUser, Path(seq): Path<String>) -> Response {
    let lang = user.lang;
    let Some(seq) = seq.parse::<i64>().ok().filter(|seq| *seq > 0) else {
        return super::page::error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let page = match Page::guard(&user, "catalogue", "catalogue-proposal-title", &format!("{HERE}/proposals/{seq}")) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let principal = user.principal();
    let view = match state.catalogue_proposal(&principal, seq).await {
        Ok(view) => view,
        Err(error) => return app_error_page(lang, &error),
    };
    let proposal = proposal_row(lang, &view.proposal, user.may(POLICY_OFFICERS), &principal);
    let errors = view
        .errors
        .iter()
        .take(ERRORS_SHOWN)
        .map(|e| (e.line, e.column.clone().unwrap_or_default(), e.key.clone().unwrap_or_default(), e.message.clone()))
        .collect();
    let template =
        ProposalTemplate { page, proposal, current: view.current, changes: view.changes, change_count: view.change_count, errors };
    render(&template)
}

#[derive(Debug, Default, Deserialize)]
pub struct ItemQuery {
    #[serde(default)]
    pub code: String,
}

/// The page: the loads, an item's versions when asked, the upload form for officers.
pub async fn show(State(state): State<App>, user: ConsoleUser, Query(query): Query<ItemQuery>) -> Response {
    page(&state, &user, query.code.trim(), String::new(), None, FieldErrors::default()).await
}

async fn page(state: &App, user: &ConsoleUser, code: &str, cite: String, report: Option<ReportView>, mut errors: FieldErrors) -> Response {
    let page = match Page::guard(user, "catalogue", "catalogue-title", HERE) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let lang = user.lang;
    let principal = user.principal();
    let loads = match state.catalogue_loads(&principal).await {
        Ok(loads) => loads,
        Err(error) => return app_error_page(lang, &error),
    };
    let loads = loads.into_iter().map(|r| LoadRow::new(r.seq, &r.loaded_at, &r.loaded_by, &r.load)).collect();
    let proposals = match state.catalogue_proposals(&principal).await {
        Ok(proposals) => proposals,
        Err(error) => return app_error_page(lang, &error),
    };
    let officer = user.may(POLICY_OFFICERS);
    let proposals = proposals.into_iter().map(|p| proposal_row(lang, &p, officer, &principal)).collect();
    let mut item = None;
    if !code.is_empty() {
        match state.catalogue_item(&principal, code) {
            Ok(history) => {
                let mut rows: Vec<VersionRow> = Vec::new();
                if let Some(own) = &history.pack_item {
                    rows.push(VersionRow {
                        region: lang.t("catalogue-pack-item"),
                        from: String::new(),
                        until: String::new(),
                        class: own.class.code().to_owned(),
                        share: own.selfpay_share.map(|s| s.to_string()).unwrap_or_default(),
                        cap: cap_text(lang, own),
                        name: own.name.clone(),
                        cite: "[[item]]".to_owned(),
                    });
                }
                rows.extend(history.versions.iter().map(|v| VersionRow {
                    region: v.region.map_or_else(|| lang.t("catalogue-national"), |r| r.to_string()),
                    from: v.from.to_string(),
                    until: v.until.map(|u| u.to_string()).unwrap_or_default(),
                    class: v.item.class.code().to_owned(),
                    share: v.item.selfpay_share.map(|s| s.to_string()).unwrap_or_default(),
                    cap: cap_text(lang, &v.item),
                    name: v.item.name.clone(),
                    cite: v.cite.clone(),
                }));
                item = Some((code.to_owned(), rows));
            }
            Err(error) if is_form_refusal(&error) || error.code == "catalogue.item_not_found" => {
                errors.add("code", app_message(lang, &error));
            }
            Err(error) => return app_error_page(lang, &error),
        }
    }
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let template = CatalogueTemplate { page, loads, proposals, may_load: officer, code: code.to_owned(), item, cite, report, errors };
    (status, render(&template)).into_response()
}

/// What the upload form sent.
#[derive(Debug, Default)]
struct Upload {
    csrf: String,
    cite: String,
    dry_run: bool,
    file_name: String,
    bytes: Vec<u8>,
}

/// Reads the form's fields; a field the form does not have is refused.
async fn read_upload(multipart: &mut Multipart) -> Result<Upload, String> {
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "_csrf" => upload.csrf = field.text().await.map_err(|e| e.body_text())?,
            "cite" => upload.cite = field.text().await.map_err(|e| e.body_text())?,
            "dry_run" => upload.dry_run = !field.text().await.map_err(|e| e.body_text())?.is_empty(),
            "file" => {
                upload.file_name = field.file_name().unwrap_or_default().to_owned();
                upload.bytes = field.bytes().await.map_err(|e| e.body_text())?.to_vec();
            }
            other => return Err(format!("the form has no field '{other}'")),
        }
    }
    Ok(upload)
}

/// Loads the uploaded file (or tries it, for a dry run) and shows the report.
pub async fn load(State(state): State<App>, user: ConsoleUser, headers: HeaderMap, mut multipart: Multipart) -> Response {
    let lang = user.lang;
    // Who may load is known before the body is read: a file of up to 64 MiB is read only
    // for a policy officer of the city (the CSRF token, inside the body, is checked next).
    if let Err(response) = Page::guard(&user, "catalogue", "catalogue-title", HERE) {
        return response;
    }
    if !user.may(POLICY_OFFICERS) {
        return super::page::error_page(lang, StatusCode::FORBIDDEN, "error-forbidden", None);
    }
    let upload = match read_upload(&mut multipart).await {
        Ok(upload) => upload,
        Err(why) => {
            let mut errors = FieldErrors::default();
            errors.add("file", why);
            return page(&state, &user, "", String::new(), None, errors).await;
        }
    };
    if let Err(response) = may_post(&user, &upload.csrf, "catalogue", "catalogue-title", HERE, POLICY_OFFICERS) {
        return response;
    }
    let mut errors = FieldErrors::default();
    if upload.bytes.is_empty() || upload.file_name.is_empty() {
        errors.add("file", lang.t("field-required"));
    }
    if upload.cite.trim().is_empty() {
        errors.add("cite", lang.t("field-required"));
    }
    if !errors.is_empty() {
        return page(&state, &user, "", upload.cite, None, errors).await;
    }
    let outcome = state
        .load_catalogue(&user.principal(), &ConsoleUser::source(&headers), &upload.file_name, upload.bytes, &upload.cite, upload.dry_run)
        .await;
    match outcome {
        Ok(report) => {
            let view = report_view(&report);
            let cite = if report.loaded { String::new() } else { upload.cite };
            page(&state, &user, "", cite, Some(view), errors).await
        }
        Err(error) if is_form_refusal(&error) => {
            let field = if error.code == "catalogue.bad_cite" { "cite" } else { "file" };
            errors.add(field, app_message(lang, &error));
            page(&state, &user, "", upload.cite, None, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

fn proposal_row(lang: super::i18n::Lang, p: &CatalogueProposal, officer: bool, principal: &yibao_app::Principal) -> ProposalRow {
    let open = p.status == "proposed";
    ProposalRow {
        load: LoadRow::new(p.seq, &p.proposed_at, &p.proposed_by, &p.load),
        sha256: p.load.sha256.chars().take(16).collect(),
        status: lang.t(&format!("catalogue-status-{}", p.status)),
        decided: match (&p.decided_by, &p.decided_at) {
            (Some(by), Some(at)) => format!("{by} {}", moment(at)),
            _ => String::new(),
        },
        note: p.note.clone().unwrap_or_default(),
        may_approve: open && officer && p.proposed_by != principal.name(),
        may_reject: open && officer,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub note: String,
}

/// What a decision form asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Approve,
    Reject,
}

/// Approves a proposed load (another policy officer): the report of what it wrote, or its
/// rows to fix if it no longer fits.
pub async fn approve(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(seq): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(&state, &user, &headers, &seq, &form, Decision::Approve).await
}

/// Rejects (or, by its proposer, withdraws) a proposed load, with a reason.
pub async fn reject(
    State(state): State<App>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(seq): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(&state, &user, &headers, &seq, &form, Decision::Reject).await
}

/// One decision on a proposal: the form's checks, the use case, its answer on the page.
async fn decide(state: &App, user: &ConsoleUser, headers: &HeaderMap, seq: &str, form: &DecisionForm, decision: Decision) -> Response {
    if let Err(response) = may_post(user, &form.csrf, "catalogue", "catalogue-title", HERE, POLICY_OFFICERS) {
        return response;
    }
    let lang = user.lang;
    let Some(seq) = seq.parse::<i64>().ok().filter(|seq| *seq > 0) else {
        return super::page::error_page(lang, StatusCode::NOT_FOUND, "error-not-found", None);
    };
    let (principal, source) = (user.principal(), ConsoleUser::source(headers));
    let outcome = match decision {
        Decision::Approve => state.approve_catalogue(&principal, &source, seq).await.map(|report| Some(report_view(&report))),
        Decision::Reject => state.reject_catalogue(&principal, &source, seq, &form.note).await.map(|_| None),
    };
    match outcome {
        Ok(Some(report)) => page(state, user, "", String::new(), Some(report), FieldErrors::default()).await,
        Ok(None) => Redirect::to(HERE).into_response(),
        Err(error) if is_form_refusal(&error) => {
            let mut errors = FieldErrors::default();
            errors.add("proposals", app_message(lang, &error));
            page(state, user, "", String::new(), None, errors).await
        }
        Err(error) => app_error_page(lang, &error),
    }
}

fn report_view(report: &CatalogueReport) -> ReportView {
    let load = &report.load;
    ReportView {
        loaded: report.loaded,
        proposal: report.proposal.as_ref().filter(|p| p.status == "proposed").map(|p| p.seq),
        file: load.file.clone(),
        rows: load.rows,
        added: load.added,
        replaced: load.replaced,
        unchanged: load.unchanged,
        removed: load.removed,
        elsewhere: load.elsewhere,
        versions_held: report.versions_held,
        columns_absent: load.columns_absent.join(", "),
        error_count: report.error_count,
        errors: report
            .errors
            .iter()
            .take(ERRORS_SHOWN)
            .map(|e| (e.line, e.column.clone().unwrap_or_default(), e.key.clone().unwrap_or_default(), e.message.clone()))
            .collect(),
    }
}

/// An item's price cap as the history shows it, marked when it is the negotiated price
/// (谈判药品, R-PAY-2).
fn cap_text(lang: super::i18n::Lang, item: &yibao_app::policy::CatalogueItem) -> String {
    let cap = item.price_cap.iter().flatten().next().map(ToString::to_string).unwrap_or_default();
    if item.negotiated { format!("{cap} ({})", lang.t("catalogue-negotiated")) } else { cap }
}
