//! The monthly pooling run (统收统支, R-FND-2) over the stored books: what a backend reads,
//! the pure plan it turns that into, and the record it keeps of the run.
//!
//! For every fund of the city, on the run's value date:
//! 1. each unit's income account (收入户) is swept in full to the city fiscal special account;
//! 2. what each unit's payees are owed — the settlements of its insured less their
//!    reversals less what was paid before — is paid from the special account to the city
//!    expenditure account and on to the unit's expenditure account (`yibao_ledger::plan_month`);
//! 3. the unit's expenditure account pays each payee (拨付定点机构).
//!
//! A payee whose reversals exceed its new claims is owed nothing this month; what it owes
//! back stays on its payable and is deducted from its next payments. A run is one
//! transaction and one row per city and month: running a month again returns the first
//! run's record and changes nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{Fen, RegionCode};
use yibao_ledger::{
    AccountKey, AccountKind, AccountState, BusinessRef, Fund, FundScheme, Holder, MonthInputs, Reason, RecordKind, Transfer, UnitMonth,
    YearMonth, plan_month,
};

use crate::StoreError;
use crate::books::{Entry, record_transfer_id, refused};

/// What one unit's insured owe one payee in one fund, as the books stand on the run's
/// value date: payable credits from settlements and personal-account payments, less
/// reversals and payments, of transfers caused by that unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outstanding {
    pub fund: FundScheme,
    pub unit: RegionCode,
    pub payee: Holder,
    pub outstanding_fen: Fen,
}

/// What the run holds back from a payee's outstanding in one fund and unit (issue 15): an
/// institution paid by monthly advances (月度预付) under its agreement is owed what its
/// stays billed, but paid its advances; the rest waits for its year's clearing. Negative
/// when its advances (capitation, a provisional value above the bill) exceed its bill: the
/// run then pays more than is outstanding. The application computes it from the payment
/// year as of the run's value date; `note` says how, in Chinese and English.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldBack {
    pub fund: FundScheme,
    pub unit: RegionCode,
    pub payee: Holder,
    pub amount_fen: Fen,
    pub note: String,
    /// Held back at most what is still outstanding on the run's value date after the holds
    /// before it (never a negative line): what an administrator pays from its revolving
    /// fund, read from a preview, of which it may have paid some since (issue 18).
    pub up_to_outstanding: bool,
}

/// What a backend reads for a run: the city's income and special accounts as they stood
/// at the end of the run's value date, and what is outstanding per fund, unit and payee
/// on it. Money that arrives after the value date waits for the next run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolingInputs {
    pub city: RegionCode,
    pub month: YearMonth,
    pub value_date: Date,
    /// The income and fiscal special accounts of the city's funds, as of the value date.
    pub accounts: Vec<AccountState>,
    pub outstanding: Vec<Outstanding>,
    /// What is held back from institutions paid by advances (empty without any).
    pub held_back: Vec<HeldBack>,
}

/// The record of a run, kept with it and shown to the fund accountant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolingRun {
    pub city: String,
    pub month: String,
    pub value_date: String,
    pub funds: Vec<FundRun>,
    pub transfers: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundRun {
    pub fund: String,
    pub name_zh: String,
    pub special_before_fen: i64,
    pub swept_fen: i64,
    pub disbursed_fen: i64,
    pub special_after_fen: i64,
    pub units: Vec<UnitRun>,
    /// One line per step, in Chinese and English, saying where each amount comes from.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRun {
    pub unit: String,
    pub swept_fen: i64,
    pub disbursed_fen: i64,
    pub payments: Vec<Payment>,
    /// Payees who owe more back than they are owed; deducted from later payments.
    pub owed_back: Vec<Payment>,
    /// What was held back from institutions paid by advances (negative: paid beyond what
    /// was outstanding), until their year's clearing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<Payment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub payee: String,
    pub amount_fen: i64,
}

/// Plans a run: the record and the entries to post, all or nothing. Refused when a special
/// account cannot pay its units' expenditure (`ledger.special_account_short`), naming it.
pub fn plan_pooling(inputs: &PoolingInputs) -> Result<(PoolingRun, Vec<Entry>), StoreError> {
    let city = inputs.city;
    let month = inputs.month;
    if !month.contains(inputs.value_date) {
        return Err(StoreError::Invalid(format!("the run's date {} is not in {month}", inputs.value_date)));
    }
    let balance = |key: &AccountKey| inputs.accounts.iter().find(|s| s.key() == *key).map_or(Fen::ZERO, AccountState::balance_fen);
    // Funds with anything to sweep or pay, in scheme order; units within each in code order.
    let mut funds: BTreeMap<FundScheme, BTreeMap<RegionCode, Vec<&Outstanding>>> = BTreeMap::new();
    for state in &inputs.accounts {
        let key = state.key();
        if let (AccountKind::Income, Holder::Region(unit)) = (key.kind, key.holder) {
            funds.entry(key.fund.scheme).or_default().entry(unit).or_default();
        }
    }
    // What each payee is paid: its outstanding less what is held back from it. A hold-back
    // with nothing outstanding (capitation advanced with no stay billed) is a line of its own.
    let mut lines: BTreeMap<(FundScheme, RegionCode, Holder), Fen> = BTreeMap::new();
    for line in &inputs.outstanding {
        *lines.entry((line.fund, line.unit, line.payee)).or_default() += line.outstanding_fen;
    }
    let mut held: BTreeMap<(FundScheme, RegionCode, Holder), (Fen, Vec<&str>)> = BTreeMap::new();
    for h in &inputs.held_back {
        if !matches!(h.payee, Holder::Institution(_)) || !(city.contains(h.unit)) {
            return Err(StoreError::Invalid(format!("{} of {} is not an institution of the city's units", h.payee, h.unit)));
        }
        let line = lines.entry((h.fund, h.unit, h.payee)).or_default();
        let amount = if h.up_to_outstanding {
            let left = if line.is_negative() { Fen::ZERO } else { *line };
            if h.amount_fen > left { left } else { h.amount_fen }
        } else {
            h.amount_fen
        };
        *line -= amount;
        let entry = held.entry((h.fund, h.unit, h.payee)).or_default();
        entry.0 += amount;
        entry.1.push(h.note.as_str());
    }
    let paying: Vec<Outstanding> =
        lines.into_iter().map(|((fund, unit, payee), outstanding_fen)| Outstanding { fund, unit, payee, outstanding_fen }).collect();
    for line in &paying {
        funds.entry(line.fund).or_default().entry(line.unit).or_default().push(line);
    }
    funds.remove(&FundScheme::MunicipalAdjustment);

    let mut record = PoolingRun {
        city: city.to_string(),
        month: month.to_string(),
        value_date: crate::books::date_text(inputs.value_date),
        funds: Vec::new(),
        transfers: 0,
    };
    let mut entries = Vec::new();
    for (scheme, units) in funds {
        let fund = Fund::new(scheme, city);
        let special_before = balance(&AccountKey::special(fund));
        let mut unit_months = Vec::new();
        let mut unit_runs = Vec::new();
        for (&unit, lines) in &units {
            let owed: Fen = lines.iter().map(|l| l.outstanding_fen).filter(|f| f.get() > 0).sum();
            let income = balance(&AccountKey::of_unit(fund, unit, AccountKind::Income));
            unit_months.push(UnitMonth { unit, income_balance_fen: income, expenditure_fen: owed });
            let mut run = UnitRun {
                unit: unit.to_string(),
                swept_fen: income.get(),
                disbursed_fen: owed.get(),
                payments: Vec::new(),
                owed_back: Vec::new(),
                held_back: Vec::new(),
            };
            for (&(_, _, payee), (amount, _)) in held.iter().filter(|((f, u, _), _)| (*f, *u) == (scheme, unit)) {
                if !amount.is_zero() {
                    run.held_back.push(Payment { payee: payee.to_string(), amount_fen: amount.get() });
                }
            }
            for line in lines {
                let payment = Payment { payee: line.payee.to_string(), amount_fen: line.outstanding_fen.get() };
                match line.outstanding_fen.get() {
                    0 => {}
                    n if n > 0 => run.payments.push(payment),
                    _ => run.owed_back.push(Payment { amount_fen: -payment.amount_fen, ..payment }),
                }
            }
            unit_runs.push(run);
        }
        let plan = plan_month(
            &MonthInputs { fund, month, value_date: inputs.value_date, special_balance_fen: special_before, units: unit_months },
            |_| false,
        )
        .map_err(refused)?;
        let mut notes: Vec<String> = plan.transfers.iter().map(|p| p.note.to_string()).collect();
        for ((_, _, _), (_, why)) in held.iter().filter(|((f, _, _), _)| *f == scheme) {
            notes.extend(why.iter().map(|w| (*w).to_owned()));
        }
        for planned in plan.transfers {
            entries.push(Entry { unit: unit_of_step(&planned.transfer, city), transfer: planned.transfer });
        }
        for (&unit, lines) in &units {
            for line in lines.iter().filter(|l| l.outstanding_fen.get() > 0) {
                let amount = line.outstanding_fen;
                notes.push(format!(
                    "[{}] {month} 支付：{unit} 支出户向 {} 支付 {amount} 元 / {month} payment: the expenditure account of {unit} pays {} {amount} yuan",
                    scheme.name_zh(),
                    line.payee,
                    line.payee
                ));
                entries.push(payment_entry(fund, month, unit, line.payee, amount, inputs.value_date)?);
            }
        }
        record.funds.push(FundRun {
            fund: fund.to_string(),
            name_zh: scheme.name_zh().to_owned(),
            special_before_fen: special_before.get(),
            swept_fen: plan.swept_fen.get(),
            disbursed_fen: plan.disbursed_fen.get(),
            special_after_fen: (special_before + plan.swept_fen - plan.disbursed_fen).get(),
            units: unit_runs,
            notes,
        });
    }
    record.transfers = entries.len();
    Ok((record, entries))
}

/// A unit's payment of what it owes a payee in a month's run (R-FND-2).
fn payment_entry(
    fund: Fund,
    month: YearMonth,
    unit: RegionCode,
    payee: Holder,
    amount: Fen,
    value_date: Date,
) -> Result<Entry, StoreError> {
    let cause = BusinessRef::new(RecordKind::InstitutionPayment, &format!("{fund}/{month}")).map_err(refused)?;
    Ok(Entry {
        unit,
        transfer: Transfer::new(
            record_transfer_id("pay", &format!("{month}/{fund}/{unit}"), &payee.to_string().replace(':', "-")),
            AccountKey::new(fund, payee, AccountKind::Payable),
            AccountKey::of_unit(fund, unit, AccountKind::Expenditure),
            amount,
            Reason::InstitutionPayment,
            cause,
            value_date,
        ),
    })
}

/// What a stored run posted, rebuilt from its record by the same plan (the record keeps the
/// plan's inputs: each fund's special balance before the run, each unit's swept income and
/// expenditure, and each payment), for the book check to compare with the books.
pub fn entries_of_run(run: &PoolingRun) -> Result<Vec<Entry>, StoreError> {
    let bad = |what: &str| StoreError::Backend(format!("the pooling run of {} is unreadable: {what}", run.month));
    let city = RegionCode::parse(&run.city).map_err(|_| bad("city"))?;
    let month = YearMonth::parse(&run.month).map_err(|_| bad("month"))?;
    let value_date = crate::books::date_of(&run.value_date)?;
    let mut entries = Vec::new();
    for fund_run in &run.funds {
        let scheme = fund_run.fund.split_once('@').and_then(|(scheme, _)| FundScheme::parse(scheme)).ok_or_else(|| bad("fund"))?;
        let fund = Fund::new(scheme, city);
        let mut units = Vec::with_capacity(fund_run.units.len());
        for unit_run in &fund_run.units {
            let unit = RegionCode::parse(&unit_run.unit).map_err(|_| bad("unit"))?;
            let amount = |fen: i64| Fen::checked(fen).ok_or_else(|| bad("amount"));
            units.push(UnitMonth {
                unit,
                income_balance_fen: amount(unit_run.swept_fen)?,
                expenditure_fen: amount(unit_run.disbursed_fen)?,
            });
            for payment in &unit_run.payments {
                let payee = Holder::parse(&payment.payee).map_err(|_| bad("payee"))?;
                entries.push(payment_entry(fund, month, unit, payee, amount(payment.amount_fen)?, value_date)?);
            }
        }
        let special = Fen::checked(fund_run.special_before_fen).ok_or_else(|| bad("amount"))?;
        let plan = plan_month(&MonthInputs { fund, month, value_date, special_balance_fen: special, units }, |_| false).map_err(refused)?;
        for planned in plan.transfers {
            entries.push(Entry { unit: unit_of_step(&planned.transfer, city), transfer: planned.transfer });
        }
    }
    Ok(entries)
}

/// The unit a step the ledger planned was made for, read from its id, whose fourth part
/// is the unit (`pool/{month}/{fund}/{unit}/{step}`, `levy/{year}/{fund}/{unit}/…`,
/// `deficit/{year}/{fund}/{unit}/…`).
pub(crate) fn unit_of_step(transfer: &Transfer, city: RegionCode) -> RegionCode {
    transfer.id.as_str().split('/').nth(3).and_then(|code| RegionCode::parse(code).ok()).unwrap_or(city)
}

/// Months are run in order: a month before the latest one run is refused
/// (`fund.month_out_of_order`). Its outstanding is read as of its own day, before the later
/// run's payments, so running it would pay them again (hostile review).
pub fn check_month_order(month: YearMonth, latest_run: Option<&str>) -> Result<(), StoreError> {
    match latest_run {
        Some(latest) if latest > month.to_string().as_str() => Err(StoreError::Refused {
            code: "fund.month_out_of_order",
            message: format!("{month} is before {latest}, the latest month run: a city's months are run in order"),
        }),
        _ => Ok(()),
    }
}

/// The day of the month the policy in force for `city` sweeps on (`fund.sweep_day`), if it
/// says; a day past the month's end means its last day.
pub fn sweep_day(policy: &yibao_policy::Policy, city: RegionCode, month: YearMonth) -> Result<Option<u8>, StoreError> {
    let day = crate::closing::optional_count(policy, yibao_policy::ParamKey::FundSweepDay, city, month.first_day())?;
    Ok(day.map(|d| u8::try_from(d.min(u32::from(month.last_day().day()))).unwrap_or(28)))
}

/// The value date of a run of `month` on `day` of it, or on its last day.
pub fn run_date(month: YearMonth, day: Option<u8>) -> Result<Date, StoreError> {
    match day {
        None => Ok(month.last_day()),
        Some(day) => Date::from_calendar_date(month.year(), month.first_day().month(), day)
            .map_err(|_| StoreError::Invalid(format!("{month} has no day {day}"))),
    }
}

/// The income and special accounts of a city (`$1`) as of the end of a day (`$2`, text), in
/// one statement: their running totals, and the transfers dated after the day negated
/// ([`accounts_as_of`]). The same text on both backends.
pub const ACCOUNTS_AS_OF_SQL: &str = "SELECT fund_scheme, holder, kind, CAST(SUM(d) AS BIGINT), CAST(SUM(c) AS BIGINT) FROM ( \
         SELECT fund_scheme, holder, kind, debits_posted_fen AS d, credits_posted_fen AS c FROM ledger_accounts \
         WHERE region_code = $1 AND kind IN ('income', 'fiscal-special') \
         UNION ALL \
         SELECT fund_scheme, debit_holder, debit_kind, -amount_fen, 0 FROM ledger_transfers \
         WHERE region_code = $1 AND value_date > $2 AND debit_kind IN ('income', 'fiscal-special') \
         UNION ALL \
         SELECT fund_scheme, credit_holder, credit_kind, 0, -amount_fen FROM ledger_transfers \
         WHERE region_code = $1 AND value_date > $2 AND credit_kind IN ('income', 'fiscal-special')) AS sides \
     GROUP BY fund_scheme, holder, kind";

/// What each unit of a city (`$1`) owes each payee as of the end of a day (`$2`, text), in
/// one statement: the running outstanding, and what transfers dated after the day added,
/// negated ([`outstanding_as_of`]). The same text on both backends.
pub const OUTSTANDING_AS_OF_SQL: &str = "SELECT fund_scheme, unit_code, payee, CAST(SUM(amount) AS BIGINT) FROM ( \
         SELECT fund_scheme, unit_code, payee, outstanding_fen AS amount FROM ledger_payables WHERE region_code = $1 \
         UNION ALL \
         SELECT fund_scheme, unit_code, credit_holder, -amount_fen FROM ledger_transfers \
         WHERE region_code = $1 AND value_date > $2 AND credit_kind = 'payable' \
         UNION ALL \
         SELECT fund_scheme, unit_code, debit_holder, amount_fen FROM ledger_transfers \
         WHERE region_code = $1 AND value_date > $2 AND debit_kind = 'payable') AS sides \
     GROUP BY fund_scheme, unit_code, payee";

/// A backend's account totals: (fund scheme, holder, kind, debits, credits).
pub type AccountSums = Vec<(String, String, String, i64, i64)>;

/// A backend's payables by unit and payee: (fund scheme, unit, payee, outstanding).
pub type PayableSums = Vec<(String, String, String, i64)>;

/// The income and special accounts of a city as of the end of a day (issue 17), from rows a
/// backend reads in **one statement** (one snapshot): each account's running totals as
/// stored (`ledger_accounts`), and the transfers dated after the day with their amounts
/// negated, so the run reads a month's transfers, not the city's history. Two statements
/// could see a posting in one and not the other (a new account's first transfer).
pub fn accounts_as_of(city: RegionCode, rows: &AccountSums) -> Result<Vec<AccountState>, StoreError> {
    let mut totals: BTreeMap<(&str, &str, &str), (i64, i64)> = BTreeMap::new();
    for (scheme, holder, kind, debits, credits) in rows {
        let total = totals.entry((scheme, holder, kind)).or_default();
        (total.0, total.1) = (total.0 + debits, total.1 + credits);
    }
    totals
        .into_iter()
        .map(|((scheme, holder, kind), (debits, credits))| {
            let key = crate::books::key_of(&city.to_string(), scheme, holder, kind)?;
            let mut state = AccountState::new(crate::books::open_account(key)?);
            state.debits_posted_fen = crate::books::total_of(debits)?;
            state.credits_posted_fen = crate::books::total_of(credits)?;
            Ok(state)
        })
        .collect()
}

/// What each unit's insured owe each payee as of the end of a day (issue 17), from rows a
/// backend reads in **one statement** (one snapshot, as [`accounts_as_of`]): the running
/// outstanding as stored (`ledger_payables`), and what transfers dated after the day added,
/// negated. A key with nothing outstanding is left out.
pub fn outstanding_as_of(rows: &PayableSums) -> Result<Vec<Outstanding>, StoreError> {
    let mut totals: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
    for (scheme, unit, payee, amount) in rows {
        *totals.entry((scheme, unit, payee)).or_default() += amount;
    }
    let unreadable = |what: &str, text: &str| StoreError::Backend(format!("a stored payable's {what} is unreadable: {text}"));
    totals
        .into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|((scheme, unit, payee), amount)| {
            Ok(Outstanding {
                fund: FundScheme::parse(scheme).ok_or_else(|| unreadable("fund", scheme))?,
                unit: RegionCode::parse(unit).map_err(|_| unreadable("unit", unit))?,
                payee: Holder::parse(payee).map_err(|_| unreadable("payee", payee))?,
                outstanding_fen: crate::books::total_of(amount)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    fn inputs(held_back: Vec<HeldBack>) -> PoolingInputs {
        let city = region("419900");
        let fund = Fund::new(FundScheme::Resident, city);
        let mut special = AccountState::new(crate::books::open_account(AccountKey::special(fund)).unwrap());
        special.debits_posted_fen = Fen::new(1_000_000);
        let hospital = Holder::institution("H41992100007").unwrap();
        PoolingInputs {
            city,
            month: YearMonth::new(2025, 3).unwrap(),
            value_date: date!(2025 - 03 - 31),
            accounts: vec![special],
            outstanding: vec![Outstanding {
                fund: FundScheme::Resident,
                unit: region("419921"),
                payee: hospital,
                outstanding_fen: Fen::new(10_000),
            }],
            held_back,
        }
    }

    fn held(unit: &str, code: &str, amount: i64) -> HeldBack {
        HeldBack {
            up_to_outstanding: false,
            fund: FundScheme::Resident,
            unit: region(unit),
            payee: Holder::institution(code).unwrap(),
            amount_fen: Fen::new(amount),
            note: format!("held {amount}"),
        }
    }

    /// Issue 15: a run pays an institution paid by advances its outstanding less what is
    /// held back, records the hold-back and explains it; a negative hold-back with nothing
    /// outstanding (capitation advanced) is paid on a line of its own.
    #[test]
    fn a_run_pays_the_outstanding_less_what_is_held_back() {
        let (run, entries) =
            plan_pooling(&inputs(vec![held("419921", "H41992100007", 2_500), held("419922", "H41992200001", -700)])).unwrap();
        let fund = &run.funds[0];
        let east = fund.units.iter().find(|u| u.unit == "419921").unwrap();
        assert_eq!(east.payments, [Payment { payee: "institution:H41992100007".into(), amount_fen: 7_500 }]);
        assert_eq!(east.held_back, [Payment { payee: "institution:H41992100007".into(), amount_fen: 2_500 }]);
        let west = fund.units.iter().find(|u| u.unit == "419922").unwrap();
        assert_eq!(west.payments, [Payment { payee: "institution:H41992200001".into(), amount_fen: 700 }]);
        assert_eq!(fund.disbursed_fen, 8_200);
        assert!(fund.notes.iter().any(|n| n == "held 2500"), "{:?}", fund.notes);
        // The record plans the same transfers again (the book check's replay).
        assert_eq!(entries_of_run(&run).unwrap().len(), entries.len());
        // Nothing held back: the outstanding as billed, and no hold-back in the record.
        let (plain, _) = plan_pooling(&inputs(Vec::new())).unwrap();
        assert_eq!(plain.funds[0].units[0].payments[0].amount_fen, 10_000);
        assert!(serde_json::to_string(&plain).unwrap().find("held_back").is_none(), "old records read the same");
        // Held back from a unit outside the city: refused.
        assert!(plan_pooling(&inputs(vec![held("410101", "H41992100007", 1)])).is_err());
    }

    /// Issue 18: what an administrator pays is held back at most what is outstanding after
    /// the holds before it, so a payment made between the preview and the run leaves no
    /// false "owed back" line.
    #[test]
    fn an_administrators_hold_is_at_most_what_is_outstanding() {
        let administered = |amount: i64| HeldBack { up_to_outstanding: true, ..held("419921", "H41992100007", amount) };
        let (run, _) = plan_pooling(&inputs(vec![held("419921", "H41992100007", 2_500), administered(10_000)])).unwrap();
        let east = &run.funds[0].units[0];
        assert_eq!((east.payments.len(), east.owed_back.len()), (0, 0), "{east:?}");
        assert_eq!(east.held_back, [Payment { payee: "institution:H41992100007".into(), amount_fen: 10_000 }]);
        let (run, _) = plan_pooling(&inputs(vec![administered(4_000)])).unwrap();
        assert_eq!(run.funds[0].units[0].payments[0].amount_fen, 6_000);
    }
}
