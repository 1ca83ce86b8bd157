//! `yibao`: the one binary. Thin: parses arguments, reads files, calls the pure crates and
//! prints the results. Exit codes: 0 success; 1 the input was refused (stderr says why,
//! with a stable code); 2 usage error.

mod audit;
mod backup;
mod catalogue;
mod config;
mod demo;
mod files;
mod fund;
mod his_sim;
mod migrate;
mod payment;
mod policy;
mod serve;
mod synth;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use yibao_engine::{Explain, Language, settle};

#[derive(Parser, Debug)]
#[command(name = "yibao", version, about = "Yibao (医保): a city's public basic medical and maternity insurance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the platform: the HTTP API on SQLite in a data directory (created and loaded
    /// with the demo city on first start), or on PostgreSQL with --database-url.
    Serve(serve::ServeArgs),
    /// Settle the demo city's example claims with its embedded policy pack: no files, no set-up.
    Demo {
        /// Also print each settlement's step-by-step explanation.
        #[arg(long)]
        explain: bool,
    },
    /// Policy packs.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Paying institutions (R-PAY-1): check payment packs; a stored year's payment of
    /// institutions (DIP points, per diem, capitation, clearing) and their statements.
    Payment {
        #[command(subcommand)]
        command: payment::PaymentCommand,
    },
    /// The dated national catalogue (医保目录): load the national list's files.
    Catalogue {
        #[command(subcommand)]
        command: catalogue::CatalogueCommand,
    },
    /// Go-live: a legacy system's extract checked, loaded in resumable batches, reconciled
    /// and signed off by two people (docs/migration.md).
    Migrate {
        #[command(subcommand)]
        command: migrate::MigrateCommand,
    },
    /// The monthly pooling run (R-FND-2).
    Pool {
        #[command(subcommand)]
        command: fund::PoolCommand,
    },
    /// The fund books: check every invariant, reports as CSV, receipts.
    Fund {
        #[command(subcommand)]
        command: fund::FundCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy the SQLite store into a new file while the server runs (SQLite's online
    /// backup), then check the copy as `fund check` and `audit verify` do; exit 1 if it
    /// does not verify.
    Backup(backup::BackupArgs),
    /// Put a backup in place as a data directory's database, after checking it; a
    /// database already there is refused, or with --force renamed aside and kept.
    Restore(backup::RestoreArgs),
    /// Write a synthetic city (insured persons, designated institutions and a year of
    /// claims) to CSV files, one pair per block of persons, and/or into an empty store
    /// (--data-dir, --database-url), its claims settled there with --settle.
    Synth(synth::SynthArgs),
    /// Simulate a synthetic city's year in memory: enrolment, contributions, every claim
    /// settled, the fund books, monthly pooling and the year end; print the statements.
    Simulate(synth::SimulateArgs),
    /// Drive a hospital's day through the national interface (/fsi/api) of a running
    /// server: an outpatient visit, an inpatient stay, a referral, a cancellation and a
    /// reversal by msgid, then the day's reconciliation; exit 1 at the first unexpected answer.
    HisSim(his_sim::HisSimArgs),
    /// Settle one claim (one-bill settlement through every layer) and print it as JSON.
    Settle {
        /// The policy pack (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// The claim (JSON), as a hospital submits it.
        #[arg(long)]
        claim: PathBuf,
        /// The person: {"coverage": {…}, "accumulators": {…}} (JSON). Without it, a
        /// resident of the pack's city in its lowest tier, with nothing used this year.
        #[arg(long)]
        person: Option<PathBuf>,
        /// After the JSON, print the step-by-step explanation.
        #[arg(long)]
        explain: bool,
        /// Language of the explanation.
        #[arg(long, value_enum, default_value_t = Lang::Both)]
        lang: Lang,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Load and validate packs; print every problem with its file, place and reason.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    #[command(flatten)]
    Versions(policy::VersionCommand),
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute every hash of every region's audit chain; exit 1 naming each broken entry.
    /// With --anchor, also check that every entry an earlier `audit anchor` recorded is
    /// still there, unchanged (a chain rewritten with its head is found only this way).
    Verify {
        #[command(flatten)]
        store: audit::AuditStore,
        /// An anchor file written by `yibao audit anchor`.
        #[arg(long)]
        anchor: Option<PathBuf>,
    },
    /// Verify the log, then print each region's chain end (region, entry, hash) as JSON, for
    /// the bureau to keep outside the system (signed, printed, or sent to the auditor).
    Anchor {
        #[command(flatten)]
        store: audit::AuditStore,
        /// Write the anchor to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Lang {
    Zh,
    En,
    Both,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { explain } => demo::run(explain),
        Command::Serve(args) => serve::run(args),
        Command::Policy { command: PolicyCommand::Check { files } } => policy_check(&files),
        Command::Policy { command: PolicyCommand::Versions(command) } => policy::run(&command),
        Command::Payment { command } => payment::run(&command),
        Command::Audit { command: AuditCommand::Verify { store, anchor } } => audit::verify(&store, anchor.as_deref()),
        Command::Audit { command: AuditCommand::Anchor { store, out } } => audit::anchor(&store, out.as_deref()),
        Command::Settle { policy, claim, person, explain, lang } => settle_command(&policy, &claim, person.as_deref(), explain, lang),
        Command::Catalogue { command } => catalogue::run(&command),
        Command::Migrate { command } => migrate::run(&command),
        Command::Pool { command } => fund::pool(&command),
        Command::Fund { command } => fund::fund(&command),
        Command::Backup(args) => backup::backup(&args),
        Command::Restore(args) => backup::restore(&args),
        Command::Synth(args) => synth::synth(&args),
        Command::Simulate(args) => synth::simulate_command(&args),
        Command::HisSim(args) => his_sim::his_sim(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // A message may quote a database URL or a configuration line: never its password.
            eprintln!("{}", yibao_app::mask_secrets(&message));
            ExitCode::FAILURE
        }
    }
}

fn policy_check(paths: &[PathBuf]) -> Result<(), String> {
    let mut problems = Vec::new();
    for path in paths {
        match files::load_policy(path) {
            Ok(policy) => {
                let entries: usize = yibao_policy::PARAMS.iter().map(|p| policy.entries(p.key).len()).sum();
                println!(
                    "{}: ok — {} ({}), region {}, from {}, {} parameter entries, {} catalogue items, {} chronic diseases, {} single-disease prices, {} special drugs; residents' insutype {}",
                    path.display(),
                    policy.id,
                    policy.name,
                    policy.region,
                    policy.effective_from,
                    entries,
                    policy.catalogue().count(),
                    policy.chronic_diseases.len(),
                    policy.single_diseases.len(),
                    policy.special_drugs.len(),
                    policy.resident_insutype.code()
                );
            }
            Err(message) => problems.push(message),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

fn settle_command(
    policy_path: &std::path::Path,
    claim_path: &std::path::Path,
    person_path: Option<&std::path::Path>,
    explain: bool,
    lang: Lang,
) -> Result<(), String> {
    let policy = files::load_policy(policy_path)?;
    let claim = files::load_claim(claim_path)?;
    let person = match person_path {
        Some(path) => files::load_person(path)?,
        None => {
            let person = files::default_person(&policy);
            eprintln!(
                "no --person: settling for a {} of {} in tier {}, with nothing used this year",
                person.coverage.scheme,
                person.coverage.region,
                person.coverage.tier_history.as_ref().map_or_else(|| "-".to_owned(), |h| h.initial.to_string())
            );
            person
        }
    };
    let accumulators = person.accumulators.unwrap_or_default();
    let settlement = settle(&policy, &claim, &person.coverage, &accumulators, if explain { Explain::On } else { Explain::Off })
        .map_err(|e| format!("{}: refused under {} [{}]: {e}", claim_path.display(), policy_path.display(), e.code()))?;
    println!("{}", serde_json::to_string_pretty(&settlement).map_err(|e| e.to_string())?);
    if explain {
        for language in match lang {
            Lang::Zh => &[Language::Zh][..],
            Lang::En => &[Language::En][..],
            Lang::Both => &[Language::Zh, Language::En][..],
        } {
            println!();
            print!("{}", settlement.render_explanation(*language));
        }
    }
    Ok(())
}
