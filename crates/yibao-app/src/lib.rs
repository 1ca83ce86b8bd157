//! The application layer of Yibao: each use case written once, for every edge.
//!
//! A use case takes a [`Principal`] (who asks) and typed input, and decides, in this
//! order: may this principal do it (the role sets of [`roles`]), what do the rules say
//! (through the pure engine and the policy pack), and what is stored (one store call, one
//! transaction). The HTTP API, the staff console, the CLI and the loaders are edges: they
//! parse their wire format, call a use case, and render its answer or its [`AppError`].
//!
//! The trust rule (issue 11): what the bureau's records know is never taken from the caller.
//! An institution's level, kind and place come from the register; a referral and the
//! deductible paid before it come from the store; a date is checked against the
//! application's clock; a region must be one of the city's counties.
//!
//! The clock is passed in ([`Clock`]), so a test can fix "today".

pub mod access;
pub mod administrators;
pub mod arrears;
pub mod backup;
pub mod books;
pub mod catalogue;
mod claims;
mod contributions;
mod employers;
mod error;
mod funds;
pub mod interface;
pub mod load;
mod location;
pub mod messages;
pub mod migration;
pub mod payment;
mod persons;
pub mod policy_versions;
mod principal;
mod reads;
pub mod reforms;
pub mod review;
pub mod throttle;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use time::{Date, OffsetDateTime};
use yibao_policy::Policy;
use yibao_store_postgres::PostgresStore;
use yibao_store_sqlite::SqliteStore;

pub use claims::{InstitutionSettlement, SettleOutcome, Settled, fund_payments_of};
pub use contributions::ContributionInput;
pub use employers::{DeclarationBill, EmployerInput, WAGE_MONTHLY_MAX_FEN, WageLine};
pub use error::{AppError, ErrorKind};
pub use funds::INTEREST_PERIOD_DAYS_MAX;
pub use location::{Create, DATABASE_FILE, StoreLocation, mask_secrets};
pub use persons::{CoverageChangeInput, EnrolInput, TIER_REQUEST_AGE_DAYS_MAX, TierChanged};
pub use principal::{CallerNote, Principal, Refusal, audit_source, roles};
pub use reads::{ACTIVITY_ENTRIES_LIMIT, AUDIT_PAGE_LIMIT, Activity, CountyActivity, DayActivity, REGISTER_EXPORT_MAX};
pub use yibao_domain::{PERIOD_YEAR_MAX, PERIOD_YEAR_MIN, Period, PeriodError};
pub use yibao_engine::{ContributionDue, contribution_due, is_claim_id};
pub use yibao_store::{CatalogueLoad, CatalogueProposal, NewReferral, ReferralRecord};
pub use yibao_store::{ContributionKind, CoverageEnd, FundReceipt, NewHousehold, PlanRecord, PlanStatus, TierEdit};

// The vocabulary of the use cases: the records, inputs and outputs the edges receive and
// send. Types only: the rules that make and check them stay behind the use cases, and the
// edges depend on this crate and the domain alone (scripts/check-layers).
pub use yibao_engine::{
    Accumulators, Bilingual, Claim, ClaimLine, Coverage, CoverageChangeKind, Delivery, FundPayment, Language, LineSettlement, LineVerdict,
    PastCoverage, Quantity, Rule, Settlement, Step, TierChange, TierHistory,
};
pub use yibao_engine::{ContributionYears, LateFee};
pub use yibao_store::{
    AuditEntry, AuditVerification, BooksVerification, Budget, BudgetExecution, ClaimRecord, ClaimStatus, ContributionRecord, CountyArrears,
    CountyTargets, DeclarationLine, DeclarationPayment, DeclarationRecord, EmployerRecord, HouseholdRecord, ImportSummary,
    InstitutionRecord, Movement, PersonArrears, PersonQuery, PersonRecord, PersonUpdate, PoolingOutcome, ReceiptKind, Role, StaffRecord,
    TargetsProgress, YearEndOutcome, check_reversal_reason,
};

/// The policy pack's vocabulary, for pages that show what is in force.
pub mod policy {
    pub use yibao_policy::{CatalogueItem, Dim, PARAMS, ParamKey, ParamSpec, Policy, Query, ServiceDateRule, Value, ValueKind};
}

/// The store behind the application: one variant per backend. An enum rather than a
/// generic so that the edges stay concrete (the OpenAPI macros need concrete handlers).
#[derive(Debug)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// The store's writer as operators watch it: group commit at work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterSnapshot {
    /// Write transactions (batches) since the store opened.
    pub batches: u64,
    /// Write requests in them: `requests / batches` is the mean batch size.
    pub requests: u64,
    /// Requests waiting in the writer's queue now.
    pub queued: usize,
    /// Microseconds spent in write transactions (PostgreSQL: settlement batches): the
    /// database time of writing.
    pub busy_us: u64,
}

impl Backend {
    /// What the store's writer has done and has waiting (PostgreSQL: its settlement writers).
    #[must_use]
    pub fn writer_snapshot(&self) -> WriterSnapshot {
        let ((batches, requests), queued, busy_us) = match self {
            Backend::Sqlite(s) => (s.writer_stats(), s.queued_writes(), s.write_time_us()),
            Backend::Postgres(s) => (s.writer_stats(), s.queued_writes(), s.write_time_us()),
        };
        WriterSnapshot { batches, requests, queued, busy_us }
    }
}

/// Calls the same store method on whichever backend is in use: the one dispatch point.
#[macro_export]
macro_rules! store {
    ($app:expr, $method:ident ( $($arg:expr),* $(,)? )) => {
        match &*$app.store {
            $crate::Backend::Sqlite(s) => s.$method($($arg),*).await,
            $crate::Backend::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

/// Where "now" comes from: the system clock in service, a fixed instant in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The application: the store, the policy pack in force and the clock, and the sign-in
/// throttle's counts (in memory, shared by every clone of the application).
///
/// The pack in force changes while the application runs (issue 19: an approved version
/// takes effect without a restart), so it is read through [`App::policy`], one snapshot
/// per use of it: a settlement computed under one snapshot records that snapshot's version.
#[derive(Clone)]
pub struct App {
    pub store: Arc<Backend>,
    policy: Arc<RwLock<Arc<Policy>>>,
    clock: Clock,
    throttle: Arc<Mutex<throttle::Throttle>>,
    password_checks: Arc<AtomicU64>,
    /// One lock per stripe of persons: a stay's settlement (from the reading of the
    /// person's stays and referrals to its commit) and a referral's cancellation of one
    /// person run one at a time in this process, so that what the application checked
    /// still holds when the store writes (same-day stays, a referral cancelled meanwhile).
    /// The stores guard the same races across processes where they can (`check_stay_free`
    /// for shared nights, `check_referral_live`).
    person_locks: Arc<[tokio::sync::Mutex<()>]>,
    /// The store's catalogue load (`catalogue_stamp`) the catalogue in force was read at.
    catalogue_stamp: Arc<std::sync::atomic::AtomicI64>,
    /// The payment pack (how the fund pays institutions, `yibao-payment`), if the service
    /// has one.
    payment: Option<Arc<yibao_payment::PaymentPack>>,
    /// The last payment year run, with when it ran: statements read within
    /// [`payment::PAYMENT_YEAR_FRESH`] of it share it instead of each re-reading the city.
    payment_cache: Arc<std::sync::Mutex<Option<payment::CachedYear>>>,
    /// The intelligent monitoring rules run on every claim at settlement (issue 18,
    /// R-INS-2), if the service has any.
    monitoring: Option<Arc<yibao_engine::monitoring::RulePack>>,
}

/// The longest a stay settlement waits for another of the same person's stripe.
pub const PERSON_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Stripes of [`App`]'s person locks: persons whose IDs fall in one stripe wait for each
/// other's stay settlements, which costs nothing to other claims.
const PERSON_LOCK_STRIPES: usize = 256;

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("store", &self.store).field("policy", &self.policy().id).finish_non_exhaustive()
    }
}

impl App {
    /// The application on the system clock.
    #[must_use]
    pub fn new(store: Arc<Backend>, policy: Arc<Policy>) -> App {
        App {
            store,
            policy: Arc::new(RwLock::new(policy)),
            clock: Arc::new(OffsetDateTime::now_utc),
            throttle: Arc::default(),
            password_checks: Arc::default(),
            person_locks: (0..PERSON_LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            catalogue_stamp: Arc::default(),
            payment: None,
            payment_cache: Arc::default(),
            monitoring: None,
        }
    }

    /// Takes the lock of `person`'s stripe (see `person_locks`), waiting at most
    /// [`PERSON_LOCK_WAIT`]: a settlement held up longer (the database is gone, say) makes
    /// the others of the person fail as it will, not queue behind it (`settle.busy`,
    /// nothing written).
    pub(crate) async fn lock_person(&self, person: &yibao_domain::NationalId) -> Result<tokio::sync::MutexGuard<'_, ()>, AppError> {
        let stripe = person.as_str().bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b))) % PERSON_LOCK_STRIPES;
        tokio::time::timeout(PERSON_LOCK_WAIT, self.person_locks[stripe].lock())
            .await
            .map_err(|_| AppError::internal("settle.busy", "another stay settlement of the person held its lock too long"))
    }

    /// The policy pack in force now. A use case that reads it more than once takes one
    /// snapshot, so that it does not mix two versions.
    #[must_use]
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `policy` in force for every clone of the application, over the national
    /// catalogue in force (a pack version does not change the catalogue). A lock poisoned
    /// by a panic holds a whole pack still (the swap is one assignment), so it is taken as
    /// it is.
    fn put_in_force(&self, policy: Arc<Policy>) {
        let mut slot = self.policy.write().unwrap_or_else(PoisonError::into_inner);
        let catalogue = Arc::clone(slot.national_catalogue());
        *slot = if Arc::ptr_eq(policy.national_catalogue(), &catalogue) {
            policy
        } else {
            Arc::new(Arc::unwrap_or_clone(policy).with_catalogue(catalogue))
        };
    }

    /// Puts `catalogue`, read at the store's load `stamp`, in force beneath the pack.
    fn put_catalogue_in_force(&self, catalogue: Arc<yibao_policy::Catalogue>, stamp: i64) {
        let mut slot = self.policy.write().unwrap_or_else(PoisonError::into_inner);
        *slot = Arc::new(Policy::clone(&slot).with_catalogue(catalogue));
        self.catalogue_stamp.store(stamp, Ordering::Release);
    }

    /// The application on another clock (tests, replays).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> App {
        self.clock = clock;
        self
    }

    /// The sign-in throttle. A panic while it was held leaves counts that are still
    /// counts, so a poisoned lock is taken as it is.
    fn throttle(&self) -> std::sync::MutexGuard<'_, throttle::Throttle> {
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Passwords sign-in has checked with argon2 since start: an unknown or inactive
    /// account costs one check, as a known one does (for tests and monitoring).
    #[must_use]
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Today, in the bureau's time (UTC+8, China Standard Time): a claim discharged this
    /// evening in the city is dated today even while it is still yesterday in UTC.
    #[must_use]
    pub fn today(&self) -> Date {
        yibao_domain::city_day(self.now())
    }

    /// Refuses a date after today with `code`: nothing that has not happened yet is
    /// booked, settled or credited.
    pub fn not_after_today(&self, code: &'static str, what: &str, date: Date) -> Result<(), AppError> {
        let today = self.today();
        if date > today {
            return Err(AppError::bad_request(code, format!("{what} {date} is after today ({today})")));
        }
        Ok(())
    }

    /// Refuses a region that is not one of the city's counties (`region.unknown`).
    pub fn check_county(&self, region: yibao_domain::RegionCode) -> Result<(), AppError> {
        if self.policy().has_county(region) {
            Ok(())
        } else {
            Err(AppError::bad_request("region.unknown", format!("{region} is not a county or district of {}", self.policy().region)))
        }
    }
}
