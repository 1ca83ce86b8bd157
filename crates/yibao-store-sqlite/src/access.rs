//! Staff, sessions, institutions and contributions on SQLite.

use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use yibao_domain::{NationalId, RegionCode};
use yibao_store::{
    AccessStore, Actor, ContributionRecord, ContributionStore, CountyArrears, InstitutionRecord, InstitutionUpdate, NewContribution,
    NewInstitution, NewStaff, PersonArrears, ReceiptSource, SEARCH_LIMIT, SessionRecord, SignInRefusal, StaffRecord, StaffUpdate,
    StoreError, check_scope,
};

use yibao_store::physician::{NewPhysician, PHYSICIANS_PER_INSTITUTION_MAX, PenaltyRules, PhysicianChange, PhysicianRecord};
use yibao_store::stored::{fen_of, institution_of, kind_of, level_of, name_of, period_of, role_of, time_of, time_text};

use crate::{SqliteStore, audit, col, exec, id_of, json, locate, query_all, query_opt, region_of, scope_bounds};

const STAFF_BY_NAME: &str = "SELECT username, display_name, password_hash, role, region_code, active FROM staff WHERE username = ?1";
const PHYSICIAN_BY_CODE: &str = "SELECT code, institution_code, region_code, name, registered_on, book FROM physicians WHERE code = ?1";
const INSTITUTION_BY_CODE: &str =
    "SELECT code, name, region_code, level, active, level_changes, agreement FROM institutions WHERE code = ?1";

fn staff_from_row(row: &Row<'_>) -> Result<StaffRecord, StoreError> {
    Ok(StaffRecord {
        username: col(row, 0)?,
        display_name: col(row, 1)?,
        password_hash: col(row, 2)?,
        role: role_of(&col::<String>(row, 3)?)?,
        region: region_of(&col::<String>(row, 4)?)?,
        active: col::<i64>(row, 5)? != 0,
    })
}

/// An institution row: code, name, region_code, level, active, level_changes, agreement.
fn institution_from_row(row: &Row<'_>) -> Result<InstitutionRecord, StoreError> {
    Ok(InstitutionRecord {
        code: institution_of(&col::<String>(row, 0)?)?,
        name: col(row, 1)?,
        region: region_of(&col::<String>(row, 2)?)?,
        level: level_of(&col::<String>(row, 3)?)?,
        active: col::<i64>(row, 4)? != 0,
        level_changes: InstitutionRecord::parse_level_changes(&col::<String>(row, 5)?)?,
        agreement: yibao_store::agreement::AgreementBook::parse(&col::<String>(row, 6)?)?,
    })
}

/// A physician row: code, institution_code, region_code, name, registered_on, book.
fn physician_from_row(row: &Row<'_>) -> Result<PhysicianRecord, StoreError> {
    PhysicianRecord::from_columns(
        &col::<String>(row, 0)?,
        &col::<String>(row, 1)?,
        &col::<String>(row, 2)?,
        &col::<String>(row, 3)?,
        &col::<String>(row, 4)?,
        &col::<String>(row, 5)?,
    )
}

pub(crate) fn contribution_from_row(row: &Row<'_>) -> Result<ContributionRecord, StoreError> {
    Ok(ContributionRecord {
        region: region_of(&col::<String>(row, 0)?)?,
        seq: col(row, 1)?,
        person_id: id_of(&col::<String>(row, 2)?)?,
        kind: kind_of(&col::<String>(row, 3)?)?,
        period: period_of(&col::<String>(row, 4)?)?,
        due_fen: fen_of(col(row, 5)?)?,
        paid_fen: fen_of(col(row, 6)?)?,
        breakdown_json: col(row, 7)?,
        recorded_at: time_of(&col::<String>(row, 8)?)?,
    })
}

impl AccessStore for SqliteStore {
    async fn create_staff(&self, actor: &Actor, staff: NewStaff) -> Result<StaffRecord, StoreError> {
        staff.check()?;
        let actor = actor.clone();
        self.write(move |conn| {
            if query_opt(conn, "SELECT 1 FROM staff WHERE username = ?1", [&staff.username], |row| col::<i64>(row, 0))?.is_some() {
                return Err(StoreError::Exists(format!("staff account {}", staff.username)));
            }
            exec(
                conn,
                "INSERT INTO staff (username, display_name, password_hash, role, region_code, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
                params![staff.username, staff.display_name, staff.password_hash, staff.role.as_str(), staff.region.to_string(), actor.at_text()],
            )?;
            let record = StaffRecord {
                username: staff.username,
                display_name: staff.display_name,
                password_hash: staff.password_hash,
                role: staff.role,
                region: staff.region,
                active: true,
            };
            audit(conn, &actor, record.region, "staff.create", &record.username, json(&record)?)?;
            Ok(record)
        })
        .await
    }

    async fn staff(&self, username: &str) -> Result<Option<StaffRecord>, StoreError> {
        let username = username.to_owned();
        self.read(move |conn| query_opt(conn, STAFF_BY_NAME, [&username], staff_from_row)).await
    }

    async fn create_session(&self, actor: &Actor, token_hash: &str, username: &str, expires_at: OffsetDateTime) -> Result<(), StoreError> {
        let (actor, token_hash, username, expires) = (actor.clone(), token_hash.to_owned(), username.to_owned(), time_text(expires_at)?);
        self.write(move |conn| {
            let region = query_opt(conn, "SELECT region_code FROM staff WHERE username = ?1 AND active = 1", [&username], |row| {
                region_of(&col::<String>(row, 0)?)
            })?
            .ok_or_else(|| StoreError::Invalid(format!("no active staff account {username}")))?;
            exec(
                conn,
                "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, username, actor.at_text(), expires],
            )?;
            audit(conn, &actor, region, "session.create", &username, format!("{{\"expires_at\":\"{expires}\"}}"))
        })
        .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            query_opt(
                conn,
                "SELECT s.username, s.expires_at, s.revoked_at, f.role, f.region_code, f.active FROM sessions s JOIN staff f ON f.username = s.username WHERE s.token_hash = ?1",
                [&token_hash],
                |row| {
                    let expires: String = col(row, 1)?;
                    Ok(SessionRecord {
                        username: col(row, 0)?,
                        expires_at: OffsetDateTime::parse(&expires, &Rfc3339).map_err(|e| StoreError::Backend(e.to_string()))?,
                        revoked: col::<Option<String>>(row, 2)?.is_some(),
                        role: role_of(&col::<String>(row, 3)?)?,
                        region: region_of(&col::<String>(row, 4)?)?,
                        active: col::<i64>(row, 5)? != 0,
                    })
                },
            )
        })
        .await
    }

    async fn revoke_session(&self, actor: &Actor, token_hash: &str) -> Result<(), StoreError> {
        let (actor, token_hash) = (actor.clone(), token_hash.to_owned());
        self.write(move |conn| {
            let found = query_opt(
                conn,
                "SELECT s.username, f.region_code FROM sessions s JOIN staff f ON f.username = s.username WHERE s.token_hash = ?1",
                [&token_hash],
                |row| Ok((col::<String>(row, 0)?, region_of(&col::<String>(row, 1)?)?)),
            )?;
            let Some((username, region)) = found else { return Ok(()) };
            exec(
                conn,
                "UPDATE sessions SET revoked_at = ?1 WHERE token_hash = ?2 AND revoked_at IS NULL",
                params![actor.at_text(), token_hash],
            )?;
            audit(conn, &actor, region, "session.revoke", &username, "{}".to_owned())
        })
        .await
    }

    async fn record_sign_in_refusal(&self, actor: &Actor, region: RegionCode, refusal: SignInRefusal) -> Result<(), StoreError> {
        refusal.check()?;
        let (actor, detail) = (actor.clone(), refusal.detail()?);
        self.write(move |conn| audit(conn, &actor, region, refusal.outcome.action(), &refusal.username, detail)).await
    }

    async fn create_institution(&self, actor: &Actor, institution: NewInstitution) -> Result<InstitutionRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| insert_institution(conn, &actor, institution, None)).await
    }

    async fn institution_by_key(&self, api_key_hash: &str) -> Result<Option<InstitutionRecord>, StoreError> {
        let api_key_hash = api_key_hash.to_owned();
        self.read(move |conn| {
            query_opt(
                conn,
                "SELECT code, name, region_code, level, active, level_changes, agreement FROM institutions WHERE api_key_hash = ?1",
                [&api_key_hash],
                institution_from_row,
            )
        })
        .await
    }

    async fn institutions(&self, scope: RegionCode) -> Result<Vec<InstitutionRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT code, name, region_code, level, active, level_changes, agreement FROM institutions WHERE region_code BETWEEN ?1 AND ?2 ORDER BY code LIMIT ?3",
                params![low, high, yibao_store::INSTITUTIONS_LIMIT],
                institution_from_row,
            )
        })
        .await
    }

    async fn register_physician(&self, actor: &Actor, scope: RegionCode, physician: NewPhysician) -> Result<PhysicianRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let institution = query_opt(conn, INSTITUTION_BY_CODE, [physician.institution.as_str()], institution_from_row)?
                .filter(|institution| scope.contains(institution.region))
                .ok_or_else(|| StoreError::InstitutionNotFound(physician.institution.to_string()))?;
            if query_opt(conn, "SELECT 1 FROM physicians WHERE code = ?1", [physician.code.as_str()], |row| col::<i64>(row, 0))?.is_some() {
                return Err(StoreError::Exists(format!("physician {}", physician.code)));
            }
            let count =
                query_opt(conn, "SELECT COUNT(*) FROM physicians WHERE institution_code = ?1", [physician.institution.as_str()], |row| {
                    col::<i64>(row, 0)
                })?
                .unwrap_or(0);
            if count >= PHYSICIANS_PER_INSTITUTION_MAX {
                return Err(StoreError::Invalid(format!("an institution registers at most {PHYSICIANS_PER_INSTITUTION_MAX} physicians")));
            }
            let record = PhysicianRecord::new(physician, institution.region);
            exec(
                conn,
                "INSERT INTO physicians (code, institution_code, region_code, name, registered_on, book) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    record.code.as_str(),
                    record.institution.as_str(),
                    record.region.to_string(),
                    record.name.as_str(),
                    record.registered_on.to_string(),
                    record.book.to_json()?
                ],
            )?;
            audit(conn, &actor, record.region, "physician.register", &record.code, json(&record)?)?;
            Ok(record)
        })
        .await
    }

    async fn physician(&self, code: &str) -> Result<Option<PhysicianRecord>, StoreError> {
        let code = code.to_owned();
        self.read(move |conn| query_opt(conn, PHYSICIAN_BY_CODE, [&code], physician_from_row)).await
    }

    async fn physicians_of(&self, scope: RegionCode, institution: &str) -> Result<Vec<PhysicianRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let institution = institution.to_owned();
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT code, institution_code, region_code, name, registered_on, book FROM physicians \
                 WHERE institution_code = ?1 AND region_code BETWEEN ?2 AND ?3 ORDER BY code LIMIT ?4",
                params![institution, low, high, PHYSICIANS_PER_INSTITUTION_MAX],
                physician_from_row,
            )
        })
        .await
    }

    async fn update_physician(
        &self,
        actor: &Actor,
        scope: RegionCode,
        code: &str,
        change: PhysicianChange,
        rules: PenaltyRules,
    ) -> Result<PhysicianRecord, StoreError> {
        let (actor, code) = (actor.clone(), code.to_owned());
        self.write(move |conn| {
            let mut record = query_opt(conn, PHYSICIAN_BY_CODE, [&code], physician_from_row)?
                .filter(|physician| scope.contains(physician.region))
                .ok_or_else(|| StoreError::PhysicianNotFound(code.clone()))?;
            let detail = record.book.apply(&change, rules, record.registered_on)?;
            exec(conn, "UPDATE physicians SET book = ?1 WHERE code = ?2", params![record.book.to_json()?, code])?;
            audit(conn, &actor, record.region, "physician.update", &code, detail.to_string())?;
            Ok(record)
        })
        .await
    }

    async fn staff_in(&self, scope: RegionCode) -> Result<Vec<StaffRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT username, display_name, password_hash, role, region_code, active FROM staff WHERE region_code BETWEEN ?1 AND ?2 ORDER BY username LIMIT ?3",
                params![low, high, SEARCH_LIMIT],
                staff_from_row,
            )
        })
        .await
    }

    async fn update_staff(&self, actor: &Actor, scope: RegionCode, username: &str, update: StaffUpdate) -> Result<StaffRecord, StoreError> {
        let (actor, username) = (actor.clone(), username.to_owned());
        self.write(move |conn| {
            let mut record = query_opt(conn, STAFF_BY_NAME, [&username], staff_from_row)?
                .filter(|staff| scope.contains(staff.region))
                .ok_or_else(|| StoreError::StaffNotFound(username.clone()))?;
            let (detail, ends_sessions) = update.apply(scope, &mut record)?;
            exec(
                conn,
                "UPDATE staff SET display_name = ?1, password_hash = ?2, role = ?3, region_code = ?4, active = ?5 WHERE username = ?6",
                params![
                    record.display_name,
                    record.password_hash,
                    record.role.as_str(),
                    record.region.to_string(),
                    i64::from(record.active),
                    username
                ],
            )?;
            if ends_sessions {
                exec(
                    conn,
                    "UPDATE sessions SET revoked_at = ?1 WHERE username = ?2 AND revoked_at IS NULL",
                    params![actor.at_text(), username],
                )?;
            }
            audit(conn, &actor, record.region, "staff.update", &username, detail)?;
            Ok(record)
        })
        .await
    }

    async fn update_institution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        code: &str,
        update: InstitutionUpdate,
    ) -> Result<InstitutionRecord, StoreError> {
        let (actor, code) = (actor.clone(), code.to_owned());
        self.write(move |conn| {
            let mut record = query_opt(conn, INSTITUTION_BY_CODE, [&code], institution_from_row)?
                .filter(|institution| scope.contains(institution.region))
                .ok_or_else(|| StoreError::InstitutionNotFound(code.clone()))?;
            let detail = update.apply(scope, &mut record)?;
            exec(
                conn,
                "UPDATE institutions SET name = ?1, level = ?2, active = ?3, api_key_hash = COALESCE(?4, api_key_hash), level_changes = ?5, agreement = ?6 WHERE code = ?7",
                params![
                    record.name,
                    record.level.as_str(),
                    i64::from(record.active),
                    update.api_key_hash,
                    record.level_changes_json()?,
                    record.agreement.to_json()?,
                    code
                ],
            )?;
            audit(conn, &actor, record.region, "institution.update", &code, detail)?;
            Ok(record)
        })
        .await
    }
}

impl ContributionStore for SqliteStore {
    async fn record_contribution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contribution: NewContribution,
    ) -> Result<ContributionRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            crate::employer::check_not_declared(conn, &contribution)?;
            crate::arrears::check_not_in_plan(conn, &contribution.person_id, contribution.kind, contribution.period, true)?;
            insert_contribution(conn, &actor, scope, contribution, false)
        })
        .await
    }

    async fn record_receipted_contribution(
        &self,
        actor: &Actor,
        scope: RegionCode,
        contribution: NewContribution,
        receipt: String,
    ) -> Result<ContributionRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            // The person is the caller's: the record a receipt made may be booked in a
            // county the person has since left (a period stays where it began).
            locate(conn, scope, &contribution.person_id)?;
            if let Some(earlier) = receipt_recorded(conn, &contribution.person_id, &receipt)? {
                return match earlier {
                    (ReceiptSource::Counter, Some((region, seq))) => {
                        let record = query_opt(
                            conn,
                            "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
                             WHERE region_code = ?1 AND seq = ?2",
                            params![region, seq],
                            contribution_from_row,
                        )?
                        .ok_or_else(|| StoreError::Backend(format!("receipt {receipt} names no record")))?;
                        yibao_store::replayed_receipt(record, &contribution, &receipt)
                    }
                    _ => Err(yibao_store::receipt_of_plan(&receipt)),
                };
            }
            crate::employer::check_not_declared(conn, &contribution)?;
            crate::arrears::check_not_in_plan(conn, &contribution.person_id, contribution.kind, contribution.period, true)?;
            let record = insert_contribution(conn, &actor, scope, contribution, false)?;
            exec(
                conn,
                "INSERT INTO contribution_receipts (person_id, receipt, source, region_code, seq) VALUES (?1, ?2, 'counter', ?3, ?4)",
                params![record.person_id.as_str(), receipt, record.region.to_string(), record.seq],
            )?;
            Ok(record)
        })
        .await
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
        let actor = actor.clone();
        self.write(move |conn| {
            let count = contributions.len();
            for contribution in contributions {
                crate::employer::check_not_declared(conn, &contribution)?;
                crate::arrears::check_not_in_plan(conn, &contribution.person_id, contribution.kind, contribution.period, true)?;
                insert_contribution(conn, &actor, scope, contribution, false)?;
            }
            Ok(count)
        })
        .await
    }

    async fn contributions_of(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<ContributionRecord>, StoreError> {
        let person = *person;
        self.read(move |conn| {
            let (_, record) = locate(conn, scope, &person)?;
            // Every county the person was insured in, inside the scope: a period's records
            // stay where it began (R-ENR-5).
            let mut records = Vec::new();
            for region in yibao_store::regions_of(&record.coverage, &record.history).into_iter().filter(|r| scope.contains(*r)) {
                records.extend(query_all(
                    conn,
                    "SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions \
                     WHERE region_code = ?1 AND person_id = ?2 ORDER BY period DESC, seq DESC LIMIT ?3",
                    params![region.to_string(), person.as_str(), SEARCH_LIMIT],
                    contribution_from_row,
                )?);
            }
            records.sort_by_key(|r| std::cmp::Reverse((r.period.to_string(), r.recorded_at, r.seq)));
            records.truncate(usize::try_from(SEARCH_LIMIT).unwrap_or(usize::MAX));
            Ok(records)
        })
        .await
    }

    async fn arrears(&self, scope: RegionCode, period: &str, limit: usize) -> Result<(Vec<PersonArrears>, Vec<CountyArrears>), StoreError> {
        let (low, high) = scope_bounds(scope);
        let like = format!("{}%", period.replace(['%', '_'], ""));
        // Per person, kind and period: what was due less what was paid, where positive.
        let mut persons = self
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT c.region_code, c.person_id, p.name, c.kind, c.period, MAX(c.due_fen) - SUM(c.paid_fen) AS owed \
                     FROM contributions c JOIN persons p ON p.region_code = c.region_code AND p.person_id = c.person_id \
                     WHERE c.region_code BETWEEN ?1 AND ?2 AND c.period LIKE ?3 \
                     GROUP BY c.region_code, c.person_id, p.name, c.kind, c.period HAVING MAX(c.due_fen) - SUM(c.paid_fen) > 0 \
                     ORDER BY c.region_code, owed DESC, c.person_id, c.kind, c.period",
                    params![low, high, like],
                    |row| {
                        Ok(PersonArrears {
                            region: region_of(&col::<String>(row, 0)?)?,
                            person_id: id_of(&col::<String>(row, 1)?)?,
                            name: name_of(&col::<String>(row, 2)?)?,
                            kind: kind_of(&col::<String>(row, 3)?)?,
                            period: period_of(&col::<String>(row, 4)?)?,
                            owed_fen: fen_of(col(row, 5)?)?,
                        })
                    },
                )
            })
            .await?;
        let mut counties: Vec<CountyArrears> = Vec::new();
        for entry in &persons {
            match counties.last_mut() {
                Some(county) if county.region == entry.region => {
                    county.persons += 1;
                    county.owed_fen += entry.owed_fen;
                }
                _ => counties.push(CountyArrears { region: entry.region, persons: 1, owed_fen: entry.owed_fen }),
            }
        }
        persons.truncate(limit.min(yibao_store::ARREARS_LINES_MAX));
        Ok((persons, counties))
    }
}

/// Records one contribution, with its audit entry, inside the writer's transaction. A
/// `migrated` one (a legacy system's record, issue 16) posts nothing and credits no
/// account: its money came with the fund's handed-over balance (`contribution.migrate`).
pub(crate) fn insert_contribution(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    contribution: NewContribution,
    migrated: bool,
) -> Result<ContributionRecord, StoreError> {
    if contribution.due_fen.is_negative() || contribution.paid_fen.is_negative() {
        return Err(StoreError::Invalid("amounts may not be negative".into()));
    }
    let (current_region, person) = locate(conn, scope, &contribution.person_id)?;
    check_scope(scope, current_region)?;
    // A period's records are one chain, booked in the county where its first was, however
    // the person moved since (R-ENR-5): a payment completes what the earlier ones began.
    let mut region = current_region;
    for earlier in yibao_store::regions_of(&person.coverage, &person.history) {
        let booked = query_opt(
            conn,
            "SELECT 1 FROM contributions WHERE region_code = ?1 AND person_id = ?2 AND kind = ?3 AND period = ?4 LIMIT 1",
            params![earlier.to_string(), contribution.person_id.as_str(), contribution.kind.as_str(), contribution.period.to_string()],
            |row| col::<i64>(row, 0),
        )?;
        if booked.is_some() {
            region = earlier;
            break;
        }
    }
    // What earlier records paid for the same period: the record that completes it brings
    // the subsidies and the account's share (`contribution_entries`).
    let paid_before = query_opt(
        conn,
        "SELECT COUNT(*), COALESCE(SUM(paid_fen), 0), COALESCE(MAX(due_fen), 0) FROM contributions \
         WHERE region_code = ?1 AND person_id = ?2 AND kind = ?3 AND period = ?4",
        params![region.to_string(), contribution.person_id.as_str(), contribution.kind.as_str(), contribution.period.to_string()],
        |row| Ok((col::<i64>(row, 0)?, col::<i64>(row, 1)?, col::<i64>(row, 2)?)),
    )?
    .and_then(|(count, paid_fen, due_fen)| (count > 0).then_some(yibao_store::books::PaidBefore { paid_fen, due_fen }));
    let seq = query_opt(conn, "SELECT COALESCE(MAX(seq), 0) + 1 FROM contributions WHERE region_code = ?1", [region.to_string()], |row| {
        col::<i64>(row, 0)
    })?
    .unwrap_or(1);
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
    exec(
        conn,
        "INSERT INTO contributions (region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at, migrated) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            region.to_string(),
            seq,
            record.person_id.as_str(),
            record.kind.as_str(),
            record.period.to_string(),
            record.due_fen.get(),
            record.paid_fen.get(),
            record.breakdown_json,
            time_text(record.recorded_at)?,
            migrated
        ],
    )?;
    if migrated {
        // The rules of a payment (one bill per period, never paid beyond it) hold for a
        // legacy record too; what it would post is not posted.
        yibao_store::books::contribution_entries(&record, paid_before, actor.at.date())?;
        audit(conn, actor, region, "contribution.migrate", record.person_id.as_str(), json(&record)?)?;
        return Ok(record);
    }
    let entries = yibao_store::books::contribution_entries(&record, paid_before, actor.at.date())?;
    crate::books::post(conn, actor, &entries)?;
    let credited: yibao_domain::Fen =
        entries.iter().filter(|e| e.transfer.reason == yibao_ledger::Reason::PersonalAccountCredit).map(|e| e.transfer.amount_fen).sum();
    if !credited.is_zero() {
        // The account is where the person is insured now.
        let mut coverage = person.coverage;
        coverage.personal_account_balance += credited;
        crate::save_coverage(conn, actor, current_region, &record.person_id, &coverage)?;
    }
    audit(conn, actor, region, "contribution.record", record.person_id.as_str(), json(&record)?)?;
    Ok(record)
}

/// Designates an institution (refused when its code exists), audited with the migration
/// that brought it, when one did.
pub(crate) fn insert_institution(
    conn: &Connection,
    actor: &Actor,
    institution: NewInstitution,
    migration: Option<&str>,
) -> Result<InstitutionRecord, StoreError> {
    if query_opt(conn, "SELECT 1 FROM institutions WHERE code = ?1", [institution.code.as_str()], |row| col::<i64>(row, 0))?.is_some() {
        return Err(StoreError::Exists(format!("institution {}", institution.code)));
    }
    exec(
        conn,
        "INSERT INTO institutions (code, name, region_code, level, api_key_hash, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
        params![
            institution.code.as_str(),
            institution.name,
            institution.region.to_string(),
            institution.level.as_str(),
            institution.api_key_hash,
            actor.at_text()
        ],
    )?;
    let record = InstitutionRecord::designated(institution);
    let detail = yibao_store::migration::audit_detail(&record, migration)?;
    audit(conn, actor, record.region, "institution.create", &record.code, detail)?;
    Ok(record)
}

/// Where a person's receipt was recorded, if it was: the path, and a counter payment's record
/// (region, seq).
pub(crate) fn receipt_recorded(
    conn: &Connection,
    person: &NationalId,
    receipt: &str,
) -> Result<Option<yibao_store::RecordedReceipt>, StoreError> {
    let row = query_opt(
        conn,
        "SELECT source, region_code, seq FROM contribution_receipts WHERE person_id = ?1 AND receipt = ?2",
        params![person.as_str(), receipt],
        |row| Ok((col::<String>(row, 0)?, col::<Option<String>>(row, 1)?, col::<Option<i64>>(row, 2)?)),
    )?;
    row.map(|(source, region, seq)| Ok((ReceiptSource::parse(&source)?, region.zip(seq)))).transpose()
}
