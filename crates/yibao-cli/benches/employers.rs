//! An employer's month at scale (issue 16 item 2, not a test): one employer of 10,000
//! employees declares a month's payroll (each line billed through the contribution rule and
//! written as the person's own record, in one transaction), then pays it late with its late
//! fee (every line completed, the personal accounts credited, the fee posted, in one
//! transaction), through the application layer on SQLite (WAL, synchronous=FULL) and on a
//! durable throwaway PostgreSQL server; then the book check over everything.
//!
//! Run: `cargo bench -p yibao-cli --bench employers` (env `YIBAO_BENCH_EMPLOYEES`, default
//! 10,000, at most a declaration's 10,000; `YIBAO_BENCH_BACKENDS=sqlite` or `postgres`).
//! Prints wall times.

use std::sync::Arc;
use std::time::Instant;

use time::macros::date;
use yibao_app::{App, Backend, EmployerInput, Principal, WageLine};
use yibao_domain::{EmployerCode, Fen, NationalId, PersonCategory, PersonName, RegionCode, Scheme, Tier};
use yibao_engine::{Coverage, TierHistory};
use yibao_store::{ImportHousehold, NewHousehold, NewPerson};
use yibao_store_sqlite::SqliteStore;

/// Members of one imported household (a batch of the import is whole or nothing).
const PER_HOUSEHOLD: usize = 10;

fn employees(county: RegionCode, count: usize) -> Vec<ImportHousehold> {
    let mut households = Vec::new();
    for h in 0..count.div_ceil(PER_HOUSEHOLD) {
        let household_id = yibao_domain::HouseholdId::parse(&format!("EMP-{h:05}")).expect("household");
        let members = (0..PER_HOUSEHOLD)
            .map(|m| h * PER_HOUSEHOLD + m)
            .filter(|n| *n < count)
            .map(|n| {
                let birth = date!(1970 - 01 - 01) + time::Duration::days(i64::try_from(n / 1_000).unwrap_or(0));
                let id = NationalId::from_parts(county, birth, u16::try_from(n % 1_000).unwrap_or(0)).expect("id");
                NewPerson {
                    name: PersonName::parse("职工").expect("name"),
                    card_no: None,
                    household_id: household_id.clone(),
                    coverage: Coverage {
                        person_id: id,
                        region: county,
                        scheme: Scheme::Employee,
                        category: PersonCategory::Employed,
                        coverage_from: date!(2024 - 01 - 01),
                        coverage_until: None,
                        tier_history: Some(TierHistory {
                            initial: Tier::new(1).expect("tier"),
                            since: date!(2024 - 01 - 01),
                            changes: Vec::new(),
                        }),
                        assistance_group: None,
                        supplementary: false,
                        maternity: n % 2 == 0,
                        civil_servant: false,
                        enterprise_supplementary: false,
                        certified_chronic_diseases: Vec::new(),
                        personal_account_balance: Fen::ZERO,
                        use_personal_account: false,
                    },
                }
            })
            .collect();
        households
            .push(ImportHousehold { household: NewHousehold { household_id, region: county, address: "工业园 1 号".into() }, members });
    }
    households
}

async fn measure(name: &str, store: Arc<Backend>, count: usize) {
    let policy = yibao_policy::Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("policy");
    let city = policy.region;
    let app = App::new(store, Arc::new(policy));
    let principal = Principal::System { name: "bench".into(), region: city };
    let county = RegionCode::parse("419921").expect("county");
    let households = employees(county, count);
    let lines: Vec<WageLine> = households
        .iter()
        .flat_map(|h| h.members.iter())
        .enumerate()
        .map(|(n, p)| WageLine { person_id: p.coverage.person_id, wage: Fen::new(300_000 + i64::try_from(n % 2_000).unwrap_or(0) * 1_000) })
        .collect();
    for batch in households.chunks(1_000) {
        app.import_households(&principal, "bench", county, batch.to_vec()).await.expect("employees");
    }
    let code = EmployerCode::from_parts(county, 1).expect("code");
    let employer = EmployerInput { code, name: "基准测试厂".into(), region: county, registered_on: date!(2026 - 01 - 01) };
    app.register_employer(&principal, "bench", employer).await.expect("register");

    let started = Instant::now();
    let declared = app.declare(&principal, "bench", &code, "2026-10", lines).await.expect("declare");
    let declare_s = started.elapsed().as_secs_f64();
    let bills = app.declarations(&principal, &code).await.expect("bills");
    let fee = bills[0].to_pay_on.expect("owed");
    let started = Instant::now();
    let paid = app.pay_declaration(&principal, "bench", &code, "2026-10", bills[0].on, fee.bill_fen()).await.expect("pay");
    let pay_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let check = app.check_books(&principal).await.expect("book check");
    let check_s = started.elapsed().as_secs_f64();
    assert!(check.breaches.is_empty(), "the books agree: {:?}", check.breaches);
    println!(
        "{name}: {count} employees, {} bills",
        declared.lines.len() + declared.lines.iter().filter(|l| l.maternity_due_fen.get() > 0).count()
    );
    println!("  declare  {declare_s:>7.2} s  ({:.0} lines/s)  due {}", count as f64 / declare_s, declared.due_fen);
    println!(
        "  pay      {pay_s:>7.2} s  ({:.0} lines/s)  late fee {} for {} days",
        count as f64 / pay_s,
        paid.payment.as_ref().map_or(Fen::ZERO, |p| p.late_fee.fee_fen),
        fee.days
    );
    println!("  fund check {check_s:>5.2} s");
}

fn main() {
    let count: usize =
        std::env::var("YIBAO_BENCH_EMPLOYEES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000).min(yibao_engine::DECLARATION_LINES_MAX);
    let only = std::env::var("YIBAO_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        if only.contains("sqlite") {
            let dir = std::env::temp_dir().join(format!("yibao-bench-employers-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("dir");
            let store = Arc::new(Backend::Sqlite(SqliteStore::open(&dir.join("yibao.db")).await.expect("store")));
            measure("SQLite (WAL, synchronous=FULL)", store, count).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if only.contains("postgres") {
            let server = yibao_testpg::TestPostgres::start_durable().expect("PostgreSQL for the benchmark");
            let postgres = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
            measure("PostgreSQL (throwaway server, durable)", Arc::new(Backend::Postgres(postgres)), count).await;
        }
    });
}
