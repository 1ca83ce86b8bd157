//! What every console page shares: the layout's data ([`Page`]: language, user, menu for
//! the user's role, CSRF token), rendering, the error pages, money formatting and
//! pagination.
//!
//! The menu is one table ([`MENU`]): a section is shown to the roles it lists, and its
//! handlers refuse every other role with the same list ([`Page::guard`]). Adding a page
//! is one row here, one handler, one template and its catalogue lines.

use std::collections::BTreeMap;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use yibao_app::Role;

use super::i18n::Lang;
use super::session::ConsoleUser;

pub use yibao_app::roles::{
    ADMINISTRATORS, ALL_STAFF, ARREARS, AUDITORS, CLAIMS, CONTRIBUTIONS, ENROLMENT, FUND_READERS, FUND_WRITERS, POLICY_OFFICERS,
    POLICY_READERS, PUBLIC_POLICY, REFORMERS, REVERSERS, SETTLEMENT_EXPORT,
};

/// One menu section: where it lives, its label's catalogue key, who sees it.
#[derive(Debug)]
pub struct Section {
    pub id: &'static str,
    pub href: &'static str,
    pub label: &'static str,
    pub roles: &'static [Role],
    /// Shown only to city-level staff: pooling, the whole books and the year-end close
    /// are the city's (R-FND-2); the store refuses a county's scope anyway.
    pub city_only: bool,
}

impl Section {
    const fn new(id: &'static str, href: &'static str, label: &'static str, roles: &'static [Role]) -> Section {
        Section { id, href, label, roles, city_only: false }
    }

    const fn city(id: &'static str, href: &'static str, label: &'static str, roles: &'static [Role]) -> Section {
        Section { id, href, label, roles, city_only: true }
    }

    pub fn shown_to(&self, user: &ConsoleUser) -> bool {
        user.may(self.roles) && (!self.city_only || user.region.level() == yibao_domain::RegionLevel::City)
    }
}

/// The console's menu, in display order.
pub const MENU: &[Section] = &[
    Section::new("dashboard", "/console", "menu-dashboard", ALL_STAFF),
    Section::new("people", "/console/people", "menu-people", ALL_STAFF),
    Section::new("enrol", "/console/households/new", "menu-enrol", ENROLMENT),
    Section::new("contributions", "/console/contributions", "menu-contributions", CONTRIBUTIONS),
    Section::new("arrears", "/console/arrears", "menu-arrears", ARREARS),
    Section::new("employers", "/console/employers", "menu-employers", ARREARS),
    Section::new("claims", "/console/claims", "menu-claims", CLAIMS),
    Section::new("policy", "/console/policy", "menu-policy", PUBLIC_POLICY),
    Section::city("policy-versions", "/console/policy/versions", "menu-policy-versions", POLICY_READERS),
    Section::city("catalogue", "/console/catalogue", "menu-catalogue", POLICY_READERS),
    Section::new("funds", "/console/funds", "menu-funds", FUND_READERS),
    Section::city("pooling", "/console/funds/pooling", "menu-pooling", FUND_READERS),
    Section::city("fund-accounts", "/console/funds/accounts", "menu-fund-accounts", FUND_READERS),
    Section::city("year-end", "/console/funds/year-end", "menu-year-end", FUND_READERS),
    Section::city("receipts", "/console/funds/receipts", "menu-receipts", FUND_WRITERS),
    Section::new("budgets", "/console/funds/budgets", "menu-budgets", FUND_READERS),
    Section::new("legacy", "/console/funds/legacy", "menu-legacy", FUND_READERS),
    Section::city("administrators", "/console/administrators", "menu-administrators", ALL_STAFF),
    Section::city("handovers", "/console/funds/handovers", "menu-handovers", FUND_READERS),
    Section::city("migrations", "/console/funds/migrations", "menu-migrations", FUND_READERS),
    Section::city("book-check", "/console/funds/check", "menu-book-check", FUND_READERS),
    Section::city("payment", "/console/payment", "menu-payment", FUND_READERS),
    Section::new("reform", "/console/reform", "menu-reform", REFORMERS),
    Section::new("audit", "/console/audit", "menu-audit", AUDITORS),
    Section::new("staff", "/console/staff", "menu-staff", ADMINISTRATORS),
    // Claims officers keep inspections and physicians' penalties; administrators the rest.
    Section::new("institutions", "/console/institutions", "menu-institutions", REVERSERS),
];

#[derive(Debug)]
pub struct MenuLink {
    pub href: &'static str,
    pub label: String,
    pub active: bool,
}

/// Refuses a form's POST without the session's CSRF token, or from a user who may not see
/// `section` or whose role is not one of `roles`: the one check before every console write.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
pub fn may_post(
    user: &ConsoleUser,
    csrf: &str,
    section: &'static str,
    title_key: &str,
    here: &str,
    roles: &[Role],
) -> Result<(), Response> {
    if !user.csrf_ok(csrf) {
        return Err(error_page(user.lang, StatusCode::FORBIDDEN, "error-csrf", None));
    }
    Page::guard(user, section, title_key, here)?;
    if !user.may(roles) {
        return Err(error_page(user.lang, StatusCode::FORBIDDEN, "error-forbidden", None));
    }
    Ok(())
}

/// A refusal the user can act on (the rules refuse it, a malformed or duplicate request):
/// shown next to the form's field; anything else is the error page.
#[must_use]
pub fn is_form_refusal(error: &yibao_app::AppError) -> bool {
    matches!(error.kind, yibao_app::ErrorKind::Unprocessable | yibao_app::ErrorKind::BadRequest | yibao_app::ErrorKind::Conflict)
}

/// The layout's data, given to every template as `page`.
#[derive(Debug)]
pub struct Page {
    pub lang: Lang,
    pub title: String,
    /// `None` on the sign-in page.
    pub username: Option<String>,
    pub role_label: String,
    pub region: String,
    pub menu: Vec<MenuLink>,
    pub csrf: String,
    /// Where the language switch returns to.
    pub here: String,
}

impl Page {
    /// The page of `section` for `user`, or the 403 page if the user's role may not see it.
    #[expect(clippy::result_large_err, reason = "the error is the response itself, built once per request and returned at once")]
    pub fn guard(user: &ConsoleUser, section: &'static str, title_key: &str, here: &str) -> Result<Page, Response> {
        let allowed = MENU.iter().find(|s| s.id == section).is_some_and(|s| s.shown_to(user));
        if !allowed {
            return Err(error_page(user.lang, StatusCode::FORBIDDEN, "error-forbidden", None));
        }
        Ok(Page::for_user(user, section, title_key, here))
    }

    #[must_use]
    pub fn for_user(user: &ConsoleUser, section: &'static str, title_key: &str, here: &str) -> Page {
        let lang = user.lang;
        Page {
            lang,
            title: lang.t(title_key),
            username: Some(user.username.clone()),
            role_label: lang.t(&format!("role-{}", user.role.as_str())),
            region: user.region.to_string(),
            menu: MENU
                .iter()
                .filter(|s| s.shown_to(user))
                .map(|s| MenuLink { href: s.href, label: lang.t(s.label), active: s.id == section })
                .collect(),
            csrf: user.csrf.clone(),
            here: here.to_owned(),
        }
    }

    /// A page without a signed-in user (sign-in, errors before sign-in).
    #[must_use]
    pub fn anonymous(lang: Lang, title_key: &str, here: &str) -> Page {
        Page {
            lang,
            title: lang.t(title_key),
            username: None,
            role_label: String::new(),
            region: String::new(),
            menu: Vec::new(),
            csrf: String::new(),
            here: here.to_owned(),
        }
    }

    /// A label from the catalogue.
    #[must_use]
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    #[must_use]
    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    /// The language-switch link: to the other language, back to this page.
    #[must_use]
    pub fn switch_href(&self) -> String {
        format!("/console/lang?to={}&next={}", self.lang.other().code(), url_encode(&self.here))
    }

    #[must_use]
    pub fn switch_label(&self) -> String {
        self.t("lang-switch")
    }
}

/// Renders a template; a template failure is a 500 (logged), never a half page.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            let mut response = (StatusCode::INTERNAL_SERVER_ERROR, "template failure").into_response();
            response.extensions_mut().insert(yibao_app::Refusal { code: "console.template".into(), detail: error.to_string() });
            response
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorTemplate {
    page: Page,
    status: u16,
    message: String,
    detail: Option<String>,
}

/// An error page with `status` and the catalogue message `message_key`.
pub fn error_page(lang: Lang, status: StatusCode, message_key: &str, detail: Option<String>) -> Response {
    let template = ErrorTemplate {
        page: Page::anonymous(lang, "error-title", "/console"),
        status: status.as_u16(),
        message: lang.t(message_key),
        detail,
    };
    (status, render(&template)).into_response()
}

fn message_key(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "error-not-found".into(),
        StatusCode::FORBIDDEN => "error-forbidden".into(),
        _ => "error-refused".into(),
    }
}

/// An application-layer refusal as a page: the status its kind calls for, the catalogue's
/// line for its code, an internal failure logged and shown generically.
pub fn app_error_page(lang: Lang, error: &yibao_app::AppError) -> Response {
    let status = StatusCode::from_u16(error.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The request's log line names the code and the English detail, masked
    // (`yibao_api::observe`); an internal failure's detail is shown to no one.
    let mut response = if status == StatusCode::INTERNAL_SERVER_ERROR {
        error_page(lang, status, "error-store", None)
    } else {
        error_page(lang, status, &message_key(status), Some(app_message(lang, error)))
    };
    response.extensions_mut().insert(yibao_app::Refusal { code: error.code.to_string(), detail: error.message.to_string() });
    response
}

/// An application-layer refusal in the user's language, from the one catalogue of refusal
/// messages (`yibao_app::messages`), the API's too.
#[must_use]
pub fn app_message(lang: Lang, error: &yibao_app::AppError) -> String {
    error.message_in(lang.language())
}

/// Field errors of a submitted form, shown next to their fields.
#[derive(Debug, Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: String) {
        self.0.entry(field.into()).or_insert(message);
    }

    #[must_use]
    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a national ID was refused, in the user's language (each case says what to correct).
#[must_use]
pub fn national_id_error(lang: Lang, error: &yibao_domain::NationalIdError) -> String {
    use yibao_domain::NationalIdError as E;
    match error {
        E::WrongLength(n) => lang.t_with("id-wrong-length", &[("count", n.to_string())]),
        E::NotADigit { position } => lang.t_with("id-not-a-digit", &[("position", position.to_string())]),
        E::BadAddressCode(code) => lang.t_with("id-bad-address", &[("code", code.clone())]),
        E::BadBirthDate(date) => lang.t_with("id-bad-birth-date", &[("date", date.clone())]),
        E::CheckDigitMismatch { expected, found } => {
            lang.t_with("id-check-digit", &[("found", found.to_string()), ("expected", expected.to_string())])
        }
    }
}

/// Fen as yuan with exactly two decimals (`1234.50`, `-0.07`): integer arithmetic only.
#[must_use]
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A stored RFC 3339 time (`2026-11-23T15:13:57.272305226Z`) to the second, as staff read
/// it (`2026-11-23 15:13:57 UTC`); anything else is shown as stored.
#[must_use]
pub fn moment(text: &str) -> String {
    match (text.get(..19), text.ends_with('Z')) {
        (Some(head), true) if text.as_bytes().get(10) == Some(&b'T') => format!("{} UTC", head.replacen('T', " ", 1)),
        _ => text.to_owned(),
    }
}

/// A stored moment shown to the second, in UTC: `2026-11-23 15:13:57 UTC`.
#[must_use]
pub fn moment_at(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02}:{:02} UTC", at.date(), at.hour(), at.minute(), at.second())
}

/// Percent-encodes a query-string value.
#[must_use]
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Rows per page of a long list.
pub const PAGE_ROWS: usize = 50;

/// One page of a list, with links to the neighbours.
#[derive(Debug)]
pub struct Pager {
    pub pages: usize,
    /// `Page 2 of 5 (230 rows)` in the user's language.
    pub label: String,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
}

/// The `page`th (1-based) slice of `items`; `href_of(n)` is the link to page `n`.
pub fn paginate<T>(lang: Lang, items: Vec<T>, page: usize, href_of: impl Fn(usize) -> String) -> (Vec<T>, Pager) {
    let total = items.len();
    let page = page.clamp(1, total.div_ceil(PAGE_ROWS).max(1));
    let rows = items.into_iter().skip((page - 1) * PAGE_ROWS).take(PAGE_ROWS).collect();
    (rows, pager(lang, page, total, href_of))
}

/// The pager of page `page` (from 1) of `total` rows in pages of [`PAGE_ROWS`], for rows
/// the store paged itself.
pub fn pager(lang: Lang, page: usize, total: usize, href_of: impl Fn(usize) -> String) -> Pager {
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    Pager {
        pages,
        label: lang.t_with("page-of", &[("page", page.to_string()), ("pages", pages.to_string()), ("total", total.to_string())]),
        prev_href: (page > 1).then(|| href_of(page - 1)),
        next_href: (page < pages).then(|| href_of(page + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_has_two_exact_decimals() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(7), "0.07");
        assert_eq!(yuan(-7), "-0.07");
        assert_eq!(yuan(123_450), "1234.50");
        assert_eq!(yuan(i64::MIN + 1), "-92233720368547758.07");
    }

    #[test]
    fn moments_are_shown_to_the_second() {
        assert_eq!(moment("2026-11-23T15:13:57.272305226Z"), "2026-11-23 15:13:57 UTC");
        assert_eq!(moment("2026-11-23"), "2026-11-23");
        assert_eq!(moment_at(time::macros::datetime!(2026-11-23 23:13:57.27 +08:00)), "2026-11-23 15:13:57 UTC");
    }

    #[test]
    fn pages_are_clamped() {
        let (rows, pager) = paginate(Lang::En, (0..120).collect::<Vec<_>>(), 9, |n| format!("?page={n}"));
        assert_eq!(pager.label, "Page 3 of 3 (120 rows)");
        assert_eq!(rows, (100..120).collect::<Vec<_>>());
        assert_eq!(pager.prev_href.as_deref(), Some("?page=2"));
        assert!(pager.next_href.is_none());
    }
}

/// What a workbook cell holds: text, or a number shown in a format (`0`, `#,##0.00`).
#[derive(Clone, Copy, Debug)]
pub enum Cell {
    Text,
    Number(&'static str),
}

/// A sheet: its name, its header, what each column holds, and its rows as text.
pub type Sheet = (String, Vec<String>, Vec<Cell>, Vec<Vec<String>>);

pub const COUNT: Cell = Cell::Number("0");
pub const POINTS: Cell = Cell::Number("0.0000");
pub const YUAN: Cell = Cell::Number("#,##0.00");

/// An Excel workbook of `sheets` (the console's downloads, issue 16 item 6): amounts are
/// numbers, so a spreadsheet sums them; a figure that is not a plain number stays text.
pub fn workbook(sheets: Vec<Sheet>) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    for (name, header, cells, rows) in sheets {
        let sheet = workbook.add_worksheet();
        sheet.set_name(name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect::<String>())?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (column, title) in (0u16..).zip(&header) {
            sheet.write_string_with_format(0, column, title, &bold)?;
        }
        for (row, line) in (1u32..).zip(&rows) {
            for ((column, text), cell) in (0u16..).zip(line).zip(&cells) {
                match (cell, text.parse::<f64>()) {
                    (Cell::Number(format), Ok(number)) if number.is_finite() => {
                        sheet.write_number_with_format(row, column, number, &rust_xlsxwriter::Format::new().set_num_format(*format))?;
                    }
                    _ => {
                        sheet.write_string(row, column, text)?;
                    }
                }
            }
        }
        sheet.autofit();
    }
    workbook.save_to_buffer()
}

/// Rows as a CSV download named `file`: UTF-8 with a byte-order mark (spreadsheet programs
/// then read the Chinese names), the header first.
pub fn csv_download(file: &str, header: &[String], rows: &[Vec<String>]) -> Response {
    let line = |cells: &[String]| crate::funds::statement::csv_line(&cells.iter().map(String::as_str).collect::<Vec<_>>());
    let mut body = String::from('\u{feff}');
    body.push_str(&line(header));
    for row in rows {
        body.push_str(&line(row));
    }
    let disposition = format!("attachment; filename=\"{file}\"");
    (
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (axum::http::header::CONTENT_DISPOSITION, disposition)],
        body,
    )
        .into_response()
}

/// A workbook as a download named `file`; a failure to write it is the store's error page.
pub fn xlsx_download(lang: Lang, file: &str, sheets: Vec<Sheet>) -> Response {
    match workbook(sheets) {
        Ok(bytes) => {
            let kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned();
            let disposition = format!("attachment; filename=\"{file}\"");
            ([(axum::http::header::CONTENT_TYPE, kind), (axum::http::header::CONTENT_DISPOSITION, disposition)], bytes).into_response()
        }
        Err(error) => error_page(lang, StatusCode::INTERNAL_SERVER_ERROR, "error-store", Some(error.to_string())),
    }
}
