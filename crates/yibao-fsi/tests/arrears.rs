//! The national interface's entitlement check (2001) against the arrears suspension (issue
//! 16 item 4, R-FIN-4): a hospital is not told to treat a person the settlement refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use time::macros::datetime;
use yibao_app::access::{digest, hash_password};
use yibao_app::{App, Backend};
use yibao_domain::{InstitutionLevel, RegionCode};
use yibao_policy::Policy;
use yibao_store::{AccessStore, Actor, NewInstitution, NewStaff, Role};

mod common;
use common::{DEMO_PACK, call, message};

#[tokio::test]
async fn the_entitlement_check_refuses_a_person_whose_benefits_are_suspended() {
    let dir = std::env::temp_dir().join(format!("yibao-fsi-arrears-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = yibao_store_sqlite::SqliteStore::open(&dir.join("y.db")).await.unwrap();
    let actor =
        Actor { who: "setup".into(), role: "city_administrator".into(), source: "test".into(), at: datetime!(2026-01-01 08:00 UTC) };
    store
        .create_staff(
            &actor,
            NewStaff {
                username: "clerk".into(),
                display_name: "c".into(),
                password_hash: hash_password("pw").unwrap(),
                role: Role::EnrolmentClerk,
                region: RegionCode::parse("419921").unwrap(),
            },
        )
        .await
        .unwrap();
    store
        .create_institution(
            &actor,
            NewInstitution {
                code: yibao_domain::InstitutionCode::parse("H41992100007").unwrap(),
                name: "H".into(),
                region: RegionCode::parse("419921").unwrap(),
                level: InstitutionLevel::Secondary,
                api_key_hash: digest("key-east"),
            },
        )
        .await
        .unwrap();
    let policy = Policy::from_toml("demo-city.toml", DEMO_PACK).unwrap();
    let app = App::new(Arc::new(Backend::Sqlite(store)), Arc::new(policy)).with_clock(Arc::new(|| datetime!(2026-12-07 02:00 UTC)));
    let router = yibao_api::app_with(app, yibao_fsi::router());
    let (_, session) = call(&router, "/api/session", ("", ""), json!({ "username": "clerk", "password": "pw" })).await;
    let token = format!("Bearer {}", session["token"].as_str().unwrap());
    let auth = ("authorization", token.as_str());
    assert_eq!(
        call(&router, "/api/households", auth, json!({ "household_id": "HH-E1", "region": "419921", "address": "x" })).await.0,
        StatusCode::CREATED
    );
    let person = json!({ "person_id": "41992119620314004X", "name": "张三", "card_no": "C0001", "household_id": "HH-E1", "region": "419921", "scheme": "resident", "category": "resident", "tier": 3, "coverage_from": "2024-01-01" });
    assert_eq!(call(&router, "/api/persons", auth, person).await.0, StatusCode::CREATED);
    // 2026 billed and unpaid: suspended since 1 April 2026.
    let (status, body) =
        call(&router, "/api/persons/41992119620314004X/contributions", auth, json!({ "kind": "resident", "period": "2026", "paid": "0" }))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let key = ("x-api-key", "key-east");
    let (_, signed) = call(
        &router,
        "/fsi/api/fsiIntegratedService",
        key,
        message("9001", 1, "", json!({ "signIn": { "opter_no": "001", "mac": "00:16:3e:00:00:01", "ip": "10.0.0.8" } })),
    )
    .await;
    let sign_no = signed["output"]["signinoutb"]["sign_no"].as_str().unwrap().to_owned();
    let entitlement = json!({ "data": { "psn_no": "41992119620314004X", "mdtrt_cert_type": "02", "mdtrt_cert_no": "41992119620314004X", "card_sn": "C0001", "insutype": "390", "med_type": "11", "begntime": "2026-12-07 08:00:00" } });
    let (_, answer) = call(&router, "/fsi/api/fsiIntegratedService", key, message("2001", 2, &sign_no, entitlement)).await;
    let pre = json!({ "person_id": "41992119620314004X", "card_no": "C0001", "claim": { "claim_id": "X-1", "institution_code": "H41992100007",
        "institution_level": "secondary", "kind": "inpatient", "admission_date": "2026-12-07", "discharge_date": "2026-12-07",
        "diagnosis": "K35.900", "lines": [{ "code": "XA10BAE010A001010100315", "quantity": 1, "unit_price": "2500.00" }] } });
    let (status, pre) = call(&router, "/api/pre-settlements", key, pre).await;
    assert_eq!((status, pre["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("claim.benefits_suspended")), "{pre}");
    assert_eq!(answer["infcode"].as_i64(), Some(-1), "2001 says not entitled: {answer}");
    assert!(answer["err_msg"].as_str().is_some_and(|m| m.contains("claim.benefits_suspended")), "{answer}");
}
