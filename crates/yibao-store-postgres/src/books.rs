//! The fund books in PostgreSQL: posting inside the caller's transaction, set-based (one
//! statement per step, whatever the number of entries), and the reads the pooling run and
//! the reports need (see `yibao_store::books`, `yibao_store::fund`).
//!
//! Locks: a posting creates the accounts it needs (`ON CONFLICT DO NOTHING`) and then locks
//! them, both in `AccountKey` order, after any person or accumulator rows its business
//! record locked and before the audit chain's head: the order every writer follows.

use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};
use time::Date;
use yibao_domain::RegionCode;
use yibao_ledger::{AccountKey, AccountState, Fund, FundScheme, YearMonth};
use yibao_store::books::{AccountRow, BOOKS_EPOCH, Entry, TransferRow, date_text, needs, open_account, post_onto};
use yibao_store::closing::{
    InterestInputs, InterestLine, YearEndInputs, YearEndOptions, YearEndRecord, plan_interest, plan_year_end, special_history, year_bounds,
};
use yibao_store::handover::{HandoverRequest, Inventory, check_confirmation, handover_entries, inventory};
use yibao_store::legacy::{LegacyRepayment, LegacyRequest, LegacyView, establish, repayment_entry, view as legacy_view};
use yibao_store::payment_clearing::{ClearingOutcome, PaymentClearing};
use yibao_store::pooling::{HeldBack, PoolingInputs, PoolingRun, plan_pooling};
use yibao_store::{
    Actor, Budget, CountyTargets, FundReceipt, FundStore, Movement, PoolingOutcome, StoreError, TargetsProgress, YearEndOutcome,
    YearEndPreview, check_scope, city_of,
};

use crate::{PostgresStore, audit, backend, from_json, json, region_of, scope_bounds};

const ACCOUNT_COLUMNS: &str = "region_code, fund_scheme, holder, kind, no_overdraft, opened_on, debits_posted_fen, credits_posted_fen";
const TRANSFER_COLUMNS: &str = "region_code, transfer_id, fund_scheme, debit_holder, debit_kind, credit_holder, credit_kind, amount_fen, reason, cause_kind, cause_id, value_date, reverses, pair_id, unit_code";

fn account_row(row: &PgRow) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        region_code: row.try_get("region_code").map_err(backend)?,
        fund_scheme: row.try_get("fund_scheme").map_err(backend)?,
        holder: row.try_get("holder").map_err(backend)?,
        kind: row.try_get("kind").map_err(backend)?,
        no_overdraft: row.try_get("no_overdraft").map_err(backend)?,
        opened_on: row.try_get("opened_on").map_err(backend)?,
        debits_posted_fen: row.try_get("debits_posted_fen").map_err(backend)?,
        credits_posted_fen: row.try_get("credits_posted_fen").map_err(backend)?,
    })
}

/// A claim row with the accumulators it started from and left (`acc_before`, `acc_after`).
fn stored_claim(row: &PgRow) -> Result<yibao_store::StoredClaim, StoreError> {
    let bytes = |column: &str| row.try_get::<&[u8], _>(column).map_err(backend);
    let stored = || Ok([bytes("settlement")?, bytes("claim")?, bytes("acc_before")?, bytes("acc_after")?]);
    let unpacked = yibao_store::compact::UnpackedClaim::read(stored());
    Ok(yibao_store::StoredClaim {
        record: crate::claim_with(row, unpacked.settlement, unpacked.claim)?,
        acc_before: unpacked.acc_before,
        acc_after: unpacked.acc_after,
        insutype: row.try_get("insutype").map_err(backend)?,
        supplementary_fen: row.try_get("supplementary_fen").map_err(backend)?,
        columns: crate::claim_columns(row)?,
        unreadable: unpacked.unreadable,
    })
}

fn transfer_row(row: &PgRow) -> Result<TransferRow, StoreError> {
    let get = |name: &str| row.try_get::<String, _>(name).map_err(backend);
    Ok(TransferRow {
        region_code: get("region_code")?,
        transfer_id: get("transfer_id")?,
        fund_scheme: get("fund_scheme")?,
        debit_holder: get("debit_holder")?,
        debit_kind: get("debit_kind")?,
        credit_holder: get("credit_holder")?,
        credit_kind: get("credit_kind")?,
        amount_fen: row.try_get("amount_fen").map_err(backend)?,
        reason: get("reason")?,
        cause_kind: get("cause_kind")?,
        cause_id: get("cause_id")?,
        value_date: get("value_date")?,
        reverses: row.try_get("reverses").map_err(backend)?,
        pair_id: row.try_get("pair_id").map_err(backend)?,
        unit_code: get("unit_code")?,
    })
}

/// Account rows as parallel arrays, for `UNNEST`.
#[derive(Default)]
struct AccountColumns {
    region: Vec<String>,
    scheme: Vec<String>,
    holder: Vec<String>,
    kind: Vec<String>,
    no_overdraft: Vec<bool>,
    opened_on: Vec<String>,
    debits: Vec<i64>,
    credits: Vec<i64>,
}

impl AccountColumns {
    fn push(&mut self, row: AccountRow) {
        self.region.push(row.region_code);
        self.scheme.push(row.fund_scheme);
        self.holder.push(row.holder);
        self.kind.push(row.kind);
        self.no_overdraft.push(row.no_overdraft);
        self.opened_on.push(row.opened_on);
        self.debits.push(row.debits_posted_fen);
        self.credits.push(row.credits_posted_fen);
    }
}

/// Posts `entries` inside the caller's transaction: creates and locks the accounts they
/// touch, loads the transfers they refer to, posts by the ledger's rules, and writes the
/// totals and the new transfers. Refused whole, writing nothing, if any rule refuses.
pub(crate) async fn post(tx: &mut PgConnection, posted_at: &str, entries: &[Entry]) -> Result<(), StoreError> {
    let cities: Vec<String> = yibao_store::periods::cities_of(entries).iter().map(ToString::to_string).collect();
    let closes: Vec<(String, i32)> =
        sqlx::query_as("SELECT region_code, max(year) FROM year_closes WHERE region_code = ANY($1) GROUP BY region_code")
            .bind(&cities)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
    let closed = closes.iter().map(|(city, year)| Ok((region_of(city)?, *year))).collect::<Result<_, StoreError>>()?;
    yibao_store::periods::check_open(entries, &closed)?;
    let batches = yibao_store::books::batches(entries);
    if batches.len() > 1 {
        // Every account of every batch locked at once, in the one order (`one-lock-order`):
        // a batch locking its own accounts after an earlier batch's would lock in two steps.
        open_and_lock(tx, &needs(entries).accounts).await?;
    }
    for batch in batches {
        post_batch(tx, posted_at, batch).await?;
    }
    Ok(())
}

/// The one order in which every transaction locks ledger accounts (ARCHITECTURE.md,
/// `one-lock-order`): by region, fund, holder and kind, as the database orders text. Two
/// transactions that lock in one order, each in one statement, cannot wait for each other
/// in a cycle; a transaction that locks again later (a city's run, which posts after it
/// reads) first locks every account of the city ([`lock_city_books`]).
const ACCOUNT_LOCK_ORDER: &str = "ORDER BY a.region_code, a.fund_scheme, a.holder, a.kind";

/// Opens the accounts `keys` that do not exist yet, then locks them all in the one order
/// and returns them as stored.
async fn open_and_lock(tx: &mut PgConnection, keys: &[AccountKey]) -> Result<Vec<AccountState>, StoreError> {
    let mut wanted = AccountColumns::default();
    for key in keys {
        wanted.push(AccountRow::of(&AccountState::new(open_account(*key)?)));
    }
    sqlx::query(
        "INSERT INTO ledger_accounts (region_code, fund_scheme, holder, kind, no_overdraft, opened_on, debits_posted_fen, credits_posted_fen) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::int8[], $8::int8[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&wanted.region)
    .bind(&wanted.scheme)
    .bind(&wanted.holder)
    .bind(&wanted.kind)
    .bind(&wanted.no_overdraft)
    .bind(&wanted.opened_on)
    .bind(&wanted.debits)
    .bind(&wanted.credits)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS k(r, s, h, kd) \
         JOIN ledger_accounts a ON a.region_code = k.r AND a.fund_scheme = k.s AND a.holder = k.h AND a.kind = k.kd \
         {ACCOUNT_LOCK_ORDER} FOR UPDATE OF a",
        ACCOUNT_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ")
    )))
    .bind(&wanted.region)
    .bind(&wanted.scheme)
    .bind(&wanted.holder)
    .bind(&wanted.kind)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    rows.iter().map(|row| account_row(row)?.state()).collect()
}

/// Posts one batch of at most `BATCH_LIMIT` entries (see `batches`).
async fn post_batch(tx: &mut PgConnection, posted_at: &str, entries: &[Entry]) -> Result<(), StoreError> {
    let needs = needs(entries);
    let accounts = open_and_lock(tx, &needs.accounts).await?;
    let regions: Vec<String> =
        entries.iter().map(|e| e.transfer.fund().region.to_string()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let ids: Vec<&str> = needs.transfers.iter().map(|id| id.as_str()).collect();
    let originals: Vec<&str> = needs.reversals_of.iter().map(|id| id.as_str()).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = ANY($1) AND (transfer_id = ANY($2) OR reverses = ANY($3)) ORDER BY seq"
    )))
    .bind(&regions)
    .bind(&ids)
    .bind(&originals)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let transfers = rows.iter().map(|row| Ok(transfer_row(row)?.entry()?.transfer)).collect::<Result<Vec<_>, StoreError>>()?;
    let posting = post_onto(accounts, transfers, entries)?;

    let mut totals = AccountColumns::default();
    for (state, _) in &posting.accounts {
        totals.push(AccountRow::of(state));
    }
    sqlx::query(
        "UPDATE ledger_accounts a SET debits_posted_fen = u.d, credits_posted_fen = u.c \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[]) AS u(r, s, h, k, d, c) \
         WHERE a.region_code = u.r AND a.fund_scheme = u.s AND a.holder = u.h AND a.kind = u.k",
    )
    .bind(&totals.region)
    .bind(&totals.scheme)
    .bind(&totals.holder)
    .bind(&totals.kind)
    .bind(&totals.debits)
    .bind(&totals.credits)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;

    let rows: Vec<TransferRow> = posting.entries.iter().map(TransferRow::of).collect();
    let column = |f: fn(&TransferRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let optional = |f: fn(&TransferRow) -> Option<String>| rows.iter().map(f).collect::<Vec<Option<String>>>();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}, posted_at) \
         SELECT *, $16 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[], \
                                  $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])"
    )))
    .bind(column(|r| r.region_code.clone()))
    .bind(column(|r| r.transfer_id.clone()))
    .bind(column(|r| r.fund_scheme.clone()))
    .bind(column(|r| r.debit_holder.clone()))
    .bind(column(|r| r.debit_kind.clone()))
    .bind(column(|r| r.credit_holder.clone()))
    .bind(column(|r| r.credit_kind.clone()))
    .bind(rows.iter().map(|r| r.amount_fen).collect::<Vec<i64>>())
    .bind(column(|r| r.reason.clone()))
    .bind(column(|r| r.cause_kind.clone()))
    .bind(column(|r| r.cause_id.clone()))
    .bind(column(|r| r.value_date.clone()))
    .bind(optional(|r| r.reverses.clone()))
    .bind(optional(|r| r.pair_id.clone()))
    .bind(column(|r| r.unit_code.clone()))
    .bind(posted_at)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    // The running outstanding of each unit and payee, in the same transaction (issue 17),
    // in the key's order. Its rows change only under the lock of the payee's payable
    // account, taken above, so they add no lock order of their own.
    let changes = yibao_store::books::payable_changes(&posting.entries);
    if !changes.is_empty() {
        let part = |f: fn(&yibao_store::books::PayableChange) -> String| changes.iter().map(f).collect::<Vec<String>>();
        sqlx::query(
            "INSERT INTO ledger_payables (region_code, fund_scheme, unit_code, payee, outstanding_fen) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) \
             ON CONFLICT (region_code, fund_scheme, unit_code, payee) \
             DO UPDATE SET outstanding_fen = ledger_payables.outstanding_fen + excluded.outstanding_fen",
        )
        .bind(part(|c| c.0.0.clone()))
        .bind(part(|c| c.0.1.clone()))
        .bind(part(|c| c.0.2.clone()))
        .bind(part(|c| c.0.3.clone()))
        .bind(changes.iter().map(|c| c.1).collect::<Vec<i64>>())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

/// Which of a person's accounts a city's run locks with the city's books.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PersonAccounts {
    /// Only what the fund owes persons (their payables): the run pays them; a person's
    /// own account is not the run's (pooling, interest, the close). Millions of personal
    /// accounts stay unlocked.
    Payables,
    /// Every account of every person too: a handover moves each balance of a fund.
    All,
}

/// Takes the city's books lock for the rest of the transaction: pooling runs, closes,
/// interest and handovers of one city run one at a time, so none reads half of another.
/// Then every account of the city the run may post to is locked, in the one order
/// (`one-lock-order`): such a run reads and then posts, and the accounts it posts to later
/// are already its own, so no posting can hold one of them while waiting for another the
/// run holds. Postings to those accounts wait for the run to commit.
async fn lock_city_books(tx: &mut PgConnection, city: RegionCode, persons: PersonAccounts) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('pooling:' || $1))")
        .bind(city.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let (low, high) = scope_bounds(city);
    let which = match persons {
        PersonAccounts::Payables => "AND (a.holder NOT LIKE 'person:%' OR a.kind = 'payable')",
        PersonAccounts::All => "",
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT 1 FROM ledger_accounts a WHERE a.region_code BETWEEN $1 AND $2 {which} {ACCOUNT_LOCK_ORDER} FOR UPDATE"
    )))
    .bind(low)
    .bind(high)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    Ok(())
}

/// The city's books lock with every account it may pay from or to (its payables, not the
/// persons' own accounts): what an administrator's revolving fund pays is read and posted
/// while no pooling run or other payment is between (`one-lock-order`).
pub(crate) async fn lock_city_payables(tx: &mut PgConnection, city: RegionCode) -> Result<(), StoreError> {
    lock_city_books(tx, city, PersonAccounts::Payables).await
}

/// The transfers a business record caused, in posting order.
pub(crate) async fn entries_caused_by(tx: &mut PgConnection, city: RegionCode, kind: &str, id: &str) -> Result<Vec<Entry>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = $1 AND cause_kind = $2 AND cause_id = $3 ORDER BY seq"
    )))
    .bind(city.to_string())
    .bind(kind)
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    rows.iter().map(|row| transfer_row(row)?.entry()).collect()
}

/// Movements dated `from..=to` caused by units in `scope`, by fund, unit, reason and kinds.
async fn movements_in(conn: &mut PgConnection, scope: RegionCode, from: Date, to: Date) -> Result<Vec<Movement>, StoreError> {
    let (low, high) = scope_bounds(scope);
    let rows = sqlx::query(
        "SELECT fund_scheme, unit_code, reason, debit_kind, credit_kind, COUNT(*)::int8 AS transfers, SUM(amount_fen)::int8 AS amount FROM ledger_transfers \
         WHERE region_code = $1 AND unit_code BETWEEN $2 AND $3 AND value_date BETWEEN $4 AND $5 \
         GROUP BY fund_scheme, unit_code, reason, debit_kind, credit_kind ORDER BY fund_scheme, unit_code, reason, debit_kind, credit_kind",
    )
    .bind(scope.city().to_string())
    .bind(low)
    .bind(high)
    .bind(date_text(from))
    .bind(date_text(to))
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let text = |name: &str| row.try_get::<String, _>(name).map_err(backend);
            Movement::from_columns(
                &text("fund_scheme")?,
                &text("unit_code")?,
                &text("reason")?,
                &text("debit_kind")?,
                &text("credit_kind")?,
                row.try_get("transfers").map_err(backend)?,
                row.try_get("amount").map_err(backend)?,
            )
        })
        .collect()
}

/// The special accounts' net change per fund and day, up to `to`, leaving out the interest
/// credited for `period` itself: interest does not earn interest in the period it is for.
async fn special_daily(
    conn: &mut PgConnection,
    city: RegionCode,
    to: Date,
    period: &str,
) -> Result<Vec<(FundScheme, Date, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT fund_scheme, value_date, SUM(CASE WHEN debit_kind = 'fiscal-special' THEN amount_fen ELSE -amount_fen END)::int8 AS change FROM ledger_transfers \
         WHERE region_code = $1 AND (debit_kind = 'fiscal-special' OR credit_kind = 'fiscal-special') AND value_date <= $2 \
           AND NOT (reason = 'interest' AND cause_id = $3) \
         GROUP BY fund_scheme, value_date ORDER BY fund_scheme, value_date",
    )
    .bind(city.to_string())
    .bind(date_text(to))
    .bind(period)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let scheme: String = row.try_get("fund_scheme").map_err(backend)?;
            Ok((
                FundScheme::parse(&scheme).ok_or_else(|| StoreError::Backend(format!("stored fund unreadable: {scheme}")))?,
                yibao_store::books::date_of(row.try_get("value_date").map_err(backend)?)?,
                row.try_get("change").map_err(backend)?,
            ))
        })
        .collect()
}

/// The accounts of one fund (locked), and how many of its transfers are dated up to and
/// after `cut_off`.
async fn fund_state(tx: &mut PgConnection, fund: Fund, cut_off: Date) -> Result<(Vec<AccountState>, i64, i64), StoreError> {
    let (region, scheme) = (fund.region.to_string(), fund.scheme.as_str());
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = $1 AND fund_scheme = $2 ORDER BY holder, kind FOR UPDATE"
    )))
    .bind(&region)
    .bind(scheme)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let accounts = rows.iter().map(|row| account_row(row)?.state()).collect::<Result<Vec<_>, _>>()?;
    let (upto, later): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE value_date <= $3), COUNT(*) FILTER (WHERE value_date > $3) FROM ledger_transfers WHERE region_code = $1 AND fund_scheme = $2",
    )
    .bind(&region)
    .bind(scheme)
    .bind(date_text(cut_off))
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    Ok((accounts, upto, later))
}

/// One account as stored, if it was ever opened.
async fn account_state(tx: &mut PgConnection, key: AccountKey) -> Result<Option<AccountState>, StoreError> {
    let key = AccountRow::of(&AccountState::new(open_account(key)?));
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = $1 AND fund_scheme = $2 AND holder = $3 AND kind = $4"
    )))
    .bind(&key.region_code)
    .bind(&key.fund_scheme)
    .bind(&key.holder)
    .bind(&key.kind)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    row.as_ref().map(|row| account_row(row)?.state()).transpose()
}

/// What a county paid into the adjustment fund, as the books say: the credits of its
/// position there and of what was brought in for it.
async fn paid_into_adjustment(tx: &mut PgConnection, city: RegionCode, county: RegionCode) -> Result<yibao_domain::Fen, StoreError> {
    let mut paid = yibao_domain::Fen::ZERO;
    for key in yibao_store::legacy::paid_in_accounts(city, county) {
        if let Some(state) = account_state(tx, key).await? {
            paid += state.credits_posted_fen;
        }
    }
    Ok(paid)
}

/// A stored legacy deficit's schedule and the repayments booked against it.
async fn legacy_of(
    conn: &mut PgConnection,
    city: RegionCode,
    request: &LegacyRequest,
) -> Result<(yibao_ledger::LegacySchedule, Vec<yibao_ledger::Repayment>), StoreError> {
    let inputs = request.inputs(city, yibao_domain::Fen::ZERO)?;
    let (schedule, _) = establish(&inputs)?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT value_date, amount_fen FROM ledger_transfers WHERE region_code = $1 AND fund_scheme = $2 AND reason = 'legacy-repayment' \
         AND credit_holder = $3 AND credit_kind = 'receivable' ORDER BY value_date",
    )
    .bind(city.to_string())
    .bind(inputs.fund.scheme.as_str())
    .bind(yibao_ledger::Holder::Finance(inputs.county).to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    let repayments = rows
        .iter()
        .map(|(day, amount)| {
            Ok(yibao_ledger::Repayment { on: yibao_store::books::date_of(day)?, amount_fen: yibao_store::books::total_of(*amount)? })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((schedule, repayments))
}

/// The targets of `year` for units in `scope`, with each county's persons and collections.
async fn targets_in(conn: &mut PgConnection, scope: RegionCode, year: i32) -> Result<Vec<TargetsProgress>, StoreError> {
    let (low, high) = scope_bounds(scope);
    let rows: Vec<(i32, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT t.year, t.unit_code, t.enrolment_target, t.collection_target_fen, \
                (SELECT COUNT(*) FROM person_index p WHERE p.region_code = t.unit_code)::int8, \
                (SELECT COALESCE(SUM(c.paid_fen), 0) FROM contributions c WHERE c.region_code = t.unit_code AND substr(c.period, 1, 4) = $5)::int8 \
         FROM county_targets t WHERE t.region_code = $1 AND t.year = $2 AND t.unit_code BETWEEN $3 AND $4 ORDER BY t.unit_code",
    )
    .bind(scope.city().to_string())
    .bind(year)
    .bind(low)
    .bind(high)
    .bind(format!("{year:04}"))
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    rows.into_iter()
        .map(|(year, unit, enrolment_target, collection_target_fen, enrolled, collected)| {
            let targets = CountyTargets {
                year,
                unit,
                enrolment_target: u32::try_from(enrolment_target).map_err(|e| StoreError::Backend(e.to_string()))?,
                collection_target_fen,
            };
            Ok(TargetsProgress::new(targets, u32::try_from(enrolled).unwrap_or(u32::MAX), collected))
        })
        .collect()
}

async fn pooling_inputs(
    tx: &mut PgConnection,
    city: RegionCode,
    month: YearMonth,
    value_date: Date,
    held_back: Vec<HeldBack>,
) -> Result<PoolingInputs, StoreError> {
    let city_text = city.to_string();
    let day = date_text(value_date);
    // The income and special accounts as of the value date (money arriving later waits),
    // and what each unit's insured owe each payee then: the running totals less what was
    // dated after the day, read through the index by date (issue 17). Each in one
    // statement, one snapshot: the run reads at READ COMMITTED, and a posting to accounts
    // new since the city's lock could commit between two statements, counted in one and
    // not the other (hostile review).
    let rows: yibao_store::pooling::AccountSums =
        sqlx::query_as(yibao_store::pooling::ACCOUNTS_AS_OF_SQL).bind(&city_text).bind(&day).fetch_all(&mut *tx).await.map_err(backend)?;
    let accounts = yibao_store::pooling::accounts_as_of(city, &rows)?;
    let rows: yibao_store::pooling::PayableSums = sqlx::query_as(yibao_store::pooling::OUTSTANDING_AS_OF_SQL)
        .bind(&city_text)
        .bind(&day)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    let outstanding = yibao_store::pooling::outstanding_as_of(&rows)?;
    Ok(PoolingInputs { city, month, value_date, accounts, outstanding, held_back })
}

/// The close of `year` for `city` as the books stand in `tx`: its record and the transfers
/// it would post, or the record of the close already made. `close_year` posts it (under the
/// city's lock), `preview_year_end` shows it (in a read-only snapshot).
async fn year_end_plan(
    tx: &mut PgConnection,
    city: RegionCode,
    year: i32,
    options: YearEndOptions,
) -> Result<Result<(YearEndRecord, Vec<Entry>), YearEndRecord>, StoreError> {
    let city_text = city.to_string();
    let earlier: Option<String> = sqlx::query_scalar("SELECT result FROM year_closes WHERE region_code = $1 AND year = $2")
        .bind(&city_text)
        .bind(year)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    if let Some(result) = earlier {
        return Ok(Err(from_json(&result)?));
    }
    let (latest, earliest): (Option<i32>, Option<String>) = sqlx::query_as(
        "SELECT (SELECT max(year) FROM year_closes WHERE region_code = $1), (SELECT min(value_date) FROM ledger_transfers WHERE region_code = $1 AND cause_kind <> 'opening-balance')",
    )
    .bind(&city_text)
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    let earliest = earliest.map(|text| yibao_store::books::date_of(&text)).transpose()?;
    yibao_store::periods::check_close_order(city, year, latest, earliest)?;
    let (first, last) = year_bounds(year)?;
    let before_last = first.previous_day().unwrap_or(BOOKS_EPOCH);
    let adjustment = AccountKey::special(Fund::adjustment(city));
    let state = account_state(tx, adjustment).await?;
    let key = AccountRow::of(&AccountState::new(open_account(adjustment)?));
    let (later_debits, later_credits): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN debit_holder = $3 AND debit_kind = $4 THEN amount_fen ELSE 0 END), 0)::int8, \
                COALESCE(SUM(CASE WHEN credit_holder = $3 AND credit_kind = $4 THEN amount_fen ELSE 0 END), 0)::int8 \
         FROM ledger_transfers WHERE region_code = $1 AND fund_scheme = $2 AND value_date > $5",
    )
    .bind(&key.region_code)
    .bind(&key.fund_scheme)
    .bind(&key.holder)
    .bind(&key.kind)
    .bind(yibao_store::books::date_text(last))
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    let adjustment_balance_fen = yibao_store::closing::balance_as_of(
        state,
        yibao_store::books::total_of(later_debits)?,
        yibao_store::books::total_of(later_credits)?,
    );
    // Without targets given, the counties are scored by those the city set (R-ENR-6).
    let mut options = options;
    if options.targets.is_empty() {
        options.targets = targets_in(&mut *tx, city, year).await?.iter().map(TargetsProgress::unit_targets).collect::<Result<_, _>>()?;
    }
    let inputs = YearEndInputs {
        city,
        year,
        before: movements_in(&mut *tx, city, BOOKS_EPOCH, before_last).await?,
        during: movements_in(&mut *tx, city, first, last).await?,
        adjustment_balance_fen,
        options,
    };
    Ok(Ok(plan_year_end(&inputs)?))
}

impl FundStore for PostgresStore {
    async fn close_year(&self, actor: &Actor, scope: RegionCode, year: i32, options: YearEndOptions) -> Result<YearEndOutcome, StoreError> {
        let city = city_of(scope)?;
        let mut tx = self.write().await?;
        // One close per city at a time; the pooling runs share the lock, so a close never
        // reads half of a run. The lock holds every account the close posts to.
        lock_city_books(&mut tx, city, PersonAccounts::Payables).await?;
        let (record, entries) = match year_end_plan(&mut tx, city, year, options).await? {
            Ok(plan) => plan,
            Err(record) => return Ok(YearEndOutcome { record, ran_now: false }),
        };
        post(&mut tx, &actor.at_text(), &entries).await?;
        let result = json(&record)?;
        sqlx::query("INSERT INTO year_closes (region_code, year, run_at, actor, result) VALUES ($1, $2, $3, $4, $5)")
            .bind(city.to_string())
            .bind(year)
            .bind(actor.at_text())
            .bind(&actor.who)
            .bind(&result)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, city, "fund.year_close", &year.to_string(), result).await?;
        tx.commit().await.map_err(backend)?;
        Ok(YearEndOutcome { record, ran_now: true })
    }

    async fn preview_year_end(&self, scope: RegionCode, year: i32, options: YearEndOptions) -> Result<YearEndPreview, StoreError> {
        let city = city_of(scope)?;
        // A read-only snapshot: the books a close would read, none locked.
        let mut tx = self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(backend)?;
        let planned = year_end_plan(&mut tx, city, year, options).await?;
        tx.rollback().await.map_err(backend)?;
        Ok(match planned {
            Ok((record, _)) => YearEndPreview { record, closed: false },
            Err(record) => YearEndPreview { record, closed: true },
        })
    }

    async fn credit_interest(
        &self,
        actor: &Actor,
        scope: RegionCode,
        from: Date,
        to: Date,
        annual_rate_bp: yibao_domain::RatioBp,
        rounding: yibao_domain::Rounding,
    ) -> Result<Vec<InterestLine>, StoreError> {
        let city = city_of(scope)?;
        let mut tx = self.write().await?;
        // Under the city's pooling lock: no run moves the special accounts meanwhile.
        lock_city_books(&mut tx, city, PersonAccounts::Payables).await?;
        let inputs = InterestInputs {
            city,
            from,
            to,
            annual_rate_bp,
            rounding,
            funds: special_history(&special_daily(&mut tx, city, to, &yibao_store::closing::interest_period(from, to)).await?, from),
            credited: sqlx::query_scalar(
                "SELECT DISTINCT cause_id FROM ledger_transfers WHERE region_code = $1 AND cause_kind = 'interest-credit'",
            )
            .bind(city.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?,
        };
        let (lines, entries) = plan_interest(&inputs)?;
        post(&mut tx, &actor.at_text(), &entries).await?;
        audit(&mut tx, actor, city, "fund.interest", &format!("{}..{}", date_text(from), date_text(to)), json(&lines)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(lines)
    }

    async fn year_closes(&self, scope: RegionCode) -> Result<Vec<YearEndRecord>, StoreError> {
        let results: Vec<String> = sqlx::query_scalar("SELECT result FROM year_closes WHERE region_code = $1 ORDER BY year DESC")
            .bind(scope.city().to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        results.iter().map(|r| from_json(r)).collect()
    }

    async fn record_fund_receipt(&self, actor: &Actor, scope: RegionCode, receipt: FundReceipt) -> Result<(), StoreError> {
        let city = city_of(scope)?;
        check_scope(city, receipt.unit)?;
        let entry = receipt.entry()?;
        let mut tx = self.write().await?;
        // Booked already with the same content: a replay, which changes nothing, not even
        // the audit log (and is answered so after its year is closed too).
        let stored = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = $1 AND transfer_id = $2"
        )))
        .bind(city.to_string())
        .bind(entry.transfer.id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if stored.as_ref().map(|row| transfer_row(row)?.entry()).transpose()?.is_some_and(|stored| stored.transfer == entry.transfer) {
            return Ok(());
        }
        post(&mut tx, &actor.at_text(), std::slice::from_ref(&entry)).await?;
        let detail = receipt.audit_detail(&entry);
        audit(&mut tx, actor, city, "fund.receipt", entry.transfer.id.as_str(), detail).await?;
        tx.commit().await.map_err(backend)
    }

    async fn run_pooling(
        &self,
        actor: &Actor,
        scope: RegionCode,
        month: YearMonth,
        value_date: Date,
        held_back: Vec<HeldBack>,
    ) -> Result<PoolingOutcome, StoreError> {
        let city = city_of(scope)?;
        let (city_text, month_text) = (city.to_string(), month.to_string());
        let mut tx = self.write().await?;
        // One run per city at a time: the run's row is claimed first, so a second run of the
        // same month waits here and then finds the first one's record.
        lock_city_books(&mut tx, city, PersonAccounts::Payables).await?;
        let earlier: Option<String> = sqlx::query_scalar("SELECT result FROM pooling_runs WHERE region_code = $1 AND month = $2")
            .bind(&city_text)
            .bind(&month_text)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(result) = earlier {
            return Ok(PoolingOutcome { run: from_json(&result)?, ran_now: false });
        }
        let latest: Option<String> = sqlx::query_scalar("SELECT max(month) FROM pooling_runs WHERE region_code = $1")
            .bind(city.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        yibao_store::pooling::check_month_order(month, latest.as_deref())?;
        let (run, entries) = plan_pooling(&pooling_inputs(&mut tx, city, month, value_date, held_back).await?)?;
        post(&mut tx, &actor.at_text(), &entries).await?;
        let result = json(&run)?;
        sqlx::query("INSERT INTO pooling_runs (region_code, month, run_at, actor, result) VALUES ($1, $2, $3, $4, $5)")
            .bind(&city_text)
            .bind(&month_text)
            .bind(actor.at_text())
            .bind(&actor.who)
            .bind(&result)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, city, "fund.pooling_run", &month_text, result).await?;
        tx.commit().await.map_err(backend)?;
        Ok(PoolingOutcome { run, ran_now: true })
    }

    async fn preview_pooling(
        &self,
        scope: RegionCode,
        month: YearMonth,
        value_date: Date,
        held_back: Vec<HeldBack>,
    ) -> Result<PoolingOutcome, StoreError> {
        let city = city_of(scope)?;
        // A read-only snapshot: the same inputs a run would lock, none locked.
        let mut tx = self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(backend)?;
        let earlier: Option<String> = sqlx::query_scalar("SELECT result FROM pooling_runs WHERE region_code = $1 AND month = $2")
            .bind(city.to_string())
            .bind(month.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(result) = earlier {
            return Ok(PoolingOutcome { run: from_json(&result)?, ran_now: false });
        }
        let latest: Option<String> = sqlx::query_scalar("SELECT max(month) FROM pooling_runs WHERE region_code = $1")
            .bind(city.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        yibao_store::pooling::check_month_order(month, latest.as_deref())?;
        let (run, _) = plan_pooling(&pooling_inputs(&mut tx, city, month, value_date, held_back).await?)?;
        tx.rollback().await.map_err(backend)?;
        Ok(PoolingOutcome { run, ran_now: false })
    }

    async fn set_budget(&self, actor: &Actor, scope: RegionCode, budget: Budget) -> Result<(), StoreError> {
        let city = city_of(scope)?;
        let (_, unit) = budget.check()?;
        check_scope(city, unit)?;
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO fund_budgets (region_code, year, fund_scheme, unit_code, income_fen, spending_fen, set_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (region_code, year, fund_scheme, unit_code) DO UPDATE SET income_fen = excluded.income_fen, spending_fen = excluded.spending_fen, set_at = excluded.set_at, actor = excluded.actor",
        )
        .bind(city.to_string())
        .bind(budget.year)
        .bind(&budget.fund_scheme)
        .bind(&budget.unit)
        .bind(budget.income_fen)
        .bind(budget.spending_fen)
        .bind(actor.at_text())
        .bind(&actor.who)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let entity = format!("{}/{}/{}", budget.year, budget.fund_scheme, budget.unit);
        let detail = format!("{{\"income_fen\":{},\"spending_fen\":{}}}", budget.income_fen, budget.spending_fen);
        audit(&mut tx, actor, city, "fund.budget", &entity, detail).await?;
        tx.commit().await.map_err(backend)
    }

    async fn set_targets(&self, actor: &Actor, scope: RegionCode, targets: CountyTargets) -> Result<(), StoreError> {
        let city = city_of(scope)?;
        let unit = targets.check()?;
        check_scope(city, unit)?;
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO county_targets (region_code, year, unit_code, enrolment_target, collection_target_fen, set_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (region_code, year, unit_code) DO UPDATE SET enrolment_target = excluded.enrolment_target, \
             collection_target_fen = excluded.collection_target_fen, set_at = excluded.set_at, actor = excluded.actor",
        )
        .bind(city.to_string())
        .bind(targets.year)
        .bind(&targets.unit)
        .bind(i64::from(targets.enrolment_target))
        .bind(targets.collection_target_fen)
        .bind(actor.at_text())
        .bind(&actor.who)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        audit(&mut tx, actor, city, "fund.targets", &format!("{}/{}", targets.year, targets.unit), json(&targets)?).await?;
        tx.commit().await.map_err(backend)
    }

    async fn targets(&self, scope: RegionCode, year: i32) -> Result<Vec<TargetsProgress>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        targets_in(&mut conn, scope, year).await
    }

    async fn budgets(&self, scope: RegionCode, year: i32) -> Result<Vec<Budget>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows = sqlx::query(
            "SELECT year, fund_scheme, unit_code, income_fen, spending_fen FROM fund_budgets \
             WHERE region_code = $1 AND year = $2 AND unit_code BETWEEN $3 AND $4 ORDER BY fund_scheme, unit_code",
        )
        .bind(scope.city().to_string())
        .bind(year)
        .bind(low)
        .bind(high)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(Budget {
                    year: row.try_get("year").map_err(backend)?,
                    fund_scheme: row.try_get("fund_scheme").map_err(backend)?,
                    unit: row.try_get("unit_code").map_err(backend)?,
                    income_fen: row.try_get("income_fen").map_err(backend)?,
                    spending_fen: row.try_get("spending_fen").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn prepare_handover(&self, actor: &Actor, scope: RegionCode, request: HandoverRequest) -> Result<Inventory, StoreError> {
        let city = city_of(scope)?;
        request.check()?;
        let mut tx = self.write().await?;
        lock_city_books(&mut tx, city, PersonAccounts::All).await?;
        let (accounts, transfers, later) = fund_state(&mut tx, Fund::new(request.from, city), request.cut_off).await?;
        if later > 0 {
            return Err(StoreError::Invalid(format!(
                "{} has {later} transfers dated after the cut-off {}: a fund is handed over as its books stand",
                request.from, request.cut_off
            )));
        }
        if accounts.is_empty() {
            return Err(StoreError::Invalid(format!("{} has no books to hand over", request.from)));
        }
        let inventory = inventory(city, &request, &accounts, transfers, &actor.who, &actor.at_text())?;
        let inserted = sqlx::query(
            "INSERT INTO fund_handovers (region_code, reference, inventory, prepared_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(city.to_string())
        .bind(&request.reference)
        .bind(json(&inventory)?)
        .bind(&actor.who)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("handover {}", request.reference)));
        }
        audit(&mut tx, actor, city, "fund.handover_signed", &request.reference, json(&inventory)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(inventory)
    }

    async fn confirm_handover(&self, actor: &Actor, scope: RegionCode, reference: &str, checksum: &str) -> Result<Inventory, StoreError> {
        let city = city_of(scope)?;
        let mut tx = self.write().await?;
        lock_city_books(&mut tx, city, PersonAccounts::All).await?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT inventory FROM fund_handovers WHERE region_code = $1 AND reference = $2 FOR UPDATE")
                .bind(city.to_string())
                .bind(reference)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let mut signed: Inventory =
            from_json(&stored.ok_or_else(|| StoreError::Invalid(format!("no handover {reference} in city {city}")))?)?;
        let request = signed.request()?;
        let (accounts, transfers, _) = fund_state(&mut tx, Fund::new(request.from, city), request.cut_off).await?;
        let recomputed = inventory(city, &request, &accounts, transfers, &signed.prepared_by, &signed.prepared_at)?;
        check_confirmation(&signed, &recomputed, &actor.who, checksum)?;
        post(&mut tx, &actor.at_text(), &handover_entries(city, &request, &accounts)?).await?;
        signed.confirmed_by = Some(actor.who.clone());
        signed.confirmed_at = Some(actor.at_text());
        sqlx::query("UPDATE fund_handovers SET inventory = $1, confirmed_by = $2 WHERE region_code = $3 AND reference = $4")
            .bind(json(&signed)?)
            .bind(&actor.who)
            .bind(city.to_string())
            .bind(reference)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, city, "fund.handover_confirmed", reference, format!("{{\"checksum\":{}}}", json(&signed.checksum)?)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(signed)
    }

    async fn handovers(&self, scope: RegionCode) -> Result<Vec<Inventory>, StoreError> {
        let results: Vec<String> = sqlx::query_scalar("SELECT inventory FROM fund_handovers WHERE region_code = $1 ORDER BY reference")
            .bind(scope.city().to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        results.iter().map(|r| from_json(r)).collect()
    }

    async fn establish_legacy_deficit(&self, actor: &Actor, scope: RegionCode, request: LegacyRequest) -> Result<LegacyView, StoreError> {
        let city = city_of(scope)?;
        let county = RegionCode::parse(&request.county).map_err(|e| StoreError::Invalid(format!("county: {e}")))?;
        check_scope(city, county)?;
        let mut tx = self.write().await?;
        // Resolved now and kept: a later levy does not change an established offset.
        let mut request = request;
        // Under the city's books lock: two deficits of one county established at once take
        // what it paid in one after the other.
        lock_city_books(&mut tx, city, PersonAccounts::Payables).await?;
        let established: Vec<String> = sqlx::query_scalar("SELECT request FROM legacy_deficits WHERE region_code = $1 AND unit_code = $2")
            .bind(city.to_string())
            .bind(county.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let established = established.iter().map(|text| from_json::<LegacyRequest>(text)).collect::<Result<Vec<_>, _>>()?;
        let taken = yibao_store::legacy::offsets_taken(&established)?;
        let paid_in = paid_into_adjustment(&mut tx, city, county).await?;
        let inputs = request.inputs(city, (paid_in - taken).max(yibao_domain::Fen::ZERO))?;
        request.paid_into_adjustment_fen = Some(inputs.paid_into_adjustment_fen.get());
        let inserted = sqlx::query(
            "INSERT INTO legacy_deficits (region_code, fund_scheme, unit_code, request, established_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(city.to_string())
        .bind(inputs.fund.scheme.as_str())
        .bind(county.to_string())
        .bind(json(&request)?)
        .bind(&actor.who)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("the legacy deficit of {county} in {}", inputs.fund.scheme)));
        }
        let (schedule, entries) = establish(&inputs)?;
        post(&mut tx, &actor.at_text(), &entries).await?;
        let view = legacy_view(&schedule, &[], inputs.established_on)?;
        audit(&mut tx, actor, city, "fund.legacy_deficit", &format!("{}/{county}", inputs.fund), json(&view)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(view)
    }

    async fn record_legacy_repayment(
        &self,
        actor: &Actor,
        scope: RegionCode,
        repayment: LegacyRepayment,
    ) -> Result<LegacyView, StoreError> {
        let city = city_of(scope)?;
        let detail = repayment.audit_detail();
        let LegacyRepayment { scheme, county, on, amount_fen, reference } = repayment;
        let mut tx = self.write().await?;
        let text: Option<String> = sqlx::query_scalar(
            "SELECT request FROM legacy_deficits WHERE region_code = $1 AND fund_scheme = $2 AND unit_code = $3 FOR UPDATE",
        )
        .bind(city.to_string())
        .bind(scheme.as_str())
        .bind(county.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let request: LegacyRequest =
            from_json(&text.ok_or_else(|| StoreError::Invalid(format!("no legacy deficit of {county} in {scheme}")))?)?;
        let (schedule, _) = legacy_of(&mut tx, city, &request).await?;
        let entry = repayment_entry(&schedule, on, amount_fen, &reference)?;
        post(&mut tx, &actor.at_text(), std::slice::from_ref(&entry)).await?;
        let (schedule, repayments) = legacy_of(&mut tx, city, &request).await?;
        let view = legacy_view(&schedule, &repayments, on)?;
        audit(&mut tx, actor, city, "fund.legacy_repayment", entry.transfer.id.as_str(), detail).await?;
        tx.commit().await.map_err(backend)?;
        Ok(view)
    }

    async fn legacy_deficits(&self, scope: RegionCode, as_of: Date) -> Result<Vec<LegacyView>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let city = scope.city();
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT request FROM legacy_deficits WHERE region_code = $1 AND unit_code BETWEEN $2 AND $3 ORDER BY fund_scheme, unit_code",
        )
        .bind(city.to_string())
        .bind(low)
        .bind(high)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let mut views = Vec::with_capacity(texts.len());
        for text in texts {
            let request: LegacyRequest = from_json(&text)?;
            let (schedule, repayments) = legacy_of(&mut conn, city, &request).await?;
            views.push(legacy_view(&schedule, &repayments, as_of)?);
        }
        Ok(views)
    }

    async fn legacy_requests(&self, scope: RegionCode) -> Result<Vec<LegacyRequest>, StoreError> {
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT request FROM legacy_deficits WHERE region_code = $1 ORDER BY fund_scheme, unit_code")
                .bind(scope.city().to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        texts.iter().map(|text| from_json(text)).collect()
    }

    async fn fund_settings(&self, scope: RegionCode) -> Result<(Vec<Budget>, Vec<CountyTargets>), StoreError> {
        let city = scope.city().to_string();
        let budgets: Vec<(i32, String, String, i64, i64)> = sqlx::query_as(
            "SELECT year, fund_scheme, unit_code, income_fen, spending_fen FROM fund_budgets WHERE region_code = $1 ORDER BY year, fund_scheme, unit_code",
        )
        .bind(&city)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let targets: Vec<(i32, String, i64, i64)> = sqlx::query_as(
            "SELECT year, unit_code, enrolment_target, collection_target_fen FROM county_targets WHERE region_code = $1 ORDER BY year, unit_code",
        )
        .bind(&city)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let budgets = budgets
            .into_iter()
            .map(|(year, fund_scheme, unit, income_fen, spending_fen)| Budget { year, fund_scheme, unit, income_fen, spending_fen })
            .collect();
        let targets = targets
            .into_iter()
            .map(|(year, unit, enrolment_target, collection_target_fen)| {
                Ok(CountyTargets {
                    year,
                    unit,
                    enrolment_target: u32::try_from(enrolment_target).map_err(|e| StoreError::Backend(e.to_string()))?,
                    collection_target_fen,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((budgets, targets))
    }

    async fn clear_payment_year(&self, actor: &Actor, scope: RegionCode, clearing: PaymentClearing) -> Result<ClearingOutcome, StoreError> {
        let city = city_of(scope)?;
        let mut clearing = clearing;
        if clearing.city != city.to_string() {
            return Err(StoreError::Invalid(format!("the clearing is {}'s, not {city}'s", clearing.city)));
        }
        let mut tx = self.write().await?;
        // One clearing of a city at a time: the books' lock first, so a second clearing of
        // the same year waits here and then finds the first one's round.
        lock_city_books(&mut tx, city, PersonAccounts::Payables).await?;
        let last: Option<String> =
            sqlx::query_scalar("SELECT record FROM payment_clearings WHERE region_code = $1 AND year = $2 ORDER BY round DESC LIMIT 1")
                .bind(city.to_string())
                .bind(i64::from(clearing.year))
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let last = last.map(|record| from_json::<PaymentClearing>(&record)).transpose()?;
        clearing.after(last.as_ref());
        if let Some(last) = last.filter(|_| clearing.changes_nothing()) {
            return Ok(ClearingOutcome { clearing: last, booked_now: false });
        }
        let entries = clearing.plan()?;
        post(&mut tx, &actor.at_text(), &entries).await?;
        let record = json(&clearing)?;
        sqlx::query("INSERT INTO payment_clearings (region_code, year, round, cleared_at, actor, record) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(city.to_string())
            .bind(i64::from(clearing.year))
            .bind(i64::from(clearing.round))
            .bind(actor.at_text())
            .bind(&actor.who)
            .bind(&record)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, city, "fund.payment_clearing", &format!("{}/{}", clearing.year, clearing.round), record).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ClearingOutcome { clearing, booked_now: true })
    }

    async fn payment_clearings(&self, scope: RegionCode) -> Result<Vec<PaymentClearing>, StoreError> {
        let records: Vec<String> =
            sqlx::query_scalar("SELECT record FROM payment_clearings WHERE region_code = $1 ORDER BY year DESC, round DESC")
                .bind(scope.city().to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        records.iter().map(|r| from_json(r)).collect()
    }

    async fn pooling_runs(&self, scope: RegionCode) -> Result<Vec<PoolingRun>, StoreError> {
        let results: Vec<String> = sqlx::query_scalar("SELECT result FROM pooling_runs WHERE region_code = $1 ORDER BY month DESC")
            .bind(scope.city().to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        results.iter().map(|r| from_json(r)).collect()
    }

    async fn fund_accounts(&self, scope: RegionCode) -> Result<Vec<AccountState>, StoreError> {
        let city = city_of(scope)?.to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = $1")))
            .bind(city)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let mut states: Vec<AccountState> = rows.iter().map(|row| account_row(row)?.state()).collect::<Result<_, _>>()?;
        states.sort_by_key(AccountState::key);
        Ok(states)
    }

    async fn fund_payables(&self, scope: RegionCode) -> Result<yibao_store::pooling::PayableSums, StoreError> {
        let city = city_of(scope)?.to_string();
        sqlx::query_as("SELECT fund_scheme, unit_code, payee, outstanding_fen FROM ledger_payables WHERE region_code = $1")
            .bind(city)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn personal_account_records(&self, scope: RegionCode) -> Result<Vec<(yibao_domain::NationalId, yibao_domain::Fen)>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows: Vec<(String, String)> =
            // The row the index names: a county a person left keeps an ended row without the
            // account, which went with them (R-ENR-5).
            sqlx::query_as(
                "SELECT p.person_id, p.coverage::text FROM persons p \
                 JOIN person_index i ON i.person_id = p.person_id AND i.region_code = p.region_code \
                 WHERE p.region_code BETWEEN $1 AND $2",
            )
                .bind(low)
                .bind(high)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        rows.iter()
            .map(|(person, coverage)| {
                let coverage: yibao_engine::Coverage = from_json(coverage)?;
                Ok((yibao_store::stored::id_of(person)?, coverage.personal_account_balance))
            })
            .collect()
    }

    async fn claims_page(
        &self,
        scope: RegionCode,
        after: Option<yibao_store::ClaimKey>,
        limit: i64,
    ) -> Result<Vec<yibao_store::StoredClaim>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let (region, institution, claim) = after.map(|(r, i, c)| (r.to_string(), i, c)).unwrap_or_default();
        let limit = limit.clamp(1, yibao_store::ENTRIES_PAGE_LIMIT);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {}, acc_before, acc_after, insutype, supplementary_fen, {} FROM claims WHERE region_code BETWEEN $1 AND $2 \
             AND (region_code, institution_code, claim_id) > ($3, $4, $5) ORDER BY region_code, institution_code, claim_id LIMIT $6",
            crate::CLAIM_COLUMNS,
            crate::CLAIM_COLUMN_NAMES
        )))
        .bind(low)
        .bind(high)
        .bind(region)
        .bind(institution)
        .bind(claim)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(stored_claim).collect()
    }

    async fn accumulator_records(
        &self,
        scope: RegionCode,
    ) -> Result<Vec<(RegionCode, yibao_domain::NationalId, yibao_engine::Accumulators)>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT region_code, person_id, state::text FROM accumulators WHERE region_code BETWEEN $1 AND $2")
                .bind(low)
                .bind(high)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        rows.iter()
            .map(|(region, person, state)| Ok((region_of(region)?, yibao_store::stored::id_of(person)?, from_json(state)?)))
            .collect()
    }

    async fn contributions_page(
        &self,
        scope: RegionCode,
        after: Option<(RegionCode, i64)>,
        limit: i64,
    ) -> Result<Vec<yibao_store::ContributionRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let (region, seq) = after.map(|(r, s)| (r.to_string(), s)).unwrap_or_default();
        let limit = limit.clamp(1, yibao_store::ENTRIES_PAGE_LIMIT);
        let rows = sqlx::query(
            "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
             WHERE region_code BETWEEN $1 AND $2 AND (region_code, seq) > ($3, $4) ORDER BY region_code, seq LIMIT $5",
        )
        .bind(low)
        .bind(high)
        .bind(region)
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(crate::access::contribution_from_row).collect()
    }

    async fn fund_referenced_transfers(&self, scope: RegionCode) -> Result<Vec<(i64, Entry)>, StoreError> {
        let city = city_of(scope)?.to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TRANSFER_COLUMNS}, seq FROM ledger_transfers WHERE region_code = $1 AND transfer_id IN \
             (SELECT reverses FROM ledger_transfers WHERE region_code = $1 AND reverses IS NOT NULL \
              UNION SELECT pair_id FROM ledger_transfers WHERE region_code = $1 AND pair_id IS NOT NULL) ORDER BY seq"
        )))
        .bind(city)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| Ok((row.try_get("seq").map_err(backend)?, transfer_row(row)?.entry()?))).collect()
    }

    async fn transfers_caused_by(
        &self,
        scope: RegionCode,
        kind: yibao_ledger::RecordKind,
        ids: Vec<String>,
    ) -> Result<Vec<Entry>, StoreError> {
        let city = city_of(scope)?.to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = $1 AND cause_kind = $2 AND cause_id = ANY($3) ORDER BY seq"
        )))
        .bind(city)
        .bind(kind.as_str())
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| transfer_row(row)?.entry()).collect()
    }

    async fn record_counts(&self, scope: RegionCode) -> Result<yibao_store::RecordCounts, StoreError> {
        let city = city_of(scope)?;
        let (low, high) = scope_bounds(city);
        let (claims, contributions, record_transfers, other_transfers): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM claims WHERE region_code BETWEEN $1 AND $2), \
                    (SELECT COUNT(*) FROM contributions WHERE region_code BETWEEN $1 AND $2), \
                    (SELECT COUNT(*) FROM ledger_transfers WHERE region_code = $3 \
                     AND cause_kind IN ('contribution', 'subsidy', 'settlement', 'settlement-reversal')), \
                    (SELECT COUNT(*) FROM ledger_transfers WHERE region_code = $3 \
                     AND cause_kind NOT IN ('contribution', 'subsidy', 'settlement', 'settlement-reversal'))",
        )
        .bind(low)
        .bind(high)
        .bind(city.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(yibao_store::RecordCounts {
            claims: count(claims),
            contributions: count(contributions),
            record_transfers: count(record_transfers),
            other_transfers: count(other_transfers),
        })
    }

    async fn claims_by_keys(&self, region: RegionCode, keys: Vec<(String, String)>) -> Result<Vec<yibao_store::StoredClaim>, StoreError> {
        let (institutions, claim_ids): (Vec<String>, Vec<String>) = keys.into_iter().unzip();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {}, acc_before, acc_after, insutype, supplementary_fen, {} FROM claims \
             WHERE region_code = $1 AND (institution_code, claim_id) IN (SELECT * FROM UNNEST($2::text[], $3::text[]))",
            crate::CLAIM_COLUMNS,
            crate::CLAIM_COLUMN_NAMES
        )))
        .bind(region.to_string())
        .bind(institutions)
        .bind(claim_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(stored_claim).collect()
    }

    async fn contributions_by_seqs(&self, region: RegionCode, seqs: Vec<i64>) -> Result<Vec<yibao_store::ContributionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
             WHERE region_code = $1 AND seq = ANY($2) ORDER BY seq",
        )
        .bind(region.to_string())
        .bind(seqs)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(crate::access::contribution_from_row).collect()
    }

    async fn fund_entries(&self, scope: RegionCode, after: i64, limit: i64) -> Result<Vec<(i64, Entry)>, StoreError> {
        let city = city_of(scope)?.to_string();
        let limit = limit.clamp(1, yibao_store::ENTRIES_PAGE_LIMIT);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TRANSFER_COLUMNS}, seq FROM ledger_transfers WHERE region_code = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        )))
        .bind(city)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| Ok((row.try_get("seq").map_err(backend)?, transfer_row(row)?.entry()?))).collect()
    }

    async fn fund_movements(&self, scope: RegionCode, from: Date, to: Date) -> Result<Vec<Movement>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        movements_in(&mut conn, scope, from, to).await
    }

    async fn fund_cities(&self) -> Result<Vec<RegionCode>, StoreError> {
        let codes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT region_code FROM ledger_accounts ORDER BY region_code")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        codes.iter().map(|c| region_of(c)).collect()
    }
}
