//! What the SQLite store's process-level tests share: the county, the resident and the
//! hospital they settle for, and the resident's enrolment.

use time::macros::{date, datetime};
use yibao_domain::{Fen, HouseholdId, NationalId, PersonCategory, PersonName, RegionCode, Scheme, Tier};
use yibao_engine::{Coverage, TierHistory};
use yibao_store::{Actor, NewHousehold, NewPerson, Store};
use yibao_store_sqlite::SqliteStore;

/// The hospital the claims are settled at.
pub const INSTITUTION: &str = "H41992100007";

pub fn region() -> RegionCode {
    RegionCode::parse("419921").expect("region")
}

pub fn person() -> NationalId {
    NationalId::from_parts(region(), date!(1966 - 08 - 08), 88).expect("id")
}

pub fn actor() -> Actor {
    Actor { who: INSTITUTION.into(), role: "institution".into(), source: "127.0.0.1".into(), at: datetime!(2026-05-01 10:00 UTC) }
}

/// Enrols [`person`], a tier-2 resident since 2024, in a new household `household`.
pub async fn enrol(store: &SqliteStore, household: &str) {
    let household = HouseholdId::parse(household).expect("an id");
    store
        .create_household(&actor(), region(), NewHousehold { household_id: household.clone(), region: region(), address: "x".into() })
        .await
        .expect("household");
    let coverage = Coverage {
        person_id: person(),
        region: region(),
        scheme: Scheme::Resident,
        category: PersonCategory::Resident,
        coverage_from: date!(2024 - 01 - 01),
        coverage_until: None,
        tier_history: Some(TierHistory { initial: Tier::new(2).expect("tier"), since: date!(2024 - 01 - 01), changes: Vec::new() }),
        assistance_group: None,
        supplementary: true,
        maternity: false,
        civil_servant: false,
        enterprise_supplementary: false,
        certified_chronic_diseases: Vec::new(),
        personal_account_balance: Fen::ZERO,
        use_personal_account: false,
    };
    let name = PersonName::parse("赵").expect("a name");
    store.enrol(&actor(), region(), NewPerson { name, card_no: None, household_id: household, coverage }).await.expect("enrol");
}
