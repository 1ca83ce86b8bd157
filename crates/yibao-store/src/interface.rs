//! What the national interface (issue 14) keeps between an institution's messages: the
//! answer to every message by its `msgid` (a repeated `msgid` is answered from the first),
//! the operators' sign-ins (`sign_no`), and the visits (就诊, `mdtrt_id`) a hospital opens,
//! uploads fee lines to and settles.
//!
//! The store keeps these records and the one rule that needs its transaction: a visit is
//! written only over the revision its writer read (`interface.visit_changed` otherwise), so
//! two messages about one visit at once cannot both win. What a visit may become, and what
//! its lines are, is the application's (`yibao_app::interface`); the visit's state is
//! stored as that module's JSON.

use std::future::Future;

use serde::Serialize;
use time::{Date, OffsetDateTime};
use yibao_domain::{InstitutionCode, NationalId, RegionCode};

use crate::{ClaimRecord, StoreError};

/// The longest `msgid` kept (the specification's is 30 characters; real traffic sends
/// shorter ones).
pub const MSGID_CHARS_MAX: usize = 64;
/// The largest answer kept for a `msgid` (a settlement of 5,000 lines is about 2 MB).
pub const ANSWER_BYTES_MAX: usize = 8 * 1024 * 1024;
/// The largest message input kept, and so answered: the edge takes a body of at most 16 MB.
pub const INPUT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The largest visit state kept: 5,000 fee lines with their results.
pub const VISIT_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most settlements and cancellations one reconciliation reads.
pub const RECONCILIATION_ROWS_MAX: usize = 100_000;

/// The answer given to one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InterfaceMessage {
    pub institution_code: InstitutionCode,
    pub msgid: String,
    pub infno: String,
    /// SHA-256 of the request's `input`, lower-case hex: a repeated `msgid` with another
    /// input is refused, not answered with the first's answer.
    pub input_sha256: String,
    /// The message's `input` as received, JSON: what the institution asked, for the audit
    /// and for a reversal (2601) of it.
    pub input: String,
    /// The output envelope as sent, JSON.
    pub answer: String,
    #[serde(with = "time::serde::rfc3339")]
    pub answered_at: OffsetDateTime,
}

impl InterfaceMessage {
    /// The limits every store applies before writing.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.msgid.is_empty() || self.msgid.chars().count() > MSGID_CHARS_MAX {
            return Err(StoreError::Invalid(format!("a msgid is 1 to {MSGID_CHARS_MAX} characters")));
        }
        if self.answer.len() > ANSWER_BYTES_MAX || self.input.len() > INPUT_BYTES_MAX {
            return Err(StoreError::Invalid(format!(
                "a message's input is at most {INPUT_BYTES_MAX} bytes and its answer {ANSWER_BYTES_MAX}"
            )));
        }
        Ok(())
    }
}

/// An operator's sign-in (9001) at an institution, until its sign-out (9002).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignInRecord {
    pub sign_no: String,
    pub institution_code: InstitutionCode,
    pub opter: String,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_in_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub signed_out_at: Option<OffsetDateTime>,
}

/// Most visits a query of one person at one institution answers (5201).
pub const VISITS_LISTED_MAX: usize = 100;
/// Most of a person's visits at one institution read for such a query, the latest ids
/// first, before its filters (a kind, the days begun in) choose among them.
pub const VISITS_READ_MAX: usize = 1_000;

/// One visit (就诊): an outpatient registration or an inpatient admission, with its state
/// as the application wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VisitRecord {
    pub mdtrt_id: String,
    pub institution_code: InstitutionCode,
    pub person_id: NationalId,
    /// Starts at 1; each write raises it by one.
    pub revision: u32,
    /// The application's visit, JSON.
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl VisitRecord {
    /// The limits every store applies before writing.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.mdtrt_id.is_empty() || self.mdtrt_id.len() > MSGID_CHARS_MAX || !self.mdtrt_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::Invalid(format!("a visit id (mdtrt_id) is 1 to {MSGID_CHARS_MAX} letters and digits")));
        }
        if self.state.len() > VISIT_BYTES_MAX {
            return Err(StoreError::Invalid(format!("a visit is at most {VISIT_BYTES_MAX} bytes")));
        }
        if self.revision == 0 {
            return Err(StoreError::Invalid("a visit's revision starts at 1".into()));
        }
        Ok(())
    }
}

/// The error of a write over a revision that is no longer the stored one.
#[must_use]
pub fn visit_changed(mdtrt_id: &str) -> StoreError {
    StoreError::Refused {
        code: "interface.visit_changed",
        message: format!("visit {mdtrt_id} was changed by another message meanwhile: read it again and resend"),
    }
}

/// What reserving a `msgid` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The `msgid` is this sender's to answer now.
    Reserved,
    /// It was answered: the answer stands.
    Answered(InterfaceMessage),
    /// Another copy of the message is being answered (its answer is empty).
    InFlight(InterfaceMessage),
}

/// The records of the national interface.
pub trait InterfaceStore {
    /// Reserves `message.msgid` for this message before it is answered (`answer` empty,
    /// `answered_at` the moment of the reservation): a new `msgid` is reserved; an answered
    /// one is returned as answered; one reserved by another copy still in flight is
    /// returned as in flight, unless it was reserved before `stale_before` (its sender
    /// stopped) for the same input, when this copy takes it over; another input under a
    /// reserved `msgid` is never run. Refused when the message is beyond the limits.
    fn reserve_interface_message(
        &self,
        message: InterfaceMessage,
        stale_before: OffsetDateTime,
    ) -> impl Future<Output = Result<Reservation, StoreError>> + Send;

    /// Drops a reservation never answered (the service failed: a resend may succeed).
    fn release_interface_message(&self, institution: &InstitutionCode, msgid: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The answer already given to `msgid` from `institution`, if any.
    fn interface_answer(
        &self,
        institution: &InstitutionCode,
        msgid: &str,
    ) -> impl Future<Output = Result<Option<InterfaceMessage>, StoreError>> + Send;

    /// Keeps an answer (in its reservation, or anew); when the `msgid` was answered
    /// meanwhile, the first answer stays and is returned.
    fn record_interface_answer(&self, message: InterfaceMessage) -> impl Future<Output = Result<InterfaceMessage, StoreError>> + Send;

    /// Records a sign-in; its `sign_no` is new.
    fn record_sign_in(&self, sign_in: SignInRecord) -> impl Future<Output = Result<SignInRecord, StoreError>> + Send;

    /// Signs out a sign-in of `institution` (refused when it is signed out already).
    fn record_sign_out(
        &self,
        institution: &InstitutionCode,
        sign_no: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<SignInRecord, StoreError>> + Send;

    fn sign_in_record(
        &self,
        institution: &InstitutionCode,
        sign_no: &str,
    ) -> impl Future<Output = Result<Option<SignInRecord>, StoreError>> + Send;

    /// Writes a visit: a new one when `read_revision` is `None` (refused as existing when its
    /// id is taken), else over the revision its writer read (`interface.visit_changed` when
    /// another write came between). The record's revision is the one to store.
    fn write_visit(&self, visit: VisitRecord, read_revision: Option<u32>) -> impl Future<Output = Result<VisitRecord, StoreError>> + Send;

    fn visit(&self, institution: &InstitutionCode, mdtrt_id: &str) -> impl Future<Output = Result<Option<VisitRecord>, StoreError>> + Send;

    /// A person's visits at `institution` (5201), the latest id first: at most
    /// [`VISITS_READ_MAX`].
    fn visits_of_person(
        &self,
        institution: &InstitutionCode,
        person_id: &NationalId,
    ) -> impl Future<Output = Result<Vec<VisitRecord>, StoreError>> + Send;

    /// An institution's claims settled or reversed on a day in `from..=to` (UTC), inside
    /// `scope`: at most [`RECONCILIATION_ROWS_MAX`], refused above.
    fn institution_claims(
        &self,
        scope: RegionCode,
        institution: &InstitutionCode,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<ClaimRecord>, StoreError>> + Send;
}

/// The bounds of `from..=to` as stored timestamp text: every RFC 3339 time written in UTC on
/// those days sorts at or after the first and before the second.
#[must_use]
pub fn day_bounds(from: Date, to: Date) -> (String, String) {
    let next = to.next_day().unwrap_or(to);
    (from.to_string(), next.to_string())
}

/// The refusal of a reconciliation that would read too many rows.
#[must_use]
pub fn too_many_rows() -> StoreError {
    StoreError::Invalid(format!("more than {RECONCILIATION_ROWS_MAX} settlements in the period: reconcile a shorter period"))
}
