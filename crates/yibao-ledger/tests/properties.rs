//! The invariants of the fund books over generated sequences of batches: valid and invalid
//! transfers, adjustment pairs, reversals, replays and id conflicts, against the test city.
//!
//! - `fund-balanced`: per fund, debits equal credits after any sequence of posts;
//! - `no-forbidden-overdraft`: no account that forbids it is ever negative;
//! - `idempotent`: replaying posted transfers changes nothing;
//! - `adjustments-paired`: money crosses funds only as an adjustment pair;
//! - `atomic-batch`: a refused batch leaves the ledger exactly as it was;
//! - and a model kept beside the ledger agrees with its totals.

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use time::Date;
use time::macros::date;
use yibao_domain::Fen;
use yibao_ledger::{
    AccountKey, AccountKind, Fund, FundScheme, FundUnit, Ledger, PostOutcome, Reason, Transfer, check_invariants, cross_fund_pair,
    reverse_pair,
};

const OPENED: Date = date!(2026 - 01 - 01);
const DAY: Date = date!(2026 - 06 - 30);

fn funds() -> [Fund; 4] {
    [employee(), resident(), fund(FundScheme::Maternity), adjustment()]
}

#[derive(Clone, Debug)]
enum Op {
    /// Any two accounts of the chart, any reason: often refused (across funds, overdraft,
    /// inter-fund without a pair, a reversal naming nothing…).
    Single { debit: usize, credit: usize, amount_fen: i64, reason: usize },
    /// Money from outside into a unit's income account, then part of it swept.
    Income { fund: usize, unit: usize, amount_fen: i64, swept_percent: i64 },
    /// An adjustment pair between two funds for one unit, with any reason.
    Pair { from: usize, to: usize, unit: usize, amount_fen: i64, reason: usize },
    /// A reversal of part of an earlier transfer, with its pair's if `pair_too`.
    Reverse { pick: usize, percent: i64, pair_too: bool },
    /// An earlier transfer posted again unchanged.
    Replay { pick: usize },
    /// An earlier id posted again with another amount.
    Conflict { pick: usize, amount_fen: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    let accounts = chart(OPENED).len();
    prop_oneof![
        3 => (0..accounts, 0..accounts, -100i64..500_000, 0..Reason::ALL.len())
            .prop_map(|(debit, credit, amount_fen, reason)| Op::Single { debit, credit, amount_fen, reason }),
        4 => (0..3usize, 0..3usize, 1i64..1_000_000, 0i64..=100)
            .prop_map(|(fund, unit, amount_fen, swept_percent)| Op::Income { fund, unit, amount_fen, swept_percent }),
        3 => (0..4usize, 0..4usize, 0..3usize, 1i64..300_000, pair_reason())
            .prop_map(|(from, to, unit, amount_fen, reason)| Op::Pair { from, to, unit, amount_fen, reason }),
        2 => (any::<usize>(), 1i64..=120, any::<bool>()).prop_map(|(pick, percent, pair_too)| Op::Reverse { pick, percent, pair_too }),
        1 => any::<usize>().prop_map(|pick| Op::Replay { pick }),
        1 => (any::<usize>(), 1i64..100_000).prop_map(|(pick, amount_fen)| Op::Conflict { pick, amount_fen }),
    ]
}

/// Mostly the adjustment reasons, so that pairs post; sometimes any reason, which the
/// ledger must refuse.
fn pair_reason() -> impl Strategy<Value = usize> {
    let adjustments: Vec<usize> = (0..Reason::ALL.len()).filter(|&i| Reason::ALL[i].is_adjustment()).collect();
    prop_oneof![3 => prop::sample::select(adjustments), 1 => 0..Reason::ALL.len()]
}

/// Batches of one to four operations.
fn script() -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(prop::collection::vec(op(), 1..4), 1..30)
}

/// Turns operations into transfers against the ledger as it stands, with fresh ids.
struct Maker {
    accounts: Vec<AccountKey>,
    next: usize,
}

impl Maker {
    fn id(&mut self) -> yibao_ledger::TransferId {
        self.next += 1;
        id(&format!("t{}", self.next))
    }

    fn make(&mut self, op: &Op, ledger: &Ledger) -> Vec<Transfer> {
        let posted = ledger.transfers();
        match *op {
            Op::Single { debit, credit, amount_fen, reason } => vec![Transfer::new(
                self.id(),
                self.accounts[debit],
                self.accounts[credit],
                Fen::new(amount_fen),
                Reason::ALL[reason],
                cause("single"),
                DAY,
            )],
            Op::Income { fund, unit, amount_fen, swept_percent } => {
                let (fund, unit) = (funds()[fund], units()[unit]);
                let income = AccountKey::of_unit(fund, unit, AccountKind::Income);
                let outside = AccountKey::of_unit(fund, unit, AccountKind::External);
                let swept = amount_fen * swept_percent / 100;
                let mut list =
                    vec![Transfer::new(self.id(), income, outside, Fen::new(amount_fen), Reason::Contribution, cause("in"), DAY)];
                if swept > 0 {
                    list.push(Transfer::new(
                        self.id(),
                        AccountKey::special(fund),
                        income,
                        Fen::new(swept),
                        Reason::Sweep,
                        cause("sweep"),
                        DAY,
                    ));
                }
                list
            }
            Op::Pair { from, to, unit, amount_fen, reason } => {
                let unit = units()[unit];
                cross_fund_pair(
                    (self.id(), self.id()),
                    FundUnit { fund: funds()[from], unit },
                    FundUnit { fund: funds()[to], unit },
                    Fen::new(amount_fen),
                    Reason::ALL[reason],
                    &yibao_ledger::BusinessRef::new(yibao_ledger::RecordKind::AuditApproval, "pair").expect("ref"),
                    DAY,
                )
                .to_vec()
            }
            Op::Reverse { pick, percent, pair_too } if !posted.is_empty() => {
                let original = &posted[pick % posted.len()];
                let amount = Fen::new((original.amount_fen.get() * percent / 100).max(1));
                match original.pair.as_ref().and_then(|p| ledger.transfer(p)) {
                    Some(pair) if pair_too => reverse_pair(original, pair, (self.id(), self.id()), amount, &cause("rev"), DAY).to_vec(),
                    _ => vec![original.reversal(self.id(), amount, cause("rev"), DAY)],
                }
            }
            Op::Replay { pick } if !posted.is_empty() => vec![posted[pick % posted.len()].clone()],
            Op::Conflict { pick, amount_fen } if !posted.is_empty() => {
                let mut changed = posted[pick % posted.len()].clone();
                changed.amount_fen += Fen::new(amount_fen);
                vec![changed]
            }
            Op::Reverse { .. } | Op::Replay { .. } | Op::Conflict { .. } => Vec::new(),
        }
    }
}

/// What the generator exercised, so a generator that stopped producing some case fails.
#[derive(Default, Debug)]
struct Seen {
    posted: usize,
    already_posted: usize,
    pairs_posted: usize,
    reversals_posted: usize,
    refusals: HashMap<&'static str, usize>,
}

/// Runs one script, checking every property after every batch.
fn run(script: &[Vec<Op>], seen: &mut Seen) -> Result<Ledger, TestCaseError> {
    let mut ledger = city_ledger(OPENED);
    let mut maker = Maker { accounts: chart(OPENED).into_iter().map(|a| a.key).collect(), next: 0 };
    let mut model: HashMap<AccountKey, (i64, i64)> = HashMap::new();
    for ops in script {
        let batch: Vec<Transfer> = ops.iter().flat_map(|op| maker.make(op, &ledger)).collect();
        let before = ledger.clone();
        match ledger.post(&batch) {
            Err(e) => {
                // `atomic-batch`
                prop_assert_eq!(&ledger, &before, "refused with {} but changed", e.code());
                prop_assert!(e.code().starts_with("ledger."));
                *seen.refusals.entry(e.code()).or_default() += 1;
            }
            Ok(outcomes) => {
                for (transfer, outcome) in batch.iter().zip(&outcomes) {
                    match outcome {
                        PostOutcome::Posted => {
                            seen.posted += 1;
                            seen.pairs_posted += usize::from(transfer.pair.is_some());
                            seen.reversals_posted += usize::from(transfer.reverses.is_some());
                            model.entry(transfer.debit).or_default().0 += transfer.amount_fen.get();
                            model.entry(transfer.credit).or_default().1 += transfer.amount_fen.get();
                        }
                        PostOutcome::AlreadyPosted => {
                            seen.already_posted += 1;
                            prop_assert_eq!(ledger.transfer(&transfer.id), Some(transfer));
                        }
                    }
                }
            }
        }
        check_books_properties(&ledger, &model)?;
    }
    Ok(ledger)
}

fn check_books_properties(ledger: &Ledger, model: &HashMap<AccountKey, (i64, i64)>) -> Result<(), TestCaseError> {
    if let Err(breaches) = check_invariants(ledger) {
        let text: Vec<String> = breaches.iter().map(ToString::to_string).collect();
        return Err(TestCaseError::fail(format!("breaches: {}", text.join("; "))));
    }
    let mut per_fund: HashMap<Fund, (i64, i64)> = HashMap::new();
    let mut inter_fund_net = 0i64;
    for state in ledger.accounts() {
        let key = state.key();
        let (debits, credits) = (state.debits_posted_fen.get(), state.credits_posted_fen.get());
        // The model agrees with the ledger's totals.
        prop_assert_eq!(model.get(&key).copied().unwrap_or_default(), (debits, credits), "{}", key);
        // `no-forbidden-overdraft`
        prop_assert!(!state.account.no_overdraft || !state.balance_fen().is_negative(), "{} overdrawn", key);
        let fund = per_fund.entry(key.fund).or_default();
        fund.0 += debits;
        fund.1 += credits;
        if key.kind == AccountKind::InterFund {
            inter_fund_net += credits - debits;
        }
    }
    // `fund-balanced`
    for (fund, (debits, credits)) in per_fund {
        prop_assert_eq!(debits, credits, "fund {}", fund);
    }
    // `adjustments-paired`: no transfer spans two funds; money leaves a fund through an
    // inter-fund account only in a pair with an adjustment reason, entering another fund.
    prop_assert_eq!(inter_fund_net, 0);
    for t in ledger.transfers() {
        prop_assert_eq!(t.debit.fund, t.credit.fund);
        if t.touches_inter_fund() {
            let reason = match t.reverses.as_ref() {
                Some(original) => ledger.transfer(original).map(|o| o.reason),
                None => Some(t.reason),
            };
            prop_assert!(reason.is_some_and(Reason::is_adjustment), "{} crosses funds for {:?}", t.id, reason);
            let pair = t.pair.as_ref().and_then(|p| ledger.transfer(p));
            prop_assert!(pair.is_some_and(|p| p.fund() != t.fund() && p.amount_fen == t.amount_fen), "{} has no mirroring pair", t.id);
        }
    }
    Ok(())
}

#[test]
fn books_stay_sound_under_any_sequence_of_batches() {
    let mut runner = TestRunner::new(Config { cases: 256, ..Config::default() });
    let seen = std::cell::RefCell::new(Seen::default());
    let result = runner.run(&script(), |script| run(&script, &mut seen.borrow_mut()).map(|_| ()));
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    // The generator must exercise success and every kind of refusal the properties are about.
    let refused = |code: &str| seen.refusals.get(code).copied().unwrap_or(0);
    assert!(seen.posted > 1_000 && seen.pairs_posted > 100 && seen.reversals_posted > 100 && seen.already_posted > 80, "{seen:?}");
    for code in [
        "ledger.cross_fund",
        "ledger.overdraft",
        "ledger.inter_fund_reason",
        "ledger.id_conflict",
        "ledger.over_reversal",
        "ledger.unpaired_adjustment",
    ] {
        assert!(refused(code) > 10, "{code} refused only {} times: {seen:?}", refused(code));
    }
}

proptest! {
    #![proptest_config(Config { cases: 64, ..Config::default() })]

    /// `idempotent`: replaying every posted transfer, in any batching, changes nothing.
    #[test]
    fn replaying_posted_transfers_changes_nothing(script in script(), chunk in 1usize..20, reverse in any::<bool>()) {
        let mut ledger = run(&script, &mut Seen::default())?;
        let before = ledger.clone();
        let mut posted = before.transfers().to_vec();
        if reverse {
            posted.reverse();
        }
        for batch in posted.chunks(chunk) {
            let outcomes = ledger.post(batch).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(outcomes.iter().all(|o| *o == PostOutcome::AlreadyPosted));
        }
        prop_assert_eq!(ledger, before);
    }

    /// `atomic-batch`: a batch with one transfer across funds anywhere in it is refused
    /// whole, whatever the rest would have done.
    #[test]
    fn a_batch_with_one_bad_transfer_posts_nothing(script in script(), amounts in prop::collection::vec(1i64..1_000_000, 1..10), at in any::<usize>()) {
        let mut ledger = run(&script, &mut Seen::default())?;
        let before = ledger.clone();
        let unit = region(COUNTY_A);
        let income = AccountKey::of_unit(employee(), unit, AccountKind::Income);
        let outside = AccountKey::of_unit(employee(), unit, AccountKind::External);
        let mut batch: Vec<Transfer> = amounts.iter().enumerate()
            .map(|(i, a)| Transfer::new(id(&format!("ok{i}")), income, outside, Fen::new(*a), Reason::Contribution, cause("ok"), DAY))
            .collect();
        let bad = Transfer::new(id("bad"), AccountKey::special(resident()), income, Fen::new(1), Reason::AuditedAdjustment, cause("bad"), DAY);
        batch.insert(at % (batch.len() + 1), bad);
        let error = ledger.post(&batch).expect_err("a transfer across funds");
        prop_assert_eq!(error.code(), "ledger.cross_fund");
        prop_assert_eq!(ledger, before);
    }

    /// R-SCH-2: a single transfer between two funds is refused whatever its reason.
    #[test]
    fn one_transfer_never_crosses_funds(from in 0..4usize, to in 0..4usize, unit in 0..3usize, kinds in (0..8usize, 0..8usize), reason in 0..Reason::ALL.len(), amount in 1i64..1_000_000) {
        prop_assume!(from != to);
        let mut ledger = city_ledger(OPENED);
        let debit = AccountKey::of_unit(funds()[from], units()[unit], AccountKind::ALL[kinds.0]);
        let credit = AccountKey::of_unit(funds()[to], units()[unit], AccountKind::ALL[kinds.1]);
        let t = Transfer::new(id("x"), debit, credit, Fen::new(amount), Reason::ALL[reason], cause("x"), DAY);
        let error = ledger.post(&[t]).expect_err("across funds");
        // An account missing from the chart is reported first; otherwise it is the fund rule.
        prop_assert!(["ledger.cross_fund", "ledger.no_such_account"].contains(&error.code()), "{}", error.code());
        if ledger.account(&debit).is_some() && ledger.account(&credit).is_some() {
            prop_assert_eq!(error.code(), "ledger.cross_fund");
        }
    }
}
