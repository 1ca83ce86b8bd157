//! The server as a real process: killed with SIGKILL (issue 3) or terminated with SIGTERM
//! (issue 19) in the middle of a burst of settlements and restarted, every acknowledged
//! settlement is there, none is half-written, the accumulators agree with the claims and
//! the audit chain is intact; terminated, it exits 0 having answered every request it took.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::{HOSPITAL, call, read_start};

fn start(data_dir: &std::path::Path) -> (Child, String) {
    start_with(&["--data-dir", data_dir.to_str().expect("utf-8")])
}

/// Starts the server on a new store: its address and the hospital's API key, drawn at
/// random and printed this once.
fn first_start(data_dir: &std::path::Path) -> (Child, String, String) {
    let (child, address, lines) = start_reading(&["--data-dir", data_dir.to_str().expect("utf-8")], true);
    let key = lines
        .iter()
        .find_map(|line| line.trim_start().strip_prefix(&format!("{HOSPITAL} ")))
        .and_then(|rest| rest.split_whitespace().next());
    let key = key.unwrap_or_else(|| panic!("the hospital's key is printed: {lines:?}")).to_owned();
    assert!(!key.starts_with("demo-key-") && key.len() >= 40, "a key drawn at random: {key}");
    (child, address, key)
}

fn start_with(store: &[&str]) -> (Child, String) {
    let (child, address, _) = start_reading(store, false);
    (child, address)
}

/// Starts the server; its address and, on a first start with the demo (`demo`), the lines
/// it prints up to the hospital's key.
fn start_reading(store: &[&str], demo: bool) -> (Child, String, Vec<String>) {
    read_start(common::spawn_serve(store), demo)
}

fn claim(n: usize) -> Value {
    // One-day stays on successive days from 1 January: one person's stays may not overlap
    // (claim.overlapping_stay); the burst is killed long before the days run out.
    let day = time::macros::date!(2026 - 01 - 01) + time::Duration::days(i64::try_from(n % 300).unwrap_or(0));
    json!({ "claim_id": format!("KILL-{n}"), "institution_code": "H41990200001", "institution_level": "tertiary", "kind": "inpatient",
            "admission_date": day.to_string(), "discharge_date": day.to_string(), "diagnosis": "K35.900",
            "lines": [{ "code": "XA10BAE010A001010100315", "quantity": 1, "unit_price": format!("{}.00", 900 + n * 13) }] })
}

/// How the burst's server is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// SIGKILL: the process is gone at once, mid-request.
    Kill,
    /// SIGTERM: a graceful shutdown, which answers every request it accepted and commits
    /// the writer's last batch before the process exits 0 (issue 19).
    Terminate,
}

#[test]
fn a_server_killed_mid_burst_keeps_every_acknowledged_settlement() {
    burst_then_stop(Stop::Kill);
}

#[test]
fn a_server_terminated_mid_burst_answers_and_keeps_every_settlement() {
    burst_then_stop(Stop::Terminate);
}

fn burst_then_stop(stop: Stop) {
    let dir = std::env::temp_dir().join(format!("yibao-serve-{stop:?}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut server, address, api_key) = first_start(&dir);
    let key = [("X-Api-Key", api_key.as_str())];
    // A resident of the demo city to settle for.
    let (status, signed_in) =
        call(&address, "POST", "/api/session", &[], Some(&json!({ "username": "admin", "password": "demo-admin-2026" })));
    assert_eq!(status, 200, "{signed_in}");
    let token = format!("Bearer {}", signed_in["token"].as_str().expect("token"));
    // 王 (Wang), the most common surname: a thousand insured have many.
    let (_, people) = call(&address, "GET", "/api/persons?name=%E7%8E%8B", &[("Authorization", &token)], None);
    assert!(
        people["total"].as_u64().is_some_and(|total| total > 0 && people["persons"].as_array().is_some_and(|p| p.len() as u64 <= total)),
        "a page and how many match in all: {}",
        people["total"]
    );
    let candidates: Vec<Value> = people["persons"].as_array().cloned().unwrap_or_default();
    // One the demo settled nothing for at first start: what is stored after is the burst's.
    let unclaimed = |p: &&Value| {
        let claims = call(
            &address,
            "GET",
            &format!("/api/persons/{}/claims", p["person_id"].as_str().unwrap_or("")),
            &[("Authorization", &token)],
            None,
        );
        claims.1.as_array().is_some_and(Vec::is_empty)
    };
    let person = candidates
        .iter()
        .filter(|p| p["coverage"]["scheme"] == "resident" && p["card_no"].is_string())
        .find(unclaimed)
        .expect("a resident with a card and no claims")
        .clone();
    let person_id = person["person_id"].as_str().expect("id").to_owned();
    let card_no = person["card_no"].as_str().expect("card").to_owned();

    // The burst: one client thread settling claims, acknowledging each 201.
    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    let burst_address = address.clone();
    let burst_person = person_id.clone();
    let burst_card = card_no.clone();
    let burst_key = api_key.clone();
    std::thread::spawn(move || {
        for n in 0..10_000 {
            let body = json!({ "person_id": burst_person, "card_no": burst_card, "claim": claim(n) });
            let mut stream = match TcpStream::connect(&burst_address) {
                Ok(s) => s,
                Err(_) => return, // the server is gone
            };
            let payload = body.to_string();
            let request = format!(
                "POST /api/settlements HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-Api-Key: {burst_key}\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            );
            if stream.write_all(request.as_bytes()).is_err() {
                return;
            }
            let mut response = String::new();
            if stream.read_to_string(&mut response).is_err() || !response.starts_with("HTTP/1.1 201") {
                return;
            }
            if sender.send(format!("KILL-{n}")).is_err() {
                return;
            }
        }
    });
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 25 {
        acknowledged.push(receiver.recv_timeout(Duration::from_secs(60)).expect("settlements are acknowledged"));
    }
    match stop {
        Stop::Kill => {
            server.kill().expect("SIGKILL");
            server.wait().expect("reaped");
        }
        Stop::Terminate => {
            let sent = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill -TERM");
            assert!(sent.success());
            let exit = server.wait().expect("reaped");
            assert!(exit.success(), "a graceful shutdown exits 0: {exit}");
        }
    }
    // Anything acknowledged between the last read and the stop counts too.
    while let Ok(id) = receiver.recv_timeout(Duration::from_millis(200)) {
        acknowledged.push(id);
    }

    let (mut server, address) = start(&dir);
    for id in &acknowledged {
        let (status, found) = call(&address, "GET", &format!("/api/settlements/H41990200001/{id}"), &key, None);
        assert_eq!(status, 200, "acknowledged {id} is lost: {found}");
    }
    let (status, claims) = call(&address, "GET", &format!("/api/persons/{person_id}/claims"), &[("Authorization", &token)], None);
    assert_eq!(status, 200, "{claims}");
    let claims = claims.as_array().expect("claims").clone();
    // Killed, the server may have committed one settlement whose answer it never sent;
    // terminated, it answers every request it took, so what is stored is what was answered.
    let unanswered = claims.len().checked_sub(acknowledged.len());
    let allowed = if stop == Stop::Kill { [Some(0), Some(1)].as_slice() } else { [Some(0)].as_slice() };
    assert!(allowed.contains(&unanswered), "{stop:?}: {} stored, {} acknowledged", claims.len(), acknowledged.len());
    let (_, acc) = call(&address, "GET", &format!("/api/persons/{person_id}/accumulators?year=2026"), &[("Authorization", &token)], None);
    assert_eq!(acc["admissions"].as_u64(), Some(claims.len() as u64), "one accumulator update per claim, no more: {acc}");
    let yuan = |v: &Value| yibao_domain::Fen::parse_yuan(v.as_str().expect("yuan")).expect("yuan").get();
    let fund: i64 = claims.iter().map(|c| yuan(&c["fund_pay"])).sum();
    assert_eq!(
        fund,
        yuan(&acc["pooled_paid"]) + yuan(&acc["critical_paid"]) + yuan(&acc["assistance_paid"]) + yuan(&acc["supplementary_paid"]),
        "accumulators agree with the claims"
    );
    let (status, verification) = call(&address, "GET", "/api/audit/verify", &[("Authorization", &token)], None);
    assert_eq!((status, verification["breaks"].as_array().map(Vec::len)), (200, Some(0)), "{verification}");
    server.kill().expect("stop");
    server.wait().expect("reaped");
    let out = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(["audit", "verify", "--data-dir", dir.to_str().expect("utf-8")])
        .output()
        .expect("verify");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `yibao serve --database-url`: the same platform on PostgreSQL, loaded with the demo city
/// on first start, serving the same API; `yibao audit verify --database-url` checks it.
#[test]
fn serve_runs_on_postgresql() {
    let postgres = yibao_testpg::TestPostgres::start().unwrap_or_else(|e| panic!("PostgreSQL for the serve test: {e}"));
    let (mut server, address) = start_with(&["--database-url", postgres.url(), "--public-url", "https://yibao.example.gov.cn"]);
    let (status, health) = call(&address, "GET", "/api/health", &[], None);
    assert_eq!((status, health["policy"].as_str()), (200, Some("demo-city")));
    let (status, signed_in) =
        call(&address, "POST", "/api/session", &[], Some(&json!({ "username": "east.clerk", "password": "demo-east-clerk-2026" })));
    assert_eq!(status, 200, "{signed_in}");
    let token = format!("Bearer {}", signed_in["token"].as_str().expect("token"));
    let (status, people) = call(&address, "GET", "/api/persons?name=%E7%8E%8B", &[("Authorization", &token)], None);
    assert_eq!(status, 200, "{people}");
    assert!(people["persons"].as_array().is_some_and(|p| !p.is_empty()), "the demo city was loaded into PostgreSQL: {people}");
    // Behind an https public URL, the console's session cookie is `Secure`.
    let form = "username=east.clerk&password=demo-east-clerk-2026";
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let request = format!(
        "POST /console/login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let cookie =
        response.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie: yibao_session=")).unwrap_or_else(|| panic!("{response}"));
    assert!(cookie.split(';').any(|part| part.trim() == "Secure"), "{cookie}");
    server.kill().expect("stop");
    server.wait().expect("reaped");
    let out =
        Command::new(env!("CARGO_BIN_EXE_yibao")).args(["audit", "verify", "--database-url", postgres.url()]).output().expect("verify");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("audit log intact"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A request over TLS, trusting only `config`'s roots, to the server named `localhost`:
/// the raw response (status line, headers, body).
fn https_request(address: &str, config: &std::sync::Arc<rustls::ClientConfig>, request: &str) -> String {
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a server name");
    let connection = rustls::ClientConnection::new(std::sync::Arc::clone(config), name).expect("a TLS client");
    let tcp = TcpStream::connect(address).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    tls.write_all(request.as_bytes()).expect("send over TLS");
    let mut response = Vec::new();
    // The server may close without TLS's close_notify once the response is complete.
    if let Err(error) = tls.read_to_end(&mut response) {
        assert!(!response.is_empty(), "no response over TLS: {error}");
    }
    String::from_utf8_lossy(&response).into_owned()
}

/// Issue 19: `yibao serve --config FILE` takes its settings from a TOML file, its relative
/// paths from the file's directory, and with `[tls]` speaks HTTPS only (rustls), the
/// console's cookies then `Secure`; a flag wins over the file; SIGTERM stops it cleanly.
#[test]
fn a_configuration_file_serves_https_with_secure_cookies() {
    let dir = std::env::temp_dir().join(format!("yibao-serve-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tls")).expect("dir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a self-signed certificate");
    std::fs::write(dir.join("tls/cert.pem"), certified.cert.pem()).expect("cert");
    std::fs::write(dir.join("tls/key.pem"), certified.signing_key.serialize_pem()).expect("key");
    // The file says 5 insured, which serve refuses; the flag's 1,000 wins. An http public
    // URL does not take Secure off the cookies of a server that speaks TLS itself.
    std::fs::write(
        dir.join("yibao.toml"),
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\ndemo_insured = 5\nlog_format = \"json\"\npublic_url = \"http://yibao.example\"\nshutdown_grace_seconds = 2\n\n[tls]\ncertificate = \"tls/cert.pem\"\nprivate_key = \"tls/key.pem\"\n",
    )
    .expect("config");
    let child = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(["serve", "--config", "yibao.toml", "--demo-insured", "1000"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("yibao serve starts");
    let (mut server, address, printed) = read_start(child, false);
    assert!(printed[0].contains(&format!("https://{address}/api/")), "{printed:?}");
    assert!(dir.join("data/yibao.db").exists(), "the data directory is the file's data/");

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).expect("the test's root");
    let client = std::sync::Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth());
    let health = https_request(&address, &client, "GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert!(health.starts_with("HTTP/1.1 200") && health.contains("demo-city"), "{health}");
    // Signed in over https, the session cookie is Secure without any --public-url.
    let form = "username=east.clerk&password=demo-east-clerk-2026";
    let signed_in = https_request(
        &address,
        &client,
        &format!(
            "POST /console/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    let cookie = signed_in
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: yibao_session="))
        .unwrap_or_else(|| panic!("{signed_in}"));
    assert!(cookie.split(';').any(|part| part.trim() == "Secure"), "{cookie}");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(&address).expect("connect");
    plain.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    plain.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "plain HTTP is not served: {}", String::from_utf8_lossy(&answer));

    // SIGTERM while a client holds a TLS connection with a half-sent request: the server
    // stops within its grace (2 s here), exit 0.
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a server name");
    let mut held = rustls::StreamOwned::new(
        rustls::ClientConnection::new(std::sync::Arc::clone(&client), name).expect("a TLS client"),
        TcpStream::connect(&address).expect("connect"),
    );
    held.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n").expect("half a request");
    held.flush().expect("flush");
    let stopping = Instant::now();
    let terminated = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill -TERM");
    assert!(terminated.success());
    let status = exit_within(&mut server, Duration::from_secs(20));
    assert_eq!(status, Some(0), "a terminated TLS server exits 0 within its grace, not held up ({:?})", stopping.elapsed());
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server's exit code if it exits within `limit`; otherwise it is killed and `None`.
fn exit_within(server: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = server.try_wait().expect("try_wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
    None
}

/// A client that holds a half-sent request does not keep a stopping server up: after its
/// grace (`--shutdown-grace-seconds`) the server closes the connection and exits 0.
#[test]
fn a_held_connection_does_not_keep_a_stopping_server_up() {
    let dir = std::env::temp_dir().join(format!("yibao-serve-held-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut server, address) = start_with(&["--data-dir", dir.to_str().expect("utf-8"), "--shutdown-grace-seconds", "1"]);
    let mut held = TcpStream::connect(&address).expect("connect");
    held.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n").expect("half a request");
    std::thread::sleep(Duration::from_millis(200));
    let stopping = Instant::now();
    let terminated = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill -TERM");
    assert!(terminated.success());
    let status = exit_within(&mut server, Duration::from_secs(20));
    assert_eq!(status, Some(0), "stopped within its grace, exit 0 ({:?})", stopping.elapsed());
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A configuration file with a misspelt key, or a TLS key that is not there, stops the
/// server before it opens anything, naming the key or the file.
#[test]
fn a_bad_configuration_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("yibao-serve-badconfig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("typo.toml"), "listen = \"127.0.0.1:0\"\nlsiten = \"127.0.0.1:0\"\n").expect("config");
    std::fs::write(dir.join("nokey.toml"), "listen = \"127.0.0.1:0\"\n[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n")
        .expect("config");
    // The demo's settled days are bounded alike in the file and on the command line.
    std::fs::write(dir.join("days.toml"), "listen = \"127.0.0.1:0\"\ndemo_settled_days = 91\n").expect("config");
    let flag = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(["serve", "--listen", "127.0.0.1:0", "--demo-settled-days", "91"])
        .current_dir(&dir)
        .output()
        .expect("yibao serve runs");
    let stderr = String::from_utf8_lossy(&flag.stderr);
    assert!(!flag.status.success() && stderr.contains("demo_settled_days is 91") && stderr.contains("[config.invalid]"), "{stderr}");
    for (file, expected) in [("typo.toml", "lsiten"), ("nokey.toml", "cert.pem"), ("days.toml", "demo_settled_days is 91")] {
        let out = Command::new(env!("CARGO_BIN_EXE_yibao"))
            .args(["serve", "--config", file])
            .current_dir(&dir)
            .output()
            .expect("yibao serve runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{file}: {stderr}");
        assert!(!stderr.contains("S3cretPw"), "{file}: the password is masked: {stderr}");
        assert!(stderr.contains("[config.invalid]"), "{file}: a stable code: {stderr}");
        assert!(!dir.join("yibao-data").exists(), "{file}: nothing was created");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
