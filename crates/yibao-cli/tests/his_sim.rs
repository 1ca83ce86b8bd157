//! The HIS simulator against a running `yibao serve` (issue 14): a county hospital's day
//! through the national interface (an outpatient visit settled, cancelled, settled, reversed
//! by msgid and settled again; an inpatient stay with its settlement list; a referral to the
//! city hospital and its stay), both hospitals' days reconciled to the fen, on the embedded
//! SQLite store and on a real PostgreSQL server.

mod common;

use common::{HOSPITAL, call, read_start, resident, scratch, spawn_serve, text};
use serde_json::json;

/// The county hospital that refers: a secondary hospital of the demo city.
const COUNTY_HOSPITAL: &str = "H41992100001";

/// A new API key for `code`, rotated by the demo city's administrator (the keys the demo
/// printed are read only up to the city hospital's).
fn key_of(address: &str, code: &str) -> String {
    let (status, session) = call(address, "POST", "/api/session", &[], Some(&json!({"username": "admin", "password": "demo-admin-2026"})));
    assert_eq!(status, 200, "{session}");
    let token = format!("Bearer {}", session["token"].as_str().expect("token"));
    let (status, rotated) = call(address, "POST", &format!("/api/institutions/{code}/api-key"), &[("Authorization", &token)], None);
    assert_eq!(status, 200, "{rotated}");
    rotated["api_key"].as_str().expect("a key").to_owned()
}

fn a_day_through_the_interface(store: &[&str]) {
    let (mut server, address, _) = read_start(spawn_serve(store), true);
    let (person, card) = resident(&address);
    let url = format!("http://{address}");
    let (county, city) = (key_of(&address, COUNTY_HOSPITAL), key_of(&address, HOSPITAL));
    let run = |person: &str, card: &str| {
        common::yibao(&[
            "his-sim",
            "--url",
            &url,
            "--institution",
            COUNTY_HOSPITAL,
            "--key",
            &county,
            "--person",
            person,
            "--card",
            card,
            "--refer-to",
            HOSPITAL,
            "--refer-key",
            &city,
        ])
    };
    let out = run(&person, &card);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "{said}");
    for step in [
        "9001",
        "1101",
        "2208",
        "2601",
        "2304→4101→4102",
        "2501 referral",
        "3201 H41990200001 reconciled",
        "3201 H41992100001 reconciled",
        "9002",
    ] {
        assert!(said.contains(step), "the day has its step {step}: {said}");
    }
    assert!(said.contains("the day reconciles to the fen: 2 settlement(s) net"), "{said}");
}

#[test]
fn a_hospital_day_on_sqlite() {
    let dir = scratch("his-sim");
    a_day_through_the_interface(&["--data-dir", dir.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hospital_day_on_postgresql() {
    let postgres = yibao_testpg::TestPostgres::start_server().unwrap_or_else(|e| panic!("PostgreSQL for the simulator: {e}"));
    a_day_through_the_interface(&["--database-url", postgres.url()]);
}

/// A simulator run that meets a refusal stops there and says so, with exit 1: here a card
/// that is not the person's.
#[test]
fn a_refused_message_stops_the_day() {
    let dir = scratch("his-sim-refused");
    let (mut server, address, _) = read_start(spawn_serve(&["--data-dir", dir.to_str().expect("utf-8")]), true);
    let (person, _) = resident(&address);
    let url = format!("http://{address}");
    let county = key_of(&address, COUNTY_HOSPITAL);
    let out = common::yibao(&[
        "his-sim",
        "--url",
        &url,
        "--institution",
        COUNTY_HOSPITAL,
        "--key",
        &county,
        "--person",
        &person,
        "--card",
        "NOT-THE-CARD",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("1101 refused: [person.not_verified]"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
