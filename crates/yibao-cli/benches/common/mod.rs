//! What the HTTP benchmarks share: the demo pack, a demo city loaded through the
//! application layer, and percentiles.

use std::sync::Arc;
use std::time::Duration;

use yibao_app::load::{Credentials, LoadOptions};
use yibao_app::{App, Backend, Principal};
use yibao_policy::Policy;

/// The hospital the benchmarks settle as.
pub const HOSPITAL: &str = "H41990200001";

/// The demo pack; with `YIBAO_BENCH_ARREARS=off`, without its `arrears.suspend_after_days`
/// (arrears suspend nothing, and a settlement reads nothing for them), to measure what the
/// standing check costs.
pub fn policy() -> Policy {
    let pack = include_str!("../../../../policies/demo-city.toml");
    let key = "[[param]]\nkey = \"arrears.suspend_after_days\"";
    let pack = match std::env::var("YIBAO_BENCH_ARREARS").as_deref() {
        Ok("off") => {
            let start = pack.find(key).expect("the demo pack suspends for arrears");
            let end = pack[start + key.len()..].find("[[param]]").map_or(pack.len(), |at| start + key.len() + at);
            format!("{}{}", &pack[..start], &pack[end..])
        }
        _ => pack.to_owned(),
    };
    Policy::from_toml("demo-city.toml", &pack).expect("policy")
}

/// Loads a demo city of 1 000 insured through the application layer's loader; the
/// hospital's API key (drawn at random by the loader), and the national IDs and card
/// numbers of 64 residents who paid their year (a hospital presents the card with each claim).
pub async fn load(store: &Arc<Backend>) -> (String, Vec<(String, String)>) {
    let config = yibao_synth::Config { year: 2026, ..yibao_synth::Config::new(1_000, 7) };
    let city = Arc::new(yibao_synth::City::new(config).expect("a valid city"));
    let app = App::new(Arc::clone(store), Arc::new(policy()));
    let principal = Principal::System { name: "bench".into(), region: city.city };
    let options = LoadOptions {
        credentials: Credentials::Demo,
        opening_balances: true,
        settle: yibao_app::load::Settle::Nothing,
        in_flight: 1,
        progress: Arc::new(|_| {}),
    };
    let loaded = app.load_city(&principal, "bench", Arc::clone(&city), &options).await.expect("demo city");
    let key = loaded.institutions.iter().find(|i| i.code == HOSPITAL).map(|i| i.api_key.clone()).expect("the hospital's key");
    let mut persons = Vec::new();
    city.block_into(0, &mut persons);
    let persons = persons
        .iter()
        .filter(|p| p.scheme == yibao_domain::Scheme::Resident)
        // Residents who paid the year in full: the demo pack suspends the benefits of one
        // who owes it from 1 April (`claim.benefits_suspended`); the standing check still
        // runs, and reads, for every claim.
        .filter(|p| {
            yibao_synth::payment::contributions_of(&city, p, 12, true).iter().all(|c| c.payment == yibao_synth::payment::Payment::InFull)
        })
        .map(|p| (p.id.to_string(), yibao_synth::identity::card_no(p)))
        .take(64)
        .collect();
    (key, persons)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
