//! Loading a pack: TOML → raw structs (unknown keys refused by serde) → checked values →
//! a [`Policy`], collecting every problem so an author can fix a file in one pass.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use time::Date;
use yibao_domain::{
    AssistanceGroup, CatalogueClass, Fen, InstitutionLevel, ItemCode, PersonCategory, Place, RatioBp, RegionCode, RegionLevel, Rounding,
    Scheme, Tier, parse_date,
};

use crate::keys::{Family, PARAMS, ParamKey, ParamSpec, ValueKind};
use crate::lookup::{matches, specificity, value_on};
use crate::{
    Band, Bands, CatalogueItem, ChronicDisease, Dated, Dim, Entry, Policy, ResidentInsutype, Selector, ServiceDateRule, SingleDisease,
    Source, SpecialDrug, Value,
};

/// Most entries, values, items and diseases a pack may hold: far above any real city,
/// low enough that a runaway file cannot exhaust memory (TIGER_STYLE: limits on everything).
const PARAMS_LIMIT: usize = 10_000;
const VALUES_PER_PARAM_LIMIT: usize = 200;
const ITEMS_LIMIT: usize = 200_000;
const DISEASES_LIMIT: usize = 1_000;
/// Largest money value a parameter may hold: 100 million yuan.
const PARAM_MONEY_LIMIT_YUAN: i64 = 100_000_000;
/// Missing combinations reported per key before summarising.
const MISSING_REPORTED_PER_KEY: usize = 5;

/// What is wrong with a pack, with a stable machine code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// Not TOML, or a field the format does not know.
    Syntax(String),
    /// A `[[param]]` key that is not in the registry.
    UnknownKey(String),
    /// A selector dimension the key does not vary by.
    DimensionNotAllowed {
        key: String,
        dim: &'static str,
    },
    /// A value of the wrong shape.
    BadValue(String),
    NegativeMoney(String),
    RatioOver100(String),
    /// Two values or entries that claim the same day and combination.
    Overlap(String),
    /// Days or combinations that no value covers.
    Gap(String),
    /// A citation that names no declared source and is not an assumption.
    BadCitation(String),
    /// A required key with no value for some combination or date.
    Missing(String),
    /// Anything else (duplicate ids, bad header fields).
    Invalid(String),
}

impl PolicyErrorKind {
    /// Stable machine code for APIs and scripts.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            PolicyErrorKind::Syntax(_) => "policy.syntax",
            PolicyErrorKind::UnknownKey(_) => "policy.unknown_key",
            PolicyErrorKind::DimensionNotAllowed { .. } => "policy.dimension_not_allowed",
            PolicyErrorKind::BadValue(_) => "policy.bad_value",
            PolicyErrorKind::NegativeMoney(_) => "policy.negative_money",
            PolicyErrorKind::RatioOver100(_) => "policy.ratio_over_100",
            PolicyErrorKind::Overlap(_) => "policy.overlap",
            PolicyErrorKind::Gap(_) => "policy.gap",
            PolicyErrorKind::BadCitation(_) => "policy.bad_citation",
            PolicyErrorKind::Missing(_) => "policy.missing_value",
            PolicyErrorKind::Invalid(_) => "policy.invalid",
        }
    }
}

impl fmt::Display for PolicyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyErrorKind::Syntax(m)
            | PolicyErrorKind::BadValue(m)
            | PolicyErrorKind::Overlap(m)
            | PolicyErrorKind::Gap(m)
            | PolicyErrorKind::BadCitation(m)
            | PolicyErrorKind::Missing(m)
            | PolicyErrorKind::Invalid(m) => f.write_str(m),
            PolicyErrorKind::UnknownKey(k) => write!(f, "unknown parameter key '{k}' (see docs/policy-packs.md for the keys)"),
            PolicyErrorKind::DimensionNotAllowed { key, dim } => write!(f, "{key} does not vary by {dim}"),
            PolicyErrorKind::NegativeMoney(v) => write!(f, "money may not be negative: {v}"),
            PolicyErrorKind::RatioOver100(v) => write!(f, "a ratio may not exceed 100%: {v}"),
        }
    }
}

/// One problem: the file, where in it, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    /// `line 42, param inpatient.deductible (scheme=resident), value 2`, or the header field.
    pub place: String,
    pub kind: PolicyErrorKind,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {} [{}]", self.file, self.place, self.kind, self.kind.code())
    }
}

/// Every problem found in a pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

// ---- the raw TOML shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    pack: RawHeader,
    #[serde(default)]
    source: Vec<RawSource>,
    #[serde(default)]
    param: Vec<toml::Spanned<RawParam>>,
    #[serde(default)]
    chronic_disease: Vec<toml::Spanned<RawChronic>>,
    #[serde(default)]
    single_disease: Vec<toml::Spanned<RawSingleDisease>>,
    #[serde(default)]
    special_drug: Vec<toml::Spanned<RawSpecialDrug>>,
    #[serde(default)]
    item: Vec<toml::Spanned<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: String,
    name: String,
    region: String,
    effective_from: toml::Value,
    effective_until: Option<toml::Value>,
    rounding: Option<String>,
    service_date: Option<String>,
    /// 390 (default), 380 or 391: how the residents' insurance is coded nationally.
    resident_insutype: Option<String>,
    schemes: Vec<String>,
    tiers: Option<std::collections::BTreeMap<String, Vec<u8>>>,
    /// The city's counties and districts (GB/T 2260), where households, persons and
    /// institutions may be registered.
    counties: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: String,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    key: String,
    region: Option<String>,
    scheme: Option<String>,
    tier: Option<u8>,
    level: Option<String>,
    category: Option<String>,
    group: Option<String>,
    place: Option<String>,
    referred: Option<bool>,
    values: Vec<RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    from: toml::Value,
    until: Option<toml::Value>,
    value: toml::Value,
    cite: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChronic {
    code: String,
    name_zh: String,
    name_en: String,
    annual_limit: Vec<RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSingleDisease {
    code: String,
    level: Option<String>,
    name_zh: String,
    name_en: String,
    price: Vec<RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpecialDrug {
    code: String,
    name_zh: String,
    name_en: String,
    diseases: Vec<String>,
    from: toml::Value,
    until: Option<toml::Value>,
    cite: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    code: String,
    name: String,
    class: String,
    #[serde(default)]
    restricted: bool,
    price_cap: Option<toml::Value>,
    selfpay_share: Option<String>,
    /// 谈判药品: its price cap is the negotiated price (R-PAY-2).
    #[serde(default)]
    negotiated: bool,
}

// ---- loading ----

struct Loader<'a> {
    file: &'a str,
    /// The byte offset of every newline, in order: a line number is a binary search, so
    /// placing every entry of a large pack costs n·log n, not n² (issue 19, a pack proposed
    /// over HTTP).
    newlines: Vec<usize>,
    errors: Vec<PolicyError>,
}

impl Loader<'_> {
    fn fail(&mut self, place: impl Into<String>, kind: PolicyErrorKind) {
        self.errors.push(PolicyError { file: self.file.to_owned(), place: place.into(), kind });
    }

    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|newline| *newline < offset) + 1
    }
}

pub(crate) fn load(file: &str, text: &str) -> Result<Policy, PolicyErrors> {
    let newlines = text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(at, _)| at).collect();
    let mut loader = Loader { file, newlines, errors: Vec::new() };
    let raw: RawPack = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            let place = error.span().map_or_else(|| "file".to_owned(), |span| format!("line {}", loader.line_of(span.start)));
            let message = error.message().to_owned();
            loader.fail(place, PolicyErrorKind::Syntax(message));
            return Err(PolicyErrors(loader.errors));
        }
    };
    let policy = build(&mut loader, raw);
    if loader.errors.is_empty() { policy.ok_or_else(|| PolicyErrors(Vec::new())) } else { Err(PolicyErrors(loader.errors)) }
}

fn build(loader: &mut Loader<'_>, raw: RawPack) -> Option<Policy> {
    let header = raw.pack;
    let id_ok = !header.id.is_empty()
        && header.id.len() <= 64
        && header.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        loader.fail(
            "pack.id",
            PolicyErrorKind::Invalid(format!("'{}' is not a pack id: lower-case letters, digits and '-', at most 64", header.id)),
        );
    }
    if header.name.trim().is_empty() {
        loader.fail("pack.name", PolicyErrorKind::Invalid("the pack needs a name".into()));
    }
    let region = match RegionCode::parse(&header.region) {
        Ok(r) if r.level() == RegionLevel::City => Some(r),
        Ok(r) => {
            loader
                .fail("pack.region", PolicyErrorKind::Invalid(format!("{r} is not a city: a pooling region is a city code ending in 00")));
            None
        }
        Err(e) => {
            loader.fail("pack.region", PolicyErrorKind::Invalid(e.to_string()));
            None
        }
    };
    let effective_from = date_field(loader, "pack.effective_from", &header.effective_from);
    let effective_until = header.effective_until.as_ref().and_then(|v| date_field(loader, "pack.effective_until", v));
    if let (Some(from), Some(until)) = (effective_from, effective_until)
        && until < from
    {
        loader.fail("pack.effective_until", PolicyErrorKind::Invalid(format!("{until} is before effective_from {from}")));
    }
    let rounding = match header.rounding.as_deref() {
        None | Some("half-up") => Rounding::HalfUp,
        Some("half-even") => Rounding::HalfEven,
        Some("down") => Rounding::Down,
        Some("up") => Rounding::Up,
        Some(other) => {
            loader.fail("pack.rounding", PolicyErrorKind::Invalid(format!("'{other}' is not a rounding: half-up, half-even, down or up")));
            Rounding::HalfUp
        }
    };
    let service_date = match header.service_date.as_deref() {
        None | Some("admission") => ServiceDateRule::Admission,
        Some("discharge") => ServiceDateRule::Discharge,
        Some(other) => {
            loader.fail(
                "pack.service_date",
                PolicyErrorKind::Invalid(format!("'{other}' is not a service-date rule: admission or discharge")),
            );
            ServiceDateRule::Admission
        }
    };
    let resident_insutype = match header.resident_insutype.as_deref().map(|code| (code, ResidentInsutype::parse(code))) {
        None => ResidentInsutype::Integrated,
        Some((_, Some(insutype))) => insutype,
        Some((other, None)) => {
            loader.fail(
                "pack.resident_insutype",
                PolicyErrorKind::Invalid(format!(
                    "'{other}' is not a residents' insurance type: 390 (城乡居民), 380 (新农合) or 391 (城镇居民)"
                )),
            );
            ResidentInsutype::Integrated
        }
    };
    let mut schemes = Vec::new();
    for name in &header.schemes {
        match Scheme::parse(name) {
            Some(s) if schemes.contains(&s) => {
                loader.fail("pack.schemes", PolicyErrorKind::Invalid(format!("scheme '{name}' is listed twice")))
            }
            Some(s) => schemes.push(s),
            None => loader.fail("pack.schemes", PolicyErrorKind::Invalid(format!("unknown scheme '{name}'"))),
        }
    }
    if !schemes.iter().any(|s| s.is_basic()) && !schemes.contains(&Scheme::Maternity) {
        loader.fail("pack.schemes", PolicyErrorKind::Invalid("a pack needs employee, resident or maternity insurance".into()));
    }
    let mut tiers = Vec::new();
    for (name, numbers) in header.tiers.iter().flatten() {
        let place = format!("pack.tiers.{name}");
        let Some(scheme) = Scheme::parse(name).filter(|s| s.is_basic()) else {
            loader.fail(place, PolicyErrorKind::Invalid(format!("tiers belong to a basic scheme (employee or resident), not '{name}'")));
            continue;
        };
        if !schemes.contains(&scheme) {
            loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("tiers for {scheme}, which the pack does not list in schemes")));
        }
        let mut list: Vec<Tier> = Vec::new();
        for &n in numbers {
            match Tier::new(n) {
                Ok(t) if !list.contains(&t) => list.push(t),
                Ok(t) => loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("tier {t} is listed twice"))),
                Err(e) => loader.fail(place.clone(), PolicyErrorKind::Invalid(e.to_string())),
            }
        }
        if list.is_empty() {
            loader.fail(place, PolicyErrorKind::Invalid("a scheme with tiers needs at least one".into()));
        }
        list.sort();
        tiers.push((scheme, list));
    }
    if !tiers.is_empty() {
        for scheme in schemes.iter().filter(|s| s.is_basic()) {
            if !tiers.iter().any(|(s, _)| s == scheme) {
                loader.fail("pack.tiers", PolicyErrorKind::Invalid(format!("the pack has tiers but none are listed for {scheme}")));
            }
        }
    }

    let mut counties: Vec<RegionCode> = Vec::new();
    for text in header.counties.iter().flatten() {
        match (RegionCode::parse(text), region) {
            (Ok(county), Some(city)) if county.level() == RegionLevel::County && city.contains(county) => {
                if counties.contains(&county) {
                    loader.fail("pack.counties", PolicyErrorKind::Invalid(format!("county {county} is listed twice")));
                } else {
                    counties.push(county);
                }
            }
            (Ok(other), Some(city)) => {
                loader.fail("pack.counties", PolicyErrorKind::Invalid(format!("{other} is not a county or district of {city}")));
            }
            (Ok(_), None) => {}
            (Err(e), _) => loader.fail("pack.counties", PolicyErrorKind::Invalid(e.to_string())),
        }
    }
    if header.counties.as_ref().is_some_and(Vec::is_empty) {
        loader.fail("pack.counties", PolicyErrorKind::Invalid("a city lists at least one county or district".into()));
    }
    counties.sort();

    let mut sources: Vec<Source> = Vec::new();
    for (index, source) in raw.source.into_iter().enumerate() {
        let place = format!("source {} ({})", index + 1, source.id);
        if source.id.trim().is_empty() || source.id.contains(char::is_whitespace) || source.id.contains('§') {
            loader.fail(place, PolicyErrorKind::Invalid("a source id is one word without spaces or '§'".into()));
        } else if source.id.to_lowercase().starts_with("assumption") {
            loader.fail(place, PolicyErrorKind::Invalid("'assumption' is reserved for uncited values".into()));
        } else if sources.iter().any(|s| s.id == source.id) {
            loader.fail(place, PolicyErrorKind::Invalid(format!("source id '{}' is declared twice", source.id)));
        } else if source.title.trim().is_empty() {
            loader.fail(place, PolicyErrorKind::Invalid("a source needs a title".into()));
        } else {
            sources.push(Source { id: source.id, title: source.title });
        }
    }

    if raw.param.len() > PARAMS_LIMIT
        || raw.item.len() > ITEMS_LIMIT
        || raw.chronic_disease.len() > DISEASES_LIMIT
        || raw.single_disease.len() > DISEASES_LIMIT
        || raw.special_drug.len() > DISEASES_LIMIT
    {
        loader.fail(
            "file",
            PolicyErrorKind::Invalid(format!(
                "a pack holds at most {PARAMS_LIMIT} params, {ITEMS_LIMIT} items and {DISEASES_LIMIT} chronic diseases"
            )),
        );
        return None;
    }

    let mut entries: Vec<Vec<Entry>> = vec![Vec::new(); PARAMS.len()];
    for spanned in raw.param {
        let line = loader.line_of(spanned.span().start);
        let param = spanned.into_inner();
        if let Some((key, entry)) = parse_param(loader, &sources, region, line, param) {
            let list = &mut entries[key as usize];
            if let Some(twin) = list.iter().find(|e| e.selector == entry.selector) {
                let message = format!("{} ({}) is also defined at line {}", key.name(), entry.selector, twin.line);
                loader.fail(format!("line {line}"), PolicyErrorKind::Overlap(message));
            } else {
                list.push(entry);
            }
        }
    }

    let mut chronic_diseases: Vec<ChronicDisease> = Vec::new();
    for spanned in raw.chronic_disease {
        let line = loader.line_of(spanned.span().start);
        let raw_disease = spanned.into_inner();
        let place = format!("line {line}, chronic_disease {}", raw_disease.code);
        if !is_icd_prefix(&raw_disease.code) {
            loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("'{}' is not an ICD-10 code prefix", raw_disease.code)));
        }
        if chronic_diseases.iter().any(|d| d.code == raw_disease.code) {
            loader.fail(place.clone(), PolicyErrorKind::Overlap(format!("chronic disease {} is listed twice", raw_disease.code)));
        }
        if raw_disease.name_zh.trim().is_empty() || raw_disease.name_en.trim().is_empty() {
            loader.fail(place.clone(), PolicyErrorKind::Invalid("a chronic disease needs name_zh and name_en".into()));
        }
        let values = parse_series(loader, &sources, &place, ValueKind::Money, ParamKey::OutpatientAnnualLimit, raw_disease.annual_limit);
        if let Some(values) = values {
            chronic_diseases.push(ChronicDisease {
                code: raw_disease.code,
                name_zh: raw_disease.name_zh,
                name_en: raw_disease.name_en,
                annual_limit: values,
            });
        }
    }

    let mut single_diseases: Vec<SingleDisease> = Vec::new();
    for spanned in raw.single_disease {
        let line = loader.line_of(spanned.span().start);
        let raw_disease = spanned.into_inner();
        let place = format!("line {line}, single_disease {}", raw_disease.code);
        if !is_icd_prefix(&raw_disease.code) {
            loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("'{}' is not an ICD-10 code prefix", raw_disease.code)));
        }
        let level = match raw_disease.level.as_deref().map(|name| (name, InstitutionLevel::parse(name))) {
            None => None,
            Some((_, Some(level))) => Some(level),
            Some((name, None)) => {
                loader.fail(
                    place.clone(),
                    PolicyErrorKind::Invalid(format!("level '{name}' is not township, primary, secondary or tertiary")),
                );
                None
            }
        };
        if single_diseases.iter().any(|d| d.code == raw_disease.code && d.level == level) {
            loader.fail(
                place.clone(),
                PolicyErrorKind::Overlap(format!("single disease {} is listed twice for one level", raw_disease.code)),
            );
        }
        if raw_disease.name_zh.trim().is_empty() || raw_disease.name_en.trim().is_empty() {
            loader.fail(place.clone(), PolicyErrorKind::Invalid("a single disease needs name_zh and name_en".into()));
        }
        let values = parse_series(loader, &sources, &place, ValueKind::Money, ParamKey::SingleDiseaseRatio, raw_disease.price);
        if let Some(values) = values {
            single_diseases.push(SingleDisease {
                code: raw_disease.code,
                level,
                name_zh: raw_disease.name_zh,
                name_en: raw_disease.name_en,
                price: values,
            });
        }
    }

    let special_drugs = parse_special_drugs(loader, &sources, raw.special_drug);

    let mut catalogue: HashMap<ItemCode, CatalogueItem> = HashMap::new();
    for spanned in raw.item {
        let line = loader.line_of(spanned.span().start);
        let item = spanned.into_inner();
        if let Some(parsed) = parse_item(loader, line, item) {
            if let std::collections::hash_map::Entry::Vacant(e) = catalogue.entry(parsed.code) {
                e.insert(parsed);
            } else {
                loader.fail(format!("line {line}"), PolicyErrorKind::Overlap(format!("catalogue item {} is listed twice", parsed.code)));
            }
        }
    }

    let (region, effective_from) = (region?, effective_from?);
    let policy = Policy {
        id: header.id,
        version: None,
        name: header.name,
        region,
        effective_from,
        effective_until,
        rounding,
        service_date,
        resident_insutype,
        schemes,
        tiers,
        counties,
        sources,
        offered: Policy::families_given(&entries),
        entries,
        chronic_diseases,
        single_diseases,
        special_drugs,
        catalogue,
        national: std::sync::Arc::default(),
    };
    if loader.errors.is_empty() {
        check_coverage(loader, &policy);
        check_given_one_way(loader, &policy);
    }
    Some(policy)
}

/// Whether `code` may be an ICD-10 prefix a diagnosis is matched against: 1 to 16 letters,
/// digits and dots.
/// The `[[special_drug]]` list: national medicine codes, each with its indications and the
/// days it is listed; one code is never listed twice on a day.
fn parse_special_drugs(loader: &mut Loader<'_>, sources: &[Source], raw: Vec<toml::Spanned<RawSpecialDrug>>) -> Vec<SpecialDrug> {
    let mut drugs: Vec<SpecialDrug> = Vec::new();
    for spanned in raw {
        let line = loader.line_of(spanned.span().start);
        let raw_drug = spanned.into_inner();
        let place = format!("line {line}, special_drug {}", raw_drug.code);
        let errors_before = loader.errors.len();
        let code = match ItemCode::parse(&raw_drug.code) {
            Ok(code) if yibao_domain::ItemKind::of(&code) == Some(yibao_domain::ItemKind::Medicine) => Some(code),
            _ => {
                loader.fail(
                    place.clone(),
                    PolicyErrorKind::Invalid(format!(
                        "'{}' is not a national medicine code (X… or Z…, 20 or 23 characters)",
                        raw_drug.code
                    )),
                );
                None
            }
        };
        if raw_drug.name_zh.trim().is_empty() || raw_drug.name_en.trim().is_empty() {
            loader.fail(place.clone(), PolicyErrorKind::Invalid("a special drug needs name_zh and name_en".into()));
        }
        if raw_drug.diseases.is_empty() || raw_drug.diseases.len() > 64 {
            loader.fail(place.clone(), PolicyErrorKind::Invalid("a special drug lists 1 to 64 diseases it is paid for".into()));
        }
        for disease in &raw_drug.diseases {
            // As the register writes them (an upper-case letter first): a lower-case code
            // would never match anyone's diseases on file.
            if !is_icd_prefix(disease) || !disease.starts_with(|c: char| c.is_ascii_uppercase()) {
                loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("'{disease}' is not an ICD-10 code prefix")));
            }
        }
        if let Err(message) = check_cite(&raw_drug.cite, sources) {
            loader.fail(place.clone(), PolicyErrorKind::BadCitation(message));
        }
        let from = date_field(loader, &format!("{place}, from"), &raw_drug.from);
        let until = raw_drug.until.as_ref().and_then(|v| date_field(loader, &format!("{place}, until"), v));
        if let (Some(from), Some(until)) = (from, until)
            && until < from
        {
            loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("until {until} is before from {from}")));
        }
        let (Some(code), Some(from)) = (code, from) else { continue };
        if loader.errors.len() > errors_before {
            continue;
        }
        let overlapping =
            drugs.iter().find(|d| d.code == code && d.from <= until.unwrap_or(Date::MAX) && from <= d.until.unwrap_or(Date::MAX));
        if let Some(twin) = overlapping {
            loader.fail(
                place,
                PolicyErrorKind::Overlap(format!("special drug {code} is already listed from {} on some of these days", twin.from)),
            );
            continue;
        }
        drugs.push(SpecialDrug {
            code,
            name_zh: raw_drug.name_zh,
            name_en: raw_drug.name_en,
            indications: raw_drug.diseases,
            from,
            until,
            cite: raw_drug.cite,
        });
    }
    drugs
}

fn is_icd_prefix(code: &str) -> bool {
    !code.is_empty() && code.len() <= 16 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
}

fn date_field(loader: &mut Loader<'_>, place: &str, value: &toml::Value) -> Option<Date> {
    match date_of(value) {
        Ok(d) => Some(d),
        Err(message) => {
            loader.fail(place, PolicyErrorKind::BadValue(message));
            None
        }
    }
}

/// A TOML date (`2024-01-01`) or a string holding one.
fn date_of(value: &toml::Value) -> Result<Date, String> {
    match value {
        toml::Value::String(text) => parse_date(text).map_err(|_| format!("'{text}' is not a date (YYYY-MM-DD)")),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            let d = dt.date.ok_or_else(|| format!("{dt} is not a date"))?;
            let month = time::Month::try_from(d.month).map_err(|_| format!("{dt} is not a date"))?;
            Date::from_calendar_date(i32::from(d.year), month, d.day).map_err(|_| format!("{dt} is not a date"))
        }
        other => Err(format!("{other} is not a date (YYYY-MM-DD)")),
    }
}

fn parse_param(
    loader: &mut Loader<'_>,
    sources: &[Source],
    pack_region: Option<RegionCode>,
    line: usize,
    param: RawParam,
) -> Option<(ParamKey, Entry)> {
    let Some(key) = ParamKey::parse(&param.key) else {
        loader.fail(format!("line {line}"), PolicyErrorKind::UnknownKey(param.key));
        return None;
    };
    let spec = key.spec();
    let errors_before = loader.errors.len();
    let mut selector = Selector::default();
    let mut ok = true;
    let mut allow = |loader: &mut Loader<'_>, dim: Dim, present: bool| -> bool {
        if present && !spec.dims.contains(&dim) {
            loader.fail(
                format!("line {line}, param {}", spec.name),
                PolicyErrorKind::DimensionNotAllowed { key: spec.name.to_owned(), dim: dim.name() },
            );
            ok = false;
            return false;
        }
        present
    };
    let place = format!("line {line}, param {}", spec.name);
    if allow(loader, Dim::Region, param.region.is_some()) {
        let text = param.region.as_deref().unwrap_or_default();
        match RegionCode::parse(text) {
            Ok(r) if pack_region.is_some_and(|p| p.contains(r) && p != r) => selector.region = Some(r),
            Ok(r) if pack_region == Some(r) => {
                loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("region {r} is the pack's own region: leave region out")));
            }
            Ok(r) => loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("region {r} is not a county of the pack's region"))),
            Err(e) => loader.fail(place.clone(), PolicyErrorKind::Invalid(e.to_string())),
        }
    }
    if allow(loader, Dim::Scheme, param.scheme.is_some()) {
        let text = param.scheme.as_deref().unwrap_or_default();
        match Scheme::parse(text).filter(|s| s.is_basic()) {
            Some(s) => selector.scheme = Some(s),
            None => loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("scheme '{text}' is not employee or resident"))),
        }
    }
    if allow(loader, Dim::Tier, param.tier.is_some()) {
        match Tier::new(param.tier.unwrap_or_default()) {
            Ok(t) => selector.tier = Some(t),
            Err(e) => loader.fail(place.clone(), PolicyErrorKind::Invalid(e.to_string())),
        }
    }
    if allow(loader, Dim::Level, param.level.is_some()) {
        let text = param.level.as_deref().unwrap_or_default();
        match InstitutionLevel::parse(text) {
            Some(l) => selector.level = Some(l),
            None => {
                loader.fail(
                    place.clone(),
                    PolicyErrorKind::Invalid(format!("level '{text}' is not township, primary, secondary or tertiary")),
                );
            }
        }
    }
    if allow(loader, Dim::Category, param.category.is_some()) {
        let text = param.category.as_deref().unwrap_or_default();
        match PersonCategory::parse(text) {
            Some(c) => selector.category = Some(c),
            None => loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("category '{text}' is not employed, retired or resident"))),
        }
    }
    if allow(loader, Dim::Group, param.group.is_some()) {
        let text = param.group.as_deref().unwrap_or_default();
        match AssistanceGroup::parse(text) {
            Some(g) => selector.group = Some(g),
            None => loader.fail(
                place.clone(),
                PolicyErrorKind::Invalid(format!(
                    "group '{text}' is not destitute, dibao, low-income, impoverished-by-illness or registered-poor"
                )),
            ),
        }
    }
    if allow(loader, Dim::Place, param.place.is_some()) {
        let text = param.place.as_deref().unwrap_or_default();
        match Place::parse(text).filter(|p| p.is_out_of_area()) {
            Some(p) => selector.place = Some(p),
            None => loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("place '{text}' is not in-province or cross-province"))),
        }
    }
    if allow(loader, Dim::Referral, param.referred.is_some()) {
        selector.referred = param.referred;
    }
    if key == ParamKey::InpatientRatioBonus && selector.group.is_none() {
        loader.fail(place.clone(), PolicyErrorKind::Invalid("inpatient.ratio_bonus raises one group's ratio: name its group".to_owned()));
    }
    let place = format!("line {line}, param {} ({selector})", spec.name);
    let values = parse_series(loader, sources, &place, spec.kind, key, param.values)?;
    // An entry whose selector had an error is dropped, so that it cannot also be reported
    // as overlapping the entry it would have become without that dimension.
    let selector_ok = ok && loader.errors.len() == errors_before;
    selector_ok.then_some((key, Entry { selector, values, line }))
}

/// A series of dated values: ordered, no overlap, no gap, each cited and typed.
fn parse_series(
    loader: &mut Loader<'_>,
    sources: &[Source],
    place: &str,
    kind: ValueKind,
    key: ParamKey,
    raw: Vec<RawValue>,
) -> Option<Vec<Dated>> {
    if raw.is_empty() {
        loader.fail(place, PolicyErrorKind::Missing("a parameter needs at least one value".into()));
        return None;
    }
    if raw.len() > VALUES_PER_PARAM_LIMIT {
        loader.fail(place, PolicyErrorKind::Invalid(format!("at most {VALUES_PER_PARAM_LIMIT} values per parameter")));
        return None;
    }
    let errors_before = loader.errors.len();
    let mut values: Vec<Dated> = Vec::with_capacity(raw.len());
    for (index, item) in raw.into_iter().enumerate() {
        let place = format!("{place}, value {}", index + 1);
        let from = date_of(&item.from).map_err(|m| loader.fail(place.clone(), PolicyErrorKind::BadValue(format!("from: {m}")))).ok();
        let until = match &item.until {
            None => Some(None),
            Some(v) => date_of(v).map(Some).map_err(|m| loader.fail(place.clone(), PolicyErrorKind::BadValue(format!("until: {m}")))).ok(),
        };
        if let Err(message) = check_cite(&item.cite, sources) {
            loader.fail(place.clone(), PolicyErrorKind::BadCitation(message));
        }
        let value = match parse_value(kind, key, &item.value) {
            Ok(v) => Some(v),
            Err(kind) => {
                loader.fail(place.clone(), kind);
                None
            }
        };
        let (Some(from), Some(until), Some(value)) = (from, until, value) else { continue };
        if let Some(until) = until
            && until < from
        {
            loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("until {until} is before from {from}")));
            continue;
        }
        if let Some(previous) = values.last() {
            let previous_end = previous.until;
            if from <= previous.from || previous_end.is_some_and(|end| from <= end) {
                let message = format!(
                    "the value from {from} overlaps the previous value (from {}{})",
                    previous.from,
                    previous_end.map(|e| format!(" until {e}")).unwrap_or_default()
                );
                loader.fail(place.clone(), PolicyErrorKind::Overlap(message));
                continue;
            }
            if let Some(end) = previous_end
                && end.next_day() != Some(from)
            {
                loader.fail(
                    place.clone(),
                    PolicyErrorKind::Gap(format!(
                        "no value between {} and {}",
                        end.next_day().unwrap_or(end),
                        from.previous_day().unwrap_or(from)
                    )),
                );
                continue;
            }
        }
        values.push(Dated { from, until, value, cite: item.cite.trim().to_owned() });
    }
    (loader.errors.len() == errors_before).then_some(values)
}

/// Whether `cite` names a declared source (its first word) or is an `assumption: <reason>`:
/// the one citation rule of every pack, the policy pack's and the payment pack's.
pub fn check_cite(cite: &str, sources: &[Source]) -> Result<(), String> {
    let cite = cite.trim();
    if let Some(reason) = cite.strip_prefix("assumption:") {
        return if reason.trim().chars().count() >= 3 { Ok(()) } else { Err("an assumption must say why: 'assumption: <reason>'".into()) };
    }
    let first = cite.split(|c: char| c.is_whitespace() || matches!(c, '§' | ':' | ',' | '：' | '，')).next().unwrap_or_default();
    if !first.is_empty() && sources.iter().any(|s| s.id == first) {
        return Ok(());
    }
    let declared: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
    Err(format!(
        "citation '{cite}' names no declared source (declared: {}) and is not an 'assumption: <reason>'",
        if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
    ))
}

fn parse_money(value: &toml::Value) -> Result<Fen, PolicyErrorKind> {
    let fen = match value {
        toml::Value::Integer(yuan) => {
            if yuan.unsigned_abs() > PARAM_MONEY_LIMIT_YUAN.unsigned_abs() {
                return Err(PolicyErrorKind::BadValue(format!(
                    "{yuan} yuan is beyond the largest parameter ({PARAM_MONEY_LIMIT_YUAN} yuan)"
                )));
            }
            Fen::yuan(*yuan)
        }
        toml::Value::String(text) => Fen::parse_yuan(text).map_err(|e| PolicyErrorKind::BadValue(e.to_string()))?,
        toml::Value::Float(f) => {
            return Err(PolicyErrorKind::BadValue(format!("{f}: write money as an integer or a string such as \"12.50\", never a float")));
        }
        other => return Err(PolicyErrorKind::BadValue(format!("{other} is not {}", ValueKind::Money.describe()))),
    };
    if fen.is_negative() {
        return Err(PolicyErrorKind::NegativeMoney(value.to_string()));
    }
    if fen > Fen::yuan(PARAM_MONEY_LIMIT_YUAN) {
        return Err(PolicyErrorKind::BadValue(format!("{value} yuan is beyond the largest parameter ({PARAM_MONEY_LIMIT_YUAN} yuan)")));
    }
    Ok(fen)
}

fn parse_ratio(value: &toml::Value) -> Result<RatioBp, PolicyErrorKind> {
    match value {
        toml::Value::String(text) => {
            if text.trim_start().starts_with('-') {
                return Err(PolicyErrorKind::BadValue(format!("'{text}': a ratio may not be negative")));
            }
            RatioBp::parse_percent(text).map_err(|e| match e {
                yibao_domain::MoneyError::RatioOver100(t) => PolicyErrorKind::RatioOver100(t),
                // "1000%" is well formed but too large for the ratio parser's three digits.
                _ if parse_multiple(value).is_ok() => PolicyErrorKind::RatioOver100(text.clone()),
                other => PolicyErrorKind::BadValue(other.to_string()),
            })
        }
        other => Err(PolicyErrorKind::BadValue(format!("{other}: write a ratio as a percentage string such as \"85%\""))),
    }
}

/// A percentage that may exceed 100% (at most 1000%), in basis points.
fn parse_multiple(value: &toml::Value) -> Result<u32, PolicyErrorKind> {
    let toml::Value::String(text) = value else {
        return Err(PolicyErrorKind::BadValue(format!("{value}: write a multiple as a percentage string such as \"300%\"")));
    };
    let bad = || PolicyErrorKind::BadValue(format!("'{text}' is not a percentage such as \"300%\""));
    let number = text.trim().strip_suffix('%').ok_or_else(bad)?;
    // Reuse the exact decimal parser: n% = (n/10)% × 10, which stays ≤ 100% for n ≤ 1000.
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || whole.len() > 4
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let bp = whole.parse::<u32>().map_err(|_| bad())? * 100 + format!("{frac:0<2}").parse::<u32>().map_err(|_| bad())?;
    if bp > 100_000 {
        return Err(PolicyErrorKind::BadValue(format!("'{text}' is above 1000%")));
    }
    Ok(bp)
}

fn parse_count(value: &toml::Value, what: &str, range: std::ops::RangeInclusive<i64>) -> Result<u32, PolicyErrorKind> {
    match value {
        toml::Value::Integer(n) if range.contains(n) => Ok(u32::try_from(*n).expect("in range")),
        toml::Value::Integer(n) => Err(PolicyErrorKind::BadValue(format!("{n} {what} is outside {}–{}", range.start(), range.end()))),
        other => Err(PolicyErrorKind::BadValue(format!("{other} is not a whole number of {what}"))),
    }
}

fn parse_bands(value: &toml::Value) -> Result<Bands, PolicyErrorKind> {
    let toml::Value::Array(list) = value else {
        return Err(PolicyErrorKind::BadValue(format!("{value} is not {}", ValueKind::Bands.describe())));
    };
    let mut bands = Vec::with_capacity(list.len());
    for element in list {
        let toml::Value::Table(table) = element else {
            return Err(PolicyErrorKind::BadValue(format!("{element} is not a band {{ above = yuan, ratio = \"x%\" }}")));
        };
        if let Some(unknown) = table.keys().find(|k| *k != "above" && *k != "ratio") {
            return Err(PolicyErrorKind::BadValue(format!("a band has only 'above' and 'ratio', not '{unknown}'")));
        }
        let above = parse_money(table.get("above").ok_or_else(|| PolicyErrorKind::BadValue("a band needs 'above'".into()))?)?;
        let ratio = parse_ratio(table.get("ratio").ok_or_else(|| PolicyErrorKind::BadValue("a band needs 'ratio'".into()))?)?;
        bands.push(Band { above, ratio });
    }
    Bands::new(&bands).map_err(PolicyErrorKind::BadValue)
}

fn parse_value(kind: ValueKind, key: ParamKey, value: &toml::Value) -> Result<Value, PolicyErrorKind> {
    Ok(match kind {
        ValueKind::Money => Value::Money(parse_money(value)?),
        ValueKind::Ratio | ValueKind::Points => Value::Ratio(parse_ratio(value)?),
        ValueKind::Multiple => Value::Multiple(parse_multiple(value)?),
        // R-ENR-4: the waiting period after moving up a tier is 6 to 12 months.
        ValueKind::Months if key == ParamKey::TierUpgradeWaitingMonths => Value::Count(parse_count(value, "months", 6..=12)?),
        // R-FIN-1: a minimum of contribution years for retirement is at most a working life.
        ValueKind::Months if matches!(key, ParamKey::EmployeeMinContributionMonthsMale | ParamKey::EmployeeMinContributionMonthsFemale) => {
            Value::Count(parse_count(value, "months", 0..=720)?)
        }
        // R-FIN-4: old debts may be repaid over up to five years.
        ValueKind::Months if key == ParamKey::ArrearsInstalmentsMax => Value::Count(parse_count(value, "months", 1..=60)?),
        ValueKind::Months => Value::Count(parse_count(value, "months", 0..=120)?),
        ValueKind::Days if key == ParamKey::EmployeePaymentDueDay => Value::Count(parse_count(value, "day of the month", 1..=31)?),
        ValueKind::Days => Value::Count(parse_count(value, "days", 0..=366)?),
        ValueKind::Flag => match value {
            toml::Value::Boolean(b) => Value::Flag(*b),
            other => return Err(PolicyErrorKind::BadValue(format!("{other} is not true or false"))),
        },
        ValueKind::Bands => Value::Bands(parse_bands(value)?),
        ValueKind::RatioOrBands => match value {
            toml::Value::Array(_) => Value::Bands(parse_bands(value)?),
            _ => Value::Bands(Bands::flat(parse_ratio(value)?)),
        },
    })
}

fn parse_item(loader: &mut Loader<'_>, line: usize, item: RawItem) -> Option<CatalogueItem> {
    let place = format!("line {line}, item {}", item.code);
    let errors_before = loader.errors.len();
    let code = ItemCode::parse(&item.code).map_err(|e| loader.fail(place.clone(), PolicyErrorKind::Invalid(e.to_string()))).ok();
    let class = match item.class.as_str() {
        "A" => Some(CatalogueClass::A),
        "B" => Some(CatalogueClass::B),
        "C" => Some(CatalogueClass::C),
        other => {
            loader.fail(place.clone(), PolicyErrorKind::Invalid(format!("class '{other}' is not A, B or C")));
            None
        }
    };
    if item.name.trim().is_empty() {
        loader.fail(place.clone(), PolicyErrorKind::Invalid("an item needs a name".into()));
    }
    let mut price_cap = [None; 4];
    match &item.price_cap {
        None => {}
        Some(toml::Value::Table(table)) => {
            for (name, value) in table {
                match InstitutionLevel::parse(name) {
                    Some(level) => match parse_money(value) {
                        Ok(fen) => price_cap[level as usize] = Some(fen),
                        Err(kind) => loader.fail(place.clone(), kind),
                    },
                    None => loader.fail(
                        place.clone(),
                        PolicyErrorKind::Invalid(format!("price_cap level '{name}' is not township, primary, secondary or tertiary")),
                    ),
                }
            }
        }
        Some(value) => match parse_money(value) {
            Ok(fen) => price_cap = [Some(fen); 4],
            Err(kind) => loader.fail(place.clone(), kind),
        },
    }
    let selfpay_share = match &item.selfpay_share {
        None => None,
        Some(_) if class != Some(CatalogueClass::B) => {
            loader.fail(place.clone(), PolicyErrorKind::Invalid("selfpay_share applies to class B items only".into()));
            None
        }
        Some(text) => parse_ratio(&toml::Value::String(text.clone())).map_err(|kind| loader.fail(place.clone(), kind)).ok(),
    };
    if item.negotiated && price_cap.iter().all(Option::is_none) {
        loader.fail(
            place.clone(),
            PolicyErrorKind::Invalid("a negotiated item (谈判药品) carries its negotiated price as its price_cap".into()),
        );
    }
    if loader.errors.len() != errors_before {
        return None;
    }
    Some(CatalogueItem {
        code: code?,
        name: item.name,
        class: class?,
        restricted: item.restricted,
        price_cap,
        selfpay_share,
        negotiated: item.negotiated,
    })
}

/// Every combination a claim could present must resolve each required key over the
/// pack's whole period, and no combination may match two entries equally well.
fn check_coverage(loader: &mut Loader<'_>, policy: &Policy) {
    // Regions: the city and every county some entry names.
    let mut regions: BTreeSet<RegionCode> = BTreeSet::from([policy.region]);
    for list in &policy.entries {
        regions.extend(list.iter().filter_map(|e| e.selector.region));
    }
    let basic: Vec<Option<Scheme>> = {
        let list: Vec<Option<Scheme>> = policy.schemes.iter().copied().filter(|s| s.is_basic()).map(Some).collect();
        if list.is_empty() { vec![None] } else { list }
    };
    let groups: Vec<Option<AssistanceGroup>> = std::iter::once(None).chain(AssistanceGroup::ALL.into_iter().map(Some)).collect();

    for spec in PARAMS {
        let entries = policy.entries(spec.key);
        let required = required_in(spec, policy);
        if entries.is_empty() && !required {
            continue;
        }
        let wants_basic: Vec<Scheme> = spec.required_when.iter().copied().filter(|s| s.is_basic()).collect();
        let uses = |dim: Dim| spec.dims.contains(&dim);
        // The out-of-area keys are looked up for each place out of the area, referred or not.
        let places: Vec<(Option<Place>, Option<bool>)> = if uses(Dim::Place) || uses(Dim::Referral) {
            Place::OUT_OF_AREA.into_iter().flat_map(|p| [(Some(p), Some(true)), (Some(p), Some(false))]).collect()
        } else {
            vec![(None, None)]
        };
        let mut seen: HashSet<Selector> = HashSet::new();
        let mut missing: Vec<String> = Vec::new();
        let mut overlaps: BTreeSet<String> = BTreeSet::new();
        for &region in &regions {
            for &scheme in &basic {
                // A key required for one basic scheme is not required in the other's contexts.
                let required_here = required
                    && (wants_basic.is_empty() || scheme.is_some_and(|s| wants_basic.contains(&s)))
                    && (!spec.requires_tiers || scheme.is_some_and(|s| !policy.tiers_for(s).is_empty()))
                    && offered_here(spec, policy, scheme);
                let tiers: Vec<Option<Tier>> = match scheme {
                    Some(s) if !policy.tiers_for(s).is_empty() => policy.tiers_for(s).iter().copied().map(Some).collect(),
                    _ => vec![None],
                };
                let categories: Vec<Option<PersonCategory>> = match scheme {
                    Some(Scheme::Employee) => vec![Some(PersonCategory::Employed), Some(PersonCategory::Retired)],
                    Some(_) => vec![Some(PersonCategory::Resident)],
                    None => vec![None],
                };
                for &tier in &tiers {
                    for &category in &categories {
                        for level in InstitutionLevel::ALL {
                            for &group in &groups {
                                for &(place, referred) in &places {
                                    let query = Selector {
                                        region: uses(Dim::Region).then_some(region),
                                        scheme: if uses(Dim::Scheme) { scheme } else { None },
                                        tier: if uses(Dim::Tier) { tier } else { None },
                                        level: uses(Dim::Level).then_some(level),
                                        category: if uses(Dim::Category) { category } else { None },
                                        group: if uses(Dim::Group) { group } else { None },
                                        place,
                                        referred,
                                    };
                                    // A key only looked up for a person in a group (medical
                                    // assistance, the poor's terms) needs no value for the rest;
                                    // a basic benefit that may vary by group needs one for all.
                                    let group_only = uses(Dim::Group) && wants_basic.is_empty();
                                    let required_here = required_here && !(group_only && group.is_none());
                                    if !seen.insert(query) && !required_here {
                                        continue;
                                    }
                                    check_one(policy, spec.key, &query, required_here, &mut missing, &mut overlaps);
                                }
                            }
                        }
                    }
                }
            }
        }
        for message in overlaps {
            loader.fail(format!("param {}", spec.name), PolicyErrorKind::Overlap(message));
        }
        missing.sort();
        missing.dedup();
        let total = missing.len();
        for message in missing.into_iter().take(MISSING_REPORTED_PER_KEY) {
            loader.fail(format!("param {}", spec.name), PolicyErrorKind::Missing(message));
        }
        if total > MISSING_REPORTED_PER_KEY {
            loader.fail(
                format!("param {}", spec.name),
                PolicyErrorKind::Missing(format!("… and {} more combinations without a value", total - MISSING_REPORTED_PER_KEY)),
            );
        }
    }

    if !policy.chronic_diseases.is_empty() && !policy.offers(Family::Chronic) {
        loader.fail(
            "chronic_disease",
            PolicyErrorKind::Missing(
                "the pack lists chronic diseases but gives no chronic.* parameters (chronic.deductible, chronic.ratio)".to_owned(),
            ),
        );
    }
    for disease in &policy.chronic_diseases {
        check_period(policy, &disease.annual_limit, &format!("chronic disease {} annual_limit", disease.code), &mut |m| {
            loader.fail(format!("chronic_disease {}", disease.code), PolicyErrorKind::Missing(m));
        });
    }
    // The fixed prices and the fund's share of them come together, or not at all.
    match (policy.single_diseases.is_empty(), policy.offers(Family::SingleDisease)) {
        (false, false) => loader.fail(
            "single_disease",
            PolicyErrorKind::Missing("the pack lists single diseases but gives no single_disease.ratio".to_owned()),
        ),
        (true, true) => loader.fail(
            "param single_disease.ratio",
            PolicyErrorKind::Missing("the pack gives single_disease.ratio but lists no [[single_disease]] with its price".to_owned()),
        ),
        _ => {}
    }
    for disease in &policy.single_diseases {
        check_period(policy, &disease.price, &format!("single disease {} price", disease.code), &mut |m| {
            loader.fail(format!("single_disease {}", disease.code), PolicyErrorKind::Missing(m));
        });
    }
    check_single_diseases_unambiguous(loader, policy);
    // The special drugs and their terms come together, or not at all.
    match (policy.special_drugs.is_empty(), policy.offers(Family::SpecialDrug)) {
        (false, false) => loader.fail(
            "special_drug",
            PolicyErrorKind::Missing(
                "the pack lists special drugs but gives no special_drug.* terms (special_drug.deductible, special_drug.ratio)".to_owned(),
            ),
        ),
        (true, true) => loader.fail(
            "param special_drug",
            PolicyErrorKind::Missing("the pack gives special_drug.* terms but lists no [[special_drug]]".to_owned()),
        ),
        _ => {}
    }
}

/// A stay matches one fixed price, never two by different rules: where a level has a price
/// of its own for a disease (`K35` at tertiary) and a longer code has a price only for
/// every level (`K35.9`), a tertiary `K35.9` stay could take either (the longer code, or
/// the level's own price), so the pack must say which by pricing the longer code at that
/// level too.
fn check_single_diseases_unambiguous(loader: &mut Loader<'_>, policy: &Policy) {
    let diseases = &policy.single_diseases;
    for short in diseases {
        let Some(level) = short.level else { continue };
        for long in diseases.iter().filter(|d| d.code.len() > short.code.len() && d.code.starts_with(short.code.as_str())) {
            let long_reaches_level = long.level.is_none() || long.level == level.fallback();
            let long_priced_at_level = diseases.iter().any(|d| d.code == long.code && d.level == Some(level));
            if long_reaches_level && !long_priced_at_level {
                loader.fail(
                    format!("single_disease {}", long.code),
                    PolicyErrorKind::Overlap(format!(
                        "a {level} stay of {} matches {} at {level} and {} for {}: price {} at {level} too",
                        long.code,
                        short.code,
                        long.code,
                        long.level.map_or_else(|| "every level".to_owned(), |l| l.as_str().to_owned()),
                        long.code,
                        level = level.as_str()
                    )),
                );
            }
        }
    }
}

/// Whether the pack must resolve `spec` for every combination: its scheme is in the pack
/// (or the pack has tiers, for a tier key); for a key of a benefit family, the pack offers
/// the family; and no family the pack offers replaces the key (the points-off out-of-area
/// reductions, the four fixed subsidies: `Family::replaces`).
fn required_in(spec: &ParamSpec, policy: &Policy) -> bool {
    let by_scheme = spec.required_when.iter().any(|s| policy.has_scheme(*s)) || (spec.requires_tiers && policy.has_tiers());
    let by_family = spec.family.is_none_or(|family| policy.offers(family));
    let replaced = [Scheme::Employee, Scheme::Resident]
        .into_iter()
        .filter(|s| policy.has_scheme(*s))
        .all(|s| Family::ALL.iter().any(|family| policy.offers_to(*family, s) && family.replaces().contains(&spec.key)));
    let replaced = replaced && policy.schemes.iter().any(|s| s.is_basic());
    by_scheme && by_family && !replaced
}

/// Whether the pack must resolve `spec` for a basic scheme's insured (`None`: a pack with
/// no basic scheme): a family key only where the family is offered to that scheme, and no
/// key that a family offered to it replaces (issue 13: families per scheme).
fn offered_here(spec: &ParamSpec, policy: &Policy, scheme: Option<Scheme>) -> bool {
    let offered = |family: Family| scheme.map_or_else(|| policy.offers(family), |s| policy.offers_to(family, s));
    spec.family.is_none_or(offered) && !Family::ALL.iter().any(|family| offered(*family) && family.replaces().contains(&spec.key))
}

/// A pack gives each rule one way: a family it offers and the keys the family replaces are
/// not both given (`Family::replaces`). The subsidy shares may not add up to more than 100%
/// on any day (the county bears the rest).
fn check_given_one_way(loader: &mut Loader<'_>, policy: &Policy) {
    for family in Family::ALL {
        // Per scheme: a city may give its employees flat out-of-area terms and its residents
        // points off; never both ways to the same insured.
        let both = [Scheme::Employee, Scheme::Resident].into_iter().any(|scheme| {
            policy.offers_to(family, scheme)
                && family.replaces().iter().any(|key| policy.entries(*key).iter().any(|e| e.selector.scheme.is_none_or(|s| s == scheme)))
        });
        if both {
            loader.fail(format!("param {}", family.name()), PolicyErrorKind::Invalid(family.one_way().to_owned()));
        }
    }
    if !policy.offers(Family::SubsidyShares) {
        return;
    }
    let shares = [ParamKey::ResidentSubsidyShareCentral, ParamKey::ResidentSubsidyShareProvincial, ParamKey::ResidentSubsidyShareCity];
    let mut regions: BTreeSet<Option<RegionCode>> = BTreeSet::from([Some(policy.region)]);
    let mut days: BTreeSet<Date> = BTreeSet::from([policy.effective_from]);
    for key in shares {
        for entry in policy.entries(key) {
            regions.insert(entry.selector.region);
            days.extend(entry.values.iter().map(|v| v.from));
        }
    }
    for region in regions.into_iter().flatten() {
        let query = Selector { region: Some(region), ..Selector::default() };
        for &day in &days {
            let total_bp: u32 = shares
                .iter()
                .filter_map(|key| policy.lookup(*key, &query, day).ok())
                .map(|found| if let Value::Ratio(r) = found.value { r.get() } else { 0 })
                .sum();
            if total_bp > 10_000 {
                loader.fail(
                    "param resident.subsidy.share",
                    PolicyErrorKind::Invalid(format!(
                        "the central, provincial and city shares of the subsidy add up to {}.{:02}% for region {region} on {day}: more than 100%",
                        total_bp / 100,
                        total_bp % 100
                    )),
                );
            }
        }
    }
}

fn check_one(policy: &Policy, key: ParamKey, query: &Selector, required: bool, missing: &mut Vec<String>, overlaps: &mut BTreeSet<String>) {
    let matching: Vec<&Entry> = policy.entries(key).iter().filter(|e| matches(&e.selector, query)).collect();
    let Some(best_rank) = matching.iter().map(|e| specificity(&e.selector, query)).max() else {
        if required {
            missing.push(format!("no entry of {} covers {query}", key.name()));
        }
        return;
    };
    let best: Vec<&&Entry> = matching.iter().filter(|e| specificity(&e.selector, query) == best_rank).collect();
    if best.len() > 1 {
        let lines: Vec<String> = best.iter().map(|e| format!("line {} ({})", e.line, e.selector)).collect();
        overlaps.insert(format!(
            "{} for {query} matches equally specific entries at {}: add an entry naming more dimensions, or drop one",
            key.name(),
            lines.join(" and ")
        ));
        return;
    }
    if required {
        check_period(policy, &best[0].values, &format!("{} ({}) at line {}", key.name(), best[0].selector, best[0].line), &mut |m| {
            missing.push(m)
        });
    }
}

/// A required series must cover the pack's whole period.
fn check_period(policy: &Policy, values: &[Dated], what: &str, report: &mut dyn FnMut(String)) {
    let Some(first) = values.first() else { return };
    if first.from > policy.effective_from {
        report(format!("{what} starts on {}, after the pack's effective_from {}", first.from, policy.effective_from));
    }
    if let Some(last) = values.last()
        && let Some(until) = last.until
        && policy.effective_until.is_none_or(|end| until < end)
    {
        report(format!("{what} ends on {until}, before the pack does"));
    }
    debug_assert!(value_on(values, first.from).is_ok());
}
