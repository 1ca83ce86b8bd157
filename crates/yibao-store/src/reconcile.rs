//! `records-match-books` for the business records that move money (issue 12): the audit
//! trail is replayed, entry by entry, and each claim and contribution it records is checked
//! three ways: against its audit entry (which the hash chain, and an anchor kept outside
//! the system, protect), against the posting rules it was written with
//! ([`settlement_entries`], [`reversal_entries`], [`contribution_entries`]) transfer by
//! transfer, and, for claims, against the person's year-to-date accumulators, which each
//! settlement must take up where the one before it left them.
//!
//! So an amount edited anywhere is named: in a claim's stored settlement or its columns (they
//! no longer agree with each other, with the transfers or with the audit entry), in a
//! transfer together with both account totals it touches (the totals then agree with the
//! transfers, but the transfer no longer agrees with its claim), in a contribution, or in
//! the accumulators. Counting what was reconciled against what the store holds finds a
//! record without an audit entry and a transfer that names no record on file.
//!
//! Memory: the replay reads a page of audit entries with its records and their transfers at
//! a time; it keeps, across pages, each person's accumulators as the replay reached them and
//! the contribution periods still partly paid: it grows with the register, not with the
//! claims, contributions or transfers. Pure: the caller reads; this module compares.

use std::collections::{HashMap, HashSet};

use yibao_domain::{NationalId, Period, RegionCode};
use yibao_engine::Accumulators;
use yibao_ledger::{Breach, Transfer};

use crate::books::{PaidBefore, contribution_entries, opening_account_entries, reversal_entries, settlement_entries, settlement_record_id};
use crate::compact::ClaimColumns;
use crate::replay::{FundRecords, Owns, RunReplay, differing, same_json, setting_disagrees};
use crate::{ClaimStatus, ContributionKind, ContributionRecord, StoredClaim};

/// A person's year: whose accumulators a claim moved.
type PersonYear = (RegionCode, NationalId, i32);

/// Compares records with their audit entries and the transfers they caused, collecting
/// breaches (at most [`yibao_ledger::limits::BREACHES_LIMIT`] in all, counting those it
/// was given). It owns what it collects, so that it can check on a thread of its own
/// while the next page is read (issue 17).
#[derive(Debug)]
pub struct Reconciler {
    partly_paid: HashMap<(RegionCode, NationalId, ContributionKind, Period), PaidBefore>,
    reached: HashMap<PersonYear, Accumulators>,
    /// The counters a move to another scheme set aside, by person, scheme and year: a return
    /// to that scheme in the year must take up exactly these.
    set_aside: HashMap<(NationalId, String, i32), Accumulators>,
    /// Reversed claims whose reversal the trail has not recorded yet (by record id).
    reversals_unaudited: HashMap<String, String>,
    /// Claims and contributions reconciled, and the transfers they accounted for.
    pub claims: u64,
    pub contributions: u64,
    pub record_transfers: u64,
    /// Every other transfer accounted for: by fund runs and bookings, and by the opening
    /// balances of personal accounts.
    pub other_transfers: u64,
    /// The fund runs and bookings counted (a booking made again is compared again, counted
    /// once), and those whose record the trail met, by `(action, entity)`.
    runs_counted: HashSet<(String, String)>,
    /// A budget's or targets' last audit entry, by `(action, entity)`.
    settings_audited: HashMap<(String, String), String>,
    /// On a second pass, after the counts disagreed: every claim and transfer accounted for.
    seen: Option<Seen>,
    breaches: Vec<Breach>,
}

/// What a second pass remembers, to name what the first pass only counted.
#[derive(Debug, Default)]
pub struct Seen {
    pub claims: HashSet<(RegionCode, String)>,
    pub contributions: HashSet<(RegionCode, i64)>,
    pub transfers: HashSet<String>,
}

impl Reconciler {
    /// A reconciler that adds to `breaches`, those found before it (given back by
    /// [`Reconciler::into_breaches`]).
    #[must_use]
    pub fn new(breaches: Vec<Breach>) -> Reconciler {
        Reconciler {
            partly_paid: HashMap::new(),
            reached: HashMap::new(),
            set_aside: HashMap::new(),
            reversals_unaudited: HashMap::new(),
            claims: 0,
            contributions: 0,
            record_transfers: 0,
            other_transfers: 0,
            runs_counted: HashSet::new(),
            settings_audited: HashMap::new(),
            seen: None,
            breaches,
        }
    }

    /// A reconciler that also remembers what it accounted for (and reports nothing: the
    /// first pass did), to name the records and transfers the first pass could only count.
    #[must_use]
    pub fn remembering() -> Reconciler {
        Reconciler { seen: Some(Seen::default()), ..Reconciler::new(Vec::new()) }
    }

    /// The breaches found before and by this reconciler.
    #[must_use]
    pub fn into_breaches(self) -> Vec<Breach> {
        self.breaches
    }

    /// What a remembering reconciler accounted for.
    #[must_use]
    pub fn into_seen(self) -> Seen {
        self.seen.unwrap_or_default()
    }

    fn breach(&mut self, record: &str, detail: String) {
        if self.seen.is_some() {
            return;
        }
        let limit = yibao_ledger::limits::BREACHES_LIMIT;
        if self.breaches.len() < limit {
            self.breaches.push(Breach::BusinessDisagrees { record: record.to_owned(), detail });
        } else if self.breaches.len() == limit {
            self.breaches.push(Breach::Truncated);
        }
    }

    /// An audit entry (`region`, entry `seq`) records a claim or contribution that is not on
    /// record.
    pub fn not_on_record(&mut self, region: RegionCode, seq: i64, what: &str) {
        self.breach(&format!("audit entry {seq} of {region}"), format!("it records {what}, which is not on record"));
    }

    /// A `claim.settle` entry with its claim as stored now and every transfer caused by its
    /// settlement and its reversal: the claim's columns against its stored settlement, the
    /// settlement's identities, the transfers against what it posts, the claim against the
    /// audit entry's detail, and the accumulators it started from against those the replay
    /// reached.
    pub fn claim_settled(&mut self, stored: &StoredClaim, audited: &str, transfers: &[&Transfer]) {
        let claim = &stored.record;
        let record_id = settlement_record_id(&claim.institution_code, &claim.claim_id);
        let name = format!("claim {} of {}", record_id, claim.region);
        self.claims += 1;
        self.record_transfers += transfers.len() as u64;
        if let Some(seen) = &mut self.seen {
            seen.claims.insert((claim.region, record_id.clone()));
            seen.transfers.extend(transfers.iter().map(|t| t.id.to_string()));
        }
        if let Some(why) = &stored.unreadable {
            return self.breach(&name, format!("its stored settlement, claim or counters cannot be read: {why}"));
        }
        // The audit detail holds the totals and digests of the stored settlement and of the
        // accumulators: any of them edited since is named here.
        match claim.settle_audit_detail(&stored.acc_before, &stored.acc_after) {
            Ok(ours) if same_json(&ours, audited) => {}
            Ok(ours) => self.breach(
                &name,
                format!("the claim row says {} but its audit entry recorded {}", differing(&ours, audited), differing(audited, &ours)),
            ),
            Err(e) => self.breach(&name, format!("its audit detail cannot be rebuilt: {e}")),
        }
        if claim.status == ClaimStatus::Reversed {
            self.reversals_unaudited.insert(record_id.clone(), name.clone());
        }
        // The accumulators the settlement reports are those it stored as left, and it
        // started from where the person's earlier claims of the year left them.
        let settlement = crate::books::StoredSettlementView::read(&claim.settlement_json);
        if settlement.accumulators != Some(stored.acc_after) {
            self.breach(&name, "the accumulators its settlement reports are not those it stored as left".to_owned());
        }
        // The insurance type the underwriting quarter selects claims by (issue 17: a column
        // beside the compressed settlement) is the settlement's own.
        if stored.insutype != settlement.insutype {
            self.breach(
                &name,
                format!("its column insutype holds '{}', but its stored settlement says '{}'", stored.insutype, settlement.insutype),
            );
        }
        self.claim_columns_match(&name, stored, &claim.claim_json);
        let year = (claim.region, claim.person_id, stored.acc_after.year);
        let reached = self.reached.get(&year).copied().unwrap_or_else(|| Accumulators::new_year(year.2));
        if reached != stored.acc_before {
            self.breach(
                &name,
                format!("it started from {}, but the person's earlier claims left {}", summary(&stored.acc_before), summary(&reached)),
            );
        }
        self.reached.insert(year, stored.acc_after);

        let amounts = match settlement.amounts {
            Ok(amounts) => amounts,
            Err(why) => return self.breach(&name, why),
        };
        for (column, stored, settlement) in [
            ("medfee_fen", claim.medfee_fen, amounts.medfee_sumamt),
            ("fund_pay_fen", claim.fund_pay_fen, amounts.fund_pay_sumamt),
            ("psn_part_fen", claim.psn_part_fen, amounts.psn_part_amt),
        ] {
            if stored != settlement {
                self.breach(&name, format!("its column {column} holds {stored}, but its stored settlement says {settlement}"));
            }
        }
        // The supplementary layer the underwriting quarter selects claims by.
        if stored.supplementary_fen != amounts.oth_pay.get() {
            self.breach(
                &name,
                format!(
                    "its column supplementary_fen holds {} fen, but its stored settlement says {}",
                    stored.supplementary_fen, amounts.oth_pay
                ),
            );
        }
        if let Err(why) = amounts.check_identities() {
            self.breach(&name, format!("its stored settlement breaks payers-sum-to-bill: {why}"));
        }
        let expected =
            settlement_entries(claim.region, &claim.institution_code, &claim.claim_id, claim.person_id, &amounts, claim.settled_at.date())
                .and_then(|originals| match (claim.status, claim.reversed_at) {
                    (ClaimStatus::Reversed, Some(at)) => {
                        let reversal = reversal_entries(&originals, &claim.institution_code, &claim.claim_id, at.date())?;
                        Ok(originals.into_iter().chain(reversal).collect())
                    }
                    _ => Ok(originals),
                });
        match expected {
            Ok(expected) => {
                let expected: Vec<Transfer> = expected.into_iter().map(|e| e.transfer).collect();
                self.compare(&name, &expected, transfers);
            }
            Err(e) => self.breach(&name, format!("what it posts cannot be rebuilt: {e}")),
        }
    }

    /// A `claim.reverse` entry: the reversal gave the person back the accumulators the claim
    /// started from, so the claim must have been the last to move them.
    pub fn claim_reversed(&mut self, stored: &StoredClaim, audited: &str) {
        let claim = &stored.record;
        let record_id = settlement_record_id(&claim.institution_code, &claim.claim_id);
        let name = format!("claim {} of {}", record_id, claim.region);
        self.reversals_unaudited.remove(&record_id);
        if claim.status != ClaimStatus::Reversed {
            self.breach(&name, "its audit trail records a reversal, but the claim is not reversed".to_owned());
        }
        let reason = serde_json::from_str::<serde_json::Value>(audited).ok().and_then(|d| d.get("reason")?.as_str().map(str::to_owned));
        if reason.is_none() || reason != claim.reversal_reason {
            self.breach(
                &name,
                format!(
                    "its reversal reason reads 「{}」, but its audit entry recorded 「{}」",
                    claim.reversal_reason.as_deref().unwrap_or(""),
                    reason.as_deref().unwrap_or("")
                ),
            );
        }
        let year = (claim.region, claim.person_id, stored.acc_after.year);
        let reached = self.reached.get(&year).copied().unwrap_or_else(|| Accumulators::new_year(year.2));
        if reached != stored.acc_after {
            self.breach(&name, format!("it was reversed while the person's accumulators were {}, not those it left", summary(&reached)));
        }
        self.reached.insert(year, stored.acc_before);
    }

    /// The claim's fields SQL reads in place of its JSON (issue 17: columns beside the
    /// compressed claim) are the claim's own: each column that is not is named.
    fn claim_columns_match(&mut self, name: &str, stored: &StoredClaim, claim_json: &str) {
        for (column, held, says) in stored.columns.differing(&ClaimColumns::of(claim_json)) {
            let shown = |value: Option<&str>| value.map_or_else(|| "NULL".to_owned(), |value| format!("'{value}'"));
            self.breach(name, format!("its column {column} holds {}, but its stored claim says {}", shown(held), shown(says)));
        }
    }

    /// A `contribution.record` entry with its contribution and the transfers caused by it
    /// and its subsidies: what it posts, given the earlier records of its person, kind and
    /// period, against the books, and the record against its audit entry.
    ///
    /// A migrated contribution (`migrated`, a `contribution.migrate` entry) posts nothing:
    /// its money came with the fund's handed-over balance.
    pub fn contribution(&mut self, record: &ContributionRecord, audited: &str, transfers: &[&Transfer], migrated: bool) {
        let record_id = format!("{}/{}", record.region, record.seq);
        let name = format!("contribution {record_id} of {}", record.person_id);
        self.contributions += 1;
        self.record_transfers += transfers.len() as u64;
        if let Some(seen) = &mut self.seen {
            seen.contributions.insert((record.region, record.seq));
            seen.transfers.extend(transfers.iter().map(|t| t.id.to_string()));
        }
        match serde_json::to_string(record).map(|ours| (same_json(&ours, audited), ours)) {
            Ok((true, _)) => {}
            Ok((false, ours)) => self.breach(&name, format!("the row says {ours} but its audit entry recorded {audited}")),
            Err(e) => self.breach(&name, format!("its audit detail cannot be rebuilt: {e}")),
        }
        let key = (record.region, record.person_id, record.kind, record.period);
        let before = self.partly_paid.remove(&key);
        let expected = if migrated { Ok(Vec::new()) } else { contribution_entries(record, before, record.recorded_at.date()) };
        match expected {
            Ok(expected) => {
                let expected: Vec<Transfer> = expected.into_iter().map(|e| e.transfer).collect();
                self.compare(&name, &expected, transfers);
            }
            Err(e) => self.breach(&name, format!("what it posts cannot be rebuilt: {e}")),
        }
        // Only a period still partly paid is remembered: one paid in full takes no further
        // payment (`contribution.overpaid`), and a later record of nothing posts nothing.
        let after = PaidBefore {
            paid_fen: before.map_or(0, |b| b.paid_fen).saturating_add(record.paid_fen.get()),
            due_fen: before.map_or(0, |b| b.due_fen).max(record.due_fen.get()),
        };
        if after.paid_fen < after.due_fen {
            self.partly_paid.insert(key, after);
        }
    }

    /// An `accumulators.open` entry (a migration's opening state, issue 16): the person's
    /// next claim of the year starts from it. It comes before any claim of that year.
    pub fn accumulators_opened(&mut self, region: RegionCode, person: &str, audited: &str) {
        let name = format!("the opening accumulators of {person} in {region}");
        let opened =
            crate::migration::accumulators_opened(audited).and_then(|acc| Ok((acc, NationalId::parse(person).map_err(|e| e.to_string())?)));
        match opened {
            Ok((acc, id)) => {
                if self.reached.insert((region, id, acc.year), acc).is_some() {
                    self.breach(&name, format!("the person's {} accumulators were moved before they were opened", acc.year));
                }
            }
            Err(e) => self.breach(&name, format!("its audit detail cannot be read: {e}")),
        }
    }

    /// A `person.change_coverage`, `person.move_out` or `person.move_in` entry (R-ENR-5): a
    /// move to another scheme sets the year's counters aside, which must be where the
    /// person's claims left them (the new scheme's year starts at zero); a move to another
    /// county carries every counter from the old county's trail, where they must be where
    /// the claims left them, to the new county's, where the next claim starts from them.
    pub fn coverage_changed(&mut self, region: RegionCode, action: &str, person: &str, audited: &str) {
        #[derive(serde::Deserialize)]
        struct Spell {
            scheme: String,
        }
        #[derive(serde::Deserialize)]
        struct Detail {
            on: time::Date,
            ended: Spell,
            next: Spell,
            #[serde(default)]
            accumulators_set_aside: Option<Accumulators>,
            #[serde(default)]
            carried: Vec<Accumulators>,
            #[serde(default)]
            restored: Option<Accumulators>,
        }
        let name = format!("the coverage change of {person} in {region}");
        let parsed = serde_json::from_str::<Detail>(audited)
            .map_err(|e| e.to_string())
            .and_then(|d| Ok((d, NationalId::parse(person).map_err(|e| e.to_string())?)));
        let (detail, id) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return self.breach(&name, format!("its audit detail cannot be read: {e}")),
        };
        let reached_at = |reached: &HashMap<PersonYear, Accumulators>, year: i32| {
            reached.get(&(region, id, year)).copied().unwrap_or_else(|| Accumulators::new_year(year))
        };
        if action == "person.move_in" {
            for acc in detail.carried {
                self.reached.insert((region, id, acc.year), acc);
            }
            return;
        }
        if detail.ended.scheme != detail.next.scheme {
            let year = detail.on.year();
            let set_aside = detail.accumulators_set_aside.unwrap_or_else(|| Accumulators::new_year(year));
            let reached = reached_at(&self.reached, year);
            if reached != set_aside {
                self.breach(&name, format!("it set aside {}, but the person's claims left {}", summary(&set_aside), summary(&reached)));
            }
            self.reached.retain(|(r, p, y), _| !(*r == region && *p == id && *y >= year));
            self.set_aside.insert((id, detail.ended.scheme.clone(), year), set_aside);
            if let Some(restored) = detail.restored {
                // Set aside in this county's trail or in one replayed before it: it must be
                // what was set aside (a county replayed later is checked from its own claims).
                if let Some(kept) = self.set_aside.get(&(id, detail.next.scheme.clone(), restored.year))
                    && *kept != restored
                {
                    self.breach(&name, format!("it took up {}, but the scheme's year was left at {}", summary(&restored), summary(kept)));
                }
                self.reached.insert((region, id, restored.year), restored);
            }
        }
        if action == "person.move_out" {
            for acc in &detail.carried {
                let reached = reached_at(&self.reached, acc.year);
                if reached != *acc {
                    self.breach(&name, format!("it carried {}, but the person's claims left {}", summary(acc), summary(&reached)));
                }
            }
            self.reached.retain(|(r, p, _), _| !(*r == region && *p == id));
        }
    }

    /// `accumulators-from-claims`: each person's stored year-to-date accumulators are where
    /// the replay of their claims left them (a new year's zeros without claims). `stored` is
    /// every accumulator row of the city; call after the whole trail was replayed.
    pub fn accumulators(&mut self, stored: Vec<(RegionCode, NationalId, Accumulators)>) {
        // A reversed claim whose reversal no audit entry recorded: reversed past the trail.
        let mut unaudited: Vec<String> = std::mem::take(&mut self.reversals_unaudited).into_values().collect();
        unaudited.sort();
        for name in unaudited {
            self.breach(&name, "it is reversed, but no audit entry records its reversal".to_owned());
        }
        // Only the rows that disagree are kept: a city's every person-year, held twice over
        // beside the map, was most of the check's memory (issue 17 item 4).
        let mut reached = std::mem::take(&mut self.reached);
        let mut rows: Vec<(PersonYear, Accumulators, Accumulators)> = Vec::new();
        for (region, person, kept) in stored {
            let year = (region, person, kept.year);
            let left = reached.remove(&year).unwrap_or_else(|| Accumulators::new_year(year.2));
            if kept != left {
                rows.push((year, kept, left));
            }
        }
        for (year, left) in reached {
            let kept = Accumulators::new_year(year.2);
            if kept != left {
                rows.push((year, kept, left));
            }
        }
        rows.sort_by_key(|(year, _, _)| *year);
        for ((region, person, year), kept, left) in rows {
            self.breach(
                &format!("accumulators of {person} for {year} in {region}"),
                format!("the stored state {} is not where the claims lead ({})", summary(&kept), summary(&left)),
            );
        }
    }

    /// A fund run or booking ([`crate::replay::replay`]) with the transfers its causes name
    /// in the books: its record against its audit entry, and what it posts, rebuilt from its
    /// record by the plan that posted it, against the books.
    pub fn fund_run(&mut self, replay: RunReplay, transfers: &[&Transfer]) {
        let RunReplay { name, key, disagreements, expected, owns, dated_by_books, counted_only, .. } = replay;
        let mut expected: Result<Vec<Transfer>, _> = expected.map(|entries| entries.into_iter().map(|e| e.transfer).collect());
        if let (true, Ok(expected)) = (dated_by_books, &mut expected) {
            for want in expected.iter_mut() {
                if let Some(have) = transfers.iter().find(|t| t.id == want.id) {
                    want.value_date = have.value_date;
                }
            }
        }
        let own: Vec<&Transfer> = transfers
            .iter()
            .copied()
            .filter(|t| match (&owns, &expected) {
                (Owns::All, _) => true,
                (Owns::AllBut(prefix), _) => !t.id.as_str().starts_with(prefix.as_str()),
                (Owns::Expected, Ok(expected)) => expected.iter().any(|e| e.id == t.id),
                (Owns::Expected, Err(_)) => false,
            })
            .collect();
        if self.runs_counted.insert(key) {
            self.other_transfers += own.len() as u64;
            if let Some(seen) = &mut self.seen {
                seen.transfers.extend(own.iter().map(|t| t.id.to_string()));
            }
        }
        for disagreement in disagreements {
            self.breach(&name, disagreement);
        }
        if let Some(count) = counted_only {
            if own.len() != count {
                self.breach(&name, format!("its record counts {count} transfers, but the books hold {}", own.len()));
            }
            return;
        }
        match expected {
            Ok(expected) => self.compare(&name, &expected, &own),
            Err(e) => self.breach(&name, format!("what it posts cannot be rebuilt: {e}")),
        }
    }

    /// An audit entry records a fund run or booking whose record the store does not hold.
    pub fn run_not_on_record(&mut self, region: RegionCode, seq: i64, what: &str) {
        self.runs_counted.insert((format!("missing {seq}"), region.to_string()));
        self.not_on_record(region, seq, what);
    }

    /// A `fund.budget` or `fund.targets` entry: the last one of each entity is compared with
    /// the row when the trail ends ([`Reconciler::fund_records`]).
    pub fn setting(&mut self, action: &str, entity: &str, audited: &str) {
        self.settings_audited.insert((action.to_owned(), entity.to_owned()), audited.to_owned());
    }

    /// A `person.enrol` entry with the transfers its opening balance caused: the personal
    /// account's opening balance, as the enrolment recorded it, against the books.
    pub fn person_enrolled(&mut self, region: RegionCode, person: &str, audited: &str, transfers: &[&Transfer]) {
        #[derive(serde::Deserialize)]
        struct Balance {
            #[serde(with = "yibao_domain::serde_yuan")]
            personal_account_balance: yibao_domain::Fen,
        }
        #[derive(serde::Deserialize)]
        struct Enrolled {
            coverage: Balance,
            #[serde(with = "time::serde::rfc3339")]
            enrolled_at: time::OffsetDateTime,
        }
        let name = format!("the enrolment of {person} in {region}");
        self.other_transfers += transfers.len() as u64;
        if let Some(seen) = &mut self.seen {
            seen.transfers.extend(transfers.iter().map(|t| t.id.to_string()));
        }
        let expected = serde_json::from_str::<Enrolled>(audited)
            .map_err(|e| e.to_string())
            .and_then(|d| Ok((d, NationalId::parse(person).map_err(|e| e.to_string())?)))
            .and_then(|(d, id)| {
                opening_account_entries(region, id, d.coverage.personal_account_balance, d.enrolled_at.date()).map_err(|e| e.to_string())
            });
        match expected {
            Ok(expected) => {
                let expected: Vec<Transfer> = expected.into_iter().map(|e| e.transfer).collect();
                self.compare(&name, &expected, transfers);
            }
            Err(e) => self.breach(&name, format!("what it posts cannot be rebuilt: {e}")),
        }
    }

    /// When the trail is replayed: every fund run's record met by an audit entry, each
    /// confirmed handover's confirmation audited, and each budget and target as its last
    /// audit entry set it.
    pub fn fund_records(&mut self, records: &FundRecords) {
        let met = |action: &str, entity: &str| self.runs_counted.contains(&(action.to_owned(), entity.to_owned()));
        let mut unaudited: Vec<(String, &str)> = Vec::new();
        for month in records.pooling_runs.keys().filter(|m| !met("fund.pooling_run", m)) {
            unaudited.push((format!("pooling run {month}"), "no audit entry records it"));
        }
        for year in records.closes.keys().filter(|y| !met("fund.year_close", y)) {
            unaudited.push((format!("the close of {year}"), "no audit entry records it"));
        }
        for (reference, inventory) in &records.handovers {
            if !met("fund.handover_signed", reference) {
                unaudited.push((format!("the handover {reference}"), "no audit entry records its inventory"));
            }
            if inventory.confirmed_by.is_some() && !met("fund.handover_confirmed", reference) {
                unaudited.push((format!("the handover {reference}"), "it is confirmed, but no audit entry records its confirmation"));
            }
        }
        for year in records.clearings.keys().filter(|y| !met("fund.payment_clearing", y)) {
            unaudited.push((format!("the payment clearing of {year}"), "no audit entry records it"));
        }
        for deficit in records.legacy.keys().filter(|d| !met("fund.legacy_deficit", d)) {
            unaudited.push((format!("the legacy deficit {deficit}"), "no audit entry records it"));
        }
        for (action, entities) in
            [("fund.budget", records.budgets.keys().collect::<Vec<_>>()), ("fund.targets", records.targets.keys().collect())]
        {
            for entity in entities {
                if !self.settings_audited.contains_key(&(action.to_owned(), entity.clone())) {
                    unaudited.push((
                        format!("{} {entity}", if action == "fund.budget" { "the budget" } else { "the targets" }),
                        "no audit entry records it",
                    ));
                }
            }
        }
        let mut settings: Vec<((String, String), String)> = std::mem::take(&mut self.settings_audited).into_iter().collect();
        settings.sort();
        for ((action, entity), audited) in settings {
            if let Some(why) = setting_disagrees(&action, records, &entity, &audited) {
                let what = if action == "fund.budget" { "the budget" } else { "the targets" };
                self.breach(&format!("{what} {entity}"), why);
            }
        }
        unaudited.sort();
        for (name, why) in unaudited {
            self.breach(&name, why.to_owned());
        }
    }

    /// Names a claim no audit entry records (second pass).
    pub fn unaudited_claim(&mut self, region: RegionCode, record_id: &str) {
        self.breach(&format!("claim {record_id} of {region}"), "no audit entry records its settlement".to_owned());
    }

    /// Names a contribution no audit entry records (second pass).
    pub fn unaudited_contribution(&mut self, region: RegionCode, seq: i64) {
        self.breach(&format!("contribution {region}/{seq}"), "no audit entry records it".to_owned());
    }

    /// Names a transfer that names a claim or contribution no audit entry leads to.
    pub fn orphan_transfer(&mut self, transfer: &Transfer) {
        self.breach(
            &format!("transfer {}", transfer.id),
            format!("it names {} {}, which is not on record (or not in the audit trail)", transfer.cause.kind.as_str(), transfer.cause.id),
        );
    }

    /// Compares what a record posts with what the books hold under its id.
    fn compare(&mut self, name: &str, expected: &[Transfer], actual: &[&Transfer]) {
        let held: HashMap<&str, &Transfer> = actual.iter().map(|t| (t.id.as_str(), *t)).collect();
        for want in expected {
            match held.get(want.id.as_str()) {
                None => self.breach(name, format!("transfer {} of {} is missing from the books", want.id, want.amount_fen)),
                Some(have) if have.amount_fen != want.amount_fen => self.breach(
                    name,
                    format!("transfer {} moved {} in the books, but the record posts {}", want.id, have.amount_fen, want.amount_fen),
                ),
                Some(have) if **have != *want => {
                    self.breach(name, format!("transfer {} differs from what the record posts (accounts, reason, cause or date)", want.id))
                }
                Some(_) => {}
            }
        }
        for have in actual {
            if !expected.iter().any(|want| want.id == have.id) {
                self.breach(name, format!("transfer {} of {} is in the books, but the record does not post it", have.id, have.amount_fen));
            }
        }
    }
}

/// The accumulators in a few words, for a breach message.
fn summary(acc: &Accumulators) -> String {
    format!(
        "{} admissions, inpatient deductible {} paid, pooled {} paid, outpatient deductible {} and pooled {} paid, \
         chronic deductible {} and {} paid, in-scope burden {}, critical {} paid, assistance deductible {} and {} paid",
        acc.admissions,
        acc.inpatient_deductible_paid,
        acc.pooled_paid,
        acc.outpatient_deductible_paid,
        acc.outpatient_pooled_paid,
        acc.chronic_deductible_paid,
        acc.chronic_paid,
        acc.inscope_burden,
        acc.critical_paid,
        acc.assistance_deductible_paid,
        acc.assistance_paid
    )
}
