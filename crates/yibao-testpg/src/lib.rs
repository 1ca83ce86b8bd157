//! Throwaway, real PostgreSQL servers for tests.
//!
//! [`TestPostgres::start`] gives each caller its own PostgreSQL server, running from a
//! fresh directory under `/tmp` on a free port of `127.0.0.1`. Dropping the handle stops
//! the server (`pg_ctl -m immediate stop`) and removes the directory.
//!
//! That server runs with `fsync=off`, `synchronous_commit=off` and `full_page_writes=off`
//! ([`Durability::Off`]): tests do not need to survive a power cut, and run faster.
//! [`TestPostgres::start_durable`] starts one with PostgreSQL's durable settings
//! ([`Durability::Durable`]: a commit returns only once its WAL is on disk), for
//! benchmarks whose figures must include the cost of durability.
//!
//! If the environment variable [`URL_ENV`] (`YIBAO_TEST_DATABASE_URL`) is set and not
//! empty, nothing is started: the handle just carries that URL and dropping it does
//! nothing.
//!
//! The server binaries (`initdb`, `pg_ctl`) are looked up on `PATH`, then under
//! `/usr/lib/postgresql/<version>/bin/` (highest version first). If they are missing,
//! [`TestPostgres::start`] returns an error telling how to install them; callers are
//! expected to fail the test with it, never to skip.
//!
//! PostgreSQL refuses to run as root, so when the current user is root the binaries run
//! as the `postgres` OS user through `runuser` (the user is created with `useradd` if it
//! does not exist), and the directory is handed over to that user.
//!
//! For point-in-time recovery tests, [`TestPostgres::start_archiving`] starts a server that
//! archives its WAL, [`TestPostgres::base_backup`] runs `pg_basebackup` against it, and
//! [`TestPostgres::start_recovered`] starts another from that base backup, replaying the
//! archive up to a time.
//!
//! For failover tests, [`TestPostgres::start_primary`] starts a durable server that streams
//! its WAL, [`TestPostgres::start_standby`] starts a hot standby following it,
//! [`TestPostgres::require_synchronous`] makes every commit wait for that standby,
//! [`TestPostgres::kill`] kills the primary's postmaster with SIGKILL (the machine lost),
//! and [`TestPostgres::promote`] makes the standby the new primary.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable naming an existing database to use instead of starting one.
pub const URL_ENV: &str = "YIBAO_TEST_DATABASE_URL";

/// OS user the server runs as when the current user is root.
const PG_OS_USER: &str = "postgres";

/// How many ports to try before giving up on starting the server.
const START_ATTEMPTS: usize = 5;

/// How many lines of the server log to quote in an error.
const LOG_TAIL_LINES: usize = 30;

/// Makes directory names unique among the handles of one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How a started server treats the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `fsync=off`, `synchronous_commit=off`, `full_page_writes=off`: nothing waits for the
    /// disk, and a crash of the machine may lose or corrupt data. For tests.
    Off,
    /// `fsync=on`, `synchronous_commit=on`, `full_page_writes=on` (PostgreSQL's defaults,
    /// named explicitly): a commit returns once its WAL has been flushed to disk.
    Durable,
}

impl Durability {
    /// The server settings, as `postgres -c` options.
    fn options(self) -> &'static str {
        match self {
            Durability::Off => "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            Durability::Durable => "-c fsync=on -c synchronous_commit=on -c full_page_writes=on",
        }
    }

    /// The settings in words, for reports.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Durability::Off => "fsync=off, synchronous_commit=off, full_page_writes=off",
            Durability::Durable => "fsync=on, synchronous_commit=on, full_page_writes=on",
        }
    }
}

/// A PostgreSQL server for one test; see the [crate documentation](crate).
#[derive(Debug)]
pub struct TestPostgres {
    url: String,
    /// `None` when the URL came from [`URL_ENV`] and nothing was started.
    server: Option<Server>,
}

/// A server this crate started and must stop.
#[derive(Debug)]
struct Server {
    /// Temporary directory holding `data/`, `log` and the Unix socket.
    dir: PathBuf,
    pg_ctl: PathBuf,
    /// Run commands through `runuser -u postgres --` (we are root).
    as_root: bool,
    /// Set once the server has been started, so drop knows to stop it.
    running: bool,
    durability: Durability,
    /// More `-c` settings, after the durability's.
    extra_options: String,
    /// The port it listens on, once started.
    port: Option<u16>,
}

/// Where a new server's data directory comes from.
enum Data {
    /// `initdb`: an empty cluster.
    Initdb,
    /// A base backup taken by [`TestPostgres::base_backup`], moved in and recovered.
    Recover(PathBuf),
    /// A base backup written with its standby settings (`pg_basebackup -R`), moved in and
    /// started as a standby.
    Standby(PathBuf),
}

impl TestPostgres {
    /// Starts a fresh PostgreSQL server, or returns a handle to the database named by
    /// [`URL_ENV`] if that variable is set.
    ///
    /// # Errors
    ///
    /// A human-readable message if the PostgreSQL binaries are missing, or if the
    /// server could not be initialised or started (with the end of the server log).
    pub fn start() -> Result<Self, String> {
        Self::from_env()?.map_or_else(|| Self::start_server_with(Durability::Off), Ok)
    }

    /// As [`TestPostgres::start`], but a server started here is durable
    /// ([`Durability::Durable`]). A database named by [`URL_ENV`] is used as it is.
    ///
    /// # Errors
    ///
    /// As for [`TestPostgres::start`].
    pub fn start_durable() -> Result<Self, String> {
        Self::from_env()?.map_or_else(|| Self::start_server_with(Durability::Durable), Ok)
    }

    /// A handle on the database named by [`URL_ENV`], if set and not empty.
    fn from_env() -> Result<Option<Self>, String> {
        let Some(url) = std::env::var_os(URL_ENV) else { return Ok(None) };
        let url = url.into_string().map_err(|_| format!("{URL_ENV} is not valid UTF-8"))?;
        let url = url.trim();
        Ok((!url.is_empty()).then(|| Self { url: url.to_owned(), server: None }))
    }

    /// Starts a fresh PostgreSQL server ([`Durability::Off`]), ignoring [`URL_ENV`].
    ///
    /// # Errors
    ///
    /// As for [`TestPostgres::start`].
    pub fn start_server() -> Result<Self, String> {
        Self::start_server_with(Durability::Off)
    }

    /// Starts a fresh PostgreSQL server with the given durability, ignoring [`URL_ENV`].
    ///
    /// # Errors
    ///
    /// As for [`TestPostgres::start`].
    pub fn start_server_with(durability: Durability) -> Result<Self, String> {
        Self::start_in(durability, String::new(), Data::Initdb)
    }

    /// Starts a fresh server ([`Durability::Off`], ignoring [`URL_ENV`]: it must be this
    /// crate's own) that archives every finished WAL segment into [`Self::archive_dir`],
    /// for point-in-time recovery tests.
    ///
    /// # Errors
    ///
    /// As for [`TestPostgres::start`].
    pub fn start_archiving() -> Result<Self, String> {
        // The archiver runs in `data/`: `../archive` is the directory beside it, and a
        // relative path needs no quoting of the temporary directory's name.
        let options = "-c wal_level=replica -c archive_mode=on -c archive_command='test ! -f ../archive/%f && cp %p ../archive/%f'";
        Self::start_in(Durability::Off, options.to_owned(), Data::Initdb)
    }

    /// Starts a server from `base` (a directory written by [`Self::base_backup`], moved
    /// here) that replays the WAL archived in `archive` up to `target_time` (a timestamp
    /// with its time zone, as `recovery_target_time` takes it), then ends recovery and
    /// accepts writes. Returns once the recovery has ended.
    ///
    /// # Errors
    ///
    /// As for [`TestPostgres::start`], and when `base` cannot be moved in.
    pub fn start_recovered(base: &Path, archive: &Path, target_time: &str) -> Result<Self, String> {
        if target_time.contains(['\'', '"', '\\']) || archive.to_string_lossy().contains(['\'', '"', '\\', ' ']) {
            return Err(format!("quotes or spaces in {target_time:?} or {}", archive.display()));
        }
        let options = format!(
            "-c restore_command='cp {}/%f %p' -c \"recovery_target_time={target_time}\" -c recovery_target_action=promote -c hot_standby=off",
            archive.display()
        );
        let recovered = Self::start_in(Durability::Off, options, Data::Recover(base.to_owned()))?;
        // `pg_ctl -w` returns once the server is up, which may be while it still replays
        // (it refuses connections then, with hot_standby off): wait for the promotion.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            match recovered.psql("SELECT pg_is_in_recovery()") {
                Ok(answer) if answer == "f" => return Ok(recovered),
                _ if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(100)),
                answer => {
                    let log = recovered.own_server()?.log_tail();
                    return Err(format!("recovery to {target_time} did not end within two minutes ({answer:?}):\n{log}"));
                }
            }
        }
    }

    /// Starts a fresh durable server ([`Durability::Durable`], ignoring [`URL_ENV`]) that
    /// streams its WAL to standbys ([`Self::start_standby`]).
    ///
    /// # Errors
    ///
    /// As for [`TestPostgres::start`].
    pub fn start_primary() -> Result<Self, String> {
        let options = "-c wal_level=replica -c max_wal_senders=4 -c wal_keep_size=256MB -c hot_standby=on";
        Self::start_in(Durability::Durable, options.to_owned(), Data::Initdb)
    }

    /// Starts a hot standby of this server, named `name` (its `application_name`, which
    /// `synchronous_standby_names` names): a base backup streamed from this server with its
    /// standby settings, started durable, following this server's WAL. Returns once this
    /// server sees it streaming.
    ///
    /// # Errors
    ///
    /// When this handle started no server, `name` is not a plain identifier, or the standby
    /// does not start or stream within two minutes.
    pub fn start_standby(&self, name: &str) -> Result<Self, String> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(format!("a standby's name is lower-case letters, digits and '_': {name:?}"));
        }
        let server = self.own_server()?;
        let target = server.dir.join(format!("standby-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
        let mut cmd = server.client("pg_basebackup")?;
        cmd.arg("-D").arg(&target).args(["-c", "fast", "-X", "stream", "-R"]);
        let out = run(&mut cmd)?;
        if !out.status.success() {
            return Err(format!("pg_basebackup -R failed ({}): {}", out.status, output_text(&out)));
        }
        // The connection `-R` wrote, with the standby's name: a later line wins.
        let conninfo = format!("\nprimary_conninfo = 'host=127.0.0.1 port={} user={PG_OS_USER} application_name={name}'\n", server.port()?);
        // Appending keeps the file's owner (the server's user); we are that user or root.
        let auto_conf = target.join("postgresql.auto.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&auto_conf)
            .and_then(|mut file| std::io::Write::write_all(&mut file, conninfo.as_bytes()))
            .map_err(|e| format!("cannot name the standby in {}: {e}", auto_conf.display()))?;
        let standby = Self::start_in(Durability::Durable, "-c hot_standby=on".to_owned(), Data::Standby(target))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let streaming = format!("SELECT count(*) FROM pg_stat_replication WHERE application_name = '{name}' AND state = 'streaming'");
        while self.psql(&streaming)? != "1" {
            if std::time::Instant::now() > deadline {
                return Err(format!("the standby {name} is not streaming after two minutes:\n{}", standby.own_server()?.log_tail()));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(standby)
    }

    /// Makes every commit on this server wait until the standby `name` has its WAL on disk
    /// (`synchronous_standby_names`, reloaded): an acknowledged commit survives the loss of
    /// this server. Returns once the standby is reported synchronous.
    ///
    /// # Errors
    ///
    /// When `psql` fails, or the standby is not synchronous within a minute.
    pub fn require_synchronous(&self, name: &str) -> Result<(), String> {
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(format!("a standby's name is lower-case letters, digits and '_': {name:?}"));
        }
        self.psql(&format!("ALTER SYSTEM SET synchronous_standby_names = '{name}'"))?;
        self.psql("SELECT pg_reload_conf()")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let sync = format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'");
        while self.psql(&sync)? != "sync" {
            if std::time::Instant::now() > deadline {
                return Err(format!("{name} is not a synchronous standby after a minute"));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    /// Kills this server's postmaster with SIGKILL, as the loss of its machine would, and
    /// waits until it is gone; its backends end on their own when they see it gone.
    ///
    /// # Errors
    ///
    /// When this handle started no server, or its process cannot be found or killed.
    pub fn kill(&self) -> Result<(), String> {
        let server = self.own_server()?;
        let pid_file = server.data_dir().join("postmaster.pid");
        let text = fs::read_to_string(&pid_file).map_err(|e| format!("{}: {e}", pid_file.display()))?;
        let pid = text.lines().next().unwrap_or_default().trim().to_owned();
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("no process id in {}", pid_file.display()));
        }
        let out = run(Command::new("kill").args(["-KILL", &pid]))?;
        if !out.status.success() {
            return Err(format!("kill -KILL {pid}: {}", output_text(&out)));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while Path::new(&format!("/proc/{pid}")).exists() {
            if std::time::Instant::now() > deadline {
                return Err(format!("process {pid} still runs 30 s after SIGKILL"));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(())
    }

    /// Promotes this standby to a primary that accepts writes (`pg_promote`, waiting for it).
    ///
    /// # Errors
    ///
    /// When `psql` fails or the promotion does not end within a minute.
    pub fn promote(&self) -> Result<(), String> {
        match self.psql("SELECT pg_promote(true, 60)")?.as_str() {
            "t" => Ok(()),
            other => Err(format!("pg_promote answered {other:?}:\n{}", self.own_server()?.log_tail())),
        }
    }

    fn start_in(durability: Durability, extra_options: String, data: Data) -> Result<Self, String> {
        let bins = find_binaries()?;
        let as_root = running_as_root();
        let owner = if as_root { Some(ensure_postgres_user()?) } else { None };

        let dir = make_unique_dir()?;
        // From here on, dropping `server` removes the directory (and stops the server
        // once it runs), whatever goes wrong.
        let mut server = Server { dir, pg_ctl: bins.pg_ctl.clone(), as_root, running: false, durability, extra_options, port: None };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&server.dir, Some(uid), Some(gid))
                .map_err(|e| format!("cannot hand {} over to the {PG_OS_USER} user: {e}", server.dir.display()))?;
        }

        match data {
            Data::Initdb => {
                server.initdb(&bins.initdb)?;
                server.make_dir("archive")?;
            }
            Data::Standby(base) => {
                fs::rename(&base, server.data_dir())
                    .map_err(|e| format!("cannot move the base backup {} into {}: {e}", base.display(), server.dir.display()))?;
            }
            Data::Recover(base) => {
                fs::rename(&base, server.data_dir())
                    .map_err(|e| format!("cannot move the base backup {} into {}: {e}", base.display(), server.dir.display()))?;
                // recovery.signal: recover from the archive, then end recovery (not a standby).
                let out = run(server.command(Path::new("touch")).arg(server.data_dir().join("recovery.signal")))?;
                if !out.status.success() {
                    return Err(format!("cannot write recovery.signal: {}", output_text(&out)));
                }
            }
        }

        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port()?;
            match server.pg_ctl_start(port) {
                Ok(()) => {
                    server.port = Some(port);
                    return Ok(Self { url: format!("postgres://{PG_OS_USER}@127.0.0.1:{port}/postgres"), server: Some(server) });
                }
                Err(e) => {
                    let _ = writeln!(failures, "attempt {attempt} (port {port}): {e}");
                }
            }
        }
        Err(format!(
            "could not start PostgreSQL in {} after {START_ATTEMPTS} attempts:\n{failures}{}",
            server.dir.display(),
            server.log_tail()
        ))
    }

    /// Where a server of [`Self::start_archiving`] archives its WAL.
    #[must_use]
    pub fn archive_dir(&self) -> Option<PathBuf> {
        self.server.as_ref().map(|s| s.dir.join("archive"))
    }

    /// Takes a base backup of this server with `pg_basebackup` (a fast checkpoint, the WAL
    /// it needs streamed in) into a new directory beside its data; returns the directory.
    ///
    /// # Errors
    ///
    /// When this handle started no server, or `pg_basebackup` fails.
    pub fn base_backup(&self) -> Result<PathBuf, String> {
        let server = self.own_server()?;
        let target = server.dir.join(format!("base-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
        let mut cmd = server.client("pg_basebackup")?;
        cmd.arg("-D").arg(&target).args(["-c", "fast", "-X", "stream"]);
        let out = run(&mut cmd)?;
        if out.status.success() { Ok(target) } else { Err(format!("pg_basebackup failed ({}): {}", out.status, output_text(&out))) }
    }

    /// Runs `sql` with `psql` on this server; its output, unaligned, without headers.
    ///
    /// # Errors
    ///
    /// When this handle started no server, or `psql` fails.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_running(&["-c", sql])
    }

    /// Runs the SQL file at `path` (a `pg_dump` to load) in the `postgres` database,
    /// stopping at the first error. The file must be readable by the server's OS user.
    ///
    /// # Errors
    ///
    /// When this handle started no server, or `psql` fails.
    pub fn psql_file(&self, path: &Path) -> Result<String, String> {
        self.psql_running(&["-f", path.to_str().ok_or("a file path in UTF-8")?])
    }

    /// `psql` on this server's `postgres` database with `input` (`-c SQL` or `-f FILE`).
    fn psql_running(&self, input: &[&str]) -> Result<String, String> {
        let server = self.own_server()?;
        let mut cmd = server.client("psql")?;
        cmd.args(["-d", "postgres", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]).args(input);
        let out = run(&mut cmd)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!("psql failed ({}): {}", out.status, output_text(&out)))
        }
    }

    /// Ends the current WAL segment and waits (at most a minute) until the archiver has
    /// copied it into [`Self::archive_dir`]: every commit so far is then in the archive.
    ///
    /// # Errors
    ///
    /// When this handle started no archiving server, or the segment is not archived in time.
    pub fn archive_current_wal(&self) -> Result<(), String> {
        let segment = self.psql("SELECT pg_walfile_name(pg_switch_wal())")?;
        let archived = self.archive_dir().ok_or("no server of this handle")?.join(&segment);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if archived.is_file() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(format!("{segment} was not archived within a minute:\n{}", self.own_server()?.log_tail()))
    }

    fn own_server(&self) -> Result<&Server, String> {
        self.server.as_ref().ok_or_else(|| format!("this handle uses {URL_ENV}; it started no server"))
    }

    /// Connection URL, e.g. `postgres://postgres@127.0.0.1:54321/postgres`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The durability of a server started by this handle, or `None` when the URL came
    /// from [`URL_ENV`] (whatever that server is configured with).
    #[must_use]
    pub fn durability(&self) -> Option<Durability> {
        self.server.as_ref().map(|s| s.durability)
    }

    /// Temporary directory of a server started by this handle (holding `data/`, `log`
    /// and the Unix socket), or `None` when the URL came from [`URL_ENV`].
    #[must_use]
    pub fn dir(&self) -> Option<&Path> {
        self.server.as_ref().map(|s| s.dir.as_path())
    }
}

impl Server {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Another program of `pg_ctl`'s installation: beside it, or beside the file it links
    /// to (a `PATH` may hold links to `initdb` and `pg_ctl` alone).
    fn tool(&self, name: &str) -> PathBuf {
        let beside = self.pg_ctl.with_file_name(name);
        if beside.is_file() {
            return beside;
        }
        fs::canonicalize(&self.pg_ctl).map_or(beside, |real| real.with_file_name(name))
    }

    /// A client program of the installation (`psql`, `pg_basebackup`) connected to this
    /// server over loopback TCP as the server's user.
    fn client(&self, name: &str) -> Result<Command, String> {
        let mut cmd = self.command(&self.tool(name));
        cmd.args(["-h", "127.0.0.1", "-p", &self.port()?.to_string(), "-U", PG_OS_USER]);
        Ok(cmd)
    }

    fn port(&self) -> Result<u16, String> {
        self.port.ok_or_else(|| "the server is not running".to_owned())
    }

    /// A directory beside `data/`, owned by the user the server runs as.
    fn make_dir(&self, name: &str) -> Result<(), String> {
        let out = run(self.command(Path::new("mkdir")).args(["-m", "0700"]).arg(self.dir.join(name)))?;
        if out.status.success() { Ok(()) } else { Err(format!("cannot create {name}: {}", output_text(&out))) }
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// A command running `program` as the right OS user, from the temporary directory
    /// (the `postgres` user may not be allowed into our working directory).
    fn command(&self, program: &Path) -> Command {
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", PG_OS_USER, "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir);
        // Keep the caller's libpq settings away from the server tools.
        for var in ["PGDATA", "PGPORT", "PGHOST", "PGOPTIONS", "PGUSER", "PGDATABASE"] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn initdb(&self, initdb: &Path) -> Result<(), String> {
        let mut cmd = self.command(initdb);
        cmd.arg("-D").arg(self.data_dir()).args(["-N", "-U", PG_OS_USER, "--auth=trust"]).args(["-E", "UTF8", "--locale=C"]);
        let out = run(&mut cmd)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("initdb failed ({}) in {}:\n{}", out.status, self.dir.display(), output_text(&out)))
        }
    }

    fn pg_ctl_start(&mut self, port: u16) -> Result<(), String> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} {} {}",
            self.dir.display(),
            self.durability.options(),
            self.extra_options
        );
        let mut cmd = self.command(&self.pg_ctl);
        cmd.arg("-D").arg(self.data_dir()).arg("-l").arg(self.log_file()).arg("-o").arg(options).args(["-w", "-t", "60", "start"]);
        // Until proven otherwise, assume something may be running so drop stops it.
        self.running = true;
        let out = run(&mut cmd)?;
        if out.status.success() {
            Ok(())
        } else {
            // A server that timed out might still be coming up; make sure it is gone
            // before trying another port.
            self.stop();
            Err(format!("pg_ctl start failed ({}): {}", out.status, output_text(&out).trim()))
        }
    }

    /// Stops the server if it may be running; errors are ignored (nothing to do then).
    fn stop(&mut self) {
        if !self.running {
            return;
        }
        let mut cmd = self.command(&self.pg_ctl);
        cmd.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "stop"]);
        let _ = run(&mut cmd);
        self.running = false;
    }

    /// Last lines of the server log, formatted for an error message.
    fn log_tail(&self) -> String {
        let path = self.log_file();
        match fs::read_to_string(&path) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                let start = lines.len().saturating_sub(LOG_TAIL_LINES);
                format!("--- last lines of {} ---\n{}", path.display(), lines[start..].join("\n"))
            }
            Err(e) => format!("(no server log at {}: {e})", path.display()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Paths of the PostgreSQL server tools.
#[derive(Debug, Clone)]
struct Binaries {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

/// Finds `initdb` and `pg_ctl`: on `PATH` first, then in the highest-versioned
/// `/usr/lib/postgresql/<version>/bin/`.
fn find_binaries() -> Result<Binaries, String> {
    let from_dir = |dir: &Path| {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        (initdb.is_file() && pg_ctl.is_file()).then_some(Binaries { initdb, pg_ctl })
    };

    if let Some(path) = std::env::var_os("PATH") {
        // Both tools from the same directory, so their versions match.
        if let Some(found) = std::env::split_paths(&path).find_map(|d| from_dir(&d)) {
            return Ok(found);
        }
    }

    let mut versions: Vec<(Vec<u64>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = parse_version(name.to_str()?)?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    if let Some(found) = versions.iter().rev().find_map(|(_, dir)| from_dir(dir)) {
        return Ok(found);
    }

    Err(format!(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH nor under \
         /usr/lib/postgresql/*/bin/; install them (e.g. `apt-get install postgresql`) \
         or set {URL_ENV} to an existing database"
    ))
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u64>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Whether the effective user is root, asked of `id -u` (falling back to `$USER`).
fn running_as_root() -> bool {
    match Command::new("id").arg("-u").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim() == "0",
        _ => std::env::var("USER").is_ok_and(|u| u == "root"),
    }
}

/// Uid and gid of the `postgres` OS user, creating the user if needed.
fn ensure_postgres_user() -> Result<(u32, u32), String> {
    if lookup_id("-u").is_err() {
        let out = run(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--user-group",
            "--shell",
            "/usr/sbin/nologin",
            PG_OS_USER,
        ]))?;
        // Status 9: created meanwhile by a concurrent caller.
        if !out.status.success() && out.status.code() != Some(9) {
            return Err(format!(
                "running as root, the `{PG_OS_USER}` OS user does not exist and \
                 `useradd` failed ({}): {}",
                out.status,
                output_text(&out).trim()
            ));
        }
    }
    Ok((lookup_id("-u")?, lookup_id("-g")?))
}

/// `id <flag> postgres` as a number.
fn lookup_id(flag: &str) -> Result<u32, String> {
    let out = run(Command::new("id").args([flag, PG_OS_USER]))?;
    if !out.status.success() {
        return Err(format!("`id {flag} {PG_OS_USER}` failed: {}", output_text(&out).trim()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().map_err(|e| format!("`id {flag} {PG_OS_USER}` printed {text:?}: {e}"))
}

/// Creates a new, private directory under `/tmp`, unique to this process and call.
fn make_unique_dir() -> Result<PathBuf, String> {
    let pid = std::process::id();
    let mut last_error = None;
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = PathBuf::from(format!("/tmp/yibao-testpg-{pid}-{n}-{nanos}"));
        // `create_dir` fails if the path exists, so the directory is ours alone.
        match fs::create_dir(&dir) {
            Ok(()) => {
                use std::os::unix::fs::PermissionsExt as _;
                let perms = fs::Permissions::from_mode(0o700);
                if let Err(e) = fs::set_permissions(&dir, perms) {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(format!("cannot restrict {}: {e}", dir.display()));
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!("cannot create a unique directory under /tmp: {}", last_error.map_or_else(String::new, |e| e.to_string())))
}

/// A port on 127.0.0.1 that was free a moment ago (the caller retries if it is taken
/// meanwhile).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0 to find a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("cannot read the port of a bound socket: {e}"))
}

/// Runs a command to completion, describing a failure to launch it.
fn run(cmd: &mut Command) -> Result<Output, String> {
    cmd.output().map_err(|e| {
        let args: Vec<&OsStr> = cmd.get_args().collect();
        format!(
            "cannot run {} {}: {e}",
            cmd.get_program().to_string_lossy(),
            args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
        )
    })
}

/// Stdout and stderr of a finished command, for error messages.
fn output_text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_parse_and_order_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("common"), None);
        assert!(parse_version("10") > parse_version("9.6"));
    }
}
