//! Leases: the one statement that claims a batch of checks for a worker (order or push
//! work), renewing the leases a replica is working under, giving back one it could not
//! finish, and freeing every lease an owner holds when a replica starts again.

use std::time::Duration;

use super::writer::WriteQuery as _;
use super::{Backend, Store, StoreError};
use crate::domain::ids::CheckId;

/// A lease length in milliseconds, as the lease columns hold it.
pub(super) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// `UPDATE ... WHERE id IN (pick) RETURNING ...`, skipping rows other replicas hold
    /// locked on PostgreSQL; SQLite has one writer at a time, so the statement is atomic.
    /// Leases up to `limit` checks in one statement: `set` writes the lease ($1 until, $2
    /// owner) on the rows `pick` selects ($3 now, $4 limit), returning `returning`.
    pub(super) async fn lease_rows(
        &self,
        (set, pick, returning): (&str, &str, &str),
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
        except: &[crate::domain::ids::TenantKey],
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        // Tenants whose work must wait (at their limit of calls in flight, or asked by the
        // partner to slow down) are left out of the pick, so they never crowd out others.
        let pick = if except.is_empty() {
            pick.to_owned()
        } else {
            let marks: Vec<String> = (0..except.len()).map(|i| format!("${}", i + 5)).collect();
            pick.replacen(
                " ORDER BY",
                &format!(" AND tenant NOT IN ({}) ORDER BY", marks.join(", ")),
                1,
            )
        };
        let sql =
            format!("UPDATE checks SET {set} WHERE id IN ({pick}{lock}) RETURNING {returning}");
        let mut q = sqlx::query(&sql)
            .bind(now + ms(lease_for))
            .bind(owner)
            .bind(now)
            .bind(limit);
        for t in except {
            q = q.bind(t.as_str());
        }
        q.fetch_all_w(self).await
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

    /// Extends to `until` the leases `owner` holds on the work named (its live holds),
    /// in one statement per kind of work. Leases of `owner` not named are left to lapse.
    pub async fn renew_leases(
        &self,
        owner: &str,
        until: i64,
        live: &RenewSet<'_>,
    ) -> Result<(), StoreError> {
        for (table, until_col, owner_col, key_col, keys) in [
            ("checks", "lease_until", "lease_owner", "id", live.orders),
            (
                "checks",
                "push_lease_until",
                "push_lease_owner",
                "id",
                live.pushes,
            ),
            (
                "tenant_polls",
                "lease_until",
                "lease_owner",
                "tenant",
                live.polls,
            ),
            (
                "health_issues",
                "alert_lease_until",
                "alert_lease_owner",
                "id",
                live.alerts,
            ),
        ] {
            for chunk in keys.chunks(500) {
                let list = (3..3 + chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "UPDATE {table} SET {until_col} = $1 WHERE {owner_col} = $2 AND {key_col} IN ({list})"
                );
                let mut q = sqlx::query(&sql).bind(until).bind(owner);
                for k in chunk {
                    q = q.bind(*k);
                }
                q.execute_w(self).await?;
            }
        }
        // Always one write, even with nothing to renew: the keeper learns from it whether
        // the database takes writes (a locked SQLite file still answers reads).
        sqlx::query(
            "UPDATE tenant_polls SET lease_until = lease_until WHERE lease_owner = $1 AND 1 = 0",
        )
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Gives back `owner`'s order lease on a check; its order stays due.
    pub async fn release_order(&self, id: &CheckId, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checks SET lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.as_str())
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Makes a check's open searches due for the reconciler's look now (the look taken for
    /// them did not finish).
    pub async fn reconcile_again(&self, check: &CheckId, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE searches SET reconcile_at = $1 WHERE check_id = $2 AND outcome_rank < 2 AND reconcile_at IS NOT NULL",
        )
        .bind(now)
        .bind(check.as_str())
        .execute_w(self)
        .await?;
        Ok(())
    }
}

/// The work whose leases to renew, by kind (ids as stored).
#[derive(Debug, Default, Clone, Copy)]
pub struct RenewSet<'a> {
    pub orders: &'a [&'a str],
    pub pushes: &'a [&'a str],
    pub polls: &'a [&'a str],
    pub alerts: &'a [&'a str],
}
