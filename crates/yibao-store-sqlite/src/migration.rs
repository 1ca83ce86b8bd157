//! Go-live migrations on SQLite (issue 16): each batch in one write transaction with its
//! migration's record.

use rusqlite::{Connection, params};
use yibao_domain::{ContributionKind, NationalId, RegionCode};
use yibao_engine::{Accumulators, Coverage};
use yibao_store::migration::{
    BatchOutcome, MIGRATION_BATCH_HOUSEHOLDS_MAX, MIGRATIONS_LISTED_MAX, MigrationBatch, MigrationRecord, MigrationStore, PROBE_KEYS_MAX,
    Reconciliation, RegisterProbe, Tally, accumulators_opened_detail, batch_position, check_preparable, check_same_migration, sign_off,
};
use yibao_store::{Actor, IMPORT_LIMIT, StoreError};

use crate::access::insert_contribution;
use crate::{SqliteStore, audit, col, exec, from_json, insert_household, insert_person, json, locate, query_all, query_opt};

fn read_record(conn: &Connection, city: RegionCode, id: &str) -> Result<Option<MigrationRecord>, StoreError> {
    query_opt(conn, "SELECT record FROM migrations WHERE region_code = ?1 AND id = ?2", params![city.to_string(), id], |row| {
        from_json(&col::<String>(row, 0)?)
    })
}

fn save_record(conn: &Connection, record: &MigrationRecord) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE migrations SET record = ?1 WHERE region_code = ?2 AND id = ?3",
        params![json(record)?, record.city.to_string(), record.id],
    )?;
    Ok(())
}

fn not_found(id: &str) -> StoreError {
    StoreError::Refused { code: "migration.not_found", message: format!("no migration {id} in this city") }
}

/// What the register holds of migration `id`'s persons, counted.
fn tally(conn: &Connection, id: &str) -> Result<Tally, StoreError> {
    let mut tally = Tally::default();
    for (region, count) in query_all(
        conn,
        "SELECT m.region_code, COUNT(DISTINCT m.household_id) FROM migration_persons m \
         JOIN households h ON h.region_code = m.region_code AND h.household_id = m.household_id \
         WHERE m.migration_id = ?1 GROUP BY m.region_code",
        params![id],
        |row| Ok((col::<String>(row, 0)?, col::<i64>(row, 1)?)),
    )? {
        tally.households(crate::region_of(&region)?, count);
    }
    let mut statement = conn
        .prepare_cached(
            "SELECT p.coverage FROM migration_persons m JOIN persons p ON p.region_code = m.region_code AND p.person_id = m.person_id \
             WHERE m.migration_id = ?1",
        )
        .map_err(crate::backend)?;
    let mut rows = statement.query(params![id]).map_err(crate::backend)?;
    while let Some(row) = rows.next().map_err(crate::backend)? {
        tally.person(&from_json::<Coverage>(&col::<String>(row, 0)?)?);
    }
    for (region, kind, count, due, paid) in query_all(
        conn,
        "SELECT c.region_code, c.kind, COUNT(*), COALESCE(SUM(c.due_fen), 0), COALESCE(SUM(c.paid_fen), 0) FROM migration_persons m \
         JOIN contributions c ON c.region_code = m.region_code AND c.person_id = m.person_id \
         WHERE m.migration_id = ?1 GROUP BY c.region_code, c.kind",
        params![id],
        |row| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?, col::<i64>(row, 2)?, col::<i64>(row, 3)?, col::<i64>(row, 4)?)),
    )? {
        let kind = ContributionKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("a contribution of kind {kind}")))?;
        tally.contributions(crate::region_of(&region)?, kind, count, due, paid);
    }
    let mut statement = conn
        .prepare_cached(
            "SELECT a.region_code, a.state FROM migration_persons m \
             JOIN accumulators a ON a.region_code = m.region_code AND a.person_id = m.person_id WHERE m.migration_id = ?1",
        )
        .map_err(crate::backend)?;
    let mut rows = statement.query(params![id]).map_err(crate::backend)?;
    while let Some(row) = rows.next().map_err(crate::backend)? {
        tally.accumulators(crate::region_of(&col::<String>(row, 0)?)?, &from_json::<Accumulators>(&col::<String>(row, 1)?)?);
    }
    for (region, count) in query_all(
        conn,
        "SELECT e.region_code, COUNT(*) FROM migration_employers m JOIN employers e ON e.code = m.code \
         WHERE m.migration_id = ?1 GROUP BY e.region_code",
        params![id],
        |row| Ok((col::<String>(row, 0)?, col::<i64>(row, 1)?)),
    )? {
        tally.employers(crate::region_of(&region)?, count);
    }
    for (region, count) in query_all(
        conn,
        "SELECT i.region_code, COUNT(*) FROM migration_institutions m JOIN institutions i ON i.code = m.code \
         WHERE m.migration_id = ?1 GROUP BY i.region_code",
        params![id],
        |row| Ok((col::<String>(row, 0)?, col::<i64>(row, 1)?)),
    )? {
        tally.institutions(crate::region_of(&region)?, count);
    }
    for (region, count) in query_all(
        conn,
        // Driven by the migration's visits (a few thousand), each person's county looked up
        // by key: a join the planner may drive from the million persons instead.
        "SELECT (SELECT m.region_code FROM migration_persons m WHERE m.migration_id = v.migration_id AND m.person_id = v.person_id) AS region, \
         COUNT(*) FROM visits v WHERE v.migration_id = ?1 GROUP BY region",
        params![id],
        |row| Ok((col::<String>(row, 0)?, col::<i64>(row, 1)?)),
    )? {
        tally.open_stays(crate::region_of(&region)?, count);
    }
    Ok(tally)
}

/// A person's opening accumulators for a year: the row must not exist yet.
fn open_accumulators(
    conn: &Connection,
    actor: &Actor,
    scope: RegionCode,
    migration: &str,
    person: &NationalId,
    accumulators: &Accumulators,
) -> Result<(), StoreError> {
    let (region, _) = locate(conn, scope, person)?;
    let written = exec(
        conn,
        "INSERT INTO accumulators (region_code, person_id, year, state) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![region.to_string(), person.as_str(), accumulators.year, json(accumulators)?],
    )?;
    if written == 0 {
        return Err(StoreError::Exists(format!("the {} accumulators of {person}", accumulators.year)));
    }
    audit(conn, actor, region, "accumulators.open", person.as_str(), accumulators_opened_detail(migration, accumulators).to_string())
}

impl MigrationStore for SqliteStore {
    async fn begin_migration(&self, actor: &Actor, record: MigrationRecord) -> Result<MigrationRecord, StoreError> {
        MigrationRecord::check_id(&record.id)?;
        let actor = actor.clone();
        self.write(move |conn| {
            if let Some(existing) = read_record(conn, record.city, &record.id)? {
                check_same_migration(&existing, &record)?;
                return Ok(existing);
            }
            exec(
                conn,
                "INSERT INTO migrations (region_code, id, started_at, record) VALUES (?1, ?2, ?3, ?4)",
                params![record.city.to_string(), record.id, actor.at_text(), json(&record)?],
            )?;
            let detail = serde_json::json!({ "files": record.files, "batches": record.batches, "legacy": record.legacy });
            audit(conn, &actor, record.city, "migration.begin", &record.id, detail.to_string())?;
            Ok(record)
        })
        .await
    }

    async fn load_migration_batch(&self, actor: &Actor, city: RegionCode, batch: MigrationBatch) -> Result<BatchOutcome, StoreError> {
        if batch.households.len() > MIGRATION_BATCH_HOUSEHOLDS_MAX
            || batch.contributions.len() > IMPORT_LIMIT * 10
            || batch.accumulators.len() > IMPORT_LIMIT * 10
        {
            return Err(StoreError::Invalid(format!("a migration batch carries at most {MIGRATION_BATCH_HOUSEHOLDS_MAX} households")));
        }
        let actor = actor.clone();
        self.write(move |conn| {
            let mut record = read_record(conn, city, &batch.migration)?.ok_or_else(|| not_found(&batch.migration))?;
            if batch_position(&record, batch.batch)? == BatchOutcome::AlreadyLoaded {
                return Ok(BatchOutcome::AlreadyLoaded);
            }
            for entry in batch.households {
                insert_household(conn, &actor, city, entry.household)?;
                record.households += 1;
                for member in entry.members {
                    let person = insert_person(conn, &actor, city, member)?;
                    exec(
                        conn,
                        "INSERT INTO migration_persons (region_code, person_id, migration_id, household_id) VALUES (?1, ?2, ?3, ?4)",
                        params![
                            person.coverage.region.to_string(),
                            person.person_id.as_str(),
                            batch.migration,
                            person.household_id.as_str()
                        ],
                    )?;
                    record.persons += 1;
                }
            }
            for contribution in batch.contributions {
                insert_contribution(conn, &actor, city, contribution, true)?;
            }
            for (person, accumulators) in &batch.accumulators {
                open_accumulators(conn, &actor, city, &batch.migration, person, accumulators)?;
            }
            for employer in batch.employers {
                let record = crate::employer::insert_employer(conn, &actor, employer, Some(&batch.migration))?;
                exec(
                    conn,
                    "INSERT INTO migration_employers (migration_id, code) VALUES (?1, ?2)",
                    params![batch.migration, record.code.as_str()],
                )?;
            }
            for institution in batch.institutions {
                let record = crate::access::insert_institution(conn, &actor, institution, Some(&batch.migration))?;
                exec(
                    conn,
                    "INSERT INTO migration_institutions (migration_id, code) VALUES (?1, ?2)",
                    params![batch.migration, record.code.as_str()],
                )?;
            }
            for (person, months) in &batch.carried_months {
                let (region, _) = crate::locate(conn, city, person)?;
                exec(
                    conn,
                    "INSERT INTO carried_contribution_months (person_id, months, recorded_at) VALUES (?1, ?2, ?3)",
                    params![person.as_str(), i64::from(*months), crate::time_text(actor.at)?],
                )?;
                let detail = serde_json::json!({ "months": months, "migration": batch.migration });
                audit(conn, &actor, region, "person.carried_months", person.as_str(), detail.to_string())?;
            }
            for stay in &batch.stays {
                // The person is this batch's or an earlier one's: the stay is theirs, in the
                // city (a visit names no county of its own).
                locate(conn, city, &stay.person_id)?;
                let taken = query_opt(
                    conn,
                    "SELECT 1 FROM visits WHERE institution_code = ?1 AND mdtrt_id = ?2",
                    params![stay.institution_code.to_string(), stay.mdtrt_id],
                    |row| col::<i64>(row, 0),
                )?;
                if taken.is_some() {
                    return Err(StoreError::Exists(format!("visit {} of {}", stay.mdtrt_id, stay.institution_code)));
                }
                crate::interface::insert_visit(conn, stay, Some(&batch.migration))?;
            }
            record.batches_loaded += 1;
            if record.is_loaded() {
                record.loaded_at = Some(actor.at);
                let detail = serde_json::json!({ "households": record.households, "persons": record.persons });
                audit(conn, &actor, city, "migration.loaded", &record.id, detail.to_string())?;
            }
            save_record(conn, &record)?;
            Ok(BatchOutcome::Loaded)
        })
        .await
    }

    async fn migration(&self, city: RegionCode, id: &str) -> Result<Option<MigrationRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| read_record(conn, city, &id)).await
    }

    async fn migrations(&self, city: RegionCode) -> Result<Vec<MigrationRecord>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT record FROM migrations WHERE region_code = ?1 ORDER BY started_at DESC, id LIMIT ?2",
                params![city.to_string(), MIGRATIONS_LISTED_MAX as i64],
                |row| from_json(&col::<String>(row, 0)?),
            )
        })
        .await
    }

    async fn migration_tally(&self, _city: RegionCode, id: &str) -> Result<Tally, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| tally(conn, &id)).await
    }

    async fn probe_register(&self, scope: RegionCode, probe: RegisterProbe) -> Result<RegisterProbe, StoreError> {
        if probe.keys() > PROBE_KEYS_MAX {
            return Err(StoreError::Invalid(format!("a probe asks about at most {PROBE_KEYS_MAX} keys")));
        }
        self.read(move |conn| {
            let mut found = RegisterProbe::default();
            for person in probe.persons {
                let span = query_opt(
                    conn,
                    "SELECT json_extract(p.coverage, '$.coverage_from'), json_extract(p.coverage, '$.coverage_until'), p.history, p.died_on \
                     FROM person_index i JOIN persons p ON p.region_code = i.region_code AND p.person_id = i.person_id WHERE i.person_id = ?1",
                    [person.as_str()],
                    |row| Ok((col::<String>(row, 0)?, col::<Option<String>>(row, 1)?, col::<String>(row, 2)?, col::<Option<String>>(row, 3)?)),
                )?;
                let Some((from, until, history, died_on)) = span else { continue };
                let day =
                    |text: &str| yibao_domain::parse_date(text).map_err(|e| StoreError::Backend(format!("a stored coverage date: {e}")));
                let history: Vec<yibao_engine::PastCoverage> = yibao_store::stored::from_json(&history)?;
                found.coverage.extend(history.iter().map(|past| (person, past.coverage.coverage_from, past.coverage.coverage_until)));
                found.coverage.push((person, day(&from)?, until.as_deref().map(day).transpose()?));
                if let Some(died_on) = died_on {
                    found.deaths.push((person, day(&died_on)?));
                }
                found.persons.push(person);
            }
            for (region, household) in probe.households {
                let held = query_opt(
                    conn,
                    "SELECT 1 FROM households WHERE region_code = ?1 AND household_id = ?2",
                    params![region.to_string(), household],
                    |row| col::<i64>(row, 0),
                )?;
                if held.is_some() && scope.contains(region) {
                    found.households.push((region, household));
                }
            }
            for (region, card) in probe.cards {
                let held = query_opt(
                    conn,
                    "SELECT 1 FROM persons WHERE region_code = ?1 AND card_no = ?2",
                    params![region.to_string(), card],
                    |row| col::<i64>(row, 0),
                )?;
                if held.is_some() && scope.contains(region) {
                    found.cards.push((region, card));
                }
            }
            for (institution, mdtrt_id) in probe.visits {
                let held = query_opt(
                    conn,
                    "SELECT 1 FROM visits WHERE institution_code = ?1 AND mdtrt_id = ?2",
                    params![institution.to_string(), mdtrt_id],
                    |row| col::<i64>(row, 0),
                )?;
                if held.is_some() {
                    found.visits.push((institution, mdtrt_id));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn prepare_migration_report(&self, actor: &Actor, city: RegionCode, id: &str) -> Result<MigrationRecord, StoreError> {
        let (actor, id) = (actor.clone(), id.to_owned());
        self.write(move |conn| {
            let mut record = read_record(conn, city, &id)?.ok_or_else(|| not_found(&id))?;
            check_preparable(&record)?;
            let report = Reconciliation::compare(&record.legacy, &tally(conn, &id)?, actor.who.clone(), actor.at);
            let detail = serde_json::json!({ "checksum": report.checksum, "differences": report.differences().count() });
            record.report = Some(report);
            save_record(conn, &record)?;
            audit(conn, &actor, city, "migration.report", &id, detail.to_string())?;
            Ok(record)
        })
        .await
    }

    async fn sign_off_migration(&self, actor: &Actor, city: RegionCode, id: &str, checksum: &str) -> Result<MigrationRecord, StoreError> {
        let (actor, id, checksum) = (actor.clone(), id.to_owned(), checksum.to_owned());
        self.write(move |conn| {
            let mut record = read_record(conn, city, &id)?.ok_or_else(|| not_found(&id))?;
            let now = Reconciliation::compare(&record.legacy, &tally(conn, &id)?, actor.who.clone(), actor.at);
            sign_off(&mut record, &actor, &checksum, &now)?;
            save_record(conn, &record)?;
            audit(conn, &actor, city, "migration.signed_off", &id, serde_json::json!({ "checksum": checksum }).to_string())?;
            Ok(record)
        })
        .await
    }
}
