//! Contributions (R-FIN), hand-worked against the base test pack and the ZZ-NCMS seed pack.

use time::macros::date;
use yibao_domain::{AssistanceGroup, Fen, PersonCategory, RegionCode};
use yibao_engine::{employee_contribution, resident_contribution, supplementary_contribution};
use yibao_policy::Policy;

fn base() -> Policy {
    Policy::from_toml("base.toml", include_str!("packs/base.toml")).expect("base pack")
}

fn yuan(text: &str) -> Fen {
    Fen::parse_yuan(text).expect("yuan")
}

/// R-FIN-2: personal contribution per tier plus subsidies per government level; civil
/// affairs pays the assisted share for the poor.
#[test]
fn resident_contribution_and_subsidies() {
    let policy = base();
    let region = RegionCode::parse("419902").expect("region");
    let on = date!(2024 - 01 - 01);
    let ordinary = resident_contribution(&policy, region, None, None, on).expect("values in force");
    assert_eq!(
        (ordinary.personal, ordinary.civil_affairs, ordinary.central, ordinary.provincial, ordinary.city, ordinary.county, ordinary.total),
        (yuan("400"), Fen::ZERO, yuan("420"), yuan("140"), yuan("70"), yuan("70"), yuan("1100"))
    );
    // Dibao: civil affairs pays 70% of the 400 personal contribution.
    let dibao = resident_contribution(&policy, region, None, Some(AssistanceGroup::Dibao), on).expect("values in force");
    assert_eq!((dibao.personal, dibao.civil_affairs, dibao.total), (yuan("120"), yuan("280"), yuan("1100")));
    // The destitute pay nothing themselves.
    let destitute = resident_contribution(&policy, region, None, Some(AssistanceGroup::Destitute), on).expect("values in force");
    assert_eq!((destitute.personal, destitute.civil_affairs), (Fen::ZERO, yuan("400")));
    // A low-income person has no assisted share in this pack.
    let low = resident_contribution(&policy, region, None, Some(AssistanceGroup::LowIncome), on).expect("values in force");
    assert_eq!((low.personal, low.civil_affairs), (yuan("400"), Fen::ZERO));
}

/// R-FIN-1: base = wage bounded to 60%–300% of the average wage (6,000), employer 6%,
/// employee 2%, the employee's 2% to the personal account (post-2021 rule).
#[test]
fn employee_contribution_bounds_rates_and_account() {
    let policy = base();
    let region = RegionCode::parse("419902").expect("region");
    let on = date!(2024 - 06 - 01);
    let cases = [
        // (monthly wage, base, employer, employee)
        ("2000.00", "3600.00", "216.00", "72.00"),     // below the floor of 3,600
        ("25000.00", "18000.00", "1080.00", "360.00"), // above the ceiling of 18,000
        ("8123.45", "8123.45", "487.41", "162.47"),    // 487.407 and 162.469, half-up
    ];
    for (wage, base_yuan, employer, employee) in cases {
        let c = employee_contribution(&policy, region, None, PersonCategory::Employed, yuan(wage), on).expect("values in force");
        assert_eq!((c.base, c.employer, c.employee), (yuan(base_yuan), yuan(employer), yuan(employee)), "wage {wage}");
        assert_eq!(c.to_account, c.employee, "wage {wage}: the employee's share goes to the account");
        assert_eq!(c.to_pool, c.employer, "wage {wage}: the employer's share goes to pooling");
    }
    // Retirees pay nothing; their account is credited 90 a month from pooling.
    let retired = employee_contribution(&policy, region, None, PersonCategory::Retired, Fen::ZERO, on).expect("values in force");
    assert_eq!((retired.employer, retired.employee, retired.to_account, retired.to_pool), (Fen::ZERO, Fen::ZERO, yuan("90"), yuan("-90")));
}

/// R-FIN-3 (ZZ-NCMS §三(五)): 10 yuan a year, 9 from the person and 1 from city finance.
#[test]
fn rural_supplementary_is_nine_plus_one() {
    let policy = Policy::from_toml("zz-ncms-2011.toml", include_str!("../../../policies/zz-ncms-2011.toml")).expect("seed pack");
    let c =
        supplementary_contribution(&policy, RegionCode::parse("410122").expect("region"), date!(2012 - 01 - 01)).expect("values in force");
    assert_eq!((c.personal, c.government), (yuan("9"), yuan("1")));
}

/// A contribution asked for before the pack's first day names the missing parameter.
#[test]
fn contribution_before_the_pack_names_the_parameter() {
    let policy = base();
    let error = resident_contribution(&policy, RegionCode::parse("419902").expect("region"), None, None, date!(2009 - 12 - 31))
        .expect_err("before the pack");
    assert!(error.to_string().contains("resident.contribution") && error.to_string().contains("2010-01-01"), "{error}");
}

/// The base pack with its four fixed subsidies replaced by a total and shares (issue 13).
fn with_subsidy_shares(total: &str, shares: [&str; 3]) -> Result<Policy, String> {
    let text = include_str!("packs/base.toml");
    let fixed: String = [("central", 420), ("provincial", 140), ("city", 70), ("county", 70)]
        .iter()
        .map(|(level, amount)| {
            format!(
                "[[param]]\nkey = \"resident.subsidy.{level}\"\nvalues = [{{ from = \"2010-01-01\", value = {amount}, cite = \"TEST\" }}]\n"
            )
        })
        .collect();
    assert!(text.contains(&fixed), "the base pack's subsidies changed");
    let [central, provincial, city] = shares;
    let replacement = format!(
        "[[param]]\nkey = \"resident.subsidy.total\"\nvalues = [{{ from = \"2010-01-01\", value = \"{total}\", cite = \"TEST\" }}]\n\
         [[param]]\nkey = \"resident.subsidy.share.central\"\nvalues = [{{ from = \"2010-01-01\", value = \"{central}\", cite = \"TEST\" }}]\n\
         [[param]]\nkey = \"resident.subsidy.share.provincial\"\nvalues = [{{ from = \"2010-01-01\", value = \"{provincial}\", cite = \"TEST\" }}]\n\
         [[param]]\nkey = \"resident.subsidy.share.city\"\nvalues = [{{ from = \"2010-01-01\", value = \"{city}\", cite = \"TEST\" }}]\n"
    );
    Policy::from_toml("shares.toml", &text.replacen(&fixed, &replacement, 1)).map_err(|e| e.to_string())
}

/// Issue 13: published rules often give the subsidy as a total and the governments' shares
/// of it (the central government bears 60% in the central provinces, 国家医保局 财政部
/// 2024: at least 670 yuan a person). Each level is rounded cumulatively and the county
/// takes the rest, so the four always add up to the total to the fen.
#[test]
fn resident_subsidy_as_a_total_with_shares() {
    let region = RegionCode::parse("419902").expect("region");
    let on = date!(2024 - 01 - 01);
    let policy = with_subsidy_shares("670", ["60%", "20%", "10%"]).unwrap_or_else(|e| panic!("{e}"));
    let c = resident_contribution(&policy, region, None, None, on).expect("values in force");
    assert_eq!(
        (c.central, c.provincial, c.city, c.county, c.total),
        (yuan("402.00"), yuan("134.00"), yuan("67.00"), yuan("67.00"), yuan("1070.00"))
    );
    // Thirds of 672.55: 224.1609…, 448.3218…, 672.4825… rounded half-up cumulatively give
    // 224.16 each, and the county the 0.07 left; rounded one by one they would be the same
    // here, but never more than the total.
    let thirds = with_subsidy_shares("672.55", ["33.33%", "33.33%", "33.33%"]).unwrap_or_else(|e| panic!("{e}"));
    let c = resident_contribution(&thirds, region, None, None, on).expect("values in force");
    assert_eq!((c.central, c.provincial, c.city, c.county), (yuan("224.16"), yuan("224.16"), yuan("224.16"), yuan("0.07")));
    assert_eq!(c.central + c.provincial + c.city + c.county, yuan("672.55"));
    // Halves of 0.03: cumulative rounding gives 0.02 then 0.01 (0.03 in all), not 0.02 twice.
    let halves = with_subsidy_shares("0.03", ["50%", "50%", "0%"]).unwrap_or_else(|e| panic!("{e}"));
    let c = resident_contribution(&halves, region, None, None, on).expect("values in force");
    assert_eq!((c.central, c.provincial, c.city, c.county), (yuan("0.02"), yuan("0.01"), Fen::ZERO, Fen::ZERO));
}

#[test]
fn subsidy_shares_above_100_percent_or_given_both_ways_are_refused() {
    let error = with_subsidy_shares("670", ["60%", "30%", "20%"]).expect_err("110% is refused");
    assert!(error.contains("add up to 110.00%"), "{error}");
    let both = include_str!("packs/base.toml").to_owned()
        + "\n[[param]]\nkey = \"resident.subsidy.total\"\nvalues = [{ from = \"2010-01-01\", value = 700, cite = \"TEST\" }]\n\
           [[param]]\nkey = \"resident.subsidy.share.central\"\nvalues = [{ from = \"2010-01-01\", value = \"60%\", cite = \"TEST\" }]\n\
           [[param]]\nkey = \"resident.subsidy.share.provincial\"\nvalues = [{ from = \"2010-01-01\", value = \"20%\", cite = \"TEST\" }]\n\
           [[param]]\nkey = \"resident.subsidy.share.city\"\nvalues = [{ from = \"2010-01-01\", value = \"10%\", cite = \"TEST\" }]\n";
    let error = Policy::from_toml("both.toml", &both).expect_err("both ways is refused").to_string();
    assert!(error.contains("give the resident subsidy one way"), "{error}");
    // A total without its shares is a family given in part.
    let partial = include_str!("packs/base.toml").to_owned()
        + "\n[[param]]\nkey = \"resident.subsidy.total\"\nvalues = [{ from = \"2010-01-01\", value = 700, cite = \"TEST\" }]\n";
    let error = Policy::from_toml("partial.toml", &partial).expect_err("shares missing").to_string();
    assert!(error.contains("no entry of resident.subsidy.share.central covers"), "{error}");
}

/// Maternity insurance (生育保险费, issue 13): the employer pays maternity.employer_rate
/// (0.5% in the base pack) on the same contribution base as the medical insurance, monthly,
/// for an employee with maternity insurance; nobody else owes it.
#[test]
fn maternity_contribution_is_the_employers_on_the_bounded_base() {
    use yibao_domain::{ContributionKind, NationalId, Period, Scheme};
    use yibao_engine::{ContributionBreakdown, ContributionError, Coverage, contribution_due};
    let policy = base();
    let region = RegionCode::parse("419902").expect("region");
    let employee = Coverage {
        person_id: NationalId::from_parts(region, date!(1990 - 05 - 01), 2).expect("id"),
        region,
        scheme: Scheme::Employee,
        category: PersonCategory::Employed,
        coverage_from: date!(2020 - 01 - 01),
        coverage_until: None,
        tier_history: None,
        assistance_group: None,
        supplementary: false,
        maternity: true,
        civil_servant: false,
        enterprise_supplementary: false,
        certified_chronic_diseases: Vec::new(),
        personal_account_balance: Fen::ZERO,
        use_personal_account: false,
    };
    let month = Period::parse("2024-05").expect("period");
    let due =
        |coverage: &Coverage, wage: Option<&str>| contribution_due(&policy, coverage, ContributionKind::Maternity, month, wage.map(yuan));
    // 8,000 within 3,600–18,000: 0.5% = 40.00.
    let paid = due(&employee, Some("8000")).expect("due");
    assert_eq!(paid.due, yuan("40.00"));
    assert!(matches!(paid.breakdown, ContributionBreakdown::Maternity(m) if m.base == yuan("8000") && m.employer == yuan("40.00")));
    // Below the floor the base is 60% of 6,000: 3,600 × 0.5% = 18.00; above the ceiling 18,000: 90.00.
    assert_eq!(due(&employee, Some("2000")).map(|d| d.due), Ok(yuan("18.00")));
    assert_eq!(due(&employee, Some("50000")).map(|d| d.due), Ok(yuan("90.00")));
    assert_eq!(due(&employee, None).map(|d| d.due), Err(ContributionError::NoWage));
    let code = |result: Result<yibao_engine::ContributionDue, ContributionError>| result.map(|d| d.due).map_err(|e| e.code());
    let without = Coverage { maternity: false, ..employee.clone() };
    assert_eq!(code(due(&without, Some("8000"))), Err("contribution.kind_mismatch"));
    let retired = Coverage { category: PersonCategory::Retired, ..employee.clone() };
    assert_eq!(code(due(&retired, Some("8000"))), Err("contribution.kind_mismatch"));
    let resident = Coverage { scheme: Scheme::Resident, category: PersonCategory::Resident, ..employee.clone() };
    assert_eq!(code(due(&resident, Some("8000"))), Err("contribution.kind_mismatch"));
    let yearly =
        contribution_due(&policy, &employee, ContributionKind::Maternity, Period::parse("2024").expect("year"), Some(yuan("8000")));
    assert_eq!(yearly.map(|d| d.due).map_err(|e| e.code()), Err("contribution.bad_period"));
}

/// R-FIN-4 and R-FIN-1 under the demo city's pack: a declared month is due on the 15th of
/// the next, a late payment costs 0.05% a day of what was owed, and a man needs 300
/// months of contributions (a woman 240) to be covered free in retirement.
#[test]
fn employer_due_day_late_fee_and_minimum_years_from_the_demo_pack() {
    use time::Month;
    use yibao_domain::{Period, Sex};
    let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("demo pack");
    let county = RegionCode::parse("419921").expect("region");
    let december = Period::Month(2025, Month::December);
    assert_eq!(yibao_engine::payment_due_on(&policy, county, december), Ok(date!(2026 - 01 - 15)));
    // 12,000.00 owed, paid 20 days late: 12,000 × 0.05% × 20 = 120.00.
    let fee = yibao_engine::late_fee_for(&policy, county, december, yuan("12000"), date!(2026 - 02 - 04)).expect("values in force");
    assert_eq!((fee.days, fee.rate_bp.get(), fee.fee_fen), (20, 5, yuan("120")));
    let on = date!(2026 - 06 - 01);
    assert_eq!(yibao_engine::required_contribution_months(&policy, county, Sex::Male, on), Ok(Some(300)));
    assert_eq!(yibao_engine::required_contribution_months(&policy, county, Sex::Female, on), Ok(Some(240)));
    // The base pack sets no minimum.
    assert_eq!(yibao_engine::required_contribution_months(&base(), county, Sex::Male, on), Ok(None));
}
