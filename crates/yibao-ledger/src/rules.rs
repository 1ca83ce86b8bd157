//! The rules every posted transfer obeys, in one place: [`Ledger::post`](crate::Ledger::post)
//! applies them before posting, [`check_books`](crate::check_books) again over stored books.
//! Balances (overdraft, over-reversal) depend on order and are kept by each caller.

use crate::account::{Account, AccountKey, AccountKind};
use crate::error::LedgerError;
use crate::limits::POSTED_LIMIT_FEN;
use crate::transfer::{Reason, RecordKind, Transfer, TransferId};

/// What the rules may look up about the books around the transfer being checked.
pub(crate) trait View {
    fn account(&self, key: &AccountKey) -> Option<&Account>;
    /// A transfer posted before the one being checked (a reversal's original).
    fn earlier(&self, id: &TransferId) -> Option<&Transfer>;
    /// A transfer posted before, with, or (in stored books) after the one being checked:
    /// an adjustment's other leg.
    fn anywhere(&self, id: &TransferId) -> Option<&Transfer>;
}

/// Checks one transfer against every rule that does not depend on balances.
pub(crate) fn check_transfer(t: &Transfer, view: &impl View) -> Result<(), LedgerError> {
    let id = || t.id.clone();
    t.cause.check()?;
    if t.amount_fen.get() <= 0 {
        return Err(LedgerError::AmountNotPositive { id: id(), amount_fen: t.amount_fen });
    }
    if t.amount_fen.get() > POSTED_LIMIT_FEN {
        return Err(LedgerError::AmountTooLarge { id: id(), amount_fen: t.amount_fen });
    }
    if t.debit == t.credit {
        return Err(LedgerError::SameAccount { id: id() });
    }
    for key in [&t.debit, &t.credit] {
        let account = view.account(key).ok_or_else(|| LedgerError::NoSuchAccount { id: id(), account: *key })?;
        if t.value_date < account.opened_on {
            return Err(LedgerError::BeforeAccountOpened { id: id(), account: *key, opened_on: account.opened_on });
        }
    }
    // `one-fund-per-transfer`: a fund's books are its own (R-SCH-2).
    if t.debit.fund != t.credit.fund {
        return Err(LedgerError::CrossFund { id: id(), debit_fund: t.debit.fund, credit_fund: t.credit.fund });
    }
    let original = check_reversal(t, view)?;
    // The reason that decides what the transfer may do: a reversal crosses funds, or pays a
    // layer, exactly as its original did.
    let reason = original.map_or(t.reason, |o| o.reason);
    // `layer-from-its-fund`.
    if let Reason::Settlement(layer) = reason
        && !layer.paid_by(t.debit.fund.scheme)
    {
        return Err(LedgerError::LayerFundMismatch { id: id(), layer, fund: t.debit.fund });
    }
    check_pair(t, reason, original, view)?;
    // R-SCH-2's adjustments are audited: an ad-hoc one cites the audit record approving it.
    if t.reason == Reason::AuditedAdjustment && t.cause.kind != RecordKind::AuditApproval {
        return Err(LedgerError::UnauditedAdjustment { id: id() });
    }
    Ok(())
}

/// `reversals-bounded` (the part that needs no running total): a reversal names an
/// earlier transfer that is not itself a reversal, and swaps its accounts.
fn check_reversal<'v>(t: &Transfer, view: &'v impl View) -> Result<Option<&'v Transfer>, LedgerError> {
    match (t.reason, &t.reverses) {
        (Reason::Reversal, None) => Err(LedgerError::ReversalWithoutOriginal { id: t.id.clone() }),
        (Reason::Reversal, Some(original_id)) => {
            let original = view.earlier(original_id).ok_or_else(|| LedgerError::ReversalWithoutOriginal { id: t.id.clone() })?;
            let mismatch = |why| LedgerError::ReversalMismatch { id: t.id.clone(), original: original_id.clone(), why };
            if original.reason == Reason::Reversal {
                return Err(mismatch("a reversal is not reversed: post the original movement again under a new id"));
            }
            if t.debit != original.credit || t.credit != original.debit {
                return Err(mismatch("a reversal swaps the original's debit and credit accounts"));
            }
            Ok(Some(original))
        }
        (_, Some(_)) => Err(LedgerError::NotAReversal { id: t.id.clone() }),
        (_, None) => Ok(None),
    }
}

/// `adjustments-paired` (R-SCH-2): a transfer touching an inter-fund account is one leg of
/// an adjustment whose other leg, in another fund, moves the same amount the other way on
/// the same day for the same reason, and names this one back.
fn check_pair(t: &Transfer, reason: Reason, original: Option<&Transfer>, view: &impl View) -> Result<(), LedgerError> {
    let id = || t.id.clone();
    let sends = t.debit.kind == AccountKind::InterFund;
    let receives = t.credit.kind == AccountKind::InterFund;
    if sends && receives {
        return Err(LedgerError::InterFundBothSides { id: id() });
    }
    if !sends && !receives {
        return match &t.pair {
            Some(pair) => {
                Err(LedgerError::PairMismatch { id: id(), pair: pair.clone(), why: "only a leg touching an inter-fund account has a pair" })
            }
            None => Ok(()),
        };
    }
    if !reason.is_adjustment() {
        return Err(LedgerError::InterFundReason { id: id(), reason });
    }
    let pair_id = t.pair.as_ref().ok_or_else(|| LedgerError::UnpairedAdjustment { id: id() })?;
    let pair = view.anywhere(pair_id).ok_or_else(|| LedgerError::UnpairedAdjustment { id: id() })?;
    let mismatch = |why| Err(LedgerError::PairMismatch { id: id(), pair: pair_id.clone(), why });
    if pair.pair.as_ref() != Some(&t.id) {
        return mismatch("the other leg does not name this one as its pair");
    }
    if pair.debit.fund == t.debit.fund {
        return mismatch("the two legs are in the same fund");
    }
    if pair.amount_fen != t.amount_fen {
        return mismatch("the two legs move different amounts");
    }
    if pair.value_date != t.value_date {
        return mismatch("the two legs have different value dates");
    }
    if pair.reason != t.reason {
        return mismatch("the two legs have different reasons");
    }
    let pair_receives = pair.credit.kind == AccountKind::InterFund && pair.debit.kind != AccountKind::InterFund;
    let pair_sends = pair.debit.kind == AccountKind::InterFund && pair.credit.kind != AccountKind::InterFund;
    if (sends && !pair_receives) || (receives && !pair_sends) {
        return mismatch("money must leave one fund through its inter-fund account and enter the other through its own");
    }
    if let Some(original) = original
        && pair.reverses.as_ref() != original.pair.as_ref()
    {
        return mismatch("the reversal of one leg must be paired with the reversal of the other leg");
    }
    Ok(())
}
