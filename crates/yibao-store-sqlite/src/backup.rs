//! Copying the database file while the server runs (SQLite's online backup API), and
//! taking a data directory's file out of service before another is put in its place.
//!
//! **Why a read transaction around the steps.** The backup API copies a bounded number of
//! pages per step, but if another connection writes between two steps it starts again
//! from the first page; a server that commits every few milliseconds would keep a large
//! copy restarting for ever. So the source connection opens one read transaction first and
//! keeps it across every step: in WAL mode that is a snapshot, which the server's writer
//! never waits for (its commits go to the write-ahead log, which only grows until the copy
//! ends), and the copy is the database exactly as it stood when the snapshot began: every
//! write committed before it, nothing after. Steps of `pages_per_step` with a pause between
//! them bound the copy's I/O bursts and let the caller report progress.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use yibao_store::StoreError;

use crate::db::backend;

/// How the copy is paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyOptions {
    /// Pages copied per step (a page is 4 KiB by default).
    pub pages_per_step: u32,
    /// Pause between two steps.
    pub pause_ms: u64,
}

impl Default for CopyOptions {
    /// 64 MiB a step at the default page size, and a millisecond's pause: a copy of a few
    /// gigabytes takes seconds more than a plain file copy, and the disk is shared.
    fn default() -> CopyOptions {
        CopyOptions { pages_per_step: 16_384, pause_ms: 1 }
    }
}

/// What a copy did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copied {
    pub pages: u64,
    pub page_size_bytes: u64,
    pub steps: u64,
}

/// How long a connection here waits for a lock the server holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Copies the database at `source` (which a running server may be writing) into a new file
/// at `destination`, which must not exist. The copy is one self-contained file in rollback
/// mode (no `-wal` or `-shm` beside it), fsynced before this returns. `progress` is told
/// (pages copied, pages in all) after each step. On failure the partial destination is
/// removed.
pub fn copy_database(
    source: &Path,
    destination: &Path,
    options: CopyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Copied, StoreError> {
    // Never write over a file: a new one or nothing. Readable by its owner only: a backup
    // holds national IDs and password hashes.
    let mut new_file = std::fs::OpenOptions::new();
    new_file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut new_file, 0o600);
    new_file.open(destination).map_err(|e| StoreError::Backend(format!("{}: {e}", destination.display())))?;
    let copied = copy_into(source, destination, options, progress);
    if copied.is_err() {
        let _ = std::fs::remove_file(destination);
        let _ = std::fs::remove_file(side_file(destination, "-journal"));
    }
    copied
}

fn copy_into(source: &Path, destination: &Path, options: CopyOptions, progress: &mut dyn FnMut(u64, u64)) -> Result<Copied, StoreError> {
    // Read-write without create, as the store's readers open it: a missing file is an
    // error, not a new empty database, and query_only keeps this connection from writing.
    let from = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(backend)?;
    from.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    from.execute_batch("PRAGMA query_only = ON; BEGIN DEFERRED;").map_err(backend)?;
    // The first read starts the snapshot the whole copy is taken from.
    from.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get::<_, i64>(0)).map_err(backend)?;
    let mut to = Connection::open(destination).map_err(backend)?;
    let steps = {
        let backup = Backup::new(&from, &mut to).map_err(backend)?;
        let pages_per_step = i32::try_from(options.pages_per_step.max(1)).unwrap_or(i32::MAX);
        let mut steps = 0_u64;
        loop {
            let step = backup.step(pages_per_step).map_err(backend)?;
            steps += 1;
            let now = backup.progress();
            let total = u64::try_from(now.pagecount).unwrap_or_default();
            progress(total.saturating_sub(u64::try_from(now.remaining).unwrap_or_default()), total);
            match step {
                StepResult::Done => break,
                // Busy or locked: the destination's lock, briefly; the snapshot keeps the
                // source readable. Try again after the pause.
                _ => std::thread::sleep(Duration::from_millis(options.pause_ms)),
            }
        }
        steps
    };
    from.execute_batch("COMMIT").map_err(backend)?;
    drop(from);
    // The copied header says WAL, as the source's does; rollback mode makes the copy one
    // file that can be moved, checked read-only and restored without a log beside it.
    let mode: String = to.query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0)).map_err(backend)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Backend(format!("the copy stayed in journal mode {mode}")));
    }
    let page_size_bytes: i64 = to.query_row("PRAGMA page_size", [], |row| row.get(0)).map_err(backend)?;
    let pages: i64 = to.query_row("PRAGMA page_count", [], |row| row.get(0)).map_err(backend)?;
    to.close().map_err(|(_, e)| backend(e))?;
    sync_file(destination)?;
    Ok(Copied {
        pages: u64::try_from(pages).unwrap_or_default(),
        page_size_bytes: u64::try_from(page_size_bytes).unwrap_or_default(),
        steps,
    })
}

/// Takes the database at `path` out of WAL mode, which folds its write-ahead log into the
/// file and removes the `-wal` and `-shm` beside it, so the file alone holds everything and
/// may be moved. SQLite allows this only when no other connection has the file open, so
/// `Ok(false)` means another process (a running server) uses it and nothing was changed.
pub fn take_out_of_service(path: &Path) -> Result<bool, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(backend)?;
    // No waiting: a server holding the file is the answer, not a lock to wait out.
    conn.busy_timeout(Duration::ZERO).map_err(backend)?;
    let mode = conn.query_row("PRAGMA journal_mode = DELETE", [], |row| row.get::<_, String>(0));
    match mode {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => {
            conn.close().map_err(|(_, e)| backend(e))?;
            Ok(!side_file(path, "-wal").exists())
        }
        Ok(_) => Ok(false),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            Ok(false)
        }
        Err(e) => Err(backend(e)),
    }
}

/// `path` with `suffix` appended to its file name (SQLite's `-wal`, `-shm`, `-journal`).
#[must_use]
pub fn side_file(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Flushes a file's data and metadata to the disk.
pub fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))
}
