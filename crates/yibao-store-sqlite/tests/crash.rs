//! Crash safety (issue 3, "Bad input and faults"): a process settling a burst of claims is
//! killed with SIGKILL mid-burst. After reopening, every settlement it acknowledged is
//! there, none is half-written (each claim has its accumulators, audit entry and fund
//! transfers, or nothing), the accumulators agree with the claims, and the audit chain is intact.
//!
//! The test runs itself as the child process (`YIBAO_CRASH_CHILD_DB` set), so the child is
//! real code against a real file, not a simulation.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use yibao_domain::{Fen, RegionCode};
use yibao_engine::{Claim, Explain};
use yibao_policy::Policy;
use yibao_store::{ClaimStatus, SettleRequest, Store, StoreError, engine_settlement, verify_audit};
use yibao_store_sqlite::SqliteStore;

const CHILD_ENV: &str = "YIBAO_CRASH_CHILD_DB";
const ACKS_BEFORE_KILL: usize = 60;
const BURST: usize = 100_000;

mod common;

use common::{actor, enrol, person, region};

fn claim(n: usize) -> Claim {
    // A day in 2026 from the claim number, so the stays are spread over the year.
    let day = 1 + n % 28;
    let month = 1 + (n / 28) % 12;
    serde_json::from_str(&format!(
        r#"{{"claim_id":"CRASH-{n}","institution_code":"H41992100007","institution_level":"secondary","kind":"inpatient",
        "admission_date":"2026-{month:02}-{day:02}","discharge_date":"2026-{month:02}-{day:02}","diagnosis":"K35.900","referral":true,
        "lines":[{{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":"{}.00"}}]}}"#,
        800 + (n * 37) % 5_000
    ))
    .expect("claim")
}

async fn child(path: &str) {
    let policy = Arc::new(Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("pack"));
    let store = SqliteStore::open(std::path::Path::new(path)).await.expect("open");
    enrol(&store, "HH-CRASH").await;
    // Claims are settled in date order, one year's counters growing with each.
    let mut claims: Vec<Claim> = (0..BURST).map(claim).collect();
    claims.sort_by_key(|c| c.admission_date);
    for c in &claims {
        let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
        let request = SettleRequest {
            institution_code: yibao_domain::InstitutionCode::parse(&c.institution_code).expect("a code"),
            claim_id: c.claim_id.clone(),
            person_id: person(),
            year: 2026,
            service_date: c.admission_date,
            claim_json: serde_json::to_string(c).expect("json"),
            flags: Vec::new(),
        };
        store.settle(&actor(), region(), request, compute).await.expect("settles");
        // Acknowledged only after the commit returned.
        println!("ack {}", c.claim_id);
    }
}

#[test]
fn a_kill_mid_burst_loses_no_acknowledged_settlement() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        tokio::runtime::Runtime::new().expect("runtime").block_on(child(&path));
        return;
    }
    let dir = std::env::temp_dir().join(format!("yibao-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("yibao.db");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "a_kill_mid_burst_loses_no_acknowledged_settlement", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child");
    let stdout = child.stdout.take().expect("stdout");
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(id) = line.strip_prefix("ack ") {
            acked.push(id.to_owned());
            if acked.len() == ACKS_BEFORE_KILL {
                child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
                break;
            }
        }
    }
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the child was killed, not finished: {status:?}");
    assert_eq!(acked.len(), ACKS_BEFORE_KILL, "the child acknowledged settlements before it was killed");

    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let store = Arc::new(SqliteStore::open(&db).await.expect("reopens after the crash"));
        for id in &acked {
            let record = store.claim(region(), "H41992100007", id).await.unwrap_or_else(|e| panic!("acknowledged {id} is lost: {e}"));
            assert_eq!(record.status, ClaimStatus::Settled);
        }
        // Perhaps one more committed after the last acknowledgement: never half of one.
        let claims = store.claims_of_person(region(), &person()).await.expect("history");
        assert!(claims.len() == acked.len() || claims.len() == acked.len() + 1, "{} claims for {} acks", claims.len(), acked.len());
        let acc = store.accumulators(region(), &person(), 2026).await.expect("accumulators");
        assert_eq!(acc.admissions as usize, claims.len(), "every claim has its accumulator update, and no other");
        let funds: i64 = claims.iter().map(|c| c.fund_pay_fen.get()).sum();
        assert_eq!(
            Fen::new(funds),
            acc.pooled_paid + acc.critical_paid + acc.assistance_paid + acc.supplementary_paid,
            "accumulators agree with the claims"
        );
        let verification = verify_audit(&*store).await.expect("verify");
        assert!(verification.is_intact(), "{:?}", verification.breaks);
        // enrolment + household + one entry per settled claim
        assert_eq!(verification.entries, 2 + claims.len());
        // The fund books hold each surviving claim's transfers and nothing of a lost one:
        // what the funds owe the hospital is exactly what the claims say the funds pay.
        let books = yibao_store::verify_books(&*store).await.expect("books");
        assert!(books.breaches.is_empty(), "{:?}", books.breaches);
        let city = RegionCode::parse("419900").expect("city");
        let owed: i64 = yibao_store::FundStore::fund_accounts(&*store, city)
            .await
            .expect("accounts")
            .iter()
            .filter(|a| a.key().kind == yibao_ledger::AccountKind::Payable)
            .map(|a| a.balance_fen().get())
            .sum();
        let paid_by_account: i64 = claims.iter().map(|c| c.personal_account_paid().expect("readable").get()).sum();
        assert_eq!(owed, funds + paid_by_account, "every claim's layers are booked, and no other's");
        // The store still works: the next claim settles.
        let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("pack");
        let next = claim(BURST + 1);
        let compute = engine_settlement(Arc::new(policy), next.clone(), Explain::Off);
        let request = SettleRequest {
            institution_code: yibao_domain::InstitutionCode::parse(&next.institution_code).expect("a code"),
            claim_id: next.claim_id.clone(),
            person_id: person(),
            year: 2026,
            service_date: next.admission_date,
            claim_json: serde_json::to_string(&next).expect("json"),
            flags: Vec::new(),
        };
        match store.settle(&actor(), region(), request, compute).await {
            Ok(_) | Err(StoreError::Refused { .. }) => {}
            Err(e) => panic!("the store works after the crash: {e}"),
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
