//! `yibao migrate`: a legacy system's extract at go-live (issue 16, `docs/migration.md`).
//! The files are read here; checking, loading and reconciling are the application's
//! (`yibao_app::migration`), as for every other edge.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use yibao_app::migration::{BATCH_HOUSEHOLDS_DEFAULT, MigrationCheck, MigrationFile};
use yibao_app::{App, Backend, Create};
use yibao_store::MigrationRecord;

use crate::fund::{StoreArgs, failed, operator, runtime};

/// Largest extract file read.
const FILE_BYTES_MAX: u64 = yibao_import::FILE_BYTES_MAX as u64;
/// Where the command line's writes come from, for the audit log.
const SOURCE: &str = "cli";

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// The dry run: check every row of an extract (a directory with households, persons and
    /// control files, and optionally contributions and accumulators, each .csv or .xlsx)
    /// against the rules, the register and the control totals; write nothing. Exit 1 if a
    /// row is wrong.
    Check {
        dir: PathBuf,
        /// Write the rows to fix to this CSV file (file, line, column, key, message).
        #[arg(long)]
        errors: Option<PathBuf>,
        /// Households per batch.
        #[arg(long, default_value_t = BATCH_HOUSEHOLDS_DEFAULT)]
        batch: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Check, then load a clean extract batch by batch (each whole or nothing); run it again
    /// with the same files to resume after a stop.
    Load {
        dir: PathBuf,
        #[arg(long)]
        errors: Option<PathBuf>,
        #[arg(long, default_value_t = BATCH_HOUSEHOLDS_DEFAULT)]
        batch: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The city's migrations.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Preview a loaded migration's reconciliation (the control totals against what the
    /// register holds of its persons, county by county); kept nowhere: a fund accountant
    /// prepares it in the console and another signs it off.
    Report {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print a migration and its reconciliation as prepared.
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The report of residents not insured (漏保): a household-register file (person_id,
    /// name, region, household_id; .csv or .xlsx) against the insured on --on (default
    /// today); the residents without coverage to --out as CSV. Exit 1 if a row is wrong.
    Missing {
        file: PathBuf,
        #[arg(long)]
        on: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write a synthetic city's legacy extract (the five CSV files) into a directory, with
    /// `--errors` rows planted wrong (their files and lines in planted.log).
    Sample {
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        insured: u64,
        #[arg(long, default_value_t = 0)]
        errors: usize,
        /// The cut-off: the end of this month of the city's year.
        #[arg(long, default_value_t = 6)]
        through: u8,
        #[arg(long, default_value_t = crate::serve::DEMO_SEED)]
        seed: u64,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

pub fn run(command: &MigrateCommand) -> Result<(), String> {
    match command {
        MigrateCommand::Check { dir, errors, batch, store } => runtime()?.block_on(async {
            let app = open(store).await?;
            let files = read_dir(dir)?;
            let check = app.check_migration(&operator(app.policy().region), files, *batch).await.map_err(failed)?;
            print_check(&check);
            finish_check(&check, errors.as_deref())
        }),
        MigrateCommand::Load { dir, errors, batch, store } => runtime()?.block_on(async {
            let app = open(store).await?;
            let files = read_dir(dir)?;
            let bar = ProgressBar::new(0)
                .with_style(ProgressStyle::with_template("{bar:40} {pos}/{len} batches {elapsed} (eta {eta})").map_err(|e| e.to_string())?);
            let progress_bar = bar.clone();
            let progress = move |loaded: u32, total: u32| {
                progress_bar.set_length(u64::from(total));
                progress_bar.set_position(u64::from(loaded));
            };
            let outcome = app.load_migration(&operator(app.policy().region), SOURCE, files, *batch, &progress).await;
            bar.finish_and_clear();
            let (check, record) = outcome.map_err(failed)?;
            print_check(&check);
            finish_check(&check, errors.as_deref())?;
            if let Some(record) = record {
                print_record(&record);
            }
            Ok(())
        }),
        MigrateCommand::List { store } => runtime()?.block_on(async {
            let app = open(store).await?;
            for record in app.migrations(&operator(app.policy().region)).await.map_err(failed)? {
                print_record(&record);
            }
            Ok(())
        }),
        MigrateCommand::Report { id, store } => runtime()?.block_on(async {
            let app = open(store).await?;
            let operator = operator(app.policy().region);
            let record = app.migration(&operator, id).await.map_err(failed)?;
            let preview = app.migration_preview(&operator, id).await.map_err(failed)?;
            print_record(&record);
            println!("  reconciliation as it stands (a preview, kept nowhere):");
            print_lines(&preview);
            match preview.differences().count() {
                0 => println!(
                    "  matches to the fen: a fund accountant prepares it in the console (/console/funds/migrations/{}) and another signs it off",
                    record.id
                ),
                n => println!("  {n} lines differ"),
            }
            Ok(())
        }),
        MigrateCommand::Show { id, store } => runtime()?.block_on(async {
            let app = open(store).await?;
            print_record(&app.migration(&operator(app.policy().region), id).await.map_err(failed)?);
            Ok(())
        }),
        MigrateCommand::Missing { file, on, out, store } => runtime()?.block_on(async {
            let app = open(store).await?;
            let on = match on {
                Some(text) => yibao_domain::parse_date(text).map_err(|e| format!("--on: {e}"))?,
                None => app.today(),
            };
            let size = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
            if size > FILE_BYTES_MAX {
                return Err(format!("{}: {size} bytes; a file has at most {FILE_BYTES_MAX}", file.display()));
            }
            let bytes = std::fs::read(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let report = app.missing_enrolment(&operator(app.policy().region), MigrationFile { name, bytes }, on).await.map_err(failed)?;
            println!("residents without coverage on {}: {} rows read, {} of other counties", report.on, report.rows, report.elsewhere);
            for county in &report.counties {
                println!(
                    "  {}: {} residents, {} insured, {} never enrolled, {} whose coverage ended, {} who died",
                    county.region, county.residents, county.insured, county.never, county.ended, county.died
                );
            }
            if let Some(path) = out {
                std::fs::write(path, report.csv()).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
            }
            if report.errors.is_empty() {
                return Ok(());
            }
            for error in report.errors.iter().take(20) {
                eprintln!("line {}{}: {}", error.line, error.column.as_ref().map_or_else(String::new, |c| format!(", {c}")), error.message);
            }
            Err(format!("{} rows to fix [migration.rows_refused]", report.errors.len()))
        }),
        MigrateCommand::Sample { dir, insured, errors, through, seed, policy } => {
            sample(dir, *insured, *errors, *through, *seed, policy.as_deref())
        }
    }
}

async fn open(args: &StoreArgs) -> Result<App, String> {
    let (location, policy) = args.resolve()?;
    let given = crate::serve::given_pack(policy.as_deref())?;
    let backend = Backend::open(&location, Create::IfMissing).await?;
    App::open_with_policy(Arc::new(backend), &given, None).await.map_err(failed)
}

/// The extract's files: every .csv, .xlsx, .xls or .ods file of `dir`.
fn read_dir(dir: &Path) -> Result<Vec<MigrationFile>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        // Every file that could hold rows is one of the extract's: a file named otherwise
        // (`persons (1).csv`) would be left out, its rows and money with it.
        if !matches!(extension.as_str(), "csv" | "txt" | "xlsx" | "xlsm" | "xls" | "xlsb" | "ods") {
            continue;
        }
        if yibao_import::legacy::LegacyFile::of_name(&name).is_none() {
            return Err(format!(
                "{}: an extract's files are households, persons, contributions, accumulators, employers, institutions, stays and control (.csv, .xlsx); \
                 rename or remove this one [migration.unknown_file]",
                path.display()
            ));
        }
        let size = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?.len();
        if size > FILE_BYTES_MAX {
            return Err(format!("{}: {size} bytes; an extract file has at most {FILE_BYTES_MAX}", path.display()));
        }
        files.push(MigrationFile { name, bytes: std::fs::read(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))? });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn print_check(check: &MigrationCheck) {
    println!("migration {} ({})", check.id, check.files.join(", "));
    for (i, file) in ["households", "persons", "contributions", "accumulators"].iter().enumerate() {
        println!("  {file}: {} rows, {} hold, {} held back with a row to fix", check.rows[i], check.valid[i], check.held_back[i]);
    }
    println!(
        "  employers: {} hold; institutions: {} hold; stays open at the cut-off: {} hold, {} held back",
        check.employers, check.institutions, check.stays, check.stays_held_back
    );
    println!("  {} batches of {} households; {} rows to fix", check.batches, check.batch_households, check.error_count);
}

fn finish_check(check: &MigrationCheck, errors: Option<&Path>) -> Result<(), String> {
    if let Some(path) = errors {
        std::fs::write(path, check.error_file()).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    }
    if check.is_clean() {
        return Ok(());
    }
    for error in check.errors.iter().take(20) {
        let row = &error.row;
        eprintln!(
            "{} line {}{}: {}",
            error.file,
            row.line,
            row.column.as_ref().map_or_else(String::new, |c| format!(", {c}")),
            row.message
        );
    }
    let more = check.error_count.saturating_sub(20);
    let whole = if more > 0 {
        format!(" ({more} more{})", if errors.is_some() { " in the error file" } else { "; --errors FILE writes them all" })
    } else {
        String::new()
    };
    Err(format!("{} rows to fix{whole}: nothing was loaded [migration.rows_refused]", check.error_count))
}

fn print_record(record: &MigrationRecord) {
    println!(
        "migration {} of {}: {}/{} batches loaded, {} households, {} persons; started by {} at {}",
        record.id,
        record.city,
        record.batches_loaded,
        record.batches,
        record.households,
        record.persons,
        record.started_by,
        record.started_at
    );
    let Some(report) = &record.report else { return };
    println!("  reconciliation prepared by {} at {}; checksum {}", report.prepared_by, report.prepared_at, report.checksum);
    print_lines(report);
    match (&report.signed_by, report.differences().count()) {
        (Some(by), _) => println!("  signed off by {by} at {}", report.signed_at.map(|t| t.to_string()).unwrap_or_default()),
        (None, 0) => println!("  matches to the fen: awaiting another person's sign-off in the console"),
        (None, n) => println!("  {n} lines differ: not to be signed off"),
    }
}

fn print_lines(report: &yibao_app::migration::Reconciliation) {
    for line in &report.lines {
        let figure = |n: i64| if line.is_amount() { yibao_app::migration::yuan_text(n) } else { n.to_string() };
        let mark = if line.difference() == 0 { "" } else { "  ≠" };
        println!("  {} {:<48} legacy {:>18} loaded {:>18}{mark}", line.region, line.measure, figure(line.legacy), figure(line.loaded));
    }
}

fn sample(dir: &Path, insured: u64, errors: usize, through: u8, seed: u64, policy: Option<&Path>) -> Result<(), String> {
    let given = crate::serve::given_pack(policy)?;
    let policy = yibao_policy::Policy::from_toml(&given.label, &given.text).map_err(|e| e.to_string())?;
    let config = yibao_synth::Config { year: crate::serve::DEMO_YEAR, ..yibao_synth::Config::new(insured, seed) };
    let city = yibao_synth::City::new(config).map_err(|e| e.to_string())?;
    let files = yibao_synth::legacy::legacy_extract(&city, &policy, through.clamp(1, 12), errors);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text) in [
        ("households.csv", &files.households),
        ("persons.csv", &files.persons),
        ("contributions.csv", &files.contributions),
        ("accumulators.csv", &files.accumulators),
        ("employers.csv", &files.employers),
        ("institutions.csv", &files.institutions),
        ("stays.csv", &files.stays),
        ("control.csv", &files.control),
    ] {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    let mut planted = String::from("file,line,kind\n");
    for (file, line, kind) in &files.planted {
        planted.push_str(&format!("{file},{line},{kind}\n"));
    }
    std::fs::write(dir.join("planted.log"), planted).map_err(|e| e.to_string())?;
    println!("{}: {} persons, {} errors planted (planted.log)", dir.display(), files.persons_written, files.planted.len());
    Ok(())
}
