//! What the interface's tests share: a call through the router, and a message as a HIS
//! sends it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const DEMO_PACK: &str = include_str!("../../../../policies/demo-city.toml");

pub async fn call(router: &axum::Router, path: &str, auth: (&str, &str), body: Value) -> (StatusCode, Value) {
    let mut request = Request::builder().method("POST").uri(path).header("content-type", "application/json");
    if !auth.1.is_empty() {
        request = request.header(auth.0, auth.1);
    }
    let response = router.clone().oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

pub fn message(infno: &str, n: u32, sign_no: &str, input: Value) -> Value {
    json!({ "infno": infno, "msgid": format!("H4199210000720261207100000{n:04}"), "mdtrtarea_admvs": "419921", "insuplc_admdvs": "",
        "recer_sys_code": "HIS", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1",
        "opter": "001", "opter_name": "收费员", "inf_time": "2026-12-07 10:00:00", "fixmedins_code": "H41992100007",
        "fixmedins_name": "H41992100007", "sign_no": sign_no, "input": input })
}
