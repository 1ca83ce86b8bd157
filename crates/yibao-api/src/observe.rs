//! What operators see of the HTTP edge (issue 19): one structured log line per request and
//! the Prometheus metrics.
//!
//! [`observe`] wraps every route (the API's and the console's): it gives the request an id
//! (the caller's `X-Request-Id` when it is a sane one, else a fresh one), echoes it in the
//! answer, and when the answer is ready writes one `tracing` event with the method, the
//! route *template* (`/api/persons/{id}`, never the path itself, which may hold a national
//! ID), the status, the latency, the caller and their region (noted by authentication in
//! the request's [`CallerNote`]) and, for a refusal, its code. The refusal's English detail
//! is logged at `warn` with every national ID masked ([`yibao_domain::mask_national_ids`]).
//! The same observation feeds [`Metrics`], which `/metrics` renders in the Prometheus text
//! format together with the store writer's group-commit counts and the funds' balances.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use yibao_app::{App, CallerNote, Principal, Refusal};

/// The header carrying a request's id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest request id taken from a caller; a longer or odd one is replaced.
pub const REQUEST_ID_LEN_MAX: usize = 64;
/// How long fund balances read for a scrape are reused: reading every account of a city is
/// not free, and balances change with business, not by the second.
pub const BALANCES_FRESH_FOR: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FundLabels {
    fund: String,
    kind: String,
}

/// The metrics of one server, shared by every request.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    refusals: Family<CodeLabels, Counter>,
    settlements: Family<OutcomeLabels, Counter>,
    write_batches: Gauge,
    write_requests: Gauge,
    write_queue: Gauge,
    write_time: Gauge<f64, std::sync::atomic::AtomicU64>,
    balances: Family<FundLabels, Gauge>,
    balances_read_at: Mutex<Option<Instant>>,
}

/// Latency buckets, seconds: 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("yibao");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by method, route template and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer a request, by method and route template (a pooling run or close is its route's)",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let refusals = Family::<CodeLabels, Counter>::default();
        registry.register("refusals", "Requests refused, by error code", refusals.clone());
        let settlements = Family::<OutcomeLabels, Counter>::default();
        registry.register("settlements", "Settlement requests (settle, pre-settle not counted), by outcome", settlements.clone());
        let write_batches = Gauge::default();
        registry.register(
            "store_write_batches",
            "Write transactions the store's writer committed or failed since it opened",
            write_batches.clone(),
        );
        let write_requests = Gauge::default();
        registry.register(
            "store_write_requests",
            "Write requests in those transactions (÷ batches = mean group-commit batch size)",
            write_requests.clone(),
        );
        let write_queue = Gauge::default();
        registry.register("store_write_queue_depth", "Write requests waiting for the writer now", write_queue.clone());
        let write_time = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "store_write_time",
            "Time the store's writer spent in write transactions since it opened (PostgreSQL: settlement batches): the database time",
            prometheus_client::registry::Unit::Seconds,
            write_time.clone(),
        );
        let balances = Family::<FundLabels, Gauge>::default();
        registry.register(
            "fund_balance_fen",
            "Balance of a fund's accounts of one kind, on the kind's normal side, in fen",
            balances.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            refusals,
            settlements,
            write_batches,
            write_requests,
            write_queue,
            write_time,
            balances,
            balances_read_at: Mutex::new(None),
        }
    }
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: StatusCode, elapsed: Duration, refusal: Option<&Refusal>) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status: status.as_u16() }).inc();
        self.latency.get_or_create(&RouteLabels { method: method.clone(), route: route.clone() }).observe(elapsed.as_secs_f64());
        if let Some(refusal) = refusal {
            self.refusals.get_or_create(&CodeLabels { code: refusal.code.clone() }).inc();
        }
        if method == "POST" && route == SETTLE_ROUTE {
            let outcome = if status.is_success() { "settled" } else { "refused" };
            self.settlements.get_or_create(&OutcomeLabels { outcome: outcome.to_owned() }).inc();
        }
    }

    /// The metrics in the Prometheus text format, the store's figures read now and the
    /// funds' balances read at most every [`BALANCES_FRESH_FOR`].
    pub async fn render(&self, app: &App) -> Result<String, yibao_app::AppError> {
        let writer = app.store.writer_snapshot();
        self.write_batches.set(i64::try_from(writer.batches).unwrap_or(i64::MAX));
        self.write_requests.set(i64::try_from(writer.requests).unwrap_or(i64::MAX));
        self.write_queue.set(i64::try_from(writer.queued).unwrap_or(i64::MAX));
        // Microseconds to seconds: a gauge of seconds, exact to the microsecond up to 2^53.
        #[allow(clippy::cast_precision_loss)]
        self.write_time.set(writer.busy_us as f64 / 1e6);
        let stale = self.balances_read_at.lock().map(|at| at.is_none_or(|at| at.elapsed() >= BALANCES_FRESH_FOR)).unwrap_or(true);
        if stale {
            let operator = Principal::System { name: "metrics".into(), region: app.policy().region };
            let mut sums: std::collections::BTreeMap<(String, String), i64> = std::collections::BTreeMap::new();
            for city in app.fund_cities(&operator).await? {
                let principal = Principal::System { name: "metrics".into(), region: city };
                for account in app.fund_accounts(&principal).await? {
                    let key = account.key();
                    let sum = sums.entry((key.fund.to_string(), key.kind.as_str().to_owned())).or_default();
                    *sum = sum.saturating_add(account.balance_fen().get());
                }
            }
            self.balances.clear();
            for ((fund, kind), fen) in sums {
                self.balances.get_or_create(&FundLabels { fund, kind }).set(fen);
            }
            if let Ok(mut at) = self.balances_read_at.lock() {
                *at = Some(Instant::now());
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|e| yibao_app::AppError::internal("metrics.encode", e.to_string()))?;
        Ok(text)
    }
}

/// The route settlements are posted to, counted apart.
const SETTLE_ROUTE: &str = "/api/settlements";

/// The id a request is logged and answered with: the caller's, when it is 1 to
/// [`REQUEST_ID_LEN_MAX`] characters of `[A-Za-z0-9._-]`, else a fresh random one.
fn request_id_of(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=REQUEST_ID_LEN_MAX).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map_or_else(fresh_request_id, str::to_owned)
}

/// A fresh request id: random, or (should the system's randomness fail) a count.
fn fresh_request_id() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    yibao_app::access::new_token()
        .map_or_else(|_| format!("n{}", COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)), |token| token.chars().take(32).collect())
}

/// Middleware over every route: the request's id, its log line and its metrics.
pub async fn observe(State(metrics): State<Arc<Metrics>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id_of(&request);
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "(no route)".to_owned(), |p| p.as_str().to_owned());
    let caller = CallerNote::default();
    request.extensions_mut().insert(caller.clone());
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let elapsed = started.elapsed();
    let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let status = response.status();
    let refusal = response.extensions().get::<Refusal>().cloned();
    let (principal, region) = caller.caller().map_or_else(|| ("-".to_owned(), "-".to_owned()), |(who, region)| (who, region.to_string()));
    let code = refusal.as_ref().map_or("", |r| r.code.as_str());
    tracing::info!(
        target: "yibao::request",
        request_id = %id,
        method = %method,
        route = %route,
        status = status.as_u16(),
        latency_ms,
        principal = %principal,
        region = %region,
        code,
        "request"
    );
    if let Some(refusal) = &refusal {
        let detail = yibao_domain::mask_national_ids(&refusal.detail);
        if status.is_server_error() {
            tracing::error!(target: "yibao::request", request_id = %id, code = %refusal.code, detail = %detail, "failed");
        } else {
            tracing::warn!(target: "yibao::request", request_id = %id, code = %refusal.code, detail = %detail, "refused");
        }
    }
    metrics.observe(&method, &route, status, elapsed, refusal.as_ref());
    response
}

/// `GET /metrics`: the Prometheus text format. Served on its own listen address
/// (`yibao serve --metrics-listen`), never beside the API.
pub fn metrics_router(app: App, metrics: Arc<Metrics>) -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state((app, metrics))
}

async fn scrape(State((app, metrics)): State<(App, Arc<Metrics>)>) -> Response {
    match metrics.render(&app).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(error) => {
            tracing::error!(target: "yibao::metrics", code = %error.code, detail = %yibao_domain::mask_national_ids(&error.message), "scrape failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the metrics could not be read\n").into_response()
        }
    }
}
