//! The yearly levy into the municipal adjustment fund (R-FND-5, ZZ-POOL §四(九)): "市级
//! 调剂金从市本级和县(市、区)医疗、生育保险基金中分别提取，提取数额按照当年实际征缴的城镇
//! 职工、城镇居民医疗保险统筹基金收入和生育保险基金收入的 10% 确定…实行分别列账、单独核算".
//!
//! One adjustment pair per contributor and fund: out of the fund through the
//! contributor's inter-fund account, into the adjustment fund through the contributor's
//! inter-fund account there. The adjustment fund's inter-fund account of each contributor
//! is thus its position "booked per contributor": credits are what it paid in, debits what
//! was drawn for it (R-FND-6 reads the credits as "历年上解风险调剂金").

use time::Date;
use yibao_domain::{Fen, RatioBp, RegionCode, Rounding};

use crate::error::LedgerError;
use crate::fund::Fund;
use crate::limits::POSITIONS_LIMIT;
use crate::plan::{FundUnit, Note, Planned, Steps, at_most, cross_fund_pair, non_negative, unit_en, unit_of, unit_zh};
use crate::transfer::{BusinessRef, Reason, RecordKind, TransferId};

/// The levy ratio ZZ-POOL §四(九) fixes: 10%. A policy parameter; this is its default.
pub const DEFAULT_LEVY_RATIO_BP: RatioBp = RatioBp::new(1_000);

/// What one contributor actually collected in one levied fund over the year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevyBase {
    /// The city itself (市本级) or a county.
    pub contributor: RegionCode,
    /// The levied fund (employee, resident or maternity) the levy comes out of: the city's
    /// fund under city-level pooling, or the contributor's own fund (R-GEO-3).
    pub fund: Fund,
    /// Pooled income actually collected in the year (实际征缴的统筹基金收入): for employee
    /// insurance without what went to personal accounts.
    pub collected_pooled_income_fen: Fen,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevyInputs {
    pub city: RegionCode,
    pub year: i32,
    pub ratio_bp: RatioBp,
    pub rounding: Rounding,
    pub value_date: Date,
    pub bases: Vec<LevyBase>,
}

/// One contributor's levy from one fund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevyLine {
    pub contributor: RegionCode,
    pub fund: Fund,
    pub base_fen: Fen,
    pub levy_fen: Fen,
    pub note: Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevyPlan {
    /// In (fund, contributor) order.
    pub lines: Vec<LevyLine>,
    pub total_fen: Fen,
    pub already_posted: usize,
    pub transfers: Vec<Planned>,
}

/// Computes each contributor's levy, `base × ratio` rounded once by `rounding`, and the
/// pairs that move it into the city's adjustment fund.
pub fn plan_levy(inputs: &LevyInputs, is_posted: impl Fn(&TransferId) -> bool) -> Result<LevyPlan, LedgerError> {
    let city = inputs.city;
    crate::plan::city_fund(Fund::adjustment(city))?;
    at_most("levy bases", inputs.bases.len(), POSITIONS_LIMIT)?;
    let mut bases: Vec<&LevyBase> = inputs.bases.iter().collect();
    bases.sort_by_key(|b| (b.fund, b.contributor));
    for pair in bases.windows(2) {
        if (pair[0].fund, pair[0].contributor) == (pair[1].fund, pair[1].contributor) {
            return Err(LedgerError::DuplicateInput { what: format!("the levy base of {} in {}", pair[0].contributor, pair[0].fund) });
        }
    }
    for base in &bases {
        if !base.fund.scheme.is_levied() {
            return Err(LedgerError::NotLevied { fund: base.fund });
        }
        unit_of(city, base.fund.region)?;
        unit_of(base.fund.region, base.contributor)?;
        non_negative("collected pooled income", base.collected_pooled_income_fen)?;
    }

    let year = inputs.year;
    let adjustment = Fund::adjustment(city);
    let cause = BusinessRef::new(RecordKind::AdjustmentLevy, &format!("{adjustment}/{year}"))?;
    let ratio = inputs.ratio_bp;
    let mut steps = Steps { planned: Vec::new(), already_posted: 0 };
    let mut lines = Vec::with_capacity(bases.len());
    let mut total_fen = Fen::ZERO;
    for base in bases {
        let (fund, contributor, base_fen) = (base.fund, base.contributor, base.collected_pooled_income_fen);
        let levy_fen = inputs.rounding.apply(base_fen, ratio);
        let note = Note::new(
            format!(
                "{year} 年调剂金：{}{}当年实际征缴统筹基金收入 {base_fen} 元 × {ratio} = {levy_fen} 元，上解市级调剂金并按{}分别列账",
                unit_zh(contributor),
                fund.scheme.name_zh(),
                unit_zh(contributor)
            ),
            format!(
                "{year} adjustment-fund levy: {} collected {base_fen} yuan of pooled income in {fund}; × {ratio} = {levy_fen} yuan, moved to the municipal adjustment fund and booked to {}",
                unit_en(contributor),
                unit_en(contributor)
            ),
        );
        let ids = (
            TransferId::derived(&[&"levy", &year, &fund, &contributor, &"out"]),
            TransferId::derived(&[&"levy", &year, &fund, &contributor, &"in"]),
        );
        let legs = cross_fund_pair(
            ids,
            FundUnit { fund, unit: contributor },
            FundUnit { fund: adjustment, unit: contributor },
            levy_fen,
            Reason::AdjustmentLevy,
            &cause,
            inputs.value_date,
        );
        steps.add_pair(&is_posted, legs, [note.clone(), note.clone()]);
        total_fen += levy_fen;
        lines.push(LevyLine { contributor, fund, base_fen, levy_fen, note });
    }
    Ok(LevyPlan { lines, total_fen, already_posted: steps.already_posted, transfers: steps.planned })
}
