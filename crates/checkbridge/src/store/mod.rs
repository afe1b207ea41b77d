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
    #[error(
        "the database schema is at version {database}, newer than this binary knows (up to \
         {binary}): run the checkbridge version that migrated it, or a newer one"
    )]
    SchemaTooNew { database: i64, binary: i64 },
    #[error(
        "schema migration {version} recorded in the database differs from this binary's \
         (its checksum does not match): this binary was built from edited migrations"
    )]
    MigrationChanged { version: i64 },
}

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads (and every statement on PostgreSQL).
    pool: AnyPool,
    /// On a SQLite file, the one writer, which commits writes in groups (see `writer`).
    group: Option<std::sync::Arc<writer::GroupWriter>>,
    /// On SQLite, webhook events are written in batches by one task.
    events: Option<batch::EventBatcher>,
    /// PageUp's acknowledgements, written in batches by a few tasks.
    acks: Option<acks::AckBatcher>,
    backend: Backend,
}

mod acks;
mod backup;
mod batch;
mod migrate;
mod row;
mod script;
mod types;
mod writer;
pub use migrate::{latest_version, MigrateReport, MigrationState, MigrationStatus, MIGRATIONS};
pub use types::*;

impl Store {
    /// Connects and applies pending migrations. SQLite files are created when missing and
    /// run in WAL mode with full sync, so an acknowledged write survives a crash.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = backend_of(url)?;
        let (pool, group) = match backend {
            Backend::Sqlite => {
                let url = sqlite_create(url);
                // An in-memory database exists per connection: one connection does all.
                if url.contains(":memory:") {
                    let pool = sqlite_pool(&url, 1).await?;
                    migrate::apply(&pool, backend).await?;
                    (pool, None)
                } else {
                    // SQLite has one writer at a time: all writes go through one
                    // connection, in groups, instead of contending for the file lock and
                    // backing off by sleeping. Readers keep their own connections (WAL).
                    let writer = sqlite_pool(&url, 1).await?;
                    migrate::apply(&writer, backend).await?;
                    let group = writer::GroupWriter::start(&writer).await?;
                    (sqlite_pool(&url, 8).await?, Some(group))
                }
            }
            Backend::Postgres => {
                let pool = postgres_pool(url, 16).await?;
                migrate::apply(&pool, backend).await?;
                (pool, None)
            }
        };
        let mut store = Store {
            pool,
            group,
            events: None,
            acks: None,
            backend,
        };
        if store.group.is_some() {
            store.events = Some(batch::EventBatcher::start(store.clone()));
        }
        store.acks = Some(acks::AckBatcher::start(store.clone()));
        Ok(store)
    }

    /// Applies pending migrations without starting a store (`checkbridge migrate`), waiting
    /// for another process's migration to finish first.
    pub async fn migrate(url: &str) -> Result<MigrateReport, StoreError> {
        let backend = backend_of(url)?;
        let pool = match backend {
            Backend::Sqlite => sqlite_pool(&sqlite_create(url), 1).await?,
            Backend::Postgres => postgres_pool(url, 1).await?,
        };
        let report = migrate::apply(&pool, backend).await;
        pool.close().await;
        report
    }

    /// Where each migration stands in the database at `url`, changing nothing (a SQLite
    /// file that does not exist is not created).
    pub async fn migration_status(url: &str) -> Result<Vec<MigrationStatus>, StoreError> {
        let backend = backend_of(url)?;
        let pool = match backend {
            Backend::Sqlite => sqlite_pool(url, 1).await?,
            Backend::Postgres => postgres_pool(url, 1).await?,
        };
        let status = migrate::status(&pool, backend).await;
        pool.close().await;
        status
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
mod candidates;
mod certifications;
mod checks;
mod errors;
mod events;
mod health;
mod intake;
mod keys;
mod leases;
mod logins;
mod orders;
mod polls;
mod pushes;
mod readers;
mod recovery;
mod retention;
mod searches;
mod sso;
mod tokens;
mod users;

pub use admin::{CheckFilter, CheckSummary, PollState};
pub use candidates::{CandidateRequest, Submitted};
pub use certifications::Certification;
pub use errors::ErrorEntry;
pub use health::{AlertWork, HealthIssue};
pub use leases::RenewSet;
pub use logins::LoginScope;
pub use readers::{SessionListing, UserChange, UserChangeOutcome, UserListing};
pub use retention::AccessRecord;
pub use sso::{PendingSignIn, SsoReader, NO_PASSWORD};
pub use tokens::{ApiTokenListing, NewApiToken, RevokeOutcome};
pub use users::{ReportData, ReportSearch, SessionUser};

#[cfg(test)]
mod tests;

/// The engine a database URL names.
fn backend_of(url: &str) -> Result<Backend, StoreError> {
    sqlx::any::install_default_drivers();
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// A SQLite URL that creates the file when it is missing (unless it names a mode).
fn sqlite_create(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else {
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    }
}

/// A PostgreSQL pool of `max` connections.
async fn postgres_pool(url: &str, max: u32) -> Result<AnyPool, StoreError> {
    let options = AnyConnectOptions::from_str(url)?;
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?)
}

/// A SQLite pool of `max` connections, each in WAL mode with full sync (an acknowledged
/// write survives a crash) and foreign keys on. A connection is not pinged before each use
/// (sqlx's default): it is a file in this process that cannot go stale, and the ping was a
/// second round trip to the connection's thread for every read.
async fn sqlite_pool(url: &str, max: u32) -> Result<AnyPool, StoreError> {
    let options = AnyConnectOptions::from_str(url)?;
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .test_before_acquire(false)
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
