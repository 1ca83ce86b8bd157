//! `yibao demo`: the demo city's policy pack and example claims are compiled into the
//! binary, so the platform runs with no files and no set-up.

use yibao_engine::{Explain, Language, settle};
use yibao_policy::Policy;

use crate::files::{parse_claim, parse_person};

pub const DEMO_POLICY: &str = include_str!("../../../policies/demo-city.toml");

/// (title, claim, person) for each example.
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "Resident, tier 3 (asked for tier 2, still waiting): coronary stent at a tertiary hospital",
        include_str!("../../../examples/claims/inpatient-stent-tertiary.json"),
        include_str!("../../../examples/persons/resident-tier3.json"),
    ),
    (
        "Resident, tier 3: general outpatient visit at a township health centre",
        include_str!("../../../examples/claims/outpatient-primary.json"),
        include_str!("../../../examples/persons/resident-tier3.json"),
    ),
    (
        "Retired employee: certified hypertension, chronic outpatient, paid from the personal account",
        include_str!("../../../examples/claims/chronic-hypertension.json"),
        include_str!("../../../examples/persons/employee-retired.json"),
    ),
    (
        "Employee: caesarean delivery with maternity allowance",
        include_str!("../../../examples/claims/maternity-caesarean.json"),
        include_str!("../../../examples/persons/employee-maternity.json"),
    ),
    (
        "Dibao resident, tier 4: hip replacement out of area without referral, then medical assistance",
        include_str!("../../../examples/claims/inpatient-out-of-area.json"),
        include_str!("../../../examples/persons/dibao-resident.json"),
    ),
];

pub fn run(explain: bool) -> Result<(), String> {
    let policy = Policy::from_toml("policies/demo-city.toml (embedded)", DEMO_POLICY).map_err(|e| e.to_string())?;
    println!("Yibao demo — {} ({}), policy in force from {}", policy.name, policy.region, policy.effective_from);
    println!(
        "Every amount in yuan. Funds: pooled = basic pooled fund (or the maternity fund), critical = critical illness / employees' large amount.\n"
    );
    println!(
        "{:<4} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "#", "bill", "pooled", "critical", "assist", "suppl", "account", "cash", "allowance"
    );
    let mut settled = Vec::new();
    for (index, (title, claim_text, person_text)) in EXAMPLES.iter().enumerate() {
        let claim = parse_claim(title, claim_text)?;
        let person = parse_person(title, person_text)?;
        let accumulators = person.accumulators.unwrap_or_default();
        let s = settle(&policy, &claim, &person.coverage, &accumulators, Explain::On)
            .map_err(|e| format!("{title}: refused [{}]: {e}", e.code()))?;
        println!(
            "{:<4} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            index + 1,
            s.medfee_sumamt.to_string(),
            s.hifp_pay.to_string(),
            (s.hifmi_pay + s.hifob_pay).to_string(),
            s.maf_pay.to_string(),
            s.oth_pay.to_string(),
            s.acct_pay.to_string(),
            s.psn_cash_pay.to_string(),
            s.maternity_allowance.to_string()
        );
        settled.push((title, s));
    }
    println!();
    for (index, (title, _)) in settled.iter().enumerate() {
        println!("{:<4} {title}", index + 1);
    }
    if explain {
        for (index, (title, s)) in settled.iter().enumerate() {
            println!("\n=== {} {title} ===", index + 1);
            print!("{}", s.render_explanation(Language::Zh));
            println!();
            print!("{}", s.render_explanation(Language::En));
        }
    } else {
        println!("\nRun `yibao demo --explain` for each settlement step by step, or `yibao settle --help` to settle your own claim.");
    }
    Ok(())
}
