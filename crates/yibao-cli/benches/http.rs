//! Settlements over HTTP on loopback (issue 3 benchmark, not a test): the real server and
//! the SQLite store (WAL, synchronous=FULL: every acknowledged settlement is durable),
//! 1, 8 and 64 concurrent keep-alive clients, each settling its own person's claims.
//!
//! The same on PostgreSQL: a throwaway server from `yibao-testpg`, durable (fsync=on,
//! synchronous_commit=on) unless `YIBAO_BENCH_PG_DURABILITY=off` (the test servers'
//! fsync=off) or `both`; or the server at `YIBAO_TEST_DATABASE_URL`. The heading names the
//! configuration measured.
//!
//! Run: `cargo bench -p yibao-cli --bench http`. Prints settlements/s and p50/p99 latency.
//! `YIBAO_BENCH_BACKENDS=sqlite` (or `postgres`) measures one backend only.
//! `YIBAO_BENCH_MONITORING=on` settles under the demo city's monitoring rules (issue 18):
//! the rules on every claim, and for each visit the person's visits of the last week counted
//! in the store (`visits-within`). `YIBAO_BENCH_MONITORING=no-history` leaves that rule out.
//!
//! Beside each level: the bytes the database's processes had written to storage per
//! settlement (`write_bytes` of `/proc/PID/io`: on SQLite this process; on a throwaway
//! PostgreSQL server its postmaster and the processes it started, which live as long as the
//! pool's connections do).

mod common;

fn pack(text: &str) -> yibao_engine::monitoring::RulePack {
    yibao_app::review::monitoring_pack(text).expect("the monitoring pack")
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{load, percentile, policy};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use yibao_app::{App, Backend};
use yibao_store_sqlite::SqliteStore;

const REQUESTS_PER_LEVEL: usize = 2_000;
const LEVELS: [usize; 3] = [1, 8, 64];

fn claim(n: usize) -> String {
    format!(
        r#"{{"claim_id":"BENCH-{n}","institution_code":"H41990200001","institution_level":"tertiary","kind":"general-outpatient","admission_date":"2026-04-01","discharge_date":"2026-04-01","diagnosis":"J06.900","lines":[{{"code":"001102000010000","quantity":1,"unit_price":"10.00"}},{{"code":"XJ01CAA040E001010100163","quantity":2,"unit_price":"8.50"}},{{"code":"ZA01BAG0120010100357","quantity":1,"unit_price":"15.80"}}]}}"#
    )
}

/// Sends one request on a keep-alive connection and reads the whole response; the status.
async fn post(reader: &mut BufReader<TcpStream>, key: &str, body: &str) -> u16 {
    let request = format!(
        "POST /api/settlements HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nX-Api-Key: {key}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    reader.get_mut().write_all(request.as_bytes()).await.expect("send");
    let mut status_line = String::new();
    reader.read_line(&mut status_line).await.expect("status");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("header");
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().expect("length");
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.expect("body");
    status
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("yibao-bench-http-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let only = std::env::var("YIBAO_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        if only.contains("sqlite") {
            let sqlite = SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
            let store = Arc::new(Backend::Sqlite(sqlite));
            let (key, persons) = load(&store).await;
            run_levels("SQLite (WAL, synchronous=FULL)", store, &key, &persons, Writers::ThisProcess).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if !only.contains("postgres") {
            return;
        }

        // A durable throwaway server unless YIBAO_BENCH_PG_DURABILITY says `off` (the test
        // servers' fsync=off) or `both`.
        let wanted = std::env::var("YIBAO_BENCH_PG_DURABILITY").unwrap_or_else(|_| "durable".into());
        let mut durabilities = Vec::new();
        if wanted.contains("durable") || wanted.contains("both") {
            durabilities.push(yibao_testpg::Durability::Durable);
        }
        if wanted.contains("off") || wanted.contains("both") {
            durabilities.push(yibao_testpg::Durability::Off);
        }
        for durability in durabilities {
            let server = match durability {
                yibao_testpg::Durability::Durable => yibao_testpg::TestPostgres::start_durable(),
                yibao_testpg::Durability::Off => yibao_testpg::TestPostgres::start(),
            }
            .expect("PostgreSQL for the benchmark");
            let postgres = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
            let store = Arc::new(Backend::Postgres(postgres));
            let (key, persons) = load(&store).await;
            let configuration = match server.durability() {
                Some(durability) => format!("throwaway server: {}", durability.describe()),
                None => "the server at YIBAO_TEST_DATABASE_URL".to_owned(),
            };
            run_levels(&format!("PostgreSQL ({configuration})"), Arc::clone(&store), &key, &persons, Writers::of_server(server.dir()))
                .await;
            if server.durability().is_none() {
                // The same database would be measured twice.
                break;
            }
        }
    });
}

/// The processes whose writes to storage are the database's: this process on SQLite; a
/// throwaway PostgreSQL server's postmaster (its data directory's `postmaster.pid`) and its
/// children.
#[derive(Clone, Debug)]
enum Writers {
    ThisProcess,
    Postmaster(u32),
    Unknown,
}

impl Writers {
    fn of_server(dir: Option<&std::path::Path>) -> Writers {
        let pid = dir
            .and_then(|dir| std::fs::read_to_string(dir.join("data/postmaster.pid")).ok())
            .and_then(|text| text.lines().next().and_then(|line| line.trim().parse().ok()));
        pid.map_or(Writers::Unknown, Writers::Postmaster)
    }

    /// Bytes written to storage so far, or `None` when the processes are not known.
    fn written_bytes(&self) -> Option<u64> {
        let write_bytes = |pid: &str| -> u64 {
            std::fs::read_to_string(format!("/proc/{pid}/io"))
                .ok()
                .and_then(|io| io.lines().find_map(|l| l.strip_prefix("write_bytes:").and_then(|v| v.trim().parse().ok())))
                .unwrap_or(0)
        };
        match self {
            Writers::ThisProcess => Some(write_bytes("self")),
            Writers::Unknown => None,
            Writers::Postmaster(postmaster) => {
                let mut total = write_bytes(&postmaster.to_string());
                for entry in std::fs::read_dir("/proc").ok()?.flatten() {
                    let pid = entry.file_name().to_string_lossy().into_owned();
                    let parent = std::fs::read_to_string(format!("/proc/{pid}/status"))
                        .ok()
                        .and_then(|status| status.lines().find_map(|l| l.strip_prefix("PPid:").and_then(|v| v.trim().parse::<u32>().ok())));
                    if parent == Some(*postmaster) {
                        total += write_bytes(&pid);
                    }
                }
                Some(total)
            }
        }
    }
}

async fn run_levels(name: &str, store: Arc<Backend>, key: &str, persons: &[(String, String)], writers: Writers) {
    // Group commit: write transactions and requests so far (on PostgreSQL, settlement
    // batches and the settlements in them).
    let writer_stats = |store: &Backend| match store {
        Backend::Sqlite(sqlite) => sqlite.writer_stats(),
        Backend::Postgres(postgres) => postgres.writer_stats(),
    };
    let state = App::new(Arc::clone(&store), Arc::new(policy()));
    let monitoring = std::env::var("YIBAO_BENCH_MONITORING").unwrap_or_default();
    let state = match monitoring.as_str() {
        "on" => state.with_monitoring_pack(pack(yibao_app::review::DEMO_MONITORING_PACK)),
        "no-history" => {
            let mut pack = pack(yibao_app::review::DEMO_MONITORING_PACK);
            pack.rules.retain(|rule| !matches!(rule.check, yibao_engine::monitoring::Check::VisitsWithin { .. }));
            state.with_monitoring_pack(pack)
        }
        _ => state,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move { axum::serve(listener, yibao_api::app(state)).await.expect("serve") });
    let rules = match monitoring.as_str() {
        "on" => ", the demo's monitoring rules",
        "no-history" => ", the demo's monitoring rules but visits-within",
        _ => "",
    };
    println!("\nsettlements over HTTP on {name}, 3-line outpatient claims, {REQUESTS_PER_LEVEL} per level{rules}");
    println!(
        "{:>8} {:>14} {:>10} {:>10} {:>10} {:>12} {:>18}",
        "clients", "settlements/s", "p50 ms", "p99 ms", "max ms", "per commit", "KB written/settle"
    );
    let mut next_claim = 0usize;
    for clients in LEVELS {
        let per_client = REQUESTS_PER_LEVEL / clients;
        let (batches_before, requests_before) = writer_stats(&store);
        let written_before = writers.written_bytes();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for client in 0..clients {
            let (person, card) = persons[client % persons.len()].clone();
            let key = key.to_owned();
            let first = next_claim + client * per_client;
            tasks.push(tokio::spawn(async move {
                let stream = TcpStream::connect(address).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let mut reader = BufReader::new(stream);
                let mut latencies = Vec::with_capacity(per_client);
                for n in first..first + per_client {
                    let body = format!(r#"{{"person_id":"{person}","card_no":"{card}","claim":{}}}"#, claim(n));
                    let sent = Instant::now();
                    let status = post(&mut reader, &key, &body).await;
                    assert_eq!(status, 201, "claim {n}");
                    latencies.push(sent.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::with_capacity(REQUESTS_PER_LEVEL);
        for task in tasks {
            latencies.extend(task.await.expect("client"));
        }
        let elapsed = started.elapsed();
        next_claim += clients * per_client;
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (batches_after, requests_after) = writer_stats(&store);
        let per_commit = match batches_after - batches_before {
            0 => "-".to_owned(),
            batches => format!("{:.1}", (requests_after - requests_before) as f64 / batches as f64),
        };
        let written = match (written_before, writers.written_bytes()) {
            (Some(before), Some(after)) => format!("{:.1}", after.saturating_sub(before) as f64 / latencies.len() as f64 / 1024.0),
            _ => "-".to_owned(),
        };
        println!(
            "{:>8} {:>14.0} {:>10.2} {:>10.2} {:>10.2} {:>12} {:>18}",
            clients,
            latencies.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().expect("latencies")),
            per_commit,
            written
        );
    }
    server.abort();
}
