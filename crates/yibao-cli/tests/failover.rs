//! Surviving the loss of the database machine (issue 17): PostgreSQL streaming replication
//! with a synchronous standby, two throwaway servers from the machine's binaries. The
//! service settles a burst on the primary; the primary's postmaster is killed with SIGKILL
//! in the middle of it; the standby is promoted and the service pointed at it: every
//! settlement the service acknowledged is there, the books and the audit chain verify, and
//! the service settles on the new primary. The operator's steps are in the README
//! ("Failover").

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{HOSPITAL, call, claim, resident, start_on, text, yibao};

#[test]
fn a_promoted_synchronous_standby_holds_every_settlement_acknowledged_before_the_primary_was_lost() {
    let primary = yibao_testpg::TestPostgres::start_primary().unwrap_or_else(|e| panic!("PostgreSQL primary: {e}"));
    let standby = primary.start_standby("standby").unwrap_or_else(|e| panic!("PostgreSQL standby: {e}"));
    let (mut server, address, key) = start_on(&["--database-url", primary.url()], true);
    let key = key.expect("the hospital's key");
    let person = resident(&address);
    // From here every commit waits until the standby has it on disk.
    primary.require_synchronous("standby").unwrap_or_else(|e| panic!("{e}"));

    // Four clients settle one claim after another until the primary is gone.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (address, key, person, acknowledged) = (address.clone(), key.clone(), person.clone(), Arc::clone(&acknowledged));
            std::thread::spawn(move || {
                for n in 0..60 {
                    let id = format!("FAILOVER-{client}-{n}");
                    let body = json!({ "person_id": person.0, "card_no": person.1, "claim": claim(&id, client * 60 + n) });
                    let (status, answer) = call(&address, "POST", "/api/settlements", &[("X-Api-Key", &key)], Some(&body));
                    match status {
                        201 => acknowledged.lock().expect("ids").push(id),
                        // The primary is gone: the service answers with an error (once its
                        // pool has given up reconnecting), never a settlement it has not
                        // committed. The client stops there.
                        _ => {
                            assert!(status >= 500, "{id}: {status} {answer}");
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acknowledged.lock().expect("ids").len() < 20 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    primary.kill().unwrap_or_else(|e| panic!("{e}"));
    for client in clients {
        client.join().expect("a client thread");
    }
    server.kill().expect("stop the service");
    server.wait().expect("reaped");
    let acknowledged = acknowledged.lock().expect("ids").clone();
    assert!(acknowledged.len() >= 20, "the burst was under way when the primary was lost: {}", acknowledged.len());

    // The operator promotes the standby and points the service at it.
    standby.promote().unwrap_or_else(|e| panic!("{e}"));
    let stored = standby
        .psql(&format!("SELECT claim_id FROM claims WHERE institution_code = '{HOSPITAL}' AND claim_id LIKE 'FAILOVER-%'"))
        .unwrap_or_else(|e| panic!("{e}"));
    let stored: std::collections::BTreeSet<&str> = stored.lines().collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(id.as_str())).collect();
    assert!(lost.is_empty(), "acknowledged but not on the promoted standby: {lost:?}");
    for check in [&["fund", "check"][..], &["audit", "verify"][..]] {
        let out = yibao(&[check, &["--database-url", standby.url()]].concat());
        assert!(out.status.success(), "{check:?} on the promoted standby: {}{}", text(&out.stdout), text(&out.stderr));
    }
    let (mut server, address, _) = start_on(&["--database-url", standby.url()], false);
    let body = json!({ "person_id": person.0, "card_no": person.1, "claim": claim("AFTER-FAILOVER", 280) });
    let (status, answer) = call(&address, "POST", "/api/settlements", &[("X-Api-Key", &key)], Some(&body));
    assert_eq!(status, 201, "the service settles on the new primary: {answer}");
    server.kill().expect("stop");
    server.wait().expect("reaped");
}
