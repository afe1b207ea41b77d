//! Leases: the one statement that claims a batch of checks for a worker (order or push
//! work), and freeing every lease an owner holds when a replica starts again.

use std::time::Duration;

use super::writer::WriteQuery as _;
use super::{Backend, Store, StoreError};

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
}
