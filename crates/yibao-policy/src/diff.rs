//! What a new version of a pack changes against the version in force (issue 19): the
//! parameter-level difference an approver reads before a pack goes in force. Pure: two
//! loaded packs in, a list of changes out, in a stable order (header, parameters in the
//! order of [`crate::PARAMS`], the cited sources, chronic diseases, single diseases,
//! catalogue).

use std::collections::{BTreeMap, BTreeSet};

use time::Date;

use crate::{CatalogueItem, Dated, PARAMS, Policy, Selector};

/// Whether a thing is new, gone or different.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference between two packs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// What changed: `pack.counties`, a parameter with its selector (`pool.ratio
    /// [level=tertiary]`), `chronic disease E11`, `catalogue item X`.
    pub subject: String,
    pub kind: ChangeKind,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The first day of service the change affects: a dated value's first day; none for
    /// what has no dates (the pack's header and catalogue), which applies to every claim
    /// settled after approval.
    pub from: Option<Date>,
}

impl Change {
    /// Whether the change reaches back before `today`: a claim settled late, for a day of
    /// service before it, is settled under the new value.
    #[must_use]
    pub fn reaches_back(&self, today: Date) -> bool {
        self.from.is_none_or(|from| from < today)
    }
}

/// The changes `new` makes to `old`; empty when they say the same.
#[must_use]
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut changes = Vec::new();
    header(old, new, &mut changes);
    for spec in PARAMS {
        let side = |policy: &Policy| -> BTreeMap<String, Vec<Dated>> {
            policy.entries(spec.key).iter().map(|entry| (selector_text(&entry.selector), entry.values.clone())).collect()
        };
        let (before, after) = (side(old), side(new));
        for selector in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
            let subject = format!("{} [{selector}]", spec.name);
            dated(&subject, before.get(selector).map_or(&[], Vec::as_slice), after.get(selector).map_or(&[], Vec::as_slice), &mut changes);
        }
    }
    let sources =
        |policy: &Policy| -> BTreeMap<String, String> { policy.sources.iter().map(|s| (s.id.clone(), s.title.clone())).collect() };
    let (before, after) = (sources(old), sources(new));
    for id in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        push(&mut changes, &format!("source {id}"), before.get(id).cloned(), after.get(id).cloned(), None);
    }
    let diseases = |policy: &Policy| -> BTreeMap<String, (String, Vec<Dated>)> {
        policy
            .chronic_diseases
            .iter()
            .map(|d| (d.code.clone(), (format!("{} / {}", d.name_zh, d.name_en), d.annual_limit.clone())))
            .collect()
    };
    let (before, after) = (diseases(old), diseases(new));
    for code in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        let subject = format!("chronic disease {code}");
        let name = |side: &BTreeMap<String, (String, Vec<Dated>)>| side.get(code).map(|(name, _)| name.clone());
        push(&mut changes, &format!("{subject} name"), name(&before), name(&after), None);
        let limits = |side: &BTreeMap<String, (String, Vec<Dated>)>| side.get(code).map_or_else(Vec::new, |(_, limits)| limits.clone());
        dated(&format!("{subject} annual limit"), &limits(&before), &limits(&after), &mut changes);
    }
    let fixed = |policy: &Policy| -> BTreeMap<String, (String, Vec<Dated>)> {
        policy
            .single_diseases
            .iter()
            .map(|d| {
                let key = d.level.map_or_else(|| d.code.clone(), |level| format!("{} [level={}]", d.code, level.as_str()));
                (key, (format!("{} / {}", d.name_zh, d.name_en), d.price.clone()))
            })
            .collect()
    };
    let (before, after) = (fixed(old), fixed(new));
    for code in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        let subject = format!("single disease {code}");
        let name = |side: &BTreeMap<String, (String, Vec<Dated>)>| side.get(code).map(|(name, _)| name.clone());
        push(&mut changes, &format!("{subject} name"), name(&before), name(&after), None);
        let prices = |side: &BTreeMap<String, (String, Vec<Dated>)>| side.get(code).map_or_else(Vec::new, |(_, prices)| prices.clone());
        dated(&format!("{subject} price"), &prices(&before), &prices(&after), &mut changes);
    }
    // A special drug by its code and first listed day; its terms as one text.
    let drugs = |policy: &Policy| -> BTreeMap<(String, Date), String> {
        policy
            .special_drugs
            .iter()
            .map(|d| {
                let until = d.until.map_or_else(|| "open".to_owned(), |u| u.to_string());
                let text = format!("{} / {}; for {}; until {until} [{}]", d.name_zh, d.name_en, d.indications.join(" "), d.cite);
                ((d.code.to_string(), d.from), text)
            })
            .collect()
    };
    let (before, after) = (drugs(old), drugs(new));
    for key in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        push(&mut changes, &format!("special drug {}", key.0), before.get(key).cloned(), after.get(key).cloned(), Some(key.1));
    }
    let items =
        |policy: &Policy| -> BTreeMap<String, String> { policy.catalogue().map(|item| (item.code.to_string(), item_text(item))).collect() };
    let (before, after) = (items(old), items(new));
    for code in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        push(&mut changes, &format!("catalogue item {code}"), before.get(code).cloned(), after.get(code).cloned(), None);
    }
    changes
}

/// A header field of a pack, as text.
type Field = fn(&Policy) -> String;

fn header(old: &Policy, new: &Policy, changes: &mut Vec<Change>) {
    let fields: [(&str, Field); 10] = [
        ("pack.id", |p| p.id.clone()),
        ("pack.name", |p| p.name.clone()),
        ("pack.region", |p| p.region.to_string()),
        ("pack.effective_from", |p| p.effective_from.to_string()),
        ("pack.effective_until", |p| p.effective_until.map_or_else(|| "open".to_owned(), |d| d.to_string())),
        ("pack.rounding", |p| format!("{:?}", p.rounding)),
        ("pack.service_date", |p| format!("{:?}", p.service_date)),
        ("pack.resident_insutype", |p| p.resident_insutype.code().to_owned()),
        ("pack.schemes", |p| p.schemes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        ("pack.counties", |p| p.counties.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    ];
    for (subject, field) in fields {
        push(changes, subject, Some(field(old)), Some(field(new)), None);
    }
    let tiers = |p: &Policy| {
        p.tiers
            .iter()
            .map(|(scheme, tiers)| format!("{scheme}: {}", tiers.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    push(changes, "pack.tiers", Some(tiers(old)), Some(tiers(new)), None);
}

/// The changes between two series of dated values, matched by their first day.
fn dated(subject: &str, before: &[Dated], after: &[Dated], changes: &mut Vec<Change>) {
    let by_day = |values: &[Dated]| -> BTreeMap<Date, String> { values.iter().map(|d| (d.from, dated_text(d))).collect() };
    let (before, after) = (by_day(before), by_day(after));
    for day in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        push(changes, subject, before.get(day).cloned(), after.get(day).cloned(), Some(*day));
    }
}

impl ChangeKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

fn push(changes: &mut Vec<Change>, subject: &str, before: Option<String>, after: Option<String>, from: Option<Date>) {
    let kind = match (&before, &after) {
        (None, None) => return,
        (Some(b), Some(a)) if b == a => return,
        (None, Some(_)) => ChangeKind::Added,
        (Some(_), None) => ChangeKind::Removed,
        (Some(_), Some(_)) => ChangeKind::Changed,
    };
    changes.push(Change { subject: subject.to_owned(), kind, before, after, from });
}

fn selector_text(selector: &Selector) -> String {
    selector.to_string()
}

fn dated_text(dated: &Dated) -> String {
    let until = dated.until.map_or_else(String::new, |until| format!(" until {until}"));
    format!("{} from {}{until} ({})", dated.value, dated.from, dated.cite)
}

fn item_text(item: &CatalogueItem) -> String {
    let caps: Vec<String> = item.price_cap.iter().map(|cap| cap.map_or_else(|| "-".to_owned(), |fen| fen.to_string())).collect();
    let share = item.selfpay_share.map_or_else(String::new, |share| format!(", first paid {share}"));
    let restricted = if item.restricted { ", restricted" } else { "" };
    let negotiated = if item.negotiated { ", negotiated price (谈判药品)" } else { "" };
    format!("{} class {:?}{restricted}{negotiated}, caps {}{share}", item.name, item.class, caps.join("/"))
}
