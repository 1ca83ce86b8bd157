//! Employers and payroll declarations on SQLite (issue 16 item 2): the SQL only; the rules
//! (the bill, the late fee, what a payment posts) are `yibao_store::employer`'s.

use rusqlite::{Connection, Row, params};
use yibao_domain::{EmployerCode, Fen, NationalId, Period, RegionCode};
use yibao_store::books::{date_of, date_text};
use yibao_store::{
    Actor, ContributionKind, DeclarationRecord, EMPLOYERS_LIMIT, EmployerPayment, EmployerRecord, EmployerStore, NewContribution,
    NewDeclaration, NewEmployer, PaymentAudit, StoreError, check_scope,
};

use crate::access::insert_contribution;
use crate::{
    SqliteStore, audit, col, exec, fen_of, from_json, json, locate, query_all, query_opt, region_of, scope_bounds, time_of, time_text,
};

const EMPLOYER_COLUMNS: &str = "code, name, region_code, registered_on, recorded_at";
const DECLARATION_COLUMNS: &str = "employer_code, region_code, period, due_on, lines, due_fen, declared_at, payment";

fn employer_from_row(row: &Row<'_>) -> Result<EmployerRecord, StoreError> {
    Ok(EmployerRecord {
        code: EmployerCode::parse(&col::<String>(row, 0)?).map_err(|e| StoreError::Backend(e.to_string()))?,
        name: col(row, 1)?,
        region: region_of(&col::<String>(row, 2)?)?,
        registered_on: date_of(&col::<String>(row, 3)?)?,
        recorded_at: time_of(&col::<String>(row, 4)?)?,
    })
}

/// A declaration as stored, what it still owes to be read.
fn declaration_from_row(row: &Row<'_>) -> Result<DeclarationRecord, StoreError> {
    Ok(DeclarationRecord {
        employer: EmployerCode::parse(&col::<String>(row, 0)?).map_err(|e| StoreError::Backend(e.to_string()))?,
        region: region_of(&col::<String>(row, 1)?)?,
        period: yibao_store::stored::period_of(&col::<String>(row, 2)?)?,
        due_on: date_of(&col::<String>(row, 3)?)?,
        lines: from_json(&col::<String>(row, 4)?)?,
        due_fen: fen_of(col(row, 5)?)?,
        owed_fen: Fen::ZERO,
        declared_at: time_of(&col::<String>(row, 6)?)?,
        payment: col::<Option<String>>(row, 7)?.as_deref().map(from_json).transpose()?,
    })
}

/// The employer that declared the person's month, if one did.
pub(crate) fn declared_by(conn: &Connection, person: &NationalId, period: Period) -> Result<Option<String>, StoreError> {
    query_opt(
        conn,
        "SELECT employer_code FROM declared_months WHERE person_id = ?1 AND period = ?2",
        params![person.as_str(), period.to_string()],
        |row| col::<String>(row, 0),
    )
}

/// Refuses a counter payment of a month on an employer's declaration: the employer pays it,
/// late fee included (`contribution.declared`).
pub(crate) fn check_not_declared(conn: &Connection, contribution: &NewContribution) -> Result<(), StoreError> {
    if !matches!(contribution.kind, ContributionKind::Employee | ContributionKind::Maternity) {
        return Ok(());
    }
    match declared_by(conn, &contribution.person_id, contribution.period)? {
        Some(employer) => Err(yibao_store::employer::declared_elsewhere(&contribution.person_id, contribution.period, &employer, true)),
        None => Ok(()),
    }
}

/// Refuses a change of the person's coverage that would re-bill a month an employer
/// declared for them, from `from` on (`person.declared_after`), inside the writer's
/// transaction: a declaration and the change never both land.
pub(crate) fn check_not_declared_from(
    conn: &Connection,
    person: &NationalId,
    from: Option<Period>,
    on: time::Date,
) -> Result<(), StoreError> {
    let Some(from) = from else { return Ok(()) };
    let declared = query_opt(
        conn,
        "SELECT employer_code, period FROM declared_months WHERE person_id = ?1 AND period >= ?2 ORDER BY period LIMIT 1",
        params![person.as_str(), from.to_string()],
        |row| Ok((col::<String>(row, 0)?, yibao_store::stored::period_of(&col::<String>(row, 1)?)?)),
    )?;
    match declared {
        Some((employer, period)) => Err(yibao_store::employer::declared_after(person, on, period, &employer)),
        None => Ok(()),
    }
}

/// Registers an employer inside the writer's transaction (`employer.register`; a go-live
/// migration's names its id in the audit entry).
pub(crate) fn insert_employer(
    conn: &Connection,
    actor: &Actor,
    employer: NewEmployer,
    migration: Option<&str>,
) -> Result<EmployerRecord, StoreError> {
    if query_opt(conn, "SELECT 1 FROM employers WHERE code = ?1", [employer.code.as_str()], |row| col::<i64>(row, 0))?.is_some() {
        return Err(StoreError::EmployerExists(employer.code.to_string()));
    }
    let record = EmployerRecord::registered(employer, actor.at);
    exec(
        conn,
        "INSERT INTO employers (code, name, region_code, registered_on, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            record.code.as_str(),
            record.name,
            record.region.to_string(),
            date_text(record.registered_on),
            time_text(record.recorded_at)?
        ],
    )?;
    let detail = yibao_store::employer::registered_detail(&record, migration)?;
    audit(conn, actor, record.region, "employer.register", record.code.as_str(), detail)?;
    Ok(record)
}

fn employer_in(conn: &Connection, scope: RegionCode, code: &EmployerCode) -> Result<EmployerRecord, StoreError> {
    query_opt(conn, &format!("SELECT {EMPLOYER_COLUMNS} FROM employers WHERE code = ?1"), [code.as_str()], employer_from_row)?
        .filter(|employer| scope.contains(employer.region))
        .ok_or_else(|| StoreError::EmployerNotFound(code.to_string()))
}

/// A period's chain of a person and kind in a county: what it bills, what is paid, and the
/// breakdown of its first record (the bill). One look-up by the person's index (ordered
/// here: asked in SQL, the order by number made SQLite walk the county's records).
fn chain(
    conn: &Connection,
    region: RegionCode,
    person: &NationalId,
    kind: ContributionKind,
    period: Period,
) -> Result<Option<(Fen, Fen, String)>, StoreError> {
    let mut rows = query_all(
        conn,
        "SELECT seq, due_fen, paid_fen, breakdown FROM contributions WHERE region_code = ?1 AND person_id = ?2 AND kind = ?3 AND period = ?4",
        params![region.to_string(), person.as_str(), kind.as_str(), period.to_string()],
        |row| Ok((col::<i64>(row, 0)?, col::<i64>(row, 1)?, col::<i64>(row, 2)?, col::<String>(row, 3)?)),
    )?;
    rows.sort_by_key(|(seq, ..)| *seq);
    let Some(first) = rows.first() else { return Ok(None) };
    let due = rows.iter().map(|(_, due, ..)| *due).max().unwrap_or(0);
    let paid = rows.iter().map(|(_, _, paid, _)| *paid).sum::<i64>();
    Ok(Some((fen_of(due)?, fen_of(paid)?, first.3.clone())))
}

/// What a declaration's bills still owe.
fn owed(conn: &Connection, declaration: &DeclarationRecord) -> Result<Fen, StoreError> {
    let mut owed = Fen::ZERO;
    for line in &declaration.lines {
        for (kind, _, region) in line.billed(declaration.region) {
            if let Some((due, paid, _)) = chain(conn, region, &line.person_id, kind, declaration.period)? {
                owed += Fen::new((due.get() - paid.get()).max(0));
            }
        }
    }
    Ok(owed)
}

fn declaration_in(conn: &Connection, scope: RegionCode, code: &EmployerCode, period: Period) -> Result<DeclarationRecord, StoreError> {
    let mut record = query_opt(
        conn,
        &format!("SELECT {DECLARATION_COLUMNS} FROM employer_declarations WHERE employer_code = ?1 AND period = ?2"),
        params![code.as_str(), period.to_string()],
        declaration_from_row,
    )?
    .filter(|d| scope.contains(d.region))
    .ok_or_else(|| StoreError::Refused { code: "declaration.not_found", message: format!("{code} has not declared {period}") })?;
    record.owed_fen = owed(conn, &record)?;
    Ok(record)
}

impl EmployerStore for SqliteStore {
    async fn register_employer(&self, actor: &Actor, scope: RegionCode, employer: NewEmployer) -> Result<EmployerRecord, StoreError> {
        check_scope(scope, employer.region)?;
        let actor = actor.clone();
        self.write(move |conn| insert_employer(conn, &actor, employer, None)).await
    }

    async fn employer(&self, scope: RegionCode, code: &EmployerCode) -> Result<EmployerRecord, StoreError> {
        let code = *code;
        self.read(move |conn| employer_in(conn, scope, &code)).await
    }

    async fn employers(&self, scope: RegionCode, offset: u32) -> Result<(u64, Vec<EmployerRecord>), StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            let total = query_opt(conn, "SELECT COUNT(*) FROM employers WHERE region_code BETWEEN ?1 AND ?2", params![low, high], |row| {
                col::<i64>(row, 0)
            })?
            .unwrap_or(0);
            let page = query_all(
                conn,
                &format!("SELECT {EMPLOYER_COLUMNS} FROM employers WHERE region_code BETWEEN ?1 AND ?2 ORDER BY code LIMIT ?3 OFFSET ?4"),
                params![low, high, EMPLOYERS_LIMIT as i64, i64::from(offset)],
                employer_from_row,
            )?;
            Ok((u64::try_from(total).unwrap_or(0), page))
        })
        .await
    }

    async fn declare(&self, actor: &Actor, scope: RegionCode, declaration: NewDeclaration) -> Result<DeclarationRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let employer = employer_in(conn, scope, &declaration.employer)?;
            let period = declaration.period;
            let taken = query_opt(
                conn,
                "SELECT 1 FROM employer_declarations WHERE employer_code = ?1 AND period = ?2",
                params![employer.code.as_str(), period.to_string()],
                |row| col::<i64>(row, 0),
            )?;
            if taken.is_some() {
                return Err(StoreError::DeclarationExists(format!("{period} of {}", employer.code)));
            }
            // One employer a person's month.
            for line in &declaration.lines {
                if let Some(other) = declared_by(conn, &line.person_id, period)? {
                    return Err(yibao_store::employer::declared_elsewhere(&line.person_id, period, &other, false));
                }
                exec(
                    conn,
                    "INSERT INTO declared_months (person_id, period, employer_code) VALUES (?1, ?2, ?3)",
                    params![line.person_id.as_str(), period.to_string(), employer.code.as_str()],
                )?;
            }
            // The bills are the persons' own records; a person who moved since stays billed
            // where the period's chain is (R-ENR-5).
            let city = employer.region.city();
            if declaration.spells.len() != declaration.lines.len() {
                return Err(StoreError::Invalid("a declaration carries the spell of each line".into()));
            }
            // Each line's spell as it was billed is the person's spell of the month now.
            for (line, spell) in declaration.lines.iter().zip(&declaration.spells) {
                let (_, person) = locate(conn, city, &line.person_id)?;
                yibao_store::employer::check_billed_spell(&person, period, spell)?;
            }
            let mut lines = declaration.lines;
            for bill in declaration.bills {
                crate::arrears::check_not_in_plan(conn, &bill.person_id, bill.kind, bill.period, false)?;
                let record = insert_contribution(conn, &actor, city, bill, false)?;
                if let Some(line) = lines.iter_mut().find(|line| line.person_id == record.person_id) {
                    line.booked(record.kind, record.region);
                }
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
            exec(
                conn,
                "INSERT INTO employer_declarations (employer_code, period, region_code, due_on, lines, due_fen, declared_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    record.employer.as_str(),
                    period.to_string(),
                    record.region.to_string(),
                    date_text(record.due_on),
                    json(&record.lines)?,
                    due_fen.get(),
                    time_text(actor.at)?
                ],
            )?;
            // What the counter paid of a month before it was declared is not owed again.
            record.owed_fen = owed(conn, &record)?;
            let entity = format!("{}/{period}", record.employer);
            audit(conn, &actor, record.region, "employer.declare", &entity, json(&record)?)?;
            Ok(record)
        })
        .await
    }

    async fn declarations_of(&self, scope: RegionCode, code: &EmployerCode) -> Result<Vec<DeclarationRecord>, StoreError> {
        let code = *code;
        self.read(move |conn| {
            employer_in(conn, scope, &code)?;
            let mut records = query_all(
                conn,
                &format!("SELECT {DECLARATION_COLUMNS} FROM employer_declarations WHERE employer_code = ?1 ORDER BY period DESC LIMIT ?2"),
                params![code.as_str(), EMPLOYERS_LIMIT as i64],
                declaration_from_row,
            )?;
            for record in &mut records {
                record.owed_fen = owed(conn, record)?;
            }
            Ok(records)
        })
        .await
    }

    async fn pay_declaration(&self, actor: &Actor, scope: RegionCode, payment: EmployerPayment) -> Result<DeclarationRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let mut record = declaration_in(conn, scope, &payment.employer, payment.period)?;
            let paid = yibao_store::employer::settle_payment(&payment, record.declared_at, record.due_on, record.owed_fen, actor.at)?;
            let city = record.region.city();
            for line in &record.lines {
                for (kind, _, region) in line.billed(record.region) {
                    let Some((due, paid_before, breakdown_json)) = chain(conn, region, &line.person_id, kind, record.period)? else {
                        continue;
                    };
                    let rest = Fen::new(due.get() - paid_before.get());
                    if rest.get() <= 0 {
                        continue;
                    }
                    let contribution = NewContribution {
                        person_id: line.person_id,
                        kind,
                        period: record.period,
                        due_fen: due,
                        paid_fen: rest,
                        breakdown_json,
                    };
                    insert_contribution(conn, &actor, city, contribution, false)?;
                }
            }
            let audit_detail =
                PaymentAudit { employer: record.employer, region: record.region, period: record.period, payment: paid.clone() };
            let entries = yibao_store::employer::late_fee_entries(&audit_detail)?;
            crate::books::post(conn, &actor, &entries)?;
            exec(
                conn,
                "UPDATE employer_declarations SET payment = ?1 WHERE employer_code = ?2 AND period = ?3",
                params![json(&paid)?, record.employer.as_str(), record.period.to_string()],
            )?;
            audit(conn, &actor, record.region, "employer.pay", &audit_detail.record_id(), json(&audit_detail)?)?;
            record.payment = Some(paid);
            record.owed_fen = Fen::ZERO;
            Ok(record)
        })
        .await
    }

    async fn contribution_months(&self, scope: RegionCode, person: &NationalId) -> Result<(u32, u32), StoreError> {
        let person = *person;
        self.read(move |conn| {
            let (_, record) = locate(conn, scope, &person)?;
            let mut paid = 0_i64;
            for region in yibao_store::regions_of(&record.coverage, &record.history) {
                paid += query_opt(
                    conn,
                    "SELECT COUNT(*) FROM (SELECT period FROM contributions WHERE region_code = ?1 AND person_id = ?2 AND kind = 'employee' \
                     GROUP BY period HAVING SUM(paid_fen) >= MAX(due_fen) AND MAX(due_fen) > 0)",
                    params![region.to_string(), person.as_str()],
                    |row| col::<i64>(row, 0),
                )?
                .unwrap_or(0);
            }
            let carried = query_opt(conn, "SELECT months FROM carried_contribution_months WHERE person_id = ?1", [person.as_str()], |row| {
                col::<i64>(row, 0)
            })?
            .unwrap_or(0);
            Ok((u32::try_from(carried).unwrap_or(0), u32::try_from(paid).unwrap_or(u32::MAX)))
        })
        .await
    }

    async fn set_carried_months(&self, actor: &Actor, scope: RegionCode, person: &NationalId, months: u32) -> Result<(), StoreError> {
        let (actor, person) = (actor.clone(), *person);
        self.write(move |conn| {
            let (region, _) = locate(conn, scope, &person)?;
            exec(
                conn,
                "INSERT INTO carried_contribution_months (person_id, months, recorded_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (person_id) DO UPDATE SET months = excluded.months, recorded_at = excluded.recorded_at",
                params![person.as_str(), i64::from(months), time_text(actor.at)?],
            )?;
            audit(conn, &actor, region, "person.carried_months", person.as_str(), serde_json::json!({ "months": months }).to_string())?;
            Ok(())
        })
        .await
    }
}
