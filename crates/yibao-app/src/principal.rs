//! Who asks: a staff member (role and region), a designated institution as registered, or
//! the system itself (a loader, a scheduled run). Every use case takes one, and the role
//! sets that say who may do what are defined here once.

use time::OffsetDateTime;
use yibao_domain::RegionCode;
use yibao_store::{Actor, InstitutionRecord, Role};

use crate::AppError;

/// An authenticated principal. An institution carries what the register holds of it, so
/// that nothing a claim states about its sender is taken on trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Staff {
        username: String,
        role: Role,
        region: RegionCode,
    },
    /// A designated institution as the register holds it: its code, region, level and
    /// the level's changes (so a claim is checked against the level on its date of service).
    Institution(InstitutionRecord),
    /// A commercial administrator under contract (issue 18, R-TPA-1), with its API key: its
    /// contract as recorded, whose counties, schemes and period bound what it may read and
    /// review.
    Administrator(Box<yibao_store::administrator::ContractRecord>),
    /// The platform itself: a loader or a command run by the operator on the machine.
    System {
        name: String,
        region: RegionCode,
    },
}

/// Kept on an error answer by an HTTP edge (API or console): its code and English detail,
/// for the request's log line and the refusal counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub detail: String,
}

/// Who a request turned out to come from, noted by an edge's authentication for that
/// request's log line: each HTTP request carries one (empty until its caller is known).
#[derive(Clone, Debug, Default)]
pub struct CallerNote(std::sync::Arc<std::sync::Mutex<Option<(String, RegionCode)>>>);

impl CallerNote {
    /// Notes `principal` as the request's caller.
    pub fn note(&self, principal: &Principal) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((principal.log_name(), principal.region()));
        }
    }

    /// The caller noted, as `(name, region)`.
    #[must_use]
    pub fn caller(&self) -> Option<(String, RegionCode)> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

impl Principal {
    /// How a log line names the principal: `staff:<username>`, `institution:<code>` or
    /// `system:<name>` (never a person's identity).
    #[must_use]
    pub fn log_name(&self) -> String {
        match self {
            Principal::Staff { username, .. } => format!("staff:{username}"),
            Principal::Institution(record) => format!("institution:{}", record.code),
            Principal::Administrator(contract) => format!("administrator:{}", contract.terms.code),
            Principal::System { name, .. } => format!("system:{name}"),
        }
    }

    /// An institution as the register holds it.
    #[must_use]
    pub fn institution_of(record: &InstitutionRecord) -> Principal {
        Principal::Institution(record.clone())
    }

    /// The staff member's name, role and region scope, if their role is one of `roles`.
    /// The system may do what a city administrator may, in its own region.
    pub fn staff(&self, roles: &[Role]) -> Result<(&str, Role, RegionCode), AppError> {
        match self {
            Principal::Staff { username, role, region } if roles.contains(role) => Ok((username, *role, *region)),
            Principal::Staff { role, .. } => Err(AppError::forbidden(format!("the {role} role may not do this"))),
            Principal::Institution(_) => Err(AppError::forbidden("institutions may only settle and query their own claims")),
            Principal::Administrator(_) => {
                Err(AppError::forbidden("an administrator reviews the claims of its contract, and does nothing else"))
            }
            Principal::System { name, region } => Ok((name.as_str(), Role::CityAdministrator, *region)),
        }
    }

    /// Refuses anyone but the platform itself (the operator's command line).
    pub fn system(&self) -> Result<RegionCode, AppError> {
        match self {
            Principal::System { region, .. } => Ok(*region),
            _ => Err(AppError::forbidden("only the operator, on the machine, may do this")),
        }
    }

    /// The staff member's region scope, if their role is one of `roles`.
    pub fn scope(&self, roles: &[Role]) -> Result<RegionCode, AppError> {
        self.staff(roles).map(|(_, _, scope)| scope)
    }

    /// The institution's code, if the principal is one.
    pub fn institution(&self) -> Result<&str, AppError> {
        match self {
            Principal::Institution(record) => Ok(&record.code),
            _ => Err(AppError::forbidden("only a designated institution settles claims, with its API key")),
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Principal::Staff { username, .. } => username,
            Principal::Institution(record) => &record.code,
            Principal::Administrator(contract) => &contract.terms.code,
            Principal::System { name, .. } => name,
        }
    }

    #[must_use]
    pub fn role_name(&self) -> &str {
        match self {
            Principal::Staff { role, .. } => role.as_str(),
            Principal::Institution(_) => yibao_store::INSTITUTION_ROLE,
            Principal::Administrator(_) => "administrator",
            Principal::System { .. } => "system",
        }
    }

    #[must_use]
    pub fn region(&self) -> RegionCode {
        match self {
            Principal::Staff { region, .. } | Principal::System { region, .. } => *region,
            Principal::Institution(record) => record.region,
            Principal::Administrator(contract) => contract.city,
        }
    }

    /// The audit log's actor for a write by this principal at `at`, from `source` (an
    /// address, `console`, `cli`).
    #[must_use]
    pub fn actor(&self, source: &str, at: OffsetDateTime) -> Actor {
        Actor { who: self.name().to_owned(), role: self.role_name().to_owned(), source: source.chars().take(64).collect(), at }
    }
}

/// Where a write came from, for the audit log: the edge (`api`, `console`), and what an
/// `X-Forwarded-For` header claims, marked as claimed (the caller sets it, so the log never
/// presents it as a fact), printable ASCII and at most 45 characters of it. Every edge
/// names its requests through this one rule.
#[must_use]
pub fn audit_source(edge: &str, forwarded_for: Option<&str>) -> String {
    match forwarded_for {
        Some(claimed) => {
            let claimed: String = claimed.chars().filter(char::is_ascii_graphic).take(45).collect();
            format!("{edge}; forwarded-for (claimed) {claimed}")
        }
        None => edge.to_owned(),
    }
}

/// Who may do what: each set is named once and used by every edge.
pub mod roles {
    use yibao_store::Role;

    /// Every staff role: reads persons, households and contributions.
    pub const ALL_STAFF: &[Role] =
        &[Role::EnrolmentClerk, Role::ClaimsOfficer, Role::FundAccountant, Role::Auditor, Role::CityAdministrator];
    /// Enrolment, households, tier changes, end of coverage, referrals.
    pub const ENROLMENT: &[Role] = &[Role::EnrolmentClerk, Role::CityAdministrator];
    /// Exporting the register (national IDs and names, whole counties at once).
    pub const REGISTER_EXPORT: &[Role] = &[Role::EnrolmentClerk, Role::CityAdministrator, Role::Auditor];
    /// Recording contributions.
    pub const CONTRIBUTIONS: &[Role] = &[Role::FundAccountant, Role::EnrolmentClerk, Role::CityAdministrator];
    /// Reading arrears.
    pub const ARREARS: &[Role] = &[Role::FundAccountant, Role::Auditor, Role::CityAdministrator, Role::EnrolmentClerk];
    /// Reading claims, settlements and a person's counters.
    pub const CLAIMS: &[Role] = &[Role::ClaimsOfficer, Role::Auditor, Role::CityAdministrator];
    /// Exporting a period's settlements (claims officers, and the fund's staff who pay them).
    pub const SETTLEMENT_EXPORT: &[Role] = &[Role::ClaimsOfficer, Role::FundAccountant, Role::Auditor, Role::CityAdministrator];
    /// Reversing a settlement; filing a referral.
    pub const REVERSERS: &[Role] = &[Role::ClaimsOfficer, Role::CityAdministrator];
    pub const REFERRALS: &[Role] = &[Role::ClaimsOfficer, Role::EnrolmentClerk, Role::CityAdministrator];
    pub const AUDITORS: &[Role] = &[Role::Auditor, Role::CityAdministrator];
    pub const ADMINISTRATORS: &[Role] = &[Role::CityAdministrator];
    pub const FUND_READERS: &[Role] = &[Role::FundAccountant, Role::Auditor, Role::CityAdministrator];
    pub const FUND_WRITERS: &[Role] = &[Role::FundAccountant, Role::CityAdministrator];
    /// The reform what-if.
    pub const REFORMERS: &[Role] = &[Role::FundAccountant, Role::CityAdministrator];
    /// Proposing, approving and rejecting policy pack versions (two people each time).
    pub const POLICY_OFFICERS: &[Role] = &[Role::PolicyOfficer];
    /// Reading the pack in force (a public document): every staff role.
    pub const PUBLIC_POLICY: &[Role] =
        &[Role::EnrolmentClerk, Role::ClaimsOfficer, Role::FundAccountant, Role::Auditor, Role::CityAdministrator, Role::PolicyOfficer];
    /// Reading policy pack versions and their differences.
    pub const POLICY_READERS: &[Role] = &[Role::PolicyOfficer, Role::Auditor, Role::CityAdministrator];
}

#[cfg(test)]
mod tests {
    use super::audit_source;

    #[test]
    fn a_forwarded_address_is_recorded_as_claimed_and_bounded() {
        assert_eq!(audit_source("api", None), "api");
        assert_eq!(audit_source("console", Some("10.0.0.1")), "console; forwarded-for (claimed) 10.0.0.1");
        let forged = format!("bureau internal\n{}", "x".repeat(100));
        let recorded = audit_source("api", Some(&forged));
        assert_eq!(
            recorded,
            format!("api; forwarded-for (claimed) bureauinternal{}", "x".repeat(31)),
            "spaces and controls dropped, 45 characters kept"
        );
    }
}
