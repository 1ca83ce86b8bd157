//! Arrears repaid in instalments on SQLite (issue 16 item 4): the SQL only; which periods a
//! plan takes and where a payment goes are `yibao_store::arrears`'s.

use rusqlite::{Connection, Row, params};
use time::Date;
use yibao_domain::{Fen, NationalId, Period, RegionCode};
use yibao_engine::{OwedPeriod, PlanPeriod};
use yibao_store::arrears::{
    Chain, InstalmentPayment, check_new_plan, decide_instalment, in_plan, owed_periods, plan_periods, recorded_receipt,
};
use yibao_store::books::{date_of, date_text};
use yibao_store::stored::{kind_of, period_of};
use yibao_store::{Actor, ArrearsStore, ContributionKind, NewContribution, NewPlan, PersonRecord, PlanRecord, PlanStatus, StoreError};

use crate::access::insert_contribution;
use crate::{SqliteStore, audit, col, exec, fen_of, from_json, json, locate, query_all, query_opt, region_of, time_of, time_text};

const PLAN_COLUMNS: &str = "person_id, seq, region_code, agreed_on, periods, total_fen, schedule, payments, status, recorded_at";

fn plan_from_row(row: &Row<'_>) -> Result<PlanRecord, StoreError> {
    Ok(PlanRecord {
        person_id: crate::id_of(&col::<String>(row, 0)?)?,
        seq: col(row, 1)?,
        region: region_of(&col::<String>(row, 2)?)?,
        agreed_on: date_of(&col::<String>(row, 3)?)?,
        periods: from_json(&col::<String>(row, 4)?)?,
        total_fen: fen_of(col(row, 5)?)?,
        schedule: from_json(&col::<String>(row, 6)?)?,
        payments: from_json(&col::<String>(row, 7)?)?,
        status: PlanStatus::parse(&col::<String>(row, 8)?)?,
        recorded_at: time_of(&col::<String>(row, 9)?)?,
    })
}

/// Every chain of the person's contributions, summed, in each county of `scope` they were
/// insured in.
pub(crate) fn chains(conn: &Connection, scope: RegionCode, person: &NationalId) -> Result<Vec<Chain>, StoreError> {
    Ok(person_chains(conn, scope, person)?.1)
}

/// The person as recorded, and every chain of their contributions in `scope`.
fn person_chains(conn: &Connection, scope: RegionCode, person: &NationalId) -> Result<(PersonRecord, Vec<Chain>), StoreError> {
    let (_, record) = locate(conn, scope, person)?;
    let mut chains = Vec::new();
    for region in yibao_store::regions_of(&record.coverage, &record.history).into_iter().filter(|r| scope.contains(*r)) {
        chains.extend(query_all(
            conn,
            "SELECT kind, period, MAX(due_fen), SUM(paid_fen), MAX(CASE WHEN paid_fen > 0 AND migrated = 0 THEN recorded_at END) \
             FROM contributions WHERE region_code = ?1 AND person_id = ?2 GROUP BY kind, period",
            params![region.to_string(), person.as_str()],
            |row| {
                Ok(Chain {
                    kind: kind_of(&col::<String>(row, 0)?)?,
                    period: period_of(&col::<String>(row, 1)?)?,
                    region,
                    due_fen: fen_of(col(row, 2)?)?,
                    paid_fen: fen_of(col(row, 3)?)?,
                    last_paid_at: col::<Option<String>>(row, 4)?.as_deref().map(time_of).transpose()?,
                })
            },
        )?);
    }
    Ok((record, chains))
}

/// The periods a plan agreed on `agreed_on` takes, read in the caller's transaction.
/// The person must be in `scope`; their periods are read city-wide (a period's chain stays
/// in the county it began in, and the person moved since), as the standing check reads them.
fn plannable_in(conn: &Connection, scope: RegionCode, person: &NationalId, agreed_on: Date) -> Result<Vec<PlanPeriod>, StoreError> {
    locate(conn, scope, person)?;
    let chains = chains(conn, scope.city(), person)?;
    let mut declared = Vec::new();
    for chain in &chains {
        if matches!(chain.kind, ContributionKind::Employee | ContributionKind::Maternity)
            && crate::employer::declared_by(conn, person, chain.period)?.is_some()
        {
            declared.push((chain.kind, chain.period));
        }
    }
    Ok(plan_periods(&chains, agreed_on, |chain| declared.contains(&(chain.kind, chain.period))))
}

fn open_plan(conn: &Connection, person: &NationalId) -> Result<Option<PlanRecord>, StoreError> {
    query_opt(
        conn,
        &format!("SELECT {PLAN_COLUMNS} FROM arrears_plans WHERE person_id = ?1 AND status = 'open'"),
        [person.as_str()],
        plan_from_row,
    )
}

/// Refuses a payment (`by_counter`) or a declaration of a period an open plan repays.
pub(crate) fn check_not_in_plan(
    conn: &Connection,
    person: &NationalId,
    kind: ContributionKind,
    period: Period,
    by_counter: bool,
) -> Result<(), StoreError> {
    let planned = query_opt(
        conn,
        "SELECT 1 FROM arrears_plan_periods WHERE person_id = ?1 AND kind = ?2 AND period = ?3",
        params![person.as_str(), kind.as_str(), period.to_string()],
        |row| col::<i64>(row, 0),
    )?;
    match planned {
        Some(_) => Err(in_plan(person, kind, period, by_counter)),
        None => Ok(()),
    }
}

/// The chain of one period of the person in `region`: what it bills, what is paid, and the
/// breakdown of its first record (the bill the payment completes).
fn chain_bill(
    conn: &Connection,
    region: RegionCode,
    person: &NationalId,
    kind: ContributionKind,
    period: Period,
) -> Result<(Fen, String), StoreError> {
    query_opt(
        conn,
        "SELECT (SELECT MAX(due_fen) FROM contributions WHERE region_code = ?1 AND person_id = ?2 AND kind = ?3 AND period = ?4), \
                breakdown FROM contributions WHERE region_code = ?1 AND person_id = ?2 AND kind = ?3 AND period = ?4 ORDER BY seq LIMIT 1",
        params![region.to_string(), person.as_str(), kind.as_str(), period.to_string()],
        |row| Ok((fen_of(col(row, 0)?)?, col::<String>(row, 1)?)),
    )?
    .ok_or_else(|| StoreError::Backend(format!("{period} of {person} is in a plan but has no contribution")))
}

impl ArrearsStore for SqliteStore {
    async fn owed_periods(
        &self,
        scope: RegionCode,
        person: &NationalId,
        cleared_since: Date,
    ) -> Result<(PersonRecord, Vec<OwedPeriod>), StoreError> {
        let person = *person;
        self.read(move |conn| {
            let (record, chains) = person_chains(conn, scope, &person)?;
            Ok((record, owed_periods(&chains, cleared_since)))
        })
        .await
    }

    async fn plannable(&self, scope: RegionCode, person: &NationalId, agreed_on: Date) -> Result<Vec<PlanPeriod>, StoreError> {
        let person = *person;
        self.read(move |conn| plannable_in(conn, scope, &person, agreed_on)).await
    }

    async fn plans_of(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<PlanRecord>, StoreError> {
        let person = *person;
        self.read(move |conn| {
            locate(conn, scope, &person)?;
            query_all(
                conn,
                &format!("SELECT {PLAN_COLUMNS} FROM arrears_plans WHERE person_id = ?1 ORDER BY seq DESC LIMIT ?2"),
                params![person.as_str(), yibao_store::SEARCH_LIMIT],
                plan_from_row,
            )
        })
        .await
    }

    async fn agree_plan(&self, actor: &Actor, scope: RegionCode, plan: NewPlan) -> Result<PlanRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let (region, _) = locate(conn, scope, &plan.person_id)?;
            let current = plannable_in(conn, scope, &plan.person_id, plan.agreed_on)?;
            let total_fen = check_new_plan(&plan, &current, open_plan(conn, &plan.person_id)?.is_some())?;
            let seq = query_opt(
                conn,
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM arrears_plans WHERE person_id = ?1",
                [plan.person_id.as_str()],
                |row| col::<i64>(row, 0),
            )?
            .unwrap_or(1);
            let record = PlanRecord::agreed(plan, seq, region, current, total_fen, actor.at);
            exec(
                conn,
                &format!("INSERT INTO arrears_plans ({PLAN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    record.person_id.as_str(),
                    seq,
                    region.to_string(),
                    date_text(record.agreed_on),
                    json(&record.periods)?,
                    total_fen.get(),
                    json(&record.schedule)?,
                    json(&record.payments)?,
                    record.status.as_str(),
                    time_text(actor.at)?
                ],
            )?;
            for period in &record.periods {
                exec(
                    conn,
                    "INSERT INTO arrears_plan_periods (person_id, kind, period, seq) VALUES (?1, ?2, ?3, ?4)",
                    params![record.person_id.as_str(), period.kind.as_str(), period.period.to_string(), seq],
                )?;
            }
            audit(conn, &actor, region, "arrears.plan", &record.entity(), json(&record)?)?;
            Ok(record)
        })
        .await
    }

    async fn pay_instalment(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        payment: InstalmentPayment,
    ) -> Result<PlanRecord, StoreError> {
        let (actor, person) = (actor.clone(), *person);
        self.write(move |conn| {
            locate(conn, scope, &person)?;
            let plans = query_all(
                conn,
                &format!("SELECT {PLAN_COLUMNS} FROM arrears_plans WHERE person_id = ?1 ORDER BY seq DESC"),
                [person.as_str()],
                plan_from_row,
            )?;
            if let Some(recorded) = recorded_receipt(&plans, &payment)? {
                return Ok(recorded);
            }
            if crate::access::receipt_recorded(conn, &person, &payment.receipt)?.is_some() {
                return Err(yibao_store::receipt_of_counter(&payment.receipt));
            }
            let mut plan = plans
                .into_iter()
                .find(|plan| plan.status == PlanStatus::Open)
                .ok_or_else(|| StoreError::Refused { code: "arrears.no_plan", message: format!("{person} has no open repayment plan") })?;
            let chains = chains(conn, plan.region.city(), &person)?;
            let decision = decide_instalment(&plan, &chains, &payment, actor.at)?;
            let city = plan.region.city();
            for (part, region) in &decision.parts {
                let (due_fen, breakdown_json) = chain_bill(conn, *region, &person, part.kind, part.period)?;
                let contribution = NewContribution {
                    person_id: person,
                    kind: part.kind,
                    period: part.period,
                    due_fen,
                    paid_fen: part.owed_fen,
                    breakdown_json,
                };
                insert_contribution(conn, &actor, city, contribution, false)?;
            }
            exec(
                conn,
                "INSERT INTO contribution_receipts (person_id, receipt, source) VALUES (?1, ?2, 'plan')",
                params![person.as_str(), payment.receipt],
            )?;
            let payment = decision.payment;
            plan.payments.push(payment.clone());
            if decision.completes {
                plan.status = PlanStatus::Completed;
                exec(conn, "DELETE FROM arrears_plan_periods WHERE person_id = ?1", [person.as_str()])?;
            }
            exec(
                conn,
                "UPDATE arrears_plans SET payments = ?1, status = ?2 WHERE person_id = ?3 AND seq = ?4",
                params![json(&plan.payments)?, plan.status.as_str(), person.as_str(), plan.seq],
            )?;
            let detail = serde_json::json!({ "plan": plan.entity(), "payment": payment, "status": plan.status });
            audit(conn, &actor, plan.region, "arrears.instalment", &plan.entity(), detail.to_string())?;
            Ok(plan)
        })
        .await
    }
}
