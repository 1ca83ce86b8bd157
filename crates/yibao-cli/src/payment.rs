//! `yibao payment`: check payment packs, and print a stored year's payment of institutions
//! (the region's figures, or one institution's statement month by month) as a table or CSV.

use std::path::PathBuf;

use clap::Subcommand;
use yibao_app::payment::PaymentPack;
use yibao_domain::Fen;

use crate::fund::{StoreArgs, failed, open, operator, runtime};

#[derive(Subcommand, Debug)]
pub enum PaymentCommand {
    /// Load and validate payment packs; print every problem with its place and reason.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The payment year of the stored city: budget, point value, and each institution's
    /// points, bill, clearing and balance; with --institution, its statement month by month.
    Year {
        #[arg(long)]
        year: i32,
        /// One institution's statement.
        #[arg(long)]
        institution: Option<String>,
        /// The payment pack [default: the demo city's, with the demo policy].
        #[arg(long, env = "YIBAO_PAYMENT_PACK")]
        payment_pack: Option<PathBuf>,
        /// CSV (UTF-8, a header row) instead of a table.
        #[arg(long)]
        csv: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(command: &PaymentCommand) -> Result<(), String> {
    match command {
        PaymentCommand::Check { files } => check(files),
        PaymentCommand::Year { year, institution, payment_pack, csv, store } => {
            year_command(*year, institution.as_deref(), payment_pack.as_deref(), *csv, store)
        }
    }
}

fn check(files: &[PathBuf]) -> Result<(), String> {
    let mut problems = Vec::new();
    for path in files {
        let text = match crate::files::read(path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        match PaymentPack::parse(&text) {
            Ok(pack) => {
                let years: Vec<String> = pack
                    .years
                    .iter()
                    .map(|y| {
                        format!(
                            "{} ({} groups, {} per-diem rates{})",
                            y.year,
                            y.dip.as_ref().map_or(0, |d| d.groups.len()),
                            y.per_diem.len(),
                            if y.capitation.is_some() { ", capitation" } else { "" }
                        )
                    })
                    .collect();
                println!("{}: ok — {} ({}), region {}, years {}", path.display(), pack.id, pack.name, pack.region, years.join(", "));
            }
            Err(errors) => problems.extend(errors.0.iter().map(|e| format!("{}: {e}", path.display()))),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

fn year_command(year: i32, institution: Option<&str>, pack: Option<&std::path::Path>, csv: bool, store: &StoreArgs) -> Result<(), String> {
    runtime()?.block_on(async {
        let app = open(store).await?;
        let pack = crate::serve::payment_pack(pack, &app.policy())?
            .ok_or("no payment pack: pass --payment-pack (the demo city's is the default only with the demo policy)")?;
        let app = app.with_payment_pack(pack);
        let principal = operator(app.policy().region);
        match institution {
            Some(code) => {
                let statement = app.payment_statement(&principal, year, code).await.map_err(failed)?;
                let i = &statement.institution;
                if !csv {
                    println!(
                        "{} {} — payment year {year}{}: point value {} (provisional {}), {} cases, {} points",
                        i.institution,
                        statement.name,
                        if statement.provisional { " (provisional)" } else { "" },
                        statement.point_value_yuan.as_deref().unwrap_or("-"),
                        statement.provisional_value_yuan.as_deref().unwrap_or("-"),
                        i.cases,
                        i.points
                    );
                }
                let mut out = String::from("month,cases,points,billed,provisional,advance,deposit,capitation,paid\n");
                for m in &i.months {
                    out.push_str(&format!(
                        "{},{},{},{},{},{},{},{},{}\n",
                        m.month, m.cases, m.points, m.billed, m.provisional, m.advance, m.deposit, m.capitation, m.paid
                    ));
                }
                print!("{out}");
                if !csv {
                    println!(
                        "earned {} − deposit kept {} − deductions {} = payable {}; paid in the year {}; balance {} ({} against the bill of {})",
                        i.earned,
                        i.deposit_withheld - i.deposit_returned,
                        i.deductions,
                        i.payable,
                        i.paid_in_year,
                        i.balance,
                        signed(i.against_billed),
                        i.billed
                    );
                }
            }
            None => {
                let view = app.payment_year(&principal, year).await.map_err(failed)?;
                let r = &view.result;
                if !csv {
                    println!(
                        "payment year {year} ({}){}: income {} − reserve {} = budget {}; other methods {}; points pool {} over {} points: {} yuan a point (provisional {}); over budget {}",
                        view.pack_id,
                        if view.provisional { " (provisional)" } else { "" },
                        r.fund_income,
                        r.risk_reserve,
                        r.budget,
                        r.other_methods,
                        r.points_pool,
                        r.points,
                        r.point_value_yuan.as_deref().unwrap_or("-"),
                        r.provisional_value_yuan.as_deref().unwrap_or("-"),
                        signed(r.over_budget)
                    );
                }
                let mut out = String::from("institution,name,cases,points,billed,per_diem,fee_for_service,capitation,earned,deductions,payable,paid_in_year,balance,against_billed\n");
                for i in &r.institutions {
                    let name = view.names.get(&i.institution).map_or("", String::as_str).replace([',', '"', '\n'], " ");
                    out.push_str(&format!(
                        "{},{name},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                        i.institution,
                        i.cases,
                        i.points,
                        i.billed,
                        i.per_diem,
                        i.fee_for_service,
                        i.capitation,
                        i.earned,
                        i.deductions,
                        i.payable,
                        i.paid_in_year,
                        i.balance,
                        i.against_billed
                    ));
                }
                print!("{out}");
            }
        }
        Ok(())
    })
}

fn signed(fen: Fen) -> String {
    if fen.is_negative() { fen.to_string() } else { format!("+{fen}") }
}
