//! `yibao pool run` and `yibao fund check|report|receipt`: the fund books from the command
//! line, on the SQLite data directory or a PostgreSQL database (R-FND-1…4).

use std::path::{Path, PathBuf};

use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use time::Date;
use yibao_app::books::{FundScheme, YearCloseInput, YearMonth};
use yibao_app::{App, AppError, Backend, Create, FundReceipt, Principal, StoreLocation};
use yibao_domain::{Fen, RegionCode};
use yibao_store::ReceiptKind;

/// Where the books are.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// The server's configuration file (`yibao serve --config`): its store and policy pack,
    /// unless given here.
    #[arg(long, env = "YIBAO_CONFIG")]
    pub config: Option<PathBuf>,
    /// The SQLite data directory (holds yibao.db) [default: ./yibao-data].
    #[arg(long, env = "YIBAO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database instead.
    #[arg(long, env = "YIBAO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The policy pack in force (its `fund.*` keys: sweep day, levy ratio, deficit share,
    /// warning thresholds). Default: the configuration file's, else the demo city's, as
    /// `yibao serve` uses.
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

impl StoreArgs {
    /// The store and the pack these arguments name, the configuration file filling in what
    /// they leave out.
    pub fn resolve(&self) -> Result<(StoreLocation, Option<PathBuf>), String> {
        let file = crate::config::ConfigFile::read_or_default(self.config.as_deref())?;
        let location = file.store(self.database_url.clone(), self.data_dir.clone())?;
        Ok((location, self.policy.clone().or(file.policy)))
    }
}

#[derive(Subcommand, Debug)]
pub enum PoolCommand {
    /// Run a month's pooling (统收统支, R-FND-2): every county's income swept to the city
    /// fiscal special account, each county's expenditure paid down, each payee paid. A month
    /// runs once; running it again prints the first run and changes nothing.
    Run {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// The day of the month the run is dated; default the pack's `fund.sweep_day`, else
        /// the month's last day.
        #[arg(long)]
        day: Option<u8>,
        /// The city (default: the only city with books).
        #[arg(long)]
        city: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum FundCommand {
    /// Verify every ledger invariant over the stored books; exit 1 naming each breach.
    Check {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Close a year (R-FND-4, R-FND-5): the adjustment-fund levy on what each unit
    /// collected, the deficit waterfall (own surplus, adjustment fund, city and county
    /// finance), each fund's indicators and warnings. A year closes once.
    Close {
        #[arg(long)]
        year: i32,
        /// The levy's share of collected pooled income, e.g. 10%; default the pack's
        /// `fund.adjustment_levy_ratio`, else 10%.
        #[arg(long)]
        levy: Option<String>,
        /// City finance's share of a deficit left to finance when the county met its
        /// targets; default the pack's `fund.deficit_city_share`, else 50%.
        #[arg(long)]
        city_share: Option<String>,
        #[arg(long)]
        city: Option<String>,
        /// Show what the close would do as the books stand, and do nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Credit each fund the interest on its special account's daily balance over a period
    /// at the annual rate in force (R-SCH-2). Crediting the same period again changes nothing.
    Interest {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// The annual rate, e.g. 1.5%.
        #[arg(long)]
        rate: String,
        #[arg(long)]
        city: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// A fund report as CSV: the statement (movements by fund, unit and reason over a
    /// period) or the trial balance (every account's totals and balance, fund totals).
    Report {
        #[arg(long, value_enum, default_value_t = ReportKind::Statement)]
        kind: ReportKind,
        /// First day, YYYY-MM-DD (statement).
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (statement).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        city: Option<String>,
        /// Write the CSV here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Book a receipt into a fund's special account: its opening balance when the books
    /// start (R-SYS-3), or an advance from city finance (R-FND-5).
    Receipt {
        #[arg(long, value_enum)]
        kind: ReceiptArg,
        /// The fund: employee, resident, maternity, resident-critical-illness…
        #[arg(long)]
        scheme: String,
        /// The unit whose money it is: a county, or the city itself.
        #[arg(long)]
        unit: String,
        /// Yuan, two decimals.
        #[arg(long)]
        amount: String,
        /// Value date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The voucher it is booked on (a second booking on it is a replay).
        #[arg(long)]
        reference: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportKind {
    Statement,
    TrialBalance,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReceiptArg {
    OpeningBalance,
    FinanceAdvance,
}

/// The application over the store the arguments name, with the pack in force.
pub(crate) async fn open(args: &StoreArgs) -> Result<App, String> {
    let (location, policy) = args.resolve()?;
    let given = crate::serve::given_pack(policy.as_deref())?;
    let backend = Backend::open(&location, Create::No).await?;
    App::open_with_policy(Arc::new(backend), &given, None).await.map_err(failed)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| e.to_string())
}

pub(crate) fn failed(e: AppError) -> String {
    format!("{} [{}]", e.message, e.code)
}

/// The command line acts as the platform itself in the city, under the operator's login
/// name (recorded in the audit log as `cli:<user>`).
pub(crate) fn operator(city: RegionCode) -> Principal {
    let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    Principal::System { name: format!("cli:{who}"), region: city }
}

/// Where the command line's writes come from, for the audit log.
const SOURCE: &str = "cli";

async fn city(app: &App, asked: Option<&str>) -> Result<RegionCode, String> {
    if let Some(code) = asked {
        return RegionCode::parse(code).map_err(|e| format!("--city: {e} [fund.bad_unit]"));
    }
    let cities = app.fund_cities(&operator(app.policy().region)).await.map_err(failed)?;
    match cities.as_slice() {
        [one] => Ok(*one),
        [] => Err("the store holds no fund books yet [books.empty]".into()),
        _ => Err(format!(
            "the store holds the books of several cities ({}): pass --city [fund.city_ambiguous]",
            cities.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn date(flag: &str, text: &str) -> Result<Date, String> {
    yibao_store::books::date_of(text).map_err(|_| format!("{flag}: '{text}' is not a date YYYY-MM-DD [fund.bad_date]"))
}

pub fn pool(command: &PoolCommand) -> Result<(), String> {
    let PoolCommand::Run { month, day, city: asked, store } = command;
    let month = YearMonth::parse(month).map_err(|e| format!("--month: {e} [fund.bad_month]"))?;
    runtime()?.block_on(async {
        let app = open(store).await?;
        let city = city(&app, asked.as_deref()).await?;
        let outcome = app.run_pooling(&operator(city), SOURCE, month, *day).await.map_err(failed)?;
        let run = &outcome.run;
        println!(
            "pooling run {} for city {} dated {}: {}",
            run.month,
            run.city,
            run.value_date,
            if outcome.ran_now { format!("{} transfers posted", run.transfers) } else { "already run; nothing changed".into() }
        );
        for fund in &run.funds {
            println!(
                "  {} {}: special account {} → swept {} → disbursed {} → {}",
                fund.fund,
                fund.name_zh,
                yuan_wide(fund.special_before_fen.into()),
                yuan_wide(fund.swept_fen.into()),
                yuan_wide(fund.disbursed_fen.into()),
                yuan_wide(fund.special_after_fen.into())
            );
            for note in &fund.notes {
                println!("    {note}");
            }
        }
        Ok(())
    })
}

pub fn fund(command: &FundCommand) -> Result<(), String> {
    match command {
        FundCommand::Check { store } => check(store),
        FundCommand::Interest { from, to, rate, city: asked, store } => {
            let (from, to) = (date("--from", from)?, date("--to", to)?);
            let rate = yibao_domain::RatioBp::parse_percent(rate).map_err(|e| format!("--rate: {e} [fund.bad_ratio]"))?;
            runtime()?.block_on(async {
                let app = open(store).await?;
                let city = city(&app, asked.as_deref()).await?;
                let lines = app.credit_interest(&operator(city), SOURCE, from, to, rate).await.map_err(failed)?;
                for line in lines {
                    println!("{}", line.note);
                }
                Ok(())
            })
        }
        FundCommand::Close { year, levy, city_share, city: asked, dry_run, store } => {
            close(*year, levy.as_deref(), city_share.as_deref(), asked.as_deref(), *dry_run, store)
        }
        FundCommand::Report { kind, from, to, city, out, store } => {
            report(*kind, from.as_deref(), to.as_deref(), city.as_deref(), out.as_deref(), store)
        }
        FundCommand::Receipt { kind, scheme, unit, amount, date: day, reference, store } => {
            let receipt = FundReceipt {
                kind: match kind {
                    ReceiptArg::OpeningBalance => ReceiptKind::OpeningBalance,
                    ReceiptArg::FinanceAdvance => ReceiptKind::FinanceAdvance,
                },
                scheme: FundScheme::parse(scheme).ok_or_else(|| format!("--scheme: '{scheme}' is not a fund [fund.bad_scheme]"))?,
                unit: RegionCode::parse(unit).map_err(|e| format!("--unit: {e} [fund.bad_unit]"))?,
                amount_fen: Fen::parse_yuan(amount).map_err(|e| format!("--amount: {e} [fund.bad_amount]"))?,
                value_date: date("--date", day)?,
                reference: reference.clone(),
            };
            runtime()?.block_on(async {
                let app = open(store).await?;
                app.record_receipt(&operator(receipt.unit.city()), SOURCE, receipt.clone()).await.map_err(failed)?;
                println!(
                    "booked {} yuan into {}@{} for {} on {}",
                    receipt.amount_fen,
                    receipt.scheme,
                    receipt.unit.city(),
                    receipt.unit,
                    day
                );
                Ok(())
            })
        }
    }
}

fn close(
    year: i32,
    levy: Option<&str>,
    city_share: Option<&str>,
    asked: Option<&str>,
    dry_run: bool,
    store: &StoreArgs,
) -> Result<(), String> {
    let levy = levy.map(|l| yibao_domain::RatioBp::parse_percent(l).map_err(|e| format!("--levy: {e} [fund.bad_ratio]"))).transpose()?;
    let city_share = city_share
        .map(|s| yibao_domain::RatioBp::parse_percent(s).map_err(|e| format!("--city-share: {e} [fund.bad_ratio]")))
        .transpose()?;
    runtime()?.block_on(async {
        let app = open(store).await?;
        let city = city(&app, asked).await?;
        let input = YearCloseInput { year, levy, city_share, targets: Vec::new() };
        let (record, done) = if dry_run {
            let preview = app.preview_year_end(&operator(city), input).await.map_err(failed)?;
            let done = if preview.closed {
                "dry run: already closed, this is its record; nothing changed".to_owned()
            } else {
                format!("dry run: {} transfers would be posted; nothing changed", preview.record.transfers)
            };
            (preview.record, done)
        } else {
            let outcome = app.close_year(&operator(city), SOURCE, input).await.map_err(failed)?;
            let done = if outcome.ran_now {
                format!("{} transfers posted", outcome.record.transfers)
            } else {
                "already closed; nothing changed".into()
            };
            (outcome.record, done)
        };
        let r = &record;
        println!(
            "year-end close {} for city {}: {done}; levy {}% = {} yuan, adjustment fund used {} yuan",
            r.year,
            r.city,
            f64::from(r.levy_ratio_bp) / 100.0,
            yuan_wide(r.levy_total_fen.into()),
            yuan_wide(r.adjustment_used_fen.into())
        );
        for l in &r.levy {
            println!("  {}", l.note);
        }
        for p in &r.positions {
            let rate = p.surplus_rate_bp.map_or_else(|| "-".to_owned(), |bp| format!("{:.2}%", bp as f64 / 100.0));
            let months = p.months_covered_centi.map_or_else(|| "-".to_owned(), |c| format!("{:.2}", c as f64 / 100.0));
            println!(
                "  {} {}: income {} spending {} surplus rate {rate} months covered {months}",
                p.fund,
                p.unit,
                yuan_wide(p.income_fen.into()),
                yuan_wide(p.spending_fen.into())
            );
            for line in p.notes.iter().chain(&p.warnings) {
                println!("    {line}");
            }
        }
        Ok(())
    })
}

fn check(store: &StoreArgs) -> Result<(), String> {
    let verification = runtime()?.block_on(async {
        let app = open(store).await?;
        app.check_all_books(&operator(app.policy().region)).await.map_err(failed)
    })?;
    println!("{}", books_report(&verification)?);
    Ok(())
}

/// `yibao fund check`'s report: one line when the books are sound, else every breach with
/// its code (also printed for a backup's copy).
pub(crate) fn books_report(verification: &yibao_app::BooksVerification) -> Result<String, String> {
    if verification.breaches.is_empty() {
        Ok(format!(
            "fund books sound: {} accounts and {} transfers in {} cities, {} yuan posted; every fund balanced, totals match, no forbidden overdraft, adjustments paired",
            verification.accounts,
            verification.transfers,
            verification.cities,
            yuan_wide(verification.total_posted_fen)
        ))
    } else {
        let lines: Vec<String> = verification.breaches.iter().map(|b| format!("[{}] {b}", b.code())).collect();
        Err(format!("fund books BROKEN [books.broken]: {} breaches\n{}", lines.len(), lines.join("\n")))
    }
}

fn yuan_wide(fen: i128) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.unsigned_abs() / 100, fen.unsigned_abs() % 100)
}

fn report(
    kind: ReportKind,
    from: Option<&str>,
    to: Option<&str>,
    asked: Option<&str>,
    out: Option<&Path>,
    store: &StoreArgs,
) -> Result<(), String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    runtime()?.block_on(async {
        let app = open(store).await?;
        let city = city(&app, asked).await?;
        let operator = operator(city);
        match kind {
            ReportKind::Statement => {
                let from = date("--from", from.ok_or("a statement needs --from and --to [fund.bad_period]")?)?;
                let to = date("--to", to.ok_or("a statement needs --from and --to [fund.bad_period]")?)?;
                rows.push(["fund", "unit", "reason", "debit_kind", "credit_kind", "transfers", "amount_yuan"].map(String::from).to_vec());
                for m in app.fund_movements(&operator, from, to).await.map_err(failed)? {
                    rows.push(vec![
                        m.fund_scheme.to_string(),
                        m.unit.to_string(),
                        m.reason.to_string(),
                        m.debit_kind.to_string(),
                        m.credit_kind.to_string(),
                        m.transfers.to_string(),
                        yuan_wide(m.amount_fen.get().into()),
                    ]);
                }
            }
            ReportKind::TrialBalance => {
                rows.push(["fund", "holder", "kind", "kind_zh", "debits_yuan", "credits_yuan", "balance_yuan"].map(String::from).to_vec());
                let accounts = app.fund_accounts(&operator).await.map_err(failed)?;
                let mut totals: std::collections::BTreeMap<String, (i128, i128)> = std::collections::BTreeMap::new();
                for a in &accounts {
                    let key = a.key();
                    let total = totals.entry(key.fund.to_string()).or_default();
                    total.0 += i128::from(a.debits_posted_fen.get());
                    total.1 += i128::from(a.credits_posted_fen.get());
                    rows.push(vec![
                        key.fund.to_string(),
                        key.holder.to_string(),
                        key.kind.as_str().into(),
                        key.kind.name_zh().into(),
                        a.debits_posted_fen.to_string(),
                        a.credits_posted_fen.to_string(),
                        a.balance_fen().to_string(),
                    ]);
                }
                for (fund, (debits, credits)) in totals {
                    rows.push(vec![
                        fund,
                        "TOTAL".into(),
                        String::new(),
                        "合计".into(),
                        yuan_wide(debits),
                        yuan_wide(credits),
                        yuan_wide(debits - credits),
                    ]);
                }
            }
        }
        Ok::<(), String>(())
    })?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in &rows {
        writer.write_record(row).map_err(|e| e.to_string())?;
    }
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    match out {
        Some(path) => std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes).map_err(|e| e.to_string())
        }
    }
}
