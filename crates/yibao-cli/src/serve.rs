//! `yibao serve`: the platform. With no options: an SQLite database in `./yibao-data`,
//! created and loaded with the demo city on first start, the API on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use yibao_app::load::{Credentials, LoadOptions};
use yibao_app::payment::PaymentPack;
use yibao_app::policy_versions::GivenPack;
use yibao_app::{App, Backend, Create, Principal, StoreLocation};
use yibao_domain::RegionCode;
use yibao_engine::monitoring::RulePack;
use yibao_policy::Policy;
use yibao_store::AccessStore;
use yibao_synth::{City, Config};

use crate::config::{ConfigFile, DEMO_INSURED_MAX, DEMO_INSURED_MIN, TlsFiles, invalid};

/// Items in the demo city's generated national catalogue (about two versions each).
const DEMO_CATALOGUE_ITEMS: usize = 2_000;
/// What the demo catalogue's versions cite.
const DEMO_CATALOGUE_CITE: &str = "示范目录（合成）demo catalogue, synthetic (yibao-synth)";
/// The demo city is the synthetic city of this seed and year (`yibao-synth`).
pub(crate) const DEMO_SEED: u64 = 2026;
pub(crate) const DEMO_YEAR: i32 = 2026;

/// `yibao serve`'s options. Each may also be set by its environment variable or in the
/// configuration file (`--config`, [`crate::config`]): a flag or variable wins over the
/// file, the file over the default.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A configuration file (TOML) holding any of these options by name (`data_dir`,
    /// `listen`, …) and `[tls]` (`certificate`, `private_key`).
    #[arg(long, env = "YIBAO_CONFIG")]
    config: Option<PathBuf>,
    /// Where to listen [default: 127.0.0.1:8080].
    #[arg(long, env = "YIBAO_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where the SQLite database lives (created if missing) [default: ./yibao-data].
    #[arg(long, env = "YIBAO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Run on PostgreSQL instead of SQLite: `postgres://user@host:port/database`.
    #[arg(long, env = "YIBAO_DATABASE_URL")]
    database_url: Option<String>,
    /// The policy pack (TOML). Default: the demo city's, compiled into the binary.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The payment pack (TOML): how the fund pays institutions (DIP points, per diem,
    /// capitation, clearing). Default: the demo city's with the demo city's policy pack,
    /// none with another city's.
    #[arg(long, env = "YIBAO_PAYMENT_PACK")]
    payment_pack: Option<PathBuf>,
    /// The intelligent monitoring rules (TOML) run on every claim at settlement (issue 18):
    /// their flags warn or hold a claim's payment for review. Default: the demo city's
    /// with the demo city's policy pack, none with another city's.
    #[arg(long, env = "YIBAO_MONITORING_PACK")]
    monitoring_pack: Option<PathBuf>,
    /// Do not load the demo city into an empty database.
    #[arg(long)]
    no_demo: bool,
    /// How many insured the demo city starts with [default: 8000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(DEMO_INSURED_MIN..=DEMO_INSURED_MAX))]
    demo_insured: Option<u64>,
    /// How many of its last days of care the demo settles at first start (0 to 90), under
    /// its monitoring rules, so that its hospitals have claims and its reviewers flags.
    /// [default: 30]
    #[arg(long)]
    demo_settled_days: Option<u16>,
    /// The URL users reach the server at, behind a proxy that terminates TLS: with
    /// `https://…` every console cookie is marked `Secure` (as it is whenever the server
    /// speaks TLS itself).
    #[arg(long, env = "YIBAO_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address too: keep it on a private
    /// network or loopback; it is not behind sign-in.
    #[arg(long, env = "YIBAO_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// How log lines are written to standard error: `text` for people, `json` (one object
    /// a line) for a log collector [default: text]. Which lines: `YIBAO_LOG` (default
    /// `info`), e.g. `YIBAO_LOG=warn` or `YIBAO_LOG=yibao::request=info,warn`.
    #[arg(long, env = "YIBAO_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Speak HTTPS (TLS by rustls) with this certificate chain (PEM); needs
    /// --tls-private-key.
    #[arg(long, env = "YIBAO_TLS_CERTIFICATE", requires = "tls_private_key")]
    tls_certificate: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "YIBAO_TLS_PRIVATE_KEY", requires = "tls_certificate")]
    tls_private_key: Option<PathBuf>,
    /// On SIGTERM, how long to wait for open connections to finish before closing them
    /// [default: 30].
    #[arg(long, env = "YIBAO_SHUTDOWN_GRACE_SECONDS", value_parser = clap::value_parser!(u64).range(0..=SHUTDOWN_GRACE_SECONDS_MAX))]
    shutdown_grace_seconds: Option<u64>,
}

/// `--public-url` checked as clap reads it: a usage error (exit 2) when malformed.
fn parse_public_url(url: &str) -> Result<String, String> {
    yibao_console::ConsoleOptions::for_public_url(url).map(|_| url.to_owned())
}

/// How long a stopping server waits, by default, for its connections to finish once it
/// has stopped accepting: a client that holds a half-sent request open must not keep it up
/// for ever (a service manager would then kill it). A request still unanswered after the
/// grace is never acknowledged; its settlement is committed whole or not at all.
const SHUTDOWN_GRACE_SECONDS_DEFAULT: u64 = 30;
const SHUTDOWN_GRACE_SECONDS_MAX: u64 = 3_600;
/// The demo's last days of care settled at first start, by default and at most.
const DEMO_SETTLED_DAYS_DEFAULT: u16 = 30;
const DEMO_SETTLED_DAYS_MAX: u16 = 90;

/// What `yibao serve` runs with: the flags, the environment and the configuration file
/// resolved once, defaults filled in.
#[derive(Debug)]
struct Settings {
    listen: SocketAddr,
    location: StoreLocation,
    policy: Option<PathBuf>,
    payment_pack: Option<PathBuf>,
    monitoring_pack: Option<PathBuf>,
    no_demo: bool,
    demo_insured: u64,
    demo_settled_days: u16,
    console: yibao_console::ConsoleOptions,
    metrics_listen: Option<SocketAddr>,
    log_format: LogFormat,
    tls: Option<TlsFiles>,
    shutdown_grace: std::time::Duration,
}

impl Settings {
    fn resolve(args: ServeArgs) -> Result<Settings, String> {
        let file = ConfigFile::read_or_default(args.config.as_deref())?;
        let location = file.store(args.database_url, args.data_dir)?;
        let demo_insured = args.demo_insured.or(file.demo_insured).unwrap_or(8_000);
        // One bound for the flag and the file's key alike.
        let demo_settled_days = args.demo_settled_days.or(file.demo_settled_days).unwrap_or(DEMO_SETTLED_DAYS_DEFAULT);
        if demo_settled_days > DEMO_SETTLED_DAYS_MAX {
            return Err(invalid(format!("demo_settled_days is {demo_settled_days}: it must be from 0 to {DEMO_SETTLED_DAYS_MAX}")));
        }
        if !(DEMO_INSURED_MIN..=DEMO_INSURED_MAX).contains(&demo_insured) {
            return Err(invalid(format!("demo_insured is {demo_insured}: it must be from {DEMO_INSURED_MIN} to {DEMO_INSURED_MAX}")));
        }
        let tls = match (args.tls_certificate, args.tls_private_key) {
            (Some(certificate), Some(private_key)) => Some(TlsFiles { certificate, private_key }),
            _ => file.tls,
        };
        // A server that speaks TLS itself is reached over https: its cookies are Secure
        // whatever the public URL says; behind a proxy, an https public URL makes them so.
        let console = match args.public_url.or(file.public_url) {
            Some(url) => yibao_console::ConsoleOptions::for_public_url(&url).map_err(invalid)?,
            None => yibao_console::ConsoleOptions::default(),
        };
        let console = yibao_console::ConsoleOptions { secure_cookies: console.secure_cookies || tls.is_some() };
        let grace_seconds = args.shutdown_grace_seconds.or(file.shutdown_grace_seconds).unwrap_or(SHUTDOWN_GRACE_SECONDS_DEFAULT);
        if grace_seconds > SHUTDOWN_GRACE_SECONDS_MAX {
            return Err(invalid(format!("shutdown_grace_seconds is {grace_seconds}: at most {SHUTDOWN_GRACE_SECONDS_MAX}")));
        }
        Ok(Settings {
            shutdown_grace: std::time::Duration::from_secs(grace_seconds),
            listen: args.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            location,
            policy: args.policy.or(file.policy),
            payment_pack: args.payment_pack.or(file.payment_pack),
            monitoring_pack: args.monitoring_pack.or(file.monitoring_pack),
            no_demo: args.no_demo || file.no_demo.unwrap_or(false),
            demo_insured,
            demo_settled_days,
            console,
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            tls,
        })
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// The pack at `path`, or the demo city's compiled into the binary: what a store with no
/// recorded version starts on (`App::open_with_policy`).
pub fn given_pack(path: Option<&std::path::Path>) -> Result<GivenPack, String> {
    match path {
        Some(path) => Ok(GivenPack { label: path.display().to_string(), text: crate::files::read(path)?, named: true }),
        None => {
            Ok(GivenPack { label: "policies/demo-city.toml (embedded)".into(), text: crate::demo::DEMO_POLICY.to_owned(), named: false })
        }
    }
}

pub fn run(args: ServeArgs) -> Result<(), String> {
    let settings = Settings::resolve(args)?;
    init_logs(settings.log_format)?;
    let given = given_pack(settings.policy.as_deref())?;
    // Loaded here, before the store opens, so that a pack with a gap fails at once.
    let policy = Policy::from_toml(&given.label, &given.text).map_err(|e| e.to_string())?;
    let payment = payment_pack(settings.payment_pack.as_deref(), &policy)?;
    let monitoring = monitoring_pack(settings.monitoring_pack.as_deref(), &policy)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(serve(settings, given, policy.region, (payment, monitoring)))
}

async fn serve(
    settings: Settings,
    given: GivenPack,
    city: RegionCode,
    (payment, monitoring): (Option<PaymentPack>, Option<RulePack>),
) -> Result<(), String> {
    // Read before the store opens or the demo loads, so a wrong path fails at once.
    let tls = match &settings.tls {
        Some(files) => Some(tls_config(files).await?),
        None => None,
    };
    let location = settings.location;
    let backend = Backend::open(&location, Create::IfMissing).await?;
    let location = location.display();
    let first_start = match &backend {
        Backend::Sqlite(s) => s.staff("admin").await,
        Backend::Postgres(s) => s.staff("admin").await,
    }
    .map_err(|e| e.to_string())?
    .is_none();
    // A store with no pack version records this one as version 1; a store with versions runs
    // its own, and a named file that differs from it is refused (`policy.file_differs`).
    let installer = Principal::System { name: "yibao-serve".into(), region: city };
    let state =
        App::open_with_policy(Arc::new(backend), &given, Some(&installer)).await.map_err(|e| format!("{} [{}]", e.message, e.code))?;
    let state = match payment {
        Some(pack) => state.with_payment_pack(pack),
        None => state,
    };
    let state = match monitoring {
        Some(pack) => state.with_monitoring_pack(pack),
        None => state,
    };
    tokio::spawn(state.clone().follow_policy());
    let mut demo = None;
    if first_start && !settings.no_demo {
        let config = Config { year: DEMO_YEAR, ..Config::new(settings.demo_insured, DEMO_SEED) };
        let city = Arc::new(City::new(config).map_err(|e| format!("the demo city: {e}"))?);
        tracing::info!(insured = config.insured, "first start: loading the demo city into {location}");
        let started = std::time::Instant::now();
        let principal = Principal::System { name: "yibao-serve".into(), region: state.policy().region };
        // The demo's recent weeks of care settled by its hospitals, under the demo's
        // monitoring rules (issue 18): claims flagged and held for review from the start.
        let today = state.today();
        let recent = if settings.demo_settled_days == 0 {
            yibao_app::load::Settle::Nothing
        } else {
            yibao_app::load::Settle::AdmittedWithin(
                (today - time::Duration::days(i64::from(settings.demo_settled_days) - 1))
                    .max(time::Date::from_calendar_date(DEMO_YEAR, time::Month::January, 1).map_err(|e| e.to_string())?),
                today,
            )
        };
        let options = LoadOptions {
            credentials: Credentials::Demo,
            opening_balances: true,
            settle: recent,
            in_flight: 4,
            progress: Arc::new(|_| {}),
        };
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
            settled = summary.settled,
            refused = summary.refused.values().sum::<u64>(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "the demo city is loaded"
        );
        // The demo's national catalogue: generated, and loaded as a bureau loads the real
        // list's file (checked row by row, merged, written whole).
        let province = state.policy().region.province().to_string();
        let file = yibao_synth::national_catalogue_csv(DEMO_CATALOGUE_ITEMS, DEMO_SEED, &province);
        let report = state
            .install_catalogue(&principal, "yibao serve: first start", "demo-catalogue.csv", file.into_bytes(), DEMO_CATALOGUE_CITE)
            .await
            .map_err(|e| format!("loading the demo catalogue: {} [{}]", e.message, e.code))?;
        if !report.loaded {
            return Err(format!("the demo catalogue has {} rows to fix: {:?}", report.error_count, report.errors.first()));
        }
        tracing::info!(versions = report.versions_held, "the demo catalogue is loaded");
        // The demo's commercial administrator (issue 18): the residents of the city's first
        // county, under the demo's monitoring rules.
        let county = state.policy().counties.first().copied();
        let administrator = match county {
            Some(county) => Some(
                state
                    .sign_contract(&principal, "yibao serve: first start", yibao_app::administrators::demo_contract(county, DEMO_YEAR))
                    .await
                    .map_err(|e| format!("signing the demo administrator: {} [{}]", e.message, e.code))?,
            ),
            None => None,
        };
        // What the checks after payment find in those weeks.
        if let yibao_app::load::Settle::AdmittedWithin(first, last) = recent
            && first <= last
            && state.monitoring_pack().is_some_and(|pack| pack.scans_paid_claims())
        {
            let scan = state
                .scan_paid_claims(&principal, "yibao serve: first start", (first.max(last - time::Duration::days(30)), last))
                .await
                .map_err(|e| format!("scanning the demo's claims: {} [{}]", e.message, e.code))?;
            tracing::info!(claims = scan.claims_scanned, flags = scan.flags_raised, "the demo's paid claims are scanned");
        }
        demo = Some((loaded, administrator));
    }
    let path = location;
    let listener = std::net::TcpListener::bind(settings.listen).map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "Yibao is serving {} on {scheme}://{address}/api/ (docs: {scheme}://{address}/api/docs/); the staff console is {scheme}://{address}/console/; the national interface for institutions is {scheme}://{address}/fsi/api",
        state.policy().name
    );
    println!("data: {path}");
    if let Some((loaded, administrator)) = &demo {
        crate::synth::print_credentials("demo", loaded);
        if let Some(key) = administrator {
            let terms = &key.contract.terms;
            println!("demo administrator API key (header X-Api-Key; shown this once, the store keeps only its hash):");
            println!(
                "  {} {} {} (residents of {})",
                terms.code,
                key.api_key,
                terms.name,
                terms.counties.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
        }
    } else if first_start {
        println!("empty database, no demo loaded (--no-demo): create staff accounts before use");
    }
    // The staff console and the national interface for institutions (/fsi/api), beside the API.
    let console = yibao_console::router_with(settings.console).merge(yibao_fsi::router());
    let metrics = Arc::new(yibao_api::observe::Metrics::default());
    if let Some(metrics_address) = settings.metrics_listen {
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
    tracing::info!(%address, tls = tls.is_some(), "serving");
    // One graceful stop for HTTP and HTTPS: no new connections, every request in flight
    // answered, connections still open after the grace closed.
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    let grace = settings.shutdown_grace;
    tokio::spawn(async move {
        shutdown().await;
        stopping.graceful_shutdown(Some(grace));
    });
    let server = axum_server::from_tcp(listener).map_err(|e| format!("cannot serve on {address}: {e}"))?.handle(handle);
    match tls {
        None => server.serve(service).await,
        Some(config) => server.acceptor(axum_server::tls_rustls::RustlsAcceptor::new(config)).serve(service).await,
    }
    .map_err(|e| e.to_string())
}

/// The server's TLS configuration from its certificate chain and private key (PEM), by
/// rustls with its default provider (aws-lc-rs). Errors name the file.
async fn tls_config(files: &TlsFiles) -> Result<axum_server::tls_rustls::RustlsConfig, String> {
    // Installed once per process; a second install (tests) finds it there already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.certificate, &files.private_key).await.map_err(|e| {
        invalid(format!(
            "TLS: cannot use the certificate {} with the key {}: {e}",
            files.certificate.display(),
            files.private_key.display()
        ))
    })
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

/// The monitoring rules a server runs with: the named file (refused, naming what is wrong,
/// if it does not read), else the demo city's with the demo policy, else none.
pub fn monitoring_pack(path: Option<&std::path::Path>, policy: &Policy) -> Result<Option<RulePack>, String> {
    let text = match path {
        Some(path) => crate::files::read(path)?,
        None if policy.id == "demo-city" => yibao_app::review::DEMO_MONITORING_PACK.to_owned(),
        None => return Ok(None),
    };
    let label = path.map_or_else(|| "policies/monitoring/demo-city.toml (embedded)".to_owned(), |p| p.display().to_string());
    RulePack::parse(&text).map(Some).map_err(|e| format!("{label}: {e}"))
}

/// The payment pack a server runs with: the named file (refused, with every problem, if it
/// does not read or is another region's), else the demo city's with the demo policy.
pub fn payment_pack(path: Option<&std::path::Path>, policy: &Policy) -> Result<Option<PaymentPack>, String> {
    let pack = match path {
        Some(path) => {
            let text = crate::files::read(path)?;
            PaymentPack::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None if policy.id == "demo-city" => PaymentPack::parse(yibao_app::payment::DEMO_PAYMENT_PACK).map_err(|e| e.to_string())?,
        None => return Ok(None),
    };
    if pack.region != policy.region {
        return Err(format!("the payment pack {} is for region {}, the policy pack for {}", pack.id, pack.region, policy.region));
    }
    Ok(Some(pack))
}
