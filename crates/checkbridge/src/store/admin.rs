//! What operators ask of the store: lists, one check in full, and nudges.

use sqlx::Row;

use super::retention::append_access;
use super::row;
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::check::{AccessAction, Phase};
use crate::domain::ids::{CheckId, PageUpCheckId, TenantKey, ThearyOrderId};

/// A check as an operator sees it in a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckSummary {
    pub id: CheckId,
    pub tenant: TenantKey,
    pub pageup_id: PageUpCheckId,
    pub phase: Phase,
    pub reference: Option<ThearyOrderId>,
    pub desired_version: i64,
    pub acked_version: i64,
    pub order_attempts: i64,
    pub last_error: Option<String>,
    pub push_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which checks to list; every field narrows, none set lists all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckFilter {
    pub tenant: Option<TenantKey>,
    pub phase: Option<Phase>,
    /// Claimed at or after (milliseconds since the epoch).
    pub since: Option<i64>,
    /// Only checks owing an order or a PageUp update.
    pub owing: bool,
    /// Only checks whose last order or update attempt failed.
    pub with_errors: bool,
}

/// A tenant's poll state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PollState {
    pub next_poll_at: i64,
    pub last_error: Option<String>,
}

impl Store {
    /// A tenant's checks, newest first.
    pub async fn list_checks(
        &self,
        tenant: &TenantKey,
        limit: i64,
    ) -> Result<Vec<CheckSummary>, StoreError> {
        self.find_checks(
            &CheckFilter {
                tenant: Some(tenant.clone()),
                ..CheckFilter::default()
            },
            limit,
        )
        .await
    }

    /// Checks matching `filter`, newest first.
    pub async fn find_checks(
        &self,
        filter: &CheckFilter,
        limit: i64,
    ) -> Result<Vec<CheckSummary>, StoreError> {
        // Each condition is neutral when its parameter is empty or zero.
        let rows = sqlx::query(
            "SELECT id, tenant, pageup_id, phase, reference, desired_version, acked_version, order_attempts, \
             last_error, push_error, created_at, updated_at FROM checks \
             WHERE ($1 = '' OR tenant = $1) AND ($2 = '' OR phase = $2) AND created_at >= $3 \
             AND ($4 = 0 OR order_due_at IS NOT NULL OR desired_version > acked_version) \
             AND ($5 = 0 OR last_error IS NOT NULL OR push_error IS NOT NULL) \
             ORDER BY created_at DESC, id LIMIT $6",
        )
        .bind(filter.tenant.as_ref().map(TenantKey::as_str).unwrap_or_default())
        .bind(filter.phase.map(Phase::as_str).unwrap_or_default())
        .bind(filter.since.unwrap_or(0))
        .bind(i64::from(filter.owing))
        .bind(i64::from(filter.with_errors))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary_of).collect()
    }

    /// One check by our id or PageUp's, within its tenant.
    pub async fn find_check(
        &self,
        tenant: &TenantKey,
        id: &str,
    ) -> Result<Option<CheckSummary>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant, pageup_id, phase, reference, desired_version, acked_version, order_attempts, \
             last_error, push_error, created_at, updated_at FROM checks WHERE tenant = $1 AND (id = $2 OR pageup_id = $2)",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(summary_of).transpose()
    }

    /// Makes a check's owed work due now: its order (if not yet placed) and its PageUp
    /// document (sent again even if acknowledged). Returns false for an unknown check.
    pub async fn retry_now(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET order_due_at = CASE WHEN phase IN ('claimed', 'submitted') THEN $1 ELSE order_due_at END, \
             desired_version = desired_version + 1, push_due_at = $1, push_attempts = 0, updated_at = $1 \
             WHERE tenant = $2 AND id = $3",
        )
        .bind(now)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// An operator cancels a check: no order is placed any more, PageUp is owed
    /// `cancelled`. Returns false when the check is unknown or already final.
    pub async fn cancel_check(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "UPDATE checks SET phase = 'cancelled', order_due_at = NULL, desired_version = desired_version + 1, \
             push_due_at = $1, updated_at = $1 WHERE tenant = $2 AND id = $3 AND phase IN ('claimed', 'ordered', 'candidate', 'submitted')",
        )
        .bind(now)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            sqlx::query("UPDATE searches SET outcome = 'cancelled', outcome_rank = 2, reconcile_at = NULL, updated_at = $1 \
                         WHERE check_id = $2 AND outcome_rank = 0")
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            append_access(
                &mut tx,
                tenant,
                id.as_str(),
                actor,
                AccessAction::Cancelled,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// A tenant's poll schedule and last poll error.
    pub async fn poll_state(&self, tenant: &TenantKey) -> Result<Option<PollState>, StoreError> {
        let row =
            sqlx::query("SELECT next_poll_at, last_error FROM tenant_polls WHERE tenant = $1")
                .bind(tenant.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(PollState {
                next_poll_at: r.try_get("next_poll_at")?,
                last_error: r.try_get("last_error")?,
            }),
            None => None,
        })
    }
}

pub(super) fn summary_of(r: &sqlx::any::AnyRow) -> Result<CheckSummary, StoreError> {
    Ok(CheckSummary {
        id: row::text(r, "id")?,
        tenant: row::text(r, "tenant")?,
        pageup_id: row::text(r, "pageup_id")?,
        phase: row::stored(r, "phase")?,
        reference: row::opt_text(r, "reference")?,
        desired_version: r.try_get("desired_version")?,
        acked_version: r.try_get("acked_version")?,
        order_attempts: r.try_get("order_attempts")?,
        last_error: r.try_get("last_error")?,
        push_error: r.try_get("push_error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}
