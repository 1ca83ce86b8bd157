//! A stay open at go-live (在院未结算, issue 16 item 1): admitted under the legacy system,
//! brought by the migration, then found by the hospital by the person (5201), its fee lines
//! uploaded (2301), discharged (2402) and settled at discharge (2304) as a stay admitted
//! here would be: the same figures as the JSON API's pre-settlement of the same claim, from
//! the year-to-date counters the extract carried. On SQLite and on a real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;
use yibao_app::access::digest;
use yibao_app::migration::MigrationFile;
use yibao_app::{App, Backend, Principal};
use yibao_domain::{InstitutionLevel, RegionCode};
use yibao_policy::Policy;
use yibao_store::{AccessStore, Actor, NewInstitution};

mod common;
use common::{DEMO_PACK, call, message};

const PERSON: &str = "41992119620314004X";

async fn designate<S: AccessStore>(store: &S) {
    let actor =
        Actor { who: "setup".into(), role: "city_administrator".into(), source: "test".into(), at: datetime!(2026-01-01 08:00 UTC) };
    for (code, key) in [("H41992100007", "key-east"), ("H41992100008", "key-other")] {
        let institution = NewInstitution {
            code: yibao_domain::InstitutionCode::parse(code).unwrap(),
            name: code.into(),
            region: RegionCode::parse("419921").unwrap(),
            level: InstitutionLevel::Secondary,
            api_key_hash: digest(key),
        };
        store.create_institution(&actor, institution).await.unwrap();
    }
}

/// The legacy extract: one resident, in hospital since 30 November, who had one stay
/// settled earlier in the year (its deductible counted).
fn extract() -> Vec<MigrationFile> {
    let file = |name: &str, text: &str| MigrationFile { name: name.into(), bytes: text.as_bytes().to_vec() };
    vec![
        file("households.csv", "household_id,region,address\nHH-M1,419921,东区一号\n"),
        file(
            "persons.csv",
            &format!(
                "person_id,name,household_id,region,scheme,category,coverage_from,tier,card_no\n\
                 {PERSON},张三,HH-M1,419921,resident,resident,2024-01-01,1,C0001\n"
            ),
        ),
        file("accumulators.csv", &format!("person_id,year,admissions,inpatient_deductible_paid\n{PERSON},2026,1,500.00\n")),
        file(
            "stays.csv",
            &format!(
                "person_id,institution_code,ipt_otp_no,med_type,admission_date,diagnosis,emergency\n\
                 {PERSON},H41992100007,ZY-LEGACY-7,21,2026-11-30,K35.900,0\n"
            ),
        ),
        file(
            "control.csv",
            "region,measure,value\n419921,households,1\n419921,persons resident,1\n419921,open stays,1\n\
             419921,accumulators 2026,1\n419921,accumulators 2026 admissions,1\n\
             419921,accumulators 2026 inpatient_deductible_paid amount,500.00\n",
        ),
    ]
}

async fn settle_the_migrated_stay(backend: Backend) {
    let policy = Policy::from_toml("demo-city.toml", DEMO_PACK).unwrap();
    let app = App::new(Arc::new(backend), Arc::new(policy)).with_clock(Arc::new(|| datetime!(2026-12-07 02:00 UTC)));
    let operator = Principal::System { name: "cli:ops".into(), region: RegionCode::parse("419900").unwrap() };
    let (check, record) = app.load_migration(&operator, "test", extract(), 100, &|_, _| {}).await.unwrap();
    assert!(check.is_clean(), "{}", check.error_file());
    assert_eq!((check.stays, record.map(|r| r.persons)), (1, Some(1)));
    let report = app.migration_preview(&operator, &check.id).await.unwrap();
    let stays = report.lines.iter().find(|line| line.measure == "open stays").expect("the open stays reconciled");
    assert_eq!((stays.legacy, stays.loaded), (1, 1), "{report:?}");

    // A second extract whose stay has the same hospital, inpatient number and day (a
    // corrected re-extract under another person's row) is a row to fix in the dry run, not
    // a load that fails at its batch.
    let other_person = "419921198505050014";
    let again = vec![
        MigrationFile { name: "households.csv".into(), bytes: "household_id,region,address\nHH-M2,419921,东区二号\n".into() },
        MigrationFile {
            name: "persons.csv".into(),
            bytes: format!(
                "person_id,name,household_id,region,scheme,category,coverage_from,tier\n{other_person},李四,HH-M2,419921,resident,resident,2024-01-01,1\n"
            )
            .into_bytes(),
        },
        MigrationFile {
            name: "stays.csv".into(),
            bytes: format!("person_id,institution_code,ipt_otp_no,med_type,admission_date\n{other_person},H41992100007,ZY-LEGACY-7,21,2026-11-30\n")
                .into_bytes(),
        },
        MigrationFile {
            name: "control.csv".into(),
            bytes: "region,measure,value\n419921,households,1\n419921,persons resident,1\n419921,open stays,1\n".into(),
        },
    ];
    let second = app.check_migration(&operator, again, 100).await.unwrap();
    let at: Vec<_> = second.errors.iter().map(|e| (e.file.name(), e.row.line, e.row.column.as_deref())).collect();
    assert_eq!(at, [("stays", 2, Some("ipt_otp_no"))], "{}", second.error_file());

    let router = yibao_api::app_with(app, yibao_fsi::router());
    let key = ("x-api-key", "key-east");
    let service = "/fsi/api/fsiIntegratedService";
    let (_, signed) = call(&router, service, key, message("9001", 1, "", json!({ "signIn": { "opter_no": "001" } }))).await;
    let sign_no = signed["output"]["signinoutb"]["sign_no"].as_str().unwrap().to_owned();
    let send = |infno: &'static str, n: u32, input: Value| {
        let (router, sign_no) = (router.clone(), sign_no.clone());
        async move { call(&router, service, key, message(infno, n, &sign_no, input)).await.1 }
    };

    // The hospital finds the stay by the person, under its own inpatient number.
    let found = send("5201", 2, json!({ "data": { "psn_no": PERSON } })).await;
    assert_eq!(found["infcode"].as_i64(), Some(0), "{found}");
    let visits = found["output"]["mdtrtinfo"].as_array().expect("a list");
    assert_eq!(visits.len(), 1, "{found}");
    let visit = &visits[0];
    assert_eq!(
        (visit["ipt_otp_no"].as_str(), visit["begntime"].as_str(), visit["med_type"].as_str(), visit["vali_flag"].as_str()),
        (Some("ZY-LEGACY-7"), Some("2026-11-30"), Some("2101"), Some("1")),
        "{visit}"
    );
    let mdtrt_id = visit["mdtrt_id"].as_str().expect("the visit's id").to_owned();
    assert!(mdtrt_id.starts_with("20261130"), "{mdtrt_id}");
    let by_id = send("5201", 31, json!({ "data": { "psn_no": PERSON, "mdtrt_id": mdtrt_id } })).await;
    assert_eq!(by_id["output"]["mdtrtinfo"][0]["mdtrt_id"].as_str(), Some(mdtrt_id.as_str()), "{by_id}");
    let by_day = send("5201", 32, json!({ "data": { "psn_no": PERSON, "begntime": "2026-11-30", "endtime": "2026-11-30" } })).await;
    assert_eq!(by_day["output"]["mdtrtinfo"].as_array().map(Vec::len), Some(1), "{by_day}");
    let outpatient_only = send("5201", 3, json!({ "data": { "psn_no": PERSON, "med_type": "11" } })).await;
    assert_eq!(outpatient_only["output"]["mdtrtinfo"].as_array().map(Vec::len), Some(0), "{outpatient_only}");
    // Another hospital finds nothing of it, and cannot touch it.
    let other = ("x-api-key", "key-other");
    let mut sign_in = message("9001", 4, "", json!({ "signIn": { "opter_no": "001" } }));
    sign_in["fixmedins_code"] = json!("H41992100008");
    let (_, other_signed) = call(&router, service, other, sign_in).await;
    let other_sign = other_signed["output"]["signinoutb"]["sign_no"].as_str().unwrap().to_owned();
    let mut theirs = message("5201", 5, &other_sign, json!({ "data": { "psn_no": PERSON } }));
    theirs["fixmedins_code"] = json!("H41992100008");
    let (_, theirs) = call(&router, service, other, theirs).await;
    assert_eq!(theirs["output"]["mdtrtinfo"].as_array().map(Vec::len), Some(0), "{theirs}");

    // Fee lines from the whole stay, the discharge, and the settlement at discharge.
    let lines = [("Z001", "001109000010000", "6", "35.00"), ("Z002", "XJ01DDT045B001010101288", "12", "150.00")];
    let feedetail: Vec<Value> = lines
        .iter()
        .map(|(sn, code, cnt, pric)| {
            json!({ "feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": PERSON, "med_list_codg": code, "cnt": cnt, "pric": pric })
        })
        .collect();
    let uploaded = send("2301", 6, json!({ "feedetail": feedetail })).await;
    assert_eq!(uploaded["infcode"].as_i64(), Some(0), "{uploaded}");
    // The same claim, pre-settled through the JSON API before the settlement.
    let claim = json!({ "person_id": PERSON, "card_no": "C0001", "claim": { "claim_id": "same-check", "institution_code": "H41992100007",
        "institution_level": "secondary", "kind": "inpatient", "admission_date": "2026-11-30", "discharge_date": "2026-12-06",
        "diagnosis": "K35.900", "lines": lines.iter().map(|(_, code, cnt, pric)| json!({ "code": code, "quantity": cnt.parse::<u32>().unwrap(), "unit_price": pric })).collect::<Vec<_>>() } });
    let (status, api) = call(&router, "/api/pre-settlements", key, claim).await;
    assert_eq!(status, StatusCode::OK, "{api}");
    let discharged =
        send("2402", 7, json!({ "dscginfo": { "mdtrt_id": mdtrt_id, "psn_no": PERSON, "endtime": "2026-12-06", "dise_codg": "K35.900" } }))
            .await;
    assert_eq!(discharged["infcode"].as_i64(), Some(0), "{discharged}");
    // The hospital states the split it computed (here the API's), as every settlement does.
    let mut data = json!({ "psn_no": PERSON, "mdtrt_id": mdtrt_id });
    for field in ["medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"] {
        data[field] = api[field].clone();
    }
    let settled = send("2304", 8, json!({ "data": data })).await;
    assert_eq!(settled["infcode"].as_i64(), Some(0), "{settled}");
    let setlinfo = &settled["output"]["setlinfo"];
    assert_eq!(setlinfo["setl_id"].as_str(), Some(format!("{mdtrt_id}S1").as_str()), "{settled}");
    let yuan = |value: &Value| -> f64 {
        match value {
            Value::String(text) => text.parse().expect("yuan"),
            other => other.as_f64().expect("a number"),
        }
    };
    for field in ["medfee_sumamt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_cash_pay"] {
        assert_eq!(yuan(&setlinfo[field]), yuan(&api[field]), "{field}: interface {setlinfo} vs API {api}");
    }
    assert!(yuan(&setlinfo["hifp_pay"]) > 0.0, "the fund pays its part: {setlinfo}");
    // The year's counters went on from the legacy system's: a second admission this year.
    let counters = send(
        "5206",
        9,
        json!({ "data": { "psn_no": PERSON, "mdtrt_cert_type": "02", "mdtrt_cert_no": PERSON, "card_sn": "C0001", "cum_ym": "202612" } }),
    )
    .await;
    let admissions = counters["output"]["cuminfo"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["cum_type_code"] == "admissions"))
        .map(|row| row["cum"].clone());
    assert_eq!(admissions, Some(json!(2)), "{counters}");
}

#[tokio::test]
async fn a_stay_open_at_go_live_is_settled_at_discharge_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("yibao-fsi-migrated-stay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = yibao_store_sqlite::SqliteStore::open(&dir.join("y.db")).await.unwrap();
    designate(&store).await;
    settle_the_migrated_stay(Backend::Sqlite(store)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_stay_open_at_go_live_is_settled_at_discharge_on_postgresql() {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the migrated stay: {e}"));
    let store = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
    designate(&store).await;
    settle_the_migrated_stay(Backend::Postgres(store)).await;
}
