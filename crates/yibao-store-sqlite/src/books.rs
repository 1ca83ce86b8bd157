//! The fund books in SQLite: posting inside the caller's transaction, and the reads the
//! pooling run and the reports need (see `yibao_store::books`, `yibao_store::fund`).

use rusqlite::{Connection, Row, params};
use time::Date;
use yibao_domain::RegionCode;
use yibao_ledger::{AccountKey, AccountState, Fund, FundScheme, YearMonth};
use yibao_store::books::{AccountRow, BOOKS_EPOCH, Entry, TransferRow, date_text, key_columns, needs, post_onto};
use yibao_store::closing::{
    InterestInputs, InterestLine, YearEndInputs, YearEndOptions, YearEndRecord, plan_interest, plan_year_end, special_history, year_bounds,
};
use yibao_store::handover::{HandoverRequest, Inventory, check_confirmation, handover_entries, inventory};
use yibao_store::legacy::{LegacyRepayment, LegacyRequest, LegacyView, establish, repayment_entry, view as legacy_view};
use yibao_store::payment_clearing::{ClearingOutcome, PaymentClearing};
use yibao_store::pooling::{HeldBack, PoolingInputs, PoolingRun, plan_pooling};
use yibao_store::stored::{from_json, json, region_of, scope_bounds};
use yibao_store::{
    Actor, Budget, CountyTargets, FundReceipt, FundStore, Movement, PoolingOutcome, StoreError, TargetsProgress, YearEndOutcome,
    YearEndPreview, check_scope, city_of,
};

use crate::{SqliteStore, audit, col, exec, query_all, query_opt};

const ACCOUNT_COLUMNS: &str = "region_code, fund_scheme, holder, kind, no_overdraft, opened_on, debits_posted_fen, credits_posted_fen";
const TRANSFER_COLUMNS: &str = "region_code, transfer_id, fund_scheme, debit_holder, debit_kind, credit_holder, credit_kind, amount_fen, reason, cause_kind, cause_id, value_date, reverses, pair_id, unit_code";

fn account_row(row: &Row<'_>) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        region_code: col(row, 0)?,
        fund_scheme: col(row, 1)?,
        holder: col(row, 2)?,
        kind: col(row, 3)?,
        no_overdraft: col::<i64>(row, 4)? != 0,
        opened_on: col(row, 5)?,
        debits_posted_fen: col(row, 6)?,
        credits_posted_fen: col(row, 7)?,
    })
}

/// A claim row with the accumulators it started from and left (columns 14 and 15) and the
/// columns filtered on in place of its settlement (16 and 17).
fn stored_claim(row: &Row<'_>) -> Result<yibao_store::StoredClaim, StoreError> {
    let stored =
        || Ok([crate::stored_bytes(row, 10)?, crate::stored_bytes(row, 11)?, crate::stored_bytes(row, 14)?, crate::stored_bytes(row, 15)?]);
    let unpacked = yibao_store::compact::UnpackedClaim::read(stored());
    Ok(yibao_store::StoredClaim {
        record: crate::claim_with(row, unpacked.settlement, unpacked.claim)?,
        acc_before: unpacked.acc_before,
        acc_after: unpacked.acc_after,
        insutype: col(row, 16)?,
        supplementary_fen: col(row, 17)?,
        columns: crate::claim_columns(row, 18)?,
        unreadable: unpacked.unreadable,
    })
}

fn transfer_row(row: &Row<'_>) -> Result<TransferRow, StoreError> {
    Ok(TransferRow {
        region_code: col(row, 0)?,
        transfer_id: col(row, 1)?,
        fund_scheme: col(row, 2)?,
        debit_holder: col(row, 3)?,
        debit_kind: col(row, 4)?,
        credit_holder: col(row, 5)?,
        credit_kind: col(row, 6)?,
        amount_fen: col(row, 7)?,
        reason: col(row, 8)?,
        cause_kind: col(row, 9)?,
        cause_id: col(row, 10)?,
        value_date: col(row, 11)?,
        reverses: col(row, 12)?,
        pair_id: col(row, 13)?,
        unit_code: col(row, 14)?,
    })
}

/// Posts `entries` inside the caller's transaction: loads what they touch, posts by the
/// ledger's rules, writes the accounts and the new transfers. Refused whole, writing
/// nothing, if any rule refuses (`books-with-business`).
pub(crate) fn post(conn: &Connection, actor: &Actor, entries: &[Entry]) -> Result<(), StoreError> {
    let mut closed = std::collections::BTreeMap::new();
    for city in yibao_store::periods::cities_of(entries) {
        if let Some(year) = latest_close(conn, city)? {
            closed.insert(city, year);
        }
    }
    yibao_store::periods::check_open(entries, &closed)?;
    for batch in yibao_store::books::batches(entries) {
        post_batch(conn, actor, batch)?;
    }
    Ok(())
}

/// Posts one batch of at most `BATCH_LIMIT` entries (see `batches`).
fn post_batch(conn: &Connection, actor: &Actor, entries: &[Entry]) -> Result<(), StoreError> {
    let needs = needs(entries);
    let mut accounts = Vec::with_capacity(needs.accounts.len());
    for key in &needs.accounts {
        let (region, scheme, holder, kind) = key_columns(key);
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = ?1 AND fund_scheme = ?2 AND holder = ?3 AND kind = ?4"
        );
        if let Some(row) = query_opt(conn, &sql, params![region, scheme, holder, kind], account_row)? {
            accounts.push(row.state()?);
        }
    }
    let regions: std::collections::BTreeSet<String> = entries.iter().map(|e| e.transfer.fund().region.to_string()).collect();
    let mut transfers = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for region in &regions {
        let by_id = format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = ?1 AND transfer_id = ?2");
        for id in &needs.transfers {
            if let Some(row) = query_opt(conn, &by_id, params![region, id.as_str()], transfer_row)?
                && seen.insert(row.transfer_id.clone())
            {
                transfers.push((row.entry()?.transfer, row));
            }
        }
        let by_original = format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = ?1 AND reverses = ?2");
        for original in &needs.reversals_of {
            for row in query_all(conn, &by_original, params![region, original.as_str()], transfer_row)? {
                if seen.insert(row.transfer_id.clone()) {
                    transfers.push((row.entry()?.transfer, row));
                }
            }
        }
    }
    let posting = post_onto(accounts, transfers.into_iter().map(|(t, _)| t).collect(), entries)?;
    for (state, is_new) in &posting.accounts {
        let row = AccountRow::of(state);
        if *is_new {
            exec(
                conn,
                &format!("INSERT INTO ledger_accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    row.region_code,
                    row.fund_scheme,
                    row.holder,
                    row.kind,
                    i64::from(row.no_overdraft),
                    row.opened_on,
                    row.debits_posted_fen,
                    row.credits_posted_fen
                ],
            )?;
        } else {
            exec(
                conn,
                "UPDATE ledger_accounts SET debits_posted_fen = ?1, credits_posted_fen = ?2 WHERE region_code = ?3 AND fund_scheme = ?4 AND holder = ?5 AND kind = ?6",
                params![row.debits_posted_fen, row.credits_posted_fen, row.region_code, row.fund_scheme, row.holder, row.kind],
            )?;
        }
    }
    let at = actor.at_text();
    for entry in &posting.entries {
        let r = TransferRow::of(entry);
        exec(
            conn,
            &format!(
                "INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}, posted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ),
            params![
                r.region_code,
                r.transfer_id,
                r.fund_scheme,
                r.debit_holder,
                r.debit_kind,
                r.credit_holder,
                r.credit_kind,
                r.amount_fen,
                r.reason,
                r.cause_kind,
                r.cause_id,
                r.value_date,
                r.reverses,
                r.pair_id,
                r.unit_code,
                at
            ],
        )?;
    }
    // The running outstanding of each unit and payee, in the same transaction (issue 17).
    for ((region, scheme, unit, payee), change_fen) in yibao_store::books::payable_changes(&posting.entries) {
        exec(
            conn,
            "INSERT INTO ledger_payables (region_code, fund_scheme, unit_code, payee, outstanding_fen) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (region_code, fund_scheme, unit_code, payee) DO UPDATE SET outstanding_fen = outstanding_fen + excluded.outstanding_fen",
            params![region, scheme, unit, payee, change_fen],
        )?;
    }
    Ok(())
}

/// The transfers a business record caused, in posting order.
pub(crate) fn entries_caused_by(conn: &Connection, city: RegionCode, kind: &str, id: &str) -> Result<Vec<Entry>, StoreError> {
    let sql = format!(
        "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = ?1 AND cause_kind = ?2 AND cause_id = ?3 ORDER BY rowid"
    );
    query_all(conn, &sql, params![city.to_string(), kind, id], transfer_row)?.iter().map(TransferRow::entry).collect()
}

/// Movements dated `from..=to` caused by units in `scope`, by fund, unit, reason and kinds.
fn movements_in(conn: &Connection, scope: RegionCode, from: Date, to: Date) -> Result<Vec<Movement>, StoreError> {
    let (low, high) = scope_bounds(scope);
    query_all(
        conn,
        "SELECT fund_scheme, unit_code, reason, debit_kind, credit_kind, COUNT(*), SUM(amount_fen) FROM ledger_transfers \
         WHERE region_code = ?1 AND unit_code BETWEEN ?2 AND ?3 AND value_date BETWEEN ?4 AND ?5 \
         GROUP BY fund_scheme, unit_code, reason, debit_kind, credit_kind ORDER BY fund_scheme, unit_code, reason, debit_kind, credit_kind",
        params![scope.city().to_string(), low, high, date_text(from), date_text(to)],
        |row| {
            Movement::from_columns(
                &col::<String>(row, 0)?,
                &col::<String>(row, 1)?,
                &col::<String>(row, 2)?,
                &col::<String>(row, 3)?,
                &col::<String>(row, 4)?,
                col(row, 5)?,
                col(row, 6)?,
            )
        },
    )
}

/// A `county_targets` row read as `year, unit_code, enrolment_target, collection_target_fen`.
fn targets_row(row: &rusqlite::Row<'_>) -> Result<CountyTargets, StoreError> {
    Ok(CountyTargets {
        year: col(row, 0)?,
        unit: col(row, 1)?,
        enrolment_target: u32::try_from(col::<i64>(row, 2)?).map_err(|e| StoreError::Backend(e.to_string()))?,
        collection_target_fen: col(row, 3)?,
    })
}

/// The targets of `year` for units in `scope`, with each county's persons and collections.
fn targets_in(conn: &Connection, scope: RegionCode, year: i32) -> Result<Vec<TargetsProgress>, StoreError> {
    let (low, high) = scope_bounds(scope);
    let rows = query_all(
        conn,
        "SELECT year, unit_code, enrolment_target, collection_target_fen FROM county_targets \
         WHERE region_code = ?1 AND year = ?2 AND unit_code BETWEEN ?3 AND ?4 ORDER BY unit_code",
        params![scope.city().to_string(), year, low, high],
        targets_row,
    )?;
    rows.into_iter()
        .map(|targets| {
            let enrolled =
                query_opt(conn, "SELECT COUNT(*) FROM person_index WHERE region_code = ?1", [&targets.unit], |row| col::<i64>(row, 0))?
                    .unwrap_or(0);
            let collected = query_opt(
                conn,
                "SELECT COALESCE(SUM(paid_fen), 0) FROM contributions WHERE region_code = ?1 AND substr(period, 1, 4) = ?2",
                params![targets.unit, format!("{year:04}")],
                |row| col::<i64>(row, 0),
            )?
            .unwrap_or(0);
            Ok(TargetsProgress::new(targets, u32::try_from(enrolled).unwrap_or(u32::MAX), collected))
        })
        .collect()
}

/// The latest year `city` has closed.
fn latest_close(conn: &Connection, city: RegionCode) -> Result<Option<i32>, StoreError> {
    Ok(query_opt(conn, "SELECT max(year) FROM year_closes WHERE region_code = ?1", [city.to_string()], |row| col::<Option<i32>>(row, 0))?
        .flatten())
}

/// The close of `year` for `city` as the books stand: its record and the transfers it would
/// post, or the record of the close already made. Read only: `close_year_in` posts it, the
/// preview shows it.
fn year_end_plan(
    conn: &Connection,
    city: RegionCode,
    year: i32,
    options: YearEndOptions,
) -> Result<Result<(YearEndRecord, Vec<Entry>), YearEndRecord>, StoreError> {
    let city_text = city.to_string();
    let earlier =
        query_opt(conn, "SELECT result FROM year_closes WHERE region_code = ?1 AND year = ?2", params![city_text, year], |row| {
            col::<String>(row, 0)
        })?;
    if let Some(result) = earlier {
        return Ok(Err(from_json(&result)?));
    }
    let earliest = query_opt(
        conn,
        "SELECT min(value_date) FROM ledger_transfers WHERE region_code = ?1 AND cause_kind <> 'opening-balance'",
        [&city_text],
        |row| col::<Option<String>>(row, 0),
    )?
    .flatten()
    .map(|text| yibao_store::books::date_of(&text))
    .transpose()?;
    yibao_store::periods::check_close_order(city, year, latest_close(conn, city)?, earliest)?;
    let (first, last) = year_bounds(year)?;
    let before_last = first.previous_day().unwrap_or(BOOKS_EPOCH);
    let adjustment = AccountKey::special(Fund::adjustment(city));
    let (region, scheme, holder, kind) = key_columns(&adjustment);
    let sql =
        format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = ?1 AND fund_scheme = ?2 AND holder = ?3 AND kind = ?4");
    let state = query_opt(conn, &sql, params![region, scheme, holder, kind], account_row)?.map(|row| row.state()).transpose()?;
    let (later_debits, later_credits) = query_opt(
        conn,
        "SELECT COALESCE(SUM(CASE WHEN debit_holder = ?3 AND debit_kind = ?4 THEN amount_fen ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN credit_holder = ?3 AND credit_kind = ?4 THEN amount_fen ELSE 0 END), 0) \
         FROM ledger_transfers WHERE region_code = ?1 AND fund_scheme = ?2 AND value_date > ?5",
        params![region, scheme, holder, kind, yibao_store::books::date_text(last)],
        |row| Ok((col::<i64>(row, 0)?, col::<i64>(row, 1)?)),
    )?
    .unwrap_or((0, 0));
    let adjustment_balance_fen = yibao_store::closing::balance_as_of(
        state,
        yibao_store::books::total_of(later_debits)?,
        yibao_store::books::total_of(later_credits)?,
    );
    // Without targets given, the counties are scored by those the city set (R-ENR-6).
    let mut options = options;
    if options.targets.is_empty() {
        options.targets = targets_in(conn, city, year)?.iter().map(TargetsProgress::unit_targets).collect::<Result<_, _>>()?;
    }
    let inputs = YearEndInputs {
        city,
        year,
        before: movements_in(conn, city, BOOKS_EPOCH, before_last)?,
        during: movements_in(conn, city, first, last)?,
        adjustment_balance_fen,
        options,
    };
    Ok(Ok(plan_year_end(&inputs)?))
}

fn close_year_in(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    year: i32,
    options: YearEndOptions,
) -> Result<YearEndOutcome, StoreError> {
    let city = city_of(scope)?;
    let (record, entries) = match year_end_plan(conn, city, year, options)? {
        Ok(plan) => plan,
        Err(record) => return Ok(YearEndOutcome { record, ran_now: false }),
    };
    post(conn, actor, &entries)?;
    let result = json(&record)?;
    exec(
        conn,
        "INSERT INTO year_closes (region_code, year, run_at, actor, result) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![city.to_string(), year, actor.at_text(), actor.who, result],
    )?;
    audit(conn, actor, city, "fund.year_close", &year.to_string(), result)?;
    Ok(YearEndOutcome { record, ran_now: true })
}

/// The special accounts' net change per fund and day, up to `to`, leaving out the interest
/// credited for `period` itself: interest does not earn interest in the period it is for.
fn special_daily(conn: &Connection, city: RegionCode, to: Date, period: &str) -> Result<Vec<(FundScheme, Date, i64)>, StoreError> {
    query_all(
        conn,
        "SELECT fund_scheme, value_date, SUM(CASE WHEN debit_kind = 'fiscal-special' THEN amount_fen ELSE -amount_fen END) FROM ledger_transfers \
         WHERE region_code = ?1 AND (debit_kind = 'fiscal-special' OR credit_kind = 'fiscal-special') AND value_date <= ?2 \
           AND NOT (reason = 'interest' AND cause_id = ?3) \
         GROUP BY fund_scheme, value_date ORDER BY fund_scheme, value_date",
        params![city.to_string(), date_text(to), period],
        |row| {
            let scheme: String = col(row, 0)?;
            Ok((
                FundScheme::parse(&scheme).ok_or_else(|| StoreError::Backend(format!("stored fund unreadable: {scheme}")))?,
                yibao_store::books::date_of(&col::<String>(row, 1)?)?,
                col(row, 2)?,
            ))
        },
    )
}

/// The accounts of one fund, and how many of its transfers are dated up to and after `cut_off`.
fn fund_state(conn: &Connection, fund: Fund, cut_off: Date) -> Result<(Vec<AccountState>, i64, i64), StoreError> {
    let (region, scheme) = (fund.region.to_string(), fund.scheme.as_str());
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = ?1 AND fund_scheme = ?2");
    let accounts =
        query_all(conn, &sql, params![region, scheme], account_row)?.iter().map(AccountRow::state).collect::<Result<Vec<_>, _>>()?;
    let count = |op: &str| {
        query_opt(
            conn,
            &format!("SELECT COUNT(*) FROM ledger_transfers WHERE region_code = ?1 AND fund_scheme = ?2 AND value_date {op} ?3"),
            params![region, scheme, date_text(cut_off)],
            |row| col::<i64>(row, 0),
        )
        .map(Option::unwrap_or_default)
    };
    Ok((accounts, count("<=")?, count(">")?))
}

fn prepare_handover_in(conn: &Connection, actor: &Actor, scope: RegionCode, request: &HandoverRequest) -> Result<Inventory, StoreError> {
    let city = city_of(scope)?;
    request.check()?;
    let (accounts, transfers, later) = fund_state(conn, Fund::new(request.from, city), request.cut_off)?;
    if later > 0 {
        return Err(StoreError::Invalid(format!(
            "{} has {later} transfers dated after the cut-off {}: a fund is handed over as its books stand",
            request.from, request.cut_off
        )));
    }
    if accounts.is_empty() {
        return Err(StoreError::Invalid(format!("{} has no books to hand over", request.from)));
    }
    let inventory = inventory(city, request, &accounts, transfers, &actor.who, &actor.at_text())?;
    let inserted = exec(
        conn,
        "INSERT INTO fund_handovers (region_code, reference, inventory, prepared_by) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![city.to_string(), request.reference, json(&inventory)?, actor.who],
    )?;
    if inserted == 0 {
        return Err(StoreError::Exists(format!("handover {}", request.reference)));
    }
    audit(conn, actor, city, "fund.handover_signed", &request.reference, json(&inventory)?)?;
    Ok(inventory)
}

fn confirm_handover_in(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    reference: &str,
    quoted: &str,
) -> Result<Inventory, StoreError> {
    let city = city_of(scope)?;
    let stored = query_opt(
        conn,
        "SELECT inventory FROM fund_handovers WHERE region_code = ?1 AND reference = ?2",
        params![city.to_string(), reference],
        |row| col::<String>(row, 0),
    )?
    .ok_or_else(|| StoreError::Invalid(format!("no handover {reference} in city {city}")))?;
    let mut signed: Inventory = from_json(&stored)?;
    let request = signed.request()?;
    let (accounts, transfers, _) = fund_state(conn, Fund::new(request.from, city), request.cut_off)?;
    let recomputed = inventory(city, &request, &accounts, transfers, &signed.prepared_by, &signed.prepared_at)?;
    check_confirmation(&signed, &recomputed, &actor.who, quoted)?;
    post(conn, actor, &handover_entries(city, &request, &accounts)?)?;
    signed.confirmed_by = Some(actor.who.clone());
    signed.confirmed_at = Some(actor.at_text());
    exec(
        conn,
        "UPDATE fund_handovers SET inventory = ?1, confirmed_by = ?2 WHERE region_code = ?3 AND reference = ?4",
        params![json(&signed)?, actor.who, city.to_string(), reference],
    )?;
    audit(conn, actor, city, "fund.handover_confirmed", reference, format!("{{\"checksum\":{}}}", json(&signed.checksum)?))?;
    Ok(signed)
}

/// What a county paid into the adjustment fund, as the books say: the credits of its
/// position there.
fn paid_into_adjustment(conn: &Connection, city: RegionCode, county: RegionCode) -> Result<yibao_domain::Fen, StoreError> {
    let mut paid = yibao_domain::Fen::ZERO;
    for key in yibao_store::legacy::paid_in_accounts(city, county) {
        let (region, scheme, holder, kind) = key_columns(&key);
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = ?1 AND fund_scheme = ?2 AND holder = ?3 AND kind = ?4"
        );
        paid += query_opt(conn, &sql, params![region, scheme, holder, kind], account_row)?
            .map(|row| row.state())
            .transpose()?
            .map_or(yibao_domain::Fen::ZERO, |s| s.credits_posted_fen);
    }
    Ok(paid)
}

/// A stored legacy deficit's schedule and the repayments booked against it.
fn legacy_of(
    conn: &Connection,
    city: RegionCode,
    request: &LegacyRequest,
) -> Result<(yibao_ledger::LegacySchedule, Vec<yibao_ledger::Repayment>), StoreError> {
    let inputs = request.inputs(city, yibao_domain::Fen::ZERO)?;
    let (schedule, _) = establish(&inputs)?;
    let repayments = query_all(
        conn,
        "SELECT value_date, amount_fen FROM ledger_transfers WHERE region_code = ?1 AND fund_scheme = ?2 AND reason = 'legacy-repayment' \
         AND credit_holder = ?3 AND credit_kind = 'receivable' ORDER BY value_date",
        params![city.to_string(), inputs.fund.scheme.as_str(), yibao_ledger::Holder::Finance(inputs.county).to_string()],
        |row| {
            Ok(yibao_ledger::Repayment {
                on: yibao_store::books::date_of(&col::<String>(row, 0)?)?,
                amount_fen: yibao_store::books::total_of(col(row, 1)?)?,
            })
        },
    )?;
    Ok((schedule, repayments))
}

fn stored_legacy(conn: &Connection, city: RegionCode, scheme: FundScheme, county: RegionCode) -> Result<LegacyRequest, StoreError> {
    let text = query_opt(
        conn,
        "SELECT request FROM legacy_deficits WHERE region_code = ?1 AND fund_scheme = ?2 AND unit_code = ?3",
        params![city.to_string(), scheme.as_str(), county.to_string()],
        |row| col::<String>(row, 0),
    )?
    .ok_or_else(|| StoreError::Invalid(format!("no legacy deficit of {county} in {scheme}")))?;
    from_json(&text)
}

fn pooling_inputs(
    conn: &Connection,
    city: RegionCode,
    month: YearMonth,
    value_date: Date,
    held_back: Vec<HeldBack>,
) -> Result<PoolingInputs, StoreError> {
    let city_text = city.to_string();
    let day = date_text(value_date);
    let four = |row: &rusqlite::Row<'_>| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?, col::<String>(row, 2)?, col::<i64>(row, 3)?));
    let five = |row: &rusqlite::Row<'_>| {
        Ok((col::<String>(row, 0)?, col::<String>(row, 1)?, col::<String>(row, 2)?, col::<i64>(row, 3)?, col::<i64>(row, 4)?))
    };
    // The income and special accounts as of the value date (money arriving later waits),
    // and what each unit's insured owe each payee then: the running totals less what was
    // dated after the day, each in one statement, read through the index by date (issue 17).
    let rows = query_all(conn, yibao_store::pooling::ACCOUNTS_AS_OF_SQL, params![city_text, day], five)?;
    let accounts = yibao_store::pooling::accounts_as_of(city, &rows)?;
    let rows = query_all(conn, yibao_store::pooling::OUTSTANDING_AS_OF_SQL, params![city_text, day], four)?;
    let outstanding = yibao_store::pooling::outstanding_as_of(&rows)?;
    Ok(PoolingInputs { city, month, value_date, accounts, outstanding, held_back })
}

/// The latest month the city has run, `YYYY-MM`.
fn latest_run(conn: &Connection, city: RegionCode) -> Result<Option<String>, StoreError> {
    Ok(query_opt(conn, "SELECT max(month) FROM pooling_runs WHERE region_code = ?1", [city.to_string()], |row| {
        col::<Option<String>>(row, 0)
    })?
    .flatten())
}

fn run_pooling_in(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    month: YearMonth,
    value_date: Date,
    held_back: Vec<HeldBack>,
) -> Result<PoolingOutcome, StoreError> {
    let city = city_of(scope)?;
    let city_text = city.to_string();
    let month_text = month.to_string();
    let earlier =
        query_opt(conn, "SELECT result FROM pooling_runs WHERE region_code = ?1 AND month = ?2", params![city_text, month_text], |row| {
            col::<String>(row, 0)
        })?;
    if let Some(result) = earlier {
        return Ok(PoolingOutcome { run: from_json(&result)?, ran_now: false });
    }
    yibao_store::pooling::check_month_order(month, latest_run(conn, city)?.as_deref())?;
    let (run, entries) = plan_pooling(&pooling_inputs(conn, city, month, value_date, held_back)?)?;
    post(conn, actor, &entries)?;
    let result = json(&run)?;
    exec(
        conn,
        "INSERT INTO pooling_runs (region_code, month, run_at, actor, result) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![city_text, month_text, actor.at_text(), actor.who, result],
    )?;
    audit(conn, actor, city, "fund.pooling_run", &month_text, result)?;
    Ok(PoolingOutcome { run, ran_now: true })
}

impl FundStore for SqliteStore {
    async fn close_year(&self, actor: &Actor, scope: RegionCode, year: i32, options: YearEndOptions) -> Result<YearEndOutcome, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| close_year_in(conn, &actor, scope, year, options)).await
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
        let actor = actor.clone();
        self.write(move |conn| {
            let city = city_of(scope)?;
            let inputs = InterestInputs {
                city,
                from,
                to,
                annual_rate_bp,
                rounding,
                funds: special_history(&special_daily(conn, city, to, &yibao_store::closing::interest_period(from, to))?, from),
                credited: query_all(
                    conn,
                    "SELECT DISTINCT cause_id FROM ledger_transfers WHERE region_code = ?1 AND cause_kind = 'interest-credit'",
                    [city.to_string()],
                    |row| col::<String>(row, 0),
                )?,
            };
            let (lines, entries) = plan_interest(&inputs)?;
            post(conn, &actor, &entries)?;
            audit(conn, &actor, city, "fund.interest", &format!("{}..{}", date_text(from), date_text(to)), json(&lines)?)?;
            Ok(lines)
        })
        .await
    }

    async fn clear_payment_year(&self, actor: &Actor, scope: RegionCode, clearing: PaymentClearing) -> Result<ClearingOutcome, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let city = city_of(scope)?;
            let mut clearing = clearing;
            if clearing.city != city.to_string() {
                return Err(StoreError::Invalid(format!("the clearing is {}'s, not {city}'s", clearing.city)));
            }
            let last = query_opt(
                conn,
                "SELECT record FROM payment_clearings WHERE region_code = ?1 AND year = ?2 ORDER BY round DESC LIMIT 1",
                params![city.to_string(), clearing.year],
                |row| col::<String>(row, 0),
            )?
            .map(|record| from_json::<PaymentClearing>(&record))
            .transpose()?;
            clearing.after(last.as_ref());
            if let Some(last) = last.filter(|_| clearing.changes_nothing()) {
                return Ok(ClearingOutcome { clearing: last, booked_now: false });
            }
            let entries = clearing.plan()?;
            post(conn, &actor, &entries)?;
            let record = json(&clearing)?;
            exec(
                conn,
                "INSERT INTO payment_clearings (region_code, year, round, cleared_at, actor, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![city.to_string(), clearing.year, clearing.round, actor.at_text(), actor.who, record],
            )?;
            audit(conn, &actor, city, "fund.payment_clearing", &format!("{}/{}", clearing.year, clearing.round), record)?;
            Ok(ClearingOutcome { clearing, booked_now: true })
        })
        .await
    }

    async fn payment_clearings(&self, scope: RegionCode) -> Result<Vec<PaymentClearing>, StoreError> {
        let city = scope.city().to_string();
        self.read(move |conn| {
            query_all(conn, "SELECT record FROM payment_clearings WHERE region_code = ?1 ORDER BY year DESC, round DESC", [city], |row| {
                from_json(&col::<String>(row, 0)?)
            })
        })
        .await
    }

    async fn year_closes(&self, scope: RegionCode) -> Result<Vec<YearEndRecord>, StoreError> {
        let city = scope.city().to_string();
        self.read(move |conn| {
            query_all(conn, "SELECT result FROM year_closes WHERE region_code = ?1 ORDER BY year DESC", [city], |row| {
                from_json(&col::<String>(row, 0)?)
            })
        })
        .await
    }

    async fn record_fund_receipt(&self, actor: &Actor, scope: RegionCode, receipt: FundReceipt) -> Result<(), StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let city = city_of(scope)?;
            check_scope(city, receipt.unit)?;
            let entry = receipt.entry()?;
            // Booked already with the same content: a replay, which changes nothing, not even
            // the audit log (and is answered so after its year is closed too).
            let sql = format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = ?1 AND transfer_id = ?2");
            let stored = query_opt(conn, &sql, params![city.to_string(), entry.transfer.id.as_str()], transfer_row)?;
            if stored.map(|row| row.entry()).transpose()?.is_some_and(|stored| stored.transfer == entry.transfer) {
                return Ok(());
            }
            post(conn, &actor, std::slice::from_ref(&entry))?;
            let detail = receipt.audit_detail(&entry);
            audit(conn, &actor, city, "fund.receipt", entry.transfer.id.as_str(), detail)
        })
        .await
    }

    async fn run_pooling(
        &self,
        actor: &Actor,
        scope: RegionCode,
        month: YearMonth,
        value_date: Date,
        held_back: Vec<HeldBack>,
    ) -> Result<PoolingOutcome, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| run_pooling_in(conn, &actor, scope, month, value_date, held_back)).await
    }

    async fn preview_year_end(&self, scope: RegionCode, year: i32, options: YearEndOptions) -> Result<YearEndPreview, StoreError> {
        self.read(move |conn| {
            Ok(match year_end_plan(conn, city_of(scope)?, year, options)? {
                Ok((record, _)) => YearEndPreview { record, closed: false },
                Err(record) => YearEndPreview { record, closed: true },
            })
        })
        .await
    }

    async fn preview_pooling(
        &self,
        scope: RegionCode,
        month: YearMonth,
        value_date: Date,
        held_back: Vec<HeldBack>,
    ) -> Result<PoolingOutcome, StoreError> {
        self.read(move |conn| {
            let city = city_of(scope)?;
            let earlier = query_opt(
                conn,
                "SELECT result FROM pooling_runs WHERE region_code = ?1 AND month = ?2",
                params![city.to_string(), month.to_string()],
                |row| col::<String>(row, 0),
            )?;
            if let Some(result) = earlier {
                return Ok(PoolingOutcome { run: from_json(&result)?, ran_now: false });
            }
            yibao_store::pooling::check_month_order(month, latest_run(conn, city)?.as_deref())?;
            let (run, _) = plan_pooling(&pooling_inputs(conn, city, month, value_date, held_back)?)?;
            Ok(PoolingOutcome { run, ran_now: false })
        })
        .await
    }

    async fn set_budget(&self, actor: &Actor, scope: RegionCode, budget: Budget) -> Result<(), StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let city = city_of(scope)?;
            let (_, unit) = budget.check()?;
            check_scope(city, unit)?;
            exec(
                conn,
                "INSERT INTO fund_budgets (region_code, year, fund_scheme, unit_code, income_fen, spending_fen, set_at, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (region_code, year, fund_scheme, unit_code) DO UPDATE SET income_fen = excluded.income_fen, spending_fen = excluded.spending_fen, set_at = excluded.set_at, actor = excluded.actor",
                params![city.to_string(), budget.year, budget.fund_scheme, budget.unit, budget.income_fen, budget.spending_fen, actor.at_text(), actor.who],
            )?;
            let entity = format!("{}/{}/{}", budget.year, budget.fund_scheme, budget.unit);
            let detail = format!("{{\"income_fen\":{},\"spending_fen\":{}}}", budget.income_fen, budget.spending_fen);
            audit(conn, &actor, city, "fund.budget", &entity, detail)
        })
        .await
    }

    async fn set_targets(&self, actor: &Actor, scope: RegionCode, targets: CountyTargets) -> Result<(), StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let city = city_of(scope)?;
            let unit = targets.check()?;
            check_scope(city, unit)?;
            exec(
                conn,
                "INSERT INTO county_targets (region_code, year, unit_code, enrolment_target, collection_target_fen, set_at, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (region_code, year, unit_code) DO UPDATE SET enrolment_target = excluded.enrolment_target, \
                 collection_target_fen = excluded.collection_target_fen, set_at = excluded.set_at, actor = excluded.actor",
                params![city.to_string(), targets.year, targets.unit, i64::from(targets.enrolment_target), targets.collection_target_fen, actor.at_text(), actor.who],
            )?;
            audit(conn, &actor, city, "fund.targets", &format!("{}/{}", targets.year, targets.unit), json(&targets)?)
        })
        .await
    }

    async fn targets(&self, scope: RegionCode, year: i32) -> Result<Vec<TargetsProgress>, StoreError> {
        self.read(move |conn| targets_in(conn, scope, year)).await
    }

    async fn budgets(&self, scope: RegionCode, year: i32) -> Result<Vec<Budget>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let city = scope.city().to_string();
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT year, fund_scheme, unit_code, income_fen, spending_fen FROM fund_budgets \
                 WHERE region_code = ?1 AND year = ?2 AND unit_code BETWEEN ?3 AND ?4 ORDER BY fund_scheme, unit_code",
                params![city, year, low, high],
                |row| {
                    Ok(Budget {
                        year: col(row, 0)?,
                        fund_scheme: col(row, 1)?,
                        unit: col(row, 2)?,
                        income_fen: col(row, 3)?,
                        spending_fen: col(row, 4)?,
                    })
                },
            )
        })
        .await
    }

    async fn prepare_handover(&self, actor: &Actor, scope: RegionCode, request: HandoverRequest) -> Result<Inventory, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| prepare_handover_in(conn, &actor, scope, &request)).await
    }

    async fn confirm_handover(&self, actor: &Actor, scope: RegionCode, reference: &str, checksum: &str) -> Result<Inventory, StoreError> {
        let (actor, reference, checksum) = (actor.clone(), reference.to_owned(), checksum.to_owned());
        self.write(move |conn| confirm_handover_in(conn, &actor, scope, &reference, &checksum)).await
    }

    async fn handovers(&self, scope: RegionCode) -> Result<Vec<Inventory>, StoreError> {
        let city = scope.city().to_string();
        self.read(move |conn| {
            query_all(conn, "SELECT inventory FROM fund_handovers WHERE region_code = ?1 ORDER BY reference", [city], |row| {
                from_json(&col::<String>(row, 0)?)
            })
        })
        .await
    }

    async fn establish_legacy_deficit(&self, actor: &Actor, scope: RegionCode, request: LegacyRequest) -> Result<LegacyView, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let city = city_of(scope)?;
            let county = RegionCode::parse(&request.county).map_err(|e| StoreError::Invalid(format!("county: {e}")))?;
            check_scope(city, county)?;
            // Resolved now and kept: a later levy does not change an established offset.
            let mut request = request;
            let established = query_all(
                conn,
                "SELECT request FROM legacy_deficits WHERE region_code = ?1 AND unit_code = ?2",
                params![city.to_string(), county.to_string()],
                |row| from_json::<LegacyRequest>(&col::<String>(row, 0)?),
            )?;
            let taken = yibao_store::legacy::offsets_taken(&established)?;
            let paid_in = paid_into_adjustment(conn, city, county)?;
            let inputs = request.inputs(city, (paid_in - taken).max(yibao_domain::Fen::ZERO))?;
            request.paid_into_adjustment_fen = Some(inputs.paid_into_adjustment_fen.get());
            let inserted = exec(
                conn,
                "INSERT INTO legacy_deficits (region_code, fund_scheme, unit_code, request, established_by) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![city.to_string(), inputs.fund.scheme.as_str(), county.to_string(), json(&request)?, actor.who],
            )?;
            if inserted == 0 {
                return Err(StoreError::Exists(format!("the legacy deficit of {county} in {}", inputs.fund.scheme)));
            }
            let (schedule, entries) = establish(&inputs)?;
            post(conn, &actor, &entries)?;
            let view = legacy_view(&schedule, &[], inputs.established_on)?;
            audit(conn, &actor, city, "fund.legacy_deficit", &format!("{}/{county}", inputs.fund), json(&view)?)?;
            Ok(view)
        })
        .await
    }

    async fn record_legacy_repayment(
        &self,
        actor: &Actor,
        scope: RegionCode,
        repayment: LegacyRepayment,
    ) -> Result<LegacyView, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let city = city_of(scope)?;
            let detail = repayment.audit_detail();
            let LegacyRepayment { scheme, county, on, amount_fen, reference } = repayment;
            let request = stored_legacy(conn, city, scheme, county)?;
            let (schedule, _) = legacy_of(conn, city, &request)?;
            let entry = repayment_entry(&schedule, on, amount_fen, &reference)?;
            post(conn, &actor, std::slice::from_ref(&entry))?;
            let (schedule, repayments) = legacy_of(conn, city, &request)?;
            let view = legacy_view(&schedule, &repayments, on)?;
            audit(conn, &actor, city, "fund.legacy_repayment", entry.transfer.id.as_str(), detail)?;
            Ok(view)
        })
        .await
    }

    async fn legacy_deficits(&self, scope: RegionCode, as_of: Date) -> Result<Vec<LegacyView>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let city = scope.city();
        self.read(move |conn| {
            let requests = query_all(
                conn,
                "SELECT request FROM legacy_deficits WHERE region_code = ?1 AND unit_code BETWEEN ?2 AND ?3 ORDER BY fund_scheme, unit_code",
                params![city.to_string(), low, high],
                |row| from_json::<LegacyRequest>(&col::<String>(row, 0)?),
            )?;
            requests
                .iter()
                .map(|request| {
                    let (schedule, repayments) = legacy_of(conn, city, request)?;
                    legacy_view(&schedule, &repayments, as_of)
                })
                .collect()
        })
        .await
    }

    async fn legacy_requests(&self, scope: RegionCode) -> Result<Vec<LegacyRequest>, StoreError> {
        let city = scope.city().to_string();
        self.read(move |conn| {
            query_all(conn, "SELECT request FROM legacy_deficits WHERE region_code = ?1 ORDER BY fund_scheme, unit_code", [city], |row| {
                from_json::<LegacyRequest>(&col::<String>(row, 0)?)
            })
        })
        .await
    }

    async fn fund_settings(&self, scope: RegionCode) -> Result<(Vec<Budget>, Vec<CountyTargets>), StoreError> {
        let city = scope.city().to_string();
        self.read(move |conn| {
            let budgets = query_all(
                conn,
                "SELECT year, fund_scheme, unit_code, income_fen, spending_fen FROM fund_budgets WHERE region_code = ?1 ORDER BY year, fund_scheme, unit_code",
                [&city],
                |row| {
                    Ok(Budget {
                        year: col(row, 0)?,
                        fund_scheme: col(row, 1)?,
                        unit: col(row, 2)?,
                        income_fen: col(row, 3)?,
                        spending_fen: col(row, 4)?,
                    })
                },
            )?;
            let targets = query_all(
                conn,
                "SELECT year, unit_code, enrolment_target, collection_target_fen FROM county_targets WHERE region_code = ?1 ORDER BY year, unit_code",
                [&city],
                targets_row,
            )?;
            Ok((budgets, targets))
        })
        .await
    }

    async fn pooling_runs(&self, scope: RegionCode) -> Result<Vec<PoolingRun>, StoreError> {
        let city = scope.city().to_string();
        self.read(move |conn| {
            query_all(conn, "SELECT result FROM pooling_runs WHERE region_code = ?1 ORDER BY month DESC", [city], |row| {
                from_json(&col::<String>(row, 0)?)
            })
        })
        .await
    }

    async fn fund_accounts(&self, scope: RegionCode) -> Result<Vec<AccountState>, StoreError> {
        let city = city_of(scope)?.to_string();
        self.read(move |conn| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE region_code = ?1 ORDER BY fund_scheme, holder, kind");
            let rows = query_all(conn, &sql, [city], account_row)?;
            let mut states: Vec<AccountState> = rows.iter().map(AccountRow::state).collect::<Result<_, _>>()?;
            states.sort_by_key(AccountState::key);
            Ok(states)
        })
        .await
    }

    async fn fund_payables(&self, scope: RegionCode) -> Result<yibao_store::pooling::PayableSums, StoreError> {
        let city = city_of(scope)?.to_string();
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT fund_scheme, unit_code, payee, outstanding_fen FROM ledger_payables WHERE region_code = ?1",
                [city],
                |row| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?, col::<String>(row, 2)?, col::<i64>(row, 3)?)),
            )
        })
        .await
    }

    async fn personal_account_records(&self, scope: RegionCode) -> Result<Vec<(yibao_domain::NationalId, yibao_domain::Fen)>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            // The row the index names: a county a person left keeps an ended row without the
            // account, which went with them (R-ENR-5).
            let sql = "SELECT p.person_id, p.coverage FROM persons p \
                       JOIN person_index i ON i.person_id = p.person_id AND i.region_code = p.region_code \
                       WHERE p.region_code BETWEEN ?1 AND ?2";
            query_all(conn, sql, params![low, high], |row| {
                let coverage: yibao_engine::Coverage = from_json(&col::<String>(row, 1)?)?;
                Ok((yibao_store::stored::id_of(&col::<String>(row, 0)?)?, coverage.personal_account_balance))
            })
        })
        .await
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
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, \
                 settlement, claim, reversed_at, reversal_reason, acc_before, acc_after, insutype, supplementary_fen, \
                 kind, admission_date, discharge_date, institution_level, diagnosis, physician FROM claims WHERE region_code BETWEEN ?1 AND ?2 \
                 AND (region_code, institution_code, claim_id) > (?3, ?4, ?5) ORDER BY region_code, institution_code, claim_id LIMIT ?6",
                params![low, high, region, institution, claim, limit],
                stored_claim,
            )
        })
        .await
    }

    async fn accumulator_records(
        &self,
        scope: RegionCode,
    ) -> Result<Vec<(RegionCode, yibao_domain::NationalId, yibao_engine::Accumulators)>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT region_code, person_id, state FROM accumulators WHERE region_code BETWEEN ?1 AND ?2",
                params![low, high],
                |row| {
                    Ok((
                        region_of(&col::<String>(row, 0)?)?,
                        yibao_store::stored::id_of(&col::<String>(row, 1)?)?,
                        from_json(&col::<String>(row, 2)?)?,
                    ))
                },
            )
        })
        .await
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
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
                 WHERE region_code BETWEEN ?1 AND ?2 AND (region_code, seq) > (?3, ?4) ORDER BY region_code, seq LIMIT ?5",
                params![low, high, region, seq, limit],
                crate::access::contribution_from_row,
            )
        })
        .await
    }

    async fn fund_referenced_transfers(&self, scope: RegionCode) -> Result<Vec<(i64, Entry)>, StoreError> {
        let city = city_of(scope)?.to_string();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {TRANSFER_COLUMNS}, rowid FROM ledger_transfers WHERE region_code = ?1 AND transfer_id IN \
                 (SELECT reverses FROM ledger_transfers WHERE region_code = ?1 AND reverses IS NOT NULL \
                  UNION SELECT pair_id FROM ledger_transfers WHERE region_code = ?1 AND pair_id IS NOT NULL) ORDER BY rowid"
            );
            query_all(conn, &sql, params![city], |row| Ok((col::<i64>(row, 15)?, transfer_row(row)?.entry()?)))
        })
        .await
    }

    async fn transfers_caused_by(
        &self,
        scope: RegionCode,
        kind: yibao_ledger::RecordKind,
        ids: Vec<String>,
    ) -> Result<Vec<Entry>, StoreError> {
        let city = city_of(scope)?.to_string();
        let ids = json(&ids)?;
        self.read(move |conn| {
            let sql = format!(
                "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE region_code = ?1 AND cause_kind = ?2 \
                 AND cause_id IN (SELECT value FROM json_each(?3)) ORDER BY rowid"
            );
            query_all(conn, &sql, params![city, kind.as_str(), ids], transfer_row)?.iter().map(TransferRow::entry).collect()
        })
        .await
    }

    async fn record_counts(&self, scope: RegionCode) -> Result<yibao_store::RecordCounts, StoreError> {
        let city = city_of(scope)?;
        let (low, high) = scope_bounds(city);
        let city = city.to_string();
        self.read(move |conn| {
            let count = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<u64, StoreError> {
                let n = query_opt(conn, sql, args, |row| col::<i64>(row, 0))?.unwrap_or(0);
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(yibao_store::RecordCounts {
                claims: count("SELECT COUNT(*) FROM claims WHERE region_code BETWEEN ?1 AND ?2", &[&low, &high])?,
                contributions: count("SELECT COUNT(*) FROM contributions WHERE region_code BETWEEN ?1 AND ?2", &[&low, &high])?,
                record_transfers: count(
                    "SELECT COUNT(*) FROM ledger_transfers WHERE region_code = ?1 \
                     AND cause_kind IN ('contribution', 'subsidy', 'settlement', 'settlement-reversal')",
                    &[&city],
                )?,
                other_transfers: count(
                    "SELECT COUNT(*) FROM ledger_transfers WHERE region_code = ?1 \
                     AND cause_kind NOT IN ('contribution', 'subsidy', 'settlement', 'settlement-reversal')",
                    &[&city],
                )?,
            })
        })
        .await
    }

    async fn claims_by_keys(&self, region: RegionCode, keys: Vec<(String, String)>) -> Result<Vec<yibao_store::StoredClaim>, StoreError> {
        let keys = json(&keys)?;
        // CROSS JOIN keeps the keys outside: each is then one primary-key lookup. With a plain
        // JOIN the planner scanned the region's claims once per key (75 s for a page of
        // 10,000 keys among 22,000 claims, against 0.2 s).
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT c.region_code, c.institution_code, c.claim_id, c.person_id, c.year, c.status, c.settled_at, c.medfee_fen, c.fund_pay_fen, \
                 c.psn_part_fen, c.settlement, c.claim, c.reversed_at, c.reversal_reason, c.acc_before, c.acc_after, c.insutype, c.supplementary_fen, \
                 c.kind, c.admission_date, c.discharge_date, c.institution_level, c.diagnosis, c.physician \
                 FROM json_each(?2) AS k CROSS JOIN claims c ON c.region_code = ?1 \
                 AND c.institution_code = json_extract(k.value, '$[0]') AND c.claim_id = json_extract(k.value, '$[1]')",
                params![region.to_string(), keys],
                stored_claim,
            )
        })
        .await
    }

    async fn contributions_by_seqs(&self, region: RegionCode, seqs: Vec<i64>) -> Result<Vec<yibao_store::ContributionRecord>, StoreError> {
        let seqs = json(&seqs)?;
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
                 WHERE region_code = ?1 AND seq IN (SELECT value FROM json_each(?2)) ORDER BY seq",
                params![region.to_string(), seqs],
                crate::access::contribution_from_row,
            )
        })
        .await
    }

    async fn fund_entries(&self, scope: RegionCode, after: i64, limit: i64) -> Result<Vec<(i64, Entry)>, StoreError> {
        let city = city_of(scope)?.to_string();
        let limit = limit.clamp(1, yibao_store::ENTRIES_PAGE_LIMIT);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {TRANSFER_COLUMNS}, rowid FROM ledger_transfers WHERE region_code = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3"
            );
            query_all(conn, &sql, params![city, after, limit], |row| Ok((col::<i64>(row, 15)?, transfer_row(row)?.entry()?)))
        })
        .await
    }

    async fn fund_movements(&self, scope: RegionCode, from: Date, to: Date) -> Result<Vec<Movement>, StoreError> {
        self.read(move |conn| movements_in(conn, scope, from, to)).await
    }

    async fn fund_cities(&self) -> Result<Vec<RegionCode>, StoreError> {
        self.read(|conn| {
            query_all(conn, "SELECT DISTINCT region_code FROM ledger_accounts ORDER BY region_code", [], |row| {
                region_of(&col::<String>(row, 0)?)
            })
        })
        .await
    }
}
