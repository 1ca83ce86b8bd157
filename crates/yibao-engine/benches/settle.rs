//! Settlement throughput and allocations (issue 2 targets: ≥ 1,000,000 outpatient
//! settlements/s per core; no allocation per claim in the batch path with explanations off).
//!
//! Run: `cargo bench -p yibao-engine --bench settle`. divan prints the time per settlement,
//! the throughput (items/s) and, through its allocation profiler, allocations per iteration.

use divan::{AllocProfiler, Bencher, counter::ItemsCount};
use time::macros::date;
use yibao_domain::{ClaimKind, Fen, InstitutionLevel, ItemCode, NationalId, PersonCategory, Place, RegionCode, Scheme, Tier};
use yibao_engine::{Accumulators, Claim, ClaimLine, Coverage, Explain, Quantity, Settlement, TierHistory, settle_into};
use yibao_policy::Policy;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

const BATCH: usize = 1_000;

fn main() {
    divan::main();
}

fn policy() -> Policy {
    Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("demo pack")
}

fn person() -> Coverage {
    let region = RegionCode::parse("419921").expect("region");
    Coverage {
        person_id: NationalId::from_parts(region, date!(1962 - 03 - 14), 4).expect("id"),
        region,
        scheme: Scheme::Resident,
        category: PersonCategory::Resident,
        coverage_from: date!(2024 - 01 - 01),
        coverage_until: None,
        tier_history: Some(TierHistory { initial: Tier::new(3).expect("tier"), since: date!(2024 - 01 - 01), changes: Vec::new() }),
        assistance_group: None,
        supplementary: true,
        maternity: false,
        civil_servant: false,
        enterprise_supplementary: false,
        certified_chronic_diseases: Vec::new(),
        personal_account_balance: Fen::ZERO,
        use_personal_account: false,
    }
}

fn line(code: &str, quantity: u32, price_fen: i64) -> ClaimLine {
    ClaimLine {
        code: ItemCode::parse(code).expect("code"),
        quantity: Quantity::units(quantity),
        unit_price: Fen::new(price_fen),
        approved: true,
    }
}

fn outpatient() -> Claim {
    Claim {
        claim_id: "H41992100011-2026-120034".to_owned(),
        institution_code: "H41992100011".to_owned(),
        institution_level: InstitutionLevel::Primary,
        place: Place::InArea,
        kind: ClaimKind::GeneralOutpatient,
        admission_date: date!(2026 - 04 - 08),
        discharge_date: date!(2026 - 04 - 08),
        diagnosis: "J06.900".to_owned(),
        referral: false,
        emergency: false,
        referred_deductible_paid: Fen::ZERO,
        procedure: None,
        physician: None,
        delivery: None,
        lines: vec![line("001102000010000", 1, 600), line("XJ01CAA040E001010100163", 2, 850), line("ZA01BAG0120010100357", 1, 1580)],
    }
}

fn inpatient() -> Claim {
    let codes = [
        ("001109000010000", 9, 5000),
        ("001109000040000", 1, 30000),
        ("002501010150200", 3, 2500),
        ("002503050040000", 2, 1200),
        ("003107010010000", 4, 1500),
        ("002103000010000", 1, 21000),
        ("002104000010000", 1, 46000),
        ("C0201060810100000207", 2, 79800),
        ("C0301010000100000101", 30, 85),
        ("XB01ACL058A001010101723", 28, 295),
        ("XC10AAA152A001010200736", 28, 137),
        ("XJ01DDT045B001010101288", 7, 680),
        ("XA02BCA211B001010101611", 7, 960),
        ("C1402031180000000482", 2, 16500),
        ("XN07XXS077B001010103012", 5, 8800),
        ("XC08CAA074A001010102085", 14, 124),
        ("XC07ABM083A010010101356", 14, 213),
        ("ZA12BAF0311010103214", 3, 2650),
        ("004100000010000", 2, 3000),
        ("XA10AES107B002010102931", 1, 7800),
    ];
    Claim {
        claim_id: "H41990200003-2026-004711".to_owned(),
        institution_code: "H41990200003".to_owned(),
        institution_level: InstitutionLevel::Tertiary,
        place: Place::InArea,
        kind: ClaimKind::Inpatient,
        admission_date: date!(2026 - 03 - 02),
        discharge_date: date!(2026 - 03 - 11),
        diagnosis: "I21.000".to_owned(),
        referral: true,
        emergency: false,
        referred_deductible_paid: Fen::ZERO,
        procedure: None,
        physician: None,
        delivery: None,
        lines: codes.iter().map(|&(code, q, p)| line(code, q, p)).collect(),
    }
}

/// A batch of claims settled one after another into one reused buffer, explanations off.
fn batch(bencher: Bencher, claim: Claim) {
    let policy = policy();
    let person = person();
    let accumulators = Accumulators::new_year(2026);
    let mut out = Settlement::default();
    settle_into(&policy, &claim, &person, &accumulators, Explain::Off, &mut out).expect("settles");
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        for _ in 0..BATCH {
            settle_into(&policy, divan::black_box(&claim), &person, &accumulators, Explain::Off, &mut out).expect("settles");
        }
        divan::black_box(out.hifp_pay)
    });
}

#[divan::bench(name = "outpatient_3_lines_batch_of_1000")]
fn outpatient_batch(bencher: Bencher) {
    batch(bencher, outpatient());
}

#[divan::bench(name = "inpatient_20_lines_batch_of_1000")]
fn inpatient_batch(bencher: Bencher) {
    batch(bencher, inpatient());
}

/// One settlement with the explanation on, for comparison (allocates by design).
#[divan::bench(name = "inpatient_20_lines_explained")]
fn inpatient_explained(bencher: Bencher) {
    let (policy, person, claim) = (policy(), person(), inpatient());
    let accumulators = Accumulators::new_year(2026);
    let mut out = Settlement::default();
    bencher.bench_local(|| {
        settle_into(&policy, divan::black_box(&claim), &person, &accumulators, Explain::On, &mut out).expect("settles");
        divan::black_box(out.explanation.len())
    });
}

/// Intelligent monitoring's cost per claim (issue 18): the demo city's rules on the
/// 20-line stay (no flag raised: the common case) and on the 3-line outpatient visit, a
/// batch of 1,000 checks each; what `App::monitor` adds to a settlement.
fn monitoring_batch(bencher: Bencher, claim: Claim) {
    let pack = yibao_engine::monitoring::RulePack::parse(include_str!("../../../policies/monitoring/demo-city.toml")).expect("the pack");
    let person = person().person_id;
    let last_discharge = Some(date!(2026 - 01 - 10));
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        let mut flags = 0;
        for _ in 0..BATCH {
            let facts = yibao_engine::monitoring::ClaimFacts {
                claim: divan::black_box(&claim),
                person: &person,
                last_discharge,
                earlier_visits: &[],
            };
            flags += yibao_engine::monitoring::check_claim(&pack, facts).len();
        }
        divan::black_box(flags)
    });
}

#[divan::bench(name = "monitoring_inpatient_20_lines_batch_of_1000")]
fn monitoring_inpatient(bencher: Bencher) {
    monitoring_batch(bencher, inpatient());
}

#[divan::bench(name = "monitoring_outpatient_3_lines_batch_of_1000")]
fn monitoring_outpatient(bencher: Bencher) {
    monitoring_batch(bencher, outpatient());
}
