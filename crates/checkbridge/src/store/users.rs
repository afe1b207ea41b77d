//! Report readers and their sessions.

use sqlx::Row;

use super::writer::WriteQuery as _;
use super::{Store, StoreError};

/// A signed-in reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: String,
    /// The reader's tenant; `*` for an operator.
    pub tenant: String,
    pub username: String,
    /// `reader` (its tenant's reports) or `operator` (the operator page, no reports).
    pub role: String,
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
        tenant: &str,
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
        tenant: &str,
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
        .bind(tenant)
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
    ) -> Result<Option<(String, String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant, password_hash FROM users WHERE username = $1 AND disabled_at IS NULL",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((
                r.try_get("id")?,
                r.try_get("tenant")?,
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

    /// The reader a live session belongs to.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.tenant, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(SessionUser {
                user_id: r.try_get("id")?,
                tenant: r.try_get("tenant")?,
                username: r.try_get("username")?,
                role: r.try_get("role")?,
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

    /// What the report page shows of a check: the sealed order (None once purged), and per
    /// search its sealed result and its events (type, received at).
    pub async fn report_data(
        &self,
        tenant: &str,
        check_id: &str,
    ) -> Result<Option<ReportData>, StoreError> {
        let Some(c) = sqlx::query(
            "SELECT pageup_id, phase, reference, reason, order_json, created_at, updated_at FROM checks WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(check_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT id, search_type, outcome, result_outcome, discrepancy, reason_code, result, updated_at \
             FROM searches WHERE tenant = $1 AND check_id = $2 ORDER BY search_type, id",
        )
        .bind(tenant)
        .bind(check_id)
        .fetch_all(&self.pool)
        .await?;
        let mut searches = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            let events = sqlx::query(
                "SELECT event_type, received_at FROM webhook_events WHERE tenant = $1 AND search_id = $2 ORDER BY received_at, event_id",
            )
            .bind(tenant)
            .bind(&id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|e| Ok((e.try_get("event_type")?, e.try_get("received_at")?)))
            .collect::<Result<Vec<(String, i64)>, StoreError>>()?;
            searches.push(ReportSearch {
                id,
                search_type: r.try_get("search_type")?,
                outcome: r.try_get("outcome")?,
                result_outcome: r.try_get("result_outcome")?,
                discrepancy: r.try_get::<i64, _>("discrepancy")? != 0,
                reason_code: r.try_get("reason_code")?,
                sealed_result: r.try_get("result")?,
                events,
            });
        }
        Ok(Some(ReportData {
            pageup_id: c.try_get("pageup_id")?,
            phase: c.try_get("phase")?,
            reference: c.try_get("reference")?,
            reason: c.try_get("reason")?,
            sealed_order: c.try_get("order_json")?,
            created_at: c.try_get("created_at")?,
            updated_at: c.try_get("updated_at")?,
            searches,
        }))
    }
}

/// A check as its report needs it (sealed fields still sealed).
#[derive(Clone)]
pub struct ReportData {
    pub pageup_id: String,
    pub phase: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub sealed_order: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub searches: Vec<ReportSearch>,
}

impl std::fmt::Debug for ReportData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportData")
            .field("pageup_id", &self.pageup_id)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// One search of a report.
#[derive(Debug, Clone)]
pub struct ReportSearch {
    pub id: String,
    pub search_type: String,
    pub outcome: String,
    pub result_outcome: Option<String>,
    pub discrepancy: bool,
    pub reason_code: Option<String>,
    pub sealed_result: Option<String>,
    pub events: Vec<(String, i64)>,
}
