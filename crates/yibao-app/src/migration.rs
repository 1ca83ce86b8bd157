//! Go-live migration of a legacy system's register (数据迁移, R-SYS-3; issue 16 item 1): one
//! use case for every edge (`yibao migrate` on the operator's machine; the API's reads and
//! the two-person reconciliation).
//!
//! 1. **Check** (the dry run): every row of the extract's files is checked by
//!    `yibao_import::legacy` (check digits, codes, dates, amounts, references between the
//!    files), then by the rules an enrolment and a contribution follow here (a county of the
//!    city, a scheme and tier it has, what is due for each period, never paid beyond it)
//!    and against the register (a person enrolled, a household or card held already). The
//!    answer counts the rows and lists each row to fix; nothing is written.
//! 2. **Load**: only a clean extract. Its households go in batches, each whole or nothing
//!    with the migration's record ([`yibao_store::migration`]); a load that stops is run
//!    again with the same files and resumes at the first batch not loaded.
//! 3. **Reconcile**: the register counted against the legacy totals, region by region, by
//!    one person; signed off by another quoting its checksum, only when it matches to the
//!    fen.
//!
//! A personal account's balance at the cut-off posts as its opening balance (from the
//! fund's special account, as a handover); the funds' own balances are the accountant's
//! receipts ([`App::record_receipt`]), the legacy contributions records of what was paid
//! (they post nothing: their money is in those balances).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};
use yibao_domain::{HouseholdId, NationalId, RegionCode};
use yibao_engine::{Accumulators, contribution_due};
use yibao_import::legacy::{
    LegacyEmployer, LegacyExtract, LegacyFile, LegacyInstitution, LegacyRowError, LegacyStay, parse_control, parse_employers,
    parse_extract, parse_institutions, parse_stays,
};
use yibao_import::{RowError, Table};
use yibao_store::migration::{
    BatchOutcome, MIGRATION_BATCH_HOUSEHOLDS_MAX, MIGRATION_BATCHES_MAX, MigrationBatch, MigrationRecord, MigrationStore as _,
    PROBE_KEYS_MAX, RegisterProbe, Tally,
};
use yibao_store::{AccessStore as _, EmployerStore as _};
use yibao_store::{ImportHousehold, NewContribution, NewHousehold, NewPerson, VisitRecord};

use crate::{App, AppError, Principal, roles, store};

pub use yibao_store::migration::{MigrationRecord as Migration, Reconciliation, ReconciliationLine, yuan_text};

/// Households per batch unless the caller says otherwise.
pub const BATCH_HOUSEHOLDS_DEFAULT: usize = 2_000;
/// Rows to fix answered at most; the count says how many there were.
pub const MIGRATION_ERRORS_MAX: usize = 100_000;

/// One file of an extract as the operator gave it.
#[derive(Clone, Debug)]
pub struct MigrationFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What a check (or a load's check) found.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationCheck {
    /// The migration these files make (the first 16 hex digits of their SHA-256).
    pub id: String,
    pub files: Vec<String>,
    /// Data rows read per file, in the order households, persons, contributions,
    /// accumulators.
    pub rows: [usize; 4],
    /// Rows held back with a wrong row they depend on, per file.
    pub held_back: [usize; 4],
    /// Rows that hold, per file.
    pub valid: [usize; 4],
    /// Employers that hold (the employers file, loaded with the first batch).
    pub employers: usize,
    /// Designated institutions that hold (the institutions file, loaded with the first
    /// batch).
    pub institutions: usize,
    /// Inpatient stays open at the cut-off that hold (the stays file, each loaded with its
    /// person's batch), and those held back with their person's household.
    pub stays: usize,
    pub stays_held_back: usize,
    pub batches: u32,
    pub batch_households: u32,
    /// Rows to fix, at most [`MIGRATION_ERRORS_MAX`] (`error_count` says how many).
    #[serde(skip)]
    pub errors: Vec<LegacyRowError>,
    pub error_count: usize,
    /// The legacy system's control totals, region by region (what its rows add up to, once
    /// the check is clean).
    pub legacy: Tally,
    /// The migration as the store holds it, when these files were loaded (or partly).
    pub record: Option<MigrationRecord>,
}

impl MigrationCheck {
    /// The rows to fix as a CSV file: file, line, column, key, message.
    #[must_use]
    pub fn error_file(&self) -> String {
        yibao_import::legacy::error_file(&self.errors)
    }

    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.error_count == 0
    }
}

/// An extract checked, with the batches it loads as.
struct Examined {
    check: MigrationCheck,
    batches: Vec<MigrationBatch>,
}

impl App {
    /// The dry run: every row checked, nothing written. The operator's (the system's) or a
    /// city administrator's.
    pub async fn check_migration(
        &self,
        principal: &Principal,
        files: Vec<MigrationFile>,
        batch_households: usize,
    ) -> Result<MigrationCheck, AppError> {
        let city = self.migration_city(principal)?;
        Ok(self.examine(city, files, batch_households).await?.check)
    }

    /// Loads a clean extract batch by batch, resuming where an earlier load of the same
    /// files stopped; `progress` hears (batches loaded, batches) after each. Only the
    /// operator loads (a personal account's balance is money brought into the books). An
    /// extract with a row to fix loads nothing and answers its check.
    pub async fn load_migration(
        &self,
        principal: &Principal,
        source: &str,
        files: Vec<MigrationFile>,
        batch_households: usize,
        progress: &(dyn Fn(u32, u32) + Send + Sync),
    ) -> Result<(MigrationCheck, Option<MigrationRecord>), AppError> {
        let city = principal.system()?;
        let Examined { check, batches } = self.examine(city, files, batch_households).await?;
        if !check.is_clean() {
            return Ok((check, None));
        }
        let actor = principal.actor(source, self.now());
        let record = MigrationRecord {
            id: check.id.clone(),
            city,
            files: check.files.clone(),
            batch_households: check.batch_households,
            batches: check.batches,
            batches_loaded: 0,
            households: 0,
            persons: 0,
            legacy: check.legacy.clone(),
            started_by: principal.name().to_owned(),
            started_at: actor.at,
            loaded_at: None,
            report: None,
        };
        let mut record = store!(self, begin_migration(&actor, record))?;
        progress(record.batches_loaded, record.batches);
        for batch in batches.into_iter().skip(record.batches_loaded as usize) {
            let number = batch.batch;
            let actor = principal.actor(source, self.now());
            match store!(self, load_migration_batch(&actor, city, batch))? {
                BatchOutcome::Loaded | BatchOutcome::AlreadyLoaded => progress(number + 1, record.batches),
            }
        }
        record = store!(self, migration(city, &check.id))?
            .ok_or_else(|| AppError::internal("migration.failure", format!("migration {} vanished during its load", check.id)))?;
        Ok((check, Some(record)))
    }

    /// The city's migrations, newest first: the fund's readers and the operator.
    pub async fn migrations(&self, principal: &Principal) -> Result<Vec<MigrationRecord>, AppError> {
        let city = self.migration_reader(principal)?;
        Ok(store!(self, migrations(city))?)
    }

    /// One migration with its reconciliation, if prepared.
    pub async fn migration(&self, principal: &Principal, id: &str) -> Result<MigrationRecord, AppError> {
        let city = self.migration_reader(principal)?;
        MigrationRecord::check_id(id)?;
        store!(self, migration(city, id))?.ok_or_else(|| AppError::not_found("migration.not_found", format!("no migration {id}")))
    }

    /// The reconciliation as it stands, kept nowhere (the operator's `yibao migrate report`):
    /// what the register holds of the migration's persons against the control totals.
    pub async fn migration_preview(&self, principal: &Principal, id: &str) -> Result<Reconciliation, AppError> {
        let record = self.migration(principal, id).await?;
        let city = record.city;
        let loaded = store!(self, migration_tally(city, id))?;
        Ok(Reconciliation::compare(&record.legacy, &loaded, principal.name().to_owned(), self.now()))
    }

    /// Prepares the reconciliation of a loaded migration: the register counted now against
    /// the legacy totals, kept with its checksum for another person's sign-off. A fund
    /// accountant's or the city administrator's, signed in: never the command line's, whose
    /// name is the machine's login (a report it prepared could be signed by the person who
    /// set that login).
    pub async fn prepare_migration_report(&self, principal: &Principal, source: &str, id: &str) -> Result<MigrationRecord, AppError> {
        if principal.system().is_ok() {
            return Err(AppError::forbidden(
                "a migration's reconciliation is prepared by a staff member signed in to the console; the command line previews it",
            ));
        }
        let city = self.migration_signer(principal)?;
        MigrationRecord::check_id(id)?;
        Ok(store!(self, prepare_migration_report(&principal.actor(source, self.now()), city, id))?)
    }

    /// Signs the reconciliation off: a signed-in staff member (a fund accountant or the city
    /// administrator, in the console), another person than its preparer, quoting its
    /// checksum. Never the operator's command line: its name is the machine's login, which
    /// anyone at the machine can set, so it cannot be the second person.
    pub async fn sign_off_migration(
        &self,
        principal: &Principal,
        source: &str,
        id: &str,
        checksum: &str,
    ) -> Result<MigrationRecord, AppError> {
        if principal.system().is_ok() {
            return Err(AppError::forbidden(
                "a migration is signed off by a staff member signed in to the console, not from the operator's command line",
            ));
        }
        let city = self.migration_signer(principal)?;
        MigrationRecord::check_id(id)?;
        Ok(store!(self, sign_off_migration(&principal.actor(source, self.now()), city, id, checksum.trim()))?)
    }

    fn migration_city(&self, principal: &Principal) -> Result<RegionCode, AppError> {
        let city = match principal.system() {
            Ok(city) => city,
            Err(_) => principal.scope(roles::ADMINISTRATORS)?,
        };
        self.city_only(city)
    }

    fn migration_reader(&self, principal: &Principal) -> Result<RegionCode, AppError> {
        let city = match principal.system() {
            Ok(city) => city,
            Err(_) => principal.scope(roles::FUND_READERS)?,
        };
        self.city_only(city)
    }

    fn migration_signer(&self, principal: &Principal) -> Result<RegionCode, AppError> {
        let city = match principal.system() {
            Ok(city) => city,
            Err(_) => principal.scope(roles::FUND_WRITERS)?,
        };
        self.city_only(city)
    }

    /// A migration is the city's: a county's staff see and sign none.
    fn city_only(&self, scope: RegionCode) -> Result<RegionCode, AppError> {
        let city = self.policy().region;
        if scope != city {
            return Err(AppError::forbidden("a migration is the city's: its staff, not a county's, read and sign it"));
        }
        Ok(city)
    }

    /// Reads and checks the extract, and cuts it into batches.
    async fn examine(&self, city: RegionCode, files: Vec<MigrationFile>, batch_households: usize) -> Result<Examined, AppError> {
        if batch_households == 0 || batch_households > MIGRATION_BATCH_HOUSEHOLDS_MAX {
            return Err(AppError::bad_request(
                "migration.bad_batch",
                format!("a batch has 1 to {MIGRATION_BATCH_HOUSEHOLDS_MAX} households, not {batch_households}"),
            ));
        }
        let (id, names, mut tables) = read_files(files)?;
        let (Some(households), Some(persons)) = (tables.remove(&LegacyFile::Households), tables.remove(&LegacyFile::Persons)) else {
            return Err(AppError::bad_request(
                "migration.missing_file",
                "an extract has a households file and a persons file (docs/migration.md), and may have contributions and accumulators",
            ));
        };
        let Some(control) = tables.remove(&LegacyFile::Control) else {
            return Err(AppError::bad_request(
                "migration.missing_file",
                "an extract has a control file: the legacy system's own counts and sums by county (docs/migration.md)",
            ));
        };
        let (control, control_errors) = parse_control(control).map_err(|e| AppError::bad_request(e.code(), format!("control: {e}")))?;
        let (employers, employer_errors) = match tables.remove(&LegacyFile::Employers) {
            Some(table) => parse_employers(table).map_err(|e| AppError::bad_request(e.code(), format!("employers: {e}")))?,
            None => (Vec::new(), Vec::new()),
        };
        let (institutions, institution_errors) = match tables.remove(&LegacyFile::Institutions) {
            Some(table) => parse_institutions(table).map_err(|e| AppError::bad_request(e.code(), format!("institutions: {e}")))?,
            None => (Vec::new(), Vec::new()),
        };
        let (stays, stay_errors) = match tables.remove(&LegacyFile::Stays) {
            Some(table) => parse_stays(table).map_err(|e| AppError::bad_request(e.code(), format!("stays: {e}")))?,
            None => (Vec::new(), Vec::new()),
        };
        // The tables are consumed as they are parsed: a city's extract is gigabytes of text.
        let mut extract =
            parse_extract(households, persons, tables.remove(&LegacyFile::Contributions), tables.remove(&LegacyFile::Accumulators))
                .map_err(|(file, e)| AppError::bad_request(e.code(), format!("{file}: {e}")))?;
        extract.errors.extend(control_errors);
        extract.errors.extend(employer_errors);
        extract.errors.extend(institution_errors);
        extract.errors.extend(stay_errors);
        if extract.households.is_empty() && extract.errors.is_empty() {
            return Err(AppError::bad_request("migration.empty", "the extract has no household: nothing to migrate"));
        }
        let existing = store!(self, migration(city, &id))?;
        let batch_households = existing.as_ref().map_or(batch_households, |r| r.batch_households as usize);
        let loaded_households = existing.as_ref().map_or(0, |r| r.batches_loaded as usize * batch_households);
        // The persons the files carry, before any is held back: a stay of a person held
        // back with a household is held back too, a stay of anyone else is a row to fix.
        let listed: HashSet<NationalId> = extract.persons.iter().map(|p| p.coverage.person_id).collect();
        // The persons of the batches loaded already (a resumed load): their stays are the
        // register's visits now, by this migration.
        let loaded_keys: HashSet<(RegionCode, &HouseholdId)> =
            extract.households.iter().take(loaded_households).map(|h| (h.region, &h.household_id)).collect();
        let loaded_persons: HashSet<NationalId> = extract
            .persons
            .iter()
            .filter(|p| loaded_keys.contains(&(p.coverage.region, &p.household_id)))
            .map(|p| p.coverage.person_id)
            .collect();
        drop(loaded_keys);
        let contributions = self.check_rules(&mut extract);
        self.check_register(city, &mut extract, loaded_households).await?;
        // The employers and institutions load with the first batch: once it is loaded, they
        // are the register's.
        let first_loaded = existing.as_ref().is_some_and(|r| r.batches_loaded > 0);
        let register: HashMap<yibao_domain::InstitutionCode, yibao_store::InstitutionRecord> =
            if institutions.is_empty() && stays.is_empty() {
                HashMap::new()
            } else {
                store!(self, institutions(city))?.into_iter().map(|record| (record.code.clone(), record)).collect()
            };
        let institutions = self.check_institutions(institutions, &register, first_loaded, &mut extract.errors)?;
        let mut stay_errors = Vec::new();
        let known = KnownInstitutions { register: &register, incoming: &institutions };
        let (stays, stays_held_back) = self.check_stays(city, stays, &extract, (&listed, &loaded_persons), known, &mut stay_errors).await?;
        extract.errors.extend(stay_errors);
        let employers = self.check_employers(city, employers, first_loaded, &mut extract.errors).await?;
        let mut batches = cut(&id, extract_after_errors(&mut extract, contributions), stays, batch_households)?;
        let mut legacy = Tally::default();
        for employer in &employers {
            legacy.employers(employer.region, 1);
        }
        for institution in &institutions {
            legacy.institutions(institution.region, 1);
        }
        let employers_valid = employers.len();
        let institutions_valid = institutions.len();
        if let Some(first) = batches.first_mut() {
            first.employers = employers;
            first.institutions = institutions;
        }
        let mut valid = [0; 4];
        for batch in &batches {
            for entry in &batch.households {
                legacy.household(entry.household.region);
                valid[0] += 1;
                for member in &entry.members {
                    legacy.person(&member.coverage);
                    valid[1] += 1;
                }
            }
            valid[2] += batch.contributions.len();
            valid[3] += batch.accumulators.len();
        }
        let region_of: HashMap<NationalId, RegionCode> = batches
            .iter()
            .flat_map(|b| b.households.iter().flat_map(|h| h.members.iter().map(|m| (m.coverage.person_id, m.coverage.region))))
            .collect();
        for batch in &batches {
            for contribution in &batch.contributions {
                legacy.contribution(region_of[&contribution.person_id], contribution.kind, contribution.due_fen, contribution.paid_fen);
            }
            for (person, accumulators) in &batch.accumulators {
                legacy.accumulators(region_of[person], accumulators);
            }
            for stay in &batch.stays {
                legacy.open_stays(region_of[&stay.person_id], 1);
            }
        }
        let stays_valid = batches.iter().map(|b| b.stays.len()).sum();
        // The legacy system's control totals against what its rows add up to: only once
        // every row holds (a held-back household would differ anyway).
        let mut controls = Tally::default();
        let mut control_lines: HashMap<(String, String), usize> = HashMap::new();
        for total in &control {
            controls.control(total.region, total.measure.clone(), total.value);
            control_lines.insert((total.region.to_string(), total.measure.clone()), total.line);
        }
        if extract.errors.is_empty() {
            for line in Reconciliation::compare(&controls, &legacy, String::new(), self.now()).differences() {
                let figure = |n: i64| if line.is_amount() { yuan_text(n) } else { n.to_string() };
                let at = control_lines.get(&(line.region.clone(), line.measure.clone())).copied().unwrap_or(0);
                extract.errors.push(LegacyRowError {
                    file: LegacyFile::Control,
                    row: RowError {
                        line: at,
                        column: Some("value".into()),
                        key: Some(format!("{} {}", line.region, line.measure)),
                        message: format!(
                            "{} of {}: the files' rows add up to {}, the control totals say {}",
                            line.measure,
                            line.region,
                            figure(line.loaded),
                            figure(line.legacy)
                        ),
                    },
                });
            }
            // A county the rows have and the control totals do not.
            for (region, measures) in &legacy.lines {
                if !controls.lines.contains_key(region) {
                    for (measure, value) in measures {
                        extract.errors.push(LegacyRowError {
                            file: LegacyFile::Control,
                            row: RowError {
                                line: 0,
                                column: None,
                                key: Some(format!("{region} {measure}")),
                                message: format!(
                                    "{measure} of {region}: the files' rows add up to {value}, the control totals have no line"
                                ),
                            },
                        });
                    }
                }
            }
        }
        let error_count = extract.errors.len();
        extract.errors.truncate(MIGRATION_ERRORS_MAX);
        let batch_count = u32::try_from(batches.len()).unwrap_or(u32::MAX);
        let check = MigrationCheck {
            id,
            files: names,
            rows: extract.rows,
            held_back: extract.held_back,
            valid,
            employers: employers_valid,
            institutions: institutions_valid,
            stays: stays_valid,
            stays_held_back,
            batches: batch_count,
            batch_households: u32::try_from(batch_households).unwrap_or(u32::MAX),
            errors: std::mem::take(&mut extract.errors),
            error_count,
            legacy: controls,
            record: existing,
        };
        Ok(Examined { check, batches })
    }

    /// The employers file's rows against what the application knows, each wrong row an
    /// error: a county of the city, a day of registration from 1950 to today, a code the
    /// register does not hold yet (unless this migration's first batch, which brought it,
    /// is loaded: a resumed load registers nothing twice). The employers that hold.
    async fn check_employers(
        &self,
        city: RegionCode,
        employers: Vec<LegacyEmployer>,
        first_loaded: bool,
        errors: &mut Vec<LegacyRowError>,
    ) -> Result<Vec<yibao_store::NewEmployer>, AppError> {
        let today = self.today();
        let mut held = Vec::with_capacity(employers.len());
        for employer in employers {
            let mut fail = |column: &str, message: String| {
                errors.push(LegacyRowError {
                    file: LegacyFile::Employers,
                    row: RowError { line: employer.line, column: Some(column.into()), key: Some(employer.code.to_string()), message },
                });
            };
            if let Err(e) = self.check_county(employer.region) {
                fail("region", e.message);
                continue;
            }
            if employer.registered_on < crate::employers::REGISTERED_ON_MIN || employer.registered_on > today {
                fail("registered_on", format!("a registration from 1950-01-01 to today ({today}), not {}", employer.registered_on));
                continue;
            }
            if !first_loaded {
                match store!(self, employer(city, &employer.code)) {
                    Ok(_) => {
                        fail("code", format!("{} is registered already", employer.code));
                        continue;
                    }
                    Err(yibao_store::StoreError::EmployerNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            held.push(yibao_store::NewEmployer {
                code: employer.code,
                name: employer.name,
                region: employer.region,
                registered_on: employer.registered_on,
            });
        }
        Ok(held)
    }

    /// The institutions file's rows against what the application knows, each wrong row an
    /// error: a county of the city, a code the register does not hold yet (unless this
    /// migration's first batch, which brought it, is loaded). The institutions that hold,
    /// each with a key drawn here and never shown: an administrator issues each its key
    /// (`App::rotate_api_key`) when it connects.
    fn check_institutions(
        &self,
        institutions: Vec<LegacyInstitution>,
        register: &HashMap<yibao_domain::InstitutionCode, yibao_store::InstitutionRecord>,
        first_loaded: bool,
        errors: &mut Vec<LegacyRowError>,
    ) -> Result<Vec<yibao_store::NewInstitution>, AppError> {
        let mut held = Vec::with_capacity(institutions.len());
        for institution in institutions {
            let mut fail = |column: &str, message: String| {
                errors.push(LegacyRowError {
                    file: LegacyFile::Institutions,
                    row: RowError { line: institution.line, column: Some(column.into()), key: Some(institution.code.to_string()), message },
                });
            };
            if let Err(e) = self.check_county(institution.region) {
                fail("region", e.message);
                continue;
            }
            if !first_loaded && register.contains_key(&institution.code) {
                fail("code", format!("{} is designated already", institution.code));
                continue;
            }
            held.push(yibao_store::NewInstitution {
                code: institution.code,
                name: institution.name,
                region: institution.region,
                level: institution.level,
                api_key_hash: crate::access::digest(&crate::access::new_token()?),
            });
        }
        Ok(held)
    }

    /// The stays file's rows against the extract and the register, each wrong row an
    /// error: the person one of the extract's (a stay of a person held back is held back
    /// and counted), the hospital a designated one of the city that takes the kind of stay,
    /// admitted on or before the cut-off, on a day the person's coverage entitles them to
    /// the stay (`App::covered_for`, as an admission through the national interface is
    /// checked). The stays that hold, as the visits the hospitals go on with, and the count
    /// held back.
    async fn check_stays(
        &self,
        city: RegionCode,
        stays: Vec<LegacyStay>,
        extract: &LegacyExtract,
        (listed, loaded): (&HashSet<NationalId>, &HashSet<NationalId>),
        known: KnownInstitutions<'_>,
        errors: &mut Vec<LegacyRowError>,
    ) -> Result<(Vec<VisitRecord>, usize), AppError> {
        if stays.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let today = self.today();
        let now = self.now();
        let KnownInstitutions { register, incoming } = known;
        let incoming: HashSet<&yibao_domain::InstitutionCode> = incoming.iter().map(|i| &i.code).collect();
        let coverage_of: HashMap<NationalId, &yibao_engine::Coverage> =
            extract.persons.iter().map(|p| (p.coverage.person_id, &p.coverage)).collect();
        let mut held_back = 0;
        let mut visits = Vec::with_capacity(stays.len());
        for stay in stays {
            let mut fail = |column: &str, message: String| {
                errors.push(LegacyRowError {
                    file: LegacyFile::Stays,
                    row: RowError { line: stay.line, column: Some(column.into()), key: Some(stay.person_id.to_string()), message },
                });
            };
            let Some(coverage) = coverage_of.get(&stay.person_id) else {
                if listed.contains(&stay.person_id) {
                    held_back += 1;
                } else {
                    fail("person_id", format!("{} is not among the persons file's rows that hold", stay.person_id));
                }
                continue;
            };
            match register.get(&stay.institution_code) {
                None if incoming.contains(&stay.institution_code) => {}
                None => {
                    fail(
                        "institution_code",
                        format!(
                            "{} is a designated institution neither of the register nor of the institutions file",
                            stay.institution_code
                        ),
                    );
                    continue;
                }
                Some(institution) if !institution.active => {
                    fail("institution_code", format!("{}'s designation is withdrawn", stay.institution_code));
                    continue;
                }
                Some(_) => {}
            }
            if stay.admission_date > today {
                fail("admission_date", format!("an admission on {} is after the cut-off ({today})", stay.admission_date));
                continue;
            }
            if let Err(e) = crate::claims::check_kind_at(&stay.institution_code, stay.kind)
                .and_then(|()| App::covered_for(coverage, stay.kind, stay.admission_date, stay.diagnosis.as_deref()))
            {
                fail("admission_date", format!("{} [{}]", e.message, e.code));
                continue;
            }
            let about = format!("{}'s inpatient number {} admitted on {}", stay.institution_code, stay.ipt_otp_no, stay.admission_date);
            let (line, person) = (stay.line, stay.person_id);
            visits.push((line, person, about, migrated_visit(stay, now)?));
        }
        // A visit id taken (a stay of the same hospital, inpatient number and day, loaded by
        // an earlier migration under another person's row) would refuse the batch at its
        // load: it is a row to fix now. A resumed load's own stays are not asked about.
        let asked: Vec<(yibao_domain::InstitutionCode, String)> = visits
            .iter()
            .filter(|(_, person, _, _)| !loaded.contains(person))
            .map(|(_, _, _, v)| (v.institution_code.clone(), v.mdtrt_id.clone()))
            .collect();
        let mut taken: HashSet<(yibao_domain::InstitutionCode, String)> = HashSet::new();
        for chunk in asked.chunks(PROBE_KEYS_MAX) {
            let probe = RegisterProbe { visits: chunk.to_vec(), ..RegisterProbe::default() };
            taken.extend(store!(self, probe_register(city, probe))?.visits);
        }
        let mut kept = Vec::with_capacity(visits.len());
        for (line, person, about, visit) in visits {
            if taken.contains(&(visit.institution_code.clone(), visit.mdtrt_id.clone())) {
                errors.push(LegacyRowError {
                    file: LegacyFile::Stays,
                    row: RowError {
                        line,
                        column: Some("ipt_otp_no".into()),
                        key: Some(person.to_string()),
                        message: format!(
                            "{about} is a visit of the register already ({}): a stay an earlier migration loaded",
                            visit.mdtrt_id
                        ),
                    },
                });
            } else {
                kept.push(visit);
            }
        }
        Ok((kept, held_back))
    }

    /// The rules an enrolment and a contribution follow here, row by row: each wrong row
    /// becomes an error, its person (and household) held back. Returns the contributions
    /// with what is due for each.
    fn check_rules(&self, extract: &mut LegacyExtract) -> Vec<NewContribution> {
        let policy = self.policy();
        let today = self.today();
        let mut wrong: HashSet<NationalId> = HashSet::new();
        for person in &extract.persons {
            // The coverage is checked as an enrolment's (every rule of it); an ended one
            // for its end alone, which the legacy file may carry.
            let mut probe = person.coverage.clone();
            probe.coverage_until = None;
            let mut fail = |message: String| {
                extract.errors.push(error(LegacyFile::Persons, person.line, &person.coverage.person_id, message));
                wrong.insert(person.coverage.person_id);
            };
            if let Err(e) = self.check_coverage(&probe) {
                fail(format!("{} [{}]", e.message, e.code));
            } else if person.coverage.coverage_until.is_some_and(|until| until > today) {
                fail("coverage ends after today: the extract is of the cut-off".into());
            }
        }
        let coverage_of: HashMap<NationalId, &yibao_engine::Coverage> =
            extract.persons.iter().map(|p| (p.coverage.person_id, &p.coverage)).collect();
        let mut contributions = Vec::with_capacity(extract.contributions.len());
        for row in &extract.contributions {
            let coverage = coverage_of[&row.person_id];
            let mut fail = |message: String| {
                extract.errors.push(error(LegacyFile::Contributions, row.line, &row.person_id, message));
                wrong.insert(row.person_id);
            };
            if row.period.year() > today.year() + 1 {
                fail(format!("{} is too far ahead: contributions are paid for at most the next year", row.period));
                continue;
            }
            // A period the person's coverage does not reach is no one's bill.
            let first = row.period.first_day();
            let last = match row.period {
                yibao_domain::Period::Year(year) => time::Date::from_calendar_date(year, time::Month::December, 31).ok(),
                yibao_domain::Period::Month(year, month) => {
                    time::Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).ok()
                }
            };
            let covered_until = coverage.coverage_until.unwrap_or(time::Date::MAX);
            if last.is_none_or(|last| last < coverage.coverage_from) || first > covered_until {
                let until = coverage.coverage_until.map_or_else(|| "now".to_owned(), |d| d.to_string());
                fail(format!("{}: the coverage ({} to {until}) does not reach it", row.period, coverage.coverage_from));
                continue;
            }
            match contribution_due(&policy, coverage, row.kind, row.period, row.wage_monthly) {
                Err(e) => fail(e.to_string()),
                Ok(due) if row.paid > due.due => fail(format!("{} paid, beyond the {} due for {}", row.paid, due.due, row.period)),
                Ok(due) => match serde_json::to_string(&due.breakdown) {
                    Ok(breakdown_json) => contributions.push(NewContribution {
                        person_id: row.person_id,
                        kind: row.kind,
                        period: row.period,
                        due_fen: due.due,
                        paid_fen: row.paid,
                        breakdown_json,
                    }),
                    Err(e) => fail(e.to_string()),
                },
            }
        }
        for row in &extract.accumulators {
            let coverage = coverage_of[&row.person_id];
            let year = row.accumulators.year;
            if year > today.year() || year < coverage.coverage_from.year() {
                extract.errors.push(error(
                    LegacyFile::Accumulators,
                    row.line,
                    &row.person_id,
                    format!("counters of {year}: a year from the coverage's first ({}) to this one", coverage.coverage_from.year()),
                ));
                wrong.insert(row.person_id);
            }
        }
        hold_back(extract, &wrong);
        contributions.retain(|c| !wrong.contains(&c.person_id));
        contributions
    }

    /// Persons, households and cards the register holds already: each an error, except in
    /// the first `loaded_households` households (loaded by this migration's earlier run).
    async fn check_register(&self, city: RegionCode, extract: &mut LegacyExtract, loaded_households: usize) -> Result<(), AppError> {
        let loaded: HashSet<(RegionCode, &HouseholdId)> =
            extract.households.iter().take(loaded_households).map(|h| (h.region, &h.household_id)).collect();
        let to_load: Vec<_> = extract.persons.iter().filter(|p| !loaded.contains(&(p.coverage.region, &p.household_id))).collect();
        let households: Vec<_> = extract.households.iter().filter(|h| !loaded.contains(&(h.region, &h.household_id))).collect();
        let chunk = PROBE_KEYS_MAX / 3;
        let mut found = RegisterProbe::default();
        for start in (0..to_load.len().max(households.len())).step_by(chunk) {
            let probe = RegisterProbe {
                persons: to_load.iter().skip(start).take(chunk).map(|p| p.coverage.person_id).collect(),
                households: households.iter().skip(start).take(chunk).map(|h| (h.region, h.household_id.to_string())).collect(),
                cards: to_load
                    .iter()
                    .skip(start)
                    .take(chunk)
                    .filter_map(|p| p.card_no.clone().map(|card| (p.coverage.region, card)))
                    .collect(),
                coverage: Vec::new(),
                deaths: Vec::new(),
                visits: Vec::new(),
            };
            let held = store!(self, probe_register(city, probe))?;
            found.persons.extend(held.persons);
            found.households.extend(held.households);
            found.cards.extend(held.cards);
        }
        let persons: HashSet<NationalId> = found.persons.into_iter().collect();
        let household_ids: HashSet<(RegionCode, String)> = found.households.into_iter().collect();
        let cards: HashSet<(RegionCode, String)> = found.cards.into_iter().collect();
        let mut wrong: HashSet<NationalId> = HashSet::new();
        for person in &to_load {
            let id = person.coverage.person_id;
            if persons.contains(&id) {
                extract.errors.push(error(
                    LegacyFile::Persons,
                    person.line,
                    &id,
                    format!("{id} is enrolled already [person.already_enrolled]"),
                ));
                wrong.insert(id);
            }
            if let Some(card) = &person.card_no
                && cards.contains(&(person.coverage.region, card.clone()))
            {
                extract.errors.push(error(
                    LegacyFile::Persons,
                    person.line,
                    &id,
                    format!("card {card} is another person's [person.card_taken]"),
                ));
                wrong.insert(id);
            }
        }
        let mut wrong_households: Vec<(RegionCode, HouseholdId)> = Vec::new();
        for household in &households {
            if household_ids.contains(&(household.region, household.household_id.to_string())) {
                extract.errors.push(LegacyRowError {
                    file: LegacyFile::Households,
                    row: RowError {
                        line: household.line,
                        column: Some("household_id".into()),
                        key: Some(household.household_id.to_string()),
                        message: format!("household {} exists already [person.household_exists]", household.household_id),
                    },
                });
                wrong_households.push((household.region, household.household_id.clone()));
            }
        }
        for member in extract.persons.iter().filter(|p| wrong_households.contains(&(p.coverage.region, p.household_id.clone()))) {
            wrong.insert(member.coverage.person_id);
        }
        hold_back(extract, &wrong);
        extract.errors.sort_by_key(|e| (e.file, e.row.line));
        Ok(())
    }
}

fn error(file: LegacyFile, line: usize, person: &NationalId, message: String) -> LegacyRowError {
    LegacyRowError { file, row: RowError { line, column: None, key: Some(person.to_string()), message } }
}

/// Holds back the households of `wrong` persons whole, with their members' other rows: a
/// row with an error of its own is counted as an error, any other as held back.
fn hold_back(extract: &mut LegacyExtract, wrong: &HashSet<NationalId>) {
    if wrong.is_empty() {
        return;
    }
    let failed: HashSet<(LegacyFile, usize)> = extract.errors.iter().map(|e| (e.file, e.row.line)).collect();
    let households: HashSet<(RegionCode, HouseholdId)> = extract
        .persons
        .iter()
        .filter(|p| wrong.contains(&p.coverage.person_id))
        .map(|p| (p.coverage.region, p.household_id.clone()))
        .collect();
    let held: HashSet<NationalId> = extract
        .persons
        .iter()
        .filter(|p| households.contains(&(p.coverage.region, p.household_id.clone())))
        .map(|p| p.coverage.person_id)
        .collect();
    let mut count = |file: LegacyFile, line: usize| {
        if !failed.contains(&(file, line)) {
            extract.held_back[file as usize] += 1;
        }
    };
    let mut keep = |file: LegacyFile, line: usize, hold: bool| {
        if hold {
            count(file, line);
        }
        !hold
    };
    extract.households.retain(|h| keep(LegacyFile::Households, h.line, households.contains(&(h.region, h.household_id.clone()))));
    extract.persons.retain(|p| keep(LegacyFile::Persons, p.line, held.contains(&p.coverage.person_id)));
    extract.contributions.retain(|c| keep(LegacyFile::Contributions, c.line, held.contains(&c.person_id)));
    extract.accumulators.retain(|a| keep(LegacyFile::Accumulators, a.line, held.contains(&a.person_id)));
}

/// The extract's rows that hold, with the contributions (due computed) of the persons kept.
fn extract_after_errors(extract: &mut LegacyExtract, contributions: Vec<NewContribution>) -> (LegacyExtract, Vec<NewContribution>) {
    let kept: HashSet<NationalId> = extract.persons.iter().map(|p| p.coverage.person_id).collect();
    let contributions = contributions.into_iter().filter(|c| kept.contains(&c.person_id)).collect();
    let rows = LegacyExtract {
        households: std::mem::take(&mut extract.households),
        persons: std::mem::take(&mut extract.persons),
        accumulators: std::mem::take(&mut extract.accumulators),
        ..LegacyExtract::default()
    };
    (rows, contributions)
}

/// The institutions a stay may be at: the register's, and those the extract brings.
#[derive(Clone, Copy)]
struct KnownInstitutions<'a> {
    register: &'a HashMap<yibao_domain::InstitutionCode, yibao_store::InstitutionRecord>,
    incoming: &'a [yibao_store::NewInstitution],
}

/// The batches: households in the files' order, `size` at a time, each with its members'
/// contributions and accumulators.
fn cut(
    id: &str,
    (extract, contributions): (LegacyExtract, Vec<NewContribution>),
    stays: Vec<VisitRecord>,
    size: usize,
) -> Result<Vec<MigrationBatch>, AppError> {
    let batch_count = extract.households.len().div_ceil(size);
    if batch_count > MIGRATION_BATCHES_MAX as usize {
        return Err(AppError::bad_request(
            "migration.bad_batch",
            format!("{batch_count} batches: at most {MIGRATION_BATCHES_MAX}; take larger batches"),
        ));
    }
    let batch_of: HashMap<(RegionCode, HouseholdId), usize> =
        extract.households.iter().enumerate().map(|(i, h)| ((h.region, h.household_id.clone()), i / size)).collect();
    let mut batches: Vec<MigrationBatch> = (0..batch_count)
        .map(|batch| MigrationBatch {
            migration: id.to_owned(),
            batch: u32::try_from(batch).unwrap_or(u32::MAX),
            households: Vec::new(),
            contributions: Vec::new(),
            accumulators: Vec::new(),
            carried_months: Vec::new(),
            employers: Vec::new(),
            institutions: Vec::new(),
            stays: Vec::new(),
        })
        .collect();
    let mut position: HashMap<(RegionCode, HouseholdId), (usize, usize)> = HashMap::new();
    for household in extract.households {
        let key = (household.region, household.household_id.clone());
        let batch = batch_of[&key];
        position.insert(key, (batch, batches[batch].households.len()));
        batches[batch].households.push(ImportHousehold {
            household: NewHousehold { household_id: household.household_id, region: household.region, address: household.address },
            members: Vec::new(),
        });
    }
    let mut person_batch: HashMap<NationalId, usize> = HashMap::new();
    for person in extract.persons {
        let (batch, index) = position[&(person.coverage.region, person.household_id.clone())];
        person_batch.insert(person.coverage.person_id, batch);
        if let Some(months) = person.carried_months.filter(|m| *m > 0) {
            batches[batch].carried_months.push((person.coverage.person_id, months));
        }
        batches[batch].households[index].members.push(NewPerson {
            name: person.name,
            card_no: person.card_no,
            household_id: person.household_id,
            coverage: person.coverage,
        });
    }
    for contribution in contributions {
        batches[person_batch[&contribution.person_id]].contributions.push(contribution);
    }
    for row in extract.accumulators {
        let accumulators: Accumulators = row.accumulators;
        batches[person_batch[&row.person_id]].accumulators.push((row.person_id, accumulators));
    }
    for stay in stays {
        // A stay is kept only for a person kept (`check_stays`).
        if let Some(batch) = person_batch.get(&stay.person_id) {
            batches[*batch].stays.push(stay);
        }
    }
    Ok(batches)
}

/// A stay open at the cut-off as the visit the hospital goes on with: admitted, no fee line
/// yet. Its id (`mdtrt_id`) is the admission's day and 16 hex digits of a digest of the
/// hospital's code and inpatient number: the same extract gives the same ids (a dry run
/// can list them, a resumed load writes them alike), and a hospital finds them by the
/// person (5201).
fn migrated_visit(stay: LegacyStay, now: time::OffsetDateTime) -> Result<VisitRecord, AppError> {
    let digest = Sha256::new()
        .chain_update(b"yibao migrated stay\0")
        .chain_update(stay.institution_code.to_string().as_bytes())
        .chain_update(b"\0")
        .chain_update(stay.ipt_otp_no.as_bytes())
        .finalize();
    let hex = yibao_store::hex_lower(&digest[..8]);
    let begin = stay.admission_date;
    let mdtrt_id = format!("{}{:02}{:02}{hex}", begin.year(), u8::from(begin.month()), begin.day());
    let new = crate::interface::NewVisit {
        person_id: stay.person_id,
        card_no: String::new(),
        kind: stay.kind,
        ipt_otp_no: stay.ipt_otp_no,
        begin,
        diagnosis: stay.diagnosis,
        emergency: stay.emergency,
        delivery: None,
        insured_in: None,
        physician: None,
    };
    let visit = crate::interface::Visit::opened(mdtrt_id, new);
    let state = serde_json::to_string(&visit).map_err(|e| AppError::internal("store.failure", e.to_string()))?;
    Ok(VisitRecord {
        mdtrt_id: visit.mdtrt_id,
        institution_code: stay.institution_code,
        person_id: visit.person_id,
        revision: 1,
        state,
        updated_at: now,
    })
}

/// The migration's id, the files' names and their tables by kind.
type ReadFiles = (String, Vec<String>, HashMap<LegacyFile, Table>);

/// The files by kind, the migration's id (the first 16 hex digits of the SHA-256 over each
/// file's kind and bytes, in kind order) and their names.
fn read_files(files: Vec<MigrationFile>) -> Result<ReadFiles, AppError> {
    let mut by_kind: Vec<(LegacyFile, MigrationFile)> = Vec::new();
    for file in files {
        let Some(kind) = LegacyFile::of_name(&file.name) else {
            return Err(AppError::bad_request(
                "migration.unknown_file",
                format!(
                    "'{}' is none of households, persons, contributions, accumulators, employers, institutions, stays or control (.csv, .xlsx)",
                    file.name
                ),
            ));
        };
        if by_kind.iter().any(|(k, _)| *k == kind) {
            return Err(AppError::bad_request("migration.unknown_file", format!("two {kind} files")));
        }
        by_kind.push((kind, file));
    }
    by_kind.sort_by_key(|(kind, _)| *kind);
    let mut hash = Sha256::new();
    let mut tables = HashMap::new();
    let mut names = Vec::new();
    for (kind, file) in by_kind {
        hash.update(kind.name().as_bytes());
        hash.update((file.bytes.len() as u64).to_le_bytes());
        hash.update(&file.bytes);
        let table = Table::read_at_most(&file.name, &file.bytes, yibao_import::LEGACY_ROWS_MAX)
            .map_err(|e| AppError::bad_request(e.code(), format!("{}: {e}", file.name)))?;
        tables.insert(kind, table);
        names.push(file.name);
    }
    let id = yibao_store::hex_lower(&hash.finalize()[..8]);
    Ok((id, names, tables))
}

/// Residents of the household register that no coverage holds (漏保), per county.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MissingEnrolment {
    /// The day coverage is judged on.
    pub on: String,
    pub rows: usize,
    /// Residents of counties outside the caller's, not judged.
    pub elsewhere: usize,
    pub counties: Vec<CountyCoverage>,
    pub missing: Vec<MissingPerson>,
    #[serde(skip)]
    pub errors: Vec<RowError>,
}

/// One county's residents and how many of them are insured.
#[derive(Clone, Debug, Serialize)]
pub struct CountyCoverage {
    pub region: RegionCode,
    pub residents: u64,
    pub insured: u64,
    /// Enrolled once, their coverage ended before the day.
    pub ended: u64,
    /// Never enrolled, or covered only from a later day.
    pub never: u64,
    /// Died before the day (not missing: no longer a resident to insure).
    pub died: u64,
}

/// A resident without coverage on the day.
#[derive(Clone, Debug, Serialize)]
pub struct MissingPerson {
    pub line: usize,
    pub person_id: NationalId,
    pub name: String,
    pub region: RegionCode,
    pub household_id: String,
    /// The last day of an ended coverage; `None`: never enrolled.
    pub ended_on: Option<String>,
}

impl MissingEnrolment {
    /// The residents without coverage as CSV (UTF-8 with a byte-order mark).
    #[must_use]
    pub fn csv(&self) -> String {
        let mut out = String::from("\u{feff}line,person_id,name,region,household_id,ended_on\n");
        for p in &self.missing {
            // Free text of the register: quoted where it must be, and never read by a
            // spreadsheet as a formula.
            let quoted = |t: &str| {
                let t = if t.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{t}") } else { t.to_owned() };
                if t.contains([',', '"', '\n', '\r']) { format!("\"{}\"", t.replace('"', "\"\"")) } else { t }
            };
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                p.line,
                p.person_id,
                quoted(&p.name),
                p.region,
                quoted(&p.household_id),
                p.ended_on.as_deref().unwrap_or("")
            ));
        }
        out
    }
}

impl App {
    /// The report of residents not insured (漏保, R-ENR-2; issue 16 item 4): the household
    /// register's file (`yibao_import::residents`) against the register of insured persons
    /// on `on`. A resident insured in another county of the city is insured. An enrolment
    /// clerk reads their county's residents, the city administrator (or the operator) the
    /// city's; a resident of a county outside the caller's is counted, not judged.
    pub async fn missing_enrolment(
        &self,
        principal: &Principal,
        file: MigrationFile,
        on: time::Date,
    ) -> Result<MissingEnrolment, AppError> {
        let scope = match principal.system() {
            Ok(city) => city,
            Err(_) => principal.scope(roles::ENROLMENT)?,
        };
        let table = Table::read_at_most(&file.name, &file.bytes, yibao_import::LEGACY_ROWS_MAX)
            .map_err(|e| AppError::bad_request(e.code(), format!("{}: {e}", file.name)))?;
        drop(file);
        let parsed =
            yibao_import::residents::parse_residents(table).map_err(|e| AppError::bad_request(e.code(), format!("residents: {e}")))?;
        let policy = self.policy();
        let mut report = MissingEnrolment { on: on.to_string(), rows: parsed.rows, errors: parsed.errors, ..MissingEnrolment::default() };
        let mut judged = Vec::with_capacity(parsed.residents.len());
        for resident in parsed.residents {
            if !policy.has_county(resident.region) {
                report.errors.push(RowError {
                    line: resident.line,
                    column: Some("region".into()),
                    key: Some(resident.person_id.to_string()),
                    message: format!("{} is not a county or district of {}", resident.region, policy.region),
                });
            } else if scope.contains(resident.region) {
                judged.push(resident);
            } else {
                report.elsewhere += 1;
            }
        }
        // Every spell of each person (R-ENR-5: insured on the day in any county or scheme).
        let mut spans: HashMap<NationalId, Vec<(time::Date, Option<time::Date>)>> = HashMap::new();
        let mut deaths: HashMap<NationalId, time::Date> = HashMap::new();
        for chunk in judged.chunks(PROBE_KEYS_MAX) {
            let probe = RegisterProbe { persons: chunk.iter().map(|r| r.person_id).collect(), ..RegisterProbe::default() };
            let found = store!(self, probe_register(policy.region, probe))?;
            for (person, from, until) in found.coverage {
                spans.entry(person).or_default().push((from, until));
            }
            deaths.extend(found.deaths);
        }
        let mut counties: std::collections::BTreeMap<RegionCode, CountyCoverage> = std::collections::BTreeMap::new();
        for resident in judged {
            let county = counties.entry(resident.region).or_insert(CountyCoverage {
                region: resident.region,
                residents: 0,
                insured: 0,
                ended: 0,
                never: 0,
                died: 0,
            });
            county.residents += 1;
            let spells = spans.get(&resident.person_id).map_or(&[][..], Vec::as_slice);
            let covered = spells.iter().any(|(from, until)| *from <= on && until.is_none_or(|until| until >= on));
            let ended = spells.iter().filter_map(|(_, until)| *until).filter(|until| *until < on).max();
            let began = spells.iter().any(|(from, _)| *from <= on);
            match (covered, deaths.get(&resident.person_id)) {
                (_, Some(died_on)) if *died_on < on => county.died += 1,
                (true, _) => county.insured += 1,
                (false, _) if began && ended.is_some() => {
                    county.ended += 1;
                    report.missing.push(missing(resident, ended.map(|until| until.to_string())));
                }
                // Never enrolled, or covered only from a later day: not insured on this one.
                (false, _) => {
                    county.never += 1;
                    report.missing.push(missing(resident, None));
                }
            }
        }
        report.counties = counties.into_values().collect();
        Ok(report)
    }
}

fn missing(resident: yibao_import::residents::Resident, ended_on: Option<String>) -> MissingPerson {
    MissingPerson {
        line: resident.line,
        person_id: resident.person_id,
        name: resident.name.to_string(),
        region: resident.region,
        household_id: resident.household_id,
        ended_on,
    }
}
