//! The one error type of the fund books, with a stable machine code per variant
//! (`ledger.overdraft`…), which the API returns as `{code, message}`.

use time::Date;
use yibao_domain::{Fen, RegionCode};

use crate::account::{AccountKey, AccountKind, Holder};
use crate::fund::Fund;
use crate::limits::{ACCOUNTS_LIMIT, BATCH_LIMIT, TRANSFERS_LIMIT};
use crate::transfer::{Reason, SettlementLayer, TransferId};

/// Why an account could not be opened, a batch could not be posted (nothing of it was),
/// or a pooling computation refused its inputs. Each variant says what to correct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("'{0}' is not a transfer id: 1 to 128 printable ASCII characters without spaces")]
    BadTransferId(String),
    #[error("'{0}' is not a business record id: 1 to 96 bytes without control characters")]
    BadRecordId(String),
    #[error("'{0}' is not a party code: 1 to 20 upper-case letters and digits")]
    BadPartyCode(String),
    #[error("'{0}' is not an institution code: H or P followed by 11 digits")]
    BadInstitutionCode(String),
    #[error("'{0}' is not an account holder: region:CODE, finance:CODE, central-finance, institution:CODE, insurer:CODE or person:ID")]
    BadHolder(String),

    #[error("account {0} already exists")]
    AccountExists(AccountKey),
    #[error("the ledger already holds {ACCOUNTS_LIMIT} accounts")]
    AccountLimit,
    #[error("{holder} cannot hold a {kind} account")]
    HolderKindMismatch { holder: Holder, kind: AccountKind },
    #[error("{holder} lies outside the region of fund {fund}")]
    HolderOutsideFund { holder: Holder, fund: Fund },

    #[error("a batch holds at most {BATCH_LIMIT} transfers, this one {len}")]
    BatchTooLarge { len: usize },
    #[error("the ledger already holds {TRANSFERS_LIMIT} transfers")]
    TransferLimit,
    #[error("transfer {id} appears twice in the batch")]
    DuplicateInBatch { id: TransferId },
    #[error("transfer {id} was already posted with different content: a transfer id is used once")]
    IdConflict { id: TransferId },
    #[error("transfer {id}: account {account} does not exist")]
    NoSuchAccount { id: TransferId, account: AccountKey },
    #[error("transfer {id} debits and credits the same account")]
    SameAccount { id: TransferId },
    #[error("transfer {id}: the amount must be positive, not {amount_fen}")]
    AmountNotPositive { id: TransferId, amount_fen: Fen },
    #[error("transfer {id}: {amount_fen} is beyond the largest amount the books hold")]
    AmountTooLarge { id: TransferId, amount_fen: Fen },
    #[error("transfer {id} is dated before account {account} was opened on {opened_on}")]
    BeforeAccountOpened { id: TransferId, account: AccountKey, opened_on: Date },
    #[error(
        "transfer {id} would move money from fund {debit_fund} to fund {credit_fund}: money crosses funds only as an adjustment pair through each fund's inter-fund account (R-SCH-2)"
    )]
    CrossFund { id: TransferId, debit_fund: Fund, credit_fund: Fund },
    #[error("transfer {id}: the {} layer is not paid by fund {fund}", layer.field())]
    LayerFundMismatch { id: TransferId, layer: SettlementLayer, fund: Fund },
    #[error("transfer {id} touches an inter-fund account for reason {reason}: only an audited adjustment may (R-SCH-2)")]
    InterFundReason { id: TransferId, reason: Reason },
    #[error("transfer {id} is an audited adjustment but cites no audit approval as its cause")]
    UnauditedAdjustment { id: TransferId },
    #[error("transfer {id} has inter-fund accounts on both sides")]
    InterFundBothSides { id: TransferId },
    #[error("transfer {id} is one leg of an adjustment between funds, but its other leg is not posted with it")]
    UnpairedAdjustment { id: TransferId },
    #[error("transfer {id} and its pair {pair} do not mirror each other: {why}")]
    PairMismatch { id: TransferId, pair: TransferId, why: &'static str },
    #[error("transfer {id} is a reversal but names no earlier transfer it reverses")]
    ReversalWithoutOriginal { id: TransferId },
    #[error("transfer {id} names a transfer it reverses but its reason is not 'reversal'")]
    NotAReversal { id: TransferId },
    #[error("transfer {id} does not reverse {original}: {why}")]
    ReversalMismatch { id: TransferId, original: TransferId, why: &'static str },
    #[error("transfer {id} would reverse more of {original} than remains of it ({remaining_fen})")]
    OverReversal { id: TransferId, original: TransferId, remaining_fen: Fen },
    #[error("transfer {id} would overdraw {account} to {balance_fen}, which may not go negative")]
    Overdraft { id: TransferId, account: AccountKey, balance_fen: Fen },
    #[error("transfer {id} would push the totals of {account} beyond the largest amount the books hold")]
    Overflow { id: TransferId, account: AccountKey },

    #[error("{what}: at most {limit}, not {len}")]
    TooMany { what: &'static str, len: usize, limit: usize },
    #[error("{what} appears twice in the input")]
    DuplicateInput { what: String },
    #[error("fund {fund} is not a city's fund: the monthly pooling run and the legacy schedule work on a city fund")]
    NotACityFund { fund: Fund },
    #[error("{unit} is not a unit of {scope} (the city itself or one of its counties)")]
    UnitOutside { unit: RegionCode, scope: RegionCode },
    #[error("fund {fund} pays no adjustment-fund levy: only employee, resident and maternity insurance do (R-FND-5)")]
    NotLevied { fund: Fund },
    #[error("{what} cannot be negative, not {amount_fen}")]
    NegativeInput { what: &'static str, amount_fen: Fen },
    #[error("date {date} lies outside {period}")]
    DateOutsidePeriod { date: Date, period: String },
    #[error(
        "the special account of {fund} would hold {available_fen} after the sweeps but the month's expenditure is {needed_fen}: cover the deficit first"
    )]
    SpecialAccountShort { fund: Fund, needed_fen: Fen, available_fen: Fen },
    #[error("the input is not valid: {why}")]
    BadInput { why: &'static str },
}

impl LedgerError {
    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            LedgerError::BadTransferId(_) => "ledger.bad_transfer_id",
            LedgerError::BadRecordId(_) => "ledger.bad_record_id",
            LedgerError::BadPartyCode(_) => "ledger.bad_party_code",
            LedgerError::BadInstitutionCode(_) => "ledger.bad_institution_code",
            LedgerError::BadHolder(_) => "ledger.bad_holder",
            LedgerError::AccountExists(_) => "ledger.account_exists",
            LedgerError::AccountLimit => "ledger.account_limit",
            LedgerError::HolderKindMismatch { .. } => "ledger.holder_kind_mismatch",
            LedgerError::HolderOutsideFund { .. } => "ledger.holder_outside_fund",
            LedgerError::BatchTooLarge { .. } => "ledger.batch_too_large",
            LedgerError::TransferLimit => "ledger.transfer_limit",
            LedgerError::DuplicateInBatch { .. } => "ledger.duplicate_in_batch",
            LedgerError::IdConflict { .. } => "ledger.id_conflict",
            LedgerError::NoSuchAccount { .. } => "ledger.no_such_account",
            LedgerError::SameAccount { .. } => "ledger.same_account",
            LedgerError::AmountNotPositive { .. } => "ledger.amount_not_positive",
            LedgerError::AmountTooLarge { .. } => "ledger.amount_too_large",
            LedgerError::BeforeAccountOpened { .. } => "ledger.before_account_opened",
            LedgerError::CrossFund { .. } => "ledger.cross_fund",
            LedgerError::LayerFundMismatch { .. } => "ledger.layer_fund_mismatch",
            LedgerError::InterFundReason { .. } => "ledger.inter_fund_reason",
            LedgerError::UnauditedAdjustment { .. } => "ledger.unaudited_adjustment",
            LedgerError::InterFundBothSides { .. } => "ledger.inter_fund_both_sides",
            LedgerError::UnpairedAdjustment { .. } => "ledger.unpaired_adjustment",
            LedgerError::PairMismatch { .. } => "ledger.pair_mismatch",
            LedgerError::ReversalWithoutOriginal { .. } => "ledger.reversal_without_original",
            LedgerError::NotAReversal { .. } => "ledger.not_a_reversal",
            LedgerError::ReversalMismatch { .. } => "ledger.reversal_mismatch",
            LedgerError::OverReversal { .. } => "ledger.over_reversal",
            LedgerError::Overdraft { .. } => "ledger.overdraft",
            LedgerError::Overflow { .. } => "ledger.overflow",
            LedgerError::TooMany { .. } => "ledger.too_many",
            LedgerError::DuplicateInput { .. } => "ledger.duplicate_input",
            LedgerError::NotACityFund { .. } => "ledger.not_a_city_fund",
            LedgerError::UnitOutside { .. } => "ledger.unit_outside",
            LedgerError::NotLevied { .. } => "ledger.not_levied",
            LedgerError::NegativeInput { .. } => "ledger.negative_input",
            LedgerError::DateOutsidePeriod { .. } => "ledger.date_outside_period",
            LedgerError::SpecialAccountShort { .. } => "ledger.special_account_short",
            LedgerError::BadInput { .. } => "ledger.bad_input",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fund::FundScheme;

    /// One of each variant: a new variant without a distinct `ledger.` code fails here.
    #[test]
    fn codes_are_distinct_and_prefixed() {
        let region = RegionCode::parse("419900").unwrap();
        let fund = Fund::new(FundScheme::Employee, region);
        let account = AccountKey::special(fund);
        let id = TransferId::parse("t").unwrap();
        let fen = Fen::new(1);
        let date = time::macros::date!(2026 - 01 - 01);
        let errors = [
            LedgerError::BadTransferId(String::new()),
            LedgerError::BadRecordId(String::new()),
            LedgerError::BadPartyCode(String::new()),
            LedgerError::BadInstitutionCode(String::new()),
            LedgerError::BadHolder(String::new()),
            LedgerError::AccountExists(account),
            LedgerError::AccountLimit,
            LedgerError::HolderKindMismatch { holder: Holder::CentralFinance, kind: AccountKind::Income },
            LedgerError::HolderOutsideFund { holder: Holder::Region(region), fund },
            LedgerError::BatchTooLarge { len: 0 },
            LedgerError::TransferLimit,
            LedgerError::DuplicateInBatch { id: id.clone() },
            LedgerError::IdConflict { id: id.clone() },
            LedgerError::NoSuchAccount { id: id.clone(), account },
            LedgerError::SameAccount { id: id.clone() },
            LedgerError::AmountNotPositive { id: id.clone(), amount_fen: fen },
            LedgerError::AmountTooLarge { id: id.clone(), amount_fen: fen },
            LedgerError::BeforeAccountOpened { id: id.clone(), account, opened_on: date },
            LedgerError::CrossFund { id: id.clone(), debit_fund: fund, credit_fund: fund },
            LedgerError::LayerFundMismatch { id: id.clone(), layer: SettlementLayer::Pooled, fund },
            LedgerError::InterFundReason { id: id.clone(), reason: Reason::Sweep },
            LedgerError::UnauditedAdjustment { id: id.clone() },
            LedgerError::InterFundBothSides { id: id.clone() },
            LedgerError::UnpairedAdjustment { id: id.clone() },
            LedgerError::PairMismatch { id: id.clone(), pair: id.clone(), why: "" },
            LedgerError::ReversalWithoutOriginal { id: id.clone() },
            LedgerError::NotAReversal { id: id.clone() },
            LedgerError::ReversalMismatch { id: id.clone(), original: id.clone(), why: "" },
            LedgerError::OverReversal { id: id.clone(), original: id.clone(), remaining_fen: fen },
            LedgerError::Overdraft { id: id.clone(), account, balance_fen: fen },
            LedgerError::Overflow { id: id.clone(), account },
            LedgerError::TooMany { what: "", len: 0, limit: 0 },
            LedgerError::DuplicateInput { what: String::new() },
            LedgerError::NotACityFund { fund },
            LedgerError::UnitOutside { unit: region, scope: region },
            LedgerError::NotLevied { fund },
            LedgerError::NegativeInput { what: "", amount_fen: fen },
            LedgerError::DateOutsidePeriod { date, period: String::new() },
            LedgerError::SpecialAccountShort { fund, needed_fen: fen, available_fen: fen },
            LedgerError::BadInput { why: "" },
        ];
        let mut seen = std::collections::HashSet::new();
        for error in &errors {
            assert!(error.code().starts_with("ledger.") && seen.insert(error.code()), "{}", error.code());
            assert!(!error.to_string().is_empty());
        }
    }
}
