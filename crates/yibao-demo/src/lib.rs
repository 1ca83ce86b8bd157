//! The demo city (示范市, region 419900, `policies/demo-city.toml`): a realistic,
//! reproducible population for demos, manual testing and load measurements.
//!
//! - [`generate`] is pure: a seed and a household count in, a [`DemoCity`] out. No I/O, no
//!   clock, no randomness from the operating system (a [`SplitMix64`] stream seeded by the
//!   caller), so the same seed gives the same city on every machine.
//! - [`load`] puts a city into a store through the store's own API (bulk import per county,
//!   staff, institutions, contributions), so every row is audited like any other write.
//!
//! The staff passwords and institution API keys of a [`DemoCity`] are in plain text on
//! purpose: they are demo credentials, printed for whoever runs the demo. The store
//! receives only their hashes. Never use them outside a demo.

mod generate;
mod load;
mod names;
mod rng;

use sha2::{Digest, Sha256};

pub use generate::{AGE_ON, CITY, COUNTIES, COVERAGE_FROM, DemoCity, DemoInstitution, DemoStaff, generate};
pub use load::{CONTRIBUTION_YEAR, IMPORT_CHUNK, LoadSummary, load};
pub use rng::SplitMix64;

/// What the store keeps of an institution's API key: its SHA-256, lowercase hex. The
/// server hashes a presented key with this same function to find the institution.
#[must_use]
pub fn api_key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_key_hash_is_lowercase_hex_sha256() {
        assert_eq!(super::api_key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
