//! Replicas that start together on a fresh database, and schemas a binary must refuse.

use std::sync::Arc;

use checkbridge::store::{latest_version, MigrationState, Store, StoreError, MIGRATIONS};
use checkbridge_lab::testing::TestDb;
use sqlx::AnyPool;
use tokio::sync::Barrier;

/// Opens a plain pool on a test database, to arrange what an older or newer binary left.
async fn raw(db: &TestDb) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(&db.url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_started_at_the_same_instant_on_a_fresh_database_all_come_up() {
    const REPLICAS: usize = 6;
    for round in 0..3 {
        for db in TestDb::all().await {
            let barrier = Arc::new(Barrier::new(REPLICAS));
            let starts: Vec<_> = (0..REPLICAS)
                .map(|_| {
                    let url = db.url.clone();
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        Store::connect(&url).await.map(|_| ())
                    })
                })
                .collect();
            let mut failures = Vec::new();
            for start in starts {
                if let Err(e) = start.await.unwrap() {
                    failures.push(format!("{e}: {:?}", std::error::Error::source(&e)));
                }
            }
            assert!(
                failures.is_empty(),
                "round {round}, postgres {}: {failures:?}",
                db.is_postgres()
            );
            let status = Store::migration_status(&db.url).await.unwrap();
            assert_eq!(status.len(), MIGRATIONS.len());
            assert!(status.iter().all(|s| s.state == MigrationState::Applied));
            let pool = raw(&db).await;
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(
                rows,
                i64::try_from(MIGRATIONS.len()).unwrap(),
                "each applied once"
            );
            pool.close().await;
            db.drop_now().await;
        }
    }
    println!("{REPLICAS} replicas x 3 rounds started together on each engine: all came up");
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_with_both_versions_named() {
    for db in TestDb::all().await {
        Store::connect(&db.url).await.unwrap();
        let pool = raw(&db).await;
        sqlx::query(
            "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES ($1, 0, 'x')",
        )
        .bind(latest_version() + 7)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let err = Store::connect(&db.url).await.unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { database, binary }
            if database == latest_version() + 7 && binary == latest_version()));
        let message = err.to_string();
        assert!(
            message.contains(&format!("version {}", latest_version() + 7))
                && message.contains(&format!("up to {}", latest_version())),
            "{message}"
        );
        let status = Store::migration_status(&db.url).await.unwrap();
        assert_eq!(status.last().unwrap().state, MigrationState::Unknown);
        db.drop_now().await;
    }
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    for db in TestDb::all().await {
        Store::connect(&db.url).await.unwrap();
        let pool = raw(&db).await;
        sqlx::query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let err = Store::connect(&db.url).await.unwrap_err();
        assert!(
            matches!(err, StoreError::MigrationChanged { version: 1 }),
            "{err}"
        );
        let status = Store::migration_status(&db.url).await.unwrap();
        assert_eq!(status[0].state, MigrationState::Changed);
        db.drop_now().await;
    }
}

#[tokio::test]
async fn a_database_migrated_before_checksums_adopts_them_and_keeps_its_data() {
    for db in TestDb::all().await {
        // What an earlier version left: the migrations table without its checksum column.
        Store::connect(&db.url).await.unwrap();
        let pool = raw(&db).await;
        sqlx::raw_sql("ALTER TABLE schema_migrations DROP COLUMN checksum")
            .execute(&pool)
            .await
            .unwrap();
        let status = Store::migration_status(&db.url).await.unwrap();
        assert!(status.iter().all(|s| s.state == MigrationState::Applied));
        let report = Store::migrate(&db.url).await.unwrap();
        assert!(report.applied.is_empty(), "nothing applied twice");
        let missing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations WHERE checksum IS NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(missing, 0, "every version has its checksum now");
        pool.close().await;
        Store::connect(&db.url).await.unwrap();
        db.drop_now().await;
    }
}

#[tokio::test]
async fn status_of_a_fresh_database_lists_every_migration_pending_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}/none.db", dir.path().display());
    assert!(Store::migration_status(&missing).await.is_err());
    assert!(
        !dir.path().join("none.db").exists(),
        "status created no file"
    );
    for db in TestDb::all().await {
        if db.is_postgres() {
            let status = Store::migration_status(&db.url).await.unwrap();
            assert!(status.iter().all(|s| s.state == MigrationState::Pending));
        }
        let report = Store::migrate(&db.url).await.unwrap();
        let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(report.applied, all);
        assert_eq!(
            Store::migrate(&db.url).await.unwrap().applied,
            Vec::<i64>::new()
        );
        db.drop_now().await;
    }
}
