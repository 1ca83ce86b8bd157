//! `records-match-books` for the business records that move money (issue 12): each claim
//! and each contribution is replayed through the posting rules it was written with
//! ([`settlement_entries`], [`reversal_entries`], [`contribution_entries`]) and what that
//! posts is compared, transfer by transfer, with what the books hold under the record's
//! id. Each record is also compared with its audit entry, which the hash chain (and an
//! anchor kept outside the system) protects.
//!
//! So an amount edited anywhere is named: in a claim's stored settlement or its columns
//! (they no longer agree with each other, with the transfers or with the audit entry), in
//! a transfer together with both account totals it touches (the totals then agree with the
//! transfers, but the transfer no longer agrees with its claim), or in a contribution. A
//! transfer that names a claim or contribution not on file is named too.
//!
//! Pure: the caller reads the records and the transfers; this module only compares.

use std::collections::HashMap;

use yibao_domain::{NationalId, Period, RegionCode};
use yibao_ledger::{Breach, RecordKind, Transfer};

use crate::books::{PaidBefore, SettlementAmounts, contribution_entries, reversal_entries, settlement_entries, settlement_record_id};
use yibao_engine::Accumulators;

use crate::{ClaimStatus, ContributionKind, ContributionRecord, StoredClaim};

/// A person's year: whose accumulators a claim moved.
type PersonYear = (RegionCode, NationalId, i32);

/// A live claim's step in its person's year: the accumulators it started from and left.
#[derive(Debug)]
struct Step {
    claim: String,
    before: Accumulators,
    after: Accumulators,
}

/// The record kinds whose transfers all come from a claim or a contribution row.
const RECONCILED_KINDS: [RecordKind; 4] =
    [RecordKind::Contribution, RecordKind::Subsidy, RecordKind::Settlement, RecordKind::SettlementReversal];

/// Compares records with the transfers they caused, collecting breaches (at most
/// [`yibao_ledger::limits::BREACHES_LIMIT`] in all, counting those already found).
#[derive(Debug)]
pub struct Reconciler<'a> {
    by_cause: HashMap<(RecordKind, String), Vec<&'a Transfer>>,
    paid_before: HashMap<(RegionCode, NationalId, ContributionKind, Period), PaidBefore>,
    steps: HashMap<PersonYear, Vec<Step>>,
    breaches: &'a mut Vec<Breach>,
}

impl<'a> Reconciler<'a> {
    /// Indexes `transfers` (a city's books) by the record that caused them.
    pub fn new(transfers: &'a [Transfer], breaches: &'a mut Vec<Breach>) -> Reconciler<'a> {
        let mut by_cause: HashMap<(RecordKind, String), Vec<&'a Transfer>> = HashMap::new();
        for transfer in transfers.iter().filter(|t| RECONCILED_KINDS.contains(&t.cause.kind)) {
            by_cause.entry((transfer.cause.kind, transfer.cause.id.clone())).or_default().push(transfer);
        }
        Reconciler { by_cause, paid_before: HashMap::new(), steps: HashMap::new(), breaches }
    }

    fn breach(&mut self, record: &str, detail: String) {
        let limit = yibao_ledger::limits::BREACHES_LIMIT;
        if self.breaches.len() < limit {
            self.breaches.push(Breach::BusinessDisagrees { record: record.to_owned(), detail });
        } else if self.breaches.len() == limit {
            self.breaches.push(Breach::Truncated);
        }
    }

    fn take(&mut self, kind: RecordKind, id: &str) -> Vec<&'a Transfer> {
        self.by_cause.remove(&(kind, id.to_owned())).unwrap_or_default()
    }

    /// A claim: its columns against its stored settlement, the settlement's own identities,
    /// the transfers of its settlement (and reversal) against the books, and the claim
    /// against its audit entry's detail (`audited`: `None` when no `claim.settle` entry
    /// names it).
    pub fn claim(&mut self, stored: &StoredClaim, audited: Option<&serde_json::Value>) {
        let claim = &stored.record;
        let record_id = settlement_record_id(&claim.institution_code, &claim.claim_id);
        let name = format!("claim {} of {}", record_id, claim.region);
        let actual: Vec<&Transfer> =
            self.take(RecordKind::Settlement, &record_id).into_iter().chain(self.take(RecordKind::SettlementReversal, &record_id)).collect();
        match audited {
            None => self.breach(&name, "no audit entry records its settlement".to_owned()),
            Some(detail) => match claim.settle_audit_detail().map(|text| serde_json::from_str::<serde_json::Value>(&text)) {
                Ok(Ok(ours)) if &ours == detail => {}
                Ok(Ok(ours)) => self.breach(&name, format!("the claim row says {ours} but its audit entry recorded {detail}")),
                Ok(Err(e)) => self.breach(&name, format!("its audit detail cannot be rebuilt: {e}")),
                Err(e) => self.breach(&name, format!("its audit detail cannot be rebuilt: {e}")),
            },
        }
        // The accumulators the settlement reports are those it left; a live claim is one
        // step of its person's year (a reversed one was undone while it was the last).
        match serde_json::from_str::<serde_json::Value>(&claim.settlement_json)
            .ok()
            .and_then(|s| serde_json::from_value::<Accumulators>(s.get("accumulators")?.clone()).ok())
        {
            Some(reported) if reported == stored.acc_after => {}
            _ => self.breach(&name, "the accumulators its settlement reports are not those it stored as left".to_owned()),
        }
        if claim.status == ClaimStatus::Settled {
            self.steps.entry((claim.region, claim.person_id, stored.acc_after.year)).or_default().push(Step {
                claim: name.clone(),
                before: stored.acc_before,
                after: stored.acc_after,
            });
        }
        let amounts = match SettlementAmounts::from_stored(&claim.settlement_json) {
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
        if let Err(why) = amounts.check_identities() {
            self.breach(&name, format!("its stored settlement breaks payers-sum-to-bill: {why}"));
        }
        let expected = settlement_entries(
            claim.region,
            &claim.institution_code,
            &claim.claim_id,
            claim.person_id,
            &amounts,
            claim.settled_at.date(),
        )
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
                self.compare(&name, &expected, &actual);
            }
            Err(e) => self.breach(&name, format!("what it posts cannot be rebuilt: {e}")),
        }
    }

    /// A contribution, in the order they were recorded (`seq` within each region): what it
    /// posts given the earlier records of its person, kind and period, against the books,
    /// and the record against its audit entry (`audited`, the `contribution.record` detail
    /// naming its region and seq).
    pub fn contribution(&mut self, record: &ContributionRecord, audited: Option<&serde_json::Value>) {
        let record_id = format!("{}/{}", record.region, record.seq);
        let name = format!("contribution {record_id} of {}", record.person_id);
        match audited {
            None => self.breach(&name, "no audit entry records it".to_owned()),
            Some(detail) => match serde_json::to_value(record) {
                Ok(ours) if &ours == detail => {}
                Ok(ours) => self.breach(&name, format!("the row says {ours} but its audit entry recorded {detail}")),
                Err(e) => self.breach(&name, format!("its audit detail cannot be rebuilt: {e}")),
            },
        }
        let actual: Vec<&Transfer> =
            self.take(RecordKind::Contribution, &record_id).into_iter().chain(self.take(RecordKind::Subsidy, &record_id)).collect();
        let key = (record.region, record.person_id, record.kind, record.period);
        let before = self.paid_before.get(&key).copied();
        match contribution_entries(record, before, record.recorded_at.date()) {
            Ok(expected) => {
                let expected: Vec<Transfer> = expected.into_iter().map(|e| e.transfer).collect();
                self.compare(&name, &expected, &actual);
            }
            Err(e) => self.breach(&name, format!("what it posts cannot be rebuilt: {e}")),
        }
        let after = PaidBefore {
            paid_fen: before.map_or(0, |b| b.paid_fen).saturating_add(record.paid_fen.get()),
            due_fen: before.map_or(0, |b| b.due_fen).max(record.due_fen.get()),
        };
        self.paid_before.insert(key, after);
    }

    /// `accumulators-from-claims`: each person's stored year-to-date accumulators are where
    /// their live claims of that year lead, one after another from a new year's zeros (each
    /// claim settled on the state the one before it left). `stored` is every accumulator row
    /// of the city; call after every claim was reconciled.
    pub fn accumulators(&mut self, stored: Vec<(RegionCode, NationalId, Accumulators)>) {
        let mut stored: HashMap<PersonYear, Accumulators> =
            stored.into_iter().map(|(region, person, state)| ((region, person, state.year), state)).collect();
        let mut years: Vec<PersonYear> = self.steps.keys().copied().chain(stored.keys().copied()).collect();
        years.sort_unstable();
        years.dedup();
        for year in years {
            let steps = self.steps.remove(&year).unwrap_or_default();
            let kept = stored.remove(&year).unwrap_or_else(|| Accumulators::new_year(year.2));
            let name = format!("accumulators of {} for {} in {}", year.1, year.2, year.0);
            match walk(Accumulators::new_year(year.2), steps) {
                Ok(reached) if reached == kept => {}
                Ok(reached) => self.breach(
                    &name,
                    format!("the stored state {} is not where the claims lead ({})", summary(&kept), summary(&reached)),
                ),
                Err(why) => self.breach(&name, why),
            }
        }
    }

    /// Names every transfer of a claim or contribution that is not on file. Call after
    /// every record of the city was reconciled.
    pub fn finish(mut self) {
        let mut orphans: Vec<(String, String)> = self
            .by_cause
            .drain()
            .flat_map(|((kind, id), transfers)| {
                transfers.into_iter().map(move |t| (t.id.to_string(), format!("{} {id}", kind_name(kind))))
            })
            .collect();
        orphans.sort();
        for (transfer, record) in orphans {
            self.breach(&format!("transfer {transfer}"), format!("it names {record}, which is not on record"));
        }
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
                Some(have) if **have != *want => self.breach(
                    name,
                    format!("transfer {} differs from what the record posts (accounts, reason, cause or date)", want.id),
                ),
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

fn kind_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Contribution => "contribution",
        RecordKind::Subsidy => "the subsidies of contribution",
        RecordKind::Settlement => "claim",
        RecordKind::SettlementReversal => "the reversal of claim",
        _ => "record",
    }
}

/// Follows the claims of a person's year from `start`: each step starts where the one
/// before it ended. Claims that change nothing may come at any point; two claims starting
/// from the same state, or one starting from a state no claim reached, break the chain.
fn walk(start: Accumulators, steps: Vec<Step>) -> Result<Accumulators, String> {
    let (idle, mut moving): (Vec<Step>, Vec<Step>) = steps.into_iter().partition(|step| step.before == step.after);
    let mut at = start;
    let mut visited = vec![start];
    while !moving.is_empty() {
        let mut next = moving.iter().enumerate().filter(|(_, step)| step.before == at).map(|(i, _)| i);
        let Some(first) = next.next() else {
            let names: Vec<&str> = moving.iter().map(|s| s.claim.as_str()).collect();
            return Err(format!("no claim continues from {}; left over: {}", summary(&at), names.join(", ")));
        };
        if let Some(second) = next.next() {
            return Err(format!("{} and {} both started from {}", moving[first].claim, moving[second].claim, summary(&at)));
        }
        at = moving.swap_remove(first).after;
        visited.push(at);
    }
    if let Some(step) = idle.iter().find(|step| !visited.contains(&step.before)) {
        return Err(format!("{} started from a state the year never reached", step.claim));
    }
    Ok(at)
}

/// The accumulators in a few words, for a breach message.
fn summary(acc: &Accumulators) -> String {
    format!(
        "{} admissions, deductible {} paid, pooled {} paid, critical {} paid",
        acc.admissions, acc.inpatient_deductible_paid, acc.pooled_paid, acc.critical_paid
    )
}
