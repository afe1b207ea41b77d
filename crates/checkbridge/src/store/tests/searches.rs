//! Webhook events, forward-only outcomes and the reconciler's work.

use super::*;
use sqlx::Row as _;

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
                            body_digest: None,
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

/// Every order of one search's events (two progress notifications, an action-required, the
/// completion, and the completion again as Theary redelivers it) ends in the same record:
/// the search completed with its outcome and the completion's data, never moved back.
#[tokio::test]
async fn every_order_of_a_searchs_events_ends_in_the_same_state() {
    use crate::domain::events::update_for_event;
    let bodies = [
        r#"{"event":"verification.notification","data":{"searchId":"S","notificationType":"CONTACT_PLAN"}}"#,
        r#"{"event":"verification.notification","data":{"searchId":"S","notificationType":"OUTBOUND_ATTEMPT"}}"#,
        r#"{"event":"verification.action_required","data":{"searchId":"S","reasonCode":"SLA_REACHED"}}"#,
        r#"{"event":"verification.completed","data":{"searchId":"S","status":"COMPLETED","verificationResult":{"outcome":"VERIFIED","discrepancy":true}}}"#,
    ];
    // (event id, body index): the completion comes twice under one id.
    let events = [("n1", 0), ("n2", 1), ("ar", 2), ("c", 3), ("c", 3)];
    let parse = |body: &str| {
        let sig = theary::signature::sign(b"k", body.as_bytes());
        theary::signature::verify(b"k", body.as_bytes(), Some(&sig))
            .unwrap()
            .parse()
            .unwrap()
            .event
    };
    let orders = permutations(events.len());
    assert_eq!(orders.len(), 120);
    on_each_backend(|store| {
        let orders = orders.clone();
        async move {
            let mut finals = std::collections::BTreeSet::new();
            for (n, order) in orders.iter().enumerate() {
                let (check, searches) = ordered(&store, &format!("perm-{n}")).await;
                for (step, &i) in order.iter().enumerate() {
                    let (id, b) = events[i];
                    let update = update_for_event(&parse(bodies[b]), bodies[b]);
                    store
                        .record_event(
                            &EventRecord {
                                event_id: &format!("{n}-{id}"),
                                tenant: &t("acme"),
                                search_id: &searches[0],
                                check_id: &check,
                                event_type: "e",
                                body: bodies[b],
                                theary_search_id: None,
                                body_digest: None,
                            },
                            update.as_ref(),
                            10 + step as i64,
                            60_000,
                        )
                        .await
                        .unwrap();
                }
                let s = store.searches_of(&t("acme"), &check).await.unwrap();
                let s = s.iter().find(|s| s.id == searches[0]).unwrap();
                let result: Option<String> =
                    sqlx::query("SELECT result FROM searches WHERE id = $1")
                        .bind(searches[0].as_str())
                        .fetch_one(&store.pool)
                        .await
                        .unwrap()
                        .try_get("result")
                        .unwrap();
                let stored: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM webhook_events WHERE search_id = $1")
                        .bind(searches[0].as_str())
                        .fetch_one(&store.pool)
                        .await
                        .unwrap()
                        .try_get("n")
                        .unwrap();
                assert_eq!(
                    stored, 4,
                    "order {order:?}: the redelivery is not stored again"
                );
                finals.insert(format!(
                    "{:?} {:?} {} {:?} {}",
                    s.state,
                    s.outcome,
                    s.discrepancy,
                    s.reason_code,
                    result.as_deref() == Some(bodies[3])
                ));
            }
            assert_eq!(
                finals.into_iter().collect::<Vec<_>>(),
                ["Completed Some(Verified) true None true"],
                "one final state whatever the order"
            );
        }
    })
    .await;
}

/// Every ordering of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            out.push(p);
        }
    }
    out
}
