//! Single sign-on: sign-ins in progress (one-time, bounded, expiring) and which reader an
//! identity provider's user is.

use sqlx::Row;

use super::row;
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::ids::TenantKey;

/// A sign-in sent to the identity provider and not yet back.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub tenant: TenantKey,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where the reader goes once signed in: a path on this site.
    pub return_path: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("tenant", &self.tenant)
            .field("return_path", &self.return_path)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What [`Store::sso_reader`] found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoReader {
    /// The reader's id and user name (new or linked before).
    Reader { user_id: String, username: String },
    /// The identity's reader is disabled.
    Disabled,
    /// The user name is taken by a reader not linked to this identity.
    NameTaken,
}

/// The password hash of a reader who signs in only through single sign-on: not a PHC
/// string, so no password ever verifies against it.
pub const NO_PASSWORD: &str = "!sso";

impl Store {
    /// Records a sign-in in progress under `state_hash`, after deleting expired ones. False
    /// when the tenant already has `max_pending` in progress.
    pub async fn sso_pending_put(
        &self,
        state_hash: &str,
        pending: &PendingSignIn,
        now: i64,
        max_pending: i64,
    ) -> Result<bool, StoreError> {
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM sso_pending WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *w)
            .await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sso_pending WHERE tenant = $1")
            .bind(pending.tenant.as_str())
            .fetch_one(&mut *w)
            .await?
            .try_get("n")?;
        if n >= max_pending {
            w.commit().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sso_pending (state_hash, tenant, nonce, pkce_verifier, return_path, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(state_hash)
        .bind(pending.tenant.as_str())
        .bind(&pending.nonce)
        .bind(&pending.pkce_verifier)
        .bind(&pending.return_path)
        .bind(now)
        .bind(pending.expires_at)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(true)
    }

    /// Takes the sign-in in progress under `state_hash` for `tenant`: it is deleted, so a
    /// second callback with the same state finds nothing. `None` when there is none, it is
    /// another tenant's, or it expired.
    pub async fn sso_pending_take(
        &self,
        tenant: &TenantKey,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<PendingSignIn>, StoreError> {
        let rows = sqlx::query(
            "DELETE FROM sso_pending WHERE state_hash = $1 \
             RETURNING tenant, nonce, pkce_verifier, return_path, expires_at",
        )
        .bind(state_hash)
        .fetch_all_w(self)
        .await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let pending = PendingSignIn {
            tenant: row::text(r, "tenant")?,
            nonce: r.try_get("nonce")?,
            pkce_verifier: r.try_get("pkce_verifier")?,
            return_path: r.try_get("return_path")?,
            expires_at: r.try_get("expires_at")?,
        };
        Ok((pending.tenant == *tenant && pending.expires_at > now).then_some(pending))
    }

    /// Sign-ins in progress (all tenants).
    pub async fn sso_pending_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM sso_pending")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// The reader of `tenant` that the provider's user (`issuer`, `subject`) is; a new
    /// reader named `username` the first time.
    pub async fn sso_reader(
        &self,
        tenant: &TenantKey,
        issuer: &str,
        subject: &str,
        username: &str,
        now: i64,
    ) -> Result<SsoReader, StoreError> {
        let mut w = self.write().await?;
        let linked = sqlx::query(
            "SELECT u.id, u.username, u.disabled_at FROM sso_identities i JOIN users u ON u.id = i.user_id \
             WHERE i.tenant = $1 AND i.issuer = $2 AND i.subject = $3 AND u.tenant = $1",
        )
        .bind(tenant.as_str())
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&mut *w)
        .await?;
        if let Some(r) = linked {
            let disabled: Option<i64> = r.try_get("disabled_at")?;
            let out = if disabled.is_some() {
                SsoReader::Disabled
            } else {
                SsoReader::Reader {
                    user_id: r.try_get("id")?,
                    username: r.try_get("username")?,
                }
            };
            w.commit().await?;
            return Ok(out);
        }
        let user_id = uuid::Uuid::new_v4().to_string();
        let made = sqlx::query(
            "INSERT INTO users (id, tenant, username, password_hash, created_at, role) VALUES ($1, $2, $3, $4, $5, 'reader') \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user_id)
        .bind(tenant.as_str())
        .bind(username)
        .bind(NO_PASSWORD)
        .bind(now)
        .execute(&mut *w)
        .await?
        .rows_affected();
        if made != 1 {
            w.commit().await?;
            return Ok(SsoReader::NameTaken);
        }
        sqlx::query(
            "INSERT INTO sso_identities (tenant, issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_str())
        .bind(issuer)
        .bind(subject)
        .bind(&user_id)
        .bind(now)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(SsoReader::Reader {
            user_id,
            username: username.to_owned(),
        })
    }
}
