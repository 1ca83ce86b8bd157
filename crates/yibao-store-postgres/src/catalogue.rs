//! The dated national catalogue on PostgreSQL (issue 13): a load is one transaction of
//! `UNNEST` batches.

use sqlx::Row;
use sqlx::postgres::PgRow;
use yibao_domain::RegionCode;
use yibao_store::catalogue::{CatalogueVersion, check_load, check_proposal_file, key_columns, not_proposed, same_officer, stale};
use yibao_store::{
    Actor, CatalogueChange, CatalogueLoad, CatalogueLoadRecord, CatalogueProposal, CatalogueRow, CatalogueStore, StoreError,
};

use crate::{PostgresStore, audit, backend, json};

/// Rows per `INSERT … SELECT FROM UNNEST`.
const BATCH_ROWS: usize = 5_000;

/// The columns in the order both statements use (a macro, so that the SQL stays literal).
macro_rules! columns {
    () => {
        "code, region_code, begin_date, end_date, list_type, name, class, restricted, selfpay_share_bp, \
         cap_township_fen, cap_primary_fen, cap_secondary_fen, cap_tertiary_fen, cite, negotiated"
    };
}

fn row_of(row: &PgRow) -> Result<CatalogueRow, StoreError> {
    let cap = |name: &str| row.try_get::<Option<i64>, _>(name).map_err(backend);
    Ok(CatalogueRow {
        code: row.try_get("code").map_err(backend)?,
        region_code: row.try_get("region_code").map_err(backend)?,
        begin_date: row.try_get("begin_date").map_err(backend)?,
        end_date: row.try_get("end_date").map_err(backend)?,
        list_type: row.try_get("list_type").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        class: row.try_get("class").map_err(backend)?,
        restricted: row.try_get("restricted").map_err(backend)?,
        selfpay_share_bp: row.try_get::<Option<i32>, _>("selfpay_share_bp").map_err(backend)?.map(i64::from),
        caps_fen: [cap("cap_township_fen")?, cap("cap_primary_fen")?, cap("cap_secondary_fen")?, cap("cap_tertiary_fen")?],
        cite: row.try_get("cite").map_err(backend)?,
        negotiated: row.try_get("negotiated").map_err(backend)?,
    })
}

impl CatalogueStore for PostgresStore {
    async fn put_catalogue(&self, actor: &Actor, city: RegionCode, change: CatalogueChange<'_>) -> Result<(), StoreError> {
        let (load, versions) = (change.load, change.versions);
        check_load(versions)?;
        let mut tx = self.write().await?;
        // The table's lock orders concurrent loads: the second sees the first's number.
        sqlx::query("LOCK TABLE catalogue_loads IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.map_err(backend)?;
        let latest: i64 =
            sqlx::query_scalar("SELECT coalesce(max(seq), 0)::int8 FROM catalogue_loads").fetch_one(&mut *tx).await.map_err(backend)?;
        if latest != change.expected {
            return Err(stale(change.expected, latest));
        }
        if let Some(seq) = change.proposal {
            // The second person, checked where the decision is written (the row locked).
            let proposer: Option<String> =
                sqlx::query_scalar("SELECT proposed_by FROM catalogue_proposals WHERE seq = $1 AND status = 'proposed' FOR UPDATE")
                    .bind(seq)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            let proposer = proposer.ok_or_else(|| not_proposed(seq))?;
            if proposer == actor.who {
                return Err(same_officer(seq));
            }
            sqlx::query("UPDATE catalogue_proposals SET status = 'approved', decided_by = $1, decided_at = $2 WHERE seq = $3")
                .bind(&actor.who)
                .bind(actor.at_text())
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        if !change.removed.is_empty() {
            let keys: Vec<(String, String, String)> = change.removed.iter().map(key_columns).collect();
            sqlx::query(
                "DELETE FROM catalogue_versions WHERE (code, region_code, begin_date) IN (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]))",
            )
            .bind(keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>())
            .bind(keys.iter().map(|k| k.1.clone()).collect::<Vec<_>>())
            .bind(keys.iter().map(|k| k.2.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        for chunk in versions.chunks(BATCH_ROWS) {
            let rows: Vec<CatalogueRow> = chunk.iter().map(CatalogueRow::of).collect();
            let text = |f: fn(&CatalogueRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
            let cap = |level: usize| rows.iter().map(|r| r.caps_fen[level]).collect::<Vec<Option<i64>>>();
            sqlx::query(concat!(
                "INSERT INTO catalogue_versions (",
                columns!(),
                ") \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], \
                                      $9::int4[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::text[], $15::bool[]) \
                 ON CONFLICT (code, region_code, begin_date) DO UPDATE SET \
                 end_date = EXCLUDED.end_date, list_type = EXCLUDED.list_type, name = EXCLUDED.name, class = EXCLUDED.class, \
                 restricted = EXCLUDED.restricted, selfpay_share_bp = EXCLUDED.selfpay_share_bp, \
                 cap_township_fen = EXCLUDED.cap_township_fen, cap_primary_fen = EXCLUDED.cap_primary_fen, \
                 cap_secondary_fen = EXCLUDED.cap_secondary_fen, cap_tertiary_fen = EXCLUDED.cap_tertiary_fen, cite = EXCLUDED.cite, \
                 negotiated = EXCLUDED.negotiated"
            ))
            .bind(text(|r| r.code.clone()))
            .bind(text(|r| r.region_code.clone()))
            .bind(text(|r| r.begin_date.clone()))
            .bind(rows.iter().map(|r| r.end_date.clone()).collect::<Vec<Option<String>>>())
            .bind(text(|r| r.list_type.clone()))
            .bind(text(|r| r.name.clone()))
            .bind(text(|r| r.class.clone()))
            .bind(rows.iter().map(|r| r.restricted).collect::<Vec<bool>>())
            .bind(rows.iter().map(|r| r.selfpay_share_bp.and_then(|bp| i32::try_from(bp).ok())).collect::<Vec<Option<i32>>>())
            .bind(cap(0))
            .bind(cap(1))
            .bind(cap(2))
            .bind(cap(3))
            .bind(text(|r| r.cite.clone()))
            .bind(rows.iter().map(|r| r.negotiated).collect::<Vec<bool>>())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let detail = json(load)?;
        sqlx::query("INSERT INTO catalogue_loads (seq, loaded_at, loaded_by, detail) SELECT coalesce(max(seq), 0) + 1, $1, $2, $3 FROM catalogue_loads")
            .bind(actor.at_text())
            .bind(&actor.who)
            .bind(&detail)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // An approval names the proposal and its proposer in the load and the chain.
        let action = if change.proposal.is_some() { "catalogue.approve" } else { "catalogue.load" };
        audit(&mut tx, actor, city, action, &load.sha256, detail).await?;
        tx.commit().await.map_err(backend)
    }

    async fn catalogue_versions(&self) -> Result<Vec<CatalogueVersion>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM catalogue_versions")).fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(|row| row_of(row)?.version()).collect()
    }

    async fn catalogue_stamp(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT coalesce(max(seq), 0)::int8 FROM catalogue_loads").fetch_one(&self.pool).await.map_err(backend)
    }

    async fn catalogue_loads(&self, limit: u32) -> Result<Vec<CatalogueLoadRecord>, StoreError> {
        let rows = sqlx::query("SELECT seq, loaded_at, loaded_by, detail FROM catalogue_loads ORDER BY seq DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(CatalogueLoadRecord {
                    seq: row.try_get("seq").map_err(backend)?,
                    loaded_at: row.try_get("loaded_at").map_err(backend)?,
                    loaded_by: row.try_get("loaded_by").map_err(backend)?,
                    load: serde_json::from_str(&row.try_get::<String, _>("detail").map_err(backend)?)
                        .map_err(|e| StoreError::Backend(e.to_string()))?,
                })
            })
            .collect()
    }

    async fn propose_catalogue(
        &self,
        actor: &Actor,
        city: RegionCode,
        load: &CatalogueLoad,
        bytes: Vec<u8>,
    ) -> Result<CatalogueProposal, StoreError> {
        check_proposal_file(&bytes)?;
        let mut tx = self.write().await?;
        // Numbered in order: the table's lock makes the next number one transaction's.
        sqlx::query("LOCK TABLE catalogue_proposals IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.map_err(backend)?;
        let detail = json(load)?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO catalogue_proposals (seq, proposed_at, proposed_by, detail, file_bytes, status) \
             SELECT coalesce(max(seq), 0) + 1, $1, $2, $3, $4, 'proposed' FROM catalogue_proposals RETURNING seq",
        )
        .bind(actor.at_text())
        .bind(&actor.who)
        .bind(&detail)
        .bind(bytes)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        audit(&mut tx, actor, city, "catalogue.propose", &seq.to_string(), detail).await?;
        tx.commit().await.map_err(backend)?;
        Ok(CatalogueProposal::proposed(seq, actor, load))
    }

    async fn catalogue_proposals(&self, limit: u32) -> Result<Vec<CatalogueProposal>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", proposal_columns!(), " FROM catalogue_proposals ORDER BY seq DESC LIMIT $1"))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(proposal_of).collect()
    }

    async fn catalogue_proposal(&self, seq: i64) -> Result<Option<(CatalogueProposal, Vec<u8>)>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", proposal_columns!(), ", file_bytes FROM catalogue_proposals WHERE seq = $1"))
            .bind(seq)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|row| Ok((proposal_of(&row)?, row.try_get::<Vec<u8>, _>("file_bytes").map_err(backend)?))).transpose()
    }

    async fn reject_catalogue_proposal(
        &self,
        actor: &Actor,
        city: RegionCode,
        seq: i64,
        note: &str,
    ) -> Result<CatalogueProposal, StoreError> {
        let mut tx = self.write().await?;
        let row = sqlx::query(concat!(
            "UPDATE catalogue_proposals SET status = 'rejected', decided_by = $1, decided_at = $2, note = $3 \
             WHERE seq = $4 AND status = 'proposed' RETURNING ",
            proposal_columns!()
        ))
        .bind(&actor.who)
        .bind(actor.at_text())
        .bind(note)
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Err(not_proposed(seq)) };
        let proposal = proposal_of(&row)?;
        audit(&mut tx, actor, city, "catalogue.reject", &seq.to_string(), serde_json::json!({ "note": note }).to_string()).await?;
        tx.commit().await.map_err(backend)?;
        Ok(proposal)
    }
}

/// A proposal's columns, without the file.
macro_rules! proposal_columns {
    () => {
        "seq, proposed_at, proposed_by, status, decided_by, decided_at, note, detail"
    };
}
use proposal_columns;

fn proposal_of(row: &PgRow) -> Result<CatalogueProposal, StoreError> {
    Ok(CatalogueProposal {
        seq: row.try_get("seq").map_err(backend)?,
        proposed_at: row.try_get("proposed_at").map_err(backend)?,
        proposed_by: row.try_get("proposed_by").map_err(backend)?,
        status: row.try_get("status").map_err(backend)?,
        decided_by: row.try_get("decided_by").map_err(backend)?,
        decided_at: row.try_get("decided_at").map_err(backend)?,
        note: row.try_get("note").map_err(backend)?,
        load: serde_json::from_str(&row.try_get::<String, _>("detail").map_err(backend)?)
            .map_err(|e| StoreError::Backend(e.to_string()))?,
    })
}
