//! The in-memory ledger: accounts with their posted totals, and transfers in posting order.
//!
//! The store keeps the same books in SQL and posts through the same rules; this type is
//! what the rules, the property tests and the pooling examples run against.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use yibao_domain::Fen;

use crate::account::{Account, AccountKey, AccountState, balance_of};
use crate::error::LedgerError;
use crate::limits::{ACCOUNTS_LIMIT, BATCH_LIMIT, POSTED_LIMIT_FEN, TRANSFERS_LIMIT};
use crate::rules::{self, View};
use crate::transfer::{Transfer, TransferId};

/// What posting did with one transfer of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostOutcome {
    Posted,
    /// A transfer with this id and exactly this content was posted before; nothing changed
    /// (`idempotent`).
    AlreadyPosted,
}

/// Accounts, their posted totals, and every transfer in posting order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    accounts: BTreeMap<AccountKey, AccountState>,
    transfers: Vec<Transfer>,
    index: HashMap<TransferId, usize>,
    /// How much of each reversed transfer its reversals have undone so far.
    reversed: HashMap<TransferId, Fen>,
}

impl Ledger {
    #[must_use]
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// A ledger holding a working set of stored books: the accounts a batch touches, with
    /// their stored totals, and the transfers it may refer to (its own ids, for replays;
    /// the originals it reverses with their earlier reversals; adjustment legs). The store
    /// posts into it with the same rules as here, then writes back the touched accounts and
    /// `transfers()[n..]`, where `n` is the number of transfers given.
    ///
    /// Stored books are taken as they are, not re-validated: [`check_books`](crate::check_books)
    /// verifies them. A repeated account key or transfer id is refused.
    pub fn resume(
        accounts: impl IntoIterator<Item = AccountState>,
        transfers: impl IntoIterator<Item = Transfer>,
    ) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger::new();
        for state in accounts {
            if ledger.accounts.len() >= ACCOUNTS_LIMIT {
                return Err(LedgerError::AccountLimit);
            }
            if ledger.accounts.insert(state.key(), state).is_some() {
                return Err(LedgerError::AccountExists(state.key()));
            }
        }
        for transfer in transfers {
            if ledger.transfers.len() >= TRANSFERS_LIMIT {
                return Err(LedgerError::TransferLimit);
            }
            if ledger.index.contains_key(&transfer.id) {
                return Err(LedgerError::DuplicateInBatch { id: transfer.id });
            }
            if let Some(original) = &transfer.reverses {
                *ledger.reversed.entry(original.clone()).or_insert(Fen::ZERO) += transfer.amount_fen;
            }
            ledger.index.insert(transfer.id.clone(), ledger.transfers.len());
            ledger.transfers.push(transfer);
        }
        Ok(ledger)
    }

    /// Opens an account with zero totals.
    pub fn create_account(&mut self, account: Account) -> Result<(), LedgerError> {
        account.check()?;
        if self.accounts.contains_key(&account.key) {
            return Err(LedgerError::AccountExists(account.key));
        }
        if self.accounts.len() >= ACCOUNTS_LIMIT {
            return Err(LedgerError::AccountLimit);
        }
        self.accounts.insert(account.key, AccountState::new(account));
        Ok(())
    }

    /// Posts a batch of transfers: all of them or none (`atomic-batch`).
    ///
    /// Transfers apply in batch order, each checked against the balances the earlier ones
    /// left, as TigerBeetle does. A transfer whose id was posted before with the same
    /// content is [`PostOutcome::AlreadyPosted`] and changes nothing; with different
    /// content it is `ledger.id_conflict` and the whole batch is refused. The two legs of
    /// an adjustment between funds are posted in the same batch.
    pub fn post(&mut self, batch: &[Transfer]) -> Result<Vec<PostOutcome>, LedgerError> {
        if batch.len() > BATCH_LIMIT {
            return Err(LedgerError::BatchTooLarge { len: batch.len() });
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut seen: HashSet<&TransferId> = HashSet::with_capacity(batch.len());
        let mut fresh: HashMap<&TransferId, usize> = HashMap::with_capacity(batch.len());
        for (position, transfer) in batch.iter().enumerate() {
            if !seen.insert(&transfer.id) {
                return Err(LedgerError::DuplicateInBatch { id: transfer.id.clone() });
            }
            match self.transfer(&transfer.id) {
                Some(posted) if posted == transfer => outcomes.push(PostOutcome::AlreadyPosted),
                Some(_) => return Err(LedgerError::IdConflict { id: transfer.id.clone() }),
                None => {
                    fresh.insert(&transfer.id, position);
                    outcomes.push(PostOutcome::Posted);
                }
            }
        }
        if self.transfers.len() + fresh.len() > TRANSFERS_LIMIT {
            return Err(LedgerError::TransferLimit);
        }

        // Everything below reads `self` and writes only these scratch maps, so a refusal
        // leaves the ledger as it was.
        let mut totals: HashMap<AccountKey, (Fen, Fen)> = HashMap::new();
        let mut reversed: HashMap<&TransferId, Fen> = HashMap::new();
        for (position, transfer) in batch.iter().enumerate() {
            if outcomes[position] == PostOutcome::AlreadyPosted {
                continue;
            }
            let view = BatchView { ledger: self, batch, fresh: &fresh, position };
            rules::check_transfer(transfer, &view)?;
            if let Some(original_id) = &transfer.reverses {
                let original = view.earlier(original_id).expect("checked by the rules");
                let done = reversed.get(original_id).copied().unwrap_or_else(|| self.reversed_fen(original_id));
                let remaining = original.amount_fen - done;
                if transfer.amount_fen > remaining {
                    return Err(LedgerError::OverReversal {
                        id: transfer.id.clone(),
                        original: original_id.clone(),
                        remaining_fen: remaining,
                    });
                }
                reversed.insert(original_id, done + transfer.amount_fen);
            }
            for (key, is_debit) in [(transfer.debit, true), (transfer.credit, false)] {
                let state = self.accounts.get(&key).expect("checked by the rules");
                let (debits, credits) = totals.get(&key).copied().unwrap_or((state.debits_posted_fen, state.credits_posted_fen));
                let side = if is_debit { debits } else { credits };
                let grown = side.get().checked_add(transfer.amount_fen.get()).filter(|sum| *sum <= POSTED_LIMIT_FEN);
                if grown.is_none() {
                    return Err(LedgerError::Overflow { id: transfer.id.clone(), account: key });
                }
                let (debits, credits) =
                    if is_debit { (debits + transfer.amount_fen, credits) } else { (debits, credits + transfer.amount_fen) };
                let balance = balance_of(key.kind, debits, credits);
                if state.account.no_overdraft && balance.is_negative() {
                    return Err(LedgerError::Overdraft { id: transfer.id.clone(), account: key, balance_fen: balance });
                }
                totals.insert(key, (debits, credits));
            }
        }

        for (key, (debits, credits)) in totals {
            let state = self.accounts.get_mut(&key).expect("checked by the rules");
            state.debits_posted_fen = debits;
            state.credits_posted_fen = credits;
        }
        for (id, done) in reversed {
            self.reversed.insert(id.clone(), done);
        }
        for (position, transfer) in batch.iter().enumerate() {
            if outcomes[position] == PostOutcome::Posted {
                self.index.insert(transfer.id.clone(), self.transfers.len());
                self.transfers.push(transfer.clone());
            }
        }
        Ok(outcomes)
    }

    #[must_use]
    pub fn account(&self, key: &AccountKey) -> Option<&AccountState> {
        self.accounts.get(key)
    }

    /// The balance on the account's normal side.
    #[must_use]
    pub fn balance_fen(&self, key: &AccountKey) -> Option<Fen> {
        self.accounts.get(key).map(AccountState::balance_fen)
    }

    /// Every account, in key order.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountState> {
        self.accounts.values()
    }

    /// Every transfer, in posting order.
    #[must_use]
    pub fn transfers(&self) -> &[Transfer] {
        &self.transfers
    }

    #[must_use]
    pub fn transfer(&self, id: &TransferId) -> Option<&Transfer> {
        self.index.get(id).map(|&i| &self.transfers[i])
    }

    /// Whether a transfer with this id was posted: what the planning functions ask to
    /// skip steps already taken.
    #[must_use]
    pub fn contains(&self, id: &TransferId) -> bool {
        self.index.contains_key(id)
    }

    /// How much of a transfer its reversals have undone.
    #[must_use]
    pub fn reversed_fen(&self, id: &TransferId) -> Fen {
        self.reversed.get(id).copied().unwrap_or(Fen::ZERO)
    }
}

/// The ledger as seen from one transfer of a batch being posted.
struct BatchView<'a> {
    ledger: &'a Ledger,
    batch: &'a [Transfer],
    fresh: &'a HashMap<&'a TransferId, usize>,
    position: usize,
}

impl View for BatchView<'_> {
    fn account(&self, key: &AccountKey) -> Option<&Account> {
        self.ledger.accounts.get(key).map(|s| &s.account)
    }

    fn earlier(&self, id: &TransferId) -> Option<&Transfer> {
        self.ledger.transfer(id).or_else(|| self.fresh.get(id).filter(|&&p| p < self.position).map(|&p| &self.batch[p]))
    }

    fn anywhere(&self, id: &TransferId) -> Option<&Transfer> {
        self.ledger.transfer(id).or_else(|| self.fresh.get(id).map(|&p| &self.batch[p]))
    }
}
