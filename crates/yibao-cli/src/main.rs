//! `yibao`: the one binary. Thin: parses arguments, reads files, calls the pure crates,
//! prints results. Exit codes: 0 success, 1 the input was refused (the message says why),
//! 2 usage error (clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use yibao_policy::Policy;

#[derive(Parser, Debug)]
#[command(name = "yibao", version, about = "Yibao (医保): a city's public medical and maternity insurance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Policy packs.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Load and validate packs; print every problem with its file, place and reason.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy { command: PolicyCommand::Check { files } } => policy_check(&files),
    }
}

fn load_policy(path: &PathBuf) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    Policy::from_toml(&path.display().to_string(), &text).map_err(|e| e.to_string())
}

fn policy_check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for path in files {
        match load_policy(path) {
            Ok(policy) => {
                let params: usize = yibao_policy::PARAMS.iter().map(|p| policy.entries(p.key).len()).sum();
                println!(
                    "{}: ok — {} ({}), region {}, from {}, {} parameter entries, {} catalogue items, {} chronic diseases",
                    path.display(),
                    policy.id,
                    policy.name,
                    policy.region,
                    policy.effective_from,
                    params,
                    policy.catalogue().count(),
                    policy.chronic_diseases.len()
                );
            }
            Err(message) => {
                failed = true;
                eprintln!("{message}");
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
