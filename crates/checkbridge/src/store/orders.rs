//! Orders: leasing checks whose Theary order is due, noting each attempt before it is sent,
//! and recording the outcome (placed, refused, or to be tried again later).

use std::time::Duration;

use sqlx::Row;

use super::retention::append_access;
use super::row;
use super::writer::WriteQuery as _;
use super::{OrderWork, PlacedOrder, Store, StoreError};
use crate::domain::check::AccessAction;
use crate::domain::ids::{CheckId, SearchId};

impl Store {
    /// Leases up to `limit` checks whose order is due, for `lease_for`. Two workers never get
    /// the same check while a lease is live; an expired lease (a crashed worker) is taken over.
    pub async fn lease_order_work(
        &self,
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<OrderWork>, StoreError> {
        let rows = self
            .lease_rows(
                (
                    "lease_until = $1, lease_owner = $2",
                    "SELECT id FROM checks WHERE order_due_at IS NOT NULL AND order_due_at <= $3 \
                     AND (lease_until IS NULL OR lease_until < $3) ORDER BY order_due_at LIMIT $4",
                    "id, tenant, pageup_id, order_attempts, order_json",
                ),
                owner,
                now,
                lease_for,
                limit,
            )
            .await?;
        let mut work = Vec::with_capacity(rows.len());
        for r in rows {
            let id: CheckId = row::text(&r, "id")?;
            let search_ids = sqlx::query("SELECT id FROM searches WHERE check_id = $1 ORDER BY id")
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|s| row::text::<SearchId>(s, "id"))
                .collect::<Result<_, _>>()?;
            work.push(OrderWork {
                id,
                tenant: row::text(&r, "tenant")?,
                pageup_id: row::text(&r, "pageup_id")?,
                attempts: r.try_get("order_attempts")?,
                order_json: r.try_get("order_json")?,
                search_ids,
            });
        }
        Ok(work)
    }

    /// Notes, before an order POST, that one is being sent: after a crash the next attempt
    /// looks the order up first instead of posting blind. False when the lease was lost.
    pub async fn begin_order_attempt(
        &self,
        id: &CheckId,
        owner: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET order_attempts = order_attempts + 1, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND order_due_at IS NOT NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(owner)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records a placed order: the check becomes `ordered` under `reference`, Theary's search
    /// ids are remembered, no order work is owed any more, and PageUp is owed a new
    /// document. One transaction, by the lease holder only.
    pub async fn record_order(
        &self,
        order: &PlacedOrder<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let updated = sqlx::query(
            "UPDATE checks SET phase = 'ordered', reference = $1, order_due_at = NULL, lease_until = NULL, \
             lease_owner = NULL, last_error = NULL, desired_version = desired_version + 1, push_due_at = $2, updated_at = $2 \
             WHERE tenant = $3 AND id = $4 AND lease_owner = $5 AND phase = 'claimed'",
        )
        .bind(order.reference.as_str())
        .bind(now)
        .bind(order.tenant.as_str())
        .bind(order.check_id.as_str())
        .bind(order.owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE searches SET reconcile_at = $1 WHERE check_id = $2 AND reconcile_at IS NULL",
        )
        .bind(order.reconcile_at)
        .bind(order.check_id.as_str())
        .execute(&mut *tx)
        .await?;
        append_access(
            &mut tx,
            order.tenant,
            order.check_id.as_str(),
            &format!("service:orderer ({})", order.owner),
            AccessAction::Ordered,
            now,
        )
        .await?;
        for (ours, theirs) in order.theary_ids {
            sqlx::query(
                "UPDATE searches SET theary_search_id = $1 WHERE id = $2 AND check_id = $3 AND theary_search_id IS NULL",
            )
            .bind(theirs.as_str())
            .bind(ours.as_str())
            .bind(order.check_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The order cannot be placed (Theary refused it): PageUp is owed `failed` with `reason`.
    pub async fn record_order_failed(
        &self,
        id: &CheckId,
        owner: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET phase = 'failed', reason = $1, order_due_at = NULL, lease_until = NULL, lease_owner = NULL, \
             desired_version = desired_version + 1, push_due_at = $2, updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND phase = 'claimed'",
        )
        .bind(reason)
        .bind(now)
        .bind(id.as_str())
        .bind(owner)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The order attempt failed for a reason that may pass: try again at `due_at`.
    pub async fn order_retry_later(
        &self,
        id: &CheckId,
        owner: &str,
        error: &str,
        due_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checks SET order_due_at = $1, last_error = $2, lease_until = NULL, lease_owner = NULL, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5",
        )
        .bind(due_at)
        .bind(error)
        .bind(now)
        .bind(id.as_str())
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }
}
