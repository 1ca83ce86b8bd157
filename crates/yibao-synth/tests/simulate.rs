//! The simulated year: every synthetic claim settles under the demo pack, the result does
//! not depend on the number of threads, the fund statements balance against the books,
//! and settling person by person gives what settling every claim one by one in date order
//! gives.

use std::collections::HashMap;

use time::Date;
use yibao_domain::{Fen, PersonCategory, Scheme};
use yibao_engine::{Accumulators, Explain, employee_contribution, settle, tier_on, upgrade_waiting_months};
use yibao_ledger::{AccountKind, FundScheme, Reason, check_invariants};
use yibao_policy::Policy;
use yibao_synth::{City, Config, LayerTotals, SimOptions, SimResult, render, simulate};

fn demo_policy() -> Policy {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/demo-city.toml")).expect("the demo pack");
    Policy::from_toml("demo-city.toml", &text).expect("the demo pack loads")
}

fn run(config: Config, threads: usize) -> SimResult {
    let city = City::new(config).expect("config");
    simulate(&city, &demo_policy(), &SimOptions { threads, ..SimOptions::default() }, &|_| {}).expect("the year simulates")
}

#[test]
fn every_generated_claim_settles_under_the_demo_pack() {
    let config = Config::new(20_000, 99);
    let city = City::new(config).expect("config");
    let mut expected = 0u64;
    let mut events = Vec::new();
    for p in city.persons() {
        city.year_of(&p, &mut events);
        expected += events.len() as u64;
    }
    let result = run(config, 2);
    assert_eq!(result.refused(), 0, "{:?}", result.refusals);
    assert_eq!(result.claims(), expected);
    // Every kind of claim and every paying layer occurs in a city of 20 000.
    assert!(result.kinds.iter().all(|k| k.claims > 0), "{:?}", result.kinds);
    let all = result.totals();
    for (layer, paid) in [("hifp", all.hifp), ("hifmi", all.hifmi), ("hifob", all.hifob), ("maf", all.maf), ("allowance", all.allowance)] {
        assert!(paid > Fen::ZERO, "{layer} paid nothing");
    }
    assert_eq!(all.funds + all.account + all.cash, all.bill, "payers sum to the bills");
    assert!(all.account > Fen::ZERO);
}

#[test]
fn the_result_does_not_depend_on_the_number_of_threads() {
    let config = Config { block_persons: 1_000, ..Config::new(3_500, 5) };
    let one = run(config, 1);
    let report = render(&one);
    for threads in [2, 3, 8] {
        let many = run(config, threads);
        assert_eq!(render(&many), report, "{threads} threads");
        assert_eq!(many.ledger.transfers(), one.ledger.transfers(), "{threads} threads");
        assert_eq!(many.funds, one.funds);
    }
    // And the same seed twice gives the same report; another seed another.
    assert_eq!(render(&run(config, 2)), report);
    assert_ne!(render(&run(Config { seed: 6, ..config }, 2)), report);
}

#[test]
fn fund_statements_balance_against_the_books() {
    let result = run(Config::new(5_000, 17), 2);
    check_invariants(&result.ledger).expect("the books keep every invariant");
    for fund in &result.funds {
        // Each line: closing = opening + income − spending + between funds + finance.
        for line in fund.units.iter().chain(std::iter::once(&fund.total)) {
            assert_eq!(
                line.closing,
                line.opening + line.contributions + line.subsidies - line.spending + line.between_funds + line.finance_cover,
                "{} {}",
                fund.fund,
                line.unit
            );
        }
        let sum: Fen = fund.units.iter().map(|u| u.closing).sum::<Fen>() + fund.advances;
        assert_eq!(sum, fund.total.closing, "{}: the counties add up to the fund", fund.fund);
        // From the transfers alone: income − spending = change of balance, by reason.
        let mut by_reason: HashMap<&'static str, Fen> = HashMap::new();
        for t in result.ledger.transfers().iter().filter(|t| t.fund() == fund.fund) {
            let into_net = matches!(t.credit.kind, AccountKind::External | AccountKind::InterFund);
            let out_of_net = matches!(t.debit.kind, AccountKind::External | AccountKind::InterFund);
            let signed = match (into_net, out_of_net) {
                (true, false) => t.amount_fen,
                (false, true) => Fen::ZERO - t.amount_fen,
                _ => Fen::ZERO,
            };
            *by_reason.entry(t.reason.code()).or_insert(Fen::ZERO) += signed;
        }
        let get = |code: &str| by_reason.get(code).copied().unwrap_or(Fen::ZERO);
        let income = get("contribution") + get("subsidy");
        let spending = Fen::ZERO
            - (get("settlement.pooled")
                + get("settlement.critical-illness")
                + get("settlement.large-amount")
                + get("settlement.assistance")
                + get("settlement.supplementary")
                + get("settlement.maternity-allowance")
                + get("personal-account-credit"));
        let adjustments = get("adjustment-levy") + get("deficit-cover") + get("audited-adjustment");
        let opening = get("handover");
        assert_eq!(income, fund.total.contributions + fund.total.subsidies, "{}", fund.fund);
        assert_eq!(spending, fund.total.spending, "{}", fund.fund);
        assert_eq!(opening, fund.total.opening, "{}", fund.fund);
        // The balance: everything the fund holds, less what it still owes.
        let balance: Fen = result
            .ledger
            .accounts()
            .filter(|a| a.key().fund == fund.fund)
            .map(|a| match a.key().kind {
                AccountKind::Income | AccountKind::FiscalSpecial | AccountKind::Expenditure | AccountKind::Receivable => a.balance_fen(),
                AccountKind::Payable => Fen::ZERO - a.balance_fen(),
                _ => Fen::ZERO,
            })
            .sum();
        assert_eq!(balance - opening, income - spending + adjustments, "{}: income − spending = change of balance", fund.fund);
        assert_eq!(balance, fund.total.closing, "{}", fund.fund);
        // Nothing is left owed to institutions at the year's end.
        let owed: Fen = result
            .ledger
            .accounts()
            .filter(|a| a.key().fund == fund.fund && a.key().kind == AccountKind::Payable)
            .map(|a| a.balance_fen())
            .sum();
        assert_eq!(owed, Fen::ZERO, "{}", fund.fund);
    }
    // The levied funds gave 10% of what they collected to the adjustment fund.
    let adjustment = result.funds.iter().find(|f| f.fund.scheme == FundScheme::MunicipalAdjustment).expect("the adjustment fund");
    let levied: Fen = result.funds.iter().filter(|f| f.fund.scheme.is_levied()).map(|f| f.levy).sum();
    assert_eq!(adjustment.levy, levied);
    assert!(levied > Fen::ZERO);
    for fund in result.funds.iter().filter(|f| f.fund.scheme.is_levied()) {
        let per_county: Fen = fund
            .units
            .iter()
            .map(|u| yibao_domain::Rounding::HalfUp.apply(u.contributions + u.subsidies, yibao_ledger::DEFAULT_LEVY_RATIO_BP))
            .sum();
        assert_eq!(fund.levy, per_county, "{}: 10% of each county's collected pooled income", fund.fund);
    }
    assert!(
        result.ledger.transfers().iter().any(|t| t.reason == Reason::AuditedAdjustment),
        "critical-illness financing moved between funds"
    );
}

/// Settles every claim of a small city one by one, in date order over the whole city, each
/// person's accumulators and personal account kept in a map, and compares the totals with
/// the simulation's.
#[test]
fn simulation_equals_settling_one_by_one() {
    let config = Config { block_persons: 1_000, ..Config::new(3_000, 23) };
    let policy = demo_policy();
    let city = City::new(config).expect("config");
    let result = simulate(&city, &policy, &SimOptions { threads: 2, ..SimOptions::default() }, &|_| {}).expect("simulates");

    let persons: Vec<_> = city.persons().collect();
    let mut all = Vec::new();
    let mut events = Vec::new();
    for p in &persons {
        city.year_of(p, &mut events);
        all.extend(events.iter().copied());
    }
    all.sort_by_key(|e| (e.discharge, e.admission, e.person, e.seq));
    let year = config.year;
    let first_of = |m: u8| Date::from_calendar_date(year, time::Month::try_from(m).expect("month"), 1).expect("day");
    // Each employee's monthly personal-account credit, from the engine's contribution function.
    let credit = |p: &yibao_synth::Person, month: u8| -> Fen {
        if p.scheme != Scheme::Employee {
            return Fen::ZERO;
        }
        let coverage = p.coverage(&city);
        let history = coverage.tier_history.as_ref().expect("history");
        let tier = tier_on(history, first_of(month), |t, on| upgrade_waiting_months(&policy, coverage.region, t, on))
            .expect("tier")
            .expect("covered");
        employee_contribution(&policy, coverage.region, Some(tier), p.category, p.wage_monthly, first_of(month))
            .expect("contribution")
            .to_account
    };
    let mut state: HashMap<u64, (Accumulators, Fen)> = HashMap::new();
    let mut by_kind = [LayerTotals::default(); 4];
    for e in &all {
        let p = &persons[usize::try_from(e.person).expect("index")];
        let mut coverage = p.coverage(&city);
        let (accumulators, spent) = state.entry(e.person).or_insert((Accumulators::new_year(year), Fen::ZERO));
        let month = u8::from(e.discharge.month());
        let credited: Fen = (1..=month).map(|m| credit(p, m)).sum();
        if p.scheme == Scheme::Employee {
            coverage.personal_account_balance = p.account_opening + credited - *spent;
        }
        let claim = city.claim(p, e);
        let s = settle(&policy, &claim, &coverage, accumulators, Explain::Off).expect("settles");
        *accumulators = s.accumulators;
        *spent += s.acct_pay;
        let kind = match e.kind {
            yibao_domain::ClaimKind::GeneralOutpatient => 0,
            yibao_domain::ClaimKind::ChronicOutpatient => 1,
            yibao_domain::ClaimKind::Inpatient => 2,
            yibao_domain::ClaimKind::Maternity => 3,
            kind @ (yibao_domain::ClaimKind::SingleDisease
            | yibao_domain::ClaimKind::DaySurgery
            | yibao_domain::ClaimKind::PharmacyPurchase
            | yibao_domain::ClaimKind::TwoDisease
            | yibao_domain::ClaimKind::SpecialDrug) => {
                panic!("the synthetic year draws no {kind:?} claims")
            }
        };
        by_kind[kind].claims += 1;
        by_kind[kind].bill += s.medfee_sumamt;
        by_kind[kind].hifp += s.hifp_pay;
        by_kind[kind].hifmi += s.hifmi_pay;
        by_kind[kind].hifob += s.hifob_pay;
        by_kind[kind].maf += s.maf_pay;
        by_kind[kind].oth += s.oth_pay;
        by_kind[kind].account += s.acct_pay;
        by_kind[kind].cash += s.psn_cash_pay;
        by_kind[kind].allowance += s.maternity_allowance;
    }
    for (k, (one_by_one, simulated)) in by_kind.iter().zip(result.kinds.iter()).enumerate() {
        let pick = |t: &LayerTotals| (t.claims, t.bill, t.hifp, t.hifmi, t.hifob, t.maf, t.oth, t.account, t.cash, t.allowance);
        assert_eq!(pick(one_by_one), pick(simulated), "claim kind {k}");
    }
    // The personal accounts: what the simulation reports was paid is what the claims took.
    let paid: Fen = state.values().map(|(_, spent)| *spent).sum();
    assert_eq!(paid, result.accounts.paid);
    let retirees = persons.iter().filter(|p| p.category == PersonCategory::Retired).count();
    assert!(retirees > 0);
}

#[test]
fn a_pack_for_another_city_or_period_is_refused() {
    let city = City::new(Config::new(1_000, 1)).expect("config");
    let other = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/smx-2021.toml")).expect("pack");
    let other = Policy::from_toml("smx-2021.toml", &other).expect("loads");
    let error = simulate(&city, &other, &SimOptions::default(), &|_| {}).expect_err("another city");
    assert!(matches!(error, yibao_synth::SimError::Region { .. }), "{error}");
    let early = City::new(Config { year: 2024, ..Config::new(1_000, 1) }).expect("config");
    let error = simulate(&early, &demo_policy(), &SimOptions::default(), &|_| {}).expect_err("tier changes asked for in 2023");
    assert!(matches!(error, yibao_synth::SimError::Year { .. }), "{error}");
}
