//! Order work: one worker per lease, taken over after expiry, recorded by its holder.

use std::collections::HashSet;

use super::*;
use crate::domain::check::Phase;

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
        // The crashed workers' leases count as attempts (either may have posted): the new
        // owner looks each order up at Theary before posting.
        assert!(taken_over
            .iter()
            .all(|w| w.tenant == "acme" && w.attempts == 1));
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
async fn an_order_is_recorded_by_its_lease_holder_and_its_searches_are_found() {
    on_each_backend(|store| async move {
        let check = claim(&store, "acme", "42", "order-secret", 1).await;
        let record = |owner: &'static str, ids: Vec<(SearchId, ThearySearchId)>| {
            let (store, id) = (store.clone(), check.id.clone());
            async move {
                store
                    .record_order(
                        &PlacedOrder {
                            tenant: &t("acme"),
                            check_id: &id,
                            owner,
                            reference: &ThearyOrderId::new("ord_1"),
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
            .find(|s| s.as_str().ends_with("-emp"))
            .unwrap()
            .clone();
        let ids = vec![(emp.clone(), ThearySearchId::new("aaaa-1"))];
        // A webhook can arrive before the order is recorded: the search is known from the claim.
        assert!(store
            .webhook_target(&t("acme"), emp.as_str())
            .await
            .unwrap()
            .is_some());
        assert!(record("w", ids.clone()).await);
        assert!(!record("w", ids).await, "recorded once");
        assert_eq!(
            store
                .check_phase(&t("acme"), &check.id)
                .await
                .unwrap()
                .map(Phase::as_str),
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
            let target = store
                .webhook_target(&t("acme"), search_ref)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (target.search_id.as_str(), target.secret.as_str()),
                (emp.as_str(), "order-secret"),
                "{search_ref}"
            );
        }
        assert!(
            store
                .webhook_target(&t("globex"), emp.as_str())
                .await
                .unwrap()
                .is_none(),
            "another tenant's search is not found"
        );
        assert!(store
            .webhook_target(&t("acme"), "nope")
            .await
            .unwrap()
            .is_none());
        let snap = store
            .check_record(&t("acme"), &check.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                snap.phase.as_str(),
                snap.reference.as_ref().map(ThearyOrderId::as_str),
                snap.desired_version,
                snap.acked_version
            ),
            ("ordered", Some("ord_1"), 2, 0)
        );
        assert!(store
            .check_record(&t("globex"), &check.id)
            .await
            .unwrap()
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn order_and_push_work_leave_out_the_tenants_asked_for_and_find_every_search() {
    on_each_backend(|store| async move {
        for i in 0..3 {
            claim(&store, "acme", &format!("a{i}"), "s", 1_000 + i).await;
            claim(&store, "globex", &format!("g{i}"), "s", 1_000 + i).await;
            claim(&store, "initech", &format!("i{i}"), "s", 1_000 + i).await;
        }
        let work = store
            .lease_order_work_except("w", 5_000, MINUTE, 100, &[t("acme"), t("initech")])
            .await
            .unwrap();
        assert_eq!(work.len(), 3, "only globex's checks");
        assert!(work.iter().all(|w| w.tenant == "globex"));
        // Each leased check comes with its own searches (one query for all of them).
        for w in &work {
            assert_eq!(w.search_ids.len(), 2, "{} has both its searches", w.id);
            assert!(
                w.search_ids
                    .iter()
                    .all(|s| s.as_str().starts_with(w.id.as_str())),
                "and only its own"
            );
        }
        let rest = store
            .lease_order_work_except("w", 5_000, MINUTE, 100, &[t("acme")])
            .await
            .unwrap();
        assert_eq!(rest.len(), 3);
        assert!(rest.iter().all(|w| w.tenant == "initech"));

        // The claims owe PageUp `queued`; pushes leave out tenants the same way.
        let pushes = store
            .lease_push_work_except("p", 5_000, MINUTE, 100, &[t("globex")])
            .await
            .unwrap();
        assert!(!pushes.is_empty());
        assert!(pushes.iter().all(|w| w.tenant != "globex"));
    })
    .await;
}
