//! Administrators' contracts and quarters on SQLite (issue 18): the SQL only; the rules
//! are `yibao_store::administrator`'s.

use rusqlite::params;
use time::Date;
use yibao_domain::{Fen, RegionCode};
use yibao_store::administrator::{
    AdministratorStore, ContractRecord, ContractTerms, CountyQuarter, ENTRIES_LISTED_MAX, PerformanceEntry, QUARTER_CLAIMS_MAX,
    QuarterClaim, QuarterRecord, RevolvingBooking, RevolvingKind, RevolvingLine, SupplementaryClaim, UNDERWRITTEN_CLAIMS_MAX,
    check_underwritten_size, on_days, owed_by_county, plan_revolving, quarter_entries, revolving_entries, settled_bounds,
    underwritten_bounds, with_recoveries,
};
use yibao_store::books::{date_text, insutypes_sql};
use yibao_store::{Actor, StoreError};

use crate::review::findings_of;
use crate::{
    CLAIM_COLUMNS, SqliteStore, audit, books, claim_from_row, col, exec, from_json, json, query_all, query_opt, time_of, time_text,
};

fn exists(code: &str) -> StoreError {
    StoreError::Refused { code: "administrator.exists", message: format!("an administrator {code} is under contract already") }
}

/// The claims of `county` an underwriting contract may be owed back for, read in the
/// recording transaction: still settled, of its schemes' insurance types, a day of care in
/// its service period, whose supplementary layer paid something; each with its findings.
/// The region's settlements since the period's first day are read through the index by
/// region and settlement, and only those the filters keep are read whole.
fn underwritten_claims(
    conn: &rusqlite::Connection,
    terms: &ContractTerms,
    county: RegionCode,
) -> Result<Vec<SupplementaryClaim>, StoreError> {
    let (settled_since, first_day, last_day) = underwritten_bounds(terms);
    let claims = query_all(
        conn,
        &format!(
            "SELECT {CLAIM_COLUMNS} FROM claims WHERE region_code = ?1 AND settled_at >= ?2 AND status = 'settled' \
             AND supplementary_fen <> 0 AND insutype IN ({}) \
             AND admission_date BETWEEN ?3 AND ?4 LIMIT ?5",
            insutypes_sql(&terms.schemes)
        ),
        params![county.to_string(), settled_since, first_day, last_day, (UNDERWRITTEN_CLAIMS_MAX + 1) as i64],
        claim_from_row,
    )?;
    check_underwritten_size(claims.len(), county)?;
    claims
        .into_iter()
        .map(|claim| {
            let findings = findings_of(conn, claim.institution_code.as_str(), &claim.claim_id)?;
            Ok(SupplementaryClaim { claim, findings })
        })
        .collect()
}

impl AdministratorStore for SqliteStore {
    async fn create_contract(
        &self,
        actor: &Actor,
        city: RegionCode,
        terms: ContractTerms,
        (api_key_hash, bureau_seed): (String, u64),
    ) -> Result<ContractRecord, StoreError> {
        terms.check(city)?;
        let actor = actor.clone();
        self.write(move |conn| {
            let taken = query_opt(conn, "SELECT 1 FROM administrator_contracts WHERE code = ?1", [&terms.code], |row| col::<i64>(row, 0))?;
            if taken.is_some() {
                return Err(exists(&terms.code));
            }
            let existing: Vec<ContractRecord> =
                query_all(conn, "SELECT record FROM administrator_contracts WHERE city_code = ?1", [city.to_string()], |row| {
                    from_json(&col::<String>(row, 0)?)
                })?;
            yibao_store::administrator::check_no_overlap(&existing, &terms)?;
            let record = ContractRecord { city, terms, signed_by: actor.who.clone(), recorded_at: actor.at, active: true, bureau_seed };
            exec(
                conn,
                "INSERT INTO administrator_contracts (code, city_code, api_key_hash, record) VALUES (?1, ?2, ?3, ?4)",
                params![record.terms.code, city.to_string(), api_key_hash, json(&record)?],
            )?;
            audit(conn, &actor, city, "administrator.contract", &record.terms.code, json(&record.clone().as_seen_by_administrator())?)?;
            Ok(record)
        })
        .await
    }

    async fn contracts(&self, city: RegionCode) -> Result<Vec<ContractRecord>, StoreError> {
        self.read(move |conn| {
            query_all(conn, "SELECT record FROM administrator_contracts WHERE city_code = ?1 ORDER BY code", [city.to_string()], |row| {
                from_json(&col::<String>(row, 0)?)
            })
        })
        .await
    }

    async fn contract_by_key(&self, api_key_hash: &str) -> Result<Option<ContractRecord>, StoreError> {
        let hash = api_key_hash.to_owned();
        self.read(move |conn| {
            query_opt(conn, "SELECT record FROM administrator_contracts WHERE api_key_hash = ?1", [hash], |row| {
                from_json(&col::<String>(row, 0)?)
            })
        })
        .await
    }

    async fn record_performance_entry(
        &self,
        actor: &Actor,
        city: RegionCode,
        entry: PerformanceEntry,
    ) -> Result<PerformanceEntry, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO administrator_entries (code, on_date, recorded_at, record) VALUES (?1, ?2, ?3, ?4)",
                params![entry.code, date_text(entry.on), time_text(entry.recorded_at)?, json(&entry)?],
            )?;
            audit(conn, &actor, city, "administrator.entry", &entry.code, json(&entry)?)?;
            Ok(entry)
        })
        .await
    }

    async fn performance_entries(&self, city: RegionCode, code: &str, from: Date, to: Date) -> Result<Vec<PerformanceEntry>, StoreError> {
        let code = code.to_owned();
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT e.record FROM administrator_entries e JOIN administrator_contracts c ON c.code = e.code \
                 WHERE e.code = ?1 AND c.city_code = ?2 AND e.on_date BETWEEN ?3 AND ?4 ORDER BY e.on_date, e.recorded_at LIMIT ?5",
                params![code, city.to_string(), date_text(from), date_text(to), (ENTRIES_LISTED_MAX + 1) as i64],
                |row| from_json(&col::<String>(row, 0)?),
            )
        })
        .await
    }

    async fn county_quarter(&self, county: RegionCode, from: Date, to: Date) -> Result<CountyQuarter, StoreError> {
        self.read(move |conn| {
            let county_text = county.to_string();
            let (low, high) = settled_bounds(from, to);
            let mut claims = Vec::new();
            for row in query_all(
                conn,
                "SELECT institution_code, claim_id, NULLIF(insutype, ''), fund_pay_fen, settled_at FROM claims \
                 WHERE region_code = ?1 AND status = 'settled' AND settled_at BETWEEN ?2 AND ?3 LIMIT ?4",
                params![county_text, low, high, (QUARTER_CLAIMS_MAX + 1) as i64],
                |row| {
                    Ok((
                        col::<String>(row, 0)?,
                        col::<String>(row, 1)?,
                        col::<Option<String>>(row, 2)?,
                        col::<i64>(row, 3)?,
                        col::<String>(row, 4)?,
                    ))
                },
            )? {
                let settled_at = time_of(&row.4)?;
                if on_days(settled_at, from, to) {
                    claims.push(QuarterClaim {
                        region: county,
                        institution_code: row.0,
                        claim_id: row.1,
                        insutype: row.2.unwrap_or_default(),
                        fund_pay_fen: Fen::new(row.3),
                        settled_at,
                    });
                }
            }
            yibao_store::administrator::check_quarter_size(claims.len(), county)?;
            let flags = query_all(
                conn,
                "SELECT record FROM claim_flags WHERE region_code = ?1 AND raised_at <= ?2",
                params![county_text, high],
                |row| from_json::<yibao_store::review::FlagRecord>(&col::<String>(row, 0)?),
            )?
            .iter()
            .map(yibao_store::administrator::QuarterFlag::of)
            .collect();
            let bureau_findings = query_all(
                conn,
                "SELECT record FROM review_findings WHERE region_code = ?1 AND status <> 'withdrawn'",
                [&county_text],
                |row| from_json::<yibao_store::review::FindingRecord>(&col::<String>(row, 0)?),
            )?
            .into_iter()
            .filter(|f| f.level == yibao_store::review::ReviewLevel::Bureau)
            .map(|f| (f.institution_code, f.claim_id, f.amount_fen))
            .collect();
            Ok(CountyQuarter { claims, flags, bureau_findings })
        })
        .await
    }

    async fn insured_on(&self, city: RegionCode, on: Date) -> Result<yibao_store::administrator::InsuredOn, StoreError> {
        let (low, high) = crate::scope_bounds(city);
        self.read(move |conn| {
            let persons =
                query_all(conn, "SELECT coverage, history FROM persons WHERE region_code BETWEEN ?1 AND ?2", params![low, high], |row| {
                    let coverage: yibao_engine::Coverage = from_json(&col::<String>(row, 0)?)?;
                    let history: Vec<yibao_engine::PastCoverage> = from_json(&col::<String>(row, 1)?)?;
                    Ok((coverage, history))
                })?;
            Ok(yibao_store::administrator::count_insured(persons.iter().map(|(c, h)| (c, h.as_slice())), on))
        })
        .await
    }

    async fn record_quarter(&self, actor: &Actor, record: QuarterRecord) -> Result<QuarterRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let scored: Vec<QuarterRecord> =
                query_all(conn, "SELECT record FROM administrator_quarters WHERE code = ?1", params![record.code], |row| {
                    from_json(&col::<String>(row, 0)?)
                })?;
            if scored.iter().any(|q| q.quarter == record.quarter) {
                return Err(yibao_store::administrator::quarter_scored(&record.code, &record.quarter));
            }
            let record = if record.supplementary.is_empty() {
                record
            } else {
                let contract: ContractRecord =
                    query_opt(conn, "SELECT record FROM administrator_contracts WHERE code = ?1", [&record.code], |row| {
                        from_json(&col::<String>(row, 0)?)
                    })?
                    .ok_or_else(|| StoreError::Invalid(format!("no contract {}", record.code)))?;
                let mut claims = Vec::new();
                for county in &contract.terms.counties {
                    claims.extend(underwritten_claims(conn, &contract.terms, *county)?);
                }
                with_recoveries(record, &owed_by_county(&contract.terms, &claims)?, &scored)
            };
            exec(
                conn,
                "INSERT INTO administrator_quarters (code, quarter, record) VALUES (?1, ?2, ?3)",
                params![record.code, record.quarter, json(&record)?],
            )?;
            books::post(conn, &actor, &quarter_entries(&record)?)?;
            audit(conn, &actor, record.city, "administrator.quarter", &record.record_id(), json(&record)?)?;
            Ok(record)
        })
        .await
    }

    async fn book_revolving(
        &self,
        actor: &Actor,
        contract: &ContractRecord,
        scheme: yibao_ledger::FundScheme,
        (kind, on): (RevolvingKind, Date),
        held: Vec<RevolvingLine>,
    ) -> Result<RevolvingBooking, StoreError> {
        let (actor, contract) = (actor.clone(), contract.clone());
        self.write(move |conn| {
            let city = contract.city;
            let code = contract.terms.code.clone();
            let holder = format!("insurer:{code}");
            let day = date_text(on);
            let balance = query_opt(
                conn,
                "SELECT COALESCE(SUM(CASE WHEN debit_holder = ?3 AND debit_kind = 'expenditure' THEN amount_fen ELSE 0 END), 0)                       - COALESCE(SUM(CASE WHEN credit_holder = ?3 AND credit_kind = 'expenditure' THEN amount_fen ELSE 0 END), 0)                  FROM ledger_transfers WHERE region_code = ?1 AND fund_scheme = ?2 AND value_date <= ?4                  AND ((debit_holder = ?3 AND debit_kind = 'expenditure') OR (credit_holder = ?3 AND credit_kind = 'expenditure'))",
                params![city.to_string(), scheme.as_str(), holder, day],
                |row| col::<i64>(row, 0),
            )?
            .unwrap_or(0);
            let outstanding = if kind == RevolvingKind::Payment {
                query_all(
                    conn,
                    "SELECT unit_code, CASE WHEN credit_kind = 'payable' THEN credit_holder ELSE debit_holder END AS payee,                             SUM(CASE WHEN credit_kind = 'payable' THEN amount_fen ELSE -amount_fen END)                      FROM ledger_transfers WHERE region_code = ?1 AND fund_scheme = ?2 AND value_date <= ?3                      AND ((credit_kind = 'payable' AND credit_holder LIKE 'institution:%') OR (debit_kind = 'payable' AND debit_holder LIKE 'institution:%'))                      GROUP BY unit_code, payee",
                    params![city.to_string(), scheme.as_str(), day],
                    |row| {
                        let payee: String = col(row, 1)?;
                        Ok(RevolvingLine {
                            unit: crate::region_of(&col::<String>(row, 0)?)?,
                            institution: payee.trim_start_matches("institution:").to_owned(),
                            amount_fen: Fen::new(col(row, 2)?),
                        })
                    },
                )?
            } else {
                Vec::new()
            };
            let seq = query_opt(
                conn,
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM administrator_revolving WHERE code = ?1 AND scheme = ?2",
                params![code, scheme.as_str()],
                |row| col::<i64>(row, 0),
            )?
            .unwrap_or(1);
            let seq = u32::try_from(seq).map_err(|_| StoreError::Backend("a revolving fund's bookings overflow".into()))?;
            let booking = plan_revolving(&contract, scheme, (kind, seq, on), Fen::new(balance), &outstanding, &held);
            if booking.amount_fen().is_zero() {
                return Ok(booking);
            }
            exec(
                conn,
                "INSERT INTO administrator_revolving (code, scheme, seq, record) VALUES (?1, ?2, ?3, ?4)",
                params![code, scheme.as_str(), seq, json(&booking)?],
            )?;
            books::post(conn, &actor, &revolving_entries(&booking)?)?;
            audit(conn, &actor, city, "administrator.revolving", &booking.record_id(), json(&booking)?)?;
            Ok(booking)
        })
        .await
    }

    async fn revolving_bookings(&self, city: RegionCode, code: &str) -> Result<Vec<RevolvingBooking>, StoreError> {
        let code = code.to_owned();
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT r.record FROM administrator_revolving r JOIN administrator_contracts c ON c.code = r.code                  WHERE r.code = ?1 AND c.city_code = ?2 ORDER BY r.scheme, r.seq DESC",
                params![code, city.to_string()],
                |row| from_json(&col::<String>(row, 0)?),
            )
        })
        .await
    }

    async fn quarters(&self, city: RegionCode, code: &str) -> Result<Vec<QuarterRecord>, StoreError> {
        let code = code.to_owned();
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT q.record FROM administrator_quarters q JOIN administrator_contracts c ON c.code = q.code \
                 WHERE q.code = ?1 AND c.city_code = ?2 ORDER BY q.quarter DESC",
                params![code, city.to_string()],
                |row| from_json(&col::<String>(row, 0)?),
            )
        })
        .await
    }
}
