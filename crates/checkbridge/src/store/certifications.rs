//! Go-live certifications: each run of `checkbridge certify` for a tenant, as recorded at its
//! end (`admin::certify` decides what passed; this only keeps it).

use sqlx::Row;

use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::ids::TenantKey;

/// One recorded certification run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Certification {
    pub id: String,
    pub tenant: TenantKey,
    /// `uat` or `live`.
    pub env: String,
    /// `pass`, `fail` or `partial` (no test check was run through).
    pub outcome: String,
    /// PageUp's id of the test check, when one was given.
    pub pageup_check: Option<String>,
    /// The steps as JSON (see `admin::certify::Step`).
    pub steps: String,
    pub report_sha256: String,
    pub started_at: i64,
    pub finished_at: i64,
}

impl Certification {
    /// Whether this run certifies the tenant (every step passed with a test check).
    pub fn passed(&self) -> bool {
        self.outcome == "pass"
    }
}

impl Store {
    /// Records a finished certification run.
    pub async fn record_certification(&self, c: &Certification) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO certifications (id, tenant, env, outcome, pageup_check, steps, report_sha256, started_at, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.id)
        .bind(c.tenant.as_str())
        .bind(&c.env)
        .bind(&c.outcome)
        .bind(c.pageup_check.as_deref())
        .bind(&c.steps)
        .bind(&c.report_sha256)
        .bind(c.started_at)
        .bind(c.finished_at)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// The tenant's certification runs in `env` (all environments when None), newest first.
    pub async fn certifications(
        &self,
        tenant: &TenantKey,
        env: Option<&str>,
    ) -> Result<Vec<Certification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, tenant, env, outcome, pageup_check, steps, report_sha256, started_at, finished_at \
             FROM certifications WHERE tenant = $1 AND ($2 = '' OR env = $2) \
             ORDER BY finished_at DESC, id",
        )
        .bind(tenant.as_str())
        .bind(env.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Certification {
                    id: r.try_get("id")?,
                    tenant: super::row::text(r, "tenant")?,
                    env: r.try_get("env")?,
                    outcome: r.try_get("outcome")?,
                    pageup_check: r.try_get("pageup_check")?,
                    steps: r.try_get("steps")?,
                    report_sha256: r.try_get("report_sha256")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                })
            })
            .collect()
    }

    /// The newest passing certification of the tenant in `env`, if any.
    pub async fn passing_certification(
        &self,
        tenant: &TenantKey,
        env: &str,
    ) -> Result<Option<Certification>, StoreError> {
        Ok(self
            .certifications(tenant, Some(env))
            .await?
            .into_iter()
            .find(Certification::passed))
    }
}
