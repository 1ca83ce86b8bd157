//! Loading a demo city into a store, through the store's API only.

use serde::Serialize;
use time::macros::date;
use yibao_domain::{Fen, NationalId, Period, PersonCategory, RegionCode, Scheme};
use yibao_engine::{Coverage, contribution_due};
use yibao_policy::Policy;
use yibao_store::{
    AccessStore, Actor, ContributionKind, ContributionStore, ImportStore, NewContribution, NewInstitution, NewStaff, Store, StoreError,
};

use crate::DemoCity;
use crate::rng::stream_for;

/// Most households one import call carries (one transaction each).
pub const IMPORT_CHUNK: usize = 5_000;
/// The coverage year whose resident contributions are recorded.
pub const CONTRIBUTION_YEAR: i32 = 2026;
/// The months of employee contributions recorded.
const EMPLOYEE_MONTHS: [&str; 2] = ["2026-01", "2026-02"];

/// What a load wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LoadSummary {
    pub households: usize,
    pub persons: usize,
    pub staff: usize,
    pub institutions: usize,
    pub contributions: usize,
    /// Funds given their opening balance.
    pub fund_openings: usize,
}

/// The balances the demo city's funds bring into the books on 1 January 2026 (R-SYS-3),
/// held at the city level: roughly half a year of the demo city's spending, so that the
/// monthly pooling run can pay what the counties' settlements owe before the year's
/// income has built up.
pub const DEMO_OPENING_BALANCES_YUAN: [(yibao_ledger::FundScheme, i64); 7] = [
    (yibao_ledger::FundScheme::Resident, 5_000_000),
    (yibao_ledger::FundScheme::ResidentCriticalIllness, 500_000),
    (yibao_ledger::FundScheme::Employee, 3_000_000),
    (yibao_ledger::FundScheme::EmployeeLargeAmount, 300_000),
    (yibao_ledger::FundScheme::Maternity, 200_000),
    (yibao_ledger::FundScheme::Supplementary, 100_000),
    (yibao_ledger::FundScheme::MedicalAssistance, 300_000),
];

/// Loads `city` into a fresh store as `actor`: staff accounts (their passwords hashed with
/// `hash_password`), institutions (API keys hashed with [`crate::api_key_hash`]), the
/// households of each county by bulk import (runs of one county, at most
/// [`IMPORT_CHUNK`] households per call), then contributions:
///
/// - residents, 2026 (R-FIN-2): what is due is the personal part from
///   [`resident_contribution`] for the tier in force on 1 January 2026 and the person's
///   assistance group; about 90% paid in full, 6% in part, 4% nothing (arrears);
/// - employees in work, January and February 2026 (R-FIN-1): employer and employee parts
///   from [`employee_contribution`] on a plausible wage; about 3% of employers did not pay.
///   Retirees pay nothing and get no record.
///
/// Who paid and what they earn follow from each national ID, so a load is as
/// reproducible as the city. A store that already holds any of it refuses the load
/// ([`StoreError::Exists`], [`StoreError::HouseholdExists`]); an import is whole or nothing,
/// but the load as a whole is not one transaction.
pub async fn load<S>(
    store: &S,
    actor: &Actor,
    policy: &Policy,
    city: &DemoCity,
    hash_password: &(dyn Fn(&str) -> String + Sync),
) -> Result<LoadSummary, StoreError>
where
    S: Store + AccessStore + ContributionStore + ImportStore + yibao_store::FundStore,
{
    let mut summary = LoadSummary::default();
    for staff in &city.staff {
        let account = NewStaff {
            username: staff.username.clone(),
            display_name: staff.display_name.clone(),
            password_hash: hash_password(&staff.password),
            role: staff.role,
            region: staff.region,
        };
        store.create_staff(actor, account).await?;
        summary.staff += 1;
    }
    for institution in &city.institutions {
        let record = NewInstitution {
            code: institution.code.clone(),
            name: institution.name.clone(),
            region: institution.region,
            level: institution.level,
            api_key_hash: crate::api_key_hash(&institution.api_key),
        };
        store.create_institution(actor, record).await?;
        summary.institutions += 1;
    }
    let households = &city.households;
    let mut start = 0;
    while start < households.len() {
        let region = households[start].household.region;
        let mut end = start + 1;
        while end < households.len() && end - start < IMPORT_CHUNK && households[end].household.region == region {
            end += 1;
        }
        let imported = store.import(actor, region, households[start..end].to_vec()).await?;
        summary.households += imported.households;
        summary.persons += imported.persons;
        start = end;
    }
    // One transaction per county and chunk: a bulk collection file, not one commit each.
    let mut batch: Vec<NewContribution> = Vec::new();
    let mut batch_region: Option<RegionCode> = None;
    for person in city.persons() {
        let region = person.coverage.region;
        if batch_region != Some(region) || batch.len() >= IMPORT_CHUNK {
            if let Some(previous) = batch_region.filter(|_| !batch.is_empty()) {
                summary.contributions += store.record_contributions(actor, previous, std::mem::take(&mut batch)).await?;
            }
            batch_region = Some(region);
        }
        batch.extend(contributions(policy, &person.coverage)?);
    }
    if let Some(region) = batch_region.filter(|_| !batch.is_empty()) {
        summary.contributions += store.record_contributions(actor, region, batch).await?;
    }
    if let Some(city_code) = city.households.first().map(|h| h.household.region.city()) {
        for (scheme, yuan) in DEMO_OPENING_BALANCES_YUAN {
            let receipt = yibao_store::FundReceipt {
                kind: yibao_store::ReceiptKind::OpeningBalance,
                scheme,
                unit: city_code,
                amount_fen: yibao_domain::Fen::yuan(yuan),
                value_date: date!(2026 - 01 - 01),
                reference: "DEMO-OPENING-2026".into(),
            };
            store.record_fund_receipt(actor, city_code, receipt).await?;
            summary.fund_openings += 1;
        }
    }
    Ok(summary)
}

/// What is due for `kind` and `period`, by the engine's one rule ([`contribution_due`]).
fn due(policy: &Policy, coverage: &Coverage, kind: ContributionKind, period: &str, wage: Option<Fen>) -> Result<(Period, Fen, String), StoreError> {
    let period = Period::parse(period).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let due = contribution_due(policy, coverage, kind, period, wage)
        .map_err(|e| StoreError::Invalid(format!("{}: {e} [{}]", coverage.person_id, e.code())))?;
    Ok((period, due.due, serde_json::to_string(&due.breakdown).map_err(|e| StoreError::Backend(e.to_string()))?))
}

/// The contributions recorded for one person.
fn contributions(policy: &Policy, coverage: &Coverage) -> Result<Vec<NewContribution>, StoreError> {
    let id = coverage.person_id;
    let mut out = Vec::new();
    match (coverage.scheme, coverage.category) {
        (Scheme::Resident, _) => {
            let (period, due, breakdown_json) = due(policy, coverage, ContributionKind::Resident, &CONTRIBUTION_YEAR.to_string(), None)?;
            let paid = resident_payment(&id, due);
            out.push(NewContribution { person_id: id, kind: ContributionKind::Resident, period, due_fen: due, paid_fen: paid, breakdown_json });
        }
        (Scheme::Employee, PersonCategory::Employed) => {
            let mut draw = stream_for(id.as_str(), 0x5741_4745);
            // Skewed to the low end like real wages: 3,000 to 15,000 yuan, median ≈ 5,300.
            let spread = draw.below(1_000) * draw.below(1_000);
            let wage = Fen::yuan(3_000 + i64::try_from(spread * 12_000 / 1_000_000).unwrap_or(0));
            let employer_paid = !draw.chance(30);
            for period in EMPLOYEE_MONTHS {
                let (period, due, breakdown_json) = due(policy, coverage, ContributionKind::Employee, period, Some(wage))?;
                out.push(NewContribution {
                    person_id: id,
                    kind: ContributionKind::Employee,
                    period,
                    due_fen: due,
                    paid_fen: if employer_paid { due } else { Fen::ZERO },
                    breakdown_json,
                });
            }
        }
        _ => {}
    }
    Ok(out)
}

/// What a resident paid of `due`: about 90% in full, 6% part (a fifth to four fifths, in
/// whole yuan), 4% nothing.
fn resident_payment(id: &NationalId, due: Fen) -> Fen {
    let mut draw = stream_for(id.as_str(), u64::from(CONTRIBUTION_YEAR.unsigned_abs()));
    match draw.below(1_000) {
        0..900 => due,
        900..960 => {
            let percent = draw.range(20, 80);
            Fen::yuan(due.get() / 100 * percent / 100)
        }
        _ => Fen::ZERO,
    }
}
