//! What each synthetic person pays in contributions when the city is loaded into a store:
//! which bills (kind and period) and how much of each one is paid. What a bill comes to
//! is not decided here: the store's contribution use case computes it from the policy and
//! the person's record, and [`Payment::of`] applies the payer's behaviour to it.

use time::Month;
use yibao_domain::{ContributionKind, Fen, Period, PersonCategory, Scheme};

use crate::assumptions::{EMPLOYER_UNPAID_PM, RESIDENT_PAID_IN_FULL_PM, RESIDENT_PAID_IN_PART_PM};
use crate::city::City;
use crate::person::Person;
use crate::rng::{SplitMix64, purpose};

/// How much of a bill its payer paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payment {
    InFull,
    /// This percentage of it, in whole yuan (rounded down).
    Part(u8),
    Nothing,
}

impl Payment {
    /// What was paid of `due`.
    #[must_use]
    pub fn of(self, due: Fen) -> Fen {
        match self {
            Payment::InFull => due,
            Payment::Part(percent) => Fen::yuan(due.get() / 100 * i64::from(percent) / 100),
            Payment::Nothing => Fen::ZERO,
        }
    }
}

/// One bill and its payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedContribution {
    pub kind: ContributionKind,
    pub period: Period,
    /// The monthly wage an employee's contribution is computed on.
    pub wage_monthly: Option<Fen>,
    pub payment: Payment,
}

/// The person's bills for the city's year, up to and including month `through` (1–12) for
/// monthly ones: residents the personal part of the year (R-FIN-2) and, when enrolled and
/// `supplementary` (the pack has the scheme), rural supplementary insurance; employees in
/// work each month's employer and employee parts on their wage (R-FIN-1), and the
/// employer's maternity insurance for those it covers. Retirees pay
/// nothing and get no bill. Who pays follows [`RESIDENT_PAID_IN_FULL_PM`],
/// [`RESIDENT_PAID_IN_PART_PM`] and [`EMPLOYER_UNPAID_PM`], from the person's own stream.
#[must_use]
pub fn contributions_of(city: &City, person: &Person, through: u8, supplementary: bool) -> Vec<PlannedContribution> {
    let year = city.config.year;
    let mut rng = SplitMix64::derived(city.config.seed, purpose::PAYMENT, person.index);
    let mut out = Vec::new();
    match (person.scheme, person.category) {
        (Scheme::Employee, PersonCategory::Employed) => {
            let payment = if rng.chance_bp(EMPLOYER_UNPAID_PM * 10) { Payment::Nothing } else { Payment::InFull };
            for month in 1..=through.min(12) {
                let Ok(month) = Month::try_from(month) else { continue };
                out.push(PlannedContribution {
                    kind: ContributionKind::Employee,
                    period: Period::Month(year, month),
                    wage_monthly: Some(person.wage_monthly),
                    payment,
                });
                // The employer pays maternity insurance with the medical insurance, or neither.
                if person.maternity {
                    out.push(PlannedContribution {
                        kind: ContributionKind::Maternity,
                        period: Period::Month(year, month),
                        wage_monthly: Some(person.wage_monthly),
                        payment,
                    });
                }
            }
        }
        (Scheme::Employee, _) => {}
        _ => {
            let payment = match rng.below(1_000) {
                draw if draw < u64::from(RESIDENT_PAID_IN_FULL_PM) => Payment::InFull,
                draw if draw < u64::from(RESIDENT_PAID_IN_FULL_PM + RESIDENT_PAID_IN_PART_PM) => {
                    Payment::Part(u8::try_from(rng.range(20, 80)).unwrap_or(50))
                }
                _ => Payment::Nothing,
            };
            out.push(PlannedContribution { kind: ContributionKind::Resident, period: Period::Year(year), wage_monthly: None, payment });
            if person.supplementary && supplementary {
                out.push(PlannedContribution {
                    kind: ContributionKind::Supplementary,
                    period: Period::Year(year),
                    wage_monthly: None,
                    payment,
                });
            }
        }
    }
    out
}
