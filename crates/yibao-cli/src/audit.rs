//! `yibao audit verify` and `yibao audit anchor`: walk every region's hash chain (R-SYS-6),
//! and record or check the chains' ends outside the system.

use std::path::Path;

/// Which store to read: the fund commands' (`--config`, `--data-dir`, `--database-url`).
pub type AuditStore = crate::fund::StoreArgs;

/// An anchor file is small: one line per region. Anything larger is not one.
const ANCHOR_FILE_LIMIT_BYTES: u64 = 16 * 1024 * 1024;

fn run<T>(store: &AuditStore, work: impl AsyncFnOnce(&yibao_app::App) -> Result<T, String>) -> Result<T, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let app = crate::fund::open(store).await?;
        work(&app).await
    })
}

pub fn verify(store: &AuditStore, anchor: Option<&Path>) -> Result<(), String> {
    let anchor = anchor.map(read_anchor).transpose()?;
    let verification = run(store, async |app| {
        app.verify_audit(&crate::fund::operator(app.policy().region), anchor.as_ref()).await.map_err(|e| e.to_string())
    })?;
    let anchored = anchor.map(|a| a.regions.len());
    println!("{}", audit_report(&verification, anchored)?);
    Ok(())
}

/// `yibao audit verify`'s report: one line when the log is intact, else every break (also
/// printed for a backup's copy). `anchored`: how many anchored entries were checked.
pub(crate) fn audit_report(verification: &yibao_app::AuditVerification, anchored: Option<usize>) -> Result<String, String> {
    if verification.is_intact() {
        let against = anchored.map_or(String::new(), |n| format!(", and every one of the {n} anchored entries is unchanged"));
        Ok(format!(
            "audit log intact: {} entries in {} region chains, every hash recomputed{against}",
            verification.entries, verification.regions
        ))
    } else {
        Err(format!(
            "audit log BROKEN [audit.broken]: {} breaks in {} entries\n{}",
            verification.breaks.len(),
            verification.entries,
            verification.breaks.join("\n")
        ))
    }
}

pub fn anchor(store: &AuditStore, out: Option<&Path>) -> Result<(), String> {
    let anchor = run(store, async |app| app.audit_anchor(&crate::fund::operator(app.policy().region)).await.map_err(|e| e.to_string()))?;
    let text = serde_json::to_string_pretty(&anchor).map_err(|e| e.to_string())? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {} [audit.anchor_not_written]: {e}", path.display()))?;
            eprintln!("anchored {} region chains in {}", anchor.regions.len(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn read_anchor(path: &Path) -> Result<yibao_store::AuditAnchor, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("cannot read the anchor {} [audit.bad_anchor]: {e}", path.display()))?.len();
    if size > ANCHOR_FILE_LIMIT_BYTES {
        return Err(format!("{} is {size} bytes: not an anchor (at most {ANCHOR_FILE_LIMIT_BYTES}) [audit.bad_anchor]", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the anchor {} [audit.bad_anchor]: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not an anchor written by `yibao audit anchor` [audit.bad_anchor]: {e}", path.display()))
}
