//! Arrears and the benefits they suspend (issue 16 item 4, R-FIN-4), under a clock the
//! test moves and packs whose rule differs from the demo's (waiting days, no retroactive
//! cover): the cases a hostile review found, each kept as a test.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use yibao_app::Backend;

use super::{Api, Auth, EAST_PERSON, WEST_PERSON, code, enrol_both, enrolment, seeded_sqlite};

const DEMO_PACK: &str = include_str!("../../../../policies/demo-city.toml");

async fn setup(name: &str, pack: &str, now: OffsetDateTime) -> Api {
    super::api_moving(Backend::Sqlite(seeded_sqlite(&format!("arrears-{name}")).await), pack, now)
}

async fn setup_postgres(pack: &str, now: OffsetDateTime) -> (Api, yibao_testpg::TestPostgres) {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    let store = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
    super::seed(&store).await;
    (super::api_moving(Backend::Postgres(store), pack, now), server)
}

fn stay(person: &str, card: &str, claim_id: &str, on: &str) -> Value {
    json!({ "person_id": person, "card_no": card, "claim": { "claim_id": claim_id, "institution_code": "H41992100007",
            "institution_level": "secondary", "kind": "inpatient", "admission_date": on, "discharge_date": on,
            "diagnosis": "K35.900", "lines": [{ "code": "XA10BAE010A001010100315", "quantity": 1, "unit_price": "2500.00" }] } })
}

/// Pre-settlement checks the card before anything that reads the person: an institution
/// without the card gets the unknown-person answer, whatever the person owes.
#[tokio::test]
async fn pre_settlement_without_the_card_says_nothing_of_a_persons_arrears() {
    let now = datetime!(2026-12-07 10:00 +08);
    let api = setup("oracle", DEMO_PACK, now).await;
    let _ = enrol_both(&api).await;
    let accountant = api.sign_in("accountant").await;
    // EAST owes part of 2025; WEST owes nothing.
    let part = json!({ "kind": "resident", "period": "2025", "paid": "100" });
    let (status, body) = api.call("POST", &format!("/api/persons/{EAST_PERSON}/contributions"), Auth::Token(&accountant), Some(part)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let owing_wrong_card =
        api.call("POST", "/api/pre-settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "WRONG", "O-1", "2025-06-01"))).await;
    let owing_no_card =
        api.call("POST", "/api/pre-settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "", "O-2", "2025-06-01"))).await;
    let unknown = api
        .call("POST", "/api/pre-settlements", Auth::Key("key-east"), Some(stay("419921199001010013", "WRONG", "O-3", "2025-06-01")))
        .await;
    let settle_wrong_card =
        api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "WRONG", "O-4", "2025-06-01"))).await;
    assert_eq!(code(&unknown), (StatusCode::NOT_FOUND, Some("person.not_verified")));
    assert_eq!(code(&settle_wrong_card), (StatusCode::NOT_FOUND, Some("person.not_verified")));
    assert_eq!(owing_wrong_card.1, unknown.1, "a wrong card gets the unknown-person answer");
    assert_eq!(owing_no_card.1, unknown.1, "no card gets the unknown-person answer");
}

fn pack_with_waiting(days: u32, retroactive: bool) -> String {
    let pack = DEMO_PACK.replace(
        "values = [{ from = \"2024-01-01\", value = 0, cite = \"assumption: no waiting days",
        &format!("values = [{{ from = \"2024-01-01\", value = {days}, cite = \"assumption: no waiting days"),
    );
    let pack = pack.replace(
        "values = [{ from = \"2024-01-01\", value = true, cite = \"assumption: arrears paid in full cover",
        &format!("values = [{{ from = \"2024-01-01\", value = {retroactive}, cite = \"assumption: arrears paid in full cover"),
    );
    assert_ne!(pack, DEMO_PACK);
    pack
}

/// Under a pack with waiting days and no retroactive cover, a period paid in full before
/// its suspension day never suspends anything.
#[tokio::test]
async fn a_period_paid_before_its_suspension_day_never_suspends_under_waiting_days() {
    let pack = pack_with_waiting(30, false);
    let api = setup("ontime", &pack, datetime!(2026-03-25 10:00 +08)).await;
    let _ = enrol_both(&api).await;
    let accountant = api.sign_in("accountant").await;
    let contributions = format!("/api/persons/{EAST_PERSON}/contributions");
    let (status, bill) = api
        .call("POST", &contributions, Auth::Token(&accountant), Some(json!({ "kind": "resident", "period": "2026", "paid": "0" })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bill}");
    let due = bill["due"].as_str().unwrap().to_owned();
    let (status, paid) = api
        .call("POST", &contributions, Auth::Token(&accountant), Some(json!({ "kind": "resident", "period": "2026", "paid": due })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    // 2026 paid in full on 25 March, a week before it could suspend anything (1 April).
    api.set_now(datetime!(2026-04-10 10:00 +08));
    let paid_on_time =
        api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "C0001", "W-1", "2026-04-05"))).await;
    let never_billed =
        api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(WEST_PERSON, "C0001", "W-2", "2026-04-05"))).await;
    assert_eq!(never_billed.0, StatusCode::CREATED, "{}", never_billed.1);
    assert_eq!(paid_on_time.0, StatusCode::CREATED, "a period paid before it was overdue never suspends: {}", paid_on_time.1);
}

/// A period is paid on the day of the record that completed it: a record of nothing written
/// later (a re-issued bill, a batch line) does not make it late.
#[tokio::test]
async fn a_zero_line_on_a_long_paid_period_suspends_nothing() {
    let pack = pack_with_waiting(30, false);
    let api = setup("zeroline", &pack, datetime!(2024-12-01 10:00 +08)).await;
    let _ = enrol_both(&api).await;
    let accountant = api.sign_in("accountant").await;
    let contributions = format!("/api/persons/{WEST_PERSON}/contributions");
    let (status, bill) = api
        .call("POST", &contributions, Auth::Token(&accountant), Some(json!({ "kind": "resident", "period": "2025", "paid": "0" })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bill}");
    let due = bill["due"].as_str().unwrap().to_owned();
    let (status, paid) = api
        .call("POST", &contributions, Auth::Token(&accountant), Some(json!({ "kind": "resident", "period": "2025", "paid": due })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    // 16 months later a clerk records a zero line for 2025 (a re-issued bill, a batch line).
    api.set_now(datetime!(2026-04-10 10:00 +08));
    let accountant = api.sign_in("accountant").await;
    let (status, zero) = api
        .call("POST", &contributions, Auth::Token(&accountant), Some(json!({ "kind": "resident", "period": "2025", "paid": "0" })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{zero}");
    let answer = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(WEST_PERSON, "C0001", "Z-1", "2026-04-09"))).await;
    assert_eq!(answer.0, StatusCode::CREATED, "2025 was paid in full in 2024: {}", answer.1);
}

/// A claim settled before the person was billed still replays after the bill suspends.
#[tokio::test]
async fn a_retry_of_a_claim_settled_before_the_suspension_replays() {
    let api = setup("replay", DEMO_PACK, datetime!(2026-06-10 10:00 +08)).await;
    let _ = enrol_both(&api).await;
    let first = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "C0001", "R-1", "2026-06-01"))).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let accountant = api.sign_in("accountant").await;
    let (status, bill) = api
        .call(
            "POST",
            &format!("/api/persons/{EAST_PERSON}/contributions"),
            Auth::Token(&accountant),
            Some(json!({ "kind": "resident", "period": "2026", "paid": "0" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bill}");
    let new = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "C0001", "R-2", "2026-06-01"))).await;
    assert_eq!(code(&new), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.benefits_suspended")), "{}", new.1);
    let retry = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "C0001", "R-1", "2026-06-01"))).await;
    assert_eq!((retry.0, retry.1["replayed"].as_bool()), (StatusCode::OK, Some(true)), "{}", retry.1);
    // Same id, different content: refused, not replayed.
    let mut changed = stay(EAST_PERSON, "C0001", "R-1", "2026-06-01");
    changed["claim"]["lines"][0]["quantity"] = json!(2);
    let other = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(changed)).await;
    assert_ne!(other.0, StatusCode::OK);
}

async fn balance(api: &Api, token: &str, id: &str) -> String {
    let (status, person) = api.call("GET", &format!("/api/persons/{id}"), Auth::Token(token), None).await;
    assert_eq!(status, StatusCode::OK, "{person}");
    person["coverage"]["personal_account_balance"].as_str().unwrap_or_default().to_owned()
}

/// Employee months repaid under a plan credit the personal account exactly as the counter
/// does, once, and the books balance.
#[tokio::test]
async fn employee_months_under_a_plan_credit_the_account_once() {
    let api = setup("account", DEMO_PACK, datetime!(2026-12-07 10:00 +08)).await;
    let east = api.sign_in("east.clerk").await;
    let accountant = api.sign_in("accountant").await;
    let auditor = api.sign_in("auditor").await;
    let (a, b) = ("419921198001010510", "419921199001010013");
    for (id, hh) in [(a, "HH-A"), (b, "HH-B")] {
        let (status, body) = api
            .call("POST", "/api/households", Auth::Token(&east), Some(json!({ "household_id": hh, "region": "419921", "address": "x" })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let person = json!({ "person_id": id, "name": "周织", "card_no": format!("C-{hh}"), "household_id": hh, "region": "419921", "scheme": "employee", "category": "employed", "tier": 1, "coverage_from": "2024-01-01" });
        let (status, body) = api.call("POST", "/api/persons", Auth::Token(&east), Some(person)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let months = ["2026-01", "2026-02", "2026-03"];
    let mut total = 0_i64;
    for id in [a, b] {
        for (i, month) in months.iter().enumerate() {
            let paid = if i == 1 { "100.01" } else { "0" };
            let body = json!({ "kind": "employee", "period": month, "paid": paid, "wage_monthly": "7777.77" });
            let (status, rec) = api.call("POST", &format!("/api/persons/{id}/contributions"), Auth::Token(&accountant), Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{rec}");
            if id == a {
                total += yibao_domain::Fen::parse_yuan(rec["due"].as_str().unwrap()).unwrap().get() - if i == 1 { 10_001 } else { 0 };
            }
        }
    }
    // A pays under a plan in odd amounts; B pays the same at the counter.
    let plan = format!("/api/persons/{a}/arrears-plan");
    let (status, view) = api.call("GET", &plan, Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["owed"].as_str(), Some(yibao_domain::Fen::new(total).to_string().as_str()), "{view}");
    let (status, agreed) = api
        .call(
            "POST",
            &plan,
            Auth::Token(&accountant),
            Some(json!({ "instalments": 7, "first_due_on": "2026-12-07", "total": view["owed"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agreed}");
    let mut left = total;
    for amount in [333_i64, 12_345, 99_999] {
        let (status, paid) = api
            .call(
                "POST",
                &format!("{plan}/payments"),
                Auth::Token(&accountant),
                Some(json!({ "receipt": format!("PLAN-{amount}"), "amount": yibao_domain::Fen::new(amount).to_string() })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{paid}");
        left -= amount;
    }
    let (status, done) = api
        .call(
            "POST",
            &format!("{plan}/payments"),
            Auth::Token(&accountant),
            Some(json!({ "receipt": "PLAN-LAST", "amount": yibao_domain::Fen::new(left).to_string() })),
        )
        .await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("completed")), "{done}");
    for month in months {
        let (status, cont) = api.call("GET", &format!("/api/persons/{b}/contributions"), Auth::Token(&accountant), None).await;
        assert_eq!(status, StatusCode::OK);
        let due: i64 = cont
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["period"] == month)
            .map(|c| yibao_domain::Fen::parse_yuan(c["due"].as_str().unwrap()).unwrap().get())
            .max()
            .unwrap();
        let paid: i64 = cont
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["period"] == month)
            .map(|c| yibao_domain::Fen::parse_yuan(c["paid"].as_str().unwrap()).unwrap().get())
            .sum();
        let body = json!({ "kind": "employee", "period": month, "paid": yibao_domain::Fen::new(due - paid).to_string(), "wage_monthly": "7777.77" });
        let (status, rec) = api.call("POST", &format!("/api/persons/{b}/contributions"), Auth::Token(&accountant), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{rec}");
    }
    let (ba, bb) = (balance(&api, &accountant, a).await, balance(&api, &accountant, b).await);
    assert_eq!(ba, bb);
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
}

/// Under a pack that resumes on a plan without retroactive cover, a service dated while the
/// plan was kept to stays covered after the plan is paid off.
#[tokio::test]
async fn paying_the_plan_off_keeps_covered_the_services_dated_while_it_was_kept() {
    let pack = pack_with_waiting(0, false);
    let api = setup("payoff", &pack, datetime!(2026-12-07 10:00 +08)).await;
    let _ = enrol_both(&api).await;
    let accountant = api.sign_in("accountant").await;
    let part = json!({ "kind": "resident", "period": "2025", "paid": "100" });
    let (status, body) = api.call("POST", &format!("/api/persons/{EAST_PERSON}/contributions"), Auth::Token(&accountant), Some(part)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plan = format!("/api/persons/{EAST_PERSON}/arrears-plan");
    let (_, view) = api.call("GET", &plan, Auth::Token(&accountant), None).await;
    let (status, agreed) = api
        .call(
            "POST",
            &plan,
            Auth::Token(&accountant),
            Some(json!({ "instalments": 12, "first_due_on": "2026-12-07", "total": view["owed"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agreed}");
    // A stay on 10 December, while the plan is kept: covered.
    api.set_now(datetime!(2026-12-15 10:00 +08));
    let pre = api.call("POST", "/api/pre-settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "C0001", "K-1", "2026-12-10"))).await;
    assert_eq!(pre.0, StatusCode::OK, "{}", pre.1);
    // The person pays the plan off on 20 December; the hospital settles the stay after.
    api.set_now(datetime!(2026-12-20 10:00 +08));
    let accountant = api.sign_in("accountant").await;
    let (status, done) = api
        .call("POST", &format!("{plan}/payments"), Auth::Token(&accountant), Some(json!({ "receipt": "OFF-1", "amount": view["owed"] })))
        .await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("completed")), "{done}");
    let settled = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(stay(EAST_PERSON, "C0001", "K-1", "2026-12-10"))).await;
    assert_eq!(settled.0, StatusCode::CREATED, "{}", settled.1);
}

fn national_id(region: &str, n: u32) -> String {
    let body = format!("{region}19800101{n:03}");
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(weights).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let check = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"][(sum % 11) as usize];
    format!("{body}{check}")
}

/// On PostgreSQL a plan agreed while the counter pays the same period: one waits for the
/// other, so never both land (a plan left open over periods that owe nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plan_and_a_counter_payment_at_once_never_both_land_on_postgresql() {
    let (api, _server) = setup_postgres(DEMO_PACK, datetime!(2026-12-07 10:00 +08)).await;
    let api = Arc::new(api);
    let east = api.sign_in("east.clerk").await;
    let accountant = api.sign_in("accountant").await;
    let mut stuck: Vec<u32> = Vec::new();
    for n in 1..=40_u32 {
        let id = national_id("419921", n);
        let hh = format!("HH-R{n}");
        let (status, body) = api
            .call("POST", "/api/households", Auth::Token(&east), Some(json!({ "household_id": hh, "region": "419921", "address": "x" })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let mut person = enrolment(&id, "419921", &hh);
        person["card_no"] = json!(format!("C-R{n}"));
        let (status, body) = api.call("POST", "/api/persons", Auth::Token(&east), Some(person)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let contributions = format!("/api/persons/{id}/contributions");
        let (status, rec) = api
            .call("POST", &contributions, Auth::Token(&accountant), Some(json!({ "kind": "resident", "period": "2025", "paid": "100" })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{rec}");
        let plan = format!("/api/persons/{id}/arrears-plan");
        let (_, view) = api.call("GET", &plan, Auth::Token(&accountant), None).await;
        let owed = view["owed"].clone();
        let (a1, a2) = (Arc::clone(&api), Arc::clone(&api));
        let (t1, t2) = (accountant.clone(), accountant.clone());
        let (p1, c2) = (plan.clone(), contributions.clone());
        let o1 = owed.clone();
        let agree = tokio::spawn(async move {
            a1.call("POST", &p1, Auth::Token(&t1), Some(json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": o1 }))).await
        });
        let counter = tokio::spawn(async move {
            a2.call("POST", &c2, Auth::Token(&t2), Some(json!({ "kind": "resident", "period": "2025", "paid": owed }))).await
        });
        let (agreed, paid) = (agree.await.unwrap(), counter.await.unwrap());
        if agreed.0 == StatusCode::CREATED && paid.0 == StatusCode::CREATED {
            stuck.push(n);
        }
    }
    assert!(stuck.is_empty(), "both landed in races {stuck:?}");
}

#[tokio::test]
async fn bad_plan_and_payment_input_is_refused_without_a_server_error() {
    let api = setup("inputs", DEMO_PACK, datetime!(2026-12-07 10:00 +08)).await;
    let (east, west) = enrol_both(&api).await;
    let accountant = api.sign_in("accountant").await;
    let part = json!({ "kind": "resident", "period": "2025", "paid": "100" });
    let (status, _) = api.call("POST", &format!("/api/persons/{EAST_PERSON}/contributions"), Auth::Token(&accountant), Some(part)).await;
    assert_eq!(status, StatusCode::CREATED);
    let plan = format!("/api/persons/{EAST_PERSON}/arrears-plan");
    let (_, view) = api.call("GET", &plan, Auth::Token(&accountant), None).await;
    let owed = view["owed"].clone();
    for body in [
        json!({ "instalments": 0, "first_due_on": "2026-12-07", "total": owed }),
        json!({ "instalments": -1, "first_due_on": "2026-12-07", "total": owed }),
        json!({ "instalments": 4294967296_u64, "first_due_on": "2026-12-07", "total": owed }),
        json!({ "instalments": "3", "first_due_on": "2026-12-07", "total": owed }),
        json!({ "instalments": 3, "first_due_on": "2026-02-30", "total": owed }),
        json!({ "instalments": 3, "first_due_on": "2026-12-06", "total": owed }),
        json!({ "instalments": 3, "first_due_on": "2027-01-07", "total": owed }),
        json!({ "instalments": 3, "first_due_on": "2027-01-08", "total": owed }),
        json!({ "instalments": 3, "first_due_on": "+999999-01-01", "total": owed }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": "abc" }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": "-480.00" }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": "1e3" }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": 480 }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": "480.001" }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": "99999999999999999999" }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07" }),
        json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": owed, "extra": 1 }),
    ] {
        let answer = api.call("POST", &plan, Auth::Token(&accountant), Some(body.clone())).await;
        assert!(answer.0 != StatusCode::CREATED || body["first_due_on"] == "2027-01-07");
        assert!(!answer.0.is_server_error());
    }
    // Roles and scope.
    let west_try =
        api.call("POST", &plan, Auth::Token(&west), Some(json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": owed }))).await;
    assert_eq!(west_try.0, StatusCode::NOT_FOUND, "another county's clerk: {}", west_try.1);
    assert_eq!(api.call("GET", &plan, Auth::Token(&west), None).await.0, StatusCode::NOT_FOUND);
    let claims = api.sign_in("east.claims").await;
    assert_eq!(api.call("GET", &plan, Auth::Token(&claims), None).await.0, StatusCode::FORBIDDEN, "claims officers read no arrears");
    let hospital =
        api.call("POST", &format!("{plan}/payments"), Auth::Key("key-east"), Some(json!({ "receipt": "H-1", "amount": "1" }))).await;
    assert_eq!(hospital.0, StatusCode::FORBIDDEN, "{}", hospital.1);
    let (status, _) = api.call("GET", &plan, Auth::Token(&east), None).await;
    assert_eq!(status, StatusCode::OK);
    for amount in [json!("0"), json!("-1"), json!("0.001"), json!("99999999999999999999"), json!("１"), json!("1,000")] {
        let answer = api
            .call(
                "POST",
                &format!("{plan}/payments"),
                Auth::Token(&accountant),
                Some(json!({ "receipt": "BAD-1", "amount": amount.clone() })),
            )
            .await;
        assert!(answer.0.is_client_error(), "{amount}: {:?} {}", answer.0, answer.1);
    }
    let west_pay =
        api.call("POST", &format!("{plan}/payments"), Auth::Token(&west), Some(json!({ "receipt": "W-1", "amount": "1" }))).await;
    assert_eq!(west_pay.0, StatusCode::NOT_FOUND, "{}", west_pay.1);
    let none = api
        .call(
            "POST",
            &format!("/api/persons/{WEST_PERSON}/arrears-plan/payments"),
            Auth::Token(&accountant),
            Some(json!({ "receipt": "N-1", "amount": "1" })),
        )
        .await;
    assert_eq!(code(&none), (StatusCode::UNPROCESSABLE_ENTITY, Some("arrears.no_plan")), "{}", none.1);
    let nothing = api
        .call(
            "POST",
            &format!("/api/persons/{WEST_PERSON}/arrears-plan"),
            Auth::Token(&accountant),
            Some(json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": "0.00" })),
        )
        .await;
    assert_eq!(code(&nothing).0, StatusCode::UNPROCESSABLE_ENTITY, "{}", nothing.1);
}

#[tokio::test]
async fn a_person_who_moved_county_has_the_arrears_of_the_county_left_planned_by_the_new_one() {
    let api = setup("moved", DEMO_PACK, datetime!(2026-12-07 10:00 +08)).await;
    let (east, west) = enrol_both(&api).await;
    let mut p = enrolment("419921198001010510", "419921", "HH-E1");
    p["card_no"] = json!("C-M");
    let (status, b) = api.call("POST", "/api/persons", Auth::Token(&east), Some(p)).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let accountant = api.sign_in("accountant").await;
    let admin = api.sign_in("admin").await;
    let part = json!({ "kind": "resident", "period": "2025", "paid": "100" });
    let (status, _) = api.call("POST", "/api/persons/419921198001010510/contributions", Auth::Token(&accountant), Some(part)).await;
    assert_eq!(status, StatusCode::CREATED);
    let to_west =
        json!({ "on": "2026-06-01", "region": "419922", "household_id": "HH-W1", "scheme": "resident", "category": "resident", "tier": 3 });
    let (status, moved) = api.call("POST", "/api/persons/419921198001010510/coverage-changes", Auth::Token(&admin), Some(to_west)).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let plan = "/api/persons/419921198001010510/arrears-plan".to_owned();
    // The new county's clerk sees what the person owes where it was booked, and agrees it.
    let (status, view) = api.call("GET", &plan, Auth::Token(&west), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_ne!(view["owed"], json!("0.00"), "{view}");
    let (_, city_view) = api.call("GET", &plan, Auth::Token(&accountant), None).await;
    assert_eq!(view["owed"], city_view["owed"], "{view} {city_view}");
    let agree = api
        .call("POST", &plan, Auth::Token(&west), Some(json!({ "instalments": 3, "first_due_on": "2026-12-07", "total": view["owed"] })))
        .await;
    assert_eq!(agree.0, StatusCode::CREATED, "{}", agree.1);
    let counter = api
        .call(
            "POST",
            "/api/persons/419921198001010510/contributions",
            Auth::Token(&west),
            Some(json!({ "kind": "resident", "period": "2025", "paid": "1" })),
        )
        .await;
    assert_eq!(code(&counter), (StatusCode::UNPROCESSABLE_ENTITY, Some("contribution.in_plan")), "{}", counter.1);
}
