//! Employers and payroll declarations on PostgreSQL (issue 16 item 2): the SQL only; the
//! rules (the bill, the late fee, what a payment posts) are `yibao_store::employer`'s.
//!
//! Locks: a payment takes its declaration's row first (a second payment of the month waits
//! and then finds nothing owed), then the contribution counters and persons as any
//! contribution does, the accounts, and the audit heads last.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row, Transaction};
use yibao_domain::{EmployerCode, Fen, NationalId, Period, RegionCode};
use yibao_store::books::{date_of, date_text};
use yibao_store::stored::{fen_of, from_json, period_of, time_of, time_text};
use yibao_store::{
    Actor, ContributionKind, DeclarationRecord, EMPLOYERS_LIMIT, EmployerPayment, EmployerRecord, EmployerStore, NewContribution,
    NewDeclaration, NewEmployer, PaymentAudit, StoreError, check_scope,
};

use crate::access::{insert_contribution, lock_counters};
use crate::{Audits, PostgresStore, backend, json, person_region, region_of, scope_bounds};

const EMPLOYER_COLUMNS: &str = "code, name, region_code, registered_on, recorded_at";
const DECLARATION_COLUMNS: &str =
    "employer_code, region_code, period, due_on, lines::text AS lines, due_fen, declared_at, payment::text AS payment";

fn code_of(text: &str) -> Result<EmployerCode, StoreError> {
    EmployerCode::parse(text).map_err(|e| StoreError::Backend(e.to_string()))
}

fn employer_from_row(row: &PgRow) -> Result<EmployerRecord, StoreError> {
    Ok(EmployerRecord {
        code: code_of(row.try_get("code").map_err(backend)?)?,
        name: row.try_get("name").map_err(backend)?,
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        registered_on: date_of(row.try_get("registered_on").map_err(backend)?)?,
        recorded_at: time_of(row.try_get("recorded_at").map_err(backend)?)?,
    })
}

fn declaration_from_row(row: &PgRow) -> Result<DeclarationRecord, StoreError> {
    Ok(DeclarationRecord {
        employer: code_of(row.try_get("employer_code").map_err(backend)?)?,
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        period: period_of(row.try_get("period").map_err(backend)?)?,
        due_on: date_of(row.try_get("due_on").map_err(backend)?)?,
        lines: from_json(row.try_get("lines").map_err(backend)?)?,
        due_fen: fen_of(row.try_get("due_fen").map_err(backend)?)?,
        owed_fen: Fen::ZERO,
        declared_at: time_of(row.try_get("declared_at").map_err(backend)?)?,
        payment: row.try_get::<Option<String>, _>("payment").map_err(backend)?.as_deref().map(from_json).transpose()?,
    })
}

/// The employer that declared the person's month, if one did.
pub(crate) async fn declared_by(tx: &mut PgConnection, person: &NationalId, period: Period) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT employer_code FROM declared_months WHERE person_id = $1 AND period = $2")
        .bind(person.as_str())
        .bind(period.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)
}

/// Refuses a counter payment of a month on an employer's declaration: the employer pays it,
/// late fee included (`contribution.declared`).
pub(crate) async fn check_not_declared(tx: &mut PgConnection, contribution: &NewContribution) -> Result<(), StoreError> {
    if !matches!(contribution.kind, ContributionKind::Employee | ContributionKind::Maternity) {
        return Ok(());
    }
    match declared_by(tx, &contribution.person_id, contribution.period).await? {
        Some(employer) => Err(yibao_store::employer::declared_elsewhere(&contribution.person_id, contribution.period, &employer, true)),
        None => Ok(()),
    }
}

/// Refuses a change of the person's coverage that would re-bill a month an employer
/// declared for them, from `from` on (`person.declared_after`). Called with the person's
/// row locked: a declaration locks it too (its bills), so one waits for the other and
/// then sees it.
pub(crate) async fn check_not_declared_from(
    tx: &mut PgConnection,
    person: &NationalId,
    from: Option<Period>,
    on: time::Date,
) -> Result<(), StoreError> {
    let Some(from) = from else { return Ok(()) };
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT employer_code, period FROM declared_months WHERE person_id = $1 AND period >= $2 ORDER BY period COLLATE \"C\" LIMIT 1",
    )
    .bind(person.as_str())
    .bind(from.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    match row {
        Some((employer, period)) => Err(yibao_store::employer::declared_after(person, on, period_of(&period)?, &employer)),
        None => Ok(()),
    }
}

/// Registers an employer inside `tx` and queues its audit entry (`employer.register`; a
/// go-live migration's names its id).
pub(crate) async fn insert_employer(
    tx: &mut PgConnection,
    actor: &Actor,
    employer: NewEmployer,
    migration: Option<&str>,
    audits: &mut Audits,
) -> Result<EmployerRecord, StoreError> {
    let record = EmployerRecord::registered(employer, actor.at);
    let inserted = sqlx::query(
        "INSERT INTO employers (code, name, region_code, registered_on, recorded_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(record.code.as_str())
    .bind(&record.name)
    .bind(record.region.to_string())
    .bind(date_text(record.registered_on))
    .bind(time_text(record.recorded_at)?)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::EmployerExists(record.code.to_string()));
    }
    audits.push(record.region, "employer.register", record.code.as_str(), yibao_store::employer::registered_detail(&record, migration)?);
    Ok(record)
}

async fn employer_in(tx: &mut PgConnection, scope: RegionCode, code: &EmployerCode) -> Result<EmployerRecord, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {EMPLOYER_COLUMNS} FROM employers WHERE code = $1")))
        .bind(code.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    row.as_ref()
        .map(employer_from_row)
        .transpose()?
        .filter(|employer| scope.contains(employer.region))
        .ok_or_else(|| StoreError::EmployerNotFound(code.to_string()))
}

/// A period's chain of a person and kind in a county: what it bills, what is paid, and the
/// breakdown of its first record (the bill).
async fn chain(
    tx: &mut PgConnection,
    region: RegionCode,
    person: &NationalId,
    kind: ContributionKind,
    period: Period,
) -> Result<Option<(Fen, Fen, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT due_fen, paid_fen, breakdown FROM contributions \
         WHERE region_code = $1 AND person_id = $2 AND kind = $3 AND period = $4 ORDER BY seq",
    )
    .bind(region.to_string())
    .bind(person.as_str())
    .bind(kind.as_str())
    .bind(period.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(first) = rows.first() else { return Ok(None) };
    let breakdown: String = first.try_get("breakdown").map_err(backend)?;
    let (mut due, mut paid) = (0_i64, 0_i64);
    for row in &rows {
        due = due.max(row.try_get::<i64, _>("due_fen").map_err(backend)?);
        paid += row.try_get::<i64, _>("paid_fen").map_err(backend)?;
    }
    Ok(Some((fen_of(due)?, fen_of(paid)?, breakdown)))
}

async fn owed(tx: &mut PgConnection, declaration: &DeclarationRecord) -> Result<Fen, StoreError> {
    let mut owed = Fen::ZERO;
    for line in &declaration.lines {
        for (kind, _, region) in line.billed(declaration.region) {
            if let Some((due, paid, _)) = chain(tx, region, &line.person_id, kind, declaration.period).await? {
                owed += Fen::new((due.get() - paid.get()).max(0));
            }
        }
    }
    Ok(owed)
}

impl EmployerStore for PostgresStore {
    async fn register_employer(&self, actor: &Actor, scope: RegionCode, employer: NewEmployer) -> Result<EmployerRecord, StoreError> {
        check_scope(scope, employer.region)?;
        let mut tx = self.write().await?;
        let mut audits = Audits::default();
        let record = insert_employer(&mut tx, actor, employer, None, &mut audits).await?;
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn employer(&self, scope: RegionCode, code: &EmployerCode) -> Result<EmployerRecord, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        employer_in(&mut conn, scope, code).await
    }

    async fn employers(&self, scope: RegionCode, offset: u32) -> Result<(u64, Vec<EmployerRecord>), StoreError> {
        let (low, high) = scope_bounds(scope);
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM employers WHERE region_code BETWEEN $1 AND $2")
            .bind(&low)
            .bind(&high)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EMPLOYER_COLUMNS} FROM employers WHERE region_code BETWEEN $1 AND $2 ORDER BY code COLLATE \"C\" LIMIT $3 OFFSET $4"
        )))
        .bind(low)
        .bind(high)
        .bind(EMPLOYERS_LIMIT as i64)
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let page = rows.iter().map(employer_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((u64::try_from(total).unwrap_or(0), page))
    }

    async fn declare(&self, actor: &Actor, scope: RegionCode, declaration: NewDeclaration) -> Result<DeclarationRecord, StoreError> {
        let mut tx = self.write().await?;
        let employer = employer_in(&mut tx, scope, &declaration.employer).await?;
        let period = declaration.period;
        // The month's row first: a second declaration of it waits here, then is refused.
        let inserted = sqlx::query(
            "INSERT INTO employer_declarations (employer_code, period, region_code, due_on, lines, due_fen, declared_at) \
             VALUES ($1, $2, $3, $4, '[]'::jsonb, 0, $5) ON CONFLICT (employer_code, period) DO NOTHING",
        )
        .bind(employer.code.as_str())
        .bind(period.to_string())
        .bind(employer.region.to_string())
        .bind(date_text(declaration.due_on))
        .bind(time_text(actor.at)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::DeclarationExists(format!("{period} of {}", employer.code)));
        }
        // One employer a person's month: the months' rows in ascending order of person, so
        // two declarations sharing persons wait on each other, never in a cycle.
        let mut persons: Vec<NationalId> = declaration.lines.iter().map(|line| line.person_id).collect();
        persons.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        for person in &persons {
            let taken = sqlx::query(
                "INSERT INTO declared_months (person_id, period, employer_code) VALUES ($1, $2, $3) ON CONFLICT (person_id, period) DO NOTHING",
            )
            .bind(person.as_str())
            .bind(period.to_string())
            .bind(employer.code.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if taken.rows_affected() == 0 {
                let other = declared_by(&mut tx, person, period).await?.unwrap_or_default();
                return Err(yibao_store::employer::declared_elsewhere(person, period, &other, false));
            }
        }
        lock_counters(&mut tx, &declaration.bills).await?;
        let city = employer.region.city();
        let mut audits = Audits::default();
        let mut lines = declaration.lines;
        let mut bills = declaration.bills;
        // Persons' rows in ascending order, as every writer takes them.
        bills.sort_by(|a, b| a.person_id.as_str().cmp(b.person_id.as_str()));
        for bill in bills {
            crate::arrears::check_not_in_plan(&mut tx, &bill.person_id, bill.kind, bill.period, false).await?;
            let record = insert_contribution(&mut tx, actor, city, bill, &mut audits, false).await?;
            if let Some(line) = lines.iter_mut().find(|line| line.person_id == record.person_id) {
                line.booked(record.kind, record.region);
            }
        }
        // Each line's spell as it was billed is the person's spell of the month now, read
        // under the lock its bill took (a coverage change waits for it, or went first).
        if declaration.spells.len() != lines.len() {
            return Err(StoreError::Invalid("a declaration carries the spell of each line".into()));
        }
        for (line, spell) in lines.iter().zip(&declaration.spells) {
            let region = person_region(&mut tx, city, &line.person_id).await?;
            let person = crate::load_person(&mut tx, region, &line.person_id, false).await?;
            yibao_store::employer::check_billed_spell(&person, period, spell)?;
        }
        let due_fen: Fen = lines.iter().map(|l| l.employee_due_fen + l.maternity_due_fen).sum();
        let mut record = DeclarationRecord {
            employer: employer.code,
            region: employer.region,
            period,
            due_on: declaration.due_on,
            lines,
            due_fen,
            owed_fen: due_fen,
            declared_at: actor.at,
            payment: None,
        };
        sqlx::query("UPDATE employer_declarations SET lines = $1::jsonb, due_fen = $2 WHERE employer_code = $3 AND period = $4")
            .bind(json(&record.lines)?)
            .bind(due_fen.get())
            .bind(record.employer.as_str())
            .bind(period.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // What the counter paid of a month before it was declared is not owed again.
        record.owed_fen = owed(&mut tx, &record).await?;
        audits.push(record.region, "employer.declare", &format!("{}/{period}", record.employer), json(&record)?);
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn declarations_of(&self, scope: RegionCode, code: &EmployerCode) -> Result<Vec<DeclarationRecord>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        employer_in(&mut tx, scope, code).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DECLARATION_COLUMNS} FROM employer_declarations WHERE employer_code = $1 ORDER BY period COLLATE \"C\" DESC LIMIT $2"
        )))
        .bind(code.as_str())
        .bind(EMPLOYERS_LIMIT as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let mut records = rows.iter().map(declaration_from_row).collect::<Result<Vec<_>, _>>()?;
        for record in &mut records {
            record.owed_fen = owed(&mut tx, record).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(records)
    }

    async fn pay_declaration(&self, actor: &Actor, scope: RegionCode, payment: EmployerPayment) -> Result<DeclarationRecord, StoreError> {
        let mut tx: Transaction<'static, Postgres> = self.write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DECLARATION_COLUMNS} FROM employer_declarations WHERE employer_code = $1 AND period = $2 FOR UPDATE"
        )))
        .bind(payment.employer.as_str())
        .bind(payment.period.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let mut record = row.as_ref().map(declaration_from_row).transpose()?.filter(|d| scope.contains(d.region)).ok_or_else(|| {
            StoreError::Refused {
                code: "declaration.not_found",
                message: format!("{} has not declared {}", payment.employer, payment.period),
            }
        })?;
        record.owed_fen = owed(&mut tx, &record).await?;
        let paid = yibao_store::employer::settle_payment(&payment, record.declared_at, record.due_on, record.owed_fen, actor.at)?;
        let mut completions = Vec::new();
        for line in &record.lines {
            for (kind, _, region) in line.billed(record.region) {
                let Some((due, paid_before, breakdown_json)) = chain(&mut tx, region, &line.person_id, kind, record.period).await? else {
                    continue;
                };
                let rest = Fen::new(due.get() - paid_before.get());
                if rest.get() > 0 {
                    completions.push(NewContribution {
                        person_id: line.person_id,
                        kind,
                        period: record.period,
                        due_fen: due,
                        paid_fen: rest,
                        breakdown_json,
                    });
                }
            }
        }
        lock_counters(&mut tx, &completions).await?;
        completions.sort_by(|a, b| a.person_id.as_str().cmp(b.person_id.as_str()));
        let city = record.region.city();
        let mut audits = Audits::default();
        for contribution in completions {
            insert_contribution(&mut tx, actor, city, contribution, &mut audits, false).await?;
        }
        let audit_detail = PaymentAudit { employer: record.employer, region: record.region, period: record.period, payment: paid.clone() };
        let entries = yibao_store::employer::late_fee_entries(&audit_detail)?;
        crate::books::post(&mut tx, &actor.at_text(), &entries).await?;
        sqlx::query("UPDATE employer_declarations SET payment = $1::jsonb WHERE employer_code = $2 AND period = $3")
            .bind(json(&paid)?)
            .bind(record.employer.as_str())
            .bind(record.period.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audits.push(record.region, "employer.pay", &audit_detail.record_id(), json(&audit_detail)?);
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        record.payment = Some(paid);
        record.owed_fen = Fen::ZERO;
        Ok(record)
    }

    async fn contribution_months(&self, scope: RegionCode, person: &NationalId) -> Result<(u32, u32), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let region = person_region(&mut tx, scope, person).await?;
        let record = crate::load_person(&mut tx, region, person, false).await?;
        let regions: Vec<String> = yibao_store::regions_of(&record.coverage, &record.history).iter().map(ToString::to_string).collect();
        let paid: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT region_code, period FROM contributions WHERE region_code = ANY($1) AND person_id = $2 \
             AND kind = 'employee' GROUP BY region_code, period HAVING SUM(paid_fen) >= MAX(due_fen) AND MAX(due_fen) > 0) AS paid",
        )
        .bind(regions)
        .bind(person.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let carried: Option<i32> = sqlx::query_scalar("SELECT months FROM carried_contribution_months WHERE person_id = $1")
            .bind(person.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok((carried.and_then(|m| u32::try_from(m).ok()).unwrap_or(0), u32::try_from(paid).unwrap_or(u32::MAX)))
    }

    async fn set_carried_months(&self, actor: &Actor, scope: RegionCode, person: &NationalId, months: u32) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let region = person_region(&mut tx, scope, person).await?;
        sqlx::query(
            "INSERT INTO carried_contribution_months (person_id, months, recorded_at) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id) DO UPDATE SET months = excluded.months, recorded_at = excluded.recorded_at",
        )
        .bind(person.as_str())
        .bind(i32::try_from(months).map_err(|_| StoreError::Invalid("too many months".into()))?)
        .bind(time_text(actor.at)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        crate::audit(&mut tx, actor, region, "person.carried_months", person.as_str(), serde_json::json!({ "months": months }).to_string())
            .await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }
}
