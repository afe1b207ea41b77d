//! What tests share: a database of the test's own, waiting with a deadline, scanning raw
//! storage for what must never be there, and the secrets a test needs to sign as Theary.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::AnyPool;

/// A database of the test's own: SQLite in a temporary directory, or a fresh PostgreSQL
/// database dropped when the guard goes.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            url: format!("sqlite://{}/checkbridge.db", dir.path().display()),
            _dir: Some(dir),
            pg: None,
        }
    }

    /// None when no PostgreSQL server is configured for tests.
    pub async fn postgres() -> Option<TestDb> {
        let admin = std::env::var("CHECKBRIDGE_TEST_POSTGRES_URL").ok()?;
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(&admin).await.unwrap();
        let name = format!("cb_e2e_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(TestDb {
            url: url.to_string(),
            _dir: None,
            pg: Some((admin, name)),
        })
    }

    /// Every engine available: SQLite always, PostgreSQL when configured.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        match TestDb::postgres().await {
            Some(pg) => dbs.push(pg),
            None => eprintln!("CHECKBRIDGE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"),
        }
        dbs
    }

    pub async fn drop_now(self) {
        if let Some((admin, name)) = &self.pg {
            let pool = AnyPool::connect(admin).await.unwrap();
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

/// Polls `probe` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
        for table in [
            "checks",
            "searches",
            "webhook_events",
            "tenant_polls",
            "tenant_keys",
        ] {
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
) -> (
    String,
    checkbridge::store::SearchRow,
    zeroize::Zeroizing<Vec<u8>>,
) {
    let check = store
        .check_id_for(tenant, pageup_id)
        .await
        .unwrap()
        .unwrap();
    let search = store.searches_of(tenant, &check).await.unwrap().remove(0);
    let target = store
        .webhook_target(tenant, &search.id)
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
