//! The lifecycle of the people who sign in: listed, disabled (their sessions end in the same
//! transaction), enabled, removed (never the last operator), their password reset (sessions
//! end too), their sessions listed and revoked. Each change is written to `user_changes` with the change itself.

use sqlx::Row;

use super::{row, Store, StoreError};
use crate::domain::ids::TenantKey;

/// A user as an operator lists them (no password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserListing {
    pub username: String,
    /// The reader's tenant; `*` for an operator.
    pub tenant: String,
    pub role: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    /// Sessions not yet expired.
    pub sessions: i64,
}

/// One recorded change to a user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserChange {
    pub username: String,
    pub action: String,
    pub actor: String,
    pub at: i64,
}

/// One live session of a user (its token is never shown; only its start and end).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionListing {
    pub created_at: i64,
    pub expires_at: i64,
}

/// What a change to a user came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChangeOutcome {
    Done,
    /// No user has that name.
    Unknown,
    /// The change would leave no enabled operator.
    LastOperator,
}

impl Store {
    /// Every user, by name.
    pub async fn list_users(&self, now: i64) -> Result<Vec<UserListing>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.username, u.tenant, u.role, u.created_at, u.disabled_at, \
             (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $1) AS sessions \
             FROM users u ORDER BY u.username",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UserListing {
                    username: r.try_get("username")?,
                    tenant: row::text::<TenantKey>(r, "tenant")?.to_string(),
                    role: r.try_get("role")?,
                    created_at: r.try_get("created_at")?,
                    disabled_at: r.try_get("disabled_at")?,
                    sessions: r.try_get("sessions")?,
                })
            })
            .collect()
    }

    /// The live sessions of `username`, oldest first; `None` when no user has that name.
    pub async fn user_sessions(
        &self,
        username: &str,
        now: i64,
    ) -> Result<Option<Vec<SessionListing>>, StoreError> {
        if sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.username = $1 AND s.expires_at > $2 ORDER BY s.created_at",
        )
        .bind(username)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionListing {
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
    }

    /// Changes recorded for `username` (all users when `None`), oldest first.
    pub async fn user_changes(
        &self,
        username: Option<&str>,
    ) -> Result<Vec<UserChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT username, action, actor, at FROM user_changes \
             WHERE $1 = '' OR username = $1 ORDER BY at, id",
        )
        .bind(username.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UserChange {
                    username: r.try_get("username")?,
                    action: r.try_get("action")?,
                    actor: r.try_get("actor")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Applies `action` (`disabled`, `enabled`, `removed`, `password_reset` with
    /// `new_hash`) to `username` as `actor`, with its record, in one transaction.
    /// Disabling, removing and resetting end the user's sessions at once.
    pub async fn change_user(
        &self,
        username: &str,
        action: &str,
        new_hash: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<UserChangeOutcome, StoreError> {
        let mut tx = self.write().await?;
        let Some(user) = sqlx::query("SELECT id, role, disabled_at FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(UserChangeOutcome::Unknown);
        };
        let id: String = user.try_get("id")?;
        let role: String = user.try_get("role")?;
        let disabled: Option<i64> = user.try_get("disabled_at")?;
        if role == "operator" && disabled.is_none() && matches!(action, "disabled" | "removed") {
            let others: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM users WHERE role = 'operator' AND disabled_at IS NULL AND id <> $1",
            )
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if others == 0 {
                return Ok(UserChangeOutcome::LastOperator);
            }
        }
        if action == "removed" {
            // A reader who signed in through single sign-on: the link goes with them (the
            // same person signing in again becomes a new reader).
            sqlx::query("DELETE FROM sso_identities WHERE user_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        if matches!(
            action,
            "disabled" | "removed" | "password_reset" | "sessions_revoked"
        ) {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        let q = match action {
            "disabled" => sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
                .bind(&id)
                .bind(now),
            "enabled" => sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1").bind(&id),
            "removed" => sqlx::query("DELETE FROM users WHERE id = $1").bind(&id),
            "password_reset" => sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(&id)
                .bind(new_hash.unwrap_or_default().to_owned()),
            // The sessions were deleted above; nothing else changes.
            "sessions_revoked" => sqlx::query("SELECT id FROM users WHERE id = $1").bind(&id),
            _ => return Ok(UserChangeOutcome::Unknown),
        };
        q.execute(&mut *tx).await?;
        sqlx::query("INSERT INTO user_changes (id, username, action, actor, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(username)
            .bind(action)
            .bind(actor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UserChangeOutcome::Done)
    }
}
