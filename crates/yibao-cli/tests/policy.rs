//! Policy changes as records from the operator's side (issue 19): the first start records
//! the pack as version 1; the command line lists, shows and proposes versions beside the
//! running server; a second policy officer approves over HTTP and the server settles under
//! the new version at once; a restart runs the store's version, and a pack file that
//! differs from it is refused.

use serde_json::json;

mod common;

use common::{call, path, scratch, start, text, yibao};

const DEMO: &str = "../../policies/demo-city.toml";

fn sign_in(address: &str, username: &str, password: &str) -> String {
    let (status, body) = call(address, "POST", "/api/session", &[], Some(&json!({ "username": username, "password": password })));
    assert_eq!(status, 200, "{body}");
    format!("Bearer {}", body["token"].as_str().expect("token"))
}

#[test]
fn a_version_proposed_on_the_command_line_is_approved_over_http_and_survives_a_restart() {
    let dir = scratch("policy-versions");
    let data = dir.join("data");
    let (mut server, address, _) = start(&data, true);
    let store = ["--data-dir", path(&data)];

    let listed = yibao(&[&["policy", "versions"][..], &store[..]].concat());
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listed = text(&listed.stdout);
    assert!(listed.contains("v1") && listed.contains("approved") && listed.contains("<- in force"), "{listed}");

    // Next year's deductible at a tertiary hospital for employees, from 1 January 2027.
    let pack = std::fs::read_to_string(DEMO).expect("demo pack");
    let anchor = "values = [{ from = \"2024-01-01\", value = \"85%\", cite = \"assumption: employees in work, tertiary hospital\" }]";
    assert!(pack.contains(anchor));
    let next = pack.replacen(
        anchor,
        "values = [{ from = \"2024-01-01\", value = \"85%\", cite = \"assumption: employees in work, tertiary hospital\" }, \
         { from = \"2027-01-01\", value = \"87%\", cite = \"assumption: the 2027 notice\" }]",
        1,
    );
    let file = dir.join("next.toml");
    std::fs::write(&file, &next).expect("write");
    let dry = yibao(&[&["policy", "propose", path(&file), "--dry-run"][..], &store[..]].concat());
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let dry = text(&dry.stdout);
    assert!(
        dry.contains("nothing recorded") && dry.contains("added inpatient.ratio [scheme=employee, level=tertiary] (from 2027-01-01)"),
        "{dry}"
    );
    let proposed = yibao(&[&["policy", "propose", path(&file), "--note", "2027 notice"][..], &store[..]].concat());
    assert!(proposed.status.success(), "{}", text(&proposed.stderr));
    assert!(text(&proposed.stdout).contains("proposed as version 2 against version 1"), "{}", text(&proposed.stdout));
    let again = yibao(&[&["policy", "propose", path(&dir.join("missing.toml"))][..], &store[..]].concat());
    assert!(!again.status.success());

    // The operator does not approve; a policy officer other than the proposer does.
    let review = sign_in(&address, "policy.review", "demo-policy-review-2026");
    let (status, approved) =
        call(&address, "POST", "/api/policy/versions/2/approval", &[("Authorization", &review)], Some(&json!({ "note": "ok" })));
    assert_eq!((status, approved["status"].as_str()), (200, Some("approved")), "{approved}");
    assert_eq!(call(&address, "GET", "/api/health", &[], None).1["policy_version"], 2, "in force without a restart");
    let shown = yibao(&[&["policy", "show", "2"][..], &store[..]].concat());
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("approved") && shown.contains("decided by policy.review") && shown.contains("1 change, 0 reaching back"),
        "{shown}"
    );
    server.kill().expect("stop");
    server.wait().expect("stopped");

    // A restart runs the store's version; a pack file that differs from it is refused.
    let (mut server, address, _) = start(&data, false);
    assert_eq!(call(&address, "GET", "/api/health", &[], None).1["policy_version"], 2);
    server.kill().expect("stop");
    server.wait().expect("stopped");
    let refused = yibao(&["serve", "--listen", "127.0.0.1:0", "--data-dir", path(&data), "--policy", DEMO]);
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(said.contains("[policy.file_differs]") && said.contains("version 2"), "{said}");
    // The same file as version 2 is accepted: naming the pack in force is not a change.
    let (mut server, address, _) = common::start_on(&["--data-dir", path(&data), "--policy", path(&file)], false);
    assert_eq!(call(&address, "GET", "/api/health", &[], None).1["policy_version"], 2);
    server.kill().expect("stop");
    server.wait().expect("stopped");
    let _ = std::fs::remove_dir_all(&dir);
}
