//! Invariants of the settlement engine over generated people and years of claims, against
//! the base test pack (ARCHITECTURE.md: `payers-sum-to-bill`, `caps-hold`, `monotone-in-bill`).

use proptest::prelude::*;
use time::{Date, Duration, macros::date};
use yibao_domain::{
    AssistanceGroup, ClaimKind, DeliveryKind, Fen, InstitutionLevel, ItemCode, NationalId, PersonCategory, Place, RegionCode, Scheme,
};
use yibao_engine::{Accumulators, Claim, ClaimLine, Coverage, Delivery, Explain, Quantity, Settlement, settle};
use yibao_policy::Policy;

const CODES: &[&str] = &[
    "XA00000000A000000000001",
    "XB00000000A000000000002",
    "XB00000000A000000000003",
    "ZC000000000000000004",
    "XB00000000A000000000005",
    "001201000010000",
    "XB00000000A000000000006",
    "C00000000000000000007",
    "XZ99999999A999999999999",
    // The base pack's special drug (9904).
    "XL00000000B000000000008",
];
const SPECIAL_DRUG: &str = "XL00000000B000000000008";

// The base pack's caps (tests/packs/base.toml).
const POOLED_CAP: Fen = Fen::yuan(300_000);
const OUTPATIENT_LIMIT: Fen = Fen::yuan(500);
const CHRONIC_LIMIT_I10: Fen = Fen::yuan(3_000);
const TWO_DISEASE_LIMIT_BOTH: Fen = Fen::yuan(700);
const SPECIAL_DRUG_LIMIT: Fen = Fen::yuan(100_000);
const CIVIL_SERVANT_LIMIT: Fen = Fen::yuan(20_000);
const ENTERPRISE_SUPPLEMENTARY_LIMIT: Fen = Fen::yuan(10_000);
const CRITICAL_CAP: Fen = Fen::yuan(400_000);
const ASSISTANCE_LIMIT: Fen = Fen::yuan(50_000);
const SUPPLEMENTARY_CAP: Fen = Fen::yuan(120_000);

/// The packs the invariants hold over (issue 13: the new dimensions keep them).
#[derive(Clone, Copy, Debug)]
enum Pack {
    /// The base pack: out-of-area care by points off the city's ratio.
    Base,
    /// The base pack with out-of-area care at its own deductible and ratio per place and
    /// referral, a lower deductible and higher ratio for registered poor households, and a
    /// ratio bonus for dibao households.
    Dimensions,
    /// `Dimensions` without outpatient pooling or chronic-disease terms: those claims are
    /// refused (`settle.benefit_not_offered`).
    InpatientOnly,
}

const DIMENSIONS: &str = r#"
[[param]]
key = "outofarea.deductible"
values = [{ from = "2010-01-01", value = 2000, cite = "TEST" }]
[[param]]
key = "outofarea.deductible"
place = "cross-province"
values = [{ from = "2010-01-01", value = 3000, cite = "TEST" }]
[[param]]
key = "outofarea.ratio"
referred = true
values = [{ from = "2010-01-01", value = "60%", cite = "TEST" }]
[[param]]
key = "outofarea.ratio"
referred = false
values = [{ from = "2010-01-01", value = "45%", cite = "TEST" }]
[[param]]
key = "inpatient.deductible"
group = "registered-poor"
values = [{ from = "2010-01-01", value = 500, cite = "TEST" }]
[[param]]
key = "inpatient.ratio"
group = "registered-poor"
values = [{ from = "2010-01-01", value = "85%", cite = "TEST" }]
[[param]]
key = "inpatient.ratio_bonus"
group = "dibao"
values = [{ from = "2010-01-01", value = "5%", cite = "TEST" }]
"#;

fn policy(pack: Pack) -> Policy {
    let base = include_str!("packs/base.toml");
    let text = match pack {
        Pack::Base => base.to_owned(),
        Pack::Dimensions | Pack::InpatientOnly => {
            let mut table: toml::Table = toml::from_str(&format!("{base}\n{DIMENSIONS}")).expect("pack parses");
            let inpatient_only = matches!(pack, Pack::InpatientOnly);
            if inpatient_only {
                table.remove("chronic_disease");
                table.remove("single_disease");
                table.remove("special_drug");
            }
            // Out-of-area care on its own terms, so not also by points off.
            if let Some(toml::Value::Array(params)) = table.get_mut("param") {
                params.retain(|p| {
                    p.get("key").and_then(|k| k.as_str()).is_some_and(|k| {
                        let benefit_family = ["outpatient.", "chronic.", "single_disease.", "two_disease.", "special_drug."]
                            .iter()
                            .any(|family| k.starts_with(family));
                        let dropped = k.starts_with("outofarea.reduction_") || (inpatient_only && benefit_family);
                        !dropped
                    })
                });
            }
            toml::to_string(&table).expect("pack serialises")
        }
    };
    Policy::from_toml(&format!("{pack:?}"), &text).expect("the pack loads")
}

fn pack_strategy() -> impl Strategy<Value = Pack> {
    prop_oneof![Just(Pack::Base), Just(Pack::Dimensions), Just(Pack::InpatientOnly)]
}

fn person_strategy() -> impl Strategy<Value = Coverage> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0usize..AssistanceGroup::ALL.len()),
        any::<bool>(),
        any::<bool>(),
        0i64..500_000,
        any::<bool>(),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(|(employee, retired, group, supplementary, maternity, balance_fen, use_account, (civil_servant, enterprise))| {
            Coverage {
                person_id: NationalId::from_parts(RegionCode::parse("419921").expect("region"), date!(1970 - 05 - 17), 18).expect("id"),
                region: RegionCode::parse("419921").expect("region"),
                scheme: if employee { Scheme::Employee } else { Scheme::Resident },
                category: match (employee, retired) {
                    (true, true) => PersonCategory::Retired,
                    (true, false) => PersonCategory::Employed,
                    _ => PersonCategory::Resident,
                },
                coverage_from: date!(2010 - 01 - 01),
                coverage_until: None,
                tier_history: None,
                assistance_group: group.map(|g| AssistanceGroup::ALL[g]),
                supplementary,
                maternity: maternity && employee,
                civil_servant: civil_servant && employee,
                enterprise_supplementary: enterprise && employee,
                // Hypertension, diabetes (the two diseases) and breast cancer (the special drug's).
                certified_chronic_diseases: vec!["I10".to_owned(), "E11".to_owned(), "C50".to_owned()],
                personal_account_balance: Fen::new(balance_fen),
                use_personal_account: use_account,
            }
        })
}

fn line_strategy() -> impl Strategy<Value = ClaimLine> {
    (0..CODES.len(), 1u32..4_000, 0i64..5_000_000, any::<bool>()).prop_map(|(code, quantity_milli, price_fen, approved)| ClaimLine {
        code: ItemCode::parse(CODES[code]).expect("code"),
        quantity: Quantity::from_milli(quantity_milli),
        unit_price: Fen::new(price_fen),
        approved,
    })
}

fn claim_strategy() -> impl Strategy<Value = Claim> {
    (
        0u8..9,
        0usize..InstitutionLevel::ALL.len(),
        0usize..Place::ALL.len(),
        any::<bool>(),
        any::<bool>(),
        0i64..364,
        prop::collection::vec(line_strategy(), 1..8),
        0u8..4,
        prop::option::of(1u16..=98),
    )
        .prop_map(|(kind, level, place, referral, emergency, day, mut lines, delivery, leave_days)| {
            let kind = ClaimKind::ALL[usize::from(kind)];
            // A two-disease claim bills medicines, a special-drug claim the special drug.
            for line in &mut lines {
                match kind {
                    ClaimKind::TwoDisease if yibao_domain::ItemKind::of(&line.code) != Some(yibao_domain::ItemKind::Medicine) => {
                        line.code = ItemCode::parse(CODES[0]).expect("code");
                    }
                    ClaimKind::SpecialDrug => line.code = ItemCode::parse(SPECIAL_DRUG).expect("code"),
                    _ => {}
                }
            }
            let admission: Date = date!(2024 - 01 - 01) + Duration::days(day);
            Claim {
                claim_id: format!("P-{day}"),
                institution_code: "H41992100007".to_owned(),
                institution_level: InstitutionLevel::ALL[level],
                place: Place::ALL[place],
                kind,
                admission_date: admission,
                discharge_date: admission
                    + Duration::days(match kind {
                        ClaimKind::PharmacyPurchase => 0,
                        ClaimKind::DaySurgery => 1,
                        _ => 3,
                    }),
                diagnosis: match (kind, day % 2) {
                    (ClaimKind::ChronicOutpatient, _) | (ClaimKind::TwoDisease, 0) => "I10.x00".to_owned(),
                    (ClaimKind::TwoDisease, _) => "E11.900".to_owned(),
                    (ClaimKind::SpecialDrug, _) => "C50.900".to_owned(),
                    _ => "K35.900".to_owned(),
                },
                referral,
                emergency,
                referred_deductible_paid: Fen::ZERO,
                procedure: None,
                physician: None,
                delivery: (kind == ClaimKind::Maternity).then(|| Delivery {
                    kind: [DeliveryKind::Normal, DeliveryKind::Difficult, DeliveryKind::MiscarriageEarly, DeliveryKind::MiscarriageLate]
                        [usize::from(delivery)],
                    babies: 1 + delivery % 2,
                    employer_average_wage_monthly: Some(Fen::yuan(7_000)),
                    // Births only, within the base pack's 98 statutory days.
                    leave_days: leave_days.filter(|_| delivery < 2),
                }),
                lines,
            }
        })
}

fn amounts(s: &Settlement) -> [Fen; 17] {
    [
        s.cvlserv_pay,
        s.hifes_pay,
        s.medfee_sumamt,
        s.fulamt_ownpay_amt,
        s.overlmt_selfpay,
        s.preselfpay_amt,
        s.inscp_scp_amt,
        s.act_pay_dedc,
        s.hifp_pay,
        s.hifmi_pay,
        s.hifob_pay,
        s.maf_pay,
        s.oth_pay,
        s.acct_pay,
        s.psn_cash_pay,
        s.hosp_part_amt,
        s.maternity_allowance,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Over any year of claims: every settlement balances to the fen, no amount is negative,
    /// the accumulators are the sums of what was paid, and no cap is ever exceeded.
    #[test]
    fn a_year_of_claims_keeps_every_invariant(pack in pack_strategy(), person in person_strategy(), mut claims in prop::collection::vec(claim_strategy(), 1..12)) {
        let policy = policy(pack);
        claims.sort_by_key(|c| c.admission_date);
        let mut acc = Accumulators::default();
        let mut paid = [Fen::ZERO; 6]; // pooled (inpatient+chronic), outpatient, critical, assistance, supplementary, account
        let mut balance = person.personal_account_balance;
        for claim in &claims {
            let mut who = person.clone();
            who.personal_account_balance = balance;
            let s = match settle(&policy, claim, &who, &acc, Explain::Off) {
                Ok(s) => s,
                // A maternity claim for someone without maternity insurance is refused, and an
                // outpatient claim under a pack that offers none; no other refusal is possible.
                Err(e) if e.code() == "settle.benefit_not_offered" => {
                    let inpatient_only = matches!(pack, Pack::InpatientOnly)
                        && matches!(claim.kind, ClaimKind::GeneralOutpatient | ClaimKind::ChronicOutpatient | ClaimKind::SingleDisease | ClaimKind::TwoDisease | ClaimKind::SpecialDrug);
                    // The two diseases' terms are the residents' only.
                    let residents_only = claim.kind == ClaimKind::TwoDisease && who.scheme == Scheme::Employee;
                    prop_assert!(inpatient_only || residents_only);
                    continue;
                }
                // A single disease out of the area is not the city's fixed price.
                Err(e) if e.code() == "settle.single_disease_out_of_area" => {
                    prop_assert!(claim.kind == ClaimKind::SingleDisease && claim.place.is_out_of_area());
                    continue;
                }
                Err(e) => { prop_assert_eq!(e.code(), "settle.not_maternity_insured"); continue; }
            };
            prop_assert_eq!(s.check_identities(), Ok(()));
            for a in amounts(&s) { prop_assert!(!a.is_negative(), "negative amount in {:?}", s); }
            prop_assert!(s.acct_pay <= balance);
            match claim.kind {
                ClaimKind::Inpatient | ClaimKind::ChronicOutpatient | ClaimKind::SingleDisease | ClaimKind::DaySurgery | ClaimKind::SpecialDrug => paid[0] += s.hifp_pay,
                ClaimKind::GeneralOutpatient => paid[1] += s.hifp_pay,
                ClaimKind::TwoDisease => prop_assert!(s.hifp_pay <= TWO_DISEASE_LIMIT_BOTH),
                ClaimKind::Maternity => {}
                // No fund pays a pharmacy purchase.
                ClaimKind::PharmacyPurchase => prop_assert_eq!(s.fund_pay_sumamt, Fen::ZERO),
            }
            paid[2] += s.hifmi_pay + s.hifob_pay;
            paid[3] += s.maf_pay;
            paid[4] += s.oth_pay;
            paid[5] += s.acct_pay;
            balance = s.acct_balance_after;
            acc = s.accumulators;
            prop_assert_eq!(acc.pooled_paid, paid[0]);
            prop_assert_eq!(acc.outpatient_pooled_paid, paid[1]);
            prop_assert_eq!(acc.critical_paid, paid[2]);
            prop_assert_eq!(acc.assistance_paid, paid[3]);
            prop_assert_eq!(acc.supplementary_paid, paid[4]);
            prop_assert!(acc.pooled_paid <= POOLED_CAP);
            prop_assert!(acc.outpatient_pooled_paid <= OUTPATIENT_LIMIT);
            prop_assert!(acc.chronic_paid <= CHRONIC_LIMIT_I10);
            // The person is on file for both diseases: one limit for the two.
            prop_assert!(acc.two_disease_paid <= TWO_DISEASE_LIMIT_BOTH);
            prop_assert!(acc.special_drug_paid <= SPECIAL_DRUG_LIMIT);
            prop_assert!(acc.civil_servant_paid <= CIVIL_SERVANT_LIMIT);
            prop_assert!(acc.enterprise_supplementary_paid <= ENTERPRISE_SUPPLEMENTARY_LIMIT);
            if who.scheme == Scheme::Resident {
                prop_assert_eq!(s.cvlserv_pay + s.hifes_pay, Fen::ZERO);
            }
            prop_assert!(acc.critical_paid <= CRITICAL_CAP);
            prop_assert!(acc.assistance_paid <= ASSISTANCE_LIMIT);
            prop_assert!(acc.supplementary_paid <= SUPPLEMENTARY_CAP);
        }
        prop_assert_eq!(person.personal_account_balance - balance, paid[5]);
    }

    /// A larger bill never makes the patient pay less, whatever the person has already
    /// used this year.
    #[test]
    fn a_larger_bill_never_lowers_what_the_patient_pays(
        pack in pack_strategy(),
        person in person_strategy(),
        history in prop::collection::vec(claim_strategy(), 0..4),
        claim in claim_strategy(),
        line in 0usize..8,
        extra_fen in 1i64..20_000_000,
    ) {
        let policy = policy(pack);
        let mut acc = Accumulators::default();
        let mut sorted = history;
        sorted.sort_by_key(|c| c.admission_date);
        for earlier in sorted.iter().filter(|c| c.admission_date <= claim.admission_date) {
            if let Ok(s) = settle(&policy, earlier, &person, &acc, Explain::Off) { acc = s.accumulators; }
        }
        let Ok(base) = settle(&policy, &claim, &person, &acc, Explain::Off) else { return Ok(()); };
        let mut bigger = claim.clone();
        let index = line % bigger.lines.len();
        bigger.lines[index].unit_price = Fen::new((bigger.lines[index].unit_price.get() + extra_fen).min(1_000_000_000));
        let more = settle(&policy, &bigger, &person, &acc, Explain::Off).expect("a bigger bill settles like the smaller one");
        prop_assert!(more.psn_part_amt >= base.psn_part_amt, "patient paid {} for the bill of {} but {} for the larger bill of {}", base.psn_part_amt, base.medfee_sumamt, more.psn_part_amt, more.medfee_sumamt);
        prop_assert!(more.medfee_sumamt >= base.medfee_sumamt);
    }

    /// The explanation is a view: asking for it changes no amount.
    #[test]
    fn explaining_changes_nothing(pack in pack_strategy(), person in person_strategy(), claim in claim_strategy()) {
        let policy = policy(pack);
        let plain = settle(&policy, &claim, &person, &Accumulators::default(), Explain::Off);
        let explained = settle(&policy, &claim, &person, &Accumulators::default(), Explain::On);
        match (plain, explained) {
            (Ok(a), Ok(mut b)) => { prop_assert!(!b.explanation.is_empty()); b.explanation.clear(); prop_assert_eq!(a, b); }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
    }
}
