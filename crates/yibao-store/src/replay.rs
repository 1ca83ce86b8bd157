//! What each fund run and fund booking posted, rebuilt from its record and its audit entry
//! (issue 12, `records-match-books`): the monthly pooling run, the year-end close, interest,
//! receipts, legacy deficits and their repayments, fund handovers, and payment years'
//! clearings (issue 15). Each is planned again
//! by the same function that planned it ([`entries_of_run`], [`entries_of_close`],
//! [`entries_of_interest`], [`FundReceipt::entry`], [`establish`], [`repayment_entry`],
//! [`handover_entries`]) from what its record keeps, and its record is compared with what
//! its audit entry recorded. The book check ([`crate::reconcile::Reconciler::fund_run`])
//! then compares the rebuilt transfers with the books.
//!
//! Pure: the caller reads the records (a city holds few: one close a year, one run a month)
//! and the transfers; this module only rebuilds.

use std::collections::HashMap;

use yibao_domain::{Fen, RegionCode};
use yibao_ledger::{AccountKey, AccountKind, AccountState, Fund, Holder, RecordKind};

use crate::books::{Entry, open_account};
use crate::closing::{InterestLine, YearEndRecord, entries_of_close, entries_of_interest};
use crate::handover::{Inventory, handover_entries};
use crate::legacy::{LegacyRepayment, LegacyRequest, establish, repayment_entry, view};
use crate::payment_clearing::{PaymentClearing, entries_of_clearing};
use crate::pooling::{PoolingRun, entries_of_run};
use crate::{Budget, CountyTargets, FundReceipt, StoreError};

/// The records of a city's fund runs, as the store holds them now, by the entity their
/// audit entries name.
#[derive(Clone, Debug, Default)]
pub struct FundRecords {
    /// By month, `2026-03`.
    pub pooling_runs: HashMap<String, PoolingRun>,
    /// By year, `2026`.
    pub closes: HashMap<String, YearEndRecord>,
    /// By reference.
    pub handovers: HashMap<String, Inventory>,
    /// By fund and county, `resident@419900/419921`.
    pub legacy: HashMap<String, LegacyRequest>,
    /// By year, fund and unit, `2026/resident/419921`.
    pub budgets: HashMap<String, Budget>,
    /// By year and unit, `2026/419921`.
    pub targets: HashMap<String, CountyTargets>,
    /// Payment years' clearing rounds by year and round, `2025/1`.
    pub clearings: HashMap<String, PaymentClearing>,
}

impl FundRecords {
    /// The records keyed as their audit entries name them.
    #[must_use]
    pub fn new(
        pooling_runs: Vec<PoolingRun>,
        closes: Vec<YearEndRecord>,
        handovers: Vec<Inventory>,
        legacy: Vec<LegacyRequest>,
        budgets: Vec<Budget>,
        targets: Vec<CountyTargets>,
        city: RegionCode,
    ) -> FundRecords {
        let legacy_key = |r: &LegacyRequest| {
            let fund = yibao_ledger::FundScheme::parse(&r.scheme).map_or_else(|| r.scheme.clone(), |s| Fund::new(s, city).to_string());
            format!("{fund}/{}", r.county)
        };
        FundRecords {
            pooling_runs: pooling_runs.into_iter().map(|r| (r.month.clone(), r)).collect(),
            closes: closes.into_iter().map(|r| (r.year.to_string(), r)).collect(),
            handovers: handovers.into_iter().map(|i| (i.reference.clone(), i)).collect(),
            legacy: legacy.into_iter().map(|r| (legacy_key(&r), r)).collect(),
            budgets: budgets.into_iter().map(|b| (format!("{}/{}/{}", b.year, b.fund_scheme, b.unit), b)).collect(),
            targets: targets.into_iter().map(|t| (format!("{}/{}", t.year, t.unit), t)).collect(),
            clearings: HashMap::new(),
        }
    }

    /// With the city's payment years' clearings.
    #[must_use]
    pub fn with_clearings(mut self, clearings: Vec<PaymentClearing>) -> FundRecords {
        self.clearings = clearings.into_iter().map(|c| (format!("{}/{}", c.year, c.round), c)).collect();
        self
    }
}

/// Which of the transfers under a run's causes are the run's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owns {
    /// Every transfer its causes name.
    All,
    /// Only those it posts (a receipt or a repayment shares its cause with others).
    Expected,
    /// All but those whose id starts so (a legacy deficit's repayments share its cause).
    AllBut(String),
}

/// A fund run or booking as its record and audit entry give it, ready to compare with the
/// books.
#[derive(Debug)]
pub struct RunReplay {
    /// How a breach names it: `the close of 2026 of 419900`.
    pub name: String,
    /// What it is counted under, `(action, entity)`: the same booking made again (a
    /// receipt's replay) is compared again but counted once.
    pub key: (String, String),
    /// Where its record and its audit entry (or its own inputs) disagree.
    pub disagreements: Vec<String>,
    /// What it posts, rebuilt.
    pub expected: Result<Vec<Entry>, StoreError>,
    /// The causes its transfers name in the books.
    pub causes: Vec<(RecordKind, String)>,
    pub owns: Owns,
    /// Its audit entry (written by v0.1.0) did not record the value date: each expected
    /// transfer is compared with the books' own date.
    pub dated_by_books: bool,
    /// Its record (a close written by v0.1.0) does not keep what it was planned with: only
    /// its audit entry's fields and the number of its transfers can be compared.
    pub counted_only: Option<usize>,
}

impl RunReplay {
    fn new(name: String, action: &str, entity: &str) -> RunReplay {
        RunReplay {
            name,
            key: (action.to_owned(), entity.to_owned()),
            disagreements: Vec::new(),
            expected: Ok(Vec::new()),
            causes: Vec::new(),
            owns: Owns::All,
            dated_by_books: false,
            counted_only: None,
        }
    }

    /// Its record (as JSON) against the detail its audit entry recorded.
    fn record_against(&mut self, what: &str, record: &str, audited: &str) {
        if !same_json(record, audited) {
            self.disagreements.push(format!(
                "{what} says {} but its audit entry recorded {}",
                differing(record, audited),
                differing(audited, record)
            ));
        }
    }

    /// The expected entries, and the causes they name.
    fn posts(&mut self, expected: Result<Vec<Entry>, StoreError>) {
        if let Ok(entries) = &expected {
            for entry in entries {
                let cause = (entry.transfer.cause.kind, entry.transfer.cause.id.clone());
                if !self.causes.contains(&cause) {
                    self.causes.push(cause);
                }
            }
        }
        self.expected = expected;
    }
}

/// What an audit entry of a fund run or booking says was posted, from the records: `None`
/// for an action that posts nothing of this kind; `Err` naming what the entry records but
/// the store does not hold.
pub fn replay(city: RegionCode, records: &FundRecords, action: &str, entity: &str, audited: &str) -> Option<Result<RunReplay, String>> {
    let missing = |what: String| Some(Err(what));
    match action {
        "fund.pooling_run" => {
            let Some(run) = records.pooling_runs.get(entity) else { return missing(format!("the pooling run of {entity}")) };
            let mut replay = RunReplay::new(format!("pooling run {entity} of {city}"), action, entity);
            match serde_json::to_string(run) {
                Ok(ours) => replay.record_against("the run's record", &ours, audited),
                Err(e) => replay.disagreements.push(format!("its record cannot be read: {e}")),
            }
            replay.posts(entries_of_run(run));
            Some(Ok(replay))
        }
        "fund.year_close" => {
            let Some(close) = records.closes.get(entity) else { return missing(format!("the close of {entity}")) };
            let mut replay = RunReplay::new(format!("the close of {entity} of {city}"), action, entity);
            // A close of v0.1.0 recorded neither its city share, its rounding nor the
            // adjustment fund's balance: it cannot be planned again, only compared.
            let planned_again =
                serde_json::from_str::<serde_json::Value>(audited).is_ok_and(|audit| audit.get("city_share_when_met_bp").is_some());
            match serde_json::to_string(close) {
                Ok(ours) if planned_again => replay.record_against("the close's record", &ours, audited),
                Ok(ours) => replay.record_against("the close's record", &fields_of(&ours, audited), audited),
                Err(e) => replay.disagreements.push(format!("its record cannot be read: {e}")),
            }
            if !planned_again {
                // The causes `plan_close` gives its levy and its waterfall.
                let adjustment = Fund::new(yibao_ledger::FundScheme::MunicipalAdjustment, city);
                replay.causes.push((RecordKind::AdjustmentLevy, format!("{adjustment}/{entity}")));
                replay.causes.push((RecordKind::DeficitWaterfall, format!("{city}/{entity}")));
                replay.counted_only = Some(close.transfers);
                return Some(Ok(replay));
            }
            match entries_of_close(close) {
                Ok((entries, differences)) => {
                    replay.disagreements.extend(differences);
                    if entries.len() != close.transfers {
                        replay.disagreements.push(format!(
                            "its record counts {} transfers, but it posts {}",
                            close.transfers,
                            entries.len()
                        ));
                    }
                    replay.posts(Ok(entries));
                }
                Err(e) => replay.posts(Err(e)),
            }
            Some(Ok(replay))
        }
        "fund.payment_clearing" => {
            let Some(clearing) = records.clearings.get(entity) else { return missing(format!("the clearing of {entity}")) };
            let mut replay = RunReplay::new(format!("the payment clearing of {entity} of {city}"), action, entity);
            match serde_json::to_string(clearing) {
                Ok(ours) => replay.record_against("the clearing's record", &ours, audited),
                Err(e) => replay.disagreements.push(format!("its record cannot be read: {e}")),
            }
            match entries_of_clearing(clearing) {
                Ok((entries, differences)) => {
                    replay.disagreements.extend(differences);
                    replay.posts(Ok(entries));
                }
                Err(e) => replay.posts(Err(e)),
            }
            // A supplementary round books from what the round before booked: each
            // institution's `booked_before` is that round's difference.
            let before = (clearing.round > 1).then(|| records.clearings.get(&format!("{}/{}", clearing.year, clearing.round - 1)));
            match before {
                None => {
                    if clearing.institutions.iter().any(|i| i.booked_before_fen != 0) {
                        replay.disagreements.push("the year's first clearing says something was booked before it".to_owned());
                    }
                }
                Some(None) => replay.disagreements.push(format!("the round before it ({}) is not on record", clearing.round - 1)),
                Some(Some(before)) => {
                    for line in &clearing.institutions {
                        let booked = before.institutions.iter().find(|b| b.institution == line.institution).map_or(0, |b| b.difference_fen);
                        if booked != line.booked_before_fen {
                            replay.disagreements.push(format!(
                                "{} was booked {booked} fen by the round before, but this round books from {}",
                                line.institution, line.booked_before_fen
                            ));
                        }
                    }
                }
            }
            // A round that books nothing for an institution still names its cause.
            let cause = (RecordKind::PaymentClearing, format!("{city}/{entity}"));
            if !replay.causes.contains(&cause) {
                replay.causes.push(cause);
            }
            Some(Ok(replay))
        }
        // A review's finding (issue 18) posts its deduction; an appeal upheld, its
        // withdrawal. Both are rebuilt from the record their audit entry holds; the two
        // share the finding as their cause, so each owns what it posts.
        "claim.finding" | "claim.finding_decided" => {
            let mut replay = RunReplay::new(format!("the finding {entity}"), action, entity);
            replay.owns = Owns::Expected;
            let record = crate::stored::from_json::<crate::review::FindingRecord>(audited);
            if let Ok(record) = &record
                && record.record_id() != entity
            {
                replay.disagreements.push(format!("its audit entry names {entity}, but its detail is finding {}", record.record_id()));
            }
            let expected = record.and_then(|record| match (action, record.withdrawn_on) {
                ("claim.finding", _) => crate::review::finding_entries(&record),
                (_, Some(on)) => crate::review::withdrawal_entries(&record, on),
                (_, None) => Ok(Vec::new()),
            });
            replay.posts(expected);
            Some(Ok(replay))
        }
        // A movement of an administrator's revolving fund (issue 18), from its record.
        "administrator.revolving" => {
            let mut replay = RunReplay::new(format!("the revolving fund's booking {entity}"), action, entity);
            let record = crate::stored::from_json::<crate::administrator::RevolvingBooking>(audited);
            if let Ok(record) = &record
                && record.record_id() != entity
            {
                replay.disagreements.push(format!("its audit entry names {entity}, but its detail is the booking {}", record.record_id()));
            }
            replay.posts(record.and_then(|record| crate::administrator::revolving_entries(&record)));
            replay.causes.push((RecordKind::RevolvingFund, entity.to_owned()));
            Some(Ok(replay))
        }
        // An administrator's scored quarter (issue 18): its fee, rebuilt from its record.
        "administrator.quarter" => {
            let mut replay = RunReplay::new(format!("the quarter {entity}"), action, entity);
            let record = crate::stored::from_json::<crate::administrator::QuarterRecord>(audited);
            if let Ok(record) = &record
                && record.record_id() != entity
            {
                replay.disagreements.push(format!("its audit entry names {entity}, but its detail is the quarter {}", record.record_id()));
            }
            replay.posts(record.and_then(|record| crate::administrator::quarter_entries(&record)));
            replay.causes.push((RecordKind::AdministratorQuarter, entity.to_owned()));
            Some(Ok(replay))
        }
        "fund.interest" => {
            let mut replay = RunReplay::new(format!("the interest for {entity} of {city}"), action, entity);
            let lines = serde_json::from_str::<Vec<InterestLine>>(audited)
                .map_err(|e| StoreError::Backend(format!("its audit detail is unreadable: {e}")));
            replay.posts(lines.and_then(|lines| entries_of_interest(entity, &lines)));
            Some(Ok(replay))
        }
        "fund.receipt" => {
            let mut replay = RunReplay::new(format!("the receipt {entity}"), action, entity);
            replay.owns = Owns::Expected;
            let audited = FundReceipt::from_audit_detail(audited);
            replay.dated_by_books = audited.as_ref().is_ok_and(|a| !a.value_date_recorded);
            let entry = audited.and_then(|a| a.record.entry());
            if let Ok(entry) = &entry
                && entry.transfer.id.as_str() != entity
            {
                replay.disagreements.push(format!("its audit entry names transfer {entity}, but its detail books {}", entry.transfer.id));
            }
            replay.posts(entry.map(|e| vec![e]));
            Some(Ok(replay))
        }
        "fund.legacy_deficit" => {
            let Some(request) = records.legacy.get(entity) else { return missing(format!("the legacy deficit {entity}")) };
            let mut replay = RunReplay::new(format!("the legacy deficit {entity}"), action, entity);
            let established = request.inputs(city, Fen::ZERO).and_then(|inputs| {
                let (schedule, entries) = establish(&inputs)?;
                Ok((view(&schedule, &[], inputs.established_on)?, entries))
            });
            match established {
                Ok((view, entries)) => {
                    match serde_json::to_string(&view) {
                        Ok(ours) => replay.record_against("the stored deficit", &ours, audited),
                        Err(e) => replay.disagreements.push(format!("its record cannot be read: {e}")),
                    }
                    replay.posts(Ok(entries));
                }
                Err(e) => replay.posts(Err(e)),
            }
            replay.owns = Owns::AllBut(format!("legacy/{entity}/repay/"));
            Some(Ok(replay))
        }
        "fund.legacy_repayment" => {
            let (repayment, dated_by_books) = match LegacyRepayment::from_audit_detail(audited, entity) {
                Ok(audited) => (audited.record, !audited.value_date_recorded),
                Err(e) => {
                    let mut replay = RunReplay::new(format!("the repayment {entity}"), action, entity);
                    replay.owns = Owns::Expected;
                    replay.posts(Err(e));
                    return Some(Ok(replay));
                }
            };
            let deficit = format!("{}/{}", Fund::new(repayment.scheme, city), repayment.county);
            let Some(request) = records.legacy.get(&deficit) else { return missing(format!("the legacy deficit {deficit}")) };
            let mut replay = RunReplay::new(format!("the repayment {entity}"), action, entity);
            replay.owns = Owns::Expected;
            replay.dated_by_books = dated_by_books;
            let entry = request.inputs(city, Fen::ZERO).and_then(|inputs| {
                let (schedule, _) = establish(&inputs)?;
                repayment_entry(&schedule, repayment.on, repayment.amount_fen, &repayment.reference)
            });
            if let Ok(entry) = &entry
                && entry.transfer.id.as_str() != entity
            {
                replay.disagreements.push(format!("its audit entry names transfer {entity}, but its detail books {}", entry.transfer.id));
            }
            replay.posts(entry.map(|e| vec![e]));
            Some(Ok(replay))
        }
        "fund.handover_signed" => {
            let Some(inventory) = records.handovers.get(entity) else { return missing(format!("the handover {entity}")) };
            let mut replay = RunReplay::new(format!("the handover {entity}"), action, entity);
            let signed = Inventory { confirmed_by: None, confirmed_at: None, ..inventory.clone() };
            match serde_json::to_string(&signed) {
                Ok(ours) => replay.record_against("the stored inventory", &ours, audited),
                Err(e) => replay.disagreements.push(format!("its record cannot be read: {e}")),
            }
            let recomputed = crate::handover::checksum(inventory);
            if recomputed != inventory.checksum {
                replay.disagreements.push(format!("its inventory's checksum is {}, but its lines give {recomputed}", inventory.checksum));
            }
            Some(Ok(replay))
        }
        "fund.handover_confirmed" => {
            let Some(inventory) = records.handovers.get(entity) else { return missing(format!("the handover {entity}")) };
            let mut replay = RunReplay::new(format!("the handover {entity}"), action, entity);
            let quoted =
                serde_json::from_str::<serde_json::Value>(audited).ok().and_then(|d| d.get("checksum")?.as_str().map(str::to_owned));
            if quoted.as_deref() != Some(inventory.checksum.as_str()) {
                replay.disagreements.push(format!(
                    "its confirmation recorded checksum {}, but the stored inventory's is {}",
                    quoted.as_deref().unwrap_or("-"),
                    inventory.checksum
                ));
            }
            if inventory.confirmed_by.is_none() {
                replay.disagreements.push("its audit trail records its confirmation, but its record is not confirmed".to_owned());
            }
            replay.posts(handover_posts(city, inventory));
            replay.causes.push((RecordKind::Handover, format!("handover/{entity}")));
            replay.causes.dedup();
            Some(Ok(replay))
        }
        "employer.pay" => {
            // The payment's contributions are replayed as contributions; its late fee is
            // what its own audit entry recorded (issue 16).
            let mut replay = RunReplay::new(format!("the payment {entity}"), action, entity);
            match serde_json::from_str::<crate::PaymentAudit>(audited) {
                Ok(payment) => {
                    // The fee is the rule's, replayed from what it was computed on.
                    let recorded = payment.payment.late_fee;
                    let again = yibao_engine::late_fee(
                        recorded.owed_fen,
                        recorded.due_on,
                        payment.payment.paid_on,
                        recorded.rate_bp,
                        recorded.rounding,
                    );
                    if again != recorded || recorded.owed_fen != payment.payment.contributions_fen {
                        replay.disagreements.push(format!(
                            "its late fee was recorded as {} on {} owed for {} days, but the rule gives {} for {} days",
                            recorded.fee_fen, recorded.owed_fen, recorded.days, again.fee_fen, again.days
                        ));
                    }
                    replay.causes.push((RecordKind::EmployerPayment, payment.record_id()));
                    replay.posts(crate::employer::late_fee_entries(&payment));
                }
                Err(e) => replay.disagreements.push(format!("its audit entry cannot be read: {e}")),
            }
            Some(Ok(replay))
        }
        _ => None,
    }
}

/// What a confirmed handover posted: its inventory's accounts moved, planned by
/// [`handover_entries`] from the lines the inventory signed.
fn handover_posts(city: RegionCode, inventory: &Inventory) -> Result<Vec<Entry>, StoreError> {
    let bad = |what: &str| StoreError::Backend(format!("the handover {} is unreadable: {what}", inventory.reference));
    let request = inventory.request()?;
    let from = Fund::new(request.from, city);
    let states = inventory
        .lines
        .iter()
        .map(|line| {
            let holder = Holder::parse(&line.holder).map_err(|_| bad("holder"))?;
            let kind = AccountKind::parse(&line.kind).ok_or_else(|| bad("kind"))?;
            let mut state = AccountState::new(open_account(AccountKey::new(from, holder, kind))?);
            state.debits_posted_fen = Fen::checked_total(line.debits_fen).ok_or_else(|| bad("debits"))?;
            state.credits_posted_fen = Fen::checked_total(line.credits_fen).ok_or_else(|| bad("credits"))?;
            Ok(state)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    handover_entries(city, &request, &states)
}

/// A budget or a county's targets against what its last audit entry recorded: `None` when
/// they agree.
#[must_use]
pub fn setting_disagrees(action: &str, records: &FundRecords, entity: &str, audited: &str) -> Option<String> {
    let ours = match action {
        "fund.budget" => {
            records.budgets.get(entity).map(|b| serde_json::json!({"income_fen": b.income_fen, "spending_fen": b.spending_fen}).to_string())
        }
        "fund.targets" => records.targets.get(entity).and_then(|t| serde_json::to_string(t).ok()),
        _ => return None,
    };
    match ours {
        None => Some("its audit trail records it, but it is not on record".to_owned()),
        Some(ours) if same_json(&ours, audited) => None,
        Some(ours) => {
            Some(format!("the row says {} but its last audit entry recorded {}", differing(&ours, audited), differing(audited, &ours)))
        }
    }
}

/// Whether two JSON texts hold the same value (key order and spacing aside).
pub(crate) fn same_json(a: &str, b: &str) -> bool {
    // The same text is the same JSON: the usual case, decided without parsing.
    if a == b {
        return true;
    }
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// JSON object `a` cut to the fields `b` has (a record against an older audit entry that
/// recorded fewer), as JSON text; `a` itself when either is not an object.
fn fields_of(a: &str, b: &str) -> String {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) => {
            serde_json::Value::Object(a.into_iter().filter(|(k, _)| b.contains_key(k)).collect()).to_string()
        }
        _ => a.to_owned(),
    }
}

/// The fields of JSON object `a` whose values differ from `b`'s, as `{"field":value,…}`
/// (all of `a` when either is not an object).
pub(crate) fn differing(a: &str, b: &str) -> String {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) => {
            let fields: serde_json::Map<String, serde_json::Value> = a.into_iter().filter(|(k, v)| b.get(k) != Some(v)).collect();
            serde_json::Value::Object(fields).to_string()
        }
        _ => a.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};
    use yibao_domain::{EmployerCode, Fen, Period, RatioBp, Rounding};

    /// The book check replays an employer's late fee from what it was computed on: a fee
    /// recorded with the amount or the days changed is a disagreement, and the transfer it
    /// expects is the fee recorded (issue 16).
    #[test]
    fn an_employers_late_fee_is_replayed_by_its_rule() {
        let city = RegionCode::parse("419900").expect("city");
        let county = RegionCode::parse("419921").expect("county");
        let records = FundRecords::new(Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), city);
        let fee = yibao_engine::late_fee(Fen::new(98_000), date!(2026 - 03 - 15), date!(2026 - 03 - 25), RatioBp::new(5), Rounding::HalfUp);
        assert_eq!(fee.fee_fen, Fen::new(490));
        let audit = |late_fee| crate::PaymentAudit {
            employer: EmployerCode::from_parts(county, 4_242).expect("code"),
            region: county,
            period: Period::parse("2026-02").expect("period"),
            payment: crate::DeclarationPayment {
                paid_on: date!(2026 - 03 - 25),
                contributions_fen: Fen::new(98_000),
                late_fee,
                recorded_at: datetime!(2026-03-26 10:00 UTC),
            },
        };
        let replayed = |late_fee| {
            let audit = audit(late_fee);
            let detail = serde_json::to_string(&audit).expect("json");
            replay(city, &records, "employer.pay", &audit.record_id(), &detail).expect("replayed").expect("read")
        };
        let sound = replayed(fee);
        assert!(sound.disagreements.is_empty(), "{:?}", sound.disagreements);
        let expected = sound.expected.expect("entries");
        assert_eq!((expected.len(), expected[0].transfer.amount_fen), (1, Fen::new(490)));
        let shaved = replayed(yibao_engine::LateFee { fee_fen: Fen::new(49), ..fee });
        assert_eq!(shaved.disagreements.len(), 1, "a fee shaved is found: {:?}", shaved.disagreements);
        let fewer_days = replayed(yibao_engine::LateFee { days: 1, fee_fen: Fen::new(49), ..fee });
        assert_eq!(fewer_days.disagreements.len(), 1, "days shortened are found: {:?}", fewer_days.disagreements);
    }
}
