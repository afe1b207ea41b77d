//! The monitor: turns what the health bookkeeping has seen, and checks stuck in the store,
//! into health issues that open and resolve by themselves, and delivers the alert each
//! opening and resolution owes (from an outbox in the store, so an alert survives a crash
//! and is sent once per event, whichever replica sends it).

use std::collections::HashSet;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;

use super::{backoff, error_chain, Engine, Held, SyncError};
use crate::domain::ids::TenantKey;
use crate::health::{kind, Verdict};
use crate::store::HealthIssue;
use crate::time::now_ms;

/// A database outage long enough to report: since when, and whether its opening alert was
/// delivered (straight to the alert webhook, since the outbox is in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outage {
    pub since: i64,
    pub alerted: bool,
}

/// What one evaluation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MonitorReport {
    pub opened: usize,
    pub resolved: usize,
    pub alerts_sent: usize,
    pub alerts_failed: usize,
}

impl Engine {
    /// Runs evaluations until shutdown.
    pub(crate) async fn monitor_loop(&self, shutdown: CancellationToken) {
        let every = Duration::from_secs(self.inner.health.config().evaluate_every_secs.max(1));
        loop {
            self.watch_store().await;
            if let Err(e) = self.monitor_step().await {
                self.store_error("monitor", &e);
                tracing::error!(error = %error_chain(&e), "health evaluation failed; will try again");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One evaluation: open and resolve issues, then deliver the alerts owed.
    pub async fn monitor_step(&self) -> Result<MonitorReport, SyncError> {
        let mut report = MonitorReport::default();
        let now = now_ms();
        let store = &self.inner.store;
        let alert = self.alerts_enabled();
        let open: Vec<HealthIssue> = store.open_issues().await?;
        let is_open = |tenant: &str, k: &str, subject: &str| {
            open.iter()
                .any(|i| i.tenant == tenant && i.kind == k && i.subject == subject)
        };

        for f in self.inner.health.findings(now) {
            match f.verdict {
                Verdict::Open { summary } => {
                    if store
                        .open_issue(
                            &TenantKey::new(f.tenant.clone()),
                            f.kind,
                            &f.subject,
                            &summary,
                            now,
                            alert,
                        )
                        .await?
                    {
                        tracing::warn!(tenant = %f.tenant, kind = f.kind, subject = %f.subject, summary = %summary, "health issue opened");
                        report.opened += 1;
                    }
                }
                Verdict::Resolve => {
                    if is_open(&f.tenant, f.kind, &f.subject)
                        && store
                            .resolve_issue(
                                &TenantKey::new(f.tenant.clone()),
                                f.kind,
                                &f.subject,
                                now,
                                alert,
                            )
                            .await?
                    {
                        tracing::info!(tenant = %f.tenant, kind = f.kind, subject = %f.subject, "health issue resolved");
                        report.resolved += 1;
                    }
                    self.inner.health.reset(&f.tenant, f.kind, &f.subject);
                }
            }
        }

        // Stuck checks, from the store: one grouped query for all tenants.
        let cfg = self.inner.health.config();
        let owed_for = Duration::from_secs(cfg.stuck_owed_minutes.saturating_mul(60));
        let open_for = Duration::from_secs(cfg.stuck_open_days.saturating_mul(86_400));
        let stuck = store.stuck_checks(now, owed_for, open_for).await?;
        let mut still: HashSet<(TenantKey, &str)> = HashSet::new();
        for (tenant, owed, long_open) in &stuck {
            for (subject, n, summary) in [
                (
                    "owed",
                    *owed,
                    format!(
                        "{owed} check(s) have owed an order or a PageUp update for more than {} minutes",
                        cfg.stuck_owed_minutes
                    ),
                ),
                (
                    "open",
                    *long_open,
                    format!(
                        "{long_open} check(s) have been open at Theary for more than {} days",
                        cfg.stuck_open_days
                    ),
                ),
            ] {
                if n > 0 {
                    still.insert((tenant.clone(), subject));
                    if store
                        .open_issue(tenant, kind::STUCK_CHECKS, subject, &summary, now, alert)
                        .await?
                    {
                        tracing::warn!(tenant = %tenant, subject, count = n, "health issue opened: checks stuck");
                        report.opened += 1;
                    }
                }
            }
        }
        for i in open.iter().filter(|i| i.kind == kind::STUCK_CHECKS) {
            if !still.contains(&(i.tenant.clone(), i.subject.as_str()))
                && store
                    .resolve_issue(&i.tenant, kind::STUCK_CHECKS, &i.subject, now, alert)
                    .await?
            {
                tracing::info!(tenant = %i.tenant, subject = %i.subject, "health issue resolved: no check stuck");
                report.resolved += 1;
            }
        }

        if alert {
            self.deliver_alerts(&mut report).await?;
        }
        Ok(report)
    }

    /// The database's own health issue. While the store has been failing for
    /// `health.database_unreachable_secs`, the issue is open in memory and its opening alert
    /// goes straight to the alert webhook (the outbox is in the database); once the store
    /// answers, the issue is recorded as it was (opened when the failures began) and
    /// resolved, and the resolution is announced through the outbox like any other.
    /// Returns whether an outage is open now.
    pub async fn watch_store(&self) -> bool {
        let now = now_ms();
        let threshold = i64::try_from(self.inner.health.config().database_unreachable_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let failing = self.inner.leases.failing_since();
        let outage = self.inner.outage.lock().ok().and_then(|o| *o);
        match (failing, outage) {
            (Some(since), None) if now - since >= threshold => {
                let mut o = Outage {
                    since,
                    alerted: false,
                };
                tracing::error!(down_ms = now - since, "the database cannot be reached");
                if self.alerts_enabled() {
                    o.alerted = self
                        .send_alert(&database_issue(since, None), true)
                        .await
                        .inspect_err(|e| tracing::warn!(error = %e, "the database outage could not be announced"))
                        .is_ok();
                }
                self.set_outage(Some(o));
                true
            }
            (Some(_), Some(mut o)) => {
                if !o.alerted && self.alerts_enabled() {
                    o.alerted = self
                        .send_alert(&database_issue(o.since, None), true)
                        .await
                        .is_ok();
                    self.set_outage(Some(o));
                }
                true
            }
            (None, Some(o)) => {
                // Back: record the outage as it was, and resolve it.
                let star = TenantKey::new("*");
                let summary = database_issue(o.since, None).summary;
                let alert = self.alerts_enabled();
                let recorded = async {
                    self.inner
                        .store
                        .open_issue(
                            &star,
                            kind::DATABASE,
                            "database",
                            &summary,
                            o.since,
                            alert && !o.alerted,
                        )
                        .await?;
                    self.inner
                        .store
                        .resolve_issue(&star, kind::DATABASE, "database", now, alert)
                        .await
                }
                .await;
                match recorded {
                    Ok(_) => {
                        tracing::info!(
                            down_ms = now - o.since,
                            "database outage recorded and resolved"
                        );
                        self.set_outage(None);
                        false
                    }
                    Err(e) => {
                        tracing::warn!(error = %error_chain(&e), "the database outage could not be recorded yet");
                        true
                    }
                }
            }
            _ => false,
        }
    }

    fn set_outage(&self, o: Option<Outage>) {
        if let Ok(mut slot) = self.inner.outage.lock() {
            *slot = o;
        }
    }

    fn alerts_enabled(&self) -> bool {
        self.inner
            .alerts
            .webhook_url
            .as_ref()
            .is_some_and(|u| !u.expose_secret().trim().is_empty())
    }

    async fn deliver_alerts(&self, report: &mut MonitorReport) -> Result<(), SyncError> {
        let store = &self.inner.store;
        let owner = &self.inner.owner;
        let work = store
            .lease_alerts(owner, now_ms(), self.lease(), 50)
            .await?;
        for w in work {
            let hold = self.inner.leases.hold(Held::Alert(w.issue.id.clone()));
            let mut failed = None;
            for (opening, owed) in [(true, w.open_owed), (false, w.resolve_owed)] {
                if !owed {
                    continue;
                }
                match self
                    .within_lease(self.send_alert(&w.issue, opening))
                    .await?
                {
                    Ok(()) => {
                        store.alert_done(&w.issue.id, owner, opening).await?;
                        report.alerts_sent += 1;
                    }
                    Err(message) => {
                        failed = Some(message);
                        break;
                    }
                }
            }
            match failed {
                None => store.alert_release(&w.issue.id, owner, None).await?,
                Some(message) => {
                    report.alerts_failed += 1;
                    tracing::warn!(issue = %w.issue.id, error = %message, "alert could not be delivered; will retry");
                    let attempt = u32::try_from(w.attempts)
                        .unwrap_or(u32::MAX)
                        .saturating_add(1);
                    let wait = backoff(attempt, Duration::from_secs(5), Duration::from_secs(900));
                    store
                        .alert_release(
                            &w.issue.id,
                            owner,
                            Some((now_ms() + super::ms(wait), &message)),
                        )
                        .await?;
                }
            }
            hold.done();
        }
        Ok(())
    }

    async fn send_alert(&self, issue: &HealthIssue, opening: bool) -> Result<(), String> {
        let Some(url) = self.inner.alerts.webhook_url.as_ref() else {
            return Ok(());
        };
        let body = alert_body(issue, opening, self.inner.alerts.environment.as_deref());
        let response = self
            .inner
            .alert_http
            .post(url.expose_secret())
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
            .await
            // The URL is a credential: the error is reported without it.
            .map_err(|e| {
                format!(
                    "the alert webhook could not be reached ({})",
                    error_chain(&e.without_url())
                )
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the alert webhook answered {}", status.as_u16()))
        }
    }
}

/// The database's health issue (tenant `*`), as the alert shows it.
fn database_issue(since: i64, resolved_at: Option<i64>) -> HealthIssue {
    HealthIssue {
        id: format!("database-{since}"),
        tenant: TenantKey::new("*"),
        kind: kind::DATABASE.to_owned(),
        subject: "database".to_owned(),
        summary: format!(
            "The database has not answered since {}: no check moves until it does (nothing is lost; the work resumes by itself).",
            crate::time::rfc3339(since)
        ),
        opened_at: since,
        last_seen_at: since,
        resolved_at,
    }
}

/// An alert: `text` for Slack and people, the issue's fields for machines.
pub fn alert_body(
    issue: &HealthIssue,
    opening: bool,
    environment: Option<&str>,
) -> serde_json::Value {
    let env = environment
        .filter(|e| !e.trim().is_empty())
        .map(|e| format!(" [{}]", e.trim()))
        .unwrap_or_default();
    let what = match issue.kind.as_str() {
        kind::AUTH => "authentication failing",
        kind::OPERATION => "operation failing",
        kind::WEBHOOK_VERIFICATION => "webhooks failing verification",
        kind::STUCK_CHECKS => "checks stuck",
        kind::DATABASE => "database unreachable",
        other => other,
    };
    let text = if opening {
        format!(
            "checkbridge{env}: tenant {}: {what}. {}",
            issue.tenant, issue.summary
        )
    } else {
        format!(
            "checkbridge{env}: tenant {}: resolved: {what} ({})",
            issue.tenant, issue.subject
        )
    };
    serde_json::json!({
        "text": text,
        "event": if opening { "issue.opened" } else { "issue.resolved" },
        "issue": {
            "id": issue.id,
            "tenant": issue.tenant,
            "kind": issue.kind,
            "subject": issue.subject,
            "summary": issue.summary,
            "opened_at": crate::time::rfc3339(issue.opened_at),
            "resolved_at": issue.resolved_at.map(crate::time::rfc3339),
        },
    })
}
