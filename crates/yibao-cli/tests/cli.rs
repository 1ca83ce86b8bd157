//! The `yibao` binary end to end: every shipped pack loads, a broken pack is refused with
//! its file, line and reason, the examples settle to balanced JSON, bad input exits 1 with
//! a stable code, and the demo runs with no files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yibao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yibao")).args(args).current_dir(root()).output().expect("runs yibao")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_shipped_pack_passes_policy_check() {
    let mut packs: Vec<String> = std::fs::read_dir(root().join("policies"))
        .expect("policies/")
        .filter_map(|e| e.ok())
        .map(|e| format!("policies/{}", e.file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".toml"))
        .collect();
    packs.sort();
    // The demo city and one pack per seed document (R-BEN-7: every value dated and cited).
    for expected in ["demo-city", "zz-ncms-2011", "zz-pool-2011", "cq-2009", "zy-2016", "smx-2021"] {
        assert!(packs.iter().any(|p| p.contains(expected)), "policies/{expected}.toml is missing");
    }
    let mut args = vec!["policy", "check"];
    args.extend(packs.iter().map(String::as_str));
    let out = yibao(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches(": ok — ").count(), packs.len());
}

#[test]
fn a_pack_with_a_gap_is_refused_naming_file_line_and_reason() {
    let dir = std::env::temp_dir().join(format!("yibao-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let original = std::fs::read_to_string(root().join("policies/demo-city.toml")).expect("demo pack");
    // Give the first value of the pooled cap an end date that leaves a gap before the next year.
    let needle = "key = \"pooled.annual_cap\"";
    let at = original.find(needle).expect("demo pack has pooled.annual_cap");
    let values_at = at + original[at..].find("values = [{ from = \"2024-01-01\"").expect("values");
    let broken = format!(
        "{}values = [{{ from = \"2024-01-01\", until = \"2024-06-30\", value = 1, cite = \"assumption: test\" }}, {{ from = \"2024-08-01\", value = 1, cite = \"assumption: test\" }}]\n{}",
        &original[..values_at],
        &original[values_at..].split_once('\n').expect("line").1
    );
    let path = dir.join("gap.toml");
    std::fs::write(&path, broken).expect("write");
    let out = yibao(&["policy", "check", path.to_str().expect("utf-8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gap.toml: line "), "{stderr}");
    assert!(stderr.contains("pooled.annual_cap") && stderr.contains("[policy.gap]") && stderr.contains("2024-07-01"), "{stderr}");
}

#[test]
fn examples_settle_to_balanced_json_with_an_explanation() {
    let pairs = [
        ("inpatient-stent-tertiary", "resident-tier3"),
        ("outpatient-primary", "resident-tier3"),
        ("chronic-hypertension", "employee-retired"),
        ("maternity-caesarean", "employee-maternity"),
        ("inpatient-out-of-area", "dibao-resident"),
    ];
    for (claim, person) in pairs {
        let claim_path = format!("examples/claims/{claim}.json");
        let person_path = format!("examples/persons/{person}.json");
        let out = yibao(&["settle", "--policy", "policies/demo-city.toml", "--claim", &claim_path, "--person", &person_path, "--explain"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{claim}: {}", text(&out.stderr));
        let json_end = stdout.find("\n}\n").expect("a JSON object first") + 2;
        let value: serde_json::Value = serde_json::from_str(&stdout[..json_end]).expect("valid JSON");
        let yuan = |field: &str| -> i64 {
            let s = value[field].as_str().unwrap_or_else(|| panic!("{claim}: {field} is not a string"));
            yibao_domain::Fen::parse_yuan(s).expect("yuan").get()
        };
        assert_eq!(yuan("fund_pay_sumamt") + yuan("psn_part_amt") + yuan("hosp_part_amt"), yuan("medfee_sumamt"), "{claim}");
        assert!(stdout.contains("合计：总费用") && stdout.contains("Total: bill"), "{claim}: explanation in both languages");
    }
    // R-ENR-4: the resident asked for tier 2 in November 2025; a 9-month wait means the March
    // 2026 stay is still settled under tier 3.
    let out = yibao(&[
        "settle",
        "--policy",
        "policies/demo-city.toml",
        "--claim",
        "examples/claims/inpatient-stent-tertiary.json",
        "--person",
        "examples/persons/resident-tier3.json",
    ]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["tier"], 3);
}

#[test]
fn bad_input_exits_1_with_a_stable_code_and_no_output() {
    let dir = std::env::temp_dir().join(format!("yibao-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases = [
        ("{ not json", "[claim.malformed]"),
        (
            r#"{"claim_id":"x","institution_code":"H41990200003","institution_level":"tertiary","kind":"inpatient","admission_date":"2026-03-02","discharge_date":"2026-03-01","diagnosis":"I21.000","lines":[{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":"1.00"}]}"#,
            "[claim.discharge_before_admission]",
        ),
        (
            r#"{"claim_id":"x","institution_code":"H41990200003","institution_level":"tertiary","kind":"inpatient","admission_date":"2026-03-02","discharge_date":"2026-03-03","diagnosis":"I21.000","lines":[{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":1.5}]}"#,
            "never as floating-point",
        ),
        (
            r#"{"claim_id":"x","institution_code":"H41990200003","institution_level":"tertiary","kind":"inpatient","admission_date":"2020-03-02","discharge_date":"2020-03-03","diagnosis":"I21.000","lines":[{"code":"XA10BAE010A001010100315","quantity":1,"unit_price":"1.00"}]}"#,
            "[settle.before_policy]",
        ),
        (
            r#"{"claim_id":"x","institution_code":"H41990200003","institution_level":"tertiary","kind":"inpatient","admission_date":"2026-03-02","discharge_date":"2026-03-03","diagnosis":"I21.000","surprise":1,"lines":[]}"#,
            "unknown field `surprise`",
        ),
    ];
    for (index, (claim, expected)) in cases.iter().enumerate() {
        let path = dir.join(format!("claim-{index}.json"));
        std::fs::write(&path, claim).expect("write");
        let out = yibao(&["settle", "--policy", "policies/demo-city.toml", "--claim", path.to_str().expect("utf-8")]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "case {index}: {stderr}");
        assert!(stderr.contains(expected), "case {index}: expected {expected} in {stderr}");
        if stderr.contains("refused") {
            assert!(stderr.contains("under policies/demo-city.toml"), "case {index}: the policy file is named: {stderr}");
        }
        assert!(out.stdout.is_empty(), "case {index}: nothing is printed for a refused claim");
    }
}

#[test]
fn demo_runs_with_no_files() {
    let empty = std::env::temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_yibao")).arg("demo").current_dir(&empty).output().expect("runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("Demo City") && stdout.contains("27120.00"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with(char::is_numeric)).count(), 10, "5 result rows and 5 titles:\n{stdout}");
}

#[test]
fn audit_verify_needs_a_database_and_reports_an_intact_chain() {
    let dir = std::env::temp_dir().join(format!("yibao-cli-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let missing = yibao(&["audit", "verify", "--data-dir", dir.to_str().expect("utf-8")]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("[store.not_found]"), "{}", text(&missing.stderr));
    // An empty database (created by opening it) verifies with zero entries.
    std::fs::write(dir.join("yibao.db"), b"").expect("empty file");
    let out = yibao(&["audit", "verify", "--data-dir", dir.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("audit log intact: 0 entries"), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `yibao serve --public-url` names a scheme: without one the server does not start (and
/// opens no store).
#[test]
fn serve_refuses_a_public_url_without_a_scheme() {
    let out = yibao(&["serve", "--public-url", "yibao.example.gov.cn", "--data-dir", "/nonexistent/yibao-public-url"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("https://"), "{}", text(&out.stderr));
}
