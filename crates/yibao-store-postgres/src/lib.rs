//! The PostgreSQL store: Yibao's production backend. Hand-written SQL; migrations embedded
//! and run at connect, each in its own transaction behind an advisory lock so that several
//! servers starting at once migrate once.
//!
//! Every write runs in one `READ COMMITTED` transaction and takes explicit row locks, always
//! in the same order so that two writers never wait on each other in a cycle:
//!
//! 1. the person's accumulators row for the year (settlement, reversal): a zero row is
//!    inserted if missing, then locked with `SELECT ... FOR UPDATE`, so two settlements
//!    for one person run one after the other and the second reads what the first wrote;
//! 2. the person's row (settlement, reversal, tier change, end of coverage, update), so that a
//!    read-modify-write of the coverage JSON loses no concurrent change;
//! 3. the claim row (reversal);
//! 4. last, the head of the region's audit chain, so a region's entries are numbered and
//!    chained in commit order.
//!
//! Beside these, before the audit head: the keys being inserted (a concurrent insert of the
//! same key waits for the first to end), the region's contribution counter (see
//! `access::insert_contribution`; a batch takes all its regions' counters first, in
//! ascending order), and the `KEY SHARE` lock a contribution's foreign key takes on the
//! person's row. Writers that touch many rows (an import, a batch of contributions) collect
//! their audit entries and append them at the end, region by region in ascending order
//! (`Audits`), so the heads stay their last locks too.
//!
//! The uniqueness guards are plain primary keys. Households, enrolments (`person_index`),
//! staff accounts and institutions are inserted with `ON CONFLICT DO NOTHING`: when two
//! requests race, the loser's insert waits for the winner to commit, inserts nothing, and the
//! loser reads the winner's row in the same transaction (each statement sees what committed
//! before it) to name it in the refusal. A settlement's claim key (`claim_keys`) is a plain
//! insert: the loser's fails with a unique violation (SQLSTATE 23505), its transaction is
//! rolled back, and the first settlement is reported as a replay.
//!
//! Settlements do not run on the caller's task: they are queued for a writer thread that
//! commits the settlements waiting together, several in one transaction, with the same
//! locks in the same order, and answers each once its transaction has committed (see
//! `settle.rs`).

mod access;
mod administrator;
mod arrears;
mod books;
mod catalogue;
mod employer;
mod interface;
mod migration;
mod policy;
mod review;
mod settle;

use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use time::Date;
use yibao_domain::{HouseholdId, NationalId, RegionCode};
use yibao_engine::{Accumulators, Coverage};
use yibao_store::compact::ClaimColumns;
use yibao_store::{
    Actor, AuditEntry, ClaimRecord, ClaimStatus, HouseholdRecord, NewHousehold, NewPerson, NewReferral, PersonQuery, PersonRecord,
    PersonUpdate, REFERRALS_LIMIT, ReferralRecord, SEARCH_LIMIT, SettleFn, SettleOutcome, SettleRequest, Store, StoreError, TierEdit,
    check_scope, entry_hash,
};

/// Migrations, in order. Applied once each, recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_access_contributions.sql")),
    (3, include_str!("../migrations/0003_settlement_lz4.sql")),
    (4, include_str!("../migrations/0004_ledger.sql")),
    (5, include_str!("../migrations/0005_referrals.sql")),
    (6, include_str!("../migrations/0006_institution_levels.sql")),
    (7, include_str!("../migrations/0007_card_unique.sql")),
    (8, include_str!("../migrations/0008_policy_versions.sql")),
    (9, include_str!("../migrations/0009_interface.sql")),
    (10, include_str!("../migrations/0010_township_level.sql")),
    (11, include_str!("../migrations/0011_catalogue.sql")),
    (12, include_str!("../migrations/0012_maternity_contributions.sql")),
    (13, include_str!("../migrations/0013_catalogue_proposals.sql")),
    (14, include_str!("../migrations/0014_institution_agreements.sql")),
    (15, include_str!("../migrations/0015_payment_clearings.sql")),
    (16, include_str!("../migrations/0016_negotiated_prices.sql")),
    (17, include_str!("../migrations/0017_migrations.sql")),
    (18, include_str!("../migrations/0018_coverage_history.sql")),
    (19, include_str!("../migrations/0019_employers.sql")),
    (20, include_str!("../migrations/0020_arrears_plans.sql")),
    (21, include_str!("../migrations/0021_go_live_and_receipts.sql")),
    (22, include_str!("../migrations/0022_review_and_administrators.sql")),
    (23, include_str!("../migrations/0023_visits_by_day.sql")),
    (24, include_str!("../migrations/0024_running_payables.sql")),
    (25, include_str!("../migrations/0025_compact_settlements.sql")),
    (26, include_str!("../migrations/0026_compact_claims_and_audit.sql")),
];
/// Connections in the pool.
const POOL_SIZE: u32 = 16;
/// How long a caller waits for a free connection before the operation fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Key of the transaction-level advisory lock that lets one migrator run at a time
/// ("yibao" in ASCII).
const MIGRATION_LOCK: i64 = 0x79_69_62_61_6f;
/// SQLSTATE of a unique violation.
const UNIQUE_VIOLATION: &str = "23505";

/// A store in one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// The queue of the settlement writers (see [`settle`]).
    settler: tokio::sync::mpsc::Sender<settle::SettleJob>,
    stats: std::sync::Arc<settle::WriterStats>,
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Whether `e` is a unique violation of `constraint`.
/// Refuses a card number another person of `region` holds (`person.card_taken`).
async fn check_card_free(tx: &mut PgConnection, region: RegionCode, card_no: Option<&str>, person: &NationalId) -> Result<(), StoreError> {
    let Some(card_no) = card_no else { return Ok(()) };
    let holder: Option<String> =
        sqlx::query_scalar("SELECT person_id FROM persons WHERE region_code = $1 AND card_no = $2 AND person_id <> $3")
            .bind(region.to_string())
            .bind(card_no)
            .bind(person.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    match holder {
        Some(_) => Err(yibao_store::card_taken(card_no)),
        None => Ok(()),
    }
}

/// A write's error, where a concurrent write took the same card number first.
fn card_violation(e: sqlx::Error, card_no: Option<&str>) -> StoreError {
    match card_no {
        Some(card_no) if is_unique_violation(&e, "persons_by_card") => yibao_store::card_taken(card_no),
        _ => backend(e),
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().as_deref() == Some(UNIQUE_VIOLATION) && db.constraint() == Some(constraint),
        _ => false,
    }
}

pub(crate) use yibao_store::stored::{
    fen_of, from_json, household_of, id_of, institution_of, json, name_of, region_of, scope_bounds, time_of, time_text,
};

impl PostgresStore {
    /// Connects to the database at `url` (e.g. `postgres://user@host:5432/yibao`) and
    /// applies pending migrations.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        migrate(&pool).await?;
        let stats = std::sync::Arc::new(settle::WriterStats::default());
        let settler = settle::spawn_writer(options, &stats)?;
        Ok(PostgresStore { pool, settler, stats })
    }

    /// Group commit at work: (batch transactions, settlement requests in them) since the
    /// store connected. Their ratio is the mean batch size.
    #[must_use]
    pub fn writer_stats(&self) -> (u64, u64) {
        (self.stats.batches.load(Ordering::Relaxed), self.stats.requests.load(Ordering::Relaxed))
    }

    /// Microseconds the settlement writers spent on their batches since the store connected.
    #[must_use]
    pub fn write_time_us(&self) -> u64 {
        self.stats.busy_us.load(Ordering::Relaxed)
    }

    /// Settlements waiting in the writers' queue now.
    #[must_use]
    pub fn queued_writes(&self) -> usize {
        self.settler.max_capacity() - self.settler.capacity()
    }

    /// Batches that failed before their commit (a claim key settled meanwhile by another
    /// server, a constraint, a deadlock) and were settled again request by request.
    #[must_use]
    pub fn writer_fallbacks(&self) -> u64 {
        self.stats.fallbacks.load(Ordering::Relaxed)
    }

    /// A write transaction. The isolation level is named rather than taken from the
    /// server's default: the locking below is designed for `READ COMMITTED` (each statement
    /// sees what committed before it, a locked row is re-read after the wait).
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await.map_err(backend)
    }
}

/// Applies the migrations not yet applied.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    // A database of a later release is refused before anything is applied: migrations only
    // go forward.
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await.map_err(backend)?;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let newest: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM schema_migrations").fetch_one(&mut *tx).await.map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if let Some(found) = newest.filter(|found| *found > known) {
        return Err(StoreError::SchemaNewer { found, known });
    }
    for (version, sql) in MIGRATIONS {
        let mut tx = pool.begin().await.map_err(backend)?;
        // Held until this transaction ends: a concurrent migrator waits here, then finds
        // the migration applied.
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await.map_err(backend)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if applied.is_none() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await.map_err(backend)?;
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)").bind(version).execute(&mut *tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
    }
    Ok(())
}

/// One audit entry to append: who, what, on which entity, and the change as JSON.
#[derive(Debug)]
pub(crate) struct NewAudit<'a> {
    pub(crate) actor: &'a Actor,
    pub(crate) action: &'a str,
    pub(crate) entity: String,
    pub(crate) detail: String,
}

/// Locks `region`'s chain head (creating it at the genesis hash if the region has none yet)
/// and returns its number and hash. `ON CONFLICT DO UPDATE` locks the existing row and, in
/// `READ COMMITTED`, returns its latest committed version after any wait.
const HEAD_LOCK: &str = "INSERT INTO audit_heads (region_code, seq, hash) VALUES ($1, 0, $2) \
     ON CONFLICT (region_code) DO UPDATE SET seq = audit_heads.seq RETURNING seq, hash";

/// Appends entries (one array per column) and moves the head to the last, in one statement.
const AUDIT_APPEND: &str = "WITH appended AS ( \
         INSERT INTO audit_log (region_code, seq, at, actor, source, action, entity, detail, prev_hash, hash) \
         SELECT $1, u.seq, u.at, u.actor, u.source, u.action, u.entity, u.detail, u.prev_hash, u.hash \
         FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bytea[], $10::bytea[]) \
             AS u(seq, at, actor, source, action, entity, detail, prev_hash, hash) \
     ) \
     UPDATE audit_heads SET seq = $11, hash = $12 WHERE region_code = $1";

/// Appends `entries` to `region`'s chain inside `tx`, in order, in two statements whatever
/// their number: the head's row lock (which every writer takes last, and holds until its
/// transaction ends, so a region's entries are numbered and chained in commit order), then
/// the entries and the new head.
pub(crate) async fn append_audits(tx: &mut PgConnection, region: RegionCode, entries: Vec<NewAudit<'_>>) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let region_code = region.to_string();
    let (mut seq, mut hash): (i64, String) =
        sqlx::query_as(HEAD_LOCK).bind(&region_code).bind(yibao_store::GENESIS_HASH).fetch_one(&mut *tx).await.map_err(backend)?;
    let len = entries.len();
    let (mut seqs, mut ats, mut actors, mut sources) =
        (Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len));
    let (mut actions, mut entities, mut details, mut prev_hashes, mut hashes) =
        (Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len));
    for new in entries {
        seq += 1;
        let mut entry = AuditEntry {
            region: region_code.clone(),
            seq,
            at: new.actor.at_text(),
            actor: new.actor.who.clone(),
            source: new.actor.source.clone(),
            action: new.action.to_owned(),
            entity: new.entity,
            detail: new.detail,
            prev_hash: hash,
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry.prev_hash, &entry);
        let stored = yibao_store::StoredAudit::of(&entry)?;
        hash = entry.hash;
        seqs.push(entry.seq);
        ats.push(entry.at);
        actors.push(entry.actor);
        sources.push(entry.source);
        actions.push(entry.action);
        entities.push(entry.entity);
        details.push(stored.detail);
        prev_hashes.push(stored.prev_hash);
        hashes.push(stored.hash);
    }
    sqlx::query(AUDIT_APPEND)
        .bind(&region_code)
        .bind(seqs)
        .bind(ats)
        .bind(actors)
        .bind(sources)
        .bind(actions)
        .bind(entities)
        .bind(details)
        .bind(prev_hashes)
        .bind(hashes)
        .bind(seq)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Appends one audit entry to `region`'s chain inside `tx` (see [`append_audits`]).
pub(crate) async fn audit(
    tx: &mut PgConnection,
    actor: &Actor,
    region: RegionCode,
    action: &str,
    entity: &str,
    detail: String,
) -> Result<(), StoreError> {
    append_audits(tx, region, vec![NewAudit { actor, action, entity: entity.to_owned(), detail }]).await
}

/// The regions within `scope` where each of the person's spells was insured: their claims
/// stay where they happened.
async fn person_regions(tx: &mut PgConnection, scope: RegionCode, person: &NationalId) -> Result<Vec<String>, StoreError> {
    let (_, record) = locate(tx, scope, person).await?;
    Ok(yibao_store::regions_of(&record.coverage, &record.history)
        .into_iter()
        .filter(|region| scope.contains(*region))
        .map(|region| region.to_string())
        .collect())
}

/// Audit entries a writer has yet to append. A writer that touches many rows collects its
/// entries here and appends them at the end, so the chain heads stay the last locks it takes:
/// an import that held a head while inserting its next person could wait on a concurrent
/// enrolment of that person, which itself waits for the head.
#[derive(Debug, Default)]
pub(crate) struct Audits(Vec<PendingAudit>);

#[derive(Debug)]
struct PendingAudit {
    region: RegionCode,
    action: &'static str,
    entity: String,
    detail: String,
}

impl Audits {
    pub(crate) fn push(&mut self, region: RegionCode, action: &'static str, entity: &str, detail: String) {
        self.0.push(PendingAudit { region, action, entity: entity.to_owned(), detail });
    }

    /// Appends the entries inside `tx`, region by region in ascending order (in each region,
    /// in the order pushed): two writers spanning the same regions take their heads in the
    /// same order.
    pub(crate) async fn append(mut self, tx: &mut PgConnection, actor: &Actor) -> Result<(), StoreError> {
        self.0.sort_by_key(|entry| entry.region);
        let mut entries = self.0.into_iter().peekable();
        while let Some(first) = entries.next() {
            let region = first.region;
            let mut batch = vec![NewAudit { actor, action: first.action, entity: first.entity, detail: first.detail }];
            while let Some(next) = entries.next_if(|entry| entry.region == region) {
                batch.push(NewAudit { actor, action: next.action, entity: next.entity, detail: next.detail });
            }
            append_audits(tx, region, batch).await?;
        }
        Ok(())
    }
}

/// Where `person` is enrolled, as a refusal, if anywhere.
async fn enrolled_already(tx: &mut PgConnection, person: &NationalId) -> Result<Option<StoreError>, StoreError> {
    let existing: Option<(String, String)> = sqlx::query_as("SELECT region_code, household_id FROM person_index WHERE person_id = $1")
        .bind(person.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(existing.map(|(region, household)| StoreError::AlreadyEnrolled { person: person.to_string(), region, household }))
}

/// Enrols one person inside `tx`: scope, one enrolment per national ID, the household
/// exists; writes the index and the person, and queues the audit entry in `audits`.
pub(crate) async fn insert_person(
    tx: &mut PgConnection,
    actor: &Actor,
    scope: RegionCode,
    person: NewPerson,
    audits: &mut Audits,
) -> Result<PersonRecord, StoreError> {
    let region = person.coverage.region;
    check_scope(scope, region)?;
    let id = person.coverage.person_id;
    if let Some(refusal) = enrolled_already(tx, &id).await? {
        return Err(refusal);
    }
    let household: Option<i32> = sqlx::query_scalar("SELECT 1 FROM households WHERE region_code = $1 AND household_id = $2")
        .bind(region.to_string())
        .bind(person.household_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    if household.is_none() {
        return Err(StoreError::HouseholdNotFound(person.household_id.into_string()));
    }
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
    let indexed = sqlx::query(
        "INSERT INTO person_index (person_id, region_code, household_id) VALUES ($1, $2, $3) ON CONFLICT (person_id) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(region.to_string())
    .bind(record.household_id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if indexed.rows_affected() == 0 {
        // Enrolled meanwhile by a concurrent request (in this region or another), which has
        // committed: name it.
        return Err(enrolled_already(tx, &id).await?.unwrap_or_else(|| StoreError::Backend(format!("{id} is indexed but unreadable"))));
    }
    check_card_free(tx, region, record.card_no.as_deref(), &id).await?;
    sqlx::query("INSERT INTO persons (region_code, person_id, household_id, name, card_no, coverage, enrolled_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)")
        .bind(region.to_string())
        .bind(id.as_str())
        .bind(record.household_id.as_str())
        .bind(record.name.as_str())
        .bind(&record.card_no)
        .bind(json(&record.coverage)?)
        .bind(time_text(record.enrolled_at)?)
        .bind(time_text(record.updated_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| card_violation(e, record.card_no.as_deref()))?;
    let opening = record.coverage.personal_account_balance;
    if opening.is_negative() {
        return Err(StoreError::Invalid("a personal account's balance may not be negative".into()));
    }
    let entries = yibao_store::books::opening_account_entries(region, id, opening, actor.at.date())?;
    books::post(tx, &actor.at_text(), &entries).await?;
    audits.push(region, "person.enrol", id.as_str(), json(&record)?);
    Ok(record)
}

/// Creates one household inside `tx`, and queues the audit entry in `audits`.
pub(crate) async fn insert_household(
    tx: &mut PgConnection,
    actor: &Actor,
    scope: RegionCode,
    household: NewHousehold,
    audits: &mut Audits,
) -> Result<HouseholdRecord, StoreError> {
    check_scope(scope, household.region)?;
    let record = HouseholdRecord {
        household_id: household.household_id,
        region: household.region,
        address: household.address,
        created_at: actor.at,
    };
    // Refused if the household exists, or is created meanwhile by a concurrent request (this
    // insert waits for it to commit, then inserts nothing).
    let inserted = sqlx::query(
        "INSERT INTO households (region_code, household_id, address, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (region_code, household_id) DO NOTHING",
    )
    .bind(record.region.to_string())
    .bind(record.household_id.as_str())
    .bind(&record.address)
    .bind(time_text(record.created_at)?)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::HouseholdExists(record.household_id.into_string()));
    }
    audits.push(record.region, "household.create", &record.household_id, json(&record)?);
    Ok(record)
}

pub(crate) fn person_from_row(row: &PgRow) -> Result<PersonRecord, StoreError> {
    Ok(PersonRecord {
        person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
        name: name_of(&row.try_get::<String, _>("name").map_err(backend)?)?,
        card_no: row.try_get("card_no").map_err(backend)?,
        household_id: household_of(&row.try_get::<String, _>("household_id").map_err(backend)?)?,
        coverage: from_json(row.try_get("coverage").map_err(backend)?)?,
        enrolled_at: time_of(row.try_get("enrolled_at").map_err(backend)?)?,
        updated_at: time_of(row.try_get("updated_at").map_err(backend)?)?,
        history: from_json(row.try_get("history").map_err(backend)?)?,
        died_on: row.try_get::<Option<&str>, _>("died_on").map_err(backend)?.map(yibao_store::stored::date_of).transpose()?,
    })
}

pub(crate) fn claim_from_row(row: &PgRow) -> Result<ClaimRecord, StoreError> {
    let unpack = |column: &str| yibao_store::compact::unpack(row.try_get(column).map_err(backend)?);
    claim_with(row, unpack("settlement")?, unpack("claim")?)
}

/// A claim row with its settlement and claim as already read (or, for the book check, as
/// could be).
pub(crate) fn claim_with(row: &PgRow, settlement_json: String, claim_json: String) -> Result<ClaimRecord, StoreError> {
    let status: String = row.try_get("status").map_err(backend)?;
    Ok(ClaimRecord {
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        institution_code: institution_of(&row.try_get::<String, _>("institution_code").map_err(backend)?)?,
        claim_id: row.try_get("claim_id").map_err(backend)?,
        person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
        year: row.try_get("year").map_err(backend)?,
        status: if status == "reversed" { ClaimStatus::Reversed } else { ClaimStatus::Settled },
        settled_at: time_of(row.try_get("settled_at").map_err(backend)?)?,
        medfee_fen: fen_of(row.try_get("medfee_fen").map_err(backend)?)?,
        fund_pay_fen: fen_of(row.try_get("fund_pay_fen").map_err(backend)?)?,
        psn_part_fen: fen_of(row.try_get("psn_part_fen").map_err(backend)?)?,
        settlement_json,
        claim_json,
        reversed_at: row.try_get::<Option<&str>, _>("reversed_at").map_err(backend)?.map(time_of).transpose()?,
        reversal_reason: row.try_get("reversal_reason").map_err(backend)?,
    })
}

const PERSON_COLUMNS: &str =
    "person_id, name, card_no, household_id, coverage::text AS coverage, enrolled_at, updated_at, history::text AS history, died_on";
pub(crate) const CLAIM_COLUMNS: &str = "region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, reversed_at, reversal_reason";

/// The columns [`claim_columns`] reads: a claim's fields SQL reads in place of its
/// compressed JSON (`yibao_store::compact::ClaimColumns`).
pub(crate) const CLAIM_COLUMN_NAMES: &str = "kind, admission_date, discharge_date, institution_level, diagnosis, physician";

/// A claim row's [`CLAIM_COLUMN_NAMES`].
pub(crate) fn claim_columns(row: &PgRow) -> Result<ClaimColumns, StoreError> {
    let text = |name: &str| row.try_get::<Option<String>, _>(name).map_err(backend);
    Ok(ClaimColumns {
        kind: text("kind")?,
        admission_date: text("admission_date")?,
        discharge_date: text("discharge_date")?,
        institution_level: text("institution_level")?,
        diagnosis: text("diagnosis")?,
        physician: text("physician")?,
    })
}

/// The person's settled claims at `institution`: (institution, the claim's columns).
pub(crate) async fn settled_at(
    tx: &mut PgConnection,
    regions: &[RegionCode],
    person: &NationalId,
    institution: &str,
) -> Result<Vec<(String, ClaimColumns)>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT institution_code, {CLAIM_COLUMN_NAMES} FROM claims \
         WHERE region_code = ANY($1) AND person_id = $2 AND status = 'settled' AND institution_code = $3"
    )))
    .bind(regions.iter().map(ToString::to_string).collect::<Vec<_>>())
    .bind(person.as_str())
    .bind(institution)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    rows.iter().map(|row| Ok((row.try_get::<String, _>("institution_code").map_err(backend)?, claim_columns(row)?))).collect()
}

/// A person's referrals, newest first, each with its cancellation if any.
/// The person's referrals filed in any of `regions` (where they were insured: a referral
/// on file goes with the person, R-ENR-5).
pub(crate) async fn referrals_in(
    tx: &mut PgConnection,
    regions: &[RegionCode],
    person: &NationalId,
) -> Result<Vec<ReferralRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT r.region_code, r.person_id, r.seq, r.from_institution, r.to_institution, r.issued_on, r.valid_until, r.filed_by, r.filed_at, \
         c.cancelled_by, c.cancelled_at \
         FROM referrals r LEFT JOIN referral_cancellations c ON c.region_code = r.region_code AND c.person_id = r.person_id AND c.seq = r.seq \
         WHERE r.region_code = ANY($1) AND r.person_id = $2 ORDER BY r.seq DESC",
    )
    .bind(regions.iter().map(ToString::to_string).collect::<Vec<_>>())
    .bind(person.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let text = |name: &str| row.try_get::<String, _>(name).map_err(backend);
            ReferralRecord::from_columns(
                &text("region_code")?,
                &text("person_id")?,
                row.try_get("seq").map_err(backend)?,
                &text("from_institution")?,
                &text("to_institution")?,
                &text("issued_on")?,
                &text("valid_until")?,
                text("filed_by")?,
                &text("filed_at")?,
            )?
            .with_cancellation(
                row.try_get::<Option<String>, _>("cancelled_by").map_err(backend)?,
                row.try_get::<Option<String>, _>("cancelled_at").map_err(backend)?.as_deref(),
            )
        })
        .collect()
}

/// The region of the person's enrolment, found through the global index, if it lies inside
/// `scope`. A person outside the scope is reported as not found: a county learns nothing of
/// another's people.
pub(crate) async fn person_region(tx: &mut PgConnection, scope: RegionCode, person: &NationalId) -> Result<RegionCode, StoreError> {
    let region: Option<String> = sqlx::query_scalar("SELECT region_code FROM person_index WHERE person_id = $1")
        .bind(person.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    let region = match region {
        Some(r) => region_of(&r)?,
        None => return Err(StoreError::PersonNotFound(person.to_string())),
    };
    if !scope.contains(region) {
        return Err(StoreError::PersonNotFound(person.to_string()));
    }
    Ok(region)
}

/// The person's row in `region`, locked until the end of `tx` when `for_update`.
pub(crate) async fn load_person(
    tx: &mut PgConnection,
    region: RegionCode,
    person: &NationalId,
    for_update: bool,
) -> Result<PersonRecord, StoreError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {PERSON_COLUMNS} FROM persons WHERE region_code = $1 AND person_id = $2{lock}")))
            .bind(region.to_string())
            .bind(person.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    person_from_row(&row)
}

/// The person's row, if it lies inside `scope` (reads): the index and the row in one
/// round trip; outside the scope, or unknown, the same "not found".
async fn locate(tx: &mut PgConnection, scope: RegionCode, person: &NationalId) -> Result<(RegionCode, PersonRecord), StoreError> {
    let row = sqlx::query(
        "SELECT p.person_id, p.name, p.card_no, p.household_id, p.coverage::text AS coverage, p.enrolled_at, p.updated_at, \
         p.history::text AS history, p.died_on, p.region_code \
         FROM person_index i JOIN persons p ON p.region_code = i.region_code AND p.person_id = i.person_id WHERE i.person_id = $1",
    )
    .bind(person.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?
    .ok_or_else(|| StoreError::PersonNotFound(person.to_string()))?;
    let region = region_of(row.try_get("region_code").map_err(backend)?)?;
    if !scope.contains(region) {
        return Err(StoreError::PersonNotFound(person.to_string()));
    }
    Ok((region, person_from_row(&row)?))
}

/// The settlements of the person's live claims booked in `region` for `year` or later.
async fn settled_from(tx: &mut PgConnection, region: RegionCode, person: &NationalId, year: i32) -> Result<Vec<String>, StoreError> {
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT settlement FROM claims WHERE region_code = $1 AND person_id = $2 AND year >= $3 AND status = 'settled'")
            .bind(region.to_string())
            .bind(person.as_str())
            .bind(year)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
    stored.iter().map(|bytes| yibao_store::compact::unpack(bytes)).collect()
}

/// Ends a person's coverage on `on`, or records their death on it, inside `tx`: never
/// before a claim settled under it (`person.change_after_claims`).
async fn close_coverage_in(
    tx: &mut PgConnection,
    actor: &Actor,
    scope: RegionCode,
    person: &NationalId,
    end: yibao_store::CoverageEnd,
    on: Date,
) -> Result<PersonRecord, StoreError> {
    let (region, mut record) = locate_for_update(tx, scope, person).await?;
    let (action, detail) = record.close_coverage(end, on)?;
    let settled = settled_from(tx, region, person, on.year()).await?;
    yibao_store::check_no_claims_after(on, settled.iter().map(String::as_str))?;
    crate::employer::check_not_declared_from(tx, person, Some(yibao_store::employer::rebilled_from_end(end, on)), on).await?;
    record.updated_at = actor.at;
    sqlx::query("UPDATE persons SET coverage = $1::jsonb, died_on = $2, updated_at = $3 WHERE region_code = $4 AND person_id = $5")
        .bind(json(&record.coverage)?)
        .bind(record.died_on.map(|d| d.to_string()))
        .bind(actor.at_text())
        .bind(region.to_string())
        .bind(person.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    audit(tx, actor, region, action, person.as_str(), detail).await?;
    Ok(record)
}

/// Changes a person's coverage inside `tx` (see [`Store::change_coverage`]). Locks as a
/// settlement does: the person's accumulators rows first, then their row (and the row
/// they move into), then the chain heads.
async fn change_coverage_in(
    tx: &mut PgConnection,
    actor: &Actor,
    scope: RegionCode,
    person: &NationalId,
    change: yibao_engine::CoverageChange,
    household: HouseholdId,
) -> Result<PersonRecord, StoreError> {
    let region = person_region(tx, scope, person).await?;
    check_scope(scope, change.region)?;
    let years: Vec<i32> =
        sqlx::query_scalar("SELECT year FROM accumulators WHERE region_code = $1 AND person_id = $2 ORDER BY year FOR UPDATE")
            .bind(region.to_string())
            .bind(person.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
    let mut record = load_person(tx, region, person, true).await?;
    // A change that committed while this one waited for the locks moved the person on.
    if person_region(tx, scope, person).await? != region {
        return Err(yibao_store::moved_meanwhile(person));
    }
    if let Some(died_on) = record.died_on {
        return Err(yibao_store::deceased(died_on));
    }
    crate::employer::check_not_declared_from(tx, person, yibao_store::employer::rebilled_from_change(&record.coverage, &change), change.on)
        .await?;
    // A household is a county's: the same id in another county is another household.
    let change = yibao_engine::CoverageChange { household_changes: household != record.household_id || change.region != region, ..change };
    let (mut ended, next) = yibao_engine::change_coverage(&record.coverage, &record.history, &change)
        .map_err(|e| StoreError::Refused { code: e.code(), message: e.to_string() })?;
    let settled = settled_from(tx, region, person, change.on.year()).await?;
    yibao_store::check_no_claims_from(change.on, settled.iter().map(String::as_str))?;
    let household_there: Option<i32> = sqlx::query_scalar("SELECT 1 FROM households WHERE region_code = $1 AND household_id = $2")
        .bind(change.region.to_string())
        .bind(household.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    if household_there.is_none() {
        return Err(StoreError::HouseholdNotFound(household.into_string()));
    }
    if ended.coverage.scheme != next.scheme && years.iter().any(|year| *year >= change.on.year()) {
        // The new scheme's year starts at zero; the old one's counters go with its spell.
        let state: Option<String> =
            sqlx::query_scalar("SELECT state::text FROM accumulators WHERE region_code = $1 AND person_id = $2 AND year = $3")
                .bind(region.to_string())
                .bind(person.as_str())
                .bind(change.on.year())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        ended.accumulators = state.map(|state| from_json(&state)).transpose()?;
        sqlx::query("DELETE FROM accumulators WHERE region_code = $1 AND person_id = $2 AND year >= $3")
            .bind(region.to_string())
            .bind(person.as_str())
            .bind(change.on.year())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    // Back in a scheme left earlier the same year: its year goes on where it was left.
    let restored = (ended.coverage.scheme != next.scheme)
        .then(|| yibao_engine::counters_to_restore(&record.history, next.scheme, change.on.year()))
        .flatten();
    if let Some(acc) = &restored {
        save_accumulators(tx, region, person, acc).await?;
    }
    let moved = change.region != region;
    let carried: Vec<Accumulators> = if moved {
        let states: Vec<String> =
            sqlx::query_scalar("SELECT state::text FROM accumulators WHERE region_code = $1 AND person_id = $2 ORDER BY year")
                .bind(region.to_string())
                .bind(person.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        states.iter().map(|state| from_json(state)).collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let detail = yibao_store::coverage_change_detail(&ended, &next, &household, &carried, restored.as_ref())?;
    let ended_coverage = ended.coverage.clone();
    record.history.push(ended);
    record.coverage = next;
    record.household_id = household;
    record.updated_at = actor.at;
    let mut audits = Audits::default();
    if moved {
        check_card_free(tx, change.region, record.card_no.as_deref(), person).await?;
        // The old county keeps its row, ended: whom it insured, and what its contributions
        // refer to. The personal account went with the person.
        let closed = Coverage { personal_account_balance: yibao_domain::Fen::ZERO, ..ended_coverage };
        save_coverage(tx, actor, region, person, &closed).await?;
        // The card goes with the person too.
        sqlx::query("UPDATE persons SET card_no = NULL WHERE region_code = $1 AND person_id = $2")
            .bind(region.to_string())
            .bind(person.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("UPDATE accumulators SET region_code = $1 WHERE region_code = $2 AND person_id = $3")
            .bind(change.region.to_string())
            .bind(region.to_string())
            .bind(person.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audits.push(region, "person.move_out", person.as_str(), detail.clone());
        audits.push(change.region, "person.move_in", person.as_str(), detail);
    } else {
        audits.push(region, "person.change_coverage", person.as_str(), detail);
    }
    sqlx::query(
        "INSERT INTO persons (region_code, person_id, household_id, name, card_no, coverage, enrolled_at, updated_at, history) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9::jsonb) \
         ON CONFLICT (region_code, person_id) DO UPDATE SET household_id = excluded.household_id, name = excluded.name, \
         card_no = excluded.card_no, coverage = excluded.coverage, updated_at = excluded.updated_at, history = excluded.history",
    )
    .bind(change.region.to_string())
    .bind(person.as_str())
    .bind(record.household_id.as_str())
    .bind(record.name.as_str())
    .bind(&record.card_no)
    .bind(json(&record.coverage)?)
    .bind(time_text(record.enrolled_at)?)
    .bind(time_text(record.updated_at)?)
    .bind(json(&record.history)?)
    .execute(&mut *tx)
    .await
    .map_err(|e| card_violation(e, record.card_no.as_deref()))?;
    sqlx::query("UPDATE person_index SET region_code = $1, household_id = $2 WHERE person_id = $3")
        .bind(change.region.to_string())
        .bind(record.household_id.as_str())
        .bind(person.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    audits.append(tx, actor).await?;
    Ok(record)
}

/// The person's row, if it lies inside `scope`, locked until the end of `tx` (writes that
/// change the coverage).
async fn locate_for_update(
    tx: &mut PgConnection,
    scope: RegionCode,
    person: &NationalId,
) -> Result<(RegionCode, PersonRecord), StoreError> {
    let region = person_region(tx, scope, person).await?;
    Ok((region, load_person(tx, region, person, true).await?))
}

pub(crate) async fn save_coverage(
    tx: &mut PgConnection,
    actor: &Actor,
    region: RegionCode,
    person: &NationalId,
    coverage: &Coverage,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE persons SET coverage = $1::jsonb, updated_at = $2 WHERE region_code = $3 AND person_id = $4")
        .bind(json(coverage)?)
        .bind(actor.at_text())
        .bind(region.to_string())
        .bind(person.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn load_accumulators(tx: &mut PgConnection, region: RegionCode, person: &NationalId, year: i32) -> Result<Accumulators, StoreError> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT state::text FROM accumulators WHERE region_code = $1 AND person_id = $2 AND year = $3")
            .bind(region.to_string())
            .bind(person.as_str())
            .bind(year)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    state.map_or_else(|| Ok(Accumulators::new_year(year)), |s| from_json(&s))
}

/// The person's accumulators for `year`, with the row locked until the end of `tx`: the
/// first lock every settlement and reversal takes. A zero row is written first if there is
/// none, so that there is a row to lock (it goes away with the rest if `tx` rolls back).
pub(crate) async fn lock_accumulators(
    tx: &mut PgConnection,
    region: RegionCode,
    person: &NationalId,
    year: i32,
) -> Result<Accumulators, StoreError> {
    sqlx::query(
        "INSERT INTO accumulators (region_code, person_id, year, state) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (region_code, person_id, year) DO NOTHING",
    )
    .bind(region.to_string())
    .bind(person.as_str())
    .bind(year)
    .bind(json(&Accumulators::new_year(year))?)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let state: String =
        sqlx::query_scalar("SELECT state::text FROM accumulators WHERE region_code = $1 AND person_id = $2 AND year = $3 FOR UPDATE")
            .bind(region.to_string())
            .bind(person.as_str())
            .bind(year)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    from_json(&state)
}

pub(crate) async fn save_accumulators(
    tx: &mut PgConnection,
    region: RegionCode,
    person: &NationalId,
    acc: &Accumulators,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO accumulators (region_code, person_id, year, state) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (region_code, person_id, year) DO UPDATE SET state = excluded.state")
        .bind(region.to_string())
        .bind(person.as_str())
        .bind(acc.year)
        .bind(json(acc)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn find_claim(tx: &mut PgConnection, institution: &str, claim_id: &str) -> Result<Option<ClaimRecord>, StoreError> {
    let region: Option<String> = sqlx::query_scalar("SELECT region_code FROM claim_keys WHERE institution_code = $1 AND claim_id = $2")
        .bind(institution)
        .bind(claim_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    let Some(region) = region else { return Ok(None) };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CLAIM_COLUMNS} FROM claims WHERE region_code = $1 AND institution_code = $2 AND claim_id = $3"
    )))
    .bind(region)
    .bind(institution)
    .bind(claim_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    claim_from_row(&row).map(Some)
}

pub(crate) use yibao_store::replay;

impl Store for PostgresStore {
    async fn create_household(&self, actor: &Actor, scope: RegionCode, household: NewHousehold) -> Result<HouseholdRecord, StoreError> {
        let mut tx = self.write().await?;
        let mut audits = Audits::default();
        let record = insert_household(&mut tx, actor, scope, household, &mut audits).await?;
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn enrol(&self, actor: &Actor, scope: RegionCode, person: NewPerson) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let mut audits = Audits::default();
        let record = insert_person(&mut tx, actor, scope, person, &mut audits).await?;
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn person(&self, scope: RegionCode, person: &NationalId) -> Result<PersonRecord, StoreError> {
        // One statement on a pooled connection, without BEGIN/COMMIT: the index and the row
        // are read together (a county move changes both in one transaction), and every
        // settlement's card check saves two round trips.
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let (_, record) = locate(&mut conn, scope, person).await?;
        Ok(record)
    }

    async fn search_persons(&self, scope: RegionCode, query: &PersonQuery) -> Result<yibao_store::PersonPage, StoreError> {
        // Region scope: a city code matches its counties by range; a county matches itself.
        // The count and the page come from one statement, so they agree.
        let (low, high) = scope_bounds(scope);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH matched AS (SELECT region_code, {PERSON_COLUMNS} FROM persons WHERE region_code BETWEEN $1 AND $2 \
             AND EXISTS (SELECT 1 FROM person_index i WHERE i.person_id = persons.person_id AND i.region_code = persons.region_code) \
             AND ($3::text IS NULL OR person_id = $3) AND ($4::text IS NULL OR name LIKE $4 || '%' ESCAPE '\\') \
             AND ($5::text IS NULL OR card_no = $5) AND ($6::text IS NULL OR household_id = $6)) \
             SELECT (SELECT COUNT(*) FROM matched) AS total, page.* FROM (SELECT 1) AS one \
             LEFT JOIN (SELECT * FROM matched ORDER BY region_code, person_id LIMIT $7 OFFSET $8) AS page ON TRUE"
        )))
        .bind(low)
        .bind(high)
        .bind(query.person_id.map(|p| p.to_string()))
        .bind(query.name_prefix.as_deref().map(like_prefix))
        .bind(&query.card_no)
        .bind(&query.household_id)
        .bind(query.page_limit())
        .bind(i64::from(query.offset))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let total: i64 = rows.first().map(|row| row.try_get("total")).transpose().map_err(backend)?.unwrap_or(0);
        let persons = rows
            .iter()
            .filter(|row| row.try_get::<Option<String>, _>("person_id").ok().flatten().is_some())
            .map(person_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(yibao_store::PersonPage { total: u64::try_from(total).unwrap_or(0), offset: query.offset, persons })
    }

    async fn persons_after(
        &self,
        scope: RegionCode,
        after: Option<(RegionCode, NationalId)>,
        limit: i64,
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let (after_region, after_person) = after.map_or((String::new(), String::new()), |(r, p)| (r.to_string(), p.to_string()));
        let rows = sqlx::query(
            "SELECT p.person_id, p.name, p.card_no, p.household_id, p.coverage::text AS coverage, p.enrolled_at, p.updated_at, \
                    p.history::text AS history, p.died_on \
             FROM persons p JOIN person_index i ON i.person_id = p.person_id AND i.region_code = p.region_code \
             WHERE p.region_code BETWEEN $1 AND $2 AND (p.region_code, p.person_id) > ($3, $4) \
             ORDER BY p.region_code, p.person_id LIMIT $5",
        )
        .bind(low)
        .bind(high)
        .bind(after_region)
        .bind(after_person)
        .bind(limit.clamp(1, yibao_store::EXPORT_PAGE))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn edit_tiers(&self, actor: &Actor, scope: RegionCode, person: &NationalId, edit: TierEdit) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let (region, mut record) = locate_for_update(&mut tx, scope, person).await?;
        let action = record.edit_tiers(edit)?;
        save_coverage(&mut tx, actor, region, person, &record.coverage).await?;
        audit(&mut tx, actor, region, action, person.as_str(), json(&edit)?).await?;
        tx.commit().await.map_err(backend)?;
        record.updated_at = actor.at;
        Ok(record)
    }

    async fn change_coverage(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        change: yibao_engine::CoverageChange,
        household: HouseholdId,
    ) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let record = change_coverage_in(&mut tx, actor, scope, person, change, household).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn record_death(&self, actor: &Actor, scope: RegionCode, person: &NationalId, died_on: Date) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let record = close_coverage_in(&mut tx, actor, scope, person, yibao_store::CoverageEnd::Death, died_on).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn end_coverage(&self, actor: &Actor, scope: RegionCode, person: &NationalId, until: Date) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let record = close_coverage_in(&mut tx, actor, scope, person, yibao_store::CoverageEnd::Until, until).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn update_person(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        update: PersonUpdate,
    ) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        // The person's row first, the audit head last (see the module's lock order).
        let (region, mut record) = locate_for_update(&mut tx, scope, person).await?;
        let detail = update.apply(&mut record)?;
        check_card_free(&mut tx, region, record.card_no.as_deref(), person).await?;
        record.updated_at = actor.at;
        sqlx::query("UPDATE persons SET name = $1, card_no = $2, updated_at = $3 WHERE region_code = $4 AND person_id = $5")
            .bind(record.name.as_str())
            .bind(&record.card_no)
            .bind(time_text(record.updated_at)?)
            .bind(region.to_string())
            .bind(person.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| card_violation(e, record.card_no.as_deref()))?;
        save_coverage(&mut tx, actor, region, person, &record.coverage).await?;
        audit(&mut tx, actor, region, "person.update", person.as_str(), detail).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn settle(
        &self,
        actor: &Actor,
        scope: RegionCode,
        request: SettleRequest,
        compute: SettleFn,
    ) -> Result<SettleOutcome, StoreError> {
        // Committed by a writer task, in a group with the settlements queued beside it (see
        // `settle`); the answer comes after the group's COMMIT.
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = settle::SettleJob { actor: actor.clone(), scope, request, compute, reply };
        self.settler.send(job).await.map_err(|_| StoreError::Backend("the settlement writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("the settlement writer stopped before answering".into()))?
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
        let not_found = || StoreError::ClaimNotFound { institution: institution.to_owned(), claim_id: claim_id.to_owned() };
        let mut tx = self.write().await?;
        let mut record = find_claim(&mut tx, institution, claim_id).await?.ok_or_else(not_found)?;
        if !scope.contains(record.region) {
            return Err(not_found());
        }
        if record.status == ClaimStatus::Reversed {
            return Err(StoreError::AlreadyReversed(claim_id.to_owned()));
        }
        // Locks: the accumulators row, then the claim row, then the person's row if the
        // personal account is refunded, then (in `audit`) the chain head. The claim is read
        // again under the locks: a concurrent reversal or settlement has finished by now.
        // The year's counters and the personal account are where the person is insured now: a
        // claim of a county the person has left is not reversed at the counter (R-ENR-5).
        let person_region = crate::person_region(&mut tx, record.region.city(), &record.person_id).await?;
        if person_region != record.region {
            return Err(yibao_store::reversal_after_move(claim_id));
        }
        let current = lock_accumulators(&mut tx, person_region, &record.person_id, record.year).await?;
        let (status, before, after): (String, Vec<u8>, Vec<u8>) = sqlx::query_as(
            "SELECT status, acc_before, acc_after FROM claims WHERE region_code = $1 AND institution_code = $2 AND claim_id = $3 FOR UPDATE",
        )
        .bind(record.region.to_string())
        .bind(institution)
        .bind(claim_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        if status == ClaimStatus::Reversed.as_str() {
            return Err(StoreError::AlreadyReversed(claim_id.to_owned()));
        }
        let (before, after) = (yibao_store::compact::unpack_accumulators(&before)?, yibao_store::compact::unpack_accumulators(&after)?);
        if current != after {
            return Err(StoreError::NotLatestClaim(claim_id.to_owned()));
        }
        save_accumulators(&mut tx, person_region, &record.person_id, &before).await?;
        // Give back what the personal account paid.
        let paid = record.personal_account_paid()?;
        if !paid.is_zero() {
            let person = load_person(&mut tx, person_region, &record.person_id, true).await?;
            let mut coverage = person.coverage;
            coverage.personal_account_balance += paid;
            save_coverage(&mut tx, actor, person_region, &record.person_id, &coverage).await?;
        }
        let record_id = yibao_store::books::settlement_record_id(institution, claim_id);
        let originals = books::entries_caused_by(&mut tx, record.region.city(), "settlement", &record_id).await?;
        // What reviews deducted from the claim is given back with it (issue 18).
        review::withdraw_with_reversal(&mut tx, actor, institution, claim_id).await?;
        let entries = yibao_store::books::reversal_entries(&originals, institution, claim_id, actor.at.date())?;
        books::post(&mut tx, &actor.at_text(), &entries).await?;
        record.status = ClaimStatus::Reversed;
        record.reversed_at = Some(actor.at);
        record.reversal_reason = Some(reason.to_owned());
        sqlx::query("UPDATE claims SET status = 'reversed', reversed_at = $1, reversal_reason = $2 WHERE region_code = $3 AND institution_code = $4 AND claim_id = $5")
            .bind(record.reversed_at.map(time_text).transpose()?)
            .bind(reason)
            .bind(record.region.to_string())
            .bind(institution)
            .bind(claim_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(
            &mut tx,
            actor,
            record.region,
            "claim.reverse",
            &format!("{institution}/{claim_id}"),
            format!("{{\"reason\":{}}}", json(&reason)?),
        )
        .await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn claim(&self, scope: RegionCode, institution: &str, claim_id: &str) -> Result<ClaimRecord, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let record = find_claim(&mut tx, institution, claim_id).await?.filter(|c| scope.contains(c.region));
        tx.commit().await.map_err(backend)?;
        record.ok_or_else(|| StoreError::ClaimNotFound { institution: institution.to_owned(), claim_id: claim_id.to_owned() })
    }

    async fn claims_of_person(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<ClaimRecord>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let regions = person_regions(&mut tx, scope, person).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CLAIM_COLUMNS} FROM claims WHERE region_code = ANY($1) AND person_id = $2 ORDER BY settled_at DESC, claim_id DESC LIMIT $3"
        )))
        .bind(regions)
        .bind(person.as_str())
        .bind(SEARCH_LIMIT)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        rows.iter().map(claim_from_row).collect()
    }

    async fn visit_days(
        &self,
        scope: RegionCode,
        person: &NationalId,
        (first_day, last_day): (Date, Date),
        (institution, claim_id): (&str, &str),
        limit: u32,
    ) -> Result<Vec<Date>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let regions = person_regions(&mut tx, scope, person).await?;
        // The expressions of the index `claims_visits_by_day`, one region at a time: with
        // the region fixed, the index's order serves the ORDER BY and the LIMIT stops it.
        let sql = format!(
            "SELECT admission_date FROM claims \
             WHERE region_code = $1 AND person_id = $2 AND status = 'settled' \
               AND kind NOT IN ({}) \
               AND admission_date BETWEEN $3 AND $4 \
               AND NOT (institution_code = $5 AND claim_id = $6) \
             ORDER BY admission_date DESC LIMIT $7",
            yibao_store::NOT_VISIT_KINDS_SQL
        );
        let mut days = Vec::new();
        for region in regions {
            let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(region)
                .bind(person.as_str())
                .bind(first_day.to_string())
                .bind(last_day.to_string())
                .bind(institution)
                .bind(claim_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
            for (day,) in rows {
                days.push(yibao_store::books::date_of(&day)?);
            }
        }
        tx.commit().await.map_err(backend)?;
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(days)
    }

    async fn accumulators(&self, scope: RegionCode, person: &NationalId, year: i32) -> Result<Accumulators, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let (region, _) = locate(&mut tx, scope, person).await?;
        let acc = load_accumulators(&mut tx, region, person, year).await?;
        tx.commit().await.map_err(backend)?;
        Ok(acc)
    }

    async fn file_referral(&self, actor: &Actor, scope: RegionCode, referral: NewReferral) -> Result<ReferralRecord, StoreError> {
        referral.check()?;
        let mut tx = self.write().await?;
        // The person's row is locked, so two referrals filed at once number in turn.
        let (region, _) = locate_for_update(&mut tx, scope, &referral.person_id).await?;
        let (region_text, person) = (region.to_string(), referral.person_id.to_string());
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM referrals WHERE region_code = $1 AND person_id = $2")
            .bind(&region_text)
            .bind(&person)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
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
        sqlx::query(
            "INSERT INTO referrals (region_code, person_id, seq, from_institution, to_institution, issued_on, valid_until, filed_by, filed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&region_text)
        .bind(&person)
        .bind(record.seq)
        .bind(record.from_institution.as_str())
        .bind(record.to_institution.as_str())
        .bind(record.issued_on.to_string())
        .bind(record.valid_until.to_string())
        .bind(&record.filed_by)
        .bind(time_text(record.filed_at)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        audit(&mut tx, actor, region, "referral.file", &person, referral.audit_detail(record.seq)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn cancel_referral(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        seq: i64,
        reason: &str,
    ) -> Result<ReferralRecord, StoreError> {
        let mut tx = self.write().await?;
        let (region, _) = locate(&mut tx, scope, person).await?;
        // One cancellation at a time per person: the person's row is the lock.
        sqlx::query("SELECT 1 FROM persons WHERE region_code = $1 AND person_id = $2 FOR UPDATE")
            .bind(region.to_string())
            .bind(person.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let found = referrals_in(&mut tx, &[region], person).await?.into_iter().find(|r| r.seq == seq);
        let Some(referral) = found else {
            return Err(StoreError::Refused { code: "referral.not_found", message: format!("the person has no referral {seq}") });
        };
        if referral.cancelled_at.is_some() {
            return Err(StoreError::Refused { code: "referral.cancelled", message: format!("referral {seq} is cancelled already") });
        }
        let settled = settled_at(&mut tx, &[region], person, referral.to_institution.as_str()).await?;
        if yibao_store::referral_used(&referral, &settled) {
            return Err(StoreError::Refused {
                code: "referral.used",
                message: format!("referral {seq} was used by an admission settled meanwhile"),
            });
        }
        sqlx::query(
            "INSERT INTO referral_cancellations (region_code, person_id, seq, cancelled_by, cancelled_at, reason) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(region.to_string())
        .bind(person.as_str())
        .bind(seq)
        .bind(&actor.who)
        .bind(time_text(actor.at)?)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let detail = serde_json::json!({"seq": seq, "reason": reason}).to_string();
        audit(&mut tx, actor, region, "referral.cancel", person.as_str(), detail).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ReferralRecord { cancelled_by: Some(actor.who.clone()), cancelled_at: Some(actor.at), ..referral })
    }

    async fn referrals_of(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<ReferralRecord>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let (_, record) = locate(&mut tx, scope, person).await?;
        let regions: Vec<RegionCode> =
            yibao_store::regions_of(&record.coverage, &record.history).into_iter().filter(|r| scope.contains(*r)).collect();
        let referrals = referrals_in(&mut tx, &regions, person).await?;
        tx.commit().await.map_err(backend)?;
        Ok(referrals)
    }

    async fn audit_entries(&self, region: RegionCode, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT region_code, seq, at, actor, source, action, entity, detail, prev_hash, hash FROM audit_log WHERE region_code = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(region.to_string())
        .bind(after_seq)
        .bind(limit.clamp(1, 100_000))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    region: row.try_get("region_code").map_err(backend)?,
                    seq: row.try_get("seq").map_err(backend)?,
                    at: row.try_get("at").map_err(backend)?,
                    actor: row.try_get("actor").map_err(backend)?,
                    source: row.try_get("source").map_err(backend)?,
                    action: row.try_get("action").map_err(backend)?,
                    entity: row.try_get("entity").map_err(backend)?,
                    detail: yibao_store::audit::detail_text(row.try_get("detail").map_err(backend)?),
                    prev_hash: yibao_store::audit::digest_text(row.try_get("prev_hash").map_err(backend)?),
                    hash: yibao_store::audit::digest_text(row.try_get("hash").map_err(backend)?),
                })
            })
            .collect()
    }

    async fn audit_regions(&self) -> Result<Vec<RegionCode>, StoreError> {
        let codes: Vec<String> =
            sqlx::query_scalar("SELECT region_code FROM audit_heads ORDER BY region_code").fetch_all(&self.pool).await.map_err(backend)?;
        codes.iter().map(|c| region_of(c)).collect()
    }

    async fn audit_heads(&self) -> Result<Vec<yibao_store::AuditHead>, StoreError> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as("SELECT region_code, seq, hash FROM audit_heads ORDER BY region_code")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter().map(|(region, seq, hash)| Ok(yibao_store::AuditHead { region: region_of(&region)?, seq, hash })).collect()
    }

    async fn regions_on_record(&self) -> Result<Vec<RegionCode>, StoreError> {
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT region_code FROM audit_log UNION SELECT region_code FROM households UNION SELECT region_code FROM persons \
             UNION SELECT region_code FROM contributions UNION SELECT region_code FROM claims \
             UNION SELECT region_code FROM staff UNION SELECT region_code FROM institutions UNION SELECT region_code FROM referrals \
             UNION SELECT substr(region_code, 1, 4) || '00' FROM pooling_runs UNION SELECT substr(region_code, 1, 4) || '00' FROM year_closes \
             UNION SELECT substr(region_code, 1, 4) || '00' FROM fund_budgets UNION SELECT substr(region_code, 1, 4) || '00' FROM fund_handovers \
             UNION SELECT substr(region_code, 1, 4) || '00' FROM legacy_deficits UNION SELECT substr(region_code, 1, 4) || '00' FROM county_targets ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        codes.iter().map(|c| region_of(c)).collect()
    }
}

/// `prefix` as a `LIKE` pattern prefix: `\`, `%` and `_` match themselves.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

impl yibao_store::ImportStore for PostgresStore {
    async fn import(
        &self,
        actor: &Actor,
        scope: RegionCode,
        households: Vec<yibao_store::ImportHousehold>,
    ) -> Result<yibao_store::ImportSummary, StoreError> {
        if households.len() > yibao_store::IMPORT_LIMIT {
            return Err(StoreError::Invalid(format!("an import carries at most {} households", yibao_store::IMPORT_LIMIT)));
        }
        let mut tx = self.write().await?;
        let mut audits = Audits::default();
        let mut summary = yibao_store::ImportSummary::default();
        for entry in households {
            insert_household(&mut tx, actor, scope, entry.household, &mut audits).await?;
            summary.households += 1;
            for member in entry.members {
                insert_person(&mut tx, actor, scope, member, &mut audits).await?;
                summary.persons += 1;
            }
        }
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_metacharacters_match_themselves() {
        assert_eq!(like_prefix("张三"), "张三");
        assert_eq!(like_prefix(r"a%b_c\d"), r"a\%b\_c\\d");
    }
}
