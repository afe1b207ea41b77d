//! Health issues: opened and resolved by the monitor, each owing an alert when it opens and
//! when it resolves (an outbox, delivered by the alerter with a lease like any other work).

use std::time::Duration;

use sqlx::Row;

use super::writer::WriteQuery as _;
use super::{Backend, Store, StoreError};
use crate::domain::ids::TenantKey;

/// One health issue, open or resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthIssue {
    pub id: String,
    pub tenant: TenantKey,
    pub kind: String,
    pub subject: String,
    pub summary: String,
    pub opened_at: i64,
    pub last_seen_at: i64,
    pub resolved_at: Option<i64>,
}

/// An alert owed for an issue: its opening, its resolution, or both (opened and resolved
/// before the first alert went out; they are sent in that order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertWork {
    pub issue: HealthIssue,
    pub open_owed: bool,
    pub resolve_owed: bool,
    pub attempts: i64,
}

const COLUMNS: &str = "id, tenant, kind, subject, summary, opened_at, last_seen_at, resolved_at";

fn issue(r: &sqlx::any::AnyRow) -> Result<HealthIssue, sqlx::Error> {
    Ok(HealthIssue {
        id: r.try_get("id")?,
        tenant: TenantKey::new(r.try_get::<String, _>("tenant")?),
        kind: r.try_get("kind")?,
        subject: r.try_get("subject")?,
        summary: r.try_get("summary")?,
        opened_at: r.try_get("opened_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

impl Store {
    /// Opens an issue unless one is open for the same tenant, kind and subject (then only
    /// its summary and last-seen time change). True when this call opened it. `alert`:
    /// whether its opening owes an alert.
    pub async fn open_issue(
        &self,
        tenant: &TenantKey,
        kind: &str,
        subject: &str,
        summary: &str,
        now: i64,
        alert: bool,
    ) -> Result<bool, StoreError> {
        let opened = sqlx::query(
            "INSERT INTO health_issues (id, tenant, kind, subject, summary, opened_at, last_seen_at, open_alert_due_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(tenant.as_str())
        .bind(kind)
        .bind(subject)
        .bind(summary)
        .bind(now)
        .bind(alert.then_some(now))
        .execute_w(self)
        .await?
        .rows_affected()
            == 1;
        if !opened {
            sqlx::query(
                "UPDATE health_issues SET summary = $1, last_seen_at = $2 \
                 WHERE tenant = $3 AND kind = $4 AND subject = $5 AND resolved_at IS NULL",
            )
            .bind(summary)
            .bind(now)
            .bind(tenant.as_str())
            .bind(kind)
            .bind(subject)
            .execute_w(self)
            .await?;
        }
        Ok(opened)
    }

    /// Resolves the open issue of this tenant, kind and subject, if there is one. True when
    /// this call resolved it.
    pub async fn resolve_issue(
        &self,
        tenant: &TenantKey,
        kind: &str,
        subject: &str,
        now: i64,
        alert: bool,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE health_issues SET resolved_at = $1, last_seen_at = $1, resolve_alert_due_at = $2 \
             WHERE tenant = $3 AND kind = $4 AND subject = $5 AND resolved_at IS NULL",
        )
        .bind(now)
        .bind(alert.then_some(now))
        .bind(tenant.as_str())
        .bind(kind)
        .bind(subject)
        .execute_w(self)
        .await?
        .rows_affected()
            == 1)
    }

    /// Every open issue, oldest first.
    pub async fn open_issues(&self) -> Result<Vec<HealthIssue>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM health_issues WHERE resolved_at IS NULL ORDER BY opened_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(issue).collect::<Result<_, _>>()?)
    }

    /// A tenant's issues (open and resolved) opened since `since`, newest first.
    pub async fn issues_of(
        &self,
        tenant: &TenantKey,
        since: i64,
    ) -> Result<Vec<HealthIssue>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM health_issues WHERE tenant = $1 AND (opened_at >= $2 OR resolved_at IS NULL) \
             ORDER BY opened_at DESC, id"
        ))
        .bind(tenant.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(issue).collect::<Result<_, _>>()?)
    }

    /// Leases issues owing an alert that is due.
    pub async fn lease_alerts(
        &self,
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<AlertWork>, StoreError> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE health_issues SET alert_lease_until = $1, alert_lease_owner = $2 WHERE id IN (\
             SELECT id FROM health_issues WHERE \
             ((open_alert_due_at IS NOT NULL AND open_alert_due_at <= $3) \
              OR (resolve_alert_due_at IS NOT NULL AND resolve_alert_due_at <= $3)) \
             AND (alert_lease_until IS NULL OR alert_lease_until < $3) ORDER BY opened_at LIMIT $4{lock}) \
             RETURNING {COLUMNS}, open_alert_due_at, resolve_alert_due_at, alert_attempts"
        );
        let rows = sqlx::query(&sql)
            .bind(now + i64::try_from(lease_for.as_millis()).unwrap_or(i64::MAX))
            .bind(owner)
            .bind(now)
            .bind(limit)
            .fetch_all_w(self)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertWork {
                    issue: issue(r)?,
                    open_owed: r.try_get::<Option<i64>, _>("open_alert_due_at")?.is_some(),
                    resolve_owed: r
                        .try_get::<Option<i64>, _>("resolve_alert_due_at")?
                        .is_some(),
                    attempts: r.try_get("alert_attempts")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Records that the opening (`opening` true) or the resolution alert of an issue was
    /// delivered, or is not to be sent.
    pub async fn alert_done(&self, id: &str, owner: &str, opening: bool) -> Result<(), StoreError> {
        let column = if opening {
            "open_alert_due_at"
        } else {
            "resolve_alert_due_at"
        };
        sqlx::query(&format!(
            "UPDATE health_issues SET {column} = NULL, alert_attempts = 0, alert_error = NULL \
             WHERE id = $1 AND alert_lease_owner = $2"
        ))
        .bind(id)
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Releases an issue's alert lease; with `retry_at`, the failed delivery is tried then.
    pub async fn alert_release(
        &self,
        id: &str,
        owner: &str,
        retry_at: Option<(i64, &str)>,
    ) -> Result<(), StoreError> {
        match retry_at {
            Some((at, error)) => {
                sqlx::query(
                    "UPDATE health_issues SET alert_lease_until = NULL, alert_lease_owner = NULL, \
                     alert_attempts = alert_attempts + 1, alert_error = $1, \
                     open_alert_due_at = CASE WHEN open_alert_due_at IS NULL THEN NULL ELSE $2 END, \
                     resolve_alert_due_at = CASE WHEN resolve_alert_due_at IS NULL THEN NULL ELSE $2 END \
                     WHERE id = $3 AND alert_lease_owner = $4",
                )
                .bind(error)
                .bind(at)
                .bind(id)
                .bind(owner)
                .execute_w(self)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE health_issues SET alert_lease_until = NULL, alert_lease_owner = NULL \
                     WHERE id = $1 AND alert_lease_owner = $2",
                )
                .bind(id)
                .bind(owner)
                .execute_w(self)
                .await?;
            }
        }
        Ok(())
    }

    /// Per tenant with any, how many checks are stuck: owing an order or a PageUp update
    /// for longer than `owed_for` (the pipeline cannot deliver), and open at Theary longer
    /// than `open_for` after they were claimed. Two grouped queries for all tenants.
    pub async fn stuck_checks(
        &self,
        now: i64,
        owed_for: Duration,
        open_for: Duration,
    ) -> Result<Vec<(TenantKey, i64, i64)>, StoreError> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let mut counts: std::collections::BTreeMap<TenantKey, (i64, i64)> = Default::default();
        let owed = sqlx::query(
            "SELECT tenant, COUNT(*) AS n FROM checks WHERE \
             (phase IN ('claimed', 'submitted') AND order_due_at IS NOT NULL AND created_at < $1) \
             OR (desired_version > acked_version AND updated_at < $1) GROUP BY tenant",
        )
        .bind(now.saturating_sub(ms(owed_for)))
        .fetch_all(&self.pool)
        .await?;
        for r in owed {
            counts
                .entry(TenantKey::new(r.try_get::<String, _>("tenant")?))
                .or_default()
                .0 = r.try_get("n")?;
        }
        let open = sqlx::query(
            "SELECT c.tenant, COUNT(*) AS n FROM checks c WHERE c.phase = 'ordered' AND c.created_at < $1 \
             AND EXISTS (SELECT 1 FROM searches s WHERE s.check_id = c.id AND s.outcome_rank < 2) GROUP BY c.tenant",
        )
        .bind(now.saturating_sub(ms(open_for)))
        .fetch_all(&self.pool)
        .await?;
        for r in open {
            counts
                .entry(TenantKey::new(r.try_get::<String, _>("tenant")?))
                .or_default()
                .1 = r.try_get("n")?;
        }
        Ok(counts.into_iter().map(|(t, (a, b))| (t, a, b)).collect())
    }
}
