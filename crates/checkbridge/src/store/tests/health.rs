//! Health issues and their alerts, and checks counted as stuck.

use super::*;

#[tokio::test]
async fn one_open_issue_per_subject_and_each_change_owes_one_alert() {
    on_each_backend(|store| async move {
        assert!(store
            .open_issue(&t("acme"), "auth", "pageup", "PageUp refuses", 1_000, true)
            .await
            .unwrap());
        // Open already: only its summary and last-seen time change.
        assert!(!store
            .open_issue(
                &t("acme"),
                "auth",
                "pageup",
                "PageUp still refuses",
                2_000,
                true
            )
            .await
            .unwrap());
        assert!(store
            .open_issue(
                &t("globex"),
                "auth",
                "pageup",
                "PageUp refuses",
                2_000,
                false
            )
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
            .resolve_issue(&t("acme"), "auth", "pageup", 30_000, true)
            .await
            .unwrap());
        assert!(!store
            .resolve_issue(&t("acme"), "auth", "pageup", 31_000, true)
            .await
            .unwrap());
        let work = store.lease_alerts("me", 32_000, MINUTE, 10).await.unwrap();
        assert_eq!(work.len(), 1);
        assert!(!work[0].open_owed && work[0].resolve_owed);
        assert_eq!(work[0].issue.resolved_at, Some(30_000));

        // After resolution a new issue of the same subject may open.
        assert!(store
            .open_issue(&t("acme"), "auth", "pageup", "again", 40_000, false)
            .await
            .unwrap());
        let history = store.issues_of(&t("acme"), 0).await.unwrap();
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
        assert_eq!(stuck, vec![(t("acme"), 2, 0)]);
    })
    .await;
}
