//! Data-driven settlement cases. Each file in `tests/cases/` is one TOML document:
//!
//! ```toml
//! name = "WE-01 …"                 # what the case shows
//! source = "…"                     # where the figures come from (published page, or "hand-worked")
//! requirements = ["R-BEN-4"]
//! pack = "base"                    # tests/packs/<pack>.toml, or a path ending in .toml from the crate root
//! remove = ["outpatient.ratio"]    # keys (or "chronic_disease") the case takes out of the pack
//! [[param]]                        # replaces every entry of that key in the pack
//! key = "inpatient.deductible"
//! values = [{ from = "2010-01-01", value = 700, cite = "TEST" }]
//! [[catalogue]]                    # versions of the dated national catalogue beneath the pack's items
//! code = "XN00000000A000000000001"   # (aliases allowed); name, class "A"|"B"|"C", from, until,
//! class = "B"                      # region (absent: national), selfpay_share_bp, price_cap (yuan,
//! from = "2023-01-01"              # every level), restricted, cite
//! [person]                         # Coverage fields over a default resident of 419902
//! [accumulators]                   # year-to-date counters before the first claim
//! [[settle]]                       # claims in order; accumulators carry from one to the next
//! fresh = false                    # true: start this claim from the case's [accumulators] again
//! person = { … }                   # this claim's Coverage fields over the case's [person]
//! claim = { … }                    # Claim fields over a default inpatient claim; line codes may be aliases
//! expect = { hifp_pay = "4087.50", "accumulators.pooled_paid" = "4087.50" }  # or error = "settle.not_covered"
//! explains = ["按一级医疗机构标准"]     # texts the explanation must say (either language)
//! ```
//!
//! Every settlement is also checked for the identities (payers sum to the bill) and
//! settled a second time with the explanation on, which must change nothing else.

use std::path::{Path, PathBuf};

use time::macros::date;
use yibao_domain::{CatalogueClass, Fen, ItemCode, ItemKind, NationalId, RatioBp, RegionCode};
use yibao_engine::{Accumulators, Claim, Coverage, Explain, Language, settle};
use yibao_policy::{Catalogue, CatalogueItem, CatalogueVersion, Policy};

/// Short names for the base pack's catalogue items.
const ALIASES: &[(&str, &str)] = &[
    ("A", "XA00000000A000000000001"),
    ("B", "XB00000000A000000000002"),
    ("B20", "XB00000000A000000000003"),
    ("C", "ZC000000000000000004"),
    ("RESTRICTED", "XB00000000A000000000005"),
    ("BED", "001201000010000"),
    ("B30", "XB00000000A000000000006"),
    ("IMPLANT50", "C00000000000000000007"),
    ("NOT-LISTED", "XZ99999999A999999999999"),
    ("NATIONAL", "XN01AAA0001010100001"),
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_pack(case: &toml::Table) -> Result<Policy, String> {
    let pack = case.get("pack").and_then(|v| v.as_str()).unwrap_or("base");
    let path = if pack.ends_with(".toml") { crate_dir().join(pack) } else { crate_dir().join("tests/packs").join(format!("{pack}.toml")) };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(overrides) = case.get("param").and_then(|v| v.as_array()) {
        let keys: Vec<&str> = overrides.iter().filter_map(|p| p.get("key").and_then(|k| k.as_str())).collect();
        let params = table.entry("param").or_insert_with(|| toml::Value::Array(Vec::new()));
        let list = params.as_array_mut().ok_or("param is not an array")?;
        list.retain(|p| !p.get("key").and_then(|k| k.as_str()).is_some_and(|k| keys.contains(&k)));
        list.extend(overrides.iter().cloned());
    }
    if let Some(removed) = case.get("remove").and_then(|v| v.as_array()) {
        let removed: Vec<&str> = removed.iter().filter_map(toml::Value::as_str).collect();
        if removed.contains(&"chronic_disease") {
            table.remove("chronic_disease");
        }
        if let Some(toml::Value::Array(list)) = table.get_mut("param") {
            list.retain(|p| !p.get("key").and_then(|k| k.as_str()).is_some_and(|k| removed.contains(&k)));
        }
    }
    let merged = toml::to_string(&table).map_err(|e| e.to_string())?;
    let policy = Policy::from_toml(&path.display().to_string(), &merged).map_err(|e| e.to_string())?;
    let versions =
        case.get("catalogue").and_then(|v| v.as_array()).map_or(Ok(Vec::new()), |list| list.iter().map(catalogue_version).collect())?;
    let catalogue = Catalogue::build(versions).map_err(|problems| format!("catalogue: {problems:?}"))?;
    Ok(policy.with_catalogue(std::sync::Arc::new(catalogue)))
}

/// One `[[catalogue]]` entry of a case as a catalogue version.
fn catalogue_version(entry: &toml::Value) -> Result<CatalogueVersion, String> {
    let text = |field: &str| entry.get(field).and_then(toml::Value::as_str);
    let date = |field: &str| text(field).map(|t| yibao_domain::parse_date(t).map_err(|e| format!("catalogue {field}: {e}"))).transpose();
    let alias = text("code").ok_or("a catalogue entry needs its code")?;
    let code = ItemCode::parse(ALIASES.iter().find(|(a, _)| *a == alias).map_or(alias, |(_, real)| real)).map_err(|e| e.to_string())?;
    let class = match text("class") {
        Some("A") => CatalogueClass::A,
        Some("B") => CatalogueClass::B,
        Some("C") => CatalogueClass::C,
        other => return Err(format!("catalogue class {other:?} is not A, B or C")),
    };
    let price_cap = match text("price_cap") {
        Some(yuan) => [Some(Fen::parse_yuan(yuan).map_err(|e| e.to_string())?); 4],
        None => [None; 4],
    };
    let selfpay_share =
        entry.get("selfpay_share_bp").and_then(toml::Value::as_integer).map(|bp| RatioBp::new(u32::try_from(bp).unwrap_or(u32::MAX)));
    Ok(CatalogueVersion {
        item: CatalogueItem {
            code,
            name: text("name").unwrap_or("catalogue item").to_owned(),
            class,
            restricted: entry.get("restricted").and_then(toml::Value::as_bool).unwrap_or(false),
            price_cap,
            selfpay_share,
            negotiated: entry.get("negotiated").and_then(toml::Value::as_bool).unwrap_or(false),
        },
        kind: ItemKind::of(&code).ok_or_else(|| format!("{code} has no national shape"))?,
        region: text("region").map(|r| RegionCode::parse(r).map_err(|e| e.to_string())).transpose()?,
        from: date("from")?.ok_or("a catalogue entry needs from")?,
        until: date("until")?,
        cite: text("cite").unwrap_or("TEST catalogue").to_owned(),
    })
}

/// `overlay` over `base`, key by key.
fn merged(base: toml::Table, overlay: Option<&toml::Value>) -> toml::Table {
    let mut out = base;
    if let Some(toml::Value::Table(extra)) = overlay {
        for (k, v) in extra {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn default_person() -> toml::Table {
    let id = NationalId::from_parts(RegionCode::parse("419902").expect("region"), date!(1980 - 01 - 01), 1).expect("id");
    toml::toml! {
        region = "419902"
        scheme = "resident"
        category = "resident"
        coverage_from = "2010-01-01"
    }
    .into_iter()
    .chain([("person_id".to_owned(), toml::Value::String(id.to_string()))])
    .collect()
}

fn default_claim() -> toml::Table {
    toml::toml! {
        claim_id = "T-1"
        institution_code = "H41990200001"
        institution_level = "secondary"
        kind = "inpatient"
        admission_date = "2024-03-01"
        discharge_date = "2024-03-10"
        diagnosis = "I63.900"
        referral = true
    }
}

fn resolve_aliases(claim: &mut toml::Table) {
    if let Some(toml::Value::Array(lines)) = claim.get_mut("lines") {
        for line in lines {
            if let Some(toml::Value::String(code)) = line.get_mut("code")
                && let Some((_, real)) = ALIASES.iter().find(|(alias, _)| alias == code)
            {
                *code = (*real).to_owned();
            }
        }
    }
}

fn lookup<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(json, |node, part| match part.parse::<usize>() {
        Ok(index) => node.get(index),
        Err(_) => node.get(part),
    })
}

/// Runs one case file; returns what went wrong.
fn check(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: toml::Table = toml::from_str(&text).map_err(|e| format!("not TOML: {e}"))?;
    for required in ["name", "source", "requirements", "settle"] {
        if !case.contains_key(required) {
            return Err(format!("the case has no '{required}'"));
        }
    }
    let policy = load_pack(&case)?;
    let case_person = merged(default_person(), case.get("person"));
    let start: Accumulators = match case.get("accumulators") {
        Some(v) => v.clone().try_into().map_err(|e| format!("accumulators: {e}"))?,
        None => Accumulators::default(),
    };
    let steps = case.get("settle").and_then(|v| v.as_array()).ok_or("settle must be an array of tables")?;
    let mut acc = start;
    let mut checked = 0;
    for (index, step) in steps.iter().enumerate() {
        let at = |m: String| format!("settle {}: {m}", index + 1);
        if step.get("fresh").and_then(toml::Value::as_bool) == Some(true) {
            acc = start;
        }
        let person: Coverage =
            toml::Value::Table(merged(case_person.clone(), step.get("person"))).try_into().map_err(|e| at(format!("person: {e}")))?;
        let mut claim_table = merged(default_claim(), step.get("claim"));
        resolve_aliases(&mut claim_table);
        let claim: Claim = toml::Value::Table(claim_table).try_into().map_err(|e| at(format!("claim: {e}")))?;
        let expect = step.get("expect").and_then(|v| v.as_table()).ok_or_else(|| at("no expect table".into()))?;
        let result = settle(&policy, &claim, &person, &acc, Explain::Off);
        if let Some(code) = expect.get("error").and_then(|v| v.as_str()) {
            match result {
                Err(e) if e.code() == code => {
                    checked += 1;
                    continue;
                }
                Err(e) => return Err(at(format!("expected error {code}, got {} ({e})", e.code()))),
                Ok(s) => return Err(at(format!("expected error {code}, got a settlement paying {}", s.fund_pay_sumamt))),
            }
        }
        let settlement = result.map_err(|e| at(format!("refused: {e} [{}]", e.code())))?;
        settlement.check_identities().map_err(|e| at(format!("identity broken: {e}")))?;
        let explained = settle(&policy, &claim, &person, &acc, Explain::On).map_err(|e| at(e.to_string()))?;
        let mut without = explained.clone();
        without.explanation.clear();
        if without != settlement {
            return Err(at("settling with the explanation on changed the result".into()));
        }
        // Invariant `bilingual`: every step's title and words are in both languages, the
        // Chinese in Chinese and the English without a Chinese character.
        let has_cjk = |text: &str| text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for step in &explained.explanation {
            if step.title != step.rule.title() {
                return Err(at(format!("step {:?} carries another rule's title", step.rule)));
            }
            if let Some(note) = &step.note
                && (!has_cjk(&note.zh) || has_cjk(&note.en) || note.en.is_empty())
            {
                return Err(at(format!("step {:?} is not explained in both languages: {note:?}", step.rule)));
            }
        }
        for language in [Language::Zh, Language::En] {
            let text = explained.render_explanation(language);
            if !text.contains(&settlement.medfee_sumamt.to_string()) {
                return Err(at(format!("the explanation does not show the bill total:\n{text}")));
            }
        }
        // `explains = ["…"]`: texts the explanation must say (in either language).
        for want in step.get("explains").and_then(|v| v.as_array()).into_iter().flatten() {
            let want = want.as_str().ok_or_else(|| at("explains holds texts".into()))?;
            let text = format!("{}\n{}", explained.render_explanation(Language::Zh), explained.render_explanation(Language::En));
            if !text.contains(want) {
                return Err(at(format!("the explanation does not say '{want}':\n{text}")));
            }
            checked += 1;
        }
        let json = serde_json::to_value(&settlement).map_err(|e| e.to_string())?;
        let mut mismatches = Vec::new();
        for (field, want) in expect {
            let got = lookup(&json, field).ok_or_else(|| at(format!("no field '{field}' in the settlement")))?;
            let matches = match (want, got) {
                (toml::Value::String(w), serde_json::Value::String(g)) => w == g,
                (toml::Value::Integer(w), serde_json::Value::Number(g)) => g.as_i64() == Some(*w),
                (toml::Value::Boolean(w), serde_json::Value::Bool(g)) => w == g,
                _ => false,
            };
            if !matches {
                mismatches.push(format!("{field}: expected {want}, got {got}"));
            }
            checked += 1;
        }
        if !mismatches.is_empty() {
            return Err(at(format!("{}\n{}", mismatches.join("\n"), explained.render_explanation(Language::En))));
        }
        acc = settlement.accumulators;
    }
    Ok(checked)
}

#[test]
fn settlement_cases() {
    let dir = crate_dir().join("tests/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        match check(file) {
            Ok(n) => total += n,
            Err(message) => failures.push(format!("{}: {message}", file.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), files.len(), failures.join("\n\n"));
    // Guard against a directory that silently lost its cases.
    assert!(files.len() >= 20 && total >= 100, "only {} case files with {total} checks", files.len());
}
