//! Administrators' contracts and quarters on PostgreSQL (issue 18): the SQL only; the
//! rules are `yibao_store::administrator`'s. A quarter is written once: its row's key
//! refuses a second (the unique violation is `administrator.quarter_scored`), and its
//! transfers post in the same transaction.

use time::Date;
use yibao_domain::{Fen, RegionCode};
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
        (api_key_hash, bureau_seed): (String, u64),
    ) -> Result<ContractRecord, StoreError> {
        terms.check(city)?;
        let record = ContractRecord { city, terms, signed_by: actor.who.clone(), recorded_at: actor.at, active: true, bureau_seed };
        let mut tx = self.write().await?;
        // One contract signed at a time in a city: the overlap check reads what the last one wrote.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('contracts:' || $1))")
            .bind(city.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let existing: Vec<String> = sqlx::query_scalar("SELECT record FROM administrator_contracts WHERE city_code = $1")
            .bind(city.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let existing: Vec<ContractRecord> = existing.iter().map(|r| from_json(r)).collect::<Result<_, _>>()?;
        if existing.iter().any(|c| c.terms.code == record.terms.code) {
            return Err(StoreError::Refused {
                code: "administrator.exists",
                message: format!("an administrator {} is under contract already", record.terms.code),
            });
        }
        yibao_store::administrator::check_no_overlap(&existing, &record.terms)?;
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
        audit(&mut tx, actor, city, "administrator.contract", &record.terms.code, json(&record.clone().as_seen_by_administrator())?)
            .await?;
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
        .bind((ENTRIES_LISTED_MAX + 1) as i64)
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
        let flags: Vec<String> = sqlx::query_scalar("SELECT record FROM claim_flags WHERE region_code = $1 AND raised_at <= $2")
            .bind(&county_text)
            .bind(&high)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let flags = flags
            .iter()
            .map(|f| from_json::<yibao_store::review::FlagRecord>(f).map(|f| yibao_store::administrator::QuarterFlag::of(&f)))
            .collect::<Result<_, _>>()?;
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
        Ok(CountyQuarter { claims, flags, bureau_findings })
    }

    async fn insured_on(&self, city: RegionCode, on: Date) -> Result<yibao_store::administrator::InsuredOn, StoreError> {
        let (low, high) = crate::scope_bounds(city);
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT coverage::text, history::text FROM persons WHERE region_code BETWEEN $1 AND $2")
                .bind(low)
                .bind(high)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        let mut persons = Vec::with_capacity(rows.len());
        for (coverage, history) in &rows {
            let coverage: yibao_engine::Coverage = from_json(coverage)?;
            let history: Vec<yibao_engine::PastCoverage> = from_json(history)?;
            persons.push((coverage, history));
        }
        Ok(yibao_store::administrator::count_insured(persons.iter().map(|(c, h)| (c, h.as_slice())), on))
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
