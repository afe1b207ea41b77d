//! The error log: what failed, per tenant, for operators and for PageUp support.

use sqlx::Row;

use super::row;
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::ids::{CheckId, TenantKey};

/// One logged failure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorEntry {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub tenant: TenantKey,
    pub operation: String,
    pub http_status: Option<i64>,
    pub message: String,
    pub correlation: String,
    pub check_id: Option<CheckId>,
}

impl Store {
    /// Records a failure. The message passes through the log redaction first.
    pub async fn log_error(&self, e: &ErrorEntry) -> Result<(), StoreError> {
        let message = String::from_utf8_lossy(&crate::redact::redact(e.message.as_bytes()))
            .chars()
            .take(2_000)
            .collect::<String>();
        sqlx::query(
            "INSERT INTO error_log (id, tenant, at, operation, http_status, message, correlation, check_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(e.tenant.as_str())
        .bind(e.at)
        .bind(&e.operation)
        .bind(e.http_status)
        .bind(message)
        .bind(&e.correlation)
        .bind(e.check_id.as_ref().map(CheckId::as_str))
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Records a refused, unauthenticated request (source `refused`): kept only
    /// `[http].refused_log_hours`, apart from the partner failures PageUp support asks for.
    /// The caller makes the entry a fixed-size summary; the message is cut to 200 characters
    /// here as well.
    pub async fn log_refused(&self, e: &ErrorEntry) -> Result<(), StoreError> {
        let message = e.message.chars().take(200).collect::<String>();
        sqlx::query(
            "INSERT INTO error_log (id, tenant, at, operation, http_status, message, correlation, check_id, source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 'refused')",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(e.tenant.as_str())
        .bind(e.at)
        .bind(&e.operation)
        .bind(e.http_status)
        .bind(message)
        .bind(&e.correlation)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Deletes every tenant's refused-request entries older than `before`.
    pub async fn expire_refused(&self, before: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM error_log WHERE source = 'refused' AND at < $1")
                .bind(before)
                .execute_w(self)
                .await?
                .rows_affected(),
        )
    }

    /// A tenant's newest failures since `since` whose operation starts with `operation`
    /// (all when `None`), newest first, at most `limit`, and how many there are in all: what
    /// a page shows, bounded whatever the log holds.
    pub async fn recent_errors(
        &self,
        tenant: &TenantKey,
        since: i64,
        operation: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<ErrorEntry>, i64), StoreError> {
        let prefix = format!(
            "{}%",
            operation
                .unwrap_or("")
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(
            "SELECT at, tenant, operation, http_status, message, correlation, check_id FROM error_log \
             WHERE tenant = $1 AND at >= $2 AND operation LIKE $3 ESCAPE '\\' ORDER BY at DESC, id LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(since)
        .bind(&prefix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM error_log WHERE tenant = $1 AND at >= $2 AND operation LIKE $3 ESCAPE '\\'",
        )
        .bind(tenant.as_str())
        .bind(since)
        .bind(&prefix)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let entries = rows.iter().map(entry).collect::<Result<_, _>>()?;
        Ok((entries, total))
    }

    /// A tenant's failures since `since`, oldest first.
    pub async fn errors(
        &self,
        tenant: &TenantKey,
        since: i64,
    ) -> Result<Vec<ErrorEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, tenant, operation, http_status, message, correlation, check_id FROM error_log \
             WHERE tenant = $1 AND at >= $2 ORDER BY at, id",
        )
        .bind(tenant.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry).collect()
    }

    /// Deletes a tenant's error entries older than `before` (retention).
    pub async fn expire_errors(&self, tenant: &TenantKey, before: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM error_log WHERE tenant = $1 AND at < $2")
                .bind(tenant.as_str())
                .bind(before)
                .execute_w(self)
                .await?
                .rows_affected(),
        )
    }
}

fn entry(r: &sqlx::any::AnyRow) -> Result<ErrorEntry, StoreError> {
    Ok(ErrorEntry {
        at: r.try_get("at")?,
        tenant: row::text(r, "tenant")?,
        operation: r.try_get("operation")?,
        http_status: r.try_get("http_status")?,
        message: r.try_get("message")?,
        correlation: r.try_get("correlation")?,
        check_id: row::opt_text(r, "check_id")?,
    })
}
