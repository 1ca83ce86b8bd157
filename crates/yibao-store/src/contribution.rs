//! Contributions as collected (R-FIN-4): each payment credited to its person, scheme and
//! period, with what was due, so arrears (欠费) are known per person and per county.

use std::future::Future;

use serde::Serialize;
use yibao_domain::{Fen, NationalId, Period, PersonName, RegionCode};

use crate::{Actor, StoreError};

pub use yibao_domain::ContributionKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewContribution {
    pub person_id: NationalId,
    pub kind: ContributionKind,
    /// `2026` for a yearly contribution, `2026-05` for a monthly one.
    pub period: Period,
    /// What the policy says is due from the payer.
    pub due_fen: Fen,
    /// What was actually paid.
    pub paid_fen: Fen,
    /// The computed breakdown (personal, employer, subsidies by level…), JSON.
    pub breakdown_json: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContributionRecord {
    pub region: RegionCode,
    pub seq: i64,
    pub person_id: NationalId,
    pub kind: ContributionKind,
    pub period: Period,
    pub due_fen: Fen,
    pub paid_fen: Fen,
    pub breakdown_json: String,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: time::OffsetDateTime,
}

/// What a person still owes for a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonArrears {
    pub person_id: NationalId,
    pub name: PersonName,
    pub region: RegionCode,
    pub kind: ContributionKind,
    pub period: Period,
    pub owed_fen: Fen,
}

/// Most persons' lines one arrears read answers (a workbook's sheet holds 1,048,576 rows).
pub const ARREARS_LINES_MAX: usize = 1_048_575;

/// What a county's people still owe, in total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CountyArrears {
    pub region: RegionCode,
    pub persons: i64,
    pub owed_fen: Fen,
}

pub trait ContributionStore: Send + Sync + 'static {
    /// Records a contribution for a person in scope, with its audit entry, in one transaction.
    fn record_contribution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contribution: NewContribution,
    ) -> impl Future<Output = Result<ContributionRecord, StoreError>> + Send;
    /// Records a counter payment under its receipt's number (收据号), once: the same
    /// receipt sent again for the person answers the record it made, nothing written, when
    /// it is the same payment (kind, period, amount) and is refused otherwise
    /// (`contribution.receipt_reused`, [`replayed_receipt`]); the receipt is looked for
    /// under the lock the recording takes.
    fn record_receipted_contribution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contribution: NewContribution,
        receipt: String,
    ) -> impl Future<Output = Result<ContributionRecord, StoreError>> + Send;
    /// Records many contributions in one transaction, whole or nothing (bulk collection
    /// files from the tax bureau or a bank; the demo city's first load).
    fn record_contributions(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contributions: Vec<NewContribution>,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
    fn contributions_of(
        &self,
        scope: RegionCode,
        person: &NationalId,
    ) -> impl Future<Output = Result<Vec<ContributionRecord>, StoreError>> + Send;
    /// Arrears in scope for a period prefix (`2026` matches the year and its months).
    /// What is owed for periods starting with `period`: at most `limit` persons' lines (the
    /// largest first in each county), and every county's totals over all of them.
    fn arrears(
        &self,
        scope: RegionCode,
        period: &str,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<PersonArrears>, Vec<CountyArrears>), StoreError>> + Send;
}

/// The record a receipt made at the counter for the person already, answered again when
/// `new` is the same payment (kind, period and amount); another payment under the same
/// receipt is refused. (Whether the caller may see the person is the store's to check
/// first: the record may be booked in a county the person has since left.)
pub fn replayed_receipt(earlier: ContributionRecord, new: &NewContribution, receipt: &str) -> Result<ContributionRecord, StoreError> {
    if (earlier.kind, earlier.period, earlier.paid_fen) != (new.kind, new.period, new.paid_fen) {
        return Err(StoreError::Refused {
            code: "contribution.receipt_reused",
            message: format!(
                "receipt {receipt} recorded {} yuan for {} {} on {}, not {} yuan for {} {}",
                earlier.paid_fen,
                earlier.kind.as_str(),
                earlier.period,
                earlier.recorded_at.date(),
                new.paid_fen,
                new.kind.as_str(),
                new.period
            ),
        });
    }
    Ok(earlier)
}

/// Where a person's receipt was recorded: the path, and a counter payment's record (its
/// region and sequence number as stored).
pub type RecordedReceipt = (ReceiptSource, Option<(String, i64)>);

/// Where a receipt was recorded (`contribution_receipts.source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptSource {
    Counter,
    Plan,
}

impl ReceiptSource {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ReceiptSource::Counter => "counter",
            ReceiptSource::Plan => "plan",
        }
    }

    pub fn parse(text: &str) -> Result<ReceiptSource, StoreError> {
        match text {
            "counter" => Ok(ReceiptSource::Counter),
            "plan" => Ok(ReceiptSource::Plan),
            other => Err(StoreError::Backend(format!("a receipt recorded by '{other}'"))),
        }
    }
}

/// The refusal of a counter payment under a receipt a repayment plan's payment recorded.
#[must_use]
pub fn receipt_of_plan(receipt: &str) -> StoreError {
    StoreError::Refused {
        code: "contribution.receipt_reused",
        message: format!("receipt {receipt} recorded a payment under the person's repayment plan"),
    }
}

/// The refusal of a plan's payment under a receipt recorded at the counter (or, at once,
/// by another payment).
#[must_use]
pub fn receipt_of_counter(receipt: &str) -> StoreError {
    StoreError::Refused { code: "arrears.receipt_reused", message: format!("receipt {receipt} recorded a payment at the counter") }
}
