//! Invariant `bilingual` (issue 12): every error code any crate of the workspace can give a
//! caller has a Chinese and an English message in the one catalogue,
//! `yibao_app::messages::CATALOGUE`, and refusals carry no Rust debug text.
//!
//! The codes are found in the sources, so a code added anywhere without its messages
//! fails here: every string literal shaped `area.name` that is
//! - an argument of an error constructor in the same statement (`AppError::…(`,
//!   `ApiError::…(`, `StoreError::Refused {`, a `refused(` helper, `not_after_today(`), or
//! - returned by a `fn code` (the codes of `StoreError`, `RegisterError`, `PeriodError`,
//!   `ClaimError`, `SettleError`, `ContributionError`, `LedgerError`…),
//!
//! except the `fn code`s of [`NOT_REFUSALS`]. A helper that passes a code through to a
//! constructor belongs in [`CONSTRUCTORS`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yibao_app::messages::{CATALOGUE, entry, message};
use yibao_app::{AppError, Language};

/// Files whose `fn code` names something other than a refusal, and why.
const NOT_REFUSALS: [(&str, &str); 4] = [
    ("crates/yibao-ledger/src/check.rs", "the book check's findings (`books.*`), listed by `yibao fund check`, not refusals"),
    ("crates/yibao-ledger/src/warning.rs", "fund warnings, which carry their own bilingual notes"),
    ("crates/yibao-ledger/src/transfer.rs", "transfer reasons"),
    (
        "crates/yibao-policy/src/load.rs",
        "a pack's loader refusals, for pack authors through `yibao policy check`; the API wraps them as `reform.invalid`",
    ),
];

/// Calls whose string-literal arguments in the same statement are error codes.
const CONSTRUCTORS: [&str; 5] = ["AppError::", "ApiError::", "Refused {", "refused(", "not_after_today("];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `"area.name"` literals: lower-case letters and underscores on each side of one dot.
fn code_literals(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut start = None;
    for (index, &byte) in bytes.iter().enumerate() {
        if byte != b'"' {
            continue;
        }
        match start {
            None => start = Some(index),
            Some(open) => {
                let inner = &text[open + 1..index];
                let shaped = inner.split_once('.').is_some_and(|(area, name)| {
                    let part = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                    part(area) && part(name)
                });
                if shaped {
                    found.push((open, inner));
                    start = None;
                } else {
                    // This quote may open the next literal (the previous one was text, or
                    // code between two literals).
                    start = Some(index);
                }
            }
        }
    }
    found
}

/// The byte ranges of every `fn code` body.
fn code_fn_bodies(text: &str) -> Vec<(usize, usize)> {
    let mut bodies = Vec::new();
    for (at, _) in text.match_indices("fn code(") {
        let Some(open) = text[at..].find('{').map(|o| at + o) else { continue };
        let mut depth = 0;
        for (offset, c) in text[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        bodies.push((open, open + offset));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    bodies
}

fn char_floor(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// Every error code in the workspace's sources, with a file that uses it.
fn codes_in_sources() -> BTreeMap<String, String> {
    let root = workspace();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).expect("crates") {
        let src = krate.expect("crate").path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "the scan reads the workspace's sources: {}", files.len());
    let mut codes = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&root).expect("inside").to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).expect("source");
        // Unit tests come last in a file; their literals are not what callers see.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let bodies = if NOT_REFUSALS.iter().any(|(path, _)| *path == relative) { Vec::new() } else { code_fn_bodies(text) };
        for (at, code) in code_literals(text) {
            let in_code_fn = bodies.iter().any(|(from, to)| (*from..*to).contains(&at));
            let window = &text[char_floor(text, at.saturating_sub(240))..at];
            let constructed = CONSTRUCTORS
                .iter()
                .filter_map(|marker| window.rfind(marker).map(|i| (i, marker.len())))
                .max()
                .is_some_and(|(i, len)| !window[i + len..].contains(';'));
            if in_code_fn || constructed {
                codes.entry(code.to_owned()).or_insert(relative.clone());
            }
        }
    }
    codes
}

#[test]
fn every_code_has_both_languages() {
    let codes = codes_in_sources();
    // The scan finds the codes of each kind of source: constructors in the application and
    // the API, the store's refusals, and the domain's, engine's and ledger's error enums.
    for known in [
        "auth.locked",
        "auth.throttled",
        "claim.level_mismatch",
        "route.not_found",
        "contribution.overpaid",
        "person.not_found",
        "person.bad_name",
        "contribution.bad_period",
        "settle.not_covered",
        "claim.no_lines",
        "ledger.overdraft",
        "fund.bad_date",
    ] {
        assert!(codes.contains_key(known), "the scan finds {known}");
    }
    let missing: Vec<String> =
        codes.iter().filter(|(code, _)| entry(code).is_none()).map(|(code, file)| format!("{code} (in {file})")).collect();
    assert!(missing.is_empty(), "codes without Chinese and English messages in yibao_app::messages:\n{}", missing.join("\n"));
    let unused: Vec<&str> = CATALOGUE.iter().map(|e| e.code).filter(|code| !codes.contains_key(*code)).collect();
    assert!(unused.is_empty(), "catalogue entries no source uses (a typo, or a code since removed): {unused:?}");
    eprintln!("{} codes, each in both languages", codes.len());
}

/// Invariant `bilingual`, no debug text: representative refusals, in both languages, read
/// as text for a person, not as Rust's `Debug` output.
#[test]
fn refusals_carry_no_debug_text() {
    let category = yibao_engine::SettleError::CategoryMismatch {
        category: yibao_domain::PersonCategory::Retired,
        scheme: yibao_domain::Scheme::Resident,
    };
    let refusals = [
        AppError::from(yibao_store::StoreError::Refused { code: category.code(), message: category.to_string() }),
        AppError::from(yibao_store::StoreError::Refused {
            code: "contribution.overpaid",
            message: "a period's bill is paid once: at most 0.00 more".into(),
        }),
        AppError::from(yibao_store::StoreError::PersonNotFound("419921199001010013".into())),
        AppError::from(yibao_domain::Period::parse("2026-13").expect_err("not a period")),
        AppError::from(yibao_domain::PersonName::parse("\u{200b}").expect_err("not a name")),
        AppError::internal("store.failure", "Err(Io(Custom { kind: Other }))"),
    ];
    for error in &refusals {
        assert!(!error.message.contains(&format!("[{}]", error.code)), "the detail does not repeat the code: {error:?}");
        for language in [Language::Zh, Language::En] {
            let text = error.message_in(language);
            for artefact in ["{", "}", "Some(", "None", "Err(", "Ok(", "\\\"", "::"] {
                assert!(!text.contains(artefact), "{} in {language:?} carries {artefact}: {text}", error.code);
            }
        }
        assert_ne!(error.message_in(Language::Zh), error.message_in(Language::En), "{}", error.code);
    }
    assert_eq!(message(Language::Zh, "store.failure", "Err(Io)"), "服务未能完成请求，未写入任何数据");
}
