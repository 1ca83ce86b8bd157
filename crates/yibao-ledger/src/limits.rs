//! Every limit of the fund books, named (ARCHITECTURE.md invariant `limits`). Input over a
//! limit is refused with an error naming the limit, never truncated.

/// Accounts one in-memory [`Ledger`](crate::Ledger) holds. A city of 13 million people has a
/// few million employee personal accounts; the funds' own accounts number in the hundreds.
pub const ACCOUNTS_LIMIT: usize = 20_000_000;

/// Transfers one in-memory [`Ledger`](crate::Ledger) holds: a year of a large city's
/// settlements. The store keeps the full history in SQL; this bounds what is held in memory.
pub const TRANSFERS_LIMIT: usize = 100_000_000;

/// Transfers in one posted batch (TigerBeetle's batch size). A settlement posts about ten;
/// a monthly pooling run of a city with [`UNITS_LIMIT`] units about 300.
pub const BATCH_LIMIT: usize = 8_190;

/// Bytes in a transfer id. Derived ids (`pool/2026-05/employee@419900/419921/sweep`) use
/// under 80.
pub const TRANSFER_ID_LEN_LIMIT: usize = 128;

/// Bytes in the id of the business record a transfer links to: a settlement's is its
/// institution's code, `/` and the claim id (at most 12 + 1 + 64).
pub const RECORD_ID_LEN_LIMIT: usize = 96;

/// Characters in an institution's or insurer's code (`H41010000012` has 12).
pub const PARTY_CODE_LEN_LIMIT: usize = 20;

/// Units (the city itself and its counties) in one pooling computation. Chinese cities have
/// at most a few dozen counties and districts.
pub const UNITS_LIMIT: usize = 100;

/// Institutions in one payment year's clearing: a city's designated hospitals and
/// pharmacies, the register's own limit (`yibao_store::INSTITUTIONS_LIMIT`).
pub const CLEARING_INSTITUTIONS_LIMIT: usize = 20_000;

/// Rounds of one payment year's clearing: the clearing and its supplementary clearings.
pub const CLEARING_ROUNDS_LIMIT: u32 = 100;

/// Fund positions (scheme fund × unit) in one levy or deficit waterfall: every scheme fund
/// of every unit, with room to spare.
pub const POSITIONS_LIMIT: usize = 2_000;

/// Years with a minimum share in a legacy-deficit repayment schedule (R-FIN-4 allows old
/// debts over up to five years; Sanmenxia uses two).
pub const INSTALMENT_YEARS_LIMIT: usize = 10;

/// Repayments one legacy-deficit status computation reads.
pub const REPAYMENTS_LIMIT: usize = 10_000;

/// Breaches one check reports. Past this the report ends with
/// [`Breach::Truncated`](crate::Breach::Truncated): the first ones already name the problem.
pub const BREACHES_LIMIT: usize = 1_000;

/// Largest total an account may have posted on one side: 10 trillion yuan. Far above a
/// century of a province's funds, far below `i64::MAX`, so sums never overflow.
pub const POSTED_LIMIT_FEN: i64 = 1_000_000_000_000_000;
