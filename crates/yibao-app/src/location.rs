//! Where the store is: a SQLite data directory (the embedded default) or a PostgreSQL URL,
//! opened into the one [`Backend`] handle every edge and loader uses.

use std::path::PathBuf;

use yibao_store_postgres::PostgresStore;
use yibao_store_sqlite::SqliteStore;

use crate::Backend;

/// The SQLite database file inside a data directory.
pub const DATABASE_FILE: &str = "yibao.db";

/// A store's location, as the command line and the environment give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// A data directory holding [`DATABASE_FILE`].
    DataDir(PathBuf),
    /// A PostgreSQL connection URL.
    Url(String),
}

/// Whether opening may create a new, empty store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Create the data directory and the database when missing (`serve`, `synth`).
    IfMissing,
    /// Refuse a data directory without a database (`fund`, `audit`: nothing to read).
    No,
}

impl StoreLocation {
    /// The location for messages: a URL without its password.
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            StoreLocation::DataDir(dir) => dir.join(DATABASE_FILE).display().to_string(),
            StoreLocation::Url(url) => mask_secrets(url),
        }
    }
}

/// `text` with every database password in it masked, for any message or log line that may
/// quote a connection URL or a configuration line: a URL's user password
/// (`postgres://yibao:***@db/yibao`) and a `password=` parameter (`password=***`).
#[must_use]
pub fn mask_secrets(text: &str) -> String {
    let ends_value = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '&' | '`' | ',' | ';');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme + 3);
        out.push_str(head);
        let end = tail.find(|c: char| ends_value(c) || matches!(c, '/' | '?' | '#')).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@').map(|at| authority.split_at(at)) {
            Some((userinfo, host)) if userinfo.contains(':') => {
                out.push_str(userinfo.split(':').next().unwrap_or_default());
                out.push_str(":***");
                out.push_str(host);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.to_ascii_lowercase().find("password=") {
        let (head, tail) = rest.split_at(at + "password=".len());
        masked.push_str(head);
        let end = tail.find(ends_value).unwrap_or(tail.len());
        if end > 0 {
            masked.push_str("***");
        }
        rest = &tail[end..];
    }
    masked.push_str(rest);
    masked
}

#[cfg(test)]
mod masking {
    use super::mask_secrets;

    #[test]
    fn passwords_in_urls_and_parameters_are_masked() {
        assert_eq!(mask_secrets("postgres://yibao:S3cret@db:5432/yibao"), "postgres://yibao:***@db:5432/yibao");
        assert_eq!(
            mask_secrets("unknown field `databse_url`: databse_url = \"postgres://yibao:S3:c@ret@db/yibao\""),
            "unknown field `databse_url`: databse_url = \"postgres://yibao:***@db/yibao\""
        );
        assert_eq!(mask_secrets("postgres://yibao@h:1/x?sslmode=off&password=S3cret"), "postgres://yibao@h:1/x?sslmode=off&password=***");
        assert_eq!(mask_secrets("host=db PASSWORD=S3cret user=yibao"), "host=db PASSWORD=*** user=yibao");
        assert_eq!(mask_secrets("postgres://postgres@127.0.0.1:5432/postgres"), "postgres://postgres@127.0.0.1:5432/postgres");
        assert_eq!(mask_secrets("no secret here: https://yibao.example/console/"), "no secret here: https://yibao.example/console/");
    }
}

impl Backend {
    /// Opens the store at `location`, applying pending migrations. Errors say where and why
    /// (`[store.not_found]` for a data directory without a database when `create` is No).
    pub async fn open(location: &StoreLocation, create: Create) -> Result<Backend, String> {
        match location {
            StoreLocation::Url(url) => {
                PostgresStore::connect(url).await.map(Backend::Postgres).map_err(|e| format!("{}: {e}", location.display()))
            }
            StoreLocation::DataDir(dir) => {
                let path = dir.join(DATABASE_FILE);
                match create {
                    Create::IfMissing => {
                        std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create the data directory: {e}", dir.display()))?
                    }
                    Create::No if !path.exists() => {
                        return Err(format!(
                            "{}: no database here [store.not_found]; start the platform once to create it, or pass --data-dir",
                            path.display()
                        ));
                    }
                    Create::No => {}
                }
                SqliteStore::open(&path).await.map(Backend::Sqlite).map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        let url = StoreLocation::Url("postgres://yibao:s3cret@db.example:5432/yibao".into());
        assert_eq!(url.display(), "postgres://yibao:***@db.example:5432/yibao");
        assert_eq!(StoreLocation::Url("postgres:///yibao".into()).display(), "postgres:///yibao");
    }
}
