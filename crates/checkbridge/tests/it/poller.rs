//! The poller, driven step by step: it drains full pages at once, claims every check before
//! the next GET, honours 429 Retry-After, and stays out of a tenant another poller holds.

use std::time::Duration;

use checkbridge::time::now_ms;
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use sandbox::common::FaultRule;

#[tokio::test]
async fn full_pages_are_drained_at_once_and_429_is_honoured() {
    for db in TestDb::all().await {
        let app = TestApp::prepare(db, LabOptions::default()).await;
        let engine = app.engine_only(&app.config()).await;
        let (lab, store) = (&app.lab, &app.store);
        let ids: Vec<String> = (0..12)
            .map(|i| app.seed("acme", Scenario::Clean, i))
            .collect();

        let report = engine.poll_tenant(&"acme".into()).await.unwrap();
        assert_eq!(
            (report.pages, report.claimed, report.error),
            (3, 12, None),
            "5 + 5 + 2, then stop"
        );
        for id in &ids {
            assert_eq!(
                lab.pageup_check("acme", id).unwrap().status,
                "queued",
                "claimed before the next GET"
            );
        }
        let gets = lab.pageup.state.journal().matching("GET", "/v3/").len();
        assert_eq!(gets, 3);
        // Nothing else is due yet: the tenant waits its interval.
        assert!(!store
            .due_tenants(now_ms() + 1_000, 10)
            .await
            .unwrap()
            .contains(&"acme".into()));

        // Another poller holds the tenant: this one stays out.
        assert!(store
            .lease_tenant_poll(
                &"globex".into(),
                "another-replica",
                now_ms(),
                Duration::from_secs(60)
            )
            .await
            .unwrap());
        assert!(engine.poll_tenant(&"globex".into()).await.unwrap().skipped);

        // PageUp asks for patience: the next poll waits as long as it says.
        lab.pageup.state.faults().add(FaultRule {
            method: Some("GET".into()),
            path_prefix: Some("/v3/".into()),
            count: Some(1),
            status: Some(429),
            retry_after_secs: Some(40),
            ..FaultRule::default()
        });
        let before = now_ms();
        let report = engine.poll_tenant(&"initech".into()).await.unwrap();
        assert!(report.error.is_some());
        let due = |at: i64| {
            let store = store.clone();
            async move {
                store
                    .due_tenants(at, 10)
                    .await
                    .unwrap()
                    .contains(&"initech".into())
            }
        };
        assert!(!due(before + 35_000).await, "not before Retry-After");
        assert!(due(before + 45_000).await);
        // The claimed checks are waiting for the orderer, which this test does not run.
        app.finish_owing().await;
    }
}
