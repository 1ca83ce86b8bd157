//! The payment year's cost: `cargo bench -p yibao-payment --bench year`. A city of 2,000
//! designated institutions and 400,000 inpatient stays (about a city of 2.6 million insured)
//! under the demo pack's 2025 DIP table: every case grouped and pointed, readmissions found,
//! the point value computed and every institution's months and clearing.

use divan::Bencher;
use time::macros::date;
use yibao_domain::{Fen, InstitutionLevel, PersonCategory, RatioBp};
use yibao_payment::{Agreement, Case, Methods, PaymentPack, YearInput, run_year};

fn main() {
    divan::main();
}

const PACK: &str = include_str!("../../../policies/payment/demo-city.toml");
const DIAGNOSES: [(&str, Option<&str>); 8] = [
    ("J18.900", None),
    ("I63.900", None),
    ("I25.100", Some("36.0601")),
    ("K80.100", Some("51.2300")),
    ("S72.000", Some("81.5100")),
    ("C34.900", None),
    ("F20.900", None),
    ("Q99.900", None),
];

fn city(institutions: usize, cases: usize) -> (Vec<Agreement>, Vec<Case>) {
    let levels = [InstitutionLevel::Tertiary, InstitutionLevel::Secondary, InstitutionLevel::Primary, InstitutionLevel::Township];
    let agreements = (0..institutions)
        .map(|n| Agreement {
            institution: format!("H4199{n:07}"),
            level: levels[n % 4],
            methods: Methods { points: n % 4 != 3, per_diem: true },
            capitation_enrolled: (n % 4 == 3).then_some(5_000),
            global_budget: None,
            assessment: RatioBp::new(9_500),
            deductions: Fen::ZERO,
            months_in_force: Agreement::WHOLE_YEAR,
            days_in_force: 365,
        })
        .collect();
    let start = date!(2025 - 01 - 01);
    let cases = (0..cases)
        .map(|n| {
            let (diagnosis, procedure) = DIAGNOSES[n % DIAGNOSES.len()];
            let admission = start + time::Duration::days(i64::try_from(n % 350).unwrap_or(0));
            let total = Fen::yuan(1_000 + i64::try_from(n % 40_000).unwrap_or(0));
            Case {
                institution: format!("H4199{:07}", n % institutions),
                level: None,
                claim_id: format!("C{n}"),
                person: format!("P{}", n / 3),
                category: PersonCategory::Resident,
                admission,
                discharge: admission + time::Duration::days(i64::try_from(1 + n % 12).unwrap_or(1)),
                main_diagnosis: diagnosis.into(),
                main_procedure: procedure.map(Into::into),
                incomplete: n % 50 == 0,
                single_disease: false,
                total,
                fund: yibao_domain::Rounding::HalfUp.apply(total, RatioBp::new(7_000)),
                self_pay: Fen::ZERO,
                deductible: Fen::ZERO,
                ratio: RatioBp::new(7_000),
            }
        })
        .collect();
    (agreements, cases)
}

#[divan::bench(args = [40_000, 400_000], sample_count = 5)]
fn year(bencher: Bencher, cases: usize) {
    let pack = PaymentPack::parse(PACK).expect("the demo pack");
    let (agreements, cases) = city(2_000, cases);
    bencher.bench(|| {
        let input = YearInput {
            pack: &pack,
            year: 2025,
            fund_income: Fen::yuan(2_000_000_000),
            outside_spending: Fen::ZERO,
            agreements: &agreements,
            cases: &cases,
        };
        run_year(divan::black_box(&input)).expect("a year")
    });
}
