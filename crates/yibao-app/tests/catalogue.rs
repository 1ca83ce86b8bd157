//! Loading the national catalogue through the one use case (`App::load_catalogue`) into a
//! real SQLite store: a dry run writes nothing, a file with one wrong row writes nothing,
//! a good file is proposed and goes in force when a second policy officer approves it, here
//! and, through the store, in another process; a correction replaces a version; only the
//! city's policy officers (and the operator) propose, only another policy officer approves.

use std::sync::Arc;

use time::macros::{date, datetime};
use yibao_app::policy::Policy;
use yibao_app::{App, Backend, Principal};
use yibao_domain::{CatalogueClass, ItemCode, RegionCode};
use yibao_store::Role;

fn policy() -> Policy {
    Policy::from_toml("demo-city.toml", include_str!("../../../policies/demo-city.toml")).expect("the demo pack")
}

fn officer(region: &str, role: Role) -> Principal {
    Principal::Staff { username: "policy.li".into(), role, region: RegionCode::parse(region).expect("region") }
}

const HEADER: &str = "hilist_code,hilist_name,list_type,chrgitm_lv,begndate,enddate,insu_admdvs,selfpay_prop\n";

/// A load as two people make it: `proposer` proposes the file, and a second policy officer
/// of the city approves it. A file with rows to fix answers with them, proposed to no one.
async fn proposed_and_approved(
    app: &App,
    proposer: &Principal,
    name: &str,
    file: String,
    cite: &str,
) -> yibao_app::catalogue::CatalogueReport {
    let report = app.load_catalogue(proposer, "test", name, file.into_bytes(), cite, false).await.expect("answers");
    let Some(proposal) = report.proposal else { return report };
    assert!(!report.loaded, "a proposal is not in force");
    let reviewer = Principal::Staff { username: "policy.wang".into(), role: Role::PolicyOfficer, region: app.policy().region };
    app.approve_catalogue(&reviewer, "test", proposal.seq).await.expect("approved")
}
const DRUG: &str = "XA01ABD075A002010100483";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_file_goes_in_force_whole_or_not_at_all() {
    let dir = std::env::temp_dir().join(format!("yibao-app-catalogue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("yibao.db");
    let open = || async { Arc::new(Backend::Sqlite(yibao_store_sqlite::SqliteStore::open(&path).await.expect("store"))) };
    let clock = || -> yibao_app::Clock { Arc::new(|| datetime!(2026-03-15 04:00 UTC)) };
    let app = App::new(open().await, Arc::new(policy())).with_clock(clock());
    let li = officer("419900", Role::PolicyOfficer);
    let code = ItemCode::parse(DRUG).expect("code");
    let good = format!(
        "{HEADER}{DRUG},aspirin,101,02,2024-01-01,2024-12-31,,0.1\n{DRUG},aspirin,101,01,2025-01-01,,,\n\
         {DRUG},aspirin,101,03,2025-01-01,,420000,\n001201000010000,bed,201,01,2024-01-01,,,\n"
    );

    for (who, expected) in
        [(officer("419900", Role::ClaimsOfficer), "access.forbidden"), (officer("429900", Role::PolicyOfficer), "access.forbidden")]
    {
        let refused = app.load_catalogue(&who, "test", "list.csv", good.clone().into_bytes(), "notice", false).await.expect_err("refused");
        assert_eq!(refused.code, expected, "{}", refused.message);
    }
    let no_cite = app.load_catalogue(&li, "test", "list.csv", good.clone().into_bytes(), "  ", false).await.expect_err("no cite");
    assert_eq!(no_cite.code, "catalogue.bad_cite");
    let not_a_file = app.load_catalogue(&li, "test", "list.pdf", good.clone().into_bytes(), "notice", false).await.expect_err("pdf");
    assert_eq!(not_a_file.code, "import.unknown_format");

    let dry = app.load_catalogue(&li, "test", "list.csv", good.clone().into_bytes(), "医保发〔2024〕33号", true).await.expect("dry run");
    assert_eq!((dry.loaded, dry.load.rows, dry.load.added, dry.load.elsewhere, dry.versions_held), (false, 4, 3, 1, 3));
    assert!(app.policy().national_catalogue().is_empty(), "a dry run puts nothing in force");

    let one_bad = format!("{good}001201000010001,exam,201,09,2024-01-01,,,\n");
    let refused = app.load_catalogue(&li, "test", "list.csv", one_bad.into_bytes(), "医保发〔2024〕33号", false).await.expect("a report");
    assert_eq!((refused.loaded, refused.error_count), (false, 1));
    assert_eq!((refused.errors[0].line, refused.errors[0].column.as_deref()), (6, Some("chrgitm_lv")));
    assert!(refused.error_file().contains("6,chrgitm_lv,001201000010001,"), "{}", refused.error_file());
    assert!(app.catalogue_loads(&li).await.expect("loads").is_empty(), "nothing of the file was written");

    // Proposed: nothing in force until a second policy officer approves; the proposer and
    // the operator cannot approve it.
    let proposed =
        app.load_catalogue(&li, "test", "list.csv", good.clone().into_bytes(), "医保发〔2024〕33号", false).await.expect("proposes");
    let seq = proposed.proposal.as_ref().map(|p| p.seq).expect("a proposal");
    assert!(!proposed.loaded && app.policy().national_catalogue().is_empty());
    assert_eq!(app.approve_catalogue(&li, "test", seq).await.expect_err("own").code, "catalogue.same_officer");
    let operator = Principal::System { name: "cli:root".into(), region: app.policy().region };
    assert_eq!(app.approve_catalogue(&operator, "test", seq).await.expect_err("operator").code, "access.forbidden");
    let wang = Principal::Staff { username: "policy.wang".into(), role: Role::PolicyOfficer, region: app.policy().region };
    let loaded = app.approve_catalogue(&wang, "test", seq).await.expect("approved");
    assert!(loaded.loaded);
    assert_eq!(loaded.proposal.as_ref().and_then(|p| p.decided_by.as_deref()), Some("policy.wang"));
    assert_eq!(app.approve_catalogue(&wang, "test", seq).await.expect_err("twice").code, "catalogue.not_proposed");
    // The first start's installation is for an empty store only.
    let installed = app.install_catalogue(&operator, "test", "list.csv", good.clone().into_bytes(), "notice").await.expect_err("not empty");
    assert_eq!(installed.code, "catalogue.stale");
    let in_force = app.policy();
    let class_on = |policy: &Policy, date| policy.item_on(&code, date).map(|found| found.item.class);
    assert_eq!(class_on(&in_force, date!(2024 - 06 - 01)), Some(CatalogueClass::B));
    assert_eq!(class_on(&in_force, date!(2025 - 06 - 01)), Some(CatalogueClass::A), "another province's version never applies");
    assert_eq!(class_on(&in_force, date!(2023 - 06 - 01)), None);
    assert_eq!(
        in_force.item_on(&code, date!(2024 - 06 - 01)).expect("found").cite(),
        format!("医保发〔2024〕33号 ({DRUG} from 2024-01-01)")
    );

    // Another process on the same store reads it at start.
    let other = App::new(open().await, Arc::new(policy())).with_clock(clock());
    assert!(other.refresh_catalogue().await.expect("refresh"));
    assert_eq!(other.policy().national_catalogue().len(), 3);
    assert!(!other.refresh_catalogue().await.expect("refresh"), "nothing new the second time");

    // A correction of the 2024 version (another share) replaces it; the 2025 version, now
    // cited to the correcting notice, is replaced too; the rest stays.
    let correction = format!("{HEADER}{DRUG},aspirin tablets,101,02,2024-01-01,2024-12-31,,0.05\n{DRUG},aspirin,101,01,2025-01-01,,,\n");
    let again = proposed_and_approved(&app, &li, "fix.csv", correction, "医保发〔2024〕34号").await;
    assert_eq!((again.load.added, again.load.replaced, again.load.unchanged, again.versions_held), (0, 2, 0, 3), "{:?}", again.load);
    let found = app.policy().item_on(&code, date!(2024 - 06 - 01)).expect("found").item.selfpay_share.map(|s| s.get());
    assert_eq!(found, Some(500));
    assert!(other.refresh_catalogue().await.expect("refresh"), "the other process sees the new load");
    assert_eq!(other.policy().item_on(&code, date!(2024 - 06 - 01)).expect("found").item.name, "aspirin tablets");
    // An overlapping version is refused whole, naming the item's line.
    let overlap = format!("{HEADER}{DRUG},aspirin,101,01,2024-06-01,2024-06-30,,\n");
    let refused = app.load_catalogue(&li, "test", "overlap.csv", overlap.into_bytes(), "notice", false).await.expect("a report");
    assert_eq!((refused.loaded, refused.errors[0].line), (false, 2));
    assert!(refused.errors[0].message.contains("overlaps"), "{}", refused.errors[0].message);
    let loads = app.catalogue_loads(&li).await.expect("loads");
    assert_eq!(loads.iter().map(|l| l.load.file.as_str()).collect::<Vec<_>>(), ["fix.csv", "list.csv"]);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn shared_store(tag: &str) -> Arc<Backend> {
    let dir = std::env::temp_dir().join(format!("yibao-app-catalogue-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    Arc::new(Backend::Sqlite(yibao_store_sqlite::SqliteStore::open(&dir.join("yibao.db")).await.expect("store")))
}

async fn load_as_operator(app: &App, file: &str) -> yibao_app::catalogue::CatalogueReport {
    let operator = Principal::System { name: "test".into(), region: app.policy().region };
    proposed_and_approved(app, &operator, "list.csv", file.to_owned(), "notice").await
}

/// Two servers on one store (or a server and `yibao catalogue load`): a load merges into
/// the store's catalogue as it is when it writes, never into a copy another load has since
/// changed. Server A, not yet having read B's load, keeps B's versions when it loads its
/// own; two loads that overlap in time are never both written. (Hostile review: A's load
/// lost B's, and two stale loads wrote a catalogue no server could read.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_on_two_servers_never_lose_or_contradict_each_other() {
    const HEADER: &str = "hilist_code,hilist_name,list_type,chrgitm_lv,begndate,enddate\n";
    let store = shared_store("two-servers").await;
    let a = App::new(Arc::clone(&store), Arc::new(policy()));
    let b = App::new(Arc::clone(&store), Arc::new(policy()));
    assert!(load_as_operator(&b, &format!("{HEADER}001201000010000,bed,201,01,2024-01-01,\n")).await.loaded);
    assert!(load_as_operator(&a, &format!("{HEADER}001201000010001,exam,201,01,2024-01-01,\n")).await.loaded);
    let bed = ItemCode::parse("001201000010000").expect("code");
    assert!(a.policy().item_on(&bed, date!(2024 - 06 - 01)).is_some(), "A read B's load before merging its own");
    assert_eq!(a.policy().national_catalogue().len(), 2);
    // B has not read A's load: its overlapping version is checked against the store's.
    let overlapping = load_as_operator(&b, &format!("{HEADER}001201000010001,exam,201,02,2024-07-01,\n")).await;
    assert!(!overlapping.loaded && overlapping.errors[0].message.contains("overlaps"), "{:?}", overlapping.errors);
    let fresh = App::new(Arc::clone(&store), Arc::new(policy()));
    assert!(fresh.refresh_catalogue().await.expect("the store's catalogue holds together"));
    assert_eq!(fresh.policy().national_catalogue().len(), 2);
}

/// A withdrawal (`vali_flag` 0) in a file takes the version held under its key out of
/// force and out of the store; the same file may give the version again with its right
/// first day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_version_leaves_the_catalogue() {
    const HEADER: &str = "hilist_code,hilist_name,list_type,chrgitm_lv,begndate,enddate,vali_flag\n";
    let store = shared_store("withdrawal").await;
    let app = App::new(Arc::clone(&store), Arc::new(policy()));
    assert!(load_as_operator(&app, &format!("{HEADER}001201000010000,bed,201,01,2024-01-10,,1\n")).await.loaded);
    let fix = format!("{HEADER}001201000010000,bed,201,01,2024-01-10,,0\n001201000010000,bed,201,01,2024-01-01,,1\n");
    let report = load_as_operator(&app, &fix).await;
    assert!(report.loaded, "{:?}", report.errors);
    assert_eq!((report.load.removed, report.load.added, report.load.withdrawn, report.versions_held), (1, 1, 1, 1));
    let bed = ItemCode::parse("001201000010000").expect("code");
    assert_eq!(app.policy().item_on(&bed, date!(2024 - 01 - 05)).map(|f| f.version.map(|v| v.from)), Some(Some(date!(2024 - 01 - 01))));
    let other = App::new(store, Arc::new(policy()));
    assert!(other.refresh_catalogue().await.expect("refresh"));
    assert_eq!(other.policy().national_catalogue().len(), 1, "the store deleted the withdrawn version");
}

/// The second person approves the file the first proposed, against the catalogue it was
/// checked on (hostile review): a file edited in the database after it was proposed is
/// refused (`catalogue.tampered`), and so is a proposal that a later load has overtaken
/// (`catalogue.stale`: its counts were another catalogue's, and it could undo a correction).
/// The approval is in the load and the audit chain with the proposal and its proposer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_loads_the_file_proposed_on_the_catalogue_it_was_checked_on() {
    const HEADER: &str = "hilist_code,hilist_name,list_type,chrgitm_lv,begndate,enddate\n";
    let dir = std::env::temp_dir().join(format!("yibao-app-catalogue-approval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("yibao.db");
    let store = Arc::new(Backend::Sqlite(yibao_store_sqlite::SqliteStore::open(&path).await.expect("store")));
    let app = App::new(store, Arc::new(policy()));
    let li = officer("419900", Role::PolicyOfficer);
    let wang = Principal::Staff { username: "policy.wang".into(), role: Role::PolicyOfficer, region: app.policy().region };
    let propose = |file: String| {
        let app = app.clone();
        let li = li.clone();
        async move {
            let report = app.load_catalogue(&li, "test", "list.csv", file.into_bytes(), "notice", false).await.expect("proposes");
            report.proposal.expect("a proposal").seq
        }
    };
    let first = propose(format!("{HEADER}001201000010000,bed,201,01,2024-01-01,\n")).await;
    let second = propose(format!("{HEADER}001201000010001,exam,201,01,2024-01-01,\n")).await;
    let tampered = propose(format!("{HEADER}001201000010002,x-ray,201,01,2024-01-01,\n")).await;
    let raw = rusqlite::Connection::open(&path).expect("the database file");
    let other = format!("{HEADER}001201000010003,not reviewed,201,01,2024-01-01,\n");
    raw.execute("UPDATE catalogue_proposals SET file_bytes = ?1 WHERE seq = ?2", rusqlite::params![other.into_bytes(), tampered])
        .expect("edit");
    assert_eq!(app.approve_catalogue(&wang, "test", tampered).await.expect_err("edited").code, "catalogue.tampered");
    assert_eq!(app.catalogue_proposal(&wang, tampered).await.expect_err("edited").code, "catalogue.tampered", "nor shown");
    let view = app.catalogue_proposal(&wang, second).await.expect("a view");
    assert_eq!((view.current, view.change_count, view.changes[0].code.as_str()), (true, 1, "001201000010001"));
    assert!(view.changes[0].before.is_none() && view.changes[0].after.as_deref().is_some_and(|t| t.contains("exam")));
    let approved = app.approve_catalogue(&wang, "test", second).await.expect("approved");
    assert!(approved.loaded);
    assert_eq!(app.approve_catalogue(&wang, "test", first).await.expect_err("overtaken").code, "catalogue.stale");
    assert!(!app.catalogue_proposal(&wang, first).await.expect("a view").current, "the view says it was overtaken");
    let loads = app.catalogue_loads(&wang).await.expect("loads");
    assert_eq!(loads.len(), 1, "only the approved proposal was loaded");
    assert_eq!(
        (loads[0].load.proposal, loads[0].load.proposed_by.as_deref(), loads[0].loaded_by.as_str()),
        (Some(second), Some("policy.li"), "policy.wang")
    );
    let actions: Vec<String> = raw
        .prepare("SELECT action FROM audit_log WHERE action LIKE 'catalogue.%' ORDER BY seq")
        .expect("sql")
        .query_map([], |row| row.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("read");
    assert_eq!(actions, ["catalogue.propose", "catalogue.propose", "catalogue.propose", "catalogue.approve"]);
    let _ = std::fs::remove_dir_all(&dir);
}
