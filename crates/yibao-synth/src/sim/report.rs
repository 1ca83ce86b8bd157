//! The year's report as text: population, claims, out-of-pocket cost by group, fund
//! statements per scheme and county with their indicators, and the warnings. A pure
//! function of the result, so the same seed prints the same report.

use std::fmt::Write as _;

use yibao_domain::{Fen, Rounding};

use super::SimResult;
use super::books::UnitLine;
use crate::assumptions::COUNTIES;

/// `1,234,567.89`.
fn yuan(fen: Fen) -> String {
    let v = fen.get();
    let sign = if v < 0 { "-" } else { "" };
    let abs = v.unsigned_abs();
    format!("{sign}{}.{:02}", group(abs / 100), abs % 100)
}

/// `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio in basis points as `12.34%`.
fn percent(bp: Option<i64>) -> String {
    match bp {
        None => "-".to_owned(),
        Some(v) => {
            let sign = if v < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}%", v.unsigned_abs() / 100, v.unsigned_abs() % 100)
        }
    }
}

fn hundredths(v: Option<i64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) => {
            let sign = if v < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", v.unsigned_abs() / 100, v.unsigned_abs() % 100)
        }
    }
}

/// `amount ÷ count`, rounded half-up to the fen (display only).
fn per(amount: Fen, count: u64) -> Fen {
    if count == 0 { Fen::ZERO } else { Fen::new(Rounding::HalfUp.round_div(i128::from(amount.get()), i128::from(count))) }
}

/// `part ÷ whole` in basis points, rounded half-up.
fn share(part: Fen, whole: Fen) -> Option<i64> {
    (whole.get() > 0).then(|| Rounding::HalfUp.round_div(i128::from(part.get()) * 10_000, i128::from(whole.get())))
}

fn unit_name(line: &UnitLine) -> String {
    let code = line.unit.to_string();
    match COUNTIES.iter().find(|c| c.code == code) {
        Some(c) => format!("{code} {}", c.name),
        None => format!("{code} city"),
    }
}

/// The report.
#[must_use]
pub fn render(result: &SimResult) -> String {
    let mut out = String::new();
    let config = &result.config;
    let p = &result.population;
    let _ = writeln!(
        out,
        "Synthetic city-year {}: 示范市 (419900), {} insured, seed {}, policy {}",
        config.year,
        group(config.insured),
        config.seed,
        result.policy
    );
    let employed: u64 = p.by_county.iter().map(|c| c[0]).sum();
    let retired: u64 = p.by_county.iter().map(|c| c[1]).sum();
    let residents: u64 = p.by_county.iter().map(|c| c[2]).sum();
    let _ = writeln!(out, "\nPopulation");
    let _ = writeln!(out, "  employees in work {}, retirees {}, residents {}", group(employed), group(retired), group(residents));
    for (county, counts) in COUNTIES.iter().zip(&p.by_county) {
        let _ = writeln!(
            out,
            "  {} {}: {} insured ({} in work, {} retired, {} residents)",
            county.code,
            county.name,
            group(counts.iter().sum()),
            group(counts[0]),
            group(counts[1]),
            group(counts[2])
        );
    }
    let _ = writeln!(
        out,
        "  employee tiers 1/2: {}/{}; resident tiers 1/2/3/4: {}/{}/{}/{}; tier changes pending or made: {}",
        group(p.employee_tiers[0]),
        group(p.employee_tiers[1]),
        group(p.resident_tiers[0]),
        group(p.resident_tiers[1]),
        group(p.resident_tiers[2]),
        group(p.resident_tiers[3]),
        group(p.tier_changes)
    );
    let _ = writeln!(
        out,
        "  assistance groups: destitute {}, dibao {}, low-income {}, impoverished by illness {}, registered poor {}; supplementary {}; maternity-insured {}; certified chronic patients {}",
        group(p.groups[1]),
        group(p.groups[2]),
        group(p.groups[3]),
        group(p.groups[4]),
        group(p.groups[5]),
        group(p.supplementary),
        group(p.maternity),
        group(p.chronic)
    );
    let _ = writeln!(out, "  designated institutions: {} (4 of them out of the city)", result.institutions);

    let _ = writeln!(out, "\nClaims settled: {} (refused: {})", group(result.claims()), group(result.refused()));
    let _ = writeln!(
        out,
        "  {:<20} {:>12} {:>20} {:>20} {:>17} {:>18} {:>12}",
        "kind", "claims", "bill", "funds paid", "personal account", "cash", "bill/claim"
    );
    let names = ["general outpatient", "chronic outpatient", "inpatient", "maternity"];
    let all = result.totals();
    for (name, k) in names.iter().zip(result.kinds.iter()).chain(std::iter::once((&"total", &all))) {
        let _ = writeln!(
            out,
            "  {:<20} {:>12} {:>20} {:>20} {:>17} {:>18} {:>12}",
            name,
            group(k.claims),
            yuan(k.bill),
            yuan(k.funds),
            yuan(k.account),
            yuan(k.cash),
            yuan(per(k.bill, k.claims))
        );
    }
    let _ = writeln!(
        out,
        "  by layer: pooled (hifp) {}, critical illness (hifmi) {}, large amount (hifob) {}, assistance (maf) {}, supplementary (oth) {}; maternity allowance {}",
        yuan(all.hifp),
        yuan(all.hifmi),
        yuan(all.hifob),
        yuan(all.maf),
        yuan(all.oth),
        yuan(all.allowance)
    );
    let a = &result.accounts;
    let _ = writeln!(
        out,
        "  employees' personal accounts (kept beside the pooled books): opening {}, credited {}, paid {}, closing {}",
        yuan(a.opening),
        yuan(a.credited),
        yuan(a.paid),
        yuan(a.opening + a.credited - a.paid)
    );

    let _ = writeln!(out, "\nOut-of-pocket by income group (yuan per person a year; out-of-pocket = personal account + cash)");
    let _ = writeln!(
        out,
        "  {:<24} {:>12} {:>12} {:>14} {:>14} {:>14} {:>10}",
        "group", "persons", "patients", "bill", "funds paid", "out-of-pocket", "of bill"
    );
    let groups = ["none", "destitute", "dibao", "low-income", "impoverished by illness", "registered poor"];
    for (name, g) in groups.iter().zip(result.groups.iter()) {
        let oop = g.totals.account + g.totals.cash;
        let _ = writeln!(
            out,
            "  {:<24} {:>12} {:>12} {:>14} {:>14} {:>14} {:>10}",
            name,
            group(g.persons),
            group(g.patients),
            yuan(per(g.totals.bill, g.persons)),
            yuan(per(g.totals.funds, g.persons)),
            yuan(per(oop, g.persons)),
            percent(share(oop, g.totals.bill))
        );
    }

    let _ = writeln!(out, "\nFund statements (yuan): closing = opening + contributions + subsidies − spending ± between funds + finance");
    for fund in &result.funds {
        let _ = writeln!(out, "\n{} {}", fund.fund.scheme.name_zh(), fund.fund);
        let _ = writeln!(
            out,
            "  {:<14} {:>18} {:>18} {:>18} {:>18} {:>16} {:>15} {:>18} {:>9} {:>7}",
            "unit", "opening", "contributions", "subsidies", "spending", "between funds", "finance", "closing", "surplus", "months"
        );
        for line in fund.units.iter().chain(std::iter::once(&fund.total)) {
            let _ = writeln!(
                out,
                "  {:<14} {:>18} {:>18} {:>18} {:>18} {:>16} {:>15} {:>18} {:>9} {:>7}",
                unit_name(line),
                yuan(line.opening),
                yuan(line.contributions),
                yuan(line.subsidies),
                yuan(line.spending),
                yuan(line.between_funds),
                yuan(line.finance_cover),
                yuan(line.closing),
                percent(line.surplus_rate_bp),
                hundredths(line.months_covered_centi)
            );
        }
        if !fund.by_layer.is_empty() {
            let layers: Vec<String> = fund.by_layer.iter().map(|(l, v)| format!("{} {}", l.name(), yuan(*v))).collect();
            let _ = writeln!(out, "  spending: {}", layers.join(", "));
        }
        if !fund.levy.is_zero() || !fund.from_adjustment.is_zero() || !fund.advances.is_zero() {
            let _ = writeln!(
                out,
                "  adjustment-fund levy {}, covered by the adjustment fund {}, advanced by city finance {}",
                yuan(fund.levy),
                yuan(fund.from_adjustment),
                yuan(fund.advances)
            );
        }
    }

    let _ = writeln!(out, "\nWarnings ({})", result.warnings.len());
    for w in &result.warnings {
        let _ = writeln!(out, "  - {w}");
    }
    let _ = writeln!(
        out,
        "\nBooks: {} accounts, {} transfers; every fund balances and the statements agree with the books.",
        group(result.ledger.accounts().count() as u64),
        group(result.ledger.transfers().len() as u64)
    );
    out
}

/// Persons covered by a fund, for per-person figures.
fn covered(result: &SimResult, scheme: yibao_ledger::FundScheme) -> u64 {
    use yibao_ledger::FundScheme as F;
    let p = &result.population;
    let sum = |i: usize| p.by_county.iter().map(|c| c[i]).sum::<u64>();
    match scheme {
        F::Employee | F::EmployeeLargeAmount => sum(0) + sum(1),
        F::Resident | F::ResidentCriticalIllness => sum(2),
        F::Maternity => p.maternity,
        F::Supplementary => p.supplementary,
        F::MedicalAssistance => p.groups[1..].iter().sum(),
        _ => 0,
    }
}

fn change(base: Fen, reform: Fen) -> (String, String) {
    let delta = reform - base;
    let sign = if delta.get() > 0 { "+" } else { "" };
    (format!("{sign}{}", yuan(delta)), share(delta, base).map_or_else(|| "-".to_owned(), |bp| format!("{sign}{}", percent(Some(bp)))))
}

/// The reform beside the baseline: fund spending per scheme and county, out-of-pocket cost
/// by group, surplus rates and months covered, and the income per insured person that
/// would balance each fund. Both results must be of the same city.
#[must_use]
pub fn render_comparison(base: &SimResult, reform: &SimResult, name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reform: {name}\nThe same city-year ({} insured, seed {}, {} claims) settled under the baseline ({}) and under the reform.",
        group(base.config.insured),
        base.config.seed,
        group(base.claims()),
        base.policy
    );
    let (b, r) = (base.totals(), reform.totals());
    let _ = writeln!(out, "\n  {:<34} {:>20} {:>20} {:>20} {:>9}", "", "baseline", "reform", "change", "");
    for (label, x, y) in [
        ("funds paid on claims", b.funds, r.funds),
        ("  pooled funds (hifp)", b.hifp, r.hifp),
        ("  critical illness (hifmi)", b.hifmi, r.hifmi),
        ("  large amount (hifob)", b.hifob, r.hifob),
        ("  medical assistance (maf)", b.maf, r.maf),
        ("  supplementary (oth)", b.oth, r.oth),
        ("patients' out-of-pocket", b.account + b.cash, r.account + r.cash),
    ] {
        let (delta, pct) = change(x, y);
        let _ = writeln!(out, "  {:<34} {:>20} {:>20} {:>20} {:>9}", label, yuan(x), yuan(y), delta, pct);
    }

    let _ = writeln!(out, "\nFund spending per scheme and county (yuan)");
    let _ = writeln!(out, "  {:<44} {:>20} {:>20} {:>20} {:>9}", "fund / unit", "baseline", "reform", "change", "");
    for (bf, rf) in base.funds.iter().zip(&reform.funds) {
        if bf.by_layer.is_empty() {
            continue;
        }
        for (bl, rl) in bf.units.iter().chain(std::iter::once(&bf.total)).zip(rf.units.iter().chain(std::iter::once(&rf.total))) {
            let (delta, pct) = change(bl.spending, rl.spending);
            let label = format!("{} {}", bf.fund.scheme.as_str(), unit_name(bl));
            let _ = writeln!(out, "  {:<44} {:>20} {:>20} {:>20} {:>9}", label, yuan(bl.spending), yuan(rl.spending), delta, pct);
        }
    }

    let _ = writeln!(out, "\nOut-of-pocket by income group (yuan per person a year)");
    let _ = writeln!(out, "  {:<24} {:>14} {:>14} {:>14} {:>9}", "group", "baseline", "reform", "change", "");
    let groups = ["none", "destitute", "dibao", "low-income", "impoverished by illness", "registered poor"];
    for ((name, bg), rg) in groups.iter().zip(&base.groups).zip(&reform.groups) {
        let x = per(bg.totals.account + bg.totals.cash, bg.persons);
        let y = per(rg.totals.account + rg.totals.cash, rg.persons);
        let (delta, pct) = change(x, y);
        let _ = writeln!(out, "  {:<24} {:>14} {:>14} {:>14} {:>9}", name, yuan(x), yuan(y), delta, pct);
    }

    let _ = writeln!(out, "\nSurplus rate and months of spending covered, baseline → reform");
    for (bf, rf) in base.funds.iter().zip(&reform.funds) {
        if bf.by_layer.is_empty() {
            continue;
        }
        for (bl, rl) in bf.units.iter().chain(std::iter::once(&bf.total)).zip(rf.units.iter().chain(std::iter::once(&rf.total))) {
            let label = format!("{} {}", bf.fund.scheme.as_str(), unit_name(bl));
            let _ = writeln!(
                out,
                "  {:<44} surplus {:>8} → {:>8}   months {:>7} → {:>7}   closing {:>18} → {:>18}",
                label,
                percent(bl.surplus_rate_bp),
                percent(rl.surplus_rate_bp),
                hundredths(bl.months_covered_centi),
                hundredths(rl.months_covered_centi),
                yuan(bl.closing),
                yuan(rl.closing)
            );
        }
    }

    let _ = writeln!(
        out,
        "\nIncome per insured person a year that would balance each fund (spending ÷ persons covered), against its income now"
    );
    let _ = writeln!(out, "  {:<28} {:>12} {:>14} {:>16} {:>16}", "fund", "persons", "income now", "balance: base", "balance: reform");
    for (bf, rf) in base.funds.iter().zip(&reform.funds) {
        let persons = covered(base, bf.fund.scheme);
        if bf.by_layer.is_empty() || persons == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<28} {:>12} {:>14} {:>16} {:>16}",
            bf.fund.scheme.as_str(),
            group(persons),
            yuan(per(rf.total.own_income, persons)),
            yuan(per(bf.total.spending, persons)),
            yuan(per(rf.total.spending, persons))
        );
    }
    out
}

/// The reform beside the baseline as data, for the API and the console's charts: the same
/// figures as [`render_comparison`], amounts in fen.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Comparison {
    pub reform: String,
    pub insured: u64,
    pub seed: u64,
    pub claims: u64,
    pub baseline_policy: String,
    /// `(what, baseline, reform)`: funds paid on claims and each layer, and patients'
    /// out-of-pocket.
    pub totals: Vec<(String, i64, i64)>,
    /// Fund spending per scheme and county (the city's total as unit `all`).
    pub spending: Vec<FundUnitChange>,
    /// `(group, baseline, reform)`: out-of-pocket per person a year by assistance group.
    pub out_of_pocket_per_person: Vec<(String, i64, i64)>,
    /// Income per insured person a year that would balance each fund.
    pub balancing_income: Vec<BalancingIncome>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FundUnitChange {
    pub fund: String,
    pub unit: String,
    pub spending_baseline_fen: i64,
    pub spending_reform_fen: i64,
    pub surplus_rate_baseline_bp: Option<i64>,
    pub surplus_rate_reform_bp: Option<i64>,
    pub months_covered_baseline_centi: Option<i64>,
    pub months_covered_reform_centi: Option<i64>,
    pub closing_baseline_fen: i64,
    pub closing_reform_fen: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BalancingIncome {
    pub fund: String,
    pub persons: u64,
    pub income_now_fen: i64,
    pub balancing_baseline_fen: i64,
    pub balancing_reform_fen: i64,
}

/// The comparison of two results of the same city (see [`render_comparison`]).
#[must_use]
pub fn comparison(base: &SimResult, reform: &SimResult, name: &str) -> Comparison {
    let (b, r) = (base.totals(), reform.totals());
    let totals = [
        ("funds", b.funds, r.funds),
        ("hifp", b.hifp, r.hifp),
        ("hifmi", b.hifmi, r.hifmi),
        ("hifob", b.hifob, r.hifob),
        ("maf", b.maf, r.maf),
        ("oth", b.oth, r.oth),
        ("out_of_pocket", b.account + b.cash, r.account + r.cash),
    ]
    .into_iter()
    .map(|(what, x, y)| (what.to_owned(), x.get(), y.get()))
    .collect();
    let mut spending = Vec::new();
    for (bf, rf) in base.funds.iter().zip(&reform.funds) {
        if bf.by_layer.is_empty() {
            continue;
        }
        for (bl, rl) in bf.units.iter().chain(std::iter::once(&bf.total)).zip(rf.units.iter().chain(std::iter::once(&rf.total))) {
            let is_total = std::ptr::eq(bl, &bf.total);
            spending.push(FundUnitChange {
                fund: bf.fund.scheme.as_str().to_owned(),
                unit: if is_total { "all".to_owned() } else { bl.unit.to_string() },
                spending_baseline_fen: bl.spending.get(),
                spending_reform_fen: rl.spending.get(),
                surplus_rate_baseline_bp: bl.surplus_rate_bp,
                surplus_rate_reform_bp: rl.surplus_rate_bp,
                months_covered_baseline_centi: bl.months_covered_centi,
                months_covered_reform_centi: rl.months_covered_centi,
                closing_baseline_fen: bl.closing.get(),
                closing_reform_fen: rl.closing.get(),
            });
        }
    }
    let groups = ["none", "destitute", "dibao", "low-income", "impoverished-by-illness", "registered-poor"];
    let out_of_pocket_per_person = groups
        .iter()
        .zip(&base.groups)
        .zip(&reform.groups)
        .map(|((name, bg), rg)| {
            (
                (*name).to_owned(),
                per(bg.totals.account + bg.totals.cash, bg.persons).get(),
                per(rg.totals.account + rg.totals.cash, rg.persons).get(),
            )
        })
        .collect();
    let balancing_income = base
        .funds
        .iter()
        .zip(&reform.funds)
        .filter_map(|(bf, rf)| {
            let persons = covered(base, bf.fund.scheme);
            (!bf.by_layer.is_empty() && persons > 0).then(|| BalancingIncome {
                fund: bf.fund.scheme.as_str().to_owned(),
                persons,
                income_now_fen: per(rf.total.own_income, persons).get(),
                balancing_baseline_fen: per(bf.total.spending, persons).get(),
                balancing_reform_fen: per(rf.total.spending, persons).get(),
            })
        })
        .collect();
    Comparison {
        reform: name.to_owned(),
        insured: base.config.insured,
        seed: base.config.seed,
        claims: base.claims(),
        baseline_policy: base.policy.clone(),
        totals,
        spending,
        out_of_pocket_per_person,
        balancing_income,
    }
}

/// The payment year of the city's institutions (issue 15): the budget and the pool, the
/// point value, the stays by method, and the institutions whose payment moved most against
/// what they billed; with a reform, each figure beside the baseline's.
#[must_use]
pub fn render_payment(base: &yibao_payment::YearResult, reform: Option<(&yibao_payment::YearResult, &str)>) -> String {
    use yibao_payment::Method;
    let mut out = String::new();
    let _ = writeln!(out, "\nPaying institutions (支付方式), {}", base.year);
    let figure = |out: &mut String, label: &str, value: &dyn Fn(&yibao_payment::YearResult) -> String| match reform {
        Some((other, _)) => {
            let _ = writeln!(out, "  {label:<40} {:>20} {:>20}", value(base), value(other));
        }
        None => {
            let _ = writeln!(out, "  {label:<40} {:>20}", value(base));
        }
    };
    if let Some((_, name)) = reform {
        let _ = writeln!(out, "  {:<40} {:>20} {:>20}", "", "baseline", name);
    }
    figure(&mut out, "pooled funds' income", &|r| r.fund_income.to_string());
    figure(&mut out, "risk reserve", &|r| r.risk_reserve.to_string());
    figure(&mut out, "spent outside the payment year", &|r| r.outside_spending.to_string());
    figure(&mut out, "per diem, fee-for-service, capitation", &|r| r.other_methods.to_string());
    figure(&mut out, "pool of the points", &|r| r.points_pool.to_string());
    figure(&mut out, "points", &|r| r.points.to_string());
    figure(&mut out, "point value (yuan)", &|r| r.point_value_yuan.clone().unwrap_or_else(|| "-".into()));
    figure(&mut out, "provisional point value (yuan)", &|r| r.provisional_value_yuan.clone().unwrap_or_else(|| "-".into()));
    figure(&mut out, "paid beyond the budget", &|r| r.over_budget.to_string());
    let count = |r: &yibao_payment::YearResult, which: fn(&Method) -> bool| r.cases.iter().filter(|c| which(&c.method)).count().to_string();
    figure(&mut out, "stays by DIP points", &|r| count(r, |m| matches!(m, Method::Points { .. })));
    figure(&mut out, "stays per diem", &|r| count(r, |m| matches!(m, Method::PerDiem { .. })));
    figure(&mut out, "stays fee-for-service", &|r| count(r, |m| matches!(m, Method::FeeForService { .. })));
    let total = |r: &yibao_payment::YearResult, f: fn(&yibao_payment::InstitutionYear) -> Fen| {
        r.institutions.iter().fold(Fen::ZERO, |a, i| a + f(i))
    };
    figure(&mut out, "billed by the institutions", &|r| total(r, |i| i.billed).to_string());
    figure(&mut out, "payable to the institutions", &|r| total(r, |i| i.payable).to_string());
    let _ = writeln!(out, "  institutions paid furthest from their bill:");
    let mut moved: Vec<&yibao_payment::InstitutionYear> = base.institutions.iter().filter(|i| i.cases > 0).collect();
    moved.sort_by_key(|i| std::cmp::Reverse(i.against_billed.get().unsigned_abs()));
    for i in moved.iter().take(8) {
        let reformed = reform.and_then(|(other, _)| other.institutions.iter().find(|o| o.institution == i.institution));
        let _ = write!(
            out,
            "    {} {:<9} {:>6} stays  billed {:>14}  payable {:>14}  ({:>13})",
            i.institution,
            i.level.as_str(),
            i.cases,
            i.billed.to_string(),
            i.payable.to_string(),
            i.against_billed.to_string()
        );
        if let Some(o) = reformed {
            let _ = write!(out, "  reform: payable {:>14} ({:>13})", o.payable.to_string(), (o.payable - i.payable).to_string());
        }
        let _ = writeln!(out);
    }
    out
}
