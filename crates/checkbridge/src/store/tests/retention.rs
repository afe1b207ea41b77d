//! Purge and shred, read back column by column: what held candidate data is empty, what
//! PageUp and the audit need stays, and another tenant is never touched.

use super::*;
use sqlx::Row as _;

/// Counts rows of `sql` (a `SELECT COUNT(*) AS n ...` with `$1` bound to `arg`).
async fn count(store: &Store, sql: &str, arg: &str) -> i64 {
    sqlx::query(sql)
        .bind(arg)
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap()
}

/// An ordered check of `tenant` with one event stored and its search completed.
async fn finished(store: &Store, tenant: &str, pageup_id: &str) -> (CheckId, SearchId) {
    let check = claim(store, tenant, pageup_id, "order-secret", 1).await;
    let work = store.lease_order_work("w", 2, MINUTE, 100).await.unwrap();
    assert!(work.iter().any(|w| w.id == check.id));
    assert!(store
        .record_order(
            &PlacedOrder {
                tenant: &t(tenant),
                check_id: &check.id,
                owner: "w",
                reference: &ThearyOrderId::new(format!("ord_{pageup_id}")),
                theary_ids: &[],
                reconcile_at: 50_000,
            },
            3,
        )
        .await
        .unwrap());
    let search = store.searches_of(&t(tenant), &check.id).await.unwrap()[0]
        .id
        .clone();
    let update = SearchUpdate {
        result_json: Some("sealed-result".into()),
        ..completed("VERIFIED")
    };
    assert!(store
        .record_event(
            &EventRecord {
                event_id: &format!("ev-{pageup_id}"),
                tenant: &t(tenant),
                search_id: &search,
                check_id: &check.id,
                event_type: "verification.completed",
                body: "sealed-body",
                theary_search_id: None,
                body_digest: None,
            },
            Some(&update),
            10,
            11,
        )
        .await
        .unwrap());
    (check.id, search)
}

#[tokio::test]
async fn a_purge_empties_every_column_of_candidate_data_and_keeps_the_rest() {
    on_each_backend(|store| async move {
        let (check, search) = finished(&store, "acme", "p1").await;
        let (other, _) = finished(&store, "acme", "p2").await;
        assert!(store.purge_check(&t("acme"), &check, 100).await.unwrap());
        assert!(
            !store.purge_check(&t("acme"), &check, 101).await.unwrap(),
            "purged once"
        );

        let row = sqlx::query(
            "SELECT (SELECT order_json FROM check_orders WHERE check_id = checks.id) AS order_json, \
             webhook_secret, pii_purged_at, pageup_id, phase FROM checks WHERE id = $1",
        )
        .bind(check.as_str())
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(row.try_get::<Option<String>, _>("order_json").unwrap(), None);
        assert_eq!(row.try_get::<String, _>("webhook_secret").unwrap(), "");
        assert_eq!(row.try_get::<Option<i64>, _>("pii_purged_at").unwrap(), Some(100));
        assert_eq!(row.try_get::<String, _>("pageup_id").unwrap(), "p1", "kept");
        assert_eq!(row.try_get::<String, _>("phase").unwrap(), "ordered", "kept");

        let s = sqlx::query("SELECT result, result_outcome FROM searches WHERE id = $1")
            .bind(search.as_str())
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(s.try_get::<Option<String>, _>("result").unwrap(), None);
        assert_eq!(
            s.try_get::<Option<String>, _>("result_outcome").unwrap().as_deref(),
            Some("VERIFIED"),
            "the outcome PageUp shows is kept"
        );
        let e = sqlx::query("SELECT body, event_type FROM webhook_events WHERE event_id = 'ev-p1'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(e.try_get::<String, _>("body").unwrap(), "");
        assert_eq!(
            e.try_get::<String, _>("event_type").unwrap(),
            "verification.completed",
            "the event stays, so a redelivery is still a duplicate"
        );

        // The other check of the same tenant is untouched.
        let kept = sqlx::query(
            "SELECT (SELECT order_json FROM check_orders WHERE check_id = checks.id) AS order_json, \
             webhook_secret FROM checks WHERE id = $1",
        )
            .bind(other.as_str())
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            kept.try_get::<Option<String>, _>("order_json").unwrap().as_deref(),
            Some("{}")
        );
        assert_eq!(kept.try_get::<String, _>("webhook_secret").unwrap(), "order-secret");
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) AS n FROM webhook_events WHERE event_id = $1 AND body = 'sealed-body'",
                "ev-p2"
            )
            .await,
            1
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) AS n FROM searches WHERE check_id = $1 AND result = 'sealed-result'",
                other.as_str()
            )
            .await,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_shred_leaves_nothing_of_the_tenant_but_the_record_that_it_was_shredded() {
    on_each_backend(|store| async move {
        for tenant in ["acme", "globex"] {
            finished(&store, tenant, &format!("{tenant}-1")).await;
            store
                .insert_data_key(&t(tenant), 1, "m", "wrapped-key")
                .await
                .unwrap();
            assert!(store
                .create_user(&t(tenant), &format!("reader@{tenant}"), "hash", 1)
                .await
                .unwrap());
            let (id, _, _) = store
                .user_for_login(&format!("reader@{tenant}"))
                .await
                .unwrap()
                .unwrap();
            store
                .create_session(&format!("session-{tenant}"), &id, 1, i64::MAX)
                .await
                .unwrap();
            store
                .log_error(&errors::ErrorEntry {
                    at: 1,
                    tenant: t(tenant),
                    operation: "pageup.list".into(),
                    http_status: Some(503),
                    message: "PageUp answered 503".into(),
                    correlation: "c".into(),
                    check_id: None,
                })
                .await
                .unwrap();
            store
                .open_issue(&t(tenant), "auth", "pageup", "sign-in fails", 1, false)
                .await
                .unwrap();
            assert!(store.lease_tenant_poll(&t(tenant), "w", 1, MINUTE).await.unwrap());
        }
        assert_eq!(store.shred_tenant(&t("globex"), 5).await.unwrap(), 1);

        let tables = [
            "checks",
            "check_orders",
            "searches",
            "webhook_events",
            "tenant_polls",
            "users",
            "error_log",
            "health_issues",
        ];
        for table in tables {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant = $1");
            assert_eq!(count(&store, &sql, "globex").await, 0, "{table} of globex");
            assert!(count(&store, &sql, "acme").await > 0, "{table} of acme is kept");
        }
        let sessions = "SELECT COUNT(*) AS n FROM sessions WHERE token_hash = $1";
        assert_eq!(count(&store, sessions, "session-globex").await, 0);
        assert_eq!(count(&store, sessions, "session-acme").await, 1);
        // The key rows stay as tombstones (so no new key is made), with nothing in them.
        let keys = "SELECT COUNT(*) AS n FROM tenant_keys WHERE tenant = $1 AND wrapped = '' AND destroyed_at IS NOT NULL";
        assert_eq!(count(&store, keys, "globex").await, 1);
        assert_eq!(count(&store, keys, "acme").await, 0);
        assert_eq!(store.current_data_key(&t("globex")).await.unwrap(), None);
        assert_eq!(store.current_data_key(&t("acme")).await.unwrap(), Some(1));
        // The access record says so.
        let last = store.access_records(&t("globex")).await.unwrap();
        assert_eq!(last.last().unwrap().action.as_str(), "tenant_shredded");
    })
    .await;
}
