//! The HTTP API in-process (`tower::ServiceExt::oneshot`) over a real SQLite store and the
//! demo city's policy: sign-in and revocation, enrolment and its refusals, a county clerk
//! kept out of another county on every endpoint, settlement (pre-settlement, idempotent
//! settlement, reversal) by a designated institution, the audit chain, the OpenAPI document.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt;
use yibao_app::access::{digest, hash_password};
use yibao_app::policy_versions::GivenPack;
use yibao_app::{App, Backend};
use yibao_domain::{InstitutionLevel, RegionCode};
use yibao_policy::Policy;
use yibao_store::{AccessStore, Actor, NewInstitution, NewStaff, Role};
use yibao_store_sqlite::SqliteStore;

// Arrears and the benefits they suspend, under a clock the tests move (issue 16 item 4).
#[path = "api/arrears.rs"]
mod arrears;

// Monitoring's flags, findings through the ledger and appeals (issue 18).
#[path = "api/review.rs"]
mod review;

// A commercial administrator's quarter: contract, review, sample, score and fee (issue 18).
#[path = "api/administrators.rs"]
mod administrators;

const EAST_PERSON: &str = "41992119620314004X";
const WEST_PERSON: &str = "419922197806025527";

struct Api {
    router: axum::Router,
    /// The clock the application reads, as Unix seconds, when the test moves it
    /// ([`api_moving`]); `None` for the system clock.
    clock: Option<Arc<std::sync::atomic::AtomicI64>>,
}

enum Auth<'a> {
    None,
    Token(&'a str),
    Key(&'a str),
}

impl Api {
    async fn call(&self, method: &str, path: &str, auth: Auth<'_>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        request = match auth {
            Auth::None => request,
            Auth::Token(t) => request.header("authorization", format!("Bearer {t}")),
            Auth::Key(k) => request.header("x-api-key", k),
        };
        let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A request whose body is bytes as they are (a file upload).
    async fn upload(&self, path: &str, auth: Auth<'_>, bytes: Vec<u8>) -> (StatusCode, Value) {
        let mut request = Request::builder().method("POST").uri(path).header("content-type", "application/octet-stream");
        request = match auth {
            Auth::None => request,
            Auth::Token(t) => request.header("authorization", format!("Bearer {t}")),
            Auth::Key(k) => request.header("x-api-key", k),
        };
        let response = self.router.clone().oneshot(request.body(Body::from(bytes)).expect("request")).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Moves the application's clock to `at` (an [`api_moving`] API only).
    fn set_now(&self, at: time::OffsetDateTime) {
        self.clock.as_ref().expect("an API with a clock the test moves").store(at.unix_timestamp(), std::sync::atomic::Ordering::SeqCst);
    }

    async fn sign_in(&self, username: &str) -> String {
        let (status, body) = self
            .call("POST", "/api/session", Auth::None, Some(json!({ "username": username, "password": format!("pw-{username}") })))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }
}

/// An amount on the wire: yuan with exactly two decimals, in fen.
fn fen(value: &Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("an amount is a yuan string, not {value}"));
    let (_, decimals) = text.split_once('.').unwrap_or_else(|| panic!("'{text}' has two decimals"));
    assert_eq!(decimals.len(), 2, "'{text}' has two decimals");
    yibao_domain::Fen::parse_yuan(text).expect("yuan").get()
}

/// Fen as the wire writes them.
fn yuan(fen: i64) -> String {
    yibao_domain::Fen::new(fen).to_string()
}

/// No `_fen` integer and no JSON-in-a-string anywhere in an answer (issue 12).
fn assert_wire(value: &Value, at: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                assert!(!key.ends_with("_fen") && !key.ends_with("_json"), "{at}.{key} is sent as stored: {value}");
                assert_wire(inner, &format!("{at}.{key}"));
            }
        }
        Value::Array(items) => items.iter().for_each(|item| assert_wire(item, at)),
        _ => {}
    }
}

async fn setup(name: &str) -> Api {
    api(Backend::Sqlite(seeded_sqlite(name).await))
}

/// A new SQLite store in a temporary directory of its own, with the test staff and institutions.
async fn seeded_sqlite(name: &str) -> SqliteStore {
    let dir = std::env::temp_dir().join(format!("yibao-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    seed(&store).await;
    store
}

/// The same API on a real throwaway PostgreSQL server (kept alive by the returned handle).
async fn setup_postgres() -> (Api, yibao_testpg::TestPostgres) {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the API tests: {e}"));
    let store = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
    seed(&store).await;
    (api(Backend::Postgres(store)), server)
}

fn api(backend: Backend) -> Api {
    Api { router: yibao_api::app(demo_app(backend)), clock: None }
}

/// The API under `pack` (the demo pack, or one edited from it) with a clock set to `now`
/// that the test moves ([`Api::set_now`]).
fn api_moving(backend: Backend, pack: &str, now: time::OffsetDateTime) -> Api {
    let policy = Policy::from_toml("demo-city.toml", pack).expect("policy");
    let payment = yibao_app::payment::PaymentPack::parse(yibao_app::payment::DEMO_PAYMENT_PACK).expect("payment pack");
    let clock = Arc::new(std::sync::atomic::AtomicI64::new(now.unix_timestamp()));
    let reader = Arc::clone(&clock);
    let app = App::new(Arc::new(backend), Arc::new(policy)).with_payment_pack(payment).with_clock(Arc::new(move || {
        time::OffsetDateTime::from_unix_timestamp(reader.load(std::sync::atomic::Ordering::SeqCst)).expect("time")
    }));
    Api { router: yibao_api::app(app), clock: Some(clock) }
}

/// The demo city's application (its policy and payment packs) over `backend`.
fn demo_app(backend: Backend) -> App {
    let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("policy");
    let payment = yibao_app::payment::PaymentPack::parse(yibao_app::payment::DEMO_PAYMENT_PACK).expect("payment pack");
    App::new(Arc::new(backend), Arc::new(policy)).with_payment_pack(payment)
}

async fn seed<S: AccessStore>(store: &S) {
    let actor =
        Actor { who: "setup".into(), role: "city_administrator".into(), source: "test".into(), at: datetime!(2026-01-01 08:00 UTC) };
    for (username, role, region) in [
        ("admin", Role::CityAdministrator, "419900"),
        ("east.clerk", Role::EnrolmentClerk, "419921"),
        ("west.clerk", Role::EnrolmentClerk, "419922"),
        ("east.claims", Role::ClaimsOfficer, "419921"),
        ("west.claims", Role::ClaimsOfficer, "419922"),
        ("accountant", Role::FundAccountant, "419900"),
        ("auditor", Role::Auditor, "419900"),
    ] {
        let staff = NewStaff {
            username: username.into(),
            display_name: username.into(),
            password_hash: hash_password(&format!("pw-{username}")).expect("hash"),
            role,
            region: RegionCode::parse(region).expect("region"),
        };
        store.create_staff(&actor, staff).await.expect("staff");
    }
    for (code, key, region, level) in [
        ("H41992100007", "key-east", "419921", InstitutionLevel::Secondary),
        ("H41990200003", "key-center", "419902", InstitutionLevel::Secondary),
        ("P41992100002", "key-pharmacy", "419921", InstitutionLevel::Primary),
    ] {
        let institution = NewInstitution {
            code: yibao_domain::InstitutionCode::parse(code).expect("a code"),
            name: code.into(),
            region: RegionCode::parse(region).expect("region"),
            level,
            api_key_hash: digest(key),
        };
        store.create_institution(&actor, institution).await.expect("institution");
    }
}

fn enrolment(id: &str, region: &str, household: &str) -> Value {
    json!({ "person_id": id, "name": "张三", "card_no": "C0001", "household_id": household, "region": region, "scheme": "resident", "category": "resident", "tier": 3, "coverage_from": "2024-01-01", "supplementary": true })
}

async fn enrol_both(api: &Api) -> (String, String) {
    let east = api.sign_in("east.clerk").await;
    let west = api.sign_in("west.clerk").await;
    for (token, region, household, id) in [(&east, "419921", "HH-E1", EAST_PERSON), (&west, "419922", "HH-W1", WEST_PERSON)] {
        let (status, body) = api
            .call(
                "POST",
                "/api/households",
                Auth::Token(token),
                Some(json!({ "household_id": household, "region": region, "address": "幸福村 1 组" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = api.call("POST", "/api/persons", Auth::Token(token), Some(enrolment(id, region, household))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    (east, west)
}

fn claim(claim_id: &str, institution: &str) -> Value {
    json!({ "claim_id": claim_id, "institution_code": institution, "institution_level": "secondary", "kind": "inpatient",
            "admission_date": "2026-03-02", "discharge_date": "2026-03-08", "diagnosis": "K35.900",
            "lines": [{ "code": "XA10BAE010A001010100315", "quantity": 2, "unit_price": "2500.00" }] })
}

#[tokio::test]
async fn sessions_sign_in_and_are_revoked_at_once() {
    let api = setup("session").await;
    let (status, body) = api.call("POST", "/api/session", Auth::None, Some(json!({ "username": "admin", "password": "wrong" }))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.required")));
    let token = api.sign_in("admin").await;
    let (status, me) = api.call("GET", "/api/me", Auth::Token(&token), None).await;
    assert_eq!((status, me["role"].as_str(), me["region"].as_str()), (StatusCode::OK, Some("city_administrator"), Some("419900")));
    assert_eq!(api.call("DELETE", "/api/session", Auth::Token(&token), None).await.0, StatusCode::NO_CONTENT);
    let (status, body) = api.call("GET", "/api/me", Auth::Token(&token), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.required")), "a signed-out token no longer works");
    assert_eq!(api.call("GET", "/api/persons?name=张", Auth::None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.call("GET", "/api/me", Auth::Token("forged"), None).await.0, StatusCode::UNAUTHORIZED);
}

/// `POST /api/session` from the TCP peer `peer` (as `yibao serve` records it), with an
/// `X-Forwarded-For` the caller chose: the status, the body and `Retry-After`.
async fn sign_in_from(api: &Api, peer: &str, forwarded: &str, username: &str, password: &str) -> (StatusCode, Value, Option<String>) {
    let body = json!({ "username": username, "password": password }).to_string();
    let mut request = Request::builder()
        .method("POST")
        .uri("/api/session")
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded)
        .body(Body::from(body))
        .expect("request");
    let peer: std::net::SocketAddr = peer.parse().expect("address");
    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    let response = api.router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), retry_after)
}

/// A request in a language (`Accept-Language`, or none): the status, the body and the
/// answer's `Content-Language`.
async fn call_in(
    api: &Api,
    path: &str,
    token: Option<&str>,
    language: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut request =
        Request::builder().method(if body.is_some() { "POST" } else { "GET" }).uri(path).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).expect("request");
    let response = api.router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let content_language = response.headers().get("content-language").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), content_language)
}

/// Issue 12, invariant `bilingual`: a refusal's message is Chinese by default (as in the
/// console) and English when `Accept-Language` prefers it, q-values weighed; the code, the
/// status and the body's shape `{code, message}` stay the same, and neither message carries
/// Rust debug text.
#[tokio::test]
async fn a_refusal_is_chinese_by_default_and_english_when_asked() {
    let api = setup("language").await;
    let clerk = api.sign_in("east.clerk").await;
    let household = json!({ "household_id": "HH-L1", "region": "419921", "address": "幸福村 2 组" });
    let (status, body, _) = call_in(&api, "/api/households", Some(&clerk), None, Some(household)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // An enrolment without a tier in a city with tiers: once answered with Rust debug text.
    let mut untiered = enrolment(EAST_PERSON, "419921", "HH-L1");
    untiered["tier"] = Value::Null;
    let has_cjk = |text: &str| text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let mut messages = Vec::new();
    for (language, english) in [
        (None, false),
        (Some("zh-CN"), false),
        (Some("en"), true),
        (Some("en-GB"), true),
        (Some("en-US,en;q=0.9,zh-CN;q=0.8"), true),
        (Some("zh-CN,zh;q=0.9,en;q=0.8"), false),
        (Some("zh;q=0.4, en;q=0.7"), true),
        (Some("en;q=0, zh;q=0.1"), false),
        (Some("fr-FR"), false),
    ] {
        let (status, body, content_language) = call_in(&api, "/api/persons", Some(&clerk), language, Some(untiered.clone())).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_tier")), "{language:?}: {body}");
        let fields: Vec<&String> = body.as_object().expect("an object").keys().collect();
        assert_eq!(fields, ["code", "message"], "the body is exactly {{code, message}}");
        let message = body["message"].as_str().expect("message");
        assert_eq!(has_cjk(message), !english, "{language:?}: {message}");
        assert_eq!(content_language.as_deref(), Some(if english { "en" } else { "zh-CN" }), "{language:?}");
        for artefact in ["{", "[", "Some(", "None", "Err(", "\"", "\\"] {
            assert!(!message.contains(artefact), "{language:?}: debug text {artefact} in {message}");
        }
        messages.push((english, message.to_owned()));
    }
    let chinese: Vec<&String> = messages.iter().filter(|(e, _)| !e).map(|(_, m)| m).collect();
    let english: Vec<&String> = messages.iter().filter(|(e, _)| *e).map(|(_, m)| m).collect();
    assert!(chinese.windows(2).all(|w| w[0] == w[1]) && english.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    assert_ne!(chinese[0], english[0]);
    assert!(english[0].contains("choose a tier: 1, 2"), "{}", english[0]);

    // Refusals the API writes itself, and one from the application, in both languages.
    for (path, token, code) in
        [("/api/no-such-route", Some(clerk.as_str()), "route.not_found"), ("/api/persons?name=x", None, "auth.required")]
    {
        let (_, zh, _) = call_in(&api, path, token, None, None).await;
        let (_, en, _) = call_in(&api, path, token, Some("en"), None).await;
        assert_eq!((zh["code"].as_str(), en["code"].as_str()), (Some(code), Some(code)), "{zh} {en}");
        let (zh, en) = (zh["message"].as_str().expect("zh"), en["message"].as_str().expect("en"));
        assert!(has_cjk(zh) && !has_cjk(en) && !en.is_empty(), "{code}: {zh} / {en}");
    }
}

/// Issue 12: repeated failures are held back with 429 and `Retry-After`, even with the
/// right password; a client address's budget is counted for the TCP peer, which a forged
/// `X-Forwarded-For` does not change.
#[tokio::test]
async fn repeated_failed_sign_ins_are_held_back_with_429_and_retry_after() {
    let api = setup("throttle").await;
    for n in 0..5 {
        let (status, body, _) = sign_in_from(&api, "192.0.2.1:5000", "10.0.0.1", "east.clerk", "wrong").await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.required")), "failure {n}");
    }
    let (status, body, retry_after) = sign_in_from(&api, "192.0.2.1:5000", "10.0.0.1", "east.clerk", "pw-east.clerk").await;
    assert_eq!((status, body["code"].as_str(), retry_after.as_deref()), (StatusCode::TOO_MANY_REQUESTS, Some("auth.throttled"), Some("1")));
    assert!(body["message"].as_str().is_some_and(|m| m.contains("请稍后再试")), "in Chinese by default: {body}");

    // Fifty failures from one peer, each under another username and forged forwarded address.
    for n in 0..50 {
        let (status, body, _) = sign_in_from(&api, "192.0.2.9:4000", &format!("10.9.{n}.1"), &format!("guess{n}"), "wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}: {body}");
    }
    let (status, body, retry_after) = sign_in_from(&api, "192.0.2.9:4001", "10.9.99.1", "west.clerk", "pw-west.clerk").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("auth.throttled")), "the peer's budget is spent");
    assert!(retry_after.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s > 0 && s <= 900));
    let (status, body, _) = sign_in_from(&api, "198.51.100.3:4000", "10.9.1.1", "west.clerk", "pw-west.clerk").await;
    assert_eq!(status, StatusCode::OK, "another peer signs in: {body}");
}

#[tokio::test]
async fn enrolment_refuses_bad_and_duplicate_input_with_stable_codes() {
    let api = setup("enrol").await;
    let (east, _) = enrol_both(&api).await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (enrolment(EAST_PERSON, "419921", "HH-E1"), StatusCode::CONFLICT, "person.already_enrolled"),
        // Readable, but its check digit is wrong: the rules refuse it (422).
        (enrolment("419921196203140048", "419921", "HH-E1"), StatusCode::UNPROCESSABLE_ENTITY, "person.bad_id"),
        // Fields missing: the request cannot be read (400).
        (json!({ "name": "x" }), StatusCode::BAD_REQUEST, "request.malformed"),
        (enrolment("419921196203140058", "419922", "HH-W1"), StatusCode::FORBIDDEN, "access.outside_region"),
        (
            {
                let mut e = enrolment("419921199001010013", "419921", "HH-E1");
                e["tier"] = json!(9);
                e
            },
            StatusCode::BAD_REQUEST,
            "request.malformed",
        ),
        (
            {
                let mut e = enrolment("419921199001010013", "419921", "HH-E1");
                e["tier"] = Value::Null;
                e
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "person.bad_tier",
        ),
        (
            {
                let mut e = enrolment("419921199001010013", "419921", "HH-E1");
                e["category"] = json!("retired");
                e
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "person.bad_category",
        ),
        (enrolment("419921199001010013", "419921", "HH-NONE"), StatusCode::NOT_FOUND, "household.not_found"),
    ];
    // What a tester sent (issue 12): a NUL, a right-to-left override, only a zero-width
    // space, a 100,000-character card number; each is refused by the one rule that also
    // guards updates and imports.
    let mut hostile = Vec::new();
    for (field, value, code) in [
        ("name", "张\u{0}三".to_owned(), "person.bad_name"),
        ("name", "张\u{202E}三".to_owned(), "person.bad_name"),
        ("name", "\u{200B}".to_owned(), "person.bad_name"),
        ("card_no", "9".repeat(100_000), "person.bad_card_no"),
        ("card_no", "C 0001".to_owned(), "person.bad_card_no"),
        ("card_no", "C0001".to_owned(), "person.card_taken"),
    ] {
        let mut e = enrolment("419921199001010013", "419921", "HH-E1");
        e[field] = json!(value);
        hostile.push((e, code));
    }
    for (body, code) in hostile {
        let (status, answer) = api.call("POST", "/api/persons", Auth::Token(&east), Some(body)).await;
        assert!(status.is_client_error() && answer["code"] == code, "{code}: {status} {answer}");
    }
    for (index, (body, status, code)) in cases.into_iter().enumerate() {
        let (got, answer) = api.call("POST", "/api/persons", Auth::Token(&east), Some(body)).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "case {index}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "case {index} says what is wrong");
    }
    for (address, code) in [("x".repeat(1 << 20), "household.bad_address"), ("幸福村\u{202E}1 组".to_owned(), "household.bad_address")]
    {
        let (status, answer) = api
            .call(
                "POST",
                "/api/households",
                Auth::Token(&east),
                Some(json!({ "household_id": "HH-E9", "region": "419921", "address": address })),
            )
            .await;
        assert!(status.is_client_error() && answer["code"] == code, "{status} {answer}");
    }
    let (status, body) = api.call("POST", "/api/persons", Auth::Token(&east), Some(json!("not an object"))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")));
    let (_, found) = api.call("GET", "/api/persons?household=HH-E1", Auth::Token(&east), None).await;
    assert_eq!(
        (found["total"].as_u64(), found["persons"].as_array().map(Vec::len)),
        (Some(1), Some(1)),
        "no refused enrolment wrote anything: {found}"
    );
}

/// R-GEO-2: a county clerk can neither read nor change another county's people, on every
/// endpoint that names a person.
#[tokio::test]
async fn a_county_clerk_cannot_reach_another_county_on_any_endpoint() {
    let api = setup("isolation").await;
    let (_, west) = enrol_both(&api).await;
    let p = EAST_PERSON;
    let attempts: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/persons/{p}"), None),
        ("PATCH", format!("/api/persons/{p}"), Some(json!({ "name": "李四", "card_no": null }))),
        ("POST", format!("/api/persons/{p}/tier-changes"), Some(json!({ "requested_on": "2026-02-01", "tier": 2 }))),
        ("POST", format!("/api/persons/{p}/end-coverage"), Some(json!({ "until": "2026-12-31" }))),
        (
            "POST",
            format!("/api/persons/{p}/coverage-changes"),
            Some(
                json!({ "on": "2026-06-01", "region": "419921", "household_id": "HH-E1", "scheme": "resident", "category": "resident", "tier": 2 }),
            ),
        ),
        ("GET", format!("/api/persons/{p}/accumulators?year=2026"), None),
        ("POST", format!("/api/persons/{p}/contributions"), Some(json!({ "kind": "resident", "period": "2026", "paid": "400.00" }))),
        ("GET", format!("/api/persons/{p}/contributions"), None),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = api.call(method, &path, Auth::Token(&west), body).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("person.not_found")), "{method} {path}: {answer}");
    }
    let (status, found) = api.call("GET", &format!("/api/persons?id={p}"), Auth::Token(&west), None).await;
    assert_eq!(
        (status, found["total"].as_u64(), found["persons"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0), Some(0)),
        "search never crosses counties"
    );
    // A search is paged, with its total; a page beyond the limits is refused, not cut.
    for limits in ["limit=201", "limit=0"] {
        let (status, answer) = api.call("GET", &format!("/api/persons?name=%E5%BC%A0&{limits}"), Auth::Token(&west), None).await;
        assert_eq!((status.is_client_error(), answer["code"].as_str()), (true, Some("search.bad_page")), "{limits}: {answer}");
    }
    // Nor can the west clerk create a household or enrol a person in the east county.
    let (status, answer) = api
        .call("POST", "/api/households", Auth::Token(&west), Some(json!({ "household_id": "HH-E9", "region": "419921", "address": "x" })))
        .await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("access.outside_region")), "{answer}");
    let (status, answer) =
        api.call("POST", "/api/persons", Auth::Token(&west), Some(enrolment("419921198001010019", "419921", "HH-E1"))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("access.outside_region")), "{answer}");
    let (_, arrears) = api.call("GET", "/api/arrears?period=2026", Auth::Token(&west), None).await;
    assert!(arrears["persons"].as_array().is_some_and(|a| a.iter().all(|p| p["region"] == "419922")));
    // The east person is unchanged: the city administrator sees no tier change, no end.
    let admin = api.sign_in("admin").await;
    let (status, person) = api.call("GET", &format!("/api/persons/{p}"), Auth::Token(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(person["coverage"]["coverage_until"], Value::Null);
    assert_eq!(person["coverage"]["tier_history"]["changes"], json!([]));
    assert_eq!((person["name"].as_str(), person["card_no"].as_str()), (Some("张三"), Some("C0001")), "no update either");
}

#[tokio::test]
async fn a_clerk_updates_a_person_and_reads_it_back() {
    let api = setup("update").await;
    let (east, _) = enrol_both(&api).await;
    let path = format!("/api/persons/{EAST_PERSON}");
    let (status, updated) = api
        .call("PATCH", &path, Auth::Token(&east), Some(json!({ "name": "张三丰", "card_no": "C0002", "assistance_group": "dibao" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (status, person) = api.call("GET", &path, Auth::Token(&east), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(person, updated, "GET shows the update");
    assert_eq!((person["name"].as_str(), person["card_no"].as_str()), (Some("张三丰"), Some("C0002")));
    assert_eq!(person["coverage"]["assistance_group"], "dibao");
    assert_eq!(person["coverage"]["supplementary"], true, "an absent field is unchanged");
    // null clears; an absent field stays.
    let (status, cleared) = api.call("PATCH", &path, Auth::Token(&east), Some(json!({ "card_no": null }))).await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!((cleared["card_no"].clone(), cleared["coverage"]["assistance_group"].as_str()), (Value::Null, Some("dibao")));
    for (body, code) in [
        (json!({}), "request.invalid"),
        (json!({ "name": "" }), "person.bad_name"),
        (json!({ "name": "王\u{0007}五" }), "person.bad_name"),
        (json!({ "name": "王\u{202E}五" }), "person.bad_name"),
        (json!({ "card_no": "9".repeat(100_000) }), "person.bad_card_no"),
        (json!({ "certified_chronic_diseases": ["bad code"] }), "request.invalid"),
        (json!({ "household_id": "HH-X" }), "request.malformed"),
    ] {
        let (status, answer) = api.call("PATCH", &path, Auth::Token(&east), Some(body.clone())).await;
        assert!(status.is_client_error() && answer["code"] == code, "{body}: {status} {answer}");
    }
    let (_, doc) = api.call("GET", "/api/openapi.json", Auth::None, None).await;
    assert!(doc["paths"]["/api/persons/{id}"].get("patch").is_some(), "the PATCH is documented");
}

#[tokio::test]
async fn tier_change_and_contributions() {
    let api = setup("tiers").await;
    let (east, _) = enrol_both(&api).await;
    // Requests are recorded within a month of being made: dated relative to today.
    let today = time::OffsetDateTime::now_utc().date();
    let (up_on, down_on) = (today - time::Duration::days(20), today - time::Duration::days(10));
    let (status, out) = api
        .call(
            "POST",
            &format!("/api/persons/{EAST_PERSON}/tier-changes"),
            Auth::Token(&east),
            Some(json!({ "requested_on": up_on.to_string(), "tier": 2 })),
        )
        .await;
    // Up from 3 to 2: the demo city waits 9 months.
    let waited = yibao_domain::add_months(up_on, 9).to_string();
    assert_eq!((status, out["benefits_from"].as_str()), (StatusCode::OK, Some(waited.as_str())), "{out}");
    let (status, out) = api
        .call(
            "POST",
            &format!("/api/persons/{EAST_PERSON}/tier-changes"),
            Auth::Token(&east),
            Some(json!({ "requested_on": down_on.to_string(), "tier": 4 })),
        )
        .await;
    let next_month = yibao_domain::first_of_next_month(down_on).to_string();
    assert_eq!((status, out["benefits_from"].as_str()), (StatusCode::OK, Some(next_month.as_str())), "down: the month after");
    let (status, out) = api
        .call(
            "POST",
            &format!("/api/persons/{EAST_PERSON}/tier-changes"),
            Auth::Token(&east),
            Some(json!({ "requested_on": (today - time::Duration::days(40)).to_string(), "tier": 1 })),
        )
        .await;
    assert_eq!((status, out["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_date")), "not backdated: {out}");
    let accountant = api.sign_in("accountant").await;
    // The counter's form sent twice under its receipt's number is one payment: the second
    // is answered with the first's record; the number for another amount is refused.
    let first_payment = json!({ "kind": "resident", "period": "2026", "paid": "100.00", "receipt": " SK-2026-0001 " });
    let mut records = Vec::new();
    for _ in 0..2 {
        let (status, record) = api
            .call("POST", &format!("/api/persons/{EAST_PERSON}/contributions"), Auth::Token(&accountant), Some(first_payment.clone()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        records.push(record);
    }
    assert_eq!(records[0], records[1], "sent twice, recorded once");
    let record = records.remove(0);
    for (receipt, paid) in [("SK-2026-0001", "200.00"), ("SK\u{0007}", "1.00")] {
        let (status, body) = api
            .call(
                "POST",
                &format!("/api/persons/{EAST_PERSON}/contributions"),
                Auth::Token(&accountant),
                Some(json!({ "kind": "resident", "period": "2026", "paid": paid, "receipt": receipt })),
            )
            .await;
        let code = if paid == "1.00" { "contribution.bad_receipt" } else { "contribution.receipt_reused" };
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{body}");
    }
    let due = fen(&record["due"]);
    assert!(due > 10_000, "the policy's personal contribution for the year: {due}");
    let (_, arrears) = api.call("GET", "/api/arrears?period=2026", Auth::Token(&accountant), None).await;
    assert_eq!(arrears["persons"][0]["owed"].as_str(), Some(yuan(due - 10_000).as_str()), "amounts are yuan strings: {arrears}");
    // The rest of the year in a second instalment, one fen too much: refused, naming what is
    // still owed; then exactly the rest, and the period is paid. A third payment is refused.
    let contribute = |paid: String| {
        let api = &api;
        let accountant = accountant.clone();
        async move {
            api.call(
                "POST",
                &format!("/api/persons/{EAST_PERSON}/contributions"),
                Auth::Token(&accountant),
                Some(json!({ "kind": "resident", "period": "2026", "paid": paid })),
            )
            .await
        }
    };
    let (status, body) = contribute(yuan(due - 10_000 + 1)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("contribution.overpaid")), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains(&format!("at most {} more", yuan(due - 10_000)))), "{body}");
    let (status, body) = contribute(yuan(due - 10_000)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = contribute("1.00".to_owned()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("contribution.overpaid")), "paid once: {body}");
    let (_, arrears) = api.call("GET", "/api/arrears?period=2026", Auth::Token(&accountant), None).await;
    assert!(arrears["persons"].as_array().is_some_and(Vec::is_empty), "nothing owed: {arrears}");
    let (status, body) = api
        .call(
            "POST",
            &format!("/api/persons/{EAST_PERSON}/contributions"),
            Auth::Token(&accountant),
            Some(json!({ "kind": "resident", "period": "2026", "paid": 1.5 })),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "floats are refused");
}

#[tokio::test]
async fn institutions_settle_their_own_claims_once_and_reverse_them() {
    settle_flow(&setup("settle").await).await;
}

/// The same flows on PostgreSQL: settlement, replay, reversal, audit, and county isolation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_behaves_the_same_on_postgresql() {
    let (api, _server) = setup_postgres().await;
    settle_flow(&api).await;
    let west = api.sign_in("west.clerk").await;
    let (status, answer) = api.call("GET", &format!("/api/persons/{EAST_PERSON}"), Auth::Token(&west), None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("person.not_found")));
    let east = api.sign_in("east.clerk").await;
    let (status, answer) = api.call("POST", "/api/persons", Auth::Token(&east), Some(enrolment(EAST_PERSON, "419921", "HH-E1"))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::CONFLICT, Some("person.already_enrolled")));
}

/// Issue 16's "done when" (R-ENR-5): a person moves from the employee to the resident
/// scheme and then to another county, and the hospital's claims are settled under the
/// coverage in force on their date of service before and after each move; the books hold.
async fn coverage_change_flow(api: &Api) {
    let east = api.sign_in("east.clerk").await;
    let west = api.sign_in("west.clerk").await;
    let admin = api.sign_in("admin").await;
    let id = "419921198001010510";
    assert!(yibao_domain::NationalId::parse(id).is_ok(), "a valid test id");
    for (token, household, region) in [(&east, "HH-MV-E", "419921"), (&west, "HH-MV-W", "419922")] {
        let (status, body) = api
            .call(
                "POST",
                "/api/households",
                Auth::Token(token),
                Some(json!({ "household_id": household, "region": region, "address": "迁移路 1 号" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let employee = json!({ "person_id": id, "name": "钱迁", "card_no": "C-MV", "household_id": "HH-MV-E", "region": "419921", "scheme": "employee", "category": "employed", "tier": 1, "coverage_from": "2024-01-01" });
    let (status, body) = api.call("POST", "/api/persons", Auth::Token(&east), Some(employee)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let settle = |claim_id: &'static str, admitted: &'static str| {
        let mut body = json!({ "person_id": id, "card_no": "C-MV", "claim": claim(claim_id, "H41992100007") });
        body["claim"]["admission_date"] = json!(admitted);
        body["claim"]["discharge_date"] = json!(admitted);
        api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body))
    };
    let admissions = || async {
        let (_, acc) = api.call("GET", &format!("/api/persons/{id}/accumulators?year=2026"), Auth::Token(&admin), None).await;
        acc["admissions"].as_u64()
    };
    let (status, first) = settle("MV-1", "2026-03-02").await;
    assert_eq!((status, first["settlement"]["insutype"].as_str()), (StatusCode::CREATED, Some("310")), "an employee's stay: {first}");

    let to_resident = json!({ "on": "2026-04-01", "region": "419921", "household_id": "HH-MV-E", "scheme": "resident", "category": "resident", "tier": 3 });
    let path = format!("/api/persons/{id}/coverage-changes");
    let mut no_tier = to_resident.clone();
    no_tier["tier"] = Value::Null;
    let refused = api.call("POST", &path, Auth::Token(&east), Some(no_tier)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_tier")), "{}", refused.1);
    let mut wrong_category = to_resident.clone();
    wrong_category["category"] = json!("employed");
    let refused = api.call("POST", &path, Auth::Token(&east), Some(wrong_category)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_category")), "{}", refused.1);
    let mut ahead = to_resident.clone();
    ahead["on"] = json!("2099-01-01");
    let refused = api.call("POST", &path, Auth::Token(&east), Some(ahead)).await;
    assert_eq!(
        code(&refused),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_date")),
        "a change is not recorded ahead: {}",
        refused.1
    );
    let mut before_claim = to_resident.clone();
    before_claim["on"] = json!("2026-03-01");
    let refused = api.call("POST", &path, Auth::Token(&east), Some(before_claim)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.change_after_claims")), "{}", refused.1);
    let (status, moved) = api.call("POST", &path, Auth::Token(&east), Some(to_resident)).await;
    assert_eq!((status, moved["coverage"]["scheme"].as_str()), (StatusCode::OK, Some("resident")), "{moved}");
    assert_eq!(moved["history"][0]["coverage"]["coverage_until"], "2026-03-31", "{moved}");
    assert_eq!(admissions().await, Some(0), "the resident year starts at zero");

    // March is billed as the employee the person was then, after the move to residents.
    let contributions = format!("/api/persons/{id}/contributions");
    let march = json!({ "kind": "employee", "period": "2026-03", "paid": "0.00", "wage_monthly": "5000.00" });
    // A hostile hospital cannot move, end or bury the person with its key: only staff do.
    for (what, body) in [
        (
            path.clone(),
            json!({ "on": "2026-04-01", "region": "419921", "household_id": "HH-MV-E", "scheme": "employee", "category": "employed", "tier": 1 }),
        ),
        (format!("/api/persons/{id}/death"), json!({ "died_on": "2026-04-01" })),
    ] {
        let (status, answer) = api.call("POST", &what, Auth::Key("key-east"), Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {answer}");
    }
    let (status, billed) = api.call("POST", &contributions, Auth::Token(&east), Some(march)).await;
    assert_eq!(status, StatusCode::CREATED, "a month of the employee spell is billed under it: {billed}");
    let (status, second) = settle("MV-2", "2026-04-02").await;
    assert_eq!((status, second["settlement"]["insutype"].as_str()), (StatusCode::CREATED, Some("390")), "a resident's stay: {second}");
    let late = settle("MV-LATE", "2026-03-20").await;
    assert_eq!(code(&late), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.coverage_changed")), "{}", late.1);

    let to_west = json!({ "on": "2026-05-01", "region": "419922", "household_id": "HH-MV-W", "scheme": "resident", "category": "resident", "tier": 3 });
    let refused = api.call("POST", &path, Auth::Token(&east), Some(to_west.clone())).await;
    assert_eq!(refused.0, StatusCode::FORBIDDEN, "a move between counties is the city's: {}", refused.1);
    let (status, moved) = api.call("POST", &path, Auth::Token(&admin), Some(to_west)).await;
    assert_eq!((status, moved["coverage"]["region"].as_str()), (StatusCode::OK, Some("419922")), "{moved}");
    let (status, _) = api.call("GET", &format!("/api/persons/{id}"), Auth::Token(&west), None).await;
    assert_eq!(status, StatusCode::OK, "West holds the person now");
    let (status, second_again) = settle("MV-2", "2026-04-02").await;
    assert_eq!((status, second_again["replayed"].as_bool()), (StatusCode::OK, Some(true)), "a retry after the move replays");
    let (status, third) = settle("MV-3", "2026-05-03").await;
    assert_eq!((status, third["settlement"]["insutype"].as_str()), (StatusCode::CREATED, Some("390")), "{third}");
    assert_eq!(admissions().await, Some(2), "the city's resident year carried across the county move");
    // Coverage cannot end before a claim settled under it, nor change after a death.
    let refused =
        api.call("POST", &format!("/api/persons/{id}/end-coverage"), Auth::Token(&west), Some(json!({ "until": "2026-05-02" }))).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.change_after_claims")), "{}", refused.1);
    let death = format!("/api/persons/{id}/death");
    let refused = api.call("POST", &death, Auth::Token(&west), Some(json!({ "died_on": "2099-01-01" }))).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_date")), "a death after today: {}", refused.1);
    let (status, dead) = api.call("POST", &death, Auth::Token(&west), Some(json!({ "died_on": "2026-05-20" }))).await;
    assert_eq!(
        (status, dead["died_on"].as_str(), dead["coverage"]["coverage_until"].as_str()),
        (StatusCode::OK, Some("2026-05-20"), Some("2026-05-20")),
        "{dead}"
    );
    let again = json!({ "on": "2026-06-01", "region": "419922", "household_id": "HH-MV-W", "scheme": "resident", "category": "resident", "tier": 3 });
    let refused = api.call("POST", &path, Auth::Token(&west), Some(again)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.deceased")), "{}", refused.1);
    // Nothing is billed for a month after the death, no tier changes, no stay runs past it.
    let june = json!({ "kind": "resident", "period": "2027", "paid": "0.00" });
    let refused = api.call("POST", &contributions, Auth::Token(&west), Some(june)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.deceased")), "{}", refused.1);
    let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
    let tier = json!({ "requested_on": yesterday.to_string(), "tier": 2 });
    let refused = api.call("POST", &format!("/api/persons/{id}/tier-changes"), Auth::Token(&west), Some(tier)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.deceased")), "{}", refused.1);
    let mut past_death = json!({ "person_id": id, "card_no": "C-MV", "claim": claim("MV-DEATH", "H41992100007") });
    past_death["claim"]["admission_date"] = json!("2026-05-18");
    past_death["claim"]["discharge_date"] = json!("2026-05-25");
    let refused = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(past_death)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.after_death")), "{}", refused.1);
    // A newborn joins the household, covered from the day of birth, never before it.
    let newborn = |from: &str| json!({ "person_id": "419922202610010028", "name": "钱新", "household_id": "HH-MV-W", "region": "419922", "scheme": "resident", "category": "resident", "tier": 3, "coverage_from": from });
    let refused = api.call("POST", "/api/persons", Auth::Token(&west), Some(newborn("2026-09-30"))).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_date")), "covered before birth: {}", refused.1);
    let (status, body) = api.call("POST", "/api/persons", Auth::Token(&west), Some(newborn("2026-10-01"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let auditor = api.sign_in("auditor").await;
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
    let (status, verification) = api.call("GET", "/api/audit/verify", Auth::Token(&auditor), None).await;
    assert_eq!((status, verification["breaks"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{verification}");
}

/// Two employees move in opposite directions between East and West, then complete the
/// months they had partly paid at the same moment: each month's records stay in the county
/// they began in, and on PostgreSQL the counters of both counties are locked in one order,
/// so no payment deadlocks (a hostile review saw 500s here) and the books hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossed_moves_then_concurrent_payments_never_deadlock_on_postgresql() {
    let (api, _server) = setup_postgres().await;
    let (east, west, admin) = (api.sign_in("east.clerk").await, api.sign_in("west.clerk").await, api.sign_in("admin").await);
    let accountant = api.sign_in("accountant").await;
    let id = |region: &str, serial: u16| {
        yibao_domain::NationalId::from_parts(RegionCode::parse(region).expect("region"), time::macros::date!(1980 - 01 - 01), serial)
            .expect("an id")
            .to_string()
    };
    let (p1, p2) = (id("419921", 120), id("419922", 121));
    for (token, household, region, person, card) in [(&east, "HH-X-E", "419921", &p1, "C-X1"), (&west, "HH-X-W", "419922", &p2, "C-X2")] {
        let body = json!({ "household_id": household, "region": region, "address": "交叉路 1 号" });
        assert_eq!(api.call("POST", "/api/households", Auth::Token(token), Some(body)).await.0, StatusCode::CREATED);
        let body = json!({ "person_id": person, "name": "交叉", "card_no": card, "household_id": household, "region": region, "scheme": "employee", "category": "employed", "tier": 1, "coverage_from": "2024-01-01" });
        let (status, answer) = api.call("POST", "/api/persons", Auth::Token(token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let pay = |person: String, period: String, paid: String| {
        let (api, accountant) = (&api, accountant.clone());
        async move {
            let body = json!({ "kind": "employee", "period": period, "paid": paid, "wage_monthly": "5000.00" });
            api.call("POST", &format!("/api/persons/{person}/contributions"), Auth::Token(&accountant), Some(body)).await
        }
    };
    let months: Vec<String> = (1..=6).map(|m| format!("2026-{m:02}")).collect();
    let mut due = 0;
    for month in &months {
        for person in [&p1, &p2] {
            let (status, body) = pay(person.clone(), month.clone(), "100.00".into()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            due = fen(&body["due"]);
        }
    }
    let change = |region: &str, household: &str| json!({ "on": "2026-07-01", "region": region, "household_id": household, "scheme": "employee", "category": "employed", "tier": 1 });
    for (person, region, household) in [(&p1, "419922", "HH-X-W"), (&p2, "419921", "HH-X-E")] {
        let (status, moved) = api
            .call("POST", &format!("/api/persons/{person}/coverage-changes"), Auth::Token(&admin), Some(change(region, household)))
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
    }
    for month in &months {
        let (a, b) = tokio::join!(pay(p1.clone(), month.clone(), yuan(due - 10_000)), pay(p2.clone(), month.clone(), yuan(due - 10_000)));
        assert_eq!((a.0, b.0), (StatusCode::CREATED, StatusCode::CREATED), "{month}: {} {}", a.1, b.1);
        assert_eq!((a.1["region"].as_str(), b.1["region"].as_str()), (Some("419921"), Some("419922")), "each month where it began");
    }
    let auditor = api.sign_in("auditor").await;
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
}

/// A referral on file goes with the person across a county move (R-ENR-5): the referred
/// stay after the move settles as referred, the deductible met at the referring hospital.
#[tokio::test]
async fn a_referral_on_file_goes_with_the_person_to_another_county() {
    let api = setup("referral-move").await;
    let (east, west, admin) = (api.sign_in("east.clerk").await, api.sign_in("west.clerk").await, api.sign_in("admin").await);
    let id = "419921198502020119";
    for (token, household, region) in [(&east, "HH-RF-E", "419921"), (&west, "HH-RF-W", "419922")] {
        let body = json!({ "household_id": household, "region": region, "address": "转诊路 1 号" });
        assert_eq!(api.call("POST", "/api/households", Auth::Token(token), Some(body)).await.0, StatusCode::CREATED);
    }
    let person = json!({ "person_id": id, "name": "冯转", "card_no": "C-RF", "household_id": "HH-RF-E", "region": "419921", "scheme": "resident", "category": "resident", "tier": 3, "coverage_from": "2024-01-01" });
    assert_eq!(api.call("POST", "/api/persons", Auth::Token(&east), Some(person)).await.0, StatusCode::CREATED);
    let settle = |c: Value| json!({ "person_id": id, "card_no": "C-RF", "claim": c });
    let mut first = claim("RF-1", "H41990200003");
    (first["admission_date"], first["discharge_date"]) = (json!("2026-02-01"), json!("2026-02-05"));
    let answer = api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(settle(first))).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    let referral = json!({ "from_institution": "H41990200003", "to_institution": "H41992100007", "issued_on": "2026-02-05", "valid_until": "2026-03-31" });
    let answer = api.call("POST", &format!("/api/persons/{id}/referrals"), Auth::Key("key-center"), Some(referral)).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    let to_west = json!({ "on": "2026-02-10", "region": "419922", "household_id": "HH-RF-W", "scheme": "resident", "category": "resident", "tier": 3 });
    let (status, moved) = api.call("POST", &format!("/api/persons/{id}/coverage-changes"), Auth::Token(&admin), Some(to_west)).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (_, referrals) = api.call("GET", &format!("/api/persons/{id}/referrals"), Auth::Token(&admin), None).await;
    assert_eq!(referrals.as_array().map(Vec::len), Some(1), "still on file: {referrals}");
    let mut referred = claim("RF-2", "H41992100007");
    referred["referral"] = json!(true);
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(settle(referred))).await;
    assert_eq!((status, answer["settlement"]["referral"].as_bool()), (StatusCode::CREATED, Some(true)), "{answer}");
}

/// Issue 16 item 2 (R-FIN-1, R-FIN-4): a clerk registers an employer and declares a
/// month's payroll; each line is billed as the person's own contribution (the employee's
/// 8% and the employer's maternity 0.5% on the wage within the demo pack's floor and
/// ceiling); the month is not paid at the counter, and a death before it is refused; the
/// accountant records the payment, refused when dated before the declaration or until it
/// is the exact bill with its late fee to the day; the months paid count toward the retiree
/// minimum, which the change to retired enforces until the months carried in are recorded;
/// a hospital cannot register employers; the books agree.
async fn employer_flow(api: &Api) {
    let east = api.sign_in("east.clerk").await;
    let accountant = api.sign_in("accountant").await;
    let auditor = api.sign_in("auditor").await;
    let unit = yibao_domain::EmployerCode::from_parts(yibao_domain::RegionCode::parse("419921").expect("region"), 777).expect("code");
    let employer = json!({ "code": unit.as_str(), "name": "东县纺织厂", "region": "419921", "registered_on": "2026-01-05" });
    let (status, body) = api.call("POST", "/api/employers", Auth::Key("key-east"), Some(employer.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a hospital registers no employer: {body}");
    let mut mistyped = employer.clone();
    let mut text = unit.as_str().to_owned();
    let last = if text.ends_with('0') { "1" } else { "0" };
    text.replace_range(17.., last);
    mistyped["code"] = json!(text);
    let refused = api.call("POST", "/api/employers", Auth::Token(&east), Some(mistyped)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("employer.bad_code")), "{}", refused.1);
    let (status, body) = api.call("POST", "/api/employers", Auth::Token(&east), Some(employer.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let again = api.call("POST", "/api/employers", Auth::Token(&east), Some(employer)).await;
    assert_eq!(code(&again), (StatusCode::CONFLICT, Some("employer.exists")), "{}", again.1);

    let id = "419921197001010516";
    assert!(yibao_domain::NationalId::parse(id).is_ok(), "a valid test id");
    let (status, body) = api
        .call(
            "POST",
            "/api/households",
            Auth::Token(&east),
            Some(json!({ "household_id": "HH-EMP", "region": "419921", "address": "纺织路 1 号" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let person = json!({ "person_id": id, "name": "周织", "household_id": "HH-EMP", "region": "419921", "scheme": "employee", "category": "employed", "tier": 1, "coverage_from": "2024-01-01", "maternity": true });
    let (status, body) = api.call("POST", "/api/persons", Auth::Token(&east), Some(person)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let declarations = format!("/api/employers/{unit}/declarations");
    let declaration = json!({ "period": "2026-02", "lines": [{ "person_id": id, "wage": "8000" }] });
    let (status, declared) = api.call("POST", &declarations, Auth::Token(&east), Some(declaration.clone())).await;
    // Base 8,000 (between 60% and 300% of 6,450): 6% + 2% = 640.00, maternity 0.5% = 40.00.
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    assert_eq!((declared["due"].as_str(), declared["due_on"].as_str()), (Some("680.00"), Some("2026-03-15")), "{declared}");
    assert_eq!(declared["lines"][0]["employee_due"], "640.00", "{declared}");
    let twice = api.call("POST", &declarations, Auth::Token(&east), Some(declaration)).await;
    assert_eq!(code(&twice), (StatusCode::CONFLICT, Some("declaration.exists")), "{}", twice.1);
    let ahead = api
        .call(
            "POST",
            &declarations,
            Auth::Token(&east),
            Some(json!({ "period": "2099-01", "lines": [{ "person_id": id, "wage": "8000" }] })),
        )
        .await;
    assert_eq!(code(&ahead), (StatusCode::UNPROCESSABLE_ENTITY, Some("declaration.bad_period")), "{}", ahead.1);
    let (status, owed) = api.call("GET", "/api/arrears?period=2026-02", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{owed}");
    assert!(owed.to_string().contains(id), "the declared month is the person's arrears: {owed}");

    // The month is paid at the employer's payment, never at the counter.
    let counter = json!({ "kind": "employee", "period": "2026-02", "paid": "640", "wage_monthly": "8000" });
    let refused = api.call("POST", &format!("/api/persons/{id}/contributions"), Auth::Token(&accountant), Some(counter)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("contribution.declared")), "{}", refused.1);
    // Nor is a month before the person was insured billed at all.
    let before = json!({ "kind": "employee", "period": "2023-12", "paid": "640", "wage_monthly": "8000" });
    let refused = api.call("POST", &format!("/api/persons/{id}/contributions"), Auth::Token(&accountant), Some(before)).await;
    assert_eq!(code(&refused).0, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.1);
    // A new household before a declared month bills it alike: recorded.
    let (status, body) = api
        .call(
            "POST",
            "/api/households",
            Auth::Token(&east),
            Some(json!({ "household_id": "HH-EMP2", "region": "419921", "address": "纺织路 2 号" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let moved_house = json!({ "on": "2026-01-15", "region": "419921", "household_id": "HH-EMP2", "scheme": "employee", "category": "employed", "tier": 1 });
    let (status, body) = api.call("POST", &format!("/api/persons/{id}/coverage-changes"), Auth::Token(&east), Some(moved_house)).await;
    assert_eq!(status, StatusCode::OK, "a household change bills the declared month alike: {body}");
    // A death before a declared month would leave it billed: the declaration comes first.
    let died = api.call("POST", &format!("/api/persons/{id}/death"), Auth::Token(&east), Some(json!({ "died_on": "2026-01-20" }))).await;
    assert_eq!(code(&died), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.declared_after")), "{}", died.1);

    // Paid today, declared today: the late fee runs from 15 March, 0.34 a day on 680.00.
    let (_, listed) = api.call("GET", &declarations, Auth::Token(&auditor), None).await;
    let today = yibao_domain::parse_date(listed[0]["on"].as_str().expect("the day the bill is for")).expect("a date");
    let days = (today - time::macros::date!(2026 - 03 - 15)).whole_days();
    let bill = yibao_domain::Fen::new(68_000 + 34 * days);
    assert_eq!(listed[0]["to_pay_on"]["fee"].as_str(), Some(yibao_domain::Fen::new(34 * days).to_string().as_str()), "{listed}");
    let payment = format!("/api/employers/{unit}/declarations/2026-02/payment");
    let early = api.call("POST", &payment, Auth::Token(&accountant), Some(json!({ "paid_on": "2026-03-25", "amount": "683.40" }))).await;
    assert_eq!(code(&early), (StatusCode::UNPROCESSABLE_ENTITY, Some("employer.bad_date")), "paid before it was declared: {}", early.1);
    let short = api.call("POST", &payment, Auth::Token(&accountant), Some(json!({ "paid_on": today.to_string(), "amount": "680" }))).await;
    assert_eq!(code(&short), (StatusCode::UNPROCESSABLE_ENTITY, Some("employer.amount_mismatch")), "{}", short.1);
    assert!(short.1["message"].as_str().is_some_and(|m| m.contains(&bill.to_string())), "the exact bill {bill}: {}", short.1);
    let (status, paid) = api
        .call("POST", &payment, Auth::Token(&accountant), Some(json!({ "paid_on": today.to_string(), "amount": bill.to_string() })))
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["payment"]["late_fee"]["days"].as_i64(), Some(days), "{paid}");
    assert_eq!(paid["owed"].as_str(), Some("0.00"), "{paid}");
    let (_, listed) = api.call("GET", &declarations, Auth::Token(&auditor), None).await;
    assert!(listed[0]["to_pay_on"].is_null(), "nothing to pay once paid: {listed}");

    // A worker who has moved to another county since is still declared for a month worked
    // here, by the employer of that month.
    let admin = api.sign_in("admin").await;
    let mover = "419921198203030536";
    assert!(yibao_domain::NationalId::parse(mover).is_ok(), "a valid test id");
    let worker = json!({ "person_id": mover, "name": "郑动", "household_id": "HH-EMP", "region": "419921", "scheme": "employee", "category": "employed", "tier": 1, "coverage_from": "2024-01-01", "maternity": true });
    let (status, body) = api.call("POST", "/api/persons", Auth::Token(&east), Some(worker)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // March's employee contribution is begun at the counter in East before the move; its
    // maternity is not, so that chain begins in West, where the person is at the declaration.
    let begun = json!({ "kind": "employee", "period": "2026-03", "paid": "100", "wage_monthly": "5000" });
    let (status, body) = api.call("POST", &format!("/api/persons/{mover}/contributions"), Auth::Token(&accountant), Some(begun)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api
        .call(
            "POST",
            "/api/households",
            Auth::Token(&admin),
            Some(json!({ "household_id": "HH-EMP-W", "region": "419922", "address": "西县新路 2 号" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let to_west = json!({ "on": "2026-06-01", "region": "419922", "household_id": "HH-EMP-W", "scheme": "employee", "category": "employed", "tier": 1 });
    let (status, body) = api.call("POST", &format!("/api/persons/{mover}/coverage-changes"), Auth::Token(&admin), Some(to_west)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let march = json!({ "period": "2026-03", "lines": [{ "person_id": mover, "wage": "5000" }] });
    let (status, body) = api.call("POST", &declarations, Auth::Token(&east), Some(march)).await;
    // 8% of 5,000 and the maternity 0.5%: 425.00 billed, 325.00 still owed.
    assert_eq!((status, body["due"].as_str(), body["owed"].as_str()), (StatusCode::CREATED, Some("425.00"), Some("325.00")), "{body}");
    assert_eq!(
        (body["lines"][0]["employee_booked_in"].as_str(), body["lines"][0]["maternity_booked_in"].as_str()),
        (Some("419921"), Some("419922")),
        "{body}"
    );
    let (_, listed) = api.call("GET", &declarations, Auth::Token(&auditor), None).await;
    let march_owed = listed.as_array().and_then(|all| all.iter().find(|d| d["period"] == "2026-03")).map(|d| d["owed"].clone());
    assert_eq!(march_owed, Some(json!("325.00")), "each kind's chain where it is booked: {listed}");
    let july = json!({ "period": "2026-07", "lines": [{ "person_id": mover, "wage": "5000" }] });
    let refused = api.call("POST", &declarations, Auth::Token(&east), Some(july)).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("declaration.not_employee")), "not East's in July: {}", refused.1);

    let years = format!("/api/persons/{id}/contribution-years");
    let (status, counted) = api.call("GET", &years, Auth::Token(&east), None).await;
    assert_eq!(status, StatusCode::OK, "{counted}");
    assert_eq!(
        (counted["paid_months"].as_u64(), counted["required_months"].as_u64(), counted["short_months"].as_u64()),
        (Some(1), Some(300), Some(299)),
        "{counted}"
    );
    let retire =
        json!({ "on": "2026-04-01", "region": "419921", "household_id": "HH-EMP", "scheme": "employee", "category": "retired", "tier": 1 });
    let path = format!("/api/persons/{id}/coverage-changes");
    let refused = api.call("POST", &path, Auth::Token(&east), Some(retire.clone())).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.short_contribution_years")), "{}", refused.1);
    let (status, counted) = api.call("PUT", &years, Auth::Token(&east), Some(json!({ "carried_months": 299 }))).await;
    assert_eq!((status, counted["short_months"].as_u64()), (StatusCode::OK, Some(0)), "{counted}");
    let (status, retired) = api.call("POST", &path, Auth::Token(&east), Some(retire)).await;
    assert_eq!((status, retired["coverage"]["category"].as_str()), (StatusCode::OK, Some("retired")), "{retired}");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["sound"].as_bool(), Some(true), "the books agree with the late fee: {check}");
}

/// Issue 16 item 4 (R-FIN-4), under the demo pack's rule (a period still owed 90 days after
/// it began suspends benefits; a plan kept to resumes them from the day it is agreed; paid in
/// full, the days between are covered too): a resident who paid part of last year is refused
/// a stay of last June; a plan of all of it is agreed (not on a stale total, nor over 60
/// months); while it is open the year is not paid at the counter; a stay from the day of the
/// agreement is settled, last June's still is not; the payments go oldest first and never
/// beyond the plan; paid in full, last June's stay is settled too; the books are sound.
async fn arrears_flow(api: &Api) {
    let (east, _) = enrol_both(api).await;
    let accountant = api.sign_in("accountant").await;
    let auditor = api.sign_in("auditor").await;
    let today = time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("offset")).date();
    let last_year = today.year() - 1;
    let contributions = format!("/api/persons/{EAST_PERSON}/contributions");
    let part = json!({ "kind": "resident", "period": last_year.to_string(), "paid": "100" });
    let (status, recorded) = api.call("POST", &contributions, Auth::Token(&accountant), Some(part)).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let due = yibao_domain::Fen::parse_yuan(recorded["due"].as_str().expect("due")).expect("yuan");
    let owed = due - yibao_domain::Fen::new(10_000);
    assert!(owed.get() > 0, "{recorded}");

    let stay = |claim_id: &str, on: time::Date| {
        json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": { "claim_id": claim_id, "institution_code": "H41992100007",
                "institution_level": "secondary", "kind": "inpatient", "admission_date": on.to_string(), "discharge_date": on.to_string(),
                "diagnosis": "K35.900", "lines": [{ "code": "XA10BAE010A001010100315", "quantity": 1, "unit_price": "2500.00" }] } })
    };
    let june = time::Date::from_calendar_date(last_year, time::Month::June, 1).expect("date");
    let refused = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay("AR-JUNE", june))).await;
    assert_eq!(code(&refused), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.benefits_suspended")), "{}", refused.1);
    assert!(refused.1["message"].as_str().unwrap_or_default().contains(&format!("{last_year}-04-01")), "{}", refused.1);
    let pre = api.call("POST", "/api/pre-settlements", Auth::Key("key-east"), Some(stay("AR-PRE", june))).await;
    assert_eq!(code(&pre), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.benefits_suspended")), "{}", pre.1);

    let plan = format!("/api/persons/{EAST_PERSON}/arrears-plan");
    let (status, _) = api.call("GET", &plan, Auth::Key("key-east"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a hospital reads no arrears");
    let (status, view) = api.call("GET", &plan, Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["owed"].as_str(), Some(owed.to_string().as_str()), "{view}");
    assert_eq!(view["standing"]["standing"], "suspended", "{view}");
    let agree = |total: yibao_domain::Fen, instalments: u32| json!({ "instalments": instalments, "first_due_on": today.to_string(), "total": total.to_string() });
    let stale = api.call("POST", &plan, Auth::Token(&accountant), Some(agree(owed + yibao_domain::Fen::new(1), 3))).await;
    assert_eq!(code(&stale), (StatusCode::UNPROCESSABLE_ENTITY, Some("arrears.changed")), "{}", stale.1);
    let long = api.call("POST", &plan, Auth::Token(&accountant), Some(agree(owed, 61))).await;
    assert_eq!(code(&long), (StatusCode::UNPROCESSABLE_ENTITY, Some("arrears.bad_instalments")), "at most 60: {}", long.1);
    let (status, agreed) = api.call("POST", &plan, Auth::Token(&accountant), Some(agree(owed, 3))).await;
    assert_eq!(status, StatusCode::CREATED, "{agreed}");
    assert_eq!(agreed["schedule"].as_array().map(Vec::len), Some(3), "{agreed}");
    let again = api.call("POST", &plan, Auth::Token(&accountant), Some(agree(owed, 3))).await;
    assert_eq!(code(&again), (StatusCode::UNPROCESSABLE_ENTITY, Some("arrears.plan_open")), "{}", again.1);
    let counter = json!({ "kind": "resident", "period": last_year.to_string(), "paid": owed.to_string() });
    let at_counter = api.call("POST", &contributions, Auth::Token(&accountant), Some(counter)).await;
    assert_eq!(code(&at_counter), (StatusCode::UNPROCESSABLE_ENTITY, Some("contribution.in_plan")), "{}", at_counter.1);

    // The plan resumes benefits from today; last June stays suspended until paid.
    let (status, settled) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay("AR-TODAY", today))).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    let still = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay("AR-JUNE", june))).await;
    assert_eq!(code(&still), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.benefits_suspended")), "{}", still.1);

    let payments = format!("{plan}/payments");
    let over = api
        .call(
            "POST",
            &payments,
            Auth::Token(&accountant),
            Some(json!({ "receipt": "AR-0", "amount": (owed + yibao_domain::Fen::new(1)).to_string() })),
        )
        .await;
    assert_eq!(code(&over), (StatusCode::UNPROCESSABLE_ENTITY, Some("arrears.overpaid")), "{}", over.1);
    let (status, first) = api.call("POST", &payments, Auth::Token(&east), Some(json!({ "receipt": "AR-1", "amount": "1.00" }))).await;
    assert_eq!((status, first["status"].as_str()), (StatusCode::OK, Some("open")), "{first}");
    let rest = owed - yibao_domain::Fen::new(100);
    let (status, done) =
        api.call("POST", &payments, Auth::Token(&accountant), Some(json!({ "receipt": "AR-2", "amount": rest.to_string() }))).await;
    // The form sent twice: the same receipt records nothing more.
    let (status_again, again) =
        api.call("POST", &payments, Auth::Token(&accountant), Some(json!({ "receipt": "AR-2", "amount": rest.to_string() }))).await;
    assert_eq!((status_again, again["payments"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{again}");
    let missing = api.call("POST", &payments, Auth::Token(&accountant), Some(json!({ "receipt": " ", "amount": "1.00" }))).await;
    assert_eq!(code(&missing), (StatusCode::UNPROCESSABLE_ENTITY, Some("arrears.bad_receipt")), "{}", missing.1);
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("completed")), "{done}");
    let (status, view) = api.call("GET", &plan, Auth::Token(&auditor), None).await;
    assert_eq!((status, view["owed"].as_str()), (StatusCode::OK, Some("0.00")), "{view}");
    assert_eq!(view["standing"]["standing"], "in_force", "{view}");
    // Paid in full: the demo pack covers the days between (arrears.retroactive).
    let (status, settled) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay("AR-JUNE", june))).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
}

#[tokio::test]
async fn arrears_are_repaid_in_instalments_and_benefits_resume_on_sqlite() {
    arrears_flow(&setup("arrears").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrears_plans_behave_the_same_on_postgresql() {
    let (api, _server) = setup_postgres().await;
    arrears_flow(&api).await;
}

#[tokio::test]
async fn an_employer_declares_pays_late_and_its_employee_retires_on_sqlite() {
    employer_flow(&setup("employers").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employers_behave_the_same_on_postgresql() {
    let (api, _server) = setup_postgres().await;
    employer_flow(&api).await;
}

#[tokio::test]
async fn a_person_moving_between_schemes_and_counties_is_settled_under_each_coverage() {
    coverage_change_flow(&setup("moves").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_changes_behave_the_same_on_postgresql() {
    let (api, _server) = setup_postgres().await;
    coverage_change_flow(&api).await;
}

#[tokio::test]
async fn the_fund_accountant_books_runs_the_month_and_checks_the_books() {
    funds_flow(&setup("funds").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fund_books_behave_the_same_on_postgresql() {
    let (api, _server) = setup_postgres().await;
    funds_flow(&api).await;
}

/// R-FND-1/2: a settlement owes the hospital; the accountant books the fund's opening
/// balance and runs the month's pooling, which pays the hospital; the month runs once; the
/// books check sound; clerks can do none of it.
async fn funds_flow(api: &Api) {
    enrol_both(api).await;
    let accountant = api.sign_in("accountant").await;
    let east_clerk = api.sign_in("east.clerk").await;
    let opening = json!({ "kind": "opening-balance", "scheme": "resident", "unit": "419900", "amount": "1000000.00", "date": "2026-01-01", "reference": "OB-1" });
    let (status, refusal) = api.call("POST", "/api/funds/receipts", Auth::Token(&east_clerk), Some(opening.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refusal}");
    let (status, body) = api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(opening)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bad = json!({ "kind": "opening-balance", "scheme": "pension", "unit": "419900", "amount": "1.00", "date": "2026-01-01", "reference": "OB-2" });
    let (status, body) = api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(bad)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "not a fund: {body}");

    let body = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim("F-1", "H41992100007") });
    let (status, settled) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    let pooled = yibao_domain::Fen::parse_yuan(settled["settlement"]["hifp_pay"].as_str().expect("hifp_pay")).expect("yuan");
    assert!(pooled.get() > 0);
    // The hospital is told which funds pay, with their national codes (issue 13): the
    // residents' basic fund pays this stay, and its line is the pooled amount.
    let detail = &settled["settlement"]["setldetail"][0];
    assert_eq!(
        (detail["fund_pay_type"].as_str(), detail["field"].as_str(), detail["fund_payamt"].as_str()),
        (Some("390100"), Some("hifp_pay"), Some(pooled.to_string().as_str())),
        "{settled}"
    );

    // The settlement is dated today: run this month.
    let today = time::OffsetDateTime::now_utc().date();
    let month = format!("{:04}-{:02}", today.year(), u8::from(today.month()));
    // Dated today, whatever the pack's sweep day (a run is never dated in the future): today's
    // settlement is in.
    let last = today.day();
    let run = json!({ "month": month, "day": last });
    assert_eq!(api.call("POST", "/api/funds/pooling-runs", Auth::Token(&east_clerk), Some(run.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, preview) =
        api.call("GET", &format!("/api/funds/pooling-runs/preview?month={month}&day={last}"), Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let (status, first) = api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(run.clone())).await;
    assert_eq!(preview, first["run"], "the preview shows what the run then does");
    assert_eq!((status, first["ran_now"].as_bool()), (StatusCode::CREATED, Some(true)), "{first}");
    let resident = first["run"]["funds"].as_array().expect("funds").iter().find(|f| f["fund"] == "resident@419900").expect("resident fund");
    let east = resident["units"].as_array().expect("units").iter().find(|u| u["unit"] == "419921").expect("east");
    assert_eq!(east["payments"], json!([{ "payee": "institution:H41992100007", "amount": pooled.to_string() }]));
    assert!(resident["notes"].as_array().is_some_and(|n| !n.is_empty()), "the run explains every amount");
    let (status, again) = api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(run)).await;
    assert_eq!((status, again["ran_now"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(again["run"], first["run"], "a month runs once");
    let (status, bad) = api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(json!({ "month": "2026-13" }))).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "not a month: {bad}");

    let auditor = api.sign_in("auditor").await;
    let (status, accounts) = api.call("GET", "/api/funds/accounts", Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK);
    let payable = accounts
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["fund"] == "resident@419900" && a["holder"] == "institution:H41992100007" && a["kind"] == "payable")
        .expect("the hospital's payable");
    assert_eq!(payable["balance"], "0.00", "paid in full: {payable}");
    assert_eq!(api.call("GET", "/api/funds/accounts", Auth::Token(&east_clerk), None).await.0, StatusCode::FORBIDDEN);
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
    // Malformed queries are {code, message} 400s, like every other error.
    let (status, bad) = api.call("GET", "/api/funds/movements?from=2026-01-01", Auth::Token(&accountant), None).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "{bad}");
    let (status, bad) = api.call("GET", "/api/funds/movements?from=May&to=2026-12-31", Auth::Token(&accountant), None).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "{bad}");
    let (status, movements) = api.call("GET", "/api/funds/movements?from=2026-01-01&to=2026-12-31", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK);
    let settled_fen: i64 = movements
        .as_array()
        .expect("movements")
        .iter()
        .filter(|m| m["reason"] == "settlement.pooled" && m["unit"] == "419921")
        .map(|m| fen(&m["amount"]))
        .sum();
    assert_eq!(settled_fen, pooled.get());

    // A budget for the east county's resident fund, and its execution through the year.
    let budget = json!({ "year": today.year(), "scheme": "resident", "unit": "419921", "income": "0.00", "spending": "100000.00" });
    assert_eq!(api.call("PUT", "/api/funds/budgets", Auth::Token(&east_clerk), Some(budget.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, body) = api.call("PUT", "/api/funds/budgets", Auth::Token(&accountant), Some(budget)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, execution) = api.call("GET", &format!("/api/funds/budgets?year={}", today.year()), Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    let months = execution[0]["months"].as_array().expect("months");
    assert_eq!(months.len(), 12);
    assert_eq!(
        (months[11]["month"].as_u64(), fen(&months[11]["spending"])),
        (Some(12), pooled.get()),
        "the year's spending against the budget: {execution}"
    );

    // A handover is signed by one person and confirmed by another, quoting its checksum.
    let admin = api.sign_in("admin").await;
    let ncms = json!({ "kind": "opening-balance", "scheme": "ncms", "unit": "419921", "amount": "500.00", "date": "2026-01-01", "reference": "NCMS-OB" });
    assert_eq!(api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(ncms)).await.0, StatusCode::CREATED);
    let handover = json!({ "from": "ncms", "to": "resident", "cut_off": "2026-06-30", "reference": "H-1" });
    let (status, inventory) = api.call("POST", "/api/funds/handovers", Auth::Token(&accountant), Some(handover)).await;
    assert_eq!(status, StatusCode::CREATED, "{inventory}");
    let checksum = inventory["checksum"].as_str().expect("checksum").to_owned();
    let confirm = json!({ "checksum": checksum });
    let (status, refusal) =
        api.call("POST", "/api/funds/handovers/H-1/confirmation", Auth::Token(&accountant), Some(confirm.clone())).await;
    assert_eq!(
        (status, refusal["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("handover.same_person")),
        "the signer does not confirm"
    );
    let (status, confirmed) = api.call("POST", "/api/funds/handovers/H-1/confirmation", Auth::Token(&admin), Some(confirm)).await;
    assert_eq!((status, confirmed["confirmed_by"].as_str()), (StatusCode::OK, Some("admin")), "{confirmed}");

    // The east county's targets: 4 persons and 800.00; it has one person enrolled.
    let targets = json!({ "year": today.year(), "unit": "419921", "enrolment_target": 4, "collection_target": "800.00" });
    assert_eq!(api.call("PUT", "/api/funds/targets", Auth::Token(&east_clerk), Some(targets.clone())).await.0, StatusCode::FORBIDDEN);
    assert_eq!(api.call("PUT", "/api/funds/targets", Auth::Token(&accountant), Some(targets)).await.0, StatusCode::OK);
    let (status, progress) = api.call("GET", &format!("/api/funds/targets?year={}", today.year()), Auth::Token(&auditor), None).await;
    assert_eq!((status, progress[0]["enrolment_rate_bp"].as_i64()), (StatusCode::OK, Some(2_500)), "{progress}");

    // A legacy deficit of the west county repaid at once by 2026-12-31, and repaid in part.
    let legacy = json!({ "scheme": "resident", "county": "419922", "established_on": "2026-01-01", "opening_gap": "5000.00", "paid_into_adjustment": "0", "terms": { "kind": "at-once", "due": "2026-12-31" } });
    let (status, view) = api.call("POST", "/api/funds/legacy-deficits", Auth::Token(&accountant), Some(legacy)).await;
    assert_eq!((status, view["gap"].as_str()), (StatusCode::CREATED, Some("5000.00")), "{view}");
    let repay = json!({ "on": "2026-03-01", "amount": "1000.00", "reference": "R-1" });
    let (status, view) =
        api.call("POST", "/api/funds/legacy-deficits/resident/419922/repayments", Auth::Token(&accountant), Some(repay)).await;
    assert_eq!((status, view["owed"].as_str()), (StatusCode::OK, Some("4000.00")), "{view}");
    let (status, views) = api.call("GET", "/api/funds/legacy-deficits?as_of=2027-01-01", Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(views[0]["missed"], json!([{ "due": "2026-12-31", "amount": "4000.00" }]), "{views}");

    // Interest: the resident fund's special account held 1,000,000.00 all January:
    // 31,000,000.00 yuan-days × 1.50% ÷ 365 = 1,273.97 (1,273.972…).
    let interest = json!({ "from": "2026-01-01", "to": "2026-01-31", "rate": "1.5%" });
    assert_eq!(api.call("POST", "/api/funds/interest", Auth::Token(&east_clerk), Some(interest.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, lines) = api.call("POST", "/api/funds/interest", Auth::Token(&accountant), Some(interest)).await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    let resident = lines.as_array().expect("lines").iter().find(|l| l["fund"] == "resident@419900").expect("resident");
    assert_eq!(resident["interest"], "1273.97", "{resident}");
    // This year is not over: its dry run shows the close so far; the close itself waits for
    // the year to end (the hostile review found a year closed early froze its last weeks).
    // Closing a past year, and what is final then, are the store contract's (`run_year`).
    let close = json!({ "year": today.year(), "levy": "10%" });
    assert_eq!(api.call("POST", "/api/funds/year-closes", Auth::Token(&east_clerk), Some(close.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, dry) = api.call("POST", "/api/funds/year-closes/preview", Auth::Token(&auditor), Some(close.clone())).await;
    assert_eq!((status, dry["closed"].as_bool()), (StatusCode::OK, Some(false)), "an auditor sees the dry run: {dry}");
    assert!(dry["record"]["positions"].as_array().is_some_and(|p| !p.is_empty()), "{dry}");
    // The early-warning indicators month by month (R-FND-4, issue 13): completed months
    // only, so today's settlement is in no row yet (the figures are the store contract's
    // and closing's unit test: December's row is the close's).
    let indicators = format!("/api/funds/indicators?year={}", today.year());
    assert_eq!(api.call("GET", &indicators, Auth::Token(&east_clerk), None).await.0, StatusCode::FORBIDDEN);
    let (status, rows) = api.call("GET", &indicators, Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let rows = rows.as_array().expect("rows");
    let this_month = u64::from(u8::from(today.month()));
    assert!(rows.iter().all(|r| (1..this_month).contains(&r["month"].as_u64().unwrap_or(0))), "completed months only: {rows:?}");
    assert!(rows.iter().all(|r| fen(&r["spending"]) == 0), "nothing was spent before this month: {rows:?}");
    // The demo pack starts in 2024: a year before it reads under the pack's first day's
    // thresholds, twelve months of nothing.
    let (status, before_the_pack) = api.call("GET", "/api/funds/indicators?year=2023", Auth::Token(&auditor), None).await;
    assert_eq!((status, before_the_pack), (StatusCode::OK, json!([])));
    let next_year = format!("/api/funds/indicators?year={}", today.year() + 1);
    let (status, refused) = api.call("GET", &next_year, Auth::Token(&auditor), None).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.period_not_ended")), "{refused}");
    let (status, bad) = api.call("GET", "/api/funds/indicators?year=soon", Auth::Token(&auditor), None).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "{bad}");
    for (targets, code) in [
        (
            json!([{ "unit": "420102", "enrolment_target": 1, "enrolled": 1, "collection_target": "1.00", "collected": "1.00" }]),
            "region.unknown",
        ),
        (
            json!([{ "unit": "419921", "enrolment_target": 1, "enrolled": 1, "collection_target": "1.00", "collected": "1.00" }, { "unit": "419921", "enrolment_target": 2, "enrolled": 1, "collection_target": "2.00", "collected": "1.00" }]),
            "fund.bad_unit",
        ),
    ] {
        let with_targets = json!({ "year": today.year(), "targets": targets });
        let (status, refused) = api.call("POST", "/api/funds/year-closes/preview", Auth::Token(&auditor), Some(with_targets)).await;
        assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{refused}");
    }
    let legacy_of_adjustment = json!({ "scheme": "municipal-adjustment", "county": "419922", "established_on": "2026-01-01", "opening_gap": "1.00", "terms": { "kind": "at-once", "due": "2026-12-31" } });
    let (status, refused) = api.call("POST", "/api/funds/legacy-deficits", Auth::Token(&accountant), Some(legacy_of_adjustment)).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("request.invalid")), "{refused}");
    let (status, early) = api.call("POST", "/api/funds/year-closes", Auth::Token(&accountant), Some(close)).await;
    assert_eq!((status, early["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.period_not_ended")), "{early}");
    let (status, bad) =
        api.call("POST", "/api/funds/year-closes", Auth::Token(&accountant), Some(json!({ "year": 2025, "levy": "110%" }))).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.bad_ratio")), "readable, refused: {bad}");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
}

/// Issue 6: the reform what-if over HTTP: the same synthetic city-year under the demo pack
/// and under "tier-3 inpatient +5 points"; the pooled fund pays more, patients less.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reform_is_simulated_beside_the_baseline() {
    let api = setup("reform").await;
    let accountant = api.sign_in("accountant").await;
    let reform = include_str!("../../../examples/reforms/tier3-inpatient-plus5.toml");
    let body = json!({ "reform": reform, "insured": 2_000, "seed": 3 });
    let east_clerk = api.sign_in("east.clerk").await;
    assert_eq!(api.call("POST", "/api/reforms/simulations", Auth::Token(&east_clerk), Some(body.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, result) = api.call("POST", "/api/reforms/simulations", Auth::Token(&accountant), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!((result["insured"].as_u64(), result["seed"].as_u64()), (Some(2_000), Some(3)));
    let total = |what: &str| result["totals"].as_array().expect("totals").iter().find(|t| t["what"] == what).cloned().expect(what);
    let hifp = total("hifp");
    assert!(fen(&hifp["reform"]) > fen(&hifp["baseline"]), "the pooled fund pays more under the reform: {hifp}");
    let out_of_pocket = total("out_of_pocket");
    assert!(fen(&out_of_pocket["reform"]) < fen(&out_of_pocket["baseline"]), "patients pay less: {out_of_pocket}");
    assert!(result["balancing_income"].as_array().is_some_and(|b| !b.is_empty()));
    let (status, bad) =
        api.call("POST", "/api/reforms/simulations", Auth::Token(&accountant), Some(json!({ "reform": "[reform]\nname = 1" }))).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reform.invalid")), "{bad}");
    let (status, bad) = api
        .call("POST", "/api/reforms/simulations", Auth::Token(&accountant), Some(json!({ "reform": reform, "insured": 10_000_000 })))
        .await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reform.bad_size")));
}

async fn settle_flow(api: &Api) {
    enrol_both(api).await;
    let body = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim("C-1", "H41992100007") });
    // Pre-settlement: the figures, nothing written; the person's card is presented, and the
    // answer carries neither the account balance nor the year's counters.
    let presented = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim("C-1", "H41992100007") });
    let (status, pre) = api.call("POST", "/api/pre-settlements", Auth::Key("key-east"), Some(presented)).await;
    assert_eq!(status, StatusCode::OK, "{pre}");
    assert!(pre.get("accumulators").is_none() && pre.get("acct_balance_after").is_none(), "{pre}");
    let admin = api.sign_in("admin").await;
    let (_, acc) = api.call("GET", &format!("/api/persons/{EAST_PERSON}/accumulators?year=2026"), Auth::Token(&admin), None).await;
    assert_eq!(acc["admissions"], 0, "a pre-settlement writes nothing");
    // Settlement, then a retry.
    let (status, first) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body.clone())).await;
    assert_eq!((status, first["replayed"].as_bool()), (StatusCode::CREATED, Some(false)), "{first}");
    assert_eq!(first["settlement"]["fund_pay_sumamt"], pre["fund_pay_sumamt"], "pre-settlement and settlement agree");
    assert!(first["settlement"].get("accumulators").is_none(), "an institution never receives the year's counters");
    let (status, again) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body.clone())).await;
    assert_eq!((status, again["replayed"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(again["settlement"], first["settlement"]);
    let (_, acc) = api.call("GET", &format!("/api/persons/{EAST_PERSON}/accumulators?year=2026"), Auth::Token(&admin), None).await;
    assert_eq!(acc["admissions"], 1, "the retry did not pay twice");
    // Another institution's claim, a staff member, a changed retry, a missing key.
    let (status, _) = api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(api.call("POST", "/api/settlements", Auth::Token(&admin), Some(body.clone())).await.0, StatusCode::FORBIDDEN);
    let mut changed = body.clone();
    changed["claim"]["lines"][0]["quantity"] = json!(3);
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(changed)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::CONFLICT, Some("claim.idempotency_conflict")));
    // The same claim id and body for another person is a conflict too, never a replay of
    // the first person's settlement.
    let other_person = json!({ "person_id": WEST_PERSON, "card_no": "C0001", "claim": claim("C-1", "H41992100007") });
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(other_person)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::CONFLICT, Some("claim.idempotency_conflict")), "{answer}");
    assert_eq!(api.call("POST", "/api/settlements", Auth::Key("key-wrong"), Some(body.clone())).await.0, StatusCode::UNAUTHORIZED);
    // A claim the engine refuses: 422 with the engine's code, nothing written.
    let mut early = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim("C-2", "H41992100007") });
    early["claim"]["admission_date"] = json!("2023-06-01");
    early["claim"]["discharge_date"] = json!("2023-06-02");
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(early)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("settle.before_policy")), "{answer}");
    // Queries: the institution and the east claims officer see it; the west officer does not.
    assert_eq!(api.call("GET", "/api/settlements/H41992100007/C-1", Auth::Key("key-east"), None).await.0, StatusCode::OK);
    assert_eq!(api.call("GET", "/api/settlements/H41992100007/C-1", Auth::Key("key-center"), None).await.0, StatusCode::FORBIDDEN);
    let west_claims = api.sign_in("west.claims").await;
    assert_eq!(api.call("GET", "/api/settlements/H41992100007/C-1", Auth::Token(&west_claims), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        api.call("POST", "/api/settlements/H41992100007/C-1/reversal", Auth::Token(&west_claims), Some(json!({ "reason": "x" }))).await.0,
        StatusCode::NOT_FOUND
    );
    let east_claims = api.sign_in("east.claims").await;
    let (status, history) = api.call("GET", &format!("/api/persons/{EAST_PERSON}/claims"), Auth::Token(&east_claims), None).await;
    assert_eq!((status, history.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    // A claim read: the settlement and the claim are objects, amounts yuan strings (issue 12).
    let read = &history[0];
    assert_wire(read, "claim");
    assert!(read["settlement"].is_object() && read["claim"].is_object(), "nested JSON is an object: {read}");
    assert_eq!(fen(&read["medfee"]), fen(&read["fund_pay"]) + fen(&read["psn_part"]), "{read}");
    assert_eq!(read["fund_pay"], first["settlement"]["fund_pay_sumamt"], "one representation: {read}");
    assert_eq!(read["claim"]["claim_id"], "C-1");
    let (status, reversed) = api
        .call("POST", "/api/settlements/H41992100007/C-1/reversal", Auth::Token(&east_claims), Some(json!({ "reason": "wrong patient" })))
        .await;
    assert_eq!((status, reversed["status"].as_str()), (StatusCode::OK, Some("reversed")), "{reversed}");
    let (_, acc) = api.call("GET", &format!("/api/persons/{EAST_PERSON}/accumulators?year=2026"), Auth::Token(&admin), None).await;
    assert_eq!(acc["admissions"], 0, "reversal restored the accumulators");
    // The audit chain: readable by the auditor, not by a clerk; intact.
    let auditor = api.sign_in("auditor").await;
    let (status, verification) = api.call("GET", "/api/audit/verify", Auth::Token(&auditor), None).await;
    assert_eq!((status, verification["breaks"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{verification}");
    let (status, trail) = api.call("GET", "/api/audit?region=419921&limit=1000", Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = trail.as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"claim.settle") && actions.contains(&"claim.reverse") && actions.contains(&"person.enrol"), "{actions:?}");
    assert!(trail.as_array().expect("entries").iter().any(|e| e["actor"] == "H41992100007"), "who settled is recorded");
    let east_clerk = api.sign_in("east.clerk").await;
    assert_eq!(api.call("GET", "/api/audit/verify", Auth::Token(&east_clerk), None).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_docs_are_served() {
    let api = setup("openapi").await;
    let (status, doc) = api.call("GET", "/api/openapi.json", Auth::None, None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/session",
        "/api/persons",
        "/api/persons/{id}",
        "/api/persons/{id}/tier-changes",
        "/api/settlements",
        "/api/pre-settlements",
        "/api/settlements/{institution}/{claim_id}/reversal",
        "/api/arrears",
        "/api/audit/verify",
        "/api/staff",
        "/api/staff/{username}",
        "/api/me/password",
        "/api/institutions",
        "/api/institutions/{code}/api-key",
        "/api/institutions/{code}/agreement",
        "/api/payment/{year}",
        "/api/payment/{year}/clearing",
        "/api/payment/{year}/institutions/{code}",
        "/api/funds/pooling-runs",
        "/api/funds/receipts",
        "/api/funds/accounts",
        "/api/funds/movements",
        "/api/funds/check",
        "/api/funds/year-closes",
        "/api/funds/interest",
        "/api/funds/budgets",
        "/api/funds/targets",
        "/api/funds/handovers",
        "/api/funds/handovers/{reference}/confirmation",
        "/api/funds/legacy-deficits",
        "/api/funds/legacy-deficits/{scheme}/{county}/repayments",
        "/api/reforms/simulations",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    let response =
        api.router.clone().oneshot(Request::builder().uri("/api/docs/").body(Body::empty()).expect("request")).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = api.call("GET", "/api/nowhere", Auth::None, None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("route.not_found")));
}

/// Issue 12, the API contract: one status rule on every router (400 for a request that
/// cannot be read, 422 for a readable one the rules refuse), `{code, message}` on every
/// error, 405 included, and a document that says so.
#[tokio::test]
async fn one_status_rule_and_one_error_body_on_every_router() {
    let api = setup("contract").await;
    let admin = api.sign_in("admin").await;
    let accountant = api.sign_in("accountant").await;
    let raw = |method: &str, path: &str, token: &str, content_type: Option<&str>, body: &str| {
        let mut request = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Body::from(body.to_owned())).expect("request");
        let router = api.router.clone();
        async move {
            let response = router.oneshot(request).await.expect("response");
            let (status, allow) = (response.status(), response.headers().get("allow").map(|v| v.to_str().unwrap_or("").to_owned()));
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null), allow)
        }
    };
    // Malformed JSON, a body that is not JSON, a missing field: 400 request.malformed on the
    // persons, funds, administration and reform routers alike.
    for (path, token) in [
        ("/api/persons", admin.as_str()),
        ("/api/households", admin.as_str()),
        ("/api/funds/receipts", accountant.as_str()),
        ("/api/funds/pooling-runs", accountant.as_str()),
        ("/api/staff", admin.as_str()),
        ("/api/reforms/simulations", accountant.as_str()),
    ] {
        for (content_type, body) in [(Some("application/json"), "{\"name\": "), (None, "{}"), (Some("application/json"), "{}")] {
            let (status, answer, _) = raw("POST", path, token, content_type, body).await;
            assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "{path} {body}: {answer}");
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
        }
    }
    // A query or path parameter that does not parse, or does not match its pattern: 400.
    for path in [
        "/api/funds/movements?from=May&to=2026-12-31",
        "/api/audit?region=41",
        "/api/persons/4199211962/claims",
        "/api/funds/budgets?year=x",
    ] {
        let (status, answer) = api.call("GET", path, Auth::Token(&admin), None).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.malformed")), "{path}: {answer}");
    }
    // Readable, refused by the rules: 422, with the rule's code.
    let (status, answer) = api.call("GET", "/api/persons/419921196203140048", Auth::Token(&admin), None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_id")),
        "a wrong check digit: {answer}"
    );
    let receipt = json!({ "kind": "opening-balance", "scheme": "resident", "unit": "419900", "amount": "1.00", "date": "9999-12-31", "reference": "R" });
    let (status, answer) = api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(receipt)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.bad_date")), "{answer}");
    let weak = json!({ "username": "x.y", "display_name": "x", "password": "short", "role": "auditor", "region": "419921" });
    let (status, answer) = api.call("POST", "/api/staff", Auth::Token(&admin), Some(weak)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("staff.weak_password")), "{answer}");
    // 405 says what is wrong, like every other error, and which methods are allowed.
    for (method, path) in [("PUT", "/api/persons"), ("DELETE", "/api/funds/receipts"), ("GET", "/api/staff/someone")] {
        let (status, answer, allow) = raw(method, path, &admin, None, "").await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("request.method_not_allowed")),
            "{method} {path}"
        );
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()) && allow.is_some(), "{answer} {allow:?}");
    }

    // The document: every operation states its 400 and 422 with the error body, amounts and
    // codes carry their patterns, query parameters are in the query.
    let (_, doc) = api.call("GET", "/api/openapi.json", Auth::None, None).await;
    let operation = &doc["paths"]["/api/persons/{id}/contributions"]["post"];
    for status in ["400", "401", "403", "404", "422", "500"] {
        let body = &operation["responses"][status]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body, "#/components/schemas/ErrorBody", "POST contributions states {status}: {operation}");
    }
    let paid = &doc["components"]["schemas"]["ContributionIn"]["properties"]["paid"];
    assert!(paid.to_string().contains(r"^-?[0-9]{1,10}(\\.[0-9]{1,2})?$"), "the amount's pattern: {paid}");
    let due = &doc["components"]["schemas"]["ContributionOut"]["properties"]["due"];
    assert_eq!(due["pattern"], r"^-?[0-9]+\.[0-9]{2}$", "{due}");
    assert_eq!(doc["components"]["schemas"]["HouseholdIn"]["properties"]["region"]["pattern"], yibao_api::contract::REGION);
    let parameters = doc["paths"]["/api/persons/{id}/accumulators"]["get"]["parameters"].as_array().expect("parameters").clone();
    let place = |name: &str| parameters.iter().find(|p| p["name"] == name).map(|p| p["in"].clone());
    assert_eq!((place("id"), place("year")), (Some(json!("path")), Some(json!("query"))), "{parameters:?}");
    assert_eq!(parameters[0]["schema"]["pattern"], yibao_api::contract::NATIONAL_ID);
    assert_eq!(
        doc["paths"]["/api/persons"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PersonPageOut",
        "a search answers a page with its total"
    );
    assert!(doc["info"]["description"].as_str().is_some_and(|d| d.contains("400 request.malformed") && d.contains("12.50")));
}

/// The city administrator manages accounts and institutions; a county administrator only
/// their county's; a deactivated account, a changed password and a replaced API key stop
/// working at once.
#[tokio::test]
async fn administrators_manage_staff_and_institutions_within_their_region() {
    let api = setup("admin").await;
    let admin = api.sign_in("admin").await;
    let new_staff = |username: &str, role: &str, region: &str| json!({ "username": username, "display_name": username, "password": format!("pw-{username}"), "role": role, "region": region });
    let (status, body) = api.call("POST", "/api/staff", Auth::Token(&admin), Some(new_staff("east.auditor", "auditor", "419921"))).await;
    assert_eq!((status, body["role"].as_str(), body.get("password_hash")), (StatusCode::CREATED, Some("auditor"), None), "{body}");
    let cases = [
        (new_staff("east.auditor", "auditor", "419921"), StatusCode::CONFLICT, "request.exists"),
        (new_staff("x", "auditor", "419921"), StatusCode::UNPROCESSABLE_ENTITY, "staff.weak_password"),
        // Not one of the published roles: unreadable.
        (new_staff("east.boss", "boss", "419921"), StatusCode::BAD_REQUEST, "request.malformed"),
        (new_staff("bad name!", "auditor", "419921"), StatusCode::UNPROCESSABLE_ENTITY, "request.invalid"),
    ];
    for (input, expected, code) in cases {
        let (status, body) = api.call("POST", "/api/staff", Auth::Token(&admin), Some(input)).await;
        assert_eq!((status, body["code"].as_str()), (expected, Some(code)), "{body}");
    }
    // A county administrator works inside the county only.
    let (status, _) =
        api.call("POST", "/api/staff", Auth::Token(&admin), Some(new_staff("east.admin", "city_administrator", "419921"))).await;
    assert_eq!(status, StatusCode::CREATED);
    let east_admin = api.sign_in("east.admin").await;
    let (status, body) = api.call("POST", "/api/staff", Auth::Token(&east_admin), Some(new_staff("west.x", "auditor", "419922"))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("access.outside_region")));
    let (status, listed) = api.call("GET", "/api/staff", Auth::Token(&east_admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|s| s["username"].as_str()).collect();
    assert!(listed.contains(&"east.clerk") && !listed.contains(&"west.clerk") && !listed.contains(&"admin"), "{listed:?}");
    let (status, body) = api.call("PATCH", "/api/staff/west.clerk", Auth::Token(&east_admin), Some(json!({ "active": false }))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("staff.not_found")));
    let clerk = api.sign_in("east.clerk").await;
    assert_eq!(api.call("GET", "/api/staff", Auth::Token(&clerk), None).await.0, StatusCode::FORBIDDEN, "clerks manage no accounts");
    let (status, body) = api.call("PATCH", "/api/staff/admin", Auth::Token(&admin), Some(json!({ "active": false }))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("staff.self_lockout")));

    // Deactivation ends the account's session at once and refuses sign-in.
    let auditor = api.sign_in("east.auditor").await;
    assert_eq!(api.call("GET", "/api/me", Auth::Token(&auditor), None).await.0, StatusCode::OK);
    let (status, body) = api.call("PATCH", "/api/staff/east.auditor", Auth::Token(&east_admin), Some(json!({ "active": false }))).await;
    assert_eq!((status, body["active"].as_bool()), (StatusCode::OK, Some(false)), "{body}");
    assert_eq!(api.call("GET", "/api/me", Auth::Token(&auditor), None).await.0, StatusCode::UNAUTHORIZED);
    let signin = json!({ "username": "east.auditor", "password": "pw-east.auditor" });
    assert_eq!(api.call("POST", "/api/session", Auth::None, Some(signin)).await.0, StatusCode::UNAUTHORIZED);

    // A staff member changes their own password: the old sessions end, the new one works.
    let wrong = json!({ "current_password": "nope", "new_password": "a-new-password-1" });
    assert_eq!(api.call("POST", "/api/me/password", Auth::Token(&clerk), Some(wrong)).await.0, StatusCode::UNAUTHORIZED);
    let change = json!({ "current_password": "pw-east.clerk", "new_password": "a-new-password-1" });
    assert_eq!(api.call("POST", "/api/me/password", Auth::Token(&clerk), Some(change)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.call("GET", "/api/me", Auth::Token(&clerk), None).await.0, StatusCode::UNAUTHORIZED);
    let signin = json!({ "username": "east.clerk", "password": "a-new-password-1" });
    assert_eq!(api.call("POST", "/api/session", Auth::None, Some(signin)).await.0, StatusCode::OK);

    // Institutions: the key is shown once; a new key replaces it; suspension stops it. A
    // name follows the register's rule for free text.
    for name in ["", "东县\u{0007}医院", &"院".repeat(101)] {
        let bad = json!({ "code": "H41992100009", "name": name, "region": "419921", "level": "tertiary" });
        let (status, refused) = api.call("POST", "/api/institutions", Auth::Token(&east_admin), Some(bad)).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("institution.bad_name")),
            "{name:?}: {refused}"
        );
    }
    let hospital = json!({ "code": "H41992100009", "name": " 东县中医院 ", "region": "419921", "level": "tertiary" });
    let (status, created) = api.call("POST", "/api/institutions", Auth::Token(&east_admin), Some(hospital.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let first_key = created["api_key"].as_str().expect("key").to_owned();
    let (status, me) = api.call("GET", "/api/me", Auth::Key(&first_key), None).await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("H41992100009")));
    assert_eq!(api.call("POST", "/api/institutions", Auth::Token(&east_admin), Some(hospital)).await.0, StatusCode::CONFLICT);
    let elsewhere = json!({ "code": "H41992200009", "name": "西县医院", "region": "419922", "level": "primary" });
    assert_eq!(api.call("POST", "/api/institutions", Auth::Token(&east_admin), Some(elsewhere)).await.0, StatusCode::FORBIDDEN);
    let (status, rotated) = api.call("POST", "/api/institutions/H41992100009/api-key", Auth::Token(&east_admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let second_key = rotated["api_key"].as_str().expect("key").to_owned();
    assert_ne!(first_key, second_key);
    assert_eq!(api.call("GET", "/api/me", Auth::Key(&first_key), None).await.0, StatusCode::UNAUTHORIZED, "the old key stops at once");
    assert_eq!(api.call("GET", "/api/me", Auth::Key(&second_key), None).await.0, StatusCode::OK);
    let (status, _) = api.call("PATCH", "/api/institutions/H41992100009", Auth::Token(&admin), Some(json!({ "active": false }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.call("GET", "/api/me", Auth::Key(&second_key), None).await.0, StatusCode::UNAUTHORIZED, "a suspended institution");
    let (status, body) = api.call("PATCH", "/api/institutions/H41990200003", Auth::Token(&east_admin), Some(json!({ "name": "x" }))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("institution.not_found")));
    let (status, listed) = api.call("GET", "/api/institutions", Auth::Token(&east_admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(listed.as_array().is_some_and(|l| l.iter().all(|i| i["region"] == "419921") && l.len() == 3), "{listed}");
}

/// Settlements for one person arriving over HTTP at the same moment: the year's totals are
/// those of the same claims settled one by one (issue 3: no remaining deductible or cap is
/// spent twice), and every claim is paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_settlements_over_http_equal_the_claims_settled_one_by_one() {
    const CLAIMS: usize = 12;
    let api = Arc::new(setup("concurrent").await);
    enrol_both(&api).await;
    // Stays on separate days: one person's stays may not overlap (claim.overlapping_stay).
    let claims: Vec<Value> = (0..CLAIMS)
        .map(|n| {
            let mut c = claim(&format!("CONC-{n}"), "H41992100007");
            c["admission_date"] = json!(format!("2026-03-{:02}", 2 * n + 1));
            c["discharge_date"] = json!(format!("2026-03-{:02}", 2 * n + 2));
            c
        })
        .collect();
    let mut tasks = Vec::new();
    for c in claims.clone() {
        let api = Arc::clone(&api);
        tasks.push(tokio::spawn(async move {
            api.call(
                "POST",
                "/api/settlements",
                Auth::Key("key-east"),
                Some(json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": c })),
            )
            .await
        }));
    }
    let mut fund_paid_fen = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let paid = body["settlement"]["fund_pay_sumamt"].as_str().expect("amount");
        fund_paid_fen += yibao_domain::Fen::parse_yuan(paid).expect("yuan").get();
    }
    // The same claims one by one, in memory, from the person as stored.
    let admin = api.sign_in("admin").await;
    let (_, person) = api.call("GET", &format!("/api/persons/{EAST_PERSON}"), Auth::Token(&admin), None).await;
    let coverage: yibao_engine::Coverage = serde_json::from_value(person["coverage"].clone()).expect("coverage");
    let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("policy");
    let mut expected = yibao_engine::Accumulators::new_year(2026);
    let mut expected_fund_fen = 0;
    for c in &claims {
        let c: yibao_engine::Claim = serde_json::from_value(c.clone()).expect("claim");
        let settlement = yibao_engine::settle(&policy, &c, &coverage, &expected, yibao_engine::Explain::Off).expect("settles");
        expected_fund_fen += settlement.fund_pay_sumamt.get();
        expected = settlement.accumulators;
    }
    let (status, stored) = api.call("GET", &format!("/api/persons/{EAST_PERSON}/accumulators?year=2026"), Auth::Token(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored, serde_json::to_value(expected).expect("json"), "the year's totals equal the claims settled one by one");
    assert_eq!(fund_paid_fen, expected_fund_fen, "the funds paid what the claims settled one by one would have");
    let (_, history) = api.call("GET", &format!("/api/persons/{EAST_PERSON}/claims"), Auth::Token(&admin), None).await;
    assert_eq!(history.as_array().map(Vec::len), Some(CLAIMS));
}

async fn post(api: &Api, path: &str, auth: Auth<'_>, body: Value) -> (StatusCode, Value) {
    api.call("POST", path, auth, Some(body)).await
}

fn code(answer: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (answer.0, answer.1["code"].as_str())
}

/// Issue 11: what the bureau's records know is never taken from the caller. Each case
/// failed before the application layer: a claim chose its own level, place and referral;
/// dates in 9999 moved money; an unknown county received people and money; a contribution
/// was billed at the tier chosen at enrolment; an institution could read anyone's counters.
#[tokio::test]
async fn what_the_records_know_is_never_taken_from_the_caller() {
    let api = setup("trust").await;
    let (east_clerk, west_clerk) = enrol_both(&api).await;
    let settle = |claim: Value| json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim });

    // The register decides the institution's level, place and kind.
    let mut primary = claim("T-1", "H41992100007");
    primary["institution_level"] = json!("primary");
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(primary)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.level_mismatch")), "{}", answer.1);
    let mut away = claim("T-2", "H41992100007");
    away["place"] = json!("in-province");
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(away)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.place_mismatch")), "{}", answer.1);
    let mut pharmacy = claim("T-3", "P41992100002");
    pharmacy["institution_level"] = json!("primary");
    let answer = post(&api, "/api/settlements", Auth::Key("key-pharmacy"), settle(pharmacy)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.kind_not_for_pharmacy")), "{}", answer.1);

    // A referral is a record on file, and the deductible paid before it comes from the
    // referring stay's settlement.
    let mut referred = claim("T-4", "H41992100007");
    referred["referral"] = json!(true);
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(referred)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.referral_not_on_file")), "{}", answer.1);
    let mut inflated = claim("T-5", "H41992100007");
    inflated["referred_deductible_paid"] = json!("99999999.00");
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(inflated)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.referral_not_on_file")), "{}", answer.1);
    // The referring stay at the centre hospital, then the referral, then the stay it covers.
    let mut first_stay = claim("R-1", "H41990200003");
    first_stay["admission_date"] = json!("2026-02-01");
    first_stay["discharge_date"] = json!("2026-02-05");
    let answer = post(&api, "/api/settlements", Auth::Key("key-center"), settle(first_stay)).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    let paid_before = yibao_domain::Fen::parse_yuan(answer.1["settlement"]["act_pay_dedc"].as_str().expect("act_pay_dedc")).expect("yuan");
    assert!(paid_before.get() > 0, "the referring stay paid a deductible");
    let referral = json!({ "from_institution": "H41990200003", "to_institution": "H41992100007", "issued_on": "2026-02-05", "valid_until": "2026-03-31" });
    let answer = post(&api, &format!("/api/persons/{EAST_PERSON}/referrals"), Auth::Key("key-east"), referral.clone()).await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, Some("access.forbidden")), "only the referring institution files its referral");
    let answer = post(&api, &format!("/api/persons/{EAST_PERSON}/referrals"), Auth::Key("key-center"), referral).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    let mut wrong_amount = claim("T-6", "H41992100007");
    wrong_amount["referred_deductible_paid"] = json!("99999999.00");
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(wrong_amount)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.referred_deductible_mismatch")), "{}", answer.1);
    let admin = api.sign_in("admin").await;
    let (_, person) = api.call("GET", &format!("/api/persons/{EAST_PERSON}"), Auth::Token(&admin), None).await;
    let coverage: yibao_engine::Coverage = serde_json::from_value(person["coverage"].clone()).expect("coverage");
    let (_, before) = api.call("GET", &format!("/api/persons/{EAST_PERSON}/accumulators?year=2026"), Auth::Token(&admin), None).await;
    let before: yibao_engine::Accumulators = serde_json::from_value(before).expect("accumulators");
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(claim("T-7", "H41992100007"))).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    // What the engine gives for the claim as the records describe it: referred, with the
    // deductible the centre hospital's settlement shows.
    let mut as_recorded: yibao_engine::Claim = serde_json::from_value(claim("T-7", "H41992100007")).expect("claim");
    as_recorded.referral = true;
    as_recorded.referred_deductible_paid = paid_before;
    let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("policy");
    let expected = yibao_engine::settle(&policy, &as_recorded, &coverage, &before, yibao_engine::Explain::Off).expect("settles");
    assert_eq!(answer.1["settlement"]["act_pay_dedc"].as_str(), Some(expected.act_pay_dedc.to_string().as_str()));
    assert_eq!(answer.1["settlement"]["fund_pay_sumamt"].as_str(), Some(expected.fund_pay_sumamt.to_string().as_str()));

    // The register as of the date of service: an upgrade from 1 June does not raise a March
    // stay, and a July stay is settled at the new level.
    let upgrade = json!({ "level": "tertiary", "level_from": "2026-06-01" });
    let answer = api.call("PATCH", "/api/institutions/H41992100007", Auth::Token(&admin), Some(upgrade)).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    let mut march_as_tertiary = claim("T-L1", "H41992100007");
    march_as_tertiary["institution_level"] = json!("tertiary");
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(march_as_tertiary)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.level_mismatch")), "{}", answer.1);
    let july = |id: &str, level: &str| {
        let mut c = claim(id, "H41992100007");
        c["institution_level"] = json!(level);
        c["admission_date"] = json!("2026-07-01");
        c["discharge_date"] = json!("2026-07-03");
        settle(c)
    };
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), july("T-L2", "secondary")).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.level_mismatch")), "{}", answer.1);
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), july("T-L3", "tertiary")).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);

    // The same days are not paid twice: a second stay overlapping a settled one is refused,
    // at the same hospital under another claim id or at another hospital.
    let mut again = claim("T-9", "H41992100007");
    again["admission_date"] = json!("2026-03-05");
    again["discharge_date"] = json!("2026-03-06");
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(again)).await;
    assert_eq!(code(&answer), (StatusCode::CONFLICT, Some("claim.overlapping_stay")), "{}", answer.1);
    let mut elsewhere = claim("T-10", "H41990200003");
    elsewhere["admission_date"] = json!("2026-02-03");
    elsewhere["discharge_date"] = json!("2026-02-04");
    let answer = post(&api, "/api/settlements", Auth::Key("key-center"), settle(elsewhere)).await;
    assert_eq!(code(&answer), (StatusCode::CONFLICT, Some("claim.overlapping_stay")), "{}", answer.1);
    // A referral covers one admission: the next stay at the east hospital is not referred.
    let mut second = claim("T-11", "H41992100007");
    second["admission_date"] = json!("2026-03-20");
    second["discharge_date"] = json!("2026-03-22");
    second["referral"] = json!(true);
    let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(second)).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.referral_not_on_file")), "{}", answer.1);
    // A pharmacy issues no referrals, and a hospital refers only a person it has treated:
    // an unknown ID gets the same answer as an untreated one.
    let referral = json!({ "from_institution": "P41992100002", "to_institution": "H41992100007", "issued_on": "2026-03-01", "valid_until": "2026-03-31" });
    let answer = post(&api, &format!("/api/persons/{EAST_PERSON}/referrals"), Auth::Key("key-pharmacy"), referral).await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, Some("access.forbidden")), "{}", answer.1);
    let referral = json!({ "from_institution": "H41992100007", "to_institution": "H41990200003", "issued_on": "2026-03-01", "valid_until": "2026-03-31" });
    let untreated = post(&api, &format!("/api/persons/{WEST_PERSON}/referrals"), Auth::Key("key-east"), referral.clone()).await;
    let unknown = post(&api, "/api/persons/419921199001010013/referrals", Auth::Key("key-east"), referral).await;
    assert_eq!(code(&untreated), (StatusCode::NOT_FOUND, Some("referral.no_visit")), "{}", untreated.1);
    assert_eq!(untreated.1, unknown.1, "the same answer for an untreated and an unknown person");

    // Dates: nothing after today is settled, booked, credited or requested, and no date
    // input panics.
    for year in ["2027", "2099", "9999"] {
        let mut future = claim(&format!("T-{year}"), "H41992100007");
        future["admission_date"] = json!(format!("{year}-03-02"));
        future["discharge_date"] = json!(format!("{year}-03-08"));
        let answer = post(&api, "/api/settlements", Auth::Key("key-east"), settle(future)).await;
        assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.in_future")), "{year}: {}", answer.1);
    }
    let answer = post(
        &api,
        &format!("/api/persons/{EAST_PERSON}/tier-changes"),
        Auth::Token(&east_clerk),
        json!({ "requested_on": "9999-12-15", "tier": 1 }),
    )
    .await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_date")), "{}", answer.1);
    let accountant = api.sign_in("accountant").await;
    let answer =
        post(&api, "/api/funds/interest", Auth::Token(&accountant), json!({ "from": "9999-01-01", "to": "9999-12-31", "rate": "1.5%" }))
            .await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.period_not_ended")), "{}", answer.1);
    let next_year = time::OffsetDateTime::now_utc().year() + 1;
    let answer =
        post(&api, "/api/funds/pooling-runs", Auth::Token(&accountant), json!({ "month": format!("{next_year}-06"), "day": 1 })).await;
    assert_eq!(
        code(&answer),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.bad_date")),
        "a month's pooling is not run ahead: {}",
        answer.1
    );
    let answer = post(&api, "/api/funds/year-closes", Auth::Token(&accountant), json!({ "year": next_year })).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.period_not_ended")), "{}", answer.1);
    let receipt = json!({ "kind": "opening-balance", "scheme": "resident", "unit": "419900", "amount": "1.00", "date": "9999-12-31", "reference": "FUTURE-1" });
    let answer = post(&api, "/api/funds/receipts", Auth::Token(&accountant), receipt).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("fund.bad_date")), "{}", answer.1);

    // Regions: only the city's counties.
    let answer =
        post(&api, "/api/households", Auth::Token(&admin), json!({ "household_id": "HH-X", "region": "419999", "address": "nowhere" }))
            .await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("region.unknown")), "{}", answer.1);
    let answer = post(&api, "/api/persons", Auth::Token(&admin), enrolment("419999199001010013", "419999", "HH-X")).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.bad_region")), "{}", answer.1);
    let receipt = json!({ "kind": "opening-balance", "scheme": "resident", "unit": "419999", "amount": "1.00", "date": "2026-01-01", "reference": "NOWHERE-1" });
    let answer = post(&api, "/api/funds/receipts", Auth::Token(&accountant), receipt).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("region.unknown")), "{}", answer.1);

    // A contribution's kind fits the scheme, and its amount follows the tier in force: the
    // east resident moved from tier 3 down to tier 4 in June 2025, so 2026 is billed at tier 4.
    let contribution = |kind: &str, period: &str| json!({ "kind": kind, "period": period, "paid": "0.00", "wage_monthly": "5000.00" });
    let answer =
        post(&api, &format!("/api/persons/{EAST_PERSON}/contributions"), Auth::Token(&east_clerk), contribution("employee", "2026-01"))
            .await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("contribution.kind_mismatch")), "{}", answer.1);
    // Down from tier 3 to tier 4, asked for on the last day of last month: in force from the
    // first of this month, so next year is billed at tier 4.
    let today = time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("offset")).date();
    let asked = today.replace_day(1).expect("first of the month") - time::Duration::days(1);
    let answer = post(
        &api,
        &format!("/api/persons/{EAST_PERSON}/tier-changes"),
        Auth::Token(&east_clerk),
        json!({ "requested_on": asked.to_string(), "tier": 4 }),
    )
    .await;
    let from = today.replace_day(1).expect("first of the month").to_string();
    assert_eq!((answer.0, answer.1["benefits_from"].as_str()), (StatusCode::OK, Some(from.as_str())), "{}", answer.1);
    let next = (today.year() + 1).to_string();
    let answer =
        post(&api, &format!("/api/persons/{EAST_PERSON}/contributions"), Auth::Token(&east_clerk), contribution("resident", &next)).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    let region = RegionCode::parse("419921").expect("region");
    let on = time::Date::from_calendar_date(today.year() + 1, time::Month::January, 1).expect("new year");
    let at = |n: u8| {
        yibao_engine::resident_contribution(&policy, region, Some(yibao_domain::Tier::new(n).expect("tier")), None, on)
            .expect("due")
            .personal
    };
    assert_ne!(at(3), at(4));
    assert_eq!(fen(&answer.1["due"]), at(4).get(), "billed at the tier in force, not the one chosen at enrolment");

    // A tier change can be cancelled before it takes effect, and not after.
    let answer = api.call("DELETE", &format!("/api/persons/{EAST_PERSON}/tier-changes/{asked}"), Auth::Token(&east_clerk), None).await;
    assert_eq!(code(&answer), (StatusCode::CONFLICT, Some("person.tier_change_in_effect")), "{}", answer.1);
    let answer = post(
        &api,
        &format!("/api/persons/{EAST_PERSON}/tier-changes"),
        Auth::Token(&east_clerk),
        json!({ "requested_on": today.to_string(), "tier": 1 }),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    let answer = api.call("DELETE", &format!("/api/persons/{EAST_PERSON}/tier-changes/{today}"), Auth::Token(&east_clerk), None).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["coverage"]["tier_history"]["changes"].as_array().map(Vec::len), Some(1), "only last month's change is left");
    let answer = api.call("DELETE", &format!("/api/persons/{EAST_PERSON}/tier-changes/{today}"), Auth::Token(&east_clerk), None).await;
    assert_eq!(code(&answer), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.no_such_tier_change")), "{}", answer.1);

    // An institution reads entitlement only with the person's card, and learns nothing
    // from an unknown ID that it would not learn from a wrong card.
    let presented = |id: &str, card: &str| json!({ "person_id": id, "card_no": card, "claim": claim("P-1", "H41992100007") });
    let wrong_card = post(&api, "/api/pre-settlements", Auth::Key("key-east"), presented(EAST_PERSON, "C9999")).await;
    let unknown = post(&api, "/api/pre-settlements", Auth::Key("key-east"), presented("419921199001010013", "C0001")).await;
    assert_eq!(code(&wrong_card), (StatusCode::NOT_FOUND, Some("person.not_verified")));
    assert_eq!(wrong_card.1, unknown.1, "the same answer for a wrong card and an unknown person");
    // Settlement asks for the card too: no oracle there either.
    let settle_with = |id: &str, card: &str| json!({ "person_id": id, "card_no": card, "claim": claim("P-2", "H41992100007") });
    let wrong_card = post(&api, "/api/settlements", Auth::Key("key-east"), settle_with(EAST_PERSON, "C9999")).await;
    let unknown = post(&api, "/api/settlements", Auth::Key("key-east"), settle_with("419921199001010013", "C0001")).await;
    assert_eq!(code(&wrong_card), (StatusCode::NOT_FOUND, Some("person.not_verified")));
    assert_eq!(wrong_card.1, unknown.1, "the same answer for a wrong card and an unknown person");

    // A clerk enrolling a person insured in another county is not told that county's records.
    let answer = post(&api, "/api/persons", Auth::Token(&west_clerk), enrolment(EAST_PERSON, "419922", "HH-W1")).await;
    assert_eq!(code(&answer), (StatusCode::CONFLICT, Some("person.already_enrolled")), "{}", answer.1);
    let message = answer.1["message"].as_str().expect("message");
    assert!(!message.contains("HH-E1") && !message.contains("household") && !message.contains("region 419921"), "{message}");
}

// ---- policy changes as records (issue 19) ----

const DEMO_PACK: &str = include_str!("../../../policies/demo-city.toml");

/// The demo pack with every resident's inpatient ratio at a secondary hospital raised to
/// `percent` for days of service from 1 June 2026.
fn raised(percent: u32) -> String {
    let text: Vec<String> = DEMO_PACK
        .lines()
        .map(|line| {
            if line.starts_with("values = [{ from = \"2024-01-01\"") && line.contains("residents at a secondary hospital") {
                let kept = line.strip_suffix(" }]").expect("a one-value line");
                format!("{kept} }}, {{ from = \"2026-06-01\", value = \"{percent}%\", cite = \"assumption: the test's raise\" }}]")
            } else {
                line.to_owned()
            }
        })
        .collect();
    text.join("\n")
}

/// The API over an application that runs the store's pack versions (version 1 installed
/// at open, as `yibao serve` does), with two policy officers.
async fn versioned(backend: Backend) -> (Api, App) {
    let actor =
        Actor { who: "setup".into(), role: "city_administrator".into(), source: "test".into(), at: datetime!(2026-01-01 08:00 UTC) };
    for username in ["policy", "policy.review"] {
        let staff = NewStaff {
            username: username.into(),
            display_name: username.into(),
            password_hash: hash_password(&format!("pw-{username}")).expect("hash"),
            role: Role::PolicyOfficer,
            region: RegionCode::parse("419900").expect("region"),
        };
        match &backend {
            Backend::Sqlite(s) => s.create_staff(&actor, staff).await,
            Backend::Postgres(s) => s.create_staff(&actor, staff).await,
        }
        .expect("policy officer");
    }
    let given = GivenPack { label: "demo-city.toml".into(), text: DEMO_PACK.into(), named: false };
    let installer = yibao_app::Principal::System { name: "test-serve".into(), region: RegionCode::parse("419900").expect("region") };
    let app = App::open_with_policy(Arc::new(backend), &given, Some(&installer)).await.expect("open");
    (Api { router: yibao_api::app(app.clone()), clock: None }, app)
}

/// `other` is a second application on the same database, opened before the changes: it
/// follows them by polling the store (`App::refresh_policy`).
async fn policy_flow(api: &Api, app: &App, other: &App) {
    enrol_both(api).await;
    let (policy, review) = (api.sign_in("policy").await, api.sign_in("policy.review").await);
    let (auditor, admin, clerk) = (api.sign_in("auditor").await, api.sign_in("admin").await, api.sign_in("east.clerk").await);
    let (status, versions) = api.call("GET", "/api/policy/versions", Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK, "{versions}");
    assert_eq!((versions[0]["version"].as_u64(), versions[0]["status"].as_str()), (Some(1), Some("approved")), "{versions}");
    assert_eq!(api.call("GET", "/api/policy/versions", Auth::Token(&clerk), None).await.0, StatusCode::FORBIDDEN);

    let settle = |id: &str, month: &str| {
        let mut claim = claim(id, "H41992100007");
        claim["admission_date"] = json!(format!("2026-{month}-02"));
        claim["discharge_date"] = json!(format!("2026-{month}-08"));
        json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim })
    };
    let (status, march) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(settle("PV-1", "03"))).await;
    assert_eq!(status, StatusCode::CREATED, "{march}");
    assert_eq!(march["settlement"]["policy_version"], 1, "{march}");
    let march_ratio = march["settlement"]["pool_prop_bp"].clone();
    assert_eq!(march_ratio, 7300, "tier 3 at a secondary hospital (78%), 5 points off without a referral");

    // A proposal: only a policy officer; the loader's refusals; the difference.
    let proposal = |text: &str, note: &str| json!({ "text": text, "note": note });
    let (status, _) = api.call("POST", "/api/policy/versions", Auth::Token(&admin), Some(proposal(&raised(95), "x"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the administrator reads versions but does not propose them");
    for (text, status, code) in [
        (DEMO_PACK.replacen("region = \"419900\"", "", 1), StatusCode::UNPROCESSABLE_ENTITY, "policy.invalid"),
        (DEMO_PACK.to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "policy.unchanged"),
        (
            DEMO_PACK.replacen("service_date = \"admission\"", "service_date = \"discharge\"", 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy.incompatible",
        ),
        (
            DEMO_PACK.replacen("counties = [\"419902\", \"419921\", \"419922\"]", "counties = [\"419902\", \"419921\"]", 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy.incompatible",
        ),
        // What the hostile review found accepted (issue 19): the county list dropped, a
        // tier dropped, a pack that stops before today or starts after the one in force.
        (
            DEMO_PACK.replacen("counties = [\"419902\", \"419921\", \"419922\"]\n", "", 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy.incompatible",
        ),
        (DEMO_PACK.replacen("resident = [1, 2, 3, 4]", "resident = [1, 2, 3]", 1), StatusCode::UNPROCESSABLE_ENTITY, "policy.incompatible"),
        (
            DEMO_PACK.replacen("effective_from = \"2024-01-01\"", "effective_from = \"2024-01-01\"\neffective_until = \"2025-12-31\"", 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy.incompatible",
        ),
        (
            raised(95).replacen("effective_from = \"2024-01-01\"", "effective_from = \"2025-01-01\"", 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy.incompatible",
        ),
    ] {
        let (answer_status, answer) = api.call("POST", "/api/policy/versions", Auth::Token(&policy), Some(proposal(&text, "bad"))).await;
        assert_eq!((answer_status, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }
    let (status, answer) = api.call("POST", "/api/policy/versions", Auth::Token(&policy), Some(proposal(&raised(95), "a\u{1b}[2J"))).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("request.invalid")),
        "a note with a control character: {answer}"
    );
    // Pasted from a browser form (lines ending \r\n): kept as the same text as the file.
    let pasted = raised(95).replace('\n', "\r\n");
    let (status, proposed) = api.call("POST", "/api/policy/versions", Auth::Token(&policy), Some(proposal(&pasted, "2026 notice"))).await;
    assert_eq!(status, StatusCode::CREATED, "{proposed}");
    assert_eq!(proposed["version"]["sha256"].as_str(), Some(digest(raised(95)).as_str()), "the digest of the text with \\n line ends");
    assert_eq!((proposed["version"]["version"].as_u64(), proposed["version"]["based_on"].as_u64()), (Some(2), Some(1)));
    let changes = proposed["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 4, "one per resident tier: {changes:?}");
    assert!(
        changes
            .iter()
            .all(|c| c["kind"] == "added" && c["from"] == "2026-06-01" && c["after"].as_str().is_some_and(|a| a.starts_with("95% ")))
    );
    let (_, shown) = api.call("GET", "/api/policy/versions/2", Auth::Token(&auditor), None).await;
    assert_eq!((shown["changes"].as_array().map(Vec::len), shown["in_force"].as_u64()), (Some(4), Some(1)), "{shown}");
    assert_eq!(api.call("GET", "/api/policy/versions/99", Auth::Token(&auditor), None).await.0, StatusCode::NOT_FOUND);

    // Approval: a second policy officer, once.
    let decide = |version: u32, what: &str| format!("/api/policy/versions/{version}/{what}");
    let note = Some(json!({ "note": "checked against the notice" }));
    let (status, answer) = api.call("POST", &decide(2, "approval"), Auth::Token(&policy), note.clone()).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("policy.same_person")), "{answer}");
    assert_eq!(api.call("POST", &decide(2, "approval"), Auth::Token(&auditor), note.clone()).await.0, StatusCode::FORBIDDEN);
    let (_, health) = api.call("GET", "/api/health", Auth::None, None).await;
    assert_eq!(health["policy_version"], 1, "nothing is in force before the approval");
    let (status, approved) = api.call("POST", &decide(2, "approval"), Auth::Token(&review), note.clone()).await;
    assert_eq!(
        (status, approved["status"].as_str(), approved["decided_by"].as_str()),
        (StatusCode::OK, Some("approved"), Some("policy.review"))
    );
    let (status, answer) = api.call("POST", &decide(2, "approval"), Auth::Token(&review), note.clone()).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("policy.decided")));

    // In force at once, on its dates: July under the raise, a late April claim under the
    // value of its own day; each names version 2, and the explanation cites it.
    assert_eq!(api.call("GET", "/api/health", Auth::None, None).await.1["policy_version"], 2);
    assert_eq!(app.policy().version, Some(2));
    let (status, july) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(settle("PV-2", "07"))).await;
    assert_eq!(status, StatusCode::CREATED, "{july}");
    assert_eq!(
        (july["settlement"]["policy_version"].as_u64(), july["settlement"]["pool_prop_bp"].as_u64()),
        (Some(2), Some(9000)),
        "95%, 5 points off"
    );
    let east_claims = api.sign_in("east.claims").await;
    let (_, explained) = api.call("GET", "/api/settlements/H41992100007/PV-2", Auth::Token(&east_claims), None).await;
    let explanation = explained["settlement"]["explanation"].to_string();
    assert!(explanation.contains("policy demo-city v2") && explanation.contains("政策包 demo-city v2"), "{explanation}");
    let (status, april) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(settle("PV-3", "04"))).await;
    assert_eq!(status, StatusCode::CREATED, "{april}");
    assert_eq!((april["settlement"]["policy_version"].as_u64(), &april["settlement"]["pool_prop_bp"]), (Some(2), &march_ratio));
    let (_, stored) = api.call("GET", "/api/settlements/H41992100007/PV-1", Auth::Key("key-east"), None).await;
    assert_eq!(stored["settlement"]["policy_version"], 1, "a stored settlement keeps the version it was computed under");

    // Another server on the same database follows within one poll.
    assert_eq!(other.policy().version, Some(1));
    assert_eq!(other.refresh_policy().await.expect("refresh"), Some(2));
    assert_eq!((other.policy().version, other.refresh_policy().await.expect("again")), (Some(2), None));

    // A proposal made against a version no longer in force is not approved; its proposer
    // withdraws it.
    let (_, third) = api.call("POST", "/api/policy/versions", Auth::Token(&review), Some(proposal(&raised(96), "a"))).await;
    let (_, fourth) = api.call("POST", "/api/policy/versions", Auth::Token(&policy), Some(proposal(&raised(97), "b"))).await;
    assert_eq!((third["version"]["version"].as_u64(), fourth["version"]["version"].as_u64()), (Some(3), Some(4)));
    assert_eq!(api.call("POST", &decide(4, "approval"), Auth::Token(&review), note.clone()).await.0, StatusCode::OK);
    let (status, answer) = api.call("POST", &decide(3, "approval"), Auth::Token(&policy), note.clone()).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("policy.stale")), "{answer}");
    let (status, withdrawn) = api.call("POST", &decide(3, "rejection"), Auth::Token(&review), Some(json!({ "note": "overtaken" }))).await;
    assert_eq!((status, withdrawn["status"].as_str()), (StatusCode::OK, Some("rejected")), "{withdrawn}");

    // Every step is in the city's audit chain, and the chain verifies.
    let (_, trail) = api.call("GET", "/api/audit?region=419900&limit=1000", Auth::Token(&auditor), None).await;
    let actions: Vec<&str> =
        trail.as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).filter(|a| a.starts_with("policy.")).collect();
    assert_eq!(
        actions,
        ["policy.install", "policy.propose", "policy.approve", "policy.propose", "policy.propose", "policy.approve", "policy.reject"]
    );
    let (_, verified) = api.call("GET", "/api/audit/verify", Auth::Token(&auditor), None).await;
    assert!(verified["breaks"].as_array().is_some_and(Vec::is_empty) && verified["entries"].as_u64() > Some(0), "{verified}");
}

/// A store whose pack was never recorded (an older release's, not yet served) takes no
/// proposal: `yibao serve` records its pack as version 1 first (the hostile review found a
/// proposal there that kept the server from starting).
#[tokio::test]
async fn a_store_without_a_recorded_pack_takes_no_proposal() {
    let api = setup("not-installed").await;
    let admin = api.sign_in("admin").await;
    let officer = json!({ "username": "policy", "display_name": "policy", "password": "pw-policy-long", "role": "policy_officer", "region": "419900" });
    let (status, created) = api.call("POST", "/api/staff", Auth::Token(&admin), Some(officer)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, signed_in) =
        api.call("POST", "/api/session", Auth::None, Some(json!({ "username": "policy", "password": "pw-policy-long" }))).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let token = signed_in["token"].as_str().expect("token");
    let (status, answer) =
        api.call("POST", "/api/policy/versions", Auth::Token(token), Some(json!({ "text": raised(95), "note": "x" }))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("policy.not_installed")), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_version_is_proposed_approved_by_a_second_person_and_in_force_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("yibao-api-policy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    seed(&store).await;
    let (api, app) = versioned(Backend::Sqlite(store)).await;
    let second = SqliteStore::open(&dir.join("yibao.db")).await.expect("a second store on the file");
    let given = GivenPack { label: "unused".into(), text: String::new(), named: false };
    let other = App::open_with_policy(Arc::new(Backend::Sqlite(second)), &given, None).await.expect("other");
    policy_flow(&api, &app, &other).await;
    // A version's text edited in the database past the application is not loaded.
    let conn = rusqlite::Connection::open(dir.join("yibao.db")).expect("open");
    conn.execute("UPDATE policy_versions SET text = replace(text, '95%', '99%') WHERE version = 2", []).expect("tamper");
    let auditor = api.sign_in("auditor").await;
    let (status, answer) = api.call("GET", "/api/policy/versions/2", Auth::Token(&auditor), None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("policy.tampered")), "{answer}");
    conn.execute("UPDATE policy_versions SET text = replace(text, '97%', '98%') WHERE version = 4", []).expect("tamper");
    let reopened = SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    let refused = App::open_with_policy(Arc::new(Backend::Sqlite(reopened)), &given, None).await.map(|_| ()).map_err(|e| e.code);
    assert_eq!(refused, Err("policy.tampered".into()), "a start refuses the version in force tampered with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_versions_behave_the_same_on_postgresql() {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the API tests: {e}"));
    let store = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
    seed(&store).await;
    let (api, app) = versioned(Backend::Postgres(store)).await;
    let second = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("a second connection");
    let given = GivenPack { label: "unused".into(), text: String::new(), named: false };
    let other = App::open_with_policy(Arc::new(Backend::Postgres(second)), &given, None).await.expect("other");
    policy_flow(&api, &app, &other).await;
}

const CATALOGUE_DRUG: &str = "XN01AAA0001010100001";

/// The dated catalogue over HTTP (issue 13): a policy officer uploads the national list's
/// file (a dry run, a file with a wrong row, the file), a clerk reads an item's versions, a
/// claim settles under the version of its day, and a second application on the store sees
/// the load.
async fn catalogue_flow(api: &Api, other: &App) {
    enrol_both(api).await;
    let (policy, clerk, auditor) = (api.sign_in("policy").await, api.sign_in("east.clerk").await, api.sign_in("auditor").await);
    let file = format!(
        "医保目录编码,医保目录名称,目录类别,收费项目等级,开始日期,结束日期,医保区划,先行自付比例\n\
         {CATALOGUE_DRUG},test drug,101,02,2024-01-01,2026-02-28,,0.2\n\
         {CATALOGUE_DRUG},test drug,101,03,2026-03-01,,,\n\
         {CATALOGUE_DRUG},test drug,101,01,2026-03-01,,420000,\n"
    );
    let path = |query: &str| format!("/api/catalogue/loads?file=list.csv&cite=%E5%8C%BB%E4%BF%9D%E5%8F%912026-1{query}");
    let (status, answer) = api.upload(&path(""), Auth::Token(&clerk), file.clone().into_bytes()).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("access.forbidden")), "{answer}");
    // A hospital's key loads no catalogue: the list its claims are paid by is the bureau's.
    let (status, answer) = api.upload(&path(""), Auth::Key("key-east"), file.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    // Malformed requests: no cite, an empty body; nothing is written.
    let (status, _) = api.upload("/api/catalogue/loads?file=list.csv", Auth::Token(&policy), file.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = api.upload(&path(""), Auth::Token(&policy), Vec::new()).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("import.empty_file")), "{answer}");
    let (status, dry) = api.upload(&path("&dry_run=true"), Auth::Token(&policy), file.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        (dry["report"]["loaded"].as_bool(), dry["report"]["added"].as_u64(), dry["report"]["elsewhere"].as_u64()),
        (Some(false), Some(2), Some(1))
    );
    let wrong = format!("{file}001201000010000,bed,201,07,2024-01-01,,,\n");
    let (status, refused) = api.upload(&path(""), Auth::Token(&policy), wrong.into_bytes()).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("catalogue.rows_refused")), "{refused}");
    assert_eq!(
        (refused["report"]["errors"][0]["line"].as_u64(), refused["report"]["errors"][0]["column"].as_str()),
        (Some(5), Some("chrgitm_lv"))
    );
    // A policy officer's clean file is a proposal: nothing is in force until another
    // policy officer approves it (two people, as for a pack version).
    let (status, proposed) = api.upload(&path(""), Auth::Token(&policy), file.into_bytes()).await;
    assert_eq!((status, proposed["report"]["loaded"].as_bool()), (StatusCode::ACCEPTED, Some(false)), "{proposed}");
    let seq = proposed["report"]["proposal"]["seq"].as_i64().expect("a proposal");
    assert_eq!(
        api.call("GET", &format!("/api/catalogue/items/{CATALOGUE_DRUG}"), Auth::Token(&clerk), None).await.0,
        StatusCode::NOT_FOUND
    );
    // What approving it would change, read before deciding: the city's two versions.
    let (status, view) = api.call("GET", &format!("/api/catalogue/proposals/{seq}"), Auth::Token(&auditor), None).await;
    assert_eq!((status, view["change_count"].as_u64(), view["current"].as_bool()), (StatusCode::OK, Some(2), Some(true)), "{view}");
    assert!(
        view["changes"][0]["before"].is_null() && view["changes"][0]["after"].as_str().is_some_and(|t| t.contains("医保发2026-1")),
        "{view}"
    );
    let approval = format!("/api/catalogue/proposals/{seq}/approval");
    let (status, own) = api.call("POST", &approval, Auth::Token(&policy), None).await;
    assert_eq!((status, own["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("catalogue.same_officer")), "{own}");
    let (status, _) = api.call("POST", &approval, Auth::Token(&clerk), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a clerk approves nothing");
    // Nor does a hospital, whose claims the catalogue prices, nor does it read the proposals.
    assert_eq!(api.call("POST", &approval, Auth::Key("key-east"), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(api.call("GET", &format!("/api/catalogue/proposals/{seq}"), Auth::Key("key-east"), None).await.0, StatusCode::FORBIDDEN);
    let reviewer = api.sign_in("policy.review").await;
    let (status, loaded) = api.call("POST", &approval, Auth::Token(&reviewer), None).await;
    assert_eq!((status, loaded["report"]["loaded"].as_bool()), (StatusCode::CREATED, Some(true)), "{loaded}");
    assert_eq!(loaded["report"]["proposal"]["decided_by"].as_str(), Some("policy.review"));
    let (status, twice) = api.call("POST", &approval, Auth::Token(&reviewer), None).await;
    assert_eq!((status, twice["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("catalogue.not_proposed")), "{twice}");
    let (status, missing) = api.call("POST", "/api/catalogue/proposals/999/approval", Auth::Token(&reviewer), None).await;
    assert_eq!((status, missing["code"].as_str()), (StatusCode::NOT_FOUND, Some("catalogue.proposal_not_found")), "{missing}");
    // A proposal can be rejected, with a reason, and is then decided.
    let (status, second) = api
        .upload(
            &path(""),
            Auth::Token(&policy),
            b"hilist_code,hilist_name,list_type,chrgitm_lv,begndate\n001201000010009,bed,201,01,2024-01-01\n".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let second = second["report"]["proposal"]["seq"].as_i64().expect("a proposal");
    let rejection = format!("/api/catalogue/proposals/{second}/rejection");
    let (status, why) = api.call("POST", &rejection, Auth::Token(&reviewer), Some(json!({ "note": "" }))).await;
    assert_eq!((status, why["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("request.invalid")), "a rejection says why: {why}");
    let (status, rejected) = api.call("POST", &rejection, Auth::Token(&reviewer), Some(json!({ "note": "not this year's list" }))).await;
    assert_eq!((status, rejected["status"].as_str()), (StatusCode::OK, Some("rejected")), "{rejected}");
    let (status, proposals) = api.call("GET", "/api/catalogue/proposals", Auth::Token(&auditor), None).await;
    let statuses: Vec<&str> =
        proposals.as_array().map(|list| list.iter().filter_map(|p| p["status"].as_str()).collect()).unwrap_or_default();
    assert_eq!((status, statuses), (StatusCode::OK, vec!["rejected", "approved"]));

    // Above the API's usual body limit (4 MiB), a catalogue file is still read.
    let mut big = String::from("hilist_code,hilist_name,list_type,chrgitm_lv,begndate\n");
    for n in 0..90_000 {
        big.push_str(&format!("{:015},medical service item {n},201,01,2024-01-01\n", 900_000_000_000_000_u64 + n));
    }
    assert!(big.len() > yibao_api::BODY_LIMIT_BYTES);
    let (status, answer) = api.upload(&path("&dry_run=true"), Auth::Token(&policy), big.into_bytes()).await;
    assert_eq!((status, answer["report"]["rows"].as_u64()), (StatusCode::OK, Some(90_000)), "{answer}");

    let (status, item) = api.call("GET", &format!("/api/catalogue/items/{CATALOGUE_DRUG}"), Auth::Token(&clerk), None).await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["versions"].as_array().map(Vec::len), Some(2), "another province's version is not the city's: {item}");
    assert_eq!((item["versions"][0]["class"].as_str(), item["versions"][0]["selfpay_share"].as_str()), (Some("B"), Some("20%")));
    assert_eq!(item["versions"][0]["cite"].as_str(), Some("医保发2026-1"));
    assert_eq!(api.call("GET", "/api/catalogue/items/XN99999999999999999999", Auth::Token(&clerk), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.call("GET", "/api/catalogue/items/x-1", Auth::Token(&clerk), None).await.0, StatusCode::BAD_REQUEST);
    let (status, loads) = api.call("GET", "/api/catalogue/loads", Auth::Token(&auditor), None).await;
    assert_eq!((status, loads.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{loads}");

    // A line of the drug: class B (20% first) in February, class C from March.
    for (claim_id, day, preselfpay, ownpay) in [("CAT-1", "2026-02-20", "20.00", "0.00"), ("CAT-2", "2026-03-02", "0.00", "100.00")] {
        let mut claim = claim(claim_id, "H41992100007");
        claim["admission_date"] = json!(day);
        claim["discharge_date"] = json!(day);
        claim["lines"] = json!([{ "code": CATALOGUE_DRUG, "quantity": 1, "unit_price": "100.00" }]);
        let body = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim });
        let (status, settled) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{settled}");
        assert_eq!(
            (settled["settlement"]["preselfpay_amt"].as_str(), settled["settlement"]["fulamt_ownpay_amt"].as_str()),
            (Some(preselfpay), Some(ownpay)),
            "{claim_id}: {settled}"
        );
    }
    // A single disease at its fixed price (demo pack: appendicitis 4000 yuan at a secondary
    // hospital, residents' share 70%): the hospital bears what the bill exceeds the price by.
    let mut stay = claim("SD-1", "H41992100007");
    stay["kind"] = json!("single-disease");
    stay["admission_date"] = json!("2026-04-10");
    stay["discharge_date"] = json!("2026-04-14");
    stay["lines"] = json!([{ "code": CATALOGUE_DRUG, "quantity": 1, "unit_price": "5000.00" }]);
    // A hospital that states a level above its registered one, to reach a dearer fixed
    // price, is refused: the level is the register's.
    let mut dearer = stay.clone();
    dearer["institution_level"] = json!("tertiary");
    let dearer = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": dearer });
    let (status, refused) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(dearer)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, settled) = api
        .call(
            "POST",
            "/api/settlements",
            Auth::Key("key-east"),
            Some(json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": stay })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    let fields = ["med_type", "hifp_pay", "hosp_part_amt", "psn_part_amt"].map(|f| settled["settlement"][f].as_str().map(str::to_owned));
    assert_eq!(fields, ["2102", "2800.00", "1000.00", "1200.00"].map(|v| Some(v.to_owned())), "{settled}");
    // A purchase at a designated pharmacy (med_type 41): no fund pays; a hospital cannot send one.
    let mut purchase = claim("RX-1", "P41992100002");
    purchase["kind"] = json!("pharmacy-purchase");
    purchase["institution_level"] = json!("primary");
    purchase["admission_date"] = json!("2026-04-20");
    purchase["discharge_date"] = json!("2026-04-20");
    purchase["lines"] = json!([{ "code": CATALOGUE_DRUG, "quantity": 2, "unit_price": "15.00" }]);
    let body = |claim: &Value| json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": claim });
    let (status, bought) = api.call("POST", "/api/settlements", Auth::Key("key-pharmacy"), Some(body(&purchase))).await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");
    let fields = ["med_type", "fund_pay_sumamt", "psn_cash_pay"].map(|f| bought["settlement"][f].as_str().map(str::to_owned));
    assert_eq!(fields, ["41", "0.00", "30.00"].map(|v| Some(v.to_owned())), "{bought}");
    purchase["institution_code"] = json!("H41992100007");
    purchase["institution_level"] = json!("secondary");
    purchase["claim_id"] = json!("RX-2");
    let (status, refused) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body(&purchase))).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.purchase_not_at_pharmacy")), "{refused}");
    benefit_kinds_flow(api, &body).await;
    assert!(other.refresh_catalogue().await.expect("refresh"), "a second application on the store reads the load");
    assert_eq!(other.policy().national_catalogue().len(), 2);
}

const TRASTUZUMAB: &str = "XL01XCQ065B001010100981";

/// The last benefit kinds of issue 13 over HTTP, as a clerk and hostile institutions would
/// use them: special drugs at a pharmacy (双通道), the two diseases' medicines, and an
/// employee's top-ups (公务员医疗补助, 企业补充医疗保险) posted to their own funds; the books
/// still check.
async fn benefit_kinds_flow(api: &Api, body: &impl Fn(&Value) -> Value) {
    let (clerk, auditor) = (api.sign_in("east.clerk").await, api.sign_in("auditor").await);
    let person = format!("/api/persons/{EAST_PERSON}");
    // A hospital cannot make its patient a civil servant (the subsidy is the bureau's record).
    let (status, _) = api.call("PATCH", &person, Auth::Key("key-east"), Some(json!({ "civil_servant": true }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The top-ups are an employee's: a resident cannot be given them.
    let (status, refused) = api.call("PATCH", &person, Auth::Token(&clerk), Some(json!({ "civil_servant": true }))).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("person.employee_only")), "{refused}");
    // A special drug for a disease not on file is refused, whoever dispenses it.
    let mut drug = claim("SP-1", "P41992100002");
    drug["kind"] = json!("special-drug");
    drug["institution_level"] = json!("primary");
    drug["diagnosis"] = json!("C50.900");
    drug["admission_date"] = json!("2026-05-06");
    drug["discharge_date"] = json!("2026-05-06");
    drug["lines"] = json!([{ "code": TRASTUZUMAB, "quantity": 1, "unit_price": "5500.00" }]);
    let (status, refused) = api.call("POST", "/api/settlements", Auth::Key("key-pharmacy"), Some(body(&drug))).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("settle.special_drug_not_indicated")),
        "{refused}"
    );
    let diseases = json!({ "certified_chronic_diseases": ["C50", "I10"] });
    assert_eq!(api.call("PATCH", &person, Auth::Token(&clerk), Some(diseases)).await.0, StatusCode::OK);
    // On file: the pharmacy dispenses it (no hospital approval of the restriction needed);
    // 20% first, 4400 in scope, the residents' 60% = 2640.
    drug["claim_id"] = json!("SP-2");
    let (status, settled) = api.call("POST", "/api/settlements", Auth::Key("key-pharmacy"), Some(body(&drug))).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    let fields = ["med_type", "preselfpay_amt", "hifp_pay"].map(|f| settled["settlement"][f].as_str().map(str::to_owned));
    assert_eq!(fields, ["9904", "1100.00", "2640.00"].map(|v| Some(v.to_owned())), "{settled}");
    // A negotiated drug (谈判药品, R-PAY-2): its line says so; its cap is the negotiated price.
    assert_eq!(settled["settlement"]["lines"][0]["negotiated"], true, "{settled}");
    // Another drug on a special-drug claim is refused: the list is the city's.
    drug["claim_id"] = json!("SP-3");
    drug["lines"] = json!([{ "code": CATALOGUE_DRUG, "quantity": 1, "unit_price": "10.00" }]);
    let (status, refused) = api.call("POST", "/api/settlements", Auth::Key("key-pharmacy"), Some(body(&drug))).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("settle.not_a_special_drug")), "{refused}");
    // The two diseases' medicines at the hospital: 300 at 50% (secondary) = 150; a
    // consultation on the same claim is refused.
    let mut two = claim("TD-1", "H41992100007");
    two["kind"] = json!("two-disease");
    two["diagnosis"] = json!("I10.x00");
    two["admission_date"] = json!("2026-05-07");
    two["discharge_date"] = json!("2026-05-07");
    two["lines"] = json!([{ "code": "XC08CAA074A001010102085", "quantity": 2, "unit_price": "150.00" }]);
    let (status, settled) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body(&two))).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    assert_eq!((settled["settlement"]["med_type"].as_str(), settled["settlement"]["hifp_pay"].as_str()), (Some("9901"), Some("150.00")));
    two["claim_id"] = json!("TD-2");
    two["lines"] = json!([{ "code": "001102000010000", "quantity": 1, "unit_price": "10.00" }]);
    let (status, refused) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body(&two))).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("settle.two_disease_not_medicine")),
        "{refused}"
    );

    // An employee recorded as a civil servant whose employer has a supplementary plan.
    let employee = "419921198506150033";
    let mut enrol = enrolment(employee, "419921", "HH-E1");
    for (field, value) in [
        ("scheme", json!("employee")),
        ("category", json!("employed")),
        ("tier", json!(1)),
        ("card_no", json!("C0031")),
        ("supplementary", json!(false)),
        ("civil_servant", json!(true)),
        ("enterprise_supplementary", json!(true)),
    ] {
        enrol[field] = value;
    }
    let (status, enrolled) = api.call("POST", "/api/persons", Auth::Token(&clerk), Some(enrol)).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    let mut stay = claim("CS-1", "H41992100007");
    stay["admission_date"] = json!("2026-05-10");
    stay["discharge_date"] = json!("2026-05-14");
    let stay = json!({ "person_id": employee, "card_no": "C0031", "claim": stay });
    let (status, settled) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay)).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    let s = &settled["settlement"];
    let yuan = |field: &str| s[field].as_str().and_then(|t| yibao_domain::Fen::parse_yuan(t).ok()).unwrap_or_default();
    assert!(yuan("cvlserv_pay").get() > 0 && yuan("hifes_pay").get() > 0, "{settled}");
    assert_eq!(s["civil_servant"].as_bool(), Some(true));
    assert_eq!(
        yuan("hifp_pay") + yuan("cvlserv_pay") + yuan("hifes_pay") + yuan("hifob_pay"),
        yuan("fund_pay_sumamt"),
        "the top-ups are funds: {settled}"
    );
    // Each payer's own books, and nothing breached (the single disease's hospital part too).
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_is_loaded_read_and_settled_under_over_http() {
    let dir = std::env::temp_dir().join(format!("yibao-api-catalogue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    seed(&store).await;
    let (api, _) = versioned(Backend::Sqlite(store)).await;
    let second = SqliteStore::open(&dir.join("yibao.db")).await.expect("a second store on the file");
    let given = GivenPack { label: "unused".into(), text: String::new(), named: false };
    let other = App::open_with_policy(Arc::new(Backend::Sqlite(second)), &given, None).await.expect("other");
    catalogue_flow(&api, &other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_behaves_the_same_on_postgresql() {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the API tests: {e}"));
    let store = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
    seed(&store).await;
    let (api, _) = versioned(Backend::Postgres(store)).await;
    let second = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("a second connection");
    let given = GivenPack { label: "unused".into(), text: String::new(), named: false };
    let other = App::open_with_policy(Arc::new(Backend::Postgres(second)), &given, None).await.expect("other");
    catalogue_flow(&api, &other).await;
}

#[tokio::test]
async fn institutions_under_agreement_are_paid_by_the_payment_year() {
    payment_flow(&setup("payment").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payment_year_behaves_the_same_on_postgresql() {
    let (api, _server) = setup_postgres().await;
    payment_flow(&api).await;
}

fn stay(claim_id: &str, institution: &str, diagnosis: &str, admission: &str, discharge: &str, unit_price: &str) -> Value {
    json!({ "claim_id": claim_id, "institution_code": institution, "institution_level": "secondary", "kind": "inpatient",
            "admission_date": admission, "discharge_date": discharge, "diagnosis": diagnosis,
            "lines": [{ "code": "XA10BAE010A001010100315", "quantity": 2, "unit_price": unit_price }] })
}

/// Issue 15: the bureau signs the year's agreements, budgets the year, and the payment year
/// pays each institution by its methods (DIP points for one, fee-for-service for the
/// other); an institution reads its own statement only; a suspension refuses the stays of
/// its days with its own code, and an inspection's deduction reaches the statement.
async fn payment_flow(api: &Api) {
    enrol_both(api).await;
    let year = time::OffsetDateTime::now_utc().year();
    let admin = api.sign_in("admin").await;
    let accountant = api.sign_in("accountant").await;
    let east_claims = api.sign_in("east.claims").await;
    let east_clerk = api.sign_in("east.clerk").await;
    let sign = json!({ "change": "sign", "year": year, "points": true, "per_diem": true });
    // A hostile hospital cannot sign its own terms, lift its own suspension, register its
    // own physicians nor clear their points.
    for (path, body) in [
        ("/api/institutions/H41992100007/agreement", json!({ "change": "sign", "year": year, "points": true, "per_diem": true })),
        ("/api/institutions/H41992100007/agreement", json!({ "change": "reinstate", "on": format!("{year}-01-02") })),
        ("/api/institutions/H41992100007/physicians", json!({ "code": "D419921000007", "name": "自荐医生" })),
        ("/api/physicians/D419921000007/penalties", json!({ "date": format!("{year}-01-02"), "points": 1, "reason": "x" })),
    ] {
        let answer = api.call("POST", path, Auth::Key("key-east"), Some(body)).await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{path}: {answer:?}");
    }
    // Only a city administrator signs; a claims officer records inspections only.
    for token in [&east_clerk, &east_claims, &accountant] {
        let answer = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(token), Some(sign.clone())).await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{answer:?}");
    }
    let (status, register) = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(sign)).await;
    assert_eq!(status, StatusCode::OK, "{register}");
    assert_eq!(register["agreement"]["years"][0]["points"], true, "{register}");
    // A change with a field it does not take, or without one it needs, is refused by its rule.
    for refused in [json!({ "change": "reinstate", "on": "2026-01-01", "points": true }), json!({ "change": "suspend", "reason": "x" })] {
        let (status, answer) = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(refused)).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement.bad_change")), "{answer}");
    }

    // Two stays at the east hospital (DIP points), one at the centre's (no agreement this
    // year: fee-for-service).
    for (person, claim) in [
        (EAST_PERSON, stay("P-1", "H41992100007", "I63.900", &format!("{year}-03-02"), &format!("{year}-03-10"), "4000.00")),
        (EAST_PERSON, stay("P-2", "H41992100007", "J18.900", &format!("{year}-05-02"), &format!("{year}-05-08"), "2500.00")),
    ] {
        let body = json!({ "person_id": person, "card_no": "C0001", "claim": claim });
        let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let body = json!({ "person_id": WEST_PERSON, "card_no": "C0001", "claim": stay("P-3", "H41990200003", "I63.900", &format!("{year}-04-02"), &format!("{year}-04-09"), "3000.00") });
    assert_eq!(api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(body)).await.0, StatusCode::CREATED);

    // No budget yet: the year cannot be paid.
    let (status, answer) = api.call("GET", &format!("/api/payment/{year}"), Auth::Token(&accountant), None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("payment.no_budget")), "{answer}");
    let budget = json!({ "year": year, "scheme": "resident", "unit": "419900", "income": "100000.00", "spending": "90000.00" });
    assert_eq!(api.call("PUT", "/api/funds/budgets", Auth::Token(&accountant), Some(budget)).await.0, StatusCode::OK);
    // An inspection of the east hospital deducts 100 yuan.
    let inspection = json!({ "change": "inspect", "on": format!("{year}-06-01"), "reason": "重复收费 (billed twice)", "deduction": "100" });
    let (status, answer) = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&east_claims), Some(inspection)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (status, view) = api.call("GET", &format!("/api/payment/{year}"), Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["provisional"], true, "the year is not assessed: {view}");
    let result = &view["result"];
    // 100,000 budgeted less the 2026 reserve of 3% = 97,000.
    assert_eq!((fen(&result["budget"]), fen(&result["risk_reserve"])), (9_700_000, 300_000), "{result}");
    let institution = |code: &str| {
        result["institutions"].as_array().expect("institutions").iter().find(|i| i["institution"] == code).cloned().expect(code)
    };
    let east = institution("H41992100007");
    let centre = institution("H41990200003");
    assert_eq!((east["cases"].as_u64(), centre["cases"].as_u64()), (Some(2), Some(1)), "{result}");
    // The centre hospital has no agreement for the year: its stay is paid as billed, and it
    // earns points for nothing.
    assert_eq!(centre["points"], "0.0000");
    assert_eq!(fen(&centre["fee_for_service"]), fen(&centre["billed"]));
    // The east hospital's stays are grouped (I63 and J18 are in the 2026 table) and cleared.
    assert!(east["points_clearing"].is_object() && east["points"] != "0.0000", "{east}");
    assert_eq!(fen(&east["deductions"]), 10_000);
    for one in [&east, &centre] {
        assert_eq!(fen(&one["paid_in_year"]) + fen(&one["balance"]), fen(&one["payable"]), "year-balances: {one}");
        assert_eq!(fen(&one["against_billed"]), fen(&one["payable"]) - fen(&one["billed"]), "{one}");
    }
    assert!(result["point_value_yuan"].is_string(), "{result}");
    assert_wire(&view, "payment");

    // The east hospital reads its own statement, not the centre's; a clerk reads neither.
    let (status, statement) = api.call("GET", &format!("/api/payment/{year}/institutions/H41992100007"), Auth::Key("key-east"), None).await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    assert_eq!(statement["institution"], east);
    assert_eq!(statement["cases"].as_array().map(Vec::len), Some(2));
    assert!(statement["cases"].as_array().expect("cases").iter().all(|c| c["institution"] == "H41992100007"));
    let answer = api.call("GET", &format!("/api/payment/{year}/institutions/H41990200003"), Auth::Key("key-east"), None).await;
    assert_eq!(answer.0, StatusCode::FORBIDDEN, "{answer:?}");
    assert_eq!(api.call("GET", &format!("/api/payment/{year}"), Auth::Key("key-east"), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(api.call("GET", &format!("/api/payment/{year}"), Auth::Token(&east_clerk), None).await.0, StatusCode::FORBIDDEN);

    // The year is the city's: a county's fund accountant reads neither it nor another
    // county's institution's statement, only its own county's.
    let county = json!({ "username": "east.accountant", "display_name": "east accountant", "password": "pw-east.accountant-long", "role": "fund_accountant", "region": "419921" });
    let (status, answer) = api.call("POST", "/api/staff", Auth::Token(&admin), Some(county)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, session) = api
        .call("POST", "/api/session", Auth::None, Some(json!({ "username": "east.accountant", "password": "pw-east.accountant-long" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let county_token = session["token"].as_str().expect("token").to_owned();
    assert_eq!(api.call("GET", &format!("/api/payment/{year}"), Auth::Token(&county_token), None).await.0, StatusCode::FORBIDDEN);
    let answer = api.call("GET", &format!("/api/payment/{year}/institutions/H41990200003"), Auth::Token(&county_token), None).await;
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{answer:?}");
    let answer = api.call("GET", &format!("/api/payment/{year}/institutions/H41992100007"), Auth::Token(&county_token), None).await;
    assert_eq!(answer.0, StatusCode::OK, "{answer:?}");
    // A year is assessed once it is over, not before.
    let early = json!({ "change": "assess", "year": year, "score": "95%" });
    let (status, answer) = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(early)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement.bad_date")), "{answer}");
    let absurd = json!({ "change": "sign", "year": i32::MIN });
    let (status, answer) = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(absurd)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement.bad_date")), "{answer}");

    // A suspension from 1 October refuses a stay admitted in it with its own code, and not
    // one admitted before; after the reinstatement the hospital settles again.
    let suspend = json!({ "change": "suspend", "from": format!("{year}-10-01"), "reason": "分解住院 (split admissions)" });
    let (status, answer) = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(suspend)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let during = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": stay("P-4", "H41992100007", "J18.900", &format!("{year}-10-02"), &format!("{year}-10-05"), "1000.00") });
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(during.clone())).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("settle.institution_suspended")), "{answer}");
    let before = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": stay("P-5", "H41992100007", "J18.900", &format!("{year}-09-02"), &format!("{year}-09-05"), "1000.00") });
    assert_eq!(api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(before)).await.0, StatusCode::CREATED);
    let reinstate = json!({ "change": "reinstate", "on": format!("{year}-10-02") });
    assert_eq!(api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(reinstate)).await.0, StatusCode::OK);
    assert_eq!(api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(during)).await.0, StatusCode::CREATED);
    // A termination holds for good, with its own code.
    let terminate = json!({ "change": "terminate", "from": format!("{year}-11-01"), "reason": "欺诈骗保 (fraud)" });
    assert_eq!(api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(terminate)).await.0, StatusCode::OK);
    let after = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": stay("P-6", "H41992100007", "J18.900", &format!("{year}-11-02"), &format!("{year}-11-04"), "1000.00") });
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(after)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("settle.institution_terminated")), "{answer}");
    let again = json!({ "change": "reinstate", "on": format!("{year}-11-20") });
    let (status, answer) = api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(again)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement.refused")), "{answer}");
    designation_flow(api, year).await;
    physicians_flow(api, year).await;
    // The agreement's changes are in the audit chain.
    let auditor = api.sign_in("auditor").await;
    let (_, trail) = api.call("GET", "/api/audit?region=419921&limit=1000", Auth::Token(&auditor), None).await;
    let agreement_entries = trail
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "institution.update" && e["entity"] == "H41992100007")
        .filter(|e| e["detail"].as_str().is_some_and(|d| d.contains("agreement")))
        .count();
    assert_eq!(agreement_entries, 5, "sign, inspect, suspend, reinstate, terminate (and nothing for the refusal): {trail}");
}

/// R-INS-1 before the agreement: the pharmacy applies for designation, the experts
/// evaluate it, the bureau negotiates; its terms are signed only after an agreed
/// negotiation, and each step takes its own fields.
async fn designation_flow(api: &Api, year: i32) {
    let admin = api.sign_in("admin").await;
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let path = "/api/institutions/P41992100002/agreement";
    let post = |body: Value| {
        let admin = admin.clone();
        async move { api.call("POST", path, Auth::Token(&admin), Some(body)).await }
    };
    let (status, register) = post(json!({ "change": "apply", "on": today, "reason": "药品零售 (dispensing)" })).await;
    assert_eq!(status, StatusCode::OK, "{register}");
    assert_eq!(register["agreement"]["applications"][0]["services"], "药品零售 (dispensing)", "{register}");
    let sign = json!({ "change": "sign", "year": year, "points": false });
    let (status, answer) = post(sign.clone()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement.refused")),
        "not yet agreed: {answer}"
    );
    let (status, answer) = post(json!({ "change": "negotiate", "on": today, "reason": "x", "accepted": true })).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement.refused")), "not evaluated: {answer}");
    for wrong in [
        json!({ "change": "evaluate", "on": today, "score": "85%", "reason": "符合条件" }),
        json!({ "change": "apply", "on": today, "reason": "x", "year": year }),
        json!({ "change": "evaluate", "on": today, "score": "85%", "reason": "x", "accepted": true, "deduction": "1" }),
    ] {
        let (status, answer) = post(wrong.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement.bad_change")),
            "{wrong}: {answer}"
        );
    }
    let evaluated =
        post(json!({ "change": "evaluate", "on": today, "score": "85%", "reason": "符合条件 (meets the conditions)", "accepted": true }))
            .await;
    assert_eq!(evaluated.0, StatusCode::OK, "{}", evaluated.1);
    let (status, register) = post(json!({ "change": "negotiate", "on": today, "reason": "协商一致 (agreed)", "accepted": true })).await;
    assert_eq!(status, StatusCode::OK, "{register}");
    assert_eq!(register["agreement"]["applications"][0]["negotiation"]["agreed"], true, "{register}");
    let (status, register) = post(sign).await;
    assert_eq!(status, StatusCode::OK, "signed after an agreed negotiation: {register}");
    // The pharmacy cannot record its own application's evaluation.
    let own = json!({ "change": "evaluate", "on": today, "score": "100%", "reason": "x", "accepted": true });
    assert_eq!(api.call("POST", path, Auth::Key("key-pharmacy"), Some(own)).await.0, StatusCode::FORBIDDEN);
}

/// Insurance physicians (医保医师) at the centre's hospital: registered by the city's
/// administrator; a claim naming one settles, one naming a stranger is refused; penalty
/// points suspend the right to bill from the penalty's day (`settle.physician_suspended`);
/// an agreement that requires a physician refuses a claim naming none.
async fn physicians_flow(api: &Api, year: i32) {
    let admin = api.sign_in("admin").await;
    let east_claims = api.sign_in("east.claims").await;
    let west_claims = api.sign_in("west.claims").await;
    let today = time::OffsetDateTime::now_utc().date();
    let day = |offset: i64| (today + time::Duration::days(offset)).to_string();
    let register = json!({ "code": "D419902000001", "name": "李医生", "from": format!("{year}-01-01") });
    let east_clerk = api.sign_in("east.clerk").await;
    assert_eq!(
        api.call("POST", "/api/institutions/H41990200003/physicians", Auth::Token(&east_clerk), Some(register.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, physician) =
        api.call("POST", "/api/institutions/H41990200003/physicians", Auth::Token(&admin), Some(register.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{physician}");
    let (status, answer) = api.call("POST", "/api/institutions/H41990200003/physicians", Auth::Token(&admin), Some(register)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let elsewhere = json!({ "code": "D419921000001", "name": "王医生" });
    let (status, answer) = api.call("POST", "/api/institutions/H41990200003/physicians", Auth::Token(&admin), Some(elsewhere)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("physician.bad_code")), "{answer}");
    let (status, list) = api.call("GET", "/api/institutions/H41990200003/physicians", Auth::Key("key-center"), None).await;
    assert_eq!((status, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{list}");
    assert_eq!(api.call("GET", "/api/institutions/H41990200003/physicians", Auth::Key("key-east"), None).await.0, StatusCode::FORBIDDEN);

    let named = |id: &str, physician: Option<&str>, admission: String, discharge: String| {
        let mut claim = stay(id, "H41990200003", "J18.900", &admission, &discharge, "1000.00");
        if let Some(code) = physician {
            claim["physician"] = json!(code);
        }
        json!({ "person_id": WEST_PERSON, "card_no": "C0001", "claim": claim })
    };
    let answer =
        api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(named("D-1", Some("D419902000001"), day(-20), day(-18)))).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{answer:?}");
    let (status, answer) =
        api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(named("D-2", Some("D419902000099"), day(-16), day(-15)))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("settle.physician_unknown")), "{answer}");
    let (status, answer) =
        api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(named("D-2", Some("D41990200000X"), day(-16), day(-15)))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a malformed physician code: {answer}");

    // Six points, then three more bring the year to nine: the officer must give the months.
    let penalty = |points: u8, months: Option<u8>| json!({ "date": day(0), "points": points, "reason": "超量开药 (over-prescribing)", "suspension_months": months });
    assert_eq!(
        api.call("POST", "/api/physicians/D419902000001/penalties", Auth::Token(&east_claims), Some(penalty(6, None))).await.0,
        StatusCode::NOT_FOUND,
        "another county's physician"
    );
    let (status, answer) = api.call("POST", "/api/physicians/D419902000001/penalties", Auth::Token(&admin), Some(penalty(6, None))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = api.call("POST", "/api/physicians/D419902000001/penalties", Auth::Token(&admin), Some(penalty(3, None))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("physician.refused")), "{answer}");
    let (status, record) =
        api.call("POST", "/api/physicians/D419902000001/penalties", Auth::Token(&admin), Some(penalty(3, Some(2)))).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["book"]["suspensions"].as_array().map(Vec::len), Some(1), "{record}");
    let _ = west_claims;
    // Suspended from today: a stay admitted today naming the physician is refused with its
    // own code; one admitted before the penalty still settles.
    let (status, answer) =
        api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(named("D-3", Some("D419902000001"), day(0), day(0)))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("settle.physician_suspended")), "{answer}");
    let answer =
        api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(named("D-4", Some("D419902000001"), day(-10), day(-8)))).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{answer:?}");
    // The centre's agreement for the year now requires every claim to name its physician.
    let sign = json!({ "change": "sign", "year": year, "physicians_required": true });
    assert_eq!(api.call("POST", "/api/institutions/H41990200003/agreement", Auth::Token(&admin), Some(sign)).await.0, StatusCode::OK);
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(named("D-5", None, day(-6), day(-5)))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("settle.physician_required")), "{answer}");
    // A retry of a claim settled before the suspension is answered with its settlement.
    let answer =
        api.call("POST", "/api/settlements", Auth::Key("key-center"), Some(named("D-4", Some("D419902000001"), day(-10), day(-8)))).await;
    assert_eq!((answer.0, answer.1["replayed"].as_bool()), (StatusCode::OK, Some(true)), "{answer:?}");
}

/// Hostile review: a stay settled in the first hours of 1 January (Beijing), still
/// 31 December in UTC where settled moments are kept, counts in the year it was discharged
/// in; a retry of it after its hospital is suspended is answered, and the same claim id with
/// other content is not let through by the suspension's retry rule.
#[tokio::test]
async fn a_stay_settled_early_on_new_years_day_counts_in_its_year() {
    // 07:30 on 1 January 2026 in the city.
    let clock: yibao_app::Clock = Arc::new(|| datetime!(2025-12-31 23:30 UTC));
    let api = api_at(Backend::Sqlite(seeded_sqlite("new-year").await), clock);
    enrol_both(&api).await;
    let admin = api.sign_in("admin").await;
    let sign = json!({ "change": "sign", "year": 2026, "points": true });
    assert_eq!(api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(sign)).await.0, StatusCode::OK);
    let body = json!({ "person_id": EAST_PERSON, "card_no": "C0001", "claim": stay("NY-1", "H41992100007", "J18.900", "2025-12-28", "2026-01-01", "1500.00") });
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let accountant = api.sign_in("accountant").await;
    let budget = json!({ "year": 2026, "scheme": "resident", "unit": "419900", "income": "100000.00", "spending": "90000.00" });
    assert_eq!(api.call("PUT", "/api/funds/budgets", Auth::Token(&accountant), Some(budget)).await.0, StatusCode::OK);
    let (status, view) = api.call("GET", "/api/payment/2026", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let east =
        view["result"]["institutions"].as_array().expect("institutions").iter().find(|i| i["institution"] == "H41992100007").cloned();
    assert_eq!(east.and_then(|e| e["cases"].as_u64()), Some(1), "{view}");
    // Suspended from a day before the stay: the retry of NY-1 is answered with its settlement; the same id
    // with another bill is refused by the suspension, not passed on.
    let suspend = json!({ "change": "suspend", "from": "2025-12-01", "reason": "检查中 (under inspection)" });
    assert_eq!(api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(suspend)).await.0, StatusCode::OK);
    let (status, answer) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(body.clone())).await;
    assert_eq!((status, answer["replayed"].as_bool()), (StatusCode::OK, Some(true)), "{answer}");
    let mut other = body;
    other["claim"]["lines"][0]["unit_price"] = json!("9999.00");
    let (status, answer) = api.call("POST", "/api/pre-settlements", Auth::Key("key-east"), Some(other)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("settle.institution_suspended")), "{answer}");
}

/// A clock the test moves: the Unix time it answers, in seconds.
fn movable_clock(start: time::OffsetDateTime) -> (yibao_app::Clock, Arc<std::sync::atomic::AtomicI64>) {
    let now = Arc::new(std::sync::atomic::AtomicI64::new(start.unix_timestamp()));
    let read = Arc::clone(&now);
    let clock: yibao_app::Clock =
        Arc::new(move || time::OffsetDateTime::from_unix_timestamp(read.load(std::sync::atomic::Ordering::SeqCst)).expect("a moment"));
    (clock, now)
}

/// The demo city's API over `backend`, on `clock`.
fn api_at(backend: Backend, clock: yibao_app::Clock) -> Api {
    Api { router: yibao_api::app(demo_app(backend).with_clock(clock)), clock: None }
}

#[tokio::test]
async fn the_payment_years_clearing_is_booked_paid_and_checked() {
    let (clock, now) = movable_clock(datetime!(2025-03-20 02:00 UTC));
    clearing_flow(&api_at(Backend::Sqlite(seeded_sqlite("clearing").await), clock), &now).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payment_years_clearing_behaves_the_same_on_postgresql() {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the API tests: {e}"));
    let store = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
    seed(&store).await;
    let (clock, now) = movable_clock(datetime!(2025-03-20 02:00 UTC));
    clearing_flow(&api_at(Backend::Postgres(store), clock), &now).await;
}

/// Issue 15, posting the payment year to the books: in 2025 the east hospital (DIP points)
/// and the centre's hospital (no terms: fee-for-service) settle stays, and March's pooling
/// run pays them as billed. In February 2026 the year is over; it is cleared only once the
/// east hospital is assessed. The clearing books the east hospital's payable less its bill on
/// its payable in the residents' fund of its patients' county, and nothing for the centre's;
/// clearing again answers the first clearing; February's pooling run pays (or deducts) it;
/// the hospital's statement shows its line; the books check sound, the clearing replayed.
async fn clearing_flow(api: &Api, now: &std::sync::atomic::AtomicI64) {
    enrol_both(api).await;
    let admin = api.sign_in("admin").await;
    let accountant = api.sign_in("accountant").await;
    let sign = json!({ "change": "sign", "year": 2025, "points": true, "per_diem": true });
    assert_eq!(api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(sign)).await.0, StatusCode::OK);
    let opening = json!({ "kind": "opening-balance", "scheme": "resident", "unit": "419900", "amount": "1000000.00", "date": "2025-01-01", "reference": "OB-2025" });
    assert_eq!(api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(opening)).await.0, StatusCode::CREATED);
    let budget = json!({ "year": 2025, "scheme": "resident", "unit": "419900", "income": "100000.00", "spending": "90000.00" });
    assert_eq!(api.call("PUT", "/api/funds/budgets", Auth::Token(&accountant), Some(budget)).await.0, StatusCode::OK);
    for (person, key, claim) in [
        (EAST_PERSON, "key-east", stay("C-1", "H41992100007", "I63.900", "2025-03-02", "2025-03-10", "4000.00")),
        (EAST_PERSON, "key-east", stay("C-2", "H41992100007", "J18.900", "2025-03-11", "2025-03-17", "2500.00")),
        (WEST_PERSON, "key-center", stay("C-3", "H41990200003", "I63.900", "2025-03-02", "2025-03-09", "3000.00")),
    ] {
        let body = json!({ "person_id": person, "card_no": "C0001", "claim": claim });
        let (status, answer) = api.call("POST", "/api/settlements", Auth::Key(key), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    // March's run pays the east hospital its advances (月度预付: its months at the
    // provisional point value, 90%, less the 5% deposit), not its stays as billed; the rest
    // is held back until the clearing. The centre's hospital has no terms: paid as billed.
    let (status, march_view) = api.call("GET", "/api/payment/2025", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{march_view}");
    let east_march = institution_line(&march_view["result"]["institutions"], "H41992100007");
    let advanced: i64 = east_march["months"].as_array().expect("months").iter().take(3).map(|m| fen(&m["paid"])).sum();
    let billed = fen(&east_march["billed"]);
    assert!(advanced > 0 && advanced != billed, "{east_march}");
    let run = json!({ "month": "2025-03", "day": 20 });
    let (status, preview) = api.call("GET", "/api/funds/pooling-runs/preview?month=2025-03&day=20", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let (status, march) = api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(run)).await;
    assert_eq!(status, StatusCode::CREATED, "{march}");
    assert_eq!(preview, march["run"], "the preview holds back what the run does");
    let resident =
        march["run"]["funds"].as_array().expect("funds").iter().find(|f| f["fund"] == "resident@419900").cloned().expect("resident");
    let unit = |code: &str| resident["units"].as_array().expect("units").iter().find(|u| u["unit"] == code).cloned().expect(code);
    assert_eq!(unit("419921")["payments"], json!([{ "payee": "institution:H41992100007", "amount": yuan(advanced) }]), "{march}");
    assert_eq!(unit("419921")["held_back"], json!([{ "payee": "institution:H41992100007", "amount": yuan(billed - advanced) }]), "{march}");
    assert!(unit("419922")["held_back"].is_null(), "the centre's hospital is paid as billed: {march}");
    assert!(resident["notes"].as_array().expect("notes").iter().any(|n| n.as_str().is_some_and(|n| n.contains("按月预付"))), "{march}");
    // The year is not over: nothing to clear yet.
    let (status, answer) = api.call("POST", "/api/payment/2025/clearing", Auth::Token(&accountant), None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("payment.not_over")), "{answer}");

    now.store(datetime!(2026-02-10 02:00 UTC).unix_timestamp(), std::sync::atomic::Ordering::SeqCst);
    // Sessions of last March have expired: sign in again.
    let (admin, accountant, auditor) = (api.sign_in("admin").await, api.sign_in("accountant").await, api.sign_in("auditor").await);
    let (status, answer) = api.call("POST", "/api/payment/2025/clearing", Auth::Token(&accountant), None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("payment.provisional")), "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("H41992100007")), "names who is not assessed: {answer}");
    let assess = json!({ "change": "assess", "year": 2025, "score": "90%" });
    assert_eq!(api.call("POST", "/api/institutions/H41992100007/agreement", Auth::Token(&admin), Some(assess)).await.0, StatusCode::OK);
    let (status, view) = api.call("GET", "/api/payment/2025", Auth::Token(&accountant), None).await;
    assert_eq!((status, view["provisional"].as_bool()), (StatusCode::OK, Some(false)), "{view}");
    assert!(view["clearing"].is_null(), "{view}");
    let lines = &view["result"]["institutions"];
    let (east, centre) = (institution_line(lines, "H41992100007"), institution_line(lines, "H41990200003"));
    let difference = fen(&east["against_billed"]);
    assert_ne!(difference, 0, "DIP pays the east hospital otherwise than its bill: {east}");
    assert_eq!(fen(&centre["against_billed"]), 0, "fee-for-service is paid as billed: {centre}");

    // Neither the hospital nor a county clerk books a clearing; the city's accountant does.
    assert_eq!(api.call("POST", "/api/payment/2025/clearing", Auth::Key("key-east"), None).await.0, StatusCode::FORBIDDEN);
    let east_clerk = api.sign_in("east.clerk").await;
    assert_eq!(api.call("POST", "/api/payment/2025/clearing", Auth::Token(&east_clerk), None).await.0, StatusCode::FORBIDDEN);
    let (status, clearing) = api.call("POST", "/api/payment/2025/clearing", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::CREATED, "{clearing}");
    assert_wire(&clearing, "clearing");
    let booked = institution_line(&clearing["institutions"], "H41992100007");
    assert_eq!(fen(&booked["difference"]), difference, "{clearing}");
    assert_eq!(fen(&booked["payable"]) - fen(&booked["billed"]), difference);
    assert_eq!(
        booked["shares"],
        json!([{ "fund": "resident", "unit": "419921", "paid": booked["billed"] }]),
        "the east person's county paid it all"
    );
    let (owed, recovered) = (fen(&clearing["owed"]), fen(&clearing["recovered"]));
    assert_eq!(owed - recovered, difference, "{clearing}");
    assert_eq!(clearing["transfers"], 1, "the centre's line books nothing: {clearing}");
    assert_eq!(clearing["value_date"], "2026-02-10");
    // Cleared once: again, the first clearing.
    let (status, again) = api.call("POST", "/api/payment/2025/clearing", Auth::Token(&accountant), None).await;
    assert_eq!((status, &again), (StatusCode::OK, &clearing));

    // The books: the clearing's transfer, with its reason, on the hospital's payable.
    let (_, movements) = api.call("GET", "/api/funds/movements?from=2026-01-01&to=2026-12-31", Auth::Token(&accountant), None).await;
    let cleared: Vec<&Value> = movements.as_array().expect("movements").iter().filter(|m| m["reason"] == "payment-clearing").collect();
    assert_eq!(cleared.len(), 1, "{movements}");
    assert_eq!((cleared[0]["unit"].as_str(), fen(&cleared[0]["amount"])), (Some("419921"), difference.abs()), "{movements}");
    // February's run pays what is owed, or holds what is recovered against later payments.
    let run = json!({ "month": "2026-02", "day": 10 });
    let (status, february) = api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(run)).await;
    assert_eq!(status, StatusCode::CREATED, "{february}");
    let resident =
        february["run"]["funds"].as_array().expect("funds").iter().find(|f| f["fund"] == "resident@419900").cloned().expect("resident");
    let unit = resident["units"].as_array().expect("units").iter().find(|u| u["unit"] == "419921").cloned().expect("east");
    // What the year's methods earned less the advances paid: the statement's balance.
    let balance = fen(&east["balance"]);
    assert_eq!(balance, fen(&east["payable"]) - advanced, "{east}");
    let hospital = json!([{ "payee": "institution:H41992100007", "amount": yuan(balance.abs()) }]);
    if balance > 0 {
        assert_eq!(unit["payments"], hospital, "{february}");
    } else {
        assert_eq!(unit["owed_back"], hospital, "{february}");
    }
    let (_, accounts) = api.call("GET", "/api/funds/accounts", Auth::Token(&auditor), None).await;
    let payable = accounts
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["fund"] == "resident@419900" && a["holder"] == "institution:H41992100007" && a["kind"] == "payable")
        .cloned()
        .expect("payable");
    assert_eq!(fen(&payable["balance"]), balance.min(0), "paid in full, or owing back what is recovered: {payable}");

    // The hospital reads its own line of the clearing on its statement.
    let (status, statement) = api.call("GET", "/api/payment/2025/institutions/H41992100007", Auth::Key("key-east"), None).await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    assert_eq!((statement["cleared_on"].as_str(), &statement["cleared"]), (Some("2026-02-10"), &booked), "{statement}");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
    // A cleared stay found wrong and reversed: the year changed since its clearing, and a
    // supplementary round (补充清算) books the change, so the hospital keeps no points premium
    // for a stay that is no longer there. Nothing changed since: clearing again books nothing.
    let east_claims = api.sign_in("east.claims").await;
    let reverse = json!({ "reason": "分解住院 (split admission)" });
    let (status, answer) = api.call("POST", "/api/settlements/H41992100007/C-2/reversal", Auth::Token(&east_claims), Some(reverse)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, view) = api.call("GET", "/api/payment/2025", Auth::Token(&accountant), None).await;
    assert_eq!(view["changed_since_clearing"], true, "{view}");
    let (status, second) = api.call("POST", "/api/payment/2025/clearing", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["round"], 2, "{second}");
    let line = institution_line(&second["institutions"], "H41992100007");
    assert_eq!(fen(&line["booked_before"]), difference, "{second}");
    let (_, view) = api.call("GET", "/api/payment/2025", Auth::Token(&accountant), None).await;
    assert_eq!(view["changed_since_clearing"], false, "{view}");
    let now_east = institution_line(&view["result"]["institutions"], "H41992100007");
    assert_eq!(fen(&line["difference"]), fen(&now_east["against_billed"]), "the rounds together book the year as it is now");
    assert_eq!(fen(&second["owed"]) - fen(&second["recovered"]), fen(&line["difference"]) - difference, "{second}");
    let (status, again) = api.call("POST", "/api/payment/2025/clearing", Auth::Token(&accountant), None).await;
    assert_eq!((status, &again), (StatusCode::OK, &second));
    let (_, movements) = api.call("GET", "/api/funds/movements?from=2026-01-01&to=2026-12-31", Auth::Token(&accountant), None).await;
    let rounds: u64 = movements
        .as_array()
        .expect("movements")
        .iter()
        .filter(|m| m["reason"] == "payment-clearing")
        .filter_map(|m| m["transfers"].as_u64())
        .sum();
    assert_eq!(rounds, 2, "one transfer each round: {movements}");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "the supplementary round replays: {check}");
}

/// The line of `code` in a list of institutions' lines (a payment year's, a clearing's).
fn institution_line(lines: &Value, code: &str) -> Value {
    lines.as_array().expect("lines").iter().find(|i| i["institution"] == code).cloned().unwrap_or_else(|| panic!("{code} in {lines}"))
}
