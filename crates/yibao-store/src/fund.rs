//! The fund books as the store serves them: the monthly pooling run, the accounts, the
//! transfers, and the movements reports are made of (R-FND-1…4). Reads are scoped like every
//! other read: a city's staff see its funds; a county's staff see the movements its own
//! business caused and nothing of other counties (R-GEO-2).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use serde::Serialize;
use time::Date;
use yibao_domain::{Fen, NationalId, RegionCode, RegionLevel};
use yibao_ledger::{AccountKey, AccountKind, AccountState, Breach, FundScheme, Holder, RecordKind, YearMonth};

use crate::books::Entry;
use crate::pooling::PoolingRun;
use crate::{Actor, StoreError};

/// The most transfers one page of [`FundStore::fund_entries`] returns.
pub const ENTRIES_PAGE_LIMIT: i64 = 100_000;

/// The sum of the transfers of one fund, unit and reason over a period, and the account
/// kinds they moved between: the rows every fund report is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Movement {
    pub fund_scheme: yibao_ledger::FundScheme,
    /// The county (or the city) whose business caused the transfers.
    pub unit: RegionCode,
    pub reason: yibao_ledger::Reason,
    pub debit_kind: yibao_ledger::AccountKind,
    pub credit_kind: yibao_ledger::AccountKind,
    pub transfers: i64,
    pub amount_fen: yibao_domain::Fen,
}

impl Movement {
    /// A movement row as both backends group it (text columns, integer fen), every value
    /// parsed once: a value no store writes is [`StoreError::Backend`].
    pub fn from_columns(
        fund_scheme: &str,
        unit: &str,
        reason: &str,
        debit_kind: &str,
        credit_kind: &str,
        transfers: i64,
        amount_fen: i64,
    ) -> Result<Movement, StoreError> {
        let unreadable = |what: &str, text: &str| StoreError::Backend(format!("a stored {what} '{text}' is unreadable"));
        let kind = |text: &str| yibao_ledger::AccountKind::parse(text).ok_or_else(|| unreadable("account kind", text));
        Ok(Movement {
            fund_scheme: yibao_ledger::FundScheme::parse(fund_scheme).ok_or_else(|| unreadable("fund", fund_scheme))?,
            unit: crate::stored::region_of(unit)?,
            reason: yibao_ledger::Reason::parse(reason).ok_or_else(|| unreadable("reason", reason))?,
            debit_kind: kind(debit_kind)?,
            credit_kind: kind(credit_kind)?,
            transfers,
            amount_fen: yibao_domain::Fen::checked_total(amount_fen)
                .ok_or_else(|| StoreError::Backend(format!("a stored total of {amount_fen} fen is out of range")))?,
        })
    }
}

/// What a pooling run did, and whether this call did it (`false`: the month had been run,
/// and this is its record; nothing changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolingOutcome {
    pub run: PoolingRun,
    pub ran_now: bool,
}

/// What a year-end close did, and whether this call did it (`false`: the year had been
/// closed, and this is its record; nothing changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct YearEndOutcome {
    pub record: crate::closing::YearEndRecord,
    pub ran_now: bool,
}

/// What closing a year would do, without doing it (a dry run), or, when the year is
/// closed already (`closed`), the record of its close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct YearEndPreview {
    pub record: crate::closing::YearEndRecord,
    pub closed: bool,
}

/// A county's targets for a year (R-ENR-6: 扩面任务、征收任务), set by the city.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CountyTargets {
    pub year: i32,
    pub unit: String,
    /// Persons to be insured.
    pub enrolment_target: u32,
    /// Contributions to be collected, fen.
    pub collection_target_fen: i64,
}

impl CountyTargets {
    pub fn check(&self) -> Result<RegionCode, StoreError> {
        let unit = RegionCode::parse(&self.unit).map_err(|e| StoreError::Invalid(format!("unit: {e}")))?;
        if !(2000..=2100).contains(&self.year) {
            return Err(StoreError::Invalid("a target's year is between 2000 and 2100".into()));
        }
        if !(0..=yibao_domain::TOTAL_LIMIT_FEN).contains(&self.collection_target_fen) {
            return Err(StoreError::Invalid("a collection target is not negative".into()));
        }
        Ok(unit)
    }
}

/// A county's targets and how far it has come: persons enrolled in it now, and what its
/// insured paid for periods of the year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetsProgress {
    pub targets: CountyTargets,
    pub enrolled: u32,
    pub collected_fen: i64,
    /// Enrolled ÷ target and collected ÷ target, basis points (none for a zero target).
    pub enrolment_rate_bp: Option<i64>,
    pub collection_rate_bp: Option<i64>,
}

impl TargetsProgress {
    #[must_use]
    pub fn new(targets: CountyTargets, enrolled: u32, collected_fen: i64) -> TargetsProgress {
        let rate = |done: i64, target: i64| {
            (target > 0).then(|| yibao_domain::Rounding::HalfUp.round_div(i128::from(done) * 10_000, i128::from(target)))
        };
        TargetsProgress {
            enrolment_rate_bp: rate(i64::from(enrolled), i64::from(targets.enrolment_target)),
            collection_rate_bp: rate(collected_fen, targets.collection_target_fen),
            targets,
            enrolled,
            collected_fen,
        }
    }

    /// The waterfall's view of it (R-ENR-6).
    pub fn unit_targets(&self) -> Result<crate::closing::UnitTargets, StoreError> {
        Ok(crate::closing::UnitTargets {
            unit: self.targets.check()?,
            enrolment_target: self.targets.enrolment_target,
            enrolled: self.enrolled,
            collection_target_fen: self.targets.collection_target_fen,
            collected_fen: self.collected_fen,
        })
    }
}

/// A fund's budget for a year and a unit (R-FND-3): the income and spending the bureau
/// planned, against which execution is reported month by month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Budget {
    pub year: i32,
    pub fund_scheme: String,
    pub unit: String,
    pub income_fen: i64,
    pub spending_fen: i64,
}

impl Budget {
    pub fn check(&self) -> Result<(yibao_ledger::FundScheme, RegionCode), StoreError> {
        let scheme = yibao_ledger::FundScheme::parse(&self.fund_scheme)
            .filter(|s| *s != yibao_ledger::FundScheme::MunicipalAdjustment)
            .ok_or_else(|| StoreError::Invalid(format!("'{}' is not a fund with a budget", self.fund_scheme)))?;
        let unit = RegionCode::parse(&self.unit).map_err(|e| StoreError::Invalid(format!("unit: {e}")))?;
        if !(2000..=2100).contains(&self.year) {
            return Err(StoreError::Invalid("a budget's year is between 2000 and 2100".into()));
        }
        let amount_ok = |fen: i64| (0..=yibao_domain::TOTAL_LIMIT_FEN).contains(&fen);
        if !amount_ok(self.income_fen) || !amount_ok(self.spending_fen) {
            return Err(StoreError::Invalid("a budget's amounts are not negative".into()));
        }
        Ok((scheme, unit))
    }
}

/// A budget's execution: what was booked month by month against it (cumulative).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BudgetExecution {
    pub budget: Budget,
    /// `(month, income so far, spending so far)` in fen, January first.
    pub months: Vec<(u8, i64, i64)>,
    /// Income and spending so far as shares of the budget, basis points (none for a zero budget).
    pub income_executed_bp: Option<i64>,
    pub spending_executed_bp: Option<i64>,
}

/// A fund and unit as movements and budgets name them: (fund scheme, unit code).
type FundUnitKey = (String, String);

/// Every budget of `year` in `scope` with its execution month by month (R-FND-3), up to
/// `through_month` (12 for the final accounts).
pub async fn budget_execution<S: FundStore>(
    store: &S,
    scope: RegionCode,
    year: i32,
    through_month: u8,
) -> Result<Vec<BudgetExecution>, StoreError> {
    let budgets = store.budgets(scope, year).await?;
    // Keyed by (fund scheme, unit).
    let mut monthly: BTreeMap<FundUnitKey, Vec<(u8, i64, i64)>> = BTreeMap::new();
    let mut income_so_far: BTreeMap<FundUnitKey, i64> = BTreeMap::new();
    let mut spending_so_far: BTreeMap<FundUnitKey, i64> = BTreeMap::new();
    for month in 1..=through_month.min(12) {
        let ym = YearMonth::new(year, month).ok_or_else(|| StoreError::Invalid(format!("{year}-{month:02} is not a month")))?;
        for m in store.fund_movements(scope, ym.first_day(), ym.last_day()).await? {
            let (income, spending) = crate::closing::income_and_spending(&m);
            let key = (m.fund_scheme.as_str().to_owned(), m.unit.to_string());
            *income_so_far.entry(key.clone()).or_default() += income;
            *spending_so_far.entry(key).or_default() += spending;
        }
        for b in &budgets {
            let key = (b.fund_scheme.clone(), b.unit.clone());
            let row = (month, income_so_far.get(&key).copied().unwrap_or(0), spending_so_far.get(&key).copied().unwrap_or(0));
            monthly.entry(key).or_default().push(row);
        }
    }
    let share = |done: i64, planned: i64| {
        (planned > 0).then(|| yibao_domain::Rounding::HalfUp.round_div(i128::from(done) * 10_000, i128::from(planned)))
    };
    Ok(budgets
        .into_iter()
        .map(|budget| {
            let months = monthly.remove(&(budget.fund_scheme.clone(), budget.unit.clone())).unwrap_or_default();
            let (income, spending) = months.last().map_or((0, 0), |&(_, i, s)| (i, s));
            BudgetExecution {
                income_executed_bp: share(income, budget.income_fen),
                spending_executed_bp: share(spending, budget.spending_fen),
                budget,
                months,
            }
        })
        .collect())
}

/// City-level staff only: pooling, and the whole books, belong to the city (R-FND-2).
pub fn city_of(scope: RegionCode) -> Result<RegionCode, StoreError> {
    match scope.level() {
        RegionLevel::City => Ok(scope),
        _ => Err(StoreError::OutsideRegion { asked: scope.city().to_string(), scope: scope.to_string() }),
    }
}

/// Money a fund receives from outside its business records, booked by a fund accountant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptKind {
    /// 期初余额: the fund's balance brought in when the books start (R-SYS-3), held in the
    /// special account and owned by the unit that accumulated it.
    OpeningBalance,
    /// 财政垫付: city finance advances what the special account lacks (R-FND-5), booked as
    /// a deficit cover from city finance.
    FinanceAdvance,
}

/// A booking as its audit entry records it, for the book check to book it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audited<T> {
    pub record: T,
    /// False for an entry written by v0.1.0, which did not record the booking's value date:
    /// the record's date is then a placeholder and the check takes the books' date
    /// (`RunReplay::dated_by_books`).
    pub value_date_recorded: bool,
}

/// A receipt into a fund's special account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundReceipt {
    pub kind: ReceiptKind,
    pub scheme: yibao_ledger::FundScheme,
    /// The unit whose money it is (opening balance) or for whom it is advanced.
    pub unit: RegionCode,
    pub amount_fen: yibao_domain::Fen,
    pub value_date: Date,
    /// The voucher or approval it is booked on: 1 to 40 printable ASCII characters,
    /// unique per fund (a second booking on the same reference is a replay).
    pub reference: String,
}

impl FundReceipt {
    /// Its audit entry's detail: the transfer it posted and everything it was booked with,
    /// so the book check can book it again from the audit trail alone.
    pub fn audit_detail(&self, entry: &Entry) -> String {
        serde_json::json!({
            "transfer": entry.transfer.id.as_str(),
            "amount_fen": self.amount_fen.get(),
            "kind": self.kind,
            "scheme": self.scheme.as_str(),
            "unit": self.unit.to_string(),
            "value_date": crate::books::date_text(self.value_date),
            "reference": self.reference,
        })
        .to_string()
    }

    /// The receipt a `fund.receipt` audit entry records ([`FundReceipt::audit_detail`]).
    /// An entry written by v0.1.0 recorded only the transfer and its amount: the rest is
    /// read from the transfer's id, which names the kind, fund, unit and reference, and the
    /// value date is left to the books ([`Audited::value_date_recorded`] false).
    pub fn from_audit_detail(detail: &str) -> Result<Audited<FundReceipt>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Detail {
            amount_fen: i64,
            kind: Option<ReceiptKind>,
            scheme: Option<String>,
            unit: Option<String>,
            value_date: Option<String>,
            reference: Option<String>,
            transfer: Option<String>,
        }
        let bad = |what: &str| StoreError::Backend(format!("a receipt's audit detail is unreadable: {what}"));
        let d: Detail = serde_json::from_str(detail).map_err(|e| bad(&e.to_string()))?;
        let amount_fen = yibao_domain::Fen::checked(d.amount_fen).ok_or_else(|| bad("amount"))?;
        let parse = |scheme: &str, unit: &str| -> Result<_, StoreError> {
            Ok((yibao_ledger::FundScheme::parse(scheme).ok_or_else(|| bad("scheme"))?, RegionCode::parse(unit).map_err(|_| bad("unit"))?))
        };
        match (d.kind, d.scheme, d.unit, d.value_date, d.reference) {
            (Some(kind), Some(scheme), Some(unit), Some(value_date), Some(reference)) => {
                let (scheme, unit) = parse(&scheme, &unit)?;
                let receipt = FundReceipt { kind, scheme, unit, amount_fen, value_date: crate::books::date_of(&value_date)?, reference };
                Ok(Audited { record: receipt, value_date_recorded: true })
            }
            (None, None, None, None, None) => {
                // v0.1.0: `{prefix}/{scheme}@{city}/{unit}/{reference}`.
                let transfer = d.transfer.ok_or_else(|| bad("neither the receipt nor its transfer"))?;
                let parts: Vec<&str> = transfer.split('/').collect();
                let [prefix, fund, unit, reference] = parts[..] else { return Err(bad("its transfer id")) };
                let kind = match prefix {
                    "opening" => ReceiptKind::OpeningBalance,
                    "advance" => ReceiptKind::FinanceAdvance,
                    _ => return Err(bad("its transfer id")),
                };
                let (scheme, _) = fund.split_once('@').ok_or_else(|| bad("its transfer id"))?;
                let (scheme, unit) = parse(scheme, unit)?;
                let receipt = FundReceipt { kind, scheme, unit, amount_fen, value_date: Date::MIN, reference: reference.to_owned() };
                Ok(Audited { record: receipt, value_date_recorded: false })
            }
            _ => Err(bad("some of kind, scheme, unit, value_date and reference are missing")),
        }
    }

    /// The entry it posts: special account ← the payer's outside-world account.
    pub fn entry(&self) -> Result<Entry, StoreError> {
        use yibao_ledger::{AccountKey, AccountKind, BusinessRef, Holder, Reason, RecordKind, Transfer, TransferId};
        if self.amount_fen.get() <= 0 {
            return Err(StoreError::Invalid("a receipt's amount must be positive".into()));
        }
        let adjustment = self.scheme == yibao_ledger::FundScheme::MunicipalAdjustment;
        if adjustment && (self.kind != ReceiptKind::OpeningBalance || self.unit.level() != yibao_domain::RegionLevel::County) {
            return Err(StoreError::Invalid(
                "the adjustment fund receives the levy, and as an opening balance what one county paid into it before these books (R-FND-5)"
                    .into(),
            ));
        }
        let ok =
            !self.reference.is_empty() && self.reference.len() <= 40 && self.reference.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        if !ok {
            return Err(StoreError::Invalid("a reference has 1 to 40 printable ASCII characters, no '/'".into()));
        }
        let fund = crate::books::fund_for(self.scheme, self.unit);
        let (payer, reason, cause_kind, prefix) = match self.kind {
            ReceiptKind::OpeningBalance => (Holder::Region(self.unit), Reason::Handover, RecordKind::OpeningBalance, "opening"),
            ReceiptKind::FinanceAdvance => (Holder::Finance(fund.region), Reason::DeficitCover, RecordKind::DeficitWaterfall, "advance"),
        };
        let id = TransferId::parse(&format!("{prefix}/{fund}/{}/{}", self.unit, self.reference))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let cause =
            BusinessRef::new(cause_kind, &format!("{prefix}/{}", self.reference)).map_err(|e| StoreError::Invalid(e.to_string()))?;
        // Into the adjustment fund, the county's own outside-world account: what it paid in
        // before these books, which offsets a legacy deficit of the county as the levy
        // booked here does (`legacy::paid_in_accounts`, R-FND-6, issue 13).
        let from = AccountKey::new(fund, payer, AccountKind::External);
        Ok(Entry {
            unit: self.unit,
            transfer: Transfer::new(id, AccountKey::special(fund), from, self.amount_fen, reason, cause, self.value_date),
        })
    }
}

pub trait FundStore: Send + Sync + 'static {
    /// Books a receipt into a fund (city staff), with its audit entry. Booking the same
    /// reference again with the same content changes nothing.
    fn record_fund_receipt(
        &self,
        actor: &Actor,
        scope: RegionCode,
        receipt: FundReceipt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Runs `month`'s pooling for the city of `scope` on `value_date`, in one transaction
    /// with its record and audit entry; a month already run returns its record unchanged.
    /// `held_back` is what institutions paid by advances are not paid yet (issue 15).
    fn run_pooling(
        &self,
        actor: &Actor,
        scope: RegionCode,
        month: YearMonth,
        value_date: Date,
        held_back: Vec<crate::pooling::HeldBack>,
    ) -> impl Future<Output = Result<PoolingOutcome, StoreError>> + Send;

    /// Closes `year` for the city of `scope` (31 December): the adjustment-fund levy, the
    /// deficit waterfall and the indicators, in one transaction with its record and audit
    /// entry; a year already closed returns its record unchanged.
    fn close_year(
        &self,
        actor: &Actor,
        scope: RegionCode,
        year: i32,
        options: crate::closing::YearEndOptions,
    ) -> impl Future<Output = Result<YearEndOutcome, StoreError>> + Send;

    /// Credits each of the city's funds the interest on its special account's daily balance
    /// over `from..=to` at `annual_rate_bp` (分别计息, R-SCH-2), rounded once per fund by
    /// `rounding` (the pack's rule), in one transaction with its audit entry. Crediting the
    /// same period again changes nothing.
    fn credit_interest(
        &self,
        actor: &Actor,
        scope: RegionCode,
        from: Date,
        to: Date,
        annual_rate_bp: yibao_domain::RatioBp,
        rounding: yibao_domain::Rounding,
    ) -> impl Future<Output = Result<Vec<crate::closing::InterestLine>, StoreError>> + Send;

    /// Books a payment year's clearing (issue 15) for the city of `scope`: plans it from the
    /// record's lines, posts it, keeps the record and writes its audit entry, in one
    /// transaction. A year cleared before returns its first record unchanged.
    fn clear_payment_year(
        &self,
        actor: &Actor,
        scope: RegionCode,
        clearing: crate::payment_clearing::PaymentClearing,
    ) -> impl Future<Output = Result<crate::payment_clearing::ClearingOutcome, StoreError>> + Send;

    /// The payment years' clearings of the city of `scope`, newest first.
    fn payment_clearings(
        &self,
        scope: RegionCode,
    ) -> impl Future<Output = Result<Vec<crate::payment_clearing::PaymentClearing>, StoreError>> + Send;

    /// The year-end closes of the city of `scope`, newest first.
    fn year_closes(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<crate::closing::YearEndRecord>, StoreError>> + Send;

    /// What `run_pooling` would do for `month` on `value_date` as the books stand now,
    /// without doing it (the accountant's preview). A month already run gives its record.
    fn preview_pooling(
        &self,
        scope: RegionCode,
        month: YearMonth,
        value_date: Date,
        held_back: Vec<crate::pooling::HeldBack>,
    ) -> impl Future<Output = Result<PoolingOutcome, StoreError>> + Send;

    /// What closing `year` would do now, as the books stand (the levy, the deficit
    /// waterfall, the indicators), without doing it: a dry run (issue 13). A year already
    /// closed gives the record of its close.
    fn preview_year_end(
        &self,
        scope: RegionCode,
        year: i32,
        options: crate::closing::YearEndOptions,
    ) -> impl Future<Output = Result<YearEndPreview, StoreError>> + Send;

    /// Sets (or revises) a fund's budget for a year and unit in the city of `scope` (city
    /// staff), with its audit entry.
    fn set_budget(&self, actor: &Actor, scope: RegionCode, budget: Budget) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sets (or revises) a county's targets for a year (city staff), with its audit entry.
    fn set_targets(&self, actor: &Actor, scope: RegionCode, targets: CountyTargets) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The targets of `year` for units in `scope`, with how far each has come. The
    /// year-end close scores the counties by them when it is given no targets.
    fn targets(&self, scope: RegionCode, year: i32) -> impl Future<Output = Result<Vec<TargetsProgress>, StoreError>> + Send;

    /// The budgets of `year` for units in `scope`.
    fn budgets(&self, scope: RegionCode, year: i32) -> impl Future<Output = Result<Vec<Budget>, StoreError>> + Send;

    /// Prepares and signs the inventory of a fund to hand over at its cut-off (R-FND-7):
    /// refused if the fund has transfers dated after the cut-off, or the reference is taken.
    fn prepare_handover(
        &self,
        actor: &Actor,
        scope: RegionCode,
        request: crate::handover::HandoverRequest,
    ) -> impl Future<Output = Result<crate::handover::Inventory, StoreError>> + Send;

    /// The receiving side confirms a handover by quoting its checksum: another person than
    /// who signed it, and only if the books still match the inventory; then every balance
    /// moves to the receiving fund, in one transaction with the confirmation.
    fn confirm_handover(
        &self,
        actor: &Actor,
        scope: RegionCode,
        reference: &str,
        checksum: &str,
    ) -> impl Future<Output = Result<crate::handover::Inventory, StoreError>> + Send;

    /// The handovers of the city of `scope`.
    fn handovers(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<crate::handover::Inventory>, StoreError>> + Send;

    /// Establishes a county's legacy deficit once (R-FND-6): its offset from the adjustment
    /// fund and the receivable from county finance posted, the request kept.
    fn establish_legacy_deficit(
        &self,
        actor: &Actor,
        scope: RegionCode,
        request: crate::legacy::LegacyRequest,
    ) -> impl Future<Output = Result<crate::legacy::LegacyView, StoreError>> + Send;

    /// Books a repayment (or the city's withholding) of a county's legacy gap.
    fn record_legacy_repayment(
        &self,
        actor: &Actor,
        scope: RegionCode,
        repayment: crate::legacy::LegacyRepayment,
    ) -> impl Future<Output = Result<crate::legacy::LegacyView, StoreError>> + Send;

    /// Every legacy deficit of counties in `scope`: what each still owes on `as_of`, and any
    /// missed instalment.
    fn legacy_deficits(
        &self,
        scope: RegionCode,
        as_of: Date,
    ) -> impl Future<Output = Result<Vec<crate::legacy::LegacyView>, StoreError>> + Send;

    /// Every legacy deficit of the city of `scope` as it was established (its stored
    /// request), for the book check.
    fn legacy_requests(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<crate::legacy::LegacyRequest>, StoreError>> + Send;

    /// Every budget and every county's targets the city of `scope` set, any year, for the
    /// book check.
    fn fund_settings(&self, scope: RegionCode) -> impl Future<Output = Result<(Vec<Budget>, Vec<CountyTargets>), StoreError>> + Send;

    /// The pooling runs of the city of `scope`, newest first.
    fn pooling_runs(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<PoolingRun>, StoreError>> + Send;

    /// Every account of the city's books, in key order (city staff).
    fn fund_accounts(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<AccountState>, StoreError>> + Send;

    /// Every person of `scope` with the personal-account balance their record holds, for
    /// the check that records and books agree.
    fn personal_account_records(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<(NationalId, Fen)>, StoreError>> + Send;

    /// The claims of units in `scope`, in key order (region, institution, claim id) after
    /// the key `after` (`None` for the first page), at most `limit`: the book check reads
    /// them a page at a time.
    fn claims_page(
        &self,
        scope: RegionCode,
        after: Option<ClaimKey>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredClaim>, StoreError>> + Send;

    /// Every stored year-to-date accumulator row of persons in `scope` (region, person,
    /// state), for the check that they are what the person's claims made them.
    fn accumulator_records(
        &self,
        scope: RegionCode,
    ) -> impl Future<Output = Result<Vec<(RegionCode, NationalId, yibao_engine::Accumulators)>, StoreError>> + Send;

    /// The contributions of units in `scope`, in the order they were recorded (region,
    /// then `seq`) after `after` (`None` for the first page), at most `limit`.
    fn contributions_page(
        &self,
        scope: RegionCode,
        after: Option<(RegionCode, i64)>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<crate::ContributionRecord>, StoreError>> + Send;

    /// The running outstanding of each unit and payee of the city's books as stored
    /// (`ledger_payables`, issue 17), for the book check's `payables-match`.
    fn fund_payables(&self, scope: RegionCode) -> impl Future<Output = Result<crate::pooling::PayableSums, StoreError>> + Send;

    /// The transfers of the city's books that another transfer reverses or pairs with,
    /// with their positions: all the book check holds of the transfers it streams.
    fn fund_referenced_transfers(&self, scope: RegionCode) -> impl Future<Output = Result<Vec<(i64, Entry)>, StoreError>> + Send;

    /// The city's transfers caused by records of `kind` with one of `ids`, in posting order.
    fn transfers_caused_by(
        &self,
        scope: RegionCode,
        kind: yibao_ledger::RecordKind,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Vec<Entry>, StoreError>> + Send;

    /// How many claims, contributions and transfers the city holds, for the check that
    /// every one was reconciled.
    fn record_counts(&self, scope: RegionCode) -> impl Future<Output = Result<RecordCounts, StoreError>> + Send;

    /// The claims of `region` with the given (institution, claim id) keys.
    fn claims_by_keys(
        &self,
        region: RegionCode,
        keys: Vec<(String, String)>,
    ) -> impl Future<Output = Result<Vec<StoredClaim>, StoreError>> + Send;

    /// The contributions of `region` with the given sequence numbers.
    fn contributions_by_seqs(
        &self,
        region: RegionCode,
        seqs: Vec<i64>,
    ) -> impl Future<Output = Result<Vec<crate::ContributionRecord>, StoreError>> + Send;

    /// The city's transfers in posting order after position `after` (0 for the first
    /// page), at most `limit`, with their positions (city staff).
    fn fund_entries(&self, scope: RegionCode, after: i64, limit: i64)
    -> impl Future<Output = Result<Vec<(i64, Entry)>, StoreError>> + Send;

    /// Movements dated `from..=to` caused by units in `scope`, by fund, unit and reason.
    fn fund_movements(&self, scope: RegionCode, from: Date, to: Date) -> impl Future<Output = Result<Vec<Movement>, StoreError>> + Send;

    /// The cities that have books.
    fn fund_cities(&self) -> impl Future<Output = Result<Vec<RegionCode>, StoreError>> + Send;
}

/// A claim's key: its region, institution and the institution's claim id.
pub type ClaimKey = (RegionCode, String, String);

/// What a city holds of the records the book check reconciles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub claims: u64,
    pub contributions: u64,
    /// Transfers caused by a contribution, its subsidies, a settlement or its reversal.
    pub record_transfers: u64,
    /// Every other transfer: those of fund runs and bookings, and personal accounts'
    /// opening balances.
    pub other_transfers: u64,
}

/// A claim as the book check reads it: the record, the person's accumulators the
/// settlement started from and left, and the columns SQL filters on in place of the
/// settlement (its insurance type and supplementary layer) and of the claim (its kind,
/// days, level, diagnosis and physician), which must say what they say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredClaim {
    pub record: crate::ClaimRecord,
    pub acc_before: yibao_engine::Accumulators,
    pub acc_after: yibao_engine::Accumulators,
    pub insutype: String,
    pub supplementary_fen: i64,
    pub columns: crate::compact::ClaimColumns,
    /// Why the row's stored settlement, claim or counters could not be read, if they could not:
    /// the check names the claim and goes on (the record then holds no settlement, and
    /// the counters are zero).
    pub unreadable: Option<String>,
}

/// What `yibao fund check` found: how much it read and every invariant breach.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BooksVerification {
    pub cities: usize,
    pub accounts: usize,
    pub transfers: usize,
    pub total_posted_fen: i128,
    pub breaches: Vec<Breach>,
}

/// `payables-match` (issue 17): the running outstanding of each unit and payee the pooling
/// run reads (`ledger_payables`) is what the transfers add up to: credits to a payable
/// account less debits, by the transfer's unit and the account's holder. Summed as the
/// transfers stream past; the keys are the city's units and payees, never its transfers.
#[derive(Debug, Default)]
pub struct PayablesCheck {
    sums: HashMap<(FundScheme, RegionCode, Holder), i128>,
}

impl PayablesCheck {
    /// Adds one transfer's payable sides (`payable_sides`, the rule posting applies).
    pub fn feed(&mut self, entry: &Entry) {
        for ((fund, unit, payee), fen) in crate::books::payable_sides(entry) {
            *self.sums.entry((fund.scheme, unit, payee)).or_default() += i128::from(fen);
        }
    }

    /// Compares the sums with the stored rows; each disagreement is a breach, at most
    /// [`yibao_ledger::limits::BREACHES_LIMIT`] in all.
    pub fn compare(mut self, stored: &crate::pooling::PayableSums, breaches: &mut Vec<Breach>) {
        let mut push = |record: String, detail: String| {
            if breaches.len() < yibao_ledger::limits::BREACHES_LIMIT {
                breaches.push(Breach::BusinessDisagrees { record, detail });
            }
        };
        for (scheme, unit, payee, stored_fen) in stored {
            let key = match (FundScheme::parse(scheme), RegionCode::parse(unit), Holder::parse(payee)) {
                (Some(scheme), Ok(unit), Ok(payee)) => (scheme, unit, payee),
                _ => {
                    push(format!("ledger_payables {scheme}/{unit}/{payee}"), "the row's key is unreadable".into());
                    continue;
                }
            };
            let summed = self.sums.remove(&key).unwrap_or(0);
            if summed != i128::from(*stored_fen) {
                push(
                    format!("ledger_payables {scheme}/{unit}/{payee}"),
                    format!("the running outstanding is {stored_fen} fen, the transfers add up to {summed} fen"),
                );
            }
        }
        for ((scheme, unit, payee), summed) in self.sums {
            if summed != 0 {
                push(
                    format!("ledger_payables {}/{unit}/{payee}", scheme.as_str()),
                    format!("no running outstanding is stored; the transfers add up to {summed} fen"),
                );
            }
        }
    }
}

/// Reads every city's books and checks every ledger invariant over them (`check_books`).
pub async fn verify_books<S: FundStore + crate::Store>(store: &S) -> Result<BooksVerification, StoreError> {
    let mut verification = BooksVerification::default();
    for city in store.fund_cities().await? {
        verify_city_books(store, city, &mut verification).await?;
    }
    Ok(verification)
}

/// Reads one city's books and checks every ledger invariant over them, adding to
/// `verification`.
pub async fn verify_city_books<S: FundStore + crate::Store>(
    store: &S,
    city: RegionCode,
    verification: &mut BooksVerification,
) -> Result<(), StoreError> {
    // The ledger's invariants and the records' reconciliation read different things and
    // neither waits for the other: they run together (issue 17), their breaches kept in
    // this order.
    let mut books = BooksVerification::default();
    // The first error ends both: the other is dropped, not finished.
    let ((), reconciled) = tokio::try_join!(verify_city_ledger(store, city, &mut books), reconcile_records(store, city))?;
    verification.cities += books.cities;
    verification.accounts += books.accounts;
    verification.transfers += books.transfers;
    verification.total_posted_fen += books.total_posted_fen;
    add_breaches(&mut verification.breaches, books.breaches);
    add_breaches(&mut verification.breaches, reconciled);
    Ok(())
}

/// Adds `more` to `breaches`, at most [`yibao_ledger::limits::BREACHES_LIMIT`] in all and
/// then one [`Breach::Truncated`] saying that the rest are not listed.
fn add_breaches(breaches: &mut Vec<Breach>, more: Vec<Breach>) {
    for breach in more {
        if breaches.len() >= yibao_ledger::limits::BREACHES_LIMIT || matches!(breach, Breach::Truncated) {
            if !matches!(breaches.last(), Some(Breach::Truncated)) {
                breaches.push(Breach::Truncated);
            }
            return;
        }
        breaches.push(breach);
    }
}

/// The ledger's invariants over one city's books (`check_books`) and the records that
/// repeat a balance of the books (`records-match-books` for personal accounts).
async fn verify_city_ledger<S: FundStore + crate::Store>(
    store: &S,
    city: RegionCode,
    verification: &mut BooksVerification,
) -> Result<(), StoreError> {
    // The transfers stream past a page at a time: the check holds the accounts and the
    // transfers others reverse or pair with, never every transfer (issue 12).
    let accounts = store.fund_accounts(city).await?;
    let payables = store.fund_payables(city).await?;
    let mut summed_payables = PayablesCheck::default();
    let referenced = store.fund_referenced_transfers(city).await?;
    let mut check = yibao_ledger::BookCheck::new(
        accounts.iter().copied(),
        referenced.into_iter().map(|(position, entry)| (u64::try_from(position).unwrap_or(0), entry.transfer)),
    );
    let mut after = 0;
    loop {
        let page = store.fund_entries(city, after, ENTRIES_PAGE_LIMIT).await?;
        let Some(&(last, _)) = page.last() else { break };
        after = last;
        for (position, entry) in &page {
            check.feed(u64::try_from(*position).unwrap_or(0), &entry.transfer);
            summed_payables.feed(entry);
            verification.transfers += 1;
            verification.total_posted_fen += i128::from(entry.transfer.amount_fen.get());
        }
    }
    verification.cities += 1;
    verification.accounts += accounts.len();
    if let Err(breaches) = check.finish() {
        verification.breaches.extend(breaches);
    }
    summed_payables.compare(&payables, &mut verification.breaches);
    // `records-match-books`: each person's stored personal-account balance is the balance
    // of their account in the books (zero for one that was never opened). A balance edited
    // in the person's record alone is found here.
    let in_books: std::collections::HashMap<NationalId, (AccountKey, Fen)> = accounts
        .iter()
        .filter_map(|state| match state.key().holder {
            Holder::Person(person) if state.key().kind == AccountKind::PersonalAccount => {
                Some((person, (state.key(), state.balance_fen())))
            }
            _ => None,
        })
        .collect();
    let employee_fund = crate::books::fund_for(FundScheme::Employee, city);
    for (person, record_fen) in store.personal_account_records(city).await? {
        let (account, books_fen) = in_books
            .get(&person)
            .copied()
            .unwrap_or((AccountKey::new(employee_fund, Holder::Person(person), AccountKind::PersonalAccount), Fen::ZERO));
        if record_fen != books_fen && verification.breaches.len() < yibao_ledger::limits::BREACHES_LIMIT {
            verification.breaches.push(Breach::RecordDisagrees { account, record_fen, books_fen });
        }
    }
    Ok(())
}

/// `records-match-books` for every record that moves money ([`crate::reconcile`],
/// [`crate::replay`]): the audit trail of each region of the city replayed a page at a
/// time, each claim, contribution, enrolment, fund run and booking it records checked
/// against its entry, its transfers and (for claims) the accumulators; then what was
/// reconciled counted against what the store holds. Only when the counts disagree is the
/// trail replayed again, remembering what it met, to name the records and transfers it
/// never met.
async fn reconcile_records<S: FundStore + crate::Store>(store: &S, city: RegionCode) -> Result<Vec<Breach>, StoreError> {
    let counts = store.record_counts(city).await?;
    let (budgets, targets) = store.fund_settings(city).await?;
    let records = crate::replay::FundRecords::new(
        store.pooling_runs(city).await?,
        store.year_closes(city).await?,
        store.handovers(city).await?,
        store.legacy_requests(city).await?,
        budgets,
        targets,
        city,
    )
    .with_clearings(store.payment_clearings(city).await?);
    let reconciler = crate::reconcile::Reconciler::new(Vec::new());
    let mut reconciler = replay_trail(store, city, &records, reconciler).await?;
    reconciler.fund_records(&records);
    reconciler.accumulators(store.accumulator_records(city).await?);
    let complete = reconciler.claims == counts.claims
        && reconciler.contributions == counts.contributions
        && reconciler.record_transfers == counts.record_transfers
        && reconciler.other_transfers == counts.other_transfers;
    let breaches = reconciler.into_breaches();
    if complete {
        return Ok(breaches);
    }
    let seen = replay_trail(store, city, &records, crate::reconcile::Reconciler::remembering()).await?.into_seen();
    let mut reconciler = crate::reconcile::Reconciler::new(breaches);
    let mut after: Option<ClaimKey> = None;
    loop {
        let page = store.claims_page(city, after.clone(), AUDIT_PAGE).await?;
        let Some(last) = page.last().map(|c| &c.record) else { break };
        after = Some((last.region, last.institution_code.to_string(), last.claim_id.clone()));
        for claim in page.iter().map(|c| &c.record) {
            let record_id = crate::books::settlement_record_id(&claim.institution_code, &claim.claim_id);
            if !seen.claims.contains(&(claim.region, record_id.clone())) {
                reconciler.unaudited_claim(claim.region, &record_id);
            }
        }
    }
    let mut after: Option<(RegionCode, i64)> = None;
    loop {
        let page = store.contributions_page(city, after, AUDIT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.region, last.seq));
        for record in &page {
            if !seen.contributions.contains(&(record.region, record.seq)) {
                reconciler.unaudited_contribution(record.region, record.seq);
            }
        }
    }
    // Every transfer of the books was posted by a record the trail leads to.
    let mut after = 0;
    loop {
        let page = store.fund_entries(city, after, ENTRIES_PAGE_LIMIT).await?;
        let Some(&(last, _)) = page.last() else { break };
        after = last;
        for (_, entry) in &page {
            if !seen.transfers.contains(entry.transfer.id.as_str()) {
                reconciler.orphan_transfer(&entry.transfer);
            }
        }
    }
    Ok(reconciler.into_breaches())
}

/// Audit entries, claims and contributions read at a time by the book check.
const AUDIT_PAGE: i64 = 10_000;

/// Audit entries of a page of the trail, read with the records they name (a claim's
/// settlement is about 4.5 KB read): about 15 MB a page.
const TRAIL_PAGE: i64 = 2_500;

/// Pages of the trail read ahead of the one being checked: one is read while one is
/// checked, and at most this many more wait.
const TRAIL_PAGES_AHEAD: usize = 1;

/// Replays the audit trail of every region of `city` into `reconciler` and gives it back:
/// this task reads a page of entries at a time with the records they name and those
/// records' transfers (I/O), a blocking thread checks each page read (CPU, no I/O), so the
/// next page is read while one is checked (issue 17: reading and checking took about half
/// of the time each).
async fn replay_trail<S: FundStore + crate::Store>(
    store: &S,
    city: RegionCode,
    records: &crate::replay::FundRecords,
    reconciler: crate::reconcile::Reconciler,
) -> Result<crate::reconcile::Reconciler, StoreError> {
    let (pages, mut to_check) = tokio::sync::mpsc::channel::<TrailPage>(TRAIL_PAGES_AHEAD);
    let checker = tokio::task::spawn_blocking(move || {
        let mut reconciler = reconciler;
        while let Some(page) = to_check.blocking_recv() {
            page.check(&mut reconciler);
        }
        reconciler
    });
    let read = read_trail(store, city, records, &pages).await;
    drop(pages);
    let reconciler = checker.await.map_err(|e| StoreError::Backend(format!("the book check's checking thread failed: {e}")))?;
    read.map(|()| reconciler)
}

/// Reads every page of the trail of `city`'s regions, with what it names, into `pages`.
async fn read_trail<S: FundStore + crate::Store>(
    store: &S,
    city: RegionCode,
    records: &crate::replay::FundRecords,
    pages: &tokio::sync::mpsc::Sender<TrailPage>,
) -> Result<(), StoreError> {
    for region in store.audit_regions().await?.into_iter().filter(|r| city.contains(*r)) {
        let mut after = 0;
        loop {
            let mut entries = store.audit_entries(region, after, TRAIL_PAGE).await?;
            let Some(last) = entries.last() else { break };
            after = last.seq;
            while !entries.is_empty() {
                let (page, rest) = TrailPage::read(store, city, region, entries, records).await?;
                entries = rest;
                if pages.send(page).await.is_err() {
                    // The checking thread is gone: its failure is what the caller reports.
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// One page of a region's audit trail with everything its check compares: the claims,
/// contributions and enrolments it names, read by key, their transfers read by cause, and
/// each fund run or booking replayed from its record with the transfers it caused.
struct TrailPage {
    region: RegionCode,
    entries: Vec<crate::AuditEntry>,
    claims: HashMap<String, StoredClaim>,
    contributions: HashMap<i64, crate::ContributionRecord>,
    transfers: Vec<Entry>,
    /// By the entry's position in `entries`: the run replayed and the transfers it caused,
    /// or the record the run's entry names that is missing.
    runs: HashMap<usize, Result<(crate::replay::RunReplay, Vec<Entry>), String>>,
}

impl TrailPage {
    /// Reads what `entries` name, and gives back the entries it left for the next page: a
    /// page ends early after the fund run that brings its runs' transfers past
    /// [`ENTRIES_PAGE_LIMIT`] (a city's trail is mostly runs, each with thousands of
    /// transfers).
    async fn read<S: FundStore + crate::Store>(
        store: &S,
        city: RegionCode,
        region: RegionCode,
        mut entries: Vec<crate::AuditEntry>,
        records: &crate::replay::FundRecords,
    ) -> Result<(TrailPage, Vec<crate::AuditEntry>), StoreError> {
        let claim_key = |entity: &str| entity.get(..12).zip(entity.get(13..)).map(|(i, c)| (i.to_owned(), c.to_owned()));
        let mut claim_keys = std::collections::BTreeSet::new();
        let mut seqs = std::collections::BTreeSet::new();
        let mut enrolled = Vec::new();
        let mut runs = HashMap::new();
        let mut run_transfers = 0usize;
        let mut rest = Vec::new();
        for (at, entry) in entries.iter().enumerate() {
            match entry.action.as_str() {
                "claim.settle" | "claim.reverse" => claim_keys.extend(claim_key(&entry.entity)),
                "contribution.record" | "contribution.migrate" => seqs.extend(contribution_seq(&entry.detail)),
                "person.enrol" => enrolled.push(entry.entity.clone()),
                "fund.budget" | "fund.targets" => {}
                _ => match crate::replay::replay(city, records, &entry.action, &entry.entity, &entry.detail) {
                    None => {}
                    Some(Err(missing)) => {
                        runs.insert(at, Err(missing));
                    }
                    Some(Ok(replay)) => {
                        let mut caused = Vec::new();
                        for (kind, id) in &replay.causes {
                            caused.extend(store.transfers_caused_by(city, *kind, vec![id.clone()]).await?);
                        }
                        run_transfers += caused.len();
                        runs.insert(at, Ok((replay, caused)));
                    }
                },
            }
            if run_transfers > usize::try_from(ENTRIES_PAGE_LIMIT).unwrap_or(usize::MAX) {
                rest = entries.split_off(at + 1);
                break;
            }
        }
        let claims: HashMap<String, StoredClaim> = if claim_keys.is_empty() {
            HashMap::new()
        } else {
            store
                .claims_by_keys(region, claim_keys.into_iter().collect())
                .await?
                .into_iter()
                .map(|c| (crate::books::settlement_record_id(&c.record.institution_code, &c.record.claim_id), c))
                .collect()
        };
        let contributions: HashMap<i64, crate::ContributionRecord> = if seqs.is_empty() {
            HashMap::new()
        } else {
            store.contributions_by_seqs(region, seqs.into_iter().collect()).await?.into_iter().map(|c| (c.seq, c)).collect()
        };
        let mut transfers: Vec<Entry> = Vec::new();
        let claim_ids: Vec<String> = claims.keys().cloned().collect();
        let contribution_ids: Vec<String> = contributions.keys().map(|seq| format!("{region}/{seq}")).collect();
        for (kind, ids) in [
            (RecordKind::Settlement, &claim_ids),
            (RecordKind::SettlementReversal, &claim_ids),
            (RecordKind::Contribution, &contribution_ids),
            (RecordKind::Subsidy, &contribution_ids),
            (RecordKind::OpeningBalance, &enrolled),
        ] {
            if !ids.is_empty() {
                transfers.extend(store.transfers_caused_by(city, kind, ids.clone()).await?);
            }
        }
        Ok((TrailPage { region, entries, claims, contributions, transfers, runs }, rest))
    }

    /// Checks the page into `reconciler`: the records' entries in order, then the settings,
    /// fund runs and bookings in order. Reads nothing.
    fn check(self, reconciler: &mut crate::reconcile::Reconciler) {
        let TrailPage { region, entries, claims, contributions, transfers, mut runs } = self;
        // By kind, then by the record's id borrowed from the transfer: a claim's lookup
        // allocates nothing.
        let mut by_cause: HashMap<RecordKind, HashMap<&str, Vec<&yibao_ledger::Transfer>>> = HashMap::new();
        for entry in &transfers {
            let kind = match entry.transfer.cause.kind {
                RecordKind::SettlementReversal => RecordKind::Settlement,
                RecordKind::Subsidy => RecordKind::Contribution,
                kind => kind,
            };
            by_cause.entry(kind).or_default().entry(entry.transfer.cause.id.as_str()).or_default().push(&entry.transfer);
        }
        let caused = |kind: RecordKind, id: &str| by_cause.get(&kind).and_then(|ids| ids.get(id)).map_or(&[][..], Vec::as_slice);
        for entry in &entries {
            match entry.action.as_str() {
                "claim.settle" | "claim.reverse" => match claims.get(&entry.entity) {
                    None => reconciler.not_on_record(region, entry.seq, &format!("claim {}", entry.entity)),
                    Some(claim) if entry.action == "claim.settle" => {
                        reconciler.claim_settled(claim, &entry.detail, caused(RecordKind::Settlement, &entry.entity));
                    }
                    Some(claim) => reconciler.claim_reversed(claim, &entry.detail),
                },
                "contribution.record" | "contribution.migrate" => {
                    match contribution_seq(&entry.detail).and_then(|seq| contributions.get(&seq)) {
                        None => reconciler.not_on_record(region, entry.seq, &format!("a contribution of {}", entry.entity)),
                        Some(record) => {
                            let id = format!("{region}/{}", record.seq);
                            let migrated = entry.action == "contribution.migrate";
                            reconciler.contribution(record, &entry.detail, caused(RecordKind::Contribution, &id), migrated);
                        }
                    }
                }
                "accumulators.open" => reconciler.accumulators_opened(region, &entry.entity, &entry.detail),
                "person.change_coverage" | "person.move_out" | "person.move_in" => {
                    reconciler.coverage_changed(region, &entry.action, &entry.entity, &entry.detail);
                }
                "person.enrol" => {
                    reconciler.person_enrolled(region, &entry.entity, &entry.detail, caused(RecordKind::OpeningBalance, &entry.entity));
                }
                _ => {}
            }
        }
        for (at, entry) in entries.iter().enumerate() {
            if matches!(entry.action.as_str(), "fund.budget" | "fund.targets") {
                reconciler.setting(&entry.action, &entry.entity, &entry.detail);
                continue;
            }
            match runs.remove(&at) {
                None => {}
                Some(Err(missing)) => reconciler.run_not_on_record(region, entry.seq, &missing),
                Some(Ok((replay, caused))) => {
                    let caused: Vec<&yibao_ledger::Transfer> = caused.iter().map(|e| &e.transfer).collect();
                    reconciler.fund_run(replay, &caused);
                }
            }
        }
    }
}

/// The sequence number a `contribution.record` entry's detail names.
fn contribution_seq(detail: &str) -> Option<i64> {
    // Only `seq` is read: the detail's other fields are skipped, not built into a value.
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: Option<serde_json::Value>,
    }
    serde_json::from_str::<Seq>(detail).ok()?.seq?.as_i64()
}
