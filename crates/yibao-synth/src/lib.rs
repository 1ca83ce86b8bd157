//! The synthetic city (合成城市) and its simulated year (issue 6).
//!
//! - [`City`] is the demo city of `policies/demo-city.toml` (示范市, 419900, three
//!   counties) at any size from [`MIN_INSURED`](assumptions::MIN_INSURED) to
//!   [`MAX_INSURED`](assumptions::MAX_INSURED) insured: households, persons with valid and
//!   unique national IDs, schemes, tiers, assistance groups, designated institutions by
//!   level, and a year of claims per person with realistic frequencies and heavy-tailed
//!   inpatient costs. Every share, rate and cost is in [`assumptions`] with its source.
//! - Generation streams in blocks of [`BLOCK_PERSONS`](assumptions::BLOCK_PERSONS)
//!   persons ([`City::block`], [`City::chunks`]): each block is drawn from its own stream,
//!   so blocks can be generated in any order, on any thread, and 13 million persons and
//!   100 million claims never sit in memory at once. A person's year ([`City::year_of`])
//!   comes from the person's own stream, in settlement order.
//! - [`simulate`] runs the year: enrolment, contributions and subsidies (the engine's
//!   contribution functions), every claim settled through every layer (`settle_into`,
//!   explanations off), the fund books (`yibao-ledger`) with their monthly pooling, the
//!   year-end adjustment-fund levy and deficit waterfall, statements, indicators and
//!   warnings. It uses any number of threads and gives the same result with any number.
//! - [`identity`] names households and persons and gives them card numbers, and
//!   [`payment`] says which contribution bills each person pays, for loading the city
//!   into a store (the demo city of `yibao serve` is this city, a few thousand strong).
//! - [`format`] writes persons, claims and institutions as lines of text (CSV).
//!
//! Pure like the core crates: no I/O, no clock, no randomness but the seeded streams.
//! Sampling uses floating point ([`detmath`] makes it identical on every machine); money
//! is `Fen` throughout, each drawn amount rounded to the fen once.

pub mod assumptions;
mod catalogue;
mod city;
mod claims;
pub mod detmath;
pub mod format;
pub mod identity;
pub mod legacy;
mod names;
pub mod payment;
mod person;
mod reform;
mod rng;
mod sim;
mod stream;

pub use catalogue::{CATALOGUE_HEADER, national_catalogue_csv};
pub use city::{BLOCKS_LIMIT, City, Config, ConfigError, DEFAULT_YEAR, Institution};
pub use claims::{ClaimEvent, item_codes};
pub use person::Person;
pub use reform::{Reform, ReformError, apply_reform};
pub use rng::{SplitMix64, mix64};
pub use sim::{
    AccountMemo, BalancingIncome, ClearingBooked, Comparison, FUNDS, Financing, FundLine, FundUnitChange, GroupTotals, Layer, LayerTotals,
    Payer, Population, Refusal, SimError, SimOptions, SimResult, UnitLine, book_clearing, comparison, payment_year, render,
    render_comparison, render_payment, simulate,
};
pub use stream::{Block, Chunks};
