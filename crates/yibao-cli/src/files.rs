//! Reading the files the CLI is given, with messages that name the file and the problem.

use std::path::Path;

use serde::Deserialize;
use yibao_domain::{NationalId, PersonCategory, Scheme};
use yibao_engine::{Accumulators, Claim, Coverage, TierHistory};
use yibao_policy::Policy;

/// Largest input file the CLI reads: far above any claim or pack.
const FILE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// A person file: coverage and, optionally, this year's accumulators.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonFile {
    pub coverage: Coverage,
    #[serde(default)]
    pub accumulators: Option<Accumulators>,
}

pub fn read(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?.len();
    if size > FILE_LIMIT_BYTES {
        return Err(format!("{}: {size} bytes is larger than the {FILE_LIMIT_BYTES} bytes a file may have", path.display()));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

pub fn load_policy(path: &Path) -> Result<Policy, String> {
    Policy::from_toml(&path.display().to_string(), &read(path)?).map_err(|e| e.to_string())
}

pub fn load_claim(path: &Path) -> Result<Claim, String> {
    parse_claim(&path.display().to_string(), &read(path)?)
}

pub fn parse_claim(label: &str, text: &str) -> Result<Claim, String> {
    serde_json::from_str(text).map_err(|e| format!("{label}: not a claim [claim.malformed]: {e}"))
}

pub fn load_person(path: &Path) -> Result<PersonFile, String> {
    parse_person(&path.display().to_string(), &read(path)?)
}

pub fn parse_person(label: &str, text: &str) -> Result<PersonFile, String> {
    serde_json::from_str(text).map_err(|e| format!("{label}: not a person file [person.malformed]: {e}"))
}

/// A resident of the pack's city (or an employee, in a pack without residents), in the
/// lowest tier, covered from the pack's first day, with nothing used this year.
pub fn default_person(policy: &Policy) -> PersonFile {
    let scheme = if policy.has_scheme(Scheme::Resident) { Scheme::Resident } else { Scheme::Employee };
    let category = if scheme == Scheme::Resident { PersonCategory::Resident } else { PersonCategory::Employed };
    let tier_history =
        policy.tiers_for(scheme).last().map(|&tier| TierHistory { initial: tier, since: policy.effective_from, changes: Vec::new() });
    let person_id = NationalId::from_parts(policy.region, time::macros::date!(1980 - 01 - 01), 1).expect("a valid id from a valid region");
    PersonFile {
        coverage: Coverage {
            person_id,
            region: policy.region,
            scheme,
            category,
            coverage_from: policy.effective_from,
            coverage_until: None,
            tier_history,
            assistance_group: None,
            supplementary: policy.has_scheme(Scheme::Supplementary),
            maternity: policy.has_scheme(Scheme::Maternity) && scheme == Scheme::Employee,
            civil_servant: false,
            enterprise_supplementary: false,
            certified_chronic_diseases: Vec::new(),
            personal_account_balance: yibao_domain::Fen::ZERO,
            use_personal_account: false,
        },
        accumulators: None,
    }
}
