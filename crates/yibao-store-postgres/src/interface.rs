//! The national interface's records on PostgreSQL (issue 14). A visit is written over the
//! revision its writer read: the row is locked (`FOR UPDATE`) and its revision compared in
//! the writing transaction.

use sqlx::Row;
use sqlx::postgres::PgRow;
use time::{Date, OffsetDateTime};
use yibao_domain::{InstitutionCode, NationalId, RegionCode};
use yibao_store::interface::{RECONCILIATION_ROWS_MAX, day_bounds, too_many_rows, visit_changed};
use yibao_store::{ClaimRecord, InterfaceMessage, InterfaceStore, Reservation, SignInRecord, StoreError, VISITS_READ_MAX, VisitRecord};

use crate::{CLAIM_COLUMNS, PostgresStore, backend, claim_from_row, id_of, institution_of, scope_bounds, time_of, time_text};

fn text(row: &PgRow, name: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(name).map_err(backend)
}

fn message_from_row(row: &PgRow) -> Result<InterfaceMessage, StoreError> {
    Ok(InterfaceMessage {
        institution_code: institution_of(&text(row, "institution_code")?)?,
        msgid: text(row, "msgid")?,
        infno: text(row, "infno")?,
        input_sha256: text(row, "input_sha256")?,
        input: text(row, "input")?,
        answer: text(row, "answer")?,
        answered_at: time_of(&text(row, "answered_at")?)?,
    })
}

fn sign_in_from_row(row: &PgRow) -> Result<SignInRecord, StoreError> {
    Ok(SignInRecord {
        sign_no: text(row, "sign_no")?,
        institution_code: institution_of(&text(row, "institution_code")?)?,
        opter: text(row, "opter")?,
        signed_in_at: time_of(&text(row, "signed_in_at")?)?,
        signed_out_at: row.try_get::<Option<String>, _>("signed_out_at").map_err(backend)?.as_deref().map(time_of).transpose()?,
    })
}

fn visit_from_row(row: &PgRow) -> Result<VisitRecord, StoreError> {
    Ok(VisitRecord {
        institution_code: institution_of(&text(row, "institution_code")?)?,
        mdtrt_id: text(row, "mdtrt_id")?,
        person_id: id_of(&text(row, "person_id")?)?,
        revision: u32::try_from(row.try_get::<i64, _>("revision").map_err(backend)?)
            .map_err(|_| StoreError::Backend("a visit revision is out of range".into()))?,
        state: text(row, "state")?,
        updated_at: time_of(&text(row, "updated_at")?)?,
    })
}

const MESSAGE: &str = "SELECT institution_code, msgid, infno, input_sha256, input, answer, answered_at FROM interface_messages WHERE institution_code = $1 AND msgid = $2";
const SIGN_IN: &str = "SELECT sign_no, institution_code, opter, signed_in_at, signed_out_at FROM interface_sign_ins WHERE institution_code = $1 AND sign_no = $2";
const VISIT: &str =
    "SELECT institution_code, mdtrt_id, person_id, revision, state, updated_at FROM visits WHERE institution_code = $1 AND mdtrt_id = $2";

impl InterfaceStore for PostgresStore {
    async fn interface_answer(&self, institution: &InstitutionCode, msgid: &str) -> Result<Option<InterfaceMessage>, StoreError> {
        let row = sqlx::query(MESSAGE).bind(institution.to_string()).bind(msgid).fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(message_from_row).transpose()
    }

    async fn reserve_interface_message(&self, message: InterfaceMessage, stale_before: OffsetDateTime) -> Result<Reservation, StoreError> {
        message.check()?;
        let mut tx = self.write().await?;
        let institution = message.institution_code.to_string();
        // Insert the reservation, or lock the row there is: of two copies at once, one
        // inserts and the other waits here, then reads what the first left.
        let inserted = sqlx::query(
            "INSERT INTO interface_messages (institution_code, msgid, infno, input_sha256, input, answer, answered_at) \
             VALUES ($1, $2, $3, $4, $5, '', $6) ON CONFLICT (institution_code, msgid) DO NOTHING",
        )
        .bind(&institution)
        .bind(&message.msgid)
        .bind(&message.infno)
        .bind(&message.input_sha256)
        .bind(&message.input)
        .bind(time_text(message.answered_at)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await.map_err(backend)?;
            return Ok(Reservation::Reserved);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{MESSAGE} FOR UPDATE")))
            .bind(&institution)
            .bind(&message.msgid)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let found = message_from_row(&row)?;
        let outcome = if !found.answer.is_empty() {
            Reservation::Answered(found)
        } else if found.answered_at >= stale_before || found.input_sha256 != message.input_sha256 {
            // In flight, or another message under this msgid (never taken over).
            Reservation::InFlight(found)
        } else {
            // This message, reserved by a sender that stopped: this copy answers it.
            sqlx::query(
                "UPDATE interface_messages SET infno = $3, input_sha256 = $4, input = $5, answered_at = $6 \
                 WHERE institution_code = $1 AND msgid = $2 AND answer = ''",
            )
            .bind(&institution)
            .bind(&message.msgid)
            .bind(&message.infno)
            .bind(&message.input_sha256)
            .bind(&message.input)
            .bind(time_text(message.answered_at)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            Reservation::Reserved
        };
        tx.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    async fn release_interface_message(&self, institution: &InstitutionCode, msgid: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM interface_messages WHERE institution_code = $1 AND msgid = $2 AND answer = ''")
            .bind(institution.to_string())
            .bind(msgid)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn record_interface_answer(&self, message: InterfaceMessage) -> Result<InterfaceMessage, StoreError> {
        message.check()?;
        if message.answer.is_empty() {
            return Err(StoreError::Invalid("an answer is not empty".into()));
        }
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO interface_messages (institution_code, msgid, infno, input_sha256, input, answer, answered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (institution_code, msgid) DO UPDATE SET answer = excluded.answer, answered_at = excluded.answered_at \
             WHERE interface_messages.answer = '' AND interface_messages.input_sha256 = excluded.input_sha256",
        )
        .bind(message.institution_code.to_string())
        .bind(&message.msgid)
        .bind(&message.infno)
        .bind(&message.input_sha256)
        .bind(&message.input)
        .bind(&message.answer)
        .bind(time_text(message.answered_at)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let row = sqlx::query(MESSAGE)
            .bind(message.institution_code.to_string())
            .bind(&message.msgid)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let kept = message_from_row(&row)?;
        tx.commit().await.map_err(backend)?;
        Ok(kept)
    }

    async fn record_sign_in(&self, sign_in: SignInRecord) -> Result<SignInRecord, StoreError> {
        let done = sqlx::query(
            "INSERT INTO interface_sign_ins (sign_no, institution_code, opter, signed_in_at, signed_out_at) VALUES ($1, $2, $3, $4, NULL) \
             ON CONFLICT (sign_no) DO NOTHING",
        )
        .bind(&sign_in.sign_no)
        .bind(sign_in.institution_code.to_string())
        .bind(&sign_in.opter)
        .bind(time_text(sign_in.signed_in_at)?)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("sign-in {}", sign_in.sign_no)));
        }
        Ok(sign_in)
    }

    async fn record_sign_out(&self, institution: &InstitutionCode, sign_no: &str, at: OffsetDateTime) -> Result<SignInRecord, StoreError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE interface_sign_ins SET signed_out_at = $1 WHERE institution_code = $2 AND sign_no = $3 AND signed_out_at IS NULL",
        )
        .bind(time_text(at)?)
        .bind(institution.to_string())
        .bind(sign_no)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        let row = sqlx::query(SIGN_IN).bind(institution.to_string()).bind(sign_no).fetch_optional(&mut *tx).await.map_err(backend)?;
        let record = row.as_ref().map(sign_in_from_row).transpose()?;
        tx.commit().await.map_err(backend)?;
        match record {
            Some(record) if changed == 1 => Ok(record),
            Some(_) => {
                Err(StoreError::Refused { code: "interface.signed_out", message: format!("sign-in {sign_no} is signed out already") })
            }
            None => Err(StoreError::Refused { code: "interface.not_signed_in", message: format!("no sign-in {sign_no} of {institution}") }),
        }
    }

    async fn sign_in_record(&self, institution: &InstitutionCode, sign_no: &str) -> Result<Option<SignInRecord>, StoreError> {
        let row = sqlx::query(SIGN_IN).bind(institution.to_string()).bind(sign_no).fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(sign_in_from_row).transpose()
    }

    async fn write_visit(&self, visit: VisitRecord, read_revision: Option<u32>) -> Result<VisitRecord, StoreError> {
        visit.check()?;
        let mut tx = self.write().await?;
        let institution = visit.institution_code.to_string();
        match read_revision {
            None => insert_visit(&mut tx, &visit, None).await?,
            Some(read) => {
                let done = sqlx::query(
                    "UPDATE visits SET revision = $1, state = $2, updated_at = $3 WHERE institution_code = $4 AND mdtrt_id = $5 AND revision = $6",
                )
                .bind(i64::from(visit.revision))
                .bind(&visit.state)
                .bind(time_text(visit.updated_at)?)
                .bind(&institution)
                .bind(&visit.mdtrt_id)
                .bind(i64::from(read))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(visit_changed(&visit.mdtrt_id));
                }
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(visit)
    }

    async fn visit(&self, institution: &InstitutionCode, mdtrt_id: &str) -> Result<Option<VisitRecord>, StoreError> {
        let row = sqlx::query(VISIT).bind(institution.to_string()).bind(mdtrt_id).fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(visit_from_row).transpose()
    }

    async fn visits_of_person(&self, institution: &InstitutionCode, person_id: &NationalId) -> Result<Vec<VisitRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT institution_code, mdtrt_id, person_id, revision, state, updated_at FROM visits \
             WHERE institution_code = $1 AND person_id = $2 ORDER BY mdtrt_id DESC LIMIT $3",
        )
        .bind(institution.to_string())
        .bind(person_id.as_str())
        .bind(VISITS_READ_MAX as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(visit_from_row).collect()
    }

    async fn institution_claims(
        &self,
        scope: RegionCode,
        institution: &InstitutionCode,
        from: Date,
        to: Date,
    ) -> Result<Vec<ClaimRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let (first, after) = day_bounds(from, to);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CLAIM_COLUMNS} FROM claims WHERE institution_code = $1 AND region_code BETWEEN $2 AND $3 \
             AND ((settled_at >= $4 AND settled_at < $5) OR (reversed_at >= $4 AND reversed_at < $5)) \
             ORDER BY settled_at, claim_id LIMIT $6"
        )))
        .bind(institution.to_string())
        .bind(low)
        .bind(high)
        .bind(first)
        .bind(after)
        .bind(i64::try_from(RECONCILIATION_ROWS_MAX + 1).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        if rows.len() > RECONCILIATION_ROWS_MAX {
            return Err(too_many_rows());
        }
        rows.iter().map(claim_from_row).collect()
    }
}

/// Writes a new visit in `tx`, marked with the migration that brought it, if one did;
/// refused as existing when its id is taken.
pub(crate) async fn insert_visit(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    visit: &VisitRecord,
    migration: Option<&str>,
) -> Result<(), StoreError> {
    visit.check()?;
    let done = sqlx::query(
        "INSERT INTO visits (institution_code, mdtrt_id, person_id, revision, state, updated_at, migration_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (institution_code, mdtrt_id) DO NOTHING",
    )
    .bind(visit.institution_code.to_string())
    .bind(&visit.mdtrt_id)
    .bind(visit.person_id.as_str())
    .bind(i64::from(visit.revision))
    .bind(&visit.state)
    .bind(time_text(visit.updated_at)?)
    .bind(migration)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Exists(format!("visit {} of {}", visit.mdtrt_id, visit.institution_code)));
    }
    Ok(())
}
