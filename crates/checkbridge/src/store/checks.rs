//! Checks: recording one claimed from PageUp, claiming it again after PageUp put it back to
//! pending, and reading it (phase, PageUp document snapshot, ids, work still owed).

use std::time::Duration;

use sqlx::Row;

use super::leases::ms;
use super::retention::access_statement;
use super::row::{self, CHECK_COLUMNS, SEARCH_COLUMNS};
use super::script::Script;
use super::writer::WriteQuery as _;
use super::{NewCheck, Owed, Plan, Recorded, Store, StoreError};
use crate::domain::check::{AccessAction, CheckRecord, Phase, SearchRecord, SearchState};
use crate::domain::ids::{CheckId, PageUpCheckId, TenantKey};

impl Store {
    /// Records a check claimed from PageUp with its searches and what it owes next: an order,
    /// or (when the invitation cannot make one) PageUp `failed`. Either way PageUp is owed
    /// `queued` first (version 1). Idempotent: a repeat for the same tenant and PageUp id
    /// changes nothing and returns the existing check.
    pub async fn record_claimed(&self, c: &NewCheck<'_>, now: i64) -> Result<Recorded, StoreError> {
        self.record_claimed_as(c, now, None).await
    }

    /// [`Store::record_claimed`] for every check of a page at once, each new check with its
    /// push lease held by `owner` for `lease_for` (the poller that recorded it sends the claim,
    /// `queued`, at once without a second write to take the lease): one write for the page,
    /// as PageUp's next page waits for all of them. Returns their outcomes in order. Each
    /// check's id must be fresh (as [`CheckId::random`] makes them): a check is new exactly
    /// when its id is in the table after the insert.
    pub async fn record_claims_leased(
        &self,
        checks: &[NewCheck<'_>],
        now: i64,
        owner: &str,
        lease_for: Duration,
    ) -> Result<Vec<Recorded>, StoreError> {
        self.record_claims_as(checks, now, Some((owner, now + ms(lease_for))))
            .await
    }

    async fn record_claimed_as(
        &self,
        c: &NewCheck<'_>,
        now: i64,
        push_lease: Option<(&str, i64)>,
    ) -> Result<Recorded, StoreError> {
        self.record_claims_as(std::slice::from_ref(c), now, push_lease)
            .await?
            .pop()
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// One script, one trip to the writer, for all of `checks`: per check, its row, then
    /// (only if it was new: our id is fresh, so it is in the table only if this insert put it
    /// there) its searches, its candidate request and its access record, then whichever id
    /// the check has.
    async fn record_claims_as(
        &self,
        checks: &[NewCheck<'_>],
        now: i64,
        push_lease: Option<(&str, i64)>,
    ) -> Result<Vec<Recorded>, StoreError> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        // Urgent: the tenant's next GET waits for this page.
        let mut sc = Script::new().urgent();
        let at = sc.arg(now);
        let lease_owner = sc.arg(push_lease.map(|(owner, _)| owner));
        let lease_until = sc.arg(push_lease.map(|(_, until)| until));
        for c in checks {
            claim_statements(&mut sc, c, now, (&at, &lease_owner, &lease_until));
        }
        let rows = self.run_script(sc).await?;
        // One row per check, in order: the id it has.
        if rows.len() != checks.len() {
            return Err(StoreError::Database(sqlx::Error::RowNotFound));
        }
        checks
            .iter()
            .zip(rows)
            .map(|(c, r)| {
                let id: CheckId = row::text(&r, "id")?;
                let new = id == *c.id;
                Ok(Recorded { id, new })
            })
            .collect()
    }

    /// PageUp lists a check we hold as pending again. If PageUp acknowledged one of our
    /// documents before `listed_since` (the start of the request that listed it), the
    /// check was put back to pending on PageUp's side: it is claimed again (`queued`, then
    /// the current document). A listing older than our acknowledgement changes nothing.
    pub async fn reclaim_if_reset(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
        listed_since: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET acked_version = 0, push_due_at = $1, updated_at = $1 \
             WHERE tenant = $2 AND id = $3 AND acked_version > 0 AND acked_at < $4",
        )
        .bind(now)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(listed_since)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A check's phase, only within its tenant (another tenant's id reads as absent).
    pub async fn check_phase(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
    ) -> Result<Option<Phase>, StoreError> {
        let row = sqlx::query("SELECT phase FROM checks WHERE tenant = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| row::stored(r, "phase")).transpose()
    }

    /// A check's stored state with its searches, within its tenant: what its view (and
    /// its PageUp document) is computed from. The check's row is read before its searches,
    /// so the state is at least as new as the version it carries.
    pub async fn check_record(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
    ) -> Result<Option<CheckRecord>, StoreError> {
        let Some(r) = sqlx::query(&format!(
            "SELECT {CHECK_COLUMNS} FROM checks WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut check = row::check(&r)?;
        check.searches = self.searches_of(tenant, id).await?;
        Ok(Some(check))
    }

    /// A check's searches, within its tenant, in a stable order.
    pub async fn searches_of(
        &self,
        tenant: &TenantKey,
        check_id: &CheckId,
    ) -> Result<Vec<SearchRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SEARCH_COLUMNS} FROM searches WHERE tenant = $1 AND check_id = $2 ORDER BY search_type, id"
        ))
        .bind(tenant.as_str())
        .bind(check_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row::search).collect()
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
    pub async fn owed(&self, tenant: Option<&TenantKey>) -> Result<Owed, StoreError> {
        let filter = "($1 = '' OR tenant = $1)";
        let t = tenant.map(TenantKey::as_str).unwrap_or_default();
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
        tenant: &TenantKey,
        pageup_id: &PageUpCheckId,
    ) -> Result<Option<CheckId>, StoreError> {
        let row = sqlx::query("SELECT id FROM checks WHERE tenant = $1 AND pageup_id = $2")
            .bind(tenant.as_str())
            .bind(pageup_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| row::text(r, "id")).transpose()
    }
}

/// Appends one claimed check's statements to `sc` (see [`Store::record_claims_leased`]);
/// `now`, the push lease's owner and its end are placeholders the caller added.
fn claim_statements(
    sc: &mut Script,
    c: &NewCheck<'_>,
    now: i64,
    (at, lease_owner, lease_until): (&str, &str, &str),
) {
    let (phase, order_json, reason, order_due, version) = match c.plan {
        Plan::Order { order_json } => (Phase::Claimed, Some(order_json), None, Some(now), 1_i64),
        // Version 2: `queued` first, then `failed`.
        Plan::Failed { reason } => (Phase::Failed, None, Some(reason), None, 2),
        // Version 2: `queued` first, then `new`, waiting on the candidate.
        Plan::Candidate(_) => (Phase::Candidate, None, None, None, 2),
    };
    let id = sc.arg(c.id.as_str());
    let tenant = sc.arg(c.tenant.as_str());
    let pageup_id = sc.arg(c.pageup_id.as_str());
    let (phase, reason, order_json) = (sc.arg(phase.as_str()), sc.arg(reason), sc.arg(order_json));
    let (secret, order_due, version) =
        (sc.arg(c.webhook_secret), sc.arg(order_due), sc.arg(version));
    sc.push(format!(
        "INSERT INTO checks (id, tenant, pageup_id, phase, reason, webhook_secret, order_due_at, \
         desired_version, push_due_at, created_at, updated_at, push_lease_owner, push_lease_until) \
         VALUES ({id}, {tenant}, {pageup_id}, {phase}, {reason}, {secret}, {order_due}, \
         {version}, {at}, {at}, {at}, {lease_owner}, {lease_until}) ON CONFLICT (tenant, pageup_id) DO NOTHING"
    ));
    let if_new = format!("WHERE EXISTS (SELECT 1 FROM checks WHERE id = {id})");
    if matches!(c.plan, Plan::Order { .. }) {
        // The order in its own table, so the check's row stays small (schema_v10.sql).
        sc.push(format!(
            "INSERT INTO check_orders (check_id, tenant, order_json) \
             SELECT {id}, {tenant}, {order_json} {if_new}"
        ));
    }
    if !c.searches.is_empty() {
        let open = sc.arg(SearchState::Open.as_str());
        let rows: Vec<String> = c
            .searches
            .iter()
            .map(|s| {
                let sid = sc.arg(s.id.as_str());
                let ty = sc.arg(s.search_type.as_str());
                format!("({sid}, {id}, {tenant}, {ty}, {open}, {at})")
            })
            .collect();
        sc.push(format!(
            "INSERT INTO searches (id, check_id, tenant, search_type, outcome, updated_at) \
             SELECT * FROM (VALUES {}) AS v {if_new}",
            rows.join(", ")
        ));
    }
    if let Plan::Candidate(r) = c.plan {
        let (hash, token, needs, inv, exp) = (
            sc.arg(r.token_hash),
            sc.arg(r.token_sealed),
            sc.arg(r.needs_json),
            sc.arg(r.invitation_sealed),
            sc.arg(r.expires_at),
        );
        sc.push(format!(
            "INSERT INTO candidate_requests (check_id, tenant, token_hash, token_sealed, state, needs, \
             invitation, invited_at, expires_at, mail_due_at, updated_at) \
             SELECT {id}, {tenant}, {hash}, {token}, 'invited', {needs}, {inv}, {at}, {exp}, {at}, {at} {if_new}"
        ));
    }
    let access = access_statement(
        sc,
        (&tenant, &id, at),
        "service:poller",
        AccessAction::Procured,
        &if_new,
    );
    sc.push(access);
    sc.push(format!(
        "SELECT id FROM checks WHERE tenant = {tenant} AND pageup_id = {pageup_id}"
    ));
}
