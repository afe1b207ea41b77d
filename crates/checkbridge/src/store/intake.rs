//! Intake shapes: per tenant, the field paths seen in its PageUp invitations and the drift
//! open against them (`intake::drift` decides; this only keeps it). Names only, never values.

use sqlx::Row;

use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::ids::TenantKey;
use crate::intake::drift::{Drift, Shape};

impl Store {
    /// The tenant's remembered shape (None before its first invitation).
    pub async fn intake_shape(&self, tenant: &TenantKey) -> Result<Option<Shape>, StoreError> {
        let row = sqlx::query(
            "SELECT known_paths, drift, read_paths, baseline_done FROM intake_shapes WHERE tenant = $1",
        )
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let known: String = row.try_get("known_paths")?;
        let drift: Option<String> = row.try_get("drift")?;
        let reads: String = row.try_get("read_paths")?;
        let baseline_done: i64 = row.try_get("baseline_done")?;
        // A row this binary cannot read is taken as no baseline (it is rewritten whole).
        Ok(Some(Shape {
            known: serde_json::from_str(&known).unwrap_or_default(),
            drift: drift.and_then(|d| serde_json::from_str::<Drift>(&d).ok()),
            reads: serde_json::from_str(&reads).unwrap_or_default(),
            baseline_done: baseline_done != 0,
            baseline_seen: 0,
            settled: 0,
        }))
    }

    /// Writes the tenant's shape whole (called only when it changed).
    pub async fn save_intake_shape(
        &self,
        tenant: &TenantKey,
        shape: &Shape,
        now: i64,
    ) -> Result<(), StoreError> {
        let known = serde_json::to_string(&shape.known).unwrap_or_else(|_| "[]".to_owned());
        let reads = serde_json::to_string(&shape.reads).unwrap_or_else(|_| "[]".to_owned());
        let drift = shape
            .drift
            .as_ref()
            .and_then(|d| serde_json::to_string(d).ok());
        sqlx::query(
            "INSERT INTO intake_shapes (tenant, known_paths, drift, read_paths, baseline_done, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant) DO UPDATE SET known_paths = excluded.known_paths, \
             drift = excluded.drift, read_paths = excluded.read_paths, \
             baseline_done = excluded.baseline_done, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(known)
        .bind(drift)
        .bind(reads)
        .bind(i64::from(shape.baseline_done))
        .bind(now)
        .execute_w(self)
        .await?;
        Ok(())
    }
}
