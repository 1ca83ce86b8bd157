//! Policy pack versions on PostgreSQL (issue 19). Every write takes the table's lock first,
//! so that two proposals made at once get consecutive numbers, and a decision reads the
//! version in force as no other decision can change it until it commits.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use yibao_domain::RegionCode;
use yibao_store::{Actor, NewPolicyVersion, POLICY_VERSIONS_LIMIT, PolicyDecision, PolicyStatus, PolicyStore, PolicyVersion, StoreError};

use crate::{PostgresStore, audit, backend, json};

const COLUMNS: &str = "version, pack_id, sha256, note, based_on, status, proposed_by, proposed_at, decided_by, decided_at, decision_note";
const LOCK: &str = "LOCK TABLE policy_versions IN SHARE ROW EXCLUSIVE MODE";

fn number(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Backend("a policy version number is out of range".into()))
}

fn version_from_row(row: &PgRow) -> Result<PolicyVersion, StoreError> {
    let get = |name: &str| row.try_get::<String, _>(name).map_err(backend);
    let maybe = |name: &str| row.try_get::<Option<String>, _>(name).map_err(backend);
    Ok(PolicyVersion {
        version: number(row.try_get("version").map_err(backend)?)?,
        pack_id: get("pack_id")?,
        sha256: get("sha256")?,
        note: get("note")?,
        based_on: row.try_get::<Option<i64>, _>("based_on").map_err(backend)?.map(number).transpose()?,
        status: PolicyStatus::parse(&get("status")?)?,
        proposed_by: get("proposed_by")?,
        proposed_at: get("proposed_at")?,
        decided_by: maybe("decided_by")?,
        decided_at: maybe("decided_at")?,
        decision_note: maybe("decision_note")?,
    })
}

fn with_text(row: &PgRow) -> Result<(PolicyVersion, String), StoreError> {
    Ok((version_from_row(row)?, row.try_get("text").map_err(backend)?))
}

async fn in_force_number(conn: &mut PgConnection) -> Result<Option<u32>, StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM policy_versions WHERE status = 'approved'")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
    found.map(number).transpose()
}

impl PostgresStore {
    async fn record_policy(
        &self,
        actor: &Actor,
        city: RegionCode,
        new: NewPolicyVersion,
        installed: bool,
    ) -> Result<PolicyVersion, StoreError> {
        new.check()?;
        let mut tx = self.write().await?;
        sqlx::query(LOCK).execute(&mut *tx).await.map_err(backend)?;
        let latest: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM policy_versions").fetch_one(&mut *tx).await.map_err(backend)?;
        if installed && latest.is_some() {
            return Err(StoreError::Exists("a policy pack version (the first is installed once)".into()));
        }
        let next = number(latest.unwrap_or(0) + 1).map_err(|_| StoreError::Invalid("too many policy versions".into()))?;
        let version = PolicyVersion::new(next, actor, &new, installed);
        sqlx::query(
            "INSERT INTO policy_versions (version, pack_id, sha256, text, note, based_on, status, proposed_by, proposed_at, decided_by, decided_at, decision_note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(i64::from(version.version))
        .bind(&version.pack_id)
        .bind(&version.sha256)
        .bind(&new.text)
        .bind(&version.note)
        .bind(version.based_on.map(i64::from))
        .bind(version.status.as_str())
        .bind(&version.proposed_by)
        .bind(&version.proposed_at)
        .bind(&version.decided_by)
        .bind(&version.decided_at)
        .bind(&version.decision_note)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let action = if installed { "policy.install" } else { version.audit_action() };
        audit(&mut tx, actor, city, action, &version.version.to_string(), json(&version)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(version)
    }
}

impl PolicyStore for PostgresStore {
    async fn propose_policy(&self, actor: &Actor, city: RegionCode, new: NewPolicyVersion) -> Result<PolicyVersion, StoreError> {
        self.record_policy(actor, city, new, false).await
    }

    async fn install_policy(&self, actor: &Actor, city: RegionCode, new: NewPolicyVersion) -> Result<PolicyVersion, StoreError> {
        self.record_policy(actor, city, new, true).await
    }

    async fn decide_policy(
        &self,
        actor: &Actor,
        city: RegionCode,
        version: u32,
        decision: PolicyDecision,
        note: &str,
    ) -> Result<PolicyVersion, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(LOCK).execute(&mut *tx).await.map_err(backend)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM policy_versions WHERE version = $1")))
            .bind(i64::from(version))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let mut stored = row.as_ref().map(version_from_row).transpose()?.ok_or(StoreError::PolicyVersionNotFound(version))?;
        stored.decide(actor, in_force_number(&mut tx).await?, decision, note)?;
        sqlx::query(
            "UPDATE policy_versions SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 WHERE version = $5 AND status = 'proposed'",
        )
        .bind(stored.status.as_str())
        .bind(&stored.decided_by)
        .bind(&stored.decided_at)
        .bind(&stored.decision_note)
        .bind(i64::from(version))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        audit(&mut tx, actor, city, stored.audit_action(), &version.to_string(), json(&stored)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(stored)
    }

    async fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM policy_versions ORDER BY version DESC LIMIT $1")))
            .bind(i64::from(POLICY_VERSIONS_LIMIT))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(version_from_row).collect()
    }

    async fn policy_version(&self, version: u32) -> Result<Option<(PolicyVersion, String)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS}, text FROM policy_versions WHERE version = $1")))
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(with_text).transpose()
    }

    async fn policy_in_force(&self) -> Result<Option<(PolicyVersion, String)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, text FROM policy_versions WHERE status = 'approved' ORDER BY version DESC LIMIT 1"
        )))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(with_text).transpose()
    }

    async fn policy_in_force_number(&self) -> Result<Option<u32>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        in_force_number(&mut conn).await
    }
}
