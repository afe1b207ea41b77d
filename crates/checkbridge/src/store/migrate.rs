//! Schema migrations: ordered, checksummed, and applied under one lock taken before any DDL,
//! so replicas that start together on a fresh database apply each migration exactly once.
//!
//! The lock is a PostgreSQL session advisory lock held on one connection for the whole run
//! (released when the run ends, or by the server when the process dies), or SQLite's write
//! lock (`BEGIN IMMEDIATE`: the whole run is one transaction, since SQLite's DDL is
//! transactional). Every applied migration is recorded with the SHA-256 of its text; a
//! database whose record disagrees with this binary (a migration edited after release), or
//! that holds a version this binary does not know (a newer binary migrated it), is refused
//! with a message naming both sides.

use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
// Plain `Executor::execute` with a string and no arguments, not `raw_sql`: the latter's
// future is not `Send` for every lifetime, so a store started in a spawned task would not
// compile. Without arguments the string may hold several statements.
use sqlx::{AnyConnection, AnyPool, Executor as _, Row as _};

use super::{Backend, StoreError};
use crate::time::now_ms;

/// One migration of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    /// What it does, in a few words (shown by `migrate status`).
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the migration's text, in hex.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// Every migration this binary knows, in the order they apply.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: include_str!("schema.sql"),
    },
    Migration {
        version: 2,
        name: "tenant health and alerts",
        sql: include_str!("schema_v2.sql"),
    },
    Migration {
        version: 3,
        name: "key check, refused-webhook log, webhook body digests",
        sql: include_str!("schema_v3.sql"),
    },
    Migration {
        version: 4,
        name: "sign-in failures, reader changes, session timeouts",
        sql: include_str!("schema_v4.sql"),
    },
    Migration {
        version: 5,
        name: "API tokens, access-record detail",
        sql: include_str!("schema_v5.sql"),
    },
    Migration {
        version: 6,
        name: "single sign-on: pending sign-ins, identities",
        sql: include_str!("schema_v6.sql"),
    },
    Migration {
        version: 7,
        name: "intake shapes: field paths seen per tenant, for schema drift",
        sql: include_str!("schema_v7.sql"),
    },
    Migration {
        version: 8,
        name: "go-live certifications",
        sql: include_str!("schema_v8.sql"),
    },
    Migration {
        version: 9,
        name: "the candidate's part: requests, form tokens, owed mail",
        sql: include_str!("schema_v9.sql"),
    },
    Migration {
        version: 10,
        name: "a check's order in a table of its own",
        sql: include_str!("schema_v10.sql"),
    },
];

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Where a migration stands in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// Applied, with the same text this binary has.
    Applied,
    /// Not applied yet (`migrate` or the next `serve` applies it).
    Pending,
    /// Applied, but with a different text than this binary's: refused.
    Changed,
    /// Recorded in the database, unknown to this binary (a newer version migrated it).
    Unknown,
}

/// One row of `migrate status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    /// Empty for a version this binary does not know.
    pub name: &'static str,
    pub state: MigrationState,
    /// When it was applied (milliseconds since the epoch), if it was.
    pub applied_at_ms: Option<i64>,
}

/// What one run of the migrator did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MigrateReport {
    /// Versions applied by this run, in order (empty: the schema was current).
    pub applied: Vec<i64>,
    /// The schema version after the run.
    pub version: i64,
    /// How long this run waited for another process's migration lock.
    pub waited_ms: u64,
}

/// A key for PostgreSQL's advisory lock, the same in every checkbridge process.
const PG_LOCK_KEY: i64 = 0x6368_6b62_6d69_6772; // "chkbmigr"

/// Applies every pending migration under the lock, after checking what is recorded.
pub(super) async fn apply(pool: &AnyPool, backend: Backend) -> Result<MigrateReport, StoreError> {
    let mut pooled = pool.acquire().await?;
    let conn: &mut AnyConnection = &mut pooled;
    let started = Instant::now();
    lock(conn, backend).await?;
    let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let outcome = apply_locked(conn, backend).await;
    let released = unlock(conn, backend, outcome.is_ok()).await;
    let mut report = outcome?;
    released?;
    report.waited_ms = waited_ms;
    if !report.applied.is_empty() {
        tracing::info!(applied = ?report.applied, version = report.version, waited_ms, "schema migrated");
    }
    Ok(report)
}

/// Reads where each migration stands, changing nothing.
pub(super) async fn status(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Vec<MigrationStatus>, StoreError> {
    let mut pooled = pool.acquire().await?;
    let conn: &mut AnyConnection = &mut pooled;
    let recorded = if table_exists(conn, backend).await? {
        recorded(conn, backend).await?
    } else {
        Vec::new()
    };
    Ok(compare(&recorded))
}

/// What the database records: version, applied at, checksum (None before checksums).
type Recorded = Vec<(i64, i64, Option<String>)>;

fn compare(recorded: &Recorded) -> Vec<MigrationStatus> {
    let mut out: Vec<MigrationStatus> = MIGRATIONS
        .iter()
        .map(|m| {
            let row = recorded.iter().find(|(v, _, _)| *v == m.version);
            let state = match row {
                None => MigrationState::Pending,
                Some((_, _, Some(sum))) if *sum != m.checksum() => MigrationState::Changed,
                Some(_) => MigrationState::Applied,
            };
            MigrationStatus {
                version: m.version,
                name: m.name,
                state,
                applied_at_ms: row.map(|(_, at, _)| *at),
            }
        })
        .collect();
    for (version, at, _) in recorded {
        if !MIGRATIONS.iter().any(|m| m.version == *version) {
            out.push(MigrationStatus {
                version: *version,
                name: "",
                state: MigrationState::Unknown,
                applied_at_ms: Some(*at),
            });
        }
    }
    out.sort_by_key(|s| s.version);
    out
}

async fn apply_locked(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<MigrateReport, StoreError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
         applied_at BIGINT NOT NULL, checksum TEXT)",
    )
    .await?;
    if !has_checksum_column(conn, backend).await? {
        // Databases migrated before checksums were recorded.
        conn.execute("ALTER TABLE schema_migrations ADD COLUMN checksum TEXT")
            .await?;
    }
    let recorded = recorded(conn, backend).await?;
    let statuses = compare(&recorded);
    if let Some(newer) = statuses
        .iter()
        .rfind(|s| s.state == MigrationState::Unknown)
    {
        return Err(StoreError::SchemaTooNew {
            database: newer.version,
            binary: latest_version(),
        });
    }
    if let Some(changed) = statuses.iter().find(|s| s.state == MigrationState::Changed) {
        return Err(StoreError::MigrationChanged {
            version: changed.version,
        });
    }
    // Versions recorded before checksums existed adopt this binary's text.
    for (version, _, sum) in &recorded {
        if sum.is_none() {
            if let Some(m) = MIGRATIONS.iter().find(|m| m.version == *version) {
                sqlx::query("UPDATE schema_migrations SET checksum = $1 WHERE version = $2")
                    .bind(m.checksum())
                    .bind(m.version)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    let mut report = MigrateReport::default();
    for migration in MIGRATIONS {
        if recorded.iter().any(|(v, _, _)| *v == migration.version) {
            continue;
        }
        // On SQLite the whole run is already one transaction (the lock); on PostgreSQL
        // each migration is its own, so a failed one leaves the earlier ones applied.
        let own_tx = backend == Backend::Postgres;
        if own_tx {
            conn.execute("BEGIN").await?;
        }
        let applied = apply_one(conn, migration).await;
        if own_tx {
            let end = if applied.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            };
            conn.execute(end).await?;
        }
        applied?;
        report.applied.push(migration.version);
    }
    report.version = latest_version();
    Ok(report)
}

async fn apply_one(conn: &mut AnyConnection, migration: &Migration) -> Result<(), sqlx::Error> {
    conn.execute(migration.sql).await?;
    sqlx::query(
        "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES ($1, $2, $3)",
    )
    .bind(migration.version)
    .bind(now_ms())
    .bind(migration.checksum())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn lock(conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    match backend {
        Backend::Postgres => {
            let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
                .bind(PG_LOCK_KEY)
                .fetch_one(&mut *conn)
                .await?
                .try_get("got")?;
            if !got {
                tracing::info!("another process is migrating this database: waiting for it");
                // pg_advisory_lock returns void, which the Any driver cannot decode.
                sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_lock($1)) AS l")
                    .bind(PG_LOCK_KEY)
                    .fetch_one(&mut *conn)
                    .await?;
            }
        }
        Backend::Sqlite => {
            // Waits up to the connection's busy timeout for another writer, then retries.
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                match conn.execute("BEGIN IMMEDIATE").await {
                    Ok(_) => break,
                    Err(e) if is_busy(&e) && Instant::now() < deadline => {
                        tracing::info!(
                            "another process is migrating this database: waiting for it"
                        );
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}

async fn unlock(
    conn: &mut AnyConnection,
    backend: Backend,
    commit: bool,
) -> Result<(), StoreError> {
    match backend {
        Backend::Postgres => {
            sqlx::query("SELECT pg_advisory_unlock($1) AS released")
                .bind(PG_LOCK_KEY)
                .fetch_one(&mut *conn)
                .await?;
        }
        Backend::Sqlite => {
            let end = if commit { "COMMIT" } else { "ROLLBACK" };
            conn.execute(end).await?;
        }
    }
    Ok(())
}

fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.message().contains("locked") || db.message().contains("busy"))
}

async fn table_exists(conn: &mut AnyConnection, backend: Backend) -> Result<bool, StoreError> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        }
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        }
    };
    let n: i64 = sqlx::query(sql).fetch_one(&mut *conn).await?.try_get("n")?;
    Ok(n > 0)
}

async fn has_checksum_column(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<bool, StoreError> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_schema = \
             current_schema() AND table_name = 'schema_migrations' AND column_name = 'checksum'"
        }
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM pragma_table_info('schema_migrations') WHERE name = 'checksum'"
        }
    };
    let n: i64 = sqlx::query(sql).fetch_one(&mut *conn).await?.try_get("n")?;
    Ok(n > 0)
}

async fn recorded(conn: &mut AnyConnection, backend: Backend) -> Result<Recorded, StoreError> {
    let checksum = if has_checksum_column(conn, backend).await? {
        "checksum"
    } else {
        "NULL AS checksum"
    };
    let rows = sqlx::query(&format!(
        "SELECT version, applied_at, {checksum} FROM schema_migrations ORDER BY version"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>("version")?,
                r.try_get::<i64, _>("applied_at")?,
                r.try_get::<Option<String>, _>("checksum")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
