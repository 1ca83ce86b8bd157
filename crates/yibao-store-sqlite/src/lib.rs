//! The SQLite store: Yibao's embedded default. One file in the data directory, WAL journal,
//! `synchronous = FULL` (a committed write survives power loss), hand-written SQL, and
//! migrations embedded and run at open.
//!
//! Writes go to one writer thread that group-commits (see [`db`]): each request runs in its
//! own savepoint inside a batch transaction, and is answered only after the batch's commit
//! has returned. Reads run on read-only connections beside it, each in one snapshot.

mod access;
mod administrator;
mod arrears;
pub mod backup;
mod books;
mod catalogue;
mod db;
mod employer;
mod interface;
mod migration;
mod policy;
mod review;

use std::sync::Arc;

use rusqlite::{Connection, Params, Row, params};
use time::Date;
use yibao_domain::{HouseholdId, NationalId, RegionCode};
use yibao_engine::{Accumulators, Coverage, CoverageChange};
use yibao_store::compact::ClaimColumns;
use yibao_store::{
    Actor, AuditEntry, ClaimRecord, ClaimStatus, CoverageEnd, GENESIS_HASH, HouseholdRecord, NewHousehold, NewPerson, NewReferral,
    PersonQuery, PersonRecord, PersonUpdate, REFERRALS_LIMIT, ReferralRecord, SEARCH_LIMIT, SettleFn, SettleOutcome, SettleRequest, Store,
    StoreError, StoredAudit, TierEdit, check_scope, entry_hash, run_settlement, settled_claim,
};

pub use db::BATCH_LEN_MAX;
pub(crate) use db::backend;

/// Migrations, in order. Applied once each, recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_access_contributions.sql")),
    (3, include_str!("../migrations/0003_ledger.sql")),
    (4, include_str!("../migrations/0004_referrals.sql")),
    (5, include_str!("../migrations/0005_institution_levels.sql")),
    (6, include_str!("../migrations/0006_card_unique.sql")),
    (7, include_str!("../migrations/0007_policy_versions.sql")),
    (8, include_str!("../migrations/0008_interface.sql")),
    (9, include_str!("../migrations/0009_township_level.sql")),
    (10, include_str!("../migrations/0010_catalogue.sql")),
    (11, include_str!("../migrations/0011_maternity_contributions.sql")),
    (12, include_str!("../migrations/0012_catalogue_proposals.sql")),
    (13, include_str!("../migrations/0013_institution_agreements.sql")),
    (14, include_str!("../migrations/0014_payment_clearings.sql")),
    (15, include_str!("../migrations/0015_negotiated_prices.sql")),
    (16, include_str!("../migrations/0016_migrations.sql")),
    (17, include_str!("../migrations/0017_coverage_history.sql")),
    (18, include_str!("../migrations/0018_employers.sql")),
    (19, include_str!("../migrations/0019_arrears_plans.sql")),
    (20, include_str!("../migrations/0020_go_live_and_receipts.sql")),
    (21, include_str!("../migrations/0021_review_and_administrators.sql")),
    (22, include_str!("../migrations/0022_visits_by_day.sql")),
    (23, include_str!("../migrations/0023_running_payables.sql")),
    (24, include_str!("../migrations/0024_compact_settlements.sql")),
    (25, include_str!("../migrations/0025_compact_claims_and_audit.sql")),
];

/// A store in one SQLite file. Cloning shares the same writer and readers.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<db::Database>,
}

pub(crate) use yibao_store::stored::{
    fen_of, from_json, household_of, id_of, institution_of, json, name_of, region_of, scope_bounds, time_of, time_text,
};

/// Runs a statement that returns no rows; the number of rows changed.
pub(crate) fn exec(conn: &Connection, sql: &str, params: impl Params) -> Result<usize, StoreError> {
    conn.prepare_cached(sql).and_then(|mut statement| statement.execute(params)).map_err(backend)
}

/// The first row of a query, mapped, if there is one.
pub(crate) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = statement.query(params).map_err(backend)?;
    rows.next().map_err(backend)?.map(map).transpose()
}

/// Every row of a query, mapped.
pub(crate) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = statement.query(params).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Column `index` of `row`.
pub(crate) fn col<T: rusqlite::types::FromSql>(row: &Row<'_>, index: usize) -> Result<T, StoreError> {
    row.get(index).map_err(backend)
}

/// Column `index` of `row` as stored, a BLOB's bytes or a text's.
pub(crate) fn stored_bytes<'row>(row: &'row Row<'_>, index: usize) -> Result<&'row [u8], StoreError> {
    match row.get_ref(index).map_err(backend)? {
        rusqlite::types::ValueRef::Blob(bytes) | rusqlite::types::ValueRef::Text(bytes) => Ok(bytes),
        other => Err(StoreError::Backend(format!("a stored value is {}", other.data_type()))),
    }
}

/// A stored settlement, claim or claim's counters: compressed (a BLOB), or JSON text as
/// written before store version 24 (25 for claims; `yibao_store::compact`).
pub(crate) fn packed_col(row: &Row<'_>, index: usize) -> Result<String, StoreError> {
    yibao_store::compact::unpack(stored_bytes(row, index)?)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &std::path::Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        let db = tokio::task::spawn_blocking(move || {
            refuse_newer(&path)?;
            db::Database::open(&path, migrate)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database failed: {e}")))??;
        Ok(SqliteStore { db: Arc::new(db) })
    }

    /// Opens an existing database file for reading only (checking a backup): no writer, no
    /// migration. Its schema must be this build's: a file from another version is
    /// refused (`Invalid`, naming both versions) rather than read with the wrong SQL.
    pub async fn open_read_only(path: &std::path::Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        let db = tokio::task::spawn_blocking(move || db::Database::open_read_only(&path))
            .await
            .map_err(|e| StoreError::Backend(format!("opening the database failed: {e}")))??;
        let store = SqliteStore { db: Arc::new(db) };
        let version = store
            .read(|conn| query_opt(conn, "SELECT max(version) FROM schema_migrations", [], |row| col::<Option<i64>>(row, 0)))
            .await
            .map_err(|e| StoreError::Invalid(format!("not a Yibao database ({e})")))?
            .flatten();
        let expected = MIGRATIONS.last().map(|(version, _)| *version);
        if let (Some(found), Some(known)) = (version, expected)
            && found > known
        {
            return Err(StoreError::SchemaNewer { found, known });
        }
        if version != expected {
            return Err(StoreError::Invalid(format!(
                "its schema is version {}, this build's is {}",
                version.map_or_else(|| "none".to_owned(), |v| v.to_string()),
                expected.unwrap_or_default()
            )));
        }
        Ok(store)
    }

    /// Group commit at work: (write transactions, write requests) since the store opened.
    /// Their ratio is the mean batch size.
    #[must_use]
    pub fn writer_stats(&self) -> (u64, u64) {
        self.db.stats()
    }

    /// Microseconds the writer spent in write transactions since the store opened.
    #[must_use]
    pub fn write_time_us(&self) -> u64 {
        self.db.busy_us()
    }

    /// Write requests waiting in the writer's queue now.
    #[must_use]
    pub fn queued_writes(&self) -> usize {
        self.db.queued()
    }

    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.db.write(work).await
    }

    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.db.read(work).await
    }
}

/// The schema version a database file records, `None` for a new or empty file. Read
/// through a read-only connection, before the store's own connection changes the journal
/// mode, so that a store this build will refuse is left byte for byte as it was.
fn recorded_schema(path: &std::path::Path) -> Result<Option<i64>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(backend)?;
    let has_table =
        query_opt(&conn, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'", [], |row| col::<i64>(row, 0))?;
    if has_table.is_none() {
        return Ok(None);
    }
    Ok(query_opt(&conn, "SELECT max(version) FROM schema_migrations", [], |row| col::<Option<i64>>(row, 0))?.flatten())
}

/// Refuses a database a later release has migrated further than this build knows
/// (`migrations-forward`, `store.schema_newer`), before anything is written to it: the
/// store's open does this first, and a backup before it copies.
pub fn refuse_newer(path: &std::path::Path) -> Result<(), StoreError> {
    let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    match recorded_schema(path)? {
        Some(found) if found > known => Err(StoreError::SchemaNewer { found, known }),
        _ => Ok(()),
    }
}

/// Applies the pending migrations, each once, in one transaction. Foreign keys are off
/// while they run, as SQLite's procedure for rebuilding a table asks (a table another
/// references is dropped and its copy renamed into place), and checked before the commit:
/// a migration that broke one is rolled back.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA foreign_keys = OFF;").map_err(backend)?;
    let migrated = migrate_in_transaction(conn);
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(backend)?;
    migrated
}

fn migrate_in_transaction(conn: &Connection) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction().map_err(backend)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .map_err(backend)?;
    let newest = query_opt(&tx, "SELECT max(version) FROM schema_migrations", [], |row| col::<Option<i64>>(row, 0))?.flatten();
    let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if let Some(found) = newest.filter(|found| *found > known) {
        return Err(StoreError::SchemaNewer { found, known });
    }
    for (version, sql) in MIGRATIONS {
        let applied = query_opt(&tx, "SELECT version FROM schema_migrations WHERE version = ?1", [version], |row| col::<i64>(row, 0))?;
        if applied.is_none() {
            tx.execute_batch(sql).map_err(backend)?;
            exec(&tx, "INSERT INTO schema_migrations (version) VALUES (?1)", [version])?;
        }
    }
    let broken = query_all(&tx, "PRAGMA foreign_key_check", [], |row| col::<String>(row, 0))?;
    if let Some(table) = broken.first() {
        return Err(StoreError::Backend(format!("a migration left rows of {table} without the row they refer to")));
    }
    tx.commit().map_err(backend)
}

/// Appends one audit entry to `region`'s chain, inside the caller's transaction.
pub(crate) fn audit(
    conn: &Connection,
    actor: &Actor,
    region: RegionCode,
    action: &str,
    entity: &str,
    detail: String,
) -> Result<(), StoreError> {
    let region_text = region.to_string();
    let head = query_opt(conn, "SELECT seq, hash FROM audit_heads WHERE region_code = ?1", [&region_text], |row| {
        Ok((col::<i64>(row, 0)?, col::<String>(row, 1)?))
    })?;
    let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
    let mut entry = AuditEntry {
        region: region_text,
        seq: prev_seq + 1,
        at: actor.at_text(),
        actor: actor.who.clone(),
        source: actor.source.clone(),
        action: action.to_owned(),
        entity: entity.to_owned(),
        detail,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry.prev_hash, &entry);
    let stored = StoredAudit::of(&entry)?;
    exec(
        conn,
        "INSERT INTO audit_log (region_code, seq, at, actor, source, action, entity, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            entry.region,
            entry.seq,
            entry.at,
            entry.actor,
            entry.source,
            entry.action,
            entry.entity,
            stored.detail,
            stored.prev_hash,
            stored.hash
        ],
    )?;
    exec(
        conn,
        "INSERT INTO audit_heads (region_code, seq, hash) VALUES (?1, ?2, ?3) ON CONFLICT (region_code) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![entry.region, entry.seq, entry.hash],
    )?;
    Ok(())
}

/// Enrols one person: scope, one enrolment per national ID, the household exists; writes
/// the index, the person and the audit entry.
pub(crate) fn insert_person(conn: &Connection, actor: &Actor, scope: RegionCode, person: NewPerson) -> Result<PersonRecord, StoreError> {
    let region = person.coverage.region;
    check_scope(scope, region)?;
    let id = person.coverage.person_id;
    let existing = query_opt(conn, "SELECT region_code, household_id FROM person_index WHERE person_id = ?1", [id.as_str()], |row| {
        Ok((col::<String>(row, 0)?, col::<String>(row, 1)?))
    })?;
    if let Some((existing_region, household)) = existing {
        return Err(StoreError::AlreadyEnrolled { person: id.to_string(), region: existing_region, household });
    }
    let household = query_opt(
        conn,
        "SELECT 1 FROM households WHERE region_code = ?1 AND household_id = ?2",
        params![region.to_string(), person.household_id.as_str()],
        |row| col::<i64>(row, 0),
    )?;
    if household.is_none() {
        return Err(StoreError::HouseholdNotFound(person.household_id.into_string()));
    }
    check_card_free(conn, region, person.card_no.as_deref(), &id)?;
    let record = PersonRecord {
        person_id: id,
        name: person.name,
        card_no: person.card_no,
        household_id: person.household_id,
        coverage: person.coverage,
        history: Vec::new(),
        died_on: None,
        enrolled_at: actor.at,
        updated_at: actor.at,
    };
    exec(
        conn,
        "INSERT INTO person_index (person_id, region_code, household_id) VALUES (?1, ?2, ?3)",
        params![id.as_str(), region.to_string(), record.household_id.as_str()],
    )?;
    exec(
        conn,
        "INSERT INTO persons (region_code, person_id, household_id, name, card_no, coverage, enrolled_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            region.to_string(),
            id.as_str(),
            record.household_id.as_str(),
            record.name.as_str(),
            record.card_no,
            json(&record.coverage)?,
            time_text(record.enrolled_at)?,
            time_text(record.updated_at)?
        ],
    )?;
    let opening = record.coverage.personal_account_balance;
    if opening.is_negative() {
        return Err(StoreError::Invalid("a personal account's balance may not be negative".into()));
    }
    books::post(conn, actor, &yibao_store::books::opening_account_entries(region, id, opening, actor.at.date())?)?;
    audit(conn, actor, region, "person.enrol", id.as_str(), json(&record)?)?;
    Ok(record)
}

/// Refuses a card number another person of `region` holds (`person.card_taken`).
fn check_card_free(conn: &Connection, region: RegionCode, card_no: Option<&str>, person: &NationalId) -> Result<(), StoreError> {
    let Some(card_no) = card_no else { return Ok(()) };
    let holder = query_opt(
        conn,
        "SELECT person_id FROM persons WHERE region_code = ?1 AND card_no = ?2 AND person_id <> ?3",
        params![region.to_string(), card_no, person.as_str()],
        |row| col::<String>(row, 0),
    )?;
    match holder {
        Some(_) => Err(yibao_store::card_taken(card_no)),
        None => Ok(()),
    }
}

/// Creates one household.
pub(crate) fn insert_household(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    household: NewHousehold,
) -> Result<HouseholdRecord, StoreError> {
    check_scope(scope, household.region)?;
    let exists = query_opt(
        conn,
        "SELECT 1 FROM households WHERE region_code = ?1 AND household_id = ?2",
        params![household.region.to_string(), household.household_id.as_str()],
        |row| col::<i64>(row, 0),
    )?;
    if exists.is_some() {
        return Err(StoreError::HouseholdExists(household.household_id.into_string()));
    }
    let record = HouseholdRecord {
        household_id: household.household_id,
        region: household.region,
        address: household.address,
        created_at: actor.at,
    };
    exec(
        conn,
        "INSERT INTO households (region_code, household_id, address, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![record.region.to_string(), record.household_id.as_str(), record.address, time_text(record.created_at)?],
    )?;
    audit(conn, actor, record.region, "household.create", &record.household_id, json(&record)?)?;
    Ok(record)
}

/// Every region with an audit entry or a record audited in its own region (staff,
/// institutions, referrals), and the city of every fund run (audited in the city's chain).
const REGIONS_ON_RECORD: &str = "SELECT region_code FROM audit_log UNION SELECT region_code FROM households \
     UNION SELECT region_code FROM persons UNION SELECT region_code FROM contributions UNION SELECT region_code FROM claims \
     UNION SELECT region_code FROM staff UNION SELECT region_code FROM institutions UNION SELECT region_code FROM referrals \
     UNION SELECT substr(region_code, 1, 4) || '00' FROM pooling_runs UNION SELECT substr(region_code, 1, 4) || '00' FROM year_closes \
     UNION SELECT substr(region_code, 1, 4) || '00' FROM fund_budgets UNION SELECT substr(region_code, 1, 4) || '00' FROM fund_handovers \
     UNION SELECT substr(region_code, 1, 4) || '00' FROM legacy_deficits UNION SELECT substr(region_code, 1, 4) || '00' FROM county_targets \
     ORDER BY 1";

const PERSON_BY_KEY: &str = "SELECT person_id, name, card_no, household_id, coverage, enrolled_at, updated_at, history, died_on FROM persons WHERE region_code = ?1 AND person_id = ?2";
/// The conditions of a person search (`?1`..`?6`), shared by the page and its count.
/// Only the row the index names: a county a person left keeps an ended row, which is not
/// the person any more (R-ENR-5).
const PERSON_MATCH: &str = "FROM persons WHERE region_code BETWEEN ?1 AND ?2 \
     AND EXISTS (SELECT 1 FROM person_index i WHERE i.person_id = persons.person_id AND i.region_code = persons.region_code) \
     AND (?3 IS NULL OR person_id = ?3) AND (?4 IS NULL OR name LIKE ?4 || '%' ESCAPE '\\') \
     AND (?5 IS NULL OR card_no = ?5) AND (?6 IS NULL OR household_id = ?6)";
/// A claim row's columns, as [`claim_from_row`] reads them.
pub(crate) const CLAIM_COLUMNS: &str = "region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, reversed_at, reversal_reason";
const CLAIM_BY_KEY: &str = "SELECT region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, reversed_at, reversal_reason \
     FROM claims WHERE region_code = ?1 AND institution_code = ?2 AND claim_id = ?3";
const CLAIMS_OF_PERSON: &str = "SELECT region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, reversed_at, reversal_reason \
     FROM claims WHERE region_code = ?1 AND person_id = ?2 ORDER BY settled_at DESC, claim_id DESC LIMIT ?3";

/// A person's visits by day, latest first (`visit_days`): the expressions of the index
/// `claims_visits_by_day` (migrations 22 and 25), word for word, so that SQLite walks it.
fn visit_days_sql() -> String {
    format!(
        "SELECT admission_date FROM claims \
         WHERE region_code = ?1 AND person_id = ?2 AND status = 'settled' \
           AND kind NOT IN ({}) \
           AND admission_date BETWEEN ?3 AND ?4 \
           AND NOT (institution_code = ?5 AND claim_id = ?6) \
         ORDER BY admission_date DESC LIMIT ?7",
        yibao_store::NOT_VISIT_KINDS_SQL
    )
}

/// A person row (columns as in [`PERSON_BY_KEY`]).
fn person_from_row(row: &Row<'_>) -> Result<PersonRecord, StoreError> {
    Ok(PersonRecord {
        person_id: id_of(&col::<String>(row, 0)?)?,
        name: name_of(&col::<String>(row, 1)?)?,
        card_no: col(row, 2)?,
        household_id: household_of(&col::<String>(row, 3)?)?,
        coverage: from_json(&col::<String>(row, 4)?)?,
        enrolled_at: time_of(&col::<String>(row, 5)?)?,
        updated_at: time_of(&col::<String>(row, 6)?)?,
        history: from_json(&col::<String>(row, 7)?)?,
        died_on: col::<Option<String>>(row, 8)?.as_deref().map(yibao_store::stored::date_of).transpose()?,
    })
}

/// A claim row (columns as in [`CLAIM_BY_KEY`]).
pub(crate) fn claim_from_row(row: &Row<'_>) -> Result<ClaimRecord, StoreError> {
    claim_with(row, packed_col(row, 10)?, packed_col(row, 11)?)
}

/// A claim row with its settlement and claim as already read (or, for the book check, as
/// could be).
pub(crate) fn claim_with(row: &Row<'_>, settlement_json: String, claim_json: String) -> Result<ClaimRecord, StoreError> {
    let status: String = col(row, 5)?;
    Ok(ClaimRecord {
        region: region_of(&col::<String>(row, 0)?)?,
        institution_code: institution_of(&col::<String>(row, 1)?)?,
        claim_id: col(row, 2)?,
        person_id: id_of(&col::<String>(row, 3)?)?,
        year: col(row, 4)?,
        status: if status == "reversed" { ClaimStatus::Reversed } else { ClaimStatus::Settled },
        settled_at: time_of(&col::<String>(row, 6)?)?,
        medfee_fen: fen_of(col(row, 7)?)?,
        fund_pay_fen: fen_of(col(row, 8)?)?,
        psn_part_fen: fen_of(col(row, 9)?)?,
        settlement_json,
        claim_json,
        reversed_at: col::<Option<String>>(row, 12)?.as_deref().map(time_of).transpose()?,
        reversal_reason: col(row, 13)?,
    })
}

/// A person's referrals, newest first, each with its cancellation if any.
/// The person's referrals filed in any of `regions` (where they were insured: a referral
/// on file goes with the person, R-ENR-5).
fn referrals_in(conn: &Connection, regions: &[RegionCode], person: &NationalId) -> Result<Vec<ReferralRecord>, StoreError> {
    let mut all = Vec::new();
    for region in regions {
        all.extend(referrals_in_one(conn, *region, person)?);
    }
    Ok(all)
}

fn referrals_in_one(conn: &Connection, region: RegionCode, person: &NationalId) -> Result<Vec<ReferralRecord>, StoreError> {
    query_all(
        conn,
        "SELECT r.region_code, r.person_id, r.seq, r.from_institution, r.to_institution, r.issued_on, r.valid_until, r.filed_by, r.filed_at, \
         c.cancelled_by, c.cancelled_at \
         FROM referrals r LEFT JOIN referral_cancellations c ON c.region_code = r.region_code AND c.person_id = r.person_id AND c.seq = r.seq \
         WHERE r.region_code = ?1 AND r.person_id = ?2 ORDER BY r.seq DESC",
        params![region.to_string(), person.as_str()],
        |row| {
            ReferralRecord::from_columns(
                &col::<String>(row, 0)?,
                &col::<String>(row, 1)?,
                col(row, 2)?,
                &col::<String>(row, 3)?,
                &col::<String>(row, 4)?,
                &col::<String>(row, 5)?,
                &col::<String>(row, 6)?,
                col(row, 7)?,
                &col::<String>(row, 8)?,
            )?
            .with_cancellation(col(row, 9)?, col::<Option<String>>(row, 10)?.as_deref())
        },
    )
}

/// The person's row, found through the global index, if it lies inside `scope`. A person
/// outside the scope is reported as not found: a county learns nothing of another's people.
pub(crate) fn locate(conn: &Connection, scope: RegionCode, person: &NationalId) -> Result<(RegionCode, PersonRecord), StoreError> {
    let region = query_opt(conn, "SELECT region_code FROM person_index WHERE person_id = ?1", [person.as_str()], |row| {
        region_of(&col::<String>(row, 0)?)
    })?
    .filter(|region| scope.contains(*region))
    .ok_or_else(|| StoreError::PersonNotFound(person.to_string()))?;
    let record = query_opt(conn, PERSON_BY_KEY, params![region.to_string(), person.as_str()], person_from_row)?
        .ok_or_else(|| StoreError::Backend(format!("person {person} is indexed but has no row")))?;
    Ok((region, record))
}

pub(crate) fn save_coverage(
    conn: &Connection,
    actor: &Actor,
    region: RegionCode,
    person: &NationalId,
    coverage: &Coverage,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE persons SET coverage = ?1, updated_at = ?2 WHERE region_code = ?3 AND person_id = ?4",
        params![json(coverage)?, actor.at_text(), region.to_string(), person.as_str()],
    )?;
    Ok(())
}

fn load_accumulators(conn: &Connection, region: RegionCode, person: &NationalId, year: i32) -> Result<Accumulators, StoreError> {
    let state = query_opt(
        conn,
        "SELECT state FROM accumulators WHERE region_code = ?1 AND person_id = ?2 AND year = ?3",
        params![region.to_string(), person.as_str(), year],
        |row| col::<String>(row, 0),
    )?;
    state.map_or_else(|| Ok(Accumulators::new_year(year)), |s| from_json(&s))
}

fn save_accumulators(conn: &Connection, region: RegionCode, person: &NationalId, acc: &Accumulators) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO accumulators (region_code, person_id, year, state) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (region_code, person_id, year) DO UPDATE SET state = excluded.state",
        params![region.to_string(), person.as_str(), acc.year, json(acc)?],
    )?;
    Ok(())
}

pub(crate) fn find_claim(conn: &Connection, institution: &str, claim_id: &str) -> Result<Option<ClaimRecord>, StoreError> {
    let region = query_opt(
        conn,
        "SELECT region_code FROM claim_keys WHERE institution_code = ?1 AND claim_id = ?2",
        params![institution, claim_id],
        |row| col::<String>(row, 0),
    )?;
    let Some(region) = region else { return Ok(None) };
    let record = query_opt(conn, CLAIM_BY_KEY, params![region, institution, claim_id], claim_from_row)?;
    record.ok_or_else(|| StoreError::Backend(format!("claim key {institution}/{claim_id} has no claim"))).map(Some)
}

/// A claim's columns (`ClaimColumns`), in the order of [`CLAIM_COLUMN_NAMES`], from
/// column `first` of `row` on.
pub(crate) fn claim_columns(row: &Row<'_>, first: usize) -> Result<ClaimColumns, StoreError> {
    Ok(ClaimColumns {
        kind: col(row, first)?,
        admission_date: col(row, first + 1)?,
        discharge_date: col(row, first + 2)?,
        institution_level: col(row, first + 3)?,
        diagnosis: col(row, first + 4)?,
        physician: col(row, first + 5)?,
    })
}

/// The columns [`claim_columns`] reads.
pub(crate) const CLAIM_COLUMN_NAMES: &str = "kind, admission_date, discharge_date, institution_level, diagnosis, physician";

/// The person's settled claims at `institution`: (institution, the claim's columns).
fn settled_at(
    conn: &Connection,
    regions: &[RegionCode],
    person: &NationalId,
    institution: &str,
) -> Result<Vec<(String, ClaimColumns)>, StoreError> {
    let mut all = Vec::new();
    for region in regions {
        all.extend(query_all(
            conn,
            &format!(
                "SELECT institution_code, {CLAIM_COLUMN_NAMES} FROM claims \
                 WHERE region_code = ?1 AND person_id = ?2 AND status = 'settled' AND institution_code = ?3"
            ),
            params![region.to_string(), person.as_str(), institution],
            |row| Ok((col::<String>(row, 0)?, claim_columns(row, 1)?)),
        )?);
    }
    Ok(all)
}

/// The person's live stays (inside the writer's transaction: no settlement comes between).
fn settled_stays(conn: &Connection, region: RegionCode, person: &NationalId) -> Result<Vec<yibao_store::StayDays>, StoreError> {
    let rows = query_all(
        conn,
        &format!(
            "SELECT institution_code, claim_id, {CLAIM_COLUMN_NAMES} FROM claims WHERE region_code = ?1 AND person_id = ?2 AND status = 'settled'"
        ),
        params![region.to_string(), person.as_str()],
        |row| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?, claim_columns(row, 2)?)),
    )?;
    Ok(rows.into_iter().filter_map(|(institution, claim_id, columns)| columns.stay(&institution, &claim_id)).collect())
}

/// Settles one claim inside the writer's transaction (see [`Store::settle`]).
fn settle_in(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    request: SettleRequest,
    compute: &SettleFn,
) -> Result<SettleOutcome, StoreError> {
    if let Some(existing) = find_claim(conn, &request.institution_code, &request.claim_id)? {
        return yibao_store::replay(existing, scope, request);
    }
    let (region, person) = locate(conn, scope, &request.person_id)?;
    // Under the coverage in force on the date of service (R-ENR-5), booked where the person
    // is insured now.
    let coverage = yibao_store::claim_coverage(&person.coverage, &person.history, request.service_date)?;
    yibao_store::check_alive(person.died_on, &request)?;
    if yibao_store::stay_days(request.institution_code.as_str(), &request.claim_id, &request.claim_json)?.is_some() {
        let mut stays = Vec::new();
        for person_region in yibao_store::regions_of(&person.coverage, &person.history) {
            stays.extend(settled_stays(conn, person_region, &request.person_id)?);
        }
        yibao_store::check_stay_free(&request, &stays)?;
    }
    let before = load_accumulators(conn, region, &request.person_id, request.year)?;
    let settlement = run_settlement(compute, &coverage, &before, request.year)?;
    if settlement.referral {
        let regions = yibao_store::regions_of(&person.coverage, &person.history);
        let settled_there = settled_at(conn, &regions, &request.person_id, request.institution_code.as_str())?;
        yibao_store::check_referral_live(&request, &settlement, &referrals_in(conn, &regions, &request.person_id)?, &settled_there)?;
    }
    let after = settlement.accumulators;
    let record = settled_claim(region, &request, &settlement, actor.at)?;
    let stored = yibao_store::compact::StoredSettlement::new(&record.settlement_json, &settlement)?;
    let claim = yibao_store::compact::PackedClaim::new(&record.claim_json)?;
    let [kind, admission, discharge, level, diagnosis, physician] = claim.columns.fields().map(|(_, value)| value);
    let region_text = region.to_string();
    exec(
        conn,
        "INSERT INTO claim_keys (institution_code, claim_id, region_code) VALUES (?1, ?2, ?3)",
        params![record.institution_code.as_str(), record.claim_id, region_text],
    )?;
    exec(
        conn,
        "INSERT INTO claims (region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, acc_before, acc_after, insutype, supplementary_fen, \
         kind, admission_date, discharge_date, institution_level, diagnosis, physician) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'settled', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
        params![
            region_text,
            record.institution_code.as_str(),
            record.claim_id,
            record.person_id.as_str(),
            record.year,
            time_text(record.settled_at)?,
            record.medfee_fen.get(),
            record.fund_pay_fen.get(),
            record.psn_part_fen.get(),
            stored.bytes,
            claim.bytes,
            yibao_store::compact::pack_accumulators(&before)?,
            yibao_store::compact::pack_accumulators(&after)?,
            stored.insutype,
            stored.supplementary_fen,
            kind,
            admission,
            discharge,
            level,
            diagnosis,
            physician
        ],
    )?;
    save_accumulators(conn, region, &record.person_id, &after)?;
    review::insert_flags(conn, &record, &request.flags)?;
    let entries = yibao_store::books::settlement_entries(
        region,
        &record.institution_code,
        &record.claim_id,
        record.person_id,
        &yibao_store::books::SettlementAmounts::of(&settlement)?,
        actor.at.date(),
    )?;
    books::post(conn, actor, &entries)?;
    if settlement.acct_balance_after != person.coverage.personal_account_balance {
        let mut coverage = person.coverage.clone();
        coverage.personal_account_balance = settlement.acct_balance_after;
        save_coverage(conn, actor, region, &record.person_id, &coverage)?;
    }
    audit(
        conn,
        actor,
        region,
        "claim.settle",
        &format!("{}/{}", record.institution_code, record.claim_id),
        record.settle_audit_detail(&before, &after)?,
    )?;
    Ok(SettleOutcome { claim: record, replayed: false })
}

/// The settlements of the person's live claims booked in `region` for `year` or later.
fn settled_from(conn: &Connection, region: RegionCode, person: &NationalId, year: i32) -> Result<Vec<String>, StoreError> {
    query_all(
        conn,
        "SELECT settlement FROM claims WHERE region_code = ?1 AND person_id = ?2 AND year >= ?3 AND status = 'settled'",
        params![region.to_string(), person.as_str(), year],
        |row| packed_col(row, 0),
    )
}

/// Ends a person's coverage on `on`, or records their death on it, inside the writer's
/// transaction: never before a claim settled under it (`person.change_after_claims`).
fn close_coverage_in(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    person: &NationalId,
    end: CoverageEnd,
    on: Date,
) -> Result<PersonRecord, StoreError> {
    let (region, mut record) = locate(conn, scope, person)?;
    let (action, detail) = record.close_coverage(end, on)?;
    yibao_store::check_no_claims_after(on, settled_from(conn, region, person, on.year())?.iter().map(String::as_str))?;
    crate::employer::check_not_declared_from(conn, person, Some(yibao_store::employer::rebilled_from_end(end, on)), on)?;
    record.updated_at = actor.at;
    exec(
        conn,
        "UPDATE persons SET coverage = ?1, died_on = ?2, updated_at = ?3 WHERE region_code = ?4 AND person_id = ?5",
        params![json(&record.coverage)?, record.died_on.map(|d| d.to_string()), actor.at_text(), region.to_string(), person.as_str()],
    )?;
    audit(conn, actor, region, action, person.as_str(), detail)?;
    Ok(record)
}

/// Changes a person's coverage inside the writer's transaction (see [`Store::change_coverage`]).
fn change_coverage_in(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    person: &NationalId,
    change: CoverageChange,
    household: HouseholdId,
) -> Result<PersonRecord, StoreError> {
    let (region, mut record) = locate(conn, scope, person)?;
    check_scope(scope, change.region)?;
    if let Some(died_on) = record.died_on {
        return Err(yibao_store::deceased(died_on));
    }
    crate::employer::check_not_declared_from(
        conn,
        person,
        yibao_store::employer::rebilled_from_change(&record.coverage, &change),
        change.on,
    )?;
    // A household is a county's: the same id in another county is another household.
    let change = CoverageChange { household_changes: household != record.household_id || change.region != region, ..change };
    let (mut ended, next) = yibao_engine::change_coverage(&record.coverage, &record.history, &change)
        .map_err(|e| StoreError::Refused { code: e.code(), message: e.to_string() })?;
    let settled = settled_from(conn, region, person, change.on.year())?;
    yibao_store::check_no_claims_from(change.on, settled.iter().map(String::as_str))?;
    let household_there = query_opt(
        conn,
        "SELECT 1 FROM households WHERE region_code = ?1 AND household_id = ?2",
        params![change.region.to_string(), household.as_str()],
        |row| col::<i64>(row, 0),
    )?;
    if household_there.is_none() {
        return Err(StoreError::HouseholdNotFound(household.into_string()));
    }
    if ended.coverage.scheme != next.scheme {
        // The new scheme's year starts at zero; the old one's counters go with its spell.
        ended.accumulators = query_opt(
            conn,
            "SELECT state FROM accumulators WHERE region_code = ?1 AND person_id = ?2 AND year = ?3",
            params![region.to_string(), person.as_str(), change.on.year()],
            |row| col::<String>(row, 0),
        )?
        .map(|state| from_json(&state))
        .transpose()?;
        exec(
            conn,
            "DELETE FROM accumulators WHERE region_code = ?1 AND person_id = ?2 AND year >= ?3",
            params![region.to_string(), person.as_str(), change.on.year()],
        )?;
    }
    // Back in a scheme left earlier the same year: its year goes on where it was left.
    let restored = (ended.coverage.scheme != next.scheme)
        .then(|| yibao_engine::counters_to_restore(&record.history, next.scheme, change.on.year()))
        .flatten();
    if let Some(acc) = &restored {
        save_accumulators(conn, region, person, acc)?;
    }
    let moved = change.region != region;
    let carried: Vec<Accumulators> = if moved {
        query_all(
            conn,
            "SELECT state FROM accumulators WHERE region_code = ?1 AND person_id = ?2 ORDER BY year",
            params![region.to_string(), person.as_str()],
            |row| from_json(&col::<String>(row, 0)?),
        )?
    } else {
        Vec::new()
    };
    let detail = yibao_store::coverage_change_detail(&ended, &next, &household, &carried, restored.as_ref())?;
    let ended_coverage = ended.coverage.clone();
    record.history.push(ended);
    record.coverage = next;
    record.household_id = household;
    record.updated_at = actor.at;
    if moved {
        check_card_free(conn, change.region, record.card_no.as_deref(), person)?;
        // The old county keeps its row, ended: whom it insured, and what its contributions
        // refer to. The personal account went with the person.
        let closed = Coverage { personal_account_balance: yibao_domain::Fen::ZERO, ..ended_coverage };
        save_coverage(conn, actor, region, person, &closed)?;
        // The card goes with the person too: the old county may give its number to no one
        // else only while the person holds it there.
        exec(
            conn,
            "UPDATE persons SET card_no = NULL WHERE region_code = ?1 AND person_id = ?2",
            params![region.to_string(), person.as_str()],
        )?;
        exec(
            conn,
            "UPDATE accumulators SET region_code = ?1 WHERE region_code = ?2 AND person_id = ?3",
            params![change.region.to_string(), region.to_string(), person.as_str()],
        )?;
    }
    exec(
        conn,
        "INSERT INTO persons (region_code, person_id, household_id, name, card_no, coverage, enrolled_at, updated_at, history) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (region_code, person_id) DO UPDATE SET household_id = excluded.household_id, name = excluded.name, \
         card_no = excluded.card_no, coverage = excluded.coverage, updated_at = excluded.updated_at, history = excluded.history",
        params![
            change.region.to_string(),
            person.as_str(),
            record.household_id.as_str(),
            record.name.as_str(),
            record.card_no,
            json(&record.coverage)?,
            time_text(record.enrolled_at)?,
            time_text(record.updated_at)?,
            json(&record.history)?
        ],
    )?;
    exec(
        conn,
        "UPDATE person_index SET region_code = ?1, household_id = ?2 WHERE person_id = ?3",
        params![change.region.to_string(), record.household_id.as_str(), person.as_str()],
    )?;
    if moved {
        audit(conn, actor, region, "person.move_out", person.as_str(), detail.clone())?;
        audit(conn, actor, change.region, "person.move_in", person.as_str(), detail)?;
    } else {
        audit(conn, actor, region, "person.change_coverage", person.as_str(), detail)?;
    }
    Ok(record)
}

/// Reverses one claim inside the writer's transaction (see [`Store::reverse`]).
fn reverse_in(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    institution: &str,
    claim_id: &str,
    reason: &str,
) -> Result<ClaimRecord, StoreError> {
    let not_found = || StoreError::ClaimNotFound { institution: institution.to_owned(), claim_id: claim_id.to_owned() };
    let mut record = find_claim(conn, institution, claim_id)?.filter(|c| scope.contains(c.region)).ok_or_else(not_found)?;
    if record.status == ClaimStatus::Reversed {
        return Err(StoreError::AlreadyReversed(claim_id.to_owned()));
    }
    let region_text = record.region.to_string();
    let (before, after) = query_opt(
        conn,
        "SELECT acc_before, acc_after FROM claims WHERE region_code = ?1 AND institution_code = ?2 AND claim_id = ?3",
        params![region_text, institution, claim_id],
        |row| Ok((from_json::<Accumulators>(&packed_col(row, 0)?)?, from_json::<Accumulators>(&packed_col(row, 1)?)?)),
    )?
    .ok_or_else(not_found)?;
    // The year's counters and the personal account are where the person is insured now: a
    // claim of a county the person has left is not reversed at the counter (R-ENR-5).
    let (person_region, person) = locate(conn, record.region.city(), &record.person_id)?;
    if person_region != record.region {
        return Err(yibao_store::reversal_after_move(claim_id));
    }
    let current = load_accumulators(conn, person_region, &record.person_id, record.year)?;
    if current != after {
        return Err(StoreError::NotLatestClaim(claim_id.to_owned()));
    }
    save_accumulators(conn, person_region, &record.person_id, &before)?;
    // Give back what the personal account paid.
    let paid = record.personal_account_paid()?;
    if !paid.is_zero() {
        let mut coverage = person.coverage;
        coverage.personal_account_balance += paid;
        save_coverage(conn, actor, person_region, &record.person_id, &coverage)?;
    }
    let record_id = yibao_store::books::settlement_record_id(institution, claim_id);
    let originals = books::entries_caused_by(conn, record.region.city(), "settlement", &record_id)?;
    // What reviews deducted from the claim is given back with it (issue 18).
    review::withdraw_with_reversal(conn, actor, institution, claim_id)?;
    books::post(conn, actor, &yibao_store::books::reversal_entries(&originals, institution, claim_id, actor.at.date())?)?;
    record.status = ClaimStatus::Reversed;
    record.reversed_at = Some(actor.at);
    record.reversal_reason = Some(reason.to_owned());
    exec(
        conn,
        "UPDATE claims SET status = 'reversed', reversed_at = ?1, reversal_reason = ?2 WHERE region_code = ?3 AND institution_code = ?4 AND claim_id = ?5",
        params![record.reversed_at.map(time_text).transpose()?, reason, region_text, institution, claim_id],
    )?;
    audit(conn, actor, record.region, "claim.reverse", &format!("{institution}/{claim_id}"), format!("{{\"reason\":{}}}", json(&reason)?))?;
    Ok(record)
}

impl Store for SqliteStore {
    async fn create_household(&self, actor: &Actor, scope: RegionCode, household: NewHousehold) -> Result<HouseholdRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| insert_household(conn, &actor, scope, household)).await
    }

    async fn enrol(&self, actor: &Actor, scope: RegionCode, person: NewPerson) -> Result<PersonRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| insert_person(conn, &actor, scope, person)).await
    }

    async fn person(&self, scope: RegionCode, person: &NationalId) -> Result<PersonRecord, StoreError> {
        let person = *person;
        self.read(move |conn| locate(conn, scope, &person).map(|(_, record)| record)).await
    }

    async fn search_persons(&self, scope: RegionCode, query: &PersonQuery) -> Result<yibao_store::PersonPage, StoreError> {
        // Region scope: a city code matches its counties by prefix; a county matches itself.
        let (low, high) = scope_bounds(scope);
        let person_id = query.person_id.map(|p| p.to_string());
        let name_prefix = query.name_prefix.as_ref().map(|n| n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let (card_no, household_id) = (query.card_no.clone(), query.household_id.clone());
        let (offset, limit) = (query.offset, query.page_limit());
        self.read(move |conn| {
            // One snapshot: the count and the page agree.
            let total = query_opt(
                conn,
                &format!("SELECT COUNT(*) {PERSON_MATCH}"),
                params![low, high, person_id, name_prefix, card_no, household_id],
                |row| col::<i64>(row, 0),
            )?
            .unwrap_or(0);
            let sql = format!(
                "SELECT person_id, name, card_no, household_id, coverage, enrolled_at, updated_at, history, died_on {PERSON_MATCH} \
                 ORDER BY region_code, person_id LIMIT ?7 OFFSET ?8"
            );
            let persons =
                query_all(conn, &sql, params![low, high, person_id, name_prefix, card_no, household_id, limit, offset], person_from_row)?;
            Ok(yibao_store::PersonPage { total: u64::try_from(total).unwrap_or(0), offset, persons })
        })
        .await
    }

    async fn persons_after(
        &self,
        scope: RegionCode,
        after: Option<(RegionCode, NationalId)>,
        limit: i64,
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let (after_region, after_person) = after.map_or((String::new(), String::new()), |(r, p)| (r.to_string(), p.to_string()));
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT p.person_id, p.name, p.card_no, p.household_id, p.coverage, p.enrolled_at, p.updated_at, p.history, p.died_on \
                 FROM persons p JOIN person_index i ON i.person_id = p.person_id AND i.region_code = p.region_code \
                 WHERE p.region_code BETWEEN ?1 AND ?2 AND (p.region_code, p.person_id) > (?3, ?4) \
                 ORDER BY p.region_code, p.person_id LIMIT ?5",
                params![low, high, after_region, after_person, limit.clamp(1, yibao_store::EXPORT_PAGE)],
                person_from_row,
            )
        })
        .await
    }

    async fn edit_tiers(&self, actor: &Actor, scope: RegionCode, person: &NationalId, edit: TierEdit) -> Result<PersonRecord, StoreError> {
        let (actor, person) = (actor.clone(), *person);
        self.write(move |conn| {
            let (region, mut record) = locate(conn, scope, &person)?;
            let action = record.edit_tiers(edit)?;
            save_coverage(conn, &actor, region, &person, &record.coverage)?;
            audit(conn, &actor, region, action, person.as_str(), json(&edit)?)?;
            record.updated_at = actor.at;
            Ok(record)
        })
        .await
    }

    async fn change_coverage(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        change: CoverageChange,
        household: HouseholdId,
    ) -> Result<PersonRecord, StoreError> {
        let (actor, person) = (actor.clone(), *person);
        self.write(move |conn| change_coverage_in(conn, &actor, scope, &person, change, household)).await
    }

    async fn record_death(&self, actor: &Actor, scope: RegionCode, person: &NationalId, died_on: Date) -> Result<PersonRecord, StoreError> {
        let (actor, person) = (actor.clone(), *person);
        self.write(move |conn| close_coverage_in(conn, &actor, scope, &person, CoverageEnd::Death, died_on)).await
    }

    async fn end_coverage(&self, actor: &Actor, scope: RegionCode, person: &NationalId, until: Date) -> Result<PersonRecord, StoreError> {
        let (actor, person) = (actor.clone(), *person);
        self.write(move |conn| close_coverage_in(conn, &actor, scope, &person, CoverageEnd::Until, until)).await
    }

    async fn update_person(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        update: PersonUpdate,
    ) -> Result<PersonRecord, StoreError> {
        let (actor, person) = (actor.clone(), *person);
        self.write(move |conn| {
            let (region, mut record) = locate(conn, scope, &person)?;
            let detail = update.apply(&mut record)?;
            check_card_free(conn, region, record.card_no.as_deref(), &person)?;
            record.updated_at = actor.at;
            exec(
                conn,
                "UPDATE persons SET name = ?1, card_no = ?2, updated_at = ?3 WHERE region_code = ?4 AND person_id = ?5",
                params![record.name.as_str(), record.card_no, time_text(record.updated_at)?, region.to_string(), person.as_str()],
            )?;
            save_coverage(conn, &actor, region, &person, &record.coverage)?;
            audit(conn, &actor, region, "person.update", person.as_str(), detail)?;
            Ok(record)
        })
        .await
    }

    async fn settle(
        &self,
        actor: &Actor,
        scope: RegionCode,
        request: SettleRequest,
        compute: SettleFn,
    ) -> Result<SettleOutcome, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| settle_in(conn, &actor, scope, request, &compute)).await
    }

    async fn reverse(
        &self,
        actor: &Actor,
        scope: RegionCode,
        institution: &str,
        claim_id: &str,
        reason: &str,
    ) -> Result<ClaimRecord, StoreError> {
        yibao_store::check_reversal_reason(reason)?;
        let (actor, institution, claim_id, reason) = (actor.clone(), institution.to_owned(), claim_id.to_owned(), reason.to_owned());
        self.write(move |conn| reverse_in(conn, &actor, scope, &institution, &claim_id, &reason)).await
    }

    async fn claim(&self, scope: RegionCode, institution: &str, claim_id: &str) -> Result<ClaimRecord, StoreError> {
        let (institution, claim_id) = (institution.to_owned(), claim_id.to_owned());
        self.read(move |conn| {
            find_claim(conn, &institution, &claim_id)?
                .filter(|c| scope.contains(c.region))
                .ok_or(StoreError::ClaimNotFound { institution, claim_id })
        })
        .await
    }

    async fn claims_of_person(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<ClaimRecord>, StoreError> {
        let person = *person;
        self.read(move |conn| {
            let (_, record) = locate(conn, scope, &person)?;
            let mut claims = Vec::new();
            for region in yibao_store::regions_of(&record.coverage, &record.history).into_iter().filter(|region| scope.contains(*region)) {
                claims.extend(query_all(
                    conn,
                    CLAIMS_OF_PERSON,
                    params![region.to_string(), person.as_str(), SEARCH_LIMIT],
                    claim_from_row,
                )?);
            }
            claims.sort_by(|a, b| (b.settled_at, &b.claim_id).cmp(&(a.settled_at, &a.claim_id)));
            claims.truncate(usize::try_from(SEARCH_LIMIT).unwrap_or(usize::MAX));
            Ok(claims)
        })
        .await
    }

    async fn visit_days(
        &self,
        scope: RegionCode,
        person: &NationalId,
        (first_day, last_day): (Date, Date),
        (institution, claim_id): (&str, &str),
        limit: u32,
    ) -> Result<Vec<Date>, StoreError> {
        let person = *person;
        let (institution, claim_id) = (institution.to_owned(), claim_id.to_owned());
        let sql = visit_days_sql();
        self.read(move |conn| {
            let (_, record) = locate(conn, scope, &person)?;
            let mut days = Vec::new();
            for region in yibao_store::regions_of(&record.coverage, &record.history).into_iter().filter(|region| scope.contains(*region)) {
                let texts: Vec<String> = query_all(
                    conn,
                    &sql,
                    params![region.to_string(), person.as_str(), first_day.to_string(), last_day.to_string(), institution, claim_id, limit],
                    |row| col::<String>(row, 0),
                )?;
                for text in texts {
                    days.push(yibao_store::books::date_of(&text)?);
                }
            }
            days.sort_unstable_by(|a, b| b.cmp(a));
            days.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(days)
        })
        .await
    }

    async fn accumulators(&self, scope: RegionCode, person: &NationalId, year: i32) -> Result<Accumulators, StoreError> {
        let person = *person;
        self.read(move |conn| {
            let (region, _) = locate(conn, scope, &person)?;
            load_accumulators(conn, region, &person, year)
        })
        .await
    }

    async fn file_referral(&self, actor: &Actor, scope: RegionCode, referral: NewReferral) -> Result<ReferralRecord, StoreError> {
        referral.check()?;
        let actor = actor.clone();
        self.write(move |conn| {
            let (region, _) = locate(conn, scope, &referral.person_id)?;
            let (region_text, person) = (region.to_string(), referral.person_id.to_string());
            let held: i64 = query_opt(
                conn,
                "SELECT COUNT(*) FROM referrals WHERE region_code = ?1 AND person_id = ?2",
                params![region_text, person],
                |row| col(row, 0),
            )?
            .unwrap_or(0);
            if usize::try_from(held).unwrap_or(usize::MAX) >= REFERRALS_LIMIT {
                return Err(StoreError::Invalid(format!("a person holds at most {REFERRALS_LIMIT} referrals")));
            }
            let record = ReferralRecord {
                region,
                person_id: referral.person_id,
                seq: held + 1,
                from_institution: referral.from_institution.clone(),
                to_institution: referral.to_institution.clone(),
                issued_on: referral.issued_on,
                valid_until: referral.valid_until,
                filed_by: actor.who.clone(),
                filed_at: actor.at,
                cancelled_by: None,
                cancelled_at: None,
            };
            exec(
                conn,
                "INSERT INTO referrals (region_code, person_id, seq, from_institution, to_institution, issued_on, valid_until, filed_by, filed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    region_text,
                    person,
                    record.seq,
                    record.from_institution.as_str(),
                    record.to_institution.as_str(),
                    record.issued_on.to_string(),
                    record.valid_until.to_string(),
                    record.filed_by,
                    time_text(record.filed_at)?
                ],
            )?;
            audit(conn, &actor, region, "referral.file", &person, referral.audit_detail(record.seq))?;
            Ok(record)
        })
        .await
    }

    async fn cancel_referral(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        seq: i64,
        reason: &str,
    ) -> Result<ReferralRecord, StoreError> {
        let (actor, person, reason) = (actor.clone(), *person, reason.to_owned());
        self.write(move |conn| {
            let (region, _) = locate(conn, scope, &person)?;
            let found = referrals_in(conn, &[region], &person)?.into_iter().find(|r| r.seq == seq);
            let Some(referral) = found else {
                return Err(StoreError::Refused { code: "referral.not_found", message: format!("the person has no referral {seq}") });
            };
            if referral.cancelled_at.is_some() {
                return Err(StoreError::Refused { code: "referral.cancelled", message: format!("referral {seq} is cancelled already") });
            }
            let settled = settled_at(conn, &[region], &person, referral.to_institution.as_str())?;
            if yibao_store::referral_used(&referral, &settled) {
                return Err(StoreError::Refused { code: "referral.used", message: format!("referral {seq} was used by an admission settled meanwhile") });
            }
            exec(
                conn,
                "INSERT INTO referral_cancellations (region_code, person_id, seq, cancelled_by, cancelled_at, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![region.to_string(), person.as_str(), seq, actor.who, time_text(actor.at)?, reason],
            )?;
            let detail = serde_json::json!({"seq": seq, "reason": reason}).to_string();
            audit(conn, &actor, region, "referral.cancel", person.as_str(), detail)?;
            Ok(ReferralRecord { cancelled_by: Some(actor.who.clone()), cancelled_at: Some(actor.at), ..referral })
        })
        .await
    }

    async fn referrals_of(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<ReferralRecord>, StoreError> {
        let person = *person;
        self.read(move |conn| {
            let (_, record) = locate(conn, scope, &person)?;
            let regions: Vec<RegionCode> =
                yibao_store::regions_of(&record.coverage, &record.history).into_iter().filter(|r| scope.contains(*r)).collect();
            referrals_in(conn, &regions, &person)
        })
        .await
    }

    async fn audit_entries(&self, region: RegionCode, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT region_code, seq, at, actor, source, action, entity, detail, prev_hash, hash FROM audit_log WHERE region_code = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                params![region.to_string(), after_seq, limit.clamp(1, 100_000)],
                |row| {
                    Ok(AuditEntry {
                        region: col(row, 0)?,
                        seq: col(row, 1)?,
                        at: col(row, 2)?,
                        actor: col(row, 3)?,
                        source: col(row, 4)?,
                        action: col(row, 5)?,
                        entity: col(row, 6)?,
                        detail: yibao_store::audit::detail_text(stored_bytes(row, 7)?),
                        prev_hash: yibao_store::audit::digest_text(stored_bytes(row, 8)?),
                        hash: yibao_store::audit::digest_text(stored_bytes(row, 9)?),
                    })
                },
            )
        })
        .await
    }

    async fn audit_regions(&self) -> Result<Vec<RegionCode>, StoreError> {
        self.read(|conn| {
            query_all(conn, "SELECT region_code FROM audit_heads ORDER BY region_code", [], |row| region_of(&col::<String>(row, 0)?))
        })
        .await
    }

    async fn audit_heads(&self) -> Result<Vec<yibao_store::AuditHead>, StoreError> {
        self.read(|conn| {
            query_all(conn, "SELECT region_code, seq, hash FROM audit_heads ORDER BY region_code", [], |row| {
                Ok(yibao_store::AuditHead { region: region_of(&col::<String>(row, 0)?)?, seq: col(row, 1)?, hash: col(row, 2)? })
            })
        })
        .await
    }

    async fn regions_on_record(&self) -> Result<Vec<RegionCode>, StoreError> {
        self.read(|conn| query_all(conn, REGIONS_ON_RECORD, [], |row| region_of(&col::<String>(row, 0)?))).await
    }
}

impl yibao_store::ImportStore for SqliteStore {
    async fn import(
        &self,
        actor: &Actor,
        scope: RegionCode,
        households: Vec<yibao_store::ImportHousehold>,
    ) -> Result<yibao_store::ImportSummary, StoreError> {
        if households.len() > yibao_store::IMPORT_LIMIT {
            return Err(StoreError::Invalid(format!("an import carries at most {} households", yibao_store::IMPORT_LIMIT)));
        }
        let actor = actor.clone();
        self.write(move |conn| {
            let mut summary = yibao_store::ImportSummary::default();
            for entry in households {
                insert_household(conn, &actor, scope, entry.household)?;
                summary.households += 1;
                for member in entry.members {
                    insert_person(conn, &actor, scope, member)?;
                    summary.persons += 1;
                }
            }
            Ok(summary)
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A person's visits are counted from the index of visits by day, not by reading their
    /// claims: what a rule over history reads is bounded by its limit (issue 18).
    #[test]
    fn visits_by_day_are_read_through_their_index() {
        let conn = Connection::open_in_memory().unwrap();
        // As the store's connections plan (`db::open_connection`): values never steer a plan.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).unwrap();
        migrate(&conn).unwrap();
        let plan = query_all(
            &conn,
            &format!("EXPLAIN QUERY PLAN {}", visit_days_sql()),
            params!["419902", "x", "2026-01-01", "2026-01-07", "H", "C", 3],
            |row| col::<String>(row, 3),
        )
        .unwrap();
        assert_eq!(plan.len(), 1, "no sort of its own: {plan:?}");
        assert!(plan[0].starts_with("SEARCH claims USING INDEX claims_visits_by_day"), "{plan:?}");
    }

    /// Migration 25 fills the claims' columns from the JSON of the rows written before as
    /// `ClaimColumns::of` takes them from a new claim, whatever the claim holds (a
    /// physician, a field that is no string, a null, none; JSON that does not parse cannot be
    /// there, since the index of migration 22 reads every claim's): the book check compares
    /// the two, so an upgraded store must not disagree with itself.
    #[test]
    fn the_upgrade_fills_a_claims_columns_as_a_new_claim_gets_them() {
        let conn = Connection::open_in_memory().unwrap();
        let (before, upgrade) = MIGRATIONS.split_at(24);
        for (_, sql) in before {
            conn.execute_batch(sql).unwrap();
        }
        let claims = [
            r#"{"kind":"general-outpatient","institution_level":"primary","admission_date":"2025-01-07","discharge_date":"2025-01-07","diagnosis":"I10.x00","physician":"D410001"}"#,
            r#"{"kind":"inpatient","admission_date":"2025-02-01","discharge_date":"2025-02-09","diagnosis":"I21.000","physician":null}"#,
            r#"{"kind":7,"admission_date":["2025-02-01"],"diagnosis":{"code":"I21"}}"#,
            r#"{}"#,
        ];
        for (n, claim) in claims.iter().enumerate() {
            conn.execute(
                "INSERT INTO claims (region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, acc_before, acc_after) \
                 VALUES ('419902', 'H1', ?1, 'P', 2025, 'settled', 't', 0, 0, 0, '{}', ?2, '{}', '{}')",
                params![format!("C{n}"), claim],
            )
            .unwrap();
            conn.execute("INSERT INTO claim_keys (institution_code, claim_id, region_code) VALUES ('H1', ?1, '419902')", [format!("C{n}")])
                .unwrap();
        }
        conn.execute_batch(upgrade[0].1).unwrap();
        for (n, claim) in claims.iter().enumerate() {
            let filled =
                query_opt(&conn, &format!("SELECT {CLAIM_COLUMN_NAMES} FROM claims WHERE claim_id = ?1"), [format!("C{n}")], |row| {
                    claim_columns(row, 0)
                })
                .unwrap()
                .unwrap();
            assert_eq!(filled, ClaimColumns::of(claim), "{claim}");
        }
        assert_eq!(ClaimColumns::of(claims[0]).physician.as_deref(), Some("D410001"), "the first claim fills every column");
        let keys: i64 = conn.query_row("SELECT count(*) FROM claim_keys", [], |row| row.get(0)).unwrap();
        assert_eq!(keys, claims.len() as i64, "the claim keys copied whole");
    }
}
