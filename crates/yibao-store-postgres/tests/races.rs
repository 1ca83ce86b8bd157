//! Races the contract does not stage: identical requests at the same moment (the loser of
//! the unique key answers as a retry), enrolments of one person from two counties,
//! settlements that rewrite the coverage racing tier changes that rewrite it too,
//! contributions numbered at once in one region, an import racing enrolments of its own
//! people, and one username claimed at once.

use std::sync::Arc;

use time::macros::{date, datetime};
use yibao_domain::{Fen, NationalId, PersonCategory, RegionCode, Scheme, Tier};
use yibao_engine::{Claim, Coverage, Explain, TierChange, TierHistory};
use yibao_policy::Policy;
use yibao_store::{
    AccessStore, Actor, ContributionKind, ContributionStore, ImportHousehold, ImportStore, NewContribution, NewHousehold, NewPerson,
    NewStaff, PersonQuery, Role, SettleRequest, Store, StoreError, engine_settlement, verify_audit,
};
use yibao_store_postgres::PostgresStore;
use yibao_testpg::TestPostgres;

const EAST: &str = "419921";
const WEST: &str = "419922";
const RACERS: usize = 8;

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("test region")
}

fn clerk() -> Actor {
    Actor { who: "clerk".into(), role: "enrolment_clerk".into(), source: "127.0.0.1".into(), at: datetime!(2026-03-01 09:30 UTC) }
}

fn policy() -> Policy {
    Policy::from_toml("policies/demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("demo pack")
}

fn coverage(id: NationalId, region_code: &str, scheme: Scheme, account_fen: i64) -> Coverage {
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
        personal_account_balance: Fen::new(account_fen),
        use_personal_account: employee,
    }
}

async fn store() -> (TestPostgres, Arc<PostgresStore>) {
    let pg = TestPostgres::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let store = PostgresStore::connect(pg.url()).await.expect("connects");
    (pg, Arc::new(store))
}

async fn household(store: &PostgresStore, region_code: &str, id: &str) {
    let scope = region(region_code);
    let household =
        NewHousehold {
            household_id: yibao_domain::HouseholdId::parse(id).expect("an id"), region: scope, address: "幸福路 1 号".into()
        };
    store.create_household(&clerk(), scope, household).await.expect("household");
}

async fn enrolled(store: &PostgresStore, region_code: &str, serial: u16, scheme: Scheme, account_fen: i64) -> NationalId {
    let id = NationalId::from_parts(region(region_code), date!(1970 - 05 - 17), serial).expect("test id");
    let hh = format!("HH-{region_code}-{serial}");
    household(store, region_code, &hh).await;
    let person = NewPerson {
        name: yibao_domain::PersonName::parse(&format!("张{serial}")).expect("a name"),
        card_no: None,
        household_id: yibao_domain::HouseholdId::parse(&hh).expect("an id"),
        coverage: coverage(id, region_code, scheme, account_fen),
    };
    store.enrol(&clerk(), region(region_code), person).await.expect("enrol");
    id
}

fn claim(claim_id: &str, price_yuan: i64) -> Claim {
    claim_at("H41992100007", claim_id, price_yuan)
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

async fn assert_audit_intact(store: &PostgresStore) {
    let verification = verify_audit(store).await.expect("verify");
    assert!(verification.is_intact(), "{:?}", verification.breaks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_settlements_at_once_pay_once() {
    let (_pg, store) = store().await;
    let policy = Arc::new(policy());
    let id = enrolled(&store, EAST, 1, Scheme::Resident, 0).await;
    let c = claim("RACE-1", 5000);
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (store, policy, c) = (Arc::clone(&store), Arc::clone(&policy), c.clone());
        tasks.push(tokio::spawn(async move {
            let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
            store.settle(&clerk(), region(EAST), request(&c, id), compute).await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("settles or replays"));
    }
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1, "exactly one request settles; the others replay it");
    assert!(outcomes.iter().all(|o| o.claim == outcomes[0].claim), "every answer is the one settlement");
    let acc = store.accumulators(region(EAST), &id, 2026).await.expect("acc");
    assert_eq!(acc.admissions, 1, "paid once");
    assert_eq!(store.claims_of_person(region(EAST), &id).await.expect("history").len(), 1);
    let settles = store.audit_entries(region(EAST), 0, 1_000).await.expect("audit").iter().filter(|e| e.action == "claim.settle").count();
    assert_eq!(settles, 1);
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_claim_id_for_two_people_at_once_settles_one() {
    let (_pg, store) = store().await;
    let policy = Arc::new(policy());
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        // Different people (and so different accumulator rows, nothing to queue on but the
        // claim key) send the same claim id with different content.
        let id = enrolled(&store, EAST, 100 + n as u16, Scheme::Resident, 0).await;
        let c = claim("SHARED-ID", 1000 + n as i64);
        let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
        tasks.push(tokio::spawn(async move {
            let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
            (id, store.settle(&clerk(), region(EAST), request(&c, id), compute).await)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (id, Ok(outcome)) => {
                assert!(!outcome.replayed);
                winners.push(id);
            }
            (_, Err(StoreError::IdempotencyConflict { .. })) => {}
            (_, Err(e)) => panic!("a loser is told of the conflict: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "one claim id names one claim");
    for n in 0..RACERS {
        let id = NationalId::from_parts(region(EAST), date!(1970 - 05 - 17), 100 + n as u16).expect("id");
        let expected = usize::from(winners[0] == id);
        assert_eq!(store.claims_of_person(region(EAST), &id).await.expect("history").len(), expected);
        let acc = store.accumulators(region(EAST), &id, 2026).await.expect("acc");
        assert_eq!(acc.admissions as usize, expected, "a loser's accumulators are untouched");
    }
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_enrolled_from_two_counties_at_once_is_enrolled_once() {
    const PEOPLE: u16 = 4;
    let (_pg, store) = store().await;
    household(&store, EAST, "HH-E").await;
    household(&store, WEST, "HH-W").await;
    // Every person is enrolled by RACERS requests at once, half from each county.
    let mut tasks = Vec::new();
    for serial in 1..=PEOPLE {
        let id = NationalId::from_parts(region(EAST), date!(1980 - 01 - 01), serial).expect("id");
        for n in 0..RACERS {
            let (code, hh) = if n % 2 == 0 { (EAST, "HH-E") } else { (WEST, "HH-W") };
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let person = NewPerson {
                    name: yibao_domain::PersonName::parse("王五").expect("a name"),
                    card_no: None,
                    household_id: yibao_domain::HouseholdId::parse(hh).expect("an id"),
                    coverage: coverage(id, code, Scheme::Resident, 0),
                };
                (id, store.enrol(&clerk(), region(code), person).await)
            }));
        }
    }
    let mut enrolled = Vec::new();
    let mut refusals = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (_, Ok(record)) => enrolled.push(record),
            (id, Err(StoreError::AlreadyEnrolled { person, region, household })) => {
                assert_eq!(person, id.to_string());
                refusals.push((id, region, household));
            }
            (_, Err(e)) => panic!("a loser is told of the enrolment: {e}"),
        }
    }
    assert_eq!(enrolled.len(), usize::from(PEOPLE), "each person is enrolled once");
    for (id, region, household) in &refusals {
        let winner = enrolled.iter().find(|p| p.person_id == *id).expect("a winner");
        assert_eq!(
            (region, household),
            (&winner.coverage.region.to_string(), &winner.household_id.to_string()),
            "a refusal names the enrolment that won"
        );
    }
    // Households created at once: one is created, the others are told it exists.
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let household = NewHousehold {
                household_id: yibao_domain::HouseholdId::parse("HH-RACE").expect("an id"),
                region: region(WEST),
                address: "x".into(),
            };
            store.create_household(&clerk(), region(WEST), household).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => created += 1,
            Err(StoreError::HouseholdExists(_)) => {}
            Err(e) => panic!("a loser is told the household exists: {e}"),
        }
    }
    assert_eq!(created, 1);
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_in_one_region_chain_one_after_another() {
    const WRITES: usize = 64;
    let (_pg, store) = store().await;
    let mut tasks = Vec::new();
    for n in 0..WRITES {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let household = NewHousehold {
                household_id: yibao_domain::HouseholdId::parse(&format!("HH-{n}")).expect("an id"),
                region: region(EAST),
                address: "x".into(),
            };
            store.create_household(&clerk(), region(EAST), household).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("every write is chained, none collides");
    }
    let entries = store.audit_entries(region(EAST), 0, 1_000).await.expect("audit");
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=WRITES as i64).collect::<Vec<_>>());
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlements_and_tier_changes_at_once_lose_no_update() {
    const START_FEN: i64 = 10_000_000;
    let (_pg, store) = store().await;
    let policy = Arc::new(policy());
    let id = enrolled(&store, WEST, 1, Scheme::Employee, START_FEN).await;
    let claims: Vec<Claim> = (0..RACERS).map(|n| claim(&format!("ACCT-{n}"), 3000)).collect();
    let mut settles = Vec::new();
    let mut changes = Vec::new();
    for (n, c) in claims.iter().cloned().enumerate() {
        let (settler, policy) = (Arc::clone(&store), Arc::clone(&policy));
        settles.push(tokio::spawn(async move {
            let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
            settler.settle(&clerk(), region(WEST), request(&c, id), compute).await
        }));
        let changer = Arc::clone(&store);
        changes.push(tokio::spawn(async move {
            let change = TierChange { requested_on: date!(2026 - 02 - 10), tier: Tier::new(1 + (n % 2) as u8).expect("tier") };
            changer.edit_tiers(&clerk(), region(WEST), &id, change.into()).await
        }));
    }
    let mut account_paid = Fen::ZERO;
    for task in settles {
        let outcome = task.await.expect("task").expect("settles");
        let settlement: serde_json::Value = serde_json::from_str(&outcome.claim.settlement_json).expect("json");
        account_paid += Fen::parse_yuan(settlement["acct_pay"].as_str().expect("acct_pay")).expect("yuan");
    }
    for task in changes {
        task.await.expect("task").expect("tier change");
    }
    assert!(account_paid > Fen::ZERO, "the personal account paid part of the bills");
    let person = store.person(region(WEST), &id).await.expect("person");
    assert_eq!(person.coverage.personal_account_balance, Fen::new(START_FEN) - account_paid, "every account payment is kept");
    assert_eq!(person.coverage.tier_history.expect("tiers").changes.len(), RACERS, "every tier change is kept");
    // Reversing the latest settlement refunds its account payment on top of the rest.
    let latest = store.claims_of_person(region(WEST), &id).await.expect("history");
    let acc = store.accumulators(region(WEST), &id, 2026).await.expect("acc");
    assert_eq!(acc.admissions as usize, RACERS);
    let mut reversed = None;
    for claim in &latest {
        match store.reverse(&clerk(), region(WEST), &claim.institution_code, &claim.claim_id, "test").await {
            Ok(record) => {
                reversed = Some(record);
                break;
            }
            Err(StoreError::NotLatestClaim(_)) => {}
            Err(e) => panic!("reverse: {e}"),
        }
    }
    let reversed = reversed.expect("one claim is the latest");
    let settlement: serde_json::Value = serde_json::from_str(&reversed.settlement_json).expect("json");
    let refund = Fen::parse_yuan(settlement["acct_pay"].as_str().expect("acct_pay")).expect("yuan");
    let person = store.person(region(WEST), &id).await.expect("person");
    assert_eq!(person.coverage.personal_account_balance, Fen::new(START_FEN) - account_paid + refund);
    assert_audit_intact(&store).await;
}

fn contribution(person: NationalId, paid_fen: i64) -> NewContribution {
    NewContribution {
        person_id: person,
        kind: ContributionKind::Resident,
        period: yibao_domain::Period::Year(2026),
        due_fen: yibao_domain::Fen::new(40_000),
        paid_fen: yibao_domain::Fen::new(paid_fen),
        breakdown_json: yibao_store_contract::resident_breakdown(),
    }
}

/// The numbers of `region`'s contributions, in order.
async fn contribution_seqs(store: &PostgresStore, region_code: &str, people: &[NationalId]) -> Vec<i64> {
    let mut seqs = Vec::new();
    for person in people {
        seqs.extend(store.contributions_of(region(region_code), person).await.expect("list").iter().map(|c| c.seq));
    }
    seqs.sort_unstable();
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contributions_in_one_region_at_once_are_numbered_without_gaps() {
    const CONTRIBUTIONS: usize = 16;
    let (_pg, store) = store().await;
    let mut people = Vec::new();
    for serial in 1..=4 {
        people.push(enrolled(&store, EAST, serial, Scheme::Resident, 0).await);
    }
    // Tier changes of the same people at once: they lock the person's row, then the audit
    // head; a contribution's foreign key waits on that row lock. Nothing may deadlock.
    let mut changes = Vec::new();
    for n in 0..RACERS {
        let (store, id) = (Arc::clone(&store), people[n % people.len()]);
        changes.push(tokio::spawn(async move {
            let change = TierChange { requested_on: date!(2026 - 02 - 10), tier: Tier::new(2).expect("tier") };
            store.edit_tiers(&clerk(), region(EAST), &id, change.into()).await
        }));
    }
    let mut tasks = Vec::new();
    for n in 0..CONTRIBUTIONS {
        let (store, id) = (Arc::clone(&store), people[n % people.len()]);
        tasks
            .push(tokio::spawn(async move { store.record_contribution(&clerk(), region(EAST), contribution(id, 1_000 + n as i64)).await }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        let record = task.await.expect("task").expect("every contribution is recorded");
        assert_eq!(record.region, region(EAST));
        seqs.push(record.seq);
    }
    for task in changes {
        task.await.expect("task").expect("tier change");
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=CONTRIBUTIONS as i64).collect::<Vec<_>>(), "numbered 1..16, no gap, no duplicate");
    assert_eq!(contribution_seqs(&store, EAST, &people).await, seqs, "as stored");
    let entries = store.audit_entries(region(EAST), 0, 1_000).await.expect("audit");
    assert_eq!(entries.iter().filter(|e| e.action == "contribution.record").count(), CONTRIBUTIONS);
    // The next one, alone, follows on.
    let next = store.record_contribution(&clerk(), region(EAST), contribution(people[0], 0)).await.expect("next");
    assert_eq!(next.seq, CONTRIBUTIONS as i64 + 1);
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_spanning_two_counties_in_opposite_orders_all_commit() {
    let (_pg, store) = store().await;
    let (east, west) = (enrolled(&store, EAST, 1, Scheme::Resident, 0).await, enrolled(&store, WEST, 2, Scheme::Resident, 0).await);
    let city = region("419900");
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        // Half the batches list the east county's person first, half the west's.
        let (first, second) = if n % 2 == 0 { (east, west) } else { (west, east) };
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let batch = vec![contribution(first, 1), contribution(second, 2), contribution(first, 3), contribution(second, 4)];
            store.record_contributions(&clerk(), city, batch).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("every batch commits, none deadlocks"), 4);
    }
    let each = (1..=2 * RACERS as i64).collect::<Vec<_>>();
    assert_eq!(contribution_seqs(&store, EAST, &[east]).await, each);
    assert_eq!(contribution_seqs(&store, WEST, &[west]).await, each);
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_username_claimed_at_once_is_created_once() {
    let (_pg, store) = store().await;
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let staff = NewStaff {
                username: "east.clerk".into(),
                display_name: format!("经办员 {n}"),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                role: Role::EnrolmentClerk,
                region: region(EAST),
            };
            store.create_staff(&clerk(), staff).await
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(record) => created.push(record),
            Err(StoreError::Exists(_)) => {}
            Err(e) => panic!("a loser is told the account exists: {e}"),
        }
    }
    assert_eq!(created.len(), 1, "one username names one account");
    assert_eq!(store.staff("east.clerk").await.expect("read"), Some(created[0].clone()), "the winner's account is the one kept");
    let entries = store.audit_entries(region(EAST), 0, 1_000).await.expect("audit");
    assert_eq!(entries.iter().filter(|e| e.action == "staff.create").count(), 1);
    assert_audit_intact(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_racing_enrolments_of_its_people_enrols_each_once() {
    const ROUNDS: u16 = 4;
    const HOUSEHOLDS: u16 = 4;
    let (_pg, store) = store().await;
    household(&store, EAST, "HH-E").await;
    for round in 0..ROUNDS {
        let id = |h: u16, m: u16| NationalId::from_parts(region(EAST), date!(1990 - 01 - 01), 100 * (round + 1) + h * 2 + m).expect("id");
        let batch: Vec<ImportHousehold> = (0..HOUSEHOLDS)
            .map(|h| ImportHousehold {
                household: NewHousehold {
                    household_id: yibao_domain::HouseholdId::parse(&format!("HH-IMP-{round}-{h}")).expect("an id"),
                    region: region(EAST),
                    address: "x".into(),
                },
                members: (0..2)
                    .map(|m| NewPerson {
                        name: yibao_domain::PersonName::parse("导入").expect("a name"),
                        card_no: None,
                        household_id: yibao_domain::HouseholdId::parse(&format!("HH-IMP-{round}-{h}")).expect("an id"),
                        coverage: coverage(id(h, m), EAST, Scheme::Resident, 0),
                    })
                    .collect(),
            })
            .collect();
        let importer = Arc::clone(&store);
        let import = tokio::spawn(async move { importer.import(&clerk(), region(EAST), batch).await });
        // The same people enrolled one by one at the same moment, last first.
        let mut enrolments = Vec::new();
        for h in (0..HOUSEHOLDS).rev() {
            for m in (0..2).rev() {
                let store = Arc::clone(&store);
                let person = NewPerson {
                    name: yibao_domain::PersonName::parse("单录").expect("a name"),
                    card_no: None,
                    household_id: yibao_domain::HouseholdId::parse("HH-E").expect("an id"),
                    coverage: coverage(id(h, m), EAST, Scheme::Resident, 0),
                };
                enrolments.push(tokio::spawn(async move { store.enrol(&clerk(), region(EAST), person).await }));
            }
        }
        let imported = match import.await.expect("task") {
            Ok(summary) => {
                assert_eq!((summary.households, summary.persons), (usize::from(HOUSEHOLDS), 2 * usize::from(HOUSEHOLDS)));
                true
            }
            Err(StoreError::AlreadyEnrolled { .. }) => false,
            Err(e) => panic!("an import that loses a race is told of the enrolment: {e}"),
        };
        let mut enrolled = 0;
        for task in enrolments {
            match task.await.expect("task") {
                Ok(_) => enrolled += 1,
                Err(StoreError::AlreadyEnrolled { .. }) => {}
                Err(e) => panic!("an enrolment that loses a race is told of the import: {e}"),
            }
        }
        assert_eq!(enrolled, if imported { 0 } else { 2 * HOUSEHOLDS }, "the import is whole or absent");
        for h in 0..HOUSEHOLDS {
            for m in 0..2 {
                let query = PersonQuery { person_id: Some(id(h, m)), ..PersonQuery::default() };
                assert_eq!(
                    store.search_persons(region(EAST), &query).await.expect("search").persons.len(),
                    1,
                    "each person is enrolled once"
                );
            }
        }
    }
    assert_audit_intact(&store).await;
}

/// The books under concurrent writers (issue 17, `one-lock-order`): settlements and
/// contributions of two counties post while the city's pooling runs of three months and
/// an interest credit run. Each run locks the whole city's accounts before it posts, and
/// every posting locks its accounts in the one order, so every writer commits (none is a
/// deadlock victim) and the books verify afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postings_racing_the_citys_runs_all_commit() {
    use yibao_ledger::YearMonth;
    use yibao_store::FundStore;
    let (_pg, store) = store().await;
    let policy = Arc::new(policy());
    let city = region("419900");
    let (accountant, people) = funded_city(&store, date!(2026 - 01 - 01)).await;
    let mut writers = Vec::new();
    for n in 0..RACERS {
        let (store, policy, person) = (Arc::clone(&store), Arc::clone(&policy), people[n % 2]);
        let county = if n % 2 == 0 { EAST } else { WEST };
        writers.push(tokio::spawn(async move {
            for round in 0_i64..4 {
                let c = claim(&format!("BOOKS-{n}-{round}"), 500 + 10 * round);
                let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
                store.settle(&clerk(), region(county), request(&c, person), compute).await.map(|_| ())?;
                store.record_contributions(&clerk(), city, vec![contribution(person, 1_000)]).await.map(|_| ())?;
            }
            Ok::<_, yibao_store::StoreError>(())
        }));
    }
    let runs = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for month in ["2026-01", "2026-02", "2026-03"] {
                let month = YearMonth::parse(month).expect("month");
                store.run_pooling(&accountant, city, month, month.last_day(), Vec::new()).await.map(|_| ())?;
            }
            store
                .credit_interest(
                    &accountant,
                    city,
                    date!(2026 - 01 - 01),
                    date!(2026 - 03 - 31),
                    yibao_domain::RatioBp::new(150),
                    yibao_domain::Rounding::HalfUp,
                )
                .await
                .map(|_| ())
        })
    };
    for writer in writers {
        writer.await.expect("task").expect("every settlement and contribution commits");
    }
    runs.await.expect("task").expect("every run commits");
    let books = yibao_store::verify_books(store.as_ref()).await.expect("verify books");
    assert!(books.breaches.is_empty() && books.transfers > 0, "{books:?}");
    assert_audit_intact(&store).await;
}

/// A one-day stay of 5 March 2026 at `institution`, priced `price_yuan`.
fn claim_at(institution: &str, claim_id: &str, price_yuan: i64) -> Claim {
    let json = format!(
        r#"{{"claim_id":"{claim_id}","institution_code":"{institution}","institution_level":"tertiary","kind":"inpatient",
        "admission_date":"2026-03-05","discharge_date":"2026-03-05","diagnosis":"I21.000","referral":true,
        "lines":[{{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":"{price_yuan}.00"}}]}}"#
    );
    serde_json::from_str(&json).expect("test claim")
}

/// The city's funds opened on `opened_on` with enough to pay what the races settle, and a
/// resident of each county: the accountant and the two persons.
async fn funded_city(store: &PostgresStore, opened_on: time::Date) -> (Actor, [NationalId; 2]) {
    use yibao_ledger::FundScheme;
    use yibao_store::{FundReceipt, FundStore, ReceiptKind};
    let city = region("419900");
    let accountant =
        Actor { who: "accountant".into(), role: "fund_accountant".into(), source: "test".into(), at: datetime!(2026-11-01 09:30 UTC) };
    for scheme in [FundScheme::Resident, FundScheme::ResidentCriticalIllness, FundScheme::Supplementary, FundScheme::MedicalAssistance] {
        let opening = FundReceipt {
            kind: ReceiptKind::OpeningBalance,
            scheme,
            unit: city,
            amount_fen: Fen::new(100_000_000),
            value_date: opened_on,
            reference: format!("OB-{}", scheme.as_str()),
        };
        store.record_fund_receipt(&accountant, city, opening).await.expect("opening balance");
    }
    (accountant, [enrolled(store, EAST, 1, Scheme::Resident, 0).await, enrolled(store, WEST, 2, Scheme::Resident, 0).await])
}

/// Issue 17's running outstanding, as a hostile review raced it: settlements dated after
/// every run's value date, each at an institution never seen (its payable account is new,
/// so the run's city lock does not hold it back), racing the city's pooling runs. Nothing
/// is outstanding on any run's value date, so no run may record a payment or an "owed
/// back" line: one that did read the running outstanding before a settlement committed and
/// the later transfers after (two statements at READ COMMITTED; now one).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settlements_of_new_payees_racing_runs_are_never_in_them() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use yibao_ledger::YearMonth;
    use yibao_store::FundStore;
    let (_pg, store) = store().await;
    let policy = Arc::new(policy());
    let city = region("419900");
    let (accountant, people) = funded_city(&store, date!(2020 - 01 - 01)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for n in 0..RACERS {
        let (store, policy, person, stop) = (Arc::clone(&store), Arc::clone(&policy), people[n % 2], Arc::clone(&stop));
        let county = if n % 2 == 0 { EAST } else { WEST };
        writers.push(tokio::spawn(async move {
            let mut round = 0_i64;
            while !stop.load(Ordering::Relaxed) {
                let institution = format!("H4199{:07}", n as i64 * 100_000 + round);
                let c = claim_at(&institution, &format!("NEW-{n}-{round}"), 500);
                let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
                let mut req = request(&c, person);
                req.institution_code = yibao_domain::InstitutionCode::parse(&institution).expect("code");
                store.settle(&clerk(), region(county), req, compute).await.map(|_| ())?;
                round += 1;
            }
            Ok::<_, yibao_store::StoreError>(round)
        }));
    }
    let mut bad = Vec::new();
    let mut runs = 0;
    for year in 2014..=2025 {
        for m in 1..=12u8 {
            let month = YearMonth::new(year, m).expect("month");
            match store.run_pooling(&accountant, city, month, month.last_day(), Vec::new()).await {
                Ok(outcome) => {
                    runs += 1;
                    for fund in &outcome.run.funds {
                        for unit in &fund.units {
                            if !unit.owed_back.is_empty() || !unit.payments.is_empty() {
                                bad.push(format!(
                                    "{month} {} {}: payments {:?} owed back {:?}",
                                    fund.fund, unit.unit, unit.payments, unit.owed_back
                                ));
                            }
                        }
                    }
                }
                Err(e) => bad.push(format!("{month}: run refused: {e}")),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut settled = 0;
    for writer in writers {
        settled += writer.await.expect("task").expect("settlements commit");
    }
    assert!(runs == 144 && settled > 0, "{runs} runs, {settled} settlements");
    let books = yibao_store::verify_books(store.as_ref()).await.expect("verify books");
    assert!(books.breaches.is_empty(), "{books:?}");
    assert!(bad.is_empty(), "{bad:#?}");
}
