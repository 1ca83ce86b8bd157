//! `yibao synth` (the synthetic city to files, or into a store through its API) and
//! `yibao simulate` (its year in memory).
//! Everything that decides a person, a claim or an amount is in `yibao-synth`; this module
//! parses arguments, runs the worker threads that write files, shows progress and prints.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use yibao_policy::Policy;
use yibao_synth::format::{CLAIM_HEADER, FORMAT, INSTITUTION_HEADER, PERSON_HEADER, write_claim, write_institution, write_person};
use yibao_synth::{City, Config, Financing, SimOptions, apply_reform, render, render_comparison, simulate};

use crate::demo::DEMO_POLICY;
use crate::files;

/// What both commands share: which city.
#[derive(Args, Debug)]
pub struct CityArgs {
    /// Insured persons, 1000 to 13000000.
    #[arg(long)]
    insured: u64,
    /// The seed: the same seed gives the same city and year, whatever the threads.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The calendar year of the claims.
    #[arg(long, default_value_t = yibao_synth::DEFAULT_YEAR)]
    year: i32,
    /// Worker threads (default: the machine's cores). The output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Persons per block, the unit of generation. Part of the city's identity: another
    /// block size draws another city.
    #[arg(long, default_value_t = yibao_synth::assumptions::BLOCK_PERSONS)]
    block_persons: u32,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("store").args(["data_dir", "database_url"]).multiple(false)))]
pub struct SynthArgs {
    #[command(flatten)]
    city: CityArgs,
    /// The directory to write CSV files into (created if missing; files of the same names
    /// are replaced). Needed unless the city goes into a store.
    #[arg(long, required_unless_present_any = ["data_dir", "database_url"])]
    out: Option<PathBuf>,
    /// Write the city into the SQLite store of this data directory (DIR/yibao.db, the file
    /// `yibao serve --data-dir DIR` uses), through the store's API. The store must be empty.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write the city into this PostgreSQL database instead (`postgres://user@host:port/db`).
    #[arg(long)]
    database_url: Option<String>,
    /// Also settle the year's claims in the store (each person's in date order).
    #[arg(long, requires = "store")]
    settle: bool,
    /// Settlements in flight at once with --settle (of different persons), so that the
    /// store's group commit has company.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    in_flight: u32,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    city: CityArgs,
    /// The policy pack (TOML) for the demo city; default: the embedded policies/demo-city.toml.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// A reform (TOML overlay of [[param]] entries and [financing]): simulate the same year
    /// under the pack and under the pack with the reform, and print them side by side.
    #[arg(long)]
    reform: Option<PathBuf>,
}

impl CityArgs {
    fn city(&self) -> Result<City, String> {
        let config = Config { insured: self.insured, seed: self.seed, year: self.year, block_persons: self.block_persons };
        City::new(config).map_err(|e| format!("{e} [synth.config]"))
    }

    fn threads(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)).max(1)
    }
}

fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{human_pos}}/{{human_len}} {what} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn create(path: &Path) -> Result<BufWriter<File>, String> {
    File::create(path).map(|f| BufWriter::with_capacity(1 << 20, f)).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: cannot write: {e}", path.display())
}

/// One block's two files; returns (persons, claims) written.
fn write_block(city: &City, dir: &Path, index: u32) -> Result<(u64, u64), String> {
    let block = city.block(index);
    let persons_path = dir.join("persons").join(format!("persons-{index:05}.csv"));
    let mut out = create(&persons_path)?;
    let mut line = String::with_capacity(256);
    writeln!(out, "{PERSON_HEADER}").map_err(write_err(&persons_path))?;
    for person in &block.persons {
        line.clear();
        write_person(&mut line, city, person);
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(write_err(&persons_path))?;
    }
    out.flush().map_err(write_err(&persons_path))?;
    let claims_path = dir.join("claims").join(format!("claims-{index:05}.csv"));
    let mut out = create(&claims_path)?;
    writeln!(out, "{CLAIM_HEADER}").map_err(write_err(&claims_path))?;
    let events = block.claims(city);
    let mut claim = None;
    for event in &events {
        let person = block.person(event).ok_or("a claim's person is in its block")?;
        let claim = match &mut claim {
            Some(c) => {
                city.fill_claim(person, event, c);
                c
            }
            None => claim.insert(city.claim(person, event)),
        };
        line.clear();
        write_claim(&mut line, person.id, claim);
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(write_err(&claims_path))?;
    }
    out.flush().map_err(write_err(&claims_path))?;
    Ok((block.persons.len() as u64, events.len() as u64))
}

pub fn synth(args: &SynthArgs) -> Result<(), String> {
    let city = args.city.city()?;
    let target = match (&args.data_dir, &args.database_url) {
        (Some(dir), _) => Some(yibao_app::StoreLocation::DataDir(dir.clone())),
        (None, Some(url)) => Some(yibao_app::StoreLocation::Url(url.clone())),
        (None, None) => None,
    };
    let Some(target) = target else {
        let dir = args.out.as_deref().ok_or("--out, --data-dir or --database-url is needed [synth.usage]")?;
        return write_files(args, &city, dir);
    };
    let options = store::Options { settle: args.settle, in_flight: args.in_flight as usize };
    store::run(city, &target, &options, |city| match &args.out {
        Some(dir) => write_files(args, city, dir),
        None => Ok(()),
    })
}

/// The city as CSV files in `dir`.
fn write_files(args: &SynthArgs, city: &City, dir: &Path) -> Result<(), String> {
    for sub in ["persons", "claims"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: cannot create: {e}", dir.join(sub).display()))?;
    }
    let started = Instant::now();
    let path = dir.join("institutions.csv");
    let mut out = create(&path)?;
    writeln!(out, "{INSTITUTION_HEADER}").map_err(write_err(&path))?;
    let mut line = String::new();
    for institution in &city.institutions {
        line.clear();
        write_institution(&mut line, institution);
        writeln!(out, "{line}").map_err(write_err(&path))?;
    }
    out.flush().map_err(write_err(&path))?;

    let blocks = city.config.blocks();
    let bar = progress(city.config.insured, "persons");
    let next = AtomicU32::new(0);
    let written: Mutex<Vec<(u32, u64, u64)>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..args.city.threads() {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= blocks {
                        break;
                    }
                    match write_block(city, dir, index) {
                        Ok((persons, claims)) => {
                            written.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((index, persons, claims));
                            bar.inc(persons);
                        }
                        Err(e) => {
                            *failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                            next.store(blocks, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(e);
    }
    let mut written = written.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    written.sort_unstable();
    let claims: u64 = written.iter().map(|w| w.2).sum();
    let manifest = serde_json::json!({
        "format": FORMAT,
        "city": city.city.to_string(),
        "counties": city.counties.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "insured": city.config.insured,
        "seed": city.config.seed,
        "year": city.config.year,
        "block_persons": city.config.block_persons,
        "institutions": city.institutions.len(),
        "claims": claims,
        "catalogue": "policies/demo-city.toml",
        "files": written.iter().map(|(index, persons, claims)| serde_json::json!({
            "persons": format!("persons/persons-{index:05}.csv"),
            "person_lines": persons,
            "claims": format!("claims/claims-{index:05}.csv"),
            "claim_lines": claims,
        })).collect::<Vec<_>>(),
    });
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(&path, text + "\n").map_err(write_err(&path))?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "wrote {} insured ({} blocks) and {} claims of {} to {}",
        city.config.insured,
        blocks,
        claims,
        city.config.year,
        dir.display()
    );
    eprintln!("{seconds:.1} s, {:.0} claims/s, {} threads", claims as f64 / seconds.max(1e-9), args.city.threads());
    Ok(())
}

pub fn simulate_command(args: &SimulateArgs) -> Result<(), String> {
    let (label, text) = match &args.policy {
        Some(path) => (path.display().to_string(), files::read(path)?),
        None => ("policies/demo-city.toml (embedded)".to_owned(), DEMO_POLICY.to_owned()),
    };
    let policy = Policy::from_toml(&label, &text).map_err(|e| e.to_string())?;
    let reform = match &args.reform {
        Some(path) => {
            let (merged, reform) = apply_reform(&text, &files::read(path)?, Financing::default())
                .map_err(|e| format!("{}: {e} [synth.reform]", path.display()))?;
            let policy = Policy::from_toml(&format!("{label} with the reform {}", path.display()), &merged)
                .map_err(|e| format!("{e}\n{}: the reform does not make a valid pack [synth.reform]", path.display()))?;
            Some((policy, reform))
        }
        None => None,
    };
    let city = args.city.city()?;
    let threads = args.city.threads();
    let runs = if reform.is_some() { 2 } else { 1 };
    let bar = progress(city.config.insured * runs, "persons");
    let started = Instant::now();
    let result = simulate(&city, &policy, &SimOptions { threads, ..SimOptions::default() }, &|persons| bar.inc(persons))
        .map_err(|e| format!("{e} [synth.simulate]"))?;
    if let Some((reformed, reform)) = &reform {
        let options = SimOptions { threads, financing: reform.financing };
        let other = simulate(&city, reformed, &options, &|persons| bar.inc(persons)).map_err(|e| format!("{e} [synth.simulate]"))?;
        bar.finish_and_clear();
        print!("{}", render_comparison(&result, &other, &reform.name));
        eprintln!(
            "the reform replaced {} and added {} entries; {} claims refused under it; {:.1} s for both years",
            reform.replaced,
            reform.added,
            other.refused(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    print!("{}", render(&result));
    eprintln!(
        "simulated {} insured and {} claims in {seconds:.1} s ({:.0} claims/s, {threads} threads)",
        city.config.insured,
        result.claims() + result.refused(),
        (result.claims() + result.refused()) as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// `yibao synth --data-dir DIR | --database-url URL`: the synthetic city written into a
/// store through the store's API only (bulk import, contributions, institutions, staff,
/// settlements), so every row is audited like any other write.
mod store {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Instant;

    use indicatif::ProgressBar;
    use time::OffsetDateTime;
    use yibao_domain::{Fen, Period, PersonCategory, RegionCode, Scheme};
    use yibao_engine::{Claim, Coverage, Explain, contribution_due};
    use yibao_policy::Policy;
    use yibao_store::{
        AccessStore, Actor, ContributionKind, ContributionStore, IMPORT_LIMIT, ImportHousehold, ImportStore, NewContribution, NewHousehold,
        NewInstitution, NewPerson, NewStaff, PersonQuery, Role, SettleRequest, Store, StoreError,
    };
    use yibao_app::{Backend, Create, StoreLocation};
    use yibao_synth::assumptions::COUNTIES;
    use yibao_synth::{City, Person, mix64};

    use super::progress;
    use crate::demo::DEMO_POLICY;

    /// Most households one import call carries (one transaction each); well under
    /// [`IMPORT_LIMIT`].
    const IMPORT_CHUNK: usize = if 5_000 < IMPORT_LIMIT { 5_000 } else { IMPORT_LIMIT };
    /// Most contributions one `record_contributions` call carries.
    const CONTRIBUTION_CHUNK: usize = 10_000;
    /// The city administrator's username (also what `yibao serve` looks for to tell a
    /// loaded store from an empty one).
    const ADMIN: &str = "admin";
    /// Purposes of the secrets derived from the seed.
    const KEY_PURPOSE: u64 = 0x4150_495f_4b45_5953;
    const ADMIN_PURPOSE: u64 = 0x4144_4d49_4e5f_5057;

    pub struct Options {
        pub settle: bool,
        pub in_flight: usize,
    }

    /// What was written.
    #[derive(Default)]
    struct Summary {
        households: usize,
        persons: usize,
        contributions: usize,
        institutions: usize,
        settled: u64,
        refused: u64,
        settle_seconds: f64,
    }

    /// Opens the store, refuses one that already holds a city, runs `before` (the files, if
    /// asked for), then writes the city.
    pub fn run(
        city: City,
        target: &StoreLocation,
        options: &Options,
        before: impl FnOnce(&City) -> Result<(), String>,
    ) -> Result<(), String> {
        let policy = Policy::from_toml("policies/demo-city.toml (embedded)", DEMO_POLICY).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let location = target.display();
            match Backend::open(target, Create::IfMissing).await? {
                Backend::Sqlite(store) => write(Arc::new(store), city, policy, &location, options, before).await,
                Backend::Postgres(store) => write(Arc::new(store), city, policy, &location, options, before).await,
            }
        })
    }

    fn failed(location: &str) -> impl Fn(StoreError) -> String + '_ {
        move |e| format!("writing the city into {location}: {e} [{}]", e.code())
    }

    /// What already holds a city, if anything: the administrator account, designated
    /// institutions or insured persons of the city.
    async fn holds_a_city<S: Store + AccessStore>(store: &S, city: RegionCode) -> Result<Option<&'static str>, StoreError> {
        if store.staff(ADMIN).await?.is_some() {
            return Ok(Some("it has an 'admin' account"));
        }
        if !store.institutions(city).await?.is_empty() {
            return Ok(Some("it has designated institutions"));
        }
        if !store.search_persons(city, &PersonQuery::default()).await?.is_empty() {
            return Ok(Some("it has insured persons"));
        }
        Ok(None)
    }

    /// 32 hex digits derived from the seed, for `purpose` and `n`: the same seed gives the
    /// same secrets (synthetic credentials, like the demo's; never for real use).
    fn secret(seed: u64, purpose: u64, n: u64) -> String {
        let a = mix64(seed ^ mix64(purpose ^ mix64(n)));
        let b = mix64(a ^ purpose);
        format!("{a:016x}{b:016x}")
    }

    /// The API key of `city.institutions[index]`.
    fn api_key(city: &City, index: usize) -> String {
        format!("synth-{}-{}", city.institutions[index].code, secret(city.config.seed, KEY_PURPOSE, index as u64))
    }

    fn admin_password(city: &City) -> String {
        format!("synth-admin-{}", &secret(city.config.seed, ADMIN_PURPOSE, 0)[..20])
    }

    async fn write<S>(
        store: Arc<S>,
        city: City,
        policy: Policy,
        location: &str,
        options: &Options,
        before: impl FnOnce(&City) -> Result<(), String>,
    ) -> Result<(), String>
    where
        S: Store + AccessStore + ContributionStore + ImportStore,
    {
        let fail = failed(location);
        if let Some(what) = holds_a_city(&*store, city.city).await.map_err(&fail)? {
            return Err(format!(
                "{location} already holds a city ({what}): `yibao synth` writes only into an empty store [synth.store_not_empty]"
            ));
        }
        before(&city)?;
        let started = Instant::now();
        let actor = Actor {
            who: "yibao-synth".into(),
            role: "system".into(),
            source: format!("yibao synth --insured {} --seed {} --year {}", city.config.insured, city.config.seed, city.config.year),
            at: OffsetDateTime::now_utc(),
        };
        let mut summary = Summary::default();
        let password = admin_password(&city);
        let password_hash =
            yibao_app::access::hash_password(&password).map_err(|_| "cannot hash the administrator's password".to_owned())?;
        let admin = NewStaff {
            username: ADMIN.to_owned(),
            display_name: "合成城市管理员 (synthetic city administrator)".to_owned(),
            password_hash,
            role: Role::CityAdministrator,
            region: city.city,
        };
        store.create_staff(&actor, admin).await.map_err(&fail)?;
        for (index, institution) in city.institutions.iter().enumerate() {
            let record = NewInstitution {
                code: institution.code.clone(),
                name: institution.name.clone(),
                region: institution.region,
                level: institution.level,
                api_key_hash: yibao_demo::api_key_hash(&api_key(&city, index)),
            };
            store.create_institution(&actor, record).await.map_err(&fail)?;
            summary.institutions += 1;
        }

        let city = Arc::new(city);
        let policy = Arc::new(policy);
        let phases = if options.settle { 2 } else { 1 };
        let bar =
            progress(city.config.insured * phases, if options.settle { "persons (enrolled, then settled)" } else { "persons enrolled" });
        let mut persons = Vec::new();
        for index in 0..city.config.blocks() {
            city.block_into(index, &mut persons);
            enrol(&*store, &actor, &city, &policy, &persons, &mut summary, &bar).await.map_err(&fail)?;
            if options.settle {
                let block = Arc::new(std::mem::take(&mut persons));
                let settle_started = Instant::now();
                let (settled, refused) = settle(&store, &actor, &city, &policy, &block, options.in_flight, &bar)
                    .await
                    .map_err(|e| format!("{}: {e}", location))?;
                summary.settle_seconds += settle_started.elapsed().as_secs_f64();
                summary.settled += settled;
                summary.refused += refused;
                persons = Arc::try_unwrap(block).unwrap_or_default();
            }
        }
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        print!(
            "wrote {} insured in {} households, {} contributions and {} institutions of the {} city-year into {location}",
            summary.persons, summary.households, summary.contributions, summary.institutions, city.config.year
        );
        if options.settle {
            print!("; settled {} claims ({} refused by the engine)", summary.settled, summary.refused);
        }
        println!();
        println!("synthetic login (POST /api/session; derived from the seed, shown once, the store keeps only its hash):");
        println!("  {ADMIN:<14} {password:<34} {:<20} {}", Role::CityAdministrator.as_str(), city.city);
        println!("institution API keys (header X-Api-Key; derived from the seed, shown once, the store keeps only their hashes):");
        for (index, institution) in city.institutions.iter().enumerate() {
            println!("  {} {} {}", institution.code, api_key(&city, index), institution.name);
        }
        if options.settle {
            eprintln!(
                "{seconds:.1} s in all; settlement {:.1} s, {:.0} settlements/s ({} in flight)",
                summary.settle_seconds,
                (summary.settled + summary.refused) as f64 / summary.settle_seconds.max(1e-9),
                options.in_flight
            );
        } else {
            eprintln!("{seconds:.1} s, {:.0} persons/s", summary.persons as f64 / seconds.max(1e-9));
        }
        Ok(())
    }

    /// One block's households and persons (bulk import per county, in chunks), then their
    /// contributions for the year.
    async fn enrol<S>(
        store: &S,
        actor: &Actor,
        city: &City,
        policy: &Policy,
        persons: &[Person],
        summary: &mut Summary,
        bar: &ProgressBar,
    ) -> Result<(), StoreError>
    where
        S: Store + ContributionStore + ImportStore,
    {
        let mut pending: [Vec<ImportHousehold>; 3] = Default::default();
        let mut current: Option<(u64, usize)> = None;
        for person in persons {
            let county = usize::from(person.county);
            if current != Some((person.household, county)) {
                if pending[county].len() >= IMPORT_CHUNK {
                    import(store, actor, city.counties[county], &mut pending[county], summary, bar).await?;
                }
                let region = city.counties[county];
                pending[county].push(ImportHousehold {
                    household: NewHousehold {
                        household_id: household_id(region, person.household),
                        region,
                        address: format!("{}（合成住户 {}）", COUNTIES[county].name, person.household),
                    },
                    members: Vec::new(),
                });
                current = Some((person.household, county));
            }
            let coverage = person.coverage(city);
            let household = pending[county].last_mut().expect("a household was just pushed");
            household.members.push(NewPerson {
                name: format!("合成居民{:08}", person.index),
                card_no: None,
                household_id: household.household.household_id.clone(),
                coverage,
            });
        }
        for (county, households) in pending.iter_mut().enumerate() {
            if !households.is_empty() {
                import(store, actor, city.counties[county], households, summary, bar).await?;
            }
        }
        // Contributions, once every person of the block is enrolled.
        let mut batches: [Vec<NewContribution>; 3] = Default::default();
        for person in persons {
            let county = usize::from(person.county);
            contributions(policy, city, person, &mut batches[county])?;
            if batches[county].len() >= CONTRIBUTION_CHUNK {
                summary.contributions +=
                    store.record_contributions(actor, city.counties[county], std::mem::take(&mut batches[county])).await?;
            }
        }
        for (county, batch) in batches.into_iter().enumerate() {
            if !batch.is_empty() {
                summary.contributions += store.record_contributions(actor, city.counties[county], batch).await?;
            }
        }
        Ok(())
    }

    fn household_id(region: RegionCode, household: u64) -> String {
        format!("SH-{region}-{household:012}")
    }

    async fn import<S: ImportStore>(
        store: &S,
        actor: &Actor,
        region: RegionCode,
        households: &mut Vec<ImportHousehold>,
        summary: &mut Summary,
        bar: &ProgressBar,
    ) -> Result<(), StoreError> {
        let imported = store.import(actor, region, std::mem::take(households)).await?;
        summary.households += imported.households;
        summary.persons += imported.persons;
        bar.inc(imported.persons as u64);
        Ok(())
    }

    /// What is due for `kind` and `period`, by the engine's one rule ([`contribution_due`]).
    fn due(policy: &Policy, coverage: &Coverage, kind: ContributionKind, period: Period, wage: Option<Fen>) -> Result<NewContribution, StoreError> {
        let due = contribution_due(policy, coverage, kind, period, wage)
            .map_err(|e| StoreError::Invalid(format!("{}: {e} [{}]", coverage.person_id, e.code())))?;
        Ok(NewContribution {
            person_id: coverage.person_id,
            kind,
            period,
            due_fen: due.due,
            paid_fen: due.due,
            breakdown_json: serde_json::to_string(&due.breakdown).map_err(|e| StoreError::Backend(e.to_string()))?,
        })
    }

    /// A person's contributions for the city's year, as the simulation computes them, all
    /// paid: residents the personal part of the year (R-FIN-2) and, when enrolled, the
    /// rural supplementary insurance; employees in work twelve months of employer and
    /// employee parts on their wage (R-FIN-1). Retirees pay nothing and get no record.
    fn contributions(policy: &Policy, city: &City, person: &Person, out: &mut Vec<NewContribution>) -> Result<(), StoreError> {
        let coverage = person.coverage(city);
        let year = city.config.year;
        match (person.scheme, person.category) {
            (Scheme::Employee, PersonCategory::Employed) => {
                for month in 1..=12u8 {
                    let month = time::Month::try_from(month).map_err(|e| StoreError::Invalid(e.to_string()))?;
                    out.push(due(policy, &coverage, ContributionKind::Employee, Period::Month(year, month), Some(person.wage_monthly))?);
                }
            }
            (Scheme::Employee, _) => {}
            _ => {
                out.push(due(policy, &coverage, ContributionKind::Resident, Period::Year(year), None)?);
                if person.supplementary && policy.has_scheme(Scheme::Supplementary) {
                    out.push(due(policy, &coverage, ContributionKind::Supplementary, Period::Year(year), None)?);
                }
            }
        }
        Ok(())
    }

    /// The year whose accumulators a claim counts against (the pack's service-date rule,
    /// as the server reckons it).
    fn service_year(policy: &Policy, claim: &Claim) -> i32 {
        claim.service_date(policy.service_date).year()
    }

    /// Settles every claim of `persons` through [`Store::settle`]: each person's claims in
    /// date order, `in_flight` persons at once. Returns (settled, refused by the engine);
    /// any other failure stops the run.
    async fn settle<S: Store>(
        store: &Arc<S>,
        actor: &Actor,
        city: &Arc<City>,
        policy: &Arc<Policy>,
        persons: &Arc<Vec<Person>>,
        in_flight: usize,
        bar: &ProgressBar,
    ) -> Result<(u64, u64), String> {
        let next = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..in_flight.max(1) {
            let (store, actor, city, policy, persons) =
                (Arc::clone(store), actor.clone(), Arc::clone(city), Arc::clone(policy), Arc::clone(persons));
            let (next, stop, bar) = (Arc::clone(&next), Arc::clone(&stop), bar.clone());
            tasks.spawn(async move {
                let (mut settled, mut refused) = (0u64, 0u64);
                let mut events = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let Some(person) = persons.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    city.year_of(person, &mut events);
                    for event in &events {
                        let claim = city.claim(person, event);
                        let claim_id = claim.claim_id.clone();
                        let request = SettleRequest {
                            institution_code: claim.institution_code.clone(),
                            claim_id: claim.claim_id.clone(),
                            person_id: person.id,
                            year: service_year(&policy, &claim),
                            claim_json: serde_json::to_string(&claim).map_err(|e| e.to_string())?,
                        };
                        let compute = yibao_store::engine_settlement(Arc::clone(&policy), claim, Explain::Off);
                        match store.settle(&actor, city.city, request, compute).await {
                            Ok(_) => settled += 1,
                            Err(StoreError::Refused { .. }) => refused += 1,
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                return Err(format!("settling claim {claim_id} of {}: {e} [{}]", person.id, e.code()));
                            }
                        }
                    }
                    bar.inc(1);
                }
                Ok((settled, refused))
            });
        }
        let (mut settled, mut refused, mut failure) = (0, 0, None);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok((s, r))) => {
                    settled += s;
                    refused += r;
                }
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(e) => failure = failure.or(Some(format!("a settlement task failed: {e} [store.failure]"))),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok((settled, refused)),
        }
    }
}
