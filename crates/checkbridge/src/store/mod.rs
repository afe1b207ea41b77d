//! Durable state, on SQLite (the embedded default) or PostgreSQL (several replicas), chosen
//! by the database URL, behind one type.
//!
//! Rules every method keeps: tenant data is read only with its tenant; uniqueness is enforced
//! by the database (a check per tenant and PageUp id, a search per tenant and Theary id, a
//! webhook event per event id), so a repeated insert is a no-op, not a duplicate; work is
//! claimed by writing a lease (`lease_until`, `lease_owner`) in a short statement, never by
//! holding a transaction open across an outbound call. Times are milliseconds since the epoch.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

use crate::time::now_ms;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("the store is shutting down")]
    Closed,
    #[error("the transaction holding this write failed to commit")]
    CommitFailed,
    #[error("column {column} holds {value:?}, which this version does not know")]
    Corrupt { column: &'static str, value: String },
}

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Migrations, in order. Each is applied once, in a transaction, and recorded.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("schema.sql")),
    (2, include_str!("schema_v2.sql")),
    (4, include_str!("schema_v4.sql")),
];

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads (and every statement on PostgreSQL).
    pool: AnyPool,
    /// On a SQLite file, the one writer, which commits writes in groups (see `writer`).
    group: Option<std::sync::Arc<writer::GroupWriter>>,
    /// On SQLite, webhook events are written in batches by one task.
    events: Option<batch::EventBatcher>,
    backend: Backend,
}

mod batch;
mod row;
mod types;
mod writer;
pub use types::*;

impl Store {
    /// Connects and applies pending migrations. SQLite files are created when missing and
    /// run in WAL mode with full sync, so an acknowledged write survives a crash.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let (pool, group) = match backend {
            Backend::Sqlite => {
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else {
                    format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
                };
                // An in-memory database exists per connection: one connection does all.
                if url.contains(":memory:") {
                    let pool = sqlite_pool(&url, 1).await?;
                    migrate(&pool, backend).await?;
                    (pool, None)
                } else {
                    // SQLite has one writer at a time: all writes go through one
                    // connection, in groups, instead of contending for the file lock and
                    // backing off by sleeping. Readers keep their own connections (WAL).
                    let writer = sqlite_pool(&url, 1).await?;
                    migrate(&writer, backend).await?;
                    let group = writer::GroupWriter::start(&writer).await?;
                    (sqlite_pool(&url, 8).await?, Some(group))
                }
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                migrate(&pool, backend).await?;
                (pool, None)
            }
        };
        let mut store = Store {
            pool,
            group,
            events: None,
            backend,
        };
        if store.group.is_some() {
            store.events = Some(batch::EventBatcher::start(store.clone()));
        }
        Ok(store)
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1 AS one").fetch_one(&self.pool).await?;
        Ok(())
    }
}

mod admin;
mod checks;
mod errors;
mod events;
mod health;
mod keys;
mod leases;
mod logins;
mod orders;
mod polls;
mod pushes;
mod readers;
mod retention;
mod searches;
mod users;

pub use admin::{CheckFilter, CheckSummary, PollState};
pub use errors::ErrorEntry;
pub use health::{AlertWork, HealthIssue};
pub use leases::RenewSet;
pub use logins::LoginScope;
pub use readers::{SessionListing, UserChange, UserChangeOutcome, UserListing};
pub use retention::AccessRecord;
pub use users::{ReportData, ReportSearch, SessionUser};

#[cfg(test)]
mod tests;

/// A SQLite pool of `max` connections, each in WAL mode with full sync (an acknowledged
/// write survives a crash) and foreign keys on.
async fn sqlite_pool(url: &str, max: u32) -> Result<AnyPool, StoreError> {
    let options = AnyConnectOptions::from_str(url)?;
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA foreign_keys = ON",
                ] {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?)
}

/// Applies pending migrations, each once, in a transaction.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(pool)
        .await?;
    for (version, sql) in MIGRATIONS {
        let mut tx = pool.begin().await?;
        if backend == Backend::Postgres {
            // Replicas starting together apply each migration once.
            sqlx::raw_sql("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(*version)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !done {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
