//! `yibao his-sim`: a hospital's day through the national interface against a running
//! server (issue 14), every message printed with `--verbose`; exit 1 at the first answer a
//! hospital would not expect, or when the day does not reconcile to the fen.

use clap::Args;
use yibao_fsi::his::{His, Patient};

#[derive(Debug, Args)]
pub struct HisSimArgs {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long, env = "YIBAO_URL")]
    url: String,
    /// The hospital's code (H + region + serial).
    #[arg(long)]
    institution: String,
    /// The hospital's API key.
    #[arg(long, env = "YIBAO_API_KEY")]
    key: String,
    /// The patient's national ID.
    #[arg(long)]
    person: String,
    /// The patient's card number.
    #[arg(long)]
    card: String,
    /// A second hospital that the inpatient stay is referred to (code), with --refer-key.
    #[arg(long, requires = "refer_key")]
    refer_to: Option<String>,
    /// The second hospital's API key.
    #[arg(long)]
    refer_key: Option<String>,
    /// Print every message and answer.
    #[arg(long)]
    verbose: bool,
}

pub fn his_sim(args: &HisSimArgs) -> Result<(), String> {
    let runtime = crate::fund::runtime()?;
    runtime.block_on(async {
        let mut hospital = His::new(&args.url, &args.institution, &args.key);
        hospital.verbose = args.verbose;
        let mut referred = match (&args.refer_to, &args.refer_key) {
            (Some(code), Some(key)) => {
                let mut other = His::new(&args.url, code, key);
                other.verbose = args.verbose;
                Some(other)
            }
            _ => None,
        };
        let patient = Patient { id: args.person.clone(), card: args.card.clone() };
        let today = time::OffsetDateTime::now_utc().to_offset(yibao_app::interface::LOCAL_OFFSET).date();
        println!("his-sim: a day at {} for {} ({today}, Beijing time)", args.institution, args.person);
        let report = yibao_fsi::his::day(&mut hospital, referred.as_mut(), &patient, today).await?;
        println!(
            "his-sim: done, {} steps; the day reconciles to the fen: {} settlement(s) net, {} yuan billed, {} yuan from the funds",
            report.steps.len(),
            report.books.count,
            report.books.medfee_sumamt,
            report.books.fund_pay_sumamt
        );
        Ok(())
    })
}
