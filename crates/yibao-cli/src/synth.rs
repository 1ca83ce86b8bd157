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
use yibao_synth::{City, Config, Financing, SimOptions, apply_reform, render, render_comparison, render_payment, simulate};

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
    /// The payment pack the city pays its institutions by (DIP points, per diem,
    /// capitation, clearing); default: the demo city's with the demo policy.
    #[arg(long)]
    payment_pack: Option<PathBuf>,
    /// Another payment pack (a new point table, another reserve): the same stays paid
    /// under it too, beside the first.
    #[arg(long)]
    payment_reform: Option<PathBuf>,
    /// Do not run the payment year.
    #[arg(long)]
    no_payment: bool,
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
    let payment = if args.no_payment { None } else { crate::serve::payment_pack(args.payment_pack.as_deref(), &policy)? };
    let payment_reform = match &args.payment_reform {
        Some(path) => Some(crate::serve::payment_pack(Some(path), &policy)?.ok_or("no payment pack")?),
        None => None,
    };
    let options = SimOptions { threads, keep_stays: payment.is_some(), ..SimOptions::default() };
    let mut result = simulate(&city, &policy, &options, &|persons| bar.inc(persons)).map_err(|e| format!("{e} [synth.simulate]"))?;
    if let Some((reformed, reform)) = &reform {
        let options = SimOptions { threads, financing: reform.financing, keep_stays: false };
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
    if let Some(pack) = &payment {
        let base = yibao_synth::payment_year(&city, &result, pack).map_err(|e| format!("the payment year: {e} [synth.payment]"))?;
        let reformed = match &payment_reform {
            Some(other) => {
                Some(yibao_synth::payment_year(&city, &result, other).map_err(|e| format!("the payment reform: {e} [synth.payment]"))?)
            }
            None => None,
        };
        let name = args.payment_reform.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        print!("{}", render_payment(&base, reformed.as_ref().map(|r| (r, name.as_str()))));
        let booked =
            yibao_synth::book_clearing(&mut result, &base, policy.rounding).map_err(|e| format!("the clearing: {e} [synth.payment]"))?;
        println!(
            "  clearing booked on {}: {} owed to institutions, {} recovered, in {} transfers; every invariant of the books holds",
            booked.value_date, booked.owed, booked.recovered, booked.transfers
        );
    }
    eprintln!(
        "simulated {} insured and {} claims in {seconds:.1} s ({:.0} claims/s, {threads} threads)",
        city.config.insured,
        result.claims() + result.refused(),
        (result.claims() + result.refused()) as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// `yibao synth --data-dir DIR | --database-url URL`: the synthetic city written into a
/// store by the application layer's loader (`yibao_app::load`), the same use cases a
/// clerk, an accountant and a hospital call, so every row is checked and audited like
/// any other write.
mod store {
    use std::sync::Arc;
    use std::time::Instant;

    use yibao_app::load::{Credentials, LoadOptions};
    use yibao_app::policy_versions::GivenPack;
    use yibao_app::{App, Backend, Create, Principal, StoreLocation};
    use yibao_synth::City;

    use super::progress;
    use crate::demo::DEMO_POLICY;

    pub struct Options {
        pub settle: bool,
        pub in_flight: usize,
    }

    /// Loads the city into the store at `target` (which must hold no city), then runs
    /// `after` (the files, if asked for) and prints what was written and the credentials.
    pub fn run(
        city: City,
        target: &StoreLocation,
        options: &Options,
        after: impl FnOnce(&City) -> Result<(), String>,
    ) -> Result<(), String> {
        let given = GivenPack { label: "policies/demo-city.toml (embedded)".into(), text: DEMO_POLICY.to_owned(), named: false };
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
        let location = target.display();
        let city = Arc::new(city);
        let phases = if options.settle { 2 } else { 1 };
        let bar =
            progress(city.config.insured * phases, if options.settle { "persons (enrolled, then settled)" } else { "persons enrolled" });
        let started = Instant::now();
        let loaded = runtime.block_on(async {
            let principal = Principal::System { name: "yibao-synth".into(), region: city.city };
            // As `yibao serve` does: the pack recorded as version 1, so that every settlement
            // written here names it (issue 19).
            let app = App::open_with_policy(Arc::new(Backend::open(target, Create::IfMissing).await?), &given, Some(&principal))
                .await
                .map_err(|e| format!("{} [{}]", e.message, e.code))?;
            let source = format!("yibao synth --insured {} --seed {} --year {}", city.config.insured, city.config.seed, city.config.year);
            let tick = bar.clone();
            let load = LoadOptions {
                credentials: Credentials::Drawn,
                // The books start empty: a pooling run shows what the year's income alone pays.
                opening_balances: false,
                settle: if options.settle { yibao_app::load::Settle::EveryClaim } else { yibao_app::load::Settle::Nothing },
                in_flight: options.in_flight,
                progress: Arc::new(move |n| tick.inc(n)),
            };
            app.load_city(&principal, &source, Arc::clone(&city), &load)
                .await
                .map_err(|e| format!("writing the city into {location}: {} [{}]", e.message, e.code))
        });
        bar.finish_and_clear();
        let loaded = loaded?;
        after(&city)?;
        let seconds = started.elapsed().as_secs_f64();
        let summary = &loaded.summary;
        print!(
            "wrote {} insured in {} households, {} contributions and {} institutions of the {} city-year into {location}",
            summary.persons, summary.households, summary.contributions, summary.institutions, city.config.year
        );
        if options.settle {
            let refused: u64 = summary.refused.values().sum();
            print!("; settled {} claims ({refused} refused", summary.settled);
            for (code, count) in &summary.refused {
                print!(", {count} {code}");
            }
            print!(")");
        }
        println!();
        crate::synth::print_credentials("synthetic", &loaded);
        if options.settle {
            let claims = summary.settled + summary.refused.values().sum::<u64>();
            eprintln!(
                "{seconds:.1} s in all; settlement {:.1} s, {:.0} settlements/s ({} in flight)",
                summary.settle_seconds,
                claims as f64 / summary.settle_seconds.max(1e-9),
                options.in_flight
            );
        } else {
            eprintln!("{seconds:.1} s, {:.0} persons/s", summary.persons as f64 / seconds.max(1e-9));
        }
        Ok(())
    }
}

/// The staff logins and institution API keys a loader created, shown this once: the store
/// keeps only their hashes. `city` names the city: "demo" or "synthetic".
pub fn print_credentials(city: &str, loaded: &yibao_app::load::LoadedCity) {
    println!("{city} logins (POST /api/session; shown this once, the store keeps only their hashes):");
    for login in &loaded.logins {
        println!("  {:<14} {:<42} {:<20} {}", login.username, login.password, login.role.as_str(), login.region);
    }
    println!("{city} institution API keys (header X-Api-Key; drawn at random, shown this once, the store keeps only their hashes):");
    for institution in &loaded.institutions {
        println!("  {} {} {}", institution.code, institution.api_key, institution.name);
    }
}
