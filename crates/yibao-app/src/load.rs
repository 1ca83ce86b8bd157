//! Loading a synthetic city (`yibao-synth`) into the store, through the use cases: the
//! one loader of the demo city (`yibao serve` on first start) and of `yibao synth` into a
//! store. Every row is written as a clerk's, an administrator's, an accountant's or a
//! hospital's would be, checked by the same rules and audited like any other write:
//!
//! - staff accounts ([`CITY_STAFF`]) and the city's designated institutions
//!   ([`App::create_institution`]); hospitals out of the city are not registered here
//!   (they settle through the national interface), so their claims are counted as refused;
//! - households and persons, a county and a chunk at a time ([`App::import_households`]),
//!   named and carded by `yibao_synth::identity`;
//! - contributions for the city's year ([`App::record_contributions`]): what is due is the
//!   use case's, who paid how much is `yibao_synth::payment`'s;
//! - optionally each fund's opening balance on 1 January ([`App::record_receipt`]) and
//!   every claim of the year, settled by its hospital with the person's card
//!   ([`App::settle`]). Nobody files the referrals synthetic claims state, so those claims
//!   are refused as a hospital's would be (`claim.referral_not_on_file`) and counted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use time::{Date, Month};
use yibao_domain::{Fen, InstitutionCode, NationalId, RegionCode};
use yibao_ledger::FundScheme;
use yibao_store::{AccessStore as _, ImportHousehold, NewHousehold, NewPerson, PersonQuery, Role, Store as _};
use yibao_synth::identity::{card_no, household_identity, person_name};
use yibao_synth::payment::contributions_of;
use yibao_synth::{City, Person};

use crate::access::{InstitutionInput, StaffInput};
use crate::{App, AppError, ContributionInput, ErrorKind, FundReceipt, Principal, store};

/// Households per import call (one transaction each), well under the store's limit.
pub const IMPORT_CHUNK: usize = 5_000;
/// Contributions per collection batch (one transaction each).
pub const CONTRIBUTION_CHUNK: usize = 10_000;
/// The city administrator's username: a store with this account already holds a city.
pub const ADMIN: &str = "admin";

/// The bureau's staff accounts of a loaded city: username, display name, role, and the
/// county (index into the city's counties) or the city itself (`None`).
pub const CITY_STAFF: [(&str, &str, Role, Option<usize>); 10] = [
    (ADMIN, "示范市医保系统管理员", Role::CityAdministrator, None),
    ("center.clerk", "中心区参保登记经办员", Role::EnrolmentClerk, Some(0)),
    ("east.clerk", "东县参保登记经办员", Role::EnrolmentClerk, Some(1)),
    ("west.clerk", "西县参保登记经办员", Role::EnrolmentClerk, Some(2)),
    ("claims", "示范市医疗费用审核员", Role::ClaimsOfficer, None),
    ("east.claims", "东县医疗费用审核员", Role::ClaimsOfficer, Some(1)),
    ("accountant", "示范市医保基金会计", Role::FundAccountant, None),
    ("auditor", "示范市医保审计员", Role::Auditor, None),
    // Two, because a pack version is approved by a second person (issue 19).
    ("policy", "示范市医保政策管理员", Role::PolicyOfficer, None),
    ("policy.review", "示范市医保政策复核员", Role::PolicyOfficer, None),
];

/// Each fund's balance brought into the books on 1 January of the city's year (R-SYS-3),
/// per 10 000 insured, held at the city: roughly half a year of the fund's spending, so
/// that the monthly pooling run can pay what the counties' settlements owe before the
/// year's income has built up.
pub const OPENING_BALANCES_YUAN_PER_10K: [(FundScheme, i64); 9] = [
    (FundScheme::Resident, 5_500_000),
    (FundScheme::ResidentCriticalIllness, 550_000),
    (FundScheme::Employee, 3_300_000),
    (FundScheme::EmployeeLargeAmount, 330_000),
    (FundScheme::Maternity, 220_000),
    (FundScheme::Supplementary, 110_000),
    (FundScheme::MedicalAssistance, 330_000),
    // The employees' top-ups: budget money for civil servants and employers' plans, which
    // pay only for the employees a clerk records as having them.
    (FundScheme::CivilServantSubsidy, 110_000),
    (FundScheme::EnterpriseSupplementary, 55_000),
];

/// Which credentials the loaded accounts and institutions get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// The demo's: published staff passwords (`demo-<username>-2026`, a demo only), and
    /// institution API keys drawn at random (`demo-<code>-<32 hex>`), shown once by whoever
    /// loads. A key is what a hospital settles with, so even a demo's must not be guessable
    /// from the register's codes (issue 12).
    Demo,
    /// Drawn from the operating system's randomness, shown once by whoever loads (the
    /// store keeps only their hashes). Not derived from the seed: the seed is in every
    /// audit entry's source, and a secret anyone can recompute is no secret.
    Drawn,
}

/// Which of a synthetic city's claims a load settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// None: the register and the contributions only.
    Nothing,
    /// Every claim of the city's year.
    EveryClaim,
    /// The claims admitted from the first day to the last (the demo's recent weeks).
    AdmittedWithin(Date, Date),
}

/// How to load.
#[derive(Clone)]
pub struct LoadOptions {
    pub credentials: Credentials,
    pub opening_balances: bool,
    /// Which of the city's claims to settle.
    pub settle: Settle,
    /// Persons whose claims are settled at once.
    pub in_flight: usize,
    /// Called with the number of persons just enrolled, or just settled.
    pub progress: Arc<dyn Fn(u64) + Send + Sync>,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("credentials", &self.credentials)
            .field("opening_balances", &self.opening_balances)
            .field("settle", &self.settle)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

/// A staff account's login, to show once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub region: RegionCode,
}

/// An institution's API key, to show once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionLogin {
    pub code: String,
    pub name: String,
    pub api_key: String,
}

/// What a load wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadSummary {
    pub staff: usize,
    pub institutions: usize,
    pub households: usize,
    pub persons: usize,
    pub contributions: usize,
    /// Funds given their opening balance.
    pub fund_openings: usize,
    pub settled: u64,
    /// Claims refused, by code (the use case's, or `institution.not_registered` for a
    /// hospital out of the city).
    pub refused: BTreeMap<String, u64>,
    pub settle_seconds: f64,
}

/// A loaded city: what was written and the credentials to show once.
#[derive(Clone, Debug)]
pub struct LoadedCity {
    pub summary: LoadSummary,
    pub logins: Vec<Login>,
    pub institutions: Vec<InstitutionLogin>,
}

fn password(credentials: Credentials, username: &str) -> Result<String, AppError> {
    Ok(match credentials {
        Credentials::Demo => format!("demo-{}-2026", username.replace('.', "-")),
        Credentials::Drawn => format!("synth-{}-{}", username.replace('.', "-"), &crate::access::new_token()?[..20]),
    })
}

fn api_key(credentials: Credentials, code: &str) -> Result<String, AppError> {
    Ok(match credentials {
        Credentials::Demo => format!("demo-{code}-{}", &crate::access::new_token()?[..32]),
        Credentials::Drawn => format!("synth-{code}-{}", &crate::access::new_token()?[..32]),
    })
}

/// The last month of the city's year whose employee contributions are due by `today`.
fn last_month_due(year: i32, today: Date) -> u8 {
    match year.cmp(&today.year()) {
        std::cmp::Ordering::Less => 12,
        std::cmp::Ordering::Equal => u8::from(today.month()),
        std::cmp::Ordering::Greater => 0,
    }
}

impl App {
    /// Loads `city` into a store that holds no city yet (`load.store_not_empty`), as the
    /// system principal. Not one transaction: each chunk is whole or nothing, and a load
    /// that stops part way leaves a store the next load refuses.
    pub async fn load_city(
        &self,
        principal: &Principal,
        source: &str,
        city: Arc<City>,
        options: &LoadOptions,
    ) -> Result<LoadedCity, AppError> {
        let region = principal.system()?;
        if region != city.city || region != self.policy().region {
            return Err(AppError::bad_request(
                "load.other_city",
                format!("the synthetic city is {}, the policy's {}, the loader's {region}", city.city, self.policy().region),
            ));
        }
        if let Some(what) = self.holds_a_city(city.city).await? {
            return Err(AppError::conflict(
                "load.store_not_empty",
                format!("the store already holds a city ({what}): a city is loaded only into an empty store"),
            ));
        }
        // What would fail part way is refused before anything is written: insured covered
        // from 1 January of the year before, under the pack, in a year that has begun.
        let year = city.config.year;
        let covered_from =
            Date::from_calendar_date(year - 1, Month::January, 1).map_err(|e| AppError::bad_request("load.bad_year", e.to_string()))?;
        if covered_from < self.policy().effective_from || year > self.today().year() {
            return Err(AppError::bad_request(
                "load.bad_year",
                format!(
                    "a city-year {year} covers its insured from {covered_from}: the policy begins {} and the year may not lie ahead of {}",
                    self.policy().effective_from,
                    self.today().year()
                ),
            ));
        }
        let mut summary = LoadSummary::default();
        let mut institutions = Vec::new();
        for institution in &city.institutions {
            if !self.policy().has_county(institution.region) {
                continue;
            }
            let key = api_key(options.credentials, &institution.code)?;
            let input = InstitutionInput {
                code: InstitutionCode::parse(&institution.code)?,
                name: institution.name.clone(),
                region: institution.region,
                level: institution.level,
                api_key: Some(key.clone()),
            };
            self.create_institution(principal, source, input).await?;
            institutions.push(InstitutionLogin { code: institution.code.clone(), name: institution.name.clone(), api_key: key });
            summary.institutions += 1;
        }
        if options.opening_balances {
            self.open_funds(principal, source, &city, &mut summary).await?;
        }
        let registered: HashMap<InstitutionCode, Principal> =
            store!(self, institutions(city.city))?.iter().map(|record| (record.code.clone(), Principal::institution_of(record))).collect();
        let registered = Arc::new(registered);
        let mut persons = Vec::new();
        for block in 0..city.config.blocks() {
            city.block_into(block, &mut persons);
            self.enrol_block(principal, source, &city, &persons, &mut summary, options).await?;
            if options.settle != Settle::Nothing {
                let block = Arc::new(std::mem::take(&mut persons));
                let started = Instant::now();
                self.settle_block(source, &city, &registered, &block, &mut summary, options).await?;
                summary.settle_seconds += started.elapsed().as_secs_f64();
                persons = Arc::try_unwrap(block).unwrap_or_default();
            }
        }
        // The staff last, the administrator at the very end: a load that stopped part way
        // leaves no administrator, so `yibao serve` does not take the store for a loaded one.
        let mut logins = Vec::new();
        for (username, display_name, role, county) in CITY_STAFF.into_iter().rev() {
            let region = county.map_or(city.city, |c| city.counties[c]);
            let password = password(options.credentials, username)?;
            let input = StaffInput {
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                password: password.clone(),
                role,
                region,
            };
            self.create_staff(principal, source, input).await?;
            logins.push(Login { username: username.to_owned(), password, role, region });
            summary.staff += 1;
        }
        logins.reverse();
        Ok(LoadedCity { summary, logins, institutions })
    }

    /// What already holds a city, if anything.
    async fn holds_a_city(&self, city: RegionCode) -> Result<Option<&'static str>, AppError> {
        if store!(self, staff(ADMIN))?.is_some() {
            return Ok(Some("it has an 'admin' account"));
        }
        if !store!(self, institutions(city))?.is_empty() {
            return Ok(Some("it has designated institutions"));
        }
        if store!(self, search_persons(city, &PersonQuery { limit: Some(1), ..PersonQuery::default() }))?.total > 0 {
            return Ok(Some("it has insured persons"));
        }
        Ok(None)
    }

    async fn open_funds(&self, principal: &Principal, source: &str, city: &City, summary: &mut LoadSummary) -> Result<(), AppError> {
        let first_day = Date::from_calendar_date(city.config.year, Month::January, 1)
            .map_err(|e| AppError::bad_request("load.bad_year", e.to_string()))?;
        let insured = i64::try_from(city.config.insured).unwrap_or(i64::MAX);
        for (scheme, yuan) in OPENING_BALANCES_YUAN_PER_10K {
            let receipt = FundReceipt {
                kind: yibao_store::ReceiptKind::OpeningBalance,
                scheme,
                unit: city.city,
                amount_fen: Fen::yuan(yuan.saturating_mul(insured) / 10_000),
                value_date: first_day,
                reference: format!("OPENING-{}", city.config.year),
            };
            self.record_receipt(principal, source, receipt).await?;
            summary.fund_openings += 1;
        }
        Ok(())
    }

    /// One block's households and persons (per county, in chunks), then their
    /// contributions for the year.
    async fn enrol_block(
        &self,
        principal: &Principal,
        source: &str,
        city: &City,
        persons: &[Person],
        summary: &mut LoadSummary,
        options: &LoadOptions,
    ) -> Result<(), AppError> {
        let mut pending: [Vec<ImportHousehold>; 3] = Default::default();
        let mut start = 0;
        while start < persons.len() {
            let head = &persons[start];
            let end = start + persons[start..].iter().take_while(|p| p.household == head.household).count();
            let county = usize::from(head.county);
            if pending[county].len() >= IMPORT_CHUNK {
                self.import_chunk(principal, source, city.counties[county], &mut pending[county], summary, options).await?;
            }
            let identity = household_identity(city, head);
            let members = persons[start..end]
                .iter()
                .enumerate()
                .map(|(position, member)| NewPerson {
                    name: person_name(city, &identity, head, member, position),
                    card_no: Some(card_no(member)),
                    household_id: identity.household_id.clone(),
                    coverage: member.coverage(city),
                })
                .collect();
            pending[county].push(ImportHousehold {
                household: NewHousehold { household_id: identity.household_id, region: city.counties[county], address: identity.address },
                members,
            });
            start = end;
        }
        for (county, households) in pending.iter_mut().enumerate() {
            if !households.is_empty() {
                self.import_chunk(principal, source, city.counties[county], households, summary, options).await?;
            }
        }
        let through = last_month_due(city.config.year, self.today());
        let supplementary = self.policy().has_scheme(yibao_domain::Scheme::Supplementary);
        let mut batches: [Vec<(NationalId, ContributionInput)>; 3] = Default::default();
        for person in persons {
            let county = usize::from(person.county);
            let coverage = person.coverage(city);
            for planned in contributions_of(city, person, through, supplementary) {
                // The payer pays against the bill: what is due, by the same rule the use
                // case applies to the stored record.
                let due = yibao_engine::contribution_due(&self.policy(), &coverage, planned.kind, planned.period, planned.wage_monthly)?;
                let input = ContributionInput {
                    kind: planned.kind,
                    period: planned.period.to_string(),
                    paid: planned.payment.of(due.due),
                    wage_monthly: planned.wage_monthly,
                    receipt: None,
                };
                batches[county].push((person.id, input));
            }
            if batches[county].len() >= CONTRIBUTION_CHUNK {
                let batch = std::mem::take(&mut batches[county]);
                summary.contributions += self.record_contributions(principal, source, city.counties[county], batch).await?;
            }
        }
        for (county, batch) in batches.into_iter().enumerate() {
            if !batch.is_empty() {
                summary.contributions += self.record_contributions(principal, source, city.counties[county], batch).await?;
            }
        }
        Ok(())
    }

    async fn import_chunk(
        &self,
        principal: &Principal,
        source: &str,
        region: RegionCode,
        households: &mut Vec<ImportHousehold>,
        summary: &mut LoadSummary,
        options: &LoadOptions,
    ) -> Result<(), AppError> {
        let imported = self.import_households(principal, source, region, std::mem::take(households)).await?;
        summary.households += imported.households;
        summary.persons += imported.persons;
        (options.progress)(imported.persons as u64);
        Ok(())
    }

    /// Settles every claim of `persons`, each by its hospital with the person's card:
    /// each person's claims in date order, `in_flight` persons at once. A claim the rules
    /// refuse is counted by its code; any other failure stops the load.
    async fn settle_block(
        &self,
        source: &str,
        city: &Arc<City>,
        registered: &Arc<HashMap<InstitutionCode, Principal>>,
        persons: &Arc<Vec<Person>>,
        summary: &mut LoadSummary,
        options: &LoadOptions,
    ) -> Result<(), AppError> {
        let next = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..options.in_flight.max(1) {
            let (app, city, registered, persons) = (self.clone(), Arc::clone(city), Arc::clone(registered), Arc::clone(persons));
            let (next, stop, progress, source) = (Arc::clone(&next), Arc::clone(&stop), Arc::clone(&options.progress), source.to_owned());
            let settle = options.settle;
            tasks.spawn(async move {
                let mut settled = 0u64;
                let mut refused: BTreeMap<String, u64> = BTreeMap::new();
                let mut events = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let Some(person) = persons.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    city.year_of(person, &mut events);
                    let card = card_no(person);
                    for event in &events {
                        let claim = city.claim(person, event);
                        if let Settle::AdmittedWithin(first, last) = settle
                            && !(first..=last).contains(&claim.admission_date)
                        {
                            continue;
                        }
                        let Some(hospital) = registered.get(claim.institution_code.as_str()) else {
                            *refused.entry("institution.not_registered".to_owned()).or_default() += 1;
                            continue;
                        };
                        match app.settle(hospital, &source, &person.id, &card, claim).await {
                            Ok(_) => settled += 1,
                            // The rules' refusals of a claim are counted; anything else stops the load.
                            Err(e) if e.kind != ErrorKind::Internal && (e.code.starts_with("claim.") || e.code.starts_with("settle.")) => {
                                *refused.entry(e.code.into_owned()).or_default() += 1;
                            }
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    progress(1);
                }
                Ok((settled, refused))
            });
        }
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok((settled, refused))) => {
                    summary.settled += settled;
                    for (code, count) in refused {
                        *summary.refused.entry(code).or_default() += count;
                    }
                }
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(e) => failure = failure.or(Some(AppError::internal("load.failure", e.to_string()))),
            }
        }
        failure.map_or(Ok(()), Err)
    }
}
