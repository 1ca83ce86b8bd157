//! Reforms: the overlay merges into the pack from its first date on, the merged pack is
//! validated like any pack, and the same city-year re-simulated under it moves money the
//! way the reform says and nowhere else.

use time::macros::date;
use yibao_domain::{Fen, InstitutionLevel, PersonCategory, RatioBp, Scheme, Tier};
use yibao_ledger::FundScheme;
use yibao_policy::{ParamKey, Policy, Query};
use yibao_synth::{City, Config, Financing, SimOptions, apply_reform, render, render_comparison, simulate};

fn pack_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/demo-city.toml")).expect("the demo pack")
}

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/reforms/tier3-inpatient-plus5.toml"))
        .expect("the example reform")
}

fn tertiary_tier3(policy: &Policy, on: time::Date) -> RatioBp {
    let query = Query {
        scheme: Some(Scheme::Resident),
        tier: Some(Tier::new(3).expect("tier")),
        level: Some(InstitutionLevel::Tertiary),
        category: Some(PersonCategory::Resident),
        ..Query::default()
    };
    policy.bands(ParamKey::InpatientRatio, &query, on).expect("a ratio").value.as_slice()[0].ratio
}

#[test]
fn a_reform_replaces_values_from_its_first_date_and_keeps_the_earlier_ones() {
    let (merged, reform) = apply_reform(&pack_text(), &example(), Financing::default()).expect("applies");
    assert_eq!((reform.replaced, reform.added), (3, 0));
    assert_eq!(reform.financing.levy_ratio, RatioBp::new(1_200));
    assert_eq!(reform.financing.critical_per_resident_yuan, Financing::default().critical_per_resident_yuan);
    let policy = Policy::from_toml("merged", &merged).expect("the merged pack is valid");
    assert_eq!(tertiary_tier3(&policy, date!(2024 - 12 - 31)), RatioBp::new(6_500), "2024 keeps the pack's value");
    assert_eq!(tertiary_tier3(&policy, date!(2025 - 01 - 01)), RatioBp::new(7_000), "the reform from 2025");
    let base = Policy::from_toml("base", &pack_text()).expect("pack");
    assert_eq!(tertiary_tier3(&base, date!(2025 - 06 - 01)), RatioBp::new(6_500));
}

#[test]
fn bad_reforms_are_refused_with_a_reason() {
    let base = Financing::default();
    for (reform, expected) in [
        ("name = 1", "unknown table [name]"),
        ("[reform]\n", "needs a name"),
        ("[reform]\nname = \"x\"\n[financing]\nlevy_ratio = 12\n", "percentage"),
        ("[reform]\nname = \"x\"\n[financing]\nsurprise = 1\n", "unknown financing.surprise"),
        ("[reform]\nname = \"x\"\n[[param]]\nkey = \"inpatient.ratio\"\n", "values"),
    ] {
        let error = apply_reform(&pack_text(), reform, base).expect_err(reform);
        assert!(error.to_string().contains(expected), "{reform}: {error}");
    }
    // An uncited value passes the overlay but not the pack's loader.
    let uncited = "[reform]\nname = \"x\"\n[[param]]\nkey = \"pooled.annual_cap\"\nscheme = \"resident\"\ntier = 3\nvalues = [{ from = \"2025-01-01\", value = 160000, cite = \"\" }]\n";
    let (merged, _) = apply_reform(&pack_text(), uncited, base).expect("merges");
    assert!(Policy::from_toml("merged", &merged).is_err(), "an uncited value is refused");
}

#[test]
fn the_same_year_under_a_reform_moves_money_only_where_the_reform_says() {
    let city = City::new(Config::new(5_000, 3)).expect("config");
    let base_policy = Policy::from_toml("base", &pack_text()).expect("pack");
    let base = simulate(&city, &base_policy, &SimOptions::default(), &|_| {}).expect("baseline");
    // A reform that changes nothing gives the baseline.
    let (same, nothing) = apply_reform(&pack_text(), "[reform]\nname = \"nothing\"\n", Financing::default()).expect("applies");
    let same = Policy::from_toml("same", &same).expect("valid");
    let again = simulate(&city, &same, &SimOptions { threads: 1, financing: nothing.financing, keep_stays: false }, &|_| {}).expect("same");
    assert_eq!(render(&again), render(&base));

    let (merged, reform) = apply_reform(&pack_text(), &example(), Financing::default()).expect("applies");
    let reformed = Policy::from_toml("merged", &merged).expect("valid");
    let other =
        simulate(&city, &reformed, &SimOptions { threads: 2, financing: reform.financing, keep_stays: false }, &|_| {}).expect("reform");
    assert_eq!(other.claims(), base.claims(), "the same claims");
    assert_eq!(other.refused(), 0);
    let spending =
        |r: &yibao_synth::SimResult, scheme: FundScheme| r.funds.iter().find(|f| f.fund.scheme == scheme).expect("fund").total.spending;
    assert!(spending(&other, FundScheme::Resident) > spending(&base, FundScheme::Resident), "residents' pooled fund pays more");
    assert_eq!(spending(&other, FundScheme::Employee), spending(&base, FundScheme::Employee), "employees are untouched");
    let oop = |r: &yibao_synth::SimResult| r.totals().account + r.totals().cash;
    assert!(oop(&other) < oop(&base), "patients pay less");
    assert_eq!(other.totals().bill, base.totals().bill, "the same bills");
    let levy = |r: &yibao_synth::SimResult| r.funds.iter().find(|f| f.fund.scheme == FundScheme::MunicipalAdjustment).expect("fund").levy;
    assert!(levy(&other) > levy(&base), "a 12% levy takes more than 10%");
    assert!(levy(&other) - levy(&base) > Fen::ZERO);
    let text = render_comparison(&base, &other, &reform.name);
    for expected in ["Reform: Tier-3 residents", "Fund spending per scheme and county", "Out-of-pocket by income group", "balance: reform"]
    {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
}
