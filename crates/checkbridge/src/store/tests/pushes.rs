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

#[tokio::test]
async fn acknowledgements_written_together_each_keep_the_lease_rule() {
    on_each_backend(|store| async move {
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(claim(&store, "acme", &format!("b{i}"), "s", 1).await.id);
        }
        assert_eq!(
            store
                .lease_push_work("p1", 100, MINUTE, 10)
                .await
                .unwrap()
                .len(),
            6
        );
        let version = |id: CheckId| {
            let store = store.clone();
            async move {
                let r = store.check_record(&t("acme"), &id).await.unwrap().unwrap();
                (r.desired_version, r.acked_version)
            }
        };
        let (v, _) = version(ids[0].clone()).await;
        // One statement for two: the holder's acknowledgement applies, a stranger's not.
        let ack = |id: &CheckId, owner: &str| acks::Ack {
            id: id.clone(),
            owner: owner.to_owned(),
            version: v,
            at: 200,
        };
        let (mine, theirs) = (ack(&ids[0], "p1"), ack(&ids[1], "p2"));
        acks::write_acks(&store, &[&mine, &theirs]).await.unwrap();
        assert_eq!(version(ids[0].clone()).await, (v, v));
        assert_eq!(version(ids[1].clone()).await, (v, 0));
        // The rest at once, through the batcher: each returns once its own is written.
        let all =
            futures::future::join_all(ids[2..].iter().map(|id| store.ack_push(id, "p1", v, 300)))
                .await;
        assert!(all.iter().all(Result::is_ok), "{all:?}");
        for id in &ids[2..] {
            assert_eq!(version(id.clone()).await, (v, v));
        }
        // Only the stranger's is still owed, and still leased to its holder.
        assert_eq!(store.owed(None).await.unwrap().pushes, 1);
        assert!(store
            .lease_push_work("p3", 150, MINUTE, 10)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}
