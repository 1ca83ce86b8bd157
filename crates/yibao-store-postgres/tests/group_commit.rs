//! The settlement writer's group commit (`src/settle.rs`): settlements queued together are
//! written in one transaction, yet each stands or falls alone, and the result is what the
//! same claims settled one by one would give.

use std::sync::Arc;

use time::macros::{date, datetime};
use yibao_domain::{Fen, NationalId, PersonCategory, RegionCode, Scheme, Tier};
use yibao_engine::{Accumulators, Claim, Coverage, Explain, TierChange, TierHistory, settle};
use yibao_policy::Policy;
use yibao_store::Actor;
use yibao_store::{
    ContributionKind, ContributionStore, NewContribution, NewHousehold, NewPerson, SettleFn, SettleOutcome, SettleRequest, Store,
    StoreError, engine_settlement, verify_audit,
};
use yibao_store_postgres::PostgresStore;
use yibao_testpg::TestPostgres;

const EAST: &str = "419921";
const WEST: &str = "419922";
/// People settled at once, and claims each.
const PEOPLE: u16 = 6;
const CLAIMS_EACH: usize = 8;
const START_FEN: i64 = 5_000_000;

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("test region")
}

fn clerk() -> Actor {
    Actor { who: "clerk".into(), role: "claims_officer".into(), source: "127.0.0.1".into(), at: datetime!(2026-03-01 09:30 UTC) }
}

fn policy() -> Arc<Policy> {
    Arc::new(Policy::from_toml("policies/demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("demo pack"))
}

fn coverage(id: NationalId, region_code: &str, scheme: Scheme) -> Coverage {
    let employee = scheme == Scheme::Employee;
    Coverage {
        person_id: id,
        region: region(region_code),
        scheme,
        category: if employee { PersonCategory::Employed } else { PersonCategory::Resident },
        coverage_from: date!(2024 - 01 - 01),
        coverage_until: None,
        tier_history: Some(TierHistory {
            initial: Tier::new(if employee { 1 } else { 3 }).expect("tier"),
            since: date!(2024 - 01 - 01),
            changes: Vec::new(),
        }),
        assistance_group: None,
        supplementary: false,
        maternity: false,
        civil_servant: false,
        enterprise_supplementary: false,
        certified_chronic_diseases: Vec::new(),
        personal_account_balance: Fen::new(if employee { START_FEN } else { 0 }),
        use_personal_account: employee,
    }
}

async fn enrolled(store: &PostgresStore, region_code: &str, serial: u16, scheme: Scheme) -> NationalId {
    let id = NationalId::from_parts(region(region_code), date!(1970 - 05 - 17), serial).expect("test id");
    let household = yibao_domain::HouseholdId::parse(&format!("HH-{region_code}-{serial}")).expect("an id");
    let new = NewHousehold { household_id: household.clone(), region: region(region_code), address: "幸福路 1 号".into() };
    store.create_household(&clerk(), region(region_code), new).await.expect("household");
    let person = NewPerson {
        name: yibao_domain::PersonName::parse(&format!("李{serial}")).expect("a name"),
        card_no: None,
        household_id: household,
        coverage: coverage(id, region_code, scheme),
    };
    store.enrol(&clerk(), region(region_code), person).await.expect("enrol");
    id
}

/// An inpatient claim; prices differ so that the order of a person's claims matters.
fn claim(claim_id: &str, price_yuan: i64) -> Claim {
    let json = format!(
        r#"{{"claim_id":"{claim_id}","institution_code":"H41992100007","institution_level":"tertiary","kind":"inpatient",
        "admission_date":"2026-03-05","discharge_date":"2026-03-05","diagnosis":"I21.000","referral":true,
        "lines":[{{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":"{price_yuan}.00"}}]}}"#
    );
    serde_json::from_str(&json).expect("test claim")
}

fn request(claim: &Claim, person: NationalId) -> SettleRequest {
    SettleRequest {
        institution_code: yibao_domain::InstitutionCode::parse(&claim.institution_code).expect("a code"),
        claim_id: claim.claim_id.clone(),
        person_id: person,
        year: 2026,
        service_date: claim.admission_date,
        claim_json: serde_json::to_string(claim).expect("json"),
        flags: Vec::new(),
    }
}

async fn store(pg: &TestPostgres) -> Arc<PostgresStore> {
    Arc::new(PostgresStore::connect(pg.url()).await.expect("connects"))
}

/// A claim row as stored: its claim, its counters before and after (compressed) and its
/// settlement (compressed).
type StoredRow = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

/// Checks that `person`'s settled claims form one chain, each computed on the accumulators
/// and personal account the one before it left, from a new year to what is stored: no two
/// settlements spent the same remaining deductible, cap or balance. With `recompute`, also
/// that each stored settlement is what the engine gives on that state (the person's coverage
/// must then not have changed otherwise). Returns the chain's length.
async fn assert_one_chain(
    pool: &sqlx::PgPool,
    store: &PostgresStore,
    policy: &Policy,
    person: NationalId,
    region_code: &str,
    scheme: Scheme,
    recompute: bool,
) -> usize {
    let rows: Vec<StoredRow> =
        sqlx::query_as("SELECT claim, acc_before, acc_after, settlement FROM claims WHERE person_id = $1 AND status = 'settled'")
            .bind(person.as_str())
            .fetch_all(pool)
            .await
            .expect("claims");
    let mut links: Vec<(Claim, Accumulators, Accumulators, serde_json::Value)> = rows
        .into_iter()
        .map(|(claim, before, after, settlement)| {
            (
                serde_json::from_str(&yibao_store::compact::unpack(&claim).expect("stored claim")).expect("claim"),
                yibao_store::compact::unpack_accumulators(&before).expect("before"),
                yibao_store::compact::unpack_accumulators(&after).expect("after"),
                serde_json::from_str(&yibao_store::compact::unpack(&settlement).expect("stored settlement")).expect("settlement"),
            )
        })
        .collect();
    let yuan = |value: &serde_json::Value, field: &str| Fen::parse_yuan(value[field].as_str().expect(field)).expect("yuan");
    let mut acc = Accumulators::new_year(2026);
    let mut coverage = coverage(person, region_code, scheme);
    let mut length = 0;
    while let Some(at) = links.iter().position(|(_, before, _, _)| *before == acc) {
        let (claim, _, after, mut stored) = links.swap_remove(at);
        assert_eq!(serde_json::from_value::<Accumulators>(stored["accumulators"].clone()).expect("acc"), after);
        assert_eq!(
            coverage.personal_account_balance - yuan(&stored, "acct_pay"),
            yuan(&stored, "acct_balance_after"),
            "claim {}",
            claim.claim_id
        );
        if recompute {
            let recomputed = settle(policy, &claim, &coverage, &acc, Explain::Off).expect("settles");
            if let Some(fields) = stored.as_object_mut() {
                fields.remove("explanation");
            }
            assert_eq!(
                serde_json::to_value(&recomputed).expect("json"),
                stored,
                "claim {} was computed on the state before it",
                claim.claim_id
            );
        }
        acc = after;
        coverage.personal_account_balance = yuan(&stored, "acct_balance_after");
        length += 1;
    }
    assert!(links.is_empty(), "{} claims of {person} do not follow on from the one before", links.len());
    assert_eq!(store.accumulators(region(region_code), &person, 2026).await.expect("acc"), acc, "the stored counters end the chain");
    let stored = store.person(region(region_code), &person).await.expect("person");
    assert_eq!(stored.coverage.personal_account_balance, coverage.personal_account_balance, "the account balance ends the chain");
    length
}

async fn assert_audit_intact(store: &PostgresStore) {
    let verification = verify_audit(store).await.expect("verify");
    assert!(verification.is_intact(), "{:?}", verification.breaks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_settles_in_groups_as_if_one_by_one() {
    let pg = TestPostgres::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let store = store(&pg).await;
    let policy = policy();
    let mut people = Vec::new();
    for serial in 1..=PEOPLE {
        let scheme = if serial % 2 == 0 { Scheme::Employee } else { Scheme::Resident };
        let region_code = if serial % 3 == 0 { WEST } else { EAST };
        people.push((enrolled(&store, region_code, serial, scheme).await, region_code, scheme));
    }
    // Someone whose only claim is refused: not even the zero accumulators row the writer
    // locked for it may remain.
    let refused_only = enrolled(&store, EAST, 99, Scheme::Resident).await;
    let (batches_before, requests_before) = store.writer_stats();

    let city = region("419900");
    let mut tasks: Vec<(&'static str, tokio::task::JoinHandle<Result<SettleOutcome, StoreError>>)> = Vec::new();
    let spawn = |store: &Arc<PostgresStore>, request: SettleRequest, compute: SettleFn| {
        let store = Arc::clone(store);
        tokio::spawn(async move { store.settle(&clerk(), city, request, compute).await })
    };
    for n in 0..CLAIMS_EACH {
        for (p, &(id, _, _)) in people.iter().enumerate() {
            let c = claim(&format!("G-{p}-{n}"), 800 + 150 * n as i64 + 10 * p as i64);
            tasks.push(("settles", spawn(&store, request(&c, id), engine_settlement(Arc::clone(&policy), c.clone(), Explain::On))));
        }
        // The same claim sent twice at once: settled once, replayed once.
        let (id, _, _) = people[n % people.len()];
        let twice = claim(&format!("TWICE-{n}"), 700);
        for _ in 0..2 {
            tasks.push(("twice", spawn(&store, request(&twice, id), engine_settlement(Arc::clone(&policy), twice.clone(), Explain::Off))));
        }
        // Refused by the engine (before the pack's first day), for a person with claims in
        // the batch and for one without.
        for person in [id, refused_only] {
            let mut early = claim(&format!("EARLY-{n}-{person}"), 900);
            early.admission_date = date!(2023 - 12 - 30);
            early.discharge_date = date!(2023 - 12 - 31);
            let mut req = request(&early, person);
            req.year = 2026;
            tasks.push(("refused", spawn(&store, req, engine_settlement(Arc::clone(&policy), early.clone(), Explain::Off))));
        }
        // A computation that panics, and a person nobody enrolled.
        let hard = claim(&format!("PANIC-{n}"), 900);
        let panics: SettleFn = Arc::new(|_: &Coverage, _: &Accumulators| panic!("a computation that fails hard (group commit test)"));
        tasks.push(("fails", spawn(&store, request(&hard, id), panics)));
        let stranger = NationalId::from_parts(region(EAST), date!(1980 - 01 - 01), 500 + n as u16).expect("id");
        let lost = claim(&format!("LOST-{n}"), 900);
        tasks.push((
            "not found",
            spawn(&store, request(&lost, stranger), engine_settlement(Arc::clone(&policy), lost.clone(), Explain::Off)),
        ));
    }
    let requests = tasks.len() as u64;
    let mut twice = Vec::new();
    for (expected, task) in tasks {
        let outcome = task.await.expect("task");
        match expected {
            "settles" => assert!(outcome.as_ref().is_ok_and(|o| !o.replayed), "{outcome:?}"),
            "twice" => twice.push(outcome.expect("settles or replays")),
            "refused" => assert!(matches!(outcome, Err(StoreError::Refused { .. })), "{outcome:?}"),
            "fails" => assert!(matches!(outcome, Err(StoreError::Backend(_))), "{outcome:?}"),
            _ => assert!(matches!(outcome, Err(StoreError::PersonNotFound(_))), "{outcome:?}"),
        }
    }
    assert_eq!(twice.iter().filter(|o| o.replayed).count(), CLAIMS_EACH, "one of each pair replays");
    for pair in twice.chunks(2) {
        assert_eq!(pair[0].claim, pair[1].claim, "the replay is the first settlement");
    }

    let (batches_after, requests_after) = store.writer_stats();
    assert_eq!(requests_after - requests_before, requests, "every settlement went through the writer");
    assert!(batches_after - batches_before < requests, "some settlements shared a transaction");
    assert_eq!(store.writer_fallbacks(), 0, "no batch had to be settled again one by one");

    let pool = sqlx::PgPool::connect(pg.url()).await.expect("raw connection");
    let mut settled = 0;
    for &(id, region_code, scheme) in &people {
        settled += assert_one_chain(&pool, &store, &policy, id, region_code, scheme, true).await;
    }
    assert_eq!(settled, usize::from(PEOPLE) * CLAIMS_EACH + CLAIMS_EACH);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accumulators WHERE person_id = $1")
        .bind(refused_only.as_str())
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 0, "a refused settlement writes nothing");
    let entries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'claim.settle'").fetch_one(&pool).await.expect("count");
    assert_eq!(entries as usize, settled, "one audit entry per settled claim, none for the others");
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_settling_the_same_claims_pay_each_once() {
    const CLAIMS: usize = 24;
    let pg = TestPostgres::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let (one, two) = (store(&pg).await, store(&pg).await);
    let policy = policy();
    let mut people = Vec::new();
    for serial in 1..=4 {
        people.push(enrolled(&one, EAST, serial, if serial % 2 == 0 { Scheme::Employee } else { Scheme::Resident }).await);
    }
    // Each claim is sent to both servers at once: their writers race for the claim keys.
    let mut tasks = Vec::new();
    for n in 0..CLAIMS {
        let c = claim(&format!("BOTH-{n}"), 600 + 100 * n as i64);
        let id = people[n % people.len()];
        for server in [&one, &two] {
            let (server, c, compute) = (Arc::clone(server), c.clone(), engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off));
            tasks.push((n, tokio::spawn(async move { server.settle(&clerk(), region(EAST), request(&c, id), compute).await })));
        }
    }
    let mut first = vec![0; CLAIMS];
    let mut answers: Vec<Option<SettleOutcome>> = vec![None; CLAIMS];
    for (n, task) in tasks {
        let outcome = task.await.expect("task").expect("settles or replays");
        if !outcome.replayed {
            first[n] += 1;
        }
        if let Some(other) = &answers[n] {
            assert_eq!(other.claim, outcome.claim, "both servers answer with the one settlement");
        }
        answers[n] = Some(outcome);
    }
    assert!(first.iter().all(|&count| count == 1), "each claim settled exactly once: {first:?}");
    let pool = sqlx::PgPool::connect(pg.url()).await.expect("raw connection");
    let mut settled = 0;
    for (p, &id) in people.iter().enumerate() {
        settled +=
            assert_one_chain(&pool, &one, &policy, id, EAST, if p % 2 == 1 { Scheme::Employee } else { Scheme::Resident }, true).await;
    }
    assert_eq!(settled, CLAIMS);
    assert_audit_intact(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_settlements_racing_other_writers_never_deadlock() {
    let pg = TestPostgres::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let store = store(&pg).await;
    let policy = policy();
    let mut people = Vec::new();
    for serial in 1..=4 {
        people.push(enrolled(&store, EAST, serial, Scheme::Employee).await);
    }
    let city = region("419900");
    let mut settles = Vec::new();
    let mut others = Vec::new();
    for n in 0..16 {
        // Settlements of every person (grouped by the writer, which locks several persons'
        // rows at once) ...
        for (p, &id) in people.iter().enumerate() {
            let c = claim(&format!("MIX-{p}-{n}"), 900 + 10 * n as i64);
            let (store, compute) = (Arc::clone(&store), engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off));
            settles.push(tokio::spawn(async move { store.settle(&clerk(), city, request(&c, id), compute).await }));
        }
        // ... with batches of contributions naming the same people in descending order (their
        // foreign keys take KEY SHARE locks on the persons' rows one after another) ...
        let (store_c, batch) = (
            Arc::clone(&store),
            people
                .iter()
                .rev()
                .map(|&id| NewContribution {
                    person_id: id,
                    kind: ContributionKind::Employee,
                    // Each round its own month: a month is paid once (contribution.overpaid).
                    period: yibao_domain::Period::Month(
                        2025 + i32::from(n >= 12),
                        time::Month::try_from(1 + (n % 12) as u8).expect("a month"),
                    ),
                    due_fen: yibao_domain::Fen::new(10_000),
                    paid_fen: yibao_domain::Fen::new(10_000),
                    breakdown_json: yibao_store_contract::employee_breakdown(7_000, 3_000, 0),
                })
                .collect::<Vec<_>>(),
        );
        others.push(tokio::spawn(async move { store_c.record_contributions(&clerk(), city, batch).await.map(|_| ()) }));
        // ... and tier changes, which lock a person's row and then the audit head.
        let (store_t, id) = (Arc::clone(&store), people[n % people.len()]);
        others.push(tokio::spawn(async move {
            let change = TierChange { requested_on: date!(2026 - 02 - 10), tier: Tier::new(1 + (n % 2) as u8).expect("tier") };
            store_t.edit_tiers(&clerk(), city, &id, change.into()).await.map(|_| ())
        }));
    }
    for task in settles {
        task.await.expect("task").expect("every settlement commits");
    }
    for task in others {
        task.await.expect("task").expect("every other write commits");
    }
    assert_eq!(store.writer_fallbacks(), 0, "no batch failed (a deadlock would have made it fall back)");
    let pool = sqlx::PgPool::connect(pg.url()).await.expect("raw connection");
    for &id in &people {
        // Tier changes changed the coverage meanwhile: the chain, not the amounts, is checked.
        assert_eq!(assert_one_chain(&pool, &store, &policy, id, EAST, Scheme::Employee, false).await, 16);
    }
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_server_is_durable_and_settles_the_same() {
    let pg = TestPostgres::start_durable().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let pool = sqlx::PgPool::connect(pg.url()).await.expect("raw connection");
    if pg.durability().is_some() {
        for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
            let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}"))).fetch_one(&pool).await.expect("show");
            assert_eq!(value, "on", "{setting}");
        }
    }
    let store = store(&pg).await;
    let policy = policy();
    let id = enrolled(&store, EAST, 1, Scheme::Employee).await;
    let mut tasks = Vec::new();
    for n in 0..12 {
        let c = claim(&format!("D-{n}"), 500 + 50 * n);
        let (store, compute) = (Arc::clone(&store), engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off));
        tasks.push(tokio::spawn(async move { store.settle(&clerk(), region(EAST), request(&c, id), compute).await }));
    }
    for task in tasks {
        task.await.expect("task").expect("settles");
    }
    assert_eq!(assert_one_chain(&pool, &store, &policy, id, EAST, Scheme::Employee, true).await, 12);
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_database_refuses_fails_alone() {
    const CLAIMS: usize = 24;
    let pg = TestPostgres::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let store = store(&pg).await;
    let policy = policy();
    let mut people = Vec::new();
    for serial in 1..=3 {
        people.push(enrolled(&store, EAST, serial, Scheme::Employee).await);
    }
    // Every sixth computation claims that the funds paid more than the bill, which the claims
    // table's CHECK refuses: the batch's one write statement fails, and the batch is settled
    // again request by request.
    let mut tasks = Vec::new();
    for n in 0..CLAIMS {
        let c = claim(&format!("CHECK-{n}"), 900 + 25 * n as i64);
        let id = people[n % people.len()];
        let engine = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
        let compute: SettleFn = if n % 6 == 5 {
            Arc::new(move |coverage: &Coverage, acc: &Accumulators| {
                let mut settlement = engine(coverage, acc)?;
                settlement.fund_pay_sumamt = settlement.medfee_sumamt + Fen::new(1);
                Ok(settlement)
            })
        } else {
            engine
        };
        let store = Arc::clone(&store);
        tasks.push((n, tokio::spawn(async move { store.settle(&clerk(), region(EAST), request(&c, id), compute).await })));
    }
    for (n, task) in tasks {
        let outcome = task.await.expect("task");
        if n % 6 == 5 {
            assert!(matches!(outcome, Err(StoreError::Backend(_))), "claim {n} is refused by the database: {outcome:?}");
        } else {
            assert!(outcome.as_ref().is_ok_and(|o| !o.replayed), "claim {n} settles: {outcome:?}");
        }
    }
    assert!(store.writer_fallbacks() >= 1, "the refused write made its batch fall back");
    let pool = sqlx::PgPool::connect(pg.url()).await.expect("raw connection");
    let mut settled = 0;
    for &id in &people {
        settled += assert_one_chain(&pool, &store, &policy, id, EAST, Scheme::Employee, true).await;
    }
    assert_eq!(settled, CLAIMS - CLAIMS / 6, "everything but the refused writes stands");
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM claim_keys").fetch_one(&pool).await.expect("count");
    assert_eq!(keys as usize, settled, "the refused writes left no claim key");
    assert_audit_intact(&store).await;
}
