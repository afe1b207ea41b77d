//! Webhook events, forward-only outcomes and the reconciler's work.

use super::*;

#[tokio::test]
async fn events_are_stored_once_and_move_searches_only_forward() {
    on_each_backend(|store| async move {
        let (check, searches) = ordered(&store, "7").await;
        let event = |id: &'static str, search: SearchId| {
            let check = check.clone();
            (id, search, check)
        };
        let record = |(id, search, check): (&'static str, SearchId, CheckId),
                      u: Option<SearchUpdate>,
                      now: i64| {
            let store = store.clone();
            async move {
                store
                    .record_event(
                        &EventRecord {
                            event_id: id,
                            tenant: &t("acme"),
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
        let version = |store: Store, check: CheckId| async move {
            store
                .check_record(&t("acme"), &check)
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
            state: SearchState::ActionRequired,
            outcome: None,
            discrepancy: false,
            reason_code: Some(theary::wire::ReasonCode::SlaReached),
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
        let rows = store.searches_of(&t("acme"), &check).await.unwrap();
        let done = rows.iter().find(|r| r.id == searches[0]).unwrap();
        assert_eq!(
            (
                done.state.as_str(),
                done.outcome.as_ref().map(Outcome::as_str)
            ),
            ("completed", Some("VERIFIED"))
        );
        assert_eq!(
            store
                .webhook_events(&t("acme"), &searches[0])
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(store.has_event("n1").await.unwrap());
        assert!(store
            .searches_of(&t("globex"), &check)
            .await
            .unwrap()
            .is_empty());
        let owed = store.owed(Some(&t("acme"))).await.unwrap();
        assert_eq!((owed.orders, owed.open_searches), (0, 1));
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
                tenant: t("acme"),
                reference: ThearyOrderId::new("ord_1")
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
            Vec::<TenantKey>::new()
        );
        store
            .ensure_tenants(&[t("acme"), t("globex")])
            .await
            .unwrap();
        assert_eq!(store.due_tenants(0, 10).await.unwrap().len(), 2);
    })
    .await;
}
