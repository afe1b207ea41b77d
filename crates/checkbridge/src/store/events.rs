//! Writing one webhook event with its effects, and the forward-only move of a search: the
//! statements shared by the direct path (`Store::record_event`, `apply_search_update`) and
//! the batch writer (`batch`), kept here so neither of those modules needs the other's.

use sqlx::AnyConnection;

use super::{EventRecord, SearchUpdate, StoreError};

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
        "INSERT INTO webhook_events (event_id, tenant, search_id, event_type, body, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(e.event_id)
    .bind(e.tenant)
    .bind(e.search_id)
    .bind(e.event_type)
    .bind(e.body)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !inserted {
        return Ok(false);
    }
    if let Some(theirs) = e.theary_search_id {
        let bare = theirs.strip_prefix("search_").unwrap_or(theirs);
        // Remember Theary's id unless another search of the tenant already holds it.
        sqlx::query(
            "UPDATE searches SET theary_search_id = $1 WHERE id = $2 AND theary_search_id IS NULL \
             AND NOT EXISTS (SELECT 1 FROM searches o WHERE o.tenant = $3 AND o.theary_search_id = $1)",
        )
        .bind(bare)
        .bind(e.search_id)
        .bind(e.tenant)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE searches SET last_event_at = $1, reconcile_at = CASE WHEN outcome_rank < 2 THEN $2 ELSE reconcile_at END \
         WHERE id = $3",
    )
    .bind(now)
    .bind(reconcile_at)
    .bind(e.search_id)
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
    tenant: &str,
    search_id: &str,
    u: &SearchUpdate,
    now: i64,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE searches SET outcome = $1, outcome_rank = $2, result_outcome = $3, discrepancy = $4, reason_code = $5, \
         result = COALESCE($6, result), updated_at = $7, reconcile_at = CASE WHEN $2 >= 2 THEN NULL ELSE reconcile_at END \
         WHERE id = $8 AND tenant = $9 AND outcome_rank < $2",
    )
    .bind(u.outcome)
    .bind(u.rank())
    .bind(u.result_outcome.as_deref())
    .bind(i64::from(u.discrepancy))
    .bind(u.reason_code.as_deref())
    .bind(u.result_json.as_deref())
    .bind(now)
    .bind(search_id)
    .bind(tenant)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if moved {
        sqlx::query(
            "UPDATE checks SET desired_version = desired_version + 1, push_due_at = $1, updated_at = $1 \
             WHERE id = (SELECT check_id FROM searches WHERE id = $2) AND phase IN ('claimed', 'ordered')",
        )
        .bind(now)
        .bind(search_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(moved)
}
