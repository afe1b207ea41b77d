//! One SQLite file across store instances: migrations applied once, and group-committed
//! writes durable, with a failing one failing alone.

use super::*;

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
            let id = CheckId::random();
            let searches = [NewSearch {
                id: SearchId::new(if i == 17 { clash } else { format!("{id}-emp") }),
                search_type: SearchType::Employment,
            }];
            let pageup_id = PageUpCheckId::new(format!("p{i}"));
            store
                .record_claimed(
                    &NewCheck {
                        id: &id,
                        tenant: &t("acme"),
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
    let owed = other.owed(Some(&t("acme"))).await.unwrap();
    assert_eq!(owed.orders, 64, "{owed:?}");
    let again = claim(&other, "acme", "p17", "s", 3).await;
    assert!(again.new, "the failed claim left no row behind");
    // The writer is free again: other processes are not kept waiting.
    assert!(claim(&store, "acme", "after", "s", 4).await.new);
}

#[tokio::test]
async fn orders_written_before_schema_10_move_to_their_table_and_are_still_leased() {
    use sqlx::{Connection as _, Executor as _, Row as _};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/v9.db", dir.path().display());
    // A database as version 9 left it, holding a check whose order is in its own row.
    {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        conn.execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, \
             applied_at BIGINT NOT NULL, checksum TEXT)",
        )
        .await
        .unwrap();
        for m in MIGRATIONS.iter().filter(|m| m.version <= 9) {
            conn.execute(m.sql).await.unwrap();
            sqlx::query(
                "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES ($1, 0, $2)",
            )
            .bind(m.version)
            .bind(m.checksum())
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.execute(
            "INSERT INTO checks (id, tenant, pageup_id, phase, order_json, webhook_secret, \
             order_due_at, created_at, updated_at) \
             VALUES ('c-old', 'acme', 'p-old', 'claimed', 'sealed-order', 's', 1, 1, 1)",
        )
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let store = Store::connect(&url).await.unwrap();
    let work = store.lease_order_work("w", 2, MINUTE, 10).await.unwrap();
    assert_eq!(work.len(), 1);
    assert_eq!(work[0].order_json.as_deref(), Some("sealed-order"));
    let columns: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM pragma_table_info('checks') WHERE name = 'order_json'",
    )
    .fetch_one(&store.pool)
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    assert_eq!(columns, 0, "the check's row no longer holds the order");
}
