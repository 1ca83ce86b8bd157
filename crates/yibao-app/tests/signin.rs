//! Sign-in hardening (issue 12, invariant `sign-in-throttled`): repeated failures delay,
//! then lock, an account (known or not), a client address has a budget of failures, an
//! unknown or inactive account costs the same password check as a known one, and every
//! failure, lock and held-back attempt is in the audit trail. The clock is the test's, so
//! delays and locks pass without sleeping.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use yibao_app::access::{StaffChange, StaffInput};
use yibao_app::policy::Policy;
use yibao_app::throttle::{
    ACCOUNT_FAILURES_FREE, ACCOUNT_FAILURES_LOCK, ACCOUNT_LOCK_SECONDS, ADDRESS_FAILURES_LIMIT, ADDRESS_WINDOW_SECONDS,
};
use yibao_app::{App, AppError, AuditEntry, Backend, ErrorKind, Principal, Role};
use yibao_domain::RegionCode;

const PASSWORD: &str = "correct horse battery";
const CITY: &str = "419900";
const EAST: &str = "419921";

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("region")
}

/// An application on SQLite whose clock the test moves, with an east-county clerk and a
/// city auditor.
struct Fixture {
    app: App,
    seconds: Arc<AtomicI64>,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Fixture {
    async fn new(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("yibao-app-signin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store = yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store");
        let policy = Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("the demo pack");
        let seconds = Arc::new(AtomicI64::new(0));
        let clock = Arc::clone(&seconds);
        let app = App::new(Arc::new(Backend::Sqlite(store)), Arc::new(policy))
            .with_clock(Arc::new(move || datetime!(2026-05-04 01:00 UTC) + Duration::seconds(clock.load(Ordering::SeqCst))));
        let system = Principal::System { name: "test".into(), region: region(CITY) };
        for (username, role, region_code) in [("east.clerk", Role::EnrolmentClerk, EAST), ("auditor", Role::Auditor, CITY)] {
            let input = StaffInput {
                username: username.into(),
                display_name: username.into(),
                password: PASSWORD.into(),
                role,
                region: region(region_code),
            };
            app.create_staff(&system, "test", input).await.expect("staff");
        }
        Fixture { app, seconds, _dir: tempdir::Dir(dir) }
    }

    fn advance(&self, seconds: i64) {
        self.seconds.fetch_add(seconds, Ordering::SeqCst);
    }

    fn now(&self) -> OffsetDateTime {
        self.app.now()
    }

    async fn sign_in(&self, username: &str, password: &str) -> Result<(), AppError> {
        self.app.sign_in(username, password, "api").await.map(|_| ())
    }

    async fn trail(&self, region_code: &str) -> Vec<AuditEntry> {
        let auditor =
            self.app.staff_by_token(&self.app.sign_in("auditor", PASSWORD, "test").await.expect("auditor").token).await.expect("principal");
        self.app.audit_entries(&auditor, region(region_code), 0, 500).await.expect("trail")
    }
}

fn code(result: &Result<(), AppError>) -> String {
    match result {
        Ok(()) => "signed in".to_owned(),
        Err(e) => e.code.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_delay_then_lock_an_account_until_the_lock_ends() {
    let f = Fixture::new("lock").await;
    // A success forgets earlier failures.
    for _ in 0..ACCOUNT_FAILURES_FREE - 1 {
        assert_eq!(code(&f.sign_in("east.clerk", "wrong password").await), "auth.required");
    }
    f.sign_in("east.clerk", PASSWORD).await.expect("signs in");
    for _ in 0..ACCOUNT_FAILURES_FREE - 1 {
        assert_eq!(code(&f.sign_in("east.clerk", "wrong password").await), "auth.required", "the count started again");
    }
    // The fifth failure holds the account back for 1 s, each further one twice as long.
    assert_eq!(code(&f.sign_in("east.clerk", "wrong password").await), "auth.required");
    let mut delay = 1;
    for failures in ACCOUNT_FAILURES_FREE + 1..=ACCOUNT_FAILURES_LOCK {
        let held = f.sign_in("east.clerk", PASSWORD).await.expect_err("held back, even with the right password");
        assert_eq!((held.kind, held.code.as_ref(), held.retry_after_seconds), (ErrorKind::TooManyRequests, "auth.throttled", Some(delay)));
        assert_eq!(held.kind.http_status(), 429);
        f.advance(i64::try_from(delay).expect("seconds"));
        assert_eq!(code(&f.sign_in("east.clerk", "wrong password").await), "auth.required", "failure {failures}");
        delay *= 2;
    }
    // Ten failures lock the account for 15 minutes: the right password is refused.
    let locked = f.sign_in("east.clerk", PASSWORD).await.expect_err("locked");
    assert_eq!((locked.code.as_ref(), locked.retry_after_seconds), ("auth.locked", Some(u64::try_from(ACCOUNT_LOCK_SECONDS).expect("s"))));
    f.advance(ACCOUNT_LOCK_SECONDS - 1);
    let locked = f.sign_in("east.clerk", PASSWORD).await.expect_err("still locked");
    assert_eq!((locked.code.as_ref(), locked.retry_after_seconds), ("auth.locked", Some(1)));
    f.advance(1);
    f.sign_in("east.clerk", PASSWORD).await.expect("the lock has ended");
    // Another account was never held back.
    f.sign_in("auditor", PASSWORD).await.expect("another account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_soon_after_a_lock_locks_again() {
    let f = Fixture::new("relock").await;
    for _ in 0..ACCOUNT_FAILURES_LOCK {
        assert_eq!(code(&f.sign_in("east.clerk", "wrong password").await), "auth.required");
        f.advance(60);
    }
    assert_eq!(code(&f.sign_in("east.clerk", PASSWORD).await), "auth.locked");
    f.advance(ACCOUNT_LOCK_SECONDS);
    assert_eq!(code(&f.sign_in("east.clerk", "wrong password").await), "auth.required");
    assert_eq!(code(&f.sign_in("east.clerk", PASSWORD).await), "auth.locked", "one guess per lock, not ten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_account_is_held_back_like_a_known_one() {
    let f = Fixture::new("unknown").await;
    let mut answers = Vec::new();
    for username in ["east.clerk", "no.such.user"] {
        let mut seen = Vec::new();
        for _ in 0..ACCOUNT_FAILURES_LOCK {
            seen.push(code(&f.sign_in(username, "wrong password").await));
            f.advance(60);
        }
        seen.push(code(&f.sign_in(username, "wrong password").await));
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "the answers do not tell which account exists");
    assert_eq!(answers[0].last().map(String::as_str), Some("auth.locked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_address_has_a_budget_of_failures_across_usernames() {
    let f = Fixture::new("address").await;
    let sprayer: IpAddr = "192.0.2.7".parse().expect("ip");
    let other: IpAddr = "198.51.100.9".parse().expect("ip");
    for n in 0..ADDRESS_FAILURES_LIMIT {
        let result = f.app.sign_in_from(&format!("guess-{n}"), "wrong password", "api", Some(sprayer)).await;
        assert_eq!(result.map(|_| ()).map_err(|e| e.code.to_string()), Err("auth.required".into()), "attempt {n}");
    }
    let held = f.app.sign_in_from("east.clerk", PASSWORD, "api", Some(sprayer)).await.expect_err("the address is spent");
    assert_eq!((held.code.as_ref(), held.retry_after_seconds), ("auth.throttled", Some(u64::try_from(ADDRESS_WINDOW_SECONDS).expect("s"))));
    f.app.sign_in_from("east.clerk", PASSWORD, "api", Some(other)).await.expect("another address signs in");
    f.advance(ADDRESS_WINDOW_SECONDS);
    f.app.sign_in_from("east.clerk", PASSWORD, "api", Some(sprayer)).await.expect("a new window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_inactive_account_costs_the_same_password_check() {
    let f = Fixture::new("work").await;
    let admin = Principal::System { name: "test".into(), region: region(CITY) };
    let retired = StaffInput {
        username: "retired".into(),
        display_name: "retired".into(),
        password: PASSWORD.into(),
        role: Role::EnrolmentClerk,
        region: region(EAST),
    };
    f.app.create_staff(&admin, "test", retired).await.expect("staff");
    f.app
        .update_staff(&admin, "test", "retired", StaffChange { active: Some(false), ..StaffChange::default() })
        .await
        .expect("deactivated");
    for (username, password) in
        [("east.clerk", "wrong password"), ("no.such.user", "wrong password"), ("retired", PASSWORD), ("east.clerk", PASSWORD)]
    {
        let before = f.app.password_checks();
        let result = f.sign_in(username, password).await;
        assert_eq!(f.app.password_checks(), before + 1, "{username}: one argon2 check ({})", code(&result));
    }
    // An attempt held back is refused before any check.
    for _ in 0..ACCOUNT_FAILURES_FREE {
        let _ = f.sign_in("no.such.user", "wrong password").await;
    }
    let before = f.app.password_checks();
    assert_eq!(code(&f.sign_in("no.such.user", "wrong password").await), "auth.throttled");
    assert_eq!(f.app.password_checks(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_locked_and_held_back_sign_ins_are_in_the_audit_trail() {
    let f = Fixture::new("audit").await;
    let secret = "wrong password 7f3c";
    let east_before = f.trail(EAST).await.len();
    // Failures of a known account are in its region, of an unknown one in the city's.
    assert_eq!(code(&f.sign_in("east.clerk", secret).await), "auth.required");
    assert_eq!(code(&f.sign_in("no.such.user", secret).await), "auth.required");
    let long = format!("{}\u{7}tail", "x".repeat(100));
    assert_eq!(code(&f.sign_in(&long, secret).await), "auth.required");
    for _ in 1..ACCOUNT_FAILURES_LOCK {
        f.advance(60);
        let _ = f.sign_in("east.clerk", secret).await;
    }
    // Held back twice in one lock: recorded once.
    assert_eq!(code(&f.sign_in("east.clerk", PASSWORD).await), "auth.locked");
    assert_eq!(code(&f.sign_in("east.clerk", PASSWORD).await), "auth.locked");

    let east = f.trail(EAST).await;
    let east: Vec<&AuditEntry> = east[east_before..].iter().filter(|e| e.entity == "east.clerk" && e.action.starts_with("auth.")).collect();
    let actions: Vec<&str> = east.iter().map(|e| e.action.as_str()).collect();
    let mut expected = vec!["auth.sign_in_failed"; usize::try_from(ACCOUNT_FAILURES_LOCK).expect("n") - 1];
    expected.extend(["auth.locked", "auth.sign_in_throttled"]);
    assert_eq!(actions, expected);
    let first: serde_json::Value = serde_json::from_str(&east[0].detail).expect("json");
    assert_eq!((first["reason"].as_str(), first["failures"].as_u64()), (Some("wrong_password"), Some(1)));
    let lock: serde_json::Value = serde_json::from_str(&east[9].detail).expect("json");
    let until = f.now() + Duration::seconds(ACCOUNT_LOCK_SECONDS);
    assert_eq!(lock["failures"].as_u64(), Some(u64::from(ACCOUNT_FAILURES_LOCK)));
    assert_eq!(lock["until"].as_str(), Some(until.format(&time::format_description::well_known::Rfc3339).expect("rfc3339").as_str()));
    let held: serde_json::Value = serde_json::from_str(&east[10].detail).expect("json");
    assert_eq!(held["reason"].as_str(), Some("account_locked"));
    assert!(east.iter().all(|e| e.actor == "anonymous" && e.source == "api"));

    let city = f.trail(CITY).await;
    let unknown = city.iter().find(|e| e.entity == "no.such.user").expect("the unknown username, in the city's trail");
    assert_eq!((unknown.action.as_str(), unknown.region.as_str()), ("auth.sign_in_failed", CITY));
    assert!(unknown.detail.contains("unknown_account"), "{}", unknown.detail);
    let bounded = city.iter().find(|e| e.entity.starts_with("xxx")).expect("the long username, bounded");
    assert_eq!(bounded.entity, "x".repeat(64), "printable and at most 64 characters");
    for entry in east.iter().copied().chain(&city) {
        assert!(!entry.detail.contains(secret) && !entry.entity.contains(secret), "never the password: {entry:?}");
    }
    // The chain still verifies with the refusals in it.
    let system = Principal::System { name: "test".into(), region: region(CITY) };
    let verification = f.app.verify_audit(&system, None).await.expect("verify");
    assert!(verification.breaks.is_empty(), "{verification:?}");
}
