//! Administrators' contracts and quarters on PostgreSQL (issue 18): the SQL only; the
//! rules are `yibao_store::administrator`'s. A quarter is written once: its row's key
//! refuses a second (the unique violation is `administrator.quarter_scored`), and its
//! transfers post in the same transaction.

use time::Date;
use yibao_domain::{Fen, RegionCode};
use yibao_ledger::FundScheme;
use yibao_store::administrator::{
    AdministratorStore, ContractRecord, ContractTerms, CountyQuarter, ENTRIES_LISTED_MAX, PerformanceEntry, QUARTER_CLAIMS_MAX,
    QuarterClaim, QuarterRecord, quarter_entries,
};
use yibao_store::books::date_text;
use yibao_store::stored::{from_json, time_of, time_text};
use yibao_store::{Actor, StoreError};

use crate::{PostgresStore, audit, backend, books, is_unique_violation, json};

impl AdministratorStore for PostgresStore {
    async fn create_contract(
        &self,
        actor: &Actor,
        city: RegionCode,
        terms: ContractTerms,
        api_key_hash: String,
    ) -> Result<ContractRecord, StoreError> {
        terms.check(city)?;
        let record = ContractRecord { city, terms, signed_by: actor.who.clone(), recorded_at: actor.at, active: true };
        let mut tx = self.write().await?;
        let inserted = sqlx::query("INSERT INTO administrator_contracts (code, city_code, api_key_hash, record) VALUES ($1, $2, $3, $4)")
            .bind(&record.terms.code)
            .bind(city.to_string())
            .bind(&api_key_hash)
            .bind(json(&record)?)
            .execute(&mut *tx)
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e, "administrator_contracts_pkey") => {
                return Err(StoreError::Refused {
                    code: "administrator.exists",
                    message: format!("an administrator {} is under contract already", record.terms.code),
                });
            }
            other => other.map_err(backend)?,
        };
        audit(&mut tx, actor, city, "administrator.contract", &record.terms.code, json(&record)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn contracts(&self, city: RegionCode) -> Result<Vec<ContractRecord>, StoreError> {
        let records: Vec<String> = sqlx::query_scalar("SELECT record FROM administrator_contracts WHERE city_code = $1 ORDER BY code")
            .bind(city.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        records.iter().map(|r| from_json(r)).collect()
    }

    async fn contract_by_key(&self, api_key_hash: &str) -> Result<Option<ContractRecord>, StoreError> {
        let record: Option<String> = sqlx::query_scalar("SELECT record FROM administrator_contracts WHERE api_key_hash = $1")
            .bind(api_key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        record.map(|r| from_json(&r)).transpose()
    }

    async fn record_performance_entry(
        &self,
        actor: &Actor,
        city: RegionCode,
        entry: PerformanceEntry,
    ) -> Result<PerformanceEntry, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO administrator_entries (code, on_date, recorded_at, record) VALUES ($1, $2, $3, $4)")
            .bind(&entry.code)
            .bind(date_text(entry.on))
            .bind(time_text(entry.recorded_at)?)
            .bind(json(&entry)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        audit(&mut tx, actor, city, "administrator.entry", &entry.code, json(&entry)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(entry)
    }

    async fn performance_entries(&self, city: RegionCode, code: &str, from: Date, to: Date) -> Result<Vec<PerformanceEntry>, StoreError> {
        let records: Vec<String> = sqlx::query_scalar(
            "SELECT e.record FROM administrator_entries e JOIN administrator_contracts c ON c.code = e.code \
             WHERE e.code = $1 AND c.city_code = $2 AND e.on_date BETWEEN $3 AND $4 ORDER BY e.on_date, e.recorded_at LIMIT $5",
        )
        .bind(code)
        .bind(city.to_string())
        .bind(date_text(from))
        .bind(date_text(to))
        .bind(ENTRIES_LISTED_MAX as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        records.iter().map(|r| from_json(r)).collect()
    }

    async fn county_quarter(&self, county: RegionCode, from: Date, to: Date) -> Result<CountyQuarter, StoreError> {
        let county_text = county.to_string();
        let (low, high) = yibao_store::administrator::settled_bounds(from, to);
        let rows: Vec<(String, String, Option<String>, i64, String)> = sqlx::query_as(
            "SELECT institution_code, claim_id, settlement::jsonb ->> 'insutype', fund_pay_fen, settled_at FROM claims \
             WHERE region_code = $1 AND status = 'settled' AND settled_at BETWEEN $2 AND $3 LIMIT $4",
        )
        .bind(&county_text)
        .bind(&low)
        .bind(&high)
        .bind((QUARTER_CLAIMS_MAX + 1) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut claims = Vec::new();
        for (institution_code, claim_id, insutype, fund_pay_fen, settled_at) in rows {
            let settled_at = time_of(&settled_at)?;
            if yibao_store::administrator::on_days(settled_at, from, to) {
                claims.push(QuarterClaim {
                    region: county,
                    institution_code,
                    claim_id,
                    insutype: insutype.unwrap_or_default(),
                    fund_pay_fen: Fen::new(fund_pay_fen),
                    settled_at,
                });
            }
        }
        yibao_store::administrator::check_quarter_size(claims.len(), county)?;
        let flags: Vec<String> =
            sqlx::query_scalar("SELECT record FROM claim_flags WHERE region_code = $1 AND outcome IS NOT NULL AND raised_at <= $2")
                .bind(&county_text)
                .bind(&high)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        let mut decided_flags = Vec::new();
        for flag in flags.iter().map(|f| from_json::<yibao_store::review::FlagRecord>(f)) {
            let flag = flag?;
            if let Some(decided) = flag.decided_at.filter(|at| yibao_store::administrator::on_days(*at, from, to)) {
                decided_flags.push((flag.raised_at, decided, flag.flag.hold, flag.institution_code, flag.claim_id));
            }
        }
        let findings: Vec<String> =
            sqlx::query_scalar("SELECT record FROM review_findings WHERE region_code = $1 AND status <> 'withdrawn'")
                .bind(&county_text)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        let mut bureau_findings = Vec::new();
        for finding in findings.iter().map(|f| from_json::<yibao_store::review::FindingRecord>(f)) {
            let finding = finding?;
            if finding.level == yibao_store::review::ReviewLevel::Bureau {
                bureau_findings.push((finding.institution_code, finding.claim_id, finding.amount_fen));
            }
        }
        let day = date_text(to);
        let insured: Vec<(Option<String>, i64)> = sqlx::query_as(
            "SELECT coverage ->> 'scheme', COUNT(*) FROM persons WHERE region_code = $1 AND coverage ->> 'coverage_from' <= $2 \
             AND (coverage ->> 'coverage_until' IS NULL OR coverage ->> 'coverage_until' >= $2) GROUP BY 1",
        )
        .bind(&county_text)
        .bind(&day)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let insured =
            insured.into_iter().filter_map(|(scheme, n)| Some((FundScheme::parse(&scheme?)?, u64::try_from(n).unwrap_or(0)))).collect();
        Ok(CountyQuarter { claims, decided_flags, bureau_findings, insured })
    }

    async fn record_quarter(&self, actor: &Actor, record: QuarterRecord) -> Result<QuarterRecord, StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query("INSERT INTO administrator_quarters (code, quarter, record) VALUES ($1, $2, $3)")
            .bind(&record.code)
            .bind(&record.quarter)
            .bind(json(&record)?)
            .execute(&mut *tx)
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e, "administrator_quarters_pkey") => {
                return Err(yibao_store::administrator::quarter_scored(&record.code, &record.quarter));
            }
            other => other.map_err(backend)?,
        };
        books::post(&mut tx, &actor.at_text(), &quarter_entries(&record)?).await?;
        audit(&mut tx, actor, record.city, "administrator.quarter", &record.record_id(), json(&record)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn quarters(&self, city: RegionCode, code: &str) -> Result<Vec<QuarterRecord>, StoreError> {
        let records: Vec<String> = sqlx::query_scalar(
            "SELECT q.record FROM administrator_quarters q JOIN administrator_contracts c ON c.code = q.code \
             WHERE q.code = $1 AND c.city_code = $2 ORDER BY q.quarter DESC",
        )
        .bind(code)
        .bind(city.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        records.iter().map(|r| from_json(r)).collect()
    }
}
