//! What the binary's end-to-end tests share: running `yibao`, starting `yibao serve` and
//! reading its address and the hospital's key, one HTTP request, a resident to settle for.
// Each test crate uses some of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The hospital the tests settle as.
pub const HOSPITAL: &str = "H41990200001";

pub fn yibao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yibao")).args(args).output().expect("runs yibao")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// Starts the server on `data_dir`: its address and, on a first start (the demo city
/// loaded), the hospital's API key, printed this once.
pub fn start(data_dir: &Path, first: bool) -> (Child, String, Option<String>) {
    start_on(&["--data-dir", path(data_dir)], first)
}

/// Starts the server on the store `store` names (`--data-dir D` or `--database-url U`).
pub fn start_on(store: &[&str], first: bool) -> (Child, String, Option<String>) {
    let (child, address, printed) = read_start(spawn_serve(store), first);
    let key = printed.iter().find_map(|line| {
        line.trim_start().strip_prefix(&format!("{HOSPITAL} ")).and_then(|r| r.split_whitespace().next()).map(str::to_owned)
    });
    (child, address, key)
}

/// `yibao serve` on a free loopback port and the store `store` names, its output piped.
pub fn spawn_serve(store: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_yibao"))
        // The demo settles none of its days of care: what a test reconciles is its own.
        .args(["serve", "--listen", "127.0.0.1:0", "--demo-insured", "1000", "--demo-settled-days", "0"])
        .args(store)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("yibao serve starts")
}

/// Waits for a started server's first line: its address (without the scheme) and the
/// lines it printed, with `demo` up to the hospital's API key (printed this once).
pub fn read_start(mut child: Child, demo: bool) -> (Child, String, Vec<String>) {
    let address = child.stdout.take().and_then(|stdout| {
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            let line = lines.next()?.ok()?;
            if let Some(rest) = line.strip_prefix("Yibao is serving").and_then(|rest| rest.split("://").nth(1)) {
                let address = rest.split('/').next()?.to_owned();
                let mut printed = vec![line.clone()];
                while demo && !printed.last().is_some_and(|l: &String| l.trim_start().starts_with(HOSPITAL)) {
                    printed.push(lines.next()?.ok()?);
                }
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return Some((address, printed));
            }
        }
        None
    });
    match address {
        Some((address, printed)) => (child, address, printed),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not start");
        }
    }
}

/// One HTTP/1.1 request on a fresh connection; the status and the JSON body.
pub fn call(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        payload.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&payload);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A one-day stay on day `n` of the year (one person's stays may not overlap).
pub fn claim(id: &str, n: usize) -> Value {
    let day = time::macros::date!(2026 - 01 - 01) + time::Duration::days(i64::try_from(n % 300).unwrap_or(0));
    json!({ "claim_id": id, "institution_code": HOSPITAL, "institution_level": "tertiary", "kind": "inpatient",
            "admission_date": day.to_string(), "discharge_date": day.to_string(), "diagnosis": "K35.900",
            "lines": [{ "code": "XA10BAE010A001010100315", "quantity": 1, "unit_price": format!("{}.00", 900 + n * 13) }] })
}

/// A resident of the demo city with a card to settle for: (national ID, card number).
pub fn resident(address: &str) -> (String, String) {
    let (status, signed_in) =
        call(address, "POST", "/api/session", &[], Some(&json!({ "username": "admin", "password": "demo-admin-2026" })));
    assert_eq!(status, 200, "{signed_in}");
    let token = format!("Bearer {}", signed_in["token"].as_str().expect("token"));
    // 王 (Wang), the most common surname: a thousand insured have many.
    let (_, people) = call(address, "GET", "/api/persons?name=%E7%8E%8B", &[("Authorization", &token)], None);
    let person = people["persons"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["coverage"]["scheme"] == "resident" && p["card_no"].is_string()))
        .expect("a resident with a card")
        .clone();
    (person["person_id"].as_str().expect("id").to_owned(), person["card_no"].as_str().expect("card").to_owned())
}

/// Settles claims `ids` (day `first_day` on) one after another, each acknowledged (201).
pub fn settle_all(address: &str, key: &str, (person_id, card_no): &(String, String), ids: &[String], first_day: usize) {
    for (n, id) in ids.iter().enumerate() {
        let body = json!({ "person_id": person_id, "card_no": card_no, "claim": claim(id, first_day + n) });
        let (status, answer) = call(address, "POST", "/api/settlements", &[("X-Api-Key", key)], Some(&body));
        assert_eq!(status, 201, "{id}: {answer}");
    }
}

/// The claim ids of the hospital's settlements in a SQLite file.
pub fn settled_in(database: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let mut statement = conn.prepare("SELECT claim_id FROM claims WHERE institution_code = ?1").expect("prepare");
    statement.query_map([HOSPITAL], |row| row.get(0)).expect("query").map(|id| id.expect("row")).collect()
}

/// A fresh scratch directory for test `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yibao-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
