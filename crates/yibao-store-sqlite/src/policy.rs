//! Policy pack versions on SQLite (issue 19).

use rusqlite::{Connection, Row, params};
use yibao_domain::RegionCode;
use yibao_store::{Actor, NewPolicyVersion, POLICY_VERSIONS_LIMIT, PolicyDecision, PolicyStatus, PolicyStore, PolicyVersion, StoreError};

use crate::{SqliteStore, audit, col, exec, json, query_all, query_opt};

const COLUMNS: &str = "version, pack_id, sha256, note, based_on, status, proposed_by, proposed_at, decided_by, decided_at, decision_note";

fn version_from_row(row: &Row<'_>) -> Result<PolicyVersion, StoreError> {
    let number = |index| -> Result<u32, StoreError> {
        u32::try_from(col::<i64>(row, index)?).map_err(|_| StoreError::Backend("a policy version number is out of range".into()))
    };
    Ok(PolicyVersion {
        version: number(0)?,
        pack_id: col(row, 1)?,
        sha256: col(row, 2)?,
        note: col(row, 3)?,
        based_on: col::<Option<i64>>(row, 4)?.map(|_| number(4)).transpose()?,
        status: PolicyStatus::parse(&col::<String>(row, 5)?)?,
        proposed_by: col(row, 6)?,
        proposed_at: col(row, 7)?,
        decided_by: col(row, 8)?,
        decided_at: col(row, 9)?,
        decision_note: col(row, 10)?,
    })
}

fn with_text(row: &Row<'_>) -> Result<(PolicyVersion, String), StoreError> {
    Ok((version_from_row(row)?, col(row, 11)?))
}

fn in_force_number(conn: &Connection) -> Result<Option<u32>, StoreError> {
    let found =
        query_opt(conn, "SELECT max(version) FROM policy_versions WHERE status = 'approved'", [], |row| col::<Option<i64>>(row, 0))?;
    found.flatten().map(|n| u32::try_from(n).map_err(|_| StoreError::Backend("a policy version number is out of range".into()))).transpose()
}

fn record(
    conn: &Connection,
    actor: &Actor,
    city: RegionCode,
    new: &NewPolicyVersion,
    installed: bool,
) -> Result<PolicyVersion, StoreError> {
    new.check()?;
    let latest = query_opt(conn, "SELECT max(version) FROM policy_versions", [], |row| col::<Option<i64>>(row, 0))?.flatten();
    if installed && latest.is_some() {
        return Err(StoreError::Exists("a policy pack version (the first is installed once)".into()));
    }
    let next = u32::try_from(latest.unwrap_or(0) + 1).map_err(|_| StoreError::Invalid("too many policy versions".into()))?;
    let version = PolicyVersion::new(next, actor, new, installed);
    exec(
        conn,
        "INSERT INTO policy_versions (version, pack_id, sha256, text, note, based_on, status, proposed_by, proposed_at, decided_by, decided_at, decision_note) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            version.version,
            version.pack_id,
            version.sha256,
            new.text,
            version.note,
            version.based_on,
            version.status.as_str(),
            version.proposed_by,
            version.proposed_at,
            version.decided_by,
            version.decided_at,
            version.decision_note
        ],
    )?;
    audit(
        conn,
        actor,
        city,
        if installed { "policy.install" } else { version.audit_action() },
        &version.version.to_string(),
        json(&version)?,
    )?;
    Ok(version)
}

impl PolicyStore for SqliteStore {
    async fn propose_policy(&self, actor: &Actor, city: RegionCode, new: NewPolicyVersion) -> Result<PolicyVersion, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| record(conn, &actor, city, &new, false)).await
    }

    async fn install_policy(&self, actor: &Actor, city: RegionCode, new: NewPolicyVersion) -> Result<PolicyVersion, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| record(conn, &actor, city, &new, true)).await
    }

    async fn decide_policy(
        &self,
        actor: &Actor,
        city: RegionCode,
        version: u32,
        decision: PolicyDecision,
        note: &str,
    ) -> Result<PolicyVersion, StoreError> {
        let (actor, note) = (actor.clone(), note.to_owned());
        self.write(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM policy_versions WHERE version = ?1");
            let mut stored = query_opt(conn, &sql, [version], version_from_row)?.ok_or(StoreError::PolicyVersionNotFound(version))?;
            stored.decide(&actor, in_force_number(conn)?, decision, &note)?;
            exec(
                conn,
                "UPDATE policy_versions SET status = ?1, decided_by = ?2, decided_at = ?3, decision_note = ?4 WHERE version = ?5 AND status = 'proposed'",
                params![stored.status.as_str(), stored.decided_by, stored.decided_at, stored.decision_note, version],
            )?;
            audit(conn, &actor, city, stored.audit_action(), &version.to_string(), json(&stored)?)?;
            Ok(stored)
        })
        .await
    }

    async fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM policy_versions ORDER BY version DESC LIMIT ?1");
            query_all(conn, &sql, [POLICY_VERSIONS_LIMIT], version_from_row)
        })
        .await
    }

    async fn policy_version(&self, version: u32) -> Result<Option<(PolicyVersion, String)>, StoreError> {
        self.read(move |conn| {
            query_opt(conn, &format!("SELECT {COLUMNS}, text FROM policy_versions WHERE version = ?1"), [version], with_text)
        })
        .await
    }

    async fn policy_in_force(&self) -> Result<Option<(PolicyVersion, String)>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS}, text FROM policy_versions WHERE status = 'approved' ORDER BY version DESC LIMIT 1");
            query_opt(conn, &sql, [], with_text)
        })
        .await
    }

    async fn policy_in_force_number(&self) -> Result<Option<u32>, StoreError> {
        self.read(in_force_number).await
    }
}
