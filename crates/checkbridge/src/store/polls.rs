//! Tenant polls: each tenant's poll schedule, and the lease that lets one poller at a time
//! read a tenant's pending checks from PageUp.

use std::time::Duration;

use sqlx::Row;

use super::leases::ms;
use super::row;
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::ids::TenantKey;

impl Store {
    /// Makes sure every configured tenant has a poll schedule row.
    pub async fn ensure_tenants<'a>(
        &self,
        tenants: impl IntoIterator<Item = &'a TenantKey>,
    ) -> Result<(), StoreError> {
        // One transaction: ten thousand tenants are one commit, not ten thousand.
        let mut tx = self.write().await?;
        for t in tenants {
            sqlx::query("INSERT INTO tenant_polls (tenant, next_poll_at) VALUES ($1, 0) ON CONFLICT (tenant) DO NOTHING")
                .bind(t.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Tenants due for a poll and not leased, soonest first.
    pub async fn due_tenants(&self, now: i64, limit: i64) -> Result<Vec<TenantKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant FROM tenant_polls WHERE next_poll_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_poll_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| row::text(r, "tenant")).collect()
    }

    /// Moves an unleased tenant's next poll to `at`.
    pub async fn postpone_tenant_poll(
        &self,
        tenant: &TenantKey,
        now: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tenant_polls SET next_poll_at = $1 WHERE tenant = $2 AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(now)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// When the next tenant not leased is due (the scheduler sleeps until then).
    pub async fn next_poll_due(&self, now: i64) -> Result<Option<i64>, StoreError> {
        let r = sqlx::query(
            "SELECT MIN(next_poll_at) AS t FROM tenant_polls WHERE lease_until IS NULL OR lease_until < $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get::<Option<i64>, _>("t")?)
    }

    /// Takes the poll lease of `tenant` if it is free, expired, or already `owner`'s.
    pub async fn lease_tenant_poll(
        &self,
        tenant: &TenantKey,
        owner: &str,
        now: i64,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO tenant_polls (tenant, lease_until, lease_owner, next_poll_at) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (tenant) DO UPDATE SET lease_until = $2, lease_owner = $3 \
             WHERE tenant_polls.lease_until IS NULL OR tenant_polls.lease_until < $4 OR tenant_polls.lease_owner = $3",
        )
        .bind(tenant.as_str())
        .bind(now + ms(lease_for))
        .bind(owner)
        .bind(now)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Gives the poll lease back and sets when the tenant is next due.
    pub async fn release_tenant_poll(
        &self,
        tenant: &TenantKey,
        owner: &str,
        next_poll_at: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenant_polls SET lease_until = NULL, lease_owner = NULL, next_poll_at = $1, last_error = $2 \
                     WHERE tenant = $3 AND lease_owner = $4")
            .bind(next_poll_at)
            .bind(error)
            .bind(tenant.as_str())
            .bind(owner)
            .execute_w(self)
            .await?;
        Ok(())
    }
}
