//! `yibao audit verify`: walk every region's hash chain (R-SYS-6).

use std::path::Path;

use yibao_store_sqlite::SqliteStore;

/// The SQLite database file inside a data directory.
pub const DATABASE_FILE: &str = "yibao.db";

pub fn verify(data_dir: &Path, database_url: Option<&str>) -> Result<(), String> {
    if let Some(url) = database_url {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        let verification = runtime.block_on(async {
            let store = yibao_store_postgres::PostgresStore::connect(url).await.map_err(|e| e.to_string())?;
            yibao_store::verify_audit(&store).await.map_err(|e| e.to_string())
        })?;
        return report(&verification);
    }
    let path = data_dir.join(DATABASE_FILE);
    if !path.exists() {
        return Err(format!(
            "{}: no database here [store.not_found]; start the platform once to create it, or pass --data-dir",
            path.display()
        ));
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let verification = runtime.block_on(async {
        let store = SqliteStore::open(&path).await.map_err(|e| format!("{}: {e}", path.display()))?;
        yibao_store::verify_audit(&store).await.map_err(|e| e.to_string())
    })?;
    report(&verification)
}

fn report(verification: &yibao_store::AuditVerification) -> Result<(), String> {
    if verification.is_intact() {
        println!("audit log intact: {} entries in {} region chains, every hash recomputed", verification.entries, verification.regions);
        Ok(())
    } else {
        Err(format!(
            "audit log BROKEN [audit.broken]: {} of {} entries fail\n{}",
            verification.breaks.len(),
            verification.entries,
            verification.breaks.join("\n")
        ))
    }
}
