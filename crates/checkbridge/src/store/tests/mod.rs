//! The same tests on SQLite and PostgreSQL, one module per job of the store. PostgreSQL
//! runs when `CHECKBRIDGE_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); each test
//! gets a database of its own, dropped afterwards. The helpers here (a fresh store on each
//! engine, a claimed check, an ordered one) are shared by every module.

use std::future::Future;

use super::*;

mod checks;
mod durability;
mod health;
mod orders;
mod polls;
mod pushes;
mod searches;

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

fn completed(outcome: &str) -> SearchUpdate {
    SearchUpdate {
        outcome: "completed",
        result_outcome: Some(outcome.into()),
        discrepancy: false,
        reason_code: None,
        result_json: Some("{}".into()),
    }
}
