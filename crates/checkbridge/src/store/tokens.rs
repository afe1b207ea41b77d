//! API tokens: made (only their SHA-256 kept), listed, revoked, found by digest, and each use
//! recorded in the access record with the token's `last_used_at`, in one transaction.

use sqlx::Row;

use super::retention::append_access_detail;
use super::row;
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::check::{AccessAction, ApiScope};
use crate::domain::ids::TenantKey;

/// A token about to be stored: everything but its text, of which only the digest is kept.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    pub id: &'a str,
    /// Hex SHA-256 of the token's text.
    pub token_hash: &'a str,
    pub name: &'a str,
    /// `*` for every tenant, else the one tenant the token sees.
    pub tenant: &'a TenantKey,
    pub scope: ApiScope,
    /// Who made it (`cli:<os user>`).
    pub created_by: &'a str,
}

/// A stored token as listed and as authentication finds it (never its text or digest).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiTokenListing {
    pub id: String,
    pub name: String,
    /// `*` for every tenant.
    pub tenant: TenantKey,
    pub scope: ApiScope,
    pub created_at: i64,
    pub created_by: String,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What revoking a token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    /// It was revoked before; nothing changed.
    AlreadyRevoked,
    /// No token has that id.
    Unknown,
}

const COLUMNS: &str =
    "id, name, tenant, scope, created_at, created_by, last_used_at, revoked_at FROM api_tokens";

fn listing(r: &sqlx::any::AnyRow) -> Result<ApiTokenListing, StoreError> {
    Ok(ApiTokenListing {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        tenant: row::text(r, "tenant")?,
        scope: row::stored(r, "scope")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// Stores a new token.
    pub async fn create_api_token(&self, t: &NewApiToken<'_>, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, name, tenant, scope, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id)
        .bind(t.token_hash)
        .bind(t.name)
        .bind(t.tenant.as_str())
        .bind(t.scope.as_str())
        .bind(now)
        .bind(t.created_by)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Every token, oldest first (revoked ones too).
    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenListing>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(listing).collect()
    }

    /// The token whose text has the digest `token_hash`, revoked or not.
    pub async fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenListing>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(listing).transpose()
    }

    /// Revokes token `id`: it authenticates nothing from now on.
    pub async fn revoke_api_token(&self, id: &str, now: i64) -> Result<RevokeOutcome, StoreError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute_w(self)
        .await?
        .rows_affected();
        if n == 1 {
            return Ok(RevokeOutcome::Revoked);
        }
        let known = sqlx::query("SELECT id FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        Ok(if known {
            RevokeOutcome::AlreadyRevoked
        } else {
            RevokeOutcome::Unknown
        })
    }

    /// Records one use of token `id`: an `api_request` entry in the access record of
    /// `tenant` (`*` for a request about no one tenant) for `check_id` (`*` for none), with
    /// `detail`, and the token's `last_used_at`, in one transaction.
    pub async fn record_api_use(
        &self,
        id: &str,
        tenant: &TenantKey,
        check_id: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *w)
            .await?;
        append_access_detail(
            &mut w,
            tenant,
            check_id,
            &format!("token:{id}"),
            AccessAction::ApiRequest,
            Some(detail),
            now,
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
