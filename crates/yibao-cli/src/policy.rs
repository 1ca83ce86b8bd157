//! `yibao policy versions|show|propose`: the city's pack versions from the operator's
//! machine (issue 19). The command line proposes and reads; a version is approved or
//! rejected only by a signed-in policy officer (console or API), never by the operator.

use std::path::PathBuf;

use clap::Subcommand;
use yibao_app::App;
use yibao_app::policy_versions::{PolicyVersion, VersionView};

use crate::fund::{StoreArgs, failed, open, operator, runtime};

#[derive(Subcommand, Debug)]
pub enum VersionCommand {
    /// List the city's pack versions, newest first; the highest approved is in force.
    Versions {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print one version: who proposed and decided it, what it changes against the version
    /// it was proposed on, and with --text its whole pack.
    Show {
        version: u32,
        #[command(flatten)]
        store: StoreArgs,
        /// Also print the pack's text.
        #[arg(long)]
        text: bool,
    },
    /// Propose FILE as the next version: loaded and checked, its changes against the version
    /// in force printed, then recorded for a policy officer to approve (with --dry-run,
    /// only checked and printed).
    Propose {
        file: PathBuf,
        /// Why: the notice it implements (at most 500 characters).
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `text` for a terminal: a control character (an escape that would clear the screen or
/// hide the lines after it) is shown escaped, never sent.
fn shown(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// One version as a line: number, status, pack id, who proposed and who decided.
fn line(v: &PolicyVersion, in_force: Option<u32>) -> String {
    let marker = if Some(v.version) == in_force { "  <- in force" } else { "" };
    let decided =
        v.decided_by.as_ref().map_or_else(String::new, |who| format!(", decided by {who} at {}", v.decided_at.as_deref().unwrap_or("-")));
    shown(&format!(
        "v{:<4} {:<9} {}  proposed by {} at {}{decided}{marker}",
        v.version,
        v.status.as_str(),
        v.pack_id,
        v.proposed_by,
        v.proposed_at
    ))
}

/// The changes of a version, one per line, those reaching back before today marked.
fn changes(view: &VersionView) -> String {
    if view.changes.is_empty() {
        return "no changes (the first version: where the records start)".to_owned();
    }
    let count = view.changes.len();
    let plural = if count == 1 { "" } else { "s" };
    let mut out = format!("{count} change{plural}, {} reaching back before {}:\n", view.reaching_back(), view.today);
    for c in &view.changes {
        let from = c.from.map_or_else(|| "at once".to_owned(), |d| format!("from {d}"));
        let back = if c.reaches_back(view.today) { " [reaches back]" } else { "" };
        out.push_str(&format!(
            "  {} {} ({from}){back}\n    before: {}\n    after:  {}\n",
            c.kind.as_str(),
            shown(&c.subject),
            shown(c.before.as_deref().unwrap_or("-")),
            shown(c.after.as_deref().unwrap_or("-"))
        ));
    }
    out
}

fn with_app<T>(store: &StoreArgs, work: impl AsyncFnOnce(&App) -> Result<T, String>) -> Result<T, String> {
    runtime()?.block_on(async {
        let app = open(store).await?;
        work(&app).await
    })
}

pub fn run(command: &VersionCommand) -> Result<(), String> {
    match command {
        VersionCommand::Versions { store } => with_app(store, async |app| {
            let versions = app.policy_versions(&operator(app.policy().region)).await.map_err(failed)?;
            if versions.is_empty() {
                println!("no recorded versions: the store has not been served since it was made (yibao serve installs version 1)");
            }
            for v in &versions {
                println!("{}", line(v, app.policy().version));
            }
            Ok(())
        }),
        VersionCommand::Show { version, store, text } => with_app(store, async |app| {
            let view = app.policy_version(&operator(app.policy().region), *version).await.map_err(failed)?;
            println!("{}", line(&view.record, view.in_force));
            println!("note: {}", shown(&view.record.note));
            if let Some(note) = &view.record.decision_note {
                println!("decision: {}", shown(note));
            }
            print!("{}", changes(&view));
            if *text {
                // The pack's own lines, each shown safely.
                for line in view.text.lines() {
                    println!("{}", shown(line));
                }
            }
            Ok(())
        }),
        VersionCommand::Propose { file, note, dry_run, store } => {
            let text = crate::files::read(file)?;
            with_app(store, async |app| {
                let principal = operator(app.policy().region);
                let view = if *dry_run {
                    app.preview_policy(&principal, &text).await.map_err(failed)?
                } else {
                    app.propose_policy(&principal, "cli", &text, note).await.map_err(failed)?
                };
                if *dry_run {
                    println!("{} checked against version {} in force; nothing recorded (--dry-run)", file.display(), said(view.in_force));
                } else {
                    println!(
                        "proposed as version {} against version {} in force: a policy officer other than you approves it in the console or the API",
                        view.record.version,
                        said(view.in_force)
                    );
                }
                print!("{}", changes(&view));
                Ok(())
            })
        }
    }
}

fn said(version: Option<u32>) -> String {
    version.map_or_else(|| "-".to_owned(), |v| v.to_string())
}
