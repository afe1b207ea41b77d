//! Searches: finding the search a webhook is about, storing its events and moving searches
//! only forward (the statements themselves are in `events`, shared with `batch`), and the
//! reconciler's work.

use sqlx::Row;

use super::batch::Pending;
use super::events::{apply, write_event};
use super::row;
use super::writer::WriteQuery as _;
use super::{Backend, EventRecord, ReconcileWork, Store, StoreError, WebhookTarget};
use crate::domain::check::SearchUpdate;
use crate::domain::ids::{CheckId, SearchId, TenantKey, ThearySearchId};

impl Store {
    /// The search an incoming event is about, by our id (`externalSearchId`) or by Theary's
    /// search id (with or without its `search_` prefix), within `tenant` only.
    pub async fn webhook_target(
        &self,
        tenant: &TenantKey,
        search_ref: &str,
    ) -> Result<Option<WebhookTarget>, StoreError> {
        let theirs = ThearySearchId::new(search_ref);
        let row = sqlx::query(
            "SELECT s.id, s.check_id, c.webhook_secret, s.theary_search_id FROM searches s JOIN checks c ON c.id = s.check_id \
             WHERE s.tenant = $1 AND (s.id = $2 OR s.theary_search_id = $3) AND c.pii_purged_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(search_ref)
        .bind(theirs.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(WebhookTarget {
                search_id: row::text(&r, "id")?,
                check_id: row::text(&r, "check_id")?,
                secret: r.try_get("webhook_secret")?,
                theary_search_id: r
                    .try_get::<Option<String>, _>("theary_search_id")?
                    .map(|s| ThearySearchId::new(&s)),
            }),
            None => None,
        })
    }

    /// Webhook events stored, over all tenants (for the benchmark's check of what was
    /// committed).
    pub async fn count_webhook_events(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM webhook_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Events stored for a search, oldest first (event id and type).
    pub async fn webhook_events(
        &self,
        tenant: &TenantKey,
        search_id: &SearchId,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT event_id, event_type FROM webhook_events WHERE tenant = $1 AND search_id = $2 ORDER BY received_at, event_id")
            .bind(tenant.as_str())
            .bind(search_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("event_id")?, r.try_get("event_type")?)))
            .collect()
    }

    /// Whether an event id was stored (for tests and audits).
    pub async fn has_event(&self, event_id: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT event_id FROM webhook_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Stores a verified event once and applies it in the same transaction: `update` moves
    /// the search forward (never back), and any move makes PageUp owed a new document; an
    /// event with no update (progress) only marks the search active, so the reconciler
    /// waits longer. Returns false for a duplicate event id, which changes nothing.
    ///
    /// On SQLite, events arriving together are written as one batch and share one commit
    /// (see `batch` and `writer`); each caller returns only once its event is durable.
    pub async fn record_event(
        &self,
        e: &EventRecord<'_>,
        update: Option<&SearchUpdate>,
        now: i64,
        reconcile_at: i64,
    ) -> Result<bool, StoreError> {
        if let Some(events) = &self.events {
            return events
                .record(Pending::new(e, update, now, reconcile_at))
                .await;
        }
        let mut tx = self.write().await?;
        let inserted = write_event(&mut tx, e, update, now, reconcile_at).await?;
        if inserted {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(inserted)
    }

    /// Applies a search's move found by the reconciler. True when it moved forward.
    pub async fn apply_search_update(
        &self,
        tenant: &TenantKey,
        search_id: &SearchId,
        update: &SearchUpdate,
        theary_search_id: Option<&ThearySearchId>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        if let Some(theirs) = theary_search_id {
            sqlx::query(
                "UPDATE searches SET theary_search_id = $1 WHERE id = $2 AND tenant = $3 AND theary_search_id IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM searches o WHERE o.tenant = $3 AND o.theary_search_id = $1)",
            )
            .bind(theirs.as_str())
            .bind(search_id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let changed = apply(&mut tx, tenant, search_id, update, now).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Takes up to `limit` ordered checks with open searches quiet since before `now`, and
    /// moves their next look to `next_at` (so replicas do not look twice).
    pub async fn lease_reconcile_work(
        &self,
        now: i64,
        next_at: i64,
        limit: i64,
    ) -> Result<Vec<ReconcileWork>, StoreError> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE OF s SKIP LOCKED",
        };
        let rows = sqlx::query(&format!(
            "UPDATE searches SET reconcile_at = $1 WHERE id IN (\
               SELECT s.id FROM searches s JOIN checks c ON c.id = s.check_id \
               WHERE s.outcome_rank < 2 AND s.reconcile_at IS NOT NULL AND s.reconcile_at <= $2 \
               AND c.phase = 'ordered' ORDER BY s.reconcile_at LIMIT $3{lock}) \
             RETURNING check_id"
        ))
        .bind(next_at)
        .bind(now)
        .bind(limit)
        .fetch_all_w(self)
        .await?;
        let mut ids: Vec<CheckId> = rows
            .iter()
            .map(|r| row::text(r, "check_id"))
            .collect::<Result<_, _>>()?;
        ids.sort();
        ids.dedup();
        let mut work = Vec::with_capacity(ids.len());
        for id in ids {
            let r = sqlx::query("SELECT tenant, reference FROM checks WHERE id = $1")
                .bind(id.as_str())
                .fetch_one(&self.pool)
                .await?;
            if let Some(reference) = row::opt_text(&r, "reference")? {
                work.push(ReconcileWork {
                    check_id: id,
                    tenant: row::text(&r, "tenant")?,
                    reference,
                });
            }
        }
        Ok(work)
    }
}
