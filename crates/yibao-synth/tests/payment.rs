//! The simulated city-year under composite payment (issue 15, item 5): every settled stay
//! is paid by its institution's method, the point value is computed from the year, the
//! result does not depend on the threads, and a payment reform moves each institution's
//! income and the fund's spending.

use yibao_domain::Fen;
use yibao_payment::{Method, PaymentPack, YearResult};
use yibao_policy::Policy;
use yibao_synth::{City, Config, SimOptions, SimResult, payment_year, simulate};

fn demo_policy() -> Policy {
    Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("the demo pack loads")
}

fn year_of(threads: usize, pack: &PaymentPack) -> (SimResult, YearResult) {
    let city = City::new(Config::new(8_000, 21)).expect("config");
    let options = SimOptions { threads, keep_stays: true, ..SimOptions::default() };
    let result = simulate(&city, &demo_policy(), &options, &|_| {}).expect("the year simulates");
    let year = payment_year(&city, &result, pack).expect("the payment year");
    (result, year)
}

#[test]
fn the_city_year_pays_every_stay_by_its_method_and_balances() {
    let pack = PaymentPack::parse(include_str!("../../../policies/payment/demo-city.toml")).expect("payment pack");
    let (result, year) = year_of(2, &pack);
    // Every stay settled is one case: the stays are the simulated inpatient claims.
    assert_eq!(u64::try_from(year.cases.len()).expect("fits"), result.kinds[2].claims);
    assert!(year.cases.iter().any(|c| matches!(c.method, Method::Points { .. })));
    assert!(year.cases.iter().any(|c| matches!(c.method, Method::FeeForService { .. })), "out of the city, fee-for-service");
    // The pool is the budget less what was spent outside the payment year and what the
    // other methods took, and the points of the year share it to the fen (fund basis).
    assert_eq!(year.fund_income, result.pooled_income);
    assert_eq!(year.points_pool, year.budget - year.outside_spending - year.other_methods);
    let standards = year.institutions.iter().filter_map(|i| i.points_clearing).fold(Fen::ZERO, |a, c| a + c.standard);
    assert_eq!(standards, year.points_pool);
    // Capitation reaches the township centres.
    assert!(year.institutions.iter().any(|i| i.capitation > Fen::ZERO));
    for i in &year.institutions {
        assert_eq!(i.paid_in_year + i.balance, i.payable, "{}", i.institution);
        assert_eq!(i.months.iter().fold(Fen::ZERO, |a, m| a + m.billed), i.billed, "{}", i.institution);
    }
    // The same year on one thread.
    let (_, again) = year_of(1, &pack);
    assert_eq!(again, year);
}

#[test]
fn a_payment_reform_moves_the_point_value_and_each_institutions_income() {
    let pack = PaymentPack::parse(include_str!("../../../policies/payment/demo-city.toml")).expect("payment pack");
    let reform = PaymentPack::parse(include_str!("../../../examples/reforms/payment-reserve-10.toml")).expect("the reform");
    let city = City::new(Config::new(8_000, 21)).expect("config");
    let options = SimOptions { threads: 2, keep_stays: true, ..SimOptions::default() };
    let result = simulate(&city, &demo_policy(), &options, &|_| {}).expect("the year simulates");
    let base = payment_year(&city, &result, &pack).expect("baseline");
    let other = payment_year(&city, &result, &reform).expect("reform");
    // A larger reserve leaves a smaller pool for the points.
    assert!(other.risk_reserve > base.risk_reserve && other.points_pool < base.points_pool);
    let payable = |r: &YearResult| r.institutions.iter().fold(Fen::ZERO, |a, i| a + i.payable);
    assert!(payable(&other) < payable(&base), "the fund pays the institutions less");
    // The stays and what they billed do not change with the payment method.
    assert_eq!(base.cases.len(), other.cases.len());
    let billed = |r: &YearResult| r.institutions.iter().fold(Fen::ZERO, |a, i| a + i.billed);
    assert_eq!(billed(&base), billed(&other));
}

/// Issue 15's "done when": the simulated city-year under DIP balances its books to the fen
/// with the point value computed from the year. The clearing books each institution's
/// payable less its bill on its payable (the year's claims were paid as billed, so every
/// payable stood at zero), shared between the funds and counties that paid its stays;
/// every invariant of the books holds after it, and booking it again books nothing.
#[test]
fn the_city_year_under_dip_books_its_clearing_and_its_books_balance() {
    use yibao_ledger::{AccountKey, AccountKind, FundScheme, Holder, check_invariants};
    let pack = PaymentPack::parse(include_str!("../../../policies/payment/demo-city.toml")).expect("payment pack");
    let (mut result, year) = year_of(2, &pack);
    let city = yibao_domain::RegionCode::parse("419900").expect("city");
    let payable = |result: &SimResult, code: &str| {
        [FundScheme::Employee, FundScheme::Resident].into_iter().fold(Fen::ZERO, |sum, scheme| {
            let key =
                AccountKey::new(yibao_ledger::Fund::new(scheme, city), Holder::institution(code).expect("code"), AccountKind::Payable);
            sum + result.ledger.balance_fen(&key).unwrap_or(Fen::ZERO)
        })
    };
    assert!(year.institutions.iter().all(|i| payable(&result, &i.institution).is_zero()), "paid as billed all year");
    let booked = yibao_synth::book_clearing(&mut result, &year, demo_policy().rounding).expect("the clearing books");
    let difference = year.institutions.iter().fold(Fen::ZERO, |a, i| a + i.against_billed);
    assert_eq!(booked.owed - booked.recovered, difference, "{booked:?}");
    assert!(booked.transfers > 0 && booked.owed > Fen::ZERO, "DIP moves money between the hospitals: {booked:?}");
    for i in &year.institutions {
        assert_eq!(payable(&result, &i.institution), i.against_billed, "{}: owed or recovered, to the fen", i.institution);
    }
    check_invariants(&result.ledger).expect("the books balance");
    let again = yibao_synth::book_clearing(&mut result, &year, demo_policy().rounding).expect("again");
    assert_eq!((again.transfers, again.owed, again.recovered), (0, Fen::ZERO, Fen::ZERO));
}
