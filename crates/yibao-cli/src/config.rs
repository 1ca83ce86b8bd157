//! `yibao serve`'s configuration file (TOML): every option of the command line by the same
//! name (`data-dir` is `data_dir`), and `[tls]`. A flag or its environment variable wins
//! over the file, and the file over the default, so an operator keeps the settings in one
//! file and overrides one for a run. Unknown keys are refused (a misspelt `lsiten` must
//! not be ignored), and relative paths in the file are taken from the file's directory, not
//! from wherever the server was started.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The limit on a configuration file: it is a page of settings, not data.
const CONFIG_BYTES_MAX: u64 = 64 * 1024;

/// A setting refused: the message with the stable code every configuration error carries.
pub fn invalid(message: impl std::fmt::Display) -> String {
    format!("{message} [config.invalid]")
}

/// Where the SQLite store lives when nothing says otherwise.
pub const DATA_DIR_DEFAULT: &str = "./yibao-data";

/// The demo city's size: the bounds `--demo-insured` takes.
pub const DEMO_INSURED_MIN: u64 = 1_000;
pub const DEMO_INSURED_MAX: u64 = 200_000;

/// A configuration file as written. Every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub policy: Option<PathBuf>,
    pub payment_pack: Option<PathBuf>,
    pub monitoring_pack: Option<PathBuf>,
    pub no_demo: Option<bool>,
    pub demo_insured: Option<u64>,
    pub demo_settled_days: Option<u16>,
    pub public_url: Option<String>,
    pub metrics_listen: Option<SocketAddr>,
    pub log_format: Option<crate::serve::LogFormat>,
    pub shutdown_grace_seconds: Option<u64>,
    pub tls: Option<TlsFiles>,
}

/// A certificate chain and its private key, both PEM files: with them the server speaks
/// HTTPS only.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

impl ConfigFile {
    /// The file at `path`, or an empty one (every key unset) when there is none.
    pub fn read_or_default(path: Option<&Path>) -> Result<ConfigFile, String> {
        path.map_or_else(|| Ok(ConfigFile::default()), ConfigFile::read)
    }

    /// The store a command runs on: one named by a flag or environment variable wins whole
    /// (a `--data-dir` given for one run is not overridden by the file's `database_url`),
    /// then the file's, then `./yibao-data`. A file naming both stores is refused.
    pub fn store(&self, database_url: Option<String>, data_dir: Option<PathBuf>) -> Result<yibao_app::StoreLocation, String> {
        use yibao_app::StoreLocation;
        if self.database_url.is_some() && self.data_dir.is_some() {
            return Err(invalid("the configuration file names both database_url and data_dir: a server runs on one store"));
        }
        Ok(match (database_url, data_dir) {
            (Some(url), _) => StoreLocation::Url(url),
            (None, Some(dir)) => StoreLocation::DataDir(dir),
            (None, None) => match (&self.database_url, &self.data_dir) {
                (Some(url), _) => StoreLocation::Url(url.clone()),
                (None, dir) => StoreLocation::DataDir(dir.clone().unwrap_or_else(|| PathBuf::from(DATA_DIR_DEFAULT))),
            },
        })
    }

    /// Reads and parses the file at `path`, its relative paths made relative to the file's
    /// directory. The error names the file and, for a bad key or value, its line.
    pub fn read(path: &Path) -> Result<ConfigFile, String> {
        let file = std::fs::File::open(path).map_err(|e| invalid(format!("the configuration file {}: {e}", path.display())))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, CONFIG_BYTES_MAX + 1), &mut text)
            .map_err(|e| invalid(format!("the configuration file {}: {e}", path.display())))?;
        if text.len() as u64 > CONFIG_BYTES_MAX {
            return Err(invalid(format!("the configuration file {} is over {} KiB", path.display(), CONFIG_BYTES_MAX / 1024)));
        }
        let mut config: ConfigFile =
            toml::from_str(&text).map_err(|e| invalid(format!("the configuration file {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let relative_to_file = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        config.data_dir.as_mut().map(relative_to_file);
        config.policy.as_mut().map(relative_to_file);
        config.payment_pack.as_mut().map(relative_to_file);
        config.monitoring_pack.as_mut().map(relative_to_file);
        if let Some(tls) = config.tls.as_mut() {
            relative_to_file(&mut tls.certificate);
            relative_to_file(&mut tls.private_key);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("yibao-config-{}-{}", std::process::id(), text.len()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("yibao.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn relative_paths_are_taken_from_the_files_directory() {
        let (dir, path) = write(
            "listen = \"0.0.0.0:8443\"\ndata_dir = \"data\"\npolicy = \"/etc/yibao/city.toml\"\npayment_pack = \"packs/payment.toml\"\nmonitoring_pack = \"packs/monitoring.toml\"\nlog_format = \"json\"\n[tls]\ncertificate = \"tls/cert.pem\"\nprivate_key = \"tls/key.pem\"\n",
        );
        let config = ConfigFile::read(&path).expect("read");
        assert_eq!(config.listen, Some("0.0.0.0:8443".parse().expect("address")));
        assert_eq!(config.data_dir, Some(dir.join("data")));
        assert_eq!(config.policy, Some(PathBuf::from("/etc/yibao/city.toml")));
        assert_eq!(config.payment_pack, Some(dir.join("packs/payment.toml")));
        assert_eq!(config.monitoring_pack, Some(dir.join("packs/monitoring.toml")));
        assert_eq!(config.log_format, Some(crate::serve::LogFormat::Json));
        assert_eq!(config.tls, Some(TlsFiles { certificate: dir.join("tls/cert.pem"), private_key: dir.join("tls/key.pem") }));
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_name_and_line() {
        let (_, path) = write("listen = \"127.0.0.1:8080\"\nlsiten = \"127.0.0.1:9\"\n");
        let error = ConfigFile::read(&path).expect_err("a misspelt key");
        assert!(error.contains("lsiten") && error.contains("line 2") && error.contains("yibao.toml"), "{error}");
        assert!(error.ends_with("[config.invalid]"), "a stable code: {error}");
    }
}
