//! The staff console in a real browser: starts the whole application on 127.0.0.1 (a
//! random port) over a fresh SQLite store, then runs `tests/browser/console.mjs`, which
//! drives Debian's headless Chromium with playwright-core through the daily work of the
//! roles, and writes a screenshot of every page to `target/screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules`: `scripts/test` installs
//! both. Without them this test fails and says so; it never passes silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use time::macros::datetime;
use yibao_app::access::{digest, hash_password};
use yibao_app::policy_versions::GivenPack;
use yibao_app::{App, Backend};
use yibao_domain::{InstitutionLevel, RegionCode};
use yibao_store::{AccessStore, Actor, NewInstitution, NewStaff, Role};
use yibao_store_sqlite::SqliteStore;

const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the browser test needs on the machine, or why it cannot run.
fn prerequisites(root: &Path) -> Result<(), String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (Debian's chromium package)"));
    }
    if !root.join("tests/browser/node_modules/playwright-core/package.json").exists() {
        missing.push("tests/browser/node_modules (npm ci --prefix tests/browser)".to_owned());
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_owned());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("the browser test needs {}: run scripts/test, which installs them", missing.join(", ")))
    }
}

async fn seeded_store(dir: &Path) -> SqliteStore {
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
    let actor =
        Actor { who: "setup".into(), role: "city_administrator".into(), source: "test".into(), at: datetime!(2026-01-01 08:00 UTC) };
    for (username, role, region) in [
        ("admin", Role::CityAdministrator, "419900"),
        ("east.clerk", Role::EnrolmentClerk, "419921"),
        ("west.clerk", Role::EnrolmentClerk, "419922"),
        ("east.claims", Role::ClaimsOfficer, "419921"),
        ("auditor", Role::Auditor, "419900"),
        ("funds", Role::FundAccountant, "419900"),
        ("policy", Role::PolicyOfficer, "419900"),
        ("policy.review", Role::PolicyOfficer, "419900"),
    ] {
        let staff = NewStaff {
            username: username.into(),
            display_name: username.into(),
            password_hash: hash_password(&format!("pw-{username}")).expect("hash"),
            role,
            region: RegionCode::parse(region).expect("region"),
        };
        store.create_staff(&actor, staff).await.expect("staff");
    }
    let hospital = NewInstitution {
        code: yibao_domain::InstitutionCode::parse("H41992100007").expect("a code"),
        name: "东县人民医院".into(),
        region: RegionCode::parse("419921").expect("region"),
        level: InstitutionLevel::Secondary,
        api_key_hash: digest("key-east"),
    };
    store.create_institution(&actor, hospital).await.expect("institution");
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_headless_chromium() {
    let root = workspace();
    if let Err(why) = prerequisites(&root) {
        panic!("{why}");
    }
    let dir = std::env::temp_dir().join(format!("yibao-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = seeded_store(&dir).await;
    // As `yibao serve` opens it: the pack recorded as version 1 (issue 19).
    let given = GivenPack { label: "demo-city.toml".into(), text: include_str!("../../../policies/demo-city.toml").into(), named: false };
    let installer = yibao_app::Principal::System { name: "test-serve".into(), region: RegionCode::parse("419900").expect("region") };
    let app = App::open_with_policy(std::sync::Arc::new(Backend::Sqlite(store)), &given, Some(&installer)).await.expect("open");
    let payment = yibao_app::payment::PaymentPack::parse(yibao_app::payment::DEMO_PAYMENT_PACK).expect("payment pack");
    let application = yibao_api::app_with(app.with_payment_pack(payment), yibao_console::router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move { axum::serve(listener, application).await });

    let screenshots = root.join("target/screenshots");
    let script = root.join("tests/browser/console.mjs");
    let output = tokio::task::spawn_blocking(move || Command::new("node").arg(script).arg(&base).arg(&screenshots).output())
        .await
        .expect("join")
        .expect("run node");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "the browser script failed ({}):\n{stdout}\n{stderr}", output.status);
}
