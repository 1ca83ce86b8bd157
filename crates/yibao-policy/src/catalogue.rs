//! The dated national catalogue (医保目录, R-BEN-1, R-BEN-7): every item's class, first
//! self-pay share, restriction and price cap as versions, each in force over a span of
//! dates for one region (the nation, a province or the city), so that a claim reads the
//! item as it was on its date of service however many yearly lists have been loaded since.
//!
//! The pack's own `[[item]]` list stays what it was: the city's own items over the pack's
//! whole period, read before the catalogue ([`crate::Policy::item_on`]). The catalogue is
//! loaded from the national files by `yibao-import` and kept by the store; this module only
//! holds and checks it, and does no I/O.

use std::collections::HashMap;

use time::Date;
use yibao_domain::{CatalogueClass, ItemCode, ItemKind, RegionCode, RegionLevel};

use crate::CatalogueItem;

/// Most versions one item may have in one region: a limit on what a lookup scans.
pub const VERSIONS_PER_ITEM_MAX: usize = 64;

/// A version's key: item, region, first day.
pub type VersionKey = (ItemCode, Option<RegionCode>, Date);
/// Longest citation of a version, in characters.
pub const CITE_CHARS_MAX: usize = 200;

/// One version of one item: its terms in force from `from` to `until` (inclusive, open
/// when `None`) for `region` (`None`: the whole nation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueVersion {
    pub item: CatalogueItem,
    pub kind: ItemKind,
    pub region: Option<RegionCode>,
    pub from: Date,
    pub until: Option<Date>,
    /// The document that published this version (a national list's notice, a province's
    /// supplement), cited by the settlement steps that read it.
    pub cite: String,
}

impl CatalogueVersion {
    /// Whether the version is in force on `date`.
    #[must_use]
    pub fn in_force_on(&self, date: Date) -> bool {
        self.from <= date && self.until.is_none_or(|until| date <= until)
    }

    /// The key a version replaces another under when a file is loaded again: same item,
    /// same region, same first day.
    #[must_use]
    pub fn key(&self) -> VersionKey {
        (self.item.code, self.region, self.from)
    }

    /// How specific the version's region is: the city's own beats its province, which
    /// beats the nation.
    fn rank(&self) -> u8 {
        match self.region.map(RegionCode::level) {
            None => 0,
            Some(RegionLevel::Province) => 1,
            Some(RegionLevel::City | RegionLevel::County) => 2,
        }
    }

    /// Whether the version applies in `city`: national, or for the city's province or the
    /// city itself.
    #[must_use]
    pub fn applies_in(&self, city: RegionCode) -> bool {
        self.region.is_none_or(|region| region == city || region == city.province())
    }

    /// What is wrong with the version on its own, if anything.
    #[must_use]
    pub fn fault(&self) -> Option<String> {
        let code = self.item.code;
        if ItemKind::of(&code) != Some(self.kind) {
            return Some(format!("{code} does not have the shape of a {} code", self.kind.as_str()));
        }
        if self.until.is_some_and(|until| until < self.from) {
            return Some(format!(
                "{code} ends before it begins ({} to {})",
                self.from,
                self.until.map_or_else(String::new, |u| u.to_string())
            ));
        }
        if self.item.name.trim().is_empty() {
            return Some(format!("{code} has no name"));
        }
        if self.item.selfpay_share.is_some() && self.item.class != CatalogueClass::B {
            return Some(format!("{code}: a first self-pay share applies to class B items only"));
        }
        if self.item.negotiated && self.item.price_cap.iter().all(Option::is_none) {
            return Some(format!("{code}: a negotiated item (谈判药品) carries its negotiated price as its price cap"));
        }
        if self.cite.trim().is_empty() || self.cite.chars().count() > CITE_CHARS_MAX {
            return Some(format!("{code}: a version cites the document that published it, in 1 to {CITE_CHARS_MAX} characters"));
        }
        if self.region.is_some_and(|region| region.level() == RegionLevel::County) {
            return Some(format!("{code}: a catalogue version is national, provincial or for a city, not a county"));
        }
        None
    }
}

/// Why a set of versions is not a catalogue: each problem names the item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueProblem {
    pub code: ItemCode,
    pub message: String,
}

/// The dated catalogue: versions per item, each item's sorted by region rank then first day.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    items: HashMap<ItemCode, Vec<CatalogueVersion>>,
    versions: usize,
}

/// A catalogue with a file merged in.
#[derive(Clone, Debug)]
pub struct Merge {
    pub catalogue: Catalogue,
    pub counts: MergeCounts,
    /// The versions added or replaced: what a store writes.
    pub changed: Vec<CatalogueVersion>,
    /// The keys of the versions withdrawn: what a store deletes.
    pub removed: Vec<VersionKey>,
}

/// What merging a file's versions into the catalogue did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeCounts {
    /// Versions the catalogue did not have.
    pub added: usize,
    /// Versions that replace one of the same item, region and first day with other terms.
    pub replaced: usize,
    /// Versions the catalogue already held exactly.
    pub unchanged: usize,
    /// Versions held that the file withdrew.
    pub removed: usize,
}

impl Catalogue {
    /// Builds the catalogue, refusing versions that are wrong on their own, two versions of
    /// one item and region that overlap in time, and items with too many versions.
    pub fn build(versions: impl IntoIterator<Item = CatalogueVersion>) -> Result<Catalogue, Vec<CatalogueProblem>> {
        let mut items: HashMap<ItemCode, Vec<CatalogueVersion>> = HashMap::new();
        let mut problems = Vec::new();
        let mut count = 0;
        for version in versions {
            if let Some(message) = version.fault() {
                problems.push(CatalogueProblem { code: version.item.code, message });
                continue;
            }
            count += 1;
            items.entry(version.item.code).or_default().push(version);
        }
        for (code, list) in &mut items {
            list.sort_by_key(|v| (v.rank(), v.region, v.from));
            for region in list.chunk_by(|a, b| a.region == b.region) {
                if region.len() > VERSIONS_PER_ITEM_MAX {
                    let name = region[0].region.map_or_else(|| "national".to_owned(), |r| r.to_string());
                    problems.push(CatalogueProblem {
                        code: *code,
                        message: format!("{code} ({name}) has {} versions; at most {VERSIONS_PER_ITEM_MAX}", region.len()),
                    });
                }
            }
            for pair in list.windows(2) {
                let (earlier, later) = (&pair[0], &pair[1]);
                if earlier.region == later.region && earlier.until.is_none_or(|until| until >= later.from) {
                    let region = earlier.region.map_or_else(|| "national".to_owned(), |r| r.to_string());
                    problems.push(CatalogueProblem {
                        code: *code,
                        message: format!("{code} ({region}): the version from {} overlaps the one from {}", later.from, earlier.from),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(Catalogue { items, versions: count })
        } else {
            problems.sort_by(|a, b| a.code.cmp(&b.code).then_with(|| a.message.cmp(&b.message)));
            Err(problems)
        }
    }

    /// This catalogue with a file merged in: a version held under a key in `withdrawn` is
    /// taken out (the source withdrew it); a version of `incoming` replaces the one held
    /// under its key (item, region, first day), or is added. Checked whole, as
    /// [`Catalogue::build`] does.
    pub fn merged(&self, incoming: Vec<CatalogueVersion>, withdrawn: &[VersionKey]) -> Result<Merge, Vec<CatalogueProblem>> {
        let mut counts = MergeCounts::default();
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        let mut by_key: HashMap<VersionKey, CatalogueVersion> = self.versions().map(|v| (v.key(), v.clone())).collect();
        for key in withdrawn {
            if by_key.remove(key).is_some() {
                counts.removed += 1;
                removed.push(*key);
            }
        }
        for version in incoming {
            match by_key.insert(version.key(), version.clone()) {
                None => counts.added += 1,
                Some(held) if held == version => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.replaced += 1,
            }
            changed.push(version);
        }
        Catalogue::build(by_key.into_values()).map(|catalogue| Merge { catalogue, counts, changed, removed })
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.versions
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.versions == 0
    }

    /// Every version, in no particular order.
    pub fn versions(&self) -> impl Iterator<Item = &CatalogueVersion> {
        self.items.values().flatten()
    }

    /// The version held under `key` (item, region, first day), if any.
    #[must_use]
    pub fn version(&self, key: &VersionKey) -> Option<&CatalogueVersion> {
        self.items.get(&key.0)?.iter().find(|v| v.key() == *key)
    }

    /// The version of `code` that applies in `city` on `date`: of those in force then,
    /// the one of the most specific region.
    #[must_use]
    pub fn version_on(&self, code: &ItemCode, city: RegionCode, date: Date) -> Option<&CatalogueVersion> {
        self.items.get(code)?.iter().rev().find(|v| v.applies_in(city) && v.in_force_on(date))
    }

    /// Every version of `code` that applies in `city`, by region (nation, province, city)
    /// then first day.
    pub fn versions_of(&self, code: &ItemCode, city: RegionCode) -> impl Iterator<Item = &CatalogueVersion> {
        self.items.get(code).into_iter().flatten().filter(move |v| v.applies_in(city))
    }

    /// Every item that applies in `city` on `date`, each in its version then.
    pub fn in_force(&self, city: RegionCode, date: Date) -> impl Iterator<Item = &CatalogueVersion> {
        self.items.values().filter_map(move |list| list.iter().rev().find(|v| v.applies_in(city) && v.in_force_on(date)))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;
    use yibao_domain::{Fen, RatioBp};

    use super::*;

    const CITY: &str = "410100";

    fn version(code: &str, region: Option<&str>, from: Date, until: Option<Date>, class: CatalogueClass) -> CatalogueVersion {
        let code = ItemCode::parse(code).expect("code");
        CatalogueVersion {
            item: CatalogueItem {
                code,
                name: "item".into(),
                class,
                restricted: false,
                price_cap: [None; 4],
                selfpay_share: (class == CatalogueClass::B).then(|| RatioBp::new(1_000)),
                negotiated: false,
            },
            kind: ItemKind::of(&code).expect("national shape"),
            region: region.map(|r| RegionCode::parse(r).expect("region")),
            from,
            until,
            cite: "national list".into(),
        }
    }

    const DRUG: &str = "XA01ABD075A002010100483";

    #[test]
    fn a_claim_reads_the_version_in_force_on_its_date_in_the_most_specific_region() {
        let catalogue = Catalogue::build([
            version(DRUG, None, date!(2023 - 01 - 01), Some(date!(2023 - 12 - 31)), CatalogueClass::B),
            version(DRUG, None, date!(2024 - 01 - 01), None, CatalogueClass::A),
            version(DRUG, Some("410000"), date!(2024 - 07 - 01), Some(date!(2024 - 12 - 31)), CatalogueClass::C),
            version(DRUG, Some("420000"), date!(2024 - 01 - 01), None, CatalogueClass::B),
        ])
        .expect("a catalogue");
        let city = RegionCode::parse(CITY).expect("city");
        let code = ItemCode::parse(DRUG).expect("code");
        let class_on = |date| catalogue.version_on(&code, city, date).map(|v| v.item.class);
        assert_eq!(class_on(date!(2022 - 12 - 31)), None, "before the first version");
        assert_eq!(class_on(date!(2023 - 06 - 01)), Some(CatalogueClass::B));
        assert_eq!(class_on(date!(2024 - 03 - 01)), Some(CatalogueClass::A));
        assert_eq!(class_on(date!(2024 - 07 - 01)), Some(CatalogueClass::C), "the province's version wins while in force");
        assert_eq!(class_on(date!(2025 - 01 - 01)), Some(CatalogueClass::A), "then the national one again");
        assert_eq!(catalogue.in_force(city, date!(2024 - 08 - 01)).count(), 1);
        assert_eq!(catalogue.len(), 4);
    }

    #[test]
    fn overlapping_versions_and_wrong_shapes_are_refused() {
        let problems = Catalogue::build([
            version(DRUG, None, date!(2023 - 01 - 01), None, CatalogueClass::B),
            version(DRUG, None, date!(2024 - 01 - 01), None, CatalogueClass::A),
        ])
        .expect_err("overlap");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("overlaps"), "{problems:?}");

        let mut service_as_drug = version("001201000010000", None, date!(2024 - 01 - 01), None, CatalogueClass::A);
        service_as_drug.kind = ItemKind::Medicine;
        let mut backwards = version(DRUG, None, date!(2024 - 01 - 01), Some(date!(2023 - 01 - 01)), CatalogueClass::A);
        backwards.item.price_cap = [Some(Fen::new(100)); 4];
        let mut a_with_share = version("001201000010000", Some(CITY), date!(2024 - 01 - 01), None, CatalogueClass::A);
        a_with_share.item.selfpay_share = Some(RatioBp::new(500));
        let county = version("001201000010001", Some("410102"), date!(2024 - 01 - 01), None, CatalogueClass::A);
        let mut negotiated_without_price = version("001201000010002", None, date!(2024 - 01 - 01), None, CatalogueClass::B);
        negotiated_without_price.item.negotiated = true;
        negotiated_without_price.item.price_cap = [None; 4];
        let problems = Catalogue::build([service_as_drug, backwards, a_with_share, county, negotiated_without_price]).expect_err("faults");
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems.iter().any(|p| p.message.contains("谈判药品")), "{problems:?}");
    }

    #[test]
    fn merging_a_file_again_replaces_versions_by_item_region_and_first_day() {
        let first = Catalogue::build([version(DRUG, None, date!(2024 - 01 - 01), None, CatalogueClass::B)]).expect("catalogue");
        let mut corrected = version(DRUG, None, date!(2024 - 01 - 01), Some(date!(2024 - 12 - 31)), CatalogueClass::B);
        corrected.item.name = "corrected".into();
        let next_year = version(DRUG, None, date!(2025 - 01 - 01), None, CatalogueClass::A);
        let merge = first.merged(vec![corrected.clone(), next_year.clone()], &[]).expect("merges");
        assert_eq!(merge.counts, MergeCounts { added: 1, replaced: 1, unchanged: 0, removed: 0 });
        assert_eq!(merge.changed, vec![corrected, next_year.clone()]);
        assert_eq!(merge.catalogue.len(), 2);
        let again = merge.catalogue.merged(vec![next_year.clone()], &[]).expect("merges");
        assert_eq!(again.counts, MergeCounts { added: 0, replaced: 0, unchanged: 1, removed: 0 });
        assert!(again.changed.is_empty());
        let again = again.catalogue;
        assert_eq!(again.len(), 2);
        let overlapping = version(DRUG, None, date!(2024 - 06 - 01), None, CatalogueClass::A);
        assert!(again.merged(vec![overlapping], &[]).is_err(), "a version inside another's span is refused whole");
        // A version whose first day was wrong is withdrawn and given again in one file.
        let code = ItemCode::parse(DRUG).expect("code");
        let wrong_first_day = next_year.key();
        let mut right = next_year.clone();
        right.from = date!(2025 - 02 - 01);
        let fixed = again.merged(vec![right], &[wrong_first_day, (code, None, date!(2020 - 01 - 01))]).expect("merges");
        assert_eq!((fixed.counts.removed, fixed.counts.added), (1, 1), "a key not held withdraws nothing");
        assert_eq!(fixed.removed, vec![wrong_first_day]);
        let city = RegionCode::parse(CITY).expect("city");
        assert!(fixed.catalogue.version_on(&code, city, date!(2025 - 01 - 15)).is_none());
    }

    #[test]
    fn the_limit_of_versions_is_per_region() {
        let mut versions = Vec::new();
        for city in 1..=17 {
            for year in 2023..=2026 {
                let mut v = version("001201000010000", Some(&format!("41{city:02}00")), date!(2023 - 01 - 01), None, CatalogueClass::A);
                v.from = Date::from_calendar_date(year, time::Month::January, 1).expect("day");
                v.until = Some(Date::from_calendar_date(year, time::Month::December, 31).expect("day"));
                versions.push(v);
            }
        }
        assert_eq!(Catalogue::build(versions).expect("17 cities of 4 versions").len(), 68);
    }
}
