//! `yibao catalogue load|loads`: the dated national catalogue from the operator's machine
//! (issue 13). The file is read here; checking, merging and writing are the application's
//! (`App::load_catalogue`), as for every other edge.

use std::path::PathBuf;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::fund::{StoreArgs, failed, open, operator, runtime};

/// Largest catalogue file read (the national lists together are about 30 MB as xlsx).
const FILE_BYTES_MAX: u64 = yibao_import::FILE_BYTES_MAX as u64;

#[derive(Subcommand, Debug)]
pub enum CatalogueCommand {
    /// Propose a national catalogue file (CSV in UTF-8 or GBK, or xlsx/xls/ods; columns as
    /// in docs/catalogue.md): every row checked, merged into the catalogue and checked whole;
    /// a clean file is kept as a proposal that a policy officer approves (the console's
    /// Catalogue page, or the API), and is then written whole. Exit 1 if any row is wrong
    /// (the rows to fix go to --errors).
    Load {
        file: PathBuf,
        /// The document that published the list (a notice's number and title): every
        /// settlement that reads an item of it cites it.
        #[arg(long)]
        cite: String,
        /// Check and count only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the rows to fix to this CSV file (line, column, key, message).
        #[arg(long)]
        errors: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the latest loads, newest first.
    Loads {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(command: &CatalogueCommand) -> Result<(), String> {
    match command {
        CatalogueCommand::Load { file, cite, dry_run, errors, store } => {
            let size = std::fs::metadata(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?.len();
            if size > FILE_BYTES_MAX {
                return Err(format!("{}: {size} bytes; a catalogue file has at most {FILE_BYTES_MAX}", file.display()));
            }
            let bytes = std::fs::read(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
            let name = file.display().to_string();
            runtime()?.block_on(async {
                let app = open(store).await?;
                let spinner = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").map_err(|e| e.to_string())?);
                spinner.set_message(format!("{} {name}", if *dry_run { "checking" } else { "checking and loading" }));
                spinner.enable_steady_tick(std::time::Duration::from_millis(200));
                let report = app.load_catalogue(&operator(app.policy().region), "cli", &name, bytes, cite, *dry_run).await.map_err(failed);
                spinner.finish_and_clear();
                let report = report?;
                let load = &report.load;
                println!(
                    "{name}: {} rows; {} versions new, {} replaced, {} unchanged, {} withdrawn ({} withdrawal rows); {} rows of other regions skipped; {} versions held",
                    load.rows, load.added, load.replaced, load.unchanged, load.removed, load.withdrawn, load.elsewhere, report.versions_held
                );
                if !load.columns_absent.is_empty() {
                    println!("columns not in the file, read as empty on every row: {}", load.columns_absent.join(", "));
                }
                if let Some(path) = errors {
                    std::fs::write(path, report.error_file()).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
                }
                if report.error_count > 0 {
                    for row in report.errors.iter().take(20) {
                        eprintln!("line {}{}: {}", row.line, row.column.as_ref().map_or_else(String::new, |c| format!(", {c}")), row.message);
                    }
                    let more = report.error_count.saturating_sub(20);
                    let whole = if more > 0 { format!(" ({more} more{})", if errors.is_some() { " in the error file" } else { "; --errors FILE writes them all" }) } else { String::new() };
                    return Err(format!("{} rows to fix{whole}: nothing was loaded [catalogue.rows_refused]", report.error_count));
                }
                match &report.proposal {
                    Some(proposal) => println!(
                        "proposed as catalogue proposal {}: a policy officer approves it (the console's Catalogue page, or POST /api/catalogue/proposals/{}/approval), and settlements read these versions from then on",
                        proposal.seq, proposal.seq
                    ),
                    None => println!("nothing written (--dry-run)"),
                }
                Ok(())
            })
        }
        CatalogueCommand::Loads { store } => runtime()?.block_on(async {
            let app = open(store).await?;
            let loads = app.catalogue_loads(&operator(app.policy().region)).await.map_err(failed)?;
            if loads.is_empty() {
                println!("no catalogue loaded: claims read the pack's own items only");
            }
            for record in &loads {
                let l = &record.load;
                println!(
                    "#{:<4} {} by {}: {} ({} rows: {} new, {} replaced, {} unchanged) cites {}",
                    record.seq, record.loaded_at, record.loaded_by, l.file, l.rows, l.added, l.replaced, l.unchanged, l.cite
                );
            }
            Ok(())
        }),
    }
}
