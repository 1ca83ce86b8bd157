//! A payment year's clearing (年度清算, issue 15) as the store keeps it: the record of what
//! each institution earned under its agreement's methods against what its claims billed,
//! who paid its cases, and the transfers [`yibao_ledger::plan_clearing`] books from it on
//! the institutions' payables.
//!
//! A year can change after it is cleared: a stay settled late, a reversal, a new
//! assessment, an inspection's deduction, a budget. Clearing it again books a
//! supplementary round (补充清算) of what changed: each institution's difference now less
//! what the rounds before booked (`booked_before`, the last round's difference, read by the
//! store inside the transaction, never the caller's). When nothing changed, clearing again
//! returns the last round and books nothing. The book check plans each round again from its
//! record (`entries_of_clearing`), compares it with its audit entry and the books, and each
//! round's `booked_before` with the round before it.

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
    /// 1, then 2, 3… for supplementary rounds.
    pub round: u32,
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
    /// `payable − billed`: what the rounds up to this one have booked on its payable.
    pub difference_fen: i64,
    /// What the rounds before booked for it (the last round's difference); this round
    /// books `difference − booked_before`.
    pub booked_before_fen: i64,
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
            let now = amount(line.difference_fen)? - amount(line.booked_before_fen)?;
            lines.push(ClearingLine { institution, difference_fen: now, shares });
        }
        Ok(ClearingInputs {
            city,
            year: self.year,
            round: self.round,
            value_date: crate::books::date_of(&self.value_date)?,
            rounding: self.rounding,
            lines,
        })
    }

    /// This round after `before` (the year's last round, if any): its round number and each
    /// institution's `booked_before` from it. An institution of an earlier round that this
    /// computation no longer lists keeps a line of its own, earning nothing now.
    pub fn after(&mut self, before: Option<&PaymentClearing>) {
        let Some(before) = before else {
            self.round = 1;
            self.institutions.iter_mut().for_each(|line| line.booked_before_fen = 0);
            return;
        };
        self.round = before.round + 1;
        for line in &mut self.institutions {
            line.booked_before_fen = before.institutions.iter().find(|b| b.institution == line.institution).map_or(0, |b| b.difference_fen);
        }
        for earlier in &before.institutions {
            if !self.institutions.iter().any(|line| line.institution == earlier.institution) {
                self.institutions.push(ClearedInstitution {
                    institution: earlier.institution.clone(),
                    payable_fen: 0,
                    billed_fen: 0,
                    difference_fen: 0,
                    booked_before_fen: earlier.difference_fen,
                    shares: earlier.shares.clone(),
                });
            }
        }
    }

    /// Whether this round books nothing: every institution's difference is what the rounds
    /// before booked.
    #[must_use]
    pub fn changes_nothing(&self) -> bool {
        self.institutions.iter().all(|line| line.difference_fen == line.booked_before_fen)
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
            round: 1,
            value_date: "2026-03-31".into(),
            rounding: Rounding::HalfUp,
            pack_id: "demo".into(),
            point_value_yuan: Some("80.000000".into()),
            institutions: vec![ClearedInstitution {
                institution: "H41992100007".into(),
                payable_fen: 90_000,
                billed_fen: 100_000,
                difference_fen: -10_000,
                booked_before_fen: 0,
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
        let mut bent = record.clone();
        bent.institutions[0].difference_fen = -5_000;
        assert!(entries_of_clearing(&bent).is_err(), "a difference that is not payable less billed");

        // A late stay raises the bill by 40.00: the supplementary round books −40.00 more,
        // 30.00 and 10.00 by what each paid, under its own ids.
        let mut second = clearing();
        second.institutions[0].billed_fen = 104_000;
        second.institutions[0].difference_fen = -14_000;
        second.after(Some(&record));
        assert_eq!((second.round, second.institutions[0].booked_before_fen), (2, -10_000));
        assert!(!second.changes_nothing());
        let entries = second.plan().unwrap();
        let booked: Vec<(String, i64)> = entries.iter().map(|e| (e.transfer.id.to_string(), e.transfer.amount_fen.get())).collect();
        assert_eq!(
            booked,
            [
                ("clear/2025/employee@419900/419922/H41992100007/r2".to_owned(), 1_000),
                ("clear/2025/resident@419900/419921/H41992100007/r2".to_owned(), 3_000)
            ]
        );
        assert_eq!(second.recovered_fen, 4_000);
        // Nothing changed since: nothing to book.
        let mut third = second.clone();
        third.after(Some(&second));
        assert!(third.changes_nothing());
    }
}
