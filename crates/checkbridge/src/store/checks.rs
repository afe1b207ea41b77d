//! Checks: claiming, ordering, pushing, and tenant poll leases.

use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::writer::WriteQuery as _;
use super::{
    Backend, CheckSnapshot, NewCheck, OrderWork, Owed, PlacedOrder, Plan, PushWork, Recorded,
    SearchRow, Store, StoreError,
};

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// `UPDATE ... WHERE id IN (pick) RETURNING ...`, skipping rows other replicas hold
    /// locked on PostgreSQL; SQLite has one writer at a time, so the statement is atomic.
    /// Leases up to `limit` checks in one statement: `set` writes the lease ($1 until, $2
    /// owner) on the rows `pick` selects ($3 now, $4 limit), returning `returning`.
    async fn lease_rows(
        &self,
        (set, pick, returning): (&str, &str, &str),
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql =
            format!("UPDATE checks SET {set} WHERE id IN ({pick}{lock}) RETURNING {returning}");
        sqlx::query(&sql)
            .bind(now + ms(lease_for))
            .bind(owner)
            .bind(now)
            .bind(limit)
            .fetch_all_w(self)
            .await
    }

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
            let id: String = r.try_get("id")?;
            let search_ids = sqlx::query("SELECT id FROM searches WHERE check_id = $1 ORDER BY id")
                .bind(&id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|s| s.try_get::<String, _>("id"))
                .collect::<Result<_, _>>()?;
            work.push(OrderWork {
                id,
                tenant: r.try_get("tenant")?,
                pageup_id: r.try_get("pageup_id")?,
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
        id: &str,
        owner: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET order_attempts = order_attempts + 1, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND order_due_at IS NOT NULL",
        )
        .bind(now)
        .bind(id)
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
        .bind(order.reference)
        .bind(now)
        .bind(order.tenant)
        .bind(order.check_id)
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
        .bind(order.check_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO access_log (id, tenant, check_id, actor, action, at) VALUES ($1, $2, $3, $4, 'ordered', $5)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(order.tenant)
            .bind(order.check_id)
            .bind(format!("service:orderer ({})", order.owner))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for (ours, theirs) in order.theary_ids {
            sqlx::query(
                "UPDATE searches SET theary_search_id = $1 WHERE id = $2 AND check_id = $3 AND theary_search_id IS NULL",
            )
            .bind(theirs)
            .bind(ours)
            .bind(order.check_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The order cannot be placed (Theary refused it): PageUp is owed `failed` with `reason`.
    pub async fn record_order_failed(
        &self,
        id: &str,
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
        .bind(id)
        .bind(owner)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The order attempt failed for a reason that may pass: try again at `due_at`.
    pub async fn order_retry_later(
        &self,
        id: &str,
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
        .bind(id)
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Leases up to `limit` checks whose PageUp document is behind and due.
    pub async fn lease_push_work(
        &self,
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<PushWork>, StoreError> {
        let rows = self
            .lease_rows(
                (
                    "push_lease_until = $1, push_lease_owner = $2",
                    "SELECT id FROM checks WHERE desired_version > acked_version \
                     AND (push_due_at IS NULL OR push_due_at <= $3) \
                     AND (push_lease_until IS NULL OR push_lease_until < $3) ORDER BY push_due_at LIMIT $4",
                    "id, tenant, push_attempts",
                ),
                owner,
                now,
                lease_for,
                limit,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PushWork {
                    id: r.try_get("id")?,
                    tenant: r.try_get("tenant")?,
                    attempts: r.try_get("push_attempts")?,
                })
            })
            .collect()
    }

    /// Leases one check for pushing now (the poller's immediate claim), if it owes a push
    /// and no one else holds it.
    pub async fn lease_push(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET push_lease_until = $1, push_lease_owner = $2 WHERE id = $3 \
             AND desired_version > acked_version AND (push_lease_until IS NULL OR push_lease_until < $4)",
        )
        .bind(now + ms(lease_for))
        .bind(owner)
        .bind(id)
        .bind(now)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
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

    /// PageUp acknowledged `version` (or an older document, the claim, when `version` is 1).
    /// Only the lease holder records it, and the acknowledged version never goes down.
    pub async fn ack_push(
        &self,
        id: &str,
        owner: &str,
        version: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checks SET acked_version = CASE WHEN acked_version < $1 THEN $1 ELSE acked_version END, \
             acked_at = $2, push_attempts = 0, push_error = NULL, push_due_at = $2, \
             push_lease_until = NULL, push_lease_owner = NULL WHERE id = $3 AND push_lease_owner = $4",
        )
        .bind(version)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// The push failed: try again at `due_at`, remembering why.
    pub async fn push_retry_later(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        due_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checks SET push_attempts = push_attempts + 1, push_error = $1, push_due_at = $2, \
             push_lease_until = NULL, push_lease_owner = NULL WHERE id = $3 AND push_lease_owner = $4",
        )
        .bind(error)
        .bind(due_at)
        .bind(id)
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Gives a push lease back without trying (the work was not this worker's to do).
    pub async fn release_push(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checks SET push_lease_until = NULL, push_lease_owner = NULL WHERE id = $1 AND push_lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Frees every lease `owner` holds: called by a replica at start, when any lease in its
    /// name is left from before a crash. Returns how many were freed.
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let mut n = 0;
        for sql in [
            "UPDATE checks SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = $1",
            "UPDATE checks SET push_lease_until = NULL, push_lease_owner = NULL WHERE push_lease_owner = $1",
            "UPDATE tenant_polls SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = $1",
        ] {
            n += sqlx::query(sql)
                .bind(owner)
                .execute_w(self)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    /// Makes sure every configured tenant has a poll schedule row.
    pub async fn ensure_tenants<'a>(
        &self,
        tenants: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        // One transaction: ten thousand tenants are one commit, not ten thousand.
        let mut tx = self.write().await?;
        for t in tenants {
            sqlx::query("INSERT INTO tenant_polls (tenant, next_poll_at) VALUES ($1, 0) ON CONFLICT (tenant) DO NOTHING")
                .bind(t)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Tenants due for a poll and not leased, soonest first.
    pub async fn due_tenants(&self, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant FROM tenant_polls WHERE next_poll_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_poll_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("tenant")?)).collect()
    }

    /// Moves an unleased tenant's next poll to `at`.
    pub async fn postpone_tenant_poll(
        &self,
        tenant: &str,
        now: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tenant_polls SET next_poll_at = $1 WHERE tenant = $2 AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(at)
        .bind(tenant)
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
        tenant: &str,
        owner: &str,
        now: i64,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO tenant_polls (tenant, lease_until, lease_owner, next_poll_at) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (tenant) DO UPDATE SET lease_until = $2, lease_owner = $3 \
             WHERE tenant_polls.lease_until IS NULL OR tenant_polls.lease_until < $4 OR tenant_polls.lease_owner = $3",
        )
        .bind(tenant)
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
        tenant: &str,
        owner: &str,
        next_poll_at: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenant_polls SET lease_until = NULL, lease_owner = NULL, next_poll_at = $1, last_error = $2 \
                     WHERE tenant = $3 AND lease_owner = $4")
            .bind(next_poll_at)
            .bind(error)
            .bind(tenant)
            .bind(owner)
            .execute_w(self)
            .await?;
        Ok(())
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

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1 AS one").fetch_one(&self.pool).await?;
        Ok(())
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
