//! The staff console: server-rendered HTML under `/console/…`, served by `yibao serve`
//! itself with no front-end build (askama templates compiled into the binary, static files
//! embedded with rust-embed, labels from Fluent catalogues in Chinese and English).
//!
//! Every action is a plain HTML form (POST, then redirect to a GET page, PRG) that works
//! without JavaScript; htmx only boosts the menu links. The console reads and writes through
//! the same use cases of the application layer (`yibao_app::App`) as the API, always as the
//! signed-in user's principal, whose region is the scope (R-GEO-2): a county's clerk asking
//! for another county's person by URL gets the not-found page, never the data. It never
//! calls the store itself.
//!
//! Layout: `page.rs` (menu per role, layout data, errors, money, pagination), `session.rs`
//! (cookie session, CSRF), `i18n.rs` (catalogues), `assets.rs`, then one module per menu
//! section (`funds/` holds the fund books' pages, R-FND-1…7; `reform.rs` the what-if of issue 6).
//!
//! Adding a page:
//! 1. a row in [`page::MENU`] (`id`, `href`, label key, the roles that see it);
//! 2. a handler taking `ConsoleUser` that starts with `Page::guard(&user, "<id>", "<title
//!    key>", "<path>")`, calls the application with `user.principal()` (and, for a write,
//!    `&ConsoleUser::source(&headers)`), and renders a template; a POST handler checks
//!    `user.csrf_ok(&form.csrf)` first, re-renders the form with [`page::FieldErrors`] on a
//!    refusal (status 400, the `AppError`'s kind or code telling which field) and redirects
//!    on success; any other `AppError` is [`page::app_error_page`];
//! 3. its route in [`router`];
//! 4. a template under `templates/console/` that extends `console/base.html`, every label
//!    `{{ page.t("key") }}`, amounts pre-formatted with [`page::yuan`], every form with
//!    `<input type="hidden" name="_csrf" value="{{ page.csrf }}">`;
//! 5. its labels in both `locales/zh-CN/console.ftl` and `locales/en/console.ftl` (a test
//!    checks the two hold the same keys).

mod admin;
mod administrators;
mod agreement;
mod arrears;
mod assets;
mod audit;
mod catalogue;
mod claims;
mod contributions;
mod dashboard;
mod employers;
mod funds;
mod i18n;
mod login;
mod page;
mod payment;
mod people;
mod policy;
mod policy_versions;
mod reform;
mod session;

use axum::Router;
use axum::routing::{get, post};

use yibao_app::App;

/// How the console is reached from outside, which decides how its cookies are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// Mark every cookie `Secure` (sent over HTTPS only): the public URL is https, so a
    /// session cookie must never travel in clear, even after a plain-HTTP link.
    pub secure_cookies: bool,
}

impl ConsoleOptions {
    /// The options for a server reached at `public_url` (`https://…` or `http://…`).
    pub fn for_public_url(public_url: &str) -> Result<ConsoleOptions, String> {
        let (scheme, host) = match public_url.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest.split(['/', '?', '#']).next().unwrap_or_default()),
            None => (None, ""),
        };
        if scheme.is_some() && host.is_empty() {
            return Err(format!("a public URL names its host, as https://yibao.example.gov.cn; not '{public_url}'"));
        }
        match scheme.as_deref() {
            Some("https") => Ok(ConsoleOptions { secure_cookies: true }),
            Some("http") => Ok(ConsoleOptions { secure_cookies: false }),
            _ => Err(format!("a public URL begins with https:// or http://, not '{public_url}'")),
        }
    }
}

/// The console's routes, merged into the application beside `/api/`, on plain HTTP.
pub fn router() -> Router<App> {
    router_with(ConsoleOptions::default())
}

/// The console's routes with `options`.
pub fn router_with(options: ConsoleOptions) -> Router<App> {
    let router = routes();
    if options.secure_cookies { router.layer(axum::middleware::map_response(secure_cookies)) } else { router }
}

/// Adds `Secure` to every cookie a console response sets: the session's, its removal and
/// the language's, and any added later, in one place.
async fn secure_cookies(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let cookies: Vec<HeaderValue> = response.headers().get_all(header::SET_COOKIE).iter().cloned().collect();
    response.headers_mut().remove(header::SET_COOKIE);
    for cookie in cookies {
        let secured = match cookie.to_str() {
            Ok(text) if !text.split(';').any(|part| part.trim().eq_ignore_ascii_case("secure")) => {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
            }
            _ => cookie,
        };
        response.headers_mut().append(header::SET_COOKIE, secured);
    }
    response
}

fn routes() -> Router<App> {
    Router::new()
        // A browser opening the server's address finds the console, not a JSON 404.
        .route("/", get(|| async { axum::response::Redirect::to("/console/") }))
        .route("/console", get(dashboard::show))
        .route("/console/", get(dashboard::show))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/lang", get(login::switch_language))
        .route("/console/assets/{*path}", get(assets::serve))
        .route("/console/people", get(people::search))
        .route("/console/people/{id}", get(people::show))
        .route("/console/people/{id}/tier", post(people::change_tier))
        .route("/console/people/{id}/end-coverage", post(people::end_coverage))
        .route("/console/people/{id}/coverage", post(people::change_coverage))
        .route("/console/people.csv", get(people::register_csv))
        .route("/console/people.xlsx", get(people::register_xlsx))
        .route("/console/people/{id}/death", post(people::record_death))
        .route("/console/people/{id}/contributions", post(contributions::record))
        .route("/console/people/{id}/arrears", get(arrears::show))
        .route("/console/people/{id}/arrears/plans", post(arrears::agree))
        .route("/console/people/{id}/arrears/payments", post(arrears::pay))
        .route("/console/households/new", get(people::enrol_form).post(people::enrol))
        .route("/console/households/{id}", get(people::household))
        .route("/console/contributions", get(contributions::form))
        .route("/console/employers", get(employers::list).post(employers::register))
        .route("/console/employers/{code}", get(employers::show))
        .route("/console/employers/{code}/declarations", post(employers::declare))
        .route("/console/employers/{code}/payments", post(employers::pay))
        .route("/console/arrears", get(contributions::arrears))
        .route("/console/arrears.csv", get(contributions::arrears_csv))
        .route("/console/arrears.xlsx", get(contributions::arrears_xlsx))
        .route("/console/contributions.csv", get(contributions::contributions_csv))
        .route("/console/contributions.xlsx", get(contributions::contributions_xlsx))
        .route("/console/settlements.csv", get(contributions::settlements_csv))
        .route("/console/settlements.xlsx", get(contributions::settlements_xlsx))
        .route("/console/administrators", get(administrators::list))
        .route("/console/administrators/{code}", get(administrators::show))
        .route("/console/administrators/{code}/score", post(administrators::score))
        .route("/console/claims", get(claims::search))
        .route("/console/claims/{institution}/{claim_id}", get(claims::show))
        .route("/console/claims/{institution}/{claim_id}/slip", get(claims::slip))
        .route("/console/claims/{institution}/{claim_id}/reversal", post(claims::reverse))
        .route("/console/policy", get(policy::in_force))
        .route("/console/policy/diff", get(policy::diff))
        .route("/console/policy/versions", get(policy_versions::list).post(policy_versions::propose))
        .route("/console/policy/versions/{version}", get(policy_versions::show))
        .route("/console/policy/versions/{version}/decision", post(policy_versions::decide))
        .route(
            "/console/catalogue",
            get(catalogue::show).post(catalogue::load).layer(axum::extract::DefaultBodyLimit::max(catalogue::UPLOAD_BYTES_MAX)),
        )
        .route("/console/catalogue/proposals/{seq}", get(catalogue::proposal))
        .route("/console/catalogue/proposals/{seq}/approval", post(catalogue::approve))
        .route("/console/catalogue/proposals/{seq}/rejection", post(catalogue::reject))
        .route("/console/funds", get(funds::statement::show))
        .route("/console/funds/statement.csv", get(funds::statement::csv))
        .route("/console/funds/statement.xlsx", get(funds::statement::xlsx))
        .route("/console/funds/pooling", get(funds::pooling::show).post(funds::pooling::run))
        .route("/console/funds/pooling/{month}", get(funds::pooling::record))
        .route("/console/funds/accounts", get(funds::accounts::show))
        .route("/console/funds/year-end", get(funds::year_end::show).post(funds::year_end::close))
        .route("/console/funds/year-end/{year}", get(funds::year_end::record))
        .route("/console/funds/receipts", get(funds::receipts::form).post(funds::receipts::book))
        .route("/console/funds/budgets", get(funds::budgets::show).post(funds::budgets::set))
        .route("/console/funds/legacy", get(funds::legacy::show).post(funds::legacy::establish))
        .route("/console/funds/legacy/repayments", post(funds::legacy::repay))
        .route("/console/funds/handovers", get(funds::handover::list).post(funds::handover::prepare))
        .route("/console/funds/handovers/{reference}", get(funds::handover::show))
        .route("/console/funds/handovers/{reference}/confirmation", post(funds::handover::confirm))
        .route("/console/funds/migrations", get(funds::migration::list))
        .route(
            "/console/funds/migrations/check",
            get(funds::migration::check_form)
                .post(funds::migration::check)
                .layer(axum::extract::DefaultBodyLimit::max(funds::migration::CHECK_UPLOAD_BYTES_MAX)),
        )
        .route("/console/funds/migrations/{id}", get(funds::migration::show))
        .route("/console/funds/migrations/{id}/report", post(funds::migration::prepare))
        .route("/console/funds/migrations/{id}/sign-off", post(funds::migration::sign_off))
        .route("/console/funds/check", get(funds::check::show))
        .route("/console/payment", get(payment::year))
        .route("/console/payment/clearing", post(payment::clear))
        .route("/console/payment/{year}/{code}", get(payment::statement))
        .route("/console/payment/{year}/{code}/statement.csv", get(payment::statement_csv))
        .route("/console/payment/{year}/{code}/statement.xlsx", get(payment::statement_xlsx))
        .route("/console/reform", get(reform::form).post(reform::simulate))
        .route("/console/audit", get(audit::trail))
        .route("/console/audit/verify", get(audit::verify))
        .route("/console/staff", get(admin::staff).post(admin::create_staff))
        .route("/console/staff/{username}/active", post(admin::set_staff_active))
        .route("/console/institutions", get(admin::institutions))
        .route("/console/institutions/{code}/active", post(admin::set_institution_active))
        .route("/console/institutions/{code}", get(agreement::show))
        .route("/console/institutions/{code}/agreement", post(agreement::change))
        .route("/console/institutions/{code}/physicians", post(agreement::register_physician))
        .route("/console/physicians/{code}/penalties", post(agreement::penalize))
        // Not `fallback`: the API router owns the application's fallback (JSON 404).
        .route("/console/{*rest}", get(not_found))
        .layer(axum::middleware::map_response(protective_headers))
}

/// Headers on every console response: pages hold personal data, so no cache keeps them
/// (static assets set their own caching); no other site may frame the console's forms
/// (clickjacking); the browser takes content types as sent.
async fn protective_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

async fn not_found(headers: axum::http::HeaderMap) -> axum::response::Response {
    page::error_page(session::lang_of(&headers), axum::http::StatusCode::NOT_FOUND, "error-not-found", None)
}
