//! Handing a fund over (基金移交, R-FND-7, R-SCH-3): a fund's books as they stand at a
//! cut-off date become another fund's — the retired NCMS fund into the residents' fund, a
//! county's fund into the city's.
//!
//! Two people, two steps:
//! 1. the handing-over side prepares and signs an **inventory**: every account of the fund
//!    with its balance, the counts of accounts and transfers, the fund's posted totals, and
//!    a SHA-256 checksum over all of it in a canonical form;
//! 2. the receiving side — another person — confirms by quoting the checksum. The store
//!    recomputes the inventory from the books: if anything changed since it was signed, the
//!    confirmation is refused; otherwise each account's balance moves to the same account in
//!    the receiving fund, as adjustment pairs through both funds' inter-fund accounts
//!    (`adjustments-paired`), in one transaction with the confirmation.
//!
//! The fund's outside-world and inter-fund accounts stay where they are: they are its
//! history (where its net assets came from, and that they left by this handover).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Date;
use yibao_domain::{Fen, RegionCode};
use yibao_ledger::{
    AccountKey, AccountKind, AccountState, BusinessRef, Fund, FundScheme, Holder, Reason, RecordKind, Side, Transfer, TransferId,
};

use crate::StoreError;
use crate::books::{Entry, date_text, refused};

/// What the handing-over side asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoverRequest {
    pub from: FundScheme,
    pub to: FundScheme,
    pub cut_off: Date,
    /// The handover's name: 1 to 40 printable ASCII characters, no `/`.
    pub reference: String,
}

impl HandoverRequest {
    pub fn check(&self) -> Result<(), StoreError> {
        let ok =
            !self.reference.is_empty() && self.reference.len() <= 40 && self.reference.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        if !ok {
            return Err(StoreError::Invalid("a handover's reference has 1 to 40 printable ASCII characters, no '/'".into()));
        }
        if self.from == self.to {
            return Err(StoreError::Invalid("a fund is handed over to another fund".into()));
        }
        if self.from == FundScheme::MunicipalAdjustment || self.to == FundScheme::MunicipalAdjustment {
            return Err(StoreError::Invalid("the adjustment fund is not handed over".into()));
        }
        Ok(())
    }
}

/// One account of the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryLine {
    pub holder: String,
    pub kind: String,
    pub debits_fen: i64,
    pub credits_fen: i64,
    /// On the kind's normal side.
    pub balance_fen: i64,
}

/// The signed inventory of a fund at its cut-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub reference: String,
    pub from_fund: String,
    pub to_fund: String,
    pub cut_off: String,
    pub accounts: usize,
    pub transfers: i64,
    /// The fund's posted totals, as decimal text (they may exceed one amount).
    pub debits_fen: String,
    pub credits_fen: String,
    pub lines: Vec<InventoryLine>,
    /// SHA-256 (hex) of everything above in canonical form.
    pub checksum: String,
    pub prepared_by: String,
    pub prepared_at: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
}

impl Inventory {
    /// The request the inventory was signed for, read back from it.
    pub fn request(&self) -> Result<HandoverRequest, StoreError> {
        let unreadable = || StoreError::Backend(format!("stored handover {} unreadable", self.reference));
        let scheme = |fund: &str| FundScheme::parse(fund.split('@').next().unwrap_or_default()).ok_or_else(unreadable);
        Ok(HandoverRequest {
            from: scheme(&self.from_fund)?,
            to: scheme(&self.to_fund)?,
            cut_off: crate::books::date_of(&self.cut_off)?,
            reference: self.reference.clone(),
        })
    }
}

/// Builds the inventory of `from`'s accounts (`accounts`: the fund's, as they stand) with
/// `transfers` of its transfers, and signs it with its checksum. Refused while the fund
/// owes a payee anything (`handover.open_payables`).
pub fn inventory(
    city: RegionCode,
    request: &HandoverRequest,
    accounts: &[AccountState],
    transfers: i64,
    prepared_by: &str,
    prepared_at: &str,
) -> Result<Inventory, StoreError> {
    let from = Fund::new(request.from, city);
    let mut states: Vec<&AccountState> = accounts.iter().filter(|a| a.key().fund == from).collect();
    // What the fund still owes payees is paid by the monthly run per county, which reads the
    // county from each transfer; moved by a handover it would lose its county. So a fund
    // is handed over once its claims are paid.
    if let Some(open) = states.iter().find(|a| a.key().kind == AccountKind::Payable && !a.balance_fen().is_zero()) {
        return Err(StoreError::Refused {
            code: "handover.open_payables",
            message: format!(
                "{} still stands at {} yuan: run the pooling that pays it before handing the fund over",
                open.key(),
                open.balance_fen()
            ),
        });
    }
    states.sort_by_key(|a| a.key());
    let debits: i128 = states.iter().map(|a| i128::from(a.debits_posted_fen.get())).sum();
    let credits: i128 = states.iter().map(|a| i128::from(a.credits_posted_fen.get())).sum();
    let lines: Vec<InventoryLine> = states
        .iter()
        .map(|a| InventoryLine {
            holder: a.key().holder.to_string(),
            kind: a.key().kind.as_str().to_owned(),
            debits_fen: a.debits_posted_fen.get(),
            credits_fen: a.credits_posted_fen.get(),
            balance_fen: a.balance_fen().get(),
        })
        .collect();
    let mut inventory = Inventory {
        reference: request.reference.clone(),
        from_fund: from.to_string(),
        to_fund: Fund::new(request.to, city).to_string(),
        cut_off: date_text(request.cut_off),
        accounts: lines.len(),
        transfers,
        debits_fen: debits.to_string(),
        credits_fen: credits.to_string(),
        lines,
        checksum: String::new(),
        prepared_by: prepared_by.to_owned(),
        prepared_at: prepared_at.to_owned(),
        confirmed_by: None,
        confirmed_at: None,
    };
    inventory.checksum = checksum(&inventory);
    Ok(inventory)
}

/// The checksum of what an inventory says of the books (not who signed it when).
#[must_use]
pub fn checksum(inventory: &Inventory) -> String {
    let mut hash = Sha256::new();
    let header = format!(
        "yibao-handover-v1|{}|{}|{}|{}|{}|{}|{}|{}\n",
        inventory.reference,
        inventory.from_fund,
        inventory.to_fund,
        inventory.cut_off,
        inventory.accounts,
        inventory.transfers,
        inventory.debits_fen,
        inventory.credits_fen
    );
    hash.update(header.as_bytes());
    for line in &inventory.lines {
        hash.update(format!("{}|{}|{}|{}|{}\n", line.holder, line.kind, line.debits_fen, line.credits_fen, line.balance_fen).as_bytes());
    }
    crate::hex_lower(&hash.finalize())
}

/// The transfers that move every balance of the inventory to the receiving fund: per
/// account with a balance (outside-world and inter-fund accounts aside), one leg that
/// empties it in the handing-over fund and one that fills the same account in the receiving
/// fund, paired through both funds' inter-fund accounts of the city, dated the cut-off.
pub fn handover_entries(city: RegionCode, request: &HandoverRequest, accounts: &[AccountState]) -> Result<Vec<Entry>, StoreError> {
    let from = Fund::new(request.from, city);
    let to = Fund::new(request.to, city);
    let cause = BusinessRef::new(RecordKind::Handover, &format!("handover/{}", request.reference)).map_err(refused)?;
    let mut states: Vec<&AccountState> = accounts.iter().filter(|a| a.key().fund == from).collect();
    states.sort_by_key(|a| a.key());
    let mut entries = Vec::new();
    for (n, state) in states.into_iter().enumerate() {
        let key = state.key();
        if matches!(key.kind, AccountKind::External | AccountKind::InterFund) || state.balance_fen().is_zero() {
            continue;
        }
        let balance = state.balance_fen();
        let amount = Fen::checked(balance.get().abs())
            .ok_or_else(|| StoreError::Invalid(format!("account {key} holds more than one transfer moves")))?;
        let source = key;
        let target = AccountKey::new(to, key.holder, key.kind);
        let source_inter = AccountKey::of_unit(from, city, AccountKind::InterFund);
        let target_inter = AccountKey::of_unit(to, city, AccountKind::InterFund);
        // Emptying the account: credit a positive debit-side balance, debit a positive
        // credit-side one (and the other way round for a negative balance).
        let empty_by_credit = (key.kind.normal_side() == Side::Debit) == (balance.get() > 0);
        let (out_debit, out_credit, in_debit, in_credit) =
            if empty_by_credit { (source_inter, source, target, target_inter) } else { (source, source_inter, target_inter, target) };
        let id = |leg: &str| TransferId::parse(&format!("handover/{}/{n}/{leg}", request.reference)).map_err(refused);
        let (out_id, in_id) = (id("out")?, id("in")?);
        let mut out = Transfer::new(out_id.clone(), out_debit, out_credit, amount, Reason::Handover, cause.clone(), request.cut_off);
        let mut into = Transfer::new(in_id.clone(), in_debit, in_credit, amount, Reason::Handover, cause.clone(), request.cut_off);
        out.pair = Some(in_id);
        into.pair = Some(out_id);
        let unit = match key.holder {
            Holder::Region(unit) => unit,
            _ => city,
        };
        entries.push(Entry { unit, transfer: out });
        entries.push(Entry { unit, transfer: into });
    }
    Ok(entries)
}

/// The checks of a confirmation, before anything moves (each refusal with its own code:
/// `handover.same_person`, `handover.bad_checksum`, `handover.books_changed`): another person than who signed,
/// the checksum quoted is the inventory's, and the books still say what it says.
pub fn check_confirmation(signed: &Inventory, recomputed: &Inventory, confirmer: &str, quoted_checksum: &str) -> Result<(), StoreError> {
    if signed.confirmed_by.is_some() {
        return Err(StoreError::Exists(format!("handover {} was confirmed", signed.reference)));
    }
    let refused = |code: &'static str, message: String| Err(StoreError::Refused { code, message });
    if confirmer == signed.prepared_by {
        return refused(
            "handover.same_person",
            "the receiving side confirms a handover: another person than who signed its inventory".into(),
        );
    }
    if quoted_checksum != signed.checksum {
        return refused("handover.bad_checksum", format!("checksum {quoted_checksum} is not the signed inventory's"));
    }
    if recomputed.checksum != signed.checksum {
        return refused(
            "handover.books_changed",
            format!("the books of {} changed since the inventory was signed: prepare a new one", signed.from_fund),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_fund_that_still_owes_a_payee_is_not_handed_over() {
        let city = RegionCode::parse("419900").unwrap();
        let fund = Fund::new(FundScheme::Ncms, city);
        let request =
            HandoverRequest { from: FundScheme::Ncms, to: FundScheme::Resident, cut_off: date!(2026 - 06 - 30), reference: "H".into() };
        let hospital = Holder::institution("H41992100001").unwrap();
        let mut payable = AccountState::new(crate::books::open_account(AccountKey::new(fund, hospital, AccountKind::Payable)).unwrap());
        payable.credits_posted_fen = Fen::new(5_000);
        let refused = inventory(city, &request, &[payable], 1, "a", "t");
        assert!(matches!(refused, Err(StoreError::Refused { code: "handover.open_payables", .. })), "{refused:?}");
        payable.debits_posted_fen = Fen::new(5_000);
        let signed = inventory(city, &request, &[payable], 2, "a", "t").unwrap();
        assert_eq!((signed.accounts, signed.checksum.len()), (1, 64), "paid: it is handed over");
    }
}
