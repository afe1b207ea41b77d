//! The same tests on SQLite and PostgreSQL, one module per job of the store. PostgreSQL
//! runs when `CHECKBRIDGE_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); each test
//! gets a database of its own, dropped afterwards. The helpers here (a fresh store on each
//! engine, a claimed check, an ordered one) are shared by every module.

use std::future::Future;

use super::*;
use crate::domain::check::{SearchState, SearchUpdate};
use crate::domain::ids::{
    CheckId, PageUpCheckId, SearchId, TenantKey, ThearyOrderId, ThearySearchId,
};
use theary::wire::{Outcome, SearchType};

mod candidates;
mod checks;
mod durability;
mod health;
mod intake;
mod orders;
mod polls;
mod pushes;
mod retention;
mod searches;
mod sso;

const MINUTE: Duration = Duration::from_secs(60);

/// `key` as a tenant key (tests name tenants by their text).
fn t(key: &str) -> TenantKey {
    TenantKey::from(key)
}

async fn claim(store: &Store, tenant: &str, pageup_id: &str, secret: &str, now: i64) -> Recorded {
    let id = CheckId::random();
    let searches = [
        NewSearch {
            id: SearchId::new(format!("{id}-emp")),
            search_type: SearchType::Employment,
        },
        NewSearch {
            id: SearchId::new(format!("{id}-edu")),
            search_type: SearchType::Education,
        },
    ];
    store
        .record_claimed(
            &NewCheck {
                id: &id,
                tenant: &t(tenant),
                pageup_id: &PageUpCheckId::from(pageup_id),
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
        assert!(
            std::env::var("CHECKBRIDGE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "CHECKBRIDGE_REQUIRE_POSTGRES=1 but CHECKBRIDGE_TEST_POSTGRES_URL is not set"
        );
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
async fn ordered(store: &Store, pageup_id: &str) -> (CheckId, Vec<SearchId>) {
    let check = claim(store, "acme", pageup_id, "order-secret", 1).await;
    let work = store.lease_order_work("w", 2, MINUTE, 100).await.unwrap();
    let work = work.iter().find(|w| w.id == check.id).unwrap();
    assert!(store
        .record_order(
            &PlacedOrder {
                tenant: &t("acme"),
                check_id: &check.id,
                owner: "w",
                reference: &ThearyOrderId::new("ord_1"),
                theary_ids: &[(
                    work.search_ids[0].clone(),
                    ThearySearchId::new(&format!("theirs-{pageup_id}")),
                )],
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
        state: SearchState::Completed,
        outcome: Some(Outcome::parse(outcome)),
        discrepancy: false,
        reason_code: None,
        result_json: Some("{}".into()),
    }
}
