//! Report readers and their sessions.

use sqlx::Row;

use super::row::{self, CHECK_COLUMNS};
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::check::CheckRecord;
use crate::domain::ids::{CheckId, SearchId, TenantKey};

/// A signed-in reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: String,
    /// The reader's tenant; `*` for an operator.
    pub tenant: TenantKey,
    pub username: String,
    /// `reader` (its tenant's reports) or `operator` (the operator page, no reports).
    pub role: String,
    /// The identity provider's subject, for a reader who signs in through single sign-on.
    pub sso_subject: Option<String>,
}

impl SessionUser {
    pub fn is_operator(&self) -> bool {
        self.role == "operator"
    }
}

impl Store {
    /// Adds a reader to `tenant`. False when the user name is taken.
    pub async fn create_user(
        &self,
        tenant: &TenantKey,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.create_user_with_role(tenant, username, password_hash, "reader", now)
            .await
    }

    /// Adds a user with `role` (`reader` of `tenant`, or `operator` with tenant `*`).
    pub async fn create_user_with_role(
        &self,
        tenant: &TenantKey,
        username: &str,
        password_hash: &str,
        role: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO users (id, tenant, username, password_hash, created_at, role) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(tenant.as_str())
        .bind(username)
        .bind(password_hash)
        .bind(now)
        .bind(role)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// An enabled user's id, tenant and password hash.
    pub async fn user_for_login(
        &self,
        username: &str,
    ) -> Result<Option<(String, TenantKey, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant, password_hash FROM users WHERE username = $1 AND disabled_at IS NULL",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((
                r.try_get("id")?,
                row::text(&r, "tenant")?,
                r.try_get("password_hash")?,
            )),
            None => None,
        })
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute_w(self)
            .await?;
        Ok(())
    }

    /// A session that also ends after `idle_ms` without a request.
    pub async fn create_session_with_idle(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
        idle_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, idle_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .bind(idle_ms)
            .execute_w(self)
            .await?;
        Ok(())
    }

    /// The reader a live session belongs to (not expired, not idle too long).
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.tenant, u.username, u.role, COALESCE(s.last_seen_at, s.created_at) AS seen, s.idle_ms, \
             i.subject AS sso_subject \
             FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN sso_identities i ON i.user_id = u.id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL \
             AND (s.idle_ms IS NULL OR COALESCE(s.last_seen_at, s.created_at) + s.idle_ms > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        // The idle clock restarts with each request, written at most once a minute (and
        // at least every tenth of the idle time).
        if let Some(r) = &row {
            let seen: i64 = r.try_get("seen")?;
            let idle: Option<i64> = r.try_get("idle_ms")?;
            if now - seen >= idle.map_or(60_000, |i| (i / 10).min(60_000)) {
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                    .bind(token_hash)
                    .bind(now)
                    .execute_w(self)
                    .await?;
            }
        }
        Ok(match row {
            Some(r) => Some(SessionUser {
                user_id: r.try_get("id")?,
                tenant: row::text(&r, "tenant")?,
                username: r.try_get("username")?,
                role: r.try_get("role")?,
                sso_subject: r.try_get("sso_subject")?,
            }),
            None => None,
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute_w(self)
            .await?;
        Ok(())
    }

    /// What the report page shows of a check: its state, the sealed order (None once
    /// purged), and per search its sealed result and its events (type, received at).
    pub async fn report_data(
        &self,
        tenant: &TenantKey,
        check_id: &CheckId,
    ) -> Result<Option<ReportData>, StoreError> {
        let Some(c) = sqlx::query(&format!(
            "SELECT {CHECK_COLUMNS}, (SELECT order_json FROM check_orders WHERE check_id = checks.id) \
             AS order_json FROM checks WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(check_id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut check = row::check(&c)?;
        check.searches = self.searches_of(tenant, check_id).await?;
        let mut searches = Vec::with_capacity(check.searches.len());
        for s in &check.searches {
            let sealed_result =
                sqlx::query("SELECT result FROM searches WHERE tenant = $1 AND id = $2")
                    .bind(tenant.as_str())
                    .bind(s.id.as_str())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("result")?;
            let events = sqlx::query(
                "SELECT event_type, received_at FROM webhook_events WHERE tenant = $1 AND search_id = $2 ORDER BY received_at, event_id",
            )
            .bind(tenant.as_str())
            .bind(s.id.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|e| Ok((e.try_get("event_type")?, e.try_get("received_at")?)))
            .collect::<Result<Vec<(String, i64)>, StoreError>>()?;
            searches.push(ReportSearch {
                id: s.id.clone(),
                sealed_result,
                events,
            });
        }
        Ok(Some(ReportData {
            sealed_order: c.try_get("order_json")?,
            check,
            searches,
        }))
    }
}

/// A check as its report needs it (sealed fields still sealed).
#[derive(Clone)]
pub struct ReportData {
    pub check: CheckRecord,
    pub sealed_order: Option<String>,
    /// What each search holds beyond its state, in the order of `check.searches`.
    pub searches: Vec<ReportSearch>,
}

impl std::fmt::Debug for ReportData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportData")
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl ReportData {
    /// What `search` holds beyond its state.
    pub fn search(&self, search: &SearchId) -> Option<&ReportSearch> {
        self.searches.iter().find(|s| &s.id == search)
    }
}

/// What one search of a report holds beyond its state.
#[derive(Clone)]
pub struct ReportSearch {
    pub id: SearchId,
    pub sealed_result: Option<String>,
    /// Webhook events received (type, when), oldest first.
    pub events: Vec<(String, i64)>,
}

impl std::fmt::Debug for ReportSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportSearch")
            .field("id", &self.id)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}
