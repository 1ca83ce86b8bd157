//! A commercial administrator's quarter end to end over HTTP (issue 18, R-TPA-1/2/3), on
//! SQLite and on a real PostgreSQL server, under a clock the test moves: a contract won by
//! tender for the east county's residents, a claim flagged and held, the administrator's
//! review (only its own county's claims), the hospital's appeal decided by the bureau, the
//! bureau's sample with its finding, complaints and surveys, the month's run, and the
//! quarter scored from those records, the fee with its penalty posted to the books.

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;

use super::{Api, Auth, EAST_PERSON, WEST_PERSON, code, enrol_both, fen};

fn contract() -> Value {
    json!({
        "code": "PICC419900", "name": "人保财险示范市分公司",
        "tender": { "reference": "SFCG-2026-018", "awarded_on": "2026-09-01", "bidders": 3 },
        "signed_on": "2026-09-20", "from": "2026-10-01", "until": "2027-09-30",
        "counties": ["419921"], "schemes": ["resident"],
        "fee_per_insured": "12.00", "revolving_fund": "500000.00",
        "review": { "threshold": "1000.00", "sample_rate_bp": 5000, "seed": 7, "bureau_sample_rate_bp": 10000 },
        "kpis": [
            { "measure": "payment-days", "weight_bp": 3000, "target": 1500 },
            { "measure": "review-days", "weight_bp": 2000, "target": 300 },
            { "measure": "error-rate", "weight_bp": 3000, "target": 300 },
            { "measure": "satisfaction", "weight_bp": 2000, "target": 9000 }
        ],
        "bands": [{ "from_score_bp": 9000, "adjustment_bp": 1000 }, { "from_score_bp": 7000, "adjustment_bp": -500 }, { "from_score_bp": 0, "adjustment_bp": -1000 }],
        "renewal_floor_bp": 7000
    })
}

/// A pneumonia stay of `person` at the east county's hospital: `lines` as (code, quantity,
/// unit price).
fn stay(person: &str, claim_id: &str, (admitted, discharged): (&str, &str), lines: &[(&str, u32, &str)]) -> Value {
    let lines: Vec<Value> =
        lines.iter().map(|(code, quantity, price)| json!({ "code": code, "quantity": quantity, "unit_price": price })).collect();
    json!({ "person_id": person, "card_no": "C0001", "claim": { "claim_id": claim_id, "institution_code": "H41992100007",
            "institution_level": "secondary", "kind": "inpatient", "admission_date": admitted, "discharge_date": discharged,
            "diagnosis": "J18.900", "lines": lines } })
}

fn ceftriaxone(person: &str, claim_id: &str, days: (&str, &str)) -> Value {
    stay(person, claim_id, days, &[("XJ01DDT045B001010101288", 18, "120.00"), ("001109000010000", 4, "50.00")])
}

async fn quarter_flow(api: &Api) {
    enrol_both(api).await;
    let admin = api.sign_in("admin").await;
    let accountant = api.sign_in("accountant").await;
    let officer = api.sign_in("east.claims").await;
    let clerk = api.sign_in("east.clerk").await;
    let opening = json!({ "kind": "opening-balance", "scheme": "resident", "unit": "419900", "amount": "1000000.00", "date": "2026-01-01", "reference": "OB-R" });
    assert_eq!(api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(opening)).await.0, StatusCode::CREATED);
    let supplementary = json!({ "kind": "opening-balance", "scheme": "supplementary", "unit": "419900", "amount": "100000.00", "date": "2026-01-01", "reference": "OB-S" });
    assert_eq!(api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(supplementary)).await.0, StatusCode::CREATED);

    // The city's administrator signs the contract won by tender; the key is shown once.
    assert_eq!(api.call("POST", "/api/administrators", Auth::Token(&clerk), Some(contract())).await.0, StatusCode::FORBIDDEN);
    let mut bad = contract();
    bad["kpis"][0]["weight_bp"] = json!(2000);
    assert_eq!(
        code(&api.call("POST", "/api/administrators", Auth::Token(&admin), Some(bad)).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.bad_terms"))
    );
    let (status, signed) = api.call("POST", "/api/administrators", Auth::Token(&admin), Some(contract())).await;
    assert_eq!(status, StatusCode::CREATED, "{signed}");
    let key = signed["api_key"].as_str().expect("the administrator's key").to_owned();
    assert_eq!(signed["contract"]["fee_per_insured"], "12.00", "money on the wire in yuan: {signed}");
    assert_eq!(
        code(&api.call("POST", "/api/administrators", Auth::Token(&admin), Some(contract())).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.exists"))
    );
    // Another insurer for the same county and scheme on a common day: refused; a scheme the
    // city does not run: refused.
    let mut rival = contract();
    rival["code"] = json!("CPIC419900");
    assert_eq!(
        code(&api.call("POST", "/api/administrators", Auth::Token(&admin), Some(rival.clone())).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.overlaps"))
    );
    rival["schemes"] = json!(["ncms"]);
    assert_eq!(code(&api.call("POST", "/api/administrators", Auth::Token(&admin), Some(rival)).await).0, StatusCode::UNPROCESSABLE_ENTITY);
    // Its key opens its own review, and nothing of the bureau's: not even the seed the
    // bureau's sample is drawn with.
    assert_eq!(api.call("GET", "/api/persons?name=张", Auth::Key(&key), None).await.0, StatusCode::FORBIDDEN);
    let (status, own) = api.call("GET", "/api/administrators", Auth::Key(&key), None).await;
    assert_eq!((status, own.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{own}");
    assert_eq!(own[0]["bureau_seed"], json!(0), "{own}");
    assert_eq!(signed["contract"]["bureau_seed"], json!(0), "{signed}");

    // Two claims held by monitoring: R-1 of the east county (its contract), R-2 of the west.
    let (status, held) = api
        .call("POST", "/api/settlements", Auth::Key("key-east"), Some(ceftriaxone(EAST_PERSON, "R-1", ("2026-11-01", "2026-11-05"))))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let (status, west) = api
        .call("POST", "/api/settlements", Auth::Key("key-east"), Some(ceftriaxone(WEST_PERSON, "R-2", ("2026-11-02", "2026-11-06"))))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{west}");
    let (status, flags) = api.call("GET", "/api/review/flags", Auth::Key(&key), None).await;
    let claims: Vec<&str> = flags.as_array().expect("flags").iter().filter_map(|f| f["claim_id"].as_str()).collect();
    assert_eq!((status, claims), (StatusCode::OK, vec!["R-1"]), "its county's flags only: {flags}");
    let (status, selection) = api.call("GET", "/api/administrators/PICC419900/quarters/2026Q4/selection", Auth::Key(&key), None).await;
    assert_eq!(status, StatusCode::OK, "{selection}");
    assert_eq!(selection.as_array().map(Vec::len), Some(1), "{selection}");
    assert_eq!((selection[0]["claim_id"].as_str(), selection[0]["reason"].as_str()), (Some("R-1"), Some("above-threshold")), "{selection}");
    assert_eq!(
        api.call("GET", "/api/administrators/PICC419900/quarters/2026Q4/bureau-sample", Auth::Key(&key), None).await.0,
        StatusCode::FORBIDDEN,
        "the administrator does not learn the bureau's sample"
    );

    // The administrator's review: the west county's claim is not its to touch; R-1's flag is
    // confirmed by its finding of 100.00.
    let elsewhere = json!({ "outcome": "dismissed", "note": "looks fine" });
    assert_eq!(
        code(&api.call("POST", "/api/review/flags/H41992100007/R-2/1/decision", Auth::Key(&key), Some(elsewhere)).await),
        (StatusCode::NOT_FOUND, Some("claim.not_found"))
    );
    let finding = json!({ "rule": "ceftriaxone-quantity", "flag_no": 1, "amount": "100.00", "evidence": "12 doses on the order sheet" });
    let (status, found) = api.call("POST", "/api/review/findings/H41992100007/R-1", Auth::Key(&key), Some(finding)).await;
    assert_eq!(
        (status, found["level"].as_str(), found["found_by"].as_str()),
        (StatusCode::CREATED, Some("administrator"), Some("PICC419900")),
        "{found}"
    );
    // The hospital appeals; the bureau, not the administrator, decides: refused.
    let appeal = json!({ "appeal": "the nursing record shows 18 doses" });
    assert_eq!(
        api.call("POST", "/api/review/findings/H41992100007/R-1/1/appeal", Auth::Key("key-east"), Some(appeal)).await.0,
        StatusCode::OK
    );
    let decision = json!({ "upheld": false, "note": "the nursing record shows 12 doses" });
    assert_eq!(
        api.call("POST", "/api/review/findings/H41992100007/R-1/1/decision", Auth::Key(&key), Some(decision.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, decided) =
        api.call("POST", "/api/review/findings/H41992100007/R-1/1/decision", Auth::Token(&officer), Some(decision)).await;
    assert_eq!((status, decided["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{decided}");

    // The bureau's sample (all of this small quarter) finds R-1 in error: 50.00 more.
    let (status, sample) =
        api.call("GET", "/api/administrators/PICC419900/quarters/2026Q4/bureau-sample", Auth::Token(&officer), None).await;
    assert_eq!((status, sample.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{sample}");
    let audit = json!({ "rule": "bed days", "amount": "50.00", "evidence": "discharged on the morning of 5 November" });
    let (status, bureau) = api.call("POST", "/api/review/findings/H41992100007/R-1", Auth::Token(&officer), Some(audit)).await;
    assert_eq!((status, bureau["level"].as_str()), (StatusCode::CREATED, Some("bureau")), "{bureau}");

    // The west county's claims officer has nothing of the east county's contract.
    let west_officer = api.sign_in("west.claims").await;
    assert_eq!(
        code(&api.call("GET", "/api/administrators/PICC419900/quarters/2026Q4/bureau-sample", Auth::Token(&west_officer), None).await),
        (StatusCode::NOT_FOUND, Some("administrator.not_found"))
    );
    let stray = json!({ "kind": "complaint", "on": "2026-11-08", "note": "?" });
    assert_eq!(
        api.call("POST", "/api/administrators/PICC419900/entries", Auth::Token(&west_officer), Some(stray)).await.0,
        StatusCode::NOT_FOUND
    );

    // A complaint and two surveys; a survey without a score is refused.
    for entry in [
        json!({ "kind": "complaint", "on": "2026-11-08", "note": "电话无人接听" }),
        json!({ "kind": "survey", "on": "2026-11-09", "score_bp": 9500, "note": "满意" }),
        json!({ "kind": "survey", "on": "2026-11-09", "score_bp": 8500, "note": "基本满意" }),
    ] {
        let (status, body) = api.call("POST", "/api/administrators/PICC419900/entries", Auth::Token(&officer), Some(entry)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let unscored = json!({ "kind": "survey", "on": "2026-11-09", "note": "?" });
    assert_eq!(
        code(&api.call("POST", "/api/administrators/PICC419900/entries", Auth::Token(&officer), Some(unscored)).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.bad_entry"))
    );

    // November's run on the 10th pays R-1 (its hold decided that day), less 150.00.
    let (status, run) =
        api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(json!({ "month": "2026-11", "day": 10 }))).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");

    // The quarter is scored once it is over.
    let score_path = "/api/administrators/PICC419900/quarters/2026Q4/score";
    assert_eq!(
        code(&api.call("POST", score_path, Auth::Token(&accountant), None).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.quarter_not_over"))
    );
    api.set_now(datetime!(2027-01-05 10:00 +08));
    let (accountant, admin) = (api.sign_in("accountant").await, api.sign_in("admin").await);
    assert_eq!(
        api.call("POST", score_path, Auth::Key(&key), None).await.0,
        StatusCode::FORBIDDEN,
        "an administrator does not score itself"
    );
    let (status, quarter) = api.call("POST", score_path, Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::CREATED, "{quarter}");
    // By hand: one insured resident in 419921, a quarter of 12.00 = 3.00. Paid the day of
    // settlement (0 days ≤ 15: 3,000 points); flags decided the day raised (2,000); the
    // bureau's one sampled claim in error, 10,000 bp against 300 (300 bp achieved: 90
    // points); surveys 9,000 on average (2,000). Score 7,090: the 70% band, −5% of 3.00 =
    // −0.15; 2.85 paid; renewal recommended (7,090 ≥ 7,000).
    let kpis: Vec<(&str, u64, u64)> = quarter["kpis"]
        .as_array()
        .expect("kpis")
        .iter()
        .map(|k| (k["measure"].as_str().unwrap_or(""), k["actual"].as_u64().unwrap_or(u64::MAX), k["points_bp"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(
        kpis,
        [("payment-days", 0, 3_000), ("review-days", 0, 2_000), ("error-rate", 10_000, 90), ("satisfaction", 9_000, 2_000)],
        "{quarter}"
    );
    assert_eq!(
        (
            quarter["insured"].as_u64(),
            quarter["fee"].as_str(),
            quarter["score_bp"].as_u64(),
            quarter["adjustment"].as_str(),
            quarter["paid"].as_str()
        ),
        (Some(1), Some("3.00"), Some(7_090), Some("-0.15"), Some("2.85")),
        "{quarter}"
    );
    assert_eq!(quarter["renewal_recommended"], json!(true));
    assert_eq!((quarter["sample"]["sampled"].as_u64(), quarter["sample"]["in_error"].as_u64()), (Some(1), Some(1)), "{quarter}");
    assert_eq!(
        code(&api.call("POST", score_path, Auth::Token(&admin), None).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.quarter_scored"))
    );
    let (status, listed) = api.call("GET", "/api/administrators/PICC419900/quarters", Auth::Key(&key), None).await;
    assert_eq!((status, listed.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "the administrator reads its score: {listed}");

    // The fee went from city finance through the fund's special account to the administrator.
    let (_, accounts) = api.call("GET", "/api/funds/accounts", Auth::Token(&admin), None).await;
    let balance = |holder: &str| {
        accounts
            .as_array()
            .expect("accounts")
            .iter()
            .find(|a| a["fund"] == "resident@419900" && a["holder"] == holder && a["kind"] == "external")
            .map(|a| fen(&a["balance"]))
    };
    assert_eq!((balance("insurer:PICC419900"), balance("finance:419900")), (Some(-285), Some(285)), "{accounts}");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&admin), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
}

#[tokio::test]
async fn an_administrators_quarter_is_reviewed_scored_and_paid_on_sqlite() {
    quarter_flow(&super::review::monitored_sqlite("administrators", datetime!(2026-11-10 10:00 +08)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_quarter_behaves_the_same_on_postgresql() {
    let (api, _server) = super::review::monitored_postgres(datetime!(2026-11-10 10:00 +08)).await;
    quarter_flow(&api).await;
}

fn bed_stay(person: &str, claim_id: &str, days: (&str, &str)) -> Value {
    stay(person, claim_id, days, &[("001109000010000", 2, "50.00"), ("XA10BAE010A001010100315", 1, "900.00")])
}

/// The revolving fund (R-TPA-1): advanced to its size, the administrator pays its county's
/// hospital from it (the month's run leaves that hospital to it and pays the other county),
/// and the bureau tops it up by what it paid; the books balance.
async fn revolving_flow(api: &Api) {
    enrol_both(api).await;
    let admin = api.sign_in("admin").await;
    let accountant = api.sign_in("accountant").await;
    for (scheme, reference) in [("resident", "OB-R"), ("supplementary", "OB-S")] {
        let opening = json!({ "kind": "opening-balance", "scheme": scheme, "unit": "419900", "amount": "1000000.00", "date": "2026-01-01", "reference": reference });
        assert_eq!(api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(opening)).await.0, StatusCode::CREATED);
    }
    let (status, signed) = api.call("POST", "/api/administrators", Auth::Token(&admin), Some(contract())).await;
    assert_eq!(status, StatusCode::CREATED, "{signed}");
    let key = signed["api_key"].as_str().expect("key").to_owned();
    let top_up = "/api/administrators/PICC419900/revolving-fund/top-up";
    assert_eq!(api.call("POST", top_up, Auth::Key(&key), None).await.0, StatusCode::FORBIDDEN, "the bureau advances it");
    let (status, advanced) = api.call("POST", top_up, Auth::Token(&accountant), None).await;
    assert_eq!((status, advanced[0]["top_up"].as_str()), (StatusCode::OK, Some("500000.00")), "{advanced}");
    let (_, again) = api.call("POST", top_up, Auth::Token(&accountant), None).await;
    assert_eq!(again[0]["top_up"], "0.00", "a full fund takes nothing: {again}");

    // R-5 of the east county (its contract) and R-6 of the west.
    let (status, east) =
        api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(bed_stay(EAST_PERSON, "R-5", ("2026-11-01", "2026-11-03")))).await;
    assert_eq!(status, StatusCode::CREATED, "{east}");
    let (status, west) =
        api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(bed_stay(WEST_PERSON, "R-6", ("2026-11-01", "2026-11-03")))).await;
    assert_eq!(status, StatusCode::CREATED, "{west}");
    let east_pooled = fen(&east["settlement"]["hifp_pay"]);
    let west_pooled = fen(&west["settlement"]["hifp_pay"]);
    assert!(east_pooled > 0 && west_pooled > 0);

    // The administrator pays its county's hospital the residents' fund's part, from the
    // revolving fund; only with its own key, and once September (the month before its
    // contract, the bureau's to pay) has been run.
    let pay = "/api/administrators/PICC419900/revolving-fund/payments";
    assert_eq!(api.call("POST", pay, Auth::Token(&admin), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        code(&api.call("POST", pay, Auth::Key(&key), None).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.months_not_run"))
    );
    let september = json!({ "month": "2026-09", "day": 30 });
    assert_eq!(api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(september)).await.0, StatusCode::CREATED);
    let (status, paid) = api.call("POST", pay, Auth::Key(&key), None).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let lines: Vec<(&str, &str, i64)> = paid[0]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| (l["unit"].as_str().unwrap_or(""), l["institution"].as_str().unwrap_or(""), fen(&l["amount"])))
        .collect();
    assert_eq!(lines, [("419921", "H41992100007", east_pooled)], "{paid}");
    let (_, nothing) = api.call("POST", pay, Auth::Key(&key), None).await;
    assert_eq!(nothing[0]["lines"], json!([]), "paid once: {nothing}");

    // R-7, settled after: the month's run leaves it to the administrator, and pays the west.
    let (status, later) =
        api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(bed_stay(EAST_PERSON, "R-7", ("2026-11-06", "2026-11-07")))).await;
    assert_eq!(status, StatusCode::CREATED, "{later}");
    let later_pooled = fen(&later["settlement"]["hifp_pay"]);
    let (status, run) =
        api.call("POST", "/api/funds/pooling-runs", Auth::Token(&accountant), Some(json!({ "month": "2026-11", "day": 10 }))).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let resident = run["run"]["funds"].as_array().expect("funds").iter().find(|f| f["fund"] == "resident@419900").expect("resident");
    let unit = |code: &str| resident["units"].as_array().expect("units").iter().find(|u| u["unit"] == code).cloned().unwrap_or(Value::Null);
    assert_eq!(unit("419921")["payments"], json!([]), "the administrator pays the east: {run}");
    assert_eq!(fen(&unit("419921")["held_back"][0]["amount"]), later_pooled, "{run}");
    assert_eq!(fen(&unit("419922")["payments"][0]["amount"]), west_pooled, "{run}");
    let (_, paid) = api.call("POST", pay, Auth::Key(&key), None).await;
    assert_eq!(fen(&paid[0]["lines"][0]["amount"]), later_pooled, "{paid}");

    // Its statement, then the top-up by what it paid; the books balance.
    let (status, statement) = api.call("GET", "/api/administrators/PICC419900/revolving-fund", Auth::Key(&key), None).await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    assert_eq!(fen(&statement[0]["balance"]), 50_000_000 - east_pooled - later_pooled, "{statement}");
    let (_, topped) = api.call("POST", top_up, Auth::Token(&accountant), None).await;
    assert_eq!(fen(&topped[0]["top_up"]), east_pooled + later_pooled, "{topped}");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&admin), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
    // Once the contract has ended the bureau advances nothing more.
    api.set_now(datetime!(2027-10-05 10:00 +08));
    let accountant = api.sign_in("accountant").await;
    assert_eq!(
        code(&api.call("POST", top_up, Auth::Token(&accountant), None).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("administrator.outside_period"))
    );
}

#[tokio::test]
async fn a_revolving_fund_pays_its_countys_hospitals_and_is_topped_up_on_sqlite() {
    revolving_flow(&super::review::monitored_sqlite("revolving", datetime!(2026-11-10 10:00 +08)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revolving_fund_behaves_the_same_on_postgresql() {
    let (api, _server) = super::review::monitored_postgres(datetime!(2026-11-10 10:00 +08)).await;
    revolving_flow(&api).await;
}

/// A stay far above the residents' pooled cap: the supplementary layer pays part of it.
fn costly_stay(person: &str, claim_id: &str, days: (&str, &str)) -> Value {
    stay(person, claim_id, days, &[("001109000010000", 20, "50.00"), ("XA10BAE010A001010100315", 300, "900.00")])
}

/// The supplementary layer underwritten (issue 18 item 1, ZZ-NCMS §三(五)): a contract
/// for 2026's last quarter with the seed's premium of 10 yuan. A small stay of the east
/// reaches no supplementary layer; a costly one does, and a bureau finding deducts from it;
/// the west's is not the contract's county. Q4 pays the insurer a quarter's premium for the
/// east's resident with supplementary cover and has it pay back the layer net of the
/// finding. After the contract: a stay admitted in its last days is settled in January,
/// claims staff reverse the costly stay, and the run-off quarter (no fee, no premium)
/// recovers the first and gives back the second. Over both years the east's supplementary
/// fund spent the premium and no more. A reversal thirteen months on is given back in its
/// run-off quarter; the books balance.
async fn underwriting_flow(api: &Api) {
    enrol_both(api).await;
    let admin = api.sign_in("admin").await;
    let accountant = api.sign_in("accountant").await;
    let officer = api.sign_in("east.claims").await;
    for (scheme, reference) in [("resident", "OB-R"), ("supplementary", "OB-S")] {
        let opening = json!({ "kind": "opening-balance", "scheme": scheme, "unit": "419900", "amount": "1000000.00", "date": "2026-01-01", "reference": reference });
        assert_eq!(api.call("POST", "/api/funds/receipts", Auth::Token(&accountant), Some(opening)).await.0, StatusCode::CREATED);
    }
    let mut terms = contract();
    (terms["until"], terms["supplementary_premium"]) = (json!("2026-12-31"), json!("10.00"));
    let (status, signed) = api.call("POST", "/api/administrators", Auth::Token(&admin), Some(terms)).await;
    assert_eq!((status, signed["contract"]["supplementary_premium"].as_str()), (StatusCode::CREATED, Some("10.00")), "{signed}");

    let settle = |claim: Value| async move {
        let (status, body) = api.call("POST", "/api/settlements", Auth::Key("key-east"), Some(claim)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        fen(&body["settlement"]["oth_pay"])
    };
    assert_eq!(settle(bed_stay(EAST_PERSON, "U-0", ("2026-10-10", "2026-10-12"))).await, 0, "below the cap: no supplementary layer");
    let layer = settle(costly_stay(EAST_PERSON, "U-1", ("2026-11-01", "2026-11-20"))).await;
    assert!(layer > 0, "the costly stay reaches the supplementary layer");
    assert!(settle(costly_stay(WEST_PERSON, "U-2", ("2026-11-01", "2026-11-20"))).await > 0);
    // The bureau disallows 3,000.00 of the east's stay: shared over the layers that paid.
    let audit = json!({ "rule": "bed days", "amount": "3000.00", "evidence": "six bed days too many" });
    let (status, finding) = api.call("POST", "/api/review/findings/H41992100007/U-1", Auth::Token(&officer), Some(audit)).await;
    assert_eq!(status, StatusCode::CREATED, "{finding}");
    let deducted = finding["legs"].as_array().expect("legs").iter().find(|l| l["layer"] == "oth_pay").map_or(0, |l| fen(&l["amount"]));
    assert!(deducted > 0 && deducted < layer, "{finding}");

    // Q4 scored on 5 January: a quarter of 10.00 for the one resident of the east with
    // supplementary cover, and the layer less the finding's share paid back.
    api.set_now(datetime!(2027-01-05 10:00 +08));
    let accountant = api.sign_in("accountant").await;
    // A hostile hospital neither scores the quarter (its premium and recovery) nor reads it.
    let q4_path = "/api/administrators/PICC419900/quarters/2026Q4/score";
    assert_eq!(api.call("POST", q4_path, Auth::Key("key-east"), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(api.call("GET", "/api/administrators/PICC419900/quarters", Auth::Key("key-east"), None).await.0, StatusCode::FORBIDDEN);
    let (status, q4) = api.call("POST", "/api/administrators/PICC419900/quarters/2026Q4/score", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::CREATED, "{q4}");
    let line = |quarter: &Value| {
        let l = &quarter["supplementary"][0];
        (
            l["county"].as_str().map(str::to_owned),
            l["insured"].as_u64(),
            fen(&l["premium"]),
            l["claims"].as_u64(),
            fen(&l["owed_to_date"]),
            fen(&l["recovery"]),
        )
    };
    assert_eq!(quarter_lines(&q4), 1, "the contract's one county: {q4}");
    assert_eq!(line(&q4), (Some("419921".into()), Some(1), 250, Some(1), layer - deducted, layer - deducted), "{q4}");
    assert_eq!(q4["run_off"], json!(false));

    // After the contract: claims staff reverse the costly stay (the hospital may not: a
    // reviewer's finding deducts from it); a stay admitted on 28 December is settled on 10
    // January.
    api.set_now(datetime!(2027-01-08 10:00 +08));
    let officer = api.sign_in("east.claims").await;
    let reversal = json!({ "reason": "billed under the wrong person" });
    let (status, reversed) = api.call("POST", "/api/settlements/H41992100007/U-1/reversal", Auth::Token(&officer), Some(reversal)).await;
    assert_eq!(status, StatusCode::OK, "{reversed}");
    api.set_now(datetime!(2027-01-10 10:00 +08));
    let late = settle(costly_stay(EAST_PERSON, "U-3", ("2026-12-28", "2027-01-09"))).await;
    assert!(late > 0, "above the year's cap: the layer pays");
    // The run-off quarter: no fee, no premium; the late stay recovered, the reversed given back.
    api.set_now(datetime!(2027-04-05 10:00 +08));
    let (accountant, auditor) = (api.sign_in("accountant").await, api.sign_in("auditor").await);
    let (status, q1) = api.call("POST", "/api/administrators/PICC419900/quarters/2027Q1/score", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::CREATED, "{q1}");
    assert_eq!(
        (q1["run_off"].as_bool(), q1["paid"].as_str(), q1["renewal_recommended"].as_bool()),
        (Some(true), Some("0.00"), Some(false)),
        "{q1}"
    );
    assert_eq!(line(&q1), (Some("419921".into()), Some(1), 0, Some(1), late, late - (layer - deducted)), "{q1}");

    // The underwriter's account: paid one premium, paid back the late stay's layer.
    assert_eq!(underwriter_balance(api, &auditor).await, Some(late - 250));
    // The east's supplementary fund: 2026's close counts the layer it paid less the
    // finding (booked when paid: the insurer paid it back in January); 2027 so far (its
    // budget's execution) the late stay, the reversal, the recovery, its refund and the
    // premium. Over both, the fund spent the premium and no more.
    let close = json!({ "year": 2026, "levy": "10%" });
    let (status, closed) = api.call("POST", "/api/funds/year-closes", Auth::Token(&accountant), Some(close)).await;
    assert_eq!(status, StatusCode::CREATED, "{closed}");
    let east_supplementary = |p: &&Value| p["fund"] == "supplementary@419900" && p["unit"] == "419921";
    let position =
        closed["record"]["positions"].as_array().expect("positions").iter().find(east_supplementary).cloned().unwrap_or(Value::Null);
    assert_eq!(fen(&position["spending"]), layer - deducted, "{position}");
    let budget = json!({ "year": 2027, "scheme": "supplementary", "unit": "419921", "income": "0.00", "spending": "10.00" });
    assert_eq!(api.call("PUT", "/api/funds/budgets", Auth::Token(&accountant), Some(budget)).await.0, StatusCode::OK);
    let (status, execution) = api.call("GET", "/api/funds/budgets?year=2027", Auth::Token(&auditor), None).await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    let april = &execution[0]["months"][3];
    assert_eq!((april["month"].as_u64(), fen(&april["spending"])), (Some(4), 250 - (layer - deducted)), "{execution}");

    // Thirteen months on, claims staff reverse the late stay: the run-off never closes (a
    // reversal has no deadline; hostile review), so 2028's first quarter gives it back.
    api.set_now(datetime!(2028-02-10 10:00 +08));
    let officer = api.sign_in("east.claims").await;
    let reversal = json!({ "reason": "billed twice" });
    let (status, reversed) = api.call("POST", "/api/settlements/H41992100007/U-3/reversal", Auth::Token(&officer), Some(reversal)).await;
    assert_eq!(status, StatusCode::OK, "{reversed}");
    api.set_now(datetime!(2028-04-05 10:00 +08));
    let (accountant, auditor) = (api.sign_in("accountant").await, api.sign_in("auditor").await);
    let (status, q) = api.call("POST", "/api/administrators/PICC419900/quarters/2028Q1/score", Auth::Token(&accountant), None).await;
    assert_eq!(status, StatusCode::CREATED, "{q}");
    assert_eq!(line(&q), (Some("419921".into()), Some(1), 0, Some(0), 0, -late), "{q}");
    assert_eq!(underwriter_balance(api, &auditor).await, Some(-250), "all it paid back given back: it paid one premium");
    let (status, check) = api.call("GET", "/api/funds/check", Auth::Token(&auditor), None).await;
    assert_eq!((status, check["sound"].as_bool()), (StatusCode::OK, Some(true)), "{check}");
}

/// The underwriter's outside-world account in the supplementary fund: what it was paid back
/// less the premiums it was paid.
async fn underwriter_balance(api: &Api, token: &str) -> Option<i64> {
    let (_, accounts) = api.call("GET", "/api/funds/accounts", Auth::Token(token), None).await;
    accounts
        .as_array()?
        .iter()
        .find(|a| a["fund"] == "supplementary@419900" && a["holder"] == "insurer:PICC419900" && a["kind"] == "external")
        .map(|a| fen(&a["balance"]))
}

fn quarter_lines(quarter: &Value) -> usize {
    quarter["supplementary"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_underwriter_is_paid_its_premium_and_pays_back_the_layer_on_sqlite() {
    underwriting_flow(&super::review::monitored_sqlite("underwriting", datetime!(2026-11-21 10:00 +08)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_underwriter_behaves_the_same_on_postgresql() {
    let (api, _server) = super::review::monitored_postgres(datetime!(2026-11-21 10:00 +08)).await;
    underwriting_flow(&api).await;
}
