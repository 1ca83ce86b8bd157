//! A person's coverage over time (R-ENR-5, "人员流动就业、保险无缝对接"): the coverage in
//! force now and the ones that came before it, each a dated spell; the change that ends
//! one spell and begins the next (a move between the employee and resident schemes, a
//! move to another county of the city, a re-enrolment after coverage ended); and which
//! spell a date of service falls in. Pure: the store applies a change under its lock and
//! settles a claim under the spell this module picks.
//!
//! What a change carries and what it does not:
//! - the personal account (个人账户) is the person's, held in the city's employee fund: its
//!   balance and the person's choice to pay from it go with them whatever the scheme or
//!   county (the account is never moved, so a change posts nothing to the books);
//! - certified chronic diseases (认定) and the medical-assistance group go with the person;
//! - the year's counters (deductible met, pooled fund paid) are the scheme's: a move
//!   between counties keeps them (the funds are pooled at the city, 市级统筹), a move
//!   between schemes starts the new scheme's year at zero;
//! - the tier is chosen again for the new spell (each scheme has its own tiers), and a
//!   tier change still waiting in the old spell ends with it;
//! - the civil servants' subsidy and enterprise supplementary insurance are an
//!   employer's: they end when the person leaves the employee scheme.

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{PersonCategory, RegionCode, Scheme, Tier};

use crate::{Accumulators, Coverage, TierHistory};

/// How many spells a person's history may hold (a change a month for 40 years is 480).
pub const COVERAGE_SPELLS_MAX: usize = 512;

/// Why a spell ended and the next began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageChangeKind {
    /// Between the employee and resident schemes (职工 ↔ 居民), perhaps with a county move.
    SchemeMove,
    /// To another county of the city, in the same scheme (市内转移).
    CountyMove,
    /// A new category or household in the same scheme and county (retiring, for one).
    Amendment,
    /// Coverage had ended; the person is enrolled again (重新参保).
    Reenrolment,
}

impl CoverageChangeKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CoverageChangeKind::SchemeMove => "scheme_move",
            CoverageChangeKind::CountyMove => "county_move",
            CoverageChangeKind::Amendment => "amendment",
            CoverageChangeKind::Reenrolment => "reenrolment",
        }
    }
}

/// A spell that has ended: the coverage as it stood at its end (`coverage_until` set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PastCoverage {
    pub coverage: Coverage,
    /// Why it ended.
    pub ended_by: CoverageChangeKind,
    /// The scheme's counters of the year it ended in, kept when the next spell is another
    /// scheme's (whose year starts at zero): they are no longer where claims read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accumulators: Option<Accumulators>,
}

/// A change asked for: from `on`, the person is insured in `region` under `scheme` as
/// `category`, in `household` (a county move goes to a household of the new county).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverageChange {
    pub on: Date,
    pub region: RegionCode,
    pub scheme: Scheme,
    pub category: PersonCategory,
    /// Required exactly when the city has tiers for `scheme` (R-ENR-3).
    pub tier: Option<Tier>,
    /// Whether the household changes too (it must when the county does).
    pub household_changes: bool,
}

/// A change refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoverageChangeError {
    #[error("a change takes effect after the coverage began ({from}); {on} is not after it: correct the enrolment instead")]
    NotAfterStart { on: Date, from: Date },
    #[error("nothing changes: the person is already insured in {region} under the {scheme} scheme as {category}, in that household")]
    NothingChanges { region: RegionCode, scheme: &'static str, category: &'static str },
    #[error("a person moving to another county joins a household there")]
    CountyWithoutHousehold,
    #[error("a person's history holds at most {COVERAGE_SPELLS_MAX} spells")]
    TooManySpells,
}

impl CoverageChangeError {
    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            CoverageChangeError::NotAfterStart { .. } => "person.change_before_start",
            CoverageChangeError::NothingChanges { .. } => "person.change_nothing",
            CoverageChangeError::CountyWithoutHousehold => "person.bad_household",
            CoverageChangeError::TooManySpells => "person.history_full",
        }
    }
}

/// The spell ended by `change` and the one it begins. The ended spell runs to the day
/// before `change.on`, or to the end it already had when that came earlier (a
/// re-enrolment after a gap).
pub fn change_coverage(
    current: &Coverage,
    history: &[PastCoverage],
    change: &CoverageChange,
) -> Result<(PastCoverage, Coverage), CoverageChangeError> {
    if change.on <= current.coverage_from {
        return Err(CoverageChangeError::NotAfterStart { on: change.on, from: current.coverage_from });
    }
    if history.len() >= COVERAGE_SPELLS_MAX {
        return Err(CoverageChangeError::TooManySpells);
    }
    let county_moves = change.region != current.region;
    if county_moves && !change.household_changes {
        return Err(CoverageChangeError::CountyWithoutHousehold);
    }
    let ended_already = current.coverage_until.is_some_and(|until| until < change.on);
    // The tier the person last chose (a change still waiting counts: it is their choice).
    let tier_now = current.tier_history.as_ref().map(|h| h.changes.last().map_or(h.initial, |c| c.tier));
    let ended_by = if ended_already {
        CoverageChangeKind::Reenrolment
    } else if change.scheme != current.scheme {
        CoverageChangeKind::SchemeMove
    } else if county_moves {
        CoverageChangeKind::CountyMove
    } else if change.category != current.category || change.household_changes || (change.tier.is_some() && change.tier != tier_now) {
        CoverageChangeKind::Amendment
    } else {
        return Err(CoverageChangeError::NothingChanges {
            region: current.region,
            scheme: current.scheme.as_str(),
            category: current.category.as_str(),
        });
    };
    let mut ended = current.clone();
    if !ended_already {
        // `on` is after `coverage_from`, so it has a day before it.
        ended.coverage_until = change.on.previous_day();
    }
    let employee = change.scheme == Scheme::Employee;
    let next = Coverage {
        person_id: current.person_id,
        region: change.region,
        scheme: change.scheme,
        category: change.category,
        coverage_from: change.on,
        // An end already set for a later day (a planned departure) still applies.
        coverage_until: if ended_already { None } else { current.coverage_until },
        tier_history: change.tier.map(|initial| TierHistory { initial, since: change.on, changes: Vec::new() }),
        assistance_group: current.assistance_group,
        supplementary: current.supplementary,
        maternity: current.maternity,
        civil_servant: current.civil_servant && employee,
        enterprise_supplementary: current.enterprise_supplementary && employee,
        certified_chronic_diseases: current.certified_chronic_diseases.clone(),
        personal_account_balance: current.personal_account_balance,
        use_personal_account: current.use_personal_account,
    };
    Ok((PastCoverage { coverage: ended, ended_by, accumulators: None }, next))
}

/// The counters to take up when a spell of `scheme` begins in `year`: those set aside when
/// the person last left that scheme, if it was in the same year (a return to a scheme
/// within a year goes on with its deductible met and its cap spent; R-ENR-5).
#[must_use]
pub fn counters_to_restore(history: &[PastCoverage], scheme: Scheme, year: i32) -> Option<Accumulators> {
    history.iter().rev().find(|past| past.coverage.scheme == scheme)?.accumulators.filter(|acc| acc.year == year)
}

/// Which spell a date of service falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpellOn<'a> {
    /// The coverage in force now (or none covers the date: the engine says why).
    Current,
    /// An ended spell of the scheme the person is in now, with no other scheme between:
    /// its counters are the ones the store holds for the person.
    Past(&'a PastCoverage),
    /// An ended spell with another scheme's spell after it: its year's counters were set
    /// aside when the scheme changed.
    OtherScheme(&'a PastCoverage),
}

/// The spell `date` falls in: a claim is settled under the coverage in force on its date
/// of service, wherever the person is insured when it is settled.
#[must_use]
pub fn spell_on<'a>(current: &Coverage, history: &'a [PastCoverage], date: Date) -> SpellOn<'a> {
    if date >= current.coverage_from {
        return SpellOn::Current;
    }
    let mut same_scheme_since = true;
    for past in history.iter().rev() {
        same_scheme_since &= past.coverage.scheme == current.scheme;
        let from = past.coverage.coverage_from;
        let until = past.coverage.coverage_until.unwrap_or(Date::MAX);
        if (from..=until).contains(&date) {
            return if same_scheme_since { SpellOn::Past(past) } else { SpellOn::OtherScheme(past) };
        }
    }
    SpellOn::Current
}

/// The coverage to settle a claim of a past spell under: the spell as it was, with the
/// personal account as it is now (the account is one, whatever the spell).
#[must_use]
pub fn past_with_account(past: &PastCoverage, current: &Coverage) -> Coverage {
    Coverage {
        personal_account_balance: current.personal_account_balance,
        use_personal_account: current.use_personal_account,
        ..past.coverage.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    use yibao_domain::{Fen, NationalId};

    fn employee() -> Coverage {
        Coverage {
            person_id: NationalId::parse("11010519491231002X").unwrap(),
            region: RegionCode::parse("419902").unwrap(),
            scheme: Scheme::Employee,
            category: PersonCategory::Employed,
            coverage_from: date!(2024 - 01 - 01),
            coverage_until: None,
            tier_history: None,
            assistance_group: None,
            supplementary: false,
            maternity: true,
            civil_servant: true,
            enterprise_supplementary: false,
            certified_chronic_diseases: vec!["I10".into()],
            personal_account_balance: Fen::yuan(800),
            use_personal_account: true,
        }
    }

    fn to_resident(on: Date, region: &str) -> CoverageChange {
        CoverageChange {
            on,
            region: RegionCode::parse(region).unwrap(),
            scheme: Scheme::Resident,
            category: PersonCategory::Resident,
            tier: None,
            household_changes: region != "419902",
        }
    }

    #[test]
    fn a_scheme_move_ends_the_spell_the_day_before_and_carries_the_person() {
        let (ended, next) = change_coverage(&employee(), &[], &to_resident(date!(2026 - 07 - 01), "419902")).unwrap();
        assert_eq!(ended.ended_by, CoverageChangeKind::SchemeMove);
        assert_eq!(ended.coverage.coverage_until, Some(date!(2026 - 06 - 30)));
        assert_eq!(ended.coverage.scheme, Scheme::Employee);
        assert_eq!(
            (next.scheme, next.category, next.coverage_from, next.coverage_until),
            (Scheme::Resident, PersonCategory::Resident, date!(2026 - 07 - 01), None)
        );
        assert_eq!(next.personal_account_balance, Fen::yuan(800), "the account is the person's");
        assert!(!next.civil_servant, "the civil servants' subsidy is the employer's");
        assert_eq!(next.certified_chronic_diseases, ["I10"]);
    }

    #[test]
    fn a_county_move_needs_a_household_there_and_a_change_must_change_something() {
        let mut change = to_resident(date!(2026 - 07 - 01), "419921");
        change.scheme = Scheme::Employee;
        change.category = PersonCategory::Employed;
        change.household_changes = false;
        assert_eq!(change_coverage(&employee(), &[], &change).unwrap_err(), CoverageChangeError::CountyWithoutHousehold);
        change.household_changes = true;
        assert_eq!(change_coverage(&employee(), &[], &change).unwrap().0.ended_by, CoverageChangeKind::CountyMove);
        change.region = RegionCode::parse("419902").unwrap();
        change.household_changes = false;
        assert_eq!(change_coverage(&employee(), &[], &change).unwrap_err().code(), "person.change_nothing");
        change.on = date!(2024 - 01 - 01);
        assert_eq!(change_coverage(&employee(), &[], &change).unwrap_err().code(), "person.change_before_start");
    }

    #[test]
    fn a_planned_end_still_applies_and_the_last_chosen_tier_counts() {
        let mut leaving = employee();
        leaving.coverage_until = Some(date!(2026 - 12 - 31));
        let (_, next) = change_coverage(&leaving, &[], &to_resident(date!(2026 - 07 - 01), "419902")).unwrap();
        assert_eq!(next.coverage_until, Some(date!(2026 - 12 - 31)), "a move does not reopen a planned end");
        let mut tiered = to_resident(date!(2026 - 07 - 01), "419902");
        tiered.scheme = Scheme::Employee;
        tiered.category = PersonCategory::Employed;
        tiered.tier = Some(Tier::new(2).unwrap());
        let mut current = employee();
        current.tier_history = Some(TierHistory {
            initial: Tier::new(1).unwrap(),
            since: current.coverage_from,
            changes: vec![crate::TierChange { requested_on: date!(2025 - 01 - 10), tier: Tier::new(2).unwrap() }],
        });
        assert_eq!(change_coverage(&current, &[], &tiered).unwrap_err().code(), "person.change_nothing", "tier 2 is already chosen");
    }

    #[test]
    fn counters_set_aside_are_taken_up_on_a_return_the_same_year() {
        let acc = Accumulators { admissions: 2, ..Accumulators::new_year(2026) };
        let (mut left, resident) = change_coverage(&employee(), &[], &to_resident(date!(2026 - 04 - 01), "419902")).unwrap();
        left.accumulators = Some(acc);
        let history = [left];
        assert_eq!(counters_to_restore(&history, Scheme::Employee, 2026), Some(acc));
        assert_eq!(counters_to_restore(&history, Scheme::Employee, 2027), None, "a new year starts at zero");
        assert_eq!(counters_to_restore(&history, Scheme::Resident, 2026), None);
        assert_eq!(resident.scheme, Scheme::Resident);
    }

    #[test]
    fn re_enrolment_after_a_gap_keeps_the_old_end() {
        let mut ended = employee();
        ended.coverage_until = Some(date!(2025 - 12 - 31));
        let (past, next) = change_coverage(&ended, &[], &to_resident(date!(2026 - 03 - 01), "419902")).unwrap();
        assert_eq!(past.ended_by, CoverageChangeKind::Reenrolment);
        assert_eq!(past.coverage.coverage_until, Some(date!(2025 - 12 - 31)));
        assert_eq!(next.coverage_from, date!(2026 - 03 - 01));
    }

    #[test]
    fn a_date_of_service_finds_its_spell() {
        let (first, resident) = change_coverage(&employee(), &[], &to_resident(date!(2025 - 07 - 01), "419902")).unwrap();
        let mut change = to_resident(date!(2026 - 01 - 01), "419921");
        change.household_changes = true;
        let (second, now) = change_coverage(&resident, std::slice::from_ref(&first), &change).unwrap();
        assert_eq!(second.ended_by, CoverageChangeKind::CountyMove);
        let history = [first.clone(), second.clone()];
        assert_eq!(spell_on(&now, &history, date!(2026 - 02 - 01)), SpellOn::Current);
        assert_eq!(spell_on(&now, &history, date!(2025 - 12 - 31)), SpellOn::Past(&history[1]));
        assert_eq!(spell_on(&now, &history, date!(2025 - 06 - 30)), SpellOn::OtherScheme(&history[0]));
        assert_eq!(spell_on(&now, &history, date!(2023 - 12 - 31)), SpellOn::Current, "before any spell: the engine refuses");
        let mut spent = now.clone();
        spent.personal_account_balance = Fen::yuan(1);
        let settled_under = past_with_account(&history[1], &spent);
        assert_eq!((settled_under.region.to_string().as_str(), settled_under.personal_account_balance), ("419902", Fen::yuan(1)));
    }
}
