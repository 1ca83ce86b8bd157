//! Complete outpatient visits through the national interface over HTTP on loopback (issue
//! 14 benchmark, not a test): each visit is four messages from the hospital's billing
//! system, 2201 registration → 2204 fee lines → 2206 pre-settlement → 2207 settlement with
//! the centre's split, each answer kept by its msgid, on the real server (API, console and
//! interface routers) over the SQLite store (WAL, synchronous=FULL) and a durable
//! throwaway PostgreSQL server; 1, 8 and 64 concurrent hospital clients, each with its own
//! resident. Prints visits/s and the p50/p99 latency of a whole visit.
//!
//! Run: `cargo bench -p yibao-cli --bench fsi`. `YIBAO_BENCH_BACKENDS=sqlite` (or
//! `postgres`) measures one backend only.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{HOSPITAL, percentile, policy};
use yibao_app::{App, Backend};
use yibao_fsi::his::{His, Patient};
use yibao_store_sqlite::SqliteStore;

const VISITS_PER_LEVEL: usize = 1_000;
const LEVELS: [usize; 3] = [1, 8, 64];

/// The demo city of [`common::load`], its residents as patients.
async fn load(store: &Arc<Backend>) -> (String, Vec<Patient>) {
    let (key, persons) = common::load(store).await;
    (key, persons.into_iter().map(|(id, card)| Patient { id, card }).collect())
}

async fn run_levels(name: &str, store: Arc<Backend>, key: &str, patients: &[Patient]) {
    let state = App::new(Arc::clone(&store), Arc::new(policy()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let router = yibao_api::app_with(state, yibao_fsi::router());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    let base = format!("http://{address}");
    let today = time::OffsetDateTime::now_utc().to_offset(yibao_app::interface::LOCAL_OFFSET).date();
    println!("\ncomplete outpatient visits (2201→2204→2206→2207) through /fsi/api on {name}, {VISITS_PER_LEVEL} per level");
    println!("{:>8} {:>10} {:>12} {:>12} {:>12} {:>12}", "clients", "visits/s", "messages/s", "p50 ms", "p99 ms", "max ms");
    let mut next = 0usize;
    for clients in LEVELS {
        let per_client = VISITS_PER_LEVEL / clients;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for client in 0..clients {
            let patient = patients[client % patients.len()].clone();
            let mut his = His::new(&base, HOSPITAL, key);
            let first = next + client * per_client;
            tasks.push(tokio::spawn(async move {
                his.sign_in().await.expect("sign-in");
                let mut latencies = Vec::with_capacity(per_client);
                for n in first..first + per_client {
                    let sent = Instant::now();
                    his.outpatient_visit(&patient, today, &format!("BENCH-{n}")).await.unwrap_or_else(|e| panic!("visit {n}: {e}"));
                    latencies.push(sent.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::with_capacity(VISITS_PER_LEVEL);
        for task in tasks {
            latencies.extend(task.await.expect("client"));
        }
        let elapsed = started.elapsed();
        next += clients * per_client;
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let visits_per_s = latencies.len() as f64 / elapsed.as_secs_f64();
        println!(
            "{:>8} {:>10.0} {:>12.0} {:>12.2} {:>12.2} {:>12.2}",
            clients,
            visits_per_s,
            visits_per_s * 4.0,
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().expect("latencies"))
        );
    }
    server.abort();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let only = std::env::var("YIBAO_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        if only.contains("sqlite") {
            let dir = std::env::temp_dir().join(format!("yibao-bench-fsi-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("dir");
            let store = Arc::new(Backend::Sqlite(SqliteStore::open(&dir.join("yibao.db")).await.expect("store")));
            let (key, patients) = load(&store).await;
            run_levels("SQLite (WAL, synchronous=FULL)", store, &key, &patients).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if only.contains("postgres") {
            let server = yibao_testpg::TestPostgres::start_durable().expect("PostgreSQL for the benchmark");
            let store = Arc::new(Backend::Postgres(yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect")));
            let (key, patients) = load(&store).await;
            let configuration = match server.durability() {
                Some(durability) => format!("throwaway server: {}", durability.describe()),
                None => "the server at YIBAO_TEST_DATABASE_URL".to_owned(),
            };
            run_levels(&format!("PostgreSQL ({configuration})"), store, &key, &patients).await;
        }
    });
}
