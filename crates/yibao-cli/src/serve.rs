//! `yibao serve`: the platform. With no options: an SQLite database in `./yibao-data`,
//! created and loaded with the demo city on first start, the API on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use yibao_app::load::{Credentials, LoadOptions};
use yibao_app::{App, Backend, Create, Principal, StoreLocation};
use yibao_policy::Policy;
use yibao_store::AccessStore;
use yibao_synth::{City, Config};

/// The demo city is the synthetic city of this seed and year (`yibao-synth`).
const DEMO_SEED: u64 = 2026;
const DEMO_YEAR: i32 = 2026;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080", env = "YIBAO_LISTEN")]
    listen: SocketAddr,
    /// Where the SQLite database lives (created if missing).
    #[arg(long, default_value = "./yibao-data", env = "YIBAO_DATA_DIR")]
    data_dir: PathBuf,
    /// Run on PostgreSQL instead of SQLite: `postgres://user@host:port/database`.
    #[arg(long, env = "YIBAO_DATABASE_URL")]
    database_url: Option<String>,
    /// The policy pack (TOML). Default: the demo city's, compiled into the binary.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Do not load the demo city into an empty database.
    #[arg(long)]
    no_demo: bool,
    /// How many insured the demo city starts with.
    #[arg(long, default_value_t = 8_000, value_parser = clap::value_parser!(u64).range(1_000..=200_000))]
    demo_insured: u64,
    /// The URL users reach the server at, behind a proxy that terminates TLS: with
    /// `https://…` every console cookie is marked `Secure`.
    #[arg(long, env = "YIBAO_PUBLIC_URL", value_parser = yibao_console::ConsoleOptions::for_public_url)]
    public_url: Option<yibao_console::ConsoleOptions>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address too: keep it on a private
    /// network or loopback; it is not behind sign-in.
    #[arg(long, env = "YIBAO_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// How log lines are written to standard error: `text` for people, `json` (one object
    /// a line) for a log collector. Which lines: `YIBAO_LOG` (default `info`), e.g.
    /// `YIBAO_LOG=warn` or `YIBAO_LOG=yibao::request=info,warn`.
    #[arg(long, env = "YIBAO_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Sets where `tracing` events go for the life of the process: standard error, in `format`,
/// filtered by `YIBAO_LOG`.
fn init_logs(format: LogFormat) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YIBAO_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new("info"))
        .map_err(|e| format!("YIBAO_LOG: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| format!("cannot set up logging: {e}"))
}

/// The pack at `path`, or the demo city's compiled into the binary.
pub fn policy_or_demo(path: Option<&std::path::Path>) -> Result<Policy, String> {
    match path {
        Some(path) => crate::files::load_policy(path),
        None => Policy::from_toml("policies/demo-city.toml (embedded)", crate::demo::DEMO_POLICY).map_err(|e| e.to_string()),
    }
}

pub fn run(args: ServeArgs) -> Result<(), String> {
    init_logs(args.log_format)?;
    let policy = policy_or_demo(args.policy.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(serve(args, policy))
}

async fn serve(args: ServeArgs, policy: Policy) -> Result<(), String> {
    let location = match &args.database_url {
        Some(url) => StoreLocation::Url(url.clone()),
        None => StoreLocation::DataDir(args.data_dir.clone()),
    };
    let backend = Backend::open(&location, Create::IfMissing).await?;
    let location = location.display();
    let first_start = match &backend {
        Backend::Sqlite(s) => s.staff("admin").await,
        Backend::Postgres(s) => s.staff("admin").await,
    }
    .map_err(|e| e.to_string())?
    .is_none();
    let state = App::new(Arc::new(backend), Arc::new(policy));
    let mut demo = None;
    if first_start && !args.no_demo {
        let config = Config { year: DEMO_YEAR, ..Config::new(args.demo_insured, DEMO_SEED) };
        let city = Arc::new(City::new(config).map_err(|e| format!("the demo city: {e}"))?);
        tracing::info!(insured = config.insured, "first start: loading the demo city into {location}");
        let started = std::time::Instant::now();
        let principal = Principal::System { name: "yibao-serve".into(), region: state.policy.region };
        let options = LoadOptions { credentials: Credentials::Demo, opening_balances: true, settle: false, in_flight: 1, progress: Arc::new(|_| {}) };
        let loaded = state
            .load_city(&principal, "yibao serve: first start", city, &options)
            .await
            .map_err(|e| format!("loading the demo city: {} [{}]", e.message, e.code))?;
        let summary = &loaded.summary;
        tracing::info!(
            households = summary.households,
            persons = summary.persons,
            staff = summary.staff,
            institutions = summary.institutions,
            contributions = summary.contributions,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "the demo city is loaded"
        );
        demo = Some(loaded);
    }
    let path = location;
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "Yibao is serving {} on http://{address}/api/ (docs: http://{address}/api/docs/); the staff console is http://{address}/console/",
        state.policy.name
    );
    println!("data: {path}");
    if let Some(loaded) = &demo {
        crate::synth::print_credentials("demo", loaded);
    } else if first_start {
        println!("empty database, no demo loaded (--no-demo): create staff accounts before use");
    }
    let console = yibao_console::router_with(args.public_url.unwrap_or_default());
    let metrics = Arc::new(yibao_api::observe::Metrics::default());
    if let Some(metrics_address) = args.metrics_listen {
        let metrics_listener =
            tokio::net::TcpListener::bind(metrics_address).await.map_err(|e| format!("cannot listen on {metrics_address}: {e}"))?;
        let metrics_address = metrics_listener.local_addr().map_err(|e| e.to_string())?;
        println!("metrics: http://{metrics_address}/metrics");
        let router = yibao_api::observe::metrics_router(state.clone(), Arc::clone(&metrics));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(metrics_listener, router).with_graceful_shutdown(shutdown()).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    // With each connection's peer address: sign-in counts failures per client address.
    let service = yibao_api::app_observed(state, console, metrics).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(%address, "serving");
    axum::serve(listener, service).with_graceful_shutdown(shutdown()).await.map_err(|e| e.to_string())
}

/// Ctrl-C or SIGTERM: finish the requests in flight, then stop.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
