//! The SQLite store: Yibao's embedded default. One file in the data directory, WAL journal,
//! `synchronous = FULL` (a committed settlement survives power loss), a busy timeout, and
//! every write in a `BEGIN IMMEDIATE` transaction so that concurrent writers queue instead
//! of failing or interleaving. Hand-written SQL; migrations embedded and run at open.

mod access;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};
use time::Date;
use yibao_domain::{NationalId, RegionCode};
use yibao_engine::{Accumulators, Coverage, TierChange};
use yibao_store::{
    Actor, AuditEntry, ClaimRecord, ClaimStatus, GENESIS_HASH, HouseholdRecord, NewHousehold, NewPerson, PersonQuery, PersonRecord,
    PersonUpdate, SEARCH_LIMIT, SettleFn, SettleOutcome, SettleRequest, Store, StoreError, check_scope, entry_hash,
};

/// Migrations, in order. Applied once each, recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] =
    &[(1, include_str!("../migrations/0001_init.sql")), (2, include_str!("../migrations/0002_access_contributions.sql"))];
/// Connections in the pool: SQLite has one writer at a time; readers run beside it.
const POOL_SIZE: u32 = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers: several connections beside the writer (WAL).
    pub(crate) pool: SqlitePool,
    /// The one writer connection. SQLite allows one writer at a time; queueing writers on
    /// this pool's fair semaphore is much kinder to tail latency than letting them spin in
    /// SQLite's busy handler.
    writer: SqlitePool,
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored JSON unreadable: {e}")))
}

pub(crate) fn region_of(text: &str) -> Result<RegionCode, StoreError> {
    RegionCode::parse(text).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn id_of(text: &str) -> Result<NationalId, StoreError> {
    NationalId::parse(text).map_err(|e| StoreError::Backend(e.to_string()))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &std::path::Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        let pool = SqlitePoolOptions::new().max_connections(POOL_SIZE).connect_with(options).await.map_err(backend)?;
        let store = SqliteStore { pool, writer };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for (version, sql) in MIGRATIONS {
            let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            if applied.is_none() {
                sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await.map_err(backend)?;
                sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)
    }

    pub(crate) async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
    }
}

/// Appends one audit entry to `region`'s chain inside `tx`.
pub(crate) async fn audit(
    tx: &mut Transaction<'static, Sqlite>,
    actor: &Actor,
    region: RegionCode,
    action: &str,
    entity: &str,
    detail: String,
) -> Result<(), StoreError> {
    let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE region_code = $1")
        .bind(region.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
    let mut entry = AuditEntry {
        region: region.to_string(),
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
    sqlx::query("INSERT INTO audit_log (region_code, seq, at, actor, source, action, entity, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&entry.region)
        .bind(entry.seq)
        .bind(&entry.at)
        .bind(&entry.actor)
        .bind(&entry.source)
        .bind(&entry.action)
        .bind(&entry.entity)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    sqlx::query("INSERT INTO audit_heads (region_code, seq, hash) VALUES ($1, $2, $3) ON CONFLICT (region_code) DO UPDATE SET seq = excluded.seq, hash = excluded.hash")
        .bind(&entry.region)
        .bind(entry.seq)
        .bind(&entry.hash)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Enrols one person inside `tx`: scope, one enrolment per national ID, the household
/// exists; writes the index, the person and the audit entry.
pub(crate) async fn insert_person(
    tx: &mut Transaction<'static, Sqlite>,
    actor: &Actor,
    scope: RegionCode,
    person: NewPerson,
) -> Result<PersonRecord, StoreError> {
    let region = person.coverage.region;
    check_scope(scope, region)?;
    if person.name.trim().is_empty() || person.name.chars().count() > 64 {
        return Err(StoreError::Invalid("a name has 1 to 64 characters".into()));
    }
    let id = person.coverage.person_id;
    let existing: Option<(String, String)> = sqlx::query_as("SELECT region_code, household_id FROM person_index WHERE person_id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    if let Some((existing_region, household)) = existing {
        return Err(StoreError::AlreadyEnrolled { person: id.to_string(), region: existing_region, household });
    }
    let household: Option<i64> = sqlx::query_scalar("SELECT 1 FROM households WHERE region_code = $1 AND household_id = $2")
        .bind(region.to_string())
        .bind(&person.household_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    if household.is_none() {
        return Err(StoreError::HouseholdNotFound(person.household_id));
    }
    let record = PersonRecord {
        person_id: id,
        name: person.name,
        card_no: person.card_no,
        household_id: person.household_id,
        coverage: person.coverage,
        enrolled_at: actor.at_text(),
        updated_at: actor.at_text(),
    };
    sqlx::query("INSERT INTO person_index (person_id, region_code, household_id) VALUES ($1, $2, $3)")
        .bind(id.as_str())
        .bind(region.to_string())
        .bind(&record.household_id)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    sqlx::query("INSERT INTO persons (region_code, person_id, household_id, name, card_no, coverage, enrolled_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(region.to_string())
        .bind(id.as_str())
        .bind(&record.household_id)
        .bind(&record.name)
        .bind(&record.card_no)
        .bind(json(&record.coverage)?)
        .bind(&record.enrolled_at)
        .bind(&record.updated_at)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    audit(tx, actor, region, "person.enrol", id.as_str(), json(&record)?).await?;
    Ok(record)
}

/// Creates one household inside `tx`.
pub(crate) async fn insert_household(
    tx: &mut Transaction<'static, Sqlite>,
    actor: &Actor,
    scope: RegionCode,
    household: NewHousehold,
) -> Result<HouseholdRecord, StoreError> {
    check_scope(scope, household.region)?;
    if household.household_id.trim().is_empty() || household.household_id.len() > 64 {
        return Err(StoreError::Invalid("a household id has 1 to 64 characters".into()));
    }
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM households WHERE region_code = $1 AND household_id = $2")
        .bind(household.region.to_string())
        .bind(&household.household_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    if exists.is_some() {
        return Err(StoreError::HouseholdExists(household.household_id));
    }
    let record = HouseholdRecord {
        household_id: household.household_id,
        region: household.region,
        address: household.address,
        created_at: actor.at_text(),
    };
    sqlx::query("INSERT INTO households (region_code, household_id, address, created_at) VALUES ($1, $2, $3, $4)")
        .bind(record.region.to_string())
        .bind(&record.household_id)
        .bind(&record.address)
        .bind(&record.created_at)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    audit(tx, actor, record.region, "household.create", &record.household_id, json(&record)?).await?;
    Ok(record)
}

fn person_from_row(row: &SqliteRow) -> Result<PersonRecord, StoreError> {
    Ok(PersonRecord {
        person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
        name: row.try_get("name").map_err(backend)?,
        card_no: row.try_get("card_no").map_err(backend)?,
        household_id: row.try_get("household_id").map_err(backend)?,
        coverage: from_json(row.try_get("coverage").map_err(backend)?)?,
        enrolled_at: row.try_get("enrolled_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

fn claim_from_row(row: &SqliteRow) -> Result<ClaimRecord, StoreError> {
    let status: String = row.try_get("status").map_err(backend)?;
    Ok(ClaimRecord {
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        institution_code: row.try_get("institution_code").map_err(backend)?,
        claim_id: row.try_get("claim_id").map_err(backend)?,
        person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
        year: row.try_get::<i64, _>("year").map_err(backend)?.try_into().map_err(|_| StoreError::Backend("year out of range".into()))?,
        status: if status == "reversed" { ClaimStatus::Reversed } else { ClaimStatus::Settled },
        settled_at: row.try_get("settled_at").map_err(backend)?,
        medfee_fen: row.try_get("medfee_fen").map_err(backend)?,
        fund_pay_fen: row.try_get("fund_pay_fen").map_err(backend)?,
        psn_part_fen: row.try_get("psn_part_fen").map_err(backend)?,
        settlement_json: row.try_get("settlement").map_err(backend)?,
        claim_json: row.try_get("claim").map_err(backend)?,
        reversed_at: row.try_get("reversed_at").map_err(backend)?,
        reversal_reason: row.try_get("reversal_reason").map_err(backend)?,
    })
}

const PERSON_COLUMNS: &str = "person_id, name, card_no, household_id, coverage, enrolled_at, updated_at";
const CLAIM_COLUMNS: &str = "region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, reversed_at, reversal_reason";

/// The person's row, found through the global index, if it lies inside `scope`. A person
/// outside the scope is reported as not found: a county learns nothing of another's people.
pub(crate) async fn locate(
    tx: &mut Transaction<'static, Sqlite>,
    scope: RegionCode,
    person: &NationalId,
) -> Result<(RegionCode, PersonRecord), StoreError> {
    let region: Option<String> = sqlx::query_scalar("SELECT region_code FROM person_index WHERE person_id = $1")
        .bind(person.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    let region = match region {
        Some(r) => region_of(&r)?,
        None => return Err(StoreError::PersonNotFound(person.to_string())),
    };
    if !scope.contains(region) {
        return Err(StoreError::PersonNotFound(person.to_string()));
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {PERSON_COLUMNS} FROM persons WHERE region_code = $1 AND person_id = $2")))
        .bind(region.to_string())
        .bind(person.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(backend)?;
    Ok((region, person_from_row(&row)?))
}

async fn save_coverage(
    tx: &mut Transaction<'static, Sqlite>,
    actor: &Actor,
    region: RegionCode,
    person: &NationalId,
    coverage: &Coverage,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE persons SET coverage = $1, updated_at = $2 WHERE region_code = $3 AND person_id = $4")
        .bind(json(coverage)?)
        .bind(actor.at_text())
        .bind(region.to_string())
        .bind(person.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn load_accumulators(
    tx: &mut Transaction<'static, Sqlite>,
    region: RegionCode,
    person: &NationalId,
    year: i32,
) -> Result<Accumulators, StoreError> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM accumulators WHERE region_code = $1 AND person_id = $2 AND year = $3")
            .bind(region.to_string())
            .bind(person.as_str())
            .bind(year)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
    state.map_or_else(|| Ok(Accumulators::new_year(year)), |s| from_json(&s))
}

async fn save_accumulators(
    tx: &mut Transaction<'static, Sqlite>,
    region: RegionCode,
    person: &NationalId,
    acc: &Accumulators,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO accumulators (region_code, person_id, year, state) VALUES ($1, $2, $3, $4) ON CONFLICT (region_code, person_id, year) DO UPDATE SET state = excluded.state")
        .bind(region.to_string())
        .bind(person.as_str())
        .bind(acc.year)
        .bind(json(acc)?)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn find_claim(tx: &mut Transaction<'static, Sqlite>, institution: &str, claim_id: &str) -> Result<Option<ClaimRecord>, StoreError> {
    let region: Option<String> = sqlx::query_scalar("SELECT region_code FROM claim_keys WHERE institution_code = $1 AND claim_id = $2")
        .bind(institution)
        .bind(claim_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    let Some(region) = region else { return Ok(None) };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CLAIM_COLUMNS} FROM claims WHERE region_code = $1 AND institution_code = $2 AND claim_id = $3"
    )))
    .bind(region)
    .bind(institution)
    .bind(claim_id)
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    claim_from_row(&row).map(Some)
}

impl Store for SqliteStore {
    async fn create_household(&self, actor: &Actor, scope: RegionCode, household: NewHousehold) -> Result<HouseholdRecord, StoreError> {
        let mut tx = self.write().await?;
        let record = insert_household(&mut tx, actor, scope, household).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn enrol(&self, actor: &Actor, scope: RegionCode, person: NewPerson) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let record = insert_person(&mut tx, actor, scope, person).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn person(&self, scope: RegionCode, person: &NationalId) -> Result<PersonRecord, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let (_, record) = locate(&mut tx, scope, person).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn search_persons(&self, scope: RegionCode, query: &PersonQuery) -> Result<Vec<PersonRecord>, StoreError> {
        // Region scope: a city code matches its counties by prefix; a county matches itself.
        let (low, high) = scope_bounds(scope);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE region_code BETWEEN $1 AND $2 \
             AND ($3 IS NULL OR person_id = $3) AND ($4 IS NULL OR name LIKE $4 || '%' ESCAPE '\\') \
             AND ($5 IS NULL OR card_no = $5) AND ($6 IS NULL OR household_id = $6) \
             ORDER BY region_code, person_id LIMIT $7"
        )))
        .bind(low)
        .bind(high)
        .bind(query.person_id.map(|p| p.to_string()))
        .bind(query.name_prefix.as_ref().map(|n| n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
        .bind(&query.card_no)
        .bind(&query.household_id)
        .bind(SEARCH_LIMIT)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn request_tier_change(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        change: TierChange,
    ) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let (region, mut record) = locate(&mut tx, scope, person).await?;
        let history = record
            .coverage
            .tier_history
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("the person has no tier (the city has no tiers)".into()))?;
        if change.requested_on < history.since || history.changes.last().is_some_and(|last| change.requested_on < last.requested_on) {
            return Err(StoreError::Invalid(format!("a tier change on {} is before the person's last tier event", change.requested_on)));
        }
        if history.changes.len() >= yibao_engine::TIER_CHANGES_LIMIT {
            return Err(StoreError::Invalid(format!("a person's tier history holds at most {} changes", yibao_engine::TIER_CHANGES_LIMIT)));
        }
        history.changes.push(change);
        save_coverage(&mut tx, actor, region, person, &record.coverage).await?;
        audit(&mut tx, actor, region, "person.tier_change", person.as_str(), json(&change)?).await?;
        tx.commit().await.map_err(backend)?;
        record.updated_at = actor.at_text();
        Ok(record)
    }

    async fn end_coverage(&self, actor: &Actor, scope: RegionCode, person: &NationalId, until: Date) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let (region, mut record) = locate(&mut tx, scope, person).await?;
        if until < record.coverage.coverage_from {
            return Err(StoreError::Invalid(format!(
                "coverage cannot end on {until}, before it began on {}",
                record.coverage.coverage_from
            )));
        }
        record.coverage.coverage_until = Some(until);
        save_coverage(&mut tx, actor, region, person, &record.coverage).await?;
        audit(&mut tx, actor, region, "person.end_coverage", person.as_str(), format!("{{\"until\":\"{until}\"}}")).await?;
        tx.commit().await.map_err(backend)?;
        record.updated_at = actor.at_text();
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
        let (region, mut record) = locate(&mut tx, scope, person).await?;
        let detail = update.apply(&mut record)?;
        record.updated_at = actor.at_text();
        sqlx::query("UPDATE persons SET name = $1, card_no = $2, updated_at = $3 WHERE region_code = $4 AND person_id = $5")
            .bind(&record.name)
            .bind(&record.card_no)
            .bind(&record.updated_at)
            .bind(region.to_string())
            .bind(person.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
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
        let mut tx = self.write().await?;
        if let Some(existing) = find_claim(&mut tx, &request.institution_code, &request.claim_id).await? {
            check_scope(scope, existing.region).map_err(|_| StoreError::ClaimNotFound {
                institution: request.institution_code.clone(),
                claim_id: request.claim_id.clone(),
            })?;
            if existing.claim_json != request.claim_json {
                return Err(StoreError::IdempotencyConflict { claim_id: request.claim_id });
            }
            return Ok(SettleOutcome { claim: existing, replayed: true });
        }
        let (region, person) = locate(&mut tx, scope, &request.person_id).await?;
        let before = load_accumulators(&mut tx, region, &request.person_id, request.year).await?;
        let settlement = compute(&person.coverage, &before).map_err(|e| StoreError::Refused { code: e.code(), message: e.to_string() })?;
        let after = settlement.accumulators;
        if after.year != request.year {
            return Err(StoreError::Invalid(format!("the claim counts against {}, not {}", after.year, request.year)));
        }
        let record = ClaimRecord {
            region,
            institution_code: request.institution_code,
            claim_id: request.claim_id,
            person_id: request.person_id,
            year: request.year,
            status: ClaimStatus::Settled,
            settled_at: actor.at_text(),
            medfee_fen: settlement.medfee_sumamt.get(),
            fund_pay_fen: settlement.fund_pay_sumamt.get(),
            psn_part_fen: settlement.psn_part_amt.get(),
            settlement_json: json(&settlement)?,
            claim_json: request.claim_json,
            reversed_at: None,
            reversal_reason: None,
        };
        sqlx::query("INSERT INTO claim_keys (institution_code, claim_id, region_code) VALUES ($1, $2, $3)")
            .bind(&record.institution_code)
            .bind(&record.claim_id)
            .bind(region.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO claims (region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, acc_before, acc_after) \
             VALUES ($1, $2, $3, $4, $5, 'settled', $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(region.to_string())
        .bind(&record.institution_code)
        .bind(&record.claim_id)
        .bind(record.person_id.as_str())
        .bind(record.year)
        .bind(&record.settled_at)
        .bind(record.medfee_fen)
        .bind(record.fund_pay_fen)
        .bind(record.psn_part_fen)
        .bind(&record.settlement_json)
        .bind(&record.claim_json)
        .bind(json(&before)?)
        .bind(json(&after)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        save_accumulators(&mut tx, region, &record.person_id, &after).await?;
        if settlement.acct_balance_after != person.coverage.personal_account_balance {
            let mut coverage = person.coverage.clone();
            coverage.personal_account_balance = settlement.acct_balance_after;
            save_coverage(&mut tx, actor, region, &record.person_id, &coverage).await?;
        }
        let detail = format!(
            "{{\"institution\":{},\"claim_id\":{},\"person\":\"{}\",\"medfee_fen\":{},\"fund_pay_fen\":{},\"psn_part_fen\":{}}}",
            json(&record.institution_code)?,
            json(&record.claim_id)?,
            record.person_id,
            record.medfee_fen,
            record.fund_pay_fen,
            record.psn_part_fen
        );
        audit(&mut tx, actor, region, "claim.settle", &format!("{}/{}", record.institution_code, record.claim_id), detail).await?;
        tx.commit().await.map_err(backend)?;
        Ok(SettleOutcome { claim: record, replayed: false })
    }

    async fn reverse(
        &self,
        actor: &Actor,
        scope: RegionCode,
        institution: &str,
        claim_id: &str,
        reason: &str,
    ) -> Result<ClaimRecord, StoreError> {
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(StoreError::Invalid("a reversal needs a reason of 1 to 500 characters".into()));
        }
        let not_found = || StoreError::ClaimNotFound { institution: institution.to_owned(), claim_id: claim_id.to_owned() };
        let mut tx = self.write().await?;
        let mut record = find_claim(&mut tx, institution, claim_id).await?.ok_or_else(not_found)?;
        if !scope.contains(record.region) {
            return Err(not_found());
        }
        if record.status == ClaimStatus::Reversed {
            return Err(StoreError::AlreadyReversed(claim_id.to_owned()));
        }
        let (before, after): (String, String) =
            sqlx::query_as("SELECT acc_before, acc_after FROM claims WHERE region_code = $1 AND institution_code = $2 AND claim_id = $3")
                .bind(record.region.to_string())
                .bind(institution)
                .bind(claim_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        let (before, after): (Accumulators, Accumulators) = (from_json(&before)?, from_json(&after)?);
        let current = load_accumulators(&mut tx, record.region, &record.person_id, record.year).await?;
        if current != after {
            return Err(StoreError::NotLatestClaim(claim_id.to_owned()));
        }
        save_accumulators(&mut tx, record.region, &record.person_id, &before).await?;
        // Give back what the personal account paid.
        let acct_pay: Option<String> = serde_json::from_str::<serde_json::Value>(&record.settlement_json)
            .ok()
            .and_then(|v| v.get("acct_pay").and_then(|a| a.as_str().map(str::to_owned)));
        if let Some(paid) = acct_pay.and_then(|p| yibao_domain::Fen::parse_yuan(&p).ok()).filter(|p| !p.is_zero()) {
            let (_, person) = locate(&mut tx, scope, &record.person_id).await?;
            let mut coverage = person.coverage;
            coverage.personal_account_balance += paid;
            save_coverage(&mut tx, actor, record.region, &record.person_id, &coverage).await?;
        }
        record.status = ClaimStatus::Reversed;
        record.reversed_at = Some(actor.at_text());
        record.reversal_reason = Some(reason.to_owned());
        sqlx::query("UPDATE claims SET status = 'reversed', reversed_at = $1, reversal_reason = $2 WHERE region_code = $3 AND institution_code = $4 AND claim_id = $5")
            .bind(&record.reversed_at)
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
        let (region, _) = locate(&mut tx, scope, person).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CLAIM_COLUMNS} FROM claims WHERE region_code = $1 AND person_id = $2 ORDER BY settled_at DESC, claim_id DESC LIMIT $3"
        )))
        .bind(region.to_string())
        .bind(person.as_str())
        .bind(SEARCH_LIMIT)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        rows.iter().map(claim_from_row).collect()
    }

    async fn accumulators(&self, scope: RegionCode, person: &NationalId, year: i32) -> Result<Accumulators, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let (region, _) = locate(&mut tx, scope, person).await?;
        let acc = load_accumulators(&mut tx, region, person, year).await?;
        tx.commit().await.map_err(backend)?;
        Ok(acc)
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
                    detail: row.try_get("detail").map_err(backend)?,
                    prev_hash: row.try_get("prev_hash").map_err(backend)?,
                    hash: row.try_get("hash").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn audit_regions(&self) -> Result<Vec<RegionCode>, StoreError> {
        let codes: Vec<String> =
            sqlx::query_scalar("SELECT region_code FROM audit_heads ORDER BY region_code").fetch_all(&self.pool).await.map_err(backend)?;
        codes.iter().map(|c| region_of(c)).collect()
    }
}

/// The inclusive range of region codes inside `scope`, as text.
pub(crate) fn scope_bounds(scope: RegionCode) -> (String, String) {
    let code = scope.get();
    match scope.level() {
        yibao_domain::RegionLevel::Province => (format!("{:06}", code), format!("{:06}", code + 9_999)),
        yibao_domain::RegionLevel::City => (format!("{:06}", code), format!("{:06}", code + 99)),
        yibao_domain::RegionLevel::County => (scope.to_string(), scope.to_string()),
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
        let mut tx = self.write().await?;
        let mut summary = yibao_store::ImportSummary::default();
        for entry in households {
            insert_household(&mut tx, actor, scope, entry.household).await?;
            summary.households += 1;
            for member in entry.members {
                insert_person(&mut tx, actor, scope, member).await?;
                summary.persons += 1;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(summary)
    }
}
