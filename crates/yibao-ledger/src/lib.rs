//! The fund books of Yibao (基金账簿): a double-entry ledger per scheme fund, and the pure
//! computations of city-level pooling: the monthly sweep and disbursement (R-FND-2), the
//! year-end clearing of institutions' payment (issue 15), the adjustment-fund levy and the deficit waterfall (R-FND-5), legacy deficits (R-FND-6) and
//! early warning (R-FND-4).
//!
//! No I/O, no clock, no randomness (ARCHITECTURE.md `pure-core`): value dates and
//! transfer ids are passed in, and the computations return transfers for the caller to
//! post. The store keeps the books in SQL and posts inside the business record's
//! transaction; `yibao fund check` runs [`check_books`] over what it stored.
//!
//! # Model
//! TigerBeetle's accounts and transfers, with a [`Fund`] in the part of TigerBeetle's
//! `ledger`:
//! - a [`Fund`] is one scheme fund ([`FundScheme`]) of one pooling region, the separate
//!   books of R-SCH-2;
//! - an [`Account`] has one fund, one [`Holder`] and one [`AccountKind`]; its
//!   [`AccountKey`] is its identity, so computations name accounts without lookups. Money
//!   arriving from payers and leaving to institutions passes through the fund's
//!   [`AccountKind::External`] account, the outside world, so every movement stays inside
//!   the fund's books and the External balance is the fund's accumulated surplus;
//! - a [`Transfer`] moves a positive amount from a debit to a credit account of the same
//!   fund. It is immutable: a correction is a new [`Reason::Reversal`] naming the original.
//!   Its id is its idempotency key;
//! - money crosses funds only as an adjustment pair ([`cross_fund_pair`]): one leg out of
//!   a fund through its [`AccountKind::InterFund`] account, one into the other through its
//!   own, posted together, naming each other, with an adjustment reason
//!   ([`Reason::is_adjustment`]). A single transfer between two funds is always refused:
//!   it would unbalance both funds' books.
//!
//! # Invariants
//! Named so code, tests and reviews can point at them. [`Ledger::post`] keeps them;
//! [`check_books`] verifies all of them over stored books.
//! - **`fund-balanced`**: for every fund, the debits posted to its accounts equal the
//!   credits.
//! - **`no-forbidden-overdraft`**: an account with `no_overdraft` never goes negative on its
//!   normal side, at any point in posting order.
//! - **`posted-totals-match`**: each account's totals are the sums of its transfers.
//! - **`one-fund-per-transfer`**: a transfer's two accounts exist and share a fund.
//! - **`adjustments-paired`** (R-SCH-2): a transfer touching an inter-fund account has an
//!   adjustment reason and a mirroring pair in another fund; inter-fund accounts net to
//!   zero across funds; an ad-hoc [`Reason::AuditedAdjustment`] cites an audit approval.
//! - **`layer-from-its-fund`**: a settlement layer is paid by the fund that pays that layer.
//! - **`reversals-bounded`**: a reversal names an earlier transfer, swaps its accounts, and
//!   the reversals of a transfer undo at most its amount.
//! - **`idempotent`**: posting a transfer id again with the same content changes nothing;
//!   with different content it is refused.
//! - **`atomic-batch`**: a batch posts whole or not at all.
//! - **`limits`**: every size is bounded by a named constant in [`limits`].

mod account;
mod check;
mod clearing;
mod deficit;
mod error;
mod fund;
mod ledger;
mod legacy;
mod levy;
pub mod limits;
mod period;
mod plan;
mod rules;
mod sweep;
mod transfer;
mod warning;

pub use account::{Account, AccountKey, AccountKind, AccountState, Holder, PartyCode, Side};
pub use check::{BookCheck, Breach, check_books, check_invariants};
pub use clearing::{ClearingInputs, ClearingLine, ClearingPlan, ClearingShare, clearing_cause, plan_clearing, share_between};
pub use deficit::{DeficitLine, FundPosition, Targets, WaterfallInputs, WaterfallPlan, plan_waterfall, target_score_bp};
pub use error::LedgerError;
pub use fund::{Fund, FundScheme};
pub use ledger::{Ledger, PostOutcome};
pub use legacy::{
    Instalment, LegacyInputs, LegacySchedule, LegacyStatus, MissedInstalment, Repayment, RepaymentTerms, YearShare, legacy_schedule,
    legacy_status, repayment_transfer,
};
pub use levy::{DEFAULT_LEVY_RATIO_BP, LevyBase, LevyInputs, LevyLine, LevyPlan, plan_levy};
pub use period::{YearMonth, YearMonthError};
pub use plan::{FundUnit, Note, Planned, apportion, batch_of, cross_fund_pair};
pub use sweep::{MonthInputs, MonthPlan, UnitMonth, plan_month};
pub use transfer::{BusinessRef, Reason, RecordKind, SettlementLayer, Transfer, TransferId, reverse_pair};
pub use warning::{FundYear, Indicators, Warning, WarningThresholds, current_surplus_rate_bp, indicators, months_covered_centi};
