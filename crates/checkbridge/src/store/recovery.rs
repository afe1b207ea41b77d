//! After a restore from backup: what the store must do so that no check is ordered twice,
//! and the lookups `checkbridge recover` makes.

use super::admin::summary_of;
use super::writer::WriteQuery as _;
use super::{CheckSummary, PlacedOrder, Store, StoreError};
use crate::domain::ids::{CheckId, SearchId, TenantKey, ThearyOrderId, ThearySearchId};

impl Store {
    /// Marks every check that owes an order and records no attempt as possibly sent, so the
    /// orderer looks it up at Theary (by the `externalSearchId` we send) before it posts.
    /// After a restore, a check the backup shows unordered may have been ordered since.
    /// Returns how many checks were marked. `None`: every tenant.
    pub async fn mark_orders_maybe_sent(
        &self,
        tenant: Option<&TenantKey>,
        now: i64,
    ) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET order_attempts = 1, order_due_at = $1, updated_at = $1 \
             WHERE order_due_at IS NOT NULL AND order_attempts = 0 AND phase IN ('claimed', 'submitted') \
             AND ($2 = '' OR tenant = $2)",
        )
        .bind(now)
        .bind(tenant.map_or("", |t| t.as_str()))
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n)
    }

    /// The check that holds our search `id` (our `externalSearchId`) in `tenant`.
    pub async fn check_of_search(
        &self,
        tenant: &TenantKey,
        id: &str,
    ) -> Result<Option<CheckSummary>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.tenant, c.pageup_id, c.phase, c.reference, c.desired_version, c.acked_version, \
             c.order_attempts, c.last_error, c.push_error, c.created_at, c.updated_at \
             FROM searches s JOIN checks c ON c.id = s.check_id \
             WHERE s.tenant = $1 AND c.tenant = $1 AND s.id = $2",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(summary_of).transpose()
    }

    /// Attaches an order found at Theary to a claimed check that records none, as the
    /// orderer would have recorded it (`ordered`, PageUp owed a document, Theary's search
    /// ids by ours). False when the check is no longer claimed or another replica holds
    /// its order work right now.
    pub async fn attach_order(
        &self,
        tenant: &TenantKey,
        check: &CheckId,
        reference: &ThearyOrderId,
        theary_ids: &[(SearchId, ThearySearchId)],
        owner: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let leased = sqlx::query(
            "UPDATE checks SET lease_owner = $1, lease_until = $2 WHERE tenant = $3 AND id = $4 \
             AND phase IN ('claimed', 'submitted') AND (lease_until IS NULL OR lease_until < $5)",
        )
        .bind(owner)
        .bind(now + 60_000)
        .bind(tenant.as_str())
        .bind(check.as_str())
        .bind(now)
        .execute_w(self)
        .await?
        .rows_affected();
        if leased != 1 {
            return Ok(false);
        }
        self.record_order(
            &PlacedOrder {
                tenant,
                check_id: check,
                owner,
                reference,
                theary_ids,
                reconcile_at: now,
            },
            now,
        )
        .await
    }
}
