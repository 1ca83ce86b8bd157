//! `yibao audit verify`: walk every region's hash chain (R-SYS-6).

use std::path::Path;



pub fn verify(data_dir: &Path, database_url: Option<&str>) -> Result<(), String> {
    let args = crate::fund::StoreArgs { data_dir: data_dir.to_owned(), database_url: database_url.map(str::to_owned), policy: None };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let verification = runtime.block_on(async {
        let app = crate::fund::open(&args).await?;
        app.verify_audit(&crate::fund::operator(app.policy.region)).await.map_err(|e| e.to_string())
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
