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
            StoreLocation::Url(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let user = url[scheme + 3..at].split(':').next().unwrap_or_default();
                    format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
                }
                _ => url.clone(),
            },
        }
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
