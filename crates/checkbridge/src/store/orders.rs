//! Orders: leasing checks whose Theary order is due (the lease counts the attempt, before
//! anything is sent), and recording the outcome (placed, refused, or to be tried again later).

use std::time::Duration;

use sqlx::Row;

use super::leases::ms;
use super::retention::access_statement;
use super::row;
use super::script::Script;
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
                    // The attempt is counted in the lease itself: once leased, an order may
                    // be POSTed, and a later lease looks it up at Theary first.
                    "lease_until = $1, lease_owner = $2, order_attempts = order_attempts + 1",
                    "SELECT id FROM checks WHERE order_due_at IS NOT NULL AND order_due_at <= $3 \
                     AND (lease_until IS NULL OR lease_until < $3) ORDER BY order_due_at LIMIT $4",
                    "id, tenant, pageup_id, order_attempts",
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
        let marks = marks.join(", ");
        let sql = format!(
            "SELECT check_id, id FROM searches WHERE check_id IN ({marks}) ORDER BY check_id, id"
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(id.as_str());
        }
        // And their orders (kept apart from the check's row, schema_v10.sql).
        let sql =
            format!("SELECT check_id, order_json FROM check_orders WHERE check_id IN ({marks})");
        let mut o = sqlx::query(&sql);
        for id in &ids {
            o = o.bind(id.as_str());
        }
        let mut orders: std::collections::HashMap<String, Option<String>> = o
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("check_id")?, r.try_get("order_json")?)))
            .collect::<Result<_, StoreError>>()?;
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
                attempts: r.try_get::<i64, _>("order_attempts")? - 1,
                order_json: orders.remove(id.as_str()).flatten(),
                search_ids,
                id,
            });
        }
        Ok(work)
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
        // One script, one trip to the writer. The push lease is taken only where none is
        // held or a lapsed one is left over: a held lease (the claim's `queued` still on its
        // way) keeps its holder. The statements after the first act only if it did: the row
        // then carries this order's reference and time, and no order lease.
        let mut sc = Script::new()
            .bind(order.reference.as_str()) // $1
            .bind(now) // $2
            .bind(order.tenant.as_str()) // $3
            .bind(order.check_id.as_str()) // $4
            .bind(order.owner) // $5
            .bind(push_lease_until) // $6
            .bind(order.reconcile_at) // $7
            .then(
                "UPDATE checks SET phase = 'ordered', reference = $1, order_due_at = NULL, lease_until = NULL, \
                 lease_owner = NULL, last_error = NULL, desired_version = desired_version + 1, push_due_at = $2, updated_at = $2, \
                 push_lease_owner = CASE WHEN $6 IS NOT NULL AND (push_lease_until IS NULL OR push_lease_until < $2) \
                   THEN $5 ELSE push_lease_owner END, \
                 push_lease_until = CASE WHEN $6 IS NOT NULL AND (push_lease_until IS NULL OR push_lease_until < $2) \
                   THEN $6 ELSE push_lease_until END \
                 WHERE tenant = $3 AND id = $4 AND lease_owner = $5 AND phase IN ('claimed', 'submitted') \
                 RETURNING push_lease_owner, push_lease_until",
            );
        const IF_RECORDED: &str = "EXISTS (SELECT 1 FROM checks WHERE id = $4 AND tenant = $3 \
             AND phase = 'ordered' AND reference = $1 AND updated_at = $2 AND lease_owner IS NULL)";
        // One statement for the searches: when to look at them first, and Theary's id of
        // the one search where the answer says which is which.
        let (ours, theirs) = match order.theary_ids {
            [(ours, theirs)] => (Some(ours.as_str()), Some(theirs.as_str())),
            _ => (None, None),
        };
        let (ours, theirs) = (sc.arg(ours), sc.arg(theirs));
        sc.push(format!(
            "UPDATE searches SET reconcile_at = COALESCE(reconcile_at, $7), \
             theary_search_id = CASE WHEN id = {ours} AND theary_search_id IS NULL THEN {theirs} ELSE theary_search_id END \
             WHERE check_id = $4 AND {IF_RECORDED}"
        ));
        if order.theary_ids.len() > 1 {
            for (ours, theirs) in order.theary_ids {
                let (ours, theirs) = (sc.arg(ours.as_str()), sc.arg(theirs.as_str()));
                sc.push(format!(
                    "UPDATE searches SET theary_search_id = {theirs} WHERE id = {ours} AND check_id = $4 \
                     AND theary_search_id IS NULL AND {IF_RECORDED}"
                ));
            }
        }
        let access = access_statement(
            &mut sc,
            ("$3", "$4", "$2"),
            &format!("service:orderer ({})", order.owner),
            AccessAction::Ordered,
            &format!("WHERE {IF_RECORDED}"),
        );
        sc.push(access);
        let rows = self.run_script(sc).await?;
        let Some(updated) = rows.first() else {
            return Ok(None);
        };
        let push_owner: Option<String> = updated.try_get("push_lease_owner")?;
        let push_until: Option<i64> = updated.try_get("push_lease_until")?;
        let push_leased = push_lease_until.is_some()
            && push_owner.as_deref() == Some(order.owner)
            && push_until == push_lease_until;
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
