//! The simulated city-year (`yibao simulate`): enrol the synthetic population, collect
//! contributions and subsidies, settle every claim, keep the fund books, pool monthly and
//! close the year.
//!
//! # Order and equivalence
//! Work is cut by blocks of persons; each worker thread takes the next block, and for each
//! person computes the year's contributions, draws the person's claims and settles them
//! in date order with `settle_into` (explanations off, buffers reused), carrying the
//! person's accumulators and personal-account balance from claim to claim. A settlement
//! reads nothing but the claim, the person's coverage and the person's own accumulators,
//! so the claims of different persons commute: settling person by person, each person's
//! claims in date order, gives exactly the settlements of one pass over all claims in date
//! order (the test `simulation_equals_settling_one_by_one` checks it), while keeping one
//! person's state at a time instead of thirteen million.
//!
//! Each worker adds money up per (layer, payee, county, month) and income per (fund,
//! county, month, payer) in integer fen; the tallies are summed at the end, which makes the
//! result independent of the number of threads. The books are then written month by
//! month (`books.rs`): income, the month's settlements aggregated per fund, layer and
//! payee, the pooling run (`plan_month`), payments to institutions; then the year-end levy
//! and deficit waterfall. 100 million individual settlements would exceed what an
//! in-memory ledger holds (`TRANSFERS_LIMIT`); aggregated, a city-year is a few hundred
//! thousand transfers.

mod books;
mod report;
mod tally;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use time::{Date, Month};
use yibao_domain::{AssistanceGroup, Fen, PersonCategory, RatioBp, RegionCode, Scheme, Tier};
use yibao_engine::{
    Accumulators, Claim, Coverage, Explain, ResidentContribution, Settlement, employee_contribution, resident_contribution, settle_into,
    supplementary_contribution, tier_on, upgrade_waiting_months,
};
use yibao_ledger::{DEFAULT_LEVY_RATIO_BP, FundScheme, Ledger};
use yibao_policy::{ParamKey, Policy, Query};

pub use books::{ClearingBooked, FundLine, UnitLine, book_clearing};
pub use report::{BalancingIncome, Comparison, FundUnitChange, comparison, render, render_comparison, render_payment};
pub use tally::{AccountMemo, FUNDS, GroupTotals, Layer, LayerTotals, Payer, Population, Refusal};

use crate::city::{City, Config};
use crate::claims::ClaimEvent;
use crate::person::Person;
use tally::{Tally, group_index, kind_index};

/// How the funds the policy pack does not finance are financed, and the books' starting
/// point. Each default is an assumption; the pack has no key for them yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Financing {
    /// Residents' critical-illness insurance is bought from the resident fund (national
    /// practice, 国办发〔2015〕57号): yuan per insured resident per year, moved in January as
    /// an audited adjustment. Assumption: 50 yuan, about 4% of a resident's financing.
    pub critical_per_resident_yuan: i64,
    /// Employees' large-amount insurance: a contribution per employee (in work or retired)
    /// per month. Assumption: 3 yuan; the demo pack's layer starts at 20 000 yuan of
    /// in-scope burden a year, so it pays rarely.
    pub large_amount_monthly_yuan: i64,
    /// Medical assistance: a budget from county finance per person in an assistance group
    /// per year. Assumption: 600 yuan.
    pub assistance_per_person_yuan: i64,
    /// Accumulated surplus of each fund on 1 January, in months of the fund's income this
    /// year. Assumption: 8 months, inside the common 6–9 month target (SPEC).
    pub opening_months: i64,
    /// Share of collected pooled income levied into the municipal adjustment fund
    /// (ZZ-POOL §四(九): 10%).
    pub levy_ratio: RatioBp,
    /// City finance's share of a county's remaining gap when it met its targets. Assumption:
    /// 50%; every county meets its targets (all enrolled pay), so its score is 100%.
    pub city_share_when_met: RatioBp,
}

impl Default for Financing {
    fn default() -> Financing {
        Financing {
            critical_per_resident_yuan: 50,
            large_amount_monthly_yuan: 3,
            assistance_per_person_yuan: 600,
            opening_months: 8,
            levy_ratio: DEFAULT_LEVY_RATIO_BP,
            city_share_when_met: RatioBp::new(5_000),
        }
    }
}

/// How to run a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimOptions {
    /// Worker threads (at least 1). The result does not depend on it.
    pub threads: usize,
    pub financing: Financing,
    /// Keep every inpatient stay as a payment case (`SimResult::stays`), for the payment
    /// year of the city's institutions ([`payment_year`]).
    pub keep_stays: bool,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions { threads: 1, financing: Financing::default(), keep_stays: false }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("the policy pack covers {policy}, but the synthetic city is 示范市 (419900) with counties 419902, 419921 and 419922")]
    Region { policy: String },
    #[error(
        "the policy pack ({from} to {until}) must cover the simulated year {year} and the year before it, when tier changes were asked for"
    )]
    Year { year: i32, from: Date, until: String },
    #[error("the policy pack has no value for {what}: {error}")]
    Policy { what: &'static str, error: String },
    #[error("the fund books refused a posting: {0}")]
    Ledger(String),
    #[error("the fund books do not balance: {0}")]
    Books(String),
}

/// What a worker thread leaves: its tally, the stays it kept, the pooled funds' spending
/// outside the stays, and what each fund and county paid each institution's stays.
type WorkerYear = (Tally, Vec<yibao_payment::Case>, Fen, std::collections::BTreeMap<(String, FundScheme, RegionCode), Fen>);

/// A simulated year: the population, what was settled, the books and what they say.
#[derive(Clone, Debug)]
pub struct SimResult {
    pub config: Config,
    pub policy: String,
    pub population: Population,
    /// Settlement totals by claim kind: general outpatient, chronic, inpatient, maternity.
    pub kinds: [LayerTotals; 4],
    /// By assistance group: none, destitute, 低保, low-income, impoverished by illness.
    pub groups: [GroupTotals; tally::GROUP_SLOTS],
    pub accounts: AccountMemo,
    pub refusals: Vec<Refusal>,
    /// One statement per fund, with its counties.
    pub funds: Vec<FundLine>,
    pub warnings: Vec<String>,
    pub ledger: Ledger,
    pub institutions: usize,
    /// Every inpatient stay settled, as a payment case, by institution and claim id (with
    /// `SimOptions::keep_stays`; empty otherwise).
    pub stays: Vec<yibao_payment::Case>,
    /// What the employees' and residents' pooled funds paid for every other claim
    /// (outpatient, chronic; not maternity), as settled.
    pub outside_spending: Fen,
    /// What each pooled fund and county paid each institution's stays (`hifp_pay`), by
    /// institution code: how its clearing is shared ([`book_clearing`]).
    pub stays_paid: std::collections::BTreeMap<(String, FundScheme, RegionCode), Fen>,
    /// The year's income of the employees' and residents' pooled funds (every payer).
    pub pooled_income: Fen,
}

impl SimResult {
    /// Claims settled (refusals excluded).
    #[must_use]
    pub fn claims(&self) -> u64 {
        self.kinds.iter().map(|k| k.claims).sum()
    }

    /// Claims refused.
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.refusals.iter().map(|r| r.count).sum()
    }

    /// Settlement totals over every kind.
    #[must_use]
    pub fn totals(&self) -> LayerTotals {
        let mut all = LayerTotals::default();
        for k in &self.kinds {
            all.merge(k);
        }
        all
    }
}

/// What is the same for every person: the months whose employee-contribution parameters
/// differ, and the pack's tiers.
struct Context<'a> {
    city: &'a City,
    policy: &'a Policy,
    financing: Financing,
    /// Months (0-based) starting a run of months with the same employee-contribution
    /// parameters; the first is 0.
    segments: Vec<usize>,
    employee_tiers: bool,
    resident_tiers: bool,
    first_day: Date,
    /// Keep the stays as payment cases (`SimOptions::keep_stays`).
    keep_stays: bool,
}

fn first_of(year: i32, month0: usize) -> Date {
    Date::from_calendar_date(year, Month::try_from(u8::try_from(month0 + 1).expect("1 to 12")).expect("a month"), 1).expect("a day")
}

impl<'a> Context<'a> {
    fn new(city: &'a City, policy: &'a Policy, financing: Financing, keep_stays: bool) -> Context<'a> {
        let year = city.config.year;
        let mut segments = vec![0];
        // A value starting on the first of a month changes that month's contribution; one
        // starting later in a month, the next month's (contributions are monthly, on the
        // value in force on the first).
        for key in [
            ParamKey::EmployeeAverageWageMonthly,
            ParamKey::EmployeeBaseFloor,
            ParamKey::EmployeeBaseCeiling,
            ParamKey::EmployeeEmployerRate,
            ParamKey::EmployeeEmployeeRate,
            ParamKey::EmployeeAccountFromEmployee,
            ParamKey::EmployeeAccountFromEmployer,
            ParamKey::EmployeeRetireeAccountMonthly,
            ParamKey::MaternityEmployerRate,
        ] {
            for entry in policy.entries(key) {
                for dated in &entry.values {
                    let starts = [Some(dated.from), dated.until.and_then(|u| u.next_day())];
                    for day in starts.into_iter().flatten() {
                        if day.year() == year && day > city.config.first_day() {
                            let month0 = usize::from(u8::from(day.month())) - 1 + usize::from(day.day() != 1);
                            if month0 < 12 && !segments.contains(&month0) {
                                segments.push(month0);
                            }
                        }
                    }
                }
            }
        }
        segments.sort_unstable();
        Context {
            city,
            policy,
            financing,
            segments,
            employee_tiers: !policy.tiers_for(Scheme::Employee).is_empty(),
            resident_tiers: !policy.tiers_for(Scheme::Resident).is_empty(),
            first_day: city.config.first_day(),
            keep_stays,
        }
    }

    fn segment_end(&self, index: usize) -> usize {
        self.segments.get(index + 1).copied().unwrap_or(12)
    }
}

fn policy_error(what: &'static str) -> impl Fn(yibao_policy::LookupError) -> SimError {
    move |e| SimError::Policy { what, error: e.to_string() }
}

type ResidentKey = (u8, Option<Tier>, Option<AssistanceGroup>);

/// One worker: its buffers and sums.
struct Worker<'c, 'a> {
    ctx: &'c Context<'a>,
    tally: Tally,
    persons: Vec<Person>,
    events: Vec<ClaimEvent>,
    coverage: Option<Coverage>,
    claim: Option<Claim>,
    settlement: Settlement,
    /// Resident contributions by (county, tier, group): the same inputs give the same result.
    residents: Vec<(ResidentKey, ResidentContribution)>,
    /// The inpatient stays kept as payment cases, and the pooled funds' other spending.
    stays: Vec<yibao_payment::Case>,
    outside_spending: Fen,
    stays_paid: std::collections::BTreeMap<(String, FundScheme, RegionCode), Fen>,
}

impl<'c, 'a> Worker<'c, 'a> {
    fn new(ctx: &'c Context<'a>) -> Worker<'c, 'a> {
        Worker {
            ctx,
            tally: Tally::new(ctx.city.institutions.len() + 3),
            persons: Vec::new(),
            events: Vec::new(),
            coverage: None,
            claim: None,
            settlement: Settlement::default(),
            residents: Vec::new(),
            stays: Vec::new(),
            outside_spending: Fen::ZERO,
            stays_paid: std::collections::BTreeMap::new(),
        }
    }

    fn block(&mut self, index: u32) -> Result<u64, SimError> {
        let city = self.ctx.city;
        let mut persons = std::mem::take(&mut self.persons);
        city.block_into(index, &mut persons);
        for person in &persons {
            self.person(person)?;
        }
        let count = persons.len() as u64;
        self.persons = persons;
        Ok(count)
    }

    /// The tier in force on `date` (`None` in a pack without tiers for the scheme).
    fn tier_on(&self, coverage: &Coverage, date: Date) -> Result<Option<Tier>, SimError> {
        let tiered = if coverage.scheme == Scheme::Employee { self.ctx.employee_tiers } else { self.ctx.resident_tiers };
        if !tiered {
            return Ok(None);
        }
        let history = coverage.tier_history.as_ref().expect("synthetic persons have a tier history");
        match tier_on(history, date, |target, on| upgrade_waiting_months(self.ctx.policy, coverage.region, target, on)) {
            Ok(tier) => Ok(tier),
            Err(_) => Err(SimError::Policy {
                what: "tier.upgrade_waiting_months",
                error: format!("no waiting period for a change asked for before {date}"),
            }),
        }
    }

    /// The person's contributions, posted to the tallies; returns the personal-account
    /// credit of each month.
    fn contributions(&mut self, person: &Person, coverage: &Coverage) -> Result<[Fen; 12], SimError> {
        let ctx = self.ctx;
        let policy = ctx.policy;
        let county = usize::from(person.county);
        let region = coverage.region;
        let year = ctx.city.config.year;
        let mut credits = [Fen::ZERO; 12];
        match person.scheme {
            Scheme::Employee => {
                for (s, &start) in ctx.segments.iter().enumerate() {
                    let end = ctx.segment_end(s);
                    // A pending tier change may take effect within the segment: then month by month.
                    let step = person.tier_change.is_some();
                    let mut from = start;
                    while from < end {
                        let to = if step { from + 1 } else { end };
                        let day = first_of(year, from);
                        let tier = self.tier_on(coverage, day)?;
                        let c = employee_contribution(policy, region, tier, person.category, person.wage_monthly, day)
                            .map_err(policy_error("an employee contribution"))?;
                        let maternity = if person.category == PersonCategory::Employed && policy.has_scheme(Scheme::Maternity) {
                            let q = Query { region: Some(region), ..Query::default() };
                            let rate =
                                policy.ratio(ParamKey::MaternityEmployerRate, &q, day).map_err(policy_error("maternity.employer_rate"))?;
                            policy.rounding.apply(c.base, rate.value)
                        } else {
                            Fen::ZERO
                        };
                        for (m, credit) in credits.iter_mut().enumerate().take(to).skip(from) {
                            *credit = c.to_account;
                            if person.category == PersonCategory::Retired {
                                // The credit to a retiree's account comes out of pooling.
                                self.tally.add_spend(
                                    Layer::RetireeAccountCredit,
                                    ctx.city.institutions.len() + county,
                                    county,
                                    m,
                                    c.to_account,
                                );
                            } else {
                                self.tally.add_income(FundScheme::Employee, county, m, Payer::Insured, c.to_pool);
                            }
                            self.tally.add_income(FundScheme::Maternity, county, m, Payer::Insured, maternity);
                            if policy.has_scheme(Scheme::CriticalIllness) {
                                self.tally.add_income(
                                    FundScheme::EmployeeLargeAmount,
                                    county,
                                    m,
                                    Payer::Insured,
                                    Fen::yuan(ctx.financing.large_amount_monthly_yuan),
                                );
                            }
                        }
                        from = to;
                    }
                }
            }
            _ => {
                let tier = self.tier_on(coverage, ctx.first_day)?;
                let key = (person.county, tier, person.group);
                let c = match self.residents.iter().find(|(k, _)| *k == key) {
                    Some((_, c)) => *c,
                    None => {
                        let c = resident_contribution(policy, region, tier, person.group, ctx.first_day)
                            .map_err(policy_error("a resident contribution"))?;
                        self.residents.push((key, c));
                        c
                    }
                };
                let fund = FundScheme::Resident;
                self.tally.add_income(fund, county, 0, Payer::Insured, c.personal);
                self.tally.add_income(fund, county, 0, Payer::County, c.civil_affairs + c.county);
                self.tally.add_income(fund, county, 0, Payer::City, c.city);
                self.tally.add_income(fund, county, 0, Payer::Province, c.provincial);
                self.tally.add_income(fund, county, 0, Payer::Central, c.central);
                if person.supplementary && policy.has_scheme(Scheme::Supplementary) {
                    let s =
                        supplementary_contribution(policy, region, ctx.first_day).map_err(policy_error("a supplementary contribution"))?;
                    self.tally.add_income(FundScheme::Supplementary, county, 0, Payer::Insured, s.personal);
                    self.tally.add_income(FundScheme::Supplementary, county, 0, Payer::City, s.government);
                }
            }
        }
        if person.group.is_some() && policy.has_scheme(Scheme::MedicalAssistance) {
            self.tally.add_income(
                FundScheme::MedicalAssistance,
                county,
                0,
                Payer::County,
                Fen::yuan(ctx.financing.assistance_per_person_yuan),
            );
        }
        Ok(credits)
    }

    fn person(&mut self, person: &Person) -> Result<(), SimError> {
        let ctx = self.ctx;
        let city = ctx.city;
        self.tally.count_person(person);
        let mut coverage = match self.coverage.take() {
            Some(mut c) => {
                person.coverage_into(city, &mut c);
                c
            }
            None => person.coverage(city),
        };
        let credits = self.contributions(person, &coverage)?;
        let employee = person.scheme == Scheme::Employee;
        if employee {
            self.tally.accounts.opening += person.account_opening;
            self.tally.accounts.credited += credits.iter().copied().sum();
        }
        let mut events = std::mem::take(&mut self.events);
        city.year_of(person, &mut events);
        let mut accumulators = Accumulators::new_year(city.config.year);
        let mut spent = Fen::ZERO;
        let group = group_index(person.group);
        let county = usize::from(person.county);
        let person_payee = city.institutions.len() + county;
        let mut settled_any = false;
        for event in &events {
            let claim = match &mut self.claim {
                Some(claim) => {
                    city.fill_claim(person, event, claim);
                    claim
                }
                None => self.claim.insert(city.claim(person, event)),
            };
            let month = usize::from(u8::from(event.discharge.month())) - 1;
            if employee {
                let credited: Fen = credits[..=month].iter().copied().sum();
                coverage.personal_account_balance = person.account_opening + credited - spent;
            }
            match settle_into(ctx.policy, claim, &coverage, &accumulators, Explain::Off, &mut self.settlement) {
                Ok(()) => {
                    let s = &self.settlement;
                    accumulators = s.accumulators;
                    spent += s.acct_pay;
                    settled_any = true;
                    let payee = event.institution as usize;
                    let pooled = match (event.kind, person.scheme) {
                        (yibao_domain::ClaimKind::Maternity, _) => Layer::MaternityLumpSum,
                        (_, Scheme::Employee) => Layer::EmployeePooled,
                        _ => Layer::ResidentPooled,
                    };
                    let t = &mut self.tally;
                    t.add_spend(pooled, payee, county, month, s.hifp_pay);
                    t.add_spend(Layer::CriticalIllness, payee, county, month, s.hifmi_pay);
                    t.add_spend(Layer::LargeAmount, payee, county, month, s.hifob_pay);
                    t.add_spend(Layer::Assistance, payee, county, month, s.maf_pay);
                    t.add_spend(Layer::Supplementary, payee, county, month, s.oth_pay);
                    t.add_spend(Layer::MaternityAllowance, person_payee, county, month, s.maternity_allowance);
                    t.kinds[kind_index(event.kind)].add(s);
                    t.groups[group].totals.add(s);
                    if self.ctx.keep_stays && event.kind != yibao_domain::ClaimKind::Maternity {
                        if event.kind.is_stay() {
                            let fund = if pooled == Layer::EmployeePooled { FundScheme::Employee } else { FundScheme::Resident };
                            let key = (city.institutions[payee].code.clone(), fund, city.counties[county]);
                            *self.stays_paid.entry(key).or_default() += s.hifp_pay;
                            self.stays.push(payment_case(city, person, event, claim, s));
                        } else {
                            self.outside_spending += s.hifp_pay;
                        }
                    }
                }
                Err(error) => self.tally.refuse(error.code(), person.index, &claim.claim_id, error.to_string()),
            }
        }
        if settled_any {
            self.tally.groups[group].patients += 1;
        }
        if employee {
            self.tally.accounts.paid += spent;
        }
        self.events = events;
        self.coverage = Some(coverage);
        Ok(())
    }
}

/// Checks that the pack can settle the synthetic city's year.
fn check_policy(city: &City, policy: &Policy) -> Result<(), SimError> {
    if !city.counties.iter().all(|c| policy.region.contains(*c)) {
        return Err(SimError::Region { policy: policy.region.to_string() });
    }
    let year = city.config.year;
    let before = Date::from_calendar_date(year - 1, Month::July, 1).expect("a day");
    if policy.effective_from > before || policy.effective_until.is_some_and(|u| u < city.config.last_day()) {
        return Err(SimError::Year {
            year,
            from: policy.effective_from,
            until: policy.effective_until.map_or_else(|| "open".to_owned(), |u| u.to_string()),
        });
    }
    Ok(())
}

/// Simulates the city's year under `policy`. `progress` is told how many more persons are
/// done after each block.
pub fn simulate(city: &City, policy: &Policy, options: &SimOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<SimResult, SimError> {
    check_policy(city, policy)?;
    let ctx = Context::new(city, policy, options.financing, options.keep_stays);
    let blocks = city.config.blocks();
    let next = AtomicU32::new(0);
    // The first error of the lowest block, whatever thread met it.
    let failure: Mutex<Option<(u32, SimError)>> = Mutex::new(None);
    let threads = options.threads.clamp(1, 64);
    let results: Vec<WorkerYear> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut worker = Worker::new(&ctx);
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= blocks {
                            break;
                        }
                        match worker.block(index) {
                            Ok(done) => progress(done),
                            Err(error) => {
                                let mut slot = failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                                if slot.as_ref().is_none_or(|(b, _)| index < *b) {
                                    *slot = Some((index, error));
                                }
                                next.store(blocks, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                    (worker.tally, worker.stays, worker.outside_spending, worker.stays_paid)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    if let Some((_, error)) = failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(error);
    }
    let mut total = Tally::new(city.institutions.len() + 3);
    let mut stays = Vec::new();
    let mut outside_spending = Fen::ZERO;
    let mut stays_paid: std::collections::BTreeMap<(String, FundScheme, RegionCode), Fen> = std::collections::BTreeMap::new();
    for (t, kept, outside, paid) in results {
        total.merge(&t);
        stays.extend(kept);
        outside_spending += outside;
        for (key, fen) in paid {
            *stays_paid.entry(key).or_default() += fen;
        }
    }
    // Blocks finish in any order: the stays are put in one.
    stays.sort_by(|a, b| (&a.institution, &a.claim_id).cmp(&(&b.institution, &b.claim_id)));
    let pooled_income = Fen::checked_total(
        [FundScheme::Employee, FundScheme::Resident]
            .into_iter()
            .flat_map(|fund| {
                let total = &total;
                (0..3).flat_map(move |county| {
                    (0..12).flat_map(move |month| {
                        Payer::ALL.iter().map(move |payer| total.income[Tally::income_at(fund, county, month, *payer)])
                    })
                })
            })
            .sum(),
    )
    .unwrap_or(Fen::ZERO);
    total.refusals.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(b.code)));
    let (ledger, funds, mut warnings) = books::run(city, policy, &options.financing, &total)?;
    for r in &total.refusals {
        warnings.push(format!("{} claims refused [{}], e.g. {} of person #{}: {}", r.count, r.code, r.claim_id, r.person, r.message));
    }
    Ok(SimResult {
        config: city.config,
        policy: policy.id.clone(),
        population: total.population,
        kinds: total.kinds,
        groups: total.groups,
        accounts: total.accounts,
        refusals: total.refusals,
        funds,
        warnings,
        ledger,
        institutions: city.institutions.len(),
        stays,
        outside_spending,
        stays_paid,
        pooled_income,
    })
}

/// A settled stay as the payment year reads it (`yibao_payment::Case`): the claim's
/// diagnosis with the main procedure its bill implies (a stent, a hip, a stapler).
fn payment_case(city: &City, person: &Person, event: &ClaimEvent, claim: &Claim, s: &Settlement) -> yibao_payment::Case {
    let institution = &city.institutions[event.institution as usize];
    yibao_payment::Case {
        institution: institution.code.clone(),
        level: Some(institution.level),
        claim_id: claim.claim_id.clone(),
        person: person.index.to_string(),
        category: person.category,
        admission: event.admission,
        discharge: event.discharge,
        main_diagnosis: claim.diagnosis.clone(),
        main_procedure: crate::claims::main_procedure(event.diagnosis).map(str::to_owned),
        incomplete: false,
        single_disease: event.kind == yibao_domain::ClaimKind::SingleDisease,
        total: s.medfee_sumamt,
        fund: s.hifp_pay,
        self_pay: s.fulamt_ownpay_amt,
        deductible: s.act_pay_dedc,
        ratio: yibao_domain::RatioBp::new(s.pool_prop_bp.min(10_000)),
    }
}

/// The city's payment year under `pack` (issue 15): the simulated stays paid by the
/// methods of the agreements a city signs with its institutions: DIP points and per diem
/// for every hospital in the city, capitation besides for its primary-care institutions
/// (each county's residents signed with its primary and township institutions in equal
/// shares), fee-for-service out of the city; the year's income the pooled funds'
/// simulated income. Needs a result with its stays kept.
pub fn payment_year(
    city: &City,
    result: &SimResult,
    pack: &yibao_payment::PaymentPack,
) -> Result<yibao_payment::YearResult, yibao_payment::YearError> {
    let primary_care = |level: yibao_domain::InstitutionLevel| {
        matches!(level, yibao_domain::InstitutionLevel::Primary | yibao_domain::InstitutionLevel::Township)
    };
    let centres = |county: RegionCode| {
        city.institutions
            .iter()
            .filter(|i| i.region == county && i.place == yibao_domain::Place::InArea && i.code.starts_with('H') && primary_care(i.level))
            .count()
    };
    let agreements: Vec<yibao_payment::Agreement> = city
        .institutions
        .iter()
        .map(|institution| {
            let in_city = institution.place == yibao_domain::Place::InArea && institution.code.starts_with('H');
            let county = city.counties.iter().position(|c| *c == institution.region);
            let enrolled = county.filter(|_| in_city && primary_care(institution.level)).map(|c| {
                let residents = result.population.by_county[c][2];
                u32::try_from(residents / u64::try_from(centres(institution.region).max(1)).unwrap_or(1)).unwrap_or(u32::MAX)
            });
            yibao_payment::Agreement {
                institution: institution.code.clone(),
                level: institution.level,
                methods: yibao_payment::Methods { points: in_city, per_diem: in_city },
                capitation_enrolled: enrolled.filter(|n| *n > 0),
                global_budget: None,
                assessment: yibao_domain::RatioBp::new(10_000),
                deductions: Fen::ZERO,
                months_in_force: yibao_payment::Agreement::WHOLE_YEAR,
                days_in_force: 365,
            }
        })
        .collect();
    let input = yibao_payment::YearInput {
        pack,
        year: city.config.year,
        fund_income: result.pooled_income,
        outside_spending: result.outside_spending,
        agreements: &agreements,
        cases: &result.stays,
    };
    yibao_payment::run_year(&input)
}
