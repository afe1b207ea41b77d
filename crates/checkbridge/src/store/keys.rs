//! Tenants' wrapped data keys (see `crypto`).

use sqlx::Row;

use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::ids::TenantKey;
use crate::time::now_ms;

impl Store {
    /// The newest live data key version of `tenant`.
    pub async fn current_data_key(&self, tenant: &TenantKey) -> Result<Option<i64>, StoreError> {
        let r = sqlx::query(
            "SELECT MAX(version) AS v FROM tenant_keys WHERE tenant = $1 AND destroyed_at IS NULL",
        )
        .bind(tenant.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get::<Option<i64>, _>("v")?)
    }

    /// Stores a wrapped data key unless that version exists already.
    pub async fn insert_data_key(
        &self,
        tenant: &TenantKey,
        version: i64,
        master_key_id: &str,
        wrapped: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenant_keys (tenant, version, master_key_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant, version) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(version)
        .bind(master_key_id)
        .bind(wrapped)
        .bind(now_ms())
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// A live data key: the master key id that wrapped it and the wrapped key.
    pub async fn data_key(
        &self,
        tenant: &TenantKey,
        version: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT master_key_id, wrapped FROM tenant_keys WHERE tenant = $1 AND version = $2 AND destroyed_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("master_key_id")?, r.try_get("wrapped")?)),
            None => None,
        })
    }

    /// Whether a data key is still live (not destroyed). Asked on every use of a cached
    /// key, so a shred committed by any process is honoured by every replica at once.
    pub async fn data_key_live(
        &self,
        tenant: &TenantKey,
        version: i64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS live FROM tenant_keys WHERE tenant = $1 AND version = $2 AND destroyed_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Every live data key: tenant, version, master key id, wrapped key.
    pub async fn data_keys(&self) -> Result<Vec<(TenantKey, i64, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, version, master_key_id, wrapped FROM tenant_keys WHERE destroyed_at IS NULL ORDER BY tenant, version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    TenantKey::new(r.try_get::<String, _>("tenant")?),
                    r.try_get("version")?,
                    r.try_get("master_key_id")?,
                    r.try_get("wrapped")?,
                ))
            })
            .collect()
    }

    /// Replaces a data key's wrapping, if it is still wrapped by `old_master`.
    pub async fn rewrap_data_key(
        &self,
        tenant: &TenantKey,
        version: i64,
        old_master: &str,
        new_master: &str,
        wrapped: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE tenant_keys SET master_key_id = $1, wrapped = $2 WHERE tenant = $3 AND version = $4 AND master_key_id = $5 \
             AND destroyed_at IS NULL",
        )
        .bind(new_master)
        .bind(wrapped)
        .bind(tenant.as_str())
        .bind(version)
        .bind(old_master)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Destroys every data key of `tenant`: what was sealed under them can no longer be
    /// read by anyone (crypto-shredding). Returns how many keys were destroyed.
    pub async fn destroy_data_keys(&self, tenant: &TenantKey) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE tenant_keys SET wrapped = '', destroyed_at = $1 WHERE tenant = $2 AND destroyed_at IS NULL",
        )
        .bind(now_ms())
        .bind(tenant.as_str())
        .execute_w(self)
        .await?
        .rows_affected())
    }
}

impl Store {
    /// The key-check value: the id of the master key that sealed it, and the sealed value.
    pub async fn key_check(&self) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT key_id, sealed FROM key_check WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("key_id")?, r.try_get("sealed")?)))
            .transpose()
    }

    /// Stores the key-check value unless one exists (replicas racing at a first start: one
    /// insert wins, everyone checks the winner).
    pub async fn insert_key_check(&self, key_id: &str, sealed: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO key_check (id, key_id, sealed, created_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(key_id)
        .bind(sealed)
        .bind(now_ms())
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Replaces the key-check value (sealed again under the active master key after a
    /// rotation), only if it is still the one `old_key_id` sealed.
    pub async fn replace_key_check(
        &self,
        old_key_id: &str,
        key_id: &str,
        sealed: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE key_check SET key_id = $1, sealed = $2 WHERE id = 1 AND key_id = $3")
            .bind(key_id)
            .bind(sealed)
            .bind(old_key_id)
            .execute_w(self)
            .await?;
        Ok(())
    }
}
