#![allow(unsafe_code)] // A counting GlobalAlloc must implement an unsafe trait; it only delegates to System.
//! The batch path allocates nothing per claim when explanations are off (issue 2; the
//! timing targets live in benches/settle.rs, this checks the behaviour).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use time::macros::date;
use yibao_domain::{ClaimKind, Fen, InstitutionLevel, ItemCode, NationalId, PersonCategory, Place, RegionCode, Scheme, Tier};
use yibao_engine::{Accumulators, Claim, ClaimLine, Coverage, Explain, Quantity, Settlement, TierChange, TierHistory, settle_into};
use yibao_policy::Policy;

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// Delegates every call to the system allocator unchanged, and counts allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn settling_into_a_reused_buffer_allocates_nothing() {
    let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("demo pack");
    // Two items of the dated catalogue, each with versions of the nation, the province and
    // the city (the lookup walks them without allocating).
    let city = policy.region;
    let mut versions = Vec::new();
    for (i, class) in [yibao_domain::CatalogueClass::B, yibao_domain::CatalogueClass::A].into_iter().enumerate() {
        let code = ItemCode::parse(&format!("XN01AAA000101010000{i}")).expect("code");
        for (region, from) in
            [(None, date!(2020 - 01 - 01)), (Some(city.province()), date!(2025 - 01 - 01)), (Some(city), date!(2026 - 01 - 01))]
        {
            versions.push(yibao_policy::CatalogueVersion {
                item: yibao_policy::CatalogueItem {
                    code,
                    name: "n".into(),
                    class,
                    restricted: false,
                    price_cap: [Some(Fen::new(100)); 4],
                    selfpay_share: None,
                    negotiated: false,
                },
                kind: yibao_domain::ItemKind::Medicine,
                region,
                from,
                until: None,
                cite: "c".into(),
            });
        }
    }
    let policy = policy.with_catalogue(std::sync::Arc::new(yibao_policy::Catalogue::build(versions).expect("catalogue")));
    let region = RegionCode::parse("419921").expect("region");
    let person = Coverage {
        person_id: NationalId::from_parts(region, date!(1962 - 03 - 14), 4).expect("id"),
        region,
        scheme: Scheme::Resident,
        category: PersonCategory::Resident,
        coverage_from: date!(2024 - 01 - 01),
        coverage_until: None,
        // A pending upgrade exercises the tier timeline too.
        tier_history: Some(TierHistory {
            initial: Tier::new(3).expect("tier"),
            since: date!(2024 - 01 - 01),
            changes: vec![TierChange { requested_on: date!(2025 - 12 - 01), tier: Tier::new(2).expect("tier") }],
        }),
        assistance_group: Some(yibao_domain::AssistanceGroup::Dibao),
        supplementary: true,
        maternity: false,
        civil_servant: false,
        enterprise_supplementary: false,
        certified_chronic_diseases: Vec::new(),
        personal_account_balance: Fen::ZERO,
        use_personal_account: false,
    };
    let line = |code: &str, price: i64| ClaimLine {
        code: ItemCode::parse(code).expect("code"),
        quantity: Quantity::units(2),
        unit_price: Fen::new(price),
        approved: true,
    };
    let claims: Vec<Claim> =
        [(ClaimKind::GeneralOutpatient, InstitutionLevel::Primary), (ClaimKind::Inpatient, InstitutionLevel::Tertiary)]
            .into_iter()
            .map(|(kind, level)| Claim {
                claim_id: "A-1".to_owned(),
                institution_code: "H41990200003".to_owned(),
                institution_level: level,
                place: Place::InArea,
                kind,
                admission_date: date!(2026 - 03 - 02),
                discharge_date: date!(2026 - 03 - 11),
                diagnosis: "I21.000".to_owned(),
                referral: true,
                emergency: false,
                referred_deductible_paid: Fen::ZERO,
                procedure: None,
                physician: None,
                delivery: None,
                lines: vec![
                    line("001109000010000", 5_000),
                    line("XB01ACL058A001010101723", 2_500_000),
                    line("C1402031180000000482", 16_500),
                    line("XN01AAA0001010100000", 16_500),
                    line("XN01AAA0001010100001", 16_500),
                ],
            })
            .collect();
    let accumulators = Accumulators::new_year(2026);
    let mut out = Settlement::default();
    for claim in &claims {
        settle_into(&policy, claim, &person, &accumulators, Explain::Off, &mut out).expect("settles");
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut paid = Fen::ZERO;
    for _ in 0..100 {
        for claim in &claims {
            settle_into(&policy, claim, &person, &accumulators, Explain::Off, &mut out).expect("settles");
            paid += out.fund_pay_sumamt;
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert!(paid > Fen::ZERO, "the claims were really settled");
    assert!(out.maf_pay > Fen::ZERO, "the last settlement went through the assistance layer");
    assert_eq!(allocations, 0, "{allocations} allocations in 200 settlements");
}
