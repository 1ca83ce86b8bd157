//! Worked examples by hand (issue 15, item 4): a three-hospital city-year under DIP points
//! where one hospital over-treats and the point value falls, with its monthly advances and
//! year-end clearing; capitation for a township centre; a per-diem stay; readmission,
//! incomplete stays, cases kept out of the points, a global budget, the rate method and the
//! total-cost basis. Every figure in an assertion is computed in the comment above it.

#![allow(clippy::unwrap_used)]

use time::macros::date;
use yibao_domain::{Fen, InstitutionLevel, PersonCategory, RatioBp};
use yibao_payment::{Agreement, Band, Case, Deviation, Method, Methods, OutOfPoints, PaymentPack, Points, YearInput, YearResult, run_year};

/// The test city's payment pack. The all-cases average is 10,000 yuan in each prior year;
/// the groups' base points (scale ×100) are their 1:2:7-weighted averages over it:
/// - I21 with PCI (36.06): (35,000 + 2 × 38,000 + 7 × 41,000) ÷ 10 = 39,800 yuan → 398 points;
/// - I63 (conservative): 10,000 → 100 points; J18 (conservative): 5,000 → 50 points.
const PACK: &str = r#"
[pack]
id = "test-city-payment"
name = "Test city payment methods"
region = "419900"

[[source]]
id = "T"
title = "The test city's payment rules (fictional)"

[[year]]
year = 2025
risk_reserve = "4%"
advance_ratio = "90%"
quality_deposit = "5%"
cite = "T §1"

[year.dip]
scale = 100
basis = "fund"
provisional_value = "90"
low_cost = { ratio = "50%" }
high_cost = { ratio = "200%" }
fee_for_service_above = { ratio = "500%" }
days_max = 60
incomplete_capped = true
readmission = { days = 15, earlier_share = "50%" }
grade_coefficients = { secondary = "0.8" }
year_weights = [1, 2, 7]
all_cases_average = ["10000", "10000", "10000"]
cite = "T §2"

[[year.dip.group]]
code = "I21-PCI"
name = "急性心肌梗死 经皮冠状动脉介入"
diagnosis = "I21"
procedure = "36.06"
average = ["35000", "38000", "41000"]

[[year.dip.group]]
code = "I63"
name = "脑梗死 保守治疗"
diagnosis = "I63"
average = ["10000", "10000", "10000"]

[[year.dip.group]]
code = "J18"
name = "肺炎 保守治疗"
diagnosis = "J18"
points = "50"

[[year.per_diem]]
name = "精神病住院 (psychiatric stays)"
diagnoses = ["F20"]
rate = "200"
cap = "110%"
cite = "T §3"

[year.capitation]
rate = "60"
held_back = "10%"
cite = "T §4"

[year.clearing]
surplus = [{ up_to = "10%", share = "100%" }, { up_to = "20%", share = "50%" }]
overspend = [{ up_to = "10%", share = "70%" }, { up_to = "20%", share = "30%" }]
overspend_cap = "8%"
cite = "T §5"
"#;

fn pack() -> PaymentPack {
    PaymentPack::parse(PACK).unwrap()
}

fn yuan(text: &str) -> Fen {
    Fen::parse_yuan(text).unwrap()
}

/// A case: `institution`, `claim`, main diagnosis and procedure, admission and discharge,
/// the bill's total and the fund's part (80% unless said).
#[allow(clippy::too_many_arguments)]
fn case(
    institution: &str,
    claim: &str,
    diagnosis: &str,
    procedure: Option<&str>,
    admission: time::Date,
    discharge: time::Date,
    total: &str,
    fund: &str,
) -> Case {
    Case {
        institution: institution.into(),
        level: None,
        claim_id: claim.into(),
        person: format!("person-{claim}"),
        category: PersonCategory::Resident,
        admission,
        discharge,
        main_diagnosis: diagnosis.into(),
        main_procedure: procedure.map(Into::into),
        incomplete: false,
        single_disease: false,
        total: yuan(total),
        fund: yuan(fund),
        self_pay: Fen::ZERO,
        deductible: Fen::ZERO,
        ratio: RatioBp::new(8_000),
    }
}

fn agreement(institution: &str, level: InstitutionLevel, assessment_bp: u32) -> Agreement {
    Agreement {
        institution: institution.into(),
        level,
        methods: Methods { points: true, per_diem: true },
        capitation_enrolled: None,
        global_budget: None,
        assessment: RatioBp::new(assessment_bp),
        deductions: Fen::ZERO,
        months_in_force: Agreement::WHOLE_YEAR,
        days_in_force: 365,
    }
}

/// The test pack's 2025 with nothing spent outside the methods.
fn year_2025(pack: &PaymentPack, income: Fen, agreements: &[Agreement], cases: &[Case]) -> YearResult {
    run_year(&YearInput { pack, year: 2025, fund_income: income, outside_spending: Fen::ZERO, agreements, cases }).unwrap()
}

fn institution<'r>(result: &'r YearResult, code: &str) -> &'r yibao_payment::InstitutionYear {
    result.institutions.iter().find(|i| i.institution == code).unwrap()
}

/// Hospital A (tertiary) treats 2 PCI cases at 40,000 and 4 strokes at 10,000, in March.
/// Hospital C (secondary, coefficient 0.8) treats 4 strokes at 8,000 and a pneumonia at
/// 1,600, in June. Hospital B (tertiary) treats like A, `strokes` strokes at 12,000 and,
/// when over-treating, a pneumonia at 15,000, in March.
fn three_hospitals(strokes: usize, over_treats: bool) -> Vec<Case> {
    let (march, march_end, june, june_end) = (date!(2025 - 03 - 01), date!(2025 - 03 - 08), date!(2025 - 06 - 01), date!(2025 - 06 - 08));
    let mut cases = Vec::new();
    for n in 0..2 {
        cases.push(case("A", &format!("A-PCI-{n}"), "I21.0", Some("36.0601"), march, march_end, "40000", "32000"));
        cases.push(case("B", &format!("B-PCI-{n}"), "I21.0", Some("36.0601"), march, march_end, "40000", "32000"));
    }
    for n in 0..4 {
        cases.push(case("A", &format!("A-I63-{n}"), "I63.9", None, march, march_end, "10000", "8000"));
        cases.push(case("C", &format!("C-I63-{n}"), "I63.9", None, june, june_end, "8000", "6400"));
    }
    for n in 0..strokes {
        cases.push(case("B", &format!("B-I63-{n}"), "I63.9", None, march, march_end, "12000", "9600"));
    }
    if over_treats {
        cases.push(case("B", "B-J18", "J18.9", None, march, march_end, "15000", "12000"));
    }
    cases.push(case("C", "C-J18", "J18.9", None, june, june_end, "1600", "1280"));
    cases
}

fn three_agreements(b_deductions: Fen) -> Vec<Agreement> {
    vec![
        agreement("A", InstitutionLevel::Tertiary, 10_000),
        Agreement { deductions: b_deductions, ..agreement("B", InstitutionLevel::Tertiary, 9_000) },
        agreement("C", InstitutionLevel::Secondary, 10_000),
    ]
}

#[test]
fn three_hospitals_under_dip_where_one_over_treats() {
    let pack = pack();
    assert_eq!(pack.years[0].dip.as_ref().unwrap().groups[0].points, Points::whole(398));
    let cases = three_hospitals(8, true);
    let agreements = three_agreements(yuan("1000"));
    let input = YearInput {
        pack: &pack,
        year: 2025,
        fund_income: yuan("269000"),
        outside_spending: Fen::ZERO,
        agreements: &agreements,
        cases: &cases,
    };
    let result = run_year(&input).unwrap();

    // Points. A: 2 × 398 + 4 × 100 = 1,196. B: 2 × 398 + 8 × 100 (12,000 is 120% of the
    // 10,000 reference: normal) + the pneumonia at 15,000 = 300% of 5,000, above 200%:
    // (3 − 2 + 1) × 50 = 100; B = 1,696. C (coefficient 0.8): strokes 80 points each on a
    // reference of 8,000 = 320; the pneumonia at 1,600 is 40% of its 4,000 reference,
    // below 50%: 0.4 × 40 = 16; C = 336. All: 3,228.
    let points = |code| institution(&result, code).points;
    assert_eq!((points("A"), points("B"), points("C")), (Points::whole(1_196), Points::whole(1_696), Points::whole(336)));
    assert_eq!(result.points, Points::whole(3_228));
    let band_of = |claim: &str| match &result.cases.iter().find(|c| c.claim_id == claim).unwrap().method {
        Method::Points { band, .. } => *band,
        other => panic!("{claim}: {other:?}"),
    };
    assert_eq!((band_of("B-J18"), band_of("C-J18"), band_of("B-I63-0")), (Band::HighCost, Band::LowCost, Band::Normal));

    // Budget: 269,000 − 4% (10,760) = 258,240; no other method takes any of it, so the
    // point value is 258,240 ÷ 3,228 = 80 yuan (the provisional value was 90).
    assert_eq!((result.risk_reserve, result.budget, result.points_pool), (yuan("10760"), yuan("258240"), yuan("258240")));
    assert_eq!(result.point_value_yuan.as_deref(), Some("80.000000"));
    assert_eq!(result.provisional_value_yuan.as_deref(), Some("90.000000"));

    // Clearing. A: standard 1,196 × 80 = 95,680 against a bill of 2 × 32,000 + 4 × 8,000 =
    // 96,000: an overspend of 320, inside the first band, covered 70% = 224: 95,904.
    let a = institution(&result, "A");
    let cleared = a.points_clearing.unwrap();
    assert_eq!((cleared.standard, cleared.billed, cleared.deviation), (yuan("95680"), yuan("96000"), Deviation::Overspend));
    assert_eq!((cleared.shared, cleared.paid), (yuan("224"), yuan("95904")));
    // B: standard 1,696 × 80 = 135,680 against 64,000 + 8 × 9,600 + 12,000 = 152,800: an
    // overspend of 17,120 = 13,568 (10% of the standard) × 70% = 9,497.60 + 3,552 × 30% =
    // 1,065.60 → 10,563.20 covered (below the 8% cap of 10,854.40): 146,243.20.
    let b = institution(&result, "B");
    let cleared = b.points_clearing.unwrap();
    assert_eq!((cleared.standard, cleared.billed), (yuan("135680"), yuan("152800")));
    assert_eq!((cleared.shared, cleared.paid), (yuan("10563.20"), yuan("146243.20")));
    // C: 336 × 80 = 26,880 against 4 × 6,400 + 1,280 = 26,880: even.
    let c = institution(&result, "C");
    assert_eq!(c.points_clearing.unwrap().deviation, Deviation::Even);
    assert_eq!(c.earned, yuan("26880"));

    // Advances, at the provisional 90 yuan: A in March 1,196 × 90 = 107,640, advanced 90%
    // = 96,876, 5% of it withheld (4,843.80): paid 92,032.20.
    let march = a.months[2];
    assert_eq!(
        (march.provisional, march.advance, march.deposit, march.paid),
        (yuan("107640"), yuan("96876"), yuan("4843.80"), yuan("92032.20"))
    );
    assert!(a.months.iter().filter(|m| m.month != 3).all(|m| m.paid == Fen::ZERO));
    // B: 1,696 × 90 = 152,640 → 137,376 advanced, 6,868.80 withheld, 130,507.20 paid.
    // C in June: 336 × 90 = 30,240 → 27,216, 1,360.80 withheld, 25,855.20 paid.
    assert_eq!((b.months[2].advance, b.months[2].paid), (yuan("137376"), yuan("130507.20")));
    assert_eq!((c.months[5].advance, c.months[5].paid), (yuan("27216"), yuan("25855.20")));

    // The year end. A (assessed 100%): the deposit comes back whole: payable 95,904,
    // balance 95,904 − 92,032.20 = 3,871.80. B (assessed 90%): 6,181.92 of its 6,868.80
    // comes back (686.88 forfeited) and an inspection took 1,000: payable 146,243.20 −
    // 686.88 − 1,000 = 144,556.32, balance 144,556.32 − 130,507.20 = 14,049.12. C: 26,880 −
    // 25,855.20 = 1,024.80.
    assert_eq!((a.payable, a.balance), (yuan("95904"), yuan("3871.80")));
    assert_eq!((b.deposit_withheld, b.deposit_returned), (yuan("6868.80"), yuan("6181.92")));
    assert_eq!((b.payable, b.balance), (yuan("144556.32"), yuan("14049.12")));
    assert_eq!((c.payable, c.balance), (yuan("26880"), yuan("1024.80")));
    // What the method changed against fee-for-service: B is paid 8,243.68 less than it billed.
    assert_eq!(b.against_billed, yuan("-8243.68"));
    // The year paid 267,340.32 against a budget of 258,240: 9,100.32 over, for the risk
    // reserve (10,760) to cover.
    assert_eq!(result.over_budget, yuan("9100.32"));
}

#[test]
fn over_treatment_lowers_the_point_value_for_everyone() {
    let pack = pack();
    let agreements = three_agreements(Fen::ZERO);
    let run = |cases: &[Case]| {
        run_year(&YearInput {
            pack: &pack,
            year: 2025,
            fund_income: yuan("269000"),
            outside_spending: Fen::ZERO,
            agreements: &agreements,
            cases,
        })
        .unwrap()
    };
    // Had B treated like A (4 strokes, no pneumonia), all points would be 1,196 × 2 + 336 =
    // 2,728 and the point value 258,240 ÷ 2,728 = 94.662757 yuan; its extra 500 points
    // bring it to 80 for A and C too.
    let modest = run(&three_hospitals(4, false));
    let over = run(&three_hospitals(8, true));
    assert_eq!(modest.point_value_yuan.as_deref(), Some("94.662757"));
    assert_eq!(over.point_value_yuan.as_deref(), Some("80.000000"));
    let earned = |r: &YearResult, code| institution(r, code).earned;
    assert!(earned(&over, "A") < earned(&modest, "A"));
    assert!(earned(&over, "C") < earned(&modest, "C"));
    // points-pay-the-pool: with the exact value, the standards add up to the pool.
    let standards: Fen = modest.institutions.iter().map(|i| i.points_clearing.unwrap().standard).fold(Fen::ZERO, |a, b| a + b);
    assert_eq!(standards, modest.points_pool);
}

#[test]
fn capitation_for_a_township_centre() {
    let pack = pack();
    // 2,000 persons enrolled at 60 yuan a year = 120,000; 10% (12,000) held back until the
    // assessment, the other 108,000 paid in twelfths of 9,000; assessed at 80%, 9,600 of
    // the held-back part is earned: 117,600 in all, and 9,600 is the balance at the year end.
    let agreements = vec![Agreement {
        capitation_enrolled: Some(2_000),
        methods: Methods::default(),
        ..agreement("T", InstitutionLevel::Township, 8_000)
    }];
    let result = year_2025(&pack, yuan("200000"), &agreements, &[]);
    let t = institution(&result, "T");
    assert!(t.months.iter().all(|m| m.capitation == yuan("9000") && m.paid == yuan("9000")));
    assert_eq!((t.capitation, t.paid_in_year, t.balance), (yuan("117600"), yuan("108000"), yuan("9600")));
    // No points this year: no point value, and capitation is what the budget spent.
    assert_eq!((result.point_value_yuan, result.other_methods), (None, yuan("117600")));
}

#[test]
fn a_per_diem_stay_and_cases_kept_out_of_the_points() {
    let pack = pack();
    let agreements = vec![agreement("S", InstitutionLevel::Secondary, 10_000)];
    let mut incomplete =
        case("S", "S-PCI-incomplete", "I21.0", Some("36.0601"), date!(2025 - 04 - 01), date!(2025 - 04 - 03), "15920", "12736");
    incomplete.incomplete = true;
    let mut fixed = case("S", "S-single", "K35.8", None, date!(2025 - 04 - 01), date!(2025 - 04 - 05), "6000", "4800");
    fixed.single_disease = true;
    let cases = vec![
        // 30 days at 200 yuan = 6,000, capped at 110% of the claim's fund part 5,000 = 5,500.
        case("S", "S-F20", "F20.0", None, date!(2025 - 01 - 01), date!(2025 - 01 - 31), "6250", "5000"),
        // 90 days of pneumonia: longer than 60 days and no per-diem rate: fee-for-service.
        case("S", "S-long", "J18.9", None, date!(2025 - 01 - 01), date!(2025 - 04 - 01), "30000", "24000"),
        // A stroke at 42,000: 525% of the secondary reference of 8,000, above 500%.
        case("S", "S-beyond", "I63.9", None, date!(2025 - 05 - 01), date!(2025 - 05 - 09), "42000", "33600"),
        // No group takes a fracture of the femur.
        case("S", "S-ungrouped", "S72.0", None, date!(2025 - 05 - 01), date!(2025 - 05 - 09), "20000", "16000"),
        // An incomplete PCI stay at 15,920, half the secondary reference of 31,840: points
        // by its cost, 318.4 × 0.5 = 159.2, never above its base.
        incomplete,
        fixed,
    ];
    let result = year_2025(&pack, yuan("500000"), &agreements, &cases);
    let method = |claim: &str| result.cases.iter().find(|c| c.claim_id == claim).unwrap().method.clone();
    assert_eq!(method("S-F20"), Method::PerDiem { rate: "精神病住院 (psychiatric stays)".into(), days: 30, amount: yuan("5500") });
    assert_eq!(method("S-long"), Method::FeeForService { reason: OutOfPoints::TooLong });
    assert_eq!(method("S-beyond"), Method::FeeForService { reason: OutOfPoints::CostBeyondBound });
    assert_eq!(method("S-ungrouped"), Method::FeeForService { reason: OutOfPoints::Ungrouped });
    assert_eq!(method("S-single"), Method::FeeForService { reason: OutOfPoints::SingleDisease });
    assert!(
        matches!(method("S-PCI-incomplete"), Method::Points { points, band: Band::Normal, .. } if points == Points::parse("159.2").unwrap())
    );
    let s = institution(&result, "S");
    // Per diem 5,500; fee-for-service 24,000 + 33,600 + 16,000 + 4,800 = 78,400.
    assert_eq!((s.per_diem, s.fee_for_service), (yuan("5500"), yuan("78400")));
    // The only point case takes the pool: 500,000 − 4% = 480,000 − 83,900 = 396,100,
    // against its bill of 12,736: a surplus far beyond the bands: it keeps 10% of the
    // standard + 50% of the next 10% = 15% of 396,100 = 59,415, paid 12,736 + 59,415.
    let cleared = s.points_clearing.unwrap();
    assert_eq!((cleared.standard, cleared.shared, cleared.paid), (yuan("396100"), yuan("59415"), yuan("72151")));
}

#[test]
fn a_readmission_reduces_the_earlier_stay() {
    let pack = pack();
    let agreements = vec![agreement("A", InstitutionLevel::Tertiary, 10_000)];
    let mut first = case("A", "first", "I63.9", None, date!(2025 - 03 - 01), date!(2025 - 03 - 10), "10000", "8000");
    let mut again = case("A", "again", "I63.9", None, date!(2025 - 03 - 25), date!(2025 - 04 - 02), "10000", "8000");
    let mut late = case("A", "late", "I63.9", None, date!(2025 - 05 - 01), date!(2025 - 05 - 09), "10000", "8000");
    for c in [&mut first, &mut again, &mut late] {
        c.person = "P".into();
    }
    // "again" begins 15 days after "first" ended (within 15): "first" counts 50 points;
    // "late" begins 29 days after "again": no reduction. 50 + 100 + 100 = 250.
    let cases = vec![late, again, first];
    let result = year_2025(&pack, yuan("100000"), &agreements, &cases);
    let outcome = |claim: &str| result.cases.iter().find(|c| c.claim_id == claim).unwrap().clone();
    assert!(outcome("first").reduced_for_readmission && outcome("first").points == Points::whole(50));
    assert!(!outcome("again").reduced_for_readmission && !outcome("late").reduced_for_readmission);
    assert_eq!(result.points, Points::whole(250));
}

#[test]
fn a_global_budget_is_cleared_by_the_bands() {
    let pack = pack();
    // D (primary) has a global budget of 50,000 and no points; it billed 60,000: an
    // overspend of 20% = 5,000 × 70% + 5,000 × 30% = 5,000, capped at 8% = 4,000: 54,000.
    let agreements = vec![Agreement {
        methods: Methods::default(),
        global_budget: Some(yuan("50000")),
        ..agreement("D", InstitutionLevel::Primary, 10_000)
    }];
    let cases: Vec<Case> = (0..6)
        .map(|n| case("D", &format!("D-{n}"), "J18.9", None, date!(2025 - 02 - 01), date!(2025 - 02 - 05), "12500", "10000"))
        .collect();
    let result = year_2025(&pack, yuan("60000"), &agreements, &cases);
    let d = institution(&result, "D");
    let cleared = d.budget_clearing.unwrap();
    assert_eq!((cleared.billed, cleared.shared, cleared.paid), (yuan("60000"), yuan("4000"), yuan("54000")));
    assert_eq!((d.fee_for_service, d.earned), (Fen::ZERO, yuan("54000")));
    // Advanced in February: 60,000 × 90% = 54,000, 2,700 withheld; the deposit returns
    // whole, so the year end pays 54,000 − 51,300 = 2,700.
    assert_eq!((d.paid_in_year, d.balance), (yuan("51300"), yuan("2700")));
}

#[test]
fn the_rate_method_and_the_total_cost_basis() {
    // Rate method (费率法): 120 yuan per point; a stroke of 100 points is worth 12,000; the
    // patient paid 500 wholly themselves and a deductible of 1,000: (12,000 − 500 − 1,000)
    // × 80% = 8,400 from the fund, whatever the year's budget.
    let rate = PACK.replace("basis = \"fund\"", "basis = \"rate\"\nrate = \"120\"");
    let pack = PaymentPack::parse(&rate).unwrap();
    let agreements = vec![agreement("A", InstitutionLevel::Tertiary, 10_000)];
    let mut stroke = case("A", "stroke", "I63.9", None, date!(2025 - 03 - 01), date!(2025 - 03 - 08), "10000", "8000");
    stroke.self_pay = yuan("500");
    stroke.deductible = yuan("1000");
    let cases = vec![stroke.clone()];
    let result = year_2025(&pack, yuan("1"), &agreements, &cases);
    assert_eq!(institution(&result, "A").points_clearing.unwrap().standard, yuan("8400"));

    // Total-cost basis: the pool of 258,240 is divided by the cases' reimbursement ratio
    // (8,000 ÷ 10,000): 322,800 of total cost, over the one case's 100 points: 3,228 yuan a
    // point; the case is worth 322,800 in total cost, less the 2,000 its patient paid.
    let total = PACK.replace("basis = \"fund\"", "basis = \"total-cost\"");
    let pack = PaymentPack::parse(&total).unwrap();
    let result = year_2025(&pack, yuan("269000"), &agreements, &cases);
    assert_eq!(result.point_value_yuan.as_deref(), Some("3228.000000"));
    assert_eq!(institution(&result, "A").points_clearing.unwrap().standard, yuan("320800"));
}

#[test]
fn a_year_refuses_what_it_cannot_pay() {
    let pack = pack();
    let agreements = vec![agreement("A", InstitutionLevel::Tertiary, 10_000)];
    let run = |cases: &[Case], year| {
        run_year(&YearInput { pack: &pack, year, fund_income: yuan("1000"), outside_spending: Fen::ZERO, agreements: &agreements, cases })
    };
    let good = case("A", "x", "I63.9", None, date!(2025 - 03 - 01), date!(2025 - 03 - 08), "100", "80");
    assert!(matches!(run(std::slice::from_ref(&good), 2024), Err(yibao_payment::YearError::NoTerms(2024))));
    assert!(matches!(run(&[good.clone(), good.clone()], 2025), Err(yibao_payment::YearError::DuplicateCase { .. })));
    let elsewhere = Case { institution: "Z".into(), ..good.clone() };
    assert!(matches!(run(&[elsewhere], 2025), Err(yibao_payment::YearError::NoAgreement { .. })));
    let next_year = Case { discharge: date!(2026 - 01 - 02), ..good.clone() };
    assert!(matches!(run(&[next_year], 2025), Err(yibao_payment::YearError::OutsideYear { .. })));
    let fund_above_bill = Case { fund: yuan("200"), ..good };
    assert!(matches!(run(&[fund_above_bill], 2025), Err(yibao_payment::YearError::BadAmounts { .. })));
}

#[test]
fn suspended_months_earn_no_capitation_and_shrink_a_global_budget() {
    let pack = pack();
    // Suspended from 1 July on: capitation for January to June only, 2,000 × 60 × 6/12 =
    // 60,000, 10% held back (6,000) and 54,000 paid in six months of 9,000; the held-back
    // part returns at the 80% assessment: 4,800. A global budget of 36,500 for the 181 days
    // of 2025 before 1 July (365 days): 36,500 × 181/365 = 18,100.
    let mut months = [false; 12];
    months[..6].fill(true);
    let agreements = vec![Agreement {
        capitation_enrolled: Some(2_000),
        methods: Methods::default(),
        global_budget: Some(yuan("36500")),
        months_in_force: months,
        days_in_force: 181,
        ..agreement("T", InstitutionLevel::Township, 8_000)
    }];
    let result = year_2025(&pack, yuan("200000"), &agreements, &[]);
    let t = institution(&result, "T");
    assert!(t.months[..6].iter().all(|m| m.capitation == yuan("9000")) && t.months[6..].iter().all(|m| m.capitation == Fen::ZERO));
    assert_eq!(t.capitation, yuan("58800"));
    // Nothing billed against the budget: a surplus of all of it, 10% kept whole and 50% of
    // the next 10%: 1,810 + 905 = 2,715.
    assert_eq!(t.budget_clearing.unwrap().standard, yuan("18100"));
    assert_eq!(t.budget_clearing.unwrap().paid, yuan("2715"));
}

#[test]
fn spending_outside_the_methods_and_the_level_of_the_day() {
    let pack = pack();
    let agreements = three_agreements(Fen::ZERO);
    // The three hospitals' year with 58,240 yuan of outpatient spending from the same funds:
    // the pool falls to 200,000 over 3,228 points: 61.957869 yuan a point.
    let cases = three_hospitals(8, true);
    let input = YearInput {
        pack: &pack,
        year: 2025,
        fund_income: yuan("269000"),
        outside_spending: yuan("58240"),
        agreements: &agreements,
        cases: &cases,
    };
    let result = run_year(&input).unwrap();
    assert_eq!((result.points_pool, result.point_value_yuan.as_deref()), (yuan("200000"), Some("61.957869")));
    // C's stays were given at the tertiary level of their day (C was upgraded later): no
    // 0.8 coefficient, so its four strokes count 100 points each and its pneumonia at 1,600
    // (32% of 5,000) 16 points: 416.
    let mut upgraded = cases.clone();
    for case in upgraded.iter_mut().filter(|c| c.institution == "C") {
        case.level = Some(InstitutionLevel::Tertiary);
    }
    let result = run_year(&YearInput { cases: &upgraded, ..input }).unwrap();
    assert_eq!(institution(&result, "C").points, Points::whole(416));
}

#[test]
fn a_point_worth_more_than_a_million_is_refused_not_paid() {
    // One near-free stay (3 fen, 0.0003 points at 0.006% of its group's cost) against a
    // budget of ten billion: the year is refused with its figures.
    let pack = pack();
    let agreements = vec![agreement("A", InstitutionLevel::Tertiary, 10_000)];
    let cases = vec![case("A", "tiny", "J18.9", None, date!(2025 - 03 - 01), date!(2025 - 03 - 02), "0.03", "0.02")];
    let income = Fen::checked_total(1_000_000_000_000).unwrap();
    let refused = run_year(&YearInput {
        pack: &pack,
        year: 2025,
        fund_income: income,
        outside_spending: Fen::ZERO,
        agreements: &agreements,
        cases: &cases,
    });
    assert!(matches!(refused, Err(yibao_payment::YearError::PointValueOutOfRange { .. })), "{refused:?}");
}
