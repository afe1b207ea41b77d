//! Writing one webhook event with its effects, and the forward-only move of a search: the
//! statements shared by the direct path (`Store::record_event`, `apply_search_update`) and
//! the batch writer (`batch`), kept here so neither of those modules needs the other's.

use sqlx::AnyConnection;

use super::{EventRecord, StoreError};
use crate::domain::check::{Phase, SearchUpdate};
use crate::domain::ids::{SearchId, TenantKey};

/// Writes one event and its effects in `tx`. False (and nothing written) for a duplicate.
pub(super) async fn write_event(
    tx: &mut AnyConnection,
    e: &EventRecord<'_>,
    update: Option<&SearchUpdate>,
    now: i64,
    reconcile_at: i64,
) -> Result<bool, StoreError> {
    // The insert comes first: it takes SQLite's write lock at once and settles duplicates.
    let inserted = sqlx::query(
        "INSERT INTO webhook_events (event_id, tenant, search_id, event_type, body, received_at, body_digest) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(e.event_id)
    .bind(e.tenant.as_str())
    .bind(e.search_id.as_str())
    .bind(e.event_type)
    .bind(e.body)
    .bind(now)
    .bind(e.body_digest)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    // A clash on the event id or on the body's digest (a replay under a fresh id).
    if !inserted {
        return Ok(false);
    }
    if let Some(theirs) = e.theary_search_id {
        // Remember Theary's id unless another search of the tenant already holds it.
        sqlx::query(
            "UPDATE searches SET theary_search_id = $1 WHERE id = $2 AND theary_search_id IS NULL \
             AND NOT EXISTS (SELECT 1 FROM searches o WHERE o.tenant = $3 AND o.theary_search_id = $1)",
        )
        .bind(theirs.as_str())
        .bind(e.search_id.as_str())
        .bind(e.tenant.as_str())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE searches SET last_event_at = $1, reconcile_at = CASE WHEN outcome_rank < 2 THEN $2 ELSE reconcile_at END \
         WHERE id = $3",
    )
    .bind(now)
    .bind(reconcile_at)
    .bind(e.search_id.as_str())
    .execute(&mut *tx)
    .await?;
    if let Some(u) = update {
        if apply(tx, e.tenant, e.search_id, u, now).await? {
            sqlx::query("UPDATE webhook_events SET changed = 1 WHERE event_id = $1")
                .bind(e.event_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(true)
}

/// Moves a search forward if `u` ranks above where it stands; bumps the check's version.
/// True when it moved.
pub(super) async fn apply(
    tx: &mut AnyConnection,
    tenant: &TenantKey,
    search_id: &SearchId,
    u: &SearchUpdate,
    now: i64,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE searches SET outcome = $1, outcome_rank = $2, result_outcome = $3, discrepancy = $4, reason_code = $5, \
         result = COALESCE($6, result), updated_at = $7, reconcile_at = CASE WHEN $2 >= 2 THEN NULL ELSE reconcile_at END \
         WHERE id = $8 AND tenant = $9 AND outcome_rank < $2",
    )
    .bind(u.state.as_str())
    .bind(u.rank())
    .bind(u.outcome.as_ref().map(|o| o.as_str().to_owned()))
    .bind(i64::from(u.discrepancy))
    .bind(u.reason_code.as_ref().map(|c| c.as_str().to_owned()))
    .bind(u.result_json.as_deref())
    .bind(now)
    .bind(search_id.as_str())
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if moved {
        sqlx::query(
            "UPDATE checks SET desired_version = desired_version + 1, push_due_at = $1, updated_at = $1 \
             WHERE id = (SELECT check_id FROM searches WHERE id = $2) AND phase IN ($3, $4, $5)",
        )
        .bind(now)
        .bind(search_id.as_str())
        .bind(Phase::Claimed.as_str())
        .bind(Phase::Ordered.as_str())
        .bind(Phase::Submitted.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok(moved)
}
