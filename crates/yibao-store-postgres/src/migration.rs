//! Go-live migrations on PostgreSQL (issue 16): each batch in one transaction with its
//! migration's record, whose row it locks first.

use sqlx::PgConnection;
use yibao_domain::{ContributionKind, NationalId, RegionCode};
use yibao_engine::{Accumulators, Coverage};
use yibao_store::migration::{
    BatchOutcome, MIGRATION_BATCH_HOUSEHOLDS_MAX, MIGRATIONS_LISTED_MAX, MigrationBatch, MigrationRecord, MigrationStore, PROBE_KEYS_MAX,
    Reconciliation, RegisterProbe, Tally, accumulators_opened_detail, batch_position, check_preparable, check_same_migration, sign_off,
};
use yibao_store::{Actor, IMPORT_LIMIT, StoreError};

use crate::access::insert_contribution;
use crate::{Audits, PostgresStore, audit, backend, from_json, insert_household, insert_person, json, person_region, region_of};

async fn read_record(tx: &mut PgConnection, city: RegionCode, id: &str, lock: bool) -> Result<Option<MigrationRecord>, StoreError> {
    let sql = if lock {
        "SELECT record FROM migrations WHERE region_code = $1 AND id = $2 FOR UPDATE"
    } else {
        "SELECT record FROM migrations WHERE region_code = $1 AND id = $2"
    };
    let text: Option<String> = sqlx::query_scalar(sql).bind(city.to_string()).bind(id).fetch_optional(&mut *tx).await.map_err(backend)?;
    text.map(|t| from_json(&t)).transpose()
}

async fn save_record(tx: &mut PgConnection, record: &MigrationRecord) -> Result<(), StoreError> {
    sqlx::query("UPDATE migrations SET record = $1 WHERE region_code = $2 AND id = $3")
        .bind(json(record)?)
        .bind(record.city.to_string())
        .bind(&record.id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Rows the tally reads at a time.
const TALLY_PAGE: i64 = 10_000;

fn not_found(id: &str) -> StoreError {
    StoreError::Refused { code: "migration.not_found", message: format!("no migration {id} in this city") }
}

/// What the register holds of migration `id`'s persons, counted.
async fn tally(conn: &mut PgConnection, id: &str) -> Result<Tally, StoreError> {
    let mut tally = Tally::default();
    let households: Vec<(String, i64)> = sqlx::query_as(
        "SELECT m.region_code, COUNT(DISTINCT m.household_id)::int8 FROM migration_persons m \
         JOIN households h ON h.region_code = m.region_code AND h.household_id = m.household_id \
         WHERE m.migration_id = $1 GROUP BY m.region_code",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    for (region, count) in households {
        tally.households(region_of(&region)?, count);
    }
    // Paged by key: a city's migration is read a page at a time, never whole.
    let mut after = String::new();
    loop {
        let page: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.person_id, p.coverage::text FROM migration_persons m \
             JOIN persons p ON p.region_code = m.region_code AND p.person_id = m.person_id \
             WHERE m.migration_id = $1 AND m.person_id > $2 ORDER BY m.person_id LIMIT $3",
        )
        .bind(id)
        .bind(&after)
        .bind(TALLY_PAGE)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        for (_, coverage) in &page {
            tally.person(&from_json::<Coverage>(coverage)?);
        }
        match page.into_iter().last() {
            Some((person, _)) => after = person,
            None => break,
        }
    }
    let contributions: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT c.region_code, c.kind, COUNT(*)::int8, COALESCE(SUM(c.due_fen), 0)::int8, COALESCE(SUM(c.paid_fen), 0)::int8 \
         FROM migration_persons m \
         JOIN contributions c ON c.region_code = m.region_code AND c.person_id = m.person_id \
         WHERE m.migration_id = $1 GROUP BY c.region_code, c.kind",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    for (region, kind, count, due, paid) in contributions {
        let kind = ContributionKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("a contribution of kind {kind}")))?;
        tally.contributions(region_of(&region)?, kind, count, due, paid);
    }
    let mut after = (String::new(), 0_i32);
    loop {
        let page: Vec<(String, String, i32, String)> = sqlx::query_as(
            "SELECT a.region_code, a.person_id, a.year, a.state::text FROM migration_persons m \
             JOIN accumulators a ON a.region_code = m.region_code AND a.person_id = m.person_id \
             WHERE m.migration_id = $1 AND (a.person_id, a.year) > ($2, $3) ORDER BY a.person_id, a.year LIMIT $4",
        )
        .bind(id)
        .bind(&after.0)
        .bind(after.1)
        .bind(TALLY_PAGE)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        for (region, _, _, state) in &page {
            tally.accumulators(region_of(region)?, &from_json::<Accumulators>(state)?);
        }
        match page.into_iter().last() {
            Some((_, person, year, _)) => after = (person, year),
            None => break,
        }
    }
    let employers: Vec<(String, i64)> = sqlx::query_as(
        "SELECT e.region_code, COUNT(*)::int8 FROM migration_employers m JOIN employers e ON e.code = m.code \
         WHERE m.migration_id = $1 GROUP BY e.region_code",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    for (region, count) in employers {
        tally.employers(region_of(&region)?, count);
    }
    let institutions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT i.region_code, COUNT(*)::int8 FROM migration_institutions m JOIN institutions i ON i.code = m.code \
         WHERE m.migration_id = $1 GROUP BY i.region_code",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    for (region, count) in institutions {
        tally.institutions(region_of(&region)?, count);
    }
    let stays: Vec<(String, i64)> = sqlx::query_as(
        "SELECT (SELECT m.region_code FROM migration_persons m WHERE m.migration_id = v.migration_id AND m.person_id = v.person_id) AS region, \
         COUNT(*)::int8 FROM visits v WHERE v.migration_id = $1 GROUP BY region",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    for (region, count) in stays {
        tally.open_stays(region_of(&region)?, count);
    }
    Ok(tally)
}

/// A batch's legacy contributions (`contribution.migrate`, posting nothing), written a
/// county at a time in one statement: each region's numbers reserved at once from its
/// counter, the rows sent as arrays. A batch carries one record per person, kind and
/// period; for a person this batch enrolled it has no earlier record, so each is its
/// period's first and its rules (`contribution_entries`: not negative, never beyond what is
/// due) are checked on its own. A contribution of anyone else is written as one recording
/// writes it.
async fn insert_migrated_contributions(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    actor: &Actor,
    city: RegionCode,
    contributions: Vec<yibao_store::NewContribution>,
    enrolled: &std::collections::HashMap<NationalId, RegionCode>,
    audits: &mut Audits,
) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut by_region: std::collections::BTreeMap<RegionCode, Vec<yibao_store::NewContribution>> = std::collections::BTreeMap::new();
    for contribution in contributions {
        if !seen.insert((contribution.person_id, contribution.kind, contribution.period)) {
            return Err(StoreError::Invalid(format!(
                "{} {} of {} twice in one batch: a legacy period is one record",
                contribution.kind.as_str(),
                contribution.period,
                contribution.person_id
            )));
        }
        match enrolled.get(&contribution.person_id) {
            Some(region) => by_region.entry(*region).or_default().push(contribution),
            None => {
                insert_contribution(tx, actor, city, contribution, audits, true).await?;
            }
        }
    }
    for (region, rows) in by_region {
        let count = i64::try_from(rows.len()).map_err(|_| StoreError::Invalid("too many contributions".into()))?;
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO contribution_seqs (region_code, seq) VALUES ($1, $2) \
             ON CONFLICT (region_code) DO UPDATE SET seq = contribution_seqs.seq + $2 RETURNING seq",
        )
        .bind(region.to_string())
        .bind(count)
        .fetch_one(&mut **tx)
        .await
        .map_err(backend)?;
        let mut records = Vec::with_capacity(rows.len());
        for (seq, contribution) in (last - count + 1..).zip(rows) {
            if contribution.due_fen.is_negative() || contribution.paid_fen.is_negative() {
                return Err(StoreError::Invalid("amounts may not be negative".into()));
            }
            let record = yibao_store::ContributionRecord {
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
            yibao_store::books::contribution_entries(&record, None, actor.at.date())?;
            records.push(record);
        }
        let column = |f: &dyn Fn(&yibao_store::ContributionRecord) -> String| records.iter().map(f).collect::<Vec<String>>();
        let at = crate::time_text(actor.at)?;
        sqlx::query(
            "INSERT INTO contributions (region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at, migrated) \
             SELECT $1, u.seq, u.person_id, u.kind, u.period, u.due_fen, u.paid_fen, u.breakdown, $9, true \
             FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[], $8::text[]) \
                 AS u(seq, person_id, kind, period, due_fen, paid_fen, breakdown)",
        )
        .bind(region.to_string())
        .bind(records.iter().map(|r| r.seq).collect::<Vec<i64>>())
        .bind(column(&|r| r.person_id.as_str().to_owned()))
        .bind(column(&|r| r.kind.as_str().to_owned()))
        .bind(column(&|r| r.period.to_string()))
        .bind(records.iter().map(|r| r.due_fen.get()).collect::<Vec<i64>>())
        .bind(records.iter().map(|r| r.paid_fen.get()).collect::<Vec<i64>>())
        .bind(column(&|r| r.breakdown_json.clone()))
        .bind(at)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        for record in &records {
            audits.push(region, "contribution.migrate", record.person_id.as_str(), json(record)?);
        }
    }
    Ok(())
}

/// A person's opening accumulators for a year: the row must not exist yet.
async fn open_accumulators(
    tx: &mut PgConnection,
    scope: RegionCode,
    migration: &str,
    person: &NationalId,
    accumulators: &Accumulators,
    audits: &mut Audits,
) -> Result<(), StoreError> {
    let region = person_region(tx, scope, person).await?;
    let written =
        sqlx::query("INSERT INTO accumulators (region_code, person_id, year, state) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING")
            .bind(region.to_string())
            .bind(person.as_str())
            .bind(accumulators.year)
            .bind(json(accumulators)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
    if written == 0 {
        return Err(StoreError::Exists(format!("the {} accumulators of {person}", accumulators.year)));
    }
    audits.push(region, "accumulators.open", person.as_str(), accumulators_opened_detail(migration, accumulators).to_string());
    Ok(())
}

impl MigrationStore for PostgresStore {
    async fn begin_migration(&self, actor: &Actor, record: MigrationRecord) -> Result<MigrationRecord, StoreError> {
        MigrationRecord::check_id(&record.id)?;
        let mut tx = self.write().await?;
        let inserted =
            sqlx::query("INSERT INTO migrations (region_code, id, started_at, record) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(record.city.to_string())
                .bind(&record.id)
                .bind(actor.at_text())
                .bind(json(&record)?)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
        if inserted == 0 {
            let existing = read_record(&mut tx, record.city, &record.id, false).await?.ok_or_else(|| not_found(&record.id))?;
            check_same_migration(&existing, &record)?;
            return Ok(existing);
        }
        let detail = serde_json::json!({ "files": record.files, "batches": record.batches, "legacy": record.legacy });
        audit(&mut tx, actor, record.city, "migration.begin", &record.id, detail.to_string()).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn load_migration_batch(&self, actor: &Actor, city: RegionCode, batch: MigrationBatch) -> Result<BatchOutcome, StoreError> {
        if batch.households.len() > MIGRATION_BATCH_HOUSEHOLDS_MAX
            || batch.contributions.len() > IMPORT_LIMIT * 10
            || batch.accumulators.len() > IMPORT_LIMIT * 10
        {
            return Err(StoreError::Invalid(format!("a migration batch carries at most {MIGRATION_BATCH_HOUSEHOLDS_MAX} households")));
        }
        let mut tx = self.write().await?;
        let mut record = read_record(&mut tx, city, &batch.migration, true).await?.ok_or_else(|| not_found(&batch.migration))?;
        if batch_position(&record, batch.batch)? == BatchOutcome::AlreadyLoaded {
            return Ok(BatchOutcome::AlreadyLoaded);
        }
        let mut audits = Audits::default();
        // Whom this batch enrolled, with their county: their contributions are written
        // together, since none can have an earlier record.
        let mut enrolled: std::collections::HashMap<NationalId, RegionCode> = std::collections::HashMap::new();
        for entry in batch.households {
            insert_household(&mut tx, actor, city, entry.household, &mut audits).await?;
            record.households += 1;
            for member in entry.members {
                let person = insert_person(&mut tx, actor, city, member, &mut audits).await?;
                enrolled.insert(person.person_id, person.coverage.region);
                sqlx::query("INSERT INTO migration_persons (region_code, person_id, migration_id, household_id) VALUES ($1, $2, $3, $4)")
                    .bind(person.coverage.region.to_string())
                    .bind(person.person_id.as_str())
                    .bind(&batch.migration)
                    .bind(person.household_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                record.persons += 1;
            }
        }
        insert_migrated_contributions(&mut tx, actor, city, batch.contributions, &enrolled, &mut audits).await?;
        for (person, accumulators) in &batch.accumulators {
            open_accumulators(&mut tx, city, &batch.migration, person, accumulators, &mut audits).await?;
        }
        for employer in batch.employers {
            let record = crate::employer::insert_employer(&mut tx, actor, employer, Some(&batch.migration), &mut audits).await?;
            sqlx::query("INSERT INTO migration_employers (migration_id, code) VALUES ($1, $2)")
                .bind(&batch.migration)
                .bind(record.code.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        for institution in batch.institutions {
            let record = crate::access::insert_institution(&mut tx, actor, institution, Some(&batch.migration)).await?;
            sqlx::query("INSERT INTO migration_institutions (migration_id, code) VALUES ($1, $2)")
                .bind(&batch.migration)
                .bind(record.code.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        for (person, months) in &batch.carried_months {
            let region = person_region(&mut tx, city, person).await?;
            sqlx::query("INSERT INTO carried_contribution_months (person_id, months, recorded_at) VALUES ($1, $2, $3)")
                .bind(person.as_str())
                .bind(i32::try_from(*months).map_err(|_| StoreError::Invalid("too many months".into()))?)
                .bind(crate::time_text(actor.at)?)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            let detail = serde_json::json!({ "months": months, "migration": batch.migration });
            audits.push(region, "person.carried_months", person.as_str(), detail.to_string());
        }
        for stay in &batch.stays {
            // The person is this batch's or an earlier one's: the stay is theirs, in the
            // city (a visit names no county of its own).
            person_region(&mut tx, city, &stay.person_id).await?;
            crate::interface::insert_visit(&mut tx, stay, Some(&batch.migration)).await?;
        }
        record.batches_loaded += 1;
        if record.is_loaded() {
            record.loaded_at = Some(actor.at);
            let detail = serde_json::json!({ "households": record.households, "persons": record.persons });
            audits.push(city, "migration.loaded", &record.id, detail.to_string());
        }
        save_record(&mut tx, &record).await?;
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(BatchOutcome::Loaded)
    }

    async fn migration(&self, city: RegionCode, id: &str) -> Result<Option<MigrationRecord>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        read_record(&mut conn, city, id, false).await
    }

    async fn migrations(&self, city: RegionCode) -> Result<Vec<MigrationRecord>, StoreError> {
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT record FROM migrations WHERE region_code = $1 ORDER BY started_at DESC, id LIMIT $2")
                .bind(city.to_string())
                .bind(MIGRATIONS_LISTED_MAX as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        texts.iter().map(|t| from_json(t)).collect()
    }

    async fn migration_tally(&self, _city: RegionCode, id: &str) -> Result<Tally, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        tally(&mut conn, id).await
    }

    async fn probe_register(&self, scope: RegionCode, probe: RegisterProbe) -> Result<RegisterProbe, StoreError> {
        if probe.keys() > PROBE_KEYS_MAX {
            return Err(StoreError::Invalid(format!("a probe asks about at most {PROBE_KEYS_MAX} keys")));
        }
        let ids: Vec<String> = probe.persons.iter().map(|p| p.as_str().to_owned()).collect();
        type Held = (String, String, Option<String>, String, Option<String>);
        let held: Vec<Held> = sqlx::query_as(
            "SELECT i.person_id, p.coverage->>'coverage_from', p.coverage->>'coverage_until', p.history::text, p.died_on FROM person_index i \
             JOIN persons p ON p.region_code = i.region_code AND p.person_id = i.person_id WHERE i.person_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let held: std::collections::HashMap<String, (String, Option<String>, String, Option<String>)> =
            held.into_iter().map(|(p, f, u, h, d)| (p, (f, u, h, d))).collect();
        let mut found = RegisterProbe::default();
        let day = |text: &str| yibao_domain::parse_date(text).map_err(|e| StoreError::Backend(format!("a stored coverage date: {e}")));
        for person in probe.persons {
            let Some((from, until, history, died_on)) = held.get(person.as_str()) else { continue };
            let history: Vec<yibao_engine::PastCoverage> = from_json(history)?;
            found.coverage.extend(history.iter().map(|past| (person, past.coverage.coverage_from, past.coverage.coverage_until)));
            found.coverage.push((person, day(from)?, until.as_deref().map(day).transpose()?));
            if let Some(died_on) = died_on {
                found.deaths.push((person, day(died_on)?));
            }
            found.persons.push(person);
        }
        for (households, keys, out) in [(true, probe.households, &mut found.households), (false, probe.cards, &mut found.cards)] {
            let regions: Vec<String> = keys.iter().map(|(r, _)| r.to_string()).collect();
            let values: Vec<String> = keys.iter().map(|(_, v)| v.clone()).collect();
            let sql = if households {
                "SELECT DISTINCT t.region_code, t.household_id FROM households t JOIN unnest($1::text[], $2::text[]) AS k(region_code, value) \
                 ON t.region_code = k.region_code AND t.household_id = k.value"
            } else {
                "SELECT DISTINCT t.region_code, t.card_no FROM persons t JOIN unnest($1::text[], $2::text[]) AS k(region_code, value) \
                 ON t.region_code = k.region_code AND t.card_no = k.value"
            };
            let rows: Vec<(String, String)> =
                sqlx::query_as(sql).bind(&regions).bind(&values).fetch_all(&self.pool).await.map_err(backend)?;
            let rows: std::collections::HashSet<(String, String)> = rows.into_iter().collect();
            out.extend(keys.into_iter().filter(|(r, v)| scope.contains(*r) && rows.contains(&(r.to_string(), v.clone()))));
        }
        if !probe.visits.is_empty() {
            let institutions: Vec<String> = probe.visits.iter().map(|(i, _)| i.to_string()).collect();
            let ids: Vec<String> = probe.visits.iter().map(|(_, id)| id.clone()).collect();
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT v.institution_code, v.mdtrt_id FROM visits v JOIN unnest($1::text[], $2::text[]) AS k(institution_code, mdtrt_id) \
                 ON v.institution_code = k.institution_code AND v.mdtrt_id = k.mdtrt_id",
            )
            .bind(&institutions)
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            let rows: std::collections::HashSet<(String, String)> = rows.into_iter().collect();
            found.visits.extend(probe.visits.into_iter().filter(|(i, id)| rows.contains(&(i.to_string(), id.clone()))));
        }
        Ok(found)
    }

    async fn prepare_migration_report(&self, actor: &Actor, city: RegionCode, id: &str) -> Result<MigrationRecord, StoreError> {
        let mut tx = self.write().await?;
        let mut record = read_record(&mut tx, city, id, true).await?.ok_or_else(|| not_found(id))?;
        check_preparable(&record)?;
        let report = Reconciliation::compare(&record.legacy, &tally(&mut tx, id).await?, actor.who.clone(), actor.at);
        let detail = serde_json::json!({ "checksum": report.checksum, "differences": report.differences().count() });
        record.report = Some(report);
        save_record(&mut tx, &record).await?;
        audit(&mut tx, actor, city, "migration.report", id, detail.to_string()).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn sign_off_migration(&self, actor: &Actor, city: RegionCode, id: &str, checksum: &str) -> Result<MigrationRecord, StoreError> {
        let mut tx = self.write().await?;
        let mut record = read_record(&mut tx, city, id, true).await?.ok_or_else(|| not_found(id))?;
        let now = Reconciliation::compare(&record.legacy, &tally(&mut tx, id).await?, actor.who.clone(), actor.at);
        sign_off(&mut record, actor, checksum, &now)?;
        save_record(&mut tx, &record).await?;
        audit(&mut tx, actor, city, "migration.signed_off", id, serde_json::json!({ "checksum": checksum }).to_string()).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }
}
