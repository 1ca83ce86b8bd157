//! The two ways into the database file: one writer thread that group-commits, and a small
//! pool of read-only connections beside it.
//!
//! **Why a writer thread.** SQLite allows one writer at a time, and a durable commit costs an
//! fsync. With one transaction per request, throughput is bounded by the fsync rate, and
//! every statement pays a hand-off between the async task and a driver thread. Here a single
//! OS thread owns the only writing connection. Write requests arrive on a bounded queue as
//! closures; the thread takes every request waiting (up to [`BATCH_LEN_MAX`]), runs them in
//! one `BEGIN IMMEDIATE` transaction, each inside its own `SAVEPOINT` so that a refused or
//! failed request undoes only its own writes, commits once (one fsync for the batch), and
//! only then answers each caller. An answer is never sent before the commit that made it
//! durable has returned; if the commit fails, every request of the batch is told so and
//! none of its writes exist.
//!
//! **Why read-only connections.** WAL lets readers run beside the writer; each read runs in
//! one deferred transaction (a consistent snapshot) on a blocking thread, with
//! `query_only` set so that a read path can never write by mistake.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, mpsc, oneshot};
use yibao_store::StoreError;

/// Write requests taken into one transaction at most. Bounds the work lost to a failed
/// commit and the wait of the last request in a batch.
pub const BATCH_LEN_MAX: usize = 256;
/// Write requests waiting at most; further writers wait for room (back-pressure).
const QUEUE_LEN_MAX: usize = 4_096;
/// Read-only connections at most.
const READERS_MAX: usize = 8;
/// How long a connection waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Prepared statements kept per connection.
const STATEMENT_CACHE_LEN: usize = 128;
/// Database pages a connection keeps in memory, in KiB (SQLite's `cache_size` takes a
/// negative number as KiB). SQLite's default of 2 MiB made the book check read the same
/// pages from the file again and again (issue 17); at most [`READERS_MAX`] readers and the
/// writer hold this much each.
const PAGE_CACHE_KIB: i64 = 16 * 1024;

/// How a read-only store opens its connections.
const READ_ONLY_FLAGS: OpenFlags = OpenFlags::SQLITE_OPEN_READ_ONLY.union(OpenFlags::SQLITE_OPEN_NO_MUTEX);

/// Called once with the batch's fate: `Ok` when the batch committed, else why not.
type Delivery = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write request: runs its work on the writer's connection (or is told why it cannot),
/// says whether the work succeeded, and returns how to answer its caller.
type WriteJob = Box<dyn FnOnce(Result<&Connection, StoreError>) -> (bool, Delivery) + Send>;

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The shared handle: the writer's queue (none when opened read-only) and the readers.
#[derive(Debug)]
pub(crate) struct Database {
    path: PathBuf,
    jobs: Option<mpsc::Sender<WriteJob>>,
    readers: Mutex<Vec<Connection>>,
    reader_permits: Arc<Semaphore>,
    stats: Arc<WriterStats>,
}

/// What the writer has done since the store opened: for operators and benchmarks.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub(crate) batches: AtomicU64,
    pub(crate) requests: AtomicU64,
    /// Microseconds spent in write transactions, `BEGIN` to `COMMIT`: the database time.
    pub(crate) busy_us: AtomicU64,
}

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_LEN);
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB).map_err(backend)?;
    // The query planner's stability guarantee: a statement's plan never depends on the
    // values bound to it. Without it SQLite 3.54 marks most statements with an `= ?` term
    // as worth re-planning for new values, and rusqlite's statement cache clears the
    // bindings of each statement it keeps, which expires it: every reuse compiled the
    // statement again (issue 17: 18% of the readers' time and 5% of the writer's during a
    // bulk settle; `StatementStatus::RePrepare` counted a recompile at every run). The
    // store gathers no statistics (`ANALYZE`) for values to matter to.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(backend)?;
    if flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY) {
        // A read-only connection cannot change the journal mode; a copy made by
        // `backup::copy_database` is a single file in rollback mode and stays so.
        conn.execute_batch("PRAGMA query_only = ON;").map_err(backend)?;
        return Ok(conn);
    }
    // WAL: readers beside the writer. FULL: a commit is fsynced before it returns, so an
    // acknowledged write survives a crash or power loss.
    // temp_store: the savepoint (statement) journals of a batch stay in memory.
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")
        .map_err(backend)?;
    Ok(conn)
}

impl Database {
    /// Opens the file (creating it if needed), lets `prepare` bring the schema up to date on
    /// the writing connection, then starts the writer thread.
    pub(crate) fn open(path: &Path, prepare: impl FnOnce(&Connection) -> Result<(), StoreError>) -> Result<Database, StoreError> {
        let writer =
            open_connection(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        prepare(&writer)?;
        let (jobs, queue) = mpsc::channel(QUEUE_LEN_MAX);
        let stats = Arc::new(WriterStats::default());
        let writer_stats = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("yibao-sqlite-writer".into())
            .spawn(move || run_writer(&writer, queue, &writer_stats))
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Database {
            path: path.to_owned(),
            jobs: Some(jobs),
            readers: Mutex::new(Vec::new()),
            reader_permits: Arc::new(Semaphore::new(READERS_MAX)),
            stats,
        })
    }

    /// Microseconds spent in write transactions since the store opened.
    pub(crate) fn busy_us(&self) -> u64 {
        self.stats.busy_us.load(Ordering::Relaxed)
    }

    /// Write requests waiting in the queue now.
    pub(crate) fn queued(&self) -> usize {
        self.jobs.as_ref().map_or(0, |jobs| jobs.max_capacity() - jobs.capacity())
    }

    /// Opens an existing file for reading only: no writer thread, no migration, every
    /// connection `SQLITE_OPEN_READ_ONLY`, so checking a backup cannot change it.
    pub(crate) fn open_read_only(path: &Path) -> Result<Database, StoreError> {
        // Opened once here so that a missing or unreadable file fails at open, not at the
        // first read.
        let first = open_connection(path, READ_ONLY_FLAGS)?;
        Ok(Database {
            path: path.to_owned(),
            jobs: None,
            readers: Mutex::new(vec![first]),
            reader_permits: Arc::new(Semaphore::new(READERS_MAX)),
            stats: Arc::default(),
        })
    }

    /// (transactions committed or failed, write requests run) since the store opened.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.stats.batches.load(Ordering::Relaxed), self.stats.requests.load(Ordering::Relaxed))
    }

    /// Runs `work` on the writer, in a transaction shared with the other requests of its
    /// batch but isolated from their failures; returns its result once it is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = conn.and_then(work);
            let succeeded = result.is_ok();
            let delivery: Delivery = Box::new(move |committed| {
                // The caller may have gone away (a dropped request); its write stands.
                let _ = reply.send(result.and_then(|value| committed.map(|()| value)));
            });
            (succeeded, delivery)
        });
        let jobs = self.jobs.as_ref().ok_or_else(|| StoreError::Backend("the store is open read-only: nothing can be written".into()))?;
        jobs.send(job).await.map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("the SQLite writer stopped before answering".into()))?
    }

    /// Runs `work` on a read-only connection, in one snapshot.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.reader_permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("the SQLite readers are closed".into()))?;
        let database = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = database.readers.lock().map_err(|_| StoreError::Backend("reader pool poisoned".into()))?.pop();
            let conn = match pooled {
                Some(conn) => conn,
                None if database.jobs.is_none() => open_connection(&database.path, READ_ONLY_FLAGS)?,
                None => {
                    let conn = open_connection(&database.path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
                    conn.execute_batch("PRAGMA query_only = ON;").map_err(backend)?;
                    conn
                }
            };
            let result = {
                let snapshot = conn.unchecked_transaction().map_err(backend)?;
                let result = work(&snapshot);
                snapshot.finish().map_err(backend)?;
                result
            };
            if let Ok(mut readers) = database.readers.lock() {
                readers.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a read failed: {e}")))?
    }
}

/// The writer thread: batches, savepoints, one commit per batch. Ends when every
/// [`Database`] handle is gone.
fn run_writer(conn: &Connection, mut queue: mpsc::Receiver<WriteJob>, stats: &WriterStats) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(BATCH_LEN_MAX);
    let mut deliveries: Vec<Delivery> = Vec::with_capacity(BATCH_LEN_MAX);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH_LEN_MAX {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let started = std::time::Instant::now();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let reason = backend(e);
            for job in batch.drain(..) {
                let (_, delivery) = job(Err(reason.clone()));
                delivery(Err(reason.clone()));
            }
            continue;
        }
        let mut broken: Option<StoreError> = None;
        for job in batch.drain(..) {
            if broken.is_some() {
                let (_, delivery) = job(Err(StoreError::Backend("an earlier write in the same batch failed the transaction".into())));
                deliveries.push(delivery);
                continue;
            }
            if let Err(e) = conn.execute_batch("SAVEPOINT request") {
                let (_, delivery) = job(Err(backend(e)));
                deliveries.push(delivery);
                continue;
            }
            // A panic inside a request drops its reply (its caller is told the writer stopped
            // before answering) and is undone like any failed request.
            let (succeeded, delivery) = match catch_unwind(AssertUnwindSafe(|| job(Ok(conn)))) {
                Ok((succeeded, delivery)) => (succeeded, Some(delivery)),
                Err(_) => (false, None),
            };
            deliveries.extend(delivery);
            let closed =
                if succeeded { conn.execute_batch("RELEASE request") } else { conn.execute_batch("ROLLBACK TO request; RELEASE request") };
            // Some errors (disk full, I/O) make SQLite roll back the whole transaction by
            // itself; the requests before this one are then gone and the batch must fail.
            if let Err(e) = closed {
                broken = Some(backend(e));
            } else if conn.is_autocommit() {
                broken = Some(StoreError::Backend("SQLite rolled the transaction back".into()));
            }
        }
        let fate = match broken {
            Some(e) => Err(e),
            None => conn.execute_batch("COMMIT").map_err(backend),
        };
        if fate.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        stats.busy_us.fetch_add(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        for delivery in deliveries.drain(..) {
            delivery(fate.clone());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// How often the cached statement of the book's closed-year check was compiled again
    /// over `runs` runs on `conn`.
    fn recompiles(conn: &Connection, runs: usize) -> i32 {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS closes (region_code TEXT NOT NULL, year INTEGER NOT NULL, PRIMARY KEY (region_code, year))",
        )
        .unwrap();
        let sql = "SELECT max(year) FROM closes WHERE region_code = ?1";
        for _ in 0..runs {
            let year: Option<i64> = conn.prepare_cached(sql).unwrap().query_row(["419900"], |row| row.get(0)).unwrap();
            assert_eq!(year, None);
        }
        conn.prepare_cached(sql).unwrap().get_status(rusqlite::StatementStatus::RePrepare)
    }

    /// A store's connection reuses its compiled statements (issue 17): without the planner's
    /// stability guarantee, SQLite compiles this one again at every run, because the
    /// statement cache clears its bindings.
    #[test]
    fn cached_statements_are_not_compiled_again() {
        let path = std::env::temp_dir().join(format!("yibao-db-recompile-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let plain = Connection::open(&path).unwrap();
        assert_eq!(recompiles(&plain, 5), 4, "the plain connection shows what the setting prevents");
        drop(plain);
        let store = open_connection(&path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).unwrap();
        assert_eq!(recompiles(&store, 5), 0);
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
