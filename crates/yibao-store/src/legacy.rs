//! Legacy deficits (历史缺口, R-FND-6) in the store: a county's opening deficit when city
//! pooling was made real, established once with its repayment terms, offset by what the
//! county paid into the adjustment fund, the rest owed by its finance and repaid into the
//! city special account (or withheld by the city). The schedule is recomputed from the
//! stored request by `yibao_ledger::legacy_schedule`; what was repaid is read from the
//! books; `status` says what the county still owes and flags a missed instalment.

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{Fen, RatioBp, RegionCode};
use yibao_ledger::{
    BusinessRef, Fund, FundScheme, LegacyInputs, LegacySchedule, RecordKind, Repayment, RepaymentTerms, TransferId, YearShare,
    legacy_schedule, legacy_status, repayment_transfer,
};

use crate::StoreError;
use crate::books::{Entry, date_of, date_text, refused};

/// How the gap is to be repaid, as stored and as the API takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TermsIn {
    /// 一次性足额补缴 by `due`.
    AtOnce { due: String },
    /// 分批完成: all by `end`, and at least `share_bp` of the gap in each listed year.
    Instalments { end: String, minimum_per_year: Vec<(i32, u32)> },
    /// 市财政代扣 on `on`.
    Withheld { on: String },
}

/// A county's legacy deficit as established (R-FND-6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyRequest {
    pub scheme: String,
    pub county: String,
    pub established_on: String,
    pub opening_gap_fen: i64,
    /// What the county paid into the adjustment fund over the years; when absent, what the
    /// books say it paid in (the credits of its position in the adjustment fund).
    pub paid_into_adjustment_fen: Option<i64>,
    pub terms: TermsIn,
}

impl LegacyRequest {
    /// The ledger's inputs, with what the county paid in (`paid_in_books_fen` when the
    /// request does not say).
    pub fn inputs(&self, city: RegionCode, paid_in_books_fen: Fen) -> Result<LegacyInputs, StoreError> {
        let invalid = |why: String| StoreError::Invalid(why);
        let scheme = FundScheme::parse(&self.scheme).ok_or_else(|| invalid(format!("'{}' is not a fund", self.scheme)))?;
        if scheme == FundScheme::MunicipalAdjustment {
            return Err(invalid(
                "a legacy deficit is a county's gap in one of its funds; the adjustment fund offsets it and has none".into(),
            ));
        }
        let county = RegionCode::parse(&self.county).map_err(|e| invalid(format!("county: {e}")))?;
        let day = |field: &str, text: &str| date_of(text).map_err(|_| invalid(format!("{field}: '{text}' is not a date YYYY-MM-DD")));
        let fen = |field: &str, value: i64| {
            Fen::checked(value).filter(|f| !f.is_negative()).ok_or_else(|| invalid(format!("{field} is not an amount")))
        };
        let terms = match &self.terms {
            TermsIn::AtOnce { due } => RepaymentTerms::AtOnce { due: day("due", due)? },
            TermsIn::Withheld { on } => RepaymentTerms::Withheld { on: day("on", on)? },
            TermsIn::Instalments { end, minimum_per_year } => RepaymentTerms::Instalments {
                end: day("end", end)?,
                minimum_per_year: minimum_per_year
                    .iter()
                    .map(|&(year, bp)| {
                        if bp > 10_000 {
                            return Err(invalid(format!("a year's minimum share of {bp} bp is over 100%")));
                        }
                        Ok(YearShare { year, share_bp: RatioBp::new(bp) })
                    })
                    .collect::<Result<_, _>>()?,
            },
        };
        Ok(LegacyInputs {
            fund: Fund::new(scheme, city),
            county,
            established_on: day("established_on", &self.established_on)?,
            opening_gap_fen: fen("opening_gap_fen", self.opening_gap_fen)?,
            paid_into_adjustment_fen: match self.paid_into_adjustment_fen {
                Some(value) => fen("paid_into_adjustment_fen", value)?,
                None => paid_in_books_fen,
            },
            terms,
        })
    }
}

/// The schedule of a legacy deficit and the entries establishing it: the offset from the
/// adjustment fund and the receivable from county finance.
pub fn establish(inputs: &LegacyInputs) -> Result<(LegacySchedule, Vec<Entry>), StoreError> {
    let schedule = legacy_schedule(inputs, |_| false).map_err(refused)?;
    let entries = schedule.transfers.iter().map(|p| Entry { unit: inputs.county, transfer: p.transfer.clone() }).collect();
    Ok((schedule, entries))
}

/// The entry of a repayment (or a withholding) of the gap.
pub fn repayment_entry(schedule: &LegacySchedule, on: Date, amount_fen: Fen, reference: &str) -> Result<Entry, StoreError> {
    if amount_fen.get() <= 0 {
        return Err(StoreError::Invalid("a repayment is a positive amount".into()));
    }
    let ok = !reference.is_empty() && reference.len() <= 40 && reference.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if !ok {
        return Err(StoreError::Invalid("a repayment's reference has 1 to 40 printable ASCII characters, no '/'".into()));
    }
    let id = TransferId::parse(&format!("legacy/{}/{}/repay/{reference}", schedule.fund, schedule.county)).map_err(refused)?;
    let cause = BusinessRef::new(RecordKind::LegacyDeficit, &format!("{}/{}", schedule.fund, schedule.county)).map_err(refused)?;
    let planned = repayment_transfer(schedule, id, &Repayment { on, amount_fen }, cause);
    Ok(Entry { unit: schedule.county, transfer: planned.transfer })
}

/// A repayment (or the city's withholding) of a county's legacy gap, as booked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyRepayment {
    pub scheme: FundScheme,
    pub county: RegionCode,
    pub on: Date,
    pub amount_fen: Fen,
    /// The voucher: 1 to 40 printable ASCII characters, no `/`; the same again is a replay.
    pub reference: String,
}

impl LegacyRepayment {
    /// Its audit entry's detail: everything it was booked with, so the book check can book
    /// it again from the audit trail and the stored deficit.
    #[must_use]
    pub fn audit_detail(&self) -> String {
        serde_json::json!({
            "amount_fen": self.amount_fen.get(),
            "scheme": self.scheme.as_str(),
            "county": self.county.to_string(),
            "on": date_text(self.on),
            "reference": self.reference,
        })
        .to_string()
    }

    /// The repayment a `fund.legacy_repayment` audit entry (naming transfer `entity`)
    /// records. An entry written by v0.1.0 recorded only the amount: the rest is read from
    /// the transfer's id, `legacy/{scheme}@{city}/{county}/repay/{reference}`, and the date is
    /// left to the books ([`crate::Audited::value_date_recorded`] false).
    pub fn from_audit_detail(detail: &str, entity: &str) -> Result<crate::Audited<LegacyRepayment>, StoreError> {
        #[derive(Deserialize)]
        struct Detail {
            amount_fen: i64,
            scheme: Option<String>,
            county: Option<String>,
            on: Option<String>,
            reference: Option<String>,
        }
        let bad = |what: &str| StoreError::Backend(format!("a repayment's audit detail is unreadable: {what}"));
        let d: Detail = serde_json::from_str(detail).map_err(|e| bad(&e.to_string()))?;
        let amount_fen = Fen::checked(d.amount_fen).ok_or_else(|| bad("amount"))?;
        let parse = |scheme: &str, county: &str| -> Result<_, StoreError> {
            Ok((FundScheme::parse(scheme).ok_or_else(|| bad("scheme"))?, RegionCode::parse(county).map_err(|_| bad("county"))?))
        };
        match (d.scheme, d.county, d.on, d.reference) {
            (Some(scheme), Some(county), Some(on), Some(reference)) => {
                let (scheme, county) = parse(&scheme, &county)?;
                let repayment = LegacyRepayment { scheme, county, on: date_of(&on)?, amount_fen, reference };
                Ok(crate::Audited { record: repayment, value_date_recorded: true })
            }
            (None, None, None, None) => {
                let parts: Vec<&str> = entity.split('/').collect();
                let ["legacy", fund, county, "repay", reference] = parts[..] else { return Err(bad("its transfer id")) };
                let (scheme, _) = fund.split_once('@').ok_or_else(|| bad("its transfer id"))?;
                let (scheme, county) = parse(scheme, county)?;
                let repayment = LegacyRepayment { scheme, county, on: Date::MIN, amount_fen, reference: reference.to_owned() };
                Ok(crate::Audited { record: repayment, value_date_recorded: false })
            }
            _ => Err(bad("some of scheme, county, on and reference are missing")),
        }
    }
}

/// What a county owes of its legacy deficit on a day, as the bureau reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyView {
    pub fund: String,
    pub county: String,
    pub opening_gap_fen: i64,
    pub offset_fen: i64,
    pub gap_fen: i64,
    /// `(due, minimum this instalment, cumulative by then)`.
    pub instalments: Vec<(String, i64, i64)>,
    pub as_of: String,
    pub paid_fen: i64,
    pub owed_fen: i64,
    /// `(due, shortfall)` of each instalment missed by `as_of`.
    pub missed: Vec<(String, i64)>,
    pub next_due: Option<(String, i64)>,
    pub notes: Vec<String>,
}

/// The view of a schedule given the repayments booked, on `as_of`.
pub fn view(schedule: &LegacySchedule, repayments: &[Repayment], as_of: Date) -> Result<LegacyView, StoreError> {
    let status = legacy_status(schedule, repayments, as_of).map_err(refused)?;
    let mut notes: Vec<String> = schedule.notes.iter().map(ToString::to_string).collect();
    notes.push(status.note.to_string());
    notes.extend(status.missed.iter().map(|m| m.note.to_string()));
    Ok(LegacyView {
        fund: schedule.fund.to_string(),
        county: schedule.county.to_string(),
        opening_gap_fen: schedule.opening_gap_fen.get(),
        offset_fen: schedule.offset_fen.get(),
        gap_fen: schedule.gap_fen.get(),
        instalments: schedule.instalments.iter().map(|i| (date_text(i.due), i.minimum_fen.get(), i.cumulative_fen.get())).collect(),
        as_of: date_text(as_of),
        paid_fen: status.paid_fen.get(),
        owed_fen: status.owed_fen.get(),
        missed: status.missed.iter().map(|m| (date_text(m.instalment.due), m.shortfall_fen.get())).collect(),
        next_due: status.next_due.map(|i| (date_text(i.due), i.cumulative_fen.get())),
        notes,
    })
}

/// What the county's other legacy deficits already took from what it paid into the
/// adjustment fund: each offset is the smaller of its gap and what was paid in when it was
/// established. What the county paid in offsets its deficits once, not once per fund
/// (the hostile review of issue 13).
pub fn offsets_taken(established: &[LegacyRequest]) -> Result<Fen, StoreError> {
    let mut taken = 0_i64;
    for request in established {
        let paid_in = request.paid_into_adjustment_fen.unwrap_or(0);
        taken = taken.saturating_add(request.opening_gap_fen.min(paid_in).max(0));
    }
    Fen::checked_total(taken).ok_or_else(|| StoreError::Invalid("the offsets taken are beyond the books' limit".into()))
}

/// The accounts whose credits are what `county` paid into its city's adjustment fund: its
/// position there, which the levy credits, and its outside-world account there, which a
/// balance brought in from before these books credits (issue 13).
#[must_use]
pub fn paid_in_accounts(city: RegionCode, county: RegionCode) -> [yibao_ledger::AccountKey; 2] {
    let fund = yibao_ledger::Fund::adjustment(city);
    [
        yibao_ledger::AccountKey::of_unit(fund, county, yibao_ledger::AccountKind::InterFund),
        yibao_ledger::AccountKey::of_unit(fund, county, yibao_ledger::AccountKind::External),
    ]
}
