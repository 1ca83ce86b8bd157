//! The posting rules, one refusal per rule, and the book check over tampered books.
//! Amounts are small and worked by hand in the comments.

mod common;

use common::*;
use time::macros::date;
use yibao_domain::Fen;
use yibao_ledger::{
    AccountKey, AccountKind, AccountState, FundScheme, FundUnit, Ledger, PostOutcome, Reason, SettlementLayer, Transfer, check_books,
    check_invariants, cross_fund_pair, limits, reverse_pair,
};

const DAY: time::Date = date!(2026 - 03 - 10);

fn transfer(name: &str, debit: AccountKey, credit: AccountKey, amount: &str, reason: Reason) -> Transfer {
    Transfer::new(id(name), debit, credit, yuan(amount), reason, cause(name), DAY)
}

fn special() -> AccountKey {
    AccountKey::special(employee())
}

fn income_a() -> AccountKey {
    unit_account(employee(), COUNTY_A, AccountKind::Income)
}

fn outside_a() -> AccountKey {
    unit_account(employee(), COUNTY_A, AccountKind::External)
}

fn payable() -> AccountKey {
    AccountKey::new(employee(), hospital(), AccountKind::Payable)
}

fn hospital_outside() -> AccountKey {
    AccountKey::new(employee(), hospital(), AccountKind::External)
}

/// The levy pair moving 100.00 of county A's employee money into the adjustment fund.
fn levy(amount: &str) -> [Transfer; 2] {
    cross_fund_pair(
        (id("levy-out"), id("levy-in")),
        FundUnit { fund: employee(), unit: region(COUNTY_A) },
        FundUnit { fund: adjustment(), unit: region(COUNTY_A) },
        yuan(amount),
        Reason::AdjustmentLevy,
        &cause("levy"),
        DAY,
    )
}

/// A levy pair of 10.00 under new ids `{name}-out` and `{name}-in`.
fn fresh_levy(name: &str) -> [Transfer; 2] {
    cross_fund_pair(
        (id(&format!("{name}-out")), id(&format!("{name}-in"))),
        FundUnit { fund: employee(), unit: region(COUNTY_A) },
        FundUnit { fund: adjustment(), unit: region(COUNTY_A) },
        yuan("10.00"),
        Reason::AdjustmentLevy,
        &cause(name),
        DAY,
    )
}

/// A year's first movements in the employee fund:
/// - county A collects 1000.00 (income account 1000.00);
/// - 600.00 of it is swept to the special account (income 400.00, special 600.00);
/// - a settlement owes the hospital 300.00 (payable 300.00, outside world of the hospital −300.00);
/// - 100.00 is levied into the adjustment fund (special 500.00, adjustment special 100.00).
fn history() -> Vec<Transfer> {
    let mut list = vec![
        transfer("in-a", income_a(), outside_a(), "1000.00", Reason::Contribution),
        transfer("sweep-a", special(), income_a(), "600.00", Reason::Sweep),
        transfer("settle-1", hospital_outside(), payable(), "300.00", Reason::Settlement(SettlementLayer::Pooled)),
    ];
    list.extend(levy("100.00"));
    list
}

fn funded() -> Ledger {
    let mut ledger = city_ledger(date!(2026 - 01 - 01));
    let outcomes = ledger.post(&history()).expect("the history posts");
    assert!(outcomes.iter().all(|o| *o == PostOutcome::Posted));
    ledger
}

#[test]
fn history_posts_balances_and_replays_as_already_posted() {
    let mut ledger = funded();
    let balance = |key: AccountKey| ledger.balance_fen(&key).expect("account");
    assert_eq!(balance(income_a()), yuan("400.00"));
    assert_eq!(balance(special()), yuan("500.00"));
    assert_eq!(balance(outside_a()), yuan("1000.00"));
    assert_eq!(balance(payable()), yuan("300.00"));
    assert_eq!(balance(hospital_outside()), yuan("-300.00"));
    assert_eq!(balance(AccountKey::special(adjustment())), yuan("100.00"));
    // County A's position: −100.00 in the employee fund, +100.00 in the adjustment fund.
    assert_eq!(balance(unit_account(employee(), COUNTY_A, AccountKind::InterFund)), yuan("-100.00"));
    assert_eq!(balance(unit_account(adjustment(), COUNTY_A, AccountKind::InterFund)), yuan("100.00"));
    check_invariants(&ledger).expect("sound books");

    let before = ledger.clone();
    let outcomes = ledger.post(&history()).expect("a replay is accepted");
    assert!(outcomes.iter().all(|o| *o == PostOutcome::AlreadyPosted), "{outcomes:?}");
    assert_eq!(ledger, before, "a replay changes nothing");
}

#[test]
fn reversals_undo_at_most_the_original() {
    let mut ledger = funded();
    let original = ledger.transfer(&id("in-a")).expect("posted").clone();
    let first = original.reversal(id("rev-1"), yuan("250.00"), cause("rev"), DAY);
    let second = original.reversal(id("rev-2"), yuan("150.00"), cause("rev"), DAY);
    ledger.post(&[first, second]).expect("400.00 of 1000.00 reversed; the income account had exactly 400.00");
    assert_eq!(ledger.balance_fen(&income_a()), Some(Fen::ZERO));
    assert_eq!(ledger.reversed_fen(&id("in-a")), yuan("400.00"));
    // The levy pair is reversed as a pair.
    let out = ledger.transfer(&id("levy-out")).expect("posted").clone();
    let into = ledger.transfer(&id("levy-in")).expect("posted").clone();
    let pair = reverse_pair(&out, &into, (id("levy-out-rev"), id("levy-in-rev")), yuan("40.00"), &cause("rev"), DAY);
    ledger.post(&pair).expect("a pair reversal posts");
    assert_eq!(ledger.balance_fen(&AccountKey::special(adjustment())), Some(yuan("60.00")));
    check_invariants(&ledger).expect("sound books");
}

/// Posts `batch` to `ledger` and expects the refusal `code`, with nothing changed.
fn check(ledger: &Ledger, name: &str, batch: &[Transfer], code: &str) -> Result<(), String> {
    let mut attempt = ledger.clone();
    match attempt.post(batch) {
        Ok(outcomes) => Err(format!("{name}: expected {code}, but the batch posted: {outcomes:?}")),
        Err(e) if e.code() != code => Err(format!("{name}: expected {code}, got {} ({e})", e.code())),
        Err(_) if attempt != *ledger => Err(format!("{name}: refused, but the ledger changed")),
        Err(_) => Ok(()),
    }
}

#[test]
fn every_rule_refuses_and_the_batch_leaves_no_trace() {
    let ledger = funded();
    // Valid on its own: put first in batches to show a refusal takes the whole batch.
    let fine = || transfer("fine", income_a(), outside_a(), "1.00", Reason::Contribution);
    let with = |t: Transfer| vec![fine(), t];
    let mut big = Fen::yuan(10_000_000_000); // the largest single amount the domain allows
    for _ in 0..20 {
        big += big; // 2^20 × 10 billion yuan: beyond the books' limit
    }
    let mut cases: Vec<(&str, Vec<Transfer>, &str)> = vec![
        ("zero amount", with(transfer("z", income_a(), outside_a(), "0", Reason::Contribution)), "ledger.amount_not_positive"),
        ("negative amount", with(transfer("n", income_a(), outside_a(), "-1.00", Reason::Contribution)), "ledger.amount_not_positive"),
        (
            "amount beyond the books",
            with(Transfer::new(id("big"), income_a(), outside_a(), big, Reason::Contribution, cause("big"), DAY)),
            "ledger.amount_too_large",
        ),
        ("same account", with(transfer("s", income_a(), income_a(), "1.00", Reason::Contribution)), "ledger.same_account"),
        (
            "account never opened",
            with(transfer("m", AccountKey::special(fund(FundScheme::Supplementary)), income_a(), "1.00", Reason::Sweep)),
            "ledger.no_such_account",
        ),
        (
            "before the account opened",
            with(Transfer::new(
                id("early"),
                income_a(),
                outside_a(),
                yuan("1.00"),
                Reason::Contribution,
                cause("e"),
                date!(2025 - 12 - 31),
            )),
            "ledger.before_account_opened",
        ),
        (
            "one transfer across funds, even as an adjustment",
            with(transfer("x", AccountKey::special(resident()), special(), "1.00", Reason::AuditedAdjustment)),
            "ledger.cross_fund",
        ),
        (
            "critical illness paid by the employee fund",
            with(transfer("l", hospital_outside(), payable(), "1.00", Reason::Settlement(SettlementLayer::CriticalIllness))),
            "ledger.layer_fund_mismatch",
        ),
        ("overdraft", with(transfer("o", special(), income_a(), "401.01", Reason::Sweep)), "ledger.overdraft"),
        (
            "two payments of the hospital beyond what is owed",
            vec![
                transfer("p1", payable(), special(), "200.00", Reason::InstitutionPayment),
                transfer("p2", payable(), special(), "100.01", Reason::InstitutionPayment),
            ],
            "ledger.overdraft",
        ),
        ("the same id twice in a batch", vec![fine(), fine()], "ledger.duplicate_in_batch"),
        (
            "an id posted before with other content",
            with(transfer("in-a", income_a(), outside_a(), "999.00", Reason::Contribution)),
            "ledger.id_conflict",
        ),
        ("a batch over the limit", vec![fine(); limits::BATCH_LIMIT + 1], "ledger.batch_too_large"),
    ];

    let mut bad_cause = fine();
    bad_cause.id = id("bad-cause");
    bad_cause.cause.id = String::new();
    cases.push(("an empty business record id", vec![bad_cause], "ledger.bad_record_id"));

    // Adjustment pairs.
    let [out, _] = levy("10.00");
    let renamed = |mut t: Transfer, name: &str| {
        t.id = id(name);
        t
    };
    let mut wrong_reason = cross_fund_pair(
        (id("c-out"), id("c-in")),
        FundUnit { fund: employee(), unit: region(COUNTY_A) },
        FundUnit { fund: adjustment(), unit: region(COUNTY_A) },
        yuan("10.00"),
        Reason::Contribution,
        &cause("c"),
        DAY,
    );
    cases.push(("money across funds as a contribution", wrong_reason.to_vec(), "ledger.inter_fund_reason"));
    cases.push(("only the out-leg", vec![fresh_levy("lone")[0].clone()], "ledger.unpaired_adjustment"));
    let mut unnamed = renamed(out.clone(), "unnamed");
    unnamed.pair = None;
    cases.push(("an inter-fund leg naming no pair", vec![unnamed], "ledger.unpaired_adjustment"));
    let mut both_sides = renamed(out.clone(), "both");
    both_sides.credit = unit_account(employee(), COUNTY_B, AccountKind::InterFund);
    cases.push(("inter-fund on both sides", vec![both_sides], "ledger.inter_fund_both_sides"));
    let mut uneven = fresh_levy("u");
    uneven[1].amount_fen = yuan("9.99");
    cases.push(("legs of different amounts", uneven.to_vec(), "ledger.pair_mismatch"));
    wrong_reason[1].reason = Reason::DeficitCover;
    wrong_reason[0].reason = Reason::AdjustmentLevy;
    cases.push(("legs of different reasons", wrong_reason.to_vec(), "ledger.pair_mismatch"));
    let mut later = fresh_levy("late");
    later[1].value_date = date!(2026 - 03 - 11);
    cases.push(("legs on different days", later.to_vec(), "ledger.pair_mismatch"));
    let same_fund = cross_fund_pair(
        (id("sf-out"), id("sf-in")),
        FundUnit { fund: employee(), unit: region(COUNTY_A) },
        FundUnit { fund: employee(), unit: region(COUNTY_B) },
        yuan("10.00"),
        Reason::AuditedAdjustment,
        &yibao_ledger::BusinessRef::new(yibao_ledger::RecordKind::AuditApproval, "audit-8").expect("ref"),
        DAY,
    );
    cases.push(("a pair inside one fund", same_fund.to_vec(), "ledger.pair_mismatch"));
    let unaudited = cross_fund_pair(
        (id("ua-out"), id("ua-in")),
        FundUnit { fund: employee(), unit: region(COUNTY_A) },
        FundUnit { fund: resident(), unit: region(COUNTY_A) },
        yuan("10.00"),
        Reason::AuditedAdjustment,
        &cause("no-audit"),
        DAY,
    );
    cases.push(("an audited adjustment citing no audit", unaudited.to_vec(), "ledger.unaudited_adjustment"));
    let mut backwards = fresh_levy("bk");
    let leg = &mut backwards[1];
    std::mem::swap(&mut leg.debit, &mut leg.credit);
    cases.push(("both legs sending", backwards.to_vec(), "ledger.pair_mismatch"));
    let mut lonely = fresh_levy("ln");
    lonely[1].pair = Some(id("in-a"));
    cases.push(("the other leg names another pair", lonely.to_vec(), "ledger.pair_mismatch"));
    let mut stray = fine();
    stray.pair = Some(id("in-a"));
    cases.push(("a pair on a transfer inside one fund", vec![stray], "ledger.pair_mismatch"));

    // Reversals.
    let original = ledger.transfer(&id("in-a")).expect("posted").clone();
    let mut orphan = original.reversal(id("r0"), yuan("1.00"), cause("r"), DAY);
    orphan.reverses = None;
    cases.push(("a reversal naming nothing", vec![orphan], "ledger.reversal_without_original"));
    let mut unknown = original.reversal(id("r1"), yuan("1.00"), cause("r"), DAY);
    unknown.reverses = Some(id("never-posted"));
    cases.push(("a reversal of an unknown transfer", vec![unknown], "ledger.reversal_without_original"));
    let mut disguised = original.reversal(id("r2"), yuan("1.00"), cause("r"), DAY);
    disguised.reason = Reason::Contribution;
    cases.push(("a reversal with another reason", vec![disguised], "ledger.not_a_reversal"));
    let mut unswapped = original.reversal(id("r3"), yuan("1.00"), cause("r"), DAY);
    unswapped.debit = income_a();
    unswapped.credit = outside_a();
    cases.push(("a reversal not swapping the accounts", vec![unswapped], "ledger.reversal_mismatch"));
    let reversal = original.reversal(id("r4"), yuan("1.00"), cause("r"), DAY);
    let of_reversal = reversal.reversal(id("r5"), yuan("1.00"), cause("r"), DAY);
    cases.push(("a reversal of a reversal", vec![reversal, of_reversal], "ledger.reversal_mismatch"));
    cases.push((
        "reversing more than the original",
        vec![original.reversal(id("r6"), yuan("300.00"), cause("r"), DAY), original.reversal(id("r7"), yuan("700.01"), cause("r"), DAY)],
        "ledger.over_reversal",
    ));
    let levy_out = ledger.transfer(&id("levy-out")).expect("posted").clone();
    cases.push((
        "one leg of a pair reversed alone",
        vec![levy_out.reversal(id("r8"), yuan("1.00"), cause("r"), DAY)],
        "ledger.unpaired_adjustment",
    ));

    let failures: Vec<String> = cases.iter().filter_map(|(name, batch, code)| check(&ledger, name, batch, code).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(cases.len() >= 30, "only {} refusal cases", cases.len());
}

#[test]
fn a_pair_posts_in_either_order_within_the_batch() {
    let mut ledger = funded();
    let [out, into] = cross_fund_pair(
        (id("h-out"), id("h-in")),
        FundUnit { fund: employee(), unit: region(COUNTY_B) },
        FundUnit { fund: resident(), unit: region(COUNTY_B) },
        yuan("50.00"),
        Reason::AuditedAdjustment,
        &yibao_ledger::BusinessRef::new(yibao_ledger::RecordKind::AuditApproval, "audit-7").expect("ref"),
        DAY,
    );
    ledger.post(&[into, out]).expect("the in-leg may come first");
    assert_eq!(ledger.balance_fen(&AccountKey::special(resident())), Some(yuan("50.00")));
    assert_eq!(ledger.balance_fen(&special()), Some(yuan("450.00")));
    check_invariants(&ledger).expect("sound books");
}

/// The store's path: load the touched accounts and the referenced transfers, post into that
/// working set, write back. The result is what posting into the whole ledger gives.
#[test]
fn a_working_set_posts_as_the_whole_ledger_does() {
    let whole = funded();
    let original = whole.transfer(&id("in-a")).expect("posted").clone();
    let batch = vec![
        original.reversal(id("rev-a"), yuan("100.00"), cause("rev"), DAY),
        transfer("pay-h", payable(), special(), "120.00", Reason::InstitutionPayment),
        original.clone(), // a replay, known from the loaded transfers
    ];
    let touched = [income_a(), outside_a(), payable(), special()];
    let states: Vec<AccountState> = touched.iter().map(|k| *whole.account(k).expect("account")).collect();
    let mut working = Ledger::resume(states, vec![original.clone()]).expect("a working set");
    let mut full = whole.clone();
    assert_eq!(working.post(&batch), full.post(&batch));
    for key in touched {
        assert_eq!(working.account(&key), full.account(&key), "{key}");
    }
    assert_eq!(&working.transfers()[1..], &full.transfers()[whole.transfers().len()..]);
    // Too much reversed shows in the working set as well, once earlier reversals are loaded.
    let reversals = vec![original.clone(), working.transfer(&id("rev-a")).expect("posted").clone()];
    let states: Vec<AccountState> = touched.iter().map(|k| *working.account(k).expect("account")).collect();
    let mut again = Ledger::resume(states, reversals).expect("a working set");
    let over = original.reversal(id("rev-b"), yuan("900.01"), cause("rev"), DAY);
    assert_eq!(again.post(&[over]).map_err(|e| e.code()), Err("ledger.over_reversal"));
    assert_eq!(
        Ledger::resume([], vec![original.clone(), original]).map(|l| l.transfers().len()).map_err(|e| e.code()),
        Err("ledger.duplicate_in_batch")
    );
}

#[test]
fn accounts_are_opened_once() {
    let mut ledger = funded();
    let account = common::chart(date!(2026 - 01 - 01)).remove(0);
    assert_eq!(ledger.create_account(account).map_err(|e| e.code()), Err("ledger.account_exists"));
    let mut misheld = account;
    misheld.key.kind = AccountKind::PersonalAccount;
    assert_eq!(ledger.create_account(misheld).map_err(|e| e.code()), Err("ledger.holder_kind_mismatch"));
}

/// Books stored elsewhere, tampered with; each tamper must raise exactly these breaches.
type Tamper = fn(&mut Vec<AccountState>, &mut Vec<Transfer>);

/// Sets every account's stored totals to what its transfers sum to, as a store whose
/// transfers were tampered with (but whose totals were recomputed) would show.
fn restate(accounts: &mut [AccountState], transfers: &[Transfer]) {
    for state in accounts.iter_mut() {
        state.debits_posted_fen = transfers.iter().filter(|t| t.debit == state.key()).map(|t| t.amount_fen).sum();
        state.credits_posted_fen = transfers.iter().filter(|t| t.credit == state.key()).map(|t| t.amount_fen).sum();
    }
}

#[test]
fn the_book_check_names_each_breach() {
    let ledger = funded();
    let cases: [(&str, Tamper, &[&str]); 8] = [
        ("untouched", |_, _| {}, &[]),
        (
            "a stored total edited",
            |accounts, _| {
                let state = accounts.iter_mut().find(|s| s.key() == special()).expect("special");
                state.debits_posted_fen += Fen::new(1);
            },
            &["books.posted_totals", "books.fund_unbalanced"],
        ),
        (
            "a transfer moved to another fund's account",
            |accounts, transfers| {
                // The settlement's payable lands in the resident fund.
                transfers[2].credit = AccountKey::new(resident(), hospital(), AccountKind::Payable);
                restate(accounts, transfers);
            },
            &["ledger.cross_fund", "books.fund_unbalanced"],
        ),
        (
            "one leg of an adjustment deleted",
            |accounts, transfers| {
                transfers.retain(|t| t.id.as_str() != "levy-in");
                restate(accounts, transfers);
            },
            &["ledger.unpaired_adjustment", "books.inter_fund_not_net_zero"],
        ),
        (
            "a payout moved before the income that paid it",
            |accounts, transfers| {
                transfers.swap(0, 1);
                restate(accounts, transfers);
            },
            &["books.overdraft"],
        ),
        (
            "a transfer stored twice",
            |accounts, transfers| {
                transfers.push(transfers[0].clone());
                restate(accounts, transfers);
            },
            &["books.duplicate_transfer"],
        ),
        (
            "an account deleted",
            |accounts, _| accounts.retain(|s| s.key() != payable()),
            &["ledger.no_such_account", "books.fund_unbalanced"],
        ),
        (
            "reversals beyond the original",
            |accounts, transfers| {
                let original = transfers[0].clone();
                transfers.push(original.reversal(id("rv-1"), Fen::new(60_000), cause("rv"), DAY));
                transfers.push(original.reversal(id("rv-2"), Fen::new(40_001), cause("rv"), DAY));
                restate(accounts, transfers);
            },
            &["books.over_reversal", "books.overdraft"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, tamper, expected) in cases {
        let mut accounts: Vec<AccountState> = ledger.accounts().copied().collect();
        let mut transfers = ledger.transfers().to_vec();
        tamper(&mut accounts, &mut transfers);
        let mut codes: Vec<&str> = match check_books(&accounts, &transfers) {
            Ok(()) => Vec::new(),
            Err(breaches) => breaches.iter().map(|b| b.code()).collect(),
        };
        codes.sort_unstable();
        codes.dedup();
        let mut want = expected.to_vec();
        want.sort_unstable();
        if codes != want {
            failures.push(format!("{name}: expected {want:?}, got {codes:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_book_check_stops_listing_at_its_limit() {
    let ledger = funded();
    let accounts: Vec<AccountState> = ledger.accounts().copied().collect();
    let transfers: Vec<Transfer> = std::iter::repeat_n(ledger.transfers()[0].clone(), limits::BREACHES_LIMIT + 10).collect();
    let breaches = check_books(&accounts, &transfers).expect_err("duplicates everywhere");
    assert_eq!(breaches.len(), limits::BREACHES_LIMIT + 1);
    assert_eq!(breaches.last().map(|b| b.code()), Some("books.truncated"));
}

/// How a settlement and its payment post (the shape the store follows): each layer from its
/// own fund, the personal account from the employee fund, the hospital paid from an
/// insurer's revolving fund (R-TPA-1), and nothing beyond what an account holds.
#[test]
fn a_settlement_posts_each_layer_from_its_own_fund() {
    let mut ledger = funded();
    let critical = fund(FundScheme::EmployeeLargeAmount);
    let insurer = yibao_ledger::Holder::insurer("PICC").expect("insurer code");
    let revolving = AccountKey::new(employee(), insurer, AccountKind::Expenditure);
    for key in [
        AccountKey::special(critical),
        AccountKey::of_unit(critical, region(CITY), AccountKind::External),
        AccountKey::new(critical, hospital(), AccountKind::Payable),
        AccountKey::new(critical, hospital(), AccountKind::External),
        revolving,
    ] {
        ledger.create_account(yibao_ledger::Account::open(key, date!(2026 - 01 - 01)).expect("account")).expect("new account");
    }
    let person = AccountKey::new(employee(), yibao_ledger::Holder::Person(person()), AccountKind::PersonalAccount);
    let claim = |name: &str, debit, credit, amount: &str, reason| {
        Transfer::new(
            id(name),
            debit,
            credit,
            yuan(amount),
            reason,
            yibao_ledger::BusinessRef::new(yibao_ledger::RecordKind::Settlement, "T-1").expect("ref"),
            DAY,
        )
    };
    let critical_payable = AccountKey::new(critical, hospital(), AccountKind::Payable);
    let batch = [
        // The large-amount fund holds 1,000.00; the person's account 50.00 (2% of wages).
        claim(
            "lf-open",
            AccountKey::special(critical),
            AccountKey::of_unit(critical, region(CITY), AccountKind::External),
            "1000.00",
            Reason::Handover,
        ),
        claim("pa-credit", special(), person, "50.00", Reason::PersonalAccountCredit),
        // Claim T-1 owes the hospital hifp 4,000.00 from the employee fund, hifob 800.00 from
        // the large-amount fund, and acct_pay 50.00 from the personal account.
        claim("T-1/hifp", hospital_outside(), payable(), "4000.00", Reason::Settlement(SettlementLayer::Pooled)),
        claim(
            "T-1/hifob",
            AccountKey::new(critical, hospital(), AccountKind::External),
            critical_payable,
            "800.00",
            Reason::Settlement(SettlementLayer::LargeAmount),
        ),
        claim("T-1/acct", person, payable(), "50.00", Reason::PersonalAccountPayment),
        // The insurer's revolving fund gets 450.00 and pays the hospital 450.00 of the 4,350.00 owed.
        claim("revolving", revolving, special(), "450.00", Reason::Disbursement),
        claim("pay-1", payable(), revolving, "450.00", Reason::InstitutionPayment),
    ];
    ledger.post(&batch).expect("the settlement posts");
    assert_eq!(ledger.balance_fen(&payable()), Some(yuan("3900.00"))); // 300 + 4,000 + 50 − 450
    assert_eq!(ledger.balance_fen(&critical_payable), Some(yuan("800.00")));
    assert_eq!(ledger.balance_fen(&person), Some(Fen::ZERO));
    assert_eq!(ledger.balance_fen(&special()), Some(yuan("100.00"))); // 500 + 50 arriving for the account − 450
    // Spending the emptied personal account, or the revolving fund, again is refused.
    let again = claim("T-2/acct", person, payable(), "0.01", Reason::PersonalAccountPayment);
    assert_eq!(ledger.post(&[again]).map_err(|e| e.code()), Err("ledger.overdraft"));
    let overpay = claim("pay-2", payable(), revolving, "0.01", Reason::InstitutionPayment);
    assert_eq!(ledger.post(&[overpay]).map_err(|e| e.code()), Err("ledger.overdraft"));
    check_invariants(&ledger).expect("sound books");
}
