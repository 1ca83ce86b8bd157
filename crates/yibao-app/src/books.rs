//! The fund books (R-FND-1…7, R-SCH-2): the monthly pooling run and its preview, the
//! year-end close, budgets and county targets, handovers, legacy deficits, and what the
//! books hold. Fund accountants and city administrators act; auditors read. Each use case
//! is the one the API, the console and the CLI call.

use time::Date;
use yibao_domain::{RatioBp, RegionCode};
use yibao_store::closing::YearEndOptions;
use yibao_store::{
    BooksVerification, Budget, BudgetExecution, CountyTargets, FundStore as _, Movement, PoolingOutcome, TargetsProgress, YearEndOutcome,
    city_of,
};

pub use yibao_ledger::{AccountKind, AccountState, FundScheme, Holder, Reason, YearMonth};
pub use yibao_store::closing::{InterestLine, MonthIndicators, UnitTargets, YearEndRecord, income_and_spending};
pub use yibao_store::handover::{HandoverRequest, Inventory};
pub use yibao_store::legacy::{LegacyRepayment, LegacyRequest, LegacyView, TermsIn};
pub use yibao_store::pooling::{Payment, PoolingRun};

use crate::{App, AppError, Backend, Principal, roles, store};

/// Earliest and latest year a fund's year may be.
pub const FUND_YEAR_MIN: i32 = 2000;
pub const FUND_YEAR_MAX: i32 = 2100;

fn check_year(year: i32) -> Result<(), AppError> {
    if (FUND_YEAR_MIN..=FUND_YEAR_MAX).contains(&year) {
        Ok(())
    } else {
        Err(AppError::bad_request("fund.bad_year", format!("year is between {FUND_YEAR_MIN} and {FUND_YEAR_MAX}")))
    }
}

/// How a year-end close is to run: each figure left out is the policy pack's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YearCloseInput {
    pub year: i32,
    pub levy: Option<RatioBp>,
    pub city_share: Option<RatioBp>,
    pub targets: Vec<UnitTargets>,
}

impl App {
    /// The day a month's run is dated: `day`, or the pack's `fund.sweep_day`, else the
    /// month's last day.
    fn run_date(&self, scope: RegionCode, month: YearMonth, day: Option<u8>) -> Result<Date, AppError> {
        let day = match day {
            Some(day) => Some(day),
            None => yibao_store::pooling::sweep_day(&self.policy(), scope.city(), month)?,
        };
        Ok(yibao_store::pooling::run_date(month, day)?)
    }

    /// Runs a month's pooling for the principal's city: sweep, disburse, pay. An institution
    /// paid by monthly advances under its agreement is paid its advances, not its claims as
    /// billed (`held_back_for`); a claim held by monitoring is not paid until its flags are
    /// decided (`held_for_review`). A month runs once; running it again returns the first record.
    pub async fn run_pooling(
        &self,
        principal: &Principal,
        source: &str,
        month: YearMonth,
        day: Option<u8>,
    ) -> Result<PoolingOutcome, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        let value_date = self.run_date(scope, month, day)?;
        // A month runs once: run on a day still to come, it would sweep only what had come in
        // so far and leave the rest of the month's income unswept for good.
        self.not_after_today("fund.bad_date", "a pooling run dated", value_date)?;
        let held_back = self.held_back_unless_run(scope, month, value_date).await?;
        Ok(store!(self, run_pooling(&principal.actor(source, self.now()), scope, month, value_date, held_back))?)
    }

    /// What running a month's pooling would do now, without doing it.
    pub async fn preview_pooling(&self, principal: &Principal, month: YearMonth, day: Option<u8>) -> Result<PoolingOutcome, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        let value_date = self.run_date(scope, month, day)?;
        let held_back = self.held_back_unless_run(scope, month, value_date).await?;
        Ok(store!(self, preview_pooling(scope, month, value_date, held_back))?)
    }

    /// What the run of `month` holds back, or nothing for a month run already: the store
    /// answers that with its first record, so the payment years are not computed for it.
    async fn held_back_unless_run(
        &self,
        scope: RegionCode,
        month: YearMonth,
        value_date: Date,
    ) -> Result<Vec<yibao_store::pooling::HeldBack>, AppError> {
        let month_text = month.to_string();
        if store!(self, pooling_runs(scope))?.iter().any(|run| run.month == month_text) {
            return Ok(Vec::new());
        }
        let mut held = self.held_back_for(month, value_date).await?;
        held.extend(self.held_for_review(scope, value_date).await?);
        // What administrators pay from their revolving funds, the run does not (issue 18).
        let administered = self.held_for_administrators(scope, month, value_date, &held).await?;
        held.extend(administered);
        Ok(held)
    }

    /// The pooling runs of the principal's city, newest first.
    pub async fn pooling_runs(&self, principal: &Principal) -> Result<Vec<PoolingRun>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        Ok(store!(self, pooling_runs(scope))?)
    }

    /// The figures a year-end close would use when given none: the pack's, on the year's
    /// last day.
    pub fn year_end_defaults(&self, scope: RegionCode, year: i32) -> Result<YearEndOptions, AppError> {
        check_year(year)?;
        let year_end =
            Date::from_calendar_date(year, time::Month::December, 31).map_err(|e| AppError::bad_request("fund.bad_year", e.to_string()))?;
        Ok(YearEndOptions::from_policy(&self.policy(), scope.city(), year_end)?)
    }

    /// The options of a close asked for: the request's figures, the pack's where it is
    /// silent. A year that has not begun has nothing to close or preview; the city must be
    /// the one whose pack is in force (a city the store does not serve has no books).
    fn close_options(&self, scope: RegionCode, input: YearCloseInput) -> Result<YearEndOptions, AppError> {
        if input.year > self.today().year() {
            return Err(AppError::bad_request(
                "fund.period_not_ended",
                format!("{} has not begun: a year is closed after it ends", input.year),
            ));
        }
        let city = self.policy().region;
        if scope.city() != city {
            return Err(AppError::bad_request(
                "region.unknown",
                format!("{} is not this city ({city}): it has no books here", scope.city()),
            ));
        }
        // Targets name the city's counties, each once (the hostile review found others taken).
        let mut named = std::collections::BTreeSet::new();
        for targets in &input.targets {
            self.check_county(targets.unit)?;
            if !named.insert(targets.unit) {
                return Err(AppError::bad_request("fund.bad_unit", format!("{} has targets twice", targets.unit)));
            }
        }
        let defaults = self.year_end_defaults(scope, input.year)?;
        Ok(YearEndOptions {
            levy_ratio_bp: input.levy.unwrap_or(defaults.levy_ratio_bp),
            city_share_when_met_bp: input.city_share.unwrap_or(defaults.city_share_when_met_bp),
            targets: input.targets,
            ..defaults
        })
    }

    /// Closes a year for the principal's city: the adjustment-fund levy, the deficit
    /// waterfall, the indicators. A year closes once.
    pub async fn close_year(&self, principal: &Principal, source: &str, input: YearCloseInput) -> Result<YearEndOutcome, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        let year = input.year;
        // A year is closed after it ends: closed earlier, its last weeks could not be
        // settled, paid or pooled (the closed year is final), and its levy would miss them.
        let today = self.today();
        if year >= today.year() {
            return Err(AppError::bad_request(
                "fund.period_not_ended",
                format!(
                    "{year} ends on {year}-12-31 and today is {today}: a year is closed after it ends (its dry run shows the close so far)"
                ),
            ));
        }
        let options = self.close_options(scope, input)?;
        Ok(store!(self, close_year(&principal.actor(source, self.now()), scope, year, options))?)
    }

    /// What closing a year would do now, as the books stand, without doing it (a dry run,
    /// issue 13): the same figures the close would post. A year already closed gives the
    /// record of its close.
    pub async fn preview_year_end(&self, principal: &Principal, input: YearCloseInput) -> Result<yibao_store::YearEndPreview, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        let year = input.year;
        let options = self.close_options(scope, input)?;
        Ok(store!(self, preview_year_end(scope, year, options))?)
    }

    /// The early-warning indicators of every fund and unit in the principal's region at the
    /// end of each completed month of `year` (R-FND-4; issue 13: month by month on the
    /// dashboard, not only at the close): the months before this one for this year (a month
    /// under way would count whole in the average spending and overstate the months
    /// covered), all twelve for a past one, under the thresholds the pack sets for the year
    /// (for a year outside the pack's period, those of its nearest day).
    pub async fn monthly_indicators(&self, principal: &Principal, year: i32) -> Result<Vec<MonthIndicators>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        check_year(year)?;
        let policy = self.policy();
        if scope.city() != policy.region {
            return Err(AppError::bad_request(
                "region.unknown",
                format!("{} is not this city ({}): it has no books here", scope.city(), policy.region),
            ));
        }
        let today = self.today();
        let months = match year.cmp(&today.year()) {
            std::cmp::Ordering::Less => 12,
            std::cmp::Ordering::Equal => u8::from(today.month()) - 1,
            std::cmp::Ordering::Greater => {
                return Err(AppError::bad_request("fund.period_not_ended", format!("{year} has not begun: it has no months yet")));
            }
        };
        let (first, _) = yibao_store::closing::year_bounds(year)?;
        let day_before = first.previous_day().ok_or_else(|| AppError::bad_request("fund.bad_year", "the year has no day before it"))?;
        let before = store!(self, fund_movements(scope, yibao_store::books::BOOKS_EPOCH, day_before))?;
        let mut movements = Vec::with_capacity(usize::from(months));
        for month in 1..=months {
            let month = YearMonth::new(year, month).ok_or_else(|| AppError::bad_request("fund.bad_period", format!("{year}-{month}")))?;
            movements.push(store!(self, fund_movements(scope, month.first_day(), month.last_day()))?);
        }
        let (_, year_end) = yibao_store::closing::year_bounds(year)?;
        let on = policy.effective_until.map_or(year_end, |until| year_end.min(until)).max(policy.effective_from);
        // Only the thresholds: the close's levy and shares do not enter the indicators.
        let thresholds = yibao_store::closing::thresholds_from_policy(&policy, scope.city(), on)?;
        Ok(yibao_store::closing::monthly_indicators(scope.city(), year, &before, &movements, &thresholds, policy.rounding)?)
    }

    /// The year-end closes of the principal's city, newest first.
    pub async fn year_closes(&self, principal: &Principal) -> Result<Vec<YearEndRecord>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        Ok(store!(self, year_closes(scope))?)
    }

    /// Sets or revises a county's targets for a year (R-ENR-6).
    pub async fn set_targets(&self, principal: &Principal, source: &str, targets: CountyTargets) -> Result<CountyTargets, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        check_year(targets.year)?;
        store!(self, set_targets(&principal.actor(source, self.now()), scope, targets.clone()))?;
        Ok(targets)
    }

    /// The counties' targets for a year and how far each has come.
    pub async fn targets(&self, principal: &Principal, year: i32) -> Result<Vec<TargetsProgress>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        check_year(year)?;
        Ok(store!(self, targets(scope, year))?)
    }

    /// The counties' targets for a year and how far each has come, as the staff console's
    /// dashboard shows them to every staff role beside each county's enrolment and
    /// collection (R-ENR-6): the bureau's plan and its progress, no one's personal data.
    /// Setting targets stays with the fund writers ([`App::set_targets`]).
    pub async fn county_targets(&self, principal: &Principal, year: i32) -> Result<Vec<TargetsProgress>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        check_year(year)?;
        Ok(store!(self, targets(scope, year))?)
    }

    /// Sets or revises a fund's budget for a year and unit (R-FND-3).
    pub async fn set_budget(&self, principal: &Principal, source: &str, budget: Budget) -> Result<Budget, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        check_year(budget.year)?;
        store!(self, set_budget(&principal.actor(source, self.now()), scope, budget.clone()))?;
        // The payment year spends the budgeted income: its last run is stale.
        self.forget_payment_year();
        Ok(budget)
    }

    /// The budgets of a year in the principal's region.
    pub async fn budgets(&self, principal: &Principal, year: i32) -> Result<Vec<Budget>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        check_year(year)?;
        Ok(store!(self, budgets(scope, year))?)
    }

    /// Budget execution through `month` (R-FND-3): every budget of the year in the
    /// principal's region, with what was booked against it.
    pub async fn budget_execution(&self, principal: &Principal, year: i32, month: u8) -> Result<Vec<BudgetExecution>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        check_year(year)?;
        if !(1..=12).contains(&month) {
            return Err(AppError::bad_request("fund.bad_period", "month is 1 to 12"));
        }
        Ok(match &*self.store {
            Backend::Sqlite(s) => yibao_store::budget_execution(s, scope, year, month).await,
            Backend::Postgres(s) => yibao_store::budget_execution(s, scope, year, month).await,
        }?)
    }

    /// Prepares and signs the inventory of a fund to hand over at its cut-off (R-FND-7).
    pub async fn prepare_handover(&self, principal: &Principal, source: &str, request: HandoverRequest) -> Result<Inventory, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        self.not_after_today("fund.bad_date", "a handover's cut-off", request.cut_off)?;
        Ok(store!(self, prepare_handover(&principal.actor(source, self.now()), scope, request))?)
    }

    /// The receiving side confirms a handover with the inventory's checksum.
    pub async fn confirm_handover(
        &self,
        principal: &Principal,
        source: &str,
        reference: &str,
        checksum: &str,
    ) -> Result<Inventory, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        Ok(store!(self, confirm_handover(&principal.actor(source, self.now()), scope, reference, checksum))?)
    }

    /// The handovers of the principal's city, with their inventories.
    pub async fn handovers(&self, principal: &Principal) -> Result<Vec<Inventory>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        Ok(store!(self, handovers(scope))?)
    }

    /// Establishes a county's legacy deficit with its repayment terms (R-FND-6).
    pub async fn establish_legacy_deficit(
        &self,
        principal: &Principal,
        source: &str,
        request: LegacyRequest,
    ) -> Result<LegacyView, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        Ok(store!(self, establish_legacy_deficit(&principal.actor(source, self.now()), scope, request))?)
    }

    /// Books a repayment (or the city's withholding) of a county's legacy gap, dated not
    /// after today.
    pub async fn record_legacy_repayment(
        &self,
        principal: &Principal,
        source: &str,
        repayment: LegacyRepayment,
    ) -> Result<LegacyView, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        self.not_after_today("fund.bad_date", "a repayment dated", repayment.on)?;
        Ok(store!(self, record_legacy_repayment(&principal.actor(source, self.now()), scope, repayment))?)
    }

    /// What each county still owes of its legacy deficit as of a day (default today).
    pub async fn legacy_deficits(&self, principal: &Principal, as_of: Option<Date>) -> Result<Vec<LegacyView>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        let as_of = as_of.unwrap_or_else(|| self.today());
        Ok(store!(self, legacy_deficits(scope, as_of))?)
    }

    /// The trial balance of the principal's city: every account with its totals.
    pub async fn fund_accounts(&self, principal: &Principal) -> Result<Vec<AccountState>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        Ok(store!(self, fund_accounts(scope))?)
    }

    /// Movements by fund, unit and reason over a period (a county's staff see their own).
    pub async fn fund_movements(&self, principal: &Principal, from: Date, to: Date) -> Result<Vec<Movement>, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        if from > to {
            return Err(AppError::bad_request("fund.bad_period", "from is after to"));
        }
        Ok(store!(self, fund_movements(scope, from, to))?)
    }

    /// The cities whose books the store holds (the operator's command line).
    pub async fn fund_cities(&self, principal: &Principal) -> Result<Vec<RegionCode>, AppError> {
        principal.system()?;
        Ok(store!(self, fund_cities())?)
    }

    /// Checks every ledger invariant over every city's books (the operator's command line).
    pub async fn check_all_books(&self, principal: &Principal) -> Result<BooksVerification, AppError> {
        principal.system()?;
        Ok(match &*self.store {
            Backend::Sqlite(s) => yibao_store::verify_books(s).await,
            Backend::Postgres(s) => yibao_store::verify_books(s).await,
        }?)
    }

    /// Checks every ledger invariant over the principal's city's books.
    pub async fn check_books(&self, principal: &Principal) -> Result<BooksVerification, AppError> {
        let scope = principal.scope(roles::FUND_READERS)?;
        let city = city_of(scope)?;
        let mut verification = BooksVerification::default();
        match &*self.store {
            Backend::Sqlite(s) => yibao_store::verify_city_books(s, city, &mut verification).await,
            Backend::Postgres(s) => yibao_store::verify_city_books(s, city, &mut verification).await,
        }?;
        Ok(verification)
    }
}
