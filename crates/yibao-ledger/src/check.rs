//! The book check `yibao fund check` runs: every invariant of the fund books, recomputed
//! from the accounts and transfers alone, so it verifies stored books as well as a
//! [`Ledger`] built in memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use yibao_domain::Fen;

use crate::account::{Account, AccountKey, AccountKind, AccountState, balance_of};
use crate::error::LedgerError;
use crate::fund::Fund;
use crate::ledger::Ledger;
use crate::limits::{BREACHES_LIMIT, POSTED_LIMIT_FEN};
use crate::rules::{self, View};
use crate::transfer::{Transfer, TransferId};

/// One invariant found broken, naming what breaks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Breach {
    /// An account breaks the holder rules (`ledger.holder_kind_mismatch`…).
    Account { account: AccountKey, error: LedgerError },
    /// Two accounts share a key.
    DuplicateAccount { account: AccountKey },
    /// Two transfers share an id (`idempotent` presumes one transfer per id).
    DuplicateTransfer { id: TransferId },
    /// A transfer breaks a posting rule: a missing account, a cross-fund transfer, an
    /// unpaired adjustment, a bad reversal… The error names which.
    Transfer { id: TransferId, error: LedgerError },
    /// `reversals-bounded`: the reversals of a transfer undo more than it moved.
    OverReversal { original: TransferId, reversed_fen: Fen, amount_fen: Fen },
    /// `no-forbidden-overdraft`: the account went negative, first at this transfer.
    Overdraft { account: AccountKey, at: TransferId, balance_fen: Fen },
    /// `posted-totals-match`: the stored totals differ from the transfers' sums.
    PostedTotals { account: AccountKey, stored: (Fen, Fen), from_transfers: (Fen, Fen) },
    /// `fund-balanced`: the fund's stored debits and credits differ. Sums over a whole
    /// fund are `i128` intermediates: they may exceed what one amount holds.
    FundUnbalanced { fund: Fund, debits_fen: i128, credits_fen: i128 },
    /// `adjustments-paired`: what left funds through inter-fund accounts is not what
    /// entered others through theirs.
    InterFundNotNetZero { net_fen: i128 },
    /// `records-match-books`: a business record's amount (a person's stored
    /// personal-account balance) differs from its account's balance in the books.
    RecordDisagrees { account: AccountKey, record_fen: Fen, books_fen: Fen },
    /// `records-match-books`: a business record (a claim, a contribution) and what the
    /// books or the audit trail hold of it differ: a transfer it should have posted is
    /// missing or moved another amount, a transfer names a record that is not on file, or
    /// the record differs from its audit entry. `record` names the row.
    BusinessDisagrees { record: String, detail: String },
    /// More than [`BREACHES_LIMIT`] breaches; the rest are not listed.
    Truncated,
}

impl Breach {
    /// The stable code: the invariant's, or for a broken posting rule the rule's error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Breach::Account { error, .. } | Breach::Transfer { error, .. } => error.code(),
            Breach::DuplicateAccount { .. } => "books.duplicate_account",
            Breach::DuplicateTransfer { .. } => "books.duplicate_transfer",
            Breach::OverReversal { .. } => "books.over_reversal",
            Breach::Overdraft { .. } => "books.overdraft",
            Breach::PostedTotals { .. } => "books.posted_totals",
            Breach::FundUnbalanced { .. } => "books.fund_unbalanced",
            Breach::InterFundNotNetZero { .. } => "books.inter_fund_not_net_zero",
            Breach::RecordDisagrees { .. } => "books.record_disagrees",
            Breach::BusinessDisagrees { .. } => "books.business_disagrees",
            Breach::Truncated => "books.truncated",
        }
    }
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Account { account, error } => write!(f, "account {account}: {error}"),
            Breach::DuplicateAccount { account } => write!(f, "account {account} appears twice"),
            Breach::DuplicateTransfer { id } => write!(f, "transfer {id} appears twice"),
            Breach::Transfer { error, .. } => write!(f, "{error}"),
            Breach::OverReversal { original, reversed_fen, amount_fen } => {
                write!(f, "transfer {original} moved {amount_fen} but its reversals undo {reversed_fen}")
            }
            Breach::Overdraft { account, at, balance_fen } => {
                write!(f, "account {account} may not go negative but transfer {at} left it at {balance_fen}")
            }
            Breach::PostedTotals { account, stored, from_transfers } => write!(
                f,
                "account {account} has debits {} and credits {} stored, but its transfers sum to {} and {}",
                stored.0, stored.1, from_transfers.0, from_transfers.1
            ),
            Breach::FundUnbalanced { fund, debits_fen, credits_fen } => {
                write!(f, "fund {fund} has debits of {debits_fen} fen but credits of {credits_fen} fen")
            }
            Breach::InterFundNotNetZero { net_fen } => {
                write!(f, "inter-fund accounts net to {net_fen} fen across funds instead of zero")
            }
            Breach::RecordDisagrees { account, record_fen, books_fen } => {
                write!(f, "account {account} holds {books_fen} in the books, but the record says {record_fen}")
            }
            Breach::BusinessDisagrees { record, detail } => write!(f, "{record}: {detail}"),
            Breach::Truncated => write!(f, "more than {BREACHES_LIMIT} breaches; the rest are not listed"),
        }
    }
}

/// Checks every invariant of the ledger's books.
pub fn check_invariants(ledger: &Ledger) -> Result<(), Vec<Breach>> {
    check_books(ledger.accounts(), ledger.transfers())
}

/// Checks every invariant of books given as accounts (with their stored totals) and
/// transfers in posting order.
///
/// - `fund-balanced`: for every fund, the accounts' stored debits equal their credits;
/// - `posted-totals-match`: each account's stored totals are the sums of its transfers;
/// - `no-forbidden-overdraft`: replayed in posting order, no account that forbids it ever
///   goes negative;
/// - `one-fund-per-transfer`, `adjustments-paired`, `layer-from-its-fund`: every transfer
///   obeys the posting rules, its accounts exist, and inter-fund accounts net to zero;
/// - `reversals-bounded`: reversals name an earlier original and undo at most its amount;
/// - transfer ids and account keys are unique.
///
/// Books too large to hold are checked the same way by [`BookCheck`], fed a page at a time.
pub fn check_books<'a>(accounts: impl IntoIterator<Item = &'a AccountState>, transfers: &[Transfer]) -> Result<(), Vec<Breach>> {
    let mut duplicates = Vec::new();
    let mut positions: HashMap<&TransferId, u64> = HashMap::with_capacity(transfers.len());
    for (position, transfer) in (0u64..).zip(transfers) {
        if positions.insert(&transfer.id, position).is_some() {
            duplicates.push(Breach::DuplicateTransfer { id: transfer.id.clone() });
        }
    }
    let wanted: HashSet<&TransferId> = transfers.iter().flat_map(|t| t.reverses.iter().chain(t.pair.iter())).collect();
    let referenced =
        wanted.into_iter().filter_map(|id| positions.get(id).map(|&p| (p, transfers[usize::try_from(p).unwrap_or(usize::MAX)].clone())));
    let mut check = BookCheck::new(accounts.into_iter().copied(), referenced);
    for breach in duplicates {
        check.breaches.push(breach);
    }
    for (position, transfer) in (0u64..).zip(transfers) {
        check.feed(position, transfer);
    }
    check.finish()
}

/// The book check over books streamed past in posting order (`yibao fund check` over a
/// store): it holds the accounts, their running totals and only the transfers that others
/// reverse or pair with (`referenced`, read up front), never every transfer. Transfer ids
/// are unique by the store's primary key; [`check_books`] checks that in memory.
#[derive(Debug)]
pub struct BookCheck {
    stored: BTreeMap<AccountKey, AccountState>,
    referenced: HashMap<TransferId, (u64, Transfer)>,
    totals: HashMap<AccountKey, (Fen, Fen)>,
    overdrawn: HashSet<AccountKey>,
    reversed: HashMap<TransferId, Fen>,
    breaches: Breaches,
}

impl BookCheck {
    /// Starts a check of `accounts` (with their stored totals); `referenced` are the
    /// transfers (with their positions) that some transfer reverses or pairs with.
    pub fn new(accounts: impl IntoIterator<Item = AccountState>, referenced: impl IntoIterator<Item = (u64, Transfer)>) -> BookCheck {
        let mut breaches = Breaches::default();
        let mut stored = BTreeMap::new();
        for state in accounts {
            if let Err(error) = state.account.check() {
                breaches.push(Breach::Account { account: state.key(), error });
            }
            if stored.insert(state.key(), state).is_some() {
                breaches.push(Breach::DuplicateAccount { account: state.key() });
            }
        }
        let referenced = referenced.into_iter().map(|(position, transfer)| (transfer.id.clone(), (position, transfer))).collect();
        BookCheck { stored, referenced, totals: HashMap::new(), overdrawn: HashSet::new(), reversed: HashMap::new(), breaches }
    }

    /// Checks the next transfer; `position` grows with posting order.
    pub fn feed(&mut self, position: u64, transfer: &Transfer) {
        let view = StreamView { accounts: &self.stored, referenced: &self.referenced, position };
        if let Err(error) = rules::check_transfer(transfer, &view) {
            self.breaches.push(Breach::Transfer { id: transfer.id.clone(), error });
        }
        let original = transfer.reverses.as_ref().and_then(|id| self.referenced.get(id)).filter(|(p, _)| *p < position);
        if let Some((_, original)) = original {
            *self.reversed.entry(original.id.clone()).or_insert(Fen::ZERO) += transfer.amount_fen;
        }
        if transfer.amount_fen.get() <= 0 || transfer.amount_fen.get() > POSTED_LIMIT_FEN {
            return; // already a breach of the rules; adding it could overflow
        }
        for (key, is_debit) in [(transfer.debit, true), (transfer.credit, false)] {
            let Some(state) = self.stored.get(&key) else { continue };
            let entry = self.totals.entry(key).or_insert((Fen::ZERO, Fen::ZERO));
            let side = if is_debit { &mut entry.0 } else { &mut entry.1 };
            if side.get() + transfer.amount_fen.get() > POSTED_LIMIT_FEN {
                self.breaches.push(Breach::Transfer {
                    id: transfer.id.clone(),
                    error: LedgerError::Overflow { id: transfer.id.clone(), account: key },
                });
                continue;
            }
            *side += transfer.amount_fen;
            let balance = balance_of(key.kind, entry.0, entry.1);
            if state.account.no_overdraft && balance.is_negative() && self.overdrawn.insert(key) {
                self.breaches.push(Breach::Overdraft { account: key, at: transfer.id.clone(), balance_fen: balance });
            }
        }
    }

    /// The invariants over the whole books: reversals bounded, stored totals, funds
    /// balanced, inter-fund accounts netting to zero.
    pub fn finish(mut self) -> Result<(), Vec<Breach>> {
        let mut over_reversed: Vec<(TransferId, Fen, Fen)> = self
            .reversed
            .iter()
            .filter_map(|(id, &reversed_fen)| {
                let (_, original) = self.referenced.get(id)?;
                (reversed_fen > original.amount_fen).then(|| (id.clone(), reversed_fen, original.amount_fen))
            })
            .collect();
        over_reversed.sort();
        for (original, reversed_fen, amount_fen) in over_reversed {
            self.breaches.push(Breach::OverReversal { original, reversed_fen, amount_fen });
        }
        let mut funds: BTreeMap<Fund, (i128, i128)> = BTreeMap::new();
        let mut inter_fund_net: i128 = 0;
        for (key, state) in &self.stored {
            let from_transfers = self.totals.get(key).copied().unwrap_or((Fen::ZERO, Fen::ZERO));
            let stored_totals = (state.debits_posted_fen, state.credits_posted_fen);
            if stored_totals != from_transfers {
                self.breaches.push(Breach::PostedTotals { account: *key, stored: stored_totals, from_transfers });
            }
            let fund = funds.entry(key.fund).or_insert((0, 0));
            fund.0 += i128::from(state.debits_posted_fen.get());
            fund.1 += i128::from(state.credits_posted_fen.get());
            if key.kind == AccountKind::InterFund {
                inter_fund_net += i128::from(from_transfers.1.get()) - i128::from(from_transfers.0.get());
            }
        }
        for (fund, (debits_fen, credits_fen)) in funds {
            if debits_fen != credits_fen {
                self.breaches.push(Breach::FundUnbalanced { fund, debits_fen, credits_fen });
            }
        }
        if inter_fund_net != 0 {
            self.breaches.push(Breach::InterFundNotNetZero { net_fen: inter_fund_net });
        }
        self.breaches.finish()
    }
}

#[derive(Debug, Default)]
struct Breaches(Vec<Breach>);

impl Breaches {
    fn push(&mut self, breach: Breach) {
        if self.0.len() < BREACHES_LIMIT {
            self.0.push(breach);
        } else if self.0.len() == BREACHES_LIMIT {
            self.0.push(Breach::Truncated);
        }
    }

    fn finish(self) -> Result<(), Vec<Breach>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}

/// Stored books as seen from the transfer at `position`: the accounts, and the transfers
/// others reverse or pair with.
struct StreamView<'a> {
    accounts: &'a BTreeMap<AccountKey, AccountState>,
    referenced: &'a HashMap<TransferId, (u64, Transfer)>,
    position: u64,
}

impl View for StreamView<'_> {
    fn account(&self, key: &AccountKey) -> Option<&Account> {
        self.accounts.get(key).map(|s| &s.account)
    }

    fn earlier(&self, id: &TransferId) -> Option<&Transfer> {
        self.referenced.get(id).filter(|(p, _)| *p < self.position).map(|(_, t)| t)
    }

    fn anywhere(&self, id: &TransferId) -> Option<&Transfer> {
        self.referenced.get(id).map(|(_, t)| t)
    }
}
