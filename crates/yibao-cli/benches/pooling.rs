//! The monthly pooling run at city scale (issue 4): a city of 10 counties whose month holds
//! 10 million transfers, pooled by `FundStore::run_pooling` on SQLite, then the whole books
//! checked by `verify_books` (what `yibao fund check` runs), which streams the transfers.
//!
//! The month is written straight into the ledger tables, consistent with the ledger's rules
//! (and checked afterwards), because posting 10 million transfers through 5 million business
//! writes would measure the settlement path, which `benches/http.rs` measures already:
//! - 9 in 10 transfers are settlement layers owed to one of 1,000 hospitals, by a county's
//!   insured (`settlement.pooled` in the resident or employee fund);
//! - 1 in 10 are contributions into a county's income account;
//! - the special accounts hold an opening balance large enough to pay the month.
//!
//! Run: `cargo bench -p yibao-cli --bench pooling` (env `YIBAO_BENCH_TRANSFERS`, default
//! 10,000,000). Prints wall times and the process's peak memory.

use std::time::Instant;

use time::OffsetDateTime;
use time::macros::date;
use yibao_domain::{Fen, RegionCode};
use yibao_ledger::{AccountKey, AccountKind, AccountState, Fund, FundScheme, Holder, YearMonth};
use yibao_store::books::{AccountRow, open_account};
use yibao_store::{Actor, FundStore};
use yibao_store_sqlite::SqliteStore;

const COUNTIES: u32 = 10;
const HOSPITALS: u32 = 1_000;

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |kib| kib / 1024)
}

fn main() {
    let transfers: u64 = std::env::var("YIBAO_BENCH_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = std::env::temp_dir().join(format!("yibao-bench-pooling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("yibao.db");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async { SqliteStore::open(&db).await.expect("creates the schema") });

    let city = RegionCode::parse("419900").expect("city");
    let counties: Vec<RegionCode> = (1..=COUNTIES).map(|n| RegionCode::parse(&format!("4199{:02}", 20 + n)).expect("county")).collect();
    let funds = [Fund::new(FundScheme::Resident, city), Fund::new(FundScheme::Employee, city)];
    let hospitals: Vec<Holder> = (0..HOSPITALS)
        .map(|n| Holder::institution(&format!("H{}{:05}", counties[(n % COUNTIES) as usize], n + 1)).expect("code"))
        .collect();
    let value_date = "2026-05-15";

    let started = Instant::now();
    let mut accounts: std::collections::BTreeMap<AccountKey, AccountState> = std::collections::BTreeMap::new();
    let mut book = |debit: AccountKey, credit: AccountKey, amount: i64| {
        for (key, is_debit) in [(debit, true), (credit, false)] {
            let state = accounts.entry(key).or_insert_with(|| AccountState::new(open_account(key).expect("a valid account")));
            if is_debit {
                state.debits_posted_fen += Fen::new(amount);
            } else {
                state.credits_posted_fen += Fen::new(amount);
            }
        }
    };
    let mut conn = rusqlite::Connection::open(&db).expect("connect");
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;").expect("pragmas");
    let tx = conn.transaction().expect("tx");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO ledger_transfers (region_code, transfer_id, fund_scheme, debit_holder, debit_kind, credit_holder, credit_kind, amount_fen, reason, cause_kind, cause_id, value_date, reverses, pair_id, unit_code, posted_at) \
                 VALUES ('419900', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, ?12, '2026-05-15T10:00:00Z')",
            )
            .expect("prepare");
        // Opening balances: enough for the month.
        for fund in funds {
            let special = AccountKey::special(fund);
            let from = AccountKey::new(fund, Holder::Region(city), AccountKind::External);
            let amount = 1_000_000_000_000;
            book(special, from, amount);
            insert
                .execute(rusqlite::params![
                    format!("opening/{fund}/419900/BENCH"),
                    fund.scheme.as_str(),
                    special.holder.to_string(),
                    "fiscal-special",
                    from.holder.to_string(),
                    "external",
                    amount,
                    "handover",
                    "opening-balance",
                    "opening/BENCH",
                    "2026-01-01",
                    "419900"
                ])
                .expect("opening");
        }
        // What each county owes each hospital, kept as the store keeps it when it posts
        // (`ledger_payables`, the running outstanding the run reads).
        let mut payables: std::collections::BTreeMap<(FundScheme, RegionCode, Holder), i64> = std::collections::BTreeMap::new();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for n in 0..transfers {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let fund = funds[(state >> 60) as usize % 2];
            let county = counties[((state >> 40) % u64::from(COUNTIES)) as usize];
            let amount = 100 + ((state >> 20) % 100_000) as i64;
            let (debit, credit, reason, cause_kind) = if n % 10 == 0 {
                (
                    AccountKey::of_unit(fund, county, AccountKind::Income),
                    AccountKey::of_unit(fund, county, AccountKind::External),
                    "contribution",
                    "contribution",
                )
            } else {
                let hospital = hospitals[((state >> 8) % u64::from(HOSPITALS)) as usize];
                (
                    AccountKey::new(fund, hospital, AccountKind::External),
                    AccountKey::new(fund, hospital, AccountKind::Payable),
                    "settlement.pooled",
                    "settlement",
                )
            };
            book(debit, credit, amount);
            if credit.kind == AccountKind::Payable {
                *payables.entry((fund.scheme, county, credit.holder)).or_default() += amount;
            }
            insert
                .execute(rusqlite::params![
                    format!("bench/{n}"),
                    fund.scheme.as_str(),
                    debit.holder.to_string(),
                    debit.kind.as_str(),
                    credit.holder.to_string(),
                    credit.kind.as_str(),
                    amount,
                    reason,
                    cause_kind,
                    format!("bench/{n}"),
                    value_date,
                    county.to_string()
                ])
                .expect("transfer");
        }
        let mut account = tx
            .prepare("INSERT INTO ledger_accounts (region_code, fund_scheme, holder, kind, no_overdraft, opened_on, debits_posted_fen, credits_posted_fen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            .expect("prepare");
        for state in accounts.values() {
            let row = AccountRow::of(state);
            account
                .execute(rusqlite::params![
                    row.region_code,
                    row.fund_scheme,
                    row.holder,
                    row.kind,
                    i64::from(row.no_overdraft),
                    row.opened_on,
                    row.debits_posted_fen,
                    row.credits_posted_fen
                ])
                .expect("account");
        }
        let mut payable = tx
            .prepare("INSERT INTO ledger_payables (region_code, fund_scheme, unit_code, payee, outstanding_fen) VALUES ('419900', ?1, ?2, ?3, ?4)")
            .expect("prepare");
        for ((scheme, county, payee), amount) in &payables {
            payable.execute(rusqlite::params![scheme.as_str(), county.to_string(), payee.to_string(), amount]).expect("payable");
        }
    }
    tx.commit().expect("commit");
    drop(conn);
    println!(
        "pooling bench: wrote {transfers} transfers of one month ({COUNTIES} counties, {HOSPITALS} hospitals) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    runtime.block_on(async {
        let store = SqliteStore::open(&db).await.expect("opens");
        let actor = Actor { who: "bench".into(), role: "fund_accountant".into(), source: "bench".into(), at: OffsetDateTime::now_utc() };
        let month = YearMonth::parse("2026-05").expect("month");
        let started = Instant::now();
        let outcome = store.run_pooling(&actor, city, month, date!(2026 - 05 - 31), Vec::new()).await.expect("the run");
        let run_s = started.elapsed().as_secs_f64();
        let payments: usize = outcome.run.funds.iter().flat_map(|f| &f.units).map(|u| u.payments.len()).sum();
        println!(
            "pooling bench: run_pooling over {transfers} transfers: {run_s:.2} s; posted {} transfers ({payments} payments) for {} funds",
            outcome.run.transfers,
            outcome.run.funds.len()
        );
        let started = Instant::now();
        let again = store.run_pooling(&actor, city, month, date!(2026 - 05 - 31), Vec::new()).await.expect("again");
        println!("pooling bench: the same month again (a replay): {:.3} s, ran_now = {}", started.elapsed().as_secs_f64(), again.ran_now);
        println!("pooling bench: peak memory before the check {} MiB", peak_rss_mib());
        // Reset the high-water mark (Linux: 5 > clear_refs), so the last figure is the check's.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let started = Instant::now();
        let verification = yibao_store::verify_books(&store).await.expect("verify");
        // The month was written without its claims and contributions, so the reconciliation
        // names its transfers as naming no record on file (the first ones, up to the limit);
        // every ledger invariant must hold.
        let (unrecorded, broken): (Vec<_>, Vec<_>) = verification
            .breaches
            .iter()
            .partition(|b| matches!(b, yibao_ledger::Breach::BusinessDisagrees { .. } | yibao_ledger::Breach::Truncated));
        println!(
            "pooling bench: verify_books over {} accounts and {} transfers: {:.1} s, {} ledger breaches, {} transfers named as having no record (the bench writes none)",
            verification.accounts,
            verification.transfers,
            started.elapsed().as_secs_f64(),
            broken.len(),
            unrecorded.len()
        );
        if reset {
            println!("pooling bench: peak memory during the check {} MiB", peak_rss_mib());
        }
        // The running outstanding the run read and changed agrees with the transfers
        // (`payables-match`): none of the named rows is one of its.
        let payables = unrecorded
            .iter()
            .filter(|b| matches!(b, yibao_ledger::Breach::BusinessDisagrees { record, .. } if record.starts_with("ledger_payables")))
            .count();
        println!("pooling bench: running outstanding rows disagreeing with the transfers: {payables}");
        assert_eq!(payables, 0);
        assert!(broken.is_empty(), "{:?}", broken.iter().take(5).collect::<Vec<_>>());
        assert!(!unrecorded.is_empty(), "transfers without their records are named");
    });
    println!("pooling bench: peak memory {} MiB", peak_rss_mib());
    let _ = std::fs::remove_dir_all(&dir);
}
