//! The API's contract, each rule written once (ARCHITECTURE.md, `status-rule` and
//! `yuan-on-the-wire`):
//!
//! - **Status codes.** A request that cannot be read (JSON syntax, a missing or mistyped
//!   field, a value that does not match its published pattern, a query or path parameter
//!   that does not parse, a body that is not JSON) is `400 request.malformed`, answered here
//!   before any use case runs; a readable request the rules refuse is 422 (the application's
//!   `ErrorKind::BadRequest` and `Unprocessable`), or 401/403/404/409/429 where those
//!   apply. An unknown route is `404 route.not_found`, a known route with another method
//!   `405 request.method_not_allowed` (with `Allow`), a body over the limit `413
//!   request.too_large`. Every error body is `{code, message}`.
//! - **Patterns.** Each identifier and amount has one pattern ([`REGION`], [`NATIONAL_ID`],
//!   …): the OpenAPI document publishes it and [`shaped`] checks input against the same
//!   text, so a value valid by the document is never refused as malformed.
//! - **The document** states every status an operation can answer: [`Contract`] adds the
//!   ones every operation of a kind shares (400 and 422 to an operation with input, 401
//!   and 403 to an authenticated one, 413 to one with a body, 500 to all) to those each
//!   operation declares (404, 409, 429…).

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, RefOr, ResponseBuilder, Schema};

use crate::error::ApiError;

/// A GB/T 2260 region code: six digits, a province from 11 to 82.
pub const REGION: &str = "^(1[1-9]|[2-7][0-9]|8[0-2])[0-9]{4}$";
/// A GB 11643 national ID's shape: 17 digits and a check character (a wrong check digit or
/// birth date is a 422 `person.bad_id`: readable, but not an ID).
pub const NATIONAL_ID: &str = "^[0-9]{17}[0-9X]$";
/// A catalogue code: 1 to 27 capital letters and digits (its national shape is the rules'
/// to check: 422).
pub const ITEM_CODE: &str = "^[A-Z0-9]{1,27}$";
/// A designated institution: `H` (hospital) or `P` (pharmacy) and 11 digits.
pub const INSTITUTION: &str = "^[HP][0-9]{11}$";
/// An insurance physician's code: `D`, the region and a serial.
pub const PHYSICIAN: &str = "^D[0-9]{12}$";
/// An amount sent in yuan: at most two decimals (`"12.50"`, `"-3"`); also accepted as a
/// whole number of yuan. Floats are refused.
pub const YUAN_IN: &str = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$";
/// An amount the API answers with: yuan with exactly two decimals.
pub const YUAN_OUT: &str = r"^-?[0-9]+\.[0-9]{2}$";
/// A month, `YYYY-MM`.
pub const MONTH: &str = "^[0-9]{4}-(0[1-9]|1[0-2])$";
/// A quarter a contract is scored by, `2026Q4` (the years 2000 to 2100).
pub const QUARTER: &str = "^(20[0-9][0-9]|2100)Q[1-4]$";
/// An administrator's code.
pub const ADMINISTRATOR: &str = "^[A-Z0-9]{1,16}$";
/// A contribution period: a year `YYYY` or a month `YYYY-MM`.
pub const PERIOD: &str = "^[0-9]{4}(-(0[1-9]|1[0-2]))?$";
/// A percentage with at most two decimals, `7.5%` (over 100% is refused by the rules).
pub const PERCENT: &str = r"^[0-9]{1,3}(\.[0-9]{1,2})?%$";
/// A fund (`FundScheme`).
pub const FUND: &[&str] = &[
    "employee",
    "employee-large-amount",
    "resident",
    "resident-critical-illness",
    "maternity",
    "supplementary",
    "medical-assistance",
    "ncms",
    "urban-resident",
    "civil-servant-subsidy",
    "enterprise-supplementary",
    "municipal-adjustment",
];

static COMPILED: LazyLock<Mutex<BTreeMap<&'static str, regex::Regex>>> = LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Whether `text` matches `pattern` (one of this module's, compiled once).
#[must_use]
pub fn matches(pattern: &'static str, text: &str) -> bool {
    let mut compiled = COMPILED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    compiled.entry(pattern).or_insert_with(|| regex::Regex::new(pattern).expect("a valid pattern")).is_match(text)
}

/// `text` when it matches the published `pattern`, else `400 request.malformed` naming the
/// field.
pub fn shaped<'a>(field: &str, pattern: &'static str, text: &'a str) -> Result<&'a str, ApiError> {
    if matches(pattern, text) {
        Ok(text)
    } else {
        Err(malformed(format!("{field}: '{}' does not match {pattern}", text.chars().take(64).collect::<String>())))
    }
}

/// `400 request.malformed`: the request could not be read.
pub fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "request.malformed", message)
}

/// A national ID from the wire: its shape or 400, then its check digit and birth date or
/// 422 `person.bad_id`.
pub fn national_id(field: &str, text: &str) -> Result<yibao_domain::NationalId, ApiError> {
    let text = shaped(field, NATIONAL_ID, text)?;
    yibao_domain::NationalId::parse(text)
        .map_err(|e| ApiError::from(yibao_app::AppError::bad_request("person.bad_id", format!("{field}: {e}"))))
}

/// A date `YYYY-MM-DD` from the wire, or 400.
pub fn date(field: &str, text: &str) -> Result<time::Date, ApiError> {
    yibao_domain::parse_date(text).map_err(|_| malformed(format!("{field}: '{text}' is not a date YYYY-MM-DD")))
}

/// JSON bodies: any rejection is `400 request.malformed` (`413 request.too_large` over the
/// body limit), with `{code, message}` like every other error.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<serde_json::Value>::from_request(req, state).await.map_err(|r| json_rejection(&r))?;
        serde_path_to_error::deserialize(integral(value)).map(Body).map_err(|e| malformed(format!("{}: {}", e.path(), e.inner())))
    }
}

/// JSON does not tell `2` from `2.0` (nor does JSON Schema's `integer`): a number with no
/// fraction is read as the integer it is. A fraction stays a float, which every integer
/// and amount refuses.
fn integral(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", rejection.body_text())
    } else {
        malformed(rejection.body_text())
    }
}

/// Query strings: a rejection is `400 request.malformed`, as for [`Body`].
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(malformed(rejection.body_text())),
        }
    }
}

/// Path segments: a rejection (a segment that is not UTF-8) is `400 request.malformed`.
#[derive(Debug)]
pub struct Segments<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            Err(rejection) => Err(malformed(rejection.body_text())),
        }
    }
}

/// No such route.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route.not_found", "no such API route; see /api/openapi.json")
}

/// A route that exists, with a method it does not answer (axum adds `Allow`).
pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "request.method_not_allowed", format!("{method} is not allowed here; see Allow"))
}

// ---- schemas ----

fn string(pattern: &str, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).description(Some(description))
}

/// A region code.
#[must_use]
pub fn region() -> Schema {
    Schema::Object(string(REGION, "GB/T 2260 region code").examples([serde_json::json!("419921")]).build())
}
/// An optional region code.
#[must_use]
pub fn region_opt() -> Schema {
    Schema::Object(
        string(REGION, "GB/T 2260 region code")
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
            .build(),
    )
}
/// A national ID.
#[must_use]
pub fn national_id_schema() -> Schema {
    Schema::Object(
        string(NATIONAL_ID, "GB 11643 national ID (18 characters, check digit verified)")
            .examples([serde_json::json!("419921196203140047")])
            .build(),
    )
}
/// An institution code.
#[must_use]
pub fn institution() -> Schema {
    Schema::Object(string(INSTITUTION, "designated institution code").examples([serde_json::json!("H41992100001")]).build())
}
/// An insurance physician's code.
#[must_use]
pub fn physician() -> Schema {
    Schema::Object(string(PHYSICIAN, "an insurance physician's code: D, the 6-digit region and a 6-digit serial").build())
}
#[must_use]
pub fn employer() -> Schema {
    Schema::Object(
        string(crate::employers::EMPLOYER_CODE, "an employer's unified social credit code (统一社会信用代码), 18 characters").build(),
    )
}
/// An amount sent in yuan: a string with at most two decimals, or whole yuan.
#[must_use]
pub fn yuan_in() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(string(YUAN_IN, "yuan, at most two decimals").examples([serde_json::json!("400.00")]))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(-10_000_000_000i64))
                    .maximum(Some(10_000_000_000i64))
                    .description(Some("whole yuan")),
            )
            .description(Some("an amount in yuan: \"12.50\" (or whole yuan as an integer); never a float"))
            .build(),
    )
}
/// An optional amount sent in yuan.
#[must_use]
pub fn yuan_in_opt() -> Schema {
    let Schema::OneOf(mut one_of) = yuan_in() else { unreachable!() };
    one_of.items.push(RefOr::T(Schema::Object(ObjectBuilder::new().schema_type(Type::Null).build())));
    Schema::OneOf(one_of)
}
/// An amount the API answers with.
#[must_use]
pub fn yuan_out() -> Schema {
    Schema::Object(string(YUAN_OUT, "yuan with two decimals").examples([serde_json::json!("12.50")]).build())
}
/// An optional amount the API answers with.
#[must_use]
pub fn yuan_out_opt() -> Schema {
    Schema::Object(
        string(YUAN_OUT, "yuan with two decimals")
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
            .build(),
    )
}
/// A period, `YYYY` or `YYYY-MM`.
#[must_use]
pub fn period() -> Schema {
    Schema::Object(string(PERIOD, "a year YYYY or a month YYYY-MM").build())
}
/// A quarter, `YYYYQn`.
#[must_use]
pub fn quarter() -> Schema {
    Schema::Object(string(QUARTER, "a quarter YYYYQn").build())
}
/// An administrator's code.
#[must_use]
pub fn administrator() -> Schema {
    Schema::Object(string(ADMINISTRATOR, "an administrator's code: upper-case letters and digits").build())
}
/// A month, `YYYY-MM`.
#[must_use]
pub fn month() -> Schema {
    Schema::Object(string(MONTH, "a month YYYY-MM").build())
}
/// A percentage.
#[must_use]
pub fn percent() -> Schema {
    Schema::Object(string(PERCENT, "a percentage, e.g. 7.5%").build())
}
/// An optional percentage.
#[must_use]
pub fn percent_opt() -> Schema {
    Schema::Object(
        string(PERCENT, "a percentage, e.g. 7.5%")
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
            .build(),
    )
}
/// A fund.
#[must_use]
pub fn fund() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(FUND.iter().copied())).build())
}
/// A date, `YYYY-MM-DD`.
#[must_use]
pub fn date_schema() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))).build())
}
/// An optional date.
#[must_use]
pub fn date_opt() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .build(),
    )
}
/// A list of free-form objects.
#[must_use]
pub fn objects() -> Schema {
    Schema::Array(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)).build())
}

/// The schema of a parameter, by its name and place: each name means one thing across the
/// API.
fn parameter_schema(path: &str, parameter: &Parameter) -> Option<Schema> {
    let name = parameter.name.as_str();
    match (&parameter.parameter_in, name) {
        (ParameterIn::Path, "id") if path.starts_with("/api/persons/") => Some(national_id_schema()),
        (ParameterIn::Query, "id") => Some(national_id_schema()),
        (_, "institution") => Some(institution()),
        (ParameterIn::Path, "code") if path.starts_with("/api/institutions/") || path.starts_with("/api/payment/") => Some(institution()),
        (ParameterIn::Path, "code") if path.starts_with("/api/physicians/") => Some(physician()),
        (ParameterIn::Path, "code") if path.starts_with("/api/employers/") => Some(employer()),
        (ParameterIn::Path, "period") if path.starts_with("/api/employers/") => Some(period()),
        (ParameterIn::Path, "code") if path.starts_with("/api/administrators/") => Some(administrator()),
        (ParameterIn::Path, "quarter") => Some(quarter()),
        (_, "county" | "region") => Some(region()),
        (ParameterIn::Path, "scheme") => Some(fund()),
        (_, "requested_on" | "from" | "to" | "as_of") => Some(date_schema()),
        (ParameterIn::Query, "month") if path.starts_with("/api/funds/pooling-runs") => Some(month()),
        (ParameterIn::Query, "period") => Some(period()),
        _ => None,
    }
}

/// Completes the document: security schemes, the parameters' schemas by name, and the
/// statuses every operation of a kind can answer.
#[derive(Debug)]
pub struct Contract;

/// Operations anyone may call.
const PUBLIC: &[(&str, &str)] = &[("/api/health", "get"), ("/api/session", "post")];

impl utoipa::Modify for Contract {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))));
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))))
                    .build(),
            )
        };
        for (path, item) in &mut openapi.paths.paths {
            let operations: [(&str, &mut Option<Operation>); 5] = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else { continue };
                for parameter in operation.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else { continue };
                    if let Some(schema) = parameter_schema(path, parameter) {
                        parameter.schema = Some(RefOr::T(schema));
                    }
                }
                let has_body = operation.request_body.is_some();
                let has_input = has_body || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let public = PUBLIC.contains(&(path.as_str(), method));
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses.entry(status.to_owned()).or_insert_with(|| error(description));
                };
                if has_input {
                    add(
                        "400",
                        "request.malformed: the request could not be read (JSON syntax, a missing or mistyped field, a value not matching its pattern, a parameter that does not parse)",
                    );
                    add("422", "a readable request the rules refuse");
                }
                if has_body {
                    add("413", "request.too_large: the body is over the limit");
                }
                if !public {
                    add("401", "auth.required: no or unknown credentials");
                    if path != "/api/me" {
                        add("403", "access.forbidden or access.outside_region: not for this caller");
                    }
                    // Either credential is read on every route; the principal decides.
                    let requirements = vec![
                        utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
                        utoipa::openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new()),
                    ];
                    operation.security = Some(requirements);
                }
                add("500", "the service failed; nothing was written");
            }
        }
    }
}
