//! Reviews of settled claims on SQLite (issue 18): the SQL only; the rules (what a finding
//! deducts and posts, who decides an appeal) are `yibao_store::review`'s.

use rusqlite::{Connection, params};
use time::Date;
use yibao_domain::RegionCode;
use yibao_engine::monitoring::PaidClaim;
use yibao_store::review::{
    AppealDecision, FINDINGS_LISTED_MAX, FLAGS_LISTED_MAX, FindingQuery, FindingRecord, FlagOutcome, FlagQuery, FlagRecord, HeldClaim,
    NewFinding, PaidFlag, ReviewStore, RulePrecision, SCAN_CLAIMS_MAX, appealed, decided, finding_entries, flag_after_payment,
    flag_decided, new_finding, paid_claim_of, scan_too_large, settled_since,
};
use yibao_store::{Actor, ClaimRecord, StoreError};

use crate::{SqliteStore, audit, books, col, exec, find_claim, from_json, json, query_all, query_opt, scope_bounds};

/// Writes the flags of a claim just settled, inside the settlement's transaction.
pub(crate) fn insert_flags(conn: &Connection, claim: &ClaimRecord, flags: &[yibao_store::review::RaisedFlag]) -> Result<(), StoreError> {
    for record in yibao_store::review::flag_records(claim, flags) {
        insert_flag(conn, &record)?;
    }
    Ok(())
}

/// One flag's row.
fn insert_flag(conn: &Connection, record: &FlagRecord) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO claim_flags (institution_code, claim_id, flag_no, region_code, rule_id, hold, outcome, raised_at, record) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)",
        params![
            record.institution_code,
            record.claim_id,
            record.flag_no,
            record.region.to_string(),
            record.flag.rule,
            record.flag.hold,
            yibao_store::stored::time_text(record.raised_at)?,
            json(record)?
        ],
    )
    .map(|_| ())
}

/// The claim in `scope`, or `claim.not_found`.
fn claim_in(conn: &Connection, scope: RegionCode, institution: &str, claim_id: &str) -> Result<ClaimRecord, StoreError> {
    find_claim(conn, institution, claim_id)?
        .filter(|c| scope.contains(c.region))
        .ok_or_else(|| StoreError::ClaimNotFound { institution: institution.to_owned(), claim_id: claim_id.to_owned() })
}

pub(crate) fn findings_of(conn: &Connection, institution: &str, claim_id: &str) -> Result<Vec<FindingRecord>, StoreError> {
    query_all(
        conn,
        "SELECT record FROM review_findings WHERE institution_code = ?1 AND claim_id = ?2 ORDER BY finding_no",
        params![institution, claim_id],
        |row| from_json(&col::<String>(row, 0)?),
    )
}

fn flag_of(conn: &Connection, scope: RegionCode, institution: &str, claim_id: &str, flag_no: u32) -> Result<FlagRecord, StoreError> {
    query_opt(
        conn,
        "SELECT record FROM claim_flags WHERE institution_code = ?1 AND claim_id = ?2 AND flag_no = ?3",
        params![institution, claim_id, flag_no],
        |row| from_json::<FlagRecord>(&col::<String>(row, 0)?),
    )?
    .filter(|f| scope.contains(f.region))
    .ok_or_else(|| yibao_store::review::flag_not_found(institution, claim_id, flag_no))
}

fn save_flag(conn: &Connection, actor: &Actor, flag: &FlagRecord) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE claim_flags SET outcome = ?1, record = ?2 WHERE institution_code = ?3 AND claim_id = ?4 AND flag_no = ?5",
        params![flag.outcome.map(FlagOutcome::as_str), json(flag)?, flag.institution_code, flag.claim_id, flag.flag_no],
    )?;
    audit(conn, actor, flag.region, "claim.flag_decided", &yibao_store::review::flag_entity(flag), json(flag)?)
}

fn save_finding(conn: &Connection, finding: &FindingRecord, insert: bool) -> Result<(), StoreError> {
    if insert {
        exec(
            conn,
            "INSERT INTO review_findings (institution_code, claim_id, finding_no, region_code, status, found_at, record) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                finding.institution_code,
                finding.claim_id,
                finding.finding_no,
                finding.region.to_string(),
                finding.status.as_str(),
                yibao_store::stored::time_text(finding.found_at)?,
                json(finding)?
            ],
        )?;
    } else {
        exec(
            conn,
            "UPDATE review_findings SET status = ?1, record = ?2 WHERE institution_code = ?3 AND claim_id = ?4 AND finding_no = ?5",
            params![finding.status.as_str(), json(finding)?, finding.institution_code, finding.claim_id, finding.finding_no],
        )?;
    }
    Ok(())
}

fn finding_of(conn: &Connection, institution: &str, claim_id: &str, finding_no: u32) -> Result<Option<FindingRecord>, StoreError> {
    query_opt(
        conn,
        "SELECT record FROM review_findings WHERE institution_code = ?1 AND claim_id = ?2 AND finding_no = ?3",
        params![institution, claim_id, finding_no],
        |row| from_json(&col::<String>(row, 0)?),
    )
}

/// Withdraws the findings still deducting from a claim being reversed, in the reversal's
/// transaction (`yibao_store::review::withdrawn_with_reversal`).
pub(crate) fn withdraw_with_reversal(conn: &Connection, actor: &Actor, institution: &str, claim_id: &str) -> Result<(), StoreError> {
    let findings = findings_of(conn, institution, claim_id)?;
    for (finding, entries) in yibao_store::review::withdrawn_with_reversal(findings, actor, actor.at.date())? {
        save_finding(conn, &finding, false)?;
        books::post(conn, actor, &entries)?;
        audit(conn, actor, finding.region, "claim.finding_decided", &finding.record_id(), json(&finding)?)?;
    }
    Ok(())
}

impl ReviewStore for SqliteStore {
    async fn paid_claims(&self, scope: RegionCode, days: (Date, Date)) -> Result<Vec<PaidClaim>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            let claims = query_all(
                conn,
                "SELECT institution_code, claim_id, person_id, kind, institution_level, diagnosis, physician, admission_date, medfee_fen \
                 FROM claims WHERE region_code BETWEEN ?1 AND ?2 AND status = 'settled' AND settled_at >= ?6 \
                   AND admission_date BETWEEN ?3 AND ?4 \
                 ORDER BY institution_code, claim_id LIMIT ?5",
                params![low, high, days.0.to_string(), days.1.to_string(), SCAN_CLAIMS_MAX as i64 + 1, settled_since(days.0)],
                |row| {
                    paid_claim_of(
                        (col(row, 0)?, col(row, 1)?, col(row, 2)?),
                        (col(row, 3)?, col(row, 4)?, col(row, 5)?, col(row, 6)?, col(row, 7)?),
                        col(row, 8)?,
                    )
                },
            )?;
            if claims.len() > SCAN_CLAIMS_MAX {
                return Err(scan_too_large(days));
            }
            Ok(claims)
        })
        .await
    }

    async fn raise_flags(&self, actor: &Actor, scope: RegionCode, flags: Vec<PaidFlag>) -> Result<Vec<FlagRecord>, StoreError> {
        let actor = actor.clone();
        // The writer runs this in its transaction: the flags are raised together or not at all.
        self.write(move |tx| {
            let mut raised = Vec::new();
            for paid in flags {
                let claim = claim_in(tx, scope, &paid.institution_code, &paid.claim_id)?;
                let existing: Vec<FlagRecord> = query_all(
                    tx,
                    "SELECT record FROM claim_flags WHERE institution_code = ?1 AND claim_id = ?2",
                    params![paid.institution_code, paid.claim_id],
                    |row| from_json(&col::<String>(row, 0)?),
                )?;
                let Some(record) = flag_after_payment(&claim, &existing, paid.flag, actor.at) else { continue };
                insert_flag(tx, &record)?;
                audit(tx, &actor, record.region, "claim.flag_raised", &yibao_store::review::flag_entity(&record), json(&record)?)?;
                raised.push(record);
            }
            Ok(raised)
        })
        .await
    }

    async fn flags(&self, scope: RegionCode, query: FlagQuery) -> Result<Vec<FlagRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT record FROM claim_flags WHERE region_code BETWEEN ?1 AND ?2 \
                 AND (?3 = 0 OR outcome IS NULL) AND (?4 IS NULL OR institution_code = ?4) AND (?5 IS NULL OR claim_id = ?5) \
                 ORDER BY raised_at DESC, institution_code, claim_id, flag_no LIMIT ?6",
                params![low, high, query.open_only, query.institution, query.claim_id, FLAGS_LISTED_MAX as i64],
                |row| from_json(&col::<String>(row, 0)?),
            )
        })
        .await
    }

    async fn decide_flag(
        &self,
        actor: &Actor,
        scope: RegionCode,
        (institution, claim_id, flag_no): (&str, &str, u32),
        outcome: FlagOutcome,
        note: &str,
    ) -> Result<FlagRecord, StoreError> {
        let (actor, institution, claim_id, note) = (actor.clone(), institution.to_owned(), claim_id.to_owned(), note.to_owned());
        self.write(move |conn| {
            let flag = flag_decided(flag_of(conn, scope, &institution, &claim_id, flag_no)?, outcome, &note, &actor)?;
            save_flag(conn, &actor, &flag)?;
            Ok(flag)
        })
        .await
    }

    async fn rule_precision(&self, scope: RegionCode) -> Result<Vec<RulePrecision>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT rule_id, COUNT(*), COUNT(CASE WHEN outcome = 'confirmed' THEN 1 END), COUNT(CASE WHEN outcome = 'dismissed' THEN 1 END) FROM claim_flags \
                 WHERE region_code BETWEEN ?1 AND ?2 GROUP BY rule_id ORDER BY rule_id",
                params![low, high],
                |row| {
                    let count = |i| col::<i64>(row, i).map(|n| u64::try_from(n).unwrap_or(0));
                    Ok(RulePrecision::of(col(row, 0)?, count(1)?, count(2)?, count(3)?))
                },
            )
        })
        .await
    }

    async fn held_claims(&self, scope: RegionCode) -> Result<Vec<HeldClaim>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            let keys = query_all(
                conn,
                "SELECT DISTINCT institution_code, claim_id FROM claim_flags \
                 WHERE region_code BETWEEN ?1 AND ?2 AND hold = 1 AND outcome IS NULL ORDER BY institution_code, claim_id",
                params![low, high],
                |row| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?)),
            )?;
            let mut held = Vec::new();
            for (institution, claim_id) in keys {
                let claim = claim_in(conn, scope, &institution, &claim_id)?;
                held.push(HeldClaim { findings: findings_of(conn, &institution, &claim_id)?, claim });
            }
            Ok(held)
        })
        .await
    }

    async fn record_finding(&self, actor: &Actor, scope: RegionCode, finding: NewFinding) -> Result<FindingRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let claim = claim_in(conn, scope, &finding.institution_code, &finding.claim_id)?;
            let flag = match finding.flag_no {
                Some(no) => Some(flag_of(conn, scope, &finding.institution_code, &finding.claim_id, no)?),
                None => None,
            };
            let earlier = findings_of(conn, &finding.institution_code, &finding.claim_id)?;
            let record = new_finding(&claim, &earlier, finding, &actor)?;
            if let Some(flag) = flag {
                let flag = flag_decided(flag, FlagOutcome::Confirmed, &format!("finding {}", record.finding_no), &actor)?;
                save_flag(conn, &actor, &flag)?;
            }
            save_finding(conn, &record, true)?;
            books::post(conn, &actor, &finding_entries(&record)?)?;
            audit(conn, &actor, record.region, "claim.finding", &record.record_id(), json(&record)?)?;
            Ok(record)
        })
        .await
    }

    async fn appeal_finding(
        &self,
        actor: &Actor,
        institution: &str,
        claim_id: &str,
        finding_no: u32,
        appeal: &str,
    ) -> Result<FindingRecord, StoreError> {
        let (actor, institution, claim_id, appeal) = (actor.clone(), institution.to_owned(), claim_id.to_owned(), appeal.to_owned());
        self.write(move |conn| {
            let finding = finding_of(conn, &institution, &claim_id, finding_no)?
                .ok_or_else(|| yibao_store::review::finding_not_found(&institution, &claim_id, finding_no))?;
            let finding = appealed(finding, &appeal, &actor)?;
            save_finding(conn, &finding, false)?;
            audit(conn, &actor, finding.region, "claim.finding_appeal", &finding.record_id(), json(&finding)?)?;
            Ok(finding)
        })
        .await
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
        let (actor, institution, claim_id) = (actor.clone(), institution.to_owned(), claim_id.to_owned());
        self.write(move |conn| {
            let finding = finding_of(conn, &institution, &claim_id, finding_no)?
                .filter(|f| scope.contains(f.region))
                .ok_or_else(|| yibao_store::review::finding_not_found(&institution, &claim_id, finding_no))?;
            let (finding, entries) = decided(finding, &decision, &actor)?;
            save_finding(conn, &finding, false)?;
            books::post(conn, &actor, &entries)?;
            audit(conn, &actor, finding.region, "claim.finding_decided", &finding.record_id(), json(&finding)?)?;
            Ok(finding)
        })
        .await
    }

    async fn findings(&self, scope: RegionCode, query: FindingQuery) -> Result<Vec<FindingRecord>, StoreError> {
        let (low, high) = scope_bounds(scope);
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT record FROM review_findings WHERE region_code BETWEEN ?1 AND ?2 \
                 AND (?3 = 0 OR status = 'appealed') AND (?4 IS NULL OR institution_code = ?4) AND (?5 IS NULL OR claim_id = ?5) \
                 ORDER BY found_at DESC, institution_code, claim_id, finding_no LIMIT ?6",
                params![low, high, query.appealed_only, query.institution, query.claim_id, FINDINGS_LISTED_MAX as i64],
                |row| from_json(&col::<String>(row, 0)?),
            )
        })
        .await
    }
}
