//! Administrators' contracts and quarters on SQLite (issue 18): the SQL only; the rules
//! are `yibao_store::administrator`'s.

use rusqlite::params;
use time::Date;
use yibao_domain::{Fen, RegionCode};
use yibao_ledger::FundScheme;
use yibao_store::administrator::{
    AdministratorStore, ContractRecord, ContractTerms, CountyQuarter, ENTRIES_LISTED_MAX, PerformanceEntry, QUARTER_CLAIMS_MAX,
    QuarterClaim, QuarterRecord, on_days, quarter_entries, settled_bounds,
};
use yibao_store::books::date_text;
use yibao_store::{Actor, StoreError};

use crate::{SqliteStore, audit, books, col, exec, from_json, json, query_all, query_opt, time_of, time_text};

fn exists(code: &str) -> StoreError {
    StoreError::Refused { code: "administrator.exists", message: format!("an administrator {code} is under contract already") }
}

impl AdministratorStore for SqliteStore {
    async fn create_contract(
        &self,
        actor: &Actor,
        city: RegionCode,
        terms: ContractTerms,
        api_key_hash: String,
    ) -> Result<ContractRecord, StoreError> {
        terms.check(city)?;
        let actor = actor.clone();
        self.write(move |conn| {
            let taken = query_opt(conn, "SELECT 1 FROM administrator_contracts WHERE code = ?1", [&terms.code], |row| col::<i64>(row, 0))?;
            if taken.is_some() {
                return Err(exists(&terms.code));
            }
            let record = ContractRecord { city, terms, signed_by: actor.who.clone(), recorded_at: actor.at, active: true };
            exec(
                conn,
                "INSERT INTO administrator_contracts (code, city_code, api_key_hash, record) VALUES (?1, ?2, ?3, ?4)",
                params![record.terms.code, city.to_string(), api_key_hash, json(&record)?],
            )?;
            audit(conn, &actor, city, "administrator.contract", &record.terms.code, json(&record)?)?;
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
                params![code, city.to_string(), date_text(from), date_text(to), ENTRIES_LISTED_MAX as i64],
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
                "SELECT institution_code, claim_id, json_extract(settlement, '$.insutype'), fund_pay_fen, settled_at FROM claims \
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
            let mut decided_flags = Vec::new();
            for flag in query_all(
                conn,
                "SELECT record FROM claim_flags WHERE region_code = ?1 AND outcome IS NOT NULL AND raised_at <= ?2",
                params![county_text, high],
                |row| from_json::<yibao_store::review::FlagRecord>(&col::<String>(row, 0)?),
            )? {
                if let Some(decided) = flag.decided_at.filter(|at| on_days(*at, from, to)) {
                    decided_flags.push((flag.raised_at, decided, flag.flag.hold, flag.institution_code, flag.claim_id));
                }
            }
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
            let day = date_text(to);
            let insured = query_all(
                conn,
                "SELECT json_extract(coverage, '$.scheme'), COUNT(*) FROM persons WHERE region_code = ?1 \
                 AND json_extract(coverage, '$.coverage_from') <= ?2 \
                 AND (json_extract(coverage, '$.coverage_until') IS NULL OR json_extract(coverage, '$.coverage_until') >= ?2) GROUP BY 1",
                params![county_text, day],
                |row| Ok((col::<Option<String>>(row, 0)?, col::<i64>(row, 1)?)),
            )?
            .into_iter()
            .filter_map(|(scheme, n)| Some((FundScheme::parse(&scheme?)?, u64::try_from(n).unwrap_or(0))))
            .collect();
            Ok(CountyQuarter { claims, decided_flags, bureau_findings, insured })
        })
        .await
    }

    async fn record_quarter(&self, actor: &Actor, record: QuarterRecord) -> Result<QuarterRecord, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let taken = query_opt(
                conn,
                "SELECT 1 FROM administrator_quarters WHERE code = ?1 AND quarter = ?2",
                params![record.code, record.quarter],
                |row| col::<i64>(row, 0),
            )?;
            if taken.is_some() {
                return Err(yibao_store::administrator::quarter_scored(&record.code, &record.quarter));
            }
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
