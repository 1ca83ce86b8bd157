//! Staff, sessions, institutions and contributions on PostgreSQL.
//!
//! Lists are ordered by byte value (`COLLATE "C"`), as SQLite orders text, whatever the
//! database's collation: the two backends return the same rows in the same order.

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use yibao_domain::{NationalId, RegionCode};
use yibao_store::{
    AccessStore, Actor, ContributionRecord, ContributionStore, CountyArrears, InstitutionRecord, InstitutionUpdate, NewContribution,
    NewInstitution, NewStaff, PersonArrears, ReceiptSource, SEARCH_LIMIT, SessionRecord, SignInRefusal, StaffRecord, StaffUpdate,
    StoreError,
};

use yibao_store::physician::{NewPhysician, PHYSICIANS_PER_INSTITUTION_MAX, PenaltyRules, PhysicianChange, PhysicianRecord};
use yibao_store::stored::{fen_of, institution_of, kind_of, level_of, name_of, period_of, role_of, time_of, time_text};

use crate::{Audits, PostgresStore, audit, backend, id_of, json, like_prefix, person_region, region_of, scope_bounds};

fn staff_from_row(row: &PgRow) -> Result<StaffRecord, StoreError> {
    Ok(StaffRecord {
        username: row.try_get("username").map_err(backend)?,
        display_name: row.try_get("display_name").map_err(backend)?,
        password_hash: row.try_get("password_hash").map_err(backend)?,
        role: role_of(row.try_get("role").map_err(backend)?)?,
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        active: row.try_get("active").map_err(backend)?,
    })
}

fn institution_from_row(row: &PgRow) -> Result<InstitutionRecord, StoreError> {
    Ok(InstitutionRecord {
        code: institution_of(&row.try_get::<String, _>("code").map_err(backend)?)?,
        name: row.try_get("name").map_err(backend)?,
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        level: level_of(row.try_get("level").map_err(backend)?)?,
        active: row.try_get("active").map_err(backend)?,
        level_changes: InstitutionRecord::parse_level_changes(row.try_get("level_changes").map_err(backend)?)?,
        agreement: yibao_store::agreement::AgreementBook::parse(row.try_get("agreement").map_err(backend)?)?,
    })
}

/// A physician row: code, institution_code, region_code, name, registered_on, book.
fn physician_from_row(row: &PgRow) -> Result<PhysicianRecord, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(backend);
    PhysicianRecord::from_columns(
        &text("code")?,
        &text("institution_code")?,
        &text("region_code")?,
        &text("name")?,
        &text("registered_on")?,
        &text("book")?,
    )
}

pub(crate) fn contribution_from_row(row: &PgRow) -> Result<ContributionRecord, StoreError> {
    Ok(ContributionRecord {
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        seq: row.try_get("seq").map_err(backend)?,
        person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
        kind: kind_of(row.try_get("kind").map_err(backend)?)?,
        period: period_of(row.try_get("period").map_err(backend)?)?,
        due_fen: fen_of(row.try_get("due_fen").map_err(backend)?)?,
        paid_fen: fen_of(row.try_get("paid_fen").map_err(backend)?)?,
        breakdown_json: row.try_get("breakdown").map_err(backend)?,
        recorded_at: time_of(row.try_get("recorded_at").map_err(backend)?)?,
    })
}

impl AccessStore for PostgresStore {
    async fn create_staff(&self, actor: &Actor, staff: NewStaff) -> Result<StaffRecord, StoreError> {
        staff.check()?;
        let mut tx = self.write().await?;
        // Refused if the account exists, or is created meanwhile by a concurrent request (this
        // insert waits for it to commit, then inserts nothing).
        let inserted = sqlx::query(
            "INSERT INTO staff (username, display_name, password_hash, role, region_code, active, created_at) VALUES ($1, $2, $3, $4, $5, TRUE, $6) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(&staff.username)
        .bind(&staff.display_name)
        .bind(&staff.password_hash)
        .bind(staff.role.as_str())
        .bind(staff.region.to_string())
        .bind(actor.at_text())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("staff account {}", staff.username)));
        }
        let record = StaffRecord {
            username: staff.username,
            display_name: staff.display_name,
            password_hash: staff.password_hash,
            role: staff.role,
            region: staff.region,
            active: true,
        };
        audit(&mut tx, actor, record.region, "staff.create", &record.username, json(&record)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn staff(&self, username: &str) -> Result<Option<StaffRecord>, StoreError> {
        let row = sqlx::query("SELECT username, display_name, password_hash, role, region_code, active FROM staff WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(staff_from_row).transpose()
    }

    async fn create_session(&self, actor: &Actor, token_hash: &str, username: &str, expires_at: OffsetDateTime) -> Result<(), StoreError> {
        let expires = time_text(expires_at)?;
        let mut tx = self.write().await?;
        let region: Option<String> = sqlx::query_scalar("SELECT region_code FROM staff WHERE username = $1 AND active")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let region = region_of(&region.ok_or_else(|| StoreError::Invalid(format!("no active staff account {username}")))?)?;
        sqlx::query("INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(username)
            .bind(actor.at_text())
            .bind(&expires)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, region, "session.create", username, format!("{{\"expires_at\":\"{expires}\"}}")).await?;
        tx.commit().await.map_err(backend)
    }

    async fn record_sign_in_refusal(&self, actor: &Actor, region: RegionCode, refusal: SignInRefusal) -> Result<(), StoreError> {
        refusal.check()?;
        let detail = refusal.detail()?;
        let mut tx = self.write().await?;
        audit(&mut tx, actor, region, refusal.outcome.action(), &refusal.username, detail).await?;
        tx.commit().await.map_err(backend)
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT s.username, s.expires_at, s.revoked_at, f.role, f.region_code, f.active FROM sessions s JOIN staff f ON f.username = s.username WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let expires: String = row.try_get("expires_at").map_err(backend)?;
        Ok(Some(SessionRecord {
            username: row.try_get("username").map_err(backend)?,
            role: role_of(row.try_get("role").map_err(backend)?)?,
            region: region_of(row.try_get("region_code").map_err(backend)?)?,
            expires_at: OffsetDateTime::parse(&expires, &Rfc3339).map_err(|e| StoreError::Backend(e.to_string()))?,
            revoked: row.try_get::<Option<String>, _>("revoked_at").map_err(backend)?.is_some(),
            active: row.try_get("active").map_err(backend)?,
        }))
    }

    async fn revoke_session(&self, actor: &Actor, token_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT s.username, f.region_code FROM sessions s JOIN staff f ON f.username = s.username WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some((username, region)) = found else { return Ok(()) };
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(actor.at_text())
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, region_of(&region)?, "session.revoke", &username, "{}".to_owned()).await?;
        tx.commit().await.map_err(backend)
    }

    async fn create_institution(&self, actor: &Actor, institution: NewInstitution) -> Result<InstitutionRecord, StoreError> {
        let mut tx = self.write().await?;
        let record = insert_institution(&mut tx, actor, institution, None).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn institution_by_key(&self, api_key_hash: &str) -> Result<Option<InstitutionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT code, name, region_code, level, active, level_changes, agreement FROM institutions WHERE api_key_hash = $1",
        )
        .bind(api_key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(institution_from_row).transpose()
    }

    async fn institutions(&self, scope: RegionCode) -> Result<Vec<InstitutionRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows = sqlx::query(
            "SELECT code, name, region_code, level, active, level_changes, agreement FROM institutions WHERE region_code BETWEEN $1 AND $2 \
             ORDER BY code COLLATE \"C\" LIMIT $3",
        )
        .bind(low)
        .bind(high)
        .bind(yibao_store::INSTITUTIONS_LIMIT)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(institution_from_row).collect()
    }

    async fn register_physician(&self, actor: &Actor, scope: RegionCode, physician: NewPhysician) -> Result<PhysicianRecord, StoreError> {
        let mut tx = self.write().await?;
        // The institution locked while its physicians are counted and one is added.
        let row = sqlx::query(
            "SELECT code, name, region_code, level, active, level_changes, agreement FROM institutions WHERE code = $1 FOR UPDATE",
        )
        .bind(physician.institution.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let institution = row
            .as_ref()
            .map(institution_from_row)
            .transpose()?
            .filter(|institution| scope.contains(institution.region))
            .ok_or_else(|| StoreError::InstitutionNotFound(physician.institution.to_string()))?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM physicians WHERE institution_code = $1")
            .bind(physician.institution.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        if count >= PHYSICIANS_PER_INSTITUTION_MAX {
            return Err(StoreError::Invalid(format!("an institution registers at most {PHYSICIANS_PER_INSTITUTION_MAX} physicians")));
        }
        let record = PhysicianRecord::new(physician, institution.region);
        let inserted = sqlx::query(
            "INSERT INTO physicians (code, institution_code, region_code, name, registered_on, book) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(record.code.as_str())
        .bind(record.institution.as_str())
        .bind(record.region.to_string())
        .bind(record.name.as_str())
        .bind(record.registered_on.to_string())
        .bind(record.book.to_json()?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("physician {}", record.code)));
        }
        audit(&mut tx, actor, record.region, "physician.register", &record.code, json(&record)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn physician(&self, code: &str) -> Result<Option<PhysicianRecord>, StoreError> {
        let row = sqlx::query("SELECT code, institution_code, region_code, name, registered_on, book FROM physicians WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(physician_from_row).transpose()
    }

    async fn physicians_of(&self, scope: RegionCode, institution: &str) -> Result<Vec<PhysicianRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows = sqlx::query(
            "SELECT code, institution_code, region_code, name, registered_on, book FROM physicians \
             WHERE institution_code = $1 AND region_code BETWEEN $2 AND $3 ORDER BY code COLLATE \"C\" LIMIT $4",
        )
        .bind(institution)
        .bind(low)
        .bind(high)
        .bind(PHYSICIANS_PER_INSTITUTION_MAX)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(physician_from_row).collect()
    }

    async fn update_physician(
        &self,
        actor: &Actor,
        scope: RegionCode,
        code: &str,
        change: PhysicianChange,
        rules: PenaltyRules,
    ) -> Result<PhysicianRecord, StoreError> {
        let mut tx = self.write().await?;
        let row =
            sqlx::query("SELECT code, institution_code, region_code, name, registered_on, book FROM physicians WHERE code = $1 FOR UPDATE")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let mut record = row
            .as_ref()
            .map(physician_from_row)
            .transpose()?
            .filter(|physician| scope.contains(physician.region))
            .ok_or_else(|| StoreError::PhysicianNotFound(code.to_owned()))?;
        let detail = record.book.apply(&change, rules, record.registered_on)?;
        sqlx::query("UPDATE physicians SET book = $1 WHERE code = $2")
            .bind(record.book.to_json()?)
            .bind(code)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, record.region, "physician.update", code, detail.to_string()).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn staff_in(&self, scope: RegionCode) -> Result<Vec<StaffRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows = sqlx::query(
            "SELECT username, display_name, password_hash, role, region_code, active FROM staff WHERE region_code BETWEEN $1 AND $2 \
             ORDER BY username COLLATE \"C\" LIMIT $3",
        )
        .bind(low)
        .bind(high)
        .bind(SEARCH_LIMIT)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(staff_from_row).collect()
    }

    async fn update_staff(&self, actor: &Actor, scope: RegionCode, username: &str, update: StaffUpdate) -> Result<StaffRecord, StoreError> {
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT username, display_name, password_hash, role, region_code, active FROM staff WHERE username = $1 FOR UPDATE",
        )
        .bind(username)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let mut record = row
            .as_ref()
            .map(staff_from_row)
            .transpose()?
            .filter(|staff| scope.contains(staff.region))
            .ok_or_else(|| StoreError::StaffNotFound(username.to_owned()))?;
        let (detail, ends_sessions) = update.apply(scope, &mut record)?;
        sqlx::query("UPDATE staff SET display_name = $1, password_hash = $2, role = $3, region_code = $4, active = $5 WHERE username = $6")
            .bind(&record.display_name)
            .bind(&record.password_hash)
            .bind(record.role.as_str())
            .bind(record.region.to_string())
            .bind(record.active)
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if ends_sessions {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE username = $2 AND revoked_at IS NULL")
                .bind(actor.at_text())
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        audit(&mut tx, actor, record.region, "staff.update", username, detail).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn update_institution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        code: &str,
        update: InstitutionUpdate,
    ) -> Result<InstitutionRecord, StoreError> {
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT code, name, region_code, level, active, level_changes, agreement FROM institutions WHERE code = $1 FOR UPDATE",
        )
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let mut record = row
            .as_ref()
            .map(institution_from_row)
            .transpose()?
            .filter(|institution| scope.contains(institution.region))
            .ok_or_else(|| StoreError::InstitutionNotFound(code.to_owned()))?;
        let detail = update.apply(scope, &mut record)?;
        sqlx::query(
            "UPDATE institutions SET name = $1, level = $2, active = $3, api_key_hash = COALESCE($4, api_key_hash), level_changes = $5, agreement = $6 WHERE code = $7",
        )
        .bind(&record.name)
        .bind(record.level.as_str())
        .bind(record.active)
        .bind(&update.api_key_hash)
        .bind(record.level_changes_json()?)
        .bind(record.agreement.to_json()?)
        .bind(code)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        audit(&mut tx, actor, record.region, "institution.update", code, detail).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }
}

/// Per person, kind and period in scope (`$1`..`$2`) and matching the period pattern (`$3`):
/// what was due less what was paid, where positive. Every contribution's person exists (a
/// foreign key), so the persons' names are joined afterwards.
const OWED: &str = "SELECT c.region_code, c.person_id, c.kind, c.period, (MAX(c.due_fen) - SUM(c.paid_fen))::bigint AS owed \
     FROM contributions c WHERE c.region_code BETWEEN $1 AND $2 AND c.period LIKE $3 ESCAPE '\\' \
     GROUP BY c.region_code, c.person_id, c.kind, c.period HAVING MAX(c.due_fen) - SUM(c.paid_fen) > 0";

impl ContributionStore for PostgresStore {
    async fn record_contribution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contribution: NewContribution,
    ) -> Result<ContributionRecord, StoreError> {
        let mut tx = self.write().await?;
        // The counter first, as a batch takes it, then the person's row.
        lock_counters(&mut tx, std::slice::from_ref(&contribution)).await?;
        crate::employer::check_not_declared(&mut tx, &contribution).await?;
        crate::arrears::check_not_in_plan(&mut tx, &contribution.person_id, contribution.kind, contribution.period, true).await?;
        let mut audits = Audits::default();
        let record = insert_contribution(&mut tx, actor, scope, contribution, &mut audits, false).await?;
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn record_receipted_contribution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contribution: NewContribution,
        receipt: String,
    ) -> Result<ContributionRecord, StoreError> {
        let mut tx = self.write().await?;
        // The counter first, as a recording takes it: two sends of one receipt at once wait
        // for each other here, and the second finds the first's receipt.
        lock_counters(&mut tx, std::slice::from_ref(&contribution)).await?;
        // The person is the caller's: the record a receipt made may be booked in a county
        // the person has since left (a period stays where it began).
        person_region(&mut tx, scope, &contribution.person_id).await?;
        if let Some(earlier) = receipt_recorded(&mut tx, &contribution.person_id, &receipt).await? {
            return match earlier {
                (ReceiptSource::Counter, Some((region, seq))) => {
                    let row = sqlx::query(
                        "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
                         WHERE region_code = $1 AND seq = $2",
                    )
                    .bind(&region)
                    .bind(seq)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::Backend(format!("receipt {receipt} names no record")))?;
                    yibao_store::replayed_receipt(contribution_from_row(&row)?, &contribution, &receipt)
                }
                _ => Err(yibao_store::receipt_of_plan(&receipt)),
            };
        }
        crate::employer::check_not_declared(&mut tx, &contribution).await?;
        crate::arrears::check_not_in_plan(&mut tx, &contribution.person_id, contribution.kind, contribution.period, true).await?;
        let mut audits = Audits::default();
        let record = insert_contribution(&mut tx, actor, scope, contribution, &mut audits, false).await?;
        // A plan's payment of another period may have taken the receipt meanwhile (it locks
        // other counters): the row is refused then, and this recording with it.
        let taken = sqlx::query(
            "INSERT INTO contribution_receipts (person_id, receipt, source, region_code, seq) VALUES ($1, $2, 'counter', $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(record.person_id.as_str())
        .bind(&receipt)
        .bind(record.region.to_string())
        .bind(record.seq)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if taken.rows_affected() == 0 {
            return Err(yibao_store::receipt_of_plan(&receipt));
        }
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn record_contributions(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contributions: Vec<NewContribution>,
    ) -> Result<usize, StoreError> {
        if contributions.len() > yibao_store::IMPORT_LIMIT {
            return Err(StoreError::Invalid(format!("a batch carries at most {} contributions", yibao_store::IMPORT_LIMIT)));
        }
        let mut tx = self.write().await?;
        lock_counters(&mut tx, &contributions).await?;
        let mut audits = Audits::default();
        let count = contributions.len();
        // Persons' rows in ascending order, as the settlement writer takes them.
        let mut contributions = contributions;
        contributions.sort_by(|a, b| a.person_id.as_str().cmp(b.person_id.as_str()));
        for contribution in contributions {
            crate::employer::check_not_declared(&mut tx, &contribution).await?;
            crate::arrears::check_not_in_plan(&mut tx, &contribution.person_id, contribution.kind, contribution.period, true).await?;
            insert_contribution(&mut tx, actor, scope, contribution, &mut audits, false).await?;
        }
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(count)
    }

    async fn contributions_of(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<ContributionRecord>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let region = person_region(&mut tx, scope, person).await?;
        let record = crate::load_person(&mut tx, region, person, false).await?;
        // Every county the person was insured in, inside the scope: a period's records stay
        // where it began (R-ENR-5).
        let regions: Vec<String> = yibao_store::regions_of(&record.coverage, &record.history)
            .into_iter()
            .filter(|region| scope.contains(*region))
            .map(|region| region.to_string())
            .collect();
        let rows = sqlx::query(
            "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
             WHERE region_code = ANY($1) AND person_id = $2 ORDER BY period COLLATE \"C\" DESC, seq DESC LIMIT $3",
        )
        .bind(regions)
        .bind(person.as_str())
        .bind(SEARCH_LIMIT)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        rows.iter().map(contribution_from_row).collect()
    }

    async fn arrears(&self, scope: RegionCode, period: &str, limit: usize) -> Result<(Vec<PersonArrears>, Vec<CountyArrears>), StoreError> {
        let (low, high) = scope_bounds(scope);
        // As on SQLite: '%' and '_' are dropped from the prefix; anything else matches itself.
        let pattern = format!("{}%", like_prefix(&period.replace(['%', '_'], "")));
        // The persons (the first `limit`) and the counties' totals (over all of them)
        // are read from one snapshot, so they agree.
        let mut tx = self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(backend)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT o.region_code, o.person_id, p.name, o.kind, o.period, o.owed FROM ({OWED}) o \
             JOIN persons p ON p.region_code = o.region_code AND p.person_id = o.person_id \
             ORDER BY o.region_code COLLATE \"C\", o.owed DESC, o.person_id COLLATE \"C\", o.kind COLLATE \"C\", o.period COLLATE \"C\" LIMIT $4"
        )))
        .bind(&low)
        .bind(&high)
        .bind(&pattern)
        .bind(i64::try_from(limit.min(yibao_store::ARREARS_LINES_MAX)).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let totals = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT o.region_code, COUNT(*) AS persons, SUM(o.owed)::bigint AS owed FROM ({OWED}) o \
             GROUP BY o.region_code ORDER BY o.region_code COLLATE \"C\""
        )))
        .bind(&low)
        .bind(&high)
        .bind(&pattern)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let persons = rows
            .iter()
            .map(|row| {
                Ok(PersonArrears {
                    person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
                    name: name_of(&row.try_get::<String, _>("name").map_err(backend)?)?,
                    region: region_of(row.try_get("region_code").map_err(backend)?)?,
                    kind: kind_of(row.try_get("kind").map_err(backend)?)?,
                    period: period_of(row.try_get("period").map_err(backend)?)?,
                    owed_fen: fen_of(row.try_get("owed").map_err(backend)?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let counties = totals
            .iter()
            .map(|row| {
                Ok(CountyArrears {
                    region: region_of(row.try_get("region_code").map_err(backend)?)?,
                    persons: row.try_get("persons").map_err(backend)?,
                    owed_fen: fen_of(row.try_get("owed").map_err(backend)?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((persons, counties))
    }
}

/// Locks, in ascending order, the contribution counters of every county the batch's persons
/// have a row in (where they are insured now, and where they were: a period's records stay
/// in the county its first was booked in, R-ENR-5), so that two batches spanning the same
/// counties never wait on each other in a cycle. [`insert_contribution`] then finds its
/// counter locked by its own transaction.
pub(crate) async fn lock_counters(tx: &mut Transaction<'static, Postgres>, contributions: &[NewContribution]) -> Result<(), StoreError> {
    let persons: Vec<String> = contributions.iter().map(|c| c.person_id.to_string()).collect();
    lock_person_counters(tx, &persons).await
}

/// [`lock_counters`] for the contributions of `persons`, before they are known.
pub(crate) async fn lock_person_counters(tx: &mut Transaction<'static, Postgres>, persons: &[String]) -> Result<(), StoreError> {
    let regions: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT region_code FROM persons WHERE person_id = ANY($1) ORDER BY region_code")
            .bind(persons)
            .fetch_all(&mut **tx)
            .await
            .map_err(backend)?;
    for region in regions {
        sqlx::query("INSERT INTO contribution_seqs (region_code, seq) VALUES ($1, 0) ON CONFLICT (region_code) DO NOTHING")
            .bind(&region)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        sqlx::query("SELECT seq FROM contribution_seqs WHERE region_code = $1 FOR UPDATE")
            .bind(&region)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// Records one contribution inside `tx`, and queues its audit entry in `audits`.
///
/// The region's number comes from its counter row, incremented in the same statement that
/// locks it until `tx` ends: concurrent recorders in one region take 1, 2, 3… one after
/// the other, and a rolled-back recording gives its number back. (Taking the audit head
/// first instead would deadlock: the contribution's foreign key takes a `KEY SHARE` lock on
/// the person's row, which waits for a settlement or tier change holding that row while it
/// waits for the head.)
///
/// A `migrated` one (a legacy system's record, issue 16) posts nothing and credits no
/// account: its money came with the fund's handed-over balance (`contribution.migrate`).
pub(crate) async fn insert_contribution(
    tx: &mut Transaction<'static, Postgres>,
    actor: &Actor,
    scope: RegionCode,
    contribution: NewContribution,
    audits: &mut Audits,
    migrated: bool,
) -> Result<ContributionRecord, StoreError> {
    if contribution.due_fen.is_negative() || contribution.paid_fen.is_negative() {
        return Err(StoreError::Invalid("amounts may not be negative".into()));
    }
    let current_region = person_region(tx, scope, &contribution.person_id).await?;
    // The person's row (after the region's counter, before the accounts): concurrent
    // payments for one period are counted one after the other, so exactly one completes it.
    let person = crate::load_person(tx, current_region, &contribution.person_id, true).await?;
    if person_region(tx, scope, &contribution.person_id).await? != current_region {
        return Err(yibao_store::moved_meanwhile(&contribution.person_id));
    }
    // A period's records are one chain, booked in the county where its first was, however
    // the person moved since (R-ENR-5): a payment completes what the earlier ones began.
    let regions: Vec<String> = yibao_store::regions_of(&person.coverage, &person.history).iter().map(ToString::to_string).collect();
    let booked: Option<String> = sqlx::query_scalar(
        "SELECT region_code FROM contributions WHERE region_code = ANY($1) AND person_id = $2 AND kind = $3 AND period = $4 LIMIT 1",
    )
    .bind(regions)
    .bind(contribution.person_id.as_str())
    .bind(contribution.kind.as_str())
    .bind(contribution.period.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    let region = booked.as_deref().map(region_of).transpose()?.unwrap_or(current_region);
    let (count, paid_sum, due_max): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(paid_fen), 0)::int8, COALESCE(MAX(due_fen), 0)::int8 FROM contributions \
         WHERE region_code = $1 AND person_id = $2 AND kind = $3 AND period = $4",
    )
    .bind(region.to_string())
    .bind(contribution.person_id.as_str())
    .bind(contribution.kind.as_str())
    .bind(contribution.period.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    let paid_before = (count > 0).then_some(yibao_store::books::PaidBefore { paid_fen: paid_sum, due_fen: due_max });
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO contribution_seqs (region_code, seq) VALUES ($1, 1) ON CONFLICT (region_code) DO UPDATE SET seq = contribution_seqs.seq + 1 RETURNING seq",
    )
    .bind(region.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    let record = ContributionRecord {
        region,
        seq,
        person_id: contribution.person_id,
        kind: contribution.kind,
        period: contribution.period,
        due_fen: contribution.due_fen,
        paid_fen: contribution.paid_fen,
        breakdown_json: contribution.breakdown_json,
        recorded_at: actor.at,
    };
    sqlx::query("INSERT INTO contributions (region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at, migrated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(region.to_string())
        .bind(seq)
        .bind(record.person_id.as_str())
        .bind(record.kind.as_str())
        .bind(record.period.to_string())
        .bind(record.due_fen.get())
        .bind(record.paid_fen.get())
        .bind(&record.breakdown_json)
        .bind(time_text(record.recorded_at)?)
        .bind(migrated)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    let entries = yibao_store::books::contribution_entries(&record, paid_before, actor.at.date())?;
    if migrated {
        // The rules of a payment (one bill per period, never paid beyond it) hold for a
        // legacy record too; what it would post is not posted.
        audits.push(region, "contribution.migrate", record.person_id.as_str(), json(&record)?);
        return Ok(record);
    }
    let credited: yibao_domain::Fen =
        entries.iter().filter(|e| e.transfer.reason == yibao_ledger::Reason::PersonalAccountCredit).map(|e| e.transfer.amount_fen).sum();
    if !credited.is_zero() {
        // The account is where the person is insured now.
        let mut coverage = person.coverage;
        coverage.personal_account_balance += credited;
        crate::save_coverage(tx, actor, current_region, &record.person_id, &coverage).await?;
    }
    crate::books::post(tx, &actor.at_text(), &entries).await?;
    audits.push(region, "contribution.record", record.person_id.as_str(), json(&record)?);
    Ok(record)
}

/// Designates an institution in `tx`: refused if the code exists, or is created meanwhile
/// (as for staff accounts); an API key hash already in use fails on its unique constraint,
/// as on SQLite. Audited with the migration that brought it, when one did.
pub(crate) async fn insert_institution(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    actor: &Actor,
    institution: NewInstitution,
    migration: Option<&str>,
) -> Result<InstitutionRecord, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO institutions (code, name, region_code, level, api_key_hash, active, created_at) VALUES ($1, $2, $3, $4, $5, TRUE, $6) \
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(institution.code.as_str())
    .bind(&institution.name)
    .bind(institution.region.to_string())
    .bind(institution.level.as_str())
    .bind(&institution.api_key_hash)
    .bind(actor.at_text())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::Exists(format!("institution {}", institution.code)));
    }
    let record = InstitutionRecord::designated(institution);
    let detail = yibao_store::migration::audit_detail(&record, migration)?;
    audit(tx, actor, record.region, "institution.create", &record.code, detail).await?;
    Ok(record)
}

/// Where a person's receipt was recorded, if it was: the path, and a counter payment's record
/// (region, seq).
pub(crate) async fn receipt_recorded(
    tx: &mut sqlx::PgConnection,
    person: &NationalId,
    receipt: &str,
) -> Result<Option<yibao_store::RecordedReceipt>, StoreError> {
    let row: Option<(String, Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT source, region_code, seq FROM contribution_receipts WHERE person_id = $1 AND receipt = $2")
            .bind(person.as_str())
            .bind(receipt)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    row.map(|(source, region, seq)| Ok((ReceiptSource::parse(&source)?, region.zip(seq)))).transpose()
}
