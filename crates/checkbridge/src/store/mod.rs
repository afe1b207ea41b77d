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
use sqlx::{AnyPool, Row};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Migrations, in order. Each is applied once, in a transaction, and recorded.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("schema.sql"))];

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Result of recording a claimed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Our id for the check.
    pub id: String,
    /// False when the check was already recorded (a repeat of the same claim).
    pub new: bool,
}

/// A search of a new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSearch {
    /// Ours, sent as `externalSearchId`.
    pub id: String,
    pub search_type: String,
    /// Theary's search id, prefix stripped, when the create response gave it.
    pub theary_search_id: Option<String>,
}

/// An order Theary accepted, as the orderer records it.
#[derive(Debug, Clone, Copy)]
pub struct PlacedOrder<'a> {
    pub tenant: &'a str,
    pub check_id: &'a str,
    /// The lease holder recording it.
    pub owner: &'a str,
    /// Theary's verificationOrderId.
    pub reference: &'a str,
    pub searches: &'a [NewSearch],
    /// The status document PageUp should now hold (JSON).
    pub desired_doc_json: &'a str,
}

/// What the webhook receiver needs to verify an event for a search. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub search_id: String,
    pub check_id: String,
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("search_id", &self.search_id)
            .field("check_id", &self.check_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A check leased for ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderWork {
    pub id: String,
    pub tenant: String,
    pub pageup_id: String,
    pub attempts: i64,
}

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
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else {
                    format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
                };
                let options = AnyConnectOptions::from_str(&url)?;
                AnyPoolOptions::new()
                    .max_connections(8)
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
                    .await?
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(url)?;
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?
            }
        };
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&self.pool)
            .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            if self.backend == Backend::Postgres {
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

    /// Records a check claimed from PageUp, owing an order from now on. Idempotent: a
    /// repeat for the same tenant and PageUp id returns the existing check.
    pub async fn record_claimed(
        &self,
        tenant: &str,
        pageup_id: &str,
        invitation_json: &str,
        webhook_secret: &str,
        now: i64,
    ) -> Result<Recorded, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let inserted = sqlx::query(
            "INSERT INTO checks (id, tenant, pageup_id, phase, invitation, webhook_secret, order_due_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'claimed', $4, $5, $6, $6, $6) ON CONFLICT (tenant, pageup_id) DO NOTHING",
        )
        .bind(&id)
        .bind(tenant)
        .bind(pageup_id)
        .bind(invitation_json)
        .bind(webhook_secret)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            return Ok(Recorded { id, new: true });
        }
        let existing: String =
            sqlx::query("SELECT id FROM checks WHERE tenant = $1 AND pageup_id = $2")
                .bind(tenant)
                .bind(pageup_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("id")?;
        Ok(Recorded {
            id: existing,
            new: false,
        })
    }

    /// A check's phase, only within its tenant (another tenant's id reads as absent).
    pub async fn check_phase(&self, tenant: &str, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT phase FROM checks WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("phase")?),
            None => None,
        })
    }

    /// Leases up to `limit` checks whose order is due, for `lease_for`. Two workers never get
    /// the same check while a lease is live; an expired lease (a crashed worker) is taken over.
    pub async fn lease_order_work(
        &self,
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<OrderWork>, StoreError> {
        let until = now + lease_for.as_millis() as i64;
        let pick = "SELECT id FROM checks WHERE order_due_at IS NOT NULL AND order_due_at <= $3 \
                    AND (lease_until IS NULL OR lease_until < $3) ORDER BY order_due_at LIMIT $4";
        let sql = match self.backend {
            // SQLite has one writer at a time, so the statement is atomic as it stands.
            Backend::Sqlite => format!(
                "UPDATE checks SET lease_until = $1, lease_owner = $2 WHERE id IN ({pick}) \
                 RETURNING id, tenant, pageup_id, order_attempts"
            ),
            // Concurrent replicas skip rows another is leasing instead of waiting on them.
            Backend::Postgres => format!(
                "UPDATE checks SET lease_until = $1, lease_owner = $2 WHERE id IN ({pick} FOR UPDATE SKIP LOCKED) \
                 RETURNING id, tenant, pageup_id, order_attempts"
            ),
        };
        let rows = sqlx::query(&sql)
            .bind(until)
            .bind(owner)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OrderWork {
                    id: r.try_get("id")?,
                    tenant: r.try_get("tenant")?,
                    pageup_id: r.try_get("pageup_id")?,
                    attempts: r.try_get("order_attempts")?,
                })
            })
            .collect()
    }

    /// Takes the poll lease of `tenant` if it is free, expired, or already `owner`'s.
    pub async fn lease_tenant_poll(
        &self,
        tenant: &str,
        owner: &str,
        now: i64,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + lease_for.as_millis() as i64;
        let taken = sqlx::query(
            "INSERT INTO tenant_polls (tenant, lease_until, lease_owner, next_poll_at) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (tenant) DO UPDATE SET lease_until = $2, lease_owner = $3 \
             WHERE tenant_polls.lease_until IS NULL OR tenant_polls.lease_until < $4 OR tenant_polls.lease_owner = $3",
        )
        .bind(tenant)
        .bind(until)
        .bind(owner)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Gives the poll lease back and sets when the tenant is next due.
    pub async fn release_tenant_poll(
        &self,
        tenant: &str,
        owner: &str,
        next_poll_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenant_polls SET lease_until = NULL, lease_owner = NULL, next_poll_at = $1 WHERE tenant = $2 AND lease_owner = $3")
            .bind(next_poll_at)
            .bind(tenant)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a placed order: the check becomes `ordered` under `reference`, its searches
    /// are stored, no order work is owed any more, and the document PageUp should hold
    /// moves to a new version (the pusher's work). One transaction, so none of it can be
    /// half done. Only the lease holder may record it.
    pub async fn record_order(
        &self,
        order: &PlacedOrder<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let PlacedOrder {
            tenant,
            check_id,
            owner,
            reference,
            searches,
            desired_doc_json,
        } = *order;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE checks SET phase = 'ordered', reference = $1, order_due_at = NULL, lease_until = NULL, \
             lease_owner = NULL, last_error = NULL, desired_version = desired_version + 1, desired_doc = $2, updated_at = $3 \
             WHERE tenant = $4 AND id = $5 AND lease_owner = $6",
        )
        .bind(reference)
        .bind(desired_doc_json)
        .bind(now)
        .bind(tenant)
        .bind(check_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        for s in searches {
            sqlx::query(
                "INSERT INTO searches (id, check_id, tenant, search_type, theary_search_id, outcome, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'open', $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&s.id)
            .bind(check_id)
            .bind(tenant)
            .bind(&s.search_type)
            .bind(s.theary_search_id.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The search an incoming event is about, by our id (`externalSearchId`) or by Theary's
    /// search id (with or without its `search_` prefix), within `tenant` only.
    pub async fn webhook_target(
        &self,
        tenant: &str,
        search_ref: &str,
    ) -> Result<Option<WebhookTarget>, StoreError> {
        let bare = search_ref.strip_prefix("search_").unwrap_or(search_ref);
        let row = sqlx::query(
            "SELECT s.id, s.check_id, c.webhook_secret FROM searches s JOIN checks c ON c.id = s.check_id \
             WHERE s.tenant = $1 AND (s.id = $2 OR s.theary_search_id = $3)",
        )
        .bind(tenant)
        .bind(search_ref)
        .bind(bare)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(WebhookTarget {
                search_id: r.try_get("id")?,
                check_id: r.try_get("check_id")?,
                secret: r.try_get("webhook_secret")?,
            }),
            None => None,
        })
    }

    /// Events stored for a search, oldest first (event id and type).
    pub async fn webhook_events(
        &self,
        tenant: &str,
        search_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT event_id, event_type FROM webhook_events WHERE tenant = $1 AND search_id = $2 ORDER BY received_at, event_id")
            .bind(tenant)
            .bind(search_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("event_id")?, r.try_get("event_type")?)))
            .collect()
    }

    /// Stores a verified webhook event once. Returns false for a duplicate event id, which
    /// the receiver answers 200 without doing anything else.
    pub async fn record_webhook_event(
        &self,
        event_id: &str,
        tenant: &str,
        search_id: &str,
        event_type: &str,
        body: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO webhook_events (event_id, tenant, search_id, event_type, body, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(tenant)
        .bind(search_id)
        .bind(event_type)
        .bind(body)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
