//! The difference an approver reads before a new pack version goes in force (issue 19).

use time::macros::date;
use yibao_policy::{ChangeKind, Policy, diff};

const DEMO: &str = include_str!("../../../policies/demo-city.toml");

fn load(text: &str) -> Policy {
    Policy::from_toml("test", text).unwrap_or_else(|e| panic!("pack loads: {e}"))
}

#[test]
fn the_same_pack_differs_in_nothing() {
    assert_eq!(diff(&load(DEMO), &load(DEMO)), vec![]);
}

const TERTIARY: &str = r#"values = [{ from = "2024-01-01", value = "85%", cite = "assumption: employees in work, tertiary hospital" }]"#;

fn edited(replacement: &str) -> Policy {
    let text = DEMO.replacen(TERTIARY, replacement, 1);
    assert_ne!(text, DEMO, "the test's anchor is in the demo pack");
    load(&text)
}

#[test]
fn a_new_dated_value_is_one_change_from_its_first_day() {
    let changes = diff(
        &load(DEMO),
        &edited(
            r#"values = [
  { from = "2024-01-01", value = "85%", cite = "assumption: employees in work, tertiary hospital" },
  { from = "2027-01-01", value = "87%", cite = "assumption: the 2027 notice" },
]"#,
        ),
    );
    assert_eq!(changes.len(), 1, "{changes:?}");
    let change = &changes[0];
    assert_eq!(
        (change.subject.as_str(), change.kind, change.from),
        ("inpatient.ratio [scheme=employee, level=tertiary]", ChangeKind::Added, Some(date!(2027 - 01 - 01)))
    );
    assert_eq!((change.before.as_deref(), change.after.as_deref()), (None, Some("87% from 2027-01-01 (assumption: the 2027 notice)")));
    assert!(!change.reaches_back(date!(2026 - 12 - 05)), "a value from next year does not reach back");
}

#[test]
fn a_value_changed_in_place_reaches_back_to_its_first_day() {
    let changes = diff(
        &load(DEMO),
        &edited(r#"values = [{ from = "2024-01-01", value = "86%", cite = "assumption: employees in work, tertiary hospital" }]"#),
    );
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].kind, changes[0].from), (ChangeKind::Changed, Some(date!(2024 - 01 - 01))));
    assert_eq!(changes[0].before.as_deref(), Some("85% from 2024-01-01 (assumption: employees in work, tertiary hospital)"));
    assert_eq!(changes[0].after.as_deref(), Some("86% from 2024-01-01 (assumption: employees in work, tertiary hospital)"));
    assert!(changes[0].reaches_back(date!(2026 - 12 - 05)));
}

#[test]
fn header_and_catalogue_changes_have_no_first_day() {
    let old = load(DEMO);
    let renamed = DEMO.replacen(&format!("name = \"{}\"", old.name), "name = \"Demo City, 2027 edition\"", 1);
    let changes = diff(&old, &load(&renamed));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].subject.as_str(), changes[0].kind, changes[0].from), ("pack.name", ChangeKind::Changed, None));
    assert_eq!(changes[0].after.as_deref(), Some("Demo City, 2027 edition"));
    assert!(changes[0].reaches_back(date!(2026 - 12 - 05)), "an undated change applies to every claim settled after approval");
}

#[test]
fn a_cited_sources_title_is_a_change() {
    let old = load(DEMO);
    let source = &old.sources[0];
    let retitled = DEMO.replacen(&format!("title = \"{}\"", source.title), "title = \"A corrected title\"", 1);
    let changes = diff(&old, &load(&retitled));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].subject.clone(), changes[0].after.as_deref()), (format!("source {}", source.id), Some("A corrected title")));
}
