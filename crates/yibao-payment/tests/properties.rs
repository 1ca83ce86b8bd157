//! The crate's invariants over generated years (lib.rs): `clearing-between`,
//! `points-pay-the-pool`, `year-balances`, `patient-side-untouched`.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use time::macros::date;
use yibao_domain::{Fen, InstitutionLevel, PersonCategory, RatioBp, Rounding};
use yibao_payment::{Agreement, Case, ClearingBand, Methods, PaymentPack, YearInput, clear, run_year, split};

const PACK: &str = include_str!("../../../policies/payment/demo-city.toml");

fn clearing_bands() -> impl Strategy<Value = Vec<ClearingBand>> {
    prop::collection::vec((1u32..=3_000, 0u32..=10_000), 0..4).prop_map(|raw| {
        let mut up_to = 0;
        raw.into_iter()
            .map(|(step, share)| {
                up_to += step;
                ClearingBand { up_to: RatioBp::new(up_to.min(10_000)), share: RatioBp::new(share) }
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn clearing_between(standard in 0i64..10_000_000_000, billed in 0i64..10_000_000_000, surplus in clearing_bands(), overspend in clearing_bands(), cap in prop::option::of(0u32..=10_000)) {
        let clearing = yibao_payment::Clearing { surplus, overspend, surplus_cap: cap.map(RatioBp::new), overspend_cap: cap.map(RatioBp::new), cite: "assumption: generated".into() };
        let (standard, billed) = (Fen::new(standard), Fen::new(billed));
        let cleared = clear(standard, billed, &clearing, Rounding::HalfUp);
        prop_assert!(cleared.paid >= standard.min(billed) && cleared.paid <= standard.max(billed));
    }

    #[test]
    fn a_split_adds_up(total in 0i64..1_000_000_000_000, weights in prop::collection::vec(0i64..1_000_000_000, 1..50)) {
        let weights: Vec<Fen> = weights.into_iter().map(Fen::new).collect();
        let shares = split(Fen::new(total), &weights, Rounding::HalfUp);
        prop_assert_eq!(shares.iter().fold(Fen::ZERO, |a, b| a + *b), Fen::new(total));
        prop_assert!(shares.iter().all(|s| !s.is_negative()));
    }

    #[test]
    fn a_year_balances(raw in prop::collection::vec((0usize..4, 0usize..6, 1u8..=12, 1i64..40, 100i64..200_000, 0u32..=10_000, any::<bool>()), 0..80), income in 0i64..5_000_000, assessment in 0u32..=10_000) {
        let pack = PaymentPack::parse(PACK).unwrap();
        let year = pack.years[0].year;
        assert!(matches!(pack.years[0].dip.as_ref().unwrap().basis, yibao_payment::ValueBasis::Fund));
        let diagnoses = [("I21.0", Some("36.0601")), ("I63.9", None), ("J18.9", None), ("F20.0", None), ("S72.0", None), ("K35.8", None)];
        let levels = [InstitutionLevel::Tertiary, InstitutionLevel::Secondary, InstitutionLevel::Primary, InstitutionLevel::Township];
        let agreements: Vec<Agreement> = levels.iter().enumerate().map(|(n, level)| Agreement {
            institution: format!("H{n}"),
            level: *level,
            methods: Methods { points: n != 2, per_diem: n != 3 },
            capitation_enrolled: (n == 3).then_some(1_000),
            global_budget: (n == 2).then(|| Fen::yuan(300_000)),
            assessment: RatioBp::new(assessment),
            deductions: Fen::ZERO,
            months_in_force: Agreement::WHOLE_YEAR,
            days_in_force: 365,
        }).collect();
        let cases: Vec<Case> = raw.iter().enumerate().map(|(n, (inst, diag, month, days, total, fund_share, incomplete))| {
            let discharge = time::Date::from_calendar_date(year, time::Month::try_from(*month).unwrap(), 28).unwrap();
            let total = Fen::new(*total * 100);
            Case {
                institution: format!("H{inst}"),
                level: None,
                claim_id: format!("c{n}"),
                person: format!("p{}", n % 7),
                category: PersonCategory::Resident,
                admission: discharge - time::Duration::days(*days),
                discharge,
                main_diagnosis: diagnoses[*diag].0.into(),
                main_procedure: diagnoses[*diag].1.map(Into::into),
                incomplete: *incomplete,
                single_disease: *diag == 5,
                total,
                fund: Rounding::HalfUp.apply(total, RatioBp::new(*fund_share)),
                self_pay: Fen::ZERO,
                deductible: Fen::ZERO,
                ratio: RatioBp::new(8_000),
            }
        }).collect();
        let result = match run_year(&YearInput { pack: &pack, year, fund_income: Fen::yuan(income), outside_spending: Fen::ZERO, agreements: &agreements, cases: &cases }) {
            // A year of a few points against a large pool is refused, never paid.
            Err(yibao_payment::YearError::PointValueOutOfRange { .. }) => return Ok(()),
            other => other.unwrap(),
        };
        for institution in &result.institutions {
            // year-balances
            prop_assert_eq!(institution.paid_in_year + institution.balance, institution.payable);
            let months_paid = institution.months.iter().fold(Fen::ZERO, |a, m| a + m.paid);
            prop_assert_eq!(months_paid, institution.paid_in_year);
            let months_billed = institution.months.iter().fold(Fen::ZERO, |a, m| a + m.billed);
            prop_assert_eq!(months_billed, institution.billed);
            prop_assert_eq!(institution.months.iter().map(|m| m.cases).sum::<u32>(), institution.cases);
        }
        // patient-side-untouched: every case's bill is its settlement's fund amount.
        for (outcome, case) in result.cases.iter().zip(&cases) {
            prop_assert_eq!(outcome.billed, case.fund);
        }
        // points-pay-the-pool (fund basis, exact value): the standards add up to the pool.
        let standards = result.institutions.iter().filter_map(|i| i.points_clearing).fold(Fen::ZERO, |a, c| a + c.standard);
        if result.points.e4() > 0 {
            prop_assert_eq!(standards, result.points_pool);
        }
    }
}

#[test]
fn the_demo_pack_reads() {
    let pack = PaymentPack::parse(PACK).unwrap();
    assert_eq!(pack.region.to_string(), "419900");
    assert!(pack.years.iter().all(|y| y.dip.is_some()));
    let _ = date!(2025 - 01 - 01);
}
