//! Which tier's benefits apply on a date, from the person's tier history (R-ENR-4):
//! moving down takes effect on the first day of the month after the change; moving up
//! takes effect after a waiting period of 6–12 months (a policy parameter in force on the
//! day of the request), during which the old tier still applies. A new request replaces
//! one still waiting.

use time::Date;
use yibao_domain::{Tier, add_months, first_of_next_month};

use crate::claim::{TIER_CHANGES_LIMIT, TierChange, TierHistory};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierHistoryError {
    #[error("a tier history holds at most {TIER_CHANGES_LIMIT} changes")]
    TooManyChanges,
    #[error("tier changes must be in date order, on or after the enrolment date")]
    OutOfOrder,
}

/// The tier in force on `date`, or `None` before enrolment. `waiting_months(target,
/// requested_on)` gives the waiting period for moving up to `target`.
pub fn tier_on<E>(
    history: &TierHistory,
    date: Date,
    mut waiting_months: impl FnMut(Tier, Date) -> Result<u32, E>,
) -> Result<Option<Tier>, TierOrPolicyError<E>> {
    if history.changes.len() > TIER_CHANGES_LIMIT {
        return Err(TierOrPolicyError::History(TierHistoryError::TooManyChanges));
    }
    if date < history.since {
        return Ok(None);
    }
    // Timeline of (effective date, tier), on the stack: no allocation per claim.
    let mut timeline = [(history.since, history.initial); TIER_CHANGES_LIMIT + 1];
    let mut len = 1;
    let mut previous_request = history.since;
    for change in &history.changes {
        if change.requested_on < previous_request {
            return Err(TierOrPolicyError::History(TierHistoryError::OutOfOrder));
        }
        previous_request = change.requested_on;
        if change.requested_on > date {
            break; // later requests cannot change what applied on `date`
        }
        // Drop any change still waiting: the new request replaces it.
        while len > 1 && timeline[len - 1].0 > change.requested_on {
            len -= 1;
        }
        let current = timeline[len - 1].1;
        if change.tier == current {
            continue;
        }
        let months = if change.tier.is_higher_than(current) {
            waiting_months(change.tier, change.requested_on).map_err(TierOrPolicyError::Policy)?
        } else {
            0
        };
        let effective = change_takes_effect(current, *change, months);
        timeline[len] = (effective, change.tier);
        len += 1;
    }
    let tier = timeline[..len].iter().rev().find(|(effective, _)| *effective <= date).map_or(history.initial, |(_, tier)| *tier);
    Ok(Some(tier))
}

/// The first day the tier asked for in `change` applies, moving from `current`: the first
/// of the next month when moving down, `waiting_months` after the request when moving up
/// (R-ENR-4). `waiting_months` is ignored when moving down.
#[must_use]
pub fn change_takes_effect(current: Tier, change: TierChange, waiting_months: u32) -> Date {
    if change.tier.is_higher_than(current) {
        add_months(change.requested_on, waiting_months)
    } else {
        first_of_next_month(change.requested_on)
    }
}

/// The waiting period (R-ENR-4) for moving up to `target` in `region`, from the policy in
/// force on the day of the request. The one place that reads `tier.upgrade_waiting_months`:
/// pass `|target, on| upgrade_waiting_months(policy, region, target, on)` to [`tier_on`].
pub fn upgrade_waiting_months(
    policy: &yibao_policy::Policy,
    region: yibao_domain::RegionCode,
    target: Tier,
    requested_on: Date,
) -> Result<u32, yibao_policy::LookupError> {
    let query = yibao_policy::Query { region: Some(region), tier: Some(target), ..yibao_policy::Query::default() };
    policy.count(yibao_policy::ParamKey::TierUpgradeWaitingMonths, &query, requested_on).map(|f| f.value)
}

/// The tier in force for `coverage` on `on` (R-ENR-4), as every use case must read it: the
/// tier that applies after every change that took effect by then. `None` for a person
/// without a tier history (a pack without tiers for the scheme). Before the history begins
/// (a contribution for a year the person joined during), the tier chosen at enrolment.
/// The one place the contribution due and the settlement agree on a person's tier.
pub fn tier_in_force(
    policy: &yibao_policy::Policy,
    coverage: &crate::Coverage,
    on: Date,
) -> Result<Option<Tier>, TierOrPolicyError<yibao_policy::LookupError>> {
    let Some(history) = coverage.tier_history.as_ref() else {
        return Ok(None);
    };
    let tier = tier_on(history, on, |target, requested_on| upgrade_waiting_months(policy, coverage.region, target, requested_on))?;
    Ok(Some(tier.unwrap_or(history.initial)))
}

/// Either the history is malformed or the policy has no waiting period for the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TierOrPolicyError<E> {
    History(TierHistoryError),
    Policy(E),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::date;

    fn tier(n: u8) -> Tier {
        Tier::new(n).unwrap()
    }

    fn history(changes: &[(Date, u8)]) -> TierHistory {
        TierHistory {
            initial: tier(3),
            since: date!(2026 - 01 - 01),
            changes: changes.iter().map(|&(requested_on, t)| TierChange { requested_on, tier: tier(t) }).collect(),
        }
    }

    /// (changes requested, date asked about, tier expected).
    type TierCase = (&'static [(Date, u8)], Date, Option<u8>);

    /// One table of cases, with a 6-month wait.
    #[test]
    fn r_enr_4_tier_in_force() {
        let cases: &[TierCase] = &[
            (&[], date!(2025 - 12 - 31), None),
            (&[], date!(2026 - 06 - 01), Some(3)),
            // Down from 3 to 4 on 10 March: tier 4 from 1 April.
            (&[(date!(2026 - 03 - 10), 4)], date!(2026 - 03 - 31), Some(3)),
            (&[(date!(2026 - 03 - 10), 4)], date!(2026 - 04 - 01), Some(4)),
            // Up from 3 to 2 on 10 March: still 3 until 10 September.
            (&[(date!(2026 - 03 - 10), 2)], date!(2026 - 09 - 09), Some(3)),
            (&[(date!(2026 - 03 - 10), 2)], date!(2026 - 09 - 10), Some(2)),
            // Up, then back down while waiting: the upgrade never takes effect.
            (&[(date!(2026 - 03 - 10), 2), (date!(2026 - 05 - 20), 4)], date!(2026 - 09 - 10), Some(4)),
            (&[(date!(2026 - 03 - 10), 2), (date!(2026 - 05 - 20), 4)], date!(2026 - 05 - 31), Some(3)),
            // Up to 2, asked again for 3 while waiting: stays 3, nothing pending.
            (&[(date!(2026 - 03 - 10), 2), (date!(2026 - 04 - 01), 3)], date!(2026 - 12 - 31), Some(3)),
            // A request after the date asked about changes nothing.
            (&[(date!(2026 - 08 - 01), 4)], date!(2026 - 07 - 15), Some(3)),
        ];
        for (changes, on, want) in cases {
            let got = tier_on(&history(changes), *on, |_, _| Ok::<u32, ()>(6)).expect("a valid history");
            assert_eq!(got, want.map(tier), "changes {changes:?} on {on}");
        }
    }

    #[test]
    fn refuses_unordered_history() {
        let h = history(&[(date!(2026 - 05 - 01), 4), (date!(2026 - 03 - 01), 2)]);
        assert_eq!(
            tier_on(&h, date!(2026 - 12 - 01), |_, _| Ok::<u32, ()>(6)),
            Err(TierOrPolicyError::History(TierHistoryError::OutOfOrder))
        );
    }
}
