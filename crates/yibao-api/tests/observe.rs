//! Issue 19, logs and metrics: each request's one log line carries its request id (echoed
//! in `X-Request-Id`), its route template, status, caller and region, and a refusal's detail
//! is logged with every national ID masked; `/metrics` (its own router) counts requests by
//! route and status, refusals by code, the store writer's group commits and the funds'
//! balances. Over a real SQLite store, in-process.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt;
use yibao_app::access::hash_password;
use yibao_app::{App, Backend};
use yibao_domain::RegionCode;
use yibao_policy::Policy;
use yibao_store::{AccessStore, Actor, NewStaff, Role};
use yibao_store_sqlite::SqliteStore;

/// A person no one enrolled: looking them up is refused with their ID in the detail.
const UNKNOWN_PERSON: &str = "41992119620314004X";

/// Log lines captured in memory, as the JSON subscriber writes them.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("log buffer").clone()).expect("utf-8 logs")
    }
    fn lines(&self) -> Vec<Value> {
        self.text().lines().map(|line| serde_json::from_str(line).expect("each log line is one JSON object")).collect()
    }
}

/// Log lines of this test's thread, captured as JSON. Every test of this file logs so: a
/// `tracing` callsite first reached on a thread with no subscriber could otherwise be
/// cached as disabled for the other tests' threads too.
fn logged() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().json().flatten_event(true).with_writer(move || writer.clone()).finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

struct Server {
    app: App,
    router: axum::Router,
    metrics: Arc<yibao_api::observe::Metrics>,
}

async fn server(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("yibao-observe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    let actor =
        Actor { who: "setup".into(), role: "city_administrator".into(), source: "test".into(), at: datetime!(2026-01-01 08:00 UTC) };
    for (username, role, region) in [("east.clerk", Role::EnrolmentClerk, "419921"), ("accountant", Role::FundAccountant, "419900")] {
        let staff = NewStaff {
            username: username.into(),
            display_name: username.into(),
            password_hash: hash_password(&format!("pw-{username}")).expect("hash"),
            role,
            region: RegionCode::parse(region).expect("region"),
        };
        store.create_staff(&actor, staff).await.expect("staff");
    }
    let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("policy");
    let app = App::new(Arc::new(Backend::Sqlite(store)), Arc::new(policy));
    let metrics = Arc::new(yibao_api::observe::Metrics::default());
    let router = yibao_api::app_observed(app.clone(), axum::Router::new(), Arc::clone(&metrics));
    Server { app, router, metrics }
}

impl Server {
    /// Sends a request; the status, the `X-Request-Id` answered and the body.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        request_id: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String, Value) {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.expect("body");
        (status, id, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn sign_in(&self, username: &str) -> String {
        let credentials = json!({ "username": username, "password": format!("pw-{username}") });
        let (status, _, body) = self.call("POST", "/api/session", None, None, Some(credentials)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    async fn scrape(&self) -> String {
        let router = yibao_api::observe::metrics_router(self.app.clone(), Arc::clone(&self.metrics));
        let response = router.oneshot(Request::builder().uri("/metrics").body(Body::empty()).expect("request")).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.expect("body");
        String::from_utf8(bytes.to_vec()).expect("text")
    }
}

#[tokio::test]
async fn each_request_is_one_log_line_with_its_id_and_no_national_id() {
    let (captured, _logging) = logged();
    let server = server("logs").await;
    let clerk = server.sign_in("east.clerk").await;

    // A refusal whose detail names the person looked up.
    let (status, answered_id, body) =
        server.call("GET", &format!("/api/persons/{UNKNOWN_PERSON}"), Some(&clerk), Some("req-42.a_b"), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("person.not_found")), "{body}");
    assert_eq!(answered_id, "req-42.a_b", "the caller's request id is echoed");

    let lines = captured.lines();
    let request_line = lines
        .iter()
        .find(|l| l["request_id"] == "req-42.a_b" && l["message"] == "request")
        .unwrap_or_else(|| panic!("no request line for req-42.a_b in {lines:?}"));
    assert_eq!(request_line["method"], "GET");
    assert_eq!(request_line["route"], "/api/persons/{id}", "the route template, never the path with its ID");
    assert_eq!(request_line["status"], 404);
    assert_eq!(request_line["principal"], "staff:east.clerk");
    assert_eq!(request_line["region"], "419921");
    assert_eq!(request_line["code"], "person.not_found");
    assert!(request_line["latency_ms"].is_u64(), "{request_line}");
    let refusal_line = lines
        .iter()
        .find(|l| l["request_id"] == "req-42.a_b" && l["message"] == "refused")
        .unwrap_or_else(|| panic!("no refusal line in {lines:?}"));
    assert_eq!(refusal_line["level"], "WARN");
    assert!(refusal_line["detail"].as_str().is_some_and(|d| d.contains("419921********004X")), "the ID is masked: {refusal_line}");
    let everything = captured.text();
    assert!(!everything.contains(UNKNOWN_PERSON), "no log line carries the national ID: {everything}");

    // Without an id (or with one that is not sane) the server makes one up and answers it.
    let (_, made_up, _) = server.call("GET", "/api/health", None, Some("bad id\twith tab"), None).await;
    assert_eq!(made_up.len(), 32, "{made_up}");
    assert!(made_up.bytes().all(|b| b.is_ascii_alphanumeric()), "{made_up}");
    assert!(captured.lines().iter().any(|l| l["request_id"] == made_up.as_str() && l["route"] == "/api/health" && l["principal"] == "-"));
}

#[tokio::test]
async fn metrics_count_requests_refusals_group_commits_and_fund_balances() {
    let (_, _logging) = logged();
    let server = server("metrics").await;
    let clerk = server.sign_in("east.clerk").await;
    let accountant = server.sign_in("accountant").await;
    for _ in 0..2 {
        let (status, _, _) = server.call("GET", &format!("/api/persons/{UNKNOWN_PERSON}"), Some(&clerk), None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let opening = json!({ "kind": "opening-balance", "scheme": "resident", "unit": "419900", "amount": "1234.56", "date": "2026-01-01", "reference": "OB-1" });
    let (status, _, body) = server.call("POST", "/api/funds/receipts", Some(&accountant), None, Some(opening)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let text = server.scrape().await;
    assert!(text.contains("yibao_http_requests_total{method=\"GET\",route=\"/api/persons/{id}\",status=\"404\"} 2"), "{text}");
    assert!(text.contains("yibao_http_requests_total{method=\"POST\",route=\"/api/session\",status=\"200\"} 2"), "{text}");
    assert!(text.contains("yibao_refusals_total{code=\"person.not_found\"} 2"), "{text}");
    assert!(text.contains("yibao_http_request_duration_seconds_count{method=\"POST\",route=\"/api/funds/receipts\"} 1"), "{text}");
    // The receipt is one write at least (sign-ins write sessions too).
    let batches = gauge(&text, "yibao_store_write_batches");
    let requests = gauge(&text, "yibao_store_write_requests");
    assert!(batches >= 1 && requests >= batches, "{text}");
    assert_eq!(gauge(&text, "yibao_store_write_queue_depth"), 0, "nothing waits once every answer is in");
    let write_seconds: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("yibao_store_write_time_seconds "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no write time in {text}"));
    assert!(write_seconds > 0.0, "the writes took some time: {text}");
    assert!(
        text.contains("yibao_fund_balance_fen{fund=\"resident@419900\",kind=\"fiscal-special\"} 123456"),
        "the receipt's 1,234.56 yuan stands in the special account: {text}"
    );
}

/// The value of an unlabelled gauge in the text format.
fn gauge(text: &str, name: &str) -> i64 {
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("no {name} in {text}"));
    line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}
