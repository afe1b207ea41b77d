//! The same tests on SQLite and PostgreSQL. PostgreSQL runs when
//! `CHECKBRIDGE_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); each test gets a
//! database of its own, dropped afterwards.

use std::collections::HashSet;
use std::future::Future;

use super::*;

const MINUTE: Duration = Duration::from_secs(60);

async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&format!("sqlite://{}/checkbridge.db", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(sqlite.backend(), Backend::Sqlite);
    test(sqlite).await;

    let Ok(admin_url) = std::env::var("CHECKBRIDGE_TEST_POSTGRES_URL") else {
        eprintln!(
            "CHECKBRIDGE_TEST_POSTGRES_URL is not set: PostgreSQL half of the store tests skipped"
        );
        return;
    };
    sqlx::any::install_default_drivers();
    let admin = AnyPool::connect(&admin_url).await.unwrap();
    let name = format!("cb_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let pg = Store::connect(url.as_str()).await.unwrap();
    assert_eq!(pg.backend(), Backend::Postgres);
    test(pg.clone()).await;
    pg.pool.close().await;
    sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_claim_is_recorded_once_per_tenant_and_pageup_id() {
    on_each_backend(|store| async move {
        let first = store
            .record_claimed("acme", "12345", "{}", "secret-1", 1_000)
            .await
            .unwrap();
        assert!(first.new);
        let again = store
            .record_claimed("acme", "12345", "{}", "secret-2", 2_000)
            .await
            .unwrap();
        assert_eq!(
            again,
            Recorded {
                id: first.id.clone(),
                new: false
            }
        );
        let other_tenant = store
            .record_claimed("globex", "12345", "{}", "secret-3", 2_000)
            .await
            .unwrap();
        assert!(other_tenant.new && other_tenant.id != first.id);
        assert_eq!(
            store
                .check_phase("acme", &first.id)
                .await
                .unwrap()
                .as_deref(),
            Some("claimed")
        );
        assert_eq!(
            store.check_phase("globex", &first.id).await.unwrap(),
            None,
            "another tenant's check reads as absent"
        );
    })
    .await;
}

#[tokio::test]
async fn order_work_is_leased_to_one_worker_and_taken_over_after_expiry() {
    on_each_backend(|store| async move {
        for i in 0..10 {
            store
                .record_claimed("acme", &format!("c{i}"), "{}", "s", 1_000 + i)
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(
            store.lease_order_work("worker-a", 5_000, MINUTE, 10),
            store.lease_order_work("worker-b", 5_000, MINUTE, 10)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let a_ids: HashSet<_> = a.iter().map(|w| w.id.clone()).collect();
        let b_ids: HashSet<_> = b.iter().map(|w| w.id.clone()).collect();
        assert!(a_ids.is_disjoint(&b_ids), "no check leased twice");
        assert_eq!(a_ids.len() + b_ids.len(), 10);
        assert!(
            store
                .lease_order_work("worker-c", 6_000, MINUTE, 10)
                .await
                .unwrap()
                .is_empty(),
            "live leases are respected"
        );
        // The workers crashed; once their leases expire, another takes the work over.
        let later = 5_000 + MINUTE.as_millis() as i64 + 1;
        let taken_over = store
            .lease_order_work("worker-c", later, MINUTE, 100)
            .await
            .unwrap();
        assert_eq!(taken_over.len(), 10);
        assert!(taken_over
            .iter()
            .all(|w| w.tenant == "acme" && w.attempts == 0));
        // Work not yet due is not leased.
        store
            .record_claimed("acme", "future", "{}", "s", later + 10_000)
            .await
            .unwrap();
        assert!(store
            .lease_order_work("worker-d", later + 1, MINUTE, 100)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn one_poller_per_tenant_at_a_time() {
    on_each_backend(|store| async move {
        assert!(store
            .lease_tenant_poll("acme", "node-1", 1_000, MINUTE)
            .await
            .unwrap());
        assert!(!store
            .lease_tenant_poll("acme", "node-2", 2_000, MINUTE)
            .await
            .unwrap());
        assert!(
            store
                .lease_tenant_poll("acme", "node-1", 2_000, MINUTE)
                .await
                .unwrap(),
            "the holder may renew"
        );
        assert!(
            store
                .lease_tenant_poll("globex", "node-2", 2_000, MINUTE)
                .await
                .unwrap(),
            "tenants are independent"
        );
        store
            .release_tenant_poll("acme", "node-2", 9_000)
            .await
            .unwrap();
        assert!(
            !store
                .lease_tenant_poll("acme", "node-2", 3_000, MINUTE)
                .await
                .unwrap(),
            "only the holder releases"
        );
        store
            .release_tenant_poll("acme", "node-1", 9_000)
            .await
            .unwrap();
        assert!(store
            .lease_tenant_poll("acme", "node-2", 3_000, MINUTE)
            .await
            .unwrap());
        let expired = 3_000 + MINUTE.as_millis() as i64 + 1;
        assert!(
            store
                .lease_tenant_poll("acme", "node-3", expired, MINUTE)
                .await
                .unwrap(),
            "an expired lease is taken over"
        );
    })
    .await;
}

#[tokio::test]
async fn a_webhook_event_is_stored_once() {
    on_each_backend(|store| async move {
        assert!(store
            .record_webhook_event("evt-1", "acme", "s1", "verification.completed", "{}", 1)
            .await
            .unwrap());
        assert!(!store
            .record_webhook_event("evt-1", "acme", "s1", "verification.completed", "{}", 2)
            .await
            .unwrap());
        assert!(store
            .record_webhook_event("evt-2", "acme", "s1", "verification.notification", "{}", 3)
            .await
            .unwrap());
    })
    .await;
}

#[tokio::test]
async fn migrations_apply_once_and_urls_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/again.db", dir.path().display());
    let first = Store::connect(&url).await.unwrap();
    first
        .record_claimed("acme", "1", "{}", "s", 1)
        .await
        .unwrap();
    drop(first);
    let second = Store::connect(&url).await.unwrap();
    assert!(
        !second
            .record_claimed("acme", "1", "{}", "s", 2)
            .await
            .unwrap()
            .new,
        "data kept, schema not re-applied"
    );
    assert!(matches!(
        Store::connect("mysql://localhost/x").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
}

#[tokio::test]
async fn an_order_is_recorded_by_its_lease_holder_and_its_searches_are_found() {
    on_each_backend(|store| async move {
        let check = store
            .record_claimed("acme", "42", "{}", "order-secret", 1)
            .await
            .unwrap();
        let searches = vec![
            NewSearch {
                id: "ours-emp".into(),
                search_type: "EMPLOYMENT".into(),
                theary_search_id: Some("aaaa-1".into()),
            },
            NewSearch {
                id: "ours-edu".into(),
                search_type: "EDUCATION".into(),
                theary_search_id: None,
            },
        ];
        assert!(
            !store
                .record_order(
                    &crate::store::PlacedOrder {
                        tenant: "acme",
                        check_id: &check.id,
                        owner: "nobody",
                        reference: "ord_1",
                        searches: &searches,
                        desired_doc_json: "{}"
                    },
                    2
                )
                .await
                .unwrap(),
            "no lease, no record"
        );
        store.lease_order_work("w", 2, MINUTE, 10).await.unwrap();
        assert!(store
            .record_order(
                &crate::store::PlacedOrder {
                    tenant: "acme",
                    check_id: &check.id,
                    owner: "w",
                    reference: "ord_1",
                    searches: &searches,
                    desired_doc_json: "{}"
                },
                3
            )
            .await
            .unwrap());
        assert_eq!(
            store
                .check_phase("acme", &check.id)
                .await
                .unwrap()
                .as_deref(),
            Some("ordered")
        );
        assert!(
            store
                .lease_order_work("w2", 10_000_000, MINUTE, 10)
                .await
                .unwrap()
                .is_empty(),
            "no order work owed any more"
        );
        for search_ref in ["ours-emp", "aaaa-1", "search_aaaa-1"] {
            let t = store
                .webhook_target("acme", search_ref)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (t.search_id.as_str(), t.secret.as_str()),
                ("ours-emp", "order-secret"),
                "{search_ref}"
            );
        }
        assert!(
            store
                .webhook_target("globex", "ours-emp")
                .await
                .unwrap()
                .is_none(),
            "another tenant's search is not found"
        );
        assert!(store
            .webhook_target("acme", "nope")
            .await
            .unwrap()
            .is_none());
        assert!(!format!(
            "{:?}",
            store.webhook_target("acme", "ours-edu").await.unwrap()
        )
        .contains("order-secret"));
    })
    .await;
}
