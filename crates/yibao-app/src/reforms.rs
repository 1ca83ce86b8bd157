//! The reform what-if (issue 6, 以收定支): a reform — a small overlay on the policy pack —
//! is applied to the demo city's pack, and the same synthetic city-year is settled under
//! the baseline and under the reform. A run is CPU work of a few seconds: it runs off the
//! async threads, one at a time per process, on at most [`INSURED_LIMIT`] insured.

use std::sync::Arc;

use yibao_policy::Policy;
use yibao_synth::{City, Config, Financing, SimOptions, apply_reform, comparison, simulate};

pub use yibao_synth::Comparison;

use crate::{App, AppError, ErrorKind, Principal, roles};

/// The largest synthetic city one request may simulate.
pub const INSURED_LIMIT: u64 = 200_000;
/// The synthetic city's size when the request does not say.
pub const DEFAULT_INSURED: u64 = 20_000;
/// Longest reform text.
pub const REFORM_BYTES_LIMIT: usize = 64 * 1024;
/// The pack the synthetic city is drawn for.
const DEMO_PACK: &str = include_str!("../../../policies/demo-city.toml");

/// The demo pack, parsed once: every simulation's baseline.
static BASELINE: std::sync::LazyLock<Arc<Policy>> = std::sync::LazyLock::new(|| {
    Arc::new(Policy::from_toml("policies/demo-city.toml", DEMO_PACK).expect("the embedded demo pack loads (its tests check it)"))
});

/// One simulation at a time per process: the rest wait their turn.
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

impl App {
    /// Settles the same synthetic city-year of `insured` persons (seed `seed`) under the
    /// demo pack and under `reform`, and compares them (amounts in fen).
    pub async fn simulate_reform(&self, principal: &Principal, reform: &str, insured: u64, seed: u64) -> Result<Comparison, AppError> {
        principal.scope(roles::REFORMERS)?;
        if !(1_000..=INSURED_LIMIT).contains(&insured) {
            return Err(AppError::bad_request("reform.bad_size", format!("insured is 1,000 to {INSURED_LIMIT}")));
        }
        if reform.len() > REFORM_BYTES_LIMIT {
            return Err(AppError::bad_request("reform.too_large", "a reform is at most 64 KiB"));
        }
        let (merged, reform) =
            apply_reform(DEMO_PACK, reform, Financing::default()).map_err(|e| AppError::bad_request("reform.invalid", e.to_string()))?;
        let baseline = Arc::clone(&BASELINE);
        let reformed = Policy::from_toml("the demo pack with the reform", &merged)
            .map_err(|e| AppError::bad_request("reform.invalid", format!("the reform does not make a valid pack: {e}")))?;
        let city = City::new(Config::new(insured, seed)).map_err(|e| AppError::bad_request("reform.bad_size", e.to_string()))?;
        let turn = RUNNING.acquire().await.map_err(|e| AppError::internal("reform.unavailable", e.to_string()))?;
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::task::spawn_blocking(move || {
            // The turn is held by the work, not by the request: a client that hangs up does
            // not let a second simulation start beside one still running.
            let _turn = turn;
            let quiet = |_: u64| {};
            let base = simulate(&city, &baseline, &SimOptions { threads, ..SimOptions::default() }, &quiet)?;
            let other = simulate(&city, &reformed, &SimOptions { threads, financing: reform.financing, keep_stays: false }, &quiet)?;
            Ok::<_, yibao_synth::SimError>(comparison(&base, &other, &reform.name))
        })
        .await
        .map_err(|e| AppError::internal("reform.failure", e.to_string()))?
        .map_err(|e| AppError::new(ErrorKind::Unprocessable, "reform.simulation", e.to_string()))
    }
}
