//! Staff, sessions, institutions and contributions on SQLite.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use yibao_domain::{InstitutionLevel, NationalId, RegionCode};
use yibao_store::{
    AccessStore, Actor, ContributionKind, ContributionRecord, ContributionStore, CountyArrears, InstitutionRecord, NewContribution,
    NewInstitution, NewStaff, PersonArrears, Role, SEARCH_LIMIT, SessionRecord, StaffRecord, StoreError, check_scope,
};

use crate::{SqliteStore, audit, backend, id_of, json, locate, region_of, scope_bounds};

fn role_of(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown role {text}")))
}

fn level_of(text: &str) -> Result<InstitutionLevel, StoreError> {
    InstitutionLevel::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown level {text}")))
}

fn time_text(at: OffsetDateTime) -> Result<String, StoreError> {
    at.format(&Rfc3339).map_err(|e| StoreError::Backend(e.to_string()))
}

fn staff_from_row(row: &SqliteRow) -> Result<StaffRecord, StoreError> {
    Ok(StaffRecord {
        username: row.try_get("username").map_err(backend)?,
        display_name: row.try_get("display_name").map_err(backend)?,
        password_hash: row.try_get("password_hash").map_err(backend)?,
        role: role_of(row.try_get("role").map_err(backend)?)?,
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        active: row.try_get::<i64, _>("active").map_err(backend)? != 0,
    })
}

fn institution_from_row(row: &SqliteRow) -> Result<InstitutionRecord, StoreError> {
    Ok(InstitutionRecord {
        code: row.try_get("code").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        level: level_of(row.try_get("level").map_err(backend)?)?,
        active: row.try_get::<i64, _>("active").map_err(backend)? != 0,
    })
}

fn contribution_from_row(row: &SqliteRow) -> Result<ContributionRecord, StoreError> {
    let kind: String = row.try_get("kind").map_err(backend)?;
    Ok(ContributionRecord {
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        seq: row.try_get("seq").map_err(backend)?,
        person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
        kind: ContributionKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("unknown kind {kind}")))?,
        period: row.try_get("period").map_err(backend)?,
        due_fen: row.try_get("due_fen").map_err(backend)?,
        paid_fen: row.try_get("paid_fen").map_err(backend)?,
        breakdown_json: row.try_get("breakdown").map_err(backend)?,
        recorded_at: row.try_get("recorded_at").map_err(backend)?,
    })
}

impl AccessStore for SqliteStore {
    async fn create_staff(&self, actor: &Actor, staff: NewStaff) -> Result<StaffRecord, StoreError> {
        if staff.username.is_empty()
            || staff.username.len() > 64
            || !staff.username.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(StoreError::Invalid("a username has 1 to 64 letters, digits, '-', '_' or '.'".into()));
        }
        let mut tx = self.write().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM staff WHERE username = $1")
            .bind(&staff.username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if exists.is_some() {
            return Err(StoreError::Exists(format!("staff account {}", staff.username)));
        }
        sqlx::query("INSERT INTO staff (username, display_name, password_hash, role, region_code, active, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6)")
            .bind(&staff.username)
            .bind(&staff.display_name)
            .bind(&staff.password_hash)
            .bind(staff.role.as_str())
            .bind(staff.region.to_string())
            .bind(actor.at_text())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
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
        let mut tx = self.write().await?;
        let region: Option<String> = sqlx::query_scalar("SELECT region_code FROM staff WHERE username = $1 AND active = 1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let region = region_of(&region.ok_or_else(|| StoreError::Invalid(format!("no active staff account {username}")))?)?;
        sqlx::query("INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(username)
            .bind(actor.at_text())
            .bind(time_text(expires_at)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, region, "session.create", username, format!("{{\"expires_at\":\"{}\"}}", time_text(expires_at)?)).await?;
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
            active: row.try_get::<i64, _>("active").map_err(backend)? != 0,
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
        let code = institution.code.as_bytes();
        if code.len() != 12 || !matches!(code[0], b'H' | b'P') || !code[1..].iter().all(u8::is_ascii_digit) {
            return Err(StoreError::Invalid(format!(
                "'{}' is not a designated institution code: 'H' or 'P', 6-digit region, 5-digit serial",
                institution.code
            )));
        }
        let mut tx = self.write().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM institutions WHERE code = $1")
            .bind(&institution.code)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if exists.is_some() {
            return Err(StoreError::Exists(format!("institution {}", institution.code)));
        }
        sqlx::query("INSERT INTO institutions (code, name, region_code, level, api_key_hash, active, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6)")
            .bind(&institution.code)
            .bind(&institution.name)
            .bind(institution.region.to_string())
            .bind(institution.level.as_str())
            .bind(&institution.api_key_hash)
            .bind(actor.at_text())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let record = InstitutionRecord {
            code: institution.code,
            name: institution.name,
            region: institution.region,
            level: institution.level,
            active: true,
        };
        audit(&mut tx, actor, record.region, "institution.create", &record.code, json(&record)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn institution_by_key(&self, api_key_hash: &str) -> Result<Option<InstitutionRecord>, StoreError> {
        let row = sqlx::query("SELECT code, name, region_code, level, active FROM institutions WHERE api_key_hash = $1")
            .bind(api_key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(institution_from_row).transpose()
    }

    async fn institutions(&self, scope: RegionCode) -> Result<Vec<InstitutionRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows = sqlx::query(
            "SELECT code, name, region_code, level, active FROM institutions WHERE region_code BETWEEN $1 AND $2 ORDER BY code LIMIT $3",
        )
        .bind(low)
        .bind(high)
        .bind(SEARCH_LIMIT)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(institution_from_row).collect()
    }
}

impl ContributionStore for SqliteStore {
    async fn record_contribution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contribution: NewContribution,
    ) -> Result<ContributionRecord, StoreError> {
        let mut tx = self.write().await?;
        let record = insert_contribution(&mut tx, actor, scope, contribution).await?;
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
        let count = contributions.len();
        for contribution in contributions {
            insert_contribution(&mut tx, actor, scope, contribution).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(count)
    }

    async fn contributions_of(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<ContributionRecord>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let (region, _) = locate(&mut tx, scope, person).await?;
        let rows = sqlx::query("SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions WHERE region_code = $1 AND person_id = $2 ORDER BY period DESC, seq DESC LIMIT $3")
            .bind(region.to_string())
            .bind(person.as_str())
            .bind(SEARCH_LIMIT)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        rows.iter().map(contribution_from_row).collect()
    }

    async fn arrears(&self, scope: RegionCode, period: &str) -> Result<(Vec<PersonArrears>, Vec<CountyArrears>), StoreError> {
        let (low, high) = scope_bounds(scope);
        let like = format!("{}%", period.replace(['%', '_'], ""));
        // Per person, kind and period: what was due less what was paid, where positive.
        let rows = sqlx::query(
            "SELECT c.region_code, c.person_id, p.name, c.kind, c.period, MAX(c.due_fen) - SUM(c.paid_fen) AS owed \
             FROM contributions c JOIN persons p ON p.region_code = c.region_code AND p.person_id = c.person_id \
             WHERE c.region_code BETWEEN $1 AND $2 AND c.period LIKE $3 \
             GROUP BY c.region_code, c.person_id, p.name, c.kind, c.period HAVING MAX(c.due_fen) - SUM(c.paid_fen) > 0 \
             ORDER BY c.region_code, owed DESC, c.person_id, c.kind, c.period",
        )
        .bind(&low)
        .bind(&high)
        .bind(&like)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut persons = Vec::with_capacity(rows.len());
        let mut counties: Vec<CountyArrears> = Vec::new();
        for row in &rows {
            let kind: String = row.try_get("kind").map_err(backend)?;
            let entry = PersonArrears {
                region: region_of(row.try_get("region_code").map_err(backend)?)?,
                person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
                name: row.try_get("name").map_err(backend)?,
                kind: ContributionKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("unknown kind {kind}")))?,
                period: row.try_get("period").map_err(backend)?,
                owed_fen: row.try_get("owed").map_err(backend)?,
            };
            match counties.last_mut() {
                Some(county) if county.region == entry.region => {
                    county.persons += 1;
                    county.owed_fen += entry.owed_fen;
                }
                _ => counties.push(CountyArrears { region: entry.region, persons: 1, owed_fen: entry.owed_fen }),
            }
            persons.push(entry);
        }
        persons.truncate(usize::try_from(SEARCH_LIMIT).unwrap_or(200));
        Ok((persons, counties))
    }
}

/// Records one contribution inside `tx`, with its audit entry.
pub(crate) async fn insert_contribution(
    tx: &mut Transaction<'static, Sqlite>,
    actor: &Actor,
    scope: RegionCode,
    contribution: NewContribution,
) -> Result<ContributionRecord, StoreError> {
    let period_ok = matches!(contribution.period.len(), 4 | 7)
        && contribution.period.bytes().enumerate().all(|(i, b)| if i == 4 { b == b'-' } else { b.is_ascii_digit() });
    if !period_ok {
        return Err(StoreError::Invalid(format!("'{}' is not a period: YYYY or YYYY-MM", contribution.period)));
    }
    if contribution.due_fen < 0 || contribution.paid_fen < 0 {
        return Err(StoreError::Invalid("amounts may not be negative".into()));
    }
    let (region, _) = locate(tx, scope, &contribution.person_id).await?;
    check_scope(scope, region)?;
    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM contributions WHERE region_code = $1")
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
        recorded_at: actor.at_text(),
    };
    sqlx::query("INSERT INTO contributions (region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(region.to_string())
        .bind(seq)
        .bind(record.person_id.as_str())
        .bind(record.kind.as_str())
        .bind(&record.period)
        .bind(record.due_fen)
        .bind(record.paid_fen)
        .bind(&record.breakdown_json)
        .bind(&record.recorded_at)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    audit(tx, actor, region, "contribution.record", record.person_id.as_str(), json(&record)?).await?;
    Ok(record)
}
