//! Policy packs: every parameter of a city's insurance rules as a series of dated, cited
//! values, selected by region, scheme, tier, institution level, person category and
//! assistance group (R-BEN-7: a claim is settled under the values in force on its date of
//! service; R-GEO-3: several policies inside one city).
//!
//! The crate does no I/O: [`Policy::from_toml`] takes the text and a label for messages.
//! The format is documented for pack authors in `docs/policy-packs.md`.

mod catalogue;
mod diff;
mod keys;
mod load;
mod lookup;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use time::Date;
use yibao_domain::{AssistanceGroup, Fen, InstitutionLevel, ItemCode, PersonCategory, Place, RatioBp, RegionCode, Rounding, Scheme, Tier};

pub use catalogue::{CITE_CHARS_MAX, Catalogue, CatalogueProblem, CatalogueVersion, Merge, MergeCounts, VERSIONS_PER_ITEM_MAX, VersionKey};
pub use diff::{Change, ChangeKind, diff};
pub use keys::{Dim, Family, PARAMS, ParamKey, ParamSpec, ValueKind};
pub use load::{PolicyError, PolicyErrorKind, PolicyErrors, check_cite};
pub use lookup::{Found, LookupError, LookupFailure, Query};
pub use value::{BANDS_MAX, Band, Bands, Value};

/// Which day of a stay is its date of service: it fixes the policy in force and the year
/// whose accumulators the claim counts against (the New Year rule the SPEC asks for).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceDateRule {
    #[default]
    Admission,
    Discharge,
}

/// A document that citations may name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub id: String,
    pub title: String,
}

/// One dated value and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dated {
    pub from: Date,
    pub until: Option<Date>,
    pub value: Value,
    pub cite: String,
}

/// Which combinations an entry applies to; `None` means any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    pub region: Option<RegionCode>,
    pub scheme: Option<Scheme>,
    pub tier: Option<Tier>,
    pub level: Option<InstitutionLevel>,
    pub category: Option<PersonCategory>,
    pub group: Option<AssistanceGroup>,
    /// Only out of the area: in the province or in another.
    pub place: Option<Place>,
    /// Only out of the area: referred (or an emergency) or not.
    pub referred: Option<bool>,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(r) = self.region {
            parts.push(format!("region={r}"));
        }
        if let Some(s) = self.scheme {
            parts.push(format!("scheme={s}"));
        }
        if let Some(t) = self.tier {
            parts.push(format!("tier={t}"));
        }
        if let Some(l) = self.level {
            parts.push(format!("level={}", l.as_str()));
        }
        if let Some(c) = self.category {
            parts.push(format!("category={}", c.as_str()));
        }
        if let Some(g) = self.group {
            parts.push(format!("group={}", g.as_str()));
        }
        if let Some(p) = self.place {
            parts.push(format!("place={}", p.as_str()));
        }
        if let Some(r) = self.referred {
            parts.push(format!("referred={r}"));
        }
        if parts.is_empty() { f.write_str("all") } else { f.write_str(&parts.join(", ")) }
    }
}

/// One `[[param]]` of a pack.
#[derive(Clone, Debug)]
pub struct Entry {
    pub selector: Selector,
    pub values: Vec<Dated>,
    /// 1-based line of the entry in its file, for messages.
    pub line: usize,
}

/// A catalogue item (R-BEN-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueItem {
    pub code: ItemCode,
    pub name: String,
    pub class: yibao_domain::CatalogueClass,
    /// Wholly self-paid unless the claim line says the hospital approved it (限制使用).
    pub restricted: bool,
    /// Price caps by institution level (primary, secondary, tertiary, township: the
    /// `InstitutionLevel` order).
    pub price_cap: [Option<Fen>; 4],
    /// Class B only: this item's own first-paid share, overriding `catalogue.class_b_share`.
    pub selfpay_share: Option<RatioBp>,
    /// 谈判药品 (R-PAY-2): its price was set by national negotiation (the national
    /// `hi_nego_drug_flag`); its price cap is the negotiated price, the fund's payment
    /// standard, dated like every version.
    pub negotiated: bool,
}

impl CatalogueItem {
    #[must_use]
    pub fn price_cap_at(&self, level: InstitutionLevel) -> Option<Fen> {
        self.price_cap[level as usize].or_else(|| level.fallback().and_then(|primary| self.price_cap[primary as usize]))
    }
}

/// An item as a claim reads it: its terms, and the catalogue version they come from
/// (`None`: the pack's own `[[item]]`).
#[derive(Clone, Copy, Debug)]
pub struct FoundItem<'a> {
    pub item: &'a CatalogueItem,
    pub version: Option<&'a CatalogueVersion>,
}

impl FoundItem<'_> {
    /// Where the item's terms are published, for a settlement's explanation: the pack's
    /// `[[item]]`, or the catalogue version's citation with the item and its first day.
    #[must_use]
    pub fn cite(&self) -> String {
        match self.version {
            None => format!("[[item]] {}", self.item.code),
            Some(version) => format!("{} ({} from {})", version.cite, self.item.code, version.from),
        }
    }
}

/// A certified chronic or special outpatient disease (门诊慢特病).
#[derive(Clone, Debug)]
pub struct ChronicDisease {
    /// ICD-10 prefix matched against a claim's diagnosis.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub annual_limit: Vec<Dated>,
}

impl ChronicDisease {
    /// The annual limit in force on `date`, with its citation (none: no limit set then).
    #[must_use]
    pub fn annual_limit_on(&self, date: Date) -> Option<(Fen, &str)> {
        money_on(&self.annual_limit, date)
    }
}

/// The amount of a dated series (sorted by `from`) in force on `date`, with its citation.
fn money_on(series: &[Dated], date: Date) -> Option<(Fen, &str)> {
    let index = series.partition_point(|v| v.from <= date);
    let dated = series.get(index.checked_sub(1)?)?;
    if dated.until.is_some_and(|u| u < date) {
        return None;
    }
    match dated.value {
        Value::Money(fen) => Some((fen, dated.cite.as_str())),
        _ => None,
    }
}

/// A disease the pack pays at a fixed price (单病种, R-BEN-2): a claim of kind
/// `single-disease` whose main diagnosis it matches is settled on the price in force, not on
/// the bill's deductible and ratio.
#[derive(Clone, Debug)]
pub struct SingleDisease {
    /// ICD-10 prefix matched against the claim's main diagnosis.
    pub code: String,
    /// The institution level the price is for; `None`: every level without a price of its own.
    pub level: Option<InstitutionLevel>,
    pub name_zh: String,
    pub name_en: String,
    pub price: Vec<Dated>,
}

impl SingleDisease {
    /// The fixed price in force on `date`, with its citation (none: no price then).
    #[must_use]
    pub fn price_on(&self, date: Date) -> Option<(Fen, &str)> {
        money_on(&self.price, date)
    }
}

/// A special drug (特药, R-BEN-1) the pack pays under its own terms (`special_drug.*`):
/// a costly medicine listed by the city for some diseases, dispensed by a hospital or a
/// designated pharmacy (双通道) to a person on file for one of them.
#[derive(Clone, Debug)]
pub struct SpecialDrug {
    /// The national medicine code (`X…`/`Z…`, 20 or 23 characters).
    pub code: ItemCode,
    pub name_zh: String,
    pub name_en: String,
    /// The diseases it is paid for: ICD-10 prefixes matched against the claim's diagnosis
    /// and the person's diseases on file.
    pub indications: Vec<String>,
    /// Listed from this day (inclusive) …
    pub from: Date,
    /// … to this day (inclusive), or open.
    pub until: Option<Date>,
    pub cite: String,
}

impl SpecialDrug {
    /// Whether the drug is on the city's list on `date`.
    #[must_use]
    pub fn listed_on(&self, date: Date) -> bool {
        self.from <= date && self.until.is_none_or(|until| date <= until)
    }

    /// The indication a diagnosis falls under: the longest matching prefix.
    #[must_use]
    pub fn indication_for(&self, diagnosis: &str) -> Option<&str> {
        self.indications.iter().filter(|code| diagnosis.starts_with(code.as_str())).max_by_key(|code| code.len()).map(String::as_str)
    }
}

/// How a pack codes its residents' insurance nationally (`insutype`): 390 the integrated
/// urban and rural residents' scheme (城乡居民基本医疗保险), or, in a city that has not
/// merged them, 380 the new rural cooperative medical scheme (新型农村合作医疗) or 391 the
/// urban residents' scheme (城镇居民基本医疗保险).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResidentInsutype {
    #[default]
    Integrated,
    RuralCooperative,
    UrbanResidents,
}

impl ResidentInsutype {
    pub const ALL: [ResidentInsutype; 3] =
        [ResidentInsutype::Integrated, ResidentInsutype::RuralCooperative, ResidentInsutype::UrbanResidents];

    /// The national code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            ResidentInsutype::Integrated => "390",
            ResidentInsutype::RuralCooperative => "380",
            ResidentInsutype::UrbanResidents => "391",
        }
    }

    #[must_use]
    pub fn parse(code: &str) -> Option<ResidentInsutype> {
        ResidentInsutype::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// A loaded, validated policy pack.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: String,
    /// The number the store gave this text when it was recorded (issue 19: a settlement
    /// names the version it was computed under); `None` for a pack read from a file and
    /// not recorded.
    pub version: Option<u32>,
    pub name: String,
    pub region: RegionCode,
    pub effective_from: Date,
    pub effective_until: Option<Date>,
    pub rounding: Rounding,
    pub service_date: ServiceDateRule,
    /// How the residents' insurance is coded nationally (`pack.resident_insutype`).
    pub resident_insutype: ResidentInsutype,
    pub schemes: Vec<Scheme>,
    /// Tiers allowed per basic scheme; empty when the city has no tiers.
    pub tiers: Vec<(Scheme, Vec<Tier>)>,
    /// The city's counties and districts (`pack.counties`), sorted; empty when the pack
    /// does not list them, and then any county code inside the city is one of them.
    pub counties: Vec<RegionCode>,
    pub sources: Vec<Source>,
    /// Entries per key, indexed by `ParamKey as usize`.
    entries: Vec<Vec<Entry>>,
    pub chronic_diseases: Vec<ChronicDisease>,
    /// The diseases paid at a fixed price (`[[single_disease]]`).
    pub single_diseases: Vec<SingleDisease>,
    /// The special drugs (`[[special_drug]]`), by code; a code may be listed again after a
    /// gap, never twice on one day.
    pub special_drugs: Vec<SpecialDrug>,
    catalogue: HashMap<ItemCode, CatalogueItem>,
    /// The dated national catalogue the city reads beneath its own items (empty until one
    /// is attached with [`Policy::with_catalogue`]).
    national: Arc<Catalogue>,
    /// Which benefit families the pack offers to each basic scheme (employees, residents),
    /// in `Family::ALL` order: found once at load, read by every claim of those kinds.
    offered: [[bool; 2]; Family::ALL.len()],
}

impl Policy {
    /// Loads and validates a pack. `file` is only used in messages.
    pub fn from_toml(file: &str, text: &str) -> Result<Policy, PolicyErrors> {
        load::load(file, text)
    }

    /// The pack as the store numbered it.
    #[must_use]
    pub fn numbered(mut self, version: u32) -> Policy {
        self.version = Some(version);
        self
    }

    /// How a settlement's explanation names the pack: its id, and its version when it has one.
    #[must_use]
    pub fn citation(&self) -> String {
        self.version.map_or_else(|| self.id.clone(), |version| format!("{} v{version}", self.id))
    }

    /// Whether `region` is one of the city's counties or districts: listed in
    /// `pack.counties`, or, in a pack that lists none, any county code inside the city.
    /// The city's own code is not a county.
    #[must_use]
    pub fn has_county(&self, region: RegionCode) -> bool {
        if self.counties.is_empty() {
            region.level() == yibao_domain::RegionLevel::County && self.region.contains(region)
        } else {
            self.counties.binary_search(&region).is_ok()
        }
    }

    #[must_use]
    pub fn has_scheme(&self, scheme: Scheme) -> bool {
        self.schemes.contains(&scheme)
    }

    /// Whether the pack offers a benefit family to anyone: gives any key of it.
    #[must_use]
    pub fn offers(&self, family: Family) -> bool {
        self.offered[family as usize].contains(&true)
    }

    /// Whether the pack offers a benefit family to a basic scheme's insured: gives a key of
    /// it for that scheme or for every scheme (issue 13: a city may pay the two diseases'
    /// medicines for its residents only). For another scheme, whether it offers it at all.
    #[must_use]
    pub fn offers_to(&self, family: Family, scheme: Scheme) -> bool {
        match Self::basic_index(scheme) {
            Some(index) => self.offered[family as usize][index],
            None => self.offers(family),
        }
    }

    const fn basic_index(scheme: Scheme) -> Option<usize> {
        match scheme {
            Scheme::Employee => Some(0),
            Scheme::Resident => Some(1),
            _ => None,
        }
    }

    /// The families `entries` (per key, in `ParamKey` order) give any key of, per basic
    /// scheme: an entry without a scheme gives it to both.
    fn families_given(entries: &[Vec<Entry>]) -> [[bool; 2]; Family::ALL.len()] {
        Family::ALL.map(|family| {
            [Scheme::Employee, Scheme::Resident].map(|scheme| {
                PARAMS
                    .iter()
                    .filter(|spec| spec.family == Some(family))
                    .any(|spec| entries[spec.key as usize].iter().any(|entry| entry.selector.scheme.is_none_or(|s| s == scheme)))
            })
        })
    }

    #[must_use]
    pub fn has_tiers(&self) -> bool {
        !self.tiers.is_empty()
    }

    /// The tiers a person of `scheme` may hold; empty when the pack has no tiers.
    #[must_use]
    pub fn tiers_for(&self, scheme: Scheme) -> &[Tier] {
        self.tiers.iter().find(|(s, _)| *s == scheme).map_or(&[], |(_, t)| t.as_slice())
    }

    /// The pack's own item of `code` (`[[item]]`), over the pack's whole period.
    #[must_use]
    pub fn catalogue_item(&self, code: &ItemCode) -> Option<&CatalogueItem> {
        self.catalogue.get(code)
    }

    /// The pack's own items (`[[item]]`).
    pub fn catalogue(&self) -> impl Iterator<Item = &CatalogueItem> {
        self.catalogue.values()
    }

    /// The pack with the dated national catalogue beneath its own items.
    #[must_use]
    pub fn with_catalogue(mut self, national: Arc<Catalogue>) -> Policy {
        self.national = national;
        self
    }

    /// The dated national catalogue attached to the pack.
    #[must_use]
    pub fn national_catalogue(&self) -> &Arc<Catalogue> {
        &self.national
    }

    /// The item a claim line of `code` reads on `date`: the pack's own item if it has one
    /// (the city's list stands over its whole period), else the national catalogue's
    /// version in force then, of the most specific region that applies in the city.
    #[must_use]
    pub fn item_on(&self, code: &ItemCode, date: Date) -> Option<FoundItem<'_>> {
        if let Some(item) = self.catalogue.get(code) {
            return Some(FoundItem { item, version: None });
        }
        self.national.version_on(code, self.region, date).map(|version| FoundItem { item: &version.item, version: Some(version) })
    }

    /// Every item in force on `date`: the pack's own, and the national catalogue's for the
    /// codes the pack does not list, sorted by code.
    #[must_use]
    pub fn items_on(&self, date: Date) -> Vec<FoundItem<'_>> {
        let mut items: Vec<FoundItem<'_>> = self.catalogue.values().map(|item| FoundItem { item, version: None }).collect();
        items.extend(
            self.national
                .in_force(self.region, date)
                .filter(|version| !self.catalogue.contains_key(&version.item.code))
                .map(|version| FoundItem { item: &version.item, version: Some(version) }),
        );
        // By the code's text, as the national downloads page it.
        items.sort_by(|a, b| a.item.code.as_str().cmp(b.item.code.as_str()));
        items
    }

    #[must_use]
    pub fn entries(&self, key: ParamKey) -> &[Entry] {
        &self.entries[key as usize]
    }

    /// The fixed-price disease a stay with `diagnosis` at an institution of `level` is
    /// settled under: the longest matching code; of equal codes, the entry for the level,
    /// then (a township health centre) the primary level's, then the entry for every level.
    #[must_use]
    pub fn single_disease_for(&self, diagnosis: &str, level: InstitutionLevel) -> Option<&SingleDisease> {
        let level_rank = |entry: Option<InstitutionLevel>| match entry {
            Some(l) if l == level => Some(2),
            Some(l) if level.fallback() == Some(l) => Some(1),
            None => Some(0),
            Some(_) => None,
        };
        self.single_diseases
            .iter()
            .filter(|d| diagnosis.starts_with(d.code.as_str()))
            .filter_map(|d| level_rank(d.level).map(|rank| (d.code.len(), rank, d)))
            .max_by_key(|(len, rank, _)| (*len, *rank))
            .map(|(_, _, d)| d)
    }

    /// The special drug `code` is on `date`, if the city lists it then.
    #[must_use]
    pub fn special_drug_on(&self, code: &ItemCode, date: Date) -> Option<&SpecialDrug> {
        self.special_drugs.iter().find(|drug| drug.code == *code && drug.listed_on(date))
    }

    /// The national insurance-type code (`insutype`) of a basic scheme's or the maternity
    /// fund's settlement: 310 employees, 510 maternity, the pack's code for residents.
    #[must_use]
    pub const fn insutype(&self, scheme: Scheme) -> &'static str {
        match scheme {
            Scheme::Employee => "310",
            Scheme::Maternity => "510",
            _ => self.resident_insutype.code(),
        }
    }

    /// The certified disease a diagnosis belongs to: the longest matching prefix.
    #[must_use]
    pub fn chronic_disease_for(&self, diagnosis: &str) -> Option<&ChronicDisease> {
        self.chronic_diseases.iter().filter(|d| diagnosis.starts_with(d.code.as_str())).max_by_key(|d| d.code.len())
    }

    #[must_use]
    pub fn source_title(&self, id: &str) -> Option<&str> {
        self.sources.iter().find(|s| s.id == id).map(|s| s.title.as_str())
    }
}
