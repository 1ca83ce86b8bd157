//! The conformance suite of the national interface (issue 14): every file under
//! `tests/conformance/` is a conversation of a hospital's billing system with the centre,
//! message by message: the input each sends and the output it must get back, refusals
//! included. The suite runs every file on a fresh SQLite store and on a fresh database of a
//! real PostgreSQL server, through the whole HTTP router in-process, with the clock fixed at
//! 2026-03-10 10:00 Beijing time.
//!
//! A step:
//! - `infno`, `input`: the message; the envelope (`msgid`, `fixmedins_code`, `sign_no`, …)
//!   is filled in as a HIS fills it, and `envelope` overrides or adds fields (`null` removes
//!   one). `key` names the institution's API key (`east` by default).
//! - `expect`: `infcode`, the refusal's `code` (the `[code]` that opens `err_msg`),
//!   `err_contains` (texts `err_msg` holds), `output` (a subset of the output: every field
//!   given must be there with that value; `"*"` is any value present; a list must have as
//!   many entries, each matched by one of them, in order or not), `inf_refmsgid` (the answer is that earlier answer).
//! - `save`: variables taken from the output by path (`output.data.mdtrt_id`), used later
//!   as `${name}` in any text of an input, envelope or expectation.
//! - `msgid`: a fixed message id (to send a message twice); otherwise each step gets its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt;
use yibao_app::access::{digest, hash_password};
use yibao_app::{App, Backend};
use yibao_domain::{InstitutionLevel, RegionCode};
use yibao_policy::Policy;
use yibao_store::{AccessStore, Actor, NewInstitution, NewStaff, Role};

const DEMO_PACK: &str = include_str!("../../../policies/demo-city.toml");

/// The institutions of the conversations: (name in a step's `key`, code, API key, region, level).
const INSTITUTIONS: [(&str, &str, &str, &str, InstitutionLevel); 3] = [
    ("east", "H41992100007", "key-east", "419921", InstitutionLevel::Secondary),
    ("center", "H41990200003", "key-center", "419902", InstitutionLevel::Tertiary),
    ("pharmacy", "P41992100002", "key-pharmacy", "419921", InstitutionLevel::Primary),
];

#[derive(Debug)]
pub struct Conversation {
    router: axum::Router,
    app: App,
    vars: BTreeMap<String, String>,
    serial: std::sync::atomic::AtomicU32,
    /// Every message and answer, for the failure report.
    pub transcript: std::sync::Mutex<Vec<String>>,
}

async fn seed<S: AccessStore>(store: &S) {
    let actor =
        Actor { who: "setup".into(), role: "city_administrator".into(), source: "test".into(), at: datetime!(2026-01-01 08:00 UTC) };
    let staff = NewStaff {
        username: "east.clerk".into(),
        display_name: "east.clerk".into(),
        password_hash: hash_password("pw-east.clerk").expect("hash"),
        role: Role::EnrolmentClerk,
        region: RegionCode::parse("419921").expect("region"),
    };
    store.create_staff(&actor, staff).await.expect("staff");
    for (_, code, key, region, level) in INSTITUTIONS {
        let institution = NewInstitution {
            code: yibao_domain::InstitutionCode::parse(code).expect("a code"),
            name: code.into(),
            region: RegionCode::parse(region).expect("region"),
            level,
            api_key_hash: digest(key),
        };
        store.create_institution(&actor, institution).await.expect("institution");
    }
}

/// The people of the conversations, enrolled through the JSON API by a clerk.
async fn enrol(router: &axum::Router) {
    let call = |path: &str, token: Option<&str>, body: Value| {
        let mut request = Request::builder().method("POST").uri(path).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body.to_string())).expect("request");
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.expect("response");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let (_, session) = call("/api/session", None, json!({"username": "east.clerk", "password": "pw-east.clerk"})).await;
    let token = session["token"].as_str().expect("token").to_owned();
    let (status, body) =
        call("/api/households", Some(&token), json!({"household_id": "HH-E1", "region": "419921", "address": "幸福村 1 组"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for person in [
        json!({"person_id": "41992119620314004X", "name": "张三", "card_no": "C0001", "household_id": "HH-E1", "region": "419921",
               "scheme": "resident", "category": "resident", "tier": 3, "coverage_from": "2024-01-01", "supplementary": true,
               "certified_chronic_diseases": ["E11"]}),
        json!({"person_id": "419921198001010019", "name": "李四", "card_no": "C0002", "household_id": "HH-E1", "region": "419921",
               "scheme": "resident", "category": "resident", "tier": 1, "coverage_from": "2024-01-01"}),
    ] {
        let (status, body) = call("/api/persons", Some(&token), person).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

impl Conversation {
    pub async fn start(backend: Backend) -> Conversation {
        let policy = Policy::from_toml("demo-city.toml", DEMO_PACK).expect("policy");
        let clock: yibao_app::Clock = Arc::new(|| datetime!(2026-03-10 02:00 UTC));
        let app = App::new(Arc::new(backend), Arc::new(policy)).with_clock(clock);
        let router = yibao_api::app_with(app.clone(), yibao_fsi::router());
        enrol(&router).await;
        Conversation {
            router,
            app,
            vars: BTreeMap::new(),
            serial: std::sync::atomic::AtomicU32::new(0),
            transcript: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn substitute(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => {
                let mut out = text.clone();
                for (name, value) in &self.vars {
                    out = out.replace(&format!("${{{name}}}"), value);
                }
                Value::String(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.substitute(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.substitute(v))).collect()),
            other => other.clone(),
        }
    }

    /// Sends one message as institution `key` and returns the HTTP status and the output envelope.
    pub async fn send(&self, key: &str, infno: &str, msgid: Option<&str>, input: &Value, envelope: &Value) -> (StatusCode, Value) {
        let (_, code, api_key, region, _) = INSTITUTIONS.iter().find(|i| i.0 == key).unwrap_or_else(|| panic!("no institution {key}"));
        let serial = self.serial.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let msgid = msgid.map_or_else(|| format!("{code}20260310100000{serial:04}"), str::to_owned);
        let mut message = json!({
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": region, "insuplc_admdvs": "", "recer_sys_code": "HIS",
            "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1",
            "opter": "001", "opter_name": "收费员", "inf_time": "2026-03-10 10:00:00", "fixmedins_code": code,
            "fixmedins_name": code, "sign_no": self.vars.get(&format!("sign_no_{key}")).cloned().unwrap_or_default(),
            "input": self.substitute(input),
        });
        if let (Value::Object(fields), Value::Object(overrides)) = (&mut message, self.substitute(envelope)) {
            for (name, value) in overrides {
                if value.is_null() {
                    fields.remove(&name);
                } else {
                    fields.insert(name, value);
                }
            }
        }
        let request = Request::builder()
            .method("POST")
            .uri("/fsi/api/fsiIntegratedService")
            .header("content-type", "application/json")
            .header("x-api-key", *api_key)
            .body(Body::from(message.to_string()))
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.expect("body");
        let answer: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
        self.transcript.lock().expect("transcript").push(format!("→ {infno} {message}\n← {answer}"));
        (status, answer)
    }

    /// A call of the JSON API as institution `key` (`GET` without a body).
    pub async fn api(&self, key: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (_, _, api_key, _, _) = INSTITUTIONS.iter().find(|i| i.0 == key).unwrap_or_else(|| panic!("no institution {key}"));
        let request = Request::builder()
            .method(if body.is_some() { "POST" } else { "GET" })
            .uri(path)
            .header("content-type", "application/json")
            .header("x-api-key", *api_key)
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Runs one step of a file; panics naming what differs.
    pub async fn step(&mut self, file: &str, index: usize, step: &Value) {
        let infno = step["infno"].as_str().unwrap_or_else(|| panic!("{file} step {index}: no infno"));
        let key = step.get("key").and_then(Value::as_str).unwrap_or("east");
        let msgid = step.get("msgid").and_then(Value::as_str);
        let (status, answer) = self.send(key, infno, msgid, &step["input"], step.get("envelope").unwrap_or(&Value::Null)).await;
        let expect = self.substitute(step.get("expect").unwrap_or(&json!({"infcode": 0})));
        let at = format!("{file} step {index} ({infno}: {})", step.get("title").and_then(Value::as_str).unwrap_or(""));
        let expected_status = expect.get("status").and_then(Value::as_u64).unwrap_or(200);
        assert_eq!(u64::from(status.as_u16()), expected_status, "{at}: HTTP status; answer {answer}");
        for field in ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"] {
            assert!(answer.get(field).is_some(), "{at}: the output envelope has no {field}: {answer}");
        }
        if let Some(first) = expect.get("inf_refmsgid") {
            assert_eq!(&answer["inf_refmsgid"], first, "{at}: a repeated msgid is answered with the first answer");
        }
        let infcode = expect.get("infcode").and_then(Value::as_i64).unwrap_or(0);
        assert_eq!(answer["infcode"].as_i64(), Some(infcode), "{at}: infcode; answer {answer}");
        let err_msg = answer["err_msg"].as_str().unwrap_or("");
        if let Some(code) = expect.get("code").and_then(Value::as_str) {
            assert!(err_msg.starts_with(&format!("[{code}]")), "{at}: refusal code {code}; err_msg {err_msg:?}");
        }
        for text in expect.get("err_contains").and_then(Value::as_array).into_iter().flatten() {
            let text = text.as_str().expect("text");
            assert!(err_msg.contains(text), "{at}: err_msg should contain {text:?}: {err_msg:?}");
        }
        if let Some(output) = expect.get("output") {
            matches(&at, "output", output, &answer["output"]);
        }
        for (name, path) in step.get("save").and_then(Value::as_object).into_iter().flatten() {
            let mut value = &answer;
            for part in path.as_str().expect("a path").split('.') {
                value = match part.parse::<usize>() {
                    Ok(i) => &value[i],
                    Err(_) => &value[part],
                };
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Null => panic!("{at}: nothing at {path} to save as {name}: {answer}"),
                other => other.to_string(),
            };
            self.vars.insert(name.clone(), text);
        }
    }
}

/// Where `actual` fails to hold what `expected` says (see the module's documentation), if
/// anywhere.
fn mismatch(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::String(star), actual) if star == "*" => actual.is_null().then(|| format!("{path} is missing")),
        (Value::Object(fields), Value::Object(got)) => {
            fields.iter().find_map(|(name, value)| mismatch(&format!("{path}.{name}"), value, got.get(name).unwrap_or(&Value::Null)))
        }
        (Value::Array(items), Value::Array(got)) => {
            if items.len() != got.len() {
                return Some(format!("{path} has {} entries, expected {}: {actual}", got.len(), items.len()));
            }
            // Each expected entry matched by its own entry, in order where the order is known
            // (the first try) or in any order (entries whose order follows random ids).
            let in_order = items.iter().zip(got).enumerate().find_map(|(i, (item, inner))| mismatch(&format!("{path}[{i}]"), item, inner));
            in_order.as_ref()?;
            let mut free: Vec<&Value> = got.iter().collect();
            for (index, item) in items.iter().enumerate() {
                match free.iter().position(|candidate| mismatch("", item, candidate).is_none()) {
                    Some(found) => {
                        free.remove(found);
                    }
                    None => return Some(format!("{path}[{index}]: no entry matches {item} (in order: {})", in_order.unwrap_or_default())),
                }
            }
            None
        }
        // A saved number substituted into an expectation is text: compared as the number.
        (Value::String(text), Value::Number(b)) if text.parse::<f64>().is_ok() => {
            (text.parse::<f64>().ok() != b.as_f64()).then(|| format!("{path} is {b}, expected {text}"))
        }
        (Value::Number(a), Value::Number(b)) => (a.as_f64() != b.as_f64()).then(|| format!("{path} is {b}, expected {a}")),
        (expected, actual) => (expected != actual).then(|| format!("{path} is {actual}, expected {expected}")),
    }
}

fn matches(at: &str, path: &str, expected: &Value, actual: &Value) {
    if let Some(what) = mismatch(path, expected, actual) {
        panic!("{at}: {what}");
    }
}

fn files() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).expect("the conformance directory").map(|e| e.expect("entry").path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    assert!(!paths.is_empty(), "no conformance files in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().expect("name").to_string_lossy().into_owned(), value)
        })
        .collect()
}

async fn run_file(backend: Backend, name: &str, file: &Value) {
    let mut conversation = Conversation::start(backend).await;
    let steps = file["steps"].as_array().unwrap_or_else(|| panic!("{name}: no steps"));
    for (index, step) in steps.iter().enumerate() {
        let run = std::panic::AssertUnwindSafe(conversation.step(name, index + 1, step));
        if let Err(panic) = futures_catch(run).await {
            eprintln!("--- transcript of {name} ---\n{}", conversation.transcript.lock().map(|t| t.join("\n")).unwrap_or_default());
            std::panic::resume_unwind(panic);
        }
    }
    // `YIBAO_FSI_TRANSCRIPT=1` prints every conversation, message by message.
    if std::env::var_os("YIBAO_FSI_TRANSCRIPT").is_some() {
        eprintln!("--- transcript of {name} ---\n{}", conversation.transcript.lock().map(|t| t.join("\n")).unwrap_or_default());
    }
}

/// Runs a future, catching its panic so the transcript can be printed first.
async fn futures_catch<F: std::future::Future>(
    future: std::panic::AssertUnwindSafe<F>,
) -> Result<F::Output, Box<dyn std::any::Any + Send>> {
    let mut future = std::pin::pin!(future.0);
    std::future::poll_fn(|cx| match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
        Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
        Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
        Err(panic) => std::task::Poll::Ready(Err(panic)),
    })
    .await
}

#[tokio::test]
async fn every_conversation_on_sqlite() {
    for (name, file) in files() {
        let dir = std::env::temp_dir().join(format!("yibao-fsi-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
        seed(&store).await;
        run_file(Backend::Sqlite(store), &name, &file).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn every_conversation_on_postgresql() {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the conformance suite: {e}"));
    for (index, (name, file)) in files().into_iter().enumerate() {
        let database = format!("conformance_{index}");
        server.psql(&format!("CREATE DATABASE {database}")).expect("create database");
        let url = format!("{}/{database}", server.url().rsplit_once('/').expect("a database in the URL").0);
        let store = yibao_store_postgres::PostgresStore::connect(&url).await.expect("connect");
        seed(&store).await;
        run_file(Backend::Postgres(store), &name, &file).await;
    }
}

/// The interface is one more edge over the same use cases: the inpatient conversation's
/// settlement (read back through the JSON API) and its referred stay's pre-settlement
/// (asked again through the JSON API for the same claim) carry the same figures to the fen.
#[tokio::test]
async fn the_interface_settles_as_the_json_api_does() {
    let dir = std::env::temp_dir().join(format!("yibao-fsi-same-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    seed(&store).await;
    let (name, file) = files().into_iter().find(|(name, _)| name == "03-inpatient.json").expect("the inpatient conversation");
    let mut conversation = Conversation::start(Backend::Sqlite(store)).await;
    let steps = file["steps"].as_array().expect("steps");
    let mut answers = Vec::new();
    // Up to the referred stay's settlement: its pre-settlement is asked again below.
    for (index, step) in steps.iter().enumerate().take_while(|(_, step)| step["title"] != "the referred stay settled") {
        conversation.step(&name, index + 1, step).await;
        answers.push(conversation.transcript.lock().expect("transcript").last().cloned().unwrap_or_default());
    }
    // The last answer to `infno` sent by `institution`.
    let answer_of = |infno: &str, institution: &str| -> Value {
        let line = answers
            .iter()
            .rev()
            .find(|t| t.starts_with(&format!("→ {infno} ")) && t.contains(&format!("\"fixmedins_code\":\"{institution}\"")))
            .expect("an answer");
        serde_json::from_str(line.split_once("\n← ").expect("an answer line").1).expect("JSON")
    };
    let fields = [
        "medfee_sumamt",
        "fulamt_ownpay_amt",
        "overlmt_selfpay",
        "preselfpay_amt",
        "inscp_scp_amt",
        "act_pay_dedc",
        "hifp_pay",
        "hifmi_pay",
        "maf_pay",
        "oth_pay",
        "fund_pay_sumamt",
        "psn_cash_pay",
    ];
    let yuan = |value: &Value| -> f64 {
        match value {
            Value::String(text) => text.parse().expect("yuan"),
            other => other.as_f64().expect("a number"),
        }
    };
    // The east hospital's second settlement, as the JSON API stored it.
    let settled = &answer_of("2304", "H41992100007")["output"]["setlinfo"];
    let setl_id = settled["setl_id"].as_str().expect("setl_id");
    let (status, stored) = conversation.api("east", &format!("/api/settlements/H41992100007/{setl_id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    for field in fields {
        assert_eq!(yuan(&settled[field]), yuan(&stored["settlement"][field]), "{field}: interface {settled} vs API {stored}");
    }
    // The referred stay at the city hospital, asked through the JSON API.
    let presettled = &answer_of("2303", "H41990200003")["output"]["setlinfo"];
    let claim = json!({"person_id": "419921198001010019", "card_no": "C0002", "claim": {
        "claim_id": "same-check", "institution_code": "H41990200003", "institution_level": "tertiary", "kind": "inpatient",
        "admission_date": "2026-03-09", "discharge_date": "2026-03-10", "diagnosis": "K35.900",
        "lines": [{"code": "XJ01DDT045B001010101288", "quantity": 4, "unit_price": "150.00"}]}});
    let (status, api) = conversation.api("center", "/api/pre-settlements", Some(claim)).await;
    assert_eq!(status, StatusCode::OK, "{api}");
    for field in fields {
        assert_eq!(yuan(&presettled[field]), yuan(&api[field]), "{field}: interface {presettled} vs API {api}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Messages racing one another (the hostile review's findings): a settlement and a change of
/// its visit sent at once never leave a claim settled under a refusal, nor a visit open over
/// a settled claim; two hospitals settling overlapping stays of one person at once are not
/// both paid; two copies of one `msgid` with different inputs do not both run.
/// Registers an outpatient visit of 张三 with one fee line: its id.
async fn open_outpatient(c: &Conversation, number: String) -> String {
    let person = "41992119620314004X";
    let input = json!({"data": {"psn_no": person, "begntime": "2026-03-10", "mdtrt_cert_type": "02", "mdtrt_cert_no": person,
                                "card_sn": "C0001", "ipt_otp_no": number, "dise_codg": "I10.x00"}});
    let (_, opened) = c.send("east", "2201", None, &input, &Value::Null).await;
    let mdtrt_id = opened["output"]["data"]["mdtrt_id"].as_str().unwrap_or_else(|| panic!("{opened}")).to_owned();
    let line = json!({"feedetail": [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": person, "med_list_codg": "XC08CAA074A001010102085",
                                     "cnt": "1", "pric": "18.00"}]});
    let (_, uploaded) = c.send("east", "2204", None, &line, &Value::Null).await;
    assert_eq!(uploaded["infcode"], 0, "{uploaded}");
    mdtrt_id
}

async fn races(backend: Backend) {
    let mut c = Conversation::start(backend).await;
    for key in ["east", "center"] {
        let (_, signed) = c.send(key, "9001", None, &json!({"signin": {"opter_no": "1"}}), &Value::Null).await;
        let sign_no = signed["output"]["signinoutb"]["sign_no"].as_str().expect("sign_no").to_owned();
        c.vars.insert(format!("sign_no_{key}"), sign_no);
    }
    let person = "41992119620314004X";
    let none = Value::Null;
    let settle = |mdtrt_id: &str| {
        json!({"data": {"psn_no": person, "mdtrt_id": mdtrt_id, "medfee_sumamt": "18.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
                        "preselfpay_amt": "0", "inscp_scp_amt": "18.00"}})
    };
    for round in 0..6 {
        let mdtrt_id = open_outpatient(&c, format!("RACE-{round}")).await;
        let change = if round % 2 == 0 {
            ("2202", json!({"data": {"psn_no": person, "mdtrt_id": mdtrt_id}}))
        } else {
            (
                "2204",
                json!({"feedetail": [{"feedetl_sn": "2", "mdtrt_id": mdtrt_id, "psn_no": person, "med_list_codg": "001102000010000", "cnt": "1", "pric": "8.00"}]}),
            )
        };
        let settle_input = settle(&mdtrt_id);
        let ((_, settled), (_, changed)) =
            tokio::join!(c.send("east", "2207", None, &settle_input, &none), c.send("east", change.0, None, &change.1, &none));
        let (status, claim) = c.api("east", &format!("/api/settlements/H41992100007/{mdtrt_id}S1"), None).await;
        let claim_settled = status == StatusCode::OK && claim["status"] == "settled";
        assert_eq!(
            settled["infcode"] == 0,
            claim_settled,
            "round {round}: the answer tells the truth of the claim: {settled} / {changed} / {claim}"
        );
        if claim_settled {
            // The visit is settled, not open: its settlement can be cancelled.
            let (_, cancelled) = c
                .send(
                    "east",
                    "2208",
                    None,
                    &json!({"data": {"psn_no": person, "mdtrt_id": mdtrt_id, "setl_id": format!("{mdtrt_id}S1")}}),
                    &none,
                )
                .await;
            assert_eq!(cancelled["infcode"], 0, "round {round}: {cancelled}");
        }
    }
    // Two copies of one msgid with different inputs at once: one runs, the other is refused.
    let (first, second) = (open_outpatient(&c, "DUP-1".into()).await, open_outpatient(&c, "DUP-2".into()).await);
    let (first_input, second_input) = (settle(&first), settle(&second));
    let ((_, a), (_, b)) = tokio::join!(
        c.send("east", "2207", Some("DUPLICATE-MSGID-1"), &first_input, &none),
        c.send("east", "2207", Some("DUPLICATE-MSGID-1"), &second_input, &none)
    );
    let ran = [&a, &b].iter().filter(|answer| answer["infcode"] == 0).count();
    assert_eq!(ran, 1, "{a} / {b}");
    let refused = if a["infcode"] == 0 { &b } else { &a };
    let code = refused["err_msg"].as_str().unwrap_or("");
    assert!(code.starts_with("[interface.msgid_reused]") || code.starts_with("[interface.msgid_in_progress]"), "{refused}");
    let mut settled_claims = 0;
    for m in [&first, &second] {
        if c.api("east", &format!("/api/settlements/H41992100007/{m}S1"), None).await.0 == StatusCode::OK {
            settled_claims += 1;
        }
    }
    assert_eq!(settled_claims, 1, "one msgid, one settlement");
    // A referral cancelled (2502) while the stay it covers is settled (2304): the stay is
    // never paid as referred on a cancelled referral. 张三 has a settled visit at the east
    // hospital (above), which refers; each round's stay is on a day of its own.
    for round in 0..4u8 {
        let day = format!("2026-02-{:02}", 2 + 3 * round);
        let referral = json!({"refmedin": {"psn_no": person, "reflin_medins_no": "H41990200003", "refl_date": day, "enddate": day}});
        let (_, filed) = c.send("east", "2501", None, &referral, &none).await;
        let number = filed["output"]["result"]["trt_dcla_detl_sn"].as_str().unwrap_or_else(|| panic!("{filed}")).to_owned();
        let center = json!({"mdtrtarea_admvs": "419902"});
        let admission = json!({"mdtrtinfo": {"psn_no": person, "begntime": day, "mdtrt_cert_type": "02", "mdtrt_cert_no": person, "card_sn": "C0001",
                                             "med_type": "21", "ipt_no": format!("REF-{round}"), "dise_codg": "K35.900"}});
        let (_, admitted) = c.send("center", "2401", None, &admission, &center).await;
        let stay = admitted["output"]["result"]["mdtrt_id"].as_str().unwrap_or_else(|| panic!("{admitted}")).to_owned();
        let lines = json!({"feedetail": [{"feedetl_sn": "1", "mdtrt_id": stay, "psn_no": person, "med_list_codg": "001109000010000", "cnt": "1", "pric": "35.00"}]});
        c.send("center", "2301", None, &lines, &center).await;
        c.send("center", "2402", None, &json!({"dscginfo": {"mdtrt_id": stay, "psn_no": person, "endtime": day}}), &center).await;
        let settle_input = json!({"data": {"psn_no": person, "mdtrt_id": stay, "medfee_sumamt": "35.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
                                           "preselfpay_amt": "0", "inscp_scp_amt": "35.00"}});
        let cancel_input = json!({"data": {"psn_no": person, "trt_dcla_detl_sn": number, "memo": "race"}});
        let ((_, settled), (_, cancelled)) =
            tokio::join!(c.send("center", "2304", None, &settle_input, &center), c.send("east", "2502", None, &cancel_input, &none));
        if settled["infcode"] == 0 {
            let (_, claim) = c.api("center", &format!("/api/settlements/H41990200003/{stay}S1"), None).await;
            assert!(claim["settlement"]["referral"].is_boolean(), "a settlement says whether it was referred: {claim}");
            let referred = claim["settlement"]["referral"] == true;
            assert!(
                !(referred && cancelled["infcode"] == 0),
                "round {round}: paid as referred on a cancelled referral: {claim} / {cancelled}"
            );
        } else {
            let code = settled["err_msg"].as_str().unwrap_or("");
            assert!(code.starts_with("[claim.referral_not_on_file]"), "round {round}: {settled}");
        }
    }
    // Two hospitals settle overlapping stays of one person at once: one is paid.
    let stay_person = "419921198001010019";
    let mut stays = Vec::new();
    for key in ["east", "center"] {
        let admission = json!({"mdtrtinfo": {"psn_no": stay_person, "begntime": "2026-03-02", "mdtrt_cert_type": "02", "mdtrt_cert_no": stay_person,
                                             "card_sn": "C0002", "med_type": "21", "ipt_no": format!("ZY-{key}"), "dise_codg": "K35.900"}});
        let envelope = if key == "center" { json!({"mdtrtarea_admvs": "419902"}) } else { Value::Null };
        let (_, admitted) = c.send(key, "2401", None, &admission, &envelope).await;
        let mdtrt_id = admitted["output"]["result"]["mdtrt_id"].as_str().unwrap_or_else(|| panic!("{admitted}")).to_owned();
        let lines = json!({"feedetail": [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": stay_person, "med_list_codg": "001109000010000", "cnt": "4", "pric": "35.00"}]});
        assert_eq!(c.send(key, "2301", None, &lines, &envelope).await.1["infcode"], 0);
        let discharge = json!({"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": stay_person, "endtime": "2026-03-06"}});
        assert_eq!(c.send(key, "2402", None, &discharge, &envelope).await.1["infcode"], 0);
        stays.push((key, mdtrt_id, envelope));
    }
    let settle_stay = |mdtrt_id: &str| {
        json!({"data": {"psn_no": stay_person, "mdtrt_id": mdtrt_id, "medfee_sumamt": "140.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
                        "preselfpay_amt": "0", "inscp_scp_amt": "140.00"}})
    };
    let (east_input, center_input) = (settle_stay(&stays[0].1), settle_stay(&stays[1].1));
    let ((_, a), (_, b)) = tokio::join!(
        c.send(stays[0].0, "2304", None, &east_input, &stays[0].2),
        c.send(stays[1].0, "2304", None, &center_input, &stays[1].2)
    );
    let paid = [&a, &b].iter().filter(|answer| answer["infcode"] == 0).count();
    assert_eq!(paid, 1, "the same days are paid once: {a} / {b}");
    let refused = if a["infcode"] == 0 { &b } else { &a };
    assert!(refused["err_msg"].as_str().unwrap_or("").starts_with("[claim.overlapping_stay]"), "{refused}");
    // The same for two same-day stays on one day, several times over.
    for round in 0..4u8 {
        let day = format!("2026-02-{:02}", 10 + 2 * round);
        let mut same_day = Vec::new();
        for key in ["east", "center"] {
            let envelope = if key == "center" { json!({"mdtrtarea_admvs": "419902"}) } else { Value::Null };
            let admission = json!({"mdtrtinfo": {"psn_no": stay_person, "begntime": day, "mdtrt_cert_type": "02", "mdtrt_cert_no": stay_person,
                                                 "card_sn": "C0002", "med_type": "21", "ipt_no": format!("SD-{key}-{round}"), "dise_codg": "K35.900"}});
            let (_, admitted) = c.send(key, "2401", None, &admission, &envelope).await;
            let mdtrt_id = admitted["output"]["result"]["mdtrt_id"].as_str().unwrap_or_else(|| panic!("{admitted}")).to_owned();
            let lines = json!({"feedetail": [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": stay_person, "med_list_codg": "001109000010000", "cnt": "4", "pric": "35.00"}]});
            assert_eq!(c.send(key, "2301", None, &lines, &envelope).await.1["infcode"], 0);
            let discharge = json!({"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": stay_person, "endtime": day}});
            assert_eq!(c.send(key, "2402", None, &discharge, &envelope).await.1["infcode"], 0);
            same_day.push((key, mdtrt_id, envelope));
        }
        let (east_input, center_input) = (settle_stay(&same_day[0].1), settle_stay(&same_day[1].1));
        let ((_, a), (_, b)) = tokio::join!(
            c.send(same_day[0].0, "2304", None, &east_input, &same_day[0].2),
            c.send(same_day[1].0, "2304", None, &center_input, &same_day[1].2)
        );
        let paid = [&a, &b].iter().filter(|answer| answer["infcode"] == 0).count();
        assert_eq!(paid, 1, "round {round}: a day is paid once: {a} / {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_messages_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("yibao-fsi-races-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    seed(&store).await;
    races(Backend::Sqlite(store)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_messages_on_postgresql() {
    let server = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the races: {e}"));
    let store = yibao_store_postgres::PostgresStore::connect(server.url()).await.expect("connect");
    seed(&store).await;
    races(Backend::Postgres(store)).await;
}

/// A settlement whose answer was never kept (the process stopped after the money moved)
/// is answered, when its message is resent, with the settlement it made, not refused as
/// "settled already"; and its reversal by that message (2601) cancels it, once.
#[tokio::test]
async fn a_settlement_whose_answer_was_lost_is_answered_and_reversed_from_the_records() {
    let dir = std::env::temp_dir().join(format!("yibao-fsi-lost-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    seed(&store).await;
    let mut c = Conversation::start(Backend::Sqlite(store)).await;
    let (_, signed) = c.send("east", "9001", None, &json!({"signin": {"opter_no": "1"}}), &Value::Null).await;
    c.vars.insert("sign_no_east".into(), signed["output"]["signinoutb"]["sign_no"].as_str().expect("sign_no").to_owned());
    let mdtrt_id = open_outpatient(&c, "LOST-1".into()).await;
    let person = yibao_domain::NationalId::parse("41992119620314004X").expect("id");
    let hospital = c.app.institution_by_key("key-east").await.expect("the hospital");
    let stated = yibao_app::interface::StatedSplit { medfee_sumamt: Some(yibao_domain::Fen::yuan(18)), ..Default::default() };
    // The use case run twice under one msgid, as a resend after a lost answer runs it.
    let first = c.app.settle_visit(&hospital, "test", "LOST-MSG", &mdtrt_id, &person, stated, true).await.expect("settled");
    let again = c.app.settle_visit(&hospital, "test", "LOST-MSG", &mdtrt_id, &person, stated, true).await.expect("answered again");
    assert_eq!((first.setl_id.as_str(), again.setl_id.as_str()), (format!("{mdtrt_id}S1").as_str(), format!("{mdtrt_id}S1").as_str()));
    assert_eq!(first.settlement["fund_pay_sumamt"], again.settlement["fund_pay_sumamt"], "the same settlement, not a second one");
    let other = c.app.settle_visit(&hospital, "test", "ANOTHER-MSG", &mdtrt_id, &person, stated, true).await;
    assert_eq!(other.expect_err("another message").code, "interface.visit_state", "another message does not settle it twice");
    assert!(!c.app.reverse_settlement_message(&hospital, "test", &mdtrt_id, &person, "ANOTHER-MSG").await.expect("no-op"));
    assert!(c.app.reverse_settlement_message(&hospital, "test", &mdtrt_id, &person, "LOST-MSG").await.expect("reversed"));
    assert!(!c.app.reverse_settlement_message(&hospital, "test", &mdtrt_id, &person, "LOST-MSG").await.expect("once"));
    let (status, claim) = c.api("east", &format!("/api/settlements/H41992100007/{mdtrt_id}S1"), None).await;
    assert_eq!((status, claim["status"].as_str()), (StatusCode::OK, Some("reversed")), "{claim}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15: a stay settled through the national interface is paid by the codes of its
/// settlement list (4101): the conversation's gallstone stay, whose list names a
/// laparoscopic cholecystectomy (51.2300), falls in the DIP group of that procedure, not in
/// the diagnosis's conservative group its claim alone would give.
#[tokio::test]
async fn a_stay_is_paid_by_the_codes_of_its_settlement_list() {
    let dir = std::env::temp_dir().join(format!("yibao-fsi-payment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    seed(&store).await;
    let (name, file) = files().into_iter().find(|(name, _)| name.starts_with("06")).expect("the settlement-list conversation");
    let mut conversation = Conversation::start(Backend::Sqlite(store)).await;
    // Up to the settlement's cancellation (2305): the stay is live, its list uploaded.
    for (index, step) in file["steps"].as_array().expect("steps").iter().enumerate().take_while(|(_, step)| step["infno"] != "2305") {
        conversation.step(&name, index + 1, step).await;
    }
    let setl_id = conversation.vars.get("setl_id").cloned().expect("a settlement");
    let pack = yibao_app::payment::PaymentPack::parse(yibao_app::payment::DEMO_PAYMENT_PACK).expect("payment pack");
    let app = conversation.app.clone().with_payment_pack(pack);
    let system = yibao_app::Principal::System { name: "test".into(), region: RegionCode::parse("419900").expect("region") };
    for (_, code, _, _, _) in INSTITUTIONS {
        let sign = yibao_app::payment::AgreementInput::Sign {
            year: 2026,
            points: true,
            per_diem: true,
            capitation_enrolled: None,
            global_budget: None,
            physicians_required: false,
        };
        app.change_agreement(&system, "test", code, sign).await.expect("signed");
    }
    let budget = yibao_app::Budget {
        year: 2026,
        fund_scheme: "resident".into(),
        unit: "419900".into(),
        income_fen: 100_000_000,
        spending_fen: 90_000_000,
    };
    app.set_budget(&system, "test", budget).await.expect("budget");
    let view = app.payment_year(&system, 2026).await.expect("the payment year");
    let case = view.result.cases.iter().find(|c| c.claim_id == setl_id).unwrap_or_else(|| {
        panic!(
            "{setl_id} is not among {:?} (skipped {})",
            view.result.cases.iter().map(|c| &c.claim_id).collect::<Vec<_>>(),
            view.skipped_cases
        )
    });
    assert!(matches!(&case.method, yibao_app::payment::view::Method::Points { group, .. } if group == "K80-51.23"), "{:?}", case.method);
}
