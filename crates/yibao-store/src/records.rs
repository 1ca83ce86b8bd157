//! What the store reads and writes.

use serde::Serialize;
use time::OffsetDateTime;
use yibao_domain::{NationalId, RegionCode};
use yibao_engine::Coverage;

/// Most rows a search returns.
pub const SEARCH_LIMIT: i64 = 200;

/// Who is writing, in what role, from where, and when (recorded in the audit log). The
/// time is passed in: the store never reads the clock itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub who: String,
    pub role: String,
    pub source: String,
    pub at: OffsetDateTime,
}

impl Actor {
    #[must_use]
    pub fn at_text(&self) -> String {
        self.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| self.at.to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHousehold {
    pub household_id: String,
    pub region: RegionCode,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HouseholdRecord {
    pub household_id: String,
    pub region: RegionCode,
    pub address: String,
    pub created_at: String,
}

/// A person to enrol: identity, household and the coverage the engine reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPerson {
    pub name: String,
    /// Social-security card number (社会保障卡号), R-SYS-4.
    pub card_no: Option<String>,
    pub household_id: String,
    pub coverage: Coverage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonRecord {
    pub person_id: NationalId,
    pub name: String,
    pub card_no: Option<String>,
    pub household_id: String,
    pub coverage: Coverage,
    pub enrolled_at: String,
    pub updated_at: String,
}

/// Search by any of national ID, name (prefix) or card number, inside the caller's scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonQuery {
    pub person_id: Option<NationalId>,
    pub name_prefix: Option<String>,
    pub card_no: Option<String>,
    pub household_id: Option<String>,
}

/// A claim to settle, keyed by the institution's own claim id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettleRequest {
    pub institution_code: String,
    pub claim_id: String,
    pub person_id: NationalId,
    /// The year whose accumulators the claim counts against (from the policy's
    /// service-date rule).
    pub year: i32,
    /// The claim as submitted (canonical JSON): a retry must send the same content.
    pub claim_json: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimStatus {
    Settled,
    Reversed,
}

impl ClaimStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Settled => "settled",
            ClaimStatus::Reversed => "reversed",
        }
    }
}

/// A stored claim and its settlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimRecord {
    pub region: RegionCode,
    pub institution_code: String,
    pub claim_id: String,
    pub person_id: NationalId,
    pub year: i32,
    pub status: ClaimStatus,
    pub settled_at: String,
    /// Total bill, fund payments and personal burden in fen, for reports.
    pub medfee_fen: i64,
    pub fund_pay_fen: i64,
    pub psn_part_fen: i64,
    /// The full settlement as JSON (national field names, explanation included).
    pub settlement_json: String,
    pub claim_json: String,
    pub reversed_at: Option<String>,
    pub reversal_reason: Option<String>,
}

/// A settlement, and whether it is a replay of an earlier identical request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettleOutcome {
    pub claim: ClaimRecord,
    pub replayed: bool,
}
