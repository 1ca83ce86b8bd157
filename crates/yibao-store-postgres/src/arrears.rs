//! Arrears repaid in instalments on PostgreSQL (issue 16 item 4): the SQL only; which
//! periods a plan takes and where a payment goes are `yibao_store::arrears`'s.
//!
//! Locks: an instalment takes its plan's row first (a second payment of the plan waits and
//! then reads what the first paid), then the contribution counters and persons as any
//! contribution does. A plan is agreed under the partial unique index of open plans: a
//! second agreement of the person's arrears at the same time finds one open.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::Date;
use yibao_domain::{Fen, NationalId, Period, RegionCode};
use yibao_engine::{OwedPeriod, PlanPeriod};
use yibao_store::arrears::{
    Chain, InstalmentPayment, check_new_plan, decide_instalment, in_plan, owed_periods, plan_open, plan_periods, recorded_receipt,
};
use yibao_store::books::{date_of, date_text};
use yibao_store::stored::{fen_of, from_json, id_of, kind_of, period_of, time_of, time_text};
use yibao_store::{Actor, ArrearsStore, ContributionKind, NewContribution, NewPlan, PersonRecord, PlanRecord, PlanStatus, StoreError};

use crate::access::{insert_contribution, lock_counters};
use crate::{Audits, PostgresStore, backend, json, person_region, region_of};

const PLAN_COLUMNS: &str = "person_id, seq, region_code, agreed_on, periods::text AS periods, total_fen, schedule::text AS schedule, \
                            payments::text AS payments, status, recorded_at";

fn plan_from_row(row: &PgRow) -> Result<PlanRecord, StoreError> {
    Ok(PlanRecord {
        person_id: id_of(row.try_get("person_id").map_err(backend)?)?,
        seq: row.try_get("seq").map_err(backend)?,
        region: region_of(row.try_get("region_code").map_err(backend)?)?,
        agreed_on: date_of(row.try_get("agreed_on").map_err(backend)?)?,
        periods: from_json(row.try_get("periods").map_err(backend)?)?,
        total_fen: fen_of(row.try_get("total_fen").map_err(backend)?)?,
        schedule: from_json(row.try_get("schedule").map_err(backend)?)?,
        payments: from_json(row.try_get("payments").map_err(backend)?)?,
        status: PlanStatus::parse(row.try_get("status").map_err(backend)?)?,
        recorded_at: time_of(row.try_get("recorded_at").map_err(backend)?)?,
    })
}

/// Every chain of the person's contributions, summed, in each county of `scope` they were
/// insured in.
async fn chains(tx: &mut PgConnection, scope: RegionCode, person: &NationalId) -> Result<Vec<Chain>, StoreError> {
    Ok(person_chains(tx, scope, person).await?.1)
}

/// The person as recorded, and every chain of their contributions in `scope`.
async fn person_chains(tx: &mut PgConnection, scope: RegionCode, person: &NationalId) -> Result<(PersonRecord, Vec<Chain>), StoreError> {
    let region = person_region(tx, scope, person).await?;
    let record = crate::load_person(tx, region, person, false).await?;
    let regions: Vec<String> = yibao_store::regions_of(&record.coverage, &record.history)
        .into_iter()
        .filter(|region| scope.contains(*region))
        .map(|region| region.to_string())
        .collect();
    let rows = sqlx::query(
        "SELECT region_code, kind, period, MAX(due_fen) AS due_fen, SUM(paid_fen)::bigint AS paid_fen, \
                MAX(CASE WHEN paid_fen > 0 AND NOT migrated THEN recorded_at END) AS last_paid_at \
         FROM contributions WHERE region_code = ANY($1) AND person_id = $2 GROUP BY region_code, kind, period",
    )
    .bind(regions)
    .bind(person.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let chains = rows
        .iter()
        .map(|row| {
            Ok(Chain {
                kind: kind_of(row.try_get("kind").map_err(backend)?)?,
                period: period_of(row.try_get("period").map_err(backend)?)?,
                region: region_of(row.try_get("region_code").map_err(backend)?)?,
                due_fen: fen_of(row.try_get("due_fen").map_err(backend)?)?,
                paid_fen: fen_of(row.try_get("paid_fen").map_err(backend)?)?,
                last_paid_at: row.try_get::<Option<String>, _>("last_paid_at").map_err(backend)?.as_deref().map(time_of).transpose()?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((record, chains))
}

/// The person must be in `scope`; their periods are read city-wide (a period's chain stays
/// in the county it began in, and the person moved since), as the standing check reads them.
async fn plannable_in(
    tx: &mut PgConnection,
    scope: RegionCode,
    person: &NationalId,
    agreed_on: Date,
) -> Result<Vec<PlanPeriod>, StoreError> {
    person_region(tx, scope, person).await?;
    let chains = chains(tx, scope.city(), person).await?;
    let mut declared = Vec::new();
    for chain in &chains {
        if matches!(chain.kind, ContributionKind::Employee | ContributionKind::Maternity)
            && crate::employer::declared_by(tx, person, chain.period).await?.is_some()
        {
            declared.push((chain.kind, chain.period));
        }
    }
    Ok(plan_periods(&chains, agreed_on, |chain| declared.contains(&(chain.kind, chain.period))))
}

/// Refuses a payment (`by_counter`) or a declaration of a period an open plan repays.
pub(crate) async fn check_not_in_plan(
    tx: &mut PgConnection,
    person: &NationalId,
    kind: ContributionKind,
    period: Period,
    by_counter: bool,
) -> Result<(), StoreError> {
    let planned: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM arrears_plan_periods WHERE person_id = $1 AND kind = $2 AND period = $3")
            .bind(person.as_str())
            .bind(kind.as_str())
            .bind(period.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    match planned {
        Some(_) => Err(in_plan(person, kind, period, by_counter)),
        None => Ok(()),
    }
}

/// What the period's chain bills, and the breakdown of its first record.
async fn chain_bill(
    tx: &mut PgConnection,
    region: RegionCode,
    person: &NationalId,
    kind: ContributionKind,
    period: Period,
) -> Result<(Fen, String), StoreError> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT (SELECT MAX(due_fen) FROM contributions WHERE region_code = $1 AND person_id = $2 AND kind = $3 AND period = $4), \
                breakdown FROM contributions WHERE region_code = $1 AND person_id = $2 AND kind = $3 AND period = $4 ORDER BY seq LIMIT 1",
    )
    .bind(region.to_string())
    .bind(person.as_str())
    .bind(kind.as_str())
    .bind(period.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let (due, breakdown) = row.ok_or_else(|| StoreError::Backend(format!("{period} of {person} is in a plan but has no contribution")))?;
    Ok((fen_of(due)?, breakdown))
}

impl ArrearsStore for PostgresStore {
    async fn owed_periods(
        &self,
        scope: RegionCode,
        person: &NationalId,
        cleared_since: Date,
    ) -> Result<(PersonRecord, Vec<OwedPeriod>), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let (record, chains) = person_chains(&mut conn, scope, person).await?;
        Ok((record, owed_periods(&chains, cleared_since)))
    }

    async fn plannable(&self, scope: RegionCode, person: &NationalId, agreed_on: Date) -> Result<Vec<PlanPeriod>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let periods = plannable_in(&mut tx, scope, person, agreed_on).await?;
        tx.commit().await.map_err(backend)?;
        Ok(periods)
    }

    async fn plans_of(&self, scope: RegionCode, person: &NationalId) -> Result<Vec<PlanRecord>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        person_region(&mut conn, scope, person).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM arrears_plans WHERE person_id = $1 ORDER BY seq DESC LIMIT $2"
        )))
        .bind(person.as_str())
        .bind(yibao_store::SEARCH_LIMIT)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        rows.iter().map(plan_from_row).collect()
    }

    async fn agree_plan(&self, actor: &Actor, scope: RegionCode, plan: NewPlan) -> Result<PlanRecord, StoreError> {
        let mut tx = self.write().await?;
        let region = person_region(&mut tx, scope, &plan.person_id).await?;
        // The person's contribution counters first, as a counter payment or a declaration
        // takes them before it asks whether a period is in a plan: one waits for the other,
        // so a plan never takes a period paid meanwhile, nor a payment one planned meanwhile.
        crate::access::lock_person_counters(&mut tx, &[plan.person_id.to_string()]).await?;
        let current = plannable_in(&mut tx, scope, &plan.person_id, plan.agreed_on).await?;
        let open: Option<i64> = sqlx::query_scalar("SELECT seq FROM arrears_plans WHERE person_id = $1 AND status = 'open'")
            .bind(plan.person_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let total_fen = check_new_plan(&plan, &current, open.is_some())?;
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM arrears_plans WHERE person_id = $1")
            .bind(plan.person_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let record = PlanRecord::agreed(plan, seq, region, current, total_fen, actor.at);
        let inserted = sqlx::query(
            "INSERT INTO arrears_plans (person_id, seq, region_code, agreed_on, periods, total_fen, schedule, payments, status, recorded_at) \
             VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8::jsonb, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(record.person_id.as_str())
        .bind(seq)
        .bind(region.to_string())
        .bind(date_text(record.agreed_on))
        .bind(json(&record.periods)?)
        .bind(total_fen.get())
        .bind(json(&record.schedule)?)
        .bind(json(&record.payments)?)
        .bind(record.status.as_str())
        .bind(time_text(actor.at)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            // Another agreement of the person's arrears committed meanwhile.
            return Err(plan_open(&record.person_id));
        }
        for period in &record.periods {
            sqlx::query("INSERT INTO arrears_plan_periods (person_id, kind, period, seq) VALUES ($1, $2, $3, $4)")
                .bind(record.person_id.as_str())
                .bind(period.kind.as_str())
                .bind(period.period.to_string())
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        crate::audit(&mut tx, actor, region, "arrears.plan", &record.entity(), json(&record)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn pay_instalment(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        payment: InstalmentPayment,
    ) -> Result<PlanRecord, StoreError> {
        let mut tx = self.write().await?;
        person_region(&mut tx, scope, person).await?;
        // The open plan's row first: a second payment of the plan (the same receipt sent
        // twice at once) waits here, then finds the first's receipt recorded.
        let open = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM arrears_plans WHERE person_id = $1 AND status = 'open' FOR UPDATE"
        )))
        .bind(person.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .as_ref()
        .map(plan_from_row)
        .transpose()?;
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {PLAN_COLUMNS} FROM arrears_plans WHERE person_id = $1 ORDER BY seq DESC")))
                .bind(person.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        let plans = rows.iter().map(plan_from_row).collect::<Result<Vec<_>, _>>()?;
        if let Some(recorded) = recorded_receipt(&plans, &payment)? {
            return Ok(recorded);
        }
        if crate::access::receipt_recorded(&mut tx, person, &payment.receipt).await?.is_some() {
            return Err(yibao_store::receipt_of_counter(&payment.receipt));
        }
        let mut plan =
            open.ok_or_else(|| StoreError::Refused { code: "arrears.no_plan", message: format!("{person} has no open repayment plan") })?;
        let chains = chains(&mut tx, plan.region.city(), person).await?;
        let decision = decide_instalment(&plan, &chains, &payment, actor.at)?;
        let mut contributions = Vec::with_capacity(decision.parts.len());
        for (part, region) in &decision.parts {
            let (due_fen, breakdown_json) = chain_bill(&mut tx, *region, person, part.kind, part.period).await?;
            contributions.push(NewContribution {
                person_id: *person,
                kind: part.kind,
                period: part.period,
                due_fen,
                paid_fen: part.owed_fen,
                breakdown_json,
            });
        }
        lock_counters(&mut tx, &contributions).await?;
        let city = plan.region.city();
        let mut audits = Audits::default();
        for contribution in contributions {
            insert_contribution(&mut tx, actor, city, contribution, &mut audits, false).await?;
        }
        // A counter payment of another period may have taken the receipt meanwhile: the row
        // is refused then, and this payment with it.
        let taken =
            sqlx::query("INSERT INTO contribution_receipts (person_id, receipt, source) VALUES ($1, $2, 'plan') ON CONFLICT DO NOTHING")
                .bind(person.as_str())
                .bind(&payment.receipt)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        if taken.rows_affected() == 0 {
            return Err(yibao_store::receipt_of_counter(&payment.receipt));
        }
        let payment = decision.payment;
        plan.payments.push(payment.clone());
        if decision.completes {
            plan.status = PlanStatus::Completed;
            sqlx::query("DELETE FROM arrears_plan_periods WHERE person_id = $1")
                .bind(person.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        sqlx::query("UPDATE arrears_plans SET payments = $1::jsonb, status = $2 WHERE person_id = $3 AND seq = $4")
            .bind(json(&plan.payments)?)
            .bind(plan.status.as_str())
            .bind(person.as_str())
            .bind(plan.seq)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let detail = serde_json::json!({ "plan": plan.entity(), "payment": payment, "status": plan.status });
        audits.push(plan.region, "arrears.instalment", &plan.entity(), detail.to_string());
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(plan)
    }
}
