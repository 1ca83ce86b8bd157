//! The contract every backend passes, run by each backend's tests against a fresh
//! database (SQLite file, throwaway PostgreSQL server). The settlements are computed by the
//! real engine under the demo city's pack.

use std::sync::Arc;

use time::macros::{date, datetime};
use yibao_domain::{Fen, NationalId, PersonCategory, RatioBp, RegionCode, Scheme, Tier};
use yibao_engine::{Accumulators, Claim, Coverage, Explain, TierChange, TierHistory, settle};
use yibao_policy::Policy;

use yibao_store::{
    Actor, ClaimStatus, NewHousehold, NewPerson, PersonQuery, SettleRequest, Store, StoreError, engine_settlement, verify_audit,
};

const DEMO_POLICY: &str = include_str!("../../../policies/demo-city.toml");
const CITY: &str = "419900";
const EAST: &str = "419921";
const WEST: &str = "419922";

fn period(text: &str) -> yibao_domain::Period {
    yibao_domain::Period::parse(text).expect("test period")
}

fn hh(id: &str) -> yibao_domain::HouseholdId {
    yibao_domain::HouseholdId::parse(id).expect("a test household id")
}

fn pn(name: &str) -> yibao_domain::PersonName {
    yibao_domain::PersonName::parse(name).expect("a test name")
}

fn ic(code: &str) -> yibao_domain::InstitutionCode {
    yibao_domain::InstitutionCode::parse(code).expect("a test institution code")
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("test region")
}

fn clerk(region_code: &str) -> Actor {
    Actor {
        who: format!("clerk-{region_code}"),
        role: "enrolment_clerk".into(),
        source: "127.0.0.1".into(),
        at: datetime!(2026-03-01 09:30 UTC),
    }
}

fn person_id(region_code: &str, serial: u16) -> NationalId {
    NationalId::from_parts(region(region_code), date!(1970 - 05 - 17), serial).expect("test id")
}

fn coverage(id: NationalId, region_code: &str) -> Coverage {
    Coverage {
        person_id: id,
        region: region(region_code),
        scheme: Scheme::Resident,
        category: PersonCategory::Resident,
        coverage_from: date!(2024 - 01 - 01),
        coverage_until: None,
        tier_history: Some(TierHistory { initial: Tier::new(3).expect("tier"), since: date!(2024 - 01 - 01), changes: Vec::new() }),
        assistance_group: None,
        supplementary: false,
        maternity: false,
        civil_servant: false,
        enterprise_supplementary: false,
        certified_chronic_diseases: Vec::new(),
        personal_account_balance: Fen::ZERO,
        use_personal_account: false,
    }
}

async fn enrolled<S: Store>(store: &S, region_code: &str, serial: u16, household: &str) -> NationalId {
    let id = person_id(region_code, serial);
    let scope = region(region_code);
    match store
        .create_household(
            &clerk(region_code),
            scope,
            NewHousehold { household_id: hh(household), region: scope, address: "幸福路 1 号".into() },
        )
        .await
    {
        Ok(_) | Err(StoreError::HouseholdExists(_)) => {}
        Err(e) => panic!("create household: {e}"),
    }
    let person = NewPerson {
        name: pn(&format!("张{serial}")),
        card_no: Some(format!("C{region_code}{serial:05}")),
        household_id: hh(household),
        coverage: coverage(id, region_code),
    };
    store.enrol(&clerk(region_code), scope, person).await.expect("enrol");
    id
}

fn claim(claim_id: &str, price_yuan: i64, day: u8) -> Claim {
    let json = format!(
        r#"{{"claim_id":"{claim_id}","institution_code":"H41992100007","institution_level":"tertiary","kind":"inpatient",
        "admission_date":"2026-03-{day:02}","discharge_date":"2026-03-{day:02}","diagnosis":"I21.000","referral":true,
        "lines":[{{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":"{price_yuan}.00"}}]}}"#
    );
    serde_json::from_str(&json).expect("test claim")
}

fn request(claim: &Claim, person: NationalId) -> SettleRequest {
    SettleRequest {
        institution_code: ic(&claim.institution_code),
        claim_id: claim.claim_id.clone(),
        person_id: person,
        year: claim.admission_date.year(),
        service_date: claim.admission_date,
        claim_json: serde_json::to_string(claim).expect("json"),
        flags: Vec::new(),
    }
}

/// A resident's 2026 contribution as the engine computes it: 400.00 personal, and
/// subsidies of 300.00 central, 100.00 provincial, 50.00 city and 50.00 county.
#[must_use]
pub fn resident_breakdown() -> String {
    let yuan = |y: i64| Fen::new(y * 100);
    serde_json::to_string(&yibao_engine::ResidentContribution {
        personal: yuan(400),
        civil_affairs: Fen::ZERO,
        central: yuan(300),
        provincial: yuan(100),
        city: yuan(50),
        county: yuan(50),
        total: yuan(900),
    })
    .expect("json")
}

/// An employee's monthly contribution as the engine computes it, with nothing for the
/// personal account unless `to_account_fen` says so.
#[must_use]
pub fn employee_breakdown(employer_fen: i64, employee_fen: i64, to_account_fen: i64) -> String {
    serde_json::to_string(&yibao_engine::EmployeeContribution {
        base: Fen::ZERO,
        employer: Fen::new(employer_fen),
        employee: Fen::new(employee_fen),
        to_account: Fen::new(to_account_fen),
        to_pool: Fen::new(employer_fen + employee_fen - to_account_fen),
    })
    .expect("json")
}

fn policy() -> Arc<Policy> {
    Arc::new(policy_value())
}

fn policy_value() -> Policy {
    Policy::from_toml("policies/demo-city.toml", DEMO_POLICY).expect("demo pack")
}

/// Runs every case; panics naming the first that fails.
pub async fn run<S: Store>(store: Arc<S>) {
    enrolment_and_search(&*store).await;
    double_enrolment_is_refused(&*store).await;
    a_county_sees_only_itself(&*store).await;
    settlement_is_idempotent(&*store).await;
    a_refused_settlement_writes_nothing(&*store).await;
    reversal_restores_the_accumulators(&*store).await;
    tier_changes_and_end_of_coverage(&*store).await;
    concurrent_settlements_never_share_a_deductible(Arc::clone(&store)).await;
    failures_among_concurrent_settlements_touch_only_themselves(Arc::clone(&store)).await;
    the_audit_chain_is_intact(&*store).await;
}

async fn enrolment_and_search<S: Store>(store: &S) {
    let id = enrolled(store, EAST, 1, "HH-EAST-1").await;
    let found = store.person(region(EAST), &id).await.expect("read back");
    assert_eq!((found.name.as_str(), found.household_id.as_str()), ("张1", "HH-EAST-1"));
    assert_eq!(found.coverage, coverage(id, EAST));
    for query in [
        PersonQuery { person_id: Some(id), ..PersonQuery::default() },
        PersonQuery { name_prefix: Some("张1".into()), ..PersonQuery::default() },
        PersonQuery { card_no: Some(format!("C{EAST}00001")), ..PersonQuery::default() },
        PersonQuery { household_id: Some("HH-EAST-1".into()), ..PersonQuery::default() },
    ] {
        let hits = store.search_persons(region(EAST), &query).await.expect("search");
        assert!(hits.persons.iter().any(|p| p.person_id == id), "search {query:?} finds the person");
    }
    let missing = store.person(region(EAST), &person_id(EAST, 999)).await;
    assert!(matches!(missing, Err(StoreError::PersonNotFound(_))), "{missing:?}");
}

async fn double_enrolment_is_refused<S: Store>(store: &S) {
    let id = enrolled(store, EAST, 2, "HH-EAST-2").await;
    // The same person again, from another county: refused, naming the first enrolment.
    store
        .create_household(
            &clerk(WEST),
            region(WEST),
            NewHousehold { household_id: hh("HH-WEST-2"), region: region(WEST), address: "x".into() },
        )
        .await
        .expect("household");
    let again = NewPerson { name: pn("张2"), card_no: None, household_id: hh("HH-WEST-2"), coverage: coverage(id, WEST) };
    match store.enrol(&clerk(WEST), region(WEST), again).await {
        Err(e @ StoreError::AlreadyEnrolled { .. }) => {
            assert_eq!(e.code(), "person.already_enrolled");
            assert!(e.to_string().contains(EAST) && e.to_string().contains("HH-EAST-2"), "{e}");
        }
        other => panic!("a second enrolment must be refused: {other:?}"),
    }
    let in_west = store
        .search_persons(region(WEST), &PersonQuery { household_id: Some("HH-WEST-2".into()), ..PersonQuery::default() })
        .await
        .expect("search");
    assert!(in_west.persons.is_empty(), "nothing was written for the refused enrolment");
    // A person in a household that does not exist is refused.
    let orphan = NewPerson { name: pn("李"), card_no: None, household_id: hh("HH-NONE"), coverage: coverage(person_id(WEST, 3), WEST) };
    assert!(matches!(store.enrol(&clerk(WEST), region(WEST), orphan).await, Err(StoreError::HouseholdNotFound(_))));
}

async fn a_county_sees_only_itself<S: Store>(store: &S) {
    let id = enrolled(store, EAST, 4, "HH-EAST-4").await;
    let denied = store.person(region(WEST), &id).await;
    assert!(matches!(denied, Err(StoreError::PersonNotFound(_))), "a county cannot read another county's person: {denied:?}");
    assert!(store.person(region(CITY), &id).await.is_ok(), "the city sees every county");
    let hits = store.search_persons(region(WEST), &PersonQuery { person_id: Some(id), ..PersonQuery::default() }).await.expect("search");
    assert!(hits.persons.is_empty(), "search never crosses the scope");
    // Enrolling into a county outside one's scope is refused.
    let outside = NewPerson { name: pn("王"), card_no: None, household_id: hh("HH-EAST-4"), coverage: coverage(person_id(EAST, 5), EAST) };
    assert!(matches!(store.enrol(&clerk(WEST), region(WEST), outside).await, Err(StoreError::OutsideRegion { .. })));
}

async fn settlement_is_idempotent<S: Store>(store: &S) {
    let policy = policy();
    let id = enrolled(store, EAST, 10, "HH-EAST-10").await;
    let c = claim("IDEMP-1", 5000, 2);
    let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::On);
    let first = store.settle(&clerk(EAST), region(EAST), request(&c, id), compute.clone()).await.expect("settles");
    assert!(!first.replayed);
    let again = store.settle(&clerk(EAST), region(EAST), request(&c, id), compute.clone()).await.expect("replays");
    assert!(again.replayed, "a retry is a replay");
    assert_eq!(again.claim.settlement_json, first.claim.settlement_json, "a retry returns the first settlement");
    let acc = store.accumulators(region(EAST), &id, 2026).await.expect("accumulators");
    assert_eq!(acc.admissions, 1, "the retry did not count twice");
    assert_eq!(first.claim.fund_pay_fen, acc.pooled_paid);
    // Same claim id, different content: refused.
    let changed = claim("IDEMP-1", 6000, 2);
    let conflict = store.settle(&clerk(EAST), region(EAST), request(&changed, id), compute.clone()).await;
    assert!(matches!(conflict, Err(StoreError::IdempotencyConflict { .. })), "{conflict:?}");
    let history = store.claims_of_person(region(EAST), &id).await.expect("history");
    assert_eq!(history.len(), 1);
    assert!(history[0].settlement_json.contains("\"explanation\""), "the claim keeps its explanation");
}

async fn a_refused_settlement_writes_nothing<S: Store>(store: &S) {
    let policy = policy();
    let id = enrolled(store, EAST, 11, "HH-EAST-11").await;
    let before = store.audit_entries(region(EAST), 0, 100_000).await.expect("audit").len();
    // A stay before the pack's first day is refused by the engine.
    let mut early = claim("EARLY-1", 500, 2);
    early.admission_date = date!(2023 - 12 - 30);
    early.discharge_date = date!(2023 - 12 - 31);
    let compute = engine_settlement(Arc::clone(&policy), early.clone(), Explain::Off);
    let mut req = request(&early, id);
    req.year = 2023;
    match store.settle(&clerk(EAST), region(EAST), req, compute.clone()).await {
        Err(e @ StoreError::Refused { .. }) => assert_eq!(e.code(), "settle.before_policy"),
        other => panic!("expected a refusal: {other:?}"),
    }
    assert!(store.claims_of_person(region(EAST), &id).await.expect("history").is_empty());
    assert_eq!(store.accumulators(region(EAST), &id, 2023).await.expect("acc"), Accumulators::new_year(2023));
    assert_eq!(store.audit_entries(region(EAST), 0, 100_000).await.expect("audit").len(), before, "no audit entry for a refusal");
    // Another county's person cannot be settled from this county.
    let other = enrolled(store, WEST, 12, "HH-WEST-12").await;
    let c = claim("SCOPE-1", 500, 2);
    let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
    assert!(matches!(
        store.settle(&clerk(EAST), region(EAST), request(&c, other), compute.clone()).await,
        Err(StoreError::PersonNotFound(_))
    ));
}

async fn reversal_restores_the_accumulators<S: Store>(store: &S) {
    let policy = policy();
    let id = enrolled(store, EAST, 20, "HH-EAST-20").await;
    let (a, b) = (claim("REV-A", 4000, 3), claim("REV-B", 7000, 9));
    for c in [&a, &b] {
        let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
        store.settle(&clerk(EAST), region(EAST), request(c, id), compute.clone()).await.expect("settles");
    }
    let after_a_only = {
        let compute = engine_settlement(Arc::clone(&policy), a.clone(), Explain::Off);
        compute(&coverage(id, EAST), &Accumulators::new_year(2026)).expect("a alone").accumulators
    };
    // A is not the latest: refused.
    assert!(matches!(
        store.reverse(&clerk(EAST), region(EAST), "H41992100007", "REV-A", "wrong patient").await,
        Err(StoreError::NotLatestClaim(_))
    ));
    let reversed = store.reverse(&clerk(EAST), region(EAST), "H41992100007", "REV-B", "billing error").await.expect("reverse B");
    assert_eq!(reversed.status, ClaimStatus::Reversed);
    assert_eq!(reversed.reversal_reason.as_deref(), Some("billing error"));
    assert_eq!(store.accumulators(region(EAST), &id, 2026).await.expect("acc"), after_a_only, "B's counters are undone exactly");
    assert!(matches!(
        store.reverse(&clerk(EAST), region(EAST), "H41992100007", "REV-B", "again").await,
        Err(StoreError::AlreadyReversed(_))
    ));
    // Now A is the latest live claim and may be reversed; the year is back to zero.
    store.reverse(&clerk(EAST), region(EAST), "H41992100007", "REV-A", "test").await.expect("reverse A");
    assert_eq!(store.accumulators(region(EAST), &id, 2026).await.expect("acc"), Accumulators::new_year(2026));
    assert!(matches!(store.reverse(&clerk(EAST), region(EAST), "H41992100007", "NOPE", "x").await, Err(StoreError::ClaimNotFound { .. })));
}

async fn tier_changes_and_end_of_coverage<S: Store>(store: &S) {
    let id = enrolled(store, WEST, 30, "HH-WEST-30").await;
    let change = TierChange { requested_on: date!(2026 - 02 - 10), tier: Tier::new(2).expect("tier") };
    let person = store.edit_tiers(&clerk(WEST), region(WEST), &id, change.into()).await.expect("tier change");
    assert_eq!(person.coverage.tier_history.as_ref().map(|h| h.changes.clone()), Some(vec![change]));
    let earlier = TierChange { requested_on: date!(2026 - 01 - 10), tier: Tier::new(4).expect("tier") };
    let refused = store.edit_tiers(&clerk(WEST), region(WEST), &id, earlier.into()).await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))), "a change dated before the last one is refused: {refused:?}");
    let ended = store.end_coverage(&clerk(WEST), region(WEST), &id, date!(2026 - 06 - 30)).await.expect("end");
    assert_eq!(ended.coverage.coverage_until, Some(date!(2026 - 06 - 30)));
    let before_start = store.end_coverage(&clerk(WEST), region(WEST), &id, date!(2023 - 01 - 01)).await;
    assert!(matches!(before_start, Err(StoreError::Invalid(_))), "{before_start:?}");
}

async fn concurrent_settlements_never_share_a_deductible<S: Store>(store: Arc<S>) {
    const CLAIMS: usize = 16;
    let policy = policy();
    let id = enrolled(&*store, EAST, 40, "HH-EAST-40").await;
    // Each stay on a day of its own: stays of one person on one day overlap (`claim.overlapping_stay`).
    let claims: Vec<Claim> = (0..CLAIMS).map(|n| claim(&format!("CONC-{n}"), 3000, u8::try_from(n + 1).expect("a day"))).collect();
    let mut tasks = Vec::new();
    for c in claims.clone() {
        let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
        tasks.push(tokio::spawn(async move {
            let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
            store.settle(&clerk(EAST), region(EAST), request(&c, id), compute.clone()).await
        }));
    }
    let mut fund_total = 0;
    for task in tasks {
        fund_total += task.await.expect("task").expect("settles").claim.fund_pay_fen.get();
    }
    // The same claims one by one, in memory.
    let mut acc = Accumulators::new_year(2026);
    for c in &claims {
        acc = settle(&policy, c, &coverage(id, EAST), &acc, Explain::Off).expect("settles").accumulators;
    }
    let stored = store.accumulators(region(EAST), &id, 2026).await.expect("acc");
    assert_eq!(stored, acc, "the year's totals equal the claims settled one by one");
    // Sixteen stays cross the critical-illness threshold: the funds paid are the pooled
    // fund's and critical illness's together.
    assert!(stored.critical_paid > Fen::ZERO, "the year reached critical illness");
    assert_eq!(Fen::new(fund_total), stored.pooled_paid + stored.critical_paid + stored.assistance_paid + stored.supplementary_paid);
    assert_eq!(store.claims_of_person(region(EAST), &id).await.expect("history").len(), CLAIMS);
}

/// Settlements arriving together may be written together (SQLite group-commits them in one
/// transaction): a refused one, one for an unknown person and one whose computation panics
/// must each leave no trace, and the others must all stand.
async fn failures_among_concurrent_settlements_touch_only_themselves<S: Store>(store: Arc<S>) {
    const ROUNDS: usize = 6;
    let policy = policy();
    let id = enrolled(&*store, EAST, 60, "HH-EAST-60").await;
    let audit_before = store.audit_entries(region(EAST), 0, 100_000).await.expect("audit").len();
    let mut tasks = Vec::new();
    for n in 0..ROUNDS * 4 {
        let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
        tasks.push((
            n,
            tokio::spawn(async move {
                // The good claims each on a day of their own (one person's stays do not overlap).
                let mut c = claim(&format!("MIX-{n}"), 2500, u8::try_from(1 + n / 4).expect("a day"));
                let mut person = id;
                let compute: yibao_store::SettleFn = match n % 4 {
                    0 => engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off),
                    1 => {
                        // Before the pack's first day: the engine refuses.
                        c.admission_date = date!(2023 - 12 - 30);
                        c.discharge_date = date!(2023 - 12 - 31);
                        engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off)
                    }
                    2 => Arc::new(|_: &Coverage, _: &Accumulators| panic!("a computation that fails hard (contract test)")),
                    _ => {
                        person = person_id(EAST, 998);
                        engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off)
                    }
                };
                let mut req = request(&c, person);
                req.year = 2026;
                store.settle(&clerk(EAST), region(EAST), req, compute).await
            }),
        ));
    }
    let mut settled = 0;
    for (n, task) in tasks {
        let outcome = task.await;
        if n % 4 == 0 {
            assert!(outcome.as_ref().is_ok_and(Result::is_ok), "claim {n} settles: {outcome:?}");
            settled += 1;
        } else {
            assert!(!outcome.as_ref().is_ok_and(Result::is_ok), "claim {n} must fail: {outcome:?}");
        }
    }
    assert_eq!(settled, ROUNDS);
    let history = store.claims_of_person(region(EAST), &id).await.expect("history");
    assert_eq!(history.len(), ROUNDS, "only the good claims were written");
    assert!(history.iter().all(|c| c.claim_id.strip_prefix("MIX-").and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n % 4 == 0)));
    let mut acc = Accumulators::new_year(2026);
    for _ in 0..ROUNDS {
        acc = settle(&policy, &claim("MIX-0", 2500, 12), &coverage(id, EAST), &acc, Explain::Off).expect("settles").accumulators;
    }
    assert_eq!(store.accumulators(region(EAST), &id, 2026).await.expect("acc"), acc, "the good claims count, the others do not");
    let audit_after = store.audit_entries(region(EAST), 0, 100_000).await.expect("audit").len();
    assert_eq!(audit_after - audit_before, ROUNDS, "one audit entry per written claim and none for the failures");
}

async fn the_audit_chain_is_intact<S: Store>(store: &S) {
    let verification = verify_audit(store).await.expect("verify");
    assert!(verification.is_intact(), "{:?}", verification.breaks);
    assert!(verification.entries >= 20, "every write is audited: {} entries", verification.entries);
    let east = store.audit_entries(region(EAST), 0, 100_000).await.expect("audit");
    assert!(
        east.iter().any(|e| e.action == "claim.settle")
            && east.iter().any(|e| e.action == "claim.reverse")
            && east.iter().any(|e| e.action == "person.enrol")
    );
    assert!(east.iter().all(|e| e.actor == "clerk-419921" && e.source == "127.0.0.1"));
}

/// The contract of [`yibao_store::AccessStore`] and [`yibao_store::ContributionStore`].
pub async fn run_access_and_contributions<S: Store + yibao_store::AccessStore + yibao_store::ContributionStore>(store: Arc<S>) {
    staff_sessions_and_institutions(&*store).await;
    staff_and_institutions_are_managed_within_scope(&*store).await;
    contributions_and_arrears(&*store).await;
}

async fn staff_sessions_and_institutions<S: Store + yibao_store::AccessStore>(store: &S) {
    use yibao_store::{NewInstitution, NewStaff, Role, SignInOutcome, SignInReason, SignInRefusal};
    let admin = clerk(CITY);
    let staff = NewStaff {
        username: "east.clerk".into(),
        display_name: "东县经办员".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::EnrolmentClerk,
        region: region(EAST),
    };
    let created = store.create_staff(&admin, staff.clone()).await.expect("staff");
    assert_eq!((created.role, created.region, created.active), (Role::EnrolmentClerk, region(EAST), true));
    assert!(matches!(store.create_staff(&admin, staff).await, Err(StoreError::Exists(_))), "a username is unique");
    let bad = NewStaff {
        username: "bad name".into(),
        display_name: "x".into(),
        password_hash: "x".into(),
        role: Role::Auditor,
        region: region(EAST),
    };
    assert!(matches!(store.create_staff(&admin, bad).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.staff("east.clerk").await.expect("read").map(|s| s.password_hash.starts_with("$argon2id$")), Some(true));
    assert_eq!(store.staff("nobody").await.expect("read"), None);

    let expires = datetime!(2026-03-01 17:30 UTC);
    store.create_session(&admin, "token-hash-1", "east.clerk", expires).await.expect("session");
    let session = store.session("token-hash-1").await.expect("read").expect("exists");
    assert_eq!(
        (session.username.as_str(), session.role, session.region, session.expires_at, session.revoked, session.active),
        ("east.clerk", Role::EnrolmentClerk, region(EAST), expires, false, true)
    );
    store.revoke_session(&admin, "token-hash-1").await.expect("revoke");
    assert!(store.session("token-hash-1").await.expect("read").expect("exists").revoked, "revocation takes effect at once");
    assert_eq!(store.session("unknown").await.expect("read"), None);
    assert!(store.create_session(&admin, "token-hash-2", "nobody", expires).await.is_err(), "no session for an unknown account");

    // A refused sign-in is an audit entry of the region given, naming the username as
    // typed and why, never the password; text a stranger typed is bounded.
    let stranger = Actor { who: "anonymous".into(), role: "anonymous".into(), source: "api".into(), at: datetime!(2026-03-01 09:00 UTC) };
    let refusal = SignInRefusal {
        outcome: SignInOutcome::Locked,
        username: "east.clerk".into(),
        reason: SignInReason::WrongPassword,
        failures: 10,
        until: Some(datetime!(2026-03-01 09:15 UTC)),
        address: Some("192.0.2.7".into()),
    };
    let before = store.audit_entries(region(EAST), 0, 10_000).await.expect("trail").len();
    store.record_sign_in_refusal(&stranger, region(EAST), refusal.clone()).await.expect("recorded");
    let trail = store.audit_entries(region(EAST), 0, 10_000).await.expect("trail");
    assert_eq!(trail.len(), before + 1);
    let entry = trail.last().expect("the refusal");
    assert_eq!((entry.action.as_str(), entry.entity.as_str(), entry.actor.as_str()), ("auth.locked", "east.clerk", "anonymous"));
    let detail: serde_json::Value = serde_json::from_str(&entry.detail).expect("json");
    assert_eq!(
        detail,
        serde_json::json!({"username": "east.clerk", "reason": "wrong_password", "failures": 10, "until": "2026-03-01T09:15:00Z", "address": "192.0.2.7"})
    );
    let long = SignInRefusal { username: "x".repeat(65), ..refusal.clone() };
    assert!(matches!(store.record_sign_in_refusal(&stranger, region(EAST), long).await, Err(StoreError::Invalid(_))), "bounded");
    let control = SignInRefusal { username: "east\nclerk".into(), ..refusal };
    assert!(matches!(store.record_sign_in_refusal(&stranger, region(EAST), control).await, Err(StoreError::Invalid(_))), "printable");
    assert_eq!(store.audit_entries(region(EAST), 0, 10_000).await.expect("trail").len(), before + 1, "a refused record writes nothing");

    let hospital = NewInstitution {
        code: ic("H41992100007"),
        name: "东县人民医院".into(),
        region: region(EAST),
        level: yibao_domain::InstitutionLevel::Secondary,
        api_key_hash: "key-hash-east".into(),
    };
    store.create_institution(&admin, hospital.clone()).await.expect("institution");
    assert!(matches!(store.create_institution(&admin, hospital).await, Err(StoreError::Exists(_))));
    // A malformed code cannot reach the store: `InstitutionCode` is checked when parsed.
    assert_eq!(
        store.institution_by_key("key-hash-east").await.expect("read").map(|i| i.code.into_string()),
        Some("H41992100007".to_owned())
    );
    assert_eq!(store.institution_by_key("wrong").await.expect("read"), None);
    assert_eq!(store.institutions(region(EAST)).await.expect("list").len(), 1);
    assert!(store.institutions(region(WEST)).await.expect("list").is_empty(), "a county lists only its own institutions");
    // A township health centre is a level of its own (issue 13; migrations 9 and 10).
    let centre = NewInstitution {
        code: ic("H41992100031"),
        name: "东县城关镇卫生院".into(),
        region: region(EAST),
        level: yibao_domain::InstitutionLevel::Township,
        api_key_hash: "key-hash-township".into(),
    };
    store.create_institution(&admin, centre).await.expect("a township centre");
    assert_eq!(
        store.institution_by_key("key-hash-township").await.expect("read").map(|i| i.level),
        Some(yibao_domain::InstitutionLevel::Township)
    );
}

/// An administrator manages accounts and institutions of their own region only; deactivating
/// an account, moving it or giving it a new password ends its sessions at once.
async fn staff_and_institutions_are_managed_within_scope<S: Store + yibao_store::AccessStore>(store: &S) {
    use yibao_store::{InstitutionUpdate, NewStaff, Role, StaffUpdate};
    let admin = clerk(CITY);
    let staff = NewStaff {
        username: "west.officer".into(),
        display_name: "西县审核员".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b2xk".into(),
        role: Role::ClaimsOfficer,
        region: region(WEST),
    };
    store.create_staff(&admin, staff).await.expect("staff");
    let expires = datetime!(2026-03-01 17:30 UTC);
    store.create_session(&admin, "west-token", "west.officer", expires).await.expect("session");
    // Listing is scoped.
    let in_west: Vec<String> = store.staff_in(region(WEST)).await.expect("list").into_iter().map(|s| s.username).collect();
    assert!(in_west.contains(&"west.officer".to_owned()) && !in_west.contains(&"east.clerk".to_owned()), "{in_west:?}");
    assert!(store.staff_in(region(CITY)).await.expect("list").iter().any(|s| s.username == "east.clerk"), "the city sees all");
    // A county administrator cannot touch another county's account, nor move one out.
    let renamed = StaffUpdate { display_name: Some("改名".into()), ..StaffUpdate::default() };
    let denied = store.update_staff(&clerk(EAST), region(EAST), "west.officer", renamed.clone()).await;
    assert!(matches!(denied, Err(StoreError::StaffNotFound(_))), "{denied:?}");
    let moved_out = StaffUpdate { region: Some(region(EAST)), ..StaffUpdate::default() };
    assert!(matches!(
        store.update_staff(&clerk(WEST), region(WEST), "west.officer", moved_out).await,
        Err(StoreError::OutsideRegion { .. })
    ));
    assert!(matches!(store.update_staff(&admin, region(CITY), "west.officer", StaffUpdate::default()).await, Err(StoreError::Invalid(_))));
    // A rename keeps the session; a new password ends it.
    let record = store.update_staff(&admin, region(CITY), "west.officer", renamed).await.expect("rename");
    assert_eq!(record.display_name, "改名");
    assert!(!store.session("west-token").await.expect("read").expect("exists").revoked, "a rename ends no session");
    let new_password = StaffUpdate { password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3".into()), ..StaffUpdate::default() };
    store.update_staff(&admin, region(CITY), "west.officer", new_password).await.expect("password");
    assert!(store.session("west-token").await.expect("read").expect("exists").revoked, "a new password ends every session");
    assert!(store.staff("west.officer").await.expect("read").is_some_and(|s| s.password_hash.ends_with("bmV3")));
    store.create_session(&admin, "west-token-2", "west.officer", expires).await.expect("session");
    let deactivate = StaffUpdate { active: Some(false), ..StaffUpdate::default() };
    let record = store.update_staff(&admin, region(CITY), "west.officer", deactivate).await.expect("deactivate");
    assert!(!record.active);
    let session = store.session("west-token-2").await.expect("read").expect("exists");
    assert!(session.revoked && !session.active, "a deactivated account's sessions end");
    assert!(store.create_session(&admin, "west-token-3", "west.officer", expires).await.is_err(), "no new session either");
    let audit = store.audit_entries(region(WEST), 0, 100_000).await.expect("audit");
    let updates: Vec<&str> = audit.iter().filter(|e| e.action == "staff.update").map(|e| e.detail.as_str()).collect();
    assert_eq!(updates.len(), 3);
    assert!(updates.iter().all(|d| !d.contains("argon2")), "the audit never holds a password hash: {updates:?}");

    // Institutions: a new key replaces the old one at once; deactivation is audited.
    let rotate = InstitutionUpdate { api_key_hash: Some("key-hash-east-2".into()), ..InstitutionUpdate::default() };
    let denied = store.update_institution(&clerk(WEST), region(WEST), "H41992100007", rotate.clone()).await;
    assert!(matches!(denied, Err(StoreError::InstitutionNotFound(_))), "{denied:?}");
    store.update_institution(&admin, region(CITY), "H41992100007", rotate).await.expect("rotate");
    assert_eq!(store.institution_by_key("key-hash-east").await.expect("read"), None, "the old key stops working");
    assert!(store.institution_by_key("key-hash-east-2").await.expect("read").is_some_and(|i| i.active));
    let off = InstitutionUpdate { active: Some(false), ..InstitutionUpdate::default() };
    let record = store.update_institution(&clerk(EAST), region(EAST), "H41992100007", off).await.expect("deactivate");
    assert!(!record.active);
    assert!(store.institution_by_key("key-hash-east-2").await.expect("read").is_some_and(|i| !i.active));
    let on = InstitutionUpdate { active: Some(true), ..InstitutionUpdate::default() };
    store.update_institution(&admin, region(CITY), "H41992100007", on).await.expect("reactivate");

    // A change of level needs the day it applies from; the register answers for any date.
    let before = store.institution_by_key("key-hash-east-2").await.expect("read").expect("exists");
    let undated = InstitutionUpdate { level: Some(yibao_domain::InstitutionLevel::Primary), ..InstitutionUpdate::default() };
    assert!(matches!(store.update_institution(&admin, region(CITY), "H41992100007", undated).await, Err(StoreError::Invalid(_))));
    let other = if before.level == yibao_domain::InstitutionLevel::Tertiary {
        yibao_domain::InstitutionLevel::Secondary
    } else {
        yibao_domain::InstitutionLevel::Tertiary
    };
    let upgrade = InstitutionUpdate { level: Some(other), level_from: Some(date!(2026 - 06 - 01)), ..InstitutionUpdate::default() };
    let changed = store.update_institution(&admin, region(CITY), "H41992100007", upgrade).await.expect("change level");
    assert_eq!(changed.level_changes.len(), 1);
    let stored = store.institution_by_key("key-hash-east-2").await.expect("read").expect("exists");
    assert_eq!(stored, changed, "the register keeps the change");
    assert_eq!(stored.level_on(date!(2026 - 05 - 31)), before.level, "the day before, the old level");
    assert_eq!(stored.level_on(date!(2026 - 06 - 01)), other, "from the day on, the new one");
    let earlier = InstitutionUpdate { level: Some(before.level), level_from: Some(date!(2026 - 05 - 01)), ..InstitutionUpdate::default() };
    assert!(matches!(store.update_institution(&admin, region(CITY), "H41992100007", earlier).await, Err(StoreError::Invalid(_))));
    let back = InstitutionUpdate { level: Some(before.level), level_from: Some(date!(2026 - 07 - 01)), ..InstitutionUpdate::default() };
    let restored = store.update_institution(&admin, region(CITY), "H41992100007", back).await.expect("change back");
    assert_eq!((restored.level, restored.level_on(date!(2026 - 06 - 15))), (before.level, other));
}

async fn contributions_and_arrears<S: Store + yibao_store::ContributionStore>(store: &S) {
    use yibao_store::{ContributionKind, NewContribution};
    let a = enrolled(store, EAST, 50, "HH-EAST-50").await;
    let b = enrolled(store, EAST, 51, "HH-EAST-50").await;
    let c = enrolled(store, WEST, 52, "HH-WEST-52").await;
    let record = |person, due, paid| NewContribution {
        person_id: person,
        kind: ContributionKind::Resident,
        period: period("2026"),
        due_fen: Fen::new(due),
        paid_fen: Fen::new(paid),
        breakdown_json: resident_breakdown(),
    };
    store.record_contribution(&clerk(EAST), region(EAST), record(a, 40_000, 40_000)).await.expect("a pays in full");
    store.record_contribution(&clerk(EAST), region(EAST), record(b, 40_000, 10_000)).await.expect("b pays part");
    store.record_contribution(&clerk(EAST), region(EAST), record(b, 40_000, 5_000)).await.expect("b pays more");
    store.record_contribution(&clerk(WEST), region(WEST), record(c, 40_000, 0)).await.expect("c owes all");
    assert!(
        matches!(store.record_contribution(&clerk(WEST), region(WEST), record(a, 1, 1)).await, Err(StoreError::PersonNotFound(_))),
        "scope"
    );
    // A period is typed (`Period`), so a malformed one cannot reach the store; a negative
    // amount can, and is refused.
    let mut bad = record(a, 1, 1);
    bad.paid_fen = Fen::new(-1);
    assert!(matches!(store.record_contribution(&clerk(EAST), region(EAST), bad).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.contributions_of(region(EAST), &b).await.expect("list").len(), 2);
    let (persons, counties) = store.arrears(region(CITY), "2026", 200).await.expect("arrears");
    let owed: Vec<(NationalId, i64)> = persons.iter().map(|p| (p.person_id, p.owed_fen.get())).collect();
    assert!(owed.contains(&(b, 25_000)) && owed.contains(&(c, 40_000)) && !owed.iter().any(|(p, _)| *p == a), "{owed:?}");
    let east = counties.iter().find(|c| c.region == region(EAST)).expect("east county");
    assert_eq!((east.persons, east.owed_fen), (1, Fen::new(25_000)));
    let (west_only, _) = store.arrears(region(WEST), "2026", 200).await.expect("arrears");
    assert!(west_only.iter().all(|p| p.region == region(WEST)), "a county sees only its own arrears");
    // A read of fewer lines keeps the counties' totals over all of them.
    let (first, totals) = store.arrears(region(CITY), "2026", 1).await.expect("arrears");
    assert_eq!((first.len(), totals), (1, counties), "the limit cuts the persons' lines, never the totals");
}

/// The contract of [`yibao_store::ImportStore`]: a batch is imported whole or not at all.
pub async fn run_import<S: Store + yibao_store::ImportStore>(store: Arc<S>) {
    use yibao_store::{ImportHousehold, NewHousehold};
    let household = |n: u16| ImportHousehold {
        household: NewHousehold { household_id: hh(&format!("HH-IMP-{n}")), region: region(WEST), address: "x".into() },
        members: (0..2)
            .map(|m| NewPerson {
                name: pn(&format!("导{n}-{m}")),
                card_no: None,
                household_id: hh(&format!("HH-IMP-{n}")),
                coverage: coverage(person_id(WEST, 600 + n * 2 + m), WEST),
            })
            .collect(),
    };
    let summary = store.import(&clerk(WEST), region(WEST), (0..3).map(household).collect()).await.expect("imports");
    assert_eq!((summary.households, summary.persons), (3, 6));
    assert_eq!(
        store
            .search_persons(region(WEST), &PersonQuery { name_prefix: Some("导".into()), ..PersonQuery::default() })
            .await
            .expect("search")
            .persons
            .len(),
        6
    );
    // A batch whose last member is already enrolled: refused whole.
    let mut batch: Vec<ImportHousehold> = (10..13).map(household).collect();
    batch[2].members[1].coverage = coverage(person_id(WEST, 600), WEST);
    let refused = store.import(&clerk(WEST), region(WEST), batch).await;
    assert!(matches!(refused, Err(StoreError::AlreadyEnrolled { .. })), "{refused:?}");
    let found = store
        .search_persons(region(WEST), &PersonQuery { household_id: Some("HH-IMP-10".into()), ..PersonQuery::default() })
        .await
        .expect("search");
    assert!(found.persons.is_empty(), "nothing of the refused batch was written");
    // Outside the scope: refused.
    let outside = store.import(&clerk(EAST), region(EAST), vec![household(20)]).await;
    assert!(matches!(outside, Err(StoreError::OutsideRegion { .. })), "{outside:?}");
}

/// Bulk contributions are recorded whole or not at all.
pub async fn run_bulk_contributions<S: Store + yibao_store::ContributionStore>(store: Arc<S>) {
    use yibao_store::{ContributionKind, NewContribution};
    let a = enrolled(&*store, EAST, 70, "HH-EAST-70").await;
    let record = |person, paid| NewContribution {
        person_id: person,
        kind: ContributionKind::Resident,
        period: period("2025"),
        due_fen: Fen::new(40_000),
        paid_fen: Fen::new(paid),
        breakdown_json: resident_breakdown(),
    };
    assert_eq!(store.record_contributions(&clerk(EAST), region(EAST), vec![record(a, 40_000), record(a, 0)]).await.expect("batch"), 2);
    // A batch with a person outside the scope: refused whole.
    let refused = store.record_contributions(&clerk(EAST), region(EAST), vec![record(a, 0), record(person_id(WEST, 998), 1)]).await;
    assert!(matches!(refused, Err(StoreError::PersonNotFound(_))), "{refused:?}");
    assert_eq!(store.contributions_of(region(EAST), &a).await.expect("list").len(), 2, "nothing of the refused batch was written");
}

/// Name search treats `%`, `_` and `\` as themselves.
pub async fn run_search_escaping<S: Store>(store: Arc<S>) {
    let scope = region(WEST);
    store
        .create_household(&clerk(WEST), scope, NewHousehold { household_id: hh("HH-ESC"), region: scope, address: "x".into() })
        .await
        .expect("household");
    for (serial, name) in [(801, "王_明"), (802, "王小明"), (803, "100%李")] {
        let person =
            NewPerson { name: pn(name), card_no: None, household_id: hh("HH-ESC"), coverage: coverage(person_id(WEST, serial), WEST) };
        store.enrol(&clerk(WEST), scope, person).await.expect("enrol");
    }
    let names = |hits: yibao_store::PersonPage| hits.persons.into_iter().map(|p| p.name).collect::<Vec<_>>();
    let underscore =
        store.search_persons(scope, &PersonQuery { name_prefix: Some("王_".into()), ..PersonQuery::default() }).await.expect("search");
    assert_eq!(names(underscore), vec!["王_明".to_owned()], "'_' matches itself, not any character");
    let percent =
        store.search_persons(scope, &PersonQuery { name_prefix: Some("100%".into()), ..PersonQuery::default() }).await.expect("search");
    assert_eq!(names(percent), vec!["100%李".to_owned()]);
    // A search is paged, with how many match in all (issue 12: never cut silently).
    let household =
        |offset: u32, limit: Option<u32>| PersonQuery { household_id: Some("HH-ESC".into()), offset, limit, ..PersonQuery::default() };
    let all = store.search_persons(scope, &household(0, None)).await.expect("search");
    assert!(all.total >= 2 && all.persons.len() as u64 == all.total, "{all:?}");
    let second = store.search_persons(scope, &household(1, Some(1))).await.expect("page");
    assert_eq!((second.total, second.offset, second.persons.len()), (all.total, 1, 1));
    assert_eq!(second.persons[0], all.persons[1], "the pages follow one order");
    let beyond = store.search_persons(scope, &household(1_000, Some(10))).await.expect("past the end");
    assert_eq!((beyond.total, beyond.persons.len()), (all.total, 0));
}

/// A person's details are updated in one audited write; outside the scope, invalid or
/// empty updates change nothing.
pub async fn run_person_update<S: Store>(store: Arc<S>) {
    use yibao_domain::AssistanceGroup;
    use yibao_store::PersonUpdate;
    let store = &*store;
    let id = enrolled(store, EAST, 900, "HH-EAST-900").await;
    let update = PersonUpdate {
        name: Some(pn("李九百")),
        card_no: Some(Some("C-NEW-900".into())),
        assistance_group: Some(Some(AssistanceGroup::Dibao)),
        certified_chronic_diseases: Some(vec!["I10".into(), "E11.9".into()]),
        ..PersonUpdate::default()
    };
    let updated = store.update_person(&clerk(EAST), region(EAST), &id, update).await.expect("update");
    let read = store.person(region(EAST), &id).await.expect("read back");
    assert_eq!(read, updated, "the returned record is the stored one");
    assert_eq!((read.name.as_str(), read.card_no.as_deref()), ("李九百", Some("C-NEW-900")));
    assert_eq!(read.coverage.assistance_group, Some(AssistanceGroup::Dibao));
    assert_eq!(read.coverage.certified_chronic_diseases, vec!["I10".to_owned(), "E11.9".to_owned()]);
    assert_eq!(read.household_id, "HH-EAST-900");
    assert_eq!(read.coverage.tier_history, coverage(id, EAST).tier_history, "what was not asked for is unchanged");
    let audit = store.audit_entries(region(EAST), 0, 100_000).await.expect("audit");
    let entry = audit.iter().rev().find(|e| e.action == "person.update" && e.entity == id.as_str()).expect("audited");
    let detail: serde_json::Value = serde_json::from_str(&entry.detail).expect("detail is JSON");
    assert_eq!(detail["name"]["old"], "张900");
    assert_eq!(detail["name"]["new"], "李九百");
    assert!(detail.get("supplementary").is_none(), "only what changed is recorded: {detail}");
    // Another county's clerk: not found, nothing changed.
    let outside =
        store.update_person(&clerk(WEST), region(WEST), &id, PersonUpdate { name: Some(pn("王")), ..PersonUpdate::default() }).await;
    assert!(matches!(outside, Err(StoreError::PersonNotFound(_))), "{outside:?}");
    // An invalid code beside a valid change: refused, nothing changed. (An invalid name
    // cannot reach the store: `PersonName` is checked when parsed.)
    for invalid in [PersonUpdate { maternity: Some(true), certified_chronic_diseases: Some(vec!["i10".into()]), ..PersonUpdate::default() }]
    {
        let refused = store.update_person(&clerk(EAST), region(EAST), &id, invalid).await;
        assert!(matches!(refused, Err(StoreError::Invalid(_))), "{refused:?}");
    }
    // Nothing to change: an empty update, or one that repeats the stored values.
    for empty in [PersonUpdate::default(), PersonUpdate { name: Some(pn("李九百")), ..PersonUpdate::default() }] {
        let refused = store.update_person(&clerk(EAST), region(EAST), &id, empty).await;
        assert!(matches!(&refused, Err(StoreError::Invalid(m)) if m == "nothing to change"), "{refused:?}");
    }
    assert_eq!(store.person(region(EAST), &id).await.expect("read back"), read, "refused updates changed nothing");
    let after = store.audit_entries(region(EAST), 0, 100_000).await.expect("audit");
    assert_eq!(after.len(), audit.len(), "refused updates wrote no audit entry");
    // Clearing the card and the group.
    let cleared = store
        .update_person(
            &clerk(EAST),
            region(EAST),
            &id,
            PersonUpdate { card_no: Some(None), assistance_group: Some(None), ..PersonUpdate::default() },
        )
        .await
        .expect("clear");
    assert_eq!((cleared.card_no, cleared.coverage.assistance_group), (None, None));
    // A card number names one person of the county (issue 12): another person enrolled or
    // updated with it is refused, and so is a card number no card has.
    let card = |card: &str| PersonUpdate { card_no: Some(Some(card.to_owned())), ..PersonUpdate::default() };
    store.update_person(&clerk(EAST), region(EAST), &id, card("C-NEW-900")).await.expect("the card again");
    let other = person_id(EAST, 901);
    let taken = NewPerson {
        name: pn("赵九零一"),
        card_no: Some("C-NEW-900".into()),
        household_id: hh("HH-EAST-900"),
        coverage: coverage(other, EAST),
    };
    let refused = store.enrol(&clerk(EAST), region(EAST), taken.clone()).await;
    assert!(matches!(&refused, Err(e) if e.code() == "person.card_taken"), "{refused:?}");
    store.enrol(&clerk(EAST), region(EAST), NewPerson { card_no: Some("C-NEW-901".into()), ..taken }).await.expect("another card");
    let refused = store.update_person(&clerk(EAST), region(EAST), &other, card("C-NEW-900")).await;
    assert!(matches!(&refused, Err(e) if e.code() == "person.card_taken"), "{refused:?}");
    let refused = store.update_person(&clerk(EAST), region(EAST), &other, card(&"9".repeat(100_000))).await;
    assert!(matches!(&refused, Err(e) if e.code() == "person.bad_card_no"), "{refused:?}");
    let trimmed = store.update_person(&clerk(EAST), region(EAST), &other, card(" C-NEW-902 ")).await.expect("trimmed");
    assert_eq!(trimmed.card_no.as_deref(), Some("C-NEW-902"));
}

/// The fund books post with the business (R-FND-1, R-FND-2, R-SCH-2). County 419923 is used
/// by this case only, so its amounts are exact whatever ran before. Worked by hand:
/// - a resident pays 400.00 in full and brings 500.00 of subsidies (300 central, 100
///   provincial, 50 city, 50 county): the county's resident income account holds 900.00;
/// - an employee enrolled with 500.00 in their personal account pays 800.00 (employer
///   600.00, employee 200.00), of which 260.00 goes to the account: the employee income
///   account holds 800.00, the account 760.00 (and the coverage says so too);
/// - the resident's claim of 10,000.00 is settled: the hospital is owed what the layers pay,
///   each in its own fund;
/// - the March run sweeps 900.00 and 800.00 to the special accounts, and pays the hospital;
/// - the claim is reversed after it was paid: the hospital owes it back, and April pays it
///   nothing.
pub async fn run_books<S: Store + yibao_store::ContributionStore + yibao_store::FundStore>(store: Arc<S>) {
    use yibao_ledger::{AccountKind, FundScheme, Holder, YearMonth};
    use yibao_store::{ContributionKind, NewContribution};
    const SOUTH: &str = "419923";
    let south = region(SOUTH);
    let city = region(CITY);
    let accountant =
        Actor { who: "accountant".into(), role: "fund_accountant".into(), source: "127.0.0.1".into(), at: datetime!(2026-04-01 09:00 UTC) };

    let resident = enrolled(&*store, SOUTH, 1, "HH-SOUTH-1").await;
    let employee = person_id(SOUTH, 2);
    let mut cover = coverage(employee, SOUTH);
    cover.scheme = Scheme::Employee;
    cover.category = PersonCategory::Employed;
    cover.personal_account_balance = Fen::new(50_000);
    cover.use_personal_account = true;
    let new_person = NewPerson { name: pn("李二"), card_no: None, household_id: hh("HH-SOUTH-1"), coverage: cover };
    store.enrol(&clerk(SOUTH), south, new_person).await.expect("employee enrols");

    let contribution = |person, kind, due_fen, paid_fen, breakdown_json| NewContribution {
        person_id: person,
        kind,
        period: period("2026"),
        due_fen: Fen::new(due_fen),
        paid_fen: Fen::new(paid_fen),
        breakdown_json,
    };
    store
        .record_contribution(&clerk(SOUTH), south, contribution(resident, ContributionKind::Resident, 40_000, 40_000, resident_breakdown()))
        .await
        .expect("resident pays");
    let employee_breakdown = serde_json::to_string(&yibao_engine::EmployeeContribution {
        base: Fen::new(1_000_000),
        employer: Fen::new(60_000),
        employee: Fen::new(20_000),
        to_account: Fen::new(26_000),
        to_pool: Fen::new(54_000),
    })
    .expect("json");
    store
        .record_contribution(&clerk(SOUTH), south, contribution(employee, ContributionKind::Employee, 80_000, 80_000, employee_breakdown))
        .await
        .expect("employee pays");
    let stored = store.person(south, &employee).await.expect("employee");
    assert_eq!(stored.coverage.personal_account_balance, Fen::new(76_000), "500.00 + 260.00");
    // The employer's maternity contribution for a month (issue 13): into the maternity fund.
    let maternity_breakdown =
        serde_json::to_string(&yibao_engine::MaternityContribution { base: Fen::new(800_000), employer: Fen::new(4_000) }).expect("json");
    let maternity = NewContribution {
        period: period("2026-03"),
        ..contribution(employee, ContributionKind::Maternity, 4_000, 4_000, maternity_breakdown)
    };
    store.record_contribution(&clerk(SOUTH), south, maternity).await.expect("the employer pays maternity insurance");

    let balance = |accounts: &[yibao_ledger::AccountState], scheme: FundScheme, holder: Holder, kind: AccountKind| {
        accounts
            .iter()
            .find(|a| a.key() == yibao_ledger::AccountKey::new(yibao_ledger::Fund::new(scheme, city), holder, kind))
            .map(|a| a.balance_fen())
    };
    let accounts = store.fund_accounts(city).await.expect("accounts");
    assert_eq!(balance(&accounts, FundScheme::Resident, Holder::Region(south), AccountKind::Income), Some(Fen::new(90_000)));
    assert_eq!(balance(&accounts, FundScheme::Employee, Holder::Region(south), AccountKind::Income), Some(Fen::new(80_000)));
    assert_eq!(balance(&accounts, FundScheme::Employee, Holder::Person(employee), AccountKind::PersonalAccount), Some(Fen::new(76_000)));
    assert_eq!(balance(&accounts, FundScheme::Maternity, Holder::Region(south), AccountKind::Income), Some(Fen::new(4_000)));
    // The county's finance paid its 50.00 (central finance's account is the whole city's).
    assert_eq!(balance(&accounts, FundScheme::Resident, Holder::Finance(south), AccountKind::External), Some(Fen::new(5_000)));

    // A hospital of this county, which no other case uses.
    let mut c = claim("BOOKS-1", 10_000, 10);
    c.institution_code = "H41992300001".into();
    let settled = store
        .settle(&clerk(SOUTH), south, request(&c, resident), engine_settlement(policy(), c.clone(), Explain::Off))
        .await
        .expect("settles");
    let settlement: serde_json::Value = serde_json::from_str(&settled.claim.settlement_json).expect("json");
    let field = |name: &str| settlement[name].as_str().map_or(0, |y| Fen::parse_yuan(y).expect("yuan").get());
    let (pooled, critical) = (field("hifp_pay"), field("hifmi_pay"));
    assert!(pooled > 0, "the pooled fund pays part of a 10,000.00 admission");
    let hospital = Holder::institution("H41992300001").expect("code");
    let accounts = store.fund_accounts(city).await.expect("accounts");
    assert_eq!(balance(&accounts, FundScheme::Resident, hospital, AccountKind::Payable), Some(Fen::new(pooled)));
    assert_eq!(
        balance(&accounts, FundScheme::ResidentCriticalIllness, hospital, AccountKind::Payable).unwrap_or(Fen::ZERO),
        Fen::new(critical)
    );

    // Pooling is the city's: a county clerk may not run it.
    let march = YearMonth::parse("2026-03").expect("month");
    let refused = store.run_pooling(&accountant, south, march, march.last_day(), Vec::new()).await;
    assert!(matches!(refused, Err(StoreError::OutsideRegion { .. })), "{refused:?}");
    // The other cases' claims cost the city's resident fund more than their counties
    // collected: the fund's balance brought in from before covers them (R-SYS-3).
    let opening = |scheme| yibao_store::FundReceipt {
        kind: yibao_store::ReceiptKind::OpeningBalance,
        scheme,
        unit: city,
        amount_fen: Fen::new(100_000_000),
        value_date: date!(2026 - 01 - 01),
        reference: "OB-2026".into(),
    };
    let refused = store.record_fund_receipt(&clerk(SOUTH), south, opening(FundScheme::Resident)).await;
    assert!(matches!(refused, Err(StoreError::OutsideRegion { .. })), "{refused:?}");
    for scheme in FundScheme::ALL.into_iter().filter(|s| *s != FundScheme::MunicipalAdjustment) {
        store.record_fund_receipt(&accountant, city, opening(scheme)).await.expect("opening balance");
    }
    let receipts =
        async || store.audit_entries(city, 0, 10_000).await.expect("audit").iter().filter(|e| e.action == "fund.receipt").count();
    let booked = receipts().await;
    store.record_fund_receipt(&accountant, city, opening(FundScheme::Resident)).await.expect("booking it again is a replay");
    assert_eq!(receipts().await, booked, "a replay writes no second audit entry");
    let accounts = store.fund_accounts(city).await.expect("accounts");
    assert_eq!(balance(&accounts, FundScheme::Resident, Holder::Region(city), AccountKind::External), Some(Fen::new(100_000_000)), "once");
    let preview = store.preview_pooling(city, march, march.last_day(), Vec::new()).await.expect("the preview");
    let first = store.run_pooling(&accountant, city, march, march.last_day(), Vec::new()).await.expect("the March run");
    assert!(first.ran_now);
    assert_eq!(preview.run, first.run, "the preview shows what the run then did");
    let resident_run = first.run.funds.iter().find(|f| f.fund == "resident@419900").expect("the resident fund ran");
    let south_run = resident_run.units.iter().find(|u| u.unit == SOUTH).expect("the county ran");
    assert_eq!((south_run.swept_fen, south_run.disbursed_fen), (90_000, pooled));
    assert_eq!(south_run.payments, [yibao_store::pooling::Payment { payee: hospital.to_string(), amount_fen: pooled }]);
    let again = store.run_pooling(&accountant, city, march, march.last_day(), Vec::new()).await.expect("run again");
    assert!(!again.ran_now && again.run == first.run, "a month runs once");
    let accounts = store.fund_accounts(city).await.expect("accounts");
    assert_eq!(balance(&accounts, FundScheme::Resident, Holder::Region(south), AccountKind::Income), Some(Fen::ZERO));
    assert_eq!(balance(&accounts, FundScheme::Resident, hospital, AccountKind::Payable), Some(Fen::ZERO), "paid in full");
    assert_eq!(balance(&accounts, FundScheme::Resident, Holder::Region(south), AccountKind::Expenditure), Some(Fen::ZERO), "paid on");

    // Reversed after payment: the hospital owes the money back; April pays it nothing.
    store.reverse(&clerk(SOUTH), south, "H41992300001", "BOOKS-1", "wrong patient").await.expect("reverses");
    let accounts = store.fund_accounts(city).await.expect("accounts");
    assert_eq!(balance(&accounts, FundScheme::Resident, hospital, AccountKind::Payable), Some(Fen::new(-pooled)));
    let april = YearMonth::parse("2026-04").expect("month");
    let run = store.run_pooling(&accountant, city, april, april.last_day(), Vec::new()).await.expect("the April run").run;
    if let Some(unit) = run.funds.iter().find(|f| f.fund == "resident@419900").and_then(|f| f.units.iter().find(|u| u.unit == SOUTH)) {
        assert!(unit.payments.iter().all(|p| p.payee != hospital.to_string()), "{unit:?}");
        assert!(unit.owed_back.contains(&yibao_store::pooling::Payment { payee: hospital.to_string(), amount_fen: pooled }), "{unit:?}");
    }
    assert_eq!(store.pooling_runs(city).await.expect("runs").len(), 2);

    // A run takes the income as it stood on its value date: a payment dated 20 May waits
    // for June when May is run on the 10th.
    let late = Actor { at: datetime!(2026-05-20 10:00 UTC), ..clerk(SOUTH) };
    let paid = NewContribution {
        person_id: resident,
        kind: ContributionKind::Resident,
        period: period("2027"),
        due_fen: Fen::new(40_000),
        paid_fen: Fen::new(40_000),
        breakdown_json: resident_breakdown(),
    };
    store.record_contribution(&late, south, paid).await.expect("pays for 2027");
    // So does what the county's insured owe a hospital (issue 17: the running outstanding,
    // less what was dated after the value date): a stay settled on the 20th waits too.
    let mut c = claim("BOOKS-2", 30_000, 12);
    c.institution_code = "H41992300001".into();
    let settled = store
        .settle(&late, south, request(&c, resident), engine_settlement(policy(), c.clone(), Explain::Off))
        .await
        .expect("settles on the 20th");
    let settlement: serde_json::Value = serde_json::from_str(&settled.claim.settlement_json).expect("json");
    let later_pooled = settlement["hifp_pay"].as_str().map_or(0, |y| Fen::parse_yuan(y).expect("yuan").get());
    assert!(later_pooled > pooled, "a costlier stay: {later_pooled}");
    let may = YearMonth::parse("2026-05").expect("month");
    let run = store.run_pooling(&accountant, city, may, date!(2026 - 05 - 10), Vec::new()).await.expect("May").run;
    let south_of = |run: &yibao_store::pooling::PoolingRun| {
        run.funds.iter().find(|f| f.fund == "resident@419900").and_then(|f| f.units.iter().find(|u| u.unit == SOUTH)).cloned()
    };
    let swept = |run: &yibao_store::pooling::PoolingRun| south_of(run).map_or(0, |u| u.swept_fen);
    let paid_to = |run: &yibao_store::pooling::PoolingRun| {
        south_of(run).map_or(0, |u| u.payments.iter().filter(|p| p.payee == hospital.to_string()).map(|p| p.amount_fen).sum::<i64>())
    };
    assert_eq!((swept(&run), paid_to(&run)), (0, 0), "dated after the run");
    let june = YearMonth::parse("2026-06").expect("month");
    let run = store.run_pooling(&accountant, city, june, june.last_day(), Vec::new()).await.expect("June").run;
    assert_eq!(swept(&run), 90_000, "400.00 and its 500.00 of subsidies");
    assert_eq!(paid_to(&run), later_pooled - pooled, "the later stay, less what the reversed one owed back");

    // A county sees the movements its own business caused, nothing of the others'.
    let movements = store.fund_movements(south, date!(2026 - 01 - 01), date!(2026 - 12 - 31)).await.expect("movements");
    assert!(!movements.is_empty() && movements.iter().all(|m| m.unit == region(SOUTH)), "{movements:?}");
    let subsidies: i64 = movements.iter().filter(|m| m.reason == yibao_ledger::Reason::Subsidy).map(|m| m.amount_fen.get()).sum();
    assert_eq!(subsidies, 100_000, "the resident's 2026 and 2027 subsidies, both paid in 2026");
    // Months run in order: a month before the latest run would read its outstanding before
    // the later runs' payments and pay them again (hostile review). Run or previewed, it is
    // refused with its own code.
    let february = YearMonth::new(2026, 2).expect("month");
    for refused in [
        store.run_pooling(&accountant, city, february, february.last_day(), Vec::new()).await.map(|_| ()),
        store.preview_pooling(city, february, february.last_day(), Vec::new()).await.map(|_| ()),
    ] {
        assert!(matches!(refused, Err(StoreError::Refused { code: "fund.month_out_of_order", .. })), "{refused:?}");
    }

    let verification = yibao_store::verify_books(&*store).await.expect("verify");
    assert!(verification.breaches.is_empty(), "{:?}", verification.breaches);
    assert!(verification.transfers >= 12, "{verification:?}");
}

/// A year of a two-county city where one county runs a deficit (R-FND-2, R-FND-5), on a
/// city no other case uses (429900). Worked by hand:
/// - brought forward from 2025 in the resident fund: county A 100,000.00, county B 10,000.00;
/// - 2026 income: A's three residents and B's two each pay 400.00 with 500.00 of subsidies,
///   so A collects 2,700.00 and B 1,800.00;
/// - 2026 spending: one claim in A whose pooled layer is 1,000.00, one in B of 50,000.00;
/// - the March pooling run sweeps 4,500.00 into the special account (110,000.00 → 114,500.00)
///   and pays 51,000.00 down to the counties and on to the hospitals: 63,500.00 remain;
/// - the close levies 10% of what each collected: A 270.00, B 180.00, 450.00 in all;
/// - B's current deficit is 50,000.00 − 1,800.00 = 48,200.00: its own surplus covers
///   10,000.00, the adjustment fund its 450.00, and the 37,750.00 left is shared by city and
///   county finance half and half (B met its targets): 18,875.00 each, booked as owed to the
///   fund. A has no deficit.
pub async fn run_year<S: Store + yibao_store::ContributionStore + yibao_store::FundStore>(store: Arc<S>) {
    use yibao_engine::Settlement;
    use yibao_ledger::{AccountKind, FundScheme, Holder, YearMonth};
    use yibao_store::{ContributionKind, NewContribution};
    const A: &str = "429921";
    const B: &str = "429922";
    const CITY_Y: &str = "429900";
    let city = region("429900");
    let accountant =
        Actor { who: "accountant".into(), role: "fund_accountant".into(), source: "127.0.0.1".into(), at: datetime!(2026-12-31 18:00 UTC) };
    let yuan = |y: i64| Fen::new(y * 100);

    for (unit, amount) in [(A, 100_000), (B, 10_000)] {
        let receipt = yibao_store::FundReceipt {
            kind: yibao_store::ReceiptKind::OpeningBalance,
            scheme: FundScheme::Resident,
            unit: region(unit),
            amount_fen: yuan(amount),
            value_date: date!(2025 - 12 - 31),
            reference: "OB-2025".into(),
        };
        store.record_fund_receipt(&accountant, city, receipt).await.expect("brought forward");
    }
    let mut people = Vec::new();
    for (unit, count) in [(A, 3u16), (B, 2)] {
        for serial in 1..=count {
            let person = enrolled(&*store, unit, serial, &format!("HH-{unit}")).await;
            let paid = NewContribution {
                person_id: person,
                kind: ContributionKind::Resident,
                period: period("2026"),
                due_fen: Fen::new(40_000),
                paid_fen: Fen::new(40_000),
                breakdown_json: resident_breakdown(),
            };
            store.record_contribution(&clerk(unit), region(unit), paid).await.expect("pays");
            people.push((unit, person));
        }
    }
    // The hospitals' claims, settled with the amounts given (the engine is tested elsewhere).
    for (unit, hospital, pooled) in [(A, "H42992100001", 1_000), (B, "H42992200001", 50_000)] {
        let person = people.iter().find(|(u, _)| *u == unit).expect("a resident").1;
        let request = SettleRequest {
            institution_code: ic(hospital),
            claim_id: format!("YEAR-{unit}"),
            person_id: person,
            year: 2026,
            service_date: time::macros::date!(2026 - 06 - 01),
            claim_json: "{}".into(),
            flags: Vec::new(),
        };
        let compute: yibao_store::SettleFn = Arc::new(move |_: &Coverage, _: &Accumulators| {
            let mut settlement = Settlement { insutype: "390", year: 2026, ..Settlement::default() };
            settlement.accumulators = Accumulators::new_year(2026);
            settlement.medfee_sumamt = yuan(pooled + 100);
            settlement.hifp_pay = yuan(pooled);
            settlement.fund_pay_sumamt = yuan(pooled);
            settlement.psn_part_amt = yuan(100);
            Ok(settlement)
        });
        store.settle(&clerk(unit), region(unit), request, compute).await.expect("settles");
    }

    // Budgets (R-FND-3): B planned 2,000.00 of income and 20,000.00 of spending; revised to
    // 25,000.00. Its execution in March: 1,800.00 of 2,000.00 (90.00%) and 50,000.00 of
    // 25,000.00 (200.00%). A county cannot set the city's budgets.
    let budget = |spending: i64| yibao_store::Budget {
        year: 2026,
        fund_scheme: "resident".into(),
        unit: B.into(),
        income_fen: yuan(2_000).get(),
        spending_fen: yuan(spending).get(),
    };
    let refused = store.set_budget(&clerk(B), region(B), budget(20_000)).await;
    assert!(matches!(refused, Err(StoreError::OutsideRegion { .. })), "{refused:?}");
    store.set_budget(&accountant, city, budget(20_000)).await.expect("budget");
    store.set_budget(&accountant, city, budget(25_000)).await.expect("revised");
    let bad = yibao_store::Budget { fund_scheme: "pension".into(), ..budget(1) };
    assert!(matches!(store.set_budget(&accountant, city, bad).await, Err(StoreError::Invalid(_))));
    let execution = yibao_store::budget_execution(&*store, region(B), 2026, 3).await.expect("execution");
    assert_eq!(execution.len(), 1);
    assert_eq!(execution[0].budget.spending_fen, yuan(25_000).get(), "the revision holds");
    assert_eq!(execution[0].months, [(1, 0, 0), (2, 0, 0), (3, yuan(1_800).get(), yuan(50_000).get())]);
    assert_eq!((execution[0].income_executed_bp, execution[0].spending_executed_bp), (Some(9_000), Some(20_000)));
    assert!(yibao_store::budget_execution(&*store, region(A), 2026, 3).await.expect("A's").is_empty(), "A sees only its own");

    let march = YearMonth::parse("2026-03").expect("month");
    let run = store.run_pooling(&accountant, city, march, march.last_day(), Vec::new()).await.expect("the March run").run;
    let resident = run.funds.iter().find(|f| f.fund == "resident@429900").expect("resident fund");
    assert_eq!(
        (resident.special_before_fen, resident.swept_fen, resident.disbursed_fen, resident.special_after_fen),
        (yuan(110_000).get(), yuan(4_500).get(), yuan(51_000).get(), yuan(63_500).get())
    );

    // Targets (R-ENR-6): B was to insure 2 persons and collect 800.00; it did both, so it
    // shares its deficit at the configured split. A was to insure 6 and has 3: 50.00%.
    let targets = |unit: &str, persons: u32, fen: i64| yibao_store::CountyTargets {
        year: 2026,
        unit: unit.into(),
        enrolment_target: persons,
        collection_target_fen: fen,
    };
    let refused = store.set_targets(&clerk(B), region(B), targets(B, 2, 80_000)).await;
    assert!(matches!(refused, Err(StoreError::OutsideRegion { .. })), "{refused:?}");
    store.set_targets(&accountant, city, targets(B, 2, 80_000)).await.expect("B's targets");
    store.set_targets(&accountant, city, targets(A, 6, 120_000)).await.expect("A's targets");
    let progress = store.targets(city, 2026).await.expect("progress");
    let of = |unit: &str| progress.iter().find(|p| p.targets.unit == unit).expect("a county");
    assert_eq!(
        (of(A).enrolled, of(A).enrolment_rate_bp, of(A).collected_fen, of(A).collection_rate_bp),
        (3, Some(5_000), 120_000, Some(10_000))
    );
    assert_eq!((of(B).enrolment_rate_bp, of(B).collection_rate_bp), (Some(10_000), Some(10_000)));
    assert_eq!(store.targets(region(A), 2026).await.expect("A's own").len(), 1, "a county reads its own");

    // Closing 2027 while 2026, which has books, is open: refused (issue 17).
    let early = store.close_year(&accountant, city, 2027, yibao_store::closing::YearEndOptions::default()).await;
    assert!(matches!(early, Err(StoreError::Refused { code: "books.close_out_of_order", .. })), "{early:?}");
    let resident_fund = yibao_ledger::Fund::new(FundScheme::Resident, city);
    // Interest at 1.50% a year on the resident fund's special account (R-SCH-2): 110,000.00
    // from 1 January to 30 March (89 days), 63,500.00 from 31 March (the run) to 31 December
    // (276 days; credited before the close, whose levy out and cover in cancel on the 31st):
    // 27,316,000.00 yuan-days × 1.5% ÷ 365 = 1,122.575… → 1,122.58. The adjustment fund held
    // nothing overnight: no interest.
    let rate = RatioBp::new(150);
    let lines = store
        .credit_interest(&accountant, city, date!(2026 - 01 - 01), date!(2026 - 12 - 31), rate, yibao_domain::Rounding::HalfUp)
        .await
        .expect("interest");
    let resident_interest = lines.iter().find(|l| l.fund == "resident@429900").expect("resident");
    assert_eq!((resident_interest.balance_days_fen, resident_interest.interest_fen), (2_731_600_000, 112_258));
    assert!(lines.iter().filter(|l| l.fund != "resident@429900").all(|l| l.interest_fen == 0), "{lines:?}");
    let again = store
        .credit_interest(&accountant, city, date!(2026 - 01 - 01), date!(2026 - 12 - 31), rate, yibao_domain::Rounding::HalfUp)
        .await
        .expect("again");
    assert_eq!(again, lines, "crediting the same period again changes nothing");
    let accounts = store.fund_accounts(city).await.expect("accounts");
    let special = accounts.iter().find(|s| s.key() == yibao_ledger::AccountKey::special(resident_fund)).expect("special");
    assert_eq!(special.balance_fen(), yuan(63_500) + Fen::new(112_258));

    // A dry run shows what the close then does, and changes nothing (issue 13).
    let transfers_before = store.fund_accounts(city).await.expect("accounts");
    let preview = store.preview_year_end(city, 2026, yibao_store::closing::YearEndOptions::default()).await.expect("the dry run");
    assert!(!preview.closed);
    assert_eq!(store.fund_accounts(city).await.expect("accounts"), transfers_before, "a dry run posts nothing");
    assert!(store.year_closes(city).await.expect("closes").is_empty(), "nor records a close");
    let close = store.close_year(&accountant, city, 2026, yibao_store::closing::YearEndOptions::default()).await.expect("the close");
    assert!(close.ran_now);
    assert_eq!(preview.record, close.record, "the dry run is the close");
    let after = store.preview_year_end(city, 2026, yibao_store::closing::YearEndOptions::default()).await.expect("after");
    assert!(after.closed && after.record == close.record, "a closed year's dry run is its record, and says so");
    let record = &close.record;
    let levy: Vec<(&str, &str, i64)> = record.levy.iter().map(|l| (l.fund.as_str(), l.contributor.as_str(), l.levy_fen)).collect();
    // The city's interest, credited before the close, is income but no contribution: no levy.
    assert_eq!(levy, [("resident@429900", CITY_Y, 0), ("resident@429900", A, yuan(270).get()), ("resident@429900", B, yuan(180).get())]);
    assert_eq!((record.levy_total_fen, record.adjustment_used_fen), (yuan(450).get(), yuan(450).get()));
    let position = |unit: &str| record.positions.iter().find(|p| p.fund == "resident@429900" && p.unit == unit).expect("a position");
    let b = position(B);
    assert_eq!(
        (b.income_fen, b.spending_fen, b.surplus_brought_forward_fen, b.deficit_fen),
        (yuan(1_800).get(), yuan(50_000).get(), yuan(10_000).get(), yuan(48_200).get())
    );
    assert_eq!(
        (b.from_surplus_fen, b.from_adjustment_fen, b.city_finance_fen, b.county_finance_fen),
        (yuan(10_000).get(), yuan(450).get(), yuan(18_875).get(), yuan(18_875).get())
    );
    assert!(!b.notes.is_empty(), "the close explains every amount it moved");
    let a = position(A);
    assert_eq!((a.income_fen, a.spending_fen, a.deficit_fen), (yuan(2_700).get(), yuan(1_000).get(), 0));
    assert_eq!(a.surplus_rate_bp, Some(6_296), "(2,700 − 1,000) ÷ 2,700 = 62.96%");
    // Month by month (issue 13), the indicators at December's end are the close's.
    let before = store.fund_movements(city, yibao_store::books::BOOKS_EPOCH, date!(2025 - 12 - 31)).await.expect("before");
    let mut months = Vec::new();
    for month in 1..=12u8 {
        let month = YearMonth::new(2026, month).expect("a month");
        months.push(store.fund_movements(city, month.first_day(), month.last_day()).await.expect("a month's movements"));
    }
    let options = yibao_store::closing::YearEndOptions::default();
    let monthly = yibao_store::closing::monthly_indicators(city, 2026, &before, &months, &options.thresholds, options.rounding)
        .expect("the indicators month by month");
    for position in &record.positions {
        let december = monthly
            .iter()
            .find(|m| m.month == 12 && m.fund == position.fund && m.unit == position.unit)
            .unwrap_or_else(|| panic!("December's row of {} {}", position.fund, position.unit));
        assert_eq!(
            (december.income_fen, december.spending_fen, december.surplus_rate_bp, december.months_covered_centi, &december.warnings),
            (position.income_fen, position.spending_fen, position.surplus_rate_bp, position.months_covered_centi, &position.warnings),
            "{} {}",
            position.fund,
            position.unit
        );
    }

    let again = store.close_year(&accountant, city, 2026, yibao_store::closing::YearEndOptions::default()).await.expect("again");
    assert!(!again.ran_now && again.record == close.record, "a year closes once");
    let refused = store.close_year(&clerk(A), region(A), 2026, yibao_store::closing::YearEndOptions::default()).await;
    assert!(matches!(refused, Err(StoreError::OutsideRegion { .. })), "a county cannot close the city's year: {refused:?}");

    let accounts = store.fund_accounts(city).await.expect("accounts");
    let balance = |fund: yibao_ledger::Fund, holder: Holder, kind: AccountKind| {
        accounts.iter().find(|s| s.key() == yibao_ledger::AccountKey::new(fund, holder, kind)).map(|s| s.balance_fen())
    };
    assert_eq!(balance(yibao_ledger::Fund::adjustment(city), Holder::Region(city), AccountKind::FiscalSpecial), Some(Fen::ZERO));
    assert_eq!(balance(resident_fund, Holder::Finance(city), AccountKind::Receivable), Some(yuan(18_875)));
    assert_eq!(balance(resident_fund, Holder::Finance(region(B)), AccountKind::Receivable), Some(yuan(18_875)));
    assert_eq!(store.year_closes(city).await.expect("closes").len(), 1);
    // 2026 is final: nothing is posted dated in it, and 2025 does not close after it.
    let receipt = |kind, amount_fen, value_date, reference: &str| yibao_store::FundReceipt {
        kind,
        scheme: FundScheme::Resident,
        unit: region(A),
        amount_fen,
        value_date,
        reference: reference.into(),
    };
    let late = receipt(yibao_store::ReceiptKind::FinanceAdvance, yuan(1), date!(2026 - 06 - 01), "LATE-2026");
    let refused = store.record_fund_receipt(&accountant, city, late).await;
    assert!(matches!(refused, Err(StoreError::Refused { code: "books.period_closed", .. })), "{refused:?}");
    // Booking a receipt of the closed year again, unchanged, is still a replay.
    let brought_forward = receipt(yibao_store::ReceiptKind::OpeningBalance, yuan(100_000), date!(2025 - 12 - 31), "OB-2025");
    store.record_fund_receipt(&accountant, city, brought_forward).await.expect("a replay after the close");
    let refused = store.close_year(&accountant, city, 2025, yibao_store::closing::YearEndOptions::default()).await;
    assert!(matches!(refused, Err(StoreError::Refused { code: "books.close_out_of_order", .. })), "{refused:?}");

    // The retired NCMS fund handed over into the residents' fund at 30 June 2027 (R-FND-7,
    // R-SCH-3): it holds 30,000.00 brought in for county A, and 5,000.00 owed to a hospital.
    // The inventory lists both; the receiving side confirms with its checksum; the NCMS
    // accounts are then empty and the residents' fund holds both.
    let ncms = yibao_ledger::Fund::new(FundScheme::Ncms, city);
    store
        .record_fund_receipt(
            &accountant,
            city,
            yibao_store::FundReceipt {
                kind: yibao_store::ReceiptKind::OpeningBalance,
                scheme: FundScheme::Ncms,
                unit: region(A),
                amount_fen: yuan(30_000),
                value_date: date!(2027 - 01 - 01),
                reference: "NCMS-OB".into(),
            },
        )
        .await
        .expect("NCMS balance");
    let request = yibao_store::handover::HandoverRequest {
        from: FundScheme::Ncms,
        to: FundScheme::Resident,
        cut_off: date!(2027 - 06 - 30),
        reference: "NCMS-2026".into(),
    };
    let inventory = store.prepare_handover(&accountant, city, request.clone()).await.expect("signed");
    assert_eq!(
        inventory.lines.iter().map(|l| (l.kind.as_str(), l.balance_fen)).collect::<Vec<_>>(),
        [("fiscal-special", yuan(30_000).get()), ("external", yuan(30_000).get())]
    );
    assert_eq!(inventory.checksum.len(), 64);
    assert!(matches!(store.prepare_handover(&accountant, city, request).await, Err(StoreError::Exists(_))), "a reference is used once");
    let receiver = Actor { who: "receiver".into(), ..accountant.clone() };
    let same_person = store.confirm_handover(&accountant, city, "NCMS-2026", &inventory.checksum).await;
    assert!(
        matches!(same_person, Err(StoreError::Refused { code: "handover.same_person", .. })),
        "who signed does not confirm: {same_person:?}"
    );
    let wrong = store.confirm_handover(&receiver, city, "NCMS-2026", &"0".repeat(64)).await;
    assert!(matches!(wrong, Err(StoreError::Refused { code: "handover.bad_checksum", .. })), "{wrong:?}");
    let confirmed = store.confirm_handover(&receiver, city, "NCMS-2026", &inventory.checksum).await.expect("confirmed");
    assert_eq!(confirmed.confirmed_by.as_deref(), Some("receiver"));
    let accounts = store.fund_accounts(city).await.expect("accounts");
    let balance = |fund: yibao_ledger::Fund, holder: Holder, kind: AccountKind| {
        accounts.iter().find(|s| s.key() == yibao_ledger::AccountKey::new(fund, holder, kind)).map(|s| s.balance_fen())
    };
    assert_eq!(balance(ncms, Holder::Region(city), AccountKind::FiscalSpecial), Some(Fen::ZERO), "the NCMS fund is empty");
    assert_eq!(balance(ncms, Holder::Region(city), AccountKind::InterFund), Some(Fen::new(-3_000_000)), "and says where it went");
    assert_eq!(balance(resident_fund, Holder::Region(city), AccountKind::InterFund), Some(yuan(30_000)));
    assert_eq!(
        balance(resident_fund, Holder::Region(city), AccountKind::FiscalSpecial),
        Some(yuan(63_500) + Fen::new(112_258) + yuan(30_000))
    );
    let again = store.confirm_handover(&receiver, city, "NCMS-2026", &inventory.checksum).await;
    assert!(matches!(again, Err(StoreError::Exists(_))), "a handover is confirmed once: {again:?}");
    assert_eq!(store.handovers(city).await.expect("handovers").len(), 1);

    let verification = yibao_store::verify_books(&*store).await.expect("verify");
    assert!(verification.breaches.is_empty(), "{:?}", verification.breaches);
}

/// A county's legacy deficit (R-FND-6) on a city no other case uses (439900). Worked by hand:
/// - in 2025 county X's two residents pay 400.00 with 500.00 of subsidies: 1,800.00, swept
///   into the special account in March; the 2025 close levies 10%: 180.00 into the adjustment fund, booked as X's;
/// - X's opening gap of 10,000.00 is established on 1 January 2026: 180.00 is offset by what
///   X paid into the adjustment fund, 9,820.00 is owed by X's finance, by the end of 2028
///   with at least 30% in each of 2026 and 2027: 2,946.00 by 31 December 2026, 5,892.00 in
///   all by 31 December 2027, 9,820.00 by 31 December 2028;
/// - X repays 2,000.00 on 30 June 2026: on 1 January 2027 it still owes 7,820.00 and has
///   missed the 2026 instalment by 946.00.
pub async fn run_legacy<S: Store + yibao_store::ContributionStore + yibao_store::FundStore>(store: Arc<S>) {
    use yibao_ledger::FundScheme;
    use yibao_store::legacy::{LegacyRequest, TermsIn};
    use yibao_store::{ContributionKind, NewContribution};
    const X: &str = "439921";
    let city = region("439900");
    let yuan = |y: i64| Fen::new(y * 100);
    let clerk_2025 = Actor { at: datetime!(2025-03-01 09:00 UTC), ..clerk(X) };
    let accountant =
        Actor { who: "accountant".into(), role: "fund_accountant".into(), source: "127.0.0.1".into(), at: datetime!(2026-01-02 09:00 UTC) };
    for serial in 1..=2 {
        let person = enrolled(&*store, X, serial, "HH-X").await;
        let paid = NewContribution {
            person_id: person,
            kind: ContributionKind::Resident,
            period: period("2025"),
            due_fen: Fen::new(40_000),
            paid_fen: Fen::new(40_000),
            breakdown_json: resident_breakdown(),
        };
        store.record_contribution(&clerk_2025, region(X), paid).await.expect("pays");
    }
    // The March run sweeps the 1,800.00 into the special account, whence the levy is paid.
    let march = yibao_ledger::YearMonth::parse("2025-03").expect("month");
    store.run_pooling(&accountant, city, march, march.last_day(), Vec::new()).await.expect("the March run");
    let close = store.close_year(&accountant, city, 2025, yibao_store::closing::YearEndOptions::default()).await.expect("2025 closes");
    assert_eq!(close.record.levy_total_fen, yuan(180).get());

    let request = LegacyRequest {
        scheme: "resident".into(),
        county: X.into(),
        established_on: "2026-01-01".into(),
        opening_gap_fen: yuan(10_000).get(),
        paid_into_adjustment_fen: None,
        terms: TermsIn::Instalments { end: "2028-12-31".into(), minimum_per_year: vec![(2026, 3_000), (2027, 3_000)] },
    };
    let refused = store.establish_legacy_deficit(&clerk(X), region(X), request.clone()).await;
    assert!(matches!(refused, Err(StoreError::OutsideRegion { .. })), "{refused:?}");
    let view = store.establish_legacy_deficit(&accountant, city, request.clone()).await.expect("established");
    assert_eq!((view.opening_gap_fen, view.offset_fen, view.gap_fen), (yuan(10_000).get(), yuan(180).get(), yuan(9_820).get()));
    let instalments: Vec<(&str, i64)> = view.instalments.iter().map(|(due, _, cumulative)| (due.as_str(), *cumulative)).collect();
    assert_eq!(instalments, [("2026-12-31", yuan(2_946).get()), ("2027-12-31", yuan(5_892).get()), ("2028-12-31", yuan(9_820).get())]);
    assert!(matches!(store.establish_legacy_deficit(&accountant, city, request).await, Err(StoreError::Exists(_))), "once");

    let repaid = store
        .record_legacy_repayment(
            &accountant,
            city,
            yibao_store::legacy::LegacyRepayment {
                scheme: FundScheme::Resident,
                county: region(X),
                on: date!(2026 - 06 - 30),
                amount_fen: yuan(2_000),
                reference: "R1".into(),
            },
        )
        .await
        .expect("repays");
    assert_eq!((repaid.paid_fen, repaid.owed_fen), (yuan(2_000).get(), yuan(7_820).get()));
    assert!(repaid.missed.is_empty(), "nothing is due before 31 December 2026");
    let views = store.legacy_deficits(region(X), date!(2027 - 01 - 01)).await.expect("the county reads its own");
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].owed_fen, yuan(7_820).get());
    assert_eq!(views[0].missed, [("2026-12-31".to_owned(), yuan(946).get())], "the missed instalment is flagged");
    assert!(store.legacy_deficits(region("419921"), date!(2027 - 01 - 01)).await.expect("another county").is_empty());

    let verification = yibao_store::verify_books(&*store).await.expect("verify");
    assert!(verification.breaches.is_empty(), "{:?}", verification.breaches);
}

/// Referrals on file (issue 11: a claim's referral comes from the records): filed inside
/// the clerk's scope, numbered in turn, listed newest first, audited; a malformed one or one
/// for another county's person writes nothing. And a tier request cancelled: only the
/// latest, named by its day.
pub async fn run_referrals_and_tier_edits<S: Store>(store: Arc<S>) {
    use yibao_store::{NewReferral, TierEdit};
    let id = enrolled(&*store, EAST, 80, "HH-EAST-80").await;
    let referral = |from: &str, issued_on| NewReferral {
        person_id: id,
        from_institution: ic(from),
        to_institution: ic("H41992100007"),
        issued_on,
        valid_until: date!(2026 - 06 - 30),
    };
    let first = store.file_referral(&clerk(EAST), region(EAST), referral("H41990200003", date!(2026 - 02 - 05))).await.expect("file");
    assert_eq!((first.seq, first.region, first.filed_by.as_str()), (1, region(EAST), "clerk-419921"));
    let second = store.file_referral(&clerk(EAST), region(CITY), referral("H41992200001", date!(2026 - 03 - 01))).await.expect("file");
    assert_eq!(second.seq, 2);
    let same_place = store.file_referral(&clerk(EAST), region(EAST), referral("H41992100007", date!(2026 - 03 - 01))).await;
    assert!(matches!(same_place, Err(StoreError::Invalid(_))), "{same_place:?}");
    let too_long = NewReferral { valid_until: date!(2028 - 01 - 01), ..referral("H41990200003", date!(2026 - 03 - 01)) };
    assert!(matches!(store.file_referral(&clerk(EAST), region(EAST), too_long).await, Err(StoreError::Invalid(_))));
    let other_county = store.file_referral(&clerk(WEST), region(WEST), referral("H41990200003", date!(2026 - 03 - 01))).await;
    assert!(matches!(other_county, Err(StoreError::PersonNotFound(_))), "{other_county:?}");
    let listed = store.referrals_of(region(EAST), &id).await.expect("list");
    assert_eq!(listed, vec![second.clone(), first.clone()], "newest first, nothing of the refusals");
    assert!(matches!(store.referrals_of(region(WEST), &id).await, Err(StoreError::PersonNotFound(_))));
    let trail = store.audit_entries(region(EAST), 0, 100_000).await.expect("trail");
    assert_eq!(trail.iter().filter(|e| e.action == "referral.file" && e.entity == id.to_string()).count(), 2);
    // A cancellation (2502) is a record of its own beside the referral, audited, once.
    let mut canceller = clerk(EAST);
    canceller.at = datetime!(2026-03-02 10:00 UTC);
    let cancelled = store.cancel_referral(&canceller, region(EAST), &id, 2, "the patient stays").await.expect("cancelled");
    assert_eq!((cancelled.seq, cancelled.cancelled_at, cancelled.cancelled_by.as_deref()), (2, Some(canceller.at), Some("clerk-419921")));
    let again = store.cancel_referral(&canceller, region(EAST), &id, 2, "again").await;
    assert!(matches!(again, Err(StoreError::Refused { code: "referral.cancelled", .. })), "{again:?}");
    let unknown = store.cancel_referral(&canceller, region(EAST), &id, 9, "none").await;
    assert!(matches!(unknown, Err(StoreError::Refused { code: "referral.not_found", .. })), "{unknown:?}");
    let outside = store.cancel_referral(&clerk(WEST), region(WEST), &id, 1, "not mine").await;
    assert!(matches!(outside, Err(StoreError::PersonNotFound(_))), "{outside:?}");
    let listed = store.referrals_of(region(EAST), &id).await.expect("list");
    assert_eq!(listed, vec![cancelled, first.clone()], "the cancellation is read back with its referral");
    let trail = store.audit_entries(region(EAST), 0, 100_000).await.expect("trail");
    assert_eq!(trail.iter().filter(|e| e.action == "referral.cancel" && e.entity == id.to_string()).count(), 1);

    let change = TierChange { requested_on: date!(2026 - 02 - 10), tier: Tier::new(1).expect("tier") };
    store.edit_tiers(&clerk(EAST), region(EAST), &id, change.into()).await.expect("request");
    let wrong_day = store.edit_tiers(&clerk(EAST), region(EAST), &id, TierEdit::Cancel { requested_on: date!(2026 - 02 - 11) }).await;
    assert!(matches!(wrong_day, Err(StoreError::Invalid(_))), "{wrong_day:?}");
    let person =
        store.edit_tiers(&clerk(EAST), region(EAST), &id, TierEdit::Cancel { requested_on: date!(2026 - 02 - 10) }).await.expect("cancel");
    assert_eq!(person.coverage.tier_history.map(|h| h.changes.len()), Some(0));
    let trail = store.audit_entries(region(EAST), 0, 100_000).await.expect("trail");
    assert!(trail.iter().any(|e| e.action == "person.tier_change_cancelled" && e.entity == id.to_string()));
}

/// Every case of the contract, in order, on one store: what each backend's tests run, so
/// no backend skips a case.
pub async fn run_all<S>(store: Arc<S>)
where
    S: Store
        + yibao_store::AccessStore
        + yibao_store::ContributionStore
        + yibao_store::ImportStore
        + yibao_store::FundStore
        + yibao_store::PolicyStore
        + yibao_store::InterfaceStore
        + yibao_store::CatalogueStore
        + yibao_store::EmployerStore
        + yibao_store::ArrearsStore,
{
    run(Arc::clone(&store)).await;
    run_interface(Arc::clone(&store)).await;
    run_access_and_contributions(Arc::clone(&store)).await;
    run_import(Arc::clone(&store)).await;
    run_bulk_contributions(Arc::clone(&store)).await;
    run_search_escaping(Arc::clone(&store)).await;
    run_person_update(Arc::clone(&store)).await;
    run_referrals_and_tier_edits(Arc::clone(&store)).await;
    run_books(Arc::clone(&store)).await;
    run_year(Arc::clone(&store)).await;
    run_legacy(Arc::clone(&store)).await;
    run_adjustment_opening_balance(Arc::clone(&store)).await;
    run_payment_clearing(Arc::clone(&store)).await;
    run_policy_versions(Arc::clone(&store)).await;
    run_coverage_changes(Arc::clone(&store)).await;
    run_moves_with_money(Arc::clone(&store)).await;
    run_employers(Arc::clone(&store)).await;
    run_arrears_plans(Arc::clone(&store)).await;
    run_counter_receipts(Arc::clone(&store)).await;
    run_catalogue(store).await;
}

/// A counter payment under its receipt's number (收据号) is recorded once: sent again it is
/// answered with the record it made and nothing is written; the same receipt for another
/// amount or period is refused (`contribution.receipt_reused`); another person may use the
/// same number; another county's clerk learns nothing of it.
pub async fn run_counter_receipts<S: Store + yibao_store::ContributionStore>(store: Arc<S>) {
    use yibao_store::{ContributionKind, NewContribution};
    let store = &*store;
    let id = enrolled(store, EAST, 992, "HH-RECEIPT").await;
    let other = enrolled(store, EAST, 993, "HH-RECEIPT-2").await;
    let counter = |person: NationalId, period_text: &str, paid: i64| NewContribution {
        person_id: person,
        kind: ContributionKind::Resident,
        period: period(period_text),
        due_fen: Fen::new(40_000),
        paid_fen: Fen::new(paid),
        breakdown_json: resident_breakdown(),
    };
    let east = clerk(EAST);
    let record = |person, period_text: &str, paid, receipt: &str| {
        store.record_receipted_contribution(&east, region(EAST), counter(person, period_text, paid), receipt.to_owned())
    };
    let first = record(id, "2026", 10_000, "SK-0001").await.expect("a payment");
    let again = record(id, "2026", 10_000, "SK-0001").await.expect("the same payment sent again");
    assert_eq!(again, first, "answered with the record it made");
    let paid = |person| async move {
        store.contributions_of(region(EAST), &person).await.expect("contributions").iter().map(|c| c.paid_fen.get()).sum::<i64>()
    };
    assert_eq!(paid(id).await, 10_000, "recorded once");
    for (period_text, amount) in [("2026", 20_000), ("2025", 10_000)] {
        let reused = record(id, period_text, amount, "SK-0001").await;
        assert!(matches!(&reused, Err(e) if e.code() == "contribution.receipt_reused"), "{reused:?}");
    }
    let hidden = store.record_receipted_contribution(&clerk(WEST), region(WEST), counter(id, "2026", 10_000), "SK-0001".to_owned()).await;
    assert!(matches!(hidden, Err(StoreError::PersonNotFound(_))), "{hidden:?}");
    record(other, "2026", 10_000, "SK-0001").await.expect("another person's receipt of the same number");
    let second = record(id, "2026", 30_000, "SK-0002").await.expect("a second payment under its own receipt");
    assert_ne!(second.seq, first.seq);
    assert_eq!((paid(id).await, paid(other).await), (40_000, 10_000));
}

/// Issue 16 item 4 (R-FIN-4): a resident who owes part of 2025 and all of 2026 agrees a plan
/// of three instalments; the plan takes exactly what is owed (a plan on a stale reading is
/// `arrears.changed`, a second one `arrears.plan_open`); while it is open the periods are not
/// paid at the counter; payments go to the oldest period first, never beyond what the plan
/// owes, and complete each period's chain (the subsidies posting with the last fen); the plan
/// completes when nothing is owed, the periods are paid again as any, and the books balance.
/// Another county's clerk sees no such person.
pub async fn run_arrears_plans<S: Store + yibao_store::FundStore + yibao_store::ContributionStore + yibao_store::ArrearsStore>(
    store: Arc<S>,
) {
    use yibao_engine::PlanPeriod;
    use yibao_store::{ContributionKind, InstalmentPayment, NewContribution, NewPlan, PlanStatus};
    let paid = |receipt: &str, fen: i64| InstalmentPayment { receipt: receipt.into(), amount_fen: Fen::new(fen) };
    let store = &*store;
    let city = region(CITY);
    let id = enrolled(store, EAST, 991, "HH-ARREARS").await;
    let counter = |period_text: &str, paid: i64| NewContribution {
        person_id: id,
        kind: ContributionKind::Resident,
        period: period(period_text),
        due_fen: Fen::new(40_000),
        paid_fen: Fen::new(paid),
        breakdown_json: resident_breakdown(),
    };
    // Part of 2025 at the counter under a receipt a plan's payment may not use again.
    store.record_receipted_contribution(&clerk(EAST), region(EAST), counter("2025", 10_000), "C-1".to_owned()).await.expect("part of 2025");
    store.record_contribution(&clerk(EAST), region(EAST), counter("2026", 0)).await.expect("2026 billed");
    let agreed_on = date!(2026 - 03 - 01);
    let plannable = store.plannable(region(EAST), &id, agreed_on).await.expect("plannable");
    let owed = |text: &str, fen: i64| PlanPeriod { kind: ContributionKind::Resident, period: period(text), owed_fen: Fen::new(fen) };
    assert_eq!(plannable, vec![owed("2025", 30_000), owed("2026", 40_000)]);
    let (person, standing) = store.owed_periods(city, &id, date!(2026 - 01 - 01)).await.expect("owed");
    assert_eq!(person.person_id, id);
    assert_eq!(standing.len(), 2, "{standing:?}");
    assert!(standing.iter().all(|p| p.cleared_on.is_none() && p.owed_fen.get() > 0), "{standing:?}");

    let schedule = yibao_engine::instalment_schedule(Fen::new(70_000), 3, 60, date!(2026 - 03 - 15)).expect("schedule");
    let stale = NewPlan { person_id: id, agreed_on, periods: vec![owed("2025", 30_000)], schedule: schedule.clone() };
    let refused = store.agree_plan(&clerk(EAST), region(EAST), stale).await;
    assert!(matches!(&refused, Err(e) if e.code() == "arrears.changed"), "{refused:?}");
    let plan = NewPlan { person_id: id, agreed_on, periods: plannable.clone(), schedule };
    let hidden = store.agree_plan(&clerk(WEST), region(WEST), plan.clone()).await;
    assert!(matches!(hidden, Err(StoreError::PersonNotFound(_))), "{hidden:?}");
    let none = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-0", 100)).await;
    assert!(matches!(&none, Err(e) if e.code() == "arrears.no_plan"), "{none:?}");
    let agreed = store.agree_plan(&clerk(EAST), region(EAST), plan.clone()).await.expect("agree");
    assert_eq!((agreed.seq, agreed.total_fen, agreed.status), (1, Fen::new(70_000), PlanStatus::Open));
    assert_eq!(agreed.schedule.iter().map(|i| i.amount_fen.get()).collect::<Vec<_>>(), vec![23_334, 23_333, 23_333]);
    let twice = store.agree_plan(&clerk(EAST), region(EAST), plan).await;
    assert!(matches!(&twice, Err(e) if e.code() == "arrears.plan_open"), "{twice:?}");
    let at_counter = store.record_contribution(&clerk(EAST), region(EAST), counter("2025", 30_000)).await;
    assert!(matches!(&at_counter, Err(e) if e.code() == "contribution.in_plan"), "{at_counter:?}");
    let in_batch = store.record_contributions(&clerk(EAST), region(EAST), vec![counter("2026", 40_000)]).await;
    assert!(matches!(&in_batch, Err(e) if e.code() == "contribution.in_plan"), "{in_batch:?}");

    // 350.00: 300.00 completes 2025, 50.00 goes to 2026.
    let first = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-1", 35_000)).await.expect("first payment");
    assert_eq!(first.status, PlanStatus::Open);
    assert_eq!(first.payments[0].parts, vec![owed("2025", 30_000), owed("2026", 5_000)]);
    assert_eq!(first.payments[0].paid_on, date!(2026 - 03 - 01));
    let over = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-2", 35_001)).await;
    assert!(matches!(&over, Err(e) if e.code() == "arrears.overpaid"), "{over:?}");
    // The first receipt sent again records nothing; under another amount it is refused.
    let again = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-1", 35_000)).await.expect("the same receipt");
    assert_eq!((again.payments.len(), again.status), (1, PlanStatus::Open), "{again:?}");
    let reused = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-1", 1_000)).await;
    assert!(matches!(&reused, Err(e) if e.code() == "arrears.receipt_reused"), "{reused:?}");
    // One receipt, one payment, whichever path recorded it.
    let counter_receipt = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("C-1", 10_000)).await;
    assert!(matches!(&counter_receipt, Err(e) if e.code() == "arrears.receipt_reused"), "{counter_receipt:?}");
    let plan_receipt = store.record_receipted_contribution(&clerk(EAST), region(EAST), counter("2026", 5_000), "R-1".to_owned()).await;
    assert!(matches!(&plan_receipt, Err(e) if e.code() == "contribution.receipt_reused"), "{plan_receipt:?}");
    let last = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-3", 35_000)).await.expect("last payment");
    assert_eq!((last.status, last.paid_fen()), (PlanStatus::Completed, Fen::new(70_000)));
    assert!(store.plannable(region(EAST), &id, agreed_on).await.expect("plannable").is_empty());
    let (_, cleared) = store.owed_periods(city, &id, date!(2026 - 01 - 01)).await.expect("owed");
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(cleared.iter().all(|p| p.owed_fen.is_zero() && p.cleared_on == Some(agreed_on)), "{cleared:?}");
    assert!(store.owed_periods(city, &id, date!(2026 - 03 - 02)).await.expect("owed").1.is_empty());
    let after = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-4", 100)).await;
    assert!(matches!(&after, Err(e) if e.code() == "arrears.no_plan"), "{after:?}");
    // The last receipt sent again after the plan completed: answered, nothing written.
    let late = store.pay_instalment(&clerk(EAST), region(EAST), &id, paid("R-3", 35_000)).await.expect("the same receipt");
    assert_eq!((late.payments.len(), late.status), (2, PlanStatus::Completed));
    let paid: i64 = store.contributions_of(city, &id).await.expect("contributions").iter().map(|c| c.paid_fen.get()).sum();
    assert_eq!(paid, 80_000);
    assert_eq!(store.plans_of(city, &id).await.expect("plans").len(), 1);
    assert_eq!(book_breaches(store).await, Vec::<String>::new());
}

/// Issue 16 item 2 (R-FIN-1, R-FIN-4): an employer registers in its county and declares a
/// month's payroll; each line bills the person's own contribution record, so the persons
/// owe it at once; a month is declared once, and a person's month by one employer; it is not
/// paid at the counter; the employer's payment, dated no earlier than the declaration and
/// ten days after the due day, completes every bill (never a fen more) with a late fee of
/// 0.05% a day on what was owed, posted to the employee fund under its own reason; the
/// account is credited its share; a second payment finds nothing owed;
/// the months paid count toward the retiree minimum with those carried in; the books and the
/// audit chains hold. Another county's clerk sees no such employer.
pub async fn run_employers<S: Store + yibao_store::FundStore + yibao_store::ContributionStore + yibao_store::EmployerStore>(store: Arc<S>) {
    use yibao_domain::EmployerCode;
    use yibao_store::{ContributionKind, DeclarationLine, EmployerPayment, NewContribution, NewDeclaration, NewEmployer};
    let store = &*store;
    let city = region(CITY);
    let code = EmployerCode::from_parts(region(EAST), 4_242).expect("code");
    let employer = NewEmployer { code, name: "东县机械厂".into(), region: region(EAST), registered_on: date!(2025 - 07 - 01) };
    let outside = store.register_employer(&clerk(WEST), region(WEST), employer.clone()).await;
    assert!(matches!(outside, Err(StoreError::OutsideRegion { .. })), "{outside:?}");
    let registered = store.register_employer(&clerk(EAST), region(EAST), employer.clone()).await.expect("register");
    assert_eq!((registered.code, registered.region), (code, region(EAST)));
    let twice = store.register_employer(&clerk(EAST), region(EAST), employer).await;
    assert!(matches!(&twice, Err(e) if e.code() == "employer.exists"), "{twice:?}");
    let hidden = store.employer(region(WEST), &code).await;
    assert!(matches!(&hidden, Err(e) if e.code() == "employer.not_found"), "{hidden:?}");
    assert_eq!(store.employers(city, 0).await.expect("list").1.iter().filter(|e| e.code == code).count(), 1);

    store
        .create_household(
            &clerk(EAST),
            region(EAST),
            NewHousehold { household_id: hh("HH-WORK"), region: region(EAST), address: "工厂路 1 号".into() },
        )
        .await
        .expect("household");
    let mut ids = Vec::new();
    for (serial, maternity) in [(981_u16, true), (982, false)] {
        let id = person_id(EAST, serial);
        let employee = Coverage {
            scheme: Scheme::Employee,
            category: PersonCategory::Employed,
            maternity,
            tier_history: Some(TierHistory { initial: Tier::new(1).expect("tier"), since: date!(2024 - 01 - 01), changes: Vec::new() }),
            ..coverage(id, EAST)
        };
        let person = NewPerson { name: pn(&format!("职工{serial}")), card_no: None, household_id: hh("HH-WORK"), coverage: employee };
        store.enrol(&clerk(EAST), region(EAST), person).await.expect("enrol");
        ids.push(id);
    }
    // Wages of 8,000 and 5,000: 8% of each (6% employer, 2% employee, the 2% to the
    // account), and the first person's maternity 0.5%.
    let employee_breakdown = |base: i64| {
        serde_json::to_string(&yibao_engine::EmployeeContribution {
            base: Fen::new(base),
            employer: Fen::new(base * 6 / 100),
            employee: Fen::new(base * 2 / 100),
            to_account: Fen::new(base * 2 / 100),
            to_pool: Fen::new(base * 6 / 100),
        })
        .expect("json")
    };
    let bill = |id: NationalId, kind, due: i64, breakdown_json: String| NewContribution {
        person_id: id,
        kind,
        period: period("2026-02"),
        due_fen: Fen::new(due),
        paid_fen: Fen::ZERO,
        breakdown_json,
    };
    let maternity_json =
        serde_json::to_string(&yibao_engine::MaternityContribution { base: Fen::new(800_000), employer: Fen::new(4_000) }).expect("json");
    let mut spells = Vec::new();
    for id in &ids {
        spells.push(store.person(city, id).await.expect("person").coverage);
    }
    let declaration = NewDeclaration {
        employer: code,
        period: period("2026-02"),
        due_on: date!(2026 - 03 - 15),
        lines: vec![
            DeclarationLine {
                person_id: ids[0],
                wage_fen: Fen::new(800_000),
                base_fen: Fen::new(800_000),
                employee_due_fen: Fen::new(64_000),
                maternity_due_fen: Fen::new(4_000),
                employee_booked_in: None,
                maternity_booked_in: None,
            },
            DeclarationLine {
                person_id: ids[1],
                wage_fen: Fen::new(500_000),
                base_fen: Fen::new(500_000),
                employee_due_fen: Fen::new(40_000),
                maternity_due_fen: Fen::ZERO,
                employee_booked_in: None,
                maternity_booked_in: None,
            },
        ],
        bills: vec![
            bill(ids[0], ContributionKind::Employee, 64_000, employee_breakdown(800_000)),
            bill(ids[0], ContributionKind::Maternity, 4_000, maternity_json),
            bill(ids[1], ContributionKind::Employee, 40_000, employee_breakdown(500_000)),
        ],
        spells: spells.clone(),
    };
    // A line billed under a spell the person no longer has (a change committed between the
    // reading and the writing) is refused, and nothing of the declaration is written.
    let mut stale = declaration.clone();
    stale.spells[1].category = PersonCategory::Retired;
    let refused = store.declare(&clerk(EAST), region(EAST), stale).await;
    assert!(matches!(&refused, Err(e) if e.code() == "declaration.changed"), "{refused:?}");
    // What does not bill the month (the account's balance, spent by a settlement meanwhile)
    // changes nothing.
    let mut declaration = declaration;
    declaration.spells[0].personal_account_balance = Fen::new(123);
    let declared = store.declare(&clerk(EAST), region(EAST), declaration.clone()).await.expect("declare");
    assert_eq!((declared.due_fen, declared.owed_fen), (Fen::new(108_000), Fen::new(108_000)));
    assert!(declared.lines.iter().all(|line| line.employee_booked_in == Some(region(EAST))), "{:?}", declared.lines);
    assert_eq!((declared.lines[0].maternity_booked_in, declared.lines[1].maternity_booked_in), (Some(region(EAST)), None));
    let again = store.declare(&clerk(EAST), region(EAST), declaration).await;
    assert!(matches!(&again, Err(e) if e.code() == "declaration.exists"), "{again:?}");
    let (owing, _) = store.arrears(city, "2026-02", 100).await.expect("arrears");
    let owed_by = |id: NationalId| owing.iter().filter(|line| line.person_id == id).map(|line| line.owed_fen).sum::<Fen>();
    assert_eq!((owed_by(ids[0]), owed_by(ids[1])), (Fen::new(68_000), Fen::new(40_000)), "the bills are the persons' arrears");

    // A month on a declaration is the employer's to pay, with its late fee: not at the
    // counter, and not on another employer's declaration.
    let counter =
        NewContribution { paid_fen: Fen::new(10_000), ..bill(ids[1], ContributionKind::Employee, 40_000, employee_breakdown(500_000)) };
    let refused = store.record_contribution(&clerk(EAST), region(EAST), counter).await;
    assert!(matches!(&refused, Err(e) if e.code() == "contribution.declared"), "{refused:?}");
    let rival = EmployerCode::from_parts(region(EAST), 4_243).expect("code");
    let rival_employer =
        NewEmployer { code: rival, name: "东县另一厂".into(), region: region(EAST), registered_on: date!(2025 - 07 - 01) };
    store.register_employer(&clerk(EAST), region(EAST), rival_employer).await.expect("register");
    let poach = NewDeclaration {
        employer: rival,
        period: period("2026-02"),
        due_on: date!(2026 - 03 - 15),
        lines: vec![DeclarationLine {
            person_id: ids[1],
            wage_fen: Fen::new(500_000),
            base_fen: Fen::new(500_000),
            employee_due_fen: Fen::new(40_000),
            maternity_due_fen: Fen::ZERO,
            employee_booked_in: None,
            maternity_booked_in: None,
        }],
        bills: vec![bill(ids[1], ContributionKind::Employee, 40_000, employee_breakdown(500_000))],
        spells: vec![spells[1].clone()],
    };
    let poached = store.declare(&clerk(EAST), region(EAST), poach).await;
    assert!(matches!(&poached, Err(e) if e.code() == "declaration.person_declared"), "{poached:?}");
    assert_eq!(store.employers(region(EAST), 0).await.expect("list").0, 2, "{:?}", store.employers(city, 0).await);
    assert_eq!(store.employers(city, 1).await.expect("list").1.len(), 1, "the second page");
    // A death, an end of coverage or a change of what bills the month, dated before a
    // declared month, is refused in the store's transaction; a new household alone is not.
    let died = store.record_death(&clerk(EAST), region(EAST), &ids[1], date!(2026 - 01 - 20)).await;
    assert!(matches!(&died, Err(e) if e.code() == "person.declared_after"), "{died:?}");
    let ended = store.end_coverage(&clerk(EAST), region(EAST), &ids[1], date!(2026 - 01 - 31)).await;
    assert!(matches!(&ended, Err(e) if e.code() == "person.declared_after"), "{ended:?}");
    let to_resident = yibao_engine::CoverageChange {
        on: date!(2026 - 02 - 01),
        region: region(EAST),
        scheme: Scheme::Resident,
        category: PersonCategory::Resident,
        tier: Some(Tier::new(3).expect("tier")),
        household_changes: false,
    };
    let changed = store.change_coverage(&clerk(EAST), region(EAST), &ids[1], to_resident, hh("HH-WORK")).await;
    assert!(matches!(&changed, Err(e) if e.code() == "person.declared_after"), "{changed:?}");
    let listed = store.declarations_of(region(EAST), &code).await.expect("declarations");
    assert_eq!((listed.len(), listed[0].owed_fen), (1, Fen::new(108_000)));

    // Paid on 25 March, ten days after the due day: 1,080.00 × 0.05% × 10 = 5.40.
    let accountant = Actor { at: datetime!(2026-03-26 10:00 UTC), ..clerk(EAST) };
    let payment = |amount: i64, paid_on| EmployerPayment {
        employer: code,
        period: period("2026-02"),
        paid_on,
        amount_fen: Fen::new(amount),
        late_fee_rate_bp: RatioBp::new(5),
        rounding: yibao_domain::Rounding::HalfUp,
    };
    let early = store.pay_declaration(&accountant, region(EAST), payment(108_000, date!(2026 - 02 - 28))).await;
    assert!(matches!(&early, Err(e) if e.code() == "employer.bad_date"), "paid before it was declared: {early:?}");
    let short = store.pay_declaration(&accountant, region(EAST), payment(108_000, date!(2026 - 03 - 25))).await;
    assert!(matches!(&short, Err(e) if e.code() == "employer.amount_mismatch" && e.to_string().contains("1085.40")), "{short:?}");
    let paid = store.pay_declaration(&accountant, region(EAST), payment(108_540, date!(2026 - 03 - 25))).await.expect("pay");
    let receipt = paid.payment.expect("paid");
    assert_eq!((receipt.contributions_fen, receipt.late_fee.days, receipt.late_fee.fee_fen), (Fen::new(108_000), 10, Fen::new(540)));
    assert_eq!(paid.owed_fen, Fen::ZERO);
    let (owing, _) = store.arrears(city, "2026-02", 100).await.expect("arrears");
    assert!(owing.iter().all(|line| !ids.contains(&line.person_id)), "nothing owed for February: {owing:?}");
    let twice = store.pay_declaration(&accountant, region(EAST), payment(108_540, date!(2026 - 03 - 25))).await;
    assert!(matches!(&twice, Err(e) if e.code() == "declaration.paid"), "{twice:?}");
    let account = store.person(city, &ids[0]).await.expect("person").coverage.personal_account_balance;
    assert_eq!(account, Fen::new(16_000), "the employee's 2% credited once the month is paid");
    let fee = store
        .transfers_caused_by(city, yibao_ledger::RecordKind::EmployerPayment, vec![format!("{code}/2026-02")])
        .await
        .expect("transfers");
    assert_eq!(fee.len(), 1, "{fee:?}");
    assert_eq!((fee[0].transfer.reason, fee[0].transfer.amount_fen), (yibao_ledger::Reason::LateFee, Fen::new(540)));
    assert_eq!(store.declarations_of(city, &code).await.expect("declarations")[0].payment, Some(receipt));

    // The months count toward the retiree minimum with those carried in.
    assert_eq!(store.contribution_months(city, &ids[0]).await.expect("months"), (0, 1));
    store.set_carried_months(&clerk(EAST), region(EAST), &ids[0], 250).await.expect("carried");
    assert_eq!(store.contribution_months(city, &ids[0]).await.expect("months"), (250, 1));
    assert!(book_breaches(store).await.is_empty(), "the books hold: {:?}", book_breaches(store).await);
    assert!(verify_audit(store).await.expect("verify").breaks.is_empty());
}

/// Issue 16 item 3, what a hostile review found (R-ENR-5): an employee with money in the
/// personal account moves county (the books still agree: the county left keeps no account);
/// a month paid half before a move is completed after it in the same chain (paid once, the
/// account credited once, nothing owed); the search names the person once and the card
/// number is free in the county left; back in the employee scheme the same year, its year
/// goes on where it was left (the deductible is not paid twice); moving back into a
/// household whose id the other county also has is a county move.
pub async fn run_moves_with_money<S: Store + yibao_store::FundStore + yibao_store::ContributionStore>(store: Arc<S>) {
    use yibao_store::{ContributionKind, NewContribution};
    let policy = policy();
    let store = &*store;
    let city = region(CITY);
    let id = person_id(EAST, 978);
    for (place, household) in [(EAST, "HH-SAME"), (WEST, "HH-SAME")] {
        store
            .create_household(
                &clerk(place),
                region(place),
                NewHousehold { household_id: hh(household), region: region(place), address: "同名户 1 号".into() },
            )
            .await
            .expect("household");
    }
    let employee = Coverage {
        scheme: Scheme::Employee,
        category: PersonCategory::Employed,
        tier_history: Some(TierHistory { initial: Tier::new(1).expect("tier"), since: date!(2024 - 01 - 01), changes: Vec::new() }),
        personal_account_balance: Fen::yuan(500),
        use_personal_account: false,
        ..coverage(id, EAST)
    };
    let person = NewPerson { name: pn("孙钱"), card_no: Some("CARD-978".into()), household_id: hh("HH-SAME"), coverage: employee };
    store.enrol(&clerk(EAST), region(EAST), person).await.expect("enrol");
    let breakdown = |to_account| {
        serde_json::to_string(&yibao_engine::EmployeeContribution {
            base: Fen::new(1_000_000),
            employer: Fen::new(60_000),
            employee: Fen::new(20_000),
            to_account: Fen::new(to_account),
            to_pool: Fen::new(80_000 - to_account),
        })
        .expect("json")
    };
    let april = |paid| NewContribution {
        person_id: id,
        kind: ContributionKind::Employee,
        period: period("2026-04"),
        due_fen: Fen::new(80_000),
        paid_fen: Fen::new(paid),
        breakdown_json: breakdown(26_000),
    };
    store.record_contribution(&clerk(EAST), region(EAST), april(40_000)).await.expect("half of April in East");
    let settle = |c: Claim| {
        let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
        async move { store.settle(&clerk(CITY), city, request(&c, id), compute).await }
    };
    let first = settle(claim("MONEY-1", 4000, 3)).await.expect("an employee's stay").claim;
    let deductible =
        |json: &str| serde_json::from_str::<serde_json::Value>(json).expect("settlement")["act_pay_dedc"].as_str().map(str::to_owned);
    assert_eq!(deductible(&first.settlement_json).as_deref(), Some("900.00"), "the employee deductible at a tertiary hospital");

    // East → West, still an employee: the account and the card go with the person.
    let to_west = yibao_engine::CoverageChange {
        on: date!(2026 - 04 - 15),
        region: region(WEST),
        scheme: Scheme::Employee,
        category: PersonCategory::Employed,
        tier: Some(Tier::new(1).expect("tier")),
        household_changes: false,
    };
    let moved = store
        .change_coverage(&clerk(CITY), city, &id, to_west, hh("HH-SAME"))
        .await
        .expect("a county move into a household of the same id");
    assert_eq!(moved.history[0].ended_by, yibao_engine::CoverageChangeKind::CountyMove);
    assert_eq!(moved.coverage.personal_account_balance, Fen::yuan(500));
    assert!(book_breaches(store).await.is_empty(), "the books agree after the move: {:?}", book_breaches(store).await);
    let found = store.search_persons(city, &PersonQuery { person_id: Some(id), ..PersonQuery::default() }).await.expect("search");
    assert_eq!((found.total, found.persons[0].coverage.region), (1, region(WEST)), "one person, where they are insured");
    let newcomer = NewPerson {
        name: pn("新人"),
        card_no: Some("CARD-978".into()),
        household_id: hh("HH-SAME"),
        coverage: coverage(person_id(EAST, 979), EAST),
    };
    store.enrol(&clerk(EAST), region(EAST), newcomer).await.expect("the card number is free in the county left");

    // The rest of April, paid in West under a receipt: April's chain completes where it
    // began, once; the form sent again is answered with that record, not refused as unknown.
    let west_clerk = clerk(WEST);
    let receipted = || store.record_receipted_contribution(&west_clerk, region(WEST), april(40_000), "W-APRIL".to_owned());
    let rest = receipted().await.expect("the rest of April");
    assert_eq!(rest.region, region(EAST), "a period's records stay in one county");
    assert_eq!(receipted().await.expect("the same receipt again"), rest);
    let again = store.record_contribution(&clerk(WEST), region(WEST), april(80_000)).await;
    assert!(matches!(&again, Err(e) if e.code() == "contribution.overpaid"), "April is paid: {again:?}");
    let now = store.person(city, &id).await.expect("person");
    assert_eq!(now.coverage.personal_account_balance, Fen::new(50_000 + 26_000), "the account's share credited once");
    let (owed, _) = store.arrears(city, "2026-04", 100).await.expect("arrears");
    assert!(owed.iter().all(|line| line.person_id != id), "nothing owed for April: {owed:?}");
    assert_eq!(store.contributions_of(city, &id).await.expect("list").len(), 2, "both records, wherever booked");

    // Resident for a week of May, then an employee again: the employee year goes on.
    let to_resident = yibao_engine::CoverageChange {
        on: date!(2026 - 05 - 01),
        region: region(WEST),
        scheme: Scheme::Resident,
        category: PersonCategory::Resident,
        tier: Some(Tier::new(3).expect("tier")),
        household_changes: false,
    };
    store.change_coverage(&clerk(WEST), region(WEST), &id, to_resident, hh("HH-SAME")).await.expect("to resident");
    let employee_year = moved.coverage.clone();
    let back = yibao_engine::CoverageChange {
        on: date!(2026 - 05 - 08),
        region: region(WEST),
        scheme: Scheme::Employee,
        category: PersonCategory::Employed,
        tier: Some(Tier::new(1).expect("tier")),
        household_changes: false,
    };
    let returned = store.change_coverage(&clerk(WEST), region(WEST), &id, back, hh("HH-SAME")).await.expect("back to employee");
    assert_eq!(returned.coverage.personal_account_balance, Fen::new(76_000), "{employee_year:?}");
    let acc = store.accumulators(city, &id, 2026).await.expect("acc");
    assert_eq!(acc.admissions, 1, "the employee year of March is taken up again");
    let mut later = claim("MONEY-2", 4000, 3);
    (later.admission_date, later.discharge_date) = (date!(2026 - 05 - 20), date!(2026 - 05 - 20));
    let second = settle(later).await.expect("an employee's stay again").claim;
    let pooled = |json: &str| {
        Fen::parse_yuan(serde_json::from_str::<serde_json::Value>(json).expect("settlement")["hifp_pay"].as_str().expect("hifp_pay"))
            .expect("yuan")
    };
    let after_second = store.accumulators(city, &id, 2026).await.expect("acc");
    assert_eq!(after_second.admissions, 2, "the second admission of the employee year");
    assert_eq!(after_second.pooled_paid, acc.pooled_paid + pooled(&second.settlement_json), "the annual cap counts on from March");
    assert_eq!(acc.pooled_paid, pooled(&first.settlement_json), "what March's stay drew from the pool");
    // East again, into its household of the same id.
    let home = yibao_engine::CoverageChange {
        on: date!(2026 - 06 - 01),
        region: region(EAST),
        scheme: Scheme::Employee,
        category: PersonCategory::Employed,
        tier: Some(Tier::new(1).expect("tier")),
        household_changes: false,
    };
    // East gave the card number to the newcomer meanwhile: one card, one person per county.
    let taken = store.change_coverage(&clerk(CITY), city, &id, home.clone(), hh("HH-SAME")).await;
    assert!(matches!(&taken, Err(e) if e.code() == "person.card_taken"), "{taken:?}");
    let freed = yibao_store::PersonUpdate { card_no: Some(Some("CARD-979".into())), ..yibao_store::PersonUpdate::default() };
    store.update_person(&clerk(EAST), region(EAST), &person_id(EAST, 979), freed).await.expect("the newcomer's own card");
    let home = store.change_coverage(&clerk(CITY), city, &id, home, hh("HH-SAME")).await.expect("back to East");
    assert_eq!((home.coverage.region, home.history.len()), (region(EAST), 4));
    assert_eq!(store.accumulators(region(EAST), &id, 2026).await.expect("acc").admissions, 2, "the counters came home");
    assert!(book_breaches(store).await.is_empty(), "the books hold: {:?}", book_breaches(store).await);
    assert!(verify_audit(store).await.expect("verify").breaks.is_empty());
}

/// Issue 16 item 3 (R-ENR-5): a person moves from the employee to the resident scheme and
/// then to another county, and each claim is settled under the coverage in force on its
/// date of service, whenever it is settled: the scheme's counters, the county the claim and
/// its money belong to, the personal account carried; a change dated before a settled claim
/// and a late claim of the scheme left are refused; the claims stay where they happened and
/// reverse against the counters where the person is now; the books and the audit chains
/// hold.
pub async fn run_coverage_changes<S: Store + yibao_store::FundStore>(store: Arc<S>) {
    let policy = policy();
    let store = &*store;
    let city = region(CITY);
    let id = person_id(EAST, 977);
    store
        .create_household(
            &clerk(EAST),
            region(EAST),
            NewHousehold { household_id: hh("HH-MOVE-EAST"), region: region(EAST), address: "东街 70 号".into() },
        )
        .await
        .expect("household");
    let employee = Coverage {
        scheme: Scheme::Employee,
        category: PersonCategory::Employed,
        tier_history: Some(TierHistory { initial: Tier::new(1).expect("tier"), since: date!(2024 - 01 - 01), changes: Vec::new() }),
        personal_account_balance: Fen::yuan(300),
        use_personal_account: true,
        ..coverage(id, EAST)
    };
    let person =
        NewPerson { name: pn("赵七十"), card_no: Some("CARD-MOVE-977".into()), household_id: hh("HH-MOVE-EAST"), coverage: employee };
    store.enrol(&clerk(EAST), region(EAST), person).await.expect("enrol");
    let settle = |c: Claim| {
        let compute = engine_settlement(Arc::clone(&policy), c.clone(), Explain::Off);
        async move { store.settle(&clerk(CITY), city, request(&c, id), compute).await }
    };
    let insutype =
        |json: &str| serde_json::from_str::<serde_json::Value>(json).expect("settlement")["insutype"].as_str().map(str::to_owned);

    // An employee's stay: the employees' fund, the personal account pays.
    let first = settle(claim("MOVE-1", 4000, 5)).await.expect("settles as an employee").claim;
    assert_eq!((first.region, insutype(&first.settlement_json).as_deref()), (region(EAST), Some("310")));
    assert!(first.personal_account_paid().expect("paid").get() > 0, "the employee pays from the personal account");
    let employee_year = store.accumulators(city, &id, 2026).await.expect("acc");
    assert_eq!(employee_year.admissions, 1);
    let balance = store.person(city, &id).await.expect("person").coverage.personal_account_balance;

    let to_resident = |on| yibao_engine::CoverageChange {
        on,
        region: region(EAST),
        scheme: Scheme::Resident,
        category: PersonCategory::Resident,
        tier: Some(Tier::new(3).expect("tier")),
        household_changes: false,
    };
    // Dated before the settled stay: the stay would be under the wrong coverage.
    let early = store.change_coverage(&clerk(EAST), region(EAST), &id, to_resident(date!(2026 - 03 - 04)), hh("HH-MOVE-EAST")).await;
    assert!(matches!(&early, Err(e) if e.code() == "person.change_after_claims"), "{early:?}");
    // Another county's clerk cannot move the person.
    let outside = store.change_coverage(&clerk(WEST), region(WEST), &id, to_resident(date!(2026 - 03 - 10)), hh("HH-MOVE-EAST")).await;
    assert!(matches!(outside, Err(StoreError::PersonNotFound(_))), "{outside:?}");

    // Employee → resident from 10 March, in the same county and household.
    let moved = store
        .change_coverage(&clerk(EAST), region(EAST), &id, to_resident(date!(2026 - 03 - 10)), hh("HH-MOVE-EAST"))
        .await
        .expect("to resident");
    assert_eq!(moved.history.len(), 1);
    assert_eq!(moved.history[0].ended_by, yibao_engine::CoverageChangeKind::SchemeMove);
    assert_eq!(moved.history[0].coverage.coverage_until, Some(date!(2026 - 03 - 09)));
    assert_eq!(moved.history[0].accumulators, Some(employee_year), "the employee year's counters go with the spell");
    assert_eq!((moved.coverage.scheme, moved.coverage.coverage_from), (Scheme::Resident, date!(2026 - 03 - 10)));
    assert_eq!(moved.coverage.personal_account_balance, balance, "the personal account is carried");
    assert_eq!(store.accumulators(city, &id, 2026).await.expect("acc"), Accumulators::new_year(2026), "the resident year starts at zero");
    assert_eq!(store.person(city, &id).await.expect("read back"), moved);

    // A resident's stay: the residents' fund, from zero.
    let second = settle(claim("MOVE-2", 4000, 12)).await.expect("settles as a resident").claim;
    assert_eq!((second.region, insutype(&second.settlement_json).as_deref()), (region(EAST), Some("390")));
    let resident_year = store.accumulators(city, &id, 2026).await.expect("acc");
    assert_eq!(resident_year.admissions, 1, "the employee stay is not counted in the resident year");
    // A late stay of the employee spell: its year's counters were set aside.
    let late_employee = settle(claim("MOVE-LATE-E", 4000, 7)).await;
    assert!(matches!(&late_employee, Err(e) if e.code() == "claim.coverage_changed"), "{late_employee:?}");

    // East → West from 15 March, into a household there.
    store
        .create_household(
            &clerk(WEST),
            region(WEST),
            NewHousehold { household_id: hh("HH-MOVE-WEST"), region: region(WEST), address: "西街 70 号".into() },
        )
        .await
        .expect("household");
    let to_west = yibao_engine::CoverageChange { on: date!(2026 - 03 - 15), region: region(WEST), ..to_resident(date!(2026 - 03 - 15)) };
    // A household is a county's: the same id names a household of the county moved to.
    let same_household = store.change_coverage(&clerk(CITY), city, &id, to_west.clone(), hh("HH-MOVE-EAST")).await;
    assert!(matches!(same_household, Err(StoreError::HouseholdNotFound(_))), "{same_household:?}");
    let no_household = store.change_coverage(&clerk(CITY), city, &id, to_west.clone(), hh("HH-NOWHERE")).await;
    assert!(matches!(no_household, Err(StoreError::HouseholdNotFound(_))), "{no_household:?}");
    let east_clerk = store.change_coverage(&clerk(EAST), region(EAST), &id, to_west.clone(), hh("HH-MOVE-WEST")).await;
    assert!(matches!(east_clerk, Err(StoreError::OutsideRegion { .. })), "a move between counties is the city's: {east_clerk:?}");
    let west = store.change_coverage(&clerk(CITY), city, &id, to_west, hh("HH-MOVE-WEST")).await.expect("to West");
    assert_eq!(west.history.len(), 2);
    assert_eq!(west.history[1].ended_by, yibao_engine::CoverageChangeKind::CountyMove);
    assert_eq!((west.coverage.region, west.household_id.as_str()), (region(WEST), "HH-MOVE-WEST"));
    assert!(matches!(store.person(region(EAST), &id).await, Err(StoreError::PersonNotFound(_))), "East no longer holds the person");
    assert_eq!(store.person(region(WEST), &id).await.expect("West holds the person"), west);
    assert_eq!(store.accumulators(region(WEST), &id, 2026).await.expect("acc"), resident_year, "the city's resident year goes on");
    // East's search no longer names the person (East's ended row stays for its records); the
    // history says where they were.
    let east_row = store
        .search_persons(region(EAST), &PersonQuery { household_id: Some("HH-MOVE-EAST".into()), ..PersonQuery::default() })
        .await
        .expect("search");
    assert!(east_row.persons.is_empty(), "{east_row:?}");
    assert_eq!((west.history[1].coverage.region, west.history[1].coverage.coverage_until), (region(EAST), Some(date!(2026 - 03 - 14))));

    // A late stay of the East spell: settled under the East coverage, booked where the
    // person is now (West holds their counters), on the carried resident year.
    let late = settle(claim("MOVE-LATE-R", 3000, 13)).await.expect("a late East stay settles").claim;
    assert_eq!((late.region, insutype(&late.settlement_json).as_deref()), (region(WEST), Some("390")));
    let after_late = store.accumulators(city, &id, 2026).await.expect("acc");
    assert_eq!(after_late.admissions, 2, "counted on the carried resident year");
    // A stay in West.
    let third = settle(claim("MOVE-3", 3000, 16)).await.expect("settles in West").claim;
    assert_eq!((third.region, insutype(&third.settlement_json).as_deref()), (region(WEST), Some("390")));
    let claims = store.claims_of_person(city, &id).await.expect("claims");
    assert_eq!(claims.len(), 4, "every claim, wherever it was booked");
    let mut in_west: Vec<String> =
        store.claims_of_person(region(WEST), &id).await.expect("claims").into_iter().map(|c| c.claim_id).collect();
    in_west.sort();
    assert_eq!(in_west, ["MOVE-3", "MOVE-LATE-R"], "a county sees the claims booked there");
    // Reversals run back through the counters where the person is now; a claim of the
    // county they left is not reversed at the counter.
    let left_behind = store.reverse(&clerk(EAST), region(EAST), "H41992100007", "MOVE-2", "test").await;
    assert!(matches!(&left_behind, Err(e) if e.code() == "claim.person_moved"), "{left_behind:?}");
    store.reverse(&clerk(WEST), region(WEST), "H41992100007", "MOVE-3", "test").await.expect("reverse West");
    assert_eq!(store.accumulators(city, &id, 2026).await.expect("acc"), after_late);
    store.reverse(&clerk(WEST), region(WEST), "H41992100007", "MOVE-LATE-R", "test").await.expect("reverse the late stay");
    assert_eq!(store.accumulators(city, &id, 2026).await.expect("acc"), resident_year);
    // Re-enrolment after coverage ended: a new spell after the gap.
    store.end_coverage(&clerk(WEST), region(WEST), &id, date!(2026 - 04 - 30)).await.expect("end");
    let again = yibao_engine::CoverageChange { on: date!(2026 - 06 - 01), region: region(WEST), ..to_resident(date!(2026 - 06 - 01)) };
    let back = store.change_coverage(&clerk(WEST), region(WEST), &id, again, hh("HH-MOVE-WEST")).await.expect("re-enrol");
    assert_eq!(back.history[2].ended_by, yibao_engine::CoverageChangeKind::Reenrolment);
    assert_eq!(back.history[2].coverage.coverage_until, Some(date!(2026 - 04 - 30)));
    // A newborn-to-death life ends: coverage ends on the day of death and is never changed.
    let dead = store.record_death(&clerk(WEST), region(WEST), &id, date!(2026 - 06 - 10)).await.expect("death");
    assert_eq!((dead.died_on, dead.coverage.coverage_until), (Some(date!(2026 - 06 - 10)), Some(date!(2026 - 06 - 10))));
    let mut dead_claim = claim("MOVE-DEAD", 1000, 28);
    (dead_claim.admission_date, dead_claim.discharge_date) = (date!(2026 - 06 - 11), date!(2026 - 06 - 11));
    let after_death = settle(dead_claim).await;
    assert!(matches!(&after_death, Err(e) if e.code() == "claim.after_death"), "a claim after the death is refused: {after_death:?}");
    let again = yibao_engine::CoverageChange { on: date!(2026 - 07 - 01), region: region(WEST), ..to_resident(date!(2026 - 07 - 01)) };
    for refused in [
        store.change_coverage(&clerk(WEST), region(WEST), &id, again, hh("HH-MOVE-WEST")).await,
        store.end_coverage(&clerk(WEST), region(WEST), &id, date!(2026 - 06 - 30)).await,
        store.record_death(&clerk(WEST), region(WEST), &id, date!(2026 - 06 - 11)).await,
    ] {
        assert!(matches!(&refused, Err(e) if e.code() == "person.deceased"), "{refused:?}");
    }
    assert!(book_breaches(store).await.is_empty(), "the books hold: {:?}", book_breaches(store).await);
    let verification = verify_audit(store).await.expect("verify");
    assert!(verification.breaks.is_empty(), "{:?}", verification.breaks);
    for (place, action) in [(EAST, "person.move_out"), (WEST, "person.move_in"), (EAST, "person.change_coverage"), (WEST, "person.death")] {
        let entries = store.audit_entries(region(place), 0, 100_000).await.expect("audit");
        assert!(entries.iter().any(|e| e.action == action && e.entity == id.as_str()), "{place} audits {action}");
    }
}

/// The dated catalogue (issue 13): versions written are read back as they were, every
/// column; a load again replaces the versions of the same item, region and first day and
/// keeps the rest; a version that is wrong on its own is refused before anything is written.
pub async fn run_catalogue<S: yibao_store::CatalogueStore>(store: Arc<S>) {
    use yibao_domain::{CatalogueClass, Fen, ItemCode, ItemKind, RatioBp};
    use yibao_store::catalogue::CatalogueVersion;
    use yibao_store::{CatalogueLoad, StoreError};
    let version = |code: &str, region: Option<&str>, from: time::Date, class: CatalogueClass| {
        let code = ItemCode::parse(code).expect("code");
        CatalogueVersion {
            item: yibao_policy::CatalogueItem {
                code,
                name: "阿司匹林肠溶片 aspirin".into(),
                class,
                restricted: class == CatalogueClass::B,
                price_cap: [None, Some(Fen::new(1_250)), Some(Fen::new(1_500)), None],
                selfpay_share: (class == CatalogueClass::B).then(|| RatioBp::new(1_000)),
                // Class B national versions are negotiated (谈判药品): the column reads back.
                negotiated: class == CatalogueClass::B && region.is_none(),
            },
            kind: ItemKind::of(&code).expect("shape"),
            region: region.map(|r| RegionCode::parse(r).expect("region")),
            from,
            until: (class == CatalogueClass::B).then_some(date!(2024 - 12 - 31)),
            cite: "医保发〔2023〕30号".into(),
        }
    };
    let actor =
        Actor { who: "policy.li".into(), role: "policy_officer".into(), source: "contract".into(), at: datetime!(2026-11-01 09:00 UTC) };
    let load = CatalogueLoad {
        file: "list.csv".into(),
        sha256: "0".repeat(64),
        cite: "医保发〔2023〕30号".into(),
        rows: 3,
        added: 3,
        ..CatalogueLoad::default()
    };
    let city = region(CITY);
    assert!(store.catalogue_versions().await.expect("read").is_empty(), "a new store holds no catalogue");
    assert_eq!(store.catalogue_stamp().await.expect("stamp"), 0);
    let first = vec![
        version("XA01ABD075A002010100483", None, date!(2024 - 01 - 01), CatalogueClass::B),
        version("XA01ABD075A002010100483", Some("410000"), date!(2024 - 01 - 01), CatalogueClass::A),
        version("001201000010000", Some(CITY), date!(2024 - 01 - 01), CatalogueClass::A),
    ];
    fn change<'a>(
        load: &'a CatalogueLoad,
        expected: i64,
        versions: &'a [CatalogueVersion],
        removed: &'a [yibao_store::catalogue::VersionKey],
    ) -> yibao_store::CatalogueChange<'a> {
        yibao_store::CatalogueChange { load, expected, versions, removed, proposal: None }
    }
    store.put_catalogue(&actor, city, change(&load, 0, &first, &[])).await.expect("load");
    let sorted = |mut list: Vec<CatalogueVersion>| {
        list.sort_by_key(CatalogueVersion::key);
        list
    };
    assert_eq!(sorted(store.catalogue_versions().await.expect("read")), sorted(first.clone()), "every column read back");
    // A load merged on the catalogue before another load is refused, nothing written.
    let late = store.put_catalogue(&actor, city, change(&load, 0, &[], &[])).await;
    assert!(matches!(late, Err(StoreError::Refused { code: "catalogue.stale", .. })), "{late:?}");
    let mut corrected = version("XA01ABD075A002010100483", None, date!(2024 - 01 - 01), CatalogueClass::C);
    corrected.item.name = "corrected".into();
    let next_year = version("XA01ABD075A002010100483", None, date!(2025 - 01 - 01), CatalogueClass::A);
    store.put_catalogue(&actor, city, change(&load, 1, &[corrected.clone(), next_year.clone()], &[])).await.expect("load again");
    let held = sorted(store.catalogue_versions().await.expect("read"));
    assert_eq!(held, sorted(vec![corrected, next_year, first[1].clone(), first[2].clone()]));
    let mut backwards = version("001201000010001", None, date!(2024 - 01 - 01), CatalogueClass::A);
    backwards.until = Some(date!(2023 - 01 - 01));
    let good = version("001201000010002", None, date!(2024 - 01 - 01), CatalogueClass::A);
    assert!(matches!(store.put_catalogue(&actor, city, change(&load, 2, &[good, backwards], &[])).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.catalogue_versions().await.expect("read").len(), 4, "nothing of a refused load is written");
    assert_eq!(store.catalogue_stamp().await.expect("stamp"), 2, "two loads recorded, the refused ones not");
    // A withdrawal deletes the version under its key, and only it.
    store.put_catalogue(&actor, city, change(&load, 2, &[], &[first[2].key()])).await.expect("withdraw");
    let held = sorted(store.catalogue_versions().await.expect("read"));
    assert_eq!(held.len(), 3);
    assert!(!held.iter().any(|v| v.key() == first[2].key()), "the withdrawn version is gone");
    assert_eq!(store.catalogue_stamp().await.expect("stamp"), 3);
    let loads = store.catalogue_loads(10).await.expect("loads");
    assert_eq!(loads.iter().map(|l| l.seq).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!((loads[0].loaded_by.as_str(), &loads[0].load), ("policy.li", &load));

    // Proposals (two people): the file is kept byte for byte; an approval writes the load
    // and marks the proposal in one transaction; a decided proposal is decided once.
    let file = b"hilist_code,hilist_name\n\x00\xff".to_vec();
    let first_proposal = store.propose_catalogue(&actor, city, &load, file.clone()).await.expect("propose");
    let second_proposal = store.propose_catalogue(&actor, city, &load, vec![1, 2, 3]).await.expect("propose");
    assert_eq!((first_proposal.seq, second_proposal.seq, first_proposal.status.as_str()), (1, 2, "proposed"));
    assert!(matches!(store.propose_catalogue(&actor, city, &load, Vec::new()).await, Err(StoreError::Invalid(_))));
    let (kept, bytes) = store.catalogue_proposal(1).await.expect("read").expect("kept");
    assert_eq!((kept.clone(), bytes), (first_proposal.clone(), file), "the proposal and its file read back");
    assert!(store.catalogue_proposal(9).await.expect("read").is_none());
    let reviewer = Actor { who: "policy.wang".into(), ..actor.clone() };
    let approved = yibao_store::CatalogueChange { proposal: Some(1), ..change(&load, 3, &[], &[]) };
    store.put_catalogue(&reviewer, city, approved).await.expect("approve");
    let again = yibao_store::CatalogueChange { proposal: Some(1), ..change(&load, 4, &[], &[]) };
    let twice = store.put_catalogue(&reviewer, city, again).await;
    assert!(matches!(twice, Err(StoreError::Refused { code: "catalogue.not_proposed", .. })), "{twice:?}");
    assert_eq!(store.catalogue_stamp().await.expect("stamp"), 4, "the approval is a load; the refused one wrote nothing");
    let rejected = store.reject_catalogue_proposal(&reviewer, city, 2, "wrong year").await.expect("reject");
    assert_eq!(
        (rejected.status.as_str(), rejected.decided_by.as_deref(), rejected.note.as_deref()),
        ("rejected", Some("policy.wang"), Some("wrong year"))
    );
    let late = store.reject_catalogue_proposal(&reviewer, city, 1, "late").await;
    assert!(matches!(late, Err(StoreError::Refused { code: "catalogue.not_proposed", .. })), "{late:?}");
    let listed = store.catalogue_proposals(10).await.expect("list");
    let summary: Vec<(i64, &str, Option<&str>)> = listed.iter().map(|p| (p.seq, p.status.as_str(), p.decided_by.as_deref())).collect();
    assert_eq!(summary, [(2, "rejected", Some("policy.wang")), (1, "approved", Some("policy.wang"))]);
}

/// The national interface's records (issue 14): a `msgid`'s first answer stands, even
/// between two answers kept at once; a sign-in is signed out once; a visit is written only
/// over the revision its writer read, so of two writes from one revision exactly one wins;
/// an institution's claims are read by the day they were settled or reversed.
pub async fn run_interface<S: Store + yibao_store::InterfaceStore>(store: Arc<S>) {
    use yibao_store::{InterfaceMessage, SignInRecord, VisitRecord};
    let (east_hospital, other) = (ic("H41992100007"), ic("H41990200003"));
    let at = datetime!(2026-03-10 02:00 UTC);
    let message = |answer: &str| InterfaceMessage {
        institution_code: east_hospital.clone(),
        msgid: "H41992100007202603101000000001".into(),
        infno: "2207".into(),
        input_sha256: "0".repeat(64),
        input: "{}".into(),
        answer: answer.into(),
        answered_at: at,
    };
    let (first, second) = tokio::join!(store.record_interface_answer(message("first")), store.record_interface_answer(message("second")));
    let (first, second) = (first.expect("kept"), second.expect("kept"));
    assert_eq!(first.answer, second.answer, "both writers return the one answer kept");
    let kept = store.interface_answer(&east_hospital, &first.msgid).await.expect("read").expect("kept");
    assert_eq!(kept, first);
    assert!(store.interface_answer(&other, &first.msgid).await.expect("read").is_none(), "a msgid is an institution's own");
    let long = InterfaceMessage { msgid: "x".repeat(65), ..message("long") };
    assert!(matches!(store.record_interface_answer(long).await, Err(StoreError::Invalid(_))));
    // A message is reserved before it runs: a second copy finds it in flight, then answered.
    use yibao_store::Reservation;
    let pending = |msgid: &str, at| InterfaceMessage { msgid: msgid.into(), answer: String::new(), answered_at: at, ..message("") };
    let stale_before = at - time::Duration::seconds(120);
    let (a, b) = tokio::join!(
        store.reserve_interface_message(pending("R-1", at), stale_before),
        store.reserve_interface_message(pending("R-1", at), stale_before)
    );
    let (a, b) = (a.expect("reserve"), b.expect("reserve"));
    assert!(
        matches!((&a, &b), (Reservation::Reserved, Reservation::InFlight(_)) | (Reservation::InFlight(_), Reservation::Reserved)),
        "one copy runs: {a:?} {b:?}"
    );
    let answered = store.record_interface_answer(InterfaceMessage { msgid: "R-1".into(), ..message("the answer") }).await.expect("kept");
    assert_eq!(answered.answer, "the answer");
    let again = store.reserve_interface_message(pending("R-1", at), stale_before).await.expect("reserve");
    assert_eq!(again, Reservation::Answered(answered), "an answered msgid is answered");
    // A reservation whose sender stopped is taken over after it goes stale; one released is free.
    let long_ago = at - time::Duration::seconds(600);
    assert_eq!(store.reserve_interface_message(pending("R-2", long_ago), stale_before).await.expect("reserve"), Reservation::Reserved);
    assert_eq!(store.reserve_interface_message(pending("R-2", at), stale_before).await.expect("take over"), Reservation::Reserved);
    assert!(matches!(store.reserve_interface_message(pending("R-2", at), stale_before).await.expect("reserve"), Reservation::InFlight(_)));
    store.release_interface_message(&east_hospital, "R-2").await.expect("release");
    assert_eq!(store.reserve_interface_message(pending("R-2", at), stale_before).await.expect("reserve"), Reservation::Reserved);
    let too_big = InterfaceMessage { input: "x".repeat(yibao_store::interface::INPUT_BYTES_MAX + 1), ..pending("R-3", at) };
    assert!(
        matches!(store.reserve_interface_message(too_big, stale_before).await, Err(StoreError::Invalid(_))),
        "nothing runs that cannot be kept"
    );

    let sign_in = SignInRecord {
        sign_no: "20260310020000abcdef012345".into(),
        institution_code: east_hospital.clone(),
        opter: "001".into(),
        signed_in_at: at,
        signed_out_at: None,
    };
    store.record_sign_in(sign_in.clone()).await.expect("signed in");
    assert!(matches!(store.record_sign_in(sign_in.clone()).await, Err(StoreError::Exists(_))), "a sign_no is new");
    let refused = store.record_sign_out(&other, &sign_in.sign_no, at).await;
    assert!(matches!(refused, Err(StoreError::Refused { code: "interface.not_signed_in", .. })), "{refused:?}");
    let out = store.record_sign_out(&east_hospital, &sign_in.sign_no, at).await.expect("signed out");
    assert_eq!(out.signed_out_at, Some(at));
    let again = store.record_sign_out(&east_hospital, &sign_in.sign_no, at).await;
    assert!(matches!(again, Err(StoreError::Refused { code: "interface.signed_out", .. })), "{again:?}");
    assert_eq!(store.sign_in_record(&east_hospital, &sign_in.sign_no).await.expect("read"), Some(out));

    let person = enrolled(&*store, EAST, 761, "HH-EAST-761").await;
    let visit = |revision: u32, state: &str| VisitRecord {
        mdtrt_id: "20260310abcdef0123456789".into(),
        institution_code: east_hospital.clone(),
        person_id: person,
        revision,
        state: state.into(),
        updated_at: at,
    };
    store.write_visit(visit(1, "opened"), None).await.expect("opened");
    assert!(matches!(store.write_visit(visit(1, "again"), None).await, Err(StoreError::Exists(_))));
    store.write_visit(visit(2, "lines"), Some(1)).await.expect("written over revision 1");
    let stale = store.write_visit(visit(2, "stale"), Some(1)).await;
    assert!(matches!(stale, Err(StoreError::Refused { code: "interface.visit_changed", .. })), "{stale:?}");
    let (a, b) = tokio::join!(store.write_visit(visit(3, "a"), Some(2)), store.write_visit(visit(3, "b"), Some(2)));
    assert!(a.is_ok() != b.is_ok(), "of two writes from one revision exactly one wins: {a:?} {b:?}");
    let stored = store.visit(&east_hospital, "20260310abcdef0123456789").await.expect("read").expect("a visit");
    assert_eq!(stored.revision, 3);
    assert_eq!(stored.state, if a.is_ok() { "a" } else { "b" });
    assert!(store.visit(&other, "20260310abcdef0123456789").await.expect("read").is_none(), "a visit is its institution's own");

    // Claims by the day they were settled (clerk's clock: 2026-03-01) or reversed.
    let c = claim("IFACE-1", 300, 4);
    let policy = policy();
    store
        .settle(&clerk(EAST), region(EAST), request(&c, person), engine_settlement(policy, c.clone(), Explain::Off))
        .await
        .expect("settled");
    let day = |from, to| store.institution_claims(region(CITY), &east_hospital, from, to);
    let found = day(date!(2026 - 03 - 01), date!(2026 - 03 - 01)).await.expect("read");
    assert!(found.iter().any(|r| r.claim_id == "IFACE-1"), "{found:?}");
    assert!(day(date!(2026 - 03 - 02), date!(2026 - 03 - 31)).await.expect("read").iter().all(|r| r.claim_id != "IFACE-1"));
    let mut reverser = clerk(EAST);
    reverser.at = datetime!(2026-03-05 08:00 UTC);
    store.reverse(&reverser, region(EAST), "H41992100007", "IFACE-1", "a duplicate upload").await.expect("reversed");
    let reversed = day(date!(2026 - 03 - 05), date!(2026 - 03 - 05)).await.expect("read");
    assert!(reversed.iter().any(|r| r.claim_id == "IFACE-1" && r.reversed_at.is_some()), "{reversed:?}");
    assert!(
        store.institution_claims(region(CITY), &other, date!(2026 - 03 - 01), date!(2026 - 03 - 31)).await.expect("read").is_empty(),
        "another institution's claims are not read"
    );
}

/// A city moving onto Yibao with years of adjustment-fund contributions behind it (issue 13):
/// what a county paid into the adjustment fund is brought in as its opening balance there,
/// and the county's legacy deficit is offset by it (R-FND-5, R-FND-6). Anything else into the
/// adjustment fund is refused. City 449900, county 449921:
/// - 300.00 brought in on 31 December 2025 as 449921's payments into the adjustment fund;
/// - a legacy gap of 1,000.00 established on 1 January 2026: 300.00 offset, 700.00 owed.
pub async fn run_adjustment_opening_balance<S: Store + yibao_store::FundStore>(store: Arc<S>) {
    use yibao_ledger::FundScheme;
    let (city, county) = (region("449900"), region("449921"));
    let accountant =
        Actor { who: "accountant".into(), role: "fund_accountant".into(), source: "127.0.0.1".into(), at: datetime!(2026-01-02 09:00 UTC) };
    let receipt = |kind, unit, reference: &str| yibao_store::FundReceipt {
        kind,
        scheme: FundScheme::MunicipalAdjustment,
        unit,
        amount_fen: Fen::new(30_000),
        value_date: date!(2025 - 12 - 31),
        reference: reference.into(),
    };
    for refused in [
        receipt(yibao_store::ReceiptKind::FinanceAdvance, county, "ADJ-ADV"),
        receipt(yibao_store::ReceiptKind::OpeningBalance, city, "ADJ-CITY"),
    ] {
        let answer = store.record_fund_receipt(&accountant, city, refused).await;
        assert!(matches!(answer, Err(StoreError::Invalid(_))), "{answer:?}");
    }
    store
        .record_fund_receipt(&accountant, city, receipt(yibao_store::ReceiptKind::OpeningBalance, county, "ADJ-OB"))
        .await
        .expect("brought in");
    let request = yibao_store::legacy::LegacyRequest {
        scheme: "resident".into(),
        county: "449921".into(),
        established_on: "2026-01-01".into(),
        opening_gap_fen: 100_000,
        paid_into_adjustment_fen: None,
        terms: yibao_store::legacy::TermsIn::AtOnce { due: "2026-12-31".into() },
    };
    let view = store.establish_legacy_deficit(&accountant, city, request.clone()).await.expect("established");
    assert_eq!((view.offset_fen, view.gap_fen), (30_000, 70_000), "{view:?}");
    // What the county paid in offsets its deficits once: a deficit in another fund finds
    // nothing left (the hostile review).
    let employee = yibao_store::legacy::LegacyRequest { scheme: "employee".into(), ..request };
    let view = store.establish_legacy_deficit(&accountant, city, employee).await.expect("established");
    assert_eq!((view.offset_fen, view.gap_fen), (0, 100_000), "{view:?}");
    let verification = yibao_store::verify_books(&*store).await.expect("verify");
    assert!(verification.breaches.is_empty(), "{:?}", verification.breaches);
}

/// Issue 15's worked example in the books: the three hospitals of
/// `yibao-payment/tests/worked.rs` (A payable 95,904 against a bill of 96,000; B 144,556.32
/// against 152,800; C 26,880 against 26,880) cleared in a store, each difference on the
/// hospital's payable in the funds and counties that paid its stays; a deduction found after
/// the clearing is booked by a supplementary round of only what changed; clearing again when
/// nothing changed books nothing; the book check replays both rounds.
pub async fn run_payment_clearing<S: Store + yibao_store::FundStore>(store: Arc<S>) {
    use yibao_ledger::{AccountKey, AccountKind, Fund, FundScheme, Holder};
    use yibao_store::payment_clearing::{ClearedInstitution, PaidShare, PaymentClearing};
    let city = region("459900");
    let accountant =
        Actor { who: "accountant".into(), role: "fund_accountant".into(), source: "127.0.0.1".into(), at: datetime!(2026-03-31 09:00 UTC) };
    let share = |fund: &str, unit: &str, paid_fen: i64| PaidShare { fund: fund.into(), unit: unit.into(), paid_fen };
    let line = |institution: &str, payable_fen: i64, billed_fen: i64, shares: Vec<PaidShare>| ClearedInstitution {
        institution: institution.into(),
        payable_fen,
        billed_fen,
        difference_fen: payable_fen - billed_fen,
        booked_before_fen: 0,
        shares,
    };
    let clearing = |c_payable_fen: i64| PaymentClearing {
        city: "459900".into(),
        year: 2025,
        round: 0,
        value_date: "2026-03-31".into(),
        rounding: yibao_domain::Rounding::HalfUp,
        pack_id: "test-city-payment".into(),
        point_value_yuan: Some("80.000000".into()),
        institutions: vec![
            // A's residents of 459921 paid its whole bill.
            line("H45992100001", 9_590_400, 9_600_000, vec![share("resident", "459921", 9_600_000)]),
            // B's bill: 52,800 from the employees' fund, 100,000 from the residents', of 459922.
            line(
                "H45992200001",
                14_455_632,
                15_280_000,
                vec![share("employee", "459922", 5_280_000), share("resident", "459922", 10_000_000)],
            ),
            line("H45992100002", c_payable_fen, 2_688_000, vec![share("resident", "459921", 2_688_000)]),
        ],
        owed_fen: 0,
        recovered_fen: 0,
        transfers: 0,
        notes: Vec::new(),
    };
    let first = store.clear_payment_year(&accountant, city, clearing(2_688_000)).await.expect("the clearing");
    assert!(first.booked_now);
    // A: 95,904 − 96,000 = −96 recovered. B: −8,243.68 shared by what each fund paid:
    // 8,243.68 × 52,800 ÷ 152,800 = 2,848.6014… → 2,848.60 from the employees' fund, the
    // rest 5,395.08 from the residents'. C: even, nothing booked.
    assert_eq!((first.clearing.round, first.clearing.owed_fen, first.clearing.recovered_fen), (1, 0, 9_600 + 824_368));
    assert_eq!(first.clearing.transfers, 3);
    let balance = |accounts: &[yibao_ledger::AccountState], scheme: FundScheme, code: &str| {
        let key = AccountKey::new(Fund::new(scheme, city), Holder::institution(code).expect("code"), AccountKind::Payable);
        accounts.iter().find(|a| a.key() == key).map(yibao_ledger::AccountState::balance_fen)
    };
    let accounts = store.fund_accounts(city).await.expect("accounts");
    assert_eq!(balance(&accounts, FundScheme::Resident, "H45992100001"), Some(Fen::new(-9_600)));
    assert_eq!(balance(&accounts, FundScheme::Employee, "H45992200001"), Some(Fen::new(-284_860)));
    assert_eq!(balance(&accounts, FundScheme::Resident, "H45992200001"), Some(Fen::new(-539_508)));
    assert_eq!(balance(&accounts, FundScheme::Resident, "H45992100002"), None, "C is paid as it billed");
    // An inspection after the clearing deducts 100 from C: the supplementary round books
    // that alone.
    let second = store.clear_payment_year(&accountant, city, clearing(2_678_000)).await.expect("the supplementary round");
    assert!(second.booked_now);
    assert_eq!((second.clearing.round, second.clearing.transfers, second.clearing.recovered_fen), (2, 1, 10_000));
    let c = second.clearing.institutions.iter().find(|i| i.institution == "H45992100002").expect("C");
    assert_eq!((c.booked_before_fen, c.difference_fen), (0, -10_000));
    let again = store.clear_payment_year(&accountant, city, clearing(2_678_000)).await.expect("again");
    assert!(!again.booked_now && again.clearing == second.clearing, "nothing changed: the last round, nothing booked");
    // A clearing names its own city.
    let mut elsewhere = clearing(2_678_000);
    elsewhere.city = "449900".into();
    assert!(store.clear_payment_year(&accountant, city, elsewhere).await.is_err());
    assert_eq!(store.payment_clearings(city).await.expect("rounds").iter().map(|c| c.round).collect::<Vec<_>>(), [2, 1]);
    let verification = yibao_store::verify_books(&*store).await.expect("verify");
    assert!(verification.breaches.is_empty(), "{:?}", verification.breaches);
}

/// Policy pack versions (issue 19): numbered in order of proposal, the first installed
/// once, a decision only on a proposed version, approval by another person on the version
/// it was proposed against; the in-force version is the highest approved one.
pub async fn run_policy_versions<S: yibao_store::PolicyStore>(store: Arc<S>) {
    use yibao_store::{NewPolicyVersion, PolicyDecision, PolicyStatus, StoreError};
    let officer = |who: &str| Actor {
        who: who.into(),
        role: "policy_officer".into(),
        source: "contract".into(),
        at: datetime!(2026-11-01 09:00 UTC),
    };
    let new = |text: &str, based_on: Option<u32>| NewPolicyVersion {
        pack_id: "demo-city".into(),
        sha256: format!("{:0>64}", text.len()),
        text: text.into(),
        note: format!("note for {text}"),
        based_on,
    };
    let city = region(CITY);
    assert_eq!(store.policy_in_force().await.expect("read"), None, "a new store has no version");
    let first = store.install_policy(&officer("serve"), city, new("one", None)).await.expect("install");
    assert_eq!((first.version, first.status, first.decided_by.as_deref()), (1, PolicyStatus::Approved, Some("serve")));
    assert!(matches!(store.install_policy(&officer("serve"), city, new("again", None)).await, Err(StoreError::Exists(_))));
    let second = store.propose_policy(&officer("li"), city, new("two", Some(1))).await.expect("propose");
    let third = store.propose_policy(&officer("wang"), city, new("three", Some(1))).await.expect("propose");
    assert_eq!((second.version, third.version, second.status), (2, 3, PolicyStatus::Proposed));
    assert_eq!(store.policy_in_force_number().await.expect("read"), Some(1), "a proposal is not in force");
    let refused = |result: Result<yibao_store::PolicyVersion, StoreError>| match result {
        Err(StoreError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refused(store.decide_policy(&officer("li"), city, 2, PolicyDecision::Approve, "").await), "policy.same_person");
    assert!(matches!(
        store.decide_policy(&officer("wang"), city, 9, PolicyDecision::Approve, "").await,
        Err(StoreError::PolicyVersionNotFound(9))
    ));
    let approved = store.decide_policy(&officer("wang"), city, 2, PolicyDecision::Approve, "ok").await.expect("approve");
    assert_eq!(
        (approved.status, approved.decided_by.as_deref(), approved.decision_note.as_deref()),
        (PolicyStatus::Approved, Some("wang"), Some("ok"))
    );
    let (in_force, text) = store.policy_in_force().await.expect("read").expect("in force");
    assert_eq!((in_force.version, text.as_str()), (2, "two"));
    assert_eq!(refused(store.decide_policy(&officer("li"), city, 3, PolicyDecision::Approve, "").await), "policy.stale");
    assert_eq!(refused(store.decide_policy(&officer("li"), city, 2, PolicyDecision::Reject, "").await), "policy.decided");
    let withdrawn = store.decide_policy(&officer("wang"), city, 3, PolicyDecision::Reject, "overtaken").await.expect("withdraw");
    assert_eq!(withdrawn.status, PolicyStatus::Rejected);
    let listed: Vec<(u32, PolicyStatus)> = store.policy_versions().await.expect("list").iter().map(|v| (v.version, v.status)).collect();
    assert_eq!(listed, [(3, PolicyStatus::Rejected), (2, PolicyStatus::Approved), (1, PolicyStatus::Approved)]);
    let (shown, shown_text) = store.policy_version(3).await.expect("read").expect("version 3");
    assert_eq!((shown.based_on, shown_text.as_str(), shown.note.as_str()), (Some(1), "three", "note for three"));
    assert_eq!(store.policy_version(4).await.expect("read"), None);
    let too_long = NewPolicyVersion { note: "x".repeat(yibao_store::POLICY_NOTE_CHARS_MAX + 1), ..new("four", Some(2)) };
    assert!(matches!(store.propose_policy(&officer("li"), city, too_long).await, Err(StoreError::Invalid(_))));
}

/// Which SQL an [`Attacker`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Someone with the database owner's rights who edits rows past the application (a stolen
/// backup restored and edited, a rogue administrator): each backend's tests give one.
pub trait Attacker {
    fn dialect(&self) -> Dialect;
    /// Runs `sql` (one or more statements), panicking if the database refuses it.
    fn run(&self, sql: &str) -> impl std::future::Future<Output = ()>;
    /// The one bytes value `sql` selects, as stored.
    fn read_bytes(&self, sql: &str) -> impl std::future::Future<Output = Vec<u8>>;
}

/// Every breach `yibao fund check` finds, as `code: message`.
async fn book_breaches<S: Store + yibao_store::FundStore>(store: &S) -> Vec<String> {
    let verification = yibao_store::verify_books(store).await.expect("verify books");
    verification.breaches.iter().map(|b| format!("{}: {b}", b.code())).collect()
}

/// Issue 12: each class of tampering with a stopped server's database is found by `fund
/// check` or `audit verify`, with a message that names the row; undoing it makes the books
/// whole again. Runs on a fresh store.
pub async fn run_tamper<S, A>(store: Arc<S>, attacker: &A)
where
    S: Store + yibao_store::ContributionStore + yibao_store::FundStore + yibao_store::AccessStore,
    A: Attacker,
{
    use yibao_store::{AuditAnchor, ContributionKind, NewContribution, verify_audit_against};
    let east = region(EAST);
    let west = region(WEST);
    let resident = enrolled(&*store, EAST, 801, "HH-TAMPER-1").await;
    enrolled(&*store, WEST, 802, "HH-TAMPER-2").await;
    let admin =
        Actor { who: "admin".into(), role: "city_administrator".into(), source: "127.0.0.1".into(), at: datetime!(2026-03-01 09:00 UTC) };
    let city_staff = yibao_store::NewStaff {
        username: "city.auditor".into(),
        display_name: "市审计".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: yibao_store::Role::Auditor,
        region: region(CITY),
    };
    store.create_staff(&admin, city_staff).await.expect("a staff account of the city");
    let employee = person_id(EAST, 803);
    let mut cover = coverage(employee, EAST);
    cover.scheme = Scheme::Employee;
    cover.category = PersonCategory::Employed;
    cover.personal_account_balance = Fen::new(50_000);
    let new_person = NewPerson { name: pn("王五"), card_no: None, household_id: hh("HH-TAMPER-1"), coverage: cover };
    store.enrol(&clerk(EAST), east, new_person).await.expect("employee enrols with 500.00 in the account");
    let paid = NewContribution {
        person_id: resident,
        kind: ContributionKind::Resident,
        period: period("2026"),
        due_fen: Fen::new(40_000),
        paid_fen: Fen::new(40_000),
        breakdown_json: resident_breakdown(),
    };
    let contribution = store.record_contribution(&clerk(EAST), east, paid).await.expect("resident pays");
    // The claim is the east chain's last entry.
    let c = claim("TAMPER-1", 10_000, 10);
    let settled = store
        .settle(&clerk(EAST), east, request(&c, resident), engine_settlement(policy(), c.clone(), Explain::Off))
        .await
        .expect("settles")
        .claim;
    let hifp_pay: serde_json::Value = serde_json::from_str(&settled.settlement_json).expect("json");
    let hifp_pay = hifp_pay["hifp_pay"].as_str().expect("hifp_pay").to_owned();
    assert_ne!(hifp_pay, "0.00", "the pooled fund pays part of this claim");
    assert!(book_breaches(&*store).await.is_empty(), "the untouched books pass");
    let intact = verify_audit(&*store).await.expect("verify");
    assert!(intact.is_intact(), "{:?}", intact.breaks);
    let anchor = AuditAnchor { regions: intact.ends.clone() };
    let claim_name = "claim H41992100007/TAMPER-1 of 419921";
    let sqlite = attacker.dialect() == Dialect::Sqlite;

    // 0. The settlement is stored compressed against the dictionary (issue 17), and
    //    returned byte for byte.
    let stored = attacker.read_bytes("SELECT settlement FROM claims WHERE claim_id = 'TAMPER-1'").await;
    assert!(stored.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]), "a zstd frame");
    assert!(stored.len() * 4 < settled.settlement_json.len(), "{} bytes stored for {}", stored.len(), settled.settlement_json.len());
    assert_eq!(yibao_store::compact::unpack(&stored).expect("unpack"), settled.settlement_json);
    let counters = attacker.read_bytes("SELECT acc_after FROM claims WHERE claim_id = 'TAMPER-1'").await;
    assert!(counters.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) && counters.len() < 100, "{} bytes of counters", counters.len());
    let counters = yibao_store::compact::unpack_accumulators(&counters).expect("the counters");
    assert_eq!(counters.year, settled.year);

    // 0a. The claim as the institution submitted it is stored compressed against the
    //     claims' dictionary and returned byte for byte; the fields SQL reads from it are
    //     columns beside it, which the untouched books above found equal to it.
    let stored_claim = attacker.read_bytes("SELECT claim FROM claims WHERE claim_id = 'TAMPER-1'").await;
    assert!(stored_claim.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]), "a zstd frame");
    assert!(stored_claim.len() * 2 < settled.claim_json.len(), "{} bytes stored for {}", stored_claim.len(), settled.claim_json.len());
    assert_eq!(yibao_store::compact::unpack(&stored_claim).expect("unpack"), settled.claim_json);
    let columns = yibao_store::compact::ClaimColumns::of(&settled.claim_json);
    assert_eq!(columns.kind.as_deref(), Some("inpatient"), "{columns:?}");
    assert!(columns.admission_date.is_some() && columns.discharge_date.is_some(), "{columns:?}");

    // 0c. The claim's audit entry is stored compactly (issue 17): its detail compressed
    //     against the audit dictionary, its digests as their 32 bytes; `audit verify`
    //     passed above on what they read back as.
    let entry_where = "FROM audit_log WHERE action = 'claim.settle' AND entity = 'H41992100007/TAMPER-1'";
    let detail = attacker.read_bytes(&format!("SELECT detail {entry_where}")).await;
    assert!(detail.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]), "a zstd frame");
    assert!(yibao_store::compact::unpack(&detail).expect("unpack").contains("\"settlement_sha256\""));
    assert_eq!(attacker.read_bytes(&format!("SELECT hash {entry_where}")).await.len(), 32);
    assert_eq!(attacker.read_bytes(&format!("SELECT prev_hash {entry_where}")).await.len(), 32);

    // 0b. Those columns edited (a stay made a visit on another day): the person's visits
    //     and stays would be counted from them, so the check names each.
    attacker.run("UPDATE claims SET kind = 'general-outpatient', admission_date = NULL WHERE claim_id = 'TAMPER-1'").await;
    let found = book_breaches(&*store).await;
    assert!(
        found
            .iter()
            .any(|b| b.contains(claim_name)
                && b.contains("its column kind holds 'general-outpatient', but its stored claim says 'inpatient'")),
        "{found:?}"
    );
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("its column admission_date holds NULL")), "{found:?}");
    attacker
        .run(&format!(
            "UPDATE claims SET kind = 'inpatient', admission_date = '{}' WHERE claim_id = 'TAMPER-1'",
            columns.admission_date.as_deref().unwrap_or_default()
        ))
        .await;
    assert!(book_breaches(&*store).await.is_empty());

    // 1. A claim's stored fund pay edited: its column no longer matches its settlement, nor
    //    its audit entry.
    attacker.run("UPDATE claims SET fund_pay_fen = fund_pay_fen - 100 WHERE claim_id = 'TAMPER-1'").await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("its column fund_pay_fen holds")), "{found:?}");
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("audit entry recorded")), "{found:?}");
    attacker.run("UPDATE claims SET fund_pay_fen = fund_pay_fen + 100 WHERE claim_id = 'TAMPER-1'").await;
    assert!(book_breaches(&*store).await.is_empty());

    // 1a. The columns the underwriting quarter selects claims by (issue 17: beside the
    //     compressed settlement) edited: the claim would drop out of the insurer's recovery.
    attacker.run("UPDATE claims SET supplementary_fen = 1, insutype = '310' WHERE claim_id = 'TAMPER-1'").await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("its column supplementary_fen holds 1 fen")), "{found:?}");
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("its column insutype holds '310'")), "{found:?}");
    let reported: serde_json::Value = serde_json::from_str(&settled.settlement_json).expect("json");
    let insutype = reported["insutype"].as_str().expect("insutype");
    let supplementary = Fen::parse_yuan(reported["oth_pay"].as_str().expect("oth_pay")).expect("yuan").get();
    assert_ne!(supplementary, 1, "the edit above changed it");
    attacker
        .run(&format!("UPDATE claims SET supplementary_fen = {supplementary}, insutype = '{insutype}' WHERE claim_id = 'TAMPER-1'"))
        .await;
    assert!(book_breaches(&*store).await.is_empty());

    // 2. The pooled fund's pay edited inside the stored settlement (stored compressed:
    //    the attacker unpacks, edits and packs it again): the transfer it posted moved
    //    another amount.
    let set_stored = |bytes: &[u8]| {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let bytes = if sqlite { format!("X'{hex}'") } else { format!("decode('{hex}', 'hex')") };
        format!("UPDATE claims SET settlement = {bytes} WHERE claim_id = 'TAMPER-1'")
    };
    let edit_stored = |field: &str, from: &str, to: &str| {
        let edited = settled.settlement_json.replace(&format!("\"{field}\":\"{from}\""), &format!("\"{field}\":\"{to}\""));
        set_stored(&yibao_store::compact::pack(&edited).expect("pack"))
    };
    let edit = |from: &str, to: &str| edit_stored("hifp_pay", from, to);

    // 1b. The compressed settlement cut short: the check names the claim (and reads on),
    //     rather than failing the whole page with a storage error.
    attacker.run(&set_stored(&stored[..stored.len() / 2])).await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("cannot be read")), "{found:?}");
    attacker.run(&set_stored(&stored)).await;
    assert!(book_breaches(&*store).await.is_empty());

    attacker.run(&edit(&hifp_pay, "0.01")).await;
    let found = book_breaches(&*store).await;
    let transfer = "st/H41992100007/TAMPER-1/hifp_pay";
    assert!(
        found.iter().any(|b| b.starts_with("books.business_disagrees")
            && b.contains(claim_name)
            && b.contains(&format!("transfer {transfer} moved {hifp_pay} in the books, but the record posts 0.01"))),
        "{found:?}"
    );
    attacker.run(&edit("0.01", &hifp_pay)).await;
    assert!(book_breaches(&*store).await.is_empty());

    // 3. A transfer edited together with both account totals it touches: every account
    //    still sums its transfers and the fund balances, but the claim posts another amount.
    let account_of = |side: &str| {
        format!(
            "(region_code, fund_scheme, holder, kind) = (SELECT region_code, fund_scheme, {side}_holder, {side}_kind FROM ledger_transfers WHERE transfer_id = '{transfer}')"
        )
    };
    let shift = |fen: i64| {
        format!(
            "UPDATE ledger_transfers SET amount_fen = amount_fen + ({fen}) WHERE transfer_id = '{transfer}';
             UPDATE ledger_accounts SET debits_posted_fen = debits_posted_fen + ({fen}) WHERE {};
             UPDATE ledger_accounts SET credits_posted_fen = credits_posted_fen + ({fen}) WHERE {};",
            account_of("debit"),
            account_of("credit")
        )
    };
    let unlock = if sqlite { "DROP TRIGGER ledger_transfers_no_update;" } else { "ALTER TABLE ledger_transfers DISABLE TRIGGER ALL;" };
    attacker.run(&format!("{unlock}{}", shift(-100))).await;
    let found = book_breaches(&*store).await;
    assert!(!found.is_empty() && found.iter().all(|b| b.starts_with("books.business_disagrees")), "only the record names it: {found:?}");
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains(&format!("transfer {transfer} moved"))), "{found:?}");
    attacker.run(&shift(100)).await;
    assert!(book_breaches(&*store).await.is_empty());

    // 3a. The running outstanding the pooling run reads (issue 17) edited: the transfers no
    //     longer add up to it (`payables-match`).
    let nudge = |fen: i64| {
        format!("UPDATE ledger_payables SET outstanding_fen = outstanding_fen + ({fen}) WHERE payee = 'institution:H41992100007'")
    };
    attacker.run(&nudge(100)).await;
    let found = book_breaches(&*store).await;
    assert!(
        found
            .iter()
            .any(|b| b.starts_with("books.business_disagrees") && b.contains("ledger_payables") && b.contains("the transfers add up to")),
        "{found:?}"
    );
    attacker.run(&nudge(-100)).await;
    assert!(book_breaches(&*store).await.is_empty());

    // 3b. A pooling run's payment to a hospital edited with both account totals: the run's
    //     record, replayed by the same plan, posts another amount.
    let accountant =
        Actor { who: "accountant".into(), role: "fund_accountant".into(), source: "127.0.0.1".into(), at: datetime!(2026-04-01 09:00 UTC) };
    let march = yibao_ledger::YearMonth::parse("2026-03").expect("month");
    let opening = yibao_store::FundReceipt {
        kind: yibao_store::ReceiptKind::OpeningBalance,
        scheme: yibao_ledger::FundScheme::Resident,
        unit: region(CITY),
        amount_fen: Fen::new(100_000_000),
        value_date: time::macros::date!(2026 - 01 - 01),
        reference: "OB-TAMPER".into(),
    };
    store.record_fund_receipt(&accountant, region(CITY), opening).await.expect("the resident fund's opening balance");
    store.run_pooling(&accountant, region(CITY), march, march.last_day(), Vec::new()).await.expect("the March run");
    assert!(book_breaches(&*store).await.is_empty(), "a run as planned reconciles");
    let payment = "(SELECT MIN(transfer_id) FROM ledger_transfers WHERE transfer_id LIKE 'pay/%')";
    let pay = |fen: i64| {
        let side = |side: &str| {
            format!(
                "(region_code, fund_scheme, holder, kind) = (SELECT region_code, fund_scheme, {side}_holder, {side}_kind FROM ledger_transfers WHERE transfer_id = {payment})"
            )
        };
        format!(
            "UPDATE ledger_accounts SET debits_posted_fen = debits_posted_fen + ({fen}) WHERE {};
             UPDATE ledger_accounts SET credits_posted_fen = credits_posted_fen + ({fen}) WHERE {};
             UPDATE ledger_transfers SET amount_fen = amount_fen + ({fen}) WHERE transfer_id = {payment};",
            side("debit"),
            side("credit")
        )
    };
    attacker.run(&pay(-100)).await;
    let found = book_breaches(&*store).await;
    assert!(
        found.iter().any(|b| b.contains(&format!("pooling run 2026-03 of {CITY}")) && b.contains("transfer pay/") && b.contains("moved")),
        "{found:?}"
    );
    attacker.run(&pay(100)).await;
    assert!(book_breaches(&*store).await.is_empty());

    // 3c. The fund runs and bookings beyond the monthly run (targets, a budget, the
    //     year-end close, interest, a legacy deficit and its repayment), each replayed from
    //     its record and its audit entry.
    let city = region(CITY);
    let targets = yibao_store::CountyTargets { year: 2026, unit: EAST.into(), enrolment_target: 4, collection_target_fen: 80_000 };
    store.set_targets(&accountant, city, targets).await.expect("targets");
    let budget =
        yibao_store::Budget { year: 2026, fund_scheme: "resident".into(), unit: EAST.into(), income_fen: 90_000, spending_fen: 50_000 };
    store.set_budget(&accountant, city, budget).await.expect("a budget");
    let from = time::macros::date!(2026 - 01 - 01);
    let to = time::macros::date!(2026 - 12 - 31);
    store
        .credit_interest(&accountant, city, from, to, yibao_domain::RatioBp::new(150), yibao_domain::Rounding::HalfUp)
        .await
        .expect("interest");
    let close = store.close_year(&accountant, city, 2026, yibao_store::closing::YearEndOptions::default()).await.expect("the close");
    assert!(close.record.levy_total_fen > 0, "the levy moves money: {:?}", close.record);
    let request = yibao_store::legacy::LegacyRequest {
        scheme: "resident".into(),
        county: EAST.into(),
        // Established after 2026 is closed: dated in the open year (`books.period_closed`).
        established_on: "2027-01-02".into(),
        opening_gap_fen: 1_000_000,
        // The levy went to cover the year's deficits: nothing is left to offset.
        paid_into_adjustment_fen: Some(0),
        terms: yibao_store::legacy::TermsIn::AtOnce { due: "2027-12-31".into() },
    };
    store.establish_legacy_deficit(&accountant, city, request).await.expect("a legacy deficit");
    let repayment = yibao_store::legacy::LegacyRepayment {
        scheme: yibao_ledger::FundScheme::Resident,
        county: east,
        on: time::macros::date!(2027 - 01 - 31),
        amount_fen: Fen::new(100_000),
        reference: "R-TAMPER".into(),
    };
    store.record_legacy_repayment(&accountant, city, repayment.clone()).await.expect("a repayment");
    store.record_legacy_repayment(&accountant, city, repayment).await.expect("the same repayment again is a replay");
    assert!(book_breaches(&*store).await.is_empty(), "runs as planned reconcile: {:?}", book_breaches(&*store).await);

    // A transfer of each edited with both account totals it touches: the run's record,
    // replayed, posts another amount.
    let shift_transfer = |pattern: &str, fen: i64| {
        let transfer = format!("(SELECT MIN(transfer_id) FROM ledger_transfers WHERE transfer_id LIKE '{pattern}')");
        let side = |side: &str| {
            format!(
                "(region_code, fund_scheme, holder, kind) = (SELECT region_code, fund_scheme, {side}_holder, {side}_kind FROM ledger_transfers WHERE transfer_id = {transfer})"
            )
        };
        format!(
            "UPDATE ledger_accounts SET debits_posted_fen = debits_posted_fen + ({fen}) WHERE {};
             UPDATE ledger_accounts SET credits_posted_fen = credits_posted_fen + ({fen}) WHERE {};
             UPDATE ledger_transfers SET amount_fen = amount_fen + ({fen}) WHERE transfer_id = {transfer};",
            side("debit"),
            side("credit")
        )
    };
    for (pattern, name) in [
        ("levy/%", format!("the close of 2026 of {CITY}")),
        ("interest/%", format!("the interest for 2026-01-01..2026-12-31 of {CITY}")),
        ("opening/%", "the receipt opening/".to_owned()),
        ("legacy/%/receivable", "the legacy deficit resident@".to_owned()),
        ("legacy/%/repay/R-TAMPER", "the repayment legacy/".to_owned()),
    ] {
        attacker.run(&shift_transfer(pattern, -1)).await;
        let found = book_breaches(&*store).await;
        // (A leg of a pair edited alone is also named by the pair rule.)
        assert!(
            found.iter().any(|b| b.starts_with("books.business_disagrees") && b.contains(&name) && b.contains("moved")),
            "{pattern}: {found:?}"
        );
        attacker.run(&shift_transfer(pattern, 1)).await;
        assert!(book_breaches(&*store).await.is_empty(), "{pattern} restored");
    }

    // The close's record edited (a smaller levy): its audit entry and its own inputs say
    // otherwise.
    let levy = close.record.levy[0].levy_fen;
    let set_levy = |from: i64, to: i64| {
        format!("UPDATE year_closes SET result = replace(result, '\"levy_fen\":{from}', '\"levy_fen\":{to}') WHERE year = 2026")
    };
    attacker.run(&set_levy(levy, levy - 1)).await;
    let found = book_breaches(&*store).await;
    let close_name = format!("the close of 2026 of {CITY}");
    assert!(found.iter().any(|b| b.contains(&close_name) && b.contains("audit entry recorded")), "{found:?}");
    assert!(found.iter().any(|b| b.contains(&close_name) && b.contains("but its inputs give")), "{found:?}");
    attacker.run(&set_levy(levy - 1, levy)).await;
    assert!(book_breaches(&*store).await.is_empty());

    // The legacy deficit's stored request edited (a smaller gap owed), and a county's
    // targets and a budget edited outside the application: each differs from its audit entry.
    let gap = |from: i64, to: i64| format!("UPDATE legacy_deficits SET request = replace(request, '{from}', '{to}')");
    attacker.run(&gap(1_000_000, 900_000)).await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains("the legacy deficit resident@") && b.contains("audit entry recorded")), "{found:?}");
    attacker.run(&gap(900_000, 1_000_000)).await;
    attacker.run("UPDATE county_targets SET enrolment_target = 1").await;
    attacker.run("UPDATE fund_budgets SET spending_fen = 5").await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains(&format!("the targets 2026/{EAST}")) && b.contains("last audit entry recorded")), "{found:?}");
    assert!(
        found.iter().any(|b| b.contains(&format!("the budget 2026/resident/{EAST}")) && b.contains("last audit entry recorded")),
        "{found:?}"
    );
    attacker.run("UPDATE county_targets SET enrolment_target = 4").await;
    attacker.run("UPDATE fund_budgets SET spending_fen = 50000").await;
    assert!(book_breaches(&*store).await.is_empty());

    // 4. A contribution's payment edited: its transfers and its audit entry disagree.
    attacker
        .run(&format!("UPDATE contributions SET paid_fen = paid_fen - 100 WHERE seq = {} AND region_code = '{EAST}'", contribution.seq))
        .await;
    let found = book_breaches(&*store).await;
    let contribution_name = format!("contribution {EAST}/{} of {resident}", contribution.seq);
    assert!(found.iter().any(|b| b.contains(&contribution_name) && b.contains("audit entry recorded")), "{found:?}");
    assert!(found.iter().any(|b| b.contains(&contribution_name) && b.contains("transfer ct/")), "{found:?}");
    attacker
        .run(&format!("UPDATE contributions SET paid_fen = paid_fen + 100 WHERE seq = {} AND region_code = '{EAST}'", contribution.seq))
        .await;
    assert!(book_breaches(&*store).await.is_empty());

    // 5. A personal-account balance edited in the person's record.
    let balance = |yuan: &str| {
        if sqlite {
            format!(
                "UPDATE persons SET coverage = json_set(coverage, '$.personal_account_balance', '{yuan}') WHERE person_id = '{employee}'"
            )
        } else {
            format!(
                "UPDATE persons SET coverage = jsonb_set(coverage, '{{personal_account_balance}}', '\"{yuan}\"') WHERE person_id = '{employee}'"
            )
        }
    };
    attacker.run(&balance("99999.00")).await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.starts_with("books.record_disagrees") && b.contains(employee.as_str())), "{found:?}");
    attacker.run(&balance("500.00")).await;
    assert!(book_breaches(&*store).await.is_empty());

    // 5b. The split of the bill edited inside the stored settlement (cash moved to the
    //     account), no transfer touched: the settlement no longer matches the digest its
    //     audit entry recorded.
    let split = |from: &str, to: &str| edit_stored("psn_cash_pay", from, to);
    let cash: serde_json::Value = serde_json::from_str(&settled.settlement_json).expect("json");
    let cash = cash["psn_cash_pay"].as_str().expect("psn_cash_pay").to_owned();
    attacker.run(&split(&cash, "0.01")).await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("settlement_sha256")), "{found:?}");
    attacker.run(&split("0.01", &cash)).await;
    assert!(book_breaches(&*store).await.is_empty());

    // 5c. A reversal forged in the claim's row alone: no audit entry records it, and the
    //     transfers that would undo the settlement are missing.
    attacker
        .run("UPDATE claims SET status = 'reversed', reversed_at = '2026-03-20T10:00:00Z', reversal_reason = 'forged' WHERE claim_id = 'TAMPER-1'")
        .await;
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("no audit entry records its reversal")), "{found:?}");
    assert!(
        found.iter().any(|b| b.contains(claim_name) && b.contains("transfer rv/") && b.contains("missing from the books")),
        "{found:?}"
    );
    attacker.run("UPDATE claims SET status = 'settled', reversed_at = NULL, reversal_reason = NULL WHERE claim_id = 'TAMPER-1'").await;
    assert!(book_breaches(&*store).await.is_empty());

    // 6. A person's year-to-date accumulators edited (a fresh deductible, say): they are no
    //    longer where the person's claims lead.
    let admissions = |n: u32| {
        if sqlite {
            format!("UPDATE accumulators SET state = json_set(state, '$.admissions', {n}) WHERE person_id = '{resident}'")
        } else {
            format!("UPDATE accumulators SET state = jsonb_set(state, '{{admissions}}', '{n}') WHERE person_id = '{resident}'")
        }
    };
    attacker.run(&admissions(0)).await;
    let found = book_breaches(&*store).await;
    assert!(
        found
            .iter()
            .any(|b| b.contains(&format!("accumulators of {resident} for 2026 in {EAST}")) && b.contains("is not where the claims lead")),
        "{found:?}"
    );
    attacker.run(&admissions(1)).await;
    assert!(book_breaches(&*store).await.is_empty());

    // 7. The east chain's last entry (the claim's) deleted: the head still records it.
    let unlock = if sqlite { "DROP TRIGGER audit_log_no_delete;" } else { "ALTER TABLE audit_log DISABLE TRIGGER ALL;" };
    let last = anchor.regions.iter().find(|end| end.region == east).expect("east has a chain").seq;
    attacker.run(&format!("{unlock} DELETE FROM audit_log WHERE region_code = '{EAST}' AND seq = {last}")).await;
    let verification = verify_audit(&*store).await.expect("verify");
    assert!(
        verification
            .breaks
            .iter()
            .any(|b| b.contains(&format!("region {EAST}: the chain ends at entry {}, but its head records entry {last}", last - 1))),
        "{:?}",
        verification.breaks
    );
    // The claim's audit entry is gone, and fund check says so.
    let found = book_breaches(&*store).await;
    assert!(found.iter().any(|b| b.contains(claim_name) && b.contains("no audit entry records its settlement")), "{found:?}");

    // 8. The head rewritten to the new end: the chain looks whole, and only the anchor kept
    //    outside shows that an entry was removed. (The log stores a digest as its 32 bytes,
    //    the head as hex: the attacker writes it as the head holds it.)
    let hash_hex = if sqlite { "lower(hex(hash))" } else { "encode(hash, 'hex')" };
    attacker
        .run(&format!(
            "UPDATE audit_heads SET seq = {prev}, hash = (SELECT {hash_hex} FROM audit_log WHERE region_code = '{EAST}' AND seq = {prev}) WHERE region_code = '{EAST}'",
            prev = last - 1
        ))
        .await;
    assert!(verify_audit(&*store).await.expect("verify").is_intact(), "without an anchor the truncation cannot be seen");
    let verification = verify_audit_against(&*store, Some(&anchor)).await.expect("verify");
    assert_eq!(verification.breaks.len(), 1, "{:?}", verification.breaks);
    assert!(
        verification.breaks[0].contains(&format!("region {EAST}: the chain ends at entry {}, before the anchored entry {last}", last - 1)),
        "{:?}",
        verification.breaks
    );

    // 9. The city's own chain deleted with its head: its staff account remains.
    attacker
        .run(&format!("DELETE FROM audit_log WHERE region_code = '{CITY}'; DELETE FROM audit_heads WHERE region_code = '{CITY}'"))
        .await;
    let verification = verify_audit(&*store).await.expect("verify");
    assert!(
        verification.breaks.iter().any(|b| b.contains(&format!("region {CITY}: records and no audit chain"))),
        "{:?}",
        verification.breaks
    );

    // 10. A whole region's chain deleted with its head: its household and person remain.
    attacker
        .run(&format!("DELETE FROM audit_log WHERE region_code = '{WEST}'; DELETE FROM audit_heads WHERE region_code = '{WEST}'"))
        .await;
    let verification = verify_audit(&*store).await.expect("verify");
    assert!(
        verification.breaks.iter().any(|b| b.contains(&format!("region {west}: records and no audit chain"))),
        "{:?}",
        verification.breaks
    );
    let verification = verify_audit_against(&*store, Some(&anchor)).await.expect("verify");
    assert!(
        verification.breaks.iter().any(|b| b.contains(&format!("region {WEST}: the chain ends at entry 0, before the anchored entry"))),
        "{:?}",
        verification.breaks
    );
}
