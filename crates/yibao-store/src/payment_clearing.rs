//! A payment year's clearing (年度清算, issue 15) as the store keeps it: the record of what
//! each institution earned under its agreement's methods against what its claims billed,
//! who paid its cases, and the transfers [`yibao_ledger::plan_clearing`] books from it on
//! the institutions' payables. One clearing per city and year: booking the year again
//! returns the first record and changes nothing. The book check plans it again from its
//! record (`entries_of_clearing`) and compares it with its audit entry and the books.

use serde::{Deserialize, Serialize};
use yibao_domain::{Fen, RegionCode, Rounding};
use yibao_ledger::{ClearingInputs, ClearingLine, ClearingShare, Fund, FundScheme, Holder, plan_clearing};

use crate::StoreError;
use crate::books::{Entry, refused};
use crate::pooling::unit_of_step;

/// The record of a city's clearing of one payment year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentClearing {
    pub city: String,
    pub year: i32,
    /// The day it was booked (after the year).
    pub value_date: String,
    /// The policy pack's rounding, which shares each difference between funds and units.
    pub rounding: Rounding,
    /// The payment pack the year was computed under, and its point value (yuan a point).
    pub pack_id: String,
    pub point_value_yuan: Option<String>,
    pub institutions: Vec<ClearedInstitution>,
    /// Σ differences owed to institutions, and Σ recovered.
    pub owed_fen: i64,
    pub recovered_fen: i64,
    pub transfers: usize,
    /// One line per transfer, in Chinese and English.
    pub notes: Vec<String>,
}

/// One institution's line of the clearing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearedInstitution {
    pub institution: String,
    /// What its methods earned it, less the deposit kept and deductions (the year's payable).
    pub payable_fen: i64,
    /// What its claims' pooled layers billed the funds.
    pub billed_fen: i64,
    /// `payable − billed`: booked on its payable.
    pub difference_fen: i64,
    pub shares: Vec<PaidShare>,
}

/// What one fund and unit paid the institution's cases of the year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidShare {
    pub fund: String,
    pub unit: String,
    pub paid_fen: i64,
}

/// What booking a clearing answers: the record, and whether it was booked now or before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingOutcome {
    pub clearing: PaymentClearing,
    pub booked_now: bool,
}

impl PaymentClearing {
    /// The pure plan's inputs, read back from the record.
    pub fn inputs(&self) -> Result<ClearingInputs, StoreError> {
        let bad = |what: &str| StoreError::Invalid(format!("the clearing of {} is not valid: {what}", self.year));
        let city = RegionCode::parse(&self.city).map_err(|_| bad("city"))?;
        let amount = |fen: i64| Fen::checked(fen).ok_or_else(|| bad("an amount"));
        let mut lines = Vec::with_capacity(self.institutions.len());
        for line in &self.institutions {
            let institution = Holder::institution(&line.institution).map_err(|_| bad("an institution"))?;
            if line.difference_fen != line.payable_fen - line.billed_fen {
                return Err(bad("an institution's difference is not its payable less its bill"));
            }
            let mut shares = Vec::with_capacity(line.shares.len());
            for share in &line.shares {
                let scheme = FundScheme::parse(&share.fund).ok_or_else(|| bad("a fund"))?;
                let unit = RegionCode::parse(&share.unit).map_err(|_| bad("a unit"))?;
                shares.push(ClearingShare { fund: Fund::new(scheme, city), unit, paid_fen: amount(share.paid_fen)? });
            }
            lines.push(ClearingLine { institution, difference_fen: amount(line.difference_fen)?, shares });
        }
        Ok(ClearingInputs { city, year: self.year, value_date: crate::books::date_of(&self.value_date)?, rounding: self.rounding, lines })
    }

    /// Plans the transfers, fills the record's totals and notes, and returns the entries to
    /// post, each under the unit whose insured's care it pays.
    pub fn plan(&mut self) -> Result<Vec<Entry>, StoreError> {
        let city = RegionCode::parse(&self.city).map_err(|_| StoreError::Invalid("the clearing's city is not a region".into()))?;
        let plan = plan_clearing(&self.inputs()?, |_| false).map_err(refused)?;
        self.owed_fen = plan.owed_fen.get();
        self.recovered_fen = plan.recovered_fen.get();
        self.transfers = plan.transfers.len();
        self.notes = plan.transfers.iter().map(|p| p.note.to_string()).collect();
        Ok(plan.transfers.into_iter().map(|p| Entry { unit: unit_of_step(&p.transfer, city), transfer: p.transfer }).collect())
    }
}

/// What a stored clearing booked, planned again from its record, with where the record's
/// own totals disagree with the plan.
pub fn entries_of_clearing(clearing: &PaymentClearing) -> Result<(Vec<Entry>, Vec<String>), StoreError> {
    let mut again = clearing.clone();
    let entries = again.plan()?;
    let mut differences = Vec::new();
    if (again.owed_fen, again.recovered_fen, again.transfers) != (clearing.owed_fen, clearing.recovered_fen, clearing.transfers) {
        differences.push(format!(
            "its record says {} owed, {} recovered in {} transfers, but its lines book {} owed, {} recovered in {}",
            clearing.owed_fen, clearing.recovered_fen, clearing.transfers, again.owed_fen, again.recovered_fen, again.transfers
        ));
    }
    Ok((entries, differences))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clearing() -> PaymentClearing {
        PaymentClearing {
            city: "419900".into(),
            year: 2025,
            value_date: "2026-03-31".into(),
            rounding: Rounding::HalfUp,
            pack_id: "demo".into(),
            point_value_yuan: Some("80.000000".into()),
            institutions: vec![ClearedInstitution {
                institution: "H41992100007".into(),
                payable_fen: 90_000,
                billed_fen: 100_000,
                difference_fen: -10_000,
                shares: vec![
                    PaidShare { fund: "resident".into(), unit: "419921".into(), paid_fen: 75_000 },
                    PaidShare { fund: "employee".into(), unit: "419922".into(), paid_fen: 25_000 },
                ],
            }],
            owed_fen: 0,
            recovered_fen: 0,
            transfers: 0,
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_clearing_books_each_share_under_its_unit_and_plans_the_same_again() {
        let mut record = clearing();
        let entries = record.plan().unwrap();
        let booked: Vec<(String, i64)> = entries.iter().map(|e| (e.unit.to_string(), e.transfer.amount_fen.get())).collect();
        assert_eq!(booked, [("419922".to_owned(), 2_500), ("419921".to_owned(), 7_500)]);
        assert_eq!((record.recovered_fen, record.transfers), (10_000, 2));
        let (again, differences) = entries_of_clearing(&record).unwrap();
        assert_eq!((again, differences), (entries, Vec::<String>::new()));
        // A record edited after booking is found out.
        let mut edited = record.clone();
        edited.recovered_fen = 9_000;
        assert_eq!(entries_of_clearing(&edited).unwrap().1.len(), 1);
        let mut bent = record;
        bent.institutions[0].difference_fen = -5_000;
        assert!(entries_of_clearing(&bent).is_err(), "a difference that is not payable less billed");
    }
}
