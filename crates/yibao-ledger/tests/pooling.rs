//! The pooling computations, worked by hand, for the test city: 419900 (市本级) and two
//! counties, 419921 ("A", in surplus) and 419922 ("B", in deficit). Each table of cases
//! runs through one `check` function per computation; the amounts in the cases are worked
//! out in the comments above them. The last test posts a month, the year-end runs and a
//! legacy schedule into a ledger and checks the books.

mod common;

use common::*;
use time::Date;
use time::macros::date;
use yibao_domain::{Fen, RatioBp, Rounding};
use yibao_ledger::{
    AccountKey, AccountKind, BusinessRef, DEFAULT_LEVY_RATIO_BP, Fund, FundPosition, FundScheme, FundUnit, FundYear, Ledger, LegacyInputs,
    LevyBase, LevyInputs, MonthInputs, Reason, RecordKind, Repayment, RepaymentTerms, Targets, Transfer, UnitMonth, Warning,
    WarningThresholds, WaterfallInputs, YearMonth, YearShare, batch_of, check_invariants, cross_fund_pair, indicators, legacy_schedule,
    legacy_status, plan_levy, plan_month, plan_waterfall, repayment_transfer, target_score_bp,
};

fn opening(name: &str, fund: Fund, amount: &str, on: Date) -> Transfer {
    // Money already in the fund when the books start (R-SYS-3): from the city's outside world.
    Transfer::new(
        id(name),
        AccountKey::special(fund),
        unit_account(fund, CITY, AccountKind::External),
        yuan(amount),
        Reason::Handover,
        BusinessRef::new(RecordKind::OpeningBalance, name).expect("record id"),
        on,
    )
}

fn contribution(name: &str, fund: Fund, unit: &str, amount: &str, on: Date) -> Transfer {
    Transfer::new(
        id(name),
        unit_account(fund, unit, AccountKind::Income),
        unit_account(fund, unit, AccountKind::External),
        yuan(amount),
        Reason::Contribution,
        cause(name),
        on,
    )
}

fn failures_of(results: Vec<Result<(), String>>) -> Vec<String> {
    results.into_iter().filter_map(Result::err).collect()
}

// ---------------------------------------------------------------------------------------
// Monthly sweep and disbursement (R-FND-2)

struct SweepCase {
    name: &'static str,
    /// The special account before the run.
    special: &'static str,
    /// (unit, income account balance, the month's expenditure)
    units: &'static [(&'static str, &'static str, &'static str)],
    swept: &'static str,
    disbursed: &'static str,
    transfers: usize,
    special_after: &'static str,
}

const SWEEPS: &[SweepCase] = &[
    // Swept: 2,000,000 + 1,200,000 + 800,000 = 4,000,000.00.
    // Disbursed: 1,500,000 + 900,000 + 1,000,000 = 3,400,000.00.
    // Transfers: 3 sweeps, 3 payments to the city expenditure account, 2 on to the counties.
    // Special: 3,000,000 + 4,000,000 − 3,400,000 = 3,600,000.00.
    SweepCase {
        name: "January: every unit collects and spends; B spends more than it collects",
        special: "3000000.00",
        units: &[(CITY, "2000000.00", "1500000.00"), (COUNTY_A, "1200000.00", "900000.00"), (COUNTY_B, "800000.00", "1000000.00")],
        swept: "4000000.00",
        disbursed: "3400000.00",
        transfers: 8,
        special_after: "3600000.00",
    },
    // B collected nothing: no sweep for it, but its spending is still paid (it is the city's
    // fund that pays). Swept 2,000,000 + 1,200,000 = 3,200,000; disbursed 3,400,000;
    // special 500,000 + 3,200,000 − 3,400,000 = 300,000.00. Transfers: 2 + 3 + 2 = 7.
    SweepCase {
        name: "a county with nothing to sweep",
        special: "500000.00",
        units: &[(CITY, "2000000.00", "1500000.00"), (COUNTY_A, "1200000.00", "900000.00"), (COUNTY_B, "0", "1000000.00")],
        swept: "3200000.00",
        disbursed: "3400000.00",
        transfers: 7,
        special_after: "300000.00",
    },
    // Exactly enough: 0.01 + 99.99 swept, 100.00 paid to county A, special back to 0.00.
    SweepCase {
        name: "the special account emptied to the fen",
        special: "0",
        units: &[(CITY, "0.01", "0"), (COUNTY_A, "99.99", "100.00")],
        swept: "100.00",
        disbursed: "100.00",
        transfers: 4,
        special_after: "0.00",
    },
];

fn month_inputs(case: &SweepCase) -> MonthInputs {
    MonthInputs {
        fund: employee(),
        month: YearMonth::parse("2026-01").expect("month"),
        value_date: date!(2026 - 01 - 25),
        special_balance_fen: yuan(case.special),
        units: case
            .units
            .iter()
            .map(|(unit, income, spent)| UnitMonth { unit: region(unit), income_balance_fen: yuan(income), expenditure_fen: yuan(spent) })
            .collect(),
    }
}

/// Plans the month, checks the amounts, posts the plan into books holding exactly the
/// inputs' balances, and re-runs the month to see it plan nothing.
fn check_sweep(case: &SweepCase) -> Result<(), String> {
    let at = |m: String| format!("{}: {m}", case.name);
    let inputs = month_inputs(case);
    let plan = plan_month(&inputs, |_| false).map_err(|e| at(e.to_string()))?;
    let got = (plan.swept_fen, plan.disbursed_fen, plan.transfers.len());
    let want = (yuan(case.swept), yuan(case.disbursed), case.transfers);
    if got != want {
        return Err(at(format!("expected (swept, disbursed, transfers) {want:?}, got {got:?}")));
    }
    if plan.transfers.iter().any(|p| p.note.zh.is_empty() || p.note.en.is_empty() || !p.note.zh.contains("2026-01")) {
        return Err(at("a transfer without its explanation".into()));
    }

    let mut ledger = city_ledger(date!(2026 - 01 - 01));
    let mut setup = Vec::new();
    if !yuan(case.special).is_zero() {
        setup.push(opening("opening", employee(), case.special, date!(2026 - 01 - 01)));
    }
    for (unit, income, _) in case.units {
        if !yuan(income).is_zero() {
            setup.push(contribution(&format!("in-{unit}"), employee(), unit, income, date!(2026 - 01 - 10)));
        }
    }
    ledger.post(&setup).map_err(|e| at(e.to_string()))?;
    ledger.post(&batch_of(&plan.transfers)).map_err(|e| at(format!("the plan does not post: {e}")))?;
    let special = ledger.balance_fen(&AccountKey::special(employee()));
    if special != Some(yuan(case.special_after)) {
        return Err(at(format!("special account {special:?}, expected {}", case.special_after)));
    }
    for (unit, _, spent) in case.units {
        // Each income account is empty; each unit's expenditure account holds its month (the
        // city's passed the counties' months on and keeps its own).
        let income = ledger.balance_fen(&unit_account(employee(), unit, AccountKind::Income));
        let expenditure = ledger.balance_fen(&unit_account(employee(), unit, AccountKind::Expenditure));
        if income != Some(Fen::ZERO) {
            return Err(at(format!("{unit}: income account left at {income:?}")));
        }
        if expenditure != Some(yuan(spent)) {
            return Err(at(format!("{unit}: expenditure account {expenditure:?}, expected {spent}")));
        }
    }
    check_invariants(&ledger).map_err(|b| at(format!("{b:?}")))?;
    let rerun = plan_month(&inputs, |id| ledger.contains(id)).map_err(|e| at(e.to_string()))?;
    if !rerun.transfers.is_empty() || rerun.already_posted != case.transfers {
        return Err(at(format!("re-running the month planned {} transfers, skipped {}", rerun.transfers.len(), rerun.already_posted)));
    }
    Ok(())
}

#[test]
fn monthly_sweep_cases() {
    let failures = failures_of(SWEEPS.iter().map(check_sweep).collect());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn monthly_sweep_refusals() {
    let base = || month_inputs(&SWEEPS[0]);
    type Change = fn(&mut MonthInputs);
    let cases: [(&str, Change, &str); 7] = [
        // 100.00 swept into an empty special account cannot pay 200.00.
        (
            "special account short",
            |m| {
                m.special_balance_fen = Fen::ZERO;
                m.units = vec![UnitMonth { unit: region(CITY), income_balance_fen: yuan("100.00"), expenditure_fen: yuan("200.00") }];
            },
            "ledger.special_account_short",
        ),
        ("a county of another city", |m| m.units[1].unit = region("411221"), "ledger.unit_outside"),
        ("a county twice", |m| m.units[2].unit = region(COUNTY_A), "ledger.duplicate_input"),
        ("a sweep day outside the month", |m| m.value_date = date!(2026 - 02 - 01), "ledger.date_outside_period"),
        ("a county's own fund", |m| m.fund = Fund::new(FundScheme::Employee, region(COUNTY_A)), "ledger.not_a_city_fund"),
        ("a negative expenditure", |m| m.units[0].expenditure_fen = yuan("-1.00"), "ledger.negative_input"),
        (
            "more units than the limit",
            |m| {
                let unit = m.units[0];
                m.units = vec![unit; yibao_ledger::limits::UNITS_LIMIT + 1];
            },
            "ledger.too_many",
        ),
    ];
    for (name, change, code) in cases {
        let mut inputs = base();
        change(&mut inputs);
        let got = plan_month(&inputs, |_| false).map(|p| p.transfers.len()).map_err(|e| e.code());
        assert_eq!(got, Err(code), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Adjustment-fund levy (R-FND-5)

struct LevyCase {
    name: &'static str,
    rounding: Rounding,
    /// (contributor, fund scheme, collected pooled income, expected levy)
    bases: &'static [(&'static str, FundScheme, &'static str, &'static str)],
    total: &'static str,
}

const LEVIES: &[LevyCase] = &[
    // 10% of each: 2,400,000 + 1,440,000 + 960,000 = 4,800,000.00 from employee insurance;
    // A's resident income 5,000,000.05 × 10% = 500,000.005 → 500,000.01 half-up;
    // B's maternity income 333.33 × 10% = 33.333 → 33.33.
    // Total 4,800,000 + 500,000.01 + 33.33 = 5,300,033.34.
    LevyCase {
        name: "every contributor, three levied funds, half-up",
        rounding: Rounding::HalfUp,
        bases: &[
            (CITY, FundScheme::Employee, "24000000.00", "2400000.00"),
            (COUNTY_A, FundScheme::Employee, "14400000.00", "1440000.00"),
            (COUNTY_B, FundScheme::Employee, "9600000.00", "960000.00"),
            (COUNTY_A, FundScheme::Resident, "5000000.05", "500000.01"),
            (COUNTY_B, FundScheme::Maternity, "333.33", "33.33"),
        ],
        total: "5300033.34",
    },
    // The same half fen rounded down: 500,000.005 → 500,000.00.
    LevyCase {
        name: "the pack's rounding applies: down",
        rounding: Rounding::Down,
        bases: &[(COUNTY_A, FundScheme::Resident, "5000000.05", "500000.00")],
        total: "500000.00",
    },
    // Nothing collected, nothing levied, no transfer.
    LevyCase {
        name: "a contributor that collected nothing",
        rounding: Rounding::HalfUp,
        bases: &[(COUNTY_B, FundScheme::Employee, "0", "0")],
        total: "0",
    },
];

fn levy_inputs(case: &LevyCase) -> LevyInputs {
    LevyInputs {
        city: region(CITY),
        year: 2026,
        ratio_bp: DEFAULT_LEVY_RATIO_BP,
        rounding: case.rounding,
        value_date: date!(2026 - 12 - 31),
        bases: case
            .bases
            .iter()
            .map(|(unit, scheme, base, _)| LevyBase {
                contributor: region(unit),
                fund: fund(*scheme),
                collected_pooled_income_fen: yuan(base),
            })
            .collect(),
    }
}

/// Computes the levy, checks each line, posts the pairs into books whose special accounts
/// hold each fund's income, and checks each contributor's position in the adjustment fund.
fn check_levy(case: &LevyCase) -> Result<(), String> {
    let at = |m: String| format!("{}: {m}", case.name);
    let plan = plan_levy(&levy_inputs(case), |_| false).map_err(|e| at(e.to_string()))?;
    for (unit, scheme, _, want) in case.bases {
        let line = plan
            .lines
            .iter()
            .find(|l| l.contributor == region(unit) && l.fund.scheme == *scheme)
            .ok_or_else(|| at(format!("no line for {unit}")))?;
        if line.levy_fen != yuan(want) {
            return Err(at(format!("{unit} {scheme}: levy {}, expected {want}", line.levy_fen)));
        }
        if !line.note.zh.contains(&line.levy_fen.to_string()) || !line.note.en.contains("10%") {
            return Err(at(format!("the explanation does not show the amount: {}", line.note)));
        }
    }
    if plan.total_fen != yuan(case.total) {
        return Err(at(format!("total {}, expected {}", plan.total_fen, case.total)));
    }
    let nonzero = case.bases.iter().filter(|b| !yuan(b.3).is_zero()).count();
    if plan.transfers.len() != 2 * nonzero {
        return Err(at(format!("{} transfers, expected a pair per non-zero levy", plan.transfers.len())));
    }

    let mut ledger = city_ledger(date!(2026 - 01 - 01));
    let setup: Vec<Transfer> = case
        .bases
        .iter()
        .filter(|b| !yuan(b.2).is_zero())
        .map(|(unit, scheme, base, _)| opening(&format!("open-{unit}-{scheme}"), fund(*scheme), base, date!(2026 - 01 - 01)))
        .collect();
    ledger.post(&setup).map_err(|e| at(e.to_string()))?;
    ledger.post(&batch_of(&plan.transfers)).map_err(|e| at(format!("the plan does not post: {e}")))?;
    check_invariants(&ledger).map_err(|b| at(format!("{b:?}")))?;
    for unit in units() {
        let paid: Fen = plan.lines.iter().filter(|l| l.contributor == unit).map(|l| l.levy_fen).sum();
        let position = ledger.balance_fen(&AccountKey::of_unit(adjustment(), unit, AccountKind::InterFund));
        if position != Some(paid) {
            return Err(at(format!("{unit}: adjustment-fund position {position:?}, expected {paid}")));
        }
    }
    if ledger.balance_fen(&AccountKey::special(adjustment())) != Some(plan.total_fen) {
        return Err(at("the adjustment fund does not hold the total".into()));
    }
    let rerun = plan_levy(&levy_inputs(case), |id| ledger.contains(id)).map_err(|e| at(e.to_string()))?;
    if !rerun.transfers.is_empty() {
        return Err(at("re-running the levy planned new transfers".into()));
    }
    Ok(())
}

#[test]
fn adjustment_levy_cases() {
    assert_eq!(DEFAULT_LEVY_RATIO_BP, RatioBp::parse_percent("10%").expect("ratio"), "ZZ-POOL §四(九)");
    let failures = failures_of(LEVIES.iter().map(check_levy).collect());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn adjustment_levy_refusals() {
    let mut inputs = levy_inputs(&LEVIES[0]);
    inputs.bases[0].fund = fund(FundScheme::ResidentCriticalIllness);
    assert_eq!(plan_levy(&inputs, |_| false).map(|p| p.total_fen).map_err(|e| e.code()), Err("ledger.not_levied"));
    let mut inputs = levy_inputs(&LEVIES[0]);
    inputs.bases[2].fund = Fund::new(FundScheme::Employee, region(COUNTY_A)); // B's levy out of A's own fund
    assert_eq!(plan_levy(&inputs, |_| false).map(|p| p.total_fen).map_err(|e| e.code()), Err("ledger.unit_outside"));
    let mut inputs = levy_inputs(&LEVIES[0]);
    inputs.bases[1].contributor = region(CITY);
    assert_eq!(plan_levy(&inputs, |_| false).map(|p| p.total_fen).map_err(|e| e.code()), Err("ledger.duplicate_input"));
}

// ---------------------------------------------------------------------------------------
// Targets and the deficit waterfall (R-ENR-6, R-FND-5)

#[test]
fn target_scores() {
    let cases = [
        // (enrolment target, enrolled, collection target, collected, score)
        // (95% + 90%) / 2 = 92.5%.
        (100_000, 95_000, "10000000.00", "9000000.00", "92.5%"),
        // Enrolment over-achieved counts as 100%: (100% + 50%) / 2 = 75%.
        (100, 150, "1000.00", "500.00", "75%"),
        // (1/3 + 1/3) / 2 = 33.333…% → 33.33% half-up.
        (3, 1, "3.00", "1.00", "33.33%"),
        // (1/3 + 2/3) / 2 = 50% exactly, with one rounding (not 33.33% + 66.67%).
        (3, 1, "3.00", "2.00", "50%"),
        // No target set counts as met.
        (0, 0, "0", "0", "100%"),
        // Nothing achieved.
        (10, 0, "10.00", "0", "0%"),
    ];
    for (e_target, enrolled, c_target, collected, want) in cases {
        let targets =
            Targets { enrolment_target: e_target, enrolled, collection_target_fen: yuan(c_target), collected_fen: yuan(collected) };
        let got = target_score_bp(&targets, Rounding::HalfUp);
        assert_eq!(got, RatioBp::parse_percent(want).expect("ratio"), "{targets:?}");
    }
}

struct WaterfallCase {
    name: &'static str,
    adjustment_available: &'static str,
    /// (fund, unit, income, spending, surplus brought forward, target score)
    positions: &'static [(FundScheme, &'static str, &'static str, &'static str, &'static str, &'static str)],
    /// (fund, unit, deficit, from surplus, from adjustment, city finance, county finance)
    expect: &'static [(FundScheme, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str)],
    adjustment_used: &'static str,
    transfers: usize,
}

const WATERFALLS: &[WaterfallCase] = &[
    // B: spending 12,000,000 − income 9,600,000 = a deficit of 2,400,000.00. Its surplus of
    // 1,000,000 covers 1,000,000; the adjustment fund (4,800,000) the remaining 1,400,000.
    // The city and A are in surplus. One adjustment pair.
    WaterfallCase {
        name: "B's deficit: own surplus, then the adjustment fund",
        adjustment_available: "4800000.00",
        positions: &[
            (FundScheme::Employee, CITY, "24000000.00", "22000000.00", "8000000.00", "100%"),
            (FundScheme::Employee, COUNTY_A, "14400000.00", "13000000.00", "3000000.00", "100%"),
            (FundScheme::Employee, COUNTY_B, "9600000.00", "12000000.00", "1000000.00", "92.5%"),
        ],
        expect: &[
            (FundScheme::Employee, CITY, "0", "0", "0", "0", "0"),
            (FundScheme::Employee, COUNTY_A, "0", "0", "0", "0", "0"),
            (FundScheme::Employee, COUNTY_B, "2400000.00", "1000000.00", "1400000.00", "0", "0"),
        ],
        adjustment_used: "1400000.00",
        transfers: 2,
    },
    // The same with only 900,000 in the adjustment fund: 500,000.00 remains. B met 92.5%
    // of its targets, so city finance bears 500,000 × 50% × 92.5% = 231,250.00 and B's
    // finance 500,000 − 231,250 = 268,750.00. One pair and two receivables.
    WaterfallCase {
        name: "the adjustment fund runs short: city and county finance share by targets",
        adjustment_available: "900000.00",
        positions: &[(FundScheme::Employee, COUNTY_B, "9600000.00", "12000000.00", "1000000.00", "92.5%")],
        expect: &[(FundScheme::Employee, COUNTY_B, "2400000.00", "1000000.00", "900000.00", "231250.00", "268750.00")],
        adjustment_used: "900000.00",
        transfers: 4,
    },
    // Two deficits in the resident fund: the city level's 300,000 (no surplus) and B's
    // 600,000 (its surplus is negative, so it covers nothing). Gaps total 900,000; the
    // adjustment fund's 600,000 is shared pro rata: the city 300/900 × 600,000 = 200,000,
    // B the rest, 400,000. The city's remaining 100,000 is city finance's; B met none of
    // its targets (0%), so its remaining 200,000 is all B's finance's.
    WaterfallCase {
        name: "two deficits share a short adjustment fund pro rata",
        adjustment_available: "600000.00",
        positions: &[
            (FundScheme::Resident, CITY, "1000000.00", "1300000.00", "0", "100%"),
            (FundScheme::Resident, COUNTY_B, "2000000.00", "2600000.00", "-50000.00", "0%"),
        ],
        expect: &[
            (FundScheme::Resident, CITY, "300000.00", "0", "200000.00", "100000.00", "0"),
            (FundScheme::Resident, COUNTY_B, "600000.00", "0", "400000.00", "0", "200000.00"),
        ],
        adjustment_used: "600000.00",
        transfers: 6,
    },
    // Three gaps of 1.00 and 1.00 in the adjustment fund: cumulative half-up shares
    // round(1/3)=0.33, round(2/3)−0.33=0.34, 1.00−0.67=0.33. Remaining: city 0.67 (city
    // finance); A 0.66 → city finance 0.66 × 50% × 100% = 0.33, A 0.33; B 0.67 → 0.335 →
    // 0.34 half-up, B 0.33. Every fen is accounted for: 3 pairs and 5 receivables.
    WaterfallCase {
        name: "fen-level sharing sums exactly",
        adjustment_available: "1.00",
        positions: &[
            (FundScheme::Employee, CITY, "0", "1.00", "0", "100%"),
            (FundScheme::Employee, COUNTY_A, "0", "1.00", "0", "100%"),
            (FundScheme::Employee, COUNTY_B, "0", "1.00", "0", "100%"),
        ],
        expect: &[
            (FundScheme::Employee, CITY, "1.00", "0", "0.33", "0.67", "0"),
            (FundScheme::Employee, COUNTY_A, "1.00", "0", "0.34", "0.33", "0.33"),
            (FundScheme::Employee, COUNTY_B, "1.00", "0", "0.33", "0.34", "0.33"),
        ],
        adjustment_used: "1.00",
        transfers: 11,
    },
];

fn waterfall_inputs(case: &WaterfallCase) -> WaterfallInputs {
    WaterfallInputs {
        city: region(CITY),
        year: 2026,
        value_date: date!(2026 - 12 - 31),
        rounding: Rounding::HalfUp,
        adjustment_available_fen: yuan(case.adjustment_available),
        city_share_when_met_bp: RatioBp::new(5_000),
        positions: case
            .positions
            .iter()
            .map(|(scheme, unit, income, spending, surplus, score)| FundPosition {
                fund: fund(*scheme),
                unit: region(unit),
                income_fen: yuan(income),
                spending_fen: yuan(spending),
                surplus_brought_forward_fen: yuan(surplus),
                target_score_bp: RatioBp::parse_percent(score).expect("score"),
            })
            .collect(),
    }
}

/// Runs the waterfall, checks every line and that its parts sum to the deficit, and posts
/// the plan into books whose adjustment fund holds what is available.
fn check_waterfall(case: &WaterfallCase) -> Result<(), String> {
    let at = |m: String| format!("{}: {m}", case.name);
    let inputs = waterfall_inputs(case);
    let plan = plan_waterfall(&inputs, |_| false).map_err(|e| at(e.to_string()))?;
    for (scheme, unit, deficit, surplus, adjustment_part, city_part, county_part) in case.expect {
        let line = plan
            .lines
            .iter()
            .find(|l| l.fund.scheme == *scheme && l.unit == region(unit))
            .ok_or_else(|| at(format!("no line for {unit} in {scheme}")))?;
        let got = (line.deficit_fen, line.from_surplus_fen, line.from_adjustment_fen, line.city_finance_fen, line.county_finance_fen);
        let want = (yuan(deficit), yuan(surplus), yuan(adjustment_part), yuan(city_part), yuan(county_part));
        if got != want {
            return Err(at(format!("{unit} {scheme}: expected {want:?}, got {got:?}\n{}", explain(&line.notes))));
        }
        if got.1 + got.2 + got.3 + got.4 != got.0 {
            return Err(at(format!("{unit}: the parts do not sum to the deficit")));
        }
        // Every amount moved is explained in both languages.
        for amount in [got.1, got.2, got.3, got.4].into_iter().filter(|a| !a.is_zero()) {
            if !line.notes.iter().any(|n| n.zh.contains(&amount.to_string()) && n.en.contains(&amount.to_string())) {
                return Err(at(format!("{unit}: {amount} is not explained\n{}", explain(&line.notes))));
            }
        }
    }
    if plan.adjustment_used_fen != yuan(case.adjustment_used) || plan.transfers.len() != case.transfers {
        return Err(at(format!("adjustment used {}, {} transfers", plan.adjustment_used_fen, plan.transfers.len())));
    }

    // The adjustment fund holds what is available, brought in as an opening balance of the
    // city's position there (paired with the employee fund, which held it before).
    let mut ledger = city_ledger(date!(2026 - 01 - 01));
    let mut setup = vec![opening("open-employee", employee(), "100000000.00", date!(2026 - 01 - 01))];
    setup.extend(cross_fund_pair(
        (id("seed-out"), id("seed-in")),
        FundUnit { fund: employee(), unit: region(CITY) },
        FundUnit { fund: adjustment(), unit: region(CITY) },
        yuan(case.adjustment_available),
        Reason::AdjustmentLevy,
        &cause("seed"),
        date!(2026 - 01 - 01),
    ));
    ledger.post(&setup).map_err(|e| at(e.to_string()))?;
    ledger.post(&batch_of(&plan.transfers)).map_err(|e| at(format!("the plan does not post: {e}")))?;
    check_invariants(&ledger).map_err(|b| at(format!("{b:?}")))?;
    let left = ledger.balance_fen(&AccountKey::special(adjustment())).unwrap_or_default();
    if left != yuan(case.adjustment_available) - plan.adjustment_used_fen {
        return Err(at(format!("the adjustment fund holds {left} after the run")));
    }
    let rerun = plan_waterfall(&inputs, |id| ledger.contains(id)).map_err(|e| at(e.to_string()))?;
    if !rerun.transfers.is_empty() || rerun.already_posted != case.transfers {
        return Err(at("re-running the waterfall planned new transfers".into()));
    }
    Ok(())
}

fn explain(notes: &[yibao_ledger::Note]) -> String {
    notes.iter().map(|n| format!("  {}\n  {}", n.zh, n.en)).collect::<Vec<_>>().join("\n")
}

#[test]
fn deficit_waterfall_cases() {
    let failures = failures_of(WATERFALLS.iter().map(check_waterfall).collect());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deficit_waterfall_refusals() {
    let mut inputs = waterfall_inputs(&WATERFALLS[0]);
    inputs.positions[0].fund = adjustment();
    assert_eq!(plan_waterfall(&inputs, |_| false).map(|p| p.lines.len()).map_err(|e| e.code()), Err("ledger.bad_input"));
    let mut inputs = waterfall_inputs(&WATERFALLS[0]);
    inputs.positions[1].unit = region(CITY);
    assert_eq!(plan_waterfall(&inputs, |_| false).map(|p| p.lines.len()).map_err(|e| e.code()), Err("ledger.duplicate_input"));
    let mut inputs = waterfall_inputs(&WATERFALLS[0]);
    inputs.adjustment_available_fen = yuan("-0.01");
    assert_eq!(plan_waterfall(&inputs, |_| false).map(|p| p.lines.len()).map_err(|e| e.code()), Err("ledger.negative_input"));
}

// ---------------------------------------------------------------------------------------
// Legacy deficits (R-FND-6)

fn legacy_inputs(opening_gap: &str, paid_in: &str, terms: RepaymentTerms) -> LegacyInputs {
    LegacyInputs {
        fund: employee(),
        county: region(COUNTY_B),
        established_on: date!(2021 - 03 - 31),
        opening_gap_fen: yuan(opening_gap),
        paid_into_adjustment_fen: yuan(paid_in),
        terms,
    }
}

struct LegacyCase {
    name: &'static str,
    opening_gap: &'static str,
    paid_in: &'static str,
    terms: fn() -> RepaymentTerms,
    offset: &'static str,
    gap: &'static str,
    /// (due, minimum, cumulative)
    instalments: &'static [(Date, &'static str, &'static str)],
    transfers: usize,
}

const LEGACIES: &[LegacyCase] = &[
    // Sanmenxia: a gap of 5,000,000 less the 1,200,000 B paid into the adjustment fund:
    // 3,800,000.00 owed. 30% = 1,140,000.00 by end 2021 and again in 2022 (2,280,000 in
    // total), the remaining 1,520,000.00 by end 2023. Transfers: the offset pair and the
    // receivable.
    LegacyCase {
        name: "Sanmenxia terms",
        opening_gap: "5000000.00",
        paid_in: "1200000.00",
        terms: RepaymentTerms::sanmenxia,
        offset: "1200000.00",
        gap: "3800000.00",
        instalments: &[
            (date!(2021 - 12 - 31), "1140000.00", "1140000.00"),
            (date!(2022 - 12 - 31), "1140000.00", "2280000.00"),
            (date!(2023 - 12 - 31), "1520000.00", "3800000.00"),
        ],
        transfers: 3,
    },
    // "Not less than 30%" rounds up: 30% of 333.33 is 99.999 → 100.00 each year, 133.33 left.
    LegacyCase {
        name: "minimum shares round up to the fen",
        opening_gap: "333.33",
        paid_in: "0",
        terms: RepaymentTerms::sanmenxia,
        offset: "0",
        gap: "333.33",
        instalments: &[
            (date!(2021 - 12 - 31), "100.00", "100.00"),
            (date!(2022 - 12 - 31), "100.00", "200.00"),
            (date!(2023 - 12 - 31), "133.33", "333.33"),
        ],
        transfers: 1,
    },
    // The county paid in more than its gap: the offset covers all, nothing is owed.
    LegacyCase {
        name: "past levies cover the whole gap",
        opening_gap: "1000000.00",
        paid_in: "1500000.00",
        terms: RepaymentTerms::sanmenxia,
        offset: "1000000.00",
        gap: "0",
        instalments: &[],
        transfers: 2,
    },
    // At once: everything by the due date.
    LegacyCase {
        name: "repaid at once",
        opening_gap: "800000.00",
        paid_in: "300000.00",
        terms: || RepaymentTerms::AtOnce { due: date!(2021 - 06 - 30) },
        offset: "300000.00",
        gap: "500000.00",
        instalments: &[(date!(2021 - 06 - 30), "500000.00", "500000.00")],
        transfers: 3,
    },
    // Withheld by the city: the withholding itself is a fourth transfer.
    LegacyCase {
        name: "withheld by the city",
        opening_gap: "800000.00",
        paid_in: "300000.00",
        terms: || RepaymentTerms::Withheld { on: date!(2021 - 09 - 30) },
        offset: "300000.00",
        gap: "500000.00",
        instalments: &[(date!(2021 - 09 - 30), "500000.00", "500000.00")],
        transfers: 4,
    },
];

fn check_legacy(case: &LegacyCase) -> Result<(), String> {
    let at = |m: String| format!("{}: {m}", case.name);
    let schedule =
        legacy_schedule(&legacy_inputs(case.opening_gap, case.paid_in, (case.terms)()), |_| false).map_err(|e| at(e.to_string()))?;
    if (schedule.offset_fen, schedule.gap_fen) != (yuan(case.offset), yuan(case.gap)) {
        return Err(at(format!("offset {} gap {}", schedule.offset_fen, schedule.gap_fen)));
    }
    let got: Vec<(Date, Fen, Fen)> = schedule.instalments.iter().map(|i| (i.due, i.minimum_fen, i.cumulative_fen)).collect();
    let want: Vec<(Date, Fen, Fen)> = case.instalments.iter().map(|(d, m, c)| (*d, yuan(m), yuan(c))).collect();
    if got != want || schedule.transfers.len() != case.transfers {
        return Err(at(format!("instalments {got:?}, {} transfers", schedule.transfers.len())));
    }
    if schedule.notes.len() != 1 + want.len() {
        return Err(at("each instalment is explained".into()));
    }
    Ok(())
}

#[test]
fn legacy_schedule_cases() {
    let failures = failures_of(LEGACIES.iter().map(check_legacy).collect());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn legacy_status_shows_what_is_owed_and_what_was_missed() {
    let schedule = legacy_schedule(&legacy_inputs("5000000.00", "1200000.00", RepaymentTerms::sanmenxia()), |_| false).expect("schedule");
    let paid = |on: Date, amount: &str| Repayment { on, amount_fen: yuan(amount) };
    // 2021: 600,000 + 600,000 = 1,200,000 ≥ 1,140,000. 2022: 900,000 more, 2,100,000 in
    // total < 2,280,000: the 2022 instalment is missed by 180,000. 2023: 500,000 more.
    let repayments = [
        paid(date!(2021 - 06 - 30), "600000.00"),
        paid(date!(2021 - 12 - 20), "600000.00"),
        paid(date!(2022 - 11 - 30), "900000.00"),
        paid(date!(2023 - 03 - 01), "500000.00"),
    ];
    // (as of, paid, owed, missed instalments (due, shortfall, outstanding), next due)
    let cases = [
        // On a due date the instalment is not yet missed.
        (date!(2021 - 12 - 31), "1200000.00", "2600000.00", vec![], Some(date!(2022 - 12 - 31))),
        (
            date!(2023 - 01 - 31),
            "2100000.00",
            "1700000.00",
            vec![(date!(2022 - 12 - 31), "180000.00", "180000.00")],
            Some(date!(2023 - 12 - 31)),
        ),
        // Made up late: still flagged as missed, nothing outstanding of it.
        (date!(2023 - 06 - 30), "2600000.00", "1200000.00", vec![(date!(2022 - 12 - 31), "180000.00", "0")], Some(date!(2023 - 12 - 31))),
        // After the end with 1,200,000 unpaid: the last instalment is missed too.
        (
            date!(2024 - 01 - 01),
            "2600000.00",
            "1200000.00",
            vec![(date!(2022 - 12 - 31), "180000.00", "0"), (date!(2023 - 12 - 31), "1200000.00", "1200000.00")],
            None,
        ),
    ];
    for (as_of, paid_total, owed, missed, next) in cases {
        let status = legacy_status(&schedule, &repayments, as_of).expect("status");
        assert_eq!((status.paid_fen, status.owed_fen), (yuan(paid_total), yuan(owed)), "{as_of}");
        let got: Vec<(Date, Fen, Fen)> = status.missed.iter().map(|m| (m.instalment.due, m.shortfall_fen, m.outstanding_fen)).collect();
        let want: Vec<(Date, Fen, Fen)> = missed.iter().map(|(d, s, o)| (*d, yuan(s), yuan(o))).collect();
        assert_eq!(got, want, "{as_of}");
        assert_eq!(status.next_due.map(|i| i.due), next, "{as_of}");
        assert!(status.note.zh.contains(&status.owed_fen.to_string()) && status.note.en.contains(&status.owed_fen.to_string()));
    }
}

#[test]
fn legacy_schedule_refusals() {
    let bad_shares = RepaymentTerms::Instalments {
        end: date!(2023 - 12 - 31),
        minimum_per_year: vec![
            YearShare { year: 2021, share_bp: RatioBp::new(6_000) },
            YearShare { year: 2022, share_bp: RatioBp::new(5_000) },
        ],
    };
    let out_of_order = RepaymentTerms::Instalments {
        end: date!(2023 - 12 - 31),
        minimum_per_year: vec![
            YearShare { year: 2022, share_bp: RatioBp::new(3_000) },
            YearShare { year: 2021, share_bp: RatioBp::new(3_000) },
        ],
    };
    let after_end = RepaymentTerms::Instalments {
        end: date!(2022 - 12 - 31),
        minimum_per_year: vec![YearShare { year: 2023, share_bp: RatioBp::new(3_000) }],
    };
    for (name, terms) in [("shares over 100%", bad_shares), ("years out of order", out_of_order), ("a year after the end", after_end)] {
        let got = legacy_schedule(&legacy_inputs("100.00", "0", terms), |_| false).map(|s| s.gap_fen).map_err(|e| e.code());
        assert_eq!(got, Err("ledger.bad_input"), "{name}");
    }
    let mut city_level = legacy_inputs("100.00", "0", RepaymentTerms::sanmenxia());
    city_level.county = region(CITY);
    assert_eq!(legacy_schedule(&city_level, |_| false).map(|s| s.gap_fen).map_err(|e| e.code()), Err("ledger.bad_input"));
    let mut county_fund = legacy_inputs("100.00", "0", RepaymentTerms::sanmenxia());
    county_fund.fund = Fund::new(FundScheme::Employee, region(COUNTY_B));
    assert_eq!(legacy_schedule(&county_fund, |_| false).map(|s| s.gap_fen).map_err(|e| e.code()), Err("ledger.not_a_city_fund"));
}

// ---------------------------------------------------------------------------------------
// Early warning (R-FND-4)

#[test]
fn early_warning_cases() {
    let year = |scheme, months, income: &str, spending: &str, surplus: &str| FundYear {
        fund: fund(scheme),
        year: 2026,
        months_elapsed: months,
        income_fen: yuan(income),
        spending_fen: yuan(spending),
        accumulated_surplus_fen: yuan(surplus),
    };
    let cases = [
        // 1,000,000 / 48,000,000 = 2.083% → 208 bp. 20,000,000 × 12 / 47,000,000 = 5.106
        // months → 511 hundredths: under 6 months.
        (year(FundScheme::Employee, 12, "48000000.00", "47000000.00", "20000000.00"), Some(208), Some(511), vec!["warning.months_below"]),
        // A current deficit: −500,000 / 10,000,000 = −5% → −500 bp. Six months of
        // 10,500,000 is 1,750,000 a month; 9,000,000 covers 5.142… → 514.
        (
            year(FundScheme::Resident, 6, "10000000.00", "10500000.00", "9000000.00"),
            Some(-500),
            Some(514),
            vec!["warning.surplus_rate_below", "warning.months_below"],
        ),
        // Too much surplus: 50,000,000 × 12 / 5,000,000 = 120 months.
        (
            year(FundScheme::Maternity, 12, "10000000.00", "5000000.00", "50000000.00"),
            Some(5_000),
            Some(12_000),
            vec!["warning.months_above"],
        ),
        // Inside the band: 7.5 months, a 1% surplus.
        (year(FundScheme::Employee, 12, "1000.00", "990.00", "618.75"), Some(100), Some(750), vec![]),
        // No income yet: no rate, a warning.
        (year(FundScheme::Employee, 1, "0", "100.00", "700.00"), None, Some(700), vec!["warning.no_income"]),
    ];
    for (fund_year, rate, months, codes) in cases {
        let got = indicators(&fund_year, &WarningThresholds::COMMON, Rounding::HalfUp).expect("indicators");
        assert_eq!((got.surplus_rate_bp, got.months_covered_centi), (rate, months), "{fund_year:?}");
        let got_codes: Vec<&str> = got.warnings.iter().map(|(w, _)| w.code()).collect();
        assert_eq!(got_codes, codes, "{fund_year:?}");
        assert!(got.warnings.iter().all(|(_, note)| !note.zh.is_empty() && !note.en.is_empty()));
    }
    let below = indicators(
        &year(FundScheme::Resident, 6, "10000000.00", "10500000.00", "9000000.00"),
        &WarningThresholds::COMMON,
        Rounding::HalfUp,
    )
    .expect("indicators");
    assert_eq!(below.warnings[0].0, Warning::SurplusRateBelow { rate_bp: -500, min_bp: 0 });
    assert!(below.warnings[0].1.zh.contains("-5.00%"), "{}", below.warnings[0].1);
    let bad = indicators(&year(FundScheme::Employee, 13, "1.00", "1.00", "1.00"), &WarningThresholds::COMMON, Rounding::HalfUp);
    assert_eq!(bad.map(|i| i.surplus_rate_bp).map_err(|e| e.code()), Err("ledger.bad_input"));
}

// ---------------------------------------------------------------------------------------
// The two-county city's books through a month and the year-end runs

/// January 2026 in the employee fund, then the year-end runs over it:
///
/// | step | special | adjustment fund | notes |
/// |---|---|---|---|
/// | opening balance | 3,000,000 | | |
/// | sweep 2,000,000 + 1,200,000 + 800,000 | 7,000,000 | | income accounts emptied |
/// | pay 1,500,000 + 900,000 + 1,400,000 | 3,200,000 | | B's expenditure account 1,400,000 |
/// | levy 10%: 200,000 + 120,000 + 80,000 | 2,800,000 | 400,000 | positions city 200,000, A 120,000, B 80,000 |
/// | B: deficit 1,400,000 − 800,000 = 600,000, no surplus; the adjustment fund covers 400,000 | 3,200,000 | 0 | B's position 80,000 − 400,000 = −320,000 |
/// | the remaining 200,000: city 200,000 × 50% × 92.5% = 92,500, B 107,500, as receivables | | | |
/// | city finance pays its 92,500 | 3,292,500 | | B's finance still owes 107,500 |
#[test]
fn a_month_and_the_year_end_in_the_two_county_city() {
    let mut ledger = city_ledger(date!(2026 - 01 - 01));
    let special = AccountKey::special(employee());
    let mut setup = vec![opening("opening", employee(), "3000000.00", date!(2026 - 01 - 01))];
    setup.push(contribution("jan-city", employee(), CITY, "2000000.00", date!(2026 - 01 - 20)));
    setup.push(contribution("jan-a", employee(), COUNTY_A, "1200000.00", date!(2026 - 01 - 20)));
    setup.push(contribution("jan-b", employee(), COUNTY_B, "800000.00", date!(2026 - 01 - 20)));
    ledger.post(&setup).expect("opening and January's contributions");

    // The monthly run reads the income balances from the books.
    let income = |ledger: &Ledger, unit: &str| ledger.balance_fen(&unit_account(employee(), unit, AccountKind::Income)).expect("account");
    let month = |ledger: &Ledger| MonthInputs {
        fund: employee(),
        month: YearMonth::parse("2026-01").expect("month"),
        value_date: date!(2026 - 01 - 25),
        special_balance_fen: ledger.balance_fen(&special).expect("special"),
        units: vec![
            UnitMonth { unit: region(CITY), income_balance_fen: income(ledger, CITY), expenditure_fen: yuan("1500000.00") },
            UnitMonth { unit: region(COUNTY_A), income_balance_fen: income(ledger, COUNTY_A), expenditure_fen: yuan("900000.00") },
            UnitMonth { unit: region(COUNTY_B), income_balance_fen: income(ledger, COUNTY_B), expenditure_fen: yuan("1400000.00") },
        ],
    };
    let plan = plan_month(&month(&ledger), |id| ledger.contains(id)).expect("January");
    ledger.post(&batch_of(&plan.transfers)).expect("January posts");
    assert_eq!(ledger.balance_fen(&special), Some(yuan("3200000.00")));
    assert_eq!(ledger.balance_fen(&unit_account(employee(), COUNTY_B, AccountKind::Expenditure)), Some(yuan("1400000.00")));

    // Income that arrives after the sweep day is next month's: re-running January posts nothing.
    ledger.post(&[contribution("late-a", employee(), COUNTY_A, "10.00", date!(2026 - 01 - 28))]).expect("late income");
    let rerun = plan_month(&month(&ledger), |id| ledger.contains(id)).expect("January again");
    assert!(rerun.transfers.is_empty(), "{:?}", rerun.transfers);
    assert_eq!(rerun.already_posted, 8);

    // Year-end levy on what each unit collected.
    let levy = plan_levy(
        &LevyInputs {
            city: region(CITY),
            year: 2026,
            ratio_bp: DEFAULT_LEVY_RATIO_BP,
            rounding: Rounding::HalfUp,
            value_date: date!(2026 - 12 - 31),
            bases: [(CITY, "2000000.00"), (COUNTY_A, "1200000.00"), (COUNTY_B, "800000.00")]
                .iter()
                .map(|(unit, base)| LevyBase { contributor: region(unit), fund: employee(), collected_pooled_income_fen: yuan(base) })
                .collect(),
        },
        |id| ledger.contains(id),
    )
    .expect("levy");
    assert_eq!(levy.total_fen, yuan("400000.00"));
    ledger.post(&batch_of(&levy.transfers)).expect("the levy posts");
    assert_eq!(ledger.balance_fen(&special), Some(yuan("2800000.00")));

    // B's deficit through the waterfall.
    let targets = Targets {
        enrolment_target: 100_000,
        enrolled: 95_000,
        collection_target_fen: yuan("1000000.00"),
        collected_fen: yuan("900000.00"),
    };
    let waterfall = plan_waterfall(
        &WaterfallInputs {
            city: region(CITY),
            year: 2026,
            value_date: date!(2026 - 12 - 31),
            rounding: Rounding::HalfUp,
            adjustment_available_fen: ledger.balance_fen(&AccountKey::special(adjustment())).expect("adjustment fund"),
            city_share_when_met_bp: RatioBp::new(5_000),
            positions: vec![FundPosition {
                fund: employee(),
                unit: region(COUNTY_B),
                income_fen: yuan("800000.00"),
                spending_fen: yuan("1400000.00"),
                surplus_brought_forward_fen: Fen::ZERO,
                target_score_bp: target_score_bp(&targets, Rounding::HalfUp),
            }],
        },
        |id| ledger.contains(id),
    )
    .expect("waterfall");
    let line = &waterfall.lines[0];
    assert_eq!(
        (line.deficit_fen, line.from_adjustment_fen, line.city_finance_fen, line.county_finance_fen),
        (yuan("600000.00"), yuan("400000.00"), yuan("92500.00"), yuan("107500.00"))
    );
    ledger.post(&batch_of(&waterfall.transfers)).expect("the waterfall posts");

    // City finance pays its share into the special account.
    let city_receivable = finance(employee(), CITY, AccountKind::Receivable);
    let payment = Transfer::new(
        id("city-pays"),
        special,
        city_receivable,
        yuan("92500.00"),
        Reason::DeficitCover,
        cause("city-pays"),
        date!(2027 - 01 - 15),
    );
    ledger.post(&[payment]).expect("the payment posts");

    let balance = |key: AccountKey| ledger.balance_fen(&key).expect("account");
    assert_eq!(balance(special), yuan("3292500.00"));
    assert_eq!(balance(AccountKey::special(adjustment())), Fen::ZERO);
    assert_eq!(balance(unit_account(adjustment(), CITY, AccountKind::InterFund)), yuan("200000.00"));
    assert_eq!(balance(unit_account(adjustment(), COUNTY_A, AccountKind::InterFund)), yuan("120000.00"));
    assert_eq!(balance(unit_account(adjustment(), COUNTY_B, AccountKind::InterFund)), yuan("-320000.00"));
    assert_eq!(balance(city_receivable), Fen::ZERO);
    assert_eq!(balance(finance(employee(), COUNTY_B, AccountKind::Receivable)), yuan("107500.00"));
    assert_eq!(balance(unit_account(employee(), COUNTY_A, AccountKind::Income)), yuan("10.00"));
    // The fund's outside world: 3,000,000 opening + 4,000,010 contributions + 200,000 owed
    // by finance = 7,200,010.00 of net assets, held as 3,292,500 special + 10 income +
    // 1,500,000 + 900,000 + 1,400,000 on expenditure accounts + 107,500 receivable, less
    // the fund's net position with the adjustment fund (−400,000 + 400,000 = 0).
    let outside: Fen =
        ledger.accounts().filter(|s| s.key().fund == employee() && s.key().kind == AccountKind::External).map(|s| s.balance_fen()).sum();
    assert_eq!(outside, yuan("7200010.00"));
    check_invariants(&ledger).expect("sound books");
}

/// B's legacy gap booked in 2021 and repaid in part: the receivable is what the status says.
#[test]
fn a_legacy_gap_is_booked_and_repaid() {
    let mut ledger = city_ledger(date!(2021 - 01 - 01));
    let mut setup = vec![opening("opening", employee(), "10000000.00", date!(2021 - 01 - 01))];
    // What B paid into the adjustment fund over the years, brought in as one levy pair.
    setup.extend(cross_fund_pair(
        (id("past-out"), id("past-in")),
        FundUnit { fund: employee(), unit: region(COUNTY_B) },
        FundUnit { fund: adjustment(), unit: region(COUNTY_B) },
        yuan("1200000.00"),
        Reason::AdjustmentLevy,
        &cause("past-levies"),
        date!(2021 - 01 - 01),
    ));
    ledger.post(&setup).expect("opening");
    let schedule = legacy_schedule(&legacy_inputs("5000000.00", "1200000.00", RepaymentTerms::sanmenxia()), |id| ledger.contains(id))
        .expect("schedule");
    ledger.post(&batch_of(&schedule.transfers)).expect("the schedule posts");
    let receivable = finance(employee(), COUNTY_B, AccountKind::Receivable);
    assert_eq!(ledger.balance_fen(&receivable), Some(yuan("3800000.00")));
    assert_eq!(ledger.balance_fen(&unit_account(adjustment(), COUNTY_B, AccountKind::InterFund)), Some(Fen::ZERO));

    let repayments = [
        Repayment { on: date!(2021 - 12 - 20), amount_fen: yuan("1200000.00") },
        Repayment { on: date!(2022 - 11 - 30), amount_fen: yuan("900000.00") },
    ];
    for (i, r) in repayments.iter().enumerate() {
        let planned =
            repayment_transfer(&schedule, id(&format!("repay-{i}")), r, BusinessRef::new(RecordKind::LegacyDeficit, "repay").expect("ref"));
        ledger.post(&[planned.transfer]).expect("a repayment posts");
    }
    let status = legacy_status(&schedule, &repayments, date!(2023 - 01 - 31)).expect("status");
    assert_eq!(ledger.balance_fen(&receivable), Some(status.owed_fen));
    assert_eq!(status.owed_fen, yuan("1700000.00"));
    // Repaying more than is owed is an overdraft of the receivable.
    let too_much =
        repayment_transfer(&schedule, id("repay-x"), &Repayment { on: date!(2023 - 06 - 30), amount_fen: yuan("1700000.01") }, cause("x"));
    assert_eq!(ledger.post(&[too_much.transfer]).map_err(|e| e.code()), Err("ledger.overdraft"));
    // Re-planning the schedule posts nothing new.
    let again = legacy_schedule(&legacy_inputs("5000000.00", "1200000.00", RepaymentTerms::sanmenxia()), |id| ledger.contains(id))
        .expect("schedule");
    assert!(again.transfers.is_empty() && again.already_posted == 3);
    check_invariants(&ledger).expect("sound books");
}
