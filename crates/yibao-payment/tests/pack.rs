//! The payment pack's loader refuses a broken pack with every problem at once, each with
//! its place and a stable code.

#![allow(clippy::unwrap_used)]

use yibao_payment::PaymentPack;

const DEMO: &str = include_str!("../../../policies/payment/demo-city.toml");

/// Applies `(from, to)` replacements to the demo pack and returns the loader's codes and
/// messages, one per line.
fn check(edits: &[(&str, &str)]) -> String {
    let mut text = DEMO.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "the demo pack holds {from:?}");
        text = text.replacen(from, to, 1);
    }
    match PaymentPack::parse(&text) {
        Ok(_) => "ok".into(),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn the_demo_pack_is_whole() {
    assert_eq!(check(&[]), "ok");
    let pack = PaymentPack::parse(DEMO).unwrap();
    // (36,000 + 2 × 35,000 + 7 × 33,000) ÷ 10 = 33,700 over (8,600 + 2 × 9,100 + 7 × 9,500)
    // ÷ 10 = 9,330: 3,370,000 ÷ 9,330 = 361.200428… → 361.2004 points at scale ×100.
    let stent = pack.years[0].dip.as_ref().unwrap().groups.iter().find(|g| g.code == "I25-36.06").unwrap();
    assert_eq!((stent.average.to_string(), stent.points.to_string()), ("33700.00".into(), "361.2004".into()));
}

#[test]
fn every_problem_is_reported_at_once() {
    let report = check(&[
        ("risk_reserve = \"5%\"", "risk_reserve = \"105%\""),
        ("scale = 100", "scale = 7"),
        ("cite = \"assumption: a 5% risk reserve", "cite = \"DIP §3 a 5% risk reserve"),
        ("procedure = \"47.09\"", "procedure = \"4709\""),
        ("code = \"K35-C\"", "code = \"J18-C\""),
        ("average = [\"2600\", \"2700\", \"2800\"]", "average = [\"2600\", \"2700\"]"),
        ("level = \"primary\"", "level = \"primary\"\ncategory = \"pensioner\""),
        (
            "overspend = [{ up_to = \"10%\", share = \"70%\" }, { up_to = \"20%\"",
            "overspend = [{ up_to = \"30%\", share = \"70%\" }, { up_to = \"20%\"",
        ),
    ]);
    for expected in [
        "year 2025: risk_reserve: ratio '105%' is over 100% [payment.bad_value]",
        "year 2025, dip: scale 7 is not 1, 10, 100, 1000 or 10000 [payment.bad_value]",
        "year 2025: citation 'DIP §3",
        "[payment.bad_citation]",
        "procedure '4709' is not an ICD-9-CM-3 code",
        "year 2025, dip group J18-C: group code listed twice [payment.overlap]",
        "average gives one average per weighted year (3 of them)",
        "category 'pensioner' is not employed, retired or resident",
        "overspend: bands rise strictly",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
}

#[test]
fn overlaps_and_unknown_fields_are_refused() {
    // Two equally specific per-diem rates for the same stays.
    let report = check(&[("level = \"primary\"\n", "")]);
    assert!(report.contains("applies to the same stays at the same level and category [payment.overlap]"), "{report}");
    // A year twice, and out of order.
    let report = check(&[("year = 2026", "year = 2025")]);
    assert!(report.contains("year 2025: payment years are given once each, in order [payment.overlap]"), "{report}");
    // A field the format does not know: the whole file is refused with where it is.
    let report = check(&[("days_min = 1", "days_min = 1\nday_max = 60")]);
    assert!(report.contains("unknown field `day_max`") && report.contains("[payment.syntax]"), "{report}");
    // The same diagnosis and procedure in two groups.
    let report = check(&[("diagnosis = \"A09\"", "diagnosis = \"J18\"")]);
    assert!(report.contains("group J18-C has the same diagnosis and procedure [payment.overlap]"), "{report}");
}

/// The format's example in `docs/payment-packs.md` is a whole pack that reads.
#[test]
fn the_documented_example_reads() {
    let doc = include_str!("../../../docs/payment-packs.md");
    let start = doc.find("```toml\n").expect("the doc has a TOML example") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("the example ends");
    let pack = PaymentPack::parse(&doc[start..end]).unwrap_or_else(|e| panic!("the documented example: {e}"));
    assert_eq!((pack.id.as_str(), pack.years.len()), ("example-payment", 1));
    let dip = pack.years[0].dip.as_ref().unwrap();
    assert_eq!(dip.groups.len(), 2);
    assert_eq!(
        dip.groups[0].points,
        yibao_payment::Points::parse("361.2004").unwrap(),
        "the same stent group as the demo pack's 2025 table"
    );
}

#[test]
fn figures_no_year_could_pay_are_refused_by_the_loader() {
    let report = check(&[
        ("average = [\"5200\", \"5400\", \"5600\"]", "points = \"100000000000\""),
        ("provisional_value = \"95\"", "provisional_value = \"999999999999\""),
        ("rate = \"260\"", "rate = \"100000000\""),
        ("rate = \"60\"", "rate = \"200000\""),
    ]);
    for expected in [
        "a group is worth at most",
        "provisional_value: at most 1000000 yuan a point",
        "a per-diem rate is above zero and at most 100000.00 yuan",
        "rate: at most 100000.00 yuan a person",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
}
