//! The dated national catalogue on SQLite (issue 13).

use rusqlite::{Row, params};
use yibao_domain::RegionCode;
use yibao_store::catalogue::CatalogueVersion;
use yibao_store::catalogue::{check_load, check_proposal_file, key_columns, not_proposed, same_officer, stale};
use yibao_store::{
    Actor, CatalogueChange, CatalogueLoad, CatalogueLoadRecord, CatalogueProposal, CatalogueRow, CatalogueStore, StoreError,
};

use crate::{SqliteStore, audit, col, exec, json, query_all, query_opt};

const COLUMNS: &str = "code, region_code, begin_date, end_date, list_type, name, class, restricted, selfpay_share_bp, \
                       cap_township_fen, cap_primary_fen, cap_secondary_fen, cap_tertiary_fen, cite, negotiated";

fn row_of(row: &Row<'_>) -> Result<CatalogueRow, StoreError> {
    Ok(CatalogueRow {
        code: col(row, 0)?,
        region_code: col(row, 1)?,
        begin_date: col(row, 2)?,
        end_date: col(row, 3)?,
        list_type: col(row, 4)?,
        name: col(row, 5)?,
        class: col(row, 6)?,
        restricted: col::<i64>(row, 7)? != 0,
        selfpay_share_bp: col(row, 8)?,
        caps_fen: [col(row, 9)?, col(row, 10)?, col(row, 11)?, col(row, 12)?],
        cite: col(row, 13)?,
        negotiated: col::<i64>(row, 14)? != 0,
    })
}

impl CatalogueStore for SqliteStore {
    async fn put_catalogue(&self, actor: &Actor, city: RegionCode, change: CatalogueChange<'_>) -> Result<(), StoreError> {
        check_load(change.versions)?;
        let rows: Vec<CatalogueRow> = change.versions.iter().map(CatalogueRow::of).collect();
        let removed: Vec<(String, String, String)> = change.removed.iter().map(key_columns).collect();
        let (actor, load, expected, proposal) = (actor.clone(), change.load.clone(), change.expected, change.proposal);
        self.write(move |conn| {
            let latest = query_opt(conn, "SELECT coalesce(max(seq), 0) FROM catalogue_loads", [], |row| col::<i64>(row, 0))?.unwrap_or(0);
            if latest != expected {
                return Err(stale(expected, latest));
            }
            if let Some(seq) = proposal {
                // The second person, checked where the decision is written.
                let proposer = query_opt(conn, "SELECT proposed_by FROM catalogue_proposals WHERE seq = ?1 AND status = 'proposed'", [seq], |row| {
                    col::<String>(row, 0)
                })?
                .ok_or_else(|| not_proposed(seq))?;
                if proposer == actor.who {
                    return Err(same_officer(seq));
                }
                exec(
                    conn,
                    "UPDATE catalogue_proposals SET status = 'approved', decided_by = ?1, decided_at = ?2 WHERE seq = ?3 AND status = 'proposed'",
                    params![actor.who, actor.at_text(), seq],
                )?;
            }
            for (code, region, begin) in &removed {
                exec(conn, "DELETE FROM catalogue_versions WHERE code = ?1 AND region_code = ?2 AND begin_date = ?3", params![code, region, begin])?;
            }
            let sql = format!("INSERT OR REPLACE INTO catalogue_versions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
            let mut insert = conn.prepare_cached(&sql).map_err(crate::backend)?;
            for r in &rows {
                insert
                    .execute(params![
                        r.code,
                        r.region_code,
                        r.begin_date,
                        r.end_date,
                        r.list_type,
                        r.name,
                        r.class,
                        i64::from(r.restricted),
                        r.selfpay_share_bp,
                        r.caps_fen[0],
                        r.caps_fen[1],
                        r.caps_fen[2],
                        r.caps_fen[3],
                        r.cite,
                        i64::from(r.negotiated)
                    ])
                    .map_err(crate::backend)?;
            }
            drop(insert);
            let detail = json(&load)?;
            exec(
                conn,
                "INSERT INTO catalogue_loads (seq, loaded_at, loaded_by, detail) SELECT coalesce(max(seq), 0) + 1, ?1, ?2, ?3 FROM catalogue_loads",
                params![actor.at_text(), actor.who, detail],
            )?;
            // An approval names the proposal and its proposer in the load and the chain.
            let action = if proposal.is_some() { "catalogue.approve" } else { "catalogue.load" };
            audit(conn, &actor, city, action, &load.sha256, detail)
        })
        .await
    }

    async fn catalogue_versions(&self) -> Result<Vec<CatalogueVersion>, StoreError> {
        let rows = self.read(|conn| query_all(conn, &format!("SELECT {COLUMNS} FROM catalogue_versions"), [], row_of)).await?;
        rows.iter().map(CatalogueRow::version).collect()
    }

    async fn catalogue_stamp(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(query_opt(conn, "SELECT coalesce(max(seq), 0) FROM catalogue_loads", [], |row| col::<i64>(row, 0))?.unwrap_or(0))
        })
        .await
    }

    async fn catalogue_loads(&self, limit: u32) -> Result<Vec<CatalogueLoadRecord>, StoreError> {
        self.read(move |conn| {
            query_all(conn, "SELECT seq, loaded_at, loaded_by, detail FROM catalogue_loads ORDER BY seq DESC LIMIT ?1", [limit], |row| {
                Ok(CatalogueLoadRecord {
                    seq: col(row, 0)?,
                    loaded_at: col(row, 1)?,
                    loaded_by: col(row, 2)?,
                    load: serde_json::from_str(&col::<String>(row, 3)?).map_err(|e| StoreError::Backend(e.to_string()))?,
                })
            })
        })
        .await
    }

    async fn propose_catalogue(
        &self,
        actor: &Actor,
        city: RegionCode,
        load: &CatalogueLoad,
        bytes: Vec<u8>,
    ) -> Result<CatalogueProposal, StoreError> {
        check_proposal_file(&bytes)?;
        let (actor, load) = (actor.clone(), load.clone());
        self.write(move |conn| {
            let seq = query_opt(conn, "SELECT coalesce(max(seq), 0) + 1 FROM catalogue_proposals", [], |row| col::<i64>(row, 0))?.unwrap_or(1);
            let detail = json(&load)?;
            exec(
                conn,
                "INSERT INTO catalogue_proposals (seq, proposed_at, proposed_by, detail, file_bytes, status) VALUES (?1, ?2, ?3, ?4, ?5, 'proposed')",
                params![seq, actor.at_text(), actor.who, detail, bytes],
            )?;
            audit(conn, &actor, city, "catalogue.propose", &seq.to_string(), detail)?;
            Ok(CatalogueProposal::proposed(seq, &actor, &load))
        })
        .await
    }

    async fn catalogue_proposals(&self, limit: u32) -> Result<Vec<CatalogueProposal>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {PROPOSAL_COLUMNS} FROM catalogue_proposals ORDER BY seq DESC LIMIT ?1");
            query_all(conn, &sql, [limit], proposal_of)
        })
        .await
    }

    async fn catalogue_proposal(&self, seq: i64) -> Result<Option<(CatalogueProposal, Vec<u8>)>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {PROPOSAL_COLUMNS}, file_bytes FROM catalogue_proposals WHERE seq = ?1");
            query_opt(conn, &sql, [seq], |row| Ok((proposal_of(row)?, col::<Vec<u8>>(row, 8)?)))
        })
        .await
    }

    async fn reject_catalogue_proposal(
        &self,
        actor: &Actor,
        city: RegionCode,
        seq: i64,
        note: &str,
    ) -> Result<CatalogueProposal, StoreError> {
        let (actor, note) = (actor.clone(), note.to_owned());
        self.write(move |conn| {
            let decided = exec(
                conn,
                "UPDATE catalogue_proposals SET status = 'rejected', decided_by = ?1, decided_at = ?2, note = ?3 WHERE seq = ?4 AND status = 'proposed'",
                params![actor.who, actor.at_text(), note, seq],
            )?;
            if decided != 1 {
                return Err(not_proposed(seq));
            }
            audit(conn, &actor, city, "catalogue.reject", &seq.to_string(), serde_json::json!({ "note": note }).to_string())?;
            let sql = format!("SELECT {PROPOSAL_COLUMNS} FROM catalogue_proposals WHERE seq = ?1");
            query_opt(conn, &sql, [seq], proposal_of)?.ok_or_else(|| not_proposed(seq))
        })
        .await
    }
}

const PROPOSAL_COLUMNS: &str = "seq, proposed_at, proposed_by, status, decided_by, decided_at, note, detail";

fn proposal_of(row: &Row<'_>) -> Result<CatalogueProposal, StoreError> {
    Ok(CatalogueProposal {
        seq: col(row, 0)?,
        proposed_at: col(row, 1)?,
        proposed_by: col(row, 2)?,
        status: col(row, 3)?,
        decided_by: col(row, 4)?,
        decided_at: col(row, 5)?,
        note: col(row, 6)?,
        load: serde_json::from_str(&col::<String>(row, 7)?).map_err(|e| StoreError::Backend(e.to_string()))?,
    })
}
