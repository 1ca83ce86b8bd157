//! How the fund pays designated institutions (R-PAY-1, R-PAY-2): the payment pack and the
//! pure computations of composite payment (复合式结算办法). The patient's side of every bill
//! is settled by `yibao-engine` and never changes here; what this crate decides is what the
//! fund owes each institution for a year, and when: month by month as advances, and at the
//! year end by the clearing.
//!
//! - [`pack`]: the dated, cited payment pack (`policies/payment/*.toml`,
//!   `docs/payment-packs.md`): per year the risk reserve, advance ratio and quality deposit,
//!   the DIP table (groups with base points from prior years' weighted averages, the scale,
//!   grade coefficients, outlier bounds, stays kept out, readmissions, incomplete stays, the
//!   point value's basis), per-diem rates, capitation, and the clearing bands.
//! - [`case`]: one case's method (per diem, DIP points or fee-for-service, with the reason)
//!   and its points.
//! - [`year`]: a region's year: the budget (以收定支), the pool of the points, the point value,
//!   each institution's months, clearing and balance.
//! - [`clearing`]: 结余留用、合理超支分担 by progressive bands; a budget's split.
//! - [`points`]: points, coefficients and the point value, exact.
//!
//! Invariants (each checked by a test named after it):
//! - `points-pay-the-pool`: on a fund basis with an exact point value, the institutions'
//!   points at the year's value add up to the pool to the fen.
//! - `clearing-between`: a clearing pays between the standard and the bill, inclusive.
//! - `year-balances`: for every institution, what it was paid in the year plus its balance
//!   is what it is owed (`paid_in_year + balance = payable`), and its months add up to its year.
//! - `patient-side-untouched`: no input of the patient's settlement is changed; a case's
//!   bill (`billed`) is the settlement's fund amount.
//!
//! Pure: no I/O, clock or randomness; the caller gives the year's cases and agreements.

pub mod case;
pub mod clearing;
pub mod pack;
pub mod points;
pub mod year;

pub use case::{Band, Case, Method, Methods, OutOfPoints, group_of, method_of};
pub use clearing::{Cleared, Deviation, clear, split};
pub use pack::{
    Bound, Capitation, Clearing, ClearingBand, DipGroup, DipTable, PackError, PackErrors, PaymentPack, PaymentYear, PerDiemRate,
    PhysicianPoints, Readmission, ValueBasis,
};
pub use points::{Coefficient, PointValue, Points};
pub use year::{Agreement, CaseOutcome, InstitutionYear, MonthLine, YearError, YearInput, YearResult, run_year};
