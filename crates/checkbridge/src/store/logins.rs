//! Failed sign-ins, counted per user name and per client address in the database, so every
//! replica refuses a key another replica locked. Keys arrive hashed (see `schema_v4.sql`).

use sqlx::Row;

use super::writer::WriteQuery as _;
use super::{Store, StoreError};

/// What a failed sign-in is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginScope {
    Name,
    Address,
}

impl LoginScope {
    fn as_str(self) -> &'static str {
        match self {
            LoginScope::Name => "name",
            LoginScope::Address => "address",
        }
    }
}

impl Store {
    /// The latest time until which any of `keys` is locked, if one is locked at `now`.
    pub async fn login_locked_until(
        &self,
        keys: &[(LoginScope, &str)],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut until: Option<i64> = None;
        for (scope, key) in keys {
            let row = sqlx::query(
                "SELECT locked_until FROM login_failures WHERE scope = $1 AND key_hash = $2 AND locked_until > $3",
            )
            .bind(scope.as_str())
            .bind(*key)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = row {
                let t: i64 = r.try_get("locked_until")?;
                until = Some(until.map_or(t, |u| u.max(t)));
            }
        }
        Ok(until)
    }

    /// Counts a failed sign-in against `key`: a new window starts when the last one has
    /// passed; reaching `max_failures` in a window locks the key until `now + lock_ms`.
    /// Returns the failures counted in the current window.
    pub async fn login_failed(
        &self,
        scope: LoginScope,
        key: &str,
        now: i64,
        window_ms: i64,
        max_failures: i64,
        lock_ms: i64,
    ) -> Result<i64, StoreError> {
        let rows = sqlx::query(
            "INSERT INTO login_failures (scope, key_hash, window_start, failures, locked_until) \
             VALUES ($1, $2, $3, 1, CASE WHEN 1 >= $5 THEN $3 + $6 ELSE 0 END) \
             ON CONFLICT (scope, key_hash) DO UPDATE SET \
               window_start = CASE WHEN login_failures.window_start <= $3 - $4 THEN $3 ELSE login_failures.window_start END, \
               failures = CASE WHEN login_failures.window_start <= $3 - $4 THEN 1 ELSE login_failures.failures + 1 END, \
               locked_until = CASE \
                 WHEN (CASE WHEN login_failures.window_start <= $3 - $4 THEN 1 ELSE login_failures.failures + 1 END) >= $5 \
                   THEN $3 + $6 \
                 ELSE login_failures.locked_until END \
             RETURNING failures",
        )
        .bind(scope.as_str())
        .bind(key)
        .bind(now)
        .bind(window_ms)
        .bind(max_failures)
        .bind(lock_ms)
        .fetch_all_w(self)
        .await?;
        match rows.first() {
            Some(r) => Ok(r.try_get("failures")?),
            None => Err(StoreError::CommitFailed),
        }
    }

    /// Forgets `key`'s failures (after it signed in).
    pub async fn login_succeeded(&self, scope: LoginScope, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE scope = $1 AND key_hash = $2")
            .bind(scope.as_str())
            .bind(key)
            .execute_w(self)
            .await?;
        Ok(())
    }

    /// Deletes rows whose window and lock have both passed; returns how many.
    pub async fn purge_login_failures(&self, now: i64, window_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM login_failures WHERE window_start <= $1 AND locked_until <= $2",
        )
        .bind(now - window_ms)
        .bind(now)
        .execute_w(self)
        .await?
        .rows_affected())
    }

    /// Rows of failed sign-ins held now (for tests and the operator's curiosity).
    pub async fn login_failure_rows(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM login_failures")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
