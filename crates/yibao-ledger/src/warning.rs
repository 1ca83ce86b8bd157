//! Early warning on fund risk (R-FND-4, ZY §四(二)): the current-year surplus rate and the
//! months of spending the accumulated surplus covers, against thresholds the policy pack
//! sets.
//!
//! - current-year surplus rate (当年结余率) = (income − spending) ÷ income, in basis points,
//!   negative in a year of deficit;
//! - months covered (累计结余可支付月数) = accumulated surplus ÷ average monthly spending,
//!   where the average is this year's spending so far ÷ the months elapsed (SPEC asks for
//!   the denominator to be stated), in hundredths of a month. A common target is 6 to 9
//!   months.

use yibao_domain::{Fen, Rounding};

use crate::error::LedgerError;
use crate::fund::Fund;
use crate::plan::Note;

/// `(income − spending) ÷ income` in basis points, rounded once; `None` without income.
#[must_use]
pub fn current_surplus_rate_bp(income_fen: Fen, spending_fen: Fen, rounding: Rounding) -> Option<i64> {
    if income_fen.get() <= 0 {
        return None;
    }
    let surplus = i128::from(income_fen.get()) - i128::from(spending_fen.get());
    Some(rounding.round_div(surplus * 10_000, i128::from(income_fen.get())))
}

/// `accumulated surplus ÷ (spending ÷ months elapsed)` in hundredths of a month, rounded
/// once; `None` without spending or months.
#[must_use]
pub fn months_covered_centi(accumulated_surplus_fen: Fen, spending_fen: Fen, months_elapsed: u8, rounding: Rounding) -> Option<i64> {
    if spending_fen.get() <= 0 || months_elapsed == 0 {
        return None;
    }
    let numerator = i128::from(accumulated_surplus_fen.get()) * i128::from(months_elapsed) * 100;
    Some(rounding.round_div(numerator, i128::from(spending_fen.get())))
}

/// One fund's year so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundYear {
    pub fund: Fund,
    pub year: i32,
    /// Months of the year the figures cover, 1 to 12.
    pub months_elapsed: u8,
    pub income_fen: Fen,
    pub spending_fen: Fen,
    /// At the end of the period covered.
    pub accumulated_surplus_fen: Fen,
}

/// The thresholds from the policy pack; `None` is no threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarningThresholds {
    pub surplus_rate_min_bp: Option<i64>,
    pub surplus_rate_max_bp: Option<i64>,
    pub months_min_centi: Option<i64>,
    pub months_max_centi: Option<i64>,
}

impl WarningThresholds {
    /// A current deficit warns, and so does a surplus covering under 6 or over 9 months
    /// (SPEC "Other formulas": a common target is 6–9 months).
    pub const COMMON: WarningThresholds = WarningThresholds {
        surplus_rate_min_bp: Some(0),
        surplus_rate_max_bp: None,
        months_min_centi: Some(600),
        months_max_centi: Some(900),
    };
}

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    /// No income this year: the surplus rate is undefined.
    NoIncome,
    SurplusRateBelow {
        rate_bp: i64,
        min_bp: i64,
    },
    SurplusRateAbove {
        rate_bp: i64,
        max_bp: i64,
    },
    MonthsBelow {
        months_centi: i64,
        min_centi: i64,
    },
    MonthsAbove {
        months_centi: i64,
        max_centi: i64,
    },
}

impl Warning {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Warning::NoIncome => "warning.no_income",
            Warning::SurplusRateBelow { .. } => "warning.surplus_rate_below",
            Warning::SurplusRateAbove { .. } => "warning.surplus_rate_above",
            Warning::MonthsBelow { .. } => "warning.months_below",
            Warning::MonthsAbove { .. } => "warning.months_above",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indicators {
    pub surplus_rate_bp: Option<i64>,
    pub months_covered_centi: Option<i64>,
    pub warnings: Vec<(Warning, Note)>,
}

/// The indicators of one fund's year and the warnings they raise.
pub fn indicators(year: &FundYear, thresholds: &WarningThresholds, rounding: Rounding) -> Result<Indicators, LedgerError> {
    if !(1..=12).contains(&year.months_elapsed) {
        return Err(LedgerError::BadInput { why: "the months elapsed are 1 to 12" });
    }
    crate::plan::non_negative("a year's income", year.income_fen)?;
    crate::plan::non_negative("a year's spending", year.spending_fen)?;
    let rate = current_surplus_rate_bp(year.income_fen, year.spending_fen, rounding);
    let months = months_covered_centi(year.accumulated_surplus_fen, year.spending_fen, year.months_elapsed, rounding);
    let (zh, en) = (format!("{} 年{}", year.year, year.fund.scheme.name_zh()), format!("{}, {}", year.year, year.fund));
    let mut warnings = Vec::new();
    match rate {
        None => warnings.push((
            Warning::NoIncome,
            Note::new(format!("{zh}：本年无收入，无法计算当年结余率"), format!("{en}: no income this year, so no surplus rate")),
        )),
        Some(rate_bp) => {
            if let Some(min_bp) = thresholds.surplus_rate_min_bp.filter(|min| rate_bp < *min) {
                warnings.push((
                    Warning::SurplusRateBelow { rate_bp, min_bp },
                    Note::new(
                        format!("{zh}：当年结余率 {} 低于预警线 {}", percent(rate_bp), percent(min_bp)),
                        format!("{en}: the current-year surplus rate {} is below the threshold {}", percent(rate_bp), percent(min_bp)),
                    ),
                ));
            }
            if let Some(max_bp) = thresholds.surplus_rate_max_bp.filter(|max| rate_bp > *max) {
                warnings.push((
                    Warning::SurplusRateAbove { rate_bp, max_bp },
                    Note::new(
                        format!("{zh}：当年结余率 {} 高于预警线 {}", percent(rate_bp), percent(max_bp)),
                        format!("{en}: the current-year surplus rate {} is above the threshold {}", percent(rate_bp), percent(max_bp)),
                    ),
                ));
            }
        }
    }
    if let Some(months_centi) = months {
        if let Some(min_centi) = thresholds.months_min_centi.filter(|min| months_centi < *min) {
            warnings.push((
                Warning::MonthsBelow { months_centi, min_centi },
                Note::new(
                    format!("{zh}：累计结余可支付 {} 个月，低于 {} 个月", hundredths(months_centi), hundredths(min_centi)),
                    format!(
                        "{en}: the accumulated surplus covers {} months of spending, under {}",
                        hundredths(months_centi),
                        hundredths(min_centi)
                    ),
                ),
            ));
        }
        if let Some(max_centi) = thresholds.months_max_centi.filter(|max| months_centi > *max) {
            warnings.push((
                Warning::MonthsAbove { months_centi, max_centi },
                Note::new(
                    format!("{zh}：累计结余可支付 {} 个月，超过 {} 个月", hundredths(months_centi), hundredths(max_centi)),
                    format!(
                        "{en}: the accumulated surplus covers {} months of spending, over {}",
                        hundredths(months_centi),
                        hundredths(max_centi)
                    ),
                ),
            ));
        }
    }
    Ok(Indicators { surplus_rate_bp: rate, months_covered_centi: months, warnings })
}

/// `-12.34%` from basis points.
fn percent(bp: i64) -> String {
    format!("{}%", hundredths(bp))
}

/// `7.25`, `-0.05` from hundredths.
fn hundredths(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(percent(-1_234), "-12.34%");
        assert_eq!(percent(5), "0.05%");
        assert_eq!(hundredths(725), "7.25");
        assert_eq!(hundredths(-5), "-0.05");
    }
}
