//! The fund books of the simulated year, kept in a `yibao_ledger::Ledger`.
//!
//! Every scheme fund is a city fund (统收统支, R-FND-2) with the three counties as its
//! units. Month by month:
//! 1. income: per fund, county and payer, into the county's income account, from the
//!    payer's outside-world account (contributions from the county's insured and their
//!    employers; subsidies from central, provincial, city and county finance);
//! 2. settlements: per fund, layer and payee, the month's total owed (outside world of
//!    the payee → its payable). A payee is an institution, or for the maternity allowance
//!    and retirees' account credits the insured of a county;
//! 3. the pooling run (`plan_month`): income swept to the city special account, the
//!    month's expenditure of each county paid to the city and on to the county
//!    expenditure account. Should the special account fall short, city finance advances
//!    the gap (a warning);
//! 4. payments: each county's expenditure account pays the payables of its insured.
//!
//! In January, after the pooling run, residents' critical-illness insurance is bought from
//! the resident fund: an audited adjustment pair per county. On 31 December the
//! adjustment-fund levy (`plan_levy`) and the deficit waterfall (`plan_waterfall`) close
//! the year. Funds open on 1 January with their accumulated surplus in the special
//! account.
//!
//! Employees' personal accounts are kept per person by the simulation, not in these books:
//! the ledger holds personal accounts per person only (`Holder::Person`), and a few
//! million of them with monthly credits would be tens of millions of transfers. The
//! employees' fund here is its pooled fund; what went to and was paid from the accounts
//! is reported beside it.

use time::{Date, Month};
use yibao_domain::{Fen, RatioBp, RegionCode};
use yibao_ledger::{
    Account, AccountKey, AccountKind, BusinessRef, ClearingInputs, ClearingLine, ClearingShare, Fund, FundPosition, FundScheme, FundUnit,
    FundYear, Holder, LedgerError, LevyBase, LevyInputs, MonthInputs, Reason, RecordKind, Transfer, TransferId, UnitMonth,
    WarningThresholds, WaterfallInputs, YearMonth, batch_of, check_invariants, cross_fund_pair, indicators, plan_clearing, plan_levy,
    plan_month, plan_waterfall,
};
use yibao_ledger::{Ledger, limits::BATCH_LIMIT};
use yibao_policy::Policy;

use super::tally::{FUNDS, Layer, Payer, Tally};
use super::{Financing, SimError};
use crate::assumptions::{COUNTIES, PROVINCE};
use crate::city::City;

/// One unit's year in one fund, in fen. `closing = opening + income − spending +
/// between_funds + finance_cover`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitLine {
    /// A county, or the city itself for the fund's total.
    pub unit: RegionCode,
    pub opening: Fen,
    /// Contributions of the insured and their employers.
    pub contributions: Fen,
    /// Subsidies and budgets from finance (central, provincial, city, county).
    pub subsidies: Fen,
    pub spending: Fen,
    /// Money from (+) or to (−) other funds: the critical-illness financing, the
    /// adjustment-fund levy, the adjustment fund's deficit cover.
    pub between_funds: Fen,
    /// Deficits borne by finance (booked as owed to the fund) and advances.
    pub finance_cover: Fen,
    pub closing: Fen,
    /// The fund's own income of the year, what the indicators divide by: contributions and
    /// subsidies with the critical-illness financing moved in or out.
    pub own_income: Fen,
    /// Current-year surplus rate, basis points: (income − spending) ÷ income, income
    /// including the critical-illness financing moved in or out.
    pub surplus_rate_bp: Option<i64>,
    /// Months of spending the closing balance covers, hundredths.
    pub months_covered_centi: Option<i64>,
}

impl UnitLine {
    fn new(unit: RegionCode) -> UnitLine {
        UnitLine {
            unit,
            opening: Fen::ZERO,
            contributions: Fen::ZERO,
            subsidies: Fen::ZERO,
            spending: Fen::ZERO,
            between_funds: Fen::ZERO,
            finance_cover: Fen::ZERO,
            closing: Fen::ZERO,
            own_income: Fen::ZERO,
            surplus_rate_bp: None,
            months_covered_centi: None,
        }
    }

    fn close(&mut self) {
        self.closing = self.opening + self.contributions + self.subsidies - self.spending + self.between_funds + self.finance_cover;
    }

    fn add(&mut self, other: &UnitLine) {
        self.opening += other.opening;
        self.contributions += other.contributions;
        self.subsidies += other.subsidies;
        self.spending += other.spending;
        self.between_funds += other.between_funds;
        self.finance_cover += other.finance_cover;
        self.closing += other.closing;
    }
}

/// One fund's year: its counties and its total, spending by layer, and the year-end steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundLine {
    pub fund: Fund,
    pub units: Vec<UnitLine>,
    pub total: UnitLine,
    pub by_layer: Vec<(super::Layer, Fen)>,
    /// Levied into the adjustment fund (levied funds) or received (the adjustment fund).
    pub levy: Fen,
    /// Covered by the adjustment fund.
    pub from_adjustment: Fen,
    /// Advanced by city finance during the year because the special account fell short.
    pub advances: Fen,
}

struct Books {
    ledger: Ledger,
    opened: Date,
}

fn ledger_error(e: LedgerError) -> SimError {
    SimError::Ledger(format!("[{}] {e}", e.code()))
}

fn id(text: String) -> TransferId {
    TransferId::parse(&text).expect("simulation ids are printable ASCII well within the limit")
}

fn cause(kind: RecordKind, text: &str) -> BusinessRef {
    BusinessRef::new(kind, text).expect("simulation record ids are short")
}

/// An account as the store opens it (`yibao_store::books::open_account`): its kind's
/// overdraft rule, except that a payable may go negative: a payment year's clearing may
/// recover from an institution more than the fund still owes it, deducted from its later
/// payments.
fn open(key: AccountKey, opened: Date) -> Result<Account, SimError> {
    let account = Account::open(key, opened).map_err(ledger_error)?;
    Ok(if key.kind == AccountKind::Payable { account.with_no_overdraft(false) } else { account })
}

/// What the payment year's clearing booked in the simulated books.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClearingBooked {
    pub value_date: Date,
    pub owed: Fen,
    pub recovered: Fen,
    pub transfers: usize,
}

/// Books the payment year's clearing (issue 15) into the simulated city's books, dated the
/// first day after the year, as `App::clear_payment_year` books it in a store: each
/// institution's payable less its bill on its payable, shared between the pooled funds and
/// counties that paid its stays (`SimResult::stays_paid`), by the policy's rounding; then
/// checks every invariant of the books again. Booking it twice books nothing new.
pub fn book_clearing(
    result: &mut super::SimResult,
    year: &yibao_payment::YearResult,
    rounding: yibao_domain::Rounding,
) -> Result<ClearingBooked, SimError> {
    let city = RegionCode::parse(crate::assumptions::CITY).expect("the synthetic city");
    let value_date = Date::from_calendar_date(year.year + 1, Month::January, 1).map_err(|e| SimError::Ledger(e.to_string()))?;
    let mut shares: std::collections::BTreeMap<&str, Vec<ClearingShare>> = std::collections::BTreeMap::new();
    for ((code, scheme, unit), paid) in &result.stays_paid {
        shares.entry(code.as_str()).or_default().push(ClearingShare { fund: Fund::new(*scheme, city), unit: *unit, paid_fen: *paid });
    }
    let lines = year
        .institutions
        .iter()
        .map(|i| {
            let institution = Holder::institution(&i.institution).map_err(ledger_error)?;
            let shares = shares.remove(i.institution.as_str()).unwrap_or_default();
            Ok(ClearingLine { institution, difference_fen: i.against_billed, shares })
        })
        .collect::<Result<Vec<_>, SimError>>()?;
    let inputs = ClearingInputs { city, year: year.year, round: 1, value_date, rounding, lines };
    let plan = plan_clearing(&inputs, |id| result.ledger.contains(id)).map_err(ledger_error)?;
    let mut books = Books { ledger: std::mem::take(&mut result.ledger), opened: value_date };
    let posted = books.post(&batch_of(&plan.transfers));
    result.ledger = books.ledger;
    posted?;
    check_invariants(&result.ledger).map_err(|breaches| {
        SimError::Books(breaches.iter().take(5).map(|b| format!("[{}] {b}", b.code())).collect::<Vec<_>>().join("; "))
    })?;
    Ok(ClearingBooked { value_date, owed: plan.owed_fen, recovered: plan.recovered_fen, transfers: plan.transfers.len() })
}

impl Books {
    fn ensure(&mut self, key: AccountKey) -> Result<(), SimError> {
        if self.ledger.account(&key).is_none() {
            self.ledger.create_account(open(key, self.opened)?).map_err(ledger_error)?;
        }
        Ok(())
    }

    /// Posts transfers (opening any account they need) in batches of at most `BATCH_LIMIT`.
    fn post(&mut self, transfers: &[Transfer]) -> Result<(), SimError> {
        for t in transfers {
            self.ensure(t.debit)?;
            self.ensure(t.credit)?;
        }
        for batch in transfers.chunks(BATCH_LIMIT) {
            self.ledger.post(batch).map_err(ledger_error)?;
        }
        Ok(())
    }

    fn balance(&self, key: &AccountKey) -> Fen {
        self.ledger.balance_fen(key).unwrap_or(Fen::ZERO)
    }
}

fn last_of(year: i32, month0: usize) -> Date {
    let month = Month::try_from(u8::try_from(month0 + 1).expect("1 to 12")).expect("a month");
    Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).expect("a day")
}

/// Writes the year into a ledger; returns it with the statements and the warnings.
#[allow(clippy::needless_range_loop)] // a county number indexes several parallel tables at once
pub(super) fn run(
    city: &City,
    policy: &Policy,
    financing: &Financing,
    tally: &Tally,
) -> Result<(Ledger, Vec<FundLine>, Vec<String>), SimError> {
    let year = city.config.year;
    let first = city.config.first_day();
    let last = city.config.last_day();
    let city_code = city.city;
    let province = RegionCode::parse(PROVINCE).expect("a region");
    let counties = city.counties;
    let institutions = city.institutions.len();
    let payees = institutions + 3;
    let rounding = policy.rounding;
    let fund_of = |scheme: FundScheme| Fund::new(scheme, city_code);
    let mut books = Books { ledger: Ledger::new(), opened: first };
    let mut warnings = Vec::new();

    let payer_holder = |payer: Payer, county: usize| match payer {
        Payer::Insured => Holder::Region(counties[county]),
        Payer::County => Holder::Finance(counties[county]),
        Payer::City => Holder::Finance(city_code),
        Payer::Province => Holder::Finance(province),
        Payer::Central => Holder::CentralFinance,
    };
    let payee_holder = |payee: usize| -> Result<Holder, SimError> {
        if payee < institutions {
            Holder::institution(&city.institutions[payee].code).map_err(ledger_error)
        } else {
            Ok(Holder::Region(counties[payee - institutions]))
        }
    };
    let payee_name = |payee: usize| {
        if payee < institutions { city.institutions[payee].code.clone() } else { format!("insured-{}", counties[payee - institutions]) }
    };
    let income_of =
        |fund: FundScheme, county: usize, month: usize, payer: Payer| Fen::new(tally.income[Tally::income_at(fund, county, month, payer)]);
    let spend_of =
        |layer: Layer, payee: usize, county: usize, month: usize| Fen::new(tally.spend[tally.spend_at(layer, payee, county, month)]);

    // Per fund and county: the year's income by kind, spending, and the critical-illness financing.
    let mut lines: Vec<Vec<UnitLine>> = FUNDS.iter().map(|_| counties.iter().map(|&c| UnitLine::new(c)).collect()).collect();
    for (f, &fund) in FUNDS.iter().enumerate() {
        for county in 0..3 {
            let line = &mut lines[f][county];
            for month in 0..12 {
                for payer in Payer::ALL {
                    let amount = income_of(fund, county, month, payer);
                    if payer == Payer::Insured { line.contributions += amount } else { line.subsidies += amount }
                }
            }
        }
    }
    for layer in Layer::ALL {
        let f = FUNDS.iter().position(|x| *x == layer.fund()).expect("a simulated fund");
        for payee in 0..payees {
            for county in 0..3 {
                for month in 0..12 {
                    lines[f][county].spending += spend_of(layer, payee, county, month);
                }
            }
        }
    }
    let buys_critical = policy.has_scheme(yibao_domain::Scheme::CriticalIllness) && policy.has_scheme(yibao_domain::Scheme::Resident);
    let critical: [Fen; 3] = std::array::from_fn(|county| {
        if buys_critical { Fen::new(tally.residents[county] as i64 * financing.critical_per_resident_yuan * 100) } else { Fen::ZERO }
    });
    let resident = FUNDS.iter().position(|f| *f == FundScheme::Resident).expect("resident");
    let critical_fund = FUNDS.iter().position(|f| *f == FundScheme::ResidentCriticalIllness).expect("critical");
    for county in 0..3 {
        lines[resident][county].between_funds -= critical[county];
        lines[critical_fund][county].between_funds += critical[county];
    }

    // Opening balances: months of this year's income, from the outside world of the county.
    let mut opening = Vec::new();
    for (f, &fund) in FUNDS.iter().enumerate() {
        for county in 0..3 {
            let line = &mut lines[f][county];
            line.opening = rounding.scale(own_income_of(line, fund, critical[county]), financing.opening_months, 12);
            if line.opening.get() > 0 {
                opening.push(Transfer::new(
                    id(format!("sim/{year}/opening/{}/{}", fund_of(fund), counties[county])),
                    AccountKey::special(fund_of(fund)),
                    AccountKey::of_unit(fund_of(fund), counties[county], AccountKind::External),
                    line.opening,
                    Reason::Handover,
                    cause(RecordKind::OpeningBalance, &format!("{year}/{}/{}", fund.as_str(), counties[county])),
                    first,
                ));
            }
        }
    }
    books.post(&opening)?;
    // The adjustment fund's accounts exist from the start.
    let adjustment = Fund::adjustment(city_code);
    books.ensure(AccountKey::special(adjustment))?;
    for &county in &counties {
        books.ensure(AccountKey::of_unit(adjustment, county, AccountKind::InterFund))?;
    }

    let mut advances = [Fen::ZERO; FUNDS.len()];
    for month in 0..12 {
        let ym = YearMonth::new(year, u8::try_from(month + 1).expect("1 to 12")).expect("a month");
        let mid = Date::from_calendar_date(year, Month::try_from(u8::try_from(month + 1).expect("a month")).expect("a month"), 15)
            .expect("a day");
        let end = last_of(year, month);
        // 1. Income.
        let mut batch = Vec::new();
        for &fund in &FUNDS {
            for county in 0..3 {
                for payer in Payer::ALL {
                    let amount = income_of(fund, county, month, payer);
                    if amount.is_zero() {
                        continue;
                    }
                    let (reason, kind) = if payer == Payer::Insured {
                        (Reason::Contribution, RecordKind::Contribution)
                    } else {
                        (Reason::Subsidy, RecordKind::Subsidy)
                    };
                    batch.push(Transfer::new(
                        id(format!("sim/{ym}/income/{}/{}/{}", fund_of(fund), counties[county], payer.code())),
                        AccountKey::of_unit(fund_of(fund), counties[county], AccountKind::Income),
                        AccountKey::new(fund_of(fund), payer_holder(payer, county), AccountKind::External),
                        amount,
                        reason,
                        cause(kind, &format!("{ym}/{}/{}/{}", fund.as_str(), counties[county], payer.code())),
                        mid,
                    ));
                }
            }
        }
        // 2. The month's settlements, owed to each payee.
        for layer in Layer::ALL {
            let fund = fund_of(layer.fund());
            for payee in 0..payees {
                let amount: Fen = (0..3).map(|county| spend_of(layer, payee, county, month)).sum();
                if amount.is_zero() {
                    continue;
                }
                let holder = payee_holder(payee)?;
                batch.push(Transfer::new(
                    id(format!("sim/{ym}/settle/{fund}/{}/{}", layer.code(), payee_name(payee))),
                    AccountKey::new(fund, holder, AccountKind::External),
                    AccountKey::new(fund, holder, AccountKind::Payable),
                    amount,
                    layer.reason(),
                    cause(RecordKind::Settlement, &format!("{ym}/{}/{}", layer.code(), payee_name(payee))),
                    end,
                ));
            }
        }
        books.post(&batch)?;
        // 3. The pooling run of each fund.
        for (f, &scheme) in FUNDS.iter().enumerate() {
            let fund = fund_of(scheme);
            let mut units = Vec::with_capacity(3);
            for county in 0..3 {
                let expenditure: Fen = Layer::ALL
                    .iter()
                    .filter(|l| l.fund() == scheme)
                    .flat_map(|&l| (0..payees).map(move |p| (l, p)))
                    .map(|(l, p)| spend_of(l, p, county, month))
                    .sum();
                let income = AccountKey::of_unit(fund, counties[county], AccountKind::Income);
                books.ensure(income)?;
                books.ensure(AccountKey::of_unit(fund, counties[county], AccountKind::Expenditure))?;
                units.push(UnitMonth { unit: counties[county], income_balance_fen: books.balance(&income), expenditure_fen: expenditure });
            }
            books.ensure(AccountKey::special(fund))?;
            books.ensure(AccountKey::of_unit(fund, city_code, AccountKind::Expenditure))?;
            let inputs = |books: &Books| MonthInputs {
                fund,
                month: ym,
                value_date: end,
                special_balance_fen: books.balance(&AccountKey::special(fund)),
                units: units.clone(),
            };
            let plan = match plan_month(&inputs(&books), |id| books.ledger.contains(id)) {
                Ok(plan) => plan,
                Err(LedgerError::SpecialAccountShort { needed_fen, available_fen, .. }) => {
                    let gap = needed_fen - available_fen;
                    advances[f] += gap;
                    warnings.push(format!(
                        "{ym} {fund}: the special account was {gap} yuan short of the month's expenditure; city finance advanced it"
                    ));
                    books.post(&[Transfer::new(
                        id(format!("sim/{ym}/advance/{fund}")),
                        AccountKey::special(fund),
                        AccountKey::new(fund, Holder::Finance(city_code), AccountKind::External),
                        gap,
                        Reason::DeficitCover,
                        cause(RecordKind::DeficitWaterfall, &format!("advance/{ym}/{}", scheme.as_str())),
                        end,
                    )])?;
                    plan_month(&inputs(&books), |id| books.ledger.contains(id)).map_err(ledger_error)?
                }
                Err(e) => return Err(ledger_error(e)),
            };
            books.post(&batch_of(&plan.transfers))?;
        }
        // 4. Payments: each county's expenditure account pays what its insured's care is owed.
        let mut batch = Vec::new();
        for &scheme in &FUNDS {
            let fund = fund_of(scheme);
            for payee in 0..payees {
                for county in 0..3 {
                    let amount: Fen = Layer::ALL.iter().filter(|l| l.fund() == scheme).map(|&l| spend_of(l, payee, county, month)).sum();
                    if amount.is_zero() {
                        continue;
                    }
                    let holder = payee_holder(payee)?;
                    batch.push(Transfer::new(
                        id(format!("sim/{ym}/pay/{fund}/{}/{}", payee_name(payee), counties[county])),
                        AccountKey::new(fund, holder, AccountKind::Payable),
                        AccountKey::of_unit(fund, counties[county], AccountKind::Expenditure),
                        amount,
                        Reason::InstitutionPayment,
                        cause(
                            RecordKind::InstitutionPayment,
                            &format!("{ym}/{}/{}/{}", scheme.as_str(), payee_name(payee), counties[county]),
                        ),
                        end,
                    ));
                }
            }
        }
        books.post(&batch)?;
        // Residents' critical-illness insurance bought from the resident fund, after January's run.
        if month == 0 && buys_critical {
            let approval = cause(RecordKind::AuditApproval, &format!("critical-illness-financing/{year}"));
            let mut pairs = Vec::new();
            for county in 0..3 {
                if critical[county].is_zero() {
                    continue;
                }
                pairs.extend(cross_fund_pair(
                    (
                        id(format!("sim/{year}/critical-financing/{}/out", counties[county])),
                        id(format!("sim/{year}/critical-financing/{}/in", counties[county])),
                    ),
                    FundUnit { fund: fund_of(FundScheme::Resident), unit: counties[county] },
                    FundUnit { fund: fund_of(FundScheme::ResidentCriticalIllness), unit: counties[county] },
                    critical[county],
                    Reason::AuditedAdjustment,
                    &approval,
                    end,
                ));
            }
            books.post(&pairs)?;
        }
    }

    // Year end: the levy on what each county collected for the levied funds.
    let levy = plan_levy(
        &LevyInputs {
            city: city_code,
            year,
            ratio_bp: financing.levy_ratio,
            rounding,
            value_date: last,
            bases: FUNDS
                .iter()
                .enumerate()
                .filter(|(_, f)| f.is_levied())
                .flat_map(|(f, &fund)| {
                    let lines = &lines;
                    (0..3).map(move |county| LevyBase {
                        contributor: counties[county],
                        fund: fund_of(fund),
                        collected_pooled_income_fen: lines[f][county].contributions + lines[f][county].subsidies,
                    })
                })
                .collect(),
        },
        |id| books.ledger.contains(id),
    )
    .map_err(ledger_error)?;
    books.post(&batch_of(&levy.transfers))?;
    let mut levied = [Fen::ZERO; FUNDS.len()];
    let mut adjustment_units: Vec<UnitLine> = counties.iter().map(|&c| UnitLine::new(c)).collect();
    for l in &levy.lines {
        let f = FUNDS.iter().position(|x| *x == l.fund.scheme).expect("a simulated fund");
        let county = counties.iter().position(|c| *c == l.contributor).expect("a county");
        lines[f][county].between_funds -= l.levy_fen;
        levied[f] += l.levy_fen;
        adjustment_units[county].between_funds += l.levy_fen;
    }

    // The deficit waterfall over every fund and county.
    let positions = FUNDS
        .iter()
        .enumerate()
        .flat_map(|(f, &fund)| {
            let lines = &lines;
            (0..3).map(move |county| {
                let line = &lines[f][county];
                // Income of the year, net of the critical-illness financing (not of the levy).
                FundPosition {
                    fund: fund_of(fund),
                    unit: counties[county],
                    income_fen: own_income_of(line, fund, critical[county]),
                    spending_fen: line.spending,
                    surplus_brought_forward_fen: line.opening,
                    target_score_bp: RatioBp::FULL,
                }
            })
        })
        .collect();
    let waterfall = plan_waterfall(
        &WaterfallInputs {
            city: city_code,
            year,
            value_date: last,
            rounding,
            adjustment_available_fen: books.balance(&AccountKey::special(adjustment)),
            city_share_when_met_bp: financing.city_share_when_met,
            positions,
        },
        |id| books.ledger.contains(id),
    )
    .map_err(ledger_error)?;
    books.post(&batch_of(&waterfall.transfers))?;
    let mut covered = [Fen::ZERO; FUNDS.len()];
    for w in &waterfall.lines {
        let f = FUNDS.iter().position(|x| *x == w.fund.scheme).expect("a simulated fund");
        let county = counties.iter().position(|c| *c == w.unit).expect("a county");
        lines[f][county].between_funds += w.from_adjustment_fen;
        lines[f][county].finance_cover += w.city_finance_fen + w.county_finance_fen;
        covered[f] += w.from_adjustment_fen;
        adjustment_units[county].between_funds -= w.from_adjustment_fen;
        if !w.deficit_fen.is_zero() {
            let note: Vec<String> = w.notes.iter().map(|n| n.en.clone()).collect();
            warnings.push(format!("{} {}: {}", COUNTIES[county].name, counties[county], note.join("; ")));
        }
    }

    check_invariants(&books.ledger).map_err(|breaches| {
        SimError::Books(breaches.iter().take(5).map(|b| format!("[{}] {b}", b.code())).collect::<Vec<_>>().join("; "))
    })?;

    // Statements, checked against the books, and the indicators.
    let thresholds = WarningThresholds::COMMON;
    let mut funds = Vec::new();
    for (f, &scheme) in FUNDS.iter().enumerate() {
        let fund = fund_of(scheme);
        let mut total = UnitLine::new(city_code);
        let mut units = Vec::new();
        for county in 0..3 {
            let mut line = lines[f][county];
            line.close();
            let stored_income = books
                .ledger
                .account(&AccountKey::of_unit(fund, counties[county], AccountKind::Income))
                .map_or(Fen::ZERO, |a| a.debits_posted_fen);
            let paid = books
                .ledger
                .account(&AccountKey::of_unit(fund, counties[county], AccountKind::Expenditure))
                .map_or(Fen::ZERO, |a| a.credits_posted_fen);
            if stored_income != line.contributions + line.subsidies || paid != line.spending {
                return Err(SimError::Books(format!(
                    "{fund} {}: income {} and spending {} in the statement, {stored_income} and {paid} in the books",
                    counties[county],
                    line.contributions + line.subsidies,
                    line.spending
                )));
            }
            let income = own_income_of(&line, scheme, critical[county]);
            indicate(&mut line, fund, year, income, &thresholds, rounding, &mut warnings, COUNTIES[county].name)?;
            total.add(&line);
            units.push(line);
        }
        total.finance_cover += advances[f];
        total.closing += advances[f];
        // The books: assets less what is owed to payees.
        let net: Fen = books
            .ledger
            .accounts()
            .filter(|a| a.key().fund == fund)
            .map(|a| match a.key().kind {
                AccountKind::Income | AccountKind::FiscalSpecial | AccountKind::Expenditure | AccountKind::Receivable => a.balance_fen(),
                AccountKind::Payable | AccountKind::PersonalAccount => Fen::ZERO - a.balance_fen(),
                AccountKind::InterFund | AccountKind::External => Fen::ZERO,
            })
            .sum();
        if net != total.closing {
            return Err(SimError::Books(format!("{fund}: the statement closes at {} but the books hold {net}", total.closing)));
        }
        let critical_total: Fen = critical.iter().copied().sum();
        let income = own_income_of(&total, scheme, critical_total);
        indicate(&mut total, fund, year, income, &thresholds, rounding, &mut warnings, "city")?;
        let by_layer = Layer::ALL
            .iter()
            .filter(|l| l.fund() == scheme)
            .map(|&l| {
                (
                    l,
                    (0..payees)
                        .flat_map(|p| (0..3).flat_map(move |c| (0..12).map(move |m| (p, c, m))))
                        .map(|(p, c, m)| spend_of(l, p, c, m))
                        .sum(),
                )
            })
            .collect();
        funds.push(FundLine { fund, units, total, by_layer, levy: levied[f], from_adjustment: covered[f], advances: advances[f] });
    }
    // The adjustment fund: what each county paid in, less what was drawn for it.
    let mut total = UnitLine::new(city_code);
    for line in &mut adjustment_units {
        line.close();
        total.add(line);
    }
    let held = books.balance(&AccountKey::special(adjustment));
    if held != total.closing {
        return Err(SimError::Books(format!("{adjustment}: the statement closes at {} but the books hold {held}", total.closing)));
    }
    funds.push(FundLine {
        fund: adjustment,
        units: adjustment_units,
        total,
        by_layer: Vec::new(),
        levy: levy.total_fen,
        from_adjustment: waterfall.adjustment_used_fen,
        advances: Fen::ZERO,
    });
    Ok((books.ledger, funds, warnings))
}

/// The income the indicators divide by: contributions and subsidies, with the
/// critical-illness financing moved out of (resident) or into (critical illness) the fund.
fn own_income_of(line: &UnitLine, scheme: FundScheme, critical: Fen) -> Fen {
    let moved = match scheme {
        FundScheme::Resident => Fen::ZERO - critical,
        FundScheme::ResidentCriticalIllness => critical,
        _ => Fen::ZERO,
    };
    (line.contributions + line.subsidies + moved).max(Fen::ZERO)
}

#[allow(clippy::too_many_arguments)]
fn indicate(
    line: &mut UnitLine,
    fund: Fund,
    year: i32,
    income: Fen,
    thresholds: &WarningThresholds,
    rounding: yibao_domain::Rounding,
    warnings: &mut Vec<String>,
    unit_name: &str,
) -> Result<(), SimError> {
    let found = indicators(
        &FundYear {
            fund,
            year,
            months_elapsed: 12,
            income_fen: income,
            spending_fen: line.spending,
            accumulated_surplus_fen: line.closing,
        },
        thresholds,
        rounding,
    )
    .map_err(ledger_error)?;
    line.own_income = income;
    line.surplus_rate_bp = found.surplus_rate_bp;
    line.months_covered_centi = found.months_covered_centi;
    for (_, note) in found.warnings {
        warnings.push(format!("{unit_name} {}: {}", line.unit, note.en));
    }
    Ok(())
}
