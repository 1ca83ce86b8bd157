//! Settlements, committed in groups by a writer thread.
//!
//! # Why
//!
//! Measured on the 2-core machine this project runs on (`cargo bench -p yibao-cli --bench
//! http`, fsync off), a settlement written as its own transaction took 16 statements (the
//! idempotency look-up, the person index, the accumulators row inserted and locked, the
//! person's row, the claim key, the claim, the accumulators, four for the audit chain,
//! `BEGIN`, `COMMIT`) plus two pings of the pooled connection, and the whole machine was
//! CPU-bound at about 1,000 settlements/s with 8 or 64 clients: half of the CPU in
//! PostgreSQL, most of it per statement (executor start-up, socket wake-ups, context
//! switches) rather than per row. The region's audit head, locked last and held until
//! `COMMIT`, also serialised every settlement of the region.
//!
//! So [`PostgresStore::settle`](crate::PostgresStore) queues its request for the writer
//! ([`spawn_writer`]), which takes every settlement waiting (up to [`BATCH_LEN_MAX`]) and
//! settles them together in one transaction, with set-based statements whose number does
//! not grow with the batch:
//!
//! 1. one look-up: each request's claim key (a settled key is answered as a replay and locks
//!    nothing), the region its person is enrolled in, and whether its accumulators row exists;
//! 2. the missing accumulators rows inserted (zero), then every row locked;
//! 3. the persons' rows locked;
//! 4. the engine, request by request in queue order, in Rust, on the locked values: a second
//!    settlement for one person in the batch starts from the first one's result;
//! 5. one statement writing every claim key, claim, accumulators row and changed account
//!    balance;
//! 6. per region, two statements for the audit chain: lock the head, then append the batch's
//!    entries and move the head;
//! 7. `COMMIT`, and only then the answers.
//!
//! What each step of the design gained, fsync off, 8 clients (a noisy shared machine; 64
//! clients gained more): the batches themselves, run as a task on the server's runtime,
//! little (about 1,200/s): their statements queued behind HTTP work for the runtime's two
//! threads, and each pooled transaction still paid two pings. On a thread and connections of
//! its own, 1,700/s. Statements that look each row up on its own, by primary key (below:
//! with a join, the planner hash-joined whole tables, scanned once per batch), and no insert
//! when the accumulators rows exist, 2,250/s. Stored settlements compressed with lz4 rather than
//! pglz (migration 0003), 2,400–2,700/s. The next batch written while the last commits (two
//! connections, [`run_writer`]) matters most with fsync on, where `COMMIT` waits for the disk.
//!
//! # What still holds
//!
//! - **Durable before acknowledged:** no caller hears of its settlement before its batch's
//!   `COMMIT` has returned.
//! - **A refusal writes nothing:** the engine runs before anything of its request is
//!   written, and a refused request (engine refusal, wrong year, person not found or outside
//!   the scope, a computation that panics) is left out of steps 5 and 6. A zero accumulators
//!   row step 2 inserted for it (so that there was a row to lock) is deleted again in step 5
//!   unless another request of the batch settled against it.
//! - **One failure undoes only itself:** if a statement of the batch fails (a claim key
//!   settled meanwhile by another server, a constraint, a deadlock), the batch is rolled back
//!   and each of its requests is settled again on its own ([`settle_one`], the plain
//!   one-transaction path), where the failure is its request's alone and a lost claim key
//!   race becomes a replay. Savepoints are not needed for that: nothing of a refused request
//!   is written in the first place, and a statement covering the whole batch could not be
//!   undone for one request by a savepoint anyway.
//! - **Idempotency:** a key seen twice in one batch waits for the next batch, which finds
//!   the first settled and replays it. Across batches and servers, the claim key's primary
//!   key decides, as before.
//! - **Lock order:** the module's order (accumulators, persons, claim keys, audit heads last)
//!   holds within the batch; each class is locked before the next is touched; and the rows
//!   of a class are locked one by one in ascending key order (a `LATERAL` subquery locking
//!   one row, run once per element of a sorted array). The persons' rows are locked
//!   `FOR NO KEY UPDATE` (what an `UPDATE` of a non-key column takes): it does not conflict
//!   with the `KEY SHARE` lock that a contribution's foreign key takes, and a batch of
//!   contributions takes those in its own order, which could otherwise form a cycle with a
//!   batch holding several persons. It still conflicts with the `FOR UPDATE` of a tier
//!   change, update or end of coverage, so their read-modify-writes of the coverage and
//!   the settlements' stay one after the other.
//!
//! # Bounds
//!
//! A batch holds at most [`BATCH_LEN_MAX`] settlements; the queue holds at most
//! [`QUEUE_LEN_MAX`] (callers then wait for room). The writer has
//! [`WRITER_CONNECTIONS`] connections: one batch committing while the next is written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};
use yibao_domain::{NationalId, RegionCode};
use yibao_engine::{Accumulators, Coverage};
use yibao_store::{Actor, SettleFn, SettleOutcome, SettleRequest, StoreError};

use crate::{
    NewAudit, append_audits, audit, backend, find_claim, is_unique_violation, json, load_person, lock_accumulators, person_from_row,
    person_region, region_of, replay, save_accumulators, save_coverage,
};

/// Most settlements one writer commits in one transaction.
pub(crate) const BATCH_LEN_MAX: usize = 64;
/// Most settlements waiting for a writer; further callers wait for room.
pub(crate) const QUEUE_LEN_MAX: usize = 1_024;
/// Connections of the writer: one batch committing while the next is being written (see
/// [`run_writer`]).
const WRITER_CONNECTIONS: usize = 2;
/// How a batch transaction begins. Its statements take arrays whose length changes with
/// every batch, and PostgreSQL kept planning them again for each execution (custom plans;
/// measured, planning the write statement cost about as much as running it), so they use
/// the prepared statement's generic plan.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL plan_cache_mode = force_generic_plan";

/// One settlement waiting for a writer, and where to send its answer.
pub(crate) struct SettleJob {
    pub(crate) actor: Actor,
    pub(crate) scope: RegionCode,
    pub(crate) request: SettleRequest,
    pub(crate) compute: SettleFn,
    pub(crate) reply: oneshot::Sender<Result<SettleOutcome, StoreError>>,
}

impl std::fmt::Debug for SettleJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettleJob")
            .field("institution_code", &self.request.institution_code)
            .field("claim_id", &self.request.claim_id)
            .finish_non_exhaustive()
    }
}

/// What the writers have done since the store connected.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    /// Batch transactions tried.
    pub(crate) batches: AtomicU64,
    /// Settlement requests in them.
    pub(crate) requests: AtomicU64,
    /// Batches that failed before their commit and were settled request by request.
    pub(crate) fallbacks: AtomicU64,
    /// Microseconds the batches took, from the first statement to the last answer: the
    /// database time of settlement.
    pub(crate) busy_us: AtomicU64,
}

/// Starts the writer thread; the queue it serves. It stops when every sender is dropped
/// (with the last clone of the store), once the batches in hand are answered.
///
/// The writer runs on its own thread and its own connections rather than as a task on the
/// server's runtime with pooled connections. Measured: as a task, each of its statements
/// also waited for a runtime worker busy with HTTP requests, and a pooled connection costs
/// two more round trips per transaction (sqlx pings a connection when it is taken and when
/// it is given back); the writer's round trips are the critical path of every settlement.
pub(crate) fn spawn_writer(options: PgConnectOptions, stats: &Arc<WriterStats>) -> Result<mpsc::Sender<SettleJob>, StoreError> {
    let (jobs, queue) = mpsc::channel(QUEUE_LEN_MAX);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Backend(format!("cannot start the settlement writer: {e}")))?;
    let stats = Arc::clone(stats);
    std::thread::Builder::new()
        .name("yibao-pg-settle".into())
        .spawn(move || runtime.block_on(run_writer(options, queue, stats)))
        .map_err(|e| StoreError::Backend(format!("cannot start the settlement writer: {e}")))?;
    Ok(jobs)
}

/// One of the writer's connections, opened when first needed and opened again after it
/// fails.
struct Writer {
    options: PgConnectOptions,
    connection: Option<PgConnection>,
    /// Something failed since the connection was last known good: ping it before use.
    suspect: bool,
}

impl Writer {
    fn new(options: &PgConnectOptions) -> Writer {
        Writer { options: options.clone(), connection: None, suspect: false }
    }

    async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        if self.suspect {
            self.suspect = false;
            if let Some(mut connection) = self.connection.take()
                && connection.ping().await.is_ok()
            {
                self.connection = Some(connection);
            }
        }
        match &mut self.connection {
            Some(connection) => Ok(connection),
            empty => Ok(empty.insert(PgConnection::connect_with(&self.options).await.map_err(backend)?)),
        }
    }
}

/// Takes batches from `queue` until it is closed and empty, and settles each on a task of
/// its own with one of the [`WRITER_CONNECTIONS`] connections.
///
/// Batches are pipelined: the next batch starts as soon as the current one has sent its
/// `COMMIT`, not when the commit returns. With fsync on, a commit waits for the disk; the
/// next batch meanwhile reads, locks and writes everything but its audit entries, and takes
/// the audit head (which orders the commits) the moment the first commit releases it. At
/// most one batch is committing while one is being written.
async fn run_writer(options: PgConnectOptions, mut queue: mpsc::Receiver<SettleJob>, stats: Arc<WriterStats>) {
    let (give_back, mut returned) = mpsc::channel::<Writer>(WRITER_CONNECTIONS);
    let mut idle: Vec<Writer> = (0..WRITER_CONNECTIONS).map(|_| Writer::new(&options)).collect();
    let mut lent = 0;
    // Requests whose claim key was already in the batch before them; they go first next time.
    let mut deferred: Vec<SettleJob> = Vec::new();
    loop {
        let mut batch = std::mem::take(&mut deferred);
        if batch.is_empty() {
            if queue.recv_many(&mut batch, BATCH_LEN_MAX).await == 0 {
                break;
            }
        } else {
            // Retries of claims in the last batch: once it has committed, they find their
            // claims settled and replay them (started while it commits, they would wait for
            // its claim keys and then fail the whole batch over to one by one).
            while lent > 0 {
                match returned.recv().await {
                    Some(writer) => idle.push(writer),
                    None => idle.push(Writer::new(&options)),
                }
                lent -= 1;
            }
        }
        top_up(&mut queue, &mut batch);
        let mut keys = HashSet::with_capacity(batch.len());
        let (batch, later): (Vec<SettleJob>, Vec<SettleJob>) =
            batch.into_iter().partition(|job| keys.insert((job.request.institution_code.clone(), job.request.claim_id.clone())));
        deferred = later;
        while let Ok(writer) = returned.try_recv() {
            lent -= 1;
            idle.push(writer);
        }
        let writer = match idle.pop() {
            Some(writer) => writer,
            // Every connection is in a batch that is committing: wait for one.
            None => {
                lent -= 1;
                returned.recv().await.unwrap_or_else(|| Writer::new(&options))
            }
        };
        lent += 1;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let (ready, committing) = oneshot::channel();
        let mut lent_writer = Lent { writer: Some(writer), finished: false, give_back: give_back.clone(), options: options.clone() };
        let task_stats = Arc::clone(&stats);
        tokio::spawn(async move { lent_writer.settle(batch, &task_stats, ready).await });
        // Until this batch is committing, or done (the task drops `ready` whatever happens).
        let _ = committing.await;
    }
    // Let the last batches commit and answer.
    drop(give_back);
    while lent > 0 && returned.recv().await.is_some() {
        lent -= 1;
    }
}

/// A connection lent to a batch's task, given back when the task ends, however it ends: if
/// the batch did not finish (a panic), as a new connection, since the old one may be in the
/// middle of a transaction.
struct Lent {
    writer: Option<Writer>,
    finished: bool,
    give_back: mpsc::Sender<Writer>,
    options: PgConnectOptions,
}

impl Lent {
    async fn settle(&mut self, batch: Vec<SettleJob>, stats: &WriterStats, ready: oneshot::Sender<()>) {
        if let Some(writer) = self.writer.as_mut() {
            let started = std::time::Instant::now();
            settle_batch(writer, batch, stats, ready).await;
            stats.busy_us.fetch_add(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
            self.finished = true;
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let writer = self.writer.take().filter(|_| self.finished).unwrap_or_else(|| Writer::new(&self.options));
        // Never full: the channel holds as many as there are connections.
        let _ = self.give_back.try_send(writer);
    }
}

/// Adds to `batch` the requests already waiting, up to [`BATCH_LEN_MAX`].
fn top_up(queue: &mut mpsc::Receiver<SettleJob>, batch: &mut Vec<SettleJob>) {
    while batch.len() < BATCH_LEN_MAX {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Settles `batch` in one transaction and answers every request; on a failure before the
/// commit, settles each request on its own instead. `ready` is sent (or dropped) once the
/// next batch may start.
async fn settle_batch(writer: &mut Writer, batch: Vec<SettleJob>, stats: &WriterStats, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let (requests, replies): (Vec<Request>, Vec<_>) = batch
        .into_iter()
        .map(|job| (Request { actor: job.actor, scope: job.scope, request: job.request, compute: job.compute }, job.reply))
        .unzip();
    let outcome = match writer.connection().await {
        Ok(connection) => try_batch(connection, &requests, &mut ready).await,
        Err(e) => Err(Failure::AtCommit(e)),
    };
    let answers = match outcome {
        Ok(answers) => answers,
        Err(Failure::BeforeCommit) => {
            stats.fallbacks.fetch_add(1, Ordering::Relaxed);
            writer.suspect = true;
            let mut answers = Vec::with_capacity(requests.len());
            for r in &requests {
                let answer = match writer.connection().await {
                    Ok(connection) => settle_one(connection, &r.actor, r.scope, r.request.clone(), &r.compute).await,
                    Err(e) => Err(e),
                };
                writer.suspect |= matches!(answer, Err(StoreError::Backend(_)));
                answers.push(answer);
            }
            answers
        }
        // The outcome is unknown (the commit may have happened), or there is no connection:
        // every caller is told of the failure, and a retry replays whatever was settled.
        Err(Failure::AtCommit(e)) => {
            writer.suspect = true;
            requests.iter().map(|_| Err(e.clone())).collect()
        }
    };
    drop(ready);
    for (reply, answer) in replies.into_iter().zip(answers) {
        // A caller that went away still had its settlement committed; a retry replays it.
        let _ = reply.send(answer);
    }
}

/// A queued request without its reply channel.
struct Request {
    actor: Actor,
    scope: RegionCode,
    request: SettleRequest,
    compute: SettleFn,
}

/// Why a batch did not settle as a whole.
enum Failure {
    /// A statement failed and nothing was committed. Which request caused it is not known
    /// (a statement covers them all), so each is settled again on its own, where it meets
    /// its own failure again if it has one.
    BeforeCommit,
    /// `COMMIT` itself failed: the outcome is unknown.
    AtCommit(StoreError),
}

impl From<StoreError> for Failure {
    fn from(_: StoreError) -> Failure {
        Failure::BeforeCommit
    }
}

/// An accumulators row: region, person, year.
type AccKey = (RegionCode, NationalId, i32);
/// A person's row: region, person.
type PersonKey = (RegionCode, NationalId);

/// Per request (`n`, from 1): the region of its claim key if the key is settled, the region
/// its person is enrolled in (null if none), and whether the person has an accumulators row
/// for the year. Each row is looked up on its own, by primary key: the subqueries run once
/// per request (a scalar subquery, and a `LATERAL` one that `OFFSET 0` keeps from being
/// merged into a join, which the planner could make a hash join over the whole table).
const LOOKUP: &str = "SELECT r.n, \
         (SELECT k.region_code FROM claim_keys k WHERE k.institution_code = r.institution_code AND k.claim_id = r.claim_id) AS key_region, \
         p.region_code AS person_region, p.acc_exists \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[]) WITH ORDINALITY AS r(institution_code, claim_id, person_id, year, n) \
     LEFT JOIN LATERAL ( \
         SELECT pi.region_code, EXISTS ( \
             SELECT 1 FROM accumulators a WHERE a.region_code = pi.region_code AND a.person_id = pi.person_id AND a.year = r.year \
         ) AS acc_exists \
         FROM person_index pi WHERE pi.person_id = r.person_id OFFSET 0 \
     ) p ON TRUE";

/// Zero rows for the accumulators that have none yet, in the order given (sorted by the
/// caller); the keys inserted.
const ACC_INSERT: &str = "INSERT INTO accumulators (region_code, person_id, year, state) \
     SELECT u.region_code, u.person_id, u.year, u.state::jsonb \
     FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[]) WITH ORDINALITY AS u(region_code, person_id, year, state, n) ORDER BY u.n \
     ON CONFLICT (region_code, person_id, year) DO NOTHING RETURNING region_code, person_id, year";

/// The accumulators rows, locked one by one in the order given (sorted by the caller): the
/// locking subquery runs once per key, by primary key, in the array's order.
const ACC_LOCK: &str = "SELECT a.region_code, a.person_id, a.year, a.state \
     FROM unnest($1::text[], $2::text[], $3::int4[]) WITH ORDINALITY AS u(region_code, person_id, year, n) \
     CROSS JOIN LATERAL ( \
         SELECT a.region_code, a.person_id, a.year, a.state::text AS state FROM accumulators a \
         WHERE a.region_code = u.region_code AND a.person_id = u.person_id AND a.year = u.year FOR UPDATE \
     ) a ORDER BY u.n";

/// The persons' rows, locked one by one in the order given (sorted by the caller), as above.
const PERSONS_LOCK: &str = "SELECT p.region_code, p.person_id, p.name, p.card_no, p.household_id, p.coverage, p.enrolled_at, p.updated_at, \
         p.history, p.died_on \
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(region_code, person_id, n) \
     CROSS JOIN LATERAL ( \
         SELECT p.region_code, p.person_id, p.name, p.card_no, p.household_id, p.coverage::text AS coverage, p.enrolled_at, p.updated_at, \
             p.history::text AS history, p.died_on \
         FROM persons p WHERE p.region_code = u.region_code AND p.person_id = u.person_id FOR NO KEY UPDATE \
     ) p ORDER BY u.n";

/// Every write of the batch but the audit chain, in one statement: the claim keys (a key
/// settled meanwhile elsewhere fails the statement with a unique violation), the claims, the
/// new accumulators, the zero rows no settlement used, and the changed coverages (personal
/// account balances). Data-modifying `WITH` parts run to completion whether read or not.
const WRITE: &str = "WITH keys AS ( \
         INSERT INTO claim_keys (institution_code, claim_id, region_code) \
         SELECT u.institution_code, u.claim_id, u.region_code \
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(region_code, institution_code, claim_id, n) ORDER BY u.n \
     ), claims AS ( \
         INSERT INTO claims (region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, \
             psn_part_fen, settlement, claim, acc_before, acc_after, insutype, supplementary_fen, \
             kind, admission_date, discharge_date, institution_level, diagnosis, physician) \
         SELECT u.region_code, u.institution_code, u.claim_id, u.person_id, u.year, 'settled', u.settled_at, u.medfee_fen, \
             u.fund_pay_fen, u.psn_part_fen, u.settlement, u.claim, u.acc_before, u.acc_after, u.insutype, \
             u.supplementary_fen, u.kind, u.admission_date, u.discharge_date, u.institution_level, u.diagnosis, u.physician \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::int8[], $8::int8[], $9::int8[], \
             $10::bytea[], $11::bytea[], $12::bytea[], $13::bytea[], $25::text[], $26::int8[], \
             $27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[]) \
             AS u(region_code, institution_code, claim_id, person_id, year, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, \
             settlement, claim, acc_before, acc_after, insutype, supplementary_fen, \
             kind, admission_date, discharge_date, institution_level, diagnosis, physician) \
     ), acc AS ( \
         UPDATE accumulators a SET state = u.state::jsonb \
         FROM unnest($14::text[], $15::text[], $16::int4[], $17::text[]) AS u(region_code, person_id, year, state) \
         WHERE a.region_code = u.region_code AND a.person_id = u.person_id AND a.year = u.year \
     ), unused AS ( \
         DELETE FROM accumulators a USING unnest($18::text[], $19::text[], $20::int4[]) AS u(region_code, person_id, year) \
         WHERE a.region_code = u.region_code AND a.person_id = u.person_id AND a.year = u.year \
     ) \
     UPDATE persons p SET coverage = u.coverage::jsonb, updated_at = u.updated_at \
     FROM unnest($21::text[], $22::text[], $23::text[], $24::text[]) AS u(region_code, person_id, coverage, updated_at) \
     WHERE p.region_code = u.region_code AND p.person_id = u.person_id";

/// Columns of the claims to insert, one vector per column.
#[derive(Default)]
struct ClaimRows {
    region: Vec<String>,
    institution: Vec<String>,
    claim_id: Vec<String>,
    person: Vec<String>,
    year: Vec<i32>,
    settled_at: Vec<String>,
    medfee_fen: Vec<i64>,
    fund_pay_fen: Vec<i64>,
    psn_part_fen: Vec<i64>,
    /// Compressed (`yibao_store::compact`).
    settlement: Vec<Vec<u8>>,
    /// Compressed, as the settlement, its fields SQL reads beside it, one vector each in
    /// the order of `ClaimColumns::fields`.
    claim: Vec<Vec<u8>>,
    claim_fields: [Vec<Option<String>>; 6],
    /// Compressed, as the settlement.
    acc_before: Vec<Vec<u8>>,
    acc_after: Vec<Vec<u8>>,
    insutype: Vec<&'static str>,
    supplementary_fen: Vec<i64>,
}

/// A person's coverage as the batch goes, and whether a settlement changed it.
struct PersonState {
    coverage: Coverage,
    history: Vec<yibao_engine::PastCoverage>,
    died_on: Option<time::Date>,
    updated_at: Option<String>,
}

/// Settles `requests` in one transaction; one answer per request, in order. Nothing is
/// committed unless every answer is final.
async fn try_batch(
    connection: &mut PgConnection,
    requests: &[Request],
    ready: &mut Option<oneshot::Sender<()>>,
) -> Result<Vec<Result<SettleOutcome, StoreError>>, Failure> {
    let mut answers: Vec<Option<Result<SettleOutcome, StoreError>>> = (0..requests.len()).map(|_| None).collect();
    let mut tx = connection.begin_with(BEGIN).await.map_err(backend)?;

    // 1. Claim keys, persons' regions, accumulators rows.
    let strings = |f: fn(&SettleRequest) -> String| requests.iter().map(|r| f(&r.request)).collect::<Vec<String>>();
    let rows = sqlx::query(LOOKUP)
        .bind(strings(|r| r.institution_code.to_string()))
        .bind(strings(|r| r.claim_id.clone()))
        .bind(strings(|r| r.person_id.to_string()))
        .bind(requests.iter().map(|r| r.request.year).collect::<Vec<i32>>())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    let mut regions: Vec<Option<RegionCode>> = vec![None; requests.len()];
    let mut missing: BTreeSet<AccKey> = BTreeSet::new();
    for row in &rows {
        let n: i64 = row.try_get("n").map_err(backend)?;
        let i = usize::try_from(n - 1).map_err(|e| StoreError::Backend(e.to_string()))?;
        let r = &requests[i];
        let key_region: Option<String> = row.try_get("key_region").map_err(backend)?;
        if key_region.is_some() {
            // A retry (or a conflict): rare, so its claim is read on its own.
            let existing = find_claim(&mut tx, &r.request.institution_code, &r.request.claim_id).await?;
            let existing = existing.ok_or_else(|| StoreError::Backend("a claim key has no claim".into()));
            answers[i] = Some(existing.and_then(|existing| replay(existing, r.scope, r.request.clone())));
            continue;
        }
        let person_region: Option<String> = row.try_get("person_region").map_err(backend)?;
        match person_region.as_deref().map(region_of).transpose()? {
            Some(region) if r.scope.contains(region) => {
                regions[i] = Some(region);
                let acc_exists: Option<bool> = row.try_get("acc_exists").map_err(backend)?;
                if acc_exists != Some(true) {
                    missing.insert((region, r.request.person_id, r.request.year));
                }
            }
            _ => answers[i] = Some(Err(StoreError::PersonNotFound(r.request.person_id.to_string()))),
        }
    }
    let live: Vec<(usize, RegionCode)> = regions.iter().enumerate().filter_map(|(i, region)| region.map(|region| (i, region))).collect();
    if live.is_empty() {
        tx.rollback().await.map_err(backend)?;
        return finish(answers);
    }

    // 2. The accumulators rows, then 3. the persons' rows, each set in ascending key order.
    // A committed accumulators row is never deleted, so only the rows missing at the look-up
    // are inserted (those another transaction inserts meanwhile are left to it: this insert
    // waits for it to end, then inserts nothing).
    let acc_keys: BTreeSet<AccKey> =
        live.iter().map(|&(i, region)| (region, requests[i].request.person_id, requests[i].request.year)).collect();
    let person_keys: BTreeSet<PersonKey> = live.iter().map(|&(i, region)| (region, requests[i].request.person_id)).collect();
    let (acc_regions, acc_persons, acc_years) = acc_columns(acc_keys.iter());
    let inserted_rows = if missing.is_empty() {
        Vec::new()
    } else {
        let (regions, persons, years) = acc_columns(missing.iter());
        let zeros: Vec<String> = missing.iter().map(|&(_, _, year)| json(&Accumulators::new_year(year))).collect::<Result<_, _>>()?;
        sqlx::query(ACC_INSERT).bind(regions).bind(persons).bind(years).bind(zeros).fetch_all(&mut *tx).await.map_err(backend)?
    };
    let mut inserted: BTreeSet<AccKey> = BTreeSet::new();
    for row in &inserted_rows {
        inserted.insert(acc_key(row)?);
    }
    let locked = sqlx::query(ACC_LOCK).bind(&acc_regions).bind(&acc_persons).bind(&acc_years).fetch_all(&mut *tx).await.map_err(backend)?;
    let mut accumulators: HashMap<AccKey, Accumulators> = HashMap::with_capacity(locked.len());
    for row in &locked {
        let state: String = row.try_get("state").map_err(backend)?;
        accumulators.insert(acc_key(row)?, crate::from_json(&state)?);
    }
    if accumulators.len() != acc_keys.len() {
        return Err(StoreError::Backend("an accumulators row vanished while being locked".into()).into());
    }
    let person_regions: Vec<String> = person_keys.iter().map(|(region, _)| region.to_string()).collect();
    let person_ids: Vec<String> = person_keys.iter().map(|(_, id)| id.to_string()).collect();
    let rows = sqlx::query(PERSONS_LOCK).bind(person_regions).bind(person_ids).fetch_all(&mut *tx).await.map_err(backend)?;
    let mut persons: HashMap<PersonKey, PersonState> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let region = region_of(row.try_get("region_code").map_err(backend)?)?;
        let record = person_from_row(row)?;
        persons.insert(
            (region, record.person_id),
            PersonState { coverage: record.coverage, history: record.history, died_on: record.died_on, updated_at: None },
        );
    }
    if persons.len() != person_keys.len() {
        return Err(StoreError::Backend("a person's row is missing".into()).into());
    }
    // A person who moved to another county after the look-up: the row locked is the old
    // county's, ended; their claims are refused, to be sent again (read after the lock,
    // which waited for the move to commit).
    let moved: BTreeSet<PersonKey> = {
        let ids: Vec<String> = person_keys.iter().map(|(_, id)| id.to_string()).collect();
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT person_id, region_code FROM person_index WHERE person_id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let now: HashMap<String, String> = rows.into_iter().collect();
        person_keys.iter().filter(|(region, id)| now.get(id.as_str()) != Some(&region.to_string())).copied().collect()
    };

    // The live stays of the persons settling a stay, read with their rows locked: a stay
    // overlapping one of them, or one settled earlier in this batch, is refused.
    let stay_persons: Vec<PersonKey> = live
        .iter()
        .filter(|&&(i, _)| {
            let r = &requests[i].request;
            matches!(yibao_store::stay_days(r.institution_code.as_str(), &r.claim_id, &r.claim_json), Ok(Some(_)))
        })
        .map(|&(i, region)| (region, requests[i].request.person_id))
        .collect();
    // Their stays in every county they were insured in, under the county they are in now.
    let stay_keys: Vec<PersonKey> = stay_persons
        .iter()
        .flat_map(|key| {
            let regions = persons.get(key).map(|p| yibao_store::regions_of(&p.coverage, &p.history)).unwrap_or_default();
            regions.into_iter().map(|region| (region, key.1))
        })
        .collect();
    let mut stays: HashMap<PersonKey, Vec<yibao_store::StayDays>> = HashMap::new();
    if !stay_keys.is_empty() {
        for ((_, id), found) in settled_stays(&mut tx, &stay_keys).await? {
            if let Some(key) = stay_persons.iter().find(|key| key.1 == id) {
                stays.entry(*key).or_default().extend(found);
            }
        }
    }

    // 4. The engine, request by request in queue order, on the locked values as the batch
    // leaves them.
    let mut claims = ClaimRows::default();
    let mut written: BTreeMap<AccKey, Accumulators> = BTreeMap::new();
    let mut audits: BTreeMap<RegionCode, Vec<NewAudit<'_>>> = BTreeMap::new();
    let mut flagged: Vec<(yibao_store::ClaimRecord, &[yibao_store::review::RaisedFlag])> = Vec::new();
    let mut ledger_entries = Vec::new();
    let mut posted_at: Option<String> = None;
    for &(i, region) in &live {
        let r = &requests[i];
        let acc_key = (region, r.request.person_id, r.request.year);
        let person_key = (region, r.request.person_id);
        let (Some(before), Some(person)) = (accumulators.get(&acc_key).copied(), persons.get_mut(&person_key)) else {
            return Err(StoreError::Backend("a locked row went missing".into()).into());
        };
        if moved.contains(&person_key) {
            answers[i] = Some(Err(yibao_store::moved_meanwhile(&r.request.person_id)));
            continue;
        }
        let person_stays = stays.entry(person_key).or_default();
        if let Err(refused) = yibao_store::check_stay_free(&r.request, person_stays) {
            answers[i] = Some(Err(refused));
            continue;
        }
        // Under the coverage in force on the date of service (R-ENR-5), booked where the
        // person is insured now.
        let coverage = match yibao_store::claim_coverage(&person.coverage, &person.history, r.request.service_date)
            .and_then(|coverage| yibao_store::check_alive(person.died_on, &r.request).map(|()| coverage))
        {
            Ok(found) => found,
            Err(refused) => {
                answers[i] = Some(Err(refused));
                continue;
            }
        };
        let settlement = match yibao_store::run_settlement(&r.compute, &coverage, &before, r.request.year) {
            Ok(settlement) => settlement,
            Err(refused) => {
                answers[i] = Some(Err(refused));
                continue;
            }
        };
        if settlement.referral {
            let regions = yibao_store::regions_of(&person.coverage, &person.history);
            let referrals = crate::referrals_in(&mut tx, &regions, &r.request.person_id).await?;
            let settled_there = crate::settled_at(&mut tx, &regions, &r.request.person_id, r.request.institution_code.as_str()).await?;
            if let Err(refused) = yibao_store::check_referral_live(&r.request, &settlement, &referrals, &settled_there) {
                answers[i] = Some(Err(refused));
                continue;
            }
        }
        let person_stays = stays.entry(person_key).or_default();
        person_stays.extend(yibao_store::stay_days(r.request.institution_code.as_str(), &r.request.claim_id, &r.request.claim_json)?);
        let after = settlement.accumulators;
        let record = yibao_store::settled_claim(region, &r.request, &settlement, r.actor.at)?;
        claims.region.push(region.to_string());
        claims.institution.push(record.institution_code.to_string());
        claims.claim_id.push(record.claim_id.clone());
        claims.person.push(record.person_id.to_string());
        claims.year.push(record.year);
        claims.settled_at.push(crate::time_text(record.settled_at)?);
        claims.medfee_fen.push(record.medfee_fen.get());
        claims.fund_pay_fen.push(record.fund_pay_fen.get());
        claims.psn_part_fen.push(record.psn_part_fen.get());
        let stored = yibao_store::compact::StoredSettlement::new(&record.settlement_json, &settlement)?;
        claims.settlement.push(stored.bytes);
        claims.insutype.push(stored.insutype);
        claims.supplementary_fen.push(stored.supplementary_fen);
        let claim = yibao_store::compact::PackedClaim::new(&record.claim_json)?;
        for (column, (_, value)) in claims.claim_fields.iter_mut().zip(claim.columns.fields()) {
            column.push(value.map(str::to_owned));
        }
        claims.claim.push(claim.bytes);
        claims.acc_before.push(yibao_store::compact::pack_accumulators(&before)?);
        claims.acc_after.push(yibao_store::compact::pack_accumulators(&after)?);
        ledger_entries.extend(yibao_store::books::settlement_entries(
            region,
            &record.institution_code,
            &record.claim_id,
            record.person_id,
            &yibao_store::books::SettlementAmounts::of(&settlement)?,
            r.actor.at.date(),
        )?);
        posted_at.get_or_insert_with(|| r.actor.at_text());
        accumulators.insert(acc_key, after);
        written.insert(acc_key, after);
        if settlement.acct_balance_after != person.coverage.personal_account_balance {
            person.coverage.personal_account_balance = settlement.acct_balance_after;
            person.updated_at = Some(r.actor.at_text());
        }
        if !r.request.flags.is_empty() {
            flagged.push((record.clone(), r.request.flags.as_slice()));
        }
        audits.entry(region).or_default().push(NewAudit {
            actor: &r.actor,
            action: "claim.settle",
            entity: format!("{}/{}", record.institution_code, record.claim_id),
            detail: record.settle_audit_detail(&before, &after)?,
        });
        answers[i] = Some(Ok(SettleOutcome { claim: record, replayed: false }));
    }

    // 5. Every write but the audit chain.
    let (new_regions, new_persons, new_years) = acc_columns(written.keys());
    let new_states: Vec<String> = written.values().map(json).collect::<Result<_, _>>()?;
    let (unused_regions, unused_persons, unused_years) = acc_columns(inserted.iter().filter(|key| !written.contains_key(key)));
    let mut changed =
        persons.iter().filter_map(|(key, state)| state.updated_at.as_ref().map(|at| (key, &state.coverage, at))).collect::<Vec<_>>();
    changed.sort_by_key(|(key, _, _)| **key);
    let coverage_regions: Vec<String> = changed.iter().map(|((region, _), _, _)| region.to_string()).collect();
    let coverage_persons: Vec<String> = changed.iter().map(|((_, id), _, _)| id.to_string()).collect();
    let coverages: Vec<String> = changed.iter().map(|(_, coverage, _)| json(coverage)).collect::<Result<_, _>>()?;
    let coverage_times: Vec<String> = changed.iter().map(|(_, _, at)| (*at).clone()).collect();
    let write = sqlx::query(WRITE)
        .bind(claims.region)
        .bind(claims.institution)
        .bind(claims.claim_id)
        .bind(claims.person)
        .bind(claims.year)
        .bind(claims.settled_at)
        .bind(claims.medfee_fen)
        .bind(claims.fund_pay_fen)
        .bind(claims.psn_part_fen)
        .bind(claims.settlement)
        .bind(claims.claim)
        .bind(claims.acc_before)
        .bind(claims.acc_after)
        .bind(new_regions)
        .bind(new_persons)
        .bind(new_years)
        .bind(new_states)
        .bind(unused_regions)
        .bind(unused_persons)
        .bind(unused_years)
        .bind(coverage_regions)
        .bind(coverage_persons)
        .bind(coverages)
        .bind(coverage_times)
        .bind(claims.insutype)
        .bind(claims.supplementary_fen);
    let write = claims.claim_fields.into_iter().fold(write, sqlx::query::Query::bind);
    write.execute(&mut *tx).await.map_err(backend)?;

    // What monitoring flagged on them (issue 18), with them.
    let flagged: Vec<(&yibao_store::ClaimRecord, &[yibao_store::review::RaisedFlag])> = flagged.iter().map(|(c, f)| (c, *f)).collect();
    crate::review::insert_flags(&mut tx, &flagged).await?;

    // 6. The fund books: every settlement's transfers, posted together (a refusal sends the
    // batch to be settled one by one, so it fails only its own request).
    if let Some(posted_at) = posted_at {
        crate::books::post(&mut tx, &posted_at, &ledger_entries).await?;
    }

    // 7. The audit chains, region by region in ascending order, heads last.
    for (region, entries) in audits {
        append_audits(&mut tx, region, entries).await?;
    }

    // 8. Commit, letting the next batch start meanwhile; then the answers.
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    tx.commit().await.map_err(|e| Failure::AtCommit(backend(e)))?;
    finish(answers)
}

/// Every request's answer, once each has one.
fn finish(answers: Vec<Option<Result<SettleOutcome, StoreError>>>) -> Result<Vec<Result<SettleOutcome, StoreError>>, Failure> {
    answers.into_iter().map(|a| a.ok_or(Failure::BeforeCommit)).collect()
}

fn acc_key(row: &PgRow) -> Result<AccKey, StoreError> {
    Ok((
        region_of(row.try_get("region_code").map_err(backend)?)?,
        crate::id_of(row.try_get("person_id").map_err(backend)?)?,
        row.try_get("year").map_err(backend)?,
    ))
}

/// Accumulator keys as three columns, in the order given.
fn acc_columns<'a>(keys: impl Iterator<Item = &'a AccKey>) -> (Vec<String>, Vec<String>, Vec<i32>) {
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for (region, person, year) in keys {
        columns.0.push(region.to_string());
        columns.1.push(person.to_string());
        columns.2.push(*year);
    }
    columns
}

/// One settlement in its own transaction: the path a batch falls back to, request by
/// request, when one of its statements fails. Idempotent on the claim key; locks the
/// accumulators row, then the person's row, then (in `audit`) the chain head.
/// The live stays of `persons`, by person (read after their rows are locked).
async fn settled_stays(tx: &mut PgConnection, persons: &[PersonKey]) -> Result<HashMap<PersonKey, Vec<yibao_store::StayDays>>, StoreError> {
    let regions: Vec<String> = persons.iter().map(|(region, _)| region.to_string()).collect();
    let ids: Vec<String> = persons.iter().map(|(_, id)| id.to_string()).collect();
    let rows = sqlx::query(
        "SELECT c.region_code, c.person_id, c.institution_code, c.claim_id, c.kind, c.admission_date, c.discharge_date, c.institution_level, \
         c.diagnosis, c.physician FROM unnest($1::text[], $2::text[]) AS u(region_code, person_id) \
         JOIN claims c ON c.region_code = u.region_code AND c.person_id = u.person_id WHERE c.status = 'settled'",
    )
    .bind(regions)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let mut stays: HashMap<PersonKey, Vec<yibao_store::StayDays>> = HashMap::new();
    for row in &rows {
        let text = |name: &str| row.try_get::<String, _>(name).map_err(backend);
        let key = (region_of(&text("region_code")?)?, crate::id_of(&text("person_id")?)?);
        if let Some(stay) = crate::claim_columns(row)?.stay(&text("institution_code")?, &text("claim_id")?) {
            stays.entry(key).or_default().push(stay);
        }
    }
    Ok(stays)
}

pub(crate) async fn settle_one(
    connection: &mut PgConnection,
    actor: &Actor,
    scope: RegionCode,
    request: SettleRequest,
    compute: &SettleFn,
) -> Result<SettleOutcome, StoreError> {
    let mut tx = connection.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await.map_err(backend)?;
    if let Some(existing) = find_claim(&mut tx, &request.institution_code, &request.claim_id).await? {
        return replay(existing, scope, request);
    }
    let region = person_region(&mut tx, scope, &request.person_id).await?;
    let before = lock_accumulators(&mut tx, region, &request.person_id, request.year).await?;
    let person = load_person(&mut tx, region, &request.person_id, true).await?;
    if person_region(&mut tx, scope, &request.person_id).await? != region {
        return Err(yibao_store::moved_meanwhile(&request.person_id));
    }
    let coverage = yibao_store::claim_coverage(&person.coverage, &person.history, request.service_date)?;
    yibao_store::check_alive(person.died_on, &request)?;
    if yibao_store::stay_days(request.institution_code.as_str(), &request.claim_id, &request.claim_json)?.is_some() {
        let keys: Vec<PersonKey> =
            yibao_store::regions_of(&person.coverage, &person.history).into_iter().map(|r| (r, request.person_id)).collect();
        let stays: Vec<yibao_store::StayDays> = settled_stays(&mut tx, &keys).await?.into_values().flatten().collect();
        yibao_store::check_stay_free(&request, &stays)?;
    }
    let settlement = yibao_store::run_settlement(compute, &coverage, &before, request.year)?;
    if settlement.referral {
        let regions = yibao_store::regions_of(&person.coverage, &person.history);
        let settled_there = crate::settled_at(&mut tx, &regions, &request.person_id, request.institution_code.as_str()).await?;
        yibao_store::check_referral_live(
            &request,
            &settlement,
            &crate::referrals_in(&mut tx, &regions, &request.person_id).await?,
            &settled_there,
        )?;
    }
    let after = settlement.accumulators;
    let record = yibao_store::settled_claim(region, &request, &settlement, actor.at)?;
    let stored = yibao_store::compact::StoredSettlement::new(&record.settlement_json, &settlement)?;
    let claim = yibao_store::compact::PackedClaim::new(&record.claim_json)?;
    let keyed = sqlx::query("INSERT INTO claim_keys (institution_code, claim_id, region_code) VALUES ($1, $2, $3)")
        .bind(record.institution_code.as_str())
        .bind(&record.claim_id)
        .bind(region.to_string())
        .execute(&mut *tx)
        .await;
    match keyed {
        // The same (institution, claim id) was settled meanwhile by a concurrent request:
        // undo this attempt and answer as a retry would be answered.
        Err(e) if is_unique_violation(&e, "claim_keys_pkey") => {
            tx.rollback().await.map_err(backend)?;
            // Outside a transaction: the key and its claim committed together.
            let existing = find_claim(connection, &record.institution_code, &record.claim_id).await?;
            let existing = existing.ok_or_else(|| StoreError::Backend("a conflicting claim key has no claim".into()))?;
            let request = SettleRequest {
                institution_code: record.institution_code,
                claim_id: record.claim_id,
                person_id: record.person_id,
                year: record.year,
                service_date: request.service_date,
                claim_json: record.claim_json,
                flags: Vec::new(),
            };
            return replay(existing, scope, request);
        }
        other => other.map_err(backend)?,
    };
    let insert = sqlx::query(
        "INSERT INTO claims (region_code, institution_code, claim_id, person_id, year, status, settled_at, medfee_fen, fund_pay_fen, psn_part_fen, settlement, claim, acc_before, acc_after, insutype, supplementary_fen, \
         kind, admission_date, discharge_date, institution_level, diagnosis, physician) \
         VALUES ($1, $2, $3, $4, $5, 'settled', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
    )
    .bind(region.to_string())
    .bind(record.institution_code.as_str())
    .bind(&record.claim_id)
    .bind(record.person_id.as_str())
    .bind(record.year)
    .bind(crate::time_text(record.settled_at)?)
    .bind(record.medfee_fen.get())
    .bind(record.fund_pay_fen.get())
    .bind(record.psn_part_fen.get())
    .bind(&stored.bytes)
    .bind(&claim.bytes)
    .bind(yibao_store::compact::pack_accumulators(&before)?)
    .bind(yibao_store::compact::pack_accumulators(&after)?)
    .bind(stored.insutype)
    .bind(stored.supplementary_fen);
    claim.columns.fields().into_iter().fold(insert, |insert, (_, value)| insert.bind(value)).execute(&mut *tx).await.map_err(backend)?;
    save_accumulators(&mut tx, region, &record.person_id, &after).await?;
    crate::review::insert_flags(&mut tx, &[(&record, &request.flags)]).await?;
    if settlement.acct_balance_after != person.coverage.personal_account_balance {
        let mut coverage = person.coverage.clone();
        coverage.personal_account_balance = settlement.acct_balance_after;
        save_coverage(&mut tx, actor, region, &record.person_id, &coverage).await?;
    }
    let entries = yibao_store::books::settlement_entries(
        region,
        &record.institution_code,
        &record.claim_id,
        record.person_id,
        &yibao_store::books::SettlementAmounts::of(&settlement)?,
        actor.at.date(),
    )?;
    crate::books::post(&mut tx, &actor.at_text(), &entries).await?;
    let entity = format!("{}/{}", record.institution_code, record.claim_id);
    audit(&mut tx, actor, region, "claim.settle", &entity, record.settle_audit_detail(&before, &after)?).await?;
    tx.commit().await.map_err(backend)?;
    Ok(SettleOutcome { claim: record, replayed: false })
}
