//! Retention: the access record, purging candidate data after its period, and shredding
//! a tenant that leaves.

use sqlx::Row;

use super::row;
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::check::AccessAction;
use crate::domain::ids::{CheckId, TenantKey};

/// One entry of the access record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessRecord {
    pub tenant: TenantKey,
    /// The check (`*` for what concerns the whole tenant).
    pub check_id: CheckId,
    pub actor: String,
    pub action: AccessAction,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// For API use: the method, the path and the status answered.
    pub detail: Option<String>,
}

/// Appends to the access record inside the transaction `tx` (the access record is always
/// written with the change it records).
pub(super) async fn append_access(
    tx: &mut sqlx::AnyConnection,
    tenant: &TenantKey,
    check_id: &str,
    actor: &str,
    action: AccessAction,
    now: i64,
) -> Result<(), StoreError> {
    append_access_detail(tx, tenant, check_id, actor, action, None, now).await
}

/// [`append_access`] as a statement of a script: `tenant`, `check_id` and `at` are
/// placeholders of the script's arguments, and the record is written only where `cond` (a
/// `WHERE` clause) holds.
pub(super) fn access_statement(
    sc: &mut super::script::Script,
    (tenant, check_id, at): (&str, &str, &str),
    actor: &str,
    action: AccessAction,
    cond: &str,
) -> String {
    let id = sc.arg(uuid::Uuid::new_v4().to_string());
    let actor = sc.arg(actor);
    let action = sc.arg(action.as_str());
    format!(
        "INSERT INTO access_log (id, tenant, check_id, actor, action, at, detail) \
         SELECT {id}, {tenant}, {check_id}, {actor}, {action}, {at}, NULL {cond}"
    )
}

/// [`append_access`] with a detail (for API use: the method, the path and the status).
pub(super) async fn append_access_detail(
    tx: &mut sqlx::AnyConnection,
    tenant: &TenantKey,
    check_id: &str,
    actor: &str,
    action: AccessAction,
    detail: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO access_log (id, tenant, check_id, actor, action, at, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(tenant.as_str())
        .bind(check_id)
        .bind(actor)
        .bind(action.as_str())
        .bind(now)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Store {
    /// Appends to the access record.
    pub async fn record_access(
        &self,
        tenant: &TenantKey,
        check_id: &CheckId,
        actor: &str,
        action: AccessAction,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        append_access(&mut w, tenant, check_id.as_str(), actor, action, now).await?;
        w.commit().await?;
        Ok(())
    }

    /// A tenant's access record, oldest first.
    pub async fn access_records(
        &self,
        tenant: &TenantKey,
    ) -> Result<Vec<AccessRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, check_id, actor, action, at, detail FROM access_log WHERE tenant = $1 ORDER BY at, id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessRecord {
                    tenant: row::text(r, "tenant")?,
                    check_id: row::text(r, "check_id")?,
                    actor: r.try_get("actor")?,
                    action: row::stored(r, "action")?,
                    at: r.try_get("at")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// Checks of `tenant` whose candidate data is due for purging: finished (nothing owed,
    /// no search without a result) and last changed before `before`.
    pub async fn purge_due(
        &self,
        tenant: &TenantKey,
        before: i64,
        limit: i64,
    ) -> Result<Vec<CheckId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM checks c WHERE tenant = $1 AND pii_purged_at IS NULL AND updated_at < $2 \
             AND order_due_at IS NULL AND desired_version = acked_version \
             AND NOT EXISTS (SELECT 1 FROM searches s WHERE s.check_id = c.id AND s.outcome_rank = 0 AND c.phase = 'ordered') \
             ORDER BY updated_at LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| row::text(r, "id")).collect()
    }

    /// Removes a finished check's candidate data (the order, the webhook secret, stored
    /// events and results) and records that it did. What PageUp needs to stay consistent
    /// (ids, statuses, outcome codes) is kept.
    pub async fn purge_check(
        &self,
        tenant: &TenantKey,
        check_id: &CheckId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "UPDATE checks SET webhook_secret = '', pii_purged_at = $1 \
             WHERE tenant = $2 AND id = $3 AND pii_purged_at IS NULL",
        )
        .bind(now)
        .bind(tenant.as_str())
        .bind(check_id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE check_orders SET order_json = NULL WHERE tenant = $1 AND check_id = $2",
        )
        .bind(tenant.as_str())
        .bind(check_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE searches SET result = NULL WHERE tenant = $1 AND check_id = $2")
            .bind(tenant.as_str())
            .bind(check_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE webhook_events SET body = '' WHERE tenant = $1 AND search_id IN (SELECT id FROM searches WHERE check_id = $2)",
        )
        .bind(tenant.as_str())
        .bind(check_id.as_str())
        .execute(&mut *tx)
        .await?;
        append_access(
            &mut tx,
            tenant,
            check_id.as_str(),
            "service:retention",
            AccessAction::Purged,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a tenant's access records older than `before`. Returns how many.
    pub async fn expire_access_records(
        &self,
        tenant: &TenantKey,
        before: i64,
    ) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM access_log WHERE tenant = $1 AND at < $2")
                .bind(tenant.as_str())
                .bind(before)
                .execute_w(self)
                .await?
                .rows_affected(),
        )
    }

    /// Shreds a tenant that leaves: its data keys are destroyed first (so whatever a backup
    /// still holds can never be read), then its rows are deleted (checks, searches, events,
    /// polls, readers and their sessions, its error log, health issues, API tokens and the shape
    /// of its invitations). The access
    /// record is kept for its own retention period, with one entry saying so. Returns how many checks were deleted.
    pub async fn shred_tenant(&self, tenant: &TenantKey, now: i64) -> Result<u64, StoreError> {
        self.destroy_data_keys(tenant).await?;
        let mut tx = self.write().await?;
        for sql in [
            "DELETE FROM webhook_events WHERE tenant = $1",
            "DELETE FROM searches WHERE tenant = $1",
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE tenant = $1)",
            "DELETE FROM sso_identities WHERE tenant = $1",
            "DELETE FROM sso_pending WHERE tenant = $1",
            "DELETE FROM users WHERE tenant = $1",
            "DELETE FROM error_log WHERE tenant = $1",
            "DELETE FROM health_issues WHERE tenant = $1",
            "DELETE FROM api_tokens WHERE tenant = $1",
            "DELETE FROM intake_shapes WHERE tenant = $1",
            "DELETE FROM certifications WHERE tenant = $1",
            "DELETE FROM candidate_requests WHERE tenant = $1",
            "DELETE FROM check_orders WHERE tenant = $1",
        ] {
            sqlx::query(sql)
                .bind(tenant.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let checks = sqlx::query("DELETE FROM checks WHERE tenant = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM tenant_polls WHERE tenant = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
        append_access(
            &mut tx,
            tenant,
            "*",
            "operator:cli",
            AccessAction::TenantShredded,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(checks)
    }
}
