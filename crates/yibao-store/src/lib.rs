//! The store boundary of Yibao (R-SYS-2: one central store; R-SYS-6: everything that moves
//! money or changes an entitlement is traceable).
//!
//! One narrow [`Store`] trait with a SQLite implementation (the embedded default) and a
//! PostgreSQL implementation (production), each with its own SQL and migrations. Every
//! method that touches regional data takes the caller's region scope, and every row carries
//! `region_code` in its keys, so the schema can later be distributed by region (Citus).
//! `yibao-store-contract` (a dev-only crate) is the one test suite both backends run.
//!
//! The store does I/O but decides no money: a settlement's amounts come from the pure
//! engine, which the store runs *inside* its transaction through [`SettleFn`], so that the
//! accumulators it reads are the ones it writes back (no two settlements for one person
//! can spend the same remaining deductible or cap).

mod access;
pub mod administrator;
pub mod agreement;
pub mod arrears;
pub mod audit;
pub mod books;
pub mod catalogue;
pub mod closing;
pub mod compact;
mod contribution;
pub mod employer;
mod fund;
pub mod handover;
mod import;
pub mod interface;
pub mod legacy;
pub mod migration;
pub mod payment_clearing;
pub mod periods;
pub mod physician;
pub mod policy;
pub mod pooling;
pub mod reconcile;
mod records;
pub mod replay;
pub mod review;
pub use administrator::AdministratorStore;
pub use review::ReviewStore;
pub mod stored;

use std::future::Future;

pub use access::{
    AccessStore, InstitutionRecord, InstitutionUpdate, LEVEL_CHANGES_LIMIT, LevelChange, NewInstitution, NewStaff, Role,
    SIGN_IN_TEXT_CHARS_MAX, SessionRecord, SignInOutcome, SignInReason, SignInRefusal, StaffRecord, StaffUpdate,
};
pub use arrears::{ArrearsStore, InstalmentPayment, NewPlan, PlanPaymentRecord, PlanRecord, PlanStatus};
pub use audit::{AuditEntry, AuditVerification, GENESIS_HASH, StoredAudit, entry_hash, hex_lower};
pub use catalogue::{
    CATALOGUE_LOAD_MAX, CatalogueChange, CatalogueLoad, CatalogueLoadRecord, CatalogueProposal, CatalogueRow, CatalogueStore,
    PROPOSAL_BYTES_MAX,
};
pub use contribution::{
    ARREARS_LINES_MAX, ContributionKind, ContributionRecord, ContributionStore, CountyArrears, NewContribution, PersonArrears,
    ReceiptSource, RecordedReceipt, receipt_of_counter, receipt_of_plan, replayed_receipt,
};
pub use employer::{
    DeclarationLine, DeclarationPayment, DeclarationRecord, EMPLOYER_NAME_CHARS_MAX, EMPLOYERS_LIMIT, EmployerPayment, EmployerRecord,
    EmployerStore, NewDeclaration, NewEmployer, PaymentAudit,
};
pub use fund::{
    Audited, BooksVerification, Budget, BudgetExecution, ClaimKey, CountyTargets, ENTRIES_PAGE_LIMIT, FundReceipt, FundStore, Movement,
    PoolingOutcome, ReceiptKind, RecordCounts, StoredClaim, TargetsProgress, YearEndOutcome, YearEndPreview, budget_execution, city_of,
    verify_books, verify_city_books,
};
pub use import::{IMPORT_LIMIT, ImportHousehold, ImportStore, ImportSummary};
pub use interface::{InterfaceMessage, InterfaceStore, Reservation, SignInRecord, VISITS_LISTED_MAX, VISITS_READ_MAX, VisitRecord};
pub use migration::{BatchOutcome, MigrationBatch, MigrationRecord, MigrationStore, Reconciliation, RegisterProbe, Tally};
pub use policy::{
    NewPolicyVersion, POLICY_NOTE_CHARS_MAX, POLICY_TEXT_BYTES_MAX, POLICY_VERSIONS_LIMIT, PolicyDecision, PolicyStatus, PolicyStore,
    PolicyVersion,
};
pub use records::{
    Actor, CHRONIC_DISEASES_LIMIT, ClaimRecord, ClaimStatus, CoverageEnd, HouseholdRecord, INSTITUTION_ROLE, INSTITUTIONS_LIMIT,
    NewHousehold, NewPerson, NewReferral, PersonPage, PersonQuery, PersonRecord, PersonUpdate, REFERRALS_LIMIT, ReferralRecord,
    SEARCH_LIMIT, SEARCH_OFFSET_MAX, SettleOutcome, SettleRequest, TierEdit, check_chronic_diseases, check_employee_top_ups,
};
use time::Date;
use yibao_domain::{HouseholdId, NationalId, RegionCode};
use yibao_engine::{Accumulators, Coverage, SettleError, Settlement};

/// The engine call a settlement runs inside the store's transaction: given the person's
/// coverage and this year's accumulators as they stand, the settlement to write. Owned
/// (`Arc`, `'static`) because a store may run it on its writer thread, batched with other
/// writers' work (SQLite group commit), after the caller has handed it over.
pub type SettleFn = std::sync::Arc<dyn Fn(&Coverage, &Accumulators) -> Result<Settlement, SettleError> + Send + Sync>;

/// The usual [`SettleFn`]: the engine settling `claim` under `policy`.
#[must_use]
pub fn engine_settlement(
    policy: std::sync::Arc<yibao_policy::Policy>,
    claim: yibao_engine::Claim,
    explain: yibao_engine::Explain,
) -> SettleFn {
    std::sync::Arc::new(move |coverage: &Coverage, acc: &Accumulators| yibao_engine::settle(&policy, &claim, coverage, acc, explain))
}

/// Runs `compute` on the values a store read under its locks. A refusal is
/// [`StoreError::Refused`]; a panic is [`StoreError::Backend`] (the computation is the
/// caller's code, and a bug in it must fail its own request, not the store's writer); a
/// settlement counted against another year than the request's is [`StoreError::Invalid`].
pub fn run_settlement(compute: &SettleFn, coverage: &Coverage, before: &Accumulators, year: i32) -> Result<Settlement, StoreError> {
    let settlement = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compute(coverage, before)))
        .map_err(|_| StoreError::Backend("the settlement computation panicked".into()))?
        .map_err(|e| StoreError::Refused { code: e.code(), message: e.to_string() })?;
    if settlement.accumulators.year != year {
        return Err(StoreError::Invalid(format!("the claim counts against {}, not {year}", settlement.accumulators.year)));
    }
    Ok(settlement)
}

/// The coverage a claim dated `service_date` is settled under (R-ENR-5): the spell in
/// force on that day (its scheme, tier, category and county decide the benefits). The claim
/// is booked where the person is insured when it is settled, the county that holds their
/// year's counters, so that each county's audit trail replays its own counters in order.
/// A claim of a spell ended by a move to another scheme is refused
/// (`claim.coverage_changed`): that year's counters were set aside with the spell, and the
/// bureau settles it by hand.
pub fn claim_coverage(current: &Coverage, history: &[yibao_engine::PastCoverage], service_date: Date) -> Result<Coverage, StoreError> {
    match yibao_engine::spell_on(current, history, service_date) {
        yibao_engine::SpellOn::Current => Ok(current.clone()),
        yibao_engine::SpellOn::Past(past) => Ok(yibao_engine::past_with_account(past, current)),
        yibao_engine::SpellOn::OtherScheme(past) => Err(StoreError::Refused {
            code: "claim.coverage_changed",
            message: format!(
                "on {service_date} the person was insured under the {} scheme, which they left on {}: a claim of that coverage is settled by the bureau, not at the counter",
                past.coverage.scheme.as_str(),
                past.coverage.coverage_until.map_or_else(String::new, |until| until.to_string())
            ),
        }),
    }
}

/// Refuses a claim whose stay ends after the person's death (`claim.after_death`): a stay
/// ends at the latest on the day of death, and nothing is paid for a day after it.
pub fn check_alive(died_on: Option<Date>, request: &SettleRequest) -> Result<(), StoreError> {
    let Some(died_on) = died_on else { return Ok(()) };
    let last_day = stay_days(request.institution_code.as_str(), &request.claim_id, &request.claim_json)?
        .map_or(request.service_date, |(_, _, _, discharge)| discharge.max(request.service_date));
    if last_day > died_on {
        return Err(StoreError::Refused {
            code: "claim.after_death",
            message: format!("the person died on {died_on}; the claim runs to {last_day}: a stay ends on the day of death at the latest"),
        });
    }
    Ok(())
}

/// A reversal refused because the person has moved to another county since the claim was
/// settled: their year's counters went with them, and the claim's county no longer holds
/// them.
#[must_use]
pub fn reversal_after_move(claim_id: &str) -> StoreError {
    StoreError::Refused {
        code: "claim.person_moved",
        message: format!(
            "the person has moved to another county since claim {claim_id} was settled, and their year's counters went with them: the bureau corrects it by hand"
        ),
    }
}

/// Every region a person's claims may lie in: where each spell was insured, and where
/// they are insured now, each once.
#[must_use]
pub fn regions_of(current: &Coverage, history: &[yibao_engine::PastCoverage]) -> Vec<RegionCode> {
    let mut regions: Vec<RegionCode> = history.iter().map(|past| past.coverage.region).collect();
    regions.push(current.region);
    regions.sort_unstable();
    regions.dedup();
    regions
}

/// The audit detail of a coverage change: why the spell ended, what it was and what
/// follows it (one shape for both stores and for the audit trail's readers).
///
/// `carried` are the year counters that go with a person to another county (empty when the
/// county does not change); the book check replays them from one county's trail into the
/// other's (`accumulators-from-claims`).
pub fn coverage_change_detail(
    ended: &yibao_engine::PastCoverage,
    next: &Coverage,
    household: &HouseholdId,
    carried: &[Accumulators],
    restored: Option<&Accumulators>,
) -> Result<String, StoreError> {
    let spell = |c: &Coverage| {
        serde_json::json!({
            "region": c.region.to_string(),
            "scheme": c.scheme.as_str(),
            "category": c.category.as_str(),
            "tier": c.tier_history.as_ref().map(|h| h.initial),
            "from": c.coverage_from.to_string(),
            "until": c.coverage_until.map(|d| d.to_string()),
        })
    };
    serde_json::to_string(&serde_json::json!({
        "ended_by": ended.ended_by.as_str(),
        "ended": spell(&ended.coverage),
        "next": spell(next),
        "household": household.as_str(),
        "on": next.coverage_from.to_string(),
        "accumulators_set_aside": ended.accumulators,
        "carried": carried,
        "restored": restored,
    }))
    .map_err(|e| StoreError::Backend(e.to_string()))
}

/// The persons an export reads at a time ([`Store::persons_after`]).
pub const EXPORT_PAGE: i64 = 10_000;

/// A settlement refused because the person moved to another county after the store looked
/// them up and before it locked their row: nothing was written; the same request again
/// settles in the county they are in now.
#[must_use]
pub fn moved_meanwhile(person: &NationalId) -> StoreError {
    StoreError::Refused {
        code: "person.moved",
        message: format!("{person} moved to another county while this was being recorded; nothing was written: submit it again"),
    }
}

/// The first date of service on or after `on` among settled claims (`settlements` are their
/// settlement JSON), if any.
fn first_claim_from<'a>(on: Date, settlements: impl IntoIterator<Item = &'a str>) -> Result<Option<Date>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Dated {
        service_date: Option<Date>,
    }
    let mut first: Option<Date> = None;
    for settlement in settlements {
        let dated: Dated =
            serde_json::from_str(settlement).map_err(|e| StoreError::Backend(format!("a stored settlement is unreadable: {e}")))?;
        if let Some(date) = dated.service_date.filter(|date| *date >= on) {
            first = Some(first.map_or(date, |f| f.min(date)));
        }
    }
    Ok(first)
}

/// Refuses a change on `on` when a claim settled under the spell now in force has a date of
/// service on or after it: no change rewrites a settled claim (`person.change_after_claims`).
pub fn check_no_claims_from<'a>(on: Date, settlements: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
    match first_claim_from(on, settlements)? {
        None => Ok(()),
        Some(date) => Err(StoreError::Refused {
            code: "person.change_after_claims",
            message: format!(
                "a claim dated {date} was settled under the coverage in force; a change from {on} would leave it under the wrong coverage: date the change after it, or reverse the claim first"
            ),
        }),
    }
}

/// Refuses ending coverage on `until` when a claim settled under it has a date of service
/// after that day (`person.change_after_claims`).
pub fn check_no_claims_after<'a>(until: Date, settlements: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
    let Some(next) = until.next_day() else { return Ok(()) };
    match first_claim_from(next, settlements)? {
        None => Ok(()),
        Some(date) => Err(StoreError::Refused {
            code: "person.change_after_claims",
            message: format!(
                "a claim dated {date} was settled under this coverage; it cannot end on {until}, before that claim: reverse the claim first, or end it later"
            ),
        }),
    }
}

/// The coverage a period is billed under (R-ENR-5): of the person's spells that reach into
/// it, the earliest of the scheme the contribution is for (a month of an earlier spell is
/// billed as the person was insured then: scheme, category, county), else the earliest
/// that reaches into it; `None` when no spell reaches into it (nothing is due for a period
/// the person was not insured in).
#[must_use]
pub fn coverage_for_period(person: &PersonRecord, kind: ContributionKind, period: yibao_domain::Period) -> Option<&Coverage> {
    let (first, last) = (period.first_day(), period.last_day());
    let scheme = yibao_engine::scheme_of(kind);
    let spells = person.history.iter().map(|past| &past.coverage).chain(std::iter::once(&person.coverage));
    let reaching: Vec<&Coverage> =
        spells.filter(|c| c.coverage_from <= last && c.coverage_until.is_none_or(|until| until >= first)).collect();
    reaching.iter().find(|c| c.scheme == scheme).or(reaching.first()).copied()
}

/// A change refused because the person has died (`person.deceased`).
#[must_use]
pub fn deceased(died_on: Date) -> StoreError {
    StoreError::Refused {
        code: "person.deceased",
        message: format!("the person died on {died_on}: their coverage ended that day and is not changed again"),
    }
}

/// A stay's days as settled: (institution, claim id, admission, discharge) of a live
/// inpatient or maternity claim.
pub type StayDays = (String, String, Date, Date);

/// The days of the stay `claim_json` holds, if it is a stay (inpatient or maternity). Only
/// the kind and the dates are read: a claim without them (a test's or a loader's stand-in)
/// is no stay. A store reads a stored claim's days from its columns
/// ([`compact::ClaimColumns::stay`]), the same way.
pub fn stay_days(institution: &str, claim_id: &str, claim_json: &str) -> Result<Option<StayDays>, StoreError> {
    Ok(compact::ClaimColumns::of(claim_json).stay(institution, claim_id))
}

/// Whether two stays, each (admission, discharge), share a day. A stay holds the days from
/// its admission up to its discharge, and a stay that ends the day it began holds that day:
/// two same-day stays on one day overlap, a discharge and an admission on one day do not.
#[must_use]
pub fn stays_overlap(a: (Date, Date), b: (Date, Date)) -> bool {
    let end = |(admission, discharge): (Date, Date)| discharge.max(admission.next_day().unwrap_or(admission));
    a.0 < end(b) && b.0 < end(a)
}

/// The same nights are not paid twice (`claim.overlapping_stay`): a stay sharing a night
/// with a live stay of the person, `settled`, is refused. Both backends check it inside the settling
/// transaction, with the person's row locked, so that two stays settled at once for one
/// person cannot both pass (the application checks it earlier too, for a clear answer
/// before any write).
pub fn check_stay_free(request: &SettleRequest, settled: &[StayDays]) -> Result<(), StoreError> {
    let Some((institution, claim_id, admission, discharge)) =
        stay_days(request.institution_code.as_str(), &request.claim_id, &request.claim_json)?
    else {
        return Ok(());
    };
    let overlapping = settled.iter().find(|(other_institution, other_claim, other_admission, other_discharge)| {
        // Nights shared: two stays of more than a day each. The application also refuses a
        // same-day stay on a day another stay holds (`stays_overlap`), before the store.
        (other_institution, other_claim) != (&institution, &claim_id) && *other_admission < discharge && admission < *other_discharge
    });
    match overlapping {
        Some((other_institution, other_claim, _, _)) => Err(StoreError::Refused {
            code: "claim.overlapping_stay",
            message: format!(
                "the stay {admission} to {discharge} overlaps claim {other_institution}/{other_claim} already settled for this person"
            ),
        }),
        None => Ok(()),
    }
}

/// A settlement computed as referred does not stand on a referral cancelled meanwhile: when
/// every referral on file that covers the claim's admission (to its institution, issued on
/// or before the admission and valid through it) is cancelled or used by another settled
/// stay there (`settled_there`: the person's settled claims at the institution), it is refused
/// (`claim.referral_not_on_file`). Both backends check it in the settling transaction, with
/// the person's row locked, so that a cancellation (2502) racing the settlement of the stay
/// it covered wins or loses whole. Whether a claim is referred at all is the application's
/// decision from the same records (`yibao_app`'s `with_records`); the store guards the race.
pub fn check_referral_live(
    request: &SettleRequest,
    settlement: &Settlement,
    referrals: &[ReferralRecord],
    settled_there: &[(String, compact::ClaimColumns)],
) -> Result<(), StoreError> {
    if !settlement.referral {
        return Ok(());
    }
    let Some(admission) = claim_admission(&request.claim_json) else { return Ok(()) };
    let covering: Vec<&ReferralRecord> = referrals
        .iter()
        .filter(|r| r.to_institution == request.institution_code && r.issued_on <= admission && admission <= r.valid_until)
        .collect();
    // A referral covers one admission: one another settled stay used is no cover.
    if covering.is_empty() || covering.iter().any(|r| r.cancelled_at.is_none() && !referral_used(r, settled_there)) {
        Ok(())
    } else {
        Err(StoreError::Refused {
            code: "claim.referral_not_on_file",
            message: format!(
                "the referral that covered the admission of claim {} on {admission} was cancelled meanwhile: settle it again",
                request.claim_id
            ),
        })
    }
}

/// Whether an inpatient claim settled at the referral's receiving institution (`claims`:
/// institution and the claim's columns) was admitted while the referral was valid: the
/// referral is used and cannot be cancelled (`referral.used`).
#[must_use]
pub fn referral_used(referral: &ReferralRecord, claims: &[(String, compact::ClaimColumns)]) -> bool {
    claims.iter().any(|(institution, claim)| {
        institution == referral.to_institution.as_str()
            && claim.claim_kind().is_some_and(yibao_domain::ClaimKind::is_inpatient)
            && claim.admission().is_some_and(|day| referral.issued_on <= day && day <= referral.valid_until)
    })
}

/// The stored claims' kinds that are not visits (stays, and purchases at a pharmacy),
/// quoted for an SQL `IN` list: a store counting a person's visits leaves them out. The
/// migrations' index of visits by day (`claims_visits_by_day`) repeats this text word for
/// word, so that its query can use it.
pub const NOT_VISIT_KINDS_SQL: &str = "'inpatient', 'single-disease', 'day-surgery', 'maternity', 'pharmacy-purchase'";

/// The stored claim's admission day (its day of care), if it reads.
pub(crate) fn claim_admission(claim_json: &str) -> Option<Date> {
    compact::ClaimColumns::of(claim_json).admission()
}

/// The claim row of a fresh settlement of `request` in `region`.
pub fn settled_claim(
    region: RegionCode,
    request: &SettleRequest,
    settlement: &Settlement,
    settled_at: time::OffsetDateTime,
) -> Result<ClaimRecord, StoreError> {
    Ok(ClaimRecord {
        region,
        institution_code: request.institution_code.clone(),
        claim_id: request.claim_id.clone(),
        person_id: request.person_id,
        year: request.year,
        status: ClaimStatus::Settled,
        settled_at,
        medfee_fen: settlement.medfee_sumamt,
        fund_pay_fen: settlement.fund_pay_sumamt,
        psn_part_fen: settlement.psn_part_amt,
        settlement_json: serde_json::to_string(settlement).map_err(|e| StoreError::Backend(e.to_string()))?,
        claim_json: request.claim_json.clone(),
        reversed_at: None,
        reversal_reason: None,
    })
}

/// The answer to a settlement request whose (institution, claim id) is already stored: the
/// first settlement when the request is the same claim for the same person, a conflict
/// (`claim.idempotency_conflict`, never a replay) when the content or the person differ, and
/// "not found" when the first claim lies outside the caller's scope. Both backends answer
/// through this one function.
pub fn replay(existing: ClaimRecord, scope: RegionCode, request: SettleRequest) -> Result<SettleOutcome, StoreError> {
    check_scope(scope, existing.region)
        .map_err(|_| StoreError::ClaimNotFound { institution: request.institution_code.to_string(), claim_id: request.claim_id.clone() })?;
    if existing.claim_json != request.claim_json || existing.person_id != request.person_id {
        return Err(StoreError::IdempotencyConflict { claim_id: request.claim_id });
    }
    Ok(SettleOutcome { claim: existing, replayed: true })
}

/// A reversal (冲正) gives its reason: 1 to 500 characters.
pub fn check_reversal_reason(reason: &str) -> Result<(), StoreError> {
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(StoreError::Invalid("a reversal needs a reason of 1 to 500 characters".into()));
    }
    Ok(())
}

/// Why a store operation did not happen. Nothing was written when any of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{person} is already enrolled in basic medical insurance in region {region} (household {household}): a person is enrolled once (R-ENR-2)"
    )]
    AlreadyEnrolled { person: String, region: String, household: String },
    #[error("no person {0} in this region")]
    PersonNotFound(String),
    #[error("no household {0} in this region")]
    HouseholdNotFound(String),
    #[error("household {0} already exists")]
    HouseholdExists(String),
    #[error("no staff account {0} in this region")]
    StaffNotFound(String),
    #[error("no policy pack version {0}")]
    PolicyVersionNotFound(u32),
    #[error("no designated institution {0} in this region")]
    InstitutionNotFound(String),
    #[error("no insurance physician {0} in your region")]
    PhysicianNotFound(String),
    #[error("no employer {0} in this region")]
    EmployerNotFound(String),
    #[error("employer {0} is registered already")]
    EmployerExists(String),
    #[error("{0} is declared already: a month has one declaration")]
    DeclarationExists(String),
    #[error("{0}: a person's month is declared by one employer")]
    PersonDeclared(String),
    #[error("no claim {claim_id} from institution {institution}")]
    ClaimNotFound { institution: String, claim_id: String },
    /// A claim's flag or finding (issue 18) the caller may not see or that does not exist.
    #[error("no {0} in this region")]
    ReviewNotFound(String),
    #[error("claim {0} is already reversed")]
    AlreadyReversed(String),
    #[error("claim {0} is not the person's latest settlement this year: reverse the later ones first")]
    NotLatestClaim(String),
    #[error("region {asked} is outside your region {scope}")]
    OutsideRegion { asked: String, scope: String },
    #[error("claim {claim_id} was already submitted with different content: an institution's claim id names one claim")]
    IdempotencyConflict { claim_id: String },
    #[error("settlement refused [{code}]: {message}")]
    Refused { code: &'static str, message: String },
    #[error("{0} already exists")]
    Exists(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The database was written by a later release: its schema has migrations this build
    /// does not know. It is not opened (migrations only go forward, and this build's SQL
    /// could misread it): run the later release.
    #[error(
        "the database's schema is version {found}, newer than this build's {known}: it was written by a later release of Yibao; run that release"
    )]
    SchemaNewer { found: i64, known: i64 },
    /// The database failed; the message is for logs, not for callers.
    #[error("storage failure: {0}")]
    Backend(String),
}

impl StoreError {
    /// Stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::AlreadyEnrolled { .. } => "person.already_enrolled",
            StoreError::PersonNotFound(_) => "person.not_found",
            StoreError::HouseholdNotFound(_) => "household.not_found",
            StoreError::HouseholdExists(_) => "household.exists",
            StoreError::ClaimNotFound { .. } => "claim.not_found",
            StoreError::ReviewNotFound(_) => "review.not_found",
            StoreError::EmployerNotFound(_) => "employer.not_found",
            StoreError::EmployerExists(_) => "employer.exists",
            StoreError::DeclarationExists(_) => "declaration.exists",
            StoreError::PersonDeclared(_) => "declaration.person_declared",
            StoreError::StaffNotFound(_) => "staff.not_found",
            StoreError::InstitutionNotFound(_) => "institution.not_found",
            StoreError::PhysicianNotFound(_) => "physician.not_found",
            StoreError::PolicyVersionNotFound(_) => "policy.version_not_found",
            StoreError::AlreadyReversed(_) => "claim.already_reversed",
            StoreError::NotLatestClaim(_) => "claim.not_latest",
            StoreError::OutsideRegion { .. } => "access.outside_region",
            StoreError::IdempotencyConflict { .. } => "claim.idempotency_conflict",
            StoreError::Refused { code, .. } => code,
            StoreError::Exists(_) => "request.exists",
            StoreError::Invalid(_) => "request.invalid",
            StoreError::SchemaNewer { .. } => "store.schema_newer",
            StoreError::Backend(_) => "store.failure",
        }
    }
}

/// Checks that `asked` lies inside the caller's `scope` (a city sees its counties; a county
/// sees only itself, R-GEO-2).
pub fn check_scope(scope: RegionCode, asked: RegionCode) -> Result<(), StoreError> {
    if scope.contains(asked) { Ok(()) } else { Err(StoreError::OutsideRegion { asked: asked.to_string(), scope: scope.to_string() }) }
}

/// The store. Every future is `Send` so that a server can hold the store behind an `Arc`.
pub trait Store: Send + Sync + 'static {
    /// Creates a household (以户为单位, R-ENR-1) in `household.region`, which must lie in `scope`.
    fn create_household(
        &self,
        actor: &Actor,
        scope: RegionCode,
        household: NewHousehold,
    ) -> impl Future<Output = Result<HouseholdRecord, StoreError>> + Send;

    /// Enrols a person in basic medical insurance. Refused, naming the existing record, if
    /// the national ID is already enrolled anywhere (R-ENR-2).
    fn enrol(&self, actor: &Actor, scope: RegionCode, person: NewPerson) -> impl Future<Output = Result<PersonRecord, StoreError>> + Send;

    fn person(&self, scope: RegionCode, person: &NationalId) -> impl Future<Output = Result<PersonRecord, StoreError>> + Send;

    fn search_persons(&self, scope: RegionCode, query: &PersonQuery) -> impl Future<Output = Result<crate::PersonPage, StoreError>> + Send;

    /// The register of `scope` in key order (region, then national ID), the `limit` persons
    /// after `after` (issue 16 item 6, the export): a person once, where insured now.
    fn persons_after(
        &self,
        scope: RegionCode,
        after: Option<(RegionCode, NationalId)>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<PersonRecord>, StoreError>> + Send;

    /// Records a tier change asked for on `change.requested_on`, or cancels the latest one
    /// ([`PersonRecord::edit_tiers`]; R-ENR-4: when a change takes effect is decided from the
    /// history at settlement time).
    fn edit_tiers(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        edit: TierEdit,
    ) -> impl Future<Output = Result<PersonRecord, StoreError>> + Send;

    /// Changes a person's coverage from `change.on` (R-ENR-5): the spell in force ends the
    /// day before and a new one begins, in `household` of `change.region` ([`change_coverage`]
    /// under the person's lock). Refused when a claim was settled under the old spell on or
    /// after `change.on` (`person.change_after_claims`: the claim would be under the wrong
    /// coverage). A county move carries the person's row and year counters to the new
    /// county; the claims and contributions stay where they happened. A scheme move sets
    /// the year's counters aside in the ended spell.
    fn change_coverage(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        change: yibao_engine::CoverageChange,
        household: HouseholdId,
    ) -> impl Future<Output = Result<PersonRecord, StoreError>> + Send;

    /// Records a person's death (R-ENR-5): their coverage ends on `died_on` (or earlier, if it
    /// had ended), and it is never changed or ended again (`person.deceased`). Refused when a
    /// claim was settled with a date of service after it (`person.change_after_claims`).
    fn record_death(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        died_on: Date,
    ) -> impl Future<Output = Result<PersonRecord, StoreError>> + Send;

    /// Ends coverage on `until` (the last covered day). Refused when a claim was settled
    /// with a date of service after it (`person.change_after_claims`).
    fn end_coverage(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        until: Date,
    ) -> impl Future<Output = Result<PersonRecord, StoreError>> + Send;

    /// Changes a person's details (name, card number, assistance group, supplementary and
    /// maternity insurance, certified chronic diseases) and audits what changed
    /// (`person.update`), in one transaction; returns the new record. Refused when nothing
    /// would change.
    fn update_person(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        update: PersonUpdate,
    ) -> impl Future<Output = Result<PersonRecord, StoreError>> + Send;

    /// Settles a claim in one transaction: idempotent on (institution, claim id) — a retry
    /// returns the first settlement and never pays twice; otherwise locks the person's
    /// accumulators for the year, runs `compute`, and writes the claim, the new
    /// accumulators and the audit entry together, or nothing.
    fn settle(
        &self,
        actor: &Actor,
        scope: RegionCode,
        request: SettleRequest,
        compute: SettleFn,
    ) -> impl Future<Output = Result<SettleOutcome, StoreError>> + Send;

    /// Reverses (冲正) a settled claim and restores the accumulators it changed. Only the
    /// person's latest live claim of that year can be reversed, so the restored counters are
    /// exactly those before it.
    fn reverse(
        &self,
        actor: &Actor,
        scope: RegionCode,
        institution: &str,
        claim_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<ClaimRecord, StoreError>> + Send;

    fn claim(&self, scope: RegionCode, institution: &str, claim_id: &str) -> impl Future<Output = Result<ClaimRecord, StoreError>> + Send;

    /// A person's claims, newest first.
    fn claims_of_person(&self, scope: RegionCode, person: &NationalId)
    -> impl Future<Output = Result<Vec<ClaimRecord>, StoreError>> + Send;

    /// The days of service of a person's live visits (settled claims that are visits,
    /// [`ClaimKind::is_visit`](yibao_domain::ClaimKind::is_visit))
    /// within `days` (first and last day), the claim `except` left out (a retry), latest
    /// first and at most `limit`: a monitoring rule over history counts them (issue 18,
    /// 就诊频次过高). The stores walk an index of visits by day back from the last day, so a
    /// person with a thousand visits costs no more to read than `limit` of them.
    fn visit_days(
        &self,
        scope: RegionCode,
        person: &NationalId,
        days: (Date, Date),
        except: (&str, &str),
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Date>, StoreError>> + Send;

    /// A person's accumulators for a year (zeros if nothing was settled).
    fn accumulators(
        &self,
        scope: RegionCode,
        person: &NationalId,
        year: i32,
    ) -> impl Future<Output = Result<Accumulators, StoreError>> + Send;

    /// Files a referral for a person inside `scope` ([`NewReferral::check`]), audited
    /// (`referral.file`). Refused when the person holds [`REFERRALS_LIMIT`] already.
    fn file_referral(
        &self,
        actor: &Actor,
        scope: RegionCode,
        referral: NewReferral,
    ) -> impl Future<Output = Result<ReferralRecord, StoreError>> + Send;

    /// Cancels a person's referral `seq` (2502), audited (`referral.cancel`) with `reason`;
    /// refused when there is none (`referral.not_found`) or it is cancelled already
    /// (`referral.cancelled`). The referral row stays as filed: the cancellation is a record
    /// of its own.
    fn cancel_referral(
        &self,
        actor: &Actor,
        scope: RegionCode,
        person: &NationalId,
        seq: i64,
        reason: &str,
    ) -> impl Future<Output = Result<ReferralRecord, StoreError>> + Send;

    /// A person's referrals on file, newest first.
    fn referrals_of(&self, scope: RegionCode, person: &NationalId) -> impl Future<Output = Result<Vec<ReferralRecord>, StoreError>> + Send;

    /// Audit entries of a region's chain, in order, from `after_seq` (exclusive).
    fn audit_entries(
        &self,
        region: RegionCode,
        after_seq: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Every region that has an audit chain.
    fn audit_regions(&self) -> impl Future<Output = Result<Vec<RegionCode>, StoreError>> + Send;

    /// Each chain's recorded head: the region, its last sequence number and hash.
    fn audit_heads(&self) -> impl Future<Output = Result<Vec<AuditHead>, StoreError>> + Send;

    /// Every region that holds an audit entry or a record whose writes are audited in the
    /// record's own region (households, persons, contributions, claims): each must have
    /// a chain.
    fn regions_on_record(&self) -> impl Future<Output = Result<Vec<RegionCode>, StoreError>> + Send;
}

/// A chain's recorded head (the row each append updates with the new entry), or a point of
/// a chain kept in an [`AuditAnchor`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditHead {
    pub region: RegionCode,
    pub seq: i64,
    pub hash: String,
}

/// Each region's chain end as a verification found it, for the bureau to record outside the
/// system (`yibao audit anchor`). Verifying against it later proves that nothing up to those
/// entries was removed or rewritten, even by someone who rewrote the chains and their heads
/// together (which the heads alone cannot show).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditAnchor {
    pub regions: Vec<AuditHead>,
}

/// The refusal of a card number another person of the county holds.
#[must_use]
pub fn card_taken(card_no: &str) -> StoreError {
    StoreError::Refused { code: "person.card_taken", message: format!("card number {card_no} belongs to another person of this county") }
}

/// Walks every region's chain and recomputes every hash (`yibao audit verify`).
pub async fn verify_audit<S: Store>(store: &S) -> Result<AuditVerification, StoreError> {
    verify_audit_against(store, None).await
}

/// Walks every region's chain and recomputes every hash, and, given an anchor, checks that
/// each anchored region's chain still holds the anchored entry with the anchored hash.
pub async fn verify_audit_against<S: Store>(store: &S, anchor: Option<&AuditAnchor>) -> Result<AuditVerification, StoreError> {
    const PAGE: i64 = 1_000;
    let mut verification = AuditVerification::default();
    let heads: std::collections::BTreeMap<RegionCode, AuditHead> =
        store.audit_heads().await?.into_iter().map(|head| (head.region, head)).collect();
    let anchored: std::collections::BTreeMap<RegionCode, &AuditHead> =
        anchor.map(|a| a.regions.iter().map(|point| (point.region, point)).collect()).unwrap_or_default();
    // Every chain a record says must exist, not only those the heads list: a region whose
    // chain and head were both deleted still has its households, persons or claims; and
    // every chain the anchor names.
    let mut regions: std::collections::BTreeSet<RegionCode> = heads.keys().copied().collect();
    regions.extend(store.regions_on_record().await?);
    regions.extend(anchored.keys().copied());
    for region in regions {
        let mut previous_hash = GENESIS_HASH.to_owned();
        let mut expected_seq = 1;
        loop {
            let page = store.audit_entries(region, expected_seq - 1, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for entry in &page {
                verification.entries += 1;
                let recomputed = entry_hash(&previous_hash, entry);
                if entry.seq != expected_seq || entry.prev_hash != previous_hash || entry.hash != recomputed {
                    verification.breaks.push(format!(
                        "region {region}, entry {}: {}",
                        entry.seq,
                        if entry.seq != expected_seq {
                            format!("sequence jumps from {} to {}", expected_seq - 1, entry.seq)
                        } else if entry.prev_hash != previous_hash {
                            "does not link to the entry before it".to_owned()
                        } else {
                            "its content does not match its hash (edited after it was written)".to_owned()
                        }
                    ));
                }
                if let Some(point) = anchored.get(&region)
                    && point.seq == entry.seq
                    && point.hash != entry.hash
                {
                    verification.breaks.push(format!(
                        "region {region}, entry {}: its hash differs from the anchor's (the chain was rewritten up to this entry)",
                        entry.seq
                    ));
                }
                previous_hash = entry.hash.clone();
                expected_seq = entry.seq + 1;
            }
        }
        // The chain must end where its head says: a deleted last entry, a truncated tail
        // or a deleted chain leaves the head pointing past the end.
        let last_seq = expected_seq - 1;
        if let Some(point) = anchored.get(&region)
            && point.seq > last_seq
        {
            verification.breaks.push(format!(
                "region {region}: the chain ends at entry {last_seq}, before the anchored entry {} (entries were removed)",
                point.seq
            ));
        }
        if last_seq > 0 {
            verification.ends.push(AuditHead { region, seq: last_seq, hash: previous_hash.clone() });
        }
        match heads.get(&region) {
            None if last_seq == 0 => {
                verification.breaks.push(format!("region {region}: records and no audit chain (the chain and its head were deleted)"));
            }
            None => verification.breaks.push(format!("region {region}: a chain of {last_seq} entries but no recorded head (the head was deleted)")),
            Some(head) if head.seq != last_seq || (last_seq > 0 && head.hash != previous_hash) => verification.breaks.push(format!(
                "region {region}: the chain ends at entry {last_seq}, but its head records entry {} (entries were removed or the head was changed)",
                head.seq
            )),
            Some(_) => {}
        }
        verification.regions += 1;
    }
    Ok(verification)
}

#[cfg(test)]
mod stay_tests {
    use time::macros::date;

    use super::stays_overlap;

    #[test]
    fn same_day_stays_on_one_day_overlap_and_a_discharge_day_admission_does_not() {
        let day = date!(2026 - 11 - 03);
        assert!(stays_overlap((day, day), (day, day)), "two same-day stays on one day");
        assert!(stays_overlap((date!(2026 - 11 - 01), date!(2026 - 11 - 05)), (day, day)), "a same-day stay inside a stay");
        assert!(!stays_overlap((date!(2026 - 11 - 01), day), (day, date!(2026 - 11 - 06))), "discharged and admitted on one day");
        assert!(!stays_overlap((date!(2026 - 11 - 02), date!(2026 - 11 - 02)), (day, day)), "same-day stays on two days");
        assert!(stays_overlap((date!(2026 - 11 - 01), date!(2026 - 11 - 05)), (date!(2026 - 11 - 04), date!(2026 - 11 - 08))));
    }

    /// The list the visits' index and its query leave out is what is not a visit, each once.
    #[test]
    fn the_not_visit_kinds_sql_names_every_kind_that_is_not_a_visit_and_nothing_else() {
        let mut named: Vec<&str> = super::NOT_VISIT_KINDS_SQL.split(", ").map(|k| k.trim_matches('\'')).collect();
        let mut stays: Vec<&str> = yibao_domain::ClaimKind::ALL.iter().filter(|k| !k.is_visit()).map(|k| k.as_str()).collect();
        named.sort_unstable();
        stays.sort_unstable();
        assert_eq!(named, stays);
        for migration in [
            include_str!("../../yibao-store-sqlite/migrations/0025_compact_claims_and_audit.sql"),
            include_str!("../../yibao-store-postgres/migrations/0026_compact_claims_and_audit.sql"),
        ] {
            assert!(migration.contains(&format!("NOT IN ({})", super::NOT_VISIT_KINDS_SQL)), "{migration}");
        }
    }
}
