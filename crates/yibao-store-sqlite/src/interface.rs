//! The national interface's records on SQLite (issue 14).

use rusqlite::{Connection, OptionalExtension as _, Row, params};
use time::{Date, OffsetDateTime};
use yibao_domain::{InstitutionCode, NationalId, RegionCode};
use yibao_store::interface::{RECONCILIATION_ROWS_MAX, day_bounds, too_many_rows, visit_changed};
use yibao_store::{ClaimRecord, InterfaceMessage, InterfaceStore, Reservation, SignInRecord, StoreError, VISITS_READ_MAX, VisitRecord};

use crate::{
    SqliteStore, backend, claim_from_row, col, exec, id_of, institution_of, query_all, query_opt, scope_bounds, time_of, time_text,
};

fn message_from_row(row: &Row<'_>) -> Result<InterfaceMessage, StoreError> {
    Ok(InterfaceMessage {
        institution_code: institution_of(&col::<String>(row, 0)?)?,
        msgid: col(row, 1)?,
        infno: col(row, 2)?,
        input_sha256: col(row, 3)?,
        input: col(row, 4)?,
        answer: col(row, 5)?,
        answered_at: time_of(&col::<String>(row, 6)?)?,
    })
}

fn sign_in_from_row(row: &Row<'_>) -> Result<SignInRecord, StoreError> {
    Ok(SignInRecord {
        sign_no: col(row, 0)?,
        institution_code: institution_of(&col::<String>(row, 1)?)?,
        opter: col(row, 2)?,
        signed_in_at: time_of(&col::<String>(row, 3)?)?,
        signed_out_at: col::<Option<String>>(row, 4)?.as_deref().map(time_of).transpose()?,
    })
}

fn visit_from_row(row: &Row<'_>) -> Result<VisitRecord, StoreError> {
    Ok(VisitRecord {
        institution_code: institution_of(&col::<String>(row, 0)?)?,
        mdtrt_id: col(row, 1)?,
        person_id: id_of(&col::<String>(row, 2)?)?,
        revision: u32::try_from(col::<i64>(row, 3)?).map_err(|_| StoreError::Backend("a visit revision is out of range".into()))?,
        state: col(row, 4)?,
        updated_at: time_of(&col::<String>(row, 5)?)?,
    })
}

const MESSAGE: &str = "SELECT institution_code, msgid, infno, input_sha256, input, answer, answered_at FROM interface_messages WHERE institution_code = ?1 AND msgid = ?2";
const SIGN_IN: &str = "SELECT sign_no, institution_code, opter, signed_in_at, signed_out_at FROM interface_sign_ins WHERE institution_code = ?1 AND sign_no = ?2";
const VISIT: &str =
    "SELECT institution_code, mdtrt_id, person_id, revision, state, updated_at FROM visits WHERE institution_code = ?1 AND mdtrt_id = ?2";

impl InterfaceStore for SqliteStore {
    async fn interface_answer(&self, institution: &InstitutionCode, msgid: &str) -> Result<Option<InterfaceMessage>, StoreError> {
        let (institution, msgid) = (institution.to_string(), msgid.to_owned());
        self.read(move |conn| query_opt(conn, MESSAGE, params![institution, msgid], message_from_row)).await
    }

    async fn reserve_interface_message(&self, message: InterfaceMessage, stale_before: OffsetDateTime) -> Result<Reservation, StoreError> {
        message.check()?;
        self.write(move |conn| {
            let key = params![message.institution_code.to_string(), message.msgid];
            match query_opt(conn, MESSAGE, key, message_from_row)? {
                Some(found) if !found.answer.is_empty() => Ok(Reservation::Answered(found)),
                // In flight, or another message under this msgid (never taken over).
                Some(found) if found.answered_at >= stale_before || found.input_sha256 != message.input_sha256 => {
                    Ok(Reservation::InFlight(found))
                }
                found => {
                    // New, or this message reserved by a sender that stopped: this copy answers it.
                    if found.is_some() {
                        exec(conn, "DELETE FROM interface_messages WHERE institution_code = ?1 AND msgid = ?2 AND answer = ''", key)?;
                    }
                    exec(
                        conn,
                        "INSERT INTO interface_messages (institution_code, msgid, infno, input_sha256, input, answer, answered_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, '', ?6)",
                        params![
                            message.institution_code.to_string(),
                            message.msgid,
                            message.infno,
                            message.input_sha256,
                            message.input,
                            time_text(message.answered_at)?
                        ],
                    )?;
                    Ok(Reservation::Reserved)
                }
            }
        })
        .await
    }

    async fn release_interface_message(&self, institution: &InstitutionCode, msgid: &str) -> Result<(), StoreError> {
        let (institution, msgid) = (institution.to_string(), msgid.to_owned());
        self.write(move |conn| {
            exec(
                conn,
                "DELETE FROM interface_messages WHERE institution_code = ?1 AND msgid = ?2 AND answer = ''",
                params![institution, msgid],
            )
            .map(|_| ())
        })
        .await
    }

    async fn record_interface_answer(&self, message: InterfaceMessage) -> Result<InterfaceMessage, StoreError> {
        message.check()?;
        if message.answer.is_empty() {
            return Err(StoreError::Invalid("an answer is not empty".into()));
        }
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO interface_messages (institution_code, msgid, infno, input_sha256, input, answer, answered_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (institution_code, msgid) DO UPDATE SET answer = excluded.answer, answered_at = excluded.answered_at \
                 WHERE interface_messages.answer = '' AND interface_messages.input_sha256 = excluded.input_sha256",
                params![
                    message.institution_code.to_string(),
                    message.msgid,
                    message.infno,
                    message.input_sha256,
                    message.input,
                    message.answer,
                    time_text(message.answered_at)?
                ],
            )?;
            query_opt(conn, MESSAGE, params![message.institution_code.to_string(), message.msgid], message_from_row)?
                .ok_or_else(|| StoreError::Backend("an answer just kept is not found".into()))
        })
        .await
    }

    async fn record_sign_in(&self, sign_in: SignInRecord) -> Result<SignInRecord, StoreError> {
        self.write(move |conn| {
            if query_opt(conn, "SELECT 1 FROM interface_sign_ins WHERE sign_no = ?1", [&sign_in.sign_no], |_| Ok(()))?.is_some() {
                return Err(StoreError::Exists(format!("sign-in {}", sign_in.sign_no)));
            }
            exec(
                conn,
                "INSERT INTO interface_sign_ins (sign_no, institution_code, opter, signed_in_at, signed_out_at) VALUES (?1, ?2, ?3, ?4, NULL)",
                params![sign_in.sign_no, sign_in.institution_code.to_string(), sign_in.opter, time_text(sign_in.signed_in_at)?],
            )?;
            Ok(sign_in)
        })
        .await
    }

    async fn record_sign_out(&self, institution: &InstitutionCode, sign_no: &str, at: OffsetDateTime) -> Result<SignInRecord, StoreError> {
        let (institution, sign_no) = (institution.to_string(), sign_no.to_owned());
        self.write(move |conn| {
            let changed = exec(
                conn,
                "UPDATE interface_sign_ins SET signed_out_at = ?1 WHERE institution_code = ?2 AND sign_no = ?3 AND signed_out_at IS NULL",
                params![time_text(at)?, institution, sign_no],
            )?;
            let record = query_opt(conn, SIGN_IN, params![institution, sign_no], sign_in_from_row)?;
            match record {
                Some(record) if changed == 1 => Ok(record),
                Some(_) => {
                    Err(StoreError::Refused { code: "interface.signed_out", message: format!("sign-in {sign_no} is signed out already") })
                }
                None => {
                    Err(StoreError::Refused { code: "interface.not_signed_in", message: format!("no sign-in {sign_no} of {institution}") })
                }
            }
        })
        .await
    }

    async fn sign_in_record(&self, institution: &InstitutionCode, sign_no: &str) -> Result<Option<SignInRecord>, StoreError> {
        let (institution, sign_no) = (institution.to_string(), sign_no.to_owned());
        self.read(move |conn| query_opt(conn, SIGN_IN, params![institution, sign_no], sign_in_from_row)).await
    }

    async fn write_visit(&self, visit: VisitRecord, read_revision: Option<u32>) -> Result<VisitRecord, StoreError> {
        visit.check()?;
        self.write(move |conn| {
            let key = params![visit.institution_code.to_string(), visit.mdtrt_id];
            let stored: Option<i64> = conn
                .query_row("SELECT revision FROM visits WHERE institution_code = ?1 AND mdtrt_id = ?2", key, |row| row.get(0))
                .optional()
                .map_err(backend)?;
            match (read_revision, stored) {
                (None, Some(_)) => return Err(StoreError::Exists(format!("visit {}", visit.mdtrt_id))),
                (None, None) => insert_visit(conn, &visit, None)?,
                (Some(read), Some(stored)) if i64::from(read) == stored => {
                    exec(
                        conn,
                        "UPDATE visits SET revision = ?1, state = ?2, updated_at = ?3 WHERE institution_code = ?4 AND mdtrt_id = ?5",
                        params![
                            visit.revision,
                            visit.state,
                            time_text(visit.updated_at)?,
                            visit.institution_code.to_string(),
                            visit.mdtrt_id
                        ],
                    )?;
                }
                (Some(_), _) => return Err(visit_changed(&visit.mdtrt_id)),
            }
            Ok(visit)
        })
        .await
    }

    async fn visit(&self, institution: &InstitutionCode, mdtrt_id: &str) -> Result<Option<VisitRecord>, StoreError> {
        let (institution, mdtrt_id) = (institution.to_string(), mdtrt_id.to_owned());
        self.read(move |conn| query_opt(conn, VISIT, params![institution, mdtrt_id], visit_from_row)).await
    }

    async fn visits_of_person(&self, institution: &InstitutionCode, person_id: &NationalId) -> Result<Vec<VisitRecord>, StoreError> {
        let (institution, person_id) = (institution.to_string(), *person_id);
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT institution_code, mdtrt_id, person_id, revision, state, updated_at FROM visits \
                 WHERE institution_code = ?1 AND person_id = ?2 ORDER BY mdtrt_id DESC LIMIT ?3",
                params![institution, person_id.as_str(), VISITS_READ_MAX as i64],
                visit_from_row,
            )
        })
        .await
    }

    async fn institution_claims(
        &self,
        scope: RegionCode,
        institution: &InstitutionCode,
        from: Date,
        to: Date,
    ) -> Result<Vec<ClaimRecord>, StoreError> {
        let institution = institution.to_string();
        self.read(move |conn| {
            let (low, high) = scope_bounds(scope);
            let (first, after) = day_bounds(from, to);
            let rows = query_all(
                conn,
                "SELECT region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, reversed_at, reversal_reason \
                 FROM claims WHERE institution_code = ?1 AND region_code BETWEEN ?2 AND ?3 \
                 AND ((settled_at >= ?4 AND settled_at < ?5) OR (reversed_at >= ?4 AND reversed_at < ?5)) \
                 ORDER BY settled_at, claim_id LIMIT ?6",
                params![institution, low, high, first, after, i64::try_from(RECONCILIATION_ROWS_MAX + 1).unwrap_or(i64::MAX)],
                claim_from_row,
            )?;
            if rows.len() > RECONCILIATION_ROWS_MAX {
                return Err(too_many_rows());
            }
            Ok(rows)
        })
        .await
    }
}

/// Writes a new visit (its id checked free by the caller), marked with the migration that
/// brought it, if one did.
pub(crate) fn insert_visit(conn: &Connection, visit: &VisitRecord, migration: Option<&str>) -> Result<(), StoreError> {
    visit.check()?;
    exec(
        conn,
        "INSERT INTO visits (institution_code, mdtrt_id, person_id, revision, state, updated_at, migration_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            visit.institution_code.to_string(),
            visit.mdtrt_id,
            visit.person_id.as_str(),
            visit.revision,
            visit.state,
            time_text(visit.updated_at)?,
            migration
        ],
    )?;
    Ok(())
}
