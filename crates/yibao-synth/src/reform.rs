//! Reforms (`yibao simulate --reform FILE`): a small overlay on a policy pack, and the
//! simulation's financing assumptions, to re-run the same city-year under.
//!
//! A reform file is TOML:
//!
//! ```toml
//! [reform]
//! name = "Tier-3 residents: inpatient ratio at tertiary hospitals +5 points"
//!
//! [[param]]                      # the pack's own syntax (docs/policy-packs.md)
//! key = "inpatient.ratio"
//! scheme = "resident"
//! tier = 3
//! level = "tertiary"
//! values = [{ from = "2025-01-01", value = "70%", cite = "assumption: reform, +5 points" }]
//!
//! [financing]                    # optional, the simulation's own assumptions
//! levy_ratio = "12%"             # the adjustment-fund share (ZZ-POOL §四(九): 10%)
//! critical_per_resident_yuan = 60
//! ```
//!
//! Each `[[param]]` replaces, from its first `from` date on, the values of the pack's
//! entry with the same key and the same selector (region, scheme, tier, level, category,
//! group); the pack's earlier values stay, ending the day before. A `[[param]]` with no
//! such entry is added. `[[source]]` tables are added to the pack's. The merged pack is
//! then loaded and validated like any pack, so a reform that leaves a gap, an overlap or an
//! uncited value is refused with the loader's message.

use time::Duration;
use yibao_domain::{RatioBp, parse_date};

use crate::sim::Financing;

/// A reform: its name and the financing it sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reform {
    pub name: String,
    pub financing: Financing,
    /// How many entries it replaced and added.
    pub replaced: usize,
    pub added: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reform: {0}")]
pub struct ReformError(pub String);

fn err(text: impl Into<String>) -> ReformError {
    ReformError(text.into())
}

const SELECTOR: [&str; 6] = ["region", "scheme", "tier", "level", "category", "group"];

fn date_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    }
}

/// The pack's text with the reform applied, and the reform's name and financing.
pub fn apply_reform(pack: &str, reform: &str, base: Financing) -> Result<(String, Reform), ReformError> {
    let mut pack: toml::Table = pack.parse().map_err(|e| err(format!("the policy pack is not TOML: {e}")))?;
    let reform: toml::Table = reform.parse().map_err(|e| err(format!("not TOML: {e}")))?;
    for key in reform.keys() {
        if !["reform", "param", "source", "financing"].contains(&key.as_str()) {
            return Err(err(format!("unknown table [{key}]: a reform has [reform], [[param]], [[source]] and [financing]")));
        }
    }
    let name = reform
        .get("reform")
        .and_then(|r| r.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| err("[reform] needs a name"))?
        .to_owned();
    let mut financing = base;
    if let Some(table) = reform.get("financing") {
        let table = table.as_table().ok_or_else(|| err("[financing] is a table"))?;
        for (key, value) in table {
            let yuan = || value.as_integer().filter(|v| *v >= 0).ok_or_else(|| err(format!("financing.{key} is a whole number of yuan")));
            let ratio = || {
                value
                    .as_str()
                    .and_then(|s| RatioBp::parse_percent(s).ok())
                    .ok_or_else(|| err(format!("financing.{key} is a percentage such as \"10%\"")))
            };
            match key.as_str() {
                "critical_per_resident_yuan" => financing.critical_per_resident_yuan = yuan()?,
                "large_amount_monthly_yuan" => financing.large_amount_monthly_yuan = yuan()?,
                "assistance_per_person_yuan" => financing.assistance_per_person_yuan = yuan()?,
                "opening_months" => financing.opening_months = yuan()?,
                "levy_ratio" => financing.levy_ratio = ratio()?,
                "city_share_when_met" => financing.city_share_when_met = ratio()?,
                other => return Err(err(format!("unknown financing.{other}"))),
            }
        }
    }
    let empty = Vec::new();
    let params = match reform.get("param") {
        Some(v) => v.as_array().ok_or_else(|| err("[[param]] is an array of tables"))?,
        None => &empty,
    };
    let base_params = pack.entry("param").or_insert_with(|| toml::Value::Array(Vec::new()));
    let base_params = base_params.as_array_mut().ok_or_else(|| err("the pack's param is not an array of tables"))?;
    let (mut replaced, mut added) = (0, 0);
    for param in params {
        let table = param.as_table().ok_or_else(|| err("each [[param]] is a table"))?;
        let key = table.get("key").and_then(toml::Value::as_str).ok_or_else(|| err("a [[param]] needs a key"))?;
        let values =
            table.get("values").and_then(toml::Value::as_array).ok_or_else(|| err(format!("{key}: values = [...] is required")))?;
        let first = values
            .first()
            .and_then(|v| v.get("from"))
            .and_then(date_text)
            .ok_or_else(|| err(format!("{key}: the first value needs a from date")))?;
        let first_day = parse_date(&first).map_err(|_| err(format!("{key}: '{first}' is not a date")))?;
        let same = |other: &toml::Value| {
            other.get("key").and_then(toml::Value::as_str) == Some(key) && SELECTOR.iter().all(|s| other.get(s) == table.get(*s))
        };
        match base_params.iter_mut().find(|p| same(p)) {
            Some(existing) => {
                let kept: Vec<toml::Value> = existing
                    .get("values")
                    .and_then(toml::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|v| v.get("from").and_then(date_text).and_then(|d| parse_date(&d).ok()).is_some_and(|d| d < first_day))
                    .cloned()
                    .map(|mut v| {
                        // End an earlier value the day before the reform's first.
                        let ends_later =
                            v.get("until").and_then(date_text).and_then(|d| parse_date(&d).ok()).is_none_or(|u| u >= first_day);
                        if ends_later && let Some(t) = v.as_table_mut() {
                            t.insert("until".to_owned(), toml::Value::String((first_day - Duration::days(1)).to_string()));
                        }
                        v
                    })
                    .collect();
                let mut merged = kept;
                merged.extend(values.iter().cloned());
                if let Some(t) = existing.as_table_mut() {
                    t.insert("values".to_owned(), toml::Value::Array(merged));
                }
                replaced += 1;
            }
            None => {
                base_params.push(param.clone());
                added += 1;
            }
        }
    }
    if let Some(sources) = reform.get("source") {
        let sources = sources.as_array().ok_or_else(|| err("[[source]] is an array of tables"))?;
        let base_sources = pack.entry("source").or_insert_with(|| toml::Value::Array(Vec::new()));
        if let Some(list) = base_sources.as_array_mut() {
            list.extend(sources.iter().cloned());
        }
    }
    let text = toml::to_string(&pack).map_err(|e| err(format!("cannot write the merged pack: {e}")))?;
    Ok((text, Reform { name, financing, replaced, added }))
}
