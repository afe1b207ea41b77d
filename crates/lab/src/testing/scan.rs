//! Looking where nothing personal may be: raw database storage; and the secrets a test needs
//! to sign webhooks as Theary would.

use checkbridge::domain::check::SearchRecord;
use checkbridge::domain::ids::{CheckId, PageUpCheckId, TenantKey};
use sqlx::AnyPool;

/// Which of `needles` appear anywhere in the database's raw storage: the SQLite file and
/// its write-ahead log byte for byte, or every row of every table as PostgreSQL prints it.
pub async fn found_in_raw_database(url: &str, needles: &[String]) -> Vec<String> {
    let mut haystack: Vec<u8> = Vec::new();
    if let Some(path) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                haystack.extend_from_slice(&bytes);
            }
        }
        assert!(!haystack.is_empty(), "the database file was read");
    } else {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(url).await.unwrap();
        // Every table of the schema, whole rows as text (every column).
        let tables: Vec<String> = sqlx::query(
            "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| sqlx::Row::try_get(r, "t").unwrap())
        .collect();
        for table in ["checks", "searches", "webhook_events", "users", "error_log"] {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} is scanned: {tables:?}"
            );
        }
        for table in &tables {
            let rows = sqlx::query(&format!("SELECT CAST(t AS TEXT) AS r FROM {table} t"))
                .fetch_all(&pool)
                .await
                .unwrap();
            for row in rows {
                let text: String = sqlx::Row::try_get(&row, "r").unwrap();
                haystack.extend_from_slice(text.as_bytes());
            }
        }
        pool.close().await;
    }
    needles
        .iter()
        .filter(|n| haystack.windows(n.len()).any(|w| w == n.as_bytes()))
        .cloned()
        .collect()
}

/// A claimed check's id, its first search, and its order's webhook secret as the service
/// opens it (to sign events as Theary would).
pub async fn order_secret(
    store: &checkbridge::store::Store,
    engine: &checkbridge::sync::Engine,
    tenant: &str,
    pageup_id: &str,
) -> (CheckId, SearchRecord, zeroize::Zeroizing<Vec<u8>>) {
    let tenant = &TenantKey::from(tenant);
    let check = store
        .check_id_for(tenant, &PageUpCheckId::from(pageup_id))
        .await
        .unwrap()
        .unwrap();
    let search = store.searches_of(tenant, &check).await.unwrap().remove(0);
    let target = store
        .webhook_target(tenant, search.id.as_str())
        .await
        .unwrap()
        .unwrap();
    let secret = engine
        .keyring()
        .open(
            checkbridge::crypto::Place::webhook_secret(tenant, &check),
            &target.secret,
        )
        .await
        .unwrap();
    (check, search, secret)
}
