//! Reviews of settled claims on PostgreSQL (issue 18): the SQL only; the rules (what a
//! finding deducts and posts, who decides an appeal) are `yibao_store::review`'s.
//!
//! Locks: a finding, an appeal and a decision take the claim's row first (`FOR UPDATE`, as
//! a reversal does after the person's counters), so two findings of one claim are bounded
//! by what the fund owes one after the other and a reversal waits for them; then the
//! accounts they post to, and the audit heads last.

use sqlx::PgConnection;
use time::Date;
use yibao_domain::RegionCode;
use yibao_engine::monitoring::PaidClaim;
use yibao_store::review::{
    AppealDecision, FINDINGS_LISTED_MAX, FLAGS_LISTED_MAX, FindingQuery, FindingRecord, FlagOutcome, FlagQuery, FlagRecord, HeldClaim,
    NewFinding, PaidFlag, RaisedFlag, ReviewStore, RulePrecision, SCAN_CLAIMS_MAX, appealed, decided, finding_entries, flag_after_payment,
    flag_decided, new_finding, paid_claim_of, scan_too_large, settled_since,
};
use yibao_store::stored::{from_json, time_text};
use yibao_store::{Actor, ClaimRecord, StoreError};

use crate::{PostgresStore, audit, backend, books, find_claim, json, scope_bounds};

/// Writes the flags of claims just settled, inside the settlement's transaction.
pub(crate) async fn insert_flags(tx: &mut PgConnection, claims: &[(&ClaimRecord, &[RaisedFlag])]) -> Result<(), StoreError> {
    let records: Vec<FlagRecord> = claims.iter().flat_map(|(claim, flags)| yibao_store::review::flag_records(claim, flags)).collect();
    if records.is_empty() {
        return Ok(());
    }
    let raised_at: Vec<String> = records.iter().map(|r| time_text(r.raised_at)).collect::<Result<_, _>>()?;
    let texts: Vec<String> = records.iter().map(json).collect::<Result<_, _>>()?;
    sqlx::query(
        "INSERT INTO claim_flags (institution_code, claim_id, flag_no, region_code, rule_id, hold, raised_at, record) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[])",
    )
    .bind(records.iter().map(|r| r.institution_code.as_str()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.claim_id.as_str()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| i64::from(r.flag_no)).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.region.to_string()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.flag.rule.as_str()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.flag.hold).collect::<Vec<_>>())
    .bind(raised_at)
    .bind(texts)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    Ok(())
}

/// The claim in `scope` with its row locked, or `claim.not_found`.
async fn lock_claim(tx: &mut PgConnection, scope: RegionCode, institution: &str, claim_id: &str) -> Result<ClaimRecord, StoreError> {
    let not_found = || StoreError::ClaimNotFound { institution: institution.to_owned(), claim_id: claim_id.to_owned() };
    let claim = find_claim(tx, institution, claim_id).await?.filter(|c| scope.contains(c.region)).ok_or_else(not_found)?;
    sqlx::query("SELECT 1 FROM claims WHERE region_code = $1 AND institution_code = $2 AND claim_id = $3 FOR UPDATE")
        .bind(claim.region.to_string())
        .bind(institution)
        .bind(claim_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    // Read again under the lock: a reversal may have committed meanwhile.
    find_claim(tx, institution, claim_id).await?.ok_or_else(not_found)
}

pub(crate) async fn findings_of(tx: &mut PgConnection, institution: &str, claim_id: &str) -> Result<Vec<FindingRecord>, StoreError> {
    let records: Vec<String> =
        sqlx::query_scalar("SELECT record FROM review_findings WHERE institution_code = $1 AND claim_id = $2 ORDER BY finding_no")
            .bind(institution)
            .bind(claim_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
    records.iter().map(|r| from_json(r)).collect()
}

async fn flag_of(
    tx: &mut PgConnection,
    scope: RegionCode,
    institution: &str,
    claim_id: &str,
    flag_no: u32,
) -> Result<FlagRecord, StoreError> {
    let record: Option<String> =
        sqlx::query_scalar("SELECT record FROM claim_flags WHERE institution_code = $1 AND claim_id = $2 AND flag_no = $3 FOR UPDATE")
            .bind(institution)
            .bind(claim_id)
            .bind(i64::from(flag_no))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    record
        .map(|r| from_json::<FlagRecord>(&r))
        .transpose()?
        .filter(|f| scope.contains(f.region))
        .ok_or_else(|| yibao_store::review::flag_not_found(institution, claim_id, flag_no))
}

async fn save_flag(tx: &mut PgConnection, actor: &Actor, flag: &FlagRecord) -> Result<(), StoreError> {
    sqlx::query("UPDATE claim_flags SET outcome = $1, record = $2 WHERE institution_code = $3 AND claim_id = $4 AND flag_no = $5")
        .bind(flag.outcome.map(FlagOutcome::as_str))
        .bind(json(flag)?)
        .bind(&flag.institution_code)
        .bind(&flag.claim_id)
        .bind(i64::from(flag.flag_no))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    audit(tx, actor, flag.region, "claim.flag_decided", &yibao_store::review::flag_entity(flag), json(flag)?).await
}

async fn save_finding(tx: &mut PgConnection, finding: &FindingRecord, insert: bool) -> Result<(), StoreError> {
    let query = if insert {
        sqlx::query(
            "INSERT INTO review_findings (institution_code, claim_id, finding_no, status, record, region_code, found_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
    } else {
        sqlx::query(
            "UPDATE review_findings SET status = $4, record = $5 \
             WHERE institution_code = $1 AND claim_id = $2 AND finding_no = $3 AND region_code = $6 AND found_at = $7",
        )
    };
    query
        .bind(&finding.institution_code)
        .bind(&finding.claim_id)
        .bind(i64::from(finding.finding_no))
        .bind(finding.status.as_str())
        .bind(json(finding)?)
        .bind(finding.region.to_string())
        .bind(time_text(finding.found_at)?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// The finding, or `review.not_found`; its claim's row locked first.
async fn lock_finding(
    tx: &mut PgConnection,
    scope: RegionCode,
    institution: &str,
    claim_id: &str,
    finding_no: u32,
) -> Result<FindingRecord, StoreError> {
    let not_found = || yibao_store::review::finding_not_found(institution, claim_id, finding_no);
    lock_claim(tx, scope, institution, claim_id).await.map_err(|_| not_found())?;
    let record: Option<String> =
        sqlx::query_scalar("SELECT record FROM review_findings WHERE institution_code = $1 AND claim_id = $2 AND finding_no = $3")
            .bind(institution)
            .bind(claim_id)
            .bind(i64::from(finding_no))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    record.map(|r| from_json::<FindingRecord>(&r)).transpose()?.filter(|f| scope.contains(f.region)).ok_or_else(not_found)
}

/// Withdraws the findings still deducting from a claim being reversed, in the reversal's
/// transaction, after its claim row is locked (`yibao_store::review::withdrawn_with_reversal`).
pub(crate) async fn withdraw_with_reversal(
    tx: &mut PgConnection,
    actor: &Actor,
    institution: &str,
    claim_id: &str,
) -> Result<(), StoreError> {
    let findings = findings_of(tx, institution, claim_id).await?;
    for (finding, entries) in yibao_store::review::withdrawn_with_reversal(findings, actor, actor.at.date())? {
        save_finding(tx, &finding, false).await?;
        books::post(tx, &actor.at_text(), &entries).await?;
        audit(tx, actor, finding.region, "claim.finding_decided", &finding.record_id(), json(&finding)?).await?;
    }
    Ok(())
}

impl ReviewStore for PostgresStore {
    async fn paid_claims(&self, scope: RegionCode, days: (Date, Date)) -> Result<Vec<PaidClaim>, StoreError> {
        let (low, high) = scope_bounds(scope);
        type Row = (String, String, String, String, String, String, Option<String>, String, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT institution_code, claim_id, person_id, kind, institution_level, diagnosis, physician, admission_date, medfee_fen \
             FROM claims WHERE region_code BETWEEN $1 AND $2 AND status = 'settled' AND settled_at >= $6 \
               AND admission_date BETWEEN $3 AND $4 ORDER BY institution_code, claim_id LIMIT $5",
        )
        .bind(low)
        .bind(high)
        .bind(days.0.to_string())
        .bind(days.1.to_string())
        .bind(SCAN_CLAIMS_MAX as i64 + 1)
        .bind(settled_since(days.0))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        if rows.len() > SCAN_CLAIMS_MAX {
            return Err(scan_too_large(days));
        }
        rows.into_iter()
            .map(|(institution, claim_id, person_id, kind, level, diagnosis, physician, day, medfee_fen)| {
                paid_claim_of((institution, claim_id, person_id), (kind, level, diagnosis, physician, day), medfee_fen)
            })
            .collect()
    }

    async fn raise_flags(&self, actor: &Actor, scope: RegionCode, mut flags: Vec<PaidFlag>) -> Result<Vec<FlagRecord>, StoreError> {
        // Claims locked in one order (a stable sort keeps each claim's flags in the pack's).
        flags.sort_by(|a, b| (&a.institution_code, &a.claim_id).cmp(&(&b.institution_code, &b.claim_id)));
        let mut tx = self.write().await?;
        let mut raised = Vec::new();
        // Appended at the end: the audit heads are the last locks a writer takes.
        let mut audits = crate::Audits::default();
        for paid in flags {
            // The claim's row locked: two scans number a claim's flags one after the other.
            let claim = lock_claim(&mut tx, scope, &paid.institution_code, &paid.claim_id).await?;
            let existing: Vec<String> = sqlx::query_scalar("SELECT record FROM claim_flags WHERE institution_code = $1 AND claim_id = $2")
                .bind(&paid.institution_code)
                .bind(&paid.claim_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
            let existing: Vec<FlagRecord> = existing.iter().map(|r| from_json(r)).collect::<Result<_, _>>()?;
            let Some(record) = flag_after_payment(&claim, &existing, paid.flag, actor.at) else { continue };
            sqlx::query(
                "INSERT INTO claim_flags (institution_code, claim_id, flag_no, region_code, rule_id, hold, raised_at, record) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&record.institution_code)
            .bind(&record.claim_id)
            .bind(i64::from(record.flag_no))
            .bind(record.region.to_string())
            .bind(&record.flag.rule)
            .bind(record.flag.hold)
            .bind(time_text(record.raised_at)?)
            .bind(json(&record)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            audits.push(record.region, "claim.flag_raised", &yibao_store::review::flag_entity(&record), json(&record)?);
            raised.push(record);
        }
        audits.append(&mut tx, actor).await?;
        tx.commit().await.map_err(backend)?;
        Ok(raised)
    }

    async fn flags(&self, scope: RegionCode, query: FlagQuery) -> Result<Vec<FlagRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let records: Vec<String> = sqlx::query_scalar(
            "SELECT record FROM claim_flags WHERE region_code BETWEEN $1 AND $2 \
             AND (NOT $3 OR outcome IS NULL) AND ($4::text IS NULL OR institution_code = $4) AND ($5::text IS NULL OR claim_id = $5) \
             ORDER BY raised_at DESC, institution_code, claim_id, flag_no LIMIT $6",
        )
        .bind(low)
        .bind(high)
        .bind(query.open_only)
        .bind(query.institution)
        .bind(query.claim_id)
        .bind(FLAGS_LISTED_MAX as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        records.iter().map(|r| from_json(r)).collect()
    }

    async fn decide_flag(
        &self,
        actor: &Actor,
        scope: RegionCode,
        (institution, claim_id, flag_no): (&str, &str, u32),
        outcome: FlagOutcome,
        note: &str,
    ) -> Result<FlagRecord, StoreError> {
        let mut tx = self.write().await?;
        let flag = flag_decided(flag_of(&mut tx, scope, institution, claim_id, flag_no).await?, outcome, note, actor)?;
        save_flag(&mut tx, actor, &flag).await?;
        tx.commit().await.map_err(backend)?;
        Ok(flag)
    }

    async fn rule_precision(&self, scope: RegionCode) -> Result<Vec<RulePrecision>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT rule_id, COUNT(*), COUNT(*) FILTER (WHERE outcome = 'confirmed'), COUNT(*) FILTER (WHERE outcome = 'dismissed') \
             FROM claim_flags WHERE region_code BETWEEN $1 AND $2 GROUP BY rule_id ORDER BY rule_id",
        )
        .bind(low)
        .bind(high)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(rows
            .into_iter()
            .map(|(rule, raised, confirmed, dismissed)| RulePrecision::of(rule, count(raised), count(confirmed), count(dismissed)))
            .collect())
    }

    async fn held_claims(&self, scope: RegionCode) -> Result<Vec<HeldClaim>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT institution_code, claim_id FROM claim_flags \
             WHERE region_code BETWEEN $1 AND $2 AND hold AND outcome IS NULL ORDER BY institution_code, claim_id",
        )
        .bind(low)
        .bind(high)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let mut held = Vec::new();
        for (institution, claim_id) in keys {
            let claim = find_claim(&mut conn, &institution, &claim_id)
                .await?
                .filter(|c| scope.contains(c.region))
                .ok_or_else(|| StoreError::Backend(format!("flagged claim {institution}/{claim_id} has no claim")))?;
            held.push(HeldClaim { findings: findings_of(&mut conn, &institution, &claim_id).await?, claim });
        }
        Ok(held)
    }

    async fn record_finding(&self, actor: &Actor, scope: RegionCode, finding: NewFinding) -> Result<FindingRecord, StoreError> {
        let mut tx = self.write().await?;
        let claim = lock_claim(&mut tx, scope, &finding.institution_code, &finding.claim_id).await?;
        let flag = match finding.flag_no {
            Some(no) => Some(flag_of(&mut tx, scope, &finding.institution_code, &finding.claim_id, no).await?),
            None => None,
        };
        let earlier = findings_of(&mut tx, &finding.institution_code, &finding.claim_id).await?;
        let record = new_finding(&claim, &earlier, finding, actor)?;
        save_finding(&mut tx, &record, true).await?;
        books::post(&mut tx, &actor.at_text(), &finding_entries(&record)?).await?;
        if let Some(flag) = flag {
            let flag = flag_decided(flag, FlagOutcome::Confirmed, &format!("finding {}", record.finding_no), actor)?;
            save_flag(&mut tx, actor, &flag).await?;
        }
        audit(&mut tx, actor, record.region, "claim.finding", &record.record_id(), json(&record)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn appeal_finding(
        &self,
        actor: &Actor,
        institution: &str,
        claim_id: &str,
        finding_no: u32,
        appeal: &str,
    ) -> Result<FindingRecord, StoreError> {
        let mut tx = self.write().await?;
        let city = RegionCode::parse(institution.get(1..7).unwrap_or_default()).map_err(|e| StoreError::Invalid(e.to_string()))?.city();
        let finding = appealed(lock_finding(&mut tx, city, institution, claim_id, finding_no).await?, appeal, actor)?;
        save_finding(&mut tx, &finding, false).await?;
        audit(&mut tx, actor, finding.region, "claim.finding_appeal", &finding.record_id(), json(&finding)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(finding)
    }

    async fn decide_appeal(
        &self,
        actor: &Actor,
        scope: RegionCode,
        institution: &str,
        claim_id: &str,
        finding_no: u32,
        decision: AppealDecision,
    ) -> Result<FindingRecord, StoreError> {
        let mut tx = self.write().await?;
        let (finding, entries) = decided(lock_finding(&mut tx, scope, institution, claim_id, finding_no).await?, &decision, actor)?;
        save_finding(&mut tx, &finding, false).await?;
        books::post(&mut tx, &actor.at_text(), &entries).await?;
        audit(&mut tx, actor, finding.region, "claim.finding_decided", &finding.record_id(), json(&finding)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(finding)
    }

    async fn findings(&self, scope: RegionCode, query: FindingQuery) -> Result<Vec<FindingRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        let records: Vec<String> = sqlx::query_scalar(
            "SELECT record FROM review_findings WHERE region_code BETWEEN $1 AND $2 \
             AND (NOT $3 OR status = 'appealed') AND ($4::text IS NULL OR institution_code = $4) AND ($5::text IS NULL OR claim_id = $5) \
             ORDER BY found_at DESC, institution_code, claim_id, finding_no LIMIT $6",
        )
        .bind(low)
        .bind(high)
        .bind(query.appealed_only)
        .bind(query.institution)
        .bind(query.claim_id)
        .bind(FINDINGS_LISTED_MAX as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        records.iter().map(|r| from_json(r)).collect()
    }
}
