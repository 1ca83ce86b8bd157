//! Sign-in throttling (invariant `sign-in-throttled`): how many wrong passwords an account
//! and a client address may try, and how long each is then held back. The rules are written
//! once here and applied by [`crate::App::sign_in`]; the edges only answer its refusal
//! (`auth.throttled`, `auth.locked`: HTTP 429 with `Retry-After`).
//!
//! - **Per account** (the username as typed, known or not, so that a refusal never tells
//!   whether an account exists): [`ACCOUNT_FAILURES_FREE`] failures are free; after each
//!   further failure, attempts are refused for 1 s, 2 s, 4 s … (at most
//!   [`ACCOUNT_DELAY_SECONDS_MAX`]); at [`ACCOUNT_FAILURES_LOCK`] failures the account is
//!   locked for [`ACCOUNT_LOCK_SECONDS`], refused even with the right password. A success
//!   forgets the account's failures; so does [`ACCOUNT_MEMORY_SECONDS`] without an attempt
//!   after its delay or lock ended, so a failure soon after a lock locks it again.
//! - **Per client address** (the peer's IP when the edge knows it, else the audit source):
//!   at most [`ADDRESS_FAILURES_LIMIT`] failures in a window of [`ADDRESS_WINDOW_SECONDS`],
//!   so one client cannot spray many usernames. A success does not restore the budget.
//!
//! An attempt is counted as a failure when it is admitted, before its password is checked,
//! and forgiven if it succeeds: concurrent guesses cannot all pass before the first is
//! counted.
//!
//! The state is in memory, per process, and bounded: at most [`ENTRIES_LIMIT`] accounts and
//! as many addresses. When full, entries whose memory has lapsed go first, then the one with
//! the fewest failures, so filling the table to free a locked account costs an attacker more
//! failures than the lock holds back. Several server processes behind one address each keep
//! their own counts (so the limits are per process), and a restart forgets them: a store
//! table would share them at the price of a write per attempt, which a password-guessing
//! flood would turn against the database.

use std::collections::HashMap;
use std::hash::Hash;

use time::{Duration, OffsetDateTime};
use yibao_store::SignInReason;

/// Failures an account may have before its attempts are delayed.
pub const ACCOUNT_FAILURES_FREE: u32 = 5;
/// Failures that lock an account.
pub const ACCOUNT_FAILURES_LOCK: u32 = 10;
/// How long a lock lasts.
pub const ACCOUNT_LOCK_SECONDS: i64 = 15 * 60;
/// The longest delay between attempts before the lock.
pub const ACCOUNT_DELAY_SECONDS_MAX: i64 = 60;
/// How long an account's failures are remembered after its delay or lock ends.
pub const ACCOUNT_MEMORY_SECONDS: i64 = 15 * 60;
/// Failures one client address may have per window.
pub const ADDRESS_FAILURES_LIMIT: u32 = 50;
/// The address budget's window.
pub const ADDRESS_WINDOW_SECONDS: i64 = 15 * 60;
/// Most accounts, and most addresses, remembered at once.
pub const ENTRIES_LIMIT: usize = 10_000;

/// How long an account's attempts are held back after its `failures`-th failure.
#[must_use]
pub fn hold_seconds(failures: u32) -> i64 {
    if failures >= ACCOUNT_FAILURES_LOCK {
        ACCOUNT_LOCK_SECONDS
    } else if failures >= ACCOUNT_FAILURES_FREE {
        let doublings = failures - ACCOUNT_FAILURES_FREE;
        1i64.checked_shl(doublings).unwrap_or(i64::MAX).min(ACCOUNT_DELAY_SECONDS_MAX)
    } else {
        0
    }
}

#[derive(Clone, Copy, Debug)]
struct Account {
    failures: u32,
    /// Attempts before this instant are refused unchecked.
    held_until: OffsetDateTime,
    /// Whether a refusal during the current hold was audited (one per hold, so that a
    /// flood of refused attempts cannot flood the audit trail).
    refusal_audited: bool,
}

impl Account {
    fn lapsed(&self, now: OffsetDateTime) -> bool {
        now >= self.held_until + Duration::seconds(ACCOUNT_MEMORY_SECONDS)
    }
}

#[derive(Clone, Copy, Debug)]
struct Address {
    failures: u32,
    window_start: OffsetDateTime,
    refusal_audited: bool,
}

impl Address {
    fn lapsed(&self, now: OffsetDateTime) -> bool {
        now >= self.window_end()
    }
    fn window_end(&self) -> OffsetDateTime {
        self.window_start + Duration::seconds(ADDRESS_WINDOW_SECONDS)
    }
}

/// An attempt refused before its password was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: SignInReason,
    pub until: OffsetDateTime,
    /// The account's failures so far.
    pub failures: u32,
    /// The first refusal of this hold: the one the audit trail records.
    pub audit: bool,
}

/// The account's state after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub failures: u32,
    /// Until when further attempts are refused, if they are.
    pub held_until: Option<OffsetDateTime>,
    /// This failure locked the account.
    pub locked: bool,
}

/// The counts of failed sign-ins, per account and per client address.
#[derive(Debug, Default)]
pub struct Throttle {
    accounts: HashMap<String, Account>,
    addresses: HashMap<String, Address>,
}

/// Room for one more key in `map`: lapsed entries go first, then the one `weight` ranks
/// lowest.
fn make_room<K: Eq + Hash + Clone, V>(map: &mut HashMap<K, V>, lapsed: impl Fn(&V) -> bool, weight: impl Fn(&V) -> (u32, OffsetDateTime)) {
    if map.len() < ENTRIES_LIMIT {
        return;
    }
    map.retain(|_, v| !lapsed(v));
    while map.len() >= ENTRIES_LIMIT {
        let Some(lightest) = map.iter().min_by_key(|(_, v)| weight(v)).map(|(k, _)| k.clone()) else { return };
        map.remove(&lightest);
    }
}

impl Throttle {
    /// Admits an attempt for `account` from `address` at `now`, counting it as a failure
    /// until [`Throttle::succeeded`] forgives it; or refuses it unchecked.
    pub fn admit(&mut self, account: &str, address: &str, now: OffsetDateTime) -> Result<(), Refusal> {
        if self.accounts.get(account).is_some_and(|a| a.lapsed(now)) {
            self.accounts.remove(account);
        }
        if self.addresses.get(address).is_some_and(|a| a.lapsed(now)) {
            self.addresses.remove(address);
        }
        let account_failures = self.accounts.get(account).map_or(0, |a| a.failures);
        if let Some(held) = self.accounts.get_mut(account).filter(|a| now < a.held_until) {
            let reason = if held.failures >= ACCOUNT_FAILURES_LOCK { SignInReason::AccountLocked } else { SignInReason::AccountDelayed };
            let audit = !held.refusal_audited;
            held.refusal_audited = true;
            return Err(Refusal { reason, until: held.held_until, failures: held.failures, audit });
        }
        if let Some(spent) = self.addresses.get_mut(address).filter(|a| a.failures >= ADDRESS_FAILURES_LIMIT) {
            let audit = !spent.refusal_audited;
            spent.refusal_audited = true;
            return Err(Refusal { reason: SignInReason::AddressLimit, until: spent.window_end(), failures: account_failures, audit });
        }
        if !self.addresses.contains_key(address) {
            make_room(&mut self.addresses, |a| a.lapsed(now), |a| (a.failures, a.window_start));
        }
        let entry = self.addresses.entry(address.to_owned()).or_insert(Address { failures: 0, window_start: now, refusal_audited: false });
        entry.failures += 1;
        if !self.accounts.contains_key(account) {
            make_room(&mut self.accounts, |a| a.lapsed(now), |a| (a.failures, a.held_until));
        }
        let entry = self.accounts.entry(account.to_owned()).or_insert(Account { failures: 0, held_until: now, refusal_audited: false });
        entry.failures = entry.failures.saturating_add(1);
        entry.held_until = now + Duration::seconds(hold_seconds(entry.failures));
        entry.refusal_audited = false;
        Ok(())
    }

    /// An admitted attempt signed in: the account's failures are forgotten, and the
    /// address is not charged for it.
    pub fn succeeded(&mut self, account: &str, address: &str) {
        self.accounts.remove(account);
        if let Some(entry) = self.addresses.get_mut(address) {
            entry.failures = entry.failures.saturating_sub(1);
        }
    }

    /// An admitted attempt failed (it is already counted): what the account's count says.
    #[must_use]
    pub fn failed(&self, account: &str, now: OffsetDateTime) -> Failure {
        let Some(entry) = self.accounts.get(account) else { return Failure { failures: 0, held_until: None, locked: false } };
        Failure {
            failures: entry.failures,
            held_until: (entry.held_until > now).then_some(entry.held_until),
            locked: entry.failures >= ACCOUNT_FAILURES_LOCK,
        }
    }

    /// Accounts and addresses remembered (at most [`ENTRIES_LIMIT`] each).
    #[must_use]
    pub fn entries(&self) -> (usize, usize) {
        (self.accounts.len(), self.addresses.len())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn delays_double_from_the_fifth_failure_then_lock() {
        let holds: Vec<i64> = (1..=11).map(hold_seconds).collect();
        assert_eq!(holds, [0, 0, 0, 0, 1, 2, 4, 8, 16, ACCOUNT_LOCK_SECONDS, ACCOUNT_LOCK_SECONDS]);
        assert_eq!(hold_seconds(u32::MAX), ACCOUNT_LOCK_SECONDS);
    }

    #[test]
    fn the_table_stays_bounded_and_keeps_the_heaviest() {
        let mut now = datetime!(2026-05-01 08:00 UTC);
        let mut throttle = Throttle::default();
        for _ in 0..ACCOUNT_FAILURES_LOCK {
            assert!(throttle.admit("target", "a", now).is_ok());
            now += Duration::seconds(ACCOUNT_DELAY_SECONDS_MAX);
        }
        for n in 0..ENTRIES_LIMIT + 10 {
            let _ = throttle.admit(&format!("spray-{n}"), &format!("b-{n}"), now);
        }
        let (accounts, addresses) = throttle.entries();
        assert!(accounts <= ENTRIES_LIMIT && addresses <= ENTRIES_LIMIT, "{accounts} {addresses}");
        assert!(throttle.admit("target", "c", now).is_err_and(|r| r.reason == SignInReason::AccountLocked), "the lock survives the spray");
    }
}
