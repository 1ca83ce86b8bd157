//! Backup and restore of the SQLite store (issue 19): a copy of a data directory's database
//! taken while the server runs, checked as `yibao fund check` and `yibao audit verify`
//! check a store, and put back in place of a data directory's database.
//!
//! Both checks are the use cases those commands call ([`App::check_all_books`],
//! [`App::verify_audit`]), run on the copy opened read-only, so a backup is held to exactly
//! the rules the live store is. A file appears under its final name only whole: it is
//! written under a temporary name beside it and linked into place, which also refuses a
//! name that is taken (a link never replaces a file, unlike a rename). A restore never
//! deletes a database: the one it replaces is renamed aside.
//!
//! PostgreSQL is backed up with its own tools (README, "Backup and restore").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::policy_versions::GivenPack;
use yibao_store::{AuditVerification, BooksVerification};
use yibao_store_sqlite::SqliteStore;
use yibao_store_sqlite::backup::{copy_database, side_file, sync_file, take_out_of_service};

pub use yibao_store_sqlite::backup::{Copied, CopyOptions};

use crate::{App, AppError, Backend, DATABASE_FILE, Principal};

/// What the checks found in a copy.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `yibao fund check`'s result on the copy.
    pub books: BooksVerification,
    /// `yibao audit verify`'s result on the copy.
    pub audit: AuditVerification,
    pub elapsed_ms: u64,
}

impl Verified {
    /// Whether the copy holds sound books and an intact audit log.
    #[must_use]
    pub fn is_sound(&self) -> bool {
        self.books.breaches.is_empty() && self.audit.is_intact()
    }

    /// Every finding, one line each: the books' breaches with their codes, then the breaks
    /// in the audit log.
    #[must_use]
    pub fn findings(&self) -> Vec<String> {
        let books = self.books.breaches.iter().map(|b| format!("[{}] {b}", b.code()));
        books.chain(self.audit.breaks.iter().map(|b| format!("[audit.broken] {b}"))).collect()
    }
}

/// A backup written and checked.
#[derive(Debug, Clone)]
pub struct BackupOutcome {
    /// The file written.
    pub file: PathBuf,
    pub copied: Copied,
    pub size_bytes: u64,
    /// The copy, from opening the live database to the file in place.
    pub copy_ms: u64,
    pub verified: Verified,
}

/// A restore done.
#[derive(Debug, Clone)]
pub struct RestoreOutcome {
    /// The database now in the data directory.
    pub database: PathBuf,
    /// Where the database it replaced was put (with `force`), kept whole.
    pub set_aside: Option<PathBuf>,
    pub verified: Verified,
}

/// The principal the checks run as: the platform itself, in the pack's city.
fn checker(app: &App) -> Principal {
    Principal::System { name: "yibao-backup".into(), region: app.policy().region }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Opens the SQLite database `file` read-only and runs the book check and the audit
/// verification on it. Refuses a file that is missing (`backup.not_found`) or not a Yibao
/// database of this build's schema (`backup.unreadable`). The books are checked under the
/// copy's own pack in force (`given` only for a store older than pack versions).
pub async fn verify_copy(file: &Path, given: &GivenPack) -> Result<Verified, AppError> {
    let started = Instant::now();
    if !file.is_file() {
        return Err(AppError::not_found("backup.not_found", format!("{}: no such backup file", file.display())));
    }
    let store = SqliteStore::open_read_only(file).await.map_err(|e| match e {
        e @ yibao_store::StoreError::SchemaNewer { .. } => AppError::from(e),
        e => {
            let why = match e {
                yibao_store::StoreError::Invalid(why) => why,
                e => e.to_string(),
            };
            AppError::unprocessable("backup.unreadable", format!("{} is not a backup this build can read: {why}", file.display()))
        }
    })?;
    let app = App::open_with_policy(Arc::new(Backend::Sqlite(store)), given, None).await?;
    let principal = checker(&app);
    let books = app.check_all_books(&principal).await?;
    let audit = app.verify_audit(&principal, None).await?;
    Ok(Verified { books, audit, elapsed_ms: elapsed_ms(started) })
}

/// Copies the database of `data_dir` into the new file `out` while a server may be writing
/// it (SQLite's online backup: the copy is the database as it stood when the copy began),
/// then checks the copy ([`verify_copy`]). The outcome says whether it is sound; an unsound
/// copy is kept (it is a faithful copy of an unsound store) and a restore refuses it.
pub async fn backup(
    data_dir: &Path,
    out: &Path,
    options: CopyOptions,
    given: &GivenPack,
    mut progress: impl FnMut(u64, u64) + Send + 'static,
) -> Result<BackupOutcome, AppError> {
    let source = data_dir.join(DATABASE_FILE);
    if !source.is_file() {
        return Err(AppError::not_found("backup.no_database", format!("{}: no database to back up", source.display())));
    }
    if out.exists() {
        return Err(exists(out));
    }
    refuse_inside(data_dir, out)?;
    yibao_store_sqlite::refuse_newer(&source).map_err(AppError::from)?;
    let started = Instant::now();
    let partial = partial_name(out, "partial");
    let copied = {
        let (from, to) = (source.clone(), partial.clone());
        tokio::task::spawn_blocking(move || copy_database(&from, &to, options, &mut progress))
            .await
            .map_err(|e| AppError::internal("backup.failed", format!("the copy stopped: {e}")))?
            .map_err(|e| AppError::internal("backup.failed", format!("copying {} to {}: {e}", source.display(), partial.display())))?
    };
    place(&partial, out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => exists(out),
            _ => AppError::internal("backup.failed", format!("placing {}: {e}", out.display())),
        })
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&partial);
        })?;
    let copy_ms = elapsed_ms(started);
    let size_bytes = std::fs::metadata(out).map_err(|e| AppError::internal("backup.failed", format!("{}: {e}", out.display())))?.len();
    let verified = verify_copy(out, given).await?;
    Ok(BackupOutcome { file: out.to_owned(), copied, size_bytes, copy_ms, verified })
}

/// Puts the backup `from` in place as the database of `data_dir`, after checking it
/// ([`verify_copy`]; an unsound copy is refused, `backup.not_verified`). A data directory
/// that already holds a database is refused (`restore.data_dir_not_empty`) unless `force`;
/// then that database is renamed aside, never deleted, and only when no process has it open
/// (`restore.in_use`: stop the server first).
pub async fn restore(from: &Path, data_dir: &Path, force: bool, given: &GivenPack) -> Result<RestoreOutcome, AppError> {
    let database = data_dir.join(DATABASE_FILE);
    let log = side_file(&database, "-wal");
    let occupied = database.exists() || log.exists();
    // Refused before the (long) check: nothing to do without --force.
    if occupied && !force {
        return Err(AppError::conflict(
            "restore.data_dir_not_empty",
            format!("{} already holds a database; pass --force to restore over it (it is kept, renamed aside)", data_dir.display()),
        ));
    }
    // A live database's latest writes may be in its write-ahead log, which a file copy
    // leaves behind: restore only a backup (one file), never a database in use.
    if side_file(from, "-wal").exists() || side_file(from, "-shm").exists() {
        return Err(AppError::unprocessable(
            "restore.live_database",
            format!(
                "{} is a database in use, its write-ahead log beside it: back it up with yibao backup and restore that",
                from.display()
            ),
        ));
    }
    let verified = verify_copy(from, given).await?;
    if !verified.is_sound() {
        let findings = verified.findings();
        return Err(AppError::unprocessable(
            "backup.not_verified",
            format!("{} does not verify ({} findings), so it is not restored:\n{}", from.display(), findings.len(), findings.join("\n")),
        ));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| AppError::internal("restore.failed", format!("{}: {e}", data_dir.display())))?;
    // The backup is copied in first, under a temporary name: if the copy fails (a full
    // disk), the database in place has not been touched.
    let partial = partial_name(&database, "restoring");
    let copied = std::fs::copy(from, &partial)
        .map_err(|e| AppError::internal("restore.failed", format!("copying {} into {}: {e}", from.display(), data_dir.display())))
        .and_then(|_| sync_file(&partial).map_err(|e| AppError::internal("restore.failed", e.to_string())));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let mut set_aside = None;
    if occupied {
        let set = set_aside_database(&database);
        if let Err(e) = set {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        set_aside = set.ok();
    }
    if let Err(e) = place(&partial, &database) {
        let _ = std::fs::remove_file(&partial);
        // Put the old database back where it was: the data directory is as it was found.
        let back = match &set_aside {
            Some(aside) if !database.exists() => std::fs::rename(aside, &database).is_ok(),
            _ => set_aside.is_none(),
        };
        let kept = if back {
            String::new()
        } else {
            set_aside.as_ref().map(|a| format!("; the old database is kept as {}", a.display())).unwrap_or_default()
        };
        return Err(match e.kind() {
            std::io::ErrorKind::AlreadyExists => AppError::conflict(
                "restore.in_use",
                format!("{} appeared during the restore (a server started?): stop the server and restore again{kept}", database.display()),
            ),
            _ => AppError::internal("restore.failed", format!("placing {}: {e}{kept}", database.display())),
        });
    }
    Ok(RestoreOutcome { database, set_aside, verified })
}

/// Renames the data directory's database aside (never deleting it), once it is out of
/// service: its write-ahead log folded in, and no process holding it (`restore.in_use`).
/// A file SQLite cannot read at all (a damaged database, the reason to restore) is renamed
/// aside as it is when no write-ahead log or shared-memory file shows it in use.
fn set_aside_database(database: &Path) -> Result<PathBuf, AppError> {
    let in_use = || {
        AppError::conflict(
            "restore.in_use",
            format!(
                "{} is in use (a server has it open, or its write-ahead log is left without it): stop the server first",
                database.display()
            ),
        )
    };
    if !database.exists() {
        // A write-ahead log without its database would be read into the restored file.
        return Err(in_use());
    }
    match take_out_of_service(database) {
        Ok(true) => {}
        Ok(false) => return Err(in_use()),
        Err(_) if !side_file(database, "-wal").exists() && !side_file(database, "-shm").exists() => {}
        Err(e) => return Err(AppError::internal("restore.failed", format!("{}: {e}", database.display()))),
    }
    let aside = aside_name(database);
    std::fs::rename(database, &aside)
        .map_err(|e| AppError::internal("restore.failed", format!("renaming {} aside: {e}", database.display())))?;
    Ok(aside)
}

/// Refuses a backup written into the data directory under the database's name or one of
/// its companions (`yibao.db-wal`, `-shm`, `-journal`): SQLite would read or delete it as
/// part of the live database.
fn refuse_inside(data_dir: &Path, out: &Path) -> Result<(), AppError> {
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let same_dir = match (std::fs::canonicalize(parent), std::fs::canonicalize(data_dir)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if same_dir && name.starts_with(DATABASE_FILE) {
        return Err(AppError::unprocessable(
            "backup.inside_data_dir",
            format!("{} would be taken for part of the live database: write the backup outside {}", out.display(), data_dir.display()),
        ));
    }
    Ok(())
}

fn exists(out: &Path) -> AppError {
    AppError::conflict("backup.exists", format!("{} already exists; a backup never writes over a file", out.display()))
}

/// A hidden name beside `path`, unique to this process, for a file being written.
fn partial_name(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{what}", std::process::id()))
}

/// `yibao.db.before-restore-20261205T061500Z` (with `-2`, `-3`… if taken).
fn aside_name(database: &Path) -> PathBuf {
    let now = time::OffsetDateTime::now_utc();
    let stamp =
        format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", now.year(), u8::from(now.month()), now.day(), now.hour(), now.minute(), now.second());
    let base = format!("{DATABASE_FILE}.before-restore-{stamp}");
    let mut aside = database.with_file_name(&base);
    let mut n = 2;
    while aside.exists() {
        aside = database.with_file_name(format!("{base}-{n}"));
        n += 1;
    }
    aside
}

/// Moves the whole file `partial` to `target`, which must not exist: a hard link (which,
/// unlike a rename, refuses a taken name: `AlreadyExists`) then the temporary name removed,
/// and the directory synced so the new name survives a crash.
fn place(partial: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::hard_link(partial, target)?;
    std::fs::remove_file(partial)?;
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(directory)?.sync_all()
}
