//! Administrators' contracts and quarters on PostgreSQL (issue 18): the SQL only; the
//! rules are `yibao_store::administrator`'s. A quarter is written once: its row's key
//! refuses a second (the unique violation is `administrator.quarter_scored`), and its
//! transfers post in the same transaction.

use time::Date;
use yibao_domain::{Fen, RegionCode};
use yibao_store::administrator::{
    AdministratorStore, ContractRecord, ContractTerms, CountyQuarter, ENTRIES_LISTED_MAX, PerformanceEntry, QUARTER_CLAIMS_MAX,
    QuarterClaim, QuarterRecord, RevolvingBooking, RevolvingKind, RevolvingLine, SupplementaryClaim, UNDERWRITTEN_CLAIMS_MAX,
    check_underwritten_size, owed_by_county, plan_revolving, quarter_entries, revolving_entries, underwritten_bounds, with_recoveries,
};
use yibao_store::books::{date_text, insutypes_sql};
use yibao_store::stored::{from_json, time_of, time_text};
use yibao_store::{Actor, StoreError};

use crate::review::findings_of;
use crate::{CLAIM_COLUMNS, PostgresStore, audit, backend, books, claim_from_row, is_unique_violation, json};

/// The claims of `county` an underwriting contract may be owed back for, read in the
/// recording transaction: still settled, of its schemes' insurance types, a day of care in
/// its service period, whose supplementary layer paid something; each with its findings.
/// The region's settlements since the period's first day are read through the index by
/// region and settlement, and only those the filters keep are read whole.
async fn underwritten_claims(
    tx: &mut sqlx::PgConnection,
    terms: &ContractTerms,
    county: RegionCode,
) -> Result<Vec<SupplementaryClaim>, StoreError> {
    let (settled_since, first_day, last_day) = underwritten_bounds(terms);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CLAIM_COLUMNS} FROM claims WHERE region_code = $1 AND settled_at >= $2 AND status = 'settled' \
         AND supplementary_fen <> 0 AND insutype IN ({}) \
         AND admission_date BETWEEN $3 AND $4 LIMIT $5",
        insutypes_sql(&terms.schemes)
    )))
    .bind(county.to_string())
    .bind(settled_since)
    .bind(first_day)
    .bind(last_day)
    .bind((UNDERWRITTEN_CLAIMS_MAX + 1) as i64)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    check_underwritten_size(rows.len(), county)?;
    let mut claims = Vec::with_capacity(rows.len());
    for row in &rows {
        let claim = claim_from_row(row)?;
        let findings = findings_of(tx, claim.institution_code.as_str(), &claim.claim_id).await?;
        claims.push(SupplementaryClaim { claim, findings });
    }
    Ok(claims)
}

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
            "SELECT institution_code, claim_id, NULLIF(insutype, ''), fund_pay_fen, settled_at FROM claims \
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
        // One quarter of a contract recorded at a time: its recoveries read what the last one
        // wrote.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('quarters:' || $1))")
            .bind(&record.code)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let scored: Vec<String> = sqlx::query_scalar("SELECT record FROM administrator_quarters WHERE code = $1")
            .bind(&record.code)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let scored = scored.iter().map(|q| from_json::<QuarterRecord>(q)).collect::<Result<Vec<_>, _>>()?;
        if scored.iter().any(|q| q.quarter == record.quarter) {
            return Err(yibao_store::administrator::quarter_scored(&record.code, &record.quarter));
        }
        let record = if record.supplementary.is_empty() {
            record
        } else {
            let contract: Option<String> = sqlx::query_scalar("SELECT record FROM administrator_contracts WHERE code = $1")
                .bind(&record.code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            let contract: ContractRecord =
                from_json(&contract.ok_or_else(|| StoreError::Invalid(format!("no contract {}", record.code)))?)?;
            let mut claims = Vec::new();
            for county in &contract.terms.counties {
                claims.extend(underwritten_claims(&mut tx, &contract.terms, *county).await?);
            }
            with_recoveries(record, &owed_by_county(&contract.terms, &claims)?, &scored)
        };
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

    async fn book_revolving(
        &self,
        actor: &Actor,
        contract: &ContractRecord,
        scheme: yibao_ledger::FundScheme,
        (kind, on): (RevolvingKind, Date),
        held: Vec<RevolvingLine>,
    ) -> Result<RevolvingBooking, StoreError> {
        let city = contract.city;
        let code = contract.terms.code.clone();
        let holder = format!("insurer:{code}");
        let day = date_text(on);
        let mut tx = self.write().await?;
        books::lock_city_payables(&mut tx, city).await?;
        let balance: i64 = sqlx::query_scalar(
            "SELECT (COALESCE(SUM(CASE WHEN debit_holder = $3 AND debit_kind = 'expenditure' THEN amount_fen ELSE 0 END), 0) \
                   - COALESCE(SUM(CASE WHEN credit_holder = $3 AND credit_kind = 'expenditure' THEN amount_fen ELSE 0 END), 0))::int8 \
             FROM ledger_transfers WHERE region_code = $1 AND fund_scheme = $2 AND value_date <= $4 \
             AND ((debit_holder = $3 AND debit_kind = 'expenditure') OR (credit_holder = $3 AND credit_kind = 'expenditure'))",
        )
        .bind(city.to_string())
        .bind(scheme.as_str())
        .bind(&holder)
        .bind(&day)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let outstanding = if kind == RevolvingKind::Payment {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT unit_code, CASE WHEN credit_kind = 'payable' THEN credit_holder ELSE debit_holder END AS payee, \
                        SUM(CASE WHEN credit_kind = 'payable' THEN amount_fen ELSE -amount_fen END)::int8 \
                 FROM ledger_transfers WHERE region_code = $1 AND fund_scheme = $2 AND value_date <= $3 \
                 AND ((credit_kind = 'payable' AND credit_holder LIKE 'institution:%') OR (debit_kind = 'payable' AND debit_holder LIKE 'institution:%')) \
                 GROUP BY unit_code, payee",
            )
            .bind(city.to_string())
            .bind(scheme.as_str())
            .bind(&day)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            rows.into_iter()
                .map(|(unit, payee, amount)| {
                    Ok(RevolvingLine {
                        unit: crate::region_of(&unit)?,
                        institution: payee.trim_start_matches("institution:").to_owned(),
                        amount_fen: Fen::new(amount),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?
        } else {
            Vec::new()
        };
        let seq: i64 =
            sqlx::query_scalar("SELECT (COALESCE(MAX(seq), 0) + 1)::int8 FROM administrator_revolving WHERE code = $1 AND scheme = $2")
                .bind(&code)
                .bind(scheme.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        let seq = u32::try_from(seq).map_err(|_| StoreError::Backend("a revolving fund's bookings overflow".into()))?;
        let booking = plan_revolving(contract, scheme, (kind, seq, on), Fen::new(balance), &outstanding, &held);
        if booking.amount_fen().is_zero() {
            return Ok(booking);
        }
        sqlx::query("INSERT INTO administrator_revolving (code, scheme, seq, record) VALUES ($1, $2, $3, $4)")
            .bind(&code)
            .bind(scheme.as_str())
            .bind(i64::from(seq))
            .bind(json(&booking)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        books::post(&mut tx, &actor.at_text(), &revolving_entries(&booking)?).await?;
        audit(&mut tx, actor, city, "administrator.revolving", &booking.record_id(), json(&booking)?).await?;
        tx.commit().await.map_err(backend)?;
        Ok(booking)
    }

    async fn revolving_bookings(&self, city: RegionCode, code: &str) -> Result<Vec<RevolvingBooking>, StoreError> {
        let records: Vec<String> = sqlx::query_scalar(
            "SELECT r.record FROM administrator_revolving r JOIN administrator_contracts c ON c.code = r.code \
             WHERE r.code = $1 AND c.city_code = $2 ORDER BY r.scheme, r.seq DESC",
        )
        .bind(code)
        .bind(city.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        records.iter().map(|r| from_json(r)).collect()
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
