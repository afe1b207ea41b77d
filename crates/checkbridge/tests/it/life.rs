//! The life of a check for every outcome, on every engine.

use std::collections::BTreeMap;
use std::time::Duration;

use checkbridge_lab::testing::{found_in_raw_database, order_secret, TestApp, TestDb};
use checkbridge_lab::{orderly, pii_needles, LabOptions, Scenario, FINAL_STATUSES};
use sandbox::pageup::InvitationShape;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_outcome_reaches_pageup_on_every_engine() {
    for db in TestDb::all().await {
        every_outcome(TestApp::prepare(db, LabOptions::default()).await).await;
    }
}

/// The same life once per built-in intake profile: the PageUp sandbox lists invitations in
/// the profile's shape (fuzzed, GUID extras included) and every tenant reads them through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_outcome_reaches_pageup_through_each_intake_profile() {
    for shape in [
        InvitationShape::Assumed,
        InvitationShape::BackgroundCheckRequest,
    ] {
        let options = LabOptions {
            intake: Some(shape),
            ..LabOptions::default()
        };
        every_outcome(TestApp::prepare(TestDb::sqlite(), options).await).await;
    }
}

async fn every_outcome(mut app: TestApp) {
    let mut seeded: Vec<(String, String, Scenario)> = Vec::new();
    for t in ["acme", "globex"] {
        for (i, s) in Scenario::ALL.iter().enumerate() {
            let id = app.seed(t, *s, i);
            seeded.push((t.to_owned(), id, *s));
        }
    }
    app.start().await;
    let (lab, store, running) = (&app.lab, &app.store, app.running());
    let database_url = app.db().url.clone();

    // The stalled orders are cancelled at Theary once placed.
    for (tenant, id, s) in seeded.iter().filter(|(_, _, s)| *s == Scenario::Cancelled) {
        let reference = app
            .wait_for(
                Duration::from_secs(30),
                "the order to be placed",
                || async {
                    let doc = lab.pageup_check(tenant, id)?.document;
                    let r = doc.get("referenceNumber")?.as_str()?.to_owned();
                    (!r.is_empty()).then_some(r)
                },
            )
            .await;
        lab.cancel_at_theary(tenant, &reference).await.unwrap();
        let _ = s;
    }
    for (tenant, id, s) in &seeded {
        let view = app.final_view(tenant, id).await;
        assert_eq!(
            view.status,
            s.expected_status(),
            "{tenant}/{id} {}: {:?}",
            s.label(),
            view.document
        );
        let doc = &view.document;
        match s {
            Scenario::MissingFields => {
                let reason = doc["reasonForFail"].as_str().unwrap();
                assert!(
                    reason.contains("last name") && reason.contains("national id"),
                    "{reason}"
                );
            }
            Scenario::Cancelled => {
                assert!(!doc["referenceNumber"].as_str().unwrap().is_empty());
            }
            _ => {
                let results = doc["results"].as_array().unwrap();
                assert_eq!(results.len(), 3, "two searches and the overall: {doc}");
                let overall = results.last().unwrap();
                assert_eq!(overall["status"], s.expected_overall().unwrap(), "{doc}");
                for r in results {
                    let link = r["reportLink"].as_str().unwrap();
                    assert!(
                        link.starts_with(&format!("http://{}/reports/{tenant}/", lab.service_addr)),
                        "{link}"
                    );
                }
                assert!(!doc["referenceNumber"].as_str().unwrap().is_empty());
            }
        }
        // Never backwards, and nothing after the end.
        let statuses: Vec<&str> = view.history.iter().map(|h| h.to.as_str()).collect();
        assert!(
            orderly(&statuses),
            "claimed first, never backwards: {statuses:?}"
        );
        let ends = statuses
            .iter()
            .filter(|s| FINAL_STATUSES.contains(s))
            .count();
        assert!(
            ends >= 1 && FINAL_STATUSES.contains(statuses.last().unwrap()),
            "{statuses:?}"
        );
    }
    // Exactly one order per orderable check, per tenant.
    let mut orders: BTreeMap<String, usize> = BTreeMap::new();
    for (tenant, _, s) in &seeded {
        if *s != Scenario::MissingFields {
            *orders.entry(tenant.clone()).or_default() += 1;
        }
    }
    for (tenant, n) in orders {
        assert_eq!(lab.theary.state.order_count(&tenant), n, "{tenant}");
    }
    assert_eq!(app.settled().await.open_searches, 0);

    // Nothing readable at rest: no candidate data, no webhook secret, no credential.
    let mut needles: Vec<String> = Vec::new();
    for (i, s) in Scenario::ALL.iter().enumerate() {
        needles.extend(pii_needles(&s.invitation(i)));
    }
    for t in &lab.tenants {
        needles.push(t.pageup.client_secret.clone());
        needles.push(t.theary.client_secret.clone());
    }
    // The per-order webhook secrets, as the service itself opens them.
    for (tenant, id, s) in &seeded {
        if *s != Scenario::MissingFields {
            let (_, _, secret) = order_secret(store, &running.engine, tenant, id).await;
            needles.push(String::from_utf8(secret.to_vec()).unwrap());
        }
    }
    let secrets = needles.len();
    needles.retain(|n| n.len() >= 6);
    assert!(
        needles.len() > 20,
        "the scan looks for something: {}",
        needles.len()
    );
    let found = found_in_raw_database(&database_url, &needles).await;
    assert!(found.is_empty(), "stored in clear: {found:?}");
    // The scan does see what is stored in clear (tenant keys are not secret).
    let control = ["globex".to_owned()];
    assert_eq!(
        found_in_raw_database(&database_url, &control).await,
        control
    );
    eprintln!(
        "raw database scan: {} needles ({secrets} before filtering), none found",
        needles.len()
    );
    app.finish().await;
}

/// Theary delivers every event of every search late, after the next one of its search (the
/// last after a pause): each check still ends exactly as it does in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_webhooks_end_every_check_as_in_order() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let scenarios = [
        Scenario::Clean,
        Scenario::Discrepancy,
        Scenario::ActionRequired,
    ];
    let seeded: Vec<(String, Scenario)> = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| (app.seed("acme", *s, i), *s))
        .collect();
    let faults = app.lab.theary.state.delivery_faults();
    faults.reorder_next(1_000);
    app.start().await;
    for (id, s) in &seeded {
        let view = app.final_view("acme", id).await;
        assert_eq!(
            view.status,
            s.expected_status(),
            "{}: {}",
            s.label(),
            view.document
        );
        let results = view.document["results"].as_array().unwrap();
        assert_eq!(
            results.last().unwrap()["status"],
            s.expected_overall().unwrap(),
            "{}: {}",
            s.label(),
            view.document
        );
        let statuses: Vec<&str> = view.history.iter().map(|h| h.to.as_str()).collect();
        assert!(orderly(&statuses), "never backwards: {statuses:?}");
    }
    let fired = app.lab.theary.state.delivery_faults().fired().reorder;
    // Two searches a check, each with two notifications and a terminal event.
    assert!(fired >= 18, "every event was held back: {fired}");
    app.finish().await;
}
