//! The fund books inside the store (R-FND-1, R-SCH-2, R-SYS-6): what each business record
//! posts, and the one posting step both backends run inside the record's transaction
//! (ARCHITECTURE.md `books-with-business`).
//!
//! Every write that moves money — a contribution with its subsidies, a settlement layer by
//! layer, a reversal, a personal-account payment, an opening personal-account balance — is
//! turned here into [`Entry`]s: ledger transfers (pure `yibao-ledger`) with the unit whose
//! business caused them. A backend loads the accounts and earlier transfers the entries
//! name ([`needs`]), hands them to [`post_onto`], which posts through the ledger's own rules
//! (`Ledger::resume` + `Ledger::post`), and writes back what it returns, in the same
//! transaction as the business row. A refusal leaves nothing written.
//!
//! Funds are city funds (统收统支, R-FND-2): a person's region decides the unit (the county,
//! or the city itself for 市本级) and the fund's region is its city.

use std::collections::BTreeSet;

use time::Date;
use yibao_domain::{Fen, NationalId, RegionCode};
use yibao_engine::{EmployeeContribution, ResidentContribution, Settlement, SupplementaryContribution};
use yibao_ledger::{
    Account, AccountKey, AccountKind, AccountState, BusinessRef, Fund, FundScheme, Holder, Ledger, LedgerError, PostOutcome, Reason,
    RecordKind, SettlementLayer, Transfer, TransferId, limits::TRANSFER_ID_LEN_LIMIT,
};

use crate::{ContributionKind, ContributionRecord, StoreError};

/// A transfer as the store keeps it: with the unit (a county, or the city itself) whose
/// business record caused it, so a month's income and spending are known per county.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub unit: RegionCode,
    pub transfer: Transfer,
}

/// The fund of `scheme` for a person or unit of `region`: the city's (R-FND-2).
#[must_use]
pub fn fund_for(scheme: FundScheme, region: RegionCode) -> Fund {
    Fund::new(scheme, region.city())
}

/// A ledger refusal of a business write: the write is refused with the ledger's code.
pub fn refused(error: LedgerError) -> StoreError {
    StoreError::Refused { code: error.code(), message: error.to_string() }
}

/// A transfer id for leg `leg` of record `record` under `prefix`: readable
/// (`st/H41992100001/C-1/hifp`) when the record id is printable ASCII and short enough,
/// otherwise the record id's SHA-256 (a claim id may hold any printable character).
pub fn record_transfer_id(prefix: &str, record: &str, leg: &str) -> TransferId {
    let readable = format!("{prefix}/{record}/{leg}");
    if readable.len() <= TRANSFER_ID_LEN_LIMIT
        && let Ok(id) = TransferId::parse(&readable)
    {
        return id;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(record.as_bytes());
    let hex = crate::hex_lower(&digest);
    TransferId::parse(&format!("{prefix}/#{hex}/{leg}")).expect("a hex digest between short ASCII parts")
}

pub(crate) fn cause(kind: RecordKind, id: &str) -> Result<BusinessRef, StoreError> {
    BusinessRef::new(kind, id).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Adds a transfer unless its amount is zero. Every amount here is a settlement's field or
/// a difference that cannot go negative by construction; a negative one is a bug, and
/// asserting stops it rather than dropping it silently.
fn push(entries: &mut Vec<Entry>, unit: RegionCode, transfer: Transfer) {
    assert!(!transfer.amount_fen.is_negative(), "a negative amount in {}: a bug in the postings", transfer.id);
    if transfer.amount_fen.get() > 0 {
        entries.push(Entry { unit, transfer });
    }
}

/// What earlier records of a contribution's person, kind and period paid (their sum) and
/// were billed (the largest due amount among them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaidBefore {
    pub paid_fen: i64,
    pub due_fen: i64,
}

/// What a recorded contribution posts (R-FIN-1, R-FIN-2), on the day it was recorded.
///
/// The payment arrives in the unit's income account (收入户) from the unit's insured
/// (their outside-world account). A payment in full also brings what it entitles:
/// - resident: the subsidies the breakdown names, each from its payer's finance (central,
///   provincial, city, county; civil affairs for the assistance groups, booked to the
///   county's finance);
/// - employee: the share for the person's personal account (个人账户), credited to it;
/// - supplementary: the government part, from the county's finance.
///
/// A partial payment is pooled income only: a person in arrears is not yet insured for the
/// period, so no subsidy is drawn and no account credited until it is paid in full. The
/// record that completes the period (`before`: what earlier records of the same person,
/// kind and period paid and were billed, `None` when there are none) brings them all: the
/// account's whole share, from this payment and, for what this payment does not cover,
/// moved from the pooled income the earlier payments booked.
///
/// A period has one bill: a later record must carry the same due amount
/// (`contribution.due_changed`, so that a changed wage or group cannot complete a period
/// twice), and the payments never exceed it (`contribution.overpaid`).
pub fn contribution_entries(record: &ContributionRecord, before: Option<PaidBefore>, on: Date) -> Result<Vec<Entry>, StoreError> {
    if let Some(before) = before
        && before.due_fen != record.due_fen.get()
    {
        return Err(StoreError::Refused {
            code: "contribution.due_changed",
            message: format!(
                "{} {} of {} was billed {}; a later payment is recorded against that bill, not {}",
                record.kind.as_str(),
                record.period,
                record.person_id,
                Fen::new(before.due_fen),
                record.due_fen
            ),
        });
    }
    let paid_before_fen = before.map(|b| b.paid_fen);
    let unit = record.region;
    let record_id = format!("{}/{}", unit, record.seq);
    let contribution = cause(RecordKind::Contribution, &record_id)?;
    let subsidy = cause(RecordKind::Subsidy, &record_id)?;
    let paid = Some(record.paid_fen).filter(|f| !f.is_negative()).ok_or_else(|| StoreError::Invalid("paid is not an amount".into()))?;
    let (paid_fen, due_fen) = (record.paid_fen.get(), record.due_fen.get());
    // A period is paid once: instalments up to what is due, never beyond it (a second
    // payment in full would book the income twice and owe the payer a refund).
    let paid_already = paid_before_fen.unwrap_or(0);
    if paid_fen > 0 && paid_already.saturating_add(paid_fen) > due_fen {
        return Err(StoreError::Refused {
            code: "contribution.overpaid",
            message: format!(
                "{} {} of {}: {} of {} due is paid already, so at most {} more",
                record.kind.as_str(),
                record.period,
                record.person_id,
                Fen::new(paid_already),
                record.due_fen,
                Fen::new(due_fen.saturating_sub(paid_already).max(0))
            ),
        });
    }
    let in_full = match paid_before_fen {
        None => paid_fen >= due_fen,
        Some(before) => before < due_fen && before.saturating_add(paid_fen) >= due_fen,
    };
    let unreadable =
        |e: serde_json::Error| StoreError::Invalid(format!("the contribution's breakdown is not a {} one: {e}", record.kind.as_str()));
    let id = |leg: &str| record_transfer_id("ct", &record_id, leg);
    let mut entries = Vec::new();
    let (scheme, to_account) = match record.kind {
        ContributionKind::Resident => (FundScheme::Resident, Fen::ZERO),
        ContributionKind::Supplementary => (FundScheme::Supplementary, Fen::ZERO),
        ContributionKind::Maternity => (FundScheme::Maternity, Fen::ZERO),
        ContributionKind::Employee => {
            let breakdown: EmployeeContribution = serde_json::from_str(&record.breakdown_json).map_err(unreadable)?;
            let paid_in_all = Fen::checked(paid_before_fen.unwrap_or(0).saturating_add(paid_fen)).unwrap_or(paid);
            (FundScheme::Employee, if in_full { breakdown.to_account.min(paid_in_all).max(Fen::ZERO) } else { Fen::ZERO })
        }
    };
    let fund = fund_for(scheme, unit);
    let income = AccountKey::of_unit(fund, unit, AccountKind::Income);
    let insured = AccountKey::of_unit(fund, unit, AccountKind::External);
    let account = AccountKey::new(fund, Holder::Person(record.person_id), AccountKind::PersonalAccount);
    let from_this_payment = to_account.min(paid);
    push(
        &mut entries,
        unit,
        Transfer::new(id("paid"), income, insured, paid - from_this_payment, Reason::Contribution, contribution.clone(), on),
    );
    push(
        &mut entries,
        unit,
        Transfer::new(id("account"), income, account, from_this_payment, Reason::PersonalAccountCredit, contribution.clone(), on),
    );
    // The rest of the account's share was paid earlier and booked as pooled income.
    push(
        &mut entries,
        unit,
        Transfer::new(
            id("account-earlier"),
            insured,
            account,
            to_account - from_this_payment,
            Reason::PersonalAccountCredit,
            contribution,
            on,
        ),
    );
    if !in_full {
        return Ok(entries);
    }
    let from = |holder: Holder| AccountKey::new(fund, holder, AccountKind::External);
    let subsidies: Vec<(&str, Holder, Fen)> = match record.kind {
        ContributionKind::Resident => {
            let b: ResidentContribution = serde_json::from_str(&record.breakdown_json).map_err(unreadable)?;
            vec![
                ("civil-affairs", Holder::Finance(unit), b.civil_affairs),
                ("central", Holder::CentralFinance, b.central),
                ("provincial", Holder::Finance(unit.province()), b.provincial),
                ("city", Holder::Finance(unit.city()), b.city),
                ("county", Holder::Finance(unit), b.county),
            ]
        }
        ContributionKind::Supplementary => {
            let b: SupplementaryContribution = serde_json::from_str(&record.breakdown_json).map_err(unreadable)?;
            vec![("government", Holder::Finance(unit), b.government)]
        }
        ContributionKind::Employee | ContributionKind::Maternity => Vec::new(),
    };
    for (payer, holder, amount) in subsidies {
        push(&mut entries, unit, Transfer::new(id(payer), income, from(holder), amount, Reason::Subsidy, subsidy.clone(), on));
    }
    Ok(entries)
}

/// The record id of a settlement: its institution and claim id.
#[must_use]
pub fn settlement_record_id(institution: &str, claim_id: &str) -> String {
    format!("{institution}/{claim_id}")
}

/// The amounts of a settlement that move money, and the fund its pooled layer is paid
/// from: what [`settlement_entries`] posts, read from an engine [`Settlement`] when it is
/// settled and from the stored settlement when the books are checked against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettlementAmounts {
    /// The pooled layer's fund, from the insurance type (310 employee, 390 resident, 510
    /// maternity).
    pub pooled: FundScheme,
    pub medfee_sumamt: Fen,
    pub fund_pay_sumamt: Fen,
    pub psn_part_amt: Fen,
    pub hifp_pay: Fen,
    pub hifmi_pay: Fen,
    pub hifob_pay: Fen,
    pub maf_pay: Fen,
    pub oth_pay: Fen,
    /// The civil servants' subsidy (公务员医疗补助) and the employer's supplementary
    /// insurance (企业补充医疗保险).
    pub cvlserv_pay: Fen,
    pub hifes_pay: Fen,
    pub acct_pay: Fen,
    /// What the hospital bears: a single disease's bill above its fixed price.
    pub hosp_part_amt: Fen,
    pub maternity_allowance: Fen,
}

/// The stored settlement's fields that [`SettlementAmounts`] reads (national names, yuan).
#[derive(serde::Deserialize)]
struct StoredAmounts {
    insutype: String,
    #[serde(with = "yibao_domain::serde_yuan")]
    medfee_sumamt: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    fund_pay_sumamt: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    psn_part_amt: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    hifp_pay: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    hifmi_pay: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    hifob_pay: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    maf_pay: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    oth_pay: Fen,
    // Settlements stored before these payers existed have none of them.
    #[serde(default, with = "yibao_domain::serde_yuan")]
    cvlserv_pay: Fen,
    #[serde(default, with = "yibao_domain::serde_yuan")]
    hifes_pay: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    acct_pay: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    hosp_part_amt: Fen,
    #[serde(with = "yibao_domain::serde_yuan")]
    maternity_allowance: Fen,
    /// The accumulators the settlement reports, kept as text: read only by
    /// [`StoredSettlementView::read`], which tells a missing or unreadable value apart.
    #[serde(default)]
    accumulators: Option<Box<serde_json::value::RawValue>>,
}

/// What the book check reads of a stored settlement, parsed once (issue 17: the check's
/// time is mostly reading settlements): its amounts, or why they cannot be read; its
/// insurance type; the accumulators it reports, if readable.
#[derive(Debug)]
pub struct StoredSettlementView {
    pub amounts: Result<SettlementAmounts, String>,
    pub insutype: String,
    pub accumulators: Option<yibao_engine::Accumulators>,
}

impl StoredSettlementView {
    /// Reads `settlement_json` once; only a settlement whose amounts cannot be read is
    /// read again, as a JSON value, for the insurance type and accumulators it may still hold.
    #[must_use]
    pub fn read(settlement_json: &str) -> StoredSettlementView {
        match serde_json::from_str::<StoredAmounts>(settlement_json) {
            Ok(stored) => {
                let accumulators = stored.accumulators.as_ref().and_then(|raw| serde_json::from_str(raw.get()).ok());
                let insutype = stored.insutype.clone();
                StoredSettlementView { amounts: SettlementAmounts::from_parsed(stored), insutype, accumulators }
            }
            Err(e) => {
                let value = serde_json::from_str::<serde_json::Value>(settlement_json).ok();
                StoredSettlementView {
                    amounts: Err(format!("the stored settlement is unreadable: {e}")),
                    insutype: value.as_ref().and_then(|s| s.get("insutype")?.as_str()).unwrap_or_default().to_owned(),
                    accumulators: value.and_then(|s| serde_json::from_value(s.get("accumulators")?.clone()).ok()),
                }
            }
        }
    }
}

/// The basic pooled fund that pays the `hifp_pay` layer of a settlement of `insutype`.
pub fn pooled_fund(insutype: &str) -> Result<FundScheme, String> {
    POOLED_FUNDS
        .iter()
        .find(|(code, _)| *code == insutype)
        .map(|(_, scheme)| *scheme)
        .ok_or_else(|| format!("a settlement of insurance type '{insutype}' has no pooled fund"))
}

/// The national insurance types whose pooled layer each basic fund pays. A pack codes its
/// residents 390, or 380 (NCMS) / 391 (urban residents) before the merger: the city's one
/// residents' scheme, one pooled fund in the books.
pub const POOLED_FUNDS: [(&str, FundScheme); 5] = [
    ("310", FundScheme::Employee),
    ("390", FundScheme::Resident),
    ("380", FundScheme::Resident),
    ("391", FundScheme::Resident),
    ("510", FundScheme::Maternity),
];

/// The insurance types of `schemes`' pooled layers, quoted for an SQL `IN` list (constants
/// of [`POOLED_FUNDS`], never a caller's text).
#[must_use]
pub fn insutypes_sql(schemes: &[FundScheme]) -> String {
    let quoted: Vec<String> =
        POOLED_FUNDS.iter().filter(|(_, scheme)| schemes.contains(scheme)).map(|(code, _)| format!("'{code}'")).collect();
    if quoted.is_empty() { "''".to_owned() } else { quoted.join(", ") }
}

impl SettlementAmounts {
    /// The amounts of a settlement the engine just computed.
    pub fn of(settlement: &Settlement) -> Result<SettlementAmounts, StoreError> {
        Ok(SettlementAmounts {
            pooled: pooled_fund(settlement.insutype).map_err(StoreError::Invalid)?,
            medfee_sumamt: settlement.medfee_sumamt,
            fund_pay_sumamt: settlement.fund_pay_sumamt,
            psn_part_amt: settlement.psn_part_amt,
            hifp_pay: settlement.hifp_pay,
            hifmi_pay: settlement.hifmi_pay,
            hifob_pay: settlement.hifob_pay,
            maf_pay: settlement.maf_pay,
            oth_pay: settlement.oth_pay,
            cvlserv_pay: settlement.cvlserv_pay,
            hifes_pay: settlement.hifes_pay,
            acct_pay: settlement.acct_pay,
            hosp_part_amt: settlement.hosp_part_amt,
            maternity_allowance: settlement.maternity_allowance,
        })
    }

    /// The amounts of a stored settlement (`ClaimRecord::settlement_json`), or why they
    /// cannot be read.
    pub fn from_stored(settlement_json: &str) -> Result<SettlementAmounts, String> {
        let stored: StoredAmounts =
            serde_json::from_str(settlement_json).map_err(|e| format!("the stored settlement is unreadable: {e}"))?;
        SettlementAmounts::from_parsed(stored)
    }

    fn from_parsed(stored: StoredAmounts) -> Result<SettlementAmounts, String> {
        Ok(SettlementAmounts {
            pooled: pooled_fund(&stored.insutype)?,
            medfee_sumamt: stored.medfee_sumamt,
            fund_pay_sumamt: stored.fund_pay_sumamt,
            psn_part_amt: stored.psn_part_amt,
            hifp_pay: stored.hifp_pay,
            hifmi_pay: stored.hifmi_pay,
            hifob_pay: stored.hifob_pay,
            maf_pay: stored.maf_pay,
            oth_pay: stored.oth_pay,
            cvlserv_pay: stored.cvlserv_pay,
            hifes_pay: stored.hifes_pay,
            acct_pay: stored.acct_pay,
            hosp_part_amt: stored.hosp_part_amt,
            maternity_allowance: stored.maternity_allowance,
        })
    }

    /// `payers-sum-to-bill` on the amounts kept: the fund layers add up to the fund's
    /// total, and the fund, the person and the hospital (a single disease's bill above its
    /// fixed price) pay the bill. Returns the first identity that fails.
    pub fn check_identities(&self) -> Result<(), String> {
        let layers = self.hifp_pay + self.cvlserv_pay + self.hifes_pay + self.hifmi_pay + self.hifob_pay + self.maf_pay + self.oth_pay;
        if layers != self.fund_pay_sumamt {
            return Err(format!("its fund layers add up to {layers}, but its fund_pay_sumamt is {}", self.fund_pay_sumamt));
        }
        if self.fund_pay_sumamt + self.psn_part_amt + self.hosp_part_amt != self.medfee_sumamt {
            return Err(format!(
                "fund {}, person {} and hospital {} do not add up to the bill of {}",
                self.fund_pay_sumamt, self.psn_part_amt, self.hosp_part_amt, self.medfee_sumamt
            ));
        }
        Ok(())
    }
}

/// A change to the running outstanding of a unit and payee (`ledger_payables`, issue 17):
/// (city, fund scheme, unit, payee) as stored text, and the fen it adds.
pub type PayableChange = ((String, String, String, String), i64);

/// The rule of the running outstanding (`payables-match`): a transfer's payable sides,
/// each as (fund, the transfer's unit, the account's holder) and the fen it adds: a credit
/// to a payable account adds, a debit takes off. Posting ([`payable_changes`]) and the book
/// check (`PayablesCheck`) both read it here.
pub fn payable_sides(entry: &Entry) -> impl Iterator<Item = ((Fund, RegionCode, Holder), i64)> + '_ {
    let t = &entry.transfer;
    [(&t.credit, 1), (&t.debit, -1)]
        .into_iter()
        .filter(|(account, _)| account.kind == AccountKind::Payable)
        .map(move |(account, sign)| ((account.fund, entry.unit, account.holder), sign * t.amount_fen.get()))
}

/// What posting `entries` changes in the running outstanding of each unit and payee
/// ([`payable_sides`]), as stored text. In the key's order, the one order a backend updates
/// them in; keys whose changes cancel are kept (a backend may skip them).
#[must_use]
pub fn payable_changes(entries: &[Entry]) -> Vec<PayableChange> {
    let mut changes: std::collections::BTreeMap<(String, String, String, String), i64> = std::collections::BTreeMap::new();
    for ((fund, unit, payee), fen) in entries.iter().flat_map(payable_sides) {
        let key = (fund.region.to_string(), fund.scheme.as_str().to_owned(), unit.to_string(), payee.to_string());
        *changes.entry(key).or_default() += fen;
    }
    changes.into_iter().collect()
}

/// What a settlement posts (R-BEN-4), on the day it was settled: each layer from its own
/// fund (`layer-from-its-fund`) as owed to the institution (应付), the personal account's
/// share moved from the person's account to the institution, and the maternity allowance
/// owed to the person.
///
/// The pooled layer is paid by the fund of the settlement's insurance type (310 employee,
/// 390 resident, 510 maternity); `hifmi_pay` by residents' critical-illness insurance,
/// `hifob_pay` by employees' large-amount fund, `maf_pay` by medical assistance, `oth_pay`
/// by supplementary insurance, `cvlserv_pay` by the civil servants' subsidy and `hifes_pay`
/// by the employer's supplementary insurance.
pub fn settlement_entries(
    unit: RegionCode,
    institution: &str,
    claim_id: &str,
    person: NationalId,
    settlement: &SettlementAmounts,
    on: Date,
) -> Result<Vec<Entry>, StoreError> {
    let record_id = settlement_record_id(institution, claim_id);
    let cause = cause(RecordKind::Settlement, &record_id)?;
    let hospital = Holder::institution(institution).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let pooled = settlement.pooled;
    let layers = [
        (SettlementLayer::Pooled, pooled, settlement.hifp_pay),
        (SettlementLayer::CriticalIllness, FundScheme::ResidentCriticalIllness, settlement.hifmi_pay),
        (SettlementLayer::LargeAmount, FundScheme::EmployeeLargeAmount, settlement.hifob_pay),
        (SettlementLayer::Assistance, FundScheme::MedicalAssistance, settlement.maf_pay),
        (SettlementLayer::Supplementary, FundScheme::Supplementary, settlement.oth_pay),
        (SettlementLayer::CivilServant, FundScheme::CivilServantSubsidy, settlement.cvlserv_pay),
        (SettlementLayer::EnterpriseSupplementary, FundScheme::EnterpriseSupplementary, settlement.hifes_pay),
    ];
    let mut entries = Vec::new();
    for (layer, scheme, amount) in layers {
        let fund = fund_for(scheme, unit);
        push(
            &mut entries,
            unit,
            Transfer::new(
                record_transfer_id("st", &record_id, layer.field()),
                AccountKey::new(fund, hospital, AccountKind::External),
                AccountKey::new(fund, hospital, AccountKind::Payable),
                amount,
                Reason::Settlement(layer),
                cause.clone(),
                on,
            ),
        );
    }
    let employee = fund_for(FundScheme::Employee, unit);
    push(
        &mut entries,
        unit,
        Transfer::new(
            record_transfer_id("st", &record_id, "acct_pay"),
            AccountKey::new(employee, Holder::Person(person), AccountKind::PersonalAccount),
            AccountKey::new(employee, hospital, AccountKind::Payable),
            settlement.acct_pay,
            Reason::PersonalAccountPayment,
            cause.clone(),
            on,
        ),
    );
    let maternity = fund_for(FundScheme::Maternity, unit);
    push(
        &mut entries,
        unit,
        Transfer::new(
            record_transfer_id("st", &record_id, "maternity_allowance"),
            AccountKey::new(maternity, Holder::Person(person), AccountKind::External),
            AccountKey::new(maternity, Holder::Person(person), AccountKind::Payable),
            settlement.maternity_allowance,
            Reason::Settlement(SettlementLayer::MaternityAllowance),
            cause,
            on,
        ),
    );
    Ok(entries)
}

/// What reversing a settlement posts: each of its transfers reversed in full (冲正), on the
/// day of the reversal. `originals` are the settlement's transfers as stored.
pub fn reversal_entries(originals: &[Entry], institution: &str, claim_id: &str, on: Date) -> Result<Vec<Entry>, StoreError> {
    let record_id = settlement_record_id(institution, claim_id);
    let cause = cause(RecordKind::SettlementReversal, &record_id)?;
    Ok(originals
        .iter()
        .map(|original| {
            let leg = original.transfer.id.as_str().rsplit('/').next().unwrap_or("leg");
            Entry {
                unit: original.unit,
                transfer: original.transfer.reversal(
                    record_transfer_id("rv", &record_id, leg),
                    original.transfer.amount_fen,
                    cause.clone(),
                    on,
                ),
            }
        })
        .collect())
}

/// A personal account's balance brought in when its owner is enrolled or imported (R-SYS-3):
/// money already in the employees' fund, now the person's.
pub fn opening_account_entries(unit: RegionCode, person: NationalId, balance: Fen, on: Date) -> Result<Vec<Entry>, StoreError> {
    let fund = fund_for(FundScheme::Employee, unit);
    let mut entries = Vec::new();
    push(
        &mut entries,
        unit,
        Transfer::new(
            record_transfer_id("ob", person.as_str(), "account"),
            AccountKey::special(fund),
            AccountKey::new(fund, Holder::Person(person), AccountKind::PersonalAccount),
            balance,
            Reason::Handover,
            cause(RecordKind::OpeningBalance, person.as_str())?,
            on,
        ),
    );
    Ok(entries)
}

/// The first value date the store's accounts accept. An account is opened when a business
/// record first touches it, but a run for an earlier month (a pooling run, a correction)
/// must still be able to post to it, so the store dates every account from here: before
/// any policy the shipped packs carry.
pub const BOOKS_EPOCH: Date = time::macros::date!(2000 - 01 - 01);

/// The account the store opens on first use: dated [`BOOKS_EPOCH`], with its kind's
/// overdraft rule (`Account::open`), except that a payable may go negative. A payee whose
/// claim is reversed after it was paid owes that money back, and it is deducted from what
/// the fund pays it next (R-BEN-4).
pub fn open_account(key: AccountKey) -> Result<Account, StoreError> {
    let account = Account::open(key, BOOKS_EPOCH).map_err(refused)?;
    Ok(if key.kind == AccountKind::Payable { account.with_no_overdraft(false) } else { account })
}

/// Splits entries into the batches a backend posts one after the other inside one
/// database transaction: each at most `yibao_ledger::limits::BATCH_LIMIT` entries, and never
/// between the two legs of an adjustment pair (they name each other, so they post
/// together). A run that pays thousands of payees is several batches and still one
/// transaction: all of it or nothing.
#[must_use]
pub fn batches(entries: &[Entry]) -> Vec<&[Entry]> {
    let limit = yibao_ledger::limits::BATCH_LIMIT;
    let mut out = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut end = (start + limit).min(entries.len());
        // Do not cut a pair: if the last entry's pair is just after the cut, stop before it.
        if end < entries.len()
            && let Some(pair) = &entries[end - 1].transfer.pair
            && entries[end].transfer.id == *pair
        {
            end -= 1;
        }
        out.push(&entries[start..end]);
        start = end;
    }
    out
}

/// What a backend loads before posting entries: the accounts they touch, in key order (the
/// order to lock them in), and the transfers they may refer to — their own ids (a replay),
/// the transfers they reverse or pair with — plus every earlier reversal of those they
/// reverse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub accounts: Vec<AccountKey>,
    pub transfers: Vec<TransferId>,
    pub reversals_of: Vec<TransferId>,
}

#[must_use]
pub fn needs(entries: &[Entry]) -> Needs {
    let mut accounts = BTreeSet::new();
    let mut transfers = BTreeSet::new();
    let mut reversals_of = BTreeSet::new();
    for Entry { transfer, .. } in entries {
        accounts.insert(transfer.debit);
        accounts.insert(transfer.credit);
        transfers.insert(transfer.id.clone());
        if let Some(original) = &transfer.reverses {
            transfers.insert(original.clone());
            reversals_of.insert(original.clone());
        }
        if let Some(pair) = &transfer.pair {
            transfers.insert(pair.clone());
        }
    }
    Needs {
        accounts: accounts.into_iter().collect(),
        transfers: transfers.into_iter().collect(),
        reversals_of: reversals_of.into_iter().collect(),
    }
}

/// What posting decided: the accounts to write back (`is_new`: to insert rather than
/// update) and the entries to insert, in posting order. Entries already posted with the
/// same content are left out (a replay writes nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Posting {
    pub accounts: Vec<(AccountState, bool)>,
    pub entries: Vec<Entry>,
}

/// Posts `entries` onto the stored `accounts` and `transfers` a backend loaded for them
/// ([`needs`]), opening missing accounts ([`open_account`]), by the ledger's rules: all of
/// them or none.
pub fn post_onto(accounts: Vec<AccountState>, transfers: Vec<Transfer>, entries: &[Entry]) -> Result<Posting, StoreError> {
    let known: BTreeSet<AccountKey> = accounts.iter().map(AccountState::key).collect();
    let mut ledger = Ledger::resume(accounts, transfers).map_err(|e| StoreError::Backend(format!("stored books unreadable: {e}")))?;
    let batch: Vec<Transfer> = entries.iter().map(|e| e.transfer.clone()).collect();
    let mut opened = BTreeSet::new();
    for transfer in &batch {
        for key in [transfer.debit, transfer.credit] {
            if !known.contains(&key) && opened.insert(key) {
                ledger.create_account(open_account(key)?).map_err(refused)?;
            }
        }
    }
    let outcomes = ledger.post(&batch).map_err(refused)?;
    let mut touched = BTreeSet::new();
    let mut fresh = Vec::new();
    for (entry, outcome) in entries.iter().zip(outcomes) {
        if outcome == PostOutcome::Posted {
            touched.insert(entry.transfer.debit);
            touched.insert(entry.transfer.credit);
            fresh.push(entry.clone());
        }
    }
    let accounts = touched.into_iter().map(|key| (*ledger.account(&key).expect("opened or loaded above"), opened.contains(&key))).collect();
    Ok(Posting { accounts, entries: fresh })
}

/// An account as a row: the fund's region first (the distribution column), then the
/// fund, holder and kind as text, the overdraft rule, the opening day and the totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub region_code: String,
    pub fund_scheme: String,
    pub holder: String,
    pub kind: String,
    pub no_overdraft: bool,
    pub opened_on: String,
    pub debits_posted_fen: i64,
    pub credits_posted_fen: i64,
}

impl AccountRow {
    #[must_use]
    pub fn of(state: &AccountState) -> AccountRow {
        let key = state.key();
        AccountRow {
            region_code: key.fund.region.to_string(),
            fund_scheme: key.fund.scheme.as_str().to_owned(),
            holder: key.holder.to_string(),
            kind: key.kind.as_str().to_owned(),
            no_overdraft: state.account.no_overdraft,
            opened_on: date_text(state.account.opened_on),
            debits_posted_fen: state.debits_posted_fen.get(),
            credits_posted_fen: state.credits_posted_fen.get(),
        }
    }

    pub fn state(&self) -> Result<AccountState, StoreError> {
        let key = key_of(&self.region_code, &self.fund_scheme, &self.holder, &self.kind)?;
        let account = Account { key, no_overdraft: self.no_overdraft, opened_on: date_of(&self.opened_on)? };
        Ok(AccountState {
            account,
            debits_posted_fen: total_of(self.debits_posted_fen)?,
            credits_posted_fen: total_of(self.credits_posted_fen)?,
        })
    }
}

/// The key columns of an account: (fund region, fund scheme, holder, kind) as text.
#[must_use]
pub fn key_columns(key: &AccountKey) -> (String, &'static str, String, &'static str) {
    (key.fund.region.to_string(), key.fund.scheme.as_str(), key.holder.to_string(), key.kind.as_str())
}

pub fn key_of(region: &str, scheme: &str, holder: &str, kind: &str) -> Result<AccountKey, StoreError> {
    let unreadable = |what: &str| StoreError::Backend(format!("stored account unreadable: {what}"));
    let region = RegionCode::parse(region).map_err(|_| unreadable(region))?;
    let scheme = FundScheme::parse(scheme).ok_or_else(|| unreadable(scheme))?;
    let holder = Holder::parse(holder).map_err(|_| unreadable(holder))?;
    let kind = AccountKind::parse(kind).ok_or_else(|| unreadable(kind))?;
    Ok(AccountKey::new(Fund::new(scheme, region), holder, kind))
}

/// A transfer as a row. `region_code` is the fund's region, `unit_code` the unit whose
/// business caused it; the two accounts are given by holder and kind within the fund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRow {
    pub region_code: String,
    pub transfer_id: String,
    pub fund_scheme: String,
    pub debit_holder: String,
    pub debit_kind: String,
    pub credit_holder: String,
    pub credit_kind: String,
    pub amount_fen: i64,
    pub reason: String,
    pub cause_kind: String,
    pub cause_id: String,
    pub value_date: String,
    pub reverses: Option<String>,
    pub pair_id: Option<String>,
    pub unit_code: String,
}

impl TransferRow {
    /// The row of an entry. Both accounts are in one fund (`one-fund-per-transfer`, which
    /// posting checked before any row is made).
    #[must_use]
    pub fn of(entry: &Entry) -> TransferRow {
        let t = &entry.transfer;
        debug_assert_eq!(t.debit.fund, t.credit.fund, "posting refuses a transfer between funds");
        TransferRow {
            region_code: t.fund().region.to_string(),
            transfer_id: t.id.as_str().to_owned(),
            fund_scheme: t.fund().scheme.as_str().to_owned(),
            debit_holder: t.debit.holder.to_string(),
            debit_kind: t.debit.kind.as_str().to_owned(),
            credit_holder: t.credit.holder.to_string(),
            credit_kind: t.credit.kind.as_str().to_owned(),
            amount_fen: t.amount_fen.get(),
            reason: t.reason.code().to_owned(),
            cause_kind: t.cause.kind.as_str().to_owned(),
            cause_id: t.cause.id.clone(),
            value_date: date_text(t.value_date),
            reverses: t.reverses.as_ref().map(|id| id.as_str().to_owned()),
            pair_id: t.pair.as_ref().map(|id| id.as_str().to_owned()),
            unit_code: entry.unit.to_string(),
        }
    }

    pub fn entry(&self) -> Result<Entry, StoreError> {
        let unreadable = |what: &str| StoreError::Backend(format!("stored transfer {} unreadable: {what}", self.transfer_id));
        let id = |text: &str| TransferId::parse(text).map_err(|_| unreadable(text));
        let transfer = Transfer {
            id: id(&self.transfer_id)?,
            debit: key_of(&self.region_code, &self.fund_scheme, &self.debit_holder, &self.debit_kind)?,
            credit: key_of(&self.region_code, &self.fund_scheme, &self.credit_holder, &self.credit_kind)?,
            amount_fen: Fen::checked(self.amount_fen).ok_or_else(|| unreadable("an amount beyond the limit"))?,
            reason: Reason::parse(&self.reason).ok_or_else(|| unreadable(&self.reason))?,
            cause: BusinessRef {
                kind: RecordKind::parse(&self.cause_kind).ok_or_else(|| unreadable(&self.cause_kind))?,
                id: self.cause_id.clone(),
            },
            value_date: date_of(&self.value_date)?,
            reverses: self.reverses.as_deref().map(id).transpose()?,
            pair: self.pair_id.as_deref().map(id).transpose()?,
        };
        Ok(Entry { unit: RegionCode::parse(&self.unit_code).map_err(|_| unreadable(&self.unit_code))?, transfer })
    }
}

/// A stored sum of amounts (an account's total, a report's column): refused, not a panic,
/// when beyond what the books hold.
pub fn total_of(fen: i64) -> Result<Fen, StoreError> {
    Fen::checked_total(fen).ok_or_else(|| StoreError::Backend(format!("stored total {fen} fen is beyond the books' limit")))
}

/// A value date as stored: `YYYY-MM-DD`, which sorts as text.
#[must_use]
pub fn date_text(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

pub fn date_of(text: &str) -> Result<Date, StoreError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).map_err(|_| StoreError::Backend(format!("stored date unreadable: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    #[test]
    fn subsidies_and_the_account_share_come_with_the_payment_that_completes_the_period() {
        let person = NationalId::parse("41992119620314004X").unwrap();
        let record = |seq: i64, paid_fen: i64, kind: ContributionKind, breakdown_json: String| ContributionRecord {
            region: region("419921"),
            seq,
            person_id: person,
            kind,
            period: yibao_domain::Period::Year(2026),
            due_fen: Fen::new(40_000),
            paid_fen: Fen::new(paid_fen),
            breakdown_json,
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let resident = serde_json::to_string(&ResidentContribution {
            personal: Fen::new(40_000),
            civil_affairs: Fen::ZERO,
            central: Fen::new(30_000),
            provincial: Fen::ZERO,
            city: Fen::ZERO,
            county: Fen::ZERO,
            total: Fen::new(70_000),
        })
        .unwrap();
        let on = date!(2026 - 02 - 01);
        let subsidy = |entries: &[Entry]| {
            entries.iter().filter(|e| e.transfer.reason == Reason::Subsidy).map(|e| e.transfer.amount_fen.get()).sum::<i64>()
        };
        // 200.00 then 200.00 of 400.00: the second brings the 300.00 subsidy; a third
        // payment, beyond what is due, is refused (the period is paid once), while a record
        // of nothing paid brings nothing.
        let first = contribution_entries(&record(1, 20_000, ContributionKind::Resident, resident.clone()), None, on).unwrap();
        let second = contribution_entries(
            &record(2, 20_000, ContributionKind::Resident, resident.clone()),
            Some(PaidBefore { paid_fen: 20_000, due_fen: 40_000 }),
            on,
        )
        .unwrap();
        let nothing = contribution_entries(
            &record(3, 0, ContributionKind::Resident, resident.clone()),
            Some(PaidBefore { paid_fen: 40_000, due_fen: 40_000 }),
            on,
        )
        .unwrap();
        assert_eq!((subsidy(&first), subsidy(&second), subsidy(&nothing)), (0, 30_000, 0));
        let overpaid = contribution_entries(
            &record(4, 5_000, ContributionKind::Resident, resident.clone()),
            Some(PaidBefore { paid_fen: 40_000, due_fen: 40_000 }),
            on,
        );
        assert!(
            matches!(&overpaid, Err(StoreError::Refused { code: "contribution.overpaid", message }) if message.contains("at most 0.00 more")),
            "{overpaid:?}"
        );
        let beyond = contribution_entries(
            &record(5, 20_001, ContributionKind::Resident, resident.clone()),
            Some(PaidBefore { paid_fen: 20_000, due_fen: 40_000 }),
            on,
        );
        assert!(
            matches!(&beyond, Err(StoreError::Refused { code: "contribution.overpaid", message }) if message.contains("at most 200.00 more")),
            "{beyond:?}"
        );
        // A later record billed otherwise (a changed wage or group) cannot complete the
        // period a second time.
        let rebilled = contribution_entries(
            &record(6, 20_000, ContributionKind::Resident, resident),
            Some(PaidBefore { paid_fen: 40_000, due_fen: 20_000 }),
            on,
        );
        assert!(matches!(&rebilled, Err(StoreError::Refused { code: "contribution.due_changed", .. })), "{rebilled:?}");
        // An employee's month paid 300.00 then 100.00, 260.00 of it for the account: the
        // completing 100.00 goes to the account, and 160.00 more is moved from the pooled
        // income the first payment booked.
        let employee = serde_json::to_string(&EmployeeContribution {
            base: Fen::ZERO,
            employer: Fen::new(30_000),
            employee: Fen::new(10_000),
            to_account: Fen::new(26_000),
            to_pool: Fen::new(14_000),
        })
        .unwrap();
        let completing = contribution_entries(
            &record(4, 10_000, ContributionKind::Employee, employee),
            Some(PaidBefore { paid_fen: 30_000, due_fen: 40_000 }),
            on,
        )
        .unwrap();
        let legs: Vec<(&str, i64)> =
            completing.iter().map(|e| (e.transfer.id.as_str().rsplit('/').next().unwrap(), e.transfer.amount_fen.get())).collect();
        assert_eq!(legs, [("account", 10_000), ("account-earlier", 16_000)]);
        // A maternity month goes whole into the maternity fund's income, with no account
        // share and no subsidy.
        let maternity =
            serde_json::to_string(&yibao_engine::MaternityContribution { base: Fen::new(800_000), employer: Fen::new(4_000) }).unwrap();
        let month = ContributionRecord {
            kind: ContributionKind::Maternity,
            period: yibao_domain::Period::Month(2026, time::Month::January),
            due_fen: Fen::new(4_000),
            ..record(7, 4_000, ContributionKind::Maternity, maternity)
        };
        let entries = contribution_entries(&month, None, on).unwrap();
        let moved: Vec<(FundScheme, AccountKind, Reason, i64)> = entries
            .iter()
            .map(|e| (e.transfer.debit.fund.scheme, e.transfer.debit.kind, e.transfer.reason, e.transfer.amount_fen.get()))
            .collect();
        assert_eq!(moved, [(FundScheme::Maternity, AccountKind::Income, Reason::Contribution, 4_000)]);
    }

    #[test]
    fn transfer_ids_are_readable_or_digested() {
        assert_eq!(record_transfer_id("st", "H41992100001/C-1", "hifp_pay").as_str(), "st/H41992100001/C-1/hifp_pay");
        let odd = record_transfer_id("st", "H41992100001/住院 1", "hifp_pay");
        assert!(odd.as_str().starts_with("st/#") && odd.as_str().ends_with("/hifp_pay"), "{odd}");
        assert_ne!(odd, record_transfer_id("st", "H41992100001/住院 2", "hifp_pay"));
    }

    #[test]
    fn batches_hold_at_most_the_limit_and_keep_pairs_together() {
        use yibao_ledger::{FundUnit, cross_fund_pair, limits::BATCH_LIMIT};
        let city = region("419900");
        let on = date!(2026 - 12 - 31);
        let cause = BusinessRef::new(RecordKind::AdjustmentLevy, "levy/2026").unwrap();
        let single = |n: usize| Entry {
            unit: city,
            transfer: Transfer::new(
                TransferId::parse(&format!("t-{n}")).unwrap(),
                AccountKey::special(fund_for(FundScheme::Resident, city)),
                AccountKey::of_unit(fund_for(FundScheme::Resident, city), city, AccountKind::External),
                Fen::new(1),
                Reason::Handover,
                cause.clone(),
                on,
            ),
        };
        // BATCH_LIMIT − 1 singles, then a pair across the limit, then one more.
        let mut entries: Vec<Entry> = (0..BATCH_LIMIT - 1).map(single).collect();
        let legs = cross_fund_pair(
            (TransferId::parse("p-out").unwrap(), TransferId::parse("p-in").unwrap()),
            FundUnit { fund: fund_for(FundScheme::Resident, city), unit: city },
            FundUnit { fund: Fund::adjustment(city), unit: city },
            Fen::new(5),
            Reason::AdjustmentLevy,
            &cause,
            on,
        );
        entries.extend(legs.into_iter().map(|transfer| Entry { unit: city, transfer }));
        entries.push(single(BATCH_LIMIT + 5));
        let split = batches(&entries);
        assert_eq!(split.iter().map(|b| b.len()).collect::<Vec<_>>(), [BATCH_LIMIT - 1, 3]);
        assert_eq!(split.iter().map(|b| b.len()).sum::<usize>(), entries.len());
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn rows_round_trip() {
        let fund = fund_for(FundScheme::Resident, region("419921"));
        assert_eq!(fund.region, region("419900"));
        let entry = Entry {
            unit: region("419921"),
            transfer: Transfer::new(
                TransferId::parse("t-1").unwrap(),
                AccountKey::of_unit(fund, region("419921"), AccountKind::Income),
                AccountKey::new(fund, Holder::CentralFinance, AccountKind::External),
                Fen::new(12_345),
                Reason::Subsidy,
                BusinessRef::new(RecordKind::Subsidy, "419921/7").unwrap(),
                date!(2026 - 03 - 09),
            ),
        };
        assert_eq!(TransferRow::of(&entry).entry().unwrap(), entry);
        let state = AccountState::new(open_account(entry.transfer.debit).unwrap());
        assert_eq!(AccountRow::of(&state).state().unwrap(), state);
        let mut bad = TransferRow::of(&entry);
        bad.reason = "gift".into();
        assert!(matches!(bad.entry(), Err(StoreError::Backend(_))));
        // A stored amount beyond the limit is an error, never a panic; a total may be large.
        let mut bad = TransferRow::of(&entry);
        bad.amount_fen = i64::MAX;
        assert!(matches!(bad.entry(), Err(StoreError::Backend(_))));
        let mut large = AccountRow::of(&state);
        large.debits_posted_fen = 5_000_000_000_000_000;
        assert_eq!(large.state().unwrap().debits_posted_fen.get(), 5_000_000_000_000_000);
        large.debits_posted_fen = i64::MAX;
        assert!(matches!(large.state(), Err(StoreError::Backend(_))));
    }

    /// Each top-up is owed to the hospital from its own fund (`layer-from-its-fund`); a
    /// single disease's part above its price is the hospital's, and a stored settlement with
    /// one keeps payers-sum-to-bill (the fund check read it as a breach before).
    #[test]
    fn top_ups_post_from_their_funds_and_a_hospital_part_balances() {
        let unit = region("419921");
        let person = NationalId::parse("41992119620314004X").unwrap();
        let settlement = Settlement {
            insutype: "310",
            medfee_sumamt: Fen::new(100_000),
            hifp_pay: Fen::new(60_000),
            cvlserv_pay: Fen::new(10_000),
            hifes_pay: Fen::new(5_000),
            fund_pay_sumamt: Fen::new(75_000),
            psn_part_amt: Fen::new(15_000),
            hosp_part_amt: Fen::new(10_000),
            ..Settlement::default()
        };
        let amounts = SettlementAmounts::of(&settlement).unwrap();
        assert_eq!(amounts.check_identities(), Ok(()));
        let entries = settlement_entries(unit, "H41992100001", "C-1", person, &amounts, date!(2026 - 02 - 01)).unwrap();
        let by_fund: Vec<(FundScheme, &str, i64)> =
            entries.iter().map(|e| (e.transfer.debit.fund.scheme, e.transfer.reason.code(), e.transfer.amount_fen.get())).collect();
        assert_eq!(
            by_fund,
            [
                (FundScheme::Employee, "settlement.pooled", 60_000),
                (FundScheme::CivilServantSubsidy, "settlement.civil-servant", 10_000),
                (FundScheme::EnterpriseSupplementary, "settlement.enterprise-supplementary", 5_000),
            ]
        );
        let stored = serde_json::to_string(&settlement).unwrap();
        assert_eq!(SettlementAmounts::from_stored(&stored), Ok(amounts));
        let mut unbalanced = amounts;
        unbalanced.hosp_part_amt = Fen::ZERO;
        assert!(unbalanced.check_identities().unwrap_err().contains("do not add up to the bill"));
    }

    #[test]
    fn posting_opens_accounts_refuses_overdrafts_and_skips_replays() {
        let unit = region("419921");
        let person = NationalId::parse("41992119620314004X").unwrap();
        let on = date!(2026 - 02 - 01);
        // 100.00 brought in: the special account holds it, the person owns it.
        let opening = opening_account_entries(unit, person, Fen::new(10_000), on).unwrap();
        let posting = post_onto(vec![], vec![], &opening).unwrap();
        assert_eq!(posting.entries, opening);
        let balances: Vec<(AccountKind, i64, bool)> =
            posting.accounts.iter().map(|(s, is_new)| (s.key().kind, s.balance_fen().get(), *is_new)).collect();
        assert_eq!(balances, [(AccountKind::FiscalSpecial, 10_000, true), (AccountKind::PersonalAccount, 10_000, true)]);
        // Posting the same entries again onto the books they made writes nothing.
        let stored: Vec<AccountState> = posting.accounts.iter().map(|(s, _)| *s).collect();
        let transfers: Vec<Transfer> = opening.iter().map(|e| e.transfer.clone()).collect();
        let again = post_onto(stored.clone(), transfers.clone(), &opening).unwrap();
        assert_eq!(again, Posting::default());
        // A settlement paying 100.01 from a 100.00 account is refused, and writes nothing.
        let mut settlement = Settlement { insutype: "310", acct_pay: Fen::new(10_001), ..Settlement::default() };
        let entries = settlement_entries(unit, "H41992100001", "C-1", person, &SettlementAmounts::of(&settlement).unwrap(), on).unwrap();
        assert!(matches!(
            post_onto(stored.clone(), transfers.clone(), &entries),
            Err(StoreError::Refused { code: "ledger.overdraft", .. })
        ));
        // 60.00 from the account and 240.00 pooled: the hospital is owed 300.00 in the employee fund.
        settlement.acct_pay = Fen::new(6_000);
        settlement.hifp_pay = Fen::new(24_000);
        let entries = settlement_entries(unit, "H41992100001", "C-1", person, &SettlementAmounts::of(&settlement).unwrap(), on).unwrap();
        let posting = post_onto(stored, transfers, &entries).unwrap();
        let payable = posting.accounts.iter().find(|(s, _)| s.key().kind == AccountKind::Payable).unwrap().0;
        assert_eq!(payable.balance_fen(), Fen::new(30_000));
        assert!(!payable.account.no_overdraft, "a payable may go negative: a reversed, already-paid claim is owed back");
        // Its reversal undoes each leg.
        let reversal = reversal_entries(&posting.entries, "H41992100001", "C-1", on).unwrap();
        assert_eq!(reversal.len(), 2);
        assert!(reversal.iter().all(|e| e.transfer.reason == Reason::Reversal && e.transfer.reverses.is_some()));
    }
}
