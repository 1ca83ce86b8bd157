//! Shared by the load tests: a fresh SQLite store, the demo pack, a loader's actor.

use std::path::PathBuf;

use time::macros::datetime;
use yibao_policy::Policy;
use yibao_store::Actor;
use yibao_store_sqlite::SqliteStore;

const DEMO_POLICY: &str = include_str!("../../../../policies/demo-city.toml");

pub fn policy() -> Policy {
    Policy::from_toml("policies/demo-city.toml", DEMO_POLICY).expect("demo pack")
}

pub fn actor() -> Actor {
    Actor { who: "demo-loader".into(), role: "city_administrator".into(), source: "127.0.0.1".into(), at: datetime!(2026-03-01 08:00 UTC) }
}

/// A fake password hash: the tests log nobody in.
pub fn hash(password: &str) -> String {
    format!("test-only:{}", password.len())
}

/// A store in a fresh directory, and the directory (removed by the caller).
pub async fn fresh_store(name: &str) -> (SqliteStore, PathBuf) {
    let dir = std::env::temp_dir().join(format!("yibao-demo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir.join("yibao.db")).await.expect("opens");
    (store, dir)
}
