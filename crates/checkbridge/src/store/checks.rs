//! Checks: recording one claimed from PageUp, claiming it again after PageUp put it back to
//! pending, and reading it (phase, PageUp document snapshot, ids, work still owed).

use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::leases::ms;
use super::writer::WriteQuery as _;
use super::{CheckSnapshot, NewCheck, Owed, Plan, Recorded, SearchRow, Store, StoreError};

impl Store {
    /// Records a check claimed from PageUp with its searches and what it owes next: an order,
    /// or (when the invitation cannot make one) PageUp `failed`. Either way PageUp is owed
    /// `queued` first (version 1). Idempotent: a repeat for the same tenant and PageUp id
    /// changes nothing and returns the existing check.
    pub async fn record_claimed(&self, c: &NewCheck<'_>, now: i64) -> Result<Recorded, StoreError> {
        self.record_claimed_as(c, now, None).await
    }

    /// [`Store::record_claimed`], and a new check comes with its push lease held by `owner`
    /// for `lease_for`: the poller that recorded it sends the claim (`queued`) at once
    /// without a second write to take the lease.
    pub async fn record_claimed_leased(
        &self,
        c: &NewCheck<'_>,
        now: i64,
        owner: &str,
        lease_for: Duration,
    ) -> Result<Recorded, StoreError> {
        self.record_claimed_as(c, now, Some((owner, now + ms(lease_for))))
            .await
    }

    async fn record_claimed_as(
        &self,
        c: &NewCheck<'_>,
        now: i64,
        push_lease: Option<(&str, i64)>,
    ) -> Result<Recorded, StoreError> {
        let (phase, order_json, reason, order_due, version) = match c.plan {
            Plan::Order { order_json } => ("claimed", Some(order_json), None, Some(now), 1_i64),
            // Version 2: `queued` first, then `failed`.
            Plan::Failed { reason } => ("failed", None, Some(reason), None, 2),
        };
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO checks (id, tenant, pageup_id, phase, reason, order_json, webhook_secret, order_due_at, \
             desired_version, push_due_at, created_at, updated_at, push_lease_owner, push_lease_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $11, $12) ON CONFLICT (tenant, pageup_id) DO NOTHING",
        )
        .bind(c.id)
        .bind(c.tenant)
        .bind(c.pageup_id)
        .bind(phase)
        .bind(reason)
        .bind(order_json)
        .bind(c.webhook_secret)
        .bind(order_due)
        .bind(version)
        .bind(now)
        .bind(push_lease.map(|(owner, _)| owner))
        .bind(push_lease.map(|(_, until)| until))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            for s in c.searches {
                sqlx::query(
                    "INSERT INTO searches (id, check_id, tenant, search_type, outcome, updated_at) \
                     VALUES ($1, $2, $3, $4, 'open', $5)",
                )
                .bind(&s.id)
                .bind(c.id)
                .bind(c.tenant)
                .bind(&s.search_type)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("INSERT INTO access_log (id, tenant, check_id, actor, action, at) VALUES ($1, $2, $3, 'service:poller', 'procured', $4)")
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(c.tenant)
                .bind(c.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Recorded {
                id: c.id.to_owned(),
                new: true,
            });
        }
        let existing: String =
            sqlx::query("SELECT id FROM checks WHERE tenant = $1 AND pageup_id = $2")
                .bind(c.tenant)
                .bind(c.pageup_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
        tx.commit().await?;
        Ok(Recorded {
            id: existing,
            new: false,
        })
    }

    /// PageUp lists a check we hold as pending again. If PageUp acknowledged one of our
    /// documents before `listed_since` (the start of the request that listed it), the
    /// check was put back to pending on PageUp's side: it is claimed again (`queued`, then
    /// the current document). A listing older than our acknowledgement changes nothing.
    pub async fn reclaim_if_reset(
        &self,
        tenant: &str,
        id: &str,
        listed_since: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET acked_version = 0, push_due_at = $1, updated_at = $1 \
             WHERE tenant = $2 AND id = $3 AND acked_version > 0 AND acked_at < $4",
        )
        .bind(now)
        .bind(tenant)
        .bind(id)
        .bind(listed_since)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A check's phase, only within its tenant (another tenant's id reads as absent).
    pub async fn check_phase(&self, tenant: &str, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT phase FROM checks WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("phase")?),
            None => None,
        })
    }

    /// The check as its PageUp document needs it (version first, then searches).
    pub async fn snapshot(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<CheckSnapshot>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT id, tenant, pageup_id, phase, reference, reason, desired_version, acked_version \
             FROM checks WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let searches = self.search_rows(id).await?;
        Ok(Some(CheckSnapshot {
            id: r.try_get("id")?,
            tenant: r.try_get("tenant")?,
            pageup_id: r.try_get("pageup_id")?,
            phase: r.try_get("phase")?,
            reference: r.try_get("reference")?,
            reason: r.try_get("reason")?,
            desired_version: r.try_get("desired_version")?,
            acked_version: r.try_get("acked_version")?,
            searches,
        }))
    }

    pub(crate) async fn search_rows(&self, check_id: &str) -> Result<Vec<SearchRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, search_type, theary_search_id, outcome, result_outcome, discrepancy, reason_code \
             FROM searches WHERE check_id = $1 ORDER BY search_type, id",
        )
        .bind(check_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(search_row).collect()
    }

    /// Age in milliseconds of the oldest PageUp document still owed (0 when none).
    pub async fn oldest_owed_push(&self, now: i64) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "SELECT MIN(updated_at) AS t FROM checks WHERE desired_version > acked_version",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get::<Option<i64>, _>("t")?
            .map(|t| (now - t).max(0))
            .unwrap_or(0))
    }

    /// Work still owed, over all tenants or one.
    pub async fn owed(&self, tenant: Option<&str>) -> Result<Owed, StoreError> {
        let filter = "($1 = '' OR tenant = $1)";
        let t = tenant.unwrap_or_default();
        let count = |sql: String| async move {
            let r = sqlx::query(&sql).bind(t).fetch_one(&self.pool).await?;
            Ok::<i64, StoreError>(r.try_get("n")?)
        };
        Ok(Owed {
            orders: count(format!(
                "SELECT COUNT(*) AS n FROM checks WHERE {filter} AND order_due_at IS NOT NULL"
            ))
            .await?,
            pushes: count(format!(
                "SELECT COUNT(*) AS n FROM checks WHERE {filter} AND desired_version > acked_version"
            ))
            .await?,
            open_searches: count(format!(
                "SELECT COUNT(*) AS n FROM searches WHERE {filter} AND outcome_rank = 0 \
                 AND check_id IN (SELECT id FROM checks WHERE phase = 'ordered')"
            ))
            .await?,
        })
    }

    /// Our check id for a PageUp check, within its tenant.
    pub async fn check_id_for(
        &self,
        tenant: &str,
        pageup_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT id FROM checks WHERE tenant = $1 AND pageup_id = $2")
            .bind(tenant)
            .bind(pageup_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }
}

pub(crate) fn search_row(r: &AnyRow) -> Result<SearchRow, StoreError> {
    Ok(SearchRow {
        id: r.try_get("id")?,
        search_type: r.try_get("search_type")?,
        theary_search_id: r.try_get("theary_search_id")?,
        outcome: r.try_get("outcome")?,
        result_outcome: r.try_get("result_outcome")?,
        discrepancy: r.try_get::<i64, _>("discrepancy")? != 0,
        reason_code: r.try_get("reason_code")?,
    })
}
