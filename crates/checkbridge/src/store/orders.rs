//! Orders: leasing checks whose Theary order is due, noting each attempt before it is sent,
//! and recording the outcome (placed, refused, or to be tried again later).

use std::time::Duration;

use sqlx::Row;

use super::leases::ms;
use super::retention::append_access;
use super::row;
use super::writer::WriteQuery as _;
use super::{OrderWork, PlacedOrder, Store, StoreError};
use crate::domain::check::AccessAction;
use crate::domain::ids::{CheckId, SearchId, TenantKey};

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
        self.lease_order_work_except(owner, now, lease_for, limit, &[])
            .await
    }

    /// [`Store::lease_order_work`], leaving out the checks of the tenants in `except`.
    pub async fn lease_order_work_except(
        &self,
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
        except: &[TenantKey],
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
                except,
            )
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // The searches of every leased check in one query, not one per check.
        let ids: Vec<CheckId> = rows
            .iter()
            .map(|r| row::text::<CheckId>(r, "id"))
            .collect::<Result<_, _>>()?;
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT check_id, id FROM searches WHERE check_id IN ({}) ORDER BY check_id, id",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(id.as_str());
        }
        let mut searches: std::collections::HashMap<String, Vec<SearchId>> =
            std::collections::HashMap::new();
        for s in q.fetch_all(&self.pool).await? {
            let check: String = s.try_get("check_id")?;
            searches
                .entry(check)
                .or_default()
                .push(row::text::<SearchId>(&s, "id")?);
        }
        let mut work = Vec::with_capacity(rows.len());
        for (r, id) in rows.iter().zip(ids) {
            let search_ids = searches.remove(id.as_str()).unwrap_or_default();
            work.push(OrderWork {
                tenant: row::text(r, "tenant")?,
                pageup_id: row::text(r, "pageup_id")?,
                attempts: r.try_get("order_attempts")?,
                order_json: r.try_get("order_json")?,
                search_ids,
                id,
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
        Ok(self.record_order_as(order, now, None).await?.is_some())
    }

    /// [`Store::record_order`], and the push lease that PageUp's new document needs is taken
    /// for `lease_for` if no one holds it: `Some(true)` when the recorder now holds it and
    /// may send the document at once, `Some(false)` when the pusher will; `None` when the
    /// order was not recorded (the lease had passed to another worker).
    pub async fn record_order_leasing_push(
        &self,
        order: &PlacedOrder<'_>,
        now: i64,
        lease_for: Duration,
    ) -> Result<Option<bool>, StoreError> {
        self.record_order_as(order, now, Some(now + ms(lease_for)))
            .await
    }

    async fn record_order_as(
        &self,
        order: &PlacedOrder<'_>,
        now: i64,
        push_lease_until: Option<i64>,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.write().await?;
        // The push lease is taken only where none is held or a lapsed one is left over:
        // a held lease (the claim's `queued` still on its way) keeps its holder.
        let updated = sqlx::query(
            "UPDATE checks SET phase = 'ordered', reference = $1, order_due_at = NULL, lease_until = NULL, \
             lease_owner = NULL, last_error = NULL, desired_version = desired_version + 1, push_due_at = $2, updated_at = $2, \
             push_lease_owner = CASE WHEN $6 IS NOT NULL AND (push_lease_until IS NULL OR push_lease_until < $2) \
               THEN $5 ELSE push_lease_owner END, \
             push_lease_until = CASE WHEN $6 IS NOT NULL AND (push_lease_until IS NULL OR push_lease_until < $2) \
               THEN $6 ELSE push_lease_until END \
             WHERE tenant = $3 AND id = $4 AND lease_owner = $5 AND phase IN ('claimed', 'submitted') \
             RETURNING push_lease_owner, push_lease_until",
        )
        .bind(order.reference.as_str())
        .bind(now)
        .bind(order.tenant.as_str())
        .bind(order.check_id.as_str())
        .bind(order.owner)
        .bind(push_lease_until)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(updated) = updated else {
            tx.rollback().await?;
            return Ok(None);
        };
        let push_owner: Option<String> = updated.try_get("push_lease_owner")?;
        let push_until: Option<i64> = updated.try_get("push_lease_until")?;
        let push_leased = push_lease_until.is_some()
            && push_owner.as_deref() == Some(order.owner)
            && push_until == push_lease_until;
        // One statement for the searches: when to look at them first, and Theary's id of
        // the one search where the answer says which is which.
        let (ours, theirs) = match order.theary_ids {
            [(ours, theirs)] => (Some(ours.as_str()), Some(theirs.as_str())),
            _ => (None, None),
        };
        sqlx::query(
            "UPDATE searches SET reconcile_at = COALESCE(reconcile_at, $1), \
             theary_search_id = CASE WHEN id = $3 AND theary_search_id IS NULL THEN $4 ELSE theary_search_id END \
             WHERE check_id = $2",
        )
        .bind(order.reconcile_at)
        .bind(order.check_id.as_str())
        .bind(ours)
        .bind(theirs)
        .execute(&mut *tx)
        .await?;
        if order.theary_ids.len() > 1 {
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
        }
        append_access(
            &mut tx,
            order.tenant,
            order.check_id.as_str(),
            &format!("service:orderer ({})", order.owner),
            AccessAction::Ordered,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(push_leased))
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
             WHERE id = $3 AND lease_owner = $4 AND phase IN ('claimed', 'submitted')",
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
