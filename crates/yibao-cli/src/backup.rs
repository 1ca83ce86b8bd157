//! `yibao backup` and `yibao restore`: the SQLite store copied while the server runs and
//! put back, each copy checked as `yibao fund check` and `yibao audit verify` check a store
//! (`yibao_app::backup`).

use std::path::{Path, PathBuf};
use yibao_app::backup::{CopyOptions, Verified};
use yibao_app::policy_versions::GivenPack;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The server's configuration file (`yibao serve --config`): its data directory and
    /// policy pack, unless given here.
    #[arg(long, env = "YIBAO_CONFIG")]
    config: Option<PathBuf>,
    /// The SQLite data directory to back up (holds yibao.db); a server may be running on it
    /// [default: ./yibao-data].
    #[arg(long, env = "YIBAO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The backup file to write; it must not exist.
    #[arg(long)]
    out: PathBuf,
    /// The policy pack the books are checked under (its `fund.*` keys), for a store older
    /// than recorded pack versions; a store with versions is checked under its own.
    /// Default: the demo city's, as `yibao serve` uses.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Pages copied per step of the online backup (4 KiB each by default).
    #[arg(long, default_value_t = CopyOptions::default().pages_per_step, value_parser = clap::value_parser!(u32).range(1..))]
    pages_per_step: u32,
    /// Pause between two steps, in milliseconds.
    #[arg(long, default_value_t = CopyOptions::default().pause_ms)]
    pause_ms: u64,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The backup file written by `yibao backup`.
    #[arg(long)]
    from: PathBuf,
    /// The server's configuration file (`yibao serve --config`): its data directory and
    /// policy pack, unless given here.
    #[arg(long, env = "YIBAO_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory to restore into (created if missing) [default: ./yibao-data].
    #[arg(long, env = "YIBAO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Restore over a database the data directory already holds (it is renamed aside and
    /// kept; the server must be stopped).
    #[arg(long)]
    force: bool,
    /// The policy pack the books are checked under, for a store older than recorded pack
    /// versions (a store with versions is checked under its own). Default: the demo city's.
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// The SQLite data directory and the pack a backup or restore works with: the flags, then
/// the configuration file. A configuration on PostgreSQL is refused: it is backed up with
/// PostgreSQL's own tools.
fn sqlite_store(config: Option<&Path>, data_dir: Option<&PathBuf>, policy: Option<&PathBuf>) -> Result<(PathBuf, GivenPack), String> {
    let file = crate::config::ConfigFile::read_or_default(config)?;
    match file.store(None, data_dir.cloned())? {
        yibao_app::StoreLocation::DataDir(dir) => {
            let given = crate::serve::given_pack(policy.or(file.policy.as_ref()).map(PathBuf::as_path))?;
            Ok((dir, given))
        }
        yibao_app::StoreLocation::Url(_) => Err(
            "the configuration names a PostgreSQL database: back it up with pg_basebackup and WAL archiving (README, Backup and restore); yibao backup copies SQLite data directories".to_owned(),
        ),
    }
}

pub fn backup(args: &BackupArgs) -> Result<(), String> {
    let (data_dir, policy) = sqlite_store(args.config.as_deref(), args.data_dir.as_ref(), args.policy.as_ref())?;
    let options = CopyOptions { pages_per_step: args.pages_per_step, pause_ms: args.pause_ms };
    let bar = indicatif::ProgressBar::new(0).with_message("pages copied");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let progress = move |copied: u64, total: u64| {
        shown.set_length(total);
        shown.set_position(copied);
    };
    let outcome = crate::fund::runtime()?
        .block_on(yibao_app::backup::backup(&data_dir, &args.out, options, &policy, progress))
        .map_err(crate::fund::failed)?;
    bar.finish_and_clear();
    println!(
        "backup of {} written to {}: {} pages of {} bytes ({} bytes) in {} ms",
        data_dir.join(yibao_app::DATABASE_FILE).display(),
        outcome.file.display(),
        outcome.copied.pages,
        outcome.copied.page_size_bytes,
        outcome.size_bytes,
        outcome.copy_ms
    );
    report(&outcome.verified).map_err(|findings| {
        format!(
            "the backup {} does NOT verify [backup.not_verified] (kept: a faithful copy of a store that does not verify; `yibao restore` refuses it)\n{findings}",
            outcome.file.display()
        )
    })
}

pub fn restore(args: &RestoreArgs) -> Result<(), String> {
    let (data_dir, policy) = sqlite_store(args.config.as_deref(), args.data_dir.as_ref(), args.policy.as_ref())?;
    let outcome = crate::fund::runtime()?
        .block_on(yibao_app::backup::restore(&args.from, &data_dir, args.force, &policy))
        .map_err(crate::fund::failed)?;
    report(&outcome.verified)?;
    if let Some(aside) = &outcome.set_aside {
        println!("the database it replaces is kept as {}", aside.display());
    }
    println!("restored {} into {}", args.from.display(), outcome.database.display());
    Ok(())
}

/// Prints the copy's checks as `fund check` and `audit verify` print them; the findings
/// when it does not verify.
fn report(verified: &Verified) -> Result<(), String> {
    let books = crate::fund::books_report(&verified.books);
    let audit = crate::audit::audit_report(&verified.audit, None);
    for line in [&books, &audit].into_iter().filter_map(|r| r.as_ref().ok()) {
        println!("{line}");
    }
    println!("checked in {} ms", verified.elapsed_ms);
    let findings: Vec<String> = [books, audit].into_iter().filter_map(Result::err).collect();
    if findings.is_empty() { Ok(()) } else { Err(findings.join("\n")) }
}
