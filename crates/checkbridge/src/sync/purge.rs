//! The purger: once an hour, removes candidate data of finished checks past their tenant's
//! `retention.pii_days`, and access records past `retention.records_days`. What it purged
//! is itself recorded.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{error_chain, Engine, SyncError};
use crate::domain::ids::TenantKey;
use crate::time::now_ms;

const DAY_MS: i64 = 86_400_000;
const EVERY: Duration = Duration::from_secs(3600);

/// What one purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Checks whose candidate data was removed.
    pub checks: usize,
    /// Access records deleted.
    pub records: u64,
}

impl Engine {
    /// Purges everything past retention as of `now` (milliseconds since the epoch).
    pub async fn purge_step(&self, now: i64) -> Result<PurgeReport, SyncError> {
        let store = &self.inner.store;
        let mut report = PurgeReport::default();
        let days = |d: u64| {
            i64::try_from(d)
                .unwrap_or(i64::MAX / DAY_MS)
                .saturating_mul(DAY_MS)
        };
        for (key, t) in &self.inner.tenants {
            let r = &t.cfg.retention;
            loop {
                let due = store
                    .purge_due(key, now.saturating_sub(days(r.pii_days)), 500)
                    .await?;
                if due.is_empty() {
                    break;
                }
                for id in &due {
                    if store.purge_check(key, id, now).await? {
                        report.checks += 1;
                    }
                }
            }
            report.records += store
                .expire_access_records(key, now.saturating_sub(days(r.records_days)))
                .await?;
            report.records += store
                .expire_errors(key, now.saturating_sub(days(r.records_days)))
                .await?;
        }
        // Records of no one tenant (an every-tenant API token's `GET /tenants`, operators'
        // changes) are kept as long as the longest any tenant keeps its own.
        let all_days = self
            .inner
            .tenants
            .values()
            .map(|t| t.cfg.retention.records_days)
            .max()
            .unwrap_or_else(|| crate::config::Retention::default().records_days);
        report.records += store
            .expire_access_records(
                &TenantKey::new(crate::admin::tokens::ALL_TENANTS),
                now.saturating_sub(days(all_days)),
            )
            .await?;
        // Refused, unauthenticated requests are kept hours, not years.
        let refused_ms = i64::try_from(self.inner.http.refused_log_hours)
            .unwrap_or(i64::MAX / 3_600_000)
            .saturating_mul(3_600_000);
        report.records += store.expire_refused(now.saturating_sub(refused_ms)).await?;
        if report.checks > 0 || report.records > 0 {
            tracing::info!(
                checks = report.checks,
                records = report.records,
                "retention purge done"
            );
        }
        Ok(report)
    }

    pub(crate) async fn purge_loop(&self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.purge_step(now_ms()).await {
                tracing::error!(error = %error_chain(&e), "retention purge failed; will try again");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    }
}
