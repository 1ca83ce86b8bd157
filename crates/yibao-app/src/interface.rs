//! The national interface's use cases (issue 14): what a hospital's billing system (HIS)
//! does through the interface for designated institutions, each written once here and
//! called by the `yibao-fsi` edge, which only translates the envelope.
//!
//! - **Messages** are answered once: the answer to a `msgid` is kept, and the same `msgid`
//!   with the same input is answered from it; with another input it is refused
//!   (`interface.msgid_reused`).
//! - **Sign-in** (9001) gives an operator a `sign_no`; every other transaction names a
//!   `sign_no` of its institution that is not signed out (9002).
//! - **Visits** (就诊, `mdtrt_id`): an outpatient registration (2201) or an inpatient
//!   admission (2401) on presenting the person's national ID and card (the same rule as a
//!   settlement: an unknown ID and a wrong card get one answer), fee lines uploaded to it
//!   (2204/2301) and cancelled (2205/2302), a discharge (2402) and its cancellation (2405),
//!   settlement (2207/2304) and its cancellation (2208/2305). A visit is the bureau's
//!   record: its person, kind and dates come from the messages that opened and changed it,
//!   and the claim settled from it takes the institution's level and place from the register
//!   (issue 7) — the caller states neither.
//! - **The centre's authority**: a settlement message carries the hospital's own split of
//!   the bill (`medfee_sumamt`, `fulamt_ownpay_amt`, `overlmt_selfpay`, `preselfpay_amt`,
//!   `inscp_scp_amt`); it is recomputed from the uploaded lines and the catalogue, and a
//!   disagreement is refused naming each differing field (`interface.split_differs`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use time::{Date, OffsetDateTime};
use yibao_domain::{ClaimKind, Fen, NationalId, Place, RegionCode};
use yibao_engine::{Claim, ClaimLine, Delivery, Explain, LINES_LIMIT, Settlement, settle};
use yibao_store::interface::MSGID_CHARS_MAX;
use yibao_store::{ClaimRecord, ClaimStatus, InterfaceMessage, InterfaceStore as _, Reservation, SignInRecord, Store as _, VisitRecord};

use crate::{App, AppError, Principal, store};

/// The longest operator code or name kept with a sign-in.
pub const OPTER_CHARS_MAX: usize = 50;
pub use yibao_domain::SERIAL_CHARS_MAX;
/// The offset of the interface's dates and times (Beijing time): a reconciliation's days,
/// and every time an answer states.
pub const LOCAL_OFFSET: time::UtcOffset = yibao_domain::CITY_OFFSET;
/// After how long a `msgid` reserved and never answered (its sender stopped mid-message)
/// may be answered by a resend.
pub const RESERVATION_STALE_SECONDS: i64 = 120;
/// How often a write after a settlement or its reversal is tried again over a visit that
/// another message changed meanwhile.
const VISIT_REWRITES_MAX: usize = 16;
/// Days one reconciliation may span.
pub const RECONCILIATION_DAYS_MAX: i64 = 31;

/// Where a visit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    /// Registered or admitted: lines may be uploaded.
    Open,
    /// An inpatient stay discharged, not yet settled.
    Discharged,
    /// A settlement of it is under way (between the visit's claim and its settlement): no
    /// message changes it but a settlement of the same id, which finishes it.
    Settling,
    Settled,
    /// Registration or admission cancelled: nothing more happens to it.
    Cancelled,
}

impl VisitStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            VisitStatus::Open => "open",
            VisitStatus::Discharged => "discharged",
            VisitStatus::Settling => "being settled",
            VisitStatus::Settled => "settled",
            VisitStatus::Cancelled => "cancelled",
        }
    }
}

/// One uploaded fee line (费用明细), by the hospital's serial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub feedetl_sn: String,
    /// The hospital's charge batch (`chrg_bchno`) the line was uploaded in, if it said.
    pub chrg_bchno: Option<String>,
    pub line: ClaimLine,
    /// The message that uploaded the line: a reversal of that message (2601) takes away
    /// the lines it added, and only those.
    #[serde(default)]
    pub msgid: Option<String>,
}

impl Fee {
    /// The same line as `other`, whichever message uploaded it.
    fn same_line(&self, other: &Fee) -> bool {
        (&self.feedetl_sn, &self.chrg_bchno, &self.line) == (&other.feedetl_sn, &other.chrg_bchno, &other.line)
    }
}

/// Which fee lines a cancellation names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeSelector<'a> {
    /// Every line (`"0000"` in the message).
    All,
    Serial(&'a str),
    Batch(&'a str),
    /// The lines one message uploaded (its reversal, 2601).
    Message(&'a str),
}

/// A visit (就诊) as the bureau records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visit {
    pub mdtrt_id: String,
    pub person_id: NationalId,
    pub kind: ClaimKind,
    /// The hospital's outpatient or inpatient number (`ipt_otp_no`).
    pub ipt_otp_no: String,
    pub begin: Date,
    /// The discharge day of a stay; an outpatient visit ends the day it began.
    pub end: Option<Date>,
    /// Main diagnosis, ICD-10 (`dise_codg`): required before settlement.
    pub diagnosis: Option<String>,
    pub emergency: bool,
    pub delivery: Option<Delivery>,
    pub status: VisitStatus,
    pub fees: Vec<Fee>,
    /// Settlements made from the visit so far (cancelled ones included): each gets its own
    /// settlement id, `{mdtrt_id}S{n}`, so a settlement after a cancellation is a new claim.
    pub settlements: u32,
    /// The live settlement's id (`setl_id`), when settled.
    pub setl_id: Option<String>,
    /// The settlement list (医保结算清单, 4101) uploaded for the live settlement.
    #[serde(default)]
    pub settlement_list: Option<SettlementList>,
    /// The messages (`msgid`) whose answer is the live (or claimed) settlement: the one that
    /// claimed the visit and any that finished it. A resend of one of them is answered with
    /// the settlement, and a reversal (2601) of one of them cancels it.
    #[serde(default)]
    pub settled_by: Vec<String>,
    /// The attending physician (`atddr_no`) when the message gives a national insurance
    /// physician's code; a local code (a hospital's own staff number) is not kept: the
    /// claim then names no physician.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physician: Option<String>,
}

/// Most messages one settlement answers (the one that claimed it and those that finished it).
const SETTLED_BY_MAX: usize = 8;

/// The most diagnoses or procedures one settlement list carries.
pub const LIST_ENTRIES_MAX: usize = 50;

/// A settlement list (医保结算清单) as uploaded (4101): the coded diagnoses and procedures
/// of the settled visit, which the payment by disease group (issue 15) reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementList {
    pub setl_id: String,
    /// ICD-10 codes, the main diagnosis first.
    pub diagnoses: Vec<String>,
    /// ICD-9-CM-3 codes, the main procedure first.
    pub procedures: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
}

impl SettlementList {
    /// Checks the codes: one or more diagnoses (ICD-10, `yibao_domain::is_diagnosis_code`)
    /// and procedures (ICD-9-CM-3, `is_procedure_code`), each list within
    /// [`LIST_ENTRIES_MAX`].
    pub fn check(&self) -> Result<(), AppError> {
        let bad = |why: String| AppError::bad_request("interface.bad_field", why);
        if self.diagnoses.is_empty() {
            return Err(bad("diseinfo: the settlement list needs its main diagnosis (maindiag_flag 1)".into()));
        }
        if self.diagnoses.len() > LIST_ENTRIES_MAX || self.procedures.len() > LIST_ENTRIES_MAX {
            return Err(bad(format!("a settlement list carries at most {LIST_ENTRIES_MAX} diagnoses and {LIST_ENTRIES_MAX} procedures")));
        }
        if let Some(code) = self.diagnoses.iter().find(|code| !yibao_domain::is_diagnosis_code(code)) {
            return Err(bad(format!("diseinfo.diag_code: '{code}' is not an ICD-10 code (insurance edition 2.0)")));
        }
        if let Some(code) = self.procedures.iter().find(|code| !yibao_domain::is_procedure_code(code)) {
            return Err(bad(format!("oprninfo.oprn_oprt_code: '{code}' is not an ICD-9-CM-3 code (insurance edition)")));
        }
        Ok(())
    }
}

/// Which part of the catalogue a download names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogueKind {
    /// Western and Chinese patent medicines (1301): codes `X…` and `Z…`.
    Medicines,
    /// Medical service items (1305): 15-digit codes.
    Services,
    /// Medical consumables (1306): codes `C…`.
    Consumables,
    /// Everything (1312, the catalogue query).
    All,
    /// The items with a price cap at some level (1318).
    Capped,
}

impl CatalogueKind {
    #[must_use]
    pub fn holds(self, item: &yibao_policy::CatalogueItem) -> bool {
        // The national lists by the code's shape (`ItemKind::of`); a local code is in none
        // of them, only in the whole catalogue.
        let list = yibao_domain::ItemKind::of(&item.code);
        match self {
            CatalogueKind::Capped => item.price_cap.iter().any(Option::is_some),
            CatalogueKind::Medicines => list == Some(yibao_domain::ItemKind::Medicine),
            CatalogueKind::Services => list == Some(yibao_domain::ItemKind::Service),
            CatalogueKind::Consumables => list == Some(yibao_domain::ItemKind::Consumable),
            CatalogueKind::All => true,
        }
    }
}

/// An item of the catalogue in force as a download lists it: the pack's own item over the
/// pack's period, or the national catalogue's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub item: yibao_policy::CatalogueItem,
    pub from: Date,
    pub until: Option<Date>,
    /// `None`: the national list.
    pub region: Option<yibao_domain::RegionCode>,
}

/// A chronic or special disease the pack certifies (门诊慢特病种), as 1309 lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifiedDisease {
    /// The ICD-10 prefix certified.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The annual limit on the day asked, if the pack sets one.
    pub annual_limit: Option<Fen>,
}

/// Most catalogue items one page holds.
pub const CATALOGUE_PAGE_MAX: u32 = 1000;

impl Visit {
    #[must_use]
    pub const fn is_stay(&self) -> bool {
        self.kind.is_stay()
    }

    /// Refuses a message of the other family: an outpatient transaction (22xx) naming a
    /// stay, or an inpatient one (23xx, 24xx) naming an outpatient visit.
    pub fn check_family(&self, stay: bool) -> Result<(), AppError> {
        if self.is_stay() == stay {
            return Ok(());
        }
        Err(AppError::bad_request(
            "interface.bad_field",
            if stay {
                "mdtrt_id: names an outpatient visit: use the outpatient transactions (22xx)"
            } else {
                "mdtrt_id: names an inpatient stay: use the inpatient transactions (23xx, 24xx)"
            },
        ))
    }

    fn refuse(&self, what: &str) -> AppError {
        AppError::unprocessable("interface.visit_state", format!("visit {} is {}: it cannot {what}", self.mdtrt_id, self.status.as_str()))
    }

    /// Adds fee lines. A serial already uploaded with the same line is a repeat and changes
    /// nothing; with another line it is refused (`interface.fee_exists`).
    pub fn add_fees(&mut self, fees: Vec<Fee>) -> Result<(), AppError> {
        if !matches!(self.status, VisitStatus::Open | VisitStatus::Discharged) {
            return Err(self.refuse("take fee lines"));
        }
        for fee in fees {
            check_serial("feedetl_sn", &fee.feedetl_sn)?;
            check_line(&fee)?;
            match self.fees.iter().find(|f| f.feedetl_sn == fee.feedetl_sn) {
                Some(same) if same.same_line(&fee) => {}
                Some(_) => {
                    return Err(AppError::conflict(
                        "interface.fee_exists",
                        format!("fee line {} of visit {} was uploaded with other content: cancel it first", fee.feedetl_sn, self.mdtrt_id),
                    ));
                }
                None => self.fees.push(fee),
            }
        }
        if self.fees.len() > LINES_LIMIT {
            return Err(AppError::bad_request("claim.too_many_lines", format!("a visit holds at most {LINES_LIMIT} fee lines")));
        }
        Ok(())
    }

    /// Cancels the fee lines `selector` names; refused when it names none.
    pub fn remove_fees(&mut self, selector: FeeSelector<'_>) -> Result<usize, AppError> {
        if !matches!(self.status, VisitStatus::Open | VisitStatus::Discharged) {
            return Err(self.refuse("cancel fee lines"));
        }
        let before = self.fees.len();
        match selector {
            FeeSelector::All => self.fees.clear(),
            FeeSelector::Serial(serial) => self.fees.retain(|f| f.feedetl_sn != serial),
            FeeSelector::Batch(batch) => self.fees.retain(|f| f.chrg_bchno.as_deref() != Some(batch)),
            FeeSelector::Message(msgid) => self.fees.retain(|f| f.msgid.as_deref() != Some(msgid)),
        }
        if self.fees.len() == before && !matches!(selector, FeeSelector::All | FeeSelector::Message(_)) {
            return Err(AppError::not_found(
                "interface.fee_not_found",
                format!("visit {} has no such fee lines ({selector:?})", self.mdtrt_id),
            ));
        }
        Ok(before - self.fees.len())
    }

    pub fn discharge(&mut self, end: Date, diagnosis: Option<String>) -> Result<(), AppError> {
        if !self.is_stay() || self.status != VisitStatus::Open {
            return Err(self.refuse("be discharged"));
        }
        if end < self.begin {
            return Err(AppError::bad_request(
                "claim.discharge_before_admission",
                format!("discharge date {end} is before admission date {}", self.begin),
            ));
        }
        self.end = Some(end);
        if diagnosis.is_some() {
            self.diagnosis = diagnosis;
        }
        self.status = VisitStatus::Discharged;
        Ok(())
    }

    pub fn cancel_discharge(&mut self) -> Result<(), AppError> {
        if self.status != VisitStatus::Discharged {
            return Err(self.refuse("have its discharge cancelled"));
        }
        self.end = None;
        self.status = VisitStatus::Open;
        Ok(())
    }

    /// Cancels the registration or admission: only before any settlement is live.
    pub fn cancel(&mut self) -> Result<(), AppError> {
        if self.status != VisitStatus::Open {
            return Err(self.refuse("be cancelled (cancel its settlement or discharge first)"));
        }
        self.status = VisitStatus::Cancelled;
        Ok(())
    }

    /// A visit just registered or admitted under `mdtrt_id`: open, nothing uploaded or settled.
    #[must_use]
    pub fn opened(mdtrt_id: String, new: NewVisit) -> Visit {
        Visit {
            mdtrt_id,
            person_id: new.person_id,
            kind: new.kind,
            ipt_otp_no: new.ipt_otp_no,
            begin: new.begin,
            end: None,
            diagnosis: new.diagnosis,
            emergency: new.emergency,
            delivery: new.delivery,
            status: VisitStatus::Open,
            fees: Vec::new(),
            settlements: 0,
            setl_id: None,
            settlement_list: None,
            settled_by: Vec::new(),
            physician: new.physician.filter(|code| yibao_domain::PhysicianCode::is_valid(code)),
        }
    }

    /// Changes what the hospital may correct while the visit is open (2203, 2403).
    pub fn change(&mut self, change: VisitChange) -> Result<(), AppError> {
        if !matches!(self.status, VisitStatus::Open | VisitStatus::Discharged) {
            return Err(self.refuse("be changed"));
        }
        if let Some(begin) = change.begin {
            if self.end.is_some_and(|end| end < begin) {
                return Err(AppError::bad_request("claim.discharge_before_admission", "the admission would fall after the discharge"));
            }
            self.begin = begin;
        }
        if let Some(diagnosis) = change.diagnosis {
            self.diagnosis = Some(diagnosis);
        }
        if let Some(emergency) = change.emergency {
            self.emergency = emergency;
        }
        if change.delivery.is_some() {
            self.delivery = change.delivery;
        }
        if let Some(kind) = change.kind {
            // An outpatient visit may turn chronic (14) or general (11) and a stay another
            // kind of stay; a pharmacy purchase (41) stays a purchase, and nothing becomes one
            // (which institution may open which kind is decided when the visit opens).
            let family = |k: ClaimKind| match k {
                ClaimKind::PharmacyPurchase => 2,
                _ if k.is_stay() => 1,
                _ => 0,
            };
            if family(kind) != family(self.kind) {
                return Err(AppError::unprocessable(
                    "interface.visit_state",
                    format!("visit {} is {:?}: it cannot become {kind:?}", self.mdtrt_id, self.kind),
                ));
            }
            self.kind = kind;
        }
        Ok(())
    }

    /// The id the next settlement gets.
    #[must_use]
    pub fn next_setl_id(&self) -> String {
        format!("{}S{}", self.mdtrt_id, self.settlements + 1)
    }

    /// The claim this visit settles as: dates and kind from the visit, level and place from
    /// the register (`register`), lines as uploaded. `today` ends an open stay for a
    /// pre-settlement during the stay.
    fn claim(
        &self,
        register: &yibao_store::InstitutionRecord,
        city: RegionCode,
        service_rule: yibao_policy::ServiceDateRule,
        today: Date,
    ) -> Result<Claim, AppError> {
        let diagnosis = self.diagnosis.clone().ok_or_else(|| {
            AppError::unprocessable("interface.no_diagnosis", format!("visit {} has no main diagnosis yet (dise_codg)", self.mdtrt_id))
        })?;
        let end = if self.is_stay() { self.end.unwrap_or(today.max(self.begin)) } else { self.begin };
        let mut claim = Claim {
            claim_id: self.next_setl_id(),
            institution_code: register.code.to_string(),
            institution_level: register.level,
            place: Place::of(city, register.region),
            kind: self.kind,
            admission_date: self.begin,
            discharge_date: end,
            diagnosis,
            referral: false,
            emergency: self.emergency,
            referred_deductible_paid: Fen::ZERO,
            procedure: None,
            physician: self.physician.clone(),
            delivery: self.delivery,
            lines: self.fees.iter().map(|f| f.line.clone()).collect(),
        };
        claim.institution_level = register.level_on(claim.service_date(service_rule));
        Ok(claim)
    }
}

/// What an outpatient registration (2201) or admission (2401) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVisit {
    pub person_id: NationalId,
    pub card_no: String,
    pub kind: ClaimKind,
    pub ipt_otp_no: String,
    pub begin: Date,
    pub diagnosis: Option<String>,
    pub emergency: bool,
    pub delivery: Option<Delivery>,
    /// Where the message says the person is insured (`insuplc_admdvs`), if it says.
    pub insured_in: Option<RegionCode>,
    /// The attending physician's code (`atddr_no`), as the message gives it.
    pub physician: Option<String>,
}

/// A correction of an open visit (2203 visit information, 2403 admission change).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VisitChange {
    pub kind: Option<ClaimKind>,
    pub begin: Option<Date>,
    pub diagnosis: Option<String>,
    pub emergency: Option<bool>,
    pub delivery: Option<Delivery>,
}

/// The hospital's own split of the bill, as its settlement message states it. `None` is a
/// field not stated (a pre-settlement states only the total).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatedSplit {
    pub medfee_sumamt: Option<Fen>,
    pub fulamt_ownpay_amt: Option<Fen>,
    pub overlmt_selfpay: Option<Fen>,
    pub preselfpay_amt: Option<Fen>,
    pub inscp_scp_amt: Option<Fen>,
}

impl StatedSplit {
    /// The fields that differ from `settlement`, each as "field: stated X, computed Y".
    #[must_use]
    pub fn differences(&self, settlement: &Settlement) -> Vec<String> {
        let pairs = [
            ("medfee_sumamt", self.medfee_sumamt, settlement.medfee_sumamt),
            ("fulamt_ownpay_amt", self.fulamt_ownpay_amt, settlement.fulamt_ownpay_amt),
            ("overlmt_selfpay", self.overlmt_selfpay, settlement.overlmt_selfpay),
            ("preselfpay_amt", self.preselfpay_amt, settlement.preselfpay_amt),
            ("inscp_scp_amt", self.inscp_scp_amt, settlement.inscp_scp_amt),
        ];
        pairs
            .into_iter()
            .filter_map(|(field, stated, computed)| {
                stated.filter(|s| *s != computed).map(|s| format!("{field}: the message says {s}, the centre computes {computed}"))
            })
            .collect()
    }
}

/// A person as an institution sees them on presenting their card (1101): who they are and
/// what they are insured for, never their balance or counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonSeen {
    pub person_id: NationalId,
    pub name: yibao_domain::PersonName,
    /// Where the person is insured.
    pub region: RegionCode,
    pub scheme: yibao_domain::Scheme,
    pub coverage_from: Date,
    pub coverage_until: Option<Date>,
    pub maternity: bool,
    /// Under the civil servants' medical subsidy (`cvlserv_flag`).
    pub civil_servant: bool,
}

/// A visit's settlement (2206/2207, 2303/2304): the settlement as the institution sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitSettlement {
    pub visit: Visit,
    pub setl_id: String,
    /// `None` for a pre-settlement.
    pub record: Option<ClaimRecord>,
    /// The settlement as the institution sees it (national field names).
    pub settlement: Value,
    pub settled_at: OffsetDateTime,
}

/// One reconciliation row: a settlement or a cancellation, on its day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconciliationRow {
    pub setl_id: String,
    pub person_id: NationalId,
    pub insutype: String,
    pub at: OffsetDateTime,
    /// A cancellation (`refd_setl_flag` 1) counts negative.
    pub cancellation: bool,
    pub medfee_sumamt: Fen,
    pub fund_pay_sumamt: Fen,
    pub acct_pay: Fen,
    pub psn_cash_pay: Fen,
}

/// The totals of rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconciliationTotals {
    pub medfee_sumamt: Fen,
    pub fund_pay_sumamt: Fen,
    pub acct_pay: Fen,
    pub psn_cash_pay: Fen,
    /// Settlements less cancellations.
    pub count: i64,
}

impl ReconciliationTotals {
    #[must_use]
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a ReconciliationRow>) -> ReconciliationTotals {
        let mut totals = ReconciliationTotals::default();
        for row in rows {
            let sign = |fen: Fen| if row.cancellation { Fen::ZERO - fen } else { fen };
            totals.medfee_sumamt += sign(row.medfee_sumamt);
            totals.fund_pay_sumamt += sign(row.fund_pay_sumamt);
            totals.acct_pay += sign(row.acct_pay);
            totals.psn_cash_pay += sign(row.psn_cash_pay);
            totals.count += if row.cancellation { -1 } else { 1 };
        }
        totals
    }
}

/// A fee line within the claim's limits (`limits`): a quantity above zero, a price and a
/// line total a bill may hold. Checked before anything is computed from the line.
/// One row of a detailed reconciliation (3202) that does not agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetailDifference {
    /// The institution lists this row more than once.
    Duplicate(ReconciliationRow),
    /// The centre has it, the institution does not.
    MissingThere(ReconciliationRow),
    /// The institution has it, the centre does not.
    MissingHere(ReconciliationRow),
    /// Both have it, with another person or other amounts: the centre's row.
    Differs(ReconciliationRow),
}

/// Compares an institution's totals with the centre's: each figure that differs, as
/// "field: the institution X, the centre Y".
fn totals_differences(theirs: &ReconciliationTotals, ours: &ReconciliationTotals) -> Vec<String> {
    let mut differences: Vec<String> = [
        ("medfee_sumamt", theirs.medfee_sumamt, ours.medfee_sumamt),
        ("fund_pay_sumamt", theirs.fund_pay_sumamt, ours.fund_pay_sumamt),
        ("acct_pay", theirs.acct_pay, ours.acct_pay),
    ]
    .into_iter()
    .filter(|(_, theirs, ours)| theirs != ours)
    .map(|(field, theirs, ours)| format!("{field}: the institution {theirs}, the centre {ours}"))
    .collect();
    if theirs.count != ours.count {
        differences.push(format!("fixmedins_setl_cnt: the institution {}, the centre {}", theirs.count, ours.count));
    }
    differences
}

/// Compares an institution's rows with the centre's, row by row (by settlement and whether
/// it is a cancellation).
fn detail_differences(theirs: &[ReconciliationRow], ours: &[ReconciliationRow]) -> Vec<DetailDifference> {
    let key = |r: &ReconciliationRow| (r.setl_id.clone(), r.cancellation);
    let mut out = Vec::new();
    for (index, row) in theirs.iter().enumerate() {
        if theirs[..index].iter().any(|earlier| key(earlier) == key(row)) {
            out.push(DetailDifference::Duplicate(row.clone()));
        }
    }
    for row in ours {
        match theirs.iter().find(|t| key(t) == key(row)) {
            None => out.push(DetailDifference::MissingThere(row.clone())),
            Some(t)
                if (t.person_id, t.medfee_sumamt, t.fund_pay_sumamt, t.acct_pay)
                    != (row.person_id, row.medfee_sumamt, row.fund_pay_sumamt, row.acct_pay) =>
            {
                out.push(DetailDifference::Differs(row.clone()));
            }
            Some(_) => {}
        }
    }
    for row in theirs {
        if !ours.iter().any(|o| key(o) == key(row)) {
            out.push(DetailDifference::MissingHere(row.clone()));
        }
    }
    out
}

fn check_line(fee: &Fee) -> Result<(), AppError> {
    let price_fen = i128::from(fee.line.unit_price.get());
    let total_fen = price_fen * i128::from(fee.line.quantity.milli()) / 1000;
    if fee.line.quantity.milli() == 0
        || fee.line.quantity.milli() > yibao_engine::QUANTITY_LIMIT_MILLI
        || fee.line.unit_price.is_negative()
        || fee.line.unit_price > yibao_engine::UNIT_PRICE_LIMIT
        || total_fen > i128::from(yibao_engine::BILL_LIMIT.get())
    {
        return Err(AppError::bad_request(
            "claim.bad_unit_price",
            format!(
                "fee line {}: a quantity above 0 and at most 1,000,000, a price of at most {} yuan, a line total of at most {} yuan",
                fee.feedetl_sn,
                yibao_engine::UNIT_PRICE_LIMIT,
                yibao_engine::BILL_LIMIT
            ),
        ));
    }
    Ok(())
}

fn check_msgid(msgid: &str) -> Result<(), AppError> {
    if msgid.is_empty() || msgid.chars().count() > MSGID_CHARS_MAX || msgid.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AppError::bad_request("interface.bad_msgid", format!("msgid: 1 to {MSGID_CHARS_MAX} printable characters")));
    }
    Ok(())
}

fn check_serial(field: &str, text: &str) -> Result<(), AppError> {
    if !yibao_domain::is_serial(text) {
        return Err(AppError::bad_request("interface.bad_field", format!("{field}: 1 to {SERIAL_CHARS_MAX} printable ASCII characters")));
    }
    Ok(())
}

/// SHA-256 of a message's input, lower-case hex: what makes a repeated `msgid` the same
/// message.
#[must_use]
pub fn input_digest(input: &[u8]) -> String {
    yibao_store::hex_lower(&Sha256::digest(input))
}

/// The settlement list (4101) uploaded for the settlement `setl_id` of a visit the
/// national interface settled, if there is one: its codes are the ones a stay is grouped by
/// for payment (DIP groups on the 医保结算清单). `None` for a claim settled otherwise.
pub(crate) async fn settlement_list_of(
    app: &crate::App,
    institution: &yibao_domain::InstitutionCode,
    setl_id: &str,
) -> Result<Option<SettlementList>, AppError> {
    let Some((mdtrt_id, n)) = setl_id.rsplit_once('S') else { return Ok(None) };
    if mdtrt_id.is_empty() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let Some(record) = crate::store!(app, visit(institution, mdtrt_id))? else { return Ok(None) };
    let visit = stored_visit(&record)?;
    Ok(visit.settlement_list.filter(|list| list.setl_id == setl_id))
}

fn stored_visit(record: &VisitRecord) -> Result<Visit, AppError> {
    serde_json::from_str(&record.state)
        .map_err(|e| AppError::internal("store.failure", format!("visit {}: stored state unreadable: {e}", record.mdtrt_id)))
}

fn settlement_of(record: &ClaimRecord) -> Result<Settlement, AppError> {
    #[derive(Deserialize)]
    struct Amounts {
        insutype: String,
        #[serde(with = "yibao_domain::serde_yuan")]
        medfee_sumamt: Fen,
        #[serde(with = "yibao_domain::serde_yuan")]
        fund_pay_sumamt: Fen,
        #[serde(with = "yibao_domain::serde_yuan")]
        acct_pay: Fen,
        #[serde(with = "yibao_domain::serde_yuan")]
        psn_cash_pay: Fen,
    }
    let amounts: Amounts = serde_json::from_str(&record.settlement_json)
        .map_err(|e| AppError::internal("store.failure", format!("claim {}: stored settlement unreadable: {e}", record.claim_id)))?;
    Ok(Settlement {
        insutype: match amounts.insutype.as_str() {
            "310" => "310",
            "510" => "510",
            "380" => "380",
            "391" => "391",
            _ => "390",
        },
        medfee_sumamt: amounts.medfee_sumamt,
        fund_pay_sumamt: amounts.fund_pay_sumamt,
        acct_pay: amounts.acct_pay,
        psn_cash_pay: amounts.psn_cash_pay,
        ..Settlement::default()
    })
}

impl App {
    fn register<'p>(&self, principal: &'p Principal) -> Result<&'p yibao_store::InstitutionRecord, AppError> {
        match principal {
            Principal::Institution(register) => Ok(register),
            _ => Err(AppError::forbidden("the national interface is for designated institutions, with their API key")),
        }
    }

    /// The message `msgid` of this institution and its answer, if it was answered.
    /// A message still being answered is refused (`interface.msgid_in_progress`); one whose
    /// sender stopped before answering it is returned with its empty answer.
    pub async fn interface_message(&self, principal: &Principal, msgid: &str) -> Result<Option<InterfaceMessage>, AppError> {
        let register = self.register(principal)?;
        check_msgid(msgid)?;
        let stale_before = self.now() - time::Duration::seconds(RESERVATION_STALE_SECONDS);
        match store!(self, interface_answer(&register.code, msgid))? {
            // Reserved, never answered, and its sender long gone: returned as it is (empty
            // answer), for a reversal to find out from the records what it did.
            Some(pending) if pending.answer.is_empty() && pending.answered_at >= stale_before => Err(AppError::conflict(
                "interface.msgid_in_progress",
                format!("msgid {msgid} ({}) is being answered now: resend this in a moment", pending.infno),
            )),
            found => Ok(found),
        }
    }

    /// Reserves `msgid` for a message about to be answered (`msgid-answered-once`): `None`
    /// when this message is to be answered now; its first answer when it was answered. The
    /// same `msgid` with another input is refused (`interface.msgid_reused`), and a copy
    /// sent while the first is still being answered is told to resend
    /// (`interface.msgid_in_progress`), so that two copies never both run.
    pub async fn reserve_interface_message(
        &self,
        principal: &Principal,
        msgid: &str,
        infno: &str,
        input_sha256: &str,
        input: String,
    ) -> Result<Option<InterfaceMessage>, AppError> {
        let register = self.register(principal)?;
        check_msgid(msgid)?;
        let now = self.now();
        let message = InterfaceMessage {
            institution_code: register.code.clone(),
            msgid: msgid.to_owned(),
            infno: infno.to_owned(),
            input_sha256: input_sha256.to_owned(),
            input,
            answer: String::new(),
            answered_at: now,
        };
        let reused = |first: &InterfaceMessage| {
            AppError::conflict(
                "interface.msgid_reused",
                format!("msgid {msgid} names another message already ({}): a msgid names one message", first.infno),
            )
        };
        match store!(self, reserve_interface_message(message, now - time::Duration::seconds(RESERVATION_STALE_SECONDS)))? {
            Reservation::Reserved => Ok(None),
            Reservation::Answered(first) if first.input_sha256 == input_sha256 => Ok(Some(first)),
            Reservation::Answered(first) | Reservation::InFlight(first) if first.input_sha256 != input_sha256 => Err(reused(&first)),
            Reservation::Answered(first) | Reservation::InFlight(first) => Err(AppError::conflict(
                "interface.msgid_in_progress",
                format!("msgid {msgid} ({}) is being answered now: resend it in a moment for its answer", first.infno),
            )),
        }
    }

    /// Drops the reservation of a message the service failed to answer.
    pub async fn release_interface_message(&self, principal: &Principal, msgid: &str) -> Result<(), AppError> {
        let register = self.register(principal)?;
        Ok(store!(self, release_interface_message(&register.code, msgid))?)
    }

    /// Keeps the answer to a message; if another answer to the same `msgid` was kept
    /// meanwhile, that first one is returned and stands.
    pub async fn keep_interface_answer(
        &self,
        principal: &Principal,
        msgid: &str,
        infno: &str,
        input_sha256: &str,
        input: String,
        answer: String,
    ) -> Result<InterfaceMessage, AppError> {
        let register = self.register(principal)?;
        let message = InterfaceMessage {
            institution_code: register.code.clone(),
            msgid: msgid.to_owned(),
            infno: infno.to_owned(),
            input_sha256: input_sha256.to_owned(),
            input,
            answer,
            answered_at: self.now(),
        };
        Ok(store!(self, record_interface_answer(message))?)
    }

    /// 9001: an operator signs in; the answer's `sign_no` goes on every later message.
    pub async fn interface_sign_in(&self, principal: &Principal, opter: &str) -> Result<SignInRecord, AppError> {
        let register = self.register(principal)?;
        if opter.is_empty() || opter.chars().count() > OPTER_CHARS_MAX || opter.chars().any(char::is_control) {
            return Err(AppError::bad_request("interface.bad_field", format!("opter_no: 1 to {OPTER_CHARS_MAX} printable characters")));
        }
        let now = self.now();
        let stamp =
            format!("{:04}{:02}{:02}{:02}{:02}{:02}", now.year(), u8::from(now.month()), now.day(), now.hour(), now.minute(), now.second());
        let random = crate::access::new_token()?;
        let sign_in = SignInRecord {
            sign_no: format!("{stamp}{}", &random[..12]),
            institution_code: register.code.clone(),
            opter: opter.to_owned(),
            signed_in_at: now,
            signed_out_at: None,
        };
        Ok(store!(self, record_sign_in(sign_in))?)
    }

    /// 9002: signs out a sign-in of this institution.
    pub async fn interface_sign_out(&self, principal: &Principal, sign_no: &str) -> Result<SignInRecord, AppError> {
        let register = self.register(principal)?;
        Ok(store!(self, record_sign_out(&register.code, sign_no, self.now()))?)
    }

    /// Refuses a message whose `sign_no` is not a live sign-in of its institution.
    pub async fn check_signed_in(&self, principal: &Principal, sign_no: &str) -> Result<(), AppError> {
        let register = self.register(principal)?;
        let not_signed_in = || {
            AppError::unprocessable(
                "interface.not_signed_in",
                format!("sign_no {sign_no:?} is no live sign-in of {}: sign in (9001) first", register.code),
            )
        };
        if sign_no.is_empty() || sign_no.len() > MSGID_CHARS_MAX {
            return Err(not_signed_in());
        }
        match store!(self, sign_in_record(&register.code, sign_no))? {
            Some(record) if record.signed_out_at.is_none() => Ok(()),
            _ => Err(not_signed_in()),
        }
    }

    /// 1101: the person an institution presents the card of, as it may see them (no
    /// balance, no counters); `insured_in` is where the message says the person is insured
    /// (`insuplc_admdvs`), checked against the records.
    pub async fn person_for_institution(
        &self,
        principal: &Principal,
        person_id: &NationalId,
        card_no: &str,
        insured_in: Option<RegionCode>,
    ) -> Result<PersonSeen, AppError> {
        let register = self.register(principal)?;
        let person = self.presented(person_id, card_no).await?;
        let coverage = person.coverage;
        check_regions(register, Some(coverage.region), None, insured_in, self.policy().region)?;
        Ok(PersonSeen {
            person_id: person.person_id,
            name: person.name,
            region: coverage.region,
            scheme: coverage.scheme,
            coverage_from: coverage.coverage_from,
            coverage_until: coverage.coverage_until,
            maternity: coverage.maternity,
            civil_servant: coverage.civil_servant && coverage.scheme == yibao_domain::Scheme::Employee,
        })
    }

    /// Refuses a visit of a kind the person is not entitled to on `date` (2001, and at
    /// registration): coverage in force, maternity insurance for a maternity claim, a
    /// certified disease for chronic outpatient care.
    pub fn entitlement(person: &yibao_store::PersonRecord, kind: ClaimKind, date: Date, diagnosis: Option<&str>) -> Result<(), AppError> {
        // The coverage in force on the day (R-ENR-5): an earlier spell for a visit before a move.
        let coverage = match yibao_engine::spell_on(&person.coverage, &person.history, date) {
            yibao_engine::SpellOn::Current => &person.coverage,
            yibao_engine::SpellOn::Past(past) | yibao_engine::SpellOn::OtherScheme(past) => &past.coverage,
        };
        App::covered_for(coverage, kind, date, diagnosis)
    }

    /// Refuses a visit of a kind `coverage` (one spell) does not entitle to on `date`; the
    /// rules of [`App::entitlement`], also for a stay a migration brings.
    pub fn covered_for(coverage: &yibao_engine::Coverage, kind: ClaimKind, date: Date, diagnosis: Option<&str>) -> Result<(), AppError> {
        let refuse = |why: String| AppError::unprocessable("interface.not_entitled", why);
        if date < coverage.coverage_from || coverage.coverage_until.is_some_and(|until| date > until) {
            return Err(refuse(format!("the person is not covered on {date}")));
        }
        if kind == ClaimKind::Maternity && !coverage.maternity {
            return Err(refuse("the person has no maternity insurance".into()));
        }
        // Chronic care, the two diseases' medicines and special drugs are for a disease on
        // file for the person.
        if matches!(kind, ClaimKind::ChronicOutpatient | ClaimKind::TwoDisease | ClaimKind::SpecialDrug) {
            let certified =
                diagnosis.is_some_and(|dx| coverage.certified_chronic_diseases.iter().any(|prefix| dx.starts_with(prefix.as_str())));
            if !certified {
                return Err(refuse("no disease on file for the person matches this diagnosis".into()));
            }
        }
        Ok(())
    }

    /// 2001: the entitlement check, on presenting the person's card.
    pub async fn check_entitlement(
        &self,
        principal: &Principal,
        person_id: &NationalId,
        card_no: &str,
        kind: ClaimKind,
        date: Date,
        diagnosis: Option<&str>,
    ) -> Result<(), AppError> {
        self.register(principal)?;
        let person = self.presented(person_id, card_no).await?;
        App::entitlement(&person, kind, date, diagnosis)?;
        // Entitled is also: not suspended for arrears on the day (R-FIN-4), so a hospital
        // is not told to treat a person the settlement will refuse.
        self.check_standing_on(&person.person_id, date).await
    }

    /// 2201/2401: opens a visit on presenting the person's card. A hospital opens any kind;
    /// a pharmacy only outpatient visits.
    pub async fn open_visit(&self, principal: &Principal, new: NewVisit) -> Result<Visit, AppError> {
        let register = self.register(principal)?;
        check_serial("ipt_otp_no", &new.ipt_otp_no)?;
        self.not_after_today("claim.in_future", "a visit beginning on", new.begin)?;
        crate::claims::check_kind_at(&register.code, new.kind)?;
        let person = self.presented(&new.person_id, &new.card_no).await?;
        check_regions(register, Some(person.coverage.region), None, new.insured_in, self.policy().region)?;
        App::entitlement(&person, new.kind, new.begin, new.diagnosis.as_deref())?;
        self.check_standing_on(&person.person_id, new.begin).await?;
        if new.kind.is_stay() {
            // The same days are not paid twice: an admission inside a stay already settled
            // for the person is refused now, not at its settlement.
            let claims = store!(self, claims_of_person(self.policy().region, &new.person_id))?;
            if let Some((record, stay)) = crate::claims::live_stays(&claims)?
                .into_iter()
                .find(|(_, stay)| yibao_store::stays_overlap((stay.admission_date, stay.discharge_date), (new.begin, new.begin)))
            {
                return Err(AppError::conflict(
                    "claim.overlapping_stay",
                    format!(
                        "an admission on {} falls inside the stay {} to {} of claim {}/{} already settled for this person",
                        new.begin, stay.admission_date, stay.discharge_date, record.institution_code, record.claim_id
                    ),
                ));
            }
        }
        let now = self.now();
        let random = crate::access::new_token()?;
        let mdtrt_id = format!("{}{:02}{:02}{}", new.begin.year(), u8::from(new.begin.month()), new.begin.day(), &random[..16]);
        let visit = Visit::opened(mdtrt_id, new);
        self.write_visit(register, &visit, None, now).await?;
        Ok(visit)
    }

    async fn write_visit(
        &self,
        register: &yibao_store::InstitutionRecord,
        visit: &Visit,
        read: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let state = serde_json::to_string(visit).map_err(|e| AppError::internal("store.failure", e.to_string()))?;
        let record = VisitRecord {
            mdtrt_id: visit.mdtrt_id.clone(),
            institution_code: register.code.clone(),
            person_id: visit.person_id,
            revision: read.map_or(1, |r| r + 1),
            state,
            updated_at: now,
        };
        store!(self, write_visit(record, read))?;
        Ok(())
    }

    /// A visit of this institution, and the revision it was read at. The person the message
    /// names (`psn_no`) must be the visit's.
    pub async fn visit(&self, principal: &Principal, mdtrt_id: &str, person_id: Option<&NationalId>) -> Result<(Visit, u32), AppError> {
        let register = self.register(principal)?;
        let not_found = || AppError::not_found("interface.visit_not_found", format!("{} has no visit {mdtrt_id}", register.code));
        if mdtrt_id.is_empty() || mdtrt_id.len() > MSGID_CHARS_MAX {
            return Err(not_found());
        }
        let record = store!(self, visit(&register.code, mdtrt_id))?.ok_or_else(not_found)?;
        let visit = stored_visit(&record)?;
        if person_id.is_some_and(|p| *p != visit.person_id) {
            return Err(AppError::unprocessable("interface.person_mismatch", format!("visit {mdtrt_id} is another person's (psn_no)")));
        }
        Ok((visit, record.revision))
    }

    /// Reads a visit, applies `change` to it and writes it over the revision read.
    pub async fn change_visit<T>(
        &self,
        principal: &Principal,
        mdtrt_id: &str,
        person_id: Option<&NationalId>,
        change: impl FnOnce(&mut Visit) -> Result<T, AppError>,
    ) -> Result<(Visit, T), AppError> {
        let register = self.register(principal)?;
        let (mut visit, revision) = self.visit(principal, mdtrt_id, person_id).await?;
        let out = change(&mut visit)?;
        self.write_visit(register, &visit, Some(revision), self.now()).await?;
        Ok((visit, out))
    }

    /// 2204/2301: uploads fee lines, each with the total the hospital computed for it
    /// (`det_item_fee_sumamt`: refused when it is not quantity × price under the pack's
    /// rounding). The answer classifies each line as a pre-settlement would, when the visit
    /// has its diagnosis.
    pub async fn upload_fees(
        &self,
        principal: &Principal,
        mdtrt_id: &str,
        person_id: &NationalId,
        fees: Vec<(Fee, Option<Fen>)>,
    ) -> Result<(Visit, Option<Settlement>), AppError> {
        let rounding = self.policy().rounding;
        let mut differing = Vec::new();
        for (fee, stated) in &fees {
            check_line(fee)?;
            let total = rounding.scale(fee.line.unit_price, i64::from(fee.line.quantity.milli()), 1000);
            if let Some(stated) = stated.filter(|stated| *stated != total) {
                differing.push(format!("feedetl_sn {}: det_item_fee_sumamt {stated}, the centre computes {total}", fee.feedetl_sn));
            }
        }
        if !differing.is_empty() {
            return Err(AppError::unprocessable("interface.split_differs", differing.join("; ")));
        }
        let fees = fees.into_iter().map(|(fee, _)| fee).collect();
        let (visit, ()) = self.change_visit(principal, mdtrt_id, Some(person_id), |visit| visit.add_fees(fees)).await?;
        if visit.diagnosis.is_none() || visit.fees.is_empty() {
            return Ok((visit, None));
        }
        // The lines are taken; their classification is a pre-settlement's, and a refusal of
        // that (a stay that now overlaps another, coverage ended) is the pre-settlement's to
        // say: the lines are answered without their split.
        match self.compute_visit(principal, &visit).await {
            Ok(computed) => Ok((visit, Some(computed))),
            Err(e) if e.kind == crate::ErrorKind::Internal => Err(e),
            Err(_) => Ok((visit, None)),
        }
    }

    /// The visit's claim settled as a pre-settlement: nothing written.
    async fn compute_visit(&self, principal: &Principal, visit: &Visit) -> Result<Settlement, AppError> {
        let register = self.register(principal)?;
        let policy = self.policy();
        let claim = visit.claim(register, policy.region, policy.service_date, self.today())?;
        let person = store!(self, person(policy.region, &visit.person_id))?;
        let claim = self.check_visit_claim(principal, claim, &visit.person_id).await?;
        let acc = store!(self, accumulators(policy.region, &visit.person_id, self.claim_year(&claim)))?;
        settle(&policy, &claim, &person.coverage, &acc, Explain::Off).map_err(|e| AppError::unprocessable(e.code(), e.to_string()))
    }

    /// 2206/2303 and 2207/2304: settles a visit (or pre-settles it, `write` false), after
    /// checking the hospital's stated split against the centre's.
    #[allow(clippy::too_many_arguments)]
    pub async fn settle_visit(
        &self,
        principal: &Principal,
        source: &str,
        msgid: &str,
        mdtrt_id: &str,
        person_id: &NationalId,
        stated: StatedSplit,
        write: bool,
    ) -> Result<VisitSettlement, AppError> {
        let register = self.register(principal)?;
        let (mut visit, revision) = self.visit(principal, mdtrt_id, Some(person_id)).await?;
        // A message that settled the visit and whose answer was lost (the process stopped
        // before keeping it) is answered with the settlement it made.
        if write && visit.status == VisitStatus::Settled && visit.settled_by.iter().any(|m| m == msgid) {
            let live =
                visit.setl_id.clone().ok_or_else(|| AppError::internal("store.failure", "a settled visit without its settlement"))?;
            let record = store!(self, claim(self.policy().region, register.code.as_str(), &live))?;
            let settlement = crate::claims::institution_view(crate::claims::stored_settlement(&record)?);
            return Ok(VisitSettlement { visit, setl_id: live, settled_at: record.settled_at, record: Some(record), settlement });
        }
        // A settlement interrupted after the visit was claimed for it is finished by the next
        // settlement message.
        let resuming = write && visit.status == VisitStatus::Settling;
        let ready = resuming
            || if visit.is_stay() {
                matches!(visit.status, VisitStatus::Open | VisitStatus::Discharged) && (!write || visit.status == VisitStatus::Discharged)
            } else {
                visit.status == VisitStatus::Open
            };
        if !ready {
            let what = if write && visit.status == VisitStatus::Open { "be settled before its discharge (2402)" } else { "be settled" };
            return Err(visit.refuse(what));
        }
        if visit.fees.is_empty() {
            return Err(AppError::unprocessable("claim.no_lines", format!("visit {mdtrt_id} has no fee lines: upload them first")));
        }
        let computed = self.compute_visit(principal, &visit).await?;
        let differences = stated.differences(&computed);
        if !differences.is_empty() {
            return Err(AppError::unprocessable("interface.split_differs", differences.join("; ")));
        }
        let setl_id = visit.next_setl_id();
        if !write {
            let settlement = crate::claims::institution_view(
                serde_json::to_value(&computed).map_err(|e| AppError::internal("settle.failure", e.to_string()))?,
            );
            return Ok(VisitSettlement { visit, setl_id, record: None, settlement, settled_at: self.now() });
        }
        // The visit is claimed for this settlement before any money moves: from here no other
        // message changes its lines or its state (`visit-revision`), and a message that
        // changed it first makes this one fail here, with nothing settled.
        if !resuming {
            visit.status = VisitStatus::Settling;
            visit.setl_id = Some(setl_id.clone());
            visit.settled_by = vec![msgid.to_owned()];
            self.write_visit(register, &visit, Some(revision), self.now()).await?;
        }
        let policy = self.policy();
        let claim = visit.claim(register, policy.region, policy.service_date, self.today())?;
        let is_ours = |v: &Visit| v.status == VisitStatus::Settling && v.setl_id.as_deref() == Some(setl_id.as_str());
        let settled = match self.settle_presented(principal, source, person_id, claim).await {
            Ok(settled) => settled,
            // Refused: nothing was settled, and the visit is given back as it was.
            Err(refused) if refused.kind != crate::ErrorKind::Internal => {
                let stay = visit.is_stay();
                self.rewrite_visit(register, mdtrt_id, is_ours, |v| {
                    v.status = if stay { VisitStatus::Discharged } else { VisitStatus::Open };
                    v.setl_id = None;
                    v.settled_by.clear();
                })
                .await?;
                return Err(refused);
            }
            // The service failed: the visit stays claimed, and a resend finishes it.
            Err(failed) => return Err(failed),
        };
        let (visit, _) = self
            .rewrite_visit(register, mdtrt_id, is_ours, |v| {
                v.status = VisitStatus::Settled;
                v.settlements += 1;
                if !v.settled_by.iter().any(|m| m == msgid) && v.settled_by.len() < SETTLED_BY_MAX {
                    v.settled_by.push(msgid.to_owned());
                }
            })
            .await?;
        Ok(VisitSettlement {
            visit,
            setl_id,
            settled_at: settled.record.settled_at,
            record: Some(settled.record),
            settlement: settled.settlement,
        })
    }

    /// Applies `change` to the visit as stored while `applies` holds of it, written over the
    /// revision read and read again after each concurrent write; the visit as left, and
    /// whether this call changed it (not: `applies` no longer held). For the
    /// writes that follow a settlement or its reversal, which must not be lost to a message
    /// that changed the visit meanwhile.
    async fn rewrite_visit(
        &self,
        register: &yibao_store::InstitutionRecord,
        mdtrt_id: &str,
        applies: impl Fn(&Visit) -> bool,
        change: impl Fn(&mut Visit),
    ) -> Result<(Visit, bool), AppError> {
        for _ in 0..VISIT_REWRITES_MAX {
            let record = store!(self, visit(&register.code, mdtrt_id))?
                .ok_or_else(|| AppError::internal("store.failure", format!("visit {mdtrt_id} vanished")))?;
            let mut visit = stored_visit(&record)?;
            if !applies(&visit) {
                return Ok((visit, false));
            }
            change(&mut visit);
            match self.write_visit(register, &visit, Some(record.revision), self.now()).await {
                Ok(()) => return Ok((visit, true)),
                Err(e) if e.code == "interface.visit_changed" => {}
                Err(e) => return Err(e),
            }
        }
        Err(AppError::internal("store.failure", format!("visit {mdtrt_id} kept changing: its settlement is written, the visit is not")))
    }

    /// 2208/2305: cancels the visit's live settlement (a reversal, 冲正, of its claim): the
    /// visit is open again (a stay: discharged) and may be settled anew.
    pub async fn cancel_visit_settlement(
        &self,
        principal: &Principal,
        source: &str,
        mdtrt_id: &str,
        person_id: &NationalId,
        setl_id: Option<&str>,
    ) -> Result<(Visit, ClaimRecord), AppError> {
        let register = self.register(principal)?;
        let (visit, _) = self.visit(principal, mdtrt_id, Some(person_id)).await?;
        let live = visit
            .setl_id
            .clone()
            .filter(|_| visit.status == VisitStatus::Settled)
            .ok_or_else(|| visit.refuse("have a settlement cancelled"))?;
        if let Some(asked) = setl_id.filter(|asked| *asked != live) {
            return Err(AppError::unprocessable(
                "interface.setl_mismatch",
                format!("setl_id {asked} is not the live settlement of visit {mdtrt_id} ({live})"),
            ));
        }
        let code = register.code.to_string();
        let (record, reversed_here) =
            match self.reverse(principal, source, &code, &live, "cancelled by the institution (national interface)").await {
                Ok(settled) => (settled.record, true),
                // Reversed already by an earlier attempt that stopped before the visit was written.
                Err(e) if e.code == "claim.already_reversed" => (store!(self, claim(self.policy().region, &code, &live))?, false),
                Err(e) => return Err(e),
            };
        let stay = visit.is_stay();
        let (visit, changed_here) = self
            .rewrite_visit(
                register,
                mdtrt_id,
                |v| v.status == VisitStatus::Settled && v.setl_id.as_deref() == Some(live.as_str()),
                |v| {
                    v.status = if stay { VisitStatus::Discharged } else { VisitStatus::Open };
                    v.setl_id = None;
                    v.settlement_list = None;
                    v.settled_by.clear();
                },
            )
            .await?;
        if !reversed_here && !changed_here {
            // Another cancellation did all of it: this one did nothing.
            return Err(AppError::unprocessable(
                "interface.visit_state",
                format!("the settlement {live} of visit {mdtrt_id} is cancelled already"),
            ));
        }
        Ok((visit, record))
    }

    /// 2203/2403: corrects an open visit (its kind, begin, diagnosis, delivery). The visit
    /// as corrected meets what its opening had to meet: a begin not after today, and the
    /// person entitled to its kind on its begin (coverage, maternity insurance, a certified
    /// chronic disease).
    pub async fn amend_visit(
        &self,
        principal: &Principal,
        mdtrt_id: &str,
        person_id: &NationalId,
        stay: bool,
        change: VisitChange,
    ) -> Result<Visit, AppError> {
        if let Some(begin) = change.begin {
            self.not_after_today("claim.in_future", "a visit beginning on", begin)?;
        }
        let person = store!(self, person(self.policy().region, person_id))?;
        let (visit, ()) = self
            .change_visit(principal, mdtrt_id, Some(person_id), |visit| {
                visit.check_family(stay)?;
                visit.change(change)?;
                App::entitlement(&person, visit.kind, visit.begin, visit.diagnosis.as_deref())
            })
            .await?;
        Ok(visit)
    }

    /// 4101: uploads the settlement list of a visit's live settlement (replacing an earlier
    /// upload of it).
    pub async fn upload_settlement_list(
        &self,
        principal: &Principal,
        mdtrt_id: &str,
        person_id: &NationalId,
        mut list: SettlementList,
    ) -> Result<Visit, AppError> {
        list.check()?;
        list.uploaded_at = self.now();
        let (visit, ()) = self
            .change_visit(principal, mdtrt_id, Some(person_id), |visit| {
                if visit.status != VisitStatus::Settled || visit.setl_id.as_deref() != Some(list.setl_id.as_str()) {
                    return Err(AppError::unprocessable(
                        "interface.setl_mismatch",
                        format!("setl_id {} is not the live settlement of visit {mdtrt_id}", list.setl_id),
                    ));
                }
                visit.settlement_list = Some(list);
                Ok(())
            })
            .await?;
        Ok(visit)
    }

    /// 5201: this institution's visits of a person, the latest first, at most
    /// [`yibao_store::VISITS_LISTED_MAX`]: the one of id `mdtrt_id` when given, else those of
    /// `kind` and beginning in `from..=to` where given, among the person's latest
    /// [`yibao_store::VISITS_READ_MAX`] here. Only the institution's own records, so no
    /// card is asked: a hospital finds here a stay it admitted before go-live, which the
    /// migration brought with an id of the centre's (`mdtrt_id`).
    pub async fn visits_of_person(
        &self,
        principal: &Principal,
        person_id: &NationalId,
        mdtrt_id: Option<&str>,
        kind: Option<ClaimKind>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<Vec<Visit>, AppError> {
        let register = self.register(principal)?;
        let records = match mdtrt_id {
            Some(id) if id.is_empty() || id.len() > MSGID_CHARS_MAX => Vec::new(),
            Some(id) => store!(self, visit(&register.code, id))?.into_iter().filter(|r| r.person_id == *person_id).collect(),
            None => store!(self, visits_of_person(&register.code, person_id))?,
        };
        let mut visits = Vec::with_capacity(records.len().min(yibao_store::VISITS_LISTED_MAX));
        for record in &records {
            let visit = stored_visit(record)?;
            let wanted = kind.is_none_or(|kind| visit.kind == kind)
                && from.is_none_or(|from| visit.begin >= from)
                && to.is_none_or(|to| visit.begin <= to);
            if wanted {
                visits.push(visit);
                if visits.len() == yibao_store::VISITS_LISTED_MAX {
                    break;
                }
            }
        }
        Ok(visits)
    }

    /// 5206: a person's year-to-date counters, to an institution presenting the person's
    /// card (the patient is at its counter), never their balance.
    pub async fn counters_for_institution(
        &self,
        principal: &Principal,
        person_id: &NationalId,
        card_no: &str,
        year: i32,
    ) -> Result<yibao_engine::Accumulators, AppError> {
        self.register(principal)?;
        if !(crate::PERIOD_YEAR_MIN..=crate::PERIOD_YEAR_MAX).contains(&year) {
            return Err(AppError::bad_request(
                "request.bad_year",
                format!("year is {} to {}", crate::PERIOD_YEAR_MIN, crate::PERIOD_YEAR_MAX),
            ));
        }
        self.presented(person_id, card_no).await?;
        Ok(store!(self, accumulators(self.policy().region, person_id, year))?)
    }

    /// 1301/1305/1306/1312: a page of the catalogue in force today (by code): the pack's own
    /// items and the national catalogue's versions in force, with the number that match.
    pub fn catalogue_page(
        &self,
        principal: &Principal,
        kind: CatalogueKind,
        code: Option<&str>,
        page: u32,
        size: u32,
    ) -> Result<(usize, Vec<CatalogueEntry>), AppError> {
        self.register(principal)?;
        if page == 0 || !(1..=CATALOGUE_PAGE_MAX).contains(&size) {
            return Err(AppError::bad_request(
                "interface.bad_field",
                format!("page_num starts at 1; page_size is 1 to {CATALOGUE_PAGE_MAX}"),
            ));
        }
        let policy = self.policy();
        let mut items = policy.items_on(self.today());
        items.retain(|found| kind.holds(found.item) && code.is_none_or(|c| found.item.code.as_str() == c));
        let total = items.len();
        let skip = usize::try_from(u64::from(page - 1) * u64::from(size)).unwrap_or(usize::MAX);
        let page_items = items
            .into_iter()
            .skip(skip)
            .take(size as usize)
            .map(|found| CatalogueEntry {
                item: found.item.clone(),
                from: found.version.map_or(policy.effective_from, |v| v.from),
                until: found.version.map_or(policy.effective_until, |v| v.until),
                region: found.version.map_or(Some(policy.region), |v| v.region),
            })
            .collect();
        Ok((total, page_items))
    }

    /// 1309: the chronic and special diseases (门诊慢特病种) the pack in force certifies, with
    /// each one's annual limit on `date`.
    pub fn chronic_diseases(&self, principal: &Principal, date: Date) -> Result<Vec<CertifiedDisease>, AppError> {
        self.register(principal)?;
        let policy = self.policy();
        let mut diseases: Vec<_> = policy
            .chronic_diseases
            .iter()
            .map(|d| CertifiedDisease {
                code: d.code.clone(),
                name_zh: d.name_zh.clone(),
                name_en: d.name_en.clone(),
                annual_limit: d.annual_limit_on(date).map(|(fen, _)| fen),
            })
            .collect();
        diseases.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(diseases)
    }

    /// 2601 of a settlement message (2207/2304): cancels the settlement that message made
    /// or claimed, whatever its answer said or whether it was kept; `false` when that
    /// message's settlement is not live (never made, or cancelled already).
    pub async fn reverse_settlement_message(
        &self,
        principal: &Principal,
        source: &str,
        mdtrt_id: &str,
        person_id: &NationalId,
        msgid: &str,
    ) -> Result<bool, AppError> {
        let register = self.register(principal)?;
        let (visit, _) = self.visit(principal, mdtrt_id, Some(person_id)).await?;
        if !visit.settled_by.iter().any(|m| m == msgid) {
            return Ok(false);
        }
        let Some(live) = visit.setl_id.clone() else { return Ok(false) };
        match visit.status {
            VisitStatus::Settled => match self.cancel_visit_settlement(principal, source, mdtrt_id, person_id, Some(&live)).await {
                Ok(_) => Ok(true),
                Err(e) if e.code == "interface.visit_state" || e.code == "interface.setl_mismatch" => Ok(false),
                Err(e) => Err(e),
            },
            VisitStatus::Settling => {
                // Interrupted between the claim of the visit and its settled mark: the claim
                // may or may not have been written.
                let code = register.code.to_string();
                let written = match store!(self, claim(self.policy().region, &code, &live)) {
                    Ok(record) => Some(record),
                    Err(yibao_store::StoreError::ClaimNotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                let mut reversed = false;
                if let Some(record) = written.filter(|r| r.status == ClaimStatus::Settled) {
                    match self.reverse(principal, source, &code, &record.claim_id, "reversed by the institution (2601)").await {
                        Ok(_) => reversed = true,
                        Err(e) if e.code == "claim.already_reversed" => {}
                        Err(e) => return Err(e),
                    }
                }
                let claimed = store!(self, claim(self.policy().region, &code, &live)).is_ok();
                let stay = visit.is_stay();
                self.rewrite_visit(
                    register,
                    mdtrt_id,
                    |v| v.status == VisitStatus::Settling && v.setl_id.as_deref() == Some(live.as_str()),
                    |v| {
                        v.status = if stay { VisitStatus::Discharged } else { VisitStatus::Open };
                        v.setl_id = None;
                        v.settled_by.clear();
                        // A claim written under this id keeps it: the next settlement is a new one.
                        if claimed {
                            v.settlements += 1;
                        }
                    },
                )
                .await?;
                Ok(reversed)
            }
            _ => Ok(false),
        }
    }

    /// 3201: the institution's totals for `from..=to` (of one insurance type, or all)
    /// against the centre's: the centre's totals, and each figure that differs.
    pub async fn reconcile_totals(
        &self,
        principal: &Principal,
        from: Date,
        to: Date,
        insutype: Option<&str>,
        theirs: ReconciliationTotals,
    ) -> Result<(ReconciliationTotals, Vec<String>), AppError> {
        let rows = self.reconciliation(principal, from, to).await?;
        let ours = ReconciliationTotals::of(rows.iter().filter(|r| insutype.is_none_or(|t| r.insutype == t)));
        Ok((ours, totals_differences(&theirs, &ours)))
    }

    /// 3202: the institution's rows for `from..=to` against the centre's: the centre's
    /// totals, and each row that does not agree.
    pub async fn reconcile_details(
        &self,
        principal: &Principal,
        from: Date,
        to: Date,
        theirs: &[ReconciliationRow],
    ) -> Result<(ReconciliationTotals, Vec<DetailDifference>), AppError> {
        let rows = self.reconciliation(principal, from, to).await?;
        Ok((ReconciliationTotals::of(&rows), detail_differences(theirs, &rows)))
    }

    /// 3201/3202: the institution's settlements and cancellations on the days `from..=to`
    /// (Beijing time),
    /// each cancellation a row of its own on its day.
    pub async fn reconciliation(&self, principal: &Principal, from: Date, to: Date) -> Result<Vec<ReconciliationRow>, AppError> {
        let register = self.register(principal)?;
        if to < from || (to - from).whole_days() >= RECONCILIATION_DAYS_MAX {
            return Err(AppError::bad_request(
                "interface.bad_period",
                format!("a reconciliation covers 1 to {RECONCILIATION_DAYS_MAX} days, from stmt_begndate to stmt_enddate"),
            ));
        }
        // The store reads by UTC day; a local day reaches into the UTC days either side.
        let (wide_from, wide_to) = (from.previous_day().unwrap_or(from), to.next_day().unwrap_or(to));
        let records = store!(self, institution_claims(self.policy().region, &register.code, wide_from, wide_to))?;
        let in_period = |at: OffsetDateTime| {
            let day = at.to_offset(LOCAL_OFFSET).date();
            from <= day && day <= to
        };
        let mut rows = Vec::new();
        for record in &records {
            let amounts = settlement_of(record)?;
            let row = |at, cancellation| ReconciliationRow {
                setl_id: record.claim_id.clone(),
                person_id: record.person_id,
                insutype: amounts.insutype.to_owned(),
                at,
                cancellation,
                medfee_sumamt: amounts.medfee_sumamt,
                fund_pay_sumamt: amounts.fund_pay_sumamt,
                acct_pay: amounts.acct_pay,
                psn_cash_pay: amounts.psn_cash_pay,
            };
            if in_period(record.settled_at) {
                rows.push(row(record.settled_at, false));
            }
            if let Some(at) = record.reversed_at.filter(|at| record.status == ClaimStatus::Reversed && in_period(*at)) {
                rows.push(row(at, true));
            }
        }
        rows.sort_by(|a, b| (a.at, &a.setl_id, a.cancellation).cmp(&(b.at, &b.setl_id, b.cancellation)));
        Ok(rows)
    }
}

/// The regions a message states: `mdtrtarea_admvs` (where the care is given) must be the
/// institution's registered region or the city's, `insuplc_admdvs` (where the person is
/// insured) the person's region or the city's. Out-of-area care is then what the register
/// says of the institution, never what the message says.
pub fn check_regions(
    register: &yibao_store::InstitutionRecord,
    person_region: Option<RegionCode>,
    mdtrtarea: Option<RegionCode>,
    insuplc: Option<RegionCode>,
    city: RegionCode,
) -> Result<(), AppError> {
    if let Some(area) = mdtrtarea.filter(|area| *area != register.region && *area != city) {
        return Err(AppError::unprocessable(
            "interface.region_mismatch",
            format!("mdtrtarea_admvs {area}: {} is registered in {}", register.code, register.region),
        ));
    }
    if let (Some(insured), Some(stated)) = (person_region, insuplc)
        && stated != insured
        && !(stated == city && city.contains(insured))
    {
        return Err(AppError::unprocessable(
            "interface.region_mismatch",
            format!("insuplc_admdvs {stated}: the person is insured in {insured}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn visit(kind: ClaimKind) -> Visit {
        let new = NewVisit {
            person_id: NationalId::parse("41992119620314004X").expect("id"),
            card_no: "C0001".into(),
            kind,
            ipt_otp_no: "1".into(),
            begin: date!(2026 - 03 - 01),
            diagnosis: None,
            emergency: false,
            delivery: None,
            insured_in: None,
            physician: None,
        };
        Visit::opened("M1".into(), new)
    }

    /// A visit's kind changes only within its family: outpatient care, stays, purchases
    /// (hostile review: a purchase at a pharmacy could be amended into a stay).
    #[test]
    fn a_visit_changes_kind_only_within_its_family() {
        let to = |kind| VisitChange { kind: Some(kind), ..VisitChange::default() };
        let changed = |from: ClaimKind, kind: ClaimKind| visit(from).change(to(kind)).map(|()| kind).map_err(|e| e.code);
        assert_eq!(changed(ClaimKind::GeneralOutpatient, ClaimKind::ChronicOutpatient), Ok(ClaimKind::ChronicOutpatient));
        assert_eq!(changed(ClaimKind::Inpatient, ClaimKind::DaySurgery), Ok(ClaimKind::DaySurgery));
        // The two diseases' medicines and special drugs are outpatient care.
        assert_eq!(changed(ClaimKind::GeneralOutpatient, ClaimKind::TwoDisease), Ok(ClaimKind::TwoDisease));
        assert_eq!(changed(ClaimKind::ChronicOutpatient, ClaimKind::SpecialDrug), Ok(ClaimKind::SpecialDrug));
        for (from, into) in [
            (ClaimKind::SpecialDrug, ClaimKind::Inpatient),
            (ClaimKind::TwoDisease, ClaimKind::PharmacyPurchase),
            (ClaimKind::PharmacyPurchase, ClaimKind::Inpatient),
            (ClaimKind::PharmacyPurchase, ClaimKind::GeneralOutpatient),
            (ClaimKind::GeneralOutpatient, ClaimKind::PharmacyPurchase),
            (ClaimKind::Inpatient, ClaimKind::PharmacyPurchase),
            (ClaimKind::GeneralOutpatient, ClaimKind::Maternity),
        ] {
            assert_eq!(changed(from, into), Err("interface.visit_state".into()), "{from:?} into {into:?}");
        }
    }
}
