//! Push work: versioned documents, acknowledged by the lease holder, backed off, reclaimed.

use super::*;

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
        let snap = store
            .check_record(&t("acme"), &check)
            .await
            .unwrap()
            .unwrap();
        // The searches move while the push is in flight.
        store
            .apply_search_update(
                &t("acme"),
                &searches[0],
                &completed("VERIFIED"),
                Some(&ThearySearchId::new("t-0")),
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
                .check_record(&t("acme"), &check)
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
        let after = store
            .check_record(&t("acme"), &check)
            .await
            .unwrap()
            .unwrap();
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
                .reclaim_if_reset(&t("acme"), &check, 9_000, 20_000)
                .await
                .unwrap(),
            "listing older than the ack"
        );
        assert!(store
            .reclaim_if_reset(&t("acme"), &check, 15_000, 20_000)
            .await
            .unwrap());
        assert_eq!(
            store
                .check_record(&t("acme"), &check)
                .await
                .unwrap()
                .unwrap()
                .acked_version,
            0
        );
    })
    .await;
}
