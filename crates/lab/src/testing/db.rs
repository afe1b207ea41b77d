//! A database of a test's own, on SQLite or PostgreSQL.

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

    /// Every engine available: SQLite always, PostgreSQL when configured. With
    /// `CHECKBRIDGE_REQUIRE_POSTGRES=1` (CI sets it) a missing server fails the test instead
    /// of skipping its PostgreSQL run.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        match TestDb::postgres().await {
            Some(pg) => dbs.push(pg),
            None => {
                assert!(
                    std::env::var("CHECKBRIDGE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "CHECKBRIDGE_REQUIRE_POSTGRES=1 but CHECKBRIDGE_TEST_POSTGRES_URL is not set"
                );
                eprintln!("CHECKBRIDGE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped");
            }
        }
        dbs
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Drops a PostgreSQL database now (a SQLite file goes with its directory).
    pub async fn drop_now(mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let pool = AnyPool::connect(&admin).await.unwrap();
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

impl Drop for TestDb {
    /// A test that failed before `drop_now` still leaves no database behind: it is dropped
    /// from a thread of its own (this may run inside an async runtime).
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let pool = AnyPool::connect(&admin).await.ok()?;
                    let done =
                        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&pool)
                            .await
                            .ok();
                    pool.close().await;
                    done
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(_))) {
                eprintln!("test database could not be dropped");
            }
        }
    }
}
