//! The same tests on SQLite and PostgreSQL. PostgreSQL runs when
//! `CHECKBRIDGE_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); each test gets a
//! database of its own, dropped afterwards.

use std::collections::HashSet;
use std::future::Future;

use super::*;

const MINUTE: Duration = Duration::from_secs(60);

async fn claim(store: &Store, tenant: &str, pageup_id: &str, secret: &str, now: i64) -> Recorded {
    let id = uuid::Uuid::new_v4().to_string();
    let searches = [
        NewSearch {
            id: format!("{id}-emp"),
            search_type: "EMPLOYMENT".into(),
        },
        NewSearch {
            id: format!("{id}-edu"),
            search_type: "EDUCATION".into(),
        },
    ];
    store
        .record_claimed(
            &NewCheck {
                id: &id,
                tenant,
                pageup_id,
                webhook_secret: secret,
                searches: &searches,
                plan: Plan::Order { order_json: "{}" },
            },
            now,
        )
        .await
        .unwrap()
}

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
        let first = claim(&store, "acme", "12345", "secret-1", 1_000).await;
        assert!(first.new);
        let again = claim(&store, "acme", "12345", "secret-2", 2_000).await;
        assert_eq!(
            again,
            Recorded {
                id: first.id.clone(),
                new: false
            }
        );
        let other_tenant = claim(&store, "globex", "12345", "secret-3", 2_000).await;
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
            claim(&store, "acme", &format!("c{i}"), "s", 1_000 + i).await;
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
        claim(&store, "acme", "future", "s", later + 10_000).await;
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
            .release_tenant_poll("acme", "node-2", 9_000, None)
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
            .release_tenant_poll("acme", "node-1", 9_000, None)
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
async fn migrations_apply_once_and_urls_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/again.db", dir.path().display());
    let first = Store::connect(&url).await.unwrap();
    claim(&first, "acme", "1", "s", 1).await;
    drop(first);
    let second = Store::connect(&url).await.unwrap();
    assert!(
        !claim(&second, "acme", "1", "s", 2).await.new,
        "data kept, schema not re-applied"
    );
    assert!(matches!(
        Store::connect("mysql://localhost/x").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
}

/// Claims a check and records its order; returns the check id and its search ids.
async fn ordered(store: &Store, pageup_id: &str) -> (String, Vec<String>) {
    let check = claim(store, "acme", pageup_id, "order-secret", 1).await;
    let work = store.lease_order_work("w", 2, MINUTE, 100).await.unwrap();
    let work = work.iter().find(|w| w.id == check.id).unwrap();
    assert!(store
        .record_order(
            &PlacedOrder {
                tenant: "acme",
                check_id: &check.id,
                owner: "w",
                reference: "ord_1",
                theary_ids: &[(work.search_ids[0].clone(), format!("theirs-{pageup_id}"))],
                reconcile_at: 50_000,
            },
            3,
        )
        .await
        .unwrap());
    (check.id, work.search_ids.clone())
}

#[tokio::test]
async fn an_order_is_recorded_by_its_lease_holder_and_its_searches_are_found() {
    on_each_backend(|store| async move {
        let check = claim(&store, "acme", "42", "order-secret", 1).await;
        let record = |owner: &'static str, ids: Vec<(String, String)>| {
            let (store, id) = (store.clone(), check.id.clone());
            async move {
                store
                    .record_order(
                        &PlacedOrder {
                            tenant: "acme",
                            check_id: &id,
                            owner,
                            reference: "ord_1",
                            theary_ids: &ids,
                            reconcile_at: 50_000,
                        },
                        3,
                    )
                    .await
                    .unwrap()
            }
        };
        assert!(!record("nobody", Vec::new()).await, "no lease, no record");
        let work = store.lease_order_work("w", 2, MINUTE, 10).await.unwrap();
        assert_eq!(work.len(), 1);
        assert_eq!(work[0].search_ids.len(), 2);
        let emp = work[0]
            .search_ids
            .iter()
            .find(|s| s.ends_with("-emp"))
            .unwrap()
            .clone();
        let ids = vec![(emp.clone(), "aaaa-1".to_owned())];
        // A webhook can arrive before the order is recorded: the search is known from the claim.
        assert!(store.webhook_target("acme", &emp).await.unwrap().is_some());
        assert!(record("w", ids.clone()).await);
        assert!(!record("w", ids).await, "recorded once");
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
        for search_ref in [emp.as_str(), "aaaa-1", "search_aaaa-1"] {
            let t = store
                .webhook_target("acme", search_ref)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (t.search_id.as_str(), t.secret.as_str()),
                (emp.as_str(), "order-secret"),
                "{search_ref}"
            );
        }
        assert!(
            store
                .webhook_target("globex", &emp)
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
        let snap = store.snapshot("acme", &check.id).await.unwrap().unwrap();
        assert_eq!(
            (
                snap.phase.as_str(),
                snap.reference.as_deref(),
                snap.desired_version,
                snap.acked_version
            ),
            ("ordered", Some("ord_1"), 2, 0)
        );
        assert!(store.snapshot("globex", &check.id).await.unwrap().is_none());
    })
    .await;
}

fn completed(outcome: &str) -> SearchUpdate {
    SearchUpdate {
        outcome: "completed",
        result_outcome: Some(outcome.into()),
        discrepancy: false,
        reason_code: None,
        result_json: Some("{}".into()),
    }
}

#[tokio::test]
async fn events_are_stored_once_and_move_searches_only_forward() {
    on_each_backend(|store| async move {
        let (check, searches) = ordered(&store, "7").await;
        let event = |id: &'static str, search: String| {
            let check = check.clone();
            (id, search, check)
        };
        let record = |(id, search, check): (&'static str, String, String),
                      u: Option<SearchUpdate>,
                      now: i64| {
            let store = store.clone();
            async move {
                store
                    .record_event(
                        &EventRecord {
                            event_id: id,
                            tenant: "acme",
                            search_id: &search,
                            check_id: &check,
                            event_type: "verification.completed",
                            body: "{}",
                            theary_search_id: None,
                        },
                        u.as_ref(),
                        now,
                        now + 1_000,
                    )
                    .await
                    .unwrap()
            }
        };
        let version = |store: Store, check: String| async move {
            store
                .snapshot("acme", &check)
                .await
                .unwrap()
                .unwrap()
                .desired_version
        };
        let v0 = version(store.clone(), check.clone()).await;
        assert!(
            record(
                event("e1", searches[0].clone()),
                Some(completed("VERIFIED")),
                10
            )
            .await
        );
        assert!(
            !record(
                event("e1", searches[0].clone()),
                Some(completed("VERIFIED")),
                11
            )
            .await,
            "duplicate"
        );
        let v1 = version(store.clone(), check.clone()).await;
        assert_eq!(v1, v0 + 1, "a move makes a new document owed");
        // A late action_required (reordered delivery) does not move a completed search back.
        let late = SearchUpdate {
            outcome: "action_required",
            result_outcome: None,
            discrepancy: false,
            reason_code: Some("SLA_REACHED".into()),
            result_json: None,
        };
        assert!(record(event("e0", searches[0].clone()), Some(late), 12).await);
        assert_eq!(
            version(store.clone(), check.clone()).await,
            v1,
            "no move, no new document"
        );
        assert!(
            record(event("n1", searches[1].clone()), None, 13).await,
            "progress is stored"
        );
        let rows = store.searches_of("acme", &check).await.unwrap();
        let done = rows.iter().find(|r| r.id == searches[0]).unwrap();
        assert_eq!(
            (done.outcome.as_str(), done.result_outcome.as_deref()),
            ("completed", Some("VERIFIED"))
        );
        assert_eq!(
            store
                .webhook_events("acme", &searches[0])
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(store.has_event("n1").await.unwrap());
        assert!(store
            .searches_of("globex", &check)
            .await
            .unwrap()
            .is_empty());
        let owed = store.owed(Some("acme")).await.unwrap();
        assert_eq!((owed.orders, owed.open_searches), (0, 1));
    })
    .await;
}

#[tokio::test]
async fn pushes_are_versioned_and_acknowledged_by_the_lease_holder() {
    on_each_backend(|store| async move {
        let (check, searches) = ordered(&store, "8").await;
        let work = store.lease_push_work("p1", 100, MINUTE, 10).await.unwrap();
        assert_eq!(work.len(), 1);
        assert!(store
            .lease_push_work("p2", 100, MINUTE, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(
            !store.lease_push(&check, "p2", 100, MINUTE).await.unwrap(),
            "leased already"
        );
        let snap = store.snapshot("acme", &check).await.unwrap().unwrap();
        // The searches move while the push is in flight.
        store
            .apply_search_update(
                "acme",
                &searches[0],
                &completed("VERIFIED"),
                Some("t-0"),
                101,
            )
            .await
            .unwrap();
        store
            .ack_push(&check, "p2", snap.desired_version, 102)
            .await
            .unwrap();
        assert_eq!(
            store
                .snapshot("acme", &check)
                .await
                .unwrap()
                .unwrap()
                .acked_version,
            0,
            "only the holder acks"
        );
        store
            .ack_push(&check, "p1", snap.desired_version, 102)
            .await
            .unwrap();
        let after = store.snapshot("acme", &check).await.unwrap().unwrap();
        assert_eq!(after.acked_version, snap.desired_version);
        assert!(
            after.desired_version > after.acked_version,
            "the newer state is still owed"
        );
        let again = store.lease_push_work("p2", 200, MINUTE, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        store
            .push_retry_later(&check, "p2", "PageUp said 503", 10_000)
            .await
            .unwrap();
        assert!(
            store
                .lease_push_work("p3", 5_000, MINUTE, 10)
                .await
                .unwrap()
                .is_empty(),
            "backing off"
        );
        let w = store
            .lease_push_work("p3", 10_000, MINUTE, 10)
            .await
            .unwrap();
        assert_eq!(w[0].attempts, 1);
        store
            .ack_push(&check, "p3", after.desired_version, 10_001)
            .await
            .unwrap();
        assert_eq!(store.owed(None).await.unwrap().pushes, 0);
        // PageUp lists it as pending again, after our acknowledgement: it is claimed again.
        assert!(
            !store
                .reclaim_if_reset("acme", &check, 9_000, 20_000)
                .await
                .unwrap(),
            "listing older than the ack"
        );
        assert!(store
            .reclaim_if_reset("acme", &check, 15_000, 20_000)
            .await
            .unwrap());
        assert_eq!(
            store
                .snapshot("acme", &check)
                .await
                .unwrap()
                .unwrap()
                .acked_version,
            0
        );
    })
    .await;
}

#[tokio::test]
async fn the_reconciler_takes_quiet_searches_of_ordered_checks() {
    on_each_backend(|store| async move {
        let (check, _) = ordered(&store, "9").await;
        assert!(
            store
                .lease_reconcile_work(49_999, 99_999, 10)
                .await
                .unwrap()
                .is_empty(),
            "not quiet yet"
        );
        let work = store
            .lease_reconcile_work(50_000, 99_999, 10)
            .await
            .unwrap();
        assert_eq!(
            work,
            vec![ReconcileWork {
                check_id: check.clone(),
                tenant: "acme".into(),
                reference: "ord_1".into()
            }]
        );
        assert!(
            store
                .lease_reconcile_work(60_000, 99_999, 10)
                .await
                .unwrap()
                .is_empty(),
            "taken until its next look"
        );
        assert_eq!(
            store
                .lease_reconcile_work(99_999, 200_000, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store.due_tenants(0, 10).await.unwrap(),
            Vec::<String>::new()
        );
        store.ensure_tenants(["acme", "globex"]).await.unwrap();
        assert_eq!(store.due_tenants(0, 10).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn one_open_issue_per_subject_and_each_change_owes_one_alert() {
    on_each_backend(|store| async move {
        assert!(store
            .open_issue("acme", "auth", "pageup", "PageUp refuses", 1_000, true)
            .await
            .unwrap());
        // Open already: only its summary and last-seen time change.
        assert!(!store
            .open_issue(
                "acme",
                "auth",
                "pageup",
                "PageUp still refuses",
                2_000,
                true
            )
            .await
            .unwrap());
        assert!(store
            .open_issue("globex", "auth", "pageup", "PageUp refuses", 2_000, false)
            .await
            .unwrap());
        let open = store.open_issues().await.unwrap();
        assert_eq!(open.len(), 2);
        assert_eq!(open[0].summary, "PageUp still refuses");
        assert_eq!(open[0].last_seen_at, 2_000);

        // The opening alert is owed for acme only (globex's was opened without alerts).
        let work = store.lease_alerts("me", 3_000, MINUTE, 10).await.unwrap();
        assert_eq!(work.len(), 1);
        assert!(work[0].open_owed && !work[0].resolve_owed);
        assert!(store
            .lease_alerts("other", 3_000, MINUTE, 10)
            .await
            .unwrap()
            .is_empty());
        // A failed delivery is retried later, not sooner.
        store
            .alert_release(&work[0].issue.id, "me", Some((10_000, "answered 500")))
            .await
            .unwrap();
        assert!(store
            .lease_alerts("me", 9_999, MINUTE, 10)
            .await
            .unwrap()
            .is_empty());
        let work = store.lease_alerts("me", 10_000, MINUTE, 10).await.unwrap();
        assert_eq!(work[0].attempts, 1);
        store
            .alert_done(&work[0].issue.id, "me", true)
            .await
            .unwrap();
        store
            .alert_release(&work[0].issue.id, "me", None)
            .await
            .unwrap();
        assert!(store
            .lease_alerts("me", 20_000, MINUTE, 10)
            .await
            .unwrap()
            .is_empty());

        // Resolving owes the second alert; a second resolve does nothing.
        assert!(store
            .resolve_issue("acme", "auth", "pageup", 30_000, true)
            .await
            .unwrap());
        assert!(!store
            .resolve_issue("acme", "auth", "pageup", 31_000, true)
            .await
            .unwrap());
        let work = store.lease_alerts("me", 32_000, MINUTE, 10).await.unwrap();
        assert_eq!(work.len(), 1);
        assert!(!work[0].open_owed && work[0].resolve_owed);
        assert_eq!(work[0].issue.resolved_at, Some(30_000));

        // After resolution a new issue of the same subject may open.
        assert!(store
            .open_issue("acme", "auth", "pageup", "again", 40_000, false)
            .await
            .unwrap());
        let history = store.issues_of("acme", 0).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].summary, "again");
    })
    .await;
}

#[tokio::test]
async fn checks_owing_work_too_long_are_counted_as_stuck() {
    on_each_backend(|store| async move {
        claim(&store, "acme", "1", "s", 1_000).await;
        claim(&store, "acme", "2", "s", 1_000).await;
        claim(&store, "globex", "3", "s", 500_000).await;
        let stuck = store
            .stuck_checks(200_000, MINUTE, MINUTE * 60 * 24)
            .await
            .unwrap();
        // acme's two checks have owed an order (and PageUp `queued`) since 1 000 ms;
        // globex's is younger than a minute.
        assert_eq!(stuck, vec![("acme".to_owned(), 2, 0)]);
    })
    .await;
}

#[tokio::test]
async fn concurrent_writes_are_durable_and_a_failing_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/group.db", dir.path().display());
    let store = Store::connect(&url).await.unwrap();
    // A search id that already exists makes the second insert of a claim fail after its
    // check row was written: that write must vanish whole, the others must not notice.
    let taken = claim(&store, "acme", "taken", "s", 1).await;
    let taken_search: String = format!("{}-emp", taken.id);
    let mut writes = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        let clash = taken_search.clone();
        writes.push(tokio::spawn(async move {
            let id = uuid::Uuid::new_v4().to_string();
            let searches = [NewSearch {
                id: if i == 17 { clash } else { format!("{id}-emp") },
                search_type: "EMPLOYMENT".into(),
            }];
            let pageup_id = format!("p{i}");
            store
                .record_claimed(
                    &NewCheck {
                        id: &id,
                        tenant: "acme",
                        pageup_id: &pageup_id,
                        webhook_secret: "s",
                        searches: &searches,
                        plan: Plan::Order { order_json: "{}" },
                    },
                    2,
                )
                .await
                .map(|r| r.new)
        }));
    }
    let mut ok = 0;
    let mut failed = 0;
    for w in writes {
        match w.await.unwrap() {
            Ok(true) => ok += 1,
            Ok(false) => panic!("a fresh check was seen as a duplicate"),
            Err(_) => failed += 1,
        }
    }
    assert_eq!((ok, failed), (63, 1));
    // Every acknowledged write is on disk: a second store (another process would see the
    // same) reads them all, and nothing of the failed one.
    let other = Store::connect(&url).await.unwrap();
    let owed = other.owed(Some("acme")).await.unwrap();
    assert_eq!(owed.orders, 64, "{owed:?}");
    let again = claim(&other, "acme", "p17", "s", 3).await;
    assert!(again.new, "the failed claim left no row behind");
    // The writer is free again: other processes are not kept waiting.
    assert!(claim(&store, "acme", "after", "s", 4).await.new);
}
