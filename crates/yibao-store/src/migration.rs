//! Go-live migration (数据迁移, R-SYS-3; issue 16): a legacy system's register and money
//! loaded in batches, each whole or nothing, resumable after a crash, then reconciled and
//! signed off by two people, like a fund handover.
//!
//! - A **migration** is named by its files' digest. Its record holds the legacy totals the
//!   checked files add up to ([`Tally`]), how many batches it has and how many are loaded.
//! - A **batch** (households with their members, their contributions and their
//!   year-to-date accumulators) is written in one transaction with the record's count of
//!   loaded batches, so a batch is either loaded and counted or neither: a load that stops
//!   starts again at the first batch not counted, and a batch loaded already is not loaded
//!   twice.
//! - What the batch brings is written as the bureau's own records: households and persons
//!   as an enrolment writes them (a personal account's balance posts as its opening
//!   balance), contributions as records of what was paid (`contribution.migrate`: the money
//!   came with the fund's balance, handed over and booked as a receipt, so they post
//!   nothing), and accumulators as the state the person's next claim starts from
//!   (`accumulators.open`). The book check replays both.
//! - The **reconciliation** counts what the register holds of the migration's own persons
//!   (each batch records whom it enrolled, `migration_persons`), region by region and measure
//!   by measure, against the legacy system's control totals: persons enrolled otherwise, or
//!   by another migration, are not counted; one person prepares it (its checksum
//!   covers every line) and another signs it off by quoting the checksum. The store counts
//!   again at the sign-off and refuses a report whose figures changed, or that differs from
//!   the legacy totals by a person or a fen.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use yibao_domain::{ContributionKind, Fen, NationalId, RegionCode, Scheme};
use yibao_engine::{Accumulators, Coverage};

use crate::{Actor, ImportHousehold, NewContribution, StoreError};

/// Most households one batch carries.
pub const MIGRATION_BATCH_HOUSEHOLDS_MAX: usize = 20_000;
/// Most batches one migration has (a province's extract at the largest batch).
pub const MIGRATION_BATCHES_MAX: u32 = 100_000;
/// Most migrations a city's list shows.
pub const MIGRATIONS_LISTED_MAX: usize = 200;
/// Most lines a tally holds (counties × measures, with years).
pub const TALLY_LINES_MAX: usize = 100_000;

/// The register's figures, by region and measure: counts and amounts in fen. The legacy
/// files and the store are tallied by the same functions, so the two sides of a
/// reconciliation are counted alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub lines: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Tally {
    fn add(&mut self, region: RegionCode, measure: String, amount: i64) {
        let line = self.lines.entry(region.to_string()).or_default().entry(measure).or_insert(0);
        *line = line.saturating_add(amount);
    }

    pub fn household(&mut self, region: RegionCode) {
        self.households(region, 1);
    }

    /// A person: counted by basic scheme, with an employee's personal-account balance.
    pub fn person(&mut self, coverage: &Coverage) {
        self.add(coverage.region, format!("persons {}", coverage.scheme), 1);
        if coverage.scheme == Scheme::Employee {
            self.add(coverage.region, "personal accounts amount".into(), coverage.personal_account_balance.get());
        }
    }

    /// A contribution record of a person insured in `region`: counted and paid, by kind.
    pub fn contribution(&mut self, region: RegionCode, kind: ContributionKind, due: Fen, paid: Fen) {
        self.contributions(region, kind, 1, due.get(), paid.get());
    }

    /// `count` contribution records of `region` and `kind` that were billed `due_fen` and
    /// paid `paid_fen` together.
    pub fn contributions(&mut self, region: RegionCode, kind: ContributionKind, count: i64, due_fen: i64, paid_fen: i64) {
        self.add(region, format!("contributions {}", kind.as_str()), count);
        self.add(region, format!("contributions {} due amount", kind.as_str()), due_fen);
        self.add(region, format!("contributions {} paid amount", kind.as_str()), paid_fen);
    }

    /// `count` employers of `region`.
    pub fn employers(&mut self, region: RegionCode, count: i64) {
        self.add(region, "employers".into(), count);
    }

    /// `count` designated institutions of `region`.
    pub fn institutions(&mut self, region: RegionCode, count: i64) {
        self.add(region, "institutions".into(), count);
    }

    /// `count` inpatient stays open at the cut-off, of persons insured in `region`.
    pub fn open_stays(&mut self, region: RegionCode, count: i64) {
        self.add(region, "open stays".into(), count);
    }

    /// `count` households of `region`.
    pub fn households(&mut self, region: RegionCode, count: i64) {
        self.add(region, "households".into(), count);
    }

    /// A person's accumulators for a year: counted, with their admissions and every
    /// year-to-date amount by its field (a counter at zero adds nothing), so that a counter
    /// lost or scaled on its way here shows.
    pub fn accumulators(&mut self, region: RegionCode, accumulators: &Accumulators) {
        let year = accumulators.year;
        self.add(region, format!("accumulators {year}"), 1);
        if accumulators.admissions > 0 {
            self.add(region, format!("accumulators {year} admissions"), i64::from(accumulators.admissions));
        }
        for (field, amount) in accumulator_amounts(accumulators) {
            if !amount.is_zero() {
                self.add(region, format!("accumulators {year} {field} amount"), amount.get());
            }
        }
    }

    /// Adds a figure as the legacy system's control totals give it.
    pub fn control(&mut self, region: RegionCode, measure: String, value: i64) {
        self.add(region, measure, value);
    }

    /// Only the regions of `other` (a reconciliation compares the counties an extract
    /// covers).
    #[must_use]
    pub fn regions_of(&self, other: &Tally) -> Tally {
        Tally {
            lines: self.lines.iter().filter(|(region, _)| other.lines.contains_key(*region)).map(|(r, l)| (r.clone(), l.clone())).collect(),
        }
    }

    #[must_use]
    pub fn line_count(&self) -> usize {
        self.lines.values().map(BTreeMap::len).sum()
    }
}

/// Every year-to-date amount of the accumulators, by its field's name.
#[must_use]
pub fn accumulator_amounts(a: &Accumulators) -> [(&'static str, Fen); 18] {
    [
        ("inpatient_deductible_paid", a.inpatient_deductible_paid),
        ("pooled_paid", a.pooled_paid),
        ("outpatient_deductible_paid", a.outpatient_deductible_paid),
        ("outpatient_pooled_paid", a.outpatient_pooled_paid),
        ("chronic_deductible_paid", a.chronic_deductible_paid),
        ("chronic_paid", a.chronic_paid),
        ("inscope_burden", a.inscope_burden),
        ("critical_paid", a.critical_paid),
        ("assistance_deductible_paid", a.assistance_deductible_paid),
        ("assistance_paid", a.assistance_paid),
        ("supplementary_paid", a.supplementary_paid),
        ("maternity_paid", a.maternity_paid),
        ("two_disease_deductible_paid", a.two_disease_deductible_paid),
        ("two_disease_paid", a.two_disease_paid),
        ("special_drug_deductible_paid", a.special_drug_deductible_paid),
        ("special_drug_paid", a.special_drug_paid),
        ("civil_servant_paid", a.civil_servant_paid),
        ("enterprise_supplementary_paid", a.enterprise_supplementary_paid),
    ]
}

/// A total in fen as yuan text (`1234.56`, `-0.05`): a county's sum may exceed the
/// largest single amount a [`Fen`] holds, so it is written from the integer.
#[must_use]
pub fn yuan_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// One line of a reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationLine {
    pub region: String,
    pub measure: String,
    pub legacy: i64,
    pub loaded: i64,
}

impl ReconciliationLine {
    #[must_use]
    pub const fn difference(&self) -> i64 {
        self.loaded.saturating_sub(self.legacy)
    }

    /// Whether the figures are amounts in fen (the measure ends in `amount`).
    #[must_use]
    pub fn is_amount(&self) -> bool {
        self.measure.ends_with(" amount")
    }
}

/// Legacy totals against loaded totals, line by line, with a checksum over every line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub lines: Vec<ReconciliationLine>,
    /// SHA-256 over the lines in a canonical form: the signer quotes it.
    pub checksum: String,
    pub prepared_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub prepared_at: OffsetDateTime,
    #[serde(default)]
    pub signed_by: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub signed_at: Option<OffsetDateTime>,
}

impl Reconciliation {
    /// Compares the legacy totals with the store's, over the legacy extract's regions.
    #[must_use]
    pub fn compare(legacy: &Tally, loaded: &Tally, prepared_by: String, prepared_at: OffsetDateTime) -> Reconciliation {
        let loaded = loaded.regions_of(legacy);
        let mut keys: Vec<(&String, &String)> = legacy.lines.iter().flat_map(|(r, m)| m.keys().map(move |k| (r, k))).collect();
        keys.extend(loaded.lines.iter().flat_map(|(r, m)| m.keys().map(move |k| (r, k))));
        keys.sort();
        keys.dedup();
        let figure =
            |tally: &Tally, region: &str, measure: &str| tally.lines.get(region).and_then(|m| m.get(measure)).copied().unwrap_or(0);
        let lines: Vec<ReconciliationLine> = keys
            .into_iter()
            .map(|(region, measure)| ReconciliationLine {
                region: region.clone(),
                measure: measure.clone(),
                legacy: figure(legacy, region, measure),
                loaded: figure(&loaded, region, measure),
            })
            .collect();
        let checksum = checksum(&lines);
        Reconciliation { lines, checksum, prepared_by, prepared_at, signed_by: None, signed_at: None }
    }

    /// The lines that differ.
    pub fn differences(&self) -> impl Iterator<Item = &ReconciliationLine> {
        self.lines.iter().filter(|l| l.difference() != 0)
    }
}

/// SHA-256 over `region|measure|legacy|loaded` lines, hex.
fn checksum(lines: &[ReconciliationLine]) -> String {
    let mut hash = Sha256::new();
    for line in lines {
        hash.update(format!("{}|{}|{}|{}\n", line.region, line.measure, line.legacy, line.loaded).as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A migration as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    /// The first 16 hex digits of the files' SHA-256.
    pub id: String,
    pub city: RegionCode,
    /// What the files were called, for the people who read the report.
    pub files: Vec<String>,
    /// Households per batch (the last batch may have fewer).
    pub batch_households: u32,
    pub batches: u32,
    pub batches_loaded: u32,
    pub households: u64,
    pub persons: u64,
    /// What the checked files add up to.
    pub legacy: Tally,
    pub started_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub loaded_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub report: Option<Reconciliation>,
}

impl MigrationRecord {
    #[must_use]
    pub const fn is_loaded(&self) -> bool {
        self.batches_loaded == self.batches
    }

    /// Checks a migration's id: 16 lowercase hex digits.
    pub fn check_id(id: &str) -> Result<(), StoreError> {
        if id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!("'{}' is not a migration's id (16 hex digits)", id.chars().take(40).collect::<String>())))
        }
    }
}

/// One batch: households with their members, their contributions and accumulators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationBatch {
    pub migration: String,
    /// 0-based: the batches are loaded in order.
    pub batch: u32,
    pub households: Vec<ImportHousehold>,
    pub contributions: Vec<NewContribution>,
    pub accumulators: Vec<(NationalId, Accumulators)>,
    /// Employees' months of contributions carried in (`person.carried_months`).
    pub carried_months: Vec<(NationalId, u32)>,
    /// The employers the legacy system registered (the first batch's).
    pub employers: Vec<crate::NewEmployer>,
    /// The institutions it designated (the first batch's), each with a key no one holds:
    /// an administrator issues each its key.
    pub institutions: Vec<crate::NewInstitution>,
    /// The inpatient stays open at the cut-off of this batch's persons, as visits of the
    /// national interface the hospitals go on with (each marked with the migration, for
    /// its reconciliation).
    pub stays: Vec<crate::VisitRecord>,
}

/// A register entry's audit detail: the record as JSON, with the migration that brought it
/// (`migration`) when one did.
pub fn audit_detail<T: Serialize>(record: &T, migration: Option<&str>) -> Result<String, StoreError> {
    let mut value = serde_json::to_value(record).map_err(|e| StoreError::Backend(e.to_string()))?;
    if let (Some(migration), Some(object)) = (migration, value.as_object_mut()) {
        object.insert("migration".into(), serde_json::Value::String(migration.to_owned()));
    }
    Ok(value.to_string())
}

/// What a load of one batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    Loaded,
    /// Counted already: loaded by an earlier run of the same migration.
    AlreadyLoaded,
}

/// Which of the given persons, households and cards the register holds already (a
/// migration's check; the report of residents not insured).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterProbe {
    pub persons: Vec<NationalId>,
    /// Each person found with the first and, when it has ended, the last day of each of
    /// their spells of coverage, earlier ones too (an answer only: what a probe asks about is
    /// `persons`).
    pub coverage: Vec<(NationalId, time::Date, Option<time::Date>)>,
    /// The persons found who died, with the day (an answer only).
    pub deaths: Vec<(NationalId, time::Date)>,
    pub households: Vec<(RegionCode, String)>,
    pub cards: Vec<(RegionCode, String)>,
    /// Visits by institution and id (`mdtrt_id`): a stay the extract brings whose id is
    /// taken (by an earlier migration's stay of the same hospital and inpatient number).
    pub visits: Vec<(yibao_domain::InstitutionCode, String)>,
}

impl RegisterProbe {
    /// How many keys the probe asks about (at most [`PROBE_KEYS_MAX`]).
    #[must_use]
    pub fn keys(&self) -> usize {
        self.persons.len() + self.households.len() + self.cards.len() + self.visits.len()
    }
}

/// Most keys one probe asks about.
pub const PROBE_KEYS_MAX: usize = 50_000;

pub trait MigrationStore: Send + Sync + 'static {
    /// Starts a migration, or answers the one of the same id (a resumed load). A record of
    /// the same id with another shape is refused (`migration.changed`).
    fn begin_migration(&self, actor: &Actor, record: MigrationRecord) -> impl Future<Output = Result<MigrationRecord, StoreError>> + Send;
    /// Loads a batch in one transaction with the record's count: refused when an earlier
    /// batch is not loaded yet (`migration.out_of_order`).
    fn load_migration_batch(
        &self,
        actor: &Actor,
        city: RegionCode,
        batch: MigrationBatch,
    ) -> impl Future<Output = Result<BatchOutcome, StoreError>> + Send;
    fn migration(&self, city: RegionCode, id: &str) -> impl Future<Output = Result<Option<MigrationRecord>, StoreError>> + Send;
    /// The city's migrations, newest first (at most [`MIGRATIONS_LISTED_MAX`]).
    fn migrations(&self, city: RegionCode) -> impl Future<Output = Result<Vec<MigrationRecord>, StoreError>> + Send;
    /// What the register holds of migration `id`'s persons, counted ([`Tally`]): their
    /// households, themselves, their contributions and their accumulators, as stored now.
    fn migration_tally(&self, city: RegionCode, id: &str) -> impl Future<Output = Result<Tally, StoreError>> + Send;
    /// Which of the probe's keys the register of `scope` holds.
    fn probe_register(&self, scope: RegionCode, probe: RegisterProbe) -> impl Future<Output = Result<RegisterProbe, StoreError>> + Send;
    /// Prepares the reconciliation of a loaded migration: the register counted now, against
    /// the legacy totals, kept with the preparer's name.
    fn prepare_migration_report(
        &self,
        actor: &Actor,
        city: RegionCode,
        id: &str,
    ) -> impl Future<Output = Result<MigrationRecord, StoreError>> + Send;
    /// Signs the report off: another person than its preparer, quoting its checksum; the
    /// register is counted again, and the report must still hold and match to the fen.
    fn sign_off_migration(
        &self,
        actor: &Actor,
        city: RegionCode,
        id: &str,
        checksum: &str,
    ) -> impl Future<Output = Result<MigrationRecord, StoreError>> + Send;
}

/// The checks of a report's preparation, shared by the backends: a loaded migration.
pub fn check_preparable(record: &MigrationRecord) -> Result<(), StoreError> {
    if !record.is_loaded() {
        return Err(StoreError::Refused {
            code: "migration.not_loaded",
            message: format!(
                "migration {} has {} of {} batches loaded: finish the load (it resumes where it stopped) before the reconciliation",
                record.id, record.batches_loaded, record.batches
            ),
        });
    }
    if record.report.as_ref().is_some_and(|r| r.signed_by.is_some()) {
        return Err(StoreError::Refused { code: "migration.signed", message: format!("migration {} is signed off already", record.id) });
    }
    Ok(())
}

/// The sign-off, shared by the backends: `now` is the report prepared again from the
/// register as it stands.
pub fn sign_off(record: &mut MigrationRecord, actor: &Actor, checksum: &str, now: &Reconciliation) -> Result<(), StoreError> {
    let Some(report) = &mut record.report else {
        return Err(StoreError::Refused {
            code: "migration.no_report",
            message: format!("migration {} has no reconciliation prepared yet", record.id),
        });
    };
    if report.signed_by.is_some() {
        return Err(StoreError::Refused { code: "migration.signed", message: format!("migration {} is signed off already", record.id) });
    }
    if report.prepared_by == actor.who {
        return Err(StoreError::Refused {
            code: "migration.same_person",
            message: format!("{} prepared the reconciliation: another person signs it off", actor.who),
        });
    }
    if report.checksum != checksum {
        return Err(StoreError::Refused {
            code: "migration.checksum",
            message: "the checksum quoted is not the report's: read the report again".into(),
        });
    }
    if now.checksum != report.checksum {
        return Err(StoreError::Refused {
            code: "migration.changed",
            message: "the register's figures changed since the report was prepared: prepare it again".into(),
        });
    }
    if let Some(line) = report.differences().next() {
        let unit = |n: i64| if line.is_amount() { yuan_text(n) } else { n.to_string() };
        return Err(StoreError::Refused {
            code: "migration.differs",
            message: format!(
                "{} of {}: {} in the legacy files, {} loaded ({} lines differ): a report is signed off when it matches",
                line.measure,
                line.region,
                unit(line.legacy),
                unit(line.loaded),
                report.differences().count()
            ),
        });
    }
    report.signed_by = Some(actor.who.clone());
    report.signed_at = Some(actor.at);
    Ok(())
}

/// The begin checks, shared by the backends: an existing record of the same id must have
/// the same shape.
pub fn check_same_migration(existing: &MigrationRecord, asked: &MigrationRecord) -> Result<(), StoreError> {
    if existing.batches != asked.batches
        || existing.batch_households != asked.batch_households
        || existing.legacy != asked.legacy
        || existing.city != asked.city
    {
        return Err(StoreError::Refused {
            code: "migration.changed",
            message: format!("migration {} was started with other batches or totals: the same files make the same migration", asked.id),
        });
    }
    Ok(())
}

/// Where a batch stands against its record, shared by the backends.
pub fn batch_position(record: &MigrationRecord, batch: u32) -> Result<BatchOutcome, StoreError> {
    if batch >= record.batches {
        return Err(StoreError::Invalid(format!("migration {} has {} batches, not a batch {batch}", record.id, record.batches)));
    }
    match batch.cmp(&record.batches_loaded) {
        std::cmp::Ordering::Less => Ok(BatchOutcome::AlreadyLoaded),
        std::cmp::Ordering::Equal => Ok(BatchOutcome::Loaded),
        std::cmp::Ordering::Greater => Err(StoreError::Refused {
            code: "migration.out_of_order",
            message: format!("batch {batch} of migration {}: batch {} is not loaded yet", record.id, record.batches_loaded),
        }),
    }
}

/// The audit detail of an opening accumulator state.
#[must_use]
pub fn accumulators_opened_detail(migration: &str, accumulators: &Accumulators) -> serde_json::Value {
    serde_json::json!({ "migration": migration, "accumulators": accumulators })
}

/// The accumulators an `accumulators.open` entry's detail holds.
pub fn accumulators_opened(detail: &str) -> Result<Accumulators, String> {
    let value: serde_json::Value = serde_json::from_str(detail).map_err(|e| e.to_string())?;
    serde_json::from_value(value.get("accumulators").cloned().ok_or("no accumulators")?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use yibao_domain::{NationalId, PersonCategory};

    use super::*;

    fn actor(who: &str) -> Actor {
        Actor { who: who.into(), role: "fund_accountant".into(), source: "test".into(), at: datetime!(2026-07-01 09:00 UTC) }
    }

    fn employee(balance: Fen) -> Coverage {
        Coverage {
            person_id: NationalId::from_parts(RegionCode::parse("419902").expect("region"), time::macros::date!(1980 - 01 - 01), 1)
                .expect("an id"),
            region: RegionCode::parse("419902").expect("region"),
            scheme: Scheme::Employee,
            category: PersonCategory::Employed,
            coverage_from: time::macros::date!(2025 - 01 - 01),
            coverage_until: None,
            tier_history: None,
            assistance_group: None,
            supplementary: false,
            maternity: false,
            civil_servant: false,
            enterprise_supplementary: false,
            certified_chronic_diseases: Vec::new(),
            personal_account_balance: balance,
            use_personal_account: true,
        }
    }

    fn record(legacy: Tally) -> MigrationRecord {
        MigrationRecord {
            id: "0123456789abcdef".into(),
            city: RegionCode::parse("419900").expect("city"),
            files: vec!["persons.csv".into()],
            batch_households: 2,
            batches: 3,
            batches_loaded: 3,
            households: 1,
            persons: 1,
            legacy,
            started_by: "cli:ops".into(),
            started_at: datetime!(2026-07-01 08:00 UTC),
            loaded_at: None,
            report: None,
        }
    }

    #[test]
    fn a_reconciliation_is_signed_off_by_another_person_quoting_its_checksum_and_only_when_it_matches() {
        let region = RegionCode::parse("419902").expect("region");
        let mut legacy = Tally::default();
        legacy.household(region);
        legacy.person(&employee(Fen::new(120_050)));
        legacy.contribution(region, ContributionKind::Employee, Fen::new(30_000), Fen::new(30_000));
        let same = legacy.clone();
        let mut other_county = legacy.clone();
        other_county.household(RegionCode::parse("419922").expect("region"));

        // The store's counties beyond the extract's are not compared.
        let report = Reconciliation::compare(&legacy, &other_county, "cli:alice".into(), actor("cli:alice").at);
        assert_eq!(report.differences().count(), 0);
        assert_eq!(report.lines.len(), 6, "households, persons, personal accounts, contributions, their bills and payments");
        let mut migration = record(legacy.clone());
        migration.report = Some(report.clone());
        let now = Reconciliation::compare(&legacy, &same, "cli:bob".into(), actor("cli:bob").at);
        let code = |result: Result<(), StoreError>| match result {
            Err(StoreError::Refused { code, .. }) => code,
            other => panic!("refused, not {other:?}"),
        };
        assert_eq!(code(sign_off(&mut migration.clone(), &actor("cli:alice"), &report.checksum, &now)), "migration.same_person");
        assert_eq!(code(sign_off(&mut migration.clone(), &actor("cli:bob"), "00", &now)), "migration.checksum");
        // A fen less in the register since the report was prepared.
        let mut changed = legacy.clone();
        changed.add(region, "personal accounts amount".into(), -1);
        let later = Reconciliation::compare(&legacy, &changed, "cli:bob".into(), actor("cli:bob").at);
        assert_eq!(
            later.differences().map(|l| (l.measure.as_str(), l.difference())).collect::<Vec<_>>(),
            [("personal accounts amount", -1)]
        );
        assert_eq!(code(sign_off(&mut migration.clone(), &actor("cli:bob"), &report.checksum, &later)), "migration.changed");
        let mut differing = record(legacy.clone());
        differing.report = Some(later.clone());
        assert_eq!(code(sign_off(&mut differing, &actor("cli:carol"), &later.checksum, &later)), "migration.differs");

        sign_off(&mut migration, &actor("cli:bob"), &report.checksum, &now).expect("signed");
        let signed = migration.report.as_ref().expect("report");
        assert_eq!(signed.signed_by.as_deref(), Some("cli:bob"));
        assert_eq!(code(sign_off(&mut migration, &actor("cli:carol"), &report.checksum, &now)), "migration.signed");
        assert_eq!(code(check_preparable(&migration)), "migration.signed");
    }

    #[test]
    fn batches_load_in_order_once_each() {
        let mut migration = record(Tally::default());
        migration.batches_loaded = 1;
        assert_eq!(batch_position(&migration, 0).ok(), Some(BatchOutcome::AlreadyLoaded));
        assert_eq!(batch_position(&migration, 1).ok(), Some(BatchOutcome::Loaded));
        assert!(matches!(batch_position(&migration, 2), Err(StoreError::Refused { code: "migration.out_of_order", .. })));
        assert!(matches!(batch_position(&migration, 3), Err(StoreError::Invalid(_))));
        assert!(matches!(check_preparable(&migration), Err(StoreError::Refused { code: "migration.not_loaded", .. })));
        let mut other = record(Tally::default());
        other.batch_households = 3;
        assert!(matches!(check_same_migration(&migration, &other), Err(StoreError::Refused { code: "migration.changed", .. })));
        assert!(MigrationRecord::check_id("0123456789abcdef").is_ok());
        assert!(MigrationRecord::check_id("0123456789ABCDEF").is_err());
    }
}
